//! etcd: a valid register run, lock run and list-append run, each with
//! the leader killed and restarted mid-run; every etcd process is gone afterwards.

use std::sync::Arc;

use targets::etcd::{self, EtcdOptions, EtcdTarget};
use targets::ReadMode;

use crate::support;

fn target() -> Arc<EtcdTarget> {
    Arc::new(EtcdTarget::new(EtcdOptions::default()))
}

#[test]
fn etcd_register_run_with_the_leader_killed_is_linearizable() {
    let outcome = support::register(
        "etcd-register",
        target(),
        Arc::new(|c, k| {
            etcd::client_for(
                c,
                k,
                std::time::Duration::from_secs(3),
                ReadMode::Linearizable,
            )
        }),
    );
    support::assert_valid(&outcome, &["linearizability", "split-brain", "liveness"]);
    support::assert_no_processes("etcd", &outcome.dir);
    support::discard(&outcome);
}

#[test]
fn etcd_lock_run_with_the_leader_killed_keeps_mutual_exclusion() {
    let outcome = support::lock(
        "etcd-lock",
        target(),
        Arc::new(|c, k| {
            etcd::client_for(
                c,
                k,
                std::time::Duration::from_secs(3),
                ReadMode::Linearizable,
            )
        }),
    );
    support::assert_valid(&outcome, &["lock", "split-brain"]);
    support::assert_no_processes("etcd", &outcome.dir);
    support::discard(&outcome);
}

#[test]
fn etcd_list_append_run_with_the_leader_killed_is_strict_serializable() {
    let outcome = support::list_append(
        "etcd-list-append",
        target(),
        Arc::new(|c, k| {
            etcd::client_for(
                c,
                k,
                std::time::Duration::from_secs(3),
                ReadMode::Linearizable,
            )
        }),
    );
    support::assert_valid(&outcome, &["list-append", "split-brain", "liveness"]);
    support::assert_no_processes("etcd", &outcome.dir);
    support::discard(&outcome);
}

/// Issue 18 on etcd: candidates with the lease + keepalive + create-if-absent recipe,
/// the leading ones paused past their lease.
#[test]
fn etcd_election_with_the_leading_candidates_paused_splits_naive_and_fencing_holds() {
    let outcome = support::election(
        "etcd-election",
        target(),
        workloads::election::candidates::Recipe {
            system: "etcd",
            port: etcd::CLIENT_PORT,
        },
        2,
    );
    support::assert_election_shape(&outcome);
    support::assert_no_processes("etcd", &outcome.dir);
    support::assert_no_processes("faultline-candidate", &outcome.dir);
    support::discard(&outcome);
}
