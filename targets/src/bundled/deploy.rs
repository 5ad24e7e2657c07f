//! Deploying a bundled protocol (Raft or Zab) onto a cluster, and its clients for the
//! workloads: everything the two bundled targets do alike, generic over [`Protocol`].
//!
//! ```text
//! BundledTarget<P>::deploy ─► every node: `faultline node <P::NAME> --id nK --peers … --api A:8080 …`
//!                             in its service slot (data and log under the run's nodes/nK/)
//! BundledTarget<P>::status ─► GET /status ─► P::node_status ─► split-brain, primaries
//! BundledTarget<P>::committed_log ─► GET /committed ─► replica agreement
//! BundledKv (workloads' Kv + Lock) ─► Client per node ─► HTTP API, following leader hints
//! ```
//!
//! The node program is the faultline binary itself ([`Runtime::faultline_binary`]), and
//! its argv is made by the node program's own `to_args`, so what the target starts is
//! exactly what `faultline node raft|zab` parses.
//!
//! Error table (the one place the bundled targets' errors are classified; see
//! [`super::request::RequestError::is_definite`] and [`super::client::ClientError::is_definite`]):
//! not-leader, precondition-failed, lock-held, not-holder, not-serving, behind and
//! refused connections are definite; timeouts, resets and leadership lost before commit
//! are indeterminate. A definite not-leader answer is retried at the hinted leader (the
//! refused attempt had no effect), at most [`MAX_HOPS`] times. A read below `quorum`
//! that a node cannot serve (not synced, behind the client, down) moves on to the next
//! node, as a ZooKeeper client moves its session to another server.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use checkers::replica_agreement::LogEntry;
use harness::target::{
    majority_leader, poll_until_healthy, start_on_every_node, BoxFuture, NodeStatus, Probe,
    StatusError, Target, TargetError,
};
use runtime::{NodeId, Runtime, ServiceSpec};
use serde::de::DeserializeOwned;
use workloads::kv::{Kv, KvError, PositionedRead};
use workloads::list_append::{ListOp, Lists};
use workloads::lock::{Lock, LockError};

use super::client::{Client, ClientError};
use super::node::{NodeFlags, PeerSpec};
use super::op::TxnOp;
use super::request::{ReadLevel, RequestError};
use super::types::Position;

/// Port of the HTTP client API on every node.
pub const API_PORT: u16 = 8080;
/// Port of the peer listener on every node.
pub const PEER_PORT: u16 = 7000;
/// How many times a request follows not-leader answers before giving up.
pub const MAX_HOPS: usize = 3;
/// The longest a client waits on one node: twice the nodes' request timeout.
pub const HOP_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long the harness waits for one node's status.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);
/// How long the harness waits for one node's committed log (thousands of entries).
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);

/// What a bundled protocol adds to the shared deployment: its node program's flags and
/// how its status reads as the harness's.
pub trait Protocol: Send + Sync + 'static {
    /// The node program (`faultline node NAME`) and the target's name.
    const NAME: &'static str;
    /// The protocol's `GET /status` body.
    type Status: DeserializeOwned + Send + 'static;
    /// The shared node flags' timing: one tick, and the API's request timeout.
    fn tick_ms(&self) -> u64;
    fn request_timeout_ms(&self) -> u64;
    /// The node program's whole argv after `faultline node NAME`, for `node`.
    fn node_args(&self, node: NodeFlags) -> Vec<String>;
    /// A status as the harness sees every target's (role, term, leader).
    fn node_status(status: Self::Status) -> NodeStatus;
    /// How long the side that lost its leader takes to elect another
    /// ([`Target::failover`]).
    fn failover(&self) -> Duration;
    /// How long a fresh cluster may take to elect a leader.
    fn setup_timeout(&self) -> Duration {
        Duration::from_secs(15)
    }
}

