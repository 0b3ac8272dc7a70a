//! The VM, quota, orphaned-PVC and import rules on fixtures: positives and near-misses.

mod common;

use common::fixtures::{keys, of, run, run_with};
use harvester_hygiene::config::Config;
use harvester_hygiene::rules::Severity;

fn quota(ns: &str, name: &str, labelled: bool, hard: &str, annotations: &str) -> String {
    let labels = if labelled {
        "  labels:\n    resourcequota.management.cattle.io/default-resource-quota: \"true\"\n"
    } else {
        ""
    };
    let ann = if annotations.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n{annotations}")
    };
    format!(
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: {name}\n  namespace: {ns}\n{labels}{ann}spec:\n  hard:\n{hard}"
    )
}

const LIMITS: &str = "    limits.cpu: \"20\"\n    limits.memory: 64Gi\n";

fn vm(ns: &str, name: &str, extra_meta: &str, volumes: &str) -> String {
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: uid-{name}\n{extra_meta}spec:\n  template:\n    spec:\n      domain:\n        resources:\n          limits:\n            cpu: \"2\"\n            memory: 4Gi\n      volumes:\n{volumes}"
    )
}

const NO_VOLUMES: &str = "      - name: cloudinit\n        cloudInitNoCloud:\n          userData: x\n";

fn name(len: usize) -> String {
    let mut s = String::from("vm-");
    while s.len() < len {
        s.push('a');
    }
    s
}

#[test]
fn long_vm_names_fail_migration_only_on_affected_versions_under_a_quota() {
    let docs = vec![
        quota("team", "default-xyz", true, LIMITS, ""),
        vm("team", &name(54), "", NO_VOLUMES),
        vm("team", &name(53), "", NO_VOLUMES),
        vm("free", &name(60), "", NO_VOLUMES),
        quota("unlabelled", "q", false, LIMITS, ""),
        vm("unlabelled", &name(60), "", NO_VOLUMES),
        quota("requests-only", "default-abc", true, "    requests.cpu: \"20\"\n", ""),
        vm("requests-only", &name(60), "", NO_VOLUMES),
    ];
    let want = vec![format!("team/{}", name(54))];
    for v in ["v1.2.0", "v1.3.2", "v1.4.0", "v1.4.1"] {
        let r = run(&docs, Some(v));
        assert_eq!(keys(&r, "vm-name-breaks-migration"), want, "{v}");
        assert_eq!(of(&r, "vm-name-breaks-migration")[0].severity, Severity::Error);
    }
    for v in ["v1.1.2", "v1.4.2", "v1.4.3", "v1.5.0", "v1.6.1"] {
        assert!(keys(&run(&docs, Some(v)), "vm-name-breaks-migration").is_empty(), "{v}");
    }
    let r = run(&docs, None);
    let f = of(&r, "vm-name-breaks-migration");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].message.contains("version is unknown"));
    let r = run(&docs, Some("v1.4.1"));
    let f = of(&r, "vm-name-breaks-migration");
    assert!(
        f[0].message.contains("(64 characters) exceeds Kubernetes' 63"),
        "{}",
        f[0].message
    );
}

fn vmim(ns: &str, vmi: &str, phase: &str) -> String {
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: {vmi}-mig-{phase}\n  namespace: {ns}\nspec:\n  vmiName: {vmi}\nstatus:\n  phase: {phase}\n"
    )
}

fn vmi(ns: &str, name: &str, uid: &str) -> String {
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: {uid}\nspec:\n  volumes: []\n"
    )
}

