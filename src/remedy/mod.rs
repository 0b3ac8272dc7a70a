//! Remediation: turn findings into a plan of actions, then (on request) carry it out safely.
//!
//! Safety model (after Longhorn's orphan CRs, stricter than kor): the default only prints the
//! plan; `--dry-run=server` sends every change with server-side dry-run; `--apply` executes.
//! Before acting, the finding is re-checked against a fresh scan (an object that gained a
//! user, changed, or is no longer a finding is skipped), every write carries a uid and
//! resourceVersion precondition, each object is backed up before it changes, and every
//! action is recorded in an audit log. Already gone counts as done, so re-running is safe.

mod backup;
pub mod openstack;
pub mod purge;
mod pvc;
pub use crate::quantity;
mod quota;
pub mod staged;

use std::collections::BTreeMap;

use kube::Client;
use serde::Serialize;

pub use backup::Backup;

use crate::finding::fingerprint;
use crate::inventory::Inventory;
use crate::meta::ObjectRef;
use crate::rules::{self, Finding, FixInput};

/// What an action does.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ActionKind {
    /// Switch the bound PV to `Retain`, then delete the PVC: the data survives on a Released PV.
    #[serde(rename_all = "camelCase")]
    RetainAndDeletePvc {
        persistent_volume: Option<String>,
        owned_snapshots: Vec<String>,
        attributed_by_label: bool,
        /// The finding's confidence: `fix` plans `proven` and `likely`, the job only `proven`.
        confidence: crate::rules::Confidence,
    },
    /// Remove a stale migration annotation (and subtract its ResourceList from `spec.hard`).
    #[serde(rename_all = "camelCase")]
    RemoveQuotaAnnotation {
        key: String,
        /// Kept in the contract for old reports; no longer planned (empty).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        subtract_from_hard: BTreeMap<String, String>,
        /// `spec.hard` values to write: the Rancher base plus the remaining entries.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        set_hard: BTreeMap<String, String>,
    },
    /// Delete leftover import-controller resources: images, then volumes, then snapshots.
    #[serde(rename_all = "camelCase")]
    DeleteOpenstackResources {
        source: String,
        resources: Vec<openstack::Target>,
    },
    /// Nothing is done: the safe change cannot be determined, so a person must look (the
    /// reason says what to check). Reported as `skipped` in every mode.
    #[serde(rename_all = "camelCase")]
    Manual { reason: String },
    /// `--purge-retained-older-than`: set a retained PV back to `Delete` (its data goes).
    #[serde(rename_all = "camelCase")]
    PurgeRetainedPv { retained_at: String, retained_from: String },
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub id: usize,
    pub rule: String,
    pub fingerprint: String,
    pub object: ObjectRef,
    pub action: ActionKind,
    pub description: String,
}

pub use crate::report::ActionStatus as Status;

impl From<ActionResult> for crate::report::ActionRow {
    fn from(r: ActionResult) -> Self {
        crate::report::ActionRow {
            id: r.action.id,
            rule: r.action.rule,
            fingerprint: r.action.fingerprint,
            object: r.action.object,
            action: serde_json::to_value(&r.action.action).unwrap_or_default(),
            description: r.action.description,
            status: r.status,
            detail: r.detail,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    #[serde(flatten)]
    pub action: Action,
    pub status: Status,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Print the plan, change nothing.
    Plan,
    /// Send every change with server-side dry-run.
    DryRunServer,
    /// Change the cluster.
    Apply,
}

/// A planner for one fixable rule.
type Planner = fn(&Finding, &PlanContext<'_>) -> Option<(ActionKind, String)>;

/// What planners read: the inventory, and views of it built once per plan (not per finding).
pub struct PlanContext<'a> {
    pub inv: &'a Inventory,
    guests: std::sync::OnceLock<rules::guest_clusters::GuestClusters<'a>>,
}

impl<'a> PlanContext<'a> {
    pub fn new(inv: &'a Inventory) -> Self {
        PlanContext {
            inv,
            guests: std::sync::OnceLock::new(),
        }
    }
    /// Guest-cluster liveness, built on first use.
    pub fn guests(&self) -> &rules::guest_clusters::GuestClusters<'a> {
        self.guests
            .get_or_init(|| rules::guest_clusters::GuestClusters::build(self.inv))
    }
}

/// Fixable rules and their planners (one line per fixable rule).
const PLANNERS: &[(&str, Planner)] = &[
    (rules::orphaned_guest_pvc::ID, pvc::plan),
    (rules::vm_disk_orphaned::ID, pvc::plan_vm_disk),
    (rules::migration_annotation_stale::ID, quota::plan),
    (rules::import_openstack_leak::ID, openstack::plan),
];

/// Is the rule fixable by `fix`?
pub fn fixable(rule: &str) -> bool {
    PLANNERS.iter().any(|(r, _)| *r == rule)
}

/// One action per fixable finding.
pub fn plan(findings: &[Finding], inv: &Inventory) -> Vec<Action> {
    let ctx = PlanContext::new(inv);
    let mut actions = Vec::new();
    for f in findings {
        let Some((_, planner)) = PLANNERS.iter().find(|(r, _)| *r == f.rule) else {
            continue;
        };
        if let Some((action, description)) = planner(f, &ctx) {
            actions.push(Action {
                id: actions.len() + 1,
                rule: f.rule.clone(),
                fingerprint: fingerprint(f),
                object: f.object.clone(),
                action,
                description,
            });
        }
    }
    actions
}

pub struct ExecOptions<'a> {
    pub mode: Mode,
    pub include_owned_snapshots: bool,
    /// Where backups and the audit log go (apply only).
    pub backup: Option<&'a Backup>,
    /// `--openstack-insecure`.
    pub openstack_insecure: bool,
}

