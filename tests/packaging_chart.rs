//! The Helm chart (charts/harvester-hygiene) as every install path uses it: rendered with the real
//! `helm template` (built from the Go module proxy by scripts/chart-tools.sh) for the default
//! values and every option, checked against the code (the ClusterRole lists exactly the kinds the
//! scan reads, values.schema.json knows exactly the rules and their options), against the
//! Kubernetes types, and by the real apiserver (server-side dry-run with strict validation, the
//! restricted Pod Security Standard enforced on the pods the workloads make, the
//! prometheus-operator CRDs for the monitoring objects); the Fleet bundle (fleet.yaml) rendered
//! for labelled clusters as Fleet templates its values; the Harvester Add-on example; and the
//! PrometheusRule with `promtool test rules`.

mod common;
mod packaging_tools;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use packaging_tools::tool;
use serde_json::{Value, json};

const NS: &str = "harvester-hygiene";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const CHART: &str = "charts/harvester-hygiene";

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

// ---------------------------------------------------------------------------------------------
// Rendering

/// The option sets the tests render: the default, each option alone, and all of them at once.
fn option_sets() -> Vec<(&'static str, Value)> {
    let strict = yaml_file(&format!("{CHART}/fleet.yaml"))["targetCustomizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "strict-policy")
        .expect("strict-policy customisation")["helm"]["values"]["policy"]
        .clone();
    let all = json!({
        "schedule": "7 * * * *", "scheduleIntervalSeconds": 3600,
        "remediation": {"enabled": true, "grace": "48h"},
        "openstackRole": {"enabled": true},
        "readerRole": {"enabled": true, "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "harvester-hygiene-readers"}]},
        "policyReports": {"enabled": true},
        "clusterName": "prod-1",
        "monitoring": {"enabled": true},
        "global": {"imageRegistry": "registry.example.internal"},
        "imagePullSecrets": [{"name": "mirror"}],
        "policy": strict,
    });
    vec![
        ("default", json!({})),
        ("remediation", json!({"remediation": {"enabled": true}})),
        (
            "hourly",
            json!({"schedule": "7 * * * *", "scheduleIntervalSeconds": 3600}),
        ),
        ("strict-policy", json!({"policy": strict})),
        (
            "private-registry",
            json!({"global": {"imageRegistry": "registry.example.internal"}, "imagePullSecrets": [{"name": "mirror"}]}),
        ),
        ("openstack", json!({"openstackRole": {"enabled": true}})),
        (
            "reader",
            json!({"readerRole": {"enabled": true, "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "harvester-hygiene-readers"}]}}),
        ),
        (
            "policy-reports",
            json!({"policyReports": {"enabled": true}, "clusterName": "prod-1"}),
        ),
        (
            "monitoring",
            json!({"monitoring": {"enabled": true}, "clusterName": "prod-1"}),
        ),
        ("all", all),
    ]
}

fn values(set: &str) -> Value {
    option_sets()
        .into_iter()
        .find(|(n, _)| *n == set)
        .unwrap_or_else(|| panic!("no option set {set}"))
        .1
}

/// `helm template harvester-hygiene charts/harvester-hygiene -n NS -f VALUES [ARGS]`.
fn helm_template(values: &Value, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, serde_json::to_string(values).unwrap()).unwrap();
    run(
        Command::new(tool("helm"))
            .args(["template", "harvester-hygiene"])
            .arg(repo().join(CHART))
            .args(["--namespace", NS, "--kube-version", "1.34.4", "-f"])
            .arg(&file)
            .args(extra)
            .env("HELM_CACHE_HOME", dir.path().join("cache"))
            .env("HELM_CONFIG_HOME", dir.path().join("config"))
            .env("HELM_DATA_HOME", dir.path().join("data")),
        None,
    )
}

fn render_values(values: &Value) -> Vec<Value> {
    let docs = yaml_docs(&ok(&helm_template(values, &[]), &format!("helm template {values}")));
    assert!(!docs.is_empty(), "{values}: renders nothing");
    docs
}

fn render(set: &str) -> Vec<Value> {
    render_values(&values(set))
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

fn get<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    find(docs, kind, name).unwrap_or_else(|| panic!("no {kind}/{name} in {docs:#?}"))
}

fn args_of(docs: &[Value]) -> Vec<String> {
    get(docs, "CronJob", NS)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn chart_version_follows_the_crate() {
    let chart = yaml_file(&format!("{CHART}/Chart.yaml"));
    assert_eq!(chart["apiVersion"], "v2");
    assert_eq!(chart["name"], NS);
    assert_eq!(chart["version"], VERSION);
    assert_eq!(chart["appVersion"], VERSION);
    assert_eq!(chart["home"], env!("CARGO_PKG_REPOSITORY"));
    // `helm lint --strict` on the chart as shipped (values.schema.json included).
    let out = run(
        Command::new(tool("helm"))
            .args(["lint", "--strict", "--kube-version", "1.34.4"])
            .arg(repo().join(CHART)),
        None,
    );
    ok(&out, "helm lint --strict");
}

#[test]
fn every_render_is_namespaced_labelled_and_ships_no_namespace() {
    for (set, v) in option_sets() {
        let docs = render_values(&v);
        for d in &docs {
            let (kind, name) = (d["kind"].as_str().unwrap(), d["metadata"]["name"].as_str().unwrap());
            assert!(
                kind != "Namespace",
                "{set}: Fleet, Harvester's Add-on and helm create the namespace"
            );
            let cluster_scoped = kind.starts_with("Cluster");
            match d["metadata"]["namespace"].as_str() {
                None => assert!(cluster_scoped, "{set}: {kind}/{name} has no namespace"),
                Some(ns) if name.ends_with("-dashboard") => {
                    assert_eq!(
                        ns, "cattle-dashboards",
                        "{set}: Grafana's sidecar reads cattle-dashboards"
                    )
                }
                Some(ns) => assert_eq!(ns, NS, "{set}: {kind}/{name}"),
            }
            assert_eq!(d["metadata"]["labels"]["app.kubernetes.io/name"], NS, "{set}: {d}");
            assert!(name.starts_with(NS), "{set}: {kind}/{name}");
        }
    }
}

#[test]
fn cronjob_is_hardened_in_every_render() {
    for (set, v) in option_sets() {
        let docs = render_values(&v);
        let cj = get(&docs, "CronJob", NS);
        assert_eq!(cj["apiVersion"], "batch/v1", "{set}");
        let spec = &cj["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Forbid", "{set}");
        for limit in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
            let n = spec[limit].as_u64().unwrap_or_else(|| panic!("{set}: {limit}"));
            assert!((1..=5).contains(&n), "{set}: {limit} {n}");
        }
        let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], NS, "{set}");
        assert_eq!(pod["restartPolicy"], "Never", "{set}");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{set}");
        assert_eq!(
            pod["securityContext"]["runAsUser"], 65532,
            "{set}: the Dockerfile's user"
        );
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{set}"
        );
        let containers = pod["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1, "{set}");
        let c = &containers[0];
        for q in ["requests", "limits"] {
            for r in ["cpu", "memory"] {
                assert!(c["resources"][q][r].is_string(), "{set}: resources.{q}.{r}");
            }
        }
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{set}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{set}");
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]), "{set}");
        assert!(sc["capabilities"].get("add").is_none(), "{set}");
        let image = c["image"].as_str().unwrap();
        assert!(
            image.ends_with(&format!(":v{VERSION}")),
            "{set}: image {image} is not v{VERSION}"
        );
        // The policy ConfigMap is mounted where the job looks for it.
        let mount = &c["volumeMounts"][0];
        assert_eq!(mount["mountPath"], "/etc/harvester-hygiene", "{set}");
        let vol = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("policy volume");
        let cm = vol["configMap"]["name"].as_str().unwrap();
        assert!(get(&docs, "ConfigMap", cm)["data"]["config.yaml"].is_string(), "{set}");

        let args = args_of(&docs);
        let has = |a: &str| args.iter().any(|x| x == a || x.starts_with(&format!("{a}=")));
        assert!(has("--report-configmap"), "{set}: {args:?}");
        let with_remediation = set == "remediation" || set == "all";
        assert_eq!(
            has("--remediate"),
            with_remediation,
            "{set}: remediation is opt-in: {args:?}"
        );
        assert_eq!(
            has("--pushgateway-url"),
            set == "monitoring" || set == "all",
            "{set}: {args:?}"
        );
        assert_eq!(
            has("--policy-reports"),
            set == "policy-reports" || set == "all",
            "{set}: {args:?}"
        );
        assert_eq!(has("--cluster-name"), v.get("clusterName").is_some(), "{set}: {args:?}");
        let hourly = set == "hourly" || set == "all";
        assert_eq!(
            spec["schedule"],
            if hourly { "7 * * * *" } else { "17 */6 * * *" },
            "{set}"
        );
        let private = set == "private-registry" || set == "all";
        assert_eq!(
            image.starts_with("registry.example.internal/"),
            private,
            "{set}: {image}"
        );
        assert_eq!(pod["imagePullSecrets"].is_array(), private, "{set}");
    }
    // The remediation flags as the job takes them.
    let args = args_of(&render("all"));
    assert!(args.contains(&"--remediate=orphaned-guest-pvc".to_string()), "{args:?}");
    assert!(args.contains(&"--remediation-grace=48h".to_string()), "{args:?}");
    assert!(args.contains(&"--cluster-name=prod-1".to_string()), "{args:?}");
    assert!(
        args.contains(&"--pushgateway-url=http://harvester-hygiene-pushgateway.harvester-hygiene.svc:9091".to_string()),
        "{args:?}"
    );
}

