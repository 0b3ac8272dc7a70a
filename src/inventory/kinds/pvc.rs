//! `PersistentVolumeClaim` (v1).

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PersistentVolumeClaim {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PvcSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: PvcStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PvcStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub capacity: Storage,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PvcResources {
    #[serde(default, deserialize_with = "nullable")]
    pub requests: Storage,
}

/// Only the `storage` entry of a ResourceList.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Storage {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub storage: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcSpec {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub storage_class_name: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub volume_name: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub resources: PvcResources,
}

impl PersistentVolumeClaim {
    /// Capacity, else the requested size.
    pub fn size(&self) -> Option<&str> {
        [&self.status.capacity.storage, &self.spec.resources.requests.storage]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(Text::as_str)
    }
}

crate::kind!(
    PersistentVolumeClaim,
    group: "",
    version: "v1",
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
);