#[test]
fn stale_migration_annotations() {
    let ann = "    harvesterhci.io/migrating-done: '{\"limits.cpu\":\"2\",\"limits.memory\":\"4Gi\"}'\n    harvesterhci.io/migrating-running: '{\"limits.cpu\":\"1\"}'\n    harvesterhci.io/migrating-nomig: '{\"limits.cpu\":\"1\"}'\n    harvesterhci.io/migratingUID-1111: '{\"limits.cpu\":\"1\"}'\n    harvesterhci.io/migratingUID-2222: '{\"limits.cpu\":\"1\"}'\n    harvesterhci.io/migratingUID-3333: '{\"limits.cpu\":\"1\"}'\n    harvesterhci.io/migratingCompensation: x\n    harvesterhci.io/migratingScalingResyncNeeded: \"true\"\n";
    let docs = vec![
        quota("ns", "default-q", true, LIMITS, ann),
        vmim("ns", "done", "Succeeded"),
        vmim("ns", "running", "Running"),
        vmim("ns", "vmi-b", "Scheduling"),
        vmim("ns", "vmi-c", "Failed"),
        vmi("ns", "vmi-b", "2222"),
        vmi("ns", "vmi-c", "3333"),
    ];
    let r = run(&docs, Some("v1.4.1"));
    let f = of(&r, "migration-annotation-stale");
    let mut msgs: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
    msgs.sort();
    assert_eq!(f.len(), 4, "{msgs:#?}");
    for key in [
        "migrating-done",
        "migrating-nomig",
        "migratingUID-1111",
        "migratingUID-3333",
    ] {
        assert!(
            msgs.iter().any(|m| m.contains(&format!("harvesterhci.io/{key} "))),
            "{key} missing: {msgs:#?}"
        );
    }
    assert!(f.iter().all(|f| f.remediation.contains("subtract")));
    assert!(msgs.iter().any(|m| m.contains("uid 1111, which no longer exists")));
    // v1.5+: no spec.hard subtraction.
    let r = run(&docs, Some("v1.6.1"));
    assert!(
        of(&r, "migration-annotation-stale")
            .iter()
            .all(|f| !f.remediation.contains("subtract"))
    );
}

// ---- orphaned-guest-pvc ----

const GUEST_NS: &str = "guests";

fn uuid(n: u32) -> String {
    format!("{n:08x}-1111-4222-8333-444455556666")
}

fn pvc(ns: &str, n: u32, extra_meta: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: pvc-{u}\n  namespace: {ns}\n  uid: host-{n}\n  creationTimestamp: \"2026-10-01T00:00:00Z\"\n{extra_meta}spec:\n  storageClassName: harvester-longhorn\n  volumeName: pv-{n}\n  resources:\n    requests:\n      storage: 10Gi\nstatus:\n  capacity:\n    storage: 10Gi\n",
        u = uuid(n)
    )
}

fn lh(n: u32, state: &str, last_pod_ref: &str) -> String {
    let lpr = if last_pod_ref.is_empty() {
        String::new()
    } else {
        format!("    lastPodRefAt: \"{last_pod_ref}\"\n")
    };
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: Volume\nmetadata:\n  name: pv-{n}\n  namespace: longhorn-system\n  creationTimestamp: \"2026-10-01T00:00:00Z\"\nstatus:\n  state: {state}\n  kubernetesStatus:\n{lpr}    namespace: x\n"
    )
}

fn pod(ns: &str, name: &str, claim: &str) -> String {
    let vols = if claim.is_empty() {
        "  volumes: []\n".to_string()
    } else {
        format!("  volumes:\n  - name: d\n    persistentVolumeClaim:\n      claimName: {claim}\n")
    };
    format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{vols}")
}

fn image_in(ns: &str) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: img\n  namespace: {ns}\nspec:\n  displayName: img\n  sourceType: upload\n"
    )
}

/// A namespace where every referencing kind is known, with a plain (non-guest) VM.
fn known(ns: &str) -> Vec<String> {
    vec![
        vm(ns, &format!("plain-{ns}"), "", NO_VOLUMES),
        vmi(ns, &format!("plain-{ns}"), &format!("vmi-{ns}")),
        pod(ns, &format!("util-{ns}"), ""),
        image_in(ns),
    ]
}

const OLD: &str = "2026-11-17T12:00:00Z"; // 5 days before NOW
const RECENT: &str = "2026-11-22T10:00:00Z"; // 2 hours before NOW

