//! `guest-cluster-leftovers`: what an RKE2 guest cluster leaves in Harvester after its VMs are
//! gone. Report only.
//!
//! - Credentials. Rancher asks Harvester for a kubeconfig per guest cluster: Harvester creates a
//!   ServiceAccount in the cluster's namespace (named after the cluster by Rancher) with a token
//!   Secret, a RoleBinding `<ns>-<sa>` to `harvesterhci.io:cloudprovider` and a ClusterRoleBinding
//!   `<ns>-<sa>` to `harvesterhci.io:csi-driver`, the last three owned by the ServiceAccount
//!   (harvester/harvester `pkg/api/kubeconfig/generate_handler.go`, `ensureSaAndSecret`,
//!   `createRoleBindingIfNotExists`, `createClusterRoleBindingIfNotExists`). Rancher never deletes
//!   the ServiceAccount, so the token keeps working after the cluster is gone: an **error**, a
//!   security finding. A cluster-scoped ClusterRoleBinding owned by a namespaced ServiceAccount is
//!   never garbage-collected (Kubernetes ignores a cluster-scoped dependent's namespaced owner),
//!   so when the ServiceAccount does go its csi-driver binding stays; such bindings are matched by
//!   role and subject, never by name (other tools hash names past 63 characters). Liveness is
//!   [`super::guest_clusters`]'s, the same evidence as `orphaned-guest-pvc`. Secrets are never
//!   read: only ServiceAccount metadata.
//! - LoadBalancers. The guest cluster's cloud controller manager makes a Harvester LoadBalancer
//!   per LoadBalancer Service, labelled `cloudprovider.harvesterhci.io/cluster` (harvester/
//!   load-balancer-harvester `pkg/utils` `LabelKeyGuestClusterNameOnLB`). The load-balancer
//!   controller deletes them only when a guest VM carrying `guestcluster.harvesterhci.io/name` is
//!   removed with `harvesterhci.io/removeAllPersistentVolumeClaims` (`pkg/controller/vm/
//!   controller.go` `CleanGuestClusterLBs`, which Rancher v2.11+ sets): VMs without that label
//!   (older node drivers, Terraform) or older add-ons leave them, holding an address.
//! - IPPool allocations. `status.allocated` maps an address to `<ns>/<load balancer>`
//!   (`pkg/ipam/allocator.go`); an allocation whose LoadBalancer is gone holds the address.

use std::collections::{BTreeMap, BTreeSet};

use super::guest_clusters::{CLOUDPROVIDER_ROLE, CSI_DRIVER_ROLE, Credentials, GuestClusters};
use super::{Confidence, Context, Explanation, Finding, Outcome, Rule, Severity, info};
use crate::inventory::kinds::{
    ClusterRoleBinding, IpPool, LoadBalancer, LonghornVolume, Namespace, PersistentVolumeClaim, RoleBinding,
    ServiceAccount, VirtualMachine,
};
use crate::inventory::{Kind, KindInfo};

pub struct GuestClusterLeftovers;

pub const ID: &str = "guest-cluster-leftovers";

