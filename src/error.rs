//! Library errors. Every variant names what it was about (a file, a flag, a kind) so the
//! user can act on it; none ever carries a credential.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a support bundle or readable zip archive: {reason}")]
    Zip { path: PathBuf, reason: String },
    #[error("{path}: not a readable .tar.gz archive: {reason}")]
    Archive { path: PathBuf, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("invalid value for {what}: {reason}")]
    Usage { what: String, reason: String },
    #[error("cannot load the Kubernetes client configuration: {0}")]
    Config(String),
    #[error("cannot reach the cluster: {0}")]
    Unreachable(String),
    #[error("cannot render the report as {format}: {reason}")]
    Render { format: String, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
