//! Signed notes and checkpoints: published known answers, round trips, and every
//! way a note can be wrong.
//!
//! Known answers (keys, text and signatures) come from the Go reference
//! implementation's tests: golang/mod `sumdb/note/note_test.go` @
//! 02c991387e35f9e4c0a9b7ce137717055f8d716d (BSD-3-Clause), functions `TestSign`,
//! `TestNewVerifier`, `TestNewSigner` and `TestOpen`. The two example notes are from
//! the C2SP specifications: C2SP/C2SP `signed-note.md` @ 055287621bf3cd13ff4394418a3e8efc2d5e8ed7
//! and `tlog-checkpoint.md` @ 2793893976c835db049c194d8f2c4f946dcb70ba (CC BY 4.0);
//! their keys are not published, so they are checked for syntax only.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_log::note::{open_note, sign_note, MAX_NOTE_LEN};
use escrow_log::*;
use proptest::prelude::*;
use rand::SeedableRng;

const PETER_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str =
    "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

const C2SP_NOTE: &str = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
const C2SP_CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";

fn rng() -> rand_chacha::ChaCha20Rng {
    rand_chacha::ChaCha20Rng::seed_from_u64(0x10c)
}

fn peter() -> CheckpointVerifier {
    PETER_VKEY.parse().unwrap()
}

fn signer(name: &str) -> CheckpointSigner {
    CheckpointSigner::generate(name, &mut rng()).unwrap()
}

fn sample() -> (CheckpointSigner, Checkpoint, String) {
    let s = signer("trustee-1.example/log");
    let c = Checkpoint::new("trustee-1.example/log", 12_345, leaf_hash(b"root")).unwrap();
    let note = s.sign(&c);
    (s, c, note)
}

// ---- Go known answers -------------------------------------------------------------

#[test]
fn go_signer_key_signs_the_published_note() {
    let s = CheckpointSigner::from_bytes(PETER_SKEY.as_bytes()).unwrap();
    assert_eq!(s.name(), "PeterNeumann");
    assert_eq!(s.verifier().to_string(), PETER_VKEY);
    assert_eq!(s.verifier().key_id(), 0xc74f20a3);
    assert_eq!(&*s.to_bytes(), PETER_SKEY.as_bytes());
    assert_eq!(sign_note(TEXT, &s).unwrap(), format!("{TEXT}\n{PETER_SIG}"));
}

#[test]
fn go_open_accepts_and_ignores_as_published() {
    let enoch: CheckpointVerifier = ENOCH_VKEY.parse().unwrap();
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    // Each key finds its own line and ignores the other.
    assert_eq!(open_note(both.as_bytes(), &peter()).unwrap(), TEXT);
    assert_eq!(open_note(both.as_bytes(), &enoch).unwrap(), TEXT);
    // Duplicated verified and (corrupt) unknown signatures: accepted for Peter.
    let corrupt_enoch = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let dup = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{corrupt_enoch}");
    assert_eq!(open_note(dup.as_bytes(), &peter()).unwrap(), TEXT);
}

