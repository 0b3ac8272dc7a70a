//! `longhorn-orphaned-data` on fixtures (clock 2026-11-22T12:00:00Z): positives and near-misses.

mod common;

use common::fixtures::{of, run};
use harvester_hygiene::rules::{Confidence, Severity};

const RULE: &str = "longhorn-orphaned-data";

fn orphan(name: &str, data: &str, created: &str, cleanable: &str) -> String {
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: Orphan\nmetadata:\n  name: {name}\n  namespace: longhorn-system\n  creationTimestamp: \"{created}\"\nspec:\n  nodeID: node-2\n  orphanType: replica\n  parameters:\n    DataName: {data}\n    DiskName: default-disk-1\n    DiskPath: /var/lib/harvester/defaultdisk\n    DiskUUID: 0f3e\n    DiskType: filesystem\nstatus:\n  ownerID: node-2\n  conditions:\n  - type: DataCleanable\n    status: \"{cleanable}\"\n"
    )
}

fn volume(name: &str, created: &str, extra_spec: &str, status: &str) -> String {
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: Volume\nmetadata:\n  name: {name}\n  namespace: longhorn-system\n  creationTimestamp: \"{created}\"\nspec:\n  size: \"10737418240\"\n  numberOfReplicas: 3\n{extra_spec}status:\n{status}"
    )
}

fn pv(name: &str, handle: &str) -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {name}\nspec:\n  csi:\n    driver: driver.longhorn.io\n    volumeHandle: {handle}\n  persistentVolumeReclaimPolicy: Retain\nstatus:\n  phase: Released\n"
    )
}

fn setting(name: &str, value: &str) -> String {
    format!(
        "apiVersion: longhorn.io/v1beta2\nkind: Setting\nmetadata:\n  name: {name}\n  namespace: longhorn-system\nvalue: \"{value}\"\n"
    )
}

const OLD: &str = "2026-11-10T00:00:00Z";
const DETACHED: &str = "  state: detached\n  robustness: unknown\n";

fn docs() -> Vec<String> {
    vec![
        setting("orphan-auto-deletion", "false"),
        // Harvester's Setting of the same kind name must not be taken for Longhorn's.
        "apiVersion: harvesterhci.io/v1beta1\nkind: Setting\nmetadata:\n  name: server-version\nvalue: v1.5.1\n".into(),
        // Data of a deleted volume.
        orphan("orphan-gone", "pvc-dead-0a1b2c3d", OLD, "True"),
        // An old replica of a faulted volume: maybe its last good copy.
        orphan("orphan-faulted", "pvc-faulty-9f8e7d6c", OLD, "True"),
        // An old replica of a healthy volume.
        orphan("orphan-spare", "pvc-healthy-11223344", OLD, "True"),
        // Near-miss: created an hour ago.
        orphan("orphan-young", "pvc-dead-55667788", "2026-11-22T11:00:00Z", "True"),
        volume("pvc-faulty", OLD, "", "  state: detached\n  robustness: faulted\n  kubernetesStatus:\n    pvName: pvc-faulty\n    namespace: a\n    pvcName: data\n"),
        volume("pvc-healthy", OLD, "", "  state: attached\n  robustness: healthy\n  kubernetesStatus:\n    pvName: pvc-healthy\n"),
        pv("pvc-faulty", "pvc-faulty"),
        pv("pvc-healthy", "pvc-healthy"),
        // A volume whose PV was deleted by hand (Retain): its status keeps the last PVC.
        volume("pvc-lost", OLD, "", &format!("{DETACHED}  kubernetesStatus:\n    namespace: team-a\n    pvcName: db\n    lastPVCRefAt: \"2026-11-12T00:00:00Z\"\n")),
        // A volume made in the Longhorn UI and never used.
        volume("scratch", OLD, "", DETACHED),
        // Near-misses: a standby DR volume, an attached one, a young one, one deleting, one a
        // PV names (its status not synced yet).
        volume("dr-standby", OLD, "  Standby: true\n", DETACHED),
        volume("in-use", OLD, "", "  state: attached\n  robustness: healthy\n"),
        volume("new", "2026-11-22T11:30:00Z", "", DETACHED),
        "apiVersion: longhorn.io/v1beta2\nkind: Volume\nmetadata:\n  name: going\n  namespace: longhorn-system\n  creationTimestamp: \"2026-11-10T00:00:00Z\"\n  deletionTimestamp: \"2026-11-22T11:59:00Z\"\nspec:\n  size: \"1\"\nstatus:\n  state: detached\n".into(),
        volume("named", OLD, "", DETACHED),
        pv("pv-for-named", "named"),
    ]
}

