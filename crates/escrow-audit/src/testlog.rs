//! Hand-built logs for unit tests: real entries, a real Merkle tree and a real signed
//! checkpoint, verified through [`crate::check`] like a fetched one (a `VerifiedLog`
//! has no other constructor).

use escrow_log::event::{Entry, Event};
use escrow_log::{leaf_hash, Checkpoint, CheckpointSigner, Hash, MerkleTree};
use rand::SeedableRng;

use crate::check::{DueOpening, Head, OpeningAnswer, PinnedLog, VerifiedLog};
use crate::failure::AuditFailure;

/// A log a test writes entry by entry.
pub struct HandLog {
    pub origin: String,
    pub signer: CheckpointSigner,
    pub raw: Vec<Vec<u8>>,
}

impl HandLog {
    pub fn new(origin: &str) -> Self {
        let seed = origin.bytes().fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let signer = CheckpointSigner::generate(origin, &mut rng).unwrap();
        HandLog { origin: origin.into(), signer, raw: Vec::new() }
    }

    pub fn with(origin: &str, events: Vec<(u64, Event)>) -> Self {
        let mut l = Self::new(origin);
        for (time, event) in events {
            l.push(time, event);
        }
        l
    }

    pub fn push(&mut self, time: u64, event: Event) {
        self.raw.push(Entry { time, event }.to_bytes().unwrap());
    }

    fn tree(&self, n: usize) -> MerkleTree {
        MerkleTree::from_leaf_hashes(self.raw.iter().take(n).map(|e| leaf_hash(e)))
    }

    /// The signed checkpoint over the first `n` entries.
    pub fn note_at(&self, n: usize) -> String {
        let tree = self.tree(n);
        self.signer.sign(&Checkpoint::new(&self.origin, tree.size(), tree.root(tree.size()).unwrap()).unwrap())
    }

    pub fn note(&self) -> String {
        self.note_at(self.raw.len())
    }

    pub fn key(&self) -> String {
        self.signer.verifier().to_string()
    }

    pub fn proof(&self, m: u64, n: u64) -> Vec<Hash> {
        self.tree(self.raw.len()).consistency_proof(m, n).unwrap()
    }

    /// Runs every check the fetcher would, with honest proofs and the given openings.
    pub fn audit(
        &self,
        pinned: Option<&PinnedLog>,
        now: u64,
        answer: impl Fn(&DueOpening) -> OpeningAnswer,
    ) -> Result<(VerifiedLog, PinnedLog), AuditFailure> {
        let path = std::path::Path::new("pinned.json");
        let head = Head::check("addr", &self.note(), &self.key(), pinned.map(|p| (path, p)))?;
        let proof = head.consistency_needed().map(|(m, n)| self.proof(m, n));
        let entries = head.consistent(proof.as_deref())?.entries(&self.raw)?;
        let answers: Vec<_> = entries.due_openings(now).into_iter().map(|d| (d, answer(&d))).collect();
        entries.finish(&answers, &[], now, &[])
    }

    /// The verified log, first visit, nothing due.
    pub fn verified(&self) -> VerifiedLog {
        self.audit(None, 0, |_| unreachable!("nothing is due at time 0")).unwrap().0
    }
}
