//! The simulated clients (reads, writes, CAS, lock holders) and the checks on what they
//! are told.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;

use super::engine::{Checked, Sim};
use super::Protocol;
use crate::bundled::event::Event;
use crate::bundled::op::Op;
use crate::bundled::request::{ReadLevel, Request, RequestError, Response};
use crate::bundled::types::{NodeId, Position, RequestId};

use super::TICK_MS;

const LOCK_TTL_TICKS: u64 = 150;
const KEYS: [&str; 2] = ["a", "b"];
/// Clients that read with a session (their newest position seen), when a protocol reads
/// at several levels.
const READERS: usize = 3;

pub(super) enum PendingKind {
    Read {
        key: String,
        ghost_len: usize,
        level: ReadLevel,
        reader: Option<usize>,
    },
    Write,
    Acquire {
        client: usize,
    },
    Other,
}

pub(super) struct Pending {
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

/// Client-side state of a run.
pub(super) struct Clients {
    next_req: u64,
    pending: BTreeMap<(usize, RequestId), Pending>,
    next_value: u64,
    pub(super) acked: BTreeSet<(NodeId, RequestId)>,
    locks: Vec<LockClient>,
    /// Newest position each reader has seen, and its read in flight (request, invoked):
    /// a reader's reads are sequential, as one client's are.
    seen: Vec<Position>,
    reading: Vec<Option<(RequestId, u64)>>,
}

impl Clients {
    pub(super) fn new() -> Clients {
        Clients {
            next_req: 0,
            pending: BTreeMap::new(),
            next_value: 0,
            acked: BTreeSet::new(),
            locks: vec![LockClient::Idle; 3],
            seen: vec![0; READERS],
            reading: vec![None; READERS],
        }
    }

