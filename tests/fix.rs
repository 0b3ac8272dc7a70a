//! `fix` against a real kube-apiserver: plan, server-side dry-run, apply, preconditions,
//! re-checks, read-only identities, backups that restore, the audit log, idempotence.
//! There is no kube-controller-manager: a deleted PVC stays Terminating (pvc-protection
//! finalizer), which counts as done.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{create, namespace, unique};
use harvester_hygiene::inventory::live::LiveOptions;
use harvester_hygiene::publish::fingerprint;
use harvester_hygiene::remedy::{self, ExecOptions, Mode, Status};
use harvester_hygiene::scan::{Input, ScanOptions, gather, judge};
use serde_json::{Value, json};

/// A guest PVC (with `labels`) bound to a PV (reclaimPolicy Delete) and its long-detached
/// Longhorn volume, whose `kubernetesStatus` gets `history` merged in. Returns (pvc, pv).
async fn guest_volume(ns: &str, labels: Value, history: Value) -> (String, String) {
    let pvc = format!("pvc-{}", common::uuid());
    let pv = unique("pv");
    create(
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany"], "volumeMode": "Block",
                 "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "harvester-longhorn",
                 "csi": {"driver": "driver.longhorn.io", "volumeHandle": pv},
                 "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": pvc}}}),
    )
    .await;
    create(
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": pvc, "namespace": ns, "labels": labels},
        "spec": {"accessModes": ["ReadWriteMany"], "volumeMode": "Block", "storageClassName": "harvester-longhorn",
                 "volumeName": pv, "resources": {"requests": {"storage": "10Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}}}),
    )
    .await;
    let mut k8s = json!({"lastPodRefAt": "2026-01-02T03:04:05Z"});
    if let (Some(k), Some(h)) = (k8s.as_object_mut(), history.as_object()) {
        k.extend(h.clone());
    }
    create(json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Volume", "metadata": {"name": pv, "namespace": "longhorn-system"},
        "spec": {"size": "10737418240", "numberOfReplicas": 3},
        "status": {"state": "detached", "kubernetesStatus": k8s}}))
    .await;
    (pvc, pv)
}

/// An orphaned guest PVC with no history. Returns (pvc name, pv name).
async fn orphan(ns: &str) -> (String, String) {
    guest_volume(ns, json!({}), json!({})).await
}

/// Rancher's per-namespace quota base, as Rancher writes it on the Namespace.
const BASE: &str = r#"{"limit":{"limitsCpu":"20","limitsMemory":"64Gi"}}"#;

fn rancher_base(ns: &str, base: &str) {
    let out = Command::new("kubectl")
        .args([
            "annotate",
            "namespace",
            ns,
            &format!("field.cattle.io/resourceQuota={base}"),
        ])
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Guest-cluster credentials as harvester's kubeconfig API makes them
/// (pkg/api/kubeconfig/generate_handler.go): a ServiceAccount, a RoleBinding to
/// harvesterhci.io:cloudprovider owned by it, and a ClusterRoleBinding to harvesterhci.io:csi-driver.
async fn credentials(ns: &str, sa: &str) {
    let made =
        create(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns}})).await;
    let owner = json!([{"apiVersion": "v1", "kind": "ServiceAccount", "name": sa, "uid": made["metadata"]["uid"]}]);
    let subjects = json!([{"kind": "ServiceAccount", "name": sa, "namespace": ns}]);
    create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": format!("{ns}-{sa}"), "namespace": ns, "ownerReferences": owner},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "harvesterhci.io:cloudprovider"},
        "subjects": subjects}))
    .await;
    create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": format!("{ns}-{sa}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "harvesterhci.io:csi-driver"},
        "subjects": subjects}))
    .await;
}

/// An orphan like [`orphan`], whose Longhorn volume keeps the history of the guest node VM it
/// was last hot-plugged into (`vm`), as longhorn-manager does after the pods are gone, and
/// whose PVC carries `labels`.
async fn orphan_with_history(ns: &str, vm: &str, labels: Value) -> String {
    let (pvc, pv) = guest_volume(ns, labels, json!({})).await;
    // Longhorn's history names the PVC and the last (hot-plug) pod, whose owner is the VM's
    // launcher pod.
    let history = json!({"namespace": ns, "pvcName": pvc, "pvName": pv, "pvStatus": "Bound",
        "workloadsStatus": [{"podName": "hp-volume-x7k2p", "podStatus": "Succeeded",
            "workloadName": format!("virt-launcher-{vm}-q9z8w"), "workloadType": "Pod"}]});
    let patch = json!({"status": {"kubernetesStatus": history}});
    let out = Command::new("kubectl")
        .args([
            "patch",
            "volumes.longhorn.io",
            &pv,
            "-n",
            "longhorn-system",
            "--subresource",
            "status",
            "--type",
            "merge",
            "-p",
            &patch.to_string(),
        ])
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    pvc
}

