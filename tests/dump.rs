//! `dump` on a real kube-apiserver (its own, started here with scripts/apiserver.sh, so no other
//! test changes the cluster between the live scan and the dump): the demo cluster is loaded into
//! it with secrets planted where a careless dump would copy them; the dump (directory and
//! .tar.gz) holds exactly the kinds the scanner reads, only the fields the rules read, and a
//! manifest; `scan --from` the dump reports the same findings as the live scan with full
//! coverage; `describe` works live and on the dump; plain kubectl dumps need --assume-complete.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

const MARKER: &str = "HH-SECRET-MARKER";

/// A private apiserver for this test binary (stopped by the watchdog when it exits).
fn private_apiserver() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hh-dump-apiserver-{}", std::process::id()));
    let out = Command::new("bash")
        .arg(common::repo().join("scripts/apiserver.sh"))
        .arg("start")
        .arg(&dir)
        .arg(std::process::id().to_string())
        .output()
        .expect("run scripts/apiserver.sh");
    assert!(
        out.status.success(),
        "could not start the test kube-apiserver (run scripts/install-apiserver.sh first):\n{}\n{}",
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

/// Every object of the demo dump, namespaces first.
fn demo_objects() -> Vec<Value> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "json")
                && p.file_name()
                    .is_some_and(|n| n != harvester_hygiene::inventory::manifest::FILE)
            {
                // (Its dump manifest is no cluster object.)
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&common::repo().join("examples/demo-cluster"), &mut files);
    let mut objs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let docs: Vec<Value> = if f.extension().is_some_and(|e| e == "json") {
            vec![serde_json::from_str(&text).unwrap()]
        } else {
            text.split("\n---")
                .filter(|d| !d.trim().is_empty() && d.contains("kind"))
                .map(|d| serde_saphyr::from_str::<Value>(d).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
                .collect()
        };
        for d in docs {
            match d["items"].as_array() {
                Some(items) => objs.extend(items.iter().cloned()),
                None if d.get("kind").is_some() => objs.push(d),
                None => {}
            }
        }
    }
    for o in &mut objs {
        if let Some(m) = o["metadata"].as_object_mut() {
            for k in ["uid", "resourceVersion", "creationTimestamp", "managedFields"] {
                m.remove(k);
            }
        }
    }
    // The API server rejects `null` where its schema wants a string; a null field is absent.
    fn drop_nulls(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|_, x| !x.is_null());
                m.values_mut().for_each(drop_nulls);
            }
            Value::Array(a) => a.iter_mut().for_each(drop_nulls),
            _ => {}
        }
    }
    // And in status, where Longhorn's schema types timestamps, it reads `''` as null too.
    fn drop_empty(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|_, x| x.as_str() != Some(""));
                m.values_mut().for_each(drop_empty);
            }
            Value::Array(a) => a.iter_mut().for_each(drop_empty),
            _ => {}
        }
    }
    for o in &mut objs {
        drop_nulls(o);
        if let Some(st) = o.get_mut("status") {
            drop_empty(st);
        }
    }
    objs.sort_by_key(|o| o["kind"] != "Namespace");
    objs
}

/// Objects holding secrets in fields no rule reads.
fn planted() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "team-a"},
               "stringData": {"password": format!("{MARKER}-secret")}}),
        json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
               "metadata": {"name": "with-cloud-init", "namespace": "team-a",
                            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": format!("{{\"password\":\"{MARKER}-applied\"}}")},
                            "labels": {"app": format!("{MARKER}-label")}},
               "spec": {"running": false, "template": {"spec": {
                   "domain": {"devices": {}, "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
                   "volumes": [{"name": "cloudinit", "cloudInitNoCloud": {
                       "userData": format!("#cloud-config\npassword: {MARKER}-userdata\nchpasswd: {{expire: false}}\n"),
                       "networkData": format!("{MARKER}-network")}}]}}}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "with-env", "namespace": "team-a"},
               "spec": {"containers": [{"name": "c", "image": "busybox",
                        "env": [{"name": "TOKEN", "value": format!("{MARKER}-env")}]}]}}),
    ]
}

