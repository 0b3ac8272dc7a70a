//! `upgrade-readiness`: with `scan --target-version vX.Y.Z`, what blocks or breaks an upgrade to
//! that version, judged from cluster objects as Harvester's own checks judge it. Runs only with a
//! target version ([`Rule::needs_target`]).
//!
//! Harvester's Upgrade webhook (harvester/harvester v1.6.0 `pkg/webhook/resources/upgrade/validator.go`)
//! refuses a new Upgrade while another in `harvester-system` has no `harvesterhci.io/upgradeState`
//! of `Succeeded`/`Failed` (`Create`), while a Longhorn volume is `degraded` (`hasDegradedVolume`,
//! clusters of 3+ nodes), while single-replica volumes exist (`checkSingleReplicaVolumes`,
//! multi-node; only attached ones with the `harvesterhci.io/skipSingleReplicaDetachedVol`
//! annotation), and, unless the `upgrade-config` setting has `restoreVM`, while VMs cannot be
//! live-migrated (`checkNonLiveMigratableVMs`): those would be shut down when their node is drained.
//! harvester/upgrade-helpers `pre-check/v1.x/check.sh` runs the same checks from a node
//! (`check_volumes`: robustness not healthy on an attached volume; `check_virtual_machines_live_migration`).
//! Here:
//! - stuck migrations: `migration-stuck`'s findings (a node drain, the upgrade's pre-drain, waits
//!   on them; harvester/harvester#10354): error;
//! - running VMIs with KubeVirt's `LiveMigratable` condition `False` (kubevirt/api
//!   `core/v1/types.go` `VirtualMachineInstanceIsMigratable`): error, warning with `restoreVM`;
//! - Longhorn volumes `degraded` or `faulted`, and single-replica volumes: error (warning for a
//!   detached single-replica or faulted volume);
//! - Upgrades that are not finished: error; repo VMs (`upgrade-repo-<upgrade>`, labels
//!   `harvesterhci.io/upgrade` and `harvesterhci.io/upgradeComponent=repo`) and ISO images
//!   (`harvester-system/<upgrade>`, label `harvesterhci.io/upgrade`) of finished or deleted
//!   Upgrades, left when `Repo.Cleanup` failed (harvester/harvester v1.6.0
//!   `pkg/controller/master/upgrade/upgrade_repo.go`): warning;
//! - version boundaries the upgrade crosses: to v1.8.0-rc2+ from before it, images sharing a name
//!   across namespaces stay on their legacy `longhorn-<name>` class, which a same-named image
//!   created after the upgrade deletes (`image-name-collision`); to a target before v1.4.2-rc2,
//!   VMs named with 54+ characters keep the quota-annotation bug through the upgrade's drains
//!   (`vm-name-breaks-migration`): warning.
//!
//! Nodes are not read, so checks Harvester skips on small clusters are `likely`, not `proven`.

use std::collections::{BTreeMap, BTreeSet};

use super::migration_stuck::MigrationStuck;
use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, human, info};
use crate::inventory::kinds::setting::UPGRADE_CONFIG;
use crate::inventory::kinds::upgrade::{COMPONENT_LABEL, UPGRADE_LABEL};
use crate::inventory::kinds::{
    LonghornVolume, ScheduleVMBackup, Setting, Upgrade, VirtualMachine, VirtualMachineBackup, VirtualMachineImage,
    VirtualMachineInstance, VirtualMachineInstanceMigration,
};
use crate::inventory::{Kind, KindInfo};
use crate::meta::{Key, parse_time};
use crate::version::Version;

pub struct UpgradeReadiness;

pub const ID: &str = "upgrade-readiness";
const HARVESTER_NS: &str = "harvester-system";
const LONGHORN_NS: &str = "longhorn-system";
/// The upgrade webhook's opt-out for detached single-replica volumes (on the Upgrade).
const SKIP_SINGLE_REPLICA_DETACHED: Key = Key::new("harvesterhci.io/skipSingleReplicaDetachedVol");

