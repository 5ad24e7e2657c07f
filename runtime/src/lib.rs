//! `runtime`: the nodes a run deploys onto, behind one interface.
//!
//! ```text
//!                      ┌──────────────── trait Runtime ────────────────┐
//! Target::setup ─────► │ nodes(), exec(node, Cmd), write_file/read_file │ ◄── nemesis (filters, signals)
//! ClientFactory ─────► │ start_service / start / signal / state         │ ◄── run (collect, teardown)
//! Observer      ─────► │ apply_filter / clear_filter, clients(), collect│
//!                      └───────────────┬─────────────────┬──────────────┘
//!                                      │                 │
//!                      netns::Cluster (this machine:     fake::RecordingRuntime (tests:
//!                      network namespaces on a bridge)   records every command, no root)
//!                      ssh::SshCluster (real machines: one multiplexed OpenSSH master each)
//! ```
//!
//! A node runtime is what a target and the nemesis need from a node: its name and
//! address; running a typed command on it; starting a service as a process group with
//! its log file and signalling that group (kill, stop, continue); writing and reading
//! files in its data directory; applying and clearing a packet-filter table; collecting
//! its logs into the store; and cleaning up after itself. Nothing above this crate
//! names a namespace, a process id or an SSH host.
//!
//! Invariants every implementation keeps:
//! - packet filters live in a dedicated `FAULTLINE` chain jumped to from INPUT and
//!   OUTPUT, applied with `iptables-restore --noflush`: a node's other rules are never
//!   touched, and clearing removes only our chain ([`filter`]);
//! - the controller's addresses ([`Runtime::exempt`]) are never filtered;
//! - every resource is registered for cleanup before it exists.
//!
//! References: Jepsen's `jepsen.control` (remote commands), `jepsen.db` (`Kill`,
//! `Pause` capabilities) and `jepsen.net` (iptables).

pub mod control;
pub mod exec;
pub mod fake;
pub mod filter;
pub mod netns;
mod node;
pub mod packages;
pub mod service;
pub mod ssh;
pub mod wait;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use control::ControlHandle;
pub use exec::{Cmd, Exec, ExecError, Output};
pub use filter::FilterTable;
pub use node::NodeId;
pub use service::{ServiceSpec, ServiceState};

/// One node as callers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: NodeId,
    /// The address clients and peers use.
    pub addr: Ipv4Addr,
}

/// A signal to a node's service (its whole process group).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// SIGKILL (STONITH); returns once the group is gone.
    Kill,
    /// SIGSTOP.
    Stop,
    /// SIGCONT.
    Cont,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Kill => "SIGKILL",
            Signal::Stop => "SIGSTOP",
            Signal::Cont => "SIGCONT",
        }
    }
}

