//! The log's side of `add-checkpoint` (c2sp.org/tlog-witness): publishing one signed
//! checkpoint to one witness, as a state machine without the HTTP, the store or the
//! clock. The caller sends what [`Step::Send`] says, feeds the witness's reply to
//! [`Publication::answer`], and stops at [`Step::Cosigned`] or [`Step::Failed`].
//!
//! What each reply means, as the spec's status codes say (the witness's side is
//! [`crate::witness`]):
//!
//! - **200**: the body holds the witness's cosignature lines. Only the lines under
//!   this witness's own key that verify over the checkpoint are kept
//!   ([`crate::cosignature::own_cosignatures`]); one bad line under its key fails it.
//! - **409 Conflict**, "the old size doesn't match the size of the latest checkpoint
//!   the witness cosigned": the body is that size. If this log had it (it is no larger
//!   than the checkpoint's), the witness restarted or a reply was lost: send once more,
//!   proving from that size. If it is larger, the witness cosigned more of this log
//!   than this log holds: a fork or a rollback of this log, [`Evidence::AheadOfLog`],
//!   never retried.
//! - **422 Unprocessable Entity**, "the consistency proof is invalid": this log's own
//!   signed checkpoint does not extend what the witness cosigned of it, so someone
//!   signed a fork with this log's key: [`Evidence::ForkRefused`].
//! - any other status, or no answer: the publication to this witness fails, with the
//!   witness's words.

use crate::cosignature::{own_cosignatures, WitnessVerifier};

/// What the witness answered to one `add-checkpoint` request (or that none came).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// 200, with the cosignature lines as sent (not yet verified).
    Cosigned(String),
    /// 409, with the size the witness last cosigned of this log.
    Conflict(u64),
    /// Any other HTTP status, with the witness's message.
    Refused {
        /// The status.
        status: u16,
        /// What the witness said.
        message: String,
    },
    /// No answer (connection, timeout, TLS), or the request could not be made (the
    /// consistency proof could not be read): why.
    NotAnswered(String),
}

/// An answer that shows this log was forked or rolled back: the caller raises it as
/// an alarm, not as an outage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// The witness cosigned `latest` entries of this log, more than its `size`.
    AheadOfLog {
        /// The witness's size.
        latest: u64,
        /// This log's size.
        size: u64,
    },
    /// The witness found this log's checkpoint inconsistent with what it cosigned (422).
    ForkRefused,
}

/// What the caller does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send `add-checkpoint` with this old size, and a consistency proof from it to the
    /// checkpoint's size if `prove` (none from size 0, nor from a size past the
    /// checkpoint's).
    Send {
        /// The `old` line.
        old_size: u64,
        /// Whether a consistency proof goes with it.
        prove: bool,
    },
    /// The witness cosigned: its own verified lines, and the size it now holds.
    Cosigned {
        /// Its cosignature lines for the checkpoint.
        lines: String,
        /// The size it holds now (the checkpoint's).
        held: u64,
    },
    /// The publication to this witness failed.
    Failed {
        /// Why, naming the witness.
        why: String,
        /// The size the witness is now known to hold, if the answer said.
        held: Option<u64>,
        /// What the answer shows, if it shows a fork or a rollback of this log.
        evidence: Option<Evidence>,
    },
}

/// One checkpoint's publication to one witness.
#[derive(Debug)]
pub struct Publication<'a> {
    witness: &'a WitnessVerifier,
    note: &'a str,
    size: u64,
    /// The old size of the request in flight.
    old: u64,
    /// Whether the one retry after a 409 was used.
    retried: bool,
    done: bool,
}

impl<'a> Publication<'a> {
    /// Starts publishing `note` (a signed checkpoint of `size` entries) to `witness`,
    /// which last cosigned `held` entries of this log as far as the caller knows (0:
    /// none). Returns the machine and the first request to send.
    pub fn start(witness: &'a WitnessVerifier, note: &'a str, size: u64, held: u64) -> (Self, Step) {
        let p = Publication { witness, note, size, old: held, retried: false, done: false };
        let first = p.send();
        (p, first)
    }

    fn send(&self) -> Step {
        Step::Send { old_size: self.old, prove: self.old != 0 && self.old <= self.size }
    }

    fn fail(&mut self, why: String, held: Option<u64>, evidence: Option<Evidence>) -> Step {
        self.done = true;
        Step::Failed { why: format!("{}: {why}", self.witness.name()), held, evidence }
    }

    /// Takes the witness's reply to the last [`Step::Send`]. After a final step, any
    /// further reply fails the publication (the caller sent nothing it was told to).
    pub fn answer(&mut self, reply: Reply) -> Step {
        if self.done {
            return self.fail("a reply after the publication ended".into(), None, None);
        }
        match reply {
            Reply::Cosigned(lines) => match own_cosignatures(self.note, &lines, self.witness) {
                Ok(own) => {
                    self.done = true;
                    Step::Cosigned { lines: own, held: self.size }
                }
                Err(e) => self.fail(format!("unusable cosignature: {e}"), None, None),
            },
            Reply::Conflict(latest) if latest <= self.size && latest != self.old && !self.retried => {
                self.retried = true;
                self.old = latest;
                self.send()
            }
            Reply::Conflict(latest) => {
                let evidence = (latest > self.size).then_some(Evidence::AheadOfLog { latest, size: self.size });
                self.fail(format!("holds size {latest} of this log, which has {}", self.size), Some(latest), evidence)
            }
            Reply::Refused { status, message } => {
                let evidence = (status == 422).then_some(Evidence::ForkRefused);
                self.fail(format!("{status} {message}"), None, evidence)
            }
            Reply::NotAnswered(why) => self.fail(why, None, None),
        }
    }
}