impl Rule for UpgradeReadiness {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "With --target-version: what blocks or breaks an upgrade to that version (Harvester's upgrade pre-checks)"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        static NEEDS: [&KindInfo; 9] = [
            info::<VirtualMachineInstance>(),
            info::<VirtualMachineInstanceMigration>(),
            info::<LonghornVolume>(),
            info::<Upgrade>(),
            info::<VirtualMachine>(),
            info::<VirtualMachineImage>(),
            info::<Setting>(),
            info::<VirtualMachineBackup>(),
            info::<ScheduleVMBackup>(),
        ];
        &NEEDS
    }
    fn needs_target(&self) -> bool {
        true
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "Runs only with scan --target-version. Harvester's Upgrade webhook (harvester/harvester \
                  pkg/webhook/resources/upgrade/validator.go) refuses a new Upgrade while another in harvester-system is \
                  not labelled harvesterhci.io/upgradeState Succeeded or Failed, while a Longhorn volume is degraded \
                  (3+ nodes), while single-replica volumes exist, and, unless the upgrade-config setting has \
                  restoreVM, while VMs cannot be live-migrated: they would be shut down when their node is drained. \
                  harvester/upgrade-helpers pre-check/v1.x/check.sh checks the same from a node. This rule reports, \
                  as errors: migration-stuck's findings (the upgrade's pre-drain waits on them), running VMIs whose \
                  KubeVirt condition LiveMigratable is False, degraded or attached faulted Longhorn volumes, attached \
                  single-replica volumes, unfinished Upgrades, VM backups or snapshots in progress and backup \
                  schedules that are not suspended (checkVMBackups, checkScheduleVMBackups); as warnings: detached single-replica or faulted \
                  volumes, non-migratable VMs with restoreVM set, the repo VM (upgrade-repo-<upgrade>) and ISO image \
                  (harvester-system/<upgrade>) of a finished or deleted Upgrade that Repo.Cleanup left \
                  (pkg/controller/master/upgrade/upgrade_repo.go), and the version boundaries the upgrade crosses: \
                  to v1.8.0-rc2+ images sharing a name across namespaces stay on their legacy longhorn-<name> class, \
                  which a same-named image created later deletes (image-name-collision); to a target before \
                  v1.4.2-rc2 VMs named with 54+ characters keep the quota-annotation bug during the upgrade's drains \
                  (vm-name-breaks-migration). Nodes are not read: checks Harvester skips on one- or two-node \
                  clusters are likely, not proven.",
            affected: "every Harvester version (the upgrade pre-checks of v1.2 to v1.8)",
            upstream: &[
                "harvester/harvester pkg/webhook/resources/upgrade/validator.go",
                "harvester/harvester pkg/controller/master/upgrade/upgrade_repo.go",
                "harvester/harvester pkg/controller/master/upgrade/upgrade_controller.go",
                "harvester/harvester pkg/util/virtualmachineinstance/virtualmachineinstance.go",
                "harvester/upgrade-helpers pre-check/v1.x/check.sh",
                "kubevirt/api core/v1/types.go (VirtualMachineInstanceIsMigratable)",
                "harvester/harvester#10354 (upgrade stuck in pre-draining on a pending migration)",
                "harvester/harvester#9392 (lh-<uid> image classes from v1.8.0-rc2)",
                "harvester/harvester#7504 (migratingUID annotation from v1.4.2-rc2)",
            ],
            remediation: "Clear every error before creating the Upgrade: finish or delete the stuck migrations, stop \
                          or make migratable the VMs that cannot live-migrate (or set restoreVM in the upgrade-config \
                          setting), let Longhorn rebuild degraded volumes (kubectl -n longhorn-system get \
                          volumes.longhorn.io) and give single-replica volumes more replicas, and delete the \
                          unfinished Upgrade once it is not running (kubectl -n harvester-system delete upgrade \
                          <name>). Let running backups finish and suspend backup schedules for the upgrade. Delete \
                          leftover repo VMs and ISO images of earlier upgrades.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let mut out = Outcome::default();
        let Some(target) = ctx.target else {
            return out;
        };
        let current = ctx.inv.harvester_version.as_ref();
        match current {
            Some(c) if target <= c => out.notes.push(format!(
                "the target {target} is not newer than the current version {c}: Harvester upgrades only forward"
            )),
            None => out
                .notes
                .push("the current Harvester version is unknown: version boundaries not judged".into()),
            Some(_) => {}
        }
        let t = format!("target-version:{target}");
        stuck_migrations(self, ctx, &t, &mut out);
        non_migratable(self, ctx, &t, &mut out);
        volumes(self, ctx, &t, &mut out);
        upgrades(self, ctx, &t, &mut out);
        backups(self, ctx, &t, &mut out);
        if let Some(c) = current {
            crossings(self, ctx, c, target, &t, &mut out);
        }
        out
    }
}

