//! Rules: one file each, pure functions of the inventory (no I/O). To add a rule, write its
//! file and add one line to the `registry!` list below.

pub mod guest_clusters;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::Config;
pub use crate::finding::{
    Confidence, Exemption, Finding, FixInput, IGNORE_ANNOTATION, IGNORE_REASON_ANNOTATION, OpenstackResource, Severity,
};
use crate::inventory::{Inventory, Kind, KindInfo};

/// `module::Rule` per line: declares the module (its file), re-exports the rule and lists it
/// in [`REGISTRY`], in this order (the order `rules` lists them).
macro_rules! registry {
    ($($module:ident :: $rule:ident),+ $(,)?) => {
        $(pub mod $module; pub use $module::$rule;)+
        /// Every rule, in the order `rules` lists them.
        pub static REGISTRY: &[&dyn Rule] = &[$(&$rule),+];
    };
}

registry! {
    image_name_collision::ImageNameCollision,
    image_mutable_url::ImageMutableUrl,
    image_stuck::ImageStuck,
    vm_name_breaks_migration::VmNameBreaksMigration,
    migration_annotation_stale::MigrationAnnotationStale,
    migration_stuck::MigrationStuck,
    orphaned_guest_pvc::OrphanedGuestPvc,
    import_openstack_leak::ImportOpenstackLeak,
    storageclass_missing::StorageClassMissing,
    backup_failed::BackupFailed,
    longhorn_orphaned_data::LonghornOrphanedData,
    guest_cluster_leftovers::GuestClusterLeftovers,
    vm_disk_orphaned::VmDiskOrphaned,
    upgrade_readiness::UpgradeReadiness,
}

pub fn find(id: &str) -> Option<&'static dyn Rule> {
    REGISTRY.iter().copied().find(|r| r.id() == id)
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
    /// `--target-version`: the version an upgrade is planned to (`None` on a plain scan).
    pub target: Option<&'a crate::version::Version>,
}

impl Context<'_> {
    /// The rule's typed options from the policy file (defaults where unset). The policy was
    /// validated against the same type when it was loaded ([`validate_config`]).
    pub fn options<T: DeserializeOwned + Default>(&self, id: &str) -> T {
        options(self.config, id)
    }
}

/// Rule `id`'s typed options from `config` (defaults where unset or invalid).
pub fn options<T: DeserializeOwned + Default>(config: &Config, id: &str) -> T {
    config
        .rule(id)
        .and_then(|c| serde_json::from_value(serde_json::Value::Object(c.options.clone())).ok())
        .unwrap_or_default()
}

/// Check `raw` against options type `T`, one key at a time so the error names the key:
/// `gracePeriod: "1x" is not a duration…`, `sevrity: no such option (…)`.
pub fn check_options<T: DeserializeOwned>(raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
    for (k, v) in raw {
        let one = serde_json::Map::from_iter([(k.clone(), v.clone())]);
        if let Err(e) = serde_json::from_value::<T>(serde_json::Value::Object(one)) {
            let e = e.to_string();
            return Err(if e.starts_with("unknown field") {
                format!("{k}: no such option ({e})")
            } else {
                format!("{k}: {e}")
            });
        }
    }
    Ok(())
}

/// A rule without options of its own.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoOptions {}

/// Check a policy against the rules: unknown rule ids and options a rule does not take (or
/// that do not parse) are errors naming `rules.<id>.<option>`.
pub fn validate_config(config: &Config) -> Result<(), String> {
    for (id, rc) in &config.rules {
        let rule = find(id).ok_or_else(|| {
            format!(
                "rules.{id}: unknown rule (known: {})",
                REGISTRY.iter().map(|r| r.id()).collect::<Vec<_>>().join(", ")
            )
        })?;
        rule.check_options(&rc.options).map_err(|e| format!("rules.{id}.{e}"))?;
    }
    Ok(())
}

/// Parse and validate a policy document (what `--config` does).
pub fn parse_config(text: &str) -> Result<Config, String> {
    let c = Config::parse(text)?;
    validate_config(&c)?;
    Ok(c)
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
    /// Runs only when the scan has a target version (`--target-version`); disabled otherwise.
    fn needs_target(&self) -> bool {
        false
    }
    /// Check the rule's options from the policy file (besides `enabled` and `severity`):
    /// `check_options::<TheRulesOptions>(raw)`. The default takes none.
    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        check_options::<NoOptions>(raw)
    }
    /// The option names the rule takes, read from its options type (for `explain`).
    fn option_names(&self) -> Vec<String> {
        const PROBE: &str = "\u{1}probe";
        let probe = serde_json::Map::from_iter([(PROBE.to_string(), serde_json::Value::Null)]);
        match self.check_options(&probe) {
            Err(e) => e
                .split_once("expected ")
                .map(|(_, names)| names.split('`').skip(1).step_by(2).map(str::to_string).collect())
                .unwrap_or_default(),
            Ok(()) => Vec::new(),
        }
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
            title: String::new(),
            message,
            remediation,
            related: Vec::new(),
            origin: None,
            details: Default::default(),
            fix_input: None,
            exemption,
        }
    }
}

/// A duration as messages say it: `3d`, `5h`, `12m`.
pub(crate) fn human(d: jiff::SignedDuration) -> String {
    let s = d.as_secs().max(0);
    match s {
        s if s >= 2 * 86400 => format!("{}d", s / 86400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s => format!("{}m", s / 60),
    }
}

/// `s` for plurals in messages.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_errors_name_the_rule_and_the_option() {
        let err = |t: &str| parse_config(t).err().unwrap_or_default();
        assert!(err("rules:\n  nope: {}\n").contains("rules.nope: unknown rule"));
        let e = err("rules:\n  image-mutable-url:\n    gracePeriod: 1h\n");
        assert!(
            e.starts_with("rules.image-mutable-url.gracePeriod: no such option"),
            "{e}"
        );
        let e = err("rules:\n  image-mutable-url:\n    sevrity: error\n");
        assert!(e.starts_with("rules.image-mutable-url.sevrity"), "{e}");
        let e = err("rules:\n  orphaned-guest-pvc:\n    gracePeriod: 1x\n");
        assert!(
            e.starts_with("rules.orphaned-guest-pvc.gracePeriod") && e.contains("not a duration"),
            "{e}"
        );
        let e = err("rules:\n  image-name-collision:\n    extraPatterns: [x]\n");
        assert!(
            e.starts_with("rules.image-name-collision.extraPatterns: no such option"),
            "{e}"
        );
        assert!(parse_config("rules:\n  orphaned-guest-pvc:\n    gracePeriod: 2d\n    guestNamespaces: [a]\n").is_ok());
    }

    #[test]
    fn option_names_come_from_the_options_types() {
        let names = |id: &str| find(id).map(|r| r.option_names()).unwrap_or_default();
        assert_eq!(names("orphaned-guest-pvc"), ["gracePeriod", "guestNamespaces"]);
        assert_eq!(names("import-openstack-leak"), ["stuckAfter", "withoutImport"]);
        assert_eq!(names("migration-annotation-stale"), ["gracePeriod"]);
        assert_eq!(names("image-mutable-url"), ["extraPatterns"]);
        assert!(names("image-name-collision").is_empty());
        // Typed: the policy's values reach the rule.
        let c = parse_config("rules:\n  orphaned-guest-pvc:\n    gracePeriod: 2d\n").unwrap_or_default();
        let o: orphaned_guest_pvc::Options = options(&c, orphaned_guest_pvc::ID);
        assert_eq!(o.grace_period.map(|d| d.0.as_secs()), Some(172_800));
    }
}
