//! Harvester `Upgrade` (harvesterhci.io/v1beta1, in harvester-system): when the cluster was
//! upgraded to which version (the `Completed` condition), and whether it is finished (label
//! `harvesterhci.io/upgradeState`: harvester/harvester `pkg/controller/master/upgrade/job_controller.go`).

use serde::Deserialize;

use crate::meta::Text;

use crate::meta::{Condition, Key, Meta, nullable};

/// `Succeeded` or `Failed` once the upgrade is over; Harvester's webhook refuses a new Upgrade
/// while one without either exists (harvester/harvester `pkg/webhook/resources/upgrade/validator.go`).
pub const STATE_LABEL: Key = Key::new("harvesterhci.io/upgradeState");
/// On the upgrade's repo VM, its image and other parts: the Upgrade's name
/// (`pkg/controller/master/upgrade/upgrade_controller.go` `harvesterUpgradeLabel`).
pub const UPGRADE_LABEL: Key = Key::new("harvesterhci.io/upgrade");
/// `repo` on the repo VM (`harvesterUpgradeComponentLabel`, `upgradeComponentRepo`).
pub const COMPONENT_LABEL: Key = Key::new("harvesterhci.io/upgradeComponent");

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
    pub version: Text,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStatus {
    #[serde(default, deserialize_with = "crate::meta::text")]
    pub previous_version: Text,
    /// `<namespace>/<name>` of the ISO image the repo VM boots.
    #[serde(rename = "imageID", default, deserialize_with = "crate::meta::text")]
    pub image_id: Text,
    #[serde(default, deserialize_with = "nullable")]
    pub conditions: Box<[Condition]>,
}

impl Upgrade {
    /// The `harvesterhci.io/upgradeState` label, when set.
    pub fn state(&self) -> Option<&str> {
        self.metadata.label(STATE_LABEL)
    }

    /// Over: state `Succeeded` or `Failed`.
    pub fn is_final(&self) -> bool {
        matches!(self.state(), Some("Succeeded" | "Failed"))
    }

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
