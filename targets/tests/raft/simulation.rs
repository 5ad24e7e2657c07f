//! Seeds through the simulator: correct by default, and every bug switch observable.

use std::time::Instant;

use targets::bundled::sim;
use targets::raft::sim::RaftSim;
use targets::raft::Bug;

type Sim = sim::Sim<RaftSim>;
type SimConfig = sim::SimConfig<RaftSim>;

fn first_violation(
    seeds: std::ops::Range<u64>,
    config: impl Fn(u64) -> SimConfig,
) -> Option<sim::Violation> {
    sim::first_violation(seeds, config)
}

fn all_pass(nodes: usize, seeds: std::ops::Range<u64>) {
    let start = Instant::now();
    let n = seeds.end - seeds.start;
    let totals = sim::run_seeds(seeds, |seed| SimConfig::new(nodes, seed, &[]))
        .unwrap_or_else(|v| panic!("{v}\nreplay: SimConfig::new({nodes}, {}, &[])", v.seed));
    eprintln!(
        "{nodes} nodes, {n} seeds in {:?}: {totals:?}",
        start.elapsed()
    );
    // The simulation must actually exercise the protocol.
    assert!(totals.exercised(n), "{totals:?}");
}

#[test]
fn three_nodes_are_safe_over_many_seeds() {
    all_pass(3, 0..4000);
}

#[test]
fn five_nodes_are_safe_over_many_seeds() {
    all_pass(5, 10_000..11_500);
}

/// Finds how many seeds each bug needs under several profiles (run with --ignored).
#[test]
#[ignore]
fn explore() {
    let bug: Bug = std::env::var("BUG")
        .ok()
        .and_then(|b| clap::ValueEnum::from_str(&b, true).ok())
        .unwrap_or(Bug::CommitOldTerm);
    for nodes in [3, 5] {
        for heavy in [true] {
            for max_append in [None, Some(1)] {
                let start = Instant::now();
                let found: Vec<u64> = (0..4)
                    .filter_map(|k| {
                        first_violation(k * 10_000..k * 10_000 + 1500, |s| {
                            let c = SimConfig::new(nodes, s, &[bug]);
                            let mut c = if heavy { c.kill_heavy() } else { c };
                            c.knobs.max_append = max_append;
                            c
                        })
                        .map(|v| v.seed - k * 10_000)
                    })
                    .collect();
                eprintln!("{bug} nodes={nodes} heavy={heavy} max_append={max_append:?}: {found:?} in {:?}", start.elapsed());
            }
        }
    }
}

fn caught(bug: Bug, properties: &[&str], budget: u64, config: impl Fn(u64) -> SimConfig) {
    let start = Instant::now();
    match first_violation(0..budget, config) {
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
fn stale_read_is_caught() {
    caught(Bug::StaleRead, &["linearizable read"], 50, |s| {
        SimConfig::new(3, s, &[Bug::StaleRead])
    });
}

#[test]
fn forget_vote_is_caught() {
    caught(Bug::ForgetVote, &["election safety (§5.2)"], 300, |s| {
        SimConfig::new(3, s, &[Bug::ForgetVote]).kill_heavy()
    });
}

#[test]
fn ack_before_commit_is_caught() {
    caught(
        Bug::AckBeforeCommit,
        &["acknowledged writes are durable"],
        50,
        |s| SimConfig::new(3, s, &[Bug::AckBeforeCommit]),
    );
}

#[test]
fn commit_old_term_is_caught() {
    caught(
        Bug::CommitOldTerm,
        &[
            "state machine safety (§5.4.3)",
            "leader completeness (§5.4)",
        ],
        600,
        |s| {
            // Figure 8 needs a leader to send an old-term entry without its own no-op:
            // one entry per AppendEntries, and leaders killed often.
            let mut c = SimConfig::new(3, s, &[Bug::CommitOldTerm]).kill_heavy();
            c.knobs.max_append = Some(1);
            c
        },
    );
}

#[test]
fn lock_no_lease_check_is_caught() {
    caught(Bug::LockNoLeaseCheck, &["lock mutual exclusion"], 50, |s| {
        SimConfig::new(3, s, &[Bug::LockNoLeaseCheck])
    });
}

#[test]
fn count_rejected_votes_is_caught() {
    caught(
        Bug::CountRejectedVotes,
        &["election safety (§5.2)"],
        50,
        |s| SimConfig::new(3, s, &[Bug::CountRejectedVotes]),
    );
}

/// Replays one seed with a trace of every non-tick event:
/// `SIM_TRACE=1 SEED=817 NODES=3 [BUG=name] [HEAVY=1] [MAX_APPEND=1]`.
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
    let mut cfg = SimConfig::new(var("NODES", 3) as usize, var("SEED", 0), &bugs);
    if std::env::var_os("HEAVY").is_some() {
        cfg = cfg.kill_heavy();
    }
    if let Some(m) = std::env::var("MAX_APPEND")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cfg.knobs.max_append = Some(m);
    }
    if let Err(v) = Sim::new(cfg).run() {
        panic!("{v}");
    }
}
