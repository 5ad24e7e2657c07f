//! Jepsen EDN histories, Knossos's example histories, and Porcupine's kv logs (which
//! are EDN maps, one per line).
//!
//! ```text
//! text ──scan (brackets, strings, depth)──► Cursor: form by form ──record──► Records
//! ```
//!
//! Accepted shapes, one op map per form:
//! - a top-level vector of op maps: `[{:type :invoke, :f :read, :process 0, …}\n …]`;
//! - a top-level list, as Knossos's `data/` files are: `({:type :invoke, …}\n …)`;
//! - bare op maps one after another (Jepsen's `history.edn`, Porcupine's `test_data/kv`);
//! - Jepsen 0.3 records: `#jepsen.history.Op{:index 0, :time 12, :type :invoke, …}`.
//!
//! `;` comments and `#_` discards may stand anywhere (between ops, inside an op).
//! Keywords become strings without the colon (`:timed-out` → `"timed-out"`); `:process`
//! is an integer (a client) or a keyword (`:nemesis`: as in Jepsen, every non-integer
//! process is read as the nemesis).
//!
//! Before any form is read, [`scan`] checks brackets and strings over the whole text,
//! so a truncated file or an unbalanced list is reported with what was expected where:
//! an unfinished op at the line it begins on, a missing closing `]`/`)` of the history
//! at the end of the file, a mismatched closer where it stands. Forms are then read one
//! at a time with the `clojure-reader` crate, so every error carries the op's line.
//!
//! [`write()`] renders records back as EDN op maps (`faultline export --to edn`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clojure_reader::edn::{self, Edn};
use clojure_reader::error::Code;

use crate::history::{Key, Kind, Process, ProcessId, Record};
use crate::input_error::InputError;

/// Deepest bracket nesting accepted. The EDN reader recurses per level (and per
/// `#_` discard or `#tag` prefix), so a hostile `[[[[…` would otherwise overflow the
/// stack (an abort, not even a panic). Op maps need three or four levels.
pub(crate) const MAX_DEPTH: usize = 64;

/// Rejects texts nested deeper than [`MAX_DEPTH`], naming the line. Strings, character
/// literals and comments are skipped; brackets need not balance (a Jepsen log's error
/// column is free text).
pub(crate) fn check_depth(text: &str, first_line: usize) -> Result<(), InputError> {
    scan(text, first_line, false)
}

/// The closer of an opening bracket (`#{` sets open with `{`).
fn closer(open: char) -> char {
    match open {
        '[' => ']',
        '(' => ')',
        _ => '}',
    }
}

/// What an opening bracket opens, in words.
fn opened(open: char, depth: usize, top: Option<char>) -> &'static str {
    match (open, depth) {
        ('[', 0) if top.is_some() => "history vector",
        ('(', 0) if top.is_some() => "history list",
        ('{', _) => "map",
        ('[', _) => "vector",
        _ => "list",
    }
}

/// The bytes [`scan`] acts on inside a form.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    let bytes = b"\n\"\\;#[](){}";
    while k < bytes.len() {
        t[bytes[k] as usize] = true;
        k += 1;
    }
    t
};

