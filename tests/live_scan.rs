//! Scans against a real kube-apiserver with the real Harvester/Longhorn CRDs: the rules on
//! real objects, the JSON contract through the binary, RBAC gaps (403) and exit codes.

mod common;

use common::{create, namespace, plugin, unique};
use harvester_hygiene::inventory::Gap;
use harvester_hygiene::inventory::live::LiveOptions;
use harvester_hygiene::report::Report;
use harvester_hygiene::scan::{Input, ScanOptions, scan};
use serde_json::{Value, json};

fn image(ns: &str, name: &str, url: &str, extra: Value) -> Value {
    let mut spec = json!({"displayName": name, "sourceType": "download", "url": url});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.get("spec").and_then(Value::as_object)) {
        s.extend(e.clone());
    }
    let mut obj = json!({
        "apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": name, "namespace": ns}, "spec": spec,
    });
    if let Some(st) = extra.get("status") {
        obj["status"] = st.clone();
    }
    obj
}

async fn backing(for_image: &Value, disks: Value) {
    let id = format!(
        "{}/{}",
        for_image["metadata"]["namespace"].as_str().unwrap(),
        for_image["metadata"]["name"].as_str().unwrap()
    );
    create(json!({
        "apiVersion": "longhorn.io/v1beta2", "kind": "BackingImage",
        "metadata": {"name": format!("vmi-{}", for_image["metadata"]["uid"].as_str().unwrap()), "namespace": "longhorn-system",
                     "annotations": {"harvesterhci.io/imageId": id}},
        "spec": {"sourceType": "download", "sourceParameters": {"url": for_image["spec"]["url"]}},
        "status": {"diskFileStatusMap": disks},
    }))
    .await;
}

fn live(user: Option<&str>) -> LiveOptions {
    LiveOptions {
        kubeconfig: Some(common::kubeconfig().to_path_buf()),
        impersonate: user.map(str::to_string),
        page_size: 2, // force pagination even on small fixtures
        ..Default::default()
    }
}

async fn run(user: Option<&str>, namespace: Option<&str>, rules: &[&str]) -> Report {
    let opts = ScanOptions {
        input: Input::Live(live(user)),
        namespace: namespace.map(str::to_string),
        harvester_version: Some("v1.6.1".into()),
        rules: rules.iter().map(|s| s.to_string()).collect(),
        config: Default::default(),
        now: None,
        openstack: None,
        limits: Default::default(),
        target_version: None,
    };
    scan(&opts).await.expect("scan")
}

const PINNED: &str =
    "https://cloud-images.ubuntu.com/releases/jammy/release-20240514/ubuntu-22.04-server-cloudimg-amd64.img";

