//! SIMULATOR, not OpenStack: no real OpenStack can run here, so this local HTTP/1.1 server
//! follows the published API references closely enough for a client to be tested against it:
//! - Keystone v3 (https://docs.openstack.org/api-ref/identity/v3/): `GET /identity` (300, version
//!   list), `GET /identity/v3`, `POST /identity/v3/auth/tokens` with the `password` or `token`
//!   method and a project scope → 201, `X-Subject-Token`, token body with the service catalog;
//!   401 with Keystone's error body for bad credentials or a revoked token.
//! - Cinder v3 (https://docs.openstack.org/api-ref/block-storage/v3/): version documents,
//!   `GET /v3/{project_id}/snapshots/detail` and `/volumes/detail` with `limit`/`marker`
//!   (`*_links` next links), `GET/DELETE /volumes/{id}` (202; 400 when attached or not in a
//!   deletable state; the volume stays `deleting` for a few reads), `DELETE /snapshots/{id}`
//!   (202; 400 while volumes made from it exist), `OpenStack-API-Version: volume 3.x` echoed.
//! - Glance v2 (https://docs.openstack.org/api-ref/image/v2/): version documents,
//!   `GET /v2/images` with `limit`/`marker`/`name` and a `next` link, `DELETE /v2/images/{id}` (204).
//! - Faults on request: every Nth API call answers 503 (transient), and the tokens can be revoked
//!   once after N calls (a 401 mid-run, which the client must survive by re-authenticating).
//!   `revoke_after` counts only API calls and version documents never check a token, so it
//!   cannot catch a client that loses its version discovery on re-auth; `token_max_uses` can:
//!   every token is rejected once it was sent N times on any request (version documents
//!   included), as a Keystone/Cinder/Glance simulator that expires tokens by use does, and a
//!   used-up token cannot be exchanged for a new one (`token` method).
//! - Misbehaviour on request: Glance image lists answer 500 (`glance_500`), Glance is missing from
//!   the catalog (`no_glance`), and error bodies echo the password (`echo_password`: Keystone's
//!   401 for a password login echoes the password it received, the Glance 500 the project's).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub const PROJECT_ID: &str = "5f1b6f35e4b94a0f8f1b2cfa9a1f0001";

#[derive(Default)]
pub struct State {
    pub username: String,
    pub password: String,
    pub project: String,
    pub domain: String,
    pub region: String,
    pub tokens: Vec<String>,
    pub snapshots: Vec<Value>,
    pub volumes: Vec<Value>,
    pub images: Vec<Value>,
    /// (volume id, reads left before it disappears) for deleting volumes.
    pub deleting: Vec<(String, u32)>,
    /// Every Nth API (non-auth) request answers 503 (0: never).
    pub fail_every: u64,
    /// Revoke all tokens once, after this many API requests (0: never).
    pub revoke_after: u64,
    pub api_calls: u64,
    /// Reject every token once it was sent this many times, on any request (0: never).
    pub token_max_uses: u64,
    /// Uses per token, for `token_max_uses`.
    pub token_uses: Vec<(String, u64)>,
    /// Every request answered 401 because of `token_max_uses` or `revoke_after`.
    pub rejected: Vec<String>,
    /// Glance image lists answer 500.
    pub glance_500: bool,
    /// No Glance in the service catalog.
    pub no_glance: bool,
    /// Error bodies echo the password (see the module docs).
    pub echo_password: bool,
    pub served_503: u64,
    pub served_401: u64,
    pub password_auths: u64,
    pub max_page: usize,
    /// Deletes in the order they happened: "image:<id>", "volume:<id>", "snapshot:<id>".
    pub deletes: Vec<String>,
    /// Every request line seen (method and path with query), for assertions.
    pub log: Vec<String>,
}

#[derive(Clone)]
pub struct Sim {
    pub base: String,
    pub state: Arc<Mutex<State>>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: Some(body),
    }
}

fn empty(status: u16) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: None,
    }
}

