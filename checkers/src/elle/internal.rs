//! Anomalies inside one transaction: `internal` (a read that contradicts the
//! transaction's own earlier reads and appends of the key) and `future-read` (a read
//! containing an element the same transaction appends only later).
//!
//! Within a transaction, after `[r k v]` the key is known to be `v`; after
//! `[append k e]` it is the known list plus `e`, or — with no read before — some
//! unknown prefix followed by the appends so far (`[… e]`). Every later read must
//! match.
//!
//! References: Cerone, Bernardi & Gotsman, "A Framework for Transactional Consistency
//! Models with Atomic Visibility" (CONCUR 2015), axiom INT; Elle's
//! `elle.list-append/{op-int-case,op-future-read-case}`.

use super::explain::{key_name, read_value};
use super::index::{Index, KeyId};
use super::txn::list;
use super::{explain::plain, AnomalyKind, Elem, Findings, MicroOp, Outcome};

/// What a transaction knows about a key so far.
enum Expect {
    /// Exactly this list.
    Known(Vec<Elem>),
    /// Some unknown prefix, then these.
    Suffix(Vec<Elem>),
}

pub(crate) fn find(ix: &Index<'_>, f: &mut Findings) {
    for (t, txn) in ix.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let t = t as u32;
        let keys = ix.mop_keys(t);
        let mut state: Vec<(KeyId, Expect)> = Vec::new();
        let mut internal_found = false;
        let mut future_found = false;
        for (m, op) in txn.ops.iter().enumerate() {
            let k = keys[m];
            let slot = state.iter().position(|(x, _)| *x == k);
            match op {
                MicroOp::Append { key, elem } => {
                    if !future_found {
                        let read_before = txn.ops[..m].iter().zip(keys).find(|(o, &kk)| {
                            kk == k
                                && matches!(o, MicroOp::Read { elems: Some(v), .. } if v.contains(elem))
                        });
                        if let Some((MicroOp::Read { elems: Some(v), .. }, _)) = read_before {
                            future_found = true;
                            f.add(AnomalyKind::FutureRead, || {
                                plain(
                                    ix,
                                    AnomalyKind::FutureRead,
                                    &[t],
                                    Some(key),
                                    vec![*elem],
                                    format!(
                                        "T1 read {} as {}, which includes {elem}, before it \
                                         appended {elem} itself",
                                        key_name(key),
                                        read_value(v)
                                    ),
                                )
                            });
                        }
                    }
                    match slot {
                        Some(i) => match &mut state[i].1 {
                            Expect::Known(l) | Expect::Suffix(l) => l.push(*elem),
                        },
                        None => state.push((k, Expect::Suffix(vec![*elem]))),
                    }
                }
                MicroOp::Read { key, elems } => {
                    let v = elems.as_deref().unwrap_or(&[]);
                    if let Some(i) = slot {
                        let (ok, expected) = match &state[i].1 {
                            Expect::Known(l) => (l.as_slice() == v, read_value(l)),
                            Expect::Suffix(s) => (v.ends_with(s), format!("[… {}", &list(s)[1..])),
                        };
                        if !ok && !internal_found {
                            internal_found = true;
                            f.add(AnomalyKind::Internal, || {
                                plain(
                                    ix,
                                    AnomalyKind::Internal,
                                    &[t],
                                    Some(key),
                                    Vec::new(),
                                    format!(
                                        "T1 read {} as {}, but its own earlier micro-ops mean \
                                         it should read {expected}",
                                        key_name(key),
                                        read_value(v)
                                    ),
                                )
                            });
                        }
                        state[i].1 = Expect::Known(v.to_vec());
                    } else {
                        state.push((k, Expect::Known(v.to_vec())));
                    }
                }
            }
        }
    }
}
