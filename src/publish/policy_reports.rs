//! Findings as policy reports (opt-in, `--policy-reports`), the format Policy Reporter and
//! similar dashboards read: `wgpolicyk8s.io/v1alpha2` PolicyReport (one per namespace with
//! results) and ClusterPolicyReport (cluster-scoped objects, and rules that could not run),
//! and the same as `openreports.io/v1alpha1` Report / ClusterReport when that API is served.
//! Schemas: kubernetes-sigs/wg-policy-prototypes `policy-report/pkg/api/wgpolicyk8s.io/v1alpha2`
//! and openreports/reports-api `apis/openreports.io/v1alpha1`.
//!
//! Mapping: rule -> `policy`; error/warning -> `fail` with severity high/medium (`scored`);
//! info -> `warn`, severity low, `scored: false`; exempted -> `skip`; a rule skipped because
//! its input could not be read -> `error`. `source: harvester-hygiene`, resources with uid,
//! `summary` counting the results. Each API is found by discovery and skipped (with a note)
//! when not served. Every report is named `harvester-hygiene` and labelled
//! `app.kubernetes.io/managed-by: harvester-hygiene`: a run replaces the previous run's
//! reports in place and deletes those of namespaces that have no results any more, so they
//! are never duplicated.

use std::collections::{BTreeMap, BTreeSet};

use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, ObjectMeta, PostParams};
use kube::core::{GroupVersionKind, TypeMeta};
use serde_json::{Value, json};

use super::{fingerprint, label_value, truncate_bytes};
use crate::finding::{Finding, Severity};
use crate::meta::ObjectRef;
use crate::report::{Cluster, Report, RuleStatus};

/// The name of every report this tool writes.
pub const REPORT_NAME: &str = "harvester-hygiene";
pub const SOURCE: &str = "harvester-hygiene";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Stay well below etcd's 1.5 MiB object limit.
const REPORT_BUDGET: usize = 1024 * 1024;
const MESSAGE_MAX: usize = 1024;

/// One policy-report API: its group/version and the namespaced and cluster kinds.
#[derive(Debug, Clone, Copy)]
pub struct Flavour {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub cluster_kind: &'static str,
    pub cluster_plural: &'static str,
    /// OpenReports carry `source` on the report too.
    pub report_source: bool,
}

pub const WGPOLICY: Flavour = Flavour {
    group: "wgpolicyk8s.io",
    version: "v1alpha2",
    kind: "PolicyReport",
    plural: "policyreports",
    cluster_kind: "ClusterPolicyReport",
    cluster_plural: "clusterpolicyreports",
    report_source: false,
};

pub const OPENREPORTS: Flavour = Flavour {
    group: "openreports.io",
    version: "v1alpha1",
    kind: "Report",
    plural: "reports",
    cluster_kind: "ClusterReport",
    cluster_plural: "clusterreports",
    report_source: true,
};

impl Flavour {
    fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    fn resource(&self, cluster: bool) -> ApiResource {
        let (kind, plural) = if cluster {
            (self.cluster_kind, self.cluster_plural)
        } else {
            (self.kind, self.plural)
        };
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(self.group, self.version, kind), plural)
    }
}

/// What publishing did, per API.
#[derive(Debug, Default, Clone)]
pub struct PolicyReportOutcome {
    /// `group/version` of each API written to.
    pub written: Vec<String>,
    /// APIs not served (`group/version: why`): skipped, not an error.
    pub skipped: Vec<String>,
    /// Reports created or replaced, and stale ones deleted.
    pub reports: usize,
    pub deleted: usize,
    /// Results left out of a report that would not fit.
    pub results_cut: usize,
    pub errors: Vec<String>,
}

/// `seconds`/`nanos` of the report's time (metav1.Timestamp).
fn timestamp(report: &Report) -> Value {
    let secs = report
        .source
        .generated_at
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .unwrap_or(0);
    json!({"seconds": secs, "nanos": 0})
}

fn resource_ref(o: &ObjectRef) -> Value {
    let mut r = json!({"apiVersion": o.api_version, "kind": o.kind, "name": o.name});
    if let Some(ns) = &o.namespace {
        r["namespace"] = json!(ns);
    }
    if let Some(uid) = &o.uid {
        r["uid"] = json!(uid);
    }
    r
}

/// (result, severity, scored) for a finding's severity.
fn grade(s: Severity) -> (&'static str, &'static str, bool) {
    match s {
        Severity::Error => ("fail", "high", true),
        Severity::Warning => ("fail", "medium", true),
        Severity::Info => ("warn", "low", false),
    }
}

fn finding_result(f: &Finding, result: &str, severity: &str, scored: bool, ts: &Value, cluster: &Cluster) -> Value {
    let mut props = BTreeMap::from([
        ("fingerprint".to_string(), fingerprint(f)),
        ("confidence".to_string(), f.confidence.as_str().to_string()),
        ("title".to_string(), truncate_bytes(&f.headline(), 256)),
        ("cluster".to_string(), cluster.name.clone()),
    ]);
    if let Some(uid) = &cluster.uid {
        props.insert("clusterUID".into(), uid.clone());
    }
    json!({
        "source": SOURCE,
        "policy": f.rule,
        "category": "Harvester",
        "severity": severity,
        "timestamp": ts,
        "result": result,
        "scored": scored,
        "resources": [resource_ref(&f.object)],
        "message": truncate_bytes(&f.message, MESSAGE_MAX),
        "properties": props,
    })
}