impl Rule for GuestClusterLeftovers {
    fn id(&self) -> &'static str {
        ID
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn summary(&self) -> &'static str {
        "Credentials, ClusterRoleBindings, LoadBalancers and IP allocations left by RKE2 guest clusters whose VMs are gone (report only)"
    }
    fn needs(&self) -> &'static [&'static KindInfo] {
        const NEEDS: &[&KindInfo] = &[
            info::<ServiceAccount>(),
            info::<RoleBinding>(),
            info::<ClusterRoleBinding>(),
            info::<VirtualMachine>(),
            info::<PersistentVolumeClaim>(),
            info::<LonghornVolume>(),
            info::<LoadBalancer>(),
            info::<IpPool>(),
            info::<Namespace>(),
        ];
        NEEDS
    }
    fn explain(&self) -> Explanation {
        Explanation {
            why: "For each guest cluster Rancher provisions on Harvester, Harvester's kubeconfig endpoint creates a \
                  ServiceAccount in the cluster's namespace (Rancher names it after the cluster), its token Secret, a \
                  RoleBinding to harvesterhci.io:cloudprovider and a ClusterRoleBinding to harvesterhci.io:csi-driver, \
                  all owned by the ServiceAccount (harvester/harvester pkg/api/kubeconfig/generate_handler.go). \
                  Rancher never deletes that ServiceAccount when it deletes the cluster, so the token - which can \
                  create and attach volumes and load balancers - keeps working for a cluster that no longer exists: \
                  an error, a security finding. A cluster-scoped ClusterRoleBinding is never garbage-collected through \
                  a namespaced owner, so once the ServiceAccount goes its csi-driver binding remains, ready to grant a \
                  ServiceAccount re-created with that name cluster-wide volume rights; these are matched by role and \
                  subject, never by name. A cluster counts as dead on the evidence orphaned-guest-pvc uses (no living \
                  VM with its guestcluster.harvesterhci.io/name label or its name prefix; a PVC labelled for it, or a \
                  Longhorn volume's history naming a VM of it that is gone). The cloud controller manager of the \
                  guest cluster creates a Harvester LoadBalancer per LoadBalancer Service, labelled \
                  cloudprovider.harvesterhci.io/cluster; the load-balancer controller removes them only when a \
                  labelled guest VM is deleted with harvesterhci.io/removeAllPersistentVolumeClaims \
                  (harvester/load-balancer-harvester pkg/controller/vm/controller.go), so clusters deleted by older \
                  Rancher versions, built without the node driver's labels, or on older add-ons leave them with an \
                  address. IPPools record each address as allocated to <namespace>/<load balancer> \
                  (pkg/ipam/allocator.go); an allocation whose LoadBalancer is gone holds the address. Secrets are \
                  never read. With --rancher-kubeconfig, Rancher's provisioning Clusters settle it: a cluster Rancher \
                  still has is not reported (its VMs may be being replaced), one Rancher does not know makes the \
                  finding proven. Report only.",
            affected: "every Harvester version with Rancher-provisioned guest clusters; LoadBalancer clean-up on VM removal \
                       needs a node driver that labels VMs (v1.0.2+) and Rancher v2.11+",
            upstream: &[
                "harvester/harvester pkg/api/kubeconfig/generate_handler.go (ensureSaAndSecret, createRoleBindingIfNotExists, createClusterRoleBindingIfNotExists)",
                "harvester/load-balancer-harvester pkg/controller/vm/controller.go (CleanGuestClusterLBs)",
                "harvester/load-balancer-harvester pkg/utils (LabelKeyGuestClusterNameOnLB)",
                "harvester/load-balancer-harvester pkg/ipam/allocator.go (status.allocated)",
                "rancher/rancher#47870 (pkg/controllers/provisioningv2/harvestercleanup/controller.go)",
                "harvester/harvester#7765",
            ],
            remediation: "Confirm with the cluster's owner that the guest cluster is gone. Credentials: delete the \
                          ServiceAccount (kubectl -n <ns> delete serviceaccount <sa>; its token Secret and RoleBinding \
                          go with it) and the ClusterRoleBinding to harvesterhci.io:csi-driver that names it (kubectl \
                          delete clusterrolebinding <name>, the finding names it). A ClusterRoleBinding whose \
                          ServiceAccount is gone: delete it. LoadBalancers: kubectl -n <ns> delete \
                          loadbalancers.loadbalancer.harvesterhci.io <name> (its finalizer releases the address). A \
                          stale IPPool allocation whose LoadBalancer is gone: release it with the pool's \
                          loadbalancer.harvesterhci.io/manuallyReleaseIP annotation (\"<ip>: <ns>/<name>\").",
        }
    }

    fn check(&self, ctx: &Context<'_>) -> Outcome {
        let inv = ctx.inv;
        let guests = GuestClusters::build(inv);
        let mut out = Outcome::default();
        let sas: BTreeSet<(&str, &str)> = inv
            .objects::<ServiceAccount>()
            .iter()
            .filter_map(|s| Some((s.metadata.namespace.as_deref()?, s.metadata.name.as_str())))
            .collect();
        // Dead clusters by namespace, with the evidence that they are dead.
        let mut dead: BTreeMap<(&str, &str), String> = BTreeMap::new();
        let namespaces: Vec<&str> = guests.credential_namespaces().collect();
        for ns in namespaces {
            if !inv.in_scope(Some(ns)) {
                continue;
            }
            for (sa, state) in guests.credentials_in(ns) {
                let Credentials::Dead(why) = state else {
                    continue;
                };
                let rancher = RancherSays::about(inv, sa);
                if let Some(RancherSays::Alive(ns_in_rancher)) = &rancher {
                    // No VM is left, but Rancher still manages the cluster (scaled to zero, or its
                    // machines are being replaced): its credentials are in use.
                    out.notes.push(format!(
                        "guest cluster {sa} ({ns}) has no living VM, but Rancher still has cluster \
                         {ns_in_rancher}/{sa}: its credentials are not reported"
                    ));
                    continue;
                }
                dead.insert((ns, sa), why.clone());
                if let Some(f) = self.credentials(ctx, &sas, ns, sa, &why, rancher.as_ref()) {
                    out.findings.push(f);
                }
            }
        }
        self.dangling_bindings(ctx, &sas, &mut out);
        let lbs = self.load_balancers(ctx, &guests, &dead, &mut out);
        self.allocations(ctx, &dead, &lbs, &mut out);
        out
    }
}

