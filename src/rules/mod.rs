//! Rules: one file each, pure functions of the inventory (no I/O). To add a rule, write its
//! file and add one line to [`REGISTRY`].

mod image_mutable_url;
mod image_name_collision;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::inventory::{Inventory, Kind, KindInfo};
use crate::meta::ObjectRef;

pub use image_mutable_url::ImageMutableUrl;
pub use image_name_collision::ImageNameCollision;

/// Every rule, in the order `rules` lists them.
pub static REGISTRY: &[&dyn Rule] = &[&ImageNameCollision, &ImageMutableUrl];

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
            other => Err(format!(
                "unknown severity {other:?} (expected error, warning or info)"
            )),
        }
    }
}

/// One problem with one object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub object: ObjectRef,
    /// What is wrong and why it matters.
    pub message: String,
    /// What to do about it.
    pub remediation: String,
    pub related: Vec<ObjectRef>,
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
}

/// Shorthand for a rule's `needs`.
pub const fn info<K: Kind>() -> &'static KindInfo {
    &K::INFO
}

impl Finding {
    pub fn new(
        rule: &dyn Rule,
        severity: Severity,
        object: ObjectRef,
        message: String,
        remediation: String,
    ) -> Self {
        Finding {
            rule: rule.id().to_string(),
            severity,
            object,
            message,
            remediation,
            related: Vec::new(),
        }
    }
}

/// `s` for plurals in messages.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
