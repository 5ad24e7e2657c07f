//! Apache ZooKeeper as a system under test: one `QuorumPeerMain` JVM per namespace node.
//!
//! ```text
//! ZookeeperTarget::setup ─► zookeeper.jar in --zookeeper-dir / /usr/share/java, else
//!                           apt-get install zookeeper; `java` on PATH
//!                        ─► every node: nodes/nK/zoo.cfg, data/myid, log4j.properties;
//!                           `java -Xmx256m … -cp … QuorumPeerMain zoo.cfg` in its slot
//!                           (the JVM is the slot's process group: kill and pause reach it)
//!                        ─► wait: one leader, a majority serving in its epoch, a session
//! status(node)           ─► `srvr`: Mode (leader / follower); the epoch from the member's
//!                           `currentEpoch` file; a follower's leader = the peer its JVM
//!                           is connected to on the quorum port (/proc/<pid>/net/tcp)
//! ZkKv                   ─► Kv and Lock over a session with the worker's home member
//! ```
//!
//! Tick time is 200 ms (init limit 5 s, sync limit 2 s): short enough that a partitioned
//! leader steps down within seconds, long enough for five JVMs on a two-core machine.
//! Only the four-letter words `srvr, stat, ruok, mntr` are allowed, and the admin HTTP
//! server is off. A killed member restarts with the same command and data dir.
//!
//! Read modes: `linearizable` (sync, then read) and `serializable` (plain reads from the
//! member's local state, which ZooKeeper only promises to be sequentially consistent).
//!
//! Errors are classified in one table: [`client`]'s module docs.

pub mod client;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use checkers::split_brain::Role;
use harness::cluster::{Cluster, NodeId, ServiceSpec};
use harness::target::{
    poll_until_healthy, start_on_every_node, BoxFuture, NodeStatus, Probe, Target, TargetError,
};

pub use client::{four_letter, Srvr, ZkKv};

use crate::apt;
use crate::read_mode::ReadMode;

/// Client port on every node.
pub const CLIENT_PORT: u16 = 2181;
/// Quorum (follower ↔ leader) port.
pub const QUORUM_PORT: u16 = 2888;
/// Leader election port.
pub const ELECTION_PORT: u16 = 3888;
/// Debian's jar directory.
pub const DEBIAN_JARS: &str = "/usr/share/java";

/// How to run ZooKeeper (plain data; part of the test).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ZookeeperOptions {
    /// Directory holding `zookeeper.jar` (and the jars its manifest names); `None`:
    /// Debian's /usr/share/java, installed with apt-get if missing.
    pub dir: Option<PathBuf>,
    pub read_mode: ReadMode,
    pub tick_ms: u64,
    /// JVM heap limit in MiB.
    pub heap_mb: u32,
}

impl Default for ZookeeperOptions {
    fn default() -> Self {
        ZookeeperOptions {
            dir: None,
            read_mode: ReadMode::Linearizable,
            tick_ms: 200,
            heap_mb: 256,
        }
    }
}

/// The jar directory: the given one, or Debian's (installing `zookeeper` if missing).
pub fn locate(dir: Option<&Path>) -> Result<PathBuf, String> {
    match dir {
        Some(d) if d.join("zookeeper.jar").is_file() => Ok(d.to_path_buf()),
        Some(d) => Err(format!(
            "--zookeeper-dir {}: no zookeeper.jar there",
            d.display()
        )),
        None => apt::ensure_with(
            "/usr/share/java/zookeeper.jar",
            || {
                let d = Path::new(DEBIAN_JARS);
                d.join("zookeeper.jar").is_file().then(|| d.to_path_buf())
            },
            apt::Package {
                name: "zookeeper",
                units: &["zookeeper.service"],
            },
        ),
    }
}

