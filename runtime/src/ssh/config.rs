//! How to reach SSH nodes: the host list (from `--nodes a,b,c` or a nodes file), the
//! login options, and the host-key policy — plain data parsed and checked before any
//! connection is made.
//!
//! ```text
//! "n1,n2,n3" ──parse_host_list──► [Host("n1"), Host("n2"), Host("n3")] ──► SshConfig.nodes
//! nodes.txt  ──parse_nodes_file──► HostLists { nodes, service_nodes } (`HOST [ADDRESS]`
//!                                   lines; blank lines and `#` comments skipped; the hosts
//!                                   after a `[service-nodes]` line are service nodes)
//! "h4,h5" (--service-nodes) ──parse_hosts──► SshConfig.service_nodes (n<N+1>…)
//! "accept-new" ──HostKeyChecking::from_str──► StrictHostKeyChecking=accept-new
//! ```
//!
//! Invariants: a host never starts with `-` (it would be read as an `ssh` option) and
//! holds no whitespace or shell metacharacter; hosts are distinct, system and service
//! nodes together (one machine's packet filter is one node's); errors name the
//! offending entry (its flag and position, or the file and line).
//!
//! Reference: Jepsen's `jepsen.cli` (`--nodes`, `--nodes-file`, `--username`,
//! `--ssh-private-key`, `--strict-host-key-checking`), ssh_config(5).

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where every run's files live on a node unless told otherwise.
pub const DEFAULT_ROOT: &str = "/var/lib/faultline";

/// An SSH destination as `ssh` takes it: `host`, `user@host` or an alias of the ssh
/// config. Checked by [`Host::parse`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Host(String);

impl TryFrom<String> for Host {
    type Error = String;

    fn try_from(s: String) -> Result<Host, String> {
        Host::parse(&s)
    }
}

impl From<Host> for String {
    fn from(h: Host) -> String {
        h.0
    }
}

