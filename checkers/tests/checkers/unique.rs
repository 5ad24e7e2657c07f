//! The unique-values check (`linearizability::check_register`): hand-built anomalies are
//! found with their ops; on random histories (valid, and with one planted or random
//! anomaly) it agrees with the search; a history that repeats a value falls back to the
//! search, says so, and answers right; histories faultline's own runs wrote agree too.
//!
//! Random cases are driven by a `u64` seed shown in every failure message.

use std::time::Duration;

use checkers::history::{Body, History, Kind, Op};
use checkers::linearizability::{check_register, Algorithm, Budget, Options, RegisterModel};
use checkers::model::{CasOp, CasRegister, Initial, Register, RegisterOp};
use checkers::verdict::{Method, Validity, Verdict};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::properties::{config, generate_cas, plant_stale_read, simulate};
use crate::support::records;

/// A history written event by event, in real-time order.
struct Script<P> {
    ops: Vec<Op<P>>,
}

impl<P: Clone> Script<P> {
    fn new() -> Self {
        Script { ops: Vec::new() }
    }

    fn push(mut self, process: u64, kind: Kind, op: P) -> Self {
        let i = self.ops.len() as u64;
        self.ops.push(Op::client(i, i * 10, process, kind, op));
        self
    }

    fn inv(self, process: u64, op: P) -> Self {
        self.push(process, Kind::Invoke, op)
    }

    fn ok(self, process: u64, op: P) -> Self {
        self.push(process, Kind::Ok, op)
    }

    fn info(self, process: u64, op: P) -> Self {
        self.push(process, Kind::Info, op)
    }

    fn fail(self, process: u64, op: P) -> Self {
        self.push(process, Kind::Fail, op)
    }

    fn history(self) -> History<P>
    where
        P: checkers::history::Payload,
    {
        History::new(self.ops).expect("scripts are well-formed")
    }
}

use CasOp::{Cas, Read, Write};

fn cas(from: i64, to: i64) -> CasOp {
    Cas { from, to }
}

fn options(all_keys: bool) -> Options {
    Options {
        budget: Budget {
            time_limit: Duration::from_secs(20),
            memory_limit: 1 << 30,
        },
        threads: 1,
        all_keys,
    }
}

/// Both paths' verdicts: (unique-values, search).
fn both<M: RegisterModel>(h: &History<M::Op>, model: &M) -> (Verdict, Verdict) {
    let u = check_register(h, model, options(true), Algorithm::UniqueValues);
    let s = check_register(h, model, options(true), Algorithm::Search);
    assert!(s.keys.iter().all(|k| k.method == Method::Search));
    (u, s)
}

/// Checks both paths, expects them to agree on `expect` (and key by key) and the unique
/// path to have answered every key; returns the unique path's verdict.
fn agree<M: RegisterModel>(h: &History<M::Op>, model: &M, expect: Validity) -> Verdict {
    let (u, s) = both(h, model);
    assert_eq!(s.valid, expect, "search: {s}");
    assert_eq!(u.valid, expect, "unique values: {u}\nsearch: {s}");
    let per_key = |v: &Verdict| -> Vec<Validity> { v.keys.iter().map(|k| k.valid).collect() };
    assert_eq!(per_key(&u), per_key(&s), "unique values: {u}\nsearch: {s}");
    assert!(
        u.keys.iter().all(|k| k.method == Method::UniqueValues),
        "{u}"
    );
    u
}

/// The history indices the anomaly names (stuck op first, then the others).
fn named_ops(v: &Verdict) -> Vec<u64> {
    let a = &v.anomalies[0];
    a.stuck_at
        .iter()
        .map(|o| o.index)
        .chain(a.candidates.iter().map(|b| b.op.index))
        .collect()
}

