//! Deploying the bundled Raft onto a cluster, and its clients for the workloads.
//!
//! ```text
//! RaftTarget::setup ─► every node: `faultline node raft --id nK --peers … --api A:8080`
//!                      in its service slot (data and log under the run's nodes/nK/)
//! RaftKv (workloads' Kv + Lock) ─► RaftClient per node ─► HTTP API, following leader hints
//! ```
//!
//! The node program is this very binary (`std::env::current_exe()`), so deploying to a
//! node means nothing beyond the namespace it runs in.
//!
//! Error table (the one place this target's errors are classified; see
//! [`super::io::RequestError::is_definite`] and [`super::client::ClientError::is_definite`]):
//! not-leader, precondition-failed, lock-held, not-holder and refused connections are
//! definite; timeouts, resets and leadership lost before commit are indeterminate.
//! A definite not-leader answer is retried at the hinted leader (the refused attempt
//! had no effect), at most [`MAX_HOPS`] times.

use std::net::{Ipv4Addr, SocketAddr};

use std::sync::Mutex;
use std::time::Duration;

use checkers::split_brain::Role as ObservedRole;
use harness::target::{
    majority_leader, poll_until_healthy, start_on_every_node, BoxFuture, NodeStatus, Probe,
    StatusError, Target, TargetError,
};
use runtime::{NodeId, Runtime, ServiceSpec};
use workloads::kv::{Kv, KvError};
use workloads::list_append::{ListOp, Lists};
use workloads::lock::{Lock, LockError};

use super::bug::Bug;
use super::client::{ClientError, RaftClient};
use super::io::RequestError;
use super::types::Role;
use crate::bundled::TxnOp;

/// Port of the HTTP client API on every node.
pub const API_PORT: u16 = 8080;
/// Port of the peer RPC listener on every node.
pub const PEER_PORT: u16 = 7000;
/// How many times a request follows not-leader answers before giving up.
pub const MAX_HOPS: usize = 3;
/// The longest a client waits on one node: twice the nodes' request timeout.
pub const HOP_TIMEOUT: Duration = Duration::from_millis(1000);

/// How to run the bundled Raft (plain data; part of the test).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RaftOptions {
    pub bugs: Vec<Bug>,
    pub tick_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    pub heartbeat_ms: u64,
    /// How long a node waits on the cluster before answering "timeout".
    pub request_timeout_ms: u64,
}

impl Default for RaftOptions {
    fn default() -> Self {
        RaftOptions {
            bugs: Vec::new(),
            tick_ms: 10,
            election_min_ms: 150,
            election_max_ms: 300,
            heartbeat_ms: 50,
            request_timeout_ms: 500,
        }
    }
}

/// The bundled Raft as a system under test.
pub struct RaftTarget {
    opts: RaftOptions,
    seed: u64,
    /// One status client per node, made on first use.
    status: Mutex<Vec<(NodeId, RaftClient)>>,
}

impl RaftTarget {
    /// `seed` derives each node's election-timeout seed so a run's elections are
    /// reproducible-ish. Nodes run `faultline node raft` from the runtime's copy of the
    /// faultline binary.
    pub fn new(opts: RaftOptions, seed: u64) -> RaftTarget {
        RaftTarget {
            opts,
            seed,
            status: Mutex::new(Vec::new()),
        }
    }

