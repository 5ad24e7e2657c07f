//! Linearizability checking: is there a sequential order of the calls, consistent with
//! real time, that the model accepts?
//!
//! ```text
//! History<M::Op> ─partitions─► one Partition per key ─┬─► Search (resumable DFS + memo)
//!                                                     └─► UniqueKey (registers, values
//!                                                         unique: polynomial, [`unique`])
//!                                   smallest first, round-robin slices on N threads
//!                                   ─► first illegal key cancels the rest ─► Verdict
//! ```
//!
//! [`check`] and [`check_with`] search every key. [`check_register`] takes, for each key
//! of a register or cas-register history whose written values are unique, the
//! polynomial unique-values check instead, and the search for the other keys; each
//! key's result says which answered ([`Method`](crate::verdict::Method)) and why a key
//! fell back.
//!
//! Invariants:
//! - Keys are independent (P-compositionality), so each is searched alone and the
//!   history is linearizable iff every key is.
//! - No key can starve another: workers take a key from a queue, search it for a slice
//!   of [`SLICE`] iterations and put it back, so an easy illegal key is found even while
//!   a hard key would never finish (Porcupine's c50-bad).
//! - The budget is checked between slices: past the deadline, or when the next slice
//!   could take the search memory over the limit (a table doubling), every unfinished
//!   key is Unknown.
//! - Failed calls are dropped; `info` and unmatched invocations are indeterminate.
//!
//! Known limit: the problem is NP-complete. Many concurrent or indeterminate appends with
//! few reads between them make every append order a distinct state, so such keys can
//! exhaust the budget; they then answer Unknown, never a wrong verdict. Registers with
//! unique values do not have this limit: [`check_register`].
//!
//! References: see the `search` module's docs; Porcupine's `checker.go` (`checkParallel`).

mod budget;
mod memo;
mod partition;
mod search;
pub mod unique;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use budget::{Budget, Options};

use partition::{partitions, partitions_with, Partition};
use search::{Progress, Search};
use unique::UniqueKey;
pub use unique::{Effect, RegisterModel};

use crate::history::{History, Payload};
use crate::input_error::Location;
use crate::model::{Completion, Model};
use crate::verdict::{
    Anomaly, Blocked, KeyResult, Method, OpRef, Stats, UnknownReason, Validity, Verdict,
};

/// Search iterations per scheduling slice (roughly 0.1–1 ms).
pub const SLICE: u64 = 4096;

/// How long the first round of slices runs on the calling thread before the workers
/// start on what is left.
const FIRST_ROUND: Duration = Duration::from_millis(2);

/// Checks `history` against `model` within `budget`, stopping at the first illegal key.
pub fn check<M: Model>(history: &History<M::Op>, model: &M, budget: Budget) -> Verdict {
    check_with(
        history,
        model,
        Options {
            budget,
            ..Options::default()
        },
    )
}

/// Which algorithm [`check_register`] uses for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// The polynomial unique-values check for every key whose written values are unique;
    /// the search for the others (each says why in [`KeyResult::fallback`]).
    #[default]
    UniqueValues,
    /// The search for every key.
    Search,
}

/// One key's work: a resumable search, or the unique-values check.
enum Job<'m, M: Model> {
    Search(Search<'m, M>),
    Unique(UniqueKey<M::Call>),
}

impl<M: Model> Job<'_, M> {
    fn run(&mut self, steps: u64) -> Progress {
        match self {
            Job::Search(s) => s.run(steps),
            Job::Unique(u) => u.run(),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Job::Search(s) => s.bytes(),
            Job::Unique(u) => u.bytes(),
        }
    }

    /// Memory used inside the last `run` beyond what `bytes` shows after it (the
    /// unique-values check frees its tables before returning).
    fn working_bytes(&self) -> u64 {
        match self {
            Job::Search(_) => 0,
            Job::Unique(u) => u.working_bytes,
        }
    }

    fn release(&mut self) {
        match self {
            Job::Search(s) => s.release(),
            Job::Unique(u) => u.release(),
        }
    }

    fn memo_len(&self) -> usize {
        match self {
            Job::Search(s) => s.memo_len(),
            Job::Unique(_) => 0,
        }
    }

    fn steps(&self) -> u64 {
        match self {
            Job::Search(s) => s.steps,
            Job::Unique(u) => u.steps,
        }
    }

    fn part(&self) -> &Partition<M::Call> {
        match self {
            Job::Search(s) => &s.part,
            Job::Unique(u) => &u.part,
        }
    }

    fn method(&self) -> Method {
        match self {
            Job::Search(_) => Method::Search,
            Job::Unique(_) => Method::UniqueValues,
        }
    }
}

