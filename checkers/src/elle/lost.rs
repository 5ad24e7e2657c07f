//! `lost-append`: an append that was acknowledged (its transaction completed ok), that
//! no read ever contained, although some ok transaction invoked after that
//! acknowledgement read the key. A strict-serializable store must show the element to
//! every transaction that begins after the append's commit.
//!
//! The same history also holds a `G-single-realtime` cycle (the late read's
//! anti-dependency on the append, and the real-time edge back); this finding names
//! the lost element directly, as Jepsen's set checkers do for lost adds.

use super::explain::{key_name, plain, read_value};
use super::index::{Index, TxnId};
use super::{AnomalyKind, Findings, MicroOp, Outcome};

pub(crate) fn find(ix: &Index<'_>, f: &mut Findings) {
    for (k, order) in ix.orders.iter().enumerate() {
        let k = k as u32;
        let lost: Vec<(TxnId, u32)> = order
            .unobserved
            .iter()
            .copied()
            .filter(|&(t, m)| {
                let txn = ix.txn(t);
                let MicroOp::Append { elem, .. } = txn.ops[m as usize] else {
                    return false;
                };
                txn.outcome == Outcome::Ok && ix.writer(k, elem).is_some_and(|w| !w.in_incompatible)
            })
            .collect();
        if lost.is_empty() {
            continue;
        }
        // Ok reads of this key, by invocation index.
        let lo = ix.reads.partition_point(|r| r.key < k);
        let hi = ix.reads.partition_point(|r| r.key <= k);
        let mut reads: Vec<(u64, TxnId, u32)> = ix.reads[lo..hi]
            .iter()
            .map(|r| (ix.txn(r.txn).invoke.index, r.txn, r.mop))
            .collect();
        reads.sort_unstable();
        for (t, m) in lost {
            let txn = ix.txn(t);
            let Some(done) = txn.complete else { continue };
            let i = reads.partition_point(|r| r.0 <= done.index);
            let Some(&(at, reader, rm)) = reads.get(i) else {
                continue;
            };
            let MicroOp::Append { key, elem } = &txn.ops[m as usize] else {
                continue;
            };
            f.add(AnomalyKind::LostAppend, || {
                plain(
                    ix,
                    AnomalyKind::LostAppend,
                    &[t, reader],
                    Some(key),
                    vec![*elem],
                    format!(
                        "T1 appended {elem} to {} and completed ok at index {}; T2, invoked \
                         later at index {at}, read the key as {}, and no read ever contained \
                         {elem}",
                        key_name(key),
                        done.index,
                        read_value(ix.read_elems(reader, rm))
                    ),
                )
            });
        }
    }
}
