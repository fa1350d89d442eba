//! Group commit under SIGKILL: 50 senders send at once to a relay process, which is
//! killed in the middle of the burst and started again on its data directory. Every
//! message it acknowledged is there, under the seq it answered, in every recipient's
//! inbox; a message it had not acknowledged is either wholly there or not at all.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use escrow_crypto::{Envelope, SealRequest};
use escrow_proto::v1::{FetchInboxRequest, GetEpochKeyRequest, SendRequest};
use rand::RngCore;

const USERS: usize = 50;
const PER_SENDER: usize = 40;
/// The relay is killed once this many messages were acknowledged.
const KILL_AFTER: usize = 600;

fn user(i: usize) -> String {
    format!("s{i:02}")
}

/// The three users after `from`: every message has three recipients, so "half
/// stored" would show as a message in some of their inboxes and not others.
fn recipients(from: usize) -> Vec<usize> {
    (1..=3).map(|k| (from + k) % USERS).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_send_survives_a_sigkill_during_a_burst_and_none_is_half_stored() {
    let mut pass = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut pass);
    let options = escrow_kit::Options {
        name: "relay-crash".into(),
        n: 3,
        t: 1,
        seed: Some(29),
        users: (0..USERS).map(user).collect(),
        launch: escrow_kit::Launch::Processes {
            exe: env!("CARGO_BIN_EXE_escrow").into(),
            passphrase: hex::encode(pass),
        },
        ..escrow_kit::Options::default()
    };
    let mut d = escrow_kit::Deployment::start(options).await.unwrap();
    let now = d.clock.now();

    // Every sender's envelopes, sealed before the burst.
    let mut plans: Vec<Vec<Envelope>> = Vec::new();
    for s in 0..USERS {
        let sender = d.user(&user(s)).unwrap().clone();
        let to: Vec<_> = recipients(s).iter().map(|&r| d.user(&user(r)).unwrap().public()).collect();
        let mut envs = Vec::new();
        for _ in 0..PER_SENDER {
            let mut message_id = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut message_id);
            let req = SealRequest {
                sender: &sender,
                recipients: &to,
                epoch_key: &d.keys.public,
                message_id,
                timestamp: now,
                plaintext: b"sent during the burst",
            };
            envs.push(Envelope::seal(&req, &mut rand::rngs::OsRng).unwrap());
        }
        plans.push(envs);
    }

    // message id -> the seq the relay acknowledged.
    let acked: Arc<Mutex<BTreeMap<[u8; 16], u64>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let mut burst = tokio::task::JoinSet::new();
    for (s, envs) in plans.iter().enumerate() {
        let mut client = d.relay_client_as(&d.user_creds(&user(s)).unwrap()).unwrap();
        client.get_epoch_key(GetEpochKeyRequest {}).await.unwrap();
        let envs: Vec<(Vec<u8>, [u8; 16])> =
            envs.iter().map(|e| (e.as_bytes().to_vec(), *e.label().message_id())).collect();
        let (acked, count) = (acked.clone(), count.clone());
        burst.spawn(async move {
            for (bytes, id) in envs {
                match client.send(SendRequest { envelope: bytes }).await {
                    Ok(r) => {
                        acked.lock().unwrap().insert(id, r.into_inner().seq);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    // The relay is gone: this one and the rest are not acknowledged.
                    Err(_) => return,
                }
            }
        });
    }
    tokio::time::timeout(Duration::from_secs(120), async {
        while count.load(Ordering::SeqCst) < KILL_AFTER {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the burst reached the kill point");
    d.relay.kill();
    tokio::time::timeout(Duration::from_secs(60), async { while burst.join_next().await.is_some() {} })
        .await
        .expect("every sender noticed the relay was gone");
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILL_AFTER, "{} acknowledged", acked.len());
    assert!(acked.len() < USERS * PER_SENDER, "the kill came before the burst ended: the test proves nothing");

    d.restart_relay().await.unwrap();
    // Every inbox, whole: message id -> (seq, the users whose inbox holds it).
    let mut stored: BTreeMap<[u8; 16], (u64, BTreeSet<usize>)> = BTreeMap::new();
    for u in 0..USERS {
        let mut client = d.relay_client_as(&d.user_creds(&user(u)).unwrap()).unwrap();
        let mut after_seq = 0;
        loop {
            let page = client
                .fetch_inbox(FetchInboxRequest { user_id: user(u), after_seq, limit: 0 })
                .await
                .unwrap()
                .into_inner();
            for e in &page.envelopes {
                let env = Envelope::from_bytes(&e.envelope).unwrap();
                let entry = stored.entry(*env.label().message_id()).or_insert((e.seq, BTreeSet::new()));
                assert_eq!(entry.0, e.seq, "one message, one seq");
                entry.1.insert(u);
                after_seq = e.seq;
            }
            if !page.more {
                break;
            }
        }
    }
    for (id, seq) in &acked {
        let (stored_seq, _) =
            stored.get(id).unwrap_or_else(|| panic!("acknowledged message {} is lost", hex::encode(id)));
        assert_eq!(stored_seq, seq, "acknowledged message {} moved", hex::encode(id));
    }
    let all: BTreeMap<[u8; 16], usize> =
        plans.iter().enumerate().flat_map(|(s, envs)| envs.iter().map(move |e| (*e.label().message_id(), s))).collect();
    for (id, (_, holders)) in &stored {
        let sender = all.get(id).unwrap_or_else(|| panic!("a message nobody sent: {}", hex::encode(id)));
        let want: BTreeSet<usize> = recipients(*sender).into_iter().collect();
        assert_eq!(holders, &want, "message {} is half stored", hex::encode(id));
    }
    println!(
        "killed after {} acknowledgements; {} stored, {} of them unacknowledged but whole",
        acked.len(),
        stored.len(),
        stored.len() - acked.len()
    );
    // The relay takes sends again, after the crash.
    let mut client = d.relay_client_as(&d.user_creds(&user(0)).unwrap()).unwrap();
    let unsent = plans[0].iter().find(|e| !stored.contains_key(e.label().message_id()));
    if let Some(e) = unsent {
        client.send(SendRequest { envelope: e.as_bytes().to_vec() }).await.unwrap();
    }
}