struct Slot<'m, M: Model> {
    job: Job<'m, M>,
    /// Why the unique-values check was asked for but not used.
    fallback: Option<String>,
    micros: u64,
    outcome: Option<(Validity, Option<UnknownReason>)>,
    memo_entries: u64,
}

/// Checks with explicit [`Options`] (threads, all keys), searching every key.
pub fn check_with<M: Model>(history: &History<M::Op>, model: &M, options: Options) -> Verdict {
    let started = Instant::now();
    let slots = partitions(history, model)
        .into_iter()
        .map(|p| Slot {
            job: Job::Search(Search::new(model, p)),
            fallback: None,
            micros: 0,
            outcome: None,
            memo_entries: 0,
        })
        .collect();
    schedule(history, model, options, started, slots)
}

/// Checks a register or cas-register history, choosing per key: with
/// [`Algorithm::UniqueValues`], the polynomial unique-values check for every key whose
/// written values are unique (see [`unique`]), the search for the others.
pub fn check_register<M: RegisterModel>(
    history: &History<M::Op>,
    model: &M,
    options: Options,
    algorithm: Algorithm,
) -> Verdict {
    let started = Instant::now();
    let parts = partitions_with(history, model, |invoke, completion| match algorithm {
        Algorithm::UniqueValues => model.effect(invoke, completion),
        Algorithm::Search => None,
    });
    // Preparing a key builds a hash map of its values: worth the workers when there
    // are many.
    let calls: usize = parts.iter().map(|(p, _)| p.calls.len()).sum();
    let threads = if calls < 50_000 {
        1
    } else {
        thread_count(options.threads, parts.len())
    };
    let slots = map_in_parallel(parts, threads, |(p, effects)| {
        let (job, fallback) = match algorithm {
            Algorithm::Search => (Job::Search(Search::new(model, p)), None),
            Algorithm::UniqueValues => match UniqueKey::new(history, p, effects, model.initial()) {
                Ok(u) => (Job::Unique(u), None),
                Err((p, why)) => (Job::Search(Search::new(model, p)), Some(why)),
            },
        };
        Slot {
            job,
            fallback,
            micros: 0,
            outcome: None,
            memo_entries: 0,
        }
    });
    schedule(history, model, options, started, slots)
}

/// Worker threads for `keys` keys: `threads`, or the machine's parallelism for 0.
fn thread_count(threads: usize, keys: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        t => t,
    }
    .clamp(1, keys.max(1))
}

