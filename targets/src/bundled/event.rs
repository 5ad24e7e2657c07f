//! The inputs of a sans-I/O protocol core, the same for both bundled protocols.

use super::request::Request;
use super::types::RequestId;

/// Something that happened to a node; `M` is the protocol's peer message.
#[derive(Clone, Debug)]
pub enum Event<M> {
    /// One logical tick of time.
    Tick,
    /// A peer message arrived.
    Message(M),
    /// A client request arrived; the core answers it by a reply command with the same id.
    Request { id: RequestId, request: Request },
}
