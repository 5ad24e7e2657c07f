//! Grudges: who drops packets from whom. Pure functions, after Jepsen's
//! `jepsen.nemesis` (`complete-grudge`, `bisect`, `bridge`, `majorities-ring`).
//!
//! ```text
//! node order (shuffled by the caller's seeded rng) ──► PartitionKind ──► Grudge
//! Grudge { n1: {n4, n5}, … }   "n1 drops packets from n4 and n5"
//! ```
//!
//! Invariants: a grudge never names a node against itself; maps are ordered (BTreeMap),
//! so rendering and events are deterministic. Randomness is not in here: callers pass
//! the node order (shuffled with the run's seed) — pure functions of their input.
//!
//! Reachability over TCP needs both directions, so the pairs that can talk under a
//! grudge `g` are those where neither drops from the other ([`Grudge::can_talk`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use runtime::NodeId;
use serde::{Deserialize, Serialize};

/// Node → the nodes it drops packets from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grudge(pub BTreeMap<NodeId, BTreeSet<NodeId>>);

impl Grudge {
    /// The nodes `node` drops packets from (empty if none).
    pub fn drops(&self, node: NodeId) -> BTreeSet<NodeId> {
        self.0.get(&node).cloned().unwrap_or_default()
    }

    /// Whether packets from `from` reach `to`.
    pub fn passes(&self, from: NodeId, to: NodeId) -> bool {
        !self.0.get(&to).is_some_and(|s| s.contains(&from))
    }

    /// Whether a TCP round trip between `a` and `b` works (both directions pass).
    pub fn can_talk(&self, a: NodeId, b: NodeId) -> bool {
        self.passes(a, b) && self.passes(b, a)
    }

    /// Whether nothing is dropped.
    pub fn is_empty(&self) -> bool {
        self.0.values().all(BTreeSet::is_empty)
    }

    /// Every node that drops something or is dropped by someone.
    pub fn affected(&self) -> BTreeSet<NodeId> {
        self.0
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .flat_map(|(n, s)| std::iter::once(*n).chain(s.iter().copied()))
            .collect()
    }

    /// The grudge by node name over every node of the cluster, as the history records it.
    pub fn names(&self, nodes: &[NodeId]) -> checkers::faults::GrudgeMap {
        nodes
            .iter()
            .map(|n| {
                let from = self.drops(*n).iter().map(NodeId::to_string).collect();
                (n.to_string(), from)
            })
            .collect()
    }

    fn add(&mut self, node: NodeId, from: NodeId) {
        if node != from {
            self.0.entry(node).or_default().insert(from);
        }
    }
}

impl fmt::Display for Grudge {
    /// `n1<-{n4,n5} n2<-{n4,n5}`: for event logs and the terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(n, s)| {
                let from: Vec<String> = s.iter().map(NodeId::to_string).collect();
                format!("{n}<-{{{}}}", from.join(","))
            })
            .collect();
        if parts.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// The partitions the nemesis knows how to compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionKind {
    /// Isolate one node from all others.
    One,
    /// First half (rounded down) against the rest, in the given order.
    Halves,
    /// Halves of a shuffled order.
    RandomHalves,
    /// A random minority against the majority (what Jepsen calls `:majority`).
    Majority,
    /// Cut off a random minority third: `max(1, (n-1)/3)` nodes.
    MinorityThird,
    /// Every node sees a majority, no two nodes the same majority.
    MajoritiesRing,
    /// Two halves joined by one node that sees everyone.
    Bridge,
    /// Isolate the current primaries (leaders) from everyone else.
    Primaries,
    /// One-way: nodes in a random half drop packets from the other half (asymmetric).
    OneWay,
    /// Cut the service nodes that lead (election candidates that believe they lead) off
    /// from every system node; they still reach the controller (the fenced resource)
    /// and each other. Not among [`PartitionKind::ALL`]: only runs with candidates use it.
    LeaderCandidate,
}

