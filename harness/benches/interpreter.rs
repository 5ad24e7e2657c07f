//! Harness overhead: how many ops/s the generator + workers + history log sustain
//! against a client that answers at once (a "null" client), so the harness is never the
//! bottleneck of a run. Target: ≥ 20,000 ops/s on a 2-core machine.
//!
//! Run: `cargo bench -p harness --bench interpreter`. Prints ops/s per concurrency level.

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkers::history::Key;
use checkers::model::CasOp;
use harness::generator::{FromFn, Limit};
use harness::history::{Codec, HistoryLog, Recording};
use harness::interpreter::{self, Client, Completion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Null;

impl Client for Null {
    type Input = (u64, Option<i64>);
    type Output = Option<i64>;
    async fn invoke(&mut self, input: &(u64, Option<i64>)) -> Completion<Option<i64>> {
        Completion::Ok(input.1)
    }
}

struct Cas;

impl Codec for Cas {
    type Input = (u64, Option<i64>);
    type Output = Option<i64>;
    type Payload = CasOp;
    fn key(&self, input: &Self::Input) -> Option<Key> {
        Some(Key::Int(input.0 as i64))
    }
    fn invoked(&self, input: &Self::Input) -> CasOp {
        match input.1 {
            Some(v) => CasOp::Write(v),
            None => CasOp::Read(None),
        }
    }
    fn completed(&self, input: &Self::Input, c: &Completion<Option<i64>>) -> CasOp {
        match c {
            Completion::Ok(v) if input.1.is_none() => CasOp::Read(*v),
            _ => self.invoked(input),
        }
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not: then a small
    // smoke run proves the bench still works without spending the suite's time.
    let default = if std::env::args().any(|a| a == "--bench") {
        200_000
    } else {
        2_000
    };
    let ops: u64 = std::env::var("FL_BENCH_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    let dir = std::env::temp_dir().join(format!("fl-bench-interp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("harness overhead: generator + workers + history.jsonl, null client, {ops} ops");
    for concurrency in [1usize, 10, 50] {
        let path = dir.join(format!("history-{concurrency}.jsonl"));
        let log = Arc::new(HistoryLog::create(&path, Instant::now()).expect("history file"));
        let mut n = 0i64;
        let gen = Limit::new(
            FromFn(move |rng: &mut ChaCha8Rng| {
                n += 1;
                let key = rng.gen_range(0..10u64);
                (key, rng.gen_bool(0.5).then_some(n))
            }),
            ops,
        );
        let clients = (0..concurrency).map(|_| Null).collect();
        let (_tx, stop) = tokio::sync::watch::channel(false);
        let started = Instant::now();
        let summary = rt
            .block_on(interpreter::run(
                gen,
                clients,
                Arc::new(Recording::new(Arc::clone(&log), Cas)),
                ChaCha8Rng::seed_from_u64(1),
                interpreter::Config {
                    op_timeout: Duration::from_secs(5),
                    process_base: 0,
                },
                tokio::time::Instant::now(),
                stop,
            ))
            .expect("interpreter run");
        let secs = started.elapsed().as_secs_f64();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "  concurrency {concurrency:>3}: {:>9.0} ops/s ({} ops in {:.2} s, {} history lines, {:.1} MB)",
            summary.invoked as f64 / secs,
            summary.invoked,
            secs,
            log.len(),
            size as f64 / 1e6
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
