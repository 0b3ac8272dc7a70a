//! Which RKE2 guest clusters are alive, judged from evidence in the Harvester cluster. Shared
//! by `orphaned-guest-pvc` and the guard in its fix.
//!
//! - Guest-cluster VMs: Rancher's node driver labels every VM it makes
//!   `harvesterhci.io/creator: docker-machine-driver-harvester`, and from v1.0.2
//!   `guestcluster.harvesterhci.io/name` (harvester/docker-machine-driver-harvester). A VM being
//!   deleted with `harvesterhci.io/removeAllPersistentVolumeClaims: "true"` belongs to a cluster
//!   Rancher is deleting (rancher/rancher `pkg/controllers/provisioningv2/harvestercleanup/
//!   controller.go`, PR #47870): it does not keep the cluster alive.
//! - Credentials: each guest cluster gets, in its Harvester namespace, a ServiceAccount bound by a
//!   RoleBinding to `harvesterhci.io:cloudprovider` and by a ClusterRoleBinding to
//!   `harvesterhci.io:csi-driver` (harvester/harvester `pkg/api/kubeconfig/generate_handler.go`).
//!   Rancher names the ServiceAccount after the cluster and never removes it, so credentials
//!   prove nothing alone: they are matched to a cluster by name (the cluster label's value, or
//!   the name prefix of its VMs). Credentials that match nothing belong to a cluster we cannot
//!   see (Terraform- or hand-built clusters carry no node-driver labels).

use std::collections::{BTreeMap, BTreeSet};

use crate::inventory::Inventory;
use crate::inventory::kinds::virtual_machine::GUEST_CLUSTER_LABEL;
use crate::inventory::kinds::{ClusterRoleBinding, LonghornVolume, PersistentVolumeClaim, RoleBinding, VirtualMachine};

pub const CLOUDPROVIDER_ROLE: &str = "harvesterhci.io:cloudprovider";
pub const CSI_DRIVER_ROLE: &str = "harvesterhci.io:csi-driver";
pub const REMOVE_ALL_PVCS: crate::meta::Key = crate::meta::Key::new("harvesterhci.io/removeAllPersistentVolumeClaims");

/// What a guest-cluster credentials ServiceAccount matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A cluster with a living VM (named).
    Alive(String),
    /// A cluster whose VMs are all gone (the evidence).
    Dead(String),
    /// No cluster we can identify.
    Unmatched,
}

/// Does this VM keep its cluster alive?
pub fn is_alive(vm: &VirtualMachine) -> bool {
    !(vm.metadata.deletion_timestamp.is_some() && vm.metadata.annotation(REMOVE_ALL_PVCS) == Some("true"))
}

/// `name` is the cluster `cluster`'s: its label, or its name prefix `<cluster>-`.
fn belongs(vm: &VirtualMachine, cluster: &str) -> bool {
    vm.metadata.label(GUEST_CLUSTER_LABEL) == Some(cluster)
        || vm
            .metadata
            .name
            .strip_prefix(cluster)
            .is_some_and(|rest| rest.starts_with('-'))
}

pub struct GuestClusters<'a> {
    inv: &'a Inventory,
    /// VMs by namespace (one pass over the VMs; lookups are per namespace).
    vms: BTreeMap<&'a str, Vec<&'a VirtualMachine>>,
    /// Credentials ServiceAccounts by namespace.
    credentials: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// Cluster names on PVC labels, by namespace.
    pvc_labels: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// VM name stems from Longhorn volume history whose VM no longer exists, by namespace.
    gone_vms: BTreeMap<String, BTreeSet<String>>,
}

impl<'a> GuestClusters<'a> {
    pub fn build(inv: &'a Inventory) -> Self {
        let mut credentials: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for rb in inv.objects::<RoleBinding>() {
            if rb.role_ref.kind == "ClusterRole" && rb.role_ref.name == CLOUDPROVIDER_ROLE {
                for (ns, sa) in rb
                    .subjects
                    .iter()
                    .filter_map(|s| s.service_account(rb.metadata.namespace.as_deref()))
                {
                    credentials.entry(ns).or_default().insert(sa);
                }
            }
        }
        for crb in inv.objects::<ClusterRoleBinding>() {
            if crb.role_ref.kind == "ClusterRole" && crb.role_ref.name == CSI_DRIVER_ROLE {
                for (ns, sa) in crb.subjects.iter().filter_map(|s| s.service_account(None)) {
                    credentials.entry(ns).or_default().insert(sa);
                }
            }
        }
        let mut pvc_labels: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for pvc in inv.objects::<PersistentVolumeClaim>() {
            if let (Some(ns), Some(c)) = (
                pvc.metadata.namespace.as_deref(),
                pvc.metadata.label(GUEST_CLUSTER_LABEL),
            ) {
                pvc_labels.entry(ns).or_default().insert(c);
            }
        }
        let mut vms: BTreeMap<&str, Vec<&VirtualMachine>> = BTreeMap::new();
        for vm in inv.objects::<VirtualMachine>() {
            if let Some(ns) = vm.metadata.namespace.as_deref() {
                vms.entry(ns).or_default().push(vm);
            }
        }
        let mut gc = GuestClusters {
            inv,
            vms,
            credentials,
            pvc_labels,
            gone_vms: BTreeMap::new(),
        };
        // Gone VMs matter only where credentials are to be matched.
        for v in inv.objects::<LonghornVolume>() {
            let ns = v.status.kubernetes_status.namespace.as_str();
            if !gc.credentials.contains_key(ns) {
                continue;
            }
            for stem in v.last_vm_stems() {
                if !ns.is_empty() && !gc.vm_exists(ns, |n| stem.matches(n)) {
                    gc.gone_vms.entry(ns.to_string()).or_default().insert(stem.name);
                }
            }
        }
        gc
    }

