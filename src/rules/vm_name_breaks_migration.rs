//! `vm-name-breaks-migration`: on Harvester v1.2.0 to v1.4.1 the migration controller writes
//! the annotation `harvesterhci.io/migrating-<vm name>` on the namespace's Rancher default
//! ResourceQuota (harvester/harvester v1.4.1 `pkg/controller/master/migration/vmim_controller.go`
//! `scaleResourceQuotaWithVMI`, `pkg/util/resourcequota/utils.go` `UpdateMigratingVM`).
//! Kubernetes caps an annotation key's name part at 63 characters, and `migrating-` takes 10,
//! so for VMs named with 54 or more characters the quota update fails (harvester/harvester#7464,
//! fixed by #7504 with the key `migratingUID-<vmi uid>`).
//!
//! The key is written only when the quota has a non-zero `limits.cpu` or `limits.memory` and
//! the VMI a non-zero cpu or memory limit (`pkg/util/resourcequota/calculator.go`
//! `CalculateScaleResourceQuotaWithVMI`, `checkResourceQuotaAndVMI`). The failed update only
//! means the quota is not raised for the migration target: KubeVirt still creates the target
//! virt-launcher pod, and the apiserver's quota admission admits it while every quota of the
//! namespace has headroom (`status.used` + the pod's charge <= `status.hard`, kubernetes
//! `staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota/controller.go`
//! `checkQuotas`). So: no headroom = the migration fails (error); headroom = it works until
//! the namespace fills up (warning).

use std::collections::BTreeMap;

use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::kinds::pod::{CREATED_BY_LABEL, Side, VM_NAME_LABEL};
use crate::inventory::kinds::virtual_machine::Resources;
use crate::inventory::kinds::{Pod, ResourceQuota, VirtualMachine, VirtualMachineInstance};
use crate::inventory::{Inventory, KindInfo};
use crate::quantity::{format_milli, parse_milli};
use crate::version::{Boundary, Version};

pub struct VmNameBreaksMigration;

pub const ID: &str = "vm-name-breaks-migration";
/// The name part `migrating-<vm>` must be at most 63 characters.
pub const MAX_SAFE_NAME: usize = 53;
/// The migrating-<vm name> key arrived in v1.2.0 (harvester/harvester#3829).
pub(crate) const FIRST_AFFECTED: Boundary = Boundary::new(Version::new(1, 2, 0));
/// The UID key (harvester/harvester#7504) is first in v1.4.2-rc2, not v1.4.2-rc1
/// (`pkg/util/constants.go` `AnnotationMigratingUIDPrefix`); v1.5.0-dev-20250217 still lacks it.
pub(crate) const FIXED: Boundary = Boundary::new(Version::rc(1, 4, 2, 2)).dev_from(1, 6);
/// Harvester v1.3.0 moved to KubeVirt v1.x, whose fixed overhead is larger.
const KUBEVIRT_1X_FROM: Version = Version::new(1, 3, 0);

const MI: i128 = 1 << 20;
/// Lower bounds of KubeVirt's memory overhead for a virt-launcher pod (kubevirt
/// `pkg/virt-controller/services/renderresources.go` `GetMemoryOverhead`, constants in
/// `pkg/virt-controller/services/template.go`): the fixed part for virt-launcher-monitor,
/// virt-launcher, virtlogd, libvirtd/virtqemud and qemu is 180Mi in KubeVirt v0.54 (Harvester
/// v1.2) and 210Mi or more in KubeVirt v1.x (Harvester v1.3+); then 8Mi for the IO thread and
/// 8Mi per vCPU. Page tables, video RAM, probes, TPM and VFIO add more, so this underestimates.
const OVERHEAD_FIXED_V054: i128 = 180 * MI;
const OVERHEAD_FIXED_V1: i128 = 210 * MI;
const OVERHEAD_IOTHREAD: i128 = 8 * MI;
const OVERHEAD_PER_VCPU: i128 = 8 * MI;

