//! What the in-cluster job does with a report: keep it in a ConfigMap, raise Events on the
//! offending objects, log one JSON line per finding, and push metrics to a Pushgateway.

mod configmap;
mod events;
mod metrics;

pub use configmap::{FINGERPRINTS_KEY, REPORT_KEY, write_report};
pub use events::{EventSummary, emit_events};
pub use metrics::{exposition, push_metrics};

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
    fn truncation_respects_utf8() {
        assert_eq!(truncate_bytes("abc", 10), "abc");
        let t = truncate_bytes(&"é".repeat(600), 1024);
        assert!(t.len() <= 1024 && t.ends_with('…'));
    }
}
