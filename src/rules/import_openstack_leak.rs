//! `import-openstack-leak`: OpenStack snapshots, volumes and images left behind by a failed
//! VM import (research §5). The vm-import-controller exports an OpenStack VM by snapshotting
//! each attached volume, creating a volume from the snapshot and uploading it to Glance; before
//! vm-import-controller PR #80/#84 (Harvester v1.5.2) only the success path deleted them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{Addon, OpenstackSource, Upgrade, VM_IMPORT_CONTROLLER, VirtualMachineImport};
use crate::meta::{ObjectRef, parse_time};
use crate::openstack::{self, Resource, ResourceKind, SourceState};
use crate::version::{Boundary, Version};

pub struct ImportOpenstackLeak;

const ID: &str = "import-openstack-leak";
/// First releases with the cleanup fix: Harvester v1.5.2-rc1, add-on chart 1.5.2-rc1 (image
/// v1.5.2-rc1 has the backport, harvester/vm-import-controller#84; harvester/addons `version_info`).
/// Development charts from 1.6.0-dev.0 run a v1.6-head image built after #80 merged.
const FIXED: Boundary = Boundary::new(Version::rc(1, 5, 2, 1)).dev_from(1, 6);
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(6 * 3600);

/// Whether the controller running now has the fix, and how we know.
fn controller_fixed(ctx: &Context<'_>) -> (Option<bool>, String) {
    let addon = ctx
        .inv
        .objects::<Addon>()
        .iter()
        .find(|a| a.metadata.name == VM_IMPORT_CONTROLLER);
    if let Some(v) = addon.and_then(|a| Version::parse(&a.spec.version))
        && let Some(before) = v.before(&FIXED)
    {
        return (Some(!before), format!("the vm-import-controller add-on is at {v}"));
    }
    match ctx
        .inv
        .harvester_version
        .as_ref()
        .and_then(|v| Some((v, v.before(&FIXED)?)))
    {
        Some((v, before)) => (Some(!before), format!("Harvester is at {v}")),
        None => (None, "the controller and Harvester versions are unknown".into()),
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
    fn options(&self) -> &'static [&'static str] {
        &["stuckAfter", "withoutImport"]
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
                ..ObjectRef::default()
            };
            let export_failed = imp.status.import_status == "VMMigrationFailed" && imp.condition_true("VMExportFailed");
            let listed = os.as_ref().is_some_and(|o| o.listed(&source.key()).is_some());
            if export_failed && listed {
                // --openstack: report what is really there, not what may be.
                handled.insert((source.key(), vm.to_string()));
                let found = os.as_ref().map(|o| o.leftovers(&source.key(), vm)).unwrap_or_default();
                if !found.is_empty() {
                    let msg = format!(
                        "VirtualMachineImport {ns}/{} of OpenStack VM {vm:?} failed to export (VMExportFailed, \
                         VMMigrationFailed) and left {} in the OpenStack project of {}: {}.",
                        imp.metadata.name,
                        plural(found.len(), "resource"),
                        source.key(),
                        describe(&found)
                    );
                    out.findings.push(concrete(self, imp, msg, &source, &found));
                }
                continue;
            }
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
                let gone = source_gone(ctx, &source);
                let msg = format!(
                    "VirtualMachineImport {ns}/{} of OpenStack VM {vm:?} failed to export (VMExportFailed, VMMigrationFailed). \
                     {when} Left in the OpenStack project of {}: {leaked}.{gone}",
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
        if let Some(os) = &os {
            os.remaining(self, ctx, &handled, &mut out);
        }
        if fixed_now.is_none() {
            out.notes.push(
                "vm-import-controller and Harvester versions unknown: failed exports assumed to have leaked".into(),
            );
        }
        out
    }
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
/// in progress anywhere in the cluster.
struct Leftovers<'a> {
    inv: &'a openstack::Inventory,
    /// VM names with an import that may still create or clean up resources.
    in_progress: BTreeSet<&'a str>,
    cutoff: jiff::Timestamp,
}

impl<'a> Leftovers<'a> {
    fn new(inv: &'a openstack::Inventory, ctx: &Context<'a>, stuck_after: jiff::SignedDuration) -> Self {
        let in_progress = ctx
            .inv
            .objects::<VirtualMachineImport>()
            .iter()
            .filter(|i| i.is_openstack() && !i.is_final())
            .map(|i| i.spec.virtual_machine_name.as_str())
            .collect();
        let cutoff = ctx.now.checked_sub(stuck_after).unwrap_or(ctx.now);
        Leftovers {
            inv,
            in_progress,
            cutoff,
        }
    }

    fn listed(&self, source: &str) -> Option<&'a [Resource]> {
        match self.inv.sources.get(source)? {
            SourceState::Listed(r) => Some(r),
            SourceState::Failed(_) => None,
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
                SourceState::Failed(reason) => {
                    out.notes
                        .push(format!("OpenStack project of {source} not checked: {reason}"));
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
                let (ns, name) = source.split_once('/').unwrap_or(("", source));
                let source_ref = ObjectRef {
                    api_version: "migration.harvesterhci.io/v1beta1".into(),
                    kind: "OpenstackSource".into(),
                    namespace: Some(ns.to_string()),
                    name: name.to_string(),
                    ..ObjectRef::default()
                };
                let f = match import {
                    Some(imp) => {
                        let msg = format!(
                            "VirtualMachineImport {} of OpenStack VM {vm:?} finished ({}), but {} of its export \
                             are still in the OpenStack project of {source} (a controller restart or an earlier \
                             failed attempt): {}.",
                            imp.metadata.name,
                            imp.status.import_status,
                            plural(found.len(), "resource"),
                            describe(&found)
                        );
                        concrete(rule, imp, msg, &source_ref, &found)
                    }
                    None if ctx.config.rule(ID).and_then(|c| c.without_import).unwrap_or(false) => {
                        let msg = format!(
                            "{} made by the vm-import-controller for VM {vm:?} are in the OpenStack project of \
                             {source}, and no import of that VM exists in this cluster any more: {}. Another \
                             cluster sharing the project may own them; check before deleting.",
                            plural(found.len(), "resource"),
                            describe(&found)
                        );
                        let mut f = Finding {
                            rule: ID.to_string(),
                            severity: Severity::Warning,
                            confidence: super::Confidence::Likely,
                            evidence: vec!["no-import-in-cluster".into()],
                            reclaimable_bytes: None,
                            object: source_ref.clone(),
                            message: msg,
                            remediation: rule.explain().remediation.to_string(),
                            related: Vec::new(),
                            details: BTreeMap::new(),
                            exemption: None,
                        };
                        attach(&mut f, source, vm, &found);
                        f
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
    );
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
            kind: match r.kind {
                ResourceKind::Image => "GlanceImage",
                ResourceKind::Volume => "CinderVolume",
                ResourceKind::Snapshot => "CinderSnapshot",
            }
            .to_string(),
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
    f.details.insert("openstackSource".to_string(), source.to_string());
    f.details.insert("openstackVm".to_string(), vm.to_string());
    f.details
        .insert("openstackResources".to_string(), found.len().to_string());
}
