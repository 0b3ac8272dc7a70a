//! `migration-annotation-stale`: ResourceQuota annotations `harvesterhci.io/migrating-<vm>`
//! or `harvesterhci.io/migratingUID-<vmi uid>` whose migration is over.
//!
//! Upstream (harvester/harvester): `pkg/controller/master/migration/vmim_controller.go` writes
//! the entry (value: the JSON ResourceList of the VM's limits, memory with KubeVirt's overhead)
//! on the namespace's Rancher default quota when a migration starts and removes it when the
//! VirtualMachineInstanceMigration turns final; a VMI gone mid-migration leaves it for ever.
//! On v1.4.1 and earlier the same controller added the limits to `spec.hard`, which Rancher's
//! `resource_quota_sync.go` resets to the namespace's `field.cattle.io/resourceQuota` base on
//! resync (harvester/harvester#7178). From v1.4.2-rc2 (PR #7504)
//! `pkg/controller/master/resourcequota/resourcequota_controller.go` sets `spec.hard = base +
//! Σ entries`, unless the namespace has no base annotation or the quota carries
//! `harvesterhci.io/skipResourceQuotaAutoScaling: "true"`. While any entry exists, the namespace
//! webhook (`pkg/webhook/resources/namespace/validator.go`) refuses every change of the
//! namespace's quota ("namespace %s has migrating VMs, can't change resource quotas").

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Confidence, Context, Explanation, Finding, FixInput, Outcome, Rule, Severity, info};
use crate::inventory::kinds::namespace::BaseError;
use crate::inventory::kinds::{Namespace, ResourceQuota, VirtualMachineInstance, VirtualMachineInstanceMigration};
use crate::inventory::{Inventory, KindInfo};
use crate::quantity::{format_milli, parse_milli};
use crate::version::{Boundary, Version};

pub struct MigrationAnnotationStale;

pub const ID: &str = "migration-annotation-stale";
/// The `details` key naming the stale annotation (for people; the fix reads
/// [`FixInput::QuotaAnnotation`]).
const DETAIL_ANNOTATION: &str = "annotation";
pub const NAME_PREFIX: crate::meta::Key = crate::meta::Key::new("harvesterhci.io/migrating-");
pub const UID_PREFIX: crate::meta::Key = crate::meta::Key::new("harvesterhci.io/migratingUID-");
pub const SKIP_AUTO_SCALING: crate::meta::Key = crate::meta::Key::new("harvesterhci.io/skipResourceQuotaAutoScaling");
/// Versions before this raise spec.hard by the migrating amount; from v1.4.2-rc2 (not rc1) the
/// quota controller recomputes it (harvester/harvester#7504, `pkg/controller/master/resourcequota`).
pub const HARD_RECOMPUTED: Boundary = Boundary::new(Version::rc(1, 4, 2, 2)).dev_from(1, 6);

/// Did this cluster's version raise `spec.hard` by the entries? `None`: version unknown, or a
/// development build of a minor that cannot tell.
pub fn hard_scaled(inv: &Inventory) -> Option<bool> {
    inv.harvester_version.as_ref().and_then(|v| v.before(&HARD_RECOMPUTED))
}
/// A migration final for less than this is not stale yet: the controller removes the entry
/// right after the VMIM turns final.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5 * 60);
/// `rules.migration-annotation-stale` in the policy file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Options {
    /// How long after its migration turned final an entry may stay (default 5m).
    pub grace_period: Option<crate::config::DurationOption>,
}

/// The resources Harvester scales (`limits.cpu`, `limits.memory`).
const SCALED: &[&str] = &["limits.cpu", "limits.memory"];

/// One resource of the quota arithmetic, in milli-units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub resource: String,
    pub hard: Option<i128>,
    pub base: i128,
    /// Σ of every migration entry on the quota.
    pub all: i128,
    /// This entry's amount.
    pub this: i128,
}

impl Line {
    pub fn with_all(&self) -> Option<i128> {
        self.base.checked_add(self.all)
    }
    pub fn with_remaining(&self) -> Option<i128> {
        self.with_all()?.checked_sub(self.this)
    }
    pub fn fmt(&self, v: Option<i128>) -> String {
        v.map_or("?".into(), |v| {
            format_milli(v, if self.resource.ends_with("memory") { "Gi" } else { "" })
        })
    }
}

