//! The VM, quota, orphaned-PVC and import rules on fixtures: positives and near-misses.

mod common;

use common::fixtures::{keys, of, run, run_with};
use harvester_hygiene::config::Config;
use harvester_hygiene::rules::{Confidence, Severity};

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
        // A running VM makes VMIs known in `team`: the long-named VM is stopped there.
        vmi("team", &name(53), "u53"),
    ];
    let want = vec![format!("team/{}", name(54))];
    // `free` has no quota object, so quotas are unknown there: an info finding, not silence.
    let judged = |r: &harvester_hygiene::report::Report| -> Vec<String> {
        let mut v: Vec<String> = of(r, "vm-name-breaks-migration")
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .map(|f| f.object.key())
            .collect();
        v.sort();
        v
    };
    for v in ["v1.2.0", "v1.3.2", "v1.4.0", "v1.4.1"] {
        let r = run(&docs, Some(v));
        assert_eq!(judged(&r), want, "{v}");
        assert_eq!(of(&r, "vm-name-breaks-migration")[0].severity, Severity::Warning);
    }
    for v in ["v1.1.2", "v1.4.2", "v1.4.3", "v1.5.0", "v1.6.1"] {
        assert!(keys(&run(&docs, Some(v)), "vm-name-breaks-migration").is_empty(), "{v}");
    }
    let r = run(&docs, None);
    let f: Vec<_> = of(&r, "vm-name-breaks-migration")
        .into_iter()
        .filter(|f| f.severity != Severity::Info)
        .collect();
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
    assert!(
        f.iter()
            .all(|f| f.remediation.contains("base plus the remaining entries"))
    );
    assert!(f.iter().all(|f| f.confidence == Confidence::Proven));
    assert!(msgs.iter().any(|m| m.contains("uid 1111, which no longer exists")));
    assert!(
        msgs.iter()
            .all(|m| m.contains("refuses every change to this namespace's resource quota"))
    );
    // v1.5+: the quota controller recomputes spec.hard; nothing to set by hand.
    let r = run(&docs, Some("v1.6.1"));
    let f = of(&r, "migration-annotation-stale");
    assert_eq!(f.len(), 4);
    assert!(f.iter().all(|f| !f.remediation.contains("base plus")));
}

fn namespace(name: &str, base: &str) -> String {
    let ann = if base.is_empty() {
        String::new()
    } else {
        format!("  annotations:\n    field.cattle.io/resourceQuota: '{base}'\n")
    };
    format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n{ann}")
}

fn vmim_final(ns: &str, vmi: &str, phase: &str, at: &str) -> String {
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: {vmi}-mig\n  namespace: {ns}\nspec:\n  vmiName: {vmi}\nstatus:\n  phase: {phase}\n  phaseTransitionTimestamps:\n  - phase: Pending\n    phaseTransitionTimestamp: \"2026-11-22T11:00:00Z\"\n  - phase: {phase}\n    phaseTransitionTimestamp: \"{at}\"\n"
    )
}

const BASE: &str = r#"{"limit":{"limitsCpu":"20","limitsMemory":"64Gi"}}"#;
const ENTRY: &str = "    harvesterhci.io/migrating-vm1: '{\"limits.cpu\":\"2\",\"limits.memory\":\"4Gi\"}'\n";

#[test]
fn a_migration_that_just_ended_is_not_stale_yet() {
    // The controller removes the entry right after the VMIM turns final: 2 minutes is not stale.
    let docs = vec![
        quota("ns", "q", true, LIMITS, ENTRY),
        vmim_final("ns", "vm1", "Succeeded", "2026-11-22T11:58:00Z"),
        namespace("ns", BASE),
    ];
    let r = run(&docs, Some("v1.4.1"));
    assert!(of(&r, "migration-annotation-stale").is_empty(), "{:#?}", r.findings);
    // 10 minutes: stale, and it says when the migration ended.
    let docs = vec![
        quota("ns", "q", true, LIMITS, ENTRY),
        vmim_final("ns", "vm1", "Failed", "2026-11-22T11:50:00Z"),
        namespace("ns", BASE),
    ];
    let r = run(&docs, Some("v1.4.1"));
    let f = of(&r, "migration-annotation-stale");
    assert_eq!(f.len(), 1);
    assert!(
        f[0].evidence
            .iter()
            .any(|e| e.starts_with("migration-final-since:2026-11-22T11:50:00")),
        "{:?}",
        f[0].evidence
    );
    // A longer grace period from the policy.
    let cfg = Config::parse("rules:\n  migration-annotation-stale:\n    gracePeriod: 30m\n").unwrap();
    assert!(of(&run_with(&docs, Some("v1.4.1"), &cfg), "migration-annotation-stale").is_empty());
}

