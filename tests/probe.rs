//! `--probe-urls` against a local HTTP server started here (never the internet: every URL is
//! on 127.0.0.1 or goes to a local proxy): unchanged, changed after import, resized, gone,
//! HEAD refused (ranged GET), redirects, a slow server (timeout), one request per distinct URL,
//! HTTP_PROXY / HTTPS_PROXY / NO_PROXY.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// (method, request target, Range header) of every request the server saw.
type Log = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

const OLD: &str = "Mon, 01 Jan 2024 00:00:00 GMT";
const NEW: &str = "Sat, 01 Jun 2024 12:00:00 GMT";
const SIZE: u64 = 2_361_393_152;

fn respond(mut s: TcpStream, log: Log) {
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut range = None;
    loop {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
            break;
        }
        if let Some(v) = l.to_ascii_lowercase().strip_prefix("range:") {
            range = Some(v.trim().to_string());
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    log.lock()
        .unwrap()
        .push((method.clone(), target.clone(), range.clone()));
    let path = target
        .rsplit_once("://")
        .map_or(target.as_str(), |(_, r)| r.find('/').map_or("/", |i| &r[i..]));
    let ok = |lm: &str, len: u64| {
        format!(
            "HTTP/1.1 200 OK\r\nLast-Modified: {lm}\r\nETag: \"abc-{len}\"\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    let reply = if method == "CONNECT" {
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
    } else if path.ends_with("/unchanged.img") || path.ends_with("/proxied.img") {
        ok(OLD, SIZE)
    } else if path.ends_with("/changed.img") {
        ok(NEW, SIZE)
    } else if path.ends_with("/resized.img") {
        ok(OLD, SIZE + 4096)
    } else if path.ends_with("/gone.img") {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
    } else if path.ends_with("/nohead.img") {
        if method == "HEAD" {
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        } else {
            format!(
                "HTTP/1.1 206 Partial Content\r\nLast-Modified: {NEW}\r\nContent-Range: bytes 0-0/{SIZE}\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
            )
        }
    } else if path.ends_with("/moved.img") {
        "HTTP/1.1 302 Found\r\nLocation: /current/changed.img\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_string()
    } else if path.ends_with("/slow.img") {
        std::thread::sleep(Duration::from_secs(4));
        ok(OLD, SIZE)
    } else {
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
    };
    let _ = s.write_all(reply.as_bytes());
}

/// A local server on a free port; it serves until the test process ends.
fn server() -> (u16, Log) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().unwrap().port();
    let log: Log = Arc::default();
    let lg = log.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let lg = lg.clone();
            std::thread::spawn(move || respond(s, lg));
        }
    });
    (port, log)
}

fn image(ns: &str, name: &str, url: &str) -> Value {
    json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineImage",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "creationTimestamp": "2024-02-01T00:00:00Z"},
        "spec": {"displayName": name, "sourceType": "download", "url": url},
        "status": {"storageClassName": format!("longhorn-{name}"), "size": SIZE,
                   "conditions": [{"type": "Initialized", "status": "True"},
                                  {"type": "Imported", "status": "True", "lastTransitionTime": "2024-03-01T00:00:00Z"}]}})
}

fn scan(dir: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> (Value, i32) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"));
    c.args([
        "scan",
        "--from",
        dir.to_str().unwrap(),
        "--rules",
        "image-mutable-url",
        "-o",
        "json",
    ])
    .args(extra)
    .env("NO_COLOR", "1")
    .env_remove("HTTP_PROXY")
    .env_remove("HTTPS_PROXY")
    .env_remove("ALL_PROXY")
    .env_remove("NO_PROXY")
    .env_remove("http_proxy")
    .env_remove("https_proxy")
    .env_remove("all_proxy")
    .env_remove("no_proxy");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

fn finding<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["object"]["name"] == name))
        .unwrap_or_else(|| panic!("no finding for {name}: {r:#}"))
}

fn has(f: &Value, e: &str) -> bool {
    f["evidence"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| s.starts_with(e))))
}

