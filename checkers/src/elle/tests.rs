//! The checker on hand-built histories: each anomaly class is flagged with its
//! explanation, the verdict follows the consistency model, and histories a
//! strict-serializable store could produce are valid.

use super::*;
use crate::history::Key;
use crate::verdict::Validity;
use ConsistencyModel as M;
use MicroOp as Op;

fn ok(p: u64, invoke: u64, complete: u64, ops: Vec<MicroOp>) -> Txn {
    Txn::ok(p, invoke, complete, ops)
}

fn check_as(txns: &[Txn], model: ConsistencyModel) -> ElleReport {
    check(
        txns,
        &Options {
            consistency_model: model,
            ..Options::default()
        },
        Budget::default(),
    )
}

fn kinds(r: &ElleReport) -> Vec<String> {
    r.anomaly_types.iter().map(|k| k.name()).collect()
}

/// The first example of `kind`, its explanation as one string.
fn explained(r: &ElleReport, kind: &str) -> (Anomaly, String) {
    let a = r
        .anomalies
        .iter()
        .find(|a| a.kind.name() == kind)
        .unwrap_or_else(|| panic!("no {kind} in:\n{r}"))
        .clone();
    let text = a.explanation.join("\n");
    (a, text)
}

#[test]
fn a_serial_history_is_strict_serializable() {
    let txns = vec![
        ok(0, 0, 1, vec![Op::append("x", 1), Op::read("y", [])]),
        ok(1, 2, 3, vec![Op::read("x", [1]), Op::append("y", 1)]),
        ok(0, 4, 5, vec![Op::append("x", 2), Op::append("y", 2)]),
        ok(2, 6, 7, vec![Op::read("x", [1, 2]), Op::read("y", [1, 2])]),
    ];
    let r = check_as(&txns, M::StrictSerializable);
    assert_eq!(r.valid, Validity::Valid, "{r}");
    assert!(r.anomalies.is_empty() && r.unknown.is_empty());
    assert_eq!(r.satisfies, vec![M::StrictSerializable]);
    assert!(r.stats.edges.ww > 0 && r.stats.edges.wr > 0 && r.stats.edges.rw > 0);
    assert!(r.stats.edges.realtime > 0 && r.stats.edges.process > 0);
    assert_eq!(r.stats.components, 0);
}

#[test]
fn concurrent_indeterminate_and_failed_transactions_can_be_valid() {
    // T0 and T1 overlap; T1's read may come first. An info append is seen, another
    // is never seen (it may not have happened), a failed one is never seen.
    let txns = vec![
        ok(0, 0, 5, vec![Op::append("x", 1)]),
        ok(1, 1, 4, vec![Op::read("x", []), Op::append("y", 1)]),
        Txn::info(2, 2, Some(6), vec![Op::append("x", 2)]),
        Txn::info(3, 3, None, vec![Op::append("y", 2)]),
        Txn::fail(4, 7, 8, vec![Op::append("x", 3)]),
        ok(5, 9, 10, vec![Op::read("x", [1, 2]), Op::read("y", [1])]),
    ];
    let r = check_as(&txns, M::StrictSerializable);
    assert_eq!(r.valid, Validity::Valid, "{r}");
    assert_eq!((r.stats.ok, r.stats.info, r.stats.fail), (3, 2, 1));
}

