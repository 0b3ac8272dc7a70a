//! Test harness for a REAL etcd + kube-apiserver + kube-controller-manager (scripts/apiserver.sh).
//! One test bed per test run: `scripts/test.sh` starts it and passes `HH_TEST_KUBECONFIG`;
//! without it, the first test in this binary starts one (stopped by a watchdog when the process exits).
//! Missing binaries make the tests fail with instructions, never skip.

#![allow(dead_code)]

pub mod fixtures;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of the test apiserver's kubeconfig (admin).
pub fn kubeconfig() -> &'static Path {
    static KC: OnceLock<PathBuf> = OnceLock::new();
    KC.get_or_init(|| {
        if let Ok(p) = std::env::var("HH_TEST_KUBECONFIG") {
            return PathBuf::from(p);
        }
        let dir = std::env::temp_dir().join(format!("hh-apiserver-{}", std::process::id()));
        let out = Command::new("bash")
            .arg(repo().join("scripts/apiserver.sh"))
            .arg("start")
            .arg(&dir)
            .arg(std::process::id().to_string())
            .output()
            .expect("run scripts/apiserver.sh");
        assert!(
            out.status.success(),
            "could not start the test kube-apiserver. Run scripts/install-testbed.sh first (or use scripts/test.sh, \
             which does).\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .lines()
                .last()
                .unwrap_or_default(),
        )
    })
}

pub async fn client_as(user: Option<&str>) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig()).expect("read test kubeconfig");
    let mut cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    if let Some(u) = user {
        cfg.auth_info.impersonate = Some(u.to_string());
    }
    harvester_hygiene::install_crypto_provider();
    Client::try_from(cfg).expect("client")
}

pub async fn client() -> Client {
    client_as(None).await
}

/// A namespace name unique to this test process and call.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{:x}", std::process::id(), nanos % 0xfffff)
}

/// (path prefix, plural, namespaced): from the library's kind registry, plus the RBAC and
/// core kinds the tests create.
fn api_of(api_version: &str, kind: &str) -> (String, &'static str, bool) {
    let base = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    if let Some(ops) = harvester_hygiene::inventory::kinds::by_api_version_kind(api_version, kind) {
        return (base, ops.info().plural, ops.info().namespaced);
    }
    let (plural, namespaced) = match kind {
        "Namespace" => ("namespaces", false),
        "PersistentVolume" => ("persistentvolumes", false),
        "ClusterRole" => ("clusterroles", false),
        "ClusterRoleBinding" => ("clusterrolebindings", false),
        "Role" => ("roles", true),
        "RoleBinding" => ("rolebindings", true),
        "ServiceAccount" => ("serviceaccounts", true),
        "OpenstackSource" => ("openstacksources", true),
        "Secret" => ("secrets", true),
        other => panic!("test harness: add {other} to api_of"),
    };
    (base, plural, namespaced)
}

async fn send(client: &Client, method: &str, url: &str, body: &Value) -> Result<Value, kube::Error> {
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .unwrap();
    client.request::<Value>(req).await
}

/// GET a path of the test apiserver as admin.
pub async fn get_path(url: &str) -> Result<Value, kube::Error> {
    let req = http::Request::builder()
        .method("GET")
        .uri(url)
        .body(Vec::new())
        .unwrap();
    client().await.request::<Value>(req).await
}

/// Create an object as admin; write its `status` too when the kind has a status subresource.
pub async fn create(obj: Value) -> Value {
    let client = client().await;
    let api_version = obj["apiVersion"].as_str().unwrap().to_string();
    let kind = obj["kind"].as_str().unwrap().to_string();
    let (base, plural, namespaced) = api_of(&api_version, &kind);
    let url = if namespaced {
        format!(
            "{base}/namespaces/{}/{plural}",
            obj["metadata"]["namespace"].as_str().expect("namespace")
        )
    } else {
        format!("{base}/{plural}")
    };
    // Strict: a field the kind's schema does not have is an error, not silently dropped
    // (Kubernetes 1.25+; older servers ignore the parameter and prune, caught below).
    let created = send(&client, "POST", &format!("{url}?fieldValidation=Strict"), &obj)
        .await
        .unwrap_or_else(|e| panic!("create {kind}: {e}"));
    // Custom kinds: the object stored must be the object sent (built-in kinds have write-only
    // fields such as a Secret's stringData).
    let custom = match api_version.rsplit_once('/') {
        Some((group, _)) => get_path(&format!(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.{group}"
        ))
        .await
        .is_ok(),
        None => false,
    };
    if custom {
        let mut sent = obj.clone();
        if let Some(m) = sent.as_object_mut() {
            m.remove("status");
        }
        assert_schema_kept(&kind, &sent, &created);
    }
    if obj.get("status").is_some() {
        // Kinds with a status subresource drop status on create; write it. A 404 means the
        // kind has none and the create kept it.
        let name = created["metadata"]["name"].as_str().unwrap().to_string();
        let mut current = created.clone();
        // A controller (the PV binder, say) may update the object between the create and the
        // status write: on a conflict, re-read it and write the status again.
        let mut tries = 0;
        let outcome = loop {
            let mut with_status = current.clone();
            with_status["status"] = obj["status"].clone();
            match send(
                &client,
                "PUT",
                &format!("{url}/{name}/status?fieldValidation=Strict"),
                &with_status,
            )
            .await
            {
                Err(kube::Error::Api(s)) if s.code == 409 && tries < 10 => {
                    tries += 1;
                    current = get_path(&format!("{url}/{name}")).await.unwrap_or(current);
                }
                other => break other,
            }
        };
        match outcome {
            Ok(v) => {
                if custom {
                    assert_schema_kept(
                        &kind,
                        &json!({"status": obj["status"]}),
                        &json!({"status": v["status"]}),
                    );
                }
                return v;
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => panic!("status of {kind}/{name}: {e}"),
        }
    }
    created
}

/// Fails when the apiserver dropped a field the fixture set: the kind's real schema (the
/// upstream CRDs scripts/build-crds.sh generates) has no such field, so the fixture is not an
/// object the real cluster would hold. Zero values are not compared.
fn assert_schema_kept(kind: &str, sent: &Value, stored: &Value) {
    fn walk(path: &str, sent: &Value, stored: Option<&Value>, dropped: &mut Vec<String>) {
        let zero = match sent {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        };
        if zero {
            return;
        }
        let Some(stored) = stored else {
            dropped.push(path.to_string());
            return;
        };
        match (sent, stored) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in a {
                    walk(&format!("{path}.{k}"), v, b.get(k), dropped);
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                for (i, v) in a.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), v, b.get(i), dropped);
                }
            }
            _ => {}
        }
    }
    let mut dropped = Vec::new();
    walk("", sent, Some(stored), &mut dropped);
    assert!(
        dropped.is_empty(),
        "test fixture {kind}: the apiserver dropped {dropped:?}: the kind's schema has no such field"
    );
}