#[test]
fn a_stale_read_is_found_with_its_ops() {
    // w1 done, then w2 done, then a read returns 1.
    let h = Script::new()
        .inv(0, Write(1))
        .ok(0, Write(1))
        .inv(1, Write(2))
        .ok(1, Write(2))
        .inv(2, Read(None))
        .ok(2, Read(Some(1)))
        .history();
    let v = agree(&h, &CasRegister, Validity::Invalid);
    assert_eq!(v.anomalies.len(), 1);
    let ops = named_ops(&v);
    assert_eq!(ops[0], 4, "the read is the op that cannot be placed: {v}");
    assert!(ops.contains(&2) && ops.contains(&0), "{ops:?}: {v}");
    let a = &v.anomalies[0];
    let text = a.conflict.as_deref().unwrap_or_default();
    assert!(
        text.contains("value 1 and value 2 must each come before the other"),
        "{text}"
    );
    // A real linearizable prefix: write 1, and the state after it.
    assert_eq!(a.prefix_len, 1, "{v}");
    assert_eq!(a.state, "the register holds 1");
    assert!(v.to_string().contains("unique values"), "{v}");
}

#[test]
fn a_lost_write_is_found_with_its_ops() {
    // write 2 is acknowledged, yet both later reads see the value before it.
    let h = Script::new()
        .inv(0, Write(1))
        .ok(0, Write(1))
        .inv(1, Write(2))
        .ok(1, Write(2))
        .inv(2, Read(None))
        .inv(3, Read(None))
        .ok(2, Read(Some(1)))
        .ok(3, Read(Some(1)))
        .history();
    let v = agree(&h, &CasRegister, Validity::Invalid);
    let ops = named_ops(&v);
    assert!(ops.contains(&2), "the lost write is named: {ops:?}: {v}");
    assert!(ops.contains(&4) || ops.contains(&5), "{ops:?}: {v}");
}

#[test]
fn a_write_lost_behind_a_cas_is_found_with_its_ops() {
    // cas 1→2 took effect and completed, then a read still returns 1.
    let h = Script::new()
        .inv(0, Write(1))
        .ok(0, Write(1))
        .inv(1, cas(1, 2))
        .ok(1, cas(1, 2))
        .inv(2, Read(None))
        .ok(2, Read(Some(1)))
        .history();
    let v = agree(&h, &CasRegister, Validity::Invalid);
    assert_eq!(named_ops(&v), vec![4, 2], "{v}");
    let text = v.anomalies[0].conflict.clone().unwrap_or_default();
    assert_eq!(
        text,
        "#4 read → 1 needs 1, but cas ops turned 1 into 2 (#2 cas 1→2), and #2 cas 1→2 \
         completed before #4 read → 1 was invoked."
    );
}

#[test]
fn a_cas_from_a_value_that_was_never_current_is_found() {
    // 1 was overwritten by 2 before the cas from 1 began; the cas still succeeded.
    let h = Script::new()
        .inv(0, Write(1))
        .ok(0, Write(1))
        .inv(1, Write(2))
        .ok(1, Write(2))
        .inv(2, cas(1, 3))
        .ok(2, cas(1, 3))
        .history();
    let v = agree(&h, &CasRegister, Validity::Invalid);
    let ops = named_ops(&v);
    assert_eq!(ops[0], 4, "the cas cannot be placed: {v}");
    assert!(ops.contains(&2), "the write that replaced 1: {ops:?}");

    // And from a value nobody wrote at all.
    let h = Script::new()
        .inv(0, Write(1))
        .ok(0, Write(1))
        .inv(1, cas(9, 3))
        .ok(1, cas(9, 3))
        .history();
    let v = agree(&h, &CasRegister, Validity::Invalid);
    assert_eq!(named_ops(&v), vec![2], "{v}");
    assert!(v.anomalies[0]
        .conflict
        .as_deref()
        .unwrap_or_default()
        .contains("no write or cas that took effect wrote 9"));
}

#[test]
fn a_read_from_the_future_is_found_with_its_ops() {
    let h = Script::new()
        .inv(0, Read(None))
        .ok(0, Read(Some(5)))
        .inv(1, Write(5))
        .ok(1, Write(5))
        .history();
    let v = agree(&h, &CasRegister, Validity::Invalid);
    assert_eq!(named_ops(&v), vec![0, 2], "{v}");
    assert!(v.anomalies[0]
        .conflict
        .as_deref()
        .unwrap_or_default()
        .contains("from the future"));
    // The register model goes the same way.
    let h = Script::new()
        .inv(0, RegisterOp::Read(None))
        .ok(0, RegisterOp::Read(Some(5)))
        .inv(1, RegisterOp::Write(5))
        .ok(1, RegisterOp::Write(5))
        .history();
    agree(&h, &Register, Validity::Invalid);
}

