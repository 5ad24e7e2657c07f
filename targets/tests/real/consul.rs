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

#[test]
fn consul_absent_binary_is_reported_with_what_to_do() {
    let reason = consul::absent_reason(Some(std::path::Path::new("/nonexistent/consul")))
        .expect("a missing file is absent");
    assert!(reason.contains("/nonexistent/consul"), "{reason}");
}
