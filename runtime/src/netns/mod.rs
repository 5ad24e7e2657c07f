//! Nodes on one machine: a cluster of network namespaces on a private bridge.
//!
//! ```text
//! Cluster::up("r1", 5)
//!   prereq::check ─► clean stale runs ─► registry.claim (slot s) ─► netns::apply
//!   ├─ fl-r1-n1 … fl-r1-n5   eth0 198.18.s.1 … .5/24     one service slot per node
//!   ├─ fl-r1-n6 …            service nodes (ClusterConfig::service_nodes): same, but
//!   │                        not the system's; see Runtime::service_nodes
//!   ├─ fl-r1-ctl             eth0 198.18.s.254/24        ControlRuntime (tokio) for clients
//!   └─ fl-r1-br              br0 + v-n1 … v-ctl          pure L2, no address
//! Cluster::down / Drop ─► kill services ─► cleanup::teardown (namespaces, registry)
//! ```
//!
//! The API is blocking (it runs short `ip` commands and waits on processes); async
//! client code runs on the control runtime ([`Cluster::control`]).
//!
//! Invariants:
//! - only namespaces named `fl-<run>-…` are ever created or changed; the host
//!   namespace's links, routes and iptables are never touched; no default routes;
//! - node addresses come from the run's own /24 slot of 198.18.0.0/15 (see [`addr`]);
//! - an owned cluster is torn down by [`Cluster::down`] or, best effort, on drop; an
//!   attached one ([`Cluster::attach`], the sandbox CLI) is left alone on drop;
//! - every resource is in the registry before it exists, so `faultline clean` finds it
//!   even after the controller was SIGKILLed.
//!
//! References: Jepsen's `jepsen.control` / `jepsen.db` (`Kill`, `Pause` capabilities),
//! `ip-netns(8)`, `veth(4)`.

pub mod addr;
pub mod cleanup;
pub mod network;
pub mod prereq;
pub mod probe;
pub mod registry;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

pub use registry::{Owner, Registry, RunRecord};

pub use crate::control::{ControlError, ControlHandle, ControlRuntime};
pub use crate::service::{ServiceError, ServiceSpec, ServiceState};
pub use crate::NodeId;

use crate::exec::{Cmd, Exec, ExecError, Output, RealExec};
use crate::service::Service;
use crate::wait;
use crate::{service, NodeInfo, Runtime, RuntimeError, Signal};
use network as netns;

/// Everything that can go wrong with the cluster runtime.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Prereq(#[from] prereq::PrereqError),
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    #[error("run {run}: setting up the network: {source}")]
    Network {
        run: String,
        #[source]
        source: ExecError,
    },
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error(transparent)]
    Wait(#[from] wait::WaitError),
    #[error("run {run}: no node {node}")]
    NoSuchNode { run: String, node: String },
    #[error("run {run}: teardown: {msg}")]
    Teardown { run: String, msg: String },
}

/// How to bring a cluster up.
#[derive(Clone)]
pub struct ClusterConfig {
    pub run: String,
    pub nodes: u16,
    /// Root for node data dirs and logs (`<dir>/nodes/<n>/`); default: the run's
    /// registry directory under /run/faultline.
    pub dir: Option<PathBuf>,
    pub exec: Arc<dyn Exec>,
    pub registry: Registry,
    /// Worker threads of the control runtime.
    pub control_workers: usize,
    /// Extra nodes after the `nodes` of the system under test, for the test's own
    /// services (`n<nodes+1>` …): [`Runtime::service_nodes`].
    pub service_nodes: u16,
}

impl ClusterConfig {
    pub fn new(run: impl Into<String>, nodes: u16) -> Self {
        ClusterConfig {
            run: run.into(),
            nodes,
            dir: None,
            exec: Arc::new(RealExec),
            registry: Registry::default(),
            control_workers: 2,
            service_nodes: 0,
        }
    }

    /// Adds `k` service nodes beside the system's nodes.
    pub fn service_nodes(mut self, k: u16) -> Self {
        self.service_nodes = k;
        self
    }

    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }
}

