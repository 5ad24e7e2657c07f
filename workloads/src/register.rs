//! The register workload: independent linearizable registers.
//!
//! ```text
//! RegisterGen (keys rotate, unique writes) ──► KeyedOp ──► RegisterClient<K: Kv> ──► target
//!                                                 history ──► cas-register model per key
//! ```
//!
//! Clients read, write and compare-and-set integer registers under many keys at once.
//! Each key is one independent register (Jepsen's `independent` keys): the checker
//! decomposes the history per key (P-compositionality), and since each key only sees a
//! bounded number of operations before the generator retires it, every per-key search
//! stays small however long the run is.
//!
//! Writes use values unique per key, so a read names exactly the write it saw: a
//! stale read or a lost write cannot hide behind a repeated value, and every key is
//! decided by the polynomial unique-values check
//! (`checkers::linearizability::check_register`), whatever the concurrency.
//!
//! Outcomes: a failed compare-and-set (the value was not `from`) is a definite `Fail`;
//! the target client decides which of its other errors are definite ([`KvError`]).
//!
//! References: Jepsen's `jepsen.tests.linearizable-register` and `jepsen.independent`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use checkers::check::{CheckInput, Checker, CheckerResult};
use checkers::history::{History, Key as HistoryKey, Kind, Payload, PayloadError, Process};
use checkers::linearizability::{check_register, Algorithm, Budget, Options};
use checkers::model::{CasOp, CasRegister};
use checkers::monotonic_reads::{MonotonicReads, PositionedValue};
use checkers::verdict::{Method, Validity};
use harness::generator::{Ctx, Generator, Poll};
use harness::history::Codec;
use harness::interpreter::{Client, Completion};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::kv::{Kv, KvError};

/// A register key: the generator numbers them 0, 1, 2, …
pub type Key = u64;

/// An operation on one register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "lowercase")]
pub enum RegisterOp {
    Read,
    Write(i64),
    /// Set to `to` only if the value is `from`.
    Cas {
        from: i64,
        to: i64,
    },
}

/// What a completed operation returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterResult {
    /// The value read (`None`: the key was never written).
    Read(Option<i64>),
    /// The value read, and where it was served (reads weaker than linearizable).
    ReadAt {
        value: Option<i64>,
        position: u64,
        node: Option<String>,
    },
    /// A write or a successful compare-and-set took effect.
    Done,
}

/// What the register workload's reads promise, and so how they are checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reads {
    /// Reads are linearizable: checked with the writes, per key.
    #[default]
    Linearizable,
    /// Reads are only sequentially consistent (ZooKeeper's plain reads): each read
    /// records the position it was served at, the writes are checked for
    /// linearizability without them, and each client's reads must never go back
    /// (`checkers::monotonic_reads`).
    Sequential,
}

/// A register op as the history records it: the cas-register model's payload, or a
/// read that says where it was served (value `{"value": v, "position": p, "node": n}`).
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterPayload {
    Cas(CasOp),
    ReadAt(PositionedValue),
}

impl Payload for RegisterPayload {
    fn f(&self) -> &'static str {
        match self {
            RegisterPayload::Cas(op) => op.f(),
            RegisterPayload::ReadAt(_) => "read",
        }
    }

    fn value(&self) -> serde_json::Value {
        match self {
            RegisterPayload::Cas(op) => op.value(),
            RegisterPayload::ReadAt(v) => checkers::check::details(v),
        }
    }

    fn decode(f: &str, value: &serde_json::Value, kind: Kind) -> Result<Self, PayloadError> {
        if f == "read" && value.is_object() {
            return serde_json::from_value(value.clone())
                .map(RegisterPayload::ReadAt)
                .map_err(|e| PayloadError(format!("a positioned read: {e}")));
        }
        CasOp::decode(f, value, kind).map(RegisterPayload::Cas)
    }
}

/// An operation on a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyedOp {
    pub key: Key,
    pub op: RegisterOp,
}

