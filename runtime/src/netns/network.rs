//! Creating and destroying a run's namespaces, bridge and veth pairs, and finding the
//! processes that live in a namespace.
//!
//! ```text
//!             fl-<run>-br                       fl-<run>-n1 … fl-<run>-nN, fl-<run>-ctl
//!   br0 ─┬─ v-n1 ══ veth ══════════════════════► eth0 198.18.s.1/24   (lo up)
//!        ├─ v-n2 ══ veth ══════════════════════► eth0 198.18.s.2/24
//!        └─ v-ctl ═ veth ══════════════════════► eth0 198.18.s.254/24
//! ```
//!
//! IPv6 is left unconfigured (`addrgenmode none`: not even link-local addresses), because
//! partitions are IPv4 iptables rules and a node must not be able to talk around them.
//!
//! Invariants: every `ip` command carries `-n <ns>` or runs inside one of our
//! namespaces, and each veth pair is created *inside* the bridge namespace with its peer
//! placed directly into the member namespace (`peer name eth0 netns <ns>`), so nothing
//! ever appears in the host namespace, not even for an instant. No route other than the
//! /24 link route is ever added: no namespace has a default route.
//!
//! The command builders are pure (tested against exact text); [`apply`] runs them.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::addr::{self, BRIDGE_IF, NODE_IF, PREFIX_LEN};
use crate::exec::{netns_path, Cmd, Exec, ExecError};
use crate::wait::poll_until;

/// One member namespace attached to the bridge: a node or the control namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// `n3` or `ctl` (also names the bridge port `v-<label>`).
    pub label: String,
    pub ns: String,
    pub addr: std::net::Ipv4Addr,
}

/// The members of a run: nodes n1..nN then the control namespace.
pub fn members(run: &str, slot: u16, n: u16) -> Vec<Member> {
    let mut v: Vec<Member> = (1..=n)
        .map(|i| Member {
            label: format!("n{i}"),
            ns: addr::node_ns(run, i),
            addr: addr::node_addr(slot, i),
        })
        .collect();
    v.push(Member {
        label: "ctl".to_string(),
        ns: addr::control_ns(run),
        addr: addr::control_addr(slot),
    });
    v
}

/// Step 1: create every namespace (one `ip -batch` process).
pub fn create_namespaces_cmd(namespaces: &[String]) -> Cmd {
    let script: String = namespaces
        .iter()
        .map(|ns| format!("netns add {ns}\n"))
        .collect();
    Cmd::new("ip").args(["-batch", "-"]).stdin(script)
}

/// Step 2: inside the bridge namespace, the bridge and one veth pair per member, each
/// peer created directly in its member namespace.
pub fn bridge_cmd(bridge_ns: &str, members: &[Member]) -> Cmd {
    let mut script = format!(
        "link set lo up\nlink add {BRIDGE_IF} type bridge\n\
         link set {BRIDGE_IF} addrgenmode none\nlink set {BRIDGE_IF} up\n"
    );
    for m in members {
        let port = addr::bridge_port(&m.label);
        script.push_str(&format!(
            "link add {port} type veth peer name {NODE_IF} netns {}\n",
            m.ns
        ));
        script.push_str(&format!(
            "link set {port} addrgenmode none\nlink set {port} master {BRIDGE_IF} up\n"
        ));
    }
    Cmd::new("ip")
        .args(["-n", bridge_ns, "-batch", "-"])
        .stdin(script)
}

/// Step 3: inside a member namespace, loopback up and the member's address.
pub fn member_cmd(m: &Member) -> Cmd {
    let script = format!(
        "link set lo up\nlink set {NODE_IF} addrgenmode none\n\
         addr add {}/{PREFIX_LEN} dev {NODE_IF}\nlink set {NODE_IF} up\n",
        m.addr
    );
    Cmd::new("ip")
        .args(["-n", m.ns.as_str(), "-batch", "-"])
        .stdin(script)
}

/// Deleting namespaces (`-force`: keep going past ones already gone).
pub fn delete_namespaces_cmd(namespaces: &[String]) -> Cmd {
    let script: String = namespaces
        .iter()
        .map(|ns| format!("netns del {ns}\n"))
        .collect();
    Cmd::new("ip").args(["-force", "-batch", "-"]).stdin(script)
}

