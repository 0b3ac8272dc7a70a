//! `ResourceQuota` (v1): labels, the migration annotations and `spec.hard` (research §3).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::meta::{Meta, nullable};

pub const DEFAULT_QUOTA_LABEL: &str = "resourcequota.management.cattle.io/default-resource-quota";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResourceQuota {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: QuotaSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuotaSpec {
    #[serde(default, deserialize_with = "crate::meta::string_map")]
    pub hard: BTreeMap<String, String>,
}

/// `"0"`, `"0m"`, `"0Gi"`... are zero.
fn is_zero(q: &str) -> bool {
    q.trim_start_matches(['+'])
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .all(|c| c == '0' || c == '.')
}

impl ResourceQuota {
    /// Rancher's default project quota for the namespace.
    pub fn is_rancher_default(&self) -> bool {
        self.metadata.label(DEFAULT_QUOTA_LABEL) == Some("true")
    }
    /// A non-zero `limits.cpu` or `limits.memory` in `spec.hard` (Harvester scales only those).
    pub fn limits_cpu_or_memory(&self) -> bool {
        ["limits.cpu", "limits.memory"]
            .iter()
            .any(|k| self.spec.hard.get(*k).is_some_and(|v| !v.is_empty() && !is_zero(v)))
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
    #[test]
    fn zero_quantities() {
        assert!(super::is_zero("0"));
        assert!(super::is_zero("0Gi"));
        assert!(super::is_zero("0.0"));
        assert!(!super::is_zero("20"));
        assert!(!super::is_zero("500m"));
    }
}
