//! The seeded fault schedule, and a bounded runner that plays it against a nemesis.
//!
//! ```text
//! seed ──► ChaCha8 ──► wait₁, Start(fault) ──► wait₂, Stop(kind) ──► wait₃, Start(…) …
//!   ScheduleConfig (`--nemesis`): waits uniform in [0, 2·interval) (Jepsen's stagger),
//!                                 faults and node specs drawn uniformly from the lists
//!   Mix (the default):            gaps before a start and windows before its stop drawn
//!                                 from their own spans, faults dealt from shuffled decks
//! run(): for each step, wait (interruptible), invoke, hand the FaultEvent to the sink;
//!        at the time limit or on stop: heal_all
//! ```
//!
//! Invariants: the same seed and config give the same steps (the schedule is a pure
//! iterator; concrete targets are resolved by the nemesis with its own seeded rng); the
//! runner is bounded by its time limit and always ends with every fault healed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::fault::{Fault, FaultEvent, FaultKind};
use crate::grudge::PartitionKind;
use crate::mix::Mix;
use crate::nemesis::FaultInjector;
use crate::spec::NodeSpec;

/// One step of the schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Start(Fault),
    Stop(FaultKind),
}

/// What the schedule draws from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    /// Mean time between steps.
    pub interval: Duration,
    /// Fault families to use (e.g. partition, kill).
    pub faults: Vec<FaultKind>,
    /// Partition kinds to draw from.
    pub partitions: Vec<PartitionKind>,
    /// Node specs for kill, pause and loss.
    pub specs: Vec<NodeSpec>,
    /// Loss probability for loss faults.
    pub loss: f64,
}

impl ScheduleConfig {
    /// Defaults after Jepsen's combined nemesis: 10 s interval, every partition kind
    /// except primaries, specs one/minority/majority/primaries/all (`primaries` is
    /// skipped, with its reason, where no leader query is given), 20 % loss.
    pub fn new(faults: Vec<FaultKind>) -> Self {
        ScheduleConfig {
            interval: Duration::from_secs(10),
            faults,
            partitions: vec![
                PartitionKind::One,
                PartitionKind::Majority,
                PartitionKind::MajoritiesRing,
                PartitionKind::MinorityThird,
                PartitionKind::Bridge,
            ],
            specs: vec![
                NodeSpec::One,
                NodeSpec::Minority,
                NodeSpec::Majority,
                NodeSpec::Primaries,
                NodeSpec::All,
            ],
            loss: 0.2,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.faults.is_empty() {
            return Err("no faults to schedule".into());
        }
        if self.faults.contains(&FaultKind::Partition) && self.partitions.is_empty() {
            return Err("partition faults need at least one partition kind".into());
        }
        let needs_specs = self
            .faults
            .iter()
            .any(|f| matches!(f, FaultKind::Kill | FaultKind::Pause | FaultKind::Loss));
        if needs_specs && self.specs.is_empty() {
            return Err("kill, pause and loss need at least one node spec".into());
        }
        if !(self.loss > 0.0 && self.loss <= 1.0) {
            return Err(format!("loss probability {} not in (0, 1]", self.loss));
        }
        if self.interval.is_zero() {
            return Err("the nemesis interval must be positive".into());
        }
        Ok(())
    }
}

/// What a schedule draws from.
#[derive(Clone, Debug)]
enum Source {
    /// `--nemesis` faults, Jepsen's stagger.
    Stagger(ScheduleConfig),
    /// A weighted mix with its own window and gap spans (the default).
    Mix(Mix),
}

/// The schedule: an endless, seeded iterator of `(wait before, step)`.
#[derive(Clone, Debug)]
pub struct Schedule {
    source: Source,
    rng: ChaCha8Rng,
    active: Option<FaultKind>,
    /// What is left of the mix's current deck, dealt from the end.
    deck: Vec<Fault>,
}

impl Schedule {
    pub fn new(cfg: ScheduleConfig, seed: u64) -> Result<Self, String> {
        cfg.validate()?;
        Ok(Schedule {
            source: Source::Stagger(cfg),
            rng: ChaCha8Rng::seed_from_u64(seed),
            active: None,
            deck: Vec::new(),
        })
    }

