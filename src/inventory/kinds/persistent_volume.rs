//! `PersistentVolume` (v1, cluster-scoped): which CSI volume it is (`spec.csi.volumeHandle`,
//! the Longhorn Volume's name for `driver.longhorn.io`), which claim it is bound to, and its
//! phase.

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Meta, nullable};

/// The Longhorn CSI driver's name (longhorn/longhorn-manager `csi/controller_server.go`).
pub const LONGHORN_DRIVER: &str = "driver.longhorn.io";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PersistentVolume {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PvSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: PvStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub csi: Option<CsiSource>,
    #[serde(default, deserialize_with = "nullable")]
    pub claim_ref: Option<PvClaimRef>,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub persistent_volume_reclaim_policy: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub storage_class_name: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsiSource {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub driver: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub volume_handle: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PvClaimRef {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub namespace: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub name: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PvStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub phase: Text,
}

impl PersistentVolume {
    /// The Longhorn Volume this PV is, when it is a Longhorn CSI volume.
    pub fn longhorn_volume(&self) -> Option<&str> {
        self.spec
            .csi
            .as_ref()
            .filter(|c| c.driver == LONGHORN_DRIVER && !c.volume_handle.is_empty())
            .map(|c| c.volume_handle.as_str())
    }
}

crate::kind!(
    PersistentVolume,
    group: "",
    version: "v1",
    kind: "PersistentVolume",
    plural: "persistentvolumes",
    namespaced: false,
);
