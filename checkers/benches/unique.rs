//! `cargo bench -p checkers --bench unique`: the unique-values check beside the general
//! search on generated cas-register histories that defeat the search (issue 17).
//!
//! Histories (seeded, so every run checks the same ones; "ops" are invocations, each
//! with its completion, so a file has about twice as many lines):
//! - `c50-20k`: one key, 50 processes, 20,000 ops;
//! - `c100-100k`: one key, 100 processes, 100,000 ops;
//! - `k100-500k`: 100 keys, 100 processes, 500,000 ops;
//!
//! each `-valid` (generated from a sequential register with random real-time overlap,
//! 0.5 % indeterminate ops, failed cas ops) and `-invalid` (one stale read planted in the
//! middle). Before divan's table (the unique-values check only), `main` prints one run of
//! each path per history: verdict, time and peak heap (a counting allocator, reset
//! before each check), with the search under `faultline check`'s default budget (60 s,
//! 1 GiB); given a filter, only divan's part runs. It also writes the histories as JSON Lines under the target directory
//! (`unique-bench/`), for `faultline check --bench --algorithm …` end to end.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use checkers::history::{History, HistoryWriter, Kind, Op};
use checkers::linearizability::{check_register, Algorithm, Options};
use checkers::model::{CasOp, CasRegister};
use checkers::verdict::{Method, Validity, Verdict};
use divan::Bencher;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The system allocator, counting bytes held and their peak.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = HELD.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                HELD.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A generated history's shape.
#[derive(Debug, Clone, Copy)]
struct Shape {
    name: &'static str,
    procs: usize,
    ops: usize,
    keys: usize,
    invalid: bool,
}

const SHAPES: [Shape; 6] = [
    Shape {
        name: "c50-20k-valid",
        procs: 50,
        ops: 20_000,
        keys: 1,
        invalid: false,
    },
    Shape {
        name: "c50-20k-invalid",
        procs: 50,
        ops: 20_000,
        keys: 1,
        invalid: true,
    },
    Shape {
        name: "c100-100k-valid",
        procs: 100,
        ops: 100_000,
        keys: 1,
        invalid: false,
    },
    Shape {
        name: "c100-100k-invalid",
        procs: 100,
        ops: 100_000,
        keys: 1,
        invalid: true,
    },
    Shape {
        name: "k100-500k-valid",
        procs: 100,
        ops: 500_000,
        keys: 100,
        invalid: false,
    },
    Shape {
        name: "k100-500k-invalid",
        procs: 100,
        ops: 500_000,
        keys: 100,
        invalid: true,
    },
];

/// What a process is doing.
enum Busy {
    Idle,
    /// Invoked, not yet taken effect.
    Invoked(CasOp, i64),
    /// Took effect with this completion (`None`: a cas that found another value).
    Applied(CasOp, i64, Option<CasOp>),
}

