//! [`Op`]: one line of the history, typed.

use serde::{Deserialize, Serialize};

use super::{Key, Process};

/// What an operation line records: the start of a call or one of its three ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The call began.
    Invoke,
    /// It happened, with the result in the payload.
    Ok,
    /// It certainly did not happen (a definite error): dropped by checkers.
    Fail,
    /// It may or may not have happened: it may take effect at any time after its
    /// invocation, or never. Retires the process.
    Info,
}

impl Kind {
    /// The wire name (`"invoke"`, `"ok"`, `"fail"`, `"info"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Invoke => "invoke",
            Kind::Ok => "ok",
            Kind::Fail => "fail",
            Kind::Info => "info",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "invoke" => Some(Kind::Invoke),
            "ok" => Some(Kind::Ok),
            "fail" => Some(Kind::Fail),
            "info" => Some(Kind::Info),
            _ => None,
        }
    }
}

/// A nemesis operation, kept opaque: checkers of client histories ignore it, reports
/// draw it as a fault window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// The fault's name as the nemesis wrote it (`"partition"`, `"kill"`, …).
    pub f: String,
    /// Its description (which grudge, which nodes), free-form.
    pub value: serde_json::Value,
}

/// The operation proper: a workload's typed payload or a nemesis fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Body<P> {
    Client(P),
    Nemesis(Fault),
}

/// One recorded operation.
///
/// `Body::Nemesis` goes with `Process::Nemesis` and `Body::Client` with a client
/// process; [`History::new`](super::History::new) rejects any other pairing.
#[derive(Debug, Clone, PartialEq)]
pub struct Op<P> {
    /// Position in the history (0-based, increasing).
    pub index: u64,
    /// Nanoseconds since the run started (monotonic clock); 0 when the source format
    /// recorded no times.
    pub time: u64,
    pub process: Process,
    pub kind: Kind,
    /// The independent key, if the workload partitions by key.
    pub key: Option<Key>,
    pub body: Body<P>,
    /// Why it failed or is indeterminate (`fail`/`info`), free-form.
    pub error: Option<serde_json::Value>,
}

impl<P> Op<P> {
    /// A client operation without key or error.
    pub fn client(index: u64, time: u64, process: u64, kind: Kind, payload: P) -> Self {
        Op {
            index,
            time,
            process: Process::Client(super::ProcessId(process)),
            kind,
            key: None,
            body: Body::Client(payload),
            error: None,
        }
    }

    /// A nemesis operation.
    pub fn nemesis(index: u64, time: u64, kind: Kind, fault: Fault) -> Self {
        Op {
            index,
            time,
            process: Process::Nemesis,
            kind,
            key: None,
            body: Body::Nemesis(fault),
            error: None,
        }
    }

    /// The same op with an independent key.
    pub fn with_key(mut self, key: impl Into<Key>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// The same op with an error description.
    pub fn with_error(mut self, error: serde_json::Value) -> Self {
        self.error = Some(error);
        self
    }

    /// The client payload, if this is a client op.
    pub fn payload(&self) -> Option<&P> {
        match &self.body {
            Body::Client(p) => Some(p),
            Body::Nemesis(_) => None,
        }
    }
}