#[test]
fn two_cas_from_one_value_and_cas_cycles_are_illegal() {
    let twice = Script::new()
        .inv(0, Write(1))
        .ok(0, Write(1))
        .inv(1, cas(1, 2))
        .inv(2, cas(1, 3))
        .ok(1, cas(1, 2))
        .ok(2, cas(1, 3))
        .history();
    let v = agree(&twice, &CasRegister, Validity::Invalid);
    let ops = named_ops(&v);
    assert!(ops.contains(&2) && ops.contains(&3), "{ops:?}: {v}");

    let cycle = Script::new()
        .inv(0, cas(1, 2))
        .inv(1, cas(2, 1))
        .ok(0, cas(1, 2))
        .ok(1, cas(2, 1))
        .history();
    let v = agree(&cycle, &CasRegister, Validity::Invalid);
    assert!(v.anomalies[0]
        .conflict
        .as_deref()
        .unwrap_or_default()
        .contains("cycle"));
}

#[test]
fn indeterminate_ops_happened_only_when_observed() {
    // An indeterminate write whose value was read happened, whenever it began.
    let seen = Script::new()
        .inv(0, Write(1))
        .inv(1, Read(None))
        .ok(1, Read(Some(1)))
        .info(0, Write(1))
        .history();
    agree(&seen, &CasRegister, Validity::Valid);
    // ...but not before it was invoked.
    let future = Script::new()
        .inv(1, Read(None))
        .ok(1, Read(Some(1)))
        .inv(0, Write(1))
        .info(0, Write(1))
        .history();
    agree(&future, &CasRegister, Validity::Invalid);
    // Two indeterminate cas ops that only observe each other: neither needs to happen.
    let pair = Script::new()
        .inv(0, Write(7))
        .ok(0, Write(7))
        .inv(1, cas(1, 2))
        .inv(2, cas(2, 1))
        .info(1, cas(1, 2))
        .info(2, cas(2, 1))
        .inv(3, Read(None))
        .ok(3, Read(Some(7)))
        .history();
    agree(&pair, &CasRegister, Validity::Valid);
    // An indeterminate cas whose value was read took effect, so it needed its `from`.
    let chained = Script::new()
        .inv(0, Write(1))
        .ok(0, Write(1))
        .inv(1, cas(1, 2))
        .inv(2, Read(None))
        .ok(2, Read(Some(2)))
        .inv(3, Read(None))
        .ok(3, Read(Some(1)))
        .history();
    agree(&chained, &CasRegister, Validity::Invalid);
    // Failed ops did nothing: a read of the value a failed write carried is illegal.
    let failed = Script::new()
        .inv(0, Write(1))
        .fail(0, Write(1))
        .inv(1, Read(None))
        .ok(1, Read(Some(1)))
        .history();
    agree(&failed, &CasRegister, Validity::Invalid);
}

#[test]
fn the_initial_nil_is_a_value_like_the_others() {
    let late = Script::new()
        .inv(0, Write(1))
        .ok(0, Write(1))
        .inv(1, Read(None))
        .ok(1, Read(None))
        .history();
    let v = agree(&late, &CasRegister, Validity::Invalid);
    assert!(
        v.anomalies[0]
            .conflict
            .as_deref()
            .unwrap_or_default()
            .contains("initial value nil"),
        "{v}"
    );
    let concurrent = Script::new()
        .inv(0, Write(1))
        .inv(1, Read(None))
        .ok(1, Read(None))
        .ok(0, Write(1))
        .inv(1, Read(None))
        .ok(1, Read(Some(1)))
        .history();
    agree(&concurrent, &CasRegister, Validity::Valid);
}