#[tokio::test]
async fn finds_collisions_and_mutable_urls_with_no_false_positives() {
    common::ensure_namespace("longhorn-system").await;
    let na = namespace("team-a").await;
    let nb = namespace("team-b").await;
    let name = unique("ubuntu");
    let class = format!("longhorn-{name}");
    let st = json!({"status": {"storageClassName": class, "progress": 100}});
    let a = create(image(&na, &name, PINNED, st.clone())).await;
    let b = create(image(&nb, &name, PINNED, st)).await;
    let ready = json!({"d1": {"state": "ready"}});
    backing(&a, ready.clone()).await;
    backing(&b, ready.clone()).await;
    create(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": class},
        "provisioner": "driver.longhorn.io", "parameters": {"backingImage": format!("vmi-{}", b["metadata"]["uid"].as_str().unwrap())}}))
    .await;
    for (ns, id) in [
        (&na, format!("{na}/{name}")),
        (&na, format!("{na}/{name}")),
        (&nb, format!("{nb}/{name}")),
    ] {
        create(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"generateName": "vm-disk-", "namespace": ns, "annotations": {"harvesterhci.io/imageId": id}},
            "spec": {"storageClassName": class, "accessModes": ["ReadWriteMany"], "volumeMode": "Block",
                     "resources": {"requests": {"storage": "10Gi"}}}}))
        .await;
    }
    // Mutable URL with a failed copy: error.
    let daily = create(image(
        &na,
        &unique("jammy-daily"),
        "https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img",
        json!({}),
    ))
    .await;
    backing(&daily, json!({"d1": {"state": "ready"}, "d2": {"state": "failed", "message": "Backing image recorded checksum a doesn't match the file checksum b in disk d2"}})).await;
    // Near-misses: CDI pair on the shared class, host containing "latest", same displayName.
    let cdi = json!({"spec": {"backend": "cdi", "targetStorageClassName": "harvester-longhorn"}, "status": {"storageClassName": "harvester-longhorn"}});
    let rocky = unique("rocky");
    create(image(&na, &rocky, PINNED, cdi.clone())).await;
    create(image(&nb, &rocky, PINNED, cdi)).await;
    create(image(&nb, &unique("fedora"), "https://latest-mirror.example.org/fedora/releases/40/Cloud/x86_64/images/Fedora-Cloud-Base-Generic.x86_64-40-1.14.qcow2", json!({}))).await;
    let mut same_display = image(&nb, &unique("image"), PINNED, json!({}));
    same_display["spec"]["displayName"] = json!(name);
    create(same_display).await;

    let report = run(None, None, &[]).await;
    assert!(
        report.incomplete.iter().all(|i| i.reason != Gap::Forbidden),
        "{:?}",
        report.incomplete
    );
    let ours: Vec<_> = report
        .findings
        .iter()
        .filter(|f| matches!(f.object.namespace.as_deref(), Some(ns) if ns == na || ns == nb))
        .collect();
    let mut got: Vec<(String, String, String)> = ours
        .iter()
        .map(|f| (f.rule.clone(), f.object.key(), f.severity.to_string()))
        .collect();
    got.sort();
    let mut want = vec![
        (
            "image-mutable-url".to_string(),
            format!("{na}/{}", daily["metadata"]["name"].as_str().unwrap()),
            "error".to_string(),
        ),
        (
            "image-name-collision".to_string(),
            format!("{na}/{name}"),
            "error".to_string(),
        ),
        (
            "image-name-collision".to_string(),
            format!("{nb}/{name}"),
            "error".to_string(),
        ),
    ];
    want.sort();
    assert_eq!(got, want, "{ours:#?}");
    let fa = ours.iter().find(|f| f.object.key() == format!("{na}/{name}")).unwrap();
    assert!(
        fa.message.contains(&format!("Today the class serves {nb}/{name}")),
        "{}",
        fa.message
    );
    assert!(
        fa.message.contains(&format!(
            "3 PVCs use the class (2 from {na}/{name}, 1 from {nb}/{name})"
        )),
        "{}",
        fa.message
    );
    assert_eq!(fa.object.uid.as_deref(), a["metadata"]["uid"].as_str());
    assert!(fa.object.resource_version.is_some());
}

