//! The history: what a run recorded, one operation at a time.
//!
//! ```text
//! interpreter ──append──► HistoryWriter ──► history.jsonl ──format::read──► Records
//!                                                              │ History::from_records
//!                                                              ▼   (typed by a Payload)
//!                                                          History<P> ──► linearizability::check
//! ```
//!
//! An [`Op`] is Jepsen's op map made typed: `index`, `time` (ns since the run
//! started), [`Process`] (a client [`ProcessId`] or the nemesis), [`Kind`], an optional
//! independent [`Key`], and a [`Body`]: the workload's typed [`Payload`] for client
//! operations, an opaque [`Fault`] description for the nemesis.
//!
//! Invariants a [`History`] guarantees (checked when it is built, errors name the line):
//! - a client process has at most one operation outstanding;
//! - every completion (`ok`/`fail`/`info`) follows an invocation by the same process,
//!   with the same `f` and key;
//! - a process is retired after `info`: it never invokes again (Jepsen gives the worker
//!   a fresh process id instead);
//! - nemesis operations are kept, in order, but never paired or checked by models.
//!
//! An invocation without a completion at the end of the history is indeterminate,
//! exactly like one completed by `info`.
//!
//! References: Jepsen's `jepsen.history` op maps; Knossos's history pairing.

mod key;
mod op;
mod payload;
mod process;
mod record;
mod sequence;
mod writer;

pub use key::Key;
pub use op::{Body, Fault, Kind, Op};
pub use payload::{Payload, PayloadError};
pub use process::{Process, ProcessId};
pub use record::Record;
pub use sequence::{Call, End, History};
pub use writer::HistoryWriter;
