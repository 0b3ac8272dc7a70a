//! `-o sarif`: the report as a SARIF 2.1.0 log (OASIS `sarif-schema-2.1.0.json`), for code
//! scanning UIs and CI. One `rules` entry per rule that ran (summary, why, remediation, upstream
//! links), one result per finding with the logical location `namespace/kind/name` and, for
//! objects read with `--from`, the file as physical location.

use serde_json::{Value, json};

use super::{RenderOptions, Report, RuleHelp};
use crate::finding::{Finding, Severity, fingerprint};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const VERSION: &str = "2.1.0";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A link for an upstream reference as the rules write them: `owner/repo#123 …` is an issue or
/// pull request, `owner/repo path/to/file.go …` a file on the default branch, `owner/repo …` the
/// repository. Anything else has no link.
pub fn upstream_link(reference: &str) -> Option<String> {
    let first = reference.split_whitespace().next()?;
    let (repo, number) = match first.split_once('#') {
        Some((repo, n)) => (repo, Some(n)),
        None => (first, None),
    };
    let mut parts = repo.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if parts.next().is_some() || !ok(owner) || !ok(name) {
        return None;
    }
    let base = format!("https://github.com/{owner}/{name}");
    if let Some(n) = number {
        return n
            .chars()
            .all(|c| c.is_ascii_digit())
            .then(|| format!("{base}/issues/{n}"));
    }
    match reference.split_whitespace().nth(1) {
        Some(path) if path.contains('/') || path.contains('.') => {
            let path = path.trim_end_matches([',', ';', ')']);
            Some(format!("{base}/blob/HEAD/{path}"))
        }
        _ => Some(base),
    }
}

/// A relative URI reference for a file path (`bundle.zip!member` kept): characters outside the
/// URI's unreserved set and `/!:@` are percent-encoded.
fn uri_of(path: &str) -> String {
    let mut out = String::new();
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn rule_entry(id: &str, help: Option<&RuleHelp>, fallback_summary: &str, severity: Severity) -> Value {
    let summary = help.map_or(fallback_summary, |h| h.summary.as_str());
    let mut rule = json!({
        "id": id,
        "name": id.split('-').map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        }).collect::<String>(),
        "shortDescription": {"text": summary},
        "defaultConfiguration": {"level": level(severity)},
    });
    if let Some(h) = help {
        let links: Vec<(String, Option<String>)> = h.upstream.iter().map(|u| (u.clone(), upstream_link(u))).collect();
        let mut text = format!("{}\n\nRemediation: {}", h.why, h.remediation);
        let mut md = format!("{}\n\n**Remediation:** {}", h.why, h.remediation);
        if !links.is_empty() {
            text.push_str("\n\nUpstream:");
            md.push_str("\n\n**Upstream:**");
            for (u, l) in &links {
                match l {
                    Some(l) => {
                        text.push_str(&format!("\n- {u}: {l}"));
                        md.push_str(&format!("\n- [{u}]({l})"));
                    }
                    None => {
                        text.push_str(&format!("\n- {u}"));
                        md.push_str(&format!("\n- {u}"));
                    }
                }
            }
        }
        rule["fullDescription"] = json!({"text": h.why});
        rule["help"] = json!({"text": text, "markdown": md});
        if let Some(first) = links.iter().find_map(|(_, l)| l.clone()) {
            rule["helpUri"] = json!(first);
        }
        rule["properties"] = json!({
            "upstream": links.iter().filter_map(|(_, l)| l.clone()).collect::<Vec<_>>(),
            "tags": ["harvester", "kubernetes"],
        });
    }
    rule
}

/// The SARIF log of `report`.
/// `-o sarif`.
pub const FORMAT: super::FormatSpec = super::FormatSpec {
    name: "sarif",
    render: |r, o, out| {
        serde_json::to_writer_pretty(&mut *out, &document(r, o))
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    },
};

