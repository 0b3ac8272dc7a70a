//! Put a [`Cluster`] into a real API server (concurrent creates, `/status` writes where the
//! kind has a status subresource), or write it as a dump folder (one List per kind).

use std::path::Path;
use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use kube::Client;
use serde_json::{Value, json};

use crate::generate::{Cluster, KindSet};

async fn send(client: &Client, method: &str, url: &str, body: &Value) -> Result<Value, kube::Error> {
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("json"))
        .map_err(|e| kube::Error::Service(Box::new(e)))?;
    client.request::<Value>(req).await
}

/// Retry throttling, server errors and transport failures a few times.
async fn send_retry(client: &Client, method: &str, url: &str, body: &Value) -> Result<Value, kube::Error> {
    let mut delay = Duration::from_millis(100);
    for attempt in 0.. {
        match send(client, method, url, body).await {
            Err(kube::Error::Api(s)) if (s.code == 429 || s.code >= 500) && attempt < 6 => {}
            Err(kube::Error::Api(s)) => return Err(kube::Error::Api(s)),
            Err(_) if attempt < 6 => {}
            other => return other,
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    unreachable!()
}

async fn create_one(client: &Client, kind: &KindSet, obj: &Value) -> Result<usize, String> {
    let base = kind.base();
    let url = if kind.namespaced {
        format!(
            "{base}/namespaces/{}/{}",
            obj["metadata"]["namespace"].as_str().unwrap_or_default(),
            kind.plural
        )
    } else {
        format!("{base}/{}", kind.plural)
    };
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let created = match send_retry(client, "POST", &url, obj).await {
        Ok(v) => v,
        // Already there (a re-run against the same server): leave it.
        Err(kube::Error::Api(s)) if s.code == 409 => return Ok(0),
        Err(e) => return Err(format!("create {} {name}: {e}", kind.kind)),
    };
    if kind.status_subresource
        && let Some(status) = obj.get("status")
    {
        let mut with_status = created;
        with_status["status"] = status.clone();
        send_retry(client, "PUT", &format!("{url}/{name}/status"), &with_status)
            .await
            .map_err(|e| format!("status of {} {name}: {e}", kind.kind))?;
        return Ok(2);
    }
    Ok(1)
}

/// Create every object, `concurrency` requests in flight. Returns the number of requests.
pub async fn load(client: &Client, cluster: &Cluster, concurrency: usize) -> Result<(usize, Duration), String> {
    let start = Instant::now();
    let mut requests = 0;
    let ns = &cluster.namespaces;
    let results: Vec<Result<usize, String>> = stream::iter(ns.objects.iter().map(|o| create_one(client, ns, o)))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for r in results {
        requests += r?;
    }
    let total = cluster.object_count();
    let mut done = 0usize;
    let mut last = Instant::now();
    let mut s = stream::iter(
        cluster
            .kinds
            .iter()
            .flat_map(|k| k.objects.iter().map(move |o| (k, o)))
            .map(|(k, o)| create_one(client, k, o)),
    )
    .buffer_unordered(concurrency);
    while let Some(r) = s.next().await {
        requests += r?;
        done += 1;
        if last.elapsed() > Duration::from_secs(10) {
            last = Instant::now();
            eprintln!(
                "  loaded {done}/{total} objects ({:.0} objects/s)",
                done as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    Ok((requests, start.elapsed()))
}

/// Dump every kind as one `kind: List` (`<plural>.json`, or `.yaml`). Returns the bytes written.
pub fn write_dump(cluster: &Cluster, dir: &Path, yaml: bool) -> std::io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut bytes = 0;
    for kind in &cluster.kinds {
        let items: Vec<Value> = kind
            .objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let mut o = o.clone();
                o["metadata"]["resourceVersion"] = json!((100_000 + i).to_string());
                o
            })
            .collect();
        let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items});
        let (name, text) = if yaml {
            let text = serde_saphyr::to_string(&list).map_err(std::io::Error::other)?;
            (format!("{}.yaml", kind.plural), text)
        } else {
            (format!("{}.json", kind.plural), serde_json::to_string(&list)?)
        };
        bytes += text.len() as u64;
        std::fs::write(dir.join(name), text)?;
    }
    Ok(bytes)
}
