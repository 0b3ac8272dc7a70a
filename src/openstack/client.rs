//! A thin layer over `openstack_sdk` (the OpenStack SDK maintainers' crate): Keystone v3
//! password auth, catalog lookup with version discovery, token re-auth on 401 and limit/marker
//! pagination all come from the SDK. Written here, because the SDK leaves them to callers:
//! - retries of transient failures (5xx, connection errors) with back-off: the SDK returns them;
//! - the custom CA arrives as PEM text in the Secret, the SDK reads a file: written to a private
//!   temp file that is removed when the client is dropped;
//! - version discovery of the image and block-storage endpoints: the SDK discovers only the
//!   identity endpoint when connecting, and a catalog URL without a version (devstack's
//!   `http://host/image`) would otherwise be used as it is. A re-auth after a 401 replaces the
//!   catalog and drops what was discovered (`Catalog::process_catalog_endpoints` in
//!   openstack_sdk_core), and discovery itself sends the token without re-authenticating, so
//!   re-discovering before each request fails exactly when the new token runs out too. The
//!   versioned Glance endpoint is therefore pinned once discovered (right after login) and every
//!   Glance request is sent to an absolute URL built from it ([`At`]); a Glance 404 before it was
//!   pinned re-discovers and retries once. Cinder lists compute their URL once per listing and
//!   then follow Cinder's absolute `next` links, and Cinder catalog URLs carry `v3/<project>`;
//! - Glance paging: the SDK follows Glance's relative `next` link, which fails for endpoints
//!   given by IP address ("endpoint url must have domain set"); images are paged here by
//!   `limit`/`marker` until an empty page;
//! - the auth cache is switched off so no token is ever written to disk (`~/.osc`);
//! - errors are re-worded without credentials (and scrubbed of the password, defensively).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use openstack_sdk::api::block_storage::v3::{snapshot, volume};
use openstack_sdk::api::image::v2::image;
use openstack_sdk::api::{self, AsyncClient, Pageable, Pagination, QueryAsync, QueryParams, RestEndpoint};
use openstack_sdk::config::{Auth, CloudConfig};
use openstack_sdk::types::{ApiVersion, ServiceType};
use openstack_sdk::{AsyncOpenStack, OpenStackError};
use serde_json::Value;

use super::{Credentials, Error, PREFIX, Resource, ResourceKind, UncheckedKind, vm_of};

/// Items per list page.
const PAGE: i32 = 200;
/// Attempts for a request that fails transiently.
const ATTEMPTS: u32 = 5;

pub struct Client {
    os: AsyncOpenStack,
    password: String,
    /// The versioned Glance endpoint (`.../v2`, no trailing slash) once discovered: it survives
    /// re-auth, unlike the SDK's discovered catalog.
    image_base: Mutex<Option<String>>,
    _ca: Option<TempFile>,
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Accepted,
    AlreadyGone,
}