#[test]
fn a_register_may_start_at_a_value() {
    // Knossos's (cas-register 0): reads of 0 before any write are fine, nil never is.
    let zero = Initial::new(CasRegister, Some(0));
    let h = Script::new()
        .inv(0, Read(None))
        .ok(0, Read(Some(0)))
        .inv(1, cas(0, 1))
        .ok(1, cas(0, 1))
        .inv(0, Read(None))
        .ok(0, Read(Some(1)))
        .history();
    agree(&h, &zero, Validity::Valid);
    agree(&h, &CasRegister, Validity::Invalid);
    let stale = Script::new()
        .inv(1, cas(0, 1))
        .ok(1, cas(0, 1))
        .inv(0, Read(None))
        .ok(0, Read(Some(0)))
        .history();
    let v = agree(&stale, &zero, Validity::Invalid);
    assert!(
        v.anomalies[0]
            .conflict
            .as_deref()
            .unwrap_or_default()
            .contains("cas ops turned 0 into 1"),
        "{v}"
    );
    let nil = Script::new().inv(0, Read(None)).ok(0, Read(None)).history();
    let v = agree(&nil, &zero, Validity::Invalid);
    assert!(
        v.anomalies[0]
            .conflict
            .as_deref()
            .unwrap_or_default()
            .contains("it started at 0"),
        "{v}"
    );
    // Writing the initial value again repeats it: the search answers.
    let again = Script::new().inv(0, Write(0)).ok(0, Write(0)).history();
    let (u, _) = both(&again, &zero);
    assert_eq!(u.keys[0].method, Method::Search);
    assert!(u.keys[0]
        .fallback
        .as_deref()
        .unwrap_or_default()
        .contains("initial value"));
}

#[test]
fn a_repeated_value_falls_back_to_the_search_says_so_and_answers_right() {
    // Two writes of 7: the read of 7 after write 8 is fine (the second 7 came later).
    let valid = Script::new()
        .inv(0, Write(7))
        .ok(0, Write(7))
        .inv(0, Write(8))
        .ok(0, Write(8))
        .inv(1, Write(7))
        .ok(1, Write(7))
        .inv(2, Read(None))
        .ok(2, Read(Some(7)))
        .history();
    let (u, s) = both(&valid, &CasRegister);
    assert_eq!(
        (u.valid, s.valid),
        (Validity::Valid, Validity::Valid),
        "{u}"
    );
    let k = &u.keys[0];
    assert_eq!(k.method, Method::Search);
    let why = k.fallback.as_deref().unwrap_or_default();
    assert!(
        why.contains("value 7 is written twice (#0 and #4)"),
        "{why}"
    );
    assert!(u.to_string().contains("written twice"), "{u}");
    // The same with the read before the second 7 was written: stale.
    let invalid = Script::new()
        .inv(0, Write(7))
        .ok(0, Write(7))
        .inv(0, Write(8))
        .ok(0, Write(8))
        .inv(2, Read(None))
        .ok(2, Read(Some(7)))
        .inv(1, Write(7))
        .ok(1, Write(7))
        .history();
    let (u, s) = both(&invalid, &CasRegister);
    assert_eq!(
        (u.valid, s.valid),
        (Validity::Invalid, Validity::Invalid),
        "{u}"
    );
    assert_eq!(u.keys[0].method, Method::Search);
    assert!(u.anomalies[0].conflict.is_none(), "the search explained it");
}

#[test]
fn keys_choose_their_path_one_by_one() {
    let ops = Script::new()
        .inv(0, Write(1))
        .ok(0, Write(1))
        .inv(1, Write(1))
        .ok(1, Write(1))
        .inv(2, Write(1))
        .ok(2, Write(1))
        .ops
        .into_iter()
        .enumerate()
        .map(|(i, op)| op.with_key(if i < 4 { "a" } else { "b" }))
        .collect();
    let h = History::new(ops).expect("well-formed");
    let v = check_register(&h, &CasRegister, options(true), Algorithm::UniqueValues);
    assert_eq!(v.valid, Validity::Valid, "{v}");
    let methods: Vec<Method> = v.keys.iter().map(|k| k.method).collect();
    // Key "a" holds two of the three writes of 1 (ops 0–3), key "b" one.
    assert_eq!(methods, vec![Method::Search, Method::UniqueValues], "{v}");
}

