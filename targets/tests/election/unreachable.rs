//! Issue 18's bad input at start: a candidate that cannot reach the coordination
//! service is a harness error that names it, and nothing it started outlives the error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::history::HistoryLog;
use harness::run::Services;
use runtime::netns::{Cluster, ClusterConfig};
use runtime::{Runtime, ServiceState};
use workloads::election::candidates::{self, Candidates};
use workloads::election::{ElectionOpts, Mode};

const CANDIDATE: &str = env!("CARGO_BIN_EXE_faultline-candidate");

#[test]
fn a_candidate_that_cannot_reach_the_service_at_start_is_named() {
    let store = std::env::temp_dir().join(format!("faultline-unreachable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    // Three system nodes that run nothing: nobody answers on the Raft's port.
    let cluster = Cluster::up_with(
        ClusterConfig::new(format!("elu{}", std::process::id()), 3)
            .service_nodes(1)
            .dir(&store),
    )
    .expect("cluster up");
    // Torn down on drop, a failed assertion included.
    let cluster = Arc::new(cluster);
    let rt: Arc<dyn Runtime> = cluster.clone();
    let handle = rt.clients().unwrap();
    let log = Arc::new(HistoryLog::create(&store.join("history.jsonl"), Instant::now()).unwrap());
    let opts = ElectionOpts {
        candidates: 1,
        modes: vec![Mode::Naive],
        ..ElectionOpts::default()
    };
    let program: candidates::Program = Arc::new(|_: &dyn Runtime, _| Ok(vec![CANDIDATE.into()]));
    let mut c = Candidates::new(
        opts,
        candidates::Recipe {
            system: "raft",
            port: 8080,
        },
        program,
    )
    .with_start_timeout(Duration::from_millis(1500));
    let err = match c.start(&rt, &handle, &log) {
        Ok(_) => panic!("a candidate reached a service that is not running"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with("candidate c1 on n4 cannot reach the coordination service: "),
        "{err}"
    );
    let n4 = rt.service_nodes()[0].id;
    c.stop(rt.as_ref());
    assert!(
        !matches!(rt.service_state(n4), Ok(ServiceState::Running)),
        "the candidate is stopped"
    );
    drop((rt, handle));
    match Arc::try_unwrap(cluster) {
        Ok(c) => c.down().expect("cluster down"),
        Err(_) => panic!("the cluster is still shared"),
    }
    let _ = std::fs::remove_dir_all(&store);
}
