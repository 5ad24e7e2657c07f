//! Cleanup after a controller that was SIGKILLed: `clean` finds its run in the registry
//! and removes its namespaces and processes.

use std::process::{Command, Stdio};
use std::time::Duration;

use runtime::exec::RealExec;
use runtime::netns::cleanup::{clean, CleanScope};
use runtime::netns::network as netns;
use runtime::netns::Registry;
use runtime::wait::poll_until;

use crate::support::{namespaces_of, run_name, HostGuard};

/// The stand-in controller (a binary of this crate).
const CONTROLLER_BIN: &str = env!("CARGO_BIN_EXE_faultline-test-controller");

struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the controller helper for `run` and waits until its cluster is up.
fn start_controller(run: &str, signals: bool) -> KillOnDrop {
    let mut cmd = Command::new(CONTROLLER_BIN);
    cmd.arg(run)
        .env("FAULTLINE_TEST_ECHO_BIN", crate::support::ECHO_BIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if signals {
        cmd.arg("--signals");
    }
    let mut child = KillOnDrop(cmd.spawn().unwrap());
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.contains("READY"))),
        "controller came up"
    );
    child
}

#[test]
fn sigterm_tears_the_run_down_and_exits_143() {
    let _host = HostGuard::new();
    let run = run_name("sigterm");
    let mut child = start_controller(&run, true);
    let echo_pids = netns::pids_in(&runtime::netns::addr::node_ns(&run, 1));
    assert_eq!(echo_pids.len(), 1);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert!(namespaces_of(&run).is_empty());
    assert!(Registry::default().get(&run).is_err());
    assert!(echo_pids.iter().all(|p| netns::is_zombie(*p)));
}

#[test]
fn clean_removes_what_a_sigkilled_controller_left() {
    let _host = HostGuard::new();
    let run = run_name("orphan");
    let mut child = start_controller(&run, false);
    let node_ns = runtime::netns::addr::node_ns(&run, 1);
    let echo_pids = netns::pids_in(&node_ns);
    assert_eq!(echo_pids.len(), 1, "the echo server runs in n1");
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    // The controller is dead; its cluster is still there, now stale — unless a
    // concurrent test's `Cluster::up` already swept it (it sweeps stale runs too).
    let registry = Registry::default();
    let still_registered = registry.get(&run).map(|r| r.is_stale());
    let report = clean(&RealExec, &registry, &CleanScope::Run(run.clone()));
    assert!(report.errors.is_empty(), "{report:?}");
    if let Ok(stale) = still_registered {
        assert!(stale, "a dead controller's run is stale");
        // Another controller's sweep may still win the race between the look-up and
        // `clean`; whoever removed it, it is gone below, and `clean` names no other run.
        assert!(
            report.runs.is_empty() || report.runs == vec![run.clone()],
            "{report:?}"
        );
    }
    assert!(namespaces_of(&run).is_empty());
    poll_until(Duration::from_secs(5), "the echo server to be gone", || {
        echo_pids.iter().all(|p| netns::is_zombie(*p)).then_some(())
    })
    .unwrap();
    assert!(registry.get(&run).is_err());
}

#[test]
fn remove_network_clears_a_cluster_that_something_still_holds() {
    let _host = HostGuard::new();
    let run = run_name("held");
    let cluster = std::sync::Arc::new(runtime::netns::Cluster::up(&run, 2).unwrap());
    crate::support::start_echo_everywhere(&cluster, 7000);
    let echo_pids = netns::pids_in(&runtime::netns::addr::node_ns(&run, 1));
    assert_eq!(echo_pids.len(), 1, "the echo server runs in n1");
    // A stuck thread's reference: the cluster cannot be unwrapped and taken down.
    let held = std::sync::Arc::clone(&cluster);
    cluster.remove_network().unwrap();
    assert!(namespaces_of(&run).is_empty(), "{:?}", namespaces_of(&run));
    assert!(Registry::default().get(&run).is_err());
    poll_until(
        Duration::from_secs(10),
        "the echo server to be gone",
        || echo_pids.iter().all(|p| netns::is_zombie(*p)).then_some(()),
    )
    .unwrap();
    // The last reference goes later; its Drop finds nothing left and does not fail.
    drop(cluster);
    drop(held);
    assert!(namespaces_of(&run).is_empty());
}
