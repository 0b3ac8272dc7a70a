//! Human tables (`-o table`, `-o wide`).
//!
//! `table`: one line per finding (level, namespace, kind/name, title), grouped under one header
//! line per rule; columns fit the terminal's width, long names are shortened in the middle and
//! long titles at the end, nothing wraps. Then the rules without findings (one line when there
//! are at most three, else a table with their checked counts), the totals, the
//! coverage gaps in one or two lines, and what to do next. `wide` keeps every detail under each
//! finding (message, confidence, evidence, related objects, remediation) and lists every gap and
//! input error. Colour only when the [`Terminal`] allows it.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::term::Terminal;
use super::{Gap, Report, RuleRun, RuleStatus, SourceKind};
use crate::finding::{Confidence, Finding, Severity, shorten_end};

/// The plugin's name as users type it, for the hints.
const CMD: &str = "kubectl harvester-hygiene";

/// Greedy word wrap (for `-o wide` paragraphs).
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
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

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `text` at most `max` characters, cut in the middle (`ci-runner-ubu…rack07-slot14a`): both
/// ends of a generated name tell it apart.
pub(crate) fn shorten_middle(text: &str, max: usize) -> String {
    let n = chars(text);
    if n <= max {
        return text.to_string();
    }
    if max <= 1 {
        return "…".chars().take(max).collect();
    }
    let keep = max - 1;
    let tail = keep / 2;
    let head = keep - tail;
    let h: String = text.chars().take(head).collect();
    let t: String = text.chars().skip(n - tail).collect();
    format!("{h}…{t}")
}

/// Left-align `text` in `w` columns (by characters, not bytes).
fn pad(text: &str, w: usize) -> String {
    let n = chars(text);
    if n >= w {
        text.to_string()
    } else {
        format!("{text}{}", " ".repeat(w - n))
    }
}

fn pad_left(text: &str, w: usize) -> String {
    let n = chars(text);
    if n >= w {
        text.to_string()
    } else {
        format!("{}{text}", " ".repeat(w - n))
    }
}

/// The level as the table prints it (`warn` keeps the column narrow).
fn level(sev: Severity) -> &'static str {
    match sev {
        Severity::Error => "error",
        Severity::Warning => "warn",
        Severity::Info => "info",
    }
}

const LEVEL_W: usize = 5;
const GAP: usize = 2;

/// kubectl's short name of a kind (what `kubectl get` accepts), else the kind in lower case.
pub(crate) fn short_kind(kind: &str) -> String {
    match kind {
        "VirtualMachineImage" => "vmimage".into(),
        "VirtualMachine" => "vm".into(),
        "VirtualMachineInstance" => "vmi".into(),
        "VirtualMachineInstanceMigration" => "vmim".into(),
        "PersistentVolumeClaim" => "pvc".into(),
        "PersistentVolume" => "pv".into(),
        "ResourceQuota" => "quota".into(),
        "StorageClass" => "sc".into(),
        "Namespace" => "ns".into(),
        "Pod" => "pod".into(),
        "BackingImage" => "lhbi".into(),
        "Volume" => "lhv".into(),
        other => other.to_ascii_lowercase(),
    }
}

fn object_cell(f: &Finding, wide: bool, with_ns: bool) -> String {
    let kind = if wide {
        f.object.kind.clone()
    } else {
        short_kind(&f.object.kind)
    };
    match (&f.object.namespace, with_ns) {
        (Some(ns), true) => format!("{ns}/{kind}/{}", f.object.name),
        _ => format!("{kind}/{}", f.object.name),
    }
}

/// Below this width the namespace goes into the object column (`ns/kind/name`): one padded
/// column fewer leaves the title room.
const SPLIT_NAMESPACE_FROM: usize = 100;

/// Column widths of the findings table; `ns: None` when the object column carries it.
struct Columns {
    ns: Option<usize>,
    obj: usize,
    title: usize,
}

