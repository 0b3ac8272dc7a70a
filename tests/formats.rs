//! CI and automation formats through the binary: `-o sarif` validated against the SARIF 2.1.0
//! JSON schema (the OASIS schema as the `serde-sarif` crate ships it, found with `cargo
//! metadata`, nothing fetched at test time) and read back into serde-sarif's typed model;
//! `-o junit`; `--output-file` (atomic); `--exclude-rules`; `--exclude-namespaces` globs.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    c.current_dir(env!("CARGO_MANIFEST_DIR")).env("NO_COLOR", "1");
    c
}

fn scan(args: &[&str]) -> (i32, String, String) {
    let out = bin()
        .args(["scan", "--from", "examples/demo-cluster"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `src/schema.json` of the serde-sarif package this build resolved (a dev-dependency, so cargo
/// has it on disk).
fn sarif_schema() -> serde_json::Value {
    // Only this platform's packages: the others need not be downloaded.
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc names its host");
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "serde-sarif")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("serde-sarif in cargo metadata (a dev-dependency)");
    let path = PathBuf::from(manifest).parent().unwrap().join("src/schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .unwrap();
    assert_eq!(
        schema["title"],
        "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema",
        "{}",
        path.display()
    );
    schema
}

#[test]
fn sarif_validates_against_the_2_1_0_schema_with_rules_locations_and_links() {
    let (code, text, err) = scan(&["-o", "sarif"]);
    assert_eq!(code, 1, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut schema = sarif_schema();
    // Erratum in the published schema: the `language` pattern
    // `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$` has a stray `]` that is not a valid regex for
    // Rust's engines (ECMA reads it as a literal), so the schema does not compile as shipped. Put
    // the pattern the spec describes (a language tag like `en` or `en-US`); nothing else changes.
    fn fix_language(v: &mut serde_json::Value) -> usize {
        match v {
            serde_json::Value::String(s) if s == "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$" => {
                *s = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$".into();
                1
            }
            serde_json::Value::Array(a) => a.iter_mut().map(fix_language).sum(),
            serde_json::Value::Object(m) => m.values_mut().map(fix_language).sum(),
            _ => 0,
        }
    }
    // run.language and toolComponent.language.
    assert_eq!(fix_language(&mut schema), 2, "erratum fixed upstream?");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF schema violations:\n{}", errors.join("\n"));
    // A document the schema rejects is rejected (the validator is not vacuous).
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));
    // And it reads into the typed SARIF model.
    let typed: serde_sarif::sarif::Sarif = serde_json::from_value(doc.clone()).expect("serde-sarif reads it");
    assert_eq!(typed.runs.len(), 1);

    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), harvester_hygiene::rules::REGISTRY.len());
    for r in rules {
        assert!(
            r["shortDescription"]["text"].as_str().is_some_and(|t| !t.is_empty()),
            "{r}"
        );
        assert!(
            r["help"]["text"].as_str().is_some_and(|t| t.contains("Remediation:")),
            "{r}"
        );
        assert!(
            r["helpUri"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://github.com/")),
            "{r}"
        );
    }
    let collision = rules.iter().find(|r| r["id"] == "image-name-collision").unwrap();
    assert!(
        collision["properties"]["upstream"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == "https://github.com/harvester/harvester/issues/5165"),
        "{collision}"
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 17);
    let pvc = results.iter().find(|r| r["ruleId"] == "orphaned-guest-pvc").unwrap();
    assert_eq!(pvc["level"], "warning");
    let loc = &pvc["locations"][0];
    assert_eq!(
        loc["logicalLocations"][0]["fullyQualifiedName"],
        "rke2-guests/PersistentVolumeClaim/pvc-153f00a9-7334-4e0d-89f6-f009691dec50"
    );
    assert_eq!(
        loc["physicalLocation"]["artifactLocation"]["uri"],
        "examples/demo-cluster/pvcs/rke2-guests.yaml"
    );
    assert_eq!(results.iter().filter(|r| r["level"] == "note").count(), 2);
    assert!(
        results
            .iter()
            .all(|r| r["partialFingerprints"]["harvesterHygiene/v1"].as_str().map(str::len) == Some(16))
    );
}

#[test]
fn junit_has_a_case_per_rule_and_object_failing_at_fail_on() {
    let (code, xml, _) = scan(&["-o", "junit"]);
    assert_eq!(code, 1);
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"),
        "{xml}"
    );
    // Default --fail-on error: the 4 errors fail, the rest pass (17 findings); every rule but one
    // has findings, and upgrade-readiness (no --target-version: disabled) is one skipped case.
    assert!(
        xml.contains("<testsuites name=\"harvester-hygiene\" tests=\"18\" failures=\"4\" errors=\"0\" skipped=\"1\""),
        "{xml}"
    );
    assert_eq!(
        xml.matches("<testsuite ").count(),
        harvester_hygiene::rules::REGISTRY.len()
    );
    assert_eq!(xml.matches("<testcase ").count(), 18);
    assert!(
        xml.contains("<testcase classname=\"image-name-collision\" name=\"team-a/VirtualMachineImage/ubuntu-22\">\n      <failure type=\"error\" message=\"StorageClass longhorn-ubuntu-22 shared with team-b/ubuntu-22"),
        "{xml}"
    );
    assert!(
        xml.contains("<system-out>warning: guest-cluster volume outlived its cluster"),
        "{xml}"
    );
    // Text is escaped: the messages hold quotes, < and >.
    assert!(
        xml.contains("&lt;namespace&gt;-ubuntu-22") && !xml.contains("<namespace>"),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), xml.matches("</failure>").count());
    let (_, xml, _) = scan(&["-o", "junit", "--fail-on", "info"]);
    assert!(xml.contains("failures=\"17\""), "{xml}");
    // A rule with nothing to report is one passing case; a disabled one is skipped.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "rules:\n  image-mutable-url:\n    enabled: false\n").unwrap();
    let (_, xml, _) = scan(&[
        "-o",
        "junit",
        "--exclude-namespaces",
        "team-*,rke2-*,sandbox,migrations",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(
        xml.contains(
            "<testcase classname=\"image-name-collision\" name=\"image-name-collision: 14 objects checked\"/>"
        ),
        "{xml}"
    );
    assert!(xml.contains("<skipped message=\"disabled in the config\"/>"), "{xml}");
}

#[test]
fn output_file_is_written_atomically_and_stdout_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.sarif");
    std::fs::write(&path, "old").unwrap();
    let (code, out, _) = scan(&["-o", "sarif", "--output-file", path.to_str().unwrap()]);
    assert_eq!(code, 1, "same exit code as on stdout");
    assert!(out.is_empty(), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["version"], "2.1.0");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    // A table in a file has no colour even when asked for on a terminal.
    let table = dir.path().join("t.txt");
    let (_, _, _) = scan(&["--color", "always", "--output-file", table.to_str().unwrap()]);
    let t = std::fs::read_to_string(&table).unwrap();
    assert!(t.contains("17 findings") && !t.contains('\u{1b}'), "{t}");
    // A directory that does not exist: exit 2, nothing written.
    let bad = dir.path().join("missing/r.json");
    let (code, _, err) = scan(&["-o", "json", "--output-file", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--output-file"), "{err}");
}

#[test]
fn exclude_rules_and_namespace_globs_on_the_command_line() {
    let json = |args: &[&str]| {
        let (code, out, err) = scan(&[&["-o", "json"], args].concat());
        assert!(code == 0 || code == 1, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let all = json(&[]);
    assert_eq!(all["findings"].as_array().unwrap().len(), 17);
    let doc = json(&["--exclude-rules", "image-name-collision,image-mutable-url"]);
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 13, "{doc}");
    assert!(
        findings
            .iter()
            .all(|f| !["image-name-collision", "image-mutable-url"].contains(&f["rule"].as_str().unwrap()))
    );
    assert!(
        doc["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != "image-name-collision")
    );
    // With --rules: removed from that list.
    let doc = json(&[
        "--rules",
        "image-mutable-url,orphaned-guest-pvc",
        "--exclude-rules",
        "orphaned-guest-pvc",
    ]);
    assert_eq!(doc["rules"].as_array().unwrap().len(), 1, "{doc}");
    // Globs: team-* drops team-a and team-b; an exact name drops that one only.
    let doc = json(&["--exclude-namespaces", "team-*,sandbox"]);
    let ns: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["object"]["namespace"].as_str().unwrap())
        .collect();
    assert!(!ns.is_empty());
    assert!(ns.iter().all(|n| !n.starts_with("team-") && *n != "sandbox"), "{ns:?}");
    assert!(
        ns.contains(&"harvester-public") && ns.contains(&"rke2-guests"),
        "{ns:?}"
    );
    // Added to the policy file's excludes, not replacing them.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "namespaces:\n  exclude: [rke2-guests]\n").unwrap();
    let doc = json(&["--exclude-namespaces", "team-*", "--config", cfg.to_str().unwrap()]);
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| { !["rke2-guests", "team-a", "team-b"].contains(&f["object"]["namespace"].as_str().unwrap()) }),
        "{doc}"
    );
    // Unknown ids and excluding everything are usage errors.
    let (code, _, err) = scan(&["--exclude-rules", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("--exclude-rules: unknown rule \"nope\""), "{err}");
    let ids: Vec<&str> = harvester_hygiene::rules::REGISTRY.iter().map(|r| r.id()).collect();
    let (code, _, err) = scan(&["--exclude-rules", &ids.join(",")]);
    assert_eq!(code, 2, "{err}");
}
