//! Native JSON Lines: one Jepsen-like op object per line.
//!
//! ```text
//! {"index":0,"time":1200,"process":3,"type":"invoke","f":"cas","key":"7","value":[1,2]}
//! {"index":5,"time":9000,"process":"nemesis","type":"info","f":"partition","value":{…}}
//! ```
//! `index` and `time` may be omitted (they default to the line's position and 0), `key`
//! and `error` are optional, unknown fields are ignored. Blank lines are skipped. The
//! schema is documented in `docs/history-format.md`.

use std::io;

use serde::{Deserialize, Serialize};

use crate::history::{Body, Key, Kind, Op, Payload, Process, Record};
use crate::input_error::InputError;

#[derive(Serialize)]
struct WireOut<'a> {
    index: u64,
    time: u64,
    process: Process,
    #[serde(rename = "type")]
    kind: Kind,
    f: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a Key>,
    value: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a serde_json::Value>,
}

#[derive(Deserialize)]
struct WireIn {
    index: Option<u64>,
    time: Option<u64>,
    process: Process,
    #[serde(rename = "type")]
    kind: Kind,
    f: String,
    key: Option<Key>,
    #[serde(default)]
    value: serde_json::Value,
    error: Option<serde_json::Value>,
}

/// Serializes a typed op (no trailing newline).
pub(crate) fn encode_op<P: Payload>(op: &Op<P>, out: &mut Vec<u8>) -> io::Result<()> {
    let (f, value) = match &op.body {
        Body::Client(p) => (p.f(), p.value()),
        Body::Nemesis(fault) => (fault.f.as_str(), fault.value.clone()),
    };
    let wire = WireOut {
        index: op.index,
        time: op.time,
        process: op.process,
        kind: op.kind,
        f,
        key: op.key.as_ref(),
        value: &value,
        error: op.error.as_ref(),
    };
    serde_json::to_writer(out, &wire).map_err(io::Error::other)
}

/// Serializes a record (no trailing newline); missing index/time become position/0.
pub(crate) fn encode_record(r: &Record, out: &mut Vec<u8>) -> io::Result<()> {
    let wire = WireOut {
        index: r.index.unwrap_or(0),
        time: r.time.unwrap_or(0),
        process: r.process,
        kind: r.kind,
        f: &r.f,
        key: r.key.as_ref(),
        value: &r.value,
        error: r.error.as_ref(),
    };
    serde_json::to_writer(out, &wire).map_err(io::Error::other)
}

/// Parses a whole JSONL text.
pub fn parse(text: &str) -> Result<Vec<Record>, InputError> {
    let mut records = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        let w: WireIn = serde_json::from_str(trimmed).map_err(|e| {
            InputError::at_line(
                line,
                format!(
                    "expected one JSON op object with process, type, f (and optional index, time, \
                     key, value, error): {e}"
                ),
            )
        })?;
        records.push(Record {
            line,
            index: w.index,
            time: w.time,
            process: w.process,
            kind: w.kind,
            f: w.f,
            key: w.key,
            value: w.value,
            error: w.error,
        });
    }
    super::keep_inputs(&mut records);
    Ok(records)
}