/// A bundled protocol as a system under test.
pub struct BundledTarget<P: Protocol> {
    protocol: P,
    seed: u64,
    /// One status client per node, made on first use.
    status: Mutex<Vec<(NodeId, Client<P::Status>)>>,
}

impl<P: Protocol> BundledTarget<P> {
    /// `seed` derives each node's seed, so a run's elections are reproducible-ish.
    pub fn new(protocol: P, seed: u64) -> BundledTarget<P> {
        BundledTarget {
            protocol,
            seed,
            status: Mutex::new(Vec::new()),
        }
    }

    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// The node's seed: the run's, mixed with the node's index.
    pub fn node_seed(&self, id: NodeId) -> u64 {
        self.seed ^ u64::from(id.index()).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    /// The shared flags of node `id` on `rt`.
    pub fn node_flags(&self, rt: &dyn Runtime, id: NodeId) -> Result<NodeFlags, TargetError> {
        let peers = rt
            .nodes()
            .iter()
            .map(|n| PeerSpec {
                id: super::types::NodeId::new(n.id.to_string()),
                addr: SocketAddr::from((n.addr, PEER_PORT)),
            })
            .collect();
        Ok(NodeFlags {
            id: id.to_string(),
            peers,
            api: SocketAddr::from((rt.addr(id)?, API_PORT)),
            listen: None,
            data_dir: rt.node_dir(id)?.join("data"),
            tick_ms: self.protocol.tick_ms(),
            request_timeout_ms: self.protocol.request_timeout_ms(),
            seed: Some(self.node_seed(id)),
        })
    }

    /// `faultline node NAME …` for node `id`.
    pub fn argv(&self, rt: &dyn Runtime, id: NodeId) -> Result<Vec<String>, TargetError> {
        let mut argv = vec![
            rt.faultline_binary(id)?.display().to_string(),
            "node".into(),
            P::NAME.into(),
        ];
        argv.extend(self.protocol.node_args(self.node_flags(rt, id)?));
        Ok(argv)
    }

    fn client(&self, node: NodeId, addr: Ipv4Addr) -> Result<Client<P::Status>, StatusError> {
        let mut clients = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, c)) = clients.iter().find(|(n, _)| *n == node) {
            return Ok(c.clone());
        }
        let c = Client::new(format!("http://{addr}:{API_PORT}"), STATUS_TIMEOUT)
            .map_err(|e| StatusError::Unreachable(e.to_string()))?;
        clients.push((node, c.clone()));
        Ok(c)
    }

    /// Polls every node until a majority follows one leader in one term (epoch).
    fn wait_for_leader(
        &self,
        rt: &dyn Runtime,
        timeout: Duration,
    ) -> Result<Duration, TargetError> {
        let handle = rt.clients()?;
        let nodes: Vec<(NodeId, Ipv4Addr)> = rt.nodes().iter().map(|n| (n.id, n.addr)).collect();
        let clients: Vec<Client<P::Status>> = nodes
            .iter()
            .map(|(id, addr)| self.client(*id, *addr))
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
                            answers
                                .push(c.status().await.map(P::node_status).map_err(status_error));
                        }
                        answers
                    })
                    .map_err(|e| TargetError::Setup(format!("status poll panicked: {e}")))?;
                Ok(
                    match majority_leader(nodes.iter().map(|(id, _)| *id).zip(&round)) {
                        Ok((term, leader)) => {
                            tracing::debug!("{}: {leader} leads term {term}", P::NAME);
                            Probe::Healthy
                        }
                        Err(seen) => Probe::NotYet(seen),
                    },
                )
            },
        )
    }
}

/// A status or log call's failure in the harness's terms.
fn status_error(e: ClientError) -> StatusError {
    match e {
        ClientError::Connect(m) | ClientError::Transport(m) => StatusError::Unreachable(m),
        ClientError::Timeout(_) => StatusError::Timeout(STATUS_TIMEOUT),
        other => StatusError::BadAnswer(other.to_string()),
    }
}