impl fmt::Display for KeyedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            RegisterOp::Read => write!(f, "read k{}", self.key),
            RegisterOp::Write(v) => write!(f, "write k{} := {v}", self.key),
            RegisterOp::Cas { from, to } => write!(f, "cas k{} {from} → {to}", self.key),
        }
    }
}

/// Settings of the register generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterOpts {
    /// Keys in use at once.
    pub active_keys: usize,
    /// Operations a key receives before it is retired for a fresh one.
    pub ops_per_key: u32,
    /// Relative weights of read, write and cas.
    pub mix: [u32; 3],
}

impl Default for RegisterOpts {
    fn default() -> Self {
        RegisterOpts {
            active_keys: 5,
            ops_per_key: 100,
            mix: [2, 1, 1],
        }
    }
}

/// The register workload's op source: a pure generator (see `harness::generator`).
#[derive(Debug, Clone)]
pub struct RegisterGen {
    opts: RegisterOpts,
    /// Active keys and how many ops each has had.
    active: Vec<(Key, u32)>,
    next_key: Key,
    /// Per key: the last values written (for plausible cas `from`s) and the counter
    /// behind unique values.
    written: BTreeMap<Key, KeyValues>,
}

#[derive(Debug, Clone, Default)]
struct KeyValues {
    next: i64,
    recent: Vec<i64>,
}

impl RegisterGen {
    pub fn new(opts: RegisterOpts) -> Self {
        let opts = RegisterOpts {
            active_keys: opts.active_keys.max(1),
            ops_per_key: opts.ops_per_key.max(1),
            mix: if opts.mix.iter().all(|w| *w == 0) {
                RegisterOpts::default().mix
            } else {
                opts.mix
            },
        };
        let active = (0..opts.active_keys as Key).map(|k| (k, 0)).collect();
        RegisterGen {
            opts,
            active,
            next_key: opts.active_keys as Key,
            written: BTreeMap::new(),
        }
    }

    /// Every key that has received an operation so far (for the final reads).
    pub fn keys_used(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self.written.keys().copied().collect();
        keys.extend(self.active.iter().filter(|(_, n)| *n > 0).map(|(k, _)| *k));
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    fn next_op(&mut self, rng: &mut ChaCha8Rng) -> KeyedOp {
        let slot = rng.gen_range(0..self.active.len());
        let key = self.active[slot].0;
        self.active[slot].1 += 1;
        if self.active[slot].1 >= self.opts.ops_per_key {
            self.active[slot] = (self.next_key, 0);
            self.next_key += 1;
        }
        let [r, w, c] = self.opts.mix.map(u64::from);
        let pick = rng.gen_range(0..r + w + c);
        let values = self.written.entry(key).or_default();
        let op = if pick < r {
            RegisterOp::Read
        } else {
            values.next += 1;
            let fresh = values.next;
            let op = if pick < r + w || values.recent.is_empty() {
                RegisterOp::Write(fresh)
            } else {
                let from = values.recent[rng.gen_range(0..values.recent.len())];
                RegisterOp::Cas { from, to: fresh }
            };
            values.recent.push(fresh);
            if values.recent.len() > 3 {
                values.recent.remove(0);
            }
            op
        };
        KeyedOp { key, op }
    }
}

impl Generator for RegisterGen {
    type Op = KeyedOp;
    fn poll(&mut self, _ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<KeyedOp> {
        Poll::Op(self.next_op(rng))
    }
}

/// One read of each key, for the final phase after the faults are healed.
pub struct FinalReads {
    keys: std::vec::IntoIter<Key>,
}

impl FinalReads {
    pub fn new(keys: Vec<Key>) -> Self {
        FinalReads {
            keys: keys.into_iter(),
        }
    }
}

impl Generator for FinalReads {
    type Op = KeyedOp;
    fn poll(&mut self, _ctx: &Ctx, _rng: &mut ChaCha8Rng) -> Poll<KeyedOp> {
        match self.keys.next() {
            Some(key) => Poll::Op(KeyedOp {
                key,
                op: RegisterOp::Read,
            }),
            None => Poll::Exhausted,
        }
    }
}

/// The name a register key has in the target's key space.
pub fn key_name(key: Key) -> String {
    format!("faultline/register/{key}")
}

/// Runs register operations through any target's [`Kv`] client.
pub struct RegisterClient<K> {
    kv: Arc<K>,
    reads: Reads,
}

impl<K> RegisterClient<K> {
    pub fn new(kv: Arc<K>) -> Self {
        RegisterClient {
            kv,
            reads: Reads::Linearizable,
        }
    }