#[test]
fn g0_write_cycle() {
    let txns = vec![
        ok(0, 0, 10, vec![Op::append("x", 1), Op::append("y", 2)]),
        ok(1, 1, 11, vec![Op::append("x", 3), Op::append("y", 4)]),
        ok(
            2,
            12,
            13,
            vec![Op::read("x", [1, 3]), Op::read("y", [4, 2])],
        ),
    ];
    let r = check_as(&txns, M::ReadUncommitted);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["G0"]);
    let (a, text) = explained(&r, "G0");
    assert_eq!(a.steps.len(), 2);
    assert!(a.steps.iter().all(|s| s.rel == Rel::Ww));
    assert!(
        text.contains(r#"appended 1 to key "x" before T"#) && text.contains("appended 3 (ww)"),
        "{text}"
    );
    assert!(text.contains(r#"appended 4 to key "y" before"#), "{text}");
    assert_eq!(a.shortest, Some(true));
    assert!(r.satisfies.is_empty());
    assert_eq!(r.not, vec![M::ReadUncommitted]);
}

#[test]
fn g1c_circular_information_flow() {
    let txns = vec![
        ok(0, 0, 10, vec![Op::append("x", 1), Op::read("y", [1])]),
        ok(1, 1, 11, vec![Op::append("y", 1), Op::read("x", [1])]),
    ];
    let r = check_as(&txns, M::ReadCommitted);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["G1c"]);
    let (a, text) = explained(&r, "G1c");
    assert!(a.steps.iter().all(|s| s.rel == Rel::Wr));
    assert!(
        text.contains("which T2 observed when it read [1] (wr)"),
        "{text}"
    );
    assert_eq!(check_as(&txns, M::ReadUncommitted).valid, Validity::Valid);
}

#[test]
fn g_single_read_skew() {
    let txns = vec![
        ok(0, 0, 10, vec![Op::append("x", 1), Op::append("y", 1)]),
        ok(1, 1, 11, vec![Op::read("x", []), Op::read("y", [1])]),
    ];
    let r = check_as(&txns, M::SnapshotIsolation);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["G-single"]);
    let (a, text) = explained(&r, "G-single");
    let rels: Vec<Rel> = a.steps.iter().map(|s| s.rel).collect();
    assert!(
        rels.contains(&Rel::Rw) && rels.contains(&Rel::Wr),
        "{rels:?}"
    );
    assert!(
        text.contains(r#"read key "x" as [] (empty), before T"#)
            && text.contains("appended 1 (rw)"),
        "{text}"
    );
    assert_eq!(check_as(&txns, M::RepeatableRead).valid, Validity::Invalid);
    assert_eq!(check_as(&txns, M::ReadCommitted).valid, Validity::Valid);
    assert_eq!(r.satisfies, vec![M::ReadCommitted]);
}

#[test]
fn g_nonadjacent() {
    let txns = vec![
        ok(0, 0, 10, vec![Op::read("a", []), Op::read("d", [1])]),
        ok(1, 1, 11, vec![Op::append("a", 1), Op::append("b", 1)]),
        ok(2, 2, 12, vec![Op::read("b", [1]), Op::read("c", [])]),
        ok(3, 3, 13, vec![Op::append("c", 1), Op::append("d", 1)]),
    ];
    let r = check_as(&txns, M::SnapshotIsolation);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["G-nonadjacent"]);
    let (a, _) = explained(&r, "G-nonadjacent");
    assert_eq!(a.steps.len(), 4);
    assert_eq!(a.steps.iter().filter(|s| s.rel == Rel::Rw).count(), 2);
    assert_eq!(check_as(&txns, M::ReadCommitted).valid, Validity::Valid);
}

#[test]
fn g2_item_write_skew() {
    let txns = vec![
        ok(0, 0, 10, vec![Op::read("x", []), Op::append("y", 1)]),
        ok(1, 1, 11, vec![Op::read("y", []), Op::append("x", 1)]),
    ];
    let r = check_as(&txns, M::Serializable);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["G2-item"]);
    let (a, text) = explained(&r, "G2-item");
    assert!(a.steps.iter().all(|s| s.rel == Rel::Rw));
    assert!(text.contains("no order of these transactions"), "{text}");
    assert_eq!(check_as(&txns, M::SnapshotIsolation).valid, Validity::Valid);
    assert_eq!(check_as(&txns, M::RepeatableRead).valid, Validity::Invalid);
    assert_eq!(r.not, vec![M::RepeatableRead]);
    assert_eq!(r.satisfies, vec![M::SnapshotIsolation]);
}

