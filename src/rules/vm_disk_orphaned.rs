//! `vm-disk-orphaned`: VM disks left behind when a VM was deleted without its volumes.
//!
//! Harvester deletes a VM's PVCs only when they are listed in the VM's
//! `harvesterhci.io/removedPersistentVolumeClaims` annotation (harvester/harvester
//! `pkg/controller/master/virtualmachine/vm_controller.go`, `removePVCInRemovedPVCsAnnotation`;
//! the UI's "delete volumes" choice fills it); a disk left out, or a VM deleted with `kubectl`,
//! leaves its PVCs. The UI names a VM's disks `<vm>-disk-<n>-<random>` (and creates them from
//! the `harvesterhci.io/volumeClaimTemplates` annotation, `createPVCsFromAnnotation`); an
//! image-backed disk carries `harvesterhci.io/imageId`, whatever its name.
//!
//! Evidence, not assumption: a candidate is referenced by no VM (spec or volumeClaimTemplates),
//! VMI, pod or image ([`super::orphaned_guest_pvc`]'s references), and its Longhorn volume is
//! detached and unused longer than the grace period (history only, `lastPodRefAt` set:
//! longhorn/longhorn-manager `controller/kubernetes_pv_controller.go`). The VM the volume's
//! workload history names ([`LonghornVolume::last_vm_stems`]) must be gone; its name is the
//! evidence. `proven`: the history's VM is gone and the PVC's `<vm>-disk-N-` name names the same
//! VM; `likely`: the history names a VM that is gone; `possible` (info): never attached, or a
//! kind that would settle it was not read. `pvc-<uuid>` PVCs without an image are
//! `orphaned-guest-pvc`'s (guest-cluster CSI volumes) and are not reported here.

use std::collections::BTreeMap;
use std::time::Duration;

use super::guest_clusters::GuestClusters;
use super::orphaned_guest_pvc::{References, is_guest_csi_name};
use super::{Confidence, Context, Explanation, Finding, FixInput, Outcome, Rule, Severity, human, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{
    LonghornVolume, PersistentVolumeClaim, Pod, VirtualMachine, VirtualMachineImage, VirtualMachineInstance,
    VolumeSnapshot,
};
use crate::meta::{Key, parse_time};

pub struct VmDiskOrphaned;

pub const ID: &str = "vm-disk-orphaned";
const LONGHORN_NS: &str = "longhorn-system";
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
const IMAGE_ID: Key = Key::new("harvesterhci.io/imageId");
const GOLDEN: Key = Key::new("harvesterhci.io/goldenImage");

/// `rules.vm-disk-orphaned` in the policy file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// How long a disk's volume must be detached before it is reported (default 24h).
    pub grace_period: Option<crate::config::DurationOption>,
}

/// The VM a disk name `<vm>-disk-<n>-<suffix>` names.
pub fn disk_name_vm(name: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(i) = name.get(from..).and_then(|s| s.find("-disk-")) {
        let at = from.checked_add(i)?;
        let rest = name.get(at.checked_add(6)?..)?;
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && rest.get(digits..).is_some_and(|r| r.len() > 1 && r.starts_with('-')) && at > 0 {
            return name.get(..at);
        }
        from = at.checked_add(1)?;
    }
    None
}

