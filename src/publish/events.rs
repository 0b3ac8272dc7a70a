//! Core `v1` Events on the offending objects, the kind the Harvester and Rancher UIs show:
//! Harvester's VM page filters Events on `firstTimestamp` and Rancher's tabs match them on
//! `involvedObject.uid`, so `events.k8s.io/v1` Events (no `firstTimestamp`) never appear there.
//!
//! One Warning Event (reason = rule id) per active finding per run, and one Normal Event per
//! finding of the previous report that is gone. Names are deterministic
//! (`<object>.<fingerprint>` and `<object>.<fingerprint>.resolved`), so an Event that the
//! apiserver has not yet expired (`--event-ttl`, 1 h by default) is updated (`count` + 1,
//! `lastTimestamp`, message) instead of duplicated, and one that expired is created anew.
//! Events of cluster-scoped objects go to `default`, as the kubelet's Node events do
//! (kubernetes/kubernetes `pkg/apis/core/validation/events.go` accepts only `default` or no
//! namespace for them).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::Client;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{fingerprint, truncate_bytes};
use crate::meta::ObjectRef;
use crate::report::Report;

/// Event messages are kept to 1 KiB, the limit `events.k8s.io` puts on notes.
pub const NOTE_MAX: usize = 1024;
/// `source.component` and `reportingComponent` of every Event the job writes.
pub const COMPONENT: &str = "harvester-hygiene";
/// Where Events of cluster-scoped objects go.
const CLUSTER_SCOPED_NAMESPACE: &str = "default";
/// `reportingInstance` is limited to 128 characters.
const INSTANCE_MAX: usize = 128;

#[derive(Debug, Default, Clone, Copy)]
pub struct EventSummary {
    /// Warning Events written this run (created or updated).
    pub warnings: usize,
    /// Of those, how many updated an Event that still existed.
    pub updated: usize,
    pub resolved: usize,
    pub failed: usize,
    /// Active findings beyond `max` that got no event this run.
    pub skipped: usize,
}

fn reference(o: &ObjectRef) -> ObjectReference {
    ObjectReference {
        api_version: Some(o.api_version.clone()),
        kind: Some(o.kind.clone()),
        namespace: o.namespace.clone(),
        name: Some(o.name.clone()),
        uid: o.uid.clone(),
        ..Default::default()
    }
}

/// The deterministic Event name for one finding (a DNS subdomain of at most 253 characters):
/// the object's name cut and cleaned, then the fingerprint, then `suffix`.
pub fn event_name(object_name: &str, fp: &str, suffix: &str) -> String {
    let mut base: String = object_name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '.') => c,
            _ => '-',
        })
        .take(200)
        .collect();
    while base.ends_with(['-', '.']) {
        base.pop();
    }
    while base.starts_with(['-', '.']) {
        base.remove(0);
    }
    let mut name = if base.is_empty() {
        format!("hh.{fp}")
    } else {
        format!("{base}.{fp}")
    };
    name.push_str(suffix);
    name
}

/// What one Event says.
struct Spec<'a> {
    object: &'a ObjectRef,
    name: String,
    type_: &'static str,
    reason: &'a str,
    message: String,
}

/// Create the Event, or, when one of that name still exists, update it in place: `count` + 1,
/// `lastTimestamp` now, the new message; `firstTimestamp` is kept. Returns whether it updated.
async fn upsert(client: &Client, spec: &Spec<'_>, instance: &Option<String>, now: &Time) -> Result<bool, kube::Error> {
    // A concurrent writer (another run, or the apiserver expiring the Event) makes a step
    // conflict: read again, at most three times.
    let mut tries = 0;
    loop {
        match upsert_once(client, spec, instance, now).await {
            Err(kube::Error::Api(s)) if s.code == 409 && tries < 2 => tries += 1,
            other => return other,
        }
    }
}