#[test]
fn stale_entries_say_whether_spec_hard_is_still_inflated() {
    let hard = |cpu: &str, mem: &str| format!("    limits.cpu: \"{cpu}\"\n    limits.memory: {mem}\n");
    let case = |hard: String, ns_doc: Option<String>, version: &str| {
        let mut docs = vec![quota("ns", "q", true, &hard, ENTRY)];
        docs.extend(ns_doc);
        let r = run(&docs, Some(version));
        let f = of(&r, "migration-annotation-stale");
        assert_eq!(f.len(), 1, "{:#?}", r.findings);
        (f[0].message.clone(), f[0].evidence.clone())
    };
    // Base 20 CPU / 64Gi, entry 2 / 4Gi: 22 / 68Gi is base + all entries.
    let (m, e) = case(hard("22", "68Gi"), Some(namespace("ns", BASE)), "v1.4.1");
    assert!(e.contains(&"hard:inflated".to_string()), "{e:?}");
    assert!(m.contains("more than its project allows"), "{m}");
    // Rancher already reset it to the base.
    let (m, e) = case(hard("20", "64Gi"), Some(namespace("ns", BASE)), "v1.4.1");
    assert!(e.contains(&"hard:settled".to_string()), "{e:?}");
    assert!(m.contains("already back at the base"), "{m}");
    // Someone changed it.
    let (m, e) = case(hard("30", "64Gi"), Some(namespace("ns", BASE)), "v1.4.1");
    assert!(e.contains(&"hard:neither".to_string()), "{e:?}");
    assert!(
        m.contains("limits.cpu: spec.hard 30, base 20, base + all entries 22, base + remaining 20"),
        "{m}"
    );
    // No base to compare with.
    let (m, e) = case(hard("22", "68Gi"), Some(namespace("ns", "")), "v1.4.1");
    assert!(e.contains(&"hard:base-unknown".to_string()), "{e:?}");
    assert!(m.contains("no field.cattle.io/resourceQuota base"), "{m}");
    let (m, _) = case(hard("22", "68Gi"), None, "v1.4.1");
    assert!(m.contains("Namespace ns was not read"), "{m}");
    // v1.4.2+: the controller recomputes, unless it will not.
    let (m, _) = case(hard("22", "68Gi"), Some(namespace("ns", BASE)), "v1.5.0");
    assert!(m.contains("controller then recomputes spec.hard"), "{m}");
    let (m, e) = case(hard("22", "68Gi"), Some(namespace("ns", "")), "v1.5.0");
    assert!(
        e.contains(&"no-rancher-base".to_string()) && m.contains("does not recompute"),
        "{m}"
    );
    let mut docs = vec![quota(
        "ns",
        "q",
        true,
        &hard("22", "68Gi"),
        &format!("{ENTRY}    harvesterhci.io/skipResourceQuotaAutoScaling: \"true\"\n"),
    )];
    docs.push(namespace("ns", BASE));
    let r = run(&docs, Some("v1.5.0"));
    let f = of(&r, "migration-annotation-stale");
    assert_eq!(f.len(), 1);
    assert!(
        f[0].message.contains("skipResourceQuotaAutoScaling"),
        "{}",
        f[0].message
    );
}

