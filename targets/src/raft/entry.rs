//! Log entries and the client operations they carry.

use serde::{Deserialize, Serialize};

use super::types::{LogIndex, NodeId, RequestId, Term};

/// One replicated log entry (Figure 2: "each entry contains command for state machine,
/// and term when entry was received by leader").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    pub index: LogIndex,
    pub payload: Payload,
}

/// What an entry asks the state machine to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// Appended by every new leader so it can commit an entry of its own term (§5.4.2, §8).
    Noop,
    /// A client operation; `origin` names the node and request that proposed it, so the
    /// proposer can answer and tests can follow an acknowledged write through the log.
    Op {
        origin: Option<(NodeId, RequestId)>,
        op: Op,
    },
    /// Leader-decided expiry of a lock lease: every replica releases `name` if (and only if)
    /// it is still held under `token`. Time never enters the state machine directly.
    Expire { name: String, token: LogIndex },
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
        token: LogIndex,
    },
}
