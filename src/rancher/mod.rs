//! `--rancher-kubeconfig`: read-only questions to Rancher's local cluster (list
//! provisioning.cattle.io/v1 Clusters and rke-machine.cattle.io/v1 HarvesterMachines) and, where
//! access is given, to each living guest cluster (list PersistentVolumes): through
//! `--guest-kubeconfig CLUSTER=PATH`, else through Rancher's own proxy when the Rancher
//! kubeconfig points at it (`https://<rancher>/k8s/clusters/local` becomes
//! `…/k8s/clusters/<status.clusterName>`, with the same credentials). Gathering only: what it
//! finds goes into the inventory ([`crate::inventory::rancher`]) and `orphaned-guest-pvc` judges
//! it. Nothing is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use crate::inventory::rancher::{CSI_DRIVER, Cluster, GuestPvs, Inventory, Machine};

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub kubeconfig: PathBuf,
    pub context: Option<String>,
    /// Guest cluster name → kubeconfig.
    pub guest_kubeconfigs: BTreeMap<String, PathBuf>,
    pub request_timeout: Option<std::time::Duration>,
}

/// Cluster API's cluster label on every machine (rancher/rancher `pkg/capr`, `GetCAPIClusterFromLabel`).
const CLUSTER_LABEL: &str = "cluster.x-k8s.io/cluster-name";