impl Client {
    /// Authenticate (Keystone v3 password, project scope; `domain_name` is the user's and the
    /// project's domain, as the vm-import-controller uses it). TLS is verified with the Secret's
    /// `ca_cert`, else the system roots, unless `insecure` (`--openstack-insecure`).
    pub async fn connect(creds: &Credentials, insecure: bool) -> Result<Client, Error> {
        crate::install_crypto_provider();
        let ca = match &creds.ca_cert {
            Some(pem) => Some(TempFile::write(pem.as_bytes()).map_err(|e| Error::Api {
                what: "CA certificate".into(),
                status: None,
                kind: UncheckedKind::Failed,
                reason: format!("cannot write it to a temporary file: {e}"),
            })?),
            None => None,
        };
        let auth = Auth {
            auth_url: Some(creds.endpoint.clone()),
            username: Some(creds.username.clone()),
            password: Some(creds.password.clone().into()),
            user_domain_name: Some(creds.domain_name.clone()),
            project_name: Some(creds.project_name.clone()),
            project_domain_name: Some(creds.domain_name.clone()),
            ..Default::default()
        };
        let config = CloudConfig {
            auth: Some(auth),
            auth_type: Some("v3password".into()),
            interface: Some("public".into()),
            region_name: creds.region.clone().filter(|r| !r.is_empty()),
            name: Some("harvester-hygiene".into()),
            cacert: ca.as_ref().map(|f| f.path.display().to_string()),
            verify: Some(!insecure),
            auth_cache: Some(false),
            ..Default::default()
        };
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            match AsyncOpenStack::builder(&config)
                .disable_auth_cache(true)
                .http_timeout(Duration::from_secs(60))
                .connect()
                .await
            {
                Ok(os) => {
                    let client = Client {
                        os,
                        password: creds.password.clone(),
                        image_base: Mutex::new(None),
                        _ca: ca,
                    };
                    // Now, with a fresh token. Best effort: a catalog URL that already carries
                    // the version works without it.
                    client.pin_image().await;
                    let _ = client.os.discover_service_endpoint(&ServiceType::BlockStorage).await;
                    return Ok(client);
                }
                Err(e) => {
                    let transient = connect_transient(&e);
                    last = Some(e);
                    if !transient {
                        break;
                    }
                    backoff(attempt).await;
                }
            }
        }
        let kind = last.as_ref().map_or(UncheckedKind::Failed, connect_kind);
        let reason = last.map(|e| e.to_string()).unwrap_or_default();
        Err(Error::Api {
            what: format!("authentication at {}", creds.endpoint),
            status: None,
            kind,
            reason: scrub(&reason, &creds.password),
        })
    }

    /// The import-controller's snapshots, the volumes made from them, and its images.
    pub async fn list_import_resources(&self) -> Result<Vec<Resource>, Error> {
        let snaps = self
            .list(
                "Cinder snapshots",
                snapshot::list_detailed::Request::builder().limit(PAGE).build(),
            )
            .await?;
        let mut out: Vec<Resource> = snaps
            .iter()
            .filter_map(|v| resource(ResourceKind::Snapshot, v))
            .filter(|r| r.name.starts_with(PREFIX))
            .filter_map(with_vm)
            .collect();
        let snapshot_vm: std::collections::BTreeMap<String, String> =
            out.iter().map(|s| (s.id.clone(), s.vm.clone())).collect();
        if !snapshot_vm.is_empty() {
            let vols = self
                .list(
                    "Cinder volumes",
                    volume::list_detailed::Request::builder().limit(PAGE).build(),
                )
                .await?;
            out.extend(
                vols.iter()
                    .filter_map(|v| resource(ResourceKind::Volume, v))
                    .filter_map(|mut r| {
                        let vm = snapshot_vm.get(r.snapshot_id.as_deref()?)?;
                        r.vm = vm.clone();
                        Some(r)
                    }),
            );
        }
        let images = self.list_images().await?;
        out.extend(
            images
                .iter()
                .filter_map(|v| resource(ResourceKind::Image, v))
                .filter(|r| r.name.starts_with(PREFIX))
                .filter_map(with_vm),
        );
        Ok(out)
    }

    /// The pinned versioned Glance endpoint; else discover it now (best effort) and pin it when
    /// discovery (or the catalog URL itself) gives a v2 endpoint.
    async fn pin_image(&self) -> Option<String> {
        if let Some(b) = self.pinned_image() {
            return Some(b);
        }
        let _ = self.os.discover_service_endpoint(&ServiceType::Image).await;
        let ep = self.os.get_service_endpoint(&ServiceType::Image, None).await.ok()?;
        if ep.version().major != 2 {
            return None;
        }
        let base = ep.url().as_str().trim_end_matches('/').to_string();
        if let Ok(mut pinned) = self.image_base.lock() {
            *pinned = Some(base.clone());
        }
        Some(base)
    }

    fn pinned_image(&self) -> Option<String> {
        self.image_base.lock().ok().and_then(|p| p.clone())
    }

    /// A Glance request (`call` gets the pinned versioned endpoint, `None` for the catalog's).
    /// A 404 while none was pinned (discovery failed, e.g. because its token ran out: discovery
    /// does not re-authenticate, the request did) re-discovers and retries once pinned; when
    /// still nothing is pinned, the 404 is a missing endpoint, never a missing resource.
    async fn glance<T, F, Fut>(&self, what: &str, call: F) -> Result<T, Error>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut base = self.pin_image().await;
        loop {
            match call(base.clone()).await {
                Err(e) if e.status() == Some(404) && base.is_none() => {
                    base = self.pin_image().await;
                    if base.is_none() {
                        return Err(self.err_kind(
                            what,
                            None,
                            UncheckedKind::Endpoint,
                            format!("no Glance v2 endpoint (version discovery failed): {e}"),
                        ));
                    }
                }
                r => return r,
            }
        }
    }

    /// All Glance images, by `limit`/`marker` until an empty page (a server may cap `limit`
    /// below ours, so a short page does not mean the end).
    async fn list_images(&self) -> Result<Vec<Value>, Error> {
        let mut out: Vec<Value> = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut b = image::list::Request::builder();
            b.limit(PAGE);
            if let Some(m) = &marker {
                b.marker(m.clone());
            }
            let ep = b.build().map_err(|e| self.err("Glance images", None, e.to_string()))?;
            let page: Vec<Value> = self
                .glance("Glance images", |base| {
                    let at = At::new(ep.clone(), base.as_deref());
                    self.retry("Glance images", move || {
                        let (at, os) = (at.clone(), &self.os);
                        async move { at.query_async(os).await }
                    })
                })
                .await?;
            let next = page.last().and_then(|v| text(v, "id"));
            if page.is_empty() || next == marker {
                return Ok(out);
            }
            out.extend(page);
            marker = next;
        }
    }

    /// One volume's current state (`None` once it is gone).
    pub async fn volume(&self, id: &str) -> Result<Option<Resource>, Error> {
        let ep = volume::get::Request::builder()
            .id(id)
            .build()
            .map_err(|e| self.err("volume request", None, e.to_string()))?;
        match self.retry("Cinder volume", || ep.query_async(&self.os)).await {
            Ok(v) => Ok(resource(ResourceKind::Volume, &Value::Object(v))),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn delete(&self, kind: ResourceKind, id: &str) -> Result<Deleted, Error> {
        let what = format!("delete {} {id}", kind.as_str());
        let r = match kind {
            ResourceKind::Image => match image::delete::Request::builder().id(id).build() {
                Ok(ep) => {
                    self.glance(&what, |base| {
                        let at = At::new(ep.clone(), base.as_deref());
                        self.retry(&what, move || {
                            let (at, os) = (at.clone(), &self.os);
                            async move { api::ignore(at).query_async(os).await }
                        })
                    })
                    .await
                }
                Err(e) => Err(self.err(&what, None, e.to_string())),
            },
            ResourceKind::Volume => {
                self.delete_with(&what, volume::delete::Request::builder().id(id).build())
                    .await
            }
            ResourceKind::Snapshot => {
                self.delete_with(&what, snapshot::delete::Request::builder().id(id).build())
                    .await
            }
        };
        match r {
            Ok(()) => Ok(Deleted::Accepted),
            Err(e) if e.status() == Some(404) => Ok(Deleted::AlreadyGone),
            Err(e) => Err(e),
        }
    }

    async fn delete_with<E>(&self, what: &str, ep: Result<E, impl std::fmt::Display>) -> Result<(), Error>
    where
        E: RestEndpoint + Clone + Sync + Send,
    {
        let ep = ep.map_err(|e| self.err(what, None, e.to_string()))?;
        self.retry(what, || {
            let (ep, os) = (ep.clone(), &self.os);
            async move { api::ignore(ep).query_async(os).await }
        })
        .await
    }

    async fn list<E>(&self, what: &str, ep: Result<E, impl std::fmt::Display>) -> Result<Vec<Value>, Error>
    where
        E: RestEndpoint + Pageable + Clone + Sync + Send,
    {
        let ep = ep.map_err(|e| self.err(what, None, e.to_string()))?;
        self.retry(what, || {
            let (ep, os) = (ep.clone(), &self.os);
            async move { api::paged(ep, Pagination::All).query_async(os).await }
        })
        .await
    }

    /// Run `call`, retrying transient failures (5xx, transport errors) with back-off.
    async fn retry<T, F, Fut, CE>(&self, what: &str, mut call: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, api::ApiError<CE>>>,
        CE: std::error::Error + Send + Sync + 'static,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let status = status_of(&e);
                    let transient = status.is_none_or(|s| s >= 500) && matches!(e, api::ApiError::Client { .. })
                        || status.is_some_and(|s| s >= 500);
                    attempt += 1;
                    if !transient || attempt >= ATTEMPTS {
                        let kind = match e {
                            api::ApiError::Catalog { .. } => UncheckedKind::Endpoint,
                            api::ApiError::Client { .. } => UncheckedKind::of_status(status),
                            _ if status.is_some() => UncheckedKind::of_status(status),
                            _ => UncheckedKind::Failed,
                        };
                        return Err(self.err_kind(what, status, kind, e.to_string()));
                    }
                    backoff(attempt).await;
                }
            }
        }
    }

    fn err(&self, what: &str, status: Option<u16>, reason: String) -> Error {
        self.err_kind(what, status, UncheckedKind::Failed, reason)
    }

    fn err_kind(&self, what: &str, status: Option<u16>, kind: UncheckedKind, reason: String) -> Error {
        Error::Api {
            what: what.to_string(),
            status,
            kind,
            reason: scrub(&reason, &self.password),
        }
    }
}

