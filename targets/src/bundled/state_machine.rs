//! The replicated state machine of both bundled protocols: a key-value register map,
//! append-only lists of integers changed by transactions, named locks with fencing
//! tokens, and the client sessions that hold them.
//!
//! Pure and deterministic: replicas that apply the same committed sequence hold the same
//! state (Raft's State Machine Safety, Zab's agreement). Time never enters. A lock is
//! freed in one of two ways, both decided by a leader and replicated as entries:
//! * Raft: [`Payload::Expire`] ends one lock's lease;
//! * Zab: [`Payload::CloseSession`] ends a client's session and frees every lock it
//!   holds, as ZooKeeper deletes a dead session's ephemeral znodes.
//!
//! A lock's fencing token is the position of its grant (Raft index, Zab zxid), so tokens
//! strictly increase per lock.
//!
//! A transaction ([`Op::Txn`]) runs all its micro-ops when its entry applies, so
//! transactions are as serializable as the log is ordered; their reads are answered from
//! the lists as of that moment and never change the state.

use std::collections::BTreeMap;

use super::op::{Op, Payload, TxnOp};
use super::request::{RequestError, Response};
use super::types::Position;

/// A held lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub client: String,
    /// Fencing token: the position of the grant.
    pub token: Position,
    pub ttl_ms: u64,
}

/// A client session: opened by the client's first granted lock, kept alive by its
/// requests, ended only by a [`Payload::CloseSession`] naming this `id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Position of the entry that opened the session.
    pub id: Position,
    /// How long the session lives without a heartbeat: the ttl of the client's latest
    /// granted acquire.
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateMachine {
    kv: BTreeMap<String, String>,
    lists: BTreeMap<String, Vec<i64>>,
    locks: BTreeMap<String, Lock>,
    sessions: BTreeMap<String, Session>,
}