impl Sim {
    pub async fn start(state: State) -> Sim {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind simulator");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let sim = Sim {
            base,
            state: Arc::new(Mutex::new(state)),
        };
        let s = sim.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.serve(sock).await;
                });
            }
        });
        sim
    }

    pub fn keystone(&self) -> String {
        format!("{}/identity/v3", self.base)
    }

    async fn serve(&self, sock: tokio::net::TcpStream) -> std::io::Result<()> {
        let mut r = BufReader::new(sock);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let target = parts.next().unwrap_or("").to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).await?;
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            r.read_exact(&mut body).await?;
            let rep = self.handle(&method, &target, &headers, &body);
            let text = rep.body.map(|b| b.to_string()).unwrap_or_default();
            let mut out = format!("HTTP/1.1 {} {}\r\n", rep.status, reason(rep.status));
            for (k, v) in &rep.headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            if !text.is_empty() {
                out.push_str("content-type: application/json\r\n");
            }
            out.push_str(&format!("content-length: {}\r\n\r\n{text}", text.len()));
            r.get_mut().write_all(out.as_bytes()).await?;
        }
    }

    fn handle(&self, method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Reply {
        let mut st = self.state.lock().expect("sim state");
        st.log.push(format!("{method} {target}"));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let q: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let qv = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        let path = path.trim_end_matches('/');
        let base = self.base.clone();
        let token = headers
            .iter()
            .find(|(k, _)| k == "x-auth-token")
            .map(|(_, v)| v.clone());

        // Tokens that expire by use: every request that sends one counts (not the login itself).
        let login = method == "POST" && path == "/identity/v3/auth/tokens";
        if st.token_max_uses > 0
            && !login
            && let Some(t) = &token
        {
            let max = st.token_max_uses;
            let uses = match st.token_uses.iter_mut().find(|(x, _)| x == t) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    st.token_uses.push((t.clone(), 1));
                    1
                }
            };
            if uses > max {
                st.served_401 += 1;
                st.rejected.push(format!("{method} {target}"));
                return unauthorized();
            }
        }

        // Version discovery (no token needed).
        match path {
            "" | "/identity" => {
                return reply(300, json!({"versions": {"values": [identity_version(&base)]}}));
            }
            "/identity/v3" => return reply(200, json!({"version": identity_version(&base)})),
            "/volume" | "/volume/v3" => {
                let code = if path == "/volume" { 300 } else { 200 };
                return reply(code, json!({"versions": [cinder_version(&base)]}));
            }
            "/image" => return reply(300, json!({"versions": [glance_version(&base)]})),
            _ => {}
        }
        if method == "POST" && path == "/identity/v3/auth/tokens" {
            return self.auth(&mut st, body);
        }

        // Everything else needs a valid token.
        if !token.is_some_and(|t| st.tokens.contains(&t)) {
            st.served_401 += 1;
            return unauthorized();
        }
        st.api_calls += 1;
        if st.revoke_after > 0 && st.api_calls == st.revoke_after {
            st.tokens.clear();
            st.served_401 += 1;
            st.rejected.push(format!("{method} {target}"));
            return unauthorized();
        }
        if st.fail_every > 0 && st.api_calls.is_multiple_of(st.fail_every) {
            st.served_503 += 1;
            return Reply {
                status: 503,
                headers: Vec::new(),
                body: None,
            };
        }
        let vol_prefix = format!("/volume/v3/{PROJECT_ID}");
        if let Some(rest) = path.strip_prefix(&vol_prefix) {
            let mut rep = self.cinder(&mut st, method, rest, &qv("limit"), &qv("marker"));
            let mv = headers
                .iter()
                .find(|(k, _)| k == "openstack-api-version")
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| "volume 3.0".into());
            rep.headers.push(("OpenStack-API-Version".into(), mv));
            rep.headers.push(("Vary".into(), "OpenStack-API-Version".into()));
            return rep;
        }
        if let Some(rest) = path.strip_prefix("/image/v2") {
            return self.glance(&mut st, method, rest, &qv("limit"), &qv("marker"), &qv("name"));
        }
        reply(
            404,
            json!({"error": {"code": 404, "title": "Not Found", "message": format!("{path} not found")}}),
        )
    }

    fn auth(&self, st: &mut State, body: &[u8]) -> Reply {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let id = &v["auth"]["identity"];
        let methods: Vec<&str> = id["methods"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let ok = if methods.contains(&"password") {
            let u = &id["password"]["user"];
            let scope = &v["auth"]["scope"]["project"];
            st.password_auths += 1;
            let ok = u["name"] == st.username.as_str()
                && u["password"] == st.password.as_str()
                && u["domain"]["name"] == st.domain.as_str()
                && scope["name"] == st.project.as_str()
                && scope["domain"]["name"] == st.domain.as_str();
            if !ok && st.echo_password {
                st.served_401 += 1;
                let sent = u["password"].as_str().unwrap_or_default();
                return reply(
                    401,
                    json!({"error": {"code": 401, "title": "Unauthorized", "message": format!(
                        "The request you have made requires authentication. (password {sent:?} is not the password of user {})", u["name"])}}),
                );
            }
            ok
        } else if methods.contains(&"token") {
            let max = st.token_max_uses;
            id["token"]["id"].as_str().is_some_and(|t| {
                st.tokens.iter().any(|x| x == t)
                    && (max == 0 || !st.token_uses.iter().any(|(x, n)| x == t && *n >= max))
            })
        } else {
            false
        };
        if !ok {
            st.served_401 += 1;
            return unauthorized();
        }
        let token = format!("gAAAAAB-sim-{}", st.tokens.len() + st.password_auths as usize + 1);
        st.tokens.push(token.clone());
        let base = &self.base;
        let region = st.region.clone();
        let ep = |iface: &str, url: String| json!({"id": format!("ep-{iface}"), "interface": iface, "region": region, "region_id": region, "url": url});
        let mut catalog = json!([
            {"type": "identity", "name": "keystone", "id": "svc-identity", "endpoints": [ep("public", format!("{base}/identity"))]},
            {"type": "block-storage", "name": "cinder", "id": "svc-cinder", "endpoints": [ep("public", format!("{base}/volume/v3/{PROJECT_ID}"))]},
            {"type": "volumev3", "name": "cinderv3", "id": "svc-cinderv3", "endpoints": [ep("public", format!("{base}/volume/v3/{PROJECT_ID}"))]},
        ]);
        if !st.no_glance
            && let Some(services) = catalog.as_array_mut()
        {
            services.push(json!({"type": "image", "name": "glance", "id": "svc-glance", "endpoints": [ep("public", format!("{base}/image"))]}));
        }
        let now = jiff::Timestamp::now();
        let expires = now.checked_add(jiff::SignedDuration::from_hours(1)).unwrap_or(now);
        Reply {
            status: 201,
            headers: vec![("X-Subject-Token".into(), token)],
            body: Some(json!({"token": {
                "methods": methods,
                "user": {"id": "u-1", "name": st.username, "domain": {"id": "default", "name": st.domain}, "password_expires_at": null},
                "project": {"id": PROJECT_ID, "name": st.project, "domain": {"id": "default", "name": st.domain}},
                "roles": [{"id": "r-1", "name": "member"}],
                "catalog": catalog,
                "audit_ids": ["sim"],
                "issued_at": now.strftime("%Y-%m-%dT%H:%M:%S.000000Z").to_string(),
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z").to_string(),
            }})),
        }
    }

    fn cinder(
        &self,
        st: &mut State,
        method: &str,
        rest: &str,
        limit: &Option<String>,
        marker: &Option<String>,
    ) -> Reply {
        // Deleting volumes disappear after a few reads.
        let mut gone = Vec::new();
        for (id, left) in st.deleting.iter_mut() {
            if *left == 0 {
                gone.push(id.clone());
            } else {
                *left -= 1;
            }
        }
        st.volumes.retain(|v| !gone.iter().any(|g| v["id"] == g.as_str()));
        st.deleting.retain(|(id, _)| !gone.contains(id));
        let base = format!("{}/volume/v3/{PROJECT_ID}", self.base);
        match (method, rest) {
            ("GET", "/snapshots/detail") => page(
                &st.snapshots,
                "snapshots",
                limit,
                marker,
                st.max_page,
                &format!("{base}/snapshots/detail"),
                true,
            ),
            ("GET", "/volumes/detail") => page(
                &st.volumes,
                "volumes",
                limit,
                marker,
                st.max_page,
                &format!("{base}/volumes/detail"),
                true,
            ),
            ("GET", r) if r.starts_with("/volumes/") => {
                let id = &r["/volumes/".len()..];
                match st.volumes.iter().find(|v| v["id"] == id) {
                    Some(v) => reply(200, json!({"volume": v})),
                    None => not_found("Volume", id),
                }
            }
            ("DELETE", r) if r.starts_with("/volumes/") => {
                let id = r["/volumes/".len()..].to_string();
                let Some(v) = st.volumes.iter_mut().find(|v| v["id"] == id.as_str()) else {
                    return not_found("Volume", &id);
                };
                let status = v["status"].as_str().unwrap_or("").to_string();
                let attached = v["attachments"].as_array().is_some_and(|a| !a.is_empty());
                if attached
                    || ![
                        "available",
                        "error",
                        "error_restoring",
                        "error_extending",
                        "error_managing",
                    ]
                    .contains(&status.as_str())
                {
                    return reply(
                        400,
                        json!({"badRequest": {"code": 400, "message": format!(
                        "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer. (current status: {status})")}}),
                    );
                }
                v["status"] = json!("deleting");
                st.deleting.push((id.clone(), 2));
                st.deletes.push(format!("volume:{id}"));
                empty(202)
            }
            ("DELETE", r) if r.starts_with("/snapshots/") => {
                let id = r["/snapshots/".len()..].to_string();
                if !st.snapshots.iter().any(|s| s["id"] == id.as_str()) {
                    return not_found("Snapshot", &id);
                }
                if st.volumes.iter().any(|v| v["snapshot_id"] == id.as_str()) {
                    return reply(
                        400,
                        json!({"badRequest": {"code": 400, "message": "Invalid snapshot: Snapshot has dependent volumes."}}),
                    );
                }
                st.snapshots.retain(|s| s["id"] != id.as_str());
                st.deletes.push(format!("snapshot:{id}"));
                empty(202)
            }
            _ => reply(
                404,
                json!({"itemNotFound": {"code": 404, "message": "The resource could not be found."}}),
            ),
        }
    }

    fn glance(
        &self,
        st: &mut State,
        method: &str,
        rest: &str,
        limit: &Option<String>,
        marker: &Option<String>,
        name: &Option<String>,
    ) -> Reply {
        match (method, rest) {
            ("GET", "/images") if st.glance_500 => {
                let echo = if st.echo_password {
                    format!(" (request context: user {}, password {})", st.username, st.password)
                } else {
                    String::new()
                };
                reply(
                    500,
                    json!({"code": 500, "title": "Internal Server Error", "message": format!("The server has either erred or is incapable of performing the requested operation.{echo}")}),
                )
            }
            ("GET", "/images") => {
                let items: Vec<Value> = st
                    .images
                    .iter()
                    .filter(|i| name.as_ref().is_none_or(|n| i["name"] == n.as_str()))
                    .cloned()
                    .collect();
                page(&items, "images", limit, marker, st.max_page, "/v2/images", false)
            }
            ("DELETE", r) if r.starts_with("/images/") => {
                let id = r["/images/".len()..].to_string();
                if !st.images.iter().any(|i| i["id"] == id.as_str()) {
                    return reply(
                        404,
                        json!({"code": 404, "title": "Not Found", "message": format!("No image found with ID {id}")}),
                    );
                }
                st.images.retain(|i| i["id"] != id.as_str());
                st.deletes.push(format!("image:{id}"));
                empty(204)
            }
            _ => reply(
                404,
                json!({"code": 404, "title": "Not Found", "message": "The resource could not be found."}),
            ),
        }
    }
}