#[test]
fn orphans_and_volumes_without_a_pv() {
    let r = run(&docs(), Some("v1.5.1"));
    let f = of(&r, RULE);
    let mut names: Vec<&str> = f.iter().map(|x| x.object.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["orphan-faulted", "orphan-gone", "orphan-spare", "pvc-lost", "scratch"],
        "{:#?}",
        r.findings
    );
    let by = |n: &str| f.iter().find(|x| x.object.name == n).unwrap();
    assert!(
        f.iter()
            .all(|x| x.severity == Severity::Warning && x.confidence == Confidence::Proven)
    );
    let gone = by("orphan-gone");
    assert_eq!(gone.object.kind, "Orphan");
    assert!(
        gone.evidence.iter().any(|e| e == "volume-gone:pvc-dead"),
        "{:?}",
        gone.evidence
    );
    assert!(gone.evidence.iter().any(|e| e == "auto-deletion:off"));
    assert!(gone.message.contains("on node node-2"), "{}", gone.message);
    let faulted = by("orphan-faulted");
    assert!(faulted.evidence.iter().any(|e| e == "volume-faulted:pvc-faulty"));
    assert!(faulted.message.contains("last good copy"), "{}", faulted.message);
    assert!(faulted.title.contains("may be its last copy"), "{}", faulted.title);
    assert!(
        by("orphan-spare")
            .evidence
            .iter()
            .any(|e| e == "volume-exists:pvc-healthy")
    );
    let lost = by("pvc-lost");
    assert_eq!(lost.object.kind, "Volume");
    assert_eq!(lost.reclaimable_bytes, Some(3 * 10_737_418_240));
    assert!(
        lost.evidence.iter().any(|e| e == "last-pvc:team-a/db"),
        "{:?}",
        lost.evidence
    );
    assert!(lost.message.contains("last served PVC team-a/db"), "{}", lost.message);
    // Report only: nothing to fix.
    assert!(f.iter().all(|x| x.fix_input.is_none()));
}

#[test]
fn auto_deletion_v1_9_setting_and_unknown_pvs() {
    let mut d: Vec<String> = docs()
        .into_iter()
        .filter(|x| !x.contains("kind: PersistentVolume\n") && !x.contains("orphan-auto-deletion"))
        .collect();
    d.push(setting("orphan-resource-auto-deletion", "replicaData;instance"));
    let r = run(&d, Some("v1.6.0"));
    let f = of(&r, RULE);
    assert!(!f.is_empty());
    let gone = f.iter().find(|x| x.object.name == "orphan-gone").unwrap();
    assert!(
        gone.evidence.iter().any(|e| e == "auto-deletion:on"),
        "{:?}",
        gone.evidence
    );
    assert!(gone.message.contains("auto-deletion is on, yet it stays"));
    // Without PVs read: volumes whose status names no PV are only possible (info); the ones
    // whose status names a PV are not reported.
    let vols: Vec<_> = f.iter().filter(|x| x.object.kind == "Volume").collect();
    let mut names: Vec<&str> = vols.iter().map(|x| x.object.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["named", "pvc-lost", "scratch"], "{:#?}", vols);
    assert!(
        vols.iter()
            .all(|x| x.severity == Severity::Info && x.confidence == Confidence::Possible)
    );
    assert!(
        vols.iter()
            .all(|x| x.evidence.iter().any(|e| e == "unknown-kind:PersistentVolume"))
    );
}

#[test]
fn stale_pv_name_is_likely() {
    let mut d = docs();
    d.push(volume(
        "stale",
        OLD,
        "",
        &format!("{DETACHED}  kubernetesStatus:\n    pvName: pv-deleted\n"),
    ));
    let r = run(&d, Some("v1.5.1"));
    let f = of(&r, RULE);
    let stale = f.iter().find(|x| x.object.name == "stale").unwrap();
    assert_eq!(stale.confidence, Confidence::Likely);
    assert!(
        stale.message.contains("names PV pv-deleted, which does not exist"),
        "{}",
        stale.message
    );
}
