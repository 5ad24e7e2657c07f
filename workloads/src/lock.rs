//! The lock workload: acquire a lock, use it on a fenced resource, release it.
//!
//! ```text
//! LockGen (per worker: acquire → write → release) ──► LockClient<L: Lock> ──► target
//!                                                          │ write(token)
//!                                                          ▼
//!                                            FencedResource (owned by the harness)
//! history ──► checkers::lock (mutual exclusion, fencing, token order)
//! ```
//!
//! Each worker cycles through acquiring a lock from the target (getting a fencing
//! token), writing to a [`FencedResource`] with that token and holding the lock for a
//! random time, and releasing. The resource lives in the harness, so its decisions are
//! exact: it accepts a write only if the token is at least the highest it accepted.
//! A worker whose acquire was refused or unknown tries to acquire again.
//!
//! Outcomes: a refused acquire (the lock is held) is a definite `Fail`; whether the
//! target's other errors are definite is the target client's call ([`LockError`]).
//!
//! References: Jepsen's etcd lock tests (2020) and Kleppmann's fencing tokens.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkers::check::{CheckInput, Checker, CheckerResult};
use checkers::history::{End, History, Key, Kind, Payload, PayloadError, Process};
use checkers::lock::{AcquireOutcome, LockAction, LockCall, WriteOutcome};
use checkers::verdict::Validity;
use harness::generator::{Ctx, Generator, Outcome, Poll};
use harness::history::Codec;
use harness::interpreter::{Client, Completion};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How a lock call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Someone else holds the lock: the call certainly had no effect.
    #[error("lock is held: {0}")]
    Busy(String),
    /// Any other error that certainly had no effect.
    #[error("{0}")]
    Definite(String),
    /// The call may or may not have taken effect.
    #[error("{0}")]
    Indeterminate(String),
}

/// A lock service as the lock workload sees it.
pub trait Lock: Send + Sync + 'static {
    /// Takes `lock` for `client` with a lease of `ttl`; returns the fencing token.
    /// Must not wait for a held lock longer than the caller's patience: a held lock is
    /// [`LockError::Busy`].
    fn acquire(
        &self,
        lock: &str,
        client: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<u64, LockError>> + Send;
    /// Gives `lock` back; `token` is what the acquire returned.
    fn release(
        &self,
        lock: &str,
        client: &str,
        token: u64,
    ) -> impl Future<Output = Result<(), LockError>> + Send;
}

/// An operation of the lock workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "lowercase")]
pub enum LockOp {
    Acquire {
        lock: u32,
        ttl_ms: u64,
    },
    /// Write to the fenced resource with the held token, then hold for `hold_ms`.
    Write {
        lock: u32,
        hold_ms: u64,
    },
    Release {
        lock: u32,
    },
}

impl LockOp {
    pub fn lock(&self) -> u32 {
        match *self {
            LockOp::Acquire { lock, .. }
            | LockOp::Write { lock, .. }
            | LockOp::Release { lock } => lock,
        }
    }
}

impl fmt::Display for LockOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockOp::Acquire { lock, ttl_ms } => write!(f, "acquire lock {lock} (ttl {ttl_ms} ms)"),
            LockOp::Write { lock, hold_ms } => {
                write!(f, "write under lock {lock}, hold {hold_ms} ms")
            }
            LockOp::Release { lock } => write!(f, "release lock {lock}"),
        }
    }
}

/// What a completed lock operation returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum LockResult {
    Acquired {
        token: u64,
    },
    /// The resource accepted the write (its `seq`-th accepted write).
    Accepted {
        token: u64,
        seq: u64,
    },
    /// The resource refused a stale token: it had accepted `highest`.
    Rejected {
        token: u64,
        highest: u64,
    },
    Released {
        token: u64,
    },
}

/// The resource that fencing protects: accepts a write only if its token is at least
/// the highest token it has accepted for that lock.
#[derive(Debug, Default)]
pub struct FencedResource {
    state: Mutex<BTreeMap<u32, (u64, u64)>>, // lock → (highest token, accepted count)
}

