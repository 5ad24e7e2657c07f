//! `cargo bench -p checkers --bench elle`: the list-append checker on a generated
//! 100,000-transaction history (Jepsen-like shape: 10 clients, 10 active keys of up to
//! 32 appends, 1–4 micro-ops, half reads, 1% failed and 1% indeterminate), valid and
//! with 100 reads made stale; plus parsing the same history from JSON Lines. Divan
//! reports throughput in transactions per second; a summary of each history's report
//! is printed first.
//!
//! Elle reports 100–160k txn/s on a large JVM machine; the target here is ≥ 100k
//! txn/s on one core. The summary also gives the check's working memory: the peak
//! resident set during one check above the resident set before it (Linux: the peak is
//! reset through `/proc/self/clear_refs`). `faultline check`'s own peak, parsing
//! included, is measured with `/usr/bin/time -v` (see `docs/elle.md`).

#[path = "../tests/checkers/serial_append.rs"]
mod serial_append;

use checkers::elle::{check, txns_from_records, Budget, MicroOp, Options, Outcome, Txn};
use checkers::format;
use divan::counter::ItemsCount;
use divan::Bencher;
use serial_append::{generate, to_jsonl, Shape};

const TXNS: usize = 100_000;

fn valid() -> Vec<Txn> {
    generate(1, Shape::bench(TXNS))
}

/// The valid history with `n` reads (spread evenly) cut to half their length.
fn stale(n: usize) -> Vec<Txn> {
    let mut txns = valid();
    let reads: Vec<(usize, usize)> = txns
        .iter()
        .enumerate()
        .filter(|(_, t)| t.outcome == Outcome::Ok)
        .flat_map(|(i, t)| {
            t.ops
                .iter()
                .enumerate()
                .filter_map(move |(m, op)| match op {
                    MicroOp::Read { elems: Some(e), .. } if e.len() >= 2 => Some((i, m)),
                    _ => None,
                })
        })
        .collect();
    let step = (reads.len() / n).max(1);
    for &(i, m) in reads.iter().step_by(step).take(n) {
        if let MicroOp::Read { elems: Some(e), .. } = &mut txns[i].ops[m] {
            e.truncate(e.len() / 2);
        }
    }
    txns
}

/// (resident, peak resident) in KiB, from `/proc/self/status`.
fn rss_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let get = |key: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((get("VmRSS:")?, get("VmHWM:")?))
}

fn main() {
    for (name, txns) in [("valid", valid()), ("100 stale reads", stale(100))] {
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let before = rss_kib();
        let r = check(&txns, &Options::default(), Budget::default());
        let memory = match (reset, before, rss_kib()) {
            (true, Some((rss, _)), Some((_, peak))) => {
                format!("{:.1} MiB", peak.saturating_sub(rss) as f64 / 1024.0)
            }
            _ => "not measurable here".to_owned(),
        };
        let s = &r.stats;
        println!(
            "{name:<16} {:<8} {} txns, {} keys, edges ww {} wr {} rw {} process {} realtime {}; \
             {} cyclic components (largest {}), {} search steps; {:.0} ms = {:.0} txn/s; \
             working memory {memory}; anomalies: {:?}",
            r.valid.word(),
            s.txns,
            s.keys,
            s.edges.ww,
            s.edges.wr,
            s.edges.rw,
            s.edges.process,
            s.edges.realtime,
            s.components,
            s.largest_component,
            s.search_steps,
            s.micros as f64 / 1e3,
            s.txns as f64 / (s.micros as f64 / 1e6),
            r.counts
        );
    }
    divan::main();
}

/// Check only: a valid history (no cycles to search).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn check_valid(bencher: Bencher) {
    let txns = valid();
    bencher
        .counter(ItemsCount::new(TXNS))
        .bench_local(|| check(&txns, &Options::default(), Budget::default()));
}

/// Check only: 100 stale reads, each a small cycle to find and explain.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn check_stale(bencher: Bencher) {
    let txns = stale(100);
    bencher
        .counter(ItemsCount::new(TXNS))
        .bench_local(|| check(&txns, &Options::default(), Budget::default()));
}

/// JSON Lines text → records → transactions (what `faultline check` does first).
#[divan::bench(sample_count = 10, sample_size = 1)]
fn parse_jsonl(bencher: Bencher) {
    let text = to_jsonl(&valid());
    bencher.counter(ItemsCount::new(TXNS)).bench_local(|| {
        let (_, records) = format::read(text.as_bytes(), None).expect("generated JSONL parses");
        txns_from_records(&records).expect("well-formed")
    });
}
