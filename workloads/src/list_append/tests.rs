use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use checkers::elle::{check, AnomalyKind, Budget, Options, Txn as ElleTxn};
use checkers::verdict::Validity;
use harness::generator::simulate;
use rand::SeedableRng;

use super::*;

fn txns(seed: u64, n: usize, opts: ListAppendOpts) -> Vec<Txn> {
    let mut g = ListAppendGen::new(opts);
    simulate(
        &mut g,
        &mut ChaCha8Rng::seed_from_u64(seed),
        1,
        Duration::ZERO,
        n,
    )
    .into_iter()
    .map(|(_, t)| t)
    .collect()
}

#[test]
fn appends_are_unique_per_key_and_transactions_keep_their_bounds() {
    let opts = ListAppendOpts {
        min_txn_len: 2,
        max_txn_len: 5,
        keys_per_txn: 3,
        ..ListAppendOpts::default()
    };
    let all = txns(42, 5000, opts);
    let mut seen = BTreeSet::new();
    let (mut reads, mut appends) = (0, 0);
    let mut lens = BTreeSet::new();
    for t in &all {
        assert!((2..=5).contains(&t.0.len()), "{t}");
        lens.insert(t.0.len());
        let keys: BTreeSet<Key> = t.0.iter().map(Mop::key).collect();
        assert!(keys.len() <= 3, "more than 3 keys: {t}");
        for m in &t.0 {
            match *m {
                Mop::Append { key, value } => {
                    assert!(
                        seen.insert((key, value)),
                        "{value} appended twice to k{key}"
                    );
                    appends += 1;
                }
                Mop::Read { .. } => reads += 1,
            }
        }
    }
    assert_eq!(lens, BTreeSet::from([2, 3, 4, 5]), "every length is drawn");
    let share = reads as f64 / (reads + appends) as f64;
    assert!((0.45..0.55).contains(&share), "about half reads: {share}");
    // Some transactions span several keys.
    assert!(all
        .iter()
        .any(|t| t.0.iter().map(Mop::key).collect::<BTreeSet<_>>().len() == 3));
}

#[test]
fn the_mix_weights_reads_against_appends() {
    let opts = ListAppendOpts {
        mix: [1, 3],
        ..ListAppendOpts::default()
    };
    let all = txns(5, 4000, opts);
    let ops: Vec<&Mop> = all.iter().flat_map(|t| &t.0).collect();
    let reads = ops.iter().filter(|m| matches!(m, Mop::Read { .. })).count();
    let share = reads as f64 / ops.len() as f64;
    assert!((0.2..0.3).contains(&share), "a quarter reads: {share}");
    let read_only = ListAppendOpts {
        mix: [1, 0],
        ..ListAppendOpts::default()
    };
    assert!(txns(5, 100, read_only)
        .iter()
        .all(|t| t.0.iter().all(|m| matches!(m, Mop::Read { .. }))));
}

#[test]
fn keys_rotate_after_their_appends_and_the_pool_stays_small() {
    let opts = ListAppendOpts {
        active_keys: 3,
        appends_per_key: 8,
        ..ListAppendOpts::default()
    };
    let all = txns(7, 2000, opts);
    let mut appends: BTreeMap<Key, u32> = BTreeMap::new();
    let mut first: BTreeMap<Key, usize> = BTreeMap::new();
    let mut last: BTreeMap<Key, usize> = BTreeMap::new();
    for (i, t) in all.iter().enumerate() {
        for m in &t.0 {
            first.entry(m.key()).or_insert(i);
            last.insert(m.key(), i);
            if let Mop::Append { key, value } = *m {
                *appends.entry(key).or_default() += 1;
                assert!(value as u32 <= 8 + 3, "k{key} got value {value}");
            }
        }
    }
    // A key is retired after the transaction that gave it its 8th append (which may
    // have appended more than once).
    assert!(appends.values().all(|n| *n <= 8 + 3), "{appends:?}");
    assert!(
        first.len() > 100,
        "2000 transactions rotate keys: {}",
        first.len()
    );
    for i in (0..all.len()).step_by(50) {
        let open = first
            .iter()
            .filter(|(k, f)| **f <= i && last[*k] >= i)
            .count();
        assert!(open <= 3, "{open} keys open at transaction {i}");
    }
}

#[test]
fn the_same_seed_gives_the_same_transactions() {
    let o = ListAppendOpts::default();
    assert_eq!(txns(9, 300, o), txns(9, 300, o));
    assert_ne!(txns(9, 300, o), txns(10, 300, o));
}

#[test]
fn bad_settings_are_made_usable() {
    let o = ListAppendOpts {
        active_keys: 0,
        appends_per_key: 0,
        min_txn_len: 3,
        max_txn_len: 1,
        keys_per_txn: 0,
        mix: [0, 0],
    };
    let all = txns(1, 50, o);
    assert!(all.iter().all(|t| t.0.len() == 3), "{all:?}");
}

#[test]
fn final_reads_read_every_key_used_a_few_per_transaction() {
    let mut g = ListAppendGen::new(ListAppendOpts::default());
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let _ = simulate(&mut g, &mut rng, 1, Duration::ZERO, 300);
    let keys = g.keys_used();
    assert!(keys.len() > 5, "{keys:?}");
    let mut fin = FinalReads::new(keys.clone(), 4);
    let reads = simulate(&mut fin, &mut rng, 2, Duration::from_millis(1), 10_000);
    assert!(reads
        .iter()
        .all(|(_, t)| t.0.len() <= 4 && t.reads() == t.0.len()));
    let read: Vec<Key> = reads
        .iter()
        .flat_map(|(_, t)| t.0.iter().map(Mop::key))
        .collect();
    assert_eq!(read, keys);
}

