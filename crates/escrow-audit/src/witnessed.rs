//! The auditor without trust on first use: every trustee's log key and the witnesses
//! come from the deployment's witness policy (C2SP tlog-policy), and what a trustee
//! shows is compared with what its witnesses cosigned. Pure: the fetcher in
//! [`crate::verify`] brings the notes and proofs.
//!
//! A witness's view of a log is the latest checkpoint it cosigned, carrying the
//! trustee's own signature. If the trustee shows this auditor a checkpoint that is
//! not consistent with it, the trustee signed two histories: the split view, named.

use escrow_log::cosignature::verify_cosignatures;
use escrow_log::{verify_consistency, Checkpoint, CheckpointVerifier, Hash, Policy};

use crate::failure::{AuditFailure, SplitViews};

/// One witness's verified view of one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessView {
    /// The witness's name in the policy.
    pub witness: String,
    /// The checkpoint it cosigned (signed by the log's pinned key).
    pub checkpoint: Checkpoint,
}

/// The pinned key of `origin`'s log under `policy`.
pub fn pinned_key<'a>(policy: &'a Policy, trustee: &str, origin: &str) -> Result<&'a CheckpointVerifier, AuditFailure> {
    policy
        .log(origin)
        .map(|l| &l.key)
        .ok_or_else(|| AuditFailure::NotPinned { trustee: trustee.into(), origin: origin.into() })
}

/// Checks what witness `index` of `policy` served as its latest view of `origin`: the
/// log's signature under the pinned key and that witness's own cosignature. A view
/// that fails is not evidence against the trustee (anyone can send garbage in the
/// witness's name over a bad network), so the caller reports it as the witness's.
pub fn witness_view(policy: &Policy, index: usize, origin: &str, note: &str) -> Result<WitnessView, String> {
    let w = policy.witnesses().get(index).ok_or("no such witness")?;
    let log = policy.log(origin).ok_or("origin not in the policy")?;
    let checkpoint = log.key.verify_for_origin(note.as_bytes(), origin).map_err(|e| e.to_string())?;
    let found = verify_cosignatures(note.as_bytes(), std::slice::from_ref(&w.key)).map_err(|e| e.to_string())?;
    if found.is_empty() {
        return Err(format!("no cosignature by {}", w.name));
    }
    Ok(WitnessView { witness: w.name.clone(), checkpoint })
}

/// Which consistency proof comparing `served` with `view` needs, as `(first, second)`:
/// none for equal sizes (the roots must then be equal).
pub fn proof_needed(served: &Checkpoint, view: &WitnessView) -> Option<(u64, u64)> {
    let (m, n) = (view.checkpoint.size(), served.size());
    match m.cmp(&n) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Less => Some((m, n)),
        std::cmp::Ordering::Greater => Some((n, m)),
    }
}

