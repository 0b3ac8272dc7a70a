//! `PersistentVolumeClaim` (v1).

use serde::Deserialize;

use crate::inventory::{Kind, KindInfo};
use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PersistentVolumeClaim {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PvcSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvcSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub storage_class_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub volume_name: String,
}

impl Kind for PersistentVolumeClaim {
    const INFO: KindInfo = KindInfo {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        namespaced: true,
        optional: false,
        only_names: &[],
        home_namespace: None,
        list_last: false,
    };
    fn meta(&self) -> &Meta {
        &self.metadata
    }
}
