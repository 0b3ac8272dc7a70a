//! `import-openstack-leak` on fixtures: which OpenStack resources a failed export leaves
//! (harvester/vm-import-controller `pkg/source/openstack/client.go`: disk `i` of the VM is
//! snapshotted, copied to an unnamed volume and uploaded as a Glance image, all named
//! `import-controller-<vm>-<i>`, and `status.diskImportStatus` grows only after a disk
//! succeeded), how sure the rule is, and what stays silent. The `--openstack` side is in
//! tests/openstack.rs (against a local OpenStack API simulator).

mod common;

use std::process::Command;

use common::fixtures::{of, run};
use harvester_hygiene::rules::{Confidence, Finding, Severity};

const RULE: &str = "import-openstack-leak";

/// A VirtualMachineImport as the controller writes it: `disks` entries in
/// `status.diskImportStatus` (the disks exported before the failure).
fn import(ns: &str, name: &str, kind: &str, status: &str, conditions: &[(&str, &str)], disks: usize) -> String {
    let conds: String = conditions
        .iter()
        .map(|(t, time)| {
            format!(
                "  - type: {t}\n    status: \"True\"\n    lastTransitionTime: \"{time}\"\n    lastUpdateTime: \"{time}\"\n"
            )
        })
        .collect();
    let conds = if conds.is_empty() {
        "  importConditions: []\n".to_string()
    } else {
        format!("  importConditions:\n{conds}")
    };
    let disks: String = (0..disks)
        .map(|i| {
            format!(
                "  - diskName: {name}-{i}.img\n    diskSize: 21474836480\n    diskLocalPath: /tmp\n    busType: virtio\n"
            )
        })
        .collect();
    let disks = if disks.is_empty() {
        String::new()
    } else {
        format!("  diskImportStatus:\n{disks}")
    };
    format!(
        "apiVersion: migration.harvesterhci.io/v1beta1\nkind: VirtualMachineImport\nmetadata:\n  name: {name}\n  namespace: {ns}\n  creationTimestamp: \"2026-01-01T00:00:00Z\"\nspec:\n  virtualMachineName: {name}-src\n  sourceCluster:\n    apiVersion: migration.harvesterhci.io/v1beta1\n    kind: {kind}\n    name: devstack\n    namespace: {ns}\nstatus:\n  importStatus: {status}\n{conds}{disks}"
    )
}

fn upgrade(version: &str, previous: &str, at: &str) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: Upgrade\nmetadata:\n  name: hvst-upgrade-{version}\n  namespace: harvester-system\nspec:\n  version: {version}\nstatus:\n  previousVersion: {previous}\n  conditions:\n  - type: Completed\n    status: \"True\"\n    lastUpdateTime: \"{at}\"\n"
    )
}

fn addon(version: &str) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: Addon\nmetadata:\n  name: vm-import-controller\n  namespace: harvester-system\n  labels:\n    addon.harvesterhci.io/experimental: \"false\"\nspec:\n  repo: http://harvester-cluster-repo.cattle-system.svc/charts\n  chart: harvester-vm-import-controller\n  version: {version}\n  enabled: true\n"
    )
}

const FAILED: &[(&str, &str)] = &[
    ("VMPoweringOff", "2026-03-01T09:59:00Z"),
    ("VMPoweredOff", "2026-03-01T10:00:00Z"),
    ("VMExportFailed", "2026-03-01T11:00:00Z"),
];
const EXPORTED: &[(&str, &str)] = &[
    ("VMPoweringOff", "2026-03-01T09:59:00Z"),
    ("VMPoweredOff", "2026-03-01T10:00:00Z"),
    ("VMExported", "2026-03-01T11:00:00Z"),
];

fn one<'a>(r: &'a harvester_hygiene::report::Report, name: &str) -> &'a Finding {
    let found: Vec<&Finding> = of(r, RULE).into_iter().filter(|f| f.object.name == name).collect();
    assert_eq!(found.len(), 1, "one finding for {name}: {:?}", of(r, RULE));
    found[0]
}

fn has(f: &Finding, fact: &str) -> bool {
    f.evidence.iter().any(|e| e == fact)
}

