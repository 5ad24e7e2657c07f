//! Jepsen EDN histories, and Porcupine's kv logs (which are EDN maps, one per line).
//!
//! Accepted shapes, one op map per form:
//! - a top-level vector of op maps: `[{:type :invoke, :f :read, :process 0, …}\n …]`;
//! - bare op maps one after another (Jepsen's `history.edn`, Porcupine's `test_data/kv`);
//! - Jepsen 0.3 records: `#jepsen.history.Op{:index 0, :time 12, :type :invoke, …}`.
//!
//! Keywords become strings without the colon (`:timed-out` → `"timed-out"`); `:process`
//! is an integer or `:nemesis`. Reading uses the `clojure-reader` crate, form by form, so
//! errors carry the line of the op they are in.
//!
//! [`write()`] renders records back as EDN op maps (`faultline export --to edn`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clojure_reader::edn::{self, Edn};

use crate::history::{Key, Kind, Process, ProcessId, Record};
use crate::input_error::InputError;

/// Deepest bracket nesting accepted. The EDN reader recurses per level, so a hostile
/// `[[[[…` would otherwise overflow the stack (an abort, not even a panic). Op maps
/// need three or four levels.
pub(crate) const MAX_DEPTH: usize = 64;

/// Rejects texts nested deeper than [`MAX_DEPTH`], naming the line. Strings, character
/// literals and comments are skipped.
pub(crate) fn check_depth(text: &str, first_line: usize) -> Result<(), InputError> {
    let mut depth = 0usize;
    let mut line = first_line;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '"' => {
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '\\' => {
                chars.next();
            }
            ';' => {
                for s in chars.by_ref() {
                    if s == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '[' | '(' | '{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(InputError::at_line(
                        line,
                        format!("expected at most {MAX_DEPTH} nested brackets in an op"),
                    ));
                }
            }
            ']' | ')' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses an EDN history text.
pub fn parse(text: &str) -> Result<Vec<Record>, InputError> {
    check_depth(text, 1)?;
    let mut records = Vec::new();
    let mut rest = text;
    let mut line = 1usize;
    let mut in_vector = false;
    let mut closed = false;
    let mut first = true;
    loop {
        // Skip whitespace, commas and comments, counting lines.
        while let Some(c) = rest.chars().next() {
            if c == '\n' {
                line += 1;
                rest = &rest[1..];
            } else if c.is_whitespace() || c == ',' {
                rest = &rest[c.len_utf8()..];
            } else if c == ';' {
                let end = rest.find('\n').unwrap_or(rest.len());
                rest = &rest[end..];
            } else {
                break;
            }
        }
        if rest.is_empty() {
            break;
        }
        if closed {
            return Err(InputError::at_line(
                line,
                "expected nothing after the history vector's closing ]",
            ));
        }
        if first && rest.starts_with('[') {
            in_vector = true;
            first = false;
            rest = &rest[1..];
            continue;
        }
        first = false;
        if in_vector && rest.starts_with(']') {
            closed = true;
            rest = &rest[1..];
            continue;
        }
        // Jepsen prints records as `#jepsen.history.Op{…}` with no space after the
        // tag, which clojure-reader would take as part of the tag: skip the tag.
        if let Some(tagged) = rest.strip_prefix('#') {
            if tagged.starts_with(|c: char| c.is_alphabetic()) {
                if let Some(open) = tagged.find(|c: char| c == '{' || c.is_whitespace()) {
                    if tagged[open..].starts_with('{') {
                        rest = &tagged[open..];
                    }
                }
            }
        }
        let (form, remaining) = read_form(rest, line)?;
        let consumed = &rest[..rest.len() - remaining.len()];
        records.push(record(&form, line)?);
        line += consumed.matches('\n').count();
        rest = remaining;
    }
    if in_vector && !closed {
        return Err(InputError::at_line(
            line,
            "expected ] closing the history vector, found end of file",
        ));
    }
    super::keep_inputs(&mut records);
    Ok(records)
}

fn read_form(text: &str, line: usize) -> Result<(Edn<'_>, &str), InputError> {
    // Read only up to the end of the current top-level form's text would need a
    // tokenizer; clojure-reader reads exactly one form and returns the rest.
    edn::read(text).map_err(|e| {
        let stopped = line + e.line.unwrap_or(1).saturating_sub(1);
        let mut message = format!("expected an EDN op map, the reader failed ({:?})", e.code);
        if stopped != line {
            message.push_str(&format!(" at line {stopped}; is the map closed?"));
        }
        InputError::at_line(line, message)
    })
}

