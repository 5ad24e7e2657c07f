//! The leader's side: discovery, sync, broadcast, reads, sessions (ZooKeeper's `Leader`
//! and `LearnerHandler`).
//!
//! ```text
//! FOLLOWERINFO × quorum ─► e' = max(acceptedEpoch) + 1, persist acceptedEpoch, LEADERINFO(e')
//! ACKEPOCH × quorum     ─► persist currentEpoch = e', NEWLEADER(DIFF | TRUNC+DIFF | SNAP) to each
//! ACK(NEWLEADER) × quorum ─► commit the initial history, UPTODATE: broadcast (serve)
//! write ─► PROPOSAL (zxid e'.n) ─► ACK × quorum incl. self ─► COMMIT, apply, answer
//! ```

use std::collections::BTreeMap;

use super::Zab;
use crate::bundled::types::Position;
use crate::zab::bug::Bug;
use crate::zab::io::Command;
use crate::zab::message::{Body, Sync};
use crate::zab::types::{Epoch, NodeId, Payload, Phase, Role, Txn, Zxid};

/// A follower as the leader sees it (one `LearnerHandler`).
#[derive(Clone, Debug)]
pub(super) struct Learner {
    /// It ACKed NEWLEADER: its history is the leader's.
    synced: bool,
    /// Highest zxid it has durably logged, as far as the leader knows.
    acked: Zxid,
    /// Tick it was last heard from.
    heard: u64,
    /// Highest PING round it answered.
    read_round: u64,
}

/// The leader's deadline for a client session, on its own clock.
#[derive(Clone, Debug)]
pub(super) struct Lease {
    session: Position,
    deadline: u64,
    closing: bool,
}

/// Everything only a leader keeps.
#[derive(Clone, Debug)]
pub(super) struct Lead {
    /// The epoch this node leads, 0 until chosen.
    pub(super) epoch: Epoch,
    /// acceptedEpoch of each FOLLOWERINFO sender (and this node) during discovery.
    infos: BTreeMap<NodeId, Epoch>,
    /// ACKEPOCH senders: whether the ack counts, and their last zxid.
    acks: BTreeMap<NodeId, (bool, Zxid)>,
    learners: BTreeMap<NodeId, Learner>,
    /// Counter of the last zxid proposed in this epoch.
    counter: u32,
    /// Ticks since this node became leader.
    elapsed: u64,
    heartbeat_elapsed: u64,
    read_round: u64,
    sessions: BTreeMap<String, Lease>,
    /// Forwarded `sync` reads: (follower, token, zxid to commit first).
    syncs: Vec<(NodeId, u64, Zxid)>,
}

impl Zab {
    pub(super) fn become_leader(&mut self) {
        self.role = Role::Leading;
        self.phase = Phase::Discovery;
        self.leader = Some(self.cfg.id.clone());
        self.follow = None;
        let mut infos = BTreeMap::new();
        infos.insert(self.cfg.id.clone(), self.accepted_epoch);
        self.lead = Some(Lead {
            epoch: 0,
            infos,
            acks: BTreeMap::new(),
            learners: BTreeMap::new(),
            counter: 0,
            elapsed: 0,
            heartbeat_elapsed: 0,
            read_round: 0,
            sessions: BTreeMap::new(),
            syncs: Vec::new(),
        });
        self.maybe_choose_epoch();
    }

    fn lead(&mut self) -> &mut Lead {
        self.lead
            .as_mut()
            .expect("only a leader keeps leader state")
    }

    // ---- discovery --------------------------------------------------------------------

    pub(super) fn on_follower_info(&mut self, from: NodeId, accepted_epoch: Epoch, _last: Zxid) {
        if self.role != Role::Leading {
            return;
        }
        // A (re)joining follower: stop forwarding to it until it is synced again.
        self.lead().learners.remove(&from);
        let epoch = self.lead().epoch;
        if epoch == 0 {
            self.lead().infos.insert(from, accepted_epoch);
            self.maybe_choose_epoch();
        } else {
            self.send(from, Body::LeaderInfo { epoch });
        }
    }