impl StateMachine {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.kv.get(key).map(String::as_str)
    }

    /// The list at `key` (empty when nothing was ever appended to it).
    pub fn list(&self, key: &str) -> &[i64] {
        self.lists.get(key).map_or(&[], Vec::as_slice)
    }

    pub fn lock(&self, name: &str) -> Option<&Lock> {
        self.locks.get(name)
    }

    pub fn locks(&self) -> impl Iterator<Item = (&String, &Lock)> {
        self.locks.iter()
    }

    pub fn session(&self, client: &str) -> Option<&Session> {
        self.sessions.get(client)
    }

    pub fn sessions(&self) -> impl Iterator<Item = (&String, &Session)> {
        self.sessions.iter()
    }

    /// Applies one committed entry at `position` and returns the answer owed to its
    /// proposer (if any).
    pub fn apply(
        &mut self,
        position: Position,
        payload: &Payload,
    ) -> Option<Result<Response, RequestError>> {
        self.apply_seeing(position, payload, &[])
    }

    /// [`StateMachine::apply`], except that a transaction's reads also see the appends of
    /// `uncommitted`: entries after this one that are not committed. Only a planted bug
    /// passes any (Raft's `txn-read-uncommitted`); the state itself is the same.
    pub fn apply_seeing(
        &mut self,
        position: Position,
        payload: &Payload,
        uncommitted: &[&Payload],
    ) -> Option<Result<Response, RequestError>> {
        match payload {
            Payload::Noop => None,
            Payload::Expire { name, token } => {
                if self.locks.get(name).is_some_and(|l| l.token == *token) {
                    self.locks.remove(name);
                }
                None
            }
            Payload::CloseSession { client, session } => {
                if self.sessions.get(client).is_some_and(|s| s.id == *session) {
                    self.sessions.remove(client);
                    self.locks.retain(|_, l| l.client != *client);
                }
                None
            }
            Payload::Op {
                op: Op::Txn { ops },
                ..
            } => Some(Ok(self.apply_txn(ops, uncommitted))),
            Payload::Op { op, .. } => Some(self.apply_op(position, op)),
        }
    }

    /// Runs a transaction's micro-ops in order; a read sees the transaction's own
    /// earlier appends (and, under the planted bug, `uncommitted` ones).
    fn apply_txn(&mut self, ops: &[TxnOp], uncommitted: &[&Payload]) -> Response {
        let mut reads = Vec::new();
        for op in ops {
            match op {
                TxnOp::Append { key, value } => {
                    self.lists.entry(key.clone()).or_default().push(*value);
                }
                TxnOp::Read { key } => {
                    let mut list = self.list(key).to_vec();
                    list.extend(uncommitted.iter().flat_map(|p| appends_to(p, key)));
                    reads.push(list);
                }
            }
        }
        Response::Txn { reads }
    }

    fn apply_op(&mut self, position: Position, op: &Op) -> Result<Response, RequestError> {
        match op {
            Op::Txn { ops } => Ok(self.apply_txn(ops, &[])),
            Op::Write { key, value } => {
                self.kv.insert(key.clone(), value.clone());
                Ok(Response::Written)
            }
            Op::Cas { key, from, to } => {
                let actual = self.kv.get(key);
                if actual == Some(from) {
                    self.kv.insert(key.clone(), to.clone());
                    Ok(Response::Written)
                } else {
                    Err(RequestError::PreconditionFailed {
                        actual: actual.cloned(),
                    })
                }
            }
            Op::Acquire {
                name,
                client,
                ttl_ms,
            } => match self.locks.get(name) {
                Some(held) if held.client != *client => Err(RequestError::LockHeld {
                    holder: held.client.clone(),
                }),
                _ => {
                    let lock = Lock {
                        client: client.clone(),
                        token: position,
                        ttl_ms: *ttl_ms,
                    };
                    self.locks.insert(name.clone(), lock);
                    let session = self.sessions.entry(client.clone()).or_insert(Session {
                        id: position,
                        timeout_ms: *ttl_ms,
                    });
                    session.timeout_ms = *ttl_ms;
                    Ok(Response::Granted { token: position })
                }
            },
            Op::Release {
                name,
                client,
                token,
            } => match self.locks.get(name) {
                Some(held) if held.client == *client && held.token == *token => {
                    self.locks.remove(name);
                    Ok(Response::Released)
                }
                _ => Err(RequestError::NotHolder),
            },
        }
    }
}

