//! Not a fuzz target: writes the committed seed corpus `fuzz/seeds/<target>/` from the
//! known-answer and negative vectors, the example policy, a few blobs made here with
//! fixed keys, and the transcripts of real key ceremonies: the state machine
//! `dkg::machine::Ceremony` run by the three fixed trustees (`escrow_fuzz::trustee_keys`)
//! on a network in memory, honest, with a cheating dealer, with a lost dealing, as a
//! reshare, and aborted three ways (see `ceremonies`). It is built as a cargo-fuzz binary only so that it reuses the fuzz
//! build instead of compiling every dependency a second time; `run.sh` skips it.
//!
//! ```sh
//! cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -a gen_seeds -- -runs=1   # rewrites fuzz/seeds/
//! ```
#![no_main]

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};

use escrow_crypto::dkg::machine::{Ceremony, Installation, Output, Setup};
use escrow_crypto::dkg::messages::{Body, Plan, Proposal, SignedMessage};
use escrow_crypto::sealed::{seal, KdfParams, Unlock};
use escrow_crypto::trustee_key::SIGNATURE_LEN;
use escrow_crypto::{EpochId, EpochPublicKey, PartyId, TrusteeKeyShare};
use escrow_fuzz::*;
use escrow_log::event::{Arrival, Decision, Entry, Event};
use escrow_log::{leaf_hash, Checkpoint};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

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
        "day_field_bob" => "crypto_day_field",
        "extraction_share_3" => "crypto_extraction_share",
        "envelope" | "envelope_with_days" => "crypto_envelope",
        "epoch_public_key" => "crypto_epoch_public_key",
        "escrow_field" => "crypto_escrow_field",
        "label" | "domain_label" => "crypto_label",
        "message_label" => "crypto_message_label",
        "domain_envelope" => "crypto_domain_envelope",
        "epoch_public_key_us" => "crypto_epoch_public_key",
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
            reason: String::new().into(),
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
        Event::WarrantDecided {
            warrant_id: wid,
            decision: Decision::Revoke,
            operator: "op".into(),
            reason: String::new().into(),
        },
        Event::SharesReleased { warrant_id: wid, agency: "agency-1".into(), fields: vec![[1; 32], [2; 32], [3; 32]] },
        Event::SharesReleased { warrant_id: wid, agency: "agency-1".into(), fields: vec![] },
        Event::RequestRefused {
            warrant_id: [0; 16],
            code: "PermissionDenied".into(),
            rule: "out of scope: no target".into(),
        },
        Event::EpochInstalled { epoch: 42, public_key_hash: [4; 32], trustee_index: 3 },
        Event::EpochDestroyed { epoch: 42 },
        Event::DayKeysReleased {
            warrant_id: wid,
            agency: "agency-1".into(),
            days: vec![escrow_log::event::DayRelease { epoch: 1, day: 20_454, party: [5; 32] }],
        },
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
    s.put(
        "log_checkpoint",
        "c2sp-checkpoint-text",
        C2SP_CHECKPOINT.split("\n\n").next().map(|t| format!("{t}\n")).unwrap_or_default().as_bytes(),
    );
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

    // The key-ceremony targets: real ceremonies' messages, commitments, announcements.
    ceremonies(&s);
    s.put("crypto_trustee_pins", "pins.txt", trustee_pins().to_text().as_bytes());
    for k in trustee_keys() {
        s.put("crypto_trustee_pins", &format!("key-{}", k.trustee()), &k.public().to_bytes());
    }
    eprintln!("seeds written to {}", s.root.display());
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).expect("PEM body is base64")
}

/// Phase and acceptance timeout of the seed ceremonies (milliseconds of the network's
/// own clock, which `Net::run` moves by hand).
const TIMEOUT_MS: u32 = 1_000;

/// What the network does to a message from one trustee (index) to another: deliver it,
/// maybe changed, or drop it.
type Tamper = Box<dyn FnMut(usize, usize, &SignedMessage) -> Option<SignedMessage>>;