/// The job binary accepts the default render's flags (the ones the options add are the in-cluster
/// job's; `--help` parsing proves nothing runs).
#[test]
fn job_accepts_the_default_and_remediation_flags() {
    for set in ["default", "remediation"] {
        let args = args_of(&render(set));
        assert!(!args.is_empty());
        let out = run(
            Command::new(env!("CARGO_BIN_EXE_harvester-hygiene-job"))
                .args(&args)
                .arg("--help"),
            None,
        );
        ok(&out, &format!("harvester-hygiene-job {args:?}"));
    }
}

/// Every policy a render ships is one the code accepts, and it takes effect.
#[test]
fn rendered_policies_are_valid_configs() {
    let dir = tempfile::tempdir().unwrap();
    for set in ["default", "strict-policy", "all"] {
        let docs = render(set);
        let cfg = get(&docs, "ConfigMap", "harvester-hygiene-policy")["data"]["config.yaml"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            cfg.starts_with("apiVersion: harvester-hygiene/v1\nkind: Config\n"),
            "{set}: {cfg}"
        );
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
        let report: Value = serde_json::from_str(&ok(&out, &format!("{set} policy"))).unwrap();
        let severities: BTreeSet<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "image-mutable-url")
            .map(|f| f["severity"].as_str().unwrap())
            .collect();
        assert!(!severities.is_empty(), "{set}: the demo has image-mutable-url findings");
        if set == "default" {
            assert!(severities.contains("warning"), "{set}: {severities:?}");
        } else {
            assert_eq!(
                severities,
                BTreeSet::from(["error"]),
                "{set}: the strict policy applies"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// values.schema.json against the code, and helm enforcing it

#[test]
fn values_schema_knows_exactly_the_rules_and_their_options() {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(CHART).join("values.schema.json")).unwrap()).unwrap();
    let rules = &schema["properties"]["policy"]["properties"]["rules"];
    assert_eq!(rules["additionalProperties"], false);
    let in_schema: BTreeSet<&str> = rules["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let registry = harvester_hygiene::rules::REGISTRY;
    let in_code: BTreeSet<&str> = registry.iter().map(|r| r.id()).collect();
    assert!(in_code.len() >= 10, "{in_code:?}");
    assert_eq!(in_schema, in_code, "values.schema.json policy.rules vs rules::REGISTRY");
    for rule in registry {
        let props = &rules["properties"][rule.id()];
        assert_eq!(props["additionalProperties"], false, "{}", rule.id());
        let mut options: BTreeSet<String> = props["properties"].as_object().unwrap().keys().cloned().collect();
        assert!(options.remove("enabled") && options.remove("severity"), "{}", rule.id());
        let code: BTreeSet<String> = rule.option_names().into_iter().collect();
        assert_eq!(options, code, "values.schema.json vs the options of {}", rule.id());
    }
    // The top level of the policy is the Config document's (without apiVersion and kind).
    let top: BTreeSet<&str> = schema["properties"]["policy"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, BTreeSet::from(["rules", "namespaces", "exemptions"]));
}

/// The JSON types a rule's option accepts, found by handing the rule's own options type one
/// sample of each type (a sample valid for the option's parsing: "1h" is a string and a
/// duration). `null` is left out: every option is optional. An option taking integers and
/// fractions is a `number`.
fn accepted_types(
    rule: &dyn harvester_hygiene::rules::Rule,
    option: &str,
    wrap: fn(Value) -> Value,
) -> Vec<&'static str> {
    let samples = [
        ("string", json!("1h")),
        ("integer", json!(1)),
        ("number", json!(1.5)),
        ("boolean", json!(true)),
        ("array", json!([])),
        ("object", json!({})),
    ];
    let mut accepted: Vec<&str> = samples
        .into_iter()
        .filter(|(_, sample)| {
            let raw = serde_json::Map::from_iter([(option.to_string(), wrap(sample.clone()))]);
            rule.check_options(&raw).is_ok()
        })
        .map(|(name, _)| name)
        .collect();
    if accepted.contains(&"integer") && accepted.contains(&"number") {
        accepted.retain(|t| *t != "integer");
    }
    accepted
}

#[test]
fn values_schema_option_types_match_the_code() {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(CHART).join("values.schema.json")).unwrap()).unwrap();
    let rules = &schema["properties"]["policy"]["properties"]["rules"];
    let mut checked = 0;
    for rule in harvester_hygiene::rules::REGISTRY {
        let props = &rules["properties"][rule.id()];
        assert_eq!(props["properties"]["enabled"]["type"], "boolean", "{}", rule.id());
        for option in rule.option_names() {
            let id = format!("{}.{option}", rule.id());
            let declared = &props["properties"][option.as_str()];
            let ty = declared["type"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: no `type` in values.schema.json"));
            let code = accepted_types(*rule, &option, |v| v);
            assert_eq!(
                code,
                [ty],
                "{id}: values.schema.json says {ty}, the code takes {code:?}"
            );
            if ty == "array" {
                let item = declared["items"]["type"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id}: no `items.type`"));
                let code = accepted_types(*rule, &option, |v| json!([v]));
                assert_eq!(
                    code,
                    [item],
                    "{id}[]: values.schema.json says {item}, the code takes {code:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} options checked");
}

#[test]
fn helm_refuses_values_the_schema_does_not_allow() {
    for bad in [
        json!({"polcy": {}}),
        json!({"policy": {"rules": {"image-mutable-url": {"severty": "error"}}}}),
        json!({"policy": {"rules": {"no-such-rule": {}}}}),
        json!({"policy": {"rules": {"orphaned-guest-pvc": {"gracePeriod": "two days"}}}}),
        json!({"remediation": {"enabled": "yes"}}),
        json!({"remediation": {"enabled": true, "rules": ["image-mutable-url"]}}),
        json!({"monitoring": {"enabled": true, "pushgatway": {}}}),
        json!({"scheduleIntervalSeconds": 10}),
    ] {
        let out = helm_template(&bad, &[]);
        assert!(!out.status.success(), "helm accepted {bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("schema"), "{bad}: {err}");
    }
    // The near-miss passes.
    ok(
        &helm_template(
            &json!({"policy": {"rules": {"orphaned-guest-pvc": {"gracePeriod": "2d"}}}}),
            &[],
        ),
        "a valid policy",
    );
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

fn grant_set(items: &[(&str, &str, &str)]) -> BTreeSet<Grant> {
    items
        .iter()
        .map(|(g, r, v)| (g.to_string(), r.to_string(), v.to_string(), vec![]))
        .collect()
}

/// What a live scan of all rules reads, from the library: a list per kind, or a GET per name
/// for kinds read by name (the Setting `server-version`).
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

/// Core Events on the reported objects (the job looks up an earlier run's event and patches it).
fn events_grants() -> BTreeSet<Grant> {
    grant_set(&[
        ("", "events", "get"),
        ("", "events", "list"),
        ("", "events", "create"),
        ("", "events", "patch"),
    ])
}

#[test]
fn scan_cluster_role_lists_exactly_what_the_scan_reads() {
    for (set, v) in option_sets() {
        let docs = render_values(&v);
        let role = grants(get(&docs, "ClusterRole", "harvester-hygiene-scan"));
        let mut expected = scan_reads();
        expected.extend(events_grants());
        assert_eq!(
            role, expected,
            "{set}: templates/_helpers.tpl hh.scanRules vs scan::kinds_for"
        );
        for (g, r, v, _) in &role {
            assert_ne!(r, "secrets");
            if r != "events" {
                assert!(v == "get" || v == "list", "{g}/{r} {v}: read-only");
            }
        }
        // Bound to the chart's ServiceAccount in the release namespace.
        let crb = get(&docs, "ClusterRoleBinding", "harvester-hygiene-scan");
        assert_eq!(crb["roleRef"]["name"], "harvester-hygiene-scan");
        assert_eq!(
            crb["subjects"],
            json!([{"kind": "ServiceAccount", "name": NS, "namespace": NS}]),
            "{set}"
        );
        assert!(find(&docs, "ServiceAccount", NS).is_some());
        // The report Role: only ConfigMaps; everything but create limited to the one report.
        let report = grants(get(&docs, "Role", "harvester-hygiene-report"));
        assert_eq!(report.len(), 4, "{report:?}");
        for (g, r, v, names) in report {
            assert_eq!((g.as_str(), r.as_str()), ("", "configmaps"));
            assert!(["get", "update", "patch", "create"].contains(&v.as_str()), "{v}");
            if v != "create" {
                assert_eq!(names, vec!["harvester-hygiene-report".to_string()], "{v}");
            }
        }
        assert!(args_of(&docs).contains(&"--report-configmap=harvester-hygiene-report".to_string()));
    }
}

#[test]
fn reader_role_is_the_scan_role_without_events() {
    let docs = render("reader");
    assert_eq!(
        grants(get(&docs, "ClusterRole", "harvester-hygiene-reader")),
        scan_reads(),
        "the reader role vs scan::kinds_for"
    );
    let crb = get(&docs, "ClusterRoleBinding", "harvester-hygiene-reader");
    assert_eq!(crb["roleRef"]["name"], "harvester-hygiene-reader");
    assert_eq!(crb["subjects"][0]["kind"], "Group");
    // Only the role and its binding, for people without the job (README "Install").
    let out = helm_template(
        &json!({"readerRole": {"enabled": true}}),
        &["--show-only", "templates/rbac-reader.yaml"],
    );
    let only = yaml_docs(&ok(&out, "--show-only templates/rbac-reader.yaml"));
    assert_eq!(only.len(), 1, "no subjects, no binding: {only:#?}");
    assert_eq!(only[0]["kind"], "ClusterRole");
}

#[test]
fn opt_in_roles_are_only_in_their_renders() {
    let openstack = grants(get(&render("openstack"), "ClusterRole", "harvester-hygiene-openstack"));
    assert_eq!(
        openstack,
        grant_set(&[
            ("migration.harvesterhci.io", "openstacksources", "get"),
            ("migration.harvesterhci.io", "openstacksources", "list"),
            ("", "secrets", "get"),
        ])
    );
    let remediate = grants(get(
        &render("remediation"),
        "ClusterRole",
        "harvester-hygiene-remediate",
    ));
    assert_eq!(
        remediate,
        grant_set(&[
            ("", "persistentvolumeclaims", "get"),
            ("", "persistentvolumeclaims", "patch"),
            ("", "persistentvolumeclaims", "delete"),
            ("", "persistentvolumes", "get"),
            ("", "persistentvolumes", "patch"),
        ])
    );
    let reports = grants(get(
        &render("policy-reports"),
        "ClusterRole",
        "harvester-hygiene-policyreports",
    ));
    let mut want = BTreeSet::new();
    for (g, r) in [
        ("wgpolicyk8s.io", "policyreports"),
        ("wgpolicyk8s.io", "clusterpolicyreports"),
        ("openreports.io", "reports"),
        ("openreports.io", "clusterreports"),
    ] {
        for v in ["get", "list", "create", "update", "patch", "delete"] {
            want.insert((g.to_string(), r.to_string(), v.to_string(), vec![]));
        }
    }
    assert_eq!(reports, want);
    for (set, v) in option_sets() {
        let docs = render_values(&v);
        // Nothing binds the OpenStack role: a person binds it for `fix --openstack`.
        for d in &docs {
            if d["kind"] == "RoleBinding" || d["kind"] == "ClusterRoleBinding" {
                assert_ne!(d["roleRef"]["name"], "harvester-hygiene-openstack", "{set}");
            }
        }
        let has = |kind: &str, name: &str| find(&docs, kind, name).is_some();
        let on = |s: &str| set == s || set == "all";
        assert_eq!(
            has("ClusterRole", "harvester-hygiene-openstack"),
            on("openstack"),
            "{set}"
        );
        assert_eq!(
            has("ClusterRoleBinding", "harvester-hygiene-remediate"),
            on("remediation"),
            "{set}"
        );
        assert_eq!(
            has("ClusterRoleBinding", "harvester-hygiene-policyreports"),
            on("policy-reports"),
            "{set}"
        );
        assert_eq!(has("ClusterRole", "harvester-hygiene-reader"), on("reader"), "{set}");
        assert_eq!(
            has("Deployment", "harvester-hygiene-pushgateway"),
            on("monitoring"),
            "{set}"
        );
        // Secrets are readable only through the OpenStack role.
        for d in docs
            .iter()
            .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
        {
            if d["metadata"]["name"] != "harvester-hygiene-openstack" {
                assert!(!grants(d).iter().any(|(_, r, _, _)| r == "secrets"), "{set}: {d}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes types and the real apiserver

/// Round-trip an object through its k8s-openapi type: a field the type does not know (a typo, a
/// wrong level) is dropped and the comparison fails.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(obj: &Value) {
    let typed: T = serde_json::from_value(obj.clone())
        .unwrap_or_else(|e| panic!("{} {}: {e}", obj["kind"], obj["metadata"]["name"]));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, obj, "{} does not match its schema", obj["kind"]);
}

#[test]
fn manifests_match_the_kubernetes_types() {
    use k8s_openapi::api::{apps::v1 as apps, batch::v1::CronJob, core::v1 as core, rbac::v1 as rbac};
    let mut seen = BTreeSet::new();
    for d in render("all") {
        let kind = d["kind"].as_str().unwrap().to_string();
        match (d["apiVersion"].as_str().unwrap(), kind.as_str()) {
            ("batch/v1", "CronJob") => round_trip::<CronJob>(&d),
            ("apps/v1", "Deployment") => round_trip::<apps::Deployment>(&d),
            ("v1", "Service") => round_trip::<core::Service>(&d),
            ("v1", "ConfigMap") => round_trip::<core::ConfigMap>(&d),
            ("v1", "ServiceAccount") => round_trip::<core::ServiceAccount>(&d),
            ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip::<rbac::ClusterRole>(&d),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => round_trip::<rbac::ClusterRoleBinding>(&d),
            ("rbac.authorization.k8s.io/v1", "Role") => round_trip::<rbac::Role>(&d),
            ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip::<rbac::RoleBinding>(&d),
            // Custom kinds: the apiserver test validates them against the upstream CRDs.
            ("monitoring.coreos.com/v1", "ServiceMonitor" | "PrometheusRule") => {}
            (av, k) => panic!("unexpected {av} {k}"),
        }
        seen.insert(kind);
    }
    assert_eq!(seen.len(), 11, "{seen:?}");
}

#[test]
#[should_panic(expected = "does not match its schema")]
fn round_trip_rejects_an_unknown_field() {
    let mut cj = get(&render("default"), "CronJob", NS).clone();
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

/// The ServiceMonitor and PrometheusRule CRDs of prometheus-operator, once per test process (the
/// apply is idempotent; the tests of this binary must not race each other's create).
fn ensure_monitoring_crds() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(apply_monitoring_crds);
}

fn apply_monitoring_crds() {
    let dir = tool("monitoring-crds");
    for f in [
        "monitoring.coreos.com_servicemonitors.yaml",
        "monitoring.coreos.com_prometheusrules.yaml",
    ] {
        let out = kubectl(
            &[
                "apply",
                "--server-side",
                "--force-conflicts",
                "-f",
                dir.join(f).to_str().unwrap(),
            ],
            None,
        );
        ok(&out, &format!("kubectl apply {f}"));
    }
    let out = kubectl(
        &[
            "wait",
            "--for",
            "condition=established",
            "--timeout=60s",
            "crd/servicemonitors.monitoring.coreos.com",
            "crd/prometheusrules.monitoring.coreos.com",
        ],
        None,
    );
    ok(&out, "CRDs established");
}

fn as_list(docs: &[Value]) -> String {
    json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string()
}

/// `helm template RELEASE` with `values` for namespace `ns`, then a server-side dry-run of all of
/// it with strict validation; returns what the apiserver accepted (kind/name lines).
fn dry_run_install(release: &str, ns: &str, values: &Value) -> String {
    let out = run(
        Command::new(tool("helm"))
            .args(["template", release])
            .arg(repo().join(CHART))
            .args(["--namespace", ns, "--kube-version", "1.34.4", "-f", "-"]),
        Some(&values.to_string()),
    );
    let docs = yaml_docs(&ok(&out, &format!("helm template {values}")));
    let out = kubectl(
        &[
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "-o",
            "name",
            "-f",
            "-",
        ],
        Some(&as_list(&docs)),
    );
    let applied = ok(&out, &format!("dry-run {values}"));
    assert_eq!(applied.lines().count(), docs.len(), "{applied}");
    applied
}

/// Every render, server-side dry-run with kubectl's strict validation against the real
/// apiserver (batch/v1 CronJob, the RBAC kinds, prometheus-operator's CRDs), in a namespace that
/// enforces the restricted Pod Security Standard; then the pods the CronJob and the Pushgateway
/// Deployment make, which that admission judges.
#[tokio::test]
async fn real_apiserver_accepts_every_render_under_restricted_pod_security() {
    ensure_monitoring_crds();
    common::ensure_namespace("cattle-dashboards").await;
    let ns = common::namespace("chart").await;
    // The job's ServiceAccount (the pods below name it) and the namespace's default one.
    ok(
        &kubectl(&["create", "serviceaccount", NS, "-n", &ns], None),
        "serviceaccount",
    );
    for _ in 0..100 {
        if kubectl(&["get", "serviceaccount", "default", "-n", &ns], None)
            .status
            .success()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for mode in ["enforce", "warn"] {
        let label = format!("pod-security.kubernetes.io/{mode}=restricted");
        ok(&kubectl(&["label", "namespace", &ns, &label], None), "label");
    }
    for (set, v) in option_sets() {
        // Rendered for this namespace (cluster-scoped names are the release's either way).
        let out = run(
            Command::new(tool("helm"))
                .args(["template", "harvester-hygiene"])
                .arg(repo().join(CHART))
                .args(["--namespace", &ns, "--kube-version", "1.34.4", "-f", "-"]),
            Some(&v.to_string()),
        );
        let docs = yaml_docs(&ok(&out, &format!("helm template {set}")));
        let out = kubectl(
            &[
                "apply",
                "--dry-run=server",
                "--validate=strict",
                "-o",
                "name",
                "-f",
                "-",
            ],
            Some(&as_list(&docs)),
        );
        let applied = ok(&out, &format!("dry-run {set}"));
        assert_eq!(applied.lines().count(), docs.len(), "{set}: {applied}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("PodSecurity"), "{set}: {stderr}");
        for kind in ["servicemonitor", "prometheusrule"] {
            assert_eq!(
                applied.contains(kind),
                set == "monitoring" || set == "all",
                "{set}: {applied}"
            );
        }
        // The pods themselves, as the Job and ReplicaSet controllers would create them.
        for d in &docs {
            let template = match d["kind"].as_str() {
                Some("CronJob") => &d["spec"]["jobTemplate"]["spec"]["template"],
                Some("Deployment") => &d["spec"]["template"],
                _ => continue,
            };
            let pod = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("{}-pod", d["metadata"]["name"].as_str().unwrap()), "namespace": ns,
                             "labels": template["metadata"]["labels"]},
                "spec": template["spec"]});
            let out = kubectl(
                &["create", "--dry-run=server", "--validate=strict", "-f", "-"],
                Some(&pod.to_string()),
            );
            ok(
                &out,
                &format!("{set}: the {} pod under restricted Pod Security", d["kind"]),
            );
        }
    }
    // The same admission rejects a pod that is not restricted (the check bites).
    let mut docs = render("default");
    let cj = docs.iter_mut().find(|d| d["kind"] == "CronJob").unwrap();
    let mut spec = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"].clone();
    spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = true.into();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "not-restricted", "namespace": ns}, "spec": spec});
    let out = kubectl(&["create", "--dry-run=server", "-f", "-"], Some(&pod.to_string()));
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("restricted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // And strict validation rejects a field the schema does not have, also in a CRD kind.
    let mut docs = render("monitoring");
    for d in docs.iter_mut() {
        d["metadata"]["namespace"] = ns.clone().into();
    }
    let mut sm = get(&docs, "ServiceMonitor", "harvester-hygiene-pushgateway").clone();
    sm["spec"]["endpoints"][0]["honourLabels"] = true.into();
    let out = kubectl(
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        Some(&sm.to_string()),
    );
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // Nothing was created.
    let out = kubectl(&["get", "configmaps,cronjobs,roles", "-n", &ns, "-o", "name"], None);
    assert!(
        !ok(&out, "get").contains("harvester-hygiene"),
        "dry-run created objects"
    );
}

/// The install without Fleet or the Add-on (README "Install"): `helm template | kubectl apply`,
/// for real, then the job's ServiceAccount has the rights the chart grants and no more.
#[tokio::test]
async fn plain_kubectl_install_from_the_rendered_chart() {
    let ns = common::namespace("chartinstall").await;
    let release = format!("hh-{}", &ns[ns.len() - 5..]);
    let out = run(
        Command::new(tool("helm"))
            .args(["template", &release])
            .arg(repo().join(CHART))
            .args(["--namespace", &ns, "--set", "suspend=true"]),
        None,
    );
    let rendered = ok(&out, "helm template");
    let out = kubectl(&["apply", "-n", &ns, "-f", "-"], Some(&rendered));
    ok(&out, "kubectl apply");
    let sa = format!("system:serviceaccount:{ns}:{release}-harvester-hygiene");
    for (verb, what, allowed) in [
        ("list", "virtualmachineimages.harvesterhci.io", "yes"),
        ("get", "settings.harvesterhci.io/server-version", "yes"),
        ("get", "settings.harvesterhci.io/other", "no"),
        ("create", "events", "yes"),
        ("get", "secrets", "no"),
        ("delete", "persistentvolumeclaims", "no"),
    ] {
        let out = kubectl(&["auth", "can-i", verb, what, "--all-namespaces", "--as", &sa], None);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), allowed, "{verb} {what}");
    }
    let out = kubectl(
        &[
            "auth",
            "can-i",
            "update",
            &format!("configmaps/{release}-harvester-hygiene-report"),
            "-n",
            &ns,
            "--as",
            &sa,
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "yes");
    let cj: Value = serde_json::from_str(&ok(
        &kubectl(
            &[
                "get",
                "cronjob",
                &format!("{release}-harvester-hygiene"),
                "-n",
                &ns,
                "-o",
                "json",
            ],
            None,
        ),
        "get cronjob",
    ))
    .unwrap();
    assert_eq!(cj["spec"]["suspend"], true);
    // Cluster-scoped objects of this release go away with it.
    let out = kubectl(&["delete", "-n", &ns, "-f", "-"], Some(&rendered));
    ok(&out, "kubectl delete");
}

// ---------------------------------------------------------------------------------------------
// Fleet

fn fleet_values(labels: &[&str]) -> Value {
    let out = run(
        Command::new(tool("fleet-values"))
            .arg(repo().join(CHART).join("fleet.yaml"))
            .arg("c-m-abc12345")
            .args(labels),
        None,
    );
    serde_json::from_str(&ok(&out, &format!("fleet-values {labels:?}"))).unwrap()
}

#[test]
fn fleet_yaml_is_a_helm_bundle_of_the_chart() {
    let fleet = yaml_file(&format!("{CHART}/fleet.yaml"));
    assert_eq!(fleet["defaultNamespace"], NS);
    // `namespace` fails the deployment of a bundle with cluster-scoped objects.
    assert!(fleet.get("namespace").is_none(), "fleet.yaml must not set namespace");
    assert!(fleet.get("kustomize").is_none());
    assert_eq!(
        fleet["namespaceLabels"]["pod-security.kubernetes.io/enforce"], "restricted",
        "{fleet:#}"
    );
    assert_eq!(fleet["helm"]["releaseName"], NS);
    // The bundle is the chart's directory: Fleet finds Chart.yaml at its root (no helm.chart).
    assert!(fleet["helm"].get("chart").is_none());
    assert!(repo().join(CHART).join("Chart.yaml").is_file());
    let ignore = std::fs::read_to_string(repo().join(CHART).join(".helmignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == "fleet.yaml"),
        "fleet.yaml stays out of the packaged chart"
    );
    let mut names = BTreeSet::new();
    for c in fleet["targetCustomizations"].as_array().expect("targetCustomizations") {
        let name = c["name"].as_str().expect("name");
        assert!(names.insert(name), "duplicate customisation {name}");
        assert!(c.get("namespace").is_none(), "{name}: namespace");
        assert!(c.get("kustomize").is_none(), "{name}");
        let labels = c["clusterSelector"]["matchLabels"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}"));
        assert!(!labels.is_empty(), "{name}: an empty selector matches every cluster");
    }
    // The kustomize overlays are gone, not kept beside the chart by hand.
    for gone in ["fleet/base", "fleet/overlays", "fleet/rbac", "fleet/fleet.yaml"] {
        assert!(!repo().join(gone).exists(), "{gone} is rendered from the chart now");
    }
}

/// Fleet's values for labelled clusters (Fleet's templating, see testbed/helm/fleetvalues), each
/// rendered by helm: labels combine, and a cluster without labels gets the defaults.
#[tokio::test]
async fn fleet_labels_combine_into_chart_values() {
    let plain = fleet_values(&[
        "management.cattle.io/cluster-display-name=plain",
        "provider.cattle.io=harvester",
    ]);
    assert_eq!(plain["doNotDeploy"], false);
    let v = &plain["values"];
    assert_eq!(v["clusterName"], "plain");
    assert_eq!(v["remediation"]["enabled"], false, "{v}");
    assert_eq!(v["monitoring"]["enabled"], false);
    assert_eq!(v["global"]["imageRegistry"], "", "{v}");
    assert_eq!(v["schedule"], "17 */6 * * *");
    let docs = render_values(v);
    assert!(find(&docs, "ClusterRoleBinding", "harvester-hygiene-remediate").is_none());
    assert_eq!(get(&docs, "CronJob", NS)["spec"]["schedule"], "17 */6 * * *");
    assert!(args_of(&docs).contains(&"--cluster-name=plain".to_string()));

    let all = fleet_values(&[
        "management.cattle.io/cluster-display-name=prod-1",
        "provider.cattle.io=harvester",
        "harvester-hygiene.io/schedule=hourly",
        "harvester-hygiene.io/remediation=enabled",
        "harvester-hygiene.io/openstack-fix=enabled",
        "harvester-hygiene.io/policy-reports=enabled",
        "harvester-hygiene.io/monitoring=enabled",
        "harvester-hygiene.io/registry=registry.example.internal",
        "harvester-hygiene.io/policy=strict",
    ]);
    assert_eq!(all["targetCustomization"], "strict-policy");
    let v = &all["values"];
    assert_eq!(v["remediation"]["enabled"], true, "{v}");
    assert_eq!(v["scheduleIntervalSeconds"], 3600, "{v}");
    let docs = render_values(v);
    let cj = get(&docs, "CronJob", NS);
    assert_eq!(cj["spec"]["schedule"], "7 * * * *");
    let image = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap();
    assert!(
        image.starts_with("registry.example.internal/harvester-hygiene/"),
        "{image}"
    );
    let pgw = get(&docs, "Deployment", "harvester-hygiene-pushgateway");
    assert!(
        pgw["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap()
            .starts_with("registry.example.internal/prom/pushgateway:"),
        "{pgw}"
    );
    for (kind, name) in [
        ("ClusterRoleBinding", "harvester-hygiene-remediate"),
        ("ClusterRole", "harvester-hygiene-openstack"),
        ("ClusterRoleBinding", "harvester-hygiene-policyreports"),
        ("PrometheusRule", "harvester-hygiene"),
    ] {
        assert!(find(&docs, kind, name).is_some(), "{kind}/{name}");
    }
    let args = args_of(&docs);
    for a in [
        "--policy-reports",
        "--cluster-name=prod-1",
        "--remediate=orphaned-guest-pvc",
    ] {
        assert!(args.contains(&a.to_string()), "{a}: {args:?}");
    }
    let policy = get(&docs, "ConfigMap", "harvester-hygiene-policy")["data"]["config.yaml"]
        .as_str()
        .unwrap();
    assert!(policy.contains("gracePeriod: 72h"), "{policy}");

    // What the Fleet agent installs for that cluster (release harvester-hygiene in
    // defaultNamespace), accepted by the apiserver.
    let ns = common::namespace("fleet").await;
    ensure_monitoring_crds();
    common::ensure_namespace("cattle-dashboards").await;
    let applied = dry_run_install("harvester-hygiene", &ns, v);
    for kind in [
        "cronjob.batch/",
        "prometheusrule.monitoring.coreos.com/",
        "clusterrolebinding.rbac.authorization.k8s.io/harvester-hygiene-remediate",
    ] {
        assert!(applied.contains(kind), "{kind}: {applied}");
    }
    // Left out: whichever customisation comes first.
    let out = fleet_values(&[
        "harvester-hygiene.io/policy=strict",
        "harvester-hygiene.io/deploy=false",
    ]);
    assert_eq!(out["doNotDeploy"], true);
    // Without the display-name label the Fleet cluster's name is used.
    assert_eq!(
        fleet_values(&["provider.cattle.io=harvester"])["values"]["clusterName"],
        "c-m-abc12345"
    );
}

#[test]
fn gitrepo_example_pins_a_tag_and_rolls_out_carefully() {
    let g = yaml_file("fleet/gitrepo.example.yaml");
    assert_eq!(g["apiVersion"], "fleet.cattle.io/v1alpha1");
    assert_eq!(g["kind"], "GitRepo");
    assert_eq!(g["metadata"]["namespace"], "fleet-default");
    let spec = &g["spec"];
    assert_eq!(spec["repo"], env!("CARGO_PKG_REPOSITORY"));
    assert_eq!(spec["revision"], format!("v{VERSION}").as_str(), "a tag, not a branch");
    assert!(spec.get("branch").is_none(), "revision and branch exclude each other");
    assert_eq!(spec["paths"], json!([CHART]));
    assert!(spec["paused"].is_boolean(), "{spec}");
    let rollout = &spec["rolloutStrategy"];
    assert!(
        rollout["maxUnavailable"].is_string() || rollout["maxUnavailable"].is_number(),
        "{spec}"
    );
    assert!(
        rollout["partitions"].as_array().is_some_and(|p| !p.is_empty()),
        "{spec}"
    );
    for t in spec["targets"].as_array().expect("targets") {
        assert_eq!(
            t["clusterSelector"]["matchLabels"]["provider.cattle.io"], "harvester",
            "{t}"
        );
    }
}

/// The GitRepo example is a valid GitRepo as far as the object shape goes: its keys are the
/// GitRepoSpec fields of rancher/fleet pkg/apis/fleet.cattle.io/v1alpha1/gitrepo_types.go.
#[test]
fn gitrepo_example_uses_only_gitrepo_fields() {
    let g = yaml_file("fleet/gitrepo.example.yaml");
    let known = BTreeSet::from([
        "repo",
        "branch",
        "revision",
        "paths",
        "targets",
        "paused",
        "rolloutStrategy",
        "pollingInterval",
        "clientSecretName",
        "helmSecretName",
        "targetNamespace",
        "serviceAccount",
        "correctDrift",
        "keepResources",
        "deleteNamespace",
        "forceSyncGeneration",
        "imageScanInterval",
        "insecureSkipTLSVerify",
        "caBundle",
        "helmRepoURLRegex",
        "helmSecretNameForPaths",
        "disablePolling",
        "webhookSecret",
        "ociRegistry",
        "bundles",
    ]);
    for k in g["spec"].as_object().unwrap().keys() {
        assert!(known.contains(k.as_str()), "GitRepo spec has no field {k}");
    }
    let rollout = BTreeSet::from([
        "maxUnavailable",
        "maxUnavailablePartitions",
        "autoPartitionSize",
        "partitions",
    ]);
    for k in g["spec"]["rolloutStrategy"].as_object().unwrap().keys() {
        assert!(rollout.contains(k.as_str()), "rolloutStrategy has no field {k}");
    }
}

// ---------------------------------------------------------------------------------------------
// Harvester Add-on

fn addon_docs() -> Vec<Value> {
    yaml_docs(&std::fs::read_to_string(repo().join("addons/harvester-hygiene.yaml")).unwrap())
}

#[test]
fn addon_values_are_the_charts_and_render() {
    let docs = addon_docs();
    let ns = get(&docs, "Namespace", NS);
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    let addon = get(&docs, "Addon", NS);
    assert_eq!(addon["apiVersion"], "harvesterhci.io/v1beta1");
    assert_eq!(
        addon["metadata"]["namespace"], NS,
        "Harvester installs the release in the Addon's namespace"
    );
    let spec = &addon["spec"];
    assert_eq!(spec["chart"], NS);
    assert_eq!(spec["version"], VERSION, "the chart version of this release");
    assert!(spec["repo"].as_str().unwrap().starts_with("https://"), "{spec}");
    assert_eq!(spec["enabled"], false, "enabled from Harvester's UI or by a patch");
    let content = spec["valuesContent"].as_str().expect("valuesContent");
    let values: Value = serde_saphyr::from_str(content).unwrap();
    assert!(values.as_object().is_some_and(|m| !m.is_empty()), "{content}");
    // Rendered with the chart: helm validates it against values.schema.json.
    let docs = render_values(&values);
    let cj = get(&docs, "CronJob", NS);
    assert!(cj["spec"]["schedule"].is_string());
    // What the example shows takes effect.
    if let Some(name) = values["clusterName"].as_str() {
        assert!(args_of(&docs).contains(&format!("--cluster-name={name}")));
    }
    // A typo in valuesContent fails the same way in Harvester's helm job.
    let typo = format!("{content}\nremediaton:\n  enabled: true\n");
    let bad: Value = serde_saphyr::from_str(&typo).unwrap();
    let out = helm_template(&bad, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("remediaton"));
}

#[tokio::test]
async fn real_apiserver_accepts_the_addon_example() {
    // The Addon CRD is Harvester's own (the test bed's upstream CRDs).
    let docs = addon_docs();
    let ns = common::namespace("addon").await;
    let mut addon = get(&docs, "Addon", NS).clone();
    addon["metadata"]["namespace"] = ns.clone().into();
    let out = kubectl(
        &["create", "--validate=strict", "-o", "json", "-f", "-"],
        Some(&addon.to_string()),
    );
    let stored: Value = serde_json::from_str(&ok(&out, "create the Addon")).unwrap();
    assert_eq!(stored["spec"], addon["spec"], "stored as written (no field pruned)");
    let out = kubectl(
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        Some(&get(&docs, "Namespace", NS).to_string()),
    );
    ok(&out, "the Namespace");
    // What Harvester's helm job installs: the chart with valuesContent as release <Addon name> in
    // the Addon's namespace, accepted by the apiserver.
    let values: Value = serde_saphyr::from_str(addon["spec"]["valuesContent"].as_str().unwrap()).unwrap();
    ensure_monitoring_crds();
    let applied = dry_run_install(addon["metadata"]["name"].as_str().unwrap(), &ns, &values);
    assert!(applied.contains("cronjob.batch/harvester-hygiene"), "{applied}");
    // The CRD's schema bites: a misspelt field is refused.
    let mut bad = addon.clone();
    bad["metadata"]["name"] = "bad".into();
    bad["spec"]["valuesContnt"] = "x".into();
    let out = kubectl(&["create", "--validate=strict", "-f", "-"], Some(&bad.to_string()));
    assert!(!out.status.success());
}

// ---------------------------------------------------------------------------------------------
// Monitoring: the PrometheusRule's expressions with promtool

/// What the job pushes for a run (src/publish/metrics.rs).
fn pushed_metrics() -> String {
    let report = common::fixtures::run(&[], Some("v1.6.1"));
    let run = harvester_hygiene::publish::RunOutcome {
        duration: std::time::Duration::from_secs(1),
        finished_unix: 0,
        success: true,
    };
    harvester_hygiene::publish::exposition(&report, "test-cluster", run)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `promtool test rules` on the rendered PrometheusRule, with series named and labelled as the
/// job pushes them (src/publish/metrics.rs, exposition(); Pushgateway grouping key job + cluster,
/// honorLabels keeps them): one test per alert, each with a case that must fire and one that
/// must not.
#[test]
fn prometheus_rule_alerts_fire_when_they_should() {
    // The series names are the ones the code writes.
    let text = pushed_metrics();
    for series in [
        "harvester_hygiene_findings{cluster=\"test-cluster\",rule=\"image-mutable-url\",severity=\"error\"}",
        "harvester_hygiene_last_success_timestamp_seconds{cluster=\"test-cluster\"} ",
    ] {
        assert!(text.contains(series), "metrics.rs no longer writes {series}:\n{text}");
    }
    let docs = render("monitoring");
    let rule = get(&docs, "PrometheusRule", NS);
    let dir = tempfile::tempdir().unwrap();
    let full = write(
        dir.path(),
        "full.yaml",
        &json!({"groups": rule["spec"]["groups"]}).to_string(),
    );
    let out = run(
        Command::new(tool("promtool")).arg("check").arg("rules").arg(&full),
        None,
    );
    ok(&out, "promtool check rules (expressions and annotation templates)");
    // The unit tests compare the alerts' labels; promtool would compare annotations too, whose
    // text is for people, so they are left out here.
    let mut groups = rule["spec"]["groups"].clone();
    for g in groups.as_array_mut().unwrap() {
        for r in g["rules"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("annotations");
        }
    }
    let rules_file = write(dir.path(), "rules.yaml", &json!({"groups": groups}).to_string());

    // 6-hourly runs (21600 s). Samples every 5 minutes (the scrape of the Pushgateway).
    // cluster a: errors in run 1 and run 2 -> fires after run 2.
    // cluster b: errors in run 1 only (run 2 pushes 0) -> never fires.
    // cluster c: its last push is at t=0 -> overdue after 2 intervals.
    let step = 300; // seconds per sample
    let per_run = 21600 / step; // samples between runs
    let ts = |values: &[(i64, usize)]| -> String {
        // values as "v x n" runs: each (value, count) repeated.
        values
            .iter()
            .map(|(v, n)| format!("{v}x{n}", n = n - 1))
            .map(|s| s.replacen('x', "+0x", 1))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let errors_a = ts(&[(2, per_run), (2, per_run), (2, per_run)]);
    let errors_b = ts(&[(1, per_run), (0, per_run), (0, per_run)]);
    let last_a = ts(&[(0, per_run), (21600, per_run), (43200, per_run)]);
    let last_b = last_a.clone();
    let last_c = ts(&[(0, 3 * per_run)]);
    let f = |cluster: &str| {
        format!(
            "harvester_hygiene_findings{{job=\"harvester_hygiene\",cluster=\"{cluster}\",rule=\"image-mutable-url\",severity=\"error\"}}"
        )
    };
    let l = |cluster: &str| {
        format!("harvester_hygiene_last_success_timestamp_seconds{{job=\"harvester_hygiene\",cluster=\"{cluster}\"}}")
    };
    let tests = json!({
        "rule_files": [rules_file.to_str().unwrap()],
        "evaluation_interval": "5m",
        "tests": [{
            "interval": format!("{step}s"),
            "input_series": [
                {"series": f("a"), "values": errors_a},
                {"series": l("a"), "values": last_a},
                {"series": f("b"), "values": errors_b},
                {"series": l("b"), "values": last_b},
                {"series": l("c"), "values": last_c},
            ],
            "alert_rule_test": [
                // Run 1 only (t = 1h): no cluster has errors in two runs yet.
                {"eval_time": "1h", "alertname": "HarvesterHygieneErrorFindings", "exp_alerts": []},
                // After run 2 (t = 6h + 2h): cluster a fires, b (clean in run 2) does not.
                {"eval_time": "8h", "alertname": "HarvesterHygieneErrorFindings", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "job": "harvester_hygiene", "cluster": "a", "rule": "image-mutable-url"}}
                ]},
                // Before twice the interval nothing is overdue; after it, only cluster c.
                {"eval_time": "11h", "alertname": "HarvesterHygieneScanOverdue", "exp_alerts": []},
                {"eval_time": "13h", "alertname": "HarvesterHygieneScanOverdue", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "job": "harvester_hygiene", "cluster": "c"}}
                ]},
                // Metrics are there: nothing absent.
                {"eval_time": "13h", "alertname": "HarvesterHygieneScanMetricsAbsent", "exp_alerts": []},
            ],
        }, {
            // Nothing ever pushed: absent fires after twice the interval, not before.
            "interval": "5m",
            "input_series": [{"series": "up{job=\"other\"}", "values": "1+0x200"}],
            "alert_rule_test": [
                {"eval_time": "11h", "alertname": "HarvesterHygieneScanMetricsAbsent", "exp_alerts": []},
                {"eval_time": "13h", "alertname": "HarvesterHygieneScanMetricsAbsent", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "job": "harvester_hygiene"}}
                ]},
            ],
        }],
    });
    let test_file = write(dir.path(), "tests.yaml", &tests.to_string());
    let out = run(
        Command::new(tool("promtool")).args(["test", "rules"]).arg(&test_file),
        None,
    );
    let text = ok(&out, "promtool test rules");
    assert!(text.contains("SUCCESS"), "{text}");
    // The check bites: expecting cluster b to fire fails.
    let mut wrong = tests.clone();
    wrong["tests"][0]["alert_rule_test"][1]["exp_alerts"][0]["exp_labels"]["cluster"] = "b".into();
    let wrong_file = write(dir.path(), "wrong.yaml", &wrong.to_string());
    let out = run(
        Command::new(tool("promtool")).args(["test", "rules"]).arg(&wrong_file),
        None,
    );
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn grafana_dashboard_is_valid_json_on_the_pushed_series() {
    let docs = render("monitoring");
    let cm = get(&docs, "ConfigMap", "harvester-hygiene-dashboard");
    assert_eq!(cm["metadata"]["namespace"], "cattle-dashboards");
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    let dash: Value = serde_json::from_str(cm["data"]["harvester-hygiene.json"].as_str().unwrap()).unwrap();
    assert_eq!(dash["uid"], NS);
    let panels = dash["panels"].as_array().unwrap();
    assert!(panels.len() >= 4);
    let text = pushed_metrics();
    for p in panels {
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            let metric = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .find(|w| w.starts_with("harvester_hygiene_"))
                .unwrap_or_else(|| panic!("{expr}"));
            assert!(
                text.contains(&format!("# TYPE {metric} ")),
                "{metric} is not pushed by metrics.rs"
            );
        }
    }
    // Off without monitoring, and without the dashboard when that is off.
    assert!(find(&render("default"), "ConfigMap", "harvester-hygiene-dashboard").is_none());
    let docs = render_values(&json!({"monitoring": {"enabled": true, "dashboard": {"enabled": false}}}));
    assert!(find(&docs, "ConfigMap", "harvester-hygiene-dashboard").is_none());
    assert!(find(&docs, "ServiceMonitor", "harvester-hygiene-pushgateway").is_some());
}

