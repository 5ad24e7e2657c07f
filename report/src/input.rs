//! What a report is made of: plain, serializable data that the run (or `faultline
//! check`) fills in. The HTML report and the plots are pure functions of a
//! [`ReportInput`]: the same input always renders the same bytes.

use serde::{Deserialize, Serialize};

pub use checkers::faults::{Availability, FaultWindow};
pub use checkers::split_brain::LeaderChange;

/// Everything the report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    pub summary: Summary,
    /// One verdict per checker, in the order they should be shown.
    pub verdicts: Vec<CheckerVerdict>,
    /// The history, invocations and completions (any order; sorted by `index`).
    pub ops: Vec<Op>,
    /// When each fault was in force (`end: None`: never healed before the end).
    #[serde(default)]
    pub faults: Vec<FaultWindow>,
    /// New leaders as the status observer saw them.
    #[serde(default)]
    pub leader_changes: Vec<LeaderChange>,
    /// How the system fared during and after each fault (computed by the checkers, see
    /// `checkers::faults::availability`).
    #[serde(default)]
    pub availability: Vec<Availability>,
    /// An election run's tenures, overlaps and outcome per mode (the stale-writes
    /// checker's details), drawn as lanes per candidate.
    #[serde(default)]
    pub election: Option<checkers::election::ElectionReport>,
}

/// The test that ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub name: String,
    pub target: String,
    pub workload: String,
    pub nemesis: String,
    pub seed: u64,
    /// When the run started, as the run recorded it (e.g. RFC 3339 UTC).
    pub started: String,
    /// The exact command that reproduces the run's schedule.
    pub repro: String,
}

/// A checker's answer (valid / unknown / invalid; merging keeps the worst).
pub use checkers::verdict::Validity;

/// "valid", "invalid" or "unknown", as the report and `results.json` spell it.
pub fn validity_str(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

/// One checker's verdict with its findings in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckerVerdict {
    pub checker: String,
    pub validity: Validity,
    /// Plain-word lines (summary, counts, "fencing saved you N times", …).
    #[serde(default)]
    pub lines: Vec<String>,
    #[serde(default)]
    pub anomalies: Vec<Anomaly>,
}

/// One violation, and the operations that show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// What went wrong, in plain words.
    pub description: String,
    /// Indices ([`Op::index`]) of the operations involved; an invocation's or a
    /// completion's index both name the whole operation.
    #[serde(default)]
    pub ops: Vec<u64>,
    /// For anomalies that are not about operations (e.g. two leaders in one term):
    /// the time span to show, in ns since the start of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
    /// The anomaly's kind when the checker names kinds (Elle's `G1c`, `G1a`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Further plain-word lines: the transactions involved and the reasoning step by
    /// step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// A dependency cycle to draw (transactions as nodes, dependencies as edges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<Cycle>,
}

/// A cycle of transactions, as the report draws it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cycle {
    /// In cycle order.
    pub nodes: Vec<CycleNode>,
    pub edges: Vec<CycleEdge>,
}

/// One transaction of a cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleNode {
    /// `T1`, `T2`, …
    pub name: String,
    /// What it did, in plain words (shown on hover).
    pub title: String,
}

/// One dependency: `from` must precede `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleEdge {
    /// Positions in [`Cycle::nodes`].
    pub from: usize,
    pub to: usize,
    /// The label drawn: `ww`, `wr`, `rw`, `rt` (real time) or `p` (process order).
    pub label: String,
    /// The step in plain words (shown on hover).
    pub title: String,
}

/// A time span in ns since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

/// Who made an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Process::Client(p) => write!(f, "process {p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

/// The type of a history entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Invoke => "invoke",
            OpKind::Ok => "ok",
            OpKind::Fail => "fail",
            OpKind::Info => "info",
        }
    }
}

