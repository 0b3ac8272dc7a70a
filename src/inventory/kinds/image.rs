//! Harvester `VirtualMachineImage` (harvesterhci.io/v1beta1; harvester/harvester `pkg/apis/harvesterhci.io/v1beta1/image.go`).

use serde::Deserialize;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VirtualMachineImage {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: ImageSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: ImageStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    /// `backingimage` (default when empty) or `cdi` (v1.5.0+).
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub backend: String,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub display_name: String,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub source_type: String,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub url: String,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub checksum: String,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub target_storage_class_name: String,
    /// `export-from-volume`: the source PVC.
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub pvc_name: String,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub pvc_namespace: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub storage_class_name: String,
}

impl VirtualMachineImage {
    pub fn is_cdi(&self) -> bool {
        self.spec.backend.eq_ignore_ascii_case("cdi")
    }
    /// Created by the vm-import-controller (label or owner), whose URL is its own
    /// temporary download server.
    pub fn is_imported(&self) -> bool {
        self.metadata.label("migration.harvesterhci.io/imported") == Some("true")
            || self
                .metadata
                .owner_references
                .iter()
                .any(|o| o.kind == "VirtualMachineImport")
    }
    /// `namespace/name`, the value Harvester writes in `harvesterhci.io/imageId`.
    pub fn image_id(&self) -> String {
        self.metadata.key()
    }
}

crate::kind!(
    VirtualMachineImage,
    group: "harvesterhci.io",
    version: "v1beta1",
    kind: "VirtualMachineImage",
    plural: "virtualmachineimages",
);
