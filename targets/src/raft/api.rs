//! The Raft's part of the client API: its `GET /status` body. Routes, wire types and
//! errors are the bundled targets' own ([`crate::bundled::api`]).

use serde::{Deserialize, Serialize};

use super::types::{LogIndex, NodeId, Role, Term};

pub use crate::bundled::api::{ErrorBody, ErrorKind};

/// `GET /status`: what this node believes right now (not linearizable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    pub leader: Option<NodeId>,
    /// Whom this node voted for in `term` (persistent state, Figure 2).
    #[serde(default)]
    pub voted_for: Option<NodeId>,
    pub commit_index: LogIndex,
    pub last_applied: LogIndex,
    pub last_log_index: LogIndex,
}
