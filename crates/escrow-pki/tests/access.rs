//! The access table against docs/security.md's table, RPC by RPC and party by party:
//! the document says what calling each RPC as each kind of party does (measured end to
//! end by escrow-cli's tests/serve.rs); `allow` must agree wherever the certificate
//! alone decides, and leave to the handler exactly the cells its row's object rule
//! covers.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_crypto::PartyId;
use escrow_pki::access::{allow, rule_for, Caller, Denied, Object, Server, ACCESS};
use escrow_pki::{Identity, Role};

fn id(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

/// A column of the document's table that the certificate alone decides: the party, and
/// the organisation that certified it.
fn party(column: &str) -> Option<(Identity, &'static str)> {
    let p = |role, name: &str, org| Some((Identity::new(role, id(name)).unwrap(), org));
    match column {
        "alice" | "bob" => p(Role::User, column, "provider"),
        "agency-1" => p(Role::Agency, "agency-1", "org-agency-1"),
        "agency-2" => p(Role::Agency, "agency-2", "org-agency-2"),
        "agency-3" => p(Role::Agency, "agency-3", "org-agency-3"),
        "op-0" => Some((Identity::operator(id("trustee-0"), id("op-0")), "org-trustee-0")),
        "op-1" => Some((Identity::operator(id("trustee-1"), id("op-1")), "org-trustee-1")),
        "auditor-1" => p(Role::Auditor, "auditor-1", "auditors"),
        "trustee-1" => p(Role::Trustee, "trustee-1", "org-trustee-1"),
        "relay" => p(Role::Relay, "relay", "provider"),
        "w1" => p(Role::Witness, "w1", "org-w1"),
        // Refused at the handshake or before any RPC: not allow's to decide.
        "no certificate" | "foreign CA" | "op-0 forged" | "agency-9" => None,
        other => panic!("docs/security.md has a column this test does not know: {other:?}"),
    }
}

/// The party that owns the object of the document's requests, per object rule: the
/// warrant names agency-1; the user requests are alice's.
fn owner(object: Object) -> Option<&'static str> {
    match object {
        Object::WarrantsAgency => Some("agency-1"),
        Object::SameUser => Some("alice"),
        Object::Signer => Some("trustee-1"),
        Object::Nothing => None,
    }
}

/// The document's table: (RPC as `Service.Method`, [(column, cell)]).
fn documented() -> Vec<(String, Vec<(String, String)>)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md")).unwrap();
    let mut lines = doc.lines().skip_while(|l| !l.starts_with("| RPC | alice |"));
    let cells =
        |l: &str| -> Vec<String> { l.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect() };
    let header = cells(lines.next().expect("docs/security.md: no access table"));
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let row = cells(l);
            let pairs = header[1..].iter().cloned().zip(row[1..].iter().cloned()).collect();
            (row[0].clone(), pairs)
        })
        .collect()
}

#[test]
fn the_table_and_the_document_agree_on_every_rpc_and_party() {
    let trustee = Server {
        trustee: Some(id("trustee-0")),
        agency_organisations: vec!["org-agency-1".into(), "org-agency-2".into()],
    };
    let relay = Server::default();
    let rows = documented();
    // Every RPC of the table is in the document, once, and nothing else is.
    let mut names: Vec<String> = rows.iter().map(|(rpc, _)| rpc.clone()).collect();
    let mut paths: Vec<String> =
        ACCESS.iter().map(|r| r.path.trim_start_matches("/escrow.v1.").replace('/', ".")).collect();
    names.sort();
    paths.sort();
    assert_eq!(names, paths);
    let mut decided = 0;
    for (rpc, cells) in &rows {
        let path = format!("/escrow.v1.{}", rpc.replace('.', "/"));
        let server = if rpc.starts_with("Relay.") { &relay } else { &trustee };
        let object = rule_for(&path).unwrap().object;
        for (column, cell) in cells {
            let Some((identity, organisation)) = party(column) else {
                assert!(["unauthenticated", "handshake"].contains(&cell.as_str()), "{rpc} × {column}: {cell}");
                continue;
            };
            decided += 1;
            let verdict = allow(&path, Caller { identity: &identity, organisation }, server);
            match (&verdict, cell.as_str()) {
                (Err(_), "denied") => {}
                (Ok(g), "✓" | "passes") if g.object == object => {}
                // The handler's object rule: only a party that does not own the object
                // of the document's request may be turned away there.
                (Ok(g), "denied" | "not found") if g.object != Object::Nothing && owner(object) != Some(column) => {}
                _ => panic!("{rpc} × {column}: the document says {cell}, allow says {verdict:?}"),
            }
        }
    }
    // 28 RPCs × 11 parties the certificate alone describes.
    assert_eq!(decided, ACCESS.len() * 11);
    assert_eq!(decided, 308);
}

