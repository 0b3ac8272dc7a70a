//! `import-openstack-leak`: OpenStack snapshots, volumes and images left behind by a failed
//! VM import.
//!
//! Upstream (harvester/vm-import-controller):
//! - `pkg/source/openstack/client.go` `ExportVirtualMachine`: for each attached volume `i` it
//!   creates a Cinder snapshot `import-controller-<vm>-<i>` (`vm` is `spec.virtualMachineName`
//!   as written), an unnamed volume from it, and a Glance image of the same name, downloads the
//!   image and only then appends an entry to `status.diskImportStatus`. After a failure the
//!   failing disk's index is therefore `len(status.diskImportStatus)`: that is the leaked set.
//!   Up to v1.5.1 only the success path deleted the three (volume, snapshot, image; a failed
//!   delete failed the export at that same index).
//! - `pkg/controllers/migration/virtualmachine.go` `triggerExport`: exports once, while neither
//!   `VMExported` nor `VMExportFailed` is true; an error sets `VMExportFailed` and
//!   `runVirtualMachineExport` (`helper.go`) sets `VMMigrationFailed`. A `diskImageFailed`
//!   resubmit (`triggerResubmit`, `cleanupAndResubmit`) deletes the failed VirtualMachineImages
//!   and goes back to `sourceReady`; with `VMExported` still true nothing is exported again, so
//!   it creates nothing in OpenStack.
//! - PR #80 (v1.6.0) and its backport #84 (v1.5.2): a deferred cleanup deletes image, volume and
//!   snapshot back to back in every case and only logs errors; Cinder deletes volumes
//!   asynchronously, so the snapshot (and anything whose delete failed) can still stay: fixed
//!   controllers try to clean up, they do not guarantee it. A controller killed mid-export runs
//!   no cleanup on any version, and the restarted controller exports again from disk 0.
//! - Add-on chart versions (harvester/addons `version_info`): Harvester v1.4.0-v1.4.2 chart 0.4.0
//!   (image v0.4.1), v1.4.3 image v0.4.3, v1.5.0 chart 1.5.0, v1.5.1 1.5.1, v1.5.2 1.5.2 (fixed),
//!   v1.6.0 1.6.0 (fixed).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Confidence, Context, Explanation, Finding, FixInput, OpenstackResource, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{Addon, OpenstackSource, Upgrade, VM_IMPORT_CONTROLLER, VirtualMachineImport};
use crate::meta::{ObjectRef, parse_time};
use crate::openstack::{self, Resource, ResourceKind, SourceState, Unchecked};
use crate::version::{Boundary, Version};

pub struct ImportOpenstackLeak;

pub const ID: &str = "import-openstack-leak";
/// The `details` key naming the finding's OpenstackSource (`namespace/name`), for people; the
/// fix reads [`FixInput::OpenstackLeftovers`].
const DETAIL_SOURCE: &str = "openstackSource";

/// `rules.import-openstack-leak` in the policy file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// How long an export may run before it counts as stuck (default 6h).
    pub stuck_after: Option<crate::config::DurationOption>,
    /// With `--openstack`: also count leftovers whose import no longer exists in this cluster
    /// (another cluster may share the project).
    pub without_import: bool,
}
/// First releases with the cleanup fix: Harvester v1.5.2-rc1, add-on chart 1.5.2-rc1 (image
/// v1.5.2-rc1 has the backport, harvester/vm-import-controller#84; harvester/addons `version_info`).
/// Development charts from 1.6.0-dev.0 run a v1.6-head image built after #80 merged.
const FIXED: Boundary = Boundary::new(Version::rc(1, 5, 2, 1)).dev_from(1, 6);
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(6 * 3600);
/// Where Harvester keeps its Addon and Upgrade objects.
const HARVESTER_SYSTEM: &str = "harvester-system";
const GIB: u64 = 1 << 30;

/// The controller running now: whether it has the cleanup fix, and how we know.
struct Controller {
    fixed: Option<bool>,
    /// For messages: "the vm-import-controller add-on is at v0.4.0".
    how: String,
    /// `controller:<chart version>`, `harvester:<version>` or `controller:unknown`.
    evidence: String,
}