#[test]
fn service_monitor_scrapes_the_pushgateway_keeping_pushed_labels() {
    let docs = render("monitoring");
    let sm = get(&docs, "ServiceMonitor", "harvester-hygiene-pushgateway");
    let svc = get(&docs, "Service", "harvester-hygiene-pushgateway");
    let endpoint = &sm["spec"]["endpoints"][0];
    assert_eq!(endpoint["honorLabels"], true, "the pushed job/cluster labels win");
    assert_eq!(endpoint["port"], svc["spec"]["ports"][0]["name"]);
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(
            &svc["metadata"]["labels"][k], v,
            "the ServiceMonitor selects the Service"
        );
    }
    let dep = get(&docs, "Deployment", "harvester-hygiene-pushgateway");
    for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
        assert_eq!(
            &dep["spec"]["template"]["metadata"]["labels"][k], v,
            "the Service selects the pods"
        );
    }
    assert_eq!(svc["spec"]["ports"][0]["port"], 9091);
    let image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap();
    assert!(image.starts_with("docker.io/prom/pushgateway:v"), "{image}");
}

// ---------------------------------------------------------------------------------------------
// Real Fleet (issue 13 item 6): only when scripts/peers.sh built Fleet's CLI (rancher/fleet
// cmd/fleetcli v0.12.0, testbed/peers/fleet). Compiled only with the `peers` feature, so the suite
// neither runs nor skips it; run by `scripts/peers.sh fleet`
// (cargo test --features peers --test packaging_chart fleet_real).

