//! The generator: a pure, seeded source of operations.
//!
//! ```text
//! workload mix ──► Stagger (rate + jitter) ──► TimeLimit ──► Phases ──► interpreter
//!                                                                 ▲        │
//!                                         Ctx { now, in_flight, worker } ─┘
//! ```
//!
//! A generator never reads a clock, sleeps or spawns anything: the interpreter (the one
//! impure loop) asks it for the next operation with [`Generator::poll`], passing the
//! current logical time and how many operations are in flight, plus the run's seeded RNG.
//! The answer says what to do: run this op now, ask again at a later time, wait until an
//! in-flight op completes, or stop. Because of that, a whole run's schedule can be
//! simulated in a test without threads or clocks, and the same seed gives the same ops.
//!
//! Invariants:
//! - `poll` with a `now` earlier than a previously returned [`Poll::At`] returns `At`
//!   again (never an op ahead of its time).
//! - Once a generator returns [`Poll::Exhausted`] it keeps returning it.
//!
//! References: Jepsen's `jepsen.generator` (`stagger`, `time-limit`, `phases`, `mix`),
//! reduced to the combinators faultline needs.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What the interpreter knows when it asks for the next op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    /// Time since the start of the run (monotonic, logical in tests).
    pub now: Duration,
    /// Operations invoked and not yet completed.
    pub in_flight: usize,
    /// The worker (`0..concurrency`) that will run an op returned now. Workloads whose
    /// clients follow a per-worker cycle (acquire, use, release) key their state on it.
    pub worker: usize,
}

/// The generator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll<T> {
    /// Invoke this operation now.
    Op(T),
    /// Nothing before this time (since the start of the run); ask again then.
    At(Duration),
    /// Nothing until an in-flight operation completes (a phase barrier).
    Blocked,
    /// No more operations, ever.
    Exhausted,
}

/// A pure, seeded source of operations.
pub trait Generator: Send {
    type Op;

    /// The next step; see the module docs for the contract.
    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<Self::Op>;

    /// How the op that `worker` last took ended. Generators whose next op for a worker
    /// depends on that (a lock cycle moves on only after a granted acquire) override
    /// this; combinators pass it on. The default ignores it.
    fn observe(&mut self, worker: usize, outcome: Outcome) {
        let _ = (worker, outcome);
    }
}

/// How an operation ended, as far as a generator needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Fail,
    Info,
}

impl<G: Generator + ?Sized> Generator for Box<G> {
    type Op = G::Op;
    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<G::Op> {
        (**self).poll(ctx, rng)
    }
    fn observe(&mut self, worker: usize, outcome: Outcome) {
        (**self).observe(worker, outcome)
    }
}

/// An endless stream of ops from a closure (a workload's op mix).
pub struct FromFn<F>(pub F);

