//! Jepsen's log lines: the ops `jepsen.util/log-op` prints while a test runs, as found
//! in `jepsen.log` and in Porcupine's `test_data/jepsen/*.log`.
//!
//! ```text
//! INFO  jepsen.util - 4⇥:info⇥:write⇥:timed-out                        (log4j, Jepsen ≤ 0.1)
//! INFO [2019-04-01 11:25:23,719] jepsen worker 8 - jepsen.util 8⇥:ok⇥:read⇥2             (logback)
//! INFO [2017-03-30 15:28:17,423] jepsen worker 2 - jepsen.util 2  :invoke :read nil  (tabs as spaces)
//! INFO [2021-02-26 13:18:17,751] jepsen worker 0 - jepsen.util 0⇥:fail⇥:txn⇥[[:append 79 3]]⇥[:txn-conflict "CAS failed!"]
//! INFO [2021-02-26 13:18:20,001] jepsen nemesis - jepsen.util :nemesis⇥:info⇥:start⇥"Cut off {…}"
//! ```
//!
//! (`⇥` is a tab.) `log-op` prints `process type (pr-str f) (pr-str value)` and then,
//! if the op has one, the error with `str` (so a string error appears without quotes),
//! separated by tabs; copies of logs often turn the tabs into runs of spaces, and both
//! are read.
//!
//! What a line means:
//! - Only lines of the `jepsen.util` logger whose text starts like an op (a process,
//!   then a `:keyword`) are ops. Every other line (other loggers, checker output, stack
//!   traces, `jepsen.util` messages that are not ops) is skipped, never an error.
//! - The process is an integer (a client) or a keyword: `:nemesis`, or any other
//!   keyword, is read as the nemesis (as in Jepsen, only integer processes are clients).
//! - The value is one EDN form. What follows it is the error: one EDN form if it reads
//!   as one, else the raw text as a string.
//! - An `:info` or `:fail` completion's value is never read as the op's output. Old
//!   Jepsen clients put the error in the value column (`4 :info :write :timed-out`);
//!   such a line may also hold text that is not EDN at all. Whatever fails to read on
//!   such a line is kept as the error, and [`super::keep_inputs`] then gives the
//!   completion its invocation's input.
//! - Nemesis lines are kept as nemesis records; a nemesis value that is not EDN is kept
//!   as a string, and a nemesis line without an `f` is skipped.
//! - Times: when every op line carries a `YYYY-MM-DD HH:MM:SS,mmm` timestamp, an op's
//!   `time` is the nanoseconds since the earliest one; otherwise there are no times. Ops
//!   are ordered by their position in the file either way.

use clojure_reader::edn;

use crate::history::{Kind, Process, ProcessId, Record};
use crate::input_error::InputError;

/// The logger `log-op` writes through.
const LOGGER: &str = "jepsen.util";

/// The text after the `jepsen.util` logger name and its separator (` - `, `: ` or
/// whitespace), if the line is from that logger.
fn after_logger(line: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(at) = line[from..].find(LOGGER) {
        let rest = &line[from + at + LOGGER.len()..];
        for sep in [" - ", ": ", ":\t"] {
            if let Some(op) = rest.strip_prefix(sep) {
                return Some(op);
            }
        }
        if rest.starts_with([' ', '\t']) {
            return Some(rest);
        }
        from += at + LOGGER.len();
    }
    None
}

fn next_token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// The op head of a logger's text: (process, type, rest), or `None` if the text is not
/// shaped like an op. It is an op when it starts with a process (an integer or a
/// keyword) followed by a keyword, or when its second token is a known type (then a
/// bad process is reported rather than the line skipped).
fn head(text: &str) -> Option<(&str, &str, &str)> {
    let (first, rest) = next_token(text);
    // `0:invoke`: a process glued to its type when the tab was lost in a copy.
    let glued = first
        .find(':')
        .filter(|&i| i > 0 && first[..i].bytes().all(|b| b.is_ascii_digit()));
    let (process, kind, rest) = match glued {
        Some(i) => (&first[..i], &first[i..], rest),
        None => {
            let (kind, rest) = next_token(rest);
            (first, kind, rest)
        }
    };
    let process_like = process.parse::<u64>().is_ok() || keyword(process).is_some();
    let known_kind = keyword(kind).and_then(Kind::parse).is_some();
    ((process_like && keyword(kind).is_some()) || known_kind).then_some((process, kind, rest))
}

