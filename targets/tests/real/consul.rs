//! Consul: runs only where a `consul` binary was found when this crate was built
//! (Debian has no package; see `build.rs`). Elsewhere the test is ignored with that
//! reason, so it counts as skipped, never as passed.

use std::sync::Arc;
use std::time::Duration;

use targets::consul::{self, ConsulOptions, ConsulTarget};
use targets::ReadMode;

use crate::support;

#[test]
#[cfg_attr(
    not(faultline_has_consul),
    ignore = "skipped: no `consul` binary on PATH (or in FAULTLINE_CONSUL_BIN) when the targets crate was built; Consul has no Debian package"
)]
fn consul_register_run_with_the_leader_killed_is_linearizable() {
    let bin = option_env!("FAULTLINE_CONSUL_BIN").map(std::path::PathBuf::from);
    let target = Arc::new(ConsulTarget::new(ConsulOptions {
        bin,
        read_mode: ReadMode::Linearizable,
    }));
    let outcome = support::register(
        "consul-register",
        target,
        Arc::new(|c, k| consul::client_for(c, k, Duration::from_secs(3), ReadMode::Linearizable)),
    );
    support::assert_valid(&outcome, &["linearizability", "split-brain", "liveness"]);
    support::assert_no_processes("consul agent", &outcome.dir);
    support::discard(&outcome);
}

/// Issue 18 on Consul: candidates with the session + KV acquire recipe, the leading ones
/// paused past what Consul may keep their sessions. Consul's session TTLs start at 10 s
/// and it may keep a session up to twice its TTL, so the leases are 10 s and the pause
/// 30 s of a 90 s run: up to 20 s until Consul invalidates the paused leader's session
/// (counted from its last renewal, up to ttl/3 before the pause), then the next campaign
/// (the waiting candidates watch the key: at once, at the latest ttl/4 later) and its
/// first write.
#[test]
#[cfg_attr(
    not(faultline_has_consul),
    ignore = "skipped: no `consul` binary on PATH (or in FAULTLINE_CONSUL_BIN) when the targets crate was built; Consul has no Debian package"
)]
fn consul_election_with_the_leading_candidates_paused_splits_naive_and_fencing_holds() {
    let bin = option_env!("FAULTLINE_CONSUL_BIN").map(std::path::PathBuf::from);
    let target = Arc::new(ConsulTarget::new(ConsulOptions {
        bin,
        read_mode: ReadMode::Linearizable,
    }));
    let outcome = support::election_timed(
        "consul-election",
        target,
        workloads::election::candidates::Recipe {
            system: "consul",
            port: consul::HTTP_PORT,
        },
        2,
        10_000,
        Duration::from_secs(90),
    );
    support::assert_election_shape(&outcome);
    support::assert_no_processes("consul agent", &outcome.dir);
    support::assert_no_processes("faultline-candidate", &outcome.dir);
    support::discard(&outcome);
}

#[test]
fn consul_absent_binary_is_reported_with_what_to_do() {
    let reason = consul::absent_reason(Some(std::path::Path::new("/nonexistent/consul")))
        .expect("a missing file is absent");
    assert!(reason.contains("/nonexistent/consul"), "{reason}");
}
