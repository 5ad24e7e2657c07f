//! The cycle search: in one strongly connected component of the dependency graph,
//! the shortest cycle of each [`CycleKind`] the plan asks for, within a [`Meter`].
//!
//! ```text
//! component ─► local petgraph DiGraph ─► per kind:
//!     SCCs of the projection onto the kind's edges (kosaraju on EdgeFiltered)
//!     for every pivot edge a→b inside one of them (the edge the kind needs: ww for G0,
//!     wr for G1c, rw for G-single/G-nonadjacent/G2-item, process or realtime for the
//!     variants), a breadth-first search b ⇝ a over (transaction, automaton state)
//!     ─► the shortest closing path ─► a simple cycle, classified by its edges
//! ```
//!
//! The automaton tracks what the path still needs (a wr edge, exactly one rw, rw edges
//! never adjacent, …), so the BFS finds the shortest valid path for each pivot; the
//! shortest over all pivots is the kind's shortest cycle. Once one is found, later
//! searches are cut at that depth. A closing path that repeats a transaction is split
//! into simple cycles, each recorded under its own class (every simple cycle is a real
//! anomaly). A variant (`-process`, `-realtime`) is searched only when the component
//! has no cycle of the plain class, `-realtime` only when it has no `-process` one:
//! those edges are reported where they are needed.
//!
//! Budget: every edge followed is a [`Meter`] step. When the meter runs out, the kinds
//! not yet decided are returned as unfinished; if nothing was found at all, one
//! unconstrained BFS (linear in the component) still finds *a* cycle to report.
//! Components above [`EXHAUSTIVE_NODES`] stop looking for a shorter cycle
//! [`EXTRA_PIVOTS`] pivots after the first one found (marked not shortest).
//!
//! References: Elle's `elle.bfs` (state-machine BFS per anomaly) and
//! `elle.txn/cycle-cases-in-scc` (severity order, skipping implied variants, fallback
//! cycle on timeout).

use std::collections::BTreeMap;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{EdgeFiltered, EdgeRef};

use super::budget::{Exhausted, Meter};
use super::graph::DepGraph;
use super::index::{TxnId, NONE};
use super::{CycleClass, CycleKind, Rel, Rels, Variant};

/// Components larger than this stop improving on a found cycle after
/// [`EXTRA_PIVOTS`] more pivots.
pub(crate) const EXHAUSTIVE_NODES: usize = 4096;
pub(crate) const EXTRA_PIVOTS: usize = 1024;

/// A simple cycle: its edges in order, the last returning to the first's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cycle {
    pub kind: CycleKind,
    pub edges: Vec<(TxnId, TxnId, Rel)>,
    /// Known to be the shortest of its kind in its component.
    pub exact: bool,
}

/// What one component's search found.
#[derive(Debug, Default)]
pub(crate) struct ComponentOutcome {
    pub cycles: Vec<Cycle>,
    /// Kinds the budget stopped before they were found or ruled out.
    pub unfinished: Vec<CycleKind>,
    pub exhausted: Option<Exhausted>,
}

#[derive(Debug, Clone, Copy)]
enum Machine {
    /// Nothing more is needed.
    Any,
    /// At least one wr edge.
    NeedWr,
    /// Exactly one rw edge.
    SingleRw,
    /// At least two rw edges, never adjacent (cyclically).
    Nonadjacent,
    /// At least two rw edges, some adjacent (cyclically).
    Adjacent,
}

/// How to search for one kind: the pivot edge it needs, the edges the rest of the
/// cycle may use, and the automaton over them.
#[derive(Debug, Clone, Copy)]
struct Spec {
    pivot: Rel,
    path: Rels,
    machine: Machine,
}