#[test]
fn go_open_refusals() {
    let open = |s: String| open_note(s.as_bytes(), &peter()).map(str::to_owned);
    // Invalid signature by the known key.
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(matches!(open(bad), Err(LogError::BadSignature { .. })));
    // Too many signatures.
    assert!(matches!(open(format!("{TEXT}\n{}", PETER_SIG.repeat(101))), Err(LogError::MalformedNote(_))));
    // Misnamed, and wrong key hash: not this key's signature, so none at all.
    let misnamed = format!("{TEXT}\n{}", PETER_SIG.replace("PeterNeumann", "CarmenSandiego"));
    assert!(matches!(open(misnamed), Err(LogError::NoSignature { .. })));
    let wrong_hash = format!("{TEXT}\n{}", PETER_SIG.replace("x08g", "xxxx"));
    assert!(matches!(open(wrong_hash), Err(LogError::NoSignature { .. })));
    // No verifier knows any of the signatures.
    let enoch_only = format!("{TEXT}\n{ENOCH_SIG}");
    assert_eq!(open(enoch_only), Err(LogError::NoSignature { key: "PeterNeumann+c74f20a3".into() }));
    // Invalid encoded message syntax (Go's badMsgs).
    let bad_msgs = [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for msg in bad_msgs {
        assert!(matches!(open(msg.clone()), Err(LogError::MalformedNote(_))), "{msg:?}");
    }
    let mut not_utf8 = vec![0xff];
    not_utf8.extend_from_slice(format!("{TEXT}\n{PETER_SIG}").as_bytes());
    assert_eq!(open_note(&not_utf8, &peter()), Err(LogError::NotUtf8(0)));
}

/// Go's `TestNewVerifier` / `TestNewSigner`: every proper substring and every
/// single-byte increment of a key must be refused.
#[test]
fn go_key_manglings_are_refused() {
    fn mangle(key: &str, parses: impl Fn(&[u8]) -> bool) {
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if (i, j) != (0, b.len()) {
                    assert!(!parses(&b[i..j]), "substring {:?}", String::from_utf8_lossy(&b[i..j]));
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            assert!(!parses(&m), "mangled {:?}", String::from_utf8_lossy(&m));
        }
        assert!(parses(b));
    }
    mangle(PETER_VKEY, |b| std::str::from_utf8(b).is_ok_and(|s| s.parse::<CheckpointVerifier>().is_ok()));
    mangle(PETER_SKEY, |b| CheckpointSigner::from_bytes(b).is_ok());
    // Wrong key length and unknown algorithm, each with a matching key hash.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(bad.parse::<CheckpointVerifier>().is_err(), "{bad}");
    }
}

// ---- C2SP examples (syntax only: their keys are not published) -----------------------

#[test]
fn c2sp_examples_parse_but_are_not_signed_by_other_keys() {
    let salvatore = signer("quasimodo.example/salvatore").verifier();
    assert!(matches!(open_note(C2SP_NOTE.as_bytes(), &salvatore), Err(LogError::NoSignature { .. })));
    let sofa = signer("example.com/behind-the-sofa").verifier();
    assert!(matches!(sofa.verify(C2SP_CHECKPOINT.as_bytes()), Err(LogError::NoSignature { .. })));
}