#[test]
fn orphaned_guest_pvc_found_with_evidence() {
    let mut docs = known(GUEST_NS);
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, Some("v1.6.1"));
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].severity, Severity::Warning);
    let m = &f[0].message;
    for part in [
        "10Gi",
        "class harvester-longhorn",
        "volume pv-1",
        "detached since 2026-11-17",
        "unused for 5d",
        "(inferred)",
    ] {
        assert!(m.contains(part), "{part:?} not in {m}");
    }
    assert!(f[0].remediation.contains("Retain"));
}

#[test]
fn orphaned_guest_pvc_near_misses() {
    let mut docs = known(GUEST_NS);
    let hot = "      - name: hp\n        persistentVolumeClaim:\n          claimName: pvc-00000002-1111-4222-8333-444455556666\n          hotpluggable: true\n";
    docs.push(vm(GUEST_NS, "hotplug-user", "", hot));
    docs.push(pod(GUEST_NS, "virt-launcher-x", &format!("pvc-{}", uuid(3))));
    let vct = format!(
        "  annotations:\n    harvesterhci.io/volumeClaimTemplates: '[{{\"metadata\":{{\"name\":\"pvc-{}\"}}}}]'\n",
        uuid(9)
    );
    docs.push(vm(GUEST_NS, "templated", &vct, NO_VOLUMES));
    let cases: Vec<(u32, &str, &str, &str)> = vec![
        (2, "", "detached", OLD), // hot-plugged
        (3, "", "detached", OLD), // pod-mounted
        (
            4,
            "  ownerReferences:\n  - apiVersion: v1\n    kind: X\n    name: o\n    uid: u\n",
            "detached",
            OLD,
        ), // owned
        (
            5,
            "  annotations:\n    harvesterhci.io/goldenImage: \"true\"\n",
            "detached",
            OLD,
        ),
        (
            6,
            "  annotations:\n    harvesterhci.io/imageId: guests/img\n",
            "detached",
            OLD,
        ),
        (7, "", "detached", RECENT), // just detached
        (8, "", "attached", OLD),    // in use
        (9, "", "detached", OLD),    // volumeClaimTemplates
    ];
    for (n, meta, state, t) in &cases {
        docs.push(pvc(GUEST_NS, *n, meta));
        docs.push(lh(*n, state, t));
    }
    // Not a pvc-<uuid> name at all.
    docs.push(pvc(GUEST_NS, 10, "").replace(&format!("pvc-{}", uuid(10)), "data-disk-1"));
    docs.push(lh(10, "detached", OLD));
    let r = run(&docs, Some("v1.6.1"));
    assert!(
        of(&r, "orphaned-guest-pvc").is_empty(),
        "{:#?}",
        of(&r, "orphaned-guest-pvc")
    );
}

