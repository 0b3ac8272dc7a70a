//! What `--openstack` found in each OpenstackSource's project: the vm-import-controller's
//! leftover resources as inventory data, so rules read them like any other kind (gathered by
//! `crate::openstack`, which depends on the inventory, never the other way round).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The name prefix the vm-import-controller gives its snapshots and images.
pub const PREFIX: &str = "import-controller-";

/// How long the controller waits for a snapshot, volume or image (its `pollingTimeout`).
pub const POLLING_TIMEOUT_HOURS: i64 = 2;

/// The kind of a leftover; defined beside the fix contract ([`crate::finding::FixInput`]).
pub use crate::finding::OpenstackKind as ResourceKind;

impl ResourceKind {
    /// The kind a finding's `related` item carries for this resource (`GlanceImage`…): the one
    /// spelling both the rule that writes it and the fix that reads it use.
    pub fn ref_kind(self) -> &'static str {
        match self {
            ResourceKind::Image => "GlanceImage",
            ResourceKind::Volume => "CinderVolume",
            ResourceKind::Snapshot => "CinderSnapshot",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Image => "Image",
            ResourceKind::Volume => "Volume",
            ResourceKind::Snapshot => "Snapshot",
        }
    }
    /// The pseudo apiVersion findings use for it.
    pub fn api_version(self) -> &'static str {
        match self {
            ResourceKind::Image => "image.openstack.org/v2",
            ResourceKind::Volume | ResourceKind::Snapshot => "volume.openstack.org/v3",
        }
    }
}

/// One OpenStack resource, with what the report and the cleanup need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub kind: ResourceKind,
    pub id: String,
    /// Empty for the volumes the controller creates.
    pub name: String,
    /// GiB for volumes and snapshots, bytes rounded up to GiB for images.
    pub size_gib: Option<u64>,
    pub status: String,
    pub created_at: Option<String>,
    /// Volumes: the snapshot they were made from.
    pub snapshot_id: Option<String>,
    /// Volumes: attached to a server.
    pub attached: bool,
    /// The VM name parsed from the import-controller name (or the snapshot's, for volumes).
    pub vm: String,
}

impl Resource {
    pub fn created(&self) -> Option<jiff::Timestamp> {
        let t = self.created_at.as_deref()?;
        t.parse::<jiff::Timestamp>()
            .ok()
            // Cinder prints times without an offset ("2026-11-20T08:00:00.000000"): UTC.
            .or_else(|| {
                t.parse::<jiff::civil::DateTime>()
                    .ok()
                    .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
                    .map(|z| z.timestamp())
            })
    }
}

/// `import-controller-<vm>-<i>` -> `<vm>`.
pub fn vm_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PREFIX)?;
    let (vm, index) = rest.rsplit_once('-')?;
    (!vm.is_empty() && !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())).then_some(vm)
}

/// `import-controller-<vm>-<i>` -> `<i>`, the index of the attached volume the controller
/// exported (`fmt.Sprintf("import-controller-%s-%d", vm.Spec.VirtualMachineName, index)` in
/// harvester/vm-import-controller `pkg/source/openstack/client.go`). `None` when the name is not
/// the controller's or the index does not fit a `usize`.
pub fn index_of(name: &str) -> Option<usize> {
    vm_of(name)?;
    name.rsplit_once('-')?.1.parse().ok()
}

/// The name the controller gives the snapshot and the image of attached volume `index`.
pub fn resource_name(vm: &str, index: usize) -> String {
    format!("{PREFIX}{vm}-{index}")
}

/// What `--openstack` found, per OpenstackSource (`namespace/name`).
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub sources: BTreeMap<String, SourceState>,
}

#[derive(Debug, Clone)]
pub enum SourceState {
    /// The import-controller resources of the source's project.
    Listed(Vec<Resource>),
    /// Could not be read.
    Failed(Unchecked),
}

/// Why `--openstack` could not check a source's project; the reason never contains credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked {
    pub kind: UncheckedKind,
    pub reason: String,
}

/// The kind of failure, for evidence (`openstack-unchecked:<kind>`) and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UncheckedKind {
    /// The OpenstackSource or its credentials Secret could not be read, or lacks a field.
    Source,
    /// Keystone refused the login, or a request was refused (401, 403).
    Auth,
    /// A service is missing from the catalog, or its endpoint or version answers 404.
    Endpoint,
    /// 5xx answers or connection failures, after retries.
    Unavailable,
    /// Anything else (an unexpected answer, a local error).
    Failed,
}

impl UncheckedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UncheckedKind::Source => "source",
            UncheckedKind::Auth => "auth",
            UncheckedKind::Endpoint => "endpoint",
            UncheckedKind::Unavailable => "unavailable",
            UncheckedKind::Failed => "failed",
        }
    }

    /// For finding messages.
    pub fn describe(self) -> &'static str {
        match self {
            UncheckedKind::Source => "its OpenstackSource or credentials Secret could not be read",
            UncheckedKind::Auth => "the OpenStack login or a request was refused",
            UncheckedKind::Endpoint => "an OpenStack service endpoint is missing",
            UncheckedKind::Unavailable => "OpenStack kept failing, with 5xx answers or no connection, after retries",
            UncheckedKind::Failed => "OpenStack gave an unexpected answer",
        }
    }

    /// From an HTTP status (`None`: no answer).
    pub fn of_status(status: Option<u16>) -> UncheckedKind {
        match status {
            None => UncheckedKind::Unavailable,
            Some(401 | 403) => UncheckedKind::Auth,
            Some(404) => UncheckedKind::Endpoint,
            Some(s) if s >= 500 => UncheckedKind::Unavailable,
            Some(_) => UncheckedKind::Failed,
        }
    }
}
