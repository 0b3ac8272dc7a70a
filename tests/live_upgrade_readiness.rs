//! `scan --target-version` (`upgrade-readiness`) through the plugin binary on the real apiserver
//! with the upstream KubeVirt, Harvester and Longhorn CRDs: positives and near-misses, status
//! written through the status subresource, the report's `source.targetVersion`, and the rule's
//! absence without a target.

mod common;

use common::{create, ensure_namespace, namespace, plugin, unique};
use serde_json::{Value, json};

const RULE: &str = "upgrade-readiness";

fn scan(args: &[&str]) -> (i32, Value) {
    let mut all = vec![
        "scan",
        "-o",
        "json",
        "--harvester-version",
        "v1.6.1",
        "--fail-on",
        "never",
    ];
    all.extend_from_slice(args);
    let out = plugin(&all);
    let code = out.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code, report)
}

fn findings<'a>(report: &'a Value, name: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| f["rule"] == RULE && f["object"]["name"] == name)
                .collect()
        })
        .unwrap_or_default()
}

fn vmi(ns: &str, name: &str, migratable: &str) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "1Gi"}}}},
        "status": {"phase": "Running", "nodeName": "node-1",
                   "conditions": [{"type": "LiveMigratable", "status": migratable,
                                   "reason": "DisksNotLiveMigratable", "message": "PVC disk-0 is not shared"}]}})
}

fn volume(name: &str, state: &str, robustness: &str, replicas: u64) -> Value {
    json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Volume",
        "metadata": {"name": name, "namespace": "longhorn-system"},
        "spec": {"numberOfReplicas": replicas, "size": "1073741824"},
        "status": {"state": state, "robustness": robustness}})
}

fn upgrade(name: &str, state: &str) -> Value {
    json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "Upgrade",
        "metadata": {"name": name, "namespace": "harvester-system",
                     "labels": {"harvesterhci.io/upgradeState": state}},
        "spec": {"version": "v1.7.0"}})
}

#[tokio::test]
async fn upgrade_blockers_on_real_objects() {
    let ns = namespace("upgrade").await;
    ensure_namespace("longhorn-system").await;
    ensure_namespace("harvester-system").await;
    // VMIs: cannot live-migrate (positive); can (near-miss).
    create(vmi(&ns, "pinned", "False")).await;
    create(vmi(&ns, "free", "True")).await;
    // Volumes: degraded (positive); healthy and detached-unknown (near-misses).
    let deg = unique("pvc-degraded");
    let ok = unique("pvc-healthy");
    let off = unique("pvc-off");
    create(volume(&deg, "attached", "degraded", 3)).await;
    create(volume(&ok, "attached", "healthy", 3)).await;
    create(volume(&off, "detached", "unknown", 3)).await;
    // Upgrades: one stuck in UpgradingNodes (positive), one Succeeded (near-miss).
    let stuck = unique("hvst-upgrade-stuck");
    let done = unique("hvst-upgrade-done");
    create(upgrade(&stuck, "UpgradingNodes")).await;
    create(upgrade(&done, "Succeeded")).await;
    // Repo VMs: of the finished upgrade (positive) and of the running one (near-miss).
    for up in [&done, &stuck] {
        create(json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": format!("upgrade-repo-{up}"), "namespace": "harvester-system",
                         "labels": {"harvesterhci.io/upgrade": up, "harvesterhci.io/upgradeComponent": "repo"}},
            "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}))
        .await;
    }

    let (code, report) = scan(&["--target-version", "v1.7.0"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["source"]["targetVersion"], "v1.7.0", "{:#}", report["source"]);
    assert!(report["summary"]["incomplete"] == false, "{:#}", report["incomplete"]);
    let pinned = findings(&report, "pinned");
    assert_eq!(pinned.len(), 1, "{:#}", report["findings"]);
    assert_eq!(pinned[0]["severity"], "error");
    assert!(pinned[0]["object"]["uid"].is_string(), "names the live object");
    let ev: Vec<&str> = pinned[0]["evidence"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(ev.contains(&"condition:LiveMigratable=False"), "{ev:?}");
    assert!(ev.contains(&"target-version:v1.7.0"), "{ev:?}");
    assert_eq!(findings(&report, &deg).len(), 1, "{:#}", report["findings"]);
    assert_eq!(findings(&report, &stuck).len(), 1, "{:#}", report["findings"]);
    assert_eq!(findings(&report, &format!("upgrade-repo-{done}")).len(), 1);
    for near in [
        "free".to_string(),
        ok.clone(),
        off.clone(),
        done.clone(),
        format!("upgrade-repo-{stuck}"),
    ] {
        assert!(findings(&report, &near).is_empty(), "{near}: {:#}", report["findings"]);
    }

    // Without a target: the rule does not run, and naming it alone is a usage error.
    let (code, plain) = scan(&[]);
    assert_eq!(code, 0);
    assert!(plain["source"].get("targetVersion").is_none());
    let run = plain["rules"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["id"] == RULE))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(run["status"], "disabled", "{run:#}");
    assert!(findings(&plain, "pinned").is_empty());
    let (code, _) = scan(&["--rules", RULE]);
    assert_eq!(code, 2);
    let (code, _) = scan(&["--target-version", "next"]);
    assert_eq!(code, 2);
}
