//! What a client can ask a bundled node, what it answers, and the one table saying which
//! refusals are definite. Both protocols speak exactly this.

use serde::{Deserialize, Serialize};

use super::op::Op;
use super::types::{NodeId, Position};

/// How fresh a read must be (`GET /kv/{key}?level=…`). The Raft answers every level
/// linearizably (a stronger answer satisfies a weaker contract); the Zab serves each as
/// ZooKeeper does.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ReadLevel {
    /// The leader confirms with a quorum that it still leads before it answers:
    /// linearizable.
    #[default]
    Quorum,
    /// ZooKeeper's `sync` then read: the leader's proposals so far commit first, but no
    /// quorum confirms the leader, so a deposed leader may answer (ZOOKEEPER-1675): not
    /// linearizable.
    Sync,
    /// Answered from the contacted node's applied state: sequentially consistent only.
    Local,
}

impl ReadLevel {
    pub const ALL: [ReadLevel; 3] = [ReadLevel::Quorum, ReadLevel::Sync, ReadLevel::Local];

    pub fn name(self) -> &'static str {
        match self {
            ReadLevel::Quorum => "quorum",
            ReadLevel::Sync => "sync",
            ReadLevel::Local => "local",
        }
    }
}

impl std::fmt::Display for ReadLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a client can ask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// A read of one key. `after` is the newest position this client has already seen:
    /// a node that has not applied that far refuses ([`RequestError::Behind`]), as a
    /// ZooKeeper server refuses a session whose last zxid is ahead of its own.
    Read {
        key: String,
        level: ReadLevel,
        after: Position,
    },
    /// A mutating operation, answered once committed and applied.
    Op(Op),
}

impl Request {
    /// A linearizable read with no session history.
    pub fn read(key: impl Into<String>) -> Request {
        Request::Read {
            key: key.into(),
            level: ReadLevel::Quorum,
            after: 0,
        }
    }
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The key's value in the state after applying the entry at `position` (0: none).
    Value {
        value: Option<String>,
        position: Position,
    },
    Written,
    Granted {
        token: Position,
    },
    Released,
    /// A transaction committed: for each of its reads, in order, the list it saw.
    Txn {
        reads: Vec<Vec<i64>>,
    },
}

/// Why a request did not succeed. [`RequestError::is_definite`] says whether the operation
/// certainly had no effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RequestError {
    #[error("not the leader (leader: {})", leader.as_ref().map_or("unknown", |l| l.0.as_str()))]
    NotLeader { leader: Option<NodeId> },
    #[error("compare-and-set precondition failed (current value: {})", actual.as_deref().unwrap_or("none"))]
    PreconditionFailed { actual: Option<String> },
    #[error("lock held by {holder}")]
    LockHeld { holder: String },
    #[error("not the holder of this lock under this token")]
    NotHolder,
    #[error("leadership lost before the request completed")]
    LeadershipLost,
    /// The node is not synced with a leader (Zab: before UPTODATE), so it serves nothing.
    #[error("not serving: not synced with a leader")]
    NotServing,
    /// The node has applied less than the client has already seen.
    #[error("behind: applied up to {applied}, the client has seen {wanted}")]
    Behind { applied: Position, wanted: Position },
}

impl RequestError {
    /// True when the request certainly had no effect (the one table of both bundled
    /// targets).
    pub fn is_definite(&self) -> bool {
        match self {
            RequestError::NotLeader { .. }
            | RequestError::PreconditionFailed { .. }
            | RequestError::LockHeld { .. }
            | RequestError::NotHolder
            | RequestError::NotServing
            | RequestError::Behind { .. } => true,
            RequestError::LeadershipLost => false,
        }
    }
}
