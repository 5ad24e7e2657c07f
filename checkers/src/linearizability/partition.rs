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
/// Failed calls, calls the model drops (indeterminate reads) and calls it declares
/// [`Model::droppable`] are left out.
pub(crate) fn partitions<M: Model>(history: &History<M::Op>, model: &M) -> Vec<Partition<M::Call>> {
    struct Draft<C> {
        calls: Vec<C>,
        at: Vec<(usize, Option<usize>)>,
        recorded: usize,
    }
    let mut drafts: BTreeMap<Option<Key>, Draft<M::Call>> = BTreeMap::new();
    let ops = history.ops();
    for c in history.calls() {
        let op = &ops[c.invoke];
        let d = drafts.entry(model.partition(op)).or_insert_with(|| Draft {
            calls: Vec::new(),
            at: Vec::new(),
            recorded: 0,
        });
        d.recorded += 1;
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
        d.calls.push(call);
        d.at.push((c.invoke, ret));
    }
    drafts
        .into_iter()
        .map(|(key, d)| {
            let indeterminate: Vec<bool> = d.at.iter().map(|(_, r)| r.is_none()).collect();
            let drop = if indeterminate.contains(&true) {
                model.droppable(&d.calls, &indeterminate)
            } else {
                Vec::new()
            };
            let calls = d
                .calls
                .into_iter()
                .zip(d.at)
                .enumerate()
                .filter(|(i, _)| !drop.get(*i).copied().unwrap_or(false))
                .map(|(_, (call, (invoke, ret)))| PartCall { call, invoke, ret })
                .collect();
            Partition {
                key,
                calls,
                recorded: d.recorded,
            }
        })
        .collect()
}
