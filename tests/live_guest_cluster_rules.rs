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
        target_version: None,
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

/// A VM disk PVC `name` bound to a PV (reclaimPolicy Delete) and its Longhorn volume, detached
/// since 2026-01-02, its history naming the VMI `vm`. Returns the PV's name.
async fn vm_disk(ns: &str, name: &str, vm: &str, annotations: Value) -> String {
    let pv = common::unique("pv");
    create(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany"], "volumeMode": "Block",
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "harvester-longhorn",
                 "csi": {"driver": "driver.longhorn.io", "volumeHandle": pv},
                 "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": name}}}),
    )
    .await;
    create(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "spec": {"accessModes": ["ReadWriteMany"], "volumeMode": "Block", "storageClassName": "harvester-longhorn",
                 "volumeName": pv, "resources": {"requests": {"storage": "10Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}}}))
    .await;
    create(lh_volume(&pv, ns, name, vm, "2026-01-02T03:04:05Z")).await;
    pv
}

fn kubectl(args: &[&str]) -> Value {
    let out = std::process::Command::new("kubectl")
        .args(args)
        .args(["-o", "json"])
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn fix(args: &[&str]) -> (i32, Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .arg("fix")
        .args(args)
        .args([
            "-o",
            "json",
            "--harvester-version",
            "v1.6.0",
            "--rules",
            "vm-disk-orphaned",
        ])
        .env("KUBECONFIG", common::kubeconfig())
        .env_remove("HH_TEST_KUBECONFIG")
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn actions(doc: &Value) -> Vec<&Value> {
    doc["actions"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn vm_disk_orphaned_plan_dry_run_apply_and_backup() {
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("vmd").await;
    // Disk of deleted VM web (proven), an image-backed disk of deleted VM db (likely).
    let web = "web-disk-0-abcde";
    let web_pv = vm_disk(&ns, web, "web", json!({})).await;
    let db_pv = vm_disk(
        &ns,
        "db-root",
        "db",
        json!({"harvesterhci.io/imageId": "default/ubuntu"}),
    )
    .await;
    // Near-misses: a disk its VM still uses; a disk whose history's VM exists; a guest-cluster
    // CSI volume (orphaned-guest-pvc's).
    vm_disk(&ns, "keep-disk-0-qwert", "keep", json!({})).await;
    create(vm(
        &ns,
        "keep",
        json!({}),
        json!([{"name": "disk-0", "persistentVolumeClaim": {"claimName": "keep-disk-0-qwert"}}]),
    ))
    .await;
    vm_disk(&ns, "spare-disk-0-aaaaa", "stopped", json!({})).await;
    create(vm(&ns, "stopped", json!({}), json!([]))).await;
    vm_disk(&ns, &format!("pvc-{}", common::uuid()), "rke-pool1-x", json!({})).await;

    // The rule.
    let report = run_rules(&["vm-disk-orphaned"], jiff::SignedDuration::from_hours(1)).await;
    let mine: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.rule == "vm-disk-orphaned" && f.object.namespace.as_deref() == Some(ns.as_str()))
        .collect();
    let mut names: Vec<&str> = mine.iter().map(|f| f.object.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["db-root", web], "{:#?}", report.findings);
    let w = mine.iter().find(|f| f.object.name == web).unwrap();
    assert_eq!(w.confidence, Confidence::Proven);
    assert!(w.evidence.iter().any(|e| e == "last-vm-gone:web"), "{:?}", w.evidence);
    assert_eq!(
        mine.iter().find(|f| f.object.name == "db-root").unwrap().confidence,
        Confidence::Likely
    );

    // 1. The plan changes nothing.
    let (code, doc, err) = fix(&["-n", &ns]);
    assert_eq!(code, 0, "{err}");
    let a = actions(&doc);
    assert_eq!(a.len(), 2, "{doc}");
    assert!(a.iter().all(|x| x["status"] == "planned"), "{doc}");
    let web_action = a.iter().find(|x| x["object"]["name"] == web).unwrap();
    assert_eq!(web_action["action"]["persistentVolume"], web_pv.as_str());
    assert_eq!(
        kubectl(&["get", "pv", &web_pv])["spec"]["persistentVolumeReclaimPolicy"],
        "Delete"
    );
    // 2. Server-side dry-run passes and changes nothing.
    let (code, doc, err) = fix(&["-n", &ns, "--dry-run=server"]);
    assert_eq!(code, 0, "{err}");
    assert!(actions(&doc).iter().all(|x| x["status"] == "dry-run-ok"), "{doc}");
    common::assert_live("v1", "PersistentVolumeClaim", Some(&ns), web).await;
    assert_eq!(
        kubectl(&["get", "pv", &web_pv])["spec"]["persistentVolumeReclaimPolicy"],
        "Delete"
    );
    // 3. Apply: the PVs are retained, the PVCs deleted, backups and audit written.
    let backup = tempfile::tempdir().unwrap();
    let bdir = backup.path().join("b");
    let (code, doc, err) = fix(&["-n", &ns, "--apply", "--yes", "--backup-dir", bdir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}\n{doc}");
    assert!(actions(&doc).iter().all(|x| x["status"] == "done"), "{doc}");
    for pv in [&web_pv, &db_pv] {
        assert_eq!(
            kubectl(&["get", "pv", pv])["spec"]["persistentVolumeReclaimPolicy"],
            "Retain"
        );
        assert!(bdir.join(format!("PersistentVolume__{pv}.json")).exists());
    }
    common::wait_gone("v1", "PersistentVolumeClaim", Some(&ns), web).await;
    assert!(bdir.join(format!("PersistentVolumeClaim_{ns}_{web}.json")).exists());
    let audit = std::fs::read_to_string(bdir.join("audit.jsonl")).unwrap();
    assert!(
        audit.lines().any(|l| l.contains("\"done\"") && l.contains(web)),
        "{audit}"
    );
    // The near-misses are untouched.
    for n in ["keep-disk-0-qwert", "spare-disk-0-aaaaa"] {
        common::assert_live("v1", "PersistentVolumeClaim", Some(&ns), n).await;
    }
    // 4. Idempotent.
    let (code, doc, err) = fix(&[
        "-n",
        &ns,
        "--apply",
        "--yes",
        "--backup-dir",
        backup.path().join("b2").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(actions(&doc).is_empty(), "{doc}");
}

#[tokio::test]
async fn vm_disk_changed_or_reattached_is_not_touched() {
    use harvester_hygiene::publish::fingerprint;
    use harvester_hygiene::remedy::{self, ExecOptions, Mode, Status};
    use harvester_hygiene::scan::{gather, judge};
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("vmdg").await;
    let changed = "a-disk-0-11111";
    let used = "b-disk-0-22222";
    let changed_pv = vm_disk(&ns, changed, "a", json!({})).await;
    vm_disk(&ns, used, "b", json!({})).await;
    let opts = ScanOptions {
        input: Input::Live(LiveOptions {
            kubeconfig: Some(common::kubeconfig().to_path_buf()),
            page_size: 100,
            ..Default::default()
        }),
        namespace: Some(ns.clone()),
        harvester_version: Some("v1.6.0".into()),
        rules: vec!["vm-disk-orphaned".into()],
        config: Default::default(),
        now: None,
        openstack: None,
        limits: Default::default(),
        target_version: None,
    };
    let g = gather(&opts).await.unwrap();
    let report = judge(&g.inv, &g.rules, &opts.config, jiff::Timestamp::now(), g.source.clone());
    let planned = remedy::plan(&report.findings, &g.inv);
    assert_eq!(planned.len(), 2, "{:#?}", report.findings);
    // Between plan and apply: one PVC is modified, the other is attached to a new VM.
    let out = std::process::Command::new("kubectl")
        .args(["label", "pvc", changed, "-n", &ns, "touched=yes"])
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success());
    create(vm(
        &ns,
        "b2",
        json!({}),
        json!([{"name": "disk-0", "persistentVolumeClaim": {"claimName": used}}]),
    ))
    .await;
    let g2 = gather(&opts).await.unwrap();
    let r2 = judge(&g2.inv, &g2.rules, &opts.config, jiff::Timestamp::now(), g2.source);
    let fresh: std::collections::BTreeMap<String, _> = r2.findings.into_iter().map(|f| (fingerprint(&f), f)).collect();
    let exec = ExecOptions {
        mode: Mode::Apply,
        include_owned_snapshots: false,
        backup: None,
        openstack_insecure: false,
    };
    let client = g.client.clone().unwrap();
    let results = remedy::execute(&client, planned, &fresh, &exec, &mut |_| true).await;
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(r.status, Status::Skipped, "{r:?}");
    }
    for n in [changed, used] {
        common::assert_live("v1", "PersistentVolumeClaim", Some(&ns), n).await;
    }
    assert_eq!(
        kubectl(&["get", "pv", &changed_pv])["spec"]["persistentVolumeReclaimPolicy"],
        "Delete"
    );
}
