//! Raft log entries; the payloads they carry are shared with the Zab
//! ([`crate::bundled::op`]).

use serde::{Deserialize, Serialize};

pub use crate::bundled::op::{Op, Payload};

use super::types::{LogIndex, Term};
use crate::bundled::storage::Record;
use crate::bundled::types::Position;

/// One replicated log entry (Figure 2: "each entry contains command for state machine,
/// and term when entry was received by leader").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    pub index: LogIndex,
    pub payload: Payload,
}

impl Record for Entry {
    fn position(&self) -> Position {
        self.index
    }

    /// Indices are contiguous from 1.
    fn check_order(position: Position, _prev: Option<Position>, n: usize) -> Result<(), String> {
        if position == n as u64 {
            Ok(())
        } else {
            Err(format!("index {position} follows {}", n - 1))
        }
    }
}