async fn upsert_once(
    client: &Client,
    spec: &Spec<'_>,
    instance: &Option<String>,
    now: &Time,
) -> Result<bool, kube::Error> {
    let ns = spec
        .object
        .namespace
        .clone()
        .unwrap_or_else(|| CLUSTER_SCOPED_NAMESPACE.to_string());
    let api: Api<Event> = Api::namespaced(client.clone(), &ns);
    if let Some(old) = api.get_opt(&spec.name).await? {
        let count = old.count.unwrap_or(1).saturating_add(1);
        let patch = json!({
            "metadata": {"resourceVersion": old.metadata.resource_version},
            "type": spec.type_,
            "reason": spec.reason,
            "message": spec.message,
            "count": count,
            "lastTimestamp": now,
            "involvedObject": reference(spec.object),
            "reportingInstance": instance,
        });
        api.patch(&spec.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        return Ok(true);
    }
    let ev = Event {
        metadata: ObjectMeta {
            name: Some(spec.name.clone()),
            namespace: Some(ns),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                COMPONENT.to_string(),
            )])),
            ..Default::default()
        },
        involved_object: reference(spec.object),
        type_: Some(spec.type_.to_string()),
        reason: Some(spec.reason.to_string()),
        message: Some(spec.message.clone()),
        count: Some(1),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now.clone()),
        source: Some(EventSource {
            component: Some(COMPONENT.to_string()),
            host: None,
        }),
        reporting_component: Some(COMPONENT.to_string()),
        reporting_instance: instance.clone(),
        action: Some("Scan".to_string()),
        event_time: None::<MicroTime>,
        ..Default::default()
    };
    api.create(&PostParams::default(), &ev).await?;
    Ok(false)
}

/// Publish events for `report`; `previous` are the fingerprints of the last report.
pub async fn emit_events(
    client: &Client,
    instance: Option<String>,
    report: &Report,
    previous: &BTreeMap<String, Value>,
    max: usize,
) -> EventSummary {
    let instance = instance.map(|i| truncate_bytes(&i, INSTANCE_MAX));
    let now = Time(jiff::Timestamp::now());
    let mut summary = EventSummary::default();
    let mut current = BTreeSet::new();
    let mut emitted = 0usize;
    for f in &report.findings {
        let fp = fingerprint(f);
        // One Event per finding: a second finding of the same rule on the same object (same
        // fingerprint) would only bump the first one's count.
        if !current.insert(fp.clone()) {
            continue;
        }
        if emitted >= max {
            summary.skipped += 1;
            continue;
        }
        emitted += 1;
        let spec = Spec {
            object: &f.object,
            name: event_name(&f.object.name, &fp, ""),
            type_: "Warning",
            reason: &f.rule,
            message: truncate_bytes(&format!("[{}] {}", f.severity, f.message), NOTE_MAX),
        };
        match upsert(client, &spec, &instance, &now).await {
            Ok(updated) => {
                summary.warnings += 1;
                summary.updated += usize::from(updated);
            }
            Err(_) => summary.failed += 1,
        }
    }
    for (fp, v) in previous {
        if current.contains(fp) {
            continue;
        }
        let Some(obj) = v
            .get("object")
            .and_then(|o| serde_json::from_value::<ObjectRef>(o.clone()).ok())
        else {
            continue;
        };
        let rule = v.get("rule").and_then(Value::as_str).unwrap_or("finding").to_string();
        let spec = Spec {
            object: &obj,
            name: event_name(&obj.name, fp, ".resolved"),
            type_: "Normal",
            reason: &rule,
            message: truncate_bytes(
                &format!("resolved: {rule} no longer finds a problem with {}", obj.key()),
                NOTE_MAX,
            ),
        };
        match upsert(client, &spec, &instance, &now).await {
            Ok(_) => summary.resolved += 1,
            Err(_) => summary.failed += 1,
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_dns_subdomains() {
        assert_eq!(
            event_name("ubuntu-22", "0123456789abcdef", ""),
            "ubuntu-22.0123456789abcdef"
        );
        assert_eq!(
            event_name("Foo_Bar-", "0123456789abcdef", ".resolved"),
            "foo-bar.0123456789abcdef.resolved"
        );
        assert_eq!(event_name("__", "0123456789abcdef", ""), "hh.0123456789abcdef");
        let long = event_name(&"a".repeat(300), "0123456789abcdef", ".resolved");
        assert!(long.len() <= 253, "{}", long.len());
    }
}
