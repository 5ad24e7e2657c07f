//! Integration tests of the bundled Raft target: the deterministic simulation over many
//! seeds (with and without planted bugs) and a loopback cluster of real node processes.

// Shared by both protocols' tests and the bench; each uses part of it.
#[path = "../support/cluster.rs"]
#[allow(dead_code)]
mod cluster;
mod loopback;
mod simulation;
