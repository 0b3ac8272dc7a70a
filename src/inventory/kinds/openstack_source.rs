//! vm-import-controller `OpenstackSource` (migration.harvesterhci.io/v1beta1; harvester/vm-import-controller `pkg/apis/migration.harvesterhci.io/v1beta1`):
//! where an OpenStack import's project is (Keystone endpoint, region) and which Secret holds
//! its credentials. Only the reference to the Secret is kept; the Secret itself is read only by
//! `--openstack`. Optional: the add-on is disabled by default.

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OpenstackSource {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: OpenstackSourceSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OpenstackSourceSpec {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub endpoint: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub region: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub credentials: SecretRef,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SecretRef {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub name: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub namespace: Text,
}

crate::kind!(
    OpenstackSource,
    group: "migration.harvesterhci.io",
    version: "v1beta1",
    kind: "OpenstackSource",
    plural: "openstacksources",
    optional: true,
);
