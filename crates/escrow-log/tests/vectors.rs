//! RFC 6962 known answers and proof vectors from transparency-dev/merkle.
//!
//! - `tests/vectors/rfc6962-known-answers.txt`: leaves, complete-subtree hashes,
//!   roots for sizes 0..8 and the proofs listed in `testonly/constants.go` and
//!   `proof/verify_test.go` (sources in the file's header). Our tree must *produce*
//!   exactly these values, and our verifiers must accept them.
//! - `tests/vectors/transparency-dev-merkle/testdata/{inclusion,consistency}/*/*.json`
//!   (sources in `SOURCE.md` beside them): every happy path must verify, every
//!   mutated proof must be refused. The tree must also produce each happy proof.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use escrow_log::*;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn hex32(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn hex_list(s: &str) -> Vec<Hash> {
    if s == "-" {
        vec![]
    } else {
        s.split(',').map(hex32).collect()
    }
}

struct KnownAnswers {
    leaves: Vec<Vec<u8>>,
    nodes: Vec<(u32, u64, Hash)>,
    roots: BTreeMap<u64, Hash>,
    inclusion: Vec<(u64, u64, Vec<Hash>)>,
    consistency: Vec<(u64, u64, Vec<Hash>)>,
}

fn known_answers() -> KnownAnswers {
    let text = std::fs::read_to_string(vectors_dir().join("rfc6962-known-answers.txt")).unwrap();
    let mut ka =
        KnownAnswers { leaves: vec![], nodes: vec![], roots: BTreeMap::new(), inclusion: vec![], consistency: vec![] };
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["leaf", i, data] => {
                assert_eq!(i.parse::<usize>().unwrap(), ka.leaves.len());
                ka.leaves.push(if *data == "-" { vec![] } else { hex::decode(data).unwrap() });
            }
            ["node", level, index, h] => ka.nodes.push((level.parse().unwrap(), index.parse().unwrap(), hex32(h))),
            ["root", size, h] => drop(ka.roots.insert(size.parse().unwrap(), hex32(h))),
            ["inclusion", i, n, p] => ka.inclusion.push((i.parse().unwrap(), n.parse().unwrap(), hex_list(p))),
            ["consistency", m, n, p] => ka.consistency.push((m.parse().unwrap(), n.parse().unwrap(), hex_list(p))),
            _ => panic!("unparsed known-answer line {line:?}"),
        }
    }
    assert_eq!((ka.leaves.len(), ka.nodes.len(), ka.roots.len()), (8, 15, 9));
    assert_eq!((ka.inclusion.len(), ka.consistency.len()), (5, 5));
    ka
}

fn reference_tree(ka: &KnownAnswers) -> MerkleTree {
    MerkleTree::from_leaf_hashes(ka.leaves.iter().map(|l| leaf_hash(l)))
}

#[test]
fn roots_and_subtree_hashes_match_constants_go() {
    let ka = known_answers();
    let tree = reference_tree(&ka);
    for (size, root) in &ka.roots {
        assert_eq!(tree.root(*size).unwrap(), *root, "root of size {size}");
        // A tree that only ever had `size` entries agrees with the historical root.
        let prefix = MerkleTree::from_leaf_hashes(ka.leaves.iter().take(*size as usize).map(|l| leaf_hash(l)));
        assert_eq!(prefix.root(*size).unwrap(), *root);
    }
    for (level, index, hash) in &ka.nodes {
        // A complete subtree's hash is the root of the tree of just those leaves.
        let width = 1usize << level;
        let start = *index as usize * width;
        let sub = MerkleTree::from_leaf_hashes(ka.leaves[start..start + width].iter().map(|l| leaf_hash(l)));
        assert_eq!(sub.root(width as u64).unwrap(), *hash, "node {level} {index}");
        if *level == 0 {
            assert_eq!(tree.leaf_hash(*index), Some(hash));
        }
    }
}