/// Everything that can go wrong talking to a node. Each names the node (or the run) and
/// what was being done.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("no node {node} in run {run}")]
    NoSuchNode { run: String, node: String },
    #[error("{node}: {what}: {source}")]
    Exec {
        node: String,
        what: String,
        #[source]
        source: ExecError,
    },
    #[error("{node}: {what}: {source}")]
    Io {
        node: String,
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{node}: no service was started (start_service first)")]
    NoService { node: String },
    #[error("{node}: the service is already running (pid {pid})")]
    AlreadyRunning { node: String, pid: u32 },
    #[error("{node}: the service is not running")]
    NotRunning { node: String },
    #[error("{node}: {what}")]
    Unsupported { node: String, what: String },
    /// The machine could not be reached or logged into (SSH nodes): unreachable host,
    /// authentication refused, host key mismatch, master connection lost.
    #[error("{node}: cannot reach the node: {reason}")]
    Unreachable { node: String, reason: String },
    #[error(transparent)]
    Wait(#[from] wait::WaitError),
    #[error("{0}")]
    Other(String),
}

/// The nodes of a run and what can be done to them. `Send + Sync`: shared behind an
/// `Arc` by the run, the nemesis thread, the observer and the clients' factory.
pub trait Runtime: Send + Sync {
    /// The run's name (unique among live controllers).
    fn run_name(&self) -> &str;

    /// Every node of the system under test, in order `n1..nN`: what targets deploy to
    /// and partitions split.
    fn nodes(&self) -> Vec<NodeInfo>;

    /// Nodes beside the system's, for the test's own services (the election workload's
    /// candidates): named after the system's (`n<N+1>`…), reachable from them and from
    /// the controller, never deployed to by a target. Every per-node method (exec,
    /// services, signals, files, filters, collect) accepts them, so the nemesis can
    /// fault them like any node. Empty unless the run asked for some.
    fn service_nodes(&self) -> Vec<NodeInfo> {
        Vec::new()
    }

    /// Where client code runs: a tokio runtime whose sockets reach the nodes.
    fn clients(&self) -> Result<ControlHandle, RuntimeError>;

    /// Addresses packet filters must never cut: the controller's, from which clients
    /// connect (and, on real machines, SSH).
    fn exempt(&self) -> Vec<Ipv4Addr>;

    /// Runs a command on the node to its end and returns its output, whatever its exit
    /// code.
    fn exec(&self, node: NodeId, cmd: &Cmd) -> Result<Output, RuntimeError>;

    /// The node's data directory (a path on the node): configs, data, logs.
    fn node_dir(&self, node: NodeId) -> Result<PathBuf, RuntimeError>;

    /// Writes `bytes` to `rel` inside the node's data directory (parents created);
    /// returns the file's path on the node.
    fn write_file(&self, node: NodeId, rel: &Path, bytes: &[u8]) -> Result<PathBuf, RuntimeError>;

    /// Reads `rel` inside the node's data directory.
    fn read_file(&self, node: NodeId, rel: &Path) -> Result<Vec<u8>, RuntimeError>;

    /// Sets the node's service and starts it in a new process group, its output appended
    /// to `spec.log`. Returns the group's id.
    fn start_service(&self, node: NodeId, spec: ServiceSpec) -> Result<u32, RuntimeError>;

    /// Starts the node's service again with the same command line (after a kill).
    fn start(&self, node: NodeId) -> Result<u32, RuntimeError>;

    /// Sends `signal` to the service's whole process group. `Ok(false)` when nothing was
    /// running (for a kill) ; a kill returns only once the group is gone.
    fn signal(&self, node: NodeId, signal: Signal) -> Result<bool, RuntimeError>;

    /// What the node's service slot holds now.
    fn service_state(&self, node: NodeId) -> Result<ServiceState, RuntimeError>;

    /// Waits until the node accepts TCP connections on `port`, seen from where the
    /// clients run, for at most `timeout`.
    fn wait_for_port(&self, node: NodeId, port: u16, timeout: Duration)
        -> Result<(), RuntimeError>;

    /// The path of the `faultline` binary on the node (for bundled node programs):
    /// this very binary on this machine, an uploaded copy elsewhere.
    fn faultline_binary(&self, node: NodeId) -> Result<PathBuf, RuntimeError>;

    /// Whether the nodes are other machines (SSH), with their own programs and
    /// packages: a target then installs what it runs on each node
    /// ([`packages::ensure`]) instead of on this machine. `false` for nodes that share
    /// this machine's file system (namespaces).
    fn remote(&self) -> bool {
        false
    }

    /// Whether the node itself (the machine, not its service) can still be reached:
    /// `Err` ([`RuntimeError::Unreachable`], naming the node and the reason) once it
    /// cannot, e.g. an SSH node whose connection dropped. A killed or paused service, or
    /// a partition (the controller is exempt), is never a lost node. Cheap enough to ask
    /// every second. Nodes on this machine cannot be lost on their own: `Ok`.
    fn probe(&self, node: NodeId) -> Result<(), RuntimeError> {
        let _ = node;
        Ok(())
    }

    /// Copies node-side `files` (absolute, or relative to the node's data directory)
    /// into `dest` (a directory of the store). Files already there are left alone.
    fn collect(&self, node: NodeId, files: &[PathBuf], dest: &Path) -> Result<(), RuntimeError>;

    /// Makes the node's `FAULTLINE` chain exactly `table` (see [`filter`]).
    fn apply_filter(&self, node: NodeId, table: &FilterTable) -> Result<(), RuntimeError> {
        filter::apply(self, node, table)
    }

    /// Removes the `FAULTLINE` chain and its jumps from the node; nothing else.
    fn clear_filter(&self, node: NodeId) -> Result<(), RuntimeError> {
        filter::clear(self, node)
    }

    // Conveniences over the methods above.

    /// Node ids, `n1..nN`.
    fn node_ids(&self) -> Vec<NodeId> {
        self.nodes().into_iter().map(|n| n.id).collect()
    }

    /// A node's address (a system node or a service node).
    fn addr(&self, node: NodeId) -> Result<Ipv4Addr, RuntimeError> {
        self.nodes()
            .into_iter()
            .chain(self.service_nodes())
            .find(|n| n.id == node)
            .map(|n| n.addr)
            .ok_or_else(|| RuntimeError::NoSuchNode {
                run: self.run_name().to_string(),
                node: node.to_string(),
            })
    }

    /// [`Runtime::exec`], failing unless the command exits 0 (the error has its stderr).
    fn exec_ok(&self, node: NodeId, cmd: &Cmd) -> Result<Output, RuntimeError> {
        let out = self.exec(node, cmd)?;
        if out.success() {
            Ok(out)
        } else {
            Err(RuntimeError::Exec {
                node: node.to_string(),
                what: format!("`{cmd}`"),
                source: ExecError::Failed {
                    cmd: cmd.to_string(),
                    status: match out.code {
                        Some(c) => format!("exit {c}"),
                        None => "killed by a signal".to_string(),
                    },
                    stderr: out.stderr_lossy().trim().to_string(),
                },
            })
        }
    }

    /// SIGKILL to the service's group; `Ok(false)` if nothing was running.
    fn kill(&self, node: NodeId) -> Result<bool, RuntimeError> {
        self.signal(node, Signal::Kill)
    }

    /// SIGSTOP to the service's group.
    fn pause(&self, node: NodeId) -> Result<(), RuntimeError> {
        self.signal(node, Signal::Stop).map(|_| ())
    }

    /// SIGCONT to the service's group.
    fn resume(&self, node: NodeId) -> Result<(), RuntimeError> {
        self.signal(node, Signal::Cont).map(|_| ())
    }

    /// Running or paused (the process exists).
    fn is_running(&self, node: NodeId) -> bool {
        self.service_state(node)
            .is_ok_and(|s| matches!(s, ServiceState::Running | ServiceState::Paused))
    }
}
