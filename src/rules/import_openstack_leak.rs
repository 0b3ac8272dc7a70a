//! `import-openstack-leak`: OpenStack snapshots, volumes and images left behind by a failed
//! VM import (research §5). The vm-import-controller exports an OpenStack VM by snapshotting
//! each attached volume, creating a volume from the snapshot and uploading it to Glance; before
//! vm-import-controller PR #80/#84 (Harvester v1.5.2) only the success path deleted them.

use std::time::Duration;

use super::{Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{Addon, Upgrade, VM_IMPORT_CONTROLLER, VirtualMachineImport};
use crate::meta::{ObjectRef, parse_time};
use crate::version::Version;

pub struct ImportOpenstackLeak;

const ID: &str = "import-openstack-leak";
/// First releases with the cleanup fix: Harvester v1.5.2, add-on chart 1.5.2.
const FIXED: Version = Version::new(1, 5, 2);
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Whether the controller running now has the fix, and how we know.
fn controller_fixed(ctx: &Context<'_>) -> (Option<bool>, String) {
    let addon = ctx
        .inv
        .objects::<Addon>()
        .iter()
        .find(|a| a.metadata.name == VM_IMPORT_CONTROLLER);
    if let Some(v) = addon.and_then(|a| Version::parse(&a.spec.version)) {
        return (Some(v >= FIXED), format!("the vm-import-controller add-on is at {v}"));
    }
    match &ctx.inv.harvester_version {
        Some(v) => (Some(*v >= FIXED), format!("Harvester is at {v}")),
        None => (None, "the controller and Harvester versions are unknown".into()),
    }
}

/// When the cluster was upgraded onto a fixed Harvester version, from the Upgrade objects.
fn fixed_since(ctx: &Context<'_>) -> Option<jiff::Timestamp> {
    ctx.inv
        .objects::<Upgrade>()
        .iter()
        .filter(|u| Version::parse(&u.spec.version).is_some_and(|v| v >= FIXED))
        .filter(|u| Version::parse(&u.status.previous_version).is_none_or(|p| p < FIXED))
        .filter_map(|u| parse_time(u.completed_at()))
        .min()
}

impl Rule for ImportOpenstackLeak {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "Failed OpenStack VM imports that left Cinder snapshots/volumes and Glance images behind"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        const NEEDS: &[&KindInfo] = &[info::<VirtualMachineImport>(), info::<Addon>(), info::<Upgrade>()];
        NEEDS
    }
    fn options(&self) -> &'static [&'static str] {
        &["stuckAfter"]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "To import an OpenStack VM, the vm-import-controller snapshots each attached Cinder volume \
                  (import-controller-<vm>-<i>), creates an unnamed volume from the snapshot, and uploads it to Glance \
                  as image import-controller-<vm>-<i>. Up to Harvester v1.5.1 (controller v0.4.x, v1.5.0, v1.5.1) they \
                  were deleted only when the disk succeeded: when the export fails (VMExportFailed, import status \
                  VMMigrationFailed) the failing disk's snapshot, volume and image stay in the OpenStack project, \
                  using its storage quota. v1.5.2/v1.6.0 clean up in every case, so a failure before the upgrade to a \
                  fixed version still leaked. Disk-image failures are re-exported and cleaned up; invalid imports \
                  fail before exporting; VMware imports create nothing in OpenStack. An export stuck in sourceReady \
                  after the VM was powered off may have been cut by a controller restart, which leaks on every version.",
            affected: "vm-import-controller before PR #80/#84: Harvester v1.5.1 and earlier (add-on chart < 1.5.2)",
            upstream: &[
                "harvester/vm-import-controller#80",
                "harvester/vm-import-controller#84",
                "harvester/harvester#6676",
            ],
            remediation: "In the OpenStack project of the import's OpenstackSource, delete the Glance image \
                          import-controller-<vm>-<i>, the volume created from the snapshot of that name (it has no \
                          name; find it by snapshot_id), then the snapshot. `kubectl harvester-hygiene fix --openstack` \
                          will find and delete them.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let (fixed_now, how) = controller_fixed(ctx);
        let since = fixed_since(ctx);
        let stuck_after = ctx.config.duration(ID, |c| c.stuck_after.as_ref(), DEFAULT_STUCK_AFTER);
        let stuck_after = jiff::SignedDuration::try_from(stuck_after).unwrap_or(jiff::SignedDuration::from_hours(6));
        for imp in inv.objects::<VirtualMachineImport>() {
            let Some(ns) = imp.metadata.namespace.as_deref() else {
                continue;
            };
            if !inv.in_scope(Some(ns)) || !imp.is_openstack() {
                continue;
            }
            let vm = imp.spec.virtual_machine_name.as_str();
            let disks = imp.status.disk_import_status.len();
            let names = if disks > 1 {
                format!(
                    "import-controller-{vm}-<i> (i = 0..{} for the disk that failed)",
                    disks - 1
                )
            } else {
                format!("import-controller-{vm}-0")
            };
            let leaked = format!(
                "Cinder snapshot {names}, the unnamed Cinder volume created from that snapshot, and Glance image {names}"
            );
            let src = &imp.spec.source_cluster;
            let source = ObjectRef {
                api_version: "migration.harvesterhci.io/v1beta1".into(),
                kind: "OpenstackSource".into(),
                namespace: Some(if src.namespace.is_empty() {
                    ns.to_string()
                } else {
                    src.namespace.clone()
                }),
                name: src.name.clone(),
                uid: None,
                resource_version: None,
            };
            let export_failed = imp.status.import_status == "VMMigrationFailed" && imp.condition_true("VMExportFailed");
            if export_failed {
                let failed_at = parse_time(imp.condition("VMExportFailed").and_then(|c| c.time()))
                    .or(parse_time(imp.metadata.creation_timestamp.as_deref()));
                let (severity, when) = match (fixed_now, since, failed_at) {
                    (Some(false), _, _) => (
                        Severity::Warning,
                        format!("The controller that ran it lacks the cleanup fix ({how})."),
                    ),
                    (None, _, _) => (
                        Severity::Warning,
                        format!("Whether the controller had the cleanup fix is unknown ({how}); assume it leaked."),
                    ),
                    (Some(true), Some(t), Some(f)) if f < t => (
                        Severity::Warning,
                        format!(
                            "It failed at {f}, before the upgrade to a fixed version completed at {t}, so the old controller leaked."
                        ),
                    ),
                    (Some(true), _, _) => (
                        Severity::Info,
                        format!(
                            "{how}, which cleans up after a failed export; check only if the controller restarted mid-export."
                        ),
                    ),
                };
                let msg = format!(
                    "VirtualMachineImport {ns}/{} of OpenStack VM {vm:?} failed to export (VMExportFailed, VMMigrationFailed). \
                     {when} Left in the OpenStack project of {}: {leaked}.",
                    imp.metadata.name,
                    source.key()
                );
                let mut f = Finding::about(self, severity, imp, msg, self.explain().remediation.to_string());
                f.related.push(source);
                out.findings.push(f);
                continue;
            }
            let powered_off = imp.condition("VMPoweredOff").filter(|c| c.is_true());
            let exported = imp.condition("VMExported").is_some_and(|c| c.is_true());
            if imp.status.import_status == "sourceReady"
                && !exported
                && !imp.condition_true("VMExportFailed")
                && let Some(off) = powered_off
                && let Some(t) = parse_time(off.time())
                && ctx.now.duration_since(t) > stuck_after
            {
                let msg = format!(
                    "VirtualMachineImport {ns}/{} of OpenStack VM {vm:?} has been exporting since {t} (powered off, \
                     neither exported nor failed). If the controller restarted mid-export, the partial export leaked \
                     on every version: check the OpenStack project of {} for {leaked}.",
                    imp.metadata.name,
                    source.key()
                );
                let mut f = Finding::about(self, Severity::Info, imp, msg, self.explain().remediation.to_string());
                f.related.push(source);
                out.findings.push(f);
            }
        }
        if fixed_now.is_none() {
            out.notes.push(
                "vm-import-controller and Harvester versions unknown: failed exports assumed to have leaked".into(),
            );
        }
        out
    }
}
