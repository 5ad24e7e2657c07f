//! Operations as intervals: each invocation paired with its completion.
//!
//! ```text
//! [Op] (by index) ──► per process: invoke ─► ok | fail | info ──► [Call] sorted by start
//! ```
//!
//! A process has at most one operation in flight, so a completion closes the pending
//! invocation of its process. An `info` completion retires the process (its effect is
//! unknown, forever); an invocation that never completed is open until the end of the
//! history. A completion with no pending invocation (e.g. a nemesis note) becomes a
//! zero-length call.

use std::collections::BTreeMap;

use super::input::{Op, OpKind, Process};

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Ok,
    Fail,
    Info,
    /// Never completed.
    Open,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Open => "open",
        }
    }
}

/// One operation from invocation to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call<'a> {
    pub process: Process,
    pub invoke: Option<&'a Op>,
    pub complete: Option<&'a Op>,
    pub outcome: Outcome,
}

impl<'a> Call<'a> {
    /// When it began (invocation, or the completion if there was none).
    pub fn start(&self) -> u64 {
        self.invoke.or(self.complete).map_or(0, |o| o.time)
    }

    /// When it completed, if it did.
    pub fn end(&self) -> Option<u64> {
        self.complete.map(|o| o.time)
    }

    pub fn latency(&self) -> Option<u64> {
        self.end().map(|e| e.saturating_sub(self.start()))
    }

    pub fn f(&self) -> &'a str {
        self.invoke.or(self.complete).map_or("", |o| o.f.as_str())
    }

    /// The first history index of the call.
    pub fn index(&self) -> u64 {
        self.invoke.or(self.complete).map_or(0, |o| o.index)
    }
}

/// Pairs invocations with completions. The result is sorted by start time (then
/// first index), and every op appears in exactly one call.
pub fn pair(ops: &[Op]) -> Vec<Call<'_>> {
    let mut sorted: Vec<&Op> = ops.iter().collect();
    sorted.sort_by_key(|o| o.index);
    let mut pending: BTreeMap<Process, &Op> = BTreeMap::new();
    let mut calls = Vec::with_capacity(ops.len() / 2 + 1);
    for op in sorted {
        let outcome = match op.kind {
            OpKind::Invoke => {
                if let Some(prev) = pending.insert(op.process, op) {
                    // Two invocations in a row: the first never completed.
                    calls.push(open(prev));
                }
                continue;
            }
            OpKind::Ok => Outcome::Ok,
            OpKind::Fail => Outcome::Fail,
            OpKind::Info => Outcome::Info,
        };
        calls.push(Call {
            process: op.process,
            invoke: pending.remove(&op.process),
            complete: Some(op),
            outcome,
        });
    }
    calls.extend(pending.into_values().map(open));
    calls.sort_by_key(|c| (c.start(), c.index()));
    calls
}

fn open(op: &Op) -> Call<'_> {
    Call {
        process: op.process,
        invoke: Some(op),
        complete: None,
        outcome: Outcome::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(index: u64, time: u64, process: Process, kind: OpKind) -> Op {
        Op {
            index,
            time,
            process,
            kind,
            f: "write".into(),
            value: String::new(),
            error: None,
        }
    }

    #[test]
    fn completions_close_their_process_invocation_and_leftovers_stay_open() {
        let c0 = Process::Client(0);
        let c1 = Process::Client(1);
        let ops = vec![
            op(0, 10, c0, OpKind::Invoke),
            op(1, 20, c1, OpKind::Invoke),
            op(2, 30, c1, OpKind::Fail),
            op(3, 40, c0, OpKind::Info),
            op(4, 50, c1, OpKind::Invoke),
            op(5, 55, Process::Nemesis, OpKind::Info),
        ];
        let calls = pair(&ops);
        let summary: Vec<_> = calls
            .iter()
            .map(|c| (c.process, c.start(), c.end(), c.outcome))
            .collect();
        assert_eq!(
            summary,
            vec![
                (c0, 10, Some(40), Outcome::Info),
                (c1, 20, Some(30), Outcome::Fail),
                (c1, 50, None, Outcome::Open),
                (Process::Nemesis, 55, Some(55), Outcome::Info),
            ]
        );
        assert_eq!(calls[1].latency(), Some(10));
    }

    #[test]
    fn input_order_does_not_matter() {
        let c0 = Process::Client(0);
        let mut ops = vec![op(0, 10, c0, OpKind::Invoke), op(1, 15, c0, OpKind::Ok)];
        ops.reverse();
        let calls = pair(&ops);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].outcome, Outcome::Ok);
        assert_eq!(calls[0].latency(), Some(5));
    }
}