/// One node: its name, address, namespace and service slot.
#[derive(Debug)]
pub struct Node {
    pub id: NodeId,
    pub addr: Ipv4Addr,
    pub ns: String,
    service: Mutex<Service>,
}

/// A running cluster. `Send + Sync`: share it behind an `Arc`.
pub struct Cluster {
    record: RunRecord,
    dir: PathBuf,
    nodes: Vec<Node>,
    exec: Arc<dyn Exec>,
    registry: Registry,
    control: OnceLock<ControlRuntime>,
    control_workers: usize,
    control_init: Mutex<()>,
    owned: bool,
    /// How many of `nodes` (the last ones) are service nodes.
    service_nodes: u16,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("run", &self.record.run)
            .field("slot", &self.record.slot)
            .field("nodes", &self.record.nodes)
            .field("owned", &self.owned)
            .finish()
    }
}

impl Cluster {
    /// Brings up `n` nodes for run `run` with default settings (blocking).
    pub fn up(run: &str, n: u16) -> Result<Cluster, ClusterError> {
        Cluster::up_with(ClusterConfig::new(run, n))
    }

    /// Brings up a cluster: checks prerequisites, sweeps stale runs, claims a slot,
    /// builds the network. On failure everything created so far is removed.
    pub fn up_with(cfg: ClusterConfig) -> Result<Cluster, ClusterError> {
        addr::validate_run_name(&cfg.run).map_err(ClusterError::BadInput)?;
        let total = cfg.nodes.saturating_add(cfg.service_nodes);
        if cfg.nodes == 0 || total > addr::MAX_NODES {
            return Err(ClusterError::BadInput(format!(
                "node count {} plus {} service nodes must be in 1..={}",
                cfg.nodes,
                cfg.service_nodes,
                addr::MAX_NODES
            )));
        }
        prereq::check(cfg.exec.as_ref())?;
        let swept = cleanup::clean(
            cfg.exec.as_ref(),
            &cfg.registry,
            &cleanup::CleanScope::Stale,
        );
        for run in &swept.runs {
            tracing::info!("removed stale run {run} left by a dead controller");
        }
        let record = cfg
            .registry
            .claim(&cfg.run, total, Some(Owner::current()))?;
        let mut cluster = Cluster::from_record(record, cfg.dir, cfg.exec, cfg.registry, true);
        cluster.service_nodes = cfg.service_nodes;
        cluster.ensure_dir()?;
        // From here on `cluster`'s Drop tears everything down if we fail.
        netns::apply(
            cluster.exec.as_ref(),
            &cluster.record.run,
            cluster.record.slot,
            cluster.record.nodes,
        )
        .map_err(|source| ClusterError::Network {
            run: cluster.record.run.clone(),
            source,
        })?;
        let mut cluster = cluster;
        cluster.control_workers = cfg.control_workers;
        Ok(cluster)
    }

    /// Attaches to an existing run (e.g. a sandbox made by `faultline cluster up`).
    /// Dropping the handle leaves the cluster running; services started through it are
    /// not tracked across processes.
    pub fn attach(registry: &Registry, run: &str) -> Result<Cluster, ClusterError> {
        let record = registry.get(run)?;
        Ok(Cluster::from_record(
            record,
            None,
            Arc::new(RealExec),
            registry.clone(),
            false,
        ))
    }

    fn from_record(
        record: RunRecord,
        dir: Option<PathBuf>,
        exec: Arc<dyn Exec>,
        registry: Registry,
        owned: bool,
    ) -> Cluster {
        let nodes = (1..=record.nodes)
            .map(|i| Node {
                id: NodeId::nth(i),
                addr: addr::node_addr(record.slot, i),
                ns: addr::node_ns(&record.run, i),
                service: Mutex::new(Service::default()),
            })
            .collect();
        Cluster {
            dir: dir.unwrap_or_else(|| record.dir.clone()),
            record,
            nodes,
            exec,
            registry,
            control: OnceLock::new(),
            control_workers: 2,
            control_init: Mutex::new(()),
            owned,
            service_nodes: 0,
        }
    }

