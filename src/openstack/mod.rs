//! The OpenStack side of `import-openstack-leak` (opt-in with `--openstack`).
//!
//! Gathering reads each OpenstackSource referenced by an OpenStack import, its credentials
//! Secret, and lists the project's Cinder snapshots, Cinder volumes and Glance images
//! (`client`). Only the resources the vm-import-controller makes are kept: snapshots and
//! images named `import-controller-<vm>-<i>`, and the unnamed volumes made from those
//! snapshots. The rule maps them back to imports; `fix` deletes them (image, volume, then
//! snapshot).
//!
//! Credentials live only in memory, inside the SDK's secret types; they never reach logs,
//! reports or error messages ([`Credentials`] has a redacting `Debug`).

pub mod client;
pub mod gather;

use std::fmt;

pub use client::Client;
pub use gather::{Options, gather};

pub use crate::inventory::openstack::{
    Inventory, POLLING_TIMEOUT_HOURS, PREFIX, Resource, ResourceKind, SourceState, Unchecked, UncheckedKind, index_of,
    resource_name, vm_of,
};

/// Keystone v3 password credentials from the OpenstackSource's Secret.
#[derive(Clone)]
pub struct Credentials {
    pub endpoint: String,
    pub region: Option<String>,
    pub username: String,
    pub password: String,
    pub project_name: String,
    pub domain_name: String,
    pub ca_cert: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("project_name", &self.project_name)
            .field("domain_name", &self.domain_name)
            .field("ca_cert", &self.ca_cert.as_ref().map(|_| "<pem>"))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("OpenstackSource {source_key}: {reason}")]
    Source { source_key: String, reason: String },
    #[error("OpenStack {what}: {reason}")]
    Api {
        what: String,
        status: Option<u16>,
        kind: UncheckedKind,
        reason: String,
    },
}

impl Error {
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => *status,
            Error::Source { .. } => None,
        }
    }

    /// What the failure leaves unchecked, for the report.
    pub fn unchecked(&self) -> Unchecked {
        let kind = match self {
            Error::Api { kind, .. } => *kind,
            Error::Source { .. } => UncheckedKind::Source,
        };
        // The SDK's messages span lines (`\n\turi: ...`): one line for notes and reports.
        Unchecked {
            kind,
            reason: self.to_string().split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_names_parse_like_the_controller_writes_them() {
        assert_eq!(vm_of("import-controller-web-01-0"), Some("web-01"));
        assert_eq!(vm_of("import-controller-3f2a-uuid-12"), Some("3f2a-uuid"));
        assert_eq!(vm_of("import-controller-web"), None);
        assert_eq!(vm_of("import-controller--0"), None);
        assert_eq!(vm_of("import-controller-web-x"), None);
        assert_eq!(vm_of("other-web-0"), None);
        assert_eq!(index_of("import-controller-web-01-0"), Some(0));
        assert_eq!(index_of("import-controller-3f2a-uuid-12"), Some(12));
        assert_eq!(index_of("import-controller-web-x"), None);
        assert_eq!(index_of("import-controller-web-99999999999999999999999"), None);
        assert_eq!(resource_name("web-01", 2), "import-controller-web-01-2");
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            endpoint: "https://keystone".into(),
            region: None,
            username: "u".into(),
            password: "hunter2".into(),
            project_name: "p".into(),
            domain_name: "d".into(),
            ca_cert: Some("-----BEGIN".into()),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn cinder_times_without_offset_are_utc() {
        let r = Resource {
            kind: ResourceKind::Snapshot,
            id: "s".into(),
            name: String::new(),
            size_gib: None,
            status: "available".into(),
            created_at: Some("2026-11-20T08:00:00.000000".into()),
            snapshot_id: None,
            attached: false,
            vm: String::new(),
        };
        assert_eq!(r.created().map(|t| t.to_string()), Some("2026-11-20T08:00:00Z".into()));
    }
}
