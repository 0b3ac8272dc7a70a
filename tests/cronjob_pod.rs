//! The shipped CronJob run as a Pod. The chart (`charts/harvester-hygiene`, default values) is
//! applied as is; `kubectl create job --from=cronjob/...` makes a Job, the test bed's real Job
//! controller creates its Pod, and this test plays the kubelet for that one Pod, from the Pod
//! object (not from the chart): the container's command (else the image's entrypoint, see
//! Dockerfile) and args with `$(VAR)` expanded, its env with `fieldRef`s resolved from the Pod,
//! its volumes materialized at their mount paths (the policy ConfigMap's keys as files; the
//! projected `kube-api-access-*` volume the ServiceAccount admission plugin added: a TokenRequest
//! token bound to the Pod, `ca.crt`, `namespace`), and the process run as the Pod's
//! `runAsUser`/`runAsGroup` (65532) with no capabilities and no_new_privs, in a private mount
//! namespace whose root is read-only (`readOnlyRootFilesystem`). Its exit is reported through the
//! Pod's status subresource as a kubelet reports it, so the real Job controller marks the Job
//! Complete, and the real CronJob controller prunes finished Jobs to
//! `successfulJobsHistoryLimit`: `kubectl create job --from` gives the Job a controller
//! ownerReference to the CronJob (kubernetes/kubectl pkg/cmd/create/create_job.go), and the
//! controller reconciles and prunes every Job whose controller reference names it
//! (kubernetes/kubernetes pkg/controller/cronjob/cronjob_controllerv2.go getJobsToBeReconciled,
//! cleanupFinishedJobs; oldest `status.startTime` first). Between the first run and the others
//! the test edits the policy ConfigMap (a severity, as values.yaml's example does) and the next
//! Pods report it: the mounted file is the one the job reads.
//!
//! Not faithful, and why:
//! - No scheduler runs: the test binds the Pod to a node name (the pods/binding subresource, as the
//!   scheduler does) but creates no Node object, since the scanner's cluster-wide rules would see it.
//!   So the Pod's token names the node (`authentication.kubernetes.io/node-name`) but carries no
//!   node-uid claim, which a real node's would.
//! - The sandbox is checked, not trusted: before the container, the same mounts and credentials
//!   run a probe (uid/gid/groups, empty capability sets, NoNewPrivs, the token's owner and mode,
//!   `/`, `/tmp` and the volumes read-only). The host's /dev, /dev/shm and /proc stay visible
//!   (/dev/shm writable), which a container's own would replace.
//! - No kube-proxy: `KUBERNETES_SERVICE_HOST`/`PORT` are the apiserver's own 127.0.0.1 address and
//!   port, not the `kubernetes` Service's ClusterIP 10.96.0.1:443. The serving certificate has
//!   127.0.0.1 in its SANs (scripts/apiserver.sh), so the job verifies it against the `ca.crt`
//!   it is given.
//! - The `kube-root-ca.crt` ConfigMap the projected volume reads is published by the
//!   root-ca-cert-publisher controller, which the test bed does not run: the test creates it from
//!   the test bed's CA (scripts/apiserver.sh's pki/ca.crt) before the Pod runs.
//! - No image: the binary is the one cargo built (target/.../harvester-hygiene-job, the image's
//!   entrypoint /usr/local/bin/harvester-hygiene-job), dynamically linked and run from the host's
//!   root file system, not the static binary on the scratch image's rootfs. The process runs in
//!   the host's network, PID and IPC namespaces, without the seccomp RuntimeDefault profile and
//!   without the cgroup limits of `resources`; the volumes are written once (no `..data`
//!   symlink swap, no token refresh). Mount points missing on the host (/etc/harvester-hygiene)
//!   are created empty for the run and removed after it.
//! - Container logs are this test's captured stdout, not the kubelet's log API.
//!
//! Needs root (mount namespaces, setpriv) and `unshare`/`setpriv` from util-linux.

mod common;
mod packaging_tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{create, namespace, unique};
use serde_json::{Value, json};

const RELEASE: &str = "harvester-hygiene";
/// The image's entrypoint (Dockerfile ENTRYPOINT) and the binary that is built for it.
const ENTRYPOINT: &str = "/usr/local/bin/harvester-hygiene-job";
/// The node the Pod is bound to (no Node object: see the module comment).
const NODE: &str = "hh-kubelet-standin";

use common::kubectl;

fn kubectl_ok(args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(args, stdin);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn kubectl_json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&kubectl_ok(&a, None)).unwrap()
}

