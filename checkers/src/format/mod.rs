//! History file formats: reading (with auto-detection) and writing.
//!
//! ```text
//! bytes ──detect──► Format ──parse──► Vec<Record> ──History::from_records──► History<P>
//! ```
//!
//! | [`Format`]   | what it reads                                                   |
//! |--------------|-----------------------------------------------------------------|
//! | `Jsonl`      | faultline's native `history.jsonl` ([`jsonl`])                  |
//! | `Edn`        | Jepsen `history.edn` and Knossos histories (a vector or list of op maps, or bare maps, `#jepsen.history.Op` records) and Porcupine's kv logs ([`edn`]) |
//! | `JepsenLog`  | Jepsen log lines `INFO  jepsen.util - 3 :invoke :write 4` ([`jepsen_log`]) |
//!
//! Every reader returns [`InputError`] naming the line and what was expected there; none
//! panics on any input (see the fuzz target in `checkers/fuzz` and the robustness
//! property test). The schemas are documented in `docs/history-format.md`.

pub mod edn;
pub mod jepsen_log;
pub mod jsonl;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::history::{Kind, Process, Record};
use crate::input_error::InputError;

/// A history file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Edn,
    JepsenLog,
}

impl Format {
    /// Every format, for help texts.
    pub const ALL: [Format; 3] = [Format::Jsonl, Format::Edn, Format::JepsenLog];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::JepsenLog => "jepsen-log",
        }
    }

    /// Guesses the format from the first non-blank line.
    pub fn detect(text: &str) -> Result<Format, InputError> {
        let Some((i, first)) = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty()) else {
            return Err(InputError::at_line(
                1,
                "expected a history, found an empty file",
            ));
        };
        let t = first.trim_start();
        if jepsen_log::is_op_line(t)
            || t.starts_with("INFO")
            || t.starts_with(|c: char| c.is_ascii_digit())
        {
            return Ok(Format::JepsenLog);
        }
        if let Some(after) = t.strip_prefix('{') {
            let after = after.trim_start();
            return Ok(if after.starts_with('"') || after.starts_with('}') {
                Format::Jsonl
            } else {
                Format::Edn
            });
        }
        if t.starts_with(['[', '(', '#', ';']) {
            return Ok(Format::Edn);
        }
        // A log often starts with lines that are not ops.
        if text.lines().any(jepsen_log::is_op_line) {
            return Ok(Format::JepsenLog);
        }
        Err(InputError::at_line(
            i + 1,
            "cannot tell the format: expected a JSON object (jsonl), an EDN map, vector or \
             list (edn), or a Jepsen log line (jepsen-log); pass --format",
        ))
    }

    /// Parses `text` in this format.
    pub fn parse(self, text: &str) -> Result<Vec<Record>, InputError> {
        match self {
            Format::Jsonl => jsonl::parse(text),
            Format::Edn => edn::parse(text),
            Format::JepsenLog => jepsen_log::parse(text),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jsonl" | "json" => Ok(Format::Jsonl),
            "edn" | "porcupine-kv" => Ok(Format::Edn),
            "jepsen-log" | "log" | "porcupine-log" => Ok(Format::JepsenLog),
            other => Err(format!(
                "unknown format {other:?}; expected jsonl, edn or jepsen-log"
            )),
        }
    }
}

/// Gives every `fail` and `info` completion its invocation's input, in every format.
///
/// A completion that is not `ok` has no output: the op is what was invoked. Jepsen's
/// older clients put the error where the value goes (`4 :info :write :timed-out`,
/// `{:type :info, :f :write, :value :timed-out}`); such a value, when it differs from
/// the input, becomes the completion's error if it has none (otherwise it is dropped).
/// Completions that pair with no invocation of the same `f` are left alone, for
/// [`History::from_records`](crate::history::History::from_records) to report.
pub(crate) fn keep_inputs(records: &mut [Record]) {
    if !records
        .iter()
        .any(|r| matches!(r.kind, Kind::Info | Kind::Fail))
    {
        return;
    }
    let mut pending = HashMap::new();
    for i in 0..records.len() {
        let Process::Client(p) = records[i].process else {
            continue;
        };
        match records[i].kind {
            Kind::Invoke => {
                pending.insert(p, i);
            }
            Kind::Ok => {
                pending.remove(&p);
            }
            Kind::Info | Kind::Fail => {
                let Some(inv) = pending.remove(&p) else {
                    continue;
                };
                if records[inv].f != records[i].f || records[inv].value == records[i].value {
                    continue;
                }
                let input = records[inv].value.clone();
                let own = std::mem::replace(&mut records[i].value, input);
                if records[i].error.is_none() && !own.is_null() {
                    records[i].error = Some(own);
                }
            }
        }
    }
}

