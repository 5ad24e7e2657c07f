//! Writes a generated list-append history as faultline JSON Lines, for measuring
//! `faultline check` (e.g. peak memory with `/usr/bin/time -v`):
//!
//! ```sh
//! cargo run --release -p checkers --example list_append_history -- 100000 > h.jsonl
//! /usr/bin/time -v faultline check --model list-append h.jsonl
//! ```
//! Arguments: transactions (default 100000), seed (default 1). The history comes from a
//! serial executor, so it is valid under strict serializability.

#[path = "../tests/checkers/serial_append.rs"]
mod serial_append;

use std::io::Write;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let arg = |a: Option<String>, default: u64, what: &str| -> Result<u64, String> {
        a.map_or(Ok(default), |s| {
            s.parse()
                .map_err(|_| format!("{what}: expected a number, found {s:?}"))
        })
    };
    let txns = arg(args.next(), 100_000, "transactions")? as usize;
    let seed = arg(args.next(), 1, "seed")?;
    let history = serial_append::generate(seed, serial_append::Shape::bench(txns));
    let mut out = std::io::stdout().lock();
    out.write_all(serial_append::to_jsonl(&history).as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing the history: {e}"))
}