/// Checks brackets and strings over a whole text before any form is read, so that a
/// truncated file or an unbalanced list is reported with the line where it went wrong
/// and what was expected there: an unfinished op at the line where it begins, a
/// missing `]`/`)` of the history itself at the end of the file, a mismatched or stray
/// closer where it stands. With `balanced` false only the depth is checked.
fn scan(text: &str, first_line: usize, balanced: bool) -> Result<(), InputError> {
    // Open brackets and the line each opened on.
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut line = first_line;
    // Line where the current top-level form began.
    let mut form_line = first_line;
    // `#_` and `#tag` prefixes in a row: the reader recurses once per prefix too.
    let mut prefixes = 0usize;
    let top = first_form(text).filter(|c| *c == '[' || *c == '(');
    let base = usize::from(top.is_some());
    let deep = |line: usize| {
        InputError::at_line(
            line,
            format!("expected at most {MAX_DEPTH} nested brackets in an op"),
        )
    };
    // Every byte the scan acts on is ASCII, and UTF-8 never reuses ASCII bytes inside
    // a multi-byte character, so bytes are enough (and several times faster).
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Inside a form, skip straight to the next byte that means something.
        if stack.len() > base {
            while i < b.len() && !SPECIAL[usize::from(b[i])] {
                i += 1;
            }
            if i == b.len() {
                break;
            }
        }
        let c = b[i];
        i += 1;
        if stack.len() <= base && !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b',' | b';') {
            form_line = line;
        }
        match c {
            b'\n' => line += 1,
            b' ' | b'\t' | b'\r' | b',' => {}
            b'"' => {
                prefixes = 0;
                let opened_on = line;
                let mut closed = false;
                while i < b.len() {
                    i += b[i..]
                        .iter()
                        .position(|&s| matches!(s, b'"' | b'\\' | b'\n'))
                        .unwrap_or(b.len() - i);
                    let Some(&s) = b.get(i) else {
                        break;
                    };
                    i += 1;
                    match s {
                        b'\\' => {
                            if b.get(i) == Some(&b'\n') {
                                line += 1;
                            }
                            i += 1;
                        }
                        b'"' => {
                            closed = true;
                            break;
                        }
                        b'\n' => line += 1,
                        _ => {}
                    }
                }
                if !closed && balanced {
                    return Err(InputError::at_line(
                        form_line,
                        format!(
                            "expected \" to close the string opened on line {opened_on}, \
                             found the end of the file (line {line})"
                        ),
                    ));
                }
            }
            b'\\' => {
                prefixes = 0;
                if b.get(i) == Some(&b'\n') {
                    line += 1;
                }
                i += 1;
            }
            b';' => match b[i..].iter().position(|&s| s == b'\n') {
                Some(end) => {
                    i += end + 1;
                    line += 1;
                }
                None => i = b.len(),
            },
            b'#' => {
                if b.get(i) == Some(&b'{') {
                    continue;
                }
                // `#_` or a `#tag`: the whole prefix, up to the form it applies to.
                if b.get(i) == Some(&b'_') {
                    i += 1;
                } else {
                    while i < b.len()
                        && !b[i].is_ascii_whitespace()
                        && !b"[](){}\",;".contains(&b[i])
                    {
                        i += 1;
                    }
                }
                prefixes += 1;
                if stack.len() + prefixes > MAX_DEPTH {
                    return Err(deep(line));
                }
            }
            b'[' | b'(' | b'{' => {
                prefixes = 0;
                stack.push((char::from(c), line));
                if stack.len() > MAX_DEPTH {
                    return Err(deep(line));
                }
            }
            b']' | b')' | b'}' => {
                prefixes = 0;
                let c = char::from(c);
                match stack.pop() {
                    Some((open, _)) if closer(open) == c || !balanced => {}
                    Some((open, at)) => {
                        return Err(InputError::at_line(
                            line,
                            format!(
                                "expected {} to close the {} opened on line {at}, found {c}",
                                closer(open),
                                opened(open, stack.len(), top)
                            ),
                        ))
                    }
                    None if balanced => {
                        return Err(InputError::at_line(
                            line,
                            format!("expected an op map, found {c} with nothing open"),
                        ))
                    }
                    None => {}
                }
            }
            _ => prefixes = 0,
        }
    }
    if !balanced {
        return Ok(());
    }
    match stack.last() {
        None => Ok(()),
        // Only the history's own `]`/`)` is missing.
        Some(&(open, at)) if stack.len() == 1 && top.is_some() => Err(InputError::at_line(
            line,
            format!(
                "expected {} to close the {} opened on line {at}, found the end of the file",
                closer(open),
                opened(open, 0, top)
            ),
        )),
        Some(&(open, at)) => Err(InputError::at_line(
            form_line,
            format!(
                "expected {} to close the {} opened on line {at}, found the end of the file \
                 (line {line}); the op that begins here is unfinished",
                closer(open),
                opened(open, stack.len() - 1, top)
            ),
        )),
    }
}

