//! `ClusterRoleBinding` (rbac.authorization.k8s.io/v1): only the role it binds and its
//! subjects. A guest cluster's ServiceAccount is bound to `harvesterhci.io:csi-driver`
//! cluster-wide (harvester/harvester `pkg/api/kubeconfig/generate_handler.go`,
//! `createClusterRoleBindingIfNotExists`); owned by a namespaced ServiceAccount, that binding is
//! never garbage-collected.

use serde::Deserialize;

use super::role_binding::{RoleRef, Subject};
use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRoleBinding {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub role_ref: RoleRef,
    #[serde(default, deserialize_with = "nullable")]
    pub subjects: Box<[Subject]>,
}

crate::kind!(
    ClusterRoleBinding,
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    namespaced: false,
);
