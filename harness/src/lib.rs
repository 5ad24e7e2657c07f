//! The engine of a faultline run.
//!
//! ```text
//! Test ──► cluster::up ──► target.setup ──► interpreter (generator → clients, nemesis → history)
//!      ──► final phase ──► collect ──► cluster::down ──► check ──► store
//! ```
//!
//! `harness` sits between the pure leaf (`checkers`) and the crates that know about
//! particular workloads, faults and systems (`workloads`, `nemesis`, `targets`).
//!
//! - [`exec`]: typed commands (`Cmd`) and the one trait that runs them (`Exec`).
//! - [`cluster`]: nodes on one machine — network namespaces, services on nodes, the
//!   control-namespace runtime for clients, the run registry and cleanup.

pub mod cluster;
pub mod exec;
pub mod generator;
pub mod history;
pub mod interpreter;
pub mod observer;
pub mod progress;
pub mod report;
pub mod results;
pub mod run;
pub mod store;
pub mod target;