    /// A crashed node never answers what it was asked.
    pub(super) fn forget_node(&mut self, i: usize) {
        self.pending.retain(|(node, _), _| *node != i);
    }
}

impl<P: Protocol> Sim<P> {
    pub(super) fn run_clients(&mut self, faulty: bool) -> Checked<()> {
        let p = if faulty { 0.3 } else { 0.1 };
        if self.rng.gen_bool(p) {
            let req = match self.rng.gen_range(0..10) {
                0..=3 => {
                    let key = KEYS[self.rng.gen_range(0..KEYS.len())].to_string();
                    let (level, reader) = match P::READ_LEVELS {
                        [only] => (*only, None),
                        levels => {
                            let level = levels[self.rng.gen_range(0..levels.len())];
                            let r = self.rng.gen_range(0..READERS);
                            // A reader still waiting reads no more (a read it gave up on
                            // after 100 ticks is forgotten); this read is sessionless.
                            let idle = match self.clients.reading[r] {
                                Some((_, invoked)) => self.now > invoked + 100,
                                None => true,
                            };
                            (level, idle.then_some(r))
                        }
                    };
                    let after = reader.map_or(0, |r| self.clients.seen[r]);
                    let kind = PendingKind::Read {
                        key: key.clone(),
                        ghost_len: self.ghost.committed.len(),
                        level,
                        reader,
                    };
                    Some((Request::Read { key, level, after }, kind))
                }
                4..=7 => {
                    self.clients.next_value += 1;
                    let key = KEYS[self.rng.gen_range(0..KEYS.len())].to_string();
                    let value = self.clients.next_value.to_string();
                    Some((Request::Op(Op::Write { key, value }), PendingKind::Write))
                }
                _ => {
                    self.clients.next_value += 1;
                    let key = KEYS[self.rng.gen_range(0..KEYS.len())].to_string();
                    let from = self.ghost_sm.get(&key).unwrap_or("0").to_string();
                    let to = self.clients.next_value.to_string();
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
            .filter(|&i| self.is_leader(i))
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
        self.clients.next_req += 1;
        let id = RequestId(self.clients.next_req);
        // The reader is reading from now on, before the node steps: a read answered at
        // once (a local read) is checked for its session like any other.
        if let PendingKind::Read {
            reader: Some(r), ..
        } = &kind
        {
            self.clients.reading[*r] = Some((id, self.now));
        }
        self.clients.pending.insert(
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
        for c in 0..self.clients.locks.len() {
            match self.clients.locks[c] {
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
                            self.clients.locks[c] = LockClient::Waiting { req, invoked };
                        }
                    }
                }
                LockClient::Waiting { invoked, .. } => {
                    if self.now > invoked + 100 {
                        self.clients.locks[c] = LockClient::Idle; // gave up; any late grant is ignored
                    }
                }
                LockClient::Holding {
                    token,
                    until,
                    release_at,
                } => {
                    if self.now >= until {
                        self.clients.locks[c] = LockClient::Idle; // the client-side lease ran out
                    } else if self.now >= release_at {
                        self.clients.locks[c] = LockClient::Idle;
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

    pub(super) fn on_reply(
        &mut self,
        i: usize,
        id: RequestId,
        result: Result<Response, RequestError>,
    ) -> Checked<()> {
        let Some(p) = self.clients.pending.remove(&(i, id)) else {
            return Ok(());
        };
        // The reader whose read this answers (any answer ends the read).
        let mut session = None;
        if let PendingKind::Read {
            reader: Some(r), ..
        } = p.kind
        {
            if self.clients.reading[r].is_some_and(|(req, _)| req == id) {
                self.clients.reading[r] = None;
                session = Some(r);
            }
        }
        match (p.kind, result) {
            (
                PendingKind::Read {
                    key,
                    ghost_len,
                    level,
                    ..
                },
                Ok(Response::Value { value, position }),
            ) => {
                self.stats.reads_ok += 1;
                match level {
                    ReadLevel::Quorum => self.check_read(i, &key, ghost_len, value)?,
                    ReadLevel::Sync | ReadLevel::Local => {
                        self.check_prefix_read(i, &key, &value, position)?
                    }
                }
                if let Some(r) = session {
                    self.check_session_order(i, r, level, position)?;
                }
            }
            (PendingKind::Write, Ok(Response::Written)) => {
                self.stats.writes_acked += 1;
                self.clients.acked.insert((self.ids[i].clone(), id));
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
        let hist: &[(usize, Option<String>)] = self.history.get(key).map_or(&[], |h| &h[..]);
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

    /// A read at `position` must return the key's value after the committed entries up
    /// to and including `position` (a committed prefix, if not the newest one).
    fn check_prefix_read(
        &self,
        i: usize,
        key: &str,
        v: &Option<String>,
        position: Position,
    ) -> Checked<()> {
        let upto = if position == 0 {
            0
        } else {
            match self.ghost.positions.binary_search(&position) {
                Ok(k) => k + 1,
                Err(_) => {
                    return Err(self.violation(
                        "reads see a committed prefix",
                        format!(
                            "{} read {key} at position {position}, which was never committed",
                            self.ids[i]
                        ),
                    ))
                }
            }
        };
        let hist: &[(usize, Option<String>)] = self.history.get(key).map_or(&[], |h| &h[..]);
        let expected = hist
            .iter()
            .rev()
            .find(|(idx, _)| *idx <= upto)
            .and_then(|(_, v)| v.clone());
        if expected == *v {
            return Ok(());
        }
        Err(self.violation(
            "reads see a committed prefix",
            format!(
                "{} read {key}={v:?} at position {position}, where the committed value is {expected:?}",
                self.ids[i]
            ),
        ))
    }

    /// Sequential consistency per client: what one client reads never goes back.
    fn check_session_order(
        &mut self,
        i: usize,
        reader: usize,
        level: ReadLevel,
        position: Position,
    ) -> Checked<()> {
        let seen = self.clients.seen[reader];
        if position < seen {
            return Err(self.violation(
                "sequential consistency (a client's reads never go back)",
                format!(
                    "reader {reader} had seen position {seen}, then {} answered a {level} read at {position}",
                    self.ids[i]
                ),
            ));
        }
        self.clients.seen[reader] = position;
        Ok(())
    }

    /// Mutual exclusion: no grant while another client still believes it holds the lock.
    fn on_grant(&mut self, client: usize, req: RequestId, token: u64, invoked: u64) -> Checked<()> {
        if self.clients.locks[client] != (LockClient::Waiting { req, invoked }) {
            return Ok(());
        }
        self.stats.grants += 1;
        for (other, state) in self.clients.locks.iter().enumerate() {
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
        self.clients.locks[client] = LockClient::Holding {
            token,
            until: invoked + LOCK_TTL_TICKS,
            release_at: self.now + hold,
        };
        Ok(())
    }
}
