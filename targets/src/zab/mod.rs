//! The bundled Zab target: a replicated key-value store and lock service speaking Zab
//! 1.0 as ZooKeeper implements it, with planted-bug switches from real ZooKeeper
//! tickets. The second protocol beside [`crate::raft`], sharing everything but the
//! protocol with it ([`crate::bundled`]).
//!
//! ```text
//!  HTTP client ─► bundled::api ─┐                  ┌─► storage (zab.log, acceptedEpoch, currentEpoch)
//!                               ├─► bundled driver ─┤
//!  peers ─► bundled::transport ─┘                  └─► transport ─► peers, replies ─► api
//!                                        │
//!                                core::Zab::step(Event) -> Vec<Command>   (pure)
//! ```
//!
//! * [`core`]: the sans-I/O protocol engine (election, discovery, sync, broadcast,
//!   reads at three levels, sessions).
//! * [`storage`]: the history and the two epochs, durable in the order Zab needs.
//! * [`node`]: the node program (`faultline node zab …`); [`api`]: its status;
//!   [`client`]: the bundled client typed for it.
//! * [`deploy`]: the Zab as a system under test ([`deploy::ZabTarget`]) and its cluster
//!   client ([`deploy::ZabKv`]).
//! * [`sim`]: the Zab in the bundled deterministic simulation, with Zab's invariants.
//! * [`bug`]: the planted-bug switches.

pub mod api;
pub mod bug;
pub mod client;
pub mod core;
pub mod deploy;
pub mod io;
pub mod message;
pub mod node;
pub mod sim;
pub mod storage;
pub mod types;

pub use bug::{Bug, BugSet};
pub use client::{ClientError, ZabClient};
pub use core::{Config, Durable, Zab};
pub use io::{Command, Event, ReadLevel, Request, RequestError, Response};
pub use message::{Body, Message, PeerState, Sync};
pub use node::ZabArgs;
pub use types::{Epoch, NodeId, Op, Payload, Phase, RequestId, Role, Txn, Vote, Zxid};