#[test]
fn each_case_against_a_local_server() {
    let (port, log) = server();
    let base = format!("http://127.0.0.1:{port}/current");
    let dir = tempfile::tempdir().unwrap();
    let items = vec![
        image("a", "unchanged", &format!("{base}/unchanged.img")),
        image("b", "unchanged-too", &format!("{base}/unchanged.img")),
        image("a", "changed", &format!("{base}/changed.img")),
        image("a", "resized", &format!("{base}/resized.img")),
        image("a", "gone", &format!("{base}/gone.img")),
        image("a", "nohead", &format!("{base}/nohead.img")),
        image("a", "moved", &format!("{base}/moved.img")),
        image("a", "broken", &format!("{base}/broken.img")),
        // No moving pattern, but gone: the probe alone proves it.
        image("a", "pinned-gone", &format!("http://127.0.0.1:{port}/v1.2/gone.img")),
        // No pattern and unchanged: no finding.
        image("a", "pinned-ok", &format!("http://127.0.0.1:{port}/v1.2/unchanged.img")),
    ];
    std::fs::write(
        dir.path().join("images.json"),
        json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    )
    .unwrap();

    // Without the flag nothing is sent, and the warnings are the pattern's.
    let (r, _) = scan(dir.path(), &[], &[]);
    assert!(log.lock().unwrap().is_empty(), "probed without --probe-urls");
    assert_eq!(finding(&r, "changed")["severity"], "warning");
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["object"]["name"] != "pinned-gone")
    );

    let (r, code) = scan(dir.path(), &["--probe-urls", "--probe-timeout", "3s"], &[]);
    assert_eq!(code, 1, "errors found");
    // Unchanged: the warning stays, with the evidence.
    let f = finding(&r, "unchanged");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["confidence"], "likely");
    assert!(has(f, "upstream-unchanged"), "{f:#}");
    assert!(has(f, "upstream-last-modified:2024-01-01T00:00:00Z"));
    assert!(has(f, "upstream-etag:\"abc-2361393152\""));
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("unchanged since this image was imported")
    );
    // Changed after import: an error, proven, in the words.
    let f = finding(&r, "changed");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["confidence"], "proven");
    assert!(has(f, "upstream-changed-after-import:2024-03-01T00:00:00Z"), "{f:#}");
    assert!(f["message"].as_str().unwrap().contains(
        "upstream changed on 2024-06-01T12:00:00Z after this image was imported (2024-03-01T00:00:00Z): a re-download, \
         which Longhorn needs when every copy is lost, WILL fail"
    ));
    // Same date, other size.
    let f = finding(&r, "resized");
    assert_eq!(f["severity"], "error");
    assert!(has(f, &format!("size-differs:{}!={SIZE}", SIZE + 4096)), "{f:#}");
    // Gone.
    let f = finding(&r, "gone");
    assert_eq!(f["severity"], "error");
    assert!(has(f, "upstream-gone:404"));
    assert!(f["title"].as_str().unwrap().contains("can never be re-downloaded"));
    let f = finding(&r, "pinned-gone");
    assert_eq!(f["severity"], "error");
    assert!(has(f, "upstream-gone:404"));
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["object"]["name"] != "pinned-ok")
    );
    // HEAD refused: a ranged GET, its Content-Range total as the size.
    let f = finding(&r, "nohead");
    assert!(has(f, "probe:GET"), "{f:#}");
    assert!(has(f, &format!("upstream-content-length:{SIZE}")));
    assert_eq!(f["severity"], "error", "Last-Modified after import");
    // A redirect is followed to the changed file.
    let f = finding(&r, "moved");
    assert!(
        has(f, &format!("redirected-to:http://127.0.0.1:{port}/current/changed.img")),
        "{f:#}"
    );
    assert_eq!(f["severity"], "error");
    // A 500 proves nothing: the warning stays and says the probe failed.
    let f = finding(&r, "broken");
    assert_eq!(f["severity"], "warning");
    assert!(has(f, "probe-failed:HTTP 500"), "{f:#}");

    let log = log.lock().unwrap().clone();
    let heads = |p: &str| log.iter().filter(|(m, t, _)| m == "HEAD" && t.ends_with(p)).count();
    assert_eq!(
        heads("/current/unchanged.img"),
        1,
        "one request per distinct URL: {log:?}"
    );
    assert_eq!(
        heads("/current/changed.img"),
        2,
        "its own URL, and once as the redirect's target"
    );
    let gets: Vec<_> = log.iter().filter(|(m, _, _)| m == "GET").collect();
    assert_eq!(gets.len(), 1, "{log:?}");
    assert_eq!(gets[0].2.as_deref(), Some("bytes=0-0"));
}

