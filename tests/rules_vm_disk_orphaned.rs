//! `vm-disk-orphaned` on fixtures (clock 2026-11-22T12:00:00Z): disks of deleted VMs, with
//! their evidence and confidence, and the near-misses.

mod common;

use common::fixtures::{of, run};
use harvester_hygiene::rules::{Confidence, FixInput, Severity};

const RULE: &str = "vm-disk-orphaned";
const NS: &str = "vms";

fn pvc(name: &str, pv: &str, extra_meta: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n  namespace: {NS}\n  uid: uid-{name}\n  creationTimestamp: \"2026-10-01T00:00:00Z\"\n{extra_meta}spec:\n  storageClassName: harvester-longhorn\n  volumeName: {pv}\n  resources:\n    requests:\n      storage: 10Gi\nstatus:\n  phase: Bound\n  capacity:\n    storage: 10Gi\n"
    )
}

/// A Longhorn volume bound to `pvc`, detached since `last` (empty: never attached), its
/// history naming the VMI `vm` (empty: none); `state` detached unless given.
fn volume(pv: &str, pvc: &str, vm: &str, last: &str, state: &str) -> String {
    let history = if vm.is_empty() {
        "[]".to_string()
    } else {
        format!(
            "\n    - podName: virt-launcher-{vm}-x7k2p\n      podStatus: Succeeded\n      workloadName: {vm}\n      workloadType: VirtualMachineInstance"
        )
    };
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: Volume\nmetadata:\n  name: {pv}\n  namespace: longhorn-system\n  creationTimestamp: \"2026-10-01T00:00:00Z\"\nspec:\n  size: \"10737418240\"\n  numberOfReplicas: 3\nstatus:\n  state: {state}\n  kubernetesStatus:\n    namespace: {NS}\n    pvcName: {pvc}\n    pvName: {pv}\n    lastPodRefAt: \"{last}\"\n    workloadsStatus: {history}\n"
    )
}

fn vm(name: &str, claim: &str) -> String {
    let volumes = if claim.is_empty() {
        "      - name: cloudinit\n        cloudInitNoCloud:\n          userData: x\n".to_string()
    } else {
        format!("      - name: disk-0\n        persistentVolumeClaim:\n          claimName: {claim}\n")
    };
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: {name}\n  namespace: {NS}\n  uid: uid-vm-{name}\nspec:\n  template:\n    spec:\n      domain:\n        resources:\n          limits:\n            cpu: \"2\"\n            memory: 4Gi\n      volumes:\n{volumes}"
    )
}

const OLD: &str = "2026-11-01T00:00:00Z";

fn docs() -> Vec<String> {
    vec![
        // Disk of deleted VM web: its name and its volume's history agree.
        pvc("web-disk-0-abcde", "pv-web", ""),
        volume("pv-web", "web-disk-0-abcde", "web", OLD, "detached"),
        // An image-backed disk of another name, its history naming deleted VM db.
        pvc("db-root", "pv-db", "  annotations:\n    harvesterhci.io/imageId: default/ubuntu\n"),
        volume("pv-db", "db-root", "db", OLD, "detached"),
        // Never attached: only possible.
        pvc("app-disk-1-xyz12", "pv-app", ""),
        volume("pv-app", "app-disk-1-xyz12", "", "", "detached"),
        // Near-misses. Referenced by a VM:
        vm("keep", "keep-disk-0-qwert"),
        pvc("keep-disk-0-qwert", "pv-keep", ""),
        volume("pv-keep", "keep-disk-0-qwert", "keep", OLD, "detached"),
        // Its history's VM exists (the disk was removed from it on purpose):
        vm("stopped", ""),
        pvc("spare-disk-0-aaaaa", "pv-spare", ""),
        volume("pv-spare", "spare-disk-0-aaaaa", "stopped", OLD, "detached"),
        // Its own VM (by name) exists:
        vm("own", ""),
        pvc("own-disk-2-bbbbb", "pv-own", ""),
        volume("pv-own", "own-disk-2-bbbbb", "gone-vm", OLD, "detached"),
        // Detached two hours ago:
        pvc("young-disk-0-ccccc", "pv-young", ""),
        volume("pv-young", "young-disk-0-ccccc", "young", "2026-11-22T10:00:00Z", "detached"),
        // Attached:
        pvc("busy-disk-0-ddddd", "pv-busy", ""),
        volume("pv-busy", "busy-disk-0-ddddd", "", "", "attached"),
        // A guest-cluster CSI volume (orphaned-guest-pvc's), and a PVC that is no VM disk:
        pvc("pvc-11111111-2222-3333-4444-555555555555", "pv-guest", ""),
        volume("pv-guest", "pvc-11111111-2222-3333-4444-555555555555", "rke-pool1-x", OLD, "detached"),
        pvc("notadisk", "pv-other", ""),
        volume("pv-other", "notadisk", "other", OLD, "detached"),
        // A golden image's PVC:
        pvc("gold-disk-0-eeeee", "pv-gold", "  annotations:\n    harvesterhci.io/goldenImage: \"true\"\n"),
        volume("pv-gold", "gold-disk-0-eeeee", "gold", OLD, "detached"),
        // Pods, VMIs and images are known (empty) in the namespace.
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata:\n  name: keep\n  namespace: vms\nspec:\n  volumes: []\n".into(),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: vms\nspec:\n  containers: []\n".into(),
        "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineImage\nmetadata:\n  name: ubuntu\n  namespace: vms\nspec:\n  displayName: ubuntu\n  sourceType: download\n".into(),
    ]
}

