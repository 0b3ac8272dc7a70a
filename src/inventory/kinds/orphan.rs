//! Longhorn `Orphan` (longhorn.io/v1beta2, in longhorn-system): a replica data directory on a
//! node's disk that no Replica of that node owns. The node controller creates one per directory
//! (`controller/node_controller.go` `createOrphan`: `spec.nodeID`, `spec.orphanType` "replica",
//! `spec.parameters` DataName/DiskName/DiskUUID/DiskPath/DiskType) and deletes it when the
//! directory goes; deleting the Orphan deletes the directory only when its `DataCleanable`
//! condition is true (`controller/orphan_controller.go`). The directory is named
//! `<volume>-<8 random characters>` (`scheduler/replica_scheduler.go`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Condition, Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Orphan {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: OrphanSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: OrphanStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrphanSpec {
    #[serde(rename = "nodeID", default, deserialize_with = "crate::meta::text")]
    pub node_id: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub orphan_type: Text,
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrphanStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Box<[Condition]>,
}

impl Orphan {
    pub fn parameter(&self, key: &str) -> &str {
        self.spec.parameters.get(key).map_or("", String::as_str)
    }
    /// The replica data directory's name (`DataName`).
    pub fn data_name(&self) -> &str {
        self.parameter("DataName")
    }
    /// The volume the directory belonged to: `DataName` without its `-<8 characters>` suffix.
    pub fn volume_name(&self) -> Option<&str> {
        let (volume, suffix) = self.data_name().rsplit_once('-')?;
        (suffix.len() == 8 && !volume.is_empty()).then_some(volume)
    }
    /// `DataCleanable`: "True", "False" or "Unknown" (empty when not set yet).
    pub fn data_cleanable(&self) -> &str {
        crate::meta::condition(&self.status.conditions, "DataCleanable").map_or("", |c| c.status.as_str())
    }
}

crate::kind!(
    Orphan,
    group: "longhorn.io",
    version: "v1beta2",
    kind: "Orphan",
    plural: "orphans",
    home_namespace: Some("longhorn-system"),
);