    fn ensure_dir(&self) -> Result<(), ClusterError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            ClusterError::BadInput(format!("cannot create {}: {e}", self.dir.display()))
        })
    }

    /// Leaves the cluster running after this process exits (the sandbox): the record
    /// loses its owner, so only `cluster down` or `faultline clean` remove it.
    pub fn detach(mut self) -> Result<RunRecord, ClusterError> {
        let mut record = self.record.clone();
        record.owner = None;
        self.registry.update(&record)?;
        self.owned = false;
        Ok(record)
    }

    /// Tears the cluster down: control runtime, services, namespaces, registry entry.
    pub fn down(mut self) -> Result<(), ClusterError> {
        self.owned = false;
        self.teardown()
    }

    /// Kills every process in the run's namespaces and deletes them, through a shared
    /// reference: for a caller that must not leave the nodes behind although something
    /// (a stuck thread) still holds the cluster. Its later Drop finds nothing left.
    pub fn remove_network(&self) -> Result<(), ClusterError> {
        cleanup::teardown(self.exec.as_ref(), &self.registry, &self.record).map_err(|msg| {
            ClusterError::Teardown {
                run: self.record.run.clone(),
                msg,
            }
        })
    }

    fn teardown(&mut self) -> Result<(), ClusterError> {
        drop(self.control.take());
        let mut first: Option<String> = None;
        for node in &self.nodes {
            if let Err(e) = self.lock(node).kill(&node.id.to_string()) {
                tracing::warn!("down: {e}");
                first.get_or_insert(e.to_string());
            }
        }
        if let Err(e) = cleanup::teardown(self.exec.as_ref(), &self.registry, &self.record) {
            first.get_or_insert(e);
        }
        match first {
            Some(msg) => Err(ClusterError::Teardown {
                run: self.record.run.clone(),
                msg,
            }),
            None => Ok(()),
        }
    }

    pub fn record(&self) -> &RunRecord {
        &self.record
    }

    pub fn slot(&self) -> u16 {
        self.record.slot
    }

    pub fn exec_backend(&self) -> Arc<dyn Exec> {
        Arc::clone(&self.exec)
    }

    /// The nodes with their namespaces and service slots.
    pub fn members(&self) -> &[Node] {
        &self.nodes
    }

    pub fn member(&self, id: NodeId) -> Result<&Node, ClusterError> {
        usize::from(id.index())
            .checked_sub(1)
            .and_then(|i| self.nodes.get(i))
            .ok_or_else(|| ClusterError::NoSuchNode {
                run: self.record.run.clone(),
                node: id.to_string(),
            })
    }

    pub fn control_addr(&self) -> Ipv4Addr {
        addr::control_addr(self.record.slot)
    }

    pub fn control_ns(&self) -> String {
        addr::control_ns(&self.record.run)
    }

    /// `<dir>/nodes/<n>/`: the node's data dir (its service's cwd by convention).
    fn dir_of(&self, id: NodeId) -> PathBuf {
        self.dir.join("nodes").join(id.to_string())
    }

    /// Root directory for node data and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock<'a>(&self, node: &'a Node) -> MutexGuard<'a, Service> {
        node.service
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Process group of the node's service while any of it runs.
    pub fn service_pid(&self, id: NodeId) -> Option<u32> {
        let node = self.member(id).ok()?;
        self.lock(node).pid()
    }

    /// The control-namespace runtime (started on first use, stopped by `down`).
    pub fn control(&self) -> Result<ControlHandle, ClusterError> {
        if let Some(rt) = self.control.get() {
            return Ok(rt.handle());
        }
        let _guard = self
            .control_init
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(rt) = self.control.get() {
            return Ok(rt.handle());
        }
        let rt = ControlRuntime::new(&self.control_ns(), self.control_workers)?;
        let handle = rt.handle();
        let _ = self.control.set(rt);
        Ok(handle)
    }

    /// Opens a TCP connection to a node from the control namespace (blocking).
    pub fn connect(
        &self,
        id: NodeId,
        port: u16,
        timeout: Duration,
    ) -> std::io::Result<std::net::TcpStream> {
        let addr = self
            .member(id)
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .addr;
        wait::connect_from(&self.control_ns(), SocketAddr::from((addr, port)), timeout)
    }

    /// Probes TCP echo round trips between every ordered pair of nodes, each from the
    /// source node's namespace to `port` on the destination (see [`probe`]).
    pub fn reachability(&self, port: u16, timeout: Duration) -> probe::Matrix {
        let nodes: Vec<_> = self
            .nodes
            .iter()
            .map(|n| (n.id, n.ns.clone(), SocketAddr::from((n.addr, port))))
            .collect();
        probe::reachability(&nodes, timeout)
    }

    /// Waits until `check` holds, polling with back-off, for at most `timeout`.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut() -> bool,
    ) -> Result<(), ClusterError> {
        Ok(wait::poll_until(timeout, what, || check().then_some(()))?)
    }

    fn rt_err(&self, id: NodeId, what: &str, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Other(format!("{id}: {what}: {e}"))
    }
}

