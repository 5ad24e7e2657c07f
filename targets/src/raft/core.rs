//! The sans-I/O Raft core: `step(Event) -> Vec<Command>`.
//!
//! Everything the algorithm decides happens here; nothing here touches a clock, a socket
//! or a file. Time is [`Event::Tick`], randomness is a ChaCha RNG seeded from the config,
//! and every effect is a [`Command`] the runtime (or a test) executes in order. Section
//! numbers refer to Ongaro & Ousterhout, "In Search of an Understandable Consensus
//! Algorithm (Extended Version)", 2014; ReadIndex is §6.4 of Ongaro's thesis.
//!
//! Invariants the runtime must keep: storage commands of one `step` output are durable
//! before any `Send` or `Reply` of that output is acted on; the log and hard state handed
//! to [`Raft::new`] are exactly what earlier storage commands made durable.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::bug::{Bug, BugSet};
use super::entry::{Entry, Op, Payload};
use super::io::{Command, Event, Request, RequestError, Response};
use super::message::{Body, Message};
use super::types::{HardState, LogIndex, NodeId, RequestId, Role, Term};
use crate::bundled::state_machine::StateMachine;

/// Static configuration of one core. Times are in ticks.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: NodeId,
    /// Every member of the cluster, including `id`.
    pub members: Vec<NodeId>,
    /// Election timeouts are drawn uniformly from `[min, max)` ticks (§5.2).
    pub election_ticks: (u64, u64),
    pub heartbeat_ticks: u64,
    /// Upper bound on entries in one AppendEntries message.
    pub max_append_entries: usize,
    /// Length of one tick in milliseconds; converts lock TTLs to ticks.
    pub tick_ms: u64,
    pub bugs: BugSet,
    pub seed: u64,
}

/// Replication state the leader keeps per follower (Figure 2, "Volatile state on leaders").
#[derive(Clone, Debug)]
struct Progress {
    next: LogIndex,
    matched: LogIndex,
    /// Highest ReadIndex round this follower acknowledged in the current term.
    read_round: u64,
    /// Heard from since the last check-quorum round.
    active: bool,
}

#[derive(Clone, Debug)]
struct PendingRead {
    id: RequestId,
    key: String,
    round: u64,
    /// The commit index at which the read is served; set once the leader has committed an
    /// entry of its own term (§8).
    index: Option<LogIndex>,
}

/// The leader's local deadline for a held lock, in ticks of its own clock.
#[derive(Clone, Debug)]
struct Lease {
    token: LogIndex,
    deadline: u64,
    expire_proposed: bool,
}

/// One Raft node's complete protocol state.
pub struct Raft {
    cfg: Config,
    rng: ChaCha8Rng,
    hard: HardState,
    log: Vec<Entry>,
    commit: LogIndex,
    applied: LogIndex,
    role: Role,
    leader: Option<NodeId>,
    now: u64,
    election_elapsed: u64,
    election_timeout: u64,
    heartbeat_elapsed: u64,
    votes: BTreeSet<NodeId>,
    /// Peers that answered this candidacy's RequestVote (granted or not).
    answered: BTreeSet<NodeId>,
    progress: BTreeMap<NodeId, Progress>,
    pending: BTreeMap<LogIndex, (Term, RequestId)>,
    reads: Vec<PendingRead>,
    read_round: u64,
    sm: StateMachine,
    leases: BTreeMap<String, Lease>,
    out: Vec<Command>,
}