    /// Reads with [`Reads::Sequential`] ask the target where each read was served.
    pub fn with_reads(mut self, reads: Reads) -> Self {
        self.reads = reads;
        self
    }
}

impl<K: Kv> Client for RegisterClient<K> {
    type Input = KeyedOp;
    type Output = RegisterResult;

    async fn invoke(&mut self, input: &KeyedOp) -> Completion<RegisterResult> {
        let name = key_name(input.key);
        match input.op {
            RegisterOp::Read if self.reads == Reads::Sequential => {
                match self.kv.read_positioned(&name).await {
                    Ok(r) => match r.value.as_deref().map(str::parse::<i64>).transpose() {
                        Ok(value) => Completion::Ok(RegisterResult::ReadAt {
                            value,
                            position: r.position,
                            node: r.node,
                        }),
                        Err(_) => Completion::Fail(format!(
                            "read a value that is not an integer: {:?}",
                            r.value
                        )),
                    },
                    Err(e) => read_error(e),
                }
            }
            RegisterOp::Read => match self.kv.read(&name).await {
                Ok(None) => Completion::Ok(RegisterResult::Read(None)),
                Ok(Some(s)) => match s.parse::<i64>() {
                    Ok(v) => Completion::Ok(RegisterResult::Read(Some(v))),
                    // A read has no effect, so whatever went wrong it changed nothing.
                    Err(_) => {
                        Completion::Fail(format!("read a value that is not an integer: {s:?}"))
                    }
                },
                Err(e) => read_error(e),
            },
            RegisterOp::Write(v) => match self.kv.write(&name, &v.to_string()).await {
                Ok(()) => Completion::Ok(RegisterResult::Done),
                Err(e) => classify(e),
            },
            RegisterOp::Cas { from, to } => {
                match self.kv.cas(&name, &from.to_string(), &to.to_string()).await {
                    Ok(true) => Completion::Ok(RegisterResult::Done),
                    Ok(false) => {
                        Completion::Fail(format!("precondition failed: value was not {from}"))
                    }
                    Err(e) => classify(e),
                }
            }
        }
    }
}

/// Register ops in the history: the cas-register model's payload under the op's key.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegisterCodec;

impl Codec for RegisterCodec {
    type Input = KeyedOp;
    type Output = RegisterResult;
    type Payload = RegisterPayload;

    fn key(&self, input: &KeyedOp) -> Option<HistoryKey> {
        i64::try_from(input.key).ok().map(HistoryKey::Int)
    }

    fn invoked(&self, input: &KeyedOp) -> RegisterPayload {
        RegisterPayload::Cas(match input.op {
            RegisterOp::Read => CasOp::Read(None),
            RegisterOp::Write(v) => CasOp::Write(v),
            RegisterOp::Cas { from, to } => CasOp::Cas { from, to },
        })
    }

