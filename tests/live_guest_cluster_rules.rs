//! `guest-cluster-leftovers` and `vm-disk-orphaned` on the real apiserver with the upstream
//! KubeVirt, Longhorn and harvester-load-balancer CRDs: positives and near-misses each.

mod common;

use common::{create, namespace};
use harvester_hygiene::inventory::live::LiveOptions;
use harvester_hygiene::rules::{Confidence, Finding, Severity};
use harvester_hygiene::scan::{Input, ScanOptions, scan};
use serde_json::{Value, json};

/// Scan the whole cluster for `rules`, the clock `ahead` in the future.
async fn run_rules(rules: &[&str], ahead: jiff::SignedDuration) -> harvester_hygiene::report::Report {
    scan(&ScanOptions {
        input: Input::Live(LiveOptions {
            kubeconfig: Some(common::kubeconfig().to_path_buf()),
            page_size: 50,
            ..Default::default()
        }),
        namespace: None,
        harvester_version: Some("v1.6.0".into()),
        rules: rules.iter().map(|r| r.to_string()).collect(),
        config: Default::default(),
        now: Some(jiff::Timestamp::now() + ahead),
        openstack: None,
        limits: Default::default(),
    })
    .await
    .expect("scan")
}

fn vm(ns: &str, name: &str, labels: Value, volumes: Value) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"runStrategy": "Halted", "template": {"spec": {
            "domain": {"devices": {}, "resources": {"limits": {"cpu": "2", "memory": "4Gi"}}},
            "volumes": volumes}}}})
}

/// A detached Longhorn volume whose history names `vm` (a VMI workload), bound to `ns/pvc`.
fn lh_volume(name: &str, ns: &str, pvc: &str, vm: &str, last: &str) -> Value {
    let workloads = if vm.is_empty() {
        json!([])
    } else {
        json!([{"podName": format!("virt-launcher-{vm}-x7k2p"), "podStatus": "Succeeded",
                "workloadName": vm, "workloadType": "VirtualMachineInstance"}])
    };
    json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Volume",
        "metadata": {"name": name, "namespace": "longhorn-system"},
        "spec": {"size": "10737418240", "numberOfReplicas": 3, "frontend": "blockdev", "accessMode": "rwo"},
        "status": {"state": "detached", "robustness": "unknown", "kubernetesStatus": {
            "lastPodRefAt": last, "namespace": ns, "pvcName": pvc, "pvName": name, "workloadsStatus": workloads}}})
}

fn binding(kind: &str, name: &str, ns: Option<&str>, role: &str, sa_ns: &str, sa: &str) -> Value {
    let mut meta = json!({"name": name});
    if let Some(n) = ns {
        meta["namespace"] = json!(n);
    }
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": sa_ns}]})
}

async fn credentials(ns: &str, sa: &str) {
    create(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns}})).await;
    create(binding(
        "RoleBinding",
        &format!("{ns}-{sa}"),
        Some(ns),
        "harvesterhci.io:cloudprovider",
        ns,
        sa,
    ))
    .await;
    create(binding(
        "ClusterRoleBinding",
        &format!("{ns}-{sa}"),
        None,
        "harvesterhci.io:csi-driver",
        ns,
        sa,
    ))
    .await;
}

fn lb(ns: &str, name: &str, cluster: &str, workload: &str) -> Value {
    json!({"apiVersion": "loadbalancer.harvesterhci.io/v1beta1", "kind": "LoadBalancer",
        "metadata": {"name": name, "namespace": ns, "labels": {"cloudprovider.harvesterhci.io/cluster": cluster}},
        "spec": {"ipam": "pool", "workloadType": workload},
        "status": {"address": "10.9.0.5"}})
}