impl Raft {
    /// Restores a node from its durable state (empty for a fresh node). It starts as a
    /// follower with nothing known committed; the state machine is rebuilt by re-applying
    /// entries as the commit index is learned again.
    pub fn new(cfg: Config, hard: HardState, log: Vec<Entry>) -> Raft {
        assert!(cfg.members.contains(&cfg.id), "members must include self");
        assert!(
            cfg.election_ticks.0 > 0 && cfg.election_ticks.0 < cfg.election_ticks.1,
            "election tick range must be non-empty"
        );
        for (i, e) in log.iter().enumerate() {
            assert_eq!(e.index, i as u64 + 1, "log must be contiguous from 1");
        }
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut raft = Raft {
            cfg,
            rng,
            hard,
            log,
            commit: 0,
            applied: 0,
            role: Role::Follower,
            leader: None,
            now: 0,
            election_elapsed: 0,
            election_timeout: 0,
            heartbeat_elapsed: 0,
            votes: BTreeSet::new(),
            answered: BTreeSet::new(),
            progress: BTreeMap::new(),
            pending: BTreeMap::new(),
            reads: Vec::new(),
            read_round: 0,
            sm: StateMachine::default(),
            leases: BTreeMap::new(),
            out: Vec::new(),
        };
        raft.reset_election_timer();
        raft
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
    pub fn term(&self) -> Term {
        self.hard.term
    }
    pub fn hard_state(&self) -> &HardState {
        &self.hard
    }
    pub fn leader(&self) -> Option<&NodeId> {
        self.leader.as_ref()
    }
    pub fn commit_index(&self) -> LogIndex {
        self.commit
    }
    pub fn last_applied(&self) -> LogIndex {
        self.applied
    }
    pub fn last_index(&self) -> LogIndex {
        self.log.len() as LogIndex
    }
    pub fn log(&self) -> &[Entry] {
        &self.log
    }
    pub fn state_machine(&self) -> &StateMachine {
        &self.sm
    }

    fn has(&self, bug: Bug) -> bool {
        self.cfg.bugs.has(bug)
    }

    fn majority(&self) -> usize {
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

    fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.log.get(index as usize - 1).map(|e| e.term)
    }

    fn last_term(&self) -> Term {
        self.log.last().map_or(0, |e| e.term)
    }

    fn ttl_ticks(&self, ttl_ms: u64) -> u64 {
        ttl_ms.div_ceil(self.cfg.tick_ms.max(1)).max(1)
    }

    fn reset_election_timer(&mut self) {
        let (lo, hi) = self.cfg.election_ticks;
        self.election_elapsed = 0;
        self.election_timeout = self.rng.gen_range(lo..hi);
    }

    fn persist_hard_state(&mut self) {
        let mut hard = self.hard.clone();
        if self.has(Bug::ForgetVote) {
            hard.voted_for = None;
        }
        self.out.push(Command::PersistHardState(hard));
    }

    fn send(&mut self, to: NodeId, body: Body) {
        let from = self.cfg.id.clone();
        let term = self.hard.term;
        self.out.push(Command::Send(Message {
            from,
            to,
            term,
            body,
        }));
    }

    fn reply(&mut self, id: RequestId, result: Result<Response, RequestError>) {
        self.out.push(Command::Reply { id, result });
    }

    // ---- time -------------------------------------------------------------------------

    fn tick(&mut self) {
        self.now += 1;
        if self.role != Role::Leader {
            self.election_elapsed += 1;
            if self.election_elapsed >= self.election_timeout {
                self.campaign();
            } else if self.role == Role::Candidate {
                // §5.1: RPCs are retried when no answer arrives in time.
                self.heartbeat_elapsed += 1;
                if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
                    self.heartbeat_elapsed = 0;
                    self.request_votes();
                }
            }
            return;
        }
        self.heartbeat_elapsed += 1;
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.broadcast_append();
        }
        // Check quorum: a leader that has not heard from a majority for an election
        // timeout steps down, so clients get a definite "not leader" rather than hanging.
        self.election_elapsed += 1;
        if self.election_elapsed >= self.cfg.election_ticks.0 {
            self.election_elapsed = 0;
            let active = 1 + self.progress.values().filter(|p| p.active).count();
            // Bug::StaleRead: a leader that never confirms its leadership with a quorum
            // (as etcd and Consul did in 2014) keeps serving after it was cut off.
            if active < self.majority() && !self.has(Bug::StaleRead) {
                let term = self.hard.term;
                self.become_follower(term, None);
                return;
            }
            for p in self.progress.values_mut() {
                p.active = false;
            }
        }
        self.expire_leases();
    }

    fn expire_leases(&mut self) {
        let now = self.now;
        let due: Vec<(String, LogIndex)> = self
            .leases
            .iter_mut()
            .filter(|(_, l)| !l.expire_proposed && l.deadline <= now)
            .map(|(name, l)| {
                l.expire_proposed = true;
                (name.clone(), l.token)
            })
            .collect();
        if due.is_empty() {
            return;
        }
        for (name, token) in due {
            self.append_local(Payload::Expire { name, token });
        }
        self.broadcast_append();
        self.maybe_commit();
    }

    // ---- elections (§5.2) -------------------------------------------------------------

    fn campaign(&mut self) {
        self.role = Role::Candidate;
        self.hard.term += 1;
        self.hard.voted_for = Some(self.cfg.id.clone());
        self.leader = None;
        self.votes = BTreeSet::from([self.cfg.id.clone()]);
        self.answered.clear();
        self.heartbeat_elapsed = 0;
        self.reset_election_timer();
        self.persist_hard_state();
        if self.votes.len() >= self.majority() {
            self.become_leader();
            return;
        }
        self.request_votes();
    }

    fn request_votes(&mut self) {
        let (last_log_index, last_log_term) = (self.last_index(), self.last_term());
        let silent: Vec<NodeId> = self
            .peers()
            .into_iter()
            .filter(|p| !self.answered.contains(p))
            .collect();
        for peer in silent {
            self.send(
                peer,
                Body::RequestVote {
                    last_log_index,
                    last_log_term,
                },
            );
        }
    }

    fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if term > self.hard.term {
            self.hard.term = term;
            self.hard.voted_for = None;
            self.persist_hard_state();
        }
        if self.role == Role::Leader {
            for (_, (_, id)) in std::mem::take(&mut self.pending) {
                self.reply(id, Err(RequestError::LeadershipLost));
            }
            for r in std::mem::take(&mut self.reads) {
                self.reply(r.id, Err(RequestError::LeadershipLost));
            }
            self.leases.clear();
            self.progress.clear();
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.reset_election_timer();
    }

    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id.clone());
        self.heartbeat_elapsed = 0;
        self.election_elapsed = 0;
        let next = self.last_index() + 1;
        self.progress = self
            .peers()
            .into_iter()
            .map(|p| {
                let progress = Progress {
                    next,
                    matched: 0,
                    read_round: 0,
                    active: true,
                };
                (p, progress)
            })
            .collect();
        // Inherited locks get a fresh lease measured on this leader's clock: it cannot know
        // how much of the old leader's lease has passed, so it waits a whole TTL.
        let held: Vec<(String, LogIndex, u64)> = self
            .sm
            .locks()
            .map(|(name, l)| (name.clone(), l.token, l.ttl_ms))
            .collect();
        for (name, token, ttl_ms) in held {
            let deadline = if self.has(Bug::LockNoLeaseCheck) {
                self.now
            } else {
                self.now + self.ttl_ticks(ttl_ms)
            };
            let lease = Lease {
                token,
                deadline,
                expire_proposed: false,
            };
            self.leases.insert(name, lease);
        }
        // A no-op of the new term lets the leader commit (and so serve reads) promptly (§8).
        self.append_local(Payload::Noop);
        self.broadcast_append();
        self.maybe_commit();
    }

    fn on_request_vote(&mut self, from: NodeId, last_log_index: LogIndex, last_log_term: Term) {
        // §5.4.1: vote only for a candidate whose log is at least as up-to-date as ours.
        let up_to_date = last_log_term > self.last_term()
            || (last_log_term == self.last_term() && last_log_index >= self.last_index());
        let free = match &self.hard.voted_for {
            None => true,
            Some(v) => *v == from,
        };
        let granted = up_to_date && free;
        if granted {
            self.hard.voted_for = Some(from.clone());
            self.persist_hard_state();
            self.reset_election_timer();
        }
        self.send(from, Body::RequestVoteResponse { granted });
    }

    fn on_vote_response(&mut self, from: NodeId, granted: bool) {
        if self.role != Role::Candidate {
            return;
        }
        self.answered.insert(from.clone());
        if granted || self.has(Bug::CountRejectedVotes) {
            self.votes.insert(from);
        }
        if self.votes.len() >= self.majority() {
            self.become_leader();
        }
    }

    // ---- messages ---------------------------------------------------------------------

    fn on_message(&mut self, m: Message) {
        if m.to != self.cfg.id || !self.cfg.members.contains(&m.from) {
            return;
        }
        // §5.1: a higher term makes us a follower of that term.
        if m.term > self.hard.term {
            let leader = match m.body {
                Body::AppendEntries { .. } => Some(m.from.clone()),
                _ => None,
            };
            self.become_follower(m.term, leader);
        }
        if m.term < self.hard.term {
            // Stale sender: answer so it learns our term; drop stale responses.
            match m.body {
                Body::RequestVote { .. } => {
                    self.send(m.from, Body::RequestVoteResponse { granted: false })
                }
                Body::AppendEntries { read_round, .. } => self.send(
                    m.from,
                    Body::AppendEntriesResponse {
                        success: false,
                        match_index: 0,
                        retry_from: 0,
                        read_round,
                    },
                ),
                _ => {}
            }
            return;
        }
        match m.body {
            Body::RequestVote {
                last_log_index,
                last_log_term,
            } => self.on_request_vote(m.from, last_log_index, last_log_term),
            Body::RequestVoteResponse { granted } => self.on_vote_response(m.from, granted),
            Body::AppendEntries {
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                read_round,
            } => self.on_append(
                m.from,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                read_round,
            ),
            Body::AppendEntriesResponse {
                success,
                match_index,
                retry_from,
                read_round,
            } => self.on_append_response(m.from, success, match_index, retry_from, read_round),
        }
    }

    // ---- replication (§5.3) -----------------------------------------------------------

    fn append_local(&mut self, payload: Payload) -> LogIndex {
        let entry = Entry {
            term: self.hard.term,
            index: self.last_index() + 1,
            payload,
        };
        self.log.push(entry.clone());
        self.out.push(Command::Append(vec![entry]));
        self.last_index()
    }

    fn broadcast_append(&mut self) {
        for peer in self.peers() {
            self.send_append(peer);
        }
    }

    fn send_append(&mut self, peer: NodeId) {
        let Some(p) = self.progress.get_mut(&peer) else {
            return;
        };
        let next = p.next;
        let prev_log_index = next - 1;
        let end = (self.log.len()).min(prev_log_index as usize + self.cfg.max_append_entries);
        let entries: Vec<Entry> = self.log[prev_log_index as usize..end].to_vec();
        // Optimistic pipelining: assume delivery; a rejection rewinds `next`.
        p.next = next + entries.len() as u64;
        let prev_log_term = self.term_at(prev_log_index).expect("next <= last + 1");
        let body = Body::AppendEntries {
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit,
            read_round: self.read_round,
        };
        self.send(peer, body);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        from: NodeId,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: LogIndex,
        read_round: u64,
    ) {
        // Same term: `from` is the leader of this term (§5.2); candidates step down.
        if self.role != Role::Follower {
            let term = self.hard.term;
            self.become_follower(term, Some(from.clone()));
        }
        self.leader = Some(from.clone());
        self.election_elapsed = 0;

        let reject = |retry_from| Body::AppendEntriesResponse {
            success: false,
            match_index: 0,
            retry_from,
            read_round,
        };
        match self.term_at(prev_log_index) {
            None => {
                // Our log is too short: retry from just past our end.
                let body = reject(self.last_index() + 1);
                self.send(from, body);
                return;
            }
            Some(t) if t != prev_log_term => {
                // Consistency check failed (§5.3): skip back over the conflicting term,
                // never below what we know is committed (it matches the leader's log).
                let mut retry = prev_log_index;
                while retry > self.commit + 1 && self.term_at(retry - 1) == Some(t) {
                    retry -= 1;
                }
                let body = reject(retry.max(1));
                self.send(from, body);
                return;
            }
            Some(_) => {}
        }
        let match_index = prev_log_index + entries.len() as u64;
        let mut new_from = None;
        for (i, e) in entries.iter().enumerate() {
            match self.term_at(e.index) {
                Some(t) if t == e.term => continue,
                Some(_) => {
                    // Conflict: delete the existing entry and all that follow (§5.3).
                    self.log.truncate(e.index as usize - 1);
                    self.out.push(Command::Truncate { from: e.index });
                    if self.commit >= e.index {
                        // Only reachable when a planted bug let a leader commit wrongly.
                        self.commit = e.index - 1;
                    }
                    new_from = Some(i);
                    break;
                }
                None => {
                    new_from = Some(i);
                    break;
                }
            }
        }
        if let Some(i) = new_from {
            let fresh: Vec<Entry> = entries[i..].to_vec();
            self.log.extend(fresh.iter().cloned());
            self.out.push(Command::Append(fresh));
        }
        if leader_commit > self.commit {
            // Figure 2: commitIndex = min(leaderCommit, index of last new entry).
            self.commit = self.commit.max(leader_commit.min(match_index));
            self.apply_committed();
        }
        let body = Body::AppendEntriesResponse {
            success: true,
            match_index,
            retry_from: 0,
            read_round,
        };
        self.send(from, body);
    }

    fn on_append_response(
        &mut self,
        from: NodeId,
        success: bool,
        match_index: LogIndex,
        retry_from: LogIndex,
        read_round: u64,
    ) {
        if self.role != Role::Leader {
            return;
        }
        let last = self.last_index();
        let Some(p) = self.progress.get_mut(&from) else {
            return;
        };
        p.active = true;
        p.read_round = p.read_round.max(read_round);
        if success {
            p.matched = p.matched.max(match_index);
            p.next = p.next.max(p.matched + 1);
            let behind = p.next <= last;
            self.maybe_commit();
            if behind && self.role == Role::Leader {
                self.send_append(from);
            }
        } else {
            p.next = retry_from.max(p.matched + 1).min(last + 1);
            self.send_append(from);
        }
        self.serve_reads();
    }

    /// §5.3/§5.4.2: commit the highest index stored on a majority, but only by counting
    /// replicas of an entry from the current term.
    fn maybe_commit(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let mut matched: Vec<LogIndex> = self.progress.values().map(|p| p.matched).collect();
        matched.push(self.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let n = matched[self.majority() - 1];
        if n <= self.commit {
            return;
        }
        let of_current_term = self.term_at(n) == Some(self.hard.term);
        if of_current_term || self.has(Bug::CommitOldTerm) {
            self.commit = n;
            self.apply_committed();
        }
    }

    fn apply_committed(&mut self) {
        while self.applied < self.commit.min(self.last_index()) {
            self.applied += 1;
            let entry = self.log[self.applied as usize - 1].clone();
            let result = if self.has(Bug::TxnReadUncommitted) && self.role == Role::Leader {
                // Bug::TxnReadUncommitted: a transaction's reads also see the appends of
                // the entries behind it that are not committed yet.
                let pending: Vec<&Payload> = self.log[self.commit as usize..]
                    .iter()
                    .map(|e| &e.payload)
                    .collect();
                self.sm.apply_seeing(entry.index, &entry.payload, &pending)
            } else {
                self.sm.apply(entry.index, &entry.payload)
            };
            if self.role == Role::Leader {
                self.track_leases(&entry, &result);
            }
            if let Some((term, id)) = self.pending.remove(&entry.index) {
                match result {
                    Some(r) if term == entry.term => self.reply(id, r),
                    _ => self.reply(id, Err(RequestError::LeadershipLost)),
                }
            }
            self.out.push(Command::Apply(entry));
        }
        self.serve_reads();
    }

    fn track_leases(&mut self, entry: &Entry, result: &Option<Result<Response, RequestError>>) {
        if let (
            Payload::Op {
                op: Op::Acquire { name, ttl_ms, .. },
                ..
            },
            Some(Ok(Response::Granted { token })),
        ) = (&entry.payload, result)
        {
            let lease = Lease {
                token: *token,
                deadline: self.now + self.ttl_ticks(*ttl_ms),
                expire_proposed: false,
            };
            self.leases.insert(name.clone(), lease);
        }
        let sm = &self.sm;
        self.leases
            .retain(|name, l| sm.lock(name).is_some_and(|held| held.token == l.token));
    }

    // ---- clients ----------------------------------------------------------------------

    fn on_request(&mut self, id: RequestId, request: Request) {
        if self.role != Role::Leader {
            let leader = self.leader.clone();
            self.reply(id, Err(RequestError::NotLeader { leader }));
            return;
        }
        match request {
            Request::Read { key, .. } => {
                if self.has(Bug::StaleRead) {
                    let value = self.sm.get(&key).map(str::to_string);
                    let position = self.applied;
                    self.reply(id, Ok(Response::Value { value, position }));
                    return;
                }
                // ReadIndex: a fresh round of heartbeats must be acknowledged by a majority
                // after the read arrived, and the state machine must reach the read index.
                self.read_round += 1;
                let round = self.read_round;
                self.reads.push(PendingRead {
                    id,
                    key,
                    round,
                    index: None,
                });
                self.broadcast_append();
                self.serve_reads();
            }
            Request::Op(op) => {
                let acked_early = self.has(Bug::AckBeforeCommit) && matches!(op, Op::Write { .. });
                let origin = Some((self.cfg.id.clone(), id));
                let index = self.append_local(Payload::Op { origin, op });
                if acked_early {
                    self.reply(id, Ok(Response::Written));
                } else {
                    self.pending.insert(index, (self.hard.term, id));
                }
                self.broadcast_append();
                self.maybe_commit();
            }
        }
    }

    fn serve_reads(&mut self) {
        if self.role != Role::Leader || self.reads.is_empty() {
            return;
        }
        if self.term_at(self.commit) == Some(self.hard.term) {
            for r in self.reads.iter_mut().filter(|r| r.index.is_none()) {
                r.index = Some(self.commit);
            }
        }
        let majority = self.majority();
        let mut done = Vec::new();
        self.reads.retain(|r| {
            let acks = 1 + self
                .progress
                .values()
                .filter(|p| p.read_round >= r.round)
                .count();
            let ready = acks >= majority && r.index.is_some_and(|i| self.applied >= i);
            if ready {
                done.push((r.id, self.sm.get(&r.key).map(str::to_string)));
            }
            !ready
        });
        let position = self.applied;
        for (id, value) in done {
            self.reply(id, Ok(Response::Value { value, position }));
        }
    }
}

#[cfg(test)]
mod tests;