#[test]
fn results_written_before_the_method_field_still_read() {
    let h = Script::new().inv(0, Write(1)).ok(0, Write(1)).history();
    let v = check_register(&h, &CasRegister, options(false), Algorithm::UniqueValues);
    let mut json = serde_json::to_value(&v).expect("serializable");
    assert_eq!(json["keys"][0]["method"], "unique-values");
    json["keys"][0]
        .as_object_mut()
        .expect("an object")
        .remove("method");
    let back: Verdict = serde_json::from_value(json).expect("still a verdict");
    assert_eq!(back.keys[0].method, Method::Search);
}

/// A register history (no cas) from a sequential simulation: unique writes.
fn generate_register(seed: u64, n: usize, procs: usize, info_pct: u32) -> Vec<Op<RegisterOp>> {
    let state = std::cell::Cell::new(None::<i64>);
    let mut next = 0i64;
    simulate(
        seed,
        n,
        procs,
        info_pct,
        |rng, _| {
            next += 1;
            let op = if rng.gen_bool(0.5) {
                RegisterOp::Read(None)
            } else {
                RegisterOp::Write(next)
            };
            (op, None)
        },
        |op, _| match *op {
            RegisterOp::Read(_) => Some(RegisterOp::Read(state.get())),
            RegisterOp::Write(v) => {
                state.set(Some(v));
                Some(op.clone())
            }
        },
    )
}

/// Applies `k` random mutations: a completed read returns another value (one written
/// somewhere, nil, or one nobody wrote), a completed cas starts from another value, an
/// `ok` becomes `info`, or two neighbouring events of different processes swap places.
/// Any verdict may result; both paths must agree.
fn mutate(ops: &mut [Op<CasOp>], rng: &mut ChaCha8Rng, k: usize) {
    let written: Vec<i64> = ops
        .iter()
        .filter_map(|o| match o.payload() {
            Some(Write(v)) | Some(Cas { to: v, .. }) => Some(*v),
            _ => None,
        })
        .collect();
    let pick_value = |rng: &mut ChaCha8Rng| match rng.gen_range(0..10) {
        0 => None,
        1 => Some(-1),
        _ if !written.is_empty() => Some(written[rng.gen_range(0..written.len())]),
        _ => None,
    };
    for _ in 0..k {
        let oks: Vec<usize> = (0..ops.len())
            .filter(|&i| ops[i].kind == Kind::Ok)
            .collect();
        if oks.is_empty() {
            return;
        }
        let at = oks[rng.gen_range(0..oks.len())];
        match (rng.gen_range(0..4), ops[at].payload().cloned()) {
            (0 | 1, Some(Read(_))) => ops[at].body = Body::Client(Read(pick_value(rng))),
            (0 | 1, Some(Cas { to, .. })) => {
                let Some(from) = pick_value(rng) else {
                    continue;
                };
                // The invocation carries the same payload.
                let p = ops[at].process;
                if let Some(inv) = (0..at).rev().find(|&i| ops[i].process == p) {
                    ops[inv].body = Body::Client(Cas { from, to });
                }
                ops[at].body = Body::Client(Cas { from, to });
            }
            (2, Some(_)) => {
                // Indeterminate now: its process may never invoke again.
                let p = ops[at].process;
                if !ops[at + 1..].iter().any(|o| o.process == p) {
                    ops[at].kind = Kind::Info;
                }
            }
            _ => {
                let i = rng.gen_range(0..ops.len().saturating_sub(1).max(1));
                if i + 1 < ops.len() && ops[i].process != ops[i + 1].process {
                    ops.swap(i, i + 1);
                }
            }
        }
    }
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
        op.time = i as u64 * 10;
    }
}