#[test]
fn proofs_match_verify_test_go() {
    let ka = known_answers();
    let tree = reference_tree(&ka);
    for (index, size, proof) in &ka.inclusion {
        assert_eq!(tree.inclusion_proof(*index, *size).unwrap(), *proof, "inclusion {index} in {size}");
        let leaf = leaf_hash(&ka.leaves[*index as usize]);
        verify_inclusion(&leaf, *index, *size, proof, &ka.roots[size]).unwrap();
    }
    for (m, n, proof) in &ka.consistency {
        assert_eq!(tree.consistency_proof(*m, *n).unwrap(), *proof, "consistency {m} -> {n}");
        verify_consistency(*m, *n, &ka.roots[m], &ka.roots[n], proof).unwrap();
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InclusionVector {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyVector {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    #[serde(rename = "wantErr")]
    want_err: bool,
}

/// Decodes a base64 hash the way a verifier reads one off the wire: anything not
/// 32 bytes is refused with a named error.
fn wire_hash(what: &'static str, b64: &str) -> Result<Hash, LogError> {
    hash_from_slice(what, &B64.decode(b64).unwrap())
}

fn wire_proof(proof: &Option<Vec<String>>) -> Result<Vec<Hash>, LogError> {
    proof.iter().flatten().map(|h| wire_hash("proof element", h)).collect()
}

fn json_files(kind: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut out = vec![];
    walk(&vectors_dir().join("transparency-dev-merkle/testdata").join(kind), &mut out);
    out.sort();
    out
}

/// Runs every vector file of one kind; returns (happy passed, mutated refused).
fn run<V: serde::de::DeserializeOwned>(
    kind: &str,
    check: impl Fn(&V) -> (bool, String, Result<(), LogError>),
) -> (usize, usize) {
    let (mut happy, mut mutated, mut failures) = (0, 0, vec![]);
    for path in json_files(kind) {
        let v: V = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (want_err, desc, result) = check(&v);
        let name = path.strip_prefix(vectors_dir()).unwrap().display().to_string();
        match (want_err, result) {
            (false, Ok(())) => happy += 1,
            (true, Err(e)) => {
                // Every refusal names a reason; show them with --nocapture.
                println!("refused {name} ({desc}): {e}");
                mutated += 1
            }
            (false, Err(e)) => failures.push(format!("{name} ({desc}) should verify: {e}")),
            (true, Ok(())) => failures.push(format!("{name} ({desc}) should be refused but verified")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("{kind}: {happy} happy vectors verified, {mutated} mutated vectors refused");
    (happy, mutated)
}

#[test]
fn inclusion_vectors() {
    let counts = run::<InclusionVector>("inclusion", |v| {
        let result = (|| {
            let leaf = wire_hash("leaf hash", &v.leaf_hash)?;
            let root = wire_hash("root", &v.root)?;
            verify_inclusion(&leaf, v.leaf_idx, v.tree_size, &wire_proof(&v.proof)?, &root)
        })();
        (v.want_err, v.desc.clone(), result)
    });
    assert_eq!(counts, (5, 77));
}

#[test]
fn consistency_vectors() {
    let counts = run::<ConsistencyVector>("consistency", |v| {
        let result = (|| {
            let root1 = wire_hash("old root", &v.root1)?;
            let root2 = wire_hash("new root", &v.root2)?;
            verify_consistency(v.size1, v.size2, &root1, &root2, &wire_proof(&v.proof)?)
        })();
        (v.want_err, v.desc.clone(), result)
    });
    assert_eq!(counts, (5, 79));
}

#[test]
fn tree_produces_every_happy_proof() {
    let ka = known_answers();
    let tree = reference_tree(&ka);
    let mut seen = 0;
    for path in json_files("inclusion") {
        let v: InclusionVector = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if !v.want_err {
            assert_eq!(tree.inclusion_proof(v.leaf_idx, v.tree_size).unwrap(), wire_proof(&v.proof).unwrap());
            assert_eq!(tree.root(v.tree_size).unwrap(), wire_hash("root", &v.root).unwrap());
            assert_eq!(tree.leaf_hash(v.leaf_idx).unwrap(), &wire_hash("leaf", &v.leaf_hash).unwrap());
            seen += 1;
        }
    }
    for path in json_files("consistency") {
        let v: ConsistencyVector = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if !v.want_err {
            assert_eq!(tree.consistency_proof(v.size1, v.size2).unwrap(), wire_proof(&v.proof).unwrap());
            assert_eq!(tree.root(v.size1).unwrap(), wire_hash("root1", &v.root1).unwrap());
            assert_eq!(tree.root(v.size2).unwrap(), wire_hash("root2", &v.root2).unwrap());
            seen += 1;
        }
    }
    assert_eq!(seen, 10);
}

#[test]
fn every_vector_file_is_cited() {
    let source = std::fs::read_to_string(vectors_dir().join("transparency-dev-merkle/SOURCE.md")).unwrap();
    for path in json_files("inclusion").into_iter().chain(json_files("consistency")) {
        let rel = path.strip_prefix(vectors_dir().join("transparency-dev-merkle")).unwrap().display().to_string();
        assert!(source.contains(&format!("| `{rel}` |")), "{rel} is not listed in SOURCE.md");
    }
}

/// The single-entry and degenerate cases of `TestVerifyInclusionSingleEntry` and
/// `TestVerifyInclusion` in transparency-dev/merkle `proof/verify_test.go`.
#[test]
fn single_entry_and_degenerate_inclusion() {
    let hash = leaf_hash(b"data");
    verify_inclusion(&hash, 0, 1, &[], &hash).unwrap();
    // An empty leaf or root is not a hash at all.
    assert!(hash_from_slice("leaf", b"").is_err());
    let some = hex32("abacaba000000000000000000000000000000000000000000060061e00123456");
    for (index, size) in [(0, 0), (0, 1), (1, 0), (2, 1)] {
        assert!(verify_inclusion(&some, index, size, &[], &EMPTY_ROOT).is_err(), "{index} {size}");
    }
}
