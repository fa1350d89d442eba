//! Distributed key generation among the trustees: no dealer ever holds an epoch's
//! master secret.
//!
//! - [`math`]: Joint-Feldman dealings, commitments, shares, their encryption to each
//!   player, and combining the qualified dealers' contributions (fresh or reshared).
//! - [`messages`]: the signed ceremony messages (proposal, acceptance, execute,
//!   dealing, complaints, justification, agreement, rejection, abort).
//! - [`machine`]: one trustee's side of a ceremony as a state machine with one table
//!   of phase transitions; its agreement round installs a key only when every
//!   participant signed the same announcement.
//!
//! Nothing here does IO or reads a clock: the trustee service carries the messages,
//! writes each logged step before acting on it, and passes the time in.

pub mod machine;
pub mod math;
pub mod messages;
