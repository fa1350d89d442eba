//! What a trustee starts with, and every check of it that needs no database, made
//! before anything is created or written ([`TrusteeConfig::check`]). `escrow trustee
//! serve` and the in-process kit both start a trustee through it; the checks that
//! need the database (what it installed before, the ceremony shares it seals) run
//! when the service starts on it (`Trustee::start_checked`, in `node.rs`).

use escrow_log::CheckpointSigner;
use escrow_pki::Role;
use escrow_service::transport::Credentials;
use sha2::{Digest, Sha256};

use crate::ceremony::CeremonyKeys;
use crate::policy::Policy;
use crate::rules::EpochKeys;
use crate::store::{Store, StoreError};
use crate::witnessing::WitnessConfig;

/// What a trustee starts with.
#[derive(Debug)]
pub struct TrusteeConfig {
    /// Its policy.
    pub policy: Policy,
    /// The epochs it holds from dealt key-share files (ceremony epochs come from its
    /// database).
    pub epochs: Vec<EpochKeys>,
    /// Its ceremony keys (signing key, pinned trustee keys, sealing key), if it takes
    /// part in key ceremonies.
    pub ceremony: Option<CeremonyKeys>,
    /// Its witnesses, if it publishes its checkpoints and releases only under a
    /// witnessed approval.
    pub witnesses: Option<WitnessConfig>,
}

/// A [`TrusteeConfig`] that passed [`TrusteeConfig::check`]; only the check makes one.
#[derive(Debug)]
pub struct CheckedConfig(TrusteeConfig);

impl CheckedConfig {
    pub(crate) fn into_inner(self) -> TrusteeConfig {
        self.0
    }

    /// The checked policy.
    pub fn policy(&self) -> &Policy {
        &self.0.policy
    }
}

