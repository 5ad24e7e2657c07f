//! The SSH runtime against real OpenSSH servers: each node of a namespace cluster runs
//! Debian's `sshd` (key auth with a key pair generated per test) on its 198.18.x.y
//! address, and the SSH runtime runs its `ssh` masters and its clients on the cluster's
//! control-namespace runtime — so the host's interfaces, routes and iptables are never
//! used. Needs root and `openssh-server` (scripts/setup.sh).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runtime::exec::{Cmd, Exec, RealExec};
use runtime::filter::FilterTable;
use runtime::netns::Cluster;
use runtime::service::group_alive;
use runtime::ssh::testbed::SshBed;
use runtime::ssh::{Host, HostKeyChecking, NodeSpec, SshCluster};
use runtime::wait::echo_round_trip;
use runtime::{NodeId, Runtime, RuntimeError, ServiceSpec, ServiceState};

use crate::support::{namespaces_of, run_name, HostGuard, ECHO_BIN};

/// The sshd-in-namespaces test bed (`runtime::ssh::testbed`), `n` nodes.
fn bed_up(tag: &str, n: u16) -> SshBed {
    SshBed::up(&run_name(tag), n).unwrap_or_else(|e| panic!("ssh bed: {e}"))
}

/// Tears the bed down; none of its namespaces may be left.
fn bed_down(bed: SshBed) {
    let run = bed.cluster.record().run.clone();
    bed.down().expect("cluster down");
    assert!(namespaces_of(&run).is_empty(), "namespaces left");
}

fn echo_spec(rt: &dyn Runtime, node: NodeId, port: u16) -> ServiceSpec {
    let addr = SocketAddr::from((rt.addr(node).unwrap(), port));
    let dir = rt.node_dir(node).unwrap();
    ServiceSpec::new(
        [ECHO_BIN.to_string(), addr.to_string()],
        &dir,
        dir.join("echo.log"),
    )
}

