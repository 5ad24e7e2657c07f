//! `dirty-update`: in a key's version order, an append by a committed transaction
//! right after appends by a failed one — a write built on top of an aborted write.
//!
//! Walking the order, the last *known* state is tracked: a failed writer makes it
//! aborted, an ok writer on an aborted state is the anomaly, an indeterminate writer
//! tells nothing either way (Elle's `dirty-update-cases` table).
//!
//! Reference: Elle's `elle.list-append/dirty-update-cases`; it implies G1a.

use super::explain::{key_name, plain};
use super::index::{Index, TxnId};
use super::txn::list;
use super::{AnomalyKind, Elem, Findings, Outcome};

pub(crate) fn find(ix: &Index<'_>, f: &mut Findings) {
    for (k, order) in ix.orders.iter().enumerate() {
        // The last writer whose outcome is known, and the elements since it.
        let mut last: (Outcome, Option<TxnId>) = (Outcome::Ok, None);
        let mut since: Vec<Elem> = Vec::new();
        for &e in &order.elems {
            let Some(w) = ix.writer(k as u32, e) else {
                continue;
            };
            let now = ix.txn(w.txn).outcome;
            match (last.0, now) {
                (Outcome::Fail, Outcome::Ok) => {
                    since.push(e);
                    let key = ix.keys[k];
                    let failed = last.1.expect("a failed state has a writer");
                    let elems = since.clone();
                    f.add(AnomalyKind::DirtyUpdate, || {
                        plain(
                            ix,
                            AnomalyKind::DirtyUpdate,
                            &[failed, w.txn],
                            Some(key),
                            elems.clone(),
                            format!(
                                "{}'s version order has {} appended by T1, which failed, then \
                                 {e} appended by T2, which committed: a write on top of an \
                                 aborted one (versions {})",
                                key_name(key),
                                elems[0],
                                list(&elems)
                            ),
                        )
                    });
                    last = (now, Some(w.txn));
                    since = vec![e];
                }
                (_, Outcome::Info) | (Outcome::Fail, Outcome::Fail) => since.push(e),
                _ => {
                    last = (now, Some(w.txn));
                    since = vec![e];
                }
            }
        }
    }
}
