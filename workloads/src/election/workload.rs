//! The election workload as the run engine sees it: the harness's own clients have
//! nothing to do (the candidates are the clients, on nodes of their own), so the main
//! phase is the time limit passing while the candidates campaign and write, under the
//! faults; the candidates are the workload's [`Services`]; the checks are
//! `checkers::election`'s four cases.
//!
//! ```text
//! harness::run ─► Workload::services ─► Candidates (service nodes, resource) ─► history
//!              ─► generator: no op, ever (the time limit ends the phase)
//!              ─► checkers: application-split-brain, stale-writes, election-tokens,
//!                           election-failover
//! ```

use std::time::Duration;

use checkers::check::Checker;
use checkers::election::{ElectionCheck, F_WRITE};
use checkers::history::Key;
use harness::generator::{Ctx, Generator, Poll};
use harness::history::Codec;
use harness::interpreter::{Client, Completion};
use harness::run::Services;
use rand_chacha::ChaCha8Rng;

use super::candidates::Candidates;
use super::resource::ElectionRecord;
use super::ElectionOpts;

/// An op of the harness's own clients in an election run: there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoOp {}

/// The harness's client in an election run: never asked to do anything.
#[derive(Debug, Default)]
pub struct Idle;

impl Client for Idle {
    type Input = NoOp;
    type Output = NoOp;
    async fn invoke(&mut self, input: &NoOp) -> Completion<NoOp> {
        match *input {}
    }
}

/// The codec of [`NoOp`]s (the candidates' reports are recorded by the resource).
#[derive(Debug, Clone, Copy)]
pub struct NoCodec;

impl Codec for NoCodec {
    type Input = NoOp;
    type Output = NoOp;
    type Payload = ElectionRecord;
    fn key(&self, input: &NoOp) -> Option<Key> {
        match *input {}
    }
    fn invoked(&self, input: &NoOp) -> ElectionRecord {
        match *input {}
    }
    fn completed(&self, input: &NoOp, _: &Completion<NoOp>) -> ElectionRecord {
        match *input {}
    }
}

/// A generator with no op until the time limit ends the phase.
struct Quiet;

impl Generator for Quiet {
    type Op = NoOp;
    fn poll(&mut self, _: &Ctx, _: &mut ChaCha8Rng) -> Poll<NoOp> {
        Poll::At(Duration::MAX)
    }
}

/// The election workload: its settings and, for a run, its candidates.
pub struct ElectionWorkload {
    pub opts: ElectionOpts,
    candidates: Option<Candidates>,
}

impl ElectionWorkload {
    /// A workload that runs `candidates` (a run) …
    pub fn new(opts: ElectionOpts, candidates: Candidates) -> Self {
        ElectionWorkload {
            opts,
            candidates: Some(candidates),
        }
    }

    /// … or only checks a stored history (`faultline check`).
    pub fn checking(opts: ElectionOpts) -> Self {
        ElectionWorkload {
            opts,
            candidates: None,
        }
    }
}

impl harness::run::Workload for ElectionWorkload {
    type Client = Idle;
    type Codec = NoCodec;

    fn name(&self) -> &'static str {
        "election"
    }

    fn generator(&mut self) -> Box<dyn Generator<Op = NoOp>> {
        Box::new(Quiet)
    }

    fn final_generator(&mut self) -> Option<Box<dyn Generator<Op = NoOp>>> {
        None
    }

    fn codec(&self) -> NoCodec {
        NoCodec
    }

    fn checkers(&self) -> Vec<Box<dyn Checker>> {
        ElectionCheck::all()
            .into_iter()
            .map(|c| Box::new(c) as Box<dyn Checker>)
            .collect()
    }

    fn writes(&self) -> &'static [&'static str] {
        &[F_WRITE]
    }

    fn services(&mut self) -> Option<Box<dyn Services>> {
        self.candidates
            .take()
            .map(|c| Box::new(c) as Box<dyn Services>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::generator::{simulate, TimeLimit};

    #[test]
    fn the_harness_clients_get_no_op_and_the_time_limit_ends_the_phase() {
        use rand::SeedableRng;
        let mut g = TimeLimit::new(Quiet, Duration::from_secs(30));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        assert!(simulate(&mut g, &mut rng, 3, Duration::from_millis(10), 100).is_empty());
        let end = Ctx {
            now: Duration::from_secs(30),
            in_flight: 0,
            worker: 0,
        };
        assert_eq!(g.poll(&end, &mut rng), Poll::Exhausted);
    }
}
