//! The Zab's part of the client API: its `GET /status` body. Routes, wire types and
//! errors are the bundled targets' own ([`crate::bundled::api`]).

use serde::{Deserialize, Serialize};

use super::types::{Epoch, NodeId, Phase, Role};
use crate::bundled::types::Position;

pub use crate::bundled::api::{ErrorBody, ErrorKind};

/// `GET /status`: what this node believes right now (not linearizable). Zxids are in
/// ZooKeeper's 64-bit form (`epoch << 32 | counter`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub phase: Phase,
    /// The last NEWEPOCH this node accepted, and the last NEWLEADER.
    pub accepted_epoch: Epoch,
    pub current_epoch: Epoch,
    /// The leader this node follows, or itself once elected.
    pub leader: Option<NodeId>,
    pub last_zxid: Position,
    pub committed_zxid: Position,
    pub applied_zxid: Position,
    pub election_round: u64,
}
