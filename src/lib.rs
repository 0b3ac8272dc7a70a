//! harvester-hygiene: finds Harvester HCI failure modes that generic Kubernetes linters
//! miss, explains them, and fixes the safe ones.
//!
//! Data flows one way: [`inventory`] (gather) → [`rules`] (judge, with [`config`]) →
//! [`report`] (render) → [`remedy`] (fix) and [`publish`] (the job's outputs). The leaves
//! [`meta`], [`finding`], [`version`], [`quantity`] and [`error`] depend on nothing above them.
//! `tests/architecture.rs` checks the graph. The `kubectl-harvester-hygiene` binary and the
//! in-cluster job are thin layers over [`scan`]; [`dump`] writes what a scan reads, for offline
//! scans with the same coverage. CONTRIBUTING.md has the recipes.

pub mod config;
pub mod dump;
pub mod error;
pub mod finding;
pub mod inventory;
pub mod lint;
pub mod meta;
pub mod openstack;
pub mod probe;
pub mod publish;
pub mod quantity;
pub mod rancher;
pub mod remedy;
pub mod report;
pub mod rules;
pub mod scan;
pub mod version;

pub use error::{Error, Result};

/// Pick rustls' ring provider for the process. kube uses ring and openstack_sdk's HTTP client
/// aws-lc-rs; with both compiled in, rustls cannot choose on its own. Call before building a
/// client (connecting does); calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
