//! `VolumeSnapshot` (snapshot.storage.k8s.io/v1): owner references, so that deleting a PVC
//! that owns snapshots is called out (the PVC is its owner: kubernetes-csi/external-snapshotter).

use serde::Deserialize;

use crate::meta::Meta;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VolumeSnapshot {
    #[serde(default)]
    pub metadata: Meta,
}

crate::kind!(
    VolumeSnapshot,
    group: "snapshot.storage.k8s.io",
    version: "v1",
    kind: "VolumeSnapshot",
    plural: "volumesnapshots",
    optional: true,
);