/// Compares the checkpoint `trustee` served with a witness's view of its log, given
/// the consistency proof [`proof_needed`] asked for (`None` if the trustee would not
/// give one). The served checkpoint may be newer than the view; it must not be older
/// (the world sees entries this auditor does not), and either way the two must lie
/// on one history.
pub fn against_view(
    trustee: &str,
    served: &Checkpoint,
    view: &WitnessView,
    proof: Option<&[Hash]>,
) -> Result<(), AuditFailure> {
    let (m, n) = (view.checkpoint.size(), served.size());
    let split = |error: String| AuditFailure::SplitView {
        trustee: trustee.into(),
        witness: view.witness.clone(),
        views: Box::new(SplitViews {
            served_size: n,
            served_root: hex::encode(served.root()),
            witnessed_size: m,
            witnessed_root: hex::encode(view.checkpoint.root()),
            error,
        }),
    };
    if m == n {
        return if served.root() == view.checkpoint.root() {
            Ok(())
        } else {
            Err(split("two roots for one size".into()))
        };
    }
    let proof = proof.ok_or_else(|| split("the trustee gave no consistency proof".into()))?;
    let checked = if m < n {
        verify_consistency(m, n, view.checkpoint.root(), served.root(), proof)
    } else {
        verify_consistency(n, m, served.root(), view.checkpoint.root(), proof)
    };
    checked.map_err(|e| split(e.to_string()))?;
    if m > n {
        return Err(AuditFailure::BehindWitnesses {
            trustee: trustee.into(),
            witness: view.witness.clone(),
            served_size: n,
            witnessed_size: m,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use escrow_log::{leaf_hash, CheckpointSigner, MerkleTree, WitnessSigner};
    use rand::SeedableRng;

    fn tree(tag: &str, n: u64) -> MerkleTree {
        let mut t = MerkleTree::new();
        for i in 0..n {
            t.append(leaf_hash(format!("{tag}{i}").as_bytes()));
        }
        t
    }

    fn cp(t: &MerkleTree, n: u64) -> Checkpoint {
        Checkpoint::new("escrow-trustee/t", n, t.root(n).unwrap()).unwrap()
    }

    fn view(t: &MerkleTree, n: u64) -> WitnessView {
        WitnessView { witness: "w1".into(), checkpoint: cp(t, n) }
    }

    #[test]
    fn consistent_views_pass_and_forks_are_named() {
        let honest = tree("e", 10);
        // A fork that shares the first 4 entries.
        let mut forked = tree("e", 4);
        for i in 4..10 {
            forked.append(leaf_hash(format!("x{i}").as_bytes()));
        }
        let served = cp(&honest, 10);
        let v = view(&honest, 6);
        assert_eq!(proof_needed(&served, &v), Some((6, 10)));
        against_view("t", &served, &v, Some(&honest.consistency_proof(6, 10).unwrap())).unwrap();
        against_view("t", &served, &view(&honest, 10), None).unwrap();

        let fork = cp(&forked, 10);
        let e = against_view("t", &fork, &view(&honest, 10), None).unwrap_err();
        assert!(
            matches!(&e, AuditFailure::SplitView { views, .. } if views.witnessed_size == 10 && views.served_size == 10),
            "{e}"
        );
        let e = against_view("t", &fork, &v, Some(&forked.consistency_proof(6, 10).unwrap())).unwrap_err();
        assert!(matches!(e, AuditFailure::SplitView { .. }), "{e}");
        assert!(e.to_string().contains("SPLIT VIEW") && e.to_string().contains("w1"), "{e}");
        let e = against_view("t", &fork, &v, None).unwrap_err();
        assert!(matches!(e, AuditFailure::SplitView { .. }), "{e}");
        // Served older than witnessed: consistent, still a failure.
        let older = cp(&honest, 3);
        let e = against_view("t", &older, &v, Some(&honest.consistency_proof(3, 6).unwrap())).unwrap_err();
        assert!(matches!(e, AuditFailure::BehindWitnesses { served_size: 3, witnessed_size: 6, .. }), "{e}");
    }

    #[test]
    fn a_witness_view_needs_the_pinned_log_key_and_that_witness_cosignature() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let log = CheckpointSigner::generate("escrow-trustee/t", &mut rng).unwrap();
        let w1 = WitnessSigner::generate("w1.example", &mut rng).unwrap();
        let w2 = WitnessSigner::generate("w2.example", &mut rng).unwrap();
        let policy: Policy = format!(
            "log {}\nwitness w1 {}\nwitness w2 {}\ngroup g 1 w1 w2\nquorum g\n",
            log.verifier(),
            w1.verifier(),
            w2.verifier()
        )
        .parse()
        .unwrap();
        let t = tree("e", 3);
        let c = cp(&t, 3);
        let note = log.sign(&c);
        let by_w1 = format!("{note}{}", w1.cosign(&c.body(), 1).unwrap());
        assert_eq!(witness_view(&policy, 0, "escrow-trustee/t", &by_w1).unwrap().checkpoint, c);
        assert!(witness_view(&policy, 1, "escrow-trustee/t", &by_w1).is_err(), "w2 did not cosign it");
        assert!(witness_view(&policy, 0, "escrow-trustee/t", &note).is_err(), "no cosignature");
        let other = CheckpointSigner::generate("escrow-trustee/t", &mut rng).unwrap();
        let forged = format!("{}{}", other.sign(&c), w1.cosign(&c.body(), 1).unwrap());
        assert!(witness_view(&policy, 0, "escrow-trustee/t", &forged).is_err(), "not the pinned log key");
        assert!(matches!(pinned_key(&policy, "addr", "escrow-trustee/u"), Err(AuditFailure::NotPinned { .. })));
    }
}
