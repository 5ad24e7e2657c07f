//! A unique-values [`Conflict`] in plain words, as an [`Anomaly`] the report reads like
//! the search's: the op that cannot be placed (`stuck_at`), the other ops of the conflict
//! with their part in it (`candidates`), and a linearizable prefix with the state after
//! it.

use super::{At, Conflict, Outcome, UniqueKey};
use crate::history::History;
use crate::linearizability::op_ref;
use crate::model::{show, Completion, Model};
use crate::verdict::{Anomaly, Blocked, OpRef};

/// At most this many cas links are named in a conflict's text and candidates.
const MAX_LINKS: usize = 6;

/// The anomaly of an illegal unique-values check (`None` when it found none).
pub(crate) fn explain<M: Model>(
    history: &History<M::Op>,
    model: &M,
    job: &UniqueKey<M::Call>,
) -> Option<Anomaly> {
    let Some(Outcome::Illegal { conflict, prefix }) = &job.outcome else {
        return None;
    };
    let part = &job.part;
    let op = |i: u32| {
        let c = &part.calls[i as usize];
        op_ref(history, model, c.invoke, c.ret)
    };
    let name = |i: u32| {
        let o = op(i);
        format!("#{} {}", o.index, o.op)
    };
    let value = |i: u32| show(job.value(i));
    let blocked = |i: u32, why: String| Blocked { op: op(i), why };
    let link_words = |links: &[u32]| {
        let mut words: Vec<String> = links.iter().take(MAX_LINKS).map(|&l| name(l)).collect();
        if links.len() > MAX_LINKS {
            words.push(format!("and {} more", links.len() - MAX_LINKS));
        }
        words.join(", ")
    };
    let link_blocks = |links: &[u32]| -> Vec<Blocked> {
        links
            .iter()
            .take(MAX_LINKS)
            .map(|&l| blocked(l, "a cas that links these values".to_owned()))
            .collect()
    };

    let (words, stuck, candidates): (String, u32, Vec<Blocked>) = match conflict {
        Conflict::NeverWritten { call, value: v } => (
            format!(
                "{} needs the register to hold {v}, but no write or cas that took effect wrote {v} to this key{}.",
                name(*call),
                if job.initial().is_some() {
                    format!(", and it started at {}", show(job.initial()))
                } else {
                    String::new()
                },
                v = show(*v),
            ),
            *call,
            Vec::new(),
        ),
        Conflict::FromTheFuture { read, write } => (
            format!(
                "{} returned {} before {} was invoked: it read a value from the future.",
                name(*read),
                value(*read),
                name(*write)
            ),
            *read,
            vec![blocked(
                *write,
                format!("invoked after {} had completed", name(*read)),
            )],
        ),
        Conflict::TwiceFrom {
            first,
            second,
            from,
        } => (
            format!(
                "{} and {} both took effect from {from}, but {from} was written once: after either, the register never holds {from} again.",
                name(*first),
                name(*second)
            ),
            *second,
            vec![blocked(*first, format!("also took effect from {from}"))],
        ),
        Conflict::Cycle { cas } => {
            let values: Vec<String> = cas.iter().map(|&c| value(c)).collect();
            (
                format!(
                    "cas ops turn their values into one another in a cycle ({} → {}): none can take effect first, since each needs a value another one writes.",
                    values.join(" → "),
                    values.first().cloned().unwrap_or_default()
                ),
                cas[0],
                cas[1..]
                    .iter()
                    .take(11)
                    .map(|&c| blocked(c, "part of the cycle".to_owned()))
                    .collect(),
            )
        }
        Conflict::ChainOrder { early, late, links } => {
            let mut c = vec![blocked(
                *early,
                format!("completed before {} was invoked", name(*late)),
            )];
            c.extend(link_blocks(links));
            let turned = format!(
                "{} needs {}, but cas ops turned {} into {} ({})",
                name(*late),
                value(*late),
                value(*late),
                value(*early),
                link_words(links),
            );
            let words = if links.last() == Some(early) {
                format!(
                    "{turned}, and {} completed before {} was invoked.",
                    name(*early),
                    name(*late)
                )
            } else {
                format!(
                    "{turned}, and {} (value {}) completed before {} was invoked.",
                    name(*early),
                    value(*early),
                    name(*late)
                )
            };
            (words, *late, c)
        }
        Conflict::Overlap { p, q } => {
            let done = |a: At| match a {
                At::Initial => format!("the initial value {}", show(job.initial())),
                At::Call(i) => name(i),
            };
            let vals = |s: &super::Side| {
                let start = match s.done {
                    At::Initial => show(job.initial()),
                    At::Call(i) => value(i),
                };
                let end = value(s.started);
                if start == end {
                    format!("value {start}")
                } else {
                    format!("the values {start} … {end}")
                }
            };
            let mut words = format!(
                "{} and {} must each come before the other: {} completed before {} was invoked, and {} completed before {} was invoked.",
                vals(p),
                vals(q),
                done(p.done),
                name(q.started),
                done(q.done),
                name(p.started)
            );
            for s in [p, q] {
                if !s.links.is_empty() {
                    words.push_str(&format!(
                        " {} are one run: cas ops chain them ({}).",
                        vals(s),
                        link_words(&s.links)
                    ));
                }
            }
            let mut c = Vec::new();
            if let At::Call(i) = q.done {
                c.push(blocked(
                    i,
                    format!("completed before {} was invoked", name(p.started)),
                ));
            }
            if let At::Call(i) = p.done {
                c.push(blocked(
                    i,
                    format!("completed before {} was invoked", name(q.started)),
                ));
            }
            c.push(blocked(
                q.started,
                format!("invoked after {} completed", done(p.done)),
            ));
            c.extend(link_blocks(&p.links));
            c.extend(link_blocks(&q.links));
            (words, p.started, c)
        }
    };
    let stuck_at = op(stuck);
    let mut seen = vec![stuck_at.index];
    let candidates = candidates
        .into_iter()
        .filter(|b| {
            let fresh = !seen.contains(&b.op.index);
            seen.push(b.op.index);
            fresh
        })
        .collect();

    let ops = history.ops();
    let path: Vec<_> = prefix
        .iter()
        .filter_map(|&i| {
            let c = &part.calls[i as usize];
            let completion = match c.ret.and_then(|r| ops[r].payload()) {
                Some(p) => Completion::Ok(p),
                None => Completion::Indeterminate,
            };
            ops[c.invoke].payload().map(|p| (p, completion))
        })
        .collect();
    let tail_from = prefix.len().saturating_sub(8);
    let prefix_tail: Vec<OpRef> = prefix[tail_from..].iter().map(|&i| op(i)).collect();
    Some(Anomaly {
        key: part.key.clone(),
        kind: "not-linearizable".to_owned(),
        prefix_len: prefix.len(),
        prefix_tail,
        state: model.describe_path(&path),
        stuck_at: Some(stuck_at),
        candidates,
        conflict: Some(words),
    })
}