/// GET an object as admin; `None` when it does not exist.
pub async fn get(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
    let (base, plural, namespaced) = api_of(api_version, kind);
    let url = match (namespaced, namespace) {
        (true, Some(ns)) => format!("{base}/namespaces/{ns}/{plural}/{name}"),
        (false, None) => format!("{base}/{plural}/{name}"),
        _ => panic!("test harness: {kind} namespaced={namespaced}, namespace {namespace:?}"),
    };
    let req = http::Request::get(url).body(Vec::new()).unwrap();
    match client().await.request::<Value>(req).await {
        Ok(v) => Some(v),
        Err(kube::Error::Api(s)) if s.code == 404 => None,
        Err(e) => panic!("get {kind} {namespace:?}/{name}: {e}"),
    }
}

/// Assert the object exists and is not being deleted.
pub async fn assert_live(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) {
    let obj = get(api_version, kind, namespace, name)
        .await
        .unwrap_or_else(|| panic!("{kind} {namespace:?}/{name} is gone"));
    assert!(
        obj["metadata"]["deletionTimestamp"].is_null(),
        "{kind} {namespace:?}/{name} is being deleted: {obj}"
    );
}

/// Wait (up to 60 s) until a deleted object is gone: the test bed's controllers (PVC and PV
/// protection, garbage collector, namespace) release its finalizers as a cluster's would.
pub async fn wait_gone(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) {
    let mut last = None;
    for _ in 0..120 {
        last = get(api_version, kind, namespace, name).await;
        match &last {
            None => return,
            Some(o) => assert!(
                !o["metadata"]["deletionTimestamp"].is_null(),
                "{kind} {namespace:?}/{name} was not deleted: {o}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("{kind} {namespace:?}/{name} still there after 60 s: {last:?}");
}

pub async fn namespace(prefix: &str) -> String {
    let ns = unique(prefix);
    create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).await;
    ns
}

/// Run the built plugin binary with the test kubeconfig.
pub fn plugin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args(args)
        .env("KUBECONFIG", kubeconfig())
        .env_remove("HH_TEST_KUBECONFIG")
        .env("NO_COLOR", "1")
        .output()
        .expect("run plugin")
}

/// Create a namespace if it does not exist (e.g. `longhorn-system`, shared by tests).
pub async fn ensure_namespace(name: &str) {
    let c = client().await;
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    match send(&c, "POST", "/api/v1/namespaces", &body).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("namespace {name}: {e}"),
    }
}

/// A fresh lower-case v4-shaped UUID (guest CSI PVCs are named `pvc-<uuid>`).
pub fn uuid() -> String {
    let u = unique("uuid");
    let h: u64 = u.bytes().fold(1469598103934665603u64, |a, b| {
        (a ^ b as u64).wrapping_mul(1099511628211)
    });
    let g: u64 = h.rotate_left(17).wrapping_mul(0x9E3779B97F4A7C15);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h as u32,
        (h >> 32) as u16,
        g as u16 & 0xfff,
        (g >> 16) as u16 & 0xfff,
        (g >> 16) & 0xffffffffffff
    )
}

/// `kubectl ARGS` on the test apiserver, with `stdin` piped in when given.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::process::Stdio;
    let mut c = Command::new("kubectl");
    c.args(args)
        .env("KUBECONFIG", kubeconfig())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("kubectl");
    if let Some(s) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}
