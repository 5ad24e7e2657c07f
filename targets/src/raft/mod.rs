//! The bundled Raft target: a replicated key-value store and lock service with
//! planted-bug switches, used as faultline's default system under test and as the
//! calibration that proves the checkers find real bugs.
//!
//! ```text
//!  HTTP client ─► api (axum) ─┐                 ┌─► storage (log + hard state, fsync)
//!                             ├─► node driver ──┤
//!  peers ──► transport (TCP) ─┘   (one thread)  └─► transport ─► peers, replies ─► api
//!                                      │
//!                                core::Raft::step(Event) -> Vec<Command>   (pure)
//! ```
//!
//! * [`core`]: the sans-I/O protocol engine (elections, replication, commit, ReadIndex,
//!   lock leases decided through the log). Everything is deterministic given a seed.
//! * [`storage`]: the durable log (framed, checksummed, torn-tail truncation) and hard
//!   state (write-temp, fsync, rename, fsync-dir).
//! * [`node`]: the node program (`faultline node raft …`) around the core.
//! * [`api`]: the HTTP+JSON client API and its wire types; [`client`]: a typed client.
//! * [`bug`]: the planted-bug switches.

pub mod api;
pub mod bug;
pub mod client;
pub mod core;
pub mod deploy;
pub mod entry;
pub mod io;
pub mod message;
pub mod node;
pub mod state_machine;
pub mod storage;
pub mod transport;
pub mod types;

pub use bug::{Bug, BugSet};
pub use client::{ClientError, RaftClient};
pub use core::{Config, Raft};
pub use entry::{Entry, Op, Payload};
pub use io::{Command, Event, Request, RequestError, Response};
pub use message::{Body, Message};
pub use node::RaftArgs;
pub use types::{HardState, LogIndex, NodeId, RequestId, Role, Term};
