//! `escrow health`: a probe for supervisors and container health checks. It needs only
//! the federation file (health answers without a client certificate), never a
//! passphrase, and exits 0 only if the server says it is serving.

use std::time::Duration;

use clap::Args;
use escrow_pki::Role;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::CliError;

/// How long a probe waits for its answer.
const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Args, Debug)]
pub struct HealthArgs {
    /// The server's address, host:port.
    #[arg(long)]
    pub addr: String,
    /// What serves there: trustee, relay or witness.
    #[arg(long)]
    pub role: String,
    /// The gRPC service to ask about (default: escrow.v1.Trustee or escrow.v1.Relay).
    #[arg(long)]
    pub service: Option<String>,
    /// A witness serving plain HTTP (`witness serve --plain`).
    #[arg(long)]
    pub plain: bool,
}

fn down(what: impl std::fmt::Display) -> CliError {
    CliError::Findings(format!("not healthy: {what}"))
}

pub async fn run(a: HealthArgs, ctx: &crate::Ctx) -> Result<(), CliError> {
    let role = Role::parse(&a.role)
        .filter(|r| matches!(r, Role::Trustee | Role::Relay | Role::Witness))
        .ok_or_else(|| CliError::Usage(format!("--role {:?}: trustee, relay or witness", a.role)))?;
    if role == Role::Witness {
        let trust = if a.plain { None } else { Some(ctx.tls.trust()?) };
        let scheme = if a.plain { "http" } else { "https" };
        let client =
            escrow_witness::client::WitnessClient::new(&format!("{scheme}://{}", a.addr), trust.as_ref(), TIMEOUT)
                .map_err(|e| CliError::Usage(e.to_string()))?;
        let info = client.info().await.map_err(down)?;
        let vkey = info.lines().find(|l| l.starts_with("vkey ")).unwrap_or("witness");
        println!("SERVING ({})", crate::display::text(vkey));
        return Ok(());
    }
    let anonymous = escrow_service::transport::Credentials::anonymous(ctx.tls.trust()?);
    let service = a
        .service
        .unwrap_or_else(|| if role == Role::Trustee { "escrow.v1.Trustee" } else { "escrow.v1.Relay" }.to_owned());
    grpc_serving(&a.addr, &anonymous, role, &service).await.map_err(down)?;
    println!("SERVING ({service} at {})", a.addr);
    Ok(())
}

/// Asks the gRPC health service at `addr` (a server of `role`) about `service`, with
/// `anonymous` credentials (the CA only): `Ok` only if it answers SERVING in time.
pub async fn grpc_serving(
    addr: &str,
    anonymous: &escrow_service::transport::Credentials,
    role: Role,
    service: &str,
) -> Result<(), String> {
    let channel = escrow_service::transport::channel(addr, anonymous, role).map_err(|e| e.to_string())?;
    let answer =
        tokio::time::timeout(TIMEOUT, HealthClient::new(channel).check(HealthCheckRequest { service: service.into() }))
            .await
            .map_err(|_| format!("{addr} did not answer within {} s", TIMEOUT.as_secs()))?
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
            .into_inner();
    if answer.status == ServingStatus::Serving as i32 {
        Ok(())
    } else {
        Err(format!("{service} at {addr} reports status {}", answer.status))
    }
}
