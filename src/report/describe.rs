//! `describe`: one finding printed the way `kubectl describe` prints an object: who it is about,
//! the whole message, the evidence, related objects, the remediation, the exact commands, and
//! whether `fix` can do it.
//!
//! Plain data in: the finding, its rule's row of the report, and what `fix` would plan for it as
//! the report's `actions[].action` document (`{"type": "retainAndDeletePvc", …}`), so the report
//! does not depend on the remedy.

use std::io::{self, Write};

use serde::Serialize;

use super::RuleRun;
use super::table::{short_kind, wrap};
use super::term::Terminal;
use crate::finding::{Finding, fingerprint};

/// What `fix` would do about a finding.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase", tag = "can")]
pub enum FixVerdict {
    /// `fix` plans this action (the report's `actions[].action` document).
    #[serde(rename = "yes")]
    Yes {
        description: String,
        action: serde_json::Value,
    },
    /// `fix` leaves it (manual remediation, or the action's reason for not acting).
    #[serde(rename = "no")]
    No { reason: String },
}

/// Everything `describe` prints about one finding.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Description {
    pub fingerprint: String,
    #[serde(flatten)]
    pub finding: Finding,
    #[serde(skip)]
    pub rule: Option<RuleRun>,
    pub fix: FixVerdict,
    /// The commands that carry out (or check) the remediation, for this object.
    pub commands: Vec<String>,
}

impl Description {
    pub fn new(finding: Finding, rule: Option<RuleRun>, fix: FixVerdict) -> Self {
        let commands = commands(&finding, &fix);
        Description {
            fingerprint: fingerprint(&finding),
            finding,
            rule,
            fix,
            commands,
        }
    }
}

fn ns_flag(f: &Finding) -> String {
    f.object
        .namespace
        .as_ref()
        .map(|n| format!(" -n {n}"))
        .unwrap_or_default()
}

/// A JSON value in single quotes for a shell (JSON has no single quotes of its own unless in a
/// string, which is then closed and escaped).
fn shell_json(v: &serde_json::Value) -> String {
    format!("'{}'", v.to_string().replace('\'', r"'\''"))
}

