//! `--probe-urls`: one HEAD request per distinct image URL (a GET of `Range: bytes=0-0` where
//! HEAD is refused with 405/501), through the proxy `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` name
//! (minus `NO_PROXY`), following redirects, with a timeout per request and at most
//! `concurrency` requests at a time. Gathering only: the answers go into the inventory
//! ([`crate::inventory::probe`]) and `image-mutable-url` judges them. Opt-in, never by default.
//!
//! The HTTP client is reqwest, which openstack_sdk already brings in (the OpenStack client).

use std::time::Duration;

use futures::StreamExt;

use crate::inventory::probe::{Probe, Probes};

#[derive(Debug, Clone)]
pub struct Options {
    /// Per request, connection included.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(10),
            concurrency: 4,
            max_redirects: 10,
        }
    }
}

/// Probe every distinct URL of `urls`.
pub async fn probe_all(urls: &[String], opts: &Options) -> Probes {
    crate::install_crypto_provider();
    let mut distinct: Vec<&String> = urls.iter().collect();
    distinct.sort();
    distinct.dedup();
    let client = reqwest::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout)
        .redirect(reqwest::redirect::Policy::limited(opts.max_redirects))
        .user_agent(concat!("harvester-hygiene/", env!("CARGO_PKG_VERSION")))
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            let reason = format!("cannot build the HTTP client: {e}");
            return Probes {
                by_url: distinct
                    .into_iter()
                    .map(|u| (u.clone(), Probe::Failed { reason: reason.clone() }))
                    .collect(),
            };
        }
    };
    let client = &client;
    let results: Vec<(String, Probe)> = futures::stream::iter(distinct)
        .map(|u| async move { (u.clone(), probe_one(client, u, opts.timeout).await) })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    Probes {
        by_url: results.into_iter().collect(),
    }
}

fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) as RFC 3339.
pub fn http_date(s: &str) -> Option<String> {
    jiff::fmt::rfc2822::parse(s).ok().map(|z| z.timestamp().to_string())
}

fn failed(e: &reqwest::Error, timeout: Duration) -> Probe {
    let reason = if e.is_timeout() {
        format!("timed out after {}s", timeout.as_secs_f64())
    } else if e.is_redirect() {
        "too many redirects".to_string()
    } else if e.is_connect() {
        "no connection".to_string()
    } else {
        // The URL is the caller's; keep the message short and free of it.
        let text = e.to_string();
        text.split(" for url ").next().unwrap_or(&text).to_string()
    };
    Probe::Failed { reason }
}

async fn probe_one(client: &reqwest::Client, url: &str, timeout: Duration) -> Probe {
    let head = match client.head(url).send().await {
        Ok(r) => r,
        Err(e) => return failed(&e, timeout),
    };
    let (resp, method) = if matches!(head.status().as_u16(), 405 | 501) {
        match client.get(url).header(reqwest::header::RANGE, "bytes=0-0").send().await {
            Ok(r) => (r, "GET"),
            Err(e) => return failed(&e, timeout),
        }
    } else {
        (head, "HEAD")
    };
    let status = resp.status().as_u16();
    if matches!(status, 404 | 410) {
        return Probe::Gone { status };
    }
    if !resp.status().is_success() {
        return Probe::Failed {
            reason: format!("HTTP {status} to {method}"),
        };
    }
    let content_length = if method == "GET" {
        // `Content-Range: bytes 0-0/12345`; a server ignoring the range sends the whole length.
        header(&resp, reqwest::header::CONTENT_RANGE)
            .and_then(|r| r.rsplit('/').next().and_then(|t| t.parse().ok()))
            .or_else(|| (status == 200).then(|| resp.content_length()).flatten())
    } else {
        header(&resp, reqwest::header::CONTENT_LENGTH).and_then(|v| v.parse().ok())
    };
    let final_url = Some(resp.url().as_str().to_string()).filter(|f| f != url);
    Probe::Found {
        method: method.to_string(),
        status,
        final_url,
        last_modified: header(&resp, reqwest::header::LAST_MODIFIED).and_then(|d| http_date(&d)),
        etag: header(&resp, reqwest::header::ETAG),
        content_length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date("Sun, 06 Nov 1994 08:49:37 GMT").as_deref(),
            Some("1994-11-06T08:49:37Z")
        );
        assert!(http_date("yesterday").is_none());
    }
}
