//! What can go wrong while standing up or driving a deployment, naming the part.

use std::path::PathBuf;

/// A kit failure: which file, process, party or call, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KitError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate could not be issued.
    #[error("certificates: {0}")]
    Pki(#[from] escrow_pki::PkiError),
    /// Keys, warrants or envelopes could not be made.
    #[error("{0}")]
    Crypto(#[from] escrow_crypto::Error),
    /// A client channel could not be built.
    #[error("transport: {0}")]
    Transport(#[from] escrow_service::transport::TransportError),
    /// A server could not be started in this process.
    #[error("{name} did not start: {why}")]
    Start {
        /// The node.
        name: String,
        /// Why.
        why: String,
    },
    /// A child process exited or never announced its address.
    #[error("{name}: {why}; see {}", .log.display())]
    Process {
        /// The node.
        name: String,
        /// What happened.
        why: String,
        /// Its log file.
        log: PathBuf,
    },
    /// A call a party made was refused.
    #[error("{what}: {status}")]
    Rpc {
        /// Who called what.
        what: String,
        /// The answer.
        status: tonic::Status,
    },
    /// The user client library refused something.
    #[error("{0}")]
    User(#[from] escrow_user::UserError),
    /// The agency client library refused something.
    #[error("{0}")]
    Agency(#[from] escrow_agency::AgencyError),
    /// A name the kit does not know (a user, a trustee index, an epoch).
    #[error("unknown {what}: {name}")]
    Unknown {
        /// What kind of thing.
        what: &'static str,
        /// The name asked for.
        name: String,
    },
}

impl KitError {
    /// An IO error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        KitError::Io { path: path.into(), source }
    }
}
