//! `--rancher-kubeconfig` on two real apiservers: the Harvester test bed, and a second one playing
//! Rancher's local cluster with the provisioning.cattle.io Cluster and rke-machine.cattle.io
//! HarvesterMachine CRDs as Rancher builds them (scripts/build-rancher-crds.sh). The second
//! apiserver also plays the living guest cluster whose PersistentVolumes are read
//! (`--guest-kubeconfig alive=...`): PersistentVolumes are core objects, any apiserver holds them.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::{create, namespace};
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

/// The second apiserver's kubeconfig.
fn rancher_kubeconfig() -> &'static PathBuf {
    static KC: OnceLock<PathBuf> = OnceLock::new();
    KC.get_or_init(|| {
        let repo = common::repo();
        let crds = Command::new("bash")
            .arg(repo.join("scripts/build-rancher-crds.sh"))
            .output()
            .expect("build-rancher-crds.sh");
        assert!(crds.status.success(), "{}", String::from_utf8_lossy(&crds.stderr));
        let crd_dir = String::from_utf8_lossy(&crds.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        let dir = std::env::temp_dir().join(format!("hh-rancher-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(repo.join("scripts/apiserver.sh"))
            .arg("start")
            .arg(&dir)
            .arg(std::process::id().to_string())
            .env("HH_CRD_DIR", &crd_dir)
            .output()
            .expect("apiserver.sh");
        assert!(
            out.status.success(),
            "second apiserver: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .lines()
                .last()
                .unwrap_or_default(),
        )
    })
}

async fn rancher_client() -> Client {
    let kc = Kubeconfig::read_from(rancher_kubeconfig()).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    harvester_hygiene::install_crypto_provider();
    Client::try_from(cfg).expect("client")
}

async fn send(c: &Client, method: &str, url: &str, body: &Value) -> Value {
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .unwrap();
    c.request::<Value>(req)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Create on the Rancher apiserver, then write `status` through the subresource.
async fn rancher_create(path: &str, obj: Value) -> Value {
    let c = rancher_client().await;
    let mut body = obj.clone();
    if let Some(m) = body.as_object_mut() {
        m.remove("status");
    }
    let created = send(&c, "POST", path, &body).await;
    if let Some(status) = obj.get("status") {
        let mut with = created.clone();
        with["status"] = status.clone();
        let name = created["metadata"]["name"].as_str().unwrap();
        send(&c, "PUT", &format!("{path}/{name}/status"), &with).await;
    }
    created
}

async fn ensure_rancher_namespace(name: &str) {
    let c = rancher_client().await;
    let req = http::Request::builder()
        .method("POST")
        .uri("/api/v1/namespaces")
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})).unwrap(),
        )
        .unwrap();
    let _ = c.request::<Value>(req).await;
}

fn pvc_and_volume(ns: &str, pvc: &str, last_vm: &str) -> (Value, Value) {
    let pv = common::unique("pv");
    (
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": pvc, "namespace": ns, "creationTimestamp": null},
            "spec": {"accessModes": ["ReadWriteMany"], "volumeMode": "Block", "storageClassName": "harvester-longhorn",
                     "volumeName": pv, "resources": {"requests": {"storage": "10Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}}}),
        json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Volume",
            "metadata": {"name": pv, "namespace": "longhorn-system"},
            "spec": {"size": "10737418240", "numberOfReplicas": 3, "frontend": "blockdev", "accessMode": "rwx"},
            "status": {"state": "detached", "kubernetesStatus": {
                "lastPodRefAt": "2026-01-02T03:04:05Z", "namespace": ns, "pvcName": pvc,
                "workloadsStatus": [{"podName": format!("virt-launcher-{last_vm}-abcde"), "podStatus": "Succeeded",
                                     "workloadName": last_vm, "workloadType": "VirtualMachineInstance"}]}}}),
    )
}

fn scan(ns: &str, extra: &[&str]) -> Value {
    scan_rule(ns, "orphaned-guest-pvc", extra)
}

fn scan_rule(ns: &str, rule: &str, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args(["scan", "-n", ns, "--rules", rule, "-o", "json"])
        .args(extra)
        .env("KUBECONFIG", common::kubeconfig())
        .env("NO_COLOR", "1")
        .output()
        .expect("plugin");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn of<'a>(r: &'a Value, name: &str) -> Option<&'a Value> {
    r["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["object"]["name"] == name))
}

/// The RoleBinding Harvester's kubeconfig endpoint makes for a guest cluster's ServiceAccount
/// (harvester/harvester `pkg/api/kubeconfig/generate_handler.go`, named `<ns>-<sa>`).
async fn cloudprovider_binding(ns: &str, sa: &str) {
    create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": format!("{ns}-{sa}"), "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "harvesterhci.io:cloudprovider"},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]}))
    .await;
}

