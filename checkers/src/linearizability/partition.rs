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
    partitions_with(history, model, |_, _| ())
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// [`partitions`], with `extra(invoke, completion)` of every kept call alongside, in the
/// same order (read from the history in the same pass, while its op is at hand).
pub(crate) fn partitions_with<M: Model, X>(
    history: &History<M::Op>,
    model: &M,
    extra: impl Fn(&M::Op, Completion<'_, M::Op>) -> X,
) -> Vec<(Partition<M::Call>, Vec<X>)> {
    struct Draft<C, X> {
        calls: Vec<C>,
        at: Vec<(usize, Option<usize>)>,
        extra: Vec<X>,
        recorded: usize,
    }
    let mut drafts: BTreeMap<Option<Key>, Draft<M::Call, X>> = BTreeMap::new();
    let ops = history.ops();
    for c in history.calls() {
        let op = &ops[c.invoke];
        let d = drafts.entry(model.partition(op)).or_insert_with(|| Draft {
            calls: Vec::new(),
            at: Vec::new(),
            extra: Vec::new(),
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
        d.extra.push(extra(invoke, done));
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
            let kept = |i: usize| !drop.get(i).copied().unwrap_or(false);
            let calls = d
                .calls
                .into_iter()
                .zip(d.at)
                .enumerate()
                .filter(|(i, _)| kept(*i))
                .map(|(_, (call, (invoke, ret)))| PartCall { call, invoke, ret })
                .collect();
            let extra = d
                .extra
                .into_iter()
                .enumerate()
                .filter(|(i, _)| kept(*i))
                .map(|(_, x)| x)
                .collect();
            let part = Partition {
                key,
                calls,
                recorded: d.recorded,
            };
            (part, extra)
        })
        .collect()
}
