//! `vm-name-breaks-migration`: which VMs are affected (non-zero limits only), and the severity
//! from the namespace's quota headroom for a second virt-launcher pod. Fixtures through the
//! real file loader, and one run on a real kube-apiserver.

mod common;

use common::fixtures::{keys, of, run};
use harvester_hygiene::rules::{Confidence, Finding, Severity};
use serde_json::{Value, json};

const RULE: &str = "vm-name-breaks-migration";
const DEFAULT_LABEL: &str = "resourcequota.management.cattle.io/default-resource-quota";

/// A name of `len` characters (54+ is too long for `migrating-<name>`).
fn name(len: usize) -> String {
    let mut s = String::from("vm-");
    while s.len() < len {
        s.push('a');
    }
    s
}

/// A uuid-shaped uid for `name` (label values, like `kubevirt.io/created-by`, are capped at 63).
fn uid(kind: &str, name: &str) -> String {
    let h = format!("{kind}/{name}").bytes().fold(0xcbf29ce484222325u64, |a, b| {
        (a ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 20) & 0xfff,
        h & 0xffff_ffff_ffff
    )
}

fn map(kv: &[(&str, &str)]) -> Value {
    Value::Object(kv.iter().map(|(k, v)| (k.to_string(), json!(v))).collect())
}

/// A ResourceQuota as the apiserver returns it: `spec.hard`, and a status whose `hard` mirrors
/// the spec (the quota controller copies it) when `used` is given.
fn quota(ns: &str, name: &str, labelled: bool, hard: &[(&str, &str)], used: Option<&[(&str, &str)]>) -> Value {
    let labels = if labelled {
        json!({DEFAULT_LABEL: "true"})
    } else {
        json!({})
    };
    let mut q = json!({"apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "labels": labels,
            "annotations": {"field.cattle.io/resourceQuota": "{\"limit\":{\"limitsCpu\":\"20\",\"limitsMemory\":\"16Gi\"}}"}},
        "spec": {"hard": map(hard)}});
    if let Some(used) = used {
        q["status"] = json!({"hard": map(hard), "used": map(used)});
    }
    q
}

fn vm(ns: &str, name: &str, limits: &[(&str, &str)]) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": ns, "uid": uid("vm", name),
            "labels": {"harvesterhci.io/creator": "harvester"}},
        "spec": {"runStrategy": "RerunOnFailure", "template": {
            "metadata": {"labels": {"harvesterhci.io/vmName": name}},
            "spec": {"domain": {"cpu": {"cores": 2, "sockets": 1, "threads": 1}, "devices": {},
                "resources": {"limits": map(limits), "requests": {"cpu": "125m", "memory": "2730Mi"}}},
                "volumes": []}}}})
}

fn vmi(ns: &str, name: &str, limits: &[(&str, &str)]) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": ns, "uid": uid("vmi", name),
            "labels": {"kubevirt.io/nodeName": "node-1"},
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": name,
                "uid": uid("vm", name), "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"domain": {"cpu": {"cores": 2, "sockets": 1, "threads": 1}, "devices": {},
            "resources": {"limits": map(limits), "requests": {"cpu": "125m", "memory": "2730Mi"}}},
            "volumes": []},
        "status": {"phase": "Running"}})
}

/// The VMI's virt-launcher pod: the compute container carries the VM's limits plus KubeVirt's
/// overhead (here 4Gi + 250Mi), plus the small guest-console-log container.
fn launcher(ns: &str, vm: &str, compute_limits: &[(&str, &str)], compute_requests: &[(&str, &str)]) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("virt-launcher-{vm}-x7k2p"), "namespace": ns,
            "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": uid("vmi", vm),
                "vm.kubevirt.io/name": vm, "harvesterhci.io/vmName": vm}},
        "spec": {"containers": [
            {"name": "compute", "image": "registry.suse.com/suse/sles/15.6/virt-launcher:1.3.1",
             "resources": {"limits": map(compute_limits), "requests": map(compute_requests)}},
            {"name": "guest-console-log", "image": "registry.suse.com/suse/sles/15.6/virt-launcher:1.3.1",
             "resources": {"limits": {"cpu": "15m", "memory": "60M"}, "requests": {"cpu": "5m", "memory": "35M"}}}],
            "volumes": []},
        "status": {"phase": "Running"}})
}

