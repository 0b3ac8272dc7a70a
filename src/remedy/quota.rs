//! `migration-annotation-stale` → remove the annotation, and where `spec.hard` is still raised
//! by it set `spec.hard` to the namespace's Rancher base plus the remaining entries, in the
//! same update. The target is computed from the base (`field.cattle.io/resourceQuota` on the
//! Namespace, which Rancher resets `spec.hard` to: rancher/rancher
//! `pkg/controllers/managementuser/resourcequota/resource_quota_sync.go`) and never from
//! `spec.hard` alone, so it is never below the base; when `spec.hard` matches neither "base +
//! all entries" nor "base + remaining", or the base cannot be read on a version that scaled
//! `spec.hard` (v1.4.1 and earlier, harvester/harvester#7178), nothing is written and the plan
//! says to fix it by hand. From v1.4.2-rc2 the quota controller recomputes `spec.hard` itself
//! (harvester/harvester `pkg/controller/master/resourcequota/resourcequota_controller.go`), so
//! only the annotation goes. One `replace` with the scan's resourceVersion: a quota that changed
//! since is a conflict, not a lost update.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceQuota as K8sQuota;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Client;
use kube::api::{Api, PostParams};
use serde::Serialize;

use super::{Action, ActionKind, Backup, Exec, Fix, PlanContext, Status, StepResult, write_error};
use crate::inventory::kinds::ResourceQuota;
use crate::quantity::format_milli;
use crate::rules::migration_annotation_stale::{Hard, describe_lines, hard_scaled, hard_state};
use crate::rules::{Finding, FixInput};

/// Remove a stale migration annotation (and subtract its ResourceList from `spec.hard`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveQuotaAnnotation {
    pub key: String,
    /// Kept in the contract for old reports; no longer planned (empty).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subtract_from_hard: BTreeMap<String, String>,
    /// `spec.hard` values to write: the Rancher base plus the remaining entries.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set_hard: BTreeMap<String, String>,
}

impl Fix for RemoveQuotaAnnotation {
    const RULES: &'static [&'static str] = &[crate::rules::migration_annotation_stale::ID];

    fn plan(f: &Finding, ctx: &PlanContext<'_>) -> Option<(ActionKind, String)> {
        plan(f, ctx)
    }

    async fn apply(&self, cx: &mut Exec<'_>, action: &Action) -> StepResult {
        apply(cx.client, action, self, cx.dry_run, cx.backup).await
    }
}

