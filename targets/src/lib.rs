//! Targets: one module per system under test. Each module knows how to set up its system,
//! talk to it (a typed client whose errors classify as definite or indeterminate) and where
//! its logs are.
//!
//! * [`raft`]: the bundled Raft key-value and lock service (correct by default, with
//!   `--bug` switches that plant one classic consensus fault each).
//! * [`zab`]: the bundled Zab (ZooKeeper's atomic broadcast) with the same API, and
//!   `--bug` switches that plant one real ZooKeeper fault each.
//! * [`bundled`]: what the bundled protocols share (state machine, HTTP API and client,
//!   storage, peer transport, driver loop, deterministic simulation).
//! * [`etcd`]: real etcd members (Debian's `etcd-server`), clients over its JSON gateway.
//! * [`zookeeper`]: real ZooKeeper ensembles (Debian's `zookeeper`), clients over the
//!   `zookeeper-client` crate.
//! * [`consul`]: real Consul servers, only where a `consul` binary exists (no Debian
//!   package).
//! * [`failover`]: a client's request at its home node, then the others while it was
//!   never sent.
//! * [`apt`]: installing a real target's Debian package when it is missing.
//! * [`registry`]: the one table of targets × workloads, and the test's target spec.

pub mod apt;
pub mod bundled;
pub mod consul;
pub mod election;
pub mod etcd;
pub mod failover;
pub mod raft;
pub mod read_mode;
pub mod registry;
pub mod zab;
pub mod zookeeper;

pub use read_mode::{ReadMode, ReadModeArg};
