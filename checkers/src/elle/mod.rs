//! Elle-style checking of list-append transaction histories: which isolation
//! anomalies does a history of transactions over append-only lists exhibit, and does
//! it satisfy a consistency model?
//!
//! Linearizability per key cannot see what goes wrong *between* keys. Elle (Kingsbury
//! & Alvaro, "Elle: Inferring Isolation Anomalies from Experimental Observations",
//! VLDB 2020) can: when every write appends a unique value to a list, every read
//! reveals the order of all appends before it, so the version order of each key is
//! known, and with it Adya's dependency graph between transactions. A cycle in that
//! graph is an anomaly, classified by its edges (G0, G1c, G-single, G-nonadjacent,
//! G2-item and their `-process`/`-realtime` variants); reads that no version order
//! explains are anomalies of their own (G1a, G1b, dirty update, duplicates,
//! incompatible orders, internal and future reads, lost appends).
//!
//! ```text
//! history (jsonl / edn) ─txns_from_records─► [Txn] ─Index::build─► version orders,
//!     writers, readers ─┬─► per-read / per-txn checks ─────────────────► anomalies
//!                       └─► DepGraph (petgraph: ww wr rw process realtime)
//!                             ─kosaraju─► components ─search (Budget)──► cycles
//!   anomalies + cycles ─ConsistencyModel─► ElleReport { valid, not, satisfies, … }
//! ```
//!
//! A ten-line tour (a write skew: each transaction missed the other's append):
//! ```
//! use checkers::elle::{check, Budget, ConsistencyModel, MicroOp, Options, Txn};
//! use checkers::verdict::Validity;
//!
//! let txns = vec![
//!     Txn::ok(0, 0, 2, vec![MicroOp::read("x", []), MicroOp::append("y", 1)]),
//!     Txn::ok(1, 1, 3, vec![MicroOp::read("y", []), MicroOp::append("x", 1)]),
//! ];
//! let report = check(&txns, &Options::default(), Budget::default());
//! assert_eq!(report.valid, Validity::Invalid);
//! assert_eq!(report.anomaly_types[0].to_string(), "G2-item");
//! assert_eq!(report.satisfies, vec![ConsistencyModel::SnapshotIsolation]);
//! ```
//!
//! [`ListAppend`] wraps [`check`] as a [`Checker`](crate::check::Checker) for runs.
//!
//! Invariants: the check is pure (no I/O; the clock is read only to enforce the
//! budget) and deterministic for a given budget outcome; iteration order never depends
//! on hashing.
//!
//! References: Kingsbury & Alvaro, VLDB 2020 (§4 inference, §5 cycles); Adya, "Weak
//! Consistency: A Generalized Theory and Optimistic Implementations for Distributed
//! Transactions" (MIT, 1999); Elle's `elle.list-append`, `elle.txn`,
//! `elle.consistency-model`.

mod anomaly;
mod budget;
mod checker;
mod cycle;
mod dirty;
mod explain;
mod graph;
mod hasher;
mod index;
mod input;
mod internal;
mod lost;
mod model;
mod payload;
mod reads;
mod rels;
mod report;
mod search;
mod txn;

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

pub use anomaly::{Anomaly, AnomalyKind, Step, TxnRef};
pub use budget::{Budget, Exhausted, Options};
pub use checker::ListAppend;
pub use cycle::{CycleClass, CycleKind, Variant};
pub use graph::EdgeCounts;
pub use input::{txns_from_history, txns_from_records};
pub use model::{Boundary, ConsistencyModel};
pub use payload::TxnValue;
pub use rels::{Rel, Rels};
pub use report::{ElleReport, ElleStats, UnknownCause};
pub use txn::{At, Elem, MicroOp, Outcome, Txn};

use anomaly::Findings;
use budget::Meter;
use graph::DepGraph;
use index::{Index, NONE};

use crate::verdict::Validity;

