//! KubeVirt `VirtualMachineInstance` (kubevirt.io/v1): its uid (the migration annotation key
//! from v1.4.2), the PVCs it uses, and its resources (Harvester's migration controller reads
//! `spec.domain.resources.limits`), and its phase and conditions (`LiveMigratable`: kubevirt/api
//! `core/v1/types.go` `VirtualMachineInstanceIsMigratable`).

use serde::Deserialize;

use crate::meta::Text;

use super::virtual_machine::Resources;
use crate::meta::{Claims, Condition, Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VirtualMachineInstance {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: VmiSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: VmiStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmiStatus {
    /// `Pending`, `Scheduling`, `Scheduled`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub phase: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub node_name: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Box<[Condition]>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VmiSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Claims,
    #[serde(default, deserialize_with = "nullable")]
    pub domain: VmiDomain,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VmiDomain {
    /// `None` when the manifest has no `resources` key (the apiserver always writes one).
    #[serde(default)]
    pub resources: Option<Resources>,
}

impl VirtualMachineInstance {
    /// The VMI's condition `type_`, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        crate::meta::condition(&self.status.conditions, type_)
    }

    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.spec.volumes.iter()
    }
}

crate::kind!(
    VirtualMachineInstance,
    group: "kubevirt.io",
    version: "v1",
    kind: "VirtualMachineInstance",
    plural: "virtualmachineinstances",
);
