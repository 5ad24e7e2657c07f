//! The unique-values check: linearizability of one register key in O(n log n), when no
//! value is written twice.
//!
//! ```text
//! Partition (kept calls) ─effects─► must-happen closure ─► clusters (one per value)
//!     ─cas links─► chains (runs of values a cas turned into one another)
//!     ─sort by min(f, s)─► one sweep: no two chains each before the other ─► verdict
//! ```
//!
//! With unique values a read names the one write it saw (Gibbons & Korach's "read-mapping
//! known"), so a linearization is fixed by the order of the written values. Each value
//! `v` has a *cluster*: its write and the reads that returned it; in any linearization the
//! cluster is contiguous (the reads of `v` come after its write and before the next
//! write, since `v` never comes back). A compare-and-set that took effect from `a` to `b`
//! is the write of `b` and must see `a`, so cluster `b` comes right after cluster `a`: cas
//! links chain clusters into runs that are contiguous too ("chains"). For a chain `C`
//! let `f(C)` be the earliest completion and `s(C)` the latest invocation of its ops. The
//! key is linearizable iff
//! 1. every value a read or a cas saw was written, no read returned before its write was
//!    invoked, no two effective cas ops start from the same value, cas links form no cycle;
//! 2. inside each chain, no op of a later value completed before an op of an earlier
//!    value was invoked (`f(C_j) > s(C_i)` for `i < j`);
//! 3. no two chains `P`, `Q` must each precede the other: not `f(P) < s(Q)` and
//!    `f(Q) < s(P)` (Gibbons & Korach's "overlapping forward zones" and "backward zone
//!    inside a forward zone", which are exactly the two ways this can happen).
//!
//! Why that is exact: given 1–3, order the chains by `min(f, s)` (for `P` that must
//! precede `Q`, `f(P) < s(Q)` and, with no 2-cycle, `s(P) < f(Q)`, so the key of `P` is the
//! smaller); inside a chain the order is fixed, inside a cluster the write comes first and
//! the reads follow by invocation. Every real-time pair is then respected and every read
//! and cas sees its value: a linearization. Conversely each condition names ops that no
//! linearization can order. A cycle of "must precede" among chains always contains a
//! 2-cycle (in a shortest cycle `x_i → x_{i+1}` with no chord `x_{i+1} → x_i`,
//! `f(x_i) < s(x_{i+1}) ≤ f(x_{i+2})`, which cannot close), so one sorted sweep suffices.
//!
//! Indeterminate ops: a call that completed `ok` happened. An indeterminate write or cas
//! whose value a read or a cas that happened observed must have happened too (it is the
//! only writer of that value); the closure of that rule is computed first. The others may
//! be dropped: linearized last, they change nothing anyone saw (the model's `droppable`
//! argument, extended to chains of indeterminate cas ops that only observe each other).
//! Failed calls (`fail`: definitely no effect) are dropped, as the search drops them.
//!
//! Cost: O(n log n) time (one sort of the chains; the rest is linear with hash maps) and
//! O(n) memory for n calls, whatever the concurrency.
//!
//! References: Gibbons & Korach, "Testing shared memories", SIAM J. Comput. 26(4), 1997
//! (the read-mapping case, §5); Misra, "Axioms for memory access in asynchronous hardware
//! systems", TOPLAS 1986 (the zone conditions); Golab, Li & Shah, "Analyzing consistency
//! properties for fun and profit", PODC 2011 (zones, O(n log n)); Emmi & Enea, "Sound,
//! complete, and tractable linearizability monitoring for concurrent collections", POPL
//! 2018 and Lee & Mathur, "Efficient decrease-and-conquer linearizability monitoring",
//! OOPSLA 2025 (unique values make monitoring polynomial for more types). The cas
//! chaining is this module's own extension; `docs/linearizability.md` has the argument.

mod explain;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub(crate) use explain::explain;

use super::partition::Partition;
use super::search::Progress;
use crate::history::{History, Payload};
use crate::model::{CasOp, CasRegister, Completion, Initial, Model, Register, RegisterOp};