impl Rule for VmDiskOrphaned {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "VM disks (<vm>-disk-N-* or image-backed PVCs) no VM uses, detached since their VM was deleted"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        const NEEDS: &[&KindInfo] = &[
            info::<PersistentVolumeClaim>(),
            info::<VirtualMachine>(),
            info::<VirtualMachineInstance>(),
            info::<Pod>(),
            info::<VirtualMachineImage>(),
            info::<LonghornVolume>(),
            info::<VolumeSnapshot>(),
        ];
        NEEDS
    }
    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::check_options::<Options>(raw)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "Deleting a VM deletes only the PVCs listed in its harvesterhci.io/removedPersistentVolumeClaims \
                  annotation (harvester/harvester pkg/controller/master/virtualmachine/vm_controller.go, \
                  removePVCInRemovedPVCsAnnotation; the UI fills it from the volumes ticked for deletion). A disk \
                  left unticked, or a VM deleted with kubectl, leaves its PVC and its Longhorn volume, holding \
                  space on every replica. The UI names disks <vm>-disk-<n>-<random> (from the VM's \
                  harvesterhci.io/volumeClaimTemplates annotation, createPVCsFromAnnotation); image-backed disks \
                  carry harvesterhci.io/imageId. A disk is reported only when no VM (spec or volumeClaimTemplates), \
                  VMI, pod or image references it and its Longhorn volume is detached, with only history \
                  (lastPodRefAt, longhorn/longhorn-manager controller/kubernetes_pv_controller.go), for longer \
                  than the grace period. Its last VM comes from the volume's workload history (the VMI, or the \
                  virt-launcher-<vm>-xxxxx pod): if that VM exists the disk was detached on purpose and is not \
                  reported. proven: the history's VM is gone and the disk's name names the same VM; likely: the \
                  history names a VM that is gone; possible (info): never attached, or a kind that would settle \
                  it was not read. pvc-<uuid> PVCs without an image are orphaned-guest-pvc's (guest-cluster CSI \
                  volumes). `fix` retains the PV and deletes the PVC for proven and likely findings, as for \
                  orphaned-guest-pvc.",
            affected: "every Harvester version",
            upstream: &[
                "harvester/harvester pkg/controller/master/virtualmachine/vm_controller.go (removePVCInRemovedPVCsAnnotation, createPVCsFromAnnotation)",
                "longhorn/longhorn-manager controller/kubernetes_pv_controller.go (workloadsStatus, lastPodRefAt)",
                "kubevirt/kubevirt pkg/virt-controller/services/template.go (virt-launcher-<vm> pod names)",
                "harvester/harvester#3161 (kubectl delete vm leaves its volumes)",
            ],
            remediation: "Check that nobody needs the disk (restore it to a VM otherwise: attach it in the VM's \
                          Volumes tab). Then retain the volume (set the PV's persistentVolumeReclaimPolicy to Retain) \
                          and delete the PVC; `kubectl harvester-hygiene fix` does both for proven and likely \
                          findings. Purge the retained volume once nobody misses it. Undo: clear the PV's \
                          spec.claimRef and create the PVC again with the same name and spec.volumeName.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let grace = crate::config::DurationOption::or_default(ctx.options::<Options>(ID).grace_period, DEFAULT_GRACE);
        let refs = References::build(inv);
        let guests = GuestClusters::build(inv);
        let volumes: BTreeMap<&str, &LonghornVolume> = inv
            .objects::<LonghornVolume>()
            .iter()
            .filter(|v| v.metadata.namespace.as_deref() == Some(LONGHORN_NS))
            .map(|v| (v.metadata.name.as_str(), v))
            .collect();
        let volumes_known = inv.covers::<LonghornVolume>(Some(LONGHORN_NS));
        let mut out = Outcome::default();
        for pvc in inv.objects::<PersistentVolumeClaim>() {
            let m = &pvc.metadata;
            let Some(ns) = m.namespace.as_deref() else {
                continue;
            };
            let image = m.annotation(IMAGE_ID);
            let name_vm = disk_name_vm(&m.name);
            if !inv.in_scope(Some(ns)) || !looks_like_vm_disk(pvc, image, name_vm) || refs.uses(ns, &m.name) {
                continue;
            }
            // The disk's own VM still exists: detached from it on purpose.
            if name_vm.is_some_and(|vm| guests.vm_exists(ns, |n| n == vm)) {
                continue;
            }
            let mut missing = unread_users(inv, ns);
            let mut evidence = Vec::new();
            if missing.is_empty() {
                evidence.push("unreferenced".to_string());
            }
            if let Some(i) = image {
                evidence.push(format!("image:{i}"));
            }
            let volume = volumes.get(pvc.spec.volume_name.as_str()).copied();
            let Some(v) = volume else {
                if volumes_known || pvc.spec.volume_name.is_empty() {
                    // Not a Longhorn disk, or unbound: nothing to judge its use by.
                    continue;
                }
                missing.push("Volume.longhorn.io");
                let created = parse_time(m.creation_timestamp.as_deref());
                if created.is_some_and(|c| ctx.now.duration_since(c) < grace) {
                    continue;
                }
                evidence.push("usage-unknown".into());
                evidence.extend(missing.iter().map(|k| format!("unknown-kind:{k}")));
                let text = "Longhorn volumes were not read, so its use is unknown".to_string();
                out.findings
                    .push(self.finding(pvc, Confidence::Possible, evidence, text, None, None, ctx));
                continue;
            };
            if let Some(f) = self.detached_disk(ctx, pvc, v, name_vm, grace, &guests, missing, evidence) {
                out.findings.push(f);
            }
        }
        out
    }
}

