//! The list-append workload: transactions over append-only lists, checked by Elle.
//!
//! ```text
//! ListAppendGen (rotating key pool, unique appends) ──► Txn ──► ListAppendClient<L: Lists>
//!     ──► target's atomic transaction ──► history (f txn) ──► checkers::elle::ListAppend
//! final phase: a read of every key the run appended to
//! ```
//!
//! Each transaction is a short list of micro-ops, `[append k v]` or `[r k]`, over a few
//! keys drawn from a small pool of active keys. Every value appended to a key is unique
//! (a per-key counter), so every read reveals the order of all appends before it: the
//! checker infers each key's version order and the dependency graph between
//! transactions from the reads alone, and finds cycles (G0, G1c, G-single, G2-item, …),
//! aborted and intermediate reads, lost appends (see `docs/elle.md`). A key is retired
//! for a fresh one after a bounded number of appends, so lists stay short and the
//! pool rotates through many keys, as Elle's `max-writes-per-key` does.
//!
//! Targets implement [`Lists`]: run the micro-ops in order as one atomic transaction,
//! and return the list each read saw. Outcomes: `ok` with the reads filled in; the
//! target decides which of its errors are definite ([`KvError`]): `fail` only when the
//! transaction certainly had no effect (a conflict it gave up retrying is one),
//! otherwise `info`.
//!
//! References: Kingsbury & Alvaro, "Elle" (VLDB 2020) §3.1 (list append); Jepsen's
//! `jepsen.tests.cycle.append` generator (`elle.list-append/gen`).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use checkers::check::Checker;
use checkers::elle::{ConsistencyModel, ListAppend, MicroOp, TxnValue};
use checkers::history::Key as HistoryKey;
use harness::generator::{Ctx, Generator, Poll};
use harness::history::Codec;
use harness::interpreter::{Client, Completion};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::kv::KvError;

/// A list key: the generator numbers them 0, 1, 2, …
pub type Key = u64;

/// One micro-op as the generator makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mop {
    /// Append `value` (unique for this key) to the key's list.
    Append { key: Key, value: i64 },
    /// Read the key's whole list.
    Read { key: Key },
}

impl Mop {
    pub fn key(&self) -> Key {
        match self {
            Mop::Append { key, .. } | Mop::Read { key } => *key,
        }
    }
}

/// A transaction: micro-ops to run in order, atomically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn(pub Vec<Mop>);

impl Txn {
    /// How many of its micro-ops are reads (the length of a successful answer).
    pub fn reads(&self) -> usize {
        self.0
            .iter()
            .filter(|m| matches!(m, Mop::Read { .. }))
            .count()
    }
}

impl fmt::Display for Txn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match m {
                Mop::Append { key, value } => write!(f, "[append k{key} {value}]")?,
                Mop::Read { key } => write!(f, "[r k{key}]")?,
            }
        }
        Ok(())
    }
}

/// One micro-op as a target receives it: the key by its name in the target's key space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListOp {
    Append { key: String, value: i64 },
    Read { key: String },
}

impl ListOp {
    pub fn key(&self) -> &str {
        match self {
            ListOp::Append { key, .. } | ListOp::Read { key } => key,
        }
    }
}

/// A store of append-only integer lists with atomic multi-key transactions, as the
/// list-append workload sees it. Each target maps its errors onto [`KvError`] in one table:
/// `Definite` only when the transaction certainly had no effect.
pub trait Lists: Send + Sync + 'static {
    /// Runs `ops` in order as one transaction (a read sees the transaction's own earlier
    /// appends; a missing key is the empty list). Returns, for each read, in order, the
    /// list it saw.
    fn txn(&self, ops: &[ListOp]) -> impl Future<Output = Result<Vec<Vec<i64>>, KvError>> + Send;
}

/// What the same micro-ops return run in order on `lists` (the serial semantics every
/// target must match; targets that compute a transaction's result client-side use it).
pub fn apply(lists: &mut BTreeMap<String, Vec<i64>>, ops: &[ListOp]) -> Vec<Vec<i64>> {
    let mut reads = Vec::new();
    for op in ops {
        match op {
            ListOp::Append { key, value } => lists.entry(key.clone()).or_default().push(*value),
            ListOp::Read { key } => reads.push(lists.get(key).cloned().unwrap_or_default()),
        }
    }
    reads
}

/// Settings of the list-append generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAppendOpts {
    /// Keys in the pool at once.
    pub active_keys: usize,
    /// Appends a key receives before it is retired for a fresh one.
    pub appends_per_key: u32,
    /// Micro-ops per transaction: drawn uniformly from this range (inclusive).
    pub min_txn_len: usize,
    pub max_txn_len: usize,
    /// Distinct keys one transaction touches, at most.
    pub keys_per_txn: usize,
    /// Relative weights of reads and appends among micro-ops.
    pub mix: [u32; 2],
}