fn controller(ctx: &Context<'_>) -> Controller {
    let addon = ctx
        .inv
        .objects::<Addon>()
        .iter()
        .find(|a| a.metadata.name == VM_IMPORT_CONTROLLER);
    if let Some(v) = addon.and_then(|a| Version::parse(&a.spec.version))
        && let Some(before) = v.before(&FIXED)
    {
        return Controller {
            fixed: Some(!before),
            how: format!("the vm-import-controller add-on is at {v}"),
            evidence: format!("controller:{v}"),
        };
    }
    match ctx
        .inv
        .harvester_version
        .as_ref()
        .and_then(|v| Some((v, v.before(&FIXED)?)))
    {
        Some((v, before)) => Controller {
            fixed: Some(!before),
            how: format!("Harvester is at {v}"),
            evidence: format!("harvester:{v}"),
        },
        None => Controller {
            fixed: None,
            how: "the controller and Harvester versions are unknown".into(),
            evidence: "controller:unknown".into(),
        },
    }
}

/// When the cluster was upgraded onto a fixed Harvester version, from the Upgrade objects.
fn fixed_since(ctx: &Context<'_>) -> Option<jiff::Timestamp> {
    ctx.inv
        .objects::<Upgrade>()
        .iter()
        .filter(|u| Version::parse(&u.spec.version).is_some_and(|v| v.before(&FIXED) == Some(false)))
        .filter(|u| Version::parse(&u.status.previous_version).is_none_or(|p| p.before(&FIXED) != Some(false)))
        .filter_map(|u| parse_time(u.completed_at()))
        .min()
}

/// "Cinder snapshot import-controller-<vm>-<i>, the unnamed Cinder volume created from it, and
/// Glance image import-controller-<vm>-<i>".
fn leaked_set(name: &str) -> String {
    format!("Cinder snapshot {name}, the unnamed Cinder volume created from it, and Glance image {name}")
}

