//! harvester-hygiene: finds Harvester HCI failure modes that generic Kubernetes linters
//! miss, explains them, and (later) fixes the safe ones.
//!
//! Data flows one way: [`inventory`] (gather) → [`rules`] (judge) → [`report`] (render).
//! The `kubectl-harvester-hygiene` binary and the in-cluster job are thin layers over
//! [`scan`].

pub mod config;
pub mod error;
pub mod inventory;
pub mod meta;
pub mod publish;
pub mod remedy;
pub mod report;
pub mod rules;
pub mod scan;
pub mod version;

pub use error::{Error, Result};
