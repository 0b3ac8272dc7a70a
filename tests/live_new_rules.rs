//! `migration-stuck` and `storageclass-missing` on the real apiserver with the upstream KubeVirt
//! CRDs and the real PV binder: a positive and its near-miss each, status written through the
//! status subresource as KubeVirt writes it.

mod common;

use common::{create, namespace};
use harvester_hygiene::inventory::live::LiveOptions;
use harvester_hygiene::rules::Confidence;
use harvester_hygiene::scan::{Input, ScanOptions, scan};
use serde_json::json;

async fn run(ns: &str) -> harvester_hygiene::report::Report {
    scan(&ScanOptions {
        input: Input::Live(LiveOptions {
            kubeconfig: Some(common::kubeconfig().to_path_buf()),
            page_size: 50,
            ..Default::default()
        }),
        namespace: Some(ns.to_string()),
        harvester_version: Some("v1.6.1".into()),
        rules: vec!["migration-stuck".into(), "storageclass-missing".into()],
        config: Default::default(),
        now: None,
        openstack: None,
        limits: Default::default(),
        target_version: None,
    })
    .await
    .expect("scan")
}

fn vmim(ns: &str, name: &str, vmi: &str, phase: &str, since: &str) -> serde_json::Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": {"name": name, "namespace": ns}, "spec": {"vmiName": vmi},
        "status": {"phase": phase, "phaseTransitionTimestamps": [{"phase": phase, "phaseTransitionTimestamp": since}]}})
}