    fn argv(&self, rt: &dyn Runtime, id: NodeId) -> Result<Vec<String>, TargetError> {
        let peers: Vec<String> = rt
            .nodes()
            .iter()
            .map(|n| format!("{}={}:{PEER_PORT}", n.id, n.addr))
            .collect();
        let addr = rt.addr(id)?;
        let data = rt.node_dir(id)?.join("data");
        let mut argv = vec![
            rt.faultline_binary(id)?.display().to_string(),
            "node".into(),
            "raft".into(),
            "--id".into(),
            id.to_string(),
            "--peers".into(),
            peers.join(","),
            "--api".into(),
            format!("{addr}:{API_PORT}"),
            "--data-dir".into(),
            data.display().to_string(),
            "--tick-ms".into(),
            self.opts.tick_ms.to_string(),
            "--election-min-ms".into(),
            self.opts.election_min_ms.to_string(),
            "--election-max-ms".into(),
            self.opts.election_max_ms.to_string(),
            "--heartbeat-ms".into(),
            self.opts.heartbeat_ms.to_string(),
            "--request-timeout-ms".into(),
            self.opts.request_timeout_ms.to_string(),
            "--seed".into(),
            (self.seed ^ u64::from(id.index()).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_string(),
        ];
        for b in &self.opts.bugs {
            argv.extend(["--bug".into(), b.name().into()]);
        }
        Ok(argv)
    }

    fn status_client(&self, node: NodeId, addr: Ipv4Addr) -> Result<RaftClient, StatusError> {
        let mut clients = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = clients.iter().find(|(n, _)| *n == node) {
            return Ok(c.clone());
        }
        let c = RaftClient::new(
            format!("http://{addr}:{API_PORT}"),
            Duration::from_millis(500),
        )
        .map_err(|e| StatusError::Unreachable(e.to_string()))?;
        clients.push((node, c.clone()));
        Ok(c)
    }

    /// Polls every node until a majority follows one leader in one term.
    fn wait_for_leader(
        &self,
        rt: &dyn Runtime,
        timeout: Duration,
    ) -> Result<Duration, TargetError> {
        let handle = rt.clients()?;
        let nodes: Vec<(NodeId, Ipv4Addr)> = rt.nodes().iter().map(|n| (n.id, n.addr)).collect();
        let clients: Vec<RaftClient> = nodes
            .iter()
            .map(|(id, addr)| self.status_client(*id, *addr))
            .collect::<Result<_, _>>()
            .map_err(|e| TargetError::Setup(e.to_string()))?;
        poll_until_healthy(
            "a leader followed by a majority",
            timeout,
            (Duration::from_millis(20), Duration::from_millis(200)),
            || {
                let clients = clients.clone();
                let round = handle
                    .block_on(async move {
                        let mut answers = Vec::new();
                        for c in &clients {
                            answers.push(c.status().await.map(node_status).map_err(status_error));
                        }
                        answers
                    })
                    .map_err(|e| TargetError::Setup(format!("status poll panicked: {e}")))?;
                Ok(
                    match majority_leader(nodes.iter().map(|(id, _)| *id).zip(&round)) {
                        Ok((term, leader)) => {
                            tracing::debug!("raft: {leader} leads term {term} with a majority");
                            Probe::Healthy
                        }
                        Err(seen) => Probe::NotYet(seen),
                    },
                )
            },
        )
    }
}

/// A status call's failure in the harness's terms.
fn status_error(e: ClientError) -> StatusError {
    match e {
        ClientError::Connect(m) | ClientError::Transport(m) => StatusError::Unreachable(m),
        ClientError::Timeout(_) => StatusError::Timeout(Duration::from_millis(500)),
        other => StatusError::BadAnswer(other.to_string()),
    }
}

/// A Raft node's status as the harness observes every target's.
fn node_status(s: super::api::Status) -> NodeStatus {
    NodeStatus {
        role: match s.role {
            Role::Leader => ObservedRole::Leader,
            Role::Follower => ObservedRole::Follower,
            Role::Candidate => ObservedRole::Candidate,
        },
        term: s.term,
        leader: s.leader.map(|l| l.to_string()),
        voted_for: s.voted_for.map(|v| v.to_string()),
    }
}

impl Target for RaftTarget {
    fn name(&self) -> &str {
        "raft"
    }

    /// The longest election timeout: a follower that stops hearing the leader calls an
    /// election within it.
    fn failover(&self) -> Duration {
        Duration::from_millis(self.opts.election_max_ms)
    }

    fn deploy(&self, rt: &dyn Runtime) -> Result<(), TargetError> {
        start_on_every_node(rt, API_PORT, Duration::from_secs(10), |id, dir| {
            Ok(ServiceSpec::new(
                self.argv(rt, id)?,
                dir,
                dir.join("raft.log"),
            ))
        })
    }

