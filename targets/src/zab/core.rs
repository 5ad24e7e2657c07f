//! The sans-I/O Zab core: `step(Event) -> Vec<Command>`.
//!
//! Zab 1.0 as ZooKeeper implements it (Junqueira, Reed, Serafini, "Zab: High-performance
//! broadcast for primary-backup systems", DSN 2011; Medeiros 2012; ZooKeeper's
//! `FastLeaderElection`, `Leader`, `LearnerHandler`, `Learner`). Nothing here touches a
//! clock, a socket or a file: time is [`Event::Tick`], randomness (election resend
//! jitter) a ChaCha RNG seeded from the config, and every effect a [`Command`].
//!
//! ```text
//!  LOOKING ─FLE─► LEADING:   discovery ─► synchronization ─► broadcast (serves)
//!            └──► FOLLOWING: discovery ─► synchronization ─► broadcast (after UPTODATE)
//!  any timeout, gap or abandoned leader ─► LOOKING (a new round)
//! ```
//!
//! The rules, and where each lives:
//! * election ([`election`]): votes ordered by (currentEpoch, last logged zxid, id),
//!   rounds, a quorum agreeing plus a finalize wait; joining a settled leader.
//! * discovery ([`leader`], [`follower`]): a quorum of FOLLOWERINFO; the new epoch is
//!   max(acceptedEpoch) + 1, persisted by the leader before LEADERINFO and by a follower
//!   before its ACKEPOCH; an ACKEPOCH for an epoch already accepted is not an ack; a
//!   follower ahead of the leader makes it give up.
//! * sync: DIFF inside the leader's window, TRUNC first when the follower holds a suffix
//!   the leader lacks, SNAP otherwise; the follower makes the history durable, then
//!   writes currentEpoch, then ACKs; the leader commits its initial history on a quorum
//!   of those ACKs and sends UPTODATE. Nothing is served before UPTODATE.
//! * broadcast: a proposal is ACKed only once durable (the leader's own too: its append
//!   precedes every send of the step); the leader commits in zxid order on a quorum
//!   including itself.
//! * reads: `local` from the applied state, `sync` after the leader's proposals so far
//!   commit, `quorum` after a round of PINGs a quorum answered (see [`crate::bundled::request::ReadLevel`]).
//! * sessions: the leader expires a session with no request for its timeout by
//!   proposing `CloseSession`; a new leader gives inherited sessions a full timeout.
//!
//! Invariants the runtime keeps: storage commands are made durable in order before any
//! later command of the same output is acted on, an epoch write only after the log
//! changes before it; the state handed to [`Zab::new`] is exactly what earlier storage
//! commands made durable.

mod election;
mod follower;
mod leader;

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::bug::{Bug, BugSet};
use super::io::{Command, Event, ReadLevel, Request, RequestError, Response};
use super::message::{Body, Message, PeerState};
use super::types::{Epoch, NodeId, Payload, Phase, RequestId, Role, Txn, Vote, Zxid};
use crate::bundled::state_machine::StateMachine;

use leader::Lead;

/// Static configuration of one core. Times are in ticks.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    /// Every member of the cluster, including `id`.
    pub members: Vec<NodeId>,
    /// The leader's PING interval; also how often a LOOKING node resends its vote (plus
    /// a random jitter of up to as much again) and a follower its FOLLOWERINFO.
    pub heartbeat_ticks: u64,
    /// How long a quorum must agree on a vote with no better one arriving before the
    /// election ends (ZooKeeper's finalizeWait).
    pub finalize_ticks: u64,
    /// How long discovery and sync may take (initLimit).
    pub init_ticks: u64,
    /// How long a follower waits to hear from its leader, and a leader from a quorum,
    /// while broadcasting (syncLimit).
    pub sync_ticks: u64,
    /// The most transactions a DIFF carries; a follower further behind gets a SNAP.
    pub diff_window: usize,
    /// How late the log writes of `ack-before-fsync` and `epoch-before-history` land (an
    /// asynchronous logger's group flush, as ZooKeeper's `SyncRequestProcessor`).
    pub late_ticks: u64,
    /// Length of one tick in milliseconds; converts session timeouts to ticks.
    pub tick_ms: u64,
    pub bugs: BugSet,
    pub seed: u64,
}

