//! Nodes on real machines, reached over SSH: the second [`Runtime`], beside network
//! namespaces.
//!
//! ```text
//! SshCluster::connect(SshConfig { hosts: [h1..hN], service hosts: [s1..sK], user, … })
//!   ├─ one SshLink per host (openssh: a multiplexed `ssh -M` master each), in parallel;
//!   │  n1..nN are the system's nodes, n<N+1>..n<N+K> the service nodes (candidates)
//!   ├─ `printenv SSH_CONNECTION` on each: the node's address and the controller's
//!   └─ mkdir <root>/<run>/n<i>        (root: /var/lib/faultline)
//! exec        ─► [sudo -n --] argv over the master
//! services    ─► setsid launcher, pidfile <node dir>/service.pid, log; kill/stop/cont
//!                to the group; restart = the same spec again
//! filters     ─► the FAULTLINE chain via iptables-restore --noflush (the default
//!                [`Runtime::apply_filter`]); the controller's address is exempt
//! binary      ─► <root>/bin/faultline-<sha256>, uploaded once per node
//! down / Drop ─► kill services, clear the chain, rm the run's directories, close masters
//! clean       ─► for runs a dead controller left: pidfiles → kill, chain, directories
//! ```
//!
//! Clients run on the controller's own network ([`crate::control::PlainRuntime`]) and
//! connect to the nodes' addresses; with [`SshCluster::connect_with`] a caller can give
//! another runtime (the tests give a control namespace's, so that `ssh` and clients
//! reach sshd servers inside namespaces without touching the host's network).
//!
//! Invariants: only the run's own directory, its services' process groups (recorded in
//! pidfiles before they are signalled) and the `FAULTLINE` chain are ever changed on a
//! node; an SSH failure is a [`RuntimeError`] naming the node and its host.
//!
//! References: Jepsen's `jepsen.control` (ssh, sudo, `exec`), `jepsen.control.util`
//! (`start-daemon!` with setsid and a pidfile, `stop-daemon!`), `jepsen.os.debian`
//! (`install`).

pub mod config;
pub mod link;
pub mod remote;
pub mod testbed;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use config::{
    parse_host_list, parse_hosts, parse_nodes_file, Host, HostKeyChecking, HostLists, NodeSpec,
    NodesArg, SshConfig, SshNodes, SERVICE_NODES_MARKER,
};
pub use link::{NodeLink, SshLink};

use crate::control::{ControlHandle, PlainRuntime};
use crate::exec::{Cmd, Exec, ExecError, Output, RealExec};
use crate::service::{ServiceSpec, ServiceState, KILL_TIMEOUT};
use crate::wait;
use crate::{NodeId, NodeInfo, Runtime, RuntimeError, Signal};

/// The note [`Runtime::collect`] leaves in the store when a node's directory was too
/// big to download ([`remote::DATA_LIMIT`]).
pub const NOT_DOWNLOADED: &str = "NOT_DOWNLOADED.txt";

/// How long an upload of the faultline binary may take per node.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// One node's service slot, as this controller knows it.
#[derive(Debug, Default)]
struct Slot {
    spec: Option<ServiceSpec>,
    /// The group of the last start, until it is seen gone.
    pgid: Option<u32>,
    /// Set when the group ended without our kill.
    exited: bool,
}

/// One SSH node.
pub struct SshNode {
    pub id: NodeId,
    pub host: Host,
    /// The address the controller reached it at (clients and peers use it).
    pub addr: Ipv4Addr,
    link: Arc<dyn NodeLink>,
    slot: Mutex<Slot>,
    binary: Mutex<Option<PathBuf>>,
    /// Held while the node's `FAULTLINE` chain is written or removed, so a teardown's
    /// clear never interleaves with a fault thread's apply.
    filter: Mutex<()>,
}

enum Clients {
    Own(PlainRuntime),
    Given(ControlHandle),
}

impl Clients {
    fn handle(&self) -> ControlHandle {
        match self {
            Clients::Own(rt) => rt.handle(),
            Clients::Given(h) => h.clone(),
        }
    }
}

