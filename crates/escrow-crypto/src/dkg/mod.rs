//! Distributed key generation among the trustees: no dealer ever holds an epoch's
//! master secret.
//!
//! - [`math`]: Joint-Feldman dealings, commitments, shares, their encryption to each
//!   player, and combining the qualified dealers' contributions (fresh or reshared).
//! - [`messages`]: the signed ceremony messages (proposal, acceptance, execute,
//!   dealing, complaints, justification, agreement, rejection, abort).
//! - [`machine`]: one trustee's side of a ceremony as a state machine; its agreement
//!   round installs a key only when every participant signed the same announcement.
//! - [`phase`]: the phases and the one table of moves between them.
//! - [`qualify`]: the pure rules on the broadcast record: what a player complains
//!   about, which complaints wait for an answer, which dealers qualify.
//! - [`outcome`]: what the machine tells its caller (steps to log, outputs, abort and
//!   disqualification reasons, refusals).
//!
//! Nothing here does IO or reads a clock: the trustee service carries the messages,
//! writes each logged step before acting on it, and passes the time in.

pub mod machine;
pub mod math;
pub mod messages;
pub mod outcome;
pub mod phase;
pub(crate) mod qualify;
