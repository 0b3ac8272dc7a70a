//! `StorageClass` (storage.k8s.io/v1).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageClass {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub provisioner: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub parameters: BTreeMap<String, String>,
}

impl StorageClass {
    /// The Longhorn BackingImage this class provisions volumes from.
    pub fn backing_image(&self) -> Option<&str> {
        self.parameters
            .get("backingImage")
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

crate::kind!(
    StorageClass,
    group: "storage.k8s.io",
    version: "v1",
    kind: "StorageClass",
    plural: "storageclasses",
    namespaced: false,
);
