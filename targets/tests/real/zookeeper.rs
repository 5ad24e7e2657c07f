//! ZooKeeper: a valid register run, lock run and list-append run, each with the leader
//! killed and restarted mid-run; every ZooKeeper JVM is gone afterwards.

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
