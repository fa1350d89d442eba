//! The envelope of a deployment with several escrow domains: one escrow field per
//! domain the rule requires (`jurisdiction.rs`), each under its own domain's key and
//! label.
//!
//! ```text
//! header = version ‖ alg 0x0019 ‖ message label (bytes16)
//!          ‖ m (1) ‖ m × (domain (str8) ‖ epoch (8) ‖ escrow field (176))
//!          ‖ ephemeral P-256 key ‖ count (1) ‖ count × (recipient (str8) ‖ wrapped MK (48))
//! body   = AES-256-GCM(DK, nonce 0, plaintext, AAD = header)
//! sig    = ECDSA-P256-SHA256(sender, DOMAIN_SIG_DST ‖ header ‖ body length ‖ body)
//! ```
//!
//! Field `i`'s label is the message label with field domain `d_i` and epoch `e_i`
//! ([`MessageLabel::field_label`]); domains are strictly ascending. Recipients get the
//! message key `MK`, wrapped as in the single-domain envelope with the message label
//! as AAD; the fields carry `MK` (any-of, home-of-sender) or its all-of parts, and the
//! body key `DK` follows from them ([`crate::jurisdiction`]).
//!
//! A recipient ([`DomainEnvelope::open`]) refuses the message unless the rule is the
//! deployment's, every party's home is the one certified for it, the fields are for
//! exactly the domains the rule requires (none stripped, none added), and each field
//! carries its key under its own domain's current key and label.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::Nonce;
use p256::ecdsa::Signature;
use p256::{PublicKey, SecretKey};
use rand::{CryptoRng, RngCore};

use crate::envelope::{
    aead, check_sender, read_tail, read_wraps, sec1, sign, unwrap_for, wrap_for, Tail, UserPublicKey, UserSecretKey,
    MAX_PLAINTEXT_LEN, TAG_LEN, WRAPPED_LEN, ZERO_NONCE,
};
use crate::error::{DecodeError, Error};
use crate::field::{DataKey, EscrowField, ESCROW_FIELD_LEN};
use crate::id::PartyId;
use crate::jurisdiction::{body_key, field_keys, Domain, Jurisdictions, MAX_DOMAINS};
use crate::keys::{EpochId, EpochPublicKey};
use crate::label::{Label, MessageId, MessageLabel, MAX_MESSAGE_LABEL_LEN, MAX_RECIPIENTS};
use crate::wire::{Alg, Reader, Writer};

const DOMAIN_SIG_DST: &[u8] = b"escrow/v2/domain-envelope-signature\0";
/// One field entry: domain (str8), epoch, the field without its 3-byte header.
const FIELD_ENTRY_MAX: usize = 17 + 8 + ESCROW_FIELD_LEN - 3;
/// Largest encoded envelope with domain fields.
pub const MAX_DOMAIN_ENVELOPE_LEN: usize = 3
    + 2
    + MAX_MESSAGE_LABEL_LEN
    + 1
    + MAX_DOMAINS * FIELD_ENTRY_MAX
    + 33
    + 1
    + MAX_RECIPIENTS * (65 + WRAPPED_LEN)
    + 4
    + MAX_PLAINTEXT_LEN
    + TAG_LEN
    + 64;

/// A party and the home its certificate names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resident {
    /// The party's public identity.
    pub key: UserPublicKey,
    /// Its certified home domain.
    pub home: Domain,
}

/// What a caller supplies to seal a message in a deployment of several domains.
#[derive(Debug)]
pub struct DomainSealRequest<'a> {
    /// The sender's secret keys.
    pub sender: &'a UserSecretKey,
    /// The sender's certified home.
    pub sender_home: &'a Domain,
    /// Every recipient with its certified home (1 to 32, distinct).
    pub recipients: &'a [Resident],
    /// The deployment's rule and each domain's current epoch key.
    pub jurisdictions: &'a Jurisdictions,
    /// A fresh random message id.
    pub message_id: MessageId,
    /// Send time, unix seconds.
    pub timestamp: u64,
    /// The message.
    pub plaintext: &'a [u8],
}

/// One field as a rogue client may rewrite it before signing (see
/// [`DomainEnvelope::seal_dangerous_with_fields`]).
#[cfg(feature = "dangerous")]
#[derive(Clone, Debug)]
pub struct FieldEntry {
    /// The domain the entry names.
    pub domain: Domain,
    /// The epoch the entry names.
    pub epoch: EpochId,
    /// The field.
    pub field: EscrowField,
}