/// Below `SPLIT_NAMESPACE_FROM` columns: no namespace column (the object cell carries it);
/// object and title shrink in turn.
fn fit_narrow(findings: &[&Finding], width: usize) -> Columns {
    let obj = findings
        .iter()
        .map(|f| chars(&object_cell(f, false, true)))
        .max()
        .unwrap_or(0)
        .max("OBJECT".len());
    let title = findings.iter().map(|f| chars(&f.headline())).max().unwrap_or(0);
    let avail = width.saturating_sub(LEVEL_W + 2 * GAP);
    let mut c = Columns {
        ns: None,
        obj,
        title: title.max("TITLE".len()),
    };
    let mut excess = (c.obj + c.title).saturating_sub(avail);
    for (w, floor) in [(0, 32), (1, 40), (0, 24), (1, 16), (0, 12)] {
        let w = if w == 0 { &mut c.obj } else { &mut c.title };
        let cut = w.saturating_sub(floor).min(excess);
        *w -= cut;
        excess -= cut;
    }
    c
}

/// Fit namespace, object and title into `width`: natural sizes when they fit, else shrink in
/// turn (object, title, namespace, again...) down to floors that keep each readable.
fn fit(findings: &[&Finding], width: usize, wide: bool) -> Columns {
    if !wide && width < SPLIT_NAMESPACE_FROM {
        return fit_narrow(findings, width);
    }
    let ns = findings
        .iter()
        .map(|f| chars(f.object.namespace.as_deref().unwrap_or("-")))
        .max()
        .unwrap_or(0)
        .max("NAMESPACE".len());
    let obj = findings
        .iter()
        .map(|f| chars(&object_cell(f, wide, false)))
        .max()
        .unwrap_or(0)
        .max("OBJECT".len());
    let title = findings
        .iter()
        .map(|f| chars(&f.headline()))
        .max()
        .unwrap_or(0)
        .max("TITLE".len());
    struct Natural {
        ns: usize,
        obj: usize,
        title: usize,
    }
    let mut c = Natural { ns, obj, title };
    if wide {
        return Columns {
            ns: Some(c.ns),
            obj: c.obj,
            title: c.title,
        };
    }
    let avail = width.saturating_sub(LEVEL_W + 3 * GAP);
    let mut excess = (c.ns + c.obj + c.title).saturating_sub(avail);
    #[derive(Clone, Copy)]
    enum Col {
        Ns,
        Obj,
        Title,
    }
    for (col, floor) in [
        (Col::Obj, 40),
        (Col::Title, 50),
        (Col::Ns, 12),
        (Col::Obj, 24),
        (Col::Title, 30),
        (Col::Ns, 9),
        (Col::Obj, 16),
        (Col::Title, 12),
    ] {
        if excess == 0 {
            break;
        }
        let w = match col {
            Col::Ns => &mut c.ns,
            Col::Obj => &mut c.obj,
            Col::Title => &mut c.title,
        };
        let cut = w.saturating_sub(floor).min(excess);
        *w -= cut;
        excess -= cut;
    }
    Columns {
        ns: Some(c.ns),
        obj: c.obj,
        title: c.title,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn status_word(s: RuleStatus) -> &'static str {
    match s {
        RuleStatus::Complete => "complete",
        RuleStatus::Partial => "partial",
        RuleStatus::Skipped => "skipped",
        RuleStatus::Disabled => "disabled",
    }
}

/// `-o table`: the findings table, fitted to the terminal.
pub const TABLE: super::FormatSpec = super::FormatSpec {
    name: "table",
    render: |r, o, out| render(r, false, o.term, out),
};

/// `-o wide`: the table with every column.
pub const WIDE: super::FormatSpec = super::FormatSpec {
    name: "wide",
    render: |r, o, out| render(r, true, o.term, out),
};

/// The first line: the tool (in bold), the Harvester version, the source and its size.
fn banner(report: &Report, width: usize, wide: bool, term: Terminal) -> String {
    let version = report.harvester_version.clone().unwrap_or_else(|| "unknown".into());
    let source = match report.source.kind {
        SourceKind::Live => format!("cluster {}", report.source.server.as_deref().unwrap_or("?")),
        SourceKind::Files => format!("files {}", report.source.paths.join(", ")),
    };
    let ns = report
        .source
        .namespace
        .as_ref()
        .map(|n| format!(" · namespace {n}"))
        .unwrap_or_default();
    let banner = format!(
        "harvester-hygiene · Harvester {version} · {source}{ns} · {} objects",
        report.summary.objects_scanned
    );
    let banner = if wide { banner } else { shorten_end(&banner, width) };
    // Bold the tool's name only.
    match banner.strip_prefix("harvester-hygiene") {
        Some(rest) => format!("{}{rest}", term.bold("harvester-hygiene")),
        None => banner,
    }
}

pub fn render(report: &Report, wide: bool, term: Terminal, out: &mut dyn Write) -> io::Result<()> {
    let width = term.width;
    writeln!(out, "{}", banner(report, width, wide, term))?;

    let all: Vec<&Finding> = report.findings.iter().collect();
    if !all.is_empty() {
        let cols = fit(&all, width, wide);
        writeln!(out)?;
        let ns_head = cols
            .ns
            .map(|w| format!("{}  ", pad("NAMESPACE", w)))
            .unwrap_or_default();
        writeln!(
            out,
            "{}",
            term.dim(&format!(
                "{}  {ns_head}{}  TITLE",
                pad("LEVEL", LEVEL_W),
                pad("OBJECT", cols.obj)
            ))
        )?;
        for run in &report.rules {
            let findings: Vec<&Finding> = all.iter().copied().filter(|f| f.rule == run.id).collect();
            if findings.is_empty() {
                continue;
            }
            let frees = findings
                .iter()
                .filter_map(|f| f.reclaimable_bytes)
                .fold(0u64, u64::saturating_add);
            rule_header(run, findings.len(), frees, term, wide, out)?;
            for f in &findings {
                row(f, &cols, term, wide, out)?;
                if wide {
                    details(f, width, out)?;
                }
            }
        }
        // Findings of rules the report does not list (a hand-edited or merged report).
        let orphans: Vec<&Finding> = all
            .iter()
            .copied()
            .filter(|f| !report.rules.iter().any(|r| r.id == f.rule))
            .collect();
        for f in orphans {
            row(f, &cols, term, wide, out)?;
        }
    }

    writeln!(out)?;
    if scoreboard(report, term, out)? == Scoreboard::Table {
        writeln!(out)?;
    }
    totals(report, term, out)?;
    if let Some(actions) = &report.actions {
        render_actions(actions, report, width, term, out)?;
    }
    coverage(report, width, wide, term, out)?;
    next_steps(report, width, term, out)?;
    Ok(())
}

fn rule_header(run: &RuleRun, n: usize, frees: u64, term: Terminal, wide: bool, out: &mut dyn Write) -> io::Result<()> {
    let status = match run.status {
        RuleStatus::Complete => String::new(),
        other => format!(" · {}", status_word(other)),
    };
    let frees = match frees {
        0 => String::new(),
        b => format!(" · frees {}", crate::report::human_bytes(b)),
    };
    let head = format!(
        "{} · {} · {}{status}{frees} — {}",
        run.id,
        run.severity,
        plural(n, "finding", "findings"),
        run.summary
    );
    let head = if wide { head } else { shorten_end(&head, term.width) };
    // Colour the parts: the id bold, the severity in its colour.
    let painted = match head.strip_prefix(run.id.as_str()) {
        Some(rest) => {
            let sev = format!(" · {} ·", run.severity);
            match rest.strip_prefix(&sev) {
                Some(rest2) => format!(
                    "{} · {} ·{rest2}",
                    term.bold(&run.id),
                    term.severity(run.severity.as_str(), run.severity)
                ),
                None => format!("{}{rest}", term.bold(&run.id)),
            }
        }
        None => head,
    };
    writeln!(out, "{painted}")
}

fn row(f: &Finding, cols: &Columns, term: Terminal, wide: bool, out: &mut dyn Write) -> io::Result<()> {
    let ns = f.object.namespace.as_deref().unwrap_or("-");
    let obj = object_cell(f, wide, cols.ns.is_none());
    let title = f.headline();
    let ns_cell = match cols.ns {
        Some(w) if wide => format!("{}  ", pad(ns, w)),
        Some(w) => format!("{}  ", pad(&shorten_middle(ns, w), w)),
        None => String::new(),
    };
    let (obj, title) = if wide {
        (obj, title)
    } else {
        (shorten_middle(&obj, cols.obj), shorten_end(&title, cols.title))
    };
    writeln!(
        out,
        "{}  {ns_cell}{}  {title}",
        term.severity(&pad(level(f.severity), LEVEL_W), f.severity),
        pad(&obj, cols.obj)
    )
}

/// `-o wide`: everything about one finding, under its row.
fn details(f: &Finding, width: usize, out: &mut dyn Write) -> io::Result<()> {
    let w = width.saturating_sub(4);
    let mut facts = format!("confidence: {}", f.confidence);
    if !f.evidence.is_empty() {
        facts.push_str(&format!("; evidence: {}", f.evidence.join(", ")));
    }
    if let Some(b) = f.reclaimable_bytes {
        facts.push_str(&format!("; frees {}", crate::report::human_bytes(b)));
    }
    let id = format!(
        "fingerprint {}; uid {}",
        crate::finding::fingerprint(f),
        f.object.uid.as_deref().unwrap_or("-")
    );
    let mut paragraphs = vec![f.message.clone(), facts, id];
    if !f.related.is_empty() {
        let rel: Vec<String> = f.related.iter().map(|r| format!("{}/{}", r.kind, r.key())).collect();
        paragraphs.push(format!("related: {}", rel.join(", ")));
    }
    paragraphs.push(format!("fix: {}", f.remediation));
    for p in paragraphs {
        for l in wrap(&p, w) {
            writeln!(out, "    {l}")?;
        }
    }
    Ok(())
}

/// At most this many rules without findings are listed on one line instead of a table.
const SCOREBOARD_LINE_MAX: usize = 3;

/// How [`scoreboard`] printed the rules without findings.
#[derive(Debug, PartialEq, Eq)]
enum Scoreboard {
    /// Nothing: every rule has findings.
    None,
    /// One line (wrapped to the width if needed), the totals follow it directly.
    Line,
    /// A header and one row per rule, a blank line follows.
    Table,
}

/// The rules without findings (clean, skipped or disabled): objects checked and status. Rules
/// with findings say the same in their group's header line. A few of them fit on one line
/// (`no findings: image-stuck (14 checked, partial) · backup-failed (skipped)`); more get the
/// table, so a clean cluster still shows every rule with its checked count.
fn scoreboard(report: &Report, term: Terminal, out: &mut dyn Write) -> io::Result<Scoreboard> {
    let quiet: Vec<_> = report.rules.iter().filter(|r| r.findings == 0).collect();
    if quiet.is_empty() {
        return Ok(Scoreboard::None);
    }
    if quiet.len() <= SCOREBOARD_LINE_MAX {
        let items: Vec<String> = quiet
            .iter()
            .map(|r| match r.status {
                RuleStatus::Disabled | RuleStatus::Skipped => format!("{} ({})", r.id, status_word(r.status)),
                _ => format!("{} ({} checked, {})", r.id, r.objects_checked, status_word(r.status)),
            })
            .collect();
        scoreboard_line(&items, term, out)?;
        return Ok(Scoreboard::Line);
    }
    let id_w = quiet.iter().map(|r| chars(&r.id)).max().unwrap_or(4).max(4);
    let fit = |line: String| shorten_end(&line, term.width);
    writeln!(
        out,
        "{}",
        term.dim(&fit(format!(
            "{}  CHECKED  STATUS",
            pad("RULES WITHOUT FINDINGS", id_w)
        )))
    )?;
    for r in quiet {
        let checked = match r.status {
            RuleStatus::Disabled | RuleStatus::Skipped => "-".to_string(),
            _ => r.objects_checked.to_string(),
        };
        writeln!(
            out,
            "{}",
            fit(format!(
                "{}  {}  {}",
                pad(&r.id, id_w),
                pad_left(&checked, 7),
                status_word(r.status)
            ))
        )?;
    }
    Ok(Scoreboard::Table)
}

/// `no findings: a (…) · b (…)`, wrapped between items to the terminal's width; continuation
/// lines are indented under the first item, an item wider than a line is shortened at its end.
fn scoreboard_line(items: &[String], term: Terminal, out: &mut dyn Write) -> io::Result<()> {
    const LEAD: &str = "no findings: ";
    let width = term.width;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for item in items {
        let longer = chars(LEAD)
            .saturating_add(chars(&line))
            .saturating_add(3)
            .saturating_add(chars(item));
        if !line.is_empty() && longer > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push_str(" · ");
        }
        line.push_str(item);
    }
    lines.push(line);
    for (i, l) in lines.iter().enumerate() {
        let lead = if i == 0 {
            LEAD.to_string()
        } else {
            " ".repeat(chars(LEAD))
        };
        let full = shorten_end(&format!("{lead}{l}"), width);
        match full.strip_prefix(LEAD) {
            Some(rest) => writeln!(out, "{}{rest}", term.dim(LEAD))?,
            None => writeln!(out, "{full}")?,
        }
    }
    Ok(())
}

