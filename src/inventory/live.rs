//! Live input: kubectl-compatible client configuration and concurrent, paginated lists.
//!
//! Each kind is listed with `limit` + `continue` and decoded page by page straight into its
//! typed view (items are kept as raw JSON only until their view is decoded), so memory
//! follows the views, not the API objects. Kinds are listed concurrently. A 403 or 404 is
//! recorded as a gap in the inventory and the scan goes on.

use std::path::PathBuf;
use std::time::Duration;

use futures::future::join_all;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Batch, Coverage, Gap, InputError, Inventory, KindGap, KindInfo, KindOps};
use crate::error::{Error, Result};

/// How to reach the cluster, as kubectl's flags say it.
#[derive(Debug, Clone, Default)]
pub struct LiveOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `--as`
    pub impersonate: Option<String>,
    /// `--as-group`
    pub impersonate_groups: Vec<String>,
    pub request_timeout: Option<Duration>,
    /// Items per list page (client-go's default is 500).
    pub page_size: u32,
    /// `--cluster-name`: the name reports give the cluster (default: see `name_from_context`).
    pub cluster_name: Option<String>,
    /// Without `--cluster-name`, name the cluster after the kubeconfig context (the plugin:
    /// Rancher's generated kubeconfigs have one context per cluster, named after it); else, and
    /// for the in-cluster job, after the `kube-system` namespace's UID.
    pub name_from_context: bool,
}

/// What the report says about the cluster it read.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    pub server: String,
    pub context: Option<String>,
    /// The kubeconfig context the client uses (`--context`, else the current context), when
    /// it came from a kubeconfig.
    pub effective_context: Option<String>,
    pub kubernetes_version: Option<String>,
}

/// Build a client like kubectl: `--kubeconfig`, else `KUBECONFIG`/`~/.kube/config` (with
/// `--context`), else the in-cluster service account.
pub async fn connect(opts: &LiveOptions) -> Result<(Client, ClusterInfo)> {
    crate::install_crypto_provider();
    let kopts = KubeConfigOptions {
        context: opts.context.clone(),
        ..Default::default()
    };
    let (mut config, effective_context) = match (&opts.kubeconfig, &opts.context) {
        (Some(path), _) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| Error::Config(format!("--kubeconfig {}: {e}", path.display())))?;
            let current = opts.context.clone().or(kc.current_context.clone());
            let config = Config::from_custom_kubeconfig(kc, &kopts)
                .await
                .map_err(|e| Error::Config(e.to_string()))?;
            (config, current)
        }
        (None, Some(c)) => (
            Config::from_kubeconfig(&kopts)
                .await
                .map_err(|e| Error::Config(e.to_string()))?,
            Some(c.clone()),
        ),
        (None, None) => {
            let config = Config::infer().await.map_err(|e| Error::Config(e.to_string()))?;
            // infer() reads $KUBECONFIG or ~/.kube/config first, then the in-cluster account.
            let current = Kubeconfig::read().ok().and_then(|kc| kc.current_context);
            (config, current)
        }
    };
    if let Some(user) = &opts.impersonate {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !opts.impersonate_groups.is_empty() {
        config.auth_info.impersonate_groups = Some(opts.impersonate_groups.clone());
    }
    if let Some(t) = opts.request_timeout {
        config.read_timeout = Some(t);
        config.connect_timeout = Some(t);
    }
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?;
    let kubernetes_version = match client.apiserver_version().await {
        Ok(v) => Some(v.git_version),
        Err(kube::Error::Api(s)) if s.code == 401 => {
            return Err(Error::Unreachable(format!(
                "{server}: the credentials were rejected (401 Unauthorized)"
            )));
        }
        // /version is forbidden for some identities; lists may still work.
        Err(kube::Error::Api(_)) => None,
        Err(e) => return Err(Error::Unreachable(format!("{server}: {e}"))),
    };
    Ok((
        client,
        ClusterInfo {
            server,
            context: opts.context.clone(),
            effective_context,
            kubernetes_version,
        },
    ))
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(borrow, default)]
    items: Vec<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct PageMeta {
    #[serde(rename = "continue", default)]
    continue_: Option<String>,
    /// How many objects the pages after this one hold (the API server sets it on a paged list,
    /// kubernetes `staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go` `ListMeta`).
    #[serde(rename = "remainingItemCount", default)]
    remaining_item_count: Option<u64>,
}

/// What [`list_each`] hands its caller: an object's JSON, or how many objects are still to
/// come (this page's and the rest of the list's, as the API server counts them), so the
/// caller can size its list once instead of growing it by doubling (issue 16: memory).
enum Listed<'a> {
    Item(&'a str),
    Expect(usize),
}

/// A reservation is only a hint: an API server that announces more than this many objects
/// still gets them all, by ordinary growth.
const MAX_RESERVED: u64 = 1_000_000;

