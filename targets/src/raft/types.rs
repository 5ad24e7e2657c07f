//! Identifiers and small value types of the Raft target (the cluster-wide ones, node and
//! request ids, are shared with the Zab: [`crate::bundled::types`]).

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::bundled::types::{NodeId, RequestId};

/// A Raft term (§5.1): a logical clock that only ever grows.
pub type Term = u64;

/// A 1-based position in the replicated log; 0 means "before the first entry".
pub type LogIndex = u64;

/// The durable part of a node's state that is not the log (Figure 2, "Persistent state").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: Term,
    pub voted_for: Option<NodeId>,
}

/// What a node currently believes it is (§5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        })
    }
}
