//! `migration-annotation-stale` → remove the annotation; on v1.4.1 and earlier also
//! subtract its ResourceList from `spec.hard` in the same update (from v1.4.2 the quota
//! controller recomputes `spec.hard` from the annotations). One `replace` with the scan's
//! resourceVersion: a quota that changed since is a conflict, not a lost update.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceQuota as K8sQuota;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Client;
use kube::api::{Api, PostParams};

use super::quantity::subtract;
use super::{Action, ActionKind, Backup, Status, StepResult, write_error};
use crate::inventory::Inventory;
use crate::inventory::kinds::ResourceQuota;
use crate::rules::Finding;
use crate::version::{Boundary, Version};

/// From v1.4.2-rc2 (not rc1) the quota controller recomputes spec.hard (harvester/harvester#7504,
/// `pkg/controller/master/resourcequota`); before it, the migration controller raised it.
const HARD_RECOMPUTED: Boundary = Boundary::new(Version::rc(1, 4, 2, 2)).dev_from(1, 6);

pub fn plan(f: &Finding, inv: &Inventory) -> Option<(ActionKind, String)> {
    let rq = inv.objects::<ResourceQuota>().iter().find(|q| {
        q.metadata.namespace == f.object.namespace && q.metadata.name == f.object.name && q.metadata.uid == f.object.uid
    })?;
    let key = f.details.get("annotation")?.clone();
    let value = rq.metadata.annotations.get(&key)?;
    let hard_scaled = inv
        .harvester_version
        .as_ref()
        .is_some_and(|v| v.before(&HARD_RECOMPUTED) == Some(true));
    let subtract_from_hard: BTreeMap<String, String> = if hard_scaled {
        serde_json::from_str(value).unwrap_or_default()
    } else {
        BTreeMap::new()
    };
    let description = if subtract_from_hard.is_empty() {
        format!("remove annotation {key} from ResourceQuota {}", f.object.key())
    } else {
        format!(
            "remove annotation {key} from ResourceQuota {} and subtract {} from spec.hard",
            f.object.key(),
            subtract_from_hard
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    Some((
        ActionKind::RemoveQuotaAnnotation {
            key,
            subtract_from_hard,
        },
        description,
    ))
}

pub async fn apply(client: &Client, action: &Action, dry_run: bool, backup: Option<&Backup>) -> StepResult {
    let ActionKind::RemoveQuotaAnnotation {
        key,
        subtract_from_hard,
    } = &action.action
    else {
        return Err("internal: not a quota action".into());
    };
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
        b.audit_before("ResourceQuota", &v, &d);
    }
    let mut detail = vec![format!("removed {key}")];
    if let Some(a) = rq.metadata.annotations.as_mut() {
        a.remove(key);
    }
    if !subtract_from_hard.is_empty() {
        let hard = rq
            .spec
            .get_or_insert_with(Default::default)
            .hard
            .get_or_insert_with(Default::default);
        for (res, amount) in subtract_from_hard {
            let Some(current) = hard.get(res) else { continue };
            match subtract(&current.0, amount) {
                Some(new) => {
                    detail.push(format!("spec.hard.{res} {} -> {new}", current.0));
                    hard.insert(res.clone(), Quantity(new));
                }
                None => {
                    return Ok((
                        Status::Skipped,
                        format!(
                            "cannot subtract {amount} from spec.hard.{res}={}: fix this quota by hand",
                            current.0
                        ),
                    ));
                }
            }
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