impl<T, F> Generator for FromFn<F>
where
    F: FnMut(&mut ChaCha8Rng) -> T + Send,
{
    type Op = T;
    fn poll(&mut self, _ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<T> {
        Poll::Op((self.0)(rng))
    }
}

/// A weighted choice between generators (Jepsen's `mix`, with weights). Exhausted
/// generators drop out of the choice.
pub struct Mix<T> {
    arms: Vec<(u32, Box<dyn Generator<Op = T>>)>,
}

impl<T> Mix<T> {
    /// `arms` are `(weight, generator)`; weights of zero are never chosen.
    pub fn new(arms: Vec<(u32, Box<dyn Generator<Op = T>>)>) -> Self {
        Mix {
            arms: arms.into_iter().filter(|(w, _)| *w > 0).collect(),
        }
    }
}

impl<T: Send> Generator for Mix<T> {
    type Op = T;
    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<T> {
        loop {
            let total: u64 = self.arms.iter().map(|(w, _)| u64::from(*w)).sum();
            if total == 0 {
                return Poll::Exhausted;
            }
            let mut pick = rng.gen_range(0..total);
            let i = self
                .arms
                .iter()
                .position(|(w, _)| {
                    let w = u64::from(*w);
                    if pick < w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .expect("pick < total, so some arm's weight covers it");
            match self.arms[i].1.poll(ctx, rng) {
                Poll::Exhausted => {
                    self.arms.remove(i);
                }
                other => return other,
            }
        }
    }
    fn observe(&mut self, worker: usize, outcome: Outcome) {
        for (_, arm) in &mut self.arms {
            arm.observe(worker, outcome);
        }
    }
}

/// Rate limiting with jitter (Jepsen's `stagger`): successive ops are spaced by a
/// uniformly random gap in `[0, 2 × mean)`, so the average rate is `1 / mean` while
/// arrivals do not line up in lockstep. If the system is slower than the rate, ops are
/// not bunched up to catch up later: the next gap counts from when the op was issued.
pub struct Stagger<G> {
    inner: G,
    mean: Duration,
    next_at: Option<Duration>,
}

impl<G> Stagger<G> {
    pub fn new(inner: G, mean: Duration) -> Self {
        Stagger {
            inner,
            mean,
            next_at: None,
        }
    }

    /// `rate` operations per second on average; `None` or a non-positive rate means
    /// no limit (the generator is returned unchanged in spirit: a zero gap).
    pub fn per_second(inner: G, rate: Option<f64>) -> Self {
        let mean = match rate {
            Some(r) if r > 0.0 && r.is_finite() => Duration::from_secs_f64(1.0 / r),
            _ => Duration::ZERO,
        };
        Stagger::new(inner, mean)
    }
}

impl<G: Generator> Generator for Stagger<G> {
    type Op = G::Op;
    fn observe(&mut self, worker: usize, outcome: Outcome) {
        self.inner.observe(worker, outcome)
    }
    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<G::Op> {
        if let Some(at) = self.next_at {
            if ctx.now < at {
                return Poll::At(at);
            }
        }
        let polled = self.inner.poll(ctx, rng);
        if let Poll::Op(_) = polled {
            let gap = if self.mean.is_zero() {
                Duration::ZERO
            } else {
                let max = self.mean.as_nanos().saturating_mul(2).min(u64::MAX as u128) as u64;
                Duration::from_nanos(rng.gen_range(0..max.max(1)))
            };
            self.next_at = Some(ctx.now + gap);
        }
        polled
    }
}

/// Stops the inner generator a fixed time after the first poll (Jepsen's `time-limit`).
pub struct TimeLimit<G> {
    inner: G,
    limit: Duration,
    deadline: Option<Duration>,
}

impl<G> TimeLimit<G> {
    pub fn new(inner: G, limit: Duration) -> Self {
        TimeLimit {
            inner,
            limit,
            deadline: None,
        }
    }
}

impl<G: Generator> Generator for TimeLimit<G> {
    type Op = G::Op;
    fn observe(&mut self, worker: usize, outcome: Outcome) {
        self.inner.observe(worker, outcome)
    }
    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<G::Op> {
        let deadline = *self.deadline.get_or_insert(ctx.now + self.limit);
        if ctx.now >= deadline {
            return Poll::Exhausted;
        }
        match self.inner.poll(ctx, rng) {
            // Waiting past the deadline is pointless: the next answer is Exhausted.
            Poll::At(t) if t >= deadline => Poll::At(deadline),
            other => other,
        }
    }
}

/// At most `n` operations from the inner generator.
pub struct Limit<G> {
    inner: G,
    remaining: u64,
}

impl<G> Limit<G> {
    pub fn new(inner: G, n: u64) -> Self {
        Limit {
            inner,
            remaining: n,
        }
    }
}

impl<G: Generator> Generator for Limit<G> {
    type Op = G::Op;
    fn observe(&mut self, worker: usize, outcome: Outcome) {
        self.inner.observe(worker, outcome)
    }
    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<G::Op> {
        if self.remaining == 0 {
            return Poll::Exhausted;
        }
        let polled = self.inner.poll(ctx, rng);
        if let Poll::Op(_) = polled {
            self.remaining -= 1;
        }
        polled
    }
}

/// Runs generators one after another; between two phases it waits until every
/// in-flight operation of the earlier phase has completed (Jepsen's `phases`).
pub struct Phases<T> {
    phases: std::collections::VecDeque<Box<dyn Generator<Op = T>>>,
    /// Set when a phase ended and the next must wait for the in-flight ops to drain.
    draining: bool,
}

impl<T> Phases<T> {
    pub fn new(phases: Vec<Box<dyn Generator<Op = T>>>) -> Self {
        Phases {
            phases: phases.into(),
            draining: false,
        }
    }
}

impl<T: Send> Generator for Phases<T> {
    type Op = T;
    fn observe(&mut self, worker: usize, outcome: Outcome) {
        if let Some(current) = self.phases.front_mut() {
            current.observe(worker, outcome);
        }
    }
    fn poll(&mut self, ctx: &Ctx, rng: &mut ChaCha8Rng) -> Poll<T> {
        loop {
            if self.draining {
                if ctx.in_flight > 0 {
                    return Poll::Blocked;
                }
                self.draining = false;
            }
            let Some(current) = self.phases.front_mut() else {
                return Poll::Exhausted;
            };
            match current.poll(ctx, rng) {
                Poll::Exhausted => {
                    self.phases.pop_front();
                    self.draining = true;
                }
                other => return other,
            }
        }
    }
}

/// Drives a generator without threads or clocks, the way the interpreter would if every
/// operation took `op_latency`, with at most `concurrency` in flight (the lowest free
/// worker takes the next op, and every op is observed to end `Ok`). Returns each op
/// with its invocation time. Bounded by `max_ops` so a runaway generator cannot hang a
/// test. For tests and for previewing a schedule (`--dry-run` style tools).
pub fn simulate<G: Generator>(
    generator: &mut G,
    rng: &mut ChaCha8Rng,
    concurrency: usize,
    op_latency: Duration,
    max_ops: usize,
) -> Vec<(Duration, G::Op)> {
    let concurrency = concurrency.max(1);
    let mut out = Vec::new();
    let mut now = Duration::ZERO;
    // (completion time, worker) of in-flight ops, kept sorted ascending.
    let mut in_flight: Vec<(Duration, usize)> = Vec::new();
    while out.len() < max_ops {
        in_flight.retain(|&(done, worker)| {
            let running = done > now;
            if !running {
                generator.observe(worker, Outcome::Ok);
            }
            running
        });
        if in_flight.len() >= concurrency {
            now = in_flight[0].0;
            continue;
        }
        let worker = (0..concurrency)
            .find(|w| in_flight.iter().all(|(_, busy)| busy != w))
            .expect("fewer than `concurrency` ops in flight, so a worker is free");
        let ctx = Ctx {
            now,
            in_flight: in_flight.len(),
            worker,
        };
        match generator.poll(&ctx, rng) {
            Poll::Op(op) => {
                out.push((now, op));
                let done = now + op_latency;
                let at = in_flight.partition_point(|(d, _)| *d <= done);
                in_flight.insert(at, (done, worker));
            }
            Poll::At(t) => {
                // Ops that complete before `t` free their slots on the way.
                now = t.max(now);
            }
            Poll::Blocked => match in_flight.first() {
                Some((done, _)) => now = *done,
                None => break, // a barrier with nothing in flight cannot make progress
            },
            Poll::Exhausted => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    fn counter() -> FromFn<impl FnMut(&mut ChaCha8Rng) -> u64 + Send> {
        let mut n = 0;
        FromFn(move |_: &mut ChaCha8Rng| {
            n += 1;
            n
        })
    }

    #[test]
    fn stagger_holds_the_mean_rate_with_jitter() {
        // 100 ops/s for 10 s with fast ops: about 1000 ops, not evenly spaced.
        let mut g = TimeLimit::new(
            Stagger::per_second(counter(), Some(100.0)),
            Duration::from_secs(10),
        );
        let ops = simulate(&mut g, &mut rng(7), 4, Duration::from_micros(100), 100_000);
        assert!(
            (900..=1100).contains(&ops.len()),
            "expected about 1000 ops at 100/s for 10 s, got {}",
            ops.len()
        );
        let gaps: Vec<_> = ops.windows(2).map(|w| w[1].0 - w[0].0).collect();
        let min = gaps.iter().min().unwrap();
        let max = gaps.iter().max().unwrap();
        assert!(
            *max > *min * 2,
            "gaps should be jittered: min {min:?} max {max:?}"
        );
        assert!(
            *max < Duration::from_millis(20),
            "gap beyond 2 × mean: {max:?}"
        );
        assert!(ops.last().unwrap().0 < Duration::from_secs(10));
    }

    #[test]
    fn same_seed_same_schedule_different_seed_different_schedule() {
        let run = |seed| {
            let mut g = TimeLimit::new(
                Stagger::per_second(counter(), Some(50.0)),
                Duration::from_secs(2),
            );
            simulate(&mut g, &mut rng(seed), 2, Duration::from_millis(1), 10_000)
                .into_iter()
                .map(|(t, _)| t)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn closed_loop_never_exceeds_concurrency() {
        // No rate limit, slow ops: 3 workers, 10 ms each, 1 s → at most 300 ops,
        // invoked in waves of three.
        let mut g = TimeLimit::new(counter(), Duration::from_secs(1));
        let ops = simulate(&mut g, &mut rng(3), 3, Duration::from_millis(10), 10_000);
        assert_eq!(ops.len(), 300);
        for w in ops.chunks(3) {
            assert!(
                w.iter().all(|(t, _)| *t == w[0].0),
                "a wave shares its time: {w:?}"
            );
        }
    }

    #[test]
    fn the_context_names_a_free_worker() {
        struct Workers;
        impl Generator for Workers {
            type Op = usize;
            fn poll(&mut self, ctx: &Ctx, _: &mut ChaCha8Rng) -> Poll<usize> {
                Poll::Op(ctx.worker)
            }
        }
        let ops = simulate(&mut Workers, &mut rng(0), 3, Duration::from_millis(1), 9);
        let workers: Vec<usize> = ops.iter().map(|(_, w)| *w).collect();
        assert_eq!(workers, vec![0, 1, 2, 0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn time_limit_starts_at_first_poll_and_stays_exhausted() {
        let mut g = TimeLimit::new(counter(), Duration::from_secs(1));
        let mut r = rng(0);
        let at = |s| Ctx {
            now: Duration::from_secs(s),
            in_flight: 0,
            worker: 0,
        };
        assert_eq!(g.poll(&at(5), &mut r), Poll::Op(1));
        assert_eq!(g.poll(&at(6), &mut r), Poll::Exhausted);
        assert_eq!(g.poll(&at(5), &mut r), Poll::Op(2), "deadline is 6 s");
        assert_eq!(g.poll(&at(7), &mut r), Poll::Exhausted);
    }

    #[test]
    fn time_limit_clamps_waits_to_its_deadline() {
        let mut g = TimeLimit::new(
            Stagger::new(counter(), Duration::from_secs(100)),
            Duration::from_secs(1),
        );
        let mut r = rng(11);
        let ctx = Ctx {
            now: Duration::ZERO,
            in_flight: 0,
            worker: 0,
        };
        assert_eq!(g.poll(&ctx, &mut r), Poll::Op(1));
        match g.poll(&ctx, &mut r) {
            Poll::At(t) => assert!(t <= Duration::from_secs(1), "waited past the limit: {t:?}"),
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    #[test]
    fn phases_wait_for_in_flight_ops_between_phases() {
        let first: Box<dyn Generator<Op = &str>> = Box::new(Limit::new(FromFn(|_: &mut _| "a"), 2));
        let second: Box<dyn Generator<Op = &str>> =
            Box::new(Limit::new(FromFn(|_: &mut _| "b"), 1));
        let mut g = Phases::new(vec![first, second]);
        let mut r = rng(0);
        let ctx = |in_flight| Ctx {
            now: Duration::ZERO,
            in_flight,
            worker: 0,
        };
        assert_eq!(g.poll(&ctx(0), &mut r), Poll::Op("a"));
        assert_eq!(g.poll(&ctx(1), &mut r), Poll::Op("a"));
        assert_eq!(g.poll(&ctx(2), &mut r), Poll::Blocked);
        assert_eq!(g.poll(&ctx(1), &mut r), Poll::Blocked);
        assert_eq!(g.poll(&ctx(0), &mut r), Poll::Op("b"));
        assert_eq!(g.poll(&ctx(1), &mut r), Poll::Blocked);
        assert_eq!(g.poll(&ctx(0), &mut r), Poll::Exhausted);
    }

    #[test]
    fn simulated_phases_run_in_order() {
        let main: Box<dyn Generator<Op = char>> = Box::new(TimeLimit::new(
            Stagger::per_second(FromFn(|_: &mut _| 'w'), Some(10.0)),
            Duration::from_secs(1),
        ));
        let fin: Box<dyn Generator<Op = char>> = Box::new(Limit::new(FromFn(|_: &mut _| 'r'), 3));
        let mut g = Phases::new(vec![main, fin]);
        let ops = simulate(&mut g, &mut rng(5), 2, Duration::from_millis(50), 1000);
        let kinds: String = ops.iter().map(|(_, k)| *k).collect();
        assert!(kinds.ends_with("rrr"), "{kinds}");
        assert!(
            kinds.trim_end_matches('r').chars().all(|c| c == 'w'),
            "{kinds}"
        );
        let first_read = ops.iter().find(|(_, k)| *k == 'r').unwrap().0;
        let last_write = ops.iter().rev().find(|(_, k)| *k == 'w').unwrap().0;
        assert!(
            first_read >= last_write + Duration::from_millis(50),
            "the final phase starts after the last write completed"
        );
    }

    #[test]
    fn mix_follows_weights_and_drops_exhausted_arms() {
        let a: Box<dyn Generator<Op = char>> = Box::new(FromFn(|_: &mut _| 'a'));
        let b: Box<dyn Generator<Op = char>> = Box::new(FromFn(|_: &mut _| 'b'));
        let c: Box<dyn Generator<Op = char>> = Box::new(Limit::new(FromFn(|_: &mut _| 'c'), 5));
        let mut g = Limit::new(Mix::new(vec![(3, a), (1, b), (0, c)]), 4000);
        let ops = simulate(&mut g, &mut rng(9), 1, Duration::ZERO, 10_000);
        let count = |k| ops.iter().filter(|(_, o)| *o == k).count();
        assert_eq!(count('c'), 0, "weight 0 is never chosen");
        let ratio = count('a') as f64 / count('b') as f64;
        assert!(
            (2.6..3.4).contains(&ratio),
            "expected about 3:1, got {ratio}"
        );

        let only: Box<dyn Generator<Op = char>> = Box::new(Limit::new(FromFn(|_: &mut _| 'x'), 2));
        let mut g = Mix::new(vec![(1, only)]);
        let ops = simulate(&mut g, &mut rng(1), 1, Duration::ZERO, 100);
        assert_eq!(ops.len(), 2);
    }
}
