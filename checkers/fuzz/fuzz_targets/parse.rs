//! Fuzz target: any bytes through every history reader, then (when they parse) the
//! typed history builder and the checker with every model under a tiny budget. The
//! property is "no panic, no abort"; errors are fine.
//!
//! ```sh
//! cargo install cargo-fuzz            # once
//! cd checkers/fuzz && cargo fuzz run parse -s none -- -max_total_time=60
//! ```
//! Seed the corpus with the golden files for faster coverage:
//! `mkdir -p corpus/parse && cp ../testdata/porcupine-kv/*.txt corpus/parse/`.

#![no_main]

use std::time::Duration;

use checkers::format::{self, Format};
use checkers::history::{History, Record};
use checkers::linearizability::{check, Budget};
use checkers::model::{CasRegister, Kv, Mutex, Register};
use libfuzzer_sys::fuzz_target;

fn exercise(records: &[Record]) {
    let budget = Budget {
        time_limit: Duration::from_millis(20),
        memory_limit: 8 << 20,
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

fuzz_target!(|data: &[u8]| {
    for f in [
        None,
        Some(Format::Jsonl),
        Some(Format::Edn),
        Some(Format::JepsenLog),
    ] {
        if let Ok((_, records)) = format::read(data, f) {
            exercise(&records);
        }
    }
});
