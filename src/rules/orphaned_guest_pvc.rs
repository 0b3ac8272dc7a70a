//! `orphaned-guest-pvc`: PVCs left in Harvester after Rancher deleted an RKE2 guest cluster
//! (harvester/harvester#7765; research §4.4). The guest cluster's CSI driver creates host
//! PVCs named `pvc-<guest PVC uid>`; volumes that were not attached when the cluster was
//! deleted are not in any VM spec, so nothing deletes them.
//!
//! Evidence, not assumption: a PVC is reported only when nothing references it, its
//! Longhorn volume has been unused longer than the grace period, and no living guest
//! cluster could own it. Any kind it would need to be sure of that, if unknown, means the
//! PVC is skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::kinds::virtual_machine::{CREATOR_LABEL, GUEST_CLUSTER_LABEL, NODE_DRIVER};
use crate::inventory::kinds::{
    LonghornVolume, PersistentVolumeClaim, Pod, VirtualMachine, VirtualMachineImage, VirtualMachineInstance,
    VolumeSnapshot,
};
use crate::inventory::{Inventory, KindInfo};
use crate::meta::parse_time;

pub struct OrphanedGuestPvc;

const ID: &str = "orphaned-guest-pvc";
const LONGHORN_NS: &str = "longhorn-system";
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// `pvc-<uuid>`, the external-provisioner's default volume name.
pub fn is_guest_csi_name(name: &str) -> bool {
    let Some(u) = name.strip_prefix("pvc-") else {
        return false;
    };
    let parts: Vec<&str> = u.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, p)| p.len() == *n)
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()))
}