    /// With a quorum of FOLLOWERINFO (this node included), proposes max(acceptedEpoch)
    /// + 1, persisting it as this node's acceptedEpoch first (the ZOOKEEPER-1291 fix).
    fn maybe_choose_epoch(&mut self) {
        let quorum = self.quorum();
        let lead = self.lead();
        if lead.epoch != 0 || lead.infos.len() < quorum {
            return;
        }
        let epoch = lead.infos.values().max().copied().unwrap_or(0) + 1;
        lead.epoch = epoch;
        let followers: Vec<NodeId> = lead.infos.keys().cloned().collect();
        self.accepted_epoch = epoch;
        if !self.has(Bug::ForgetAcceptedEpoch) {
            self.emit(Command::PersistAcceptedEpoch(epoch), false);
        }
        let me = self.cfg.id.clone();
        let own = (true, self.last_zxid());
        self.lead().acks.insert(me.clone(), own);
        for f in followers.into_iter().filter(|f| *f != me) {
            self.send_after_writes(f, Body::LeaderInfo { epoch });
        }
        self.maybe_start_sync();
    }

    pub(super) fn on_ack_epoch(
        &mut self,
        from: NodeId,
        epoch: Epoch,
        current_epoch: Option<Epoch>,
        last_zxid: Zxid,
    ) {
        if self.role != Role::Leading || epoch == 0 || epoch != self.lead().epoch {
            return;
        }
        if let Some(ce) = current_epoch {
            // A follower more recent than the leader: this node must not lead (ZooKeeper
            // `waitForEpochAck`: "Follower is ahead of the leader").
            if self.phase == Phase::Discovery
                && (ce, last_zxid) > (self.current_epoch, self.last_zxid())
            {
                self.start_election();
                return;
            }
        }
        // ZooKeeper's −1: a follower that had already accepted this epoch (from another
        // would-be leader, or before a restart) does not count towards the quorum.
        let counts = current_epoch.is_some() || self.has(Bug::CountEpochNack);
        // A real ack stays counted when the same follower answers again (ZooKeeper's
        // `electingFollowers` is a set).
        let ack = self
            .lead()
            .acks
            .entry(from.clone())
            .or_insert((false, last_zxid));
        *ack = (ack.0 || counts, last_zxid);
        // A duplicate ACKEPOCH of a follower already being synced changes nothing.
        let syncing = self.lead().learners.contains_key(&from);
        match self.phase {
            Phase::Discovery => self.maybe_start_sync(),
            _ if syncing => {}
            _ => self.send_new_leader(from, last_zxid),
        }
    }

    /// With a quorum of ACKEPOCH: currentEpoch = e', then NEWLEADER to every acker.
    fn maybe_start_sync(&mut self) {
        let quorum = self.quorum();
        let me = self.cfg.id.clone();
        let lead = self.lead();
        let counted = lead.acks.values().filter(|(c, _)| *c).count();
        if lead.epoch == 0 || counted < quorum {
            return;
        }
        let epoch = lead.epoch;
        let ackers: Vec<(NodeId, Zxid)> = lead
            .acks
            .iter()
            .filter(|(n, _)| **n != me)
            .map(|(n, (_, z))| (n.clone(), *z))
            .collect();
        self.phase = Phase::Synchronization;
        self.current_epoch = epoch;
        self.emit(Command::PersistCurrentEpoch(epoch), false);
        for (f, last) in ackers {
            self.send_new_leader(f, last);
        }
        self.maybe_establish();
    }

    // ---- sync -------------------------------------------------------------------------

