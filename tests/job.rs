//! The in-cluster job as a process against the real apiserver, as the Helm chart's
//! ServiceAccount (TokenRequest token) with only the shipped RBAC: it writes the report
//! ConfigMap, raises core Events (updated, not duplicated, on the next run), logs a JSON line
//! per finding, pushes metrics grouped by cluster to a real Pushgateway, writes PolicyReports,
//! and on the next run notices a resolved finding.

mod common;
mod packaging_tools;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{create, namespace, unique};
use serde_json::{Value, json};

const NS: &str = "harvester-hygiene";
const SA: &str = "system:serviceaccount:harvester-hygiene:harvester-hygiene";

use common::kubectl;

/// Apply the shipped chart and return a kubeconfig for its ServiceAccount. The tests run the
/// job binary themselves, so the CronJob is applied suspended: the test bed's cronjob controller
/// must not start a Job (whose Pod would stay Pending anyway: no scheduler runs) mid-test.
fn install_bundle(dir: &std::path::Path) -> std::path::PathBuf {
    install(dir, &[], NS)
}

/// Apply the chart (`helm template` with `--set` values) into namespace `ns` (cluster-scoped
/// RBAC names get a suffix so installs in two namespaces do not share rights); returns a
/// kubeconfig for its ServiceAccount.
fn install(dir: &std::path::Path, set: &[&str], ns: &str) -> std::path::PathBuf {
    let _ = kubectl(&["create", "namespace", ns], None);
    let mut helm = Command::new(packaging_tools::tool("helm"));
    helm.args(["template", "harvester-hygiene"])
        .arg(format!("{}/charts/harvester-hygiene", env!("CARGO_MANIFEST_DIR")))
        .args(["--namespace", ns, "--set", "suspend=true"]);
    for s in set {
        helm.args(["--set", s]);
    }
    let out = helm.output().expect("helm");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rendered = String::from_utf8(out.stdout).unwrap();
    if ns != NS {
        for role in ["scan", "remediate", "policyreports"] {
            rendered = rendered.replace(
                &format!("name: harvester-hygiene-{role}\n"),
                &format!("name: harvester-hygiene-{role}-{ns}\n"),
            );
        }
    }
    let out = kubectl(&["apply", "-n", ns, "-f", "-"], Some(&rendered));
    assert!(out.status.success(), "apply: {}", String::from_utf8_lossy(&out.stderr));
    let out = kubectl(
        &["create", "token", "harvester-hygiene", "-n", ns, "--duration", "1h"],
        None,
    );
    assert!(out.status.success(), "token: {}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let admin = std::fs::read_to_string(common::kubeconfig()).unwrap();
    let server = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .to_string();
    let kc = dir.join("sa-kubeconfig");
    std::fs::write(
        &kc,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\nusers:\n- name: sa\n  user:\n    token: {token}\ncontexts:\n- name: sa\n  context:\n    cluster: c\n    user: sa\ncurrent-context: sa\n"),
    )
    .unwrap();
    kc
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run_job(kc: &std::path::Path, extra: &[&str]) -> (i32, Vec<Value>, String) {
    run_job_in(kc, NS, extra)
}

fn run_job_in(kc: &std::path::Path, ns: &str, extra: &[&str]) -> (i32, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harvester-hygiene-job"))
        .args(["--harvester-version", "v1.6.1"])
        .args(extra)
        .env("KUBECONFIG", kc)
        .env("POD_NAMESPACE", ns)
        .env("POD_NAME", "harvester-hygiene-29384-abcde")
        .env_remove("HH_TEST_KUBECONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        lines,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn job_publishes_report_events_and_metrics_with_least_privilege() {
    let dir = tempfile::tempdir().unwrap();
    let kc = install_bundle(dir.path());

    // Least privilege, as the shipped ClusterRole grants it.
    for (verb, what, allowed) in [
        ("list", "virtualmachineimages.harvesterhci.io", "yes"),
        ("create", "events", "yes"),
        ("patch", "events", "yes"),
        ("get", "secrets", "no"),
        ("list", "secrets", "no"),
        ("delete", "persistentvolumeclaims", "no"),
        ("delete", "virtualmachineimages.harvesterhci.io", "no"),
    ] {
        let out = kubectl(&["auth", "can-i", verb, what, "--all-namespaces", "--as", SA], None);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), allowed, "{verb} {what}");
    }

    // A finding to publish.
    let ns = namespace("jobtest").await;
    let name = unique("fedora-rawhide");
    create(json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"displayName": name, "sourceType": "download",
                 "url": "https://dl.fedoraproject.org/pub/fedora/linux/development/rawhide/Cloud/x86_64/images/Fedora-Cloud-Base.qcow2"}}))
    .await;

    // A cluster-scoped one: its Event goes to `default`.
    let sc = unique("lh-gone");
    let sc_obj = create(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": sc}, "provisioner": "driver.longhorn.io",
        "parameters": {"backingImage": unique("bi-gone")}}))
    .await;

    // A real Pushgateway.
    let port = free_port();
    let _pgw = KillOnDrop(
        Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway (installed by scripts/install-testbed.sh)"),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let (code, lines, stderr) = run_job(&kc, &["--pushgateway-url", &url]);
    assert_eq!(code, 0, "stderr: {stderr}\nlines: {lines:#?}");
    let ours: Vec<&Value> = lines
        .iter()
        .filter(|l| l["msg"] == "finding" && l["object"]["namespace"] == ns.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{lines:#?}");
    assert_eq!(ours[0]["rule"], "image-mutable-url");
    assert!(ours[0]["fingerprint"].as_str().is_some_and(|f| f.len() == 16));
    let done = lines
        .iter()
        .find(|l| l["msg"] == "scan complete")
        .expect("summary line");
    assert_eq!(done["incomplete"], false, "{done}");
    assert!(done["events"]["warning"].as_u64().unwrap() >= 1);

    // The cluster: without --cluster-name, named by the kube-system namespace's UID.
    let kube_system = common::get("v1", "Namespace", None, "kube-system").await.unwrap();
    let uid = kube_system["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(done["cluster"]["uid"], uid.as_str(), "{done}");
    assert_eq!(done["cluster"]["name"], uid.as_str(), "{done}");
    assert_eq!(done["cluster"]["nameSource"], "uid", "{done}");

    // The report ConfigMap.
    let out = kubectl(
        &["get", "configmap", "harvester-hygiene-report", "-n", NS, "-o", "json"],
        None,
    );
    let cm: Value = serde_json::from_slice(&out.stdout).unwrap();
    let report: Value = serde_json::from_str(cm["data"]["report.json"].as_str().unwrap()).unwrap();
    assert_eq!(report["apiVersion"], "harvester-hygiene/v1");
    assert_eq!(report["cluster"]["uid"], uid.as_str());
    assert_eq!(
        cm["metadata"]["labels"]["harvester-hygiene.io/cluster-uid"],
        uid.as_str()
    );
    assert_eq!(cm["metadata"]["labels"]["harvester-hygiene.io/cluster"], uid.as_str());
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["object"]["name"] == name.as_str())
    );
    assert!(
        cm["metadata"]["labels"]["harvester-hygiene.io/warnings"]
            .as_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 1
    );

    // The Warning event on the image: a core v1 Event, as the Harvester and Rancher UIs read
    // them (firstTimestamp, the object's uid).
    let image = common::get("harvesterhci.io/v1beta1", "VirtualMachineImage", Some(&ns), &name)
        .await
        .unwrap();
    let image_uid = image["metadata"]["uid"].as_str().unwrap().to_string();
    let ev = only_event(&ns, &name, "Warning");
    assert_eq!(ev["reason"], "image-mutable-url");
    assert_eq!(ev["involvedObject"]["uid"], image_uid.as_str(), "{ev}");
    assert_eq!(ev["involvedObject"]["kind"], "VirtualMachineImage");
    assert_eq!(ev["involvedObject"]["apiVersion"], "harvesterhci.io/v1beta1");
    assert_eq!(ev["source"]["component"], "harvester-hygiene");
    assert_eq!(ev["reportingComponent"], "harvester-hygiene");
    assert_eq!(ev["reportingInstance"], "harvester-hygiene-29384-abcde");
    assert_eq!(ev["count"], 1);
    let first = ev["firstTimestamp"].as_str().expect("firstTimestamp").to_string();
    assert!(ev["lastTimestamp"].is_string(), "{ev}");
    assert!(ev["message"].as_str().unwrap().len() <= 1024);

    let sc_ev = only_event("default", &sc, "Warning");
    assert_eq!(sc_ev["reason"], "storageclass-missing");
    assert_eq!(sc_ev["involvedObject"]["uid"], sc_obj["metadata"]["uid"]);
    assert!(sc_ev["involvedObject"]["namespace"].is_null(), "{sc_ev}");

    // The metrics, as the Pushgateway serves them: grouped by job and cluster, labelled with
    // the cluster, and last_success after this complete, successful run.
    let metrics = http_get(port, "/metrics");
    let findings_line = metrics
        .lines()
        .find(|l| {
            l.starts_with("harvester_hygiene_findings{")
                && l.contains("rule=\"image-mutable-url\"")
                && l.contains("severity=\"warning\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(findings_line.contains(&format!("cluster=\"{uid}\"")), "{findings_line}");
    assert!(findings_line.contains("job=\"harvester_hygiene\""), "{findings_line}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("harvester_hygiene_last_success_timestamp_seconds{")
                && l.contains(&format!("cluster=\"{uid}\""))),
        "{metrics}"
    );

    // The next run, with the finding still there: the same Event, count 2, first time kept.
    std::thread::sleep(Duration::from_millis(1100));
    let (code, lines, stderr) = run_job(&kc, &[]);
    assert_eq!(code, 0, "{stderr}\n{lines:#?}");
    let done = lines.iter().find(|l| l["msg"] == "scan complete").unwrap();
    assert!(done["events"]["updated"].as_u64().unwrap() >= 1, "{done}");
    let ev = only_event(&ns, &name, "Warning");
    assert_eq!(ev["count"], 2, "{ev}");
    assert_eq!(ev["firstTimestamp"], first.as_str());
    assert_ne!(ev["lastTimestamp"], first.as_str());

    // Resolve it; the next run says so with a Normal event.
    let out = kubectl(
        &["delete", "virtualmachineimages.harvesterhci.io", &name, "-n", &ns],
        None,
    );
    assert!(out.status.success());
    let (code, lines, _) = run_job(&kc, &[]);
    assert_eq!(code, 0);
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "scan complete" && l["events"]["resolved"].as_u64().unwrap() >= 1),
        "{lines:#?}"
    );
    let ev = only_event(&ns, &name, "Normal");
    assert_eq!(ev["involvedObject"]["uid"], image_uid.as_str());
    assert!(ev["firstTimestamp"].is_string());
    assert!(ev["message"].as_str().unwrap().starts_with("resolved:"), "{ev}");
}