fn source_ref(imp: &VirtualMachineImport, ns: &str) -> ObjectRef {
    let src = &imp.spec.source_cluster;
    ObjectRef {
        api_version: "migration.harvesterhci.io/v1beta1".into(),
        kind: "OpenstackSource".into(),
        namespace: Some(if src.namespace.is_empty() {
            ns.to_string()
        } else {
            src.namespace.to_string()
        }),
        name: src.name.to_string(),
        ..ObjectRef::default()
    }
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
        const NEEDS: &[&KindInfo] = &[
            info::<VirtualMachineImport>(),
            info::<OpenstackSource>(),
            info::<Addon>(),
            info::<Upgrade>(),
        ];
        NEEDS
    }
    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::check_options::<Options>(raw)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "To import an OpenStack VM, the vm-import-controller exports each attached Cinder volume i in turn: \
                  it snapshots it as import-controller-<vm>-<i>, creates an unnamed volume from the snapshot, uploads \
                  that to Glance as image import-controller-<vm>-<i>, downloads it, and only then appends the disk to \
                  status.diskImportStatus (ExportVirtualMachine in harvester/vm-import-controller \
                  pkg/source/openstack/client.go). When the export fails (condition VMExportFailed, import status \
                  VMMigrationFailed: triggerExport in pkg/controllers/migration/virtualmachine.go, \
                  runVirtualMachineExport in pkg/controllers/migration/helper.go), the failing disk is therefore number \
                  len(status.diskImportStatus), and up to Harvester v1.5.1 (add-on chart 0.4.x, 1.5.0, 1.5.1; \
                  harvester/addons version_info) its snapshot, volume and image stay in the OpenStack project, using \
                  its quota: only the success path deleted them. Since PR #80 (v1.6.0) and its backport #84 (v1.5.2) \
                  the controller tries to clean up in every case: it deletes image, volume and snapshot back to back \
                  and only logs errors, and Cinder deletes volumes asynchronously, so a failed export can still leave \
                  some of them; a failure before the upgrade to a fixed version leaked. A diskImageFailed resubmit \
                  (triggerResubmit in pkg/controllers/migration/helper.go) keeps VMExported and exports nothing again, \
                  so disk-image failures create nothing in OpenStack; invalid imports fail before exporting; VMware \
                  imports create nothing in OpenStack. An export stuck in sourceReady after the VM was powered off \
                  may have been cut by a controller restart, which runs no cleanup on any version (the restarted \
                  controller exports again from disk 0).",
            affected: "vm-import-controller before PR #80/#84: Harvester v1.5.1 and earlier (add-on chart < 1.5.2); \
                       fixed versions try to clean up and can still leave resources",
            upstream: &[
                "harvester/vm-import-controller pkg/source/openstack/client.go (ExportVirtualMachine)",
                "harvester/vm-import-controller pkg/controllers/migration/virtualmachine.go (triggerExport)",
                "harvester/vm-import-controller pkg/controllers/migration/helper.go (runVirtualMachineExport, triggerResubmit)",
                "harvester/vm-import-controller#80",
                "harvester/vm-import-controller#84",
                "harvester/harvester#6676",
                "harvester/addons version_info",
            ],
            remediation: "In the OpenStack project of the import's OpenstackSource, delete the Glance image \
                          import-controller-<vm>-<i> (i = the number of entries in the import's status.diskImportStatus), \
                          the volume created from the snapshot of that name (it has no name; find it by snapshot_id), \
                          then the snapshot. `kubectl harvester-hygiene fix --openstack` will find and delete them.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let ctl = controller(ctx);
        let since = fixed_since(ctx);
        let upgrades_known = inv.covers::<Upgrade>(Some(HARVESTER_SYSTEM));
        let opts: Options = ctx.options(ID);
        let stuck_after = crate::config::DurationOption::or_default(opts.stuck_after, DEFAULT_STUCK_AFTER);
        let os = ctx.inv.openstack.as_ref().map(|o| Leftovers::new(o, ctx, stuck_after));
        let mut handled: BTreeSet<(String, String)> = BTreeSet::new();
        for imp in inv.objects::<VirtualMachineImport>() {
            let Some(ns) = imp.metadata.namespace.as_deref() else {
                continue;
            };
            if !inv.in_scope(Some(ns)) || !imp.is_openstack() {
                continue;
            }
            let vm = imp.spec.virtual_machine_name.as_str();
            let source = source_ref(imp, ns);
            if imp.export_failed() {
                let index = imp.failed_disk_index();
                if let Some(os) = os.as_ref().filter(|o| o.listed(&source.key()).is_some()) {
                    // --openstack: report what is really there, not what may be.
                    handled.insert((source.key(), vm.to_string()));
                    if let Some(f) = self.listed(os, &ctl, imp, &source, index) {
                        out.findings.push(f);
                    }
                    continue;
                }
                // With --openstack, the source's project could not be listed: said in the
                // finding, noted below, and listed in the report's `incomplete`.
                let unchecked = os.as_ref().map(|o| o.unchecked(&source.key()));
                out.findings
                    .push(self.guessed(ctx, &ctl, since, upgrades_known, imp, source, index, unchecked));
                continue;
            }
            let powered_off = imp.condition("VMPoweredOff").filter(|c| c.is_true());
            if imp.status.import_status == "sourceReady"
                && !imp.exported()
                && !imp.condition_true("VMExportFailed")
                && let Some(off) = powered_off
                && let Some(t) = parse_time(off.time())
                && ctx.now.duration_since(t) > stuck_after
            {
                // The disks exported so far are only in memory until the export returns
                // (runVirtualMachineExport updates the status once), so the index is unknown.
                let msg = format!(
                    "VirtualMachineImport {ns}/{} of OpenStack VM {vm:?} has been exporting since {t} (powered off, \
                     neither exported nor failed). If the controller restarted mid-export, the partial export leaked \
                     on every version (no cleanup runs, and the restarted controller exports again from disk 0): check \
                     the OpenStack project of {} for Cinder snapshots and Glance images import-controller-{vm}-<i> and \
                     the unnamed volumes created from those snapshots.",
                    imp.metadata.name,
                    source.key()
                );
                let mut f = Finding::about(self, Severity::Info, imp, msg, self.explain().remediation.to_string())
                    .with_title(format!(
                        "export of {vm:?} stuck since {t}: may have leaked in OpenStack"
                    ))
                    .with_confidence(Confidence::Possible)
                    .evidence("export-stuck")
                    .evidence(format!("powered-off:{t}"))
                    .evidence(ctl.evidence.clone());
                f.related.push(source);
                out.findings.push(f);
            }
        }
        if let Some(os) = &os {
            os.remaining(self, ctx, &handled, &mut out);
        }
        if ctl.fixed.is_none() {
            out.notes.push(
                "vm-import-controller and Harvester versions unknown: failed exports assumed to have leaked".into(),
            );
        }
        out
    }
}