/// Backups in progress and backup schedules that are not suspended: the Upgrade webhook refuses
/// the upgrade while any exists (harvester/harvester v1.6.0 `pkg/webhook/resources/upgrade/validator.go`
/// `checkVMBackups`: "please wait until all vmbackups are stopped", a backup in progress being
/// one without an error that is not `readyToUse`, `pkg/controller/master/backup/util.go`
/// `IsBackupProgressing`; `checkScheduleVMBackups`: "please suspend all backup/snapshot
/// schedule", by `status.suspended`). Snapshots count as backups here.
fn backups(rule: &UpgradeReadiness, ctx: &Context<'_>, t: &str, out: &mut Outcome) {
    for b in ctx.inv.objects::<VirtualMachineBackup>() {
        let s = &b.status;
        if s.error.message.as_deref().is_some_and(|m| !m.is_empty()) || s.ready_to_use == Some(true) {
            continue;
        }
        let kind = if b.spec.type_.is_empty() { "backup" } else { b.spec.type_.as_str() };
        out.findings.push(
            Finding::about(
                rule,
                Severity::Error,
                b,
                format!(
                    "VirtualMachineBackup {} ({kind} of VM {}) is in progress: Harvester's Upgrade webhook refuses \
                     an upgrade until every VM backup has stopped (checkVMBackups, \"please wait until all vmbackups \
                     are stopped\").",
                    b.object_ref().key(),
                    b.spec.source.name
                ),
                "Let the backup finish (or delete it if it is stuck: see backup-failed) before creating the Upgrade."
                    .into(),
            )
            .with_confidence(Confidence::Proven)
            .with_title(format!("{kind} in progress blocks the upgrade"))
            .evidence("check:vmbackup-in-progress")
            .evidence(t.to_string()),
        );
    }
    for s in ctx.inv.objects::<ScheduleVMBackup>() {
        if s.status.suspended == Some(true) {
            continue;
        }
        out.findings.push(
            Finding::about(
                rule,
                Severity::Error,
                s,
                format!(
                    "ScheduleVMBackup {} (cron {}) is not suspended: Harvester's Upgrade webhook refuses an upgrade \
                     while any backup or snapshot schedule runs (checkScheduleVMBackups), since a backup it starts \
                     holds a Longhorn attachment ticket that blocks live migration during the node drains.",
                    s.object_ref().key(),
                    if s.spec.cron.is_empty() { "?" } else { &s.spec.cron }
                ),
                "Suspend the schedule for the upgrade (spec.suspend: true, or Suspend in the UI) and resume it \
                 afterwards."
                    .into(),
            )
            .with_confidence(Confidence::Proven)
            .with_title("backup schedule not suspended blocks the upgrade".to_string())
            .evidence("check:schedule-not-suspended")
            .evidence(t.to_string()),
        );
    }
}

/// `migration-stuck`'s findings, as blockers.
fn stuck_migrations(rule: &UpgradeReadiness, ctx: &Context<'_>, t: &str, out: &mut Outcome) {
    let inner = MigrationStuck.check(ctx);
    out.notes.extend(inner.notes);
    for mut f in inner.findings {
        f.rule = ID.to_string();
        f.severity = Severity::Error;
        f.title = format!("blocks the upgrade: {}", f.title);
        f.message.push_str(&format!(
            " An upgrade drains every node and its pre-drain waits on this migration (harvester/harvester#10354): \
             clear it before upgrading to {}.",
            t.trim_start_matches("target-version:")
        ));
        f.remediation = rule.explain().remediation.to_string();
        f.evidence.push("check:migration-stuck".into());
        f.evidence.push(t.to_string());
        out.findings.push(f);
    }
}