/// The one core Event of `type_` on the object `name` in `ns` (fails on none or several).
fn only_event(ns: &str, name: &str, type_: &str) -> Value {
    let out = kubectl(&["get", "events", "-n", ns, "-o", "json"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["involvedObject"]["name"] == name && e["type"] == type_)
        .collect();
    assert_eq!(ours.len(), 1, "one {type_} event on {ns}/{name}: {events:#}");
    ours[0].clone()
}

#[tokio::test]
async fn a_failed_run_keeps_the_last_success_and_clusters_keep_their_own_series() {
    let dir = tempfile::tempdir().unwrap();
    let kc = install_bundle(dir.path());
    let port = free_port();
    let _pgw = KillOnDrop(
        Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway (installed by scripts/install-testbed.sh)"),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Two clusters on one gateway (the second name needs base64 in the grouping key).
    for cluster in ["east", "west/2"] {
        let (code, lines, stderr) = run_job(
            &kc,
            &["--pushgateway-url", &url, "--cluster-name", cluster, "--no-events"],
        );
        assert_eq!(code, 0, "{stderr}\n{lines:#?}");
    }
    let success_of = |metrics: &str, cluster: &str| -> Option<String> {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("harvester_hygiene_last_success_timestamp_seconds{")
                    && l.contains(&format!("cluster=\"{cluster}\""))
            })
            .map(|l| l.rsplit(' ').next().unwrap_or_default().to_string())
    };
    let before = http_get(port, "/metrics");
    let east = success_of(&before, "east").unwrap_or_else(|| panic!("{before}"));
    assert!(success_of(&before, "west/2").is_some(), "{before}");

    // A run that cannot write its report (a ServiceAccount without RBAC) under the name east.
    let nobody = no_rights_kubeconfig(dir.path());
    std::thread::sleep(Duration::from_millis(1100));
    let (code, _, _) = run_job(
        &nobody,
        &[
            "--pushgateway-url",
            &url,
            "--cluster-name",
            "east",
            "--report-configmap",
            &unique("r"),
        ],
    );
    assert_eq!(code, 1);
    let after = http_get(port, "/metrics");
    assert_eq!(success_of(&after, "east").as_deref(), Some(east.as_str()), "{after}");
    assert!(
        after
            .lines()
            .any(|l| l.starts_with("harvester_hygiene_last_run_success{")
                && l.contains("cluster=\"east\"")
                && l.ends_with(" 0")),
        "{after}"
    );
    assert!(
        after
            .lines()
            .any(|l| l.starts_with("harvester_hygiene_last_run_success{")
                && l.contains("cluster=\"west/2\"")
                && l.ends_with(" 1")),
        "{after}"
    );
}