/// How sure a guessed leak is, from the controller that ran the export: without the cleanup
/// fix, unknown, failed before the upgrade to a fixed version, or fixed (it tries to clean up).
fn leak_verdict(
    ctl: &Controller,
    since: Option<jiff::Timestamp>,
    failed_at: Option<jiff::Timestamp>,
    upgrades_known: bool,
    evidence: &mut Vec<String>,
) -> (Severity, Confidence, String) {
    let how = &ctl.how;
    match (ctl.fixed, since, failed_at) {
        (Some(false), _, _) => (
            Severity::Warning,
            Confidence::Likely,
            format!(
                "The controller that ran it lacks the cleanup fix ({how}), which deletes them only after a disk succeeds."
            ),
        ),
        (None, _, _) => (
            Severity::Warning,
            Confidence::Possible,
            format!("Whether the controller had the cleanup fix is unknown ({how}); assume it leaked."),
        ),
        (Some(true), Some(t), Some(f)) if f < t => {
            evidence.push(format!("failed-at:{f}"));
            evidence.push(format!("upgraded-to-fixed:{t}"));
            (
                Severity::Warning,
                Confidence::Likely,
                format!(
                    "It failed at {f}, before the upgrade to a fixed version completed at {t}, so the old controller leaked."
                ),
            )
        }
        (Some(true), _, _) => {
            let unknown = if upgrades_known {
                String::new()
            } else {
                evidence.push("unknown-kind:Upgrade".into());
                " Upgrade objects were not read, so whether it failed before an upgrade from an affected version \
                 is unknown."
                    .to_string()
            };
            (
                Severity::Info,
                Confidence::Possible,
                format!(
                    "{how}, whose controller tries to clean up after a failed export (it deletes image, volume and \
                     snapshot back to back and only logs errors; Cinder deletes volumes asynchronously), so some \
                     may still be there.{unknown}"
                ),
            )
        }
    }
}

impl ImportOpenstackLeak {
    /// A failed export without an OpenStack listing: what is probably there.
    #[allow(clippy::too_many_arguments)]
    fn guessed(
        &self,
        ctx: &Context<'_>,
        ctl: &Controller,
        since: Option<jiff::Timestamp>,
        upgrades_known: bool,
        imp: &VirtualMachineImport,
        source: ObjectRef,
        index: usize,
        unchecked: Option<Unchecked>,
    ) -> Finding {
        let vm = imp.spec.virtual_machine_name.as_str();
        let name = openstack::resource_name(vm, index);
        let failed_at = parse_time(imp.condition("VMExportFailed").and_then(|c| c.time()))
            .or(parse_time(imp.metadata.creation_timestamp.as_deref()));
        let mut evidence = vec!["export-failed".to_string(), ctl.evidence.clone()];
        let (severity, confidence, when) = leak_verdict(ctl, since, failed_at, upgrades_known, &mut evidence);
        evidence.push(format!("leaked-index:{index}"));
        let unchecked = unchecked.map_or(String::new(), |u| {
            evidence.push(format!("openstack-unchecked:{}", u.kind.as_str()));
            format!(
                " --openstack could not check that project: {} (openstack-unchecked:{}; see the report's incomplete \
                 list), so this is what the import's status implies, not a listing.",
                u.kind.describe(),
                u.kind.as_str()
            )
        });
        let gone = source_gone(ctx, &source);
        let msg = format!(
            "VirtualMachineImport {}/{} of OpenStack VM {vm:?} failed to export (VMExportFailed, VMMigrationFailed) at \
             disk {index} ({} exported before it, per status.diskImportStatus). {when} Left in the OpenStack project \
             of {}: {}.{unchecked}{gone}",
            imp.metadata.namespace.as_deref().unwrap_or_default(),
            imp.metadata.name,
            super::plural(index, "disk", "disks"),
            source.key(),
            leaked_set(&name),
        );
        let mut f = Finding::about(self, severity, imp, msg, self.explain().remediation.to_string())
            .with_title(format!("OpenStack leftovers of a failed export: {name}"))
            .with_confidence(confidence);
        f.evidence = evidence;
        f.details.insert("leakedIndex".into(), index.to_string());
        f.details.insert("leakedName".into(), name);
        f.related.push(source);
        f
    }

