//! KubeVirt `VirtualMachine` (kubevirt.io/v1): name, labels, the PVCs it references, and its
//! cpu/memory limits and requests.


use serde::Deserialize;

use crate::meta::{Claims, Meta, NameRef, StrMap, Text, Volume, nullable};
use crate::quantity::is_nonzero;

pub const GUEST_CLUSTER_LABEL: crate::meta::Key = crate::meta::Key::new("guestcluster.harvesterhci.io/name");
pub const CREATOR_LABEL: crate::meta::Key = crate::meta::Key::new("harvesterhci.io/creator");
pub const NODE_DRIVER: &str = "docker-machine-driver-harvester";
pub const VOLUME_CLAIM_TEMPLATES: crate::meta::Key = crate::meta::Key::new("harvesterhci.io/volumeClaimTemplates");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "VmWire")]
pub struct VirtualMachine {
    pub metadata: Meta,
    pub spec: VmSpec,
    pub status: VmStatus,
    /// The `harvesterhci.io/volumeClaimTemplates` annotation, parsed once while decoding (the
    /// annotation itself, a JSON text of several hundred bytes, is not kept in `metadata`).
    /// `None` when the annotation is absent or not valid JSON of that shape.
    pub claim_templates: Option<Box<[ClaimTemplateRef]>>,
}

/// One entry of the `harvesterhci.io/volumeClaimTemplates` annotation: the PVC Harvester will
/// create for the VM and its StorageClass (harvester `pkg/webhook/resources/virtualmachine`
/// and `pkg/controller/master/virtualmachine`, which create the PVCs from it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimTemplateRef {
    pub name: Text,
    pub storage_class_name: Option<Text>,
}

/// The VirtualMachine as read; [`VirtualMachine`] is built from it.
#[derive(Deserialize)]
struct VmWire {
    #[serde(default)]
    metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    spec: VmSpec,
    #[serde(default, deserialize_with = "nullable")]
    status: VmStatus,
}

impl From<VmWire> for VirtualMachine {
    fn from(w: VmWire) -> Self {
        let mut metadata = w.metadata;
        let claim_templates = metadata
            .annotations
            .remove(VOLUME_CLAIM_TEMPLATES.as_str())
            .and_then(|a| serde_json::from_str::<Vec<ClaimTemplate>>(&a).ok())
            .map(|v| {
                v.into_iter()
                    .map(|t| ClaimTemplateRef {
                        name: t.metadata.name,
                        storage_class_name: t.spec.storage_class_name.map(Text::from),
                    })
                    .collect()
            });
        VirtualMachine {
            metadata,
            spec: w.spec,
            status: w.status,
            claim_templates,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub template: Template,
    #[serde(default, deserialize_with = "nullable")]
    pub data_volume_templates: Box<[DataVolumeTemplate]>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DataVolumeTemplate {
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: NameRef,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Template {
    #[serde(default, deserialize_with = "nullable")]
    pub spec: TemplateSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TemplateSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Claims,
    #[serde(default, deserialize_with = "nullable")]
    pub domain: Domain,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Domain {
    #[serde(default, deserialize_with = "nullable")]
    pub resources: Resources,
}

/// A KubeVirt `ResourceRequirements` or a container's resources: `limits` and `requests`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resources {
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub limits: StrMap,
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub requests: StrMap,
    /// KubeVirt then leaves its memory overhead out of the pod's memory request.
    #[serde(default, rename = "overcommitGuestOverhead", deserialize_with = "nullable")]
    pub overcommit_guest_overhead: bool,
}

impl Resources {
    /// A non-zero `cpu` or `memory` limit (a `"0"` limit is none: harvester/harvester
    /// `pkg/util/resourcequota/calculator.go` `checkResourceQuotaAndVMI` uses `IsZero`).
    pub fn has_cpu_or_memory_limit(&self) -> bool {
        ["cpu", "memory"]
            .iter()
            .any(|k| self.limits.get(k).is_some_and(|v| is_nonzero(v)))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmStatus {
    #[serde(default, deserialize_with = "nullable")]
    pub volume_requests: Box<[VolumeRequest]>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeRequest {
    #[serde(default, deserialize_with = "nullable")]
    pub add_volume_options: Option<AddVolumeOptions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddVolumeOptions {
    #[serde(default, deserialize_with = "nullable")]
    pub volume_source: Volume,
}

/// One entry of the `harvesterhci.io/volumeClaimTemplates` annotation (a JSON PVC list).
#[derive(Deserialize)]
struct ClaimTemplate {
    #[serde(default)]
    metadata: NameRef,
    #[serde(default)]
    spec: ClaimTemplateSpec,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClaimTemplateSpec {
    #[serde(default)]
    storage_class_name: Option<String>,
}

impl VirtualMachine {
    /// Every PVC name the VM references: template volumes (hot-plugged included),
    /// dataVolumeTemplates, the volumeClaimTemplates annotation and pending volume requests.
    pub fn claims(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .spec
            .template
            .spec
            .volumes
            .iter()
            .collect();
        out.extend(self.spec.data_volume_templates.iter().map(|d| d.metadata.name.as_str()));
        out.extend(
            self.status
                .volume_requests
                .iter()
                .filter_map(|r| r.add_volume_options.as_ref())
                .filter_map(|o| o.volume_source.claim()),
        );
        out.retain(|s| !s.is_empty());
        out
    }

    /// PVC names from the `harvesterhci.io/volumeClaimTemplates` annotation (owned strings:
    /// the annotation is JSON text). A malformed annotation yields nothing.
    pub fn template_claims(&self) -> Vec<String> {
        self.claim_templates
            .iter()
            .flatten()
            .map(|t| t.name.to_string())
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// (PVC name, StorageClass name) of each `volumeClaimTemplates` entry that names a class.
    pub fn template_classes(&self) -> Vec<(String, String)> {
        self.claim_templates
            .iter()
            .flatten()
            .filter_map(|t| Some((t.name.to_string(), t.storage_class_name.as_ref()?.to_string())))
            .filter(|(n, c)| !n.is_empty() && !c.is_empty())
            .collect()
    }

    /// Made for an RKE2 guest cluster (by label or by Rancher's node driver).
    pub fn is_guest_cluster_vm(&self) -> bool {
        self.metadata.label(GUEST_CLUSTER_LABEL).is_some() || self.metadata.label(CREATOR_LABEL) == Some(NODE_DRIVER)
    }

    /// The template has a non-zero cpu or memory limit.
    pub fn has_cpu_or_memory_limit(&self) -> bool {
        self.spec.template.spec.domain.resources.has_cpu_or_memory_limit()
    }
}

crate::kind!(
    VirtualMachine,
    group: "kubevirt.io",
    version: "v1",
    kind: "VirtualMachine",
    plural: "virtualmachines",
);