/// The message and the fix of a dead cluster's credentials finding.
fn credentials_texts(
    ns: &str,
    sa: &str,
    why: &str,
    rancher: Option<&RancherSays>,
    rbs: &[&RoleBinding],
    crbs: &[&ClusterRoleBinding],
) -> (String, String) {
    let bindings: Vec<String> = rbs
        .iter()
        .map(|b| format!("RoleBinding {ns}/{} ({CLOUDPROVIDER_ROLE})", b.metadata.name))
        .chain(
            crbs.iter()
                .map(|b| format!("ClusterRoleBinding {} ({CSI_DRIVER_ROLE})", b.metadata.name)),
        )
        .collect();
    let msg = format!(
        "ServiceAccount {ns}/{sa} holds the Harvester credentials of guest cluster {sa}, which has no living VM \
         ({why}); bound by {}. Its token still works: anyone holding the dead cluster's kubeconfig can create, \
         attach and delete volumes and load balancers in Harvester.{}",
        if bindings.is_empty() {
            "nothing any more".to_string()
        } else {
            bindings.join(" and ")
        },
        rancher.map(RancherSays::sentence).unwrap_or_default()
    );
    let fix = format!(
        "Confirm the guest cluster {sa} is gone, then: kubectl -n {ns} delete serviceaccount {sa} (its token \
         Secret and RoleBinding go with it){}.",
        crbs.iter()
            .map(|b| format!("; kubectl delete clusterrolebinding {}", b.metadata.name))
            .collect::<String>()
    );
    (msg, fix)
}

