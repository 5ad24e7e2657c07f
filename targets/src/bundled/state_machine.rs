//! The replicated state machine of both bundled protocols: a key-value register map,
//! named locks with fencing tokens, and the client sessions that hold them.
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

use std::collections::BTreeMap;

use super::op::{Op, Payload};
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
    locks: BTreeMap<String, Lock>,
    sessions: BTreeMap<String, Session>,
}

impl StateMachine {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.kv.get(key).map(String::as_str)
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
            Payload::Op { op, .. } => Some(self.apply_op(position, op)),
        }
    }

    fn apply_op(&mut self, position: Position, op: &Op) -> Result<Response, RequestError> {
        match op {
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
}
