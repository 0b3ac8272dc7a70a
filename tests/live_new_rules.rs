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
