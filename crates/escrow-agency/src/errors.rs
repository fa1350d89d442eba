//! What went wrong with a trustee while opening: an outage, a refusal, or "not yet
//! witnessed", told apart by one rule ([`TrusteeFailure::of`]), said in plain words
//! ([`describe`]), and folded per trustee ([`TrusteeErrors`]).

use std::collections::BTreeMap;

/// Why a trustee gave no shares for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TrusteeFailure {
    /// No answer: the connection failed, broke or timed out. Says nothing about the
    /// warrant.
    Unreachable,
    /// The trustee answered and refused (policy, scope, quota, unknown warrant, ...).
    Refused,
    /// The trustee answered that the warrant's approval is not yet in a witnessed
    /// checkpoint (rule [`escrow_proto::RULE_NOT_WITNESSED`]): a later request may
    /// succeed.
    NotYetWitnessed,
}

impl TrusteeFailure {
    /// The one rule for telling an outage from an answer. A status tonic made on this
    /// side (it carries the transport error as its source: refused, reset, timed out,
    /// whatever code it maps to) and the transport codes without a server's word are
    /// outages; a trustee's refusal with rule [`escrow_proto::RULE_NOT_WITNESSED`] is
    /// "not yet"; every other answer is a refusal. The rule is read from the
    /// `escrow-rule` metadata, never from the message's words.
    pub fn of(status: &tonic::Status) -> Self {
        use tonic::Code;
        if std::error::Error::source(status).is_some() {
            return TrusteeFailure::Unreachable;
        }
        if escrow_service::metrics::rule_of(status) == Some(escrow_proto::RULE_NOT_WITNESSED) {
            return TrusteeFailure::NotYetWitnessed;
        }
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => TrusteeFailure::Unreachable,
            _ => TrusteeFailure::Refused,
        }
    }
}

impl std::fmt::Display for TrusteeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrusteeFailure::Unreachable => "unreachable",
            TrusteeFailure::Refused => "refused",
            TrusteeFailure::NotYetWitnessed => "not yet witnessed",
        })
    }
}

/// `status`'s message, and for a failure on this side of the wire what it means in
/// plain words: tonic says "tcp connect error" for a refused connection, a timeout and
/// a missing route alike.
pub fn describe(status: &tonic::Status) -> String {
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            let plain = match io.kind() {
                K::ConnectionRefused => {
                    "connection refused: nothing listens at that address (server down, or wrong port)"
                }
                K::TimedOut => "timed out: no answer from that address (host down, or a firewall drops the packets)",
                K::HostUnreachable | K::NetworkUnreachable => {
                    "no route to that address (network down, or wrong address)"
                }
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                    "the connection was cut mid-request (the server stopped or crashed)"
                }
                _ => return format!("{}: {io}", status.message()),
            };
            return format!("{}: {plain}", status.message());
        }
        source = e.source();
    }
    status.message().to_string()
}

/// One distinct error a trustee answered with, and how many requests got it.
#[derive(Debug, Clone)]
pub struct TrusteeError {
    /// Outage or refusal.
    pub failure: TrusteeFailure,
    /// The gRPC status code.
    pub code: tonic::Code,
    /// The status message.
    pub message: String,
    /// How many requests (connect, share batches) ended with this error.
    pub count: usize,
}

/// Every distinct error per trustee (id, or address if it never answered), in order
/// of first occurrence.
#[derive(Debug, Default, Clone)]
pub struct TrusteeErrors(BTreeMap<String, Vec<TrusteeError>>);

impl TrusteeErrors {
    /// Records `status` from trustee `who`, folding repeats of the same error.
    pub fn record(&mut self, who: &str, status: &tonic::Status) {
        let errors = self.0.entry(who.to_string()).or_default();
        let message = describe(status);
        match errors.iter_mut().find(|e| e.code == status.code() && e.message == message) {
            Some(e) => e.count += 1,
            None => errors.push(TrusteeError {
                failure: TrusteeFailure::of(status),
                code: status.code(),
                message,
                count: 1,
            }),
        }
    }