/// The results of `report`, by namespace (`None`: the cluster report).
pub fn results(report: &Report, cluster: &Cluster) -> BTreeMap<Option<String>, Vec<Value>> {
    let ts = timestamp(report);
    let mut out: BTreeMap<Option<String>, Vec<Value>> = BTreeMap::new();
    for f in &report.findings {
        let (result, severity, scored) = grade(f.severity);
        out.entry(f.object.namespace.clone())
            .or_default()
            .push(finding_result(f, result, severity, scored, &ts, cluster));
    }
    for e in &report.exempted {
        let (_, severity, _) = grade(e.finding.severity);
        let mut r = finding_result(&e.finding, "skip", severity, false, &ts, cluster);
        r["message"] = json!(truncate_bytes(&format!("exempted: {}", e.reason), MESSAGE_MAX));
        out.entry(e.finding.object.namespace.clone()).or_default().push(r);
    }
    for run in report.rules.iter().filter(|r| r.status == RuleStatus::Skipped) {
        let why = if run.notes.is_empty() {
            "its input could not be read".to_string()
        } else {
            run.notes.join("; ")
        };
        out.entry(None).or_default().push(json!({
            "source": SOURCE,
            "policy": run.id,
            "category": "Harvester",
            "timestamp": ts,
            "result": "error",
            "scored": false,
            "message": truncate_bytes(&format!("rule not run: {why}"), MESSAGE_MAX),
            "properties": {"cluster": cluster.name},
        }));
    }
    out
}

fn summary(results: &[Value]) -> Value {
    let mut s = json!({"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0});
    for r in results {
        if let Some(k) = r["result"].as_str()
            && let Some(n) = s[k].as_u64()
        {
            s[k] = json!(n.saturating_add(1));
        }
    }
    s
}

fn labels(cluster: &Cluster) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        (MANAGED_BY.to_string(), SOURCE.to_string()),
        ("harvester-hygiene.io/cluster".to_string(), label_value(&cluster.name)),
    ]);
    if let Some(uid) = &cluster.uid {
        l.insert("harvester-hygiene.io/cluster-uid".into(), label_value(uid));
    }
    l
}

/// One report document of `flavour` for `namespace` (`None`: the cluster report), its
/// results cut to fit; returns it and how many results were left out.
pub fn document(
    flavour: &Flavour,
    namespace: Option<&str>,
    mut results: Vec<Value>,
    report: &Report,
    cluster: &Cluster,
) -> (DynamicObject, usize) {
    // Most severe first (findings are sorted so; errors of skipped rules come last).
    let mut size = 0usize;
    let mut keep = 0usize;
    for r in &results {
        size = size.saturating_add(r.to_string().len());
        if size > REPORT_BUDGET {
            break;
        }
        keep += 1;
    }
    let cut = results.len() - keep;
    results.truncate(keep);
    let kind = if namespace.is_some() {
        flavour.kind
    } else {
        flavour.cluster_kind
    };
    let mut data = json!({"summary": summary(&results), "results": results});
    if flavour.report_source {
        data["source"] = json!(SOURCE);
    }
    let obj = DynamicObject {
        types: Some(TypeMeta {
            api_version: flavour.api_version(),
            kind: kind.to_string(),
        }),
        metadata: ObjectMeta {
            name: Some(REPORT_NAME.to_string()),
            namespace: namespace.map(str::to_string),
            labels: Some(labels(cluster)),
            annotations: Some(BTreeMap::from([
                (
                    "harvester-hygiene.io/generated-at".to_string(),
                    report.source.generated_at.clone(),
                ),
                ("harvester-hygiene.io/cluster-name".to_string(), cluster.name.clone()),
            ])),
            ..Default::default()
        },
        data,
    };
    (obj, cut)
}