/// The values an entry's transaction appends to `key`, in order.
fn appends_to<'a>(payload: &'a Payload, key: &'a str) -> impl Iterator<Item = i64> + 'a {
    let ops: &[TxnOp] = match payload {
        Payload::Op {
            op: Op::Txn { ops },
            ..
        } => ops,
        _ => &[],
    };
    ops.iter().filter_map(move |op| match op {
        TxnOp::Append { key: k, value } if k == key => Some(*value),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(op: Op) -> Payload {
        Payload::Op { origin: None, op }
    }

    fn acq(c: &str) -> Payload {
        op(Op::Acquire {
            name: "l".into(),
            client: c.into(),
            ttl_ms: 100,
        })
    }

    #[test]
    fn cas_checks_the_current_value() {
        let mut sm = StateMachine::default();
        let w = Op::Write {
            key: "k".into(),
            value: "1".into(),
        };
        assert_eq!(sm.apply(1, &op(w)), Some(Ok(Response::Written)));
        let bad = Op::Cas {
            key: "k".into(),
            from: "2".into(),
            to: "3".into(),
        };
        assert_eq!(
            sm.apply(2, &op(bad)),
            Some(Err(RequestError::PreconditionFailed {
                actual: Some("1".into())
            }))
        );
        let good = Op::Cas {
            key: "k".into(),
            from: "1".into(),
            to: "3".into(),
        };
        assert_eq!(sm.apply(3, &op(good)), Some(Ok(Response::Written)));
        assert_eq!(sm.get("k"), Some("3"));
    }

    #[test]
    fn lock_tokens_are_grant_positions_and_release_needs_the_token() {
        let mut sm = StateMachine::default();
        assert_eq!(
            sm.apply(4, &acq("a")),
            Some(Ok(Response::Granted { token: 4 }))
        );
        assert_eq!(
            sm.apply(5, &acq("b")),
            Some(Err(RequestError::LockHeld { holder: "a".into() }))
        );
        let stale = op(Op::Release {
            name: "l".into(),
            client: "a".into(),
            token: 3,
        });
        assert_eq!(sm.apply(6, &stale), Some(Err(RequestError::NotHolder)));
        // An expiry for an older grant does nothing; the right one frees the lock.
        let expire = |token| Payload::Expire {
            name: "l".into(),
            token,
        };
        sm.apply(7, &expire(2));
        assert!(sm.lock("l").is_some());
        sm.apply(7, &expire(4));
        assert!(sm.lock("l").is_none());
        assert_eq!(
            sm.apply(8, &acq("b")),
            Some(Ok(Response::Granted { token: 8 }))
        );
    }

    #[test]
    fn closing_a_session_frees_its_locks_but_only_that_session() {
        let mut sm = StateMachine::default();
        sm.apply(10, &acq("a"));
        assert_eq!(sm.session("a").map(|s| s.id), Some(10));
        // A close for an older session of the same client changes nothing.
        let close = |session| Payload::CloseSession {
            client: "a".into(),
            session,
        };
        sm.apply(11, &close(3));
        assert_eq!(sm.lock("l").map(|l| l.token), Some(10));
        sm.apply(12, &close(10));
        assert!(sm.lock("l").is_none());
        assert!(sm.session("a").is_none());
        // The next grant opens a new session.
        sm.apply(13, &acq("a"));
        assert_eq!(sm.session("a").map(|s| s.id), Some(13));
    }

    fn txn(ops: Vec<TxnOp>) -> Payload {
        op(Op::Txn { ops })
    }

    fn append(key: &str, value: i64) -> TxnOp {
        TxnOp::Append {
            key: key.into(),
            value,
        }
    }

    fn read(key: &str) -> TxnOp {
        TxnOp::Read { key: key.into() }
    }

    #[test]
    fn a_transaction_runs_its_micro_ops_in_order_and_reads_its_own_appends() {
        let mut sm = StateMachine::default();
        let t1 = txn(vec![read("x"), append("x", 1), read("x"), append("y", 2)]);
        assert_eq!(
            sm.apply(1, &t1),
            Some(Ok(Response::Txn {
                reads: vec![vec![], vec![1]]
            }))
        );
        let t2 = txn(vec![append("x", 3), read("x"), read("y"), read("z")]);
        assert_eq!(
            sm.apply(2, &t2),
            Some(Ok(Response::Txn {
                reads: vec![vec![1, 3], vec![2], vec![]]
            }))
        );
        assert_eq!(sm.list("x"), [1, 3]);
        // Lists and registers are separate name spaces.
        assert_eq!(sm.get("x"), None);
    }

    #[test]
    fn only_apply_seeing_lets_reads_see_uncommitted_appends_and_the_state_stays_the_same() {
        let pending = [
            txn(vec![append("x", 9), append("y", 8)]),
            txn(vec![append("x", 10)]),
        ];
        let pending: Vec<&Payload> = pending.iter().collect();
        let t = txn(vec![read("x"), append("x", 1)]);
        let mut clean = StateMachine::default();
        let mut dirty = StateMachine::default();
        assert_eq!(
            clean.apply(1, &t),
            Some(Ok(Response::Txn {
                reads: vec![vec![]]
            }))
        );
        assert_eq!(
            dirty.apply_seeing(1, &t, &pending),
            Some(Ok(Response::Txn {
                reads: vec![vec![9, 10]]
            }))
        );
        assert_eq!(clean, dirty);
    }
}
