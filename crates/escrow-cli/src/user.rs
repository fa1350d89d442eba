//! `escrow user ...`: register, send, read the inbox. Every check a client makes lives
//! in `escrow-user`; this file only parses flags and prints.

use std::path::PathBuf;

use clap::Subcommand;
use escrow_crypto::{EpochPublicKey, PartyId};
use escrow_user::UserClient;
use rand::rngs::OsRng;

use crate::display::{bytes, text};
use crate::files::read_hex_as;
use crate::keys::{load_user, user_keygen};
use crate::CliError;

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Make identity keys: <out> (sealed) and <out>.pub (hex).
    Keygen {
        #[arg(long)]
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Register the public identity at the relay.
    Register {
        #[arg(long)]
        relay: String,
        #[arg(long)]
        key: PathBuf,
    },
    /// Seal and send a message.
    Send {
        #[arg(long)]
        relay: String,
        #[arg(long)]
        key: PathBuf,
        #[arg(long = "to", required = true)]
        to: Vec<String>,
        #[arg(long)]
        message: String,
        /// Send N messages, one after another, each the text with " (k/N)" appended
        /// (load and crash tests). Each acknowledged one is printed as it comes; the
        /// first failure stops the run and says how many were acknowledged.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        repeat: u32,
        /// Pin epoch keys (hex files; repeat for several epochs) instead of trusting
        /// the relay's. Weak mode: a pinned key is believed as is, with no
        /// announcement from the trustees (a dealt key has none).
        #[arg(long = "epoch-key")]
        epoch_keys: Vec<PathBuf>,
        /// With --rule and --domain: seal across escrow domains, with a field per
        /// domain the rule requires, every party's home read from its certificate.
        #[command(flatten)]
        domains: crate::domains::DomainArgs,
        #[arg(long, hide = true)]
        clock_file: Option<PathBuf>,
    },
    /// Fetch, verify and open the inbox, every page of it.
    Inbox {
        #[arg(long)]
        relay: String,
        #[arg(long)]
        key: PathBuf,
        /// Pin epoch keys (hex files; repeat for several epochs) instead of trusting
        /// the relay's.
        #[arg(long = "epoch-key")]
        epoch_keys: Vec<PathBuf>,
        /// With --rule and --domain: open messages sealed across escrow domains, each
        /// field checked against the rule and the parties' certified homes.
        #[command(flatten)]
        domains: crate::domains::DomainArgs,
        /// Start after this sequence number (the last one a previous run printed).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Print at most N messages (1 or more; leave it out to read every message),
        /// then say how to continue. `--limit 0` is a usage error.
        #[arg(long, value_name = "N", value_parser = at_least_one)]
        limit: Option<usize>,
    },
}

/// `--limit`: a positive count. 0 would print nothing and look like an empty inbox.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("at least 1 (leave --limit out to read every message)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn user_error(e: escrow_user::UserError) -> CliError {
    match e {
        escrow_user::UserError::Relay(s) => CliError::Rpc(s),
        other => CliError::User(other),
    }
}

/// A client for `relay` that trusts only the pinned keys, if any are given.
fn connect(relay: &str, pins: &[PathBuf], ctx: &crate::Ctx) -> Result<UserClient, CliError> {
    let mut c = UserClient::connect(relay, &ctx.credentials()?).map_err(user_error)?;
    for p in pins {
        c.pin(read_hex_as(p, EpochPublicKey::from_bytes)?);
        // A pinned key stands on the file alone, even under pinned trustee keys.
        eprintln!(
            "warning: weak mode: trusting the epoch key in {} as is, without an announcement signed by its trustees",
            p.display()
        );
    }
    if let Some(trustees) = ctx.tls.pins()? {
        c.trust_trustees(trustees);
    }
    Ok(c)
}

/// `escrow user send --json`: one line per acknowledged message.
#[derive(Debug, serde::Serialize)]
struct Sent {
    /// The relay's sequence number for it.
    sent: u64,
}

/// `escrow user inbox --json`: the messages read, and where to continue.
#[derive(Debug, serde::Serialize)]
struct InboxJson {
    messages: Vec<InboxMessage>,
    /// The relay holds more after `next_after`.
    more: bool,
    /// The `--after` to continue from.
    next_after: u64,
}

