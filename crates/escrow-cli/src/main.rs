//! `escrow`: one binary, a subcommand per role. For now only `demo`, which runs the
//! cryptographic core in one process; the services arrive with the trustee/relay issue.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use escrow_crypto::*;
use rand::rngs::OsRng;
use rand::RngCore;

#[derive(Parser, Debug)]
#[command(name = "escrow", version, about = "Lawful-access key escrow: trustees, warrants, audit")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Seal messages, then open exactly the in-scope ones with a quorum of trustees
    /// under a court-signed warrant (in one process; no network yet).
    Demo {
        /// Number of trustees n.
        #[arg(long, default_value_t = 5)]
        trustees: u16,
        /// Threshold t: t+1 trustees are needed to open a message.
        #[arg(long, default_value_t = 2)]
        threshold: u16,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo { trustees, threshold } => match demo::run(trustees, threshold) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

mod demo {
    use super::*;

    const DAY: u64 = 86_400;
    const START: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn pid(s: &str) -> Result<PartyId, Error> {
        PartyId::new(s)
    }

    /// What one trustee does with one request: warrant, scope, field validity, share.
    fn trustee_answer(
        share: &TrusteeKeyShare,
        epk: &EpochPublicKey,
        warrant: &VerifiedWarrant,
        now: u64,
        env: &Envelope,
    ) -> Result<DecryptionShare, Error> {
        warrant.check_time(now)?;
        warrant.check_scope(env.label())?;
        share.decrypt_share(epk, env.field(), env.label())
    }

    pub fn run(n: u16, t: u16) -> Result<(), String> {
        let mut rng = OsRng;
        let mut failures = Vec::new();
        println!("escrow demo: n = {n} trustees, threshold t = {t} ({} needed to open)\n", t + 1);
        println!("WARNING: dealer key generation. The dealer saw the master secret and could open");
        println!("every message of this epoch alone. Distributed key generation is planned.\n");
        let keys = dealer_keygen(EpochId(1), t, n, &mut rng).map_err(|e| e.to_string())?;
        let epk = &keys.public;

        let names = ["alice", "bob", "carol", "dave"];
        let users: Vec<UserSecretKey> = names
            .iter()
            .map(|u| pid(u).map(|id| UserSecretKey::generate(id, &mut rng)))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let user = |name: &str| users.iter().find(|u| u.id().as_str() == name).expect("demo user exists");

        // Four days of traffic.
        let traffic = [
            (0, "alice", "bob", "lunch on monday?"),
            (1, "bob", "alice", "sure, noon"),
            (1, "carol", "dave", "the report is late"),
            (2, "alice", "carol", "did you see bob's email?"),
            (2, "dave", "bob", "football tonight"),
            (3, "alice", "bob", "running late"),
        ];
        let mut sent = Vec::new();
        for (day, from, to, text) in traffic {
            let mut message_id = [0u8; 16];
            rng.fill_bytes(&mut message_id);
            let req = SealRequest {
                sender: user(from),
                recipients: &[user(to).public()],
                epoch_key: epk,
                message_id,
                timestamp: START + day * DAY + 3_600,
                plaintext: text.as_bytes(),
            };
            let env = Envelope::seal(&req, &mut rng).map_err(|e| e.to_string())?;
            let got = env.open(user(to), &user(from).public(), epk).map_err(|e| e.to_string())?;
            if got != text.as_bytes() {
                failures.push(format!("{to} could not read {from}'s message"));
            }
            sent.push((day, from, to, text, env));
        }
        println!("{} messages sent over 4 days; every recipient opened theirs.\n", sent.len());

        // A court signs a two-day warrant for alice (days 1 and 2).
        let court = CourtSecretKey::generate(pid("high-court").map_err(|e| e.to_string())?, &mut rng);
        let mut wid = [0u8; 16];
        rng.fill_bytes(&mut wid);
        let body = WarrantBody {
            id: WarrantId(wid),
            case_reference: "DEMO/2026/1".into(),
            court: pid("high-court").map_err(|e| e.to_string())?,
            agency: pid("agency-1").map_err(|e| e.to_string())?,
            targets: vec![pid("alice").map_err(|e| e.to_string())?],
            window: TimeWindow::new(START + DAY, START + 3 * DAY).map_err(|e| e.to_string())?,
            issued_at: START + 4 * DAY,
            valid_until: START + 34 * DAY,
            legal_basis: "demo".into(),
            notification_delay_secs: 90 * DAY,
        };
        let signed = court.sign(&body).map_err(|e| e.to_string())?;
        let warrant = VerifiedWarrant::verify(&signed, &court.public()).map_err(|e| e.to_string())?;
        let now = START + 4 * DAY + 60;
        println!("Warrant {} for targets [alice], window days 1-2, signed by high-court.", warrant.id());
        println!("Trustees 0..={t} check the warrant and the label's scope before answering.\n");

        println!("{:<4} {:<6} {:<6} {:<9} {:<8} result", "day", "from", "to", "in scope", "opened");
        for (day, from, to, text, env) in &sent {
            let in_scope = warrant.check_scope(env.label()).is_ok();
            let answers: Vec<Result<DecryptionShare, Error>> = keys
                .shares
                .iter()
                .take(usize::from(t) + 1)
                .map(|s| trustee_answer(s, epk, &warrant, now, env))
                .collect();
            let refusal = answers.iter().find_map(|a| a.as_ref().err().cloned());
            let shares: Vec<DecryptionShare> = answers.into_iter().filter_map(Result::ok).collect();
            let opened = match refusal {
                Some(e) => Err(e),
                None => epk
                    .combine(env.field(), env.label(), &shares)
                    .and_then(|o| env.open_with_data_key(&o.data_key, &user(from).public(), epk)),
            };
            let (opened_flag, result) = match &opened {
                Ok(pt) => ("yes", format!("{:?}", String::from_utf8_lossy(pt))),
                Err(e) => ("no", format!("trustees refuse: {e}")),
            };
            println!(
                "{:<4} {:<6} {:<6} {:<9} {:<8} {}",
                day,
                from,
                to,
                if in_scope { "yes" } else { "no" },
                opened_flag,
                result
            );
            if in_scope != opened.is_ok() {
                failures.push(format!("day {day} {from}->{to}: in scope {in_scope} but opened {}", opened.is_ok()));
            }
            if let Ok(pt) = &opened {
                if pt != text.as_bytes() {
                    failures.push("opened plaintext differs".into());
                }
            }
        }

        // Too few trustees: t shares never open anything.
        let (_, _, _, _, env) = &sent[1];
        let shares: Vec<DecryptionShare> = keys
            .shares
            .iter()
            .take(usize::from(t))
            .filter_map(|s| trustee_answer(s, epk, &warrant, now, env).ok())
            .collect();
        match epk.combine(env.field(), env.label(), &shares) {
            Err(e) => println!("\nWith only {t} trustees answering: {e}."),
            Ok(_) => failures.push("t shares opened a message".into()),
        }

        // A rogue sender forges the escrow field (Blaze 1994); the recipient refuses it.
        let req = SealRequest {
            sender: user("dave"),
            recipients: &[user("carol").public()],
            epoch_key: epk,
            message_id: [9; 16],
            timestamp: START + 2 * DAY,
            plaintext: b"unescrowed",
        };
        let rogue = Envelope::seal_dangerous_with_field(&req, &mut rng, |epk, label, _| {
            EscrowField::seal(epk, label, &DataKey::generate(&mut OsRng))
        })
        .map_err(|e| e.to_string())?;
        match rogue.open(user("carol"), &user("dave").public(), epk) {
            Err(e) => println!("A forged escrow field from dave: carol refuses it: {e}."),
            Ok(_) => failures.push("forged field accepted".into()),
        }

        if failures.is_empty() {
            println!("\nAll expectations held.");
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }
}