#[test]
fn stale_entries_with_migrations_unknown_are_possible() {
    let docs = vec![quota("ns", "q", true, LIMITS, ENTRY), namespace("ns", BASE)];
    let r = run(&docs, Some("v1.4.1"));
    let f = of(&r, "migration-annotation-stale");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!((f[0].severity, f[0].confidence), (Severity::Info, Confidence::Possible));
    assert!(
        f[0].evidence
            .iter()
            .any(|e| e == "unknown-kind:VirtualMachineInstanceMigration")
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

/// A Longhorn volume as longhorn-manager writes it: empty strings for unset times, the
/// bound PVC's namespace, 10 GiB with 3 replicas, and `history` as its `workloadsStatus`
/// entries `(podName, workloadName, workloadType)`.
fn lh_in(ns: &str, n: u32, state: &str, last_pod_ref: &str, history: &[(&str, &str, &str)]) -> String {
    let ws = if history.is_empty() {
        "    workloadsStatus: null\n".to_string()
    } else {
        let mut w = "    workloadsStatus:\n".to_string();
        for (pod, wl, wt) in history {
            w.push_str(&format!(
                "    - podName: {pod}\n      podStatus: Succeeded\n      workloadName: {wl}\n      workloadType: {wt}\n"
            ));
        }
        w
    };
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: Volume\nmetadata:\n  name: pv-{n}\n  namespace: longhorn-system\n  creationTimestamp: \"2026-10-01T00:00:00Z\"\nspec:\n  size: \"10737418240\"\n  numberOfReplicas: 3\nstatus:\n  state: {state}\n  kubernetesStatus:\n    lastPodRefAt: \"{last_pod_ref}\"\n    lastPVCRefAt: \"\"\n    namespace: {ns}\n    pvcName: pvc-{u}\n    pvName: pv-{n}\n    pvStatus: Bound\n{ws}",
        u = uuid(n)
    )
}

fn lh(n: u32, state: &str, last_pod_ref: &str) -> String {
    lh_in(GUEST_NS, n, state, last_pod_ref, &[])
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

/// Guest-cluster credentials as harvester's kubeconfig API makes them
/// (pkg/api/kubeconfig/generate_handler.go): RoleBinding `<ns>-<sa>` to
/// harvesterhci.io:cloudprovider and ClusterRoleBinding `<ns>-<sa>` to harvesterhci.io:csi-driver.
fn credentials(ns: &str, sa: &str) -> Vec<String> {
    let subject = format!("subjects:\n- kind: ServiceAccount\n  name: {sa}\n  namespace: {ns}\n");
    vec![
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {ns}-{sa}\n  namespace: {ns}\n  ownerReferences:\n  - apiVersion: v1\n    kind: ServiceAccount\n    name: {sa}\n    uid: sa-{sa}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: harvesterhci.io:cloudprovider\n{subject}"
        ),
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {ns}-{sa}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: harvesterhci.io:csi-driver\n{subject}"
        ),
    ]
}

/// RBAC known (read) in `ns` and cluster-wide, with bindings unrelated to guest clusters.
fn rbac_known(ns: &str) -> Vec<String> {
    vec![
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: viewers\n  namespace: {ns}\nroleRef:\n  kind: ClusterRole\n  name: view\nsubjects:\n- kind: Group\n  name: team\n"
        ),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: admins\nroleRef:\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: Group\n  name: admins\n".to_string(),
    ]
}

/// A namespace where every referencing kind is known, with a plain (non-guest) VM.
fn known(ns: &str) -> Vec<String> {
    let mut v = vec![
        vm(ns, &format!("plain-{ns}"), "", NO_VOLUMES),
        vmi(ns, &format!("plain-{ns}"), &format!("vmi-{ns}")),
        pod(ns, &format!("util-{ns}"), ""),
        image_in(ns),
    ];
    v.extend(rbac_known(ns));
    v
}

const OLD: &str = "2026-11-17T12:00:00Z"; // 5 days before NOW
const RECENT: &str = "2026-11-22T10:00:00Z"; // 2 hours before NOW
const GUEST_VM: &str = "  labels:\n    guestcluster.harvesterhci.io/name: prod\n    harvesterhci.io/creator: docker-machine-driver-harvester\n";

/// The orphan findings of `r`, asserting there is exactly one.
fn one_orphan(r: &harvester_hygiene::report::Report) -> Vec<&harvester_hygiene::rules::Finding> {
    let f = of(r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    f
}

fn label(c: &str) -> String {
    format!("  labels:\n    guestcluster.harvesterhci.io/name: {c}\n")
}

#[test]
fn orphaned_guest_pvc_found_with_evidence() {
    let mut docs = known(GUEST_NS);
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, Some("v1.6.1"));
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].severity, Severity::Warning);
    // No credentials and no guest VM in the namespace: inferred, so likely.
    assert_eq!(f[0].confidence, Confidence::Likely);
    let m = &f[0].message;
    for part in [
        "10Gi",
        "class harvester-longhorn",
        "volume pv-1",
        "last used by a pod at 2026-11-17",
        "unused for 5d",
        "30.0 GiB (3 replicas)",
    ] {
        assert!(m.contains(part), "{part:?} not in {m}");
    }
    for e in ["unreferenced", "detached-since:2026-11-17T12:00:00Z"] {
        assert!(f[0].evidence.iter().any(|x| x == e), "{e} not in {:?}", f[0].evidence);
    }
    assert_eq!(f[0].reclaimable_bytes, Some(3 * 10 * (1 << 30)));
    assert_eq!(r.summary.reclaimable_bytes, 3 * 10 * (1 << 30));
    assert!(f[0].remediation.contains("Retain"));
    assert!(f[0].remediation.contains("claimRef"), "the undo path");
}

