//! Zab's peer messages, as plain data (ZooKeeper 1.0's packet types, merged where one
//! message carries what a FIFO stream of packets would).
//!
//! ```text
//! election:  NOTIFICATION ⇄ every peer (round, vote, sender state)
//! discovery: follower ─FOLLOWERINFO─► leader ─LEADERINFO(e')─► follower ─ACKEPOCH─► leader
//! sync:      leader ─NEWLEADER(e', DIFF | TRUNC+DIFF | SNAP)─► follower ─ACK─► leader ─UPTODATE─► follower
//! broadcast: leader ─PROPOSAL─► follower ─ACK─► leader ─COMMIT─► follower;  PING ⇄ PINGACK;
//!            follower ─SYNC─► leader ─SYNCDONE─► follower (for `sync` reads)
//! ```

use serde::{Deserialize, Serialize};

use super::types::{Epoch, NodeId, Txn, Vote, Zxid};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    /// From a leader: the epoch it leads (0 until chosen); from anyone else: its
    /// acceptedEpoch. A follower drops leader messages of any other epoch (fencing).
    pub epoch: Epoch,
    pub body: Body,
}

/// What a node says about itself in an election notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerState {
    Looking,
    Following,
    Leading,
}

/// How a follower's history is brought in line with the leader's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sync {
    /// Append these transactions after the follower's last zxid.
    Diff { txns: Vec<Txn> },
    /// Drop every transaction after `to` (a suffix the leader lacks, ZOOKEEPER-1154),
    /// then append these.
    Trunc { to: Zxid, txns: Vec<Txn> },
    /// Replace the whole history with this one.
    Snap { txns: Vec<Txn> },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Fast Leader Election: the sender's round and vote.
    Notification {
        round: u64,
        vote: Vote,
        state: PeerState,
    },
    /// Discovery (CEPOCH): a would-be follower's acceptedEpoch and last zxid.
    FollowerInfo {
        accepted_epoch: Epoch,
        last_zxid: Zxid,
    },
    /// Discovery (NEWEPOCH): the epoch the leader proposes.
    LeaderInfo {
        epoch: Epoch,
    },
    /// Discovery (ACK-E): `current_epoch` is `None` when the follower had already
    /// accepted this epoch (ZooKeeper's −1: "should not count as an ack").
    AckEpoch {
        current_epoch: Option<Epoch>,
        last_zxid: Zxid,
    },
    /// Sync (NEWLEADER): how to reach the leader's history, which ends at `through`,
    /// then the new epoch.
    NewLeader {
        sync: Sync,
        through: Zxid,
    },
    /// Sync (ACK-LD): the history through `through` (echoed from the NEWLEADER it
    /// answers) is durable and currentEpoch is the new epoch.
    AckNewLeader {
        through: Zxid,
    },
    /// Sync (COMMIT-LD): everything through `commit` is committed; start serving.
    UpToDate {
        commit: Zxid,
    },
    /// Broadcast: the next transaction, after `prev`.
    Proposal {
        prev: Zxid,
        txn: Txn,
    },
    /// Broadcast: `zxid` (and everything before it) is logged durably.
    Ack {
        zxid: Zxid,
    },
    /// Broadcast: everything through `zxid` is committed.
    Commit {
        zxid: Zxid,
    },
    /// The leader's heartbeat; `round` is the quorum-read round it confirms, `commit`
    /// its commit point.
    Ping {
        round: u64,
        commit: Zxid,
    },
    /// A follower's answer: the round it saw, and its last durable zxid (a cumulative
    /// ACK, so a lost ACK does not stall a commit).
    PingAck {
        round: u64,
        last_zxid: Zxid,
    },
    /// A follower forwards a `sync` read; the leader answers once its proposals so far
    /// are committed.
    SyncRequest {
        token: u64,
    },
    SyncDone {
        token: u64,
        zxid: Zxid,
    },
}
