//! Log entries against known answers packed independently from the format table
//! (`tests/vectors/entries-v1.txt`, made by `entries-v1.py`), and entries that must
//! be refused.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use escrow_log::event::{party_tag, Arrival, CeremonyStep, DayRelease, Decision, Entry, Event, MAX_DAYS_PER_ENTRY};

const T: u64 = 1_767_225_600;
const W: [u8; 16] = [0x11; 16];
const RULE: &str = "item 0: out of scope: no target";

fn vectors() -> Vec<(String, Vec<u8>)> {
    let text = include_str!("vectors/entries-v1.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, hex) = l.split_once(' ').expect("name hex");
            (name.to_string(), hex::decode(hex.trim()).expect("hex"))
        })
        .collect()
}

fn expected(name: &str) -> Entry {
    let (time, event) = match name {
        "warrant_received" => (
            T,
            Event::WarrantReceived {
                warrant_id: W,
                court: "high-court".into(),
                agency: "agency-1".into(),
                window_from: T - 86_400,
                window_to: T,
                valid_until: T + 30 * 86_400,
                reveal_at: T + 120 * 86_400,
                details_commitment: [0xcc; 32],
                arrival: Arrival::Received,
                reason: Default::default(),
            },
        ),
        "warrant_decided_approve" => (
            T + 60,
            Event::WarrantDecided {
                warrant_id: W,
                decision: Decision::Approve,
                operator: "op-0".into(),
                reason: "lawful and proportionate".into(),
            },
        ),
        "shares_released" => (
            T + 120,
            Event::SharesReleased { warrant_id: W, agency: "agency-1".into(), fields: vec![[0xaa; 32], [0xbb; 32]] },
        ),
        "day_keys_released" => (
            T + 150,
            Event::DayKeysReleased {
                warrant_id: W,
                agency: "agency-1".into(),
                days: vec![
                    DayRelease { epoch: 1, day: 20_454, party: [0xa1; 32] },
                    DayRelease { epoch: 1, day: 20_455, party: [0xa2; 32] },
                ],
            },
        ),
        "request_refused_legacy" => {
            (T + 180, Event::RequestRefused { warrant_id: W, code: "PermissionDenied".into(), rule: RULE.into() })
        }
        "epoch_installed" => (T, Event::EpochInstalled { epoch: 1, public_key_hash: [0xdd; 32], trustee_index: 4 }),
        "epoch_destroyed" => (T + 86_400, Event::EpochDestroyed { epoch: 1 }),
        "requests_refused_held" => (
            T + 240,
            Event::RequestsRefused {
                caller: "escrow:role/agency/agency-1".into(),
                warrant_id: Some(W),
                code: "PERMISSION_DENIED".into(),
                rule: RULE.into(),
                count: 1,
                first: T + 240,
                last: T + 240,
            },
        ),
        "requests_refused_noise" => (
            T + 3840,
            Event::RequestsRefused {
                caller: "escrow:role/agency/agency-2".into(),
                warrant_id: None,
                code: "NOT_FOUND".into(),
                rule: "unknown warrant 00000000000000000000000000000001".into(),
                count: 202,
                first: T + 200,
                last: T + 3700,
            },
        ),
        name if name.starts_with("ceremony_") => return ceremony(name),
        other => panic!("no expected entry for vector {other}"),
    };
    Entry { time, event }
}

/// The kind-8 vectors: one per ceremony step.
fn ceremony(name: &str) -> Entry {
    let s = |v: &str| v.to_string();
    let (dt, step) = match name {
        "ceremony_proposed" => (
            0,
            CeremonyStep::Proposed {
                proposal: [0xe1; 32],
                proposer: s("trustee-0").into(),
                epoch: 2,
                plan: 0,
                threshold: 2,
                players: 5,
            },
        ),
        "ceremony_accepted" => (1, CeremonyStep::Accepted { by: s("trustee-3").into() }),
        "ceremony_executed" => (2, CeremonyStep::Executed),
        "ceremony_dealt" => (3, CeremonyStep::Dealt { dealer: s("trustee-1").into(), commitment: [0xe2; 32] }),
        "ceremony_complained" => {
            (4, CeremonyStep::Complained { by: s("trustee-3").into(), against: s("trustee-1").into(), grievance: 2 })
        }
        "ceremony_justified" => {
            (5, CeremonyStep::Justified { dealer: s("trustee-1").into(), player: s("trustee-3").into() })
        }
        "ceremony_disqualified" => (6, CeremonyStep::Disqualified { dealer: s("trustee-1").into(), why: 3 }),
        "ceremony_agreed" => (7, CeremonyStep::Agreed { by: s("trustee-4").into(), announcement: [0xe3; 32] }),
        "ceremony_installed" => (
            8,
            CeremonyStep::Installed { announcement: [0xe3; 32], epoch: 2, generation: 0, destroy_at: T + 90 * 86_400 },
        ),
        "ceremony_aborted" => {
            (9, CeremonyStep::Aborted { reason: s("timed out in Agreeing waiting for trustee-4").into() })
        }
        other => panic!("no expected ceremony entry for vector {other}"),
    };
    Entry { time: T + dt, event: Event::Ceremony { ceremony: [0x22; 16], step } }
}

#[test]
fn every_kind_encodes_and_decodes_to_its_known_answer() {
    let v = vectors();
    assert_eq!(v.len(), 19, "one vector per kind, two for kind 7, one per ceremony step of kind 8");
    for (name, bytes) in &v {
        let entry = expected(name);
        assert_eq!(hex::encode(entry.to_bytes().unwrap()), hex::encode(bytes), "{name}: encoding");
        assert_eq!(Entry::from_bytes(bytes).unwrap(), entry, "{name}: decoding");
    }
}

