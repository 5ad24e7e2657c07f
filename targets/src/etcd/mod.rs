//! etcd as a system under test: one member per namespace node, clients over its JSON
//! gateway.
//!
//! ```text
//! EtcdTarget::setup ─► etcd on PATH / --etcd-bin, else apt-get install etcd-server
//!                   ─► every node: `etcd --name nK --data-dir nodes/nK/data
//!                        --listen-client-urls http://ADDR:2379 --listen-peer-urls http://ADDR:2380
//!                        --initial-cluster n1=…,… --initial-cluster-state new …` in its slot
//!                   ─► wait: a majority reports one leader in one term, then a quorum read
//! status(node)      ─► /debug/vars `raft.status` (state, term, lead, vote) + member list → names
//! EtcdKv            ─► Kv (range / put / txn) and Lock (lease + /v3/lock/lock)
//! ```
//!
//! A restarted member (after a kill) runs the same command: with a data dir present,
//! etcd ignores the initial-cluster flags and rejoins as itself.
//!
//! Read modes: `linearizable` (default; etcd's quorum reads) and `serializable`
//! (answered from the contacted member's local state). The serializable mode is
//! faultline's calibration against a real system: under partitions its clients bound to
//! a minority member read stale values, and the register checker must say so.
//!
//! Errors are classified in one table: [`client`]'s module docs.

pub mod client;
pub mod election;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkers::split_brain::Role;
use harness::target::{
    majority_leader, poll_until_healthy, start_on_every_node, BoxFuture, NodeStatus, Probe,
    StatusError, Target, TargetError,
};
use runtime::{NodeId, Runtime, ServiceSpec};

pub use client::{EtcdKv, EtcdNode, ReadMode};

use crate::apt;

/// Client (and gateway) port on every node.
pub const CLIENT_PORT: u16 = 2379;
/// Peer port on every node.
pub const PEER_PORT: u16 = 2380;

/// How to run etcd (plain data; part of the test).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EtcdOptions {
    /// The etcd binary; `None`: `etcd` on PATH, installed with apt-get if missing.
    pub bin: Option<PathBuf>,
    pub read_mode: ReadMode,
    /// `--heartbeat-interval` in ms.
    pub heartbeat_ms: u64,
    /// `--election-timeout` in ms.
    pub election_ms: u64,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        // etcd's own defaults: they suit a shared two-core machine (shorter timeouts
        // make members on a loaded box call elections for nothing).
        EtcdOptions {
            bin: None,
            read_mode: ReadMode::Linearizable,
            heartbeat_ms: 100,
            election_ms: 1000,
        }
    }
}

/// The etcd binary: the given one, `etcd` on PATH, or Debian's `etcd-server`.
pub fn locate(bin: Option<&Path>) -> Result<PathBuf, String> {
    match bin {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(format!("--etcd-bin {}: no such file", p.display())),
        None => apt::ensure(
            "etcd",
            apt::Package {
                name: "etcd-server",
                units: &["etcd.service"],
            },
        ),
    }
}

/// Where Debian's `etcd-server` puts the program.
pub const DEBIAN_ETCD: &str = "/usr/bin/etcd";

/// The etcd binary on nodes that are other machines: the given path (which must be an
/// executable on every node), or Debian's `etcd-server`, installed on each node where
/// it is missing (its system service kept stopped).
pub fn locate_on_nodes(rt: &dyn Runtime, bin: Option<&Path>) -> Result<PathBuf, TargetError> {
    let (bin, package) = match bin {
        Some(p) => (p.to_path_buf(), None),
        None => (
            PathBuf::from(DEBIAN_ETCD),
            Some(runtime::packages::Package {
                name: "etcd-server",
                units: &["etcd.service"],
            }),
        ),
    };
    for id in rt.node_ids() {
        if let Some(package) = package {
            runtime::packages::ensure(rt, id, package)?;
        }
        let found = rt.exec(id, &runtime::Cmd::new("test").arg("-x").arg(&bin))?;
        if !found.success() {
            return Err(TargetError::Setup(format!(
                "{id}: --etcd-bin {}: no executable there on the node",
                bin.display()
            )));
        }
    }
    Ok(bin)
}

/// etcd as a system under test.
pub struct EtcdTarget {
    opts: EtcdOptions,
    /// Member id → node name, learned from the member list once.
    names: Names,
    timeout: Duration,
}

impl EtcdTarget {
    pub fn new(opts: EtcdOptions) -> EtcdTarget {
        EtcdTarget {
            opts,
            names: Names::default(),
            timeout: Duration::from_millis(1000),
        }
    }