/// The failing disk is the one after the exported ones: `len(status.diskImportStatus)`.
#[test]
fn the_leaked_set_is_the_disk_after_the_exported_ones() {
    let docs = vec![
        import("imports", "first", "OpenstackSource", "VMMigrationFailed", FAILED, 0),
        import("imports", "second", "OpenstackSource", "VMMigrationFailed", FAILED, 1),
        import("imports", "third", "OpenstackSource", "VMMigrationFailed", FAILED, 2),
        // Near-miss: the same disks, exported and running.
        import(
            "imports",
            "done",
            "OpenstackSource",
            "virtualMachineRunning",
            EXPORTED,
            2,
        ),
    ];
    let r = run(&docs, Some("v1.4.1"));
    assert_eq!(of(&r, RULE).len(), 3, "{:?}", of(&r, RULE));
    for (name, index) in [("first", 0), ("second", 1), ("third", 2)] {
        let f = one(&r, name);
        let leaked = format!("import-controller-{name}-src-{index}");
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.confidence, Confidence::Likely, "{name}");
        assert!(
            f.message.contains(&format!(
                "Cinder snapshot {leaked}, the unnamed Cinder volume created from it, and Glance image {leaked}"
            )),
            "{name}: {}",
            f.message
        );
        assert!(f.message.contains(&format!("at disk {index}")), "{}", f.message);
        for other in (0..3).filter(|i| *i != index) {
            assert!(
                !f.message.contains(&format!("import-controller-{name}-src-{other}")),
                "{name} names disk {other}: {}",
                f.message
            );
        }
        assert!(!f.message.contains("<i>"), "{}", f.message);
        assert_eq!(
            f.details.get("leakedIndex").map(String::as_str),
            Some(index.to_string().as_str())
        );
        assert_eq!(f.details.get("leakedName"), Some(&leaked));
        assert!(
            has(f, "export-failed") && has(f, &format!("leaked-index:{index}")),
            "{:?}",
            f.evidence
        );
        assert!(has(f, "harvester:v1.4.1"), "{:?}", f.evidence);
        assert_eq!(f.reclaimable_bytes, None, "no sizes without --openstack");
    }
    // The add-on's chart version is the controller's.
    let mut d = docs.clone();
    d.push(addon("0.4.0"));
    let r = run(&d, Some("v1.4.1"));
    assert_eq!(of(&r, RULE).len(), 3);
    assert!(
        has(one(&r, "third"), "controller:v0.4.0"),
        "{:?}",
        one(&r, "third").evidence
    );
}

/// A `diskImageFailed` resubmit keeps `VMExported` and exports nothing again: no OpenStack
/// resources, so no finding, whatever the status now is.
#[test]
fn disk_image_failures_after_the_export_are_not_leaks() {
    let docs = vec![
        import(
            "imports",
            "resubmitting",
            "OpenstackSource",
            "diskImageFailed",
            EXPORTED,
            2,
        ),
        // triggerResubmit puts it back to sourceReady; the export is not run again.
        import("imports", "resubmitted", "OpenstackSource", "sourceReady", EXPORTED, 2),
        // A failure after the export (the abort path of newer controllers): VMExported, no VMExportFailed.
        import(
            "imports",
            "aborted",
            "OpenstackSource",
            "VMMigrationFailed",
            EXPORTED,
            2,
        ),
        // Positive control: a real export failure.
        import(
            "imports",
            "exportfail",
            "OpenstackSource",
            "VMMigrationFailed",
            FAILED,
            1,
        ),
    ];
    for v in [Some("v1.4.1"), Some("v1.5.1"), None] {
        let r = run(&docs, v);
        let f = of(&r, RULE);
        assert_eq!(f.len(), 1, "{v:?}: {f:?}");
        assert_eq!(f[0].object.name, "exportfail");
        assert!(has(f[0], "leaked-index:1"));
    }
}

/// Fixed controllers (PR #80 in v1.6.0, #84 in v1.5.2) try to clean up: info, possible.
#[test]
fn fixed_controllers_try_to_clean_up() {
    let failed = import("imports", "web", "OpenstackSource", "VMMigrationFailed", FAILED, 1);
    for v in ["v1.5.2", "v1.6.0", "v1.6.1"] {
        // Upgrade objects read: none moved the cluster onto a fixed version after the failure.
        let docs = vec![failed.clone(), upgrade("v1.5.1", "v1.5.0", "2026-01-10T00:00:00Z")];
        let r = run(&docs, Some(v));
        let f = one(&r, "web");
        assert_eq!(f.severity, Severity::Info, "{v}");
        assert_eq!(f.confidence, Confidence::Possible, "{v}");
        assert!(f.message.contains("tries to clean up"), "{}", f.message);
        assert!(!f.message.contains("which cleans up"), "{}", f.message);
        assert!(f.message.contains("import-controller-web-src-1"), "{}", f.message);
        assert!(
            has(f, &format!("harvester:{v}")) && has(f, "leaked-index:1"),
            "{:?}",
            f.evidence
        );
        assert!(!has(f, "unknown-kind:Upgrade"), "{:?}", f.evidence);
    }
    // Add-on chart 1.5.2 is fixed, 1.5.1 is not (harvester/addons version_info).
    let r = run(&[failed.clone(), addon("1.5.2")], Some("v1.5.2"));
    assert_eq!(one(&r, "web").severity, Severity::Info);
    assert!(has(one(&r, "web"), "controller:v1.5.2"));
    let r = run(&[failed.clone(), addon("1.5.1")], Some("v1.5.2"));
    assert_eq!(one(&r, "web").severity, Severity::Warning);
    assert_eq!(one(&r, "web").confidence, Confidence::Likely);

    // No Upgrade objects read: whether it failed before an upgrade is unknown, and said so.
    let r = run(std::slice::from_ref(&failed), Some("v1.6.0"));
    let f = one(&r, "web");
    assert_eq!((f.severity, f.confidence), (Severity::Info, Confidence::Possible));
    assert!(has(f, "unknown-kind:Upgrade"), "{:?}", f.evidence);
    assert!(f.message.contains("Upgrade objects were not read"), "{}", f.message);

    // It failed before the upgrade to a fixed version: the old controller leaked.
    let r = run(
        &[failed.clone(), upgrade("v1.5.2", "v1.5.1", "2026-06-01T00:00:00Z")],
        Some("v1.6.0"),
    );
    let f = one(&r, "web");
    assert_eq!((f.severity, f.confidence), (Severity::Warning, Confidence::Likely));
    assert!(
        has(f, "upgraded-to-fixed:2026-06-01T00:00:00Z") && has(f, "failed-at:2026-03-01T11:00:00Z"),
        "{:?}",
        f.evidence
    );
}