#[tokio::test]
async fn fix_plans_orphans_only_on_evidence_of_a_dead_cluster() {
    common::ensure_namespace("longhorn-system").await;
    // A history-only orphan: the volume's last VM is gone and the namespace's credentials are
    // that dead cluster's (named like the VM's prefix).
    let dead = namespace("fixdead").await;
    credentials(&dead, "rke2-old").await;
    let history_only = orphan_with_history(&dead, "rke2-old-pool1-abc12-xyz34", json!({})).await;
    // A CSI-only guest cluster (built without Rancher's node driver): its credentials match no
    // VM we can identify, so its detached volume is never planned.
    // Its nodes are hand-named VMs without labels; the volume was last on a replaced node.
    let csi = namespace("fixcsi").await;
    credentials(&csi, "tf-k8s").await;
    create(json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "k8s-node-1", "namespace": csi},
        "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}}}}}}))
    .await;
    let csi_only = orphan_with_history(&csi, "k8s-node-0", json!({})).await;
    // Proven by its own label, but a living guest-cluster VM shares the namespace: the guard
    // leaves it.
    let shared = namespace("fixshared").await;
    let labelled = orphan_with_history(
        &shared,
        "gone-pool-1",
        json!({"guestcluster.harvesterhci.io/name": "gone"}),
    )
    .await;
    create(json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "alive-pool-1", "namespace": shared,
        "labels": {"guestcluster.harvesterhci.io/name": "alive", "harvesterhci.io/creator": "docker-machine-driver-harvester"}},
        "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}}}}}}))
    .await;

    let (code, doc, err) = fix(&["-n", &dead]);
    assert_eq!(code, 0, "{err}");
    let a = action_for(&doc, &history_only);
    assert_eq!(a["status"], "planned", "{a}");
    assert_eq!(a["action"]["confidence"], "likely", "{a}");
    // The PVC's finding (guest-cluster-leftovers also reports the dead cluster's credentials).
    let of_pvcs = |doc: &serde_json::Value| -> Vec<serde_json::Value> {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "orphaned-guest-pvc")
            .cloned()
            .collect()
    };
    let pvc_findings = of_pvcs(&doc);
    assert_eq!(pvc_findings.len(), 1, "{doc}");
    let f = &pvc_findings[0];
    assert_eq!(f["confidence"], "likely", "{f}");
    assert!(
        f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "last-vm-gone:rke2-old-pool1-abc12-xyz34"),
        "{f}"
    );
    assert_eq!(f["reclaimableBytes"], 3 * 10737418240u64, "{f}");

    let (code, doc, err) = fix(&["-n", &csi]);
    assert_eq!(code, 0, "{err}");
    let findings = of_pvcs(&doc);
    assert_eq!(findings.len(), 1, "{doc}");
    assert_eq!(findings[0]["confidence"], "possible");
    assert_eq!(findings[0]["severity"], "info");
    assert!(
        doc["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["object"]["name"] != csi_only.as_str()),
        "a CSI-only guest cluster's volume is never planned: {doc}"
    );

    let (code, doc, err) = fix(&[
        "-n",
        &shared,
        "--apply",
        "--yes",
        "--backup-dir",
        tempfile::tempdir().unwrap().path().join("b").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let a = action_for(&doc, &labelled);
    assert_eq!(a["status"], "skipped", "{a}");
    assert!(
        a["detail"]
            .as_str()
            .unwrap()
            .contains("living guest-cluster VM (alive-pool-1)"),
        "{a}"
    );
    common::assert_live("v1", "PersistentVolumeClaim", Some(&shared), &labelled).await;

    // Applying the history-only orphan retains its volume and deletes the PVC.
    let (code, doc, err) = fix(&[
        "-n",
        &dead,
        "--apply",
        "--yes",
        "--backup-dir",
        tempfile::tempdir().unwrap().path().join("b").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(action_for(&doc, &history_only)["status"], "done", "{doc}");
}

#[tokio::test]
async fn the_quota_fix_never_writes_below_the_rancher_base() {
    let entry = "{\"limits.cpu\":\"2\",\"limits.memory\":\"4Gi\"}";
    let quota = |ns: &str, cpu: &str, mem: &str| {
        json!({"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "default-q", "namespace": ns,
                "labels": {"resourcequota.management.cattle.io/default-resource-quota": "true"},
                "annotations": {"harvesterhci.io/migrating-gone-vm": entry}},
            "spec": {"hard": {"limits.cpu": cpu, "limits.memory": mem}}})
    };
    // Rancher already reset spec.hard to the base: only the annotation goes.
    let reset = namespace("qreset").await;
    rancher_base(&reset, BASE);
    create(quota(&reset, "20", "64Gi")).await;
    // Someone changed spec.hard: neither base + all nor base + remaining.
    let odd = namespace("qodd").await;
    rancher_base(&odd, BASE);
    create(quota(&odd, "30", "64Gi")).await;
    // No base on a version that raised spec.hard: cannot tell.
    let nobase = namespace("qnobase").await;
    create(quota(&nobase, "22", "68Gi")).await;

    let dir = tempfile::tempdir().unwrap();
    for (i, ns) in [&reset, &odd, &nobase].into_iter().enumerate() {
        let backup = dir.path().join(format!("b{i}"));
        let (code, doc, err) = fix(&["-n", ns, "--apply", "--yes", "--backup-dir", backup.to_str().unwrap()]);
        assert_eq!(code, 0, "{ns}: {err} {doc}");
        let a = action_for(&doc, "default-q");
        let q = kubectl(&["get", "resourcequota", "default-q", "-n", ns]);
        if ns == &reset {
            assert_eq!(a["status"], "done", "{a}");
            assert!(
                q["metadata"]["annotations"]
                    .get("harvesterhci.io/migrating-gone-vm")
                    .is_none(),
                "{q}"
            );
            assert_eq!(q["spec"]["hard"]["limits.cpu"], "20", "left at the base: {q}");
            assert_eq!(q["spec"]["hard"]["limits.memory"], "64Gi", "{q}");
        } else {
            assert_eq!(a["status"], "skipped", "{a}");
            assert!(a["detail"].as_str().unwrap().starts_with("fix by hand"), "{a}");
            assert!(
                q["metadata"]["annotations"]
                    .get("harvesterhci.io/migrating-gone-vm")
                    .is_some(),
                "untouched: {q}"
            );
        }
        if ns == &odd {
            assert!(
                a["detail"]
                    .as_str()
                    .unwrap()
                    .contains("spec.hard 30, base 20, base + all entries 22, base + remaining 20"),
                "{a}"
            );
        }
    }
}

fn kubectl(args: &[&str]) -> Value {
    let out = Command::new("kubectl")
        .args(args)
        .args(["-o", "json"])
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn fix(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .arg("fix")
        .args(args)
        .args(["-o", "json", "--harvester-version", "v1.4.1"])
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

fn action_for<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["actions"]
        .as_array()
        .unwrap_or_else(|| panic!("no actions in {doc}"))
        .iter()
        .find(|a| a["object"]["name"] == name)
        .unwrap_or_else(|| panic!("no action for {name} in {doc}"))
}

#[tokio::test]
async fn plan_dry_run_apply_backup_restore_and_idempotence() {
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("fix").await;
    rancher_base(&ns, BASE);
    let (pvc, pv) = orphan(&ns).await;
    let quota_ann = "harvesterhci.io/migrating-gone-vm";
    create(json!({"apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "default-q", "namespace": ns,
            "labels": {"resourcequota.management.cattle.io/default-resource-quota": "true"},
            "annotations": {quota_ann: "{\"limits.cpu\":\"2\",\"limits.memory\":\"4Gi\"}"}},
        "spec": {"hard": {"limits.cpu": "22", "limits.memory": "68Gi"}}}))
    .await;

    // 1. The default prints the plan and changes nothing.
    let (code, doc, err) = fix(&["-n", &ns]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(action_for(&doc, &pvc)["status"], "planned");
    assert_eq!(action_for(&doc, &pvc)["action"]["persistentVolume"], pv.as_str());
    assert_eq!(action_for(&doc, "default-q")["status"], "planned");
    assert_eq!(
        kubectl(&["get", "pv", &pv])["spec"]["persistentVolumeReclaimPolicy"],
        "Delete"
    );

    // 2. Server-side dry-run passes and still changes nothing.
    let (code, doc, err) = fix(&["-n", &ns, "--dry-run=server"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(action_for(&doc, &pvc)["status"], "dry-run-ok", "{doc}");
    assert_eq!(action_for(&doc, "default-q")["status"], "dry-run-ok", "{doc}");
    common::assert_live("v1", "PersistentVolumeClaim", Some(&ns), &pvc).await;
    assert_eq!(
        kubectl(&["get", "pv", &pv])["spec"]["persistentVolumeReclaimPolicy"],
        "Delete"
    );

    // 3. A read-only identity: the dry run fails clearly, nothing changes.
    let reader = unique("reader");
    create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": reader},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": reader}]}),
    )
    .await;
    create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": format!("{reader}-crds")},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list"]}]}))
    .await;
    create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": format!("{reader}-crds")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("{reader}-crds")},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": reader}]}))
    .await;
    let (code, doc, _) = fix(&["-n", &ns, "--dry-run=server", "--as", &reader]);
    assert_eq!(code, 1, "{doc}");
    let a = action_for(&doc, &pvc);
    assert_eq!(a["status"], "failed");
    assert!(a["detail"].as_str().unwrap().contains("forbidden"), "{a}");
    assert_eq!(
        kubectl(&["get", "pv", &pv])["spec"]["persistentVolumeReclaimPolicy"],
        "Delete"
    );

    // 4. Apply.
    let backup = tempfile::tempdir().unwrap();
    let bdir = backup.path().join("b");
    let (code, doc, err) = fix(&["-n", &ns, "--apply", "--yes", "--backup-dir", bdir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}\n{doc}");
    assert_eq!(action_for(&doc, &pvc)["status"], "done", "{doc}");
    assert_eq!(action_for(&doc, "default-q")["status"], "done", "{doc}");
    let pv_now = kubectl(&["get", "pv", &pv]);
    assert_eq!(
        pv_now["spec"]["persistentVolumeReclaimPolicy"], "Retain",
        "the data is kept"
    );
    assert_eq!(
        pv_now["metadata"]["annotations"]["harvester-hygiene.io/retained-from"],
        format!("{ns}/{pvc}")
    );
    // Deleted: no pod uses it, so the pvc-protection controller lets it go.
    common::wait_gone("v1", "PersistentVolumeClaim", Some(&ns), &pvc).await;
    // The PV binder marks the PV Released, and Retain keeps it (and the Longhorn volume).
    let mut phase = Value::Null;
    for _ in 0..60 {
        phase = kubectl(&["get", "pv", &pv])["status"]["phase"].clone();
        if phase == "Released" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(phase, "Released", "the PV outlives its PVC, Released");
    let q = kubectl(&["get", "resourcequota", "default-q", "-n", &ns]);
    assert!(q["metadata"]["annotations"].get(quota_ann).is_none());
    assert_eq!(q["spec"]["hard"]["limits.cpu"], "20");
    assert_eq!(q["spec"]["hard"]["limits.memory"], "64Gi");

    // Backups and audit log.
    let readme = std::fs::read_to_string(bdir.join("README.md")).unwrap();
    assert!(readme.contains("claimRef"));
    let pvc_backup: Value = serde_json::from_str(
        &std::fs::read_to_string(bdir.join(format!("PersistentVolumeClaim_{ns}_{pvc}.json"))).unwrap(),
    )
    .unwrap();
    assert!(
        pvc_backup["metadata"]["uid"].is_null()
            && pvc_backup["metadata"]["resourceVersion"].is_null()
            && pvc_backup["status"].is_null()
    );
    assert_eq!(pvc_backup["spec"]["volumeName"], pv.as_str());
    assert!(bdir.join(format!("PersistentVolume__{pv}.json")).exists());
    assert!(bdir.join(format!("ResourceQuota_{ns}_default-q.json")).exists());
    let audit = std::fs::read_to_string(bdir.join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        lines
            .iter()
            .any(|l| l["status"] == "done" && l["object"]["name"] == pvc.as_str())
    );
    assert!(
        lines
            .iter()
            .any(|l| l["before"] == "PersistentVolumeClaim" && l["sha256"].as_str().is_some_and(|s| s.len() == 64))
    );

    // 5. Idempotent: a second run finds nothing left to do.
    let (code, doc, err) = fix(&[
        "-n",
        &ns,
        "--apply",
        "--yes",
        "--backup-dir",
        backup.path().join("b2").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(doc["actions"].as_array().unwrap().is_empty(), "{doc}");

    // 6. The backup restores: free the PV as the README says (the binder marked it Released
    // when its PVC went), and create the PVC from its backup.
    let out = Command::new("kubectl")
        .args([
            "patch",
            "pv",
            &pv,
            "--type",
            "json",
            "-p",
            r#"[{"op":"remove","path":"/spec/claimRef"}]"#,
        ])
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new("kubectl")
        .args(["create", "-f"])
        .arg(bdir.join(format!("PersistentVolumeClaim_{ns}_{pvc}.json")))
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        kubectl(&["get", "pvc", &pvc, "-n", &ns])["spec"]["volumeName"],
        pv.as_str()
    );
    // The PV binder binds the restored PVC to its volume again.
    let mut phase = Value::Null;
    for _ in 0..120 {
        phase = kubectl(&["get", "pvc", &pvc, "-n", &ns])["status"]["phase"].clone();
        if phase == "Bound" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(phase, "Bound", "the restored PVC binds to {pv}");
}

async fn live_opts(ns: &str) -> ScanOptions {
    ScanOptions {
        input: Input::Live(LiveOptions {
            kubeconfig: Some(common::kubeconfig().to_path_buf()),
            page_size: 100,
            ..Default::default()
        }),
        namespace: Some(ns.to_string()),
        harvester_version: Some("v1.6.1".into()),
        rules: vec!["orphaned-guest-pvc".into()],
        config: Default::default(),
        now: None,
        openstack: None,
        limits: Default::default(),
        target_version: None,
    }
}

#[tokio::test]
async fn changed_or_newly_used_pvcs_are_not_touched() {
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("fixguard").await;
    let (changed, _) = orphan(&ns).await;
    let (used, _) = orphan(&ns).await;
    let (raced, raced_pv) = orphan(&ns).await;
    let opts = live_opts(&ns).await;
    let g = gather(&opts).await.unwrap();
    let report = judge(&g.inv, &g.rules, &opts.config, jiff::Timestamp::now(), g.source.clone());
    let actions = remedy::plan(&report.findings, &g.inv);
    assert_eq!(actions.len(), 3, "{:#?}", report.findings);
    let client = g.client.clone().unwrap();

    // Between plan and apply: one PVC is modified, one gains a pod.
    let out = Command::new("kubectl")
        .args(["label", "pvc", &changed, "-n", &ns, "touched=yes"])
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success());
    create(
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user", "namespace": ns},
        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                 "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": used}}]}}),
    )
    .await;
    // The re-check scan sees both.
    let g2 = gather(&opts).await.unwrap();
    let r2 = judge(&g2.inv, &g2.rules, &opts.config, jiff::Timestamp::now(), g2.source);
    let mut fresh: BTreeMap<String, _> = r2.findings.into_iter().map(|f| (fingerprint(&f), f)).collect();
    // A third changes after the re-check, just before the delete: the precondition stops it.
    let raced_action = actions.iter().find(|a| a.object.name == raced).unwrap().clone();
    let out = Command::new("kubectl")
        .args(["annotate", "pvc", &raced, "-n", &ns, "late=change"])
        .env("KUBECONFIG", common::kubeconfig())
        .output()
        .unwrap();
    assert!(out.status.success());
    // (Pretend the re-check saw the old version, to reach the API precondition.)
    fresh.insert(
        raced_action.fingerprint.clone(),
        report.findings.iter().find(|f| f.object.name == raced).unwrap().clone(),
    );

    let exec = ExecOptions {
        mode: Mode::Apply,
        include_owned_snapshots: false,
        backup: None,
        openstack_insecure: false,
    };
    let results = remedy::execute(&client, actions, &fresh, &exec, &mut |_| true).await;
    let by_name: BTreeMap<&str, &remedy::ActionResult> =
        results.iter().map(|r| (r.action.object.name.as_str(), r)).collect();
    assert_eq!(
        by_name[changed.as_str()].status,
        Status::Skipped,
        "{:?}",
        by_name[changed.as_str()]
    );
    assert!(by_name[changed.as_str()].detail.contains("changed"));
    assert_eq!(by_name[used.as_str()].status, Status::Skipped);
    assert!(by_name[used.as_str()].detail.contains("no longer a finding"));
    assert_eq!(
        by_name[raced.as_str()].status,
        Status::Skipped,
        "{:?}",
        by_name[raced.as_str()]
    );
    for name in [&changed, &used, &raced] {
        common::assert_live("v1", "PersistentVolumeClaim", Some(&ns), name).await;
    }
    // The raced PVC's PV was not retained either: its PVC check failed before.
    assert_eq!(
        kubectl(&["get", "pv", &raced_pv])["spec"]["persistentVolumeReclaimPolicy"],
        "Delete"
    );
}