/// The first character of the first form, past whitespace, commas and comments.
fn first_form(text: &str) -> Option<char> {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.starts_with(';') {
            rest = rest.find('\n').map_or("", |end| &rest[end..]);
        } else {
            return rest.chars().next();
        }
    }
}

/// A history text being read form by form, with the line it has reached.
struct Cursor<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn advance(&mut self, bytes: usize) {
        self.line += self.rest[..bytes].matches('\n').count();
        self.rest = &self.rest[bytes..];
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded forms.
    fn skip_blank(&mut self) -> Result<(), InputError> {
        loop {
            let blank = self
                .rest
                .find(|c: char| !(c.is_whitespace() || c == ','))
                .unwrap_or(self.rest.len());
            self.advance(blank);
            if self.rest.starts_with(';') {
                let end = self.rest.find('\n').unwrap_or(self.rest.len());
                self.advance(end);
            } else if self.rest.starts_with("#_") {
                self.advance(2);
                self.read()?;
            } else {
                return Ok(());
            }
        }
    }

    /// Reads the next form.
    fn read(&mut self) -> Result<Edn<'a>, InputError> {
        // Jepsen prints records as `#jepsen.history.Op{…}` with no space after the
        // tag, which clojure-reader would take as part of the tag: skip the tag.
        let mut from = 0;
        if let Some(tagged) = self.rest.strip_prefix('#') {
            if tagged.starts_with(|c: char| c.is_alphabetic()) {
                if let Some(open) = tagged.find(|c: char| c == '{' || c.is_whitespace()) {
                    if tagged[open..].starts_with('{') {
                        from = 1 + open;
                    }
                }
            }
        }
        let text = &self.rest[from..];
        match edn::read(text) {
            Ok((form, remaining)) => {
                self.advance(self.rest.len() - remaining.len());
                Ok(form)
            }
            Err(e) => {
                let at = self.line + e.line.unwrap_or(1).saturating_sub(1);
                let what = match e.code {
                    Code::UnexpectedEOF => "an EDN form, found the end of the file".to_owned(),
                    Code::InvalidNumber => "a number (an integer or a decimal)".to_owned(),
                    Code::HashMapDuplicateKey => "each key once in a map".to_owned(),
                    Code::SetDuplicateKey => "each element once in a set".to_owned(),
                    Code::InvalidEscape => "a string escape \\t, \\r, \\n, \\\\ or \\\"".to_owned(),
                    other => format!("an EDN form (the reader stopped: {other:?})"),
                };
                Err(InputError::at_line(at, format!("expected {what}")))
            }
        }
    }
}

