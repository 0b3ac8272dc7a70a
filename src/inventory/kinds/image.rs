//! Harvester `VirtualMachineImage` (harvesterhci.io/v1beta1; harvester/harvester `pkg/apis/harvesterhci.io/v1beta1/image.go`).

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Condition, Meta, nullable};

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
    pub backend: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub display_name: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub source_type: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub url: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub checksum: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub target_storage_class_name: Text,
    /// `export-from-volume`: the source PVC.
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub pvc_name: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub pvc_namespace: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub storage_class_name: Text,
    /// `Initialized`, `Imported`, `RetryLimitExceeded`, `BackingImageMissing`, `MetadataReady`
    /// (harvester/harvester `pkg/apis/harvesterhci.io/v1beta1/image.go`).
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Box<[Condition]>,
    /// Bytes of the downloaded file (`--probe-urls` compares it with `Content-Length`).
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub size: Text,
}

impl VirtualMachineImage {
    pub fn is_cdi(&self) -> bool {
        self.spec.backend.eq_ignore_ascii_case("cdi")
    }
    /// Created by the vm-import-controller (label or owner), whose URL is its own
    /// temporary download server.
    pub fn is_imported(&self) -> bool {
        self.metadata.label(crate::key!("migration.harvesterhci.io/imported")) == Some("true")
            || self
                .metadata
                .owner_references
                .iter()
                .any(|o| o.kind == "VirtualMachineImport")
    }
    /// The condition of this type, if the image has it.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        crate::meta::condition(&self.status.conditions, type_)
    }
    pub fn condition_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(Condition::is_true)
    }
    /// Why Harvester legitimately has no working class for this image right now, if it does:
    /// being deleted, not yet `Initialized`, or in the import retry loop (`RetryLimitExceeded`
    /// True, `BackingImageMissing` True, or a `RetryLimitExceeded` condition, which the
    /// controller adds on the first failure, while `Imported` is not True). Upstream:
    /// harvester/harvester `pkg/controller/master/image/vm_image_controller.go` (`OnChanged`
    /// skips deleted and retry-exhausted images) and `pkg/image/common/operator.go`
    /// (`failStateTransit`, `stateTransit`); harvester/harvester#4639, #5530.
    pub fn transient_state(&self) -> Option<&'static str> {
        if self
            .metadata
            .deletion_timestamp
            .as_deref()
            .is_some_and(|t| !t.is_empty())
        {
            return Some("deleting");
        }
        if !self.condition_true("Initialized") {
            return Some("not-initialized");
        }
        if self.condition_true("RetryLimitExceeded") {
            return Some("retry-limit-exceeded");
        }
        if self.condition_true("BackingImageMissing") {
            return Some("backing-image-missing");
        }
        if self.condition("RetryLimitExceeded").is_some() && !self.condition_true("Imported") {
            return Some("retrying");
        }
        None
    }
    /// `status.size` in bytes, when set.
    pub fn size_bytes(&self) -> Option<u64> {
        self.status.size.trim().parse().ok().filter(|s| *s > 0)
    }
    /// When the download finished: the `Imported` condition's transition, else creation.
    pub fn imported_at(&self) -> Option<&str> {
        self.condition("Imported")
            .filter(|c| c.is_true())
            .and_then(|c| c.last_transition_time.as_deref())
            .or(self.metadata.creation_timestamp.as_deref())
            .filter(|t| !t.is_empty())
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