#[tokio::test]
async fn guest_cluster_leftovers_on_real_objects() {
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("gcl").await;
    // Dead cluster c1: credentials, a Longhorn volume whose history names its deleted VM, a
    // LoadBalancer. Living cluster c2 (a labelled VM): credentials and a LoadBalancer
    // (near-misses). Credentials matching no cluster (near-miss). A VM-type LoadBalancer
    // (near-miss).
    credentials(&ns, "c1").await;
    credentials(&ns, "c2").await;
    credentials(&ns, "tf").await;
    create(vm(
        &ns,
        "c2-pool1-xyz12",
        json!({"harvesterhci.io/creator": "docker-machine-driver-harvester", "guestcluster.harvesterhci.io/name": "c2"}),
        json!([]),
    ))
    .await;
    create(lh_volume(
        &format!("{ns}-v1"),
        &ns,
        "pvc-11111111-2222-3333-4444-555555555555",
        "c1-pool1-abcde",
        "2026-11-01T00:00:00Z",
    ))
    .await;
    create(lb(&ns, "c1-default-nginx-1234abcd", "c1", "cluster")).await;
    create(lb(&ns, "c2-default-web-0badf00d", "c2", "cluster")).await;
    create(lb(&ns, "vm-lb", "c1", "vm")).await;
    // A csi-driver binding of a ServiceAccount that is gone (hashed name), and another role's
    // (near-miss).
    let hashed = format!("{ns}-c0-3f9a1b2c");
    create(binding(
        "ClusterRoleBinding",
        &hashed,
        None,
        "harvesterhci.io:csi-driver",
        &ns,
        "c0",
    ))
    .await;
    create(binding(
        "ClusterRoleBinding",
        &format!("{ns}-c0-view"),
        None,
        "view",
        &ns,
        "c0",
    ))
    .await;
    // IPPool: one allocation to c1's LoadBalancer, one to its deleted one, one to c2's.
    let pool = format!("{ns}-pool");
    create(
        json!({"apiVersion": "loadbalancer.harvesterhci.io/v1beta1", "kind": "IPPool",
        "metadata": {"name": pool},
        "spec": {"ranges": [{"subnet": "10.9.0.0/24"}]},
        "status": {"allocated": {
            "10.9.0.5": format!("{ns}/c1-default-nginx-1234abcd"),
            "10.9.0.6": format!("{ns}/c1-default-web-deadbeef"),
            "10.9.0.7": format!("{ns}/c2-default-web-0badf00d")},
            "lastAllocated": "10.9.0.7", "total": 253, "available": 250}}),
    )
    .await;

    let report = run_rules(&["guest-cluster-leftovers"], jiff::SignedDuration::from_hours(48)).await;
    assert!(!report.summary.incomplete, "{:?}", report.incomplete);
    let mine: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| {
            f.rule == "guest-cluster-leftovers"
                && (f.object.namespace.as_deref() == Some(ns.as_str()) || f.object.name.starts_with(&ns))
        })
        .collect();
    let mut names: Vec<String> = mine
        .iter()
        .map(|f| format!("{}/{}", f.object.kind, f.object.name))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            format!("ClusterRoleBinding/{hashed}"),
            format!("IPPool/{pool}"),
            "LoadBalancer/c1-default-nginx-1234abcd".to_string(),
            "ServiceAccount/c1".to_string(),
        ],
        "{:#?}",
        report.findings
    );
    let by = |k: &str| mine.iter().find(|f| f.object.kind == k).unwrap();
    let creds = by("ServiceAccount");
    assert_eq!(creds.severity, Severity::Error);
    assert_eq!(creds.confidence, Confidence::Likely);
    assert!(creds.object.uid.is_some());
    assert!(
        creds
            .evidence
            .iter()
            .any(|e| *e == format!("clusterrolebinding:{ns}-c1")),
        "{:?}",
        creds.evidence
    );
    assert!(creds.evidence.iter().any(|e| e == "last-vm-gone:c1-pool1-abcde"));
    assert!(
        by("ClusterRoleBinding")
            .evidence
            .iter()
            .any(|e| *e == format!("subject-gone:{ns}/c0"))
    );
    let l = by("LoadBalancer");
    assert_eq!(l.confidence, Confidence::Likely);
    assert!(
        l.evidence
            .iter()
            .any(|e| *e == format!("ippool-allocation:{pool}/10.9.0.5")),
        "{:?}",
        l.evidence
    );
    assert_eq!(
        by("IPPool").evidence,
        [
            format!("stale-allocation:10.9.0.6={ns}/c1-default-web-deadbeef"),
            "dead-cluster:c1".to_string()
        ]
    );
}
