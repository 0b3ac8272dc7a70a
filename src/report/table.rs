//! Human tables: findings grouped by rule, one row each, the message wrapped in its column;
//! `wide` adds the uid, related objects and each finding's remediation. Colour only when
//! the caller says so (a terminal without NO_COLOR).

use std::io::{self, Write};

use owo_colors::OwoColorize;

use super::{Report, RuleStatus, SourceKind};
use crate::finding::{Finding, Severity};

fn width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 60)
        .unwrap_or(140)
}

fn paint(text: &str, sev: Severity, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    match sev {
        Severity::Error => text.red().bold().to_string(),
        Severity::Warning => text.yellow().to_string(),
        Severity::Info => text.cyan().to_string(),
    }
}

fn bold(text: &str, color: bool) -> String {
    if color {
        text.bold().to_string()
    } else {
        text.to_string()
    }
}

/// Greedy word wrap.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(20);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn object_cell(f: &Finding) -> String {
    format!("{}/{}", f.object.kind, f.object.name)
}

pub fn render(report: &Report, wide: bool, color: bool, out: &mut dyn Write) -> io::Result<()> {
    let total_width = width();
    let version = match &report.harvester_version {
        Some(v) => v.clone(),
        None => "unknown".to_string(),
    };
    let source = match report.source.kind {
        SourceKind::Live => format!("cluster {}", report.source.server.as_deref().unwrap_or("?")),
        SourceKind::Files => format!("files {}", report.source.paths.join(", ")),
    };
    writeln!(
        out,
        "{} Harvester {version} · {source}{} · {} objects",
        bold("harvester-hygiene", color),
        report
            .source
            .namespace
            .as_ref()
            .map(|n| format!(" · namespace {n}"))
            .unwrap_or_default(),
        report.summary.objects_scanned
    )?;

    let ns_w = report
        .findings
        .iter()
        .map(|f| f.object.namespace.as_deref().unwrap_or("").len())
        .max()
        .unwrap_or(0)
        .max("NAMESPACE".len());
    let obj_w = report
        .findings
        .iter()
        .map(|f| object_cell(f).len())
        .max()
        .unwrap_or(0)
        .max("OBJECT".len());
    let uid_w = if wide { 36 } else { 0 };
    let sev_w = "SEVERITY".len();
    let fixed = sev_w + 2 + ns_w + 2 + obj_w + 2 + if wide { uid_w + 2 } else { 0 };
    let msg_w = total_width.saturating_sub(fixed).max(40);

    for run in &report.rules {
        let findings: Vec<&Finding> = report.findings.iter().filter(|f| f.rule == run.id).collect();
        if findings.is_empty() && matches!(run.status, RuleStatus::Complete | RuleStatus::Disabled) {
            continue;
        }
        writeln!(out)?;
        let status = match run.status {
            RuleStatus::Complete => String::new(),
            RuleStatus::Partial => " (partial: some inputs were missing)".to_string(),
            RuleStatus::Skipped => " (skipped)".to_string(),
            RuleStatus::Disabled => " (disabled)".to_string(),
        };
        writeln!(out, "{} · {}{status}", bold(&run.id, color), run.summary)?;
        for note in &run.notes {
            writeln!(out, "  note: {note}")?;
        }
        if findings.is_empty() {
            continue;
        }
        let mut header = format!("{:<sev_w$}  {:<ns_w$}  {:<obj_w$}  ", "SEVERITY", "NAMESPACE", "OBJECT");
        if wide {
            header.push_str(&format!("{:<uid_w$}  ", "UID"));
        }
        header.push_str("MESSAGE");
        writeln!(out, "{header}")?;
        let indent = " ".repeat(fixed);
        for f in &findings {
            let lines = wrap(&f.message, msg_w);
            let sev = paint(&format!("{:<sev_w$}", f.severity.as_str()), f.severity, color);
            let mut row = format!(
                "{sev}  {:<ns_w$}  {:<obj_w$}  ",
                f.object.namespace.as_deref().unwrap_or("-"),
                object_cell(f)
            );
            if wide {
                row.push_str(&format!("{:<uid_w$}  ", f.object.uid.as_deref().unwrap_or("-")));
            }
            row.push_str(lines.first().map_or("", String::as_str));
            writeln!(out, "{row}")?;
            for l in &lines[1..] {
                writeln!(out, "{indent}{l}")?;
            }
            if wide {
                // Related objects and the remediation use the full width under the row.
                let extra_w = total_width.saturating_sub(4);
                let mut facts = format!("confidence: {}", f.confidence);
                if !f.evidence.is_empty() {
                    facts.push_str(&format!("; evidence: {}", f.evidence.join(", ")));
                }
                if let Some(b) = f.reclaimable_bytes {
                    facts.push_str(&format!("; frees {}", crate::report::human_bytes(b)));
                }
                for l in wrap(&facts, extra_w) {
                    writeln!(out, "    {l}")?;
                }
                if !f.related.is_empty() {
                    let rel: Vec<String> = f.related.iter().map(|r| format!("{}/{}", r.kind, r.key())).collect();
                    for l in wrap(&format!("related: {}", rel.join(", ")), extra_w) {
                        writeln!(out, "    {l}")?;
                    }
                }
                for l in wrap(&format!("fix: {}", f.remediation), extra_w) {
                    writeln!(out, "    {l}")?;
                }
            }
        }
        if !wide {
            let mut fixes: Vec<&str> = findings.iter().map(|f| f.remediation.as_str()).collect();
            fixes.dedup();
            if fixes.len() == 1 {
                for (i, l) in wrap(fixes[0], total_width.saturating_sub(7)).iter().enumerate() {
                    writeln!(out, "{}{l}", if i == 0 { "  fix: " } else { "       " })?;
                }
            } else {
                writeln!(out, "  fix: differs per object; see -o wide")?;
            }
        }
    }

    writeln!(out)?;
    let s = &report.summary;
    if s.total == 0 {
        writeln!(out, "No problems found.")?;
    } else {
        let mut parts = Vec::new();
        for sev in [Severity::Error, Severity::Warning, Severity::Info] {
            let n = s.by_severity.get(&sev).copied().unwrap_or(0);
            if n > 0 {
                let word = match (sev, n) {
                    (Severity::Error, 1) => "error",
                    (Severity::Error, _) => "errors",
                    (Severity::Warning, 1) => "warning",
                    (Severity::Warning, _) => "warnings",
                    (Severity::Info, _) => "info",
                };
                parts.push(paint(&format!("{n} {word}"), sev, color));
            }
        }
        let frees = if s.reclaimable_bytes > 0 {
            format!(
                " · fixing would free {}",
                crate::report::human_bytes(s.reclaimable_bytes)
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "{} {}: {}{frees}",
            s.total,
            if s.total == 1 { "finding" } else { "findings" },
            parts.join(", ")
        )?;
    }
    if let Some(actions) = &report.actions {
        render_actions(actions, report, total_width, color, out)?;
    }
    for gap in &report.incomplete {
        let ns = gap.namespace.as_ref().map(|n| format!(" in {n}")).unwrap_or_default();
        let rules = if gap.rules.is_empty() {
            String::new()
        } else {
            format!(" (limits {})", gap.rules.join(", "))
        };
        writeln!(out, "incomplete: {}{ns}: {}{rules}", gap.kind, gap.message)?;
    }
    for e in &report.input_errors {
        let doc = e.document.map(|d| format!(" document {d}")).unwrap_or_default();
        let obj = e.object.as_ref().map(|o| format!(" {o}")).unwrap_or_default();
        writeln!(out, "skipped: {}{doc}{obj}: {}", e.source, e.reason)?;
    }
    Ok(())
}

fn render_actions(
    actions: &[crate::report::ActionRow],
    report: &Report,
    total_width: usize,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    use crate::report::ActionStatus as Status;
    writeln!(out)?;
    writeln!(out, "{}", bold("Actions", color))?;
    if actions.is_empty() {
        writeln!(out, "Nothing to fix automatically.")?;
    } else {
        let st_w = actions
            .iter()
            .map(|a| format!("{:?}", a.status).len() + 2)
            .max()
            .unwrap_or(8)
            .max("STATUS".len());
        writeln!(out, "{:<3}  {:<st_w$}  WHAT", "ID", "STATUS")?;
        for a in actions {
            let status = serde_json::to_value(a.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let sev = match a.status {
                Status::Failed => Severity::Error,
                Status::Skipped | Status::Declined => Severity::Warning,
                _ => Severity::Info,
            };
            let lines = wrap(&a.description, total_width.saturating_sub(st_w + 7));
            writeln!(
                out,
                "{:<3}  {}  {}",
                a.id,
                paint(&format!("{status:<st_w$}"), sev, color),
                lines[0]
            )?;
            let indent = " ".repeat(st_w + 7);
            for l in &lines[1..] {
                writeln!(out, "{indent}{l}")?;
            }
            if !a.detail.is_empty() {
                for l in wrap(&a.detail, total_width.saturating_sub(st_w + 9)) {
                    writeln!(out, "{indent}  {l}")?;
                }
            }
        }
    }
    let manual = report
        .findings
        .iter()
        .filter(|f| !report.rules.iter().any(|r| r.id == f.rule && r.fixable))
        .count();
    if manual > 0 {
        writeln!(out, "{manual} finding(s) need a manual fix: see the fix: lines above.")?;
    }
    if actions.iter().all(|a| a.status == Status::Planned) && !actions.is_empty() {
        writeln!(
            out,
            "Nothing was changed. Test with --dry-run=server, then run with --apply."
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_on_words() {
        assert_eq!(wrap("aaa bbb ccc", 20), vec!["aaa bbb ccc"]);
        let w = wrap(&"word ".repeat(30), 20);
        assert!(w.iter().all(|l| l.len() <= 20));
        assert_eq!(w.join(" "), "word ".repeat(30).trim());
        assert_eq!(wrap("", 20), vec![""]);
    }
}