#[tokio::test]
async fn stuck_migrations_and_missing_classes_on_real_objects() {
    let ns = namespace("newrules").await;
    let long_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(10)).to_string();
    let just_now = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5)).to_string();
    create(json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "db", "namespace": ns},
        "spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "1Gi"}}}}}))
    .await;
    // Pending for 10h, its VMI present, nothing running ahead of it (a Pending migration holds no
    // slot): stuck, proven.
    create(vmim(&ns, "db-mig", "db", "Pending", &long_ago)).await;
    // Its VMI is gone: stuck, proven.
    create(vmim(&ns, "ghost-mig", "gone-vmi", "Pending", &long_ago)).await;
    // Near-misses: finished long ago; pending for 5 minutes.
    create(vmim(&ns, "done-mig", "db", "Succeeded", &long_ago)).await;
    create(vmim(&ns, "young-mig", "db", "Pending", &just_now)).await;
    // An unbound PVC on a class that does not exist, and one on a class that does.
    create(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": format!("{ns}-real")}, "provisioner": "driver.longhorn.io"}))
    .await;
    for (name, class) in [("lost", format!("{ns}-missing")), ("fine", format!("{ns}-real"))] {
        create(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"storageClassName": class, "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}))
        .await;
    }

    let report = run(&ns).await;
    assert!(!report.summary.incomplete, "{:?}", report.incomplete);
    let of = |rule: &str| -> Vec<&harvester_hygiene::rules::Finding> {
        report.findings.iter().filter(|f| f.rule == rule).collect()
    };
    let mut stuck: Vec<&str> = of("migration-stuck").iter().map(|f| f.object.name.as_str()).collect();
    stuck.sort();
    assert_eq!(stuck, ["db-mig", "ghost-mig"], "{:#?}", report.findings);
    for f in of("migration-stuck") {
        assert_eq!(f.confidence, Confidence::Proven, "{f:?}");
        assert!(f.object.uid.is_some(), "the finding names the live object");
    }
    let ghost = of("migration-stuck")
        .into_iter()
        .find(|f| f.object.name == "ghost-mig")
        .unwrap();
    assert!(
        ghost.evidence.iter().any(|e| e == "vmi-missing:gone-vmi"),
        "{:?}",
        ghost.evidence
    );
    let missing: Vec<&str> = of("storageclass-missing")
        .iter()
        .map(|f| f.object.name.as_str())
        .collect();
    assert_eq!(missing, ["lost"], "{:#?}", report.findings);
}

/// Scan the whole cluster for `rules`, with the clock `ahead` in the future (the apiserver sets
/// creation times to now; grace periods are measured against the scan's clock).
async fn run_rules(rules: &[&str], ahead: jiff::SignedDuration) -> harvester_hygiene::report::Report {
    scan(&ScanOptions {
        input: Input::Live(LiveOptions {
            kubeconfig: Some(common::kubeconfig().to_path_buf()),
            page_size: 50,
            ..Default::default()
        }),
        namespace: None,
        harvester_version: Some("v1.6.1".into()),
        rules: rules.iter().map(|r| r.to_string()).collect(),
        config: Default::default(),
        now: Some(jiff::Timestamp::now() + ahead),
        openstack: None,
        limits: Default::default(),
        target_version: None,
    })
    .await
    .expect("scan")
}

#[tokio::test]
async fn longhorn_orphans_and_volumes_without_pv_on_real_objects() {
    common::ensure_namespace("longhorn-system").await;
    let id = common::unique("lod");
    let lh = |kind: &str, name: &str, body: serde_json::Value| {
        let mut o = json!({"apiVersion": "longhorn.io/v1beta2", "kind": kind,
            "metadata": {"name": name, "namespace": "longhorn-system"}});
        if let (Some(o), Some(b)) = (o.as_object_mut(), body.as_object()) {
            o.extend(b.clone());
        }
        o
    };
    let orphan = |name: &str, data: &str| {
        lh(
            "Orphan",
            name,
            json!({"spec": {"nodeID": "node-2", "orphanType": "replica",
            "parameters": {"DataName": data, "DiskName": "disk-1", "DiskPath": "/var/lib/harvester/defaultdisk",
                           "DiskUUID": "0f3e", "DiskType": "filesystem"}},
            "status": {"ownerID": "node-2", "conditions": [{"type": "DataCleanable", "status": "True",
                "lastProbeTime": "", "lastTransitionTime": "", "message": "", "reason": ""}]}}),
        )
    };
    let volume = |name: &str, status: serde_json::Value| {
        lh(
            "Volume",
            name,
            json!({"spec": {"size": "2147483648", "numberOfReplicas": 2}, "status": status}),
        )
    };
    // Data of a deleted volume; an old replica of a living one.
    create(orphan(&format!("{id}-gone"), &format!("{id}-dead-0a1b2c3d"))).await;
    create(orphan(&format!("{id}-spare"), &format!("{id}-vol-11223344"))).await;
    // A volume no PV names, one a PV names, and a standby DR volume (near-misses: the last two).
    create(volume(
        &format!("{id}-vol"),
        json!({"state": "detached", "robustness": "unknown"}),
    ))
    .await;
    create(volume(
        &format!("{id}-named"),
        json!({"state": "detached", "robustness": "unknown"}),
    ))
    .await;
    create(lh(
        "Volume",
        &format!("{id}-dr"),
        json!({"spec": {"size": "1", "Standby": true},
        "status": {"state": "detached"}}),
    ))
    .await;
    create(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": format!("{id}-pv")},
        "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain",
                 "csi": {"driver": "driver.longhorn.io", "volumeHandle": format!("{id}-named")}}}),
    )
    .await;
    // Longhorn's setting, next to Harvester's Setting of the same kind name.
    let setting = json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Setting",
        "metadata": {"name": "orphan-auto-deletion", "namespace": "longhorn-system"}, "value": "false"});
    if common::get(
        "longhorn.io/v1beta2",
        "Setting",
        Some("longhorn-system"),
        "orphan-auto-deletion",
    )
    .await
    .is_none()
    {
        create(setting).await;
    }

    let report = run_rules(&["longhorn-orphaned-data"], jiff::SignedDuration::from_hours(48)).await;
    assert!(!report.summary.incomplete, "{:?}", report.incomplete);
    let mine: Vec<&harvester_hygiene::rules::Finding> = report
        .findings
        .iter()
        .filter(|f| f.rule == "longhorn-orphaned-data" && f.object.name.starts_with(&id))
        .collect();
    let mut names: Vec<&str> = mine.iter().map(|f| f.object.name.as_str()).collect();
    names.sort_unstable();
    let want = [format!("{id}-gone"), format!("{id}-spare"), format!("{id}-vol")];
    assert_eq!(
        names,
        want.iter().map(String::as_str).collect::<Vec<_>>(),
        "{:#?}",
        report.findings
    );
    let by = |n: &str| mine.iter().find(|f| f.object.name == n).unwrap();
    let gone = by(&want[0]);
    assert!(gone.object.uid.is_some());
    assert!(
        gone.evidence.iter().any(|e| *e == format!("volume-gone:{id}-dead")),
        "{:?}",
        gone.evidence
    );
    assert!(
        gone.evidence.iter().any(|e| e == "auto-deletion:off"),
        "{:?}",
        gone.evidence
    );
    assert!(
        by(&want[1])
            .evidence
            .iter()
            .any(|e| *e == format!("volume-exists:{id}-vol"))
    );
    let vol = by(&want[2]);
    assert_eq!(vol.confidence, Confidence::Proven);
    assert_eq!(vol.reclaimable_bytes, Some(2 * 2_147_483_648));
}