#[tokio::test]
async fn binary_prints_the_json_contract() {
    let ns = namespace("contract").await;
    let name = unique("debian");
    create(image(
        &ns,
        &name,
        "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2",
        json!({}),
    ))
    .await;
    let out = plugin(&[
        "scan",
        "-o",
        "json",
        "-n",
        &ns,
        "--harvester-version",
        "v1.6.1",
        "--fail-on",
        "warning",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON document");
    assert_eq!(doc["apiVersion"], "harvester-hygiene/v1");
    assert_eq!(doc["kind"], "Report");
    assert_eq!(doc["harvesterVersion"], "v1.6.1");
    assert_eq!(doc["source"]["type"], "live");
    assert_eq!(doc["source"]["namespace"], ns.as_str());
    let f = &doc["findings"][0];
    for key in ["rule", "severity", "object", "message", "remediation", "related"] {
        assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
    }
    for key in ["apiVersion", "kind", "namespace", "name", "uid", "resourceVersion"] {
        assert!(f["object"].get(key).is_some(), "object lacks {key}");
    }
    assert_eq!(f["rule"], "image-mutable-url");
    assert_eq!(f["severity"], "warning");
    assert_eq!(doc["summary"]["total"], 1);
    assert_eq!(doc["summary"]["bySeverity"]["warning"], 1);
    assert!(doc["incomplete"].is_array());
    // -n: cluster-wide kinds are out of scope, which is said but does not fail the scan.
    assert!(
        doc["incomplete"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["reason"] == "out-of-scope")
    );
    // The default --fail-on error: a warning alone exits 0.
    let out = plugin(&["scan", "-o", "yaml", "-n", &ns, "--harvester-version", "v1.6.1"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("apiVersion: harvester-hygiene/v1"));
}

async fn bind(user: &str, rules: Value, namespace: Option<&str>) {
    let name = unique("hh-test");
    let (role_kind, binding_kind) = if namespace.is_some() {
        ("Role", "RoleBinding")
    } else {
        ("ClusterRole", "ClusterRoleBinding")
    };
    let mut meta = json!({"name": name});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    create(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": role_kind, "metadata": meta.clone(), "rules": rules})).await;
    create(
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": binding_kind, "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}),
    )
    .await;
}

#[tokio::test]
async fn forbidden_kind_is_reported_incomplete_and_exits_3() {
    let user = unique("no-backingimages");
    bind(&user, json!([
        {"apiGroups": ["harvesterhci.io"], "resources": ["virtualmachineimages"], "verbs": ["list"]},
        {"apiGroups": ["harvesterhci.io"], "resources": ["settings"], "resourceNames": ["server-version"], "verbs": ["get"]},
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["list"]},
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["list"]},
    ]), None)
    .await;
    let report = run(Some(&user), None, &[]).await;
    let gap = report
        .incomplete
        .iter()
        .find(|i| i.kind == "BackingImage")
        .expect("BackingImage gap");
    assert_eq!(gap.reason, Gap::Forbidden);
    assert_eq!(
        gap.rules,
        vec![
            "image-name-collision",
            "image-mutable-url",
            "image-stuck",
            "storageclass-missing"
        ]
    );
    assert!(report.summary.incomplete);
    assert_eq!(
        harvester_hygiene::report::exit_code(&report, harvester_hygiene::report::FailOn::Never).code(),
        3
    );
    // The other kinds were still read.
    assert!(report.incomplete.iter().all(|i| i.kind != "VirtualMachineImage"));

    let out = plugin(&["scan", "--as", &user, "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["incomplete"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["kind"] == "BackingImage" && i["reason"] == "forbidden")
    );
}

#[tokio::test]
async fn namespace_scoped_user_scans_its_namespace() {
    let ns = namespace("tenant").await;
    let user = unique("tenant-user");
    bind(
        &user,
        json!([
            {"apiGroups": ["harvesterhci.io"], "resources": ["virtualmachineimages"], "verbs": ["list"]},
            {"apiGroups": ["longhorn.io"], "resources": ["backingimages"], "verbs": ["list"]},
        ]),
        Some(&ns),
    )
    .await;
    create(image(&ns, &unique("latest-ok"), PINNED, json!({}))).await;
    let report = run(Some(&user), Some(&ns), &["image-mutable-url"]).await;
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    // The Setting (cluster-scoped) is forbidden for this user, but no rule needs it.
    assert!(!report.summary.incomplete, "{:?}", report.incomplete);
    assert_eq!(
        harvester_hygiene::report::exit_code(
            &report,
            harvester_hygiene::report::FailOn::At(harvester_hygiene::rules::Severity::Info)
        )
        .code(),
        0
    );
    assert_eq!(report.rules[0].status, harvester_hygiene::report::RuleStatus::Partial);
}

#[test]
fn unreachable_cluster_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:9\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: secret-token-never-printed\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args(["scan", "--kubeconfig"])
        .arg(&kc)
        .args(["--request-timeout", "5s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the cluster"), "{err}");
    assert!(!err.contains("secret-token-never-printed"));
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec![
            "scan",
            "--from",
            "examples/demo-cluster",
            "--harvester-version",
            "one-point-six",
        ],
        vec!["scan", "--from", "examples/demo-cluster", "--rules", "no-such-rule"],
        vec!["scan", "--from", "/nonexistent/dump.yaml"],
        vec!["scan", "-o", "xml"],
        vec!["scan", "--fail-on", "sometimes"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
            .current_dir(common::repo())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
}
