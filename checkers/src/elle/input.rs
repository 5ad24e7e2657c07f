//! Reading transactions out of a history: [`txns_from_records`] (any file format) and
//! [`txns_from_history`] (a typed `History<TxnValue>`).
//!
//! ```text
//! Records ─History::from_records─► History<TxnValue> ─txns_from_history─► Vec<Txn>
//!            (pairing, f = txn,                        (ok value matches invoke,
//!             micro-op syntax)                          appends unique per key)
//! ```
//!
//! Every error names the line (or op position) and what was expected: a malformed
//! micro-op, an ok completion whose micro-ops differ from its invocation's, or a value
//! appended twice to one key (Elle's `verify-unique-appends`: the version order is
//! inferred from values, so each must be unique per key).

use super::hasher::FxHashMap;
use super::txn::ops_text;
use super::{At, Elem, MicroOp, Outcome, Txn, TxnValue};
use crate::history::{End, History, Key, Process, Record};
use crate::input_error::{InputError, Location};

/// Decodes and validates a list-append history from records of any format.
pub fn txns_from_records(records: &[Record]) -> Result<Vec<Txn>, InputError> {
    let history = History::<TxnValue>::from_records(records)?;
    txns_from_history(&history)
}

/// The transactions of a typed history, in invocation order. Nemesis ops are skipped.
pub fn txns_from_history(history: &History<TxnValue>) -> Result<Vec<Txn>, InputError> {
    let ops = history.ops();
    let at = |pos: usize| At {
        index: ops[pos].index,
        time: ops[pos].time,
        line: match history.location(pos) {
            Location::Line(l) => Some(l),
            Location::Op(_) => None,
        },
    };
    let err = |pos: usize, message: String| InputError {
        location: history.location(pos),
        message,
    };
    let mut appended: FxHashMap<(&Key, Elem), usize> = FxHashMap::default();
    let mut txns = Vec::with_capacity(history.calls().len());
    for call in history.calls() {
        let invoke = &ops[call.invoke];
        let Process::Client(process) = invoke.process else {
            continue;
        };
        let Some(TxnValue(invoked)) = invoke.payload() else {
            continue;
        };
        for op in invoked {
            if let MicroOp::Append { key, elem } = op {
                if let Some(first) = appended.insert((key, *elem), call.invoke) {
                    return Err(err(
                        call.invoke,
                        format!(
                            "appends {elem} to key {key} again (first appended at {}); \
                             expected every appended value to be unique per key",
                            history.location(first)
                        ),
                    ));
                }
            }
        }
        let (outcome, complete) = match call.end {
            End::Ok(p) => (Outcome::Ok, Some(p)),
            End::Fail(p) => (Outcome::Fail, Some(p)),
            End::Info(p) => (Outcome::Info, Some(p)),
            End::Never => (Outcome::Info, None),
        };
        let micro_ops = match (outcome, complete) {
            (Outcome::Ok, Some(pos)) => {
                let Some(TxnValue(done)) = ops[pos].payload() else {
                    return Err(err(pos, "expected a transaction value".into()));
                };
                completed(invoked, done).map_err(|m| {
                    err(
                        pos,
                        format!(
                            "{m}; the invocation at {} was {}",
                            history.location(call.invoke),
                            ops_text(invoked)
                        ),
                    )
                })?
            }
            _ => invoked
                .iter()
                .map(|op| match op {
                    MicroOp::Read { key, .. } => MicroOp::Read {
                        key: key.clone(),
                        elems: None,
                    },
                    a => a.clone(),
                })
                .collect(),
        };
        txns.push(Txn {
            process,
            outcome,
            invoke: at(call.invoke),
            complete: complete.map(at),
            ops: micro_ops,
        });
    }
    Ok(txns)
}

/// The ok completion's micro-ops, checked against the invocation's; a `null` read is
/// the empty list.
fn completed(invoked: &[MicroOp], done: &[MicroOp]) -> Result<Vec<MicroOp>, String> {
    if invoked.len() != done.len() {
        return Err(format!(
            "expected the completion to have the invocation's {} micro-ops, found {}",
            invoked.len(),
            done.len()
        ));
    }
    invoked
        .iter()
        .zip(done)
        .enumerate()
        .map(|(i, (a, b))| match (a, b) {
            (MicroOp::Append { key: k1, elem: e1 }, MicroOp::Append { key: k2, elem: e2 })
                if k1 == k2 && e1 == e2 =>
            {
                Ok(b.clone())
            }
            (MicroOp::Read { key: k1, .. }, MicroOp::Read { key: k2, elems }) if k1 == k2 => {
                Ok(MicroOp::Read {
                    key: k2.clone(),
                    elems: Some(elems.clone().unwrap_or_default()),
                })
            }
            _ => Err(format!(
                "expected micro-op {} of the completion to match the invocation's {a}, found {b}",
                i + 1
            )),
        })
        .collect()
}
