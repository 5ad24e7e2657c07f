//! Services on nodes: start, kill (the whole group), start again, pause, resume.

use std::time::Duration;

use runtime::exec::Cmd;
use runtime::netns::Cluster;
use runtime::service::group_alive;
use runtime::wait::echo_round_trip;
use runtime::{NodeId, Runtime, ServiceSpec, ServiceState};

use crate::support::{echo_spec, run_name, HostGuard};

#[test]
fn kill_closes_the_port_and_start_brings_it_back() {
    let _host = HostGuard::new();
    let cluster = Cluster::up(&run_name("kill"), 2).expect("up");
    let n1 = NodeId::nth(1);
    let port = 7101;
    let to = std::net::SocketAddr::from((cluster.addr(n1).unwrap(), port));
    let ctl = cluster.control_ns();
    cluster
        .start_service(n1, echo_spec(&cluster, n1, port))
        .unwrap();
    cluster
        .wait_for_port(n1, port, Duration::from_secs(20))
        .unwrap();
    assert!(echo_round_trip(&ctl, to, Duration::from_secs(2)));
    let pid = cluster.service_pid(n1).expect("running");
    assert!(cluster.kill(n1).unwrap(), "something was killed");
    assert_eq!(cluster.service_state(n1).unwrap(), ServiceState::Stopped);
    assert!(!cluster.is_running(n1));
    assert!(group_alive(pid as i32).is_empty());
    assert!(
        cluster
            .connect(n1, port, Duration::from_millis(300))
            .is_err(),
        "port closed"
    );
    assert!(
        !cluster.kill(n1).unwrap(),
        "killing a stopped service is a no-op"
    );
    cluster.start(n1).unwrap();
    cluster
        .wait_for_port(n1, port, Duration::from_secs(20))
        .unwrap();
    assert!(echo_round_trip(&ctl, to, Duration::from_secs(2)));
    assert!(cluster.start(n1).is_err(), "already running");
    cluster.down().unwrap();
}

#[test]
fn kill_reaches_every_process_in_the_group() {
    let cluster = Cluster::up(&run_name("grp"), 1).expect("up");
    let n1 = NodeId::nth(1);
    let dir = cluster.node_dir(n1).unwrap();
    // A parent with two children, like a JVM launcher script.
    let spec = ServiceSpec::new(
        ["sh", "-c", "sleep 600 & sleep 600 & wait"],
        &dir,
        dir.join("sh.log"),
    );
    let pid = cluster.start_service(n1, spec).unwrap() as i32;
    cluster
        .wait_until(
            "three processes in the group",
            Duration::from_secs(10),
            || group_alive(pid).len() == 3,
        )
        .unwrap();
    cluster.kill(n1).unwrap();
    assert!(group_alive(pid).is_empty());
    cluster.down().unwrap();
}

#[test]
fn a_launcher_that_exits_leaves_a_running_group_that_kill_still_reaches() {
    let cluster = Cluster::up(&run_name("launch"), 1).expect("up");
    let n1 = NodeId::nth(1);
    let dir = cluster.node_dir(n1).unwrap();
    // Like a daemonizing launcher: forks the real program and exits at once.
    let spec = ServiceSpec::new(["sh", "-c", "sleep 600 & exit 0"], &dir, dir.join("l.log"));
    let pgid = cluster.start_service(n1, spec).unwrap() as i32;
    cluster
        .wait_until("the launcher to exit", Duration::from_secs(10), || {
            let alive = group_alive(pgid);
            alive.len() == 1 && !alive.contains(&pgid)
        })
        .unwrap();
    assert_eq!(cluster.service_state(n1).unwrap(), ServiceState::Running);
    assert!(cluster.start(n1).is_err(), "the group still runs");
    cluster.pause(n1).unwrap();
    assert_eq!(cluster.service_state(n1).unwrap(), ServiceState::Paused);
    assert!(cluster.kill(n1).unwrap());
    assert!(group_alive(pgid).is_empty());
    assert!(!cluster.is_running(n1));
    cluster.down().unwrap();
}

#[test]
fn a_paused_service_does_not_answer_until_resumed() {
    let cluster = Cluster::up(&run_name("pause"), 1).expect("up");
    let n1 = NodeId::nth(1);
    let port = 7102;
    let to = std::net::SocketAddr::from((cluster.addr(n1).unwrap(), port));
    let ctl = cluster.control_ns();
    cluster
        .start_service(n1, echo_spec(&cluster, n1, port))
        .unwrap();
    cluster
        .wait_for_port(n1, port, Duration::from_secs(20))
        .unwrap();
    cluster.pause(n1).unwrap();
    assert_eq!(cluster.service_state(n1).unwrap(), ServiceState::Paused);
    assert!(!echo_round_trip(&ctl, to, Duration::from_millis(500)));
    cluster.resume(n1).unwrap();
    assert_eq!(cluster.service_state(n1).unwrap(), ServiceState::Running);
    assert!(echo_round_trip(&ctl, to, Duration::from_secs(5)));
    cluster.down().unwrap();
}

#[test]
fn one_off_commands_run_inside_the_node_and_logs_are_kept() {
    let cluster = Cluster::up(&run_name("exec"), 2).expect("up");
    let n2 = NodeId::nth(2);
    let out = cluster
        .exec_ok(n2, &Cmd::new("ip").args(["-o", "-4", "addr"]))
        .unwrap()
        .stdout_lossy();
    assert!(
        out.contains(&cluster.addr(n2).unwrap().to_string()),
        "{out}"
    );
    assert!(!out.contains(&cluster.addr(NodeId::nth(1)).unwrap().to_string()));
    let dir = cluster.node_dir(n2).unwrap();
    let log = dir.join("out.log");
    cluster
        .start_service(
            n2,
            ServiceSpec::new(["sh", "-c", "echo hello-$X"], &dir, &log).env("X", "y"),
        )
        .unwrap();
    cluster
        .wait_until("the service to exit", Duration::from_secs(10), || {
            cluster
                .service_state(n2)
                .is_ok_and(|s| s == ServiceState::Exited(Some(0)))
        })
        .unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "hello-y\n");
    cluster.down().unwrap();
}
