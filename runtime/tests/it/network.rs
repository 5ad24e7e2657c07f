//! Namespaces, addresses, routes, the bridge, the control runtime, one-off commands.

use std::collections::BTreeSet;
use std::time::Duration;

use runtime::exec::Cmd;
use runtime::netns::probe;
use runtime::netns::{addr, Cluster};
use runtime::{NodeId, Runtime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{namespaces_of, run_name, start_echo_everywhere, HostGuard};

#[test]
fn up_builds_isolated_namespaces_and_down_removes_them() {
    let _host = HostGuard::new();
    let run = run_name("net");
    let cluster = Cluster::up(&run, 3).expect("cluster up");
    assert_eq!(
        namespaces_of(&run).into_iter().collect::<BTreeSet<_>>(),
        addr::all_ns(&run, 3).into_iter().collect::<BTreeSet<_>>()
    );
    for n in cluster.node_ids() {
        let want = cluster.addr(n).unwrap();
        assert!(addr::in_range(want));
        let addrs = cluster
            .exec_ok(
                n,
                &Cmd::new("ip").args(["-o", "-4", "addr", "show", "dev", "eth0"]),
            )
            .unwrap()
            .stdout_lossy();
        assert!(addrs.contains(&format!("{want}/24")), "{n}: {addrs}");
        let v6 = cluster
            .exec_ok(
                n,
                &Cmd::new("ip").args(["-o", "-6", "addr", "show", "dev", "eth0"]),
            )
            .unwrap()
            .stdout_lossy();
        assert!(
            v6.trim().is_empty(),
            "{n} has IPv6 addresses that iptables would not cut: {v6}"
        );
        let routes = cluster
            .exec_ok(n, &Cmd::new("ip").args(["route", "show", "table", "all"]))
            .unwrap()
            .stdout_lossy();
        assert!(
            !routes.contains("default"),
            "{n} has a default route: {routes}"
        );
        let lo = cluster
            .exec_ok(n, &Cmd::new("ip").args(["-o", "link", "show", "lo"]))
            .unwrap()
            .stdout_lossy();
        assert!(lo.contains("UP"), "{n}: loopback is down: {lo}");
    }
    // Nothing is routable out of a node: an address outside the slot is unreachable.
    let err = cluster
        .exec(
            NodeId::nth(1),
            &Cmd::new("ip").args(["route", "get", "192.0.2.1"]),
        )
        .unwrap();
    assert!(!err.success(), "a node must have no route to 192.0.2.1");
    cluster.down().expect("cluster down");
    assert!(namespaces_of(&run).is_empty());
}

#[test]
fn every_node_reaches_every_node_and_the_control_runtime_reaches_them_all() {
    let _host = HostGuard::new();
    let cluster = Cluster::up(&run_name("reach"), 4).expect("cluster up");
    start_echo_everywhere(&cluster, 7001);
    let nodes = cluster.node_ids();
    assert_eq!(
        cluster.reachability(7001, Duration::from_secs(2)),
        probe::full_matrix(&nodes)
    );
    let ctl = cluster.clients().expect("control runtime");
    let ctl_addr = cluster.control_addr();
    for n in nodes {
        let to = std::net::SocketAddr::from((cluster.addr(n).unwrap(), 7001));
        let (local, echoed) = ctl
            .block_on(async move {
                let mut s = tokio::net::TcpStream::connect(to).await?;
                let local = s.local_addr()?;
                s.write_all(b"hi\n").await?;
                let mut buf = [0u8; 3];
                s.read_exact(&mut buf).await?;
                Ok::<_, std::io::Error>((local, buf))
            })
            .expect("task ran")
            .expect("echo round trip from the control namespace");
        assert_eq!(local.ip(), std::net::IpAddr::V4(ctl_addr));
        assert_eq!(&echoed, b"hi\n");
    }
    cluster.down().expect("down");
}

#[test]
fn concurrent_runs_get_distinct_slots_and_do_not_see_each_other() {
    let _host = HostGuard::new();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Cluster::up(&run_name("ca"), 2).expect("up a"));
        let b = s.spawn(|| Cluster::up(&run_name("cb"), 2).expect("up b"));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.slot(), b.slot());
    start_echo_everywhere(&b, 7002);
    // b's node 1 is not reachable from a's node 1 (different bridges).
    let to = std::net::SocketAddr::from((b.addr(NodeId::nth(1)).unwrap(), 7002));
    let ns_a1 = a.member(NodeId::nth(1)).unwrap().ns.clone();
    assert!(!runtime::wait::echo_round_trip(
        &ns_a1,
        to,
        Duration::from_millis(300)
    ));
    a.down().unwrap();
    b.down().unwrap();
}

#[test]
fn a_dropped_cluster_is_torn_down() {
    let run = run_name("drop");
    {
        let cluster = Cluster::up(&run, 2).expect("up");
        start_echo_everywhere(&cluster, 7003);
    }
    assert!(namespaces_of(&run).is_empty());
    assert!(runtime::netns::Registry::default().get(&run).is_err());
}

#[test]
fn bad_input_is_rejected_before_anything_is_created() {
    let err = Cluster::up("Bad_Name", 3).unwrap_err();
    assert!(err.to_string().contains("run name"), "{err}");
    let err = Cluster::up(&run_name("zero"), 0).unwrap_err();
    assert!(err.to_string().contains("node count"), "{err}");
}

#[test]
fn service_nodes_are_namespaces_beside_the_system_s_and_removed_with_them() {
    let _host = HostGuard::new();
    let run = run_name("svc");
    let cluster =
        Cluster::up_with(runtime::netns::ClusterConfig::new(run.clone(), 2).service_nodes(2))
            .expect("cluster up");
    assert_eq!(cluster.node_ids(), [NodeId::nth(1), NodeId::nth(2)]);
    let extra: Vec<NodeId> = cluster.service_nodes().iter().map(|n| n.id).collect();
    assert_eq!(extra, [NodeId::nth(3), NodeId::nth(4)]);
    assert_eq!(
        namespaces_of(&run).into_iter().collect::<BTreeSet<_>>(),
        addr::all_ns(&run, 4).into_iter().collect::<BTreeSet<_>>()
    );
    // A service node is addressed like the system's nodes; it and they reach each
    // other and the controller.
    let n4 = NodeId::nth(4);
    assert_eq!(
        cluster.addr(n4).unwrap(),
        addr::node_addr(cluster.slot(), 4)
    );
    start_echo_everywhere(&cluster, 7004);
    for n in extra.clone() {
        cluster
            .start_service(n, crate::support::echo_spec(&cluster, n, 7004))
            .expect("echo starts on a service node");
        cluster
            .wait_for_port(n, 7004, Duration::from_secs(20))
            .expect("the controller reaches a service node");
    }
    let all: Vec<NodeId> = (1..=4).map(NodeId::nth).collect();
    assert_eq!(
        cluster.reachability(7004, Duration::from_secs(2)),
        probe::full_matrix(&all)
    );
    cluster.down().expect("cluster down");
    assert!(namespaces_of(&run).is_empty());
}