/// A decoded envelope with domain fields, holding its exact bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct DomainEnvelope {
    raw: Vec<u8>,
    header_len: usize,
    signed_len: usize,
    message: MessageLabel,
    message_bytes_len: usize,
    /// Bytes of the field count and entries.
    fields_len: usize,
    /// Ascending by domain; each with the label its field is bound to.
    fields: Vec<(Label, EscrowField)>,
    ephemeral: PublicKey,
    wraps: Vec<(PartyId, [u8; WRAPPED_LEN])>,
    body_start: usize,
    signature: Signature,
}

impl fmt::Debug for DomainEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainEnvelope")
            .field("message", &self.message)
            .field("fields", &self.domains().collect::<Vec<_>>())
            .field("body_len", &(self.signed_len - self.body_start))
            .finish_non_exhaustive()
    }
}

impl DomainEnvelope {
    /// Seals a message with honest fields for exactly the domains the rule requires.
    pub fn seal<R: RngCore + CryptoRng>(req: &DomainSealRequest<'_>, rng: &mut R) -> Result<Self, Error> {
        Self::seal_inner(req, rng, |_, _| {})
    }

    /// Seals, then lets the caller rewrite the field list before the sender signs:
    /// **dangerous**, the rogue client that strips a field, adds one, or moves one to
    /// another domain. Behind the `dangerous` feature, for the demos and tests that
    /// show honest recipients refusing such envelopes.
    #[cfg(feature = "dangerous")]
    pub fn seal_dangerous_with_fields<R: RngCore + CryptoRng>(
        req: &DomainSealRequest<'_>,
        rng: &mut R,
        edit: impl FnOnce(&MessageLabel, &mut Vec<FieldEntry>),
    ) -> Result<Self, Error> {
        Self::seal_inner(req, rng, |m, fields| {
            let mut entries: Vec<FieldEntry> =
                fields.drain(..).map(|(domain, epoch, field)| FieldEntry { domain, epoch, field }).collect();
            edit(m, &mut entries);
            fields.extend(entries.into_iter().map(|e| (e.domain, e.epoch, e.field)));
        })
    }

    fn seal_inner<R: RngCore + CryptoRng>(
        req: &DomainSealRequest<'_>,
        rng: &mut R,
        edit: impl FnOnce(&MessageLabel, &mut Vec<(Domain, EpochId, EscrowField)>),
    ) -> Result<Self, Error> {
        if req.plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(Error::InvalidInput { what: "plaintext", reason: "longer than 1 MiB" });
        }
        let message = MessageLabel::new(
            req.message_id,
            (req.sender.id.clone(), req.sender_home.clone()),
            req.recipients.iter().map(|r| (r.key.id.clone(), r.home.clone())),
            req.timestamp,
            req.jurisdictions.rule(),
        )?;
        let required = req.jurisdictions.required(message.homes())?;
        let domains: Vec<&Domain> = required.iter().map(|(d, _)| *d).collect();
        let mk = DataKey::generate(rng);
        let (keys, dk) = field_keys(message.rule(), &mk, &domains);
        let mut fields = Vec::with_capacity(required.len());
        for ((domain, epk), key) in required.iter().zip(&keys) {
            let label = message.field_label(domain, epk.epoch())?;
            fields.push(((*domain).clone(), epk.epoch(), EscrowField::seal(epk, &label, key)?));
        }
        edit(&message, &mut fields);

