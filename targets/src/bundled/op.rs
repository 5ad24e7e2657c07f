//! What a replicated log entry asks the state machine to do: the client operations and
//! the few entries a leader adds on its own. Both protocols replicate these payloads;
//! only the envelope differs (a Raft entry has a term and an index, a Zab transaction a
//! zxid).

use serde::{Deserialize, Serialize};

use super::types::{NodeId, Position, RequestId};

/// The body of one replicated entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// Appended by every new Raft leader so it can commit an entry of its own term
    /// (Raft §5.4.2, §8).
    Noop,
    /// A client operation; `origin` names the node and request that proposed it, so the
    /// proposer can answer and tests can follow an acknowledged write through the log.
    Op {
        origin: Option<(NodeId, RequestId)>,
        op: Op,
    },
    /// Raft's leader-decided expiry of a lock lease: every replica releases `name` if (and
    /// only if) it is still held under `token`. Time never enters the state machine.
    Expire { name: String, token: Position },
    /// Zab's session expiry (ZooKeeper's `closeSession`): the leader's session tracker
    /// found no heartbeat from `client` for the session's timeout, so the session opened
    /// at `session` ends and every lock it holds is released, like ephemeral znodes.
    CloseSession { client: String, session: Position },
}

/// A mutating client operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Write {
        key: String,
        value: String,
    },
    Cas {
        key: String,
        from: String,
        to: String,
    },
    Acquire {
        name: String,
        client: String,
        ttl_ms: u64,
    },
    Release {
        name: String,
        client: String,
        token: Position,
    },
    /// A list-append transaction: its micro-ops run in order, all at once, when the entry
    /// applies (no other entry's effect in between).
    Txn {
        ops: Vec<TxnOp>,
    },
}

/// One micro-op of a [`Op::Txn`] over append-only lists of integers (Elle's list-append).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxnOp {
    /// Append `value` at the end of `key`'s list (a missing key is the empty list).
    Append { key: String, value: i64 },
    /// The whole list at `key`, answered in [`Response::Txn`](super::request::Response::Txn).
    Read { key: String },
}

impl TxnOp {
    pub fn key(&self) -> &str {
        match self {
            TxnOp::Append { key, .. } | TxnOp::Read { key } => key,
        }
    }
}

impl Op {
    /// The lock client this operation comes from, for the operations that have one.
    pub fn lock_client(&self) -> Option<&str> {
        match self {
            Op::Acquire { client, .. } | Op::Release { client, .. } => Some(client),
            Op::Write { .. } | Op::Cas { .. } | Op::Txn { .. } => None,
        }
    }
}
