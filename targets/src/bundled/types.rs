//! Identifiers shared by both bundled protocols.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A cluster member's name, e.g. `n1`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub String);

impl NodeId {
    pub fn new(name: impl Into<String>) -> Self {
        NodeId(name.into())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifies one client request inside one node; the runtime allocates them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

/// A place in a replicated log, comparable across the nodes of one cluster: a Raft log
/// index, or a Zab zxid as `epoch << 32 | counter`. Reads report the position of the
/// state they saw, lock grants use the position of the grant as the fencing token, and
/// the committed log of a node is listed by position.
pub type Position = u64;