/// The list URL of a kind (in one namespace, or across all).
pub fn list_path(info: &KindInfo, namespace: Option<&str>) -> String {
    let base = if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    };
    match (info.namespaced, namespace) {
        (true, Some(ns)) => format!("{base}/namespaces/{ns}/{}", info.plural),
        _ => format!("{base}/{}", info.plural),
    }
}

struct KindResult {
    ops: &'static dyn KindOps,
    batch: Batch,
    errors: Vec<InputError>,
    gap: Option<(Gap, String)>,
}

/// List `kinds` into the inventory (concurrently; pages of `opts.page_size`).
pub async fn gather(client: &Client, inv: &mut Inventory, kinds: &[&'static dyn KindOps], page_size: u32) {
    let namespace = inv.namespace.clone();
    let ns = namespace.as_deref();
    let (last, first): (Vec<_>, Vec<_>) = kinds.iter().copied().partition(|k| k.info().list_last);
    let mut results = join_all(first.into_iter().map(|ops| list_kind(client, ops, ns, page_size))).await;
    results.extend(join_all(last.into_iter().map(|ops| list_kind(client, ops, ns, page_size))).await);
    for r in results {
        inv.input_errors.extend(r.errors);
        if r.gap.is_none() {
            inv.merge_batch(r.ops, r.batch);
        }
        record(inv, r.ops.info(), r.gap);
    }
    inv.shrink();
}

/// What listing one kind tells about it: its coverage, or the gap (with `-n`, a forbidden
/// system namespace is out of scope, not a failed scan). `dump` records the same, so a scan of
/// the dump knows what a live scan knows.
pub fn record(inv: &mut Inventory, info: &'static KindInfo, gap: Option<(Gap, String)>) {
    let namespace = inv.namespace.clone();
    match gap {
        None => {
            let coverage = match (&namespace, info.namespaced, info.home_namespace) {
                (Some(_), true, Some(home)) => Coverage::Namespaces([home.to_string()].into()),
                (Some(ns), true, None) => Coverage::Namespaces([ns.clone()].into()),
                _ => Coverage::All,
            };
            inv.set_coverage(info, coverage);
        }
        Some((Gap::NotFound, _)) if info.optional => {
            inv.set_coverage(info, Coverage::All);
            inv.not_installed.insert(super::key(info));
        }
        // With -n, a forbidden system namespace (or the namespace object itself) is out of
        // scope, not a failed scan.
        Some((Gap::Forbidden, message))
            if namespace.is_some() && (info.home_namespace.is_some() || info.by_scope_name) =>
        {
            inv.set_coverage(info, Coverage::Unknown);
            inv.gaps.push(KindGap {
                kind: info,
                namespace: info.home_namespace.map(str::to_string),
                reason: Gap::OutOfScope,
                message: format!(
                    "{message} (outside -n {}; rules that need it are partial)",
                    namespace.as_deref().unwrap_or("")
                ),
            });
        }
        Some((reason, message)) => {
            inv.set_coverage(info, Coverage::Unknown);
            inv.gaps.push(KindGap {
                kind: info,
                namespace: namespace.clone().filter(|_| info.namespaced),
                reason,
                message,
            });
        }
    }
}

async fn list_kind(client: &Client, ops: &'static dyn KindOps, namespace: Option<&str>, page_size: u32) -> KindResult {
    let mut result = KindResult {
        ops,
        batch: ops.new_batch(),
        errors: Vec::new(),
        gap: None,
    };
    let mut batch = ops.new_batch();
    let mut errors = Vec::new();
    let gap = list_each(client, ops.info(), namespace, page_size, &mut |listed| match listed {
        Listed::Item(json) => push_item(ops, &mut batch, &mut errors, json),
        Listed::Expect(n) => ops.reserve(&mut batch, n),
    })
    .await;
    result.batch = batch;
    result.errors = errors;
    result.gap = gap;
    result
}

/// One kind's objects as the API server sends them (raw JSON text, page by page), or the gap.
pub async fn list_raw(
    client: &Client,
    info: &'static KindInfo,
    namespace: Option<&str>,
    page_size: u32,
) -> (Vec<String>, Option<(Gap, String)>) {
    let mut items = Vec::new();
    let gap = list_each(client, info, namespace, page_size, &mut |listed| match listed {
        Listed::Item(json) => items.push(json.to_string()),
        Listed::Expect(n) => {
            let _ = items.try_reserve(n);
        }
    })
    .await;
    (items, gap)
}

/// List (or GET, for `only_names` kinds) one kind, calling `each` with every object's JSON.
async fn list_each(
    client: &Client,
    info: &'static KindInfo,
    namespace: Option<&str>,
    page_size: u32,
    each: &mut (dyn FnMut(Listed<'_>) + Send),
) -> Option<(Gap, String)> {
    // With -n, a kind that lives in one system namespace (Longhorn's) is read there.
    // So is a kind read by name there (a namespaced GET needs the namespace).
    let namespace = match (namespace, info.home_namespace) {
        (Some(_), Some(home)) => Some(home),
        (None, Some(home)) if !info.only_names.is_empty() => Some(home),
        (ns, _) => ns,
    };
    let path = list_path(info, namespace);
    let scope_name = [namespace.unwrap_or("")];
    let only_names: &[&str] = match namespace {
        Some(_) if info.by_scope_name => &scope_name,
        _ => info.only_names,
    };
    if !only_names.is_empty() {
        for name in only_names {
            match get_text(client, &format!("{path}/{name}")).await {
                Ok(text) => each(Listed::Item(&text)),
                // A missing object names itself in the details; a missing API does not.
                Err(kube::Error::Api(s)) if s.code == 404 && s.details.as_ref().is_some_and(|d| !d.name.is_empty()) => {
                }
                Err(e) => return Some(classify(&e, info)),
            }
        }
        return None;
    }
    let page_url = |token: Option<&str>| {
        let mut url = format!("{path}?limit={page_size}");
        if let Some(t) = token {
            url.push_str("&continue=");
            url.push_str(&encode_query(t));
        }
        url
    };
    let mut text = match get_text(client, &page_url(None)).await {
        Ok(t) => t,
        Err(e) => return Some(classify(&e, info)),
    };
    loop {
        let page: Page = match serde_json::from_str(&text) {
            Ok(p) => p,
            Err(e) => return Some((Gap::Failed, format!("cannot decode the list of {}: {e}", info.plural))),
        };
        let next = page
            .metadata
            .continue_
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| page_url(Some(t)));
        // The next page is requested before this one is decoded, so the API server works on
        // it while the items are turned into views.
        let fetch = async {
            match &next {
                Some(url) => Some(get_text(client, url).await),
                None => None,
            }
        };
        let decode = async {
            let remaining = page.metadata.remaining_item_count.unwrap_or(0).min(MAX_RESERVED);
            let expected = usize::try_from(remaining).unwrap_or(0).saturating_add(page.items.len());
            each(Listed::Expect(expected));
            for item in &page.items {
                each(Listed::Item(item.get()));
            }
        };
        let (fetched, ()) = tokio::join!(fetch, decode);
        drop(page);
        match fetched {
            None => return None,
            Some(Ok(t)) => text = t,
            Some(Err(e)) => return Some(classify(&e, info)),
        }
    }
}

fn push_item(ops: &'static dyn KindOps, batch: &mut Batch, errors: &mut Vec<InputError>, json: &str) {
    if let Err(reason) = ops.push_json(batch, json) {
        let info = ops.info();
        // Name the object if its metadata at least is readable.
        let name = serde_json::from_str::<crate::meta::ObjectName>(json)
            .ok()
            .map(|o| o.metadata.key());
        errors.push(InputError {
            source: format!("{} (live)", info.qualified()),
            document: None,
            object: name,
            reason,
        });
    }
}

async fn get_text(client: &Client, url: &str) -> kube::Result<String> {
    let req = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| kube::Error::Service(Box::new(e)))?;
    client.request_text(req).await
}

fn classify(e: &kube::Error, info: &KindInfo) -> (Gap, String) {
    let what = info.qualified();
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            (Gap::Forbidden, format!("cannot list {what}: forbidden: {}", s.message))
        }
        kube::Error::Api(s) if s.code == 404 => {
            let msg = if info.optional {
                format!("{what} is not installed (optional add-on)")
            } else {
                format!(
                    "the API for {what} is not served here (404): is this a Harvester cluster, and is the CRD installed?"
                )
            };
            (Gap::NotFound, msg)
        }
        kube::Error::Api(s) => (Gap::Failed, format!("cannot list {what}: {} ({})", s.message, s.code)),
        other => (Gap::Failed, format!("cannot list {what}: {other}")),
    }
}

/// Percent-encode a continue token for a query string.
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Kind;
    use crate::inventory::kinds::{PersistentVolumeClaim, StorageClass, VirtualMachineImage};

    #[test]
    fn paths() {
        assert_eq!(
            list_path(&PersistentVolumeClaim::INFO, Some("a")),
            "/api/v1/namespaces/a/persistentvolumeclaims"
        );
        assert_eq!(
            list_path(&StorageClass::INFO, Some("a")),
            "/apis/storage.k8s.io/v1/storageclasses"
        );
        assert_eq!(
            list_path(&VirtualMachineImage::INFO, None),
            "/apis/harvesterhci.io/v1beta1/virtualmachineimages"
        );
        assert_eq!(encode_query("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
