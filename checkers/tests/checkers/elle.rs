//! The list-append checker end to end: properties of serial histories, golden EDN
//! histories with known verdicts, both file formats, export to EDN, and bad input.

use std::time::Duration;

use checkers::elle::{
    check, txns_from_records, Budget, ConsistencyModel, ElleReport, MicroOp, Options, Outcome, Txn,
};
use checkers::format::{self, edn};
use checkers::verdict::Validity;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::serial_append::{generate, to_jsonl, Shape};
use crate::support::testdata;

fn check_as(txns: &[Txn], model: ConsistencyModel) -> ElleReport {
    check(
        txns,
        &Options {
            consistency_model: model,
            ..Options::default()
        },
        Budget {
            time_limit: Duration::from_secs(60),
            ..Budget::default()
        },
    )
}

/// Replaces one read with a strict prefix that leaves out an element appended by a
/// transaction that completed ok before the reader was invoked. Returns a description
/// of the change, or `None` when the history has no such read.
fn make_stale(txns: &mut [Txn], rng: &mut ChaCha8Rng) -> Option<String> {
    let mut writer = std::collections::BTreeMap::new();
    for (i, t) in txns.iter().enumerate() {
        for op in &t.ops {
            if let MicroOp::Append { key, elem } = op {
                writer.insert((key.clone(), *elem), i);
            }
        }
    }
    // (reader, micro-op, position of the last element a finished writer appended)
    let mut candidates = Vec::new();
    for (r, t) in txns.iter().enumerate() {
        if t.outcome != Outcome::Ok {
            continue;
        }
        for (m, op) in t.ops.iter().enumerate() {
            let MicroOp::Read {
                key,
                elems: Some(elems),
            } = op
            else {
                continue;
            };
            let finished = elems.iter().rposition(|e| {
                writer.get(&(key.clone(), *e)).is_some_and(|&w| {
                    let w = &txns[w];
                    w.outcome == Outcome::Ok && w.complete.is_some_and(|c| c.index < t.invoke.index)
                })
            });
            if let Some(j) = finished {
                candidates.push((r, m, j));
            }
        }
    }
    if candidates.is_empty() {
        return None;
    }
    let (r, m, j) = candidates[rng.gen_range(0..candidates.len())];
    let keep = rng.gen_range(0..=j);
    let MicroOp::Read {
        elems: Some(elems), ..
    } = &mut txns[r].ops[m]
    else {
        unreachable!("a candidate is a known read");
    };
    let was = format!("{elems:?}");
    elems.truncate(keep);
    Some(format!("txn {r} micro-op {m}: {was} → {elems:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn serial_histories_are_strict_serializable(
        seed in any::<u64>(),
        n in 1usize..120,
        concurrency in 1usize..6,
    ) {
        let txns = generate(seed, Shape::small(n, concurrency));
        let r = check_as(&txns, ConsistencyModel::StrictSerializable);
        let expect = if txns.iter().any(|t| t.outcome == Outcome::Ok) {
            Validity::Valid
        } else {
            Validity::Unknown
        };
        prop_assert_eq!(r.valid, expect, "seed {} n {} concurrency {}:\n{}", seed, n, concurrency, r);
        prop_assert!(r.anomaly_types.is_empty(), "seed {}:\n{}", seed, r);
    }

    #[test]
    fn one_stale_read_is_always_flagged(
        seed in any::<u64>(),
        n in 2usize..120,
        concurrency in 1usize..6,
    ) {
        let mut txns = generate(seed, Shape::small(n, concurrency));
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let Some(change) = make_stale(&mut txns, &mut rng) else {
            return Ok(());
        };
        let r = check_as(&txns, ConsistencyModel::StrictSerializable);
        prop_assert_eq!(r.valid, Validity::Invalid, "seed {} n {} concurrency {} ({}):\n{}",
            seed, n, concurrency, change, r);
    }
}

#[test]
fn the_stale_flip_finds_candidates() {
    // Guards the property above against testing nothing.
    let mut found = 0;
    for seed in 0..20 {
        let mut txns = generate(seed, Shape::small(60, 3));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        if make_stale(&mut txns, &mut rng).is_some() {
            found += 1;
        }
    }
    assert!(
        found >= 15,
        "only {found} of 20 histories had a read to make stale"
    );
}

#[test]
fn jsonl_round_trips_through_the_reader() {
    let txns = generate(7, Shape::small(200, 4));
    let text = to_jsonl(&txns);
    let (fmt, records) = format::read(text.as_bytes(), None).expect("generated JSONL parses");
    assert_eq!(fmt, format::Format::Jsonl);
    let back = txns_from_records(&records).expect("well-formed");
    assert_eq!(back.len(), txns.len());
    for (a, b) in txns.iter().zip(&back) {
        assert_eq!(
            (a.process, a.outcome, &a.ops),
            (b.process, b.outcome, &b.ops)
        );
        assert_eq!(a.invoke.index, b.invoke.index);
        assert_eq!(a.complete.map(|c| c.index), b.complete.map(|c| c.index));
        assert!(b.invoke.line.is_some());
    }
    // And through EDN, as `faultline export --to edn` writes it.
    let exported = edn::write(&records);
    assert!(exported.contains("[:append ") && exported.contains(":f :txn"));
    assert!(!exported.contains("\"append\""));
    let (_, again) = format::read(exported.as_bytes(), None).expect("exported EDN parses");
    let from_edn = txns_from_records(&again).expect("well-formed");
    assert_eq!(
        from_edn.iter().map(|t| &t.ops).collect::<Vec<_>>(),
        back.iter().map(|t| &t.ops).collect::<Vec<_>>()
    );
}

fn golden(name: &str) -> Vec<Txn> {
    let path = testdata(&format!("elle/{name}"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, records) =
        format::read(&bytes, None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    txns_from_records(&records).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Each golden history: its anomaly kinds, and its verdict under each model named.
#[test]
fn golden_histories_give_their_verdicts() {
    use ConsistencyModel as M;
    use Validity::*;
    type Case<'a> = (&'a str, &'a [&'a str], &'a [(M, Validity)]);
    let cases: &[Case] = &[
        ("serializable.edn", &[], &[(M::StrictSerializable, Valid)]),
        (
            "write-skew.edn",
            &["G2-item"],
            &[(M::Serializable, Invalid), (M::SnapshotIsolation, Valid)],
        ),
        (
            "read-skew.edn",
            &["G-single"],
            &[(M::SnapshotIsolation, Invalid), (M::ReadCommitted, Valid)],
        ),
        (
            "stale-read.edn",
            &["G-single-realtime", "lost-append"],
            &[(M::StrictSerializable, Invalid), (M::Serializable, Valid)],
        ),
        (
            "aborted-read.edn",
            &["G1a", "dirty-update"],
            &[(M::ReadCommitted, Invalid), (M::ReadUncommitted, Valid)],
        ),
        (
            "incompatible-order.edn",
            &["incompatible-order"],
            &[(M::ReadCommitted, Invalid)],
        ),
        (
            "jepsen-records.edn",
            &["G1c"],
            &[(M::ReadCommitted, Invalid), (M::ReadUncommitted, Valid)],
        ),
    ];
    for (name, kinds, verdicts) in cases {
        let txns = golden(name);
        for (model, expect) in *verdicts {
            let r = check_as(&txns, *model);
            let found: Vec<String> = r.anomaly_types.iter().map(|k| k.name()).collect();
            let mut want: Vec<String> = kinds.iter().map(|s| s.to_string()).collect();
            want.sort();
            let mut got = found.clone();
            got.sort();
            assert_eq!(got, want, "{name}:\n{r}");
            assert_eq!(r.valid, *expect, "{name} under {model}:\n{r}");
        }
    }
}

#[test]
fn malformed_transactions_name_their_line() {
    for (name, line, words) in [
        ("bad-micro-op.edn", 3, "unknown function \"w\""),
        (
            "bad-read-value.edn",
            2,
            "expected the value read to be a list",
        ),
        (
            "bad-duplicate-append.edn",
            3,
            "appends 1 to key 5 again (first appended at line 1)",
        ),
        (
            "bad-completion.edn",
            2,
            "expected micro-op 1 of the completion to match",
        ),
    ] {
        let path = testdata(&format!("elle/{name}"));
        let bytes = std::fs::read(&path).expect("golden file");
        let (_, records) = format::read(&bytes, None).expect("EDN syntax is fine");
        let e = txns_from_records(&records).expect_err(name);
        assert_eq!(e.line(), Some(line), "{name}: {e}");
        assert!(e.message.contains(words), "{name}: {e}");
    }
}