/// One finding as a SARIF result; `ids` are the rules in the order of `tool.driver.rules`.
fn sarif_result(f: &Finding, ids: &[&str]) -> Value {
    let o = &f.object;
    let fqn = format!("{}/{}/{}", o.namespace.as_deref().unwrap_or(""), o.kind, o.name);
    let mut location = json!({
        "logicalLocations": [{
            "name": o.name,
            "fullyQualifiedName": fqn,
            "kind": "resource",
            "properties": {"apiVersion": o.api_version, "kind": o.kind, "namespace": o.namespace, "uid": o.uid},
        }],
    });
    if let Some(origin) = &f.origin {
        let file = origin.file.split('!').next().unwrap_or(&origin.file);
        location["physicalLocation"] = json!({
            "artifactLocation": {"uri": uri_of(file)},
            "properties": {"member": origin.file.split_once('!').map(|(_, m)| m), "document": origin.document, "item": origin.item},
        });
        if let Some(line) = origin.line {
            location["physicalLocation"]["region"] = json!({"startLine": line});
        }
    }
    let mut result = json!({
        "ruleId": f.rule,
        "level": level(f.severity),
        "message": {"text": format!("{}\n\n{}", f.headline(), f.message)},
        "locations": [location],
        "partialFingerprints": {"harvesterHygiene/v1": fingerprint(f)},
        "properties": {
            "title": f.headline(),
            "confidence": f.confidence,
            "evidence": f.evidence,
            "remediation": f.remediation,
            "reclaimableBytes": f.reclaimable_bytes,
            "related": f.related.iter().map(|r| format!("{}/{}/{}", r.namespace.as_deref().unwrap_or(""), r.kind, r.name)).collect::<Vec<_>>(),
        },
    });
    if let Some(i) = ids.iter().position(|id| *id == f.rule) {
        result["ruleIndex"] = json!(i);
    }
    result
}

pub fn document(report: &Report, opts: &RenderOptions) -> Value {
    let ids: Vec<&str> = report.rules.iter().map(|r| r.id.as_str()).collect();
    let rules: Vec<Value> = report
        .rules
        .iter()
        .map(|r| rule_entry(&r.id, opts.rules.iter().find(|h| h.id == r.id), &r.summary, r.severity))
        .collect();
    let results: Vec<Value> = report.findings.iter().map(|f| sarif_result(f, &ids)).collect();
    let notifications: Vec<Value> = report
        .incomplete
        .iter()
        .map(|g| {
            json!({
                "level": "warning",
                "message": {"text": format!("incomplete: {}: {} (limits {})", g.kind, g.message, g.rules.join(", "))},
                "descriptor": {"id": serde_json::to_value(g.reason).unwrap_or_default()},
            })
        })
        .chain(report.input_errors.iter().map(|e| {
            json!({
                "level": "warning",
                "message": {"text": format!("skipped {}: {}", e.source, e.reason)},
                "descriptor": {"id": "input-error"},
            })
        }))
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": "harvester-hygiene",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": !report.summary.incomplete,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
            "properties": {
                "harvesterVersion": report.harvester_version,
                "source": report.source,
                "summary": report.summary,
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_references_become_links() {
        assert_eq!(
            upstream_link("harvester/harvester#5165").as_deref(),
            Some("https://github.com/harvester/harvester/issues/5165")
        );
        assert_eq!(
            upstream_link("rancher/rancher#47870 (pkg/x.go)").as_deref(),
            Some("https://github.com/rancher/rancher/issues/47870")
        );
        assert_eq!(
            upstream_link("harvester/harvester pkg/util/image.go").as_deref(),
            Some("https://github.com/harvester/harvester/blob/HEAD/pkg/util/image.go")
        );
        assert_eq!(
            upstream_link("harvester/docker-machine-driver-harvester (VM labels)").as_deref(),
            Some("https://github.com/harvester/docker-machine-driver-harvester")
        );
        assert_eq!(upstream_link("KubeVirt docs"), None);
        assert_eq!(uri_of("a b/c.yaml"), "a%20b/c.yaml");
    }
}
