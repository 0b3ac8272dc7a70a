//! `fix --purge-retained-older-than D`: the explicit second step after `orphaned-guest-pvc`.
//! A PV that `fix` switched to `Retain` (annotation `harvester-hygiene.io/retained-at`) keeps
//! the Longhorn volume's data after its PVC is deleted. Once it has been retained longer than
//! `D` and its claim is really gone, the purge sets it back to `reclaimPolicy: Delete`, and
//! Kubernetes' PV controller deletes the Longhorn volume and the PV. Never part of the run that
//! deleted the PVC: `fix` plans either fixes or a purge.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::json;

use super::pvc::{RETAINED_AT, RETAINED_FROM};
use super::{Action, ActionKind, Backup, Exec, Fix, PlanContext, Status, StepResult, write_error};
use crate::meta::ObjectRef;
use crate::rules::Finding;

/// Retained PVs older than `older_than` whose claim no longer exists.
/// With `namespace` (`-n`), only PVs retained from PVCs of that namespace.
pub async fn plan(
    client: &Client,
    older_than: Duration,
    now: jiff::Timestamp,
    namespace: Option<&str>,
) -> Result<Vec<Action>, String> {
    // A duration too long to subtract from now purges nothing (never "everything").
    let cutoff = jiff::SignedDuration::try_from(older_than)
        .ok()
        .and_then(|d| now.checked_sub(d).ok())
        .ok_or_else(|| format!("--purge-retained-older-than {older_than:?} is longer than the clock can go back"))?;
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let list = pvs
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("list PersistentVolumes: {e}"))?;
    let mut actions = Vec::new();
    for pv in list.items {
        let ann = pv.metadata.annotations.clone().unwrap_or_default();
        if let Some(ns) = namespace {
            let claim_ns = pv
                .spec
                .as_ref()
                .and_then(|s| s.claim_ref.as_ref())
                .and_then(|c| c.namespace.as_deref());
            let from_ns = ann
                .get(RETAINED_FROM.as_str())
                .and_then(|f| f.split_once('/'))
                .map(|(n, _)| n);
            if claim_ns.or(from_ns) != Some(ns) {
                continue;
            }
        }
        let Some(at) = ann
            .get(RETAINED_AT.as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        else {
            continue;
        };
        let retain = pv
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
            == Some("Retain");
        if at > cutoff || !retain || claim_exists(client, &pv).await? {
            continue;
        }
        let name = pv.metadata.name.clone().unwrap_or_default();
        let from = ann.get(RETAINED_FROM.as_str()).cloned().unwrap_or_default();
        actions.push(Action {
            id: actions.len() + 1,
            rule: crate::rules::orphaned_guest_pvc::ID.into(),
            fingerprint: String::new(),
            object: ObjectRef {
                api_version: "v1".into(),
                kind: "PersistentVolume".into(),
                namespace: None,
                name: name.clone(),
                uid: pv.metadata.uid.clone(),
                resource_version: pv.metadata.resource_version.clone(),
                ..ObjectRef::default()
            },
            description: format!(
                "purge PV {name} (retained at {at} from PVC {from}): set reclaimPolicy Delete, so Kubernetes deletes its volume and data"
            ),
            action: ActionKind::PurgeRetainedPv(PurgeRetainedPv {
                retained_at: at.to_string(),
                retained_from: from,
            }),
        });
    }
    Ok(actions)
}

/// Whether the PV's claim still exists (same uid): then it is in use again, not purgeable.
async fn claim_exists(client: &Client, pv: &PersistentVolume) -> Result<bool, String> {
    let Some(claim) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return Ok(false);
    };
    let (Some(ns), Some(name)) = (claim.namespace.as_deref(), claim.name.as_deref()) else {
        return Ok(false);
    };
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    match api.get_opt(name).await {
        Ok(Some(pvc)) => Ok(claim.uid.is_none() || pvc.metadata.uid == claim.uid),
        Ok(None) => Ok(false),
        Err(e) => Err(format!("get PVC {ns}/{name}: {e}")),
    }
}

/// `--purge-retained-older-than`: set a retained PV back to `Delete` (its data goes).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeRetainedPv {
    pub retained_at: String,
    pub retained_from: String,
}

impl Fix for PurgeRetainedPv {
    /// Not planned from findings: `fix --purge-retained-older-than` lists the PVs ([`plan`]).
    const RULES: &'static [&'static str] = &[];
    /// Not a finding: the purge re-reads the PV and its claim itself just before acting.
    const RECHECK: bool = false;

    fn plan(_: &Finding, _: &PlanContext<'_>) -> Option<(ActionKind, String)> {
        None
    }

    async fn apply(&self, cx: &mut Exec<'_>, action: &Action) -> StepResult {
        apply(cx.client, action, cx.dry_run, cx.backup).await
    }
}

async fn apply(client: &Client, action: &Action, dry_run: bool, backup: Option<&Backup>) -> StepResult {
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let name = &action.object.name;
    let pv = match pvs.get_opt(name).await {
        Ok(Some(pv)) => pv,
        Ok(None) => return Ok((Status::AlreadyDone, "PV already gone".into())),
        Err(e) => return write_error("get PV", e),
    };
    if pv.metadata.uid != action.object.uid || pv.metadata.resource_version != action.object.resource_version {
        return Ok((Status::Skipped, "PV changed since the plan: not touched".into()));
    }
    if claim_exists(client, &pv).await? {
        return Ok((Status::Skipped, "its PVC exists again: not touched".into()));
    }
    if let Some(b) = backup {
        let mut v = serde_json::to_value(&pv).map_err(|e| e.to_string())?;
        v["apiVersion"] = json!("v1");
        v["kind"] = json!("PersistentVolume");
        let d = b.save(&v)?;
        b.audit_before("PersistentVolume", &v, &d)?;
    }
    let patch = json!({
        "metadata": {"resourceVersion": pv.metadata.resource_version},
        "spec": {"persistentVolumeReclaimPolicy": "Delete"},
    });
    let pp = PatchParams {
        dry_run,
        ..PatchParams::default()
    };
    match pvs.patch(name, &pp, &Patch::Merge(&patch)).await {
        Ok(_) => Ok((
            if dry_run { Status::DryRunOk } else { Status::Done },
            format!("PV {name} set to reclaimPolicy Delete: the PV controller deletes its volume"),
        )),
        Err(e) => write_error(&format!("purge PV {name}"), e),
    }
}