/// Builds the whole network of a run. Member namespaces are configured in parallel.
pub fn apply(exec: &dyn Exec, run: &str, slot: u16, n: u16) -> Result<(), ExecError> {
    let namespaces = addr::all_ns(run, n);
    exec.run(&create_namespaces_cmd(&namespaces))?;
    let members = members(run, slot, n);
    exec.run(&bridge_cmd(&addr::bridge_ns(run), &members))?;
    std::thread::scope(|s| {
        let handles: Vec<_> = members
            .iter()
            .map(|m| s.spawn(move || exec.run(&member_cmd(m)).map(|_| ())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("member setup thread does not panic"))
            .collect::<Result<Vec<()>, ExecError>>()
    })?;
    Ok(())
}

/// Namespaces named like ours that exist right now (`/run/netns/fl-*`).
pub fn existing_namespaces() -> BTreeSet<String> {
    let Ok(entries) = fs::read_dir(crate::exec::NETNS_DIR) else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| addr::run_of_ns(n).is_some())
        .collect()
}

/// Pids of processes whose (main thread's) network namespace is `ns`, excluding this
/// process. Empty when the namespace does not exist.
pub fn pids_in(ns: &str) -> Vec<i32> {
    let Ok(meta) = fs::metadata(netns_path(ns)) else {
        return Vec::new();
    };
    let (dev, ino) = (meta.dev(), meta.ino());
    let me = std::process::id() as i32;
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = proc_dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
        })
        .filter(|pid| !is_zombie(*pid))
        .collect();
    pids.sort_unstable();
    pids
}

/// A zombie (or vanished) process holds no resources worth waiting for.
pub fn is_zombie(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => super::registry::stat_fields(&stat)
            .first()
            .is_none_or(|s| *s == "Z" || *s == "X"),
        Err(_) => true,
    }
}

/// SIGKILLs every process in the namespace and waits (up to `timeout`) until none is
/// left. Returns how many were killed.
pub fn kill_all_in(ns: &str, timeout: Duration) -> Result<usize, String> {
    let mut killed = BTreeSet::new();
    poll_until(timeout, &format!("processes in {ns} to die"), || {
        let pids = pids_in(ns);
        for &pid in &pids {
            if kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                killed.insert(pid);
            }
        }
        pids.is_empty().then_some(())
    })
    .map_err(|e| e.to_string())?;
    Ok(killed.len())
}

/// Sends SIGSTOP (`pause`) or SIGCONT (resume) to every process in the namespace.
/// Returns how many processes were signalled.
pub fn pause_all_in(ns: &str, pause: bool) -> Result<usize, String> {
    let sig = if pause {
        Signal::SIGSTOP
    } else {
        Signal::SIGCONT
    };
    let pids = pids_in(ns);
    for &pid in &pids {
        kill(Pid::from_raw(pid), sig).map_err(|e| format!("{sig} to pid {pid} in {ns}: {e}"))?;
    }
    Ok(pids.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::RecordingExec;

    #[test]
    fn network_commands_are_exact() {
        let ms = members("t", 3, 2);
        assert_eq!(ms[2].label, "ctl");
        assert_eq!(ms[2].addr.to_string(), "198.18.3.254");
        let c = create_namespaces_cmd(&addr::all_ns("t", 2));
        assert_eq!(
            String::from_utf8_lossy(c.get_stdin().unwrap()),
            "netns add fl-t-br\nnetns add fl-t-ctl\nnetns add fl-t-n1\nnetns add fl-t-n2\n"
        );
        let b = bridge_cmd("fl-t-br", &ms[..1]);
        assert_eq!(b.argv(), ["ip", "-n", "fl-t-br", "-batch", "-"]);
        assert_eq!(
            String::from_utf8_lossy(b.get_stdin().unwrap()),
            "link set lo up\nlink add br0 type bridge\nlink set br0 addrgenmode none\n\
             link set br0 up\nlink add v-n1 type veth peer name eth0 netns fl-t-n1\n\
             link set v-n1 addrgenmode none\nlink set v-n1 master br0 up\n"
        );
        let m = member_cmd(&ms[1]);
        assert_eq!(m.argv(), ["ip", "-n", "fl-t-n2", "-batch", "-"]);
        assert_eq!(
            String::from_utf8_lossy(m.get_stdin().unwrap()),
            "link set lo up\nlink set eth0 addrgenmode none\n\
             addr add 198.18.3.2/24 dev eth0\nlink set eth0 up\n"
        );
    }

    #[test]
    fn no_command_touches_the_host_namespace() {
        let exec = RecordingExec::new();
        apply(&exec, "t", 0, 3).unwrap();
        for cmd in exec.commands() {
            let argv = cmd.argv();
            let script = String::from_utf8_lossy(cmd.get_stdin().unwrap_or_default());
            let in_ns = argv.get(1).map(String::as_str) == Some("-n");
            let only_netns_ops = script.lines().all(|l| l.starts_with("netns add "));
            assert!(in_ns || only_netns_ops, "{cmd}: {script}");
            assert!(!script.contains("route"), "{script}");
        }
    }
}
