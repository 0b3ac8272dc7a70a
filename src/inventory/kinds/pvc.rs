//! `PersistentVolumeClaim` (v1).

use std::collections::BTreeMap;

use serde::Deserialize;

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
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub capacity: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PvcResources {
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub requests: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcSpec {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub storage_class_name: String,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub volume_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub resources: PvcResources,
}

impl PersistentVolumeClaim {
    /// Capacity, else the requested size.
    pub fn size(&self) -> Option<&str> {
        self.status
            .capacity
            .get("storage")
            .or(self.spec.resources.requests.get("storage"))
            .map(String::as_str)
    }
}

crate::kind!(
    PersistentVolumeClaim,
    group: "",
    version: "v1",
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
);
