//! A deterministic simulator for Raft cores: an in-memory network that delays, drops,
//! duplicates and partitions messages; crashes that keep exactly what was made durable;
//! clients issuing reads, writes, CAS and lock operations; and ghost state that checks the
//! safety properties after every step (Raft paper §5.2 Election Safety, §5.3 Log Matching,
//! §5.4 Leader Completeness and State Machine Safety), plus linearizable reads, no lost
//! acknowledged writes and lock mutual exclusion. Everything derives from one seed.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use targets::raft::state_machine::StateMachine;
use targets::raft::{
    Bug, BugSet, Command, Config, Entry, Event, HardState, Message, NodeId, Op, Payload, Raft,
    Request, RequestError, RequestId, Response, Role, Term,
};

/// Knobs of one simulated run.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub nodes: usize,
    pub bugs: Vec<Bug>,
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
    /// Entries per AppendEntries; `None` draws 1..=4 from the seed.
    pub max_append: Option<usize>,
}

impl SimConfig {
    pub fn new(nodes: usize, seed: u64, bugs: &[Bug]) -> SimConfig {
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
            max_append: None,
        }
    }

    /// Jepsen's kill nemesis turned up: frequent crashes, quick restarts.
    pub fn kill_heavy(mut self) -> SimConfig {
        self.crash_rate = 0.03;
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

impl std::fmt::Display for Violation {
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

const TICK_MS: u64 = 10;
const LOCK_TTL_TICKS: u64 = 150;
const KEYS: [&str; 2] = ["a", "b"];

#[derive(Default, Clone)]
struct Disk {
    hard: HardState,
    log: Vec<Entry>,
}

enum PendingKind {
    Read { key: String, ghost_len: usize },
    Write,
    Acquire { client: usize },
    Other,
}

struct Pending {
    kind: PendingKind,
    invoked: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LockClient {
    Idle,
    Waiting {
        req: RequestId,
        invoked: u64,
    },
    Holding {
        token: u64,
        until: u64,
        release_at: u64,
    },
}

/// Ghost state: the committed log as first learned by any node, and per-key history.
#[derive(Default)]
struct Ghost {
    committed: Vec<Entry>,
    /// Term of the leader that committed each entry (the first node to apply it: only a
    /// leader advances its commit index by counting, and it applies at once).
    commit_terms: Vec<Term>,
    sm: StateMachine,
    /// key -> [(ghost length after the write, value)], in log order.
    history: BTreeMap<String, Vec<(usize, Option<String>)>>,
    leaders: BTreeMap<Term, usize>,
}

pub struct Sim {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    now: u64,
    ids: Vec<NodeId>,
    configs: Vec<Config>,
    nodes: Vec<Option<Raft>>,
    paused: Vec<bool>,
    disks: Vec<Disk>,
    restarts: u64,
    net: BTreeMap<(u64, u64), Message>,
    msg_seq: u64,
    /// Side of each node in the current partition (None: no partition).
    sides: Option<Vec<bool>>,
    next_req: u64,
    pending: BTreeMap<(usize, RequestId), Pending>,
    next_value: u64,
    acked: BTreeSet<(NodeId, RequestId)>,
    locks: Vec<LockClient>,
    ghost: Ghost,
    stats: Stats,
}

type Checked<T> = Result<T, Violation>;

impl Sim {
    pub fn new(cfg: SimConfig) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let ids: Vec<NodeId> = (1..=cfg.nodes)
            .map(|i| NodeId::new(format!("n{i}")))
            .collect();
        let bugs: BugSet = cfg.bugs.iter().copied().collect();
        let max_append = cfg.max_append.unwrap_or_else(|| rng.gen_range(1..=4));
        let configs: Vec<Config> = ids
            .iter()
            .map(|id| Config {
                id: id.clone(),
                members: ids.clone(),
                election_ticks: (15, 30),
                heartbeat_ticks: 5,
                max_append_entries: max_append,
                tick_ms: TICK_MS,
                bugs: bugs.clone(),
                seed: rng.gen(),
            })
            .collect();
        let nodes = configs
            .iter()
            .map(|c| Some(Raft::new(c.clone(), HardState::default(), Vec::new())))
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
            disks: vec![Disk::default(); n],
            restarts: 0,
            net: BTreeMap::new(),
            msg_seq: 0,
            sides: None,
            next_req: 0,
            pending: BTreeMap::new(),
            next_value: 0,
            acked: BTreeSet::new(),
            locks: vec![LockClient::Idle; 3],
            ghost: Ghost::default(),
            stats: Stats::default(),
        }
    }

    fn violation(&self, property: &'static str, detail: String) -> Violation {
        Violation {
            seed: self.cfg.seed,
            tick: self.now,
            property,
            detail,
        }
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
            self.clients(faulty)?;
            if self.now.is_multiple_of(100) {
                self.check_log_matching()?;
            }
        }
        self.check_log_matching()?;
        self.final_checks()?;
        self.stats.committed = self.ghost.committed.len();
        Ok(self.stats)
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
        for i in 0..n {
            if self.nodes[i].is_none() && self.rng.gen_bool(self.cfg.restart_rate) {
                self.restart(i)?;
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
                // Restart cannot fail the leader-completeness check before it leads.
                let _ = self.restart(i);
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
        self.pending.retain(|(node, _), _| *node != i);
        let id = self.ids[i].clone();
        self.net.retain(|_, m| m.to != id);
    }

    fn restart(&mut self, i: usize) -> Checked<()> {
        self.restarts += 1;
        let mut cfg = self.configs[i].clone();
        cfg.seed = cfg.seed.wrapping_add(self.restarts);
        let disk = &self.disks[i];
        self.nodes[i] = Some(Raft::new(cfg, disk.hard.clone(), disk.log.clone()));
        Ok(())
    }

    fn some_leader(&self) -> Option<usize> {
        let leaders: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i]
                    .as_ref()
                    .is_some_and(|r| r.role() == Role::Leader)
            })
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

    fn send(&mut self, m: Message, faulty: bool) {
        let (from, to) = (self.index_of(&m.from), self.index_of(&m.to));
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
            self.msg_seq += 1;
            self.net.insert((self.now + delay, self.msg_seq), m.clone());
        }
    }

    fn deliver(&mut self, faulty: bool) -> Checked<()> {
        let mut held = Vec::new();
        while let Some(entry) = self.net.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let ((_, seq), m) = entry.remove_entry();
            let (from, to) = (self.index_of(&m.from), self.index_of(&m.to));
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

    fn step(&mut self, i: usize, event: Event, faulty: bool) -> Checked<()> {
        let node = self.nodes[i].as_mut().expect("stepping a live node");
        let was_leader = node.role() == Role::Leader;
        let trace = std::env::var_os("SIM_TRACE").is_some() && !matches!(event, Event::Tick);
        let shown = if trace {
            format!("{event:?}")
        } else {
            String::new()
        };
        let cmds = node.step(event);
        if trace {
            eprintln!(
                "t={} {} {:?} term={} commit={} last={} <- {shown}\n   -> {:?}",
                self.now,
                self.ids[i],
                node.role(),
                node.term(),
                node.commit_index(),
                node.last_index(),
                cmds.iter()
                    .filter(|c| !matches!(c, Command::Apply(_)))
                    .collect::<Vec<_>>()
            );
        }
        let (role, term) = (node.role(), node.term());
        for c in cmds {
            self.execute(i, term, c, faulty)?;
        }
        if role == Role::Leader {
            match self.ghost.leaders.get(&term) {
                Some(&other) if other != i => {
                    return Err(self.violation(
                        "election safety (§5.2)",
                        format!(
                            "{} and {} both lead term {term}",
                            self.ids[other], self.ids[i]
                        ),
                    ))
                }
                _ => {
                    self.ghost.leaders.insert(term, i);
                }
            }
            if !was_leader {
                self.stats.elections += 1;
                self.check_leader_completeness(i)?;
            }
        }
        Ok(())
    }

    fn execute(&mut self, i: usize, term: Term, c: Command, faulty: bool) -> Checked<()> {
        match c {
            Command::PersistHardState(h) => self.disks[i].hard = h,
            Command::Append(es) => {
                for e in es {
                    assert_eq!(
                        e.index,
                        self.disks[i].log.len() as u64 + 1,
                        "append in order"
                    );
                    self.disks[i].log.push(e);
                }
            }
            Command::Truncate { from } => self.disks[i].log.truncate(from as usize - 1),
            Command::Send(m) => self.send(m, faulty),
            Command::Apply(e) => self.on_apply(i, term, e)?,
            Command::Reply { id, result } => self.on_reply(i, id, result)?,
        }
        Ok(())
    }

    /// State Machine Safety (§5.4.3): every node applies the same entry at each index.
    fn on_apply(&mut self, i: usize, term: Term, e: Entry) -> Checked<()> {
        let idx = e.index as usize;
        if let Some(committed) = self.ghost.committed.get(idx - 1) {
            if *committed != e {
                return Err(self.violation(
                    "state machine safety (§5.4.3)",
                    format!(
                        "{} applied {e:?} at {idx}, but {committed:?} was committed there",
                        self.ids[i]
                    ),
                ));
            }
            return Ok(());
        }
        assert_eq!(idx, self.ghost.committed.len() + 1, "applies are in order");
        self.ghost.sm.apply(&e);
        self.ghost.committed.push(e.clone());
        self.ghost.commit_terms.push(term);
        if let Payload::Op {
            op: Op::Write { key, .. } | Op::Cas { key, .. },
            ..
        } = &e.payload
        {
            let value = self.ghost.sm.get(key).map(str::to_string);
            self.ghost
                .history
                .entry(key.clone())
                .or_default()
                .push((idx, value));
        }
        Ok(())
    }

    /// Leader Completeness (§5.4): a leader of term T holds every entry committed in a
    /// term before T. (A leader of an older term, e.g. one that was paused while its votes
    /// were in flight, may legitimately lack entries committed since.)
    fn check_leader_completeness(&self, i: usize) -> Checked<()> {
        let node = self.nodes[i].as_ref().expect("live");
        let log = node.log();
        let missing = (0..self.ghost.committed.len()).find(|&k| {
            self.ghost.commit_terms[k] < node.term() && log.get(k) != self.ghost.committed.get(k)
        });
        if let Some(first) = missing {
            return Err(self.violation(
                "leader completeness (§5.4)",
                format!(
                    "{} leads term {} without committed entry {}",
                    self.ids[i],
                    self.nodes[i].as_ref().expect("live").term(),
                    first + 1
                ),
            ));
        }
        Ok(())
    }

    /// Log Matching (§5.3): same index and term implies identical prefixes.
    fn check_log_matching(&self) -> Checked<()> {
        let logs: Vec<&[Entry]> = (0..self.nodes.len())
            .map(|i| match &self.nodes[i] {
                Some(r) => r.log(),
                None => &self.disks[i].log[..],
            })
            .collect();
        for a in 0..logs.len() {
            for b in a + 1..logs.len() {
                let (x, y) = (logs[a], logs[b]);
                let common = x.len().min(y.len());
                if let Some(k) = (0..common).rev().find(|&k| x[k].term == y[k].term) {
                    if x[..=k] != y[..=k] {
                        return Err(self.violation(
                            "log matching (§5.3)",
                            format!(
                                "{} and {} agree on the term at {} but not on the prefix",
                                self.ids[a],
                                self.ids[b],
                                k + 1
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    // ---- clients ----------------------------------------------------------------------

    fn clients(&mut self, faulty: bool) -> Checked<()> {
        let p = if faulty { 0.3 } else { 0.1 };
        if self.rng.gen_bool(p) {
            let req = match self.rng.gen_range(0..10) {
                0..=3 => {
                    let key = KEYS[self.rng.gen_range(0..KEYS.len())].to_string();
                    let kind = PendingKind::Read {
                        key: key.clone(),
                        ghost_len: self.ghost.committed.len(),
                    };
                    Some((Request::Read { key }, kind))
                }
                4..=7 => {
                    self.next_value += 1;
                    let key = KEYS[self.rng.gen_range(0..KEYS.len())].to_string();
                    let value = self.next_value.to_string();
                    Some((Request::Op(Op::Write { key, value }), PendingKind::Write))
                }
                _ => {
                    self.next_value += 1;
                    let key = KEYS[self.rng.gen_range(0..KEYS.len())].to_string();
                    let from = self.ghost.sm.get(&key).unwrap_or("0").to_string();
                    let to = self.next_value.to_string();
                    Some((Request::Op(Op::Cas { key, from, to }), PendingKind::Write))
                }
            };
            if let Some((request, kind)) = req {
                self.invoke(request, kind, faulty)?;
            }
        }
        self.lock_clients(faulty)
    }

    fn pick_node(&mut self) -> Option<usize> {
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some() && !self.paused[i])
            .collect();
        if live.is_empty() {
            return None;
        }
        let leaders: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&i| {
                self.nodes[i]
                    .as_ref()
                    .is_some_and(|r| r.role() == Role::Leader)
            })
            .collect();
        if !leaders.is_empty() && self.rng.gen_bool(0.8) {
            return Some(leaders[self.rng.gen_range(0..leaders.len())]);
        }
        Some(live[self.rng.gen_range(0..live.len())])
    }

    fn invoke(
        &mut self,
        request: Request,
        kind: PendingKind,
        faulty: bool,
    ) -> Checked<Option<RequestId>> {
        let Some(node) = self.pick_node() else {
            return Ok(None);
        };
        self.next_req += 1;
        let id = RequestId(self.next_req);
        self.pending.insert(
            (node, id),
            Pending {
                kind,
                invoked: self.now,
            },
        );
        self.step(node, Event::Request { id, request }, faulty)?;
        Ok(Some(id))
    }

    fn lock_clients(&mut self, faulty: bool) -> Checked<()> {
        for c in 0..self.locks.len() {
            match self.locks[c] {
                LockClient::Idle => {
                    if self.rng.gen_bool(0.05) {
                        let request = Request::Op(Op::Acquire {
                            name: "l".into(),
                            client: format!("c{c}"),
                            ttl_ms: LOCK_TTL_TICKS * TICK_MS,
                        });
                        let invoked = self.now;
                        if let Some(req) =
                            self.invoke(request, PendingKind::Acquire { client: c }, faulty)?
                        {
                            self.locks[c] = LockClient::Waiting { req, invoked };
                        }
                    }
                }
                LockClient::Waiting { invoked, .. } => {
                    if self.now > invoked + 100 {
                        self.locks[c] = LockClient::Idle; // gave up; any late grant is ignored
                    }
                }
                LockClient::Holding {
                    token,
                    until,
                    release_at,
                } => {
                    if self.now >= until {
                        self.locks[c] = LockClient::Idle; // the client-side lease ran out
                    } else if self.now >= release_at {
                        self.locks[c] = LockClient::Idle;
                        let request = Request::Op(Op::Release {
                            name: "l".into(),
                            client: format!("c{c}"),
                            token,
                        });
                        self.invoke(request, PendingKind::Other, faulty)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn on_reply(
        &mut self,
        i: usize,
        id: RequestId,
        result: Result<Response, RequestError>,
    ) -> Checked<()> {
        let Some(p) = self.pending.remove(&(i, id)) else {
            return Ok(());
        };
        match (p.kind, result) {
            (PendingKind::Read { key, ghost_len }, Ok(Response::Value(v))) => {
                self.stats.reads_ok += 1;
                self.check_read(i, &key, ghost_len, v)?;
            }
            (PendingKind::Write, Ok(Response::Written)) => {
                self.stats.writes_acked += 1;
                self.acked.insert((self.ids[i].clone(), id));
            }
            (PendingKind::Acquire { client }, Ok(Response::Granted { token })) => {
                self.on_grant(client, id, token, p.invoked)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// A read must return the value of some committed prefix between its invocation and
    /// its response (linearizability for a single register with reads).
    fn check_read(&self, i: usize, key: &str, ghost_len: usize, v: Option<String>) -> Checked<()> {
        let hist: &[(usize, Option<String>)] = self.ghost.history.get(key).map_or(&[], |h| &h[..]);
        let at_invoke = hist
            .iter()
            .rev()
            .find(|(idx, _)| *idx <= ghost_len)
            .and_then(|(_, v)| v.clone());
        let later = hist
            .iter()
            .filter(|(idx, _)| *idx > ghost_len)
            .map(|(_, v)| v);
        if at_invoke == v || later.into_iter().any(|x| *x == v) {
            return Ok(());
        }
        Err(self.violation(
            "linearizable read",
            format!(
                "{} read {key}={v:?}, but it was {at_invoke:?} when the read began and never {v:?} after",
                self.ids[i]
            ),
        ))
    }

    /// Mutual exclusion: no grant while another client still believes it holds the lock.
    fn on_grant(&mut self, client: usize, req: RequestId, token: u64, invoked: u64) -> Checked<()> {
        if self.locks[client] != (LockClient::Waiting { req, invoked }) {
            return Ok(());
        }
        self.stats.grants += 1;
        for (other, state) in self.locks.iter().enumerate() {
            if let LockClient::Holding {
                token: t, until, ..
            } = state
            {
                if other != client && *until > self.now {
                    return Err(self.violation(
                        "lock mutual exclusion",
                        format!("c{client} granted token {token} while c{other} holds token {t} until tick {until}"),
                    ));
                }
            }
        }
        let hold = self.rng.gen_range(10..200);
        self.locks[client] = LockClient::Holding {
            token,
            until: invoked + LOCK_TTL_TICKS,
            release_at: self.now + hold,
        };
        Ok(())
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
            .filter_map(|e| match &e.payload {
                Payload::Op {
                    origin: Some(o), ..
                } => Some(o.clone()),
                _ => None,
            })
            .collect();
        if let Some((node, req)) = self.acked.iter().find(|o| !committed.contains(o)) {
            return Err(self.violation(
                "acknowledged writes are durable",
                format!("write {req:?} acknowledged by {node} is not in the committed log"),
            ));
        }
        Ok(())
    }
}

/// Runs seeds `range` and returns the first violation, if any.
pub fn first_violation(
    seeds: std::ops::Range<u64>,
    config: impl Fn(u64) -> SimConfig,
) -> Option<Violation> {
    for seed in seeds {
        if let Err(v) = Sim::new(config(seed)).run() {
            return Some(v);
        }
    }
    None
}