#[test]
fn history_is_kept_after_use_so_a_volume_with_history_is_unused() {
    // Longhorn keeps the last pods in workloadsStatus and sets lastPodRefAt when they go
    // (longhorn-manager controller/kubernetes_pv_controller.go): the volume of a deleted
    // guest node, hot-plugged through hp-volume pods owned by the launcher pod.
    let mut docs = known(GUEST_NS);
    docs.extend(credentials(GUEST_NS, "dead"));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh_in(
        GUEST_NS,
        1,
        "detached",
        OLD,
        &[("hp-volume-7xq2k", "virt-launcher-dead-pool1-5d8f7-abcde-x7k2p", "Pod")],
    ));
    let r = run(&docs, Some("v1.6.1"));
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].confidence, Confidence::Likely);
    assert_eq!(f[0].severity, Severity::Warning);
    for e in [
        "last-vm-gone:dead-pool1-5d8f7-abcde",
        "dead-credentials:dead(last-vm-gone:dead-pool1-5d8f7-abcde)",
    ] {
        assert!(f[0].evidence.iter().any(|x| x == e), "{e} not in {:?}", f[0].evidence);
    }
    assert!(
        f[0].message
            .contains("by VM dead-pool1-5d8f7-abcde, which no longer exists")
    );

    // Near-miss: the same history while its pods still run (lastPodRefAt empty) is in use.
    let mut docs = known(GUEST_NS);
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh_in(
        GUEST_NS,
        1,
        "detached",
        "",
        &[("hp-volume-7xq2k", "virt-launcher-dead-pool1-5d8f7-abcde-x7k2p", "Pod")],
    ));
    assert!(of(&run(&docs, None), "orphaned-guest-pvc").is_empty());

    // Near-miss: the VM it was last attached to still exists.
    let mut docs = known(GUEST_NS);
    docs.push(vm(GUEST_NS, "dead-pool1-5d8f7-abcde", "", NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh_in(
        GUEST_NS,
        1,
        "detached",
        OLD,
        &[(
            "virt-launcher-dead-pool1-5d8f7-abcde-x7k2p",
            "dead-pool1-5d8f7-abcde",
            "VirtualMachineInstance",
        )],
    ));
    assert!(of(&run(&docs, None), "orphaned-guest-pvc").is_empty());
}