const LIMITS: &[(&str, &str)] = &[("cpu", "2"), ("memory", "4Gi")];
const POD_LIMITS: &[(&str, &str)] = &[("cpu", "2"), ("memory", "4346Mi")];
const POD_REQUESTS: &[(&str, &str)] = &[("cpu", "125m"), ("memory", "2980Mi")];

/// One JSON `List`, as `kubectl get -o json` prints it.
fn docs(v: &[Value]) -> Vec<String> {
    vec![json!({"apiVersion": "v1", "kind": "List", "items": v}).to_string()]
}

fn findings(v: &[Value], version: Option<&str>) -> Vec<Finding> {
    let r = run(&docs(v), version);
    of(&r, RULE).into_iter().cloned().collect()
}

fn has(f: &Finding, fact: &str) -> bool {
    f.evidence.iter().any(|e| e == fact)
}

/// A running long-named VM with its VMI and launcher pod, under a default quota of 20 cpu /
/// 16Gi memory whose status.used is `used_memory`.
fn running(ns: &str, vm_name: &str, used_memory: &str) -> Vec<Value> {
    vec![
        quota(
            ns,
            "default-8qv2c",
            true,
            &[("limits.cpu", "20"), ("limits.memory", "16Gi")],
            Some(&[("limits.cpu", "4"), ("limits.memory", used_memory)]),
        ),
        vm(ns, vm_name, LIMITS),
        vmi(ns, vm_name, LIMITS),
        launcher(ns, vm_name, POD_LIMITS, POD_REQUESTS),
    ]
}

