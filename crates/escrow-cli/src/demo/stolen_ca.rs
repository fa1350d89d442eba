//! Scenario D: one organisation's CA key is stolen. Every trustee, the provider, each
//! agency, the auditors and each witness certify their own people with their own CA,
//! and the federation file says which CA may certify whom; so the thief can mint
//! operators of one trustee only. The same theft against a single deployment CA (the
//! one root of `escrow pki init`) is checked with the same verifier for comparison.

use escrow_crypto::{PartyId, WarrantId};
use escrow_pki::{Ca, Federation, Identity, Validity};
use escrow_proto::v1 as pb;
use escrow_service::transport::Credentials;

use super::scenarios::{involves, opened_table};
use super::{day_time, err, table, Deployment, Outcome};
use crate::CliError;

/// The organisation whose CA key the thief holds: trustee-1's, the civil-liberties
/// body.
const VICTIM: &str = "org-trustee-1";

/// The thief's operator identity at trustee `name`.
fn thief_at(name: &str) -> Result<Identity, CliError> {
    Ok(Identity::operator(PartyId::new(name)?, PartyId::new("thief")?))
}

pub(super) async fn stolen_ca(d: &Deployment) -> Result<Outcome, CliError> {
    println!("\n== Scenario D: a stolen CA key ================================================");
    d.clock.set(day_time(4, 16)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["carol"], day_time(0, 0), day_time(2, 0), "R v. C, 2026/131")?;
    println!("high-court signs warrant {id}: target carol, window days 0-1. No operator approves it;");
    println!("trustee-2 (the provider) approves it by policy: 1 of the 3 approvals it needs.");
    println!("{}", d.submit_table(&w).await?);
    println!("A thief steals the CA key of {VICTIM}, trustee-1's organisation, mints an operator");
    println!("certificate for every trustee with it, and approves the warrant at each trustee.");
    let approved = thief_approves(d, id).await?;
    let report = d.open(&w).await?;
    let (t, _) = opened_table(&report, &|m| involves(m, "carol") && m.day < 2);
    println!("{t}");
    if let Some((_, why)) = report.failed.first() {
        println!("Each in-scope message stays sealed: {why}.");
    }
    let one_root = one_root_reach(d)?;
    println!(
        "Before the federation, one CA certified every party: the same theft would mint operators that\n\
         {one_root} of {} trustees believe (checked with the same verifier against a one-root federation),\n\
         so the thief alone would approve everywhere and carol's messages would open.",
        d.trustees.len()
    );
    let names: Vec<&str> = approved.iter().map(String::as_str).collect();
    Ok(Outcome {
        scenario: "D stolen CA",
        expected: format!(
            "one organisation's stolen CA approves at 1 trustee, nothing opens (one root: {} of {})",
            d.trustees.len(),
            d.trustees.len()
        ),
        observed: format!(
            "approved at {}; {} opened (one root: {one_root} of {})",
            if names.is_empty() { "none".to_string() } else { names.join(", ") },
            report.opened.len(),
            d.trustees.len()
        ),
        ok: names == ["trustee-1"] && report.opened.is_empty() && report.exported > 0 && one_root == d.trustees.len(),
    })
}

/// The thief's approval at every trustee, with the victim organisation's CA: the
/// trustees that took it.
async fn thief_approves(d: &Deployment, id: WarrantId) -> Result<Vec<String>, CliError> {
    let mut t = table(&["trustee", "thief's approval", "why"]);
    let mut approved = Vec::new();
    let sabotaged = d.sabotage.as_deref() == Some("stolen-ca");
    if sabotaged {
        println!("(sabotaged run: the thief holds org-trustee-3's CA key too)");
    }
    for (i, trustee) in d.trustees.iter().enumerate() {
        let org = if sabotaged && trustee.name == "trustee-3" { "org-trustee-3" } else { VICTIM };
        let creds = d.world.pki.creds_from(org, &thief_at(&trustee.name)?).map_err(err)?;
        let req = pb::DecideWarrantRequest { warrant_id: id.0.to_vec(), reason: "approved".into() };
        let answer = d.trustee_client_as(i, &creds).map_err(err)?.approve_warrant(req).await;
        let (verdict, why) = match answer {
            Ok(_) => {
                approved.push(trustee.name.clone());
                ("accepted", format!("{org} certifies {}'s operators", trustee.name))
            }
            Err(s) => {
                let owner = d.world.pki.federation().organisation_for(&thief_at(&trustee.name)?).map(|o| o.name());
                let code = s.code();
                ("refused", format!("TLS handshake ({code:?}): only {} certifies its operators", owner.unwrap_or("?")))
            }
        };
        t.add_row(vec![trustee.name.clone(), verdict.into(), why]);
    }
    println!("{t}");
    Ok(approved)
}

/// How many trustees would believe the thief's operator certificates if one CA
/// certified every party: a one-root federation of a fresh CA standing for the stolen
/// key, and the same check every trustee runs in its handshake.
fn one_root_reach(d: &Deployment) -> Result<usize, CliError> {
    let validity = Validity::days_from(std::time::SystemTime::now(), 1);
    let root = Ca::generate("one-root", validity)?;
    let fed = Federation::one_root("demo", "root", &root, vec![]).map_err(err)?;
    let trust = escrow_pki::trust::Trust::new(fed).map_err(err)?;
    let mut believed = 0;
    for trustee in &d.trustees {
        let issued = root.issue(&thief_at(&trustee.name)?, validity)?;
        let creds = Credentials::new(trust.clone(), issued.cert_pem, issued.key_pem).map_err(err)?;
        if creds.check_believed().is_ok() {
            believed += 1;
        }
    }
    Ok(believed)
}