    /// A schedule of windows drawn from `mix`: a gap, a fault, a window, its heal, …
    pub fn mix(mix: Mix, seed: u64) -> Result<Self, String> {
        mix.validate()?;
        Ok(Schedule {
            source: Source::Mix(mix),
            rng: ChaCha8Rng::seed_from_u64(seed),
            active: None,
            deck: Vec::new(),
        })
    }

    /// The `--nemesis` configuration (`None` for a mix).
    pub fn config(&self) -> Option<&ScheduleConfig> {
        match &self.source {
            Source::Stagger(cfg) => Some(cfg),
            Source::Mix(_) => None,
        }
    }

    /// The shortest a window may last: a fault that could not last it before the time
    /// limit is not started (zero for `--nemesis` schedules, whose waits start at 0).
    pub fn min_window(&self) -> Duration {
        match &self.source {
            Source::Stagger(_) => Duration::ZERO,
            Source::Mix(mix) => mix.window.min,
        }
    }

    fn next_mix(&mut self) -> (Duration, Step) {
        let Source::Mix(mix) = &self.source else {
            unreachable!("only called for a mix")
        };
        if let Some(kind) = self.active.take() {
            return (mix.window.draw(&mut self.rng), Step::Stop(kind));
        }
        let gap = mix.gap.draw(&mut self.rng);
        if self.deck.is_empty() {
            self.deck = mix.deck(&mut self.rng);
        }
        let fault = self.deck.pop().expect("validated: a deck has cards");
        self.active = Some(fault.kind());
        (gap, Step::Start(fault))
    }
}

impl Iterator for Schedule {
    type Item = (Duration, Step);

    fn next(&mut self) -> Option<(Duration, Step)> {
        let cfg = match &self.source {
            Source::Stagger(cfg) => cfg.clone(),
            Source::Mix(_) => return Some(self.next_mix()),
        };
        let max = cfg.interval.as_nanos().min(u64::MAX as u128 / 2) as u64 * 2;
        let wait = Duration::from_nanos(self.rng.gen_range(0..max.max(1)));
        if let Some(kind) = self.active.take() {
            return Some((wait, Step::Stop(kind)));
        }
        let pick_spec = |rng: &mut ChaCha8Rng| {
            cfg.specs
                .choose(rng)
                .cloned()
                .expect("validated: specs are not empty")
        };
        let kind = *cfg
            .faults
            .choose(&mut self.rng)
            .expect("validated: faults are not empty");
        let fault = match kind {
            FaultKind::Partition => Fault::Partition {
                kind: *cfg
                    .partitions
                    .choose(&mut self.rng)
                    .expect("validated: partitions are not empty"),
            },
            FaultKind::Kill => Fault::Kill {
                nodes: pick_spec(&mut self.rng),
            },
            FaultKind::Pause => Fault::Pause {
                nodes: pick_spec(&mut self.rng),
            },
            FaultKind::Loss => Fault::Loss {
                p: cfg.loss,
                nodes: pick_spec(&mut self.rng),
            },
        };
        self.active = Some(kind);
        Some((wait, Step::Start(fault)))
    }
}

/// Time as the runner sees it: injected, so a test can play a schedule without a wall
/// clock (and the run's pacing stays in one place).
pub trait Clock {
    /// Time since the clock started.
    fn elapsed(&self) -> Duration;
    /// Lets `d` pass (a wall clock sleeps; a test clock advances at once).
    fn sleep(&mut self, d: Duration);
}

/// The real clock, from when it was made.
pub struct WallClock(Instant);

impl WallClock {
    pub fn start() -> WallClock {
        WallClock(Instant::now())
    }
}

impl Clock for WallClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Waits on `clock` until `at`, in slices of at most 10 ms so `stop` is noticed
/// (pacing to a moment, not waiting for a condition). False when stopped.
pub fn pace_until(clock: &mut dyn Clock, at: Duration, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = clock.elapsed();
        if now >= at {
            return true;
        }
        clock.sleep((at - now).min(Duration::from_millis(10)));
    }
}