/// A raw request as admin.
async fn api(method: &str, url: &str, body: Option<&Value>) -> Result<Value, kube::Error> {
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default())
        .unwrap();
    common::client().await.request::<Value>(req).await
}

/// The test bed's address and CA (scripts/apiserver.sh writes DIR/kubeconfig and DIR/pki/ca.crt).
struct Bed {
    host: String,
    port: String,
    ca: PathBuf,
}

fn bed() -> Bed {
    let kc = common::kubeconfig();
    let admin = std::fs::read_to_string(kc).unwrap();
    let server = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server in the test kubeconfig");
    let hostport = server.strip_prefix("https://").expect("https server");
    let (host, port) = hostport.rsplit_once(':').expect("host:port");
    let ca = kc.parent().unwrap().join("pki/ca.crt");
    assert!(ca.exists(), "the test bed's CA {}", ca.display());
    Bed {
        host: host.to_string(),
        port: port.to_string(),
        ca,
    }
}

/// Render the chart with its default values into `ns` and apply it. The cluster-scoped RBAC
/// names get the namespace as suffix, as tests/job.rs does, so this install does not rebind
/// another test's ClusterRoleBindings.
fn install_chart(ns: &str) -> String {
    let out = Command::new(packaging_tools::tool("helm"))
        .args(["template", RELEASE])
        .arg(format!("{}/charts/harvester-hygiene", env!("CARGO_MANIFEST_DIR")))
        .args(["--namespace", ns])
        .output()
        .expect("helm");
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rendered = String::from_utf8(out.stdout).unwrap();
    assert!(rendered.contains("kind: CronJob\n") && rendered.contains("apiVersion: batch/v1\n"));
    for role in ["scan", "remediate", "policyreports"] {
        rendered = rendered.replace(
            &format!("name: {RELEASE}-{role}\n"),
            &format!("name: {RELEASE}-{role}-{ns}\n"),
        );
    }
    kubectl_ok(&["apply", "-n", ns, "-f", "-"], Some(&rendered));
    rendered
}

/// Stand-in for the root-ca-cert-publisher controller (not run by the test bed).
fn publish_root_ca(ns: &str, bed: &Bed) {
    if kubectl(&["get", "configmap", "kube-root-ca.crt", "-n", ns], None)
        .status
        .success()
    {
        return;
    }
    kubectl_ok(
        &[
            "create",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            ns,
            &format!("--from-file=ca.crt={}", bed.ca.display()),
        ],
        None,
    );
}