#[test]
fn no_headroom_for_a_second_launcher_pod_is_an_error_and_headroom_a_warning() {
    let long = name(57);
    // 12Gi used + 4346Mi + 60M > 16Gi.
    let f = findings(&running("full", &long, "12Gi"), Some("v1.4.1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[0].confidence, Confidence::Proven);
    assert!(
        has(&f[0], "headroom:none(limits.memory used+pod>hard)"),
        "{:?}",
        f[0].evidence
    );
    assert!(has(&f[0], "name-length:57"));
    assert!(has(&f[0], "vmi-limits:cpu=2,memory=4Gi"));
    assert!(has(&f[0], "quota:default-8qv2c"));
    assert!(has(&f[0], &format!("launcher-pod:virt-launcher-{long}-x7k2p")));
    assert!(
        f[0].message.contains("cannot live-migrate on Harvester v1.4.1"),
        "{}",
        f[0].message
    );
    assert!(
        f[0].message.contains("(67 characters) exceeds Kubernetes' 63"),
        "{}",
        f[0].message
    );
    assert!(
        f[0].message.contains("limits.memory used 12Gi + launcher pod"),
        "{}",
        f[0].message
    );

    // Near-miss: 8Gi used leaves room for the target pod: a warning that says why it works.
    let f = findings(&running("roomy", &long, "8Gi"), Some("v1.4.1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].confidence, Confidence::Proven);
    assert!(has(&f[0], "headroom:ok"), "{:?}", f[0].evidence);
    assert!(
        f[0].message.contains("fail once the namespace fills up"),
        "{}",
        f[0].message
    );

    // A 53-character name is fine however full the namespace is.
    assert!(findings(&running("full", &name(53), "16Gi"), Some("v1.4.1")).is_empty());
    // Fixed versions: nothing.
    assert!(findings(&running("full", &long, "12Gi"), Some("v1.4.2")).is_empty());
}

#[test]
fn unknown_version_stays_a_possible_warning() {
    let f = findings(&running("full", &name(57), "12Gi"), None);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].confidence, Confidence::Possible);
    assert!(has(&f[0], "version:unknown"));
    assert!(has(&f[0], "headroom:none(limits.memory used+pod>hard)"));
    assert!(f[0].message.contains("version is unknown"), "{}", f[0].message);
}

#[test]
fn vms_without_a_non_zero_limit_are_not_affected() {
    let long = name(57);
    let q = || {
        quota(
            "ns",
            "default-8qv2c",
            true,
            &[("limits.cpu", "20"), ("limits.memory", "16Gi")],
            Some(&[("limits.cpu", "20"), ("limits.memory", "16Gi")]),
        )
    };
    // Positive first: the same namespace, a VM with limits, and no headroom at all.
    let with_limits = vec![
        q(),
        vm("ns", &long, LIMITS),
        vmi("ns", &long, LIMITS),
        launcher("ns", &long, POD_LIMITS, POD_REQUESTS),
    ];
    let f = findings(&with_limits, Some("v1.4.1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Error);

    // Running VMI without limits (Harvester writes no key), even if the template has some.
    let no_vmi_limits = vec![
        q(),
        vm("ns", &long, LIMITS),
        vmi("ns", &long, &[]),
        launcher("ns", &long, &[], POD_REQUESTS),
    ];
    assert!(findings(&no_vmi_limits, Some("v1.4.1")).is_empty());
    // Zero limits are no limits (calculator.go uses IsZero).
    let zero = [("cpu", "0"), ("memory", "0Gi")];
    let zero_vmi = vec![
        q(),
        vm("ns", &long, &zero),
        vmi("ns", &long, &zero),
        launcher("ns", &long, &[], POD_REQUESTS),
    ];
    assert!(findings(&zero_vmi, Some("v1.4.1")).is_empty());
    // Stopped VM whose template has zero limits (another VMI makes the kind known).
    let other = name(20);
    let zero_stopped = vec![
        q(),
        vm("ns", &long, &zero),
        vm("ns", &other, LIMITS),
        vmi("ns", &other, LIMITS),
    ];
    assert!(findings(&zero_stopped, Some("v1.4.1")).is_empty());
    // A quota whose limits are zero is an empty quota to Harvester (isEmptyQuota).
    let zero_quota = vec![
        quota(
            "ns",
            "default-8qv2c",
            true,
            &[("limits.cpu", "0"), ("limits.memory", "0")],
            Some(&[("limits.cpu", "0"), ("limits.memory", "0")]),
        ),
        vm("ns", &long, LIMITS),
        vmi("ns", &long, LIMITS),
        launcher("ns", &long, POD_LIMITS, POD_REQUESTS),
    ];
    assert!(findings(&zero_quota, Some("v1.4.1")).is_empty());
}

#[test]
fn a_stopped_vm_is_judged_from_its_template() {
    let long = name(58);
    let other = name(20);
    let base = |limits: &[(&str, &str)]| {
        vec![
            quota(
                "ns",
                "default-8qv2c",
                true,
                &[("limits.cpu", "20"), ("limits.memory", "16Gi")],
                Some(&[("limits.cpu", "4"), ("limits.memory", "8Gi")]),
            ),
            vm("ns", &long, limits),
            // Another running VM makes VirtualMachineInstances known in the namespace.
            vm("ns", &other, LIMITS),
            vmi("ns", &other, LIMITS),
            launcher("ns", &other, POD_LIMITS, POD_REQUESTS),
        ]
    };
    let f = findings(&base(LIMITS), Some("v1.3.2"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].object.name, long);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].confidence, Confidence::Likely);
    assert!(has(&f[0], "vm:stopped"));
    assert!(has(&f[0], "template-limits:cpu=2,memory=4Gi"), "{:?}", f[0].evidence);
    assert!(f[0].message.contains("It is stopped now"), "{}", f[0].message);
    // Near-miss: the template has no limits at all.
    assert!(findings(&base(&[]), Some("v1.3.2")).is_empty());
}

#[test]
fn without_the_launcher_pod_the_estimate_and_its_margin_are_stated() {
    let long = name(56);
    // 12Gi used + 4Gi = 16Gi fits; with KubeVirt's overhead (>= 234Mi for 2 vCPUs) it does not.
    let mut v = running("ns", &long, "12Gi");
    v.pop(); // no launcher pod ...
    v.push(launcher("ns", &name(20), POD_LIMITS, POD_REQUESTS)); // ... but Pods are known here
    let f = findings(&v, Some("v1.4.1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[0].confidence, Confidence::Likely);
    assert!(has(&f[0], "launcher-pod:not-found"), "{:?}", f[0].evidence);
    assert!(has(&f[0], "estimate-margin:210Mi+8Mi+8Mi/vcpu"));
    assert!(has(&f[0], "headroom:none(limits.memory used+estimate>hard)"));
    assert!(
        f[0].message
            .contains("at least 210Mi + 8Mi + 8Mi per vCPU of KubeVirt memory overhead")
            && f[0].message.contains("renderresources.go GetMemoryOverhead"),
        "{}",
        f[0].message
    );
    // Harvester v1.2 ships KubeVirt v0.54: the smaller fixed part.
    let f = findings(&v, Some("v1.2.2"));
    assert_eq!(f.len(), 1);
    assert!(has(&f[0], "estimate-margin:180Mi+8Mi+8Mi/vcpu"));
    // Near-miss: 11Gi used leaves room for the estimate too.
    let mut roomy = running("ns", &long, "11Gi");
    roomy.pop();
    let f = findings(&roomy, Some("v1.4.1"));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].confidence, Confidence::Likely);
    // No Pod at all in the input: the kind is unknown, said so.
    assert!(has(&f[0], "unknown-kind:Pod"), "{:?}", f[0].evidence);
    assert!(has(&f[0], "headroom:ok"));
}

#[test]
fn a_requests_quota_without_headroom_blocks_the_target_pod_too() {
    let long = name(60);
    let mut v = running("ns", &long, "8Gi"); // limits have room
    v.push(quota(
        "ns",
        "compute-requests",
        false,
        &[("requests.cpu", "4"), ("requests.memory", "8Gi")],
        Some(&[("requests.cpu", "1"), ("requests.memory", "6Gi")]),
    ));
    // 6Gi + 2980Mi + 35M > 8Gi.
    let f = findings(&v, Some("v1.4.1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        has(&f[0], "headroom:none(requests.memory used+pod>hard)"),
        "{:?}",
        f[0].evidence
    );
    assert!(
        f[0].message.contains("ResourceQuota compute-requests has no headroom"),
        "{}",
        f[0].message
    );
    assert!(f[0].message.contains("whatever the VM's name"), "{}", f[0].message);
    // Near-miss: 4Gi of requests used.
    v.pop();
    v.push(quota(
        "ns",
        "compute-requests",
        false,
        &[("requests.cpu", "4"), ("requests.memory", "8Gi")],
        Some(&[("requests.cpu", "1"), ("requests.memory", "4Gi")]),
    ));
    let f = findings(&v, Some("v1.4.1"));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(has(&f[0], "headroom:ok"));
}

#[test]
fn quota_usage_unknown_to_the_apiserver_or_to_us() {
    let long = name(57);
    // status.hard lists limits.memory but status.used does not: admission refuses new pods.
    let mut v = running("ns", &long, "8Gi");
    v[0]["status"]["used"] = json!({"limits.cpu": "4"});
    let f = findings(&v, Some("v1.4.1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        has(&f[0], "headroom:none(limits.memory status unknown)"),
        "{:?}",
        f[0].evidence
    );
    // A manifest without status: headroom unknown, a likely warning.
    let mut v = running("ns", &long, "8Gi");
    v[0].as_object_mut().unwrap().remove("status");
    let f = findings(&v, Some("v1.4.1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].confidence, Confidence::Likely);
    assert!(
        has(&f[0], "headroom:unknown(limits.cpu no status.used)"),
        "{:?}",
        f[0].evidence
    );
}

#[test]
fn unknown_kinds_are_reported_at_info_not_silenced() {
    let long = name(57);
    // No VirtualMachineInstance in the input: whether it runs is unknown.
    let v = vec![running("ns", &long, "12Gi")[0].clone(), vm("ns", &long, LIMITS)];
    let f = findings(&v, Some("v1.4.1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].confidence, Confidence::Possible);
    assert!(has(&f[0], "unknown-kind:VirtualMachineInstance"), "{:?}", f[0].evidence);
    assert!(f[0].message.contains("VirtualMachineInstances are unknown in ns"));
    // No ResourceQuota known in the namespace.
    let v = vec![vm("ns", &long, LIMITS), vmi("ns", &long, LIMITS)];
    let f = findings(&v, Some("v1.4.1"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Info);
    assert!(has(&f[0], "unknown-kind:ResourceQuota"));
    // Near-miss for both: a VM without limits stays silent even when nothing else is known.
    assert!(findings(&[vm("ns", &long, &[])], Some("v1.4.1")).is_empty());
    // And a known namespace without a Rancher quota is silent.
    let v = vec![
        quota(
            "ns",
            "other",
            false,
            &[("limits.cpu", "2")],
            Some(&[("limits.cpu", "2")]),
        ),
        vm("ns", &long, LIMITS),
        vmi("ns", &long, LIMITS),
    ];
    assert!(keys(&run(&docs(&v), Some("v1.4.1")), RULE).is_empty());
}

#[tokio::test]
async fn headroom_on_a_real_apiserver() {
    use harvester_hygiene::inventory::live::LiveOptions;
    use harvester_hygiene::scan::{Input, ScanOptions, scan};

    let long = format!("{}-{}", common::unique("vm"), "x".repeat(60))
        .chars()
        .take(57)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    assert!(long.len() >= 54);
    let mut namespaces = vec![];
    for used in ["12Gi", "8Gi"] {
        let ns = common::namespace("vmname").await;
        // Pods first: no quota is there yet to charge them (no quota controller runs here).
        let [q, vm, mut vmi, mut pod]: [Value; 4] = running(&ns, &long, used).try_into().unwrap();
        // The apiserver assigns uids: the VMI's owner reference must name the real VM, or the
        // garbage collector deletes the VMI.
        let vm = common::create(vm).await;
        vmi["metadata"]["ownerReferences"][0]["uid"] = vm["metadata"]["uid"].clone();
        let vmi = common::create(vmi).await;
        pod["metadata"]["labels"]["kubevirt.io/created-by"] = vmi["metadata"]["uid"].clone();
        common::create(pod).await;
        // The quota's status (hard and used) goes through the status subresource.
        common::create(q).await;
        namespaces.push(ns);
    }
    let report = scan(&ScanOptions {
        input: Input::Live(LiveOptions {
            kubeconfig: Some(common::kubeconfig().to_path_buf()),
            page_size: 50,
            ..Default::default()
        }),
        namespace: None,
        harvester_version: Some("v1.4.1".into()),
        rules: vec![RULE.into()],
        config: Default::default(),
        now: None,
        openstack: None,
        limits: Default::default(),
        target_version: None,
    })
    .await
    .expect("scan");
    let ours = |ns: &str| -> Vec<&Finding> {
        report
            .findings
            .iter()
            .filter(|f| f.rule == RULE && f.object.namespace.as_deref() == Some(ns))
            .collect()
    };
    let full = ours(&namespaces[0]);
    assert_eq!(full.len(), 1, "{:#?}", report.findings);
    assert_eq!(full[0].object.name, long);
    assert_eq!(full[0].severity, Severity::Error);
    assert_eq!(full[0].confidence, Confidence::Proven);
    assert!(
        has(full[0], "headroom:none(limits.memory used+pod>hard)"),
        "{:?}",
        full[0].evidence
    );
    let roomy = ours(&namespaces[1]);
    assert_eq!(roomy.len(), 1, "{:#?}", report.findings);
    assert_eq!(roomy[0].severity, Severity::Warning);
    assert!(has(roomy[0], "headroom:ok"), "{:?}", roomy[0].evidence);
    assert!(has(roomy[0], &format!("launcher-pod:virt-launcher-{long}-x7k2p")));
}
