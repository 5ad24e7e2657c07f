//! Kill, pause and loss through the nemesis on real nodes, and a seeded schedule run.

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use nemesis::{
    Fault, FaultKind, FaultOutcome, FaultPhase, Nemesis, NodeSpec, Schedule, ScheduleConfig,
};
use runtime::netns::probe;
use runtime::{wait, NodeId, Runtime};

use crate::support::{down, echo_cluster};

fn only(n: u16) -> NodeSpec {
    NodeSpec::Nodes([NodeId::nth(n)].into_iter().collect())
}

#[test]
fn kill_closes_the_port_and_stop_restarts() {
    let port = 7311;
    let cluster = echo_cluster("nkill", 3, port);
    let mut nem = Nemesis::new(cluster.clone(), 5);
    let e = nem.start(&Fault::Kill { nodes: only(2) });
    assert_eq!(e.outcome, FaultOutcome::Installed);
    assert_eq!(e.nodes, vec!["n2".to_string()]);
    assert!(!cluster.is_running(NodeId::nth(2)));
    assert!(cluster
        .connect(NodeId::nth(2), port, Duration::from_millis(300))
        .is_err());
    let e = nem.stop(FaultKind::Kill);
    assert_eq!(e.outcome, FaultOutcome::Installed);
    cluster
        .wait_for_port(NodeId::nth(2), port, Duration::from_secs(20))
        .unwrap();
    drop(nem);
    down(cluster);
}

#[test]
fn pause_silences_and_resume_revives() {
    let port = 7312;
    let cluster = echo_cluster("npause", 3, port);
    let mut nem = Nemesis::new(cluster.clone(), 5);
    let to = SocketAddr::from((cluster.addr(NodeId::nth(1)).unwrap(), port));
    let ctl = cluster.control_ns();
    nem.start(&Fault::Pause { nodes: only(1) });
    assert!(!wait::echo_round_trip(&ctl, to, Duration::from_millis(400)));
    nem.stop(FaultKind::Pause);
    assert!(wait::echo_round_trip(&ctl, to, Duration::from_secs(5)));
    drop(nem);
    down(cluster);
}

#[test]
fn total_loss_cuts_a_node_and_heal_restores_it() {
    let port = 7313;
    let cluster = echo_cluster("nloss", 3, port);
    let nodes = cluster.node_ids();
    let mut nem = Nemesis::new(cluster.clone(), 5);
    let e = nem.start(&Fault::Loss {
        p: 1.0,
        nodes: only(3),
    });
    assert_eq!(e.outcome, FaultOutcome::Installed);
    let m = cluster.reachability(port, Duration::from_millis(400));
    for ((a, b), ok) in &m {
        let touches_n3 = *a == NodeId::nth(3) || *b == NodeId::nth(3);
        assert_eq!(*ok, !touches_n3, "{a}->{b}\n{}", probe::render(&m));
    }
    nem.stop(FaultKind::Loss);
    assert_eq!(
        cluster.reachability(port, Duration::from_secs(1)),
        probe::full_matrix(&nodes)
    );
    drop(nem);
    down(cluster);
}

#[test]
fn a_seeded_schedule_runs_bounded_and_leaves_everything_healed() {
    let port = 7314;
    let cluster = echo_cluster("nsched", 3, port);
    let nodes = cluster.node_ids();
    let mut nem = Nemesis::new(cluster.clone(), 9);
    let mut cfg = ScheduleConfig::new(vec![
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
    ]);
    cfg.interval = Duration::from_millis(50);
    let mut sched = Schedule::new(cfg, 9).unwrap();
    let mut events = Vec::new();
    nemesis::schedule::run(
        &mut nem,
        &mut sched,
        Duration::from_millis(1500),
        &AtomicBool::new(false),
        |e| events.push(e),
    );
    assert!(events.len() >= 2, "{events:?}");
    let starts = events
        .iter()
        .filter(|e| e.phase == FaultPhase::Start)
        .count();
    let stops = events
        .iter()
        .filter(|e| e.phase == FaultPhase::Stop)
        .count();
    assert_eq!(starts, stops, "every start has its stop");
    for e in &events {
        assert!(!matches!(e.outcome, FaultOutcome::Indeterminate(_)), "{e}");
        serde_json::to_string(e).unwrap();
    }
    assert!(nem.active().is_empty());
    for n in &nodes {
        cluster
            .wait_for_port(*n, port, Duration::from_secs(20))
            .unwrap();
    }
    assert_eq!(
        cluster.reachability(port, Duration::from_secs(1)),
        probe::full_matrix(&nodes)
    );
    drop(nem);
    down(cluster);
}
