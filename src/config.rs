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
use crate::finding::Severity;

pub use crate::finding::{IGNORE_ANNOTATION, IGNORE_REASON_ANNOTATION};

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

/// `rules.<id>`: `enabled`, `severity`, and the rule's own options, which the rule checks with
/// its typed options struct (`crate::rules::options`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleConfig {
    pub enabled: Option<bool>,
    /// Replaces the rule's default severity (findings the rule escalates or lowers keep theirs).
    pub severity: Option<Severity>,
    /// Everything else under `rules.<id>`, for the rule to decode.
    #[serde(flatten)]
    pub options: serde_json::Map<String, serde_json::Value>,
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

/// Parse `24h`, `90m`, `30s`, `2d` (the one duration syntax of flags and the policy file).
/// `None` for anything else, and for durations too long to hold.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86400),
        _ => None,
    }?;
    // jiff's SignedDuration (ages, grace periods) holds at most i64 seconds.
    i64::try_from(secs).ok()?;
    Some(Duration::from_secs(secs))
}

/// A duration flag (`--request-timeout 30s`, `--remediation-grace 24h`): the policy syntax, plus
/// `ms` and a bare number of seconds as kubectl takes them; the error says what is expected.
pub fn parse_duration_flag(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let bad = || format!("{s:?} is not a duration like 30s, 2m, 1h or 7d");
    if let Some(ms) = t.strip_suffix("ms") {
        return ms.parse::<u64>().map(Duration::from_millis).map_err(|_| bad());
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().map(Duration::from_secs).map_err(|_| bad());
    }
    parse_duration(t).ok_or_else(bad)
}

/// A duration option in the policy file (`gracePeriod: 24h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationOption(pub Duration);

impl DurationOption {
    /// The option, else `default`, as a signed duration for timestamp arithmetic (a value too
    /// long for it falls back to `default`).
    pub fn or_default(opt: Option<DurationOption>, default: Duration) -> jiff::SignedDuration {
        let d = |x: Duration| jiff::SignedDuration::try_from(x).ok();
        opt.and_then(|o| d(o.0))
            .or_else(|| d(default))
            .unwrap_or(jiff::SignedDuration::MAX)
    }
}

impl<'de> Deserialize<'de> for DurationOption {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(DurationOption)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a duration like 24h, 90m or 2d")))
    }
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

    /// Parse the document: unknown top-level keys are errors naming the key. Rule ids and rule
    /// options are checked against the rules by `crate::rules::validate_config` (which
    /// `crate::scan::load_config` runs), so this module does not depend on the rules.
    pub fn parse(text: &str) -> std::result::Result<Config, String> {
        let cfg: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?
        };
        if let Some(k) = cfg.kind.as_deref().filter(|k| *k != "Config") {
            return Err(format!("kind: expected Config, got {k}"));
        }
        Ok(cfg)
    }

    pub fn rule(&self, id: &str) -> Option<&RuleConfig> {
        self.rules.get(id)
    }

    pub fn enabled(&self, id: &str) -> bool {
        self.rule(id).and_then(|r| r.enabled).unwrap_or(true)
    }

    /// Is a namespace reported under the include/exclude filter? Entries are names or globs
    /// (`*` any run of characters, `?` one character: `kube-*`, `cattle-*-system`).
    pub fn reports_namespace(&self, ns: Option<&str>) -> bool {
        match ns {
            None => true,
            Some(ns) => {
                let hit = |set: &BTreeSet<String>| set.iter().any(|p| glob_match(p, ns));
                !hit(&self.namespaces.exclude) && (self.namespaces.include.is_empty() || hit(&self.namespaces.include))
            }
        }
    }
}

/// Shell-style glob: `*` matches any run of characters (also none), `?` exactly one; anything
/// else matches itself. Iterative with one backtrack point, so it is linear in practice.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_globs() {
        assert!(glob_match("kube-*", "kube-system"));
        assert!(glob_match("*", ""));
        assert!(glob_match("cattle-*-system", "cattle-fleet-system"));
        assert!(!glob_match("cattle-*-system", "cattle-fleet"));
        assert!(glob_match("team-?", "team-a"));
        assert!(!glob_match("team-?", "team-ab"));
        assert!(glob_match("scratch", "scratch"));
        assert!(!glob_match("scratch", "scratch2"));
        let mut c = Config::default();
        c.namespaces.exclude.insert("team-*".into());
        assert!(!c.reports_namespace(Some("team-a")));
        assert!(c.reports_namespace(Some("sandbox")));
        assert!(c.reports_namespace(None));
    }

    #[test]
    fn parses_and_rejects() {
        let c =
            Config::parse("rules:\n  image-mutable-url:\n    severity: error\n    extraPatterns: [nightly]\n").unwrap();
        assert_eq!(c.rule("image-mutable-url").unwrap().severity, Some(Severity::Error));
        let e = Config::parse("rulez: {}\n").unwrap_err();
        assert!(e.contains("rulez"), "{e}");
        assert!(Config::parse("").is_ok());
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172800)));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None, "too big for u64");
        assert_eq!(parse_duration("999999999999999999d"), None, "overflows seconds");
        assert_eq!(parse_duration_flag("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration_flag("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration_flag("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_duration_flag("7 days").is_err());
        assert!(parse_duration_flag("99999999999999999999d").is_err(), "no overflow");
    }
}