#[test]
fn orphan_confidence_follows_guest_cluster_liveness() {
    // proven: labelled for a cluster with no living VM, its credentials are its own.
    let mut docs = known(GUEST_NS);
    docs.extend(credentials(GUEST_NS, "gone"));
    docs.push(pvc(GUEST_NS, 1, &label("gone")));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].confidence, Confidence::Proven);
    assert!(
        f[0].evidence.iter().any(|e| e == "cluster-label-dead:gone"),
        "{:?}",
        f[0].evidence
    );

    // A CSI-only guest cluster (Terraform-built: no node-driver labels) whose credentials match
    // no VM we can identify: at most possible, info.
    let mut docs = known(GUEST_NS);
    docs.extend(credentials(GUEST_NS, "tf-cluster"));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].confidence, Confidence::Possible);
    assert_eq!(f[0].severity, Severity::Info);
    assert!(f[0].evidence.iter().any(|e| e == "unmatched-credentials:tf-cluster"));
    assert!(f[0].message.contains("match no cluster we can see"), "{}", f[0].message);

    // Even labelled for a dead cluster: unmatched credentials next to it make it possible.
    let mut docs = known(GUEST_NS);
    docs.extend(credentials(GUEST_NS, "tf-cluster"));
    docs.push(pvc(GUEST_NS, 1, &label("gone")));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = one_orphan(&r);
    assert_eq!(f[0].confidence, Confidence::Possible);

    // A living guest VM in the namespace and no label: possible (it may be that cluster's).
    let mut docs = known(GUEST_NS);
    docs.push(vm(GUEST_NS, "prod-pool-abc", GUEST_VM, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = one_orphan(&r);
    assert_eq!(f[0].confidence, Confidence::Possible);
    assert!(f[0].evidence.iter().any(|e| e == "living-guest-vm:prod-pool-abc"));

    // Credentials matching a living cluster by name prefix: possible.
    let mut docs = known(GUEST_NS);
    docs.extend(credentials(GUEST_NS, "prod"));
    docs.push(vm(
        GUEST_NS,
        "prod-pool-abc",
        "  labels:\n    harvesterhci.io/creator: docker-machine-driver-harvester\n",
        NO_VOLUMES,
    ));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = one_orphan(&r);
    assert_eq!(f[0].confidence, Confidence::Possible);
    assert!(
        f[0].evidence.iter().any(|e| e == "alive-credentials:prod"),
        "{:?}",
        f[0].evidence
    );

    // A VM being deleted with removeAllPersistentVolumeClaims (Rancher >= 2.11 cleanup) does not
    // keep its cluster alive.
    let deleting = "  deletionTimestamp: \"2026-11-20T00:00:00Z\"\n  finalizers: [x]\n  annotations:\n    harvesterhci.io/removeAllPersistentVolumeClaims: \"true\"\n  labels:\n    guestcluster.harvesterhci.io/name: prod\n    harvesterhci.io/creator: docker-machine-driver-harvester\n";
    let mut docs = known(GUEST_NS);
    docs.extend(credentials(GUEST_NS, "prod"));
    docs.push(vm(GUEST_NS, "prod-pool-abc", deleting, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, &label("prod")));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!(f[0].confidence, Confidence::Proven);
    // Near-miss: the same VM without the annotation is still alive.
    let docs: Vec<String> = docs
        .into_iter()
        .map(|d| {
            d.replace(
                "    harvesterhci.io/removeAllPersistentVolumeClaims: \"true\"\n",
                "    x: y\n",
            )
        })
        .collect();
    assert!(of(&run(&docs, None), "orphaned-guest-pvc").is_empty());
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
    // Labelled for cluster "prod", whose VM lives elsewhere: still alive.
    let mut docs = known(GUEST_NS);
    docs.extend(known("other"));
    docs.push(vm("other", "prod-pool-abc", GUEST_VM, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, &label("prod")));
    docs.push(lh(1, "detached", OLD));
    assert!(of(&run(&docs, None), "orphaned-guest-pvc").is_empty());

    // Labelled for cluster "prod" whose unlabelled old-driver VM is named prod-*: alive.
    let old_driver = "  labels:\n    harvesterhci.io/creator: docker-machine-driver-harvester\n";
    let mut docs = known(GUEST_NS);
    docs.push(vm(GUEST_NS, "prod-pool-x", old_driver, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, &label("prod")));
    docs.push(lh(1, "detached", OLD));
    assert!(of(&run(&docs, None), "orphaned-guest-pvc").is_empty());

    // Labelled for a dead cluster while another cluster lives in the namespace: proven (its own
    // label), but the namespace holds a living guest VM.
    let mut docs = known(GUEST_NS);
    docs.push(vm(GUEST_NS, "prod-pool-abc", GUEST_VM, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, &label("dead")));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = one_orphan(&r);
    assert_eq!(f[0].confidence, Confidence::Proven);
    assert!(f[0].message.contains("labelled for guest cluster dead"));
    assert!(f[0].evidence.iter().any(|e| e == "living-guest-vm:prod-pool-abc"));

    // Guest VMs live in a configured guest namespace.
    let mut docs = known(GUEST_NS);
    docs.extend(known("rke2"));
    docs.push(vm("rke2", "prod-pool-abc", GUEST_VM, NO_VOLUMES));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = one_orphan(&r);
    assert_eq!(
        f[0].confidence,
        Confidence::Likely,
        "without config the rke2 VMs do not count"
    );
    let cfg = Config::parse("rules:\n  orphaned-guest-pvc:\n    guestNamespaces: [rke2]\n").unwrap();
    let r = run_with(&docs, None, &cfg);
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].confidence, Confidence::Possible);
}

