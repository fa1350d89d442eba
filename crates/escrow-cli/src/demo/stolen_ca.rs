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
use super::{day_time, err, narrate, role, table, Deployment, Outcome};
use crate::CliError;

/// The organisation whose CA key the thief holds: trustee-1's, the civil-liberties
/// body.
const VICTIM: &str = "org-trustee-1";

/// The thief's operator identity at trustee `name`.
fn thief_at(name: &str) -> Result<Identity, CliError> {
    Ok(Identity::operator(PartyId::new(name)?, PartyId::new("thief")?))
}

pub(super) async fn stolen_ca(d: &Deployment) -> Result<Outcome, CliError> {
    say!("\n== Scenario D: a stolen certificate authority ===============================");
    d.clock.set(day_time(4, 16)).map_err(err)?;
    let (w, id) = d.sign_warrant(&["carol"], day_time(0, 0), day_time(2, 0), "R v. C, 2026/131")?;
    detail!("high-court signs warrant {id}: target carol, window days 0-1. No operator approves it;");
    detail!("trustee-2 (the provider) approves it by policy: 1 of the 3 approvals it needs.");
    let submissions = d.submit_table(&w).await?;
    detail!("{submissions}");
    say!(
        "Each organisation vouches for its own staff with its own certificate authority (CA): \
         a key that signs their credentials. A warrant for carol's messages of {} reaches the \
         trustees; no one approves it but the provider's automatic policy, 1 of the 3 approvals \
         needed. A thief steals the CA key of the civil-liberties body ({VICTIM}), makes itself \
         an \"operator\" of every trustee, and approves the warrant everywhere:",
        narrate::days(day_time(0, 0), day_time(2, 0))
    );
    let approved = thief_approves(d, id).await?;
    let report = d.open(&w).await?;
    let (t, _) = opened_table(&report, &|m| involves(m, "carol") && m.day < 2);
    detail!("{t}");
    let one_root = one_root_reach(d)?;
    say!(
        "With the provider's automatic approval that is {} of the 3 approvals needed: {} of the {} \
         messages open ({}). Had one CA vouched for everyone, as in a single-company system, the \
         same theft would be believed by {one_root} of {} trustees, and the thief alone would open \
         carol's messages.",
        approved.len() + 1,
        report.opened.len(),
        report.exported,
        report.failed.first().map(|(_, why)| why.to_string()).unwrap_or_else(|| "nothing failed".into()),
        d.trustees.len()
    );
    say!(
        "Why it matters: no single key, not even the one that vouches for an organisation's \
         staff, can get past the quorum; one stolen key buys one approval."
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
    let mut t = table(&["trustee", "the thief's approval", "why"]);
    let mut approved = Vec::new();
    let sabotaged = d.sabotage.as_deref() == Some("stolen-ca");
    if sabotaged {
        say!("(sabotaged run: the thief holds org-trustee-3's CA key too)");
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
                let owner = owner.unwrap_or("?");
                let why = if narrate::verbose() {
                    format!("TLS handshake ({:?}): only {owner} certifies its operators", s.code())
                } else {
                    format!("refused at the first handshake: only {owner} vouches for its operators")
                };
                ("refused", why)
            }
        };
        let who = if narrate::verbose() {
            trustee.name.clone()
        } else {
            format!("{} ({})", role(&trustee.name), trustee.name)
        };
        t.add_row(vec![who, verdict.into(), why]);
    }
    say!("{t}");
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
