//! `backup-failed`: VM backups that failed, never became ready or are stuck deleting, and
//! backup schedules their controller suspended.
//!
//! A `VirtualMachineBackup` is ready when `status.readyToUse` is true and failed when
//! `status.error` is set (harvester/harvester `pkg/apis/harvesterhci.io/v1beta1/backup.go`,
//! `pkg/controller/master/backup/backup.go`). A `ScheduleVMBackup` (v1.4+) counts its failed
//! backups; at `spec.maxFailure` the controller sets `spec.suspend`, `status.suspended` and the
//! condition `BackupSuspend` (reason "Reach Max Failure", or "Longhorn Backup Not Synced"), and
//! suspends its CronJob, and nothing resumes it but a person (harvester/harvester
//! `pkg/controller/master/schedulevmbackup/common.go`, `updateSuspendState`). A user's own
//! suspension has reason "Proactive Schedule Suspend" and is not reported.

use std::time::Duration;

use super::human;
use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{ScheduleVMBackup, VirtualMachineBackup};
use crate::meta::parse_time;

pub struct BackupFailed;

pub const ID: &str = "backup-failed";
/// Not ready (or deleting) for longer than this is reported by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(6 * 3600);
/// The reasons the schedule controller itself suspends with.
const AUTOMATIC: &[&str] = &["Reach Max Failure", "Longhorn Backup Not Synced"];

/// `rules.backup-failed` in the policy file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// How long a backup may stay not ready, or deleting (default 6h).
    pub grace_period: Option<crate::config::DurationOption>,
}

impl Rule for BackupFailed {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "VM backups that failed, never became ready or are stuck deleting; backup schedules suspended after failures"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        static NEEDS: [&KindInfo; 2] = [info::<VirtualMachineBackup>(), info::<ScheduleVMBackup>()];
        &NEEDS
    }
    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::check_options::<Options>(raw)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "A VirtualMachineBackup is usable only when status.readyToUse is true; status.error says why it failed \
                  (harvester/harvester pkg/apis/harvesterhci.io/v1beta1/backup.go, \
                  pkg/controller/master/backup/backup.go). A backup that failed, or is still not ready after \
                  gracePeriod (default 6h), protects nothing, and one stuck deleting keeps its VolumeSnapshots and \
                  backup-target data. A ScheduleVMBackup (v1.4+) is suspended by its controller after spec.maxFailure \
                  failed backups (condition BackupSuspend, reason \"Reach Max Failure\" or \"Longhorn Backup Not \
                  Synced\"; pkg/controller/master/schedulevmbackup/common.go), and stays suspended until someone resumes \
                  it: the VM silently has no new backups. A schedule a person suspended (\"Proactive Schedule Suspend\") \
                  is not reported.",
            affected: "every Harvester version (schedules from v1.4.0)",
            upstream: &[
                "harvester/harvester pkg/controller/master/backup/backup.go",
                "harvester/harvester pkg/controller/master/schedulevmbackup/common.go",
                "harvester/harvester pkg/apis/harvesterhci.io/v1beta1/schedulebackup.go",
                "harvester/harvester#5841",
                "harvester/harvester#6876",
            ],
            remediation: "For a failed backup: read status.error (kubectl get vmbackup -n <ns> <name> -o \
                          jsonpath='{.status.error.message}'), fix the cause (backup target reachable, credentials, \
                          space), delete the failed backup and take a new one. A backup stuck deleting: check the backup \
                          target is reachable (the controller deletes the remote data first). A suspended schedule: fix \
                          the cause of the failures, then resume it (set spec.suspend: false, or Resume in the UI); \
                          Harvester then removes the failed backups it counted.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let grace = crate::config::DurationOption::or_default(ctx.options::<Options>(ID).grace_period, DEFAULT_GRACE);
        for b in inv.objects::<VirtualMachineBackup>() {
            if inv.in_scope(b.metadata.namespace.as_deref())
                && let Some(f) = judge_backup(self, ctx, b, grace)
            {
                out.findings.push(f);
            }
        }
        for s in inv.objects::<ScheduleVMBackup>() {
            if !inv.in_scope(s.metadata.namespace.as_deref()) {
                continue;
            }
            let Some(c) = s.suspension() else { continue };
            if !AUTOMATIC.contains(&c.reason.as_str()) {
                continue;
            }
            let msg = format!(
                "Backup schedule {} ({}) was suspended by Harvester: {}{}. It takes no more backups until someone \
                 resumes it.",
                s.metadata.key(),
                s.spec.cron,
                c.reason,
                if c.message.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", c.message)
                }
            );
            out.findings.push(
                Finding::about(self, Severity::Error, s, msg, self.explain().remediation.to_string())
                    .with_confidence(Confidence::Proven)
                    .with_title(format!("schedule suspended by Harvester: {}", c.reason))
                    .evidence(format!("suspended:{}", c.reason))
                    .evidence(format!("failures:{}", s.status.failure.unwrap_or(0))),
            );
        }
        out
    }
}

fn judge_backup(
    rule: &BackupFailed,
    ctx: &Context<'_>,
    b: &VirtualMachineBackup,
    grace: jiff::SignedDuration,
) -> Option<Finding> {
    let key = b.metadata.key();
    let vm = &b.spec.source.name;
    let age_of = |t: Option<&str>| parse_time(t).map(|t| (t, ctx.now.duration_since(t)));
    let (msg, evidence, title) = if let Some((since, age)) = age_of(b.metadata.deletion_timestamp.as_deref()) {
        if age < grace {
            return None;
        }
        (
            format!(
                "Backup {key} of VM {vm} has been deleting for {} (since {since}): its snapshots and backup-target data are not released.",
                human(age)
            ),
            format!("deleting-since:{since}"),
            format!("backup of {vm} stuck deleting for {}", human(age)),
        )
    } else if b.status.ready_to_use == Some(true) {
        return None;
    } else if let Some(m) = b.status.error.message.as_deref() {
        (
            format!("Backup {key} of VM {vm} failed: {m}. It cannot be restored."),
            "backup-error".to_string(),
            format!("backup of {vm} failed: {m}"),
        )
    } else {
        let (since, age) = age_of(
            b.status
                .creation_time
                .as_deref()
                .or(b.metadata.creation_timestamp.as_deref()),
        )?;
        if age < grace {
            return None;
        }
        (
            format!(
                "Backup {key} of VM {vm} is still not ready after {} (since {since}, progress {}%): it cannot be restored.",
                human(age),
                b.status.progress.unwrap_or(0)
            ),
            format!("not-ready-since:{since}"),
            format!("backup of {vm} not ready after {}", human(age)),
        )
    };
    Some(
        Finding::about(rule, Severity::Warning, b, msg, rule.explain().remediation.to_string())
            .with_confidence(Confidence::Proven)
            .with_title(title)
            .evidence(evidence),
    )
}