/// `--purge-retained-older-than`: only PVs this tool retained, long enough ago, whose claim is
/// gone; plan, server dry-run, then apply sets them back to `Delete`. What happens next is not
/// shown here: deleting a Released PV's data (the Longhorn volume) is the job of Longhorn's CSI
/// provisioner (the external-provisioner sidecar deletes the volume once the PV binder hands a
/// Released `Delete` PV over), and no provisioner runs in the test bed, so the test stops at
/// the reclaim policy.
#[tokio::test]
async fn purge_retained_pvs_is_a_separate_explicit_step() {
    let ns = namespace("purge").await;
    let pv = |name: &str, retained_at: Option<&str>, claim: &str| {
        let mut ann = serde_json::Map::new();
        if let Some(t) = retained_at {
            ann.insert("harvester-hygiene.io/retained-at".into(), json!(t));
            ann.insert(
                "harvester-hygiene.io/retained-from".into(),
                json!(format!("{ns}/{claim}")),
            );
        }
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "annotations": ann},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
                     "csi": {"driver": "driver.longhorn.io", "volumeHandle": name},
                     "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": claim}}})
    };
    let old = unique("pv-old");
    let recent = unique("pv-recent");
    let reclaimed = unique("pv-claimed");
    let foreign = unique("pv-foreign");
    let recent_time = jiff::Timestamp::now().to_string();
    create(pv(&old, Some("2026-01-01T00:00:00Z"), "pvc-gone")).await;
    create(pv(&recent, Some(&recent_time), "pvc-gone-2")).await;
    create(pv(&reclaimed, Some("2026-01-01T00:00:00Z"), "pvc-back")).await;
    create(pv(&foreign, None, "pvc-gone-3")).await;
    // Retained from a PVC of another namespace: -n must leave it (it lists PVs cluster-wide).
    let elsewhere = unique("pv-elsewhere");
    let mut other = pv(&elsewhere, Some("2026-01-01T00:00:00Z"), "pvc-gone-4");
    other["spec"]["claimRef"]["namespace"] = json!("someone-else");
    other["metadata"]["annotations"]["harvester-hygiene.io/retained-from"] = json!("someone-else/pvc-gone-4");
    create(other).await;
    create(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pvc-back", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": reclaimed}}))
    .await;
    let planned = |doc: &Value| -> Vec<String> {
        doc["actions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|x| x["action"]["type"] == "purgeRetainedPv")
                    .filter_map(|x| x["object"]["name"].as_str().map(str::to_string))
                    .filter(|n| [&old, &recent, &reclaimed, &foreign, &elsewhere].contains(&n))
                    .collect()
            })
            .unwrap_or_default()
    };
    let policy = |name: &str| kubectl(&["get", "pv", name])["spec"]["persistentVolumeReclaimPolicy"].clone();

    // A plain fix never purges.
    let (code, doc, err) = fix(&["-n", &ns]);
    assert_eq!(code, 0, "{err}");
    assert!(doc["actions"].is_array(), "a plan was made: {doc}");
    assert!(planned(&doc).is_empty(), "{err}{doc}");

    let (code, doc, err) = fix(&["-n", &ns, "--purge-retained-older-than", "7d"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(planned(&doc), vec![old.clone()], "{doc}");
    assert_eq!(action_for(&doc, &old)["status"], "planned");

    let (code, doc, err) = fix(&["-n", &ns, "--purge-retained-older-than", "7d", "--dry-run=server"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(action_for(&doc, &old)["status"], "dry-run-ok", "{doc}");
    assert_eq!(policy(&old), "Retain");

    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("purge");
    let (code, doc, err) = fix(&[
        "-n",
        &ns,
        "--purge-retained-older-than",
        "7d",
        "--apply",
        "--yes",
        "--backup-dir",
        backup.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(action_for(&doc, &old)["status"], "done", "{doc}");
    assert_eq!(policy(&old), "Delete");
    for kept in [&recent, &reclaimed, &foreign, &elsewhere] {
        assert_eq!(policy(kept), "Retain", "{kept} must not be purged");
    }
    assert!(backup.join("audit.jsonl").exists());
}

#[tokio::test]
async fn fix_refuses_an_incomplete_scan_and_apply_asks_for_yes_without_a_terminal() {
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("fixrefuse").await;
    let (pvc, pv) = orphan(&ns).await;
    // An identity that may read everything but the RBAC kinds the orphan rule needs.
    let user = unique("no-rbac");
    let groups = json!([
        "",
        "kubevirt.io",
        "longhorn.io",
        "harvesterhci.io",
        "snapshot.storage.k8s.io",
        "storage.k8s.io",
        "migration.harvesterhci.io"
    ]);
    create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": user},
        "rules": [{"apiGroups": groups, "resources": ["*"], "verbs": ["get", "list"]}]}),
    )
    .await;
    create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": user},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}),
    )
    .await;
    // As admin the orphan is planned (the precondition for the refusals below to mean anything).
    let (code, doc, err) = fix(&["-n", &ns, "--rules", "orphaned-guest-pvc"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(action_for(&doc, &pvc)["status"], "planned", "{doc}");

    // An incomplete scan plans nothing and exits 3.
    let (code, doc, err) = fix(&["-n", &ns, "--rules", "orphaned-guest-pvc", "--as", &user]);
    assert_eq!(code, 3, "{err} {doc}");
    assert!(
        doc["actions"].as_array().is_none_or(|a| a.is_empty()),
        "nothing planned on an incomplete scan: {doc}"
    );
    assert!(err.contains("incomplete") || err.contains("could not read"), "{err}");

    // --apply without --yes and without a terminal: a usage error, nothing changed.
    let (code, _, err) = fix(&["-n", &ns, "--apply"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--yes"), "{err}");
    common::assert_live("v1", "PersistentVolumeClaim", Some(&ns), &pvc).await;
    assert_eq!(
        kubectl(&["get", "pv", &pv])["spec"]["persistentVolumeReclaimPolicy"],
        "Delete"
    );
}

/// `--from-report`: act only on what a reviewed report listed (fingerprints), re-judged on a
/// fresh scan; a file that is not a report is a usage error naming it.
#[tokio::test]
async fn from_report_plans_only_what_the_saved_report_listed() {
    common::ensure_namespace("longhorn-system").await;
    let ns = namespace("fromrep").await;
    let (keep, _) = orphan(&ns).await;
    let (other, _) = orphan(&ns).await;
    let (code, all, err) = fix(&["-n", &ns]);
    assert_eq!(code, 0, "{err}");
    action_for(&all, &keep);
    action_for(&all, &other);

    // The reviewed report keeps one of the two findings.
    let out = common::plugin(&["scan", "-n", &ns, "-o", "json", "--harvester-version", "v1.4.1"]);
    let mut report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array_mut().unwrap();
    assert_eq!(findings.len(), 2, "{findings:?}");
    findings.retain(|f| f["object"]["name"] == keep.as_str());
    assert_eq!(findings.len(), 1);
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("reviewed.json");
    std::fs::write(&saved, serde_json::to_vec(&report).unwrap()).unwrap();

    let (code, doc, err) = fix(&["-n", &ns, "--from-report", saved.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let actions = doc["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{doc}");
    assert_eq!(actions[0]["object"]["name"], keep.as_str());

    // Not a report, and a report of another format version: exit 2, the file named.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, b"{not json").unwrap();
    let (code, _, err) = fix(&["-n", &ns, "--from-report", junk.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("junk.json") && err.contains("not a JSON report"), "{err}");
    report["apiVersion"] = "harvester-hygiene/v0".into();
    std::fs::write(&saved, serde_json::to_vec(&report).unwrap()).unwrap();
    let (code, _, err) = fix(&["-n", &ns, "--from-report", saved.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reviewed.json") && err.contains("apiVersion"), "{err}");
}
