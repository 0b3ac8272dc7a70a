//! `orphaned-guest-pvc`: PVCs left in Harvester after Rancher deleted an RKE2 guest cluster
//! (harvester/harvester#7765). The guest cluster's CSI driver creates host PVCs named
//! `pvc-<guest PVC uid>` with no labels (harvester/harvester-csi-driver
//! `pkg/csi/controller_server.go`, `CreateVolume`); volumes that were not attached when the
//! cluster was deleted are in no VM spec, so nothing deletes them (Rancher <= 2.10 leaks every
//! guest PVC; from 2.11, rancher/rancher PR #47870, only the detached ones).
//!
//! Evidence, not assumption. A candidate must be unreferenced (no VM, VMI, pod or image names
//! it) and unused: its Longhorn volume `detached`, with no workloads or only history
//! (`lastPodRefAt` set; longhorn/longhorn-manager `controller/kubernetes_pv_controller.go` keeps
//! the last pods), for longer than the grace period. Its confidence then comes from guest-cluster
//! liveness ([`super::guest_clusters`]): `proven` when its own cluster label names a cluster with
//! no living VM and no credentials in the namespace are unmatched; `likely` when no living
//! guest-cluster VM is in the namespace and every credentials ServiceAccount there matches a dead
//! cluster; `possible` (info) otherwise, or when a kind that would settle it was not read.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::guest_clusters::{Credentials, GuestClusters};
use super::{Confidence, Context, Explanation, Finding, FixInput, Outcome, Rule, Severity, human, info};
use crate::inventory::kinds::virtual_machine::GUEST_CLUSTER_LABEL;
use crate::inventory::kinds::{
    ClusterRoleBinding, LonghornVolume, PersistentVolumeClaim, Pod, RoleBinding, VirtualMachine, VirtualMachineImage,
    VirtualMachineInstance, VolumeSnapshot,
};
use crate::inventory::{Inventory, KindInfo};
use crate::meta::parse_time;

pub struct OrphanedGuestPvc;

