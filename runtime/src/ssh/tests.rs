//! The SSH runtime's logic over fake links: what it runs on a node, in what order, for
//! each operation (no sshd, no root). The real thing is in `runtime/tests/it/ssh.rs`.

use std::sync::Mutex;

use super::*;
use crate::filter::{self, FilterTable};

/// A node's side of a link: answers like a Linux host would, records every argv.
#[derive(Default)]
struct FakeNode {
    addr: &'static str,
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    log: Vec<String>,
    /// A live service group.
    alive: bool,
    /// What `sha256sum` of the binary path answers (None: no such file).
    binary_sha: Option<String>,
    pidfiles: Vec<(String, String)>,
    /// The connection dropped.
    gone: bool,
}

const BOOT: &str = "b00t";

impl FakeNode {
    fn new(addr: &'static str) -> Arc<FakeNode> {
        Arc::new(FakeNode {
            addr,
            ..FakeNode::default()
        })
    }

    fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    fn clear(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

fn out(code: i32, stdout: &str) -> Output {
    Output {
        code: Some(code),
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    }
}

impl Exec for FakeNode {
    fn output(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        let mut st = self.state.lock().unwrap();
        let argv = cmd.argv();
        // The launcher's script is long; log it by name.
        let shown: Vec<&str> = argv
            .iter()
            .map(|a| {
                if a == remote::LAUNCH {
                    "LAUNCH"
                } else {
                    a.as_str()
                }
            })
            .collect();
        st.log.push(shown.join(" "));
        let a: Vec<&str> = argv
            .iter()
            .map(String::as_str)
            .skip_while(|a| matches!(*a, "sudo" | "-n" | "--"))
            .collect();
        Ok(match a.as_slice() {
            ["printenv", "SSH_CONNECTION"] => {
                out(0, &format!("10.9.0.254 50000 {} 22\n", self.addr))
            }
            ["sh", "-c", ..] => {
                st.alive = true;
                out(0, "4242\n")
            }
            ["ps", ..] if st.alive => out(0, "Ss\n"),
            ["ps", ..] => out(1, ""),
            ["kill", "-s", "KILL", ..] => {
                st.alive = false;
                out(0, "")
            }
            ["sha256sum", "--", p] if p.starts_with("/proc") => out(1, ""),
            ["sha256sum", ..] => match &st.binary_sha {
                Some(h) => out(0, &format!("{h}  x\n")),
                None => out(1, ""),
            },
            ["mv", ..] => {
                st.binary_sha = Some(local_sha());
                out(0, "")
            }
            ["cat", "--", "/proc/sys/kernel/random/boot_id"] => out(0, &format!("{BOOT}\n")),
            ["cat", "--", p] => match st.pidfiles.iter().find(|(f, _)| f == p) {
                Some((_, text)) => out(0, text),
                None => out(1, ""),
            },
            ["find", _, "-mindepth", "3", ..] => out(
                0,
                &st.pidfiles
                    .iter()
                    .map(|(f, _)| format!("{f}\n"))
                    .collect::<String>(),
            ),
            ["find", _, "-mindepth", "1", ..] => out(0, "/r/old-run\n"),
            // No FAULTLINE chain to list.
            ["iptables", "-w", "5", "-n", "-L", ..] => out(1, ""),
            ["iptables", "-w", "5", "-D", ..] => out(1, ""),
            ["iptables", "-w", "5", "-C", ..] => out(1, ""),
            _ => out(0, ""),
        })
    }
}

impl NodeLink for FakeNode {
    fn alive(&self) -> Result<(), String> {
        if self.state.lock().unwrap().gone {
            Err("the SSH connection is gone: connection closed by the node".into())
        } else {
            Ok(())
        }
    }
}

fn local_sha() -> String {
    let exe = std::env::current_exe().unwrap();
    remote::parse_sha256(&RealExec.run(&remote::sha256(&exe)).unwrap().stdout_lossy()).unwrap()
}

struct Fixture {
    cluster: SshCluster,
    nodes: Vec<Arc<FakeNode>>,
    _rt: PlainRuntime,
}

fn fixture(sudo: bool, owned: bool) -> Fixture {
    fixture_with(sudo, owned, 0)
}

/// Two system nodes and `services` service nodes (10.9.0.3, …).
fn fixture_with(sudo: bool, owned: bool, services: usize) -> Fixture {
    const ADDRS: [&str; 4] = ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4"];
    let rt = PlainRuntime::new(1).unwrap();
    let nodes: Vec<_> = ADDRS[..2 + services]
        .iter()
        .map(|a| FakeNode::new(a))
        .collect();
    let links = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                NodeSpec::from(Host::parse(&format!("h{}", i + 1)).unwrap()),
                Arc::clone(n) as Arc<dyn NodeLink>,
            )
        })
        .collect();
    let cluster = SshCluster::from_links(
        "t1",
        Path::new("/r"),
        sudo,
        links,
        services,
        Clients::Given(rt.handle()),
        owned,
    )
    .unwrap();
    Fixture {
        cluster,
        nodes,
        _rt: rt,
    }
}

