//! `--openstack`: read the OpenstackSources of the cluster's OpenStack imports and their
//! Secrets (only now, only because the user asked), then list each project's import-controller
//! resources. A source that cannot be read is recorded as failed and the scan goes on.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};

use super::{Client, Credentials, Inventory, SourceState, Unchecked, UncheckedKind};
use crate::inventory::kinds::{OpenstackSource, VirtualMachineImport};

/// What `--openstack` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--openstack-insecure`: skip TLS verification when the Secret has no `ca_cert`.
    pub insecure: bool,
    /// `--openstack-without-import`: also inspect OpenstackSources no import refers to, and
    /// count resources whose import no longer exists (another cluster may share the project).
    pub without_import: bool,
}

fn source_api(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("migration.harvesterhci.io", "v1beta1", "OpenstackSource");
    Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk(&gvk))
}

/// The sources to inspect: those referenced by OpenStack imports, plus (with `without_import`)
/// every OpenstackSource in the inventory.
fn source_keys(inv: &crate::inventory::Inventory, opts: &Options) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = inv
        .objects::<VirtualMachineImport>()
        .iter()
        .filter(|i| i.is_openstack())
        .filter_map(VirtualMachineImport::source_key)
        .collect();
    if opts.without_import {
        keys.extend(inv.objects::<OpenstackSource>().iter().map(|s| s.metadata.key()));
    }
    keys
}

pub async fn gather(client: &kube::Client, k8s: &crate::inventory::Inventory, opts: &Options) -> Inventory {
    let mut inv = Inventory::default();
    for key in source_keys(k8s, opts) {
        let state = match credentials(client, &key).await {
            Err(reason) => SourceState::Failed(Unchecked {
                kind: UncheckedKind::Source,
                reason,
            }),
            Ok(creds) => match Client::connect(&creds, opts.insecure).await {
                Err(e) => SourceState::Failed(e.unchecked()),
                Ok(os) => match os.list_import_resources().await {
                    Ok(r) => SourceState::Listed(r),
                    Err(e) => SourceState::Failed(e.unchecked()),
                },
            },
        };
        inv.sources.insert(key, state);
    }
    inv
}

fn kube_reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 403 => format!("forbidden ({})", s.message),
        kube::Error::Api(s) if s.code == 404 => "not found".into(),
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

/// The Keystone endpoint, region and Secret credentials of one OpenstackSource (`ns/name`).
pub async fn credentials(client: &kube::Client, key: &str) -> Result<Credentials, String> {
    let (ns, name) = key
        .split_once('/')
        .ok_or_else(|| format!("{key}: not namespace/name"))?;
    let src = source_api(client, ns)
        .get(name)
        .await
        .map_err(|e| format!("OpenstackSource {key}: {}", kube_reason(&e)))?;
    let spec = src.data.get("spec");
    let field = |path: &[&str]| -> Option<String> {
        let mut v = spec?;
        for p in path {
            v = v.get(p)?;
        }
        v.as_str().map(str::to_string).filter(|s| !s.is_empty())
    };
    let endpoint = field(&["endpoint"]).ok_or_else(|| format!("OpenstackSource {key}: spec.endpoint is missing"))?;
    let secret_name = field(&["credentials", "name"])
        .ok_or_else(|| format!("OpenstackSource {key}: spec.credentials.name is missing"))?;
    let secret_ns = field(&["credentials", "namespace"]).unwrap_or_else(|| ns.to_string());
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &secret_ns);
    let secret = secrets.get(&secret_name).await.map_err(|e| {
        format!(
            "Secret {secret_ns}/{secret_name} of OpenstackSource {key}: {} (--openstack needs get on it: the chart's openstackRole.enabled role)",
            kube_reason(&e)
        )
    })?;
    let data = secret.data.unwrap_or_default();
    let get = |k: &str| -> Option<String> {
        data.get(k)
            .map(|b| String::from_utf8_lossy(&b.0).trim_end_matches('\n').to_string())
            .filter(|s| !s.is_empty())
    };
    let need = |k: &str| {
        get(k).ok_or_else(|| format!("Secret {secret_ns}/{secret_name} of OpenstackSource {key}: key {k:?} is missing"))
    };
    Ok(Credentials {
        endpoint,
        region: field(&["region"]),
        username: need("username")?,
        password: need("password")?,
        project_name: need("project_name")?,
        domain_name: need("domain_name")?,
        ca_cert: get("ca_cert"),
    })
}