fn validity<M: RegisterModel>(ops: Vec<Op<M::Op>>, model: &M, algorithm: Algorithm) -> Verdict {
    let h = History::new(ops).expect("generated histories are well-formed");
    check_register(&h, model, options(true), algorithm)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn on_valid_cas_histories_both_paths_say_valid(seed: u64, n in 1usize..150, procs in 1usize..8) {
        let ops = generate_cas(seed, n, procs, 8);
        let u = validity(ops.clone(), &CasRegister, Algorithm::UniqueValues);
        let s = validity(ops, &CasRegister, Algorithm::Search);
        prop_assert_eq!(s.valid, Validity::Valid, "seed {} n {} procs {}: {}", seed, n, procs, s);
        prop_assert_eq!(u.valid, Validity::Valid, "seed {} n {} procs {}: {}", seed, n, procs, u);
        prop_assert!(u.keys.iter().all(|k| k.method == Method::UniqueValues));
    }

    #[test]
    fn on_valid_register_histories_both_paths_say_valid(seed: u64, n in 1usize..150, procs in 1usize..8) {
        let ops = generate_register(seed, n, procs, 8);
        let u = validity(ops.clone(), &Register, Algorithm::UniqueValues);
        let s = validity(ops, &Register, Algorithm::Search);
        prop_assert_eq!(s.valid, Validity::Valid, "seed {}: {}", seed, s);
        prop_assert_eq!(u.valid, Validity::Valid, "seed {}: {}", seed, u);
    }

    #[test]
    fn a_planted_stale_read_is_found_by_both(seed: u64, n in 30usize..120, procs in 2usize..6) {
        let mut ops = generate_cas(seed, n, procs, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        prop_assume!(plant_stale_read(&mut ops, &mut rng));
        let u = validity(ops.clone(), &CasRegister, Algorithm::UniqueValues);
        let s = validity(ops, &CasRegister, Algorithm::Search);
        prop_assert_eq!(s.valid, Validity::Invalid, "seed {}: {}", seed, s);
        prop_assert_eq!(u.valid, Validity::Invalid, "seed {}: {}", seed, u);
        prop_assert!(u.anomalies[0].stuck_at.is_some());
    }

    #[test]
    fn on_mutated_histories_both_paths_agree(seed: u64, n in 5usize..100, procs in 1usize..7, k in 1usize..4) {
        let mut ops = generate_cas(seed, n, procs, 8);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xbad);
        mutate(&mut ops, &mut rng, k);
        let u = validity(ops.clone(), &CasRegister, Algorithm::UniqueValues);
        let s = validity(ops, &CasRegister, Algorithm::Search);
        prop_assert!(s.valid != Validity::Unknown, "seed {}: {}", seed, s);
        prop_assert_eq!(u.valid, s.valid, "seed {} n {} procs {} k {}:\nunique: {}\nsearch: {}", seed, n, procs, k, u, s);
        if u.valid == Validity::Invalid {
            prop_assert!(u.anomalies[0].stuck_at.is_some() && u.anomalies[0].conflict.is_some());
        }
    }
}

#[test]
fn mutations_give_both_verdicts() {
    // Guards the property above: mutated histories must be valid sometimes and
    // invalid sometimes, or agreement would say little.
    let (mut valid, mut invalid) = (0, 0);
    for seed in 0..60 {
        let mut ops = generate_cas(seed, 40, 4, 8);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xbad);
        mutate(&mut ops, &mut rng, 1);
        match validity(ops, &CasRegister, Algorithm::Search).valid {
            Validity::Valid => valid += 1,
            Validity::Invalid => invalid += 1,
            Validity::Unknown => {}
        }
    }
    assert!(valid > 5 && invalid > 5, "valid {valid} invalid {invalid}");
}

/// Histories `faultline test` wrote (register workload, bundled Raft), kept in
/// `testdata/register-runs/`: both paths agree, with the verdict each run recorded.
#[test]
fn histories_of_faultline_runs_agree() {
    let dir = crate::support::testdata("register-runs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    assert!(names.len() >= 2, "{names:?}");
    for name in names {
        let expect = if name.contains("-invalid") {
            Validity::Invalid
        } else {
            Validity::Valid
        };
        let h = History::<CasOp>::from_records(&records(&format!("register-runs/{name}")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let v = agree(&h, &CasRegister, expect);
        assert!(v.keys.len() > 1, "{name}: several keys");
    }
}