/// A service error in the runtime's terms.
fn service_error(e: ServiceError) -> RuntimeError {
    match e {
        ServiceError::NoSpec { node } => RuntimeError::NoService { node },
        ServiceError::AlreadyRunning { node, pid } => RuntimeError::AlreadyRunning { node, pid },
        ServiceError::NotRunning { node } => RuntimeError::NotRunning { node },
        ServiceError::Wait { source, .. } => RuntimeError::Wait(source),
        other => RuntimeError::Other(other.to_string()),
    }
}

impl Runtime for Cluster {
    fn run_name(&self) -> &str {
        &self.record.run
    }

    fn nodes(&self) -> Vec<NodeInfo> {
        let system = self.nodes.len() - usize::from(self.service_nodes);
        self.nodes[..system]
            .iter()
            .map(|n| NodeInfo {
                id: n.id,
                addr: n.addr,
            })
            .collect()
    }

    fn service_nodes(&self) -> Vec<NodeInfo> {
        let system = self.nodes.len() - usize::from(self.service_nodes);
        self.nodes[system..]
            .iter()
            .map(|n| NodeInfo {
                id: n.id,
                addr: n.addr,
            })
            .collect()
    }

    fn clients(&self) -> Result<ControlHandle, RuntimeError> {
        self.control()
            .map_err(|e| RuntimeError::Other(format!("the clients' runtime: {e}")))
    }

    fn exempt(&self) -> Vec<Ipv4Addr> {
        vec![self.control_addr()]
    }

    /// Runs the command inside the node's namespace.
    fn exec(&self, id: NodeId, cmd: &Cmd) -> Result<Output, RuntimeError> {
        let ns = self
            .member(id)
            .map_err(|e| self.rt_err(id, "exec", e))?
            .ns
            .clone();
        self.exec
            .output(&cmd.clone().netns(ns))
            .map_err(|source| RuntimeError::Exec {
                node: id.to_string(),
                what: format!("`{cmd}`"),
                source,
            })
    }

    fn node_dir(&self, id: NodeId) -> Result<PathBuf, RuntimeError> {
        self.member(id)
            .map_err(|e| self.rt_err(id, "node dir", e))?;
        Ok(self.dir_of(id))
    }

