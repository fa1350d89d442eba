//! Not a fuzz target: writes the committed seed corpus `fuzz/seeds/<target>/` from the
//! known-answer and negative vectors, the example policy, and a few blobs made here
//! with fixed keys. It is built as a cargo-fuzz binary only so that it reuses the fuzz
//! build instead of compiling every dependency a second time; `run.sh` skips it.
//!
//! ```sh
//! cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -a gen_seeds -- -runs=1   # rewrites fuzz/seeds/
//! ```
#![no_main]

use std::fs;
use std::path::{Path, PathBuf};

use escrow_crypto::sealed::{seal, KdfParams, Unlock};
use escrow_fuzz::*;
use escrow_log::event::{Arrival, Decision, Entry, Event};
use escrow_log::{leaf_hash, Checkpoint};
use rand::SeedableRng;

const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const PETER_TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const C2SP_NOTE: &str = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
const C2SP_CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

struct Seeds {
    root: PathBuf,
}

impl Seeds {
    fn put(&self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("create seed dir");
        fs::write(dir.join(name), bytes).expect("write seed");
    }
}

/// Which target a KAT / negative vector name belongs to (the part before `_<n>` / `.`).
fn target_of(name: &str) -> Option<&'static str> {
    let kind = name.split('.').next().unwrap_or(name);
    Some(match kind {
        "court_public_key" => "crypto_court_public_key",
        "court_secret_key" => "crypto_court_secret_key",
        "decryption_share_3" => "crypto_decryption_share",
        "envelope" => "crypto_envelope",
        "epoch_public_key" => "crypto_epoch_public_key",
        "escrow_field" => "crypto_escrow_field",
        "label" => "crypto_label",
        "sealed_secret" => "crypto_sealed_open",
        "trustee_key_share_3" => "crypto_trustee_key_share",
        "user_public_key_alice" => "crypto_user_public_key",
        "user_secret_key_bob" => "crypto_user_secret_key",
        "warrant" => "crypto_warrant_verify",
        _ => return None,
    })
}

libfuzzer_sys::fuzz_target!(|_data: &[u8]| {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(write_seeds);
});