const REMEDIATION: &str = "Upgrade Harvester to v1.4.2 or later (fixed from v1.4.2-rc2: the key becomes harvesterhci.io/migratingUID-<vmi uid>, \
always valid). Until then a migration of this VM succeeds only while every ResourceQuota of the namespace has headroom \
for a second virt-launcher pod (the VM's limits plus KubeVirt's overhead): raise the Rancher project/namespace quota or \
stop other VMs there before draining a node. VMs cannot be renamed: for a lasting fix before the upgrade, back it up and \
restore it (or clone it) under a name of at most 53 characters, or move it to a namespace without a Rancher resource quota.";

/// Quota resources a new pod is charged for (kubernetes `pkg/quota/v1/evaluator/core/pods.go`).
#[derive(Clone, Copy)]
enum Charge {
    Res(Side, &'static str),
    Count,
}

const TRACKED: &[(&str, Charge)] = &[
    ("limits.cpu", Charge::Res(Side::Limits, "cpu")),
    ("limits.memory", Charge::Res(Side::Limits, "memory")),
    ("requests.cpu", Charge::Res(Side::Requests, "cpu")),
    ("cpu", Charge::Res(Side::Requests, "cpu")),
    ("requests.memory", Charge::Res(Side::Requests, "memory")),
    ("memory", Charge::Res(Side::Requests, "memory")),
    ("pods", Charge::Count),
    ("count/pods", Charge::Count),
];

/// What the migration target pod will be charged: the running launcher pod's own charge
/// (KubeVirt renders the target from the same VMI), or an estimate from the VM's resources.
/// What the check reads, computed once per scan.
struct Seen<'a> {
    inv: &'a Inventory,
    /// `None`: version unknown (affected or not).
    version: Option<&'a Version>,
    overhead_fixed: i128,
    quotas: BTreeMap<&'a str, Vec<&'a ResourceQuota>>,
    vmis: BTreeMap<(&'a str, &'a str), &'a VirtualMachineInstance>,
}

enum Target<'a> {
    Pod(&'a Pod),
    Estimate { res: &'a Resources, overhead_fixed: i128 },
}

impl Target<'_> {
    fn is_estimate(&self) -> bool {
        matches!(self, Target::Estimate { .. })
    }
    fn word(&self) -> &'static str {
        if self.is_estimate() { "estimate" } else { "pod" }
    }
    fn charge(&self, c: Charge) -> Option<i128> {
        let (side, resource) = match c {
            Charge::Count => return Some(1000),
            Charge::Res(side, resource) => (side, resource),
        };
        match self {
            Target::Pod(p) => p.charge(side, resource),
            Target::Estimate { res, overhead_fixed } => {
                let limit = |k: &str| res.limits.get(k).and_then(|v| parse_milli(v));
                let request = |k: &str| res.requests.get(k).and_then(|v| parse_milli(v));
                match (side, resource) {
                    (Side::Limits, "cpu") => limit("cpu"),
                    (Side::Limits, "memory") => limit("memory")?.checked_add(overhead(res, *overhead_fixed)?),
                    // KubeVirt derives a cpu request from vCPUs and the allocation ratio when
                    // none is set: not estimated.
                    (Side::Requests, "cpu") => request("cpu"),
                    // `WithMemoryRequests`: the limit when no request is set; `WithMemoryOverhead`
                    // adds the overhead unless `overcommitGuestOverhead`.
                    (Side::Requests, "memory") => {
                        let base = request("memory").or(limit("memory"))?;
                        if res.overcommit_guest_overhead {
                            Some(base)
                        } else {
                            base.checked_add(overhead(res, *overhead_fixed)?)
                        }
                    }
                    _ => None,
                }
            }
        }
    }
}

/// KubeVirt's memory overhead, lower bound, in milli-bytes; vCPUs from the cpu limit.
fn overhead(res: &Resources, fixed: i128) -> Option<i128> {
    let vcpus = res
        .limits
        .get("cpu")
        .and_then(|v| parse_milli(v))
        .map_or(1, |m| ((m + 999) / 1000).max(1));
    let bytes = fixed
        .checked_add(OVERHEAD_IOTHREAD)?
        .checked_add(OVERHEAD_PER_VCPU.checked_mul(vcpus)?)?;
    bytes.checked_mul(1000)
}

