//! [`Record`]: an operation as a file spelled it, before a model gives it a type.
//!
//! Every format reader produces records; [`History::from_records`](super::History::from_records)
//! decodes their `f`/`value` into a workload's [`Payload`](super::Payload). `export`
//! works on records alone, so it needs no model.

use super::{Key, Kind, Process};

/// One untyped operation line, with the line it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line in the source file where the op begins.
    pub line: usize,
    pub index: Option<u64>,
    pub time: Option<u64>,
    pub process: Process,
    pub kind: Kind,
    /// Jepsen's `:f`, without the keyword colon.
    pub f: String,
    pub key: Option<Key>,
    /// Jepsen's `:value`, as JSON (EDN keywords become strings without the colon).
    pub value: serde_json::Value,
    pub error: Option<serde_json::Value>,
}
