//! The physical floor of a live scan: the same requests the scan makes (a new client from the
//! kubeconfig, `/version`, every kind the rules need listed concurrently with the same page size,
//! the `server-version` Setting read by name, migrations listed last), but the bytes are only
//! received, never decoded. The client is made by the scan's own `live::connect` (which also
//! reads `/version`); the continue token is found with a substring search (see
//! [`continue_token`]).

use std::path::Path;
use std::time::{Duration, Instant};

use futures::future::join_all;
use harvester_hygiene::inventory::KindOps;
use harvester_hygiene::inventory::live::{self, LiveOptions, encode_query, list_path};
use kube::Client;

pub struct Floor {
    pub wall: Duration,
    pub bytes: u64,
    pub requests: usize,
}

/// A client as the scan makes one (kubeconfig, crypto provider, `/version`).
pub async fn client(kubeconfig: &Path) -> Result<Client, String> {
    let opts = LiveOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..LiveOptions::default()
    };
    let (client, _) = live::connect(&opts).await.map_err(|e| e.to_string())?;
    Ok(client)
}

async fn get(client: &Client, url: &str) -> Result<String, kube::Error> {
    let req = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|e| kube::Error::Service(Box::new(e)))?;
    client.request_text(req).await
}

/// The continue token, without decoding the page. Built-in kinds are written in struct order
/// (`metadata` before `items`); custom resources come from unstructured maps with sorted keys
/// (`metadata` after `items`): look at the first and the last few KB.
fn continue_token(page: &str) -> Option<&str> {
    const KEY: &str = "\"continue\":\"";
    const WINDOW: usize = 4096;
    let bytes = page.as_bytes();
    let find = |from: usize, to: usize| {
        bytes[from..to]
            .windows(KEY.len())
            .position(|w| w == KEY.as_bytes())
            .map(|p| from + p + KEY.len())
    };
    let at = find(0, page.len().min(WINDOW)).or_else(|| find(page.len().saturating_sub(WINDOW), page.len()))?;
    let rest = page.get(at..)?;
    let end = rest.find('"')?;
    Some(&rest[..end]).filter(|t| !t.is_empty())
}

/// (bytes, requests) of one kind; a 404 (add-on not served) counts as one empty request.
async fn fetch_kind(client: &Client, ops: &dyn KindOps, page: u32) -> Result<(u64, usize), String> {
    let info = ops.info();
    let path = list_path(info, None);
    if !info.only_names.is_empty() {
        let mut bytes = 0;
        for name in info.only_names {
            match get(client, &format!("{path}/{name}")).await {
                Ok(t) => bytes += t.len() as u64,
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(format!("{}: {e}", info.kind)),
            }
        }
        return Ok((bytes, info.only_names.len()));
    }
    let (mut bytes, mut requests) = (0u64, 0usize);
    let mut url = format!("{path}?limit={page}");
    loop {
        let text = match get(client, &url).await {
            Ok(t) => t,
            Err(kube::Error::Api(s)) if s.code == 404 && info.optional => return Ok((bytes, requests + 1)),
            Err(e) => return Err(format!("{}: {e}", info.kind)),
        };
        requests += 1;
        bytes += text.len() as u64;
        match continue_token(&text) {
            Some(t) => url = format!("{path}?limit={page}&continue={}", encode_query(t)),
            None => return Ok((bytes, requests)),
        }
    }
}

pub async fn floor(kubeconfig: &Path, page: u32) -> Result<Floor, String> {
    let start = Instant::now();
    let client = client(kubeconfig).await?;
    let rules = harvester_hygiene::scan::select_rules(&[]).map_err(|e| e.to_string())?;
    let kinds = harvester_hygiene::scan::kinds_for(&rules);
    let (last, first): (Vec<_>, Vec<_>) = kinds.into_iter().partition(|k| k.info().list_last);
    let mut results = join_all(first.into_iter().map(|k| fetch_kind(&client, k, page))).await;
    results.extend(join_all(last.into_iter().map(|k| fetch_kind(&client, k, page))).await);
    let mut out = Floor {
        wall: Duration::ZERO,
        bytes: 0,
        requests: 1,
    };
    for r in results {
        let (b, n) = r?;
        out.bytes += b;
        out.requests += n;
    }
    out.wall = start.elapsed();
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn token() {
        let page = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"5","continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEi/+="},"items":[]}"#;
        assert_eq!(super::continue_token(page), Some("eyJ2IjoibWV0YS5rOHMuaW8vdjEi/+="));
        assert_eq!(
            super::continue_token(r#"{"metadata":{"continue":""},"items":[]}"#),
            None
        );
        // Custom resources: sorted keys, metadata last, after more than a window of items.
        let items = format!("[{}]", vec![r#"{"a":1}"#; 2000].join(","));
        let crd = format!(
            r#"{{"apiVersion":"kubevirt.io/v1","items":{items},"kind":"VirtualMachineList","metadata":{{"continue":"tok","resourceVersion":"9"}}}}"#
        );
        assert_eq!(super::continue_token(&crd), Some("tok"));
    }
}
