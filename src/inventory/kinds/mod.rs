//! One file per kind: a typed view keeping only what the rules read.
//! To add a kind: write its file, then add one line to the `registry!` list below.

use super::{KindOps, Ops};

/// `module::View` per line: declares the kind's module (its file), re-exports the view and
/// lists it in [`REGISTRY`], in this order (the order live mode lists and `dump` writes).
macro_rules! registry {
    ($($module:ident :: $view:ident),+ $(,)?) => {
        $(pub mod $module; pub use $module::$view;)+
        /// Every kind the inventory knows.
        pub static REGISTRY: &[&dyn KindOps] = &[$(&Ops::<$view>::NEW),+];
    };
}

registry! {
    image::VirtualMachineImage,
    backing_image::BackingImage,
    storage_class::StorageClass,
    pvc::PersistentVolumeClaim,
    setting::Setting,
    virtual_machine::VirtualMachine,
    virtual_machine_instance::VirtualMachineInstance,
    pod::Pod,
    resource_quota::ResourceQuota,
    longhorn_volume::LonghornVolume,
    migration::VirtualMachineInstanceMigration,
    volume_snapshot::VolumeSnapshot,
    vm_import::VirtualMachineImport,
    vm_backup::VirtualMachineBackup,
    schedule_vm_backup::ScheduleVMBackup,
    openstack_source::OpenstackSource,
    addon::Addon,
    upgrade::Upgrade,
    namespace::Namespace,
    role_binding::RoleBinding,
    cluster_role_binding::ClusterRoleBinding,
    persistent_volume::PersistentVolume,
    orphan::Orphan,
    longhorn_setting::LonghornSetting,
    service_account::ServiceAccount,
    load_balancer::LoadBalancer,
    ip_pool::IpPool,
}

pub use addon::VM_IMPORT_CONTROLLER;
pub use backing_image::DiskFileStatus;

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
