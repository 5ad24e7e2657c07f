//! Test support: unique run names, the echo server (this binary re-executed), and a
//! cluster with echo on every node.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harness::cluster::{probe, Cluster, NodeId, ServiceSpec};

const ECHO_ENV: &str = "FAULTLINE_NEMESIS_TEST_ECHO";

/// Not a test: the echo server mode of this binary (returns at once unless the
/// environment variable is set; then serves, bounded, and exits).
#[test]
fn echo_server_helper() {
    if let Ok(addr) = std::env::var(ECHO_ENV) {
        let addr: SocketAddr = addr.parse().expect("addr:port");
        probe::serve_echo(addr, 10_000, Duration::from_secs(600)).expect("echo server binds");
    }
}

pub fn run_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "nt{:x}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn echo_spec(cluster: &Cluster, node: NodeId, port: u16) -> ServiceSpec {
    let exe = std::env::current_exe().expect("test binary path");
    let addr = SocketAddr::from((cluster.addr(node).expect("node"), port));
    let dir = cluster.node_dir(node);
    ServiceSpec::new(
        [
            exe.into_os_string(),
            "--exact".into(),
            "support::echo_server_helper".into(),
            "--nocapture".into(),
            "--test-threads=1".into(),
        ],
        &dir,
        dir.join("echo.log"),
    )
    .env(ECHO_ENV, addr.to_string())
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
