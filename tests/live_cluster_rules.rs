//! The VM, quota, orphan and import rules against a real kube-apiserver with the real
//! KubeVirt/Longhorn CRDs: objects created as Harvester would have them, status written
//! through the status subresource, the scan through the library and the binary.

mod common;

use common::{create, namespace, plugin, unique};
use harvester_hygiene::inventory::live::LiveOptions;
use harvester_hygiene::scan::{Input, ScanOptions, scan};
use serde_json::{Value, json};

fn vm(ns: &str, name: &str, labels: Value, volumes: Value) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"runStrategy": "Halted", "template": {"spec": {
            "domain": {"devices": {}, "resources": {"limits": {"cpu": "2", "memory": "4Gi"}}},
            "volumes": volumes}}}})
}

async fn run(namespace: Option<&str>, version: &str) -> harvester_hygiene::report::Report {
    scan(&ScanOptions {
        input: Input::Live(LiveOptions {
            kubeconfig: Some(common::kubeconfig().to_path_buf()),
            page_size: 50,
            ..Default::default()
        }),
        namespace: namespace.map(str::to_string),
        harvester_version: Some(version.into()),
        rules: vec![],
        config: Default::default(),
        now: None,
        openstack: None,
        limits: Default::default(),
        target_version: None,
    })
    .await
    .expect("scan")
}

#[tokio::test]
async fn quota_rules_on_real_objects() {
    let ns = namespace("quota").await;
    let long = format!("{}-{}", unique("vm"), "x".repeat(60))
        .chars()
        .take(58)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    assert!(long.len() >= 54);
    create(vm(&ns, &long, json!({}), json!([]))).await;
    create(vm(&ns, "short-name", json!({}), json!([]))).await;
    create(json!({"apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "default-8qv2c", "namespace": ns,
            "labels": {"resourcequota.management.cattle.io/default-resource-quota": "true"},
            "annotations": {
                "harvesterhci.io/migrating-finished-vm": "{\"limits.cpu\":\"2\",\"limits.memory\":\"4Gi\"}",
                "harvesterhci.io/migrating-moving-vm": "{\"limits.cpu\":\"1\"}",
                "harvesterhci.io/migratingScalingResyncNeeded": "true"}},
        "spec": {"hard": {"limits.cpu": "20", "limits.memory": "64Gi"}}}))
    .await;
    create(
        json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": {"name": "moving-vm-mig", "namespace": ns}, "spec": {"vmiName": "moving-vm"},
        "status": {"phase": "Running"}}),
    )
    .await;

    let report = run(Some(&ns), "v1.4.1").await;
    assert!(!report.summary.incomplete, "{:?}", report.incomplete);
    let got: Vec<(String, String)> = report
        .findings
        .iter()
        .map(|f| (f.rule.clone(), f.object.name.clone()))
        .collect();
    assert!(
        got.contains(&("vm-name-breaks-migration".into(), long.clone())),
        "{got:?}"
    );
    assert!(!got.iter().any(|(_, n)| n == "short-name"));
    let stale: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == "migration-annotation-stale")
        .collect();
    assert_eq!(stale.len(), 1, "{stale:#?}");
    assert!(stale[0].message.contains("migrating-finished-vm"));
    // Fixed version: the name is fine.
    let report = run(Some(&ns), "v1.4.2").await;
    assert!(
        report.findings.iter().any(|f| f.rule == "migration-annotation-stale"),
        "the scan still sees the namespace: {:#?}",
        report.findings
    );
    assert!(report.findings.iter().all(|f| f.rule != "vm-name-breaks-migration"));
}

#[tokio::test]
async fn orphaned_guest_pvc_and_openstack_import_on_real_objects() {
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("guests").await;
    let orphan = format!("pvc-{}", common::uuid());
    let hotplugged = format!("pvc-{}", common::uuid());
    for (pvc, pv) in [(&orphan, unique("pv")), (&hotplugged, unique("pv"))] {
        create(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": pvc, "namespace": ns},
            "spec": {"accessModes": ["ReadWriteMany"], "volumeMode": "Block", "storageClassName": "harvester-longhorn",
                     "volumeName": pv, "resources": {"requests": {"storage": "10Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}}}))
        .await;
        create(json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Volume",
            "metadata": {"name": pv, "namespace": "longhorn-system"},
            "spec": {"size": "10737418240", "numberOfReplicas": 3, "frontend": "blockdev", "accessMode": "rwx"},
            "status": {"state": "detached", "kubernetesStatus": {"lastPodRefAt": "2026-01-02T03:04:05Z", "namespace": ns, "pvcName": pvc}}}))
        .await;
    }
    // A plain VM that hot-plugs one of them; no guest-cluster VM remains here.
    create(vm(
        &ns,
        "tools",
        json!({}),
        json!([{"name": "hp", "persistentVolumeClaim": {"claimName": hotplugged, "hotpluggable": true}}]),
    ))
    .await;

    // A failed OpenStack import.
    create(json!({"apiVersion": "migration.harvesterhci.io/v1beta1", "kind": "VirtualMachineImport",
        "metadata": {"name": "web01", "namespace": ns},
        "spec": {"virtualMachineName": "web01", "sourceCluster": {"kind": "OpenstackSource", "name": "devstack", "namespace": ns}},
        "status": {"importStatus": "VMMigrationFailed", "importConditions": [
            {"type": "VMPoweredOff", "status": "True", "lastTransitionTime": "2026-03-01T10:00:00Z"},
            {"type": "VMExportFailed", "status": "True", "lastTransitionTime": "2026-03-01T11:00:00Z", "message": "error exporting VM: timeout"}]}}))
    .await;

    let report = run(None, "v1.4.1").await;
    let ours: Vec<(String, String)> = report
        .findings
        .iter()
        .filter(|f| f.object.namespace.as_deref() == Some(ns.as_str()))
        .map(|f| (f.rule.clone(), f.object.name.clone()))
        .collect();
    assert!(
        ours.contains(&("orphaned-guest-pvc".into(), orphan.clone())),
        "{ours:?}\n{:?}",
        report.rules
    );
    assert!(!ours.iter().any(|(_, n)| n == &hotplugged), "{ours:?}");
    assert!(
        ours.contains(&("import-openstack-leak".into(), "web01".into())),
        "{ours:?}"
    );

    // Through the binary, -n and JSON.
    let out = plugin(&[
        "scan",
        "-n",
        &ns,
        "--harvester-version",
        "v1.4.1",
        "-o",
        "json",
        "--rules",
        "import-openstack-leak",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["findings"][0]["rule"], "import-openstack-leak", "{doc}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning does not fail the default --fail-on error"
    );
}