#[cfg(feature = "peers")]
fn fleet_bin() -> PathBuf {
    let cache = std::env::var_os("HARVESTER_HYGIENE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/harvester-hygiene"));
    std::env::var_os("HH_FLEET_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("peers/bin/fleet"))
}

/// Fleet's own code path for the bundle of charts/harvester-hygiene: `fleet apply --output` reads
/// fleet.yaml and the chart into a Bundle (rancher/fleet internal/bundlereader), `fleet target`
/// matches it against labelled Cluster objects in the real apiserver and templates the values per
/// cluster (internal/cmd/controller/target/builder.go), printing the BundleDeployments. Their values
/// must equal what testbed/helm/fleetvalues computes for the same labels, and a cluster labelled
/// `deploy=false` gets no BundleDeployment.
#[cfg(feature = "peers")]
#[tokio::test]
async fn fleet_real_target_values_match_fleetvalues() {
    let fleet = fleet_bin();
    assert!(
        fleet.is_file(),
        "{}: missing; scripts/peers.sh build makes it (this test is not part of the suite)",
        fleet.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle.yaml");
    let ns = common::namespace("fleet-real").await;
    // A GitRepo's targets reach the bundle as `fleet apply --targets-file`, appended after
    // fleet.yaml's targetCustomizations (rancher/fleet internal/bundlereader/read.go
    // appendTargets): take them from our GitRepo example, as Fleet's GitRepo controller would.
    let gitrepo: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(repo().join("fleet/gitrepo.example.yaml")).unwrap()).unwrap();
    assert!(gitrepo["spec"]["targets"].is_array(), "{gitrepo}");
    let targets = tmp.path().join("targets.yaml");
    std::fs::write(&targets, json!({"targets": gitrepo["spec"]["targets"]}).to_string()).unwrap();
    let out = run(
        Command::new(&fleet)
            .current_dir(repo())
            .args(["apply", "-n", &ns, "--targets-file"])
            .arg(&targets)
            .arg("-o")
            .arg(&bundle)
            .args(["harvester-hygiene", CHART]),
        None,
    );
    ok(&out, "fleet apply --output");
    let b = yaml_docs(&std::fs::read_to_string(&bundle).unwrap());
    let b = b.iter().find(|d| d["kind"] == "Bundle").expect("a Bundle");
    assert_eq!(b["spec"]["defaultNamespace"], NS, "{b}");

    // Fleet's CRDs, from the same module (charts/fleet-crd of rancher/fleet v0.12.0).
    let cache = fleet.parent().and_then(Path::parent).and_then(Path::parent).unwrap();
    let crds = cache.join("go/mod/github.com/rancher/fleet@v0.12.0/charts/fleet-crd/templates/crds.yaml");
    let out = kubectl(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            crds.to_str().unwrap(),
        ],
        None,
    );
    ok(&out, "kubectl apply fleet CRDs");
    let out = kubectl(
        &[
            "wait",
            "--for",
            "condition=established",
            "--timeout=60s",
            "crd/clusters.fleet.cattle.io",
            "crd/bundles.fleet.cattle.io",
        ],
        None,
    );
    ok(&out, "Fleet CRDs established");

    // The label sets of fleet_labels_combine_into_chart_values.
    let sets: [(&str, &[&str]); 3] = [
        (
            "plain",
            &[
                "management.cattle.io/cluster-display-name=plain",
                "provider.cattle.io=harvester",
            ],
        ),
        (
            "all",
            &[
                "management.cattle.io/cluster-display-name=prod-1",
                "provider.cattle.io=harvester",
                "harvester-hygiene.io/schedule=hourly",
                "harvester-hygiene.io/remediation=enabled",
                "harvester-hygiene.io/openstack-fix=enabled",
                "harvester-hygiene.io/policy-reports=enabled",
                "harvester-hygiene.io/monitoring=enabled",
                "harvester-hygiene.io/registry=registry.example.internal",
                "harvester-hygiene.io/policy=strict",
            ],
        ),
        (
            "excluded",
            &[
                "harvester-hygiene.io/policy=strict",
                "harvester-hygiene.io/deploy=false",
            ],
        ),
    ];
    for (name, labels) in &sets {
        let labels: serde_json::Map<String, Value> = labels
            .iter()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), json!(v))
            })
            .collect();
        let cluster = json!({"apiVersion": "fleet.cattle.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": {}});
        ok(
            &kubectl(&["create", "-f", "-"], Some(&cluster.to_string())),
            "create Cluster",
        );
        // The Fleet controller gives every cluster a namespace for its BundleDeployments.
        let status = json!({"status": {"namespace": format!("{ns}-{name}")}}).to_string();
        let out = kubectl(
            &[
                "patch",
                "-n",
                &ns,
                "clusters.fleet.cattle.io",
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status,
            ],
            None,
        );
        ok(&out, "Cluster status");
    }
    let out = run(
        Command::new(&fleet)
            .args(["target", "-n", &ns, "-b"])
            .arg(&bundle)
            .env("KUBECONFIG", common::kubeconfig()),
        None,
    );
    let text = ok(&out, "fleet target");
    let bds: Vec<Value> = yaml_docs(&text)
        .into_iter()
        .filter(|d| d["kind"] == "BundleDeployment")
        .collect();
    assert!(!bds.is_empty(), "fleet target printed no BundleDeployment:\n{text}");
    for (name, labels) in &sets {
        let want = fleet_values(labels);
        let bd = bds
            .iter()
            .find(|d| d["metadata"]["namespace"] == format!("{ns}-{name}").as_str());
        if want["doNotDeploy"] == true {
            assert!(
                bd.is_none(),
                "{name}: Fleet deploys what fleet-values leaves out: {bd:?}"
            );
            println!("fleet_real: {name}: no BundleDeployment (doNotDeploy), as fleet-values says");
            continue;
        }
        let bd = bd.unwrap_or_else(|| panic!("{name}: no BundleDeployment from fleet target:\n{text}"));
        let got = &bd["spec"]["options"]["helm"]["values"];
        assert_eq!(
            got, &want["values"],
            "{name}: Fleet's values differ from fleet-values'\nFleet: {got:#}\nfleet-values: {:#}",
            want["values"]
        );
        assert_eq!(bd["spec"]["options"]["defaultNamespace"], NS, "{name}: {bd}");
        println!(
            "fleet_real: {name}: Fleet's values equal fleet-values' ({} top-level keys)",
            got.as_object().map_or(0, |o| o.len())
        );
    }
}
