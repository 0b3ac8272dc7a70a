//! Prometheus metrics pushed to a Pushgateway (text exposition format, HTTP PUT or POST to
//! `<url>/metrics/job/harvester_hygiene/cluster/<cluster>`). Plain HTTP only: a Pushgateway normally sits
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

/// How a run ended, for the metrics: `success` only for a complete, successful run (every
/// kind read, the report written, no remediation failed).
#[derive(Debug, Clone, Copy)]
pub struct RunOutcome {
    pub duration: Duration,
    pub finished_unix: i64,
    pub success: bool,
}

/// A gauge's `# HELP` and `# TYPE` lines.
fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// `harvester_hygiene_findings`: one sample per rule and severity, zeros included; `c` is the
/// escaped cluster label.
fn findings(out: &mut String, report: &Report, c: &str) {
    gauge(
        out,
        "harvester_hygiene_findings",
        "Findings of the last scan by rule and severity.",
    );
    for rule in rules::REGISTRY {
        for sev in [Severity::Error, Severity::Warning, Severity::Info] {
            let n = report
                .findings
                .iter()
                .filter(|f| f.rule == rule.id() && f.severity == sev)
                .count();
            let _ = writeln!(
                out,
                "harvester_hygiene_findings{{cluster=\"{c}\",rule=\"{}\",severity=\"{}\"}} {n}",
                escape(rule.id()),
                sev
            );
        }
    }
}

/// The metrics of one run, each labelled with `cluster` (the Pushgateway's grouping key has it
/// too: [`push_metrics`]). `harvester_hygiene_last_success_timestamp_seconds` only after a
/// successful run, so an alert on its age fires when runs keep failing.
pub fn exposition(report: &Report, cluster: &str, run: RunOutcome) -> String {
    let c = escape(cluster);
    let mut out = String::new();
    findings(&mut out, report, &c);
    gauge(
        &mut out,
        "harvester_hygiene_scan_duration_seconds",
        "Wall time of the last scan.",
    );
    let _ = writeln!(
        out,
        "harvester_hygiene_scan_duration_seconds{{cluster=\"{c}\"}} {:.3}",
        run.duration.as_secs_f64()
    );
    gauge(
        &mut out,
        "harvester_hygiene_scan_incomplete",
        "1 when a kind a rule needs could not be read.",
    );
    let _ = writeln!(
        out,
        "harvester_hygiene_scan_incomplete{{cluster=\"{c}\"}} {}",
        u8::from(report.summary.incomplete)
    );
    gauge(
        &mut out,
        "harvester_hygiene_last_run_timestamp_seconds",
        "When the last run finished, successful or not.",
    );
    let _ = writeln!(
        out,
        "harvester_hygiene_last_run_timestamp_seconds{{cluster=\"{c}\"}} {}",
        run.finished_unix
    );
    gauge(
        &mut out,
        "harvester_hygiene_last_run_success",
        "1 when the last run was complete and successful.",
    );
    let _ = writeln!(
        out,
        "harvester_hygiene_last_run_success{{cluster=\"{c}\"}} {}",
        u8::from(run.success)
    );
    if run.success {
        gauge(
            &mut out,
            "harvester_hygiene_last_success_timestamp_seconds",
            "When the last complete, successful run finished.",
        );
        let _ = writeln!(
            out,
            "harvester_hygiene_last_success_timestamp_seconds{{cluster=\"{c}\"}} {}",
            run.finished_unix
        );
    }
    out
}

/// A grouping-key value in the Pushgateway's URL: as is when it is plain, else
/// `@base64` (RFC 4648 URL-safe, unpadded), which the Pushgateway decodes (prometheus/pushgateway
/// README, "URL"); an empty value must be `=` in base64.
fn grouping_segment(label: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plain {
        return format!("{label}/{value}");
    }
    if value.is_empty() {
        return format!("{label}@base64/=");
    }
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut enc = String::new();
    for chunk in value.as_bytes().chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 63;
            enc.push(char::from(ALPHABET[idx as usize]));
        }
    }
    format!("{label}@base64/{enc}")
}

/// The group's path: `/metrics/job/harvester_hygiene/cluster/<cluster>` under the URL's path.
pub fn push_path(url_path: &str, cluster: &str) -> String {
    let base = url_path.trim_matches('/');
    let group = format!("metrics/job/harvester_hygiene/{}", grouping_segment("cluster", cluster));
    if base.is_empty() {
        format!("/{group}")
    } else {
        format!("/{base}/{group}")
    }
}

/// Push the metrics into the group of (job, cluster), so clusters sharing a Pushgateway keep
/// their own series. `replace`: PUT (the group becomes exactly these metrics: a successful
/// run); else POST, which replaces only the metrics of the same names and so keeps the last
/// successful run's `harvester_hygiene_last_success_timestamp_seconds`. Returns the HTTP status
/// line on failure.
pub async fn push_metrics(url: &str, cluster: &str, body: &str, replace: bool) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// Pushgateway URLs are supported"))?;
    let (hostport, base) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let path = push_path(base, cluster);
    let method = if replace { "PUT" } else { "POST" };
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
            "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.map_err(|e| format!("{addr}: {e}"))?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await.map_err(|e| format!("{addr}: {e}"))?;
        let text = String::from_utf8_lossy(&resp);
        let status = text.lines().next().unwrap_or("").to_string();
        match status.split_whitespace().nth(1) {
            Some(code) if code.starts_with('2') => Ok(()),
            _ => Err(format!(
                "Pushgateway answered {status:?}: {}",
                text.split("\r\n\r\n").nth(1).unwrap_or("").trim()
            )),
        }
    };
    tokio::time::timeout(Duration::from_secs(30), io)
        .await
        .map_err(|_| format!("{addr}: timed out"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_keys_are_plain_or_base64() {
        assert_eq!(push_path("", "c1"), "/metrics/job/harvester_hygiene/cluster/c1");
        assert_eq!(
            push_path("/pgw/", "a/b"),
            "/pgw/metrics/job/harvester_hygiene/cluster@base64/YS9i"
        );
        // RFC 4648 test vectors, URL-safe alphabet, no padding.
        assert_eq!(grouping_segment("c", "foob"), "c/foob");
        assert_eq!(grouping_segment("c", "fo o"), "c@base64/Zm8gbw");
        assert_eq!(grouping_segment("c", "f?"), "c@base64/Zj8");
        assert_eq!(grouping_segment("c", ""), "c@base64/=");
    }
}