async fn config(
    path: &PathBuf,
    context: Option<String>,
    timeout: Option<std::time::Duration>,
) -> Result<Config, String> {
    let kc = Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut c = Config::from_custom_kubeconfig(
        kc,
        &KubeConfigOptions {
            context,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(t) = timeout {
        c.read_timeout = Some(t);
        c.connect_timeout = Some(t);
    }
    Ok(c)
}

/// Every item of a list path (paginated).
async fn list(client: &Client, path: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    let mut cont: Option<String> = None;
    loop {
        let mut url = format!("{path}?limit=500");
        if let Some(c) = &cont {
            url.push_str("&continue=");
            url.push_str(&url::form_urlencoded::byte_serialize(c.as_bytes()).collect::<String>());
        }
        let req = http::Request::get(&url).body(Vec::new()).map_err(|e| e.to_string())?;
        let page: Value = client.request(req).await.map_err(|e| match e {
            kube::Error::Api(s) => format!("{path}: {} ({})", s.message, s.code),
            e => format!("{path}: {e}"),
        })?;
        if let Some(items) = page.get("items").and_then(Value::as_array) {
            out.extend(items.iter().cloned());
        }
        cont = page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        if cont.is_none() {
            return Ok(out);
        }
    }
}

fn s(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn deleting(v: &Value) -> bool {
    s(v, "/metadata/deletionTimestamp").is_some()
}

/// Read Rancher (and the guest clusters it can reach).
pub async fn gather(opts: &Options) -> Inventory {
    crate::install_crypto_provider();
    let mut inv = Inventory::default();
    let cfg = match config(&opts.kubeconfig, opts.context.clone(), opts.request_timeout).await {
        Ok(c) => c,
        Err(e) => {
            inv.error = Some(format!("--rancher-kubeconfig {e}"));
            return inv;
        }
    };
    inv.server = cfg.cluster_url.to_string();
    let client = match Client::try_from(cfg.clone()) {
        Ok(c) => c,
        Err(e) => {
            inv.error = Some(format!("--rancher-kubeconfig: {e}"));
            return inv;
        }
    };
    let clusters = list(&client, "/apis/provisioning.cattle.io/v1/clusters").await;
    let machines = list(&client, "/apis/rke-machine.cattle.io/v1/harvestermachines").await;
    let (clusters, machines) = match (clusters, machines) {
        (Ok(c), Ok(m)) => (c, m),
        (Err(e), _) | (_, Err(e)) => {
            inv.error = Some(format!("Rancher {}: {e}", inv.server));
            return inv;
        }
    };
    inv.clusters = clusters
        .iter()
        .map(|c| Cluster {
            namespace: s(c, "/metadata/namespace").unwrap_or_default(),
            name: s(c, "/metadata/name").unwrap_or_default(),
            management_name: s(c, "/status/clusterName"),
            deleting: deleting(c),
        })
        .collect();
    inv.machines = machines
        .iter()
        .map(|m| Machine {
            namespace: s(m, "/metadata/namespace").unwrap_or_default(),
            name: s(m, "/metadata/name").unwrap_or_default(),
            vm_namespace: s(m, "/spec/vmNamespace"),
            cluster: m
                .pointer("/metadata/labels")
                .and_then(|l| l.get(CLUSTER_LABEL))
                .and_then(Value::as_str)
                .map(str::to_string),
            deleting: deleting(m),
        })
        .collect();
    let living: BTreeSet<(String, Option<String>)> = inv
        .clusters
        .iter()
        .filter(|c| !c.deleting)
        .map(|c| (c.name.clone(), c.management_name.clone()))
        .collect();
    for (name, mgmt) in living {
        let pvs = guest_pvs(opts, &cfg, &name, mgmt.as_deref()).await;
        inv.guest_pvs.insert(name, pvs);
    }
    inv
}

async fn guest_pvs(opts: &Options, rancher: &Config, name: &str, mgmt: Option<&str>) -> GuestPvs {
    let cfg = if let Some(path) = opts.guest_kubeconfigs.get(name) {
        match config(path, None, opts.request_timeout).await {
            Ok(c) => c,
            Err(e) => return GuestPvs::Unreadable { reason: e },
        }
    } else {
        // Rancher's proxy: the local cluster's URL with the guest's management id.
        let url = rancher.cluster_url.to_string();
        let base = url.trim_end_matches('/').strip_suffix("/k8s/clusters/local");
        let (Some(base), Some(mgmt)) = (base, mgmt) else {
            return GuestPvs::Unreadable {
                reason: "no --guest-kubeconfig for it, and the Rancher kubeconfig does not point at Rancher's \
                         proxy (…/k8s/clusters/local)"
                    .into(),
            };
        };
        let mut c = rancher.clone();
        match format!("{base}/k8s/clusters/{mgmt}").parse() {
            Ok(u) => c.cluster_url = u,
            Err(e) => return GuestPvs::Unreadable { reason: format!("{e}") },
        }
        c
    };
    let client = match Client::try_from(cfg) {
        Ok(c) => c,
        Err(e) => return GuestPvs::Unreadable { reason: e.to_string() },
    };
    match list(&client, "/api/v1/persistentvolumes").await {
        Ok(items) => GuestPvs::Read {
            handles: items
                .iter()
                .filter(|pv| s(pv, "/spec/csi/driver").as_deref() == Some(CSI_DRIVER))
                .filter_map(|pv| s(pv, "/spec/csi/volumeHandle"))
                .collect(),
        },
        Err(e) => GuestPvs::Unreadable { reason: e },
    }
}

/// Rancher could not be read: `orphaned-guest-pvc` is limited as a failed kind would limit it
/// (an `incomplete` entry, reason `failed`; exit code 3 on a live scan). A guest cluster whose
/// PersistentVolumes could not be read is said in the findings' evidence, not here.
pub fn add_gaps(report: &mut crate::report::Report, inv: &crate::inventory::Inventory) {
    let Some(r) = &inv.rancher else {
        return;
    };
    let Some(e) = &r.error else {
        return;
    };
    if !report
        .rules
        .iter()
        .any(|run| run.id == crate::rules::orphaned_guest_pvc::ID)
    {
        return;
    }
    report.incomplete.push(crate::inventory::Incomplete {
        api_version: "provisioning.cattle.io/v1".into(),
        kind: "Cluster".into(),
        namespace: None,
        name: None,
        reason: crate::inventory::Gap::Failed,
        message: format!("--rancher-kubeconfig: {e}"),
        rules: vec![crate::rules::orphaned_guest_pvc::ID.into()],
    });
    let blocking = report.blocking_gaps().next().is_some();
    report.summary.incomplete = blocking;
}