impl Spec {
    fn of(kind: CycleKind) -> Spec {
        use CycleClass::*;
        const WW: Rels = Rels::of(&[Rel::Ww]);
        const WWR: Rels = Rels::of(&[Rel::Ww, Rel::Wr]);
        const DATA: Rels = Rels::of(&[Rel::Ww, Rel::Wr, Rel::Rw]);
        let (pivot, extra) = match kind.variant {
            Variant::None => (None, Rels::NONE),
            Variant::Process => (Some(Rel::Process), Rels::of(&[Rel::Process])),
            Variant::Realtime => (
                Some(Rel::Realtime),
                Rels::of(&[Rel::Process, Rel::Realtime]),
            ),
        };
        let with = |r: Rels| {
            let mut r = r;
            for x in Rel::ALL {
                if extra.contains(x) {
                    r = r.with(x);
                }
            }
            r
        };
        match (kind.class, pivot) {
            (G0, None) => Spec {
                pivot: Rel::Ww,
                path: WW,
                machine: Machine::Any,
            },
            (G1c, None) => Spec {
                pivot: Rel::Wr,
                path: WWR,
                machine: Machine::Any,
            },
            (GSingle, None) => Spec {
                pivot: Rel::Rw,
                path: WWR,
                machine: Machine::Any,
            },
            (GNonadjacent, None) => Spec {
                pivot: Rel::Rw,
                path: DATA,
                machine: Machine::Nonadjacent,
            },
            (G2Item, None) => Spec {
                pivot: Rel::Rw,
                path: DATA,
                machine: Machine::Adjacent,
            },
            (G0, Some(p)) => Spec {
                pivot: p,
                path: with(WW),
                machine: Machine::Any,
            },
            (G1c, Some(p)) => Spec {
                pivot: p,
                path: with(WWR),
                machine: Machine::NeedWr,
            },
            (GSingle, Some(p)) => Spec {
                pivot: p,
                path: with(DATA),
                machine: Machine::SingleRw,
            },
            (GNonadjacent, Some(p)) => Spec {
                pivot: p,
                path: with(DATA),
                machine: Machine::Nonadjacent,
            },
            (G2Item, Some(p)) => Spec {
                pivot: p,
                path: with(DATA),
                machine: Machine::Adjacent,
            },
        }
    }

    /// Edges a cycle of this kind may use, pivot included.
    fn rels(&self) -> Rels {
        self.path.with(self.pivot)
    }

    fn pivot_rw(&self) -> bool {
        self.pivot == Rel::Rw
    }

    fn states(&self) -> usize {
        match self.machine {
            Machine::Any => 1,
            Machine::NeedWr | Machine::SingleRw => 2,
            Machine::Nonadjacent => 6,
            Machine::Adjacent => 4,
        }
    }

    /// The state after the pivot edge.
    fn init(&self) -> u8 {
        let rw = u8::from(self.pivot_rw());
        match self.machine {
            Machine::Any | Machine::NeedWr => 0,
            Machine::SingleRw | Machine::Adjacent => rw,
            // rw count + 3 × (last edge was rw)
            Machine::Nonadjacent => rw * 4,
        }
    }

    fn step(&self, s: u8, rel: Rel) -> Option<u8> {
        let rw = rel == Rel::Rw;
        match self.machine {
            Machine::Any => Some(0),
            Machine::NeedWr => Some(if rel == Rel::Wr { 1 } else { s }),
            Machine::SingleRw => match (rw, s) {
                (true, 1) => None,
                (true, _) => Some(1),
                (false, s) => Some(s),
            },
            Machine::Nonadjacent => {
                let (count, last) = (s % 3, s / 3);
                match (rw, last) {
                    (true, 1) => None,
                    (true, _) => Some((count + 1).min(2) + 3),
                    (false, _) => Some(count),
                }
            }
            // bit 0: last edge was rw; bit 1: two adjacent rw seen
            Machine::Adjacent => Some(if rw {
                1 | (s & 2) | ((s & 1) << 1)
            } else {
                s & 2
            }),
        }
    }

    fn accept(&self, s: u8) -> bool {
        match self.machine {
            Machine::Any => true,
            Machine::NeedWr | Machine::SingleRw => s == 1,
            Machine::Nonadjacent => s % 3 >= 2 && !(self.pivot_rw() && s / 3 == 1),
            Machine::Adjacent => s & 2 != 0 || (self.pivot_rw() && s & 1 == 1),
        }
    }
}

/// The component as a small graph of its own.
struct Local {
    g: DiGraph<TxnId, Rel, u32>,
}

/// Per-kind search state that survives across pivots.
struct Bfs {
    states: usize,
    /// (node × states) → packed parent, or `UNSEEN`.
    parent: Vec<u64>,
    touched: Vec<usize>,
}

const UNSEEN: u64 = u64::MAX;
const START: u64 = u64::MAX - 1;

fn pack(node: u32, state: u8, rel: Rel) -> u64 {
    u64::from(node) | (u64::from(state) << 32) | ((rel as u64) << 40)
}