fn totals(report: &Report, term: Terminal, out: &mut dyn Write) -> io::Result<()> {
    let s = &report.summary;
    if s.total == 0 {
        return writeln!(out, "No problems found.");
    }
    let mut parts = Vec::new();
    let mut plain = Vec::new();
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
            parts.push(term.severity(&format!("{n} {word}"), sev));
            plain.push(format!("{n} {word}"));
        }
    }
    // What `fix` can free, told apart from space held by report-only findings.
    let by_fix: u64 = report
        .findings
        .iter()
        .filter(|f| report.rules.iter().any(|r| r.id == f.rule && r.fixable))
        .filter_map(|f| f.reclaimable_bytes)
        .fold(0u64, u64::saturating_add);
    let frees = match (s.reclaimable_bytes, by_fix) {
        (0, _) => String::new(),
        (all, fix) if fix == all => format!(" · fixing would free {}", crate::report::human_bytes(all)),
        (all, 0) => format!(" · {} reclaimable by hand", crate::report::human_bytes(all)),
        (all, fix) => format!(
            " · {} reclaimable ({} by fix)",
            crate::report::human_bytes(all),
            crate::report::human_bytes(fix)
        ),
    };
    let exempted = if s.exempted > 0 {
        format!(" · {} exempted by annotation", s.exempted)
    } else {
        String::new()
    };
    let total = plural(s.total, "finding", "findings");
    let line = format!("{total}: {}{frees}{exempted}", plain.join(", "));
    if chars(&line) > term.width {
        // Counts on one line, the rest on the next: nothing is cut from the totals.
        writeln!(
            out,
            "{}",
            shorten_end(&format!("{total}: {}", parts.join(", ")), usize::MAX)
        )?;
        let rest = format!("{frees}{exempted}");
        return writeln!(out, "{}", shorten_end(rest.trim_start_matches(" · "), term.width));
    }
    writeln!(out, "{total}: {}{frees}{exempted}", parts.join(", "))
}