impl<P: Protocol> Target for BundledTarget<P> {
    fn name(&self) -> &str {
        P::NAME
    }

    fn deploy(&self, rt: &dyn Runtime) -> Result<(), TargetError> {
        start_on_every_node(rt, API_PORT, Duration::from_secs(10), |id, dir| {
            Ok(ServiceSpec::new(
                self.argv(rt, id)?,
                dir,
                dir.join(format!("{}.log", P::NAME)),
            ))
        })
    }

    fn failover(&self) -> Duration {
        self.protocol.failover()
    }

    fn setup_timeout(&self) -> Duration {
        self.protocol.setup_timeout()
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
            let client = self.client(node, addr)?;
            client
                .status()
                .await
                .map(P::node_status)
                .map_err(status_error)
        }))
    }

    fn committed_log(
        &self,
        _node: NodeId,
        addr: Ipv4Addr,
        from: u64,
    ) -> Option<BoxFuture<'_, Result<Vec<LogEntry>, StatusError>>> {
        Some(Box::pin(async move {
            // Its own client: a whole log takes longer than a status.
            let client =
                Client::<P::Status>::new(format!("http://{addr}:{API_PORT}"), COMMITTED_TIMEOUT)
                    .map_err(|e| StatusError::Unreachable(e.to_string()))?;
            let log = client.committed(from).await.map_err(|e| match e {
                ClientError::Timeout(_) => StatusError::Timeout(COMMITTED_TIMEOUT),
                e => status_error(e),
            })?;
            Ok(log
                .entries
                .into_iter()
                .map(|e| LogEntry {
                    position: e.position,
                    digest: e.digest,
                })
                .collect())
        }))
    }
}

/// A client of a whole bundled cluster for one worker. Writes, locks and `quorum` reads
/// start at the worker's home node and follow not-leader hints from there (like Jepsen's
/// clients bound to one node, with the server forwarding); sticking to the last known
/// leader instead would hide a deposed leader that still answers. Reads at `sync` or
/// `local` are served by any node: they too start at the home node, and move on to the
/// next when it cannot serve (not synced, behind, down, silent), as a ZooKeeper client
/// moves its session to another server. Every read carries the newest position this
/// worker has read (ZooKeeper's lastZxidSeen), so a correct node behind it refuses.
/// Implements the workloads' [`Kv`], [`Lists`] and [`Lock`]; `S` is the protocol's
/// status type.
pub struct BundledKv<S> {
    nodes: Vec<(String, Client<S>)>,
    home: usize,
    level: ReadLevel,
    /// The newest position this worker has read.
    seen: AtomicU64,
}