/// Outcome of one step, before it becomes an [`ActionResult`].
pub(crate) type StepResult = Result<(Status, String), String>;

/// Carry out `actions`. `fresh` maps fingerprints to the findings of a scan made just now;
/// `confirm` is asked before each change in apply mode.
pub async fn execute(
    client: &Client,
    actions: Vec<Action>,
    fresh: &BTreeMap<String, Finding>,
    opts: &ExecOptions<'_>,
    confirm: &mut dyn FnMut(&Action) -> bool,
) -> Vec<ActionResult> {
    let mut out = Vec::new();
    let mut conns = openstack::Connections::default();
    for mut action in actions {
        narrow(&mut action, fresh);
        let done = |status, detail: String| (status, detail);
        let (status, detail) = if let ActionKind::Manual { reason } = &action.action {
            done(Status::Skipped, reason.clone())
        } else if opts.mode == Mode::Plan {
            done(Status::Planned, String::new())
        } else if let Some(reason) = recheck(&action, fresh, opts) {
            done(Status::Skipped, reason)
        } else if opts.mode == Mode::Apply && !confirm(&action) {
            done(Status::Declined, "not confirmed".into())
        } else if let Some(Err(e)) = opts
            .backup
            .filter(|_| opts.mode == Mode::Apply)
            .map(|b| b.audit_intent(&action))
        {
            // No record, no change.
            done(Status::Failed, format!("cannot write the audit log ({e}): not changed"))
        } else {
            let dry_run = opts.mode == Mode::DryRunServer;
            let r = match &action.action {
                ActionKind::RetainAndDeletePvc { .. } => pvc::apply(client, &action, dry_run, opts.backup).await,
                ActionKind::RemoveQuotaAnnotation { .. } => quota::apply(client, &action, dry_run, opts.backup).await,
                ActionKind::PurgeRetainedPv { .. } => purge::apply(client, &action, dry_run, opts.backup).await,
                ActionKind::Manual { reason } => Ok((Status::Skipped, reason.clone())),
                ActionKind::DeleteOpenstackResources { .. } => {
                    openstack::apply(
                        client,
                        &mut conns,
                        opts.openstack_insecure,
                        &action,
                        dry_run,
                        opts.backup,
                    )
                    .await
                }
            };
            match r {
                Ok(ok) => ok,
                Err(e) => done(Status::Failed, e),
            }
        };
        let (status, detail) = match opts.backup.map(|b| b.audit(&action, status, &detail)) {
            Some(Err(e)) if status != Status::Failed => (
                Status::Failed,
                format!("{detail}; the audit log could not record it ({e}): treat the result as unrecorded"),
            ),
            _ => (status, detail),
        };
        out.push(ActionResult { action, status, detail });
    }
    out
}

/// OpenStack actions act only on the resources the fresh scan still calls leftovers.
fn narrow(action: &mut Action, fresh: &BTreeMap<String, Finding>) {
    if let ActionKind::DeleteOpenstackResources { resources, .. } = &mut action.action
        && let Some(now) = fresh.get(&action.fingerprint)
    {
        let still: &[openstack::Target] = match &now.fix_input {
            Some(FixInput::OpenstackLeftovers { resources, .. }) => resources,
            _ => &[],
        };
        resources.retain(|r| still.iter().any(|s| s.id == r.id));
    }
}

