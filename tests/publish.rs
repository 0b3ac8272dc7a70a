//! The report ConfigMap when the report is larger than a ConfigMap may hold (1 MiB): written
//! to the real apiserver cut to the most severe findings, with the summary still counting all of
//! them, and the fingerprints within their budget. And the PolicyReport mapping and budget.

mod common;

use harvester_hygiene::publish::{FINGERPRINTS_KEY, REPORT_KEY, write_report};
use harvester_hygiene::rules::{Finding, Severity};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde_json::Value;

/// A report of `n` findings with long messages (about 1.5 KiB each), errors first.
fn big_report(n: usize) -> harvester_hygiene::report::Report {
    let docs = vec![
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: default-q\n  namespace: ns\n  labels:\n    resourcequota.management.cattle.io/default-resource-quota: \"true\"\n  annotations:\n    harvesterhci.io/migrating-done: '{\"limits.cpu\":\"2\"}'\nspec:\n  hard:\n    limits.cpu: \"20\"\n".to_string(),
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata:\n  name: m\n  namespace: ns\nspec:\n  vmiName: done\nstatus:\n  phase: Succeeded\n".to_string(),
    ];
    let mut r = common::fixtures::run(&docs, Some("v1.6.1"));
    let seed: Finding = r.findings.first().cloned().expect("the fixture makes a finding");
    r.findings = (0..n)
        .map(|i| {
            let mut f = seed.clone();
            f.object.name = format!("quota-{i:05}");
            f.message = format!("{i} {}", "x".repeat(1500));
            f.severity = if i % 3 == 0 { Severity::Error } else { Severity::Warning };
            f
        })
        .collect();
    r.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    r.summary.total = n;
    r.summary.by_severity.insert(Severity::Error, n.div_ceil(3));
    r.summary.by_severity.insert(Severity::Warning, n - n.div_ceil(3));
    r
}

#[tokio::test]
async fn an_oversized_report_is_cut_to_fit_and_still_counts_everything() {
    let client = common::client().await;
    let ns = common::namespace("report").await;
    let n = 3000;
    let report = big_report(n);
    let full = serde_json::to_string(&report).unwrap();
    assert!(
        full.len() > 2 * 1024 * 1024,
        "the report must not fit: {} bytes",
        full.len()
    );

    write_report(&client, &ns, "hh-report", &report)
        .await
        .expect("the apiserver accepts the cut report");
    let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
        .get("hh-report")
        .await
        .unwrap();
    let data = cm.data.unwrap();
    let stored = &data[REPORT_KEY];
    assert!(stored.len() <= 700 * 1024, "{} bytes", stored.len());
    let doc: Value = serde_json::from_str(stored).expect("the cut report is JSON");
    let kept = doc["findings"].as_array().unwrap();
    assert!(!kept.is_empty() && kept.len() < n, "kept {}", kept.len());
    assert_eq!(doc["truncated"]["findingsKept"], kept.len());
    assert_eq!(doc["truncated"]["findingsTotal"], n);
    assert_eq!(doc["summary"]["total"], n, "the summary counts every finding");
    // The most severe come first: every kept error precedes every kept warning, and the errors
    // (a third) are all kept before any warning is.
    let sev: Vec<&str> = kept.iter().map(|f| f["severity"].as_str().unwrap()).collect();
    let first_warning = sev.iter().position(|s| *s == "warning").unwrap_or(sev.len());
    assert!(sev[first_warning..].iter().all(|s| *s == "warning"), "{sev:?}");
    // Labels still count all of them.
    let labels = cm.metadata.labels.unwrap();
    assert_eq!(labels["harvester-hygiene.io/errors"], (n.div_ceil(3)).to_string());
    let fps: serde_json::Map<String, Value> = serde_json::from_str(&data[FINGERPRINTS_KEY]).unwrap();
    assert!(!fps.is_empty() && data[FINGERPRINTS_KEY].len() <= 250 * 1024);

    // The next run reads those fingerprints back as the previous findings.
    let previous = write_report(&client, &ns, "hh-report", &big_report(10)).await.unwrap();
    assert_eq!(previous.len(), fps.len());
}

/// The PolicyReport mapping: error/warning -> fail high/medium (scored), info -> warn low (not
/// scored), exempted -> skip, a rule skipped for missing input -> error in the cluster report;
/// the summary counts the results.
#[test]
fn policy_report_results_follow_the_mapping() {
    use harvester_hygiene::publish::policy_reports::{WGPOLICY, document, results};
    use harvester_hygiene::report::{Cluster, Exempted, RuleStatus};
    let mut r = big_report(3);
    assert_eq!(r.findings.len(), 3);
    r.findings[2].severity = Severity::Info;
    let exempt = r.findings[1].clone();
    r.exempted.push(Exempted {
        finding: exempt,
        reason: "planned".into(),
    });
    let skipped: Vec<String> = r
        .rules
        .iter()
        .filter(|run| run.status == RuleStatus::Skipped)
        .map(|run| run.id.clone())
        .collect();
    assert!(!skipped.is_empty(), "the fixture has rules without input");
    let cluster = Cluster::new(Some("c1"), None, Some("uid-1".into()));
    let by_scope = results(&r, &cluster);
    let ns = &by_scope[&Some("ns".to_string())];
    let grades: Vec<(&str, &str, bool)> = ns
        .iter()
        .map(|v| {
            (
                v["result"].as_str().unwrap(),
                v["severity"].as_str().unwrap(),
                v["scored"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        grades,
        [
            ("fail", "high", true),
            ("fail", "medium", true),
            ("warn", "low", false),
            ("skip", "medium", false)
        ]
    );
    assert!(
        ns.iter()
            .all(|v| v["source"] == "harvester-hygiene" && v["policy"] == "migration-annotation-stale")
    );
    assert_eq!(ns[3]["message"], "exempted: planned");
    assert_eq!(ns[0]["properties"]["clusterUID"], "uid-1");
    let cl = &by_scope[&None];
    assert_eq!(cl.len(), skipped.len());
    assert!(
        cl.iter()
            .all(|v| v["result"] == "error" && v["message"].as_str().unwrap().starts_with("rule not run"))
    );
    let (doc, cut) = document(&WGPOLICY, Some("ns"), ns.clone(), &r, &cluster);
    assert_eq!(cut, 0);
    let v = serde_json::to_value(&doc).unwrap();
    assert_eq!(v["kind"], "PolicyReport");
    assert_eq!(
        v["summary"],
        serde_json::json!({"pass": 0, "fail": 2, "warn": 1, "error": 0, "skip": 1})
    );
    assert_eq!(v["metadata"]["labels"]["harvester-hygiene.io/cluster"], "c1");

    // A namespace with more results than fit: cut, most severe first, and counted.
    let many = big_report(2000);
    let by_scope = results(&many, &cluster);
    let (doc, cut) = document(
        &WGPOLICY,
        Some("ns"),
        by_scope[&Some("ns".to_string())].clone(),
        &many,
        &cluster,
    );
    assert!(cut > 0, "2000 findings of 1.5 KiB do not fit in 1 MiB");
    let v = serde_json::to_value(&doc).unwrap();
    assert!(v.to_string().len() < 1536 * 1024);
    assert_eq!(v["results"].as_array().unwrap().len() + cut, 2000);
}