#[cfg(test)]
mod tests {
    // Test code may unwrap and index: the lint wall is for library code.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use rand::SeedableRng;

    use super::*;
    use crate::cosignature::WitnessSigner;
    use crate::note::{sign_note, CheckpointSigner};
    use crate::Checkpoint;

    struct Fixture {
        witness: WitnessSigner,
        other: WitnessSigner,
        /// The checkpoint's text, which cosignatures sign.
        text: String,
        /// The log's signed note of it.
        note: String,
    }

    fn fixture() -> Fixture {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let log = CheckpointSigner::generate("example.com/log", &mut rng).unwrap();
        let text = Checkpoint::new("example.com/log", 10, [7; 32]).unwrap().body();
        let note = sign_note(&text, &log).unwrap();
        Fixture {
            witness: WitnessSigner::generate("w1", &mut rng).unwrap(),
            other: WitnessSigner::generate("w2", &mut rng).unwrap(),
            text,
            note,
        }
    }

    fn cosign(w: &WitnessSigner, text: &str) -> String {
        w.cosign(text, 1_700_000_000).unwrap()
    }

    /// Each reply, from a witness that last cosigned `held` of a log of 10: the steps.
    #[test]
    fn each_reply_leads_where_the_spec_says() {
        let f = fixture();
        let v = f.witness.verifier();
        let mine = cosign(&f.witness, &f.text);
        let theirs = cosign(&f.other, &f.text);
        let failed = |why: &str, held, evidence| Step::Failed { why: format!("w1: {why}"), held, evidence };
        // (what, held before, replies, the steps after each reply)
        let rows: Vec<(&str, u64, Vec<Reply>, Vec<Step>)> = vec![
            (
                "cosigned: only its own lines are kept",
                4,
                vec![Reply::Cosigned(format!("{mine}{theirs}"))],
                vec![Step::Cosigned { lines: mine.clone(), held: 10 }],
            ),
            (
                "a line under its key that does not verify",
                4,
                vec![Reply::Cosigned(cosign(&f.witness, "another checkpoint\n"))],
                vec![Step::Failed { why: String::new(), held: None, evidence: None }],
            ),
            (
                "409 naming a size this log had: once more from it, then cosigned",
                4,
                vec![Reply::Conflict(7), Reply::Cosigned(mine.clone())],
                vec![Step::Send { old_size: 7, prove: true }, Step::Cosigned { lines: mine.clone(), held: 10 }],
            ),
            (
                "409 again after the retry: failed, not retried twice",
                4,
                vec![Reply::Conflict(7), Reply::Conflict(8)],
                vec![
                    Step::Send { old_size: 7, prove: true },
                    failed("holds size 8 of this log, which has 10", Some(8), None),
                ],
            ),
            (
                "409 naming the size just sent: nothing to retry",
                4,
                vec![Reply::Conflict(4)],
                vec![failed("holds size 4 of this log, which has 10", Some(4), None)],
            ),
            (
                "409 naming more than this log holds: evidence of a fork or rollback",
                4,
                vec![Reply::Conflict(12)],
                vec![failed(
                    "holds size 12 of this log, which has 10",
                    Some(12),
                    Some(Evidence::AheadOfLog { latest: 12, size: 10 }),
                )],
            ),
            (
                "422: the witness saw a fork",
                4,
                vec![Reply::Refused { status: 422, message: "inconsistent".into() }],
                vec![failed("422 inconsistent", None, Some(Evidence::ForkRefused))],
            ),
            (
                "403: refused, no evidence",
                0,
                vec![Reply::Refused { status: 403, message: "unknown key".into() }],
                vec![failed("403 unknown key", None, None)],
            ),
            ("no answer", 0, vec![Reply::NotAnswered("timed out".into())], vec![failed("timed out", None, None)]),
            (
                "a reply after the end",
                0,
                vec![Reply::Cosigned(mine.clone()), Reply::Cosigned(mine.clone())],
                vec![
                    Step::Cosigned { lines: mine.clone(), held: 10 },
                    failed("a reply after the publication ended", None, None),
                ],
            ),
        ];
        for (what, held, replies, expected) in rows {
            let (mut p, first) = Publication::start(&v, &f.note, 10, held);
            assert_eq!(first, Step::Send { old_size: held, prove: held != 0 }, "{what}: first request");
            for (reply, want) in replies.into_iter().zip(expected) {
                let got = p.answer(reply);
                match (&got, &want) {
                    // The cosignature error's own words are the cosignature module's.
                    (Step::Failed { why, held: None, evidence: None }, Step::Failed { why: w, .. }) if w.is_empty() => {
                        assert!(why.starts_with("w1: unusable cosignature: "), "{what}: {why}");
                    }
                    _ => assert_eq!(got, want, "{what}"),
                }
            }
        }
    }

    /// No proof goes from size 0, nor from a size past the checkpoint's (the witness
    /// will answer 409 with its size, and the retry proves from that).
    #[test]
    fn the_first_request_proves_only_from_a_size_this_log_had() {
        let f = fixture();
        let v = f.witness.verifier();
        for (held, prove) in [(0, false), (1, true), (10, true), (11, false)] {
            let (_, first) = Publication::start(&v, &f.note, 10, held);
            assert_eq!(first, Step::Send { old_size: held, prove }, "held {held}");
        }
    }
}
