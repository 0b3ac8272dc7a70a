//! One file per kind: a typed view keeping only what the rules read.
//! To add a kind: write its file, then add one line to [`REGISTRY`].

mod addon;
mod backing_image;
mod cluster_role_binding;
mod image;
mod longhorn_volume;
mod migration;
pub mod namespace;
mod openstack_source;
pub mod pod;
mod pvc;
mod resource_quota;
pub mod role_binding;
mod schedule_vm_backup;
pub mod setting;
mod storage_class;
mod upgrade;
pub mod virtual_machine;
mod virtual_machine_instance;
mod vm_backup;
mod vm_import;
mod volume_snapshot;

pub use addon::{Addon, VM_IMPORT_CONTROLLER};
pub use backing_image::{BackingImage, DiskFileStatus};
pub use cluster_role_binding::ClusterRoleBinding;
pub use image::VirtualMachineImage;
pub use longhorn_volume::LonghornVolume;
pub use migration::VirtualMachineInstanceMigration;
pub use namespace::Namespace;
pub use openstack_source::OpenstackSource;
pub use pod::Pod;
pub use pvc::PersistentVolumeClaim;
pub use resource_quota::ResourceQuota;
pub use role_binding::RoleBinding;
pub use schedule_vm_backup::ScheduleVMBackup;
pub use setting::Setting;
pub use storage_class::StorageClass;
pub use upgrade::Upgrade;
pub use virtual_machine::VirtualMachine;
pub use virtual_machine_instance::VirtualMachineInstance;
pub use vm_backup::VirtualMachineBackup;
pub use vm_import::VirtualMachineImport;
pub use volume_snapshot::VolumeSnapshot;

use super::{KindOps, Ops};

/// Every kind the inventory knows.
pub static REGISTRY: &[&dyn KindOps] = &[
    &Ops::<VirtualMachineImage>::NEW,
    &Ops::<BackingImage>::NEW,
    &Ops::<StorageClass>::NEW,
    &Ops::<PersistentVolumeClaim>::NEW,
    &Ops::<Setting>::NEW,
    &Ops::<VirtualMachine>::NEW,
    &Ops::<VirtualMachineInstance>::NEW,
    &Ops::<Pod>::NEW,
    &Ops::<ResourceQuota>::NEW,
    &Ops::<LonghornVolume>::NEW,
    &Ops::<VirtualMachineInstanceMigration>::NEW,
    &Ops::<VolumeSnapshot>::NEW,
    &Ops::<VirtualMachineImport>::NEW,
    &Ops::<VirtualMachineBackup>::NEW,
    &Ops::<ScheduleVMBackup>::NEW,
    &Ops::<OpenstackSource>::NEW,
    &Ops::<Addon>::NEW,
    &Ops::<Upgrade>::NEW,
    &Ops::<Namespace>::NEW,
    &Ops::<RoleBinding>::NEW,
    &Ops::<ClusterRoleBinding>::NEW,
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


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_unique() {
        let mut names: Vec<_> = REGISTRY.iter().map(|o| crate::inventory::key(o.info())).collect();
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
    }
}
