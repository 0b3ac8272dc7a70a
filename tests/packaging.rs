//! Packaging as shipped: the Fleet bundle (fleet.yaml, fleet/base, every overlay, fleet/rbac)
//! rendered with kubectl's kustomize, checked against the code (the ClusterRole lists exactly
//! the kinds the scan reads), validated against the Kubernetes types (k8s-openapi round trip,
//! batch/v1 included) and by server-side dry-run on the real apiserver; the krew manifest
//! against krew's validation rules; the release script's archive and rendered manifest; the
//! static binary the Dockerfile ships; and the plugin as kubectl finds it on PATH.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

const NS: &str = "harvester-hygiene";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const PLATFORMS: [(&str, &str); 6] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
    ("windows", "arm64"),
];

fn repo() -> PathBuf {
    common::repo()
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    if let Some(s) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap_or_else(|e| panic!("YAML: {e}\n{text}"))
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_file(rel: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut docs = yaml_docs(&text);
    assert_eq!(docs.len(), 1, "{rel}: one document");
    docs.remove(0)
}

/// The kustomizations that ship: fleet/base, every fleet/overlays/*, fleet/rbac.
fn kustomizations() -> Vec<String> {
    let mut dirs = vec!["fleet/base".to_string(), "fleet/rbac".to_string()];
    let mut overlays: Vec<String> = std::fs::read_dir(repo().join("fleet/overlays"))
        .unwrap()
        .map(|e| format!("fleet/overlays/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    overlays.sort();
    assert!(overlays.len() >= 4, "{overlays:?}");
    dirs.extend(overlays);
    dirs
}

fn render(dir: &str) -> Vec<Value> {
    let out = run(Command::new("kubectl").arg("kustomize").arg(repo().join(dir)), None);
    let docs = yaml_docs(&ok(&out, &format!("kubectl kustomize {dir}")));
    assert!(!docs.is_empty(), "{dir} renders nothing");
    docs
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

fn get<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    find(docs, kind, name).unwrap_or_else(|| panic!("no {kind}/{name} in {docs:#?}"))
}

// ---------------------------------------------------------------------------------------------
// Fleet bundle

#[test]
fn fleet_yaml_uses_default_namespace_and_existing_overlays() {
    let fleet = yaml_file("fleet/fleet.yaml");
    assert_eq!(fleet["defaultNamespace"], NS);
    // `namespace` fails the deployment of a bundle with cluster-scoped objects.
    assert!(fleet.get("namespace").is_none(), "fleet.yaml must not set namespace");
    assert_eq!(
        fleet["namespaceLabels"]["pod-security.kubernetes.io/enforce"], "restricted",
        "{fleet:#}"
    );
    assert_eq!(fleet["kustomize"]["dir"], "base");
    let customs = fleet["targetCustomizations"].as_array().expect("targetCustomizations");
    let mut names = BTreeSet::new();
    let mut used_dirs = BTreeSet::new();
    for c in customs {
        let name = c["name"].as_str().expect("name");
        assert!(names.insert(name), "duplicate customisation {name}");
        assert!(c.get("namespace").is_none(), "{name}: namespace");
        let labels = c["clusterSelector"]["matchLabels"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: clusterSelector.matchLabels"));
        assert!(!labels.is_empty(), "{name}: an empty selector matches every cluster");
        if c["doNotDeploy"] == true {
            continue;
        }
        let dir = c["kustomize"]["dir"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: kustomize.dir"));
        assert!(
            repo().join("fleet").join(dir).join("kustomization.yaml").is_file(),
            "{name}: fleet/{dir}/kustomization.yaml is missing"
        );
        used_dirs.insert(format!("fleet/{dir}"));
    }
    // Every shipped overlay is reachable from fleet.yaml.
    let overlays: BTreeSet<String> = kustomizations()
        .into_iter()
        .filter(|d| d.starts_with("fleet/overlays/"))
        .collect();
    assert_eq!(overlays, used_dirs);
    for wanted in ["fleet/overlays/remediation", "fleet/overlays/openstack"] {
        assert!(used_dirs.contains(wanted), "{wanted}");
    }
}

#[test]
fn gitrepo_example_targets_harvester_clusters() {
    let g = yaml_file("fleet/gitrepo.example.yaml");
    assert_eq!(g["apiVersion"], "fleet.cattle.io/v1alpha1");
    assert_eq!(g["kind"], "GitRepo");
    assert_eq!(g["metadata"]["namespace"], "fleet-default");
    assert_eq!(g["spec"]["repo"], env!("CARGO_PKG_REPOSITORY"));
    assert_eq!(g["spec"]["paths"], serde_json::json!(["fleet"]));
    let targets = g["spec"]["targets"].as_array().expect("targets");
    assert!(!targets.is_empty());
    for t in targets {
        assert_eq!(
            t["clusterSelector"]["matchLabels"]["provider.cattle.io"], "harvester",
            "{t}"
        );
    }
    // What Fleet picks up from paths: [fleet] is one bundle with fleet.yaml at its root.
    assert!(repo().join("fleet/fleet.yaml").is_file());
}

#[test]
fn renders_ship_no_namespace_and_set_no_namespace() {
    for dir in kustomizations() {
        for d in render(&dir) {
            assert!(
                !(d["kind"] == "Namespace" && d["metadata"]["name"] == NS),
                "{dir}: Fleet creates namespace {NS}; ship no Namespace of that name"
            );
            assert!(
                d["metadata"].get("namespace").is_none(),
                "{dir}: {}/{} sets a namespace; Fleet's defaultNamespace should place it",
                d["kind"],
                d["metadata"]["name"]
            );
            assert_eq!(d["metadata"]["labels"]["app.kubernetes.io/name"], NS, "{dir}: {d}");
        }
    }
}

#[test]
fn cronjob_is_hardened() {
    for dir in kustomizations().into_iter().filter(|d| d != "fleet/rbac") {
        let docs = render(&dir);
        let cj = get(&docs, "CronJob", NS);
        assert_eq!(cj["apiVersion"], "batch/v1", "{dir}");
        let spec = &cj["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Forbid", "{dir}");
        for limit in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
            let n = spec[limit].as_u64().unwrap_or_else(|| panic!("{dir}: {limit}"));
            assert!((1..=5).contains(&n), "{dir}: {limit} {n}");
        }
        let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], NS, "{dir}");
        assert_eq!(pod["restartPolicy"], "Never", "{dir}");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{dir}");
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{dir}"
        );
        let containers = pod["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1, "{dir}");
        let c = &containers[0];
        for q in ["requests", "limits"] {
            for r in ["cpu", "memory"] {
                assert!(c["resources"][q][r].is_string(), "{dir}: resources.{q}.{r}");
            }
        }
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{dir}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{dir}");
        assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]), "{dir}");
        assert!(sc["capabilities"].get("add").is_none(), "{dir}");
        let image = c["image"].as_str().unwrap();
        assert!(
            image.ends_with(&format!(":v{VERSION}")),
            "{dir}: image {image} is not v{VERSION}"
        );
        // The policy ConfigMap is mounted where the job looks for it.
        let mount = &c["volumeMounts"][0];
        assert_eq!(mount["mountPath"], "/etc/harvester-hygiene", "{dir}");
        let vol = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("policy volume");
        let cm = vol["configMap"]["name"].as_str().unwrap();
        assert!(get(&docs, "ConfigMap", cm)["data"]["config.yaml"].is_string(), "{dir}");

        let args: Vec<&str> = c["args"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        match dir.as_str() {
            "fleet/overlays/remediation" => {
                assert!(args.contains(&"--remediate"), "{dir}: {args:?}")
            }
            _ => assert!(!args.contains(&"--remediate"), "{dir}: remediation is opt-in"),
        }
        match dir.as_str() {
            "fleet/overlays/schedule-hourly" => assert_eq!(spec["schedule"], "7 * * * *"),
            _ => assert_eq!(spec["schedule"], "17 */6 * * *", "{dir}"),
        }
        if dir == "fleet/overlays/private-registry" {
            assert!(!image.starts_with("ghcr.io/"), "{image}");
        }
    }
}