/// A kubeconfig for a new ServiceAccount with no RBAC at all.
fn no_rights_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let _ = kubectl(&["create", "namespace", NS], None);
    let sa = unique("nobody");
    let out = kubectl(&["create", "serviceaccount", &sa, "-n", NS], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kubectl(&["create", "token", &sa, "-n", NS], None);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let admin = std::fs::read_to_string(common::kubeconfig()).unwrap();
    let server = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .to_string();
    let kc = dir.join(format!("{sa}.kubeconfig"));
    std::fs::write(&kc, format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\nusers:\n- name: sa\n  user:\n    token: {token}\ncontexts:\n- name: sa\n  context:\n    cluster: c\n    user: sa\ncurrent-context: sa\n")).unwrap();
    kc
}

/// Stops a child process when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn job_without_rights_fails_visibly() {
    // A ServiceAccount with no RBAC at all: the scan is incomplete and the job exits 1.
    let dir = tempfile::tempdir().unwrap();
    let _ = kubectl(&["create", "namespace", NS], None);
    let sa = unique("nobody");
    let out = kubectl(&["create", "serviceaccount", &sa, "-n", NS], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kubectl(&["create", "token", &sa, "-n", NS], None);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let admin = std::fs::read_to_string(common::kubeconfig()).unwrap();
    let server = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .to_string();
    let kc = dir.path().join("kc");
    std::fs::write(&kc, format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\nusers:\n- name: sa\n  user:\n    token: {token}\ncontexts:\n- name: sa\n  context:\n    cluster: c\n    user: sa\ncurrent-context: sa\n")).unwrap();
    let (code, lines, _) = run_job(&kc, &["--report-configmap", &unique("r")]);
    assert_eq!(code, 1);
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "incomplete" && l["reason"] == "forbidden")
    );
    let all = lines.iter().map(|l| l.to_string()).collect::<String>();
    assert!(!all.contains(&token), "the token must never be logged");
}

