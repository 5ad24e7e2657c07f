//! [`Index`]: what the whole history says about each key — its version order, who
//! appended each element, and which reads saw which version. Built once, in linear
//! time; the dependency graph, the per-read anomaly checks and the explanations all
//! read from it.
//!
//! ```text
//! &[Txn] ─intern keys─► KeyId per micro-op
//!        ─appends────► written[(key, elem)] = writer, position in the version order
//!        ─ok reads───► longest read per key = its version order (every read a prefix)
//!                      reads sorted by (key, version): who read the state after i appends
//! ```
//!
//! Invariants:
//! - A key's version order is the longest ok read of it, duplicates dropped (Elle's
//!   `sorted-values` + `append-index`). Every ok read should be a prefix of that raw
//!   longest read; the ones that are not are listed in [`Index::incompatible`].
//! - A read's *version* is how many elements of the order it reflects: 0 for the
//!   empty list, `pos(last) + 1` otherwise; [`NONE`] when its last element is not in
//!   the order (an incompatible read), so it yields no anti-dependency.
//! - An append whose element no ok read contains is *unobserved*: it must have come
//!   after every element of the order (Elle's `previously-appended-element`).
//! - Failed transactions are indexed (G1a needs their appends) but give no edges.
//!
//! Reference: Kingsbury & Alvaro, "Elle" (VLDB 2020), §4.2 (list-append: recoverability
//! and traceability); Elle's `elle.list-append/preprocess`.

use super::hasher::FxHashMap;
use super::{Elem, MicroOp, Outcome, Txn};
use crate::history::Key;

/// A transaction's position in the checked slice.
pub(crate) type TxnId = u32;
/// An interned key.
pub(crate) type KeyId = u32;
/// "None" for `u32` fields.
pub(crate) const NONE: u32 = u32::MAX;

/// What is known about one appended element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    pub txn: TxnId,
    /// Position of the append among the writer's micro-ops.
    pub mop: u32,
    /// Position in the key's version order, or [`NONE`] when no ok read contains it.
    pub pos: u32,
    /// The writer appended to the same key again later in the transaction.
    pub intermediate: bool,
    /// Some incompatible read (one not a prefix of the longest) contains it.
    pub in_incompatible: bool,
}

/// One key's version order and what its longest read showed.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyOrder {
    /// Distinct elements of the longest ok read, in order.
    pub elems: Vec<Elem>,
    /// The read it came from: (transaction, micro-op).
    pub longest: Option<(TxnId, u32)>,
    /// Index in the raw longest read of its first element appended by a failed
    /// transaction, of its first element nobody appended, and of its first repeated
    /// element (`usize::MAX`: none). A compatible read contains one iff it is longer.
    pub first_failed: usize,
    pub first_garbage: usize,
    pub first_duplicate: usize,
    /// Appends by transactions that did not fail whose element no ok read contains:
    /// (transaction, micro-op), in transaction order.
    pub unobserved: Vec<(TxnId, u32)>,
}

/// One micro-op of an ok read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ReadAt {
    pub key: KeyId,
    /// Elements of the version order this read reflects (see the module docs).
    pub version: u32,
    pub txn: TxnId,
    pub mop: u32,
}

/// The index over a slice of transactions.
pub(crate) struct Index<'t> {
    pub txns: &'t [Txn],
    /// KeyId → key.
    pub keys: Vec<&'t Key>,
    /// Key of every micro-op, transaction after transaction (see [`Index::mop_keys`]).
    mop_key: Vec<KeyId>,
    mop_start: Vec<u32>,
    pub written: FxHashMap<(KeyId, Elem), Written>,
    pub orders: Vec<KeyOrder>,
    /// Every ok read micro-op, sorted by (key, version, txn, mop).
    pub reads: Vec<ReadAt>,
    /// Ok reads that are not a prefix of their key's longest read, in transaction order.
    pub incompatible: Vec<ReadAt>,
    /// Transaction ids sorted by invocation index.
    pub by_invoke: Vec<TxnId>,
}