/// The three fixed trustees, each running its side of one ceremony, and the messages
/// between them, carried in order by a queue. Every message that travels is kept, in
/// the order it was first sent: that is the transcript the seeds come from.
struct Net {
    nodes: Vec<Option<Ceremony>>,
    /// Whether each trustee accepts a proposal at once when it joins (else its
    /// operator has not decided).
    auto_accept: Vec<bool>,
    old_shares: Vec<Option<TrusteeKeyShare>>,
    installed: Vec<Option<Installation>>,
    aborted: Vec<bool>,
    queue: VecDeque<(usize, usize, SignedMessage)>,
    now: u64,
    rng: ChaCha20Rng,
    tamper: Tamper,
    transcript: Vec<SignedMessage>,
}

impl Net {
    fn new(seed: u64) -> Net {
        let n = trustee_keys().len();
        Net {
            nodes: (0..n).map(|_| None).collect(),
            auto_accept: vec![true; n],
            old_shares: (0..n).map(|_| None).collect(),
            installed: (0..n).map(|_| None).collect(),
            aborted: vec![false; n],
            queue: VecDeque::new(),
            now: 0,
            rng: ChaCha20Rng::seed_from_u64(seed),
            tamper: Box::new(|_, _, m| Some(m.clone())),
            transcript: Vec::new(),
        }
    }

    fn setup(&self, i: usize) -> Setup {
        Setup::new(
            trustee_keys()[i].clone(),
            trustee_pins().clone(),
            self.old_shares[i]
                .as_ref()
                .map(|s| TrusteeKeyShare::from_bytes(&s.to_bytes()).expect("a share re-decodes")),
        )
    }

    fn record(&mut self, m: &SignedMessage) {
        if !self.transcript.contains(m) {
            self.transcript.push(m.clone());
        }
    }

    fn apply(&mut self, i: usize, outputs: Vec<Output>) {
        for o in outputs {
            match o {
                Output::Broadcast(m) => {
                    self.record(&m);
                    for to in (0..self.nodes.len()).filter(|&to| to != i) {
                        self.queue.push_back((i, to, m.clone()));
                    }
                }
                Output::Install(inst) => self.installed[i] = Some(*inst),
                Output::Abort(_) => self.aborted[i] = true,
                // Only after `set_stalled`, which the generator never calls.
                Output::AskPeers => {}
                Output::Log(_) => {}
            }
        }
    }

    fn propose(&mut self, i: usize, id: [u8; 16], proposal: Proposal) {
        let (c, out) = Ceremony::propose(self.setup(i), id, proposal, self.now, &mut self.rng).expect("propose");
        self.nodes[i] = Some(c);
        self.apply(i, out);
    }

    /// Delivers everything queued, and what that causes, until the queue is empty. A
    /// trustee that has no ceremony yet joins on the proposal.
    fn deliver(&mut self) {
        while let Some((from, to, msg)) = self.queue.pop_front() {
            let Some(msg) = (self.tamper)(from, to, &msg) else { continue };
            self.record(&msg);
            let out = match self.nodes[to].as_mut() {
                Some(c) => c.receive(&msg, self.now, &mut self.rng).expect("an honest trustee takes the message"),
                None => {
                    let setup = self.setup(to);
                    match Ceremony::join(setup, &msg, self.auto_accept[to], self.now, &mut self.rng) {
                        Ok((c, out)) => {
                            self.nodes[to] = Some(c);
                            out
                        }
                        Err(_) => continue,
                    }
                }
            };
            self.apply(to, out);
        }
    }

    /// Runs an operator command at trustee `i`.
    fn operator(&mut self, i: usize, f: impl FnOnce(&mut Ceremony, u64, &mut ChaCha20Rng) -> Vec<Output>) {
        let c = self.nodes[i].as_mut().expect("trustee takes part");
        let out = f(c, self.now, &mut self.rng);
        self.apply(i, out);
    }

