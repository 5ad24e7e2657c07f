//! SSH nodes without VMs: a namespace cluster whose every node runs a real OpenSSH
//! server (Debian's `sshd`, started as the node's service, never the system one) on its
//! 198.18.x.y address, with a key pair generated for the bed and an `ssh_config` that
//! names the nodes `n1..nN`. Tests of the SSH runtime (`runtime/tests/it/ssh.rs`) and of
//! `faultline test` over SSH (`tests/cli_ssh.rs`) use it.
//!
//! ```text
//! Cluster::up(run, n) ──► n1..nN: sshd -D -f <dir>/sshd_config -o ListenAddress=<addr>
//! <dir>/ id_ed25519 (controller), host_ed25519, authorized_keys, known_hosts (empty),
//!        ssh_config (Host n<i> → HostName <addr>, the key, the known_hosts)
//! the controller's side: the cluster's control namespace (`cluster.control()` for a
//! runtime, `ip netns exec <control_ns>` for a process) — never the host's network
//! ```
//!
//! Invariants: the bed's files live in one directory of its own, removed with the bed
//! (also when a test panics); its namespaces go with the cluster.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Host, HostKeyChecking, NodeSpec, SshCluster, SshConfig, SshNodes};
use crate::exec::{Cmd, Exec, Output, RealExec};
use crate::netns::Cluster;
use crate::{NodeId, Runtime, ServiceSpec};

/// Where Debian's `openssh-server` puts the daemon.
pub const SSHD: &str = "/usr/sbin/sshd";

/// A namespace cluster whose every node runs sshd, and the files a controller needs to
/// log in.
pub struct SshBed {
    pub cluster: Cluster,
    /// The bed's files: keys, `ssh_config`, `known_hosts`, sshd logs.
    pub dir: PathBuf,
    _files: DirGuard,
}

/// Removes the bed's directory also when a test panicked.
struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: Cmd) -> Result<String, String> {
    let out = RealExec.run(&cmd).map_err(|e| e.to_string())?;
    Ok(out.stdout_lossy())
}

impl SshBed {
    /// `n` nodes named after `run`, each with sshd listening on port 22 of its address.
    pub fn up(run_name: &str, n: u16) -> Result<SshBed, String> {
        if !Path::new(SSHD).exists() {
            return Err(format!(
                "{SSHD} is missing: run scripts/setup.sh (openssh-server)"
            ));
        }
        let cluster = Cluster::up(run_name, n).map_err(|e| e.to_string())?;
        let dir = std::env::temp_dir().join(format!("fl-ssh-{}", cluster.record().run));
        let _ = std::fs::remove_dir_all(&dir);
        let io = |e: std::io::Error| format!("{}: {e}", dir.display());
        std::fs::create_dir_all(&dir).map_err(io)?;
        let files = DirGuard(dir.clone());
        for (key, comment) in [("host_ed25519", "host"), ("id_ed25519", "controller")] {
            run(Cmd::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(dir.join(key)))?;
        }
        std::fs::copy(dir.join("id_ed25519.pub"), dir.join("authorized_keys")).map_err(io)?;
        std::fs::write(dir.join("known_hosts"), "").map_err(io)?;
        let sshd_config = format!(
            "Port 22\nHostKey {d}/host_ed25519\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n\
             LogLevel VERBOSE\nMaxSessions 50\nMaxStartups 50\n",
            d = dir.display()
        );
        std::fs::write(dir.join("sshd_config"), sshd_config).map_err(io)?;
        let mut client = String::new();
        for node in cluster.nodes() {
            client.push_str(&format!(
                "Host {id}\n  HostName {addr}\n  User root\n  IdentityFile {d}/id_ed25519\n  \
                 IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  \
                 GlobalKnownHostsFile /dev/null\n",
                id = node.id,
                addr = node.addr,
                d = dir.display()
            ));
        }
        std::fs::write(dir.join("ssh_config"), client).map_err(io)?;
        // sshd insists on its privilege-separation directory.
        std::fs::create_dir_all("/run/sshd").map_err(|e| format!("/run/sshd: {e}"))?;
        for node in cluster.nodes() {
            let spec = ServiceSpec::new(
                [
                    SSHD.to_string(),
                    "-D".into(),
                    "-e".into(),
                    "-f".into(),
                    dir.join("sshd_config").display().to_string(),
                    "-o".into(),
                    format!("ListenAddress={}", node.addr),
                ],
                &dir,
                dir.join(format!("sshd-{}.log", node.id)),
            );
            cluster
                .start_service(node.id, spec)
                .map_err(|e| format!("sshd on {}: {e}", node.id))?;
        }
        for node in cluster.node_ids() {
            cluster
                .wait_for_port(node, 22, Duration::from_secs(20))
                .map_err(|e| format!("sshd on {node}: {e}"))?;
        }
        Ok(SshBed {
            cluster,
            dir,
            _files: files,
        })
    }

    /// The bed's nodes as `faultline test` takes them: `n1..nN` through the bed's
    /// `ssh_config`, unknown host keys accepted into the bed's known_hosts.
    pub fn nodes(&self) -> SshNodes {
        let mut nodes = SshNodes::new(
            self.cluster
                .node_ids()
                .iter()
                .map(|n| NodeSpec::from(Host::parse(&n.to_string()).expect("n<i> is a host")))
                .collect(),
        );
        nodes.ssh_config = Some(self.dir.join("ssh_config"));
        nodes.strict_host_key_checking = HostKeyChecking::AcceptNew;
        nodes
    }

    /// [`SshBed::nodes`] with the last `k` bed nodes as service nodes
    /// (`--service-nodes`), for a workload that runs services of its own.
    pub fn nodes_with_services(&self, k: usize) -> SshNodes {
        let mut nodes = self.nodes();
        let system = nodes.nodes.len().saturating_sub(k);
        nodes.service_nodes = nodes.nodes.split_off(system);
        nodes
    }

    /// A config reaching every node through the bed's ssh_config, with the runs' files
    /// under the bed's own `root/`.
    pub fn config(&self, run: &str) -> SshConfig {
        let mut cfg = self.nodes().config(run);
        cfg.root = self.dir.join("root");
        cfg.connect_timeout = Duration::from_secs(5);
        cfg
    }

    /// Connects to every node from the control namespace, owning run `run`.
    pub fn connect(&self, run: &str) -> Result<SshCluster, String> {
        let handle = self.cluster.control().map_err(|e| e.to_string())?;
        SshCluster::connect_with(&self.config(run), handle).map_err(|e| format!("ssh: {e}"))
    }

    /// `iptables` inside a node's namespace (not over SSH: the bed's own view).
    pub fn iptables_in(&self, node: NodeId, args: &[&str]) -> Result<Output, String> {
        let ns = self
            .cluster
            .member(node)
            .map_err(|e| e.to_string())?
            .ns
            .clone();
        RealExec
            .output(&Cmd::new("iptables").args(["-w", "5"]).args(args).netns(ns))
            .map_err(|e| e.to_string())
    }

    /// Tears the cluster down (sshd servers, namespaces) and removes the files.
    pub fn down(self) -> Result<(), String> {
        self.cluster.down().map_err(|e| e.to_string())
    }
}
