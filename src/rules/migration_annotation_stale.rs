//! `migration-annotation-stale`: ResourceQuota annotations `harvesterhci.io/migrating-<vm>`
//! or `harvesterhci.io/migratingUID-<vmi uid>` whose migration is over. Harvester adds the
//! migrating VM's resources to the quota while it migrates and removes them after; an
//! entry left behind keeps the quota inflated (on v1.4.1 and earlier the controller also
//! added them to `spec.hard`; the annotation value is that JSON ResourceList).

use std::collections::{BTreeMap, BTreeSet};

use super::{Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{ResourceQuota, VirtualMachineInstance, VirtualMachineInstanceMigration};
use crate::version::{Boundary, Version};

pub struct MigrationAnnotationStale;

const ID: &str = "migration-annotation-stale";
pub const NAME_PREFIX: &str = "harvesterhci.io/migrating-";
pub const UID_PREFIX: &str = "harvesterhci.io/migratingUID-";
/// Versions before this raise spec.hard by the migrating amount; from v1.4.2-rc2 (not rc1) the
/// quota controller (`pkg/controller/master/resourcequota`, harvester/harvester#7504) recomputes it.
const HARD_RECOMPUTED: Boundary = Boundary::new(Version::rc(1, 4, 2, 2)).dev_from(1, 6);

/// A stale entry: the annotation key, the VM (or VMI uid) it names, and its value.
pub enum Entry<'a> {
    ByName(&'a str),
    ByUid(&'a str),
}

/// Classify an annotation key (never `migratingCompensation` or `migratingScalingResyncNeeded`).
pub fn entry(key: &str) -> Option<Entry<'_>> {
    if let Some(uid) = key.strip_prefix(UID_PREFIX) {
        return Some(Entry::ByUid(uid)).filter(|_| !uid.is_empty());
    }
    key.strip_prefix(NAME_PREFIX)
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
        ];
        NEEDS
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "During a live migration Harvester records the migrating VM's resources on the namespace's Rancher \
                  default ResourceQuota, in an annotation harvesterhci.io/migrating-<vm name> (v1.2.0-v1.4.1) or \
                  harvesterhci.io/migratingUID-<vmi uid> (v1.4.2+), and removes it when the migration ends. If the \
                  controller misses the end (a crash, a deleted migration, the Rancher/Harvester quota race of #7178), \
                  the entry stays: on v1.4.1 and earlier spec.hard stays raised by the VM's limits, and later versions \
                  keep counting the entry when they recompute the quota. The rule reads the migrations after the \
                  quotas, so a migration that starts during the scan is not called stale.",
            affected: "Harvester v1.2.0 and later (the annotation exists since v1.2.0)",
            upstream: &[
                "harvester/harvester#7178",
                "harvester/harvester#7504",
                "harvester/harvester#3829",
            ],
            remediation: "Check that no migration of the VM is running (kubectl get vmim -n <ns>), then remove the \
                          annotation; on v1.4.1 and earlier also subtract the ResourceList in its value from spec.hard \
                          in the same update (`kubectl harvester-hygiene fix` will do this with preconditions).",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        // Active migrations by (namespace, VMI name); VMI names by (namespace, uid).
        let active: BTreeSet<(&str, &str)> = inv
            .objects::<VirtualMachineInstanceMigration>()
            .iter()
            .filter(|m| m.is_active())
            .filter_map(|m| Some((m.metadata.namespace.as_deref()?, m.spec.vmi_name.as_str())))
            .collect();
        let vmi_by_uid: BTreeMap<(&str, &str), &str> = inv
            .objects::<VirtualMachineInstance>()
            .iter()
            .filter_map(|v| {
                Some((
                    (v.metadata.namespace.as_deref()?, v.metadata.uid.as_deref()?),
                    v.metadata.name.as_str(),
                ))
            })
            .collect();
        let hard_scaled = inv.harvester_version.as_ref().and_then(|v| v.before(&HARD_RECOMPUTED));
        for quota in inv.objects::<ResourceQuota>() {
            let Some(ns) = quota.metadata.namespace.as_deref() else {
                continue;
            };
            if !inv.in_scope(Some(ns)) {
                continue;
            }
            for (key, value) in &quota.metadata.annotations {
                let Some(e) = entry(key) else { continue };
                if !inv.covers::<VirtualMachineInstanceMigration>(Some(ns)) {
                    out.notes.push(format!("{ns}: migrations unknown, {key} not checked"));
                    continue;
                }
                let (vm, who) = match e {
                    Entry::ByName(name) => (Some(name), format!("VM {name}")),
                    Entry::ByUid(uid) => {
                        if !inv.covers::<VirtualMachineInstance>(Some(ns)) {
                            out.notes
                                .push(format!("{ns}: VirtualMachineInstances unknown, {key} not checked"));
                            continue;
                        }
                        match vmi_by_uid.get(&(ns, uid)) {
                            Some(name) => (Some(*name), format!("VMI {name} (uid {uid})")),
                            None => (None, format!("VMI uid {uid}, which no longer exists")),
                        }
                    }
                };
                if vm.is_some_and(|vm| active.contains(&(ns, vm))) {
                    continue;
                }
                let hard = match hard_scaled {
                    Some(true) => {
                        " On this version the controller also raised spec.hard by that amount, so the namespace's quota is larger than its project allows."
                    }
                    Some(false) => {
                        " This version recomputes spec.hard from these annotations, so the entry keeps the quota raised."
                    }
                    None => {
                        " (Harvester version unknown: on v1.4.1 and earlier spec.hard was raised by that amount too.)"
                    }
                };
                let msg = format!(
                    "ResourceQuota {ns}/{} still carries {key} = {value} for {who}, but no migration of it is running: \
                     the entry should have been removed when its migration ended.{hard}",
                    quota.metadata.name
                );
                let fix = format!(
                    "Confirm no migration is running (kubectl get vmim -n {ns}), then remove the annotation {key}{}.",
                    if hard_scaled == Some(true) {
                        " and subtract its ResourceList from spec.hard in the same update"
                    } else {
                        ""
                    }
                );
                let mut f = Finding::about(self, Severity::Warning, quota, msg, fix);
                f.details.insert("annotation".into(), key.clone());
                out.findings.push(f);
            }
        }
        out.notes.dedup();
        out
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
