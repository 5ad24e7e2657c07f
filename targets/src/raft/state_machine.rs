//! The replicated state machine: a key-value register map plus named locks with fencing
//! tokens. Pure and deterministic: replicas that apply the same committed prefix hold the
//! same state (State Machine Safety, §5.4.3). Time never enters; lease expiry arrives as
//! [`Payload::Expire`] entries decided by the leader.

use std::collections::BTreeMap;

use super::entry::{Entry, Op, Payload};
use super::io::{RequestError, Response};
use super::types::LogIndex;

/// A held lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    pub client: String,
    /// Fencing token: the log index of the grant, so it strictly increases per lock.
    pub token: LogIndex,
    pub ttl_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateMachine {
    kv: BTreeMap<String, String>,
    locks: BTreeMap<String, Lock>,
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

    /// Applies one committed entry and returns the answer owed to its proposer (if any).
    pub fn apply(&mut self, entry: &Entry) -> Option<Result<Response, RequestError>> {
        match &entry.payload {
            Payload::Noop => None,
            Payload::Expire { name, token } => {
                if self.locks.get(name).is_some_and(|l| l.token == *token) {
                    self.locks.remove(name);
                }
                None
            }
            Payload::Op { op, .. } => Some(self.apply_op(entry.index, op)),
        }
    }

    fn apply_op(&mut self, index: LogIndex, op: &Op) -> Result<Response, RequestError> {
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
                        token: index,
                        ttl_ms: *ttl_ms,
                    };
                    self.locks.insert(name.clone(), lock);
                    Ok(Response::Granted { token: index })
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

    fn op(index: LogIndex, op: Op) -> Entry {
        Entry {
            term: 1,
            index,
            payload: Payload::Op { origin: None, op },
        }
    }

    #[test]
    fn cas_checks_the_current_value() {
        let mut sm = StateMachine::default();
        let w = Op::Write {
            key: "k".into(),
            value: "1".into(),
        };
        assert_eq!(sm.apply(&op(1, w)), Some(Ok(Response::Written)));
        let bad = Op::Cas {
            key: "k".into(),
            from: "2".into(),
            to: "3".into(),
        };
        assert_eq!(
            sm.apply(&op(2, bad)),
            Some(Err(RequestError::PreconditionFailed {
                actual: Some("1".into())
            }))
        );
        let good = Op::Cas {
            key: "k".into(),
            from: "1".into(),
            to: "3".into(),
        };
        assert_eq!(sm.apply(&op(3, good)), Some(Ok(Response::Written)));
        assert_eq!(sm.get("k"), Some("3"));
    }

    #[test]
    fn lock_tokens_are_grant_indices_and_release_needs_the_token() {
        let mut sm = StateMachine::default();
        let acq = |c: &str| Op::Acquire {
            name: "l".into(),
            client: c.into(),
            ttl_ms: 100,
        };
        assert_eq!(
            sm.apply(&op(4, acq("a"))),
            Some(Ok(Response::Granted { token: 4 }))
        );
        assert_eq!(
            sm.apply(&op(5, acq("b"))),
            Some(Err(RequestError::LockHeld { holder: "a".into() }))
        );
        let stale = Op::Release {
            name: "l".into(),
            client: "a".into(),
            token: 3,
        };
        assert_eq!(sm.apply(&op(6, stale)), Some(Err(RequestError::NotHolder)));
        // An expiry for an older grant does nothing; the right one frees the lock.
        let expire = |token| Entry {
            term: 1,
            index: 7,
            payload: Payload::Expire {
                name: "l".into(),
                token,
            },
        };
        sm.apply(&expire(2));
        assert!(sm.lock("l").is_some());
        sm.apply(&expire(4));
        assert!(sm.lock("l").is_none());
        assert_eq!(
            sm.apply(&op(8, acq("b"))),
            Some(Ok(Response::Granted { token: 8 }))
        );
    }
}