/// Plays `schedule` against `nemesis` until `limit` elapsed or `stop` is set, handing
/// every event to `sink`; then heals everything (those events go to `sink` too).
pub fn run(
    nemesis: &mut dyn FaultInjector,
    schedule: &mut Schedule,
    limit: Duration,
    stop: &AtomicBool,
    sink: impl FnMut(FaultEvent),
) {
    run_with(
        &mut WallClock::start(),
        nemesis,
        schedule,
        limit,
        stop,
        sink,
    )
}

/// [`run`] on a given clock.
pub fn run_with(
    clock: &mut dyn Clock,
    nemesis: &mut dyn FaultInjector,
    schedule: &mut Schedule,
    limit: Duration,
    stop: &AtomicBool,
    mut sink: impl FnMut(FaultEvent),
) {
    let min_window = schedule.min_window();
    for (wait, step) in schedule.by_ref() {
        let at = clock.elapsed() + wait;
        // A fault that could not last its shortest window is not started; one in force
        // when the next step falls past the limit lasts until the limit.
        let cut_short = matches!(step, Step::Start(_)) && at + min_window > limit;
        if at >= limit || cut_short {
            pace_until(clock, limit, stop);
            break;
        }
        if !pace_until(clock, at, stop) {
            break;
        }
        sink(nemesis.invoke(&step));
    }
    for e in nemesis.heal_all() {
        sink(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::{FaultOutcome, FaultPhase};

    fn cfg() -> ScheduleConfig {
        let mut c = ScheduleConfig::new(vec![FaultKind::Partition, FaultKind::Kill]);
        c.interval = Duration::from_millis(5);
        c
    }

    #[test]
    fn same_seed_same_schedule() {
        let a: Vec<_> = Schedule::new(cfg(), 7).unwrap().take(20).collect();
        let b: Vec<_> = Schedule::new(cfg(), 7).unwrap().take(20).collect();
        let c: Vec<_> = Schedule::new(cfg(), 8).unwrap().take(20).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn starts_and_stops_alternate_and_match() {
        let steps: Vec<Step> = Schedule::new(cfg(), 1)
            .unwrap()
            .take(40)
            .map(|(_, s)| s)
            .collect();
        for pair in steps.chunks(2) {
            match pair {
                [Step::Start(f), Step::Stop(k)] => assert_eq!(f.kind(), *k),
                other => panic!("not start/stop: {other:?}"),
            }
        }
        assert!(steps.iter().all(|s| match s {
            Step::Start(Fault::Kill { nodes }) => cfg().specs.contains(nodes),
            _ => true,
        }));
    }

    #[test]
    fn bad_configs_are_rejected() {
        assert!(Schedule::new(ScheduleConfig::new(vec![]), 1).is_err());
        let mut c = cfg();
        c.loss = 0.0;
        assert!(Schedule::new(c, 1).is_err());
    }

    struct Counting(Vec<String>, Vec<FaultKind>);
    impl FaultInjector for Counting {
        fn invoke(&mut self, step: &Step) -> FaultEvent {
            let e = match step {
                Step::Start(f) => {
                    self.1.push(f.kind());
                    FaultEvent::start(f.kind(), f.spec(), FaultOutcome::Installed)
                }
                Step::Stop(k) => {
                    self.1.retain(|x| x != k);
                    FaultEvent::stop(*k, FaultOutcome::Installed)
                }
            };
            self.0.push(e.f());
            e
        }
        fn heal_all(&mut self) -> Vec<FaultEvent> {
            let active = std::mem::take(&mut self.1);
            active
                .into_iter()
                .map(|k| self.invoke(&Step::Stop(k)))
                .collect()
        }
    }

    /// A clock that only moves when the runner sleeps.
    struct TestClock(Duration);
    impl Clock for TestClock {
        fn elapsed(&self) -> Duration {
            self.0
        }
        fn sleep(&mut self, d: Duration) {
            self.0 += d;
        }
    }

    #[test]
    fn run_is_bounded_and_ends_healed() {
        let mut inj = Counting(vec![], vec![]);
        let mut events = vec![];
        let mut clock = TestClock(Duration::ZERO);
        run_with(
            &mut clock,
            &mut inj,
            &mut Schedule::new(cfg(), 3).unwrap(),
            Duration::from_millis(100),
            &AtomicBool::new(false),
            |e| events.push(e),
        );
        assert_eq!(
            clock.0,
            Duration::from_millis(100),
            "faults in force last until the limit, no step after it"
        );
        // The same seed on the same clock plays the same steps.
        let mut again = Counting(vec![], vec![]);
        run_with(
            &mut TestClock(Duration::ZERO),
            &mut again,
            &mut Schedule::new(cfg(), 3).unwrap(),
            Duration::from_millis(100),
            &AtomicBool::new(false),
            |_| {},
        );
        assert_eq!(inj.0, again.0);
        assert!(
            events.len() > 4,
            "{} events in 100 ms at a 5 ms interval",
            events.len()
        );
        assert!(inj.1.is_empty(), "everything healed");
        let starts = events
            .iter()
            .filter(|e| e.phase == FaultPhase::Start)
            .count();
        let stops = events
            .iter()
            .filter(|e| e.phase == FaultPhase::Stop)
            .count();
        assert_eq!(starts, stops);
    }

    #[test]
    fn run_stops_when_asked() {
        let mut inj = Counting(vec![], vec![]);
        let mut clock = TestClock(Duration::ZERO);
        run_with(
            &mut clock,
            &mut inj,
            &mut Schedule::new(cfg(), 3).unwrap(),
            Duration::from_secs(60),
            &AtomicBool::new(true),
            |_| {},
        );
        assert_eq!(clock.0, Duration::ZERO, "not a moment paced");
        assert!(inj.0.is_empty(), "no fault started");
    }

    fn mix() -> Mix {
        Mix::default_for(Duration::from_millis(300))
    }

    #[test]
    fn the_mix_same_seed_same_schedule() {
        let a: Vec<_> = Schedule::mix(mix(), 12).unwrap().take(40).collect();
        let b: Vec<_> = Schedule::mix(mix(), 12).unwrap().take(40).collect();
        let c: Vec<_> = Schedule::mix(mix(), 13).unwrap().take(40).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn the_mix_plays_long_windows_and_gaps_on_the_clock() {
        let m = mix();
        for seed in 0..20 {
            let mut inj = Counting(vec![], vec![]);
            let mut clock = TestClock(Duration::ZERO);
            let mut events = Vec::new();
            run_with(
                &mut clock,
                &mut inj,
                &mut Schedule::mix(m.clone(), seed).unwrap(),
                Duration::from_secs(60),
                &AtomicBool::new(false),
                |e| events.push(e),
            );
            // The events played are the schedule's first steps (plus the final heal).
            let steps: Vec<(Duration, Step)> = Schedule::mix(m.clone(), seed)
                .unwrap()
                .take(events.len())
                .collect();
            let mut windows = 0;
            for (i, (wait, step)) in steps.iter().enumerate() {
                match step {
                    Step::Start(f) => {
                        assert!(*wait >= m.gap.min, "seed {seed}: gap {wait:?} before {f}");
                        assert!(m.choices.iter().any(|c| c.fault == *f));
                    }
                    Step::Stop(_) => {
                        assert!(*wait >= m.window.min, "seed {seed}: window {wait:?}");
                        assert!(*wait <= m.window.max, "seed {seed}: window {wait:?}");
                        windows += 1;
                    }
                }
                assert_eq!(i % 2 == 0, matches!(step, Step::Start(_)));
            }
            // 60 s of 3–4.5 s windows and 2–3 s gaps: between 8 and 12 windows.
            assert!(
                (8..=12).contains(&windows),
                "seed {seed}: {windows} windows"
            );
            assert!(inj.1.is_empty(), "seed {seed}: everything healed");
            assert_eq!(clock.0, Duration::from_secs(60), "paced to the limit");
        }
    }

    #[test]
    fn a_sixty_second_run_deals_the_whole_deck() {
        let m = mix();
        let mut whole = 0;
        for seed in 0..100 {
            let started: Vec<Fault> = played(&m, seed, Duration::from_secs(60))
                .into_iter()
                .filter_map(|(_, s)| match s {
                    Step::Start(f) => Some(f),
                    Step::Stop(_) => None,
                })
                .collect();
            // Each deck is dealt whole before the next: the first nine starts hold every
            // fault as often as its weight.
            if started.len() >= m.deck_len() {
                for c in &m.choices {
                    let n = started[..m.deck_len()]
                        .iter()
                        .filter(|f| **f == c.fault)
                        .count();
                    assert_eq!(n, c.weight as usize, "seed {seed}: {}", c.fault);
                }
                whole += 1;
            }
        }
        assert!(
            whole >= 95,
            "{whole} of 100 runs of 60 s dealt a whole deck"
        );
    }

    /// The steps a mix's schedule plays with `seed` within `limit`, each at its moment
    /// (on a test clock: instantly).
    fn played(m: &Mix, seed: u64, limit: Duration) -> Vec<(Duration, Step)> {
        let now = std::rc::Rc::new(std::cell::Cell::new(Duration::ZERO));
        let mut inj = Stamping(now.clone(), Vec::new());
        run_with(
            &mut SharedClock(now),
            &mut inj,
            &mut Schedule::mix(m.clone(), seed).unwrap(),
            limit,
            &AtomicBool::new(false),
            |_| {},
        );
        inj.1
    }

    #[test]
    fn every_sixty_second_election_run_pauses_or_cuts_off_a_leading_candidate() {
        use crate::grudge::PartitionKind;
        use crate::spec::NodeSpec;
        let lease = Duration::from_secs(2);
        // The bundled Raft's 300 ms failover and ZooKeeper's 2.4 s (the longest: four
        // windows a minute).
        for failover in [300, 2400] {
            let m = Mix::default_for(Duration::from_millis(failover)).with_candidate_faults(lease);
            for seed in 0..200 {
                let hits = played(&m, seed, Duration::from_secs(60))
                    .into_iter()
                    .filter(|(_, s)| {
                        matches!(
                            s,
                            Step::Start(Fault::Pause {
                                nodes: NodeSpec::LeaderCandidate
                            }) | Step::Start(Fault::Partition {
                                kind: PartitionKind::LeaderCandidate
                            })
                        )
                    })
                    .count();
                assert!(
                    hits >= 1,
                    "failover {failover} ms, seed {seed}: no candidate pause or cut"
                );
            }
        }
    }

    /// A clock and an injector sharing the time, so each step's moment is recorded.
    struct SharedClock(std::rc::Rc<std::cell::Cell<Duration>>);
    impl Clock for SharedClock {
        fn elapsed(&self) -> Duration {
            self.0.get()
        }
        fn sleep(&mut self, d: Duration) {
            self.0.set(self.0.get() + d);
        }
    }
    struct Stamping(
        std::rc::Rc<std::cell::Cell<Duration>>,
        Vec<(Duration, Step)>,
    );
    // Only used on the test's own thread.
    unsafe impl Send for Stamping {}
    impl FaultInjector for Stamping {
        fn invoke(&mut self, step: &Step) -> FaultEvent {
            self.1.push((self.0.get(), step.clone()));
            FaultEvent::stop(FaultKind::Kill, FaultOutcome::Installed)
        }
        fn heal_all(&mut self) -> Vec<FaultEvent> {
            if let Some((_, Step::Start(f))) = self.1.last() {
                let k = f.kind();
                self.1.push((self.0.get(), Step::Stop(k)));
            }
            Vec::new()
        }
    }

    #[test]
    fn the_time_limit_never_cuts_a_mix_window_short() {
        let m = mix();
        for seed in 0..10 {
            for limit_s in 8..40 {
                let mut started = None;
                for (t, step) in played(&m, seed, Duration::from_secs(limit_s)) {
                    match step {
                        Step::Start(_) => started = Some(t),
                        Step::Stop(_) => {
                            let w = t - started.take().expect("a stop follows a start");
                            assert!(
                                w >= m.window.min,
                                "seed {seed}, limit {limit_s} s: a {w:?} window"
                            );
                        }
                    }
                }
            }
        }
    }
}
