//! The deployment kit: one way to stand up a real local deployment of escrow — n
//! trustee servers and a relay, each with its own data directory and SQLite file, on
//! `127.0.0.1:0` ports — for the demo and for every test that needs servers.
//!
//! - [`World`]: the parties — a deployment CA and every party's credentials
//!   ([`Pki`]), the epoch key set, a court, users, and a clock everyone shares
//!   ([`KitClock`]).
//! - [`Deployment`]: the world plus running [`Node`]s. [`Launch::InProcess`] serves
//!   each trustee and the relay as a task of this process (tests: fast, a manual
//!   clock); [`Launch::Processes`] starts them as child processes of the `escrow`
//!   binary with sealed key files, a policy file per trustee and a clock file (the
//!   demo: what an operator would run). Both are supervised the same way: stop,
//!   kill, restart on the same data directory, rotate the epoch, clean up on drop.
//! - Every party's calls, written once: clients as each role, warrants signed by the
//!   court, submission to every trustee, operator decisions, sending as a user, the
//!   agency's open.
//!
//! Nothing here skips a check the services make: the kit only plays the parties.
//! Key generation is the dealer's (the weak mode), so the kit's process sees every
//! epoch's master secret; that is a property of the kit, not of a deployment.

pub mod ceremony;
pub mod clock;
pub mod deployment;
pub mod error;
pub mod node;
pub mod pki;
pub mod witnesses;
pub mod world;

pub use ceremony::{CeremonyOutcome, CeremonySpec};
pub use clock::KitClock;
pub use deployment::{Deployment, TrusteeNode};
pub use error::KitError;
pub use node::Node;
pub use pki::Pki;
pub use witnesses::{WitnessNode, WitnessOptions};
pub use world::{default_policy, KeyGen, Launch, Options, World, DAY};