/// Parses an EDN history text: a vector or a list of op maps, or op maps one after
/// another, with `;` comments and `#_` discards anywhere.
pub fn parse(text: &str) -> Result<Vec<Record>, InputError> {
    scan(text, 1, true)?;
    let mut records = Vec::new();
    let mut cur = Cursor {
        rest: text,
        line: 1,
    };
    cur.skip_blank()?;
    let close = match cur.rest.chars().next() {
        Some('[') => Some(']'),
        Some('(') => Some(')'),
        _ => None,
    };
    if close.is_some() {
        cur.advance(1);
    }
    loop {
        cur.skip_blank()?;
        let Some(next) = cur.rest.chars().next() else {
            break;
        };
        if Some(next) == close {
            cur.advance(1);
            cur.skip_blank()?;
            if let Some(after) = cur.rest.chars().next() {
                return Err(InputError::at_line(
                    cur.line,
                    format!("expected nothing after the history's closing {next}, found {after}"),
                ));
            }
            break;
        }
        let line = cur.line;
        let form = cur.read()?;
        records.push(record(&form, line)?);
    }
    super::keep_inputs(&mut records);
    Ok(records)
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
        // As in Jepsen, only integer processes are clients.
        Some(Edn::Key(_) | Edn::Symbol(_) | Edn::Str(_)) => Process::Nemesis,
        Some(other) => {
            return Err(expected(
                line,
                ":process to be a non-negative integer, or :nemesis",
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

/// Renders records as EDN op maps, one per line, inside a vector, with Jepsen's
/// keywords where Jepsen's tools expect them:
///
/// - `:type`, `:f` and the nemesis `:process` are keywords;
/// - in an `:error`, every string that is a valid keyword name is a keyword
///   (`"timed-out"` → `:timed-out`, `["unavailable" "no leader"]` →
///   `[:unavailable "no leader"]`); text with spaces stays a string;
/// - in a `txn` op's value, each micro-op's name and (keyword-shaped) register name are
///   keywords: `[[:read :x nil] [:append 3 1]]`, as Knossos and Elle read them;
/// - map keys are keywords when they can be; every other string stays a string.
///
/// Reading the text back gives the same records: keywords read as their names.
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
        match r.value.as_array() {
            Some(micro) if r.f == "txn" => txn(micro, &mut out),
            _ => value(&r.value, Strings::Plain, &mut out),
        }
        if let Some(e) = &r.error {
            out.push_str(", :error ");
            value(e, Strings::Keywords, &mut out);
        }
        out.push('}');
    }
    out.push_str("]\n");
    out
}

/// True if `:s` reads back as the keyword `s`.
fn keyword_shaped(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "-_?!*+<>=./".contains(c))
        && !s.starts_with(|c: char| c.is_ascii_digit() || c == '/')
        && !s.ends_with('/')
        && s.matches('/').count() <= 1
}

/// A transaction's micro-ops `[f k v]`: `f` and a keyword-shaped string `k` as keywords.
fn txn(micro: &[serde_json::Value], out: &mut String) {
    out.push('[');
    for (i, m) in micro.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match m.as_array().map(Vec::as_slice) {
            Some([f, rest @ ..]) if f.is_string() => {
                out.push('[');
                value(f, Strings::Keywords, out);
                for (j, x) in rest.iter().enumerate() {
                    out.push(' ');
                    let strings = if j == 0 {
                        Strings::Keywords
                    } else {
                        Strings::Plain
                    };
                    value(x, strings, out);
                }
                out.push(']');
            }
            _ => value(m, Strings::Plain, out),
        }
    }
    out.push(']');
}

