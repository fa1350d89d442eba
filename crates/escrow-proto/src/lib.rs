//! Generated gRPC code for package `escrow.v1` (proto/escrow/v1/*.proto).
//!
//! Messages carry the blobs of `escrow-crypto` as raw bytes; decoding and checking
//! them is the services' job, never this crate's.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `escrow.v1`: trustee and relay services.
pub mod v1 {
    tonic::include_proto!("escrow.v1");
}

/// What a trustee's `UNAVAILABLE` says when it holds shares back until the warrant's
/// approval is in a witnessed checkpoint: a "not yet", not an outage. One string for
/// the trustee that sends it and the agency that tells it apart.
pub const NOT_YET_WITNESSED: &str = "is not yet in a witnessed checkpoint";

/// The `escrow-rule` a trustee's refusal carries when it holds shares back because the
/// warrant's approval is not yet in a witnessed checkpoint (`FAILED_PRECONDITION`):
/// not an outage, and a later request may succeed. Clients decide on this, not on
/// the message's words.
pub const RULE_NOT_WITNESSED: &str = "not-witnessed";

/// The encoded `FileDescriptorSet` of every escrow proto, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/escrow_v1_descriptor.bin"));

include!(concat!(env!("OUT_DIR"), "/escrow_v1_methods.rs"));
