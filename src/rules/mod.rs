//! Rules: one file each, pure functions of the inventory (no I/O). To add a rule, write its
//! file and add one line to [`REGISTRY`].

pub mod guest_clusters;
mod image_mutable_url;
mod image_name_collision;
mod import_openstack_leak;
pub mod migration_annotation_stale;
pub mod orphaned_guest_pvc;
mod vm_name_breaks_migration;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::config::{Config, IGNORE_ANNOTATION, IGNORE_REASON_ANNOTATION};
use crate::inventory::{Inventory, Kind, KindInfo};
use crate::meta::ObjectRef;

pub use image_mutable_url::ImageMutableUrl;
pub use image_name_collision::ImageNameCollision;
pub use import_openstack_leak::ImportOpenstackLeak;
pub use migration_annotation_stale::MigrationAnnotationStale;
pub use orphaned_guest_pvc::OrphanedGuestPvc;
pub use vm_name_breaks_migration::VmNameBreaksMigration;

/// Every rule, in the order `rules` lists them.
pub static REGISTRY: &[&dyn Rule] = &[
    &ImageNameCollision,
    &ImageMutableUrl,
    &VmNameBreaksMigration,
    &MigrationAnnotationStale,
    &OrphanedGuestPvc,
    &ImportOpenstackLeak,
];

pub fn find(id: &str) -> Option<&'static dyn Rule> {
    REGISTRY.iter().copied().find(|r| r.id() == id)
}

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
    /// What is wrong and why it matters.
    pub message: String,
    /// What to do about it.
    pub remediation: String,
    pub related: Vec<ObjectRef>,
    /// Machine-readable facts for tools (`annotation`, `persistentVolume`, `attribution`...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub details: std::collections::BTreeMap<String, String>,
    /// The object's exemption annotations, read when the finding was made.
    #[serde(skip)]
    pub exemption: Option<Exemption>,
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

/// What the rule found, and what it could not check.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// Why some objects were not checked (missing coverage, unknown version).
    pub notes: Vec<String>,
}

/// The rule's view of one scan.
pub struct Context<'a> {
    pub inv: &'a Inventory,
    pub config: &'a Config,
    /// The scan's clock (ages and grace periods are measured against it).
    pub now: jiff::Timestamp,
}

impl Context<'_> {
    pub fn rule_config(&self, id: &str) -> Option<&crate::config::RuleConfig> {
        self.config.rule(id)
    }
}

/// What `explain` prints about a rule.
pub struct Explanation {
    pub why: &'static str,
    pub affected: &'static str,
    pub upstream: &'static [&'static str],
    pub remediation: &'static str,
}

pub trait Rule: Sync {
    /// Stable id, used in reports, config and exemptions.
    fn id(&self) -> &'static str;
    fn default_severity(&self) -> Severity;
    /// One line for `rules`.
    fn summary(&self) -> &'static str;
    /// The kinds the rule reads. The scan lists exactly these (plus the version Setting).
    fn needs(&self) -> &'static [&'static KindInfo];
    fn check(&self, ctx: &Context<'_>) -> Outcome;
    /// Config options the rule takes besides `enabled` and `severity`.
    fn options(&self) -> &'static [&'static str] {
        &[]
    }
    fn explain(&self) -> Explanation;
}

/// Shorthand for a rule's `needs`.
pub const fn info<K: Kind>() -> &'static KindInfo {
    &K::INFO
}

impl Finding {
    /// A finding about `obj`, carrying its exemption annotations.
    pub fn about<K: Kind>(rule: &dyn Rule, severity: Severity, obj: &K, message: String, remediation: String) -> Self {
        let m = obj.meta();
        let exemption = m.annotation(IGNORE_ANNOTATION).map(|rules| Exemption {
            rules: rules.to_string(),
            reason: m
                .annotation(IGNORE_REASON_ANNOTATION)
                .map(str::to_string)
                .filter(|r| !r.trim().is_empty()),
        });
        Finding {
            rule: rule.id().to_string(),
            severity,
            confidence: Confidence::Proven,
            evidence: Vec::new(),
            reclaimable_bytes: None,
            object: obj.object_ref(),
            message,
            remediation,
            related: Vec::new(),
            details: Default::default(),
            exemption,
        }
    }
}

impl Finding {
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

/// `s` for plurals in messages.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