fn keyword(s: &str, out: &mut String) {
    if keyword_shaped(s) {
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

/// How [`value`] writes strings.
#[derive(Clone, Copy)]
enum Strings {
    /// As strings.
    Plain,
    /// As keywords when they can be (errors, micro-op names).
    Keywords,
}

fn value(v: &serde_json::Value, strings: Strings, out: &mut String) {
    use serde_json::Value as J;
    match v {
        J::Null => out.push_str("nil"),
        J::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        J::Number(n) => {
            let _ = write!(out, "{n}");
        }
        J::String(s) => match strings {
            Strings::Keywords => keyword(s, out),
            Strings::Plain => string(s, out),
        },
        J::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                value(x, strings, out);
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
                value(x, strings, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const W: &str = "{:process 0, :type :invoke, :f :write, :value 1}";
    const OK: &str = "{:process 0, :type :ok, :f :write, :value 1}";

    fn lines(text: &str) -> Vec<usize> {
        parse(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .iter()
            .map(|r| r.line)
            .collect()
    }

    fn error(text: &str) -> (usize, String) {
        let e = parse(text).expect_err(text);
        (e.line().expect("a line"), e.message)
    }

    #[test]
    fn a_history_is_a_vector_a_list_or_maps_one_after_another() {
        assert_eq!(lines(&format!("[{W}\n {OK}]\n")), [1, 2]);
        assert_eq!(lines(&format!("({W}\n {OK}\n)\n")), [1, 2]);
        assert_eq!(lines(&format!("{W}\n{OK}\n")), [1, 2]);
        assert_eq!(lines(&format!("{W}, {OK}")), [1, 1]);
        assert_eq!(lines("[]"), Vec::<usize>::new());
        assert_eq!(lines("()"), Vec::<usize>::new());
    }

    #[test]
    fn comments_and_discards_anywhere() {
        let text = format!(
            "; a Knossos history\n\
             ({W} ; the write\n \
             ; a whole line\n \
             #_{{:process 9, :type :invoke, :f :read}}\n \
             #_ #_ {W} {W}\n \
             {{:process 0, #_:ignored #_ 3 :type :ok, :f :write, ; inline\n  :value 1}}\n\
             #_{W})\n\
             ; trailing\n"
        );
        let r = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].line, r[1].line), (2, 6));
        assert_eq!(r[1].kind, Kind::Ok);
        assert_eq!(lines(&format!("#_[1 2]\n{W}\n#_ {OK}")), [2]);
    }

    #[test]
    fn tagged_records_keep_working() {
        let text = format!("#jepsen.history.Op{{:index 0, :time 5, :type :invoke, :process 1, :f :write, :value 3}}\n#_#jepsen.history.Op{{:index 9}}\n#jepsen.history.Op {OK}\n");
        let r = parse(&text).unwrap();
        assert_eq!((r.len(), r[0].time, &r[0].value), (2, Some(5), &json!(3)));
        assert_eq!(r[1].line, 3);
    }

    #[test]
    fn truncated_and_unbalanced_texts_say_where_and_what() {
        // An op cut short: named at the line where it begins.
        let (line, msg) = error(&format!(
            "[{W}\n {OK}\n {{:process 1, :type :invoke, :f [:read"
        ));
        assert_eq!(line, 3, "{msg}");
        assert!(
            msg.starts_with("expected ] to close the vector opened on line 3"),
            "{msg}"
        );
        // The history's own ] missing: named at the end of the file.
        let (line, msg) = error(&format!("[{W}\n {OK}\n"));
        assert_eq!(line, 3, "{msg}");
        assert!(
            msg.contains("expected ] to close the history vector opened on line 1"),
            "{msg}"
        );
        let (line, msg) = error(&format!("({W}\n {OK}\n"));
        assert_eq!(line, 3, "{msg}");
        assert!(
            msg.contains("expected ) to close the history list"),
            "{msg}"
        );
        // A closer that does not match.
        let (line, msg) = error(&format!("({W}\n {OK}]\n"));
        assert_eq!(line, 2, "{msg}");
        assert!(
            msg.contains("expected ) to close the history list opened on line 1, found ]"),
            "{msg}"
        );
        let (line, msg) = error(&format!("{W}\n{{:process 0, :value [1 2}}\n"));
        assert_eq!(line, 2, "{msg}");
        assert!(
            msg.contains("expected ] to close the vector opened on line 2, found }"),
            "{msg}"
        );
        // A stray closer, something after the history, an unterminated string.
        let (line, msg) = error(&format!("{W}\n)\n"));
        assert_eq!(line, 2, "{msg}");
        assert!(msg.contains("with nothing open"), "{msg}");
        let (line, msg) = error(&format!("[{W}]\n{OK}\n"));
        assert_eq!(line, 2, "{msg}");
        assert!(
            msg.contains("expected nothing after the history's closing ]"),
            "{msg}"
        );
        let (line, msg) = error(&format!("{W}\n{{:process 0, :f \"wri\n\n"));
        assert_eq!(line, 2, "{msg}");
        assert!(
            msg.contains("expected \" to close the string opened on line 2"),
            "{msg}"
        );
        // Brackets inside strings, comments and character literals do not count.
        assert_eq!(lines("{:process 0, :type :invoke, :f :write, :value 1, :error \"[(\"} ; ]]\n{:process 0, :type :ok, :f :write, :value 1, :c \\]}"), [1, 2]);
    }

    #[test]
    fn hostile_nesting_is_rejected_not_a_stack_overflow() {
        for deep in [
            "[".repeat(100_000),
            "#_".repeat(100_000),
            "#a ".repeat(100_000),
        ] {
            let (_, msg) = error(&deep);
            assert!(msg.contains("nested"), "{msg}");
        }
    }
}
