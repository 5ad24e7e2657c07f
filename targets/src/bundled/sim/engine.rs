//! The simulation loop: faults, the network, stepping nodes and the per-step checks.

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::clients::Clients;
use super::{Broken, Effect, Ghost, Invariants, Protocol, SimConfig, Stats, Violation};
use crate::bundled::event::Event;
use crate::bundled::op::{Op, Payload};
use crate::bundled::state_machine::StateMachine;
use crate::bundled::types::{NodeId, RequestId};

pub(super) type Checked<T> = Result<T, Violation>;

/// One simulated cluster run.
pub struct Sim<P: Protocol> {
    pub(super) cfg: SimConfig<P>,
    pub(super) rng: ChaCha8Rng,
    pub(super) now: u64,
    pub(super) ids: Vec<NodeId>,
    configs: Vec<P::Config>,
    pub(super) nodes: Vec<Option<P::Core>>,
    pub(super) paused: Vec<bool>,
    disks: Vec<P::Disk>,
    restarts: u64,
    net: BTreeMap<(u64, u64), P::Message>,
    msg_seq: u64,
    /// Latest delivery time per (from, to) link, for FIFO protocols.
    link_last: BTreeMap<(usize, usize), u64>,
    /// Side of each node in the current partition (None: no partition).
    sides: Option<Vec<bool>>,
    pub(super) clients: Clients,
    pub(super) ghost: Ghost<P::Entry>,
    /// The state after the ghost's committed sequence, and per key its history:
    /// key -> [(ghost length after the write, value)], in order.
    pub(super) ghost_sm: StateMachine,
    pub(super) history: BTreeMap<String, Vec<(usize, Option<String>)>>,
    invariants: P::Invariants,
    pub(super) stats: Stats,
}

impl<P: Protocol> Sim<P> {
    pub fn new(cfg: SimConfig<P>) -> Sim<P> {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let ids: Vec<NodeId> = (1..=cfg.nodes)
            .map(|i| NodeId::new(format!("n{i}")))
            .collect();
        let configs = P::configs(&ids, &cfg.bugs, &cfg.knobs, &mut rng);
        let nodes = configs
            .iter()
            .map(|c| Some(P::boot(c.clone(), &P::Disk::default())))
            .collect();
        let n = cfg.nodes;
        Sim {
            cfg,
            rng,
            now: 0,
            ids,
            configs,
            nodes,
            paused: vec![false; n],
            disks: vec![P::Disk::default(); n],
            restarts: 0,
            net: BTreeMap::new(),
            msg_seq: 0,
            link_last: BTreeMap::new(),
            sides: None,
            clients: Clients::new(),
            ghost: Ghost {
                committed: Vec::new(),
                positions: Vec::new(),
            },
            ghost_sm: StateMachine::default(),
            history: BTreeMap::new(),
            invariants: P::Invariants::default(),
            stats: Stats::default(),
        }
    }

    pub(super) fn violation(&self, property: &'static str, detail: String) -> Violation {
        Violation {
            seed: self.cfg.seed,
            tick: self.now,
            property,
            detail,
        }
    }

    fn broken(&self, b: Broken) -> Violation {
        self.violation(b.property, b.detail)
    }

    /// Runs the whole schedule and the final checks.
    pub fn run(mut self) -> Checked<Stats> {
        let total = self.cfg.fault_ticks + self.cfg.heal_ticks;
        while self.now < total {
            self.now += 1;
            let faulty = self.now <= self.cfg.fault_ticks;
            if faulty {
                self.faults()?;
            } else if self.now == self.cfg.fault_ticks + 1 {
                self.heal();
            }
            self.deliver(faulty)?;
            for i in 0..self.nodes.len() {
                if self.nodes[i].is_some() && !self.paused[i] {
                    self.step(i, Event::Tick, faulty)?;
                }
            }
            self.run_clients(faulty)?;
            if self.now.is_multiple_of(100) {
                self.periodic()?;
            }
        }
        self.periodic()?;
        self.final_checks()?;
        self.stats.committed = self.ghost.committed.len();
        Ok(self.stats)
    }

    fn periodic(&self) -> Checked<()> {
        self.invariants
            .periodic(&self.ids, &self.nodes, &self.disks)
            .map_err(|b| self.broken(b))
    }

    // ---- faults -----------------------------------------------------------------------