    /// A failed export with the source's project listed: the leaked set (disk `index`) and any
    /// other leftovers of the VM's exports, as they are. `None` when nothing is left.
    fn listed(
        &self,
        os: &Leftovers<'_>,
        ctl: &Controller,
        imp: &VirtualMachineImport,
        source: &ObjectRef,
        index: usize,
    ) -> Option<Finding> {
        let vm = imp.spec.virtual_machine_name.as_str();
        let name = openstack::resource_name(vm, index);
        let found = os.leftovers(&source.key(), vm);
        if found.is_empty() {
            return None;
        }
        let (leaked, other): (Vec<&Resource>, Vec<&Resource>) =
            found.iter().partition(|r| os.index(&source.key(), r) == Some(index));
        let ns = imp.metadata.namespace.as_deref().unwrap_or_default();
        let tries = if ctl.fixed == Some(true) {
            format!(
                " ({}: its controller tries to clean up after a failed export, but only logs a failed delete, and \
                 Cinder deletes volumes asynchronously.)",
                ctl.how
            )
        } else {
            String::new()
        };
        let others = if other.is_empty() {
            String::new()
        } else {
            format!(
                " Also left by other exports of this VM (other disk indices: an earlier failed import, or a controller \
                 restart mid-export): {}.",
                describe(&other)
            )
        };
        let (confidence, msg) = if leaked.is_empty() {
            (
                Confidence::Likely,
                format!(
                    "VirtualMachineImport {ns}/{} of OpenStack VM {vm:?} failed to export at disk {index}; its {} is no \
                     longer in the OpenStack project of {}, but {} of other exports of this VM are (other disk indices: \
                     an earlier failed import, or a controller restart mid-export): {}.",
                    imp.metadata.name,
                    leaked_set(&name),
                    source.key(),
                    plural(other.len(), "resource"),
                    describe(&other)
                ),
            )
        } else {
            (
                Confidence::Proven,
                format!(
                    "VirtualMachineImport {ns}/{} of OpenStack VM {vm:?} failed to export (VMExportFailed, \
                     VMMigrationFailed) at disk {index} and left {} of its {} in the OpenStack project of {}: {}.{tries}{others}",
                    imp.metadata.name,
                    plural(leaked.len(), "resource"),
                    leaked_set(&name),
                    source.key(),
                    describe(&leaked)
                ),
            )
        };
        let mut f = concrete(self, imp, msg, source, &found).with_confidence(confidence);
        f.evidence = vec![
            "export-failed".into(),
            ctl.evidence.clone(),
            format!("leaked-index:{index}"),
        ];
        f.evidence.extend(leaked.iter().map(|r| fact(r)));
        f.evidence.extend(other.iter().map(|r| format!("other:{}", fact(r))));
        f.details.insert("leakedIndex".into(), index.to_string());
        f.details.insert("leakedName".into(), name);
        mark_roles(&mut f, os, source, &found, index);
        Some(f)
    }
}

/// Each related OpenStack resource's disk index and role: the leaked set (disk `index`) or
/// another export's.
fn mark_roles(f: &mut Finding, os: &Leftovers<'_>, source: &ObjectRef, found: &[&Resource], index: usize) {
    for r in f.related.iter_mut() {
        if let Some(id) = &r.uid
            && let Some(res) = found.iter().find(|x| &x.id == id)
        {
            let i = os.index(&source.key(), res);
            if let Some(i) = i {
                r.details.insert("index".into(), i.to_string());
            }
            let role = if i == Some(index) { "leaked" } else { "other" };
            r.details.insert("role".into(), role.into());
        }
    }
}

/// `glance-image:<id>`, `cinder-volume:<id>`, `cinder-snapshot:<id>`.
fn fact(r: &Resource) -> String {
    let kind = match r.kind {
        ResourceKind::Image => "glance-image",
        ResourceKind::Volume => "cinder-volume",
        ResourceKind::Snapshot => "cinder-snapshot",
    };
    format!("{kind}:{}", r.id)
}

/// Bytes of the listed volumes and snapshots (Cinder sizes are GiB; Cinder's `gigabytes` quota
/// counts both). Images are not counted: their size here is rounded up to GiB. `None` when no
/// size is known or the sum overflows.
fn reclaimable(found: &[&Resource]) -> Option<u64> {
    let sizes: Vec<u64> = found
        .iter()
        .filter(|r| matches!(r.kind, ResourceKind::Volume | ResourceKind::Snapshot))
        .filter_map(|r| r.size_gib)
        .collect();
    if sizes.is_empty() {
        return None;
    }
    sizes
        .iter()
        .try_fold(0u64, |acc, gib| gib.checked_mul(GIB).and_then(|b| acc.checked_add(b)))
}

