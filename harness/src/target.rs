//! `Target`: a system under test, deployed onto a cluster's nodes.
//!
//! ```text
//! Target::setup(cluster) ──► every node's service slot runs the system ──► healthy
//! Target::status(node)   ──► NodeStatus (role, term, leader) ──► observer, primaries
//! ```
//!
//! The protocol is tiny, after Jepsen's `DB`: setting up, and knowing when the
//! cluster serves requests. Killing, restarting and pausing need nothing from the
//! target: its processes live in the cluster's service slots, which do that for every
//! system alike. Reporting leaders is an optional capability: callers ask first
//! ([`Target::status`] returns `None` when the system cannot say).
//!
//! The clients a workload needs (the `Kv` or `Lock` API) are made by the target's
//! module in the `targets` crate; the harness never names a particular system.

use std::future::Future;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use checkers::split_brain::Role;

use crate::cluster::{Cluster, ClusterError, NodeId, ServiceSpec};

/// A boxed future, for the async parts of object-safe traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One node's view of the cluster, as it reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub role: Role,
    /// Raft term, Zab epoch, …
    pub term: u64,
    /// The leader the node believes in, by node name (`n1`, …).
    pub leader: Option<String>,
    /// Whom the node voted for in `term`, when the system reports it.
    pub voted_for: Option<String>,
}

/// Why a target could not be set up or did not become healthy.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Set-up failed: the message names the node and what went wrong.
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The cluster did not serve requests within the deadline.
    #[error("{what} within {waited:?}: {last}")]
    NotHealthy {
        what: String,
        waited: Duration,
        last: String,
    },
}

/// A system under test.
pub trait Target: Send + Sync + 'static {
    /// Short name (`raft`, `etcd`, …).
    fn name(&self) -> &str;

    /// Installs what is missing, writes each node's configuration, starts the system in
    /// every node's service slot, and waits (with a deadline) until it serves requests.
    fn setup(&self, cluster: &Cluster) -> Result<(), TargetError>;

    /// Waits up to `timeout` until the cluster serves requests again (after faults were
    /// healed); returns how long that took.
    fn await_healthy(&self, cluster: &Cluster, timeout: Duration) -> Result<Duration, TargetError>;

    /// Asks one node (at `addr`) for its role, term and leader; `None` when the system
    /// cannot report this. Runs on the control runtime.
    fn status(
        &self,
        node: NodeId,
        addr: Ipv4Addr,
    ) -> Option<BoxFuture<'_, Result<NodeStatus, String>>>;

    /// Files on a node worth keeping with the run besides its service log.
    fn log_files(&self, cluster: &Cluster, node: NodeId) -> Vec<PathBuf> {
        let _ = (cluster, node);
        Vec::new()
    }
}

/// The start every target's `setup` shares: for each node, create its directory, let
/// `spec` write what the node needs there and describe its service, start it in the
/// node's slot; then wait until every node accepts TCP connections on `port`.
pub fn start_on_every_node(
    cluster: &Cluster,
    port: u16,
    port_timeout: std::time::Duration,
    mut spec: impl FnMut(NodeId, &Path) -> Result<ServiceSpec, TargetError>,
) -> Result<(), TargetError> {
    for node in cluster.nodes() {
        let dir = cluster.node_dir(node.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| TargetError::Setup(format!("{}: {}: {e}", node.id, dir.display())))?;
        let service = spec(node.id, &dir)?;
        cluster.start_service(node.id, service)?;
    }
    for node in cluster.nodes() {
        cluster.wait_for_port(node.id, port, port_timeout)?;
    }
    Ok(())
}