    /// The namespaces holding guest-cluster credentials (a binding to either role).
    pub fn credential_namespaces(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.credentials.keys().copied()
    }

    /// Does a VM in `ns` have a name that `name` accepts?
    pub fn vm_exists(&self, ns: &str, name: impl Fn(&str) -> bool) -> bool {
        self.vms
            .get(ns)
            .is_some_and(|v| v.iter().any(|vm| name(&vm.metadata.name)))
    }

    fn in_namespace(&self, ns: &str) -> impl Iterator<Item = &'a VirtualMachine> + '_ {
        self.vms.get(ns).into_iter().flatten().copied()
    }

    /// Are the credentials of `ns` known (RoleBindings there, ClusterRoleBindings everywhere)?
    pub fn credentials_known(&self, ns: &str) -> bool {
        self.inv.covers::<RoleBinding>(Some(ns)) && self.inv.covers::<ClusterRoleBinding>(None)
    }

    /// A living VM of `cluster` anywhere (by label, or by name prefix for guest-cluster VMs).
    pub fn living_vm_of(&self, cluster: &str) -> Option<&'a VirtualMachine> {
        self.inv
            .objects::<VirtualMachine>()
            .iter()
            .filter(|vm| is_alive(vm))
            .find(|vm| {
                vm.metadata.label(GUEST_CLUSTER_LABEL) == Some(cluster)
                    || (vm.is_guest_cluster_vm() && belongs(vm, cluster))
            })
    }

    /// A living guest-cluster VM in `ns`.
    pub fn living_guest_vm_in(&self, ns: &str) -> Option<&'a VirtualMachine> {
        self.in_namespace(ns)
            .find(|vm| vm.is_guest_cluster_vm() && is_alive(vm))
    }

    /// Does the history of volumes in `ns` name a VM that is gone?
    pub fn gone_vms_in(&self, ns: &str) -> impl Iterator<Item = &str> {
        self.gone_vms.get(ns).into_iter().flatten().map(String::as_str)
    }

    /// Each credentials ServiceAccount of `ns` and what it matches.
    pub fn credentials_in(&self, ns: &str) -> Vec<(&'a str, Credentials)> {
        let Some(sas) = self.credentials.get(ns) else {
            return Vec::new();
        };
        sas.iter()
            .map(|sa| {
                let living = self
                    .inv
                    .objects::<VirtualMachine>()
                    .iter()
                    .filter(|vm| is_alive(vm))
                    .find(|vm| {
                        vm.metadata.label(GUEST_CLUSTER_LABEL) == Some(sa)
                            || (vm.metadata.namespace.as_deref() == Some(ns) && belongs(vm, sa))
                    });
                let state = if let Some(vm) = living {
                    Credentials::Alive(vm.metadata.name.to_string())
                } else if self.pvc_labels.get(ns).is_some_and(|l| l.contains(sa)) {
                    Credentials::Dead(format!("cluster-label-dead:{sa}"))
                } else if let Some(vm) = self
                    .gone_vms_in(ns)
                    .find(|vm| vm.strip_prefix(sa).is_some_and(|r| r.starts_with('-')))
                {
                    Credentials::Dead(format!("last-vm-gone:{vm}"))
                } else {
                    Credentials::Unmatched
                };
                (*sa, state)
            })
            .collect()
    }

    /// Why `fix` must not delete a guest PVC in `ns`, if it must not: credentials there that do
    /// not match a dead cluster, or a living guest-cluster VM.
    pub fn unsafe_to_fix(&self, ns: &str) -> Option<String> {
        if !self.credentials_known(ns) {
            return Some(format!(
                "the guest-cluster credentials of {ns} (RoleBindings, ClusterRoleBindings) were not read"
            ));
        }
        if let Some(vm) = self.living_guest_vm_in(ns) {
            return Some(format!("{ns} holds a living guest-cluster VM ({})", vm.metadata.name));
        }
        let bad: Vec<String> = self
            .credentials_in(ns)
            .into_iter()
            .filter_map(|(sa, c)| match c {
                Credentials::Dead(_) => None,
                Credentials::Alive(vm) => Some(format!("{sa} (cluster alive: VM {vm})")),
                Credentials::Unmatched => Some(format!("{sa} (matches no cluster we can see)")),
            })
            .collect();
        (!bad.is_empty()).then(|| {
            format!(
                "{ns} holds guest-cluster credentials that are not a dead cluster's: {}",
                bad.join(", ")
            )
        })
    }
}