/// One page: `limit` (capped by the server's max), `marker` = last id of the previous page
/// (400 when unknown), and a next link when more remain (Cinder `<key>_links`, Glance `next`).
fn page(
    items: &[Value],
    key: &str,
    limit: &Option<String>,
    marker: &Option<String>,
    max: usize,
    href: &str,
    cinder: bool,
) -> Reply {
    let max = if max == 0 { 1000 } else { max };
    let limit = limit
        .as_deref()
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(max)
        .min(max);
    let start = match marker {
        Some(m) => match items.iter().position(|i| i["id"] == m.as_str()) {
            Some(p) => p + 1,
            None => {
                return reply(
                    400,
                    json!({"badRequest": {"code": 400, "message": format!("marker [{m}] not found")}}),
                );
            }
        },
        None => 0,
    };
    let slice: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let mut body = json!({ key: slice });
    if start + limit < items.len()
        && let Some(last) = slice.last()
    {
        let next = format!("{href}?limit={limit}&marker={}", last["id"].as_str().unwrap_or(""));
        if cinder {
            body[format!("{key}_links")] = json!([{"rel": "next", "href": next}]);
        } else {
            body["next"] = json!(next);
        }
    }
    if !cinder {
        body["first"] = json!("/v2/images");
        body["schema"] = json!("/v2/schemas/images");
    }
    reply(200, body)
}