/// A linearizable history: each op takes effect at a random step between its
/// invocation and completion; processes are picked at random, so with `procs`
/// processes about `procs` ops overlap at any time.
fn generate(shape: Shape, seed: u64) -> Vec<Op<CasOp>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state: Vec<Option<i64>> = vec![None; shape.keys];
    let mut recent: Vec<Vec<i64>> = vec![Vec::new(); shape.keys];
    let mut pids: Vec<u64> = (0..shape.procs as u64).collect();
    let mut busy: Vec<Busy> = (0..shape.procs).map(|_| Busy::Idle).collect();
    let mut ops: Vec<Op<CasOp>> = Vec::with_capacity(shape.ops * 2 + shape.procs);
    let mut next = 0i64;
    let mut invoked = 0;
    let push = |ops: &mut Vec<Op<CasOp>>, pid: u64, kind: Kind, op: CasOp, key: i64| {
        let i = ops.len() as u64;
        ops.push(Op::client(i, i * 1000, pid, kind, op).with_key(key));
    };
    while invoked < shape.ops || busy.iter().any(|b| !matches!(b, Busy::Idle)) {
        let p = rng.gen_range(0..shape.procs);
        match std::mem::replace(&mut busy[p], Busy::Idle) {
            Busy::Idle if invoked < shape.ops => {
                let key = rng.gen_range(0..shape.keys);
                next += 1;
                let op = match rng.gen_range(0..4) {
                    0 | 1 => CasOp::Read(None),
                    2 => CasOp::Write(next),
                    _ => {
                        let from = match (state[key], rng.gen_bool(0.5)) {
                            (Some(v), true) => v,
                            _ if !recent[key].is_empty() => {
                                recent[key][rng.gen_range(0..recent[key].len())]
                            }
                            _ => next,
                        };
                        CasOp::Cas { from, to: next }
                    }
                };
                push(&mut ops, pids[p], Kind::Invoke, op.clone(), key as i64);
                busy[p] = Busy::Invoked(op, key as i64);
                invoked += 1;
            }
            Busy::Idle => {}
            Busy::Invoked(op, key) => {
                if rng.gen_range(0..1000) < 3 {
                    // Timed out before it took effect.
                    push(&mut ops, pids[p], Kind::Info, op, key);
                    pids[p] += shape.procs as u64;
                    continue;
                }
                let k = key as usize;
                let out = match op {
                    CasOp::Read(_) => Some(CasOp::Read(state[k])),
                    CasOp::Write(v) => {
                        state[k] = Some(v);
                        Some(op.clone())
                    }
                    CasOp::Cas { from, to } => (state[k] == Some(from)).then(|| {
                        state[k] = Some(to);
                        op.clone()
                    }),
                };
                if let Some(CasOp::Write(v) | CasOp::Cas { to: v, .. }) = out {
                    recent[k].push(v);
                    if recent[k].len() > 4 {
                        recent[k].remove(0);
                    }
                }
                busy[p] = Busy::Applied(op, key, out);
            }
            Busy::Applied(op, key, out) => match out {
                None => push(&mut ops, pids[p], Kind::Fail, op, key),
                Some(_) if rng.gen_range(0..1000) < 2 => {
                    // Took effect, but the client never heard back.
                    push(&mut ops, pids[p], Kind::Info, op, key);
                    pids[p] += shape.procs as u64;
                }
                Some(done) => push(&mut ops, pids[p], Kind::Ok, done, key),
            },
        }
    }
    if shape.invalid {
        plant_stale_read(&mut ops);
    }
    ops
}

/// Makes an ok read in the middle return the value of a write that a later write
/// replaced before the read began (both writes completed before it): a stale read.
fn plant_stale_read(ops: &mut [Op<CasOp>]) {
    let key_of = |o: &Op<CasOp>| o.key.clone();
    let mid = ops.len() / 2;
    let read_ok = (mid..ops.len())
        .find(|&i| ops[i].kind == Kind::Ok && matches!(ops[i].payload(), Some(CasOp::Read(_))))
        .expect("a completed read after the middle");
    let p = ops[read_ok].process;
    let read_inv = (0..read_ok)
        .rev()
        .find(|&i| ops[i].process == p)
        .expect("its invocation");
    let key = key_of(&ops[read_ok]);
    // Completed writes of the key before the read began: (invocation, completion, value).
    let mut pending: std::collections::BTreeMap<u64, usize> = Default::default();
    let mut done: Vec<(usize, usize, i64)> = Vec::new();
    for (i, o) in ops[..read_inv].iter().enumerate() {
        if key_of(o) != key {
            continue;
        }
        let checkers::history::Process::Client(pid) = o.process else {
            continue;
        };
        match (o.kind, o.payload()) {
            (Kind::Invoke, _) => {
                pending.insert(pid.0, i);
            }
            (Kind::Ok, Some(CasOp::Write(v) | CasOp::Cas { to: v, .. })) => {
                if let Some(inv) = pending.remove(&pid.0) {
                    done.push((inv, i, *v));
                }
            }
            _ => {
                pending.remove(&pid.0);
            }
        }
    }
    // The last completed write, and one that completed before it was invoked.
    let &(later_inv, _, _) = done.last().expect("writes before the read");
    let &(_, _, stale) = done
        .iter()
        .rev()
        .find(|(_, ret, _)| *ret < later_inv)
        .expect("an earlier write");
    ops[read_ok].body = checkers::history::Body::Client(CasOp::Read(Some(stale)));
}