impl<'t> Index<'t> {
    /// Builds the index. Linear in the history's size (plus sorting the reads).
    pub fn build(txns: &'t [Txn]) -> Index<'t> {
        assert!(
            txns.len() < NONE as usize,
            "fewer than 2^32 - 1 transactions"
        );
        // Intern keys.
        let mut key_ids: FxHashMap<&'t Key, KeyId> = FxHashMap::default();
        let mut keys: Vec<&'t Key> = Vec::new();
        let mut mop_key = Vec::new();
        let mut mop_start = Vec::with_capacity(txns.len() + 1);
        for t in txns {
            mop_start.push(mop_key.len() as u32);
            for op in &t.ops {
                let k = op.key();
                let id = *key_ids.entry(k).or_insert_with(|| {
                    keys.push(k);
                    (keys.len() - 1) as KeyId
                });
                mop_key.push(id);
            }
        }
        mop_start.push(mop_key.len() as u32);
        let mut index = Index {
            txns,
            keys,
            mop_key,
            mop_start,
            written: FxHashMap::default(),
            orders: Vec::new(),
            reads: Vec::new(),
            incompatible: Vec::new(),
            by_invoke: Vec::new(),
        };
        index.orders = vec![
            KeyOrder {
                first_failed: usize::MAX,
                first_garbage: usize::MAX,
                first_duplicate: usize::MAX,
                ..KeyOrder::default()
            };
            index.keys.len()
        ];
        index.index_appends();
        index.index_longest_reads();
        index.index_reads();
        index.index_unobserved();
        let mut by_invoke: Vec<TxnId> = (0..txns.len() as TxnId).collect();
        by_invoke.sort_by_key(|&t| txns[t as usize].invoke.index);
        index.by_invoke = by_invoke;
        index
    }

    /// The interned key of each of transaction `t`'s micro-ops.
    pub fn mop_keys(&self, t: TxnId) -> &[KeyId] {
        let t = t as usize;
        &self.mop_key[self.mop_start[t] as usize..self.mop_start[t + 1] as usize]
    }

    pub fn txn(&self, t: TxnId) -> &'t Txn {
        &self.txns[t as usize]
    }

