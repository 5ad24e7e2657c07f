//! Planted-bug switches. Each one is a single, readable branch in the core; with none set
//! the implementation is correct. See `docs/raft.md` for which checker catches which.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One planted fault (`--bug NAME`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// The leader never confirms its leadership with a quorum: it answers reads from local
    /// state without a ReadIndex round or an entry of its term committed, and does not step
    /// down when cut off from the majority (the 2014 etcd/Consul stale read). Caught by the
    /// linearizability checker (register workload, leader partitions).
    StaleRead,
    /// The vote is not persisted (term is), so a restarted node can vote twice in one term:
    /// two leaders in one term. Caught by the split-brain checker (kill nemesis).
    ForgetVote,
    /// The leader answers a write as soon as it is in its own log, before a majority has it:
    /// acknowledged writes are lost when the leader dies. Caught by the linearizability checker.
    AckBeforeCommit,
    /// The leader commits entries of earlier terms by counting replicas (Raft paper Figure 8):
    /// committed entries can be overwritten. Caught by the linearizability checker.
    CommitOldTerm,
    /// A new leader does not honour inherited lock leases: it expires every held lock at
    /// once, so a second client is granted a lock the first still holds. Caught by the lock
    /// (mutual exclusion) checker under partitions, pauses or kills of the leader.
    LockNoLeaseCheck,
    /// A candidate counts every vote response as granted, so it wins elections it lost:
    /// two leaders in one term. Caught by the split-brain checker.
    CountRejectedVotes,
    /// A transaction's reads see the appends of entries after it in the leader's log that
    /// are not committed yet (pending transactions, possibly never to commit): a dirty
    /// read. Caught by the list-append checker (incompatible orders, G1c cycles, aborted
    /// reads), best under leader partitions and kills that strand uncommitted entries.
    TxnReadUncommitted,
}

impl Bug {
    pub const ALL: [Bug; 7] = [
        Bug::StaleRead,
        Bug::ForgetVote,
        Bug::AckBeforeCommit,
        Bug::CommitOldTerm,
        Bug::LockNoLeaseCheck,
        Bug::CountRejectedVotes,
        Bug::TxnReadUncommitted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleRead => "stale-read",
            Bug::ForgetVote => "forget-vote",
            Bug::AckBeforeCommit => "ack-before-commit",
            Bug::CommitOldTerm => "commit-old-term",
            Bug::LockNoLeaseCheck => "lock-no-lease-check",
            Bug::CountRejectedVotes => "count-rejected-votes",
            Bug::TxnReadUncommitted => "txn-read-uncommitted",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of switches a node runs with; empty means correct.
pub type BugSet = crate::bundled::BugSet<Bug>;