/// What a call the search keeps does to a register, as this check sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Returned this value (`None`: the initial nil).
    Read(Option<i64>),
    Write(i64),
    /// Found `from` and set `to` (an `ok` cas), or may have (an indeterminate one).
    Cas {
        from: i64,
        to: i64,
    },
}

/// A model the unique-values check understands: a register of integers with reads,
/// writes and (optionally) compare-and-set.
pub trait RegisterModel: Model {
    /// The effect of a call, from its invocation and completion; `None` for a call the
    /// model never keeps (an indeterminate read).
    fn effect(&self, invoke: &Self::Op, completion: Completion<'_, Self::Op>) -> Option<Effect>;

    /// The value the register holds before any write (nil unless wrapped in
    /// [`Initial`]).
    fn initial(&self) -> Option<i64> {
        None
    }
}

impl<M> RegisterModel for Initial<M>
where
    M: RegisterModel<State = Option<i64>>,
{
    fn effect(&self, invoke: &M::Op, completion: Completion<'_, M::Op>) -> Option<Effect> {
        self.model.effect(invoke, completion)
    }

    fn initial(&self) -> Option<i64> {
        self.state
    }
}

impl RegisterModel for Register {
    fn effect(
        &self,
        invoke: &RegisterOp,
        completion: Completion<'_, RegisterOp>,
    ) -> Option<Effect> {
        match (invoke, completion) {
            (RegisterOp::Write(v), _) => Some(Effect::Write(*v)),
            (RegisterOp::Read(_), Completion::Ok(RegisterOp::Read(v))) => Some(Effect::Read(*v)),
            (RegisterOp::Read(_), _) => None,
        }
    }
}

impl RegisterModel for CasRegister {
    fn effect(&self, invoke: &CasOp, completion: Completion<'_, CasOp>) -> Option<Effect> {
        match (invoke, completion) {
            (CasOp::Write(v), _) => Some(Effect::Write(*v)),
            (CasOp::Cas { from, to }, _) => Some(Effect::Cas {
                from: *from,
                to: *to,
            }),
            (CasOp::Read(_), Completion::Ok(CasOp::Read(v))) => Some(Effect::Read(*v)),
            (CasOp::Read(_), _) => None,
        }
    }
}

/// Where a value a call observed came from.
enum Source {
    /// The register held it before any write.
    Initial,
    /// This call wrote it.
    Writer(u32),
    /// Nothing wrote it.
    Nobody,
}

/// The key's values: who wrote each, and what the register held first.
struct Values {
    writers: Writers,
    initial: Option<i64>,
}

impl Values {
    fn source(&self, v: Option<i64>) -> Source {
        if v == self.initial {
            return Source::Initial;
        }
        match v.and_then(|v| self.writers.get(&v)) {
            Some(&w) => Source::Writer(w),
            None => Source::Nobody,
        }
    }
}

/// Values to their writer, hashed with one multiply (values are integers a client
/// chose: no adversary to defend against, and SipHash would be most of the check's time).
type Writers = HashMap<i64, u32, BuildHasherDefault<MulHasher>>;

/// Fibonacci hashing of one integer.
#[derive(Default)]
struct MulHasher(u64);

impl Hasher for MulHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_i64(&mut self, i: i64) {
        self.0 = (i as u64 ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        // hashbrown takes its 7-bit tags from the top bits: fold the high half in.
        self.0 ^ (self.0 >> 32)
    }
}

/// A history position plus one: 0 is before every op (when the initial value was
/// "written"); [`NEVER`] is an indeterminate call's return.
type Time = u64;
const NEVER: Time = Time::MAX;
/// No cluster / no call.
const NONE: u32 = u32::MAX;

/// A kept call, compiled.
#[derive(Debug, Clone, Copy)]
struct Call {
    inv: Time,
    ret: Time,
    effect: Effect,
}

impl Call {
    /// The value it needs the register to hold (`Some(None)`: nil); `None` for a write.
    fn observes(&self) -> Option<Option<i64>> {
        match self.effect {
            Effect::Read(v) => Some(v),
            Effect::Cas { from, .. } => Some(Some(from)),
            Effect::Write(_) => None,
        }
    }