/// A note when the import's OpenstackSource is known not to exist any more (its kind was read
/// in that namespace and the object is absent): `--openstack` cannot reach the project then.
fn source_gone(ctx: &Context<'_>, source: &ObjectRef) -> String {
    let ns = source.namespace.as_deref();
    let known = ctx.inv.covers::<OpenstackSource>(ns);
    let exists = ctx
        .inv
        .objects::<OpenstackSource>()
        .iter()
        .any(|s| s.metadata.key() == source.key());
    if known && !exists {
        format!(
            " Its OpenstackSource {} no longer exists, so the project must be cleaned up by hand (or after re-creating the source).",
            source.key()
        )
    } else {
        String::new()
    }
}

/// The `--openstack` listing, judged: leftovers are import-controller resources older than
/// `stuckAfter` (several times the controller's 2 h polling timeout) whose VM has no import
/// anywhere in the cluster that may still export.
struct Leftovers<'a> {
    inv: &'a openstack::Inventory,
    /// VM names with an import that may still create or clean up resources: not final and not
    /// exported yet. An exported import (a `diskImageFailed` resubmit included) makes no more
    /// OpenStack resources, so what is left of its VM's exports is judged like any other.
    in_progress: BTreeSet<&'a str>,
    cutoff: jiff::Timestamp,
}

impl<'a> Leftovers<'a> {
    fn new(inv: &'a openstack::Inventory, ctx: &Context<'a>, stuck_after: jiff::SignedDuration) -> Self {
        let in_progress = ctx
            .inv
            .objects::<VirtualMachineImport>()
            .iter()
            .filter(|i| i.is_openstack() && i.may_export())
            .map(|i| i.spec.virtual_machine_name.as_str())
            .collect();
        let cutoff = ctx.now.checked_sub(stuck_after).unwrap_or(ctx.now);
        Leftovers {
            inv,
            in_progress,
            cutoff,
        }
    }

    /// Why `source`'s project was not listed (`--openstack` gathers every source an import uses).
    fn unchecked(&self, source: &str) -> Unchecked {
        match self.inv.sources.get(source) {
            Some(SourceState::Failed(u)) => u.clone(),
            _ => Unchecked {
                kind: openstack::UncheckedKind::Failed,
                reason: "not listed".into(),
            },
        }
    }