    pub fn options(&self) -> &EtcdOptions {
        &self.opts
    }

    /// The command line of member `id`.
    pub fn argv(
        &self,
        bin: &Path,
        rt: &dyn Runtime,
        id: NodeId,
    ) -> Result<Vec<String>, TargetError> {
        let addr = rt.addr(id)?;
        let initial: Vec<String> = rt
            .nodes()
            .iter()
            .map(|n| format!("{}=http://{}:{PEER_PORT}", n.id, n.addr))
            .collect();
        let data = rt.node_dir(id)?.join("data");
        Ok(vec![
            bin.display().to_string(),
            "--name".into(),
            id.to_string(),
            "--data-dir".into(),
            data.display().to_string(),
            "--listen-peer-urls".into(),
            format!("http://{addr}:{PEER_PORT}"),
            "--initial-advertise-peer-urls".into(),
            format!("http://{addr}:{PEER_PORT}"),
            "--listen-client-urls".into(),
            format!("http://{addr}:{CLIENT_PORT}"),
            "--advertise-client-urls".into(),
            format!("http://{addr}:{CLIENT_PORT}"),
            "--initial-cluster".into(),
            initial.join(","),
            "--initial-cluster-state".into(),
            "new".into(),
            "--initial-cluster-token".into(),
            format!("faultline-{}", rt.run_name()),
            "--heartbeat-interval".into(),
            self.opts.heartbeat_ms.to_string(),
            "--election-timeout".into(),
            self.opts.election_ms.to_string(),
            "--enable-v2=false".into(),
            "--logger".into(),
            "zap".into(),
            "--log-outputs".into(),
            "stderr".into(),
        ])
    }

    fn node(&self, addr: Ipv4Addr) -> Result<EtcdNode, String> {
        EtcdNode::new(SocketAddr::from((addr, CLIENT_PORT)), self.timeout)
    }

    /// Polls every member until a majority follows one leader in one term and a quorum
    /// read succeeds.
    fn wait_for_leader(
        &self,
        rt: &dyn Runtime,
        timeout: Duration,
    ) -> Result<Duration, TargetError> {
        let handle = rt.clients()?;
        let addrs: Vec<(NodeId, Ipv4Addr)> = rt.nodes().iter().map(|n| (n.id, n.addr)).collect();
        poll_until_healthy(
            "etcd: a leader followed by a majority, and a quorum read",
            timeout,
            (Duration::from_millis(50), Duration::from_millis(250)),
            || {
                let round: Vec<Result<NodeStatus, StatusError>> = {
                    let addrs = addrs.clone();
                    let names = self.names.clone();
                    let timeout = self.timeout;
                    handle
                        .block_on(async move {
                            let mut out = Vec::new();
                            for (_, a) in &addrs {
                                out.push(status_of(&names, *a, timeout).await);
                            }
                            out
                        })
                        .map_err(|e| TargetError::Setup(format!("etcd status poll: {e}")))?
                };
                if let Err(seen) = majority_leader(addrs.iter().map(|(id, _)| *id).zip(&round)) {
                    return Ok(Probe::NotYet(seen));
                }
                let nodes: Vec<EtcdNode> = addrs
                    .iter()
                    .map(|(_, a)| self.node(*a))
                    .collect::<Result<_, _>>()
                    .map_err(TargetError::Setup)?;
                let read = handle
                    .block_on(async move {
                        let mut last = String::new();
                        for n in &nodes {
                            match n.get("faultline-health", ReadMode::Linearizable).await {
                                Ok(_) => return Ok(()),
                                Err(e) => last = e.to_string(),
                            }
                        }
                        Err(last)
                    })
                    .map_err(|e| TargetError::Setup(format!("etcd health read: {e}")))?;
                Ok(match read {
                    Ok(()) => Probe::Healthy,
                    Err(e) => Probe::NotYet(format!("quorum read: {e}")),
                })
            },
        )
    }
}

impl Target for EtcdTarget {
    fn name(&self) -> &str {
        "etcd"
    }

    /// `--election-timeout`: etcd's followers call an election within it (plus its
    /// randomization, which stays within another timeout's worth).
    fn failover(&self) -> Duration {
        Duration::from_millis(self.opts.election_ms)
    }

    fn deploy(&self, rt: &dyn Runtime) -> Result<(), TargetError> {
        let bin = if rt.remote() {
            locate_on_nodes(rt, self.opts.bin.as_deref())?
        } else {
            locate(self.opts.bin.as_deref()).map_err(TargetError::Setup)?
        };
        start_on_every_node(rt, CLIENT_PORT, Duration::from_secs(20), |id, dir| {
            Ok(ServiceSpec::new(
                self.argv(&bin, rt, id)?,
                dir,
                dir.join("etcd.log"),
            ))
        })
    }

