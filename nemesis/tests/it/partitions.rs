//! Every partition kind on 5 real nodes: the exact reachability matrix before, under
//! the partition, and after heal; the control namespace is never cut.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use nemesis::grudge::{self, Grudge, PartitionKind};
use nemesis::{Fault, FaultKind, FaultOutcome, Nemesis};
use runtime::netns::probe;
use runtime::{wait, NodeId, Runtime};

use crate::support::{down, echo_cluster};

const PROBE: Duration = Duration::from_millis(400);

fn expected(g: &Grudge, nodes: &[NodeId]) -> probe::Matrix {
    let mut m = probe::full_matrix(nodes);
    for ((a, b), ok) in m.iter_mut() {
        *ok = g.can_talk(*a, *b);
    }
    m
}

fn ids(v: &[u16]) -> Vec<NodeId> {
    v.iter().map(|i| NodeId::nth(*i)).collect()
}

/// Who `node` can talk to under the matrix.
fn peers(m: &probe::Matrix, node: u16) -> Vec<NodeId> {
    m.iter()
        .filter(|((a, _), ok)| *a == NodeId::nth(node) && **ok)
        .map(|((_, b), _)| *b)
        .collect()
}

#[test]
fn every_partition_kind_gives_its_exact_matrix_and_heals() {
    let port = 7301;
    let cluster = echo_cluster("parts", 5, port);
    let nodes = cluster.node_ids();
    let mut nem = Nemesis::new(cluster.clone(), 11);
    assert_eq!(
        cluster.reachability(port, PROBE),
        probe::full_matrix(&nodes)
    );
    let leaders: BTreeSet<NodeId> = [NodeId::nth(2)].into_iter().collect();
    let ctl = cluster.control_ns();
    for kind in PartitionKind::ALL {
        // A fixed order so the expected matrix is exact.
        let g = grudge::compute(kind, &nodes, &leaders);
        assert!(!g.is_empty(), "{kind} cuts something");
        let e = nem.start(&Fault::Grudge { grudge: g.clone() });
        assert_eq!(e.outcome, FaultOutcome::Installed, "{kind}: {e}");
        let got = cluster.reachability(port, PROBE);
        assert_eq!(
            got,
            expected(&g, &nodes),
            "{kind}: {g}\n{}",
            probe::render(&got)
        );
        // Literal expectations for a few kinds, independent of Grudge::can_talk.
        match kind {
            PartitionKind::One => assert!(peers(&got, 1).is_empty()),
            PartitionKind::Halves => assert_eq!(peers(&got, 1), ids(&[2])),
            PartitionKind::MajoritiesRing => {
                assert_eq!(peers(&got, 1), ids(&[2, 5]));
                assert_eq!(peers(&got, 3), ids(&[2, 4]));
            }
            PartitionKind::Bridge => {
                assert_eq!(peers(&got, 3), ids(&[1, 2, 4, 5]));
                assert_eq!(peers(&got, 1), ids(&[2, 3]));
            }
            PartitionKind::Primaries => assert!(peers(&got, 2).is_empty()),
            PartitionKind::OneWay => assert_eq!(peers(&got, 1), ids(&[2])),
            _ => {}
        }
        for n in &nodes {
            let to = SocketAddr::from((cluster.addr(*n).unwrap(), port));
            assert!(
                wait::echo_round_trip(&ctl, to, Duration::from_secs(2)),
                "{kind}: the control namespace must reach {n}"
            );
        }
        let healed = nem.stop(FaultKind::Partition);
        assert_eq!(healed.outcome, FaultOutcome::Installed);
        assert_eq!(
            cluster.reachability(port, PROBE),
            probe::full_matrix(&nodes),
            "{kind}: healed"
        );
    }
    drop(nem);
    down(cluster);
}

#[test]
fn one_way_cut_drops_only_one_direction_of_udp() {
    // TCP needs both directions; UDP shows the asymmetry itself.
    let cluster = echo_cluster("oneway", 2, 7302);
    let mut nem = Nemesis::new(cluster.clone(), 1);
    let (n1, n2) = (NodeId::nth(1), NodeId::nth(2));
    let e = nem.start(&Fault::Grudge {
        grudge: grudge::one_way(&[n1], &[n2]),
    });
    assert_eq!(e.outcome, FaultOutcome::Installed);
    let udp = |from: NodeId, to: NodeId| -> bool {
        let from_ns = cluster.member(from).unwrap().ns.clone();
        let to_ns = cluster.member(to).unwrap().ns.clone();
        let to_addr = SocketAddr::from((cluster.addr(to).unwrap(), 7399));
        let rx = wait::in_netns(&to_ns, || std::net::UdpSocket::bind(to_addr))
            .unwrap()
            .unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        wait::in_netns(&from_ns, || {
            let tx = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            // Dropped by our own OUTPUT rule, sendto fails with EPERM: also "not delivered".
            let _ = tx.send_to(b"x", to_addr);
        })
        .unwrap();
        let mut buf = [0u8; 1];
        rx.recv(&mut buf).is_ok()
    };
    assert!(udp(n1, n2), "n1 → n2 still flows");
    assert!(!udp(n2, n1), "n2 → n1 is dropped");
    nem.stop(FaultKind::Partition);
    assert!(udp(n2, n1), "healed");
    drop(nem);
    down(cluster);
}

#[test]
fn a_nodes_own_rules_survive_a_partition_and_its_heal() {
    // On a real machine the filter table holds rules faultline must never touch (the
    // ones that keep SSH reachable): only the FAULTLINE chain and its jumps are ours.
    use runtime::exec::Cmd;
    let port = 7303;
    let cluster = echo_cluster("ownrules", 3, port);
    let n1 = NodeId::nth(1);
    // TEST-NET-1 (RFC 5737): the rule names it; nothing is ever sent there.
    let theirs = ["INPUT", "-s", "192.0.2.7/32", "-j", "DROP"];
    let iptables = |op: &str| Cmd::new("iptables").args(["-w", "5", op]).args(theirs);
    cluster.exec_ok(n1, &iptables("-A")).unwrap();
    let mut nem = Nemesis::new(cluster.clone(), 3);
    let e = nem.start(&Fault::Partition {
        kind: PartitionKind::One,
    });
    assert_eq!(e.outcome, FaultOutcome::Installed, "{e}");
    let save = |n: NodeId| {
        cluster
            .exec_ok(n, &Cmd::new("iptables-save"))
            .unwrap()
            .stdout_lossy()
    };
    let during = save(n1);
    assert!(during.contains("-A INPUT -j FAULTLINE"), "{during}");
    assert!(
        during.contains("-A INPUT -s 192.0.2.7/32 -j DROP"),
        "{during}"
    );
    let e = nem.stop(FaultKind::Partition);
    assert_eq!(e.outcome, FaultOutcome::Installed, "{e}");
    assert!(
        cluster.exec(n1, &iptables("-C")).unwrap().success(),
        "the node's own rule is still there after the heal:\n{}",
        save(n1)
    );
    assert_eq!(
        cluster.reachability(port, PROBE),
        probe::full_matrix(&cluster.node_ids()),
        "healed"
    );
    // Clearing removes our chain and its jumps, and nothing else.
    for n in cluster.node_ids() {
        cluster.clear_filter(n).unwrap();
        let after = save(n);
        assert!(!after.contains("FAULTLINE"), "{n}: {after}");
    }
    assert!(save(n1).contains("-A INPUT -s 192.0.2.7/32 -j DROP"));
    drop(nem);
    down(cluster);
}