    fn write_file(&self, id: NodeId, rel: &Path, bytes: &[u8]) -> Result<PathBuf, RuntimeError> {
        let path = self.node_dir(id)?.join(rel);
        let io = |what: &str, source| RuntimeError::Io {
            node: id.to_string(),
            what: format!("{what} {}", path.display()),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("creating the directory of", e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io("writing", e))?;
        Ok(path)
    }

    fn read_file(&self, id: NodeId, rel: &Path) -> Result<Vec<u8>, RuntimeError> {
        let path = self.node_dir(id)?.join(rel);
        std::fs::read(&path).map_err(|source| RuntimeError::Io {
            node: id.to_string(),
            what: format!("reading {}", path.display()),
            source,
        })
    }

    fn start_service(&self, id: NodeId, spec: ServiceSpec) -> Result<u32, RuntimeError> {
        let node = self.member(id).map_err(|e| self.rt_err(id, "start", e))?;
        let mut svc = self.lock(node);
        svc.set_spec(spec);
        svc.start(&id.to_string(), &node.ns).map_err(service_error)
    }

    fn start(&self, id: NodeId) -> Result<u32, RuntimeError> {
        let node = self.member(id).map_err(|e| self.rt_err(id, "start", e))?;
        let mut svc = self.lock(node);
        if svc.spec().is_none() && !self.owned {
            return Err(RuntimeError::Unsupported {
                node: id.to_string(),
                what: "the sandbox cannot restart what ran there; start it again by hand".into(),
            });
        }
        svc.start(&id.to_string(), &node.ns).map_err(service_error)
    }

    /// A signal to the node's service group. On an attached cluster (the sandbox), a
    /// node whose service this process did not start has every process in its
    /// namespace signalled instead.
    fn signal(&self, id: NodeId, signal: Signal) -> Result<bool, RuntimeError> {
        let node = self.member(id).map_err(|e| self.rt_err(id, "signal", e))?;
        let mut svc = self.lock(node);
        if svc.spec().is_none() && !self.owned {
            drop(svc);
            let n = match signal {
                Signal::Kill => network::kill_all_in(&node.ns, service::KILL_TIMEOUT),
                Signal::Stop => network::pause_all_in(&node.ns, true),
                Signal::Cont => network::pause_all_in(&node.ns, false),
            }
            .map_err(|e| self.rt_err(id, signal.name(), e))?;
            return Ok(n > 0);
        }
        let name = id.to_string();
        match signal {
            Signal::Kill => svc.kill(&name).map_err(service_error),
            Signal::Stop => svc.pause(&name).map(|_| true).map_err(service_error),
            Signal::Cont => svc.resume(&name).map(|_| true).map_err(service_error),
        }
    }

    fn service_state(&self, id: NodeId) -> Result<ServiceState, RuntimeError> {
        let node = self.member(id).map_err(|e| self.rt_err(id, "state", e))?;
        Ok(self.lock(node).state())
    }

    /// Waits until the node accepts TCP connections on `port`, seen from the control
    /// namespace.
    fn wait_for_port(&self, id: NodeId, port: u16, timeout: Duration) -> Result<(), RuntimeError> {
        let deadline = Instant::now() + timeout;
        let what = format!("{id} to accept TCP connections on port {port}");
        wait::poll_until(timeout, &what, || {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = left
                .min(Duration::from_millis(500))
                .max(Duration::from_millis(1));
            self.connect(id, port, attempt).ok().map(|_| ())
        })?;
        Ok(())
    }

    /// This very binary: namespaces share the controller's file system.
    fn faultline_binary(&self, id: NodeId) -> Result<PathBuf, RuntimeError> {
        std::env::current_exe().map_err(|source| RuntimeError::Io {
            node: id.to_string(),
            what: "finding the faultline binary".into(),
            source,
        })
    }

    /// Node directories already live in the run's directory; files elsewhere are copied.
    fn collect(&self, id: NodeId, files: &[PathBuf], dest: &Path) -> Result<(), RuntimeError> {
        let dir = self.node_dir(id)?;
        for f in files {
            let path = if f.is_absolute() {
                f.clone()
            } else {
                dir.join(f)
            };
            let Some(name) = path.file_name() else {
                continue;
            };
            let target = dest.join(name);
            if path.starts_with(dest) || target == path || !path.exists() {
                continue;
            }
            std::fs::create_dir_all(dest)
                .and_then(|_| std::fs::copy(&path, &target).map(|_| ()))
                .map_err(|source| RuntimeError::Io {
                    node: id.to_string(),
                    what: format!("collecting {}", path.display()),
                    source,
                })?;
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.owned {
            self.owned = false;
            if let Err(e) = self.teardown() {
                tracing::warn!("cluster {} teardown on drop: {e}", self.record.run);
            }
        }
    }
}