    fn completed(
        &self,
        input: &KeyedOp,
        completion: &Completion<RegisterResult>,
    ) -> RegisterPayload {
        match completion {
            Completion::Ok(RegisterResult::Read(v)) => RegisterPayload::Cas(CasOp::Read(*v)),
            Completion::Ok(RegisterResult::ReadAt {
                value,
                position,
                node,
            }) => RegisterPayload::ReadAt(PositionedValue {
                value: serde_json::json!(value),
                position: *position,
                node: node.clone(),
            }),
            _ => self.invoked(input),
        }
    }
}

/// The register workload's checker: linearizability per key with the cas-register
/// model ([`check`]). With [`Reads::Sequential`] the reads are left out (they promise
/// less) and the writes and compare-and-sets are checked on their own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linearizability {
    pub reads: Reads,
}

impl Checker for Linearizability {
    fn name(&self) -> &str {
        "linearizability"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<CheckerResult, checkers::InputError> {
        if self.reads == Reads::Linearizable {
            let history = History::<CasOp>::from_records(input.records)?;
            return Ok(check(&history, input.budget));
        }
        let writes: Vec<checkers::history::Record> = input
            .records
            .iter()
            .filter(|r| !(r.f == "read" && matches!(r.process, Process::Client(_))))
            .cloned()
            .collect();
        let history = History::<CasOp>::from_records(&writes)?;
        let mut result = check(&history, input.budget);
        if let Some(first) = result.summary.first_mut() {
            *first = format!("{first} (writes and compare-and-set only: reads are sequential)");
        }
        Ok(result)
    }
}

/// Checks a register history for linearizability, per key, within `budget`: keys whose
/// values are unique (all of them, from this workload's generator) by the unique-values
/// check, any other by the search.
pub fn check(history: &History<CasOp>, budget: Budget) -> CheckerResult {
    let options = Options {
        budget,
        ..Options::default()
    };
    let verdict = check_register(history, &CasRegister, options, Algorithm::UniqueValues);
    let searched = verdict
        .keys
        .iter()
        .filter(|k| k.method == Method::Search)
        .count();
    let summary = match verdict.valid {
        Validity::Valid if searched == 0 => vec![format!(
            "{} keys linearizable ({} ops, unique-values check)",
            verdict.keys.len(),
            verdict.stats.ops
        )],
        Validity::Valid => vec![format!(
            "{} keys linearizable ({} ops; {searched} keys by the search: {})",
            verdict.keys.len(),
            verdict.stats.ops,
            verdict
                .keys
                .iter()
                .find_map(|k| k.fallback.clone())
                .unwrap_or_default()
        )],
        // Anomalies first (the per-key lines of fine keys stay in the details).
        _ => verdict.summary_lines(),
    };
    CheckerResult {
        name: "linearizability".into(),
        valid: verdict.valid,
        summary,
        millis: verdict.stats.micros / 1000,
        details: checkers::check::details(&verdict),
    }
}

fn classify(e: KvError) -> Completion<RegisterResult> {
    match e {
        KvError::Definite(m) => Completion::Fail(m),
        KvError::Indeterminate(m) => Completion::Info(m),
    }
}

/// A read that failed in any way changed nothing, so it is a definite failure.
fn read_error(e: KvError) -> Completion<RegisterResult> {
    match e {
        KvError::Definite(m) | KvError::Indeterminate(m) => Completion::Fail(m),
    }
}

/// The register workload, for any target whose client speaks [`Kv`].
pub struct RegisterWorkload<K> {
    gen: Arc<std::sync::Mutex<RegisterGen>>,
    reads: Reads,
    _kv: std::marker::PhantomData<fn() -> K>,
}

impl<K> RegisterWorkload<K> {
    pub fn new(opts: RegisterOpts) -> Self {
        RegisterWorkload {
            gen: Arc::new(std::sync::Mutex::new(RegisterGen::new(opts))),
            reads: Reads::Linearizable,
            _kv: std::marker::PhantomData,
        }
    }

    /// What the target's reads promise (default: linearizable); the clients must be
    /// made with the same ([`RegisterClient::with_reads`]).
    pub fn with_reads(mut self, reads: Reads) -> Self {
        self.reads = reads;
        self
    }

