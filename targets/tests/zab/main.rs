//! Integration tests of the bundled Zab target: the deterministic simulation over many
//! seeds (with and without planted bugs) and a loopback cluster of real node processes.

mod simulation;
