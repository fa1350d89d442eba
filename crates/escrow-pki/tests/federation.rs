//! The federation file: signed entries, the cross-entry rules, rotation, and the
//! rustls verifiers that enforce it — every refusal path.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, SystemTime};

use escrow_crypto::{PartyId, TrusteeSigningKey};
use escrow_pki::federation::{Change, Draft, Pattern, Pin, Retired};
use escrow_pki::trust::Trust;
use escrow_pki::{Ca, Federation, FederationError, Identity, Organisation, Role, Validity};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

fn id(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

fn validity() -> Validity {
    Validity::days_from(SystemTime::now(), 30)
}

fn patterns(p: &[&str]) -> Vec<Pattern> {
    p.iter().map(|s| Pattern::parse(s).unwrap()).collect()
}

fn draft(name: &str, certifies: &[&str], pins: Vec<Pin>) -> Draft {
    Draft {
        deployment: "test".into(),
        name: name.into(),
        generation: 1,
        certifies: patterns(certifies),
        pins,
        previous: vec![],
    }
}

/// Two trustee organisations, an agency and a provider, each with its own CA.
struct World {
    cas: Vec<Ca>,
    fed: Federation,
}

fn trustee_pin(t: &str) -> Pin {
    Pin::Trustee(TrusteeSigningKey::generate(id(t), &mut rand::rngs::OsRng).public())
}

fn world() -> World {
    let names = ["org-t0", "org-t1", "police", "provider"];
    let cas: Vec<Ca> = names.iter().map(|n| Ca::generate(n, validity()).unwrap()).collect();
    let drafts = [
        draft("org-t0", &["trustee/trustee-0", "operator/trustee-0/*"], vec![trustee_pin("trustee-0")]),
        draft("org-t1", &["trustee/trustee-1", "operator/trustee-1/*"], vec![trustee_pin("trustee-1")]),
        draft("police", &["agency/agency-1"], vec![]),
        draft("provider", &["relay/*", "user/*"], vec![]),
    ];
    let orgs = drafts.into_iter().zip(&cas).map(|(d, ca)| Organisation::sign(d, ca).unwrap()).collect();
    World { fed: Federation::new("test", orgs).unwrap(), cas }
}

#[test]
fn a_federation_round_trips_through_its_file_and_names_one_owner_per_identity() {
    let w = world();
    let text = w.fed.render();
    let back = Federation::parse(&text).unwrap();
    assert_eq!(back, w.fed);
    assert_eq!(back.render(), text, "rendering is stable, so two versions diff by what changed");
    assert_eq!(back.digest(), w.fed.digest());
    let op1 = Identity::operator(id("trustee-1"), id("alice"));
    assert_eq!(back.organisation_for(&op1).unwrap().name(), "org-t1");
    assert_eq!(back.organisation_for(&Identity::new(Role::User, id("bob")).unwrap()).unwrap().name(), "provider");
    assert!(back.organisation_for(&Identity::new(Role::Agency, id("agency-9")).unwrap()).is_none());
    assert_eq!(back.trustee_pins().unwrap().keys().len(), 2);
    assert_eq!(back.trustees(), vec![id("trustee-0"), id("trustee-1")]);
    // One trustee organisation's CA reaches one trustee's operators; a one-root CA
    // reaches them all.
    let trustees = back.trustees();
    assert_eq!(back.organisation("org-t0").unwrap().operator_reach(&trustees), vec![&trustees[0]]);
    let root = Ca::generate("root", validity()).unwrap();
    let one = Federation::one_root("test", "deployment", &root, vec![]).unwrap();
    assert_eq!(one.organisations()[0].operator_reach(&trustees).len(), 2);
}

#[test]
fn a_forged_or_altered_entry_is_refused_naming_the_organisation() {
    let w = world();
    let text = w.fed.render();
    // Org-t0 widened to trustee-1's operators without its CA's signature: the
    // signature no longer covers the entry.
    let widened = text.replacen("\"operator/trustee-0/*\"", "\"operator/trustee-0/*\",\n  \"agency/agency-2\"", 1);
    assert_ne!(widened, text);
    assert_eq!(Federation::parse(&widened).unwrap_err(), FederationError::Signature { org: "org-t0".into() });
    // A signature of another entry pasted in.
    let sigs: Vec<&str> = text.lines().filter(|l| l.starts_with("signature = ")).collect();
    let swapped = text.replacen(sigs[0], sigs[1], 1);
    assert_eq!(Federation::parse(&swapped).unwrap_err(), FederationError::Signature { org: "org-t0".into() });
    // Another CA put in place of the police's: its own entry no longer verifies.
    let other = Ca::generate("police", validity()).unwrap();
    let police_ca = w.fed.organisation("police").unwrap().ca().pem().to_string();
    let replaced = text.replacen(police_ca.trim(), other.cert_pem().trim(), 1);
    assert_eq!(Federation::parse(&replaced).unwrap_err(), FederationError::Signature { org: "police".into() });
    // Garbage, unknown fields, bad base64.
    assert!(matches!(Federation::parse("deployment = 1"), Err(FederationError::Syntax(_))));
    assert!(matches!(Federation::parse(&format!("{text}\nextra = 1\n")), Err(FederationError::Syntax(_))));
    let bad_b64 = text.replacen(sigs[2], "signature = \"!!!\"", 1);
    assert!(matches!(Federation::parse(&bad_b64), Err(FederationError::Entry { org, .. }) if org == "police"));
    // An entry signed for another deployment does not join this one.
    let mut d = draft("court", &[], vec![]);
    d.deployment = "elsewhere".into();
    let foreign = Organisation::sign(d, &Ca::generate("court", validity()).unwrap()).unwrap();
    assert!(matches!(w.fed.with(foreign), Err(FederationError::Deployment { org, .. }) if org == "court"));
}

#[test]
fn two_organisations_may_not_claim_one_identity_ca_or_key() {
    let w = world();
    let join = |d: Draft, ca: &Ca| w.fed.with(Organisation::sign(d, ca).unwrap());
    let fresh = || Ca::generate("intruder", validity()).unwrap();
    // Another agency organisation claiming the police's agency id.
    let err = join(draft("intruder", &["agency/*"], vec![]), &fresh()).unwrap_err();
    assert!(
        matches!(err, FederationError::Conflict { ref first, ref second, .. } if first == "police" && second == "intruder"),
        "{err}"
    );
    // Operators of a trustee it does not run.
    let err = join(draft("intruder", &["operator/trustee-1/*"], vec![]), &fresh()).unwrap_err();
    assert!(matches!(err, FederationError::Conflict { .. } | FederationError::NotItsTrustee { .. }), "{err}");
    let err = join(draft("intruder", &["operator/trustee-7/*"], vec![]), &fresh()).unwrap_err();
    assert!(matches!(err, FederationError::NotItsTrustee { ref owner, .. } if owner == "no organisation"), "{err}");
    // A trustee's signing key pinned by someone else, or a key for a trustee no
    // organisation runs.
    let err = join(draft("intruder", &["auditor/*"], vec![trustee_pin("trustee-0")]), &fresh()).unwrap_err();
    assert!(matches!(err, FederationError::Conflict { ref what, .. } if what.contains("trustee-0")), "{err}");
    let err = join(draft("intruder", &["auditor/*"], vec![trustee_pin("trustee-7")]), &fresh()).unwrap_err();
    assert!(matches!(err, FederationError::NotItsTrustee { ref trustee, .. } if trustee == "trustee-7"), "{err}");
    // Org-t0's CA reused by a second organisation.
    let err = join(draft("intruder", &["auditor/*"], vec![]), &w.cas[0]).unwrap_err();
    assert!(matches!(err, FederationError::Conflict { ref what, .. } if what.contains("CA")), "{err}");
    // A second entry of one name is a replacement and needs a higher generation.
    let err = join(draft("police", &["agency/agency-1"], vec![]), &w.cas[2]).unwrap_err();
    assert_eq!(err, FederationError::Stale { org: "police".into(), old: 1, new: 1 });
    // Malformed patterns and pins are refused when read.
    for bad in ["king/x", "operator/*/alice", "agency/a/b", "agency/bad id", "operator/trustee-0"] {
        assert!(Pattern::parse(bad).is_err(), "{bad}");
    }
    for bad in ["trustee zz", "court 00", "witness nope", "mayor 00", "trustee"] {
        assert!(Pin::parse(bad).is_err(), "{bad}");
    }
    // A clean join is accepted.
    let (fed, change) = join(draft("auditors", &["auditor/*"], vec![]), &fresh()).unwrap();
    assert_eq!(change, Change::Joined);
    assert_eq!(fed.organisations().len(), 5);
}

fn cert_der(pem: &str) -> CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn now() -> UnixTime {
    UnixTime::now()
}

#[test]
fn the_client_verifier_believes_only_the_identitys_own_organisation() {
    let w = world();
    let trust = Trust::new(w.fed.clone()).unwrap();
    let v = trust.client_verifier();
    let op2_of_t1 = Identity::operator(id("trustee-1"), id("mallory"));
    // Trustee-0's organisation mints an operator of trustee-1: refused.
    let forged = w.cas[0].issue(&op2_of_t1, validity()).unwrap();
    let err = v.verify_client_cert(&cert_der(&forged.cert_pem), &[], now()).unwrap_err().to_string();
    assert!(err.contains("org-t1"), "{err}");
    // Trustee-1's own organisation: accepted.
    let real = w.cas[1].issue(&op2_of_t1, validity()).unwrap();
    v.verify_client_cert(&cert_der(&real.cert_pem), &[], now()).unwrap();
    // An agency no organisation certifies: refused whoever issued it.
    let stray = Identity::new(Role::Agency, id("agency-9")).unwrap();
    for ca in &w.cas {
        let c = ca.issue(&stray, validity()).unwrap();
        let err = v.verify_client_cert(&cert_der(&c.cert_pem), &[], now()).unwrap_err().to_string();
        assert!(err.contains("no organisation"), "{err}");
    }
    // A chain with an intermediate is refused before anything else.
    let err = v
        .verify_client_cert(&cert_der(&real.cert_pem), &[cert_der(w.cas[1].cert_pem())], now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("intermediate"), "{err}");
    // Not a certificate at all.
    assert!(v.verify_client_cert(&CertificateDer::from(vec![1, 2, 3]), &[], now()).is_err());
}

#[test]
fn the_server_verifier_wants_the_role_dialled_from_its_own_organisation() {
    let w = world();
    let trust = Trust::new(w.fed.clone()).unwrap();
    let name = ServerName::try_from(Role::Trustee.server_name()).unwrap();
    let t1 = Identity::new(Role::Trustee, id("trustee-1")).unwrap();
    let real = w.cas[1].issue(&t1, validity()).unwrap();
    let forged = w.cas[0].issue(&t1, validity()).unwrap();
    let any = trust.server_verifier(Role::Trustee, None);
    any.verify_server_cert(&cert_der(&real.cert_pem), &[], &name, &[], now()).unwrap();
    let err = any.verify_server_cert(&cert_der(&forged.cert_pem), &[], &name, &[], now()).unwrap_err().to_string();
    assert!(err.contains("org-t1"), "{err}");
    // Dialling trustee-0 and meeting trustee-1, or dialling the relay.
    let t0 = trust.server_verifier(Role::Trustee, Some(id("trustee-0")));
    let err = t0.verify_server_cert(&cert_der(&real.cert_pem), &[], &name, &[], now()).unwrap_err().to_string();
    assert!(err.contains("dialled trustee trustee-0"), "{err}");
    let relay = trust.server_verifier(Role::Relay, None);
    assert!(relay.verify_server_cert(&cert_der(&real.cert_pem), &[], &name, &[], now()).is_err());
}

#[test]
fn a_rotated_ca_is_believed_until_its_trust_ends_and_a_revoked_one_not_at_all() {
    let w = world();
    let op = Identity::operator(id("trustee-0"), id("op-0"));
    let old_cert = w.cas[0].issue(&op, validity()).unwrap();
    let new_ca = Ca::generate("org-t0", validity()).unwrap();
    let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let old = w.fed.organisation("org-t0").unwrap().clone();
    let old_anchor = old.ca().clone();
    let rotated = old
        .reissue(&new_ca, |d| d.previous = vec![Retired { ca: old_anchor.clone(), trusted_until: t + 3600 }])
        .unwrap();
    let (fed, change) = w.fed.with(rotated).unwrap();
    assert_eq!(change, Change::Replaced { old_generation: 1, ca_changed: true });
    assert_eq!(Federation::parse(&fed.render()).unwrap(), fed);
    let v = Trust::new(fed.clone()).unwrap().client_verifier();
    let at = |s: u64| UnixTime::since_unix_epoch(Duration::from_secs(s));
    v.verify_client_cert(&cert_der(&old_cert.cert_pem), &[], at(t)).unwrap();
    let err = v.verify_client_cert(&cert_der(&old_cert.cert_pem), &[], at(t + 3601)).unwrap_err().to_string();
    assert!(err.contains("org-t0"), "{err}");
    let new_cert = new_ca.issue(&op, validity()).unwrap();
    v.verify_client_cert(&cert_der(&new_cert.cert_pem), &[], at(t + 3601)).unwrap();
    // A revocation: the old CA's trust ends now.
    let revoked = fed
        .organisation("org-t0")
        .unwrap()
        .reissue(&new_ca, |d| d.previous = vec![Retired { ca: old_anchor, trusted_until: t }])
        .unwrap();
    let (fed, _) = fed.with(revoked).unwrap();
    let v = Trust::new(fed).unwrap().client_verifier();
    assert!(v.verify_client_cert(&cert_der(&old_cert.cert_pem), &[], at(t)).is_err());
    assert!(v.verify_client_cert(&cert_der(&new_cert.cert_pem), &[], at(t)).is_ok());
}

/// Users split by home between two identity providers: the UK's CA certifies users
/// who live in "uk" and the TLS verifier believes it for them only; a US home, or no
/// home, minted by the UK's CA is refused, naming the organisation that may certify
/// it (or none). The federation file carries the home patterns and parses back.
#[test]
fn a_users_home_is_believed_only_from_the_organisation_that_certifies_that_home() {
    let names = ["uk-id", "us-id"];
    let cas: Vec<Ca> = names.iter().map(|n| Ca::generate(n, validity()).unwrap()).collect();
    let drafts = [draft("uk-id", &["user/uk/*"], vec![]), draft("us-id", &["user/us/*"], vec![])];
    let orgs = drafts.into_iter().zip(&cas).map(|(d, ca)| Organisation::sign(d, ca).unwrap()).collect();
    let fed = Federation::new("test", orgs).unwrap();
    assert_eq!(Federation::parse(&fed.render()).unwrap(), fed);
    let home = |h: &str| escrow_crypto::Domain::new(h).unwrap();
    let uk_alice = Identity::user_of(home("uk"), id("alice"));
    let us_alice = Identity::user_of(home("us"), id("alice"));
    assert_eq!(fed.organisation_for(&uk_alice).unwrap().name(), "uk-id");
    assert_eq!(fed.organisation_for(&us_alice).unwrap().name(), "us-id");
    assert!(fed.organisation_for(&Identity::new(Role::User, id("alice")).unwrap()).is_none());
    let v = Trust::new(fed).unwrap().client_verifier();
    v.verify_client_cert(&cert_der(&cas[0].issue(&uk_alice, validity()).unwrap().cert_pem), &[], now()).unwrap();
    let err = v
        .verify_client_cert(&cert_der(&cas[0].issue(&us_alice, validity()).unwrap().cert_pem), &[], now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("us-id"), "{err}");
    let homeless = Identity::new(Role::User, id("alice")).unwrap();
    let err = v
        .verify_client_cert(&cert_der(&cas[0].issue(&homeless, validity()).unwrap().cert_pem), &[], now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no organisation"), "{err}");
    // Two organisations may not both certify uk's users.
    let both = [draft("uk-id", &["user/uk/*"], vec![]), draft("us-id", &["user/*"], vec![])];
    let orgs = both.into_iter().zip(&cas).map(|(d, ca)| Organisation::sign(d, ca).unwrap()).collect();
    assert!(Federation::new("test", orgs).is_err());
}

/// A user's certificate served by someone else (the relay, with the user's key) is
/// checked as the TLS verifier would check it: the home comes out of a certificate of
/// the organisation that certifies that home, and nothing else is believed.
#[test]
fn a_served_certificate_yields_its_home_only_under_its_own_organisation() {
    let cas: Vec<Ca> = ["uk-id", "us-id"].iter().map(|n| Ca::generate(n, validity()).unwrap()).collect();
    let drafts = [draft("uk-id", &["user/uk/*"], vec![]), draft("us-id", &["user/us/*"], vec![])];
    let orgs = drafts.into_iter().zip(&cas).map(|(d, ca)| Organisation::sign(d, ca).unwrap()).collect();
    let trust = Trust::new(Federation::new("test", orgs).unwrap()).unwrap();
    let home = |h: &str| escrow_crypto::Domain::new(h).unwrap();
    let uk_alice = Identity::user_of(home("uk"), id("alice"));
    let issued = cas[0].issue(&uk_alice, validity()).unwrap();
    let t = now().as_secs();
    let got = trust.verify_certificate(cert_der(&issued.cert_pem).as_ref(), t).unwrap();
    assert_eq!((got.id().as_str(), got.home()), ("alice", Some(&home("uk"))));
    // The UK's CA minting a US home: refused, naming who may certify it.
    let forged = cas[0].issue(&Identity::user_of(home("us"), id("alice")), validity()).unwrap();
    let err = trust.verify_certificate(cert_der(&forged.cert_pem).as_ref(), t).unwrap_err().to_string();
    assert!(err.contains("us-id"), "{err}");
    // Past its validity: refused.
    let err = trust.verify_certificate(cert_der(&issued.cert_pem).as_ref(), t + 400 * 86_400).unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
    // Not a certificate at all: refused, not a panic.
    assert!(trust.verify_certificate(b"not a certificate", t).is_err());
}
