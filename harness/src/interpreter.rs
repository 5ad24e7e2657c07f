//! The interpreter: the one impure loop of a run.
//!
//! ```text
//!            poll(now, in_flight)           op                 invoke ──► history
//! Generator ◄───────────────────── loop ──────────► worker k ─────────► Client
//!                                   ▲                  │   ok|fail|info ──► history
//!                                   └──── idle(k) ─────┘
//! ```
//!
//! The loop asks the pure [`Generator`] for the next operation whenever a worker is
//! idle and hands it to that worker. Each worker owns one [`Client`] (opened by the
//! caller) and a process id. Every invocation and completion goes to the [`Recorder`]
//! *before* anything else looks at it, so a crash loses nothing already recorded.
//!
//! Invariants:
//! - At most `concurrency` operations are in flight; a process has at most one.
//! - An operation that does not complete within `op_timeout` is recorded as
//!   [`Completion::Info`] (its effect is unknown) and the worker continues as a fresh
//!   process id (`process + concurrency`), as Jepsen does: a process id never has two
//!   operations whose effects could overlap.
//! - Stopping (the time limit, Ctrl-C, a recorder error) lets in-flight operations
//!   finish or time out, so every recorded invocation has a recorded completion.
//!
//! References: Jepsen's `jepsen.generator.interpreter`.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::generator::{Ctx, Generator, Outcome as Ended, Poll};

/// A client process id: workers start at `0..concurrency` and move on by
/// `concurrency` each time an operation's outcome is unknown.
pub type ProcessId = u64;

/// How a client call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion<O> {
    /// It happened, with this result.
    Ok(O),
    /// It certainly did not happen (a definite error), with the reason.
    Fail(String),
    /// It may or may not have happened (timeout, connection lost, …), with the reason.
    Info(String),
}

/// One connection to the system under test, used by one worker at a time.
pub trait Client: Send + 'static {
    type Input: Send + Sync + 'static;
    type Output: Send + 'static;

    /// Performs one operation. Must classify its errors: [`Completion::Fail`] only
    /// when the operation certainly had no effect.
    fn invoke(
        &mut self,
        input: &Self::Input,
    ) -> impl Future<Output = Completion<Self::Output>> + Send;

    /// Time the operation spends waiting on purpose, not on the system under test (a
    /// lock client holding its lock): added to the op timeout for this operation, which
    /// bounds only the waiting on the system.
    fn planned_wait(&self, _input: &Self::Input) -> Duration {
        Duration::ZERO
    }
}

/// Where operations are written as they happen (the history file, in a real run).
/// Both calls must be durable enough that a crash of the controller right after
/// them loses nothing (written and flushed), and return an error otherwise.
pub trait Recorder<I, O>: Send + Sync + 'static {
    fn invoke(&self, process: ProcessId, input: &I) -> io::Result<()>;
    fn complete(&self, process: ProcessId, input: &I, completion: &Completion<O>)
        -> io::Result<()>;
}

/// Settings of one interpreter run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Per-operation timeout; past it the outcome is unknown.
    pub op_timeout: Duration,
    /// Worker `k` starts as process `process_base + k`. A later phase on the same
    /// history passes the previous run's [`Summary::next_process`], so no process id
    /// is ever reused (a retired one must never invoke again).
    pub process_base: ProcessId,
}

/// What the interpreter did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub invoked: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Of the `info`s, how many were the interpreter's own timeouts.
    pub timeouts: u64,
    /// True when the run was stopped from outside before the generator was exhausted.
    pub interrupted: bool,
    /// The first process id no worker of this run used.
    pub next_process: ProcessId,
}

