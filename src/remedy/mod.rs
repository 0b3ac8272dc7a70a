//! Remediation: turn findings into a plan of actions, then (on request) carry it out safely.
//!
//! Safety model (after Longhorn's orphan CRs, stricter than kor): the default only prints the
//! plan; `--dry-run=server` sends every change with server-side dry-run; `--apply` executes.
//! Before acting, the finding is re-checked against a fresh scan (an object that gained a
//! user, changed, or is no longer a finding is skipped), every write carries a uid and
//! resourceVersion precondition, each object is backed up before it changes, and every
//! action is recorded in an audit log. Already gone counts as done, so re-running is safe.

mod backup;
pub use crate::quantity;
pub mod staged;

use std::collections::BTreeMap;
use std::future::Future;

use kube::Client;
use serde::Serialize;

pub use backup::Backup;

use crate::finding::fingerprint;
use crate::inventory::Inventory;
use crate::meta::ObjectRef;
use crate::rules::{self, Finding};

/// A fix: the data of the action it plans (its type's name, camelCase, is the action's `type`
/// in the report), how it plans one from a finding, and how it carries it out. Add a fix with
/// one file implementing this and one line in [`fixes!`].
pub trait Fix: Sized {
    /// The rules whose findings it plans for (empty: planned elsewhere, as the purge).
    const RULES: &'static [&'static str];
    /// Whether a fresh scan must still report the finding before it acts (the purge re-reads
    /// the PV itself instead).
    const RECHECK: bool = true;
    /// Plan one action, or `ActionKind::Manual` saying why not; `None`: nothing to plan.
    /// Decide from the finding's confidence and evidence, never its severity.
    fn plan(f: &Finding, ctx: &PlanContext<'_>) -> Option<(ActionKind, String)>;
    /// Keep only what the fresh finding `now` still calls for.
    fn narrow(&mut self, _now: &Finding) {}
    /// After narrowing: why nothing is left to do (checked before the resourceVersion).
    fn nothing_left(&self) -> Option<String> {
        None
    }
    /// Why it must not run now, judged on the fresh finding (after the generic checks).
    fn recheck(&self, _now: &Finding, _opts: &ExecOptions<'_>) -> Option<String> {
        None
    }
    /// Carry it out: re-read the object, check uid and resourceVersion, back it up
    /// (`Backup::save`, `audit_before`) and send the change with `cx.dry_run` honoured.
    fn apply(&self, cx: &mut Exec<'_>, action: &Action) -> impl Future<Output = StepResult> + Send;
}

/// The registry of fixes: one line per fix, `module::ActionType`. It declares the module, adds
/// the action type to [`ActionKind`] (its variant is the type's name) and the fix to [`plan`],
/// [`fixable`] and [`execute`].
macro_rules! fixes {
    ($($m:ident :: $t:ident),* $(,)?) => {
        $(pub mod $m;)*

        /// What an action does: one variant per fix (see each type's docs), and `manual`.
        #[derive(Debug, Clone, Serialize)]
        #[serde(tag = "type", rename_all = "camelCase")]
        pub enum ActionKind {
            $($t($m::$t),)*
            /// Nothing is done: the safe change cannot be determined, so a person must look (the
            /// reason says what to check). Reported as `skipped` in every mode.
            #[serde(rename_all = "camelCase")]
            Manual { reason: String },
        }

        /// Each fix's rules and planner.
        const PLANNERS: &[(&[&str], Planner)] = &[$((<$m::$t as Fix>::RULES, <$m::$t as Fix>::plan),)*];

        impl ActionKind {
            fn rechecked(&self) -> bool {
                match self {
                    $(ActionKind::$t(_) => <$m::$t as Fix>::RECHECK,)*
                    ActionKind::Manual { .. } => true,
                }
            }
            fn narrow(&mut self, now: &Finding) {
                match self {
                    $(ActionKind::$t(d) => d.narrow(now),)*
                    ActionKind::Manual { .. } => {}
                }
            }
            fn nothing_left(&self) -> Option<String> {
                match self {
                    $(ActionKind::$t(d) => d.nothing_left(),)*
                    ActionKind::Manual { .. } => None,
                }
            }
            fn recheck(&self, now: &Finding, opts: &ExecOptions<'_>) -> Option<String> {
                match self {
                    $(ActionKind::$t(d) => d.recheck(now, opts),)*
                    ActionKind::Manual { .. } => None,
                }
            }
            async fn apply(&self, cx: &mut Exec<'_>, action: &Action) -> StepResult {
                match self {
                    $(ActionKind::$t(d) => d.apply(cx, action).await,)*
                    ActionKind::Manual { reason } => Ok((Status::Skipped, reason.clone())),
                }
            }
        }
    };
}

fixes! {
    pvc::RetainAndDeletePvc,
    quota::RemoveQuotaAnnotation,
    openstack::DeleteOpenstackResources,
    purge::PurgeRetainedPv,
}

/// What [`Fix::apply`] works with: the cluster, the mode, the backup, and connections made
/// once per run.
pub struct Exec<'a> {
    pub client: &'a Client,
    pub dry_run: bool,
    pub backup: Option<&'a Backup>,
    /// `--openstack-insecure`.
    pub openstack_insecure: bool,
    /// OpenStack connections per OpenstackSource, made on first use.
    pub openstack: openstack::Connections,
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

/// Is the rule fixable by `fix`?
pub fn fixable(rule: &str) -> bool {
    PLANNERS.iter().any(|(rules, _)| rules.contains(&rule))
}

/// One action per fixable finding.
pub fn plan(findings: &[Finding], inv: &Inventory) -> Vec<Action> {
    let ctx = PlanContext::new(inv);
    let mut actions = Vec::new();
    for f in findings {
        let Some((_, planner)) = PLANNERS.iter().find(|(rules, _)| rules.contains(&f.rule.as_str())) else {
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
    let mut cx = Exec {
        client,
        dry_run: opts.mode == Mode::DryRunServer,
        backup: opts.backup,
        openstack_insecure: opts.openstack_insecure,
        openstack: openstack::Connections::default(),
    };
    for mut action in actions {
        if let Some(now) = fresh.get(&action.fingerprint) {
            action.action.narrow(now);
        }
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
            match action.action.apply(&mut cx, &action).await {
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

/// Why an action must not run now, judged on the fresh scan: the generic checks, then the
/// fix's own ([`Fix::nothing_left`], [`Fix::recheck`]).
fn recheck(action: &Action, fresh: &BTreeMap<String, Finding>, opts: &ExecOptions<'_>) -> Option<String> {
    if !action.action.rechecked() {
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
    if let Some(reason) = action.action.nothing_left() {
        return Some(reason);
    }
    if now.object.resource_version != action.object.resource_version {
        return Some("the object changed since the plan (resourceVersion differs): not touched; plan again".into());
    }
    action.action.recheck(now, opts)
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
            action: ActionKind::RemoveQuotaAnnotation(quota::RemoveQuotaAnnotation {
                key: "harvesterhci.io/migrating-x".into(),
                subtract_from_hard: BTreeMap::new(),
                set_hard: BTreeMap::new(),
            }),
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