    fn writes(&self) -> Option<i64> {
        match self.effect {
            Effect::Write(v) | Effect::Cas { to: v, .. } => Some(v),
            Effect::Read(_) => None,
        }
    }
}

/// An op of a conflict: a call of the partition, or the initial value (written before
/// every op).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    Initial,
    Call(u32),
}

/// One side of an [`Conflict::Overlap`]: a chain's earliest completion and latest
/// invocation, and the cas ops that link the two ops' values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Side {
    pub(crate) done: At,
    pub(crate) started: u32,
    pub(crate) links: Vec<u32>,
}

/// Why a key is not linearizable (call indices into the partition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Conflict {
    /// A read returned `value`, or an effective cas started from it, but no op wrote it
    /// (and the register did not start with it).
    NeverWritten { call: u32, value: Option<i64> },
    /// A read returned before the write of its value was invoked.
    FromTheFuture { read: u32, write: u32 },
    /// Two cas ops that took effect both started from `from`, which was written once.
    TwiceFrom { first: u32, second: u32, from: i64 },
    /// Cas ops whose values form a cycle: none of them can be the first.
    Cycle { cas: Vec<u32> },
    /// Inside a chain, `early` (of a later value) completed before `late` (of an earlier
    /// value) was invoked; `links` are the cas ops from `late`'s value to `early`'s.
    ChainOrder {
        early: u32,
        late: u32,
        links: Vec<u32>,
    },
    /// `p.done` completed before `q.started` was invoked and `q.done` before `p.started`:
    /// each chain would have to come before the other.
    Overlap { p: Side, q: Side },
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Linearizable,
    /// The conflict, and the longest prefix of the order the check built that is a
    /// linearization prefix (call indices, in order).
    Illegal {
        conflict: Conflict,
        prefix: Vec<u32>,
    },
}

/// The unique-values check of one key, as a job for the scheduler.
pub(crate) struct UniqueKey<C> {
    pub(crate) part: Partition<C>,
    calls: Vec<Call>,
    /// Each written value's writer (a call index), and the initial value.
    values: Values,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) steps: u64,
    /// Bytes the analysis held at its peak (its tables are freed when it returns).
    pub(crate) working_bytes: u64,
}

impl<C> UniqueKey<C> {
    /// Prepares the check of `part`, whose kept calls have these `effects` (in order), on
    /// a register that holds `initial` before any write, or gives the partition back
    /// with the reason the check does not apply (a value written twice).
    pub(crate) fn new<P: Payload>(
        history: &History<P>,
        part: Partition<C>,
        effects: Vec<Option<Effect>>,
        initial: Option<i64>,
    ) -> Result<Self, (Partition<C>, String)> {
        let index = |pos: usize| history.ops()[pos].index;
        let mut calls = Vec::with_capacity(part.calls.len());
        let mut writers = Writers::with_capacity_and_hasher(part.calls.len(), Default::default());
        for (i, (c, effect)) in part.calls.iter().zip(effects).enumerate() {
            let Some(effect) = effect else {
                let why = format!(
                    "op #{} is not a register read, write or cas",
                    index(c.invoke)
                );
                return Err((part, why));
            };
            let call = Call {
                inv: c.invoke as Time + 1,
                ret: c.ret.map_or(NEVER, |r| r as Time + 1),
                effect,
            };
            if let Some(v) = call.writes() {
                if initial == Some(v) {
                    let why = format!(
                        "value {v} is the initial value and written again (#{})",
                        index(c.invoke)
                    );
                    return Err((part, why));
                }
                if let Some(&first) = writers.get(&v) {
                    let why = format!(
                        "value {v} is written twice (#{} and #{})",
                        index(part.calls[first as usize].invoke),
                        index(c.invoke)
                    );
                    return Err((part, why));
                }
                writers.insert(v, i as u32);
            }
            calls.push(call);
        }
        Ok(UniqueKey {
            part,
            calls,
            values: Values { writers, initial },
            outcome: None,
            steps: 0,
            working_bytes: 0,
        })
    }