/// Runs `generator` against one worker per client until the generator is exhausted or
/// `stop` turns true, then waits for in-flight operations. `start` is the run's time
/// origin (the same one the recorder uses), so generator times are times in the run.
///
/// Returns an error only when recording failed; the caller still owns everything
/// recorded until then.
pub async fn run<G, C, R>(
    mut generator: G,
    clients: Vec<C>,
    recorder: Arc<R>,
    mut rng: ChaCha8Rng,
    config: Config,
    start: Instant,
    mut stop: watch::Receiver<bool>,
) -> io::Result<Summary>
where
    G: Generator<Op = C::Input>,
    C: Client,
    R: Recorder<C::Input, C::Output>,
{
    let concurrency = clients.len();
    if concurrency == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the interpreter needs at least one client",
        ));
    }
    let (idle_tx, mut idle_rx) = mpsc::unbounded_channel::<Result<WorkerDone, io::Error>>();
    let next_process = Arc::new(std::sync::atomic::AtomicU64::new(
        config.process_base + concurrency as ProcessId,
    ));
    let mut op_txs = Vec::with_capacity(concurrency);
    let mut handles = Vec::with_capacity(concurrency);
    for (k, client) in clients.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel::<C::Input>(1);
        op_txs.push(tx);
        let worker = Worker {
            index: k,
            process: config.process_base + k as ProcessId,
            stride: concurrency as ProcessId,
            client,
            recorder: Arc::clone(&recorder),
            op_timeout: config.op_timeout,
        };
        handles.push(tokio::spawn(worker.run(
            rx,
            idle_tx.clone(),
            Arc::clone(&next_process),
        )));
    }
    drop(idle_tx);

    let mut summary = Summary::default();
    let mut idle: VecDeque<usize> = (0..concurrency).collect();
    let mut failure: Option<io::Error> = None;
    let absorb = |done: Result<WorkerDone, io::Error>,
                  generator: &mut G,
                  idle: &mut VecDeque<usize>,
                  summary: &mut Summary,
                  failure: &mut Option<io::Error>| match done {
        Ok(d) => {
            let ended = match d.outcome {
                Outcome::Ok => {
                    summary.ok += 1;
                    Ended::Ok
                }
                Outcome::Fail => {
                    summary.fail += 1;
                    Ended::Fail
                }
                Outcome::Info { timeout } => {
                    summary.info += 1;
                    summary.timeouts += u64::from(timeout);
                    Ended::Info
                }
            };
            generator.observe(d.worker, ended);
            idle.push_back(d.worker);
        }
        Err(e) => {
            if failure.is_none() {
                *failure = Some(e);
            }
        }
    };

    'main: loop {
        if *stop.borrow() {
            summary.interrupted = true;
            break;
        }
        if failure.is_some() {
            break;
        }
        // Take every completion that is already there, without waiting.
        while let Ok(done) = idle_rx.try_recv() {
            absorb(done, &mut generator, &mut idle, &mut summary, &mut failure);
        }
        if idle.is_empty() {
            tokio::select! {
                done = idle_rx.recv() => match done {
                    Some(done) => absorb(done, &mut generator, &mut idle, &mut summary, &mut failure),
                    None => break 'main, // every worker died: nothing more can run
                },
                _ = stop.changed() => {}
            }
            continue;
        }
        let ctx = Ctx {
            now: start.elapsed(),
            in_flight: concurrency - idle.len(),
            worker: *idle.front().expect("checked non-empty above"),
        };
        match generator.poll(&ctx, &mut rng) {
            Poll::Op(op) => {
                let k = idle.pop_front().expect("checked non-empty above");
                summary.invoked += 1;
                if op_txs[k].send(op).await.is_err() {
                    // The worker is gone (it failed to record and said so).
                    continue;
                }
            }
            Poll::At(t) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(start + t) => {}
                    done = idle_rx.recv() => if let Some(done) = done {
                        absorb(done, &mut generator, &mut idle, &mut summary, &mut failure)
                    },
                    _ = stop.changed() => {}
                }
            }
            Poll::Blocked => {
                tokio::select! {
                    done = idle_rx.recv() => match done {
                        Some(done) => absorb(done, &mut generator, &mut idle, &mut summary, &mut failure),
                        None => break 'main,
                    },
                    _ = stop.changed() => {}
                }
            }
            Poll::Exhausted => break,
        }
    }

    // Closing the op channels ends each worker after its current operation.
    drop(op_txs);
    while let Some(done) = idle_rx.recv().await {
        absorb(done, &mut generator, &mut idle, &mut summary, &mut failure);
    }
    for h in handles {
        if let Err(e) = h.await {
            if failure.is_none() {
                failure = Some(io::Error::other(format!("a client worker panicked: {e}")));
            }
        }
    }
    summary.next_process = next_process.load(std::sync::atomic::Ordering::SeqCst);
    match failure {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

enum Outcome {
    Ok,
    Fail,
    Info { timeout: bool },
}

struct WorkerDone {
    worker: usize,
    outcome: Outcome,
}

struct Worker<C, R> {
    index: usize,
    process: ProcessId,
    stride: ProcessId,
    client: C,
    recorder: Arc<R>,
    op_timeout: Duration,
}

impl<C, R> Worker<C, R>
where
    C: Client,
    R: Recorder<C::Input, C::Output>,
{
    async fn run(
        mut self,
        mut ops: mpsc::Receiver<C::Input>,
        done: mpsc::UnboundedSender<Result<WorkerDone, io::Error>>,
        next_process: Arc<std::sync::atomic::AtomicU64>,
    ) {
        while let Some(input) = ops.recv().await {
            let result = self.one(&input).await;
            let failed = result.is_err();
            next_process.fetch_max(
                self.process + self.stride,
                std::sync::atomic::Ordering::SeqCst,
            );
            if done.send(result).is_err() || failed {
                return;
            }
        }
    }

    async fn one(&mut self, input: &C::Input) -> io::Result<WorkerDone> {
        self.recorder.invoke(self.process, input)?;
        let limit = self.op_timeout + self.client.planned_wait(input);
        let (completion, timeout) =
            match tokio::time::timeout(limit, self.client.invoke(input)).await {
                Ok(c) => (c, false),
                Err(_) => (Completion::Info(format!("timed out after {limit:?}")), true),
            };
        self.recorder.complete(self.process, input, &completion)?;
        let outcome = match completion {
            Completion::Ok(_) => Outcome::Ok,
            Completion::Fail(_) => Outcome::Fail,
            Completion::Info(_) => {
                self.process += self.stride;
                Outcome::Info { timeout }
            }
        };
        Ok(WorkerDone {
            worker: self.index,
            outcome,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{FromFn, Limit, Stagger, TimeLimit};
    use rand::SeedableRng;
    use std::sync::Mutex;

    /// What the recorder saw, in order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Seen {
        Invoke(ProcessId, u32),
        Complete(ProcessId, u32, Completion<u32>),
    }

    #[derive(Default)]
    struct Log {
        seen: Mutex<Vec<Seen>>,
        fail_after: Option<usize>,
    }

    impl Recorder<u32, u32> for Log {
        fn invoke(&self, p: ProcessId, i: &u32) -> io::Result<()> {
            let mut seen = self.seen.lock().unwrap();
            if self.fail_after.is_some_and(|n| seen.len() >= n) {
                return Err(io::Error::other("disk full"));
            }
            seen.push(Seen::Invoke(p, *i));
            Ok(())
        }
        fn complete(&self, p: ProcessId, i: &u32, c: &Completion<u32>) -> io::Result<()> {
            self.seen
                .lock()
                .unwrap()
                .push(Seen::Complete(p, *i, c.clone()));
            Ok(())
        }
    }

    /// Answers `x * 10`; `x % 7 == 3` fails definitely; `x % 5 == 4` hangs past any
    /// timeout (an unknown outcome).
    struct Echo;

    impl Client for Echo {
        type Input = u32;
        type Output = u32;
        async fn invoke(&mut self, x: &u32) -> Completion<u32> {
            if x % 5 == 4 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            if x % 7 == 3 {
                return Completion::Fail("nope".into());
            }
            tokio::task::yield_now().await;
            Completion::Ok(x * 10)
        }
    }

    fn counter() -> FromFn<impl FnMut(&mut ChaCha8Rng) -> u32 + Send> {
        let mut n = 0;
        FromFn(move |_: &mut ChaCha8Rng| {
            n += 1;
            n
        })
    }

    fn config() -> Config {
        Config {
            op_timeout: Duration::from_millis(100),
            process_base: 0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_invoke_completes_and_info_retires_the_process() {
        let log = Arc::new(Log::default());
        let (_tx, stop) = watch::channel(false);
        let summary = run(
            Limit::new(counter(), 40),
            vec![Echo, Echo, Echo],
            Arc::clone(&log),
            ChaCha8Rng::seed_from_u64(1),
            config(),
            Instant::now(),
            stop,
        )
        .await
        .unwrap();
        assert_eq!(summary.invoked, 40);
        assert_eq!(summary.ok + summary.fail + summary.info, 40);
        // 4, 9, 14, … hang: 8 of 1..=40. 3, 10, 17, 31, 38 fail (24 hangs first).
        assert_eq!(summary.info, 8);
        assert_eq!(summary.timeouts, 8);
        assert_eq!(summary.fail, 5);

        let seen = log.seen.lock().unwrap().clone();
        let mut open: std::collections::BTreeMap<ProcessId, u32> = Default::default();
        let mut retired = std::collections::BTreeSet::new();
        for s in &seen {
            match s {
                Seen::Invoke(p, x) => {
                    assert!(!retired.contains(p), "process {p} reused after info");
                    assert!(
                        open.insert(*p, *x).is_none(),
                        "process {p} had two ops open"
                    );
                }
                Seen::Complete(p, x, c) => {
                    assert_eq!(open.remove(p), Some(*x));
                    match c {
                        Completion::Ok(v) => assert_eq!(*v, x * 10),
                        Completion::Fail(_) => assert_eq!(x % 7, 3),
                        Completion::Info(_) => {
                            assert_eq!(x % 5, 4);
                            retired.insert(*p);
                        }
                    }
                }
            }
        }
        assert!(open.is_empty(), "every invocation has a completion");
        assert_eq!(retired.len(), 8);
        let max = seen
            .iter()
            .map(|s| match s {
                Seen::Invoke(p, _) | Seen::Complete(p, _, _) => *p,
            })
            .max()
            .unwrap();
        assert!(
            summary.next_process > max,
            "{} <= {max}",
            summary.next_process
        );

        // A second phase starting at next_process never reuses an id.
        let (_tx, stop) = watch::channel(false);
        let log2 = Arc::new(Log::default());
        let s2 = run(
            Limit::new(counter(), 10),
            vec![Echo, Echo, Echo],
            Arc::clone(&log2),
            ChaCha8Rng::seed_from_u64(2),
            Config {
                process_base: summary.next_process,
                ..config()
            },
            Instant::now(),
            stop,
        )
        .await
        .unwrap();
        assert!(log2.seen.lock().unwrap().iter().all(|s| match s {
            Seen::Invoke(p, _) | Seen::Complete(p, _, _) => *p >= summary.next_process,
        }));
        assert!(s2.next_process >= summary.next_process + 3);
    }

    /// Sleeps `x` × 100 ms on purpose and says so: only waits beyond that count against
    /// the op timeout.
    struct Holder;

    impl Client for Holder {
        type Input = u32;
        type Output = u32;
        fn planned_wait(&self, x: &u32) -> Duration {
            Duration::from_millis(100 * u64::from(*x % 10))
        }
        async fn invoke(&mut self, x: &u32) -> Completion<u32> {
            // x ≥ 10 overruns its plan by 150 ms, past the 100 ms op timeout.
            let extra = if *x >= 10 { 150 } else { 50 };
            tokio::time::sleep(Duration::from_millis(100 * u64::from(*x % 10) + extra)).await;
            Completion::Ok(*x)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn planned_waits_extend_the_op_timeout() {
        let inputs = vec![5u32, 9, 15];
        let mut it = inputs.clone().into_iter();
        let log = Arc::new(Log::default());
        let (_tx, stop) = watch::channel(false);
        let summary = run(
            Limit::new(FromFn(move |_: &mut ChaCha8Rng| it.next().unwrap_or(0)), 3),
            vec![Holder],
            Arc::clone(&log),
            ChaCha8Rng::seed_from_u64(1),
            config(),
            Instant::now(),
            stop,
        )
        .await
        .unwrap();
        assert_eq!((summary.ok, summary.info, summary.timeouts), (2, 1, 1));
        let infos: Vec<u32> = log
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|s| match s {
                Seen::Complete(_, x, Completion::Info(_)) => Some(*x),
                _ => None,
            })
            .collect();
        assert_eq!(
            infos,
            vec![15],
            "only the op that overran its plan timed out"
        );
    }

    /// Counts what it is told about each op's end.
    struct Observed<G> {
        inner: G,
        seen: Arc<Mutex<[u64; 3]>>,
    }

    impl<G: Generator> Generator for Observed<G> {
        type Op = G::Op;
        fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<G::Op> {
            self.inner.poll(ctx, rng)
        }
        fn observe(&mut self, _worker: usize, outcome: Ended) {
            self.seen.lock().unwrap()[outcome as usize] += 1;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_generator_observes_how_each_op_ended() {
        let seen = Arc::new(Mutex::new([0; 3]));
        let (_tx, stop) = watch::channel(false);
        let gen = Observed {
            inner: Limit::new(counter(), 40),
            seen: Arc::clone(&seen),
        };
        let s = run(
            gen,
            vec![Echo, Echo],
            Arc::new(Log::default()),
            ChaCha8Rng::seed_from_u64(4),
            config(),
            Instant::now(),
            stop,
        )
        .await
        .unwrap();
        assert_eq!(*seen.lock().unwrap(), [s.ok, s.fail, s.info]);
        assert_eq!(s.ok + s.fail + s.info, 40);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_the_run_and_lets_in_flight_ops_finish() {
        let log = Arc::new(Log::default());
        let (tx, stop) = watch::channel(false);
        let start = Instant::now();
        let gen = TimeLimit::new(
            Stagger::per_second(counter(), Some(100.0)),
            Duration::from_secs(3600),
        );
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            tx.send(true).unwrap();
        });
        let summary = run(
            gen,
            vec![Echo, Echo],
            Arc::clone(&log),
            ChaCha8Rng::seed_from_u64(2),
            config(),
            start,
            stop,
        )
        .await
        .unwrap();
        stopper.await.unwrap();
        assert!(summary.interrupted);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert!(
            (120..=280).contains(&summary.invoked),
            "about 200 ops in 2 s at 100/s, got {}",
            summary.invoked
        );
        let seen = log.seen.lock().unwrap();
        let invokes = seen
            .iter()
            .filter(|s| matches!(s, Seen::Invoke(..)))
            .count();
        assert_eq!(invokes * 2, seen.len(), "every invoke completed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_recorder_failure_is_a_harness_error() {
        let log = Arc::new(Log {
            fail_after: Some(10),
            ..Log::default()
        });
        let (_tx, stop) = watch::channel(false);
        let err = run(
            Limit::new(counter(), 1000),
            vec![Echo, Echo],
            Arc::clone(&log),
            ChaCha8Rng::seed_from_u64(3),
            config(),
            Instant::now(),
            stop,
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert!(log.seen.lock().unwrap().len() < 20);
    }
}