        let message_bytes = message.to_bytes();
        let mut w = Writer::new(Alg::DomainEnvelope);
        w.bytes16(&message_bytes);
        w.u8(u8::try_from(fields.len()).map_err(|_| Error::InvalidInput { what: "fields", reason: "too many" })?);
        for (domain, epoch, field) in &fields {
            w.str8(domain.as_str());
            w.u64(epoch.0);
            field.write(&mut w);
        }
        let eph = SecretKey::random(rng);
        let eph_pub = sec1(&eph.public_key());
        w.bytes(&eph_pub);
        w.u8(u8::try_from(message.recipients().len()).expect("at most 32 recipients"));
        for id in message.recipients() {
            let rpk = req
                .recipients
                .iter()
                .find(|r| &r.key.id == id)
                .expect("label recipients come from the request's recipients");
            w.str8(id.as_str());
            w.bytes(&wrap_for(&eph, &eph_pub, &rpk.key, &mk, &message_bytes)?);
        }
        // The body key is fresh for every message, so the all-zero nonce is never reused.
        let body = aead(dk.expose_secret())
            .encrypt(&Nonce::from(ZERO_NONCE), Payload { msg: req.plaintext, aad: w.as_slice() })
            .map_err(|_| Error::InvalidInput { what: "body", reason: "AEAD refused input" })?;
        w.u32(u32::try_from(body.len()).expect("body is at most 1 MiB + tag"));
        w.bytes(&body);
        let sig = sign(&req.sender.signing, DOMAIN_SIG_DST, w.as_slice());
        w.bytes(&sig.to_bytes());
        Self::from_bytes(&w.finish())
    }

    /// Decodes: framing, every point and id, field domains strictly ascending, each a
    /// party's home (the sender's under home-of-sender). Signatures and fields are
    /// checked by [`open`](Self::open), not here.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, Alg::DomainEnvelope, MAX_DOMAIN_ENVELOPE_LEN)?;
        let message_bytes = r.bytes16("message label", MAX_MESSAGE_LABEL_LEN)?;
        let message = MessageLabel::from_bytes(message_bytes)?;
        let fields_start = r.consumed().len();
        let m = usize::from(r.u8("field count")?);
        if m > MAX_DOMAINS {
            return Err(r.err(DecodeError::InvalidValue { field: "field count", reason: "more than 16" }));
        }
        let mut fields: Vec<(Label, EscrowField)> = Vec::with_capacity(m);
        for _ in 0..m {
            let domain = r.domain("field domain")?;
            if fields.last().and_then(|(l, _)| l.domain_tag()).is_some_and(|t| t.domain() >= &domain) {
                return Err(
                    r.err(DecodeError::InvalidValue { field: "field domains", reason: "not strictly ascending" })
                );
            }
            let epoch = EpochId(r.u64("field epoch")?);
            let field = EscrowField::read(&mut r)?;
            let label = message.field_label(&domain, epoch).map_err(|e| match e {
                Error::InvalidInput { reason, .. } => {
                    r.err(DecodeError::InvalidValue { field: "field domain", reason })
                }
                other => other,
            })?;
            fields.push((label, field));
        }
        let fields_len = r.consumed().len() - fields_start;
        let ephemeral = r.p256_point("ephemeral key")?;
        let wraps = read_wraps(&mut r, message.recipients())?;
        let Tail { header_len, body_start, signed_len, signature } = read_tail(r)?;
        Ok(DomainEnvelope {
            raw: bytes.to_vec(),
            header_len,
            signed_len,
            message_bytes_len: message_bytes.len(),
            fields_len,
            message,
            fields,
            ephemeral,
            wraps,
            body_start,
            signature,
        })
    }

    /// The exact bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }
    /// The message label (parties, homes, time, rule).
    pub fn message(&self) -> &MessageLabel {
        &self.message
    }
    /// Every field with the label it is bound to, ascending by domain.
    pub fn fields(&self) -> &[(Label, EscrowField)] {
        &self.fields
    }
    /// The domains the fields are for, ascending.
    pub fn domains(&self) -> impl Iterator<Item = &Domain> {
        self.fields.iter().filter_map(|(l, _)| l.domain_tag().map(|t| t.domain()))
    }
    /// `domain`'s field and its label, if the envelope carries one.
    pub fn field_for(&self, domain: &Domain) -> Option<(&Label, &EscrowField)> {
        self.fields.iter().find(|(l, _)| l.domain_tag().is_some_and(|t| t.domain() == domain)).map(|(l, f)| (l, f))
    }
    /// Bytes the escrow fields add to the envelope: the field count and each entry.
    pub fn escrow_overhead(&self) -> usize {
        self.fields_len
    }

    fn header(&self) -> &[u8] {
        self.raw.get(..self.header_len).expect("offsets computed at decode")
    }
    fn body(&self) -> &[u8] {
        self.raw.get(self.body_start..self.signed_len).expect("offsets computed at decode")
    }
    fn message_bytes(&self) -> &[u8] {
        self.raw.get(5..5 + self.message_bytes_len).expect("offsets computed at decode")
    }

    /// Checks the sender's signature; `sender` must be the message's sender.
    pub fn verify_sender(&self, sender: &UserPublicKey) -> Result<(), Error> {
        let signed = self.raw.get(..self.signed_len).expect("offsets computed at decode");
        check_sender(sender, self.message.sender(), DOMAIN_SIG_DST, signed, &self.signature)
    }

    /// The checks of the fields that need no key: the rule is the deployment's, every
    /// party's home is the certified one (`homes`, what the checker verified, not the
    /// relay's word), and the fields are for exactly the domains the rule requires.
    /// Returns those domains with their current keys. The relay runs this before it
    /// accepts a message; recipients run it inside [`open`](Self::open).
    pub fn check_composition<'j>(
        &self,
        homes: &BTreeMap<PartyId, Domain>,
        jurisdictions: &'j Jurisdictions,
    ) -> Result<Vec<(&'j Domain, &'j EpochPublicKey)>, Error> {
        let rule = jurisdictions.rule();
        if self.message.rule() != rule {
            return Err(Error::RuleMismatch { expected: rule.name(), got: self.message.rule().name() });
        }
        for (party, labelled) in self.message.parties().zip(self.message.homes()) {
            match homes.get(party) {
                Some(certified) if certified == labelled => {}
                certified => {
                    return Err(Error::HomeMismatch {
                        party: party.to_string(),
                        certified: certified.map_or_else(|| "none known".to_owned(), Domain::to_string),
                        labelled: labelled.to_string(),
                    })
                }
            }
        }
        let required = jurisdictions.required(self.message.homes())?;
        let carried: Vec<&Domain> = self.domains().collect();
        if let Some((missing, _)) = required.iter().find(|(d, _)| !carried.contains(d)) {
            return Err(Error::MissingField(missing.to_string()));
        }
        if let Some(extra) = carried.iter().find(|d| !required.iter().any(|(r, _)| r == *d)) {
            return Err(Error::UnexpectedField(extra.to_string()));
        }
        Ok(required)
    }

    /// A recipient opens the message: sender signature, [`check_composition`](Self::check_composition),
    /// its wrapped message key, then every field's re-encryption check under its own
    /// domain's key and label, then the body.
    pub fn open(
        &self,
        me: &UserSecretKey,
        sender: &UserPublicKey,
        homes: &BTreeMap<PartyId, Domain>,
        jurisdictions: &Jurisdictions,
    ) -> Result<Vec<u8>, Error> {
        self.verify_sender(sender)?;
        let required = self.check_composition(homes, jurisdictions)?;
        let (_, wrapped) =
            self.wraps.iter().find(|(id, _)| id == &me.id).ok_or_else(|| Error::NotARecipient(me.id.to_string()))?;
        let mk = unwrap_for(me, &self.ephemeral, wrapped, self.message_bytes())?;
        let domains: Vec<&Domain> = required.iter().map(|(d, _)| *d).collect();
        let (keys, dk) = field_keys(self.message.rule(), &mk, &domains);
        for (((label, field), (_, epk)), key) in self.fields.iter().zip(&required).zip(&keys) {
            field.check_carries(epk, label, key)?;
        }
        self.decrypt_body(&dk)
    }

    /// The agency opens the message with the keys its trustees' shares recovered, one
    /// per domain: `(domain, that domain's epoch key, the key its field carries)`.
    /// Each key is checked against its field; under all-of every field's key is
    /// needed ([`Error::MissingField`] names the first one missing), under the other
    /// rules one suffices; with no key at all, nothing opens
    /// ([`Error::InvalidInput`], saying so, rather than a mismatch).
    pub fn open_with_field_keys(
        &self,
        keys: &[(&Domain, &EpochPublicKey, &DataKey)],
        sender: &UserPublicKey,
    ) -> Result<Vec<u8>, Error> {
        self.verify_sender(sender)?;
        if keys.is_empty() {
            return Err(Error::InvalidInput { what: "field keys", reason: "none given: no field key, nothing opens" });
        }
        let mut found: Vec<&DataKey> = Vec::with_capacity(keys.len());
        for (domain, epk, key) in keys {
            let (label, field) = self.field_for(domain).ok_or_else(|| Error::UnexpectedField(domain.to_string()))?;
            field.check_carries(epk, label, key)?;
            found.push(key);
        }
        if self.message.rule() == crate::jurisdiction::Rule::AllOf {
            if let Some(missing) = self.domains().find(|d| !keys.iter().any(|(k, _, _)| k == d)) {
                return Err(Error::MissingField(missing.to_string()));
            }
            // In field order, so the XOR sees every part once.
            found =
                self.domains().filter_map(|d| keys.iter().find(|(k, _, _)| *k == d).map(|(_, _, key)| *key)).collect();
        }
        let dk = body_key(self.message.rule(), &found).ok_or(Error::FieldMismatch)?;
        self.decrypt_body(&dk)
    }

    fn decrypt_body(&self, dk: &DataKey) -> Result<Vec<u8>, Error> {
        aead(dk.expose_secret())
            .decrypt(&Nonce::from(ZERO_NONCE), Payload { msg: self.body(), aad: self.header() })
            .map_err(|_| Error::DecryptionFailed)
    }
}
