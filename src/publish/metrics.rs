//! Prometheus metrics pushed to a Pushgateway (text exposition format, HTTP PUT to
//! `<url>/metrics/job/harvester_hygiene`). Plain HTTP only: a Pushgateway normally sits
//! inside the cluster; kube's HTTP stack is bound to the API server, so this is a minimal
//! HTTP/1.1 client rather than a second HTTP dependency.

use std::fmt::Write as _;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::report::Report;
use crate::rules::{self, Severity};

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The metrics of one run.
pub fn exposition(report: &Report, duration: Duration, finished_unix: i64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP harvester_hygiene_findings Findings of the last scan by rule and severity."
    );
    let _ = writeln!(out, "# TYPE harvester_hygiene_findings gauge");
    for rule in rules::REGISTRY {
        for sev in [Severity::Error, Severity::Warning, Severity::Info] {
            let n = report
                .findings
                .iter()
                .filter(|f| f.rule == rule.id() && f.severity == sev)
                .count();
            let _ = writeln!(
                out,
                "harvester_hygiene_findings{{rule=\"{}\",severity=\"{}\"}} {n}",
                escape(rule.id()),
                sev
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP harvester_hygiene_scan_duration_seconds Wall time of the last scan."
    );
    let _ = writeln!(out, "# TYPE harvester_hygiene_scan_duration_seconds gauge");
    let _ = writeln!(
        out,
        "harvester_hygiene_scan_duration_seconds {:.3}",
        duration.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "# HELP harvester_hygiene_scan_incomplete 1 when a kind a rule needs could not be read."
    );
    let _ = writeln!(out, "# TYPE harvester_hygiene_scan_incomplete gauge");
    let _ = writeln!(
        out,
        "harvester_hygiene_scan_incomplete {}",
        u8::from(report.summary.incomplete)
    );
    let _ = writeln!(
        out,
        "# HELP harvester_hygiene_last_success_timestamp_seconds When the last scan finished."
    );
    let _ = writeln!(out, "# TYPE harvester_hygiene_last_success_timestamp_seconds gauge");
    let _ = writeln!(out, "harvester_hygiene_last_success_timestamp_seconds {finished_unix}");
    out
}

/// PUT the metrics; returns the HTTP status line on failure.
pub async fn push_metrics(url: &str, body: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// Pushgateway URLs are supported"))?;
    let (hostport, base) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let base = base.trim_end_matches('/');
    let path = if base.is_empty() {
        "/metrics/job/harvester_hygiene".to_string()
    } else {
        format!("/{base}/metrics/job/harvester_hygiene")
    };
    let addr = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let io = async {
        let mut s = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        let req = format!(
            "PUT {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.map_err(|e| format!("{addr}: {e}"))?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await.map_err(|e| format!("{addr}: {e}"))?;
        let text = String::from_utf8_lossy(&resp);
        let status = text.lines().next().unwrap_or("").to_string();
        match status.split_whitespace().nth(1) {
            Some(code) if code.starts_with('2') => Ok(()),
            _ => Err(format!("Pushgateway answered {status:?}")),
        }
    };
    tokio::time::timeout(Duration::from_secs(30), io)
        .await
        .map_err(|_| format!("{addr}: timed out"))?
}