/// Wait for the Pod the Job controller creates for `job`.
fn wait_pod(ns: &str, job: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pods = kubectl_json(&[
            "get",
            "pods",
            "-n",
            ns,
            "-l",
            &format!("batch.kubernetes.io/job-name={job}"),
        ]);
        if let Some(p) = pods["items"].as_array().and_then(|a| a.first()) {
            return p.clone();
        }
        assert!(Instant::now() < deadline, "the Job controller made no Pod for {job}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Wait until the Job has the condition `type_` True; returns the Job.
fn wait_job(ns: &str, job: &str, type_: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = kubectl_json(&["get", "job", job, "-n", ns]);
        let done = j["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == type_ && c["status"] == "True"));
        if done {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "Job {job} not {type_} after 60 s: {:#}",
            j["status"]
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A Pod field as the downward API resolves it (the fieldPaths the API server accepts for env
/// and downwardAPI volumes that this stand-in needs).
fn field(pod: &Value, path: &str) -> String {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    if let Some(key) = path
        .strip_prefix("metadata.labels['")
        .and_then(|k| k.strip_suffix("']"))
    {
        return s(&pod["metadata"]["labels"][key]);
    }
    if let Some(key) = path
        .strip_prefix("metadata.annotations['")
        .and_then(|k| k.strip_suffix("']"))
    {
        return s(&pod["metadata"]["annotations"][key]);
    }
    match path {
        "metadata.name" => s(&pod["metadata"]["name"]),
        "metadata.namespace" => s(&pod["metadata"]["namespace"]),
        "metadata.uid" => s(&pod["metadata"]["uid"]),
        "spec.serviceAccountName" => s(&pod["spec"]["serviceAccountName"]),
        "spec.nodeName" => s(&pod["spec"]["nodeName"]),
        "status.hostIP" => s(&pod["status"]["hostIP"]),
        "status.podIP" => s(&pod["status"]["podIP"]),
        other => panic!("kubelet stand-in: fieldPath {other} not supported"),
    }
}

/// `$(VAR)` expansion of command and args as the kubelet does it (`$$` escapes).
fn expand(s: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("$$") {
            out.push('$');
            rest = t;
        } else if let Some(end) = tail.strip_prefix("$(").and_then(|t| t.find(')')) {
            let name = &tail[2..2 + end];
            match env.iter().rev().find(|(k, _)| k == name) {
                Some((_, v)) => out.push_str(v),
                None => out.push_str(&tail[..3 + end]),
            }
            rest = &tail[3 + end..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

fn mode_of(v: &Value, default: u32) -> u32 {
    v.as_u64().and_then(|m| u32::try_from(m).ok()).unwrap_or(default)
}

fn write_file(dir: &Path, rel: &str, data: &[u8], mode: u32, owner: Option<u32>) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, data).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    if let Some(uid) = owner {
        std::os::unix::fs::chown(&p, Some(uid), None).unwrap();
    }
}

/// A ConfigMap's payload as the configMap volume plugin makes it: every key, or `items`.
async fn configmap_payload(ns: &str, src: &Value) -> Vec<(String, Vec<u8>, Option<u32>)> {
    let name = src["name"].as_str().expect("configMap name");
    let cm = match api("GET", &format!("/api/v1/namespaces/{ns}/configmaps/{name}"), None).await {
        Ok(cm) => cm,
        Err(kube::Error::Api(s)) if s.code == 404 && src["optional"] == true => return vec![],
        Err(e) => panic!("kubelet stand-in: configMap {ns}/{name} (the kubelet would not start the container): {e}"),
    };
    let value = |k: &str| -> Vec<u8> {
        if let Some(s) = cm["data"][k].as_str() {
            return s.as_bytes().to_vec();
        }
        panic!("kubelet stand-in: key {k} of configMap {name} (binaryData not supported)")
    };
    match src["items"].as_array() {
        Some(items) => items
            .iter()
            .map(|i| {
                let k = i["key"].as_str().unwrap();
                (
                    i["path"].as_str().unwrap().to_string(),
                    value(k),
                    i["mode"].as_u64().map(|m| m as u32),
                )
            })
            .collect(),
        None => cm["data"]
            .as_object()
            .map(|d| d.keys().map(|k| (k.clone(), value(k), None)).collect())
            .unwrap_or_default(),
    }
}

/// The effective runAsUser/runAsGroup of the container (container securityContext over the
/// Pod's), as the kubelet passes them to the runtime; also FsUser for the projected token
/// (kubernetes/kubernetes pkg/volume/util/util.go FsUserFrom: one uid for all containers).
fn run_as(pod: &Value, c: &Value) -> (u32, u32) {
    let pick = |k: &str| {
        c["securityContext"][k]
            .as_u64()
            .or_else(|| pod["spec"]["securityContext"][k].as_u64())
            .and_then(|v| u32::try_from(v).ok())
    };
    let uid = pick("runAsUser").expect("the Pod sets runAsUser (the image's USER is 65532:65532 too)");
    let gid = pick("runAsGroup").unwrap_or(uid);
    (uid, gid)
}

/// Materialize one volume of the Pod into `dir`, as the kubelet's volume plugins would.
async fn materialize(pod: &Value, vol: &Value, dir: &Path, fs_user: u32) -> Option<String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap();
    if vol.get("configMap").is_some() {
        let src = &vol["configMap"];
        let default = mode_of(&src["defaultMode"], 0o644);
        for (path, data, mode) in configmap_payload(ns, src).await {
            write_file(dir, &path, &data, mode.unwrap_or(default), None);
        }
        return None;
    }
    let Some(sources) = vol["projected"]["sources"].as_array() else {
        panic!("kubelet stand-in: volume {vol} not supported");
    };
    let default = mode_of(&vol["projected"]["defaultMode"], 0o644);
    let mut token = None;
    for s in sources {
        if let Some(tp) = s.get("serviceAccountToken") {
            // kubernetes/kubernetes pkg/volume/projected/projected.go: a TokenRequest for the
            // Pod's ServiceAccount bound to the Pod, mode 0600 owned by FsUser when one is set.
            let sa = pod["spec"]["serviceAccountName"].as_str().unwrap();
            let mut spec = json!({
                "expirationSeconds": tp["expirationSeconds"].as_u64().unwrap_or(3600),
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                    "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}});
            if let Some(aud) = tp["audience"].as_str().filter(|a| !a.is_empty()) {
                spec["audiences"] = json!([aud]);
            }
            let tr = api(
                "POST",
                &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"),
                Some(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})),
            )
            .await
            .expect("TokenRequest");
            let t = tr["status"]["token"].as_str().expect("token").to_string();
            write_file(dir, tp["path"].as_str().unwrap(), t.as_bytes(), 0o600, Some(fs_user));
            token = Some(t);
        } else if let Some(cm) = s.get("configMap") {
            for (path, data, mode) in configmap_payload(ns, cm).await {
                write_file(dir, &path, &data, mode.unwrap_or(default), None);
            }
        } else if let Some(items) = s["downwardAPI"]["items"].as_array() {
            for i in items {
                let f = i["fieldRef"]["fieldPath"]
                    .as_str()
                    .unwrap_or_else(|| panic!("kubelet stand-in: downwardAPI item {i} not supported"));
                write_file(
                    dir,
                    i["path"].as_str().unwrap(),
                    field(pod, f).as_bytes(),
                    mode_of(&i["mode"], default),
                    None,
                );
            }
        } else {
            panic!("kubelet stand-in: projected source {s} not supported");
        }
    }
    token
}

fn shq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Mount points made on the host for a run, removed (if still empty) when dropped, also when
/// an assertion fails midway.
struct MadeDirs(Vec<PathBuf>);

impl Drop for MadeDirs {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// What the container did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
    started: String,
    finished: String,
    /// The projected ServiceAccount token the container was given.
    token: String,
    seconds: f64,
}

/// Write the Pod's status as the kubelet does (status subresource), retrying on conflicts
/// (the Job controller adds its tracking finalizer meanwhile).
async fn put_status(ns: &str, name: &str, status: impl Fn(&Value) -> Value) -> Value {
    let url = format!("/api/v1/namespaces/{ns}/pods/{name}");
    for _ in 0..20 {
        let mut pod = api("GET", &url, None).await.expect("get pod");
        pod["status"] = status(&pod);
        match api("PUT", &format!("{url}/status"), Some(&pod)).await {
            Ok(v) => return v,
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => panic!("pod status {ns}/{name}: {e}"),
        }
    }
    panic!("pod status {ns}/{name}: conflicts");
}

fn cond(type_: &str, status: bool, reason: Option<&str>, t: &str) -> Value {
    let mut c = json!({"type": type_, "status": if status { "True" } else { "False" },
        "lastProbeTime": null, "lastTransitionTime": t});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    c
}

/// Play the kubelet for `pod`: bind it, run its one container, report the exit.
async fn kubelet(pod: &Value, bed: &Bed) -> Ran {
    let ns = pod["metadata"]["namespace"].as_str().unwrap().to_string();
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    // The scheduler's one step.
    api(
        "POST",
        &format!("/api/v1/namespaces/{ns}/pods/{name}/binding"),
        Some(
            &json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}}),
        ),
    )
    .await
    .expect("bind the pod");
    let pod = api("GET", &format!("/api/v1/namespaces/{ns}/pods/{name}"), None)
        .await
        .unwrap();
    assert_eq!(pod["spec"]["nodeName"], NODE);
    let containers = pod["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "the job's Pod has one container");
    assert!(pod["spec"]["initContainers"].is_null(), "no init containers");
    let c = &containers[0];
    let (uid, gid) = run_as(&pod, c);
    assert_ne!(uid, 0, "runAsNonRoot");
    assert_eq!(
        pod["spec"]["securityContext"]["runAsNonRoot"], true,
        "the Pod asks for a non-root user"
    );

    // Env: the container's, fieldRefs resolved; then what the runtime and kubelet add.
    let mut env: Vec<(String, String)> = vec![
        // containerd's default PATH (the scratch image sets none).
        (
            "PATH".into(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        ),
        ("HOSTNAME".into(), name.clone()),
    ];
    for e in c["env"].as_array().into_iter().flatten() {
        let k = e["name"].as_str().unwrap().to_string();
        let v = if let Some(v) = e["value"].as_str() {
            expand(v, &env)
        } else if let Some(f) = e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            field(&pod, f)
        } else {
            panic!("kubelet stand-in: env {e} not supported");
        };
        env.push((k, v));
    }
    assert!(c["envFrom"].is_null(), "kubelet stand-in: envFrom not supported");
    // Service links for the `kubernetes` Service (see the module comment for the address).
    env.push(("KUBERNETES_SERVICE_HOST".into(), bed.host.clone()));
    env.push(("KUBERNETES_SERVICE_PORT".into(), bed.port.clone()));
    env.push(("KUBERNETES_SERVICE_PORT_HTTPS".into(), bed.port.clone()));
    // The image's /etc/passwd (scripts/image-rootfs.sh): 65532 is nonroot, home /home/nonroot.
    env.push(("HOME".into(), if uid == 65532 { "/home/nonroot" } else { "/" }.into()));

    // Volumes at their mount paths.
    let vols = tempfile::tempdir().unwrap();
    let mut mounts: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
    let mut token = None;
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        assert!(m["subPath"].is_null(), "kubelet stand-in: subPath not supported");
        let vname = m["name"].as_str().unwrap();
        let vol = pod["spec"]["volumes"]
            .as_array()
            .and_then(|v| v.iter().find(|v| v["name"] == vname))
            .unwrap_or_else(|| panic!("volume {vname}"));
        let dir = vols.path().join(vname);
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        if let Some(t) = materialize(&pod, vol, &dir, uid).await {
            token = Some(t);
        }
        // configMap, secret, downwardAPI and projected volumes are always mounted read-only.
        mounts.push((dir, PathBuf::from(m["mountPath"].as_str().unwrap()), true));
    }
    std::fs::set_permissions(vols.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let token = token.expect("the ServiceAccount admission plugin projected a token");

    let bin = match c["command"].as_array().and_then(|a| a.first()).and_then(Value::as_str) {
        Some(cmd) => cmd.to_string(),
        None => ENTRYPOINT.to_string(),
    };
    assert_eq!(bin, ENTRYPOINT, "the chart runs the image's entrypoint");
    let args: Vec<String> = c["args"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| expand(a.as_str().unwrap(), &env))
        .collect();

    // Mount points that the host lacks are made for the run and removed after it.
    let mut made = MadeDirs(Vec::new());
    for (_, target, _) in &mounts {
        let mut missing = Vec::new();
        let mut p = target.as_path();
        while !p.exists() {
            missing.push(p.to_path_buf());
            p = p.parent().unwrap();
        }
        std::fs::create_dir_all(target).unwrap();
        // Shallowest first, so that removing in reverse empties each directory before its parent.
        made.0.extend(missing.into_iter().rev());
    }
    let mut script = String::from("set -e\n");
    for (src, target, ro) in &mounts {
        let (s, t) = (shq(&src.to_string_lossy()), shq(&target.to_string_lossy()));
        script.push_str(&format!("mount --bind {s} {t}\n"));
        if *ro {
            script.push_str(&format!("mount -o remount,bind,ro {t}\n"));
        }
    }
    if c["securityContext"]["readOnlyRootFilesystem"] == true {
        script.push_str("mount -o remount,bind,ro /\n");
    }
    let no_new_privs = if c["securityContext"]["allowPrivilegeEscalation"] == false {
        " --no-new-privs"
    } else {
        ""
    };
    let caps = if c["securityContext"]["capabilities"]["drop"]
        .as_array()
        .is_some_and(|d| d.iter().any(|x| x == "ALL"))
    {
        " --inh-caps=-all --bounding-set=-all"
    } else {
        ""
    };
    script.push_str(&format!(
        "exec setpriv --reuid {uid} --regid {gid} --clear-groups{no_new_privs}{caps} env -i"
    ));
    for (k, v) in &env {
        script.push_str(&format!(" {}", shq(&format!("{k}={v}"))));
    }
    // The stand-in checks its own sandbox first: the same mounts and credentials, with a probe
    // in place of the container's process.
    let token_path = mounts
        .iter()
        .map(|(src, target, _)| (src.join("token"), target.join("token")))
        .find(|(src, _)| src.exists())
        .map(|(_, target)| target)
        .expect("the projected token's mount");
    let probe_cmd = format!(
        "id -u; id -g; id -G; grep -E '^(NoNewPrivs|CapInh|CapPrm|CapEff|CapBnd|CapAmb):' /proc/self/status; \
         stat -c 'token %u %a' {t}; head -c 3 {t} >/dev/null && echo token-readable; \
         for d in / /tmp {m}; do if touch \"$d/.hh-probe\" 2>/dev/null; then echo \"rw $d\"; rm -f \"$d/.hh-probe\"; else echo \"ro $d\"; fi; done",
        t = shq(&token_path.to_string_lossy()),
        m = mounts
            .iter()
            .map(|(_, t, _)| shq(&t.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let probe_script = format!("{script} /bin/sh -c {}\n", shq(&probe_cmd));
    script.push_str(&format!(" {}", shq(env!("CARGO_BIN_EXE_harvester-hygiene-job"))));
    for a in &args {
        script.push_str(&format!(" {}", shq(a)));
    }
    script.push('\n');
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &probe_script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("unshare");
    let probe_out = String::from_utf8_lossy(&probe.stdout).to_string();
    assert!(
        probe.status.success(),
        "sandbox probe: {probe_out}{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let mut want = vec![
        uid.to_string(),
        gid.to_string(),
        gid.to_string(),
        "CapInh:\t0000000000000000".to_string(),
        "CapPrm:\t0000000000000000".to_string(),
        "CapEff:\t0000000000000000".to_string(),
        "CapBnd:\t0000000000000000".to_string(),
        "CapAmb:\t0000000000000000".to_string(),
        "NoNewPrivs:\t1".to_string(),
        format!("token {uid} 600"),
        "token-readable".to_string(),
        "ro /".to_string(),
        "ro /tmp".to_string(),
    ];
    want.extend(mounts.iter().map(|(_, t, _)| format!("ro {}", t.display())));
    assert_eq!(probe_out.lines().collect::<Vec<_>>(), want, "the sandbox");

    let started = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap().to_string();
    let container_id = format!("containerd://{}", unique("hh").replace('-', ""));
    let image = c["image"].as_str().unwrap().to_string();
    let pod_ip = bed.host.clone();
    put_status(&ns, &name, |p| {
        let mut s = p["status"].clone();
        s["phase"] = json!("Running");
        s["hostIP"] = json!(pod_ip);
        s["hostIPs"] = json!([{"ip": pod_ip}]);
        s["podIP"] = json!(pod_ip);
        s["podIPs"] = json!([{"ip": pod_ip}]);
        s["startTime"] = json!(started);
        s["conditions"] = json!([
            cond("PodReadyToStartContainers", true, None, &started),
            cond("Initialized", true, None, &started),
            cond("Ready", true, None, &started),
            cond("ContainersReady", true, None, &started),
            cond("PodScheduled", true, None, &started),
        ]);
        s["containerStatuses"] = json!([{"name": c["name"], "image": image, "imageID": "",
            "containerID": container_id, "ready": true, "started": true, "restartCount": 0,
            "state": {"running": {"startedAt": started}}}]);
        s
    })
    .await;

    let t0 = Instant::now();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("unshare");
    let seconds = t0.elapsed().as_secs_f64();
    let made_paths = made.0.clone();
    drop(made);
    for d in &made_paths {
        assert!(!d.exists(), "mount point {} left on the host", d.display());
    }
    let code = out.status.code().unwrap_or(128);
    let finished = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap().to_string();

    // The exit as the kubelet reports a terminated restartPolicy: Never container.
    let (phase, reason, pod_reason) = if code == 0 {
        ("Succeeded", "Completed", "PodCompleted")
    } else {
        ("Failed", "Error", "PodFailed")
    };
    put_status(&ns, &name, |p| {
        let mut s = p["status"].clone();
        s["phase"] = json!(phase);
        s["conditions"] = json!([
            cond("PodReadyToStartContainers", false, None, &finished),
            cond("Initialized", true, Some("PodCompleted"), &started),
            cond("Ready", false, Some(pod_reason), &finished),
            cond("ContainersReady", false, Some(pod_reason), &finished),
            cond("PodScheduled", true, None, &started),
        ]);
        s["containerStatuses"] = json!([{"name": c["name"], "image": image, "imageID": "",
            "containerID": container_id, "ready": false, "started": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "reason": reason,
                "startedAt": started, "finishedAt": finished, "containerID": container_id}}}]);
        s
    })
    .await;
    Ran {
        code,
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        started,
        finished,
        token,
        seconds,
    }
}

/// One Job from the CronJob, its Pod run by the stand-in kubelet; returns the Pod and the run.
async fn run_once(ns: &str, cronjob: &str, job: &str, bed: &Bed) -> (Value, Ran) {
    kubectl_ok(
        &["create", "job", job, "-n", ns, &format!("--from=cronjob/{cronjob}")],
        None,
    );
    let pod = wait_pod(ns, job);
    let ran = kubelet(&pod, bed).await;
    (pod, ran)
}

/// `kubectl` with only the given bearer token, verifying the serving certificate with `ca`.
fn kubectl_token(bed: &Bed, ca: &Path, token: &str, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    Command::new("kubectl")
        .args([
            &format!("--server=https://{}:{}", bed.host, bed.port),
            &format!("--certificate-authority={}", ca.display()),
            &format!("--token={token}"),
        ])
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", home.path())
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_shipped_cronjob_runs_as_a_pod_completes_and_keeps_its_history_limit() {
    let t_all = Instant::now();
    let bed = bed();
    let ns = unique("hh-pod");
    kubectl_ok(&["create", "namespace", &ns], None);
    let rendered = install_chart(&ns);
    publish_root_ca(&ns, &bed);
    let cj = kubectl_json(&["get", "cronjob", RELEASE, "-n", &ns]);
    let limit = cj["spec"]["successfulJobsHistoryLimit"].as_u64().unwrap();
    assert_eq!(limit, 3, "the chart's default");
    assert_eq!(cj["spec"]["suspend"], false, "applied as shipped");

    // Fixtures: a finding (a mutable image URL), and a PVC and a Secret the job must not touch.
    let fns = namespace("hh-pod-fix").await;
    let image = unique("fedora-rawhide");
    create(json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": image, "namespace": fns},
        "spec": {"displayName": image, "sourceType": "download",
                 "url": "https://dl.fedoraproject.org/pub/fedora/linux/development/rawhide/Cloud/x86_64/images/Fedora-Cloud-Base.qcow2"}}))
    .await;
    kubectl_ok(
        &[
            "create",
            "secret",
            "generic",
            "not-yours",
            "-n",
            &fns,
            "--from-literal=k=v",
        ],
        None,
    );
    kubectl_ok(
        &["apply", "-n", &fns, "-f", "-"],
        Some(
            r#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"keep-me"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}"#,
        ),
    );

    // 1. One run.
    let job1 = format!("{RELEASE}-manual-1");
    let (pod, ran) = run_once(&ns, RELEASE, &job1, &bed).await;
    let pod_name = pod["metadata"]["name"].as_str().unwrap().to_string();
    eprintln!(
        "kubelet stand-in: {pod_name} ran {:.2} s ({} .. {}), exit {}",
        ran.seconds, ran.started, ran.finished, ran.code
    );
    // The job exits 0 when it did its work, whatever it found (src/bin/harvester-hygiene-job.rs).
    assert_eq!(ran.code, 0, "stdout:\n{}\nstderr:\n{}", ran.stdout, ran.stderr);
    let lines: Vec<Value> = ran
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let ours: Vec<&Value> = lines
        .iter()
        .filter(|l| l["msg"] == "finding" && l["object"]["namespace"] == fns.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{lines:#?}");
    assert_eq!(ours[0]["rule"], "image-mutable-url");
    // The shipped policy is empty: the rule's own severity.
    assert_eq!(ours[0]["level"], "warning", "{:#}", ours[0]);
    let done = lines
        .iter()
        .find(|l| l["msg"] == "scan complete")
        .expect("summary line");
    assert_eq!(done["incomplete"], false, "the shipped RBAC reads every kind: {done}");
    // The policy file the job reads (/etc/harvester-hygiene/config.yaml): see step 5.
    assert!(rendered.contains("config.yaml: |"), "the chart ships a policy file");

    // The Pod as the Job controller made it: the chart's ServiceAccount, the token projected by
    // the ServiceAccount admission plugin, the policy ConfigMap.
    assert_eq!(pod["spec"]["serviceAccountName"], RELEASE);
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "Job");
    let mounts: Vec<&str> = pod["spec"]["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    assert!(
        mounts.contains(&"/var/run/secrets/kubernetes.io/serviceaccount") && mounts.contains(&"/etc/harvester-hygiene"),
        "{mounts:?}"
    );

    // 2. The Job controller saw the Pod succeed.
    let j = wait_job(&ns, &job1, "Complete");
    assert_eq!(j["status"]["succeeded"], 1, "{:#}", j["status"]);
    assert_eq!(
        j["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(j["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(j["metadata"]["ownerReferences"][0]["controller"], true);

    // 3. The report ConfigMap in the Pod's namespace (POD_NAMESPACE from the fieldRef).
    let cm = kubectl_json(&["get", "configmap", &format!("{RELEASE}-report"), "-n", &ns]);
    let report: Value = serde_json::from_str(cm["data"]["report.json"].as_str().unwrap()).unwrap();
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["object"]["name"] == image.as_str() && f["rule"] == "image-mutable-url"),
        "{report:#}"
    );
    // The core v1 Event on the image, from this Pod (POD_NAME from the fieldRef).
    let events = kubectl_json(&["get", "events", "-n", &fns]);
    let ev: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["involvedObject"]["name"] == image.as_str() && e["type"] == "Warning")
        .collect();
    assert_eq!(ev.len(), 1, "{events:#}");
    assert_eq!(ev[0]["reason"], "image-mutable-url");
    assert_eq!(ev[0]["reportingInstance"], pod_name.as_str(), "{:#}", ev[0]);

    // 4. What the job could not do with the shipped RBAC: with the Pod's own token (bound to
    // the Pod, verified against the CA it was given) and by `auth can-i`.
    let who = kubectl_token(&bed, &bed.ca, &ran.token, &["auth", "whoami", "-o", "json"]);
    assert!(who.status.success(), "{}", String::from_utf8_lossy(&who.stderr));
    let who: Value = serde_json::from_slice(&who.stdout).unwrap();
    let user = format!("system:serviceaccount:{ns}:{RELEASE}");
    assert_eq!(who["status"]["userInfo"]["username"], user.as_str());
    // Bound to the node the Pod is bound to by name only: with no Node object the apiserver
    // leaves out the node-uid claim (kubernetes/kubernetes
    // pkg/registry/core/serviceaccount/storage/token.go).
    let extra = &who["status"]["userInfo"]["extra"];
    assert_eq!(extra["authentication.kubernetes.io/node-name"][0], NODE, "{extra}");
    assert!(extra["authentication.kubernetes.io/node-uid"].is_null(), "{extra}");
    assert_eq!(
        who["status"]["userInfo"]["extra"]["authentication.kubernetes.io/pod-name"][0],
        pod_name.as_str()
    );
    // (Raw requests: each is exactly the one verb; the deletes are server-side dry runs.)
    for (verb, path) in [
        (
            "delete",
            format!("/api/v1/namespaces/{fns}/persistentvolumeclaims/keep-me?dryRun=All"),
        ),
        ("get", format!("/api/v1/namespaces/{fns}/secrets/not-yours")),
        (
            "delete",
            format!("/apis/harvesterhci.io/v1beta1/namespaces/{fns}/virtualmachineimages/{image}?dryRun=All"),
        ),
    ] {
        let args = [verb, "--raw", &path];
        let out = kubectl_token(&bed, &bed.ca, &ran.token, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("Forbidden"), "{args:?}: {err}");
    }
    for (verb, what, allowed) in [
        ("list", "virtualmachineimages.harvesterhci.io", "yes"),
        ("create", "events", "yes"),
        ("get", "secrets", "no"),
        ("list", "secrets", "no"),
        ("delete", "persistentvolumeclaims", "no"),
        ("delete", "persistentvolumes", "no"),
        ("patch", "persistentvolumes", "no"),
        ("create", "pods", "no"),
    ] {
        let out = kubectl(&["auth", "can-i", verb, what, "--all-namespaces", "--as", &user], None);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), allowed, "{verb} {what}");
    }
    common::assert_live("v1", "PersistentVolumeClaim", Some(&fns), "keep-me").await;
    common::assert_live("v1", "Secret", Some(&fns), "not-yours").await;

    // 5. The policy is the mounted ConfigMap: a severity set there (as values.yaml's example
    // does) is what the next run reports.
    let policy = format!("{RELEASE}-policy");
    let cm = kubectl_json(&["get", "configmap", &policy, "-n", &ns]);
    let config = cm["data"]["config.yaml"].as_str().unwrap().to_string();
    assert!(!config.contains("rules:"), "the shipped policy: {config}");
    let patch = json!({"data": {"config.yaml":
        format!("{config}rules:\n  image-mutable-url:\n    severity: error\n")}});
    kubectl_ok(
        &[
            "patch",
            "configmap",
            &policy,
            "-n",
            &ns,
            "--type=merge",
            "-p",
            &patch.to_string(),
        ],
        None,
    );

    // 6. History: limit+1 successful Jobs, and the CronJob controller deletes the oldest.
    let mut jobs = vec![job1.clone()];
    for i in 2..=limit + 1 {
        let job = format!("{RELEASE}-manual-{i}");
        let (_, ran) = run_once(&ns, RELEASE, &job, &bed).await;
        eprintln!("kubelet stand-in: {job} ran {:.2} s, exit {}", ran.seconds, ran.code);
        assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
        let levels: Vec<Value> = ran
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["msg"] == "finding" && l["object"]["namespace"] == fns.as_str())
            .map(|l| l["level"].clone())
            .collect();
        assert_eq!(levels, [json!("error")], "run {i} reads the patched policy");
        wait_job(&ns, &job, "Complete");
        jobs.push(job);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let left = loop {
        let list = kubectl_json(&["get", "jobs", "-n", &ns]);
        let names: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["metadata"]["deletionTimestamp"].is_null())
            .filter_map(|j| j["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        if !names.contains(&job1) || Instant::now() > deadline {
            break names;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let mut expected: Vec<String> = jobs[1..].to_vec();
    expected.sort();
    let mut left = left;
    left.sort();
    assert_eq!(left, expected, "the CronJob controller keeps the newest {limit}");
    let cj = kubectl_json(&["get", "cronjob", RELEASE, "-n", &ns]);
    assert!(cj["status"]["lastSuccessfulTime"].is_string(), "{:#}", cj["status"]);
    eprintln!("cronjob_pod: {:.1} s in all", t_all.elapsed().as_secs_f64());
}
