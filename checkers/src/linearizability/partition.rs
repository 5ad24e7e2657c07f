//! [`Partition`]: one key's calls, compiled by the model, ready to search.

use std::collections::BTreeMap;

use crate::history::{End, History, Key};
use crate::model::{Completion, Model};

/// A compiled call and where it sits in the history.
#[derive(Debug)]
pub(crate) struct PartCall<C> {
    pub(crate) call: C,
    /// Position of the invocation in the history.
    pub(crate) invoke: usize,
    /// Position of the ok completion; `None` when indeterminate.
    pub(crate) ret: Option<usize>,
}

/// One independent key's calls, in invocation order.
#[derive(Debug)]
pub(crate) struct Partition<C> {
    pub(crate) key: Option<Key>,
    pub(crate) calls: Vec<PartCall<C>>,
    /// Calls in the history for this key, including dropped ones (failed, indeterminate reads).
    pub(crate) recorded: usize,
}

/// The completion of a call as the model sees it, from the history.
pub(crate) fn completion<'h, M: Model>(
    history: &'h History<M::Op>,
    end: End,
) -> Option<Completion<'h, M::Op>> {
    match end {
        End::Fail(_) => None,
        End::Info(_) | End::Never => Some(Completion::Indeterminate),
        End::Ok(p) => history.ops()[p].payload().map(Completion::Ok),
    }
}

/// Splits the history's calls by partition key, compiling each with the model.
/// Failed calls and calls the model drops (indeterminate reads) are left out.
pub(crate) fn partitions<M: Model>(history: &History<M::Op>, model: &M) -> Vec<Partition<M::Call>> {
    let mut parts: BTreeMap<Option<Key>, Partition<M::Call>> = BTreeMap::new();
    let ops = history.ops();
    for c in history.calls() {
        let op = &ops[c.invoke];
        let key = model.partition(op);
        let part = parts.entry(key.clone()).or_insert_with(|| Partition {
            key,
            calls: Vec::new(),
            recorded: 0,
        });
        part.recorded += 1;
        let Some(invoke) = op.payload() else { continue };
        let Some(done) = completion::<M>(history, c.end) else {
            continue;
        };
        let Some(call) = model.call(invoke, done) else {
            continue;
        };
        let ret = match c.end {
            End::Ok(p) => Some(p),
            _ => None,
        };
        part.calls.push(PartCall {
            call,
            invoke: c.invoke,
            ret,
        });
    }
    parts.into_values().collect()
}
