//! `cargo bench -p checkers`: per-file check time over the Porcupine kv corpus
//! (`testdata/porcupine-kv`), plus parse time, and a summary of each file's verdict and
//! peak search memory printed before divan's table.
//!
//! Porcupine 1.3.0 on a 2-core VM (check only): c01-ok 0.1–0.2 ms, c01-bad 0.04–0.1,
//! c10-ok 0.6–0.7, c10-bad 0.3–0.45, c50-ok 270, c50-bad 20–45 ms.

use std::path::PathBuf;

use checkers::format;
use checkers::history::History;
use checkers::linearizability::{check, Budget};
use checkers::model::{Kv, KvOp};
use divan::Bencher;

const FILES: [&str; 6] = [
    "c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad",
];

fn bytes(name: &str) -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("testdata/porcupine-kv/{name}.txt"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn history(name: &str) -> History<KvOp> {
    let (_, records) = format::read(&bytes(name), None).unwrap_or_else(|e| panic!("{name}: {e}"));
    History::from_records(&records).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn main() {
    for name in FILES {
        let v = check(&history(name), &Kv, Budget::default());
        println!(
            "{name:<8} {:<8} search peak memory {:>8.2} MiB, {} steps",
            v.valid.word(),
            v.stats.peak_memory_bytes as f64 / (1024.0 * 1024.0),
            v.stats.steps
        );
    }
    divan::main();
}

/// Check only (parse excluded), like Porcupine's figures.
#[divan::bench(args = FILES, sample_count = 30)]
fn check_kv(bencher: Bencher, name: &str) {
    let h = history(name);
    bencher.bench_local(|| check(&h, &Kv, Budget::default()));
}

/// Parse + build the typed history.
#[divan::bench(args = FILES, sample_count = 30)]
fn parse_kv(bencher: Bencher, name: &str) {
    let b = bytes(name);
    bencher.bench_local(|| {
        let (_, records) = format::read(&b, None).expect("golden file parses");
        History::<KvOp>::from_records(&records).expect("well-formed")
    });
}

/// All six files, checked back to back (the "over the six files in total").
#[divan::bench(sample_count = 20)]
fn check_all_six(bencher: Bencher) {
    let hs: Vec<History<KvOp>> = FILES.iter().map(|n| history(n)).collect();
    bencher.bench_local(|| {
        hs.iter()
            .map(|h| check(h, &Kv, Budget::default()).valid)
            .max()
    });
}
