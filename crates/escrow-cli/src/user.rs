//! `escrow user ...`: register, send, read the inbox.

use std::path::PathBuf;

use clap::Subcommand;
use escrow_crypto::{Envelope, EpochPublicKey, SealRequest, UserPublicKey};
use escrow_proto::v1 as pb;
use pb::relay_client::RelayClient;
use rand::rngs::OsRng;
use rand::RngCore;

use crate::files::read_hex;
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
        /// Pin the epoch key (hex file) instead of trusting the relay's.
        #[arg(long)]
        epoch_key: Option<PathBuf>,
        #[arg(long, hide = true)]
        clock_file: Option<PathBuf>,
    },
    /// Fetch, verify and open the inbox.
    Inbox {
        #[arg(long)]
        relay: String,
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        epoch_key: Option<PathBuf>,
    },
}

pub fn relay_client(
    addr: &str,
    credentials: &escrow_service::transport::Credentials,
) -> Result<RelayClient<tonic::transport::Channel>, CliError> {
    Ok(RelayClient::new(
        escrow_service::transport::channel(addr, credentials, escrow_pki::Role::Relay)
            .map_err(|e| CliError::Usage(e.to_string()))?,
    )
    .max_decoding_message_size(escrow_service::transport::MAX_MESSAGE_BYTES))
}

async fn epoch_key(
    relay: &mut RelayClient<tonic::transport::Channel>,
    pinned: &Option<PathBuf>,
) -> Result<EpochPublicKey, CliError> {
    let served = relay.get_epoch_key(pb::GetEpochKeyRequest {}).await.map_err(CliError::Rpc)?.into_inner();
    let served = EpochPublicKey::from_bytes(&served.epoch_public_key)?;
    if let Some(p) = pinned {
        let pinned = EpochPublicKey::from_bytes(&read_hex(p)?)?;
        if pinned != served {
            return Err(CliError::Usage(format!(
                "the relay serves an epoch key different from the pinned {}: refusing",
                p.display()
            )));
        }
    }
    Ok(served)
}

async fn lookup(relay: &mut RelayClient<tonic::transport::Channel>, id: &str) -> Result<UserPublicKey, CliError> {
    let r = relay.get_user(pb::GetUserRequest { user_id: id.to_string() }).await.map_err(CliError::Rpc)?.into_inner();
    let pk = UserPublicKey::from_bytes(&r.user_public_key)?;
    if pk.id().as_str() != id {
        return Err(CliError::Usage(format!("relay answered for {} when asked for {id}", pk.id())));
    }
    Ok(pk)
}

pub async fn run(cmd: UserCmd, ctx: &crate::Ctx) -> Result<(), CliError> {
    let secret = &ctx.secret;
    match cmd {
        UserCmd::Keygen { id, out } => user_keygen(&id, &out, secret),
        UserCmd::Register { relay, key } => {
            let me = load_user(&key, secret)?;
            relay_client(&relay, &ctx.credentials()?)?
                .register_user(pb::RegisterUserRequest { user_public_key: me.public().to_bytes() })
                .await
                .map_err(CliError::Rpc)?;
            println!("registered {}", me.id());
            Ok(())
        }
        UserCmd::Send { relay, key, to, message, epoch_key: pinned, clock_file } => {
            let me = load_user(&key, secret)?;
            let mut c = relay_client(&relay, &ctx.credentials()?)?;
            let epk = epoch_key(&mut c, &pinned).await?;
            let mut recipients = Vec::new();
            for r in &to {
                recipients.push(lookup(&mut c, r).await?);
            }
            let mut message_id = [0u8; 16];
            OsRng.fill_bytes(&mut message_id);
            let clock = escrow_service::clock::from_option(clock_file);
            let env = Envelope::seal(
                &SealRequest {
                    sender: &me,
                    recipients: &recipients,
                    epoch_key: &epk,
                    message_id,
                    timestamp: clock.now(),
                    plaintext: message.as_bytes(),
                },
                &mut OsRng,
            )?;
            let r = c.send(pb::SendRequest { envelope: env.as_bytes().to_vec() }).await.map_err(CliError::Rpc)?;
            println!("sent as #{}", r.into_inner().seq);
            Ok(())
        }
        UserCmd::Inbox { relay, key, epoch_key: pinned } => {
            let me = load_user(&key, secret)?;
            let mut c = relay_client(&relay, &ctx.credentials()?)?;
            let epk = epoch_key(&mut c, &pinned).await?;
            let page = c
                .fetch_inbox(pb::FetchInboxRequest { user_id: me.id().to_string(), after_seq: 0, limit: 0 })
                .await
                .map_err(CliError::Rpc)?
                .into_inner();
            for s in page.envelopes {
                let env = Envelope::from_bytes(&s.envelope)?;
                let sender = lookup(&mut c, env.label().sender().as_str()).await?;
                match env.open(&me, &sender, &epk) {
                    Ok(pt) => println!(
                        "#{} from {} at {}: {}",
                        s.seq,
                        sender.id(),
                        env.label().timestamp(),
                        String::from_utf8_lossy(&pt)
                    ),
                    Err(e) => println!("#{} from {}: REFUSED: {e}", s.seq, sender.id()),
                }
            }
            Ok(())
        }
    }
}