impl Host {
    /// Checks one destination: non-empty, at most 255 bytes of `[A-Za-z0-9._:@%\[\]-]`,
    /// not starting with `-`.
    pub fn parse(s: &str) -> Result<Host, String> {
        if s.is_empty() {
            return Err("empty host name".into());
        }
        if s.len() > 255 {
            return Err(format!("host name {s:?} is longer than 255 bytes"));
        }
        if s.starts_with('-') {
            return Err(format!(
                "host name {s:?} starts with '-' (ssh would read it as an option)"
            ));
        }
        if let Some(bad) = s.chars().find(|c| {
            !(c.is_ascii_alphanumeric()
                || matches!(c, '.' | '_' | '-' | ':' | '@' | '%' | '[' | ']'))
        }) {
            return Err(format!("host name {s:?} holds the character {bad:?}"));
        }
        Ok(Host(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `--nodes a,b,c`: the hosts in order (node `n<i>` is the i-th).
pub fn parse_host_list(list: &str) -> Result<Vec<Host>, String> {
    parse_hosts("--nodes", list, &[])
}

/// A comma-separated host list given as `flag`, in order; `taken` are hosts already
/// given elsewhere (as `(flag, hosts)`), which none of these may repeat.
pub fn parse_hosts(flag: &str, list: &str, taken: &[(&str, &[Host])]) -> Result<Vec<Host>, String> {
    let mut hosts: Vec<Host> = Vec::new();
    for (i, item) in list.split(',').enumerate() {
        let host = Host::parse(item.trim()).map_err(|e| format!("{flag} entry {}: {e}", i + 1))?;
        if let Some(j) = hosts.iter().position(|h| *h == host) {
            return Err(format!(
                "{flag} entry {}: {host} is already entry {}",
                i + 1,
                j + 1
            ));
        }
        for (other, given) in taken {
            if let Some(j) = given.iter().position(|h| *h == host) {
                return Err(format!(
                    "{flag} entry {}: {host} is already {other} entry {} (a machine is a \
                     system node or a service node, not both)",
                    i + 1,
                    j + 1
                ));
            }
        }
        hosts.push(host);
    }
    Ok(hosts)
}

/// One line of a nodes file: the SSH destination and, optionally, the address clients
/// and peers use when it is not the one SSH reaches (a VM whose SSH goes through a NAT
/// port forward, as with Vagrant's VirtualBox provider, but whose peers talk on a
/// private network).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSpec {
    pub host: Host,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<Ipv4Addr>,
}

impl From<Host> for NodeSpec {
    fn from(host: Host) -> Self {
        NodeSpec { host, addr: None }
    }
}

/// The line of a nodes file after which the hosts are service nodes.
pub const SERVICE_NODES_MARKER: &str = "[service-nodes]";

/// The hosts of a run: the system's nodes (`n1..nN`) and the service nodes beside them
/// (`n<N+1>`…, [`crate::Runtime::service_nodes`]: the election workload's candidates).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostLists {
    pub nodes: Vec<NodeSpec>,
    pub service_nodes: Vec<NodeSpec>,
}

/// A nodes file: one node per line, `HOST [ADDRESS]`; blank lines and lines starting
/// with `#` are skipped; the hosts after a `[service-nodes]` line (at most one) are
/// service nodes. `file` names the file in errors (`FILE:LINE: …`).
pub fn parse_nodes_file(file: &Path, text: &str) -> Result<HostLists, String> {
    let mut nodes: Vec<(NodeSpec, usize)> = Vec::new();
    // The line of the marker and how many system nodes came before it.
    let mut marker: Option<(usize, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let at = format!("{}:{}", file.display(), i + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == SERVICE_NODES_MARKER {
            if let Some((first, _)) = marker {
                return Err(format!(
                    "{at}: a second {SERVICE_NODES_MARKER} line (the first is line {first})"
                ));
            }
            marker = Some((i + 1, nodes.len()));
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (host, addr) = match fields.as_slice() {
            [host] => (*host, None),
            [host, addr] => {
                let a = addr.parse::<Ipv4Addr>().map_err(|_| {
                    format!("{at}: the address {addr:?} of {host} is not an IPv4 address")
                })?;
                (*host, Some(a))
            }
            _ => {
                return Err(format!(
                    "{at}: {} fields; a line is `HOST [ADDRESS]` (or {SERVICE_NODES_MARKER})",
                    fields.len()
                ))
            }
        };
        let host = Host::parse(host).map_err(|e| format!("{at}: {e}"))?;
        if let Some((_, first)) = nodes.iter().find(|(n, _)| n.host == host) {
            return Err(format!("{at}: {host} is already on line {first}"));
        }
        if let Some((n, first)) = nodes.iter().find(|(n, _)| addr.is_some() && n.addr == addr) {
            return Err(format!(
                "{at}: address {} is already {}'s on line {first}",
                addr.expect("checked"),
                n.host
            ));
        }
        nodes.push((NodeSpec { host, addr }, i + 1));
    }
    let split = marker.map_or(nodes.len(), |(_, k)| k);
    let mut nodes: Vec<NodeSpec> = nodes.into_iter().map(|(n, _)| n).collect();
    let service_nodes = nodes.split_off(split);
    if nodes.is_empty() {
        return Err(match marker {
            Some((line, _)) => format!(
                "{}:{line}: no system node before {SERVICE_NODES_MARKER}",
                file.display()
            ),
            None => format!("{}: no host in the file", file.display()),
        });
    }
    if let (Some((line, _)), true) = (marker, service_nodes.is_empty()) {
        return Err(format!(
            "{}:{line}: no host after {SERVICE_NODES_MARKER} (list the service nodes after \
             it, or drop the line)",
            file.display()
        ));
    }
    Ok(HostLists {
        nodes,
        service_nodes,
    })
}

/// What `--nodes` / `--nodes-file` / `--service-nodes` ask for: namespace nodes on
/// this machine, or SSH nodes (Jepsen's flags: a count and a host list exclude each
/// other).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodesArg {
    Count(u16),
    Ssh(HostLists),
}

impl NodesArg {
    /// From the flags as given: `nodes` is `--nodes` (a count or `h1,h2,…`),
    /// `nodes_file` is `--nodes-file`'s path and text, `service_nodes` is
    /// `--service-nodes` (`h4,h5,…`), `ssh_flags` names the SSH-only login flags that
    /// were given (`--sudo`, `--ssh-config`, …). No flag: 5 namespace nodes.
    pub fn from_flags(
        nodes: Option<&str>,
        nodes_file: Option<(&Path, &str)>,
        service_nodes: Option<&str>,
        ssh_flags: &[&str],
    ) -> Result<NodesArg, String> {
        let arg = match (nodes, nodes_file) {
            (Some(_), Some(_)) => {
                return Err("--nodes and --nodes-file exclude each other".into());
            }
            (None, Some(_)) if service_nodes.is_some() => {
                return Err(format!(
                    "--service-nodes and --nodes-file exclude each other: list the service \
                     nodes in the file, after a line {SERVICE_NODES_MARKER}"
                ));
            }
            (None, Some((path, text))) => NodesArg::Ssh(parse_nodes_file(path, text)?),
            (Some(v), None) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                let n = v
                    .parse::<u16>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("--nodes {v}: a count must be at least 1"))?;
                NodesArg::Count(n)
            }
            (Some(v), None) => {
                let hosts = parse_hosts("--nodes", v, &[])?;
                let service = match service_nodes {
                    Some(s) => parse_hosts("--service-nodes", s, &[("--nodes", &hosts)])?,
                    None => Vec::new(),
                };
                NodesArg::Ssh(HostLists {
                    nodes: hosts.into_iter().map(NodeSpec::from).collect(),
                    service_nodes: service.into_iter().map(NodeSpec::from).collect(),
                })
            }
            (None, None) => NodesArg::Count(5),
        };
        if let NodesArg::Count(n) = &arg {
            if service_nodes.is_some() {
                return Err(format!(
                    "--service-nodes is for SSH nodes, but --nodes {n} asks for namespace nodes \
                     (a namespace run makes its service nodes itself: drop --service-nodes, or \
                     give hosts: --nodes h1,h2,… --service-nodes h4,…)"
                ));
            }
            if let Some(flag) = ssh_flags.first() {
                return Err(format!(
                    "{flag} is for SSH nodes, but --nodes {n} asks for namespace nodes \
                     (give hosts: --nodes h1,h2,… or --nodes-file FILE)"
                ));
            }
        }
        Ok(arg)
    }
}

/// `--strict-host-key-checking`: what `ssh` does with a host key it does not know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyChecking {
    /// Only hosts already in known_hosts (ssh's `yes`).
    #[default]
    Yes,
    /// Any key, remembered (ssh's `no`).
    No,
    /// Unknown hosts are added; a changed key is refused (ssh's `accept-new`).
    AcceptNew,
}