/// One history entry, flattened for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub index: u64,
    /// ns since the start of the run.
    pub time: u64,
    pub process: Process,
    pub kind: OpKind,
    /// The operation's function, for display ("read", "acquire", "partition" …).
    pub f: String,
    /// A short rendering of the input (on invoke) or output (on completion).
    #[serde(default)]
    pub value: String,
    /// Why a fail or info ended that way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Op {
    /// A client's op with no value, for tests of the report's parts.
    #[cfg(test)]
    pub(crate) fn client(index: u64, time: u64, p: u64, kind: OpKind, f: &str) -> Op {
        Op {
            index,
            time,
            process: Process::Client(p),
            kind,
            f: f.into(),
            value: String::new(),
            error: None,
        }
    }
}

/// Longest `value` text kept per op when converting from a history.
const VALUE_CHARS: usize = 120;

impl Op {
    /// From an untyped history record (any format `faultline check` reads);
    /// `position` stands in for a missing index, and a missing time is 0.
    pub fn from_record(r: &checkers::history::Record, position: u64) -> Op {
        Op {
            index: r.index.unwrap_or(position),
            time: r.time.unwrap_or(0),
            process: r.process.into(),
            kind: r.kind.into(),
            f: r.f.clone(),
            value: value_text(r.key.as_ref(), &r.value),
            error: r.error.as_ref().map(error_text),
        }
    }

    /// From a typed history op (the run's own history).
    pub fn from_history<P: checkers::history::Payload>(op: &checkers::history::Op<P>) -> Op {
        use checkers::history::Body;
        let (f, value) = match &op.body {
            Body::Client(p) => (p.f().to_string(), p.value()),
            Body::Nemesis(fault) => (fault.f.clone(), fault.value.clone()),
        };
        Op {
            index: op.index,
            time: op.time,
            process: op.process.into(),
            kind: op.kind.into(),
            f,
            value: value_text(op.key.as_ref(), &value),
            error: op.error.as_ref().map(error_text),
        }
    }
}

impl From<checkers::history::Process> for Process {
    fn from(p: checkers::history::Process) -> Process {
        match p {
            checkers::history::Process::Client(id) => Process::Client(id.0),
            checkers::history::Process::Nemesis => Process::Nemesis,
        }
    }
}

impl From<checkers::history::Kind> for OpKind {
    fn from(k: checkers::history::Kind) -> OpKind {
        match k {
            checkers::history::Kind::Invoke => OpKind::Invoke,
            checkers::history::Kind::Ok => OpKind::Ok,
            checkers::history::Kind::Fail => OpKind::Fail,
            checkers::history::Kind::Info => OpKind::Info,
        }
    }
}

/// "key 3 [1,2]", "token 7", "" for null; at most [`VALUE_CHARS`] characters.
fn value_text(key: Option<&checkers::history::Key>, value: &serde_json::Value) -> String {
    let v = match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = match key {
        Some(k) if v.is_empty() => format!("key {k}"),
        Some(k) => format!("key {k} {v}"),
        None => v,
    };
    super::describe::clip(&text, VALUE_CHARS).into_owned()
}

fn error_text(e: &serde_json::Value) -> String {
    let text = match e {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    super::describe::clip(&text, VALUE_CHARS).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::history::{Key, Kind, ProcessId, Record};

    #[test]
    fn records_become_display_ops() {
        let r = Record {
            line: 3,
            index: None,
            time: Some(1_500),
            process: checkers::history::Process::Client(ProcessId(4)),
            kind: Kind::Info,
            f: "cas".into(),
            key: Some(Key::Int(2)),
            value: serde_json::json!([1, 2]),
            error: Some(serde_json::json!("timeout")),
        };
        let op = Op::from_record(&r, 9);
        assert_eq!(
            op,
            Op {
                index: 9,
                time: 1_500,
                process: Process::Client(4),
                kind: OpKind::Info,
                f: "cas".into(),
                value: "key 2 [1,2]".into(),
                error: Some("timeout".into()),
            }
        );
        let long = serde_json::Value::String("x".repeat(500));
        assert_eq!(value_text(None, &long).chars().count(), VALUE_CHARS + 1);
        assert_eq!(value_text(None, &serde_json::Value::Null), "");
        assert_eq!(error_text(&serde_json::json!({"code": 5})), "{\"code\":5}");
    }
}
