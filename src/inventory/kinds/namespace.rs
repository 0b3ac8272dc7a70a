//! `Namespace` (v1, cluster-scoped): Rancher's per-namespace quota base, the annotation
//! `field.cattle.io/resourceQuota` (`{"limit":{"limitsCpu":"2","limitsMemory":"4Gi"}}`), which
//! Rancher's `resource_quota_sync.go` resets the default ResourceQuota's `spec.hard` to
//! (rancher/rancher `pkg/controllers/managementuser/resourcequota/`), and which Harvester's
//! quota controller adds the migrating VMs to from v1.4.2 (harvester/harvester
//! `pkg/controller/master/resourcequota/resourcequota_controller.go`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::meta::Meta;

pub const RANCHER_QUOTA_ANNOTATION: crate::meta::Key = crate::meta::Key::new("field.cattle.io/resourceQuota");

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Namespace {
    #[serde(default)]
    pub metadata: Meta,
}

/// Rancher's `NamespaceResourceQuota` (rancher/rancher `pkg/apis/management.cattle.io/v3`).
#[derive(Debug, Default, Deserialize)]
struct NamespaceResourceQuota {
    #[serde(default)]
    limit: BTreeMap<String, serde_json::Value>,
}

/// Rancher's field names -> Kubernetes resource names (rancher/rancher
/// `pkg/controllers/managementuser/resourcequota/resource_quota_common.go`,
/// `resourceQuotaReturnConversion`, and its forward table in `pkg/resourcequota`).
const RANCHER_TO_KUBE: &[(&str, &str)] = &[
    ("configMaps", "configmaps"),
    ("limitsCpu", "limits.cpu"),
    ("limitsMemory", "limits.memory"),
    ("persistentVolumeClaims", "persistentvolumeclaims"),
    ("pods", "pods"),
    ("replicationControllers", "replicationcontrollers"),
    ("requestsCpu", "requests.cpu"),
    ("requestsMemory", "requests.memory"),
    ("requestsStorage", "requests.storage"),
    ("secrets", "secrets"),
    ("services", "services"),
    ("servicesLoadBalancers", "services.loadbalancers"),
    ("servicesNodePorts", "services.nodeports"),
];

/// Why the base quota of a namespace is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseError {
    /// The namespace has no `field.cattle.io/resourceQuota` annotation.
    Missing,
    /// The annotation is not Rancher's JSON.
    Malformed(String),
}

impl Namespace {
    /// The Rancher base quota as Kubernetes resource names (`limits.cpu` -> `2`).
    pub fn rancher_base(&self) -> Result<BTreeMap<String, String>, BaseError> {
        let raw = self
            .metadata
            .annotation(RANCHER_QUOTA_ANNOTATION)
            .filter(|s| !s.trim().is_empty() && s.trim() != "null")
            .ok_or(BaseError::Missing)?;
        let q: NamespaceResourceQuota = serde_json::from_str(raw).map_err(|e| BaseError::Malformed(e.to_string()))?;
        Ok(q.limit
            .into_iter()
            .filter_map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                let name = RANCHER_TO_KUBE
                    .iter()
                    .find(|(r, _)| *r == k)
                    .map_or(k.as_str(), |(_, kube)| kube);
                Some((name.to_string(), v)).filter(|(_, v)| !v.is_empty())
            })
            .collect())
    }
}

crate::kind!(
    Namespace,
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    namespaced: false,
    by_scope_name: true,
);

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(annotation: Option<&str>) -> Namespace {
        let mut n = Namespace::default();
        if let Some(a) = annotation {
            n.metadata.annotations.insert(RANCHER_QUOTA_ANNOTATION.as_str().into(), a.into());
        }
        n
    }

    #[test]
    fn rancher_base_names() {
        let b = ns(Some(
            r#"{"limit":{"limitsCpu":"2000m","limitsMemory":"4Gi","pods":"10"}}"#,
        ))
        .rancher_base()
        .unwrap_or_default();
        assert_eq!(b.get("limits.cpu").map(String::as_str), Some("2000m"));
        assert_eq!(b.get("limits.memory").map(String::as_str), Some("4Gi"));
        assert_eq!(b.get("pods").map(String::as_str), Some("10"));
        assert_eq!(ns(None).rancher_base(), Err(BaseError::Missing));
        assert!(matches!(ns(Some("{oops")).rancher_base(), Err(BaseError::Malformed(_))));
    }
}
