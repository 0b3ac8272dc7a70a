//! `vm-name-breaks-migration`: on Harvester v1.2.0 to v1.4.1 the migration controller writes
//! the annotation `harvesterhci.io/migrating-<vm name>` on the namespace's Rancher default
//! ResourceQuota. Kubernetes caps an annotation key's name part at 63 characters, and
//! `migrating-` takes 10, so VMs named with 54 or more characters cannot live-migrate
//! there (research §3).

use std::collections::BTreeSet;

use super::{Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::KindInfo;
use crate::inventory::kinds::{ResourceQuota, VirtualMachine};
use crate::version::{Boundary, Version};

pub struct VmNameBreaksMigration;

const ID: &str = "vm-name-breaks-migration";
/// The name part `migrating-<vm>` must be at most 63 characters.
pub const MAX_SAFE_NAME: usize = 53;
/// The migrating-<vm name> key arrived in v1.2.0 (harvester/harvester#3829).
const FIRST_AFFECTED: Boundary = Boundary::new(Version::new(1, 2, 0));
/// The UID key (harvester/harvester#7504) is first in v1.4.2-rc2, not v1.4.2-rc1
/// (`pkg/util/constants.go` `AnnotationMigratingUIDPrefix`); v1.5.0-dev-20250217 still lacks it.
const FIXED: Boundary = Boundary::new(Version::rc(1, 4, 2, 2)).dev_from(1, 6);

const REMEDIATION: &str = "Upgrade Harvester to v1.4.2 or later (the key becomes harvesterhci.io/migratingUID-<vmi uid>, \
always valid). Until then, VMs cannot be renamed: to migrate this one, back it up and restore it (or clone it) under a \
name of at most 53 characters, or move it to a namespace without a Rancher resource quota.";

impl Rule for VmNameBreaksMigration {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "VM names of 54+ characters cannot live-migrate under a Rancher quota (Harvester v1.2.0-v1.4.1)"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        const NEEDS: &[&KindInfo] = &[info::<VirtualMachine>(), info::<ResourceQuota>()];
        NEEDS
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "While a VM live-migrates in a namespace governed by a Rancher project quota, Harvester v1.2.0 to \
                  v1.4.1 records the VM's resources in the annotation harvesterhci.io/migrating-<vm name> on the \
                  namespace's default ResourceQuota (label resourcequota.management.cattle.io/default-resource-quota=true, \
                  with limits.cpu or limits.memory). Kubernetes limits the part of an annotation key after the / to 63 \
                  characters; `migrating-` uses 10, so a VM name of 54 or more characters makes the quota update fail \
                  and the migration with it. v1.4.2 and v1.5.0 key the annotation by the VMI's uid instead.",
            affected: "Harvester v1.2.0 to v1.4.1 (fixed in v1.4.2 and v1.5.0)",
            upstream: &[
                "harvester/harvester#7464",
                "harvester/harvester#7504",
                "harvester/harvester#3829",
            ],
            remediation: REMEDIATION,
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        // None: unknown, or a development build that cannot tell.
        let affected = match inv
            .harvester_version
            .as_ref()
            .map(|v| (v.before(&FIRST_AFFECTED), v.before(&FIXED)))
        {
            Some((Some(true), _) | (_, Some(false))) => return out,
            Some((Some(false), Some(true))) => Some(true),
            _ => None,
        };
        let quota_namespaces: BTreeSet<&str> = inv
            .objects::<ResourceQuota>()
            .iter()
            .filter(|q| q.is_rancher_default() && q.limits_cpu_or_memory())
            .filter_map(|q| q.metadata.namespace.as_deref())
            .collect();
        let mut unknown_quota_ns = BTreeSet::new();
        for vm in inv.objects::<VirtualMachine>() {
            let name = vm.metadata.name.as_str();
            let Some(ns) = vm.metadata.namespace.as_deref() else {
                continue;
            };
            if name.len() <= MAX_SAFE_NAME || !inv.in_scope(Some(ns)) {
                continue;
            }
            if !inv.covers::<ResourceQuota>(Some(ns)) {
                unknown_quota_ns.insert(ns);
                continue;
            }
            if !quota_namespaces.contains(ns) {
                continue;
            }
            let key_part = 10 + name.len();
            let (severity, lead) = match affected {
                Some(_) => (
                    Severity::Error,
                    format!(
                        "VirtualMachine {ns}/{name} cannot live-migrate on Harvester {}:",
                        inv.harvester_version
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ),
                ),
                None => (
                    Severity::Warning,
                    format!(
                        "VirtualMachine {ns}/{name} cannot live-migrate if this cluster runs Harvester v1.2.0 to v1.4.1 \
                         (the version is unknown: check the server-version Setting, or pass --harvester-version):"
                    ),
                ),
            };
            let msg = format!(
                "{lead} its name has {} characters, and the migration controller writes the ResourceQuota annotation \
                 harvesterhci.io/migrating-{name}, whose name part ({key_part} characters) exceeds Kubernetes' 63. \
                 Namespace {ns} has a Rancher default ResourceQuota with cpu/memory limits, so every migration of this \
                 VM fails (node drains and upgrades included).",
                name.len()
            );
            out.findings
                .push(Finding::about(self, severity, vm, msg, REMEDIATION.to_string()));
        }
        if !unknown_quota_ns.is_empty() {
            out.notes.push(format!(
                "ResourceQuotas unknown in {}: long VM names there were not checked",
                unknown_quota_ns.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        out
    }
}