    fn setup_timeout(&self) -> Duration {
        Duration::from_secs(15)
    }

    fn await_healthy(&self, rt: &dyn Runtime, timeout: Duration) -> Result<Duration, TargetError> {
        self.wait_for_leader(rt, timeout)
    }

    fn status(
        &self,
        node: NodeId,
        addr: Ipv4Addr,
    ) -> Option<BoxFuture<'_, Result<NodeStatus, StatusError>>> {
        Some(Box::pin(async move {
            let client = self.status_client(node, addr)?;
            client.status().await.map(node_status).map_err(status_error)
        }))
    }
}

/// A client of the whole Raft cluster for one worker: every request starts at the
/// worker's home node and follows not-leader hints from there (like Jepsen's clients
/// bound to one node, with the server forwarding). Sticking to the last known leader
/// instead would hide a deposed leader that still answers: every client would stay with
/// it. Implements the workloads' [`Kv`], [`Lists`] and [`Lock`].
pub struct RaftKv {
    nodes: Vec<(String, RaftClient)>,
    home: usize,
}

impl RaftKv {
    /// `nodes` are `(name, api address)` of every member; `home` indexes the node this
    /// worker talks to first; `timeout` bounds each HTTP call.
    pub fn new(
        nodes: &[(String, SocketAddr)],
        home: usize,
        timeout: Duration,
    ) -> Result<RaftKv, String> {
        if nodes.is_empty() {
            return Err("a Raft client needs at least one node".into());
        }
        let clients = nodes
            .iter()
            .map(|(name, addr)| {
                RaftClient::new(format!("http://{addr}"), timeout)
                    .map(|c| (name.clone(), c))
                    .map_err(|e| format!("client for {name} at {addr}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RaftKv {
            home: home % clients.len(),
            nodes: clients,
        })
    }

    /// A client for worker `k` of a cluster: home node `k mod n`. Each HTTP call is
    /// bounded by `timeout` but never more than [`HOP_TIMEOUT`]: a live node answers
    /// within its own request timeout, so a node that says nothing for longer is paused
    /// or cut off, and the worker is better off giving up (an unknown outcome) and
    /// trying again than waiting on it for the whole op timeout.
    pub fn for_cluster(rt: &dyn Runtime, k: usize, timeout: Duration) -> Result<RaftKv, String> {
        let nodes: Vec<(String, SocketAddr)> = rt
            .nodes()
            .iter()
            .map(|n| (n.id.to_string(), SocketAddr::from((n.addr, API_PORT))))
            .collect();
        RaftKv::new(&nodes, k, timeout.min(HOP_TIMEOUT))
    }

    /// Runs `call` against the current node, following not-leader answers (definite:
    /// the refused attempt had no effect) at most [`MAX_HOPS`] times.
    async fn with_leader<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: Fn(RaftClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let mut at = self.home;
        let mut last = None;
        for _ in 0..MAX_HOPS {
            match call(self.nodes[at].1.clone()).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let next = match (&e, e.leader_hint()) {
                        (_, Some(hint)) => {
                            self.nodes.iter().position(|(n, _)| *n == hint.to_string())
                        }
                        // No hint, or the node is down: try the next one.
                        (ClientError::Rejected(RequestError::NotLeader { .. }), None)
                        | (ClientError::Connect(_), _) => Some((at + 1) % self.nodes.len()),
                        _ => None,
                    };
                    match next {
                        Some(n) if n != at || matches!(e, ClientError::Connect(_)) => {
                            at = n;
                            last = Some(e);
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
        Err(last.expect("at least one attempt was made"))
    }
}

fn kv_error(e: ClientError) -> KvError {
    if e.is_definite() {
        KvError::Definite(e.to_string())
    } else {
        KvError::Indeterminate(e.to_string())
    }
}

impl Kv for RaftKv {
    async fn read(&self, key: &str) -> Result<Option<String>, KvError> {
        self.with_leader(|c| async move { c.read(key).await })
            .await
            .map_err(kv_error)
    }

    async fn write(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.with_leader(|c| async move { c.write(key, value).await })
            .await
            .map_err(kv_error)
    }

    async fn cas(&self, key: &str, from: &str, to: &str) -> Result<bool, KvError> {
        match self
            .with_leader(|c| async move { c.cas(key, from, to).await })
            .await
        {
            Ok(()) => Ok(true),
            Err(ClientError::Rejected(RequestError::PreconditionFailed { .. })) => Ok(false),
            Err(e) => Err(kv_error(e)),
        }
    }
}

impl Lists for RaftKv {
    /// One `POST /txn`, applied atomically when its entry commits (the same error
    /// table as a write: a refusal is definite, a timeout or lost leadership is not).
    async fn txn(&self, ops: &[ListOp]) -> Result<Vec<Vec<i64>>, KvError> {
        let ops: Vec<TxnOp> = ops
            .iter()
            .map(|op| match op {
                ListOp::Append { key, value } => TxnOp::Append {
                    key: key.clone(),
                    value: *value,
                },
                ListOp::Read { key } => TxnOp::Read { key: key.clone() },
            })
            .collect();
        let ops = &ops;
        self.with_leader(|c| async move { c.txn(ops).await })
            .await
            .map_err(kv_error)
    }
}

impl Lock for RaftKv {
    async fn acquire(&self, lock: &str, client: &str, ttl: Duration) -> Result<u64, LockError> {
        self.with_leader(|c| async move { c.acquire(lock, client, ttl).await })
            .await
            .map_err(|e| match e {
                ClientError::Rejected(RequestError::LockHeld { holder }) => LockError::Busy(holder),
                e if e.is_definite() => LockError::Definite(e.to_string()),
                e => LockError::Indeterminate(e.to_string()),
            })
    }

    async fn release(&self, lock: &str, client: &str, token: u64) -> Result<(), LockError> {
        self.with_leader(|c| async move { c.release(lock, client, token).await })
            .await
            .map_err(|e| {
                if e.is_definite() {
                    LockError::Definite(e.to_string())
                } else {
                    LockError::Indeterminate(e.to_string())
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::fake::{Action, RecordingRuntime};

    #[test]
    fn the_failover_figure_is_the_longest_election_timeout() {
        let t = RaftTarget::new(RaftOptions::default(), 1);
        assert_eq!(t.failover(), Duration::from_millis(300));
        let slow = RaftOptions {
            election_max_ms: 900,
            ..RaftOptions::default()
        };
        assert_eq!(
            RaftTarget::new(slow, 1).failover(),
            Duration::from_millis(900)
        );
    }

    #[test]
    fn deploy_starts_every_member_with_its_exact_command_line() {
        let rt = RecordingRuntime::new(3);
        let opts = RaftOptions {
            bugs: vec![Bug::StaleRead],
            ..RaftOptions::default()
        };
        RaftTarget::new(opts, 7).deploy(&rt).unwrap();
        let started: Vec<(NodeId, Vec<String>)> = rt
            .actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::StartService { node, argv } => Some((node, argv)),
                _ => None,
            })
            .collect();
        assert_eq!(started.len(), 3, "one service per node");
        let (node, argv) = &started[1];
        assert_eq!(*node, NodeId::nth(2));
        let seed = 7 ^ 2u64.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        assert_eq!(
            argv.join(" "),
            format!(
                "/fake/bin/faultline node raft --id n2 \
                 --peers n1=198.18.0.1:7000,n2=198.18.0.2:7000,n3=198.18.0.3:7000 \
                 --api 198.18.0.2:8080 --data-dir /fake/run/n2/data --tick-ms 10 \
                 --election-min-ms 150 --election-max-ms 300 --heartbeat-ms 50 \
                 --request-timeout-ms 500 --seed {seed} --bug stale-read"
            )
        );
        // Nothing but services: no commands, no files, no filters.
        assert!(rt.commands().is_empty(), "{:?}", rt.commands());
        assert!(rt.filter_tables().is_empty());
    }
}
