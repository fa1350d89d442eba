//! The demo's deployment: the deployment kit's trustee and relay processes on
//! loopback (this binary, started once per node), the five trustees' policies from
//! [`TRUSTEES`], and the calls the scenarios make as users, operators and the agency.

use std::sync::Arc;

use escrow_kit::{Launch, Options};
use escrow_trustee::policy::{Approval, Policy};

use super::*;

/// Trustee `i`'s policy as the demo's plan describes it.
fn plan_policy(i: u16, court: &CourtPublicKey) -> Policy {
    let plan = TRUSTEES.get(usize::from(i)).unwrap_or(&TRUSTEES[0]);
    let mut p = Policy::new(PartyId::new(plan.name).expect("a valid trustee id"), vec![court.clone()]);
    p.approval = if plan.approval == "auto" { Approval::Auto } else { Approval::Operator };
    p.max_window_secs = plan.max_window_days * DAY;
    p.max_fields_per_warrant = 100_000;
    p.max_items_per_request = 500;
    p.default_agency_quota = 0;
    p.agency_quota.insert(PartyId::new(AGENCY).expect("a valid agency id"), plan.quota);
    // Day keys (scenario I, in epoch 2): a week's per warrant, a month's per agency.
    p.max_day_keys_per_warrant = 7;
    p.day_key_agency_quota = 31;
    p
}

/// Fields per warrant and per agency the trustees allow under `--bench`.
const BENCH_LIMIT: u64 = 10_000_000;

/// Under `--bench`: the epoch's days, from day 0 until its shares are destroyed, long
/// enough for every message count's window (`bench::WINDOW_DAYS` each) and the
/// warrants that follow.
pub(super) const BENCH_EPOCH_DAYS: u64 = 365;

/// The demo's witnesses: three, two must cosign; publication every 200 ms; a share
/// request waits up to 5 s for its approval to be witnessed.
pub(super) const WITNESSES: escrow_kit::WitnessOptions =
    escrow_kit::WitnessOptions { count: 3, quorum: 2, interval_ms: 200, release_wait_ms: 5_000 };

impl Deployment {
    /// Starts the demo's deployment; for `bench`, with quotas and a per-warrant limit
    /// no benchmark reaches (the plan's quotas are for the story).
    pub(super) async fn start(keep: bool, bench: bool) -> Result<Self, CliError> {
        let mut pass = [0u8; 16];
        OsRng.fill_bytes(&mut pass);
        let passphrase = hex::encode(pass);
        let exe = std::env::current_exe().map_err(err)?;
        let options = Options {
            name: "demo".into(),
            n: TRUSTEES.len() as u16,
            t: 2,
            seed: None,
            start: day_time(0, 0),
            users: USERS.iter().map(|u| u.to_string()).collect(),
            court: "high-court".into(),
            launch: Launch::Processes { exe, passphrase: passphrase.clone() },
            keep_dir: keep,
            policy: Arc::new(move |i: u16, court: &CourtPublicKey| {
                let mut p = plan_policy(i, court);
                if bench {
                    p.max_fields_per_warrant = BENCH_LIMIT;
                    p.agency_quota.values_mut().for_each(|q| *q = BENCH_LIMIT);
                    // A window of its own days per message count, opened in both modes.
                    p.max_window_secs = (bench::WINDOW_DAYS + 1) * DAY;
                    p.max_day_keys_per_warrant = bench::WINDOW_DAYS + 1;
                    p.day_key_agency_quota = BENCH_LIMIT;
                }
                p
            }),
            pki: None,
            keygen: escrow_kit::KeyGen::Ceremony,
            ceremony_phase_ms: 3_000,
            destroy_at: if bench { day_time(BENCH_EPOCH_DAYS, 0) } else { EPOCH1_DESTROY_AT },
            witnesses: Some(WITNESSES),
            relay_commit: escrow_relay::DEFAULT_COMMIT,
            // The benchmark opens the same messages in both modes.
            modes: if bench { escrow_crypto::Modes::BOTH } else { escrow_crypto::Modes::PER_MESSAGE },
        };
        let started = Instant::now();
        let kit = escrow_kit::Deployment::start(options).await?;
        if keep || narrate::verbose() {
            say!("Deployment in {}", kit.dir.display());
        }
        if let Some(a) = &kit.announcement {
            let ann = a.announcement();
            let destroy_day = (ann.destroy_at - DAY0) / DAY;
            say!(
                "escrow demo: the encryption debate, run on this machine.\n\n\
                 Five organisations hold this week's escrow key: a court liaison office, a \
                 civil-liberties body, the messaging provider, a parliamentary committee and a \
                 trustee in another country. They made the key together, in a ceremony that took \
                 {:.1} s, and none of them ever saw it whole: each holds one share. Any {} of the 5 \
                 can use it to open a message named in a court's warrant; {} cannot. Every share is \
                 destroyed on day {destroy_day}. Four people, alice, bob, carol and dave, send each \
                 other messages; each message carries its own key, locked under the escrow key \
                 (an \"escrow field\"). Each trustee, the provider's relay and three log witnesses \
                 run as separate programs on this machine; this program plays the court, the \
                 police agency and the users. Days are days of a simulated week starting on day 0.",
                started.elapsed().as_secs_f64(),
                a.key_set().threshold() + 1,
                a.key_set().threshold(),
            );
            detail!(
                "Key ceremony: the five trustee processes made epoch 1's key themselves (Joint-Feldman with\n  \
                 complaints, then an agreement round) in {:.1} s; no process ever held the master secret.\n  \
                 Its announcement (t = {}; holders {}) is signed by all five\n  \
                 under the pinned trustee keys; the relay serves it with the key, and users and the agency\n  \
                 believe the key only with it. Every share is destroyed on schedule at day {destroy_day}.",
                started.elapsed().as_secs_f64(),
                a.key_set().threshold(),
                ann.holders.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            );
        }
        // The users' keys, sealed, for the commands `--keep` prints.
        let secret =
            SecretArgs { passphrase: Some(passphrase.clone()), passphrase_file: None, insecure_fast_kdf: false };
        let users = kit.dir.join("users");
        std::fs::create_dir_all(&users).map_err(|e| CliError::io(&users, e))?;
        for u in &kit.users {
            secret.write_sealed(&users.join(format!("{}.key", u.id())), &u.to_bytes())?;
        }
        let d = Deployment { kit, passphrase, sabotage: None, next_week: false };
        d.print_processes().await?;
        Ok(d)
    }

