//! `import-openstack-leak` (with `--openstack`) → delete the leftover Glance images, then the
//! Cinder volumes (waiting until each is gone), then the Cinder snapshots. A volume that is
//! attached or in a state Cinder will not delete is skipped and reported, and so is the
//! snapshot it was made from; 404 means already gone. OpenStack has no dry-run: the server
//! dry-run authenticates and checks that every resource is still there and deletable.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::{Action, ActionKind, Backup, Exec, Fix, PlanContext, Status, StepResult};
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

/// Delete leftover import-controller resources: images, then volumes, then snapshots.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOpenstackResources {
    pub source: String,
    pub resources: Vec<Target>,
}

impl Fix for DeleteOpenstackResources {
    const RULES: &'static [&'static str] = &[crate::rules::import_openstack_leak::ID];

    fn plan(f: &Finding, ctx: &PlanContext<'_>) -> Option<(ActionKind, String)> {
        plan(f, ctx)
    }

    /// Act only on the resources the fresh scan still calls leftovers.
    fn narrow(&mut self, now: &Finding) {
        let still: &[Target] = match &now.fix_input {
            Some(FixInput::OpenstackLeftovers { resources, .. }) => resources,
            _ => &[],
        };
        self.resources.retain(|r| still.iter().any(|s| s.id == r.id));
    }

    fn nothing_left(&self) -> Option<String> {
        self.resources
            .is_empty()
            .then(|| "none of its OpenStack resources is a leftover on a fresh scan: not touched".into())
    }

    async fn apply(&self, cx: &mut Exec<'_>, _action: &Action) -> StepResult {
        apply(
            cx.client,
            &mut cx.openstack,
            cx.openstack_insecure,
            self,
            cx.dry_run,
            cx.backup,
        )
        .await
    }
}

fn plan(f: &Finding, _ctx: &PlanContext<'_>) -> Option<(ActionKind, String)> {
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
    Some((
        ActionKind::DeleteOpenstackResources(DeleteOpenstackResources { source, resources }),
        description,
    ))
}

/// Connections per OpenstackSource, made on first use.
#[derive(Default)]
pub struct Connections {
    clients: BTreeMap<String, openstack::Client>,
}

/// Counts and notes of one action's resources.
#[derive(Default)]
struct Tally {
    done: usize,
    gone: usize,
    skipped: usize,
    failed: usize,
    notes: Vec<String>,
}

async fn apply(
    kube: &kube::Client,
    conns: &mut Connections,
    insecure: bool,
    fix: &DeleteOpenstackResources,
    dry_run: bool,
    backup: Option<&Backup>,
) -> StepResult {
    let DeleteOpenstackResources { source, resources } = fix;
    let os = conns.connect(kube, source, insecure).await?;
    let present: BTreeMap<String, Resource> = os
        .list_import_resources()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    if dry_run {
        return Ok(check_only(resources, &present));
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
    let t = delete_in_order(os, resources, &present).await;
    let detail = t.notes.join("; ");
    if t.failed > 0 {
        return Err(detail);
    }
    let status = if t.skipped > 0 {
        Status::Skipped
    } else if t.done == 0 && t.gone > 0 {
        Status::AlreadyDone
    } else {
        Status::Done
    };
    Ok((status, detail))
}

impl Connections {
    /// The connection for `source` (`namespace/name`), made from its Secret on first use.
    async fn connect(
        &mut self,
        kube: &kube::Client,
        source: &str,
        insecure: bool,
    ) -> Result<&openstack::Client, String> {
        if !self.clients.contains_key(source) {
            let creds = openstack::gather::credentials(kube, source).await?;
            let c = openstack::Client::connect(&creds, insecure)
                .await
                .map_err(|e| e.to_string())?;
            self.clients.insert(source.to_string(), c);
        }
        self.clients
            .get(source)
            .ok_or_else(|| "internal: no OpenStack connection".to_string())
    }
}

/// OpenStack has no dry-run: say what a delete would find.
fn check_only(resources: &[Target], present: &BTreeMap<String, Resource>) -> (Status, String) {
    let mut t = Tally::default();
    for r in resources {
        match present.get(&r.id) {
            None => {
                t.gone += 1;
                t.notes.push(format!("{} {}: already gone", r.kind.as_str(), r.id));
            }
            Some(x) if !deletable(x) => {
                t.skipped += 1;
                t.notes.push(format!("{} {}: {}", r.kind.as_str(), r.id, why_not(x)));
            }
            Some(_) => t.done += 1,
        }
    }
    let detail = format!(
        "OpenStack has no dry-run: authenticated and checked; {} deletable, {} already gone, {} not deletable now{}",
        t.done,
        t.gone,
        t.skipped,
        if t.notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", t.notes.join("; "))
        }
    );
    (
        if t.skipped > 0 {
            Status::Skipped
        } else {
            Status::DryRunOk
        },
        detail,
    )
}

/// Images, then volumes (each waited for), then snapshots; a snapshot stays while a volume
/// made from it is left.
async fn delete_in_order(os: &openstack::Client, resources: &[Target], present: &BTreeMap<String, Resource>) -> Tally {
    let mut t = Tally::default();
    let mut blocked_snapshots: Vec<String> = Vec::new();
    let mut order: Vec<&Target> = resources.iter().collect();
    order.sort_by_key(|r| r.kind);
    for r in order {
        let what = format!("{} {}", r.kind.as_str(), r.id);
        let Some(x) = present.get(&r.id) else {
            t.gone += 1;
            t.notes.push(format!("{what}: already gone"));
            continue;
        };
        if r.kind == ResourceKind::Snapshot && blocked_snapshots.contains(&r.id) {
            t.skipped += 1;
            t.notes
                .push(format!("{what}: kept, a volume made from it is still there"));
            continue;
        }
        if !deletable(x) {
            t.skipped += 1;
            t.notes.push(format!("{what}: {}", why_not(x)));
            blocked_snapshots.extend(x.snapshot_id.clone());
            continue;
        }
        let outcome = match os.delete(r.kind, &r.id).await {
            Ok(Deleted::AlreadyGone) => Ok(false),
            Ok(Deleted::Accepted) if r.kind == ResourceKind::Volume => wait_gone(os, &r.id).await.map(|()| true),
            Ok(Deleted::Accepted) => Ok(true),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(true) => {
                t.done += 1;
                t.notes.push(format!("{what}: deleted"));
            }
            Ok(false) => {
                t.gone += 1;
                t.notes.push(format!("{what}: already gone"));
            }
            Err(e) => {
                t.failed += 1;
                t.notes.push(format!("{what}: {e}"));
                blocked_snapshots.extend(x.snapshot_id.clone());
            }
        }
    }
    t
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