enum Headroom {
    /// The target pod does not fit (or the quota's usage is unknown to the apiserver).
    None {
        quota: String,
        resource: &'static str,
        detail: String,
        evidence: String,
    },
    Unknown {
        evidence: String,
        detail: String,
    },
    Ok,
}

/// Does the target pod fit every quota of the namespace? The first resource without room wins.
fn headroom(quotas: &[&ResourceQuota], target: &Target<'_>) -> Headroom {
    let mut unknown = None;
    for q in quotas {
        let qname = q.metadata.name.as_str();
        for (resource, charge) in TRACKED {
            let Some(hard) = q.enforced_hard(resource) else {
                continue;
            };
            let Some(hard_v) = parse_milli(hard) else {
                unknown.get_or_insert((
                    format!("headroom:unknown({resource} hard unreadable)"),
                    format!("ResourceQuota {qname}'s {resource} hard value {hard:?} could not be read"),
                ));
                continue;
            };
            let Some(used) = q.used(resource) else {
                if q.status.hard.is_empty() {
                    unknown.get_or_insert((
                        format!("headroom:unknown({resource} no status.used)"),
                        format!("ResourceQuota {qname} has no status.used for {resource}"),
                    ));
                    continue;
                }
                return Headroom::None {
                    quota: qname.to_string(),
                    resource,
                    detail: format!(
                        "ResourceQuota {qname} enforces {resource} but has no status.used for it, so the apiserver \
                         refuses every new pod (\"status unknown for quota\")"
                    ),
                    evidence: format!("headroom:none({resource} status unknown)"),
                };
            };
            let (Some(used_v), Some(need)) = (parse_milli(used), target.charge(*charge)) else {
                unknown.get_or_insert((
                    format!("headroom:unknown({resource} {} unknown)", target.word()),
                    format!("the target pod's {resource} charge against ResourceQuota {qname} is unknown"),
                ));
                continue;
            };
            let Some(total) = used_v.checked_add(need) else {
                continue;
            };
            if total > hard_v {
                return Headroom::None {
                    quota: qname.to_string(),
                    resource,
                    detail: format!(
                        "ResourceQuota {qname} has no headroom for a second virt-launcher pod: {resource} used {used} + \
                         {} {} = {} > hard {hard}",
                        if target.is_estimate() {
                            "estimated pod"
                        } else {
                            "launcher pod"
                        },
                        format_milli(need, hard),
                        format_milli(total, hard),
                    ),
                    evidence: format!("headroom:none({resource} used+{}>hard)", target.word()),
                };
            }
        }
    }
    match unknown {
        Some((evidence, detail)) => Headroom::Unknown { evidence, detail },
        None => Headroom::Ok,
    }
}

/// The VMI's running virt-launcher pod (labels `kubevirt.io/created-by` = VMI uid, or
/// `vm.kubevirt.io/name` = VMI name, on a virt-launcher pod), preferring the migration source.
fn launcher_pod<'a>(inv: &'a Inventory, ns: &str, vmi: &VirtualMachineInstance) -> Option<&'a Pod> {
    let uid = vmi.metadata.uid.as_deref().filter(|u| !u.is_empty());
    let mut pods: Vec<&Pod> = inv
        .objects::<Pod>()
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns) && !p.is_terminal())
        .filter(|p| {
            let by_uid = uid.is_some() && p.metadata.label(CREATED_BY_LABEL) == uid;
            let by_name = p.is_virt_launcher() && p.metadata.label(VM_NAME_LABEL) == Some(vmi.metadata.name.as_str());
            by_uid || by_name
        })
        .collect();
    pods.sort_by_key(|p| {
        (
            p.metadata.label(crate::key!("kubevirt.io/migrationJobUID")).is_some(),
            p.metadata.name.as_str(),
        )
    });
    pods.first().copied()
}

fn limits_text(res: &Resources) -> String {
    let get = |k: &str| res.limits.get(k).map_or("none", crate::meta::Text::as_str);
    format!("cpu={},memory={}", get("cpu"), get("memory"))
}

