//! `escrow status`: one line per trustee (health, epochs held, log size, last and
//! witnessed checkpoint) and, with the deployment's witness policy, each witness's view
//! of each log and how far it lags. For operators at a glance; the auditor's checks
//! are `escrow audit verify`.

use std::time::Duration;

use clap::Args;
use comfy_table::Table;
use escrow_crypto::EpochPublicKey;
use escrow_pki::Role;
use escrow_proto::v1 as pb;

use crate::display::text;
use crate::CliError;

const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// A trustee's address (repeat).
    #[arg(long = "trustee", required = true)]
    pub trustees: Vec<String>,
    /// The deployment's witness policy: adds each witness's view of each log.
    #[arg(long)]
    pub witness_policy: Option<std::path::PathBuf>,
}

/// The size line of a checkpoint note, unverified (a status view, not an audit).
use escrow_audit::check::claimed_size as size_of;

pub async fn run(a: StatusArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let creds = ctx.credentials()?;
    let anonymous = escrow_service::transport::Credentials::anonymous(creds.trust().clone());
    let policy = match &a.witness_policy {
        Some(path) => Some(crate::files::read_witness_policy(path)?),
        None => None,
    };
    let mut witnesses = Vec::new();
    for w in policy.iter().flat_map(|p| p.witnesses()) {
        if let Some(url) = &w.url {
            let client = escrow_witness::client::WitnessClient::new(url, Some(creds.trust()), TIMEOUT)
                .map_err(|e| CliError::Usage(e.to_string()))?;
            witnesses.push((w.name.clone(), client));
        }
    }
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    let mut header = vec!["trustee", "address", "health", "epochs", "log size", "witnessed size"];
    let names: Vec<String> = witnesses.iter().map(|(n, _)| format!("{n} (lag)")).collect();
    header.extend(names.iter().map(String::as_str));
    t.set_header(header);
    let mut unhealthy = 0;
    for addr in &a.trustees {
        if crate::health::grpc_serving(addr, &anonymous, Role::Trustee, "escrow.v1.Trustee").await.is_err() {
            unhealthy += 1;
            let mut row = vec!["?".to_string(), addr.clone(), "DOWN".into()];
            row.resize(6 + witnesses.len(), "-".into());
            t.add_row(row);
            continue;
        }
        let info = escrow_service::transport::trustee_client(addr, &creds)?.get_info(pb::GetInfoRequest {}).await;
        let (id, epochs) = match info {
            Ok(i) => {
                let i = i.into_inner();
                let epochs: Vec<String> = i
                    .epoch_public_keys
                    .iter()
                    .filter_map(|k| EpochPublicKey::from_bytes(k).ok())
                    .map(|k| k.epoch().0.to_string())
                    .collect();
                (i.trustee_id, epochs.join(","))
            }
            Err(s) => ("?".into(), format!("{:?}", s.code())),
        };
        let cp =
            escrow_service::transport::audit_client(addr, &creds)?.get_checkpoint(pb::GetCheckpointRequest {}).await;
        let (size, witnessed) = match &cp {
            Ok(c) => {
                let c = c.get_ref();
                (size_of(&c.checkpoint), size_of(&c.witnessed_checkpoint))
            }
            Err(_) => (None, None),
        };
        let show = |n: Option<u64>| n.map_or_else(|| "not readable".to_string(), |n| n.to_string());
        // The id is the trustee's word: escaped for the table, as is for its origin.
        let mut row = vec![text(&id).into_owned(), addr.clone(), "SERVING".into(), epochs, show(size), show(witnessed)];
        let origin = escrow_log::trustee_origin(&id);
        for (_, client) in &witnesses {
            let cell = match client.latest(&origin).await {
                Ok(Some(note)) => match (size_of(&note), size) {
                    (Some(w), Some(s)) => format!("{w} ({})", s.saturating_sub(w)),
                    (Some(w), None) => w.to_string(),
                    _ => "malformed".into(),
                },
                Ok(None) => "nothing yet".into(),
                Err(_) => "unreachable".into(),
            };
            row.push(cell);
        }
        t.add_row(row);
    }
    println!("{t}");
    if unhealthy > 0 {
        return Err(CliError::Findings(format!("{unhealthy} of {} trustees are not serving", a.trustees.len())));
    }
    Ok(())
}
