//! Shared test support: unique run names, host-network snapshots, and the echo server
//! (this very test binary re-executed with `FAULTLINE_TEST_ECHO` set).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use harness::cluster::probe;
use harness::cluster::{Cluster, NodeId, ServiceSpec};
use harness::exec::{Cmd, Exec, RealExec};

const ECHO_ENV: &str = "FAULTLINE_TEST_ECHO";

/// Not a test: the echo server mode of this binary. Returns at once unless
/// `FAULTLINE_TEST_ECHO=<addr:port>` is set, in which case it serves (bounded: 10 000
/// connections, 10 minutes) and exits the process.
#[test]
fn echo_server_helper() {
    if let Ok(addr) = std::env::var(ECHO_ENV) {
        let addr: SocketAddr = addr.parse().expect("FAULTLINE_TEST_ECHO is addr:port");
        probe::serve_echo(addr, 10_000, Duration::from_secs(600)).expect("echo server binds");
    }
}

/// A run name unique to this process and call (parallel tests never collide).
pub fn run_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{:x}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A service spec that serves TCP echo on the node's address.
pub fn echo_spec(cluster: &Cluster, node: NodeId, port: u16) -> ServiceSpec {
    let exe = std::env::current_exe().expect("test binary path");
    let addr = SocketAddr::from((cluster.addr(node).expect("node exists"), port));
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

/// Starts echo on every node and waits until each accepts connections.
pub fn start_echo_everywhere(cluster: &Cluster, port: u16) {
    for n in cluster.node_ids() {
        cluster
            .start_service(n, echo_spec(cluster, n, port))
            .expect("echo starts");
    }
    for n in cluster.node_ids() {
        cluster
            .wait_for_port(n, port, Duration::from_secs(20))
            .expect("echo listens");
    }
}

/// The host namespace's network state, compared before and after a test.
#[derive(Debug, PartialEq, Eq)]
pub struct HostNet {
    iptables: String,
    routes: String,
    links: String,
}

impl HostNet {
    pub fn take() -> HostNet {
        let run = |cmd: Cmd| {
            RealExec
                .run(&cmd)
                .expect("host network query runs")
                .stdout_lossy()
        };
        HostNet {
            iptables: run(Cmd::new("iptables-save"))
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| {
                    // Packet counters change with host traffic; rules must not.
                    l.split(" [").next().unwrap_or(l).to_string() + "\n"
                })
                .collect(),
            routes: run(Cmd::new("ip").args(["route", "show", "table", "all"])),
            links: run(Cmd::new("ip").args(["-o", "link", "show"]))
                .lines()
                .map(|l| l.split(" state ").next().unwrap_or(l).to_string() + "\n")
                .collect(),
        }
    }
}

/// Asserts on drop that the host network is unchanged (also when the test panicked).
pub struct HostGuard(HostNet);

impl HostGuard {
    pub fn new() -> HostGuard {
        HostGuard(HostNet::take())
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        let after = HostNet::take();
        if !std::thread::panicking() {
            assert_eq!(self.0, after, "the host network namespace changed");
        }
    }
}

/// Whether any namespace of `run` still exists.
pub fn namespaces_of(run: &str) -> Vec<String> {
    harness::cluster::netns::existing_namespaces()
        .into_iter()
        .filter(|ns| harness::cluster::addr::run_of_ns(ns) == Some(run))
        .collect()
}
