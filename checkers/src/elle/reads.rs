//! Anomalies visible in what single reads returned: `incompatible-order`,
//! `duplicate-elements`, `garbage-read`, `G1a` (aborted read) and `G1b` (intermediate
//! read).
//!
//! A read that is a prefix of its key's longest read contains exactly the longest
//! read's first elements, so whether it holds an aborted, unknown or repeated element
//! is decided by its length alone (the index records where the first of each is);
//! only incompatible reads are scanned element by element.
//!
//! References: Adya, "Weak Consistency" §4.1.2 (G1a, G1b); Elle's
//! `elle.list-append/{incompatible-orders,duplicates,g1a-cases,g1b-cases}`.

use super::explain::{key_name, plain, read_value};
use super::hasher::FxHashMap;
use super::index::{Index, ReadAt};
use super::{AnomalyKind, Elem, Findings, MicroOp, Outcome};

pub(crate) fn find(ix: &Index<'_>, f: &mut Findings) {
    incompatible_orders(ix, f);
    let incompatible: FxHashMap<(u32, u32), ()> = ix
        .incompatible
        .iter()
        .map(|r| ((r.txn, r.mop), ()))
        .collect();
    for (t, txn) in ix.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let t = t as u32;
        for (m, op) in txn.ops.iter().enumerate() {
            let MicroOp::Read {
                elems: Some(elems), ..
            } = op
            else {
                continue;
            };
            let k = ix.mop_keys(t)[m];
            let r = ReadAt {
                key: k,
                version: 0,
                txn: t,
                mop: m as u32,
            };
            if incompatible.contains_key(&(t, m as u32)) {
                scan_read(ix, f, r, elems);
            } else {
                prefix_read(ix, f, r, elems);
            }
            intermediate(ix, f, r, elems);
        }
    }
}

fn incompatible_orders(ix: &Index<'_>, f: &mut Findings) {
    let mut per_key: Vec<Vec<ReadAt>> = vec![Vec::new(); ix.keys.len()];
    for r in &ix.incompatible {
        per_key[r.key as usize].push(*r);
    }
    for (k, reads) in per_key.iter().enumerate() {
        let Some(first) = reads.first() else { continue };
        let Some((lt, _)) = ix.orders[k].longest else {
            continue;
        };
        let key = ix.keys[k];
        f.add(AnomalyKind::IncompatibleOrder, || {
            plain(
                ix,
                AnomalyKind::IncompatibleOrder,
                &[first.txn, lt],
                Some(key),
                Vec::new(),
                format!(
                    "T1 read {} as {}, T2 read it as {}: neither is a prefix of the other, so \
                     no single order of appends explains both ({} read(s) of this key disagree \
                     with its longest read)",
                    key_name(key),
                    read_value(ix.read_elems(first.txn, first.mop)),
                    read_value(ix.longest(k as u32)),
                    reads.len()
                ),
            )
        });
    }
}

/// A read that is a prefix of its key's longest read.
fn prefix_read(ix: &Index<'_>, f: &mut Findings, r: ReadAt, elems: &[Elem]) {
    let order = &ix.orders[r.key as usize];
    let longest = ix.longest(r.key);
    if elems.len() > order.first_failed {
        aborted(ix, f, r, elems, longest[order.first_failed]);
    }
    if elems.len() > order.first_garbage {
        garbage(ix, f, r, elems, longest[order.first_garbage]);
    }
    if elems.len() > order.first_duplicate {
        duplicates(ix, f, r, elems);
    }
}

/// A read that is not: every element is looked at.
fn scan_read(ix: &Index<'_>, f: &mut Findings, r: ReadAt, elems: &[Elem]) {
    if let Some(&e) = elems.iter().find(|&&e| {
        ix.writer(r.key, e)
            .is_some_and(|w| ix.txn(w.txn).outcome == Outcome::Fail)
    }) {
        aborted(ix, f, r, elems, e);
    }
    if let Some(&e) = elems.iter().find(|&&e| ix.writer(r.key, e).is_none()) {
        garbage(ix, f, r, elems, e);
    }
    let mut sorted = elems.to_vec();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        duplicates(ix, f, r, elems);
    }
}

fn aborted(ix: &Index<'_>, f: &mut Findings, r: ReadAt, elems: &[Elem], e: Elem) {
    let Some(w) = ix.writer(r.key, e).copied() else {
        return;
    };
    let key = ix.keys[r.key as usize];
    f.add(AnomalyKind::G1a, || {
        plain(
            ix,
            AnomalyKind::G1a,
            &[r.txn, w.txn],
            Some(key),
            vec![e],
            format!(
                "T1 read {} as {}, which includes {e}: T2 appended it, and T2 failed (an aborted \
                 read)",
                key_name(key),
                read_value(elems)
            ),
        )
    });
}

fn garbage(ix: &Index<'_>, f: &mut Findings, r: ReadAt, elems: &[Elem], e: Elem) {
    let key = ix.keys[r.key as usize];
    f.add(AnomalyKind::GarbageRead, || {
        plain(
            ix,
            AnomalyKind::GarbageRead,
            &[r.txn],
            Some(key),
            vec![e],
            format!(
                "T1 read {} as {}, but no transaction appended {e} to it",
                key_name(key),
                read_value(elems)
            ),
        )
    });
}

fn duplicates(ix: &Index<'_>, f: &mut Findings, r: ReadAt, elems: &[Elem]) {
    let mut counts: Vec<(Elem, usize)> = Vec::new();
    for &e in elems {
        match counts.iter_mut().find(|(x, _)| *x == e) {
            Some((_, n)) => *n += 1,
            None => counts.push((e, 1)),
        }
    }
    counts.retain(|&(_, n)| n > 1);
    let key = ix.keys[r.key as usize];
    let words: Vec<String> = counts
        .iter()
        .map(|(e, n)| format!("{e} appears {n} times"))
        .collect();
    f.add(AnomalyKind::DuplicateElements, || {
        plain(
            ix,
            AnomalyKind::DuplicateElements,
            &[r.txn],
            Some(key),
            counts.iter().map(|&(e, _)| e).collect(),
            format!(
                "T1 read {} as {}: {}, but every value was appended once",
                key_name(key),
                read_value(elems),
                words.join(", ")
            ),
        )
    });
}

/// G1b: the read ends at an element its writer later followed with another append to
/// the same key.
fn intermediate(ix: &Index<'_>, f: &mut Findings, r: ReadAt, elems: &[Elem]) {
    let Some(&last) = elems.last() else { return };
    let Some(w) = ix.writer(r.key, last).copied() else {
        return;
    };
    if !w.intermediate || w.txn == r.txn {
        return;
    }
    let writer = ix.txn(w.txn);
    let keys = ix.mop_keys(w.txn);
    let later: Vec<Elem> = writer
        .ops
        .iter()
        .enumerate()
        .skip(w.mop as usize + 1)
        .filter_map(|(m, op)| match op {
            MicroOp::Append { elem, .. } if keys[m] == r.key => Some(*elem),
            _ => None,
        })
        .collect();
    let key = ix.keys[r.key as usize];
    f.add(AnomalyKind::G1b, || {
        plain(
            ix,
            AnomalyKind::G1b,
            &[r.txn, w.txn],
            Some(key),
            vec![last],
            format!(
                "T1 read {} as {}, ending at {last}, an intermediate state of T2: T2 went on to \
                 append {} to the same key (an intermediate read)",
                key_name(key),
                read_value(elems),
                super::txn::list(&later)
            ),
        )
    });
}
