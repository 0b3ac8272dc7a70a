//! KubeVirt `VirtualMachineInstanceMigration` (kubevirt.io/v1). Listed after the other kinds
//! so that a migration starting while quotas are read is not missed.

use serde::Deserialize;

use crate::meta::Text;

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
    pub vmi_name: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub phase: Text,
    /// When each phase began (kubevirt `api/core/v1` `VirtualMachineInstanceMigrationStatus`).
    #[serde(default, deserialize_with = "nullable")]
    pub phase_transition_timestamps: Box<[PhaseTransition]>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTransition {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub phase: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub phase_transition_timestamp: Text,
}

impl VirtualMachineInstanceMigration {
    /// Not `Succeeded` or `Failed` (an empty phase is a pending migration).
    pub fn is_active(&self) -> bool {
        !matches!(self.status.phase.as_str(), "Succeeded" | "Failed") && self.metadata.deletion_timestamp.is_none()
    }

    /// When a final migration became final (its `Succeeded`/`Failed` transition).
    pub fn final_since(&self) -> Option<jiff::Timestamp> {
        if self.is_active() {
            return None;
        }
        self.status
            .phase_transition_timestamps
            .iter()
            .filter(|t| t.phase == self.status.phase)
            .filter_map(|t| crate::meta::parse_time(Some(t.phase_transition_timestamp.as_str())))
            .max()
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