/// The classpath: zookeeper.jar (its manifest names its dependencies) and a log4j
/// binding for slf4j when the directory has one.
fn classpath(dir: &Path) -> String {
    let mut cp = vec![dir.join("zookeeper.jar")];
    for jar in ["slf4j-log4j12.jar", "log4j-1.2.jar"] {
        if dir.join(jar).is_file() {
            cp.push(dir.join(jar));
        }
    }
    cp.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// ZooKeeper as a system under test.
pub struct ZookeeperTarget {
    opts: ZookeeperOptions,
    timeout: Duration,
    /// What `status` needs besides `srvr`, learned at setup.
    members: Mutex<Members>,
}

/// Each member's directory and process, and node names by address.
#[derive(Default)]
struct Members {
    dirs: BTreeMap<NodeId, PathBuf>,
    names: BTreeMap<Ipv4Addr, String>,
    /// The member's JVM, found by its command line (re-found after a restart).
    pids: BTreeMap<NodeId, u32>,
}

impl ZookeeperTarget {
    pub fn new(opts: ZookeeperOptions) -> ZookeeperTarget {
        ZookeeperTarget {
            opts,
            timeout: Duration::from_millis(1000),
            members: Mutex::new(Members::default()),
        }
    }

    fn members(&self) -> std::sync::MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The member's epoch (`version-2/currentEpoch`, written when it joins a leader's
    /// epoch) and, for a follower, its leader: the peer its JVM holds an established
    /// connection to on the quorum port (from `/proc/<pid>/net/tcp`, which shows the
    /// member's own network namespace). `srvr` reports neither: a follower's zxid shows
    /// a new epoch only after that epoch's first write.
    fn local_view(&self, node: NodeId) -> (Option<u64>, Option<String>) {
        let mut m = self.members();
        let Some(dir) = m.dirs.get(&node).cloned() else {
            return (None, None);
        };
        let epoch = std::fs::read_to_string(dir.join("data/version-2/currentEpoch"))
            .ok()
            .and_then(|t| t.trim().parse().ok());
        let cfg = dir.join("zoo.cfg").display().to_string();
        let pid = match m.pids.get(&node) {
            Some(p) if proc_cmdline(*p).is_some_and(|c| c.contains(&cfg)) => Some(*p),
            _ => find_member_pid(&cfg),
        };
        let leader = pid.and_then(|p| {
            m.pids.insert(node, p);
            quorum_peer(p).and_then(|ip| m.names.get(&ip).cloned())
        });
        (epoch, leader)
    }

    /// The `zoo.cfg` of a member whose data dir is `data`.
    pub fn config(
        &self,
        cluster: &Cluster,
        id: NodeId,
        data: &Path,
    ) -> Result<String, TargetError> {
        let addr = cluster.addr(id)?;
        let mut cfg = format!(
            "tickTime={tick}\ninitLimit={init}\nsyncLimit={sync}\ndataDir={data}\n\
             clientPortAddress={addr}\nclientPort={CLIENT_PORT}\n\
             minSessionTimeout={min}\nmaxSessionTimeout=60000\n\
             4lw.commands.whitelist=srvr,stat,ruok,mntr\nadmin.enableServer=false\n\
             quorumListenOnAllIPs=false\npreAllocSize=4096\nsnapCount=20000\n\
             autopurge.purgeInterval=0\nstandaloneEnabled=false\nreconfigEnabled=false\n",
            tick = self.opts.tick_ms,
            init = (5000 / self.opts.tick_ms).max(2),
            sync = (2000 / self.opts.tick_ms).max(2),
            data = data.display(),
            min = 2 * self.opts.tick_ms,
        );
        for n in cluster.nodes() {
            cfg.push_str(&format!(
                "server.{}={}:{QUORUM_PORT}:{ELECTION_PORT}\n",
                n.id.index(),
                n.addr
            ));
        }
        Ok(cfg)
    }

    fn argv(&self, jars: &Path, node_dir: &Path) -> Vec<String> {
        vec![
            "java".into(),
            format!("-Xmx{}m", self.opts.heap_mb),
            "-Xms32m".into(),
            "-XX:+UseSerialGC".into(),
            "-XX:TieredStopAtLevel=1".into(),
            "-XX:-UsePerfData".into(),
            "-Djava.net.preferIPv4Stack=true".into(),
            "-Dzookeeper.jmx.log4j.disable=true".into(),
            format!("-Dzookeeper.log.dir={}", node_dir.display()),
            "-Dzookeeper.root.logger=INFO,CONSOLE".into(),
            format!(
                "-Dlog4j.configuration=file:{}",
                node_dir.join("log4j.properties").display()
            ),
            "-cp".into(),
            classpath(jars),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain".into(),
            node_dir.join("zoo.cfg").display().to_string(),
        ]
    }

    /// Polls every member until one leads, a majority serves, and a session to some
    /// member can write.
    fn wait_for_quorum(
        &self,
        cluster: &Cluster,
        timeout: Duration,
    ) -> Result<Duration, TargetError> {
        let handle = cluster.control()?;
        let nodes: Vec<(NodeId, SocketAddr)> = cluster
            .nodes()
            .iter()
            .map(|n| (n.id, SocketAddr::from((n.addr, CLIENT_PORT))))
            .collect();
        let majority = nodes.len() / 2 + 1;
        let probe_timeout = self.timeout;
        poll_until_healthy(
            "zookeeper: one leader, a majority serving, and a write",
            timeout,
            (Duration::from_millis(100), Duration::from_millis(500)),
            || {
                let round = {
                    let nodes = nodes.clone();
                    handle
                        .block_on(async move {
                            let mut out = Vec::new();
                            for (_, a) in &nodes {
                                out.push(
                                    four_letter(*a, "srvr", probe_timeout)
                                        .await
                                        .and_then(|t| Srvr::parse(&t)),
                                );
                            }
                            out
                        })
                        .map_err(|e| TargetError::Setup(format!("zookeeper srvr poll: {e}")))?
                };
                let leaders = round
                    .iter()
                    .flatten()
                    .filter(|s| s.mode == "leader")
                    .count();
                let seen = round
                    .iter()
                    .zip(&nodes)
                    .map(|(r, (id, _))| match r {
                        Ok(s) => format!("{id}: {} epoch {}", s.mode, s.epoch()),
                        Err(e) => format!("{id}: {e}"),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                // A follower's zxid shows the new epoch only after the first write in it,
                // so agreement is proven by the write below, not by comparing epochs.
                let serving = round
                    .iter()
                    .flatten()
                    .filter(|s| s.mode == "leader" || s.mode == "follower")
                    .count();
                if leaders != 1 || serving < majority {
                    return Ok(Probe::NotYet(seen));
                }
                let addrs: Vec<SocketAddr> = nodes.iter().map(|(_, a)| *a).collect();
                let t = self.timeout;
                let wrote = handle
                    .block_on(async move {
                        let mut last = String::new();
                        for a in addrs {
                            let kv = ZkKv::new(a, t, ReadMode::Linearizable);
                            let r = workloads::kv::Kv::write(&kv, "faultline-health", "0").await;
                            kv.close().await;
                            match r {
                                Ok(()) => return Ok(()),
                                Err(e) => last = format!("{a}: {e}"),
                            }
                        }
                        Err(last)
                    })
                    .map_err(|e| TargetError::Setup(format!("zookeeper health write: {e}")))?;
                Ok(match wrote {
                    Ok(()) => Probe::Healthy,
                    Err(e) => Probe::NotYet(format!("{seen}; health write: {e}")),
                })
            },
        )
    }
}

const LOG4J: &str = "log4j.rootLogger=${zookeeper.root.logger}\n\
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n\
log4j.appender.CONSOLE.Threshold=INFO\n\
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n\
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n\n";

impl Target for ZookeeperTarget {
    fn name(&self) -> &str {
        "zookeeper"
    }

    fn setup(&self, cluster: &Cluster) -> Result<(), TargetError> {
        let jars = locate(self.opts.dir.as_deref()).map_err(TargetError::Setup)?;
        if harness::cluster::prereq::which("java").is_none() {
            return Err(TargetError::Setup(
                "`java` is missing: install a JRE (e.g. apt-get install default-jre-headless)"
                    .into(),
            ));
        }
        {
            let mut m = self.members();
            for node in cluster.nodes() {
                m.dirs.insert(node.id, cluster.node_dir(node.id));
                m.names.insert(node.addr, node.id.to_string());
            }
        }
        start_on_every_node(cluster, CLIENT_PORT, Duration::from_secs(40), |id, dir| {
            let data = dir.join("data");
            let write = |path: PathBuf, text: String| {
                std::fs::write(&path, text)
                    .map_err(|e| TargetError::Setup(format!("{id}: {}: {e}", path.display())))
            };
            std::fs::create_dir_all(&data)
                .map_err(|e| TargetError::Setup(format!("{id}: {}: {e}", data.display())))?;
            write(dir.join("zoo.cfg"), self.config(cluster, id, &data)?)?;
            write(data.join("myid"), format!("{}\n", id.index()))?;
            write(dir.join("log4j.properties"), LOG4J.to_string())?;
            Ok(ServiceSpec::new(
                self.argv(&jars, dir),
                dir,
                dir.join("zookeeper.log"),
            ))
        })?;
        self.wait_for_quorum(cluster, Duration::from_secs(40))
            .map(drop)
    }

    fn await_healthy(&self, cluster: &Cluster, timeout: Duration) -> Result<Duration, TargetError> {
        self.wait_for_quorum(cluster, timeout)
    }

    fn status(
        &self,
        node: NodeId,
        addr: Ipv4Addr,
    ) -> Option<BoxFuture<'_, Result<NodeStatus, String>>> {
        let timeout = self.timeout;
        Some(Box::pin(async move {
            let text = four_letter(SocketAddr::from((addr, CLIENT_PORT)), "srvr", timeout).await?;
            let s = Srvr::parse(&text)?;
            let role = match s.mode.as_str() {
                "leader" => Role::Leader,
                "follower" | "observer" => Role::Follower,
                other => return Err(format!("mode {other}")),
            };
            let (epoch, followed) = self.local_view(node);
            Ok(NodeStatus {
                role,
                term: epoch.unwrap_or_else(|| s.epoch()).max(s.epoch()),
                leader: match role {
                    Role::Leader => Some(node.to_string()),
                    _ => followed,
                },
                voted_for: None,
            })
        }))
    }
}

fn proc_cmdline(pid: u32) -> Option<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
}

/// The QuorumPeerMain JVM whose command line names `cfg` (this member's zoo.cfg).
fn find_member_pid(cfg: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .find(|pid| {
            proc_cmdline(*pid).is_some_and(|c| c.contains("QuorumPeerMain") && c.contains(cfg))
        })
}

/// The remote address of `pid`'s established IPv4 connection to a quorum port.
fn quorum_peer(pid: u32) -> Option<Ipv4Addr> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).ok()?;
    established_to(&table, QUORUM_PORT)
}

