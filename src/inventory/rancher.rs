//! What `--rancher-kubeconfig` read from Rancher's local cluster (gathered by `crate::rancher`,
//! read by `orphaned-guest-pvc`): the provisioning.cattle.io Clusters, the
//! rke-machine.cattle.io HarvesterMachines (one per guest node VM: the machine's name is the VM's
//! name, `spec.vmNamespace` its Harvester namespace, label `cluster.x-k8s.io/cluster-name` its
//! cluster; rancher/rancher `pkg/controllers/provisioningv2/harvestercleanup/controller.go`), and,
//! where it is given access, the guest clusters' PersistentVolumes of the Harvester CSI driver,
//! whose `spec.csi.volumeHandle` is the host PVC's name (harvester/harvester-csi-driver
//! `pkg/csi/controller_server.go`, `CreateVolume`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// The Harvester CSI driver's name (harvester/harvester-csi-driver `pkg/csi/driver.go`).
pub const CSI_DRIVER: &str = "driver.harvesterhci.io";

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// The Rancher server.
    pub server: String,
    /// Why Rancher could not be read; then nothing else here is known.
    pub error: Option<String>,
    pub clusters: Vec<Cluster>,
    pub machines: Vec<Machine>,
    /// Guest PersistentVolumes by cluster name.
    pub guest_pvs: BTreeMap<String, GuestPvs>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub namespace: String,
    pub name: String,
    /// `status.clusterName`, the management cluster (`c-m-…`) Rancher proxies to.
    pub management_name: Option<String>,
    pub deleting: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    pub namespace: String,
    /// The guest node VM's name in Harvester.
    pub name: String,
    pub vm_namespace: Option<String>,
    pub cluster: Option<String>,
    pub deleting: bool,
}

/// One guest cluster's PersistentVolumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum GuestPvs {
    /// The `volumeHandle`s of its Harvester CSI volumes: host PVC names.
    Read {
        handles: BTreeSet<String>,
    },
    Unreadable {
        reason: String,
    },
}

impl Inventory {
    /// Was Rancher read?
    pub fn usable(&self) -> bool {
        self.error.is_none()
    }
    /// A cluster Rancher knows by this name (any namespace), not being deleted.
    pub fn living(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name && !c.deleting)
    }
    /// The cluster whose guest PVs hold `handle`.
    pub fn guest_pv_of(&self, handle: &str) -> Option<&str> {
        self.guest_pvs.iter().find_map(|(c, pvs)| match pvs {
            GuestPvs::Read { handles } if handles.contains(handle) => Some(c.as_str()),
            _ => None,
        })
    }
    /// The HarvesterMachine for the VM `name` in `vm_namespace`.
    pub fn machine(&self, vm_namespace: &str, name: &str) -> Option<&Machine> {
        self.machines
            .iter()
            .find(|m| m.name == name && m.vm_namespace.as_deref() == Some(vm_namespace))
    }
    /// Living clusters with a machine in `vm_namespace`.
    pub fn living_clusters_in(&self, vm_namespace: &str) -> BTreeSet<&str> {
        self.machines
            .iter()
            .filter(|m| m.vm_namespace.as_deref() == Some(vm_namespace))
            .filter_map(|m| m.cluster.as_deref())
            .filter(|c| self.living(c).is_some())
            .collect()
    }
    /// Were `cluster`'s guest PVs read?
    pub fn pvs_read(&self, cluster: &str) -> bool {
        matches!(self.guest_pvs.get(cluster), Some(GuestPvs::Read { .. }))
    }
}
