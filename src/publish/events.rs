//! Kubernetes Events on the offending objects, through kube-runtime's recorder: Warning
//! (reason = rule id) for each active finding, Normal when a finding of the previous run is
//! gone. The recorder de-duplicates per process, and the job is a new process each run, so
//! each active finding gets one event per run.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::Value;

use super::{fingerprint, truncate_bytes};
use crate::meta::ObjectRef;
use crate::report::Report;

/// events.k8s.io notes are limited to 1 KiB.
const NOTE_MAX: usize = 1024;

#[derive(Debug, Default, Clone, Copy)]
pub struct EventSummary {
    pub warnings: usize,
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

/// Publish events for `report`; `previous` are the fingerprints of the last report.
pub async fn emit_events(
    client: &Client,
    instance: Option<String>,
    report: &Report,
    previous: &BTreeMap<String, Value>,
    max: usize,
) -> EventSummary {
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "harvester-hygiene".into(),
            instance,
        },
    );
    let mut summary = EventSummary::default();
    let mut current = BTreeSet::new();
    for (i, f) in report.findings.iter().enumerate() {
        current.insert(fingerprint(f));
        if f.object.namespace.is_none() {
            continue; // Events of cluster-scoped objects would land in `default`.
        }
        if i >= max {
            summary.skipped += 1;
            continue;
        }
        let ev = Event {
            type_: EventType::Warning,
            reason: f.rule.clone(),
            note: Some(truncate_bytes(&format!("[{}] {}", f.severity, f.message), NOTE_MAX)),
            action: "Scan".into(),
            secondary: None,
        };
        match recorder.publish(&ev, &reference(&f.object)).await {
            Ok(()) => summary.warnings += 1,
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
        if obj.namespace.is_none() {
            continue;
        }
        let rule = v.get("rule").and_then(Value::as_str).unwrap_or("finding").to_string();
        let ev = Event {
            type_: EventType::Normal,
            reason: rule.clone(),
            note: Some(truncate_bytes(
                &format!("resolved: {rule} no longer finds a problem with {}", obj.key()),
                NOTE_MAX,
            )),
            action: "Scan".into(),
            secondary: None,
        };
        match recorder.publish(&ev, &reference(&obj)).await {
            Ok(()) => summary.resolved += 1,
            Err(_) => summary.failed += 1,
        }
    }
    summary
}