    pub fn reads(&self) -> Reads {
        self.reads
    }
}

/// The one register generator of a run, shared so the final phase can read every key
/// the main phase used.
struct SharedGen(Arc<std::sync::Mutex<RegisterGen>>);

impl Generator for SharedGen {
    type Op = KeyedOp;
    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<KeyedOp> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .poll(ctx, rng)
    }
}

impl<K: Kv> harness::run::Workload for RegisterWorkload<K> {
    type Client = RegisterClient<K>;
    type Codec = RegisterCodec;

    fn name(&self) -> &'static str {
        "register"
    }

    fn generator(&mut self) -> Box<dyn Generator<Op = KeyedOp>> {
        Box::new(SharedGen(Arc::clone(&self.gen)))
    }

    fn final_generator(&mut self) -> Option<Box<dyn Generator<Op = KeyedOp>>> {
        let keys = self
            .gen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys_used();
        Some(Box::new(FinalReads::new(keys)))
    }

    fn codec(&self) -> RegisterCodec {
        RegisterCodec
    }

    fn checkers(&self) -> Vec<Box<dyn Checker>> {
        let linearizability = Box::new(Linearizability { reads: self.reads });
        match self.reads {
            Reads::Linearizable => vec![linearizability],
            Reads::Sequential => vec![linearizability, Box::new(MonotonicReads)],
        }
    }

