//! A deterministic simulator for the bundled protocol cores, generic over the protocol.
//!
//! ```text
//!   seed ─► faults (partitions, crashes, pauses) ─┐
//!           clients (reads, writes, CAS, locks) ──┼─► Protocol::step(core, Event) ─► commands
//!   in-memory network (delay, drop, duplicate) ───┘        │
//!            ▲                                            ├─ storage ─► the node's Disk
//!            └──────────────── sends ◄────────────────────┼─ applies ─► ghost + invariants
//!                                                          └─ replies ─► client checks
//! ```
//!
//! The network delays, drops, duplicates and partitions messages (in order per link for
//! a protocol that needs FIFO channels, as Zab does); a crash keeps exactly what earlier
//! storage commands made durable (the [`Protocol::Disk`]); a pause holds a node's ticks
//! and messages, like SIGSTOP. Everything derives from one seed.
//!
//! The client-visible properties are checked here for every protocol: linearizable
//! reads (quorum level), reads that see a committed prefix and never go back for one
//! client (sync and local levels), no lost acknowledged write, lock mutual exclusion,
//! agreement on the delivered sequence, and a leader after the faults heal. Each
//! protocol plugs in its own invariants ([`Invariants`]): Raft's election safety, log
//! matching and leader completeness; Zab's primary uniqueness, integrity, primary order
//! and primary integrity.

mod clients;
mod engine;

use std::fmt::{Debug, Display};

use rand_chacha::ChaCha8Rng;

pub use engine::Sim;

use super::event::Event;
use super::op::Payload;
use super::request::{ReadLevel, RequestError, Response};
use super::types::{NodeId, Position, RequestId};

/// How long one simulated tick is, for protocols that convert lock TTLs to ticks.
pub const TICK_MS: u64 = 10;

/// A protocol as the simulator drives it. Implemented by a marker type per protocol.
pub trait Protocol: Sized + 'static {
    type Core;
    type Config: Clone;
    type Message: Clone + Debug;
    type Command: Debug;
    /// A replicated entry as applied (Raft entry, Zab transaction).
    type Entry: Clone + PartialEq + Debug;
    /// What a crash keeps.
    type Disk: Default + Clone;
    type Bug: Copy + Debug + Display;
    /// Protocol-specific knobs of a run.
    type Knobs: Clone + Debug + Default;
    /// What the checks need to know about a node around one step.
    type View: Clone + Debug;
    type Invariants: Invariants<Self>;

    /// Read levels the simulated clients use; with one, no random draw picks it.
    const READ_LEVELS: &'static [ReadLevel];
    /// Whether messages between two nodes arrive in the order they were sent.
    const FIFO: bool;
    /// The name of the agreement property on the applied sequence.
    const AGREEMENT: &'static str;

    /// The configuration of every node; may draw from `rng` (in a fixed order).
    fn configs(
        ids: &[NodeId],
        bugs: &[Self::Bug],
        knobs: &Self::Knobs,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Self::Config>;
    /// Changes a restarted node's seed (`restarts` counts restarts so far).
    fn reseed(cfg: &mut Self::Config, restarts: u64);
    /// A node restored from its durable state.
    fn boot(cfg: Self::Config, disk: &Self::Disk) -> Self::Core;
    fn step(core: &mut Self::Core, event: Event<Self::Message>) -> Vec<Self::Command>;
    fn view(core: &Self::Core) -> Self::View;
    /// Whether the node leads and serves (clients prefer it; faults target it).
    fn is_leader(view: &Self::View) -> bool;
    /// `(from, to)` of a message.
    fn route(m: &Self::Message) -> (&NodeId, &NodeId);
    /// What the simulator does with one command.
    fn effect(cmd: Self::Command) -> Effect<Self>;
    /// Applies one storage command to a disk.
    fn store(disk: &mut Self::Disk, cmd: Self::Command);
    fn payload(entry: &Self::Entry) -> &Payload;
    /// One line about a node, for `SIM_TRACE`.
    fn trace(core: &Self::Core) -> String;
}

/// One command, as the simulator sees it.
pub enum Effect<P: Protocol> {
    Store(P::Command),
    Send(P::Message),
    /// The entry at 1-based place `seq` of the node's applied sequence, at `position`.
    Applied {
        seq: usize,
        position: Position,
        entry: P::Entry,
    },
    Reply {
        id: RequestId,
        result: Result<Response, RequestError>,
    },
    /// Nothing for the simulator (e.g. a deferred write's bookkeeping).
    Nothing,
}

/// A broken property, as an invariant reports it.
#[derive(Debug)]
pub struct Broken {
    pub property: &'static str,
    pub detail: String,
}

/// The applied sequence as first learned by any node.
#[derive(Default)]
pub struct Ghost<E> {
    pub committed: Vec<E>,
    /// Position of each committed entry.
    pub positions: Vec<Position>,
}

/// A protocol's own safety properties, checked as the simulation runs.
pub trait Invariants<P: Protocol>: Default {
    /// Every command node `i` emitted, before the simulator acts on it.
    fn on_command(&mut self, _i: usize, _view: &P::View, _cmd: &P::Command) -> Result<(), Broken> {
        Ok(())
    }
    /// Node `i` applied `entry` at `seq` (already checked against the ghost); `first`
    /// when no node had applied `seq` before.
    fn on_apply(
        &mut self,
        _i: usize,
        _view: &P::View,
        _seq: usize,
        _entry: &P::Entry,
        _first: bool,
    ) -> Result<(), Broken> {
        Ok(())
    }
    /// After node `i` stepped from `before` to `after`.
    fn after_step(
        &mut self,
        _ids: &[NodeId],
        _i: usize,
        _core: &P::Core,
        _before: &P::View,
        _after: &P::View,
        _ghost: &Ghost<P::Entry>,
    ) -> Result<(), Broken> {
        Ok(())
    }
    /// Every 100 ticks and at the end: over every node (a crashed node by its disk).
    fn periodic(
        &self,
        _ids: &[NodeId],
        _nodes: &[Option<P::Core>],
        _disks: &[P::Disk],
    ) -> Result<(), Broken> {
        Ok(())
    }
}