fn status_of<E: std::error::Error + Send + Sync + 'static>(e: &api::ApiError<E>) -> Option<u16> {
    match e {
        api::ApiError::OpenStack { status, .. }
        | api::ApiError::OpenStackService { status, .. }
        | api::ApiError::OpenStackUnrecognized { status, .. } => Some(status.as_u16()),
        _ => None,
    }
}

fn connect_transient(e: &OpenStackError) -> bool {
    let s = e.to_string();
    s.contains(" 50") || s.contains("status: `5") || s.contains("connection") || s.contains("timed out")
}

/// What a failed login leaves unchecked.
fn connect_kind(e: &OpenStackError) -> UncheckedKind {
    match e {
        OpenStackError::Communication { .. } => UncheckedKind::Unavailable,
        OpenStackError::Http { status } => UncheckedKind::of_status(Some(status.as_u16())),
        OpenStackError::Discovery { .. } | OpenStackError::Catalog { .. } => UncheckedKind::Endpoint,
        OpenStackError::Api { source } => match status_of(source) {
            Some(s) => UncheckedKind::of_status(Some(s)),
            None => UncheckedKind::Auth,
        },
        _ if connect_transient(e) => UncheckedKind::Unavailable,
        _ => UncheckedKind::Auth,
    }
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(100 * (1 << attempt.min(5)))).await;
}