/// Whether `flavour`'s API serves both kinds (discovery: `GET /apis/<group>/<version>`).
pub async fn served(client: &Client, flavour: &Flavour) -> Result<bool, kube::Error> {
    match client.list_api_group_resources(&flavour.api_version()).await {
        Ok(list) => {
            let names: BTreeSet<&str> = list.resources.iter().map(|r| r.name.as_str()).collect();
            Ok(names.contains(flavour.plural) && names.contains(flavour.cluster_plural))
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Create or replace one report.
async fn put(api: &Api<DynamicObject>, mut obj: DynamicObject) -> Result<(), kube::Error> {
    match api.get_opt(REPORT_NAME).await? {
        Some(old) => {
            obj.metadata.resource_version = old.metadata.resource_version;
            api.replace(REPORT_NAME, &PostParams::default(), &obj).await?;
        }
        None => {
            api.create(&PostParams::default(), &obj).await?;
        }
    }
    Ok(())
}

/// Which stale reports a run may delete: all of ours, or one namespace's.
#[derive(Debug, Clone, Copy)]
struct Prune<'a> {
    only_namespace: Option<&'a str>,
}

/// Write the reports of one API and delete the stale ones.
async fn publish_flavour(
    client: &Client,
    flavour: &Flavour,
    by_scope: &BTreeMap<Option<String>, Vec<Value>>,
    report: &Report,
    cluster: &Cluster,
    prune: Prune<'_>,
    out: &mut PolicyReportOutcome,
) {
    let ns_res = flavour.resource(false);
    let cl_res = flavour.resource(true);
    let mut written_ns = BTreeSet::new();
    let mut cluster_written = false;
    for (scope, results) in by_scope {
        let (obj, cut) = document(flavour, scope.as_deref(), results.clone(), report, cluster);
        out.results_cut += cut;
        let api: Api<DynamicObject> = match scope {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ns_res),
            None => Api::all_with(client.clone(), &cl_res),
        };
        match put(&api, obj).await {
            Ok(()) => {
                out.reports += 1;
                match scope {
                    Some(ns) => {
                        written_ns.insert(ns.clone());
                    }
                    None => cluster_written = true,
                }
            }
            Err(e) => out.errors.push(format!(
                "{} {}/{REPORT_NAME}: {e}",
                if scope.is_some() {
                    flavour.kind
                } else {
                    flavour.cluster_kind
                },
                scope.as_deref().unwrap_or("")
            )),
        }
    }
    // The previous run's reports that this run has no results for.
    let lp = ListParams::default().labels(&format!("{MANAGED_BY}={SOURCE}"));
    prune_namespaced(client, flavour, &ns_res, prune.only_namespace, &written_ns, &lp, out).await;
    if prune.only_namespace.is_some() {
        return;
    }
    prune_cluster(client, flavour, &cl_res, cluster_written, &lp, out).await;
}

/// Delete the previous run's namespaced reports this run wrote nothing for (in
/// `only_namespace`, else everywhere).
async fn prune_namespaced(
    client: &Client,
    flavour: &Flavour,
    ns_res: &ApiResource,
    only_namespace: Option<&str>,
    written_ns: &BTreeSet<String>,
    lp: &ListParams,
    out: &mut PolicyReportOutcome,
) {
    let listed: Api<DynamicObject> = match only_namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ns_res),
        None => Api::all_with(client.clone(), ns_res),
    };
    match listed.list(lp).await {
        Ok(list) => {
            for old in list.items {
                let (Some(ns), Some(name)) = (old.metadata.namespace.clone(), old.metadata.name.clone()) else {
                    continue;
                };
                if name == REPORT_NAME && written_ns.contains(&ns) {
                    continue;
                }
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, ns_res);
                match api.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => out.deleted += 1,
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => out.errors.push(format!("delete {} {ns}/{name}: {e}", flavour.kind)),
                }
            }
        }
        Err(e) => out.errors.push(format!("list {}: {e}", flavour.plural)),
    }
}

/// Delete the previous run's cluster report when this run wrote none.
async fn prune_cluster(
    client: &Client,
    flavour: &Flavour,
    cl_res: &ApiResource,
    cluster_written: bool,
    lp: &ListParams,
    out: &mut PolicyReportOutcome,
) {
    let cl: Api<DynamicObject> = Api::all_with(client.clone(), cl_res);
    match cl.list(lp).await {
        Ok(list) => {
            for old in list.items {
                let Some(name) = old.metadata.name.clone() else {
                    continue;
                };
                if name == REPORT_NAME && cluster_written {
                    continue;
                }
                match cl.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => out.deleted += 1,
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => out.errors.push(format!("delete {} {name}: {e}", flavour.cluster_kind)),
                }
            }
        }
        Err(e) => out.errors.push(format!("list {}: {e}", flavour.cluster_plural)),
    }
}

/// Publish `report` as PolicyReports and, when served, OpenReports. `only_namespace` (a scan
/// with `-n`): write and prune that namespace's report only, never the cluster report.
pub async fn publish_policy_reports(
    client: &Client,
    report: &Report,
    cluster: &Cluster,
    only_namespace: Option<&str>,
) -> PolicyReportOutcome {
    let mut out = PolicyReportOutcome::default();
    let mut by_scope = results(report, cluster);
    if let Some(ns) = only_namespace {
        by_scope.retain(|scope, _| scope.as_deref() == Some(ns));
    }
    let prune = Prune { only_namespace };
    for flavour in [WGPOLICY, OPENREPORTS] {
        match served(client, &flavour).await {
            Ok(true) => {
                publish_flavour(client, &flavour, &by_scope, report, cluster, prune, &mut out).await;
                out.written.push(flavour.api_version());
            }
            Ok(false) => out.skipped.push(format!(
                "{}: not served (install the {} CRDs to get {}s)",
                flavour.api_version(),
                flavour.group,
                flavour.kind
            )),
            Err(e) => out.errors.push(format!("discovery of {}: {e}", flavour.api_version())),
        }
    }
    out
}
