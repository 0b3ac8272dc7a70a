//! The policy file (`--config`; the in-cluster job mounts the same format):
//!
//! ```yaml
//! apiVersion: harvester-hygiene/v1
//! kind: Config
//! rules:
//!   image-mutable-url: {severity: error, extraPatterns: [nightly]}
//!   orphaned-guest-pvc: {gracePeriod: 48h, guestNamespaces: [rke2-guests]}
//!   vm-name-breaks-migration: {enabled: false}
//! namespaces: {exclude: [scratch]}
//! exemptions: {annotations: true}
//! ```
//!
//! Unknown keys are errors that name the key (exit 2), as are options a rule does not take.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::rules::{self, Severity};

/// Per-object exemption: `harvester-hygiene.io/ignore: "rule-a,rule-b"` (or `"*"`) with a
/// required `harvester-hygiene.io/ignore-reason`.
pub const IGNORE_ANNOTATION: &str = "harvester-hygiene.io/ignore";
pub const IGNORE_REASON_ANNOTATION: &str = "harvester-hygiene.io/ignore-reason";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub rules: BTreeMap<String, RuleConfig>,
    #[serde(default)]
    pub namespaces: NamespaceFilter,
    #[serde(default)]
    pub exemptions: Exemptions,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleConfig {
    pub enabled: Option<bool>,
    /// Replaces the rule's default severity (findings the rule escalates or lowers keep theirs).
    pub severity: Option<Severity>,
    /// `orphaned-guest-pvc`: how long a volume must be unused (default 24h).
    pub grace_period: Option<String>,
    /// `import-openstack-leak`: how long an export may run before it counts as stuck (default 6h).
    pub stuck_after: Option<String>,
    /// `import-openstack-leak` with `--openstack`: also count OpenStack leftovers whose import
    /// no longer exists in this cluster (another cluster may share the project).
    pub without_import: Option<bool>,
    /// `image-mutable-url`: more path segments that mark a moving target.
    #[serde(default)]
    pub extra_patterns: Vec<String>,
    /// `orphaned-guest-pvc`: namespaces where guest-cluster VMs live besides the PVC's own.
    #[serde(default)]
    pub guest_namespaces: Vec<String>,
}

impl RuleConfig {
    /// The option keys that are set (for checking them against what the rule takes).
    fn set_options(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.grace_period.is_some() {
            v.push("gracePeriod");
        }
        if self.stuck_after.is_some() {
            v.push("stuckAfter");
        }
        if self.without_import.is_some() {
            v.push("withoutImport");
        }
        if !self.extra_patterns.is_empty() {
            v.push("extraPatterns");
        }
        if !self.guest_namespaces.is_empty() {
            v.push("guestNamespaces");
        }
        v
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceFilter {
    /// Report only these namespaces (empty: all).
    #[serde(default)]
    pub include: BTreeSet<String>,
    /// Never report these namespaces.
    #[serde(default)]
    pub exclude: BTreeSet<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exemptions {
    /// Honour the `harvester-hygiene.io/ignore` annotation (default true).
    #[serde(default = "yes")]
    pub annotations: bool,
}

impl Default for Exemptions {
    fn default() -> Self {
        Exemptions { annotations: true }
    }
}

fn yes() -> bool {
    true
}

/// Parse `24h`, `90m`, `30s`, `2d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        Config::parse(&text).map_err(|reason| Error::Usage {
            what: format!("--config {}", path.display()),
            reason,
        })
    }

    /// Parse and validate: unknown keys, unknown rules, options a rule does not take, bad
    /// durations are errors naming what is wrong.
    pub fn parse(text: &str) -> std::result::Result<Config, String> {
        let cfg: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?
        };
        if let Some(k) = cfg.kind.as_deref().filter(|k| *k != "Config") {
            return Err(format!("kind: expected Config, got {k}"));
        }
        for (id, rc) in &cfg.rules {
            let rule = rules::find(id).ok_or_else(|| {
                format!(
                    "rules.{id}: unknown rule (known: {})",
                    rules::REGISTRY.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
                )
            })?;
            for opt in rc.set_options() {
                if !rule.options().contains(&opt) {
                    return Err(format!("rules.{id}.{opt}: {id} takes no such option"));
                }
            }
            for (key, val) in [("gracePeriod", &rc.grace_period), ("stuckAfter", &rc.stuck_after)] {
                if let Some(v) = val
                    && parse_duration(v).is_none()
                {
                    return Err(format!("rules.{id}.{key}: {v:?} is not a duration like 24h, 90m or 2d"));
                }
            }
        }
        Ok(cfg)
    }

    pub fn rule(&self, id: &str) -> Option<&RuleConfig> {
        self.rules.get(id)
    }

    pub fn enabled(&self, id: &str) -> bool {
        self.rule(id).and_then(|r| r.enabled).unwrap_or(true)
    }

    /// A rule's duration option, or its default.
    pub fn duration(&self, id: &str, pick: fn(&RuleConfig) -> Option<&String>, default: Duration) -> Duration {
        self.rule(id)
            .and_then(pick)
            .and_then(|s| parse_duration(s))
            .unwrap_or(default)
    }

    /// Is a namespace reported under the include/exclude filter?
    pub fn reports_namespace(&self, ns: Option<&str>) -> bool {
        match ns {
            None => true,
            Some(ns) => {
                !self.namespaces.exclude.contains(ns)
                    && (self.namespaces.include.is_empty() || self.namespaces.include.contains(ns))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let c =
            Config::parse("rules:\n  image-mutable-url:\n    severity: error\n    extraPatterns: [nightly]\n").unwrap();
        assert_eq!(c.rule("image-mutable-url").unwrap().severity, Some(Severity::Error));
        let e = Config::parse("rulez: {}\n").unwrap_err();
        assert!(e.contains("rulez"), "{e}");
        let e = Config::parse("rules:\n  image-mutable-url:\n    sevrity: error\n").unwrap_err();
        assert!(e.contains("sevrity"), "{e}");
        let e = Config::parse("rules:\n  nope: {}\n").unwrap_err();
        assert!(e.contains("rules.nope"), "{e}");
        let e = Config::parse("rules:\n  image-mutable-url:\n    gracePeriod: 1h\n").unwrap_err();
        assert!(e.contains("rules.image-mutable-url.gracePeriod"), "{e}");
        assert!(Config::parse("").is_ok());
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172800)));
        assert_eq!(parse_duration("h"), None);
    }
}
