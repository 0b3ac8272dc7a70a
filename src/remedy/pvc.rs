//! `orphaned-guest-pvc` and `vm-disk-orphaned` → retain, then delete. Harvester's Longhorn classes use
//! `reclaimPolicy: Delete`, so a plain PVC delete would destroy the data: first the bound PV
//! is switched to `Retain`, then the PVC is deleted with uid and resourceVersion
//! preconditions. The Longhorn volume survives on a Released PV.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim as K8sPvc};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde::Serialize;
use serde_json::json;

use super::{Action, ActionKind, Backup, Exec, ExecOptions, Fix, PlanContext, Status, StepResult, write_error};
use crate::inventory::kinds::PersistentVolumeClaim;
use crate::inventory::kinds::virtual_machine::GUEST_CLUSTER_LABEL;
use crate::rules::{Confidence, Finding, FixInput};

pub const RETAINED_AT: crate::meta::Key = crate::meta::Key::new("harvester-hygiene.io/retained-at");
pub const RETAINED_FROM: crate::meta::Key = crate::meta::Key::new("harvester-hygiene.io/retained-from");
/// Evidence on a fresh finding that stops a planned delete (the guard, re-applied at apply time).
pub const GUARD_EVIDENCE: &[&str] = &[
    "living-guest-vm:",
    "unmatched-credentials:",
    "alive-credentials:",
    "unknown-kind:",
];

/// Switch the bound PV to `Retain`, then delete the PVC: the data survives on a Released PV.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetainAndDeletePvc {
    pub persistent_volume: Option<String>,
    pub owned_snapshots: Vec<String>,
    pub attributed_by_label: bool,
    /// The finding's confidence: `fix` plans `proven` and `likely`, the job only `proven`.
    pub confidence: Confidence,
}

impl Fix for RetainAndDeletePvc {
    const RULES: &'static [&'static str] = &[crate::rules::orphaned_guest_pvc::ID, crate::rules::vm_disk_orphaned::ID];

    fn plan(f: &Finding, ctx: &PlanContext<'_>) -> Option<(ActionKind, String)> {
        if f.rule == crate::rules::vm_disk_orphaned::ID {
            plan_vm_disk(f, ctx)
        } else {
            plan(f, ctx)
        }
    }

    fn recheck(&self, now: &Finding, opts: &ExecOptions<'_>) -> Option<String> {
        // The fresh finding must still carry the evidence the plan was made on.
        if now.confidence < Confidence::Likely || now.confidence < self.confidence {
            return Some(format!(
                "the evidence weakened since the plan (now {}): not touched",
                now.confidence
            ));
        }
        if let Some(e) = now
            .evidence
            .iter()
            .find(|e| GUARD_EVIDENCE.iter().any(|g| e.starts_with(g)))
        {
            return Some(format!("a guest cluster may be alive ({e}): not touched"));
        }
        if !self.owned_snapshots.is_empty() && !opts.include_owned_snapshots {
            return Some(format!(
                "it owns VolumeSnapshots ({}), which deleting it would delete: skipped (use --include-owned-snapshots)",
                self.owned_snapshots.join(", ")
            ));
        }
        None
    }

    async fn apply(&self, cx: &mut Exec<'_>, action: &Action) -> StepResult {
        apply(cx.client, action, self, cx.dry_run, cx.backup).await
    }
}

/// `orphaned-guest-pvc`: `proven` and `likely` findings, behind the guest-cluster guard.
fn plan(f: &Finding, ctx: &PlanContext<'_>) -> Option<(ActionKind, String)> {
    let inv = ctx.inv;
    // Fixability comes from evidence, never from severity (a policy may override severities):
    // only `proven` and `likely` findings, i.e. unused, unreferenced and attributed to a dead
    // cluster. `possible` ones (age only, unknown kinds, a cluster we cannot see) are never
    // planned.
    if f.confidence < Confidence::Likely {
        return None;
    }
    let pvc = the_pvc(f, inv)?;
    // The guard, independent of how the rule judged: never in a namespace that holds a living
    // guest-cluster VM or credentials that are not a dead cluster's.
    let ns = pvc.metadata.namespace.as_deref().unwrap_or("");
    if let Some(reason) = ctx.guests().unsafe_to_fix(ns) {
        return Some((
            ActionKind::Manual {
                reason: format!(
                    "not deleted: {reason}; a living guest cluster may own PVC {}",
                    f.object.key()
                ),
            },
            format!("leave PVC {} (guest cluster may be alive)", f.object.key()),
        ));
    }
    retain_and_delete(f, pvc)
}

/// `vm-disk-orphaned`: the same retain-then-delete, for `proven` and `likely` findings (the VM
/// the volume's history names is gone, no VM, VMI, pod or image references the disk). The
/// guest-cluster guard does not apply: a VM disk is named after its VM, not by a guest CSI
/// driver; the fresh re-scan before acting re-checks every reference.
fn plan_vm_disk(f: &Finding, ctx: &PlanContext<'_>) -> Option<(ActionKind, String)> {
    if f.confidence < Confidence::Likely {
        return None;
    }
    retain_and_delete(f, the_pvc(f, ctx.inv)?)
}

fn the_pvc<'a>(f: &Finding, inv: &'a crate::inventory::Inventory) -> Option<&'a PersistentVolumeClaim> {
    inv.objects::<PersistentVolumeClaim>().iter().find(|p| p.metadata.is(&f.object))
}

