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

/// One trustee as `status` found it: the row of the text table, the element of the
/// JSON array.
#[derive(Debug, serde::Serialize)]
pub struct TrusteeStatus {
    /// Its id (its own word), unknown when it is down.
    pub trustee: Option<String>,
    /// The address asked.
    pub address: String,
    /// Whether its gRPC health service says it serves.
    pub health: Health,
    /// The epochs whose keys it holds.
    pub epochs: Vec<u64>,
    /// GetInfo failed: its gRPC code (the epochs are then unknown).
    pub info_error: Option<String>,
    /// Its log's size, if its checkpoint was readable.
    pub log_size: Option<u64>,
    /// The size of its latest witnessed checkpoint, if readable.
    pub witnessed_size: Option<u64>,
    /// Each witness's view of its log (none when it is down).
    pub witnesses: Vec<WitnessView>,
}

/// Serving or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Health {
    /// Its health service says SERVING.
    #[serde(rename = "SERVING")]
    Serving,
    /// It did not.
    #[serde(rename = "DOWN")]
    Down,
}

/// One witness's latest cosigned checkpoint of one log.
#[derive(Debug, serde::Serialize)]
pub struct WitnessView {
    /// The witness's name in the policy.
    pub name: String,
    /// The size it cosigned.
    pub size: Option<u64>,
    /// How far it lags behind the log's size (both known).
    pub lag: Option<u64>,
    /// What it answered.
    pub state: WitnessState,
}

/// What a witness answered about a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WitnessState {
    /// A cosigned checkpoint.
    Cosigned,
    /// A checkpoint whose size line does not parse.
    Malformed,
    /// Nothing cosigned for this log yet.
    NothingYet,
    /// No answer.
    Unreachable,
}

/// The whole of `escrow status --json`.
#[derive(Debug, serde::Serialize)]
struct Status<'a> {
    trustees: &'a [TrusteeStatus],
}

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
    let mut rows = Vec::new();
    for addr in &a.trustees {
        if crate::health::grpc_serving(addr, &anonymous, Role::Trustee, "escrow.v1.Trustee").await.is_err() {
            rows.push(TrusteeStatus {
                trustee: None,
                address: addr.clone(),
                health: Health::Down,
                epochs: Vec::new(),
                info_error: None,
                log_size: None,
                witnessed_size: None,
                witnesses: Vec::new(),
            });
            continue;
        }
        let info = escrow_service::transport::trustee_client(addr, &creds)?.get_info(pb::GetInfoRequest {}).await;
        let (id, epochs, info_error) = match info {
            Ok(i) => {
                let i = i.into_inner();
                let epochs: Vec<u64> = i
                    .epoch_public_keys
                    .iter()
                    .filter_map(|k| EpochPublicKey::from_bytes(k).ok())
                    .map(|k| k.epoch().0)
                    .collect();
                (i.trustee_id, epochs, None)
            }
            Err(s) => ("?".into(), Vec::new(), Some(format!("{:?}", s.code()))),
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
        let origin = escrow_log::trustee_origin(&id);
        let mut views = Vec::new();
        for (name, client) in &witnesses {
            let (state, cosigned) = match client.latest(&origin).await {
                Ok(Some(note)) => match size_of(&note) {
                    Some(w) => (WitnessState::Cosigned, Some(w)),
                    None => (WitnessState::Malformed, None),
                },
                Ok(None) => (WitnessState::NothingYet, None),
                Err(_) => (WitnessState::Unreachable, None),
            };
            let lag = cosigned.zip(size).map(|(w, s)| s.saturating_sub(w));
            views.push(WitnessView { name: name.clone(), size: cosigned, lag, state });
        }
        rows.push(TrusteeStatus {
            trustee: info_error.is_none().then_some(id),
            address: addr.clone(),
            health: Health::Serving,
            epochs,
            info_error,
            log_size: size,
            witnessed_size: witnessed,
            witnesses: views,
        });
    }
    if ctx.json {
        crate::display::print_json(&Status { trustees: &rows })?;
    } else {
        let names: Vec<&str> = witnesses.iter().map(|(n, _)| n.as_str()).collect();
        println!("{}", table(&rows, &names));
    }
    let unhealthy = rows.iter().filter(|r| r.health == Health::Down).count();
    if unhealthy > 0 {
        return Err(CliError::Findings(format!("{unhealthy} of {} trustees are not serving", a.trustees.len())));
    }
    Ok(())
}

/// The text table: one row per trustee, a column per witness (`witnesses`, the
/// policy's names).
fn table(rows: &[TrusteeStatus], witnesses: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    let mut header = vec!["trustee", "address", "health", "epochs", "log size", "witnessed size"];
    let names: Vec<String> = witnesses.iter().map(|n| format!("{n} (lag)")).collect();
    header.extend(names.iter().map(String::as_str));
    t.set_header(header);
    for r in rows {
        if r.health == Health::Down {
            let mut row = vec!["?".to_string(), r.address.clone(), "DOWN".into()];
            row.resize(6 + witnesses.len(), "-".into());
            t.add_row(row);
            continue;
        }
        let epochs = match &r.info_error {
            Some(code) => code.clone(),
            None => r.epochs.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
        };
        let show = |n: Option<u64>| n.map_or_else(|| "not readable".to_string(), |n| n.to_string());
        // The id is the trustee's word: escaped for the table, as is for its origin.
        let id = r.trustee.as_deref().map_or_else(|| "?".to_string(), |id| text(id).into_owned());
        let mut row = vec![id, r.address.clone(), "SERVING".into(), epochs, show(r.log_size), show(r.witnessed_size)];
        for w in &r.witnesses {
            row.push(match (w.state, w.size, w.lag) {
                (WitnessState::Cosigned, Some(size), Some(lag)) => format!("{size} ({lag})"),
                (WitnessState::Cosigned, Some(size), None) => size.to_string(),
                (WitnessState::NothingYet, ..) => "nothing yet".into(),
                (WitnessState::Unreachable, ..) => "unreachable".into(),
                _ => "malformed".into(),
            });
        }
        t.add_row(row);
    }
    t
}