fn has(f: &Value, e: &str) -> bool {
    f["evidence"].as_array().is_some_and(|a| a.iter().any(|x| x == e))
}

#[tokio::test]
async fn rancher_proves_orphans_and_protects_living_guest_volumes() {
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("rke2").await;
    let alive = common::unique("alive");
    let gone = common::unique("gone");
    let alive_vm = format!("{alive}-pool1-7d9f8-x2k4q");

    // Harvester: a living node VM of `alive`, the credentials of both clusters, and three
    // detached guest volumes.
    create(json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": alive_vm, "namespace": ns, "labels": {
            "guestcluster.harvesterhci.io/name": alive, "harvesterhci.io/creator": "docker-machine-driver-harvester"}},
        "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}, "resources": {"limits": {"cpu": "2", "memory": "4Gi"}}}}}}}))
    .await;
    for sa in [&alive, &gone] {
        cloudprovider_binding(&ns, sa).await;
    }
    // Of the deleted cluster: its last VM is gone.
    let orphan = format!("pvc-{}", common::uuid());
    // Of the living cluster: its guest PV still names it (a node was replaced, the volume waits).
    let in_use = format!("pvc-{}", common::uuid());
    // Of the living cluster, but no guest PV names it any more.
    let stray = format!("pvc-{}", common::uuid());
    for (pvc, vm) in [
        (&orphan, format!("{gone}-pool1-5c6b7-q8w9e")),
        (&in_use, format!("{alive}-pool1-7d9f8-old01")),
        (&stray, format!("{alive}-pool1-7d9f8-old02")),
    ] {
        let (p, v) = pvc_and_volume(&ns, pvc, &vm);
        create(p).await;
        create(v).await;
    }

    // Without Rancher: a living guest VM is in the namespace, so nothing is better than possible.
    let r = scan(&ns, &[]);
    for pvc in [&orphan, &in_use, &stray] {
        let f = of(&r, pvc).unwrap_or_else(|| panic!("{pvc}: {r:#}"));
        assert_eq!(f["confidence"], "possible", "{f:#}");
    }

    // Rancher: `alive` exists with its machine; `gone` is unknown to it.
    ensure_rancher_namespace("fleet-default").await;
    rancher_create(
        "/apis/provisioning.cattle.io/v1/namespaces/fleet-default/clusters",
        json!({"apiVersion": "provisioning.cattle.io/v1", "kind": "Cluster",
            "metadata": {"name": alive, "namespace": "fleet-default"},
            "spec": {"kubernetesVersion": "v1.30.4+rke2r1", "cloudCredentialSecretName": "cattle-global-data:cc-harvester"},
            "status": {"clusterName": "c-m-abcd1234", "ready": true, "observedGeneration": 1}}),
    )
    .await;
    rancher_create(
        "/apis/rke-machine.cattle.io/v1/namespaces/fleet-default/harvestermachines",
        json!({"apiVersion": "rke-machine.cattle.io/v1", "kind": "HarvesterMachine",
            "metadata": {"name": alive_vm, "namespace": "fleet-default", "labels": {"cluster.x-k8s.io/cluster-name": alive}},
            "spec": {"vmNamespace": ns, "cpuCount": "2", "memorySize": "4", "diskSize": "40", "imageName": "default/ubuntu", "networkName": "default/vlan1"},
            "status": {"ready": true}}),
    )
    .await;
    // The living guest cluster's PV for `in_use`.
    let c = rancher_client().await;
    send(&c, "POST", "/api/v1/persistentvolumes", &json!({"apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": in_use},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete",
                 "storageClassName": "harvester", "volumeMode": "Filesystem",
                 "csi": {"driver": "driver.harvesterhci.io", "volumeHandle": in_use, "fsType": "ext4"}}})).await;

    let rkc = rancher_kubeconfig().to_str().unwrap().to_string();
    let guest = format!("{alive}={rkc}");
    let r = scan(&ns, &["--rancher-kubeconfig", &rkc, "--guest-kubeconfig", &guest]);
    let f = of(&r, &orphan).unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(f["confidence"], "proven", "{f:#}");
    assert_eq!(f["severity"], "warning");
    assert!(has(f, &format!("rancher-cluster-gone:{gone}")), "{f:#}");
    assert!(f["message"].as_str().unwrap().contains("no longer knows cluster"));
    assert!(
        of(&r, &in_use).is_none(),
        "a volume a living guest PV names is never an orphan: {r:#}"
    );
    let f = of(&r, &stray).unwrap_or_else(|| panic!("{r:#}"));
    assert!(has(f, &format!("rancher-cluster-alive:{alive}")), "{f:#}");
    assert_ne!(f["confidence"], "proven");
    assert_eq!(r["summary"]["incomplete"], false);

    // Guest PVs not readable (no guest kubeconfig, not Rancher's proxy): the living cluster's
    // volumes stay possible, and `in_use` is reported as before (nothing proves it in use).
    let r = scan(&ns, &["--rancher-kubeconfig", &rkc]);
    assert_eq!(of(&r, &orphan).map(|f| f["confidence"].clone()), Some(json!("proven")));
    let f = of(&r, &in_use).unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(f["confidence"], "possible");

    // Rancher unreachable: said, never concluded, exit code 3.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("kc");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: x, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args([
            "scan",
            "-n",
            &ns,
            "--rules",
            "orphaned-guest-pvc",
            "-o",
            "json",
            "--rancher-kubeconfig",
        ])
        .arg(&bad)
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = of(&r, &orphan).unwrap();
    assert_eq!(f["confidence"], "possible");
    assert!(has(f, "rancher-unchecked"));
    assert!(
        r["incomplete"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["kind"] == "Cluster" && g["reason"] == "failed")
    );
}