    /// How to bring a history ending at `peer_last` to this leader's (`LearnerHandler.
    /// syncFollower`): DIFF if it is a prefix within the window, TRUNC to the last common
    /// zxid and then DIFF if it holds a suffix this leader lacks, SNAP otherwise.
    pub(super) fn sync_plan(&self, peer_last: Zxid) -> Sync {
        let window = self.cfg.diff_window;
        let snap = || Sync::Snap {
            txns: self.log.clone(),
        };
        let (trunc_to, from) = if self.logged(peer_last) {
            (None, self.count_through(peer_last))
        } else {
            // The follower has transactions this leader does not: cut back to the last
            // zxid both have (the ZOOKEEPER-1154 fix), then DIFF from there.
            let common = self.count_through(peer_last);
            (Some(self.zxid_at(common)), common)
        };
        if self.log.len() - from > window {
            return snap();
        }
        let txns = self.log[from..].to_vec();
        match trunc_to {
            // Bug::DiffWithoutTrunc: the follower keeps the suffix it should drop.
            Some(to) if !self.has(Bug::DiffWithoutTrunc) => Sync::Trunc { to, txns },
            _ => Sync::Diff { txns },
        }
    }

    fn send_new_leader(&mut self, to: NodeId, peer_last: Zxid) {
        let sync = self.sync_plan(peer_last);
        let through = self.last_zxid();
        let learner = Learner {
            synced: false,
            acked: Zxid::ZERO,
            heard: self.now,
            read_round: 0,
        };
        self.lead().learners.insert(to.clone(), learner);
        self.send_after_writes(to, Body::NewLeader { sync, through });
    }

    pub(super) fn on_ack_new_leader(&mut self, from: NodeId, epoch: Epoch, through: Zxid) {
        let now = self.now;
        if !self.is_learner(&from, epoch) {
            return;
        }
        let l = self.lead().learners.get_mut(&from).expect("checked");
        l.synced = true;
        // Only what this ACK vouches for: the history of the NEWLEADER it answers.
        l.acked = l.acked.max(through);
        l.heard = now;
        match self.phase {
            Phase::Synchronization => self.maybe_establish(),
            Phase::Broadcast => {
                let commit = self.committed_zxid();
                self.send(from, Body::UpToDate { commit });
            }
            Phase::Election | Phase::Discovery => {}
        }
    }

    fn is_learner(&mut self, from: &NodeId, epoch: Epoch) -> bool {
        self.role == Role::Leading
            && epoch != 0
            && epoch == self.lead().epoch
            && self.lead().learners.contains_key(from)
    }

    /// With a quorum of NEWLEADER ACKs (this node included): the initial history is
    /// committed, UPTODATE goes out, and the leader serves.
    fn maybe_establish(&mut self) {
        let quorum = self.quorum();
        let synced: Vec<NodeId> = self
            .lead()
            .learners
            .iter()
            .filter(|(_, l)| l.synced)
            .map(|(n, _)| n.clone())
            .collect();
        if self.phase != Phase::Synchronization || 1 + synced.len() < quorum {
            return;
        }
        self.phase = Phase::Broadcast;
        self.inherit_sessions();
        let last = self.last_zxid();
        self.commit_through(last);
        for f in synced {
            self.send(f, Body::UpToDate { commit: last });
        }
    }

    // ---- broadcast --------------------------------------------------------------------

    /// Appends a transaction of this epoch and proposes it to every follower that was
    /// sent NEWLEADER. The leader's own ACK counts at once: its append comes before any
    /// send of this step, so it is durable before any follower's ACK can arrive.
    pub(super) fn propose(&mut self, payload: Payload) -> Zxid {
        let prev = self.last_zxid();
        let lead = self.lead();
        lead.counter += 1;
        let zxid = Zxid::new(lead.epoch, lead.counter);
        let txn = Txn { zxid, payload };
        let learners: Vec<NodeId> = lead.learners.keys().cloned().collect();
        self.log.push(txn.clone());
        // Bug::AckBeforeFsync: the leader's own log write is late; it counts itself anyway.
        let late = self.has(Bug::AckBeforeFsync);
        self.emit(Command::Append(vec![txn.clone()]), late);
        for f in learners {
            let body = Body::Proposal {
                prev,
                txn: txn.clone(),
            };
            self.send(f, body);
        }
        zxid
    }

