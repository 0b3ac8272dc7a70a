//! What `--probe-urls` learned about each image URL (one request per distinct URL), as inventory
//! data: `crate::probe` gathers it, `image-mutable-url` reads it as evidence.

use std::collections::BTreeMap;

use serde::Serialize;

/// The probes, by the URL as the image spells it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Probes {
    pub by_url: BTreeMap<String, Probe>,
}

impl Probes {
    pub fn get(&self, url: &str) -> Option<&Probe> {
        self.by_url.get(url)
    }
}

/// What one URL answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum Probe {
    /// A 2xx answer (after redirects).
    Found {
        /// `HEAD`, or `GET` with `Range: bytes=0-0` where HEAD was refused.
        method: String,
        status: u16,
        /// Where the redirects ended (absent when there were none).
        #[serde(skip_serializing_if = "Option::is_none")]
        final_url: Option<String>,
        /// `Last-Modified` as an RFC 3339 time.
        #[serde(skip_serializing_if = "Option::is_none")]
        last_modified: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        etag: Option<String>,
        /// `Content-Length` (HEAD) or the total of `Content-Range` (ranged GET).
        #[serde(skip_serializing_if = "Option::is_none")]
        content_length: Option<u64>,
    },
    /// 404 or 410: the file is gone.
    Gone { status: u16 },
    /// Anything else: a timeout, no connection, another status; says nothing about the file.
    Failed { reason: String },
}
