//! `-o junit`: JUnit XML for CI test reports. One test suite per rule, one test case per rule and
//! object: a finding at or above `--fail-on` is a failure (its title the message, the whole story
//! and the remediation in the body), one below it passes with the finding in `system-out`; a rule
//! without findings is one passing case, a skipped or disabled rule one skipped case.

use std::fmt::Write as _;

use super::{FailOn, Report, RuleStatus};
use crate::finding::Finding;

/// Escape text for XML attributes and content (and drop characters XML 1.0 forbids).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

fn fails(f: &Finding, fail_on: FailOn) -> bool {
    match fail_on {
        FailOn::Never => false,
        FailOn::At(min) => f.severity >= min,
    }
}

fn case_name(f: &Finding) -> String {
    let o = &f.object;
    format!("{}/{}/{}", o.namespace.as_deref().unwrap_or(""), o.kind, o.name)
}

/// `-o junit`.
pub const FORMAT: super::FormatSpec = super::FormatSpec {
    name: "junit",
    render: |r, o, out| out.write_all(document(r, o.fail_on).as_bytes()),
};

pub fn document(report: &Report, fail_on: FailOn) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut skipped) = (0usize, 0usize, 0usize);
    for run in &report.rules {
        let findings: Vec<&Finding> = report.findings.iter().filter(|f| f.rule == run.id).collect();
        let mut cases = String::new();
        let (mut t, mut fl, mut sk) = (0usize, 0usize, 0usize);
        let class = escape(&run.id);
        if findings.is_empty() {
            t += 1;
            match run.status {
                RuleStatus::Skipped | RuleStatus::Disabled => {
                    sk += 1;
                    let why = if run.notes.is_empty() {
                        format!("{:?}", run.status).to_lowercase()
                    } else {
                        run.notes.join("; ")
                    };
                    let _ = write!(
                        cases,
                        "    <testcase classname=\"{class}\" name=\"{class}\">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        escape(&why)
                    );
                }
                _ => {
                    let _ = writeln!(
                        cases,
                        "    <testcase classname=\"{class}\" name=\"{class}: {} objects checked\"/>",
                        run.objects_checked
                    );
                }
            }
        }
        for f in findings {
            t += 1;
            let name = escape(&case_name(f));
            let body = escape(&format!(
                "{}\n\nSeverity: {} (confidence {})\nEvidence: {}\nRemediation: {}",
                f.message,
                f.severity,
                f.confidence,
                f.evidence.join(", "),
                f.remediation
            ));
            if fails(f, fail_on) {
                fl += 1;
                let _ = write!(
                    cases,
                    "    <testcase classname=\"{class}\" name=\"{name}\">\n      <failure type=\"{}\" message=\"{}\">{body}</failure>\n    </testcase>\n",
                    f.severity,
                    escape(&f.headline())
                );
            } else {
                let _ = write!(
                    cases,
                    "    <testcase classname=\"{class}\" name=\"{name}\">\n      <system-out>{}: {}</system-out>\n    </testcase>\n",
                    f.severity,
                    escape(&f.headline())
                );
            }
        }
        let _ = write!(
            suites,
            "  <testsuite name=\"{class}\" tests=\"{t}\" failures=\"{fl}\" errors=\"0\" skipped=\"{sk}\">\n{cases}  </testsuite>\n"
        );
        tests += t;
        failures += fl;
        skipped += sk;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"harvester-hygiene\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n{suites}</testsuites>\n"
    )
}