impl GuestClusterLeftovers {
    /// The ServiceAccount of a dead cluster and its bindings.
    fn credentials(
        &self,
        ctx: &Context<'_>,
        sas: &BTreeSet<(&str, &str)>,
        ns: &str,
        sa: &str,
        why: &str,
        rancher: Option<&RancherSays>,
    ) -> Option<Finding> {
        let inv = ctx.inv;
        let names = |s: &crate::inventory::kinds::role_binding::Subject, d: Option<&str>| {
            s.service_account(d) == Some((ns, sa))
        };
        let rbs: Vec<&RoleBinding> = inv
            .objects::<RoleBinding>()
            .iter()
            .filter(|rb| rb.role_ref.kind == "ClusterRole" && rb.role_ref.name == CLOUDPROVIDER_ROLE)
            .filter(|rb| rb.subjects.iter().any(|s| names(s, rb.metadata.namespace.as_deref())))
            .collect();
        let crbs: Vec<&ClusterRoleBinding> = inv
            .objects::<ClusterRoleBinding>()
            .iter()
            .filter(|b| b.role_ref.kind == "ClusterRole" && b.role_ref.name == CSI_DRIVER_ROLE)
            .filter(|b| b.subjects.iter().any(|s| names(s, None)))
            .collect();
        let exists = sas.contains(&(ns, sa));
        let known = inv.covers::<ServiceAccount>(Some(ns));
        if known && !exists {
            // Gone: its csi-driver binding, if left, is reported as a dangling binding.
            return None;
        }
        let sa_obj = inv
            .objects::<ServiceAccount>()
            .iter()
            .find(|s| s.metadata.namespace.as_deref() == Some(ns) && s.metadata.name == sa);
        let (msg, fix) = credentials_texts(ns, sa, why, rancher, &rbs, &crbs);
        let mut f = match sa_obj {
            Some(obj) => Finding::about(self, Severity::Error, obj, msg, fix).with_confidence(match rancher {
                Some(RancherSays::Gone) => Confidence::Proven,
                _ => Confidence::Likely,
            }),
            // ServiceAccounts were not read: the credentials may be gone already.
            None => {
                let obj_rb = rbs.first().copied();
                let mut f = match (obj_rb, crbs.first()) {
                    (Some(rb), _) => Finding::about(self, Severity::Info, rb, msg, fix),
                    (None, Some(crb)) => Finding::about(self, Severity::Info, *crb, msg, fix),
                    (None, None) => return None,
                };
                f = f
                    .with_confidence(Confidence::Possible)
                    .evidence("unknown-kind:ServiceAccount");
                f
            }
        };
        f = f
            .with_title(format!("credentials of dead guest cluster {sa} still work"))
            .evidence(format!("dead-cluster:{sa}"))
            .evidence(why.to_string());
        if let Some(r) = rancher {
            f = f.evidence(r.evidence(sa));
        }
        for b in &rbs {
            f = f.evidence(format!("rolebinding:{ns}/{}", b.metadata.name));
            f.related.push(b.object_ref());
        }
        for b in &crbs {
            f = f.evidence(format!("clusterrolebinding:{}", b.metadata.name));
            f.related.push(b.object_ref());
        }
        f.details.insert("guestCluster".into(), sa.to_string());
        Some(f)
    }