/// `:name` → `name`.
fn keyword(token: &str) -> Option<&str> {
    token.strip_prefix(':').filter(|k| !k.is_empty())
}

/// A line that is an op by itself, as Jepsen's `history.txt` writes them
/// (`4⇥:invoke⇥:write⇥3`, no logger): a process, then one of the four op types. Only
/// that strict shape counts, so a stray line of another log is never taken for an op.
fn bare(line: &str) -> Option<&str> {
    let (first, rest) = next_token(line);
    let (kind, _) = next_token(rest);
    let process_like = first.parse::<u64>().is_ok() || keyword(first).is_some();
    (process_like && keyword(kind).and_then(Kind::parse).is_some()).then_some(line)
}

/// A line's op text: what follows the `jepsen.util` logger, or a bare op line.
fn op_text(line: &str) -> Option<&str> {
    after_logger(line).or_else(|| bare(line))
}

/// True if the line carries a Jepsen op (used by format detection).
pub(crate) fn is_op_line(line: &str) -> bool {
    op_text(line).and_then(head).is_some()
}

/// Parses a Jepsen log text.
pub fn parse(text: &str) -> Result<Vec<Record>, InputError> {
    let mut records = Vec::new();
    let mut stamps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let Some(after) = op_text(raw) else {
            continue;
        };
        let Some((process, kind, rest)) = head(after) else {
            continue;
        };
        super::edn::check_depth(rest, line)?;
        if let Some(record) = parse_op(process, kind, rest, line)? {
            stamps.push(timestamp_ms(&raw[..raw.len() - after.len()]));
            records.push(record);
        }
    }
    if records.is_empty() {
        return Err(InputError::at_line(
            1,
            "expected Jepsen log op lines (`INFO  jepsen.util - 3\t:invoke\t:write\t4`), found none",
        ));
    }
    let stamps: Option<Vec<u64>> = stamps.into_iter().collect();
    if let Some(stamps) = stamps {
        let base = stamps.iter().copied().min().unwrap_or(0);
        for (r, ms) in records.iter_mut().zip(stamps) {
            r.time = Some((ms - base).saturating_mul(1_000_000));
        }
    }
    super::keep_inputs(&mut records);
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

/// The error column: one EDN form if the whole text reads as one, else the raw text
/// (Jepsen prints errors with `str`, so a string error has no quotes).
fn read_error(text: &str) -> serde_json::Value {
    match read_value(text) {
        Some((v, after)) if after.trim().is_empty() => v,
        _ => serde_json::Value::String(text.to_owned()),
    }
}

