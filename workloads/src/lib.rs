//! Workloads: what the clients do, and which checker judges it.
//!
//! ```text
//! workload ──► generator of typed ops ──► Client (wraps a target's API trait) ──► history
//!          └─► checker wiring (model, per-key partitioning)
//! ```
//!
//! A workload never names a particular system: it defines a small API trait (`Kv`, …)
//! that each target's client implements.

pub mod election;
pub mod kv;
pub mod list_append;
pub mod lock;
pub mod register;
pub mod spec;
