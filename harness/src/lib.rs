//! The engine of a faultline run.
//!
//! ```text
//! Test ──► cluster::up ──► target.setup ──► interpreter (generator → clients, nemesis → history)
//!      ──► final phase ──► collect ──► cluster::down ──► check ──► store
//! ```
//!
//! `harness` sits between the pure leaf (`checkers`) and the crates that know about
//! particular workloads, faults and systems (`workloads`, `nemesis`, `targets`).

pub mod generator;
pub mod store;
pub mod interpreter;
