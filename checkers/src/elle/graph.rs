//! [`DepGraph`]: the transaction dependency graph, on petgraph. One node per
//! transaction (failed ones stay isolated), one edge per inferred dependency, labelled
//! with its [`Rel`]; two transactions may be joined by several parallel edges.
//!
//! ```text
//! Index ─ww: consecutive appends in each key's version order
//!       ─wr: writer of a read's last element → the reader
//!       ─rw: readers of the version an append overwrote → the appender
//!       ─process: consecutive transactions of one process
//!       ─realtime: a transitive reduction of "completed before invoked"
//!   ──► DepGraph ──kosaraju_scc──► components (SCCs of ≥ 2 transactions)
//! ```
//!
//! Invariants: no self-edges; only transactions that did not fail take part; only ok
//! transactions precede others in real time (an indeterminate one never completed).
//!
//! References: Adya, "Weak Consistency" §3.1; Elle's `elle.list-append/graph` and
//! `elle.core/realtime-graph` (the transitive reduction via a frontier of completions).

use petgraph::graph::{DiGraph, NodeIndex};

use super::index::{Index, TxnId};
use super::{Outcome, Rel};

/// Edge counts per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EdgeCounts {
    pub ww: u64,
    pub wr: u64,
    pub rw: u64,
    pub process: u64,
    pub realtime: u64,
}

/// The dependency graph. Node `i` is transaction `i` of the checked slice.
pub(crate) struct DepGraph {
    pub g: DiGraph<TxnId, Rel, u32>,
    pub counts: EdgeCounts,
}

impl DepGraph {
    /// Infers every dependency the index supports.
    pub fn build(ix: &Index<'_>) -> DepGraph {
        let n = ix.txns.len();
        let mut edges: Vec<(u32, u32, Rel)> = Vec::with_capacity(n * 4);
        data_edges(ix, &mut edges);
        process_edges(ix, &mut edges);
        realtime_edges(ix, &mut edges);
        let mut g = DiGraph::with_capacity(n, edges.len());
        for t in 0..n {
            g.add_node(t as TxnId);
        }
        let mut counts = EdgeCounts::default();
        for (a, b, rel) in edges {
            debug_assert_ne!(a, b, "no self-edges");
            match rel {
                Rel::Ww => counts.ww += 1,
                Rel::Wr => counts.wr += 1,
                Rel::Rw => counts.rw += 1,
                Rel::Process => counts.process += 1,
                Rel::Realtime => counts.realtime += 1,
            }
            g.add_edge(NodeIndex::new(a as usize), NodeIndex::new(b as usize), rel);
        }
        DepGraph { g, counts }
    }

    /// Strongly connected components with at least two transactions (the only places
    /// a cycle can be), each sorted, smallest component first.
    pub fn components(&self) -> Vec<Vec<TxnId>> {
        let mut sccs: Vec<Vec<TxnId>> = petgraph::algo::kosaraju_scc(&self.g)
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let mut c: Vec<TxnId> = c.into_iter().map(|n| n.index() as TxnId).collect();
                c.sort_unstable();
                c
            })
            .collect();
        sccs.sort_by_key(|c| (c.len(), c[0]));
        sccs
    }
}

fn data_edges(ix: &Index<'_>, edges: &mut Vec<(u32, u32, Rel)>) {
    for (k, order) in ix.orders.iter().enumerate() {
        let k = k as u32;
        // ww along the version order, then from the last element's writer to every
        // unobserved append.
        let mut prev: Option<TxnId> = None;
        for &e in &order.elems {
            let w = ix.writer(k, e).map(|w| w.txn).filter(|&t| ix.possible(t));
            if let (Some(a), Some(b)) = (prev, w) {
                if a != b {
                    edges.push((a, b, Rel::Ww));
                }
            }
            prev = w;
        }
        for &(t, _) in &order.unobserved {
            if let Some(a) = prev {
                if a != t {
                    edges.push((a, t, Rel::Ww));
                }
            }
        }
    }
    // wr: the writer of each read's last element → the reader.
    for r in &ix.reads {
        let Some(&last) = ix.read_elems(r.txn, r.mop).last() else {
            continue;
        };
        if let Some(w) = ix.writer(r.key, last) {
            if w.txn != r.txn && ix.possible(w.txn) {
                edges.push((w.txn, r.txn, Rel::Wr));
            }
        }
    }
    // rw: readers of the version right before each append → the appender.
    for (t, txn) in ix.txns.iter().enumerate() {
        if txn.outcome == Outcome::Fail {
            continue;
        }
        let t = t as TxnId;
        for (m, op) in txn.ops.iter().enumerate() {
            if let super::MicroOp::Append { elem, .. } = op {
                let k = ix.mop_keys(t)[m];
                let v = ix.version_of_append(k, *elem);
                for r in ix.readers_of(k, v) {
                    if r.txn != t {
                        edges.push((r.txn, t, Rel::Rw));
                    }
                }
            }
        }
    }
}

