//! Shared helpers: golden files, loading, quick checks.

use std::path::PathBuf;
use std::time::Duration;

use checkers::format;
use checkers::history::{History, Record};
use checkers::linearizability::{check_with, Budget, Options};
use checkers::model::Model;
use checkers::verdict::Verdict;

/// `checkers/testdata/<rel>`.
pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// Reads and parses a golden file (format auto-detected).
pub fn records(rel: &str) -> Vec<Record> {
    let path = testdata(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    match format::read(&bytes, None) {
        Ok((_, r)) => r,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// Checks with a generous budget.
pub fn check<M: Model>(
    history: &History<M::Op>,
    model: &M,
    all_keys: bool,
    time: Duration,
) -> Verdict {
    let options = Options {
        budget: Budget {
            time_limit: time,
            memory_limit: 1 << 30,
        },
        threads: 0,
        all_keys,
    };
    check_with(history, model, options)
}
