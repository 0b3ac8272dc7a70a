//! Longhorn `BackingImage` (longhorn.io/v1beta2, also served as v1beta1; longhorn/longhorn-manager `k8s/pkg/apis/longhorn/v1beta2/backingimage.go`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Meta, nullable};

/// The annotation Harvester puts on every BackingImage it creates: `<ns>/<image name>`.
pub const IMAGE_ID: crate::meta::Key = crate::meta::Key::new("harvesterhci.io/imageId");

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BackingImage {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub status: BackingImageStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackingImageStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub checksum: Text,
    /// Bytes of the image file (longhorn-manager `k8s/pkg/apis/longhorn/v1beta2/backingimage.go`).
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub size: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub disk_file_status_map: BTreeMap<String, DiskFileStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskFileStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub state: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub message: Text,
}

impl BackingImage {
    /// `status.size` in bytes, when it parses.
    pub fn size_bytes(&self) -> Option<u64> {
        self.status.size.trim().parse().ok().filter(|s| *s > 0)
    }
    /// Disks holding a copy, and how many of them are `ready`.
    pub fn copies(&self) -> (usize, usize) {
        let m = &self.status.disk_file_status_map;
        (m.len(), m.values().filter(|d| d.state == "ready").count())
    }
    /// The VirtualMachineImage (`ns/name`) this BackingImage was created for.
    pub fn image_id(&self) -> Option<&str> {
        self.metadata.annotation(IMAGE_ID)
    }
}

crate::kind!(
    BackingImage,
    group: "longhorn.io",
    version: "v1beta2",
    kind: "BackingImage",
    plural: "backingimages",
    home_namespace: Some("longhorn-system"),
);