/// One message of the inbox: its body (text, or its size if it is not UTF-8) or why
/// it was refused.
#[derive(Debug, serde::Serialize)]
struct InboxMessage {
    seq: u64,
    sender: String,
    /// The sender's timestamp from the label.
    timestamp: u64,
    #[serde(flatten)]
    body: Body,
}

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Body {
    /// The plaintext, as sent.
    Text(String),
    /// A body that is not UTF-8 (superencrypted or binary): its length in bytes.
    NotUtf8Bytes(usize),
    /// Why the message was refused.
    Refused(String),
}

pub async fn run(cmd: UserCmd, ctx: &crate::Ctx) -> Result<(), CliError> {
    let secret = &ctx.secret;
    match cmd {
        UserCmd::Keygen { id, out } => user_keygen(&id, &out, secret),
        UserCmd::Register { relay, key } => {
            let me = load_user(&key, secret)?;
            connect(&relay, &[], ctx)?.register(&me).await.map_err(user_error)?;
            println!("registered {}", me.id());
            Ok(())
        }
        UserCmd::Send { relay, key, to, message, repeat, epoch_keys, domains, clock_file } => {
            let me = load_user(&key, secret)?;
            let to = to.iter().map(|t| PartyId::new(t.as_str())).collect::<Result<Vec<_>, _>>()?;
            let jurisdictions = domains.jurisdictions()?;
            let mut c = connect(&relay, &epoch_keys, ctx)?;
            let across = jurisdictions.is_some();
            if let Some(j) = jurisdictions {
                c.use_jurisdictions(j);
            }
            let clock = escrow_service::clock::from_option(clock_file);
            for k in 1..=repeat {
                let text = if repeat == 1 { message.clone() } else { format!("{message} ({k}/{repeat})") };
                let sent = if across {
                    c.send_across(&me, &to, text.as_bytes(), clock.now(), &mut OsRng).await.map(|s| s.seq)
                } else {
                    c.send(&me, &to, text.as_bytes(), clock.now(), &mut OsRng).await.map(|s| s.seq)
                };
                match sent {
                    Ok(seq) if ctx.json => crate::display::print_json(&Sent { sent: seq })?,
                    Ok(seq) => println!("sent as #{seq}"),
                    Err(e) if repeat > 1 => {
                        return Err(CliError::Findings(format!(
                            "message {k} of {repeat} not sent ({} acknowledged before it): {}",
                            k - 1,
                            user_error(e)
                        )))
                    }
                    Err(e) => return Err(user_error(e)),
                }
            }
            Ok(())
        }
        UserCmd::Inbox { relay, key, epoch_keys, domains, after, limit } => {
            let me = load_user(&key, secret)?;
            let jurisdictions = domains.jurisdictions()?;
            let mut c = connect(&relay, &epoch_keys, ctx)?;
            if let Some(j) = jurisdictions {
                c.use_jurisdictions(j);
            }
            let inbox = c.inbox(&me, after, limit).await.map_err(user_error)?;
            if ctx.json {
                let messages = inbox
                    .messages
                    .iter()
                    .map(|m| InboxMessage {
                        seq: m.seq,
                        sender: m.sender.to_string(),
                        timestamp: m.timestamp,
                        body: match &m.outcome {
                            Ok(pt) => match std::str::from_utf8(pt) {
                                Ok(s) => Body::Text(s.to_string()),
                                Err(_) => Body::NotUtf8Bytes(pt.len()),
                            },
                            Err(why) => Body::Refused(why.clone()),
                        },
                    })
                    .collect();
                crate::display::print_json(&InboxJson { messages, more: inbox.more, next_after: inbox.next_after })?;
            } else {
                for m in &inbox.messages {
                    match &m.outcome {
                        // The sender wrote the body and the relay the refusal's details:
                        // escaped, so neither can drive the reader's terminal.
                        Ok(pt) => {
                            println!("#{} from {} at {}: {}", m.seq, text(m.sender.as_str()), m.timestamp, bytes(pt))
                        }
                        Err(why) => println!("#{} from {}: REFUSED: {}", m.seq, text(m.sender.as_str()), text(why)),
                    }
                }
            }
            if inbox.more && !ctx.json {
                eprintln!(
                    "{} messages shown; more follow: continue with --after {}",
                    inbox.messages.len(),
                    inbox.next_after
                );
            }
            match inbox.refused() {
                0 => Ok(()),
                n => Err(CliError::Findings(format!("{n} of {} messages were refused", inbox.messages.len()))),
            }
        }
    }
}