/// The `restoreVM` field of the `upgrade-config` setting (value, else default); `None` when the
/// setting was not read.
fn restore_vm(ctx: &Context<'_>) -> Option<bool> {
    let s = ctx
        .inv
        .objects::<Setting>()
        .iter()
        .find(|s| s.metadata.name == UPGRADE_CONFIG)?;
    let raw = if s.value.trim().is_empty() { &s.default } else { &s.value };
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    Some(v.get("restoreVM").and_then(serde_json::Value::as_bool).unwrap_or(false))
}

fn non_migratable(rule: &UpgradeReadiness, ctx: &Context<'_>, t: &str, out: &mut Outcome) {
    let restore = restore_vm(ctx);
    for vmi in ctx.inv.objects::<VirtualMachineInstance>() {
        if vmi.status.phase != "Running" || vmi.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(c) = vmi.condition("LiveMigratable").filter(|c| c.status.eq_ignore_ascii_case("false")) else {
            continue;
        };
        let name = vmi.object_ref().key();
        let why = if c.message.is_empty() {
            c.reason.to_string()
        } else {
            format!("{}: {}", c.reason, c.message)
        };
        let (sev, conf, fate) = match restore {
            Some(true) => (
                Severity::Warning,
                Confidence::Proven,
                "the upgrade-config setting has restoreVM, so Harvester shuts it down when its node is drained and \
                 starts it again after: plan the downtime",
            ),
            Some(false) => (
                Severity::Error,
                Confidence::Likely,
                "Harvester's Upgrade webhook refuses the upgrade while it runs (checkNonLiveMigratableVMs; skipped on \
                 a one-node cluster), and draining its node shuts it down",
            ),
            None => (
                Severity::Error,
                Confidence::Likely,
                "unless the upgrade-config setting has restoreVM (not read), Harvester's Upgrade webhook refuses the \
                 upgrade while it runs, and draining its node shuts it down",
            ),
        };
        let mut f = Finding::about(
            rule,
            sev,
            vmi,
            format!(
                "VirtualMachineInstance {name} is running on {} and cannot be live-migrated (KubeVirt condition \
                 LiveMigratable=False, {why}): {fate}.",
                if vmi.status.node_name.is_empty() {
                    "a node"
                } else {
                    vmi.status.node_name.as_str()
                }
            ),
            "Stop the VM before the upgrade, or remove what pins it (host devices, node selectors, non-shared \
             volumes, CD-ROMs), or set restoreVM in the upgrade-config setting to have Harvester shut it down and \
             restart it."
                .into(),
        )
        .with_confidence(conf)
        .with_title("cannot live-migrate: shut down on drain".to_string())
        .evidence("condition:LiveMigratable=False")
        .evidence(format!("reason:{}", c.reason))
        .evidence(t.to_string());
        f = f.evidence(match restore {
            Some(r) => format!("restore-vm:{r}"),
            None => format!("unknown-setting:{UPGRADE_CONFIG}"),
        });
        out.findings.push(f);
    }
}

