//! The Zab in the bundled deterministic simulation ([`crate::bundled::sim`]), with Zab's
//! safety properties checked as it runs (DSN 2011 §III-A; `Zab.tla`'s `Leadership`,
//! `Integrity`, `TotalOrder`, `LocalPrimaryOrder`, `GlobalPrimaryOrder`,
//! `PrimaryIntegrity`). Agreement and total order on the delivered sequence are the
//! simulator's own check; the network is FIFO per link, as Zab's TCP channels are, but
//! still drops and duplicates messages.
//!
//! ```text
//! let v = Sim::<ZabSim>::new(SimConfig::new(3, seed, &[Bug::DiffWithoutTrunc])).run();
//! ```

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::bug::{Bug, BugSet};
use super::core::{Config, Durable, Zab};
use super::io::{Command, Event};
use super::message::{Body, Message};
use super::types::{Epoch, NodeId, Payload, Phase, Role, Txn, Zxid};
use crate::bundled::request::ReadLevel;
use crate::bundled::sim::{Broken, Effect, Ghost, Invariants, Protocol, TICK_MS};

/// The Zab as a simulated protocol.
#[derive(Clone, Copy, Debug)]
pub struct ZabSim;

/// Zab-specific knobs of a simulated run.
#[derive(Clone, Debug, Default)]
pub struct ZabKnobs {
    /// Transactions a DIFF may carry before SNAP; `None` draws 4..=64 from the seed.
    pub diff_window: Option<usize>,
}

/// What a crash keeps: exactly what storage commands made durable.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    pub log: Vec<Txn>,
}

/// A node around one step.
#[derive(Clone, Debug)]
pub struct View {
    pub role: Role,
    pub phase: Phase,
    /// The epoch it leads, once chosen.
    pub leading: Option<Epoch>,
    pub current_epoch: Epoch,
}

impl Protocol for ZabSim {
    type Core = Zab;
    type Config = Config;
    type Message = Message;
    type Command = Command;
    type Entry = Txn;
    type Disk = Disk;
    type Bug = Bug;
    type Knobs = ZabKnobs;
    type View = View;
    type Invariants = ZabInvariants;

    const READ_LEVELS: &'static [ReadLevel] = &ReadLevel::ALL;
    const FIFO: bool = true;
    const AGREEMENT: &'static str = "agreement and total order";

    fn configs(
        ids: &[NodeId],
        bugs: &[Bug],
        knobs: &ZabKnobs,
        rng: &mut ChaCha8Rng,
    ) -> Vec<Config> {
        let bugs: BugSet = bugs.iter().copied().collect();
        let diff_window = knobs.diff_window.unwrap_or_else(|| rng.gen_range(4..=64));
        ids.iter()
            .map(|id| Config {
                id: id.clone(),
                members: ids.to_vec(),
                heartbeat_ticks: 5,
                finalize_ticks: 5,
                init_ticks: 60,
                sync_ticks: 25,
                diff_window,
                late_ticks: 10,
                tick_ms: TICK_MS,
                bugs: bugs.clone(),
                seed: rng.gen(),
            })
            .collect()
    }

    fn reseed(cfg: &mut Config, restarts: u64) {
        cfg.seed = cfg.seed.wrapping_add(restarts);
    }

    fn boot(cfg: Config, disk: &Disk) -> Zab {
        let durable = Durable {
            accepted_epoch: disk.accepted_epoch,
            current_epoch: disk.current_epoch,
            log: disk.log.clone(),
        };
        Zab::new(cfg, durable)
    }

    fn step(core: &mut Zab, event: Event) -> Vec<Command> {
        core.step(event)
    }

    fn view(core: &Zab) -> View {
        View {
            role: core.role(),
            phase: core.phase(),
            leading: core.leading_epoch(),
            current_epoch: core.current_epoch(),
        }
    }

    fn is_leader(view: &View) -> bool {
        view.role == Role::Leading && view.phase == Phase::Broadcast
    }

    fn route(m: &Message) -> (&NodeId, &NodeId) {
        (&m.from, &m.to)
    }

    fn effect(cmd: Command) -> Effect<ZabSim> {
        match cmd {
            Command::Send(m) => Effect::Send(m),
            Command::Apply { seq, txn } => Effect::Applied {
                seq,
                position: txn.zxid.as_u64(),
                entry: txn,
            },
            Command::Reply { id, result } => Effect::Reply { id, result },
            c => Effect::Store(c),
        }
    }

    fn store(disk: &mut Disk, cmd: Command) {
        match cmd {
            Command::PersistAcceptedEpoch(e) => disk.accepted_epoch = e,
            Command::PersistCurrentEpoch(e) => disk.current_epoch = e,
            Command::Append(txns) => {
                for t in txns {
                    let last = disk.log.last().map_or(Zxid::ZERO, |l| l.zxid);
                    assert!(t.zxid > last, "append in zxid order");
                    disk.log.push(t);
                }
            }
            Command::Truncate { after } => disk.log.retain(|t| t.zxid <= after),
            Command::Send(_) | Command::Apply { .. } | Command::Reply { .. } => {}
        }
    }