    pub(super) fn on_ack(&mut self, from: NodeId, epoch: Epoch, zxid: Zxid) {
        let now = self.now;
        if !self.is_learner(&from, epoch) {
            return;
        }
        let l = self.lead().learners.get_mut(&from).expect("checked");
        l.acked = l.acked.max(zxid);
        l.heard = now;
        self.maybe_commit();
    }

    /// Commits, in zxid order, the longest prefix of this epoch's proposals that a quorum
    /// including this node has logged.
    pub(super) fn maybe_commit(&mut self) {
        if !self.leads() {
            return;
        }
        let quorum = self.quorum();
        let epoch = self.lead().epoch;
        let mut acked: Vec<Zxid> = self.lead().learners.values().map(|l| l.acked).collect();
        acked.push(self.last_zxid());
        if acked.len() < quorum {
            return;
        }
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let target = acked[quorum - 1];
        if target <= self.committed_zxid() || target.epoch != epoch || !self.logged(target) {
            return;
        }
        self.commit_through(target);
        let learners: Vec<NodeId> = self.lead().learners.keys().cloned().collect();
        for f in learners {
            self.send(f, Body::Commit { zxid: target });
        }
    }

    pub(super) fn on_ping_ack(&mut self, from: NodeId, epoch: Epoch, round: u64, last: Zxid) {
        let now = self.now;
        if !self.is_learner(&from, epoch) {
            return;
        }
        let l = self.lead().learners.get_mut(&from).expect("checked");
        l.heard = now;
        l.read_round = l.read_round.max(round);
        if l.synced {
            // Its history is this leader's prefix: its last zxid is a cumulative ACK.
            l.acked = l.acked.max(last);
        }
        self.maybe_commit();
        self.serve_reads();
    }

    pub(super) fn leader_tick(&mut self) {
        let now = self.now;
        let lead = self.lead();
        lead.elapsed += 1;
        lead.heartbeat_elapsed += 1;
        let beat = lead.heartbeat_elapsed >= self.cfg.heartbeat_ticks;
        if beat {
            self.lead().heartbeat_elapsed = 0;
        }
        if self.phase != Phase::Broadcast {
            if self.lead().elapsed > self.cfg.init_ticks {
                self.start_election();
            }
            return;
        }
        // A leader that has not heard from a quorum within the sync limit steps down
        // ("Not sufficient followers synced").
        let sync_ticks = self.cfg.sync_ticks;
        let alive = 1 + self
            .lead()
            .learners
            .values()
            .filter(|l| l.synced && l.heard + sync_ticks > now)
            .count();
        if alive < self.quorum() && !self.has(Bug::StaleSync) {
            self.start_election();
            return;
        }
        if beat {
            self.ping_all();
        }
        self.expire_sessions();
    }

    fn ping_all(&mut self) {
        let round = self.lead().read_round;
        let commit = self.committed_zxid();
        let learners: Vec<NodeId> = self.lead().learners.keys().cloned().collect();
        for f in learners {
            self.send(f, Body::Ping { round, commit });
        }
    }

    // ---- reads ------------------------------------------------------------------------

    /// Starts a PING round that a `quorum` read waits for; returns its number.
    pub(super) fn start_read_round(&mut self) -> u64 {
        self.lead().read_round += 1;
        let round = self.lead().read_round;
        self.ping_all();
        round
    }

    /// True when a quorum (this node included) answered PING round `round`.
    pub(super) fn read_round_confirmed(&self, round: u64) -> bool {
        let Some(lead) = &self.lead else {
            return false;
        };
        let acks = 1 + lead
            .learners
            .values()
            .filter(|l| l.synced && l.read_round >= round)
            .count();
        acks >= self.quorum()
    }

