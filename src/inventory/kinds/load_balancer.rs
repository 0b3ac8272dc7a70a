//! Harvester `LoadBalancer` (loadbalancer.harvesterhci.io/v1beta1, the harvester-load-balancer
//! add-on). A guest cluster's cloud controller manager creates one per `Service` of type
//! LoadBalancer, in the cluster's namespace, labelled `cloudprovider.harvesterhci.io/cluster:
//! <cluster>` with `spec.workloadType: cluster` (harvester/load-balancer-harvester
//! `pkg/utils` `LabelKeyGuestClusterNameOnLB`; harvester/cloud-provider-harvester). Its address
//! comes from an IPPool (`spec.ipam: pool`) or DHCP.

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Key, Meta, nullable};

/// The guest cluster a LoadBalancer belongs to.
pub const LB_CLUSTER_LABEL: Key = Key::new("cloudprovider.harvesterhci.io/cluster");

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoadBalancer {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: LoadBalancerSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: LoadBalancerStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerSpec {
    /// `cluster` (a guest cluster's) or `vm`; empty on objects from before v1beta1.
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub workload_type: Text,
    /// `pool` or `dhcp`.
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub ipam: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub address: Text,
}

impl LoadBalancer {
    /// The guest cluster it was made for: its cluster label, on a `cluster`-type (or untyped)
    /// load balancer.
    pub fn guest_cluster(&self) -> Option<&str> {
        let c = self.metadata.label(LB_CLUSTER_LABEL).filter(|c| !c.is_empty())?;
        (self.spec.workload_type.is_empty() || self.spec.workload_type == "cluster").then_some(c)
    }
}

crate::kind!(
    LoadBalancer,
    group: "loadbalancer.harvesterhci.io",
    version: "v1beta1",
    kind: "LoadBalancer",
    plural: "loadbalancers",
    optional: true,
);