fn unauthorized() -> Reply {
    Reply {
        status: 401,
        headers: vec![("WWW-Authenticate".into(), "Keystone uri=\"/identity\"".into())],
        body: Some(
            json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}),
        ),
    }
}

fn not_found(what: &str, id: &str) -> Reply {
    reply(
        404,
        json!({"itemNotFound": {"code": 404, "message": format!("{what} {id} could not be found.")}}),
    )
}

fn identity_version(base: &str) -> Value {
    json!({"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
           "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}],
           "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]})
}

fn cinder_version(base: &str) -> Value {
    json!({"id": "v3.0", "status": "CURRENT", "version": "3.70", "min_version": "3.0", "updated": "2023-08-31T00:00:00Z",
           "links": [{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                     {"rel": "self", "href": format!("{base}/volume/v3/")}],
           "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}]})
}

fn glance_version(base: &str) -> Value {
    json!({"id": "v2.16", "status": "CURRENT", "links": [{"rel": "self", "href": format!("{base}/image/v2/")}]})
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        300 => "Multiple Choices",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Cinder/Glance JSON objects as the APIs return them.
pub fn snapshot(id: &str, name: &str, volume_id: &str, created: &str) -> Value {
    json!({"id": id, "name": name, "status": "available", "size": 20, "volume_id": volume_id,
           "created_at": created, "updated_at": created, "description": null, "metadata": {},
           "os-extended-snapshot-attributes:progress": "100%"})
}

pub fn volume(id: &str, snapshot_id: Option<&str>, status: &str, attached: bool, created: &str) -> Value {
    let attachments = if attached {
        json!([{"server_id": "srv-1", "attachment_id": "att-1", "volume_id": id, "device": "/dev/vdb"}])
    } else {
        json!([])
    };
    json!({"id": id, "name": null, "status": status, "size": 20, "snapshot_id": snapshot_id, "bootable": "false",
           "availability_zone": "nova", "created_at": created, "updated_at": created, "attachments": attachments,
           "volume_type": "lvmdriver-1", "multiattach": false, "metadata": {}})
}

pub fn image(id: &str, name: &str, created: &str) -> Value {
    json!({"id": id, "name": name, "status": "active", "disk_format": "raw", "container_format": "bare",
           "size": 21474836480u64, "visibility": "private", "protected": false, "created_at": created,
           "updated_at": created, "tags": [], "self": format!("/v2/images/{id}"), "file": format!("/v2/images/{id}/file"),
           "schema": "/v2/schemas/image"})
}