    fn await_healthy(&self, rt: &dyn Runtime, timeout: Duration) -> Result<Duration, TargetError> {
        self.wait_for_leader(rt, timeout)
    }

    fn status(
        &self,
        _node: NodeId,
        addr: Ipv4Addr,
    ) -> Option<BoxFuture<'_, Result<NodeStatus, StatusError>>> {
        Some(Box::pin(status_of(&self.names, addr, self.timeout)))
    }
}

/// Member id → node name, learned from a member list when a leader id is new.
type Names = Arc<Mutex<BTreeMap<u64, String>>>;

/// One member's role, term and leader (by node name).
async fn status_of(
    names: &Names,
    addr: Ipv4Addr,
    timeout: Duration,
) -> Result<NodeStatus, StatusError> {
    let node = EtcdNode::new(SocketAddr::from((addr, CLIENT_PORT)), timeout)
        .map_err(StatusError::Unreachable)?;
    let s = node.status().await.map_err(|e| status_error(e, timeout))?;
    let known = |id: u64| {
        names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    };
    if [s.leader, s.vote]
        .iter()
        .any(|id| *id != 0 && known(*id).is_none())
    {
        let members = node.members().await.map_err(|e| status_error(e, timeout))?;
        let mut names = names.lock().unwrap_or_else(|e| e.into_inner());
        for m in members.into_iter().filter(|m| !m.name.is_empty()) {
            names.insert(m.id, m.name);
        }
    }
    let name = |id: u64| match id {
        0 => None,
        id => Some(known(id).unwrap_or_else(|| format!("{id:x}"))),
    };
    Ok(NodeStatus {
        role: match s.state.as_str() {
            "StateLeader" => Role::Leader,
            "StateFollower" => Role::Follower,
            _ => Role::Candidate,
        },
        term: s.raft_term,
        leader: name(s.leader),
        voted_for: name(s.vote),
    })
}

/// A member's failure to say what it is, in the harness's terms.
fn status_error(e: client::EtcdError, timeout: Duration) -> StatusError {
    match e {
        client::EtcdError::Connect(m) => StatusError::Unreachable(m),
        client::EtcdError::Timeout(_) => StatusError::Timeout(timeout),
        other => StatusError::BadAnswer(other.to_string()),
    }
}

/// An [`EtcdKv`] for worker `k` of a cluster (home member `k mod n`).
pub fn client_for(
    rt: &dyn Runtime,
    k: usize,
    timeout: Duration,
    mode: ReadMode,
) -> Result<EtcdKv, String> {
    let addrs: Vec<SocketAddr> = rt
        .nodes()
        .iter()
        .map(|n| SocketAddr::from((n.addr, CLIENT_PORT)))
        .collect();
    EtcdKv::new(&addrs, k, timeout, mode)
}

#[cfg(test)]
mod remote_tests {
    use super::*;
    use runtime::exec::Output;
    use runtime::fake::RecordingRuntime;

    #[test]
    fn remote_nodes_get_debian_etcd_installed_where_missing_and_checked() {
        let rt = RecordingRuntime::new(2);
        rt.respond(
            &["dpkg-query"],
            Output {
                code: Some(0),
                stdout: b"install ok installed".to_vec(),
                stderr: Vec::new(),
            },
        );
        assert_eq!(locate_on_nodes(&rt, None).unwrap(), Path::new(DEBIAN_ETCD));
        assert_eq!(
            rt.commands(),
            [
                "n1: dpkg-query -W -f=${Status} etcd-server",
                "n1: test -x /usr/bin/etcd",
                "n2: dpkg-query -W -f=${Status} etcd-server",
                "n2: test -x /usr/bin/etcd",
            ]
        );
    }

    #[test]
    fn a_given_etcd_missing_on_a_node_names_the_node_and_the_flag() {
        let rt = RecordingRuntime::new(2);
        rt.respond(
            &["test", "-x"],
            Output {
                code: Some(1),
                ..Output::default()
            },
        );
        let e = locate_on_nodes(&rt, Some(Path::new("/opt/etcd/etcd"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "n1: --etcd-bin /opt/etcd/etcd: no executable there on the node"
        );
        assert!(
            !rt.commands().iter().any(|c| c.contains("dpkg-query")),
            "a given binary installs nothing"
        );
    }
}