/// `s` without `secret`: as it is, JSON-escaped (an error body shown as JSON) and
/// percent-encoded (a URL or form).
fn scrub(s: &str, secret: &str) -> String {
    if secret.is_empty() {
        return s.to_string();
    }
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.trim_matches('"');
    let url: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let mut out = s.to_string();
    for form in [secret, json, url.as_str()] {
        if !form.is_empty() {
            out = out.replace(form, "<redacted>");
        }
    }
    out
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// A resource from a Cinder/Glance JSON object; `None` without an id.
fn resource(kind: ResourceKind, v: &Value) -> Option<Resource> {
    let size_gib = match kind {
        ResourceKind::Image => v.get("size").and_then(Value::as_u64).map(|b| b.div_ceil(1 << 30)),
        _ => v.get("size").and_then(Value::as_u64),
    };
    Some(Resource {
        kind,
        id: text(v, "id")?,
        name: text(v, "name").unwrap_or_default(),
        size_gib,
        status: text(v, "status").unwrap_or_default(),
        created_at: text(v, "created_at"),
        snapshot_id: text(v, "snapshot_id"),
        attached: v
            .get("attachments")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty()),
        vm: String::new(),
    })
}

fn with_vm(mut r: Resource) -> Option<Resource> {
    r.vm = vm_of(&r.name)?.to_string();
    Some(r)
}