fn n1() -> NodeId {
    NodeId::nth(1)
}

#[test]
fn connecting_learns_addresses_and_makes_the_run_directory() {
    let f = fixture(true, true);
    let nodes = f.cluster.nodes();
    assert_eq!(nodes[1].addr, Ipv4Addr::new(10, 9, 0, 2));
    assert_eq!(f.cluster.exempt(), vec![Ipv4Addr::new(10, 9, 0, 254)]);
    assert_eq!(
        f.nodes[0].log(),
        ["printenv SSH_CONNECTION", "sudo -n -- mkdir -p -- /r/t1/n1"],
        "SSH_CONNECTION is read without sudo, which would clear it"
    );
}

#[test]
fn services_start_detached_and_signals_go_to_the_group() {
    let f = fixture(false, false);
    f.nodes[0].clear();
    let spec = ServiceSpec::new(["etcd", "--name", "n1"], "/r/t1/n1", "/r/t1/n1/etcd.log");
    assert_eq!(f.cluster.start_service(n1(), spec).unwrap(), 4242);
    assert_eq!(
        f.cluster.service_state(n1()).unwrap(),
        ServiceState::Running
    );
    f.cluster.pause(n1()).unwrap();
    assert!(f.cluster.kill(n1()).unwrap());
    assert!(!f.cluster.kill(n1()).unwrap(), "nothing left to kill");
    assert_eq!(f.cluster.start(n1()).unwrap(), 4242, "the same spec again");
    assert_eq!(
        f.nodes[0].log(),
        [
            "sh -c LAUNCH faultline-launch /r/t1/n1/service.pid /r/t1/n1/etcd.log /r/t1/n1 -- etcd --name n1",
            "ps -o stat= -s 4242",
            "ps -o stat= -s 4242",
            "kill -s STOP -- -4242",
            "ps -o stat= -s 4242",
            "kill -s KILL -- -4242",
            "ps -o stat= -s 4242",
            "sh -c LAUNCH faultline-launch /r/t1/n1/service.pid /r/t1/n1/etcd.log /r/t1/n1 -- etcd --name n1",
        ]
    );
    assert!(matches!(
        f.cluster.start(n1()),
        Err(RuntimeError::AlreadyRunning { pid: 4242, .. })
    ));
}

#[test]
fn a_service_that_ended_on_its_own_is_exited() {
    let f = fixture(false, false);
    f.cluster
        .start_service(n1(), ServiceSpec::new(["true"], "/r", "/r/l"))
        .unwrap();
    f.nodes[0].state.lock().unwrap().alive = false;
    assert_eq!(
        f.cluster.service_state(n1()).unwrap(),
        ServiceState::Exited(None)
    );
    assert!(matches!(
        f.cluster.pause(n1()),
        Err(RuntimeError::NotRunning { .. })
    ));
}

#[test]
fn filters_go_into_the_faultline_chain_through_sudo_with_the_controller_exempt() {
    let f = fixture(true, false);
    f.nodes[0].clear();
    let table = FilterTable {
        drop_from: [Ipv4Addr::new(10, 9, 0, 2)].into_iter().collect(),
        ..FilterTable::default()
    };
    f.cluster.apply_filter(n1(), &table).unwrap();
    let log = f.nodes[0].log();
    assert_eq!(log[0], "sudo -n -- iptables-restore -w 5 --noflush");
    assert_eq!(
        log[1..],
        [
            "sudo -n -- iptables -w 5 -C INPUT -j FAULTLINE",
            "sudo -n -- iptables -w 5 -I INPUT 1 -j FAULTLINE",
            "sudo -n -- iptables -w 5 -C OUTPUT -j FAULTLINE",
            "sudo -n -- iptables -w 5 -I OUTPUT 1 -j FAULTLINE",
        ]
    );
    let rules = filter::render(&table, &f.cluster.exempt());
    assert!(
        rules.find("-s 10.9.0.254/32 -j RETURN") < rules.find("-s 10.9.0.2/32 -j DROP"),
        "{rules}"
    );
}

