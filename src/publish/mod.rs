//! What the in-cluster job does with a report: keep it in a ConfigMap, raise Events on the
//! offending objects, log one JSON line per finding, push metrics to a Pushgateway and,
//! opt-in, publish PolicyReports.

mod configmap;
mod events;
mod metrics;
pub mod policy_reports;

pub use configmap::{CLUSTER_LABEL, CLUSTER_UID_LABEL, FINGERPRINTS_KEY, REPORT_KEY, write_report};
pub use events::{COMPONENT, EventSummary, NOTE_MAX, emit_events, event_name};
pub use metrics::{RunOutcome, exposition, push_metrics, push_path};
pub use policy_reports::{PolicyReportOutcome, publish_policy_reports};

/// `s` as a label value: at most 63 characters of `[A-Za-z0-9._-]`, starting and ending
/// alphanumeric (others become `-`); `unknown` when nothing is left.
pub fn label_value(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "unknown".to_string()
    } else {
        trimmed.to_string()
    }
}

pub use crate::finding::fingerprint;

/// Cut `s` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// One JSON log line per finding (for log collectors), on stdout.
pub fn log_lines(report: &crate::report::Report) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "level": f.severity,
                "msg": "finding",
                "rule": f.rule,
                "object": f.object,
                "message": f.message,
                "fingerprint": fingerprint(f),
            })
            .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_valid() {
        assert_eq!(label_value("prod-east"), "prod-east");
        assert_eq!(label_value("Prod East/1"), "Prod-East-1");
        assert_eq!(label_value("--"), "unknown");
        assert_eq!(label_value(&"x".repeat(80)).len(), 63);
    }

    #[test]
    fn truncation_respects_utf8() {
        assert_eq!(truncate_bytes("abc", 10), "abc");
        let t = truncate_bytes(&"é".repeat(600), 1024);
        assert!(t.len() <= 1024 && t.ends_with('…'));
    }
}
