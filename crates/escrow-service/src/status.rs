//! gRPC statuses for crypto errors: the code says what kind of refusal it is, the
//! message names the culprit (blob, field, trustee, rule).

use escrow_crypto::Error;
use tonic::{Code, Status};

use crate::metrics::with_rule;

/// How prost's `DecodeError` begins its text, which tonic-prost puts in the status of
/// a request body that does not decode.
const DECODE_FAILURE: &str = "failed to decode Protobuf message";

/// A server's answer with tonic's `INTERNAL` for a request body that is not the RPC's
/// Protobuf message turned into `INVALID_ARGUMENT` (rule `malformed`); every other
/// answer as is. tonic-prost follows gRPC's status table, which files a parse failure
/// as an internal error, but here the body comes from the caller: a server fault
/// code would send operators after a bug that is not there and tell the caller to
/// retry what can never succeed. The decode failure happens before any handler runs,
/// so nothing has changed; the answer is a headers-only one, which is where this looks.
pub fn undecodable_is_invalid_argument<B: Default>(response: http::Response<B>) -> http::Response<B> {
    match Status::from_header_map(response.headers()) {
        Some(s) if s.code() == Code::Internal && s.message().starts_with(DECODE_FAILURE) => {
            with_rule(Status::invalid_argument(format!("malformed request: {}", s.message())), "malformed").into_http()
        }
        _ => response,
    }
}

/// The name of the rule an `escrow-crypto` error breaks, as refusals carry it
/// ([`crate::metrics::RULE_HEADER`]).
pub fn crypto_rule(e: &Error) -> &'static str {
    match e {
        Error::Decode { .. } | Error::InvalidInput { .. } | Error::InvalidField | Error::FieldMismatch => "malformed",
        Error::EpochMismatch { .. } => "wrong-epoch",
        Error::UnknownTrustee { .. } | Error::UnpinnedTrustee(_) => "unknown-trustee",
        Error::BadSignature { .. } | Error::AnnouncementSignature { .. } => "bad-signature",
        Error::UntrustedCourt => "untrusted-court",
        Error::PartyMismatch { .. } => "party-mismatch",
        Error::OutOfScope(_) => "out-of-scope",
        Error::WarrantTime(_) => "warrant-time",
        _ => "crypto",
    }
}

/// The status for an `escrow-crypto` error met while checking a request, prefixed
/// with what was being checked (e.g. "item 3"), carrying the rule it broke.
pub fn from_crypto(context: &str, e: &Error) -> Status {
    let code = match e {
        Error::Decode { .. } | Error::InvalidInput { .. } | Error::InvalidField | Error::FieldMismatch => {
            Code::InvalidArgument
        }
        Error::EpochMismatch { .. } | Error::UnknownTrustee { .. } => Code::InvalidArgument,
        Error::BadSignature { .. } | Error::UntrustedCourt | Error::PartyMismatch { .. } => Code::PermissionDenied,
        Error::OutOfScope(_) => Code::PermissionDenied,
        Error::WarrantTime(_) => Code::FailedPrecondition,
        _ => Code::InvalidArgument,
    };
    let status = if context.is_empty() {
        Status::new(code, e.to_string())
    } else {
        Status::new(code, format!("{context}: {e}"))
    };
    crate::metrics::with_rule(status, crypto_rule(e))
}

/// The name of a gRPC code as the gRPC spec writes it (`PERMISSION_DENIED`): the one
/// spelling of codes in log entries, metrics and messages.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
