//! Harvester `Upgrade` (harvesterhci.io/v1beta1, in harvester-system): when the cluster was
//! upgraded to which version (the `Completed` condition).

use serde::Deserialize;

use crate::meta::{Condition, Meta, nullable};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Upgrade {
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default, deserialize_with = "nullable")]
    pub spec: UpgradeSpec,
    #[serde(default, deserialize_with = "nullable")]
    pub status: UpgradeStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpgradeSpec {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub version: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub previous_version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
}

impl Upgrade {
    /// When the upgrade completed, if it did.
    pub fn completed_at(&self) -> Option<&str> {
        crate::meta::condition(&self.status.conditions, "Completed")
            .filter(|c| c.is_true())
            .and_then(Condition::time)
    }
}

crate::kind!(
    Upgrade,
    group: "harvesterhci.io",
    version: "v1beta1",
    kind: "Upgrade",
    plural: "upgrades",
    optional: true,
);