    /// Runs the whole check (it is polynomial: no slicing needed).
    pub(crate) fn run(&mut self) -> Progress {
        if self.outcome.is_none() {
            let (outcome, bytes) = analyse(&self.calls, &self.values);
            self.steps = self.calls.len() as u64;
            self.working_bytes = bytes as u64;
            self.values.writers = Writers::default();
            if outcome == Outcome::Linearizable {
                // The explanation of a conflict reads the calls' values; nothing else does.
                self.calls = Vec::new();
            }
            self.outcome = Some(outcome);
        }
        match self.outcome {
            Some(Outcome::Linearizable) => Progress::Linearizable,
            _ => Progress::Illegal,
        }
    }

    /// Bytes held now.
    pub(crate) fn bytes(&self) -> usize {
        self.calls.capacity() * std::mem::size_of::<Call>() + self.values.writers.capacity() * 13
    }

    /// The register's value before any write.
    pub(crate) fn initial(&self) -> Option<i64> {
        self.values.initial
    }

    /// The value a call wrote, or for a read the value it returned.
    pub(crate) fn value(&self, i: u32) -> Option<i64> {
        self.calls.get(i as usize).and_then(|c| match c.effect {
            Effect::Read(v) => v,
            Effect::Write(v) | Effect::Cas { to: v, .. } => Some(v),
        })
    }

    /// Frees the compiled calls.
    pub(crate) fn release(&mut self) {
        self.calls = Vec::new();
        self.values.writers = Writers::default();
    }
}

/// The values' clusters and chains, built once for the check and the explanation.
struct Clusters {
    /// Per cluster: its writer (`NONE` for cluster 0, the initial value).
    writer: Vec<u32>,
    /// Per cluster: the next cluster through a cas from its value (`NONE`: none).
    succ: Vec<u32>,
    /// Per cluster: whether it is the `succ` of another.
    linked: Vec<bool>,
    /// Per call: the cluster it reads from or writes (`NONE`: dropped, or a read of a
    /// value nobody wrote).
    cluster_of_call: Vec<u32>,
    /// Reads grouped by cluster (CSR: `reads[read_at[c]..read_at[c + 1]]`), each group
    /// in invocation order.
    read_at: Vec<u32>,
    reads: Vec<u32>,
    /// Reads of values nobody wrote (they belong to no cluster).
    homeless: Vec<u32>,
}

impl Clusters {
    fn reads_of(&self, c: usize) -> &[u32] {
        &self.reads[self.read_at[c] as usize..self.read_at[c + 1] as usize]
    }

    fn bytes(&self) -> usize {
        (self.writer.capacity() + self.succ.capacity() + self.read_at.capacity()) * 4
            + self.linked.capacity()
            + (self.cluster_of_call.capacity() + self.reads.capacity() + self.homeless.capacity())
                * 4
    }
}

/// The chains: runs of clusters linked by cas, each contiguous in any linearization.
struct Chains {
    /// Clusters, chain after chain, each in its linked order.
    order: Vec<u32>,
    /// Each chain's (start, length) in `order`.
    spans: Vec<(usize, usize)>,
    /// Per cluster: its chain, and its position in it.
    chain_of: Vec<u32>,
    pos: Vec<u32>,
}

impl Chains {
    fn members(&self, chain: usize) -> &[u32] {
        let (from, len) = self.spans[chain];
        &self.order[from..from + len]
    }
}

/// Earliest completion (`f`) and latest invocation (`s`) of a set of ops, with the ops.
#[derive(Debug, Clone, Copy)]
struct Zone {
    f: Time,
    f_at: At,
    s: Time,
    s_at: At,
}

impl Zone {
    /// The initial value's cluster before its reads: written at time 0.
    fn initial() -> Zone {
        Zone {
            f: 0,
            f_at: At::Initial,
            s: 0,
            s_at: At::Initial,
        }
    }

