//! [`Verdict`]: a checker's answer, for humans (text) and machines (JSON, results.json).
//!
//! Tri-state like Porcupine and Jepsen: [`Validity::Valid`], [`Validity::Invalid`],
//! [`Validity::Unknown`] (the budget ran out). Merging keeps the worst:
//! Invalid > Unknown > Valid.

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use crate::history::{Key, Process};

/// Valid, invalid, or unknown. Ordered so that `max` merges: Valid < Unknown < Invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    Valid,
    Unknown,
    Invalid,
}

impl Validity {
    /// The worse of the two.
    pub fn merge(self, other: Validity) -> Validity {
        self.max(other)
    }

    /// Plain word for reports.
    pub fn word(self) -> &'static str {
        match self {
            Validity::Valid => "ok",
            Validity::Unknown => "unknown",
            Validity::Invalid => "illegal",
        }
    }
}

/// Why a key has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownReason {
    /// The time limit passed.
    TimeLimit,
    /// The memory limit was reached.
    MemoryLimit,
    /// Stopped because another key was already found illegal.
    Cancelled,
}

impl UnknownReason {
    fn words(self) -> &'static str {
        match self {
            UnknownReason::TimeLimit => "time limit reached",
            UnknownReason::MemoryLimit => "memory limit reached",
            UnknownReason::Cancelled => "not finished: another key was already illegal",
        }
    }
}

/// Which algorithm answered a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The general search (Wing & Gong / Lowe with a memo): any model, exponential in the
    /// worst case, bounded by the budget.
    #[default]
    Search,
    /// The polynomial check for registers whose written values are unique
    /// (`linearizability::unique`).
    UniqueValues,
}

impl Method {
    /// Plain words for reports.
    pub fn words(self) -> &'static str {
        match self {
            Method::Search => "search",
            Method::UniqueValues => "unique values",
        }
    }
}

/// The answer for one key (one partition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyResult {
    /// `None` for a history without keys.
    pub key: Option<Key>,
    pub valid: Validity,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<UnknownReason>,
    /// Calls recorded for this key (including failed ones).
    pub calls: usize,
    /// Calls searched (failed calls and indeterminate reads are dropped).
    pub searched: usize,
    /// Search iterations.
    pub steps: u64,
    /// Configurations memoized at the end (0 once a search finishes and frees them).
    pub memo_entries: u64,
    /// Wall time spent searching this key, in microseconds.
    pub micros: u64,
    /// Which algorithm answered (results written before it existed: the search).
    #[serde(default)]
    pub method: Method,
    /// Why the unique-values check was asked for but the search answered instead, e.g.
    /// `value 7 is written twice (#3 and #9)`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fallback: Option<String>,
}

/// A reference to an op of the history, with a plain description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpRef {
    /// The op's `index`.
    pub index: u64,
    /// Source line, when the history came from a file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<usize>,
    pub process: Process,
    /// E.g. `append "x 0 3 y"` or `get → ""`.
    pub op: String,
}

/// An op that could not be linearized next, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocked {
    pub op: OpRef,
    /// E.g. `impossible: the value is "x"`.
    pub why: String,
}

/// A non-linearizable key, explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub key: Option<Key>,
    /// Always `"not-linearizable"` for this checker; other checkers add their own.
    pub kind: String,
    /// Length of a linearizable prefix: for the search, the longest it reached; for the
    /// unique-values check, the longest prefix of the order it built that is one.
    pub prefix_len: usize,
    /// Its last few ops (at most 8), in linearization order.
    pub prefix_tail: Vec<OpRef>,
    /// The model state after that prefix, in plain words.
    pub state: String,
    /// The earliest op whose completion the search could not get past.
    pub stuck_at: Option<OpRef>,
    /// The ops that could have been linearized next, each with why it was not (the
    /// unique-values check: the other ops of the conflict, each with its part in it).
    pub candidates: Vec<Blocked>,
    /// The unique-values check's finding in plain words, e.g. `value 1 must be current
    /// both before and after value 2: …` (the search leaves it out).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub conflict: Option<String>,
}

