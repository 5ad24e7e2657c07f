//! Zab's planted-bug switches, one per real ZooKeeper fault. Each is a single, readable
//! branch in the core; with none set the implementation is correct. See `docs/zab.md`
//! for which check catches which.

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
    /// The leader answers `sync` and `quorum` reads from its own state without a quorum
    /// round, and never steps down when it loses its quorum, so a deposed leader keeps
    /// answering (ZOOKEEPER-1675). Caught by linearizability (leader partitions).
    StaleSync,
    /// acceptedEpoch is kept only in memory (ZOOKEEPER-1291): a restarted node accepts
    /// the same new epoch twice and two leaders are established in one epoch. Caught by
    /// the split-brain check (kills during elections, partitions).
    ForgetAcceptedEpoch,
    /// A proposal (and the synced history) is ACKed before it is durable: the log write
    /// happens a tick later, so a kill loses acknowledged writes (ZOOKEEPER-3911,
    /// ZOOKEEPER-4646). Caught by linearizability (kill a majority, then the leader).
    AckBeforeFsync,
    /// On NEWLEADER a follower writes currentEpoch before the synced history is durable
    /// (ZOOKEEPER-4643): a node with the new epoch but an old history wins the next
    /// election and truncates committed transactions away. Caught by linearizability
    /// (kills of followers during sync between leader kills).
    EpochBeforeHistory,
    /// The leader sends DIFF without TRUNC to a follower holding a suffix the leader
    /// lacks (ZOOKEEPER-1154): the follower keeps and later applies transactions no one
    /// committed. Caught by replica agreement.
    DiffWithoutTrunc,
    /// A new leader expires every inherited session at once instead of giving it a full
    /// timeout, so locks held by live clients are granted again. Caught by the lock
    /// checker (pause or partition the leader).
    ExpireSessionsOnElection,
    /// The leader counts an ACKEPOCH from a follower that had already accepted the epoch
    /// (ZooKeeper's −1, "should not count as an ack"): two leaders in one epoch. Caught
    /// by the split-brain check (majorities-ring partitions).
    CountEpochNack,
    /// A node serves a read from a client that has already seen a newer zxid than the
    /// node has applied, instead of refusing it ("client must try another server", the
    /// check in ZooKeeper's `ZooKeeperServer.processConnectRequest`): a client that
    /// moves to a lagging server reads older state than it already read. Caught by the
    /// monotonic-reads check (`--read-mode local`).
    IgnoreClientZxid,
}

impl Bug {
    pub const ALL: [Bug; 8] = [
        Bug::StaleSync,
        Bug::ForgetAcceptedEpoch,
        Bug::AckBeforeFsync,
        Bug::EpochBeforeHistory,
        Bug::DiffWithoutTrunc,
        Bug::ExpireSessionsOnElection,
        Bug::CountEpochNack,
        Bug::IgnoreClientZxid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleSync => "stale-sync",
            Bug::ForgetAcceptedEpoch => "forget-accepted-epoch",
            Bug::AckBeforeFsync => "ack-before-fsync",
            Bug::EpochBeforeHistory => "epoch-before-history",
            Bug::DiffWithoutTrunc => "diff-without-trunc",
            Bug::ExpireSessionsOnElection => "expire-sessions-on-election",
            Bug::CountEpochNack => "count-epoch-nack",
            Bug::IgnoreClientZxid => "ignore-client-zxid",
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
