//! The binary's non-scan commands and its config handling.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env("NO_COLOR", "1");
    c
}

#[test]
fn rules_lists_every_rule_and_explain_documents_each() {
    let out = bin().arg("rules").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for r in harvester_hygiene::rules::REGISTRY {
        assert!(text.contains(r.id()), "{} missing from rules", r.id());
        let out = bin().args(["explain", r.id()]).output().unwrap();
        assert!(out.status.success());
        let e = String::from_utf8(out.stdout).unwrap();
        for part in ["Why:", "Affected versions:", "Upstream:", "Remediation:", "#"] {
            assert!(e.contains(part), "{}: {part} missing in\n{e}", r.id());
        }
    }
    let out = bin().args(["explain", "no-such-rule"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_errors_name_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("rules:\n  image-mutable-url:\n    sevrity: error\n", "sevrity"),
        ("rulez: {}\n", "rulez"),
        ("rules:\n  orphaned-guest-pvc:\n    gracePeriod: soon\n", "gracePeriod"),
        (
            "rules:\n  image-name-collision:\n    extraPatterns: [x]\n",
            "extraPatterns",
        ),
    ] {
        let p = dir.path().join("c.yaml");
        std::fs::write(&p, text).unwrap();
        let out = bin()
            .args(["scan", "--from", "examples/demo-cluster", "--config"])
            .arg(&p)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(needle) && err.contains("c.yaml"),
            "{needle} not named in: {err}"
        );
    }
}

#[test]
fn config_changes_what_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policy.yaml");
    std::fs::write(&p, "apiVersion: harvester-hygiene/v1\nkind: Config\nrules:\n  image-name-collision:\n    enabled: false\n  image-mutable-url:\n    severity: info\n").unwrap();
    let out = bin()
        .args(["scan", "--from", "examples/demo-cluster", "-o", "json", "--config"])
        .arg(&p)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = doc["findings"].as_array().unwrap();
    assert!(findings.len() >= 5, "the other rules still report: {doc}");
    assert!(findings.iter().all(|f| f["rule"] != "image-name-collision"));
    // The warning became info; the escalated error stays an error.
    let url: Vec<_> = findings.iter().filter(|f| f["rule"] == "image-mutable-url").collect();
    assert!(url.iter().any(|f| f["severity"] == "info"));
    assert!(url.iter().any(|f| f["severity"] == "error"));
    assert!(
        doc["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "image-name-collision" && r["status"] == "disabled")
    );
}

#[test]
fn yaml_output_parses_back_to_the_json_report_and_wide_shows_the_evidence() {
    let run = |o: &str| {
        let out = bin()
            .args(["scan", "--from", "examples/demo-cluster", "-o", o])
            .env("COLUMNS", "160")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{o}");
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let yaml: serde_json::Value = serde_saphyr::from_str(&run("yaml")).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert!(findings.len() >= 8, "{json}");
    // The same document, apart from the generation time.
    let strip = |mut v: serde_json::Value| {
        v["source"]["generatedAt"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip(yaml), strip(json.clone()));
    // -o wide: confidence, evidence and reclaimable space under each finding, and the total.
    let wide = run("wide");
    assert!(wide.contains("confidence: likely; evidence: unreferenced,"), "{wide}");
    assert!(wide.contains("frees 60.0 GiB"), "{wide}");
    assert!(wide.contains("348.0 GiB reclaimable (180.0 GiB by fix)"), "{wide}");
}
