//! The trustee's decisions as pure functions: no IO, no async, no gRPC. The service
//! loads state, calls these, commits what they decide, and maps a [`Refusal`] to a
//! status in one place (`answer::status`). To change a rule, change it here.
//!
//! - [`admit`]: what becomes of a verified warrant on receipt (policy denial,
//!   auto-approval, or waiting for an operator), or why it is not stored at all;
//! - [`may_release`]: whether a share request under a stored warrant may proceed;
//! - [`check_item`], [`check_items`]: whether (label, field) items are in scope and
//!   valid (the fields of a request checked in one batch), and their shares;
//! - [`check_domain`]: whether an item's field is this trustee's domain's, and its
//!   targets the domain's own users where the policy says so;
//! - [`check_quota`]: whether releasing `new` more fields (or day keys) stays within
//!   the quotas;
//! - [`may_release_days`], [`check_days`]: the same for the day mode's key-extraction
//!   requests, one (epoch, party, day) at a time.

use std::collections::BTreeMap;

use escrow_crypto::{
    DayId, DecryptionShare, Domain, EpochId, EpochPublicKey, EscrowField, ExtractionShare, Label, Modes, PartyId,
    TrusteeKeyShare, VerifiedWarrant, WarrantId,
};
use escrow_log::event::Arrival;

use crate::policy::{Approval, DomainRule, ForeignTargets, Policy};
use crate::state::State;

/// The epochs a trustee holds shares of, by id. Shared (`Arc`) so that a key ceremony
/// can install a new epoch without stopping requests that are being checked.
pub type Epochs = BTreeMap<EpochId, std::sync::Arc<EpochKeys>>;

/// One epoch this trustee holds a share of.
#[derive(Debug)]
pub struct EpochKeys {
    /// The epoch's public key set.
    pub public: EpochPublicKey,
    /// This trustee's secret share (checked against `public` at start-up).
    pub share: TrusteeKeyShare,
}

/// Why a request was refused, naming the rule and the culprit. Rendered to a gRPC
/// status only at the service's edge.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The warrant id is not 16 bytes.
    #[error("warrant id must be 16 bytes, got {0}")]
    MalformedWarrantId(usize),
    /// A share request with no items.
    #[error("no items")]
    NoItems,
    /// More items than the policy allows in one request.
    #[error("{asked} items, at most {max} per request")]
    TooManyItems {
        /// Items asked for.
        asked: usize,
        /// The policy's maximum.
        max: u32,
    },
    /// No such warrant here (or not the caller's: the answer is the same).
    #[error("unknown warrant {0}")]
    UnknownWarrant(WarrantId),
    /// Received but not (yet) approved by this trustee.
    #[error("warrant {0} is not approved by this trustee yet")]
    NotApproved(WarrantId),
    /// Denied by this trustee.
    #[error("warrant {0} was denied by this trustee")]
    Denied(WarrantId),
    /// Revoked.
    #[error("warrant {0} was revoked")]
    Revoked(WarrantId),
    /// A cryptographic check failed (signature, decoding, scope, validity, time);
    /// `context` says what was being checked ("item 3", "warrant").
    #[error("{context}: {error}")]
    Crypto {
        /// What was being checked.
        context: String,
        /// The check that failed.
        error: escrow_crypto::Error,
    },
    /// An item of an epoch whose share this trustee does not hold.
    #[error("item {index}: this trustee holds no key share for epoch {epoch} (never installed or destroyed)")]
    NoShareForEpoch {
        /// The item.
        index: usize,
        /// Its epoch.
        epoch: EpochId,
    },
    /// Item `index`'s field is sealed for another escrow domain than this trustee's
    /// (or for one at all, where this trustee serves a deployment of one domain).
    #[error("item {index}: the field is for domain {field_domain}; this trustee serves {ours}")]
    OtherDomain {
        /// The item.
        index: usize,
        /// The domain its label names.
        field_domain: String,
        /// This trustee's domain ("no domain" in a deployment of one).
        ours: String,
    },
    /// Item `index` involves a warrant target whose certified home is another domain,
    /// and this trustee's policy refuses foreign targets.
    #[error(
        "item {index}: target {target} lives in domain {home}; this trustee's policy answers for {ours}'s users only"
    )]
    ForeignTarget {
        /// The item.
        index: usize,
        /// The target.
        target: PartyId,
        /// The target's home, as the label names it.
        home: String,
        /// This trustee's domain.
        ours: String,
    },
    /// The agency submitted its quota of warrants in the quota window.
    #[error("agency {agency} submitted {recent} warrants in the last 30 days; this trustee accepts at most {allowed}")]
    TooManyWarrants {
        /// The agency.
        agency: PartyId,
        /// Warrants it submitted in the window.
        recent: u64,
        /// The policy's maximum.
        allowed: u64,
    },
    /// A field or day-key quota would be exceeded.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// A day-key request to a trustee whose policy does not release day keys.
    #[error("this trustee does not release day keys (its policy's max_day_keys_per_warrant is 0)")]
    DayKeysOff,
    /// Day key `index` is of an epoch whose announcement does not state the day mode:
    /// its senders were never told to add day fields, so no day key is extracted.
    #[error("day {index}: epoch {epoch} is announced without the day mode")]
    DayModeNotAnnounced {
        /// The day's position in the request.
        index: usize,
        /// Its epoch.
        epoch: EpochId,
    },
    /// The warrant's approval is not yet in a checkpoint the witnesses cosigned, so no
    /// share may leave; a later request may succeed. `what` names the entry waited
    /// for, `failure` the publisher's last failure.
    #[error("{what} {}: {failure}", escrow_proto::NOT_YET_WITNESSED)]
    NotWitnessed {
        /// The entry waited for ("the approval of warrant …").
        what: String,
        /// Why the witnesses have not cosigned it yet.
        failure: String,
    },
    /// An operator's reason that the log would not take as written.
    #[error("reason: at most 1024 bytes, no control characters")]
    BadReason,
    /// A submitted warrant names another agency than the caller.
    #[error("the warrant names agency {named}, not the caller")]
    WrongAgency {
        /// The agency the warrant names.
        named: PartyId,
    },
    /// The warrant's state table does not allow this decision.
    #[error(transparent)]
    Transition(#[from] crate::state::Forbidden),
    /// Another warrant with this id, with other bytes, is already stored.
    #[error("another warrant with id {0} is already stored")]
    Duplicate(WarrantId),
    /// The warrant changed state between reading and deciding.
    #[error("warrant {0} changed state concurrently; read it and retry")]
    ChangedConcurrently(WarrantId),
}