/// `items.into_iter().map(f)` on `threads` scoped threads, in order.
fn map_in_parallel<T: Send, U: Send>(
    items: Vec<T>,
    threads: usize,
    f: impl Fn(T) -> U + Sync,
) -> Vec<U> {
    if threads <= 1 || items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    loop {
        let c: Vec<T> = items.by_ref().take(chunk).collect();
        if c.is_empty() {
            break;
        }
        chunks.push(c);
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| s.spawn(move || c.into_iter().map(f).collect::<Vec<U>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// Runs the keys' jobs under the budget and builds the verdict.
fn schedule<'m, M: Model>(
    history: &History<M::Op>,
    model: &'m M,
    options: Options,
    started: Instant,
    slots: Vec<Slot<'m, M>>,
) -> Verdict {
    let deadline = started + options.budget.time_limit;
    let mut slots: Vec<Option<Slot<'m, M>>> = slots.into_iter().map(Some).collect();
    let n_parts = slots.len();
    let mut order: Vec<usize> = (0..n_parts).collect();
    // Smallest first: cheap keys answer early, and an illegal one cancels the rest.
    order.sort_by_key(|&i| slots[i].as_ref().map_or(0, |s| s.job.part().calls.len()));
    let queue: Mutex<VecDeque<(usize, Slot<'_, M>)>> = Mutex::new(
        order
            .iter()
            .filter_map(|&i| slots[i].take().map(|s| (i, s)))
            .collect(),
    );
    let finished: Mutex<Vec<(usize, Slot<'_, M>)>> = Mutex::new(Vec::with_capacity(n_parts));
    let stop = AtomicBool::new(false);
    let initial: u64 = lock(&queue).iter().map(|(_, s)| s.job.bytes() as u64).sum();
    let memory = AtomicU64::new(initial);
    let peak = AtomicU64::new(initial);
    let threads = thread_count(options.threads, n_parts);

    // One slice of one key; false when the queue is empty.
    let turn = || {
        let Some((i, mut slot)) = lock(&queue).pop_front() else {
            return false;
        };
        let unknown = if stop.load(Ordering::Relaxed) {
            Some(UnknownReason::Cancelled)
        } else if Instant::now() >= deadline {
            Some(UnknownReason::TimeLimit)
        } else if memory.load(Ordering::Relaxed) + 2 * slot.job.bytes() as u64
            > options.budget.memory_limit
        {
            // A slice may double this search's tables, and a hash table that grows
            // holds its old and new arrays at once: stop before that could cross
            // the limit, not after.
            Some(UnknownReason::MemoryLimit)
        } else {
            None
        };
        let before = slot.job.bytes() as u64;
        let progress = if let Some(reason) = unknown {
            slot.outcome = Some((Validity::Unknown, Some(reason)));
            slot.memo_entries = slot.job.memo_len() as u64;
            slot.job.release();
            None
        } else {
            let t = Instant::now();
            let p = slot.job.run(SLICE);
            slot.micros += t.elapsed().as_micros() as u64;
            let working = slot.job.working_bytes();
            if working > 0 {
                peak.fetch_max(memory.load(Ordering::Relaxed) + working, Ordering::Relaxed);
            }
            Some(p)
        };
        let after = slot.job.bytes() as u64;
        let now = if after >= before {
            memory.fetch_add(after - before, Ordering::Relaxed) + (after - before)
        } else {
            let freed = before - after;
            let old = memory
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |m| {
                    Some(m.saturating_sub(freed))
                })
                .unwrap_or_else(|m| m);
            old.saturating_sub(freed)
        };
        peak.fetch_max(now, Ordering::Relaxed);
        match progress {
            Some(Progress::Running) => lock(&queue).push_back((i, slot)),
            Some(done) => {
                let valid = if done == Progress::Illegal {
                    Validity::Invalid
                } else {
                    Validity::Valid
                };
                if valid == Validity::Invalid && !options.all_keys {
                    stop.store(true, Ordering::Relaxed);
                }
                slot.outcome = Some((valid, None));
                lock(&finished).push((i, slot));
            }
            None => lock(&finished).push((i, slot)),
        }
        true
    };
    // A first round on this thread: small histories finish here without paying for
    // thread start-up; only what is left is shared among the workers. (A unique-values
    // key finishes in its one turn, so the round also stops after a few milliseconds,
    // leaving the rest of many such keys to the workers.)
    let round = Instant::now();
    for _ in 0..n_parts {
        if !turn() || round.elapsed() > FIRST_ROUND {
            break;
        }
    }
    if !lock(&queue).is_empty() {
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(|| while turn() {});
            }
            while turn() {}
        });
    }

    let mut done: Vec<(usize, Slot<'_, M>)> =
        finished.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    let mut verdict = Verdict {
        valid: Validity::Valid,
        checker: "linearizability".to_owned(),
        model: model.name().to_owned(),
        keys: Vec::with_capacity(n_parts),
        anomalies: Vec::new(),
        stats: Stats {
            ops: history.ops().len(),
            calls: history.calls().len(),
            partitions: n_parts,
            steps: 0,
            peak_memory_bytes: peak.load(Ordering::Relaxed),
            micros: 0,
        },
    };
    for (_, slot) in &done {
        let (valid, reason) = slot
            .outcome
            .unwrap_or((Validity::Unknown, Some(UnknownReason::Cancelled)));
        verdict.valid = verdict.valid.merge(valid);
        verdict.stats.steps += slot.job.steps();
        let part = slot.job.part();
        verdict.keys.push(KeyResult {
            key: part.key.clone(),
            valid,
            reason,
            calls: part.recorded,
            searched: part.calls.len(),
            steps: slot.job.steps(),
            memo_entries: slot.memo_entries,
            micros: slot.micros,
            method: slot.job.method(),
            fallback: slot.fallback.clone(),
        });
        if valid == Validity::Invalid {
            let anomaly = match &slot.job {
                Job::Search(search) => Some(explain(history, model, search)),
                Job::Unique(u) => unique::explain(history, model, u),
            };
            verdict.anomalies.extend(anomaly);
        }
    }
    verdict.stats.micros = duration_micros(started.elapsed());
    verdict
}

