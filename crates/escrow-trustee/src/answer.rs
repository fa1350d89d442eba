//! How a trustee answers what it refuses: the one mapping from a rule's [`Refusal`] to
//! its gRPC status (the code says what kind of refusal it is, the message is the
//! refusal's own, and the rule rides in the status's metadata for metrics and the
//! agency), and the answers every handler shares.

use escrow_crypto::WarrantId;
use escrow_service::metrics::with_rule;
use escrow_service::status::from_crypto;
use tonic::Status;

use crate::rules::Refusal;

/// An internal failure (storage, a panicked thread): logged here, answered as
/// `INTERNAL` without detail a caller could act on.
pub(crate) fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "internal error");
    Status::internal(format!("trustee internal error: {e}"))
}

pub(crate) fn warrant_id(bytes: &[u8]) -> Result<WarrantId, Status> {
    <[u8; 16]>::try_from(bytes).map(WarrantId).map_err(|_| status(&Refusal::MalformedWarrantId(bytes.len())))
}

/// The answer for a warrant this trustee does not hold — and, word for word, for one
/// the caller may not see, so that the answer does not confirm that it exists.
pub(crate) fn unknown_warrant(id: &WarrantId) -> Status {
    with_rule(Status::not_found(format!("unknown warrant {id}")), "unknown-warrant")
}

/// The one place a [`Refusal`] becomes a gRPC status: the code says what kind of
/// refusal it is, the message is the refusal's own.
pub(crate) fn status(r: &Refusal) -> Status {
    let status = match r {
        Refusal::Crypto { context, error } => return from_crypto(context, error),
        Refusal::MalformedWarrantId(_) | Refusal::NoItems | Refusal::TooManyItems { .. } => {
            Status::invalid_argument(r.to_string())
        }
        Refusal::UnknownWarrant(id) => return unknown_warrant(id),
        Refusal::NotApproved(_)
        | Refusal::Denied(_)
        | Refusal::Revoked(_)
        | Refusal::NoShareForEpoch { .. }
        | Refusal::DayKeysOff
        | Refusal::DayModeNotAnnounced { .. } => Status::failed_precondition(r.to_string()),
        Refusal::TooManyWarrants { .. } | Refusal::Quota(_) => Status::resource_exhausted(r.to_string()),
        Refusal::BadReason => Status::invalid_argument(r.to_string()),
        // Not UNAVAILABLE: the trustee answered, and said why it holds back.
        Refusal::NotWitnessed { .. } | Refusal::Transition(_) => Status::failed_precondition(r.to_string()),
        Refusal::WrongAgency { .. } | Refusal::ForeignTarget { .. } => Status::permission_denied(r.to_string()),
        Refusal::OtherDomain { .. } => Status::invalid_argument(r.to_string()),
        Refusal::Duplicate(_) => Status::already_exists(r.to_string()),
        Refusal::ChangedConcurrently(_) => Status::aborted(r.to_string()),
    };
    with_rule(status, r.code())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::state::{Action, Forbidden, State};
    use escrow_crypto::PartyId;
    use tonic::Code;

    /// Every refusal a handler makes: its gRPC code and its rule, from the one
    /// mapping. A "not yet witnessed" is an answer, not an outage.
    #[test]
    fn each_refusal_has_one_code_and_one_rule() {
        let w = WarrantId([7; 16]);
        let cases = [
            (
                Refusal::NotWitnessed { what: "the approval".into(), failure: "no quorum".into() },
                Code::FailedPrecondition,
                "not-witnessed",
            ),
            (Refusal::BadReason, Code::InvalidArgument, "malformed"),
            (Refusal::WrongAgency { named: PartyId::new("agency-2").unwrap() }, Code::PermissionDenied, "wrong-agency"),
            (
                Refusal::Transition(Forbidden { from: State::Revoked, action: Action::Approve }),
                Code::FailedPrecondition,
                "state",
            ),
            (Refusal::Duplicate(w), Code::AlreadyExists, "duplicate"),
            (Refusal::ChangedConcurrently(w), Code::Aborted, "concurrent"),
            (Refusal::NotApproved(w), Code::FailedPrecondition, "not-approved"),
            (Refusal::UnknownWarrant(w), Code::NotFound, "unknown-warrant"),
            (Refusal::NoItems, Code::InvalidArgument, "malformed"),
            (Refusal::DayKeysOff, Code::FailedPrecondition, "day-keys-off"),
            (
                Refusal::OtherDomain { index: 0, field_domain: "us".into(), ours: "uk".into() },
                Code::InvalidArgument,
                "other-domain",
            ),
            (
                Refusal::ForeignTarget {
                    index: 0,
                    target: PartyId::new("alice").unwrap(),
                    home: "us".into(),
                    ours: "uk".into(),
                },
                Code::PermissionDenied,
                "foreign-target",
            ),
        ];
        for (refusal, code, rule) in cases {
            let s = status(&refusal);
            assert_eq!((s.code(), escrow_service::metrics::rule_of(&s)), (code, Some(rule)), "{refusal}");
            assert_eq!(refusal.code(), rule);
        }
        let s =
            status(&Refusal::NotWitnessed { what: "the approval of warrant 07".into(), failure: "no quorum".into() });
        assert_eq!(s.message(), format!("the approval of warrant 07 {}: no quorum", escrow_proto::NOT_YET_WITNESSED));
    }
}