fn gap_phrase(g: Gap) -> &'static str {
    match g {
        Gap::Forbidden => "forbidden",
        Gap::NotFound => "not served",
        Gap::Failed => "failed",
        Gap::NotInInput => "not fully in the input",
        Gap::OutOfScope => "outside -n",
    }
}

/// Without `-o wide`: the gaps in one line (kinds by reason, the rules they limit) and a hint.
fn incomplete_summary(report: &Report, width: usize, term: Terminal, out: &mut dyn Write) -> io::Result<()> {
    let mut by_reason: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut rules: Vec<&str> = Vec::new();
    for gap in &report.incomplete {
        let what = match (&gap.name, &gap.namespace) {
            (Some(n), Some(ns)) => format!("{} {ns}/{n}", gap.kind),
            (Some(n), None) => format!("{} {n}", gap.kind),
            _ => gap.kind.clone(),
        };
        let list = by_reason.entry(gap_phrase(gap.reason)).or_default();
        if !list.contains(&what) {
            list.push(what);
        }
        for r in &gap.rules {
            if !rules.contains(&r.as_str()) {
                rules.push(r);
            }
        }
    }
    let parts: Vec<String> = by_reason
        .iter()
        .map(|(why, kinds)| format!("{} {why}", plural(kinds.len(), "kind", "kinds")))
        .collect();
    let names: Vec<&str> = by_reason.values().flatten().map(String::as_str).collect();
    let more = if names.len() > 3 {
        format!(", +{}", names.len() - 3)
    } else {
        String::new()
    };
    let names = format!(": {}{more}", names[..names.len().min(3)].join(", "));
    let active = report.rules.iter().filter(|r| r.status != RuleStatus::Disabled).count();
    let limits = if rules.is_empty() {
        String::new()
    } else if rules.len() == active && active > 1 {
        format!("; limits all {active} rules")
    } else if rules.len() > 3 && rules.len() * 2 > active {
        // Most rules: name the ones it does not limit.
        let spared: Vec<&str> = report
            .rules
            .iter()
            .filter(|r| r.status != RuleStatus::Disabled && !rules.contains(&r.id.as_str()))
            .map(|r| r.id.as_str())
            .collect();
        format!(
            "; limits {} of {active} rules (all but {})",
            rules.len(),
            spared.join(", ")
        )
    } else {
        format!("; limits {}", rules.join(", "))
    };
    let first = format!("incomplete: {}{limits}{names}", parts.join(", "));
    writeln!(out, "{}", term.severity(&shorten_end(&first, width), Severity::Warning))?;
    let mut hint = String::from("  -o wide lists each gap");
    if report.source.kind == SourceKind::Files {
        hint.push_str(&format!(
            "; scan a `{CMD} dump` (or pass --assume-complete) for full coverage"
        ));
    } else if report.summary.incomplete {
        hint.push_str("; exit code 3: the scan is not complete");
    }
    writeln!(out, "{}", term.dim(&shorten_end(&hint, width)))?;
    Ok(())
}

