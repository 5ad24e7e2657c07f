//! Peer-to-peer RPCs (Figure 2), as plain data. Requests and responses are separate
//! one-way messages: the runtime never waits for a reply, so loss and duplication are
//! handled by the protocol itself.

use serde::{Deserialize, Serialize};

use super::entry::Entry;
use super::types::{LogIndex, NodeId, Term};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's current term; every receiver applies the "term rule" (§5.1) first.
    pub term: Term,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    RequestVote {
        last_log_index: LogIndex,
        last_log_term: Term,
    },
    RequestVoteResponse {
        granted: bool,
    },
    AppendEntries {
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: LogIndex,
        /// ReadIndex round the leader is confirming; echoed back by the follower (§6.4 of
        /// Ongaro's thesis).
        read_round: u64,
    },
    AppendEntriesResponse {
        success: bool,
        /// On success: the index of the last entry known to match the leader's log.
        match_index: LogIndex,
        /// On failure: where the leader should retry from (the follower's log length + 1
        /// when it is too short, otherwise prev_log_index).
        retry_from: LogIndex,
        read_round: u64,
    },
}
