//! Harvester versions through the binary: pre-releases (a fix applies from its first rc,
//! rc numbers compare as numbers) and development builds (unknown within their minor), from
//! the `server-version` Setting of a `--from` dump and from `--harvester-version`.

use serde_json::Value;

fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env("NO_COLOR", "1");
    c
}

/// `scan --from <dump> -o json --rules <rule>` with `extra` flags; the report.
fn scan(docs: &[String], rule: &str, extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.yaml");
    std::fs::write(&path, docs.join("\n---\n")).unwrap();
    let out = bin()
        .arg("scan")
        .arg("--from")
        .arg(&path)
        .args(["-o", "json", "--fail-on", "never", "--rules", rule])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The findings of `rule` as (namespace/name, severity, message), sorted.
fn findings(r: &Value, rule: &str) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .map(|f| {
            (
                format!(
                    "{}/{}",
                    f["object"]["namespace"].as_str().unwrap_or(""),
                    f["object"]["name"].as_str().unwrap_or("")
                ),
                f["severity"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn server_version(value: &str) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: Setting\nmetadata:\n  name: server-version\ndefault: \"\"\nvalue: {value}\n"
    )
}

// ---- vm-name-breaks-migration: v1.2.0 <= v < v1.4.2-rc2 ----

const LONG_NAME: &str = "a-virtual-machine-name-that-is-exactly-54-characters-x";

fn quota_and_long_vm() -> Vec<String> {
    assert_eq!(LONG_NAME.len(), 54);
    vec![
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: default-xyz\n  namespace: team\n  labels:\n    resourcequota.management.cattle.io/default-resource-quota: \"true\"\nspec:\n  hard:\n    limits.cpu: \"20\"\n    limits.memory: 64Gi\nstatus:\n  hard:\n    limits.cpu: \"20\"\n    limits.memory: 64Gi\n  used:\n    limits.cpu: \"19\"\n    limits.memory: 63Gi\n".to_string(),
        format!(
            "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: {LONG_NAME}\n  namespace: team\n  uid: 7c2f3b5e-1d4e-4f60-9bac-2d3e4f5a6b7c\nspec:\n  domain:\n    resources:\n      limits:\n        cpu: \"2\"\n        memory: 4Gi\n  volumes: []\nstatus:\n  phase: Running\n"
        ),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: unrelated\n  namespace: team\nspec:\n  containers: []\n".to_string(),
        format!(
            "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: {LONG_NAME}\n  namespace: team\n  uid: 6b1f2a4e-0c3d-4e5f-8a9b-1c2d3e4f5a6b\nspec:\n  template:\n    spec:\n      domain:\n        resources:\n          limits:\n            cpu: \"2\"\n            memory: 4Gi\n      volumes: []\n"
        ),
    ]
}

fn vm_name_findings(setting: Option<&str>, flag: Option<&str>) -> Vec<(String, String, String)> {
    let mut docs = quota_and_long_vm();
    docs.extend(setting.map(server_version));
    let extra: Vec<&str> = flag.map(|v| vec!["--harvester-version", v]).unwrap_or_default();
    findings(
        &scan(&docs, "vm-name-breaks-migration", &extra),
        "vm-name-breaks-migration",
    )
}

#[test]
fn the_uid_key_fix_applies_from_v1_4_2_rc2_not_rc1() {
    // rc1 lacks the migratingUID key (harvester/harvester#7504 is first in v1.4.2-rc2).
    let f = vm_name_findings(Some("v1.4.2-rc1"), None);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].0, format!("team/{LONG_NAME}"));
    assert_eq!(f[0].1, "error");
    assert!(
        f[0].2.contains("cannot live-migrate on Harvester v1.4.2-rc1"),
        "{}",
        f[0].2
    );
    let f = vm_name_findings(None, Some("v1.4.2-rc1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].1, "error");
    // rc2 and later pre-releases (rc10 > rc2 numerically) have it.
    for v in ["v1.4.2-rc2", "v1.4.2-rc10", "v1.4.2"] {
        assert!(vm_name_findings(Some(v), None).is_empty(), "{v}");
        assert!(vm_name_findings(None, Some(v)).is_empty(), "{v}");
    }
    // Near-miss on the other side: v1.2.0-rc1 predates the migrating-<name> key.
    assert!(vm_name_findings(Some("v1.2.0-rc1"), None).is_empty());
    assert_eq!(vm_name_findings(Some("v1.2.0"), None).len(), 1);
}

#[test]
fn development_builds_of_the_fixed_minor_are_version_unknown() {
    for v in [
        "v1.4-head",
        "v1.4.0-dev-20240705",
        "v1.4.1-12-gabc1234",
        "master-head",
        "3d63c2af15db747e4a803b18b7832049b88cb00e",
    ] {
        let f = vm_name_findings(Some(v), None);
        assert_eq!(f.len(), 1, "{v}: {f:#?}");
        assert_eq!(f[0].1, "warning", "{v}");
        assert!(f[0].2.contains("the version is unknown"), "{v}: {}", f[0].2);
        assert!(f[0].2.contains("v1.2.0 to v1.4.1"), "{v}: {}", f[0].2);
    }
    // The flag accepts development builds too.
    let f = vm_name_findings(None, Some("v1.4-head"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].1, "warning");
}

#[test]
fn development_builds_of_other_minors_compare_by_minor() {
    // v1.3 is before the fix: affected.
    for v in ["v1.3-head", "v1.3.3-dev-20250119", "v1.3.2-4-gabc1234"] {
        let f = vm_name_findings(Some(v), None);
        assert_eq!(f.len(), 1, "{v}: {f:#?}");
        assert_eq!(f[0].1, "error", "{v}");
    }
    // v1.6 and later development builds have it; so does a describe of a fixed tag.
    for v in ["v1.6-head", "v1.9.0-dev-20260510", "v1.4.2-3-gabc1234"] {
        assert!(vm_name_findings(Some(v), None).is_empty(), "{v}");
    }
    // v1.1 development builds predate the key.
    assert!(vm_name_findings(Some("v1.1-head"), None).is_empty());
    // v1.5.0-dev-20250217 is a v1.5 snapshot that still lacks #7504: cannot tell.
    let f = vm_name_findings(Some("v1.5.0-dev-20250217"), None);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].1, "warning");
}

// ---- migration-annotation-stale: spec.hard raised before v1.4.2-rc2 ----

#[test]
fn spec_hard_is_recomputed_from_v1_4_2_rc2() {
    let docs = vec![
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: default-q\n  namespace: ns\n  labels:\n    resourcequota.management.cattle.io/default-resource-quota: \"true\"\n  annotations:\n    harvesterhci.io/migrating-gone: '{\"limits.cpu\":\"2\",\"limits.memory\":\"4Gi\"}'\nspec:\n  hard:\n    limits.cpu: \"22\"\n    limits.memory: 68Gi\n".to_string(),
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: gone-mig\n  namespace: ns\nspec:\n  vmiName: gone\nstatus:\n  phase: Succeeded\n".to_string(),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  annotations:\n    field.cattle.io/resourceQuota: '{\"limit\":{\"limitsCpu\":\"20\",\"limitsMemory\":\"64Gi\"}}'\n".to_string(),
    ];
    let run = |v: &str| {
        let f = findings(
            &scan(&docs, "migration-annotation-stale", &["--harvester-version", v]),
            "migration-annotation-stale",
        );
        assert_eq!(f.len(), 1, "{v}: {f:#?}");
        f[0].2.clone()
    };
    assert!(
        run("v1.4.2-rc1").contains("so it is raised by this one"),
        "{}",
        run("v1.4.2-rc1")
    );
    for v in ["v1.4.2-rc2", "v1.4.2-rc10"] {
        let m = run(v);
        assert!(m.contains("recomputes spec.hard"), "{v}: {m}");
    }
    let m = run("v1.4-head");
    assert!(m.contains("Harvester version unknown"), "{m}");
}

// ---- image-name-collision: lh-<uid> classes from v1.8.0-rc2 ----

#[test]
fn new_storage_class_names_apply_from_v1_8_0_rc2() {
    let image = |ns: &str, uid: &str| {
        format!(
            "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: k3os\n  namespace: {ns}\n  uid: {uid}\nspec:\n  displayName: k3os\n  sourceType: download\n  url: https://github.com/rancher/k3os/releases/download/v0.21.5-k3s2r1/k3os-amd64.iso\n"
        )
    };
    let docs = vec![
        image("team-a", "0f0c6a4e-1111-4c1e-9a51-3f1b2c3d4e5f"),
        image("team-b", "7d2e9b1a-2222-4f7c-8b61-4a5b6c7d8e9f"),
    ];
    let run = |v: &str| {
        findings(
            &scan(&docs, "image-name-collision", &["--harvester-version", v]),
            "image-name-collision",
        )
    };
    // v1.8.0-rc1 still names longhorn-<name>: both images derive longhorn-k3os.
    let f = run("v1.8.0-rc1");
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f.iter().all(|f| f.1 == "error"));
    // From v1.8.0-rc2 with no legacy class each gets lh-<uid>: no collision.
    for v in ["v1.8.0-rc2", "v1.8.0-rc10", "v1.9-head"] {
        assert!(run(v).is_empty(), "{v}");
    }
}

