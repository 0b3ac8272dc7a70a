//! Harvester `Addon` (harvesterhci.io/v1beta1): the vm-import-controller add-on's chart
//! version tells which controller ran (chart 1.5.2+ has the OpenStack cleanup fix).

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Meta, nullable};

pub const VM_IMPORT_CONTROLLER: &str = "vm-import-controller";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Addon {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: AddonSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AddonSpec {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub version: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub enabled: bool,
}

crate::kind!(
    Addon,
    group: "harvesterhci.io",
    version: "v1beta1",
    kind: "Addon",
    plural: "addons",
    optional: true,
);