    /// The elements read by micro-op `mop` of `t` (empty if unknown).
    pub fn read_elems(&self, t: TxnId, mop: u32) -> &'t [Elem] {
        match &self.txn(t).ops[mop as usize] {
            MicroOp::Read { elems: Some(e), .. } => e,
            _ => &[],
        }
    }

    /// The raw longest read of key `k` (duplicates kept).
    pub fn longest(&self, k: KeyId) -> &'t [Elem] {
        match self.orders[k as usize].longest {
            Some((t, m)) => self.read_elems(t, m),
            None => &[],
        }
    }

    /// Who appended `elem` to `k`.
    pub fn writer(&self, k: KeyId, elem: Elem) -> Option<&Written> {
        self.written.get(&(k, elem))
    }

    /// Whether transaction `t` did not certainly abort (so its effects may be real).
    pub fn possible(&self, t: TxnId) -> bool {
        self.txn(t).outcome != Outcome::Fail
    }

    /// Ok reads of key `k` that reflect exactly `version` elements of its order.
    pub fn readers_of(&self, k: KeyId, version: u32) -> &[ReadAt] {
        let lo = self
            .reads
            .partition_point(|r| (r.key, r.version) < (k, version));
        let hi = self
            .reads
            .partition_point(|r| (r.key, r.version) <= (k, version));
        &self.reads[lo..hi]
    }

    /// The version an append of `elem` to `k` created: its position in the order, or
    /// the order's length when unobserved (it came after everything read).
    pub fn version_of_append(&self, k: KeyId, elem: Elem) -> u32 {
        match self.writer(k, elem) {
            Some(w) if w.pos != NONE => w.pos,
            _ => self.orders[k as usize].elems.len() as u32,
        }
    }

    /// The element right before an append of `elem` to `k` in the version order
    /// (`None`: it was the first).
    pub fn previous_elem(&self, k: KeyId, elem: Elem) -> Option<Elem> {
        let v = self.version_of_append(k, elem);
        (v > 0).then(|| self.orders[k as usize].elems[v as usize - 1])
    }

    fn index_appends(&mut self) {
        let txns = self.txns;
        for (t, txn) in txns.iter().enumerate() {
            let start = self.mop_start[t] as usize;
            let keys = &self.mop_key[start..start + txn.ops.len()];
            for (m, op) in txn.ops.iter().enumerate() {
                if let MicroOp::Append { elem, .. } = op {
                    let k = keys[m];
                    let intermediate = txn.ops[m + 1..]
                        .iter()
                        .zip(&keys[m + 1..])
                        .any(|(o, &k2)| k2 == k && matches!(o, MicroOp::Append { .. }));
                    self.written.insert(
                        (k, *elem),
                        Written {
                            txn: t as TxnId,
                            mop: m as u32,
                            pos: NONE,
                            intermediate,
                            in_incompatible: false,
                        },
                    );
                }
            }
        }
    }

    fn ok_reads(&self) -> impl Iterator<Item = (TxnId, u32, KeyId, &'t [Elem])> + '_ {
        self.txns
            .iter()
            .enumerate()
            .filter(|(_, t)| t.outcome == Outcome::Ok)
            .flat_map(move |(t, txn)| {
                let keys = self.mop_keys(t as TxnId);
                txn.ops
                    .iter()
                    .enumerate()
                    .filter_map(move |(m, op)| match op {
                        MicroOp::Read { elems, .. } => Some((
                            t as TxnId,
                            m as u32,
                            keys[m],
                            elems.as_deref().unwrap_or(&[]),
                        )),
                        MicroOp::Append { .. } => None,
                    })
            })
    }

    fn index_longest_reads(&mut self) {
        let mut longest: Vec<Option<(TxnId, u32, usize)>> = vec![None; self.keys.len()];
        for (t, m, k, elems) in self.ok_reads() {
            let slot = &mut longest[k as usize];
            if !elems.is_empty() && slot.is_none_or(|(_, _, n)| elems.len() > n) {
                *slot = Some((t, m, elems.len()));
            }
        }
        for (k, l) in longest.into_iter().enumerate() {
            let Some((t, m, _)) = l else { continue };
            let raw = self.read_elems(t, m);
            let mut order = KeyOrder {
                longest: Some((t, m)),
                ..std::mem::take(&mut self.orders[k])
            };
            let mut garbage_seen: Vec<Elem> = Vec::new();
            for (i, &e) in raw.iter().enumerate() {
                let seen = match self.written.get_mut(&(k as KeyId, e)) {
                    Some(w) => {
                        if self.txns[w.txn as usize].outcome == Outcome::Fail {
                            order.first_failed = order.first_failed.min(i);
                        }
                        if w.pos != NONE {
                            true
                        } else {
                            w.pos = order.elems.len() as u32;
                            false
                        }
                    }
                    None => {
                        order.first_garbage = order.first_garbage.min(i);
                        let seen = garbage_seen.contains(&e);
                        garbage_seen.push(e);
                        seen
                    }
                };
                if seen {
                    order.first_duplicate = order.first_duplicate.min(i);
                } else {
                    order.elems.push(e);
                }
            }
            self.orders[k] = order;
        }
    }

    fn index_reads(&mut self) {
        let mut reads = Vec::new();
        let mut incompatible = Vec::new();
        let mut mark = Vec::new();
        for (t, m, k, elems) in self.ok_reads() {
            let version = match elems.last() {
                None => 0,
                Some(&e) => match self.written.get(&(k, e)) {
                    Some(w) if w.pos != NONE => w.pos + 1,
                    _ => NONE,
                },
            };
            let r = ReadAt {
                key: k,
                version,
                txn: t,
                mop: m,
            };
            if !self.longest(k).starts_with(elems) {
                incompatible.push(r);
                mark.extend(elems.iter().map(|&e| (k, e)));
            }
            reads.push(r);
        }
        for key in mark {
            if let Some(w) = self.written.get_mut(&key) {
                w.in_incompatible = true;
            }
        }
        reads.sort_unstable();
        self.reads = reads;
        self.incompatible = incompatible;
    }

    fn index_unobserved(&mut self) {
        for (t, txn) in self.txns.iter().enumerate() {
            if txn.outcome == Outcome::Fail {
                continue;
            }
            for (m, op) in txn.ops.iter().enumerate() {
                if let MicroOp::Append { elem, .. } = op {
                    let k = self.mop_key[self.mop_start[t] as usize + m];
                    if self.written.get(&(k, *elem)).is_some_and(|w| w.pos == NONE) {
                        self.orders[k as usize]
                            .unobserved
                            .push((t as TxnId, m as u32));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::MicroOp as M;

    #[test]
    fn orders_versions_and_unobserved_appends() {
        let txns = vec![
            Txn::ok(0, 0, 1, vec![M::append("x", 1), M::append("x", 2)]),
            Txn::ok(1, 2, 3, vec![M::append("x", 3), M::read("x", [1, 2, 3])]),
            Txn::ok(2, 4, 5, vec![M::read("x", [1, 2]), M::append("x", 4)]),
            Txn::fail(3, 6, 7, vec![M::append("x", 5)]),
            Txn::ok(4, 8, 9, vec![M::read("x", [2, 1])]),
        ];
        let ix = Index::build(&txns);
        assert_eq!(ix.keys.len(), 1);
        assert_eq!(ix.orders[0].elems, vec![1, 2, 3]);
        assert_eq!(ix.orders[0].longest, Some((1, 1)));
        let w = ix.writer(0, 1).unwrap();
        assert!(w.intermediate && w.pos == 0 && w.txn == 0);
        assert!(!ix.writer(0, 2).unwrap().intermediate);
        assert!(ix.writer(0, 1).unwrap().in_incompatible);
        // Txn 2's read saw two appends; txn 1 saw three.
        assert_eq!(ix.readers_of(0, 2).len(), 1);
        assert_eq!(ix.readers_of(0, 2)[0].txn, 2);
        assert_eq!(ix.readers_of(0, 3)[0].txn, 1);
        // [2 1] is not a prefix of [1 2 3].
        assert_eq!(ix.incompatible.len(), 1);
        assert_eq!(ix.incompatible[0].txn, 4);
        // 4 was never read; the failed 5 is not an unobserved append.
        assert_eq!(ix.orders[0].unobserved, vec![(2, 1)]);
        assert_eq!(ix.version_of_append(0, 4), 3);
        assert_eq!(ix.previous_elem(0, 4), Some(3));
        assert_eq!(ix.previous_elem(0, 1), None);
        assert_eq!(ix.orders[0].first_failed, usize::MAX);
    }
}
