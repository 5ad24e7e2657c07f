//! Explanations: why each edge of a cycle holds, in Elle's manner ("T1 appended 3 to
//! key 4 before T2 appended 5 (ww)"), and the [`Anomaly`] for a whole cycle.
//!
//! An edge is explained from the index alone, by finding the micro-ops that justify
//! it — the same inference that created it (Elle's `DataExplainer`s).

use super::index::{Index, TxnId, NONE};
use super::search::Cycle;
use super::txn::list;
use super::{Anomaly, AnomalyKind, Elem, MicroOp, Rel, Step, TxnRef};
use crate::history::Key;

/// `key 4` / `key "x"`.
pub(crate) fn key_name(k: &Key) -> String {
    format!("key {k}")
}

/// A read's value in words: `[1 2]`, or `[] (empty)`.
pub(crate) fn read_value(elems: &[Elem]) -> String {
    if elems.is_empty() {
        "[] (empty)".into()
    } else {
        list(elems)
    }
}

/// The anomaly for one cycle, its transactions named T1, T2, … in cycle order.
pub(crate) fn cycle_anomaly(ix: &Index<'_>, cycle: &Cycle) -> Anomaly {
    let n = cycle.edges.len();
    let names: Vec<String> = (1..=n).map(|i| format!("T{i}")).collect();
    let txns = cycle
        .edges
        .iter()
        .zip(&names)
        .map(|(&(a, _, _), name)| TxnRef::new(name.clone(), ix.txn(a)))
        .collect();
    let steps: Vec<Step> = cycle
        .edges
        .iter()
        .enumerate()
        .map(|(i, &(a, b, rel))| {
            let (key, elements, text) = edge(ix, a, b, rel, &names[i], &names[(i + 1) % n]);
            Step {
                from: i,
                to: (i + 1) % n,
                rel,
                key,
                elements,
                text,
            }
        })
        .collect();
    let mut explanation: Vec<String> = steps.iter().map(|s| format!("- {}.", s.text)).collect();
    explanation.push(format!(
        "So {} must precede itself: no order of these transactions respects every edge.",
        names[0]
    ));
    Anomaly {
        kind: AnomalyKind::Cycle(cycle.kind),
        txns,
        steps,
        shortest: Some(cycle.exact),
        key: None,
        elements: Vec::new(),
        explanation,
    }
}

/// Why `a` precedes `b` by `rel`: the key, the elements and a sentence.
fn edge(
    ix: &Index<'_>,
    a: TxnId,
    b: TxnId,
    rel: Rel,
    an: &str,
    bn: &str,
) -> (Option<Key>, Vec<Elem>, String) {
    let ta = ix.txn(a);
    let tb = ix.txn(b);
    match rel {
        Rel::Ww => {
            for (m, op) in tb.ops.iter().enumerate() {
                let MicroOp::Append { key, elem } = op else {
                    continue;
                };
                let k = ix.mop_keys(b)[m];
                let Some(prev) = ix.previous_elem(k, *elem) else {
                    continue;
                };
                if ix.writer(k, prev).map(|w| w.txn) != Some(a) {
                    continue;
                }
                let unseen = ix.writer(k, *elem).is_none_or(|w| w.pos == NONE);
                let why = if unseen {
                    format!("; no read saw {elem}, so it came after every value read")
                } else {
                    String::new()
                };
                return (
                    Some(key.clone()),
                    vec![prev, *elem],
                    format!(
                        "{an} appended {prev} to {} before {bn} appended {elem} (ww{why})",
                        key_name(key)
                    ),
                );
            }
        }
        Rel::Wr => {
            for (m, op) in tb.ops.iter().enumerate() {
                let MicroOp::Read {
                    key,
                    elems: Some(elems),
                } = op
                else {
                    continue;
                };
                let Some(&last) = elems.last() else { continue };
                let k = ix.mop_keys(b)[m];
                if ix.writer(k, last).map(|w| w.txn) == Some(a) {
                    return (
                        Some(key.clone()),
                        vec![last],
                        format!(
                            "{an} appended {last} to {}, which {bn} observed when it read {} (wr)",
                            key_name(key),
                            list(elems)
                        ),
                    );
                }
            }
        }
        Rel::Rw => {
            for (m, op) in tb.ops.iter().enumerate() {
                let MicroOp::Append { key, elem } = op else {
                    continue;
                };
                let k = ix.mop_keys(b)[m];
                let v = ix.version_of_append(k, *elem);
                for (ma, opa) in ta.ops.iter().enumerate() {
                    let MicroOp::Read {
                        elems: Some(elems), ..
                    } = opa
                    else {
                        continue;
                    };
                    if ix.mop_keys(a)[ma] != k || version(ix, k, elems) != v {
                        continue;
                    }
                    return (
                        Some(key.clone()),
                        vec![*elem],
                        format!(
                            "{an} read {} as {}, before {bn} appended {elem} (rw)",
                            key_name(key),
                            read_value(elems)
                        ),
                    );
                }
            }
        }
        Rel::Process => {
            return (
                None,
                Vec::new(),
                format!(
                    "{an} completed before {bn} began, both on process {} (process)",
                    ta.process
                ),
            );
        }
        Rel::Realtime => {
            let done = ta.complete.map_or(ta.invoke, |c| c);
            let gap = if done.time > 0 && tb.invoke.time > done.time {
                format!(
                    ", {:.3} ms earlier",
                    (tb.invoke.time - done.time) as f64 / 1e6
                )
            } else {
                String::new()
            };
            return (
                None,
                Vec::new(),
                format!(
                    "{an} completed at index {} before {bn} was invoked at index {}{gap} (realtime)",
                    done.index, tb.invoke.index
                ),
            );
        }
    }
    (None, Vec::new(), format!("{an} precedes {bn} ({rel})"))
}

/// How many elements of key `k`'s order a read reflects (`NONE`: unknown).
fn version(ix: &Index<'_>, k: u32, elems: &[Elem]) -> u32 {
    match elems.last() {
        None => 0,
        Some(&e) => match ix.writer(k, e) {
            Some(w) if w.pos != NONE => w.pos + 1,
            _ => NONE,
        },
    }
}

/// A non-cycle anomaly about transactions `txns`, named T1, T2, … in that order.
pub(crate) fn plain(
    ix: &Index<'_>,
    kind: AnomalyKind,
    txns: &[TxnId],
    key: Option<&Key>,
    elements: Vec<Elem>,
    explanation: String,
) -> Anomaly {
    Anomaly {
        kind,
        txns: txns
            .iter()
            .enumerate()
            .map(|(i, &t)| TxnRef::new(format!("T{}", i + 1), ix.txn(t)))
            .collect(),
        steps: Vec::new(),
        shortest: None,
        key: key.cloned(),
        elements,
        explanation: vec![explanation],
    }
}