fn unpack(p: u64) -> (u32, u8, Rel) {
    let rel = Rel::ALL[((p >> 40) & 0xff) as usize];
    (p as u32, ((p >> 32) & 0xff) as u8, rel)
}

/// Keeps the shortest cycle of each kind.
#[derive(Default)]
struct Best {
    by_kind: BTreeMap<CycleKind, Cycle>,
}

impl Best {
    fn offer(&mut self, edges: Vec<(TxnId, TxnId, Rel)>, exact: bool) -> CycleKind {
        let rels: Vec<Rel> = edges.iter().map(|e| e.2).collect();
        let kind = CycleKind::of(&rels);
        let better = self
            .by_kind
            .get(&kind)
            .is_none_or(|c| edges.len() < c.edges.len());
        if better {
            self.by_kind.insert(kind, Cycle { kind, edges, exact });
        }
        kind
    }

    fn len(&self, kind: CycleKind) -> Option<usize> {
        self.by_kind.get(&kind).map(|c| c.edges.len())
    }
}

/// Splits a closed walk into simple cycles.
fn simple_cycles(walk: &[(TxnId, TxnId, Rel)]) -> Vec<Vec<(TxnId, TxnId, Rel)>> {
    let mut out = Vec::new();
    let mut stack: Vec<(TxnId, TxnId, Rel)> = Vec::new();
    for &e in walk {
        stack.push(e);
        // Does the edge just pushed return to the source of an edge on the stack?
        if let Some(i) = stack.iter().position(|s| s.0 == e.1) {
            out.push(stack.split_off(i));
        }
    }
    debug_assert!(stack.is_empty(), "a closed walk decomposes completely");
    out
}

/// Searches one component for the kinds in `plan` (in order).
pub(crate) fn search_component(
    dep: &DepGraph,
    members: &[TxnId],
    plan: &[CycleKind],
    meter: &mut Meter,
    scratch: &mut [u32],
) -> ComponentOutcome {
    // The component's own graph: node i is members[i].
    for (i, &t) in members.iter().enumerate() {
        scratch[t as usize] = i as u32;
    }
    let mut g: DiGraph<TxnId, Rel, u32> = DiGraph::with_capacity(members.len(), members.len() * 4);
    for &t in members {
        g.add_node(t);
    }
    for (i, &t) in members.iter().enumerate() {
        for e in dep.g.edges(NodeIndex::new(t as usize)) {
            let j = scratch[e.target().index()];
            if j != NONE {
                g.add_edge(NodeIndex::new(i), NodeIndex::new(j as usize), *e.weight());
            }
        }
    }
    for &t in members {
        scratch[t as usize] = NONE;
    }
    let local = Local { g };

    let mut best = Best::default();
    let mut outcome = ComponentOutcome::default();
    let mut projections: BTreeMap<u8, Vec<u32>> = BTreeMap::new();
    for (i, &kind) in plan.iter().enumerate() {
        if meter.exhausted.is_some() {
            outcome.unfinished.extend(
                plan[i..]
                    .iter()
                    .filter(|k| !implied(&best, **k) && best.len(**k).is_none()),
            );
            break;
        }
        if implied(&best, kind) {
            continue;
        }
        let spec = Spec::of(kind);
        let sub = projections
            .entry(spec.rels().bits())
            .or_insert_with(|| projection(&local, spec.rels()));
        let complete = search_kind(&local, kind, spec, sub, meter, &mut best);
        if !complete && best.len(kind).is_none() {
            outcome.unfinished.push(kind);
        }
    }
    if meter.exhausted.is_some() && best.by_kind.is_empty() {
        if let Some(walk) = any_cycle(&local) {
            best.offer(walk, false);
        }
    }
    outcome.exhausted = meter.exhausted;
    // Splitting a walk can turn up a variant whose plain class the component has too:
    // report variants only where their edges are needed.
    let needed: Vec<CycleKind> = best
        .by_kind
        .keys()
        .copied()
        .filter(|&k| !implied(&best, k))
        .collect();
    outcome.cycles = best
        .by_kind
        .into_values()
        .filter(|c| needed.contains(&c.kind))
        .collect();
    outcome
}

/// A variant is not needed when the plain class (or the `-process` variant, for
/// `-realtime`) was found.
fn implied(best: &Best, kind: CycleKind) -> bool {
    let found = |v| best.len(CycleKind::new(kind.class, v)).is_some();
    match kind.variant {
        Variant::None => false,
        Variant::Process => found(Variant::None),
        Variant::Realtime => found(Variant::None) || found(Variant::Process),
    }
}