impl PartitionKind {
    pub const ALL: [PartitionKind; 9] = [
        PartitionKind::One,
        PartitionKind::Halves,
        PartitionKind::RandomHalves,
        PartitionKind::Majority,
        PartitionKind::MinorityThird,
        PartitionKind::MajoritiesRing,
        PartitionKind::Bridge,
        PartitionKind::Primaries,
        PartitionKind::OneWay,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PartitionKind::One => "one",
            PartitionKind::Halves => "halves",
            PartitionKind::RandomHalves => "random-halves",
            PartitionKind::Majority => "majority",
            PartitionKind::MinorityThird => "minority-third",
            PartitionKind::MajoritiesRing => "majorities-ring",
            PartitionKind::Bridge => "bridge",
            PartitionKind::Primaries => "primaries",
            PartitionKind::OneWay => "one-way",
            PartitionKind::LeaderCandidate => "leader-candidate",
        }
    }

    /// Whether the node order matters and should be shuffled by the caller.
    pub fn is_random(self) -> bool {
        !matches!(
            self,
            PartitionKind::Halves | PartitionKind::Primaries | PartitionKind::LeaderCandidate
        )
    }
}

impl fmt::Display for PartitionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for PartitionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let known = || {
            PartitionKind::ALL
                .into_iter()
                .chain([PartitionKind::LeaderCandidate])
        };
        known().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = known().map(|k| k.name()).collect();
            format!("unknown partition kind {s:?}; one of: {}", names.join(", "))
        })
    }
}

/// Smallest integer strictly greater than half of `n`.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Jepsen's `minority-third`, `(n-1)/3`, but at least 1 so the fault does something.
pub fn minority_third(n: usize) -> usize {
    (n.saturating_sub(1) / 3).max(1)
}

/// Each node drops packets from every node outside its own component.
pub fn complete(components: &[Vec<NodeId>]) -> Grudge {
    let mut g = Grudge::default();
    for (i, comp) in components.iter().enumerate() {
        for node in comp {
            for (j, other) in components.iter().enumerate() {
                if i != j {
                    for from in other {
                        g.add(*node, *from);
                    }
                }
            }
        }
    }
    g
}

/// Splits `nodes` into the first `floor(n/2)` and the rest (Jepsen's `bisect`).
pub fn bisect(nodes: &[NodeId]) -> (Vec<NodeId>, Vec<NodeId>) {
    let (a, b) = nodes.split_at(nodes.len() / 2);
    (a.to_vec(), b.to_vec())
}

/// Isolates `node` from the rest.
pub fn isolate(nodes: &[NodeId], node: NodeId) -> Grudge {
    let rest: Vec<NodeId> = nodes.iter().copied().filter(|n| *n != node).collect();
    complete(&[vec![node], rest])
}

/// First half against second half.
pub fn halves(nodes: &[NodeId]) -> Grudge {
    let (a, b) = bisect(nodes);
    complete(&[a, b])
}

/// The first `k` nodes against the rest.
pub fn split_at(nodes: &[NodeId], k: usize) -> Grudge {
    let (a, b) = nodes.split_at(k.min(nodes.len()));
    complete(&[a.to_vec(), b.to_vec()])
}

/// Halves, with the first node of the second half as a bridge that sees everyone and
/// whom everyone sees.
pub fn bridge(nodes: &[NodeId]) -> Grudge {
    let (a, b) = bisect(nodes);
    let Some(&bridge) = b.first() else {
        return Grudge::default();
    };
    let mut g = complete(&[a, b]);
    g.0.remove(&bridge);
    for set in g.0.values_mut() {
        set.remove(&bridge);
    }
    g
}

/// Each node sees the window of `majority(n)` consecutive nodes (in ring order) centred
/// on itself and drops packets from the rest (Jepsen's `majorities-ring-perfect`).
pub fn majorities_ring(nodes: &[NodeId]) -> Grudge {
    let n = nodes.len();
    let m = majority(n);
    let mut g = Grudge::default();
    if n < 3 {
        return g;
    }
    for (c, node) in nodes.iter().enumerate() {
        let start = c + n - m / 2;
        let window: BTreeSet<NodeId> = (0..m).map(|k| nodes[(start + k) % n]).collect();
        for other in nodes {
            if !window.contains(other) {
                g.add(*node, *other);
            }
        }
    }
    g
}