impl TrusteeConfig {
    /// Every start-up check that needs no database, writing nothing:
    /// - `credentials` are this trustee's own server certificate;
    /// - each key share matches its epoch key and the policy's `key_index`;
    /// - `log_key` signs as this trustee's log: its origin (`escrow-trustee/<id>`), or
    ///   its id for a key made before witnesses existed;
    /// - the ceremony signing key, if any, signs for this trustee and is the very key
    ///   the federation pins for it.
    pub fn check(self, credentials: &Credentials, log_key: &CheckpointSigner) -> Result<CheckedConfig, StartError> {
        let me = &self.policy.trustee_id;
        check_certificate(&self.policy, credentials)?;
        check_epochs(&self.policy, &self.epochs, None)?;
        let origin = escrow_log::trustee_origin(me.as_str());
        if log_key.name() != origin && log_key.name() != me.as_str() {
            return Err(StartError::WrongLogKey { signs_as: log_key.name().to_owned(), trustee: me.to_string() });
        }
        if let Some(keys) = &self.ceremony {
            if keys.signing.trustee() != me {
                return Err(StartError::WrongSigningKey {
                    signs_for: keys.signing.trustee().to_string(),
                    trustee: me.to_string(),
                });
            }
            if keys.pins.get(me) != Some(&keys.signing.public()) {
                return Err(StartError::SigningKeyNotPinned { trustee: me.to_string() });
            }
        }
        Ok(CheckedConfig(self))
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A key share does not match its epoch key.
    #[error("key share: {0}")]
    Key(#[from] escrow_crypto::Error),
    /// The store refused the epochs (destroyed, another key, another share index) or
    /// could not record them.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A share's index is not the one the policy pins (`key_index`).
    #[error("the key share for epoch {epoch} has index {share}, but the policy says this trustee is index {policy} (another trustee's share file?)")]
    WrongKeyIndex {
        /// The epoch.
        epoch: u64,
        /// The share's index.
        share: u16,
        /// The policy's `key_index`.
        policy: u16,
    },
    /// The data directory holds shares made by a key ceremony, sealed under its key,
    /// and the trustee was started without the ceremony keys to open them.
    #[error("the data directory holds {0} epoch share(s) made by a key ceremony; start with the trustee's ceremony keys (--signing-key) to open them")]
    CeremonyKeysMissing(usize),
    /// A stored ceremony share does not open with the sealing key the trustee was
    /// started with: the database and the sealing key are not of one data directory
    /// (a copied or restored file). Its own variant so that whoever knows the files'
    /// paths (the CLI) can name both; the AEAD failure itself says nothing more.
    #[error("ceremony epoch {epoch}: the share stored in the database does not open with the sealing key (decryption failed): the database and the sealing key do not belong together")]
    CeremonyShareSeal {
        /// The epoch.
        epoch: u64,
    },
    /// A stored ceremony share does not match its key set, or its announcement does
    /// not decode.
    #[error("ceremony epoch {epoch}: {why}")]
    CeremonyKey {
        /// The epoch.
        epoch: u64,
        /// What is wrong.
        why: String,
    },
    /// A stored ceremony share's index is not this trustee's position among the
    /// holders of the epoch's signed announcement: another trustee's share.
    #[error("ceremony epoch {epoch}: the stored share has index {share}, but {trustee} is {} of the signed announcement (another trustee's trustee.db and seal.key?)", match .position { Some(p) => format!("holder {p}"), None => "not a holder".to_string() })]
    NotTheHolder {
        /// The epoch.
        epoch: u64,
        /// The stored share's index.
        share: u16,
        /// This trustee (the policy's `trustee_id`).
        trustee: String,
        /// Its position among the announcement's holders, if it is one.
        position: Option<u16>,
    },
    /// An epoch given as a key-share file was made by a key ceremony here too.
    #[error("epoch {0} is given as a key-share file but this trustee holds it from a key ceremony")]
    EpochTwice(u64),
    /// The TLS certificate is not this trustee's.
    #[error("the certificate names {certificate}, but the policy says this is trustee {policy}")]
    WrongCertificate {
        /// Whom the certificate names.
        certificate: String,
        /// The policy's `trustee_id`.
        policy: String,
    },
    /// The log key does not sign as this trustee's log.
    #[error("this log key signs as {signs_as:?}, but the policy says this is trustee {trustee}")]
    WrongLogKey {
        /// The name the key signs as.
        signs_as: String,
        /// The policy's `trustee_id`.
        trustee: String,
    },
    /// The ceremony signing key signs for another trustee.
    #[error("this signing key signs for {signs_for}, but the policy says this is trustee {trustee}")]
    WrongSigningKey {
        /// The trustee the key signs for.
        signs_for: String,
        /// The policy's `trustee_id`.
        trustee: String,
    },
    /// The ceremony signing key is not the one the federation pins for this trustee.
    #[error("this signing key is not the one pinned for {trustee}")]
    SigningKeyNotPinned {
        /// The policy's `trustee_id`.
        trustee: String,
    },
}

/// Checks that `credentials` are this trustee's own server certificate, before anything
/// is created or written.
pub fn check_certificate(
    policy: &Policy,
    credentials: &escrow_service::transport::Credentials,
) -> Result<(), StartError> {
    match credentials.identity() {
        Some(me) if me.is(Role::Trustee, &policy.trustee_id) => Ok(()),
        other => Err(StartError::WrongCertificate {
            certificate: other.map(ToString::to_string).unwrap_or_else(|| "nobody".into()),
            policy: policy.trustee_id.to_string(),
        }),
    }
}

/// Checks, writing nothing, that the key shares match their epoch keys and the
/// policy's `key_index`, and (with `store`) what that store installed before.
pub fn check_epochs(policy: &Policy, epochs: &[EpochKeys], store: Option<&Store>) -> Result<(), StartError> {
    for e in epochs {
        e.share.check_against(&e.public)?;
        if let Some(k) = policy.key_index {
            if e.share.index().0 != k {
                return Err(StartError::WrongKeyIndex {
                    epoch: e.public.epoch().0,
                    share: e.share.index().0,
                    policy: k,
                });
            }
        }
    }
    if let Some(store) = store {
        store.check_epochs(&loaded(epochs))?;
    }
    Ok(())
}

/// (epoch, SHA-256 of the epoch public key, share index) of each epoch, as the store
/// records them.
pub(crate) fn loaded(epochs: &[EpochKeys]) -> Vec<(u64, [u8; 32], u16)> {
    epochs.iter().map(|e| (e.public.epoch().0, Sha256::digest(e.public.to_bytes()).into(), e.share.index().0)).collect()
}