/// Every role, with and without the trustee or organisation that matters, against
/// every row: a row allows exactly the parties it names, and an RPC in no row is
/// refused to everyone.
#[test]
fn each_row_allows_exactly_whom_it_names() {
    let server = Server { trustee: Some(id("trustee-0")), agency_organisations: vec!["org-agency-1".into()] };
    let mut parties: Vec<(Identity, &str)> = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Operator)
        .map(|r| (Identity::new(r, id("p")).unwrap(), "org-agency-1"))
        .collect();
    parties.push((Identity::new(Role::Agency, id("p")).unwrap(), "org-elsewhere"));
    parties.push((Identity::operator(id("trustee-0"), id("op")), "org-trustee-0"));
    parties.push((Identity::operator(id("trustee-9"), id("op")), "org-trustee-9"));
    let mut cases = 0;
    for rule in ACCESS {
        for (who, org) in &parties {
            cases += 1;
            let ok = allow(rule.path, Caller { identity: who, organisation: org }, &server).is_ok();
            let named = rule.who.iter().any(|m| match m {
                escrow_pki::access::May::Anyone => true,
                escrow_pki::access::May::Role(r) => who.role() == *r,
                escrow_pki::access::May::OwnOperator => who.operates(&id("trustee-0")),
                escrow_pki::access::May::ServedAgency => who.role() == Role::Agency && *org == "org-agency-1",
            });
            assert_eq!(ok, named, "{} as {who} of {org}", rule.path);
        }
        let none = Server::default();
        let op = Identity::operator(id("trustee-0"), id("op"));
        if rule.who == [escrow_pki::access::May::OwnOperator] {
            // A server with no trustee (the relay) has no operators.
            assert!(allow(rule.path, Caller { identity: &op, organisation: "org-trustee-0" }, &none).is_err());
        }
    }
    assert_eq!(cases, ACCESS.len() * parties.len());
    for (who, org) in &parties {
        let c = Caller { identity: who, organisation: org };
        assert_eq!(allow("/escrow.v1.Trustee/Unknown", c, &server), Err(Denied::UnknownRpc));
        assert!(allow("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", c, &server).is_ok());
    }
}

/// A refusal says whom the row allows, and an unserved agency which organisations are
/// served.
#[test]
fn refusals_say_who_may() {
    let server = Server { trustee: Some(id("trustee-0")), agency_organisations: vec!["org-agency-1".into()] };
    let op1 = Identity::operator(id("trustee-1"), id("op-1"));
    let c = Caller { identity: &op1, organisation: "org-trustee-1" };
    let e = allow("/escrow.v1.Audit/GetEntries", c, &server).unwrap_err();
    assert_eq!(e.to_string(), "only auditors or an operator of trustee-0 may");
    assert_eq!(e.code(), "role");
    let agency = Identity::new(Role::Agency, id("agency-3")).unwrap();
    let c = Caller { identity: &agency, organisation: "org-agency-3" };
    let e = allow("/escrow.v1.Trustee/RequestShares", c, &server).unwrap_err();
    assert_eq!(e.to_string(), "this trustee serves agencies of org-agency-1 only, and org-agency-3 certified this one");
    assert_eq!(e.code(), "agency-not-served");
}
