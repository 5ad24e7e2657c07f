//! [`History`]: a validated, typed sequence of ops, and how invocations pair up with
//! their completions.

use std::collections::BTreeMap;

use super::{Body, Fault, Kind, Op, Payload, Process, ProcessId, Record};
use crate::input_error::{InputError, Location};

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Completed `ok` at this position.
    Ok(usize),
    /// Completed `fail` at this position: it had no effect.
    Fail(usize),
    /// Completed `info` at this position: indeterminate.
    Info(usize),
    /// Never completed before the history ended: indeterminate.
    Never,
}

/// One client call: its invocation's position and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub invoke: usize,
    pub end: End,
}

/// A well-formed history (see the module docs for the invariants).
#[derive(Debug, Clone, PartialEq)]
pub struct History<P> {
    ops: Vec<Op<P>>,
    /// Source line of each op; empty for histories built in memory.
    lines: Vec<usize>,
    calls: Vec<Call>,
}

impl<P: Payload> History<P> {
    /// Validates ops built in memory (e.g. by tests or the interpreter).
    pub fn new(ops: Vec<Op<P>>) -> Result<Self, InputError> {
        let calls = pair(&ops, &[])?;
        Ok(History {
            ops,
            lines: Vec::new(),
            calls,
        })
    }

    /// Decodes untyped records into `P` and validates them; errors name the line.
    pub fn from_records(records: &[Record]) -> Result<Self, InputError> {
        let mut ops = Vec::with_capacity(records.len());
        let mut lines = Vec::with_capacity(records.len());
        for (pos, r) in records.iter().enumerate() {
            let body = match r.process {
                Process::Nemesis => Body::Nemesis(Fault {
                    f: r.f.clone(),
                    value: r.value.clone(),
                }),
                Process::Client(_) => match P::decode(&r.f, &r.value, r.kind) {
                    Ok(p) => Body::Client(p),
                    Err(e) => {
                        return Err(InputError::at_line(
                            r.line,
                            format!("f {:?} with value {}: {}", r.f, r.value, e.0),
                        ))
                    }
                },
            };
            ops.push(Op {
                index: r.index.unwrap_or(pos as u64),
                time: r.time.unwrap_or(0),
                process: r.process,
                kind: r.kind,
                key: r.key.clone(),
                body,
                error: r.error.clone(),
            });
            lines.push(r.line);
        }
        let calls = pair(&ops, &lines)?;
        Ok(History { ops, lines, calls })
    }

    /// The ops, in history order.
    pub fn ops(&self) -> &[Op<P>] {
        &self.ops
    }

    /// Every client call in invocation order, with how it ended.
    pub fn calls(&self) -> &[Call] {
        &self.calls
    }

    /// Where the op at `pos` came from: its source line, or its position.
    pub fn location(&self, pos: usize) -> Location {
        match self.lines.get(pos) {
            Some(&l) => Location::Line(l),
            None => Location::Op(pos),
        }
    }

    /// Consumes the history, giving back its ops.
    pub fn into_ops(self) -> Vec<Op<P>> {
        self.ops
    }
}

fn pair<P: Payload>(ops: &[Op<P>], lines: &[usize]) -> Result<Vec<Call>, InputError> {
    let loc = |pos: usize| match lines.get(pos) {
        Some(&l) => Location::Line(l),
        None => Location::Op(pos),
    };
    let err = |pos: usize, message: String| InputError {
        location: loc(pos),
        message,
    };
    let mut pending: BTreeMap<ProcessId, usize> = BTreeMap::new();
    let mut retired: BTreeMap<ProcessId, usize> = BTreeMap::new();
    let mut calls: Vec<Call> = Vec::new();
    // Position of each pending invocation's entry in `calls`.
    let mut call_of: BTreeMap<usize, usize> = BTreeMap::new();
    for (pos, op) in ops.iter().enumerate() {
        let p = match (op.process, &op.body) {
            (Process::Nemesis, Body::Nemesis(_)) => continue,
            (Process::Client(p), Body::Client(_)) => p,
            (Process::Nemesis, Body::Client(_)) => {
                return Err(err(
                    pos,
                    "a nemesis op must carry a fault, not a client payload".into(),
                ))
            }
            (Process::Client(p), Body::Nemesis(_)) => {
                return Err(err(
                    pos,
                    format!("client process {p} carries a nemesis fault"),
                ))
            }
        };
        if op.kind == Kind::Invoke {
            if let Some(&prev) = pending.get(&p) {
                return Err(err(
                    pos,
                    format!(
                        "process {p} invokes again while its op at {} is still outstanding; \
                         expected a completion (ok, fail or info) first",
                        loc(prev)
                    ),
                ));
            }
            if let Some(&at) = retired.get(&p) {
                return Err(err(
                    pos,
                    format!(
                        "process {p} was retired by its info at {} and cannot invoke again; \
                         expected a fresh process id",
                        loc(at)
                    ),
                ));
            }
            pending.insert(p, pos);
            call_of.insert(pos, calls.len());
            calls.push(Call {
                invoke: pos,
                end: End::Never,
            });
            continue;
        }
        let Some(inv) = pending.remove(&p) else {
            return Err(err(
                pos,
                format!(
                    "{} for process {p}, which has no outstanding invoke",
                    op.kind.as_str()
                ),
            ));
        };
        let invoke = &ops[inv];
        if let (Some(a), Some(b)) = (invoke.payload(), op.payload()) {
            if a.f() != b.f() {
                return Err(err(
                    pos,
                    format!(
                        "{} :{} completes process {p}'s :{} invoked at {}; expected the same f",
                        op.kind.as_str(),
                        b.f(),
                        a.f(),
                        loc(inv)
                    ),
                ));
            }
        }
        if let (Some(a), Some(b)) = (&invoke.key, &op.key) {
            if a != b {
                return Err(err(
                    pos,
                    format!(
                        "completion's key {b} differs from the invocation's key {a} at {}",
                        loc(inv)
                    ),
                ));
            }
        }
        let end = match op.kind {
            Kind::Ok => End::Ok(pos),
            Kind::Fail => End::Fail(pos),
            Kind::Info => {
                retired.insert(p, pos);
                End::Info(pos)
            }
            Kind::Invoke => unreachable!("invocations are handled above"),
        };
        if let Some(i) = call_of.remove(&inv) {
            calls[i].end = end;
        }
    }
    Ok(calls)
}