    fn empty() -> Zone {
        Zone {
            f: NEVER,
            f_at: At::Initial,
            s: 0,
            s_at: At::Initial,
        }
    }

    fn add(&mut self, calls: &[Call], i: u32) {
        let c = &calls[i as usize];
        if c.ret < self.f {
            self.f = c.ret;
            self.f_at = At::Call(i);
        }
        if c.inv > self.s {
            self.s = c.inv;
            self.s_at = At::Call(i);
        }
    }

    fn merge(&mut self, other: &Zone) {
        if other.f < self.f {
            self.f = other.f;
            self.f_at = other.f_at;
        }
        if other.s > self.s {
            self.s = other.s;
            self.s_at = other.s_at;
        }
    }
}

/// Keeps the first conflict found.
#[derive(Default)]
struct Found(Option<Conflict>);

impl Found {
    fn note(&mut self, c: Conflict) {
        if self.0.is_none() {
            self.0 = Some(c);
        }
    }

    /// Whether a conflict is still wanted (only the first is kept: later ones need not
    /// be built).
    fn open(&self) -> bool {
        self.0.is_none()
    }
}

/// Decides one key. Returns the outcome and the bytes its tables held at their peak.
fn analyse(calls: &[Call], values: &Values) -> (Outcome, usize) {
    let mut found = Found::default();
    let must = closure(calls, values);
    let clusters = cluster(calls, values, &must, &mut found);
    drop(must);
    let zones = cluster_zones(calls, &clusters, &mut found);
    let chains = chain(&clusters, &mut found);
    let chain_zones = chain_zones(&clusters, &chains, &zones, &mut found);
    let sorted = sweep(&clusters, &chains, &chain_zones, &mut found);
    let peak = calls.len() * 5
        + clusters.bytes()
        + zones.capacity() * std::mem::size_of::<Zone>()
        + (chains.order.capacity() + chains.pos.capacity() + chains.chain_of.capacity()) * 4
        + chains.spans.capacity() * 16
        + chain_zones.capacity() * std::mem::size_of::<Zone>()
        + sorted.capacity() * 4;
    match found.0 {
        None => (Outcome::Linearizable, peak),
        Some(conflict) => {
            let order = linear_order(&clusters, &chains, &sorted);
            let prefix = longest_prefix(calls, &order, values.initial);
            (
                Outcome::Illegal { conflict, prefix },
                peak + order.len() * 4,
            )
        }
    }
}

/// Which calls certainly happened: every `ok` call, and every indeterminate write or cas
/// whose value a call that happened observed (it is that value's only writer).
fn closure(calls: &[Call], values: &Values) -> Vec<bool> {
    let mut must: Vec<bool> = calls.iter().map(|c| c.ret != NEVER).collect();
    let mut work: Vec<u32> = (0..calls.len() as u32)
        .filter(|&i| must[i as usize])
        .collect();
    while let Some(i) = work.pop() {
        let Some(v) = calls[i as usize].observes() else {
            continue;
        };
        if let Source::Writer(w) = values.source(v) {
            if !must[w as usize] {
                must[w as usize] = true;
                work.push(w);
            }
        }
    }
    must
}