    /// ClusterRoleBindings to `harvesterhci.io:csi-driver` whose subject ServiceAccount is gone.
    fn dangling_bindings(&self, ctx: &Context<'_>, sas: &BTreeSet<(&str, &str)>, out: &mut Outcome) {
        let inv = ctx.inv;
        let mut unknown = BTreeSet::new();
        for crb in inv.objects::<ClusterRoleBinding>() {
            if crb.role_ref.kind != "ClusterRole" || crb.role_ref.name != CSI_DRIVER_ROLE {
                continue;
            }
            let subjects: Vec<(&str, &str)> = crb
                .subjects
                .iter()
                .filter_map(|s| s.service_account(None))
                .filter(|(ns, _)| inv.in_scope(Some(ns)))
                .collect();
            let mut gone = Vec::new();
            for (ns, sa) in subjects {
                if !inv.covers::<ServiceAccount>(Some(ns)) {
                    unknown.insert(ns);
                } else if !sas.contains(&(ns, sa)) {
                    gone.push((ns, sa));
                }
            }
            if gone.is_empty() {
                continue;
            }
            let keys: Vec<String> = gone.iter().map(|(ns, sa)| format!("{ns}/{sa}")).collect();
            let ns_gone: Vec<&str> = gone
                .iter()
                .map(|(ns, _)| *ns)
                .filter(|ns| {
                    inv.covers::<Namespace>(Some(ns))
                        && !inv.objects::<Namespace>().iter().any(|n| n.metadata.name == *ns)
                })
                .collect();
            let msg = format!(
                "ClusterRoleBinding {} binds {CSI_DRIVER_ROLE} to ServiceAccount {}, which no longer exists{}. A \
                 cluster-scoped binding is not garbage-collected with its namespaced ServiceAccount: whoever creates \
                 a ServiceAccount of that name there gets the CSI driver's cluster-wide volume rights.",
                crb.metadata.name,
                keys.join(", "),
                if ns_gone.is_empty() {
                    String::new()
                } else {
                    format!(" (nor does namespace {})", ns_gone.join(", "))
                }
            );
            let fix = format!("kubectl delete clusterrolebinding {}", crb.metadata.name);
            let mut f = Finding::about(self, Severity::Warning, crb, msg, fix)
                .with_confidence(Confidence::Proven)
                .with_title(format!("{CSI_DRIVER_ROLE} binding of a ServiceAccount that is gone"));
            for k in &keys {
                f = f.evidence(format!("subject-gone:{k}"));
            }
            for ns in ns_gone {
                f = f.evidence(format!("namespace-gone:{ns}"));
            }
            out.findings.push(f);
        }
        if !unknown.is_empty() {
            out.notes.push(format!(
                "ServiceAccounts were not read in {}: {CSI_DRIVER_ROLE} bindings there were not checked",
                unknown.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }

    /// LoadBalancers of dead clusters. Returns the keys of the LoadBalancers that exist.
    fn load_balancers<'a>(
        &self,
        ctx: &Context<'a>,
        guests: &GuestClusters<'_>,
        dead: &BTreeMap<(&str, &str), String>,
        out: &mut Outcome,
    ) -> BTreeSet<(&'a str, &'a str)> {
        let inv = ctx.inv;
        let mut existing = BTreeSet::new();
        for lb in inv.objects::<LoadBalancer>() {
            let Some(ns) = lb.metadata.namespace.as_deref() else {
                continue;
            };
            existing.insert((ns, lb.metadata.name.as_str()));
            let Some(cluster) = lb.guest_cluster() else {
                continue;
            };
            if !inv.in_scope(Some(ns)) || lb.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if guests.living_vm_of(cluster).is_some() {
                continue;
            }
            let rancher = RancherSays::about(inv, cluster);
            if matches!(rancher, Some(RancherSays::Alive(_))) {
                continue;
            }
            let mut evidence = vec![format!("cluster:{cluster}"), format!("no-living-vm:{cluster}")];
            if let Some(r) = &rancher {
                evidence.push(r.evidence(cluster));
            }
            let (confidence, why) = lb_verdict(inv, guests, dead, ns, cluster, rancher.as_ref(), &mut evidence);
            let allocations: Vec<String> = inv
                .objects::<IpPool>()
                .iter()
                .flat_map(|p| {
                    p.allocations()
                        .filter(|(_, a, b)| *a == ns && *b == lb.metadata.name)
                        .map(|(ip, _, _)| format!("{}/{ip}", p.metadata.name))
                        .collect::<Vec<_>>()
                })
                .collect();
            evidence.extend(allocations.iter().map(|a| format!("ippool-allocation:{a}")));
            let severity = if confidence == Confidence::Possible {
                Severity::Info
            } else {
                Severity::Warning
            };
            let address = Some(lb.status.address.as_str()).filter(|a| !a.is_empty());
            if let Some(a) = address {
                evidence.push(format!("address:{a}"));
            }
            let msg = format!(
                "LoadBalancer {ns}/{} was made for guest cluster {cluster}, which has no living VM: {why}. It still \
                 holds {}{}.",
                lb.metadata.name,
                address.map_or("its address".to_string(), |a| format!("address {a}")),
                if allocations.is_empty() {
                    String::new()
                } else {
                    format!(" (IPPool allocation {})", allocations.join(", "))
                }
            );
            let fix = format!(
                "Confirm the guest cluster {cluster} is gone, then kubectl -n {ns} delete \
                 loadbalancers.loadbalancer.harvesterhci.io {} (its finalizer releases the address).",
                lb.metadata.name
            );
            let mut f = Finding::about(self, severity, lb, msg, fix)
                .with_confidence(confidence)
                .with_title(format!("load balancer of dead guest cluster {cluster}"));
            f.evidence = evidence;
            f.details.insert("guestCluster".into(), cluster.to_string());
            out.findings.push(f);
        }
        existing
    }

    /// IPPool allocations whose LoadBalancer is gone.
    fn allocations(
        &self,
        ctx: &Context<'_>,
        dead: &BTreeMap<(&str, &str), String>,
        lbs: &BTreeSet<(&str, &str)>,
        out: &mut Outcome,
    ) {
        let inv = ctx.inv;
        for pool in inv.objects::<IpPool>() {
            let mut stale = Vec::new();
            let mut attributed = Vec::new();
            for (ip, ns, name) in pool.allocations() {
                if !inv.in_scope(Some(ns)) || !inv.covers::<LoadBalancer>(Some(ns)) || lbs.contains(&(ns, name)) {
                    continue;
                }
                stale.push(format!("{ip}={ns}/{name}"));
                // The cloud provider names them `<cluster>-<service ns>-<service>-<hash>`.
                if let Some(((_, c), _)) = dead
                    .iter()
                    .filter(|((dns, c), _)| *dns == ns && name.strip_prefix(*c).is_some_and(|r| r.starts_with('-')))
                    .max_by_key(|((_, c), _)| c.len())
                {
                    attributed.push(format!("dead-cluster:{c}"));
                }
            }
            if stale.is_empty() {
                continue;
            }
            let confidence = if attributed.len() == stale.len() {
                Confidence::Likely
            } else {
                Confidence::Possible
            };
            let severity = if confidence == Confidence::Possible {
                Severity::Info
            } else {
                Severity::Warning
            };
            let msg = format!(
                "IPPool {} keeps {} address{} allocated to LoadBalancers that no longer exist: {}{}.",
                pool.metadata.name,
                stale.len(),
                if stale.len() == 1 { "" } else { "es" },
                stale.iter().map(|s| s.replacen('=', " to ", 1)).collect::<Vec<_>>().join(", "),
                if attributed.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} of them named after a guest cluster with no living VM)",
                        attributed.len()
                    )
                }
            );
            let fix = format!(
                "Release each address with the annotation loadbalancer.harvesterhci.io/manuallyReleaseIP: \
                 \"<ip>: <namespace>/<name>\" on IPPool {}.",
                pool.metadata.name
            );
            let mut f = Finding::about(self, severity, pool, msg, fix)
                .with_confidence(confidence)
                .with_title(format!(
                    "{} address{} allocated to deleted load balancers",
                    stale.len(),
                    if stale.len() == 1 { "" } else { "es" }
                ));
            f.evidence = stale
                .iter()
                .map(|s| format!("stale-allocation:{s}"))
                .chain(attributed.into_iter().collect::<BTreeSet<_>>())
                .collect();
            out.findings.push(f);
        }
    }
}

