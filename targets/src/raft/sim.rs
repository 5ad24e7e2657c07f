//! The Raft in the bundled deterministic simulation ([`crate::bundled::sim`]), with the
//! safety properties of the Raft paper checked as it runs: §5.2 Election Safety, §5.3 Log
//! Matching, §5.4 Leader Completeness; §5.4.3 State Machine Safety is the simulator's
//! agreement check on the applied sequence.
//!
//! ```text
//! let v = Sim::<RaftSim>::new(SimConfig::new(3, seed, &[Bug::StaleRead])).run();
//! ```

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::bug::{Bug, BugSet};
use super::core::{Config, Raft};
use super::entry::{Entry, Payload};
use super::io::{Command, Event};
use super::message::Message;
use super::types::{HardState, NodeId, Role, Term};
use crate::bundled::request::ReadLevel;
use crate::bundled::sim::{Broken, Effect, Ghost, Invariants, Protocol, TICK_MS};

/// The Raft as a simulated protocol.
#[derive(Clone, Copy, Debug)]
pub struct RaftSim;

/// Raft-specific knobs of a simulated run.
#[derive(Clone, Debug, Default)]
pub struct RaftKnobs {
    /// Entries per AppendEntries; `None` draws 1..=4 from the seed.
    pub max_append: Option<usize>,
}

/// What a crash keeps: exactly what storage commands made durable.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub hard: HardState,
    pub log: Vec<Entry>,
}

/// A node's role and term around one step.
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub role: Role,
    pub term: Term,
}

impl Protocol for RaftSim {
    type Core = Raft;
    type Config = Config;
    type Message = Message;
    type Command = Command;
    type Entry = Entry;
    type Disk = Disk;
    type Bug = Bug;
    type Knobs = RaftKnobs;
    type View = View;
    type Invariants = RaftInvariants;

    const READ_LEVELS: &'static [ReadLevel] = &[ReadLevel::Quorum];
    const FIFO: bool = false;
    const AGREEMENT: &'static str = "state machine safety (§5.4.3)";

    fn configs(
        ids: &[NodeId],
        bugs: &[Bug],
        knobs: &RaftKnobs,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Config> {
        let bugs: BugSet = bugs.iter().copied().collect();
        let max_append = knobs.max_append.unwrap_or_else(|| rng.gen_range(1..=4));
        ids.iter()
            .map(|id| Config {
                id: id.clone(),
                members: ids.to_vec(),
                election_ticks: (15, 30),
                heartbeat_ticks: 5,
                max_append_entries: max_append,
                tick_ms: TICK_MS,
                bugs: bugs.clone(),
                seed: rng.gen(),
            })
            .collect()
    }

    fn reseed(cfg: &mut Config, restarts: u64) {
        cfg.seed = cfg.seed.wrapping_add(restarts);
    }

    fn boot(cfg: Config, disk: &Disk) -> Raft {
        Raft::new(cfg, disk.hard.clone(), disk.log.clone())
    }

    fn step(core: &mut Raft, event: Event) -> Vec<Command> {
        core.step(event)
    }

    fn view(core: &Raft) -> View {
        View {
            role: core.role(),
            term: core.term(),
        }
    }

    fn is_leader(view: &View) -> bool {
        view.role == Role::Leader
    }

    fn route(m: &Message) -> (&NodeId, &NodeId) {
        (&m.from, &m.to)
    }

    fn effect(cmd: Command) -> Effect<RaftSim> {
        match cmd {
            Command::Send(m) => Effect::Send(m),
            Command::Apply(e) => Effect::Applied {
                seq: e.index as usize,
                position: e.index,
                entry: e,
            },
            Command::Reply { id, result } => Effect::Reply { id, result },
            c @ (Command::PersistHardState(_) | Command::Append(_) | Command::Truncate { .. }) => {
                Effect::Store(c)
            }
        }
    }

    fn store(disk: &mut Disk, cmd: Command) {
        match cmd {
            Command::PersistHardState(h) => disk.hard = h,
            Command::Append(es) => {
                for e in es {
                    assert_eq!(e.index, disk.log.len() as u64 + 1, "append in order");
                    disk.log.push(e);
                }
            }
            Command::Truncate { from } => disk.log.truncate(from as usize - 1),
            Command::Send(_) | Command::Apply(_) | Command::Reply { .. } => {}
        }
    }

    fn payload(entry: &Entry) -> &Payload {
        &entry.payload
    }

    fn trace(core: &Raft) -> String {
        format!(
            "{:?} term={} commit={} last={}",
            core.role(),
            core.term(),
            core.commit_index(),
            core.last_index()
        )
    }
}

/// Ghost state of the Raft's own properties.
#[derive(Default)]
pub struct RaftInvariants {
    /// The node that led each term.
    leaders: BTreeMap<Term, usize>,
    /// Term of the leader that committed each entry (the first node to apply it: only a
    /// leader advances its commit index by counting, and it applies at once).
    commit_terms: Vec<Term>,
}

impl Invariants<RaftSim> for RaftInvariants {
    fn on_apply(
        &mut self,
        _i: usize,
        view: &View,
        _seq: usize,
        _entry: &Entry,
        first: bool,
    ) -> Result<(), Broken> {
        if first {
            self.commit_terms.push(view.term);
        }
        Ok(())
    }

