//! `migration-stuck`: VirtualMachineInstanceMigrations that are not final long after their
//! current phase began.
//!
//! KubeVirt's migration controller bounds every phase it owns: a target pod pending
//! unschedulable for 5 minutes, or pending for any reason for 15, is deleted and the migration
//! fails (kubevirt/kubevirt `pkg/virt-controller/watch/migration/migration.go`,
//! `defaultUnschedulablePendingTimeoutSeconds`, `defaultCatchAllPendingTimeoutSeconds`), and a
//! running migration without progress is aborted after `progressTimeout` (150 s), or after
//! `completionTimeoutPerGiB` (150 s per GiB of memory) in all (kubevirt/kubevirt
//! `pkg/virt-config/configuration.go`). What stays non-final for hours is therefore stuck:
//! a migration queued in `Pending` behind `parallelMigrationsPerCluster` (5) or
//! `parallelOutboundMigrationsPerNode` (2) with nothing running ahead of it, one whose VMI is
//! gone (the controller fails those), one stuck deleting on its finalizer, or a running one past
//! any size bound. While it exists, Harvester refuses a VM backup of the VM
//! (harvester/harvester `pkg/webhook/resources/virtualmachinebackup/validator.go`,
//! `checkVMInstanceMigration`) and changes to the `vm-migration-network` setting
//! (`pkg/webhook/resources/setting/validator.go`, `validateVMMigrationNetwork`), and a node
//! drain (an upgrade's pre-drain) waits for it.
//!
//! Phases and their timestamps: kubevirt/api `core/v1/types.go`
//! (`VirtualMachineInstanceMigrationPhase`, `phaseTransitionTimestamps`, `IsFinal`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::human;
use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{VirtualMachineInstance, VirtualMachineInstanceMigration};
use crate::meta::parse_time;

pub struct MigrationStuck;

pub const ID: &str = "migration-stuck";
/// Non-final for longer than this (in its current phase) is stuck by default. Generous: a
/// running migration of a VM with 64 GiB of memory may take 64 × 150 s = 2.7 h before KubeVirt
/// itself gives up.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(3 * 3600);

/// `rules.migration-stuck` in the policy file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// How long a migration may stay in one non-final phase (default 3h).
    pub stuck_after: Option<crate::config::DurationOption>,
}

/// Phases in which the migration holds a target pod or a running transfer.
const RUNNING: &[&str] = &["Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running"];

impl Rule for MigrationStuck {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "Live migrations that are not final hours after their phase began: they block backups and node drains"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        static NEEDS: [&KindInfo; 2] = [
            info::<VirtualMachineInstanceMigration>(),
            info::<VirtualMachineInstance>(),
        ];
        &NEEDS
    }
    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::check_options::<Options>(raw)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "KubeVirt bounds every phase of a live migration: a target pod pending unschedulable for 5 minutes \
                  (any reason: 15) is deleted and the migration fails (kubevirt/kubevirt \
                  pkg/virt-controller/watch/migration/migration.go), and a transfer without progress for \
                  progressTimeout (150 s) or longer than completionTimeoutPerGiB (150 s per GiB of memory) is aborted \
                  (pkg/virt-config/configuration.go). A VirtualMachineInstanceMigration that is still not Succeeded or \
                  Failed hours after its current phase began is stuck: its VMI is gone, it is deleting on its \
                  finalizer, it is Pending with nothing running ahead of it, or the controller is not processing it. \
                  While it exists Harvester refuses backups of the VM (harvester/harvester \
                  pkg/webhook/resources/virtualmachinebackup/validator.go) and changes to the vm-migration-network \
                  setting (pkg/webhook/resources/setting/validator.go), and a node drain, such as an upgrade's \
                  pre-drain, waits on it. The age is measured from the current phase's phaseTransitionTimestamps entry \
                  (kubevirt/api core/v1 types.go), else the object's creation; stuckAfter (default 3h) sets the bar. A \
                  Pending migration while others run is queued (parallelMigrationsPerCluster 5, \
                  parallelOutboundMigrationsPerNode 2): likely, not proven. A running one may be a very large VM: \
                  likely.",
            affected: "every Harvester version (KubeVirt live migration)",
            upstream: &[
                "kubevirt/kubevirt pkg/virt-controller/watch/migration/migration.go",
                "kubevirt/kubevirt pkg/virt-config/configuration.go",
                "kubevirt/api core/v1/types.go (VirtualMachineInstanceMigrationStatus)",
                "harvester/harvester pkg/webhook/resources/virtualmachinebackup/validator.go",
                "harvester/harvester pkg/webhook/resources/setting/validator.go",
                "harvester/harvester#6002 (a migrating VM hung during an upgrade's pre-drain)",
                "harvester/harvester#10354 (upgrade stuck in pre-draining on a pending migration)",
                "harvester/harvester PR #9326 (pre-drain checks for failed VM migrations)",
            ],
            remediation: "Look at the migration and its events: kubectl describe vmim <name> -n <ns>, and the target \
                          pod (kubectl get pods -n <ns> -l kubevirt.io/migrationJobUID=<vmim uid>). Cancel it by \
                          deleting it (kubectl delete vmim <name> -n <ns>; KubeVirt aborts an in-flight transfer and \
                          the VM keeps running on its source node), then migrate again. A migration stuck deleting \
                          whose VMI is gone or shows the migration completed in status.migrationState can have its \
                          finalizer removed.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let stuck_after =
            crate::config::DurationOption::or_default(ctx.options::<Options>(ID).stuck_after, DEFAULT_STUCK_AFTER);
        let vmis: BTreeSet<(&str, &str)> = inv
            .objects::<VirtualMachineInstance>()
            .iter()
            .filter_map(|v| Some((v.metadata.namespace.as_deref()?, v.metadata.name.as_str())))
            .collect();
        let migrations = inv.objects::<VirtualMachineInstanceMigration>();
        let running: BTreeMap<&str, usize> = migrations
            .iter()
            .filter(|m| !is_final(m) && RUNNING.contains(&m.status.phase.as_str()))
            .fold(BTreeMap::new(), |mut acc, m| {
                *acc.entry(m.metadata.namespace.as_deref().unwrap_or("")).or_default() += 1;
                acc
            });
        let running_total: usize = running.values().sum();
        let mut undated = 0;
        for m in migrations {
            let ns = m.metadata.namespace.as_deref().unwrap_or("");
            if is_final(m) || !inv.in_scope(Some(ns)) {
                continue;
            }
            let Some((since, what)) = since(m) else {
                undated += 1;
                continue;
            };
            let age = ctx.now.duration_since(since);
            if age < stuck_after {
                continue;
            }
            let vmi_known = inv.covers::<VirtualMachineInstance>(Some(ns));
            let vmi_gone = vmi_known && !vmis.contains(&(ns, m.spec.vmi_name.as_str()));
            out.findings.push(finding(
                self,
                m,
                Facts {
                    what,
                    since,
                    age,
                    vmi_known,
                    vmi_gone,
                    running_elsewhere: running_total,
                },
            ));
        }
        if undated > 0 {
            out.notes.push(format!(
                "{} without a phase or creation time: not judged",
                super::plural(undated, "non-final migration", "non-final migrations")
            ));
        }
        out
    }
}

