//! Plain words: operations, times and durations as a reader wants them, and HTML
//! escaping (every piece of text that reaches the page goes through [`esc`]).

use std::borrow::Cow;

use super::input::Process;
use super::pairs::{Call, Outcome};

/// Escapes text for HTML and SVG element content and quoted attribute values.
pub fn esc(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A point in the run: "12.345 s".
pub fn at(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// A duration: "850 µs", "55.0 ms", "1.234 s".
pub fn dur(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{} µs", ns / 1_000)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("{:.3} s", ns as f64 / 1e9)
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
    }
}

/// Longest value text shown for one operation.
const VALUE_CHARS: usize = 160;

/// One call in plain words (not escaped), e.g. "#12 process 3 acquire lock 0:
/// invoked at 1.000 s, ok at 1.050 s after 50.0 ms, returning token 7".
pub fn call(c: &Call<'_>) -> String {
    if c.process == Process::Nemesis {
        return nemesis(c);
    }
    let mut s = format!("#{} {} {}", c.index(), c.process, c.f());
    if let Some(v) = c.invoke.map(|o| o.value.as_str()).filter(|v| !v.is_empty()) {
        s.push(' ');
        s.push_str(&clip(v, VALUE_CHARS));
    }
    match c.invoke {
        Some(i) => s.push_str(&format!(": invoked at {}", at(i.time))),
        None => s.push(':'),
    }
    let after = c
        .latency()
        .filter(|_| c.invoke.is_some())
        .map(|l| format!(" after {}", dur(l)))
        .unwrap_or_default();
    let error = c
        .complete
        .and_then(|o| o.error.as_deref())
        .map(|e| format!(" ({})", clip(e, VALUE_CHARS)))
        .unwrap_or_default();
    let value = c
        .complete
        .map(|o| o.value.as_str())
        .filter(|v| !v.is_empty())
        .map(|v| clip(v, VALUE_CHARS));
    let end = c.end().map(at).unwrap_or_default();
    match c.outcome {
        Outcome::Ok => {
            s.push_str(&format!(", ok at {end}{after}"));
            if let Some(v) = value {
                s.push_str(&format!(", returning {v}"));
            }
        }
        Outcome::Fail => s.push_str(&format!(
            ", failed at {end}{after}{error}: it certainly had no effect"
        )),
        Outcome::Info => s.push_str(&format!(
            ", outcome unknown at {end}{after}{error}: it may have taken effect then or at any later time"
        )),
        Outcome::Open => s.push_str(", never completed: open until the end of the history"),
    }
    s
}

/// A nemesis event: what it did and when (its `info` is a report, not an unknown
/// outcome).
fn nemesis(c: &Call<'_>) -> String {
    let mut s = format!("#{} nemesis {}", c.index(), c.f());
    let value = c
        .complete
        .or(c.invoke)
        .map(|o| o.value.as_str())
        .filter(|v| !v.is_empty());
    if let Some(v) = value {
        s.push(' ');
        s.push_str(&clip(v, VALUE_CHARS));
    }
    match (c.invoke, c.complete) {
        (Some(i), Some(e)) => s.push_str(&format!(": from {} to {}", at(i.time), at(e.time))),
        (Some(i), None) => s.push_str(&format!(": began at {}, never reported back", at(i.time))),
        (None, Some(e)) => s.push_str(&format!(": at {}", at(e.time))),
        (None, None) => {}
    }
    if let Some(e) = c.complete.and_then(|o| o.error.as_deref()) {
        s.push_str(&format!(" ({})", clip(e, VALUE_CHARS)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::input::{Op, OpKind};
    use super::super::pairs::pair;
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert!(matches!(esc("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn durations_and_clipping_read_well() {
        assert_eq!(dur(850_000), "850 µs");
        assert_eq!(dur(55_000_000), "55.0 ms");
        assert_eq!(dur(1_234_000_000), "1.234 s");
        assert_eq!(clip("ééééé", 3), "ééé…");
        assert_eq!(clip("abc", 3), "abc");
    }

    #[test]
    fn a_call_reads_as_a_sentence() {
        let mk = |index, time, kind, value: &str, error: Option<&str>| Op {
            index,
            time,
            process: Process::Client(3),
            kind,
            f: "acquire".into(),
            value: value.into(),
            error: error.map(Into::into),
        };
        let ops = vec![
            mk(0, 1_000_000_000, OpKind::Invoke, "lock 0", None),
            mk(1, 1_050_000_000, OpKind::Ok, "token 7", None),
            mk(2, 2_000_000_000, OpKind::Invoke, "lock 0", None),
            mk(3, 3_000_000_000, OpKind::Info, "", Some("timeout")),
        ];
        let calls = pair(&ops);
        assert_eq!(
            call(&calls[0]),
            "#0 process 3 acquire lock 0: invoked at 1.000 s, ok at 1.050 s after 50.0 ms, returning token 7"
        );
        assert!(call(&calls[1]).contains("outcome unknown at 3.000 s after 1.000 s (timeout)"));
        let event = [Op {
            index: 9,
            time: 4_000_000_000,
            process: Process::Nemesis,
            kind: OpKind::Info,
            f: "start-partition".into(),
            value: "majorities-ring".into(),
            error: None,
        }];
        assert_eq!(
            call(&pair(&event)[0]),
            "#9 nemesis start-partition majorities-ring: at 4.000 s"
        );
    }
}