    pub(super) fn on_sync_request(&mut self, from: NodeId, epoch: Epoch, token: u64) {
        if !self.is_learner(&from, epoch) || !self.leads() {
            return;
        }
        let last = self.last_zxid();
        self.lead().syncs.push((from, token, last));
        self.answer_syncs();
    }

    /// Answers forwarded `sync` reads whose proposals have committed (at once with
    /// `stale-sync`).
    pub(super) fn answer_syncs(&mut self) {
        let Some(lead) = self.lead.as_mut() else {
            return;
        };
        if lead.syncs.is_empty() {
            return;
        }
        let committed = self.zxid_at(self.commit);
        let stale = self.cfg.bugs.has(Bug::StaleSync);
        let lead = self.lead.as_mut().expect("leading");
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut lead.syncs)
            .into_iter()
            .partition(|(_, _, z)| stale || *z <= committed);
        lead.syncs = waiting;
        for (f, token, z) in done {
            let zxid = if stale { committed } else { z };
            self.send(f, Body::SyncDone { token, zxid });
        }
    }

    // ---- sessions ---------------------------------------------------------------------

    /// A new leader gives every inherited session a full timeout on its own clock: it
    /// cannot know when the session was last heard from.
    fn inherit_sessions(&mut self) {
        let now = self.now;
        let expire_at_once = self.has(Bug::ExpireSessionsOnElection);
        let leases: BTreeMap<String, Lease> = self
            .sm
            .sessions()
            .map(|(client, s)| {
                // Bug::ExpireSessionsOnElection: inherited sessions expire right away.
                let deadline = if expire_at_once {
                    now
                } else {
                    now + self.ttl_ticks(s.timeout_ms)
                };
                let lease = Lease {
                    session: s.id,
                    deadline,
                    closing: false,
                };
                (client.clone(), lease)
            })
            .collect();
        self.lead().sessions = leases;
    }

    /// A request from `client` is a heartbeat of its session.
    pub(super) fn touch_session(&mut self, client: &str) {
        let Some(timeout_ms) = self.sm.session(client).map(|s| s.timeout_ms) else {
            return;
        };
        let deadline = self.now + self.ttl_ticks(timeout_ms);
        if let Some(l) = self.lead().sessions.get_mut(client) {
            if !l.closing {
                l.deadline = l.deadline.max(deadline);
            }
        }
    }

    /// Keeps the leases in step with the sessions the state machine holds.
    pub(super) fn track_sessions(&mut self, txn: &Txn) {
        if let Payload::Op { op, .. } = &txn.payload {
            if let Some(client) = op.lock_client() {
                if let Some(s) = self.sm.session(client).cloned() {
                    let deadline = self.now + self.ttl_ticks(s.timeout_ms);
                    let lead = self.lead();
                    match lead.sessions.get_mut(client) {
                        Some(l) if l.session == s.id => {
                            if !l.closing {
                                l.deadline = l.deadline.max(deadline);
                            }
                        }
                        _ => {
                            let lease = Lease {
                                session: s.id,
                                deadline,
                                closing: false,
                            };
                            lead.sessions.insert(client.to_string(), lease);
                        }
                    }
                }
            }
        }
        let sm = &self.sm;
        let lead = self.lead.as_mut().expect("leading");
        lead.sessions
            .retain(|c, l| sm.session(c).is_some_and(|s| s.id == l.session));
    }

    /// Proposes `CloseSession` for every session whose deadline passed.
    fn expire_sessions(&mut self) {
        let now = self.now;
        let due: Vec<(String, Position)> = self
            .lead()
            .sessions
            .iter_mut()
            .filter(|(_, l)| !l.closing && l.deadline <= now)
            .map(|(c, l)| {
                l.closing = true;
                (c.clone(), l.session)
            })
            .collect();
        if due.is_empty() {
            return;
        }
        for (client, session) in due {
            self.propose(Payload::CloseSession { client, session });
        }
        self.maybe_commit();
    }
}
