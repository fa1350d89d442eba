//! Witness formats against published bytes: cosignatures, vkeys, add-checkpoint
//! bodies and policies; then every answer of the witness decision.
//!
//! Sources of the known answers:
//! - `tests/vectors/witness-v1.txt`, written by `witness-v1.py` with Python's
//!   `cryptography` Ed25519 from the C2SP texts, independently of this crate.
//! - C2SP/C2SP `tlog-cosignature.md` @ 01194db11950a0ae2b2b2401afa0a4063a822458 and
//!   `tlog-witness.md` @ 055270b5928827a49ee84620903e141c2e97d79f (CC BY 4.0): the
//!   example checkpoint, cosigned message, cosignature line, request and response.
//!   Their keys are not published, so those lines are checked for layout (key ID,
//!   timestamp, lengths) and the request body for an exact round trip.
//! - transparency-dev/formats `note/note_cosigv1_test.go` @
//!   091ce41666c09683aa9350785e572be27f0c026d (`TestCoSigV1NewVerifier`,
//!   `TestCosignatureTimestamp`) and `policy/tlog_policy_test.go` @
//!   56379ca20eaa5dc1b3c01c24e13ccb44b9ac929c (its Ed25519 fixtures, `TestUnmarshal`,
//!   `TestUnmarshal_Errors`, `TestSatisfied`) (Apache-2.0).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use escrow_log::cosignature::{attach_cosignatures, cosignature_message, verify_cosignatures};
use escrow_log::witness::{AddCheckpoint, Latest, LogKeys, Refusal};
use escrow_log::*;
use rand::SeedableRng;

fn vectors() -> BTreeMap<String, String> {
    include_str!("vectors/witness-v1.txt")
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_owned(), v.replace("\\n", "\n").replace("\\\\", "\\"))
        })
        .collect()
}

// ---- independent known answers -----------------------------------------------------

#[test]
fn python_keys_cosignatures_and_bodies_are_reproduced_byte_for_byte() {
    let v = vectors();
    let log = CheckpointSigner::from_bytes(v["log_skey"].as_bytes()).unwrap();
    assert_eq!(log.verifier().to_string(), v["log_vkey"]);
    let witness = WitnessSigner::from_bytes(v["witness_skey"].as_bytes()).unwrap();
    assert_eq!(&*witness.to_bytes(), v["witness_skey"].as_bytes());
    assert_eq!(witness.verifier().to_string(), v["witness_vkey"]);
    let vkey: WitnessVerifier = v["witness_vkey"].parse().unwrap();
    assert_eq!(vkey, witness.verifier());

    let t: u64 = v["timestamp"].parse().unwrap();
    let log_key = log.verifier();
    for (note, line, time) in [("note3", "cosignature3", t), ("note7", "cosignature7", t + 60)] {
        let cp = log_key.verify(v[note].as_bytes()).unwrap();
        // Our log signature and our cosignature are the Python ones, byte for byte.
        assert_eq!(log.sign(&cp), v[note]);
        assert_eq!(witness.cosign(&cp.body(), time).unwrap(), v[line]);
        let cosigned = attach_cosignatures(&v[note], &v[line]).unwrap();
        let found = verify_cosignatures(cosigned.as_bytes(), std::slice::from_ref(&vkey)).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].timestamp, time);
    }

    for body in ["body_first", "body_next"] {
        let req = AddCheckpoint::parse(v[body].as_bytes()).unwrap();
        assert_eq!(req.to_body(), v[body]);
    }
    // The proof in body_next is the RFC 6962 consistency proof from 3 to 7.
    let next = AddCheckpoint::parse(v["body_next"].as_bytes()).unwrap();
    let old = log_key.verify(v["note3"].as_bytes()).unwrap();
    let new = log_key.verify(v["note7"].as_bytes()).unwrap();
    verify_consistency(3, 7, old.root(), new.root(), &next.proof).unwrap();
    let mut tree = MerkleTree::new();
    for i in 0..7 {
        tree.append(leaf_hash(format!("entry {i}").as_bytes()));
    }
    assert_eq!(tree.consistency_proof(3, 7).unwrap(), next.proof);
}

// ---- the specs' examples ------------------------------------------------------------

