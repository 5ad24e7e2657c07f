//! Apache ZooKeeper as a system under test: one `QuorumPeerMain` JVM per namespace node.
//!
//! ```text
//! ZookeeperTarget::setup ─► zookeeper.jar in --zookeeper-dir / /usr/share/java, else
//!                           apt-get install zookeeper; `java` on PATH — on this
//!                           machine, or on each node over SSH ([`locate_on_nodes`])
//!                        ─► every node: nodes/nK/zoo.cfg, data/myid, log4j.properties;
//!                           `java -Xmx256m … -cp … QuorumPeerMain zoo.cfg` in its slot
//!                           (the JVM is the slot's process group: kill and pause reach it)
//!                        ─► wait: one leader, a majority serving in its epoch, a session
//! status(node)           ─► asks the member itself, asynchronously: `srvr` (mode, zxid)
//!                           and the AdminServer's `leader` command (who it follows); a
//!                           leader's epoch is its zxid's, a follower's is its leader's
//! ZkKv                   ─► Kv and Lock over a session with the worker's home member
//! ```
//!
//! Tick time is 200 ms (init limit 5 s, sync limit 2 s): short enough that a partitioned
//! leader steps down within seconds, long enough for five JVMs on a two-core machine.
//! Only the four-letter words `srvr, stat, ruok, mntr` are allowed; the AdminServer
//! (Jetty, on Debian's classpath through zookeeper.jar's manifest) listens on the
//! member's own address, port [`ADMIN_PORT`], for the `leader` command. A killed member
//! restarts with the same command and data dir.
//!
//! Read modes: `linearizable` (sync, then read) and `serializable` (plain reads from the
//! member's local state, which ZooKeeper only promises to be sequentially consistent).
//!
//! Errors are classified in one table: [`client`]'s module docs.

pub mod client;
pub mod election;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use checkers::split_brain::Role;
use harness::target::{
    poll_until_healthy, start_on_every_node, BoxFuture, NodeStatus, Probe, StatusError, Target,
    TargetError,
};
use runtime::{NodeId, Runtime, ServiceSpec};

pub use client::{four_letter, Srvr, ZkKv};

use crate::apt;
use crate::read_mode::ReadMode;

/// Client port on every node.
pub const CLIENT_PORT: u16 = 2181;
/// Quorum (follower ↔ leader) port.
pub const QUORUM_PORT: u16 = 2888;
/// Leader election port.
pub const ELECTION_PORT: u16 = 3888;
/// The AdminServer's HTTP port (its `/commands/leader` names a member's leader).
pub const ADMIN_PORT: u16 = 8081;
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