impl VmDiskOrphaned {
    /// A PVC whose Longhorn volume is read: reported when the volume is detached past the grace
    /// period and its last VM is gone.
    #[allow(clippy::too_many_arguments)]
    fn detached_disk(
        &self,
        ctx: &Context<'_>,
        pvc: &PersistentVolumeClaim,
        v: &LonghornVolume,
        name_vm: Option<&str>,
        grace: jiff::SignedDuration,
        guests: &GuestClusters,
        missing: Vec<&str>,
        mut evidence: Vec<String>,
    ) -> Option<Finding> {
        // The caller skips a PVC without a namespace.
        let ns = pvc.metadata.namespace.as_deref()?;
        if !v.is_unused() {
            return None;
        }
        let stems = v.last_vm_stems();
        if stems.iter().any(|s| guests.vm_exists(ns, |n| s.matches(n))) {
            return None;
        }
        let k = &v.status.kubernetes_status;
        let since = parse_time(Some(k.last_pod_ref_at.as_str())).or(parse_time(v.metadata.creation_timestamp.as_deref()));
        let unused_for = since.map(|s| ctx.now.duration_since(s));
        if unused_for.is_none_or(|d| d < grace) {
            return None;
        }
        let mut text = detached(v, &mut evidence);
        let gone: Vec<&str> = stems.iter().map(|s| s.name.as_str()).collect();
        if !gone.is_empty() {
            text.push_str(&format!(" by VM {}, which no longer exists", gone.join(", ")));
            evidence.extend(gone.iter().map(|n| format!("last-vm-gone:{n}")));
        }
        let name_agrees = name_vm.is_some_and(|vm| stems.iter().any(|s| s.matches(vm)));
        if let Some(vm) = name_vm {
            evidence.push(format!("name-vm-gone:{vm}"));
        }
        let confidence = if !missing.is_empty() || gone.is_empty() {
            Confidence::Possible
        } else if name_agrees {
            Confidence::Proven
        } else {
            Confidence::Likely
        };
        evidence.extend(missing.iter().map(|k| format!("unknown-kind:{k}")));
        Some(self.finding(
            pvc,
            confidence,
            evidence,
            text,
            unused_for,
            v.reclaimable_bytes(),
            ctx,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        pvc: &PersistentVolumeClaim,
        confidence: Confidence,
        evidence: Vec<String>,
        usage: String,
        unused_for: Option<jiff::SignedDuration>,
        reclaimable: Option<u64>,
        ctx: &Context<'_>,
    ) -> Finding {
        let m = &pvc.metadata;
        let ns = m.namespace.as_deref().unwrap_or("");
        let snapshots: Vec<&VolumeSnapshot> = ctx
            .inv
            .objects::<VolumeSnapshot>()
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
            .filter(|s| {
                s.metadata
                    .owner_references
                    .iter()
                    .any(|o| !o.uid.is_empty() && m.uid.as_deref() == Some(o.uid.as_str()))
            })
            .collect();
        let pv = if pvc.spec.volume_name.is_empty() {
            "none"
        } else {
            pvc.spec.volume_name.as_str()
        };
        let mut msg = format!(
            "PVC {ns}/{} ({}, volume {pv}) is a VM disk no VM, VMI, pod or image uses ({confidence}): {usage}{}.",
            m.name,
            pvc.size().unwrap_or("size unknown"),
            unused_for.map(|d| format!("; unused for {}", human(d))).unwrap_or_default(),
        );
        if !snapshots.is_empty() {
            msg.push_str(&format!(
                " Deleting it also deletes the VolumeSnapshots it owns: {}.",
                snapshots
                    .iter()
                    .map(|s| s.metadata.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let fix = format!(
            "Check nobody needs the disk (attach it to a VM to keep it). Then patch PV {pv} to \
             persistentVolumeReclaimPolicy: Retain and delete the PVC (the data stays on the Released PV until you \
             purge it); `kubectl harvester-hygiene fix` does both with preconditions and a backup for proven and \
             likely findings. Undo: clear the PV's spec.claimRef and create the PVC again with the same name and \
             spec.volumeName."
        );
        let severity = if confidence == Confidence::Possible {
            Severity::Info
        } else {
            Severity::Warning
        };
        let mut f = Finding::about(self, severity, pvc, msg, fix)
            .with_confidence(confidence)
            .with_title(format!(
                "VM disk outlived its VM ({}{}{})",
                pvc.size().unwrap_or("size unknown"),
                unused_for.map(|d| format!(", unused {}", human(d))).unwrap_or_default(),
                reclaimable
                    .map(|b| format!(", frees {}", crate::quantity::human_bytes(b)))
                    .unwrap_or_default()
            ));
        f.evidence = evidence;
        f.reclaimable_bytes = reclaimable;
        if !pvc.spec.volume_name.is_empty() {
            f.details.insert("persistentVolume".into(), pvc.spec.volume_name.to_string());
        }
        f.related = snapshots.iter().map(|s| crate::inventory::Kind::object_ref(*s)).collect();
        f.fix_input = Some(FixInput::OrphanPvc {
            owned_snapshots: snapshots.iter().map(|s| s.metadata.name.to_string()).collect(),
        });
        f
    }
}

/// A VM disk (an image's or named `<vm>-disk-…`, not a guest cluster's CSI volume) that is not
/// being deleted, not a golden image and owned by nothing.
fn looks_like_vm_disk(pvc: &PersistentVolumeClaim, image: Option<&str>, name_vm: Option<&str>) -> bool {
    let m = &pvc.metadata;
    !((image.is_none() && name_vm.is_none())
        || (image.is_none() && is_guest_csi_name(&m.name))
        || m.deletion_timestamp.is_some()
        || m.annotation(GOLDEN) == Some("true")
        || !m.owner_references.is_empty())
}

/// The kinds that could use the disk and were not read in `ns`.
fn unread_users(inv: &crate::inventory::Inventory, ns: &str) -> Vec<&'static str> {
    [
        ("VirtualMachine", inv.covers::<VirtualMachine>(Some(ns))),
        ("VirtualMachineInstance", inv.covers::<VirtualMachineInstance>(Some(ns))),
        ("Pod", inv.covers::<Pod>(Some(ns))),
        ("VirtualMachineImage", inv.covers::<VirtualMachineImage>(Some(ns))),
    ]
    .into_iter()
    .filter(|(_, k)| !k)
    .map(|(k, _)| k)
    .collect()
}

/// How the detached Longhorn volume was last used, for the message; the fact is evidence.
fn detached(v: &LonghornVolume, evidence: &mut Vec<String>) -> String {
    let k = &v.status.kubernetes_status;
    if k.last_pod_ref_at.is_empty() {
        evidence.push("never-attached".into());
        format!("its Longhorn volume {} is detached and was never used by a pod", v.metadata.name)
    } else {
        evidence.push(format!("detached-since:{}", k.last_pod_ref_at));
        format!(
            "its Longhorn volume {} is detached, last used by a pod at {}",
            v.metadata.name, k.last_pod_ref_at
        )
    }
}