/// A run's SSH nodes. `Send + Sync`; torn down by [`SshCluster::down`] or on drop.
pub struct SshCluster {
    run: String,
    root: PathBuf,
    sudo: bool,
    /// The system's nodes, then the service nodes (the last `services` of them): every
    /// per-node operation, teardown and clean treat both alike.
    nodes: Vec<SshNode>,
    services: usize,
    exempt: Vec<Ipv4Addr>,
    clients: Clients,
    /// The local binary and its sha256, hashed on first use.
    local_binary: Mutex<Option<(PathBuf, String)>>,
    /// Whether this value still has to tear the run down (cleared by the first
    /// teardown, so a later one finds nothing to do). Held for the whole teardown: a
    /// second caller (the signal handler, a drop) waits until the first has finished.
    owned: Mutex<bool>,
    /// Set when teardown begins: from then on nothing new is started, written or
    /// filtered on the nodes (a thread still running, such as a fault thread a forced
    /// exit did not stop, would otherwise leave a chain, a process or a file behind).
    closed: AtomicBool,
}

impl std::fmt::Debug for SshCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshCluster")
            .field("run", &self.run)
            .field(
                "hosts",
                &self
                    .nodes
                    .iter()
                    .map(|n| n.host.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What [`SshCluster::clean`] removed on one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Process groups killed.
    pub groups: Vec<u32>,
    /// Run directories removed.
    pub dirs: Vec<PathBuf>,
}

impl SshCluster {
    /// Connects to every host of `cfg` (clients run on this machine's network), makes
    /// the run's directories, and owns them: they go on [`SshCluster::down`] or drop.
    pub fn connect(cfg: &SshConfig) -> Result<SshCluster, RuntimeError> {
        let rt = PlainRuntime::new(2).map_err(|e| RuntimeError::Other(e.to_string()))?;
        Self::connect_inner(cfg, Clients::Own(rt), true)
    }

    /// [`SshCluster::connect`] with `ssh` and the clients on the given runtime.
    pub fn connect_with(
        cfg: &SshConfig,
        clients: ControlHandle,
    ) -> Result<SshCluster, RuntimeError> {
        Self::connect_inner(cfg, Clients::Given(clients), true)
    }

    /// Connects without owning anything (for `clean` and `cluster` commands): no run
    /// directory is made, and nothing is torn down on drop.
    pub fn attach_with(
        cfg: &SshConfig,
        clients: Option<ControlHandle>,
    ) -> Result<SshCluster, RuntimeError> {
        let clients = match clients {
            Some(h) => Clients::Given(h),
            None => {
                Clients::Own(PlainRuntime::new(1).map_err(|e| RuntimeError::Other(e.to_string()))?)
            }
        };
        Self::connect_inner(cfg, clients, false)
    }

    fn connect_inner(
        cfg: &SshConfig,
        clients: Clients,
        owned: bool,
    ) -> Result<SshCluster, RuntimeError> {
        crate::netns::addr::validate_run_name(&cfg.run).map_err(RuntimeError::Other)?;
        if cfg.nodes.is_empty() {
            return Err(RuntimeError::Other("no SSH node given".into()));
        }
        let handle = clients.handle();
        let all: Vec<&NodeSpec> = cfg.nodes.iter().chain(&cfg.service_nodes).collect();
        // Every master at once: a 5-node connect costs one handshake, not five.
        let links: Vec<Result<SshLink, String>> = std::thread::scope(|s| {
            let jobs: Vec<_> = all
                .iter()
                .map(|n| {
                    let handle = handle.clone();
                    s.spawn(move || SshLink::connect(cfg, &n.host, &handle))
                })
                .collect();
            jobs.into_iter()
                .map(|j| {
                    j.join()
                        .unwrap_or_else(|_| Err("connect thread panicked".into()))
                })
                .collect()
        });
        let mut ok = Vec::new();
        for (i, link) in links.into_iter().enumerate() {
            let link = link.map_err(|reason| RuntimeError::Unreachable {
                node: NodeId::nth(i as u16 + 1).to_string(),
                reason,
            })?;
            let node = NodeSpec {
                host: link.host().clone(),
                addr: all[i].addr,
            };
            ok.push((node, Arc::new(link) as Arc<dyn NodeLink>));
        }
        Self::from_links(
            &cfg.run,
            &cfg.root,
            cfg.sudo,
            ok,
            cfg.service_nodes.len(),
            clients,
            owned,
        )
    }

    /// Builds the cluster over already-open links (real ones, or recording ones in
    /// unit tests; the last `services` are service nodes): learns each node's address
    /// (unless given) and the controller's from `SSH_CONNECTION`, and (when `owned`)
    /// makes the run's directory on each node.
    fn from_links(
        run: &str,
        root: &Path,
        sudo: bool,
        links: Vec<(NodeSpec, Arc<dyn NodeLink>)>,
        services: usize,
        clients: Clients,
        owned: bool,
    ) -> Result<SshCluster, RuntimeError> {
        if links.len() > usize::from(u16::MAX) {
            return Err(RuntimeError::Other("too many nodes".into()));
        }
        if services >= links.len() {
            return Err(RuntimeError::Other(format!(
                "{services} service nodes leave no system node of {}",
                links.len()
            )));
        }
        // Every node at once: the round trips overlap.
        let learned: Vec<Result<(Ipv4Addr, Ipv4Addr), RuntimeError>> = std::thread::scope(|s| {
            let jobs: Vec<_> = links
                .iter()
                .enumerate()
                .map(|(i, (spec, link))| {
                    let who = format!("{} ({})", NodeId::nth(i as u16 + 1), spec.host);
                    s.spawn(move || -> Result<(Ipv4Addr, Ipv4Addr), RuntimeError> {
                        let unreachable = |reason: String| RuntimeError::Unreachable {
                            node: who.clone(),
                            reason,
                        };
                        // Not through sudo: sudo clears SSH_CONNECTION.
                        let out = link
                            .run(&Cmd::new("printenv").arg("SSH_CONNECTION"))
                            .map_err(|e| unreachable(e.to_string()))?;
                        remote::parse_ssh_connection(&out.stdout_lossy()).map_err(unreachable)
                    })
                })
                .collect();
            jobs.into_iter()
                .map(|j| {
                    j.join().unwrap_or_else(|_| {
                        Err(RuntimeError::Other("a node thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut nodes = Vec::new();
        let mut exempt = BTreeSet::new();
        for (i, ((NodeSpec { host, addr: given }, link), seen)) in
            links.into_iter().zip(learned).enumerate()
        {
            let (controller, addr) = seen?;
            exempt.insert(controller);
            nodes.push(SshNode {
                id: NodeId::nth(i as u16 + 1),
                host,
                addr: given.unwrap_or(addr),
                link,
                slot: Mutex::new(Slot::default()),
                binary: Mutex::new(None),
                filter: Mutex::new(()),
            });
        }
        let cluster = SshCluster {
            run: run.to_string(),
            root: root.to_path_buf(),
            sudo,
            nodes,
            services,
            exempt: exempt.into_iter().collect(),
            clients,
            local_binary: Mutex::new(None),
            owned: Mutex::new(owned),
            closed: AtomicBool::new(false),
        };
        if owned {
            // From here on, Drop removes what was made.
            cluster.each_node(|n| {
                cluster
                    .run_ok(n, &remote::mkdir(&cluster.dir_of(n)))
                    .map(|_| ())
            })?;
        }
        Ok(cluster)
    }

    /// Runs `f` for every node at once (one thread each); the first error in node
    /// order, after all have finished.
    fn each_node<T: Send>(
        &self,
        f: impl Fn(&SshNode) -> Result<T, RuntimeError> + Sync,
    ) -> Result<Vec<T>, RuntimeError> {
        let f = &f;
        std::thread::scope(|s| {
            let jobs: Vec<_> = self.nodes.iter().map(|n| s.spawn(move || f(n))).collect();
            jobs.into_iter()
                .map(|j| {
                    j.join().unwrap_or_else(|_| {
                        Err(RuntimeError::Other("a node thread panicked".into()))
                    })
                })
                .collect()
        })
    }

    /// The nodes with their hosts: the system's, then the service nodes.
    pub fn members(&self) -> &[SshNode] {
        &self.nodes
    }

    /// The system's nodes (`n1..nN`), then the service nodes.
    fn split(&self) -> (&[SshNode], &[SshNode]) {
        self.nodes.split_at(self.nodes.len() - self.services)
    }

    fn infos(nodes: &[SshNode]) -> Vec<NodeInfo> {
        nodes
            .iter()
            .map(|n| NodeInfo {
                id: n.id,
                addr: n.addr,
            })
            .collect()
    }

    fn member(&self, id: NodeId) -> Result<&SshNode, RuntimeError> {
        usize::from(id.index())
            .checked_sub(1)
            .and_then(|i| self.nodes.get(i))
            .ok_or_else(|| RuntimeError::NoSuchNode {
                run: self.run.clone(),
                node: id.to_string(),
            })
    }

    fn dir_of(&self, n: &SshNode) -> PathBuf {
        remote::node_dir(&self.root, &self.run, &n.id.to_string())
    }

    fn who(n: &SshNode) -> String {
        format!("{} ({})", n.id, n.host)
    }

    fn lock(n: &SshNode) -> MutexGuard<'_, Slot> {
        n.slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `cmd` (wrapped for sudo) on node `n`.
    fn run_on(&self, n: &SshNode, cmd: &Cmd) -> Result<Output, RuntimeError> {
        n.link
            .output(&remote::wrap(cmd, self.sudo))
            .map_err(|source| match source {
                // The link could not run it at all: ssh itself failed.
                ExecError::Spawn { source, .. } => RuntimeError::Unreachable {
                    node: Self::who(n),
                    reason: format!("`{cmd}`: {source}"),
                },
                source => RuntimeError::Exec {
                    node: Self::who(n),
                    what: format!("`{cmd}`"),
                    source,
                },
            })
    }

    fn run_ok(&self, n: &SshNode, cmd: &Cmd) -> Result<Output, RuntimeError> {
        let out = self.run_on(n, cmd)?;
        if out.success() {
            return Ok(out);
        }
        Err(RuntimeError::Exec {
            node: Self::who(n),
            what: format!("`{cmd}`"),
            source: ExecError::Failed {
                cmd: cmd.to_string(),
                status: match out.code {
                    Some(c) => format!("exit {c}"),
                    None => "killed by a signal".into(),
                },
                stderr: out.stderr_lossy().trim().to_string(),
            },
        })
    }

    /// The group's state on the node, `None` when no live process is left.
    fn group_state(&self, n: &SshNode, pgid: u32) -> Result<Option<ServiceState>, RuntimeError> {
        let out = self.run_on(n, &remote::group_state(pgid))?;
        Ok(remote::parse_group_state(&out.stdout_lossy()))
    }

    fn launch(&self, n: &SshNode, slot: &mut Slot) -> Result<u32, RuntimeError> {
        self.open(n)?;
        if let Some(pgid) = slot.pgid {
            if self.group_state(n, pgid)?.is_some() {
                return Err(RuntimeError::AlreadyRunning {
                    node: Self::who(n),
                    pid: pgid,
                });
            }
        }
        let spec = slot
            .spec
            .clone()
            .ok_or_else(|| RuntimeError::NoService { node: Self::who(n) })?;
        let pidfile = self.dir_of(n).join(remote::PIDFILE);
        let out = self.run_ok(n, &remote::launch(&spec, &pidfile))?;
        let pgid = remote::parse_launched(&out.stdout_lossy()).map_err(|e| {
            RuntimeError::Other(format!("{}: starting the service: {e}", Self::who(n)))
        })?;
        tracing::debug!(node = %n.id, host = %n.host, pgid, argv = ?spec.argv, "service started");
        slot.pgid = Some(pgid);
        slot.exited = false;
        Ok(pgid)
    }

    /// SIGKILLs the slot's group and waits until no process of it is left.
    fn kill_slot(&self, n: &SshNode, slot: &mut Slot) -> Result<bool, RuntimeError> {
        let Some(pgid) = slot.pgid else {
            return Ok(false);
        };
        if self.group_state(n, pgid)?.is_none() {
            slot.pgid = None;
            return Ok(false);
        }
        // A failing kill (the group just ended) is judged by the poll below.
        self.run_on(n, &remote::signal(Signal::Kill, pgid))?;
        let what = format!("process group {pgid} on {} to die", Self::who(n));
        let mut err = None;
        let gone = wait::poll_until(KILL_TIMEOUT, &what, || match self.group_state(n, pgid) {
            Ok(None) => Some(true),
            Ok(Some(_)) => None,
            Err(e) => {
                err = Some(e);
                Some(false)
            }
        })?;
        if let (false, Some(e)) = (gone, err) {
            return Err(e);
        }
        slot.pgid = None;
        slot.exited = false;
        Ok(true)
    }

    /// Copies the node's directory into `dest` (a gzipped tar over the master, unpacked
    /// here without overwriting what `dest` holds) when it holds at most
    /// [`remote::DATA_LIMIT`]; otherwise writes [`NOT_DOWNLOADED`] there saying why.
    fn download_dir(&self, n: &SshNode, dir: &Path, dest: &Path) -> Result<(), RuntimeError> {
        let io = |what: String| {
            move |source: std::io::Error| RuntimeError::Io {
                node: Self::who(n),
                what,
                source,
            }
        };
        let size = self.run_on(n, &remote::size(dir))?;
        if !size.success() {
            // No directory (a node whose run never got that far): nothing to copy.
            return Ok(());
        }
        let bytes = remote::parse_size(&size.stdout_lossy()).ok_or_else(|| {
            RuntimeError::Other(format!(
                "{}: du printed {:?}",
                Self::who(n),
                size.stdout_lossy()
            ))
        })?;
        std::fs::create_dir_all(dest).map_err(io(format!("creating {}", dest.display())))?;
        if bytes > remote::DATA_LIMIT {
            let why = format!(
                "{} on {}: {} holds {bytes} bytes, over the {} bytes a node's directory may \
                 hold to be downloaded; only its logs were\n",
                n.id,
                n.host,
                dir.display(),
                remote::DATA_LIMIT
            );
            tracing::warn!("{}", why.trim_end());
            let note = dest.join(NOT_DOWNLOADED);
            return std::fs::write(&note, why).map_err(io(format!("writing {}", note.display())));
        }
        let tar = self.run_on(n, &remote::archive(dir, UPLOAD_TIMEOUT))?;
        if !remote::archived(tar.code) {
            return Err(RuntimeError::Exec {
                node: Self::who(n),
                what: format!("archiving {}", dir.display()),
                source: ExecError::Failed {
                    cmd: "tar -c".into(),
                    status: format!("{:?}", tar.code),
                    stderr: tar.stderr_lossy().trim().to_string(),
                },
            });
        }
        RealExec
            .run(
                &Cmd::new("tar")
                    .args([
                        "-x",
                        "-z",
                        "-f",
                        "-",
                        "--skip-old-files",
                        "--no-same-owner",
                        "-C",
                    ])
                    .arg(dest)
                    .stdin(tar.stdout)
                    .timeout(UPLOAD_TIMEOUT),
            )
            .map_err(|source| RuntimeError::Exec {
                node: Self::who(n),
                what: format!("unpacking {} into {}", dir.display(), dest.display()),
                source,
            })?;
        Ok(())
    }

    /// The sha256 of this very binary (hashed once).
    fn local_binary(&self) -> Result<(PathBuf, String), RuntimeError> {
        let mut cached = self
            .local_binary
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(b) = cached.as_ref() {
            return Ok(b.clone());
        }
        let exe = std::env::current_exe().map_err(|source| RuntimeError::Io {
            node: "controller".into(),
            what: "finding the faultline binary".into(),
            source,
        })?;
        let out = RealExec
            .run(&remote::sha256(&exe).timeout(Duration::from_secs(60)))
            .map_err(|source| RuntimeError::Exec {
                node: "controller".into(),
                what: "hashing the faultline binary".into(),
                source,
            })?;
        let sha = remote::parse_sha256(&out.stdout_lossy()).ok_or_else(|| {
            RuntimeError::Other(format!("sha256sum printed {:?}", out.stdout_lossy()))
        })?;
        *cached = Some((exe.clone(), sha.clone()));
        Ok((exe, sha))
    }

    /// Tears down: kills every service, clears every chain, removes the run's
    /// directories, closes the masters. Best effort: every step is tried, the first
    /// failure is returned.
    pub fn down(self) -> Result<(), RuntimeError> {
        self.remove_all()
    }

    /// [`SshCluster::down`] through a shared reference: for a caller that must not
    /// leave anything on the nodes although something (a stuck thread) still holds the
    /// cluster. The masters stay open for that holder; its later drop finds nothing
    /// left to remove.
    pub fn remove_all(&self) -> Result<(), RuntimeError> {
        let mut owned = self
            .owned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !std::mem::replace(&mut *owned, false) {
            return Ok(());
        }
        self.teardown()
    }

    /// For a controller that exits now (a forced interrupt, which runs no destructor):
    /// [`SshCluster::remove_all`], then every master connection is stopped, so no local
    /// `ssh` process outlives the controller. Whatever still uses the cluster fails
    /// from here on.
    pub fn abort(&self) -> Result<(), RuntimeError> {
        let removed = self.remove_all();
        for n in &self.nodes {
            n.link.stop();
        }
        removed
    }

    /// Refuses what would add to a node once teardown began.
    fn open(&self, n: &SshNode) -> Result<(), RuntimeError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(RuntimeError::Other(format!(
                "{}: run {} is being torn down",
                Self::who(n),
                self.run
            )));
        }
        Ok(())
    }

    fn teardown(&self) -> Result<(), RuntimeError> {
        self.closed.store(true, Ordering::SeqCst);
        let this = self;
        let results = this.each_node(|n| {
            let mut first: Option<RuntimeError> = None;
            let mut note = |r: Result<(), RuntimeError>| {
                if let Err(e) = r {
                    tracing::warn!("ssh teardown: {e}");
                    first.get_or_insert(e);
                }
            };
            let mut slot = Self::lock(n);
            note(this.kill_slot(n, &mut slot).map(|_| ()));
            drop(slot);
            note(this.clear_filter(n.id));
            note(this.run_ok(n, &remote::remove(&this.dir_of(n))).map(|_| ()));
            Ok(first)
        })?;
        // The run's directory goes with its nodes' (shared file systems: the last one).
        for n in &self.nodes {
            let _ = self.run_on(n, &remote::rmdir(&self.root.join(&self.run)));
        }
        match results.into_iter().flatten().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Removes what runs left on every node: kills the process groups of their
    /// pidfiles (only those of this boot), clears the `FAULTLINE` chain, deletes their
    /// directories. `run`: only that run; `None`: every run under the root.
    pub fn clean(&self, run: Option<&str>) -> Vec<(NodeId, Result<CleanReport, RuntimeError>)> {
        match self.each_node(|n| Ok(self.clean_node(n, run))) {
            Ok(reports) => self.nodes.iter().map(|n| n.id).zip(reports).collect(),
            // Only a panicked thread gets here.
            Err(e) => self
                .nodes
                .iter()
                .map(|n| (n.id, Err(RuntimeError::Other(e.to_string()))))
                .collect(),
        }
    }

    /// The service groups that runs (every run under the root, or only `run`) started
    /// on node `id` during its current boot, from their pidfiles; a stale pidfile from
    /// an earlier boot never names a stranger's group. Some may have ended since.
    pub fn run_groups(&self, id: NodeId, run: Option<&str>) -> Result<Vec<u32>, RuntimeError> {
        let n = self.member(id)?;
        let boot = self.run_ok(n, &remote::read(Path::new(remote::BOOT_ID)))?;
        let boot = boot.stdout_lossy().trim().to_string();
        let found = self.run_on(n, &remote::find_pidfiles(&self.root, run))?;
        let mut groups = Vec::new();
        for pidfile in found.stdout_lossy().lines().filter(|l| !l.is_empty()) {
            let text = self.run_on(n, &remote::read(Path::new(pidfile)))?;
            if let Some((pgid, b)) = remote::parse_pidfile(&text.stdout_lossy()) {
                if b == boot {
                    groups.push(pgid);
                }
            }
        }
        Ok(groups)
    }

    /// Sends `signal` to process group `pgid` on node `id` (one of [`Self::run_groups`]):
    /// a kill returns once the group is gone. `Ok(false)` when no process of it is left.
    pub fn signal_group(
        &self,
        id: NodeId,
        pgid: u32,
        signal: Signal,
    ) -> Result<bool, RuntimeError> {
        let n = self.member(id)?;
        if signal == Signal::Kill {
            let mut slot = Slot {
                pgid: Some(pgid),
                ..Slot::default()
            };
            return self.kill_slot(n, &mut slot);
        }
        if self.group_state(n, pgid)?.is_none() {
            return Ok(false);
        }
        self.run_ok(n, &remote::signal(signal, pgid))?;
        Ok(true)
    }

    fn clean_node(&self, n: &SshNode, run: Option<&str>) -> Result<CleanReport, RuntimeError> {
        let mut report = CleanReport::default();
        for pgid in self.run_groups(n.id, run)? {
            if self.signal_group(n.id, pgid, Signal::Kill)? {
                report.groups.push(pgid);
            }
        }
        self.clear_filter(n.id)?;
        let dirs: Vec<PathBuf> = match run {
            Some(run) => {
                let d = self.root.join(run);
                let listed = self.run_on(n, &Cmd::new("test").args(["-d"]).arg(&d))?;
                if listed.success() {
                    vec![d]
                } else {
                    Vec::new()
                }
            }
            None => self
                .run_on(n, &remote::find_runs(&self.root))?
                .stdout_lossy()
                .lines()
                .filter(|l| !l.is_empty())
                .map(PathBuf::from)
                .collect(),
        };
        for d in dirs {
            self.run_ok(n, &remote::remove(&d))?;
            report.dirs.push(d);
        }
        Ok(report)
    }
}

impl Runtime for SshCluster {
    fn run_name(&self) -> &str {
        &self.run
    }

    fn nodes(&self) -> Vec<NodeInfo> {
        Self::infos(self.split().0)
    }

    /// The machines of `--service-nodes`, `n<N+1>`… after the system's.
    fn service_nodes(&self) -> Vec<NodeInfo> {
        Self::infos(self.split().1)
    }

    fn clients(&self) -> Result<ControlHandle, RuntimeError> {
        Ok(self.clients.handle())
    }

    /// The controller's addresses as the nodes saw them (`SSH_CONNECTION`).
    fn exempt(&self) -> Vec<Ipv4Addr> {
        self.exempt.clone()
    }

    fn exec(&self, id: NodeId, cmd: &Cmd) -> Result<Output, RuntimeError> {
        let n = self.member(id)?;
        self.run_on(n, cmd)
    }

    fn node_dir(&self, id: NodeId) -> Result<PathBuf, RuntimeError> {
        Ok(self.dir_of(self.member(id)?))
    }

    fn write_file(&self, id: NodeId, rel: &Path, bytes: &[u8]) -> Result<PathBuf, RuntimeError> {
        let n = self.member(id)?;
        self.open(n)?;
        let path = self.dir_of(n).join(rel);
        self.run_ok(n, &remote::write(&path, "0644", bytes, UPLOAD_TIMEOUT))?;
        Ok(path)
    }

    fn read_file(&self, id: NodeId, rel: &Path) -> Result<Vec<u8>, RuntimeError> {
        let n = self.member(id)?;
        let path = self.dir_of(n).join(rel);
        Ok(self.run_ok(n, &remote::read(&path))?.stdout)
    }

    fn start_service(&self, id: NodeId, spec: ServiceSpec) -> Result<u32, RuntimeError> {
        let n = self.member(id)?;
        let mut slot = Self::lock(n);
        slot.spec = Some(spec);
        self.launch(n, &mut slot)
    }

    fn start(&self, id: NodeId) -> Result<u32, RuntimeError> {
        let n = self.member(id)?;
        let mut slot = Self::lock(n);
        self.launch(n, &mut slot)
    }

    fn signal(&self, id: NodeId, signal: Signal) -> Result<bool, RuntimeError> {
        let n = self.member(id)?;
        let mut slot = Self::lock(n);
        if signal == Signal::Kill {
            return self.kill_slot(n, &mut slot);
        }
        let pgid = match slot.pgid {
            Some(p) if self.group_state(n, p)?.is_some() => p,
            _ => return Err(RuntimeError::NotRunning { node: Self::who(n) }),
        };
        self.run_ok(n, &remote::signal(signal, pgid))?;
        Ok(true)
    }

    fn service_state(&self, id: NodeId) -> Result<ServiceState, RuntimeError> {
        let n = self.member(id)?;
        let mut slot = Self::lock(n);
        let Some(pgid) = slot.pgid else {
            return Ok(if slot.exited {
                ServiceState::Exited(None)
            } else {
                ServiceState::Stopped
            });
        };
        match self.group_state(n, pgid)? {
            Some(state) => Ok(state),
            None => {
                // Ended on its own: its exit code stayed on the node.
                slot.pgid = None;
                slot.exited = true;
                Ok(ServiceState::Exited(None))
            }
        }
    }

    /// Waits until a TCP connection from the clients' runtime to the node's port
    /// succeeds.
    fn wait_for_port(&self, id: NodeId, port: u16, timeout: Duration) -> Result<(), RuntimeError> {
        let n = self.member(id)?;
        let to = SocketAddr::from((n.addr, port));
        let handle = self.clients.handle();
        let deadline = Instant::now() + timeout;
        let what = format!("{} to accept TCP connections on port {port}", Self::who(n));
        wait::poll_until(timeout, &what, || {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(500));
            let attempt = handle.spawn(async move {
                tokio::time::timeout(left, tokio::net::TcpStream::connect(to)).await
            });
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            handle.spawn(async move {
                let _ = tx.send(matches!(attempt.await, Ok(Ok(Ok(_)))));
            });
            rx.recv().ok().filter(|ok| *ok).map(|_| ())
        })?;
        Ok(())
    }

    /// `<root>/bin/faultline-<sha256>` on the node: uploaded on first use unless a file
    /// with that hash is already there.
    fn faultline_binary(&self, id: NodeId) -> Result<PathBuf, RuntimeError> {
        let n = self.member(id)?;
        let mut cached = n
            .binary
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = cached.as_ref() {
            return Ok(p.clone());
        }
        let (exe, sha) = self.local_binary()?;
        let path = remote::binary_path(&self.root, &sha);
        let present = self.run_on(n, &remote::sha256(&path))?;
        if remote::parse_sha256(&present.stdout_lossy()).as_deref() != Some(sha.as_str()) {
            let bytes = std::fs::read(&exe).map_err(|source| RuntimeError::Io {
                node: "controller".into(),
                what: format!("reading {}", exe.display()),
                source,
            })?;
            let t = Instant::now();
            // A unique temporary name, then an atomic rename: concurrent runs on one
            // node never see half a binary.
            let tmp = path.with_extension(format!("tmp-{}-{}", self.run, n.id));
            self.run_ok(n, &remote::write(&tmp, "0755", &bytes, UPLOAD_TIMEOUT))?;
            self.run_ok(n, &Cmd::new("mv").args(["-f", "--"]).arg(&tmp).arg(&path))?;
            let check = self.run_ok(n, &remote::sha256(&path))?;
            if remote::parse_sha256(&check.stdout_lossy()).as_deref() != Some(sha.as_str()) {
                return Err(RuntimeError::Other(format!(
                    "{}: the uploaded {} does not hash to {sha}",
                    Self::who(n),
                    path.display()
                )));
            }
            tracing::info!(
                "{}: uploaded faultline ({} bytes) in {:.2} s",
                Self::who(n),
                bytes.len(),
                t.elapsed().as_secs_f64()
            );
        }
        // Every new build uploads ~100 MB: keep only the few most recently used.
        let pruned = self.run_on(n, &remote::prune_binaries(&path, remote::KEEP_BINARIES))?;
        if !pruned.success() {
            tracing::warn!(
                "{}: pruning old binaries: {}",
                Self::who(n),
                pruned.stderr_lossy().trim()
            );
        }
        *cached = Some(path.clone());
        Ok(path)
    }

    /// The default chain, under the node's filter lock; refused once teardown began.
    fn apply_filter(&self, id: NodeId, table: &crate::FilterTable) -> Result<(), RuntimeError> {
        let n = self.member(id)?;
        let _held = n.filter.lock().unwrap_or_else(|e| e.into_inner());
        self.open(n)?;
        crate::filter::apply(self, id, table)
    }

    /// The default clear, under the node's filter lock (an apply in flight finishes
    /// first, and none follows a teardown's clear).
    fn clear_filter(&self, id: NodeId) -> Result<(), RuntimeError> {
        let n = self.member(id)?;
        let _held = n.filter.lock().unwrap_or_else(|e| e.into_inner());
        crate::filter::clear(self, id)
    }

    /// The node's master connection is up (a local check on its control socket; the
    /// master itself notices a closed connection at once, a silent node within three
    /// keep-alives, [`link::SERVER_ALIVE`] apart).
    fn probe(&self, id: NodeId) -> Result<(), RuntimeError> {
        let n = self.member(id)?;
        n.link.alive().map_err(|reason| RuntimeError::Unreachable {
            node: Self::who(n),
            reason,
        })
    }

    /// Real machines: each has its own packages.
    fn remote(&self) -> bool {
        true
    }

    /// Downloads the node's whole directory (configs, data, logs: what a namespace node
    /// keeps in the store) into `dest` when it holds at most [`remote::DATA_LIMIT`],
    /// then each of `files` (`cat`) and the log of the node's service (always: it lives
    /// on the node, not in the store). Files missing on the node, or already in `dest`,
    /// are skipped. A directory over the bound is noted in `dest` (`NOT_DOWNLOADED`).
    fn collect(&self, id: NodeId, files: &[PathBuf], dest: &Path) -> Result<(), RuntimeError> {
        let n = self.member(id)?;
        // After teardown there is nothing left to collect.
        self.open(n)?;
        let dir = self.dir_of(n);
        self.download_dir(n, &dir, dest)?;
        let service_log = Self::lock(n).spec.as_ref().map(|s| s.log.clone());
        for f in files.iter().cloned().chain(service_log) {
            let path = if f.is_absolute() { f } else { dir.join(f) };
            let Some(name) = path.file_name() else {
                continue;
            };
            let target = dest.join(name);
            if target.exists() {
                continue;
            }
            let out = self.run_on(n, &remote::read(&path).timeout(UPLOAD_TIMEOUT))?;
            if !out.success() {
                tracing::debug!(
                    "{}: not collecting {}: {}",
                    Self::who(n),
                    path.display(),
                    out.stderr_lossy().trim()
                );
                continue;
            }
            std::fs::create_dir_all(dest)
                .and_then(|_| std::fs::write(&target, &out.stdout))
                .map_err(|source| RuntimeError::Io {
                    node: Self::who(n),
                    what: format!("writing {}", target.display()),
                    source,
                })?;
        }
        Ok(())
    }
}

impl Drop for SshCluster {
    fn drop(&mut self) {
        if let Err(e) = self.remove_all() {
            tracing::warn!("ssh run {} teardown on drop: {e}", self.run);
        }
    }
}

#[cfg(test)]
mod tests;