/// SCC id of every local node in the projection onto `rels` (`NONE`: in no cycle).
fn projection(local: &Local, rels: Rels) -> Vec<u32> {
    let filtered = EdgeFiltered::from_fn(&local.g, |e| rels.contains(*e.weight()));
    let mut id = vec![NONE; local.g.node_count()];
    for (i, scc) in petgraph::algo::kosaraju_scc(&filtered)
        .into_iter()
        .filter(|c| c.len() > 1)
        .enumerate()
    {
        for n in scc {
            id[n.index()] = i as u32;
        }
    }
    id
}

/// Searches one kind; records what it finds in `best`. Returns whether the search
/// ran to completion (so an absent kind is truly absent).
fn search_kind(
    local: &Local,
    kind: CycleKind,
    spec: Spec,
    sub: &[u32],
    meter: &mut Meter,
    best: &mut Best,
) -> bool {
    let g = &local.g;
    let pivots: Vec<(u32, u32)> = g
        .raw_edges()
        .iter()
        .filter(|e| e.weight == spec.pivot)
        .map(|e| (e.source().index() as u32, e.target().index() as u32))
        .filter(|&(a, b)| sub[a as usize] != NONE && sub[a as usize] == sub[b as usize])
        .collect();
    if pivots.is_empty() {
        return true;
    }
    let mut bfs = Bfs {
        states: spec.states(),
        parent: vec![UNSEEN; g.node_count() * spec.states()],
        touched: Vec::new(),
    };
    let mut exact = true;
    let mut after_found = 0usize;
    for &(a, b) in &pivots {
        if best.len(kind) == Some(2) {
            break;
        }
        if best.len(kind).is_some() {
            after_found += 1;
            if g.node_count() > EXHAUSTIVE_NODES && after_found > EXTRA_PIVOTS {
                exact = false;
                break;
            }
        }
        // A path may have at most this many edges to beat the best cycle so far.
        let max_path = best.len(kind).map_or(usize::MAX, |l| l.saturating_sub(2));
        if max_path == 0 {
            break;
        }
        match bfs.run(g, spec, sub, a, b, max_path, meter) {
            Run::Found(path) => {
                let mut walk = Vec::with_capacity(path.len() + 1);
                walk.push((
                    g[NodeIndex::new(a as usize)],
                    g[NodeIndex::new(b as usize)],
                    spec.pivot,
                ));
                walk.extend(path.into_iter().map(|(x, y, r)| {
                    (
                        g[NodeIndex::new(x as usize)],
                        g[NodeIndex::new(y as usize)],
                        r,
                    )
                }));
                for cycle in simple_cycles(&walk) {
                    best.offer(cycle, true);
                }
            }
            Run::None => {}
            Run::OutOfBudget => {
                if let Some(c) = best.by_kind.get_mut(&kind) {
                    c.exact = false;
                }
                return false;
            }
        }
    }
    if !exact {
        if let Some(c) = best.by_kind.get_mut(&kind) {
            c.exact = false;
        }
    }
    true
}

enum Run {
    /// The closing path b ⇝ a, as local edges.
    Found(Vec<(u32, u32, Rel)>),
    None,
    OutOfBudget,
}

impl Bfs {
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        g: &DiGraph<TxnId, Rel, u32>,
        spec: Spec,
        sub: &[u32],
        a: u32,
        b: u32,
        max_path: usize,
        meter: &mut Meter,
    ) -> Run {
        for &i in &self.touched {
            self.parent[i] = UNSEEN;
        }
        self.touched.clear();
        let s0 = spec.init();
        let start = b as usize * self.states + s0 as usize;
        self.parent[start] = START;
        self.touched.push(start);
        let scc = sub[b as usize];
        let mut layer = vec![(b, s0)];
        let mut next = Vec::new();
        let mut depth = 0usize;
        while !layer.is_empty() && depth < max_path {
            depth += 1;
            for &(u, s) in &layer {
                for e in g.edges(NodeIndex::new(u as usize)) {
                    if !meter.tick() {
                        return Run::OutOfBudget;
                    }
                    let rel = *e.weight();
                    if !spec.path.contains(rel) {
                        continue;
                    }
                    let w = e.target().index() as u32;
                    if sub[w as usize] != scc || w == b {
                        continue;
                    }
                    let Some(ns) = spec.step(s, rel) else {
                        continue;
                    };
                    if w == a {
                        if spec.accept(ns) {
                            return Run::Found(self.path(u, s, (u, a, rel)));
                        }
                        continue;
                    }
                    let i = w as usize * self.states + ns as usize;
                    if self.parent[i] == UNSEEN {
                        self.parent[i] = pack(u, s, rel);
                        self.touched.push(i);
                        next.push((w, ns));
                    }
                }
            }
            std::mem::swap(&mut layer, &mut next);
            next.clear();
        }
        Run::None
    }

    /// The path from the start to `(u, s)`, then the closing edge `last`.
    fn path(&self, mut u: u32, mut s: u8, last: (u32, u32, Rel)) -> Vec<(u32, u32, Rel)> {
        let mut rev = vec![last];
        loop {
            let p = self.parent[u as usize * self.states + s as usize];
            if p == START {
                break;
            }
            let (pu, ps, rel) = unpack(p);
            rev.push((pu, u, rel));
            u = pu;
            s = ps;
        }
        rev.reverse();
        rev
    }
}