pub const ID: &str = "orphaned-guest-pvc";
const LONGHORN_NS: &str = "longhorn-system";
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// `rules.orphaned-guest-pvc` in the policy file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// How long a volume must be unused before it is reported (default 24h).
    pub grace_period: Option<crate::config::DurationOption>,
    /// Namespaces where guest-cluster VMs live besides the PVC's own.
    pub guest_namespaces: Vec<String>,
}

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
            info::<RoleBinding>(),
            info::<ClusterRoleBinding>(),
        ];
        NEEDS
    }
    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::check_options::<Options>(raw)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "The Harvester CSI driver inside an RKE2 guest cluster creates one host PVC per guest volume, named \
                  pvc-<guest PVC uid>, with no labels (harvester/harvester-csi-driver pkg/csi/controller_server.go, \
                  CreateVolume), and hot-plugs it into the guest node VM while it is attached. When Rancher deletes \
                  the guest cluster, the node driver deletes the VMs and the PVCs in their specs; from Rancher v2.11 \
                  it also marks each VM harvesterhci.io/removeAllPersistentVolumeClaims so hot-plugged volumes go too \
                  (rancher/rancher pkg/controllers/provisioningv2/harvestercleanup/controller.go, PR #47870). So \
                  Rancher <= v2.10 leaks every guest PVC, and v2.11+ leaks the volumes that were detached when the \
                  cluster was deleted: they are in no spec and stay in Harvester for ever, holding Longhorn space. \
                  A pvc-<uuid> PVC is a candidate only when no VM, VMI, pod or image references it, it has no owner, \
                  no image annotation and is not a golden image, and its Longhorn volume is detached and unused \
                  (no workloads, or only the history Longhorn keeps with lastPodRefAt set: longhorn/longhorn-manager \
                  controller/kubernetes_pv_controller.go) for longer than the grace period. Confidence comes from \
                  guest-cluster liveness: each guest cluster has credentials in its namespace (a ServiceAccount \
                  bound to harvesterhci.io:cloudprovider and harvesterhci.io:csi-driver, harvester/harvester \
                  pkg/api/kubeconfig/generate_handler.go) that Rancher never removes, so they are matched to a \
                  cluster by name (its guestcluster.harvesterhci.io/name label or VM name prefix). proven: the PVC's \
                  own cluster label names a cluster with no living VM and no credentials there are unmatched; \
                  likely: no living guest-cluster VM in the namespace and every credentials ServiceAccount matches \
                  a dead cluster (the volume's Longhorn history naming a VM that is gone is evidence); possible \
                  (info): anything less. A VM being deleted with removeAllPersistentVolumeClaims does not keep its \
                  cluster alive. Harvester's Longhorn classes use reclaimPolicy Delete: deleting the PVC deletes the \
                  data, so `fix` first switches the PV to Retain, and plans only proven and likely findings (the \
                  in-cluster job only proven ones).",
            affected: "every Harvester version with Rancher-provisioned RKE2 guest clusters (harvester/harvester#7765 is \
                       open): Rancher <= v2.10 leaks every guest PVC, v2.11+ those detached at deletion",
            upstream: &[
                "harvester/harvester#7765",
                "harvester/harvester#7940",
                "rancher/rancher#47870 (pkg/controllers/provisioningv2/harvestercleanup/controller.go)",
                "harvester/harvester-csi-driver pkg/csi/controller_server.go (CreateVolume)",
                "harvester/harvester pkg/api/kubeconfig/generate_handler.go (guest credentials)",
                "longhorn/longhorn-manager controller/kubernetes_pv_controller.go (workloadsStatus, lastPodRefAt)",
                "harvester/docker-machine-driver-harvester (VM labels, removeAllPersistentVolumeClaims)",
            ],
            remediation: "Confirm the guest cluster is gone, then retain the volume (set the PV's \
                          persistentVolumeReclaimPolicy to Retain) and delete the PVC; purge the retained volume later \
                          once nobody misses it. To undo a mistaken fix: clear the PV's spec.claimRef, then create the \
                          PVC again with the same name and spec.volumeName (the backup folder has it).",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let opts: Options = ctx.options(ID);
        let judge = Judge {
            inv,
            now: ctx.now,
            grace: crate::config::DurationOption::or_default(opts.grace_period, DEFAULT_GRACE),
            guest_namespaces: opts.guest_namespaces.clone(),
            refs: References::build(inv),
            guests: GuestClusters::build(inv),
            volumes: inv
                .objects::<LonghornVolume>()
                .iter()
                .filter(|v| v.metadata.namespace.as_deref() == Some(LONGHORN_NS))
                .map(|v| (v.metadata.name.as_str(), v))
                .collect(),
            volumes_known: inv.covers::<LonghornVolume>(Some(LONGHORN_NS)),
        };
        let mut out = Outcome::default();
        let mut partial = BTreeSet::new();
        for pvc in inv.objects::<PersistentVolumeClaim>() {
            if let Some(v) = judge.verdict(pvc) {
                if !v.missing.is_empty() {
                    partial.insert(format!(
                        "{} ({})",
                        pvc.metadata.namespace.as_deref().unwrap_or(""),
                        v.missing.join(", ")
                    ));
                }
                out.findings.push(judge.finding(self, pvc, v));
            }
        }
        if !partial.is_empty() {
            out.notes.push(format!(
                "reported as possible (info) where kinds that would settle it are unknown: {}",
                partial.into_iter().collect::<Vec<_>>().join("; ")
            ));
        }
        out
    }
}

/// The guest cluster a volume belongs to, by its cluster label, or by the VM its Longhorn
/// history names (`last-vm-gone:<vm>` evidence): that VM's HarvesterMachine's cluster while
/// Rancher still has the machine, else the longest cluster or credentials name the VM's name
/// starts with (`<cluster>-<pool>-…`, as Rancher names machines).
fn rancher_owner(
    r: &crate::inventory::rancher::Inventory,
    ns: &str,
    label: Option<&str>,
    evidence: &[String],
    credentials: &[&str],
) -> Option<String> {
    if let Some(c) = label {
        return Some(c.to_string());
    }
    let names: Vec<&str> = r
        .clusters
        .iter()
        .map(|c| c.name.as_str())
        .chain(credentials.iter().copied())
        .collect();
    evidence
        .iter()
        .filter_map(|e| e.strip_prefix("last-vm-gone:"))
        .find_map(|vm| match r.machine(ns, vm).and_then(|m| m.cluster.clone()) {
            Some(c) => Some(c),
            None => names
                .iter()
                .filter(|n| vm.strip_prefix(**n).is_some_and(|rest| rest.starts_with('-')))
                .max_by_key(|n| n.len())
                .map(|n| n.to_string()),
        })
}