    fn faults(&mut self) -> Checked<()> {
        let n = self.nodes.len();
        if self.rng.gen_bool(0.01) {
            if self.sides.is_some() {
                self.sides = None;
            } else if let Some(leader) = self.some_leader().filter(|_| self.rng.gen_bool(0.5)) {
                // Isolate the current leader.
                self.sides = Some((0..n).map(|i| i == leader).collect());
            } else {
                self.sides = Some((0..n).map(|_| self.rng.gen_bool(0.5)).collect());
            }
        }
        let up = self.nodes.iter().filter(|x| x.is_some()).count();
        if up > n / 2 && self.rng.gen_bool(self.cfg.crash_rate) {
            let victim = if self.rng.gen_bool(0.5) {
                self.some_leader()
            } else {
                None
            };
            let victim = victim.unwrap_or_else(|| self.rng.gen_range(0..n));
            if self.nodes[victim].is_some() {
                self.crash(victim);
            }
        }
        if self.cfg.mass_crash_rate > 0.0 && self.rng.gen_bool(self.cfg.mass_crash_rate) {
            let count = if self.rng.gen_bool(0.5) { n } else { n / 2 + 1 };
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut self.rng);
            for victim in order.into_iter().take(count) {
                if self.nodes[victim].is_some() {
                    self.crash(victim);
                }
            }
        }
        for i in 0..n {
            if self.nodes[i].is_none() && self.rng.gen_bool(self.cfg.restart_rate) {
                self.restart(i);
            }
            if self.paused[i] && self.rng.gen_bool(self.cfg.resume_rate) {
                self.paused[i] = false;
            }
        }
        if self.rng.gen_bool(self.cfg.pause_rate) {
            // Half the time the leader, as Jepsen's pause nemesis targeting primaries.
            let victim = self.some_leader().filter(|_| self.rng.gen_bool(0.5));
            let victim = victim.unwrap_or_else(|| self.rng.gen_range(0..n));
            self.paused[victim] = true;
        }
        Ok(())
    }

    fn heal(&mut self) {
        self.sides = None;
        self.paused = vec![false; self.nodes.len()];
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_none() {
                self.restart(i);
            }
        }
    }

    fn crash(&mut self, i: usize) {
        self.nodes[i] = None;
        self.paused[i] = false;
        if std::env::var_os("SIM_TRACE").is_some() {
            eprintln!("t={} CRASH {}", self.now, self.ids[i]);
        }
        self.stats.crashes += 1;
        self.clients.forget_node(i);
        let id = self.ids[i].clone();
        self.net.retain(|_, m| *P::route(m).1 != id);
    }

    fn restart(&mut self, i: usize) {
        self.restarts += 1;
        let mut cfg = self.configs[i].clone();
        P::reseed(&mut cfg, self.restarts);
        self.nodes[i] = Some(P::boot(cfg, &self.disks[i]));
    }

    pub(super) fn is_leader(&self, i: usize) -> bool {
        self.nodes[i]
            .as_ref()
            .is_some_and(|c| P::is_leader(&P::view(c)))
    }

    pub(super) fn some_leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.is_leader(i))
            .collect();
        leaders.last().copied()
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.sides.as_ref().is_none_or(|s| s[a] == s[b])
    }

    fn index_of(&self, id: &NodeId) -> usize {
        self.ids.iter().position(|x| x == id).expect("known node")
    }

    // ---- network ----------------------------------------------------------------------

    fn send(&mut self, m: P::Message, faulty: bool) {
        let (from, to) = P::route(&m);
        let (from, to) = (self.index_of(from), self.index_of(to));
        if !self.connected(from, to) || (faulty && self.rng.gen_bool(0.05)) {
            return;
        }
        let copies = if faulty && self.rng.gen_bool(0.03) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = if faulty {
                self.rng.gen_range(1..=6)
            } else {
                self.rng.gen_range(1..=2)
            };
            let mut at = self.now + delay;
            if P::FIFO {
                let last = self.link_last.entry((from, to)).or_default();
                at = at.max(*last);
                *last = at;
            }
            self.msg_seq += 1;
            self.net.insert((at, self.msg_seq), m.clone());
        }
    }

    fn deliver(&mut self, faulty: bool) -> Checked<()> {
        let mut held = Vec::new();
        while let Some(entry) = self.net.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let ((_, seq), m) = entry.remove_entry();
            let (from, to) = P::route(&m);
            let (from, to) = (self.index_of(from), self.index_of(to));
            if self.paused[to] {
                held.push((seq, m)); // a stopped process's socket buffers it
            } else if self.nodes[to].is_some() && self.connected(from, to) {
                self.step(to, Event::Message(m), faulty)?;
            }
        }
        for (seq, m) in held {
            self.net.insert((self.now + 1, seq), m);
        }
        Ok(())
    }

    // ---- stepping and the per-step checks ----------------------------------------------

    pub(super) fn step(&mut self, i: usize, event: Event<P::Message>, faulty: bool) -> Checked<()> {
        let node = self.nodes[i].as_mut().expect("stepping a live node");
        let before = P::view(node);
        let trace = std::env::var_os("SIM_TRACE").is_some() && !matches!(event, Event::Tick);
        let shown = if trace {
            format!("{event:?}")
        } else {
            String::new()
        };
        let cmds = P::step(node, event);
        if trace {
            eprintln!(
                "t={} {} {} <- {shown}\n   -> {:?}",
                self.now,
                self.ids[i],
                P::trace(node),
                cmds
            );
        }
        let after = P::view(node);
        for c in cmds {
            self.invariants
                .on_command(i, &after, &c)
                .map_err(|b| self.broken(b))?;
            self.execute(i, &after, c, faulty)?;
        }
        let node = self.nodes[i].as_ref().expect("still live");
        self.invariants
            .after_step(&self.ids, i, node, &before, &after, &self.ghost)
            .map_err(|b| self.broken(b))?;
        if P::is_leader(&after) && !P::is_leader(&before) {
            self.stats.elections += 1;
        }
        Ok(())
    }

    fn execute(&mut self, i: usize, view: &P::View, c: P::Command, faulty: bool) -> Checked<()> {
        match P::effect(c) {
            Effect::Store(c) => P::store(&mut self.disks[i], c),
            Effect::Send(m) => self.send(m, faulty),
            Effect::Applied {
                seq,
                position,
                entry,
            } => self.on_apply(i, view, seq, position, entry)?,
            Effect::Reply { id, result } => self.on_reply(i, id, result)?,
            Effect::Nothing => {}
        }
        Ok(())
    }

    /// Agreement on the applied sequence: every node applies the same entry at each place.
    fn on_apply(
        &mut self,
        i: usize,
        view: &P::View,
        seq: usize,
        position: u64,
        e: P::Entry,
    ) -> Checked<()> {
        if let Some(committed) = self.ghost.committed.get(seq - 1) {
            if *committed != e {
                return Err(self.violation(
                    P::AGREEMENT,
                    format!(
                        "{} applied {e:?} at {seq}, but {committed:?} was committed there",
                        self.ids[i]
                    ),
                ));
            }
            return self
                .invariants
                .on_apply(i, view, seq, &e, false)
                .map_err(|b| self.broken(b));
        }
        assert_eq!(seq, self.ghost.committed.len() + 1, "applies are in order");
        let payload = P::payload(&e);
        self.ghost_sm.apply(position, payload);
        if let Payload::Op {
            op: Op::Write { key, .. } | Op::Cas { key, .. },
            ..
        } = payload
        {
            let value = self.ghost_sm.get(key).map(str::to_string);
            self.history
                .entry(key.clone())
                .or_default()
                .push((seq, value));
        }
        self.ghost.committed.push(e.clone());
        self.ghost.positions.push(position);
        self.invariants
            .on_apply(i, view, seq, &e, true)
            .map_err(|b| self.broken(b))
    }

    /// After healing: a leader exists and no acknowledged write was lost.
    fn final_checks(&self) -> Checked<()> {
        if self.some_leader().is_none() {
            return Err(self.violation("liveness", "no leader after the heal phase".into()));
        }
        let committed: BTreeSet<(NodeId, RequestId)> = self
            .ghost
            .committed
            .iter()
            .filter_map(|e| match P::payload(e) {
                Payload::Op {
                    origin: Some(o), ..
                } => Some(o.clone()),
                _ => None,
            })
            .collect();
        if let Some((node, req)) = self.clients.acked.iter().find(|o| !committed.contains(o)) {
            return Err(self.violation(
                "acknowledged writes are durable",
                format!("write {req:?} acknowledged by {node} is not in the committed log"),
            ));
        }
        Ok(())
    }
}