fn process_edges(ix: &Index<'_>, edges: &mut Vec<(u32, u32, Rel)>) {
    let mut ids: Vec<TxnId> = ix
        .by_invoke
        .iter()
        .copied()
        .filter(|&t| ix.possible(t))
        .collect();
    ids.sort_by_key(|&t| ix.txn(t).process); // stable: keeps invocation order per process
    for w in ids.windows(2) {
        if ix.txn(w[0]).process == ix.txn(w[1]).process {
            edges.push((w[0], w[1], Rel::Process));
        }
    }
}

fn realtime_edges(ix: &Index<'_>, edges: &mut Vec<(u32, u32, Rel)>) {
    // Events in history order: (index, completion?, txn).
    let mut events: Vec<(u64, bool, TxnId)> = Vec::with_capacity(ix.txns.len() * 2);
    for (t, txn) in ix.txns.iter().enumerate() {
        if txn.outcome == Outcome::Fail {
            continue;
        }
        events.push((txn.invoke.index, false, t as TxnId));
        if let (Outcome::Ok, Some(c)) = (txn.outcome, txn.complete) {
            events.push((c.index, true, t as TxnId));
        }
    }
    events.sort_unstable();
    // Completed transactions no later completion has been ordered after yet, with
    // their completion index. Every completed transaction reaches every later
    // invocation through edges from this frontier.
    let mut frontier: Vec<(TxnId, u64)> = Vec::new();
    for (at, done, t) in events {
        if done {
            let invoked = ix.txn(t).invoke.index;
            frontier.retain(|&(_, c)| c > invoked);
            frontier.push((t, at));
        } else {
            edges.extend(frontier.iter().map(|&(a, _)| (a, t, Rel::Realtime)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::{MicroOp as M, Txn};

    fn edges(g: &DepGraph) -> Vec<(u32, u32, Rel)> {
        let mut v: Vec<_> =
            g.g.raw_edges()
                .iter()
                .map(|e| {
                    (
                        e.source().index() as u32,
                        e.target().index() as u32,
                        e.weight,
                    )
                })
                .collect();
        v.sort();
        v
    }

    #[test]
    fn data_edges_follow_the_version_order() {
        // T0 appends 1, T1 appends 2 and reads [1 2], T2 read [1] (before T1's append),
        // T3 appends 3, never read.
        let txns = vec![
            Txn::ok(0, 0, 1, vec![M::append(7, 1)]),
            Txn::ok(1, 2, 9, vec![M::append(7, 2), M::read(7, [1, 2])]),
            Txn::ok(2, 3, 8, vec![M::read(7, [1])]),
            Txn::ok(3, 4, 7, vec![M::append(7, 3)]),
        ];
        let ix = Index::build(&txns);
        let g = DepGraph::build(&ix);
        let data: Vec<_> = edges(&g)
            .into_iter()
            .filter(|e| matches!(e.2, Rel::Ww | Rel::Wr | Rel::Rw))
            .collect();
        assert_eq!(
            data,
            vec![
                (0, 1, Rel::Ww),
                (0, 2, Rel::Wr),
                (1, 3, Rel::Ww),
                (1, 3, Rel::Rw),
                (2, 1, Rel::Rw),
            ]
        );
    }

    #[test]
    fn realtime_edges_are_a_transitive_reduction() {
        // ==0==       ==2== ==4==
        //       ==1==
        //         ==3===
        let t = |p, i, c| Txn::ok(p, i, c, vec![M::read(p as i64, [])]);
        let txns = vec![t(0, 0, 1), t(1, 2, 4), t(2, 5, 6), t(3, 3, 7), t(4, 8, 9)];
        let ix = Index::build(&txns);
        let g = DepGraph::build(&ix);
        let rt: Vec<_> = edges(&g)
            .into_iter()
            .filter(|e| e.2 == Rel::Realtime)
            .map(|(a, b, _)| (a, b))
            .collect();
        assert_eq!(rt, vec![(0, 1), (0, 3), (1, 2), (2, 4), (3, 4)]);
        assert!(g.components().is_empty());
    }

    #[test]
    fn process_edges_skip_failed_transactions() {
        let txns = vec![
            Txn::ok(5, 0, 1, vec![M::append(1, 1)]),
            Txn::fail(5, 2, 3, vec![M::append(1, 2)]),
            Txn::info(5, 4, None, vec![M::append(1, 3)]),
            Txn::ok(6, 5, 6, vec![M::append(1, 4)]),
        ];
        let ix = Index::build(&txns);
        let g = DepGraph::build(&ix);
        let p: Vec<_> = edges(&g)
            .into_iter()
            .filter(|e| e.2 == Rel::Process)
            .collect();
        assert_eq!(p, vec![(0, 2, Rel::Process)]);
        assert_eq!(g.counts.process, 1);
    }
}