/// Clusters of the calls that happened; notes values nobody wrote and two cas ops from
/// one value.
fn cluster(calls: &[Call], values: &Values, must: &[bool], found: &mut Found) -> Clusters {
    let n = calls.len();
    let mut writer: Vec<u32> = vec![NONE];
    let mut cluster_of_call = vec![NONE; n];
    for (i, c) in calls.iter().enumerate() {
        if must[i] && c.writes().is_some() {
            cluster_of_call[i] = writer.len() as u32;
            writer.push(i as u32);
        }
    }
    let k = writer.len();
    let mut succ = vec![NONE; k];
    let mut linked = vec![false; k];
    let mut homeless = Vec::new();
    let mut read_at = vec![0u32; k + 1];
    for (i, c) in calls.iter().enumerate() {
        if !must[i] {
            continue;
        }
        let Some(v) = c.observes() else { continue };
        let seen = match values.source(v) {
            Source::Initial => 0,
            // The writer of a value a call that happened saw happened too (`closure`).
            Source::Writer(w) => cluster_of_call[w as usize],
            Source::Nobody => {
                found.note(Conflict::NeverWritten {
                    call: i as u32,
                    value: v,
                });
                if matches!(c.effect, Effect::Read(_)) {
                    homeless.push(i as u32);
                }
                continue;
            }
        };
        match c.effect {
            Effect::Read(_) => {
                cluster_of_call[i] = seen;
                read_at[seen as usize + 1] += 1;
            }
            Effect::Cas { from, .. } => {
                let next = cluster_of_call[i];
                let taken = succ[seen as usize];
                if taken == NONE {
                    succ[seen as usize] = next;
                    linked[next as usize] = true;
                } else {
                    found.note(Conflict::TwiceFrom {
                        first: writer[taken as usize],
                        second: i as u32,
                        from,
                    });
                }
            }
            Effect::Write(_) => {}
        }
    }
    // Reads by cluster, in invocation order (a counting sort keeps call order).
    for c in 0..k {
        read_at[c + 1] += read_at[c];
    }
    let mut fill = read_at.clone();
    let mut reads = vec![0u32; read_at[k] as usize];
    for (i, c) in calls.iter().enumerate() {
        let cl = cluster_of_call[i];
        if cl != NONE && must[i] && matches!(c.effect, Effect::Read(_)) {
            reads[fill[cl as usize] as usize] = i as u32;
            fill[cl as usize] += 1;
        }
    }
    Clusters {
        writer,
        succ,
        linked,
        cluster_of_call,
        read_at,
        reads,
        homeless,
    }
}

/// Each cluster's zone; notes a read that returned before its write was invoked.
fn cluster_zones(calls: &[Call], clusters: &Clusters, found: &mut Found) -> Vec<Zone> {
    let k = clusters.writer.len();
    let mut zones = Vec::with_capacity(k);
    for c in 0..k {
        let w = clusters.writer[c];
        let mut z = if w == NONE {
            Zone::initial()
        } else {
            let mut z = Zone::empty();
            z.add(calls, w);
            z
        };
        for &r in clusters.reads_of(c) {
            if w != NONE && calls[r as usize].ret < calls[w as usize].inv {
                found.note(Conflict::FromTheFuture { read: r, write: w });
            }
            z.add(calls, r);
        }
        zones.push(z);
    }
    zones
}

/// The chains: from every cluster no cas leads to, then from what is left (cycles,
/// which are conflicts), each broken at its smallest cluster.
fn chain(clusters: &Clusters, found: &mut Found) -> Chains {
    let k = clusters.writer.len();
    let mut chains = Chains {
        order: Vec::with_capacity(k),
        spans: Vec::new(),
        chain_of: vec![0; k],
        pos: vec![0; k],
    };
    let mut visited = vec![false; k];
    let walk = |start: usize, chains: &mut Chains, visited: &mut [bool]| {
        let from = chains.order.len();
        let mut c = start as u32;
        while c != NONE && !visited[c as usize] {
            visited[c as usize] = true;
            chains.chain_of[c as usize] = chains.spans.len() as u32;
            chains.pos[c as usize] = (chains.order.len() - from) as u32;
            chains.order.push(c);
            c = clusters.succ[c as usize];
        }
        chains.spans.push((from, chains.order.len() - from));
    };
    for c in 0..k {
        if !clusters.linked[c] {
            walk(c, &mut chains, &mut visited);
        }
    }
    for c in 0..k {
        if !visited[c] {
            walk(c, &mut chains, &mut visited);
            let cycle = chains.members(chains.spans.len() - 1);
            found.note(Conflict::Cycle {
                cas: cycle
                    .iter()
                    .map(|&cl| clusters.writer[cl as usize])
                    .collect(),
            });
        }
    }
    chains
}