impl HostKeyChecking {
    /// The value of ssh's `StrictHostKeyChecking` option.
    pub fn as_str(self) -> &'static str {
        match self {
            HostKeyChecking::Yes => "yes",
            HostKeyChecking::No => "no",
            HostKeyChecking::AcceptNew => "accept-new",
        }
    }
}

impl FromStr for HostKeyChecking {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "yes" => Ok(HostKeyChecking::Yes),
            "no" => Ok(HostKeyChecking::No),
            "accept-new" => Ok(HostKeyChecking::AcceptNew),
            other => Err(format!(
                "strict host key checking {other:?} must be yes, no or accept-new"
            )),
        }
    }
}

impl fmt::Display for HostKeyChecking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything needed to reach a run's SSH nodes.
#[derive(Clone, Debug)]
pub struct SshConfig {
    /// The run's name (its directory on every node).
    pub run: String,
    /// Node `n<i>` is `nodes[i-1]`.
    pub nodes: Vec<NodeSpec>,
    /// Machines for the test's own services (the election's candidates), after the
    /// system's nodes: `n<N+k>` is `service_nodes[k-1]`. Targets never deploy to them.
    pub service_nodes: Vec<NodeSpec>,
    /// Login name (`ssh -l`); `None` leaves it to the ssh config (or the local user).
    pub user: Option<String>,
    /// `ssh -i` (and `IdentitiesOnly=yes`); `None`: the agent and the default keys.
    pub private_key: Option<PathBuf>,
    /// `ssh -p`; `None`: the ssh config's or 22.
    pub port: Option<u16>,
    /// `ssh -F`, e.g. what `vagrant ssh-config` writes.
    pub ssh_config: Option<PathBuf>,
    pub host_key_checking: HostKeyChecking,
    /// `UserKnownHostsFile`; `None`: ssh's default (~/.ssh/known_hosts).
    pub known_hosts: Option<PathBuf>,
    /// Prefix every remote command with `sudo -n` (a non-root login).
    pub sudo: bool,
    /// Where runs keep their files on the nodes: `<root>/<run>/<node>/`.
    pub root: PathBuf,
    /// How long to wait for each node's first connection.
    pub connect_timeout: Duration,
}