impl Rule for VmNameBreaksMigration {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "VM names of 54+ characters cannot live-migrate under a Rancher quota without headroom (Harvester v1.2.0-v1.4.2-rc1)"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        const NEEDS: &[&KindInfo] = &[
            info::<VirtualMachine>(),
            info::<ResourceQuota>(),
            info::<VirtualMachineInstance>(),
            info::<Pod>(),
        ];
        NEEDS
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "While a VM live-migrates, Harvester v1.2.0 to v1.4.1 records the VM's resources in the annotation \
                  harvesterhci.io/migrating-<vm name> on the namespace's Rancher default ResourceQuota (label \
                  resourcequota.management.cattle.io/default-resource-quota=true) and raises its spec.hard by them \
                  (harvester/harvester v1.4.1 pkg/controller/master/migration/vmim_controller.go scaleResourceQuotaWithVMI). \
                  It does so only when that quota has a non-zero limits.cpu or limits.memory and the VMI a non-zero cpu \
                  or memory limit (pkg/util/resourcequota/calculator.go checkResourceQuotaAndVMI): VMs without limits \
                  are not affected. Kubernetes limits the part of an annotation key after the / to 63 characters; \
                  `migrating-` uses 10, so for a VM name of 54 or more characters the quota update fails and the quota \
                  is not raised (harvester/harvester#7464). KubeVirt still creates the target virt-launcher pod, which \
                  the apiserver admits only if every ResourceQuota of the namespace has room for it: status.used plus the \
                  pod's limits and requests (the VM's plus KubeVirt's memory overhead, kubevirt \
                  pkg/virt-controller/services/renderresources.go GetMemoryOverhead) within status.hard (kubernetes \
                  apiserver pkg/admission/plugin/resourcequota/controller.go). Error: no headroom now, so every migration \
                  fails (node drains and upgrades included). Warning: it works only while the namespace has headroom. \
                  The running launcher pod gives the exact charge; without it the rule estimates the VM's limits plus a \
                  lower bound of KubeVirt's overhead (180Mi on Harvester v1.2, 210Mi from v1.3, plus 8Mi for the IO \
                  thread and 8Mi per vCPU). From v1.4.2-rc2 (v1.4.2, v1.5.0) the controller keys the annotation by the VMI's uid instead \
                  (harvester/harvester#7504).",
            affected: "Harvester v1.2.0 to v1.4.1 and v1.4.2-rc1 (fixed from v1.4.2-rc2, in v1.4.2 and v1.5.0); development \
                       builds of v1.4 and v1.5 snapshots before the fix cannot be told apart and get a warning",
            upstream: &[
                "harvester/harvester#7464",
                "harvester/harvester#7504",
                "harvester/harvester#3829",
                "harvester/harvester pkg/util/resourcequota/calculator.go (v1.4.1)",
                "kubevirt/kubevirt pkg/virt-controller/services/renderresources.go (GetMemoryOverhead)",
            ],
            remediation: REMEDIATION,
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let mut out = Outcome::default();
        // `None`: version unknown, or a development build that cannot tell (src/version.rs).
        let version = match inv
            .harvester_version
            .as_ref()
            .map(|v| (v, v.before(&FIRST_AFFECTED), v.before(&FIXED)))
        {
            Some((_, Some(true), _) | (_, _, Some(false))) => return out,
            Some((v, Some(false), Some(true))) => Some(v),
            _ => None,
        };
        let overhead_fixed = match version {
            Some(v) if *v >= KUBEVIRT_1X_FROM => OVERHEAD_FIXED_V1,
            _ => OVERHEAD_FIXED_V054,
        };
        let mut quotas: BTreeMap<&str, Vec<&ResourceQuota>> = BTreeMap::new();
        for q in inv.objects::<ResourceQuota>() {
            if let Some(ns) = q.metadata.namespace.as_deref() {
                quotas.entry(ns).or_default().push(q);
            }
        }
        for list in quotas.values_mut() {
            list.sort_by_key(|q| q.metadata.name.as_str());
        }
        let vmis: BTreeMap<(&str, &str), &VirtualMachineInstance> = inv
            .objects::<VirtualMachineInstance>()
            .iter()
            .filter_map(|v| Some(((v.metadata.namespace.as_deref()?, v.metadata.name.as_str()), v)))
            .collect();