    /// Delivers, and while some trustee is not done, lets a phase's time run out.
    fn run(&mut self) {
        for _ in 0..20 {
            self.deliver();
            if self.nodes.iter().all(|c| c.as_ref().is_none_or(Ceremony::is_final)) {
                return;
            }
            self.now += u64::from(TIMEOUT_MS) + 1;
            for i in 0..self.nodes.len() {
                if let Some(c) = self.nodes[i].as_mut() {
                    let out = c.tick(self.now, &mut self.rng);
                    self.apply(i, out);
                }
            }
        }
        panic!("the seed ceremony did not end");
    }

    fn assert_installed(&self, name: &str) {
        assert!(self.installed.iter().all(Option::is_some), "{name}: not installed everywhere");
    }

    fn assert_aborted(&self, name: &str) {
        assert!(self.aborted.iter().all(|a| *a), "{name}: not aborted everywhere");
    }
}

fn trustee(i: usize) -> PartyId {
    trustee_keys()[i].trustee().clone()
}

/// A fresh key for epoch 7 among every fixed trustee, threshold `t`.
fn fresh(t: u16) -> Proposal {
    let players: Vec<PartyId> = (0..trustee_keys().len()).map(trustee).collect();
    Proposal {
        epoch: EpochId(7),
        threshold: t,
        players: players.clone(),
        dealers: players,
        plan: Plan::Fresh,
        valid_from: 1_767_225_600,
        destroy_at: 1_767_225_600 + 90 * 86_400,
        accept_timeout_ms: TIMEOUT_MS,
        phase_timeout_ms: TIMEOUT_MS,
        modes: escrow_crypto::Modes::PER_MESSAGE,
    }
}

/// Writes one ceremony's transcript: each message (signed, and its signed part for the
/// body target), each dealing's commitment, and the announcement if it installed.
fn put_transcript(s: &Seeds, name: &str, net: &Net, seen: &mut Vec<&'static str>) {
    let mut commitments = Vec::new();
    for (k, m) in net.transcript.iter().enumerate() {
        let v = m.verify(trustee_pins()).expect("transcript messages verify under the fixed pins");
        let file = format!("{name}-{k:02}-{}-{}", v.body.name(), v.sender);
        s.put("crypto_ceremony_message", &file, m.as_bytes());
        s.put("crypto_ceremony_body", &file, &m.as_bytes()[..m.as_bytes().len() - SIGNATURE_LEN]);
        // A cheater's altered dealing repeats its commitment: one seed for both.
        if let Body::Deal { commitment, .. } = &v.body {
            let bytes = commitment.to_bytes();
            if !commitments.contains(&bytes) {
                s.put("crypto_dealing_commitment", &format!("{name}-{k:02}-{}", v.sender), &bytes);
                commitments.push(bytes);
            }
        }
        if !seen.contains(&v.body.name()) {
            seen.push(v.body.name());
        }
    }
    if let Some(inst) = &net.installed[0] {
        let signed = inst.announcement.signed();
        s.put("crypto_announcement", &format!("{name}-signed"), &signed.to_bytes());
        s.put("crypto_announcement", &format!("{name}-body"), signed.body());
    }
}

