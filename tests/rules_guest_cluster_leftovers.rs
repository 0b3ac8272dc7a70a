//! `guest-cluster-leftovers` on fixtures (clock 2026-11-22T12:00:00Z): a dead cluster's
//! credentials, a csi-driver binding of a gone ServiceAccount, a dead cluster's LoadBalancer and
//! a stale IPPool allocation; and the near-misses.

mod common;

use common::fixtures::{of, run};
use harvester_hygiene::rules::{Confidence, Severity};

const RULE: &str = "guest-cluster-leftovers";

fn sa(ns: &str, name: &str) -> String {
    format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n  namespace: {ns}\n  uid: sa-{name}\n")
}

/// The RoleBinding and ClusterRoleBinding Harvester's kubeconfig endpoint makes for `sa`
/// (harvester/harvester pkg/api/kubeconfig/generate_handler.go).
fn credentials(ns: &str, name: &str, crb_name: &str) -> Vec<String> {
    vec![
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {ns}-{name}\n  namespace: {ns}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: harvesterhci.io:cloudprovider\nsubjects:\n- kind: ServiceAccount\n  name: {name}\n  namespace: {ns}\n"
        ),
        crb(crb_name, "harvesterhci.io:csi-driver", ns, name),
    ]
}

fn crb(name: &str, role: &str, ns: &str, sa: &str) -> String {
    format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: {name}\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {role}\nsubjects:\n- kind: ServiceAccount\n  name: {sa}\n  namespace: {ns}\n"
    )
}

fn vm(ns: &str, name: &str, cluster: &str) -> String {
    format!(
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    harvesterhci.io/creator: docker-machine-driver-harvester\n    guestcluster.harvesterhci.io/name: {cluster}\nspec:\n  template:\n    spec:\n      volumes: []\n"
    )
}

fn lb(ns: &str, name: &str, cluster: &str, workload: &str, extra_meta: &str) -> String {
    format!(
        "apiVersion: loadbalancer.harvesterhci.io/v1beta1\nkind: LoadBalancer\nmetadata:\n  name: {name}\n  namespace: {ns}\n{extra_meta}  labels:\n    cloudprovider.harvesterhci.io/cluster: {cluster}\nspec:\n  ipam: pool\n  workloadType: {workload}\nstatus:\n  address: 10.0.0.5\n"
    )
}

fn docs() -> Vec<String> {
    let mut d = vec![
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: rke\n".to_string(),
        // Dead cluster c1: its credentials remain, and a Longhorn volume's history names its
        // deleted VM c1-pool1-abcde.
        sa("rke", "c1"),
        "apiVersion: longhorn.io/v1beta2\nkind: Volume\nmetadata:\n  name: pvc-0001\n  namespace: longhorn-system\nspec:\n  size: \"1073741824\"\nstatus:\n  state: detached\n  kubernetesStatus:\n    namespace: rke\n    pvcName: pvc-11111111-2222-3333-4444-555555555555\n    lastPodRefAt: \"2026-11-01T00:00:00Z\"\n    workloadsStatus:\n    - podName: virt-launcher-c1-pool1-abcde-x7k2p\n      workloadType: VirtualMachineInstance\n      workloadName: c1-pool1-abcde\n".to_string(),
        lb("rke", "c1-default-nginx-1234abcd", "c1", "cluster", ""),
        // Near-miss: living cluster c2 (a labelled VM), its credentials and load balancer.
        sa("rke", "c2"),
        vm("rke", "c2-pool1-xyz12", "c2"),
        lb("rke", "c2-default-web-0badf00d", "c2", "cluster", ""),
        // Near-miss: credentials that match no cluster we can see (a Terraform-built cluster).
        sa("rke", "tf"),
        // Near-miss: a VM-type load balancer with a cluster label; one of c1's being deleted.
        lb("rke", "vm-lb", "c1", "vm", ""),
        lb("rke", "c1-going-00000000", "c1", "cluster", "  deletionTimestamp: \"2026-11-22T11:00:00Z\"\n  finalizers: [wrangler.cattle.io/harvester-lb-controller]\n"),
        // A csi-driver binding whose ServiceAccount is gone, with a hashed name.
        crb("rke-c0-3f9a1b2c", "harvesterhci.io:csi-driver", "rke", "c0"),
        // Near-miss: another role's binding of a gone ServiceAccount.
        crb("rke-c0-view", "view", "rke", "c0"),
        // IPPool: one allocation to a living LB, one to c1's deleted LB.
        "apiVersion: loadbalancer.harvesterhci.io/v1beta1\nkind: IPPool\nmetadata:\n  name: pool1\nspec:\n  ranges:\n  - subnet: 10.0.0.0/24\nstatus:\n  allocated:\n    10.0.0.5: rke/c1-default-nginx-1234abcd\n    10.0.0.6: rke/c1-default-web-deadbeef\n    10.0.0.7: rke/c2-default-web-0badf00d\n  total: 253\n  available: 250\n".to_string(),
    ];
    d.extend(credentials("rke", "c1", "rke-c1"));
    d.extend(credentials("rke", "c2", "rke-c2"));
    d.extend(credentials("rke", "tf", "rke-tf"));
    d
}

