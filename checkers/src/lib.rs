//! `checkers`: the pure leaf of faultline. History types and formats, models, the
//! linearizability search with a budget, and verdicts. No I/O beyond what a caller
//! hands in (bytes to parse, a `Write` to append to), no async, no processes.
//!
//! ```text
//! history.jsonl / .edn / jepsen log ─format::read─► Records ─History::from_records─► History<P>
//!        ▲                                                                            │
//!  HistoryWriter (interpreter, live)                         linearizability::check(model, budget)
//!                                                                                     ▼
//!                                                         Verdict { valid, keys, anomalies, stats }
//! ```
//!
//! A ten-line tour:
//! ```
//! use checkers::history::{History, Kind, Op};
//! use checkers::linearizability::{check, Budget};
//! use checkers::model::{CasOp, CasRegister};
//! use checkers::verdict::Validity;
//!
//! let ops = vec![
//!     Op::client(0, 10, 1, Kind::Invoke, CasOp::Write(3)),
//!     Op::client(1, 20, 1, Kind::Ok, CasOp::Write(3)),
//!     Op::client(2, 30, 2, Kind::Invoke, CasOp::Read(None)),
//!     Op::client(3, 40, 2, Kind::Ok, CasOp::Read(None)), // stale: 3 was written before
//! ];
//! let history = History::new(ops).expect("well-formed");
//! let verdict = check(&history, &CasRegister, Budget::default());
//! assert_eq!(verdict.valid, Validity::Invalid);
//! ```

pub mod check;
pub mod election;
pub mod elle;
pub mod faults;
pub mod format;
pub mod history;
mod input_error;
pub mod linearizability;
pub mod liveness;
pub mod lock;
pub mod model;
pub mod monotonic_reads;
pub mod replica_agreement;
pub mod split_brain;
pub mod verdict;

pub use input_error::{InputError, Location};
