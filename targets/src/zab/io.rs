//! The Zab core's inputs ([`Event`]) and outputs ([`Command`]). Client requests,
//! responses and errors are the bundled targets' own ([`crate::bundled::request`]).
//!
//! ```text
//!   runtime ──Event──► Zab::step ──Vec<Command>──► runtime
//!   (tick, message,                (storage commands first, in order: make durable,
//!    client request)                epochs only after the log before them; then sends,
//!                                   applies (notice), replies)
//! ```

pub use crate::bundled::request::{ReadLevel, Request, RequestError, Response};

use super::message::Message;
use super::types::{Epoch, RequestId, Txn, Zxid};

/// Something that happened to a node.
pub type Event = crate::bundled::event::Event<Message>;

/// Something the runtime must do, in order. Storage commands are durable before any
/// later command of the same output is acted on; an epoch write makes every log
/// change before it durable first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Durably record the last NEWEPOCH accepted.
    PersistAcceptedEpoch(Epoch),
    /// Durably record the last NEWLEADER accepted.
    PersistCurrentEpoch(Epoch),
    /// Append transactions to the history (their zxids follow the last one).
    Append(Vec<Txn>),
    /// Drop every transaction after `after`.
    Truncate {
        after: Zxid,
    },
    Send(Message),
    /// Notice: the transaction at 1-based place `seq` of the history was applied.
    Apply {
        seq: usize,
        txn: Txn,
    },
    Reply {
        id: RequestId,
        result: Result<Response, RequestError>,
    },
}

impl Command {
    /// True for the commands that change durable state.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            Command::PersistAcceptedEpoch(_)
                | Command::PersistCurrentEpoch(_)
                | Command::Append(_)
                | Command::Truncate { .. }
        )
    }
}