    /// Election Safety (§5.2): one leader per term; and a new leader is complete.
    fn after_step(
        &mut self,
        ids: &[NodeId],
        i: usize,
        core: &Raft,
        before: &View,
        after: &View,
        ghost: &Ghost<Entry>,
    ) -> Result<(), Broken> {
        if after.role != Role::Leader {
            return Ok(());
        }
        let term = after.term;
        match self.leaders.get(&term) {
            Some(&other) if other != i => {
                return Err(Broken {
                    property: "election safety (§5.2)",
                    detail: format!("{} and {} both lead term {term}", ids[other], ids[i]),
                })
            }
            _ => {
                self.leaders.insert(term, i);
            }
        }
        if before.role != Role::Leader {
            self.check_leader_completeness(ids, i, core, ghost)?;
        }
        Ok(())
    }

    /// Log Matching (§5.3): same index and term implies identical prefixes.
    fn periodic(
        &self,
        ids: &[NodeId],
        nodes: &[Option<Raft>],
        disks: &[Disk],
    ) -> Result<(), Broken> {
        let logs: Vec<&[Entry]> = (0..nodes.len())
            .map(|i| match &nodes[i] {
                Some(r) => r.log(),
                None => &disks[i].log[..],
            })
            .collect();
        for a in 0..logs.len() {
            for b in a + 1..logs.len() {
                let (x, y) = (logs[a], logs[b]);
                let common = x.len().min(y.len());
                if let Some(k) = (0..common).rev().find(|&k| x[k].term == y[k].term) {
                    if x[..=k] != y[..=k] {
                        return Err(Broken {
                            property: "log matching (§5.3)",
                            detail: format!(
                                "{} and {} agree on the term at {} but not on the prefix",
                                ids[a],
                                ids[b],
                                k + 1
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

impl RaftInvariants {
    /// Leader Completeness (§5.4): a leader of term T holds every entry committed in a
    /// term before T. (A leader of an older term, e.g. one that was paused while its votes
    /// were in flight, may legitimately lack entries committed since.)
    fn check_leader_completeness(
        &self,
        ids: &[NodeId],
        i: usize,
        node: &Raft,
        ghost: &Ghost<Entry>,
    ) -> Result<(), Broken> {
        let log = node.log();
        let missing = (0..ghost.committed.len())
            .find(|&k| self.commit_terms[k] < node.term() && log.get(k) != ghost.committed.get(k));
        if let Some(first) = missing {
            return Err(Broken {
                property: "leader completeness (§5.4)",
                detail: format!(
                    "{} leads term {} without committed entry {}",
                    ids[i],
                    node.term(),
                    first + 1
                ),
            });
        }
        Ok(())
    }
}
