//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use escrow_crypto::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn id(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

pub fn label(epoch: u64, sender: &str, recipients: &[&str], ts: u64) -> Label {
    Label::new(EpochId(epoch), [7u8; 16], id(sender), recipients.iter().map(|r| id(r)), ts).unwrap()
}

pub struct World {
    pub keys: DealerOutput,
    pub users: Vec<UserSecretKey>,
}

impl World {
    pub fn new(seed: u64, t: u16, n: u16, users: &[&str]) -> Self {
        let mut r = rng(seed);
        let keys = dealer_keygen(EpochId(1), t, n, &mut r).unwrap();
        let users = users.iter().map(|u| UserSecretKey::generate(id(u), &mut r)).collect();
        World { keys, users }
    }

    pub fn user(&self, name: &str) -> &UserSecretKey {
        self.users.iter().find(|u| u.id().as_str() == name).unwrap()
    }

    pub fn send(&self, seed: u64, from: &str, to: &[&str], ts: u64, msg: &[u8]) -> Envelope {
        let recipients: Vec<UserPublicKey> = to.iter().map(|r| self.user(r).public()).collect();
        let req = SealRequest {
            sender: self.user(from),
            recipients: &recipients,
            epoch_key: &self.keys.public,
            message_id: [seed as u8; 16],
            timestamp: ts,
            plaintext: msg,
        };
        Envelope::seal(&req, &mut rng(seed)).unwrap()
    }

    pub fn shares(&self, env: &Envelope, which: &[u16]) -> Vec<DecryptionShare> {
        which
            .iter()
            .map(|&i| {
                self.keys.shares[usize::from(i)].decrypt_share(&self.keys.public, env.field(), env.label()).unwrap()
            })
            .collect()
    }
}