#[test]
fn g0_process_needs_the_process_edge() {
    // Process 5 appended 2, then 1; a read shows 1 before 2.
    let txns = vec![
        ok(5, 0, 1, vec![Op::append("x", 2)]),
        ok(5, 2, 3, vec![Op::append("x", 1)]),
        ok(6, 4, 5, vec![Op::read("x", [1, 2])]),
    ];
    let r = check_as(&txns, M::StrictSerializable);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["G0-process"]);
    let (_, text) = explained(&r, "G0-process");
    assert!(text.contains("both on process 5 (process)"), "{text}");
    assert_eq!(check_as(&txns, M::Serializable).valid, Validity::Valid);
}

#[test]
fn g_single_realtime_stale_read() {
    // T1 begins after T0's append completed, yet reads the empty list; a concurrent
    // reader saw the append, so it is not lost.
    let txns = vec![
        ok(0, 0, 1, vec![Op::append("x", 1)]),
        ok(1, 2, 3, vec![Op::read("x", [])]),
        ok(2, 4, 5, vec![Op::read("x", [1])]),
    ];
    let r = check_as(&txns, M::StrictSerializable);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["G-single-realtime"]);
    let (_, text) = explained(&r, "G-single-realtime");
    assert!(
        text.contains("completed at index 1 before T")
            && text.contains("invoked at index 2 (realtime)"),
        "{text}"
    );
    let s = check_as(&txns, M::Serializable);
    assert_eq!(s.valid, Validity::Valid, "{s}");
    assert_eq!(s.satisfies, vec![M::Serializable]);
    assert_eq!(s.not, vec![M::StrictSerializable]);
}

#[test]
fn g1c_realtime_read_from_the_future() {
    let txns = vec![
        ok(0, 0, 1, vec![Op::read("x", [1])]),
        ok(1, 2, 3, vec![Op::append("x", 1)]),
    ];
    let r = check_as(&txns, M::StrictSerializable);
    assert_eq!(kinds(&r), ["G1c-realtime"], "{r}");
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn lost_append() {
    let txns = vec![
        ok(0, 0, 1, vec![Op::append("x", 1)]),
        ok(1, 2, 3, vec![Op::read("x", [])]),
    ];
    let r = check_as(&txns, M::StrictSerializable);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert!(kinds(&r).contains(&"lost-append".to_owned()), "{r}");
    let (a, text) = explained(&r, "lost-append");
    assert_eq!(a.elements, vec![1]);
    assert!(
        text.contains(
            "completed ok at index 1; T2, invoked later at index 2, read the key as [] (empty)"
        ),
        "{text}"
    );
}

#[test]
fn g1a_aborted_read() {
    let txns = vec![
        Txn::fail(0, 0, 1, vec![Op::append("x", 1)]),
        ok(1, 2, 3, vec![Op::read("x", [1])]),
    ];
    let r = check_as(&txns, M::ReadCommitted);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["G1a"]);
    let (a, text) = explained(&r, "G1a");
    assert_eq!(a.txns[1].outcome, Outcome::Fail);
    assert!(text.contains("T2 appended it, and T2 failed"), "{text}");
    assert_eq!(check_as(&txns, M::ReadUncommitted).valid, Validity::Valid);
}

#[test]
fn g1b_intermediate_read() {
    let txns = vec![
        ok(0, 0, 3, vec![Op::append("x", 1), Op::append("x", 2)]),
        ok(1, 1, 2, vec![Op::read("x", [1])]),
    ];
    let r = check_as(&txns, M::ReadCommitted);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert!(kinds(&r).contains(&"G1b".to_owned()), "{r}");
    let (_, text) = explained(&r, "G1b");
    assert!(
        text.contains("ending at 1, an intermediate state of T2"),
        "{text}"
    );
    assert!(text.contains("append [2]"), "{text}");
}

