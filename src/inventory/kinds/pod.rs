//! `Pod` (v1): only the PVCs it mounts (virt-launcher and hotplug pods included).

use serde::Deserialize;

use crate::meta::{Meta, Volume, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pod {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Vec<Volume>,
}

impl Pod {
    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.spec
            .volumes
            .iter()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .map(|c| c.claim_name.as_str())
    }
}

crate::kind!(
    Pod,
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
);