    fn payload(entry: &Txn) -> &Payload {
        &entry.payload
    }

    fn trace(core: &Zab) -> String {
        format!(
            "{}/{} acc={} cur={} last={:?} commit={:?} round={}",
            core.role(),
            core.phase(),
            core.accepted_epoch(),
            core.current_epoch(),
            core.last_zxid(),
            core.committed_zxid(),
            core.election_round()
        )
    }
}

/// Ghost state of Zab's own properties.
#[derive(Default)]
pub struct ZabInvariants {
    /// The node established (synchronizing or broadcasting) as leader of each epoch.
    primaries: BTreeMap<Epoch, usize>,
    /// Every transaction a primary broadcast, by zxid.
    broadcast: BTreeMap<Zxid, Txn>,
    /// Per node, the last transaction it delivered (since its history was last replayed).
    delivered: BTreeMap<usize, Zxid>,
}

fn broken(property: &'static str, detail: String) -> Result<(), Broken> {
    Err(Broken { property, detail })
}

impl ZabInvariants {
    fn record_broadcast(&mut self, txn: &Txn) -> Result<(), Broken> {
        match self.broadcast.get(&txn.zxid) {
            Some(t) if t != txn => broken(
                "primary uniqueness (one primary per epoch)",
                format!("zxid {:?} was broadcast as {t:?} and as {txn:?}", txn.zxid),
            ),
            _ => {
                self.broadcast.insert(txn.zxid, txn.clone());
                Ok(())
            }
        }
    }
}

impl Invariants<ZabSim> for ZabInvariants {
    /// Records what primaries broadcast (their own appends and proposals).
    fn on_command(&mut self, _i: usize, view: &View, cmd: &Command) -> Result<(), Broken> {
        match cmd {
            Command::Append(txns) if view.role == Role::Leading => {
                for t in txns {
                    self.record_broadcast(t)?;
                }
                Ok(())
            }
            Command::Send(Message {
                body: Body::Proposal { txn, .. },
                ..
            }) => self.record_broadcast(txn),
            _ => Ok(()),
        }
    }

    /// Integrity, local and global primary order, per delivery.
    fn on_apply(
        &mut self,
        i: usize,
        _view: &View,
        seq: usize,
        txn: &Txn,
        _first: bool,
    ) -> Result<(), Broken> {
        match self.broadcast.get(&txn.zxid) {
            Some(t) if t == txn => {}
            other => {
                return broken(
                    "integrity (only what a primary broadcast is delivered)",
                    format!("node {i} delivered {txn:?}, but the primary broadcast {other:?}"),
                )
            }
        }
        let z = txn.zxid;
        if seq == 1 {
            self.delivered.remove(&i);
        }
        if let Some(&prev) = self.delivered.get(&i) {
            if z <= prev {
                return broken(
                    "global primary order",
                    format!("node {i} delivered {z:?} after {prev:?}"),
                );
            }
            let next_of_same_primary = z.epoch == prev.epoch && z.counter == prev.counter + 1;
            let first_of_new_primary = z.epoch > prev.epoch && z.counter == 1;
            if !next_of_same_primary && !first_of_new_primary {
                return broken(
                    "local primary order",
                    format!("node {i} delivered {z:?} right after {prev:?}: a transaction of the primary is missing"),
                );
            }
        } else if z.counter != 1 && seq == 1 {
            return broken(
                "local primary order",
                format!("node {i} delivered {z:?} first"),
            );
        }
        self.delivered.insert(i, z);
        Ok(())
    }

    /// Primary uniqueness per epoch, and primary integrity when a leader is established.
    fn after_step(
        &mut self,
        ids: &[NodeId],
        i: usize,
        core: &Zab,
        before: &View,
        after: &View,
        ghost: &Ghost<Txn>,
    ) -> Result<(), Broken> {
        let Some(epoch) = after.leading else {
            return Ok(());
        };
        if after.phase < Phase::Synchronization {
            return Ok(());
        }
        match self.primaries.get(&epoch) {
            Some(&other) if other != i => {
                return broken(
                    "primary uniqueness (one primary per epoch)",
                    format!(
                        "{} and {} both established as leader of epoch {epoch}",
                        ids[other], ids[i]
                    ),
                )
            }
            _ => {
                self.primaries.insert(epoch, i);
            }
        }
        if after.phase == Phase::Broadcast && before.phase != Phase::Broadcast {
            // Primary integrity: before it broadcasts, a primary has delivered every
            // transaction of an earlier epoch that anyone delivered.
            let log = core.log();
            let missing = ghost.committed.iter().find(|g| {
                g.zxid.epoch < epoch
                    && log
                        .binary_search_by(|t| t.zxid.cmp(&g.zxid))
                        .map_or(true, |k| log[k] != **g)
            });
            if let Some(g) = missing {
                return broken(
                    "primary integrity",
                    format!(
                        "{} leads epoch {epoch} without delivered transaction {:?}",
                        ids[i], g.zxid
                    ),
                );
            }
        }
        Ok(())
    }
}