#[test]
fn ssh_runs_commands_services_and_filters_and_survives_a_partition() {
    let _host = HostGuard::new();
    let bed = bed_up("ssh", 3);
    let run = run_name("sshrun");
    let ssh = bed.connect(&run).unwrap();
    let (n1, n2) = (NodeId::nth(1), NodeId::nth(2));
    let ctl = bed.cluster.control_ns();

    // Nodes and the controller, as the nodes saw them.
    assert_eq!(ssh.nodes(), bed.cluster.nodes());
    assert_eq!(ssh.exempt(), vec![bed.cluster.control_addr()]);
    let out = ssh
        .exec_ok(n1, &Cmd::new("ip").args(["-br", "addr"]))
        .unwrap();
    assert!(
        out.stdout_lossy()
            .contains(&bed.cluster.addr(n1).unwrap().to_string()),
        "exec runs in n1's network: {}",
        out.stdout_lossy()
    );
    // Arguments arrive intact through the remote shell.
    let out = ssh
        .exec_ok(
            n1,
            &Cmd::new("printf").args(["%s|", "a b", "$HOME", "'q'", ";x"]),
        )
        .unwrap();
    assert_eq!(out.stdout_lossy(), "a b|$HOME|'q'|;x|");
    let out = ssh
        .exec(n1, &Cmd::new("sh").args(["-c", "exit 7"]))
        .unwrap();
    assert_eq!(
        out.code,
        Some(7),
        "a remote exit code is an outcome, not an error"
    );
    let out = ssh
        .exec(n1, &Cmd::new("sh").args(["-c", "exit 127"]))
        .unwrap();
    assert_eq!(out.code, Some(127), "so is 127, the shell's not found");
    let out = ssh
        .exec(n1, &Cmd::new("no-such-program-of-faultline"))
        .unwrap();
    assert_eq!(out.code, Some(127), "a missing program is an outcome too");
    let iptables = runtime::packages::Package {
        name: "iptables",
        units: &[],
    };
    assert!(
        !runtime::packages::ensure(&ssh, n1, iptables).unwrap(),
        "an installed package is found on the node, not installed again"
    );

    // Files in the run's directory.
    let p = ssh
        .write_file(n1, Path::new("conf/a.txt"), b"hello\n")
        .unwrap();
    assert_eq!(p, bed.dir.join("root").join(&run).join("n1/conf/a.txt"));
    assert_eq!(
        ssh.read_file(n1, Path::new("conf/a.txt")).unwrap(),
        b"hello\n"
    );

    // A service: start, pause, resume, kill, restart with the same command line.
    let port = 7301;
    let to = SocketAddr::from((ssh.addr(n2).unwrap(), port));
    let pgid = ssh.start_service(n2, echo_spec(&ssh, n2, port)).unwrap();
    ssh.wait_for_port(n2, port, Duration::from_secs(20))
        .unwrap();
    assert!(echo_round_trip(&ctl, to, Duration::from_secs(2)));
    assert_eq!(ssh.service_state(n2).unwrap(), ServiceState::Running);
    ssh.pause(n2).unwrap();
    assert_eq!(ssh.service_state(n2).unwrap(), ServiceState::Paused);
    assert!(
        !echo_round_trip(&ctl, to, Duration::from_millis(300)),
        "a paused service does not answer"
    );
    ssh.resume(n2).unwrap();
    assert!(echo_round_trip(&ctl, to, Duration::from_secs(2)));
    assert!(ssh.kill(n2).unwrap());
    assert!(
        group_alive(pgid as i32).is_empty(),
        "the whole group is gone"
    );
    assert_eq!(ssh.service_state(n2).unwrap(), ServiceState::Stopped);
    let again = ssh.start(n2).unwrap();
    assert_ne!(again, pgid);
    ssh.wait_for_port(n2, port, Duration::from_secs(20))
        .unwrap();
    assert!(echo_round_trip(&ctl, to, Duration::from_secs(2)));
    assert!(matches!(
        ssh.start(n2),
        Err(RuntimeError::AlreadyRunning { .. })
    ));

    // A partition on n1 that even names the controller: SSH and the clients survive
    // (the controller is exempt), n1 loses n2, and n1's own rules stay.
    let sentinel = ["INPUT", "-s", "198.18.255.250/32", "-j", "ACCEPT"];
    assert!(bed
        .iptables_in(n1, &[&["-A"][..], &sentinel[..]].concat())
        .unwrap()
        .success());
    let n1_ns = bed.cluster.member(n1).unwrap().ns.clone();
    assert!(echo_round_trip(&n1_ns, to, Duration::from_secs(2)));
    let table = FilterTable {
        drop_from: [ssh.addr(n2).unwrap(), bed.cluster.control_addr()]
            .into_iter()
            .collect(),
        drop_to: [ssh.addr(n2).unwrap(), bed.cluster.control_addr()]
            .into_iter()
            .collect(),
        loss: None,
    };
    ssh.apply_filter(n1, &table).unwrap();
    assert!(
        !echo_round_trip(&n1_ns, to, Duration::from_millis(500)),
        "n1 is cut from n2"
    );
    for _ in 0..5 {
        ssh.exec_ok(n1, &Cmd::new("true"))
            .expect("SSH survives the partition");
    }
    assert!(bed
        .iptables_in(n1, &[&["-C"][..], &sentinel[..]].concat())
        .unwrap()
        .success());
    ssh.clear_filter(n1).unwrap();
    assert!(echo_round_trip(&n1_ns, to, Duration::from_secs(2)));
    assert!(
        !bed.iptables_in(n1, &["-n", "-L", "FAULTLINE"])
            .unwrap()
            .success(),
        "chain gone"
    );
    assert!(bed
        .iptables_in(n1, &[&["-C"][..], &sentinel[..]].concat())
        .unwrap()
        .success());
    assert!(bed
        .iptables_in(n1, &[&["-D"][..], &sentinel[..]].concat())
        .unwrap()
        .success());

    // Logs and data come home: the node's whole directory, but its pidfile.
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    ssh.write_file(n2, Path::new("data/state.bin"), &data)
        .unwrap();
    let store = bed.dir.join("store");
    ssh.collect(
        n2,
        &[PathBuf::from("echo.log"), PathBuf::from("missing.log")],
        &store,
    )
    .unwrap();
    assert!(store.join("echo.log").exists());
    assert_eq!(std::fs::read(store.join("data/state.bin")).unwrap(), data);
    assert!(!store.join("service.pid").exists(), "no stale pidfile");
    assert!(!store.join(runtime::ssh::NOT_DOWNLOADED).exists());
    // A directory over the bound: only the logs, and a note saying why. (A sparse
    // file: its apparent size counts, no disk is used.)
    let big = ssh.node_dir(n1).unwrap().join("data/big");
    ssh.exec_ok(
        n1,
        &Cmd::new("mkdir")
            .args(["-p", "--"])
            .arg(big.parent().unwrap()),
    )
    .unwrap();
    ssh.exec_ok(
        n1,
        &Cmd::new("truncate")
            .args([
                "-s",
                &(runtime::ssh::remote::DATA_LIMIT + 1).to_string(),
                "--",
            ])
            .arg(&big),
    )
    .unwrap();
    let store1 = bed.dir.join("store1");
    ssh.collect(n1, &[PathBuf::from("conf/a.txt")], &store1)
        .unwrap();
    assert_eq!(std::fs::read(store1.join("a.txt")).unwrap(), b"hello\n");
    assert!(!store1.join("data").exists(), "no data over the bound");
    let note = std::fs::read_to_string(store1.join(runtime::ssh::NOT_DOWNLOADED)).unwrap();
    assert!(
        note.contains(&format!(
            "over the {} bytes",
            runtime::ssh::remote::DATA_LIMIT
        )),
        "{note}"
    );

    // Teardown leaves nothing: no group, no chain, no run directory.
    ssh.apply_filter(n1, &table).unwrap();
    ssh.down().unwrap();
    assert!(group_alive(again as i32).is_empty());
    assert!(!bed
        .iptables_in(n1, &["-n", "-L", "FAULTLINE"])
        .unwrap()
        .success());
    assert!(
        !bed.dir.join("root").join(&run).exists(),
        "run directory removed"
    );
    bed_down(bed);
}

