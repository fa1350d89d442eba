//! One CA per organisation, over real servers: what one organisation's CA key can and
//! cannot certify. Every trustee is its own organisation (`org-trustee-<i>`), as are
//! the provider, each agency, the auditors and each witness ([`Pki::federated`]).
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_pki::{Ca, Identity, Role};
use escrow_proto::v1 as pb;
use escrow_service::transport::Credentials;
use escrow_tests::*;
use tonic::Code;

fn approve_req(wid: u8) -> pb::DecideWarrantRequest {
    pb::DecideWarrantRequest { warrant_id: vec![wid; 16], reason: "signed off".into() }
}

/// A refusal in the handshake: the call never reaches a service. TLS 1.3 lets the
/// client finish its side before the server's alert arrives, so the client sees the
/// connection fail (UNAVAILABLE) or its first request cancelled (CANCELLED); never
/// an answer of the service.
fn refused_in_handshake(s: &tonic::Status) {
    assert!(matches!(s.code(), Code::Unavailable | Code::Cancelled | Code::Unknown), "{:?}: {}", s.code(), s.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_certificate_from_another_trustees_organisation_is_refused() {
    let d = deploy_plain(81).await;
    let w = d.warrant(1, &["alice"], START, START + DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    // Trustee-1's organisation mints "operator mallory of trustee-2".
    let forged = pki().creds_from("org-trustee-1", &Identity::operator(id("trustee-2"), id("mallory"))).unwrap();
    let why = forged.check_believed().unwrap_err().to_string();
    assert!(why.contains("org-trustee-2"), "{why}");
    let before = escrow_trustee::tamper::state_digest(&d.trustees[2].dir).unwrap();
    let s = d.trustee_client_as(2, &forged).unwrap().approve_warrant(approve_req(1)).await.unwrap_err();
    refused_in_handshake(&s);
    assert_eq!(escrow_trustee::tamper::state_digest(&d.trustees[2].dir).unwrap(), before, "nothing changed");
    assert_eq!(d.status(2, 1).await.unwrap().state(), pb::WarrantState::Received);
    // Trustee-2's own organisation's operator is believed.
    d.approve(&[2], 1).await.unwrap();
    assert_eq!(d.status(2, 1).await.unwrap().state(), pb::WarrantState::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_of_an_unlisted_organisation_is_refused_everywhere() {
    let d = deploy_plain(82).await;
    let w = d.warrant(2, &["alice"], START, START + DAY).unwrap();
    let stray = Identity::new(Role::Agency, id("agency-9")).unwrap();
    // Whoever issued it: every organisation's CA in turn, and a CA of no
    // organisation at all.
    let outsider = Ca::generate("outsider", validity()).unwrap();
    let mut certs: Vec<Credentials> =
        pki().federation().organisations().iter().map(|o| pki().creds_from(o.name(), &stray).unwrap()).collect();
    let issued = outsider.issue(&stray, validity()).unwrap();
    certs.push(Credentials::new(pki().trust().clone(), issued.cert_pem, issued.key_pem).unwrap());
    let before: Vec<String> =
        d.trustees.iter().map(|t| escrow_trustee::tamper::state_digest(&t.dir).unwrap()).collect();
    for creds in &certs {
        assert!(creds.check_believed().is_err());
        for i in 0..d.trustees.len() {
            let req = pb::SubmitWarrantRequest { warrant: w.clone() };
            let s = d.trustee_client_as(i, creds).unwrap().submit_warrant(req).await.unwrap_err();
            refused_in_handshake(&s);
        }
        let s = d.relay_client_as(creds).unwrap().get_epoch_key(pb::GetEpochKeyRequest {}).await.unwrap_err();
        refused_in_handshake(&s);
    }
    let after: Vec<String> = d.trustees.iter().map(|t| escrow_trustee::tamper::state_digest(&t.dir).unwrap()).collect();
    assert_eq!(before, after);
    // The listed agency is served.
    d.submit_everywhere(&w).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_trustee_organisation_ca_approves_at_exactly_one_trustee() {
    let d = deploy_plain(83).await;
    let env = d.send("alice", &["bob"], START + 3_600, "meet at noon").await.unwrap();
    d.clock.set(START + 2 * DAY).unwrap();
    let w = d.warrant(3, &["alice"], START, START + DAY).unwrap();
    d.submit_everywhere(&w).await.unwrap();
    // The thief holds org-trustee-1's CA key and mints an operator for every trustee.
    let mut approved_at = Vec::new();
    for i in 0..d.trustees.len() {
        let thief = Identity::operator(id(&format!("trustee-{i}")), id("thief"));
        let creds = pki().creds_from("org-trustee-1", &thief).unwrap();
        let r = d.trustee_client_as(i, &creds).unwrap().approve_warrant(approve_req(3)).await;
        match r {
            Ok(_) => approved_at.push(i),
            Err(s) => refused_in_handshake(&s),
        }
    }
    assert_eq!(approved_at, vec![1], "one organisation's CA reaches its own trustee only");
    // One approval of the t+1 = 3 needed opens nothing.
    let agency = d.agency().await.unwrap();
    let report = agency.open(&w, |_| {}).await.unwrap();
    assert!(report.opened.is_empty(), "{:?}", report.opened.len());
    assert!(report.failed.iter().all(|(_, why)| why.to_string().contains("1 valid decryption shares, 3 needed")));
    // Two honest trustees' own operators make it three: the message opens.
    d.approve(&[0, 3], 3).await.unwrap();
    let report = agency.open(&w, |_| {}).await.unwrap();
    assert_eq!(report.opened.len(), 1, "{:?}", report.failed);
    assert_eq!(&report.opened[0].label, env.label());
    assert_eq!(report.opened[0].plaintext, b"meet at noon");
}
