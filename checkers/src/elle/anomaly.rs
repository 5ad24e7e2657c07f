//! [`Anomaly`]: one finding, with the transactions involved, the cycle's edges (for
//! a cycle) and a plain-word explanation — enough for a report to list it and to draw
//! the cycle (transactions as nodes, edges labelled ww/wr/rw/process/realtime).
//!
//! [`AnomalyKind`] names follow Elle's (`G1a`, `G-single-realtime`,
//! `incompatible-order`, …), plus `lost-append` and `garbage-read` (see
//! `docs/elle.md`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{At, CycleClass, CycleKind, Elem, Outcome, Rel, Txn, Variant};
use crate::history::{Key, ProcessId};

/// The kind of an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyKind {
    /// A dependency cycle of this class.
    Cycle(CycleKind),
    /// Aborted read: an ok transaction read an element a failed one appended.
    G1a,
    /// Intermediate read: a read ended at an element its writer later followed with
    /// another append to the same key.
    G1b,
    /// A committed append on top of an aborted one in a key's version order.
    DirtyUpdate,
    /// A read returned the same element twice.
    DuplicateElements,
    /// Two reads of a key that no single order of appends explains.
    IncompatibleOrder,
    /// A read that contradicts the transaction's own earlier reads or appends.
    Internal,
    /// A read that saw an element its own transaction appends only later.
    FutureRead,
    /// An acknowledged append that no read ever saw, although a read began after it.
    LostAppend,
    /// A read returned an element no transaction appended.
    GarbageRead,
}

impl AnomalyKind {
    /// Every non-cycle kind.
    pub const OTHERS: [AnomalyKind; 9] = [
        AnomalyKind::G1a,
        AnomalyKind::G1b,
        AnomalyKind::DirtyUpdate,
        AnomalyKind::DuplicateElements,
        AnomalyKind::IncompatibleOrder,
        AnomalyKind::Internal,
        AnomalyKind::FutureRead,
        AnomalyKind::LostAppend,
        AnomalyKind::GarbageRead,
    ];

    /// Every kind: cycles first.
    pub fn all() -> impl Iterator<Item = AnomalyKind> {
        CycleKind::all().map(AnomalyKind::Cycle).chain(Self::OTHERS)
    }

    /// A cycle kind.
    pub const fn cycle(class: CycleClass, variant: Variant) -> AnomalyKind {
        AnomalyKind::Cycle(CycleKind::new(class, variant))
    }

    /// Elle's name, e.g. `G1a`, `dirty-update`, `G-single-realtime`.
    pub fn name(self) -> String {
        match self {
            AnomalyKind::Cycle(c) => c.name(),
            AnomalyKind::G1a => "G1a".into(),
            AnomalyKind::G1b => "G1b".into(),
            AnomalyKind::DirtyUpdate => "dirty-update".into(),
            AnomalyKind::DuplicateElements => "duplicate-elements".into(),
            AnomalyKind::IncompatibleOrder => "incompatible-order".into(),
            AnomalyKind::Internal => "internal".into(),
            AnomalyKind::FutureRead => "future-read".into(),
            AnomalyKind::LostAppend => "lost-append".into(),
            AnomalyKind::GarbageRead => "garbage-read".into(),
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for AnomalyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AnomalyKind::all()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown anomaly kind {s:?}"))
    }
}

impl Serialize for AnomalyKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for AnomalyKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A transaction as an anomaly names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRef {
    /// `T1`, `T2`, … within the anomaly.
    pub name: String,
    pub process: ProcessId,
    pub outcome: Outcome,
    pub invoke: At,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub complete: Option<At>,
    /// Its micro-ops as EDN prints them.
    pub ops: String,
}

impl TxnRef {
    pub(crate) fn new(name: String, t: &Txn) -> TxnRef {
        TxnRef {
            name,
            process: t.process,
            outcome: t.outcome,
            invoke: t.invoke,
            complete: t.complete,
            ops: t.ops_text(),
        }
    }