fn plugin(args: &[&str]) -> (i32, String, String) {
    let out = common::plugin(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scan_json(args: &[&str]) -> Value {
    let (code, out, err) = plugin(&[&["scan", "-o", "json"][..], args].concat());
    assert!(code == 0 || code == 1, "scan {args:?}: exit {code}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Findings without what only a files scan has (`origin`), in a stable order.
fn comparable(report: &Value) -> Vec<Value> {
    let mut f: Vec<Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(|mut f| {
            if let Some(m) = f.as_object_mut() {
                m.remove("origin");
            }
            f
        })
        .collect();
    f.sort_by_key(|f| f.to_string());
    f
}

fn rules_of(report: &Value) -> Vec<(String, String, u64)> {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["findings"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Every file's text in a dump directory, or in a .tar.gz.
fn dump_texts(path: &Path) -> Vec<(String, String)> {
    if path.is_dir() {
        let mut v: Vec<(String, String)> = std::fs::read_dir(path)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        return v;
    }
    let f = std::fs::File::open(path).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut v = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut e, &mut s).unwrap();
        v.push((name, s));
    }
    v.sort();
    v
}

#[tokio::test]
async fn a_dump_scans_like_the_live_cluster_and_holds_no_secrets() {
    // One test: the apiserver is this binary's own, set before the harness reads it.
    let kubeconfig = private_apiserver();
    // SAFETY: no other thread of this test binary runs yet (it has this one test).
    unsafe { std::env::set_var("HH_TEST_KUBECONFIG", &kubeconfig) };
    let objs = demo_objects();
    assert!(objs.len() > 80, "{}", objs.len());
    for o in objs.into_iter().chain(planted()) {
        common::create(o).await;
    }

    // Live scan: the demo's problems, with full coverage.
    let live = scan_json(&[]);
    let findings = live["findings"].as_array().unwrap();
    let rules_hit: std::collections::BTreeSet<&str> = findings.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(findings.len() >= 6 && rules_hit.len() >= 4, "{live}");
    assert!(
        live["incomplete"].as_array().unwrap().is_empty(),
        "{}",
        live["incomplete"]
    );

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dump");
    let tgz = tmp.path().join("dump.tar.gz");
    for out in [&dir, &tgz] {
        let (code, text, err) = plugin(&["dump", "-o", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{text}\n{err}");
        assert!(text.contains("wrote ") && text.contains("Harvester v1.4.1"), "{text}");
        // A second dump does not overwrite the first.
        let (code, _, err) = plugin(&["dump", "-o", out.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
    }

    for path in [&dir, &tgz] {
        let texts = dump_texts(path);
        let names: Vec<&str> = texts.iter().map(|(n, _)| n.as_str()).collect();
        // Exactly the kinds a scan reads, plus the manifest; never Secrets.
        let kinds = harvester_hygiene::scan::kinds_for(harvester_hygiene::rules::REGISTRY);
        assert_eq!(texts.len(), kinds.len() + 1, "{names:?}");
        assert!(names.iter().all(|n| !n.contains("secret")), "{names:?}");
        // No secret and no field the rules do not read, but the objects are there.
        for (name, text) in &texts {
            assert!(!text.contains(MARKER), "{name} holds a planted secret:\n{text}");
            assert!(
                !text.contains("last-applied-configuration") && !text.contains("managedFields"),
                "{name}"
            );
        }
        let vms = &texts
            .iter()
            .find(|(n, _)| n == "virtualmachines.kubevirt.io.json")
            .unwrap()
            .1;
        assert!(
            vms.contains("\"with-cloud-init\"")
                && vms.contains("ci-runner-ubuntu-2204-gpu-passthrough-east-rack07-slot14a"),
            "{vms}"
        );
        // The manifest: every kind listed completely, from this cluster, now, with its version.
        let m: Value = serde_json::from_str(
            &texts
                .iter()
                .find(|(n, _)| n == "harvester-hygiene-dump.json")
                .unwrap()
                .1,
        )
        .unwrap();
        assert_eq!(m["kind"], "Dump");
        assert_eq!(m["harvesterVersion"], "v1.4.1");
        assert!(
            m["cluster"]["server"]
                .as_str()
                .is_some_and(|s| s.starts_with("https://127.0.0.1:")),
            "{m}"
        );
        assert!(
            m["createdAt"]
                .as_str()
                .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()),
            "{m}"
        );
        let entries = m["kinds"].as_array().unwrap();
        assert_eq!(entries.len(), kinds.len());
        assert!(
            entries
                .iter()
                .all(|k| k["complete"] == true && k.get("namespaces").is_none()),
            "{m}"
        );
        let vmi = entries
            .iter()
            .find(|k| k["kind"] == "VirtualMachineInstanceMigration")
            .unwrap();
        assert_eq!(vmi["objects"], 3, "{vmi}");

        // Scanning the dump reports what the live scan reports, with full coverage.
        let offline = scan_json(&["--from", path.to_str().unwrap()]);
        assert_eq!(offline["source"]["type"], "files");
        assert!(
            offline["incomplete"].as_array().unwrap().is_empty(),
            "{}",
            offline["incomplete"]
        );
        assert!(
            offline["inputErrors"].as_array().unwrap().is_empty(),
            "{}",
            offline["inputErrors"]
        );
        assert_eq!(
            comparable(&offline),
            comparable(&live),
            "{}: findings differ",
            path.display()
        );
        assert_eq!(rules_of(&offline), rules_of(&live));
        assert_eq!(offline["summary"]["objectsScanned"], live["summary"]["objectsScanned"]);
    }

    // describe, live and on the dump: the same finding, whole.
    let f = &findings[0];
    let rule = f["rule"].as_str().unwrap();
    let key = format!(
        "{}/{}",
        f["object"]["namespace"].as_str().unwrap(),
        f["object"]["name"].as_str().unwrap()
    );
    let (code, live_text, err) = plugin(&["describe", rule, &key]);
    assert_eq!(code, 0, "{err}");
    let folded = live_text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        folded.contains(
            &f["message"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "{live_text}"
    );
    let (code, dump_text, _) = plugin(&["describe", rule, &key, "--from", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("Read from:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&dump_text), strip(&live_text));

    // A plain kubectl-style dump (the same Lists, no manifest) cannot say "none here" ...
    let plain = tmp.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    for (name, text) in dump_texts(&dir) {
        if name != "harvester-hygiene-dump.json" {
            std::fs::write(plain.join(name), text).unwrap();
        }
    }
    let without = scan_json(&["--from", plain.to_str().unwrap()]);
    let gaps = |r: &Value| r["incomplete"].as_array().unwrap().len();
    assert!(gaps(&without) > 3, "{}", without["incomplete"]);
    // ... unless the user vouches for it: kinds it holds count as complete.
    let vouched = scan_json(&["--from", plain.to_str().unwrap(), "--assume-complete"]);
    assert!(gaps(&vouched) < gaps(&without), "{}", vouched["incomplete"]);
    assert!(
        vouched["incomplete"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| !g["message"].as_str().unwrap().contains("seen only in namespaces")),
        "{}",
        vouched["incomplete"]
    );

    // A manifest that claims objects the input lacks is not trusted for that kind.
    let cut = tmp.path().join("cut");
    std::fs::create_dir(&cut).unwrap();
    for (name, text) in dump_texts(&dir) {
        if name != "virtualmachines.kubevirt.io.json" {
            std::fs::write(cut.join(name), text).unwrap();
        }
    }
    let r = scan_json(&["--from", cut.to_str().unwrap()]);
    assert!(
        r["inputErrors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["reason"].as_str().unwrap().contains("its coverage is not trusted")),
        "{}",
        r["inputErrors"]
    );
    assert!(
        r["incomplete"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["kind"] == "VirtualMachine"),
        "{}",
        r["incomplete"]
    );
}