impl FencedResource {
    pub fn write(&self, lock: u32, token: u64) -> LockResult {
        let mut state = self
            .state
            .lock()
            .expect("the resource's lock is never poisoned");
        let (highest, seq) = state.entry(lock).or_insert((0, 0));
        if *seq > 0 && token < *highest {
            return LockResult::Rejected {
                token,
                highest: *highest,
            };
        }
        *highest = token;
        *seq += 1;
        LockResult::Accepted { token, seq: *seq }
    }
}

/// Settings of the lock generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOpts {
    /// How many distinct locks the workers contend for.
    pub locks: u32,
    /// The lease each acquire asks for.
    pub ttl_ms: u64,
    /// Holds are drawn uniformly from `0..=max_hold_ms`.
    pub max_hold_ms: u64,
}

impl Default for LockOpts {
    /// Three locks, so that at any moment a few clients hold one and a leader change
    /// has several holds to cut short; holds long relative to the seconds a client can
    /// spend on an unresponsive node before it retries elsewhere (a broken lease shows
    /// only if the holder still holds when someone else gets in), and a lease well
    /// above the longest hold.
    fn default() -> Self {
        LockOpts {
            locks: 3,
            ttl_ms: 10_000,
            max_hold_ms: 4000,
        }
    }
}

impl LockOpts {
    /// Settings the workload can run with: at least one lock, and every hold ending
    /// within the lease it was granted under.
    pub fn validate(&self) -> Result<(), String> {
        if self.locks == 0 {
            return Err("the lock workload needs at least one lock".into());
        }
        if self.max_hold_ms >= self.ttl_ms {
            return Err(format!(
                "holds of up to {} ms must be shorter than the {} ms lease they are granted under",
                self.max_hold_ms, self.ttl_ms
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Acquire,
    Write(u32),
    Release(u32),
}

/// Per worker: acquire, and only after a granted acquire, write and release.
#[derive(Debug, Clone)]
pub struct LockGen {
    opts: LockOpts,
    /// What each worker does next.
    steps: BTreeMap<usize, Step>,
    /// The op each worker is running now, until it is observed to end.
    running: BTreeMap<usize, LockOp>,
}

impl LockGen {
    pub fn new(opts: LockOpts) -> Self {
        LockGen {
            opts: LockOpts {
                locks: opts.locks.max(1),
                ..opts
            },
            steps: BTreeMap::new(),
            running: BTreeMap::new(),
        }
    }
}

impl Generator for LockGen {
    type Op = LockOp;

    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<LockOp> {
        let op = match self
            .steps
            .get(&ctx.worker)
            .copied()
            .unwrap_or(Step::Acquire)
        {
            Step::Acquire => LockOp::Acquire {
                lock: rng.gen_range(0..self.opts.locks),
                ttl_ms: self.opts.ttl_ms,
            },
            Step::Write(lock) => LockOp::Write {
                lock,
                hold_ms: rng.gen_range(0..=self.opts.max_hold_ms),
            },
            Step::Release(lock) => LockOp::Release { lock },
        };
        self.running.insert(ctx.worker, op);
        Poll::Op(op)
    }

    fn observe(&mut self, worker: usize, outcome: Outcome) {
        let Some(ran) = self.running.remove(&worker) else {
            return;
        };
        let next = match (ran, outcome) {
            (LockOp::Acquire { lock, .. }, Outcome::Ok) => Step::Write(lock),
            (LockOp::Acquire { .. }, _) => Step::Acquire,
            (LockOp::Write { lock, .. }, _) => Step::Release(lock),
            (LockOp::Release { .. }, _) => Step::Acquire,
        };
        self.steps.insert(worker, next);
    }
}

/// Runs lock operations through any target's [`Lock`] client, against a shared
/// [`FencedResource`].
pub struct LockClient<L> {
    lock: Arc<L>,
    resource: Arc<FencedResource>,
    worker: usize,
    /// Bumped whenever an acquire's outcome is unknown, so the next attempt comes from
    /// a fresh client identity (the old one may hold a lease until it expires).
    generation: u64,
    /// Distinguishes client objects made for the same worker in different phases.
    instance: u64,
    held: Option<(u32, u64)>,
}

static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl<L> LockClient<L> {
    pub fn new(lock: Arc<L>, resource: Arc<FencedResource>, worker: usize) -> Self {
        LockClient {
            lock,
            resource,
            worker,
            generation: 0,
            instance: INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            held: None,
        }
    }

    /// Unique per client object and generation, so two processes of the history (e.g.
    /// worker 3 of the main phase and worker 3 of the final phase) are never the same
    /// lock client to the target — a re-entrant grant would look like two holders.
    fn identity(&self) -> String {
        format!(
            "faultline-w{}-i{}-g{}",
            self.worker, self.instance, self.generation
        )
    }
}

/// The name a lock has in the target's key space.
pub fn lock_name(lock: u32) -> String {
    format!("faultline/lock/{lock}")
}

impl<L: Lock> Client for LockClient<L> {
    type Input = LockOp;
    type Output = LockResult;

    /// A write holds the lock for its `hold_ms` inside the operation.
    fn planned_wait(&self, op: &LockOp) -> Duration {
        match *op {
            LockOp::Write { hold_ms, .. } => Duration::from_millis(hold_ms),
            _ => Duration::ZERO,
        }
    }

    async fn invoke(&mut self, op: &LockOp) -> Completion<LockResult> {
        match *op {
            LockOp::Acquire { lock, ttl_ms } => {
                self.held = None;
                let name = lock_name(lock);
                let ttl = Duration::from_millis(ttl_ms);
                match self.lock.acquire(&name, &self.identity(), ttl).await {
                    Ok(token) => {
                        self.held = Some((lock, token));
                        Completion::Ok(LockResult::Acquired { token })
                    }
                    Err(LockError::Busy(m)) | Err(LockError::Definite(m)) => Completion::Fail(m),
                    Err(LockError::Indeterminate(m)) => {
                        self.generation += 1;
                        Completion::Info(m)
                    }
                }
            }
            LockOp::Write { lock, hold_ms } => match self.held {
                Some((l, token)) if l == lock => {
                    let result = self.resource.write(lock, token);
                    tokio::time::sleep(Duration::from_millis(hold_ms)).await;
                    Completion::Ok(result)
                }
                _ => Completion::Fail(format!("not holding lock {lock}")),
            },
            LockOp::Release { lock } => match self.held.take() {
                Some((l, token)) if l == lock => {
                    match self
                        .lock
                        .release(&lock_name(lock), &self.identity(), token)
                        .await
                    {
                        Ok(()) => Completion::Ok(LockResult::Released { token }),
                        Err(LockError::Busy(m)) | Err(LockError::Definite(m)) => {
                            Completion::Fail(m)
                        }
                        Err(LockError::Indeterminate(m)) => {
                            self.generation += 1;
                            Completion::Info(m)
                        }
                    }
                }
                _ => Completion::Fail(format!("not holding lock {lock}")),
            },
        }
    }
}

/// A lock op as the history records it: the op, and on `ok` what it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRecord {
    pub op: LockOp,
    pub result: Option<LockResult>,
}

impl Payload for LockRecord {
    fn f(&self) -> &'static str {
        match self.op {
            LockOp::Acquire { .. } => "acquire",
            LockOp::Write { .. } => "write",
            LockOp::Release { .. } => "release",
        }
    }

    fn value(&self) -> Value {
        let mut v = match self.op {
            LockOp::Acquire { lock, ttl_ms } => json!({"lock": lock, "ttl_ms": ttl_ms}),
            LockOp::Write { lock, hold_ms } => json!({"lock": lock, "hold_ms": hold_ms}),
            LockOp::Release { lock } => json!({"lock": lock}),
        };
        let extra = match self.result {
            None => json!({}),
            Some(LockResult::Acquired { token }) | Some(LockResult::Released { token }) => {
                json!({"token": token})
            }
            Some(LockResult::Accepted { token, seq }) => {
                json!({"token": token, "accepted": true, "seq": seq})
            }
            Some(LockResult::Rejected { token, highest }) => {
                json!({"token": token, "accepted": false, "highest": highest})
            }
        };
        if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
        v
    }

    fn decode(f: &str, value: &Value, kind: Kind) -> Result<Self, PayloadError> {
        let field = |name: &str| -> Result<u64, PayloadError> {
            value.get(name).and_then(Value::as_u64).ok_or_else(|| {
                PayloadError::expected(&format!("an object with integer {name:?}"), value)
            })
        };
        let lock = u32::try_from(field("lock")?)
            .map_err(|_| PayloadError::expected("a lock number below 2^32", value))?;
        let op = match f {
            "acquire" => LockOp::Acquire {
                lock,
                ttl_ms: field("ttl_ms")?,
            },
            "write" => LockOp::Write {
                lock,
                hold_ms: field("hold_ms")?,
            },
            "release" => LockOp::Release { lock },
            other => {
                return Err(PayloadError(format!(
                    "expected f acquire, write or release, found {other:?}"
                )))
            }
        };
        let result = match (kind, op) {
            (Kind::Ok, LockOp::Acquire { .. }) => Some(LockResult::Acquired {
                token: field("token")?,
            }),
            (Kind::Ok, LockOp::Release { .. }) => Some(LockResult::Released {
                token: field("token")?,
            }),
            (Kind::Ok, LockOp::Write { .. }) => {
                let token = field("token")?;
                match value.get("accepted").and_then(Value::as_bool) {
                    Some(true) => Some(LockResult::Accepted {
                        token,
                        seq: field("seq")?,
                    }),
                    Some(false) => Some(LockResult::Rejected {
                        token,
                        highest: field("highest")?,
                    }),
                    None => return Err(PayloadError::expected("a boolean \"accepted\"", value)),
                }
            }
            _ => None,
        };
        Ok(LockRecord { op, result })
    }
}

/// Lock ops in the history.
#[derive(Debug, Clone, Copy, Default)]
pub struct LockCodec;

impl Codec for LockCodec {
    type Input = LockOp;
    type Output = LockResult;
    type Payload = LockRecord;

    fn key(&self, _input: &LockOp) -> Option<Key> {
        None
    }

    fn invoked(&self, input: &LockOp) -> LockRecord {
        LockRecord {
            op: *input,
            result: None,
        }
    }

    fn completed(&self, input: &LockOp, completion: &Completion<LockResult>) -> LockRecord {
        LockRecord {
            op: *input,
            result: match completion {
                Completion::Ok(r) => Some(*r),
                _ => None,
            },
        }
    }
}

/// Turns a lock history into the calls the lock checker reads.
pub fn calls(history: &History<LockRecord>) -> Vec<LockCall> {
    let ops = history.ops();
    let mut out = Vec::new();
    for call in history.calls() {
        let inv = &ops[call.invoke];
        let (Process::Client(p), Some(rec)) = (inv.process, inv.payload()) else {
            continue;
        };
        let done = match call.end {
            End::Ok(i) | End::Fail(i) | End::Info(i) => Some(&ops[i]),
            End::Never => None,
        };
        let result = done.and_then(|d| d.payload()).and_then(|r| r.result);
        let action = match (rec.op, call.end, result) {
            (LockOp::Acquire { ttl_ms, .. }, End::Ok(_), Some(LockResult::Acquired { token })) => {
                LockAction::Acquire {
                    ttl: ttl_ms * 1_000_000,
                    outcome: AcquireOutcome::Granted { token },
                }
            }
            (LockOp::Acquire { ttl_ms, .. }, End::Fail(_), _) => LockAction::Acquire {
                ttl: ttl_ms * 1_000_000,
                outcome: AcquireOutcome::Refused,
            },
            (LockOp::Acquire { ttl_ms, .. }, _, _) => LockAction::Acquire {
                ttl: ttl_ms * 1_000_000,
                outcome: AcquireOutcome::Unknown,
            },
            (LockOp::Write { .. }, _, Some(LockResult::Accepted { token, seq })) => {
                LockAction::Write {
                    token,
                    outcome: WriteOutcome::Accepted { seq },
                }
            }
            (LockOp::Write { .. }, _, Some(LockResult::Rejected { token, highest })) => {
                LockAction::Write {
                    token,
                    outcome: WriteOutcome::Rejected { highest },
                }
            }
            // A write that never reached the resource (no lock held) tells nothing.
            (LockOp::Write { .. }, _, _) => continue,
            (LockOp::Release { .. }, _, r) => LockAction::Release {
                token: match r {
                    Some(LockResult::Released { token }) => token,
                    _ => 0,
                },
            },
        };
        out.push(LockCall {
            process: p.0,
            invoke: inv.time,
            complete: done.map(|d| d.time),
            lock: lock_name(rec.op.lock()),
            action,
        });
    }
    out
}

/// The lock workload's checker: mutual exclusion, fencing, token order ([`check`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct LockSafety;

impl Checker for LockSafety {
    fn name(&self) -> &str {
        "lock"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<CheckerResult, checkers::InputError> {
        let history = History::<LockRecord>::from_records(input.records)?;
        Ok(check(&history))
    }
}

/// Checks a lock history: mutual exclusion, fencing, token order.
pub fn check(history: &History<LockRecord>) -> CheckerResult {
    let started = std::time::Instant::now();
    let end = history.ops().iter().map(|o| o.time).max().unwrap_or(0);
    let report = checkers::lock::check(&calls(history), end);
    CheckerResult {
        name: "lock".into(),
        valid: if report.valid {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        summary: report.describe(),
        details: checkers::check::details(&report),
        millis: started.elapsed().as_millis() as u64,
    }
}

/// The lock workload, for any target whose client speaks [`Lock`].
pub struct LockWorkload<L> {
    opts: LockOpts,
    /// The fenced resource every client of the run writes to.
    pub resource: Arc<FencedResource>,
    /// How many acquire → write → release rounds the final phase runs.
    final_ops: u64,
    _lock: std::marker::PhantomData<fn() -> L>,
}

impl<L> LockWorkload<L> {
    pub fn new(opts: LockOpts, concurrency: usize) -> Self {
        LockWorkload {
            opts,
            resource: Arc::new(FencedResource::default()),
            final_ops: 3 * concurrency.max(1) as u64,
            _lock: std::marker::PhantomData,
        }
    }
}

impl<L: Lock> harness::run::Workload for LockWorkload<L> {
    type Client = LockClient<L>;
    type Codec = LockCodec;

    fn name(&self) -> &'static str {
        "lock"
    }

    fn generator(&mut self) -> Box<dyn Generator<Op = LockOp>> {
        Box::new(LockGen::new(self.opts))
    }

    /// A few acquire cycles, spread out: locks that main-phase clients still held when
    /// the time limit stopped them stay taken until their leases run out, and a burst of
    /// acquires in the first instant would find them all busy.
    fn final_generator(&mut self) -> Option<Box<dyn Generator<Op = LockOp>>> {
        let per_second =
            (self.final_ops as f64 * 1000.0 / (2 * self.opts.ttl_ms.max(1)) as f64).max(1.0);
        Some(Box::new(harness::generator::Limit::new(
            harness::generator::Stagger::per_second(LockGen::new(self.opts), Some(per_second)),
            self.final_ops,
        )))
    }

    fn codec(&self) -> LockCodec {
        LockCodec
    }

    fn checkers(&self) -> Vec<Box<dyn Checker>> {
        vec![Box::new(LockSafety)]
    }

    fn writes(&self) -> &'static [&'static str] {
        &["acquire"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::generator::simulate;
    use rand::SeedableRng;

    #[test]
    fn the_resource_accepts_only_tokens_at_least_the_highest() {
        let r = FencedResource::default();
        assert_eq!(r.write(0, 33), LockResult::Accepted { token: 33, seq: 1 });
        assert_eq!(r.write(0, 34), LockResult::Accepted { token: 34, seq: 2 });
        assert_eq!(r.write(0, 34), LockResult::Accepted { token: 34, seq: 3 });
        assert_eq!(
            r.write(0, 33),
            LockResult::Rejected {
                token: 33,
                highest: 34
            }
        );
        assert_eq!(
            r.write(1, 1),
            LockResult::Accepted { token: 1, seq: 1 },
            "per lock"
        );
    }

    #[test]
    fn lock_records_round_trip_through_the_history_format() {
        let cases = [
            (
                Kind::Invoke,
                LockRecord {
                    op: LockOp::Acquire {
                        lock: 1,
                        ttl_ms: 500,
                    },
                    result: None,
                },
            ),
            (
                Kind::Ok,
                LockRecord {
                    op: LockOp::Acquire {
                        lock: 1,
                        ttl_ms: 500,
                    },
                    result: Some(LockResult::Acquired { token: 42 }),
                },
            ),
            (
                Kind::Ok,
                LockRecord {
                    op: LockOp::Write {
                        lock: 1,
                        hold_ms: 3,
                    },
                    result: Some(LockResult::Rejected {
                        token: 41,
                        highest: 42,
                    }),
                },
            ),
            (
                Kind::Ok,
                LockRecord {
                    op: LockOp::Write {
                        lock: 1,
                        hold_ms: 3,
                    },
                    result: Some(LockResult::Accepted { token: 42, seq: 7 }),
                },
            ),
            (
                Kind::Fail,
                LockRecord {
                    op: LockOp::Release { lock: 1 },
                    result: None,
                },
            ),
        ];
        for (kind, rec) in cases {
            let back = LockRecord::decode(rec.f(), &rec.value(), kind).unwrap();
            assert_eq!(back, rec);
        }
        let bad = LockRecord::decode(
            "write",
            &json!({"lock": 1, "hold_ms": 2, "token": 3}),
            Kind::Ok,
        );
        assert!(bad.unwrap_err().0.contains("accepted"));
        assert!(LockRecord::decode("grab", &json!({"lock": 1}), Kind::Invoke).is_err());
    }

    #[test]
    fn each_worker_cycles_acquire_write_release() {
        // The simulator observes every op as ok: each worker goes round the cycle.
        let mut g = LockGen::new(LockOpts {
            locks: 3,
            ..LockOpts::default()
        });
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let ops = simulate(&mut g, &mut rng, 2, Duration::from_millis(1), 12);
        let kinds: Vec<&str> = ops
            .iter()
            .map(|(_, op)| match op {
                LockOp::Acquire { .. } => "a",
                LockOp::Write { .. } => "w",
                LockOp::Release { .. } => "r",
            })
            .collect();
        assert_eq!(kinds.join(""), "aawwrraawwrr");
        // Worker 0 takes ops 0, 2, 4: the same lock throughout its cycle.
        let locks: Vec<u32> = ops
            .iter()
            .step_by(2)
            .take(3)
            .map(|(_, o)| o.lock())
            .collect();
        assert!(locks.iter().all(|l| *l == locks[0]), "{locks:?}");
    }

    #[test]
    fn holds_must_end_within_their_lease() {
        assert_eq!(LockOpts::default().validate(), Ok(()));
        let long = LockOpts {
            ttl_ms: 1000,
            max_hold_ms: 1000,
            ..LockOpts::default()
        };
        assert!(long.validate().unwrap_err().contains("1000 ms lease"));
        let none = LockOpts {
            locks: 0,
            ..LockOpts::default()
        };
        assert!(none.validate().is_err());
    }

    #[test]
    fn a_refused_acquire_is_retried() {
        let mut g = LockGen::new(LockOpts::default());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let ctx = Ctx {
            now: Duration::ZERO,
            in_flight: 0,
            worker: 0,
        };
        assert!(matches!(
            g.poll(&ctx, &mut rng),
            Poll::Op(LockOp::Acquire { .. })
        ));
        g.observe(0, Outcome::Fail);
        assert!(matches!(
            g.poll(&ctx, &mut rng),
            Poll::Op(LockOp::Acquire { .. })
        ));
        g.observe(0, Outcome::Info);
        assert!(matches!(
            g.poll(&ctx, &mut rng),
            Poll::Op(LockOp::Acquire { .. })
        ));
        g.observe(0, Outcome::Ok);
        assert!(matches!(
            g.poll(&ctx, &mut rng),
            Poll::Op(LockOp::Write { .. })
        ));
        g.observe(0, Outcome::Ok);
        assert!(matches!(
            g.poll(&ctx, &mut rng),
            Poll::Op(LockOp::Release { .. })
        ));
    }

    /// A lock table in memory; `grant_held` makes it ignore holders (a broken lock).
    #[derive(Default)]
    struct MemLock {
        held: Mutex<BTreeMap<String, String>>,
        next: Mutex<u64>,
        grant_held: bool,
    }

    impl Lock for MemLock {
        async fn acquire(
            &self,
            lock: &str,
            client: &str,
            _ttl: Duration,
        ) -> Result<u64, LockError> {
            let mut held = self.held.lock().unwrap();
            if let Some(h) = held.get(lock) {
                if !self.grant_held {
                    return Err(LockError::Busy(h.clone()));
                }
            }
            held.insert(lock.into(), client.into());
            let mut n = self.next.lock().unwrap();
            *n += 1;
            Ok(*n)
        }
        async fn release(&self, lock: &str, client: &str, _token: u64) -> Result<(), LockError> {
            let mut held = self.held.lock().unwrap();
            if held.get(lock).map(String::as_str) == Some(client) {
                held.remove(lock);
            }
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_client_fences_its_writes_with_the_token_it_holds() {
        let lock = Arc::new(MemLock {
            grant_held: true,
            ..MemLock::default()
        });
        let resource = Arc::new(FencedResource::default());
        let mut a = LockClient::new(Arc::clone(&lock), Arc::clone(&resource), 0);
        let mut b = LockClient::new(Arc::clone(&lock), Arc::clone(&resource), 1);
        let acq = LockOp::Acquire {
            lock: 0,
            ttl_ms: 100,
        };
        let write = LockOp::Write {
            lock: 0,
            hold_ms: 5,
        };
        assert_eq!(
            a.invoke(&acq).await,
            Completion::Ok(LockResult::Acquired { token: 1 })
        );
        assert_eq!(
            b.invoke(&acq).await,
            Completion::Ok(LockResult::Acquired { token: 2 })
        );
        assert_eq!(
            b.invoke(&write).await,
            Completion::Ok(LockResult::Accepted { token: 2, seq: 1 })
        );
        assert_eq!(
            a.invoke(&write).await,
            Completion::Ok(LockResult::Rejected {
                token: 1,
                highest: 2
            }),
            "fencing stops the holder whose lock was taken over"
        );
        assert_eq!(
            a.invoke(&LockOp::Release { lock: 0 }).await,
            Completion::Ok(LockResult::Released { token: 1 })
        );
        assert!(
            matches!(a.invoke(&write).await, Completion::Fail(_)),
            "no lock held"
        );
    }

    /// Runs clients against a lock through the real interpreter and recorder, then
    /// checks the recorded history: a correct lock is valid, one that grants a held
    /// lock is caught.
    async fn run_and_check(grant_held: bool) -> CheckerResult {
        run_and_check_with(grant_held, 5, Duration::from_secs(5))
            .await
            .0
    }

    /// As [`run_and_check`], with holds up to `max_hold_ms` and the given op timeout;
    /// also returns how many ops ended `info`.
    async fn run_and_check_with(
        grant_held: bool,
        max_hold_ms: u64,
        op_timeout: Duration,
    ) -> (CheckerResult, usize) {
        use harness::history::{HistoryLog, Recording};
        let dir = std::env::temp_dir().join(format!(
            "fl-lockwl-{}-{grant_held}-{max_hold_ms}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let log = Arc::new(HistoryLog::create(&path, std::time::Instant::now()).unwrap());
        let lock = Arc::new(MemLock {
            grant_held,
            ..MemLock::default()
        });
        let resource = Arc::new(FencedResource::default());
        let clients = (0..3)
            .map(|w| LockClient::new(Arc::clone(&lock), Arc::clone(&resource), w))
            .collect();
        let (_tx, stop) = tokio::sync::watch::channel(false);
        let gen = harness::generator::Limit::new(
            LockGen::new(LockOpts {
                locks: 1,
                ttl_ms: 10_000,
                max_hold_ms,
            }),
            60,
        );
        harness::interpreter::run(
            gen,
            clients,
            Arc::new(Recording::new(Arc::clone(&log), LockCodec)),
            ChaCha8Rng::seed_from_u64(8),
            harness::interpreter::Config {
                op_timeout,
                process_base: 0,
            },
            tokio::time::Instant::now(),
            stop,
        )
        .await
        .unwrap();
        let (_, records) = checkers::format::read(&std::fs::read(&path).unwrap(), None).unwrap();
        let history = History::<LockRecord>::from_records(&records).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let infos = records.iter().filter(|r| r.kind == Kind::Info).count();
        (check(&history), infos)
    }

    #[tokio::test(start_paused = true)]
    async fn holds_longer_than_the_op_timeout_are_not_timeouts() {
        // A hold is the client's own wait: were it cut off by the op timeout, the
        // holder's process would retire without its release, its hold would run on to
        // the ttl while the lock was in fact released, and the next holder would look
        // like a second holder of a correct lock.
        let (result, infos) = run_and_check_with(false, 1000, Duration::from_millis(100)).await;
        assert_eq!(infos, 0, "no op timed out");
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.summary);
    }

    #[tokio::test]
    async fn a_correct_lock_is_valid_and_a_double_grant_is_caught() {
        let ok = run_and_check(false).await;
        assert_eq!(ok.valid, Validity::Valid, "{:?}", ok.summary);
        let broken = run_and_check(true).await;
        assert_eq!(broken.valid, Validity::Invalid, "{:?}", broken.summary);
        assert!(
            broken
                .summary
                .iter()
                .any(|l| l.contains("two holders at once")),
            "{:?}",
            broken.summary
        );
    }

    #[tokio::test]
    async fn a_held_lock_is_a_definite_failure() {
        let lock = Arc::new(MemLock::default());
        let resource = Arc::new(FencedResource::default());
        let mut a = LockClient::new(Arc::clone(&lock), Arc::clone(&resource), 0);
        let mut b = LockClient::new(Arc::clone(&lock), Arc::clone(&resource), 1);
        let acq = LockOp::Acquire {
            lock: 0,
            ttl_ms: 100,
        };
        assert!(matches!(a.invoke(&acq).await, Completion::Ok(_)));
        match b.invoke(&acq).await {
            Completion::Fail(holder) => assert!(holder.starts_with("faultline-w0-i"), "{holder}"),
            other => panic!("expected a definite failure, got {other:?}"),
        }
        // A later phase's client for the same worker is a different lock client: the
        // lock must not be granted to it again as if re-entrant.
        let mut a_again = LockClient::new(Arc::clone(&lock), Arc::clone(&resource), 0);
        assert!(matches!(a_again.invoke(&acq).await, Completion::Fail(_)));
    }
}