/// Reads records from raw bytes: checks UTF-8 (naming the line of a bad byte), then
/// detects the format unless one is given.
pub fn read(bytes: &[u8], format: Option<Format>) -> Result<(Format, Vec<Record>), InputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
        InputError::at_line(line, "expected UTF-8 text, found an invalid byte sequence")
    })?;
    let format = match format {
        Some(f) => f,
        None => Format::detect(text)?,
    };
    Ok((format, format.parse(text)?))
}

/// Records read by [`read_prefix`]: all of a file's, or those before its torn last line.
#[derive(Debug)]
pub struct Prefix {
    pub format: Format,
    pub records: Vec<Record>,
    /// Why the last line could not be read, when it was torn off.
    pub torn: Option<InputError>,
}

/// Like [`read`], but a file whose last line is torn, as a writer that crashed leaves
/// it, gives the records before that line and the error the line caused.
///
/// A last line is torn when the file does not end with a newline and the first error
/// is on that line (for EDN: the unfinished op begins on it). Everything before it must
/// read on its own and hold at least one op; otherwise the error stands. A file that
/// ends with a newline has no torn line: an error anywhere in it is bad input.
pub fn read_prefix(bytes: &[u8], format: Option<Format>) -> Result<Prefix, InputError> {
    let whole = match read(bytes, format) {
        Ok((format, records)) => {
            return Ok(Prefix {
                format,
                records,
                torn: None,
            })
        }
        Err(e) => e,
    };
    let last_line = 1 + bytes.iter().filter(|&&b| b == b'\n').count();
    let cut = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if bytes.ends_with(b"\n") || whole.line() != Some(last_line) || cut == 0 {
        return Err(whole);
    }
    match read(&bytes[..cut], format) {
        Ok((format, records)) if !records.is_empty() => Ok(Prefix {
            format,
            records,
            torn: Some(whole),
        }),
        _ => Err(whole),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_gives_the_prefix_in_every_line_format() {
        let cases = [
            "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n\
             {\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":null}\n\
             {\"process\":1,\"type\":\"invo",
            "{:process 0, :type :invoke, :f :read, :value nil}\n\
             {:process 0, :type :ok, :f :read, :value nil}\n\
             {:process 1, :type :invoke, :f",
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
             INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
             INFO  jepsen.util - 1\t:inv",
        ];
        for text in cases {
            let p = read_prefix(text.as_bytes(), None).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(p.records.len(), 2, "{text}");
            assert_eq!(
                p.torn.as_ref().and_then(InputError::line),
                Some(3),
                "{text}"
            );
            // With its newline, the same line is bad input.
            let whole = format!("{text}\n");
            assert_eq!(
                read_prefix(whole.as_bytes(), None).unwrap_err().line(),
                Some(3),
                "{text}"
            );
        }
        // A torn multi-byte character is a torn line too.
        let mut bytes = cases[0].as_bytes()[..cases[0].rfind('\n').unwrap() + 1].to_vec();
        bytes.extend_from_slice(&"{\"f\":\"é".as_bytes()[..7]);
        assert!(read_prefix(&bytes, None).unwrap().torn.is_some());
    }

    #[test]
    fn errors_before_the_last_line_and_truncated_vectors_stand() {
        // An error on an earlier line: bad input even without a final newline.
        let early = "{:process 0, :type :began, :f :read}\n{:process 0, :type :ok, :f :read}";
        assert_eq!(
            read_prefix(early.as_bytes(), None).unwrap_err().line(),
            Some(1)
        );
        // A vector cut short: what is left is not a history either.
        let vector = "[{:process 0, :type :invoke, :f :read, :value nil}\n \
                      {:process 0, :type :ok, :f :read, :value nil}\n \
                      {:process 1, :type :inv";
        let e = read_prefix(vector.as_bytes(), None).unwrap_err();
        assert_eq!(e.line(), Some(3), "{e}");
        // A file that is one torn line has no prefix.
        assert!(read_prefix(b"{\"process\":1,\"ty", None).is_err());
    }
}