impl ZookeeperOptions {
    /// `syncLimit`: the ticks a follower may lag (or a leader stay silent) before it is
    /// dropped — about 2 s whatever the tick.
    pub fn sync_limit_ticks(&self) -> u32 {
        (2000 / self.tick_ms.max(1)).max(2) as u32
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

/// The log4j binding for slf4j, put on the classpath when the jar directory has it.
const LOG4J_JARS: [&str; 2] = ["slf4j-log4j12.jar", "log4j-1.2.jar"];

/// The classpath: zookeeper.jar (its manifest names its dependencies) and a log4j
/// binding for slf4j when the directory has one (`has`: whether a file exists where
/// the JVM runs).
fn classpath(dir: &Path, has: impl Fn(&Path) -> bool) -> String {
    let mut cp = vec![dir.join("zookeeper.jar")];
    for jar in LOG4J_JARS {
        if has(&dir.join(jar)) {
            cp.push(dir.join(jar));
        }
    }
    cp.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// What runs a member on one node: the JVM and the classpath, as found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub java: String,
    pub classpath: String,
}

/// Debian's ZooKeeper package and the service it would start.
const ZOOKEEPER_PACKAGE: runtime::packages::Package = runtime::packages::Package {
    name: "zookeeper",
    units: &["zookeeper.service"],
};

/// A headless JRE, for a node with ZooKeeper's jars but no `java`.
const JRE_PACKAGE: runtime::packages::Package = runtime::packages::Package {
    name: "default-jre-headless",
    units: &[],
};

/// Prints where `java` is on the node's PATH (a constant script: nothing is spliced in).
const WHICH_JAVA: &str = "command -v java";

/// The program on nodes that are other machines, found on each node through the
/// runtime: the given jar directory (which must hold zookeeper.jar on every node), or
/// Debian's `zookeeper`, installed on each node where it is missing (its system service
/// kept stopped); `java` on the node's PATH, with Debian's headless JRE installed where
/// there is none. The controller's own files and packages are never used.
pub fn locate_on_nodes(
    rt: &dyn Runtime,
    dir: Option<&Path>,
) -> Result<Vec<(NodeId, Program)>, TargetError> {
    let jars = dir.map_or_else(|| PathBuf::from(DEBIAN_JARS), Path::to_path_buf);
    let has = |id: NodeId, path: &Path| -> Result<bool, TargetError> {
        Ok(rt
            .exec(id, &runtime::Cmd::new("test").arg("-f").arg(path))?
            .success())
    };
    let java = |id: NodeId| -> Result<Option<String>, TargetError> {
        let out = rt.exec(id, &runtime::Cmd::new("sh").args(["-c", WHICH_JAVA]))?;
        let path = out.stdout_lossy().trim().to_string();
        Ok((out.success() && !path.is_empty()).then_some(path))
    };
    let mut programs = Vec::new();
    for id in rt.node_ids() {
        if dir.is_none() {
            runtime::packages::ensure(rt, id, ZOOKEEPER_PACKAGE)?;
        }
        if !has(id, &jars.join("zookeeper.jar"))? {
            return Err(TargetError::Setup(match dir {
                Some(d) => format!(
                    "{id}: --zookeeper-dir {}: no zookeeper.jar there on the node",
                    d.display()
                ),
                None => format!(
                    "{id}: {}/zookeeper.jar is missing on the node although Debian's \
                     zookeeper is installed",
                    DEBIAN_JARS
                ),
            }));
        }
        let java = match java(id)? {
            Some(j) => j,
            None => {
                runtime::packages::ensure(rt, id, JRE_PACKAGE)?;
                java(id)?.ok_or_else(|| {
                    TargetError::Setup(format!(
                        "{id}: `java` is not on the node's PATH, even after installing {}",
                        JRE_PACKAGE.name
                    ))
                })?
            }
        };
        let mut found = std::collections::BTreeSet::new();
        for jar in LOG4J_JARS {
            let path = jars.join(jar);
            if has(id, &path)? {
                found.insert(path);
            }
        }
        programs.push((
            id,
            Program {
                java,
                classpath: classpath(&jars, |p| found.contains(p)),
            },
        ));
    }
    Ok(programs)
}

/// ZooKeeper as a system under test.
pub struct ZookeeperTarget {
    opts: ZookeeperOptions,
    timeout: Duration,
    /// For the AdminServer's `leader` command (made on first use).
    http: std::sync::OnceLock<reqwest::Client>,
}

/// The AdminServer's answer to `leader`.
#[derive(Debug, serde::Deserialize)]
struct LeaderCommand {
    is_leader: bool,
    /// The leader's `myid` (the node's index); absent while there is none.
    #[serde(default)]
    leader_id: Option<i64>,
    #[serde(default)]
    leader_ip: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

impl ZookeeperTarget {
    pub fn new(opts: ZookeeperOptions) -> ZookeeperTarget {
        ZookeeperTarget {
            opts,
            timeout: Duration::from_millis(1000),
            http: std::sync::OnceLock::new(),
        }
    }

    fn http(&self) -> Result<&reqwest::Client, StatusError> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let c = reqwest::Client::builder()
            .timeout(self.timeout)
            .no_proxy()
            .build()
            .map_err(|e| StatusError::Unreachable(format!("HTTP client: {e}")))?;
        Ok(self.http.get_or_init(|| c))
    }

    /// Who the member at `addr` follows, from its AdminServer.
    async fn leader_of(&self, addr: Ipv4Addr) -> Result<LeaderCommand, StatusError> {
        let url = format!("http://{addr}:{ADMIN_PORT}/commands/leader");
        let resp = self.http()?.get(&url).send().await.map_err(|e| {
            if e.is_timeout() {
                StatusError::Timeout(self.timeout)
            } else {
                StatusError::Unreachable(format!("{url}: {e}"))
            }
        })?;
        let text = resp
            .text()
            .await
            .map_err(|e| StatusError::Unreachable(format!("{url}: {e}")))?;
        let answer: LeaderCommand = serde_json::from_str(&text)
            .map_err(|e| StatusError::BadAnswer(format!("{url}: {e}: {text}")))?;
        match &answer.error {
            Some(e) => Err(StatusError::BadAnswer(format!("{url}: {e}"))),
            None => Ok(answer),
        }
    }

    /// The member's mode and zxid from `srvr`.
    async fn srvr(&self, addr: Ipv4Addr) -> Result<Srvr, StatusError> {
        let text = four_letter(SocketAddr::from((addr, CLIENT_PORT)), "srvr", self.timeout)
            .await
            .map_err(StatusError::Unreachable)?;
        Srvr::parse(&text).map_err(StatusError::BadAnswer)
    }

    /// The `zoo.cfg` of a member whose data dir is `data`.
    pub fn config(&self, rt: &dyn Runtime, id: NodeId, data: &Path) -> Result<String, TargetError> {
        let addr = rt.addr(id)?;
        let mut cfg = format!(
            "tickTime={tick}\ninitLimit={init}\nsyncLimit={sync}\ndataDir={data}\n\
             clientPortAddress={addr}\nclientPort={CLIENT_PORT}\n\
             minSessionTimeout={min}\nmaxSessionTimeout=60000\n\
             4lw.commands.whitelist=srvr,stat,ruok,mntr\nadmin.enableServer=true\n\
             admin.serverAddress={addr}\nadmin.serverPort={ADMIN_PORT}\n\
             quorumListenOnAllIPs=false\npreAllocSize=4096\nsnapCount=20000\n\
             autopurge.purgeInterval=0\nstandaloneEnabled=false\nreconfigEnabled=false\n",
            tick = self.opts.tick_ms,
            init = (5000 / self.opts.tick_ms).max(2),
            sync = self.opts.sync_limit_ticks(),
            data = data.display(),
            min = 2 * self.opts.tick_ms,
        );
        for n in rt.nodes() {
            cfg.push_str(&format!(
                "server.{}={}:{QUORUM_PORT}:{ELECTION_PORT}\n",
                n.id.index(),
                n.addr
            ));
        }
        Ok(cfg)
    }

    fn argv(&self, program: &Program, node_dir: &Path) -> Vec<String> {
        vec![
            program.java.clone(),
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
            program.classpath.clone(),
            "org.apache.zookeeper.server.quorum.QuorumPeerMain".into(),
            node_dir.join("zoo.cfg").display().to_string(),
        ]
    }

    /// Polls every member until one leads, a majority serves, and a session to some
    /// member can write.
    fn wait_for_quorum(
        &self,
        rt: &dyn Runtime,
        timeout: Duration,
    ) -> Result<Duration, TargetError> {
        let handle = rt.clients()?;
        let nodes: Vec<(NodeId, SocketAddr)> = rt
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

    /// A follower gives up on a silent leader after `syncLimit` ticks (the config's 2 s),
    /// then fast leader election takes a couple of ticks more.
    fn failover(&self) -> Duration {
        let tick = Duration::from_millis(self.opts.tick_ms);
        tick * (self.opts.sync_limit_ticks() + 2)
    }

    fn deploy(&self, rt: &dyn Runtime) -> Result<(), TargetError> {
        let programs: Vec<(NodeId, Program)> = if rt.remote() {
            locate_on_nodes(rt, self.opts.dir.as_deref())?
        } else {
            let jars = locate(self.opts.dir.as_deref()).map_err(TargetError::Setup)?;
            if runtime::netns::prereq::which("java").is_none() {
                return Err(TargetError::Setup(
                    "`java` is missing: install a JRE (e.g. apt-get install \
                     default-jre-headless)"
                        .into(),
                ));
            }
            let program = Program {
                java: "java".into(),
                classpath: classpath(&jars, Path::is_file),
            };
            rt.node_ids()
                .into_iter()
                .map(|id| (id, program.clone()))
                .collect()
        };
        start_on_every_node(rt, CLIENT_PORT, Duration::from_secs(40), |id, dir| {
            let program = programs
                .iter()
                .find(|(n, _)| *n == id)
                .map(|(_, p)| p)
                .ok_or_else(|| TargetError::Setup(format!("{id}: no ZooKeeper program")))?;
            let data = dir.join("data");
            rt.write_file(
                id,
                Path::new("zoo.cfg"),
                self.config(rt, id, &data)?.as_bytes(),
            )?;
            rt.write_file(
                id,
                Path::new("data/myid"),
                format!("{}\n", id.index()).as_bytes(),
            )?;
            rt.write_file(id, Path::new("log4j.properties"), LOG4J.as_bytes())?;
            Ok(ServiceSpec::new(
                self.argv(program, dir),
                dir,
                dir.join("zookeeper.log"),
            ))
        })
    }

    fn setup_timeout(&self) -> Duration {
        Duration::from_secs(40)
    }

    fn await_healthy(&self, rt: &dyn Runtime, timeout: Duration) -> Result<Duration, TargetError> {
        self.wait_for_quorum(rt, timeout)
    }

    /// Asks the member itself: `srvr` for its mode and zxid, the AdminServer's `leader`
    /// for whom it follows. A leader's epoch is its own zxid's (a new leader starts at
    /// (epoch, 0)); a follower's zxid shows a new epoch only after that epoch's first
    /// write, so its epoch is its leader's, asked of the leader (its own if the leader
    /// does not answer).
    fn status(
        &self,
        node: NodeId,
        addr: Ipv4Addr,
    ) -> Option<BoxFuture<'_, Result<NodeStatus, StatusError>>> {
        Some(Box::pin(async move {
            let s = self.srvr(addr).await?;
            let role = match s.mode.as_str() {
                "leader" => Role::Leader,
                "follower" | "observer" => Role::Follower,
                other => return Err(StatusError::BadAnswer(format!("mode {other}"))),
            };
            if role == Role::Leader {
                return Ok(NodeStatus {
                    role,
                    term: s.epoch(),
                    leader: Some(node.to_string()),
                    voted_for: None,
                });
            }
            let l = self.leader_of(addr).await?;
            let leader = l
                .leader_id
                .filter(|id| *id >= 1 && *id <= i64::from(u16::MAX) && !l.is_leader)
                .map(|id| NodeId::nth(id as u16).to_string());
            let leader_epoch = match l.leader_ip.as_deref().and_then(|ip| ip.parse().ok()) {
                Some(ip) => self.srvr(ip).await.ok().filter(|s| s.mode == "leader"),
                None => None,
            }
            .map(|s| s.epoch());
            Ok(NodeStatus {
                role,
                term: leader_epoch.unwrap_or(0).max(s.epoch()),
                leader,
                voted_for: None,
            })
        }))
    }
}

/// A [`ZkKv`] for worker `k` of a cluster (home member `k mod n`).
pub fn client_for(
    rt: &dyn Runtime,
    k: usize,
    timeout: Duration,
    mode: ReadMode,
) -> Result<ZkKv, String> {
    let nodes = rt.nodes();
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
    use runtime::fake::RecordingRuntime;

    #[test]
    fn the_failover_figure_is_the_sync_limit_plus_an_election() {
        let rt = RecordingRuntime::new(3);
        let t = ZookeeperTarget::new(ZookeeperOptions::default());
        assert_eq!(t.failover(), Duration::from_millis(2400));
        let cfg = t.config(&rt, NodeId::nth(1), Path::new("/d")).unwrap();
        assert!(cfg.contains("syncLimit=10\n"), "{cfg}");
    }

    #[test]
    fn members_serve_the_admin_leader_command_on_their_own_address() {
        let rt = RecordingRuntime::new(3);
        let t = ZookeeperTarget::new(ZookeeperOptions::default());
        let cfg = t.config(&rt, NodeId::nth(2), Path::new("/d/data")).unwrap();
        assert!(cfg.contains("admin.enableServer=true\n"), "{cfg}");
        assert!(cfg.contains("admin.serverAddress=198.18.0.2\n"), "{cfg}");
        assert!(
            cfg.contains(&format!("admin.serverPort={ADMIN_PORT}\n")),
            "{cfg}"
        );
        assert!(cfg.contains("server.3=198.18.0.3:2888:3888\n"), "{cfg}");
    }

    #[test]
    fn the_leader_command_reads_as_the_admin_server_writes_it() {
        let follower: LeaderCommand = serde_json::from_str(
            r#"{"is_leader":false,"leader_id":3,"leader_ip":"198.18.0.3","command":"leader","error":null}"#,
        )
        .unwrap();
        assert!(!follower.is_leader);
        assert_eq!(follower.leader_id, Some(3));
        assert_eq!(follower.leader_ip.as_deref(), Some("198.18.0.3"));
        let looking: LeaderCommand = serde_json::from_str(
            r#"{"is_leader":false,"command":"leader","error":"server is not initialized"}"#,
        )
        .unwrap();
        assert_eq!(looking.error.as_deref(), Some("server is not initialized"));
    }

    fn answer(code: i32, stdout: &str) -> runtime::exec::Output {
        runtime::exec::Output {
            code: Some(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
        }
    }

    #[test]
    fn remote_nodes_run_their_own_zookeeper_and_java() {
        let rt = RecordingRuntime::new(2);
        rt.respond(&["dpkg-query"], answer(0, "install ok installed"));
        rt.respond(
            &["sh", "-c", WHICH_JAVA],
            answer(0, "/usr/lib/jvm/x/bin/java\n"),
        );
        rt.respond(
            &["test", "-f", "/usr/share/java/log4j-1.2.jar"],
            answer(1, ""),
        );
        let programs = locate_on_nodes(&rt, None).unwrap();
        assert_eq!(
            programs[1],
            (
                NodeId::nth(2),
                Program {
                    java: "/usr/lib/jvm/x/bin/java".into(),
                    classpath: "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar"
                        .into(),
                }
            )
        );
        assert_eq!(
            rt.commands()
                .iter()
                .filter(|c| c.starts_with("n1: "))
                .cloned()
                .collect::<Vec<_>>(),
            [
                "n1: dpkg-query -W -f=${Status} zookeeper",
                "n1: test -f /usr/share/java/zookeeper.jar",
                "n1: sh -c command -v java",
                "n1: test -f /usr/share/java/slf4j-log4j12.jar",
                "n1: test -f /usr/share/java/log4j-1.2.jar",
            ],
            "everything is asked of the node"
        );
    }

    #[test]
    fn a_node_without_java_gets_debian_s_jre() {
        let rt = RecordingRuntime::new(1);
        rt.respond(&["dpkg-query"], answer(0, "install ok installed"));
        rt.respond(&["sh", "-c", WHICH_JAVA], answer(1, ""));
        let e = locate_on_nodes(&rt, Some(Path::new("/opt/zk"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "n1: `java` is not on the node's PATH, even after installing default-jre-headless"
        );
        let cmds = rt.commands();
        assert!(
            cmds.contains(&"n1: dpkg-query -W -f=${Status} default-jre-headless".to_string()),
            "{cmds:?}"
        );
        assert!(
            !cmds.iter().any(|c| c.ends_with("${Status} zookeeper")),
            "a given jar directory installs no zookeeper: {cmds:?}"
        );
    }

    #[test]
    fn a_given_jar_directory_missing_on_a_node_names_the_node() {
        let rt = RecordingRuntime::new(2);
        rt.respond(&["test", "-f", "/opt/zk/zookeeper.jar"], answer(1, ""));
        let e = locate_on_nodes(&rt, Some(Path::new("/opt/zk"))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "n1: --zookeeper-dir /opt/zk: no zookeeper.jar there on the node"
        );
    }
}