/// Parses an op line's fields; `None` for a nemesis line without an `f`.
fn parse_op(
    process: &str,
    kind: &str,
    rest: &str,
    line: usize,
) -> Result<Option<Record>, InputError> {
    let bad = |what: &str, found: &str| {
        InputError::at_line(line, format!("expected {what}, found {found:?}"))
    };
    let process = if let Ok(p) = process.parse::<u64>() {
        Process::Client(ProcessId(p))
    } else if keyword(process).is_some() {
        Process::Nemesis
    } else {
        return Err(bad("a process (an integer, or :nemesis)", process));
    };
    let kind = keyword(kind).and_then(Kind::parse).ok_or_else(|| {
        bad(
            "a type :invoke, :ok, :fail or :info after the process",
            kind,
        )
    })?;
    let (f, rest) = next_token(rest);
    let f = match (keyword(f), process) {
        (Some(f), _) => f,
        (None, Process::Nemesis) => return Ok(None),
        (None, Process::Client(_)) => {
            return Err(bad("an f keyword such as :write after the type", f))
        }
    };
    let rest = rest.trim();
    let lenient = process == Process::Nemesis || matches!(kind, Kind::Info | Kind::Fail);
    // A bare word is not something `pr-str` prints for a value: on a lenient line it
    // starts an error message (`:fail :read connection refused`).
    let prose = lenient && {
        let (word, _) = next_token(rest);
        word.starts_with(|c: char| c.is_alphabetic()) && !["nil", "true", "false"].contains(&word)
    };
    let (value, error) = if rest.is_empty() {
        (serde_json::Value::Null, None)
    } else {
        match read_value(rest).filter(|_| !prose) {
            Some((value, after)) => {
                let after = after.trim();
                (value, (!after.is_empty()).then(|| read_error(after)))
            }
            None if process == Process::Nemesis => {
                (serde_json::Value::String(rest.to_owned()), None)
            }
            None if lenient => (
                serde_json::Value::Null,
                Some(serde_json::Value::String(rest.to_owned())),
            ),
            None => {
                return Err(bad(
                    "an EDN value such as nil, 4 or [1 2] after the f",
                    rest,
                ))
            }
        }
    };
    Ok(Some(Record {
        line,
        index: None,
        time: None,
        process,
        kind,
        f: f.to_owned(),
        key: None,
        value,
        error,
    }))
}

