//! `ServiceAccount` (core v1): metadata only. A guest cluster's Harvester credentials are a
//! ServiceAccount in its namespace with a token Secret it owns (harvester/harvester
//! `pkg/api/kubeconfig/generate_handler.go`, `ensureSaAndSecret`). Only the ServiceAccount's
//! metadata is read: never its Secrets, never their data.

use serde::Deserialize;

use crate::meta::Meta;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ServiceAccount {
    #[serde(default)]
    pub metadata: Meta,
}

crate::kind!(
    ServiceAccount,
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
);
