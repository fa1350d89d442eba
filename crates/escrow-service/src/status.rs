//! gRPC statuses for crypto errors: the code says what kind of refusal it is, the
//! message names the culprit (blob, field, trustee, rule).

use escrow_crypto::Error;
use tonic::{Code, Status};

/// The status for an `escrow-crypto` error met while checking a request, prefixed
/// with what was being checked (e.g. "item 3").
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
    if context.is_empty() {
        Status::new(code, e.to_string())
    } else {
        Status::new(code, format!("{context}: {e}"))
    }
}