#[test]
fn orphan_rule_is_conservative_about_unknowns_and_grace() {
    // Pods unknown in the namespace: reported as possible (info), naming what is unknown.
    let mut docs = vec![
        vm(GUEST_NS, "plain", "", NO_VOLUMES),
        vmi(GUEST_NS, "plain", "u"),
        image_in(GUEST_NS),
    ];
    docs.extend(rbac_known(GUEST_NS));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert_eq!((f[0].severity, f[0].confidence), (Severity::Info, Confidence::Possible));
    assert!(
        f[0].evidence.iter().any(|e| e == "unknown-kind:Pod"),
        "{:?}",
        f[0].evidence
    );
    assert!(f[0].message.contains("Pod were not read"), "{}", f[0].message);
    let run_ = r.rules.iter().find(|r| r.id == "orphaned-guest-pvc").unwrap();
    assert!(
        run_.notes.iter().any(|n| n.contains("guests (Pod)")),
        "{:?}",
        run_.notes
    );

    // Guest-cluster credentials not read (no RoleBindings in the input): possible.
    let mut docs = known(GUEST_NS);
    docs.retain(|d| !d.contains("rbac.authorization.k8s.io"));
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let r = run(&docs, None);
    let f = one_orphan(&r);
    assert_eq!(f[0].confidence, Confidence::Possible);
    assert!(
        f[0].evidence.iter().any(|e| e == "unknown-kind:RoleBinding"),
        "{:?}",
        f[0].evidence
    );

    // No Longhorn volumes in the input: info, from the PVC's age.
    let mut docs = known(GUEST_NS);
    docs.push(pvc(GUEST_NS, 1, ""));
    let r = run(&docs, None);
    let f = one_orphan(&r);
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].confidence, Confidence::Possible);

    // A longer grace period.
    let mut docs = known(GUEST_NS);
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let cfg = Config::parse("rules:\n  orphaned-guest-pvc:\n    gracePeriod: 7d\n").unwrap();
    assert!(of(&run_with(&docs, None, &cfg), "orphaned-guest-pvc").is_empty());

    // Snapshots it owns are named.
    docs.push("apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata:\n  name: backup-snap-1\n  namespace: guests\n  ownerReferences:\n  - apiVersion: v1\n    kind: PersistentVolumeClaim\n    name: x\n    uid: host-1\n".into());
    let r = run(&docs, None);
    let f = one_orphan(&r);
    assert!(
        f[0].message.contains("VolumeSnapshots it owns: backup-snap-1"),
        "{}",
        f[0].message
    );
    assert_eq!(f[0].related.len(), 1);
}

#[test]
fn a_severity_override_does_not_change_what_fix_may_touch() {
    use harvester_hygiene::inventory::{Inventory, files};
    let mut docs = known(GUEST_NS);
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    let cfg = Config::parse("rules:\n  orphaned-guest-pvc:\n    severity: info\n").unwrap();
    let r = run_with(&docs, None, &cfg);
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Info);
    let mut inv = Inventory::new(None, true);
    files::load_text(&mut inv, "fixture.yaml", &docs.join("\n---\n"));
    let plan = harvester_hygiene::remedy::plan(&r.findings, &inv);
    assert_eq!(plan.len(), 1, "lowered severity, same evidence: still planned");
    assert!(plan[0].description.contains("Retain"), "{}", plan[0].description);

    // And the guard: with unmatched credentials next to it, the plan is "leave it", even for a
    // finding whose severity a policy raised.
    docs.extend(credentials(GUEST_NS, "tf-cluster"));
    let cfg = Config::parse("rules:\n  orphaned-guest-pvc:\n    severity: error\n").unwrap();
    let r = run_with(&docs, None, &cfg);
    let f = of(&r, "orphaned-guest-pvc");
    assert_eq!(f.len(), 1);
    let mut inv = Inventory::new(None, true);
    files::load_text(&mut inv, "fixture.yaml", &docs.join("\n---\n"));
    assert!(
        harvester_hygiene::remedy::plan(&r.findings, &inv).is_empty(),
        "possible: never planned"
    );
}

