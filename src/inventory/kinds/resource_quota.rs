//! `ResourceQuota` (v1): labels, the migration annotations, `spec.hard` and `status`
//! (`hard` and `used`, what the apiserver's quota admission compares a new pod against).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::meta::{Meta, nullable};
use crate::quantity::is_nonzero;

pub const DEFAULT_QUOTA_LABEL: crate::meta::Key =
    crate::meta::Key::new("resourcequota.management.cattle.io/default-resource-quota");

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourceQuota {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: QuotaSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: QuotaStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuotaSpec {
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub hard: BTreeMap<String, String>,
}

/// Written by kube-controller-manager's quota controller (`hard` copied from `spec.hard`,
/// `used` summed over the namespace) and by the apiserver's quota admission on every charge.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuotaStatus {
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub hard: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub used: BTreeMap<String, String>,
}

impl ResourceQuota {
    /// Rancher's default project quota for the namespace.
    pub fn is_rancher_default(&self) -> bool {
        self.metadata.label(DEFAULT_QUOTA_LABEL) == Some("true")
    }
    /// A non-zero `limits.cpu` or `limits.memory` in `spec.hard` (Harvester scales only those:
    /// harvester/harvester `pkg/util/resourcequota/calculator.go` `isEmptyQuota`).
    pub fn limits_cpu_or_memory(&self) -> bool {
        ["limits.cpu", "limits.memory"]
            .iter()
            .any(|k| self.spec.hard.get(*k).is_some_and(|v| is_nonzero(v)))
    }
    /// The hard limit admission enforces for `resource`: `status.hard` (kubernetes
    /// `staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go`
    /// `checkQuotas` reads `Status.Hard`), or `spec.hard` when the object carries no
    /// `status.hard` at all (a hand-written manifest; the quota controller copies one to the other).
    pub fn enforced_hard(&self, resource: &str) -> Option<&str> {
        let hard = if self.status.hard.is_empty() {
            &self.spec.hard
        } else {
            &self.status.hard
        };
        hard.get(resource).map(String::as_str)
    }
    /// `status.used` of `resource`.
    pub fn used(&self, resource: &str) -> Option<&str> {
        self.status.used.get(resource).map(String::as_str)
    }
}

crate::kind!(
    ResourceQuota,
    group: "",
    version: "v1",
    kind: "ResourceQuota",
    plural: "resourcequotas",
);

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(spec: &[(&str, &str)], status_hard: &[(&str, &str)]) -> ResourceQuota {
        let map = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ResourceQuota {
            spec: QuotaSpec { hard: map(spec) },
            status: QuotaStatus {
                hard: map(status_hard),
                used: BTreeMap::new(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn zero_limits_do_not_count() {
        assert!(!quota(&[("limits.cpu", "0"), ("limits.memory", "0Gi")], &[]).limits_cpu_or_memory());
        assert!(quota(&[("limits.cpu", "500m")], &[]).limits_cpu_or_memory());
        assert!(!quota(&[("requests.cpu", "20")], &[]).limits_cpu_or_memory());
    }

    #[test]
    fn status_hard_wins_over_spec() {
        let q = quota(&[("limits.cpu", "24")], &[("limits.cpu", "20")]);
        assert_eq!(q.enforced_hard("limits.cpu"), Some("20"));
        let q = quota(&[("limits.cpu", "24")], &[]);
        assert_eq!(q.enforced_hard("limits.cpu"), Some("24"));
    }
}
