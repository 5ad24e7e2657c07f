//! Jepsen's log lines, the format Porcupine's `test_data/jepsen/*.log` use:
//!
//! ```text
//! INFO  jepsen.util - 3 :invoke :write 4
//! INFO  jepsen.util - 3 :info :cas [1 4] :timed-out
//! 2017-01-02 12:00:00,123{GMT} INFO [jepsen worker 3] jepsen.util: 3 :ok :read 2
//! ```
//!
//! Only lines with a `jepsen.util - ` or `jepsen.util: ` marker are ops; every other
//! line of the log is skipped. After the marker: process (integer or `:nemesis`), type,
//! f, value (EDN), and an optional error (EDN), separated by tabs or spaces. Lines have
//! no times; index is the op's position.

use clojure_reader::edn;

use crate::history::{Kind, Process, ProcessId, Record};
use crate::input_error::InputError;

const MARKERS: [&str; 2] = ["jepsen.util - ", "jepsen.util: "];

/// True if the line carries a Jepsen op.
pub(crate) fn is_op_line(line: &str) -> bool {
    MARKERS.iter().any(|m| line.contains(m))
}

/// Parses a Jepsen log text.
pub fn parse(text: &str) -> Result<Vec<Record>, InputError> {
    let mut records = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let Some(rest) = MARKERS
            .iter()
            .find_map(|m| raw.find(m).map(|at| &raw[at + m.len()..]))
        else {
            continue;
        };
        super::edn::check_depth(rest, line)?;
        records.push(parse_op(rest, line)?);
    }
    if records.is_empty() {
        return Err(InputError::at_line(
            1,
            "expected Jepsen log op lines (`INFO  jepsen.util - 3\t:invoke\t:write\t4`), found none",
        ));
    }
    Ok(records)
}

/// Reads one EDN value as JSON. `clojure_reader::edn::read` refuses a lone `nil` at
/// the end of its input, so `nil` is recognised here.
fn read_value(s: &str) -> Option<(serde_json::Value, &str)> {
    if let Some(after) = s.strip_prefix("nil") {
        if after.is_empty() || after.starts_with(char::is_whitespace) {
            return Some((serde_json::Value::Null, after));
        }
    }
    let (v, after) = edn::read(s).ok()?;
    Some((super::edn::to_json(&v), after))
}

fn next_token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn parse_op(rest: &str, line: usize) -> Result<Record, InputError> {
    let bad = |what: &str, found: &str| {
        InputError::at_line(line, format!("expected {what}, found {found:?}"))
    };
    let (p, rest) = next_token(rest);
    let process = if p == ":nemesis" {
        Process::Nemesis
    } else {
        Process::Client(ProcessId(
            p.parse()
                .map_err(|_| bad("a process id (integer or :nemesis)", p))?,
        ))
    };
    let (t, rest) = next_token(rest);
    let kind = t
        .strip_prefix(':')
        .and_then(Kind::parse)
        .ok_or_else(|| bad("a type (:invoke, :ok, :fail or :info)", t))?;
    let (f, rest) = next_token(rest);
    let f = f
        .strip_prefix(':')
        .filter(|f| !f.is_empty())
        .ok_or_else(|| bad("an f keyword such as :write", f))?;
    let rest = rest.trim();
    let (value, after) = if rest.is_empty() {
        (serde_json::Value::Null, "")
    } else {
        read_value(rest).ok_or_else(|| bad("an EDN value such as nil, 4 or [1 2]", rest))?
    };
    let after = after.trim();
    let error = if after.is_empty() {
        None
    } else {
        let (e, tail) =
            read_value(after).ok_or_else(|| bad("an EDN error such as :timed-out", after))?;
        if !tail.trim().is_empty() {
            return Err(bad("end of line after the error", tail.trim()));
        }
        Some(e)
    };
    Ok(Record {
        line,
        index: None,
        time: None,
        process,
        kind,
        f: f.to_owned(),
        key: None,
        value,
        error,
    })
}
