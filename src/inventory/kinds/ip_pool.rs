//! Harvester `IPPool` (loadbalancer.harvesterhci.io/v1beta1, cluster-scoped, the
//! harvester-load-balancer add-on): `status.allocated` maps each address it handed out to its
//! applicant, `<namespace>/<load balancer name>` (harvester/load-balancer-harvester
//! `pkg/ipam/allocator.go` `Get(id)`, the id being the LoadBalancer's key; the
//! `loadbalancer.harvesterhci.io/manuallyReleaseIP` annotation uses the same form). The
//! LoadBalancer's finalizer releases it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IpPool {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub status: IpPoolStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct IpPoolStatus {
    /// Address → applicant (`<namespace>/<name>` of a LoadBalancer).
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub allocated: BTreeMap<String, String>,
}

impl IpPool {
    /// `(address, namespace, name)` of each allocation with a `<namespace>/<name>` applicant.
    pub fn allocations(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        self.status
            .allocated
            .iter()
            .filter_map(|(ip, who)| who.split_once('/').map(|(ns, n)| (ip.as_str(), ns, n)))
    }
}

crate::kind!(
    IpPool,
    group: "loadbalancer.harvesterhci.io",
    version: "v1beta1",
    kind: "IPPool",
    plural: "ippools",
    namespaced: false,
    optional: true,
);