#[test]
fn ssh_uploads_the_binary_once_and_clean_removes_what_a_dead_controller_left() {
    let bed = bed_up("sshclean", 2);
    let run = run_name("dead");
    let ssh = bed.connect(&run).unwrap();
    let n1 = NodeId::nth(1);
    let bin = ssh.faultline_binary(n1).unwrap();
    assert!(bin.starts_with(bed.dir.join("root/bin")));
    let meta = std::fs::metadata(&bin).unwrap();
    // Node 2 shares this machine's file system: the copy is already there.
    assert_eq!(ssh.faultline_binary(NodeId::nth(2)).unwrap(), bin);
    // An upload writes a new file and renames it over the old one (a new inode); using
    // the copy only marks it used (its mtime, for pruning).
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&bin).unwrap()),
        std::os::unix::fs::MetadataExt::ino(&meta),
        "not uploaded twice"
    );
    ssh.exec_ok(n1, &Cmd::new("test").arg("-x").arg(&bin))
        .expect("executable on the node");
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(std::env::current_exe().unwrap()).unwrap()
    );

    // The controller dies with a service running and a partition in force.
    let pgids: Vec<u32> = ssh
        .node_ids()
        .into_iter()
        .map(|n| ssh.start_service(n, echo_spec(&ssh, n, 7302)).unwrap())
        .collect();
    let table = FilterTable {
        drop_from: [ssh.addr(NodeId::nth(2)).unwrap()].into_iter().collect(),
        ..FilterTable::default()
    };
    ssh.apply_filter(n1, &table).unwrap();
    std::mem::forget(ssh); // as SIGKILL would: no teardown at all

    let attached =
        SshCluster::attach_with(&bed.config(&run), Some(bed.cluster.control().unwrap())).unwrap();
    let reports = attached.clean(Some(&run));
    drop(attached);
    let mut killed = Vec::new();
    for (node, r) in reports {
        let r = r.unwrap_or_else(|e| panic!("{node}: {e}"));
        killed.extend(r.groups);
    }
    killed.sort_unstable();
    // The nodes share this machine's file system, so each node sees every pidfile and
    // may kill a group too (real machines see only their own).
    killed.dedup();
    let mut want = pgids.clone();
    want.sort_unstable();
    assert_eq!(killed, want);
    for p in pgids {
        assert!(group_alive(p as i32).is_empty(), "group {p} left");
    }
    assert!(!bed
        .iptables_in(n1, &["-n", "-L", "FAULTLINE"])
        .unwrap()
        .success());
    assert!(!bed.dir.join("root").join(&run).exists());
    assert!(bed.dir.join("root/bin").exists(), "the binary cache stays");
    bed_down(bed);
}

#[test]
fn ssh_failures_name_the_node_and_the_reason() {
    let bed = bed_up("ssherr", 1);
    let handle = bed.cluster.control().unwrap();

    // A key the node does not know.
    let mut cfg = bed.config(&run_name("badkey"));
    RealExec
        .run(
            &Cmd::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(bed.dir.join("stranger")),
        )
        .expect("ssh-keygen");
    cfg.ssh_config = None;
    cfg.nodes = vec![NodeSpec::from(
        Host::parse(&bed.cluster.addr(NodeId::nth(1)).unwrap().to_string()).unwrap(),
    )];
    cfg.user = Some("root".into());
    cfg.private_key = Some(bed.dir.join("stranger"));
    cfg.known_hosts = Some(bed.dir.join("known_hosts"));
    let e = SshCluster::connect_with(&cfg, handle.clone()).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, RuntimeError::Unreachable { .. }), "{text}");
    assert!(
        text.starts_with("n1: ") && text.contains("Permission denied"),
        "{text}"
    );

    // A host key that is not the known one, with strict checking.
    std::fs::write(
        bed.dir.join("known_hosts"),
        format!(
            "{} {}",
            bed.cluster.addr(NodeId::nth(1)).unwrap(),
            std::fs::read_to_string(bed.dir.join("stranger.pub")).unwrap()
        ),
    )
    .unwrap();
    cfg.private_key = Some(bed.dir.join("id_ed25519"));
    cfg.host_key_checking = HostKeyChecking::Yes;
    let text = SshCluster::connect_with(&cfg, handle.clone())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("n1: ") && text.to_lowercase().contains("host key"),
        "{text}"
    );

    // An address in the run's own subnet where no machine answers.
    let slot = bed.cluster.slot();
    let nobody = runtime::netns::addr::node_addr(slot, 9);
    cfg.nodes = vec![NodeSpec::from(Host::parse(&nobody.to_string()).unwrap())];
    cfg.connect_timeout = Duration::from_secs(2);
    let e = SshCluster::connect_with(&cfg, handle).unwrap_err();
    assert!(matches!(e, RuntimeError::Unreachable { .. }), "{e}");
    assert!(e.to_string().starts_with("n1: "), "{e}");
    bed_down(bed);
}