async fn orphan_pvc(ns: &str, labels: Value) -> (String, String) {
    let pvc = format!("pvc-{}", common::uuid());
    let pv = unique("pv");
    create(json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"], "persistentVolumeReclaimPolicy": "Delete",
                 "csi": {"driver": "driver.longhorn.io", "volumeHandle": pv},
                 "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": pvc}}}))
    .await;
    create(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": pvc, "namespace": ns, "labels": labels},
        "spec": {"accessModes": ["ReadWriteMany"], "volumeName": pv, "resources": {"requests": {"storage": "1Gi"}}}}))
    .await;
    common::ensure_namespace("longhorn-system").await;
    create(json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Volume", "metadata": {"name": pv, "namespace": "longhorn-system"},
        "spec": {"size": "1073741824"}, "status": {"state": "detached", "kubernetesStatus": {"lastPodRefAt": "2026-01-01T00:00:00Z"}}}))
    .await;
    (pvc, pv)
}

#[tokio::test]
async fn job_remediation_marks_then_acts_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let home = "harvester-hygiene-remediation";
    let kc = install(dir.path(), &["remediation.enabled=true"], home);
    let ns = namespace("jobfix").await;
    let (labelled, labelled_pv) =
        orphan_pvc(&ns, json!({"guestcluster.harvesterhci.io/name": "deleted-cluster"})).await;
    let (inferred, _) = orphan_pvc(&ns, json!({})).await;
    let args = [
        "--remediate",
        "orphaned-guest-pvc",
        "--remediation-grace",
        "2s",
        "--no-events",
        "--report-configmap",
        "harvester-hygiene-report",
    ];

    // Run 1: marks the label-attributed candidate only.
    let (code, lines, stderr) = run_job_in(&kc, home, &args);
    assert_eq!(code, 0, "{stderr}\n{lines:#?}");
    let rem = lines
        .iter()
        .find(|l| l["msg"] == "remediation")
        .expect("remediation line");
    assert!(
        rem["marked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == labelled.as_str()),
        "{rem}"
    );
    assert!(
        !rem.to_string().contains(&inferred),
        "inferred orphans are never candidates: {rem}"
    );
    let pvc_now =
        serde_json::from_slice::<Value>(&kubectl(&["get", "pvc", &labelled, "-n", &ns, "-o", "json"], None).stdout)
            .unwrap();
    assert!(pvc_now["metadata"]["annotations"]["harvester-hygiene.io/remediation-candidate-since"].is_string());
    assert!(pvc_now["metadata"]["deletionTimestamp"].is_null());

    // Run 2, after the grace period: acts, with the backup in the log.
    std::thread::sleep(Duration::from_secs(3));
    let (code, lines, stderr) = run_job_in(&kc, home, &args);
    assert_eq!(code, 0, "{stderr}\n{lines:#?}");
    let rem = lines.iter().find(|l| l["msg"] == "remediation").unwrap();
    let acted = rem["acted"].as_array().unwrap();
    assert!(
        acted
            .iter()
            .any(|a| a["object"]["name"] == labelled.as_str() && a["status"] == "done"),
        "{rem}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "backup" && l["backup"]["metadata"]["name"] == labelled.as_str())
    );
    assert!(lines.iter().any(|l| l["msg"] == "audit" && l["status"] == "done"));
    let pv =
        serde_json::from_slice::<Value>(&kubectl(&["get", "pv", &labelled_pv, "-o", "json"], None).stdout).unwrap();
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    common::wait_gone("v1", "PersistentVolumeClaim", Some(&ns), &labelled).await;
    let kept =
        serde_json::from_slice::<Value>(&kubectl(&["get", "pvc", &inferred, "-n", &ns, "-o", "json"], None).stdout)
            .unwrap();
    assert!(
        kept["metadata"]["deletionTimestamp"].is_null()
            && kept["metadata"]["annotations"]
                .get("harvester-hygiene.io/remediation-candidate-since")
                .is_none()
    );
}