impl Refusal {
    /// The refusal's stable name: the `escrow-rule` response metadata carries it,
    /// metrics count refusals by it, and clients decide on it rather than on the
    /// message's words.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::MalformedWarrantId(_) | Refusal::NoItems => "malformed",
            Refusal::TooManyItems { .. } => "too-many-items",
            Refusal::UnknownWarrant(_) => "unknown-warrant",
            Refusal::NotApproved(_) => "not-approved",
            Refusal::Denied(_) => "denied",
            Refusal::Revoked(_) => "revoked",
            Refusal::Crypto { error, .. } => escrow_service::status::crypto_rule(error),
            Refusal::NoShareForEpoch { .. } => "no-share-for-epoch",
            Refusal::OtherDomain { .. } => "other-domain",
            Refusal::ForeignTarget { .. } => "foreign-target",
            Refusal::TooManyWarrants { .. } => "warrant-quota",
            Refusal::Quota(q) => match q.unit() {
                Unit::Fields => "field-quota",
                Unit::DayKeys => "day-key-quota",
            },
            Refusal::DayKeysOff => "day-keys-off",
            Refusal::DayModeNotAnnounced { .. } => "day-mode-not-announced",
            Refusal::NotWitnessed { .. } => escrow_proto::RULE_NOT_WITNESSED,
            Refusal::BadReason => "malformed",
            Refusal::WrongAgency { .. } => "wrong-agency",
            Refusal::Transition(_) => "state",
            Refusal::Duplicate(_) => "duplicate",
            Refusal::ChangedConcurrently(_) => "concurrent",
        }
    }

    fn crypto(context: impl Into<String>, error: escrow_crypto::Error) -> Self {
        Refusal::Crypto { context: context.into(), error }
    }
}

/// Why policy decided a warrant on receipt (rendered into the log and the status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    /// Denied: the window is longer than the policy allows.
    WindowTooLong {
        /// The warrant's window, seconds.
        len: u64,
        /// The policy's maximum.
        max: u64,
    },
    /// Denied: the agency has no quota here.
    NoQuota(PartyId),
    /// Approved: auto-approve mode and within policy.
    AutoApproved,
}

impl std::fmt::Display for PolicyDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyDecision::WindowTooLong { len, max } => {
                write!(f, "window of {len} s exceeds this trustee's maximum of {max} s")
            }
            PolicyDecision::NoQuota(agency) => write!(f, "agency {agency} has no quota at this trustee"),
            PolicyDecision::AutoApproved => write!(f, "auto-approved: within policy"),
        }
    }
}

/// How a warrant is stored on receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// Its initial state.
    pub state: State,
    /// Why, if policy decided it (`None`: waiting for an operator).
    pub by_policy: Option<PolicyDecision>,
}

impl Admission {
    /// The arrival recorded in the log entry.
    pub fn arrival(&self) -> Arrival {
        match self.state {
            State::Approved => Arrival::ApprovedByPolicy,
            State::Denied => Arrival::DeniedByPolicy,
            _ => Arrival::Received,
        }
    }
}

/// What becomes of verified warrant `w` received at `now`, given how many warrants its
/// agency submitted in the current quota window (`recent`). A refusal stores nothing.
pub fn admit(policy: &Policy, w: &VerifiedWarrant, now: u64, recent: u64) -> Result<Admission, Refusal> {
    w.check_time(now).map_err(|e| Refusal::crypto("warrant", e))?;
    let body = w.body();
    if recent >= policy.max_warrants_per_agency {
        return Err(Refusal::TooManyWarrants {
            agency: body.agency.clone(),
            recent,
            allowed: policy.max_warrants_per_agency,
        });
    }
    let (state, by_policy) = if body.window.len_secs() > policy.max_window_secs {
        (
            State::Denied,
            Some(PolicyDecision::WindowTooLong { len: body.window.len_secs(), max: policy.max_window_secs }),
        )
    } else if policy.quota(&body.agency) == 0 {
        (State::Denied, Some(PolicyDecision::NoQuota(body.agency.clone())))
    } else if policy.approval == Approval::Auto {
        (State::Approved, Some(PolicyDecision::AutoApproved))
    } else {
        (State::Received, None)
    };
    Ok(Admission { state, by_policy })
}

