//! What every integration test shares: the deployment kit ([`escrow_kit`]) started in
//! this process with a manual clock and keys seeded per test, one CA per organisation
//! per test binary,
//! and short names for the parties' credentials.
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing, clippy::panic, clippy::missing_panics_doc)]

use std::sync::{Arc, OnceLock};

use escrow_crypto::*;
use escrow_pki::{Identity, Role};
use escrow_proto::v1 as pb;
use escrow_service::transport::Credentials;
use escrow_trustee::policy::Policy;
use pb::relay_client::RelayClient;
use pb::trustee_client::TrusteeClient;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tonic::transport::Channel;

pub use escrow_kit::deployment::{log_signer, origin};
pub use escrow_kit::{default_policy, Deployment, Node, Options, Pki, DAY};

pub mod byzantine;

/// 2026-01-01T00:00:00Z.
pub const START: u64 = escrow_kit::world::START;
pub const N: u16 = 5;
pub const T: u16 = 2;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn id(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

/// The organisations' CAs of every deployment in this test binary (one per trustee
/// up to nine, the provider, agencies 1 to 3, the auditors, witnesses w1..w5), and
/// every credential they issued. The trustees' policies ([`policy`]) serve the
/// agencies of `org-agency-1` and `org-agency-2` only.
pub fn pki() -> Arc<Pki> {
    static PKI: OnceLock<Arc<Pki>> = OnceLock::new();
    PKI.get_or_init(|| {
        let witnesses = ["w1", "w2", "w3", "w4", "w5"];
        Arc::new(Pki::federated("tests", 2, 9, &["agency-1", "agency-2", "agency-3"], &witnesses).unwrap())
    })
    .clone()
}

/// Credentials for `identity` from [`pki`].
pub fn creds_for(identity: Identity) -> Credentials {
    pki().creds(&identity).unwrap()
}

/// Credentials of a party of `role` (not an operator) with id `party`.
pub fn creds(role: Role, party: &str) -> Credentials {
    pki().party(role, party).unwrap()
}

/// The credentials of operator `op-<i>` of trustee `trustee-<i>`.
pub fn operator_creds(i: usize) -> Credentials {
    pki().operator(&format!("trustee-{i}"), &format!("op-{i}")).unwrap()
}

/// The agency of the test warrants.
pub fn agency_creds() -> Credentials {
    creds(Role::Agency, "agency-1")
}

/// The auditor.
pub fn auditor_creds() -> Credentials {
    creds(Role::Auditor, "auditor-1")
}

/// A trustee client for `addr` presenting `creds`.
pub fn trustee_client_at(addr: &str, creds: &Credentials) -> TrusteeClient<Channel> {
    escrow_service::transport::trustee_client(addr, creds).unwrap()
}

/// A relay client for `addr` presenting `creds`.
pub fn relay_client_at(addr: &str, creds: &Credentials) -> RelayClient<Channel> {
    escrow_service::transport::relay_client(addr, creds).unwrap()
}

/// The test policy of trustee `i` trusting `court` and serving the agencies of
/// `org-agency-1` and `org-agency-2`, changed by `tweak`.
pub fn policy(i: u16, court: &CourtPublicKey, tweak: impl Fn(u16, &mut Policy)) -> Policy {
    let mut p = default_policy(i, court);
    p.agency_organisations = vec!["org-agency-1".into(), "org-agency-2".into()];
    tweak(i, &mut p);
    p
}

/// Five trustees (t = 2) and a relay in this process, keys seeded by `seed`, each
/// trustee's policy [`default_policy`] changed by `tweak`.
pub async fn deploy(seed: u64, tweak: impl Fn(u16, &mut Policy) + Send + Sync + 'static) -> Deployment {
    let options = Options {
        name: "tests".into(),
        seed: Some(seed),
        pki: Some(pki()),
        policy: Arc::new(move |i, court| policy(i, court, &tweak)),
        ..Options::default()
    };
    Deployment::start(options).await.unwrap()
}

/// A deployment with every trustee's policy as is.
pub async fn deploy_plain(seed: u64) -> Deployment {
    deploy(seed, |_, _| {}).await
}

/// Two days from now: certificates made outside [`pki`] in the tests.
pub fn validity() -> escrow_pki::Validity {
    escrow_pki::Validity::days_from(std::time::SystemTime::now(), 2)
}

/// Every entry of trustee `i`'s log, read through its Audit service in pages.
pub async fn log_entries(d: &Deployment, i: usize) -> Vec<escrow_log::event::Entry> {
    let mut audit = d.audit_client(i).unwrap();
    let cp = audit.get_checkpoint(pb::GetCheckpointRequest {}).await.unwrap().into_inner();
    let size: u64 = cp.checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let mut out = Vec::new();
    let mut start = 0;
    while start < size {
        let end = size.min(start + 1000);
        let page = audit.get_entries(pb::GetEntriesRequest { start, end }).await.unwrap().into_inner();
        out.extend(page.entries.iter().map(|e| escrow_log::event::Entry::from_bytes(e).unwrap()));
        start = end;
    }
    out
}
