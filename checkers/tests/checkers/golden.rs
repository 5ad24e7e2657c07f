//! The six Porcupine kv histories (`testdata/porcupine-kv`, copied from
//! `../shared/histories/porcupine-kv`) give their known verdicts.

use std::time::{Duration, Instant};

use checkers::history::{History, Key};
use checkers::model::{Kv, KvOp};
use checkers::verdict::{UnknownReason, Validity};

use crate::support::{check, records};

fn kv(name: &str) -> History<KvOp> {
    History::from_records(&records(&format!("porcupine-kv/{name}.txt")))
        .expect("golden history is well-formed")
}

fn key(k: &str) -> Option<Key> {
    Some(Key::from(k))
}

#[test]
fn ok_histories_are_linearizable() {
    for name in ["c01-ok", "c10-ok", "c50-ok"] {
        let v = check(&kv(name), &Kv, false, Duration::from_secs(30));
        assert_eq!(v.valid, Validity::Valid, "{name}: {v}");
        assert_eq!(v.keys.len(), 10, "{name}");
        assert!(
            v.keys.iter().all(|k| k.valid == Validity::Valid),
            "{name}: {v}"
        );
        assert!(v.anomalies.is_empty());
    }
}

#[test]
fn c01_bad_is_illegal_on_key_7_only() {
    let v = check(&kv("c01-bad"), &Kv, true, Duration::from_secs(30));
    assert_eq!(v.valid, Validity::Invalid, "{v}");
    for k in &v.keys {
        let expect = if k.key == key("7") {
            Validity::Invalid
        } else {
            Validity::Valid
        };
        assert_eq!(k.valid, expect, "key {:?}: {v}", k.key);
    }
    let a = &v.anomalies[0];
    assert_eq!(a.key, key("7"));
    // The read that misses "x 0 3 y" cannot complete; the text names it.
    let stuck = a.stuck_at.as_ref().expect("a stuck op");
    assert!(stuck.op.starts_with("get"), "{stuck:?}");
    assert!(stuck.line.is_some());
    assert!(
        v.to_string().contains("key \"7\" is not linearizable"),
        "{v}"
    );
}

#[test]
fn c10_bad_has_eight_illegal_keys() {
    let v = check(&kv("c10-bad"), &Kv, true, Duration::from_secs(30));
    assert_eq!(v.valid, Validity::Invalid);
    for k in &v.keys {
        let expect = if k.key == key("4") || k.key == key("8") {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        assert_eq!(k.valid, expect, "key {:?}: {v}", k.key);
    }
    assert_eq!(v.anomalies.len(), 8);
}

#[test]
fn c50_bad_is_illegal_quickly() {
    let started = Instant::now();
    let v = check(&kv("c50-bad"), &Kv, false, Duration::from_secs(30));
    let took = started.elapsed();
    assert_eq!(v.valid, Validity::Invalid, "{v}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let illegal = ["1", "2", "3", "4", "6", "8"];
    for k in &v.keys {
        match k.valid {
            Validity::Invalid => assert!(
                illegal.iter().any(|i| k.key == key(i)),
                "key {:?} illegal",
                k.key
            ),
            Validity::Unknown => assert_eq!(k.reason, Some(UnknownReason::Cancelled)),
            Validity::Valid => {}
        }
    }
}

#[test]
fn c50_bad_hard_keys_run_out_of_budget_not_memory() {
    // Keys 0, 5, 7, 9 have no answer within Porcupine's budget; with ours they must
    // become Unknown at the deadline (or finish), while the illegal keys are found.
    let budget = Duration::from_millis(1500);
    let started = Instant::now();
    let v = check(&kv("c50-bad"), &Kv, true, budget);
    assert!(
        started.elapsed() < budget + Duration::from_secs(2),
        "overran its budget"
    );
    // On a loaded machine some illegal keys may also run out of time before they are
    // decided; what must hold is that at least one is found, and that no key outside
    // the illegal set is ever called illegal.
    assert_eq!(v.valid, Validity::Invalid, "{v}");
    for k in &v.keys {
        if ["1", "2", "3", "4", "6", "8"]
            .iter()
            .any(|i| k.key == key(i))
        {
            assert_ne!(k.valid, Validity::Valid, "key {:?}: {v}", k.key);
        } else {
            assert_ne!(k.valid, Validity::Invalid, "key {:?}: {v}", k.key);
        }
    }
    assert!(v.stats.peak_memory_bytes < 1 << 30);
}

#[test]
fn a_zero_budget_answers_unknown() {
    let v = check(&kv("c50-ok"), &Kv, false, Duration::ZERO);
    assert_eq!(v.valid, Validity::Unknown);
    assert!(
        v.keys
            .iter()
            .all(|k| k.reason == Some(UnknownReason::TimeLimit)),
        "{v}"
    );
}

#[test]
fn verdict_round_trips_through_json() {
    let v = check(&kv("c01-bad"), &Kv, false, Duration::from_secs(30));
    let json = serde_json::to_string(&v).expect("serializable");
    let back: checkers::verdict::Verdict = serde_json::from_str(&json).expect("deserializable");
    assert_eq!(back, v);
    assert!(json.contains(r#""valid":"invalid""#), "{json}");
}
