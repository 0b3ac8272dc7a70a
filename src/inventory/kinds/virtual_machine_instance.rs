//! KubeVirt `VirtualMachineInstance` (kubevirt.io/v1): its uid (the migration annotation key
//! from v1.4.2) and the PVCs it uses.

use serde::Deserialize;

use crate::meta::{Meta, Volume, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VirtualMachineInstance {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: VmiSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VmiSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Vec<Volume>,
}

impl VirtualMachineInstance {
    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.spec.volumes.iter().filter_map(Volume::claim)
    }
}

crate::kind!(
    VirtualMachineInstance,
    group: "kubevirt.io",
    version: "v1",
    kind: "VirtualMachineInstance",
    plural: "virtualmachineinstances",
);