fn duration_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An op of the history, described by the model, for reports.
fn op_ref<P: Payload, M: Model<Op = P>>(
    history: &History<P>,
    model: &M,
    invoke: usize,
    ret: Option<usize>,
) -> OpRef {
    let ops = history.ops();
    let inv = &ops[invoke];
    let completion = match ret.and_then(|r| ops[r].payload()) {
        Some(p) => Completion::Ok(p),
        None => Completion::Indeterminate,
    };
    let op = match inv.payload() {
        Some(p) => model.describe_op(p, completion),
        None => "nemesis op".to_owned(),
    };
    OpRef {
        index: inv.index,
        line: match history.location(invoke) {
            Location::Line(l) => Some(l),
            Location::Op(_) => None,
        },
        process: inv.process,
        op,
    }
}

/// Turns an illegal search into a plain-words anomaly: the longest prefix, the state
/// there, the first completion no order gets past, and why each candidate fails.
fn explain<M: Model>(history: &History<M::Op>, model: &M, search: &Search<'_, M>) -> Anomaly {
    let part = &search.part;
    let ops = history.ops();
    let completion_of =
        |c: &partition::PartCall<M::Call>| match c.ret.and_then(|r| ops[r].payload()) {
            Some(p) => Completion::Ok(p),
            None => Completion::Indeterminate,
        };
    let mut path = Vec::with_capacity(search.best.len());
    let mut state = model.init();
    let mut in_prefix = vec![false; part.calls.len()];
    for &id in &search.best {
        let c = &part.calls[id as usize];
        in_prefix[id as usize] = true;
        if let Some(p) = ops[c.invoke].payload() {
            path.push((p, completion_of(c)));
        }
        if let Some(next) = model.step(&state, &c.call) {
            state = next;
        }
    }
    let stuck = part
        .calls
        .iter()
        .enumerate()
        .filter(|(i, c)| !in_prefix[*i] && c.ret.is_some())
        .min_by_key(|(_, c)| c.ret);
    let horizon = stuck.and_then(|(_, c)| c.ret).unwrap_or(usize::MAX);
    let described_state = model.describe_path(&path);
    let candidates = part
        .calls
        .iter()
        .enumerate()
        .filter(|(i, c)| !in_prefix[*i] && c.invoke < horizon)
        .take(12)
        .map(|(_, c)| Blocked {
            op: op_ref(history, model, c.invoke, c.ret),
            why: match model.step(&state, &c.call) {
                None => format!("impossible here: {described_state}"),
                Some(_) => "possible here, but then no order of the remaining ops works".to_owned(),
            },
        })
        .collect();
    let tail_from = search.best.len().saturating_sub(8);
    Anomaly {
        key: part.key.clone(),
        kind: "not-linearizable".to_owned(),
        prefix_len: search.best.len(),
        prefix_tail: search.best[tail_from..]
            .iter()
            .map(|&id| {
                let c = &part.calls[id as usize];
                op_ref(history, model, c.invoke, c.ret)
            })
            .collect(),
        state: described_state,
        stuck_at: stuck.map(|(_, c)| op_ref(history, model, c.invoke, c.ret)),
        candidates,
        conflict: None,
    }
}