/// Whether a share request of `items` items may proceed under the stored warrant `id`
/// in `state` (`None`: not held here, or not the caller's).
pub fn may_release(policy: &Policy, id: WarrantId, state: Option<State>, items: usize) -> Result<(), Refusal> {
    if items == 0 {
        return Err(Refusal::NoItems);
    }
    if items > policy.max_items_per_request as usize {
        return Err(Refusal::TooManyItems { asked: items, max: policy.max_items_per_request });
    }
    approved(id, state)
}

/// Only an approved warrant releases; every other state names itself.
fn approved(id: WarrantId, state: Option<State>) -> Result<(), Refusal> {
    match state.ok_or(Refusal::UnknownWarrant(id))? {
        State::Approved => Ok(()),
        State::Received => Err(Refusal::NotApproved(id)),
        State::Denied => Err(Refusal::Denied(id)),
        State::Revoked => Err(Refusal::Revoked(id)),
    }
}

/// Whether a release that passed every check may be committed: decided inside the
/// release transaction on the warrant's state as stored at that moment and on the
/// clock read then. The checks and the wait for a witnessed approval take seconds, and
/// an operator may revoke the warrant, or its validity may end, in between; a decision
/// taken on the row read at the start would then release under a revoked warrant.
pub fn may_commit_release(warrant: &VerifiedWarrant, state: Option<State>, now: u64) -> Result<(), Refusal> {
    approved(warrant.id(), state)?;
    warrant.check_time(now).map_err(|e| Refusal::crypto(format!("warrant {}", warrant.id()), e))
}

/// Whether a key share of index `share` may be served by `trustee` under an
/// announcement whose holders are `holders` (in index order): only if `trustee` is
/// the holder of that index. `Err` carries `trustee`'s position, if it holds one.
pub fn check_holder(trustee: &PartyId, holders: &[PartyId], share: u16) -> Result<(), Option<u16>> {
    let position = holders.iter().position(|h| h == trustee).and_then(|p| u16::try_from(p).ok());
    if position == Some(share) {
        Ok(())
    } else {
        Err(position)
    }
}

/// Checks item `index` (label and field blobs) against the approved warrant, whose
/// validity period the caller checked once for the whole request: decodes both with
/// subgroup checks, requires a share of the label's epoch, the label in the warrant's
/// scope and the field valid for the label. Returns the field's fingerprint and this
/// trustee's decryption share. [`check_items`] for one item.
pub fn check_item(
    epochs: &Epochs,
    domain: &DomainRule,
    warrant: &VerifiedWarrant,
    index: usize,
    label: &[u8],
    field: &[u8],
) -> Result<([u8; 32], DecryptionShare), Refusal> {
    let mut out = check_items(epochs, domain, warrant, index, &[(label, field)], &mut rand::rngs::OsRng);
    out.pop().unwrap_or(Err(Refusal::NoItems))
}

/// One item's answer: the field's fingerprint and this trustee's share, or why not.
pub type Checked = Result<([u8; 32], DecryptionShare), Refusal>;

/// An item that passed every check but its field's validity.
struct Admitted {
    label: Label,
    field: EscrowField,
    epoch: EpochId,
}

/// Decodes item `index`, requires a share of its label's epoch, the label inside
/// the warrant's scope and in this trustee's domain ([`check_domain`]).
fn admit_item(
    epochs: &Epochs,
    domain: &DomainRule,
    warrant: &VerifiedWarrant,
    index: usize,
    label: &[u8],
    field: &[u8],
) -> Result<Admitted, Refusal> {
    let ctx = || format!("item {index}");
    let label = Label::from_bytes(label).map_err(|e| Refusal::crypto(ctx(), e))?;
    let field = EscrowField::from_bytes(field).map_err(|e| Refusal::crypto(ctx(), e))?;
    let epoch = label.epoch();
    if !epochs.contains_key(&epoch) {
        return Err(Refusal::NoShareForEpoch { index, epoch });
    }
    warrant.check_scope(&label).map_err(|e| Refusal::crypto(ctx(), e))?;
    check_domain(domain, warrant, index, &label)?;
    Ok(Admitted { label, field, epoch })
}