    fn listed(&self, source: &str) -> Option<&'a [Resource]> {
        match self.inv.sources.get(source)? {
            SourceState::Listed(r) => Some(r),
            SourceState::Failed(_) => None,
        }
    }

    /// The disk index a resource was made for: from its name (snapshots, images), or from the
    /// listed snapshot it was made from (volumes).
    fn index(&self, source: &str, r: &Resource) -> Option<usize> {
        match r.kind {
            ResourceKind::Image | ResourceKind::Snapshot => openstack::index_of(&r.name),
            ResourceKind::Volume => {
                let snap = r.snapshot_id.as_deref()?;
                self.listed(source)?
                    .iter()
                    .find(|s| s.kind == ResourceKind::Snapshot && s.id == snap)
                    .and_then(|s| openstack::index_of(&s.name))
            }
        }
    }

    /// The leftovers of `vm` in `source`'s project, in cleanup order (image, volume, snapshot).
    fn leftovers(&self, source: &str, vm: &str) -> Vec<&'a Resource> {
        if self.in_progress.contains(vm) {
            return Vec::new();
        }
        let mut v: Vec<&Resource> = self
            .listed(source)
            .unwrap_or_default()
            .iter()
            .filter(|r| r.vm == vm && r.created().is_some_and(|t| t < self.cutoff))
            .collect();
        v.sort_by(|a, b| (a.kind, &a.name, &a.id).cmp(&(b.kind, &b.name, &b.id)));
        v
    }

    /// Leftovers not already reported on a failed import: those of finished imports, and (with
    /// `withoutImport`) those whose import no longer exists in this cluster.
    fn remaining(
        &self,
        rule: &ImportOpenstackLeak,
        ctx: &Context<'_>,
        handled: &BTreeSet<(String, String)>,
        out: &mut Outcome,
    ) {
        let imports = ctx.inv.objects::<VirtualMachineImport>();
        let mut skipped_without_import = 0;
        for (source, state) in &self.inv.sources {
            let resources = match state {
                SourceState::Failed(u) => {
                    out.notes
                        .push(format!("OpenStack project of {source} not checked: {}", u.reason));
                    continue;
                }
                SourceState::Listed(r) => r,
            };
            let vms: BTreeSet<&str> = resources.iter().map(|r| r.vm.as_str()).collect();
            for vm in vms {
                if handled.contains(&(source.clone(), vm.to_string())) {
                    continue;
                }
                let found = self.leftovers(source, vm);
                if found.is_empty() {
                    continue;
                }
                let import = imports.iter().find(|i| {
                    i.is_openstack() && i.spec.virtual_machine_name == vm && i.source_key().as_deref() == Some(source)
                });
                let source_ref = source_key_ref(source);
                let f = match import {
                    Some(imp) => finished_leftovers(rule, imp, vm, source, &source_ref, &found),
                    None if ctx.options::<Options>(ID).without_import => {
                        let imports_known = ctx.inv.covers_all(info::<VirtualMachineImport>());
                        unimported_leftovers(rule, imports_known, vm, source, source_ref, &found)
                    }
                    None => {
                        skipped_without_import += found.len();
                        continue;
                    }
                };
                out.findings.push(f);
            }
        }
        if skipped_without_import > 0 {
            out.notes.push(format!(
                "{} import-controller resources in OpenStack belong to VMs with no import in this cluster: \
                 not counted (set rules.{ID}.withoutImport: true or use --openstack-without-import)",
                skipped_without_import
            ));
        }
    }
}

/// The OpenstackSource `namespace/name` as the object a finding is about.
fn source_key_ref(source: &str) -> ObjectRef {
    let (ns, name) = source.split_once('/').unwrap_or(("", source));
    ObjectRef {
        api_version: "migration.harvesterhci.io/v1beta1".into(),
        kind: "OpenstackSource".into(),
        namespace: Some(ns.to_string()),
        name: name.to_string(),
        ..ObjectRef::default()
    }
}

/// Leftovers of a finished (or exported) import still in the OpenStack project.
fn finished_leftovers(
    rule: &ImportOpenstackLeak,
    imp: &VirtualMachineImport,
    vm: &str,
    source: &str,
    source_ref: &ObjectRef,
    found: &[&Resource],
) -> Finding {
    // Final, or exported and past the OpenStack side (a diskImageFailed
    // resubmit keeps VMExported and exports nothing again).
    let state = if imp.is_final() {
        format!("finished ({})", imp.status.import_status)
    } else {
        format!(
            "exported (VMExported; now {}, and a disk-image resubmit exports nothing again)",
            imp.status.import_status
        )
    };
    let msg = format!(
        "VirtualMachineImport {} of OpenStack VM {vm:?} {state}, but {} of its VM's exports \
         are still in the OpenStack project of {source} (a controller restart mid-export, an \
         earlier failed attempt, or a cleanup that did not complete): {}.",
        imp.metadata.name,
        plural(found.len(), "resource"),
        describe(found)
    );
    let mut f = concrete(rule, imp, msg, source_ref, found).with_confidence(Confidence::Likely);
    f.evidence = vec![format!("import-status:{}", imp.status.import_status)];
    if imp.exported() {
        f.evidence.push("exported".into());
    }
    f.evidence.extend(found.iter().map(|r| fact(r)));
    f
}