/// Some cycle through the component's first transaction, ignoring kinds (for a
/// component whose search ran out of budget). Linear in the component.
fn any_cycle(local: &Local) -> Option<Vec<(TxnId, TxnId, Rel)>> {
    let g = &local.g;
    let n = g.node_count();
    if n == 0 {
        return None;
    }
    let mut parent: Vec<Option<(u32, Rel)>> = vec![None; n];
    let mut seen = vec![false; n];
    seen[0] = true;
    let mut queue = std::collections::VecDeque::from([0u32]);
    while let Some(u) = queue.pop_front() {
        for e in g.edges(NodeIndex::new(u as usize)) {
            let w = e.target().index() as u32;
            if w == 0 {
                let mut rev = vec![(u, 0u32, *e.weight())];
                let mut x = u;
                while let Some((p, r)) = parent[x as usize] {
                    rev.push((p, x, r));
                    x = p;
                }
                rev.reverse();
                return Some(
                    rev.into_iter()
                        .map(|(x, y, r)| {
                            (
                                g[NodeIndex::new(x as usize)],
                                g[NodeIndex::new(y as usize)],
                                r,
                            )
                        })
                        .collect(),
                );
            }
            if !seen[w as usize] {
                seen[w as usize] = true;
                parent[w as usize] = Some((u, *e.weight()));
                queue.push_back(w);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_split_into_simple_cycles() {
        use Rel::*;
        // 1→2→3→2→1: the loop 2→3→2 and the cycle 1→2→1.
        let walk = [(1, 2, Rw), (2, 3, Ww), (3, 2, Wr), (2, 1, Rw)];
        let parts = simple_cycles(&walk);
        assert_eq!(
            parts,
            vec![vec![(2, 3, Ww), (3, 2, Wr)], vec![(1, 2, Rw), (2, 1, Rw)]]
        );
    }

    #[test]
    fn automata_accept_exactly_their_class() {
        // Every rel sequence up to length 5 over the kind's edges: the automaton accepts
        // the path after the pivot iff the whole cycle classifies as the kind.
        let rels = Rel::ALL;
        for kind in CycleKind::all() {
            let spec = Spec::of(kind);
            let allowed: Vec<Rel> = rels
                .iter()
                .copied()
                .filter(|r| spec.path.contains(*r))
                .collect();
            let mut paths: Vec<Vec<Rel>> = vec![vec![]];
            for _ in 0..5 {
                let mut longer = Vec::new();
                for p in &paths {
                    for &r in &allowed {
                        let mut q = p.clone();
                        q.push(r);
                        longer.push(q);
                    }
                }
                for p in &longer {
                    let mut s = Some(spec.init());
                    for &r in p {
                        s = s.and_then(|s| spec.step(s, r));
                    }
                    let mut cycle = vec![spec.pivot];
                    cycle.extend(p);
                    let classified = CycleKind::of(&cycle);
                    let accepted = s.is_some_and(|s| spec.accept(s));
                    // The automaton may reject a cycle of the kind only when the
                    // cycle needs a different pivot rotation (a variant search pivots on
                    // its variant edge, so an accepted path always has one).
                    if accepted {
                        assert_eq!(classified, kind, "{kind}: {cycle:?}");
                    } else if classified == kind {
                        panic!("{kind}: rejected {cycle:?}");
                    }
                }
                paths = longer;
            }
        }
    }
}