fn volumes(rule: &UpgradeReadiness, ctx: &Context<'_>, t: &str, out: &mut Outcome) {
    let skip_detached = ctx
        .inv
        .objects::<Upgrade>()
        .iter()
        .any(|u| !u.is_final() && u.metadata.annotation(SKIP_SINGLE_REPLICA_DETACHED).is_some());
    for v in ctx.inv.objects::<LonghornVolume>() {
        if v.metadata.namespace.as_deref() != Some(LONGHORN_NS) || v.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let attached = matches!(v.status.state.as_str(), "attached" | "attaching" | "creating");
        let k = &v.status.kubernetes_status;
        let pvc = if k.pvc_name.is_empty() {
            String::new()
        } else {
            format!(" (PVC {}/{})", k.namespace, k.pvc_name)
        };
        let name = &v.metadata.name;
        let base = |sev, conf, msg: String, title: &str| {
            Finding::about(
                rule,
                sev,
                v,
                msg,
                "Let Longhorn rebuild the replicas (Longhorn UI, or kubectl -n longhorn-system get \
                 replicas.longhorn.io -l longhornvolume=<volume>) and upgrade only when every volume is healthy; give \
                 single-replica volumes at least two replicas, or stop their workloads."
                    .into(),
            )
            .with_confidence(conf)
            .with_title(title.to_string())
            .evidence(format!("robustness:{}", v.status.robustness))
            .evidence(format!("state:{}", v.status.state))
            .evidence(format!("replicas:{}", v.spec.number_of_replicas))
            .evidence(t.to_string())
        };
        match v.status.robustness.as_str() {
            "degraded" => out.findings.push(base(
                Severity::Error,
                Confidence::Likely,
                format!(
                    "Longhorn volume {name}{pvc} is degraded: Harvester's Upgrade webhook refuses an upgrade while any \
                     volume is degraded (hasDegradedVolume, clusters of 3+ nodes), and draining a node that holds one of \
                     its remaining replicas risks the data."
                ),
                "degraded volume blocks the upgrade",
            )),
            "faulted" => out.findings.push(base(
                if attached { Severity::Error } else { Severity::Warning },
                Confidence::Proven,
                format!(
                    "Longhorn volume {name}{pvc} is faulted (no usable replica){}: harvester/upgrade-helpers' \
                     pre-check fails on it, and the upgrade's node drains cannot move it.",
                    if attached { " while attached" } else { "" }
                ),
                "faulted volume",
            )),
            _ if v.spec.number_of_replicas == 1 && (attached || !skip_detached) => out.findings.push(base(
                if attached { Severity::Error } else { Severity::Warning },
                Confidence::Likely,
                format!(
                    "Longhorn volume {name}{pvc} has a single replica{}: Harvester's Upgrade webhook refuses an \
                     upgrade while single-replica volumes exist (checkSingleReplicaVolumes, multi-node clusters; \
                     detached ones only without the harvesterhci.io/skipSingleReplicaDetachedVol annotation on the Upgrade), and draining its node \
                     {}.",
                    if attached { " and is in use" } else { "" },
                    if attached {
                        "blocks on it"
                    } else {
                        "leaves its only copy offline"
                    }
                ),
                "single-replica volume",
            )),
            _ => {}
        }
    }
}

/// An Upgrade that is neither Succeeded nor Failed: the webhook refuses a new one.
fn unfinished_upgrade(rule: &UpgradeReadiness, ctx: &Context<'_>, u: &Upgrade, t: &str) -> Finding {
    let age = parse_time(u.metadata.creation_timestamp.as_deref()).map(|c| ctx.now.duration_since(c));
    let state = u.state().unwrap_or("none");
        Finding::about(
            rule,
            Severity::Error,
            u,
            format!(
                "Upgrade {} (to {}, state {state}{}) is not finished: Harvester's Upgrade webhook refuses a new \
                 Upgrade while one without harvesterhci.io/upgradeState Succeeded or Failed exists (\"cannot \
                 proceed until previous upgrade completes\").",
                u.metadata.name,
                if u.spec.version.is_empty() { "?" } else { &u.spec.version },
                age.map(|a| format!(", created {} ago", human(a))).unwrap_or_default()
            ),
            "If it is still running, let it finish. If it is stuck or abandoned, delete it (kubectl -n \
             harvester-system delete upgrade <name>; the webhook refuses while nodes are being upgraded); \
             Harvester then cleans up its repo VM and image."
                .into(),
        )
        .with_title("unfinished Upgrade blocks a new one".to_string())
        .evidence(format!("upgrade-state:{state}"))
        .evidence(t.to_string())
}