impl Default for ListAppendOpts {
    /// Elle's defaults where it has them (1–4 micro-ops, 32 appends per key), and a
    /// pool small enough that concurrent transactions meet on the same keys.
    fn default() -> Self {
        ListAppendOpts {
            active_keys: 5,
            appends_per_key: 32,
            min_txn_len: 1,
            max_txn_len: 4,
            keys_per_txn: 2,
            mix: [1, 1],
        }
    }
}

impl ListAppendOpts {
    /// The same settings with every value made usable (at least one key, one micro-op,
    /// `min <= max`, a nonzero mix).
    fn normalized(self) -> ListAppendOpts {
        let min_txn_len = self.min_txn_len.max(1);
        ListAppendOpts {
            active_keys: self.active_keys.max(1),
            appends_per_key: self.appends_per_key.max(1),
            min_txn_len,
            max_txn_len: self.max_txn_len.max(min_txn_len),
            keys_per_txn: self.keys_per_txn.max(1),
            mix: if self.mix.iter().all(|w| *w == 0) {
                ListAppendOpts::default().mix
            } else {
                self.mix
            },
        }
    }
}

/// The list-append workload's transaction source: a pure generator.
#[derive(Debug, Clone)]
pub struct ListAppendGen {
    opts: ListAppendOpts,
    /// Active keys and how many appends each has had.
    active: Vec<(Key, u32)>,
    next_key: Key,
    /// Every key used so far, with its last appended value (the counter behind unique
    /// values).
    used: BTreeMap<Key, i64>,
}

impl ListAppendGen {
    pub fn new(opts: ListAppendOpts) -> Self {
        let opts = opts.normalized();
        ListAppendGen {
            opts,
            active: (0..opts.active_keys as Key).map(|k| (k, 0)).collect(),
            next_key: opts.active_keys as Key,
            used: BTreeMap::new(),
        }
    }

    pub fn opts(&self) -> ListAppendOpts {
        self.opts
    }

    /// Every key a transaction has touched so far (for the final reads).
    pub fn keys_used(&self) -> Vec<Key> {
        self.used.keys().copied().collect()
    }

    fn next_txn(&mut self, rng: &mut ChaCha8Rng) -> Txn {
        let o = self.opts;
        let len = rng.gen_range(o.min_txn_len..=o.max_txn_len);
        // The transaction's keys: distinct slots of the pool.
        let n_keys = o.keys_per_txn.min(self.active.len()).min(len);
        let mut slots: Vec<usize> = Vec::with_capacity(n_keys);
        while slots.len() < n_keys {
            let s = rng.gen_range(0..self.active.len());
            if !slots.contains(&s) {
                slots.push(s);
            }
        }
        let [r, a] = o.mix.map(u64::from);
        let mut ops = Vec::with_capacity(len);
        for _ in 0..len {
            let slot = slots[rng.gen_range(0..slots.len())];
            let key = self.active[slot].0;
            let counter = self.used.entry(key).or_insert(0);
            if rng.gen_range(0..r + a) < r {
                ops.push(Mop::Read { key });
            } else {
                *counter += 1;
                self.active[slot].1 += 1;
                ops.push(Mop::Append {
                    key,
                    value: *counter,
                });
            }
        }
        // Retire keys that had their appends, after the transaction: its appends to them
        // stay unique, and no later transaction touches them again.
        for slot in slots {
            if self.active[slot].1 >= o.appends_per_key {
                self.active[slot] = (self.next_key, 0);
                self.next_key += 1;
            }
        }
        Txn(ops)
    }
}

impl Generator for ListAppendGen {
    type Op = Txn;
    fn poll(&mut self, _ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<Txn> {
        Poll::Op(self.next_txn(rng))
    }
}

/// Read-only transactions over every key, a few keys each, for the final phase after the
/// faults are healed: the last word on every list (an acknowledged append missing from
/// it is a lost append).
pub struct FinalReads {
    keys: Vec<Key>,
    per_txn: usize,
    at: usize,
}

impl FinalReads {
    pub fn new(keys: Vec<Key>, per_txn: usize) -> Self {
        FinalReads {
            keys,
            per_txn: per_txn.max(1),
            at: 0,
        }
    }
}

impl Generator for FinalReads {
    type Op = Txn;
    fn poll(&mut self, _ctx: &Ctx, _rng: &mut ChaCha8Rng) -> Poll<Txn> {
        if self.at >= self.keys.len() {
            return Poll::Exhausted;
        }
        let end = (self.at + self.per_txn).min(self.keys.len());
        let txn = Txn(self.keys[self.at..end]
            .iter()
            .map(|&key| Mop::Read { key })
            .collect());
        self.at = end;
        Poll::Op(txn)
    }
}

/// The name a list key has in the target's key space.
pub fn key_name(key: Key) -> String {
    format!("faultline/list/{key}")
}

/// Runs transactions through any target's [`Lists`] client.
pub struct ListAppendClient<L> {
    lists: Arc<L>,
}

impl<L> ListAppendClient<L> {
    pub fn new(lists: Arc<L>) -> Self {
        ListAppendClient { lists }
    }
}

impl<L: Lists> Client for ListAppendClient<L> {
    type Input = Txn;
    /// For each read, in order, the list it saw.
    type Output = Vec<Vec<i64>>;