fn record(form: &Edn<'_>, line: usize) -> Result<Record, InputError> {
    let map = match form {
        Edn::Map(m) => m,
        Edn::Tagged(_, inner) => match inner.as_ref() {
            Edn::Map(m) => m,
            other => return Err(expected(line, "a map inside the tagged op record", other)),
        },
        other => {
            return Err(expected(
                line,
                "an op map {:process …, :type …, :f …}",
                other,
            ))
        }
    };
    let field = |name: &'static str| map.get(&Edn::Key(name));
    let process = match field("process") {
        Some(Edn::Int(i)) if *i >= 0 => Process::Client(ProcessId(*i as u64)),
        Some(Edn::Key("nemesis")) => Process::Nemesis,
        Some(other) => {
            return Err(expected(
                line,
                ":process to be a non-negative integer or :nemesis",
                other,
            ))
        }
        None => return Err(InputError::at_line(line, "expected a :process field")),
    };
    let kind = match field("type") {
        Some(Edn::Key(k)) => Kind::parse(k).ok_or_else(|| {
            InputError::at_line(
                line,
                format!("expected :type :invoke, :ok, :fail or :info, found :{k}"),
            )
        })?,
        Some(other) => {
            return Err(expected(
                line,
                ":type to be :invoke, :ok, :fail or :info",
                other,
            ))
        }
        None => return Err(InputError::at_line(line, "expected a :type field")),
    };
    let f = match field("f") {
        Some(Edn::Key(k) | Edn::Str(k) | Edn::Symbol(k)) => (*k).to_owned(),
        Some(other) => return Err(expected(line, ":f to be a keyword", other)),
        None => return Err(InputError::at_line(line, "expected an :f field")),
    };
    let key = match field("key") {
        None | Some(Edn::Nil) => None,
        Some(Edn::Int(i)) => Some(Key::Int(*i)),
        Some(Edn::Str(s) | Edn::Key(s)) => Some(Key::Str(unescape(s))),
        Some(other) => return Err(expected(line, ":key to be an integer or a string", other)),
    };
    let index = opt_u64(field("index"), "index", line)?;
    let time = opt_u64(field("time"), "time", line)?;
    let value = field("value").map_or(serde_json::Value::Null, to_json);
    let error = field("error").map(to_json);
    Ok(Record {
        line,
        index,
        time,
        process,
        kind,
        f,
        key,
        value,
        error,
    })
}

fn opt_u64(v: Option<&Edn<'_>>, name: &str, line: usize) -> Result<Option<u64>, InputError> {
    match v {
        None | Some(Edn::Nil) => Ok(None),
        Some(Edn::Int(i)) if *i >= 0 => Ok(Some(*i as u64)),
        Some(other) => Err(expected(
            line,
            &format!(":{name} to be a non-negative integer"),
            other,
        )),
    }
}

fn expected(line: usize, what: &str, found: &Edn<'_>) -> InputError {
    let mut shown = found.to_string();
    if shown.len() > 80 {
        let cut = (0..=80)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    InputError::at_line(line, format!("expected {what}, found {shown}"))
}

/// clojure-reader keeps string escapes as written; undo the common ones.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// EDN → JSON: nil → null, keywords/symbols → strings, vectors/lists/sets → arrays,
/// maps → objects with their keys rendered as strings.
pub(crate) fn to_json(e: &Edn<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match e {
        Edn::Nil => J::Null,
        Edn::Bool(b) => J::Bool(*b),
        Edn::Int(i) => J::from(*i),
        Edn::Double(d) => serde_json::Number::from_f64(d.into_inner()).map_or(J::Null, J::Number),
        Edn::Rational((n, d)) => {
            serde_json::Number::from_f64(*n as f64 / *d as f64).map_or(J::Null, J::Number)
        }
        Edn::Str(s) => J::String(unescape(s)),
        Edn::Key(s) | Edn::Symbol(s) => J::String((*s).to_owned()),
        Edn::Char(c) => J::String(c.to_string()),
        Edn::Vector(v) | Edn::List(v) => J::Array(v.iter().map(to_json).collect()),
        Edn::Set(s) => J::Array(s.iter().map(to_json).collect()),
        Edn::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Edn::Key(s) | Edn::Symbol(s) => (*s).to_owned(),
                        Edn::Str(s) => unescape(s),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Edn::Tagged(_, inner) => to_json(inner),
        other => J::String(other.to_string()),
    }
}

/// Renders records as EDN op maps, one per line, inside a vector.
pub fn write(records: &[Record]) -> String {
    let mut out = String::from("[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push_str("\n ");
        }
        out.push('{');
        let _ = write!(out, ":index {}", r.index.unwrap_or(i as u64));
        if let Some(t) = r.time {
            let _ = write!(out, ", :time {t}");
        }
        match r.process {
            Process::Client(p) => {
                let _ = write!(out, ", :process {}", p.0);
            }
            Process::Nemesis => out.push_str(", :process :nemesis"),
        }
        let _ = write!(out, ", :type :{}, :f ", r.kind.as_str());
        keyword(&r.f, &mut out);
        if let Some(k) = &r.key {
            out.push_str(", :key ");
            match k {
                Key::Int(i) => {
                    let _ = write!(out, "{i}");
                }
                Key::Str(s) => string(s, &mut out),
            }
        }
        out.push_str(", :value ");
        value(&r.value, &mut out);
        if let Some(e) = &r.error {
            out.push_str(", :error ");
            value(e, &mut out);
        }
        out.push('}');
    }
    out.push_str("]\n");
    out
}

fn keyword(s: &str, out: &mut String) {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "-_?!*+<>=./".contains(c))
        && !s.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        out.push(':');
        out.push_str(s);
    } else {
        string(s, out);
    }
}

fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn value(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value as J;
    match v {
        J::Null => out.push_str("nil"),
        J::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        J::Number(n) => {
            let _ = write!(out, "{n}");
        }
        J::String(s) => string(s, out),
        J::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                value(x, out);
            }
            out.push(']');
        }
        J::Object(m) => {
            out.push('{');
            let sorted: BTreeMap<&String, &serde_json::Value> = m.iter().collect();
            for (i, (k, x)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                keyword(k, out);
                out.push(' ');
                value(x, out);
            }
            out.push('}');
        }
    }
}
