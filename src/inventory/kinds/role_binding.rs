//! `RoleBinding` (rbac.authorization.k8s.io/v1): only the role it binds and its subjects.
//! Guest clusters get credentials in their Harvester namespace: a ServiceAccount bound by a
//! RoleBinding to `harvesterhci.io:cloudprovider` (harvester/harvester
//! `pkg/api/kubeconfig/generate_handler.go`, `createRoleBindingIfNotExists`).

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleBinding {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub role_ref: RoleRef,
    #[serde(default, deserialize_with = "nullable")]
    pub subjects: Box<[Subject]>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RoleRef {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub kind: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub name: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Subject {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub kind: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub name: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub namespace: Text,
}

impl Subject {
    /// The ServiceAccount this subject names (`namespace`, `name`); a RoleBinding's subject
    /// without a namespace is in the binding's namespace.
    pub fn service_account<'a>(&'a self, default_ns: Option<&'a str>) -> Option<(&'a str, &'a str)> {
        if self.kind != "ServiceAccount" || self.name.is_empty() {
            return None;
        }
        let ns = Some(self.namespace.as_str()).filter(|n| !n.is_empty()).or(default_ns)?;
        Some((ns, self.name.as_str()))
    }
}

crate::kind!(
    RoleBinding,
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
);