impl SshConfig {
    pub fn new(run: impl Into<String>, nodes: Vec<NodeSpec>) -> Self {
        SshConfig {
            run: run.into(),
            nodes,
            service_nodes: Vec::new(),
            user: None,
            private_key: None,
            port: None,
            ssh_config: None,
            host_key_checking: HostKeyChecking::default(),
            known_hosts: None,
            sudo: false,
            root: PathBuf::from(DEFAULT_ROOT),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// SSH nodes as a test asks for them: the hosts and the login flags, checked, as plain
/// data (stored in `test.json`; each run makes its [`SshConfig`] from it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshNodes {
    /// Node `n<i>` is `nodes[i-1]`.
    pub nodes: Vec<NodeSpec>,
    /// `--service-nodes` (or the nodes file's `[service-nodes]` section): machines for
    /// the workload's own services, `n<N+1>`… after the system's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_nodes: Vec<NodeSpec>,
    /// `--nodes-file`, when the nodes came from one (the reproduce command names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes_file: Option<PathBuf>,
    /// `--username`; `None`: root, or the ssh config's when `--ssh-config` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_config: Option<PathBuf>,
    #[serde(default)]
    pub strict_host_key_checking: HostKeyChecking,
    #[serde(default)]
    pub sudo: bool,
}

impl SshNodes {
    /// The nodes of `nodes` with default login options.
    pub fn new(nodes: Vec<NodeSpec>) -> SshNodes {
        SshNodes {
            nodes,
            service_nodes: Vec::new(),
            nodes_file: None,
            username: None,
            private_key: None,
            port: None,
            ssh_config: None,
            strict_host_key_checking: HostKeyChecking::default(),
            sudo: false,
        }
    }

    /// Whether the flags can work, before any connection: a login name ssh will not
    /// read as an option, and the key and config files exist. Errors name the flag.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(u) = &self.username {
            let ok = !u.is_empty()
                && !u.starts_with('-')
                && u.len() <= 64
                && u.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(format!(
                    "--username {u:?}: expected a login name of letters, digits, '.', '_' \
                     and '-', not starting with '-'"
                ));
            }
        }
        for (flag, file) in [
            ("--ssh-private-key", &self.private_key),
            ("--ssh-config", &self.ssh_config),
        ] {
            if let Some(f) = file {
                if !f.is_file() {
                    return Err(format!("{flag} {}: no such file", f.display()));
                }
            }
        }
        if self.port == Some(0) {
            return Err("--ssh-port: must be between 1 and 65535".into());
        }
        Ok(())
    }

    /// How a run named `run` reaches these nodes.
    pub fn config(&self, run: &str) -> SshConfig {
        let mut cfg = SshConfig::new(run, self.nodes.clone());
        cfg.service_nodes.clone_from(&self.service_nodes);
        cfg.user = match (&self.username, &self.ssh_config) {
            (Some(u), _) => Some(u.clone()),
            (None, Some(_)) => None,
            (None, None) => Some("root".into()),
        };
        cfg.private_key.clone_from(&self.private_key);
        cfg.port = self.port;
        cfg.ssh_config.clone_from(&self.ssh_config);
        cfg.host_key_checking = self.strict_host_key_checking;
        cfg.sudo = self.sudo;
        cfg
    }

    /// The flags that give these nodes back (`--nodes h1,h2 [--service-nodes h3]` or
    /// `--nodes-file F`, whose file holds both, then every login flag that was given),
    /// each value its own word.
    pub fn command_words(&self) -> Vec<String> {
        let mut w = Vec::new();
        let list = |nodes: &[NodeSpec]| {
            nodes
                .iter()
                .map(|n| n.host.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        match &self.nodes_file {
            Some(f) => w.extend(["--nodes-file".into(), f.display().to_string()]),
            None => {
                w.extend(["--nodes".into(), list(&self.nodes)]);
                if !self.service_nodes.is_empty() {
                    w.extend(["--service-nodes".into(), list(&self.service_nodes)]);
                }
            }
        }
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        for (flag, value) in [
            ("--username", self.username.clone()),
            ("--ssh-private-key", path(&self.private_key)),
            ("--ssh-port", self.port.map(|p| p.to_string())),
            ("--ssh-config", path(&self.ssh_config)),
        ] {
            if let Some(v) = value {
                w.extend([flag.into(), v]);
            }
        }
        if self.strict_host_key_checking != HostKeyChecking::default() {
            w.extend([
                "--strict-host-key-checking".into(),
                self.strict_host_key_checking.to_string(),
            ]);
        }
        if self.sudo {
            w.push("--sudo".into());
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_list_keeps_its_order_and_trims() {
        let hosts = parse_host_list("n1, root@10.0.0.2 ,n3.example:").unwrap();
        let names: Vec<_> = hosts.iter().map(Host::as_str).collect();
        assert_eq!(names, ["n1", "root@10.0.0.2", "n3.example:"]);
    }

    #[test]
    fn bad_host_list_entries_are_named() {
        let e = parse_host_list("n1,,n3").unwrap_err();
        assert!(e.contains("entry 2") && e.contains("empty"), "{e}");
        let e = parse_host_list("n1,-oProxyCommand=x").unwrap_err();
        assert!(
            e.contains("entry 2") && e.contains("starts with '-'"),
            "{e}"
        );
        let e = parse_host_list("n1,n$(reboot)").unwrap_err();
        assert!(e.contains("entry 2") && e.contains("'$'"), "{e}");
        let e = parse_host_list("n1,n2,n1").unwrap_err();
        assert!(
            e.contains("entry 3") && e.contains("already entry 1"),
            "{e}"
        );
    }

    #[test]
    fn a_nodes_file_skips_comments_and_names_the_bad_line() {
        let f = Path::new("nodes.txt");
        let HostLists {
            nodes,
            service_nodes,
        } = parse_nodes_file(f, "# the VMs\nn1\n\n  n2  192.168.56.102\n#n9\nn3\n").unwrap();
        assert!(service_nodes.is_empty());
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[1].host.as_str(), "n2");
        assert_eq!(nodes[1].addr, Some(Ipv4Addr::new(192, 168, 56, 102)));
        assert_eq!(nodes[2].addr, None);
        let e = parse_nodes_file(f, "n1\nn2 n3\n").unwrap_err();
        assert_eq!(
            e,
            "nodes.txt:2: the address \"n3\" of n2 is not an IPv4 address"
        );
        let e = parse_nodes_file(f, "n1\nn2 10.0.0.2 x\n").unwrap_err();
        assert_eq!(
            e,
            "nodes.txt:2: 3 fields; a line is `HOST [ADDRESS]` (or [service-nodes])"
        );
        let e = parse_nodes_file(f, "n1\n\nn1\n").unwrap_err();
        assert_eq!(e, "nodes.txt:3: n1 is already on line 1");
        let e = parse_nodes_file(f, "n1 10.0.0.1\nn2 10.0.0.1\n").unwrap_err();
        assert_eq!(e, "nodes.txt:2: address 10.0.0.1 is already n1's on line 1");
        let e = parse_nodes_file(f, "-F/etc/x\n").unwrap_err();
        assert!(e.starts_with("nodes.txt:1: ") && e.contains("'-'"), "{e}");
        let e = parse_nodes_file(f, "# nothing\n\n").unwrap_err();
        assert_eq!(e, "nodes.txt: no host in the file");
    }

    #[test]
    fn a_nodes_file_names_its_service_nodes_after_a_marker_line() {
        let f = Path::new("nodes.txt");
        let lists = parse_nodes_file(
            f,
            "n1 10.0.0.1\nn2\nn3\n# candidates\n[service-nodes]\nn4 10.0.0.4\nn5\n",
        )
        .unwrap();
        let hosts = |l: &[NodeSpec]| l.iter().map(|n| n.host.to_string()).collect::<Vec<_>>();
        assert_eq!(hosts(&lists.nodes), ["n1", "n2", "n3"]);
        assert_eq!(hosts(&lists.service_nodes), ["n4", "n5"]);
        assert_eq!(
            lists.service_nodes[0].addr,
            Some(Ipv4Addr::new(10, 0, 0, 4))
        );
        // Hosts and addresses are distinct across both parts.
        let e = parse_nodes_file(f, "n1\n[service-nodes]\nn1\n").unwrap_err();
        assert_eq!(e, "nodes.txt:3: n1 is already on line 1");
        let e = parse_nodes_file(f, "n1 10.0.0.1\n[service-nodes]\nn2 10.0.0.1\n").unwrap_err();
        assert_eq!(e, "nodes.txt:3: address 10.0.0.1 is already n1's on line 1");
        let e = parse_nodes_file(f, "n1\n[service-nodes]\nn2\n[service-nodes]\nn3\n").unwrap_err();
        assert_eq!(
            e,
            "nodes.txt:4: a second [service-nodes] line (the first is line 2)"
        );
        let e = parse_nodes_file(f, "[service-nodes]\nn2\n").unwrap_err();
        assert_eq!(e, "nodes.txt:1: no system node before [service-nodes]");
        let e = parse_nodes_file(f, "n1\n[service-nodes]\n# none yet\n").unwrap_err();
        assert!(
            e.starts_with("nodes.txt:2: no host after [service-nodes]"),
            "{e}"
        );
    }

    #[test]
    fn service_nodes_are_ssh_hosts_of_their_own() {
        let f = Path::new("nodes.txt");
        let NodesArg::Ssh(lists) =
            NodesArg::from_flags(Some("n1,n2"), None, Some("n3, n4"), &[]).unwrap()
        else {
            panic!("a host list is SSH");
        };
        assert_eq!(lists.nodes.len(), 2);
        assert_eq!(lists.service_nodes[1].host.as_str(), "n4");
        let e = NodesArg::from_flags(Some("n1,n2"), None, Some("n3,n2"), &[]).unwrap_err();
        assert_eq!(
            e,
            "--service-nodes entry 2: n2 is already --nodes entry 2 (a machine is a system \
             node or a service node, not both)"
        );
        let e = NodesArg::from_flags(Some("n1"), None, Some("n3,,n4"), &[]).unwrap_err();
        assert!(e.starts_with("--service-nodes entry 2: empty"), "{e}");
        let e = NodesArg::from_flags(Some("3"), None, Some("n4"), &[]).unwrap_err();
        assert!(
            e.starts_with("--service-nodes is for SSH nodes, but --nodes 3 asks for namespace"),
            "{e}"
        );
        let e = NodesArg::from_flags(None, None, Some("n4"), &[]).unwrap_err();
        assert!(e.contains("--nodes 5 asks for namespace nodes"), "{e}");
        let e = NodesArg::from_flags(None, Some((f, "n1\n")), Some("n4"), &[]).unwrap_err();
        assert!(
            e.starts_with("--service-nodes and --nodes-file exclude each other"),
            "{e}"
        );
    }

    #[test]
    fn nodes_is_a_count_or_hosts_and_excludes_a_nodes_file() {
        let f = Path::new("nodes.txt");
        assert_eq!(
            NodesArg::from_flags(None, None, None, &[]),
            Ok(NodesArg::Count(5))
        );
        assert_eq!(
            NodesArg::from_flags(Some("3"), None, None, &[]),
            Ok(NodesArg::Count(3))
        );
        let NodesArg::Ssh(hosts) =
            NodesArg::from_flags(Some("n1,n2"), None, None, &["--sudo"]).unwrap()
        else {
            panic!("a host list is SSH");
        };
        assert_eq!(hosts.nodes.len(), 2);
        assert!(hosts.service_nodes.is_empty());
        let NodesArg::Ssh(hosts) =
            NodesArg::from_flags(None, Some((f, "n1 10.0.0.1\n")), None, &[]).unwrap()
        else {
            panic!("a nodes file is SSH");
        };
        assert_eq!(hosts.nodes[0].addr, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            NodesArg::from_flags(Some("3"), Some((f, "n1\n")), None, &[]).unwrap_err(),
            "--nodes and --nodes-file exclude each other"
        );
        assert!(NodesArg::from_flags(Some("0"), None, None, &[])
            .unwrap_err()
            .contains("at least 1"));
        let e = NodesArg::from_flags(Some("5"), None, None, &["--ssh-config"]).unwrap_err();
        assert!(e.starts_with("--ssh-config is for SSH nodes"), "{e}");
        // A host that is all digits would be a count: hosts need a letter or a dot.
        assert!(matches!(
            NodesArg::from_flags(Some("10.0.0.1"), None, None, &[]),
            Ok(NodesArg::Ssh(_))
        ));
    }

    #[test]
    fn ssh_nodes_make_the_config_and_the_flags_that_give_them_back() {
        let mut nodes = SshNodes::new(
            parse_host_list("n1,n2")
                .unwrap()
                .into_iter()
                .map(NodeSpec::from)
                .collect(),
        );
        assert_eq!(nodes.config("r").user.as_deref(), Some("root"));
        assert_eq!(nodes.command_words(), ["--nodes", "n1,n2"]);
        nodes.service_nodes = vec![NodeSpec::from(Host::parse("n3").unwrap())];
        assert_eq!(
            nodes.command_words(),
            ["--nodes", "n1,n2", "--service-nodes", "n3"]
        );
        assert_eq!(nodes.config("r").service_nodes, nodes.service_nodes);
        nodes.ssh_config = Some(PathBuf::from("/etc/ssh cfg"));
        assert_eq!(nodes.config("r").user, None, "left to the ssh config");
        nodes.username = Some("vagrant".into());
        nodes.port = Some(2222);
        nodes.sudo = true;
        nodes.strict_host_key_checking = HostKeyChecking::AcceptNew;
        nodes.nodes_file = Some(PathBuf::from("nodes.txt"));
        let cfg = nodes.config("r");
        assert_eq!(
            (
                cfg.user.as_deref(),
                cfg.port,
                cfg.sudo,
                cfg.host_key_checking
            ),
            (
                Some("vagrant"),
                Some(2222),
                true,
                HostKeyChecking::AcceptNew
            )
        );
        assert_eq!(
            nodes.command_words(),
            [
                "--nodes-file",
                "nodes.txt",
                "--username",
                "vagrant",
                "--ssh-port",
                "2222",
                "--ssh-config",
                "/etc/ssh cfg",
                "--strict-host-key-checking",
                "accept-new",
                "--sudo"
            ]
        );
        let json = serde_json::to_string(&nodes).unwrap();
        assert_eq!(serde_json::from_str::<SshNodes>(&json).unwrap(), nodes);
        // A stored host is checked again when read back.
        let bad = json.replace("\"n1\"", "\"-oProxyCommand=x\"");
        assert!(serde_json::from_str::<SshNodes>(&bad).is_err());
    }

    #[test]
    fn ssh_nodes_validation_names_the_flag() {
        let mut nodes = SshNodes::new(vec![NodeSpec::from(Host::parse("n1").unwrap())]);
        assert_eq!(nodes.validate(), Ok(()));
        nodes.username = Some("-oProxyCommand=x".into());
        assert!(nodes.validate().unwrap_err().starts_with("--username"));
        nodes.username = None;
        nodes.private_key = Some(PathBuf::from("/nonexistent/id_ed25519"));
        assert_eq!(
            nodes.validate().unwrap_err(),
            "--ssh-private-key /nonexistent/id_ed25519: no such file"
        );
    }

    #[test]
    fn host_key_checking_round_trips_ssh_values() {
        for v in ["yes", "no", "accept-new"] {
            assert_eq!(v.parse::<HostKeyChecking>().unwrap().as_str(), v);
        }
        assert!("ask".parse::<HostKeyChecking>().is_err());
    }
}
