//! `faultline-test-controller RUN [--signals]`: a stand-in controller for the cleanup
//! tests. It brings up a 2-node cluster named RUN, starts an echo server (the
//! `faultline-test-echo` binary given in `FAULTLINE_TEST_ECHO_BIN`) on n1, prints
//! `READY`, and waits to be killed (bounded: 120 s). With `--signals` it first installs
//! faultline's SIGINT/SIGTERM handler, which tears the run down and exits 143.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use runtime::exec::RealExec;
use runtime::netns::{Cluster, Registry};
use runtime::{NodeId, Runtime, ServiceSpec};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(run) = args.next() else {
        eprintln!("usage: faultline-test-controller RUN [--signals]");
        std::process::exit(254);
    };
    let Some(echo) = std::env::var_os("FAULTLINE_TEST_ECHO_BIN") else {
        eprintln!("faultline-test-controller: FAULTLINE_TEST_ECHO_BIN is not set");
        std::process::exit(254);
    };
    if args.next().as_deref() == Some("--signals") {
        runtime::netns::cleanup::install_signal_handler(
            Arc::new(RealExec),
            Registry::default(),
            Duration::ZERO,
        )
        .expect("signal handler installs");
    }
    let cluster = Cluster::up(&run, 2).expect("controller: up");
    let n1 = NodeId::nth(1);
    let dir = cluster.node_dir(n1).expect("n1 exists");
    let addr = SocketAddr::from((cluster.addr(n1).expect("n1 exists"), 7201));
    let spec = ServiceSpec::new([echo, addr.to_string().into()], &dir, dir.join("echo.log"));
    cluster.start_service(n1, spec).expect("echo starts");
    cluster
        .wait_for_port(n1, 7201, Duration::from_secs(20))
        .expect("echo listens");
    println!("READY");
    // Waiting to be killed by the test (bounded), not for a condition.
    std::thread::sleep(Duration::from_secs(120));
    std::process::exit(1);
}