/// Each chain's zone; notes an op of a later value that completed before an op of an
/// earlier value of the same chain was invoked.
fn chain_zones(
    clusters: &Clusters,
    chains: &Chains,
    zones: &[Zone],
    found: &mut Found,
) -> Vec<Zone> {
    let mut out = Vec::with_capacity(chains.spans.len());
    for chain in 0..chains.spans.len() {
        let members = chains.members(chain);
        let mut z = zones[members[0] as usize];
        for &cl in &members[1..] {
            let zc = &zones[cl as usize];
            if zc.f < z.s && found.open() {
                if let (At::Call(early), At::Call(late)) = (zc.f_at, z.s_at) {
                    found.note(Conflict::ChainOrder {
                        early,
                        late,
                        links: links(clusters, chains, late, early),
                    });
                }
            }
            z.merge(zc);
        }
        out.push(z);
    }
    out
}

/// The cas ops linking the values of calls `a` and `b` (of one chain), in chain order.
fn links(clusters: &Clusters, chains: &Chains, a: u32, b: u32) -> Vec<u32> {
    let ca = clusters.cluster_of_call[a as usize];
    let cb = clusters.cluster_of_call[b as usize];
    if ca == NONE || cb == NONE {
        return Vec::new();
    }
    let (pa, pb) = (chains.pos[ca as usize], chains.pos[cb as usize]);
    let (lo, hi) = (pa.min(pb) as usize, pa.max(pb) as usize);
    let start = chains.spans[chains.chain_of[ca as usize] as usize].0;
    chains.order[start + lo + 1..=start + hi]
        .iter()
        .map(|&c| clusters.writer[c as usize])
        .collect()
}

/// Sorts the chains by `min(f, s)` and checks that no chain must precede one sorted
/// before it; notes the first such pair. Returns the sorted chains.
fn sweep(
    clusters: &Clusters,
    chains: &Chains,
    chain_zones: &[Zone],
    found: &mut Found,
) -> Vec<u32> {
    let mut sorted: Vec<u32> = (0..chain_zones.len() as u32).collect();
    sorted.sort_unstable_by_key(|&c| {
        let z = &chain_zones[c as usize];
        (z.f.min(z.s), c)
    });
    // The chain with the latest invocation among those sorted so far.
    let mut latest: Option<&Zone> = None;
    for &q in &sorted {
        let zq = &chain_zones[q as usize];
        if let Some(zp) = latest {
            // Sorted after P yet completed before P's latest invocation: Q must precede
            // P, and (see the module docs) P must precede Q.
            if zq.f < zp.s && found.open() {
                if let (At::Call(p_started), At::Call(q_started)) = (zp.s_at, zq.s_at) {
                    let side = |z: &Zone, started: u32| Side {
                        done: z.f_at,
                        started,
                        links: match z.f_at {
                            At::Call(done) => links(clusters, chains, done, started),
                            At::Initial => Vec::new(),
                        },
                    };
                    found.note(Conflict::Overlap {
                        p: side(zp, p_started),
                        q: side(zq, q_started),
                    });
                }
            }
        }
        match latest {
            Some(zp) if zp.s > zq.s => {}
            _ => latest = Some(zq),
        }
    }
    sorted
}

/// The order the check builds: chains sorted, clusters in chain order, each cluster's
/// write then its reads by invocation; reads of values nobody wrote last.
fn linear_order(clusters: &Clusters, chains: &Chains, sorted: &[u32]) -> Vec<u32> {
    let mut order = Vec::with_capacity(clusters.cluster_of_call.len());
    for &chain in sorted {
        for &cl in chains.members(chain as usize) {
            let w = clusters.writer[cl as usize];
            if w != NONE {
                order.push(w);
            }
            order.extend_from_slice(clusters.reads_of(cl as usize));
        }
    }
    order.extend_from_slice(&clusters.homeless);
    order
}