        let seen = Seen {
            inv,
            version,
            overhead_fixed,
            quotas,
            vmis,
        };
        out.findings.extend(
            inv.objects::<VirtualMachine>()
                .iter()
                .filter_map(|vm| self.judge(&seen, vm)),
        );
        out
    }
}

/// Why the name breaks it: the annotation key Harvester writes is too long.
fn name_fact(name: &str) -> String {
    let key_part = name.len().saturating_add(10);
    format!(
        "its name has {} characters, and the migration controller writes the ResourceQuota annotation \
         harvesterhci.io/migrating-{name}, whose name part ({key_part} characters) exceeds Kubernetes' 63",
        name.len()
    )
}

/// The message's first words on a known version: fails now, or only with headroom.
/// The message's first sentence for the version at hand. An unknown version lowers the finding
/// to at most a warning and `possible` (affected or not).
fn versioned_lead(
    version: Option<&Version>,
    ns: &str,
    name: &str,
    severity: &mut Severity,
    confidence: &mut Confidence,
    evidence: &mut Vec<String>,
) -> String {
    match version {
        Some(v) => lead(v, ns, name, *severity),
        None => {
            *severity = (*severity).min(Severity::Warning);
            *confidence = Confidence::Possible;
            evidence.push("version:unknown".into());
            format!(
                "VirtualMachine {ns}/{name} cannot live-migrate normally if this cluster runs Harvester v1.2.0 \
                 to v1.4.1 (the version is unknown: check the server-version Setting, or pass \
                 --harvester-version):"
            )
        }
    }
}

fn lead(v: &Version, ns: &str, name: &str, severity: Severity) -> String {
    if severity == Severity::Error {
        format!("VirtualMachine {ns}/{name} cannot live-migrate on Harvester {v}:")
    } else {
        format!(
            "VirtualMachine {ns}/{name} can live-migrate on Harvester {v} only while its namespace has quota \
             headroom:"
        )
    }
}

/// The finding's title: fails now, migrates only with headroom, or version unknown.
fn title(name_len: usize, qname: &str, version_known: bool, severity: Severity) -> String {
    match (version_known, severity) {
        (true, Severity::Error) => format!("{name_len}-character name: live migration fails, quota {qname} has no headroom"),
        (true, _) => format!("{name_len}-character name: migrates only while quota {qname} has headroom"),
        (false, _) => format!("{name_len}-character name: no live migration on Harvester v1.2.0-v1.4.1 (version unknown)"),
    }
}

impl VmNameBreaksMigration {
    /// ResourceQuotas were not read in `ns`: whether a quota governs the VM is unknown.
    fn quotas_unread(&self, vm: &VirtualMachine, ns: &str, name_fact: &str) -> Finding {
        let name = vm.metadata.name.as_str();
        let msg = format!(
            "VirtualMachine {ns}/{name} may be unable to live-migrate: {name_fact}. ResourceQuotas are unknown in \
             {ns}, so whether a Rancher quota with cpu/memory limits governs it was not checked."
        );
        Finding::about(self, Severity::Info, vm, msg, REMEDIATION.to_string()).with_title(format!(
            "{}-character name may block live migration; quotas in {ns} not read",
            name.len()
        ))
    }

    /// A governing quota, but VMIs were not read in `ns`: whether it runs, and with which
    /// limits, is unknown.
    fn vmis_unread(&self, vm: &VirtualMachine, ns: &str, qname: &str, name_fact: &str) -> Finding {
        let name = vm.metadata.name.as_str();
        let msg = format!(
            "VirtualMachine {ns}/{name} may be unable to live-migrate: {name_fact}, and namespace {ns} has the \
             Rancher default ResourceQuota {qname} with cpu/memory limits. VirtualMachineInstances are unknown \
             in {ns}, so whether it runs and with which limits was not checked (its template has {}).",
            limits_text(&vm.spec.template.spec.domain.resources)
        );
        Finding::about(self, Severity::Info, vm, msg, REMEDIATION.to_string()).with_title(format!(
            "{}-character name may block live migration under quota {qname}; VMIs not read",
            name.len()
        ))
    }