    /// Every trustee with errors, and its errors.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[TrusteeError])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Trustees that refused at least once.
    pub fn refusing(&self) -> Vec<&str> {
        self.iter().filter(|(_, e)| e.iter().any(|e| e.failure == TrusteeFailure::Refused)).map(|(k, _)| k).collect()
    }

    /// Trustees that did not refuse but held shares back because the approval is not
    /// yet witnessed, at least once.
    pub fn not_yet_witnessed(&self) -> Vec<&str> {
        self.iter()
            .filter(|(_, e)| {
                e.iter().all(|e| e.failure != TrusteeFailure::Refused)
                    && e.iter().any(|e| e.failure == TrusteeFailure::NotYetWitnessed)
            })
            .map(|(k, _)| k)
            .collect()
    }

    /// Trustees that never answered with a refusal or a "not yet" but could not be
    /// reached.
    pub fn unreachable(&self) -> Vec<&str> {
        self.iter()
            .filter(|(_, e)| e.iter().all(|e| e.failure == TrusteeFailure::Unreachable))
            .map(|(k, _)| k)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{describe, TrusteeErrors, TrusteeFailure};
    use std::io::{Error, ErrorKind};

    /// A status made on this side of the wire, as tonic makes one from a transport error.
    fn local(kind: ErrorKind) -> tonic::Status {
        tonic::Status::from_error(Box::new(Error::new(kind, "os says no")))
    }

    #[test]
    fn each_outcome_has_its_own_word() {
        let not_yet = escrow_service::metrics::with_rule(
            tonic::Status::failed_precondition(format!(
                "the approval of warrant ab {}: no witness reachable",
                escrow_proto::NOT_YET_WITNESSED
            )),
            escrow_proto::RULE_NOT_WITNESSED,
        );
        assert_eq!(TrusteeFailure::of(&not_yet), TrusteeFailure::NotYetWitnessed);
        // The words alone, without the rule, are a refusal like any other.
        let words = tonic::Status::failed_precondition(not_yet.message());
        assert_eq!(TrusteeFailure::of(&words), TrusteeFailure::Refused);
        // A trustee killed mid-request: whatever code tonic picks, nobody answered.
        assert_eq!(TrusteeFailure::of(&local(ErrorKind::ConnectionReset)), TrusteeFailure::Unreachable);
        assert_eq!(TrusteeFailure::of(&local(ErrorKind::ConnectionRefused)), TrusteeFailure::Unreachable);
        assert_eq!(TrusteeFailure::of(&tonic::Status::unavailable("tcp connect error")), TrusteeFailure::Unreachable);
        assert_eq!(TrusteeFailure::of(&tonic::Status::permission_denied("not approved")), TrusteeFailure::Refused);
        assert_eq!(TrusteeFailure::of(&tonic::Status::unknown("a trustee's own word")), TrusteeFailure::Refused);

        let mut errors = TrusteeErrors::default();
        errors.record("trustee-0", &not_yet);
        errors.record("trustee-1", &local(ErrorKind::ConnectionReset));
        errors.record("trustee-2", &tonic::Status::permission_denied("not approved"));
        assert_eq!(errors.not_yet_witnessed(), ["trustee-0"]);
        assert_eq!(errors.unreachable(), ["trustee-1"]);
        assert_eq!(errors.refusing(), ["trustee-2"]);
    }

    #[test]
    fn a_connection_failure_is_said_in_plain_words() {
        assert!(describe(&local(ErrorKind::ConnectionRefused))
            .ends_with(": connection refused: nothing listens at that address (server down, or wrong port)"));
        assert!(describe(&local(ErrorKind::TimedOut)).contains("timed out: no answer from that address"));
        assert!(describe(&local(ErrorKind::HostUnreachable)).contains("no route to that address"));
        assert!(describe(&local(ErrorKind::ConnectionReset)).contains("the connection was cut mid-request"));
        assert_eq!(describe(&tonic::Status::permission_denied("not approved")), "not approved");
    }
}