/// How sure a dead cluster's LoadBalancer is a leftover, and why (for the message).
fn lb_verdict(
    inv: &crate::inventory::Inventory,
    guests: &GuestClusters<'_>,
    dead: &BTreeMap<(&str, &str), String>,
    ns: &str,
    cluster: &str,
    rancher: Option<&RancherSays>,
    evidence: &mut Vec<String>,
) -> (Confidence, String) {
    let (confidence, why) = lb_evidence(inv, guests, dead, ns, cluster, evidence);
    if !matches!(rancher, Some(RancherSays::Gone)) {
        return (confidence, why);
    }
    // Rancher does not know the cluster. That alone is no proof (a guest cluster set up by hand
    // or by another Rancher uses the same labels); with the liveness evidence it is.
    let vms_read = inv.covers::<VirtualMachine>(Some(ns)) && guests.living_guest_vm_in(ns).is_none();
    match confidence {
        Confidence::Likely => (Confidence::Proven, format!("{why}, and Rancher has no cluster {cluster}")),
        Confidence::Possible if vms_read => (Confidence::Likely, format!("{why}, and Rancher has no cluster {cluster}")),
        c => (c, why),
    }
}

/// The LoadBalancer's verdict from what Harvester holds.
fn lb_evidence(
    inv: &crate::inventory::Inventory,
    guests: &GuestClusters<'_>,
    dead: &BTreeMap<(&str, &str), String>,
    ns: &str,
    cluster: &str,
    evidence: &mut Vec<String>,
) -> (Confidence, String) {
    if let Some(w) = dead.get(&(ns, cluster)) {
        evidence.push(format!("dead-credentials:{cluster}({w})"));
        (
            Confidence::Likely,
            format!("its credentials ServiceAccount {ns}/{cluster} belongs to a cluster with no living VM ({w})"),
        )
    } else if !inv.covers::<VirtualMachine>(Some(ns)) {
        evidence.push("unknown-kind:VirtualMachine".into());
        (Confidence::Possible, "VirtualMachines were not read there".to_string())
    } else if let Some(vm) = guests.living_guest_vm_in(ns) {
        // A living guest cluster there may have been renamed or use another label.
        evidence.push(format!("living-guest-vm:{}", vm.metadata.name));
        (
            Confidence::Possible,
            format!(
                "no VM is labelled for it, but guest-cluster VM {} lives in {ns}",
                vm.metadata.name
            ),
        )
    } else {
        (
            Confidence::Possible,
            format!("no VM in {ns} is labelled for it or named after it, and no credentials name it"),
        )
    }
}

