//! `VolumeSnapshot` (snapshot.storage.k8s.io/v1): owner references, so that deleting a PVC
//! that owns snapshots is called out (research §4.1).

use serde::Deserialize;

use crate::inventory::{Kind, KindInfo};
use crate::meta::Meta;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VolumeSnapshot {
    #[serde(default)]
    pub metadata: Meta,
}

impl Kind for VolumeSnapshot {
    const INFO: KindInfo = KindInfo {
        group: "snapshot.storage.k8s.io",
        version: "v1",
        kind: "VolumeSnapshot",
        plural: "volumesnapshots",
        namespaced: true,
        optional: true,
        only_names: &[],
        home_namespace: None,
        list_last: false,
    };
    fn meta(&self) -> &Meta {
        &self.metadata
    }
}