/// Leftovers of a VM no import in this cluster names (`withoutImport`); `possible` when imports
/// were not read everywhere.
fn unimported_leftovers(
    rule: &ImportOpenstackLeak,
    imports_known: bool,
    vm: &str,
    source: &str,
    source_ref: ObjectRef,
    found: &[&Resource],
) -> Finding {
    // Imports in namespaces not read may exist (and may still be exporting):
    // unknown coverage is not absence.
    let (severity, confidence, evidence, claim) = if imports_known {
        (
            Severity::Warning,
            Confidence::Likely,
            "no-import-in-cluster",
            "no import of that VM exists in this cluster any more".to_string(),
        )
    } else {
        (
            Severity::Info,
            Confidence::Possible,
            "unknown-kind:VirtualMachineImport",
            "no import of that VM was seen, but VirtualMachineImports were not read in every \
             namespace (unknown-kind:VirtualMachineImport), so one may exist"
                .to_string(),
        )
    };
    let msg = format!(
        "{} made by the vm-import-controller for VM {vm:?} are in the OpenStack project of \
         {source}, and {claim}: {}. Another cluster sharing the project may own them; check \
         before deleting.",
        plural(found.len(), "resource"),
        describe(found)
    );
    let mut f = Finding {
        rule: ID.to_string(),
        severity,
        confidence,
        evidence: vec![evidence.into()],
        reclaimable_bytes: None,
        object: source_ref,
        title: crate::finding::shorten_end(
            &format!(
                "{} of VM {vm:?} in OpenStack, no import of it seen",
                plural(found.len(), "leftover")
            ),
            crate::finding::TITLE_MAX,
        ),
        message: msg,
        remediation: rule.explain().remediation.to_string(),
        related: Vec::new(),
        origin: None,
        details: BTreeMap::new(),
        fix_input: None,
        exemption: None,
    };
    f.evidence.extend(found.iter().map(|r| fact(r)));
    attach(&mut f, source, vm, found);
    f
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn label(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Image => "Glance image",
        ResourceKind::Volume => "Cinder volume",
        ResourceKind::Snapshot => "Cinder snapshot",
    }
}

fn describe(found: &[&Resource]) -> String {
    found
        .iter()
        .map(|r| {
            let name = if r.name.is_empty() {
                String::new()
            } else {
                format!("{} ", r.name)
            };
            let size = r.size_gib.map(|s| format!(", {s} GiB")).unwrap_or_default();
            let created = r
                .created_at
                .as_deref()
                .map(|c| format!(", created {c}"))
                .unwrap_or_default();
            format!("{} {name}(id {}, {}{size}{created})", label(r.kind), r.id, r.status)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The finding on an import, with the resources as related items.
fn concrete(
    rule: &ImportOpenstackLeak,
    imp: &VirtualMachineImport,
    msg: String,
    source: &ObjectRef,
    found: &[&Resource],
) -> Finding {
    let mut f = Finding::about(
        rule,
        Severity::Warning,
        imp,
        msg,
        rule.explain().remediation.to_string(),
    )
    .with_title(format!(
        "{} of the failed export of {:?} still in OpenStack",
        plural(found.len(), "resource"),
        imp.spec.virtual_machine_name
    ));
    f.related.push(source.clone());
    attach(&mut f, &source.key(), &imp.spec.virtual_machine_name, found);
    f
}

/// Resources as related refs (`Glance`/`Cinder` kinds, id as uid) plus the facts `fix` reads.
fn attach(f: &mut Finding, source: &str, vm: &str, found: &[&Resource]) {
    for r in found {
        let mut details = BTreeMap::new();
        details.insert("id".to_string(), r.id.clone());
        details.insert("status".to_string(), r.status.clone());
        if let Some(s) = r.size_gib {
            details.insert("sizeGiB".to_string(), s.to_string());
        }
        if let Some(c) = &r.created_at {
            details.insert("created".to_string(), c.clone());
        }
        if let Some(s) = &r.snapshot_id {
            details.insert("snapshotId".to_string(), s.clone());
        }
        f.related.push(ObjectRef {
            api_version: r.kind.api_version().to_string(),
            kind: r.kind.ref_kind().to_string(),
            namespace: None,
            name: if r.name.is_empty() {
                r.id.clone()
            } else {
                r.name.clone()
            },
            uid: Some(r.id.clone()),
            resource_version: None,
            details,
        });
    }
    f.reclaimable_bytes = reclaimable(found);
    // Only what was really seen in the project can be deleted.
    f.fix_input = (!found.is_empty()).then(|| FixInput::OpenstackLeftovers {
        source: source.to_string(),
        resources: found
            .iter()
            .map(|r| OpenstackResource {
                kind: r.kind,
                id: r.id.clone(),
                name: r.name.clone(),
            })
            .collect(),
    });
    f.details.insert(DETAIL_SOURCE.to_string(), source.to_string());
    f.details.insert("openstackVm".to_string(), vm.to_string());
    f.details
        .insert("openstackResources".to_string(), found.len().to_string());
}
