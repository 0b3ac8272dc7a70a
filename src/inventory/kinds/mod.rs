//! One file per kind: a typed view keeping only what the rules read.
//! To add a kind: write its file, then add one line to [`REGISTRY`].

mod backing_image;
mod image;
mod pvc;
pub mod setting;
mod storage_class;

pub use backing_image::{BackingImage, DiskFileStatus};
pub use image::VirtualMachineImage;
pub use pvc::PersistentVolumeClaim;
pub use setting::Setting;
pub use storage_class::StorageClass;

use super::{KindOps, Ops};

/// Every kind the inventory knows.
pub static REGISTRY: &[&dyn KindOps] = &[
    &Ops::<VirtualMachineImage>::NEW,
    &Ops::<BackingImage>::NEW,
    &Ops::<StorageClass>::NEW,
    &Ops::<PersistentVolumeClaim>::NEW,
    &Ops::<Setting>::NEW,
];

/// The registered kind for an object's `apiVersion` and `kind`. The version is not
/// compared: the views read fields that are the same in every served version
/// (Longhorn serves v1beta1 and v1beta2 of BackingImage, for example).
pub fn by_api_version_kind(api_version: &str, kind: &str) -> Option<&'static dyn KindOps> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    REGISTRY
        .iter()
        .copied()
        .find(|ops| ops.info().kind == kind && ops.info().group == group)
}

/// The registered kind for a resource plural (`virtualmachineimages`), as support bundles
/// name their files.
pub fn by_plural(plural: &str) -> Option<&'static dyn KindOps> {
    REGISTRY
        .iter()
        .copied()
        .find(|ops| ops.info().plural == plural)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_unique() {
        let mut names: Vec<_> = REGISTRY.iter().map(|o| o.info().kind).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn lookup_ignores_version_but_not_group() {
        assert!(by_api_version_kind("longhorn.io/v1beta1", "BackingImage").is_some());
        assert!(by_api_version_kind("example.com/v1", "BackingImage").is_none());
        assert!(by_api_version_kind("v1", "PersistentVolumeClaim").is_some());
        assert_eq!(
            by_plural("storageclasses").map(|o| o.info().kind),
            Some("StorageClass")
        );
    }
}