#[test]
fn living_guest_clusters_protect_their_pvcs() {
    let guest = "  labels:\n    guestcluster.harvesterhci.io/name: prod\n    harvesterhci.io/creator: docker-machine-driver-harvester\n";
    let old_driver = "  labels:\n    harvesterhci.io/creator: docker-machine-driver-harvester\n";
    let label = |c: &str| format!("  labels:\n    guestcluster.harvesterhci.io/name: {c}\n");

    // Unlabelled PVC next to a living guest VM: not an orphan.
    let mut docs = known(GUEST_NS);
    docs.push(vm(GUEST_NS, "prod-pool-abc", guest, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    assert!(of(&run(&docs, None), "orphaned-guest-pvc").is_empty());

    // Labelled for cluster "prod", whose VM lives elsewhere: still alive.
    let mut docs = known(GUEST_NS);
    docs.extend(known("other"));
    docs.push(vm("other", "prod-pool-abc", guest, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, &label("prod")));
    docs.push(lh(1, "detached", OLD));
    assert!(of(&run(&docs, None), "orphaned-guest-pvc").is_empty());

    // Labelled for a dead cluster, but an old-driver VM without label is in the namespace.
    let mut docs = known(GUEST_NS);
    docs.push(vm(GUEST_NS, "legacy-pool-x", old_driver, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, &label("dead")));
    docs.push(lh(1, "detached", OLD));
    assert!(of(&run(&docs, None), "orphaned-guest-pvc").is_empty());

    // Labelled for a dead cluster, nothing else: orphan, attributed by label.
    let mut docs = known(GUEST_NS);
    docs.push(vm(GUEST_NS, "prod-pool-abc", guest, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, &label("dead")));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1);
    assert!(f[0].message.contains("labelled for guest cluster dead"));

    // Guest VMs live in a configured guest namespace.
    let mut docs = known(GUEST_NS);
    docs.extend(known("rke2"));
    docs.push(vm("rke2", "prod-pool-abc", guest, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    assert_eq!(
        of(&run(&docs, None), "orphaned-guest-pvc").len(),
        1,
        "without config the rke2 VMs do not count"
    );
    let cfg = Config::parse("rules:\n  orphaned-guest-pvc:\n    guestNamespaces: [rke2]\n").unwrap();
    assert!(of(&run_with(&docs, None, &cfg), "orphaned-guest-pvc").is_empty());
}

#[test]
fn orphan_rule_is_conservative_about_unknowns_and_grace() {
    // Pods unknown in the namespace: skipped, and said so.
    let mut docs = vec![
        vm(GUEST_NS, "plain", "", NO_VOLUMES),
        vmi(GUEST_NS, "plain", "u"),
        image_in(GUEST_NS),
    ];
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    assert!(of(&r, "orphaned-guest-pvc").is_empty());
    let run_ = r.rules.iter().find(|r| r.id == "orphaned-guest-pvc").unwrap();
    assert!(
        run_.notes.iter().any(|n| n.contains("guests (Pod)")),
        "{:?}",
        run_.notes
    );

    // No Longhorn volumes in the input: info, from the PVC's age.
    let mut docs = known(GUEST_NS);
    docs.push(pvc(GUEST_NS, 1, ""));
    let r = run(&docs, None);
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Info);

    // A longer grace period.
    let mut docs = known(GUEST_NS);
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let cfg = Config::parse("rules:\n  orphaned-guest-pvc:\n    gracePeriod: 7d\n").unwrap();
    assert!(of(&run_with(&docs, None, &cfg), "orphaned-guest-pvc").is_empty());

    // Snapshots it owns are named.
    docs.push("apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata:\n  name: backup-snap-1\n  namespace: guests\n  ownerReferences:\n  - apiVersion: v1\n    kind: PersistentVolumeClaim\n    name: x\n    uid: host-1\n".into());
    let r = run(&docs, None);
    let f = of(&r, "orphaned-guest-pvc");
    assert!(
        f[0].message.contains("VolumeSnapshots it owns: backup-snap-1"),
        "{}",
        f[0].message
    );
    assert_eq!(f[0].related.len(), 1);
}

// ---- import-openstack-leak ----

fn import(ns: &str, name: &str, kind: &str, status: &str, conditions: &[(&str, &str)]) -> String {
    let conds: String = conditions
        .iter()
        .map(|(t, time)| format!("  - type: {t}\n    status: \"True\"\n    lastTransitionTime: \"{time}\"\n    lastUpdateTime: \"{time}\"\n"))
        .collect();
    format!(
        "apiVersion: migration.harvesterhci.io/v1beta1\nkind: VirtualMachineImport\nmetadata:\n  name: {name}\n  namespace: {ns}\n  creationTimestamp: \"2026-01-01T00:00:00Z\"\nspec:\n  virtualMachineName: {name}-src\n  sourceCluster:\n    kind: {kind}\n    name: devstack\n    namespace: {ns}\nstatus:\n  importStatus: {status}\n  importConditions:\n{conds}"
    )
}

fn upgrade(version: &str, previous: &str, at: &str) -> String {
    format!(
        "apiVersion: harvesterhci.io/v1beta1\nkind: Upgrade\nmetadata:\n  name: hvst-upgrade-{version}\n  namespace: harvester-system\nspec:\n  version: {version}\nstatus:\n  previousVersion: {previous}\n  conditions:\n  - type: Completed\n    status: \"True\"\n    lastUpdateTime: \"{at}\"\n"
    )
}

const FAILED: &[(&str, &str)] = &[
    ("VMPoweredOff", "2026-03-01T10:00:00Z"),
    ("VMExportFailed", "2026-03-01T11:00:00Z"),
];

#[test]
fn failed_openstack_exports_leak_on_affected_controllers() {
    let docs = vec![
        import("imports", "web01", "OpenstackSource", "VMMigrationFailed", FAILED),
        import("imports", "lower", "openstacksource", "VMMigrationFailed", FAILED),
        import("imports", "vmware", "VmwareSource", "VMMigrationFailed", FAILED),
        import(
            "imports",
            "diskfail",
            "OpenstackSource",
            "diskImageFailed",
            &[
                ("VMPoweredOff", "2026-03-01T10:00:00Z"),
                ("VMExported", "2026-03-01T11:00:00Z"),
            ],
        ),
        import(
            "imports",
            "invalid",
            "OpenstackSource",
            "virtualMachineImportInvalid",
            &[],
        ),
        import(
            "imports",
            "ok",
            "OpenstackSource",
            "virtualMachineRunning",
            &[("VMExported", "2026-03-01T11:00:00Z")],
        ),
    ];
    let r = run(&docs, Some("v1.4.1"));
    assert_eq!(
        keys(&r, "import-openstack-leak"),
        vec!["imports/lower", "imports/web01"]
    );
    let f = of(&r, "import-openstack-leak");
    assert!(f.iter().all(|f| f.severity == Severity::Warning));
    let web = f.iter().find(|f| f.object.name == "web01").unwrap();
    assert!(web.message.contains("import-controller-web01-src-0"), "{}", web.message);
    assert_eq!(web.related[0].kind, "OpenstackSource");

    // Fixed now, but the failure predates the upgrade to a fixed version.
    let mut d = docs.clone();
    d.push(upgrade("v1.5.2", "v1.4.3", "2026-06-01T00:00:00Z"));
    let r = run(&d, Some("v1.6.1"));
    assert!(
        of(&r, "import-openstack-leak")
            .iter()
            .all(|f| f.severity == Severity::Warning && f.message.contains("before the upgrade"))
    );
    // Failed after the upgrade: info.
    let mut d = docs.clone();
    d.push(upgrade("v1.5.2", "v1.4.3", "2026-02-01T00:00:00Z"));
    let r = run(&d, Some("v1.6.1"));
    assert_eq!(of(&r, "import-openstack-leak").len(), 2);
    assert!(
        of(&r, "import-openstack-leak")
            .iter()
            .all(|f| f.severity == Severity::Info)
    );
    // The add-on's chart version decides when present.
    let mut d = docs.clone();
    d.push("apiVersion: harvesterhci.io/v1beta1\nkind: Addon\nmetadata:\n  name: vm-import-controller\n  namespace: harvester-system\nspec:\n  chart: harvester-vm-import-controller\n  version: 0.4.0\n  enabled: true\n".into());
    let r = run(&d, Some("v1.6.1"));
    assert!(
        of(&r, "import-openstack-leak")
            .iter()
            .all(|f| f.severity == Severity::Warning)
    );
}

/// With OpenstackSources in the input, a failed import whose source is gone says the project
/// must be cleaned up by hand; one whose source exists does not.
#[test]
fn a_deleted_openstack_source_is_named() {
    let source = |ns: &str| {
        format!(
            "apiVersion: migration.harvesterhci.io/v1beta1\nkind: OpenstackSource\nmetadata:\n  name: devstack\n  namespace: {ns}\nspec:\n  endpoint: https://keystone.example:5000/v3\n  region: RegionOne\n  credentials:\n    name: devstack-credentials\n    namespace: {ns}\n"
        )
    };
    let docs = vec![
        import("with-source", "a", "OpenstackSource", "VMMigrationFailed", FAILED),
        source("with-source"),
        import("without-source", "b", "OpenstackSource", "VMMigrationFailed", FAILED),
        source("other"),
    ];
    let r = run(&docs, Some("v1.4.1"));
    let f = of(&r, "import-openstack-leak");
    let msg = |name: &str| f.iter().find(|f| f.object.name == name).unwrap().message.clone();
    assert!(!msg("a").contains("no longer exists"), "{}", msg("a"));
    // Files: OpenstackSources were seen in "other" and "with-source" only; "without-source" is unknown.
    assert!(
        !msg("b").contains("no longer exists"),
        "unknown coverage is not absence: {}",
        msg("b")
    );
    let mut d = docs.clone();
    d.push(
        "apiVersion: migration.harvesterhci.io/v1beta1\nkind: OpenstackSource\nmetadata:\n  name: unrelated\n  namespace: without-source\nspec: {}\n"
            .into(),
    );
    let r = run(&d, Some("v1.4.1"));
    let f = of(&r, "import-openstack-leak");
    let b = f.iter().find(|f| f.object.name == "b").unwrap();
    assert!(
        b.message
            .contains("OpenstackSource without-source/devstack no longer exists"),
        "{}",
        b.message
    );
}

#[test]
fn exports_stuck_after_power_off_are_info() {
    let stuck = import(
        "imports",
        "stuck",
        "OpenstackSource",
        "sourceReady",
        &[("VMPoweredOff", "2026-11-22T01:00:00Z")],
    );
    let young = import(
        "imports",
        "young",
        "OpenstackSource",
        "sourceReady",
        &[("VMPoweredOff", "2026-11-22T11:00:00Z")],
    );
    let r = run(&[stuck, young], Some("v1.6.1"));
    assert_eq!(keys(&r, "import-openstack-leak"), vec!["imports/stuck"]);
    assert_eq!(of(&r, "import-openstack-leak")[0].severity, Severity::Info);
}

#[test]
fn config_and_exemptions() {
    let ann = "  annotations:\n    harvester-hygiene.io/ignore: vm-name-breaks-migration\n    harvester-hygiene.io/ignore-reason: renamed in the next maintenance window\n";
    let no_reason = "  annotations:\n    harvester-hygiene.io/ignore: \"*\"\n";
    let docs = vec![
        quota("team", "default-xyz", true, LIMITS, ""),
        vm("team", &name(55), ann, NO_VOLUMES),
        vm("team", &name(56), no_reason, NO_VOLUMES),
        vm("team", &name(57), "", NO_VOLUMES),
    ];
    let r = run(&docs, Some("v1.4.1"));
    assert_eq!(of(&r, "vm-name-breaks-migration").len(), 2);
    assert_eq!(r.summary.exempted, 1);
    assert_eq!(r.exempted[0].reason, "renamed in the next maintenance window");
    let unexempt = of(&r, "vm-name-breaks-migration")
        .into_iter()
        .find(|f| f.object.name == name(56))
        .unwrap();
    assert!(unexempt.message.contains("needs a harvester-hygiene.io/ignore-reason"));

    // Exemptions switched off: all three.
    let cfg = Config::parse("exemptions:\n  annotations: false\n").unwrap();
    assert_eq!(
        of(&run_with(&docs, Some("v1.4.1"), &cfg), "vm-name-breaks-migration").len(),
        3
    );
    // Severity override, namespace exclusion, disabled rule.
    let cfg = Config::parse("rules:\n  vm-name-breaks-migration:\n    severity: warning\n").unwrap();
    assert!(
        of(&run_with(&docs, Some("v1.4.1"), &cfg), "vm-name-breaks-migration")
            .iter()
            .all(|f| f.severity == Severity::Warning)
    );
    let cfg = Config::parse("namespaces:\n  exclude: [team]\n").unwrap();
    assert!(of(&run_with(&docs, Some("v1.4.1"), &cfg), "vm-name-breaks-migration").is_empty());
    let cfg = Config::parse("rules:\n  vm-name-breaks-migration:\n    enabled: false\n").unwrap();
    let r = run_with(&docs, Some("v1.4.1"), &cfg);
    assert!(of(&r, "vm-name-breaks-migration").is_empty());
    assert!(
        r.rules
            .iter()
            .any(|x| x.id == "vm-name-breaks-migration" && format!("{:?}", x.status) == "Disabled")
    );
}