#[tokio::test]
async fn image_stuck_and_backup_failed_on_real_objects() {
    let ns = namespace("stuckbk").await;
    common::ensure_namespace("longhorn-system").await;
    let id = common::unique("bi");
    // An image whose import failed for good.
    create(
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": "broken", "namespace": ns},
        "spec": {"displayName": "broken", "sourceType": "download", "url": "https://example.invalid/a.img", "retry": 3},
        "status": {"conditions": [{"type": "RetryLimitExceeded", "status": "True", "message": "404 Not Found"}]}}),
    )
    .await;
    // Near-miss: imported.
    create(
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": "fine", "namespace": ns},
        "spec": {"displayName": "fine", "sourceType": "download", "url": "https://example.invalid/b.img"},
        "status": {"progress": 100, "conditions": [{"type": "Imported", "status": "True"}]}}),
    )
    .await;
    // A BackingImage whose image is gone (its id names an image that does not exist).
    create(json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackingImage",
        "metadata": {"name": format!("{id}-left"), "namespace": "longhorn-system",
                     "annotations": {"harvesterhci.io/imageId": format!("{ns}/deleted-image")}},
        "spec": {"sourceType": "download", "sourceParameters": {"url": "https://example.invalid/c.img"}}}))
    .await;
    // A failed backup, and a ready one (near-miss).
    let backup = |name: &str, status: serde_json::Value| {
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "db"}, "type": "backup"},
            "status": status})
    };
    // The CRD has no status subresource and requires `status.source` (the VM as it was).
    let source = json!({"metadata": {"name": "db"}, "spec": {"template": {"spec": {"domain": {"devices": {}}}}}});
    create(backup(
        "nightly",
        json!({"source": source, "readyToUse": false,
        "error": {"message": "backup target unreachable"}}),
    ))
    .await;
    create(backup("ok", json!({"source": source, "readyToUse": true}))).await;

    let report = run_rules(&["image-stuck", "backup-failed"], jiff::SignedDuration::from_hours(1)).await;
    assert!(!report.summary.incomplete, "{:?}", report.incomplete);
    let names = |rule: &str| -> Vec<String> {
        let mut v: Vec<String> = report
            .findings
            .iter()
            .filter(|f| {
                f.rule == rule && (f.object.namespace.as_deref() == Some(ns.as_str()) || f.object.name.starts_with(&id))
            })
            .map(|f| f.object.name.clone())
            .collect();
        v.sort();
        v
    };
    let mut want = vec!["broken".to_string(), format!("{id}-left")];
    want.sort();
    assert_eq!(names("image-stuck"), want, "{:#?}", report.findings);
    assert_eq!(names("backup-failed"), ["nightly"], "{:#?}", report.findings);
    let failed = report
        .findings
        .iter()
        .find(|f| f.rule == "backup-failed" && f.object.name == "nightly")
        .unwrap();
    assert!(failed.message.contains("backup target unreachable"));
    assert!(failed.object.uid.is_some());
}