fn is_final(m: &VirtualMachineInstanceMigration) -> bool {
    matches!(m.status.phase.as_str(), "Succeeded" | "Failed") && m.metadata.deletion_timestamp.is_none()
}

/// When the current state began, and what that state is: deleting (since its deletion
/// timestamp), else the current phase (its latest transition), else pending since creation.
fn since(m: &VirtualMachineInstanceMigration) -> Option<(jiff::Timestamp, String)> {
    if let Some(t) = parse_time(m.metadata.deletion_timestamp.as_deref()) {
        return Some((t, "deleting".into()));
    }
    let phase = if m.status.phase.is_empty() {
        "Pending"
    } else {
        m.status.phase.as_str()
    };
    let at = m
        .status
        .phase_transition_timestamps
        .iter()
        .filter(|t| t.phase == phase)
        .filter_map(|t| parse_time(Some(t.phase_transition_timestamp.as_str())))
        .max()
        .or_else(|| parse_time(m.metadata.creation_timestamp.as_deref()))?;
    Some((at, phase.to_string()))
}

struct Facts {
    what: String,
    since: jiff::Timestamp,
    age: jiff::SignedDuration,
    vmi_known: bool,
    vmi_gone: bool,
    /// Non-final migrations holding a target pod or transferring, cluster-wide.
    running_elsewhere: usize,
}

fn finding(rule: &MigrationStuck, m: &VirtualMachineInstanceMigration, f: Facts) -> Finding {
    let vmi = &m.spec.vmi_name;
    let (confidence, why) = if f.vmi_gone {
        (
            Confidence::Proven,
            format!(
                "its VMI {vmi} no longer exists, so nothing will finish it (KubeVirt fails such migrations when it processes them)"
            ),
        )
    } else if f.what == "deleting" {
        (
            Confidence::Proven,
            "it has been deleting that long: its finalizer is not being removed".to_string(),
        )
    } else if f.what == "Pending" && f.running_elsewhere > 0 {
        (
            Confidence::Likely,
            format!(
                "it may be queued behind {} (KubeVirt runs at most 5 per cluster and 2 per source node)",
                super::plural(f.running_elsewhere, "running migration", "running migrations")
            ),
        )
    } else if f.what == "Pending" {
        (
            Confidence::Proven,
            "no other migration is running ahead of it, so it is not queued".to_string(),
        )
    } else if RUNNING.contains(&f.what.as_str()) {
        (
            Confidence::Likely,
            "KubeVirt aborts a transfer without progress after 150 s and one longer than 150 s per GiB of memory; \
             only a very large VM runs this long"
                .to_string(),
        )
    } else {
        (
            Confidence::Likely,
            format!("phase {:?} is not one KubeVirt sets", f.what),
        )
    };
    let confidence = if !f.vmi_known && confidence == Confidence::Proven && !f.vmi_gone && f.what != "deleting" {
        Confidence::Likely
    } else {
        confidence
    };
    let msg = format!(
        "Migration of VMI {vmi} has been {} for {} (since {}): {why}. While it exists Harvester refuses backups of the \
         VM and changes to the vm-migration-network setting, and a node drain (an upgrade's pre-drain) waits on it.",
        if f.what == "deleting" {
            "deleting".to_string()
        } else {
            format!("in phase {}", f.what)
        },
        human(f.age),
        f.since
    );
    let mut finding = Finding::about(rule, Severity::Warning, m, msg, rule.explain().remediation.to_string())
        .with_confidence(confidence)
        .with_title(format!(
            "migration of {vmi} {} for {}",
            if f.what == "deleting" {
                "stuck deleting".to_string()
            } else {
                format!("stuck in {}", f.what)
            },
            human(f.age)
        ))
        .evidence(format!("phase:{}", f.what))
        .evidence(format!("phase-since:{}", f.since));
    if f.vmi_gone {
        finding = finding.evidence(format!("vmi-missing:{vmi}"));
    } else if !f.vmi_known {
        finding = finding.evidence("unknown-kind:VirtualMachineInstance");
    }
    if f.what == "Pending" && f.running_elsewhere > 0 {
        finding = finding.evidence(format!("running-migrations:{}", f.running_elsewhere));
    }
    finding
}
