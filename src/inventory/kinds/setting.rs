//! Harvester `Setting` (harvesterhci.io/v1beta1, cluster-scoped, top-level `value`).
//! The `server-version` setting gives the Harvester version.

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::Meta;

pub const SERVER_VERSION: &str = "server-version";
/// JSON with `restoreVM`: shut down non-migratable VMs on upgrade and start them again after
/// (harvester/harvester `pkg/util/setting.go` `IsRestoreVM`).
pub const UPGRADE_CONFIG: &str = "upgrade-config";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Setting {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub value: Text,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub default: Text,
}

crate::kind!(
    Setting,
    group: "harvesterhci.io",
    version: "v1beta1",
    kind: "Setting",
    plural: "settings",
    namespaced: false,
    only_names: &[SERVER_VERSION, UPGRADE_CONFIG],
);
