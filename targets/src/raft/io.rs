//! The core's inputs ([`Event`]) and outputs ([`Command`]). The client-facing request,
//! response and error types are the bundled targets' own ([`crate::bundled::request`]).
//!
//! ```text
//!   runtime ──Event──► Raft::step ──Vec<Command>──► runtime
//!   (tick, message,                 (persist/append/truncate: make durable first,
//!    client request)                 then send, apply (notice), reply)
//! ```

pub use crate::bundled::request::{ReadLevel, Request, RequestError, Response};

use super::entry::Entry;
use super::message::Message;
use super::types::{HardState, LogIndex, RequestId};

/// Something that happened to a node.
pub type Event = crate::bundled::event::Event<Message>;

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