#[test]
fn dirty_update() {
    let txns = vec![
        Txn::fail(0, 0, 1, vec![Op::append("x", 1)]),
        ok(1, 2, 3, vec![Op::append("x", 2)]),
        ok(2, 4, 5, vec![Op::read("x", [1, 2])]),
    ];
    let r = check_as(&txns, M::ReadCommitted);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["G1a", "dirty-update"]);
    let (a, text) = explained(&r, "dirty-update");
    assert_eq!(a.elements, vec![1, 2]);
    assert!(
        text.contains("1 appended by T1, which failed, then 2 appended by T2"),
        "{text}"
    );
}

#[test]
fn duplicate_elements() {
    let txns = vec![
        ok(0, 0, 1, vec![Op::append("x", 1)]),
        ok(1, 2, 3, vec![Op::read("x", [1, 1])]),
    ];
    let r = check_as(&txns, M::ReadUncommitted);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["duplicate-elements"]);
    let (_, text) = explained(&r, "duplicate-elements");
    assert!(text.contains("1 appears 2 times"), "{text}");
}

#[test]
fn incompatible_order() {
    let txns = vec![
        ok(0, 0, 1, vec![Op::append("x", 1)]),
        ok(1, 0, 1, vec![Op::append("x", 2)]),
        ok(2, 2, 3, vec![Op::read("x", [1, 2])]),
        ok(3, 2, 3, vec![Op::read("x", [2, 1])]),
    ];
    let r = check_as(&txns, M::ReadCommitted);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert!(kinds(&r).contains(&"incompatible-order".to_owned()), "{r}");
    let (a, text) = explained(&r, "incompatible-order");
    assert_eq!(a.key, Some(Key::from("x")));
    assert!(
        text.contains("as [2 1], T2 read it as [1 2]: neither is a prefix"),
        "{text}"
    );
}

