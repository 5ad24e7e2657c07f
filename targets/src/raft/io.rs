//! The core's inputs ([`Event`]) and outputs ([`Command`]), plus the client-facing request,
//! response and error types.
//!
//! ```text
//!   runtime ──Event──► Raft::step ──Vec<Command>──► runtime
//!   (tick, message,                 (persist/append/truncate: make durable first,
//!    client request)                 then send, apply (notice), reply)
//! ```

use serde::{Deserialize, Serialize};

use super::entry::{Entry, Op};
use super::message::Message;
use super::types::{HardState, LogIndex, NodeId, RequestId};

/// Something that happened to a node.
#[derive(Clone, Debug)]
pub enum Event {
    /// One logical tick of time.
    Tick,
    /// A peer message arrived.
    Message(Message),
    /// A client request arrived; it is answered by a [`Command::Reply`] with the same id.
    Request { id: RequestId, request: Request },
}

/// What a client can ask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Linearizable read of one key.
    Read { key: String },
    /// A mutating operation, answered once committed and applied.
    Op(Op),
}

/// A successful answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Value(Option<String>),
    Written,
    Granted { token: LogIndex },
    Released,
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
}

impl RequestError {
    /// True when the request certainly had no effect (the one table of this target).
    pub fn is_definite(&self) -> bool {
        match self {
            RequestError::NotLeader { .. }
            | RequestError::PreconditionFailed { .. }
            | RequestError::LockHeld { .. }
            | RequestError::NotHolder => true,
            RequestError::LeadershipLost => false,
        }
    }
}

/// Something the runtime must do. Storage commands come before the sends that depend on
/// them within one `step`'s output; the runtime makes them durable before sending.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Durably replace term and vote.
    PersistHardState(HardState),
    /// Durably append entries (their indices follow the current last index).
    Append(Vec<Entry>),
    /// Durably remove every entry with index >= `from`.
    Truncate { from: LogIndex },
    /// Send a message to a peer (best effort).
    Send(Message),
    /// Notice: this entry was applied to the state machine (for logs and tests).
    Apply(Entry),
    /// Answer a client request.
    Reply {
        id: RequestId,
        result: Result<Response, RequestError>,
    },
}
