//! Longhorn `Setting` (longhorn.io/v1beta2, in longhorn-system, top-level `value`): only the
//! orphan auto-deletion settings are read (a GET each, so RBAC can name them).
//!
//! Longhorn up to v1.8 has the boolean `orphan-auto-deletion` (default false,
//! longhorn/longhorn-manager `types/setting.go` `SettingDefinitionOrphanAutoDeletion`); v1.9
//! replaced it with `orphan-resource-auto-deletion`, a `;`-separated list of orphan types
//! (`replicaData`, `instance`), migrated from the old one on upgrade (longhorn/longhorn#6764).

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::Meta;

pub const ORPHAN_AUTO_DELETION: &str = "orphan-auto-deletion";
pub const ORPHAN_RESOURCE_AUTO_DELETION: &str = "orphan-resource-auto-deletion";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LonghornSetting {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub value: Text,
}

crate::kind!(
    LonghornSetting,
    group: "longhorn.io",
    version: "v1beta2",
    kind: "Setting",
    plural: "settings",
    home_namespace: Some("longhorn-system"),
    only_names: &[ORPHAN_AUTO_DELETION, ORPHAN_RESOURCE_AUTO_DELETION],
);