/// In a `/proc/net/tcp` table, the remote address of the first established connection
/// whose remote port is `port` (addresses are little-endian hex).
pub fn established_to(table: &str, port: u16) -> Option<Ipv4Addr> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (remote, state) = (cols.get(2)?, cols.get(3)?);
        let (ip, p) = remote.split_once(':')?;
        if *state != "01" || u16::from_str_radix(p, 16).ok()? != port {
            return None;
        }
        let ip = u32::from_str_radix(ip, 16).ok()?;
        Some(Ipv4Addr::from(ip.swap_bytes()))
    })
}

/// A [`ZkKv`] for worker `k` of a cluster (home member `k mod n`).
pub fn client_for(
    cluster: &Cluster,
    k: usize,
    timeout: Duration,
    mode: ReadMode,
) -> Result<ZkKv, String> {
    let nodes = cluster.nodes();
    if nodes.is_empty() {
        return Err("a ZooKeeper client needs at least one member".into());
    }
    let n = &nodes[k % nodes.len()];
    Ok(ZkKv::new(
        SocketAddr::from((n.addr, CLIENT_PORT)),
        timeout,
        mode,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_the_established_peer_on_the_quorum_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0101A8C0:0B48 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0201A8C0:9C40 0301A8C0:0B48 06 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0201A8C0:9C41 0101A8C0:0B48 01 00000000:00000000 00:00000000 00000000     0        0 3 1
";
        // 0101A8C0 is 192.168.1.1 little-endian; the TIME_WAIT (06) row does not count.
        assert_eq!(
            established_to(table, QUORUM_PORT),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
        assert_eq!(established_to(table, 3888), None);
    }
}