// ---- import-openstack-leak: the cleanup fix from v1.5.2-rc1 (Harvester and add-on chart) ----

#[test]
fn the_import_cleanup_fix_applies_from_1_5_2_rc1() {
    let import = "apiVersion: migration.harvesterhci.io/v1beta1\nkind: VirtualMachineImport\nmetadata:\n  name: web01\n  namespace: imports\n  creationTimestamp: \"2026-01-01T00:00:00Z\"\nspec:\n  virtualMachineName: web01-src\n  sourceCluster:\n    kind: OpenstackSource\n    name: devstack\n    namespace: imports\nstatus:\n  importStatus: VMMigrationFailed\n  importConditions:\n  - type: VMPoweredOff\n    status: \"True\"\n    lastTransitionTime: \"2026-03-01T10:00:00Z\"\n    lastUpdateTime: \"2026-03-01T10:00:00Z\"\n  - type: VMExportFailed\n    status: \"True\"\n    lastTransitionTime: \"2026-03-01T11:00:00Z\"\n    lastUpdateTime: \"2026-03-01T11:00:00Z\"\n".to_string();
    let addon = |version: &str| {
        format!(
            "apiVersion: harvesterhci.io/v1beta1\nkind: Addon\nmetadata:\n  name: vm-import-controller\n  namespace: harvester-system\nspec:\n  chart: harvester-vm-import-controller\n  version: {version}\n  enabled: true\n"
        )
    };
    let run = |docs: &[String], flag: &[&str]| {
        let f = findings(&scan(docs, "import-openstack-leak", flag), "import-openstack-leak");
        assert_eq!(f.len(), 1, "{flag:?}: {f:#?}");
        (f[0].1.clone(), f[0].2.clone())
    };
    let only = vec![import.clone()];
    // Harvester v1.5.2-rc1 ships chart 1.5.2-rc1, whose image has the backport (#84).
    assert_eq!(run(&only, &["--harvester-version", "v1.5.2-rc1"]).0, "info");
    let (sev, msg) = run(&only, &["--harvester-version", "v1.5.1"]);
    assert_eq!(sev, "warning");
    assert!(msg.contains("lacks the cleanup fix"), "{msg}");
    // The add-on's chart version decides when it can tell.
    let with = |v: &str| vec![import.clone(), addon(v)];
    assert_eq!(run(&with("1.5.2-rc1"), &["--harvester-version", "v1.4.1"]).0, "info");
    assert_eq!(run(&with("1.6.0-dev.0"), &["--harvester-version", "v1.4.1"]).0, "info");
    assert_eq!(run(&with("1.5.1"), &["--harvester-version", "v1.6.1"]).0, "warning");
    // A 1.5 development chart cannot tell: the Harvester version decides, else unknown.
    assert_eq!(run(&with("1.5.2-dev.0"), &["--harvester-version", "v1.6.1"]).0, "info");
    let (sev, msg) = run(&with("1.5.2-dev.0"), &[]);
    assert_eq!(sev, "warning");
    assert!(msg.contains("is unknown"), "{msg}");
}

#[test]
fn a_flag_that_is_no_version_is_a_usage_error() {
    let out = bin()
        .args([
            "scan",
            "--from",
            "examples/demo-cluster",
            "--harvester-version",
            "master-head",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("v1.4.2-rc2 or v1.4-head"), "{err}");
}
