//! Plumbing shared by the trustee and relay services, kept in one place so that a
//! change of transport (mutual TLS, per-role authorization) or of storage settings
//! happens once:
//!
//! - [`transport`]: builds every server (mutual TLS, health, reflection) and every client channel;
//! - [`auth`]: the caller's role and id from its certificate, and the denial helpers;
//! - [`clock`]: where "now" comes from (system, a shared demo clock file, or tests);
//! - [`db`]: opens SQLite the durable way (WAL, `synchronous=FULL`);
//! - [`datadir`]: one process per data directory (an exclusive lock file);
//! - [`files`]: secret files written owner-only and synced;
//! - [`par`]: CPU-bound checks over all cores, in order;
//! - [`metrics`]: Prometheus metrics, the RPC layer and the `/metrics` endpoint;
//! - [`ratelimit`]: per-caller token buckets, enforced in the auth layer;
//! - [`status`]: maps crypto errors to gRPC statuses that name the culprit.

pub mod auth;
pub mod clock;
pub mod datadir;
pub mod db;
pub mod files;
pub mod metrics;
pub mod par;
pub mod ratelimit;
pub mod status;
pub mod transport;
