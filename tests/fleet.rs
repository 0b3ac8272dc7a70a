//! The fleet-wide view on two real apiservers as two contexts of one kubeconfig (plus one that
//! cannot be reached): the job writes each cluster's report ConfigMap, `report --all-contexts`
//! reads them back (one row per cluster, JSON and table), `scan --all-contexts` scans each.
//! The second apiserver has no policy-report CRDs, so `--policy-reports` is skipped there with
//! a note.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::unique;
use serde_json::{Value, json};

/// A second test bed (stopped by its watchdog when this process exits).
fn second_apiserver() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hh-fleet-{}", std::process::id()));
    let out = Command::new("bash")
        .arg(common::repo().join("scripts/apiserver.sh"))
        .arg("start")
        .arg(&dir)
        .arg(std::process::id().to_string())
        .output()
        .expect("run scripts/apiserver.sh");
    assert!(
        out.status.success(),
        "second apiserver: {}{}",
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
}

/// (server, token) of an admin kubeconfig written by scripts/apiserver.sh.
fn server_and_token(kc: &Path) -> (String, String) {
    let text = std::fs::read_to_string(kc).unwrap();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(k).map(str::to_string))
            .unwrap_or_else(|| panic!("{k} in {}", kc.display()))
    };
    (field("server: "), field("token: "))
}

/// One kubeconfig with a context per (name, server, token).
fn merged(dir: &Path, contexts: &[(&str, &str, &str)]) -> PathBuf {
    let mut clusters = String::new();
    let mut users = String::new();
    let mut ctxs = String::new();
    for (name, server, token) in contexts {
        clusters.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n"
        ));
        users.push_str(&format!("- name: {name}\n  user:\n    token: {token}\n"));
        ctxs.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"
        ));
    }
    let kc = dir.join("fleet-kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n{users}contexts:\n{ctxs}current-context: {}\n",
            contexts[0].0
        ),
    )
    .unwrap();
    kc
}

fn run(bin: &str, kc: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .env("KUBECONFIG", kc)
        .env_remove("HH_TEST_KUBECONFIG")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "250")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn job(kc: &Path, ns: &str, args: &[&str]) -> Vec<Value> {
    let (code, stdout, stderr) = run(
        env!("CARGO_BIN_EXE_harvester-hygiene-job"),
        kc,
        &[
            &["--harvester-version", "v1.6.1", "--report-namespace", ns, "--no-events"],
            args,
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn kube_system_uid(kc: &Path) -> String {
    let (server, token) = server_and_token(kc);
    let out = Command::new("kubectl")
        .args(["--server", &server, "--token", &token, "--insecure-skip-tls-verify"])
        .args(["get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn report_and_scan_across_contexts() {
    let east_kc = common::kubeconfig().to_path_buf();
    let west_kc = second_apiserver();
    let dir = tempfile::tempdir().unwrap();
    let (east_server, east_token) = server_and_token(&east_kc);
    let (west_server, west_token) = server_and_token(&west_kc);
    let kc = merged(
        dir.path(),
        &[
            ("east", &east_server, &east_token),
            ("west", &west_server, &west_token),
            ("gone", "https://127.0.0.1:1", "x"),
        ],
    );
    let east_uid = kube_system_uid(&east_kc);
    let west_uid = kube_system_uid(&west_kc);
    assert_ne!(east_uid, west_uid);

    // A finding on west, the job on both (its report in a namespace of this test's own).
    let ns = unique("fleet");
    for kc in [&east_kc, &west_kc] {
        let out = Command::new("kubectl")
            .args(["create", "namespace", &ns])
            .env("KUBECONFIG", kc)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (server, token) = (&west_server, &west_token);
    let img = unique("rawhide");
    let body = json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": img, "namespace": ns},
        "spec": {"displayName": img, "sourceType": "download",
                 "url": "https://dl.fedoraproject.org/pub/fedora/linux/development/rawhide/Cloud/x86_64/images/Fedora-Cloud-Base.qcow2"}});
    let out = Command::new("kubectl")
        .args([
            "--server",
            server,
            "--token",
            token,
            "--insecure-skip-tls-verify",
            "create",
            "-f",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(body.to_string().as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    job(&east_kc, &ns, &["--cluster-name", "east-cluster"]);
    let west_lines = job(&west_kc, &ns, &["--policy-reports"]);
    // No policy-report CRDs on west: skipped with a note, not a failure.
    let skipped = west_lines
        .iter()
        .filter(|l| l["msg"] == "policy reports skipped")
        .count();
    assert_eq!(skipped, 2, "{west_lines:#?}");

    // report --all-contexts -o json: one row per context.
    let bin = env!("CARGO_BIN_EXE_kubectl-harvester-hygiene");
    let (code, stdout, stderr) = run(
        bin,
        &kc,
        &["report", "--all-contexts", "--report-namespace", &ns, "-o", "json"],
    );
    assert_eq!(code, 3, "gone is unreachable: {stderr}\n{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(doc["kind"], "FleetReport");
    let rows = doc["clusters"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{doc:#}");
    let row = |c: &str| {
        rows.iter()
            .find(|r| r["context"] == c)
            .unwrap_or_else(|| panic!("{c}: {doc:#}"))
    };
    assert_eq!(row("east")["status"], "ok");
    assert_eq!(row("east")["cluster"]["name"], "east-cluster");
    assert_eq!(row("east")["cluster"]["uid"], east_uid.as_str());
    assert_eq!(row("west")["status"], "ok");
    assert_eq!(row("west")["cluster"]["uid"], west_uid.as_str());
    assert_eq!(
        row("west")["cluster"]["name"],
        west_uid.as_str(),
        "the job names it by UID"
    );
    assert!(row("west")["warnings"].as_u64().unwrap() >= 1, "{doc:#}");
    assert_eq!(row("west")["topRules"][0]["rule"], "image-mutable-url", "{doc:#}");
    assert!(row("west")["ageSeconds"].as_i64().unwrap() < 600);
    assert_eq!(row("gone")["status"], "unreachable");
    assert!(row("gone")["message"].is_string());

    // The table: one line per context, the unreachable one saying so.
    let (_, table, _) = run(
        bin,
        &kc,
        &["report", "--context", "east,west,gone", "--report-namespace", &ns],
    );
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("CONTEXT") && lines[0].contains("TOP RULES"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("east ") && lines[1].contains("east-cluster"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("west ") && lines[2].contains("image-mutable-url"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("gone ") && lines[3].contains("unreachable"),
        "{table}"
    );

    // A cluster without a report is a row that says so.
    let (code, stdout, _) = run(
        bin,
        &kc,
        &[
            "report",
            "--context",
            "west",
            "--report-namespace",
            &ns,
            "--report-configmap",
            "none-here",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 3);
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["clusters"][0]["status"], "no-report", "{doc:#}");

    // scan --all-contexts scans each (one rule, to keep it short).
    let (code, stdout, stderr) = run(
        bin,
        &kc,
        &[
            "scan",
            "--all-contexts",
            "--rules",
            "image-mutable-url",
            "-n",
            &ns,
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 3, "gone is unreachable: {stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(doc["kind"], "FleetScan");
    let reports = doc["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 3);
    let west = reports.iter().find(|r| r["context"] == "west").unwrap();
    assert_eq!(west["report"]["cluster"]["name"], "west", "named after the context");
    assert_eq!(west["report"]["cluster"]["uid"], west_uid.as_str());
    assert!(
        west["report"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["object"]["name"] == img.as_str()),
        "{west:#}"
    );
    assert!(reports.iter().any(|r| r["context"] == "gone" && r["error"].is_string()));
    let rows = doc["clusters"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
}