#[test]
fn internal_inconsistency() {
    // T0 misses its own append; T1 reads y twice and sees it change under it (T2's
    // concurrent append), which also makes a G-single cycle.
    let txns = vec![
        ok(0, 0, 1, vec![Op::append("x", 1), Op::read("x", [])]),
        ok(1, 2, 5, vec![Op::read("y", []), Op::read("y", [5])]),
        ok(2, 3, 4, vec![Op::append("y", 5)]),
    ];
    let r = check_as(&txns, M::SnapshotIsolation);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(r.counts[&AnomalyKind::Internal], 2, "{r}");
    let texts: Vec<&str> = r
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::Internal)
        .map(|a| a.explanation[0].as_str())
        .collect();
    assert!(texts[0].contains(r#"T1 read key "x" as [] (empty), but its own earlier micro-ops mean it should read [… 1]"#), "{r}");
    assert!(
        texts[1].contains("as [5], but its own earlier micro-ops mean it should read [] (empty)"),
        "{r}"
    );
    // Elle's table: read committed does not forbid internal anomalies.
    assert!(!M::ReadCommitted.forbids(AnomalyKind::Internal));
}

#[test]
fn future_read() {
    let txns = vec![ok(0, 0, 1, vec![Op::read("x", [1]), Op::append("x", 1)])];
    let r = check_as(&txns, M::ReadCommitted);
    assert_eq!(r.valid, Validity::Invalid, "{r}");
    assert_eq!(kinds(&r), ["future-read"]);
    let (_, text) = explained(&r, "future-read");
    assert!(text.contains("before it appended 1 itself"), "{text}");
}

#[test]
fn garbage_read() {
    let txns = vec![
        ok(0, 0, 1, vec![Op::append("x", 1)]),
        ok(1, 2, 3, vec![Op::read("x", [1, 9])]),
    ];
    let r = check_as(&txns, M::ReadCommitted);
    assert_eq!(kinds(&r), ["garbage-read"], "{r}");
    let (_, text) = explained(&r, "garbage-read");
    assert!(text.contains("no transaction appended 9 to it"), "{text}");
}

#[test]
fn no_ok_transaction_is_unknown() {
    let txns = vec![Txn::info(0, 0, None, vec![Op::append("x", 1)])];
    let r = check_as(&txns, M::StrictSerializable);
    assert_eq!(r.valid, Validity::Unknown);
    assert_eq!(r.unknown, vec![UnknownCause::NoOkTransactions]);
    assert_eq!(check_as(&[], M::ReadCommitted).valid, Validity::Unknown);
}

fn write_skew() -> Vec<Txn> {
    vec![
        ok(0, 0, 10, vec![Op::read("x", []), Op::append("y", 1)]),
        ok(1, 1, 11, vec![Op::read("y", []), Op::append("x", 1)]),
    ]
}

#[test]
fn an_exhausted_budget_is_unknown_not_a_guess() {
    // Under snapshot isolation the write skew is allowed, but with no budget the
    // search cannot rule out the G-single it forbids: unknown. The fallback cycle is
    // still reported.
    let si = Options {
        consistency_model: M::SnapshotIsolation,
        ..Options::default()
    };
    for budget in [
        Budget {
            component_steps: 0,
            ..Budget::default()
        },
        Budget {
            component_time_limit: Duration::ZERO,
            ..Budget::default()
        },
    ] {
        let r = check(&write_skew(), &si, budget);
        assert_eq!(r.valid, Validity::Unknown, "{r}");
        let UnknownCause::CycleSearch { not_searched, .. } = &r.unknown[0] else {
            panic!("{r}");
        };
        assert!(not_searched.contains(&"G-single".to_owned()), "{r}");
        assert_eq!(kinds(&r), ["G2-item"]);
        assert_eq!(r.anomalies[0].shortest, Some(false));
        assert!(
            r.to_string().contains("incomplete: the cycle search"),
            "{r}"
        );
    }
    // Under serializable the fallback cycle alone decides: invalid.
    let ser = Options {
        consistency_model: M::Serializable,
        ..Options::default()
    };
    let budget = Budget {
        component_steps: 0,
        ..Budget::default()
    };
    assert_eq!(check(&write_skew(), &ser, budget).valid, Validity::Invalid);
    // With a budget, snapshot isolation holds.
    assert_eq!(
        check(&write_skew(), &si, Budget::default()).valid,
        Validity::Valid
    );
}

#[test]
fn examples_are_capped_but_everything_is_counted() {
    let mut txns = vec![Txn::fail(0, 0, 1, vec![Op::append("x", 1)])];
    for i in 0..20 {
        txns.push(ok(i + 1, 2 * i + 2, 2 * i + 3, vec![Op::read("x", [1])]));
    }
    let r = check(
        &txns,
        &Options {
            max_examples: 3,
            ..Options::default()
        },
        Budget::default(),
    );
    assert_eq!(r.counts[&AnomalyKind::G1a], 20);
    assert_eq!(r.anomalies.len(), 3);
    assert!(r.to_string().contains("… and 17 more G1a"), "{r}");
}

#[test]
fn the_report_reads_in_plain_words() {
    let r = check_as(&write_skew(), M::StrictSerializable);
    let text = r.to_string();
    assert!(
        text.starts_with("list-append: INVALID under strict-serializable, which forbids G2-item"),
        "{text}"
    );
    assert!(
        text.contains("not repeatable-read (nor strict-serializable, serializable)"),
        "{text}"
    );
    assert!(
        text.contains("strongest models not ruled out: snapshot-isolation"),
        "{text}"
    );
    assert!(
        text.contains("G2-item: a cycle of 2 transactions"),
        "{text}"
    );
    assert!(
        text.contains(r#"T1 = ok, process 0, index 0–10: [[r "x" []] [append "y" 1]]"#),
        "{text}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["valid"], "invalid");
    assert_eq!(json["anomalies"][0]["kind"], "G2-item");
    assert_eq!(json["anomalies"][0]["steps"][0]["rel"], "rw");
    let back: ElleReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}
