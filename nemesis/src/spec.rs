//! Node specs: which nodes a kill, pause or loss fault hits (Jepsen's `db-nodes`).
//!
//! ```text
//! NodeSpec + nodes + seeded rng (+ leaders for `primaries`) ──resolve──► BTreeSet<NodeId>
//! ```
//!
//! Sizes: one = 1, minority = majority(n) − 1, majority = majority(n),
//! minority-third = max(1, (n−1)/3), primaries = whatever the leader query says,
//! all = n. Pure given the rng.
//!
//! Two specs name a run's *service nodes* (the election workload's candidates) instead
//! of the system's: `leader-candidate`, the candidates that believe they lead now (one
//! per election: the leader query's service nodes), and `candidate`, one candidate
//! drawn at random. Every other spec picks among the system's nodes only.

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
    /// The service nodes that lead (election candidates that believe they lead).
    LeaderCandidate,
    /// One service node (an election candidate) at random.
    Candidate,
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

    /// The specs that pick among a run's service nodes.
    pub const CANDIDATES: [NodeSpec; 2] = [NodeSpec::LeaderCandidate, NodeSpec::Candidate];

    /// Whether the spec picks among the service nodes (candidates).
    pub fn is_candidates(&self) -> bool {
        matches!(self, NodeSpec::LeaderCandidate | NodeSpec::Candidate)
    }

    /// How many nodes a random spec picks out of `n` (`None` for primaries, candidates
    /// and lists).
    pub fn count(&self, n: usize) -> Option<usize> {
        match self {
            NodeSpec::One => Some(1.min(n)),
            NodeSpec::Minority => Some(majority(n) - 1),
            NodeSpec::Majority => Some(majority(n).min(n)),
            NodeSpec::MinorityThird => Some(minority_third(n).min(n)),
            NodeSpec::All => Some(n),
            NodeSpec::Primaries
            | NodeSpec::LeaderCandidate
            | NodeSpec::Candidate
            | NodeSpec::Nodes(_) => None,
        }
    }

    /// The concrete nodes: `nodes` are the system's, `services` the service nodes.
    /// `leaders` (every node that leads: the system's leaders and the leading service
    /// nodes) is consulted only for `Primaries` and `LeaderCandidate`.
    pub fn resolve(
        &self,
        nodes: &[NodeId],
        services: &[NodeId],
        rng: &mut impl Rng,
        leaders: impl FnOnce() -> BTreeSet<NodeId>,
    ) -> BTreeSet<NodeId> {
        match self {
            NodeSpec::Primaries => leaders()
                .into_iter()
                .filter(|l| nodes.contains(l))
                .collect(),
            NodeSpec::LeaderCandidate => leaders()
                .into_iter()
                .filter(|l| services.contains(l))
                .collect(),
            NodeSpec::Candidate => services.choose(rng).copied().into_iter().collect(),
            NodeSpec::Nodes(set) => set
                .iter()
                .copied()
                .filter(|n| nodes.contains(n) || services.contains(n))
                .collect(),
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
            NodeSpec::LeaderCandidate => f.write_str("leader-candidate"),
            NodeSpec::Candidate => f.write_str("candidate"),
            NodeSpec::Nodes(set) => {
                let names: Vec<String> = set.iter().map(NodeId::to_string).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl std::str::FromStr for NodeSpec {
    type Err = String;
    /// `one`, `minority`, `majority`, `minority-third`, `primaries`, `all`,
    /// `leader-candidate`, `candidate`, or a list of node names `n1,n3`.
    fn from_str(s: &str) -> Result<Self, String> {
        let known = NodeSpec::NAMED.iter().chain(&NodeSpec::CANDIDATES);
        if let Some(named) = known.into_iter().find(|n| n.to_string() == s) {
            return Ok(named.clone());
        }
        let nodes: Result<BTreeSet<NodeId>, String> =
            s.split(',').map(|p| p.trim().parse::<NodeId>()).collect();
        match nodes {
            Ok(set) if !set.is_empty() => Ok(NodeSpec::Nodes(set)),
            _ => Err(format!(
                "unknown node spec {s:?}; one of one, minority, majority, minority-third, \
                 primaries, all, leader-candidate, candidate, or node names like n1,n3"
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
        let no_services: &[NodeId] = &[];
        assert_eq!(
            NodeSpec::One
                .resolve(&nodes, no_services, &mut rng, none)
                .len(),
            1
        );
        assert_eq!(
            NodeSpec::Minority
                .resolve(&nodes, no_services, &mut rng, none)
                .len(),
            2
        );
        assert_eq!(
            NodeSpec::Majority
                .resolve(&nodes, no_services, &mut rng, none)
                .len(),
            3
        );
        assert_eq!(
            NodeSpec::MinorityThird
                .resolve(&nodes, no_services, &mut rng, none)
                .len(),
            1
        );
        assert_eq!(
            NodeSpec::All
                .resolve(&nodes, no_services, &mut rng, none)
                .len(),
            5
        );
        let leader = || [NodeId::nth(4), NodeId::nth(9)].into_iter().collect();
        assert_eq!(
            NodeSpec::Primaries.resolve(&nodes, no_services, &mut rng, leader),
            [NodeId::nth(4)].into_iter().collect(),
            "unknown nodes are dropped"
        );
    }

    #[test]
    fn candidate_specs_pick_among_the_service_nodes_only() {
        let nodes: Vec<NodeId> = (1..=3).map(NodeId::nth).collect();
        let services: Vec<NodeId> = (4..=9).map(NodeId::nth).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // n2 leads the system, n5 and n8 believe they lead their elections.
        let leading = || [2, 5, 8].into_iter().map(NodeId::nth).collect();
        assert_eq!(
            NodeSpec::LeaderCandidate.resolve(&nodes, &services, &mut rng, leading),
            [NodeId::nth(5), NodeId::nth(8)].into_iter().collect()
        );
        assert_eq!(
            NodeSpec::Primaries.resolve(&nodes, &services, &mut rng, leading),
            [NodeId::nth(2)].into_iter().collect()
        );
        for _ in 0..20 {
            let one = NodeSpec::Candidate.resolve(&nodes, &services, &mut rng, BTreeSet::new);
            assert_eq!(one.len(), 1);
            assert!(services.contains(one.first().unwrap()));
            let sys = NodeSpec::Majority.resolve(&nodes, &services, &mut rng, BTreeSet::new);
            assert!(sys.iter().all(|n| nodes.contains(n)), "{sys:?}");
        }
        // No service nodes: nothing to hit (the fault is then skipped).
        assert!(NodeSpec::Candidate
            .resolve(&nodes, &[], &mut rng, BTreeSet::new)
            .is_empty());
    }

    #[test]
    fn same_seed_same_choice() {
        let nodes: Vec<NodeId> = (1..=9).map(NodeId::nth).collect();
        let pick = |seed| {
            NodeSpec::Majority.resolve(
                &nodes,
                &[],
                &mut ChaCha8Rng::seed_from_u64(seed),
                BTreeSet::new,
            )
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
            "leader-candidate",
            "candidate",
            "n1,n3",
        ] {
            assert_eq!(s.parse::<NodeSpec>().unwrap().to_string(), s);
        }
        assert!("n0".parse::<NodeSpec>().is_err());
        assert!("most".parse::<NodeSpec>().is_err());
    }
}