    fn writes(&self) -> &'static [&'static str] {
        &["write", "cas"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::generator::{simulate, Phases};
    use rand::SeedableRng;
    use std::collections::{BTreeSet, HashMap};
    use std::sync::Mutex;
    use std::time::Duration;

    fn ops(seed: u64, n: usize, opts: RegisterOpts) -> Vec<KeyedOp> {
        let mut g = RegisterGen::new(opts);
        simulate(
            &mut g,
            &mut ChaCha8Rng::seed_from_u64(seed),
            1,
            Duration::ZERO,
            n,
        )
        .into_iter()
        .map(|(_, op)| op)
        .collect()
    }

    #[test]
    fn writes_are_unique_per_key_and_cas_targets_recent_values() {
        let all = ops(42, 5000, RegisterOpts::default());
        let mut seen: BTreeSet<(Key, i64)> = BTreeSet::new();
        let mut written: HashMap<Key, Vec<i64>> = HashMap::new();
        for op in &all {
            match op.op {
                RegisterOp::Write(v) => {
                    assert!(seen.insert((op.key, v)), "duplicate write {op}");
                    written.entry(op.key).or_default().push(v);
                }
                RegisterOp::Cas { from, to } => {
                    assert!(seen.insert((op.key, to)), "duplicate cas target {op}");
                    assert!(
                        written.get(&op.key).is_some_and(|w| w.contains(&from)),
                        "cas from a value never written: {op}"
                    );
                    written.entry(op.key).or_default().push(to);
                }
                RegisterOp::Read => {}
            }
        }
        let kinds = |f: fn(&RegisterOp) -> bool| all.iter().filter(|o| f(&o.op)).count();
        let reads = kinds(|o| matches!(o, RegisterOp::Read));
        assert!((2200..2800).contains(&reads), "about half reads: {reads}");
        assert!(kinds(|o| matches!(o, RegisterOp::Cas { .. })) > 900);
    }

    #[test]
    fn keys_rotate_after_their_op_budget() {
        let opts = RegisterOpts {
            active_keys: 3,
            ops_per_key: 10,
            ..RegisterOpts::default()
        };
        let all = ops(7, 300, opts);
        let mut per_key: BTreeMap<Key, u32> = BTreeMap::new();
        for op in &all {
            *per_key.entry(op.key).or_default() += 1;
        }
        assert!(per_key.values().all(|n| *n <= 10), "{per_key:?}");
        assert!(per_key.len() >= 28, "300 ops over 10-op keys: {per_key:?}");
        // Never more than 3 keys open at once: a key, once retired, is never used again.
        let mut last_use: BTreeMap<Key, usize> = BTreeMap::new();
        let mut first_use: BTreeMap<Key, usize> = BTreeMap::new();
        for (i, op) in all.iter().enumerate() {
            first_use.entry(op.key).or_insert(i);
            last_use.insert(op.key, i);
        }
        for i in 0..all.len() {
            let open = first_use
                .iter()
                .filter(|(k, f)| **f <= i && last_use[*k] >= i)
                .count();
            assert!(open <= 3, "{open} keys open at op {i}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_ops() {
        let o = RegisterOpts::default();
        assert_eq!(ops(9, 500, o), ops(9, 500, o));
        assert_ne!(ops(9, 500, o), ops(10, 500, o));
    }

    #[test]
    fn the_codec_records_what_the_cas_register_model_needs() {
        let c = RegisterCodec;
        let read = KeyedOp {
            key: 4,
            op: RegisterOp::Read,
        };
        assert_eq!(c.key(&read), Some(HistoryKey::Int(4)));
        assert_eq!(c.invoked(&read), RegisterPayload::Cas(CasOp::Read(None)));
        assert_eq!(
            c.completed(&read, &Completion::Ok(RegisterResult::Read(Some(9)))),
            RegisterPayload::Cas(CasOp::Read(Some(9)))
        );
        let cas = KeyedOp {
            key: 4,
            op: RegisterOp::Cas { from: 1, to: 2 },
        };
        assert_eq!(
            c.completed(&cas, &Completion::Info("timeout".into())),
            RegisterPayload::Cas(CasOp::Cas { from: 1, to: 2 })
        );
    }

    #[test]
    fn a_stale_read_is_caught_through_the_codec() {
        use checkers::history::{Kind, Op};
        let c = RegisterCodec;
        let w = KeyedOp {
            key: 0,
            op: RegisterOp::Write(1),
        };
        let r = KeyedOp {
            key: 0,
            op: RegisterOp::Read,
        };
        let op = |i: u64, p: u64, kind, payload: RegisterPayload| {
            let RegisterPayload::Cas(payload) = payload else {
                panic!("linearizable reads are cas-register ops: {payload:?}")
            };
            Op::client(i, i * 10, p, kind, payload).with_key(0)
        };
        let ops = vec![
            op(0, 0, Kind::Invoke, c.invoked(&w)),
            op(
                1,
                0,
                Kind::Ok,
                c.completed(&w, &Completion::Ok(RegisterResult::Done)),
            ),
            op(2, 1, Kind::Invoke, c.invoked(&r)),
            op(
                3,
                1,
                Kind::Ok,
                c.completed(&r, &Completion::Ok(RegisterResult::Read(None))),
            ),
        ];
        let history = History::new(ops).unwrap();
        let result = check(&history, Budget::default());
        assert_eq!(result.valid, Validity::Invalid, "{:?}", result.summary);
        assert_eq!(result.name, "linearizability");
        // The generator's values are unique, so the polynomial check answered, and the
        // results say so.
        assert_eq!(result.details["keys"][0]["method"], "unique-values");
        assert!(
            result.details["anomalies"][0]["conflict"].is_string(),
            "{}",
            result.details
        );
        let history = History::new(vec![
            op(0, 0, Kind::Invoke, c.invoked(&w)),
            op(
                1,
                0,
                Kind::Ok,
                c.completed(&w, &Completion::Ok(RegisterResult::Done)),
            ),
        ])
        .unwrap();
        let valid = check(&history, Budget::default());
        assert_eq!(valid.valid, Validity::Valid);
        assert!(
            valid.summary[0].contains("unique-values check"),
            "{:?}",
            valid.summary
        );
    }

    /// The records of `ops` as a run writes and a check reads them.
    fn written(ops: &[checkers::history::Op<RegisterPayload>]) -> Vec<checkers::history::Record> {
        let mut w = checkers::history::HistoryWriter::new(Vec::new());
        for op in ops {
            w.append(op).unwrap();
        }
        let text = String::from_utf8(w.into_inner()).unwrap();
        checkers::format::jsonl::parse(&text).unwrap()
    }

    #[test]
    fn sequential_reads_record_positions_and_are_checked_for_monotonic_reads() {
        use checkers::check::RunFacts;
        use checkers::history::{Kind, Op};
        use harness::run::Workload;
        let c = RegisterCodec;
        let w = KeyedOp {
            key: 0,
            op: RegisterOp::Write(1),
        };
        let r = KeyedOp {
            key: 0,
            op: RegisterOp::Read,
        };
        let read_at = |value, position| {
            Completion::Ok(RegisterResult::ReadAt {
                value,
                position,
                node: Some("n2".into()),
            })
        };
        let op =
            |i: u64, p: u64, kind, payload| Op::client(i, i * 10, p, kind, payload).with_key(0);
        // Client 1 reads the write at position 5, then an older state: its reads went
        // back. Neither read is linearizable (the write had completed), which is fine
        // for sequential reads.
        let ops = vec![
            op(0, 0, Kind::Invoke, c.invoked(&w)),
            op(
                1,
                0,
                Kind::Ok,
                c.completed(&w, &Completion::Ok(RegisterResult::Done)),
            ),
            op(2, 1, Kind::Invoke, c.invoked(&r)),
            op(3, 1, Kind::Ok, c.completed(&r, &read_at(Some(1), 5))),
            op(4, 1, Kind::Invoke, c.invoked(&r)),
            op(5, 1, Kind::Ok, c.completed(&r, &read_at(None, 3))),
        ];
        let records = written(&ops);
        assert_eq!(
            records[3].value,
            serde_json::json!({"value": 1, "position": 5, "node": "n2"})
        );
        let input = |records| CheckInput {
            records,
            status: None,
            logs: None,
            faults: &[],
            budget: Budget::default(),
            run: RunFacts {
                nodes: 3,
                round: 1,
                recovery_bound: 1,
                writes: &[],
            },
        };
        let workload =
            RegisterWorkload::<MemKv>::new(RegisterOpts::default()).with_reads(Reads::Sequential);
        let results: Vec<CheckerResult> = workload
            .checkers()
            .iter()
            .map(|ch| ch.check(&input(&records)).unwrap())
            .collect();
        assert_eq!(results[0].name, "linearizability");
        assert_eq!(
            results[0].valid,
            Validity::Valid,
            "{:?}",
            results[0].summary
        );
        assert!(results[0].summary[0].contains("reads are sequential"));
        assert_eq!(results[1].name, "monotonic-reads");
        assert_eq!(
            results[1].valid,
            Validity::Invalid,
            "{:?}",
            results[1].summary
        );
        // The same history without the going-back read passes both.
        let fine = written(&ops[..4]);
        for ch in workload.checkers() {
            assert_eq!(ch.check(&input(&fine)).unwrap().valid, Validity::Valid);
        }
        // Linearizable reads are checked as ever: the same stale read fails.
        let lin = RegisterWorkload::<MemKv>::new(RegisterOpts::default());
        let stale = written(&[
            op(0, 0, Kind::Invoke, c.invoked(&w)),
            op(
                1,
                0,
                Kind::Ok,
                c.completed(&w, &Completion::Ok(RegisterResult::Done)),
            ),
            op(2, 1, Kind::Invoke, c.invoked(&r)),
            op(
                3,
                1,
                Kind::Ok,
                c.completed(&r, &Completion::Ok(RegisterResult::Read(None))),
            ),
        ]);
        assert_eq!(lin.checkers().len(), 1);
        assert_eq!(
            lin.checkers()[0].check(&input(&stale)).unwrap().valid,
            Validity::Invalid
        );
    }

    #[test]
    fn final_reads_follow_the_main_phase() {
        let mut main = RegisterGen::new(RegisterOpts::default());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let _ = simulate(&mut main, &mut rng, 1, Duration::ZERO, 50);
        let keys = main.keys_used();
        assert!(!keys.is_empty());
        let fin: Box<dyn Generator<Op = KeyedOp>> = Box::new(FinalReads::new(keys.clone()));
        let mut g = Phases::new(vec![fin]);
        let reads = simulate(&mut g, &mut rng, 2, Duration::from_millis(1), 1000);
        let read_keys: Vec<Key> = reads.iter().map(|(_, o)| o.key).collect();
        assert_eq!(read_keys, keys);
        assert!(reads.iter().all(|(_, o)| o.op == RegisterOp::Read));
    }

    /// An in-memory Kv that can be told to fail.
    #[derive(Default)]
    struct MemKv {
        map: Mutex<BTreeMap<String, String>>,
        error: Mutex<Option<KvError>>,
    }

    impl Kv for MemKv {
        async fn read(&self, key: &str) -> Result<Option<String>, KvError> {
            if let Some(e) = self.error.lock().unwrap().clone() {
                return Err(e);
            }
            Ok(self.map.lock().unwrap().get(key).cloned())
        }
        async fn write(&self, key: &str, value: &str) -> Result<(), KvError> {
            if let Some(e) = self.error.lock().unwrap().clone() {
                return Err(e);
            }
            self.map.lock().unwrap().insert(key.into(), value.into());
            Ok(())
        }
        async fn cas(&self, key: &str, from: &str, to: &str) -> Result<bool, KvError> {
            if let Some(e) = self.error.lock().unwrap().clone() {
                return Err(e);
            }
            let mut m = self.map.lock().unwrap();
            if m.get(key).map(String::as_str) == Some(from) {
                m.insert(key.into(), to.into());
                Ok(true)
            } else {
                Ok(false)
            }
        }
    }

    #[tokio::test]
    async fn sequential_reads_ask_for_positions() {
        let kv = Arc::new(MemKv::default());
        let mut c = RegisterClient::new(Arc::clone(&kv)).with_reads(Reads::Sequential);
        let read = KeyedOp {
            key: 3,
            op: RegisterOp::Read,
        };
        // MemKv cannot say where it read: a definite failure, never a made-up position.
        assert!(matches!(c.invoke(&read).await, Completion::Fail(m) if m.contains("position")));
    }

    #[tokio::test]
    async fn the_client_maps_kv_answers_to_outcomes() {
        let kv = Arc::new(MemKv::default());
        let mut c = RegisterClient::new(Arc::clone(&kv));
        let op = |op| KeyedOp { key: 3, op };
        assert_eq!(
            c.invoke(&op(RegisterOp::Read)).await,
            Completion::Ok(RegisterResult::Read(None))
        );
        assert_eq!(
            c.invoke(&op(RegisterOp::Write(5))).await,
            Completion::Ok(RegisterResult::Done)
        );
        assert_eq!(
            c.invoke(&op(RegisterOp::Read)).await,
            Completion::Ok(RegisterResult::Read(Some(5)))
        );
        assert!(matches!(
            c.invoke(&op(RegisterOp::Cas { from: 4, to: 6 })).await,
            Completion::Fail(_)
        ));
        assert_eq!(
            c.invoke(&op(RegisterOp::Cas { from: 5, to: 6 })).await,
            Completion::Ok(RegisterResult::Done)
        );
        assert_eq!(kv.map.lock().unwrap()["faultline/register/3"], "6");

        *kv.error.lock().unwrap() = Some(KvError::Indeterminate("timeout".into()));
        assert_eq!(
            c.invoke(&op(RegisterOp::Write(7))).await,
            Completion::Info("timeout".into())
        );
        assert_eq!(
            c.invoke(&op(RegisterOp::Read)).await,
            Completion::Fail("timeout".into()),
            "a read that may have happened changed nothing"
        );
        *kv.error.lock().unwrap() = Some(KvError::Definite("not leader".into()));
        assert_eq!(
            c.invoke(&op(RegisterOp::Cas { from: 6, to: 8 })).await,
            Completion::Fail("not leader".into())
        );
    }
}