/// Isolates the primaries, as a group, from everyone else.
pub fn primaries(nodes: &[NodeId], primaries: &BTreeSet<NodeId>) -> Grudge {
    let (p, rest): (Vec<NodeId>, Vec<NodeId>) = nodes.iter().partition(|n| primaries.contains(n));
    complete(&[p, rest])
}

/// Cuts `outsiders` (nodes not in `nodes`, such as election candidates) off from every
/// node of `nodes`, both ways; outsiders still talk to each other.
pub fn cut_off(nodes: &[NodeId], outsiders: &BTreeSet<NodeId>) -> Grudge {
    let outsiders: Vec<NodeId> = outsiders.iter().copied().collect();
    if outsiders.is_empty() {
        return Grudge::default();
    }
    let mut g = one_way(nodes, &outsiders);
    for o in &outsiders {
        for n in nodes {
            g.add(*o, *n);
        }
    }
    g
}

/// Every node in `receivers` drops packets from every node in `senders`; the other
/// direction still flows.
pub fn one_way(receivers: &[NodeId], senders: &[NodeId]) -> Grudge {
    let mut g = Grudge::default();
    for r in receivers {
        for s in senders {
            g.add(*r, *s);
        }
    }
    g
}

/// The grudge of a kind over a node order (already shuffled by the caller when the kind
/// is random). `Primaries` needs the leaders: use [`primaries`].
pub fn compute(kind: PartitionKind, order: &[NodeId], leaders: &BTreeSet<NodeId>) -> Grudge {
    match kind {
        PartitionKind::One => order
            .first()
            .map(|n| isolate(order, *n))
            .unwrap_or_default(),
        PartitionKind::Halves | PartitionKind::RandomHalves | PartitionKind::Majority => {
            halves(order)
        }
        PartitionKind::MinorityThird => split_at(order, minority_third(order.len())),
        PartitionKind::MajoritiesRing => majorities_ring(order),
        PartitionKind::Bridge => bridge(order),
        PartitionKind::Primaries => primaries(order, leaders),
        // Service nodes are not in `order`: the nemesis cuts them with `cut_off`.
        PartitionKind::LeaderCandidate => Grudge::default(),
        PartitionKind::OneWay => {
            let (a, b) = bisect(order);
            one_way(&a, &b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: u16) -> Vec<NodeId> {
        (1..=n).map(NodeId::nth).collect()
    }

    fn set(ids: &[u16]) -> BTreeSet<NodeId> {
        ids.iter().map(|i| NodeId::nth(*i)).collect()
    }

    #[test]
    fn complete_and_isolate() {
        let g = isolate(&nodes(3), NodeId::nth(2));
        assert_eq!(g.drops(NodeId::nth(2)), set(&[1, 3]));
        assert_eq!(g.drops(NodeId::nth(1)), set(&[2]));
        assert!(g.can_talk(NodeId::nth(1), NodeId::nth(3)));
        assert!(!g.can_talk(NodeId::nth(1), NodeId::nth(2)));
        assert_eq!(g.to_string(), "n1<-{n2} n2<-{n1,n3} n3<-{n2}");
    }

    #[test]
    fn a_leading_candidate_is_cut_off_from_the_system_only() {
        let g = cut_off(&nodes(3), &set(&[5, 7]));
        assert_eq!(g.drops(NodeId::nth(5)), set(&[1, 2, 3]));
        assert_eq!(g.drops(NodeId::nth(2)), set(&[5, 7]));
        assert!(g.can_talk(NodeId::nth(5), NodeId::nth(7)));
        assert!(g.can_talk(NodeId::nth(1), NodeId::nth(3)));
        assert!(cut_off(&nodes(3), &BTreeSet::new()).is_empty());
        assert_eq!(
            "leader-candidate".parse::<PartitionKind>(),
            Ok(PartitionKind::LeaderCandidate)
        );
        assert!(!PartitionKind::ALL.contains(&PartitionKind::LeaderCandidate));
    }

    #[test]
    fn halves_put_the_smaller_side_first() {
        let g = halves(&nodes(5));
        assert_eq!(g.drops(NodeId::nth(1)), set(&[3, 4, 5]));
        assert_eq!(g.drops(NodeId::nth(5)), set(&[1, 2]));
    }

    #[test]
    fn bridge_node_sees_and_is_seen_by_everyone() {
        let g = bridge(&nodes(5));
        assert!(g.drops(NodeId::nth(3)).is_empty());
        for n in nodes(5) {
            assert!(!g.drops(n).contains(&NodeId::nth(3)));
        }
        assert_eq!(g.drops(NodeId::nth(1)), set(&[4, 5]));
        assert_eq!(g.drops(NodeId::nth(4)), set(&[1, 2]));
    }

    #[test]
    fn majorities_ring_every_node_sees_a_distinct_majority() {
        for n in [3u16, 5, 7, 9] {
            let all = nodes(n);
            let g = majorities_ring(&all);
            let mut seen_sets = BTreeSet::new();
            for node in &all {
                let sees: BTreeSet<NodeId> = all
                    .iter()
                    .copied()
                    .filter(|o| !g.drops(*node).contains(o))
                    .collect();
                assert!(sees.contains(node), "n={n}: {node} sees itself");
                assert_eq!(
                    sees.len(),
                    majority(all.len()),
                    "n={n}: {node} sees a majority"
                );
                assert!(
                    seen_sets.insert(sees),
                    "n={n}: {node}'s majority is not unique"
                );
            }
        }
    }

    #[test]
    fn majorities_ring_of_five_is_the_neighbourhood() {
        let g = majorities_ring(&nodes(5));
        assert_eq!(g.drops(NodeId::nth(1)), set(&[3, 4]));
        assert_eq!(g.drops(NodeId::nth(3)), set(&[1, 5]));
    }

    #[test]
    fn minority_third_sizes() {
        assert_eq!([3, 4, 5, 7, 9, 10].map(minority_third), [1, 1, 1, 2, 2, 3]);
        let g = compute(PartitionKind::MinorityThird, &nodes(7), &BTreeSet::new());
        assert_eq!(g.drops(NodeId::nth(1)), set(&[3, 4, 5, 6, 7]));
    }

    #[test]
    fn primaries_are_isolated_together() {
        let g = primaries(&nodes(5), &set(&[2, 4]));
        assert!(g.can_talk(NodeId::nth(2), NodeId::nth(4)));
        assert!(!g.can_talk(NodeId::nth(2), NodeId::nth(1)));
        assert!(g.can_talk(NodeId::nth(1), NodeId::nth(5)));
        assert!(primaries(&nodes(5), &BTreeSet::new()).is_empty());
    }

    #[test]
    fn one_way_drops_only_one_direction() {
        let g = one_way(&[NodeId::nth(1)], &[NodeId::nth(2)]);
        assert!(!g.passes(NodeId::nth(2), NodeId::nth(1)));
        assert!(g.passes(NodeId::nth(1), NodeId::nth(2)));
        assert!(!g.can_talk(NodeId::nth(1), NodeId::nth(2)));
    }

    #[test]
    fn every_kind_is_well_formed_for_any_order() {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        for seed in 0..20u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            for n in 3u16..=9 {
                let mut order = nodes(n);
                order.shuffle(&mut rng);
                let leaders = set(&[1]);
                for kind in PartitionKind::ALL {
                    let g = compute(kind, &order, &leaders);
                    assert!(!g.is_empty(), "seed {seed} n={n} {kind} cuts nothing");
                    for (node, from) in &g.0 {
                        assert!(!from.contains(node), "{kind}: {node} drops itself");
                    }
                    let symmetric = order
                        .iter()
                        .all(|a| order.iter().all(|b| g.passes(*a, *b) == g.passes(*b, *a)));
                    match kind {
                        PartitionKind::OneWay => assert!(!symmetric, "{kind} is asymmetric"),
                        // The ring of an even size has one-way edges by construction.
                        PartitionKind::MajoritiesRing => {}
                        _ => assert!(symmetric, "seed {seed} n={n} {kind} is symmetric"),
                    }
                }
            }
        }
    }

    #[test]
    fn kinds_parse_by_name() {
        for k in PartitionKind::ALL {
            assert_eq!(k.name().parse::<PartitionKind>(), Ok(k));
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.name())
            );
        }
        assert!("nope"
            .parse::<PartitionKind>()
            .unwrap_err()
            .contains("majorities-ring"));
    }
}