    /// Asks every process once over gRPC; with `--verbose`, tells each one's role and
    /// address.
    pub(super) async fn print_processes(&self) -> Result<(), CliError> {
        let mut t = table(&["process", "role", "approval", "max window", "address"]);
        for (i, (p, plan)) in self.trustees.iter().zip(&TRUSTEES).enumerate() {
            self.trustee_client_as(i, &self.auditor_creds()?)?
                .get_info(pb::GetInfoRequest {})
                .await
                .map_err(CliError::Rpc)?;
            t.add_row(vec![
                p.name.clone(),
                plan.role.to_string(),
                plan.approval.to_string(),
                format!("{} days", plan.max_window_days),
                p.server.addr.to_string(),
            ]);
        }
        self.relay_client_as(&self.auditor_creds()?)?
            .get_epoch_key(pb::GetEpochKeyRequest {})
            .await
            .map_err(CliError::Rpc)?;
        t.add_row(vec![
            "relay".into(),
            "messaging provider".into(),
            "-".into(),
            "-".into(),
            self.relay.addr.to_string(),
        ]);
        for w in &self.witnesses {
            t.add_row(vec![
                format!("witness {}", w.name),
                "cosigns every trustee's checkpoints (C2SP tlog-witness)".into(),
                "-".into(),
                "-".into(),
                format!("https://{}", w.server.addr),
            ]);
        }
        detail!("{t}");
        detail!(
            "Every trustee publishes its checkpoint to the {} witnesses at most every {} ms and releases shares\n\
             only once the warrant's approval is in a checkpoint {} of them cosigned; the agency checks the proof.",
            WITNESSES.count,
            WITNESSES.interval_ms,
            WITNESSES.quorum
        );
        Ok(())
    }

    /// Sends an already sealed envelope as user `from`; the relay's answer as is.
    pub(super) async fn post(&self, from: &str, env: &Envelope) -> Result<pb::SendResponse, tonic::Status> {
        self.user_client(from).map_err(|e| tonic::Status::internal(e.to_string()))?.post(env).await
    }

    /// A warrant of the court with a random id for `targets` over `[from, to)`, case
    /// reference `case`.
    pub(super) fn sign_warrant(
        &self,
        targets: &[&str],
        from: u64,
        to: u64,
        case: &str,
    ) -> Result<(Vec<u8>, WarrantId), CliError> {
        let mut id = [0u8; 16];
        OsRng.fill_bytes(&mut id);
        let mut body = self.warrant_body(id, case, targets, (from, to))?;
        body.legal_basis = "Investigatory Powers Act 2016, s.19 (demo)".into();
        Ok((self.sign(&body)?, body.id))
    }

    /// Submits `warrant` to every trustee as the agency; each trustee's answer in a table.
    pub(super) async fn submit_table(&self, warrant: &[u8]) -> Result<Table, CliError> {
        let mut t = table(&["trustee", "state after submission", "decided by", "reason"]);
        for (name, r) in self.kit.submit(warrant).await? {
            match r {
                Ok(s) => {
                    t.add_row(vec![name, crate::warrant::state_name(s.state).into(), s.decided_by, s.reason]);
                }
                Err(e) => {
                    t.add_row(vec![name, format!("{:?}", e.code()), String::new(), e.message().into()]);
                }
            }
        }
        Ok(t)
    }

    /// Operator `i` approves (or denies) warrant `id`.
    pub(super) async fn decide_as(&self, i: usize, id: WarrantId, approve: bool, reason: &str) -> Result<(), CliError> {
        let action = if approve { Action::Approve } else { Action::Deny };
        self.kit.decide(i, id.0, action, reason).await?;
        Ok(())
    }

    /// The agency opens everything `warrant` covers; trustees that are down show up
    /// as unreachable. Every trustee's answer is waited for and checked, so that what
    /// each scenario shows (who released, who lied) does not depend on which answers
    /// came first.
    pub(super) async fn open(&self, warrant: &[u8]) -> Result<escrow_agency::OpenReport, CliError> {
        let agency = self.agency().await?.check_every_trustee(std::time::Duration::from_secs(60));
        agency.open(warrant, |_| {}).await.map_err(err)
    }
}
