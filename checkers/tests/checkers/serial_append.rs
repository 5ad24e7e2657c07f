//! A serial executor of random list-append transactions, for property tests and
//! benches: transactions take effect one at a time, against one map of lists, at a
//! point between their invocation and their completion, so every history it writes
//! is strict-serializable by construction.
//!
//! Shared with `benches/elle.rs` and `examples/list_append_history.rs` via `#[path]`.
//! Keys rotate as in Jepsen's list-append generator: a key retires after
//! `appends_per_key` appends and a fresh one takes its place, so lists stay short.

#![allow(dead_code)]

use std::collections::BTreeMap;

use checkers::elle::{At, MicroOp, Outcome, Txn};
use checkers::history::{Key, ProcessId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// The shape of a generated history.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub txns: usize,
    /// Client processes at once (1: no two transactions overlap).
    pub concurrency: usize,
    /// Keys in use at any time.
    pub active_keys: u64,
    /// Appends before a key is retired.
    pub appends_per_key: i64,
    pub max_txn_len: usize,
    /// Chance (%) that a micro-op is a read.
    pub read_pct: u32,
    /// Chance (%) that a transaction fails (takes no effect).
    pub fail_pct: u32,
    /// Chance (%) that a transaction ends indeterminate (it took effect or not, half
    /// and half).
    pub info_pct: u32,
}

impl Shape {
    /// A small shape for property tests.
    pub fn small(txns: usize, concurrency: usize) -> Shape {
        Shape {
            txns,
            concurrency,
            active_keys: 4,
            appends_per_key: 8,
            max_txn_len: 4,
            read_pct: 50,
            fail_pct: 5,
            info_pct: 5,
        }
    }

    /// Jepsen-like defaults for benches: 10 keys of up to 32 appends, 4 micro-ops.
    pub fn bench(txns: usize) -> Shape {
        Shape {
            txns,
            concurrency: 10,
            active_keys: 10,
            appends_per_key: 32,
            max_txn_len: 4,
            read_pct: 50,
            fail_pct: 1,
            info_pct: 1,
        }
    }
}

struct Pending {
    slot: usize,
    id: usize,
    applied: bool,
    /// Ends info (decided at invocation); applied or not decided when it ends.
    info: bool,
    fail: bool,
}

/// Generates a history; the transactions are in invocation order.
pub fn generate(seed: u64, shape: Shape) -> Vec<Txn> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    let mut keys: Vec<u64> = (0..shape.active_keys).collect();
    let mut next_key = shape.active_keys;
    let mut next_elem: BTreeMap<u64, i64> = BTreeMap::new();
    let mut pids: Vec<u64> = (0..shape.concurrency as u64).collect();
    let mut next_pid = shape.concurrency as u64;
    let mut busy = vec![false; shape.concurrency];
    let mut txns: Vec<Txn> = Vec::with_capacity(shape.txns);
    let mut pending: Vec<Pending> = Vec::new();
    let mut clock = 0u64;
    let mut tick = || {
        clock += 1;
        clock - 1
    };
    while txns.len() < shape.txns || !pending.is_empty() {
        let can_invoke = txns.len() < shape.txns && busy.iter().any(|b| !b);
        let choice = rng.gen_range(0..3);
        if can_invoke && (choice == 0 || pending.is_empty()) {
            let free: Vec<usize> = (0..busy.len()).filter(|&i| !busy[i]).collect();
            let slot = free[rng.gen_range(0..free.len())];
            busy[slot] = true;
            let len = rng.gen_range(1..=shape.max_txn_len);
            let mut ops = Vec::with_capacity(len);
            for _ in 0..len {
                let k = keys[rng.gen_range(0..keys.len())];
                if rng.gen_range(0..100) < shape.read_pct {
                    ops.push(MicroOp::read_unknown(Key::Int(k as i64)));
                } else {
                    let n = next_elem.entry(k).or_insert(1);
                    ops.push(MicroOp::append(Key::Int(k as i64), *n));
                    *n += 1;
                    if *n > shape.appends_per_key {
                        let i = keys.iter().position(|&x| x == k).expect("active key");
                        keys[i] = next_key;
                        next_key += 1;
                    }
                }
            }
            let roll = rng.gen_range(0..100);
            let id = txns.len();
            txns.push(Txn {
                process: ProcessId(pids[slot]),
                outcome: Outcome::Ok,
                invoke: At::index(tick()),
                complete: None,
                ops,
            });
            pending.push(Pending {
                slot,
                id,
                applied: false,
                info: roll < shape.info_pct,
                fail: roll >= shape.info_pct && roll < shape.info_pct + shape.fail_pct,
            });
            continue;
        }
        if pending.is_empty() {
            continue;
        }
        let i = rng.gen_range(0..pending.len());
        let p = &mut pending[i];
        if !p.applied {
            p.applied = true;
            let takes_effect = !p.fail && (!p.info || rng.gen_bool(0.5));
            if takes_effect {
                for op in &mut txns[p.id].ops {
                    let k = match op.key() {
                        Key::Int(k) => *k as u64,
                        Key::Str(_) => unreachable!("generated keys are integers"),
                    };
                    match op {
                        MicroOp::Append { elem, .. } => state.entry(k).or_default().push(*elem),
                        MicroOp::Read { elems, .. } => {
                            *elems = Some(state.get(&k).cloned().unwrap_or_default())
                        }
                    }
                }
            }
            continue;
        }
        let p = pending.swap_remove(i);
        let t = &mut txns[p.id];
        t.complete = Some(At::index(tick()));
        busy[p.slot] = false;
        if p.fail || p.info {
            t.outcome = if p.fail { Outcome::Fail } else { Outcome::Info };
            for op in &mut t.ops {
                if let MicroOp::Read { elems, .. } = op {
                    *elems = None;
                }
            }
            if p.info {
                pids[p.slot] = next_pid;
                next_pid += 1;
            }
        }
    }
    txns
}

/// The history as faultline JSON Lines: invocations and completions in index order.
pub fn to_jsonl(txns: &[Txn]) -> String {
    let value = |ops: &[MicroOp], invoke: bool| -> serde_json::Value {
        serde_json::Value::Array(
            ops.iter()
                .map(|op| match op {
                    MicroOp::Append { key, elem } => json!(["append", key, elem]),
                    MicroOp::Read { key, elems } => {
                        json!(["r", key, if invoke { None } else { elems.clone() }])
                    }
                })
                .collect(),
        )
    };
    let mut lines: Vec<(u64, String)> = Vec::with_capacity(txns.len() * 2);
    for t in txns {
        lines.push((
            t.invoke.index,
            json!({"index": t.invoke.index, "process": t.process, "type": "invoke", "f": "txn",
                   "value": value(&t.ops, true)})
            .to_string(),
        ));
        if let Some(c) = t.complete {
            lines.push((
                c.index,
                json!({"index": c.index, "process": t.process, "type": t.outcome.as_str(),
                       "f": "txn", "value": value(&t.ops, t.outcome != Outcome::Ok)})
                .to_string(),
            ));
        }
    }
    lines.sort_by_key(|l| l.0);
    let mut out = String::new();
    for (_, l) in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}