/// Create the policy-report CRDs (wgpolicyk8s.io, openreports.io) from their upstream modules
/// (scripts/report-crds.sh), once per apiserver.
fn install_report_crds() {
    let out = Command::new("bash")
        .arg(common::repo().join("scripts/report-crds.sh"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = kubectl(&["apply", "--server-side", "-f", &dir], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kubectl(
        &[
            "wait",
            "--for",
            "condition=established",
            "--timeout=60s",
            "crd/policyreports.wgpolicyk8s.io",
            "crd/clusterpolicyreports.wgpolicyk8s.io",
            "crd/reports.openreports.io",
            "crd/clusterreports.openreports.io",
        ],
        None,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn get_json(args: &[&str]) -> Option<Value> {
    let out = kubectl(args, None);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

#[tokio::test]
async fn policy_reports_are_published_per_namespace_and_replaced_on_the_next_run() {
    install_report_crds();
    let dir = tempfile::tempdir().unwrap();
    let kc = install(dir.path(), &["policyReports.enabled=true"], NS);

    // A warning (fail/medium) in one namespace, an exempted finding (skip) in another, and a
    // cluster-scoped one (a StorageClass whose BackingImage is gone).
    let moving =
        "https://dl.fedoraproject.org/pub/fedora/linux/development/rawhide/Cloud/x86_64/images/Fedora-Cloud-Base.qcow2";
    let ns1 = namespace("polr-a").await;
    let img = unique("rawhide");
    let created = create(
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": img, "namespace": ns1},
        "spec": {"displayName": img, "sourceType": "download", "url": moving}}),
    )
    .await;
    let img_uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    let ns2 = namespace("polr-b").await;
    let exempt = unique("exempt");
    create(
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": exempt, "namespace": ns2, "annotations": {
            "harvester-hygiene.io/ignore": "image-mutable-url",
            "harvester-hygiene.io/ignore-reason": "a test image"}},
        "spec": {"displayName": exempt, "sourceType": "download", "url": moving}}),
    )
    .await;
    let sc = unique("lh-gone");
    let sc_obj = create(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": sc}, "provisioner": "driver.longhorn.io",
        "parameters": {"backingImage": unique("bi-gone")}}))
    .await;

    let (code, lines, stderr) = run_job(&kc, &["--policy-reports", "--cluster-name", "polr-test", "--no-events"]);
    assert_eq!(code, 0, "{stderr}\n{lines:#?}");
    let pr = lines
        .iter()
        .find(|l| l["msg"] == "policy reports")
        .expect("policy reports line");
    assert_eq!(
        pr["apis"],
        json!(["wgpolicyk8s.io/v1alpha2", "openreports.io/v1alpha1"]),
        "{pr}"
    );

    for (kind, cluster_kind) in [
        ("policyreports.wgpolicyk8s.io", "clusterpolicyreports.wgpolicyk8s.io"),
        ("reports.openreports.io", "clusterreports.openreports.io"),
    ] {
        let r = get_json(&["get", kind, "harvester-hygiene", "-n", &ns1, "-o", "json"])
            .unwrap_or_else(|| panic!("{kind} in {ns1}"));
        assert_eq!(r["metadata"]["labels"]["harvester-hygiene.io/cluster"], "polr-test");
        assert_eq!(
            r["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "harvester-hygiene"
        );
        let results = r["results"].as_array().unwrap();
        assert_eq!(results.len(), 1, "{r:#}");
        let res = &results[0];
        assert_eq!(res["policy"], "image-mutable-url");
        assert_eq!(res["result"], "fail");
        assert_eq!(res["severity"], "medium");
        assert_eq!(res["scored"], true);
        assert_eq!(res["source"], "harvester-hygiene");
        assert_eq!(res["resources"][0]["uid"], img_uid.as_str());
        assert_eq!(res["resources"][0]["name"], img.as_str());
        assert_eq!(res["properties"]["cluster"], "polr-test");
        assert!(res["timestamp"]["seconds"].as_i64().unwrap() > 0);
        assert_eq!(r["summary"]["fail"], 1, "{r:#}");
        assert_eq!(r["summary"]["skip"], 0);
        if kind.starts_with("reports.") {
            assert_eq!(r["source"], "harvester-hygiene");
        }

        let r2 = get_json(&["get", kind, "harvester-hygiene", "-n", &ns2, "-o", "json"]).unwrap();
        let res = &r2["results"][0];
        assert_eq!(res["result"], "skip", "{r2:#}");
        assert_eq!(res["policy"], "image-mutable-url");
        assert!(res["message"].as_str().unwrap().contains("a test image"));
        assert_eq!(r2["summary"]["skip"], 1);

        let c = get_json(&["get", cluster_kind, "harvester-hygiene", "-o", "json"]).unwrap();
        let sc_result = c["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resources"][0]["name"] == sc.as_str())
            .unwrap_or_else(|| panic!("{c:#}"));
        assert_eq!(sc_result["policy"], "storageclass-missing");
        assert_eq!(sc_result["resources"][0]["uid"], sc_obj["metadata"]["uid"]);
        assert_eq!(sc_result["resources"][0]["kind"], "StorageClass");
    }
    let rv2 = get_json(&[
        "get",
        "policyreports.wgpolicyk8s.io",
        "harvester-hygiene",
        "-n",
        &ns2,
        "-o",
        "json",
    ])
    .unwrap()["metadata"]["resourceVersion"]
        .clone();

    // Fixed in ns1: the next run deletes that report and replaces ns2's, never duplicating.
    let out = kubectl(
        &["delete", "virtualmachineimages.harvesterhci.io", &img, "-n", &ns1],
        None,
    );
    assert!(out.status.success());
    let (code, lines, stderr) = run_job(&kc, &["--policy-reports", "--cluster-name", "polr-test", "--no-events"]);
    assert_eq!(code, 0, "{stderr}\n{lines:#?}");
    for kind in ["policyreports.wgpolicyk8s.io", "reports.openreports.io"] {
        let in1 = get_json(&["get", kind, "-n", &ns1, "-o", "json"]).unwrap();
        assert_eq!(in1["items"].as_array().unwrap().len(), 0, "{kind} in {ns1}: {in1:#}");
        let in2 = get_json(&["get", kind, "-n", &ns2, "-o", "json"]).unwrap();
        assert_eq!(in2["items"].as_array().unwrap().len(), 1, "{kind} in {ns2}: {in2:#}");
    }
    let r2 = get_json(&[
        "get",
        "policyreports.wgpolicyk8s.io",
        "harvester-hygiene",
        "-n",
        &ns2,
        "-o",
        "json",
    ])
    .unwrap();
    assert_ne!(r2["metadata"]["resourceVersion"], rv2, "replaced by the second run");
    let clusters = get_json(&["get", "clusterpolicyreports.wgpolicyk8s.io", "-o", "json"]).unwrap();
    let ours: Vec<&Value> = clusters["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "harvester-hygiene")
        .collect();
    assert_eq!(ours.len(), 1, "{clusters:#}");
    let cluster_rv = ours[0]["metadata"]["resourceVersion"].clone();

    // The plugin's scan -n NS --policy-reports writes that namespace's report only.
    let again = unique("rawhide");
    create(
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": again, "namespace": ns1},
        "spec": {"displayName": again, "sourceType": "download", "url": moving}}),
    )
    .await;
    let rv2 = r2["metadata"]["resourceVersion"].clone();
    let out = common::plugin(&[
        "scan",
        "-n",
        &ns1,
        "--policy-reports",
        "--cluster-name",
        "polr-test",
        "--harvester-version",
        "v1.6.1",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r1 = get_json(&[
        "get",
        "policyreports.wgpolicyk8s.io",
        "harvester-hygiene",
        "-n",
        &ns1,
        "-o",
        "json",
    ])
    .expect("the plugin wrote ns1's report");
    assert_eq!(r1["results"][0]["resources"][0]["name"], again.as_str(), "{r1:#}");
    let r2 = get_json(&[
        "get",
        "policyreports.wgpolicyk8s.io",
        "harvester-hygiene",
        "-n",
        &ns2,
        "-o",
        "json",
    ])
    .unwrap();
    assert_eq!(
        r2["metadata"]["resourceVersion"], rv2,
        "other namespaces are left alone"
    );
    let c = get_json(&[
        "get",
        "clusterpolicyreports.wgpolicyk8s.io",
        "harvester-hygiene",
        "-o",
        "json",
    ])
    .unwrap();
    assert_eq!(c["metadata"]["resourceVersion"], cluster_rv, "so is the cluster report");
}