/// Whether item `index` (its label already in the warrant's scope) is this trustee's
/// to answer. A label v2 must name this trustee's domain: another domain's field is
/// refused by name here (its validity check would fail anyway, docs/protocol.md
/// §5.18), and a trustee of a one-domain deployment answers for no domain label. Under
/// `foreign_targets = refuse`, every warrant target the message involves must live in
/// this domain, by the home the label names: the sender bound it in, and recipients
/// checked it against the target's certificate. A label v1 names no domain and no
/// homes: a trustee of a one-domain deployment answers for it, a domain's trustee does
/// not (it could not tell whose users the message is between).
pub fn check_domain(rule: &DomainRule, warrant: &VerifiedWarrant, index: usize, label: &Label) -> Result<(), Refusal> {
    let ours = match (label.domain_tag(), &rule.domain) {
        (None, None) => return Ok(()),
        (Some(tag), Some(ours)) if ours == tag.domain() => ours,
        (tag, ours) => {
            return Err(Refusal::OtherDomain {
                index,
                field_domain: tag.map_or_else(|| "no domain (a label v1)".to_owned(), |t| t.domain().to_string()),
                ours: ours.as_ref().map_or_else(|| "no domain".to_owned(), Domain::to_string),
            })
        }
    };
    if rule.foreign_targets == ForeignTargets::Allow {
        return Ok(());
    }
    for target in &warrant.body().targets {
        match label.home_of(target) {
            Some(home) if home != ours => {
                return Err(Refusal::ForeignTarget {
                    index,
                    target: target.clone(),
                    home: home.to_string(),
                    ours: ours.to_string(),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// [`check_item`] for a run of items, the first of which is item `first` of the
/// request: each is decoded and checked against the scope on its own, then the fields
/// of one epoch are checked for validity in one batch (one multi-pairing with random
/// weights from `rng`; only a failing batch is checked field by field, to name the bad
/// ones) and each valid one gets this trustee's share. One result per item, in order,
/// each exactly what [`check_item`] gives that item.
pub fn check_items<R: rand::RngCore + rand::CryptoRng>(
    epochs: &Epochs,
    domain: &DomainRule,
    warrant: &VerifiedWarrant,
    first: usize,
    items: &[(&[u8], &[u8])],
    rng: &mut R,
) -> Vec<Checked> {
    let mut out: Vec<Option<Checked>> = Vec::with_capacity(items.len());
    let mut admitted: Vec<Option<Admitted>> = Vec::with_capacity(items.len());
    let mut by_epoch: BTreeMap<EpochId, Vec<usize>> = BTreeMap::new();
    for (k, (label, field)) in items.iter().enumerate() {
        match admit_item(epochs, domain, warrant, first + k, label, field) {
            Ok(a) => {
                by_epoch.entry(a.epoch).or_default().push(k);
                admitted.push(Some(a));
                out.push(None);
            }
            Err(r) => {
                admitted.push(None);
                out.push(Some(Err(r)));
            }
        }
    }
    for (epoch, ks) in by_epoch {
        let Some(keys) = epochs.get(&epoch) else { continue };
        let batch: Vec<(&EscrowField, &Label)> =
            ks.iter().filter_map(|k| admitted.get(*k)?.as_ref().map(|a| (&a.field, &a.label))).collect();
        let shares = keys.share.decrypt_shares(&keys.public, &batch, rng);
        for ((k, share), (field, _)) in ks.iter().zip(shares).zip(&batch) {
            if let Some(slot) = out.get_mut(*k) {
                *slot = Some(
                    share
                        .map(|s| (field.fingerprint(), s))
                        .map_err(|e| Refusal::crypto(format!("item {}", first + k), e)),
                );
            }
        }
    }
    out.into_iter().map(|r| r.unwrap_or(Err(Refusal::NoItems))).collect()
}

/// Whether a day-key request of `items` (epoch, party, day) items may proceed under
/// the stored warrant `id` in `state`: only where the policy turns the day mode on,
/// with at most as many days as one log entry records
/// ([`escrow_log::event::MAX_DAYS_PER_ENTRY`], whatever the policy's item limit), then
/// as [`may_release`].
pub fn may_release_days(policy: &Policy, id: WarrantId, state: Option<State>, items: usize) -> Result<(), Refusal> {
    if policy.max_day_keys_per_warrant == 0 {
        return Err(Refusal::DayKeysOff);
    }
    let entry = escrow_log::event::MAX_DAYS_PER_ENTRY;
    if items > entry && policy.max_items_per_request as usize > entry {
        return Err(Refusal::TooManyItems { asked: items, max: u32::try_from(entry).unwrap_or(u32::MAX) });
    }
    may_release(policy, id, state, items)
}

/// One day key asked for: its epoch, party and UTC day, as the request names them.
#[derive(Clone, Copy, Debug)]
pub struct DayAsked<'a> {
    /// Epoch.
    pub epoch: u64,
    /// Party id, unchecked.
    pub party: &'a str,
    /// UTC day.
    pub day: u32,
}

/// Checks the day keys asked for under the approved warrant, whose validity period the
/// caller checked: each party a valid id and a target, each day with a second in the
/// window ([`VerifiedWarrant::check_day_scope`]), each epoch one whose share this
/// trustee holds and, if it was announced here (`announced`: the modes of each epoch
/// a ceremony here made), announced with the day mode. A dealt epoch has no
/// announcement; the policy alone decides for it. Returns each day's identity and this
/// trustee's extraction share, in order, or the first refusal, naming its position
/// (`first` is the first's).
pub fn check_days(
    epochs: &Epochs,
    announced: &BTreeMap<EpochId, Modes>,
    warrant: &VerifiedWarrant,
    first: usize,
    asked: &[DayAsked<'_>],
) -> Result<Vec<(DayId, ExtractionShare)>, Refusal> {
    let mut out = Vec::with_capacity(asked.len());
    for (k, a) in asked.iter().enumerate() {
        let index = first + k;
        let ctx = || format!("day {index}");
        let party = PartyId::new(a.party).map_err(|e| Refusal::crypto(ctx(), e))?;
        let epoch = EpochId(a.epoch);
        let id = DayId::new(epoch, party, a.day);
        warrant.check_day_scope(&id).map_err(|e| Refusal::crypto(ctx(), e))?;
        let keys = epochs.get(&epoch).ok_or(Refusal::NoShareForEpoch { index, epoch })?;
        if announced.get(&epoch).is_some_and(|m| !m.day) {
            return Err(Refusal::DayModeNotAnnounced { index, epoch });
        }
        let share = keys.share.extract_share(&id).map_err(|e| Refusal::crypto(ctx(), e))?;
        out.push((id, share));
    }
    Ok(out)
}

/// Fields already released under the warrant and to the agency in the quota window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Used {
    /// Distinct fields released under this warrant, ever.
    pub per_warrant: u64,
    /// Fields released to the agency in the current quota window.
    pub per_agency: u64,
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Distinct escrow fields (the per-message mode).
    Fields,
    /// Distinct (epoch, party, day) keys (the day mode).
    DayKeys,
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unit::Fields => "fields",
            Unit::DayKeys => "day keys",
        })
    }
}

/// The limits a release must stay within.
#[derive(Clone, Copy, Debug)]
pub struct ReleaseLimits {
    /// Most distinct fields (or day keys) per warrant.
    pub max_fields_per_warrant: u64,
    /// Most fields (or day keys) per agency per quota period.
    pub agency_quota: u64,
    /// What the two limits count.
    pub unit: Unit,
}

/// Which quota a request would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    /// The per-warrant maximum.
    #[error("warrant quota: {used} {unit} released, {asked} more asked, at most {max}")]
    Warrant {
        /// What is counted.
        unit: Unit,
        /// Already released.
        used: u64,
        /// New fields asked for.
        asked: u64,
        /// The maximum.
        max: u64,
    },
    /// The per-agency quota.
    #[error("agency quota: {used} {unit} released in the last 30 days, {asked} more asked, at most {max}")]
    Agency {
        /// What is counted.
        unit: Unit,
        /// Already released in the period.
        used: u64,
        /// New fields asked for.
        asked: u64,
        /// The quota.
        max: u64,
    },
}

impl QuotaExceeded {
    /// What the exceeded quota counts.
    pub fn unit(&self) -> Unit {
        match self {
            QuotaExceeded::Warrant { unit, .. } | QuotaExceeded::Agency { unit, .. } => *unit,
        }
    }
}

/// Whether releasing `new` more distinct fields (or day keys) stays within `limits`.
pub fn check_quota(used: Used, new: u64, limits: ReleaseLimits) -> Result<(), QuotaExceeded> {
    let unit = limits.unit;
    if used.per_warrant + new > limits.max_fields_per_warrant {
        return Err(QuotaExceeded::Warrant {
            unit,
            used: used.per_warrant,
            asked: new,
            max: limits.max_fields_per_warrant,
        });
    }
    if used.per_agency + new > limits.agency_quota {
        return Err(QuotaExceeded::Agency { unit, used: used.per_agency, asked: new, max: limits.agency_quota });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_holder_of_a_share_index_may_serve_it() {
        let holders: Vec<PartyId> = (0..5).map(|i| id(&format!("trustee-{i}"))).collect();
        assert_eq!(check_holder(&id("trustee-0"), &holders, 0), Ok(()));
        assert_eq!(check_holder(&id("trustee-3"), &holders, 3), Ok(()));
        // trustee-1's share served as trustee-0: refused, naming trustee-0's position.
        assert_eq!(check_holder(&id("trustee-0"), &holders, 1), Err(Some(0)));
        assert_eq!(check_holder(&id("trustee-9"), &holders, 1), Err(None));
        assert_eq!(check_holder(&id("trustee-0"), &[], 0), Err(None));
    }
    use escrow_crypto::{dealer_keygen, CourtSecretKey, Envelope, SealRequest, TimeWindow, UserSecretKey, WarrantBody};
    use rand::SeedableRng;

    const DAY: u64 = 86_400;
    const NOW: u64 = 1_767_225_600;

    fn id(s: &str) -> PartyId {
        PartyId::new(s).unwrap()
    }

    struct World {
        court: CourtSecretKey,
        policy: Policy,
        epochs: Epochs,
        alice: UserSecretKey,
        bob: UserSecretKey,
        rng: rand_chacha::ChaCha20Rng,
    }

    fn world() -> World {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        let court = CourtSecretKey::generate(id("high-court"), &mut rng);
        let keys = dealer_keygen(EpochId(1), 2, 5, &mut rng).unwrap();
        let share = TrusteeKeyShare::from_bytes(&keys.shares[0].to_bytes()).unwrap();
        let mut policy = Policy::new(id("trustee-0"), vec![court.public()]);
        policy.agency_quota.insert(id("agency-1"), 100);
        let epochs = BTreeMap::from([(EpochId(1), std::sync::Arc::new(EpochKeys { public: keys.public, share }))]);
        let alice = UserSecretKey::generate(id("alice"), &mut rng);
        let bob = UserSecretKey::generate(id("bob"), &mut rng);
        World { court, policy, epochs, alice, bob, rng }
    }

    impl World {
        fn warrant(&self, window_days: u64, valid_from: u64) -> VerifiedWarrant {
            let blob = self
                .court
                .sign(&WarrantBody {
                    id: WarrantId([1; 16]),
                    case_reference: String::new(),
                    court: id("high-court"),
                    agency: id("agency-1"),
                    targets: vec![id("alice")],
                    window: TimeWindow::new(NOW - window_days * DAY, NOW).unwrap(),
                    issued_at: valid_from,
                    valid_until: valid_from + 30 * DAY,
                    legal_basis: String::new(),
                    notification_delay_secs: 0,
                })
                .unwrap();
            VerifiedWarrant::verify(&blob, &self.court.public()).unwrap()
        }

        fn message(&mut self, from_alice: bool, at: u64) -> Envelope {
            let (sender, to) =
                if from_alice { (&self.alice, self.bob.public()) } else { (&self.bob, self.bob.public()) };
            Envelope::seal(
                &SealRequest {
                    sender,
                    recipients: &[to],
                    epoch_key: &self.epochs[&EpochId(1)].public,
                    message_id: [7; 16],
                    timestamp: at,
                    plaintext: b"hi",
                },
                &mut self.rng,
            )
            .unwrap()
        }
    }

    #[test]
    fn admission_waits_for_an_operator_or_follows_the_policy() {
        let mut w = world();
        let warrant = w.warrant(2, NOW);
        assert_eq!(admit(&w.policy, &warrant, NOW, 0).unwrap(), Admission { state: State::Received, by_policy: None });
        w.policy.approval = Approval::Auto;
        let a = admit(&w.policy, &warrant, NOW, 0).unwrap();
        assert_eq!((a.state, a.arrival()), (State::Approved, Arrival::ApprovedByPolicy));
        w.policy.max_window_secs = DAY;
        let a = admit(&w.policy, &warrant, NOW, 0).unwrap();
        assert_eq!(a.by_policy, Some(PolicyDecision::WindowTooLong { len: 2 * DAY, max: DAY }));
        assert_eq!(a.arrival(), Arrival::DeniedByPolicy);
        w.policy.max_window_secs = 30 * DAY;
        w.policy.agency_quota.clear();
        let a = admit(&w.policy, &warrant, NOW, 0).unwrap();
        assert_eq!(a.by_policy.unwrap().to_string(), "agency agency-1 has no quota at this trustee");
    }

    #[test]
    fn admission_refuses_without_storing() {
        let w = world();
        let warrant = w.warrant(2, NOW);
        let r = admit(&w.policy, &warrant, NOW, w.policy.max_warrants_per_agency).unwrap_err();
        assert!(matches!(r, Refusal::TooManyWarrants { recent: 100, allowed: 100, .. }), "{r}");
        // Not yet valid, and expired.
        assert!(matches!(admit(&w.policy, &w.warrant(2, NOW + DAY), NOW, 0), Err(Refusal::Crypto { .. })));
        assert!(matches!(admit(&w.policy, &warrant, NOW + 31 * DAY, 0), Err(Refusal::Crypto { .. })));
    }

    #[test]
    fn release_needs_items_within_the_limit_and_an_approved_warrant() {
        let w = world();
        let id = WarrantId([1; 16]);
        may_release(&w.policy, id, Some(State::Approved), 1).unwrap();
        assert!(matches!(may_release(&w.policy, id, Some(State::Approved), 0), Err(Refusal::NoItems)));
        let too_many = w.policy.max_items_per_request as usize + 1;
        assert_eq!(
            may_release(&w.policy, id, Some(State::Approved), too_many).unwrap_err().to_string(),
            "1001 items, at most 1000 per request"
        );
        assert!(matches!(may_release(&w.policy, id, None, 1), Err(Refusal::UnknownWarrant(_))));
        assert!(matches!(may_release(&w.policy, id, Some(State::Received), 1), Err(Refusal::NotApproved(_))));
        assert!(matches!(may_release(&w.policy, id, Some(State::Denied), 1), Err(Refusal::Denied(_))));
        assert!(matches!(may_release(&w.policy, id, Some(State::Revoked), 1), Err(Refusal::Revoked(_))));
    }

    #[test]
    fn an_item_in_scope_gets_a_share_and_others_are_refused_by_rule() {
        let mut w = world();
        let warrant = w.warrant(2, NOW);
        let inside = w.message(true, NOW - DAY);
        let (hash, share) = check_item(
            &w.epochs,
            &w.policy.jurisdiction,
            &warrant,
            0,
            &inside.label().to_bytes(),
            &inside.field().to_bytes(),
        )
        .unwrap();
        assert_eq!(hash, inside.field().fingerprint());
        w.epochs[&EpochId(1)].public.verify_share(inside.field(), inside.label(), &share).unwrap();
        // Not a target's message, and a target's message outside the window.
        let bobs = w.message(false, NOW - DAY);
        let late = w.message(true, NOW + 1);
        for (i, e) in [bobs, late].iter().enumerate() {
            let r = check_item(
                &w.epochs,
                &w.policy.jurisdiction,
                &warrant,
                i,
                &e.label().to_bytes(),
                &e.field().to_bytes(),
            )
            .unwrap_err();
            assert!(
                matches!(&r, Refusal::Crypto { context, error: escrow_crypto::Error::OutOfScope(_) } if *context == format!("item {i}")),
                "{r}"
            );
        }
        // A field moved under another label is invalid for it.
        let other = w.message(true, NOW - 2 * 3600);
        let r = check_item(
            &w.epochs,
            &w.policy.jurisdiction,
            &warrant,
            3,
            &other.label().to_bytes(),
            &inside.field().to_bytes(),
        )
        .unwrap_err();
        assert!(matches!(r, Refusal::Crypto { .. }), "{r}");
        // No share for the epoch.
        let r = check_item(
            &BTreeMap::new(),
            &w.policy.jurisdiction,
            &warrant,
            4,
            &inside.label().to_bytes(),
            &inside.field().to_bytes(),
        );
        assert!(matches!(r, Err(Refusal::NoShareForEpoch { index: 4, epoch: EpochId(1) })));
    }

    /// A trustee of domain "uk": another domain's field is refused by name, a field
    /// with a domain label by a trustee of no domain too; a target who lives in "us" is
    /// refused under `foreign_targets = refuse` and answered under `allow`; a target
    /// who lives in "uk" is answered under both.
    #[test]
    fn a_domain_trustee_answers_for_its_own_fields_and_by_policy_for_foreign_targets() {
        use crate::policy::{DomainRule, ForeignTargets};
        use escrow_crypto::{Domain, DomainEnvelope, DomainSealRequest, Jurisdictions, Resident, Rule};
        let mut w = world();
        let warrant = w.warrant(2, NOW);
        let d = |s: &str| Domain::new(s).unwrap();
        let us_keys = dealer_keygen(EpochId(1), 2, 5, &mut w.rng).unwrap();
        let j = Jurisdictions::new(
            Rule::AnyOf,
            [(d("uk"), Some(w.epochs[&EpochId(1)].public.clone())), (d("us"), Some(us_keys.public))],
        )
        .unwrap();
        // alice (the target) writes to bob; alice_home is where her certificate says she lives.
        let send = |w: &mut World, alice_home: &str| {
            let residents = [Resident { key: w.bob.public(), home: d(if alice_home == "uk" { "us" } else { "uk" }) }];
            DomainEnvelope::seal(
                &DomainSealRequest {
                    sender: &w.alice,
                    sender_home: &d(alice_home),
                    recipients: &residents,
                    jurisdictions: &j,
                    message_id: [8; 16],
                    timestamp: NOW - DAY,
                    plaintext: b"hi",
                },
                &mut w.rng,
            )
            .unwrap()
        };
        let item = |env: &DomainEnvelope, dom: &str| {
            let (l, f) = env.field_for(&d(dom)).unwrap();
            (l.to_bytes(), f.to_bytes())
        };
        let ask =
            |w: &World, rule: &DomainRule, (l, f): &(Vec<u8>, Vec<u8>)| check_item(&w.epochs, rule, &warrant, 0, l, f);
        let refuse = DomainRule { domain: Some(d("uk")), foreign_targets: ForeignTargets::Refuse };
        let allow = DomainRule { domain: Some(d("uk")), foreign_targets: ForeignTargets::Allow };

        let foreign = send(&mut w, "us");
        let uk_item = item(&foreign, "uk");
        let r = ask(&w, &refuse, &uk_item).unwrap_err();
        assert!(
            matches!(&r, Refusal::ForeignTarget { target, home, ours, .. }
            if target.as_str() == "alice" && home == "us" && ours == "uk"),
            "{r}"
        );
        assert_eq!(r.code(), "foreign-target");
        let (hash, share) = ask(&w, &allow, &uk_item).unwrap();
        let (label, field) = foreign.field_for(&d("uk")).unwrap();
        assert_eq!(hash, field.fingerprint());
        w.epochs[&EpochId(1)].public.verify_share(field, label, &share).unwrap();
        // The US field, asked of the UK trustee under either setting: another domain's.
        for rule in [&refuse, &allow] {
            let r = ask(&w, rule, &item(&foreign, "us")).unwrap_err();
            assert!(
                matches!(&r, Refusal::OtherDomain { field_domain, ours, .. } if field_domain == "us" && ours == "uk"),
                "{r}"
            );
            assert_eq!(r.code(), "other-domain");
        }
        // A trustee of a one-domain deployment answers for no domain label, and a
        // domain's trustee for no label v1.
        let r = ask(&w, &DomainRule::default(), &uk_item).unwrap_err();
        assert!(matches!(&r, Refusal::OtherDomain { ours, .. } if ours == "no domain"), "{r}");
        let v1 = w.message(true, NOW - DAY);
        let v1_item = (v1.label().to_bytes(), v1.field().to_bytes());
        let r = ask(&w, &allow, &v1_item).unwrap_err();
        assert!(
            matches!(&r, Refusal::OtherDomain { field_domain, .. } if field_domain == "no domain (a label v1)"),
            "{r}"
        );
        ask(&w, &DomainRule::default(), &v1_item).unwrap();

        let domestic = send(&mut w, "uk");
        for rule in [&refuse, &allow] {
            ask(&w, rule, &item(&domestic, "uk")).unwrap();
        }
    }

    /// A run of items checked together answers each item exactly as it would be
    /// answered alone: shares for the good ones, each refusal at its own item, a field
    /// that is invalid for its label named among valid ones.
    #[test]
    fn items_checked_in_one_batch_are_answered_as_each_alone() {
        let mut w = world();
        let warrant = w.warrant(2, NOW);
        let good: Vec<_> = (0..5).map(|k| w.message(true, NOW - DAY - k * 60)).collect();
        let bobs = w.message(false, NOW - DAY);
        let mut blobs: Vec<(Vec<u8>, Vec<u8>)> =
            good.iter().map(|m| (m.label().to_bytes(), m.field().to_bytes())).collect();
        blobs.insert(2, (bobs.label().to_bytes(), bobs.field().to_bytes()));
        // Item 4: good[3]'s field under good[4]'s label (invalid for it).
        blobs[4].1 = good[4].field().to_bytes();
        let items: Vec<(&[u8], &[u8])> = blobs.iter().map(|(l, f)| (&l[..], &f[..])).collect();
        let together = check_items(&w.epochs, &w.policy.jurisdiction, &warrant, 10, &items, &mut rand::rngs::OsRng);
        assert_eq!(together.len(), items.len());
        for (k, (r, (l, f))) in together.iter().zip(&items).enumerate() {
            let alone = check_item(&w.epochs, &w.policy.jurisdiction, &warrant, 10 + k, l, f);
            match (r, &alone) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "item {k}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "item {k}"),
                _ => panic!("item {k}: together {r:?}, alone {alone:?}"),
            }
        }
        let refused: Vec<usize> = together.iter().enumerate().filter(|(_, r)| r.is_err()).map(|(k, _)| k).collect();
        assert_eq!(refused, vec![2, 4]);
        assert!(together[2].as_ref().unwrap_err().to_string().starts_with("item 12: "));
        assert!(matches!(
            together[4].as_ref().unwrap_err(),
            Refusal::Crypto { error: escrow_crypto::Error::InvalidField, .. }
        ));
    }

    #[test]
    fn quotas_hold_at_their_edges() {
        let used = Used { per_warrant: 8, per_agency: 90 };
        let limits = |w, a| ReleaseLimits { max_fields_per_warrant: w, agency_quota: a, unit: Unit::Fields };
        check_quota(used, 2, limits(10, 100)).unwrap();
        let unit = Unit::Fields;
        assert_eq!(
            check_quota(used, 3, limits(10, 100)),
            Err(QuotaExceeded::Warrant { unit, used: 8, asked: 3, max: 10 })
        );
        assert_eq!(
            check_quota(used, 2, limits(10, 91)),
            Err(QuotaExceeded::Agency { unit, used: 90, asked: 2, max: 91 })
        );
        check_quota(used, 0, limits(8, 90)).unwrap();
        // The same rule for day keys, named as such.
        let days = ReleaseLimits { unit: Unit::DayKeys, ..limits(10, 100) };
        let q = check_quota(used, 3, days).unwrap_err();
        assert_eq!(q.to_string(), "warrant quota: 8 day keys released, 3 more asked, at most 10");
        assert_eq!(Refusal::Quota(q).code(), "day-key-quota");
        assert_eq!(Refusal::Quota(check_quota(used, 3, limits(10, 100)).unwrap_err()).code(), "field-quota");
    }

    /// A day-key request is never larger than one log entry can record, whatever the
    /// policy allows for share requests (a larger one would fail at the log, after
    /// every check): refused as too many items, naming the entry's limit.
    #[test]
    fn a_day_request_holds_at_most_one_log_entrys_days() {
        let mut policy = Policy::new(id("trustee-0"), vec![]);
        policy.max_day_keys_per_warrant = 100_000;
        policy.max_items_per_request = 10_000;
        let w = WarrantId([1; 16]);
        let max = escrow_log::event::MAX_DAYS_PER_ENTRY;
        may_release_days(&policy, w, Some(State::Approved), max).unwrap();
        assert!(matches!(
            may_release_days(&policy, w, Some(State::Approved), max + 1),
            Err(Refusal::TooManyItems { asked, max: m }) if asked == max + 1 && m as usize == max
        ));
        // Below the entry's limit, the policy's own limit still holds.
        policy.max_items_per_request = 10;
        assert!(matches!(
            may_release_days(&policy, w, Some(State::Approved), 11),
            Err(Refusal::TooManyItems { asked: 11, max: 10 })
        ));
        policy.max_day_keys_per_warrant = 0;
        assert!(matches!(may_release_days(&policy, w, Some(State::Approved), 1), Err(Refusal::DayKeysOff)));
    }
}