    /// One VM of 54+ characters: whether a quota with cpu/memory limits governs it and what a
    /// migration would need.
    fn judge(&self, seen: &Seen<'_>, vm: &VirtualMachine) -> Option<Finding> {
        let (inv, version, overhead_fixed) = (seen.inv, seen.version, seen.overhead_fixed);
        let name = vm.metadata.name.as_str();
        let ns = vm.metadata.namespace.as_deref()?;
        if name.len() <= MAX_SAFE_NAME || !inv.in_scope(Some(ns)) {
            return None;
        }
        let template = &vm.spec.template.spec.domain.resources;
        // The limits Harvester reads: the VMI's when it runs, else the template's (a VMI is
        // rendered from it; a stopped VM is judged by what it will run with).
        let vmi_known = inv.covers::<VirtualMachineInstance>(Some(ns));
        let vmi = seen.vmis.get(&(ns, name)).copied();
        let (res, res_evidence) = match vmi.and_then(|v| v.spec.domain.resources.as_ref()) {
            Some(r) => (r, format!("vmi-limits:{}", limits_text(r))),
            None => (template, format!("template-limits:{}", limits_text(template))),
        };
        if !res.has_cpu_or_memory_limit() {
            return None; // no key is written: harvester calculator.go checkResourceQuotaAndVMI
        }
        let base = |f: Finding| {
            f.evidence(format!("name-length:{}", name.len()))
                .evidence(res_evidence.clone())
        };
        let name_fact = name_fact(name);

        if !inv.covers::<ResourceQuota>(Some(ns)) {
            return Some(
                base(self.quotas_unread(vm, ns, &name_fact))
                    .evidence("unknown-kind:ResourceQuota")
                    .with_confidence(Confidence::Possible),
            );
        }
        let ns_quotas = seen.quotas.get(ns).map(Vec::as_slice).unwrap_or_default();
        // Harvester writes on the first default quota; one with cpu/memory limits qualifies.
        let target_quota = ns_quotas
            .iter()
            .find(|q| q.is_rancher_default() && q.limits_cpu_or_memory())?;
        let qname = target_quota.metadata.name.as_str();

        if vmi.is_none() && !vmi_known {
            return Some(
                base(self.vmis_unread(vm, ns, qname, &name_fact))
                    .evidence(format!("quota:{qname}"))
                    .evidence("unknown-kind:VirtualMachineInstance")
                    .with_confidence(Confidence::Possible),
            );
        }

        let mut msg = format!(
            "{name_fact}, so Harvester cannot record the migration on namespace {ns}'s Rancher default \
             ResourceQuota {qname} nor raise it for the migration target."
        );
        let mut evidence = vec![format!("quota:{qname}")];
        let (mut severity, mut confidence) = Self::verdict(
            inv,
            ns,
            qname,
            ns_quotas,
            vmi,
            res,
            overhead_fixed,
            &mut msg,
            &mut evidence,
        );
        let lead = versioned_lead(version, ns, name, &mut severity, &mut confidence, &mut evidence);
        let msg = format!("{lead} {msg}");
        let mut f = base(Finding::about(self, severity, vm, msg, REMEDIATION.to_string()))
            .with_confidence(confidence)
            .with_title(title(name.len(), qname, version.is_some(), severity));
        for e in evidence {
            f = f.evidence(e);
        }
        Some(f)
    }