fn write_seeds() {
    let root = std::env::var_os("SEEDS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let s = Seeds { root };

    // escrow-crypto: every known answer and every negative vector, by kind.
    for (file, prefix) in [(KAT, "kat"), (NEGATIVE, "neg")] {
        for (name, bytes) in vectors(file) {
            let target = target_of(&name).unwrap_or_else(|| panic!("no target for vector {name}"));
            s.put(target, &format!("{prefix}-{name}"), &bytes);
            if target == "crypto_warrant_verify" && bytes.len() > 64 {
                // The body target signs its input itself: feed it the unsigned part.
                s.put("crypto_warrant_body", &format!("{prefix}-{name}"), &bytes[..bytes.len() - 64]);
            }
        }
    }
    // A field and a share of the KAT envelope are also decent labels' neighbours; the
    // user public key target gets Bob's too.
    s.put("crypto_user_public_key", "bob", &BOB_SK.public().to_bytes());
    s.put("crypto_court_public_key", "other-court", &OTHER_COURT_PK.to_bytes());

    // Sealed secrets: the KAT one (passphrase) plus fixed-salt ones made here.
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x5ea1);
    let fast = KdfParams::insecure_fast();
    let two_lanes = KdfParams { m_kib: 128, t: 2, p: 2 };
    for (name, plain, unlock, params) in [
        ("pass-fast-short", &b"x"[..], Unlock::Passphrase(KAT_PASSPHRASE), fast),
        ("pass-two-lanes", &b"a trustee key share would go here"[..], Unlock::Passphrase(KAT_PASSPHRASE), two_lanes),
        ("pass-empty", &b""[..], Unlock::Passphrase(KAT_PASSPHRASE), fast),
        ("keyfile", &b"sealed under a key file"[..], Unlock::KeyFile(&FUZZ_KEY_FILE), fast),
        ("keyfile-empty", &b""[..], Unlock::KeyFile(&FUZZ_KEY_FILE), fast),
    ] {
        s.put("crypto_sealed_open", name, &seal(plain, &unlock, params, &mut rng).expect("seal"));
    }

    // escrow-log entries: one of each event kind.
    let wid = [7u8; 16];
    let entries = [
        Event::WarrantReceived {
            warrant_id: wid,
            court: "high-court".into(),
            agency: "agency-1".into(),
            window_from: 1_767_225_600,
            window_to: 1_767_398_400,
            valid_until: 1_767_484_800,
            reveal_at: 1_770_076_800,
            details_commitment: [9; 32],
            arrival: Arrival::Received,
            reason: String::new(),
        },
        Event::WarrantReceived {
            warrant_id: wid,
            court: "high-court".into(),
            agency: "agency-2".into(),
            window_from: 0,
            window_to: 1,
            valid_until: 2,
            reveal_at: u64::MAX,
            details_commitment: [0; 32],
            arrival: Arrival::DeniedByPolicy,
            reason: "window longer than max_window_secs (604800)".into(),
        },
        Event::WarrantDecided {
            warrant_id: wid,
            decision: Decision::Approve,
            operator: "operator-1".into(),
            reason: "checked against the case file — ok".into(),
        },
        Event::WarrantDecided { warrant_id: wid, decision: Decision::Revoke, operator: "op".into(), reason: String::new() },
        Event::SharesReleased { warrant_id: wid, agency: "agency-1".into(), fields: vec![[1; 32], [2; 32], [3; 32]] },
        Event::SharesReleased { warrant_id: wid, agency: "agency-1".into(), fields: vec![] },
        Event::RequestRefused { warrant_id: [0; 16], code: "PermissionDenied".into(), rule: "out of scope: no target".into() },
        Event::EpochInstalled { epoch: 42, public_key_hash: [4; 32], trustee_index: 3 },
        Event::EpochDestroyed { epoch: 42 },
    ];
    for (i, event) in entries.into_iter().enumerate() {
        let bytes = Entry { time: 1_767_225_600 + i as u64, event }.to_bytes().expect("valid entry");
        s.put("log_entry", &format!("entry-{i}"), &bytes);
    }

    // Checkpoints: note text for the body target, signed notes for the open target.
    let checkpoints = [
        Checkpoint::new(LOG_ORIGIN, 0, escrow_log::EMPTY_ROOT).expect("checkpoint"),
        Checkpoint::new(LOG_ORIGIN, 12_345, leaf_hash(b"root")).expect("checkpoint"),
        Checkpoint::new(LOG_ORIGIN, u64::MAX, [0xff; 32]).expect("checkpoint"),
        Checkpoint::new("example.com/behind-the-sofa", 20_852_163, leaf_hash(b"sofa")).expect("checkpoint"),
    ];
    for (i, cp) in checkpoints.iter().enumerate() {
        s.put("log_checkpoint", &format!("checkpoint-{i}"), cp.body().as_bytes());
        let note = LOG_SIGNER.sign(cp);
        s.put("log_note_open", &format!("checkpoint-{i}"), note.as_bytes());
        // The same note with another key's signature line after ours.
        s.put("log_note_open", &format!("checkpoint-{i}-cosigned"), format!("{note}{PETER_SIG}").as_bytes());
    }
    s.put("log_checkpoint", "c2sp-checkpoint-text", C2SP_CHECKPOINT.split("\n\n").next().map(|t| format!("{t}\n")).unwrap_or_default().as_bytes());
    s.put("log_checkpoint", "extension-line", format!("{}extension\n", checkpoints[1].body()).as_bytes());
    s.put("log_note_open", "c2sp-note", C2SP_NOTE.as_bytes());
    s.put("log_note_open", "c2sp-checkpoint", C2SP_CHECKPOINT.as_bytes());
    s.put("log_note_open", "peter", format!("{PETER_TEXT}\n{PETER_SIG}").as_bytes());
    let signed_text = escrow_log::note::sign_note(PETER_TEXT, &LOG_SIGNER).expect("sign");
    s.put("log_note_open", "text-by-fixed-key", signed_text.as_bytes());

    // Log keys.
    s.put("log_signer_key", "fixed", &LOG_SIGNER.to_bytes());
    s.put("log_signer_key", "peter", PETER_SKEY.as_bytes());
    s.put("log_verifier_key", "fixed", LOG_VERIFIER.to_string().as_bytes());
    s.put("log_verifier_key", "peter", PETER_VKEY.as_bytes());
    s.put("log_verifier_key", "enoch", ENOCH_VKEY.as_bytes());

    // Trustee policies: the deploy example and the unit test's minimal one.
    let example = include_str!("../../deploy/policy.example.toml");
    s.put("trustee_policy", "policy.example.toml", example.as_bytes());
    let minimal = "trustee_id = \"trustee-1\"\napproval = \"operator\"\ntrusted_courts = []\nmax_window_secs = 172800\nmax_fields_per_warrant = 100\n[agency_quota]\nagency-1 = 50\n";
    s.put("trustee_policy", "minimal.toml", minimal.as_bytes());
    let two_courts = format!(
        "trustee_id = \"trustee-4\"\napproval = \"auto\"\ntrusted_courts = [\"{}\", \" {} \"]\nmax_window_secs = 1\nmax_fields_per_warrant = 0\nmax_items_per_request = 10000\ndefault_agency_quota = 7\n\n[agency_quota]\n\"agency-1\" = 0\nagency-2 = 18446744073709551615\n",
        hex::encode(COURT_PK.to_bytes()),
        hex::encode(OTHER_COURT_PK.to_bytes())
    );
    s.put("trustee_policy", "two-courts.toml", two_courts.as_bytes());
    // escrow-pki: identity URIs and DER certificates issued by a CA made here.
    use escrow_pki::{Ca, Identity, Role, Validity};
    let pid = |s: &str| escrow_crypto::PartyId::new(s).expect("valid id");
    let identities = [
        Identity::new(Role::Trustee, pid("trustee-0")).expect("identity"),
        Identity::new(Role::Agency, pid("agency-1")).expect("identity"),
        Identity::new(Role::User, pid("alice")).expect("identity"),
        Identity::new(Role::Auditor, pid("auditor-1")).expect("identity"),
        Identity::new(Role::Relay, pid("relay")).expect("identity"),
        Identity::operator(pid("trustee-0"), pid("op-0")),
    ];
    let validity = Validity::days_from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600), 3650);
    let ca = Ca::generate("fuzz", validity).expect("CA");
    for (i, identity) in identities.iter().enumerate() {
        s.put("pki_identity_uri", &format!("uri-{i}"), identity.uri().as_bytes());
        let issued = ca.issue(identity, validity).expect("issue");
        s.put("pki_cert_der", &format!("cert-{i}.der"), &pem_to_der(&issued.cert_pem));
    }
    s.put("pki_cert_der", "ca.der", &pem_to_der(ca.cert_pem()));
    eprintln!("seeds written to {}", s.root.display());
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).expect("PEM body is base64")
}