fn retain_and_delete(f: &Finding, pvc: &PersistentVolumeClaim) -> Option<(ActionKind, String)> {
    let pv = Some(pvc.spec.volume_name.to_string()).filter(|v| !v.is_empty());
    let owned_snapshots = match &f.fix_input {
        Some(FixInput::OrphanPvc { owned_snapshots }) => owned_snapshots.clone(),
        _ => return None,
    };
    let description = match &pv {
        Some(pv) => format!(
            "set PV {pv} to reclaimPolicy Retain, then delete PVC {}",
            f.object.key()
        ),
        None => format!("delete unbound PVC {}", f.object.key()),
    };
    let attributed_by_label = pvc.metadata.label(GUEST_CLUSTER_LABEL).is_some();
    Some((
        ActionKind::RetainAndDeletePvc(RetainAndDeletePvc {
            persistent_volume: pv,
            owned_snapshots,
            attributed_by_label,
            confidence: f.confidence,
        }),
        description,
    ))
}

/// Save `obj` (of `kind`, core v1) to the backup and the audit log before it is changed.
fn back_up(b: &Backup, obj: &impl Serialize, kind: &str) -> Result<(), String> {
    let v = serde_json::to_value(obj).map_err(|e| e.to_string())?;
    let d = b.save(&with_kind(v.clone(), "v1", kind))?;
    b.audit_before(kind, &with_kind(v, "v1", kind), &d)?;
    Ok(())
}

/// Set the PVC's PV to `Retain` (backed up first). `Ok`: what was done, and the PVC may go;
/// `Err`: the step's result, and the PVC must stay (its data is not retained).
async fn retain_pv(
    client: &Client,
    pv_name: &str,
    action: &Action,
    dry_run: bool,
    backup: Option<&Backup>,
) -> Result<String, StepResult> {
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pv = match pvs.get_opt(pv_name).await {
        Ok(Some(pv)) => pv,
        Ok(None) => return Ok(format!("PV {pv_name} does not exist: nothing to retain")),
        Err(e) => return Err(write_error(&format!("get PV {pv_name}"), e)),
    };
    if let Some(b) = backup {
        back_up(b, &pv, "PersistentVolume").map_err(Err)?;
    }
    let patch = json!({
        "metadata": {
            "resourceVersion": pv.metadata.resource_version,
            "annotations": {RETAINED_AT: jiff::Timestamp::now().to_string(), RETAINED_FROM: action.object.key()},
        },
        "spec": {"persistentVolumeReclaimPolicy": "Retain"},
    });
    let pp = PatchParams {
        dry_run,
        ..PatchParams::default()
    };
    if let Err(e) = pvs.patch(pv_name, &pp, &Patch::Merge(&patch)).await {
        // Never delete the PVC unless its data is retained.
        return Err(match write_error(&format!("retain PV {pv_name}"), e) {
            Ok((Status::AlreadyDone, _)) => Err(format!(
                "PV {pv_name} disappeared before it could be retained: PVC not deleted"
            )),
            other => other,
        });
    }
    Ok(format!("PV {pv_name} set to Retain"))
}

async fn apply(
    client: &Client,
    action: &Action,
    fix: &RetainAndDeletePvc,
    dry_run: bool,
    backup: Option<&Backup>,
) -> StepResult {
    let persistent_volume = &fix.persistent_volume;
    let ns = action.object.namespace.as_deref().ok_or("PVC without namespace")?;
    let name = &action.object.name;
    let pvcs: Api<K8sPvc> = Api::namespaced(client.clone(), ns);
    let current = match pvcs.get_opt(name).await {
        Ok(Some(p)) => p,
        Ok(None) => return Ok((Status::AlreadyDone, "PVC already gone".into())),
        Err(e) => return write_error("get PVC", e),
    };
    if current.metadata.deletion_timestamp.is_some() {
        // Without its users the pvc-protection finalizer completes the delete; nothing to do.
        return Ok((Status::AlreadyDone, "PVC already being deleted".into()));
    }
    if current.metadata.uid != action.object.uid || current.metadata.resource_version != action.object.resource_version
    {
        return Ok((Status::Skipped, "PVC changed since the scan: not touched".into()));
    }
    if let Some(b) = backup {
        back_up(b, &current, "PersistentVolumeClaim")?;
    }
    let mut detail = Vec::new();
    if let Some(pv_name) = persistent_volume {
        match retain_pv(client, pv_name, action, dry_run, backup).await {
            Ok(done) => detail.push(done),
            Err(step) => return step,
        }
    }
    let dp = DeleteParams {
        dry_run,
        preconditions: Some(Preconditions {
            uid: action.object.uid.clone(),
            resource_version: action.object.resource_version.clone(),
        }),
        ..DeleteParams::default()
    };
    match pvcs.delete(name, &dp).await {
        Ok(_) => {
            detail.push(format!("PVC {} deleted", action.object.key()));
            Ok((if dry_run { Status::DryRunOk } else { Status::Done }, detail.join("; ")))
        }
        Err(e) => write_error("delete PVC", e).map(|(s, d)| {
            detail.push(d);
            (s, detail.join("; "))
        }),
    }
}

fn with_kind(mut v: serde_json::Value, api_version: &str, kind: &str) -> serde_json::Value {
    v["apiVersion"] = json!(api_version);
    v["kind"] = json!(kind);
    v
}