fn history(shape: Shape) -> History<CasOp> {
    History::new(generate(shape, 17)).expect("generated histories are well-formed")
}

fn check(h: &History<CasOp>, algorithm: Algorithm) -> Verdict {
    check_register(h, &CasRegister, Options::default(), algorithm)
}

fn mib(b: usize) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// One check, measured: (verdict, seconds, peak heap bytes above what was held before).
fn measured(h: &History<CasOp>, algorithm: Algorithm) -> (Verdict, f64, usize) {
    let base = HELD.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let v = check(h, algorithm);
    let secs = t.elapsed().as_secs_f64();
    (v, secs, PEAK.load(Ordering::Relaxed) - base)
}

fn write_file(dir: &std::path::Path, name: &str, h: &History<CasOp>) {
    let path = dir.join(format!("{name}.jsonl"));
    let mut w = HistoryWriter::new(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    ));
    for op in h.ops() {
        w.append(op)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

fn main() {
    // With a filter (`cargo bench --bench unique -- c50`), only divan's part runs.
    if std::env::args().skip(1).any(|a| !a.starts_with('-')) {
        divan::main();
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, as a smoke test of the table's two smallest histories (verdicts still asserted).
    let measuring = std::env::args().any(|a| a == "--bench");
    let shapes = if measuring { &SHAPES[..] } else { &SHAPES[..2] };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("unique-bench");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    println!(
        "{:<18} {:>8} {:>6} | {:>12} {:>10} {:>9} | {:>12} {:>10} {:>9}",
        "history", "ops", "keys", "unique", "time", "peak", "search", "time", "peak"
    );
    for &shape in shapes {
        let before = HELD.load(Ordering::Relaxed);
        let h = history(shape);
        let history_bytes = HELD.load(Ordering::Relaxed) - before;
        write_file(&dir, shape.name, &h);
        let (u, ut, um) = measured(&h, Algorithm::UniqueValues);
        assert!(u.keys.iter().all(|k| k.method == Method::UniqueValues));
        let expect = if shape.invalid {
            Validity::Invalid
        } else {
            Validity::Valid
        };
        assert_eq!(u.valid, expect, "{}: {u}", shape.name);
        if shape.invalid {
            let a = &u.anomalies[0];
            let named = a.stuck_at.iter().count() + a.candidates.len();
            assert!(
                named >= 2,
                "{}: the violating ops are named: {u}",
                shape.name
            );
        }
        let (s, st, sm) = measured(&h, Algorithm::Search);
        let word = |v: &Verdict| match v.keys.iter().find_map(|k| k.reason) {
            Some(r) if v.valid == Validity::Unknown => format!(
                "unknown ({})",
                serde_json::to_string(&r).unwrap_or_default()
            )
            .replace('"', ""),
            _ => v.valid.word().to_owned(),
        };
        println!(
            "{:<18} {:>8} {:>6} | {:>12} {:>8.3} s {:>5.1} MiB | {:>12} {:>8.3} s {:>5.1} MiB   (history {:.1} MiB)",
            shape.name,
            shape.ops,
            shape.keys,
            word(&u),
            ut,
            mib(um),
            word(&s),
            st,
            mib(sm),
            mib(history_bytes),
        );
    }
    println!("histories written to {}", dir.display());
    divan::main();
}

/// The unique-values check alone, per history (the history is built outside the timing).
#[divan::bench(args = SHAPES.map(|s| s.name), sample_count = 10)]
fn unique_values(bencher: Bencher, name: &str) {
    let shape = SHAPES
        .into_iter()
        .find(|s| s.name == name)
        .expect("a known shape");
    let h = history(shape);
    bencher.bench_local(|| check(&h, Algorithm::UniqueValues).valid);
}

/// The search on the multi-key histories (it gives up on the single-key ones: see the
/// table `main` prints).
#[divan::bench(args = ["k100-500k-valid", "k100-500k-invalid"], sample_count = 10)]
fn search(bencher: Bencher, name: &str) {
    let shape = SHAPES
        .into_iter()
        .find(|s| s.name == name)
        .expect("a known shape");
    let h = history(shape);
    bencher.bench_local(|| check(&h, Algorithm::Search).valid);
}
