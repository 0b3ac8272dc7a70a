//! What the shipped CronJob relies on and the other live tests bypass: the Harvester version
//! detected from the `server-version` Setting (every other live test passes
//! `--harvester-version`), and a 404 for a kind whose CRD is not installed: "not installed"
//! with full coverage for an optional add-on (vm-import-controller), exit 3 for a kind the
//! rules need (Longhorn Volumes).
//!
//! These need a cluster-scoped Setting and missing CRDs, which would disturb the shared test
//! apiserver, so this file starts its own, with every CRD but the vm-import-controller's and
//! Longhorn's Volume.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// CRD groups / names left out of this apiserver.
const OPTIONAL_GROUP: &str = "migration.harvesterhci.io";
const REQUIRED_CRD: &str = "volumes.longhorn.io";

/// The upstream CRDs the shared apiserver gets: `HH_CRD_DIR`, else what
/// `scripts/build-crds.sh` generated (and caches).
fn crd_source() -> PathBuf {
    if let Some(d) = std::env::var_os("HH_CRD_DIR") {
        return PathBuf::from(d);
    }
    let out = Command::new("bash")
        .arg(common::repo().join("scripts/build-crds.sh"))
        .output()
        .expect("run scripts/build-crds.sh");
    assert!(
        out.status.success(),
        "build-crds.sh: {}",
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

/// Every CRD document of `src` except the left-out ones, one file per document in `dst`.
fn write_subset(src: &Path, dst: &Path) -> usize {
    std::fs::create_dir_all(dst).unwrap();
    let mut kept = 0;
    let mut left_out = (false, false);
    let mut files: Vec<_> = std::fs::read_dir(src).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "yaml")) {
        let text = std::fs::read_to_string(f).unwrap();
        for doc in text.split("\n---") {
            if doc.trim().is_empty() || !doc.contains("CustomResourceDefinition") {
                continue;
            }
            if doc.contains(&format!("group: {OPTIONAL_GROUP}")) {
                left_out.0 = true;
                continue;
            }
            if doc.contains(&format!("name: {REQUIRED_CRD}")) {
                left_out.1 = true;
                continue;
            }
            kept += 1;
            std::fs::write(dst.join(format!("{kept:03}.yaml")), doc.trim_start_matches("---")).unwrap();
        }
    }
    assert_eq!(
        left_out,
        (true, true),
        "the CRDs in {} changed: update this test",
        src.display()
    );
    kept
}

/// This file's own apiserver (stopped by the script's watchdog when the test process exits).
fn kubeconfig() -> &'static Path {
    static KC: OnceLock<PathBuf> = OnceLock::new();
    KC.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hh-discovery-{}", std::process::id()));
        let crds = dir.join("crds");
        assert!(write_subset(&crd_source(), &crds) > 5);
        let out = Command::new("bash")
            .arg(common::repo().join("scripts/apiserver.sh"))
            .arg("start")
            .arg(dir.join("server"))
            .arg(std::process::id().to_string())
            .env("HH_CRD_DIR", &crds)
            .output()
            .expect("run scripts/apiserver.sh");
        assert!(
            out.status.success(),
            "could not start a second test apiserver: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(stdout.trim().lines().last().unwrap_or_default())
    })
}

fn kubectl_apply(yaml: &str) {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .args(["apply", "-f", "-"])
        .env("KUBECONFIG", kubeconfig())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("kubectl");
    child.stdin.take().unwrap().write_all(yaml.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "kubectl apply failed for:\n{yaml}");
}

fn scan(args: &[&str]) -> (i32, Value, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args(["scan", "-o", "json"])
        .args(args)
        .env("KUBECONFIG", kubeconfig())
        .env("NO_COLOR", "1")
        .output()
        .expect("run plugin");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{err}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap_or(-1), doc, err)
}

fn setup() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        kubectl_apply(
            "apiVersion: harvesterhci.io/v1beta1\nkind: Setting\nmetadata:\n  name: server-version\nvalue: v1.4.1\n",
        );
        kubectl_apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n");
    });
}

#[test]
fn the_version_comes_from_the_server_version_setting() {
    setup();
    // Only rules whose kinds are all served: a complete scan.
    let (code, doc, err) = scan(&["--rules", "vm-name-breaks-migration,migration-annotation-stale"]);
    assert_eq!(code, 0, "{err}\n{}", doc["incomplete"]);
    assert_eq!(doc["harvesterVersion"], "v1.4.1", "{}", doc["source"]);
    assert_eq!(doc["source"]["harvesterVersionSource"], "setting");
    // The flag still wins over the Setting.
    let (_, doc, _) = scan(&["--rules", "vm-name-breaks-migration", "--harvester-version", "v1.6.1"]);
    assert_eq!(doc["harvesterVersion"], "v1.6.1");
    assert_eq!(doc["source"]["harvesterVersionSource"], "flag");
}

#[test]
fn a_missing_add_on_is_not_installed_and_a_missing_required_kind_is_exit_3() {
    setup();
    // The import rule reads only the vm-import-controller's kinds (an optional add-on) and
    // Harvester's: the add-on's 404 is "not installed", coverage stays full, exit 0.
    let (code, doc, err) = scan(&["--rules", "import-openstack-leak"]);
    assert_eq!(code, 0, "{err}\n{}", doc["incomplete"]);
    assert_eq!(doc["summary"]["incomplete"], false);
    let rule = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "import-openstack-leak")
        .unwrap_or_else(|| panic!("no rule row: {}", doc["rules"]))
        .clone();
    assert_eq!(rule["status"], "complete", "{rule}");
    let said = doc.to_string();
    assert!(said.contains("not installed (optional add-on)"), "{said}");

    // Every rule: Longhorn Volumes are needed and not served: incomplete, named, exit 3.
    let (code, doc, err) = scan(&[]);
    assert_eq!(code, 3, "{err}\n{}", doc["incomplete"]);
    assert_eq!(doc["summary"]["incomplete"], true);
    let gaps = doc["incomplete"].as_array().unwrap();
    let volume = gaps
        .iter()
        .find(|g| g["kind"] == "Volume")
        .unwrap_or_else(|| panic!("Volume not in incomplete: {gaps:?}"));
    assert_eq!(volume["reason"], "not-found", "{volume}");
    assert!(
        volume["message"]
            .as_str()
            .unwrap_or("")
            .contains("is the CRD installed"),
        "{volume}"
    );
    assert!(
        gaps.iter()
            .all(|g| g["apiVersion"].as_str().is_none_or(|a| !a.starts_with(OPTIONAL_GROUP))),
        "an optional add-on is never a coverage gap: {gaps:?}"
    );
}
