//! The typed client of one Zab node: the bundled client ([`crate::bundled::client`])
//! reading Zab's [`Status`].

use super::api::Status;

pub use crate::bundled::client::{ClientError, ReadResult};

/// A client for one Zab node, e.g. `ZabClient::new("http://127.0.0.1:8001", timeout)`.
pub type ZabClient = crate::bundled::client::Client<Status>;