/// Where `spec.hard` stands against the Rancher base and the migration entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hard {
    /// `spec.hard == base + all entries`: still raised by this entry.
    Inflated(Vec<Line>),
    /// `spec.hard == base + the other entries` (Rancher reset it, or nothing was added).
    Settled(Vec<Line>),
    /// Neither: someone changed it; only a person can tell the right value.
    Neither(Vec<Line>),
    /// The base is not known (no Namespace, no annotation, malformed).
    BaseUnknown(String),
    /// An entry's value is not a ResourceList.
    Malformed(String),
}

/// The quota arithmetic for removing `key` from `quota` (harvester/harvester
/// `pkg/util/resourcequota/calculator.go`: base + Σ entries, limits.cpu and limits.memory).
pub fn hard_state(inv: &Inventory, quota: &ResourceQuota, key: &str) -> Hard {
    let ns = quota.metadata.namespace.as_deref().unwrap_or("");
    let mut all: BTreeMap<&str, i128> = BTreeMap::new();
    let mut this: BTreeMap<&str, i128> = BTreeMap::new();
    for (k, v) in &quota.metadata.annotations {
        if entry(k).is_none() {
            continue;
        }
        let Ok(list) = serde_json::from_str::<BTreeMap<String, String>>(v) else {
            return Hard::Malformed(format!("annotation {k} is not a JSON ResourceList: {v:?}"));
        };
        for r in SCALED {
            let Some(q) = list.get(*r) else { continue };
            let Some(m) = parse_milli(q) else {
                return Hard::Malformed(format!("annotation {k}: {r}={q:?} is not a quantity"));
            };
            let Some(sum) = all.get(r).copied().unwrap_or(0).checked_add(m) else {
                return Hard::Malformed(format!("annotation {k}: {r} overflows"));
            };
            all.insert(r, sum);
            if k == key {
                this.insert(r, m);
            }
        }
    }
    let base = match inv.objects::<Namespace>().iter().find(|n| n.metadata.name == ns) {
        None if !inv.covers::<Namespace>(None) && !inv.covers::<Namespace>(Some(ns)) => {
            return Hard::BaseUnknown(format!("the Namespace {ns} was not read"));
        }
        None => return Hard::BaseUnknown(format!("the Namespace {ns} does not exist")),
        Some(n) => match n.rancher_base() {
            Ok(b) => b,
            Err(BaseError::Missing) => {
                return Hard::BaseUnknown(format!("Namespace {ns} has no field.cattle.io/resourceQuota base"));
            }
            Err(BaseError::Malformed(e)) => {
                return Hard::BaseUnknown(format!(
                    "Namespace {ns}'s field.cattle.io/resourceQuota is malformed: {e}"
                ));
            }
        },
    };
    let mut lines = Vec::new();
    for (r, amount) in &this {
        let Some(b) = base.get(*r) else {
            return Hard::BaseUnknown(format!("Namespace {ns}'s base has no {r}"));
        };
        let Some(b) = parse_milli(b) else {
            return Hard::BaseUnknown(format!("Namespace {ns}'s base {r}={b:?} is not a quantity"));
        };
        lines.push(Line {
            resource: r.to_string(),
            hard: quota.spec.hard.get(*r).and_then(|h| parse_milli(h)),
            base: b,
            all: all.get(r).copied().unwrap_or(0),
            this: *amount,
        });
    }
    if lines.iter().all(|l| l.hard.is_some() && l.hard == l.with_all()) && lines.iter().any(|l| l.this != 0) {
        Hard::Inflated(lines)
    } else if lines.iter().all(|l| l.hard.is_some() && l.hard == l.with_remaining()) {
        Hard::Settled(lines)
    } else {
        Hard::Neither(lines)
    }
}