#[test]
fn the_binary_is_uploaded_once_and_skipped_when_present() {
    let f = fixture(false, false);
    let sha = local_sha();
    let want = PathBuf::from(format!("/r/bin/faultline-{sha}"));
    f.nodes[0].clear();
    assert_eq!(f.cluster.faultline_binary(n1()).unwrap(), want);
    assert_eq!(f.cluster.faultline_binary(n1()).unwrap(), want, "cached");
    let log = f.nodes[0].log();
    assert_eq!(log.len(), 5, "{log:?}");
    assert_eq!(log[0], format!("sha256sum -- {}", want.display()));
    assert!(
        log[1].starts_with("install -D -m 0755 /dev/stdin /r/bin/faultline-")
            && log[1].ends_with(".tmp-t1-n1"),
        "{}",
        log[1]
    );
    assert!(log[2].starts_with("mv -f -- "), "{}", log[2]);
    // Then the binaries other builds left are pruned, this one marked as used.
    let prune = format!("faultline-prune {} 3", want.display());
    assert!(
        log[4].starts_with("sh -c ") && log[4].ends_with(&prune),
        "{}",
        log[4]
    );
    // n2 already has it: checked, nothing uploaded, pruned.
    f.nodes[1].state.lock().unwrap().binary_sha = Some(sha);
    f.nodes[1].clear();
    assert_eq!(f.cluster.faultline_binary(NodeId::nth(2)).unwrap(), want);
    let log = f.nodes[1].log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0], format!("sha256sum -- {}", want.display()));
    assert!(log[1].ends_with(&prune), "{}", log[1]);
}

#[test]
fn teardown_kills_clears_and_removes_only_the_run() {
    let f = fixture(true, true);
    f.cluster
        .start_service(
            n1(),
            ServiceSpec::new(["sleep", "9"], "/r/t1/n1", "/r/t1/n1/l"),
        )
        .unwrap();
    f.nodes[0].clear();
    let node = Arc::clone(&f.nodes[0]);
    f.cluster.down().unwrap();
    let log = node.log();
    let kill = log.iter().position(|l| l.contains("kill -s KILL")).unwrap();
    let chain = log.iter().position(|l| l.contains("-L FAULTLINE")).unwrap();
    let rm = log.iter().position(|l| l.contains("rm -rf")).unwrap();
    assert!(kill < chain && chain < rm, "{log:?}");
    assert_eq!(log[rm], "sudo -n -- rm -rf -- /r/t1/n1");
    assert_eq!(log.last().unwrap(), "sudo -n -- rmdir -- /r/t1");
    assert!(!log
        .iter()
        .any(|l| l.contains("-F INPUT") || l.contains("iptables -F\n")));
}

#[test]
fn service_nodes_follow_the_systems_and_are_torn_down_alike() {
    let f = fixture_with(true, true, 2);
    let ids = |v: Vec<NodeInfo>| v.iter().map(|n| n.id.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(f.cluster.nodes()), ["n1", "n2"]);
    assert_eq!(ids(f.cluster.service_nodes()), ["n3", "n4"]);
    let n4 = NodeId::nth(4);
    assert_eq!(f.cluster.addr(n4).unwrap(), Ipv4Addr::new(10, 9, 0, 4));
    assert_eq!(
        f.nodes[3].log(),
        ["printenv SSH_CONNECTION", "sudo -n -- mkdir -p -- /r/t1/n4"],
        "a service node gets its directory as a system node does"
    );
    // Every per-node method takes a service node.
    f.cluster
        .start_service(
            n4,
            ServiceSpec::new(["candidate"], "/r/t1/n4", "/r/t1/n4/candidate.log"),
        )
        .unwrap();
    f.cluster.pause(n4).unwrap();
    f.cluster.probe(n4).unwrap();
    let table = FilterTable {
        drop_from: [Ipv4Addr::new(10, 9, 0, 1)].into(),
        ..FilterTable::default()
    };
    f.cluster.apply_filter(n4, &table).unwrap();
    assert!(f.nodes[3]
        .log()
        .iter()
        .any(|l| l.contains("kill -s STOP -- -4242")));
    assert!(f.nodes[3]
        .log()
        .iter()
        .any(|l| l.contains("iptables-restore")));
    assert!(
        f.nodes[1].log().iter().all(|l| !l.contains("candidate")),
        "nothing of the service node's reaches a system node"
    );
    for n in &f.nodes {
        n.clear();
    }
    let n4_link = Arc::clone(&f.nodes[3]);
    f.cluster.down().unwrap();
    let log = n4_link.log();
    assert!(log.iter().any(|l| l.contains("kill -s KILL")), "{log:?}");
    assert!(
        log.iter().any(|l| l == "sudo -n -- rm -rf -- /r/t1/n4"),
        "{log:?}"
    );
}