#[test]
fn malformed_refusal_entries_are_refused() {
    let v = vectors();
    let held = &v.iter().find(|(n, _)| n == "requests_refused_held").unwrap().1;
    let noise = &v.iter().find(|(n, _)| n == "requests_refused_noise").unwrap().1;
    // The warrant-id flag: the byte after the caller text (header 12 + 2 + 27).
    let flag = 12 + 2 + 27;
    assert_eq!(held[flag], 1);
    assert_eq!(noise[flag], 0);
    let mut bad_flag = held.clone();
    bad_flag[flag] = 2;
    // The count is the 20 bytes before the end: count (4), first (8), last (8).
    let count_at = held.len() - 20;
    let mut zero = held.clone();
    zero[count_at..count_at + 4].copy_from_slice(&0u32.to_be_bytes());
    let mut backwards = noise.clone();
    let n = backwards.len();
    backwards[n - 8..].copy_from_slice(&(T + 100).to_be_bytes());
    let mut trailing = held.clone();
    trailing.push(0);
    for (what, bytes) in [
        ("unknown flag", bad_flag),
        ("zero count", zero),
        ("last before first", backwards),
        ("trailing byte", trailing),
        ("truncated", held[..held.len() - 1].to_vec()),
        ("id flag set, id missing", held[..flag + 1].to_vec()),
    ] {
        assert!(Entry::from_bytes(&bytes).is_err(), "{what} was accepted");
    }
    // The encoder refuses what the decoder would.
    let mut e = expected("requests_refused_held");
    if let Event::RequestsRefused { count, .. } = &mut e.event {
        *count = 0;
    }
    assert!(e.to_bytes().is_err());
    let mut e = expected("requests_refused_noise");
    if let Event::RequestsRefused { caller, .. } = &mut e.event {
        *caller = "x".repeat(257).into();
    }
    assert!(e.to_bytes().is_err());
}

#[test]
fn malformed_ceremony_entries_are_refused() {
    let v = vectors();
    let agreed = &v.iter().find(|(n, _)| n == "ceremony_agreed").unwrap().1;
    // The step byte follows the header (12) and the ceremony id (16).
    let mut unknown = agreed.clone();
    unknown[28] = 11;
    let mut trailing = agreed.clone();
    trailing.push(0);
    for (what, bytes) in
        [("unknown step", unknown), ("trailing byte", trailing), ("truncated", agreed[..agreed.len() - 1].to_vec())]
    {
        assert!(Entry::from_bytes(&bytes).is_err(), "{what} was accepted");
    }
}

#[test]
fn malformed_day_key_entries_are_refused() {
    let v = vectors();
    let days = &v.iter().find(|(n, _)| n == "day_keys_released").unwrap().1;
    // The count follows the header (12), the warrant id (16) and the agency (2 + 8).
    let count_at = 12 + 16 + 10;
    assert_eq!(days[count_at..count_at + 4], 2u32.to_be_bytes());
    let mut more = days.clone();
    more[count_at..count_at + 4].copy_from_slice(&3u32.to_be_bytes());
    let mut huge = days.clone();
    huge[count_at..count_at + 4].copy_from_slice(&(MAX_DAYS_PER_ENTRY as u32 + 1).to_be_bytes());
    let mut trailing = days.clone();
    trailing.push(0);
    for (what, bytes) in [
        ("count above the days present", more),
        ("count above the limit", huge),
        ("trailing byte", trailing),
        ("truncated", days[..days.len() - 1].to_vec()),
    ] {
        assert!(Entry::from_bytes(&bytes).is_err(), "{what} was accepted");
    }
    // The encoder refuses what the decoder would.
    let day = DayRelease { epoch: 1, day: 1, party: [0; 32] };
    let e = Event::DayKeysReleased { warrant_id: W, agency: "a".into(), days: vec![day; MAX_DAYS_PER_ENTRY + 1] };
    assert!(Entry { time: T, event: e }.to_bytes().is_err());
    let e = Event::DayKeysReleased { warrant_id: W, agency: "a".into(), days: vec![day; MAX_DAYS_PER_ENTRY] };
    assert!(Entry { time: T, event: e }.to_bytes().is_ok());
}

#[test]
fn a_day_release_overlaps_exactly_the_windows_its_day_touches() {
    let d = DayRelease { epoch: 1, day: 20_454, party: [0; 32] };
    let (start, end) = (20_454 * 86_400, 20_455 * 86_400);
    assert_eq!(d.start(), start);
    assert!(d.overlaps(start, start + 1));
    assert!(d.overlaps(end - 1, end + 100));
    assert!(d.overlaps(start - 100, end + 100));
    assert!(!d.overlaps(end, end + 100), "a window starting at midnight after the day");
    assert!(!d.overlaps(start - 100, start), "a window ending at the day's first second");
}

#[test]
fn a_party_tag_depends_on_the_warrant_and_the_party_only() {
    let a = party_tag(b"warrant-1", "alice");
    assert_eq!(a, party_tag(b"warrant-1", "alice"));
    assert_ne!(a, party_tag(b"warrant-2", "alice"));
    assert_ne!(a, party_tag(b"warrant-1", "alicf"));
    // The warrant's length is bound, so no byte can move from warrant to party.
    assert_ne!(party_tag(b"warrant-1a", "lice"), a);
}