    /// `T1 = ok, process 3, index 10–12 (lines 11–13): [[append 4 3]]`.
    pub fn binding(&self) -> String {
        let span = match self.complete {
            Some(c) => match (self.invoke.line, c.line) {
                (Some(a), Some(b)) => {
                    format!("index {}–{} (lines {a}–{b})", self.invoke.index, c.index)
                }
                _ => format!("index {}–{}", self.invoke.index, c.index),
            },
            None => format!("{}, never completed", self.invoke),
        };
        format!(
            "{} = {}, process {}, {span}: {}",
            self.name,
            self.outcome.as_str(),
            self.process,
            self.ops
        )
    }
}

/// One edge of a cycle, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Positions in the anomaly's `txns`.
    pub from: usize,
    pub to: usize,
    pub rel: Rel,
    /// The key the dependency is on (data edges).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<Key>,
    /// ww: the two appended elements; wr: the element read; rw: the element appended.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub elements: Vec<Elem>,
    /// E.g. `T1 appended 3 to key 4 before T2 appended 5 (ww)`.
    pub text: String,
}

/// One anomaly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// The transactions involved; for a cycle, in cycle order.
    pub txns: Vec<TxnRef>,
    /// A cycle's edges in order, the last one returning to `txns[0]`; empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub steps: Vec<Step>,
    /// For a cycle: whether it is the shortest of its class in its component (`false`
    /// when the budget cut the search short).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shortest: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<Key>,
    /// The elements at issue (e.g. the aborted element read).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub elements: Vec<Elem>,
    /// Plain words, one sentence per line; for a cycle, one line per step.
    pub explanation: Vec<String>,
}

impl Anomaly {
    /// The anomaly as lines for a terminal: a title, the transactions, the reasoning.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.kind {
            AnomalyKind::Cycle(c) => out.push(format!(
                "{c}: a cycle of {} transactions{} — {}",
                self.txns.len(),
                if self.shortest == Some(false) {
                    " (the budget ran out before a shorter one was ruled out)"
                } else {
                    ""
                },
                c.class.meaning()
            )),
            k => out.push(format!("{k}")),
        }
        out.extend(self.txns.iter().map(|t| format!("  {}", t.binding())));
        out.extend(self.explanation.iter().map(|l| format!("  {l}")));
        out
    }
}

/// Collects anomalies: every one is counted, the first `cap` of each kind are kept.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub cap: usize,
    pub counts: BTreeMap<AnomalyKind, usize>,
    pub examples: BTreeMap<AnomalyKind, Vec<Anomaly>>,
}

impl Findings {
    pub fn new(cap: usize) -> Findings {
        Findings {
            cap,
            ..Findings::default()
        }
    }

    /// Counts one anomaly of `kind`; builds and keeps it while under the cap.
    pub fn add(&mut self, kind: AnomalyKind, make: impl FnOnce() -> Anomaly) {
        let n = self.counts.entry(kind).or_insert(0);
        *n += 1;
        let kept = self.examples.entry(kind).or_default();
        if kept.len() < self.cap {
            let a = make();
            debug_assert_eq!(a.kind, kind);
            kept.push(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in AnomalyKind::all() {
            assert_eq!(k.name().parse::<AnomalyKind>().unwrap(), k);
            let j = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<AnomalyKind>(&j).unwrap(), k);
        }
        assert_eq!(AnomalyKind::all().count(), 24);
        assert!("G3".parse::<AnomalyKind>().is_err());
    }

    #[test]
    fn findings_count_everything_and_keep_the_first() {
        let mut f = Findings::new(1);
        let a = |k| Anomaly {
            kind: k,
            txns: vec![],
            steps: vec![],
            shortest: None,
            key: None,
            elements: vec![],
            explanation: vec![],
        };
        f.add(AnomalyKind::G1a, || a(AnomalyKind::G1a));
        f.add(AnomalyKind::G1a, || panic!("over the cap: not built"));
        assert_eq!(f.counts[&AnomalyKind::G1a], 2);
        assert_eq!(f.examples[&AnomalyKind::G1a].len(), 1);
    }
}