/// `guest-cluster-leftovers` with Rancher's word: credentials of a cluster Rancher does not
/// know are proven leftovers; a cluster Rancher still has (no VM right now: scaled to zero, or
/// its machines being replaced) is not reported at all.
#[tokio::test]
async fn rancher_settles_guest_cluster_leftovers() {
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("rke2").await;
    let gone = common::unique("gone");
    let paused = common::unique("paused");
    for sa in [&gone, &paused] {
        create(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns}})).await;
        cloudprovider_binding(&ns, sa).await;
        // The evidence that the cluster has no living VM: a detached volume whose last VM is gone.
        let (p, v) = pvc_and_volume(
            &ns,
            &format!("pvc-{}", common::uuid()),
            &format!("{sa}-pool1-5c6b7-q8w9e"),
        );
        create(p).await;
        create(v).await;
    }
    let rule = "guest-cluster-leftovers";
    let r = scan_rule(&ns, rule, &[]);
    for sa in [&gone, &paused] {
        let f = of(&r, sa).unwrap_or_else(|| panic!("{sa}: {r:#}"));
        assert_eq!(f["severity"], "error", "{f:#}");
        assert_eq!(f["confidence"], "likely", "{f:#}");
    }

    ensure_rancher_namespace("fleet-default").await;
    rancher_create(
        "/apis/provisioning.cattle.io/v1/namespaces/fleet-default/clusters",
        json!({"apiVersion": "provisioning.cattle.io/v1", "kind": "Cluster",
            "metadata": {"name": paused, "namespace": "fleet-default"},
            "spec": {"kubernetesVersion": "v1.30.4+rke2r1", "cloudCredentialSecretName": "cattle-global-data:cc-harvester"},
            "status": {"clusterName": "c-m-paused01", "ready": false, "observedGeneration": 1}}),
    )
    .await;
    let rkc = rancher_kubeconfig().to_str().unwrap().to_string();
    let r = scan_rule(&ns, rule, &["--rancher-kubeconfig", &rkc]);
    let f = of(&r, &gone).unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(f["confidence"], "proven", "{f:#}");
    assert!(has(f, &format!("rancher-cluster-gone:{gone}")), "{f:#}");
    assert!(
        f["message"].as_str().unwrap().contains("Rancher has no cluster"),
        "{f:#}"
    );
    assert!(of(&r, &paused).is_none(), "Rancher still has {paused}: {r:#}");
    assert!(
        r.to_string()
            .contains(&format!("Rancher still has cluster fleet-default/{paused}")),
        "{r:#}"
    );
}
