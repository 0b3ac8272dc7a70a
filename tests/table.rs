//! The table as a person sees it: the demo rendered through the binary on an injected terminal
//! (`COLUMNS`, `--color`, `NO_COLOR`, `CLICOLOR_FORCE`), compared with snapshots at 80 and 160
//! columns with and without colour, and the layout promises of issue 14 (one line per finding,
//! nothing wider than the terminal, at most 40 lines at 160 columns).
//!
//! Snapshots live in `tests/snapshots/`; ESC is written as `␛` so they read as text.
//! `UPDATE_SNAPSHOTS=1 cargo test --test table` rewrites them after a deliberate change.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env_remove("COLUMNS");
    c
}

/// The demo's table on a terminal `columns` wide; `args` and `env` on top.
fn demo(columns: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = bin();
    c.args(["scan", "--from", "examples/demo-cluster"]).args(args);
    if let Some(w) = columns {
        c.env("COLUMNS", w);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Drop ANSI escape sequences (`ESC [ … m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn check_snapshot(name: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    let shown = text.replace('\u{1b}', "␛");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &shown).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)", path.display()));
    if want != shown {
        let first = want
            .lines()
            .zip(shown.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(shown.lines().count()));
        panic!(
            "{name}: the table changed (first difference at line {}); rerun with UPDATE_SNAPSHOTS=1 if \
             intended.\n--- want\n{want}\n--- got\n{shown}",
            first + 1
        );
    }
}

/// Lines that are findings (they start with a level).
fn finding_rows(text: &str) -> Vec<String> {
    strip_ansi(text)
        .lines()
        .filter(|l| l.starts_with("error ") || l.starts_with("warn ") || l.starts_with("info "))
        .map(str::to_string)
        .collect()
}

#[test]
fn demo_snapshots_at_80_and_160_columns_plain_and_coloured() {
    for w in ["80", "160"] {
        let plain = demo(Some(w), &[], &[]);
        assert!(!plain.contains('\u{1b}'), "no colour in a pipe:\n{plain}");
        check_snapshot(&format!("demo-{w}"), &plain);
        let colour = demo(Some(w), &["--color", "always"], &[]);
        assert!(colour.contains("\u{1b}["), "--color always colours:\n{colour}");
        // The same table underneath.
        assert_eq!(strip_ansi(&colour), plain);
        check_snapshot(&format!("demo-{w}-color"), &colour);
    }
}

#[test]
fn one_line_per_finding_within_the_width_and_40_lines_at_160_columns() {
    let json: serde_json::Value = serde_json::from_str(&demo(None, &["-o", "json"], &[])).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 17, "{json}");
    // Every finding has a title of at most 80 characters.
    for f in findings {
        let t = f["title"].as_str().unwrap_or("");
        assert!(!t.is_empty() && t.chars().count() <= 80, "{f}");
    }
    for (w, max_lines) in [(160usize, 40usize), (80, 42), (120, 40), (60, 45)] {
        let text = demo(Some(&w.to_string()), &[], &[]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() <= max_lines, "{w} columns: {} lines\n{text}", lines.len());
        for l in &lines {
            assert!(l.chars().count() <= w, "{w} columns: line too wide:\n{l}");
        }
        let rows = finding_rows(&text);
        assert_eq!(rows.len(), findings.len(), "{w} columns: one line per finding\n{text}");
        // Every finding's object name is on its line, whole or shortened in the middle (so its
        // end is always there).
        for f in findings {
            let name = f["object"]["name"].as_str().unwrap();
            let tail: String = name.chars().skip(name.chars().count().saturating_sub(5)).collect();
            assert!(rows.iter().any(|r| r.contains(&tail)), "{w}: {name} missing\n{text}");
        }
    }
    // At 160 columns titles are whole.
    let text = demo(Some("160"), &[], &[]);
    for f in findings {
        let t = f["title"].as_str().unwrap();
        assert!(text.contains(t), "title cut at 160 columns: {t}\n{text}");
    }
    // The last lines say what to do next, with the counts.
    assert!(
        text.contains("next: `kubectl harvester-hygiene describe image-name-collision team-a/ubuntu-22` explains"),
        "{text}"
    );
    assert!(text.contains("can fix 4 findings"), "{text}");
    assert!(
        text.contains(
            "incomplete: 18 kinds not fully in the input; limits 12 of 13 rules (all but longhorn-orphaned-data)"
        ),
        "{text}"
    );
    // A rule's header says what its findings free; the one rule without findings is listed on
    // one line, right above the totals.
    assert!(
        text.contains("orphaned-guest-pvc · warning · 1 finding · partial · frees 60.0 GiB —"),
        "{text}"
    );
    assert!(
        text.contains("\nno findings: upgrade-readiness (disabled)\n17 findings: 4 errors, 11 warnings, 2 info"),
        "{text}"
    );
    assert!(!text.contains("RULES WITHOUT FINDINGS"), "{text}");
}

/// A scan with nothing to report still lists every rule with its checked count and status, in a
/// table (here every rule is skipped: the input holds only the version Setting).
#[test]
fn many_rules_without_findings_keep_the_table() {
    let out = bin()
        .env("COLUMNS", "100")
        .args(["scan", "--from", "examples/demo-cluster/settings.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let head = text
        .lines()
        .find(|l| l.starts_with("RULES WITHOUT FINDINGS "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(head.ends_with("CHECKED  STATUS"), "{head}");
    assert!(!text.contains("no findings:"), "{text}");
    for rule in [
        "image-name-collision",
        "image-stuck",
        "backup-failed",
        "upgrade-readiness",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{rule} "))),
            "{rule}\n{text}"
        );
    }
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
}

#[test]
fn colour_follows_no_color_clicolor_force_and_the_flag() {
    // Piped: no colour by default, whatever the width.
    assert!(!demo(None, &[], &[]).contains('\u{1b}'));
    // CLICOLOR_FORCE forces it in a pipe; NO_COLOR wins over it; --color beats both.
    assert!(demo(None, &[], &[("CLICOLOR_FORCE", "1")]).contains('\u{1b}'));
    assert!(!demo(None, &[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\u{1b}'));
    assert!(demo(None, &["--color", "always"], &[("NO_COLOR", "1")]).contains('\u{1b}'));
    assert!(!demo(None, &["--color", "never"], &[("CLICOLOR_FORCE", "1")]).contains('\u{1b}'));
    // Without COLUMNS a pipe is 80 columns wide.
    let text = demo(None, &[], &[]);
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    assert!(text.lines().any(|l| l.chars().count() > 70), "uses the width:\n{text}");
    // JSON never carries colour.
    assert!(!demo(None, &["-o", "json", "--color", "always"], &[]).contains('\u{1b}'));
    // A bad value is a usage error.
    let out = bin()
        .args(["scan", "--from", "examples/demo-cluster", "--color", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn wide_keeps_message_evidence_remediation_related_and_every_gap() {
    let wide = demo(Some("120"), &["-o", "wide"], &[]);
    let json: serde_json::Value = serde_json::from_str(&demo(None, &["-o", "json"], &[])).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    let folded = wide.split_whitespace().collect::<Vec<_>>().join(" ");
    for f in findings {
        for key in ["message", "remediation"] {
            let text = f[key]
                .as_str()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                folded.contains(&text),
                "{key} of {} missing from -o wide",
                f["object"]["name"]
            );
        }
        for e in f["evidence"].as_array().unwrap() {
            assert!(folded.contains(e.as_str().unwrap()), "{e}");
        }
    }
    assert!(
        folded.contains("related: VirtualMachineImage/team-b/ubuntu-22"),
        "{wide}"
    );
    let gaps = json["incomplete"].as_array().unwrap();
    assert_eq!(
        wide.lines().filter(|l| l.starts_with("incomplete: ")).count(),
        gaps.len(),
        "{wide}"
    );
}