fn plan(f: &Finding, ctx: &PlanContext<'_>) -> Option<(ActionKind, String)> {
    let inv = ctx.inv;
    let rq = inv.objects::<ResourceQuota>().iter().find(|q| q.metadata.is(&f.object))?;
    let Some(FixInput::QuotaAnnotation { annotation }) = &f.fix_input else {
        return None;
    };
    let key = annotation.clone();
    rq.metadata.annotations.get(&key)?;
    let remove = |set_hard: BTreeMap<String, String>, why: &str| {
        let description = if set_hard.is_empty() {
            format!("remove annotation {key} from ResourceQuota {}{why}", f.object.key())
        } else {
            format!(
                "remove annotation {key} from ResourceQuota {} and set spec.hard {} (the Rancher base plus the \
                 remaining entries)",
                f.object.key(),
                set_hard
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        Some((
            ActionKind::RemoveQuotaAnnotation(RemoveQuotaAnnotation {
                key: key.clone(),
                subtract_from_hard: BTreeMap::new(),
                set_hard,
            }),
            description,
        ))
    };
    let manual = |reason: String| {
        Some((
            ActionKind::Manual {
                reason: format!("fix by hand: {reason}"),
            },
            format!("leave ResourceQuota {} for a person", f.object.key()),
        ))
    };
    let hard_scaled = hard_scaled(inv);
    if hard_scaled == Some(false) {
        // The quota controller recomputes spec.hard from the base and the remaining entries.
        return remove(BTreeMap::new(), "");
    }
    match hard_state(inv, rq, &key) {
        Hard::Inflated(lines) => remove(
            lines
                .iter()
                .filter_map(|l| {
                    let target = l.with_remaining()?.max(l.base);
                    let like = rq.spec.hard.get(&l.resource).map_or("", String::as_str);
                    Some((l.resource.clone(), format_milli(target, like)))
                })
                .collect(),
            "",
        ),
        Hard::Settled(_) => remove(
            BTreeMap::new(),
            " (spec.hard is already the base plus the other entries)",
        ),
        Hard::Neither(lines) => manual(format!(
            "spec.hard of ResourceQuota {} matches neither the Rancher base plus all migration entries nor the base \
             plus the remaining ones, so the right value cannot be told: {}",
            f.object.key(),
            describe_lines(&lines)
        )),
        Hard::Malformed(why) => manual(format!("ResourceQuota {}: {why}", f.object.key())),
        Hard::BaseUnknown(why) if hard_scaled == Some(true) => manual(format!(
            "on this version spec.hard was raised by the entry, and the Rancher base it must not go below is unknown \
             ({why})"
        )),
        Hard::BaseUnknown(why) => remove(
            BTreeMap::new(),
            &format!(" (spec.hard left as it is: Harvester version and the Rancher base unknown, {why})"),
        ),
    }
}

async fn apply(
    client: &Client,
    action: &Action,
    fix: &RemoveQuotaAnnotation,
    dry_run: bool,
    backup: Option<&Backup>,
) -> StepResult {
    let RemoveQuotaAnnotation {
        key,
        subtract_from_hard,
        set_hard,
    } = fix;
    let ns = action
        .object
        .namespace
        .as_deref()
        .ok_or("ResourceQuota without namespace")?;
    let api: Api<K8sQuota> = Api::namespaced(client.clone(), ns);
    let mut rq = match api.get_opt(&action.object.name).await {
        Ok(Some(q)) => q,
        Ok(None) => return Ok((Status::AlreadyDone, "ResourceQuota gone".into())),
        Err(e) => return write_error("get ResourceQuota", e),
    };
    if rq.metadata.uid != action.object.uid {
        return Ok((
            Status::Skipped,
            "ResourceQuota replaced since the scan: not touched".into(),
        ));
    }
    if !rq.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(key)) {
        return Ok((Status::AlreadyDone, format!("annotation {key} already removed")));
    }
    if let Some(b) = backup {
        let mut v = serde_json::to_value(&rq).map_err(|e| e.to_string())?;
        v["apiVersion"] = "v1".into();
        v["kind"] = "ResourceQuota".into();
        let d = b.save(&v)?;
        b.audit_before("ResourceQuota", &v, &d)?;
    }
    let mut detail = vec![format!("removed {key}")];
    if let Some(a) = rq.metadata.annotations.as_mut() {
        a.remove(key);
    }
    if !subtract_from_hard.is_empty() {
        // Plans of earlier versions (saved reports) are not replayed blindly.
        return Ok((
            Status::Skipped,
            "a subtract-from-spec.hard plan from an older version: plan again".into(),
        ));
    }
    if !set_hard.is_empty() {
        let hard = rq
            .spec
            .get_or_insert_with(Default::default)
            .hard
            .get_or_insert_with(Default::default);
        for (res, target) in set_hard {
            let before = hard.get(res).map_or("(unset)".to_string(), |q| q.0.clone());
            detail.push(format!("spec.hard.{res} {before} -> {target}"));
            hard.insert(res.clone(), Quantity(target.clone()));
        }
    }
    // The scan's resourceVersion: a quota changed since then is a 409, not overwritten.
    rq.metadata.resource_version = action.object.resource_version.clone();
    let pp = PostParams {
        dry_run,
        ..PostParams::default()
    };
    match api.replace(&action.object.name, &pp, &rq).await {
        Ok(_) => Ok((if dry_run { Status::DryRunOk } else { Status::Done }, detail.join("; "))),
        Err(e) => write_error("update ResourceQuota", e),
    }
}
