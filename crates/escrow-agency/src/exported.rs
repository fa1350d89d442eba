//! What the open pipeline carries: an exported envelope of either kind, a
//! single-domain [`Envelope`] or a [`DomainEnvelope`] with one field per escrow
//! domain, and the three things the pipeline needs of it, decided here once for both
//! kinds so that `open.rs` stays one pipeline:
//!
//! - the item the trustees are asked about ([`Exported::escrow`]): the envelope's
//!   field, or for a domain envelope the field of the agency's domain. An envelope the
//!   agency's trustees cannot answer for (no field for its domain, or the wrong kind
//!   for how the agency is set) fails at once and is never sent to them: they would
//!   refuse it (`escrow_trustee::rules::check_domain`), and asking costs a round trip
//!   and tells them about a message that is not theirs;
//! - the label its epoch is looked up by and the opened message is reported with: the
//!   envelope's label, or the domain field's label v2 (sender, recipients, time,
//!   epoch, and the domain);
//! - the open step with the key the shares recovered ([`Exported::open`]).

use escrow_crypto::{
    DataKey, Domain, DomainEnvelope, Envelope, EpochPublicKey, Error as CryptoError, EscrowField, Label, MessageId,
    PartyId, Recovered, Rule, UserPublicKey,
};

use crate::{ForeignFieldKeys, NotOpened};

/// An envelope from the relay's export, of either kind.
// Both variants are a few hundred bytes and held a batch at a time, as the pipeline
// held single-domain envelopes before; boxing one would add an allocation per
// envelope to save nothing the pipeline's bounds care about.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub(crate) enum Exported {
    /// A single-domain envelope (alg 0x0006, or 0x0016 with day fields).
    Single(Envelope),
    /// An envelope with one escrow field per domain its rule requires (alg 0x0019).
    Domain(DomainEnvelope),
}

impl Exported {
    /// Decodes `bytes` by the algorithm id it starts with (after the version byte):
    /// 0x0019 as a [`DomainEnvelope`], anything else as an [`Envelope`], whose decoder
    /// accepts its own two ids and names any other as the wrong algorithm. One decoder
    /// per blob, so the error is that decoder's, not a guess's.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if escrow_crypto::wire::names(bytes, escrow_crypto::wire::Alg::DomainEnvelope) {
            DomainEnvelope::from_bytes(bytes).map(Exported::Domain)
        } else {
            Envelope::from_bytes(bytes).map(Exported::Single)
        }
    }

    /// The sender, whose key the relay's export carries.
    pub(crate) fn sender(&self) -> &PartyId {
        match self {
            Exported::Single(e) => e.label().sender(),
            Exported::Domain(e) => e.message().sender(),
        }
    }

    /// The single-domain envelope, for the day mode (domain envelopes carry no day
    /// fields).
    pub(crate) fn single(&self) -> Option<&Envelope> {
        match self {
            Exported::Single(e) => Some(e),
            Exported::Domain(_) => None,
        }
    }

    /// The label and field the trustees of an agency set to `domain` (`None`: a
    /// one-domain deployment) are asked about, or why the envelope cannot be opened
    /// by it, decided before anyone is asked.
    pub(crate) fn escrow(&self, domain: Option<&Domain>) -> Result<(&Label, &EscrowField), NotOpened> {
        match (self, domain) {
            (Exported::Single(e), None) => Ok((e.label(), e.field())),
            // A domain's trustees answer for no label v1 (it names no homes).
            (Exported::Single(_), Some(d)) => Err(NotOpened::NotADomainEnvelope(d.to_string())),
            // Which of its fields would be ours is not decided by anything here.
            (Exported::Domain(_), None) => Err(NotOpened::NoAgencyDomain),
            (Exported::Domain(e), Some(d)) => e.field_for(d).ok_or_else(|| NotOpened::NoFieldForDomain(d.to_string())),
        }
    }

    /// Opens the envelope with `key`, which [`EpochPublicKey::recover_many`] recovered
    /// for [`escrow`](Self::escrow)'s field (and checked it carries), `epk` being that
    /// field's epoch key. A domain envelope under all-of with fields for other domains
    /// opens only with their keys too: from `foreign`, for this message, each checked
    /// against its own field; without them it is [`NotOpened::NeedsOtherDomains`].
    pub(crate) fn open(
        &self,
        domain: Option<&Domain>,
        epk: &EpochPublicKey,
        key: &Recovered,
        sender: &UserPublicKey,
        foreign: &ForeignFieldKeys,
    ) -> Result<Vec<u8>, NotOpened> {
        let (env, ours) = match (self, domain) {
            (Exported::Single(e), None) => return e.open_recovered(key, sender).map_err(NotOpened::Decrypt),
            (Exported::Domain(e), Some(d)) => (e, d),
            // `escrow` refused these before any trustee was asked.
            (_, _) => return Err(self.escrow(domain).err().unwrap_or(NotOpened::Internal)),
        };
        let mut keys: Vec<(&Domain, &EpochPublicKey, &DataKey)> = vec![(ours, epk, key.data_key())];
        if env.message().rule() == Rule::AllOf {
            keys.extend(foreign.for_message(env.message().message_id(), ours));
        }
        match env.open_with_field_keys(&keys, sender) {
            Ok(pt) => Ok(pt),
            // Checked after the signature and every key given: the message is genuine
            // and our part is right, only the other domains' parts are missing.
            Err(CryptoError::MissingField(_)) => Err(NotOpened::NeedsOtherDomains(
                env.domains().filter(|d| !keys.iter().any(|(k, _, _)| k == d)).map(Domain::to_string).collect(),
            )),
            Err(e) => Err(NotOpened::Decrypt(e)),
        }
    }

    /// A domain envelope's message id, which every field's label shares and which
    /// [`crate::FieldKey`]s name; `None` for a single-domain envelope.
    pub(crate) fn message_id(&self) -> Option<&MessageId> {
        match self {
            Exported::Single(_) => None,
            Exported::Domain(e) => Some(e.message().message_id()),
        }
    }
}