#[test]
fn our_checkpoint_text_has_the_c2sp_shape() {
    let root: Hash = base64_root("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
    let c = Checkpoint::new("example.com/behind-the-sofa", 20_852_163, root).unwrap();
    let body = C2SP_CHECKPOINT.split("\n\n").next().unwrap();
    assert_eq!(c.body(), format!("{body}\n"));
    let note = signer("example.com/behind-the-sofa").sign(&c);
    assert!(note.starts_with(&format!("{body}\n\n\u{2014} example.com/behind-the-sofa ")));
    assert!(note.ends_with("=\n") && note.lines().count() == 5);
}

fn base64_root(s: &str) -> Hash {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap().try_into().unwrap()
}

// ---- round trips -------------------------------------------------------------------

#[test]
fn sign_then_verify_round_trips() {
    let (s, c, note) = sample();
    assert_eq!(s.verifier().verify(note.as_bytes()).unwrap(), c);
    assert_eq!(s.verifier().verify_for_origin(note.as_bytes(), "trustee-1.example/log").unwrap(), c);
    assert_eq!(
        s.verifier().verify_for_origin(note.as_bytes(), "trustee-2.example/log"),
        Err(LogError::OriginMismatch { expected: "trustee-2.example/log".into(), got: "trustee-1.example/log".into() })
    );
    // Keys survive their text forms; signing is deterministic (RFC 8032).
    let again = CheckpointSigner::from_bytes(&s.to_bytes()).unwrap();
    assert_eq!(again.sign(&c), note);
    let v: CheckpointVerifier = s.verifier().to_string().parse().unwrap();
    assert_eq!(v, s.verifier());
    // The empty tree and the largest size are representable.
    for (size, root) in [(0, EMPTY_ROOT), (u64::MAX, [0xff; 32])] {
        let c = Checkpoint::new("o", size, root).unwrap();
        assert_eq!(signer("o").verifier().verify(signer("o").sign(&c).as_bytes()).unwrap(), c);
    }
}

#[test]
fn cosignatures_by_other_keys_are_ignored() {
    let (s, c, note) = sample();
    let witness = CheckpointSigner::generate("witness.example", &mut rand::rngs::OsRng).unwrap();
    let witnessed = sign_note(&c.body(), &witness).unwrap();
    let witness_line = witnessed.rsplit_once("\n\n").unwrap().1;
    let both = format!("{note}{witness_line}");
    assert_eq!(s.verifier().verify(both.as_bytes()).unwrap(), c);
    assert_eq!(witness.verifier().verify(both.as_bytes()).unwrap(), c);
}

#[test]
fn secret_key_debug_is_redacted() {
    let s = signer("trustee-1.example/log");
    let secret = String::from_utf8(s.to_bytes().to_vec()).unwrap();
    let secret_b64 = secret.rsplit('+').next().unwrap();
    let debug = format!("{s:?}");
    assert!(debug.contains("<redacted>") && debug.contains("trustee-1.example/log"), "{debug}");
    assert!(!debug.contains(secret_b64), "{debug}");
    assert!(!debug.contains(&secret_b64[..8]), "{debug}");
}

// ---- negatives: every way a checkpoint note can be wrong ---------------------------

fn err(note: &str) -> LogError {
    let (s, _, _) = sample();
    s.verifier().verify(note.as_bytes()).unwrap_err()
}

#[test]
fn wrong_key_is_refused() {
    let (_, c, note) = sample();
    // Same name, another key: another key ID, so the line is not this key's.
    let other = CheckpointSigner::generate("trustee-1.example/log", &mut rand::rngs::OsRng).unwrap();
    assert!(matches!(other.verifier().verify(note.as_bytes()), Err(LogError::NoSignature { .. })));
    assert!(matches!(
        signer("trustee-2.example/log").verifier().verify(note.as_bytes()),
        Err(LogError::NoSignature { .. })
    ));
    // Another key's signature presented under our name and key ID: forged, refused.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let forged = other.sign(&c);
    let mut blob = b64.decode(forged.trim_end().rsplit_once(' ').unwrap().1).unwrap();
    let verifier = sample().0.verifier();
    blob[..4].copy_from_slice(&verifier.key_id().to_be_bytes());
    let (ours, _) = note.trim_end().rsplit_once(' ').unwrap();
    let forged_under_our_id = format!("{ours} {}\n", b64.encode(&blob));
    assert_eq!(
        err(&forged_under_our_id),
        LogError::BadSignature { key: format!("trustee-1.example/log+{:08x}", verifier.key_id()) }
    );
}

#[test]
fn altered_body_is_refused() {
    let (_, c, note) = sample();
    let root_b64 = c.body().lines().nth(2).unwrap().to_owned();
    let altered_root = root_b64.replacen(&root_b64[..1], if &root_b64[..1] == "A" { "B" } else { "A" }, 1);
    for altered in [
        note.replace("trustee-1.example/log\n", "trustee-9.example/log\n"),
        note.replace("\n12345\n", "\n12346\n"),
        note.replace("\n12345\n", "\n1234\n"),
        note.replace(&root_b64, &altered_root),
    ] {
        assert_ne!(altered, note);
        assert!(matches!(err(&altered), LogError::BadSignature { .. }), "{altered:?}");
    }
}

#[test]
fn broken_note_syntax_is_refused() {
    let (_, _, note) = sample();
    let sig_line = note.rsplit_once("\n\n").unwrap().1;
    let cases = [
        ("missing final newline", note.trim_end_matches('\n').to_owned()),
        ("no blank line", note.replacen("\n\n", "\n", 1)),
        ("body without trailing newline", format!("trustee-1.example/log\n12345\nAAAA\n{sig_line}")),
        ("hyphen instead of em dash", note.replace('\u{2014}', "-")),
        ("two spaces after the dash", note.replace("\u{2014} ", "\u{2014}  ")),
        ("space at end of signature line", note.replace("=\n", "= \n")),
        ("carriage return", note.replace("\n12345\n", "\n12345\r\n")),
        ("tab", note.replace("trustee-1", "trustee\t1")),
        ("truncated signature (not base64)", format!("{}\n", &note[..note.len() - 2])),
        ("empty signature", note.replace(sig_line, "\u{2014} trustee-1.example/log \n")),
    ];
    for (what, case) in cases {
        assert!(matches!(err(&case), LogError::MalformedNote(_)), "{what}: {:?}", err(&case));
    }
    // Truncated to whole base64 groups: decodes, but 64 bytes are not a signature.
    let cut = note.trim_end_matches('\n');
    let truncated = format!("{}\n", &cut[..cut.len() - 4]);
    assert!(matches!(err(&truncated), LogError::BadSignature { .. }));
    assert!(matches!(err(&format!("{note}\u{2014} x\n")), LogError::MalformedNote(_)));
    let mut huge = note.clone();
    huge.push_str(&"\u{2014} other AAAAAAAA\n".repeat(MAX_NOTE_LEN / 16));
    assert!(matches!(err(&huge), LogError::NoteTooLarge { max: 16384, .. }));
    let (s, _, _) = sample();
    let mut bytes = note.into_bytes();
    bytes[3] = 0xc0;
    assert!(matches!(s.verifier().verify(&bytes), Err(LogError::NotUtf8(3))));
}

/// Bodies that are validly signed but are not checkpoints (made with the generic
/// note signer): refused after the signature check, naming the bad line.
#[test]
fn malformed_checkpoint_bodies_are_refused() {
    let (s, c, _) = sample();
    let root = c.body().lines().nth(2).unwrap().to_owned();
    let mut noncanonical = root.clone();
    // The last character before '=' carries two unused bits; set one.
    let last = noncanonical.len() - 2;
    let ch = noncanonical.as_bytes()[last];
    noncanonical.replace_range(last..last + 1, &((ch + 1) as char).to_string());
    let bodies = [
        format!("trustee-1.example/log \n12345\n{root}\n"),
        format!(" trustee-1.example/log\n12345\n{root}\n"),
        format!("trustee-1.example/log\n 12345\n{root}\n"),
        format!("trustee-1.example/log\n12345 \n{root}\n"),
        format!("trustee-1.example/log\n012345\n{root}\n"),
        format!("trustee-1.example/log\n+12345\n{root}\n"),
        format!("trustee-1.example/log\n-1\n{root}\n"),
        format!("trustee-1.example/log\n18446744073709551616\n{root}\n"),
        format!("trustee-1.example/log\n12345\n{root} \n"),
        format!("trustee-1.example/log\n12345\n{}\n", root.trim_end_matches('=')),
        format!("trustee-1.example/log\n12345\n{noncanonical}\n"),
        format!("trustee-1.example/log\n12345\n{}\n", &root[..40]),
        "trustee-1.example/log\n12345\nAAAA\n".to_owned(),
        format!("trustee-1.example/log\n12345\n{root}\nextension line\n"),
        format!("trustee-1.example/log\n\n12345\n{root}\n"),
        "trustee-1.example/log\n12345\n".to_owned(),
        "trustee-1.example/log\n".to_owned(),
        format!("trustee-1.example/log\u{85}\n12345\n{root}\n"),
    ];
    for body in bodies {
        let note = sign_note(&body, &s).unwrap();
        assert!(matches!(s.verifier().verify(note.as_bytes()), Err(LogError::MalformedCheckpoint(_))), "{body:?}");
    }
    // The generic signer refuses text that no note may carry.
    for text in ["no newline", "control \x07 char\n", ""] {
        assert!(sign_note(text, &s).is_err(), "{text:?}");
    }
}

#[test]
fn bad_names_and_origins_are_refused_at_construction() {
    for name in ["", "two words", "a+b", "tab\there", "nl\n"] {
        assert!(CheckpointSigner::generate(name, &mut rng()).is_err(), "{name:?}");
    }
    for origin in ["", "ctl\x01", "new\nline", " lead", "trail "] {
        assert!(Checkpoint::new(origin, 1, EMPTY_ROOT).is_err(), "{origin:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Changing any one byte of a signed checkpoint makes verification fail.
    #[test]
    fn any_single_byte_change_is_refused(pos in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let (s, _, note) = sample();
        let mut bytes = note.into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(delta);
        prop_assert!(s.verifier().verify(&bytes).is_err());
    }

    /// Arbitrary input never panics and is never accepted.
    #[test]
    fn garbage_is_refused(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let (s, _, _) = sample();
        prop_assert!(s.verifier().verify(&bytes).is_err());
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(text.parse::<CheckpointVerifier>().is_err());
        prop_assert!(CheckpointSigner::from_bytes(&bytes).is_err());
    }
}
