//! ZooKeeper: a valid register run, lock run and list-append run, each with the leader
//! killed and restarted mid-run, and an election run with the leading candidates paused;
//! every ZooKeeper JVM and candidate is gone afterwards.

use std::sync::Arc;
use std::time::Duration;

use targets::zookeeper::{self, ZookeeperOptions, ZookeeperTarget};
use targets::ReadMode;

use crate::support;

fn target() -> Arc<ZookeeperTarget> {
    Arc::new(ZookeeperTarget::new(ZookeeperOptions::default()))
}

#[test]
fn zookeeper_register_run_with_the_leader_killed_is_linearizable() {
    let outcome = support::register(
        "zookeeper-register",
        target(),
        Arc::new(|c, k| {
            zookeeper::client_for(c, k, Duration::from_secs(3), ReadMode::Linearizable)
        }),
    );
    support::assert_valid(&outcome, &["linearizability", "split-brain", "liveness"]);
    support::assert_no_processes("QuorumPeerMain", &outcome.dir);
    support::discard(&outcome);
}

#[test]
fn zookeeper_lock_run_with_the_leader_killed_keeps_mutual_exclusion() {
    let outcome = support::lock(
        "zookeeper-lock",
        target(),
        Arc::new(|c, k| {
            zookeeper::client_for(c, k, Duration::from_secs(3), ReadMode::Linearizable)
        }),
    );
    support::assert_valid(&outcome, &["lock", "split-brain"]);
    support::assert_no_processes("QuorumPeerMain", &outcome.dir);
    support::discard(&outcome);
}

#[test]
fn zookeeper_list_append_run_with_the_leader_killed_is_strict_serializable() {
    let outcome = support::list_append(
        "zookeeper-list-append",
        target(),
        Arc::new(|c, k| {
            zookeeper::client_for(c, k, Duration::from_secs(3), ReadMode::Linearizable)
        }),
    );
    support::assert_valid(&outcome, &["list-append", "split-brain", "liveness"]);
    support::assert_no_processes("QuorumPeerMain", &outcome.dir);
    support::discard(&outcome);
}

/// Issue 18 on ZooKeeper: candidates with the ephemeral-sequential recipe (a watch on
/// the predecessor, the session timeout as the lease), the leading ones paused past
/// their session timeout.
#[test]
fn zookeeper_election_with_the_leading_candidates_paused_splits_naive_and_fencing_holds() {
    let outcome = support::election(
        "zookeeper-election",
        target(),
        workloads::election::candidates::Recipe {
            system: "zookeeper",
            port: zookeeper::CLIENT_PORT,
        },
        2,
    );
    support::assert_election_shape(&outcome);
    support::assert_no_processes("QuorumPeerMain", &outcome.dir);
    support::assert_no_processes("faultline-candidate", &outcome.dir);
    support::discard(&outcome);
}
