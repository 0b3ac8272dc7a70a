//! The job's remediation: mark → grace period → act. A run marks each new candidate with an
//! annotation; a later run acts only on a candidate that is still a candidate (same
//! finding, found fresh by that run's scan) after the grace period, with the same
//! preconditions, backups (to the log) and audit as `fix`. A marked object that is no longer
//! a candidate is unmarked. Only `orphaned-guest-pvc` PVCs attributed by their
//! guest-cluster label are ever acted on; inferred attribution is left to a person (`fix`).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::PersistentVolumeClaim as K8sPvc;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde_json::json;

use super::{ActionKind, ActionResult, Backup, ExecOptions, Mode, execute, plan};
use crate::finding::fingerprint;
use crate::inventory::Inventory;
use crate::inventory::kinds::PersistentVolumeClaim;
use crate::meta::{ObjectRef, parse_time};
use crate::rules::Finding;

pub const MARK: crate::meta::Key = crate::meta::Key::new("harvester-hygiene.io/remediation-candidate-since");
/// Rules the job can remediate.
pub const JOB_RULES: &[&str] = &[crate::rules::orphaned_guest_pvc::ID];

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Staged {
    pub marked: Vec<ObjectRef>,
    pub waiting: Vec<ObjectRef>,
    pub unmarked: Vec<ObjectRef>,
    pub acted: Vec<ActionResult>,
    pub errors: Vec<String>,
}

pub async fn run(
    client: &Client,
    inv: &Inventory,
    findings: &[Finding],
    grace: Duration,
    now: jiff::Timestamp,
    backup: &Backup,
) -> Staged {
    let mut out = Staged::default();
    let grace = jiff::SignedDuration::try_from(grace).unwrap_or(jiff::SignedDuration::from_hours(24));
    let candidates: Vec<_> = plan(findings, inv)
        .into_iter()
        .filter(|a| {
            // The job acts only on proven findings (the PVC's own cluster label names a dead
            // cluster), never on inferred ones.
            matches!(
                &a.action,
                ActionKind::RetainAndDeletePvc(p) if p.confidence == crate::rules::Confidence::Proven
            )
        })
        .collect();
    let fresh: BTreeMap<String, Finding> = findings.iter().map(|f| (fingerprint(f), f.clone())).collect();
    let pvcs = inv.objects::<PersistentVolumeClaim>();
    let mark_of = |o: &ObjectRef| {
        pvcs.iter()
            .find(|p| p.metadata.is(o))
            .and_then(|p| p.metadata.annotation(MARK).map(str::to_string))
    };
    let mut due = Vec::new();
    for action in &candidates {
        match mark_of(&action.object).as_deref().and_then(|m| parse_time(Some(m))) {
            None => match set_mark(client, &action.object, Some(now.to_string())).await {
                Ok(()) => out.marked.push(action.object.clone()),
                Err(e) => out.errors.push(e),
            },
            Some(since) if now.duration_since(since) >= grace => due.push(action.clone()),
            Some(_) => out.waiting.push(action.object.clone()),
        }
    }
    if !due.is_empty() {
        let exec = ExecOptions {
            mode: Mode::Apply,
            include_owned_snapshots: false,
            backup: Some(backup),
            openstack_insecure: false,
        };
        out.acted = execute(client, due, &fresh, &exec, &mut |_| true).await;
    }
    // Marked PVCs that are no longer candidates lose their mark.
    for p in pvcs
        .iter()
        .filter(|p| p.metadata.annotation(MARK).is_some() && p.metadata.deletion_timestamp.is_none())
    {
        let r = crate::inventory::Kind::object_ref(p);
        if !candidates.iter().any(|a| a.object.uid == r.uid) {
            match set_mark(client, &r, None).await {
                Ok(()) => out.unmarked.push(r),
                Err(e) => out.errors.push(e),
            }
        }
    }
    out
}

/// Set or remove the mark, with the scan's resourceVersion as a lock.
async fn set_mark(client: &Client, o: &ObjectRef, value: Option<String>) -> Result<(), String> {
    let ns = o.namespace.as_deref().ok_or("PVC without namespace")?;
    let api: Api<K8sPvc> = Api::namespaced(client.clone(), ns);
    let patch =
        json!({"metadata": {"resourceVersion": o.resource_version, "uid": o.uid, "annotations": {MARK: value}}});
    api.patch(&o.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(|_| ())
        .map_err(|e| format!("mark {}: {e}", o.key()))
}