const SPEC_CHECKPOINT: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";

#[test]
fn the_cosignature_spec_example_message_and_line_layout() {
    // tlog-cosignature.md, "Ed25519 signed message".
    assert_eq!(
        cosignature_message(1679315147, "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"),
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
    // tlog-cosignature.md, the example cosignature line: key ID, then the timestamp
    // of the example message, then 64 signature bytes.
    let blob = B64
        .decode(
            "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==",
        )
        .unwrap();
    assert_eq!(blob.len(), 4 + 8 + 64);
    assert_eq!(blob[..4], [0x8d, 0x66, 0xcf, 0x3f]);
    assert_eq!(u64::from_be_bytes(blob[4..12].try_into().unwrap()), 1679315147);
    // transparency-dev/formats TestCosignatureTimestamp.
    let blob = B64
        .decode(
            "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==",
        )
        .unwrap();
    assert_eq!(u64::from_be_bytes(blob[4..12].try_into().unwrap()), 1727964367);
}

#[test]
fn the_witness_spec_example_request_round_trips_and_its_response_attaches() {
    let body = format!(
        "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\n{SPEC_CHECKPOINT}"
    );
    let req = AddCheckpoint::parse(body.as_bytes()).unwrap();
    assert_eq!(req.old_size, 20852014);
    assert_eq!(req.proof.len(), 4);
    assert_eq!(req.checkpoint, SPEC_CHECKPOINT);
    assert_eq!(req.to_body(), body);
    // Its origin is unknown to a witness that does not list it: 404, before any key.
    assert!(
        matches!(req.verify(&LogKeys::new()), Err(Refusal::UnknownOrigin(o)) if o == "example.com/behind-the-sofa")
    );

    let response = "\u{2014} witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n\u{2014} witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==\n\u{2014} witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n";
    let joined = attach_cosignatures(SPEC_CHECKPOINT, response).unwrap();
    assert!(joined.ends_with(response));
    // Lines from keys the verifier does not know are ignored.
    let stranger = WitnessSigner::generate("witness.example/w1", &mut rand::rngs::OsRng).unwrap().verifier();
    assert_eq!(verify_cosignatures(joined.as_bytes(), &[stranger]).unwrap(), vec![]);
}

#[test]
fn published_vkeys_parse_by_type() {
    // TestCoSigV1NewVerifier: a native cosignature/v1 (0x04) verifier key...
    let native: WitnessVerifier =
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2".parse().unwrap();
    assert_eq!(native.key_id(), 0xda77ade7);
    assert!("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
        .parse::<CheckpointVerifier>()
        .is_err());
    // ...and a plain Ed25519 (0x01) one, a log key, not a witness key.
    let plain = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6";
    assert!(plain.parse::<CheckpointVerifier>().is_ok());
    assert!(plain.parse::<WitnessVerifier>().is_err());
    for bad in [
        "bananas.sigstore.dev+12344556",
        "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
        "rekor.sigstore.dev+12345678+AwEB",
    ] {
        assert!(bad.parse::<WitnessVerifier>().is_err(), "{bad}");
    }
    // The tlog-policy fixtures: a Go `note.GenerateKey` signer key cosigns under
    // type 0x04 with the same public key as its 0x01 vkey.
    let w1 =
        WitnessSigner::from_bytes(b"PRIVATE+KEY+Wit1+55ee4561+AeadRiG7XM4XiieCHzD8lxysXMwcViy5nYsoXURWGrlE").unwrap();
    let as_log: CheckpointVerifier = "Wit1+55ee4561+AVhZSmQj9+SoL+p/nN0Hh76xXmF7QcHfytUrI1XfSClk".parse().unwrap();
    let w1_vkey = w1.verifier().to_string();
    assert_eq!(
        B64.decode(w1_vkey.splitn(3, '+').nth(2).unwrap()).unwrap()[1..],
        B64.decode("AVhZSmQj9+SoL+p/nN0Hh76xXmF7QcHfytUrI1XfSClk").unwrap()[1..]
    );
    assert_eq!(as_log.name(), w1.name());
    assert_ne!(w1.verifier().key_id(), as_log.key_id(), "key IDs differ by type byte");
}

// ---- policies -----------------------------------------------------------------------

fn keys(n: usize) -> Vec<WitnessSigner> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(0x50);
    (0..n).map(|i| WitnessSigner::generate(&format!("w{i}.example"), &mut rng).unwrap()).collect()
}

