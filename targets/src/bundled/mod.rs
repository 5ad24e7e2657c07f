//! What the two bundled protocols (Raft and Zab) share: everything but the protocol.
//!
//! ```text
//!  HTTP client ─► api (axum) ─┐                    ┌─► storage (record log + atomic files, fsync)
//!                             ├─► driver thread ───┤
//!  peers ──► transport (TCP) ─┘  Program::step     └─► transport ─► peers, replies ─► api
//!                                       │
//!                 raft::Raft / zab::Zab: step(Event) -> Vec<Command>   (pure, sans-I/O)
//!                                       │ applies committed entries to
//!                                 state_machine (kv, cas, locks, sessions)
//! ```
//!
//! * [`request`], [`op`], [`types`], [`event`]: what clients ask and what a core consumes.
//! * [`state_machine`]: the replicated key-value register map, append-only lists (for
//!   transactions), locks and sessions.
//! * [`storage`]: the record log (kept in memory until fsynced, so SIGKILL loses what a
//!   power cut would) and atomically replaced small files.
//! * [`api`] and [`client`]: the HTTP+JSON API every bundled node serves, its typed client
//!   and the one table of which errors are definite.
//! * [`transport`]: peer messages over TCP; [`driver`]: the loop that steps a core,
//!   fsyncs once per batch and only then sends and replies; [`node`]: the shared flags.
//! * [`deploy`]: the target both protocols deploy as (`faultline node raft|zab` on every
//!   node, status, committed logs) and the cluster client the workloads use.
//! * [`committed`]: a node's committed log as `(position, digest)` for replica agreement.
//! * [`sim`]: the deterministic simulation, generic over the protocol.
//! * [`bug`]: the planted-bug switches of both protocols (one `Bug` over both) and switch sets.

pub mod api;
pub mod bug;
pub mod client;
pub mod committed;
pub mod deploy;
pub mod driver;
pub mod event;
pub mod node;
pub mod op;
pub mod request;
pub mod sim;
pub mod state_machine;
pub mod storage;
pub mod transport;
pub mod types;

pub use bug::{Bug, BugSet};
pub use client::{Client, ClientError, ReadResult};
pub use committed::{CommittedEntry, CommittedLog};
pub use event::Event;
pub use op::{Op, Payload, TxnOp};
pub use request::{ReadLevel, Request, RequestError, Response};
pub use types::{NodeId, Position, RequestId};
