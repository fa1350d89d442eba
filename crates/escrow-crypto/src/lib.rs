//! The pure cryptographic core of escrow: no IO, no async, no storage.
//!
//! - [`keys`]: epoch key sets, dealer key generation, trustee key shares.
//! - [`label`]: the canonical description of a message and the scope check.
//! - [`field`]: the labeled threshold escrow field, decryption shares, combination.
//! - [`envelope`]: the end-to-end encrypted message that carries the field.
//! - [`warrant`]: court-signed warrants and the [`VerifiedWarrant`] type.
//!
//! Every blob begins with a version byte and a two-byte algorithm id ([`wire::Alg`]);
//! every curve point is decoded with on-curve and subgroup checks; every length is
//! bounded; no input makes these functions panic. Formats: `docs/protocol.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic))]

pub mod envelope;
pub mod error;
pub mod field;
pub mod id;
pub mod keys;
pub mod label;
pub mod warrant;
pub mod wire;

pub use envelope::{Envelope, SealRequest, UserPublicKey, UserSecretKey};
pub use error::{DecodeError, Error, WarrantTimeError};
pub use field::{DataKey, DecryptionShare, EscrowField, Opened};
pub use id::PartyId;
pub use keys::{dealer_keygen, DealerOutput, EpochId, EpochPublicKey, TrusteeIndex, TrusteeKeyShare};
pub use label::{Label, MessageId, Scope, ScopeError, TimeWindow};
pub use warrant::{CourtPublicKey, CourtSecretKey, VerifiedWarrant, WarrantBody, WarrantId};
