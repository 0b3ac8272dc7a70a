//! What a rule reports: a [`Finding`] with its [`Severity`], [`Confidence`] and evidence, the
//! exemption annotations read with it, and its stable identity across runs ([`fingerprint`]).
//! A leaf of the module graph: it depends only on [`crate::meta`], so config, rules, report,
//! remedy and publish can all use it without depending on each other.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::meta::ObjectRef;

/// Per-object exemption: `harvester-hygiene.io/ignore: "rule-a,rule-b"` (or `"*"`) with a
/// required `harvester-hygiene.io/ignore-reason`.
pub const IGNORE_ANNOTATION: crate::meta::Key = crate::meta::Key::new("harvester-hygiene.io/ignore");
pub const IGNORE_REASON_ANNOTATION: crate::meta::Key = crate::meta::Key::new("harvester-hygiene.io/ignore-reason");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!("unknown severity {other:?} (expected error, warning or info)")),
        }
    }
}

/// How sure a finding is, from the evidence it carries.
///
/// `proven`: the objects themselves show it. `likely`: inferred from strong circumstantial
/// evidence (names, history). `possible`: something that would settle it could not be seen
/// (unknown coverage, credentials of a cluster we cannot identify). `fix` acts only where a
/// rule's fix says the confidence is enough; never on `possible`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Possible,
    Likely,
    #[default]
    Proven,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Possible => "possible",
            Confidence::Likely => "likely",
            Confidence::Proven => "proven",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    /// How sure the finding is (see [`Confidence`]).
    #[serde(default)]
    pub confidence: Confidence,
    /// Short machine-readable facts the finding rests on (`detached-since:<time>`,
    /// `unreferenced`, `last-vm-gone:<name>`...), in the order they were established.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Bytes that fixing the finding would free (a volume's size times its replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaimable_bytes: Option<u64>,
    pub object: ObjectRef,
    /// One line, at most [`TITLE_MAX`] characters: what is wrong, for tables and CI annotations
    /// (the `message` tells the whole story). Added in report v1 (additive): older reports have
    /// none, and [`Finding::headline`] then falls back to the message's first sentence.
    #[serde(default)]
    pub title: String,
    /// What is wrong and why it matters.
    pub message: String,
    /// What to do about it.
    pub remediation: String,
    pub related: Vec<ObjectRef>,
    /// Files input: where the object was read (SARIF's physical location, `describe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::meta::Origin>,
    /// Machine-readable facts for tools (`annotation`, `persistentVolume`, `attribution`...).
    /// For people and other tools only: fixes read [`Finding::fix_input`].
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub details: std::collections::BTreeMap<String, String>,
    /// What this rule's fix needs, typed: the one contract between a rule and its remedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_input: Option<FixInput>,
    /// The object's exemption annotations, read when the finding was made.
    #[serde(skip)]
    pub exemption: Option<Exemption>,
}

/// What a fix reads from a finding, written by the rule that made it. Typed, so the rule and
/// its remedy cannot drift apart on a string key. Serialized in the report as `fixInput` for
/// tools; `fix` itself always plans from a fresh scan's findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum FixInput {
    /// `migration-annotation-stale`: the stale `harvesterhci.io/migrating-*` key on the quota.
    QuotaAnnotation { annotation: String },
    /// `orphaned-guest-pvc`: the VolumeSnapshots (same namespace) the PVC's data is also in.
    OrphanPvc { owned_snapshots: Vec<String> },
    /// `import-openstack-leak`: the OpenstackSource (`namespace/name`) whose project holds the
    /// leftovers, and the leftovers.
    OpenstackLeftovers {
        source: String,
        resources: Vec<OpenstackResource>,
    },
}

/// The kind of an OpenStack resource a failed import can leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OpenstackKind {
    /// A Glance image (deleted first: it depends on nothing).
    Image,
    /// A Cinder volume created from an import snapshot (deleted second).
    Volume,
    /// A Cinder snapshot (deleted last: its volume depends on it).
    Snapshot,
}

/// One OpenStack resource a fix may delete: kind, id and name (empty for the volumes the
/// vm-import-controller creates).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenstackResource {
    pub kind: OpenstackKind,
    pub id: String,
    pub name: String,
}

/// `harvester-hygiene.io/ignore` and its reason, as found on the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    pub rules: String,
    pub reason: Option<String>,
}

impl Exemption {
    pub fn covers(&self, rule: &str) -> bool {
        self.rules
            .split(',')
            .map(str::trim)
            .any(|r| r == rule || r == "*" || r == "all")
    }
}

/// Longest title, in characters.
pub const TITLE_MAX: usize = 80;

/// `text` cut to `max` characters at a word boundary where one is near, ending in `…`.
pub fn shorten_end(text: &str, max: usize) -> String {
    let text = text.trim_end();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep: String = text.chars().take(max.saturating_sub(1)).collect();
    // Prefer a word boundary in the last fifth of the cut.
    let min_keep = keep.len().saturating_sub(keep.len() / 5);
    let cut = match keep.rfind(' ') {
        Some(i) if i >= min_keep => keep[..i].trim_end_matches([',', ';', ':', ' ']).to_string(),
        _ => keep,
    };
    format!("{cut}…")
}

impl Finding {
    /// Set the one-line title (builder style); longer than [`TITLE_MAX`] characters is cut.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        let title: String = title.into();
        let folded = title.split_whitespace().collect::<Vec<_>>().join(" ");
        self.title = shorten_end(&folded, TITLE_MAX);
        self
    }
    /// The title, or for findings without one (reports from before titles) the message's
    /// first sentence, at most [`TITLE_MAX`] characters.
    pub fn headline(&self) -> String {
        if !self.title.trim().is_empty() {
            return self.title.clone();
        }
        let folded = self.message.split_whitespace().collect::<Vec<_>>().join(" ");
        let first = match folded.find(". ") {
            Some(i) => &folded[..i],
            None => folded.trim_end_matches('.'),
        };
        shorten_end(first, TITLE_MAX)
    }
    /// Set the confidence (builder style).
    pub fn with_confidence(mut self, confidence: Confidence) -> Self {
        self.confidence = confidence;
        self
    }
    /// Add one evidence fact (`key` or `key:value`).
    pub fn evidence(mut self, fact: impl Into<String>) -> Self {
        self.evidence.push(fact.into());
        self
    }
}

/// A stable id of a finding across runs: rule + object identity (not the message).
pub fn fingerprint(f: &Finding) -> String {
    let key = format!(
        "{}|{}|{}|{}|{}",
        f.rule,
        f.object.api_version,
        f.object.kind,
        f.object.namespace.as_deref().unwrap_or(""),
        f.object.name
    );
    // FNV-1a 64: short, stable across builds and platforms.
    let h = key.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!("{h:016x}")
}
