//! The pure cryptographic core of escrow: no IO, no async, no storage.
//!
//! - [`keys`]: epoch key sets, dealer key generation, trustee key shares.
//! - [`label`]: the canonical description of a message and the scope check.
//! - [`compartment`]: keys that need a quorum from each of two groups of trustees.
//! - [`field`]: the labeled threshold escrow field, decryption shares, combination.
//! - [`envelope`]: the end-to-end encrypted message that carries the field.
//! - [`warrant`]: court-signed warrants and the [`VerifiedWarrant`] type.
//! - [`sealed`]: secrets sealed at rest under a passphrase (argon2id) or key file.
//!
//! Every blob begins with a version byte and a two-byte algorithm id ([`wire::Alg`]);
//! every curve point is decoded with on-curve and subgroup checks; every length is
//! bounded; no input makes these functions panic. Formats: `docs/protocol.md`.
//!
//! ```
//! use escrow_crypto::*;
//! # fn main() -> Result<(), Error> {
//! let mut rng = rand::rngs::OsRng;
//! // Weak mode: a dealer splits the epoch key among n = 5 trustees, 3 needed.
//! let keys = dealer_keygen(EpochId(1), 2, 5, &mut rng)?;
//! let alice = UserSecretKey::generate(PartyId::new("alice")?, &mut rng);
//! let bob = UserSecretKey::generate(PartyId::new("bob")?, &mut rng);
//! let env = Envelope::seal(
//!     &SealRequest {
//!         sender: &alice,
//!         recipients: &[bob.public()],
//!         epoch_key: &keys.public,
//!         message_id: [1; 16],
//!         timestamp: 1_767_225_600,
//!         plaintext: b"hello",
//!     },
//!     &mut rng,
//! )?;
//! // Bob opens it (and checks the escrow field carries the real key).
//! assert_eq!(env.open(&bob, &alice.public(), &keys.public)?, b"hello");
//! // Three trustees each release a share; any three open it, two do not.
//! let shares: Vec<DecryptionShare> = [0, 2, 4]
//!     .iter()
//!     .map(|&i| keys.shares[i].decrypt_share(&keys.public, env.field(), env.label()))
//!     .collect::<Result<_, _>>()?;
//! let opened = keys.public.combine(env.field(), env.label(), &shares)?;
//! assert_eq!(env.open_with_data_key(&opened.data_key, &alice.public(), &keys.public)?, b"hello");
//! assert!(keys.public.combine(env.field(), env.label(), &shares[..2]).is_err());
//! # Ok(())
//! # }
//! ```

pub mod announce;
pub mod compartment;
pub mod day;
pub mod dkg;
pub mod domain_envelope;
pub mod envelope;
pub mod error;
pub mod field;
pub mod id;
pub mod jurisdiction;
pub mod keys;
pub mod label;
pub mod recover;
pub mod sealed;
pub mod trustee_key;
pub mod warrant;
pub mod wire;

pub use announce::{Announcement, Modes, SignedAnnouncement, VerifiedAnnouncement};
pub use compartment::{
    compartmented_dealer_keygen, Compartment, CompartmentedDealerOutput, CompartmentedOpened, CompartmentedPublicKey,
    GroupSpec,
};
pub use day::{day_of, DayField, DayId, DayKey, ExtractionShare};
pub use domain_envelope::{DomainEnvelope, DomainSealRequest, Resident};
pub use envelope::{Envelope, MakeDayField, SealRequest, UserPublicKey, UserSecretKey};
pub use error::{DecodeError, Error, WarrantTimeError};
pub use field::{verify_fields, DataKey, DecryptionShare, EscrowField, FieldCheck, Opened};
pub use id::PartyId;
pub use jurisdiction::{opens_alone, required_domains, Domain, DomainTag, Jurisdictions, Rule};
pub use keys::{dealer_keygen, DealerOutput, EpochId, EpochPublicKey, TrusteeIndex, TrusteeKeyShare};
pub use label::{Label, MessageId, MessageLabel, Scope, ScopeError, TimeWindow};
pub use recover::{RecoverItem, Recovered};
pub use trustee_key::{TrusteePins, TrusteeSigningKey, TrusteeVerifyingKey};
pub use warrant::{
    peek_warrant_id, peek_warrant_targets, CourtPublicKey, CourtSecretKey, VerifiedWarrant, WarrantBody, WarrantId,
};