impl<S: DeserializeOwned> BundledKv<S> {
    /// `nodes` are `(name, api address)` of every member; `home` indexes the node this
    /// worker talks to first; `timeout` bounds each HTTP call.
    pub fn new(
        nodes: &[(String, SocketAddr)],
        home: usize,
        timeout: Duration,
    ) -> Result<BundledKv<S>, String> {
        if nodes.is_empty() {
            return Err("a bundled-target client needs at least one node".into());
        }
        let clients = nodes
            .iter()
            .map(|(name, addr)| {
                Client::new(format!("http://{addr}"), timeout)
                    .map(|c| (name.clone(), c))
                    .map_err(|e| format!("client for {name} at {addr}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let home = home % clients.len();
        Ok(BundledKv {
            home,
            nodes: clients,
            level: ReadLevel::Quorum,
            seen: AtomicU64::new(0),
        })
    }

    /// A client for worker `k` of a cluster: home node `k mod n`. Each HTTP call is
    /// bounded by `timeout` but never more than [`HOP_TIMEOUT`]: a live node answers
    /// within its own request timeout, so a node that says nothing for longer is paused
    /// or cut off, and the worker is better off giving up (an unknown outcome) and
    /// trying again than waiting on it for the whole op timeout.
    pub fn for_cluster(
        rt: &dyn Runtime,
        k: usize,
        timeout: Duration,
    ) -> Result<BundledKv<S>, String> {
        let nodes: Vec<(String, SocketAddr)> = rt
            .nodes()
            .iter()
            .map(|n| (n.id.to_string(), SocketAddr::from((n.addr, API_PORT))))
            .collect();
        BundledKv::new(&nodes, k, timeout.min(HOP_TIMEOUT))
    }

    /// Reads at `level` from now on (default `quorum`).
    pub fn with_read_level(mut self, level: ReadLevel) -> BundledKv<S> {
        self.level = level;
        self
    }

    /// Runs `call` against the current node, following not-leader answers (definite:
    /// the refused attempt had no effect) at most [`MAX_HOPS`] times.
    async fn with_leader<T, F, Fut>(&self, call: F) -> Result<T, ClientError>
    where
        F: Fn(Client<S>) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let mut at = self.home;
        let mut last = None;
        for _ in 0..MAX_HOPS {
            match call(self.nodes[at].1.clone()).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let next = match (&e, e.leader_hint()) {
                        (_, Some(hint)) => self.nodes.iter().position(|(n, _)| *n == hint.0),
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

    /// A read at the client's level, with the node that served it. A `quorum` read
    /// follows leader hints; a weaker one tries the home node, then the others once
    /// each (reads have no effect, so any failure may be retried elsewhere).
    async fn read_at(&self, key: &str) -> Result<PositionedRead, ClientError> {
        let after = self.seen.load(Ordering::SeqCst);
        let level = self.level;
        let served = if level == ReadLevel::Quorum {
            self.with_leader(|c| async move {
                let r = c.read_at(key, level, after).await?;
                Ok((r, c.base().to_string()))
            })
            .await?
        } else {
            let n = self.nodes.len();
            let mut last = None;
            let mut served = None;
            for i in 0..n {
                let at = (self.home + i) % n;
                match self.nodes[at].1.read_at(key, level, after).await {
                    Ok(r) => {
                        served = Some((r, self.nodes[at].1.base().to_string()));
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            match served {
                Some(s) => s,
                None => return Err(last.expect("at least one node was tried")),
            }
        };
        let (r, base) = served;
        self.seen.fetch_max(r.position, Ordering::SeqCst);
        let node = self
            .nodes
            .iter()
            .find(|(_, c)| c.base() == base)
            .map(|(name, _)| name.clone());
        Ok(PositionedRead {
            value: r.value,
            position: r.position,
            node,
        })
    }
}

fn kv_error(e: ClientError) -> KvError {
    if e.is_definite() {
        KvError::Definite(e.to_string())
    } else {
        KvError::Indeterminate(e.to_string())
    }
}

impl<S: DeserializeOwned + Send + Sync + 'static> Kv for BundledKv<S> {
    async fn read(&self, key: &str) -> Result<Option<String>, KvError> {
        self.read_at(key).await.map(|r| r.value).map_err(kv_error)
    }

    async fn read_positioned(&self, key: &str) -> Result<PositionedRead, KvError> {
        self.read_at(key).await.map_err(kv_error)
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

impl<S: DeserializeOwned + Send + Sync + 'static> Lists for BundledKv<S> {
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

impl<S: DeserializeOwned + Send + Sync + 'static> Lock for BundledKv<S> {
    async fn acquire(&self, lock: &str, client: &str, ttl: Duration) -> Result<u64, LockError> {
        self.with_leader(|c| async move { c.acquire(lock, client, ttl).await })
            .await
            .map_err(|e| match e {
                ClientError::Rejected(RequestError::LockHeld { holder }) => LockError::Busy(holder),
                e if e.is_definite() => LockError::Definite(e.to_string()),
                e => LockError::Indeterminate(e.to_string()),
            })
    }

    async fn release(&self, lock: &str, client: &str, token: Position) -> Result<(), LockError> {
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
