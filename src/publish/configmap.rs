//! The report ConfigMap: the latest report (cut to fit), counts as labels, and the
//! fingerprints of the findings so the next run can tell which ones were resolved.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::{Value, json};

use super::fingerprint;
use crate::report::Report;
use crate::rules::Severity;

pub const REPORT_KEY: &str = "report.json";
/// `{"<fingerprint>": {"rule": ..., "object": {...}}}` of the findings in this report.
pub const FINGERPRINTS_KEY: &str = "fingerprints.json";
/// The cluster's name (as a label value) and its `kube-system` UID, so a fleet of report
/// ConfigMaps (or a backup of one) says which cluster each is from.
pub const CLUSTER_LABEL: &str = "harvester-hygiene.io/cluster";
pub const CLUSTER_UID_LABEL: &str = "harvester-hygiene.io/cluster-uid";
/// A ConfigMap holds at most 1 MiB; keep clear of it.
const REPORT_BUDGET: usize = 700 * 1024;
const FINGERPRINT_BUDGET: usize = 250 * 1024;

/// The report JSON, cut to the summary plus the most severe findings when it is too large.
pub fn fit_report(report: &Report, budget: usize) -> String {
    let full = serde_json::to_string(report).unwrap_or_default();
    if full.len() <= budget {
        return full;
    }
    let mut doc: Value = serde_json::to_value(report).unwrap_or(Value::Null);
    let total = report.findings.len();
    // Findings are sorted most severe first: keep the longest prefix that fits.
    let (mut lo, mut hi) = (0usize, total);
    let render = |doc: &mut Value, n: usize| {
        doc["findings"] = Value::Array(
            report.findings[..n]
                .iter()
                .map(|f| serde_json::to_value(f).unwrap_or(Value::Null))
                .collect(),
        );
        doc["exempted"] = Value::Array(Vec::new());
        doc["truncated"] = json!({
            "findingsKept": n,
            "findingsTotal": total,
            "reason": "the full report does not fit in a ConfigMap; the summary counts every finding, and the job's log has one line per finding",
        });
        serde_json::to_string(doc).unwrap_or_default()
    };
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if render(&mut doc, mid).len() <= budget {
            lo = mid
        } else {
            hi = mid - 1
        }
    }
    render(&mut doc, lo)
}

/// Fingerprint map of the report's findings (most severe first, within the budget).
pub fn fingerprints(report: &Report, budget: usize) -> String {
    let mut map = serde_json::Map::new();
    let mut size = 2;
    for f in &report.findings {
        let v = json!({"rule": f.rule, "object": f.object});
        size += fingerprint(f).len() + v.to_string().len() + 6;
        if size > budget {
            break;
        }
        map.insert(fingerprint(f), v);
    }
    Value::Object(map).to_string()
}

fn count(report: &Report, s: Severity) -> String {
    report.summary.by_severity.get(&s).copied().unwrap_or(0).to_string()
}

/// The report ConfigMap's labels (counts, cluster) and annotations (when, totals, version).
fn labels_and_annotations(report: &Report) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "harvester-hygiene".to_string(),
        ),
        (
            "harvester-hygiene.io/errors".to_string(),
            count(report, Severity::Error),
        ),
        (
            "harvester-hygiene.io/warnings".to_string(),
            count(report, Severity::Warning),
        ),
        ("harvester-hygiene.io/info".to_string(), count(report, Severity::Info)),
    ]);
    let mut annotations = BTreeMap::from([
        (
            "harvester-hygiene.io/generated-at".to_string(),
            report.source.generated_at.clone(),
        ),
        (
            "harvester-hygiene.io/findings".to_string(),
            report.summary.total.to_string(),
        ),
        (
            "harvester-hygiene.io/incomplete".to_string(),
            report.summary.incomplete.to_string(),
        ),
        (
            "harvester-hygiene.io/harvester-version".to_string(),
            report.harvester_version.clone().unwrap_or_else(|| "unknown".into()),
        ),
    ]);
    if let Some(c) = &report.cluster {
        labels.insert(CLUSTER_LABEL.to_string(), super::label_value(&c.name));
        if let Some(uid) = &c.uid {
            labels.insert(CLUSTER_UID_LABEL.to_string(), super::label_value(uid));
        }
        annotations.insert("harvester-hygiene.io/cluster-name".to_string(), c.name.clone());
    }
    (labels, annotations)
}

/// Create or replace the report ConfigMap; returns the previous fingerprints (empty map when
/// there was no previous report).
pub async fn write_report(
    client: &Client,
    namespace: &str,
    name: &str,
    report: &Report,
) -> Result<BTreeMap<String, Value>, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let previous = api.get_opt(name).await?;
    let prev_fps: BTreeMap<String, Value> = previous
        .as_ref()
        .and_then(|cm| cm.data.as_ref())
        .and_then(|d| d.get(FINGERPRINTS_KEY))
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let (labels, annotations) = labels_and_annotations(report);
    let data = BTreeMap::from([
        (REPORT_KEY.to_string(), fit_report(report, REPORT_BUDGET)),
        (FINGERPRINTS_KEY.to_string(), fingerprints(report, FINGERPRINT_BUDGET)),
    ]);
    let mut cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    };
    match previous {
        Some(prev) => {
            // Optimistic lock: a concurrent writer makes this a conflict, not a lost update.
            cm.metadata.resource_version = prev.metadata.resource_version;
            api.replace(name, &PostParams::default(), &cm).await?;
        }
        None => {
            api.create(&PostParams::default(), &cm).await?;
        }
    }
    Ok(prev_fps)
}
