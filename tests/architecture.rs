//! docs/architecture.md says which modules are IO-free decision cores, and `.ci/run`
//! checks that they are: the two lists must be the same list, or one of them is
//! wrong. A module in a whole pure crate (no tokio, tonic, prost or rusqlite in its
//! dependency tree, checked by `.ci/run` with `cargo tree`) needs no line of its own.
// Test code may unwrap, index and panic: the workspace's lint wall is for library and
// binary code (see Cargo.toml).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The crates `.ci/run` checks whole (its `for crate in ...` line).
fn pure_crates(ci: &str) -> BTreeSet<String> {
    let line = ci.lines().find(|l| l.starts_with("for crate in ")).expect(".ci/run checks no pure crates");
    line.trim_start_matches("for crate in ").trim_end_matches("; do").split_whitespace().map(String::from).collect()
}

/// The modules `.ci/run` greps for IO (its `for module in ... ; do`, over continued
/// lines), without the `crates/` prefix.
fn ci_modules(ci: &str) -> BTreeSet<String> {
    let start = ci.find("for module in ").expect(".ci/run checks no pure modules");
    let list = &ci[start + "for module in ".len()..];
    let list = &list[..list.find("; do").unwrap()];
    list.split_whitespace().filter(|w| *w != "\\").map(|m| m.trim_start_matches("crates/").to_string()).collect()
}

/// The modules docs/architecture.md's table of IO-free modules names.
fn documented(doc: &str) -> BTreeSet<String> {
    let start = doc.find("**Modules inside service crates.**").expect("architecture.md: no pure-module table");
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| module |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_start_matches("| `").split('`').next().unwrap().to_string())
        .collect()
}

#[test]
fn the_pure_modules_the_docs_name_are_the_ones_ci_checks() {
    let (ci, doc) = (read(".ci/run"), read("docs/architecture.md"));
    let crates = pure_crates(&ci);
    assert!(crates.contains("escrow-crypto") && crates.contains("escrow-log"), "{crates:?}");
    let checked = ci_modules(&ci);
    let named = documented(&doc);
    assert!(checked.len() >= 10, "{checked:?}");
    for m in &checked {
        assert!(std::path::Path::new(&format!("{}/../crates/{m}", env!("CARGO_MANIFEST_DIR"))).exists(), "{m}");
    }
    let in_pure_crate = |m: &String| crates.contains(m.split('/').next().unwrap());
    let named_in_services: BTreeSet<String> = named.iter().filter(|m| !in_pure_crate(m)).cloned().collect();
    assert_eq!(named_in_services, checked, "architecture.md's table (left) and .ci/run's list (right) differ");
}
