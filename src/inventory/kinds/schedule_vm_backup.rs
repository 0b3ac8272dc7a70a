//! Harvester `ScheduleVMBackup` (harvesterhci.io/v1beta1, Harvester v1.4+): a backup schedule,
//! suspended by its controller after `spec.maxFailure` failed backups (condition
//! `BackupSuspend`, reason "Reach Max Failure") until someone resumes it (harvester/harvester
//! `pkg/controller/master/schedulevmbackup/common.go`). Optional: older versions do not serve it.

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Condition, Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduleVMBackup {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: ScheduleSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: ScheduleStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSpec {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub cron: Text,
    #[serde(default)]
    pub max_failure: Option<i64>,
    #[serde(default)]
    pub suspend: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleStatus {
    #[serde(default)]
    pub failure: Option<i64>,
    #[serde(default)]
    pub suspended: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Box<[Condition]>,
}

impl ScheduleVMBackup {
    /// The `BackupSuspend` condition when it is true.
    pub fn suspension(&self) -> Option<&Condition> {
        crate::meta::condition(&self.status.conditions, "BackupSuspend").filter(|c| c.is_true())
    }
}

crate::kind!(
    ScheduleVMBackup,
    group: "harvesterhci.io",
    version: "v1beta1",
    kind: "ScheduleVMBackup",
    plural: "schedulevmbackups",
    optional: true,
);