/// Runs the seed ceremonies among the three fixed trustees and writes their
/// transcripts, so that every message kind, grievance and plan has a seed that
/// verifies under the targets' pins.
fn ceremonies(s: &Seeds) {
    let mut seen = Vec::new();

    // Honest: everyone accepts, deals, has nothing to complain about, and installs.
    let mut net = Net::new(0xce1);
    net.propose(0, [0xc1; 16], fresh(1));
    net.deliver();
    net.operator(0, |c, now, rng| c.execute(now, rng).expect("execute"));
    net.run();
    net.assert_installed("honest");
    put_transcript(s, "honest", &net, &mut seen);
    let old: EpochPublicKey = net.installed[0].as_ref().map(|i| i.key_set().clone()).expect("installed");
    let old_shares: Vec<Option<TrusteeKeyShare>> =
        net.installed.iter_mut().map(|i| i.as_mut().and_then(|i| i.share.take())).collect();

    // Reshare of that key among the same three at threshold 2, dealt by two old holders.
    let mut net = Net::new(0xce2);
    net.old_shares = old_shares;
    let mut p = fresh(2);
    p.dealers = vec![trustee(0), trustee(2)];
    p.plan = Plan::Reshare { previous: old, generation: 0, holders: (0..3).map(trustee).collect() };
    net.propose(1, [0xc2; 16], p);
    net.deliver();
    net.operator(1, |c, now, rng| c.execute(now, rng).expect("execute"));
    net.run();
    net.assert_installed("reshare");
    put_transcript(s, "reshare", &net, &mut seen);

    // A cheating dealer: trustee-1's share for trustee-2 does not decrypt (one byte of
    // its ciphertext flipped, re-signed by trustee-1). trustee-2 complains of a bad
    // share, trustee-1 reveals it, and everyone installs.
    let mut net = Net::new(0xce3);
    net.tamper = Box::new(|from, to, m| {
        let v = m.verify(trustee_pins()).expect("verifies");
        match v.body {
            Body::Deal { proposal, commitment, mut shares } if from == 1 && to == 2 => {
                if let Some(b) = shares.get_mut(2).and_then(|s| s.last_mut()) {
                    *b ^= 1;
                }
                let body = Body::Deal { proposal, commitment, shares };
                Some(SignedMessage::sign(&trustee_keys()[1], &v.ceremony, &body).expect("re-sign"))
            }
            _ => Some(m.clone()),
        }
    });
    net.propose(0, [0xc3; 16], fresh(2));
    net.deliver();
    net.operator(0, |c, now, rng| c.execute(now, rng).expect("execute"));
    net.run();
    net.assert_installed("cheat");
    put_transcript(s, "cheat", &net, &mut seen);

    // A lost dealing: trustee-2's dealing reaches nobody; the others complain that it
    // is missing, everyone disqualifies it, and the two other dealings (t + 1 = 1 are
    // needed at threshold 0) make the key everyone installs.
    let mut net = Net::new(0xce4);
    net.tamper = Box::new(|from, _, m| {
        let deal = matches!(m.verify(trustee_pins()).map(|v| v.body), Ok(Body::Deal { .. }));
        (!(deal && from == 2)).then(|| m.clone())
    });
    net.propose(0, [0xc4; 16], fresh(0));
    net.deliver();
    net.operator(0, |c, now, rng| c.execute(now, rng).expect("execute"));
    net.run();
    net.assert_installed("missing");
    put_transcript(s, "missing", &net, &mut seen);

    // Rejected: trustee-1's operator refuses the proposal.
    let mut net = Net::new(0xce5);
    net.auto_accept[1] = false;
    net.propose(2, [0xc5; 16], fresh(1));
    net.deliver();
    net.operator(1, |c, now, _| c.reject("not this quarter", now).expect("reject"));
    net.run();
    net.assert_aborted("reject");
    put_transcript(s, "reject", &net, &mut seen);

    // Aborted by the proposer's operator once everyone accepted.
    let mut net = Net::new(0xce6);
    net.propose(0, [0xc6; 16], fresh(1));
    net.deliver();
    net.operator(0, |c, now, _| c.abort("wrong epoch", now).expect("abort"));
    net.run();
    net.assert_aborted("abort");
    put_transcript(s, "abort", &net, &mut seen);

    // Timed out: trustee-2's operator never decides, and every trustee aborts.
    let mut net = Net::new(0xce7);
    net.auto_accept[2] = false;
    net.propose(1, [0xc7; 16], fresh(1));
    net.run();
    net.assert_aborted("timeout");
    put_transcript(s, "timeout", &net, &mut seen);

    seen.sort_unstable();
    let mut all = vec![
        "proposal",
        "acceptance",
        "rejection",
        "execute",
        "dealing",
        "complaints",
        "justification",
        "agreement",
        "abort",
    ];
    all.sort_unstable();
    assert_eq!(seen, all, "some message kind has no seed");
}