/// The cycle kinds to search, those the model forbids first (so a tight budget is
/// spent on what decides the verdict), each group in severity order.
fn plan(model: ConsistencyModel) -> Vec<CycleKind> {
    let (mut first, rest): (Vec<CycleKind>, Vec<CycleKind>) =
        CycleKind::all().partition(|&k| model.forbids(AnomalyKind::Cycle(k)));
    first.extend(rest);
    first
}

/// Checks a list-append history: every anomaly, and the verdict under
/// `options.consistency_model`. The cycle search stays within `budget`.
pub fn check(txns: &[Txn], options: &Options, budget: Budget) -> ElleReport {
    let started = Instant::now();
    let overall = started
        .checked_add(budget.time_limit)
        .unwrap_or_else(|| started + Duration::from_secs(86_400 * 365));
    let ix = Index::build(txns);
    let mut found = Findings::new(options.max_examples);
    reads::find(&ix, &mut found);
    dirty::find(&ix, &mut found);
    internal::find(&ix, &mut found);
    lost::find(&ix, &mut found);

    let dep = DepGraph::build(&ix);
    let components = dep.components();
    let plan = plan(options.consistency_model);
    let mut scratch = vec![NONE; txns.len()];
    let mut cycles = Vec::new();
    let mut unknown = Vec::new();
    let mut search_steps = 0;
    for members in &components {
        let mut meter = Meter::start(&budget, overall);
        let out = search::search_component(&dep, members, &plan, &mut meter, &mut scratch);
        search_steps += meter.steps;
        if !out.unfinished.is_empty() {
            unknown.push(UnknownCause::CycleSearch {
                component_size: members.len(),
                stopped: out.exhausted,
                not_searched: out.unfinished.iter().map(|k| k.name()).collect(),
            });
        }
        cycles.extend(out.cycles.into_iter().map(|c| (members.len(), c)));
    }
    // Shortest first within each kind, so the examples kept are the clearest.
    cycles.sort_by_key(|(_, c)| (c.kind, c.edges.len()));
    for (_, c) in &cycles {
        found.add(AnomalyKind::Cycle(c.kind), || {
            explain::cycle_anomaly(&ix, c)
        });
    }

    let count = |o| txns.iter().filter(|t| t.outcome == o).count();
    let ok = count(Outcome::Ok);
    if ok == 0 {
        unknown.push(UnknownCause::NoOkTransactions);
    }
    let model = options.consistency_model;
    let forbidden_found = found.counts.keys().any(|&k| model.forbids(k));
    let incomplete = unknown.iter().any(|u| match u {
        UnknownCause::NoOkTransactions => true,
        UnknownCause::CycleSearch { not_searched, .. } => not_searched
            .iter()
            .any(|n| n.parse::<AnomalyKind>().map_or(true, |k| model.forbids(k))),
    });
    let valid = if forbidden_found {
        Validity::Invalid
    } else if incomplete {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let mut anomaly_types: Vec<AnomalyKind> = found.counts.keys().copied().collect();
    anomaly_types.sort_by_key(|&k| (!model.forbids(k), k));
    let mut anomalies = Vec::new();
    let mut examples = found.examples;
    for k in &anomaly_types {
        anomalies.extend(examples.remove(k).unwrap_or_default());
    }
    let boundary = Boundary::of(anomaly_types.iter().copied());
    ElleReport {
        valid,
        consistency_model: model,
        model_forbids: model.forbidden(),
        anomaly_types,
        counts: found.counts,
        anomalies,
        not: boundary.not,
        also_not: boundary.also_not,
        satisfies: boundary.satisfies,
        unknown,
        stats: ElleStats {
            txns: txns.len(),
            ok,
            info: count(Outcome::Info),
            fail: count(Outcome::Fail),
            keys: ix.keys.len(),
            edges: dep.counts,
            components: components.len(),
            largest_component: components.iter().map(Vec::len).max().unwrap_or(0),
            search_steps,
            micros: started.elapsed().as_micros() as u64,
        },
    }
}
