//! Seeds through the simulator: correct by default under every fault profile, and every
//! bug switch observable (`count-epoch-nack` by its scripted schedule, see below).

use std::time::Instant;

use targets::bundled::sim;
use targets::zab::sim::ZabSim;
use targets::zab::Bug;

type Sim = sim::Sim<ZabSim>;
type SimConfig = sim::SimConfig<ZabSim>;

/// The fault profiles: the default mix, Jepsen's kill nemesis turned up, kills of a
/// majority or all nodes at once, both, and frequent long pauses.
fn profile(name: &str, nodes: usize, seed: u64, bugs: &[Bug]) -> SimConfig {
    let c = SimConfig::new(nodes, seed, bugs);
    match name {
        "default" => c,
        "heavy" => c.kill_heavy(),
        "mass" => c.mass_kills(),
        "heavy+mass" => c.kill_heavy().mass_kills(),
        "pauses" => {
            let mut c = c.kill_heavy();
            c.pause_rate = 0.05;
            c.resume_rate = 0.2;
            c
        }
        other => panic!("no profile {other}"),
    }
}

const PROFILES: [&str; 5] = ["default", "heavy", "mass", "heavy+mass", "pauses"];

fn all_pass(name: &str, nodes: usize, seeds: std::ops::Range<u64>) {
    let start = Instant::now();
    let n = seeds.end - seeds.start;
    let totals = sim::run_seeds(seeds, |seed| profile(name, nodes, seed, &[]))
        .unwrap_or_else(|v| panic!("{v}\nreplay: SEED={} NODES={nodes} PROFILE={name}", v.seed));
    eprintln!(
        "{name}, {nodes} nodes, {n} seeds in {:?}: {totals:?}",
        start.elapsed()
    );
    assert!(totals.exercised(n), "{totals:?}");
}

#[test]
fn three_nodes_are_safe_over_many_seeds() {
    all_pass("default", 3, 0..3000);
}

#[test]
fn five_nodes_are_safe_over_many_seeds() {
    all_pass("default", 5, 10_000..11_000);
}

#[test]
fn frequent_kills_are_safe() {
    all_pass("heavy", 3, 20_000..20_500);
}

#[test]
fn kills_of_a_majority_or_all_nodes_are_safe() {
    all_pass("mass", 3, 30_000..30_500);
    all_pass("mass", 5, 40_000..40_300);
}

fn caught(bug: Bug, properties: &[&str], budget: u64, name: &str) {
    let start = Instant::now();
    match sim::first_violation(0..budget, |s| profile(name, 3, s, &[bug])) {
        Some(v) => {
            eprintln!("{bug}: {v} (after {:?})", start.elapsed());
            assert!(
                properties.contains(&v.property),
                "{bug} broke an unexpected property: {v}"
            );
        }
        None => panic!("{bug} was not observed within {budget} seeds"),
    }
}

#[test]
fn stale_sync_is_caught() {
    caught(Bug::StaleSync, &["linearizable read"], 50, "default");
}

#[test]
fn forget_accepted_epoch_is_caught() {
    caught(
        Bug::ForgetAcceptedEpoch,
        &["primary uniqueness (one primary per epoch)"],
        100,
        "heavy",
    );
}

#[test]
fn ack_before_fsync_is_caught() {
    caught(
        Bug::AckBeforeFsync,
        &[
            "primary integrity",
            "acknowledged writes are durable",
            "agreement and total order",
        ],
        100,
        "mass",
    );
}

#[test]
fn epoch_before_history_is_caught() {
    caught(
        Bug::EpochBeforeHistory,
        &[
            "primary integrity",
            "acknowledged writes are durable",
            "agreement and total order",
        ],
        300,
        "mass",
    );
}

#[test]
fn diff_without_trunc_is_caught() {
    caught(
        Bug::DiffWithoutTrunc,
        &["agreement and total order"],
        50,
        "default",
    );
}

#[test]
fn expire_sessions_on_election_is_caught() {
    caught(
        Bug::ExpireSessionsOnElection,
        &["lock mutual exclusion"],
        50,
        "default",
    );
}

#[test]
fn ignore_client_zxid_is_caught() {
    caught(
        Bug::IgnoreClientZxid,
        &["sequential consistency (a client's reads never go back)"],
        50,
        "default",
    );
}

// `count-epoch-nack` needs one node in the discovery quorums of two would-be leaders that
// picked the same epoch, accepting it from one and rejoining the other before that one
// gives up: random faults do not reach it (`count_epoch_nack_in_random_schedules`). Its
// deterministic schedule is
// `zab::core::tests::count_epoch_nack_lets_two_leaders_establish_one_epoch`; see
// docs/zab.md.

/// Searches every profile for `count-epoch-nack` (run with --ignored): `[N=3000]`.
#[test]
#[ignore]
fn count_epoch_nack_in_random_schedules() {
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    for name in PROFILES {
        for nodes in [3, 5] {
            let start = Instant::now();
            let v = sim::first_violation(0..n, |s| profile(name, nodes, s, &[Bug::CountEpochNack]));
            eprintln!(
                "{name} nodes={nodes}: {:?} in {:?}",
                v.map(|v| v.to_string()),
                start.elapsed()
            );
        }
    }
}

/// Clean runs under every profile (run with --ignored): `[N=2000]` seeds each.
#[test]
#[ignore]
fn sweep() {
    let n: u64 = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    for name in PROFILES {
        for nodes in [3, 5] {
            all_pass(name, nodes, 100_000..100_000 + n);
        }
    }
}

/// Finds how many seeds each bug needs under each profile (run with --ignored):
/// `[BUG=name] [NODES=5]`.
#[test]
#[ignore]
fn explore() {
    let bugs: Vec<Bug> = match std::env::var("BUG") {
        Ok(b) => vec![clap::ValueEnum::from_str(&b, true).expect("a Zab bug")],
        Err(_) => Bug::ALL.to_vec(),
    };
    let nodes = std::env::var("NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for bug in bugs {
        for name in ["default", "heavy", "mass"] {
            let start = Instant::now();
            let found: Vec<String> = (0..4u64)
                .filter_map(|k| {
                    sim::first_violation(k * 10_000..k * 10_000 + 400, |s| {
                        profile(name, nodes, s, &[bug])
                    })
                    .map(|v| format!("{}:{}", v.seed - k * 10_000, v.property))
                })
                .collect();
            eprintln!(
                "{bug} {name} nodes={nodes}: {found:?} in {:?}",
                start.elapsed()
            );
        }
    }
}

/// Replays one seed with a trace of every non-tick event:
/// `SIM_TRACE=1 SEED=817 NODES=3 [PROFILE=mass] [BUG=name]`.
#[test]
#[ignore]
fn replay() {
    let var = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let bugs: Vec<Bug> = std::env::var("BUG")
        .ok()
        .and_then(|b| clap::ValueEnum::from_str(&b, true).ok())
        .into_iter()
        .collect();
    let name = std::env::var("PROFILE").unwrap_or_else(|_| "default".into());
    let cfg = profile(&name, var("NODES", 3) as usize, var("SEED", 0), &bugs);
    match Sim::new(cfg).run() {
        Ok(s) => eprintln!("{s:?}"),
        Err(v) => panic!("{v}"),
    }
}