#[test]
fn disks_of_deleted_vms() {
    let r = run(&docs(), Some("v1.6.0"));
    let f = of(&r, RULE);
    let mut names: Vec<&str> = f.iter().map(|x| x.object.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["app-disk-1-xyz12", "db-root", "web-disk-0-abcde"],
        "{:#?}",
        r.findings
    );
    let by = |n: &str| f.iter().find(|x| x.object.name == n).unwrap();
    let web = by("web-disk-0-abcde");
    assert_eq!(web.confidence, Confidence::Proven);
    assert_eq!(web.severity, Severity::Warning);
    for e in [
        "unreferenced",
        "last-vm-gone:web",
        "name-vm-gone:web",
        "detached-since:2026-11-01T00:00:00Z",
    ] {
        assert!(web.evidence.iter().any(|x| x == e), "{e}: {:?}", web.evidence);
    }
    assert_eq!(web.reclaimable_bytes, Some(3 * 10_737_418_240));
    assert!(matches!(web.fix_input, Some(FixInput::OrphanPvc { .. })));
    let db = by("db-root");
    assert_eq!(db.confidence, Confidence::Likely);
    assert!(
        db.evidence.iter().any(|x| x == "image:default/ubuntu"),
        "{:?}",
        db.evidence
    );
    let app = by("app-disk-1-xyz12");
    assert_eq!(app.confidence, Confidence::Possible);
    assert_eq!(app.severity, Severity::Info);
    assert!(app.evidence.iter().any(|x| x == "never-attached"));
    // The guest-cluster volume is orphaned-guest-pvc's, not reported twice.
    assert!(
        r.findings
            .iter()
            .filter(|x| x.object.name.starts_with("pvc-1111"))
            .all(|x| x.rule != RULE)
    );
}

#[test]
fn unknown_references_are_only_possible() {
    // Without pods read, nothing is more than possible.
    let d: Vec<String> = docs().into_iter().filter(|x| !x.contains("kind: Pod\n")).collect();
    let r = run(&d, Some("v1.6.0"));
    let f = of(&r, RULE);
    assert!(!f.is_empty());
    assert!(f.iter().all(|x| x.confidence == Confidence::Possible), "{f:#?}");
    assert!(f.iter().all(|x| x.evidence.iter().any(|e| e == "unknown-kind:Pod")));
}

#[test]
fn disk_name_names_its_vm() {
    use harvester_hygiene::rules::vm_disk_orphaned::disk_name_vm;
    assert_eq!(disk_name_vm("web-disk-0-abcde"), Some("web"));
    assert_eq!(disk_name_vm("my-disk-vm-disk-12-x1"), Some("my-disk-vm"));
    assert_eq!(disk_name_vm("web-disk-x-abcde"), None);
    assert_eq!(disk_name_vm("web-disk-0"), None);
    assert_eq!(disk_name_vm("-disk-0-abc"), None);
}
