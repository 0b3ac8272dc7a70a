//! `Pod` (v1): the PVCs it mounts (virt-launcher and hotplug pods included), its containers'
//! resources, its phase, and the KubeVirt labels that tie a virt-launcher pod to its VMI.


use serde::Deserialize;

use crate::meta::Text;

use super::virtual_machine::Resources;
use crate::meta::{Claims, Meta, StrMap, nullable};
use crate::quantity::parse_milli;

/// KubeVirt's labels on a virt-launcher pod (kubevirt `staging/src/kubevirt.io/api/core/v1/types.go`:
/// `AppLabel`, `CreatedByLabel` = the VMI's uid, `VirtualMachineNameLabel` = the VMI's name).
pub const APP_LABEL: crate::meta::Key = crate::meta::Key::new("kubevirt.io");
pub const CREATED_BY_LABEL: crate::meta::Key = crate::meta::Key::new("kubevirt.io/created-by");
pub const VM_NAME_LABEL: crate::meta::Key = crate::meta::Key::new("vm.kubevirt.io/name");

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pod {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PodSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: PodStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Claims,
    #[serde(default, deserialize_with = "nullable")]
    pub containers: Box<[Container]>,
    #[serde(default, deserialize_with = "nullable")]
    pub init_containers: Box<[Container]>,
    /// RuntimeClass overhead, charged to quota on top of the containers.
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub overhead: StrMap,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Container {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub name: Text,
    /// `None` when the manifest has no `resources` key (the apiserver always writes one).
    #[serde(default)]
    pub resources: Option<Resources>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub phase: Text,
}

/// Which side of a container's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Limits,
    Requests,
}

impl Pod {
    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.spec.volumes.iter()
    }

    /// Succeeded and Failed pods no longer count against a quota.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.phase.as_str(), "Succeeded" | "Failed")
    }

    /// A virt-launcher pod (label `kubevirt.io=virt-launcher`).
    pub fn is_virt_launcher(&self) -> bool {
        self.metadata.label(APP_LABEL) == Some("virt-launcher")
    }

    /// Do all containers state their resources (a pod read from the apiserver always does)?
    pub fn states_resources(&self) -> bool {
        !self.spec.containers.is_empty()
            && self
                .spec
                .containers
                .iter()
                .chain(&self.spec.init_containers)
                .all(|c| c.resources.is_some())
    }

    /// What the pod charges a quota for `resource` (`cpu` or `memory`) on `side`, in
    /// milli-units, as Kubernetes computes it (`k8s.io/component-helpers/resource` `PodRequests`/
    /// `PodLimits`, used by `pkg/quota/v1/evaluator/core/pods.go`): the sum over the
    /// containers, at least the largest init container, plus the pod overhead. `None` when the
    /// pod does not state its resources or a value cannot be read.
    pub fn charge(&self, side: Side, resource: &str) -> Option<i128> {
        if !self.states_resources() {
            return None;
        }
        let of = |c: &Container| -> Option<i128> {
            let r = c.resources.as_ref()?;
            let list = match side {
                Side::Limits => &r.limits,
                Side::Requests => &r.requests,
            };
            list.get(resource).map_or(Some(0), |v| parse_milli(v))
        };
        let mut sum: i128 = 0;
        for c in &self.spec.containers {
            sum = sum.checked_add(of(c)?)?;
        }
        for c in &self.spec.init_containers {
            sum = sum.max(of(c)?);
        }
        let overhead = self.spec.overhead.get(resource).map_or(Some(0), |v| parse_milli(v))?;
        sum.checked_add(overhead)
    }
}

crate::kind!(
    Pod,
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
);