fn log_signer() -> CheckpointSigner {
    CheckpointSigner::generate("example.com/log", &mut rand_chacha::ChaCha20Rng::seed_from_u64(0x51)).unwrap()
}

#[test]
fn policies_parse_like_the_spec_and_the_go_reference() {
    let w = keys(6);
    let v = |i: usize| w[i].verifier().to_string();
    let log = log_signer().verifier().to_string();
    let spec = format!(
        "log {log}\n\nwitness X1 {}\nwitness X2 {}\nwitness X3 {}\ngroup X-witnesses 2 X1 X2 X3\n\nwitness Y1 {}\nwitness Y2 {}\nwitness Y3 {}\ngroup Y-witnesses any Y1 Y2 Y3\n\ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
        v(0), v(1), v(2), v(3), v(4), v(5)
    );
    let p: Policy = spec.parse().unwrap();
    assert_eq!(p.logs().len(), 1);
    assert_eq!(p.witnesses().len(), 6);
    assert_eq!(p.quorum_name(), "group X-and-Y");
    let q = |flags: [u8; 6]| p.quorum_met(&flags.map(|f| f == 1));
    assert!(q([1, 1, 0, 1, 0, 0]));
    assert!(q([0, 1, 1, 0, 0, 1]));
    assert!(!q([1, 0, 0, 1, 1, 1]), "one X is not two");
    assert!(!q([1, 1, 1, 0, 0, 0]), "no Y");

    for ok in [
        "quorum none\n".to_owned(),
        format!(
            "\n# comment\n\t # another comment\n\twitness \t w1  {}   https://w1.example.com/  \n\n  quorum\tw1",
            v(0)
        ),
        format!("log {log} https://log.example.com/\nwitness w1 {}\nquorum w1\n", v(0)),
        format!("witness all {}\nwitness any {}\ngroup group 2 all any\nquorum group\n", v(0), v(1)),
    ] {
        ok.parse::<Policy>().unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
    let plain = "Wit1+55ee4561+AVhZSmQj9+SoL+p/nN0Hh76xXmF7QcHfytUrI1XfSClk";
    for bad in [
        "quorum none\n\x01".to_owned(),
        "quorum none\r\n".to_owned(),
        "quibble w1\nquorum none\n".to_owned(),
        format!("witness w1 {} https://w1.example.com/ # comment\nquorum w1\n", v(0)),
        "log\nquorum none\n".to_owned(),
        "log garbage\nquorum none\n".to_owned(),
        format!("log {log}\nlog {log} https://log.example.com/\nquorum none\n"),
        "witness w1\nquorum none\n".to_owned(),
        format!("witness w1 {plain}\nquorum w1\n"),
        format!("witness none {}\nquorum none\n", v(0)),
        format!("witness w1 {}\nwitness w1 {}\nquorum w1\n", v(0), v(1)),
        format!("witness w1 {}\ngroup w1 any w1\nquorum w1\n", v(0)),
        format!("witness w1 {}\ngroup g1 1\nquorum w1\n", v(0)),
        format!("witness w1 {}\ngroup none any w1\nquorum none\n", v(0)),
        format!("witness w1 {}\ngroup g1 0 w1\nquorum g1\n", v(0)),
        format!("witness w1 {}\ngroup g1 -1 w1\nquorum g1\n", v(0)),
        format!("witness w1 {}\ngroup g1 01 w1\nquorum g1\n", v(0)),
        format!("witness w1 {}\ngroup g1 2 w1\nquorum g1\n", v(0)),
        format!("witness w1 {}\ngroup g1 any w2\nquorum g1\n", v(0)),
        format!("group g1 any w1\nwitness w1 {}\nquorum g1\n", v(0)),
        format!("witness w1 {}\ngroup g1 any none w1\nquorum g1\n", v(0)),
        format!("witness w1 {}\ngroup g1 all w1 w1\nquorum g1\n", v(0)),
        format!("witness w1 {}\nwitness w2 {}\ngroup g1 any w1 w2\ngroup g2 any w1\nquorum g1\n", v(0), v(1)),
        format!("witness w1 {}\n", v(0)),
        format!("witness w1 {}\nquorum w1\nquorum w1\n", v(0)),
        "quorum unknown\n".to_owned(),
        format!("quorum w1\nwitness w1 {}\n", v(0)),
        "quorum\n".to_owned(),
    ] {
        assert!(matches!(bad.parse::<Policy>(), Err(LogError::MalformedPolicy { .. })), "{bad:?}");
    }
    // One public key under two names is a duplicate (tlog-policy "Public key
    // representation"): w0's key re-wrapped under another name, with its key ID.
    let v0 = v(0);
    let key64 = v0.splitn(3, '+').nth(2).unwrap();
    let raw = B64.decode(key64).unwrap();
    let id: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest([&b"impostor.example\n"[..], &raw].concat()).into();
    let impostor = format!("impostor.example+{}+{key64}", hex::encode(&id[..4]));
    impostor.parse::<WitnessVerifier>().expect("a well-formed vkey of the same key");
    let twice = format!("witness a {v0}\nwitness b {impostor}\nquorum a\n");
    assert!(matches!(twice.parse::<Policy>(), Err(LogError::MalformedPolicy { line: 2, .. })), "{twice}");
    // A signer key cannot simply be renamed: its key ID binds the name.
    let w0 = WitnessSigner::from_bytes(&w[0].to_bytes()).unwrap();
    let dup = w0.to_bytes();
    let renamed = String::from_utf8(dup.to_vec()).unwrap().replace("w0.example", "impostor.example");
    let renamed = WitnessSigner::from_bytes(renamed.as_bytes());
    assert!(renamed.is_err(), "the key ID binds the name; a renamed key must be re-derived");
}

#[test]
fn high_bit_bytes_are_opaque_in_comments_and_refused_in_keys_and_names() {
    let w = keys(2);
    let v0 = w[0].verifier().to_string();
    // A Latin-1 "café" (0xE9 is not UTF-8 on its own) and a stray 0xFF in comments.
    let text =
        [&b"# caf\xe9 witnesses\n  # \xff\xfe\n"[..], format!("witness w1 {v0}\nquorum w1\n").as_bytes()].concat();
    let p = Policy::from_bytes(&text).unwrap();
    assert_eq!(p.witnesses().len(), 1);
    assert_eq!(p, format!("witness w1 {v0}\nquorum w1\n").parse::<Policy>().unwrap());
    // UTF-8 text parses alike through both doors.
    let utf8 = format!("# café\nwitness w1 {v0}\nquorum w1\n");
    assert_eq!(Policy::from_bytes(utf8.as_bytes()).unwrap(), utf8.parse::<Policy>().unwrap());
    // The same byte in a name, a key or a keyword is refused, naming the line.
    let v1 = w[1].verifier().to_string();
    for (bad, line) in [
        ([&b"# ok\nwitness w\xe9 "[..], v0.as_bytes(), b"\nquorum none\n"].concat(), 2),
        ([&b"witness w1 "[..], v0.as_bytes(), b"\xe9\nquorum w1\n"].concat(), 1),
        ([format!("witness w1 {v0}\nwitness w2 {v1}\ngroup g").as_bytes(), b"\xff any w1 w2\nquorum g\n"].concat(), 3),
        (b"quorum none \xe9\n".to_vec(), 1),
    ] {
        match Policy::from_bytes(&bad) {
            Err(LogError::MalformedPolicy { line: l, reason }) => {
                assert_eq!(l, line, "{reason}");
                assert_eq!(reason, "not UTF-8 (bytes 0x80-0xFF are allowed only in comments)");
            }
            other => panic!("{}: {other:?}", String::from_utf8_lossy(&bad)),
        }
    }
    // Control characters stay refused in comments too, next to a high-bit byte.
    assert!(matches!(Policy::from_bytes(b"# \xe9\x01\nquorum none\n"), Err(LogError::MalformedPolicy { line: 1, .. })));
}

#[test]
fn a_policy_verifies_the_log_signature_and_counts_cosignatures() {
    let w = keys(3);
    let log = log_signer();
    let policy: Policy = format!(
        "log {}\nwitness w1 {}\nwitness w2 {}\nwitness w3 {}\ngroup inner any w2 w3\ngroup outer all w1 inner\nquorum outer\n",
        log.verifier(),
        w[0].verifier(),
        w[1].verifier(),
        w[2].verifier()
    )
    .parse()
    .unwrap();
    let cp = Checkpoint::new("example.com/log", 42, [0; 32]).unwrap();
    let note = log.sign(&cp);
    let cosign = |which: &[usize]| {
        let lines: String =
            which.iter().map(|i| w[*i].cosign(&cp.body(), 1_700_000_000 + *i as u64).unwrap()).collect();
        attach_cosignatures(&note, &lines).unwrap()
    };
    // TestSatisfied's table.
    for (which, ok) in [(&[0, 1, 2][..], true), (&[0, 2], true), (&[0], false), (&[1, 2], false), (&[], false)] {
        let got = policy.verify(cosign(which).as_bytes());
        assert_eq!(got.is_ok(), ok, "{which:?}: {got:?}");
        if let Err(e) = got {
            assert!(matches!(e, LogError::QuorumNotMet { .. }), "{e}");
        }
    }
    let witnessed = policy.verify(cosign(&[2, 0]).as_bytes()).unwrap();
    assert_eq!(witnessed.checkpoint, cp);
    assert_eq!(witnessed.cosigners, vec![("w1".to_owned(), 1_700_000_000), ("w3".to_owned(), 1_700_000_002)]);

    // A forged line under a listed witness's key fails the whole note.
    let good = cosign(&[0, 1]);
    let forged_line = w[2].cosign("example.com/log\n43\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 1).unwrap();
    let forged = attach_cosignatures(&good, &forged_line).unwrap();
    assert!(matches!(policy.verify(forged.as_bytes()), Err(LogError::BadSignature { .. })));
    // A checkpoint from a log not in the policy.
    let other = CheckpointSigner::generate("example.com/other", &mut rand::rngs::OsRng).unwrap();
    let foreign = other.sign(&Checkpoint::new("example.com/other", 1, [0; 32]).unwrap());
    assert!(matches!(policy.verify(foreign.as_bytes()), Err(LogError::UnknownLog { .. })));
    // The right origin signed by another key.
    let impostor = CheckpointSigner::generate("example.com/log", &mut rand::rngs::OsRng).unwrap();
    let lines: String = (0..3).map(|i| w[i].cosign(&cp.body(), 5).unwrap()).collect();
    let forged_log = attach_cosignatures(&impostor.sign(&cp), &lines).unwrap();
    assert!(matches!(policy.verify(forged_log.as_bytes()), Err(LogError::NoSignature { .. })));
}

// ---- the witness decision ----------------------------------------------------------

struct Log {
    signer: CheckpointSigner,
    tree: MerkleTree,
}

impl Log {
    fn new(origin: &str) -> Self {
        Log { signer: CheckpointSigner::generate(origin, &mut rand::rngs::OsRng).unwrap(), tree: MerkleTree::new() }
    }
    fn grow(&mut self, n: usize) {
        for _ in 0..n {
            let i = self.tree.size();
            self.tree.append(leaf_hash(format!("{} {i}", self.signer.name()).as_bytes()));
        }
    }
    fn note(&self) -> String {
        let size = self.tree.size();
        self.signer.sign(&Checkpoint::new(self.signer.name(), size, self.tree.root(size).unwrap()).unwrap())
    }
    fn request(&self, old: u64) -> AddCheckpoint {
        let proof = if old == 0 { vec![] } else { self.tree.consistency_proof(old, self.tree.size()).unwrap() };
        AddCheckpoint { old_size: old, proof, checkpoint: self.note() }
    }
    fn latest(&self) -> Latest {
        Latest { size: self.tree.size(), root: self.tree.root(self.tree.size()).unwrap() }
    }
}

fn keys_for(log: &Log) -> LogKeys {
    let mut keys = LogKeys::new();
    keys.add(log.signer.name(), log.signer.verifier());
    keys
}

#[test]
fn every_refusal_has_its_status() {
    let mut log = Log::new("example.com/log");
    log.grow(5);
    let keys = keys_for(&log);
    let first = log.request(0).verify(&keys).unwrap();
    first.check_against(None).unwrap();
    let at5 = log.latest();
    log.grow(3);

    // 200: the next checkpoint with a good proof from the cosigned size.
    log.request(5).verify(&keys).unwrap().check_against(Some(&at5)).unwrap();
    // 409: a stale old size, with the latest size to retry from.
    let stale = log.request(3).verify(&keys).unwrap().check_against(Some(&at5));
    assert!(matches!(stale, Err(Refusal::Conflict { latest: 5, .. })), "{stale:?}");
    // 409: the same size with another root.
    let mut fork = Log::new("example.com/log");
    fork.signer = CheckpointSigner::from_bytes(&log.signer.to_bytes()).unwrap();
    fork.tree = MerkleTree::new();
    for i in 0..5 {
        fork.tree.append(leaf_hash(format!("forked {i}").as_bytes()));
    }
    let same_size = fork.request(0);
    let same_size = AddCheckpoint { old_size: 5, ..same_size }.verify(&keys).unwrap().check_against(Some(&at5));
    assert!(matches!(same_size, Err(Refusal::Conflict { latest: 5, .. })), "{same_size:?}");
    // 422: a proof that does not lead from the cosigned root.
    fork.grow(3);
    let bad_proof = fork.request(5).verify(&keys).unwrap().check_against(Some(&at5));
    assert!(matches!(bad_proof, Err(Refusal::BadProof(_))), "{bad_proof:?}");
    let mut truncated = log.request(5);
    truncated.proof.pop();
    assert_eq!(truncated.clone().verify(&keys).unwrap().check_against(Some(&at5)).unwrap_err().status(), 422);
    // 403: signed by a key the witness does not trust for this origin.
    let impostor = Log::new("example.com/log");
    assert_eq!(impostor.request(0).verify(&keys).unwrap_err().status(), 403);
    // 404: an origin the witness does not witness.
    assert_eq!(Log::new("example.com/other").request(0).verify(&keys).unwrap_err().status(), 404);
    // 400: old size above the checkpoint size; a proof from size 0; garbage.
    assert_eq!(AddCheckpoint { old_size: 9, ..log.request(0) }.verify(&keys).unwrap_err().status(), 400);
    assert_eq!(AddCheckpoint { proof: vec![[0; 32]], ..log.request(0) }.verify(&keys).unwrap_err().status(), 400);
    let note = log.note();
    for body in [
        String::new(),
        "old 1".into(),
        format!("old 01\n\n{note}"),
        format!("new 1\n\n{note}"),
        format!("old 1\nnot base64\n\n{note}"),
        format!("old 1\n{}\n\n{note}", B64.encode([0u8; 31])),
        format!("old 1\n{}\n\n{note}", format!("{}\n", B64.encode([0u8; 32])).repeat(64)),
        "old 0\n\n".into(),
        format!("old 0\n{note}"),
    ] {
        let got = AddCheckpoint::parse(body.as_bytes()).and_then(|r| r.verify(&keys));
        assert_eq!(got.as_ref().map(|_| ()).unwrap_err().status(), 400, "{body:?}: {got:?}");
    }
    assert_eq!(AddCheckpoint::parse(&vec![b'o'; witness::MAX_REQUEST_LEN + 1]).unwrap_err().status(), 400);
    // A note text that is not a checkpoint, validly signed: 400 after the signature.
    let text_note = escrow_log::note::sign_note("example.com/log\nnot a size\n", &log.signer).unwrap();
    let req = AddCheckpoint { old_size: 0, proof: vec![], checkpoint: text_note };
    assert_eq!(req.verify(&keys).unwrap_err().status(), 400);
}

#[test]
fn extension_lines_of_other_logs_are_accepted_and_cosigned() {
    let log = Log::new("example.com/ext");
    let text = format!("example.com/ext\n0\n{}\nextension one\n", B64.encode(EMPTY_ROOT));
    let note = escrow_log::note::sign_note(&text, &log.signer).unwrap();
    let sub = AddCheckpoint { old_size: 0, proof: vec![], checkpoint: note }.verify(&keys_for(&log)).unwrap();
    assert_eq!(sub.text(), text);
    assert_eq!(sub.checkpoint().size(), 0);
}