/// Incomplete coverage in one or two lines (`-o wide`: every entry), and unreadable input.
fn coverage(report: &Report, width: usize, wide: bool, term: Terminal, out: &mut dyn Write) -> io::Result<()> {
    if !report.incomplete.is_empty() {
        if wide {
            for gap in &report.incomplete {
                let ns = gap.namespace.as_ref().map(|n| format!(" in {n}")).unwrap_or_default();
                let name = gap.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default();
                let rules = if gap.rules.is_empty() {
                    String::new()
                } else {
                    format!(" (limits {})", gap.rules.join(", "))
                };
                writeln!(out, "incomplete: {}{name}{ns}: {}{rules}", gap.kind, gap.message)?;
            }
        } else {
            incomplete_summary(report, width, term, out)?;
        }
    }
    if !report.input_errors.is_empty() {
        if wide {
            for e in &report.input_errors {
                let doc = e.document.map(|d| format!(" document {d}")).unwrap_or_default();
                let obj = e.object.as_ref().map(|o| format!(" {o}")).unwrap_or_default();
                writeln!(out, "skipped: {}{doc}{obj}: {}", e.source, e.reason)?;
            }
        } else {
            let first = &report.input_errors[0];
            let line = format!(
                "skipped: {} that could not be read (first: {}: {}); -o wide lists them",
                plural(report.input_errors.len(), "document or object", "documents or objects"),
                first.source,
                first.reason
            );
            writeln!(out, "{}", term.severity(&shorten_end(&line, width), Severity::Warning))?;
        }
    }
    Ok(())
}