/// What the rule concluded about one candidate PVC.
struct Verdict {
    confidence: Confidence,
    evidence: Vec<String>,
    /// Kinds that were not read and would have settled it.
    missing: Vec<&'static str>,
    /// How the volume's use is known, for the message.
    usage: String,
    unused_for: Option<jiff::SignedDuration>,
    attribution: String,
    reclaimable: Option<u64>,
}

struct Judge<'a> {
    inv: &'a Inventory,
    now: jiff::Timestamp,
    grace: jiff::SignedDuration,
    guest_namespaces: Vec<String>,
    refs: References<'a>,
    guests: GuestClusters<'a>,
    volumes: BTreeMap<&'a str, &'a LonghornVolume>,
    volumes_known: bool,
}

/// How the volume has been used.
enum Usage {
    /// In use, or unused for less than the grace period, or its last VM still exists.
    Busy,
    Unused {
        since: Option<jiff::Timestamp>,
        evidence: Vec<String>,
        text: String,
        reclaimable: Option<u64>,
    },
    /// Only the PVC's age is known.
    AgeOnly {
        text: String,
        missing: Option<&'static str>,
    },
}

impl Judge<'_> {
    /// `None`: not a candidate (referenced, in use, within the grace period, a living
    /// cluster's). Otherwise the verdict with its confidence and evidence.
    fn verdict(&self, pvc: &PersistentVolumeClaim) -> Option<Verdict> {
        let m = &pvc.metadata;
        let ns = m.namespace.as_deref()?;
        if !self.inv.in_scope(Some(ns))
            || !is_guest_csi_name(&m.name)
            || m.deletion_timestamp.is_some()
            || m.annotation(crate::key!("harvesterhci.io/imageId")).is_some()
            || m.annotation(crate::key!("harvesterhci.io/goldenImage")) == Some("true")
            || !m.owner_references.is_empty()
        {
            return None;
        }
        // `--rancher-kubeconfig`: a guest cluster's PersistentVolume still names it.
        if let Some(r) = self.inv.rancher.as_ref().filter(|r| r.usable())
            && r.guest_pv_of(&m.name).is_some()
        {
            return None;
        }
        let mut missing = self.missing_references(ns);
        if self.refs.uses(ns, &m.name) {
            return None;
        }
        let mut evidence = Vec::new();
        if missing.is_empty() {
            evidence.push("unreferenced".to_string());
        }
        let created = parse_time(m.creation_timestamp.as_deref());
        let (since, usage, reclaimable, age_only) = match self.usage(pvc) {
            Usage::Busy => return None,
            Usage::Unused {
                since,
                evidence: e,
                text,
                reclaimable,
            } => {
                evidence.extend(e);
                (since.or(created), text, reclaimable, false)
            }
            Usage::AgeOnly { text, missing: k } => {
                missing.extend(k);
                evidence.push("usage-unknown".into());
                (created, text, None, true)
            }
        };
        let unused_for = since.map(|s| self.now.duration_since(s));
        if unused_for.is_some_and(|d| d < self.grace) {
            return None;
        }
        let (confidence, attribution) = self.liveness(pvc, ns, &mut evidence, &mut missing)?;
        let confidence = if !missing.is_empty() || age_only || unused_for.is_none() {
            Confidence::Possible
        } else {
            confidence
        };
        for k in &missing {
            evidence.push(format!("unknown-kind:{k}"));
        }
        Some(Verdict {
            confidence,
            evidence,
            missing,
            usage,
            unused_for,
            attribution,
            reclaimable,
        })
    }

    /// Kinds that could reference the PVC but are unknown in its namespace.
    fn missing_references(&self, ns: &str) -> Vec<&'static str> {
        let inv = self.inv;
        [
            ("VirtualMachine", inv.covers::<VirtualMachine>(Some(ns))),
            ("VirtualMachineInstance", inv.covers::<VirtualMachineInstance>(Some(ns))),
            ("Pod", inv.covers::<Pod>(Some(ns))),
            ("VirtualMachineImage", inv.covers::<VirtualMachineImage>(Some(ns))),
        ]
        .into_iter()
        .filter(|(_, known)| !known)
        .map(|(k, _)| k)
        .collect()
    }

    fn usage(&self, pvc: &PersistentVolumeClaim) -> Usage {
        let ns = pvc.metadata.namespace.as_deref().unwrap_or("");
        let Some(v) = self.volumes.get(pvc.spec.volume_name.as_str()) else {
            return if self.volumes_known && !pvc.spec.volume_name.is_empty() {
                Usage::AgeOnly {
                    text: format!(
                        "its volume {} is not a Longhorn volume here, so only its age is known",
                        pvc.spec.volume_name
                    ),
                    missing: None,
                }
            } else {
                Usage::AgeOnly {
                    text: "Longhorn volumes were not read, so only the PVC's age is known".into(),
                    missing: Some("Volume.longhorn.io"),
                }
            };
        };
        if !v.is_unused() {
            return Usage::Busy;
        }
        let k = &v.status.kubernetes_status;
        let mut evidence = Vec::new();
        let mut text = if k.last_pod_ref_at.is_empty() {
            evidence.push("never-attached".to_string());
            format!(
                "its Longhorn volume {} is detached and was never used by a pod",
                v.metadata.name
            )
        } else {
            evidence.push(format!("detached-since:{}", k.last_pod_ref_at));
            format!(
                "its Longhorn volume {} is detached, last used by a pod at {}",
                v.metadata.name, k.last_pod_ref_at
            )
        };
        // The history names the VM it was last attached to; if that VM still exists, the
        // volume is a living VM's (detached for a reason of its own).
        let stems = v.last_vm_stems();
        if stems.iter().any(|s| self.guests.vm_exists(ns, |n| s.matches(n))) {
            return Usage::Busy;
        }
        if !stems.is_empty() {
            let names: Vec<&str> = stems.iter().map(|s| s.name.as_str()).collect();
            text.push_str(&format!(" by VM {}, which no longer exists", names.join(", ")));
            evidence.extend(names.iter().map(|n| format!("last-vm-gone:{n}")));
        }
        let since =
            parse_time(Some(k.last_pod_ref_at.as_str())).or(parse_time(v.metadata.creation_timestamp.as_deref()));
        let reclaimable = v.reclaimable_bytes();
        if let Some(b) = reclaimable {
            text.push_str(&format!(
                "; it holds {} ({} replica{})",
                crate::quantity::human_bytes(b),
                v.spec.number_of_replicas.max(1),
                if v.spec.number_of_replicas > 1 { "s" } else { "" }
            ));
        }
        Usage::Unused {
            since,
            evidence,
            text,
            reclaimable,
        }
    }

    /// Could a living guest cluster own it? `None`: yes (not a candidate). Otherwise the
    /// confidence the liveness evidence allows, and a sentence for the message.
    fn liveness(
        &self,
        pvc: &PersistentVolumeClaim,
        ns: &str,
        evidence: &mut Vec<String>,
        missing: &mut Vec<&'static str>,
    ) -> Option<(Confidence, String)> {
        let label = pvc.metadata.label(GUEST_CLUSTER_LABEL);
        if let Some(c) = label {
            if self.guests.living_vm_of(c).is_some() {
                return None;
            }
            evidence.push(format!("cluster-label-dead:{c}"));
        }
        if !self.guests.credentials_known(ns) {
            missing.extend(["RoleBinding", "ClusterRoleBinding"]);
        }
        let mut places = vec![ns];
        places.extend(self.guest_namespaces.iter().map(String::as_str).filter(|g| *g != ns));
        for g in &self.guest_namespaces {
            if !self.inv.covers::<VirtualMachine>(Some(g)) && !missing.contains(&"VirtualMachine") {
                missing.push("VirtualMachine");
            }
        }
        let living_vm = places.iter().find_map(|p| self.guests.living_guest_vm_in(p));
        if let Some(vm) = living_vm {
            evidence.push(format!("living-guest-vm:{}", vm.metadata.name));
        }
        let creds = self.guests.credentials_in(ns);
        let (alive, unmatched) = tally(&creds, evidence);
        let proven = label.is_some() && unmatched == 0;
        let likely = living_vm.is_none() && unmatched == 0 && alive == 0;
        let confidence = if proven {
            Confidence::Proven
        } else if likely {
            Confidence::Likely
        } else {
            Confidence::Possible
        };
        let sas: Vec<&str> = creds.iter().map(|(sa, _)| *sa).collect();
        let (confidence, rancher_says) = self.rancher_view(ns, label, &sas, evidence, confidence);
        let mut why = match label {
            Some(c) => format!("It is labelled for guest cluster {c}, which has no living VM."),
            None => "It carries no guest-cluster label (the CSI driver sets none).".to_string(),
        };
        if let Some(vm) = living_vm {
            why.push_str(&format!(
                " A living guest-cluster VM ({}) is in {}, so a living cluster may own it.",
                vm.metadata.name,
                vm.metadata.namespace.as_deref().unwrap_or(ns)
            ));
        }
        if unmatched > 0 {
            why.push_str(&format!(
                " {ns} holds guest-cluster credentials that match no cluster we can see (a cluster built \
                 without Rancher's node driver carries no VM labels): {}.",
                creds
                    .iter()
                    .filter(|(_, c)| *c == Credentials::Unmatched)
                    .map(|(sa, _)| *sa)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if !creds.is_empty() && alive == 0 {
            why.push_str(" Every guest-cluster credentials ServiceAccount in the namespace belongs to a cluster with no living VM.");
        }
        why.push_str(&rancher_says);
        Some((confidence, why))
    }

    /// `--rancher-kubeconfig`: ask Rancher about the cluster the volume belongs to. The
    /// confidence its answer allows (capped or proven) and a sentence for the message.
    fn rancher_view(
        &self,
        ns: &str,
        label: Option<&str>,
        sas: &[&str],
        evidence: &mut Vec<String>,
        mut confidence: Confidence,
    ) -> (Confidence, String) {
        let mut rancher_says = String::new();
        let Some(r) = &self.inv.rancher else {
            return (confidence, rancher_says);
        };
        if !r.usable() {
            evidence.push("rancher-unchecked".into());
            rancher_says = format!(
                " Rancher could not be asked ({}).",
                r.error.as_deref().unwrap_or("unknown error")
            );
        } else {
            match rancher_owner(r, ns, label, evidence, sas) {
                Some(c) => match r.living(&c) {
                    Some(_) => {
                        let read = r.pvs_read(&c);
                        evidence.push(format!("rancher-cluster-alive:{c}"));
                        let cap = if read { Confidence::Likely } else { Confidence::Possible };
                        confidence = confidence.min(cap);
                        rancher_says = if read {
                            format!(
                                " Rancher still has cluster {c}, and none of its guest PersistentVolumes names \
                                 this volume."
                            )
                        } else {
                            format!(
                                " Rancher still has cluster {c}, whose guest PersistentVolumes could not be read: \
                                 it may still use this volume."
                            )
                        };
                    }
                    None => {
                        let deleting = r.clusters.iter().any(|k| k.name == c && k.deleting);
                        evidence.push(if deleting {
                            format!("rancher-cluster-deleting:{c}")
                        } else {
                            format!("rancher-cluster-gone:{c}")
                        });
                        confidence = Confidence::Proven;
                        rancher_says = format!(
                            " Rancher ({}) {} cluster {c}, whose volume this is, and no guest cluster's \
                             PersistentVolume it could read names it: proven.",
                            r.server,
                            if deleting { "is deleting" } else { "no longer knows" }
                        );
                    }
                },
                None => {
                    evidence.push("rancher-owner-unknown".into());
                    rancher_says = " Rancher was asked, but the volume names no cluster Rancher or its history \
                                    could attribute it to."
                        .into();
                }
            }
        }
        (confidence, rancher_says)
    }

    /// The VolumeSnapshots in `ns` the PVC owns (deleting it deletes them).
    fn owned_snapshots(&self, pvc: &PersistentVolumeClaim, ns: &str) -> Vec<&VolumeSnapshot> {
        let uid = pvc.metadata.uid.as_deref();
        self.inv
            .objects::<VolumeSnapshot>()
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(ns))
            .filter(|s| {
                s.metadata
                    .owner_references
                    .iter()
                    .any(|o| uid == Some(o.uid.as_str()) && !o.uid.is_empty())
            })
            .collect()
    }

    /// The finding's message: the volume, why it looks orphaned, what is not settled and the
    /// snapshots that go with it.
    fn message(&self, pvc: &PersistentVolumeClaim, ns: &str, v: &Verdict, snapshots: &[&VolumeSnapshot]) -> String {
        let m = &pvc.metadata;
        let mut msg = format!(
            "PVC {ns}/{} ({}, class {}, volume {}) looks like a guest-cluster CSI volume that outlived its cluster \
             ({}): {}{}{}. {}",
            m.name,
            pvc.size().unwrap_or("size unknown"),
            none_if_empty(&pvc.spec.storage_class_name),
            none_if_empty(&pvc.spec.volume_name),
            v.confidence,
            if v.missing.is_empty() {
                "no VM, VMI, pod or image uses it, and "
            } else {
                ""
            },
            v.usage,
            v.unused_for
                .map(|d| format!("; unused for {}", human(d)))
                .unwrap_or_default(),
            v.attribution
        );
        if !v.missing.is_empty() {
            msg.push_str(&format!(
                " Not settled: {} were not read for {ns}.",
                v.missing.join(", ")
            ));
        }
        if !snapshots.is_empty() {
            msg.push_str(&format!(
                " Deleting it also deletes the VolumeSnapshots it owns: {}.",
                snapshots
                    .iter()
                    .map(|s| s.metadata.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if !self.inv.covers::<VolumeSnapshot>(Some(ns)) {
            msg.push_str(" VolumeSnapshots were not read: check for snapshots it owns before deleting it.");
        }
        msg
    }

    fn finding(&self, rule: &OrphanedGuestPvc, pvc: &PersistentVolumeClaim, v: Verdict) -> Finding {
        let m = &pvc.metadata;
        let ns = m.namespace.as_deref().unwrap_or("");
        let snapshots = self.owned_snapshots(pvc, ns);
        let msg = self.message(pvc, ns, &v, &snapshots);
        let fix = format!(
            "Confirm with the cluster's owner that the guest cluster is gone. Then patch PV {} to \
             persistentVolumeReclaimPolicy: Retain and delete the PVC (the data stays on the Released PV until you \
             purge it); `kubectl harvester-hygiene fix` does both with preconditions and a backup for proven and \
             likely findings. Undo: clear the PV's spec.claimRef and create the PVC again with the same name and \
             spec.volumeName.",
            none_if_empty(&pvc.spec.volume_name)
        );
        let severity = if v.confidence == Confidence::Possible {
            Severity::Info
        } else {
            Severity::Warning
        };
        let mut f = Finding::about(rule, severity, pvc, msg, fix).with_confidence(v.confidence);
        f = f.with_title(format!(
            "guest-cluster volume outlived its cluster ({}{}{})",
            pvc.size().unwrap_or("size unknown"),
            v.unused_for
                .map(|d| format!(", unused {}", human(d)))
                .unwrap_or_default(),
            v.reclaimable
                .map(|b| format!(", frees {}", crate::quantity::human_bytes(b)))
                .unwrap_or_default()
        ));
        f.evidence = v.evidence;
        f.reclaimable_bytes = v.reclaimable;
        if !pvc.spec.volume_name.is_empty() {
            f.details
                .insert("persistentVolume".into(), pvc.spec.volume_name.to_string());
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
        f.fix_input = Some(FixInput::OrphanPvc {
            owned_snapshots: snapshots.iter().map(|s| s.metadata.name.to_string()).collect(),
        });
        f
    }
}

/// `s`, or "none" when empty.
fn none_if_empty(s: &str) -> String {
    if s.is_empty() {
        "none".to_string()
    } else {
        s.to_string()
    }
}

/// How many of the namespace's guest-cluster credentials belong to a living cluster, and how
/// many to no cluster we can see; each one is evidence.
fn tally(creds: &[(&str, Credentials)], evidence: &mut Vec<String>) -> (usize, usize) {
    let mut unmatched = 0;
    let mut alive = 0;
    for (sa, c) in creds {
        match c {
            Credentials::Alive(_) => {
                alive += 1;
                evidence.push(format!("alive-credentials:{sa}"));
            }
            Credentials::Dead(why) => evidence.push(format!("dead-credentials:{sa}({why})")),
            Credentials::Unmatched => {
                unmatched += 1;
                evidence.push(format!("unmatched-credentials:{sa}"));
            }
        }
    }
    (alive, unmatched)
}

/// Who references which PVC (VMs, their volumeClaimTemplates, VMIs, pods, images); shared with
/// `vm-disk-orphaned`.
pub(super) struct References<'a> {
    claimed: BTreeSet<(&'a str, &'a str)>,
    /// Owned strings from the volumeClaimTemplates annotation.
    templated: BTreeSet<(&'a str, String)>,
}

impl<'a> References<'a> {
    pub(super) fn build(inv: &'a Inventory) -> Self {
        let mut r = References {
            claimed: BTreeSet::new(),
            templated: BTreeSet::new(),
        };
        for vm in inv.objects::<VirtualMachine>() {
            let Some(ns) = vm.metadata.namespace.as_deref() else {
                continue;
            };
            r.claimed.extend(vm.claims().into_iter().map(|c| (ns, c)));
            r.templated.extend(vm.template_claims().into_iter().map(|c| (ns, c)));
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

    pub(super) fn uses(&self, ns: &str, name: &str) -> bool {
        self.claimed.contains(&(ns, name)) || self.templated.contains(&(ns, name.to_string()))
    }
}
