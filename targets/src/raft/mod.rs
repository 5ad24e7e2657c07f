//! The bundled Raft target: a replicated key-value store and lock service with
//! planted-bug switches, used as faultline's default system under test and as the
//! calibration that proves the checkers find real bugs.
//!
//! ```text
//!  HTTP client ─► bundled::api ─┐                 ┌─► storage (log + hard state, fsync)
//!                               ├─► bundled driver ┤
//!  peers ─► bundled::transport ─┘   (one thread)  └─► transport ─► peers, replies ─► api
//!                                        │
//!                                core::Raft::step(Event) -> Vec<Command>   (pure)
//! ```
//!
//! * [`core`]: the sans-I/O protocol engine (elections, replication, commit, ReadIndex,
//!   lock leases decided through the log). Everything is deterministic given a seed.
//! * [`storage`]: the durable log and hard state, on the bundled storage.
//! * [`node`]: the node program (`faultline node raft …`): the core run by the bundled
//!   driver; [`api`]: its status; [`client`]: the bundled client typed for it.
//! * [`sim`]: the Raft in the bundled deterministic simulation, with its invariants.
//! * [`bug`]: the planted-bug switches.
//!
//! What both bundled protocols share (state machine, API, client, transport, driver,
//! storage, simulation) lives in [`crate::bundled`].

pub mod api;
pub mod bug;
pub mod client;
pub mod core;
pub mod deploy;
pub mod entry;
pub mod io;
pub mod message;
pub mod node;
pub mod sim;
pub mod storage;
pub mod types;

pub use bug::{Bug, BugSet};
pub use client::{ClientError, RaftClient};
pub use core::{Config, Raft};
pub use entry::{Entry, Op, Payload};
pub use io::{Command, Event, ReadLevel, Request, RequestError, Response};
pub use message::{Body, Message};
pub use node::RaftArgs;
pub use types::{HardState, LogIndex, NodeId, RequestId, Role, Term};
