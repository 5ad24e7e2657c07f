//! The engine of a faultline run.
//!
//! ```text
//! Test ──► nodes up (runtime) ──► target.setup ──► interpreter (generator → clients,
//!      nemesis → history) ──► final phase ──► collect ──► nodes down ──► check ──► store
//! ```
//!
//! `harness` sits between the pure leaf (`checkers`) and the crates that know about
//! particular workloads, faults and systems (`workloads`, `nemesis`, `targets`).
//!
//! Nodes come from the `runtime` crate (the node runtime interface, its network
//! namespace implementation and its SSH one, chosen per run in `nodes`); faults from `nemesis`; verdicts from `checkers`. What
//! people read (report.html, plots, junit.xml, `faultline serve`) is the `report`
//! crate, which depends on this one and never the other way round: the engine writes
//! `results.json` and hands the rest to the [`run::Artifacts`] it is given.

pub mod committed;
pub mod generator;
pub mod history;
pub mod interpreter;
mod node_watch;
mod nodes;
pub mod observer;
pub mod progress;
pub mod run;
pub mod store;
pub mod target;
pub mod test;