fn upgrades(rule: &UpgradeReadiness, ctx: &Context<'_>, t: &str, out: &mut Outcome) {
    let inv = ctx.inv;
    let known = inv.covers::<Upgrade>(Some(HARVESTER_NS));
    let all: BTreeMap<&str, &Upgrade> = inv
        .objects::<Upgrade>()
        .iter()
        .filter(|u| u.metadata.namespace.as_deref() == Some(HARVESTER_NS))
        .map(|u| (u.metadata.name.as_str(), u))
        .collect();
    for u in all.values().filter(|u| !u.is_final()) {
        out.findings.push(unfinished_upgrade(rule, ctx, u, t));
    }
    // Leftovers of finished or deleted Upgrades.
    let fate = |upgrade: &str| -> Option<(Confidence, String)> {
        match all.get(upgrade) {
            Some(u) if u.is_final() => Some((Confidence::Likely, format!("upgrade-finished:{upgrade}"))),
            Some(_) => None,
            None if known => Some((Confidence::Proven, format!("upgrade-missing:{upgrade}"))),
            None => None,
        }
    };
    for vm in inv.objects::<VirtualMachine>() {
        let m = &vm.metadata;
        if m.namespace.as_deref() != Some(HARVESTER_NS) || m.label(COMPONENT_LABEL) != Some("repo") {
            continue;
        }
        let Some(up) = m.label(UPGRADE_LABEL) else { continue };
        let Some((conf, ev)) = fate(up) else { continue };
        out.findings.push(
            Finding::about(
                rule,
                Severity::Warning,
                vm,
                format!(
                    "VirtualMachine {HARVESTER_NS}/{} is the upgrade repository VM of Upgrade {up}, which is {}: \
                     Repo.Cleanup did not delete it (harvester/harvester pkg/controller/master/upgrade/upgrade_repo.go). \
                     It holds CPU, memory and a disk, and a VM named for an earlier attempt confuses the next one.",
                    m.name,
                    if ev.starts_with("upgrade-missing") { "gone" } else { "finished" }
                ),
                "Delete the VM and its disk: kubectl -n harvester-system delete vm <name> (Harvester then \
                 garbage-collects the ISO image through the PVC owner reference)."
                    .into(),
            )
            .with_confidence(conf)
            .with_title(format!("repo VM of earlier upgrade {up} left"))
            .evidence(ev)
            .evidence(t.to_string()),
        );
    }
    for img in inv.objects::<VirtualMachineImage>() {
        let m = &img.metadata;
        if m.namespace.as_deref() != Some(HARVESTER_NS) {
            continue;
        }
        let Some(up) = m.label(UPGRADE_LABEL) else { continue };
        let Some((conf, ev)) = fate(up) else { continue };
        let mut f = Finding::about(
            rule,
            Severity::Warning,
            img,
            format!(
                "VirtualMachineImage {HARVESTER_NS}/{} is the ISO of Upgrade {up}, which is {}: Repo.Cleanup \
                 (deleteImage) did not remove it (harvester/harvester pkg/controller/master/upgrade/upgrade_repo.go).",
                m.name,
                if ev.starts_with("upgrade-missing") { "gone" } else { "finished" }
            ),
            "Delete the image once no repo VM uses it: kubectl -n harvester-system delete virtualmachineimage <name>."
                .into(),
        )
        .with_confidence(conf)
        .with_title(format!("ISO image of earlier upgrade {up} left"))
        .evidence(ev)
        .evidence(t.to_string());
        f.reclaimable_bytes = img.size_bytes();
        out.findings.push(f);
    }
}

/// Rules whose version boundaries lie between the current version and the target.
fn crossings(rule: &UpgradeReadiness, ctx: &Context<'_>, current: &Version, target: &Version, t: &str, out: &mut Outcome) {
    use super::image_name_collision::NEW_NAMING;
    use super::vm_name_breaks_migration::{FIRST_AFFECTED, FIXED};
    if current.before(&NEW_NAMING) == Some(true) && target.before(&NEW_NAMING) == Some(false) {
        naming_crossing(rule, ctx, current, target, t, out);
    }
    if target.before(&FIRST_AFFECTED) == Some(false) && target.before(&FIXED) == Some(true) {
        long_names_on_target(rule, ctx, target, t, out);
    }
}