fn human(d: jiff::SignedDuration) -> String {
    let s = d.as_secs().max(0);
    match s {
        s if s >= 2 * 86400 => format!("{}d", s / 86400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s => format!("{}m", s / 60),
    }
}

impl Rule for OrphanedGuestPvc {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "Guest-cluster PVCs (pvc-<uuid>) left behind after Rancher deleted an RKE2 guest cluster"
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
    fn options(&self) -> &'static [&'static str] {
        &["gracePeriod", "guestNamespaces"]
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "The Harvester CSI driver inside an RKE2 guest cluster creates one host PVC per guest volume, named \
                  pvc-<guest PVC uid>, and hot-plugs it into the guest node VM while it is attached. When Rancher \
                  deletes the guest cluster, the node driver deletes the VMs and the PVCs in their specs; volumes that \
                  were detached at that moment are in no spec, carry no label, and stay in Harvester for ever, holding \
                  Longhorn space. The rule reports a pvc-<uuid> PVC only when no VM, VMI, pod or image references it, \
                  it has no owner, no image annotation and is not a golden image, its Longhorn volume is detached and \
                  unused for longer than the grace period, and no living guest cluster could own it (by the \
                  guestcluster.harvesterhci.io/name label, or, without it, no guest-cluster VM in the namespace or the \
                  configured guest namespaces). Harvester's Longhorn classes use reclaimPolicy Delete: deleting the PVC \
                  deletes the data, so `fix` first switches the PV to Retain.",
            affected: "every Harvester version with Rancher-provisioned RKE2 guest clusters (harvester/harvester#7765 is open)",
            upstream: &[
                "harvester/harvester#7765",
                "harvester/harvester#7940",
                "rancher/rancher#47870",
                "harvester/harvester#2825",
            ],
            remediation: "Confirm the guest cluster is gone, then retain the volume (set the PV's \
                          persistentVolumeReclaimPolicy to Retain) and delete the PVC; purge the retained volume later \
                          once nobody misses it.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let grace = ctx.config.duration(ID, |c| c.grace_period.as_ref(), DEFAULT_GRACE);
        let grace = jiff::SignedDuration::try_from(grace).unwrap_or(jiff::SignedDuration::from_hours(24));
        let guest_namespaces: Vec<&str> = ctx
            .rule_config(ID)
            .map(|c| c.guest_namespaces.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let refs = References::build(inv);
        let volumes: BTreeMap<&str, &LonghornVolume> = inv
            .objects::<LonghornVolume>()
            .iter()
            .filter(|v| v.metadata.namespace.as_deref() == Some(LONGHORN_NS))
            .map(|v| (v.metadata.name.as_str(), v))
            .collect();
        let volumes_known = inv.covers::<LonghornVolume>(Some(LONGHORN_NS));
        let mut unknown = BTreeSet::new();

        for pvc in inv.objects::<PersistentVolumeClaim>() {
            let m = &pvc.metadata;
            let Some(ns) = m.namespace.as_deref() else { continue };
            if !inv.in_scope(Some(ns)) || !is_guest_csi_name(&m.name) || m.deletion_timestamp.is_some() {
                continue;
            }
            if m.annotations.contains_key("harvesterhci.io/imageId")
                || m.annotation("harvesterhci.io/goldenImage") == Some("true")
                || !m.owner_references.is_empty()
            {
                continue;
            }
            // Every kind that could reference the PVC must be known in its namespace.
            let missing: Vec<&str> = [
                ("VirtualMachine", inv.covers::<VirtualMachine>(Some(ns))),
                ("VirtualMachineInstance", inv.covers::<VirtualMachineInstance>(Some(ns))),
                ("Pod", inv.covers::<Pod>(Some(ns))),
                ("VirtualMachineImage", inv.covers::<VirtualMachineImage>(Some(ns))),
            ]
            .into_iter()
            .filter(|(_, known)| !known)
            .map(|(k, _)| k)
            .collect();
            if !missing.is_empty() {
                unknown.insert(format!("{ns} ({})", missing.join(", ")));
                continue;
            }
            if refs.uses(ns, &m.name) {
                continue;
            }
            // Could a living guest cluster own it?
            if let Some(cluster) = m.label(GUEST_CLUSTER_LABEL) {
                let alive = inv
                    .objects::<VirtualMachine>()
                    .iter()
                    .any(|vm| vm.metadata.label(GUEST_CLUSTER_LABEL) == Some(cluster));
                let unlabelled_driver_vm = refs.unlabelled_driver_vm_in.contains(ns);
                if alive || unlabelled_driver_vm {
                    continue;
                }
            } else {
                let mut places = vec![ns];
                places.extend(guest_namespaces.iter().copied());
                if places.iter().any(|p| refs.guest_vm_in.contains(p)) {
                    continue;
                }
                if guest_namespaces.iter().any(|g| !inv.covers::<VirtualMachine>(Some(g))) {
                    unknown.insert(format!("{ns} (VirtualMachines of the configured guest namespaces)"));
                    continue;
                }
            }
            // How long unused.
            let created = parse_time(m.creation_timestamp.as_deref());
            let (severity, since, evidence) = match volumes.get(pvc.spec.volume_name.as_str()) {
                Some(v) => {
                    let detached =
                        v.status.state == "detached" && v.status.kubernetes_status.workloads_status.is_empty();
                    if !detached {
                        continue;
                    }
                    let since = parse_time(Some(v.status.kubernetes_status.last_pod_ref_at.as_str()))
                        .or(parse_time(v.metadata.creation_timestamp.as_deref()))
                        .or(created);
                    let what = if v.status.kubernetes_status.last_pod_ref_at.is_empty() {
                        "never attached to a pod".to_string()
                    } else {
                        format!("detached since {}", v.status.kubernetes_status.last_pod_ref_at)
                    };
                    (
                        Severity::Warning,
                        since,
                        format!("its Longhorn volume {} is {what}", v.metadata.name),
                    )
                }
                None if volumes_known && !pvc.spec.volume_name.is_empty() => {
                    // Not a Longhorn volume (or the volume is gone): no usage evidence.
                    (
                        Severity::Info,
                        created,
                        format!(
                            "its volume {} is not a Longhorn volume here, so only its age is known",
                            pvc.spec.volume_name
                        ),
                    )
                }
                None => (
                    Severity::Info,
                    created,
                    "Longhorn volumes were not read, so only the PVC's age is known".to_string(),
                ),
            };
            let Some(since) = since else { continue };
            let unused_for = ctx.now.duration_since(since);
            if unused_for < grace {
                continue;
            }
            let snapshots: Vec<&VolumeSnapshot> = inv
                .objects::<VolumeSnapshot>()
                .iter()
                .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
                .filter(|s| {
                    s.metadata
                        .owner_references
                        .iter()
                        .any(|o| m.uid.as_deref() == Some(o.uid.as_str()) && !o.uid.is_empty())
                })
                .collect();
            let attribution = match m.label(GUEST_CLUSTER_LABEL) {
                Some(c) => format!("It is labelled for guest cluster {c}, and no VM of that cluster exists."),
                None => format!(
                    "It carries no guest-cluster label; no guest-cluster VM (label {GUEST_CLUSTER_LABEL} or {CREATOR_LABEL}={NODE_DRIVER}) exists in {}, so the cluster that made it is gone (inferred).",
                    if guest_namespaces.is_empty() {
                        ns.to_string()
                    } else {
                        format!("{ns} or {}", guest_namespaces.join(", "))
                    }
                ),
            };
            let mut msg = format!(
                "PVC {ns}/{} ({}, class {}, volume {}) looks like a guest-cluster CSI volume that outlived its cluster: \
                 no VM, VMI, pod or image uses it, and {evidence}; unused for {}. {attribution}",
                m.name,
                pvc.size().unwrap_or("size unknown"),
                if pvc.spec.storage_class_name.is_empty() {
                    "none"
                } else {
                    pvc.spec.storage_class_name.as_str()
                },
                if pvc.spec.volume_name.is_empty() {
                    "unbound"
                } else {
                    pvc.spec.volume_name.as_str()
                },
                human(unused_for)
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
            } else if !inv.covers::<VolumeSnapshot>(Some(ns)) {
                msg.push_str(" VolumeSnapshots were not read: check for snapshots it owns before deleting it.");
            }
            let fix = format!(
                "Confirm with the cluster's owner that the guest cluster is gone. Then patch PV {} to \
                 persistentVolumeReclaimPolicy: Retain and delete the PVC (the data stays on the Released PV until you \
                 purge it); `kubectl harvester-hygiene fix` will do both with preconditions and a backup.",
                if pvc.spec.volume_name.is_empty() {
                    "(none)"
                } else {
                    pvc.spec.volume_name.as_str()
                }
            );
            let mut f = Finding::about(self, severity, pvc, msg, fix);
            if !pvc.spec.volume_name.is_empty() {
                f.details
                    .insert("persistentVolume".into(), pvc.spec.volume_name.clone());
            }
            let attribution = if m.label(GUEST_CLUSTER_LABEL).is_some() {
                "label"
            } else {
                "inferred"
            };
            f.details.insert("attribution".into(), attribution.into());
            f.related = snapshots
                .iter()
                .map(|s| crate::inventory::Kind::object_ref(*s))
                .collect();
            out.findings.push(f);
        }
        if !unknown.is_empty() {
            out.notes.push(format!(
                "not checked where referencing kinds are unknown: {}",
                unknown.into_iter().collect::<Vec<_>>().join("; ")
            ));
        }
        out
    }
}

/// Who references which PVC, and where guest-cluster VMs live.
struct References<'a> {
    claimed: BTreeSet<(&'a str, &'a str)>,
    /// Owned strings from the volumeClaimTemplates annotation.
    templated: BTreeSet<(&'a str, String)>,
    guest_vm_in: BTreeSet<&'a str>,
    unlabelled_driver_vm_in: BTreeSet<&'a str>,
}

impl<'a> References<'a> {
    fn build(inv: &'a Inventory) -> Self {
        let mut r = References {
            claimed: BTreeSet::new(),
            templated: BTreeSet::new(),
            guest_vm_in: BTreeSet::new(),
            unlabelled_driver_vm_in: BTreeSet::new(),
        };
        for vm in inv.objects::<VirtualMachine>() {
            let Some(ns) = vm.metadata.namespace.as_deref() else {
                continue;
            };
            r.claimed.extend(vm.claims().into_iter().map(|c| (ns, c)));
            r.templated.extend(vm.template_claims().into_iter().map(|c| (ns, c)));
            if vm.is_guest_cluster_vm() {
                r.guest_vm_in.insert(ns);
                if !vm.metadata.labels.contains_key(GUEST_CLUSTER_LABEL) {
                    r.unlabelled_driver_vm_in.insert(ns);
                }
            }
        }
        for vmi in inv.objects::<VirtualMachineInstance>() {
            let Some(ns) = vmi.metadata.namespace.as_deref() else {
                continue;
            };
            r.claimed.extend(vmi.claims().map(|c| (ns, c)));
        }
        for pod in inv.objects::<Pod>() {
            let Some(ns) = pod.metadata.namespace.as_deref() else {
                continue;
            };
            r.claimed.extend(pod.claims().map(|c| (ns, c)));
        }
        for img in inv.objects::<VirtualMachineImage>() {
            let Some(ns) = img.metadata.namespace.as_deref() else {
                continue;
            };
            if img.is_cdi() {
                r.claimed.insert((ns, img.metadata.name.as_str()));
            }
            if !img.spec.pvc_name.is_empty() {
                let pns = if img.spec.pvc_namespace.is_empty() {
                    ns
                } else {
                    img.spec.pvc_namespace.as_str()
                };
                r.claimed.insert((pns, img.spec.pvc_name.as_str()));
            }
        }
        r
    }

    fn uses(&self, ns: &str, name: &str) -> bool {
        self.claimed.contains(&(ns, name)) || self.templated.contains(&(ns, name.to_string()))
    }
}
