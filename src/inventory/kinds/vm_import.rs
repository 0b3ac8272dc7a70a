//! vm-import-controller `VirtualMachineImport` (migration.harvesterhci.io/v1beta1; fields as in
//! harvester/vm-import-controller `pkg/apis/migration.harvesterhci.io/v1beta1/virtualmachines.go`).
//! The add-on is disabled by default, so the kind may not be served: optional.

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Condition, Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct VirtualMachineImport {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: ImportSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: ImportStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub source_cluster: SourceRef,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub virtual_machine_name: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceRef {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub kind: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub name: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub namespace: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub import_status: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub import_conditions: Box<[Condition]>,
    #[serde(default, deserialize_with = "nullable")]
    pub disk_import_status: Box<[serde_json::Value]>,
}

impl VirtualMachineImport {
    /// The controller compares the source kind in lower case.
    pub fn is_openstack(&self) -> bool {
        self.spec.source_cluster.kind.eq_ignore_ascii_case("OpenstackSource")
    }
    /// `namespace/name` of the OpenstackSource (the import's namespace when the ref has none).
    pub fn source_key(&self) -> Option<String> {
        let src = &self.spec.source_cluster;
        let ns = Some(src.namespace.as_str())
            .filter(|n| !n.is_empty())
            .or(self.metadata.namespace.as_deref())?;
        Some(format!("{ns}/{}", src.name))
    }
    /// No more exports will happen: running, invalid, or failed (the controller does not retry
    /// a failed export). Everything else may still create or clean up OpenStack resources.
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.import_status.as_str(),
            "virtualMachineRunning" | "virtualMachineImportInvalid" | "VMMigrationFailed"
        )
    }
    /// The export finished (`VMExported`): the controller makes no more OpenStack resources for
    /// this import. A `diskImageFailed` resubmit (`triggerResubmit` in harvester/vm-import-controller
    /// `pkg/controllers/migration/helper.go`) goes back to `sourceReady`, and `triggerExport` in
    /// `pkg/controllers/migration/virtualmachine.go` exports only while neither `VMExported` nor
    /// `VMExportFailed` is true.
    pub fn exported(&self) -> bool {
        self.condition_true("VMExported")
    }
    /// The export failed: `VMExportFailed` and `VMMigrationFailed` (`runVirtualMachineExport` in
    /// `pkg/controllers/migration/helper.go`), not a failure after a finished export.
    pub fn export_failed(&self) -> bool {
        self.status.import_status == "VMMigrationFailed" && self.condition_true("VMExportFailed") && !self.exported()
    }
    /// May still create or delete OpenStack resources: not final and not exported yet.
    pub fn may_export(&self) -> bool {
        !self.is_final() && !self.exported()
    }
    /// The index of the attached volume whose export failed: `ExportVirtualMachine` appends to
    /// `status.diskImportStatus` only after a disk's export succeeded, so it is the number of
    /// entries (harvester/vm-import-controller `pkg/source/openstack/client.go`).
    pub fn failed_disk_index(&self) -> usize {
        self.status.disk_import_status.len()
    }
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        crate::meta::condition(&self.status.import_conditions, type_)
    }
    pub fn condition_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(Condition::is_true)
    }
}

crate::kind!(
    VirtualMachineImport,
    group: "migration.harvesterhci.io",
    version: "v1beta1",
    kind: "VirtualMachineImport",
    plural: "virtualmachineimports",
    optional: true,
);
