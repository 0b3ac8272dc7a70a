//! Harvester `VirtualMachineBackup` (harvesterhci.io/v1beta1): a VM backup or snapshot, ready
//! when `status.readyToUse`, failed when `status.error` is set (harvester/harvester
//! `pkg/apis/harvesterhci.io/v1beta1/backup.go`).

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VirtualMachineBackup {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: BackupSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: BackupStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BackupSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub source: crate::meta::NameRef,
    /// `backup` (to the backup target) or `snapshot` (in the cluster).
    #[serde(default, rename = "type", deserialize_with = "crate::meta::text")]
    pub type_: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    #[serde(default)]
    pub ready_to_use: Option<bool>,
    #[serde(default, deserialize_with = "crate::meta::opt_text")]
    pub creation_time: Option<Text>,
    #[serde(default, deserialize_with = "nullable")]
    pub error: BackupError,
    #[serde(default)]
    pub progress: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BackupError {
    #[serde(default, deserialize_with = "crate::meta::opt_text")]
    pub message: Option<Text>,
    #[serde(default, deserialize_with = "crate::meta::opt_text")]
    pub time: Option<Text>,
}

crate::kind!(
    VirtualMachineBackup,
    group: "harvesterhci.io",
    version: "v1beta1",
    kind: "VirtualMachineBackup",
    plural: "virtualmachinebackups",
);
