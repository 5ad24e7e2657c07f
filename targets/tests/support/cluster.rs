//! Test support: a loopback cluster of real node processes of either bundled protocol
//! (on a 127.77.x.y address of its own), killed and cleaned up by a guard even when a test fails, and polling
//! helpers with deadlines.

use std::fs::File;
use std::future::Future;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use targets::bundled::Client;

/// What the cluster needs to know about a protocol's node status.
pub trait Member: DeserializeOwned {
    /// The node program to run.
    const BIN: &'static str;
    /// True when the node leads and serves.
    fn leads(&self) -> bool;
    /// The leader the node follows (or is), in which term or epoch.
    fn follows(&self) -> Option<(&str, u64)>;
}

impl Member for targets::raft::api::Status {
    const BIN: &'static str = env!("CARGO_BIN_EXE_faultline-raft-node");
    fn leads(&self) -> bool {
        self.role == targets::raft::Role::Leader
    }
    fn follows(&self) -> Option<(&str, u64)> {
        self.leader.as_ref().map(|l| (l.0.as_str(), self.term))
    }
}

impl Member for targets::zab::api::Status {
    const BIN: &'static str = env!("CARGO_BIN_EXE_faultline-zab-node");
    fn leads(&self) -> bool {
        self.role == targets::zab::Role::Leading && self.phase == targets::zab::Phase::Broadcast
    }
    fn follows(&self) -> Option<(&str, u64)> {
        let serving = self.phase == targets::zab::Phase::Broadcast;
        self.leader
            .as_ref()
            .filter(|_| serving)
            .map(|l| (l.0.as_str(), u64::from(self.current_epoch)))
    }
}

pub type RaftCluster = Cluster<targets::raft::api::Status>;
pub type ZabCluster = Cluster<targets::zab::api::Status>;

/// Polls `f` until it yields `Some`, or panics with `what` after `timeout`.
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ports on the cluster's own address: node i's peer port and API port.
const PEER_PORT: u16 = 47_100;
const API_PORT: u16 = 47_300;

/// A loopback address for one cluster, 127.77.<a>.<b> (Linux routes all of 127/8 to
/// `lo`), held by an exclusive lock on a file for as long as the returned guard lives.
/// Nodes then use fixed ports on it: no port is chosen by binding port 0 and released
/// before the node binds it, which another process could take in between.
fn claim_loopback() -> (Ipv4Addr, File) {
    let dir = std::env::temp_dir().join("faultline-loopback");
    std::fs::create_dir_all(&dir).expect("creating the loopback claims directory");
    for a in 0..=255u8 {
        for b in 1..=254u8 {
            let addr = Ipv4Addr::new(127, 77, a, b);
            let file = File::create(dir.join(addr.to_string())).expect("creating a claim file");
            if file.try_lock().is_ok() {
                return (addr, file);
            }
        }
    }
    panic!("every 127.77.x.y address is claimed by a running test");
}

pub struct Cluster<S> {
    pub dir: PathBuf,
    pub ids: Vec<String>,
    addr: Ipv4Addr,
    /// Keeps `addr` this cluster's until it is dropped.
    _claim: File,
    children: Vec<Option<Child>>,
    extra_args: Vec<String>,
    pub clients: Vec<Client<S>>,
}

impl<S: Member> Cluster<S> {
    /// Starts `n` nodes; `extra_args` go to every node (e.g. `--bug`).
    pub fn start(name: &str, n: usize, extra_args: &[&str]) -> Cluster<S> {
        let dir =
            std::env::temp_dir().join(format!("faultline-cluster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the cluster directory");
        let ids: Vec<String> = (1..=n).map(|i| format!("n{i}")).collect();
        assert!(n <= 100, "a loopback cluster has at most 100 nodes");
        let (addr, claim) = claim_loopback();
        let clients = (0..n)
            .map(|i| {
                Client::new(
                    format!("http://{addr}:{}", API_PORT + i as u16),
                    Duration::from_secs(3),
                )
                .expect("building an HTTP client")
            })
            .collect();
        let mut c = Cluster {
            dir,
            ids,
            addr,
            _claim: claim,
            children: (0..n).map(|_| None).collect(),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            clients,
        };
        for i in 0..n {
            c.start_node(i);
        }
        c
    }

    pub fn args(&self, i: usize) -> Vec<String> {
        let peers: Vec<String> = self
            .ids
            .iter()
            .enumerate()
            .map(|(j, id)| format!("{id}={}:{}", self.addr, PEER_PORT + j as u16))
            .collect();
        let mut a = vec![
            "--id".to_string(),
            self.ids[i].clone(),
            "--peers".into(),
            peers.join(","),
            "--api".into(),
            format!("{}:{}", self.addr, API_PORT + i as u16),
            "--data-dir".into(),
            self.data_dir(i).display().to_string(),
            "--request-timeout-ms".into(),
            "2000".into(),
        ];
        a.extend(self.extra_args.iter().cloned());
        a
    }

    pub fn start_node(&mut self, i: usize) {
        assert!(
            self.children[i].is_none(),
            "{} already running",
            self.ids[i]
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .expect("opening the node log");
        let child = Command::new(S::BIN)
            .args(self.args(i))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawning a node process");
        self.children[i] = Some(child);
    }

    pub async fn statuses(&self) -> Vec<Option<S>> {
        let mut out = Vec::new();
        for (i, c) in self.clients.iter().enumerate() {
            out.push(if self.running(i) {
                c.status().await.ok()
            } else {
                None
            });
        }
        out
    }

    /// Waits until a running node leads and a majority of running nodes agree on it.
    pub async fn leader(&self, timeout: Duration) -> usize {
        poll("a leader", timeout, || async {
            let st = self.statuses().await;
            let leader = st.iter().position(|s| s.as_ref().is_some_and(S::leads))?;
            let (_, era) = st[leader].as_ref()?.follows()?;
            let me = self.ids[leader].as_str();
            let agree = st
                .iter()
                .flatten()
                .filter(|s| s.follows() == Some((me, era)))
                .count();
            (agree > self.ids.len() / 2).then_some(leader)
        })
        .await
    }
}

impl<S> Cluster<S> {
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join(&self.ids[i])
    }

    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("{}.log", self.ids[i]))
    }

    /// SIGKILL, like the harness's kill nemesis.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn running(&self, i: usize) -> bool {
        self.children[i].is_some()
    }

    pub fn logs(&self) -> String {
        (0..self.ids.len())
            .map(|i| {
                let text = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
                format!("--- {} ---\n{text}", self.ids[i])
            })
            .collect()
    }
}

impl<S> Drop for Cluster<S> {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
        if std::thread::panicking() {
            eprintln!("node logs kept in {}\n{}", self.dir.display(), self.logs());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