/// `limits.cpu: spec.hard 6, base + all entries 6, base + remaining 4`.
pub fn describe_lines(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| {
            format!(
                "{}: spec.hard {}, base {}, base + all entries {}, base + remaining {}",
                l.resource,
                l.fmt(l.hard),
                l.fmt(Some(l.base)),
                l.fmt(l.with_all()),
                l.fmt(l.with_remaining())
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A stale entry: the annotation key, the VM (or VMI uid) it names, and its value.
pub enum Entry<'a> {
    ByName(&'a str),
    ByUid(&'a str),
}

/// Classify an annotation key (never `migratingCompensation` or `migratingScalingResyncNeeded`).
pub fn entry(key: &str) -> Option<Entry<'_>> {
    if let Some(uid) = key.strip_prefix(UID_PREFIX.as_str()) {
        return Some(Entry::ByUid(uid)).filter(|_| !uid.is_empty());
    }
    key.strip_prefix(NAME_PREFIX.as_str())
        .filter(|n| !n.is_empty())
        .map(Entry::ByName)
}

impl Rule for MigrationAnnotationStale {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn summary(&self) -> &'static str {
        "ResourceQuota migration annotations left after their migration ended keep the quota inflated"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        const NEEDS: &[&KindInfo] = &[
            info::<ResourceQuota>(),
            info::<VirtualMachineInstanceMigration>(),
            info::<VirtualMachineInstance>(),
            info::<Namespace>(),
        ];
        NEEDS
    }
    fn check_options(&self, raw: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
        super::check_options::<Options>(raw)
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "During a live migration Harvester records the migrating VM's limits (memory with KubeVirt's overhead) \
                  on the namespace's Rancher default ResourceQuota, in an annotation harvesterhci.io/migrating-<vm \
                  name> (v1.2.0-v1.4.1) or harvesterhci.io/migratingUID-<vmi uid> (v1.4.2-rc2+), and removes it when \
                  the VirtualMachineInstanceMigration turns final (harvester/harvester \
                  pkg/controller/master/migration/vmim_controller.go). A VMI deleted mid-migration, a crash or a \
                  deleted migration leaves the entry for ever. While it exists, Harvester's namespace webhook refuses \
                  every change of the namespace's quota (pkg/webhook/resources/namespace/validator.go: \"has migrating \
                  VMs, can't change resource quotas\"). On v1.4.1 and earlier the controller also raised spec.hard by \
                  the entry, which Rancher resets to the namespace's field.cattle.io/resourceQuota base on a resync \
                  (rancher/rancher pkg/controllers/managementuser/resourcequota/resource_quota_sync.go, \
                  harvester/harvester#7178): the rule compares spec.hard with that base to say whether it is still \
                  inflated. From v1.4.2-rc2 the quota controller sets spec.hard = base + all entries \
                  (pkg/controller/master/resourcequota/resourcequota_controller.go, PR #7504), unless the namespace \
                  has no base or the quota has harvesterhci.io/skipResourceQuotaAutoScaling. An entry whose migration \
                  became final less than gracePeriod (default 5m) ago is not stale yet. The rule reads the \
                  migrations after the quotas, so a migration that starts during the scan is not called stale.",
            affected: "Harvester v1.2.0 and later (the annotation exists since v1.2.0)",
            upstream: &[
                "harvester/harvester#7178",
                "harvester/harvester#7504",
                "harvester/harvester#3829",
                "harvester/harvester pkg/controller/master/migration/vmim_controller.go",
                "harvester/harvester pkg/controller/master/resourcequota/resourcequota_controller.go (v1.4.2+)",
                "harvester/harvester pkg/webhook/resources/namespace/validator.go",
                "rancher/rancher pkg/controllers/managementuser/resourcequota/resource_quota_sync.go",
            ],
            remediation: "Check that no migration of the VM is running (kubectl get vmim -n <ns>), then remove the \
                          annotation; on v1.4.1 and earlier, if spec.hard is still base + all entries, set it to base + \
                          the remaining entries in the same update (never below the namespace's \
                          field.cattle.io/resourceQuota base). `kubectl harvester-hygiene fix` does this with \
                          preconditions, and refuses (fix by hand) when spec.hard matches neither.",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        let grace = crate::config::DurationOption::or_default(ctx.options::<Options>(ID).grace_period, DEFAULT_GRACE);
        let migrations = Migrations::build(inv);
        for quota in inv.objects::<ResourceQuota>() {
            let Some(ns) = quota.metadata.namespace.as_deref() else {
                continue;
            };
            if !inv.in_scope(Some(ns)) {
                continue;
            }
            for (key, value) in &quota.metadata.annotations {
                let Some(e) = entry(key) else { continue };
                let mut missing = Vec::new();
                if !inv.covers::<VirtualMachineInstanceMigration>(Some(ns)) {
                    missing.push("VirtualMachineInstanceMigration");
                }
                let (vm, who) = match e {
                    Entry::ByName(name) => (Some(name), format!("VM {name}")),
                    Entry::ByUid(uid) => match migrations.vmi_by_uid.get(&(ns, uid)) {
                        Some(name) => (Some(*name), format!("VMI {name} (uid {uid})")),
                        None if !inv.covers::<VirtualMachineInstance>(Some(ns)) => {
                            missing.push("VirtualMachineInstance");
                            (None, format!("VMI uid {uid}"))
                        }
                        None => (None, format!("VMI uid {uid}, which no longer exists")),
                    },
                };
                if vm.is_some_and(|vm| migrations.active.contains(&(ns, vm))) {
                    continue;
                }
                let ended = vm.and_then(|vm| migrations.ended.get(&(ns, vm)).copied());
                if ended.is_some_and(|t| ctx.now.duration_since(t) < grace) {
                    out.notes.push(format!(
                        "{ns}: {key} belongs to a migration that ended less than {} ago: not stale yet",
                        grace
                    ));
                    continue;
                }
                out.findings
                    .push(self.finding(inv, quota, key, value, &who, ended, &missing));
            }
        }
        out.notes.dedup();
        out
    }
}

/// Running migrations, and when the others ended, by (namespace, VMI name).
struct Migrations<'a> {
    active: BTreeSet<(&'a str, &'a str)>,
    ended: BTreeMap<(&'a str, &'a str), jiff::Timestamp>,
    vmi_by_uid: BTreeMap<(&'a str, &'a str), &'a str>,
}

impl<'a> Migrations<'a> {
    fn build(inv: &'a Inventory) -> Self {
        let mut m = Migrations {
            active: BTreeSet::new(),
            ended: BTreeMap::new(),
            vmi_by_uid: BTreeMap::new(),
        };
        for vmim in inv.objects::<VirtualMachineInstanceMigration>() {
            let Some(ns) = vmim.metadata.namespace.as_deref() else {
                continue;
            };
            let k = (ns, vmim.spec.vmi_name.as_str());
            if vmim.is_active() {
                m.active.insert(k);
            } else if let Some(t) = vmim.final_since() {
                let e = m.ended.entry(k).or_insert(t);
                *e = (*e).max(t);
            }
        }
        for v in inv.objects::<VirtualMachineInstance>() {
            if let (Some(ns), Some(uid)) = (v.metadata.namespace.as_deref(), v.metadata.uid.as_deref()) {
                m.vmi_by_uid.insert((ns, uid), v.metadata.name.as_str());
            }
        }
        m
    }
}

impl MigrationAnnotationStale {
    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        inv: &Inventory,
        quota: &ResourceQuota,
        key: &str,
        value: &str,
        who: &str,
        ended: Option<jiff::Timestamp>,
        missing: &[&str],
    ) -> Finding {
        let ns = quota.metadata.namespace.as_deref().unwrap_or("");
        let hard_scaled = hard_scaled(inv);
        let mut evidence = vec![format!("annotation:{key}")];
        let mut msg = format!(
            "ResourceQuota {ns}/{} still carries {key} = {value} for {who}, but ",
            quota.metadata.name
        );
        if missing.is_empty() {
            evidence.push("no-running-migration".into());
            msg.push_str("no migration of it is running");
            match ended {
                Some(t) => {
                    evidence.push(format!("migration-final-since:{t}"));
                    msg.push_str(&format!(" (its last migration ended at {t})"));
                }
                None => msg.push_str(" (no migration of it exists)"),
            }
            msg.push_str(": the entry should have been removed when its migration ended.");
        } else {
            msg.push_str(&format!(
                "whether its migration still runs is unknown: {} were not read for {ns}.",
                missing.join(", ")
            ));
            evidence.extend(missing.iter().map(|k| format!("unknown-kind:{k}")));
        }
        msg.push_str(
            " While it exists, Harvester refuses every change to this namespace's resource quota (\"has migrating \
             VMs, can't change resource quotas\").",
        );
        let hard = self.hard_sentence(inv, quota, key, hard_scaled, &mut evidence);
        msg.push_str(&hard);
        let fix = format!(
            "Confirm no migration is running (kubectl get vmim -n {ns}), then remove the annotation {key}{}.",
            if hard_scaled != Some(false) {
                "; if spec.hard is still the base plus all entries, set it to the base plus the remaining entries \
                 in the same update (`kubectl harvester-hygiene fix` does both, and refuses when spec.hard matches \
                 neither)"
            } else {
                ""
            }
        );
        let (severity, confidence) = if missing.is_empty() {
            (Severity::Warning, Confidence::Proven)
        } else {
            (Severity::Info, Confidence::Possible)
        };
        let mut f = Finding::about(self, severity, quota, msg, fix).with_confidence(confidence);
        f = f.with_title(if missing.is_empty() {
            format!("stale migration entry for {who} blocks quota changes")
        } else {
            format!(
                "migration entry for {who}: {} not read, stale or not unknown",
                missing.join(", ")
            )
        });
        f.evidence = evidence;
        f.details.insert(DETAIL_ANNOTATION.into(), key.to_string());
        f.fix_input = Some(FixInput::QuotaAnnotation {
            annotation: key.to_string(),
        });
        f
    }

    /// What the entry does to `spec.hard`, as the version and the Rancher base tell it.
    fn hard_sentence(
        &self,
        inv: &Inventory,
        quota: &ResourceQuota,
        key: &str,
        hard_scaled: Option<bool>,
        evidence: &mut Vec<String>,
    ) -> String {
        if hard_scaled == Some(false) {
            let ns = quota.metadata.namespace.as_deref().unwrap_or("");
            let base = inv
                .objects::<Namespace>()
                .iter()
                .find(|n| n.metadata.name == ns)
                .map(Namespace::rancher_base);
            if quota.metadata.annotation(SKIP_AUTO_SCALING) == Some("true") {
                evidence.push("auto-scaling-skipped".into());
                return format!(
                    " The quota carries {SKIP_AUTO_SCALING}, so Harvester's quota controller does not recompute \
                     spec.hard from the entries: removing it leaves spec.hard as it is."
                );
            }
            return match base {
                Some(Ok(_)) => " This version's quota controller keeps spec.hard at the namespace's base plus all \
                                entries, so the entry keeps the quota raised until it is removed (the controller then \
                                recomputes spec.hard)."
                    .into(),
                _ => {
                    evidence.push("no-rancher-base".into());
                    " The namespace has no field.cattle.io/resourceQuota base (or it was not read), so this \
                     version's quota controller does not recompute spec.hard: removing the entry leaves spec.hard \
                     as it is."
                        .into()
                }
            };
        }
        let prefix = if hard_scaled.is_none() {
            " (Harvester version unknown: on v1.4.1 and earlier the controller raised spec.hard by the entry.)"
        } else {
            ""
        };
        let state = match hard_state(inv, quota, key) {
            Hard::Inflated(lines) => {
                evidence.push("hard:inflated".into());
                format!(
                    " spec.hard is still the namespace's Rancher base plus every entry, so it is raised by this one: \
                     the namespace can use more than its project allows ({}).",
                    describe_lines(&lines)
                )
            }
            Hard::Settled(lines) => {
                evidence.push("hard:settled".into());
                format!(
                    " spec.hard is already back at the base plus the other entries (Rancher resets it on a resync), \
                     so only the annotation is left ({}).",
                    describe_lines(&lines)
                )
            }
            Hard::Neither(lines) => {
                evidence.push("hard:neither".into());
                format!(
                    " spec.hard matches neither the base plus all entries nor the base plus the remaining ones \
                     (someone changed it): set it by hand ({}).",
                    describe_lines(&lines)
                )
            }
            Hard::BaseUnknown(why) => {
                evidence.push("hard:base-unknown".into());
                format!(" Whether spec.hard is still raised by it cannot be told: {why}.")
            }
            Hard::Malformed(why) => {
                evidence.push("hard:malformed-entry".into());
                format!(" {why}.")
            }
        };
        format!("{prefix}{state}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_exact() {
        assert!(matches!(
            entry("harvesterhci.io/migrating-vm1"),
            Some(Entry::ByName("vm1"))
        ));
        assert!(matches!(
            entry("harvesterhci.io/migratingUID-abc"),
            Some(Entry::ByUid("abc"))
        ));
        assert!(entry("harvesterhci.io/migratingCompensation").is_none());
        assert!(entry("harvesterhci.io/migratingScalingResyncNeeded").is_none());
        assert!(entry("harvesterhci.io/migrating-").is_none());
        assert!(entry("field.cattle.io/resourceQuota").is_none());
    }
}
