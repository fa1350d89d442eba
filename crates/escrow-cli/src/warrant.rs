//! `escrow warrant ...`: agencies submit, operators decide, anyone reads status.

use std::path::PathBuf;

use clap::Subcommand;
use comfy_table::Table;
use escrow_proto::v1 as pb;
use escrow_service::transport::Credentials;
use pb::trustee_client::TrusteeClient;

use escrow_trustee::state::Action;

use crate::display::text;
use crate::files::read_hex;
use crate::CliError;

#[derive(Subcommand, Debug)]
pub enum WarrantCmd {
    /// Agency: submit a signed warrant to trustees.
    Submit {
        #[arg(long = "trustee", required = true)]
        trustees: Vec<String>,
        /// Warrant file (hex, from `escrow court sign`).
        #[arg(long)]
        warrant: PathBuf,
    },
    /// Status of a warrant at each trustee.
    Status {
        #[arg(long = "trustee", required = true)]
        trustees: Vec<String>,
        /// Warrant id (32 hex digits).
        #[arg(long)]
        id: String,
    },
    /// Operator: list the warrants at one trustee.
    List {
        #[arg(long)]
        trustee: String,
    },
    /// Operator: approve a received warrant.
    Approve(Decide),
    /// Operator: deny a received warrant.
    Deny(Decide),
    /// Operator: revoke a warrant.
    Revoke(Decide),
}

#[derive(clap::Args, Debug)]
pub struct Decide {
    #[arg(long)]
    pub trustee: String,
    #[arg(long)]
    pub id: String,
    #[arg(long, default_value = "")]
    pub reason: String,
}

fn client(addr: &str, credentials: &Credentials) -> Result<TrusteeClient<tonic::transport::Channel>, CliError> {
    Ok(escrow_service::transport::trustee_client(addr, credentials)?)
}

fn id_bytes(id: &str) -> Result<Vec<u8>, CliError> {
    let b = hex::decode(id).map_err(|e| CliError::Usage(format!("warrant id: {e}")))?;
    if b.len() != 16 {
        return Err(CliError::Usage("warrant id: 32 hex digits".into()));
    }
    Ok(b)
}

pub fn state_name(s: i32) -> &'static str {
    match pb::WarrantState::try_from(s) {
        Ok(pb::WarrantState::Received) => "received",
        Ok(pb::WarrantState::Approved) => "approved",
        Ok(pb::WarrantState::Denied) => "denied",
        Ok(pb::WarrantState::Revoked) => "revoked",
        Ok(pb::WarrantState::Expired) => "expired",
        _ => "unknown",
    }
}

/// Adds a trustee's answer to the table; returns why it counts as a refusal, if it
/// does (an error, or a warrant the trustee denied, revoked or let expire).
fn row(t: &mut Table, who: &str, r: Result<pb::WarrantStatus, tonic::Status>) -> Option<String> {
    let refusal = match &r {
        Ok(s) => match pb::WarrantState::try_from(s.state) {
            Ok(pb::WarrantState::Received | pb::WarrantState::Approved) => None,
            _ => Some(format!("{who}: {}", state_name(s.state))),
        },
        Err(e) => Some(format!("{who}: {:?}: {}", e.code(), text(&escrow_agency::describe(e)))),
    };
    match r {
        Ok(s) => {
            t.add_row(vec![
                who.to_string(),
                state_name(s.state).to_string(),
                text(&s.decided_by).into_owned(),
                text(&s.reason).into_owned(),
                s.fields_released.to_string(),
            ]);
        }
        Err(e) => {
            t.add_row(vec![
                who.to_string(),
                format!("error: {:?}", e.code()),
                String::new(),
                text(&escrow_agency::describe(&e)).into_owned(),
                String::new(),
            ]);
        }
    }
    refusal
}

/// The exit for a per-trustee command: success only if no trustee refused or failed.
fn outcome(what: &str, asked: usize, refusals: Vec<String>) -> Result<(), CliError> {
    if refusals.is_empty() {
        return Ok(());
    }
    Err(CliError::Findings(format!(
        "{what}: {} of {asked} trustees refused or failed ({})",
        refusals.len(),
        refusals.join("; ")
    )))
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header(vec!["trustee", "state", "decided by", "reason", "fields released"]);
    t
}

pub async fn run(cmd: WarrantCmd, ctx: &crate::Ctx) -> Result<(), CliError> {
    let creds = ctx.credentials()?;
    match cmd {
        WarrantCmd::Submit { trustees, warrant } => {
            let blob = read_hex(&warrant)?;
            let mut t = table();
            let mut refusals = Vec::new();
            let clients =
                trustees.iter().map(|a| Ok((a.clone(), client(a, &creds)?))).collect::<Result<Vec<_>, CliError>>()?;
            for (addr, r) in escrow_agency::submit_to_every_trustee(clients, &blob).await {
                refusals.extend(row(&mut t, &addr, r));
            }
            println!("{t}");
            outcome("submit", trustees.len(), refusals)?;
        }
        WarrantCmd::Status { trustees, id } => {
            let id = id_bytes(&id)?;
            let mut t = table();
            let mut refusals = Vec::new();
            for addr in &trustees {
                let r = client(addr, &creds)?.get_warrant(pb::GetWarrantRequest { warrant_id: id.clone() }).await;
                refusals.extend(row(&mut t, addr, r.map(|r| r.into_inner())));
            }
            println!("{t}");
            outcome("status", trustees.len(), refusals)?;
        }
        WarrantCmd::List { trustee } => {
            let list = client(&trustee, &creds)?
                .list_warrants(pb::ListWarrantsRequest { state: 0 })
                .await
                .map_err(CliError::Rpc)?
                .into_inner();
            let mut t = Table::new();
            t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
            t.set_header(vec!["warrant", "state", "agency", "court", "targets", "fields released"]);
            for s in list.warrants {
                t.add_row(vec![
                    hex::encode(&s.warrant_id),
                    state_name(s.state).to_string(),
                    text(&s.agency).into_owned(),
                    text(&s.court).into_owned(),
                    text(&s.targets.join(",")).into_owned(),
                    s.fields_released.to_string(),
                ]);
            }
            println!("{t}");
        }
        WarrantCmd::Approve(d) => decide(d, Action::Approve, &creds).await?,
        WarrantCmd::Deny(d) => decide(d, Action::Deny, &creds).await?,
        WarrantCmd::Revoke(d) => decide(d, Action::Revoke, &creds).await?,
    }
    Ok(())
}

async fn decide(d: Decide, action: Action, creds: &Credentials) -> Result<(), CliError> {
    let req = pb::DecideWarrantRequest { warrant_id: id_bytes(&d.id)?, reason: d.reason };
    let mut c = client(&d.trustee, creds)?;
    // Exhaustive: a new action cannot fall through to another one's RPC.
    let r = match action {
        Action::Approve => c.approve_warrant(req).await,
        Action::Deny => c.deny_warrant(req).await,
        Action::Revoke => c.revoke_warrant(req).await,
    };
    let s = r.map_err(CliError::Rpc)?.into_inner();
    println!("warrant {} at {}: {}", d.id, d.trustee, state_name(s.state));
    Ok(())
}