/// An SDK endpoint sent to an absolute URL under a pinned service base (`<base>/<endpoint>`)
/// instead of the catalog's current endpoint; as it is when no base is pinned.
#[derive(Clone)]
struct At<E> {
    inner: E,
    url: Option<String>,
}

impl<E: RestEndpoint> At<E> {
    fn new(inner: E, base: Option<&str>) -> Self {
        let url = base.map(|b| format!("{b}/{}", inner.endpoint().trim_start_matches('/')));
        At { inner, url }
    }
}

impl<E: RestEndpoint> RestEndpoint for At<E> {
    fn method(&self) -> http::Method {
        self.inner.method()
    }
    fn endpoint(&self) -> Cow<'static, str> {
        match &self.url {
            Some(u) => Cow::Owned(u.clone()),
            None => self.inner.endpoint(),
        }
    }
    fn service_type(&self) -> ServiceType {
        self.inner.service_type()
    }
    fn parameters(&self) -> QueryParams<'_> {
        self.inner.parameters()
    }
    fn body(&self) -> Result<Option<(&'static str, Vec<u8>)>, api::BodyError> {
        self.inner.body()
    }
    fn response_key(&self) -> Option<Cow<'static, str>> {
        self.inner.response_key()
    }
    fn response_list_item_key(&self) -> Option<Cow<'static, str>> {
        self.inner.response_list_item_key()
    }
    fn response_headers(&self) -> HashMap<&str, &str> {
        self.inner.response_headers()
    }
    fn request_headers(&self) -> Option<&http::HeaderMap> {
        self.inner.request_headers()
    }
    fn api_version(&self) -> Option<ApiVersion> {
        self.inner.api_version()
    }
    fn min_version(&self) -> Option<ApiVersion> {
        self.inner.min_version()
    }
    fn max_version(&self) -> Option<ApiVersion> {
        self.inner.max_version()
    }
}

/// A file only this process can read, removed on drop.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn write(data: &[u8]) -> std::io::Result<TempFile> {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!("harvester-hygiene-ca-{}-{n}.pem", std::process::id()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        opts.mode(0o600);
        let mut f = opts.open(&path)?;
        f.write_all(data)?;
        Ok(TempFile { path })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_the_password_raw_json_escaped_and_percent_encoded() {
        let pw = r#"p"a\ss w/rd"#;
        let raw = format!("message: `bad password {pw}`");
        let json = format!("data: {}", serde_json::json!({"error": format!("password {pw}")}));
        let url: String = url::form_urlencoded::byte_serialize(pw.as_bytes()).collect();
        let form = format!("uri: http://h/x?password={url}");
        for s in [raw, json, form] {
            let out = scrub(&s, pw);
            assert!(out.contains("<redacted>"), "{out}");
            assert!(
                !out.contains(pw) && !out.contains(r#"p\"a\\ss"#) && !out.contains("p%22a"),
                "{out}"
            );
        }
        assert_eq!(scrub("nothing here", pw), "nothing here");
        assert_eq!(scrub("no secret", ""), "no secret");
    }

    #[test]
    fn pinned_endpoints_are_absolute_urls_under_the_base() {
        let ep = image::list::Request::builder().limit(5).build().unwrap();
        let at = At::new(ep.clone(), Some("http://10.0.0.1/image/v2"));
        assert_eq!(at.endpoint(), "http://10.0.0.1/image/v2/images");
        assert_eq!(at.service_type(), ServiceType::Image);
        assert_eq!(At::new(ep, None).endpoint(), "images");
    }
}