/// The last line(s): what to do next, with counts.
fn next_steps(report: &Report, width: usize, term: Terminal, out: &mut dyn Write) -> io::Result<()> {
    if report.findings.is_empty() {
        return Ok(());
    }
    let mut segments = Vec::new();
    let lead = "next: ";
    if let Some(f) = report.findings.first() {
        // A real example when it fits on the line, else the placeholders.
        let example = format!("`{CMD} describe {} {}` explains a finding", f.rule, f.object.key());
        segments.push(if chars(lead) + chars(&example) <= width {
            example
        } else {
            format!("`{CMD} describe RULE NS/NAME` explains a finding")
        });
    }
    if report.actions.is_none() {
        let fixable: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.confidence != Confidence::Possible)
            .filter(|f| report.rules.iter().any(|r| r.id == f.rule && r.fixable))
            .collect();
        if !fixable.is_empty() {
            let live = if report.source.kind == SourceKind::Files {
                " (on the live cluster)"
            } else {
                ""
            };
            segments.push(format!(
                "`{CMD} fix`{live} can fix {}",
                plural(fixable.len(), "finding", "findings")
            ));
        }
    }
    segments.push("-o wide for every detail".into());
    // Pack whole segments into lines; a segment never breaks.
    let indent = " ".repeat(chars(lead));
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for seg in segments {
        let sep = if line.is_empty() { "" } else { " · " };
        if !line.is_empty() && chars(&line) + chars(sep) + chars(&seg) > width {
            lines.push(std::mem::take(&mut line));
        }
        let sep = if line.is_empty() {
            if lines.is_empty() { lead } else { indent.as_str() }
        } else {
            " · "
        };
        line.push_str(sep);
        line.push_str(&seg);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    for l in lines {
        writeln!(out, "{}", shorten_end(&l, width))?;
    }
    let _ = term;
    Ok(())
}