/// Knobs of one simulated run.
pub struct SimConfig<P: Protocol> {
    pub nodes: usize,
    pub bugs: Vec<P::Bug>,
    pub seed: u64,
    /// Ticks with faults, then `heal_ticks` with none.
    pub fault_ticks: u64,
    pub heal_ticks: u64,
    /// Per-tick probability of crashing a node (half the time the leader).
    pub crash_rate: f64,
    /// Per-tick probability that a crashed node restarts.
    pub restart_rate: f64,
    /// Per-tick probability of pausing a node (SIGSTOP: no ticks, messages held).
    pub pause_rate: f64,
    /// Per-tick probability that a paused node resumes.
    pub resume_rate: f64,
    /// Per-tick probability of crashing a majority of the nodes, or all of them, at once
    /// (0: never, and no random draw for it).
    pub mass_crash_rate: f64,
    pub knobs: P::Knobs,
}

impl<P: Protocol> Clone for SimConfig<P> {
    fn clone(&self) -> Self {
        SimConfig {
            nodes: self.nodes,
            bugs: self.bugs.clone(),
            seed: self.seed,
            fault_ticks: self.fault_ticks,
            heal_ticks: self.heal_ticks,
            crash_rate: self.crash_rate,
            restart_rate: self.restart_rate,
            pause_rate: self.pause_rate,
            resume_rate: self.resume_rate,
            mass_crash_rate: self.mass_crash_rate,
            knobs: self.knobs.clone(),
        }
    }
}

impl<P: Protocol> Debug for SimConfig<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("nodes", &self.nodes)
            .field("bugs", &self.bugs)
            .field("seed", &self.seed)
            .field("crash_rate", &self.crash_rate)
            .field("knobs", &self.knobs)
            .finish_non_exhaustive()
    }
}

impl<P: Protocol> SimConfig<P> {
    pub fn new(nodes: usize, seed: u64, bugs: &[P::Bug]) -> SimConfig<P> {
        SimConfig {
            nodes,
            bugs: bugs.to_vec(),
            seed,
            fault_ticks: 1200,
            heal_ticks: 300,
            crash_rate: 0.006,
            restart_rate: 0.05,
            pause_rate: 0.004,
            resume_rate: 0.05,
            mass_crash_rate: 0.0,
            knobs: P::Knobs::default(),
        }
    }

    /// Jepsen's kill nemesis turned up: frequent crashes, quick restarts.
    pub fn kill_heavy(mut self) -> SimConfig<P> {
        self.crash_rate = 0.03;
        self.restart_rate = 0.3;
        self
    }

    /// Kills of a majority or of every node at once (Jepsen's `kill` on `:majority` or
    /// `:all`), with quick restarts: what exposes a write acknowledged before it was
    /// durable.
    pub fn mass_kills(mut self) -> SimConfig<P> {
        self.mass_crash_rate = 0.01;
        self.restart_rate = 0.3;
        self
    }
}

/// A broken property, with enough context to replay it.
#[derive(Debug)]
pub struct Violation {
    pub seed: u64,
    pub tick: u64,
    pub property: &'static str,
    pub detail: String,
}

impl Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} violated at tick {} (seed {}): {}",
            self.property, self.tick, self.seed, self.detail
        )
    }
}

/// What a run did, for sanity checks that the simulation exercises something.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub committed: usize,
    pub reads_ok: usize,
    pub writes_acked: usize,
    pub grants: usize,
    pub elections: usize,
    pub crashes: usize,
}

impl Stats {
    /// True when `seeds` runs did something worth checking: reads and writes answered,
    /// locks granted, nodes crashed (a simulation that stalls passes every check).
    pub fn exercised(&self, seeds: u64) -> bool {
        self.reads_ok as u64 > seeds * 20
            && self.writes_acked as u64 > seeds * 20
            && self.grants as u64 > seeds
            && self.crashes as u64 > seeds
    }

    pub fn add(&mut self, s: &Stats) {
        self.committed += s.committed;
        self.reads_ok += s.reads_ok;
        self.writes_acked += s.writes_acked;
        self.grants += s.grants;
        self.elections += s.elections;
        self.crashes += s.crashes;
    }
}

/// Runs every seed of `seeds`: the summed statistics, or the first violation.
pub fn run_seeds<P: Protocol>(
    seeds: std::ops::Range<u64>,
    config: impl Fn(u64) -> SimConfig<P>,
) -> Result<Stats, Violation> {
    let mut totals = Stats::default();
    for seed in seeds {
        totals.add(&Sim::new(config(seed)).run()?);
    }
    Ok(totals)
}

/// Runs seeds `range` and returns the first violation, if any.
pub fn first_violation<P: Protocol>(
    seeds: std::ops::Range<u64>,
    config: impl Fn(u64) -> SimConfig<P>,
) -> Option<Violation> {
    for seed in seeds {
        if let Err(v) = Sim::new(config(seed)).run() {
            return Some(v);
        }
    }
    None
}