/// The upgrade crosses v1.8.0-rc2 (image-name-collision): same-named images on legacy classes.
fn naming_crossing(
    rule: &UpgradeReadiness,
    ctx: &Context<'_>,
    current: &Version,
    target: &Version,
    t: &str,
    out: &mut Outcome,
) {
    let inv = ctx.inv;
    let images: Vec<&VirtualMachineImage> = inv
        .objects::<VirtualMachineImage>()
        .iter()
        .filter(|i| !i.is_cdi() && i.metadata.deletion_timestamp.is_none())
        .collect();
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for i in &images {
        by_name
            .entry(i.metadata.name.as_str())
            .or_default()
            .insert(i.metadata.namespace.as_deref().unwrap_or(""));
    }
    for i in images.iter().copied() {
        let n = by_name.get(i.metadata.name.as_str()).map_or(0, BTreeSet::len);
        if n < 2 {
            continue;
        }
        let class = format!("longhorn-{}", i.metadata.name);
        let mut f = Finding::about(
            rule,
            Severity::Warning,
            i,
            format!(
                "VirtualMachineImage {} shares its name with images in {} other namespace(s); upgrading from \
                 {current} to {target} crosses v1.8.0-rc2, where new images get lh-<uid> classes but this one keeps \
                 the legacy StorageClass {class}. On the target, creating or re-initialising an image of the same \
                 name first deletes the class it finds, {class} (harvester/harvester \
                 pkg/image/backingimage/backingimage.go Backend.Initialize), and this image loses it.",
                i.object_ref().key(),
                n - 1
            ),
            "Before or right after the upgrade, re-create the same-named images under cluster-unique names and move \
             their VMs; do not create another image of this name on the target."
                .into(),
        )
        .with_confidence(Confidence::Likely)
        .with_title(format!("legacy class {class} at risk after the upgrade"))
        .evidence("crosses:v1.8.0-rc2 (image-name-collision)")
        .evidence(format!("legacy-class:{class}"))
        .evidence(format!("harvester-version:{current}"))
        .evidence(t.to_string());
        f.related = images
            .iter()
            .filter(|o| o.metadata.name == i.metadata.name && o.metadata.namespace != i.metadata.namespace)
            .map(|o| o.object_ref())
            .collect();
        out.findings.push(f);
    }
}

/// The target still writes the migrating-<vm name> annotation (vm-name-breaks-migration): running
/// VMs with long names.
fn long_names_on_target(rule: &UpgradeReadiness, ctx: &Context<'_>, target: &Version, t: &str, out: &mut Outcome) {
    use super::vm_name_breaks_migration::MAX_SAFE_NAME;
    let inv = ctx.inv;
    for vmi in inv.objects::<VirtualMachineInstance>() {
        let len = vmi.metadata.name.chars().count();
        if vmi.status.phase != "Running" || len <= MAX_SAFE_NAME {
            continue;
        }
        out.findings.push(
            Finding::about(
                rule,
                Severity::Warning,
                vmi,
                format!(
                    "VM {} has a {len}-character name and the target {target} still has the migrating-<vm name> \
                     ResourceQuota annotation (fixed in v1.4.2-rc2, harvester/harvester#7504): when the upgrade \
                     drains its node, its migration fails if the namespace's Rancher quota has cpu or memory limits \
                     and no headroom (see vm-name-breaks-migration).",
                    vmi.object_ref().key()
                ),
                "Choose v1.4.2 or later as the target, or keep quota headroom in the namespace, or stop the VM for the \
                 upgrade."
                    .into(),
            )
            .with_confidence(Confidence::Likely)
            .with_title(format!("{len}-character VM name: migration may fail during the upgrade"))
            .evidence("target-before:v1.4.2-rc2 (vm-name-breaks-migration)")
            .evidence(format!("name-length:{len}"))
            .evidence(t.to_string()),
        );
    }
}
