//! Longhorn `Volume` (longhorn.io/v1beta2, in longhorn-system, named like the PV): whether a
//! volume is attached, which pods used it last and when (longhorn/longhorn-manager
//! `k8s/pkg/apis/longhorn/v1beta2/volume.go`; `controller/kubernetes_pv_controller.go`
//! `setWorkloads` keeps the last pods in `workloadsStatus` and sets `lastPodRefAt` when they
//! go), and its size and replica count.

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LonghornVolume {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: VolumeSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: VolumeStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSpec {
    /// Bytes, as a string (`"10737418240"`).
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub size: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub number_of_replicas: u64,
    /// A disaster-recovery (standby) volume, restored incrementally from a backup and meant to
    /// have no PV until it is activated. The JSON key is capitalised upstream (`Standby`).
    #[serde(rename = "Standby", default, deserialize_with = "nullable")]
    pub standby: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub state: Text,
    /// `healthy`, `degraded` (attached), `faulted` (no usable replica), `unknown`.
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub robustness: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub kubernetes_status: KubernetesStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesStatus {
    /// The namespace and name of the PVC bound to the volume's PV.
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub namespace: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub pvc_name: Text,
    /// The PV using the volume; cleared when that PV is deleted
    /// (`controller/kubernetes_pv_controller.go` `cleanupForPVDeletion`).
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub pv_name: Text,
    /// When the PVC stopped being bound (history once set).
    #[serde(rename = "lastPVCRefAt", default, deserialize_with = "crate::meta::text")]
    pub last_pvc_ref_at: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub last_pod_ref_at: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub workloads_status: Box<[WorkloadStatus]>,
}

/// One pod that used the volume (current while attached, kept as history after).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub pod_name: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub pod_status: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub workload_name: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub workload_type: Text,
}

impl LonghornVolume {
    /// Not used now: `detached`, and either never used by a pod or only by pods that are gone
    /// (`lastPodRefAt` set: the list is history).
    pub fn is_unused(&self) -> bool {
        let k = &self.status.kubernetes_status;
        self.status.state == "detached" && (k.workloads_status.is_empty() || !k.last_pod_ref_at.is_empty())
    }

    /// `spec.size` times `spec.numberOfReplicas` (at least one), when both are known.
    pub fn reclaimable_bytes(&self) -> Option<u64> {
        let size: u64 = self.spec.size.trim().parse().ok()?;
        size.checked_mul(self.spec.number_of_replicas.max(1))
    }

    /// The VMs the volume was last attached to, as name stems: KubeVirt's launcher pods are
    /// `virt-launcher-<vm>-<5 chars>` (the VM part truncated for long names, so a stem may be a
    /// prefix of the VM name: kubevirt `pkg/virt-controller/services/template.go`); a hot-plug
    /// pod (`hp-volume-<hash>`) names its launcher pod as `workloadName`, and a VMI as workload
    /// is the VM's name itself.
    pub fn last_vm_stems(&self) -> Vec<VmStem> {
        let mut out = Vec::new();
        for w in &self.status.kubernetes_status.workloads_status {
            if w.workload_type == "VirtualMachineInstance" && !w.workload_name.is_empty() {
                out.push(VmStem {
                    name: w.workload_name.to_string(),
                    exact: true,
                });
                continue;
            }
            if let Some(stem) = [&w.workload_name, &w.pod_name]
                .into_iter()
                .find_map(|p| launcher_stem(p))
            {
                out.push(stem);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        out
    }
}

/// The VM part of a launcher pod name. The pod is made with `generateName:
/// virt-launcher-<vm>-`; the API server cuts a generateName base to 58 characters before it adds 5
/// random ones (k8s.io/apiserver `pkg/storage/names/generate.go`), so a 63-character pod name
/// carries only a prefix of the VM name.
fn launcher_stem(pod: &str) -> Option<VmStem> {
    const MAX_GENERATED: usize = 63;
    let rest = pod.strip_prefix("virt-launcher-")?;
    if !rest.is_ascii() {
        return None;
    }
    let cut = rest.len().checked_sub(5)?;
    let base = rest.get(..cut)?;
    let (name, exact) = match base.strip_suffix('-') {
        Some(n) if pod.len() < MAX_GENERATED => (n, true),
        _ => (base.trim_end_matches('-'), false),
    };
    Some(VmStem {
        name: name.to_string(),
        exact,
    })
    .filter(|s| !s.name.is_empty())
}

/// A VM named by a volume's history: exactly, or by the (possibly truncated) name in its
/// launcher pod's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmStem {
    pub name: String,
    pub exact: bool,
}

impl VmStem {
    pub fn matches(&self, vm: &str) -> bool {
        if self.exact {
            vm == self.name
        } else {
            vm.starts_with(&self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launcher_pod_names() {
        let s = launcher_stem("virt-launcher-rke2-pool1-abc12-x7k2p").unwrap_or_else(|| VmStem {
            name: String::new(),
            exact: false,
        });
        assert_eq!(s.name, "rke2-pool1-abc12");
        assert!(s.exact && s.matches("rke2-pool1-abc12") && !s.matches("rke2-pool1-abc12-2"));
        // 63 characters: the VM name was cut, the stem is a prefix.
        let long = format!("virt-launcher-{}", "a".repeat(44)) + "q9z8w";
        assert_eq!(long.len(), 63);
        let s = launcher_stem(&long).map(|s| (s.name.len(), s.exact));
        assert_eq!(s, Some((44, false)));
        assert!(launcher_stem("hp-volume-abcde").is_none());
        assert!(launcher_stem("virt-launcher-").is_none());
    }
}

crate::kind!(
    LonghornVolume,
    group: "longhorn.io",
    version: "v1beta2",
    kind: "Volume",
    plural: "volumes",
    home_namespace: Some("longhorn-system"),
);