/// What Rancher (`--rancher-kubeconfig`) says about a guest cluster, by the name its
/// credentials and LoadBalancer labels carry: the provisioning cluster's name (or its
/// management name, `c-m-…`, rancher/rancher `pkg/apis/provisioning.cattle.io/v1` Cluster
/// `status.clusterName`), read as for `orphaned-guest-pvc` (rancher/rancher
/// `pkg/controllers/provisioningv2/harvestercleanup/controller.go`). `None` without
/// `--rancher-kubeconfig`.
enum RancherSays {
    /// Rancher manages it (the namespace of its provisioning Cluster).
    Alive(String),
    /// Rancher is deleting it.
    Deleting,
    /// Rancher has no cluster of that name: with the liveness evidence, proof that it is gone.
    Gone,
    /// Rancher could not be read (why).
    Unchecked(String),
}

impl RancherSays {
    fn about(inv: &crate::inventory::Inventory, cluster: &str) -> Option<Self> {
        let r = inv.rancher.as_ref()?;
        if let Some(e) = &r.error {
            return Some(Self::Unchecked(e.clone()));
        }
        let known = r
            .clusters
            .iter()
            .filter(|c| c.name == cluster || c.management_name.as_deref() == Some(cluster))
            .min_by_key(|c| c.deleting);
        Some(match known {
            Some(c) if !c.deleting => Self::Alive(c.namespace.clone()),
            Some(_) => Self::Deleting,
            None => Self::Gone,
        })
    }
    fn evidence(&self, cluster: &str) -> String {
        match self {
            Self::Alive(_) => format!("rancher-cluster-alive:{cluster}"),
            Self::Deleting => format!("rancher-cluster-deleting:{cluster}"),
            Self::Gone => format!("rancher-cluster-gone:{cluster}"),
            Self::Unchecked(_) => "rancher-unchecked".to_string(),
        }
    }
    fn sentence(&self) -> String {
        match self {
            Self::Alive(_) => String::new(),
            Self::Deleting => " Rancher is deleting the cluster.".to_string(),
            Self::Gone => " Rancher has no cluster of that name either.".to_string(),
            Self::Unchecked(e) => format!(" Rancher could not be asked ({e})."),
        }
    }
}
