//! `describe`: every demo finding explained whole, by rule and object or by fingerprint, through
//! the binary (`--from`; the live form is exercised in `tests/dump.rs` on a real apiserver).

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "120");
    c
}

fn demo_findings() -> Vec<serde_json::Value> {
    let out = bin()
        .args(["scan", "--from", "examples/demo-cluster", "-o", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["findings"].as_array().unwrap().clone()
}

fn describe(args: &[&str]) -> (i32, String, String) {
    let out = bin()
        .arg("describe")
        .args(args)
        .args(["--from", "examples/demo-cluster"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_demo_finding_is_described_whole_by_rule_and_object_and_by_fingerprint() {
    let findings = demo_findings();
    assert_eq!(findings.len(), 17);
    for f in &findings {
        let rule = f["rule"].as_str().unwrap();
        let key = format!(
            "{}/{}",
            f["object"]["namespace"].as_str().unwrap(),
            f["object"]["name"].as_str().unwrap()
        );
        let (code, text, err) = describe(&[rule, &key]);
        assert_eq!(code, 0, "{rule} {key}: {err}");
        let folded = fold(&text);
        for part in [
            "Name:",
            "Namespace:",
            "Rule:",
            "Severity:",
            "Confidence:",
            "Fingerprint:",
            "Message:",
            "Evidence:",
            "Related:",
            "Remediation:",
            "Commands:",
            "Fix:",
        ] {
            assert!(text.contains(part), "{rule} {key}: {part} missing\n{text}");
        }
        for field in ["message", "remediation", "title"] {
            assert!(
                folded.contains(&fold(f[field].as_str().unwrap())),
                "{rule} {key}: {field}\n{text}"
            );
        }
        for e in f["evidence"].as_array().unwrap() {
            assert!(text.contains(e.as_str().unwrap()), "{rule} {key}: {e}\n{text}");
        }
        for r in f["related"].as_array().unwrap() {
            assert!(
                text.contains(r["name"].as_str().unwrap()),
                "{rule} {key}: related {r}\n{text}"
            );
        }
        // Files input says where the object was read.
        assert!(text.contains("Read from:    examples/demo-cluster/"), "{text}");
        // The same finding by its fingerprint.
        let fp = text
            .lines()
            .find_map(|l| l.strip_prefix("Fingerprint:"))
            .map(str::trim)
            .unwrap()
            .to_string();
        let (code, by_fp, _) = describe(&[&fp]);
        assert_eq!(code, 0);
        assert_eq!(by_fp, text, "{fp}");
    }
}

#[test]
fn describe_gives_the_exact_commands_and_says_whether_fix_can_do_it() {
    let (code, text, _) = describe(&[
        "orphaned-guest-pvc",
        "rke2-guests/pvc-153f00a9-7334-4e0d-89f6-f009691dec50",
    ]);
    assert_eq!(code, 0);
    assert!(
        text.contains(
            "kubectl patch pv pvc-afa633be-edd6-4d0c-b626-fd2b8ac8fd3b -p '{\"spec\":{\"persistentVolumeReclaimPolicy\":\"Retain\"}}'"
        ),
        "{text}"
    );
    assert!(
        text.contains("kubectl delete pvc -n rke2-guests pvc-153f00a9-7334-4e0d-89f6-f009691dec50"),
        "{text}"
    );
    assert!(text.contains("Fix:\n  yes: set PV pvc-afa633be"), "{text}");
    let (_, text, _) = describe(&["migration-annotation-stale", "team-b/default-9xq2c"]);
    assert!(
        text.contains("kubectl annotate resourcequota -n team-b default-9xq2c harvesterhci.io/migrating-mail-02-"),
        "{text}"
    );
    assert!(
        text.contains("--type merge -p '{\"spec\":{\"hard\":{\"limits.cpu\":\"42\",\"limits.memory\":\"132Gi\"}}}'"),
        "{text}"
    );
    // A rule fix does not act on: said, with the remediation's own commands kept.
    let (_, text, _) = describe(&["image-name-collision", "team-a/ubuntu-22"]);
    assert!(
        text.contains("Fix:\n  no: `fix` does not change what this rule finds"),
        "{text}"
    );
    assert!(
        text.contains("kubectl get vmimage -n team-a ubuntu-22 -o yaml"),
        "{text}"
    );
    // Without --openstack the leak has no listing: fix plans nothing, and says why.
    let (_, text, _) = describe(&["import-openstack-leak", "migrations/erp-db"]);
    assert!(text.contains("Fix:\n  no: "), "{text}");
    assert!(fold(&text).contains("--openstack"), "{text}");
    // JSON: the finding, its fingerprint, the verdict and the commands.
    let (code, json, _) = describe(&[
        "orphaned-guest-pvc",
        "rke2-guests/pvc-153f00a9-7334-4e0d-89f6-f009691dec50",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["rule"], "orphaned-guest-pvc");
    assert_eq!(doc["fix"]["can"], "yes");
    assert_eq!(doc["fix"]["action"]["type"], "retainAndDeletePvc");
    assert_eq!(doc["fingerprint"].as_str().map(str::len), Some(16));
    assert!(doc["commands"].as_array().is_some_and(|c| c.len() >= 3), "{doc}");
    assert_eq!(doc["origin"]["file"], "examples/demo-cluster/pvcs/rke2-guests.yaml");
}

#[test]
fn describe_errors() {
    // Not a finding: exit 1, and the findings of that rule are named.
    let (code, _, err) = describe(&["image-name-collision", "team-a/jammy-daily"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no image-name-collision finding for team-a/jammy-daily") && err.contains("team-a/ubuntu-22"),
        "{err}"
    );
    let (code, _, err) = describe(&["no-such-rule", "a/b"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown rule"), "{err}");
    let (code, _, err) = describe(&["image-name-collision"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = describe(&["0123456789abcdef"]);
    assert_eq!(code, 1);
}
