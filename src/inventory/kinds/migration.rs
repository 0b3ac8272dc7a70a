//! KubeVirt `VirtualMachineInstanceMigration` (kubevirt.io/v1). Listed after the other kinds
//! so that a migration starting while quotas are read is not missed.

use serde::Deserialize;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VirtualMachineInstanceMigration {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: MigrationSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: MigrationStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationSpec {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub vmi_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MigrationStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub phase: String,
}

impl VirtualMachineInstanceMigration {
    /// Not `Succeeded` or `Failed` (an empty phase is a pending migration).
    pub fn is_active(&self) -> bool {
        !matches!(self.status.phase.as_str(), "Succeeded" | "Failed") && self.metadata.deletion_timestamp.is_none()
    }
}

crate::kind!(
    VirtualMachineInstanceMigration,
    group: "kubevirt.io",
    version: "v1",
    kind: "VirtualMachineInstanceMigration",
    plural: "virtualmachineinstancemigrations",
    list_last: true,
);