/// Totals for the whole check.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub ops: usize,
    pub calls: usize,
    pub partitions: usize,
    pub steps: u64,
    /// Highest search memory held at once, in bytes (the budget's measure).
    pub peak_memory_bytes: u64,
    /// Wall time of the check, in microseconds.
    pub micros: u64,
}

/// A checker's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub valid: Validity,
    /// `"linearizability"`.
    pub checker: String,
    /// The model's name, e.g. `"kv"`.
    pub model: String,
    pub keys: Vec<KeyResult>,
    pub anomalies: Vec<Anomaly>,
    pub stats: Stats,
}

impl Verdict {
    /// Merges another checker's verdict into this one (worst validity wins; keys and
    /// anomalies are concatenated).
    pub fn merge(mut self, other: Verdict) -> Verdict {
        self.valid = self.valid.merge(other.valid);
        self.keys.extend(other.keys);
        self.anomalies.extend(other.anomalies);
        self
    }

    /// The report for a terminal.
    pub fn render_text(&self) -> String {
        self.to_string()
    }

    /// The verdict in a few lines for a results summary or a report, anomalies first:
    /// one line when valid; otherwise the text report without the lines of keys that
    /// were fine or never reached (they stay in the details).
    pub fn summary_lines(&self) -> Vec<String> {
        match self.valid {
            Validity::Valid => vec![format!(
                "{} keys linearizable ({} ops)",
                self.keys.len(),
                self.stats.ops
            )],
            _ => self
                .to_string()
                .lines()
                .filter(|l| {
                    let t = l.trim_start();
                    !(t.starts_with("key ") && (l.contains(" ok ") || l.contains("not finished")))
                })
                .map(str::to_owned)
                .collect(),
        }
    }
}

fn key_name(k: &Option<Key>) -> String {
    match k {
        Some(k) => format!("key {k}"),
        None => "history".to_owned(),
    }
}

fn op_line(o: &OpRef) -> String {
    let at = o
        .line
        .map_or_else(|| format!("index {}", o.index), |l| format!("line {l}"));
    format!("process {} {} ({at})", o.process, o.op)
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} ({} model, {} ops, {} keys, {:.1} ms)",
            self.checker,
            match self.valid {
                Validity::Valid => "VALID",
                Validity::Invalid => "INVALID",
                Validity::Unknown => "UNKNOWN",
            },
            self.model,
            self.stats.ops,
            self.stats.partitions,
            self.stats.micros as f64 / 1000.0
        );
        for k in &self.keys {
            let reason = k
                .reason
                .map(|r| format!(" ({})", r.words()))
                .unwrap_or_default();
            let fallback = k
                .fallback
                .as_ref()
                .map(|f| format!(", since {f}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<12} {:<8}{reason}  {} calls, {} steps, {:.1} ms, {}{fallback}",
                key_name(&k.key),
                k.valid.word(),
                k.calls,
                k.steps,
                k.micros as f64 / 1000.0,
                k.method.words(),
            );
        }
        for a in &self.anomalies {
            let _ = writeln!(out, "\n{} is not linearizable.", key_name(&a.key));
            if let Some(c) = &a.conflict {
                let _ = writeln!(out, "  {c}");
            }
            let _ = writeln!(
                out,
                "  {} linearizable prefix has {} ops; it ends with:",
                if a.conflict.is_some() {
                    "A"
                } else {
                    "The longest"
                },
                a.prefix_len
            );
            for o in &a.prefix_tail {
                let _ = writeln!(out, "    {}", op_line(o));
            }
            let _ = writeln!(out, "  After it, {}.", a.state);
            if let Some(s) = &a.stuck_at {
                let _ = writeln!(out, "  No order lets this op complete: {}", op_line(s));
            }
            if !a.candidates.is_empty() {
                let _ = writeln!(
                    out,
                    "  {}",
                    if a.conflict.is_some() {
                        "The other ops of the conflict:"
                    } else {
                        "Ops that could come next, and why none works:"
                    }
                );
                for c in &a.candidates {
                    let _ = writeln!(out, "    {}: {}", op_line(&c.op), c.why);
                }
            }
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_the_worst() {
        use Validity::*;
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Invalid.merge(Valid), Invalid);
        assert_eq!(Valid.merge(Valid), Valid);
        assert_eq!(serde_json::to_string(&Invalid).unwrap(), r#""invalid""#);
    }
}
