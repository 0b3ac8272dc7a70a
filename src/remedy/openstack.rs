//! `import-openstack-leak` (with `--openstack`) → delete the leftover Glance images, then the
//! Cinder volumes (waiting until each is gone), then the Cinder snapshots. A volume that is
//! attached or in a state Cinder will not delete is skipped and reported, and so is the
//! snapshot it was made from; 404 means already gone. OpenStack has no dry-run: the server
//! dry-run authenticates and checks that every resource is still there and deletable.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::{Action, ActionKind, Backup, Status, StepResult};
use crate::openstack::client::Deleted;
use crate::openstack::{self, Resource, ResourceKind};
use crate::rules::{Confidence, Finding, FixInput};

/// Volume states Cinder deletes (`available`, `error*`; not `in-use`, `creating`, `deleting`...).
const DELETABLE_VOLUME: &[&str] = &[
    "available",
    "error",
    "error_restoring",
    "error_extending",
    "error_managing",
];
/// How long to wait for a deleting volume to disappear before its snapshot is deleted.
const VOLUME_GONE_TIMEOUT: Duration = Duration::from_secs(300);

/// One resource to delete, as the rule's [`FixInput::OpenstackLeftovers`] names it.
pub use crate::finding::OpenstackResource as Target;

pub fn plan(f: &Finding, _ctx: &super::PlanContext<'_>) -> Option<(ActionKind, String)> {
    // Never on `possible` (e.g. leftovers whose import may exist in a namespace not read).
    if f.confidence == Confidence::Possible {
        return None;
    }
    let Some(FixInput::OpenstackLeftovers { source, resources }) = &f.fix_input else {
        return None;
    };
    let source = source.clone();
    let mut resources = resources.clone();
    if resources.is_empty() {
        return None;
    }
    resources.sort_by(|a, b| (a.kind, &a.name, &a.id).cmp(&(b.kind, &b.name, &b.id)));
    let list: Vec<String> = resources
        .iter()
        .map(|r| {
            let name = if r.name.is_empty() {
                r.id.clone()
            } else {
                format!("{} ({})", r.name, r.id)
            };
            format!("{} {name}", r.kind.as_str().to_lowercase())
        })
        .collect();
    let description = format!("delete from the OpenStack project of {source}: {}", list.join(", "));
    Some((ActionKind::DeleteOpenstackResources { source, resources }, description))
}

/// Connections per OpenstackSource, made on first use.
#[derive(Default)]
pub struct Connections {
    clients: BTreeMap<String, openstack::Client>,
}

pub async fn apply(
    kube: &kube::Client,
    conns: &mut Connections,
    insecure: bool,
    action: &Action,
    dry_run: bool,
    backup: Option<&Backup>,
) -> StepResult {
    let ActionKind::DeleteOpenstackResources { source, resources } = &action.action else {
        return Err("internal: not an OpenStack action".into());
    };
    if !conns.clients.contains_key(source) {
        let creds = openstack::gather::credentials(kube, source).await?;
        let c = openstack::Client::connect(&creds, insecure)
            .await
            .map_err(|e| e.to_string())?;
        conns.clients.insert(source.clone(), c);
    }
    let Some(os) = conns.clients.get(source) else {
        return Err("internal: no OpenStack connection".into());
    };
    let present: BTreeMap<String, Resource> = os
        .list_import_resources()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let mut notes = Vec::new();
    let (mut done, mut gone, mut skipped, mut failed) = (0, 0, 0, 0);
    if dry_run {
        for t in resources {
            match present.get(&t.id) {
                None => {
                    gone += 1;
                    notes.push(format!("{} {}: already gone", t.kind.as_str(), t.id));
                }
                Some(r) if !deletable(r) => {
                    skipped += 1;
                    notes.push(format!("{} {}: {}", t.kind.as_str(), t.id, why_not(r)));
                }
                Some(_) => done += 1,
            }
        }
        let detail = format!(
            "OpenStack has no dry-run: authenticated and checked; {done} deletable, {gone} already gone, {skipped} not deletable now{}",
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        );
        return Ok((if skipped > 0 { Status::Skipped } else { Status::DryRunOk }, detail));
    }
    if let Some(b) = backup {
        // The data cannot be backed up; the record of what existed can.
        let before: Vec<&Resource> = resources.iter().filter_map(|t| present.get(&t.id)).collect();
        let doc = json!({"openstackSource": source, "resources": before});
        b.audit_before(
            &format!("OpenStack resources of {source}"),
            &doc,
            &super::backup::digest(&doc),
        )?;
    }
    // A snapshot may go only when no volume made from it is left.
    let mut blocked_snapshots: Vec<String> = Vec::new();
    let mut order: Vec<&Target> = resources.iter().collect();
    order.sort_by_key(|t| t.kind);
    for t in order {
        let what = format!("{} {}", t.kind.as_str(), t.id);
        let Some(r) = present.get(&t.id) else {
            gone += 1;
            notes.push(format!("{what}: already gone"));
            continue;
        };
        if t.kind == ResourceKind::Snapshot && blocked_snapshots.contains(&t.id) {
            skipped += 1;
            notes.push(format!("{what}: kept, a volume made from it is still there"));
            continue;
        }
        if !deletable(r) {
            skipped += 1;
            notes.push(format!("{what}: {}", why_not(r)));
            if let Some(s) = &r.snapshot_id {
                blocked_snapshots.push(s.clone());
            }
            continue;
        }
        let outcome = match os.delete(t.kind, &t.id).await {
            Ok(Deleted::AlreadyGone) => Ok("already gone"),
            Ok(Deleted::Accepted) if t.kind == ResourceKind::Volume => wait_gone(os, &t.id).await.map(|()| "deleted"),
            Ok(Deleted::Accepted) => Ok("deleted"),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(how) => {
                if how == "deleted" {
                    done += 1;
                } else {
                    gone += 1;
                }
                notes.push(format!("{what}: {how}"));
            }
            Err(e) => {
                failed += 1;
                notes.push(format!("{what}: {e}"));
                if let Some(s) = &r.snapshot_id {
                    blocked_snapshots.push(s.clone());
                }
            }
        }
    }
    let detail = notes.join("; ");
    if failed > 0 {
        return Err(detail);
    }
    let status = if skipped > 0 {
        Status::Skipped
    } else if done == 0 && gone > 0 {
        Status::AlreadyDone
    } else {
        Status::Done
    };
    Ok((status, detail))
}

fn deletable(r: &Resource) -> bool {
    match r.kind {
        ResourceKind::Volume => !r.attached && DELETABLE_VOLUME.contains(&r.status.as_str()),
        ResourceKind::Snapshot => matches!(r.status.as_str(), "available" | "error"),
        ResourceKind::Image => r.status != "deleted" && r.status != "pending_delete",
    }
}

fn why_not(r: &Resource) -> String {
    if r.attached {
        "attached to a server: skipped".into()
    } else {
        format!("status {:?} cannot be deleted now: skipped", r.status)
    }
}

async fn wait_gone(os: &openstack::Client, id: &str) -> Result<(), String> {
    let start = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match os.volume(id).await.map_err(|e| e.to_string())? {
            None => return Ok(()),
            Some(v) if v.status == "error_deleting" => return Err("Cinder failed to delete it (error_deleting)".into()),
            Some(_) if start.elapsed() > VOLUME_GONE_TIMEOUT => {
                return Err(format!("still there after {}s", VOLUME_GONE_TIMEOUT.as_secs()));
            }
            Some(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