/// Why an action must not run now, judged on the fresh scan.
fn recheck(action: &Action, fresh: &BTreeMap<String, Finding>, opts: &ExecOptions<'_>) -> Option<String> {
    if let ActionKind::PurgeRetainedPv { .. } = action.action {
        // Not a finding: the purge re-reads the PV and its claim itself just before acting.
        return None;
    }
    let Some(now) = fresh.get(&action.fingerprint) else {
        return Some(
            "no longer a finding on a fresh scan (it gained a user, an owner, or changed): not touched".into(),
        );
    };
    if now.object.uid != action.object.uid {
        return Some("the object was replaced since the plan (different uid): not touched".into());
    }
    if let ActionKind::DeleteOpenstackResources { resources, .. } = &action.action
        && resources.is_empty()
    {
        return Some("none of its OpenStack resources is a leftover on a fresh scan: not touched".into());
    }
    if now.object.resource_version != action.object.resource_version {
        return Some("the object changed since the plan (resourceVersion differs): not touched; plan again".into());
    }
    if let ActionKind::RetainAndDeletePvc { confidence, .. } = &action.action {
        // The fresh finding must still carry the evidence the plan was made on.
        if now.confidence < crate::rules::Confidence::Likely || now.confidence < *confidence {
            return Some(format!(
                "the evidence weakened since the plan (now {}): not touched",
                now.confidence
            ));
        }
        if let Some(e) = now
            .evidence
            .iter()
            .find(|e| pvc::GUARD_EVIDENCE.iter().any(|g| e.starts_with(g)))
        {
            return Some(format!("a guest cluster may be alive ({e}): not touched"));
        }
    }
    if let ActionKind::RetainAndDeletePvc { owned_snapshots, .. } = &action.action
        && !owned_snapshots.is_empty()
        && !opts.include_owned_snapshots
    {
        return Some(format!(
            "it owns VolumeSnapshots ({}), which deleting it would delete: skipped (use --include-owned-snapshots)",
            owned_snapshots.join(", ")
        ));
    }
    None
}

/// Map a kube error on a write to a step result: 404 is done, 409 a failed precondition.
pub(crate) fn write_error(what: &str, e: kube::Error) -> StepResult {
    match e {
        kube::Error::Api(s) if s.code == 404 => Ok((Status::AlreadyDone, format!("{what}: already gone"))),
        kube::Error::Api(s) if s.code == 409 => Ok((
            Status::Skipped,
            format!(
                "{what}: precondition failed, the object changed since the scan: {}",
                s.message
            ),
        )),
        kube::Error::Api(s) => Err(format!("{what}: {} ({})", s.message, s.code)),
        other => Err(format!("{what}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::ObjectRef;
    use crate::rules::{Confidence, Severity};

    #[tokio::test]
    async fn no_audit_record_no_change() {
        crate::install_crypto_provider();
        let object = ObjectRef {
            api_version: "v1".into(),
            kind: "ResourceQuota".into(),
            namespace: Some("ns".into()),
            name: "q".into(),
            uid: Some("u".into()),
            resource_version: Some("1".into()),
            details: Default::default(),
        };
        let finding = Finding {
            rule: "migration-annotation-stale".into(),
            severity: Severity::Warning,
            confidence: Confidence::Proven,
            evidence: vec![],
            reclaimable_bytes: None,
            object: object.clone(),
            title: String::new(),
            message: String::new(),
            remediation: String::new(),
            related: vec![],
            origin: None,
            details: Default::default(),
            fix_input: None,
            exemption: None,
        };
        let action = Action {
            id: 1,
            rule: finding.rule.clone(),
            fingerprint: fingerprint(&finding),
            object,
            action: ActionKind::RemoveQuotaAnnotation {
                key: "harvesterhci.io/migrating-x".into(),
                subtract_from_hard: BTreeMap::new(),
                set_hard: BTreeMap::new(),
            },
            description: String::new(),
        };
        let fresh = BTreeMap::from([(action.fingerprint.clone(), finding)]);
        // Nothing listens there: an action that got past the audit would fail differently.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap_or_default());
        let client = Client::try_from(config).unwrap_or_else(|e| panic!("{e}"));
        let backup = Backup::failing();
        let opts = ExecOptions {
            mode: Mode::Apply,
            include_owned_snapshots: false,
            backup: Some(&backup),
            openstack_insecure: false,
        };
        let out = execute(&client, vec![action], &fresh, &opts, &mut |_| true).await;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Failed);
        assert!(
            out[0].detail.contains("cannot write the audit log"),
            "{}",
            out[0].detail
        );
        assert!(out[0].detail.contains("not changed"), "{}", out[0].detail);
    }
}