    async fn invoke(&mut self, input: &Txn) -> Completion<Vec<Vec<i64>>> {
        let ops: Vec<ListOp> = input
            .0
            .iter()
            .map(|m| match *m {
                Mop::Append { key, value } => ListOp::Append {
                    key: key_name(key),
                    value,
                },
                Mop::Read { key } => ListOp::Read { key: key_name(key) },
            })
            .collect();
        match self.lists.txn(&ops).await {
            Ok(reads) if reads.len() == input.reads() => Completion::Ok(reads),
            // The transaction went through but the answer is not one we can record:
            // whether it took effect is known, what it read is not.
            Ok(reads) => Completion::Info(format!(
                "answer with {} reads for a transaction with {}",
                reads.len(),
                input.reads()
            )),
            Err(KvError::Definite(m)) => Completion::Fail(m),
            Err(KvError::Indeterminate(m)) => Completion::Info(m),
        }
    }
}

/// Transactions in the history: Elle's `:f :txn` with `[append k v]` / `[r k vs]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListAppendCodec;

fn micro_ops(txn: &Txn, reads: Option<&[Vec<i64>]>) -> TxnValue {
    let mut next_read = 0;
    TxnValue(
        txn.0
            .iter()
            .map(|m| match *m {
                Mop::Append { key, value } => MicroOp::append(history_key(key), value),
                Mop::Read { key } => {
                    let seen = reads.and_then(|r| r.get(next_read)).cloned();
                    next_read += 1;
                    match seen {
                        Some(list) => MicroOp::read(history_key(key), list),
                        None => MicroOp::read_unknown(history_key(key)),
                    }
                }
            })
            .collect(),
    )
}

fn history_key(key: Key) -> HistoryKey {
    // Keys are counted from 0 by one generator; they never reach i64::MAX.
    HistoryKey::Int(i64::try_from(key).unwrap_or(i64::MAX))
}

impl Codec for ListAppendCodec {
    type Input = Txn;
    type Output = Vec<Vec<i64>>;
    type Payload = TxnValue;

    /// A transaction spans keys: the history is not split per key.
    fn key(&self, _input: &Txn) -> Option<HistoryKey> {
        None
    }

    fn invoked(&self, input: &Txn) -> TxnValue {
        micro_ops(input, None)
    }

    fn completed(&self, input: &Txn, completion: &Completion<Vec<Vec<i64>>>) -> TxnValue {
        match completion {
            Completion::Ok(reads) => micro_ops(input, Some(reads)),
            _ => micro_ops(input, None),
        }
    }
}

/// The list-append workload, for any target whose client speaks [`Lists`].
pub struct ListAppendWorkload<L> {
    gen: Arc<Mutex<ListAppendGen>>,
    model: ConsistencyModel,
    _lists: std::marker::PhantomData<fn() -> L>,
}

impl<L> ListAppendWorkload<L> {
    /// Transactions from `opts`, checked against `model` (strict serializability is
    /// what every bundled and real target here promises).
    pub fn new(opts: ListAppendOpts, model: ConsistencyModel) -> Self {
        ListAppendWorkload {
            gen: Arc::new(Mutex::new(ListAppendGen::new(opts))),
            model,
            _lists: std::marker::PhantomData,
        }
    }
}

/// The one generator of a run, shared so the final phase can read every key used.
struct SharedGen(Arc<Mutex<ListAppendGen>>);

impl Generator for SharedGen {
    type Op = Txn;
    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<Txn> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .poll(ctx, rng)
    }
}

impl<L: Lists> harness::run::Workload for ListAppendWorkload<L> {
    type Client = ListAppendClient<L>;
    type Codec = ListAppendCodec;

    fn name(&self) -> &'static str {
        "list-append"
    }

    fn generator(&mut self) -> Box<dyn Generator<Op = Txn>> {
        Box::new(SharedGen(Arc::clone(&self.gen)))
    }

    fn final_generator(&mut self) -> Option<Box<dyn Generator<Op = Txn>>> {
        let gen = self.gen.lock().unwrap_or_else(|e| e.into_inner());
        let per_txn = gen.opts().keys_per_txn.max(4);
        Some(Box::new(FinalReads::new(gen.keys_used(), per_txn)))
    }

    fn codec(&self) -> ListAppendCodec {
        ListAppendCodec
    }

    /// Elle's list-append checker. Nothing else applies: every op is a transaction, so
    /// there are no single-key registers for linearizability (the run adds split-brain
    /// and liveness).
    fn checkers(&self) -> Vec<Box<dyn Checker>> {
        let mut elle = ListAppend::default();
        elle.options.consistency_model = self.model;
        vec![Box::new(elle)]
    }

    /// A transaction that appends is a write; the run counts only ok `txn`s.
    fn writes(&self) -> &'static [&'static str] {
        &["txn"]
    }
}

#[cfg(test)]
mod tests;
