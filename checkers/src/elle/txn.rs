//! [`Txn`]: one transaction of a list-append history — its micro-ops, how it ended,
//! and where its invocation and completion are in the history.
//!
//! ```text
//! invoke  {"process":3,"type":"invoke","f":"txn","value":[["append",4,7],["r",5,null]]}
//! ok      {"process":3,"type":"ok",    "f":"txn","value":[["append",4,7],["r",5,[1,2]]]}
//!    ──► Txn { process 3, Ok, ops [Append 4 7, Read 5 [1 2]], invoke, complete }
//! ```
//!
//! Invariants (checked by [`txns_from_history`](super::txns_from_history)): the
//! completion's micro-ops are the invocation's, in order, with the reads filled in; a
//! read's value is known (`Some`) only in an ok transaction.

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use crate::history::{Key, ProcessId};

/// A list element. Jepsen's list-append workload appends integers, unique per key.
pub type Elem = i64;

/// One step of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicroOp {
    /// `[append k v]`: add `elem` at the end of `key`'s list.
    Append { key: Key, elem: Elem },
    /// `[r k [v1 v2 …]]`: the whole list at `key`. `None` while unknown: in an
    /// invocation, or in a transaction that did not complete ok.
    Read { key: Key, elems: Option<Vec<Elem>> },
}

impl MicroOp {
    /// `[append key elem]`.
    pub fn append(key: impl Into<Key>, elem: Elem) -> MicroOp {
        MicroOp::Append {
            key: key.into(),
            elem,
        }
    }

    /// `[r key [elems…]]`, a read that observed `elems`.
    pub fn read(key: impl Into<Key>, elems: impl Into<Vec<Elem>>) -> MicroOp {
        MicroOp::Read {
            key: key.into(),
            elems: Some(elems.into()),
        }
    }

    /// `[r key nil]`, a read whose result is not known.
    pub fn read_unknown(key: impl Into<Key>) -> MicroOp {
        MicroOp::Read {
            key: key.into(),
            elems: None,
        }
    }

    /// The key it acts on.
    pub fn key(&self) -> &Key {
        match self {
            MicroOp::Append { key, .. } | MicroOp::Read { key, .. } => key,
        }
    }
}

impl fmt::Display for MicroOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MicroOp::Append { key, elem } => write!(f, "[append {key} {elem}]"),
            MicroOp::Read { key, elems: None } => write!(f, "[r {key} nil]"),
            MicroOp::Read {
                key,
                elems: Some(e),
            } => write!(f, "[r {key} {}]", list(e)),
        }
    }
}

/// A list as EDN prints it: `[1 2 3]`.
pub(crate) fn list(elems: &[Elem]) -> String {
    bracketed(elems)
}

/// Items between brackets, separated by spaces.
fn bracketed<T: fmt::Display>(items: &[T]) -> String {
    let mut s = String::from("[");
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{x}");
    }
    s.push(']');
    s
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Committed; its reads are known.
    Ok,
    /// Indeterminate (`info`, or never completed): it may have committed or not.
    Info,
    /// Certainly aborted: none of its appends took effect.
    Fail,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Info => "info",
            Outcome::Fail => "fail",
        }
    }
}

/// Where an invocation or completion is in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct At {
    /// The op's `index` (history order is real-time order).
    pub index: u64,
    /// Nanoseconds since the run started; 0 when the source recorded no times.
    pub time: u64,
    /// 1-based source line, for histories read from a file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<usize>,
}

impl At {
    /// A position with no time or line (histories built in memory).
    pub fn index(index: u64) -> At {
        At {
            index,
            time: 0,
            line: None,
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "index {} (line {l})", self.index),
            None => write!(f, "index {}", self.index),
        }
    }
}

/// One transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub process: ProcessId,
    pub outcome: Outcome,
    pub invoke: At,
    /// `None` when the history ended before it completed.
    pub complete: Option<At>,
    pub ops: Vec<MicroOp>,
}

impl Txn {
    /// An ok transaction invoked at history index `invoke` and completed at `complete`.
    pub fn ok(process: u64, invoke: u64, complete: u64, ops: Vec<MicroOp>) -> Txn {
        Txn {
            process: ProcessId(process),
            outcome: Outcome::Ok,
            invoke: At::index(invoke),
            complete: Some(At::index(complete)),
            ops,
        }
    }

    /// A failed transaction (certainly aborted). Its reads are unknown.
    pub fn fail(process: u64, invoke: u64, complete: u64, ops: Vec<MicroOp>) -> Txn {
        Txn {
            outcome: Outcome::Fail,
            ops: forget_reads(ops),
            ..Txn::ok(process, invoke, complete, Vec::new())
        }
    }

    /// An indeterminate transaction (`info` at `complete`, or never completed when
    /// `None`). Its reads are unknown.
    pub fn info(process: u64, invoke: u64, complete: Option<u64>, ops: Vec<MicroOp>) -> Txn {
        Txn {
            process: ProcessId(process),
            outcome: Outcome::Info,
            invoke: At::index(invoke),
            complete: complete.map(At::index),
            ops: forget_reads(ops),
        }
    }

    /// The micro-ops as EDN prints them: `[[append 4 3] [r 5 [1 2]]]`.
    pub fn ops_text(&self) -> String {
        ops_text(&self.ops)
    }
}

/// Micro-ops as EDN prints them.
pub(crate) fn ops_text(ops: &[MicroOp]) -> String {
    bracketed(ops)
}

fn forget_reads(ops: Vec<MicroOp>) -> Vec<MicroOp> {
    ops.into_iter()
        .map(|op| match op {
            MicroOp::Read { key, .. } => MicroOp::Read { key, elems: None },
            a => a,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_edn() {
        let t = Txn::ok(
            1,
            0,
            1,
            vec![
                MicroOp::append(4, 3),
                MicroOp::read(5, [1, 2]),
                MicroOp::read_unknown("x"),
            ],
        );
        assert_eq!(t.ops_text(), r#"[[append 4 3] [r 5 [1 2]] [r "x" nil]]"#);
        let f = Txn::fail(1, 0, 1, vec![MicroOp::read(5, [1])]);
        assert_eq!(f.ops, vec![MicroOp::read_unknown(5)]);
    }
}