/// The Dockerfile's user and entrypoint agree with the CronJob (it cannot be built here).
#[test]
fn dockerfile_matches_the_cronjob() {
    let df = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = df.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    let last = froms[1];
    assert!(
        last.contains("gcr.io/distroless/static") || last == "FROM scratch",
        "final stage: {last}"
    );
    assert!(df.contains("RUSTFLAGS=\"-C target-feature=+crt-static\""));
    assert!(df.contains("--target x86_64-unknown-linux-gnu"));
    assert!(df.contains("--bin harvester-hygiene-job"));
    let user = df.lines().rfind(|l| l.starts_with("USER ")).expect("USER");
    assert_eq!(user, "USER 65532:65532");
    let entry = df.lines().rfind(|l| l.starts_with("ENTRYPOINT ")).expect("ENTRYPOINT");
    assert!(entry.contains("/harvester-hygiene-job\"]"), "{entry}");
    let docs = render("fleet/base");
    let pod = &get(&docs, "CronJob", NS)["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["securityContext"]["runAsGroup"], 65532);
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    for p in ["target/", ".git/"] {
        assert!(ignore.lines().any(|l| l == p), ".dockerignore: {p}");
    }
}

/// Every policy the bundle ships is one the code accepts, and it takes effect.
#[test]
fn shipped_policies_are_valid_configs() {
    let dir = tempfile::tempdir().unwrap();
    for kdir in kustomizations().into_iter().filter(|d| d != "fleet/rbac") {
        let docs = render(&kdir);
        let cfg = get(&docs, "ConfigMap", "harvester-hygiene-policy")["data"]["config.yaml"]
            .as_str()
            .unwrap()
            .to_string();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, &cfg).unwrap();
        let demo = repo().join("examples/demo-cluster");
        let out = common::plugin(&[
            "scan",
            "--from",
            demo.to_str().unwrap(),
            "--config",
            path.to_str().unwrap(),
            "-o",
            "json",
            "--fail-on",
            "never",
        ]);
        let report: Value = serde_json::from_str(&ok(&out, &format!("{kdir} policy"))).unwrap();
        let severities: BTreeSet<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "image-mutable-url")
            .map(|f| f["severity"].as_str().unwrap())
            .collect();
        assert!(
            !severities.is_empty(),
            "{kdir}: the demo has image-mutable-url findings"
        );
        if kdir == "fleet/overlays/policy-strict" {
            assert_eq!(
                severities,
                BTreeSet::from(["error"]),
                "{kdir}: the strict policy applies"
            );
        } else {
            assert!(severities.contains("warning"), "{kdir}: {severities:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RBAC against the code

/// (apiGroup, resource, verb, resourceNames) granted by a role's rules.
type Grant = (String, String, String, Vec<String>);

fn grants(role: &Value) -> BTreeSet<Grant> {
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().expect("rules") {
        assert!(rule.get("nonResourceURLs").is_none(), "{rule}");
        let mut names = strs(&rule["resourceNames"]);
        names.sort();
        for g in strs(&rule["apiGroups"]) {
            for r in strs(&rule["resources"]) {
                for v in strs(&rule["verbs"]) {
                    assert!(g != "*" && r != "*" && v != "*", "wildcard in {rule}");
                    out.insert((g.clone(), r.clone(), v, names.clone()));
                }
            }
        }
    }
    out
}

/// What a live scan of all rules reads, from the library: a list per kind, or a GET per
/// name for kinds read by name (the Setting `server-version`).
fn scan_reads() -> BTreeSet<Grant> {
    let kinds = harvester_hygiene::scan::kinds_for(harvester_hygiene::rules::REGISTRY);
    assert!(kinds.len() >= 10, "{}", kinds.len());
    let mut out = BTreeSet::new();
    for ops in kinds {
        let info = ops.info();
        if info.only_names.is_empty() {
            out.insert((info.group.into(), info.plural.into(), "list".into(), vec![]));
            if info.by_scope_name {
                // With -n the scan GETs the one object named like the namespace.
                out.insert((info.group.into(), info.plural.into(), "get".into(), vec![]));
            }
        } else {
            let mut names: Vec<String> = info.only_names.iter().map(|s| s.to_string()).collect();
            names.sort();
            out.insert((info.group.into(), info.plural.into(), "get".into(), names));
        }
    }
    out
}

fn events_grants() -> BTreeSet<Grant> {
    ["create", "patch"]
        .into_iter()
        .map(|v| ("events.k8s.io".into(), "events".into(), v.into(), vec![]))
        .collect()
}

#[test]
fn scan_cluster_role_lists_exactly_what_the_scan_reads() {
    let docs = render("fleet/base");
    let role = grants(get(&docs, "ClusterRole", "harvester-hygiene-scan"));
    let mut expected = scan_reads();
    expected.extend(events_grants());
    assert_eq!(role, expected, "fleet/base/clusterrole.yaml vs scan::kinds_for");
    for (g, r, v, _) in &role {
        assert_ne!(r, "secrets");
        if r == "events" {
            assert!(v == "create" || v == "patch", "{g}/{r} {v}");
        } else {
            assert!(v == "get" || v == "list", "{g}/{r} {v}: read-only");
        }
    }
    // Bound to the bundle's ServiceAccount in defaultNamespace.
    let crb = get(&docs, "ClusterRoleBinding", "harvester-hygiene-scan");
    assert_eq!(crb["roleRef"]["name"], "harvester-hygiene-scan");
    assert_eq!(crb["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(crb["subjects"][0]["name"], NS);
    assert_eq!(crb["subjects"][0]["namespace"], NS);
    assert!(find(&docs, "ServiceAccount", NS).is_some());
    // The report Role: only ConfigMaps; everything but create limited to the one report.
    for (g, r, v, names) in grants(get(&docs, "Role", "harvester-hygiene-report")) {
        assert_eq!((g.as_str(), r.as_str()), ("", "configmaps"));
        assert!(["get", "update", "patch", "create"].contains(&v.as_str()), "{v}");
        if v != "create" {
            assert_eq!(names, vec!["harvester-hygiene-report".to_string()], "{v}");
        }
    }
}

#[test]
fn reader_role_is_the_scan_role_without_events() {
    let docs = render("fleet/rbac");
    let reader = grants(get(&docs, "ClusterRole", "harvester-hygiene-reader"));
    assert_eq!(reader, scan_reads(), "fleet/rbac/clusterrole.yaml vs scan::kinds_for");
    let crb = get(&docs, "ClusterRoleBinding", "harvester-hygiene-reader");
    assert_eq!(crb["roleRef"]["kind"], "ClusterRole");
    assert_eq!(crb["roleRef"]["name"], "harvester-hygiene-reader");
    assert_eq!(crb["subjects"][0]["kind"], "Group");
    assert_eq!(docs.len(), 2, "only the role and its binding");
}

#[test]
fn opt_in_roles_are_only_in_their_overlays() {
    let openstack = grants(get(
        &render("fleet/overlays/openstack"),
        "ClusterRole",
        "harvester-hygiene-openstack",
    ));
    let expected: BTreeSet<Grant> = [
        ("migration.harvesterhci.io", "openstacksources", "get"),
        ("migration.harvesterhci.io", "openstacksources", "list"),
        ("", "secrets", "get"),
    ]
    .into_iter()
    .map(|(g, r, v)| (g.into(), r.into(), v.into(), vec![]))
    .collect();
    assert_eq!(openstack, expected);
    for dir in kustomizations() {
        let docs = render(&dir);
        // Nothing binds the OpenStack role: a person binds it for `fix --openstack`.
        for d in &docs {
            if d["kind"] == "RoleBinding" || d["kind"] == "ClusterRoleBinding" {
                assert_ne!(d["roleRef"]["name"], "harvester-hygiene-openstack", "{dir}");
            }
        }
        let has = |kind: &str, name: &str| find(&docs, kind, name).is_some();
        assert_eq!(
            has("ClusterRole", "harvester-hygiene-openstack"),
            dir == "fleet/overlays/openstack",
            "{dir}"
        );
        assert_eq!(
            has("ClusterRoleBinding", "harvester-hygiene-remediate"),
            dir == "fleet/overlays/remediation",
            "{dir}: remediation rights are opt-in"
        );
        // Secrets are readable only through the OpenStack role.
        for d in docs
            .iter()
            .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
        {
            if d["metadata"]["name"] != "harvester-hygiene-openstack" {
                assert!(!grants(d).iter().any(|(_, r, _, _)| r == "secrets"), "{dir}: {d}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Schema validation

/// Round-trip an object through its k8s-openapi type: a field the type does not know (a typo,
/// a wrong level) is dropped and the comparison fails (the client-side twin of
/// `server_side_dry_run_accepts_every_render`).
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(obj: &Value) {
    let typed: T = serde_json::from_value(obj.clone())
        .unwrap_or_else(|e| panic!("{} {}: {e}", obj["kind"], obj["metadata"]["name"]));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, obj, "{} does not match its schema", obj["kind"]);
}

#[test]
fn manifests_match_the_kubernetes_types() {
    use k8s_openapi::api::{batch::v1::CronJob, core::v1 as core, rbac::v1 as rbac};
    let mut seen = BTreeSet::new();
    for dir in kustomizations() {
        for d in render(&dir) {
            let kind = d["kind"].as_str().unwrap().to_string();
            match (d["apiVersion"].as_str().unwrap(), kind.as_str()) {
                ("batch/v1", "CronJob") => round_trip::<CronJob>(&d),
                ("v1", "ConfigMap") => round_trip::<core::ConfigMap>(&d),
                ("v1", "ServiceAccount") => round_trip::<core::ServiceAccount>(&d),
                ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip::<rbac::ClusterRole>(&d),
                ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => round_trip::<rbac::ClusterRoleBinding>(&d),
                ("rbac.authorization.k8s.io/v1", "Role") => round_trip::<rbac::Role>(&d),
                ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip::<rbac::RoleBinding>(&d),
                (av, k) => panic!("{dir}: unexpected {av} {k}"),
            }
            seen.insert(kind);
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
}

/// Detects a typo the round trip would catch, so that check is known to bite.
#[test]
#[should_panic(expected = "does not match its schema")]
fn round_trip_rejects_an_unknown_field() {
    let mut cj = get(&render("fleet/base"), "CronJob", NS).clone();
    cj["spec"]["concurrencyPolicyy"] = "Forbid".into();
    round_trip::<k8s_openapi::api::batch::v1::CronJob>(&cj);
}

fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    run(
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", common::kubeconfig()),
        stdin,
    )
}

/// Server-side dry-run of every render on the real apiserver, with kubectl's strict schema
/// validation (the test bed serves batch/v1 CronJob, as every supported Kubernetes does).
#[tokio::test]
async fn server_side_dry_run_accepts_every_render() {
    let ns = common::namespace("packaging").await;
    for dir in kustomizations() {
        let docs: Vec<String> = render(&dir)
            .into_iter()
            .map(|d| {
                if d["kind"] == "CronJob" {
                    assert_eq!(d["apiVersion"], "batch/v1");
                }
                serde_json::to_string(&d).unwrap()
            })
            .collect();
        let list = format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{}]}}",
            docs.join(",")
        );
        let out = kubectl(
            &[
                "apply",
                "--dry-run=server",
                "--validate=strict",
                "-n",
                &ns,
                "-o",
                "name",
                "-f",
                "-",
            ],
            Some(&list),
        );
        let applied = ok(&out, &format!("dry-run {dir}"));
        assert_eq!(applied.lines().count(), docs.len(), "{dir}: {applied}");
        assert!(applied.contains("cronjob") || dir == "fleet/rbac", "{dir}: {applied}");
    }
    // The same check rejects a manifest with a field the schema does not have.
    let mut bad = get(&render("fleet/base"), "CronJob", NS).clone();
    bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = serde_json::json!({});
    let out = kubectl(
        &["apply", "--dry-run=server", "--validate=strict", "-n", &ns, "-f", "-"],
        Some(&bad.to_string()),
    );
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // Nothing was created.
    let out = kubectl(&["get", "serviceaccounts,configmaps", "-n", &ns, "-o", "name"], None);
    assert!(!ok(&out, "get").contains(NS), "dry-run created objects");
}

// ---------------------------------------------------------------------------------------------
// krew

fn krew_template() -> Value {
    yaml_file("krew/harvester-hygiene.yaml")
}

fn archive_name(os: &str, arch: &str) -> String {
    let ext = if os == "windows" { "zip" } else { "tar.gz" };
    format!("kubectl-harvester-hygiene_v{VERSION}_{os}_{arch}.{ext}")
}

/// krew's validation rules (internal/index/validation) plus its naming guide.
fn check_krew_manifest(m: &Value) {
    assert_eq!(m["apiVersion"], "krew.googlecontainertools.github.com/v1alpha2");
    assert_eq!(m["kind"], "Plugin");
    let name = m["metadata"]["name"].as_str().unwrap();
    assert_eq!(name, "harvester-hygiene", "the file name");
    assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{name}");
    let spec = &m["spec"];
    assert_eq!(spec["version"], format!("v{VERSION}").as_str(), "the git tag");
    assert_eq!(spec["homepage"], env!("CARGO_PKG_REPOSITORY"));
    let short = spec["shortDescription"].as_str().unwrap();
    assert!(!short.is_empty() && short.len() < 50, "shortDescription: {short:?}");
    assert!(!short.contains('\n'));
    for word in ["kubectl", "plugin", "kubernetes"] {
        assert!(!short.to_lowercase().contains(word), "shortDescription says {word}");
    }
    assert!(spec["description"].as_str().unwrap().len() > 100);
    assert!(!spec["caveats"].as_str().unwrap().is_empty());
    let platforms = spec["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), PLATFORMS.len());
    let mut covered = BTreeSet::new();
    for p in platforms {
        let labels = p["selector"]["matchLabels"].as_object().expect("matchLabels");
        let keys: BTreeSet<&str> = labels.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["arch", "os"]), "{p}");
        let (os, arch) = (labels["os"].as_str().unwrap(), labels["arch"].as_str().unwrap());
        assert!(
            covered.insert((os.to_string(), arch.to_string())),
            "overlapping {os}/{arch}"
        );
        let uri = p["uri"].as_str().unwrap();
        assert_eq!(
            uri,
            format!(
                "{}/releases/download/v{VERSION}/{}",
                env!("CARGO_PKG_REPOSITORY"),
                archive_name(os, arch)
            )
        );
        assert!(p["sha256"].is_string(), "{p}");
        let exe = if os == "windows" { ".exe" } else { "" };
        let bin = format!("kubectl-harvester-hygiene{exe}");
        assert_eq!(p["bin"], bin.as_str());
        let froms: BTreeSet<&str> = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert_eq!(f["to"], ".");
                f["from"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            froms,
            BTreeSet::from([bin.as_str(), "LICENSE"]),
            "LICENSE must be extracted"
        );
    }
    let wanted: BTreeSet<(String, String)> = PLATFORMS.iter().map(|(o, a)| (o.to_string(), a.to_string())).collect();
    assert_eq!(covered, wanted);
}

#[test]
fn krew_manifest_follows_krew_rules() {
    let m = krew_template();
    check_krew_manifest(&m);
    for p in m["spec"]["platforms"].as_array().unwrap() {
        let l = &p["selector"]["matchLabels"];
        assert_eq!(
            p["sha256"],
            format!("SHA256_{}_{}", l["os"].as_str().unwrap(), l["arch"].as_str().unwrap()).as_str(),
            "the template holds placeholders that the release fills"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Release and the static binary (slow on a cold cache: a release build under target/static)

fn release(dist: &Path) -> (PathBuf, PathBuf) {
    let out = run(
        Command::new("bash")
            .arg(repo().join("scripts/release.sh"))
            .env("DIST", dist),
        None,
    );
    let stdout = ok(&out, "scripts/release.sh");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    (PathBuf::from(lines[0]), PathBuf::from(lines[1]))
}

fn host_platform() -> (&'static str, &'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("linux", "amd64", "x86_64-unknown-linux-gnu"),
        "aarch64" => ("linux", "arm64", "aarch64-unknown-linux-gnu"),
        other => panic!("release.sh builds Linux x86_64/aarch64, not {other}"),
    }
}

#[test]
fn release_archive_and_rendered_manifest() {
    let (os, arch, _) = host_platform();
    let dist = tempfile::tempdir().unwrap();
    let (archive, manifest) = release(dist.path());
    assert_eq!(archive.file_name().unwrap().to_str().unwrap(), archive_name(os, arch));
    let bytes = std::fs::read(&archive).unwrap();
    let sum = format!("{:x}", Sha256::digest(&bytes));

    let m = yaml_docs(&std::fs::read_to_string(&manifest).unwrap()).remove(0);
    check_krew_manifest(&m);
    for p in m["spec"]["platforms"].as_array().unwrap() {
        let l = &p["selector"]["matchLabels"];
        let sha = p["sha256"].as_str().unwrap();
        if l["os"] == os && l["arch"] == arch {
            assert_eq!(sha, sum, "the rendered sha256 is the archive's");
            assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(p["uri"].as_str().unwrap().ends_with(&archive_name(os, arch)));
        } else {
            assert!(sha.starts_with("SHA256_"), "other platforms are left to the workflow");
        }
    }
    let side = std::fs::read_to_string(archive.with_extension("gz.sha256")).unwrap();
    assert_eq!(side.split_whitespace().next(), Some(sum.as_str()));

    // The archive holds exactly the binary and LICENSE, and the binary runs.
    let out = run(Command::new("tar").arg("tzf").arg(&archive), None);
    let mut entries: Vec<String> = ok(&out, "tar tzf").lines().map(str::to_string).collect();
    entries.sort();
    assert_eq!(entries, ["LICENSE", "kubectl-harvester-hygiene"]);
    let x = tempfile::tempdir().unwrap();
    ok(
        &run(
            Command::new("tar").arg("xzf").arg(&archive).arg("-C").arg(x.path()),
            None,
        ),
        "untar",
    );
    assert_eq!(
        std::fs::read(x.path().join("LICENSE")).unwrap(),
        std::fs::read(repo().join("LICENSE")).unwrap()
    );
    let out = run(
        Command::new(x.path().join("kubectl-harvester-hygiene")).arg("version"),
        None,
    );
    assert!(ok(&out, "version").starts_with(&format!("kubectl-harvester-hygiene {VERSION} ")));

    // Reproducible: a second run makes the same archive.
    let dist2 = tempfile::tempdir().unwrap();
    let (archive2, _) = release(dist2.path());
    assert_eq!(std::fs::read(archive2).unwrap(), bytes, "the archive is reproducible");
}

/// ELF64 little-endian: (has PT_INTERP, DT_NEEDED count).
fn elf_linking(path: &Path) -> (bool, usize) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF", "{}", path.display());
    assert_eq!((b[4], b[5]), (2, 1), "ELF64 little-endian");
    let u16_at = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    let mut interp = false;
    let mut needed = 0;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        match u32_at(ph) {
            3 => interp = true, // PT_INTERP
            2 => {
                // PT_DYNAMIC: (d_tag, d_val) pairs until DT_NULL.
                let (off, size) = (u64_at(ph + 8), u64_at(ph + 32));
                for e in (off..off + size).step_by(16) {
                    match u64_at(e) {
                        0 => break,
                        1 => needed += 1, // DT_NEEDED
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    (interp, needed)
}

#[test]
fn static_binaries_have_no_dynamic_loader_and_run() {
    let (_, _, target) = host_platform();
    let dist = tempfile::tempdir().unwrap();
    release(dist.path());
    // The check itself tells a dynamic binary (the normal test build) from a static one.
    let (interp, needed) = elf_linking(Path::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene")));
    assert!(interp && needed > 0, "the dev build is dynamic: {interp} {needed}");

    let bin_dir = repo().join("target/static").join(target).join("release");
    for (bin, version_arg, prefix) in [
        ("kubectl-harvester-hygiene", "version", "kubectl-harvester-hygiene"),
        ("harvester-hygiene-job", "--version", "harvester-hygiene-job"),
    ] {
        let path = bin_dir.join(bin);
        assert_eq!(elf_linking(&path), (false, 0), "{bin}: PT_INTERP or DT_NEEDED");
        let out = run(Command::new("ldd").arg(&path), None);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("not a dynamic executable") || text.contains("statically linked"),
            "ldd {bin}: {text}"
        );
        // Runs with an empty environment, as in a distroless image.
        let out = run(Command::new(&path).arg(version_arg).env_clear(), None);
        assert!(
            ok(&out, bin).starts_with(&format!("{prefix} {VERSION}")),
            "{bin}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// kubectl plugin discovery, as krew installs it

fn kubectl_path() -> PathBuf {
    let out = run(Command::new("bash").args(["-c", "command -v kubectl"]), None);
    PathBuf::from(ok(&out, "kubectl on PATH").trim())
}

fn kubectl_with_path(dir: &Path, args: &[&str]) -> Output {
    run(
        Command::new(kubectl_path())
            .args(args)
            .env("PATH", dir)
            .env("KUBECONFIG", common::kubeconfig())
            .env("NO_COLOR", "1"),
        None,
    )
}

#[test]
fn kubectl_finds_the_plugin_under_the_krew_name() {
    let plugin = Path::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    // krew links `bin` as kubectl-<name with "-" as "_">.
    let krew_dir = tempfile::tempdir().unwrap();
    let link = krew_dir.path().join("kubectl-harvester_hygiene");
    std::fs::copy(plugin, &link).unwrap();

    let out = kubectl_with_path(krew_dir.path(), &["plugin", "list"]);
    let list = ok(&out, "kubectl plugin list");
    assert!(list.contains(link.to_str().unwrap()), "{list}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");

    let out = kubectl_with_path(krew_dir.path(), &["harvester-hygiene", "version"]);
    assert!(
        ok(&out, "kubectl harvester-hygiene version").starts_with(&format!("kubectl-harvester-hygiene {VERSION} "))
    );
    // Flags and the kubeconfig reach the plugin: `rules` works, a scan of a dump works.
    let out = kubectl_with_path(krew_dir.path(), &["harvester-hygiene", "rules"]);
    assert!(ok(&out, "kubectl harvester-hygiene rules").contains("orphaned-guest-pvc"));

    // The pitfall: the cargo binary name on PATH is `kubectl harvester hygiene`, not
    // `kubectl harvester-hygiene`.
    let bare_dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin, bare_dir.path().join("kubectl-harvester-hygiene")).unwrap();
    let out = kubectl_with_path(bare_dir.path(), &["harvester-hygiene", "version"]);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = kubectl_with_path(bare_dir.path(), &["harvester", "hygiene", "version"]);
    assert!(ok(&out, "kubectl harvester hygiene version").starts_with("kubectl-harvester-hygiene "));
}

/// The static plugin in an empty root laid out like distroless/static (CA bundle, nsswitch.conf,
/// /etc/hosts; no shared libraries, no glibc NSS modules): it resolves a host name from
/// /etc/hosts and scans the real apiserver. Needs root or unprivileged user namespaces (chroot).
#[test]
fn static_binary_scans_from_an_empty_root() {
    let (_, _, target) = host_platform();
    let dist = tempfile::tempdir().unwrap();
    release(dist.path());
    let bin = repo()
        .join("target/static")
        .join(target)
        .join("release/kubectl-harvester-hygiene");

    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["etc/ssl/certs", "tmp"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy(&bin, r.join("kubectl-harvester-hygiene")).unwrap();
    std::fs::write(r.join("etc/hosts"), "127.0.0.1 localhost apiserver.hygiene.test\n").unwrap();
    std::fs::write(r.join("etc/nsswitch.conf"), "hosts: files dns\n").unwrap();
    if let Ok(ca) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") {
        std::fs::write(r.join("etc/ssl/certs/ca-certificates.crt"), ca).unwrap();
    }
    // The test kubeconfig, pointed at the apiserver by host name.
    let kc = std::fs::read_to_string(common::kubeconfig()).unwrap();
    let kc = kc.replace("https://127.0.0.1:", "https://apiserver.hygiene.test:");
    assert!(kc.contains("apiserver.hygiene.test"), "{kc}");
    std::fs::write(r.join("kubeconfig"), kc).unwrap();

    let args = [
        "/kubectl-harvester-hygiene",
        "scan",
        "--kubeconfig",
        "/kubeconfig",
        "--rules",
        "image-mutable-url",
        "--harvester-version",
        "v1.6.1",
        "-o",
        "json",
        "--fail-on",
        "never",
    ];
    let is_root = run(Command::new("id").arg("-u"), None).stdout == b"0\n";
    let which = |tool: &str| {
        let out = run(Command::new("bash").args(["-c", &format!("command -v {tool}")]), None);
        ok(&out, tool).trim().to_string()
    };
    let mut cmd = if is_root {
        Command::new(which("chroot"))
    } else {
        let mut c = Command::new(which("unshare"));
        c.args(["--map-root-user", &which("chroot")]);
        c
    };
    cmd.arg(r).args(args).env_clear().env("NO_COLOR", "1");
    let out = run(&mut cmd, None);
    let report: Value = serde_json::from_str(&ok(&out, "scan in an empty root")).unwrap();
    assert_eq!(report["source"]["type"], "live", "{report}");
    assert!(
        report["source"]["server"]
            .as_str()
            .is_some_and(|s| s.contains("apiserver.hygiene.test")),
        "{report}"
    );
    assert!(report["incomplete"].as_array().is_none_or(|a| a.is_empty()), "{report}");
}
