//! The manifest `dump` writes next to the objects (`harvester-hygiene-dump.json`): per kind,
//! whether it was listed completely and where, so a scan of the dump knows what it saw ("no VMIs
//! here" is a fact, not a gap), plus which cluster, when and which Harvester version.

use serde::{Deserialize, Serialize};

use super::Gap;

pub const API_VERSION: &str = "harvester-hygiene/v1";
pub const KIND: &str = "Dump";
/// The manifest's file name in a dump directory or archive.
pub const FILE: &str = "harvester-hygiene-dump.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub api_version: String,
    pub kind: String,
    /// When the dump was made (RFC 3339).
    pub created_at: String,
    #[serde(default)]
    pub tool: String,
    #[serde(default)]
    pub cluster: Cluster,
    /// The `server-version` Setting as read (raw), if any.
    #[serde(default)]
    pub harvester_version: Option<String>,
    /// `-n`: the one namespace listed.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The rules whose kinds were listed.
    #[serde(default)]
    pub rules: Vec<String>,
    /// What was listed; a manifest may carry only `createdAt` (the demo's does).
    #[serde(default)]
    pub kinds: Vec<KindEntry>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub server: String,
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub kubernetes_version: Option<String>,
}

/// One kind the scanner reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindEntry {
    pub api_version: String,
    pub kind: String,
    /// The file in the dump holding its objects (a `List`).
    #[serde(default)]
    pub file: Option<String>,
    /// Objects written.
    pub objects: usize,
    /// Listed completely in its scope: every namespace (or cluster-scoped), or `namespaces`.
    pub complete: bool,
    /// The namespaces it was listed in, when not all (`-n`, or a kind's home namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Why it is not complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Gap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The namespace the gap is about, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_namespace: Option<String>,
    /// Objects the scanner could not read (skipped, as a live scan skips them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}