fn render_actions(
    actions: &[crate::report::ActionRow],
    report: &Report,
    total_width: usize,
    term: Terminal,
    out: &mut dyn Write,
) -> io::Result<()> {
    use crate::report::ActionStatus as Status;
    writeln!(out)?;
    writeln!(out, "{}", term.bold("Actions"))?;
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
                term.severity(&format!("{status:<st_w$}"), sev),
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
        writeln!(
            out,
            "{manual} finding(s) need a manual fix: `{CMD} describe RULE NAMESPACE/NAME` says how."
        )?;
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
    use super::*;

    #[test]
    fn wraps_on_words() {
        assert_eq!(wrap("aaa bbb ccc", 20), vec!["aaa bbb ccc"]);
        let w = wrap(&"word ".repeat(30), 20);
        assert!(w.iter().all(|l| l.len() <= 20));
        assert_eq!(w.join(" "), "word ".repeat(30).trim());
        assert_eq!(wrap("", 20), vec![""]);
    }

    #[test]
    fn few_rules_without_findings_fit_on_one_wrapped_line() {
        let items = vec![
            "image-stuck (14 checked, partial)".to_string(),
            "backup-failed (skipped)".to_string(),
            "upgrade-readiness (disabled)".to_string(),
        ];
        let render = |width: usize| {
            let mut out = Vec::new();
            scoreboard_line(&items, Terminal { width, color: false }, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            render(160),
            "no findings: image-stuck (14 checked, partial) · backup-failed (skipped) · upgrade-readiness (disabled)\n"
        );
        // Narrow: wrapped between items, continuation indented, nothing wider than the width.
        let narrow = render(50);
        let lines: Vec<&str> = narrow.lines().collect();
        assert_eq!(
            lines,
            vec![
                "no findings: image-stuck (14 checked, partial)",
                "             backup-failed (skipped)",
                "             upgrade-readiness (disabled)",
            ],
            "{narrow}"
        );
        let tiny = render(20);
        assert!(tiny.lines().all(|l| chars(l) <= 20), "{tiny}");
        assert_eq!(tiny.lines().count(), 3, "{tiny}");
    }

    #[test]
    fn names_are_shortened_in_the_middle() {
        let name = "vm/ci-runner-ubuntu-2204-gpu-passthrough-east-rack07-slot14a";
        let s = shorten_middle(name, 24);
        assert_eq!(chars(&s), 24);
        assert!(
            s.starts_with("vm/ci-runner") && s.ends_with("slot14a") && s.contains('…'),
            "{s}"
        );
        assert_eq!(shorten_middle("short", 24), "short");
        assert_eq!(shorten_middle("abcdef", 1), "…");
    }
}