#[test]
fn slow_server_times_out() {
    let (port, _log) = server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("i.json"),
        image("a", "slow", &format!("http://127.0.0.1:{port}/current/slow.img")).to_string(),
    )
    .unwrap();
    let start = std::time::Instant::now();
    let (r, _) = scan(dir.path(), &["--probe-urls", "--probe-timeout", "1s"], &[]);
    assert!(start.elapsed() < Duration::from_secs(4), "the timeout held");
    let f = finding(&r, "slow");
    assert!(has(f, "probe-failed:timed out after 1s"), "{f:#}");
    assert_eq!(f["severity"], "warning");
}

#[test]
fn proxies_from_the_environment() {
    let (proxy, plog) = server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("i.json"),
        json!({"apiVersion": "v1", "kind": "List", "items": [
            // Never resolved: the proxy answers for it.
            image("a", "via-proxy", "http://images.example.invalid/current/proxied.img"),
            image("a", "via-https-proxy", "https://images.example.invalid/current/proxied.img"),
        ]})
        .to_string(),
    )
    .unwrap();
    let p = format!("http://127.0.0.1:{proxy}");
    let (r, _) = scan(
        dir.path(),
        &["--probe-urls"],
        &[("HTTP_PROXY", &p), ("HTTPS_PROXY", &p)],
    );
    assert!(has(finding(&r, "via-proxy"), "upstream-unchanged"), "{r:#}");
    // HTTPS goes through a CONNECT tunnel, which this proxy refuses.
    assert!(has(finding(&r, "via-https-proxy"), "probe-failed"), "{r:#}");
    let log = plog.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|(m, t, _)| m == "HEAD" && t == "http://images.example.invalid/current/proxied.img"),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|(m, t, _)| m == "CONNECT" && t == "images.example.invalid:443"),
        "{log:?}"
    );

    // NO_PROXY: a direct request, the proxy (a closed port) untouched.
    let (port, log) = server();
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        dir.path().join("i.json"),
        image("a", "direct", &format!("http://127.0.0.1:{port}/current/unchanged.img")).to_string(),
    )
    .unwrap();
    let dp = format!("http://127.0.0.1:{dead}");
    let (r, _) = scan(
        dir.path(),
        &["--probe-urls"],
        &[("HTTP_PROXY", &dp), ("NO_PROXY", "127.0.0.1")],
    );
    assert!(has(finding(&r, "direct"), "upstream-unchanged"), "{r:#}");
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[test]
fn the_demo_is_never_probed_by_default() {
    // The demo's real URLs: scanning it without --probe-urls sends nothing (no network here
    // either way); the report says nothing about probes.
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args(["scan", "--from", "examples/demo-cluster", "-o", "json"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let any = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| has(f, "probe") || has(f, "upstream-"));
    assert!(!any);
}

#[test]
fn lint_probes_planned_images() {
    let (port, log) = server();
    let dir = tempfile::tempdir().unwrap();
    let plan = json!({"format_version": "1.2", "resource_changes": [
        {"address": "harvester_image.gone", "mode": "managed", "type": "harvester_image",
         "change": {"actions": ["create"], "after": {"name": "gone", "namespace": "a", "source_type": "download",
                    "url": format!("http://127.0.0.1:{port}/images/gone.img")}}},
        {"address": "harvester_image.moving", "mode": "managed", "type": "harvester_image",
         "change": {"actions": ["create"], "after": {"name": "moving", "namespace": "a", "source_type": "download",
                    "url": format!("http://127.0.0.1:{port}/current/unchanged.img")}}}
    ]});
    let p = dir.path().join("plan.json");
    std::fs::write(&p, plan.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-harvester-hygiene"))
        .args(["lint", p.to_str().unwrap(), "--probe-urls", "-o", "json"])
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = finding(&r, "gone");
    assert_eq!(f["severity"], "error");
    assert!(has(f, "upstream-gone:404"));
    // Not imported yet: nothing to compare with, the pattern's warning stays.
    let f = finding(&r, "moving");
    assert_eq!(f["severity"], "warning");
    assert!(has(f, "upstream-last-modified:"), "{f:#}");
    assert_eq!(log.lock().unwrap().len(), 2);
}
