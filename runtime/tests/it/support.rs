//! Shared test support: unique run names, host-network snapshots, and the echo server
//! (the `faultline-test-echo` binary of this crate) as a node's service.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use runtime::exec::{Cmd, Exec, RealExec};
use runtime::netns::Cluster;
use runtime::{NodeId, Runtime, ServiceSpec};

/// The echo server binary a node runs as its service in these tests.
pub const ECHO_BIN: &str = env!("CARGO_BIN_EXE_faultline-test-echo");

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
    let addr = SocketAddr::from((cluster.addr(node).expect("node exists"), port));
    let dir = cluster.node_dir(node).expect("node exists");
    ServiceSpec::new(
        [ECHO_BIN.to_string(), addr.to_string()],
        &dir,
        dir.join("echo.log"),
    )
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
    runtime::netns::network::existing_namespaces()
        .into_iter()
        .filter(|ns| runtime::netns::addr::run_of_ns(ns) == Some(run))
        .collect()
}