#[test]
fn unknown_versions_are_possible_and_stuck_exports_name_no_index() {
    let r = run(
        &[import(
            "imports",
            "web",
            "OpenstackSource",
            "VMMigrationFailed",
            FAILED,
            0,
        )],
        None,
    );
    let f = one(&r, "web");
    assert_eq!((f.severity, f.confidence), (Severity::Warning, Confidence::Possible));
    assert!(
        has(f, "controller:unknown") && has(f, "leaked-index:0"),
        "{:?}",
        f.evidence
    );

    // Exporting for hours after power-off: the disks exported so far are not in the status yet.
    let stuck = import(
        "imports",
        "stuck",
        "OpenstackSource",
        "sourceReady",
        &[
            ("VMPoweringOff", "2026-11-22T00:59:00Z"),
            ("VMPoweredOff", "2026-11-22T01:00:00Z"),
        ],
        0,
    );
    let young = import(
        "imports",
        "young",
        "OpenstackSource",
        "sourceReady",
        &[("VMPoweredOff", "2026-11-22T11:00:00Z")],
        0,
    );
    let r = run(&[stuck, young], Some("v1.4.1"));
    assert_eq!(of(&r, RULE).len(), 1, "{:?}", of(&r, RULE));
    let f = one(&r, "stuck");
    assert_eq!((f.severity, f.confidence), (Severity::Info, Confidence::Possible));
    assert!(
        has(f, "export-stuck") && has(f, "powered-off:2026-11-22T01:00:00Z"),
        "{:?}",
        f.evidence
    );
    assert!(f.message.contains("import-controller-stuck-src-<i>"), "{}", f.message);
    assert!(!f.evidence.iter().any(|e| e.starts_with("leaked-index:")));
}

/// Through the binary: `scan --from` prints the leaked set with its confidence and evidence,
/// and `explain` cites upstream for it.
#[test]
fn the_binary_reports_the_leaked_set_and_explains_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("imports.yaml");
    let docs = [
        import("imports", "erp", "OpenstackSource", "VMMigrationFailed", FAILED, 2),
        import("imports", "wiki", "OpenstackSource", "diskImageFailed", EXPORTED, 1),
        addon("0.4.0"),
    ];
    std::fs::write(&file, docs.join("\n---\n")).unwrap();
    let bin = env!("CARGO_BIN_EXE_kubectl-harvester-hygiene");
    let out = Command::new(bin)
        .args([
            "scan",
            "--from",
            file.to_str().unwrap(),
            "-o",
            "json",
            "--harvester-version",
            "v1.4.1",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let found: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == RULE)
        .collect();
    assert_eq!(found.len(), 1, "{doc}");
    let f = found[0];
    assert_eq!(f["object"]["name"], "erp");
    assert_eq!(f["confidence"], "likely");
    assert_eq!(f["details"]["leakedIndex"], "2");
    assert_eq!(f["details"]["leakedName"], "import-controller-erp-src-2");
    let ev: Vec<&str> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert_eq!(ev, ["export-failed", "controller:v0.4.0", "leaked-index:2"]);

    let out = Command::new(bin).args(["explain", RULE]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cite in [
        "pkg/source/openstack/client.go",
        "pkg/controllers/migration/virtualmachine.go",
        "pkg/controllers/migration/helper.go",
        "harvester/vm-import-controller#80",
        "harvester/vm-import-controller#84",
        "harvester/addons version_info",
        "len(status.diskImportStatus)",
        "tries to clean up",
    ] {
        assert!(text.contains(cite), "{cite} missing from explain:\n{text}");
    }
    assert!(!text.contains("research"), "{text}");
}
