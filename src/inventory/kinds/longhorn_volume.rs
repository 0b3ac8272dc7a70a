//! Longhorn `Volume` (longhorn.io/v1beta2, in longhorn-system, named like the PV): whether a
//! volume is attached and when a pod last used it (research §4.4).

use serde::Deserialize;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LonghornVolume {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub status: VolumeStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub state: String,
    #[serde(default, deserialize_with = "nullable")]
    pub kubernetes_status: KubernetesStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub last_pod_ref_at: String,
    #[serde(default, deserialize_with = "nullable")]
    pub workloads_status: Vec<serde_json::Value>,
}

crate::kind!(
    LonghornVolume,
    group: "longhorn.io",
    version: "v1beta2",
    kind: "Volume",
    plural: "volumes",
    home_namespace: Some("longhorn-system"),
);