    /// How bad it is now: a stopped VM (warning), or a running one whose target pod the quotas
    /// can or cannot hold (error when they cannot). Adds to the message and the evidence.
    #[allow(clippy::too_many_arguments)]
    fn verdict(
        inv: &Inventory,
        ns: &str,
        qname: &str,
        ns_quotas: &[&ResourceQuota],
        vmi: Option<&VirtualMachineInstance>,
        res: &Resources,
        overhead_fixed: i128,
        msg: &mut String,
        evidence: &mut Vec<String>,
    ) -> (Severity, Confidence) {
        match vmi {
            None => {
                // Stopped: no launcher pod to charge yet.
                evidence.push("vm:stopped".into());
                msg.push_str(
                    " It is stopped now; once it runs, each of its migrations fails unless every ResourceQuota of \
                     the namespace has headroom for a second virt-launcher pod.",
                );
                (Severity::Warning, Confidence::Likely)
            }
            Some(vmi) => {
                let target = Self::target(inv, ns, vmi, res, overhead_fixed, msg, evidence);
                let confidence = if target.is_estimate() {
                    Confidence::Likely
                } else {
                    Confidence::Proven
                };
                Self::headroom_verdict(ns_quotas, &target, qname, confidence, msg, evidence)
            }
        }
    }

    /// What a migration target pod of a running VM is charged: its launcher pod's stated
    /// resources, else an estimate (said in the message and the evidence).
    fn target<'a>(
        inv: &'a Inventory,
        ns: &str,
        vmi: &VirtualMachineInstance,
        res: &'a Resources,
        overhead_fixed: i128,
        msg: &mut String,
        evidence: &mut Vec<String>,
    ) -> Target<'a> {
        let pod = inv
            .covers::<Pod>(Some(ns))
            .then(|| launcher_pod(inv, ns, vmi))
            .flatten();
        match pod {
            Some(p) if p.states_resources() => {
                evidence.push(format!("launcher-pod:{}", p.metadata.name));
                Target::Pod(p)
            }
            _ => {
                let why = if !inv.covers::<Pod>(Some(ns)) {
                    evidence.push("unknown-kind:Pod".into());
                    format!("Pods are unknown in {ns}")
                } else if let Some(p) = pod {
                    evidence.push(format!("launcher-pod:{}(no resources)", p.metadata.name));
                    format!("its virt-launcher pod {} states no resources", p.metadata.name)
                } else {
                    evidence.push("launcher-pod:not-found".into());
                    "its virt-launcher pod was not found".to_string()
                };
                let fixed_mi = overhead_fixed / MI;
                msg.push_str(&format!(
                    " The target pod's charge is estimated because {why}: the VM's resources plus at least \
                     {fixed_mi}Mi + 8Mi + 8Mi per vCPU of KubeVirt memory overhead (a lower bound of kubevirt \
                     pkg/virt-controller/services/renderresources.go GetMemoryOverhead)."
                ));
                evidence.push(format!("estimate-margin:{fixed_mi}Mi+8Mi+8Mi/vcpu"));
                Target::Estimate { res, overhead_fixed }
            }
        }
    }

    /// Whether the namespace's quotas hold a second launcher pod: error when they cannot,
    /// warning otherwise. Adds to the message and the evidence.
    fn headroom_verdict(
        ns_quotas: &[&ResourceQuota],
        target: &Target<'_>,
        qname: &str,
        confidence: Confidence,
        msg: &mut String,
        evidence: &mut Vec<String>,
    ) -> (Severity, Confidence) {
        match headroom(ns_quotas, target) {
            Headroom::None {
                quota,
                resource,
                detail,
                evidence: e,
            } => {
                evidence.push(e);
                msg.push_str(&format!(
                    " {detail}, so every migration of this VM fails now (node drains and upgrades included)."
                ));
                if !resource.starts_with("limits.") || quota != qname {
                    msg.push_str(&format!(
                        " Harvester raises only {qname}'s limits.cpu and limits.memory for a migration, so \
                         this {resource} shortage blocks it whatever the VM's name."
                    ));
                }
                (Severity::Error, confidence)
            }
            Headroom::Unknown { evidence: e, detail } => {
                evidence.push(e);
                msg.push_str(&format!(
                    " Whether the namespace has headroom for a second virt-launcher pod is unknown ({detail}); \
                     without it the migration fails."
                ));
                (Severity::Warning, Confidence::Likely)
            }
            Headroom::Ok => {
                evidence.push("headroom:ok".into());
                msg.push_str(
                    " Its migrations work today only because every ResourceQuota of the namespace has \
                     headroom for a second virt-launcher pod; they fail once the namespace fills up.",
                );
                (Severity::Warning, confidence)
            }
        }
    }
}
