//! Planted-bug switches: each protocol's own `Bug` enum ([`crate::raft::Bug`],
//! [`crate::zab::Bug`]), one [`Bug`] over both for a `--bug` flag that covers either
//! protocol, and the set a node runs with.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{raft, zab};

/// A planted fault of either bundled protocol, named as its node's `--bug` flag names it
/// (the names do not overlap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bug {
    Raft(raft::Bug),
    Zab(zab::Bug),
}

impl Bug {
    pub const ALL: [Bug; 15] = [
        Bug::Raft(raft::Bug::StaleRead),
        Bug::Raft(raft::Bug::ForgetVote),
        Bug::Raft(raft::Bug::AckBeforeCommit),
        Bug::Raft(raft::Bug::CommitOldTerm),
        Bug::Raft(raft::Bug::LockNoLeaseCheck),
        Bug::Raft(raft::Bug::CountRejectedVotes),
        Bug::Raft(raft::Bug::TxnReadUncommitted),
        Bug::Zab(zab::Bug::StaleSync),
        Bug::Zab(zab::Bug::ForgetAcceptedEpoch),
        Bug::Zab(zab::Bug::AckBeforeFsync),
        Bug::Zab(zab::Bug::EpochBeforeHistory),
        Bug::Zab(zab::Bug::DiffWithoutTrunc),
        Bug::Zab(zab::Bug::ExpireSessionsOnElection),
        Bug::Zab(zab::Bug::CountEpochNack),
        Bug::Zab(zab::Bug::IgnoreClientZxid),
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::Raft(b) => b.name(),
            Bug::Zab(b) => b.name(),
        }
    }

    /// The bundled target the switch belongs to: `raft` or `zab`.
    pub fn target(self) -> &'static str {
        match self {
            Bug::Raft(_) => "raft",
            Bug::Zab(_) => "zab",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Bug {
    type Err = String;
    fn from_str(s: &str) -> Result<Bug, String> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("no bundled bug switch named {s:?}"))
    }
}

impl clap::ValueEnum for Bug {
    fn value_variants<'a>() -> &'a [Self] {
        &Bug::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self {
            Bug::Raft(b) => b.to_possible_value(),
            Bug::Zab(b) => b.to_possible_value(),
        }
    }
}

/// The switches a node runs with; empty means correct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BugSet<B>(BTreeSet<B>);

impl<B> Default for BugSet<B> {
    fn default() -> Self {
        BugSet(BTreeSet::new())
    }
}

impl<B: Ord> BugSet<B> {
    pub fn none() -> Self {
        BugSet(BTreeSet::new())
    }

    pub fn has(&self, bug: B) -> bool {
        self.0.contains(&bug)
    }
}

impl<B: Ord> FromIterator<B> for BugSet<B> {
    fn from_iter<I: IntoIterator<Item = B>>(iter: I) -> Self {
        BugSet(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_switch_of_both_protocols_is_listed_once_under_its_own_name() {
        let names: BTreeSet<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
        assert_eq!(names.len(), raft::Bug::ALL.len() + zab::Bug::ALL.len());
        for b in raft::Bug::ALL {
            assert!(Bug::ALL.contains(&Bug::Raft(b)));
        }
        for b in zab::Bug::ALL {
            assert!(Bug::ALL.contains(&Bug::Zab(b)));
        }
    }

    #[test]
    fn names_parse_serialize_and_say_their_target() {
        let b: Bug = "diff-without-trunc".parse().expect("a zab switch");
        assert_eq!(b, Bug::Zab(zab::Bug::DiffWithoutTrunc));
        assert_eq!(b.target(), "zab");
        assert_eq!(
            serde_json::to_string(&Bug::Raft(raft::Bug::StaleRead)).expect("json"),
            "\"stale-read\""
        );
        let back: Bug = serde_json::from_str("\"count-epoch-nack\"").expect("json");
        assert_eq!(back, Bug::Zab(zab::Bug::CountEpochNack));
        assert!("nope".parse::<Bug>().is_err());
        let via_clap = Bug::from_str("forget-vote", false).expect("clap");
        assert_eq!(via_clap, Bug::Raft(raft::Bug::ForgetVote));
        assert!(Bug::Zab(zab::Bug::StaleSync)
            .to_possible_value()
            .and_then(|v| v.get_help().map(|h| h.to_string()))
            .is_some_and(|h| h.contains("ZOOKEEPER-1675")));
    }
}