/// What a node made durable: its two epochs and its history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durable {
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    pub log: Vec<Txn>,
}

/// A read the node has not answered yet.
#[derive(Clone, Debug)]
struct PendingRead {
    id: RequestId,
    key: String,
    wait: ReadWait,
}

#[derive(Clone, Debug)]
enum ReadWait {
    /// Leader, `quorum`: a quorum answered PING round `round`, and everything committed
    /// when the read arrived (`commit` transactions) is applied.
    Quorum { round: u64, commit: usize },
    /// Leader, `sync`: everything proposed when the read arrived is committed.
    Commit { zxid: Zxid },
    /// Follower, `sync`: the leader's SYNCDONE for `token`, then applied through it.
    Leader { token: u64, zxid: Option<Zxid> },
}

/// Election state (ZooKeeper's `FastLeaderElection`).
#[derive(Clone, Debug)]
struct Election {
    round: u64,
    vote: Vote,
    /// Votes of LOOKING peers in this round.
    votes: BTreeMap<NodeId, Vote>,
    /// Votes of peers that are FOLLOWING or LEADING ("out of election").
    settled: BTreeMap<NodeId, (Vote, PeerState)>,
    notify_elapsed: u64,
    notify_every: u64,
    /// When the finalize wait for the current vote ends.
    finalize_at: Option<u64>,
}

/// A follower's progress with its leader.
#[derive(Clone, Debug)]
struct Follow {
    /// LEADERINFO answered (discovery over; waiting for NEWLEADER).
    acked_epoch: bool,
    /// Ticks since the leader was last heard from.
    heard: u64,
    resend_elapsed: u64,
}

/// One Zab node's complete protocol state.
pub struct Zab {
    cfg: Config,
    rng: ChaCha8Rng,
    accepted_epoch: Epoch,
    current_epoch: Epoch,
    log: Vec<Txn>,
    /// How many transactions of the log are known committed, and applied.
    commit: usize,
    applied: usize,
    sm: StateMachine,
    role: Role,
    phase: Phase,
    now: u64,
    election: Election,
    leader: Option<NodeId>,
    lead: Option<Lead>,
    follow: Option<Follow>,
    /// Commands held back: the log writes a planted bug makes late, and whatever must
    /// follow them; all go out at `deferred_due`.
    deferred: Vec<Command>,
    deferred_due: u64,
    /// The leader's client writes, by zxid.
    pending: BTreeMap<Zxid, RequestId>,
    reads: Vec<PendingRead>,
    next_token: u64,
    out: Vec<Command>,
}

impl Zab {
    /// Restores a node from its durable state (empty for a fresh node). It starts
    /// LOOKING with nothing known committed: the state machine is rebuilt as the next
    /// leader's sync re-establishes the commit point.
    pub fn new(cfg: Config, durable: Durable) -> Zab {
        assert!(cfg.members.contains(&cfg.id), "members must include self");
        assert!(
            cfg.heartbeat_ticks > 0 && cfg.heartbeat_ticks < cfg.sync_ticks,
            "need 0 < heartbeat < sync limit"
        );
        for w in durable.log.windows(2) {
            assert!(w[0].zxid < w[1].zxid, "history zxids must increase");
        }
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let me = cfg.id.clone();
        let mut zab = Zab {
            cfg,
            rng,
            // Without a durable acceptedEpoch (the bug's, or a missing file) a node has
            // accepted at least what it has committed to.
            accepted_epoch: durable.accepted_epoch.max(durable.current_epoch),
            current_epoch: durable.current_epoch,
            log: durable.log,
            commit: 0,
            applied: 0,
            sm: StateMachine::default(),
            role: Role::Looking,
            phase: Phase::Election,
            now: 0,
            election: Election {
                round: 0,
                vote: Vote {
                    leader: me,
                    epoch: 0,
                    zxid: Zxid::ZERO,
                },
                votes: BTreeMap::new(),
                settled: BTreeMap::new(),
                notify_elapsed: 0,
                notify_every: 1,
                finalize_at: None,
            },
            leader: None,
            lead: None,
            follow: None,
            deferred: Vec::new(),
            deferred_due: 0,
            pending: BTreeMap::new(),
            reads: Vec::new(),
            next_token: 0,
            out: Vec::new(),
        };
        zab.look();
        // The first tick sends the first notifications.
        zab.election.notify_elapsed = zab.election.notify_every;
        zab
    }