/// The longest prefix of `order` that starts a linearization: each call in it sees the
/// value it needs, and no call after it completed before it was invoked.
fn longest_prefix(calls: &[Call], order: &[u32], initial: Option<i64>) -> Vec<u32> {
    let mut later_ret = vec![NEVER; order.len() + 1];
    for k in (0..order.len()).rev() {
        later_ret[k] = later_ret[k + 1].min(calls[order[k] as usize].ret);
    }
    let mut state = initial;
    let mut prefix = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        let c = &calls[i as usize];
        if later_ret[k + 1] < c.inv {
            break;
        }
        state = match c.effect {
            Effect::Read(v) if v == state => state,
            Effect::Write(v) => Some(v),
            Effect::Cas { from, to } if state == Some(from) => Some(to),
            _ => break,
        };
        prefix.push(i);
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call from (invocation, completion) positions; `None`: indeterminate.
    fn call(inv: Time, ret: Option<Time>, effect: Effect) -> Call {
        Call {
            inv,
            ret: ret.unwrap_or(NEVER),
            effect,
        }
    }

    fn values(calls: &[Call]) -> Values {
        let mut writers = Writers::default();
        for (i, c) in calls.iter().enumerate() {
            if let Some(v) = c.writes() {
                writers.insert(v, i as u32);
            }
        }
        Values {
            writers,
            initial: None,
        }
    }

    #[test]
    fn only_observed_indeterminate_writers_certainly_happened() {
        let calls = [
            call(1, None, Effect::Write(1)),
            call(2, None, Effect::Cas { from: 1, to: 2 }),
            call(3, Some(4), Effect::Read(Some(2))),
            call(5, None, Effect::Write(3)),
            call(6, None, Effect::Cas { from: 7, to: 8 }),
            call(7, None, Effect::Cas { from: 8, to: 7 }),
        ];
        // The read of 2 forces the cas 1→2, which forces the write of 1; nobody needs 3,
        // and the cas pair 7⇄8 only observe each other.
        assert_eq!(
            closure(&calls, &values(&calls)),
            vec![true, true, true, false, false, false]
        );
    }

    #[test]
    fn the_prefix_stops_where_real_time_or_a_value_forbids() {
        let calls = [
            call(1, Some(2), Effect::Write(1)),
            call(3, Some(4), Effect::Write(2)),
            call(5, Some(6), Effect::Read(Some(1))),
        ];
        // Write 1, read 1, write 2: the read may not come before write 2, which
        // completed before it began.
        assert_eq!(longest_prefix(&calls, &[0, 2, 1], None), vec![0]);
        // Write 1, write 2, read 1: the read sees the wrong value.
        assert_eq!(longest_prefix(&calls, &[0, 1, 2], None), vec![0, 1]);
    }

    #[test]
    fn overlapping_chains_are_found_whichever_order_they_come_in() {
        // Value 1: written [1,2], read [9,10]; value 2: written [3,4] (a stale read of
        // 1). Cluster order in the input must not matter.
        for calls in [
            vec![
                call(1, Some(2), Effect::Write(1)),
                call(3, Some(4), Effect::Write(2)),
                call(9, Some(10), Effect::Read(Some(1))),
            ],
            vec![
                call(3, Some(4), Effect::Write(2)),
                call(1, Some(2), Effect::Write(1)),
                call(9, Some(10), Effect::Read(Some(1))),
            ],
        ] {
            let (outcome, bytes) = analyse(&calls, &values(&calls));
            assert!(bytes > 0);
            let Outcome::Illegal { conflict, .. } = outcome else {
                panic!("a stale read is illegal: {outcome:?}");
            };
            assert!(matches!(conflict, Conflict::Overlap { .. }), "{conflict:?}");
        }
        // Concurrent instead: write 2 [3,11] may take effect after the read.
        let calls = [
            call(1, Some(2), Effect::Write(1)),
            call(3, Some(11), Effect::Write(2)),
            call(9, Some(10), Effect::Read(Some(1))),
        ];
        assert_eq!(analyse(&calls, &values(&calls)).0, Outcome::Linearizable);
    }
}
