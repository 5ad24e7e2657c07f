//! Targets: one module per system under test. Each module knows how to set up its system,
//! talk to it (a typed client whose errors classify as definite or indeterminate) and where
//! its logs are.
//!
//! * [`raft`]: the bundled Raft key-value and lock service (correct by default, with
//!   `--bug` switches that plant one classic consensus fault each).

pub mod raft;
