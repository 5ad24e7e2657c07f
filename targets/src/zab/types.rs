//! Zab's identifiers and small value types: epochs, zxids, transactions, votes, roles.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::bundled::op::{Op, Payload};
pub use crate::bundled::types::{NodeId, RequestId};

use crate::bundled::storage::Record;
use crate::bundled::types::Position;

/// An epoch: the number of a leader's reign. Only one leader is established per epoch.
pub type Epoch = u32;

/// A transaction id: `(epoch, counter)`, compared in that order. A new leader's first
/// proposal is `(e, 1)`; `(0, 0)` means "nothing".
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Zxid {
    pub epoch: Epoch,
    pub counter: u32,
}

impl Zxid {
    pub const ZERO: Zxid = Zxid {
        epoch: 0,
        counter: 0,
    };

    pub fn new(epoch: Epoch, counter: u32) -> Zxid {
        Zxid { epoch, counter }
    }

    /// ZooKeeper's 64-bit form: epoch in the high 32 bits.
    pub fn as_u64(self) -> Position {
        (u64::from(self.epoch) << 32) | u64::from(self.counter)
    }

    pub fn from_u64(z: Position) -> Zxid {
        Zxid {
            epoch: (z >> 32) as Epoch,
            counter: z as u32,
        }
    }
}

impl fmt::Display for Zxid {
    /// As ZooKeeper prints zxids: `0x100000005` is epoch 1, counter 5.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.as_u64())
    }
}

impl fmt::Debug for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{},{}>", self.epoch, self.counter)
    }
}

/// One transaction of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    pub zxid: Zxid,
    pub payload: Payload,
}

impl Record for Txn {
    fn position(&self) -> Position {
        self.zxid.as_u64()
    }

    /// Zxids strictly increase along the history.
    fn check_order(position: Position, prev: Option<Position>, _n: usize) -> Result<(), String> {
        let z = Zxid::from_u64(position);
        if z.counter == 0 {
            return Err(format!("zxid {z} has counter 0"));
        }
        match prev {
            Some(p) if position <= p => Err(format!("zxid {z} follows {}", Zxid::from_u64(p))),
            _ => Ok(()),
        }
    }
}

/// A Fast Leader Election vote: the proposed leader and what it would bring. Votes are
/// ordered by `(epoch, zxid, leader)` (ZooKeeper's `totalOrderPredicate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub leader: NodeId,
    /// The proposed leader's currentEpoch.
    pub epoch: Epoch,
    /// The proposed leader's last logged zxid.
    pub zxid: Zxid,
}

impl Vote {
    /// True when `self` is a better vote than `other`.
    pub fn beats(&self, other: &Vote) -> bool {
        (self.epoch, self.zxid, &self.leader) > (other.epoch, other.zxid, &other.leader)
    }
}

/// What a node is doing (ZooKeeper's `ServerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Looking,
    Following,
    Leading,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Looking => "looking",
            Role::Following => "following",
            Role::Leading => "leading",
        })
    }
}

/// The Zab phase a node is in (DSN 2011 §III): election, then discovery, then
/// synchronization, then broadcast. Only a node in broadcast serves clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Election,
    Discovery,
    Synchronization,
    Broadcast,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Election => "election",
            Phase::Discovery => "discovery",
            Phase::Synchronization => "synchronization",
            Phase::Broadcast => "broadcast",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxids_order_by_epoch_then_counter_and_round_trip() {
        assert!(Zxid::new(2, 1) > Zxid::new(1, 99));
        assert!(Zxid::new(1, 5) > Zxid::new(1, 4));
        let z = Zxid::new(1, 5);
        assert_eq!(z.as_u64(), 0x1_0000_0005);
        assert_eq!(Zxid::from_u64(z.as_u64()), z);
        assert_eq!(z.to_string(), "0x100000005");
    }

    #[test]
    fn votes_order_by_epoch_then_zxid_then_id() {
        let v = |l: &str, e, z| Vote {
            leader: NodeId::new(l),
            epoch: e,
            zxid: z,
        };
        // A higher currentEpoch wins even with an older zxid (why ZK-4643 hurts).
        assert!(v("n1", 2, Zxid::new(1, 3)).beats(&v("n2", 1, Zxid::new(1, 4))));
        assert!(v("n1", 1, Zxid::new(1, 4)).beats(&v("n2", 1, Zxid::new(1, 3))));
        assert!(v("n2", 1, Zxid::new(1, 4)).beats(&v("n1", 1, Zxid::new(1, 4))));
        assert!(!v("n1", 1, Zxid::new(1, 4)).beats(&v("n1", 1, Zxid::new(1, 4))));
    }
}
