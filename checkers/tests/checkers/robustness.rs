//! Bounded-time randomized robustness: no input makes a reader, history builder or the
//! checker panic. (The unbounded version is the fuzz target in `checkers/fuzz`.)

use std::time::Duration;

use checkers::format::{self, Format};
use checkers::history::{History, Record};
use checkers::linearizability::{check, Budget};
use checkers::model::{CasRegister, Kv, Mutex, Register};
use proptest::prelude::*;

const SAMPLES: [&str; 3] = [
    "{\"index\":0,\"time\":1,\"process\":3,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"7\",\"value\":[1,2]}\n\
     {\"index\":1,\"time\":2,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"kill\",\"value\":{\"n\":[1]}}\n\
     {\"index\":2,\"time\":3,\"process\":3,\"type\":\"ok\",\"f\":\"cas\",\"key\":\"7\",\"value\":[1,2]}\n\
     {\"index\":3,\"time\":4,\"process\":4,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"7\",\"value\":null}\n\
     {\"index\":4,\"time\":5,\"process\":4,\"type\":\"ok\",\"f\":\"read\",\"key\":\"7\",\"value\":2}\n",
    "[{:process 2, :type :invoke, :f :append, :key \"0\", :value \"x 0 0 y\"}\n \
     {:process 2, :type :ok, :f :append, :key \"0\", :value \"x 0 0 y\"}\n \
     #jepsen.history.Op{:index 2, :time 9, :type :invoke, :process 1, :f :get, :key \"0\", :value nil}\n \
     {:process 1, :type :info, :f :get, :key \"0\", :value nil, :error :timed-out}]\n",
    "INFO  jepsen.util - 3\t:invoke\t:write\t4\n\
     INFO  jepsen.util - 3\t:ok\t:write\t4\n\
     INFO  jepsen.util - 1\t:invoke\t:cas\t[4 5]\n\
     INFO  jepsen.util - 1\t:info\t:cas\t[4 5]\t:timed-out\n\
     INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n",
];

/// Everything downstream of a successful parse, under a tiny budget.
fn exercise(records: &[Record]) {
    let budget = Budget {
        time_limit: Duration::from_millis(50),
        memory_limit: 16 << 20,
    };
    if let Ok(h) = History::from_records(records) {
        let _ = check(&h, &Kv, budget).to_string();
    }
    if let Ok(h) = History::from_records(records) {
        let _ = check(&h, &CasRegister, budget).to_string();
    }
    if let Ok(h) = History::from_records(records) {
        let _ = check(&h, &Register, budget);
    }
    if let Ok(h) = History::from_records(records) {
        let _ = check(&h, &Mutex, budget);
    }
    let _ = format::edn::write(records);
}

fn parse_all(bytes: &[u8]) {
    for f in [
        None,
        Some(Format::Jsonl),
        Some(Format::Edn),
        Some(Format::JepsenLog),
    ] {
        if let Ok((_, records)) = format::read(bytes, f) {
            exercise(&records);
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        '{', '}', '[', ']', '"', ':', ',', '#', '\\', ' ', '\t', '\n', '-', '0', '9', 'n', 'é',
        '\u{0}', ';',
    ]);
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), interesting).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in muts {
        let n = chars.len().max(1);
        match *m {
            Mutation::Delete(i) if !chars.is_empty() => {
                chars.remove(i % chars.len());
            }
            Mutation::Delete(_) => {}
            Mutation::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
            Mutation::Truncate(i) => chars.truncate(i % n),
            Mutation::Duplicate(a, b) if !chars.is_empty() => {
                let (a, b) = (a % chars.len(), b % chars.len());
                let (lo, hi) = (a.min(b), a.max(b));
                let piece: Vec<char> = chars[lo..=hi.min(lo + 40)].to_vec();
                let at = hi.min(chars.len());
                chars.splice(at..at, piece);
            }
            Mutation::Duplicate(..) => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        parse_all(&bytes);
    }

    #[test]
    fn mutated_histories_never_panic(sample in 0usize..3, muts in prop::collection::vec(mutation(), 1..6)) {
        let text = apply(SAMPLES[sample], &muts);
        parse_all(text.as_bytes());
    }
}

#[test]
fn samples_parse_before_mutation() {
    // The mutations start from valid inputs, so they probe the edge of validity.
    for s in SAMPLES {
        let (_, records) = format::read(s.as_bytes(), None).expect("sample parses");
        assert!(records.len() >= 4);
    }
}