#[test]
fn leftovers_of_a_dead_guest_cluster() {
    let r = run(&docs(), Some("v1.6.0"));
    let f = of(&r, RULE);
    let mut names: Vec<String> = f
        .iter()
        .map(|x| format!("{}/{}", x.object.kind, x.object.name))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "ClusterRoleBinding/rke-c0-3f9a1b2c",
            "IPPool/pool1",
            "LoadBalancer/c1-default-nginx-1234abcd",
            "ServiceAccount/c1",
        ],
        "{:#?}",
        r.findings
    );
    let by = |k: &str| f.iter().find(|x| x.object.kind == k).unwrap();
    let creds = by("ServiceAccount");
    assert_eq!(creds.severity, Severity::Error);
    assert_eq!(creds.confidence, Confidence::Likely);
    for e in [
        "dead-cluster:c1",
        "last-vm-gone:c1-pool1-abcde",
        "rolebinding:rke/rke-c1",
        "clusterrolebinding:rke-c1",
    ] {
        assert!(creds.evidence.iter().any(|x| x == e), "{e}: {:?}", creds.evidence);
    }
    assert_eq!(creds.related.len(), 2);
    assert!(creds.remediation.contains("delete clusterrolebinding rke-c1"));
    let dangling = by("ClusterRoleBinding");
    assert_eq!(dangling.confidence, Confidence::Proven);
    assert!(dangling.evidence.iter().any(|x| x == "subject-gone:rke/c0"));
    let lbf = by("LoadBalancer");
    assert_eq!(lbf.severity, Severity::Warning);
    assert_eq!(lbf.confidence, Confidence::Likely);
    assert!(
        lbf.evidence.iter().any(|x| x == "ippool-allocation:pool1/10.0.0.5"),
        "{:?}",
        lbf.evidence
    );
    let pool = by("IPPool");
    assert_eq!(pool.confidence, Confidence::Likely);
    assert_eq!(
        pool.evidence,
        [
            "stale-allocation:10.0.0.6=rke/c1-default-web-deadbeef",
            "dead-cluster:c1"
        ]
    );
    // Report only, and never a Secret.
    assert!(f.iter().all(|x| x.fix_input.is_none()));
    assert!(r.findings.iter().all(|x| x.object.kind != "Secret"));
}

#[test]
fn gone_service_account_leaves_only_its_binding() {
    // c1's ServiceAccount deleted: its credentials finding goes, its csi-driver binding dangles.
    let d: Vec<String> = docs().into_iter().filter(|x| !x.contains("uid: sa-c1")).collect();
    let r = run(&d, Some("v1.6.0"));
    let f = of(&r, RULE);
    assert!(!f.is_empty());
    assert!(f.iter().all(|x| x.object.kind != "ServiceAccount"), "{f:#?}");
    let mut crbs: Vec<&str> = f
        .iter()
        .filter(|x| x.object.kind == "ClusterRoleBinding")
        .map(|x| x.object.name.as_str())
        .collect();
    crbs.sort_unstable();
    assert_eq!(crbs, ["rke-c0-3f9a1b2c", "rke-c1"]);
}

#[test]
fn living_cluster_vm_keeps_everything() {
    // A labelled VM of c1 comes back: nothing of c1's is reported.
    let mut d = docs();
    d.push(vm("rke", "c1-pool1-new01", "c1"));
    let r = run(&d, Some("v1.6.0"));
    let f = of(&r, RULE);
    let names: Vec<&str> = f.iter().map(|x| x.object.name.as_str()).collect();
    assert!(!names.is_empty());
    assert!(!names.contains(&"c1"), "{names:?}");
    assert!(!names.contains(&"c1-default-nginx-1234abcd"), "{names:?}");
    // The stale allocation stays, but no longer attributed to a dead cluster: possible (info).
    let pool = f.iter().find(|x| x.object.name == "pool1").unwrap();
    assert_eq!(pool.confidence, Confidence::Possible);
    assert_eq!(pool.severity, Severity::Info);
}