#[test]
fn clean_kills_only_this_boots_groups() {
    let f = fixture(false, false);
    {
        let mut st = f.nodes[0].state.lock().unwrap();
        st.alive = true;
        st.pidfiles = vec![
            ("/r/old-run/n1/service.pid".into(), format!("4242 {BOOT}\n")),
            (
                "/r/older/n1/service.pid".into(),
                "777 another-boot\n".into(),
            ),
        ];
    }
    let reports = f.cluster.clean(None);
    let r = reports[0].1.as_ref().unwrap();
    assert_eq!(r.groups, [4242]);
    assert_eq!(r.dirs, [PathBuf::from("/r/old-run")]);
    let log = f.nodes[0].log();
    assert!(!log.iter().any(|l| l.contains("-777")), "{log:?}");
    assert!(log.contains(&"rm -rf -- /r/old-run".to_string()));
}

#[test]
fn clean_reaches_the_service_hosts_it_is_given() {
    let f = fixture_with(false, false, 1);
    {
        let mut st = f.nodes[2].state.lock().unwrap();
        st.alive = true;
        st.pidfiles = vec![("/r/old-run/n3/service.pid".into(), format!("4242 {BOOT}\n"))];
    }
    let reports = f.cluster.clean(None);
    assert_eq!(reports.len(), 3, "the service host is cleaned too");
    let (id, r) = &reports[2];
    assert_eq!(*id, NodeId::nth(3));
    assert_eq!(r.as_ref().unwrap().groups, [4242]);
    assert!(f.nodes[2]
        .log()
        .iter()
        .any(|l| l.contains("kill -s KILL -- -4242")));
}

#[test]
fn a_probe_names_the_node_whose_connection_dropped_and_runs_nothing_on_it() {
    let f = fixture(false, false);
    f.nodes[1].clear();
    f.cluster.probe(NodeId::nth(2)).unwrap();
    f.nodes[1].state.lock().unwrap().gone = true;
    f.cluster.probe(n1()).unwrap();
    let e = f.cluster.probe(NodeId::nth(2)).unwrap_err().to_string();
    assert!(
        e.starts_with("n2 (h2): cannot reach the node: the SSH connection is gone"),
        "{e}"
    );
    assert!(
        f.nodes[1].log().is_empty(),
        "a probe is local: {:?}",
        f.nodes[1].log()
    );
}

#[test]
fn nothing_new_reaches_a_node_once_teardown_began() {
    let f = fixture(false, true);
    f.cluster.remove_all().unwrap();
    f.nodes[0].clear();
    let table = FilterTable {
        drop_from: [Ipv4Addr::new(10, 9, 0, 2)].into_iter().collect(),
        ..FilterTable::default()
    };
    let refused = f.cluster.apply_filter(n1(), &table).unwrap_err();
    assert!(
        refused.to_string().contains("run t1 is being torn down"),
        "{refused}"
    );
    let spec = ServiceSpec::new(["etcd"], "/r/t1/n1", "/r/t1/n1/etcd.log");
    assert!(f.cluster.start_service(n1(), spec).is_err());
    assert!(f.cluster.write_file(n1(), Path::new("a"), b"x").is_err());
    assert!(
        f.nodes[0].log().is_empty(),
        "a fault thread still running after a forced teardown adds nothing: {:?}",
        f.nodes[0].log()
    );
}