    /// Feeds one event and returns what the runtime must do, in order.
    pub fn step(&mut self, event: Event) -> Vec<Command> {
        match event {
            Event::Tick => self.tick(),
            Event::Message(m) => self.on_message(m),
            Event::Request { id, request } => self.on_request(id, request),
        }
        std::mem::take(&mut self.out)
    }

    pub fn id(&self) -> &NodeId {
        &self.cfg.id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn phase(&self) -> Phase {
        self.phase
    }
    pub fn accepted_epoch(&self) -> Epoch {
        self.accepted_epoch
    }
    pub fn current_epoch(&self) -> Epoch {
        self.current_epoch
    }
    /// The epoch this node leads (once chosen), if it is leading.
    pub fn leading_epoch(&self) -> Option<Epoch> {
        self.lead.as_ref().map(|l| l.epoch).filter(|e| *e > 0)
    }
    /// Whom this node follows or is (once elected).
    pub fn leader(&self) -> Option<&NodeId> {
        self.leader.as_ref()
    }
    /// True when this node serves clients: it leads or follows in broadcast.
    pub fn serving(&self) -> bool {
        self.phase == Phase::Broadcast
    }
    pub fn log(&self) -> &[Txn] {
        &self.log
    }
    pub fn last_zxid(&self) -> Zxid {
        self.log.last().map_or(Zxid::ZERO, |t| t.zxid)
    }
    pub fn committed(&self) -> &[Txn] {
        &self.log[..self.commit]
    }
    pub fn committed_zxid(&self) -> Zxid {
        self.zxid_at(self.commit)
    }
    pub fn applied_zxid(&self) -> Zxid {
        self.zxid_at(self.applied)
    }
    pub fn state_machine(&self) -> &StateMachine {
        &self.sm
    }
    pub fn election_round(&self) -> u64 {
        self.election.round
    }

    fn has(&self, bug: Bug) -> bool {
        self.cfg.bugs.has(bug)
    }

    fn quorum(&self) -> usize {
        self.cfg.members.len() / 2 + 1
    }

    fn peers(&self) -> Vec<NodeId> {
        let me = &self.cfg.id;
        self.cfg
            .members
            .iter()
            .filter(|m| *m != me)
            .cloned()
            .collect()
    }

    /// The zxid of the `n`th transaction (1-based); zero for 0.
    fn zxid_at(&self, n: usize) -> Zxid {
        if n == 0 {
            Zxid::ZERO
        } else {
            self.log[n - 1].zxid
        }
    }

    /// How many transactions have a zxid at or below `z`.
    fn count_through(&self, z: Zxid) -> usize {
        self.log.partition_point(|t| t.zxid <= z)
    }

    /// True when `z` is zero or the zxid of a logged transaction.
    fn logged(&self, z: Zxid) -> bool {
        let n = self.count_through(z);
        z == Zxid::ZERO || (n > 0 && self.log[n - 1].zxid == z)
    }

    fn ttl_ticks(&self, ms: u64) -> u64 {
        ms.div_ceil(self.cfg.tick_ms.max(1)).max(1)
    }

    fn envelope_epoch(&self) -> Epoch {
        match &self.lead {
            Some(l) => l.epoch,
            None => self.accepted_epoch,
        }
    }

    fn message(&self, to: NodeId, body: Body) -> Message {
        Message {
            from: self.cfg.id.clone(),
            to,
            epoch: self.envelope_epoch(),
            body,
        }
    }

    /// Sends at once.
    fn send(&mut self, to: NodeId, body: Body) {
        let m = self.message(to, body);
        self.out.push(Command::Send(m));
    }

    /// Sends once everything held for later has gone out: for messages that vouch for
    /// durable state (ACKs).
    fn send_after_writes(&mut self, to: NodeId, body: Body) {
        let m = self.message(to, body);
        self.emit(Command::Send(m), false);
    }

    /// Emits a command now, or holds it back when `late` or when something is already
    /// held (order is kept).
    fn emit(&mut self, cmd: Command, late: bool) {
        if late || !self.deferred.is_empty() {
            if self.deferred.is_empty() {
                self.deferred_due = self.now + self.cfg.late_ticks;
            }
            self.deferred.push(cmd);
        } else {
            self.out.push(cmd);
        }
    }

    fn reply(&mut self, id: RequestId, result: Result<Response, RequestError>) {
        self.out.push(Command::Reply { id, result });
    }

    // ---- time -------------------------------------------------------------------------

    fn tick(&mut self) {
        self.now += 1;
        // The late log writes of a planted bug land with the next group flush.
        if !self.deferred.is_empty() && self.now >= self.deferred_due {
            let late = std::mem::take(&mut self.deferred);
            self.out.extend(late);
        }
        match self.role {
            Role::Looking => self.election_tick(),
            Role::Following => self.follower_tick(),
            Role::Leading => self.leader_tick(),
        }
    }

    // ---- messages ---------------------------------------------------------------------

    fn on_message(&mut self, m: Message) {
        if m.to != self.cfg.id || !self.cfg.members.contains(&m.from) || m.from == self.cfg.id {
            return;
        }
        match m.body {
            Body::Notification { round, vote, state } => {
                self.on_notification(m.from, round, vote, state)
            }
            Body::FollowerInfo {
                accepted_epoch,
                last_zxid,
            } => self.on_follower_info(m.from, accepted_epoch, last_zxid),
            Body::AckEpoch {
                current_epoch,
                last_zxid,
            } => self.on_ack_epoch(m.from, m.epoch, current_epoch, last_zxid),
            Body::AckNewLeader { through } => self.on_ack_new_leader(m.from, m.epoch, through),
            Body::Ack { zxid } => self.on_ack(m.from, m.epoch, zxid),
            Body::PingAck { round, last_zxid } => {
                self.on_ping_ack(m.from, m.epoch, round, last_zxid)
            }
            Body::SyncRequest { token } => self.on_sync_request(m.from, m.epoch, token),
            Body::LeaderInfo { epoch } => {
                if self.following(&m.from) {
                    self.on_leader_info(epoch);
                }
            }
            body => {
                // Everything else comes from the leader of this node's accepted epoch.
                if self.following(&m.from) && m.epoch == self.accepted_epoch {
                    self.on_leader_message(body);
                }
            }
        }
    }

    fn following(&self, from: &NodeId) -> bool {
        self.role == Role::Following && self.leader.as_ref() == Some(from)
    }

    // ---- the history ------------------------------------------------------------------

    /// Drops every transaction after `z`; if that reaches below what was applied (only
    /// a planted bug makes a leader truncate committed transactions), the state machine
    /// is rebuilt from the remaining history.
    fn truncate_after(&mut self, z: Zxid, late: bool) {
        let keep = self.count_through(z);
        if keep >= self.log.len() {
            return;
        }
        self.log.truncate(keep);
        self.emit(Command::Truncate { after: z }, late);
        self.commit = self.commit.min(keep);
        if self.applied > keep {
            self.sm = StateMachine::default();
            self.applied = 0;
        }
    }

    /// Commits through `z` (a zxid of the log) and applies.
    fn commit_through(&mut self, z: Zxid) {
        let n = self.count_through(z);
        if n > self.commit {
            self.commit = n;
        }
        self.apply_committed();
    }

    fn apply_committed(&mut self) {
        while self.applied < self.commit {
            let txn = self.log[self.applied].clone();
            self.applied += 1;
            let result = self.sm.apply(txn.zxid.as_u64(), &txn.payload);
            if self.role == Role::Leading {
                self.track_sessions(&txn);
            }
            if let Some(id) = self.pending.remove(&txn.zxid) {
                let r = result.unwrap_or(Err(RequestError::LeadershipLost));
                self.reply(id, r);
            }
            self.out.push(Command::Apply {
                seq: self.applied,
                txn,
            });
        }
        self.answer_syncs();
        self.serve_reads();
    }

    // ---- clients ----------------------------------------------------------------------

    fn not_leader(&self) -> RequestError {
        RequestError::NotLeader {
            leader: match self.role {
                Role::Following => self.leader.clone(),
                Role::Leading | Role::Looking => None,
            },
        }
    }

    fn leads(&self) -> bool {
        self.role == Role::Leading && self.phase == Phase::Broadcast
    }

    fn on_request(&mut self, id: RequestId, request: Request) {
        match request {
            Request::Read { key, level, after } => self.on_read(id, key, level, after),
            Request::Op(op) => {
                if !self.leads() {
                    let e = self.not_leader();
                    self.reply(id, Err(e));
                    return;
                }
                if let Some(client) = op.lock_client() {
                    self.touch_session(client);
                }
                let origin = Some((self.cfg.id.clone(), id));
                let zxid = self.propose(Payload::Op { origin, op });
                self.pending.insert(zxid, id);
                self.maybe_commit();
            }
        }
    }

    fn on_read(&mut self, id: RequestId, key: String, level: ReadLevel, after: u64) {
        if level == ReadLevel::Quorum && !self.leads() {
            let e = self.not_leader();
            self.reply(id, Err(e));
            return;
        }
        if !self.serving() {
            self.reply(id, Err(RequestError::NotServing));
            return;
        }
        let applied = self.applied_zxid().as_u64();
        // Bug::IgnoreClientZxid: a client that has seen more than this node applied is
        // served anyway, from an older state than it already read.
        if applied < after && !self.has(Bug::IgnoreClientZxid) {
            let e = RequestError::Behind {
                applied,
                wanted: after,
            };
            self.reply(id, Err(e));
            return;
        }
        let wait = match level {
            ReadLevel::Local => None,
            // Bug::StaleSync: no quorum round, no wait: the leader's own state is taken
            // as current (ZOOKEEPER-1675, and worse).
            _ if self.role == Role::Leading && self.has(Bug::StaleSync) => None,
            ReadLevel::Quorum => {
                let round = self.start_read_round();
                Some(ReadWait::Quorum {
                    round,
                    commit: self.commit,
                })
            }
            ReadLevel::Sync if self.role == Role::Leading => Some(ReadWait::Commit {
                zxid: self.last_zxid(),
            }),
            ReadLevel::Sync => {
                self.next_token += 1;
                let token = self.next_token;
                let leader = self
                    .leader
                    .clone()
                    .expect("a serving follower has a leader");
                self.send(leader, Body::SyncRequest { token });
                Some(ReadWait::Leader { token, zxid: None })
            }
        };
        match wait {
            None => self.answer_read(id, &key),
            Some(wait) => {
                self.reads.push(PendingRead { id, key, wait });
                self.serve_reads();
            }
        }
    }

    fn answer_read(&mut self, id: RequestId, key: &str) {
        let value = self.sm.get(key).map(str::to_string);
        let position = self.applied_zxid().as_u64();
        self.reply(id, Ok(Response::Value { value, position }));
    }

    fn serve_reads(&mut self) {
        if self.reads.is_empty() {
            return;
        }
        let reads = std::mem::take(&mut self.reads);
        for r in reads {
            let ready = match &r.wait {
                ReadWait::Quorum { round, commit } => {
                    self.read_round_confirmed(*round) && self.applied >= *commit
                }
                ReadWait::Commit { zxid } => self.applied_zxid() >= *zxid,
                ReadWait::Leader { zxid, .. } => zxid.is_some_and(|z| self.applied_zxid() >= z),
            };
            if ready {
                self.answer_read(r.id, &r.key);
            } else {
                self.reads.push(r);
            }
        }
    }

    /// Fails everything a node in a phase it is leaving still owes: writes may still
    /// commit under the next leader (indeterminate); reads had no effect (definite).
    fn fail_pending(&mut self) {
        for (_, id) in std::mem::take(&mut self.pending) {
            self.reply(id, Err(RequestError::LeadershipLost));
        }
        for r in std::mem::take(&mut self.reads) {
            self.reply(r.id, Err(RequestError::NotServing));
        }
    }
}

#[cfg(test)]
mod tests;