#[test]
fn the_codec_writes_elles_micro_ops() {
    let c = ListAppendCodec;
    let t = Txn(vec![
        Mop::Append { key: 1, value: 2 },
        Mop::Read { key: 1 },
        Mop::Read { key: 3 },
    ]);
    assert_eq!(c.key(&t), None);
    let invoked = c.invoked(&t);
    assert_eq!(
        invoked.0,
        vec![
            MicroOp::append(1, 2),
            MicroOp::read_unknown(1),
            MicroOp::read_unknown(3)
        ]
    );
    let ok = c.completed(&t, &Completion::Ok(vec![vec![2], vec![]]));
    assert_eq!(
        ok.0,
        vec![
            MicroOp::append(1, 2),
            MicroOp::read(1, [2]),
            MicroOp::read(3, [])
        ]
    );
    use checkers::history::Payload;
    assert_eq!(
        ok.value(),
        serde_json::json!([["append", 1, 2], ["r", 1, [2]], ["r", 3, []]])
    );
    assert_eq!(
        c.completed(&t, &Completion::Info("timeout".into())),
        invoked
    );
}

/// An in-memory store run serially; `lose_every` drops every n-th append while still
/// acknowledging it (a store that loses acknowledged writes).
#[derive(Default)]
struct MemLists {
    lists: Mutex<BTreeMap<String, Vec<i64>>>,
    error: Mutex<Option<KvError>>,
    short: Mutex<bool>,
    lose_every: Option<usize>,
    appends: Mutex<usize>,
}

impl Lists for MemLists {
    async fn txn(&self, ops: &[ListOp]) -> Result<Vec<Vec<i64>>, KvError> {
        if let Some(e) = self.error.lock().unwrap().clone() {
            return Err(e);
        }
        let mut lists = self.lists.lock().unwrap();
        let mut kept = Vec::new();
        for op in ops {
            if let (ListOp::Append { .. }, Some(n)) = (op, self.lose_every) {
                let mut count = self.appends.lock().unwrap();
                *count += 1;
                if (*count).is_multiple_of(n) {
                    continue;
                }
            }
            kept.push(op.clone());
        }
        let mut reads = apply(&mut lists, &kept);
        if *self.short.lock().unwrap() {
            reads.pop();
        }
        Ok(reads)
    }
}

/// Runs `n` generated transactions one after another on `store` and checks the history.
async fn serial_check(store: MemLists, seed: u64, n: usize) -> checkers::elle::ElleReport {
    let mut client = ListAppendClient::new(Arc::new(store));
    let mut g = ListAppendGen::new(ListAppendOpts::default());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut all = simulate(&mut g, &mut rng, 1, Duration::ZERO, n);
    let mut fin = FinalReads::new(g.keys_used(), 4);
    all.extend(simulate(&mut fin, &mut rng, 1, Duration::ZERO, n));
    let codec = ListAppendCodec;
    let mut history = Vec::new();
    for (i, (_, t)) in all.iter().enumerate() {
        let completion = client.invoke(t).await;
        assert!(matches!(completion, Completion::Ok(_)), "{completion:?}");
        let value = codec.completed(t, &completion);
        let i = i as u64;
        history.push(ElleTxn::ok(i % 3, 2 * i, 2 * i + 1, value.0));
    }
    check(&history, &Options::default(), Budget::default())
}

#[tokio::test]
async fn a_serial_store_is_strict_serializable_whatever_the_seed() {
    for seed in 0..20 {
        let report = serial_check(MemLists::default(), seed, 300).await;
        assert_eq!(
            report.valid,
            Validity::Valid,
            "seed {seed}: {:?}",
            report.describe()
        );
        assert!(
            report.stats.edges.ww > 0 && report.stats.edges.wr > 0,
            "seed {seed}"
        );
    }
}

#[tokio::test]
async fn a_store_that_loses_acknowledged_appends_is_caught() {
    for seed in 0..5 {
        let store = MemLists {
            lose_every: Some(50),
            ..MemLists::default()
        };
        let report = serial_check(store, seed, 300).await;
        assert_eq!(report.valid, Validity::Invalid, "seed {seed}");
        assert!(
            report.anomaly_types.contains(&AnomalyKind::LostAppend),
            "seed {seed}: {:?}",
            report.describe()
        );
    }
}

#[tokio::test]
async fn the_client_maps_answers_to_outcomes() {
    let store = Arc::new(MemLists::default());
    let mut c = ListAppendClient::new(Arc::clone(&store));
    let t = Txn(vec![Mop::Append { key: 4, value: 1 }, Mop::Read { key: 4 }]);
    assert_eq!(c.invoke(&t).await, Completion::Ok(vec![vec![1]]));
    assert_eq!(store.lists.lock().unwrap()["faultline/list/4"], vec![1]);
    *store.short.lock().unwrap() = true;
    assert!(matches!(c.invoke(&t).await, Completion::Info(m) if m.contains("0 reads")));
    *store.short.lock().unwrap() = false;
    *store.error.lock().unwrap() = Some(KvError::Definite("conflict".into()));
    assert_eq!(c.invoke(&t).await, Completion::Fail("conflict".into()));
    *store.error.lock().unwrap() = Some(KvError::Indeterminate("timeout".into()));
    assert_eq!(c.invoke(&t).await, Completion::Info("timeout".into()));
}
