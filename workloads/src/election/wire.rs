//! What a candidate says to the resource, and what the resource answers: one JSON
//! object per line over one TCP connection per candidate incarnation.
//!
//! ```text
//! candidate ──{"type":"hello","candidate":"c1","mode":"naive"}──► resource ──{"type":"process","process":3}
//!           ──{"type":"ready"}──────────────────────────────────►          ──{"type":"recorded"}
//!           ──{"type":"leader","token":12}──────────────────────►          ──{"type":"recorded"}
//!           ──{"type":"write","token":12,"lease_ms":null}───────►          ──{"type":"accepted"} | {"type":"rejected","highest":17}
//!           ──{"type":"step-down","token":12,"reason":"…"}──────►          ──{"type":"recorded"}
//! ```
//!
//! Every report is answered before the candidate goes on, so the resource's clock
//! orders a candidate's reports as the candidate made them.

use serde::{Deserialize, Serialize};

use checkers::election::Mode;

/// A candidate's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Report {
    /// First line of a connection: who this incarnation is.
    Hello { candidate: String, mode: Mode },
    /// The coordination service answered the candidate for the first time.
    Ready,
    /// The candidate could not reach the service at start; it exits after this.
    Unreachable { why: String },
    /// "I lead with token T" (`lease_ms`: what is left of the lease, lease mode).
    Leader { token: u64, lease_ms: Option<u64> },
    /// "I no longer lead: why".
    StepDown { token: u64, reason: String },
    /// A write to the fenced resource with the candidate's current token.
    Write { token: u64, lease_ms: Option<u64> },
}

/// The resource's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Reply {
    /// The history process this incarnation's reports are recorded under.
    Process {
        process: u64,
    },
    Recorded,
    Accepted,
    /// Fenced off: the resource had accepted `highest`.
    Rejected {
        highest: u64,
    },
    /// The report made no sense (e.g. no hello first); the connection closes.
    Refused {
        why: String,
    },
}