/// The first `YYYY-MM-DD HH:MM:SS,mmm` (or `.mmm`) timestamp in `prefix`, as
/// milliseconds since 1970 (the zone is ignored: only differences are used).
fn timestamp_ms(prefix: &str) -> Option<u64> {
    const SHAPE: &[u8; 23] = b"dddd-dd-dd dd:dd:dd,ddd";
    let b = prefix.as_bytes();
    let at = (0..b.len().checked_sub(SHAPE.len() - 1)?).find(|&i| {
        SHAPE.iter().zip(&b[i..]).all(|(&s, &c)| match s {
            b'd' => c.is_ascii_digit(),
            b',' => c == b',' || c == b'.',
            b' ' => c == b' ' || c == b'T',
            other => c == other,
        })
    })?;
    let num = |from: usize, len: usize| -> u64 {
        b[at + from..at + from + len]
            .iter()
            .fold(0, |n, d| n * 10 + u64::from(d - b'0'))
    };
    let (y, m, d) = (num(0, 4) as i64, num(5, 2), num(8, 2));
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = u64::try_from(days_from_civil(y, m, d)).ok()?;
    let secs = days * 86_400 + num(11, 2) * 3600 + num(14, 2) * 60 + num(17, 2);
    Some(secs * 1000 + num(20, 3))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u64, d: u64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use crate::format::Format;
    use serde_json::json;

    use super::*;

    fn one(line: &str) -> Record {
        let mut r = parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(r.len(), 1, "{line:?}");
        r.remove(0)
    }

    #[test]
    fn the_logger_layouts_of_each_jepsen_version() {
        for line in [
            "INFO  jepsen.util - 4\t:ok\t:read\t3",
            "INFO [2019-04-01 11:25:23,719] jepsen worker 4 - jepsen.util 4\t:ok\t:read\t3",
            "INFO [2017-03-30 15:28:17,423] jepsen worker 4 - jepsen.util 4  :ok :read 3",
            "2017-01-02 12:00:00,123{GMT}\tINFO\t[jepsen worker 4] jepsen.util: 4\t:ok\t:read\t3",
            "INFO [2024-08-31 08:30:22,611] jepsen worker 0 - jepsen.util 4:ok\t:read\t3",
        ] {
            let r = one(line);
            assert_eq!(
                (r.process, r.kind, r.f.as_str(), &r.value, &r.error),
                (
                    Process::Client(ProcessId(4)),
                    Kind::Ok,
                    "read",
                    &json!(3),
                    &None
                ),
                "{line:?}"
            );
        }
    }

    #[test]
    fn jepsen_history_txt_lines_need_no_logger() {
        // `history.txt` in a Jepsen store directory: the same columns, nothing before.
        let r = parse(
            "0\t:invoke\t:write\t1\n0\t:info\t:write\t:timed-out\n\
             1   :invoke   :read   nil\n1   :ok   :read   1\n\
             :nemesis\t:info\t:start\tnil\n\
             2 :invoke :cas [1 2]\n2 :fail :cas [1 2] :precondition-failed\n",
        )
        .unwrap();
        assert_eq!(r.len(), 7);
        assert_eq!(
            (r[1].kind, &r[1].value, &r[1].error),
            (Kind::Info, &json!(1), &Some(json!("timed-out")))
        );
        assert_eq!(r[4].process, Process::Nemesis);
        assert_eq!(
            (&r[6].value, &r[6].error),
            (&json!([1, 2]), &Some(json!("precondition-failed")))
        );
        assert_eq!(
            Format::detect("0\t:invoke\t:read\tnil\n").unwrap(),
            Format::JepsenLog
        );
        // Only the strict shape is an op: a number and a keyword that is not a type are
        // another log's line.
        assert!(!is_op_line("200 :status :ok"));
        assert!(!is_op_line("3 apples"));
    }

    #[test]
    fn an_error_in_the_value_column_is_an_error_not_a_value() {
        // Old Jepsen clients replaced the value by the error: the completion keeps
        // its invocation's input, and the error is the error.
        let r = parse("INFO  jepsen.util - 4\t:invoke\t:write\t3\nINFO  jepsen.util - 4\t:info\t:write\t:timed-out\n").unwrap();
        assert_eq!(
            (r[1].kind, &r[1].value, &r[1].error),
            (Kind::Info, &json!(3), &Some(json!("timed-out")))
        );
        let r = parse("INFO  jepsen.util - 4\t:invoke\t:read\tnil\nINFO  jepsen.util - 4\t:fail\t:read\t:timed-out\n").unwrap();
        assert_eq!(
            (r[1].kind, &r[1].value, &r[1].error),
            (Kind::Fail, &json!(null), &Some(json!("timed-out")))
        );
        // A value that is not EDN on an info/fail line is kept whole as the error.
        let r = one("INFO  jepsen.util - 4\t:fail\t:read\tconnection refused: n1");
        assert_eq!(r.value, json!(null));
        assert_eq!(r.error, Some(json!("connection refused: n1")));
        // A client's invoke or ok must have a readable value.
        let e = parse("INFO  jepsen.util - 4\t:ok\t:read\t\"connection refused").unwrap_err();
        assert!(e.message.contains("EDN value"), "{e}");
    }

    #[test]
    fn the_error_column_is_edn_or_raw_text() {
        let r = one("INFO  jepsen.util - 1\t:info\t:cas\t[4 5]\t:timed-out");
        assert_eq!(
            (&r.value, &r.error),
            (&json!([4, 5]), &Some(json!("timed-out")))
        );
        let r = one(
            "INFO [2021-02-26 13:18:17,751] jepsen worker 0 - jepsen.util 0\t:fail\t:txn\t\
             [[:append 79 3] [:r 78 nil]]\t[:txn-conflict \"CAS failed!\"]",
        );
        assert_eq!(r.value, json!([["append", 79, 3], ["r", 78, null]]));
        assert_eq!(r.error, Some(json!(["txn-conflict", "CAS failed!"])));
        // `str` of a string error has no quotes.
        let r = one("INFO  jepsen.util - 2\t:info\t:write\t3\tconnection reset by peer");
        assert_eq!(r.error, Some(json!("connection reset by peer")));
    }

    #[test]
    fn nemesis_lines_are_nemesis_records_never_errors() {
        let r = one("INFO [2021-02-26 13:18:20,001] jepsen nemesis - jepsen.util :nemesis\t:info\t:start\t\"Cut off {:n1 #{:n2}}\"");
        assert_eq!(r.process, Process::Nemesis);
        assert_eq!(
            (r.f.as_str(), &r.value),
            ("start", &json!("Cut off {:n1 #{:n2}}"))
        );
        let r = one("INFO  jepsen.util - :nemesis :info :start [:isolated {\"n1\" #{\"n2\"}}]");
        assert_eq!(r.value, json!(["isolated", {"n1": ["n2"]}]));
        // Not EDN: kept as text.
        let r = one("INFO  jepsen.util - :nemesis\t:info\t:kill\t{n1 n2 killed");
        assert_eq!(r.value, json!("{n1 n2 killed"));
        // Any other keyword process is not a client either.
        assert_eq!(
            one("INFO  jepsen.util - :clock :info :bump 30").process,
            Process::Nemesis
        );
        // A nemesis line without an f is skipped.
        let text = "INFO  jepsen.util - :nemesis\t:info\tnil\nINFO  jepsen.util - 1\t:invoke\t:read\tnil\n";
        assert_eq!(parse(text).unwrap().len(), 1);
    }

    #[test]
    fn lines_that_are_not_ops_are_skipped() {
        let text = "\
INFO [2024-01-06 15:07:52,562] jepsen test runner - jepsen.db Setting up DB
INFO [2024-01-06 15:07:52,655] jepsen test runner - jepsen.core Relative time begins now
INFO [2024-01-06 15:07:52,664] jepsen worker 0 - jepsen.util 0\t:invoke\t:read\tnil
WARN [2024-01-06 15:07:57,855] jepsen worker 0 - jepsen.generator.interpreter Process 0 crashed
java.lang.RuntimeException: timed out
\tat jepsen.util$timeout.invokeStatic(util.clj:123)
INFO [2024-01-06 15:07:58,000] jepsen worker 0 - jepsen.util Timing out after 5000 ms
INFO [2024-01-06 15:07:58,019] jepsen test runner - jepsen.core {:valid? true,
 :configs ({:model #knossos.model.CASRegister{:value 3}})}
";
        let r = parse(text).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].line, 3);
        assert!(!is_op_line(
            "\tat jepsen.util$timeout.invokeStatic(util.clj:123)"
        ));
        assert!(!is_op_line("INFO  jepsen.util - Relative time begins now"));
    }

    #[test]
    fn malformed_op_lines_name_what_was_expected() {
        for (line, what) in [
            ("INFO  jepsen.util - 3\t:began\t:write\t4", "a type :invoke"),
            ("INFO  jepsen.util - x\t:invoke\t:write\t4", "a process"),
            ("INFO  jepsen.util - 3\t:invoke\twrite\t4", "an f keyword"),
            ("INFO  jepsen.util - 3\t:invoke\t:cas\t[4 5", "an EDN value"),
        ] {
            let e = parse(line).unwrap_err();
            assert_eq!(e.line(), Some(1), "{line}");
            assert!(e.message.contains(what), "{line}: {e}");
            assert!(e.message.contains("found"), "{line}: {e}");
        }
    }

    #[test]
    fn timestamps_become_times_only_when_every_op_has_one() {
        let text = "\
INFO [2019-12-31 23:59:59,900] jepsen worker 1 - jepsen.util 1\t:invoke\t:read\tnil
INFO [2020-01-01 00:00:00,150] jepsen worker 1 - jepsen.util 1\t:ok\t:read\t2
";
        let r = parse(text).unwrap();
        assert_eq!((r[0].time, r[1].time), (Some(0), Some(250_000_000)));
        let mixed = format!("{text}INFO  jepsen.util - 2\t:invoke\t:read\tnil\n");
        assert!(parse(&mixed).unwrap().iter().all(|r| r.time.is_none()));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(timestamp_ms("INFO [2019-13-01 00:00:00,000]"), None);
    }
}
