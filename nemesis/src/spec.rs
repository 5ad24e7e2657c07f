//! Node specs: which nodes a kill, pause or loss fault hits (Jepsen's `db-nodes`).
//!
//! ```text
//! NodeSpec + nodes + seeded rng (+ leaders for `primaries`) ──resolve──► BTreeSet<NodeId>
//! ```
//!
//! Sizes: one = 1, minority = majority(n) − 1, majority = majority(n),
//! minority-third = max(1, (n−1)/3), primaries = whatever the leader query says,
//! all = n. Pure given the rng.

use std::collections::BTreeSet;
use std::fmt;

use rand::seq::SliceRandom;
use rand::Rng;
use runtime::NodeId;
use serde::{Deserialize, Serialize};

use crate::grudge::{majority, minority_third};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeSpec {
    One,
    Minority,
    Majority,
    MinorityThird,
    Primaries,
    All,
    /// Exactly these nodes.
    Nodes(BTreeSet<NodeId>),
}

impl NodeSpec {
    pub const NAMED: [NodeSpec; 6] = [
        NodeSpec::One,
        NodeSpec::Minority,
        NodeSpec::Majority,
        NodeSpec::MinorityThird,
        NodeSpec::Primaries,
        NodeSpec::All,
    ];

    /// How many nodes a random spec picks out of `n` (`None` for primaries and lists).
    pub fn count(&self, n: usize) -> Option<usize> {
        match self {
            NodeSpec::One => Some(1.min(n)),
            NodeSpec::Minority => Some(majority(n) - 1),
            NodeSpec::Majority => Some(majority(n).min(n)),
            NodeSpec::MinorityThird => Some(minority_third(n).min(n)),
            NodeSpec::All => Some(n),
            NodeSpec::Primaries | NodeSpec::Nodes(_) => None,
        }
    }

    /// The concrete nodes. `leaders` is consulted only for `Primaries`.
    pub fn resolve(
        &self,
        nodes: &[NodeId],
        rng: &mut impl Rng,
        leaders: impl FnOnce() -> BTreeSet<NodeId>,
    ) -> BTreeSet<NodeId> {
        match self {
            NodeSpec::Primaries => leaders()
                .into_iter()
                .filter(|l| nodes.contains(l))
                .collect(),
            NodeSpec::Nodes(set) => set.iter().copied().filter(|n| nodes.contains(n)).collect(),
            spec => {
                let k = spec.count(nodes.len()).expect("random specs have a count");
                let mut order = nodes.to_vec();
                order.shuffle(rng);
                order.into_iter().take(k).collect()
            }
        }
    }
}

impl fmt::Display for NodeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeSpec::One => f.write_str("one"),
            NodeSpec::Minority => f.write_str("minority"),
            NodeSpec::Majority => f.write_str("majority"),
            NodeSpec::MinorityThird => f.write_str("minority-third"),
            NodeSpec::Primaries => f.write_str("primaries"),
            NodeSpec::All => f.write_str("all"),
            NodeSpec::Nodes(set) => {
                let names: Vec<String> = set.iter().map(NodeId::to_string).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl std::str::FromStr for NodeSpec {
    type Err = String;
    /// `one`, `minority`, `majority`, `minority-third`, `primaries`, `all`, or a list of
    /// node names `n1,n3`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(named) = NodeSpec::NAMED.iter().find(|n| n.to_string() == s) {
            return Ok(named.clone());
        }
        let nodes: Result<BTreeSet<NodeId>, String> =
            s.split(',').map(|p| p.trim().parse::<NodeId>()).collect();
        match nodes {
            Ok(set) if !set.is_empty() => Ok(NodeSpec::Nodes(set)),
            _ => Err(format!(
                "unknown node spec {s:?}; one of one, minority, majority, minority-third, \
                 primaries, all, or node names like n1,n3"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn sizes_follow_jepsen() {
        let nodes: Vec<NodeId> = (1..=5).map(NodeId::nth).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let none = BTreeSet::new;
        assert_eq!(NodeSpec::One.resolve(&nodes, &mut rng, none).len(), 1);
        assert_eq!(NodeSpec::Minority.resolve(&nodes, &mut rng, none).len(), 2);
        assert_eq!(NodeSpec::Majority.resolve(&nodes, &mut rng, none).len(), 3);
        assert_eq!(
            NodeSpec::MinorityThird
                .resolve(&nodes, &mut rng, none)
                .len(),
            1
        );
        assert_eq!(NodeSpec::All.resolve(&nodes, &mut rng, none).len(), 5);
        let leader = || [NodeId::nth(4), NodeId::nth(9)].into_iter().collect();
        assert_eq!(
            NodeSpec::Primaries.resolve(&nodes, &mut rng, leader),
            [NodeId::nth(4)].into_iter().collect(),
            "unknown nodes are dropped"
        );
    }

    #[test]
    fn same_seed_same_choice() {
        let nodes: Vec<NodeId> = (1..=9).map(NodeId::nth).collect();
        let pick = |seed| {
            NodeSpec::Majority.resolve(&nodes, &mut ChaCha8Rng::seed_from_u64(seed), BTreeSet::new)
        };
        assert_eq!(pick(1), pick(1));
    }

    #[test]
    fn parse_round_trips() {
        for s in [
            "one",
            "minority",
            "majority",
            "minority-third",
            "primaries",
            "all",
            "n1,n3",
        ] {
            assert_eq!(s.parse::<NodeSpec>().unwrap().to_string(), s);
        }
        assert!("n0".parse::<NodeSpec>().is_err());
        assert!("most".parse::<NodeSpec>().is_err());
    }
}