/// Prints what SSH costs against namespaces for 5 nodes (figures for docs/ssh.md; not
/// asserted): connect (masters + SSH_CONNECTION + run directories), a service on every
/// node up to its first answered round trip, and teardown.
#[test]
fn ssh_costs_for_five_nodes_are_printed() {
    let bed = bed_up("sshcost", 5);
    let run = run_name("cost");
    let ctl = bed.cluster.control_ns();
    let t = std::time::Instant::now();
    let ssh = bed.connect(&run).unwrap();
    let connect = t.elapsed();
    let t = std::time::Instant::now();
    for n in ssh.node_ids() {
        ssh.start_service(n, echo_spec(&ssh, n, 7303)).unwrap();
    }
    for n in ssh.node_ids() {
        ssh.wait_for_port(n, 7303, Duration::from_secs(20)).unwrap();
        let to = SocketAddr::from((ssh.addr(n).unwrap(), 7303));
        assert!(echo_round_trip(&ctl, to, Duration::from_secs(2)));
    }
    let services = t.elapsed();
    let mut execs: Vec<Duration> = (0..20)
        .map(|_| {
            let t = std::time::Instant::now();
            ssh.exec_ok(NodeId::nth(1), &Cmd::new("true")).unwrap();
            t.elapsed()
        })
        .collect();
    execs.sort_unstable();
    let one_exec = format!("min {:.2?} median {:.2?}", execs[0], execs[10]);
    let t = std::time::Instant::now();
    ssh.down().unwrap();
    let down = t.elapsed();

    // The same over namespaces, with the same services.
    let t = std::time::Instant::now();
    let ns = Cluster::up(&run_name("costns"), 5).unwrap();
    let ns_up = t.elapsed();
    let t = std::time::Instant::now();
    for n in ns.node_ids() {
        ns.start_service(n, echo_spec(&ns, n, 7303)).unwrap();
    }
    for n in ns.node_ids() {
        ns.wait_for_port(n, 7303, Duration::from_secs(20)).unwrap();
    }
    let ns_services = t.elapsed();
    let t = std::time::Instant::now();
    ns.down().unwrap();
    let ns_down = t.elapsed();
    eprintln!(
        "5 nodes: ssh connect {connect:.2?}, services up {services:.2?}, one exec (20) {one_exec}, \
         teardown {down:.2?}; namespaces up {ns_up:.2?}, services up {ns_services:.2?}, \
         teardown {ns_down:.2?}"
    );
    bed_down(bed);
}

/// A node that dies mid-run (every process in its namespace killed, sshd and its
/// sessions included) turns the next command into an `Unreachable` harness error that
/// names the node, within the master's keep-alive bound, never a hang or an outcome.
#[test]
fn ssh_a_node_that_dies_is_a_harness_error_naming_it() {
    let bed = bed_up("sshdie", 2);
    let ssh = SshCluster::attach_with(
        &bed.config(&run_name("die")),
        Some(bed.cluster.control().unwrap()),
    )
    .unwrap();
    let n2 = NodeId::nth(2);
    ssh.exec_ok(n2, &Cmd::new("true")).unwrap();
    let ns = bed.cluster.member(n2).unwrap().ns.clone();
    runtime::netns::network::kill_all_in(&ns, Duration::from_secs(10)).expect("n2 dies");
    let t = std::time::Instant::now();
    let e = ssh.exec(n2, &Cmd::new("true")).unwrap_err();
    assert!(matches!(e, RuntimeError::Unreachable { .. }), "{e}");
    assert!(e.to_string().starts_with("n2 (n2): "), "{e}");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    ssh.exec_ok(NodeId::nth(1), &Cmd::new("true"))
        .expect("the other node is still reachable");
    drop(ssh);
    bed_down(bed);
}
