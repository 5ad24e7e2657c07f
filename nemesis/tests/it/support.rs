//! Test support: unique run names, the echo server (this crate's
//! `faultline-nemesis-echo` binary) as a node's service, and a cluster with echo on
//! every node.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runtime::netns::Cluster;
use runtime::{NodeId, Runtime, ServiceSpec};

/// The echo server binary a node runs as its service in these tests.
const ECHO_BIN: &str = env!("CARGO_BIN_EXE_faultline-nemesis-echo");

pub fn run_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "nt{:x}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn echo_spec(cluster: &Cluster, node: NodeId, port: u16) -> ServiceSpec {
    let addr = SocketAddr::from((cluster.addr(node).expect("node"), port));
    let dir = cluster.node_dir(node).expect("node");
    ServiceSpec::new(
        [ECHO_BIN.to_string(), addr.to_string()],
        &dir,
        dir.join("echo.log"),
    )
}

/// A cluster of `n` nodes with echo listening on `port` everywhere.
pub fn echo_cluster(tag: &str, n: u16, port: u16) -> Arc<Cluster> {
    let cluster = Arc::new(Cluster::up(&run_name(tag), n).expect("cluster up"));
    for node in cluster.node_ids() {
        cluster
            .start_service(node, echo_spec(&cluster, node, port))
            .expect("echo starts");
    }
    for node in cluster.node_ids() {
        cluster
            .wait_for_port(node, port, Duration::from_secs(20))
            .expect("echo listens");
    }
    cluster
}

/// Tears down a shared cluster (the last Arc) and checks it went.
pub fn down(cluster: Arc<Cluster>) {
    let cluster = Arc::try_unwrap(cluster).expect("no other holder of the cluster");
    cluster.down().expect("down");
}