/// The exact commands for `f`: inspect the object, the commands its remediation spells out, and
/// the steps of the action `fix` would take (so it can be done by hand, or checked).
pub fn commands(f: &Finding, fix: &FixVerdict) -> Vec<String> {
    let mut out = Vec::new();
    let ns = ns_flag(f);
    let obj = &f.object;
    let is_k8s = !obj.api_version.is_empty() && !obj.kind.starts_with("Glance") && !obj.kind.starts_with("Cinder");
    if is_k8s {
        out.push(format!(
            "kubectl get {}{ns} {} -o yaml",
            short_kind(&obj.kind),
            obj.name
        ));
    }
    // Commands the rule wrote into its text, in backquotes.
    for text in [&f.remediation, &f.message] {
        for (i, part) in text.split('`').enumerate() {
            let part = part.trim();
            if i % 2 == 1 && part.starts_with("kubectl ") && !part.starts_with("kubectl harvester-hygiene") {
                let cmd = part.to_string();
                if !out.contains(&cmd) {
                    out.push(cmd);
                }
            }
        }
    }
    if let FixVerdict::Yes { action, .. } = fix {
        let s = |k: &str| action.get(k).and_then(|v| v.as_str()).map(str::to_string);
        match action.get("type").and_then(|t| t.as_str()).unwrap_or("") {
            "retainAndDeletePvc" => {
                if let Some(pv) = s("persistentVolume") {
                    out.push(format!(
                        "kubectl patch pv {pv} -p '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}'"
                    ));
                }
                out.push(format!("kubectl delete pvc{ns} {}", obj.name));
            }
            "removeQuotaAnnotation" => {
                if let Some(key) = s("key") {
                    out.push(format!("kubectl annotate resourcequota{ns} {} {key}-", obj.name));
                }
                if let Some(hard) = action
                    .get("setHard")
                    .filter(|h| h.as_object().is_some_and(|m| !m.is_empty()))
                {
                    let patch = serde_json::json!({"spec": {"hard": hard}});
                    out.push(format!(
                        "kubectl patch resourcequota{ns} {} --type merge -p {}",
                        obj.name,
                        shell_json(&patch)
                    ));
                }
            }
            "deleteOpenstackResources" => {
                for r in action.get("resources").and_then(|r| r.as_array()).into_iter().flatten() {
                    let id = r.get("id").and_then(|v| v.as_str()).unwrap_or("");
                    let cmd = match r.get("kind").and_then(|v| v.as_str()).unwrap_or("") {
                        "image" => "openstack image delete",
                        "volume" => "openstack volume delete",
                        "snapshot" => "openstack volume snapshot delete",
                        _ => continue,
                    };
                    if !id.is_empty() {
                        out.push(format!("{cmd} {id}"));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn field(out: &mut dyn Write, term: Terminal, name: &str, value: &str) -> io::Result<()> {
    writeln!(out, "{} {value}", term.bold(&format!("{:<13}", format!("{name}:"))))
}

fn section(out: &mut dyn Write, term: Terminal, name: &str, lines: &[String]) -> io::Result<()> {
    writeln!(out, "{}", term.bold(&format!("{name}:")))?;
    if lines.is_empty() {
        writeln!(out, "  <none>")?;
    }
    for l in lines {
        writeln!(out, "  {l}")?;
    }
    Ok(())
}

/// Print `d` for `term`.
pub fn render(d: &Description, term: Terminal, out: &mut dyn Write) -> io::Result<()> {
    let f = &d.finding;
    let w = term.width.saturating_sub(2);
    field(out, term, "Name", &f.object.name)?;
    field(
        out,
        term,
        "Namespace",
        f.object.namespace.as_deref().unwrap_or("<none>"),
    )?;
    field(
        out,
        term,
        "Kind",
        &format!("{} ({})", f.object.kind, f.object.api_version),
    )?;
    if let Some(uid) = &f.object.uid {
        field(out, term, "UID", uid)?;
    }
    let rule = match &d.rule {
        Some(r) => format!("{} · {}", f.rule, r.summary),
        None => f.rule.clone(),
    };
    field(out, term, "Rule", &rule)?;
    field(out, term, "Severity", &term.severity(f.severity.as_str(), f.severity))?;
    field(out, term, "Confidence", f.confidence.as_str())?;
    field(out, term, "Fingerprint", &d.fingerprint)?;
    field(out, term, "Title", &f.headline())?;
    if let Some(b) = f.reclaimable_bytes {
        field(out, term, "Frees", &crate::report::human_bytes(b))?;
    }
    if let Some(o) = &f.origin {
        field(out, term, "Read from", &o.to_string())?;
    }
    section(out, term, "Message", &wrap(&f.message, w))?;
    section(out, term, "Evidence", &f.evidence)?;
    let related: Vec<String> = f
        .related
        .iter()
        .map(|r| {
            let extra: Vec<String> = r.details.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!(" ({})", extra.join(", "))
            };
            format!("{} {}{extra}", r.kind, r.key())
        })
        .collect();
    section(out, term, "Related", &related)?;
    section(out, term, "Remediation", &wrap(&f.remediation, w))?;
    section(out, term, "Commands", &d.commands)?;
    let fix = match &d.fix {
        FixVerdict::Yes { description, .. } => format!(
            "yes: {description}. On the live cluster `kubectl harvester-hygiene fix` plans it, --dry-run=server \
             tests it and --apply does it, with preconditions and a backup."
        ),
        FixVerdict::No { reason } => format!("no: {reason}"),
    };
    section(out, term, "Fix", &wrap(&fix, w))?;
    if !f.details.is_empty() {
        let details: Vec<String> = f.details.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        section(out, term, "Details", &details)?;
    }
    Ok(())
}