#[test]
fn fixes_read_the_typed_input_the_rule_wrote() {
    use harvester_hygiene::remedy::{ActionKind, plan};
    use harvester_hygiene::rules::FixInput;
    // An orphan that owns a snapshot: the fix input names it, and the plan carries it.
    let mut docs = known(GUEST_NS);
    docs.push(pvc(GUEST_NS, 1, ""));
    docs.push(lh(1, "detached", OLD));
    docs.push("apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata:\n  name: backup-snap-1\n  namespace: guests\n  ownerReferences:\n  - apiVersion: v1\n    kind: PersistentVolumeClaim\n    name: x\n    uid: host-1\n".into());
    let inv = common::fixtures::load(&docs, Some("v1.6.1"));
    let r = run(&docs, Some("v1.6.1"));
    let f = one_orphan(&r);
    assert_eq!(
        f[0].fix_input,
        Some(FixInput::OrphanPvc {
            owned_snapshots: vec!["backup-snap-1".into()]
        })
    );
    let actions = plan(&r.findings, &inv);
    assert_eq!(actions.len(), 1, "{actions:#?}");
    let ActionKind::RetainAndDeletePvc(fix) = &actions[0].action else {
        panic!("{:?}", actions[0].action);
    };
    assert_eq!(fix.owned_snapshots, vec!["backup-snap-1".to_string()]);

    // A stale quota annotation: the key comes from the typed input.
    let ann = "    harvesterhci.io/migrating-done: '{\"limits.cpu\":\"2\"}'\n";
    let qdocs = vec![
        quota("ns", "default-q", true, LIMITS, ann),
        vmim("ns", "done", "Succeeded"),
    ];
    let qinv = common::fixtures::load(&qdocs, Some("v1.6.1"));
    let qr = run(&qdocs, Some("v1.6.1"));
    let qf = of(&qr, "migration-annotation-stale");
    assert_eq!(qf.len(), 1, "{:#?}", qr.findings);
    assert_eq!(
        qf[0].fix_input,
        Some(FixInput::QuotaAnnotation {
            annotation: "harvesterhci.io/migrating-done".into()
        })
    );
    let actions = plan(&qr.findings, &qinv);
    assert_eq!(actions.len(), 1, "{actions:#?}");
    assert!(
        matches!(&actions[0].action, ActionKind::RemoveQuotaAnnotation(q) if q.key == "harvesterhci.io/migrating-done")
    );

    // The fixes read only the typed input: without it (a report from an older version, a
    // hand-edited finding) nothing is planned, whatever `details` says.
    let mut stripped = r.findings.clone();
    stripped.extend(qr.findings.iter().cloned());
    let with_details = stripped.iter().filter(|f| !f.details.is_empty()).count();
    assert!(with_details >= 2, "the findings still carry their details");
    for f in &mut stripped {
        f.fix_input = None;
    }
    assert!(plan(&stripped, &inv).is_empty());
    assert!(plan(&stripped, &qinv).is_empty());

    // And it survives the report's JSON.
    let text = serde_json::to_string(&r.findings).unwrap();
    assert!(
        text.contains("\"fixInput\":{\"type\":\"orphanPvc\",\"ownedSnapshots\":[\"backup-snap-1\"]}"),
        "{text}"
    );
    let back: Vec<harvester_hygiene::rules::Finding> = serde_json::from_str(&text).unwrap();
    assert_eq!(back[0].fix_input, f[0].fix_input);
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
        vmi("team", "short", "u-short"),
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

#[test]
fn a_malformed_quota_entry_is_left_for_a_person_with_the_reason() {
    use harvester_hygiene::inventory::{Inventory, files};
    let bad = "    harvesterhci.io/migrating-vm1: 'not json'\n";
    let docs = vec![
        quota(
            "ns",
            "q",
            true,
            "    limits.cpu: \"22\"\n    limits.memory: 68Gi\n",
            bad,
        ),
        namespace("ns", BASE),
        vmim_final("ns", "other", "Succeeded", "2026-11-01T00:00:00Z"),
    ];
    let r = run(&docs, Some("v1.4.1"));
    let f = of(&r, "migration-annotation-stale");
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(
        f[0].evidence.iter().any(|e| e == "hard:malformed-entry"),
        "{:?}",
        f[0].evidence
    );
    let mut inv = Inventory::new(None, true);
    files::load_text(&mut inv, "fixture.yaml", &docs.join("\n---\n"));
    harvester_hygiene::scan::set_version(&mut inv, harvester_hygiene::version::Version::parse("v1.4.1"));
    let plan = harvester_hygiene::remedy::plan(&r.findings, &inv);
    assert_eq!(plan.len(), 1);
    let a = serde_json::to_value(&plan[0].action).unwrap();
    assert_eq!(a["type"], "manual", "{a}");
    assert!(a["reason"].as_str().unwrap().contains("not a JSON ResourceList"), "{a}");
}
