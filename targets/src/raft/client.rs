//! The typed client of one Raft node: the bundled client ([`crate::bundled::client`])
//! reading Raft's [`Status`].

use super::api::Status;

pub use crate::bundled::client::{ClientError, ReadResult};

/// A client for one Raft node, e.g. `RaftClient::new("http://127.0.0.1:8001", timeout)`.
pub type RaftClient = crate::bundled::client::Client<Status>;
