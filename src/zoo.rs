//! `faultline zoo`: the calibration table. Every planted bug of the bundled Raft and
//! Zab runs with the fault
//! that exposes it, plus control runs without any bug, over several seeds; the table
//! says how often faultline caught each bug, with which checker, and how far into the
//! run the first anomaly happened.

use std::path::PathBuf;

use checkers::check::Results;
use checkers::verdict::Validity;
use harness::store::files;
use targets::bundled::Bug;
use targets::raft::Bug as R;
use targets::zab::Bug as Z;
use targets::ReadModeArg;

use crate::exit;
use crate::test_cmd::{self, Concurrency, TargetKind, Test, TestArgs, WorkloadKind};
use nemesis::FaultArg;

/// Flags of `faultline zoo`.
#[derive(Debug, Clone, clap::Args)]
pub struct ZooArgs {
    /// Runs (seeds) per bug.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Seconds per run.
    #[arg(long, default_value_t = 30)]
    pub time_limit: u64,
    /// First seed; run i uses seed + i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Only these bugs (default: all, plus the control run).
    #[arg(long = "bug", value_enum)]
    pub bugs: Vec<Bug>,
    /// Skip the control runs.
    #[arg(long)]
    pub no_control: bool,
    /// Only the rows of these bundled targets (comma-separated; default: both).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub target: Vec<TargetKind>,
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

/// One row of the zoo: a bug, how to expose it, and which checker should say so.
struct Case {
    bug: Option<Bug>,
    workload: WorkloadKind,
    nemesis: &'static str,
    /// Mean seconds between nemesis steps.
    interval: u64,
    checker: &'static str,
    /// The bundled target: the bug's, or for a control run the one it controls.
    target: TargetKind,
    /// `--read-mode` (default: the target's).
    read_mode: Option<ReadModeArg>,
    /// False for a bug that process- and network-level faults cannot expose in real
    /// time (the deterministic simulation catches it): run only when asked by name.
    real_time: bool,
}

fn cases() -> Vec<Case> {
    let case = |bug: Option<Bug>, workload, nemesis, interval, checker| Case {
        bug,
        workload,
        nemesis,
        interval,
        checker,
        target: match bug {
            Some(Bug::Zab(_)) => TargetKind::Zab,
            _ => TargetKind::Raft,
        },
        read_mode: None,
        real_time: true,
    };
    use WorkloadKind::{Lock, Register};
    vec![
        // A deposed leader must be cut off while the majority elects another.
        case(
            Some(Bug::Raft(R::StaleRead)),
            Register,
            "partition:primaries",
            2,
            "linearizability",
        ),
        // A restarted node that had voted in the current term shows its vote gone.
        case(
            Some(Bug::Raft(R::ForgetVote)),
            Register,
            "kill:minority",
            2,
            "split-brain",
        ),
        // Acknowledged writes die with a leader cut off or killed before replicating.
        case(
            Some(Bug::Raft(R::AckBeforeCommit)),
            Register,
            "partition:primaries,kill:primaries",
            2,
            "linearizability",
        ),
        // Figure 8 needs a new leader's first message lost within a millisecond of its
        // election, then the committing leader dead within a round trip: the simulation
        // finds it, real time practically never does (docs/raft.md).
        Case {
            real_time: false,
            ..case(
                Some(Bug::Raft(R::CommitOldTerm)),
                Register,
                "kill:primaries,partition:primaries",
                1,
                "linearizability",
            )
        },
        // A new leader frees inherited locks at once: pause the leader during a hold.
        case(
            Some(Bug::Raft(R::LockNoLeaseCheck)),
            Lock,
            "pause:primaries",
            2,
            "lock",
        ),
        case(
            Some(Bug::Raft(R::CountRejectedVotes)),
            Register,
            "partition",
            2,
            "split-brain",
        ),
        case(None, Register, "partition,kill", 3, "-"),
        // The Zab's switches (docs/zab.md). A deposed leader answers quorum reads.
        case(
            Some(Bug::Zab(Z::StaleSync)),
            Register,
            "partition:primaries",
            2,
            "linearizability",
        ),
        // A restarted node accepts one new epoch twice.
        case(
            Some(Bug::Zab(Z::ForgetAcceptedEpoch)),
            Register,
            "kill:minority",
            2,
            "split-brain",
        ),
        // ACKed but not durable: kill a majority (or all), then the leader.
        case(
            Some(Bug::Zab(Z::AckBeforeFsync)),
            Register,
            "kill:majority,kill:primaries",
            2,
            "linearizability",
        ),
        // currentEpoch before the history: kill followers during sync between leader
        // kills.
        case(
            Some(Bug::Zab(Z::EpochBeforeHistory)),
            Register,
            "kill:minority,kill:primaries",
            2,
            "linearizability",
        ),
        // A deposed leader keeps a suffix no one committed; rotate leaders.
        case(
            Some(Bug::Zab(Z::DiffWithoutTrunc)),
            Register,
            "partition:primaries,kill:primaries",
            2,
            "replica-agreement",
        ),
        case(
            Some(Bug::Zab(Z::ExpireSessionsOnElection)),
            Lock,
            "pause:primaries",
            2,
            "lock",
        ),
        // Random schedules, simulated or real, do not reach it (docs/zab.md).
        Case {
            real_time: false,
            ..case(
                Some(Bug::Zab(Z::CountEpochNack)),
                Register,
                "partition:majorities-ring",
                1,
                "split-brain",
            )
        },
        // A client moved off a paused or killed node reads a lagging one.
        Case {
            read_mode: Some(ReadModeArg::Local),
            ..case(
                Some(Bug::Zab(Z::IgnoreClientZxid)),
                Register,
                "pause:minority,kill:minority",
                2,
                "monotonic-reads",
            )
        },
        Case {
            target: TargetKind::Zab,
            ..case(None, Register, "partition,kill", 3, "-")
        },
        Case {
            target: TargetKind::Zab,
            read_mode: Some(ReadModeArg::Local),
            ..case(None, Register, "partition,kill", 3, "-")
        },
    ]
}

/// `faultline zoo`.
pub fn run(args: ZooArgs) -> anyhow::Result<u8> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("error: faultline zoo needs root (it runs faultline test)");
        return Ok(exit::BAD_INPUT);
    }
    let mut rows = Vec::new();
    let mut simulation_only = Vec::new();
    for case in cases() {
        if !args.target.is_empty() && !args.target.contains(&case.target) {
            continue;
        }
        match selected(&case, &args.bugs, args.no_control) {
            Selected::Run => {}
            Selected::SimulationOnly => {
                simulation_only.push(label(&case));
                continue;
            }
            Selected::No => continue,
        }
        let mut detected = 0;
        let mut right_checker = 0;
        let mut harness_errors = 0;
        let mut first: Vec<f64> = Vec::new();
        for i in 0..args.runs {
            let seed = args.seed + u64::from(i);
            let test = zoo_test(&case, &args, seed)?;
            eprintln!("zoo: {} seed {seed}: {}", label(&case), test.command);
            let outcome = test_cmd::run_one(&test, false, None)?;
            if outcome.harness_error.is_some() {
                harness_errors += 1;
                continue;
            }
            if outcome.results.valid == Validity::Invalid {
                detected += 1;
                if case.bug.is_some() && checker_invalid(&outcome.results, case.checker) {
                    right_checker += 1;
                }
                if let Some(t) = first_anomaly_secs(&outcome.dir) {
                    first.push(t);
                }
            }
        }
        rows.push(Row {
            label: label(&case),
            nemesis: case.nemesis,
            checker: case.checker,
            detected,
            right_checker,
            harness_errors,
            runs: args.runs,
            median_first: median(&mut first),
            control: case.bug.is_none(),
        });
    }
    print_table(&rows, args.time_limit);
    if !simulation_only.is_empty() {
        println!(
            "not run: {} (caught by the deterministic simulation, \
             `cargo test -p targets --test raft` and `--test zab`; real-time faults \
             practically never expose it, see docs/raft.md and docs/zab.md; run it anyway \
             with --bug)",
            simulation_only.join(", ")
        );
    }
    // Exit 0 only when every bug was caught at least once and the control stayed valid.
    let ok = rows.iter().all(|r| {
        if r.control {
            r.detected == 0
        } else {
            r.right_checker > 0
        }
    });
    Ok(if ok { exit::VALID } else { exit::INVALID })
}

#[derive(Debug, PartialEq, Eq)]
enum Selected {
    Run,
    /// Left out of a default zoo because real time cannot expose it (said so in the
    /// output).
    SimulationOnly,
    No,
}

/// Whether a case runs: every real-time bug and the control by default, only the named
/// bugs with `--bug`, and a simulation-only bug only when named.
fn selected(case: &Case, bugs: &[Bug], no_control: bool) -> Selected {
    let run = match case.bug {
        Some(b) if !case.real_time => {
            if bugs.is_empty() {
                return Selected::SimulationOnly;
            }
            bugs.contains(&b)
        }
        Some(b) => bugs.is_empty() || bugs.contains(&b),
        None => !no_control && bugs.is_empty(),
    };
    if run {
        Selected::Run
    } else {
        Selected::No
    }
}

fn zoo_test(case: &Case, args: &ZooArgs, seed: u64) -> anyhow::Result<Test> {
    let nemesis = case
        .nemesis
        .split(',')
        .map(str::parse::<nemesis::FaultArg>)
        .collect::<Result<Vec<FaultArg>, String>>()
        .map_err(anyhow::Error::msg)?;
    let t = TestArgs {
        target: case.target,
        workload: case.workload,
        nemesis,
        nodes: 5,
        concurrency: Concurrency::PerNode(2),
        rate: 200.0,
        time_limit: args.time_limit,
        nemesis_interval: case.interval,
        seed: Some(seed),
        test_count: 1,
        store: args.store.clone(),
        bugs: case.bug.into_iter().collect(),
        op_timeout_ms: 3000,
        recovery_timeout: 20,
        name: Some(format!("zoo-{}", label(case))),
        check_time_limit: 60,
        no_progress: true,
        target_opts: test_cmd::TargetOpts {
            read_mode: case.read_mode,
            ..Default::default()
        },
        lock: Default::default(),
        keys: None,
    };
    Ok(Test::from_args(&t, seed))
}

fn label(case: &Case) -> String {
    let mut l = match (case.bug, case.target) {
        (Some(b), _) => b.name().to_string(),
        (None, TargetKind::Raft) => "control".to_string(),
        (None, t) => format!("control-{}", test_cmd::value_name(t)),
    };
    if let (None, Some(m)) = (case.bug, case.read_mode) {
        l.push_str(&format!("-{m}"));
    }
    l
}

fn checker_invalid(results: &Results, name: &str) -> bool {
    results
        .checkers
        .iter()
        .any(|c| c.name == name && c.valid == Validity::Invalid)
}

/// Seconds into the run of the earliest op or observation an anomaly names.
fn first_anomaly_secs(dir: &std::path::Path) -> Option<f64> {
    let results: Results =
        serde_json::from_slice(&std::fs::read(dir.join(files::RESULTS)).ok()?).ok()?;
    let mut times: Vec<u64> = Vec::new();
    let history = std::fs::read(dir.join(files::HISTORY)).ok()?;
    let (_, records) = checkers::format::read(&history, None).ok()?;
    let time_of = |index: u64| {
        records
            .iter()
            .find(|r| r.index == Some(index))
            .and_then(|r| r.time)
    };
    for c in results
        .checkers
        .iter()
        .filter(|c| c.valid == Validity::Invalid)
    {
        match c.name.as_str() {
            "linearizability" => {
                if let Some(anomalies) = c.details.get("anomalies").and_then(|a| a.as_array()) {
                    for a in anomalies {
                        if let Some(i) = a.pointer("/stuck_at/index").and_then(|i| i.as_u64()) {
                            times.extend(time_of(i));
                        }
                    }
                }
            }
            "split-brain" => collect_u64(&c.details, &["time"], &mut times),
            "lock" => {
                if let Ok(report) =
                    serde_json::from_value::<checkers::lock::LockReport>(c.details.clone())
                {
                    times.extend(report.anomalies.iter().map(|a| a.time()));
                }
            }
            _ => {}
        }
    }
    times.into_iter().min().map(|ns| ns as f64 / 1e9)
}

/// Every number under one of `keys`, anywhere inside the anomalies of `v`.
fn collect_u64(v: &serde_json::Value, keys: &[&str], out: &mut Vec<u64>) {
    let anomalies = v
        .get("anomalies")
        .or_else(|| v.pointer("/report/anomalies"))
        .and_then(|a| a.as_array());
    fn walk(v: &serde_json::Value, keys: &[&str], out: &mut Vec<u64>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match x.as_u64() {
                        Some(n) if keys.contains(&k.as_str()) => out.push(n),
                        _ => walk(x, keys, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, keys, out)),
            _ => {}
        }
    }
    for a in anomalies.into_iter().flatten() {
        walk(a, keys, out);
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

struct Row {
    label: String,
    nemesis: &'static str,
    checker: &'static str,
    detected: u32,
    right_checker: u32,
    harness_errors: u32,
    runs: u32,
    median_first: Option<f64>,
    control: bool,
}

fn print_table(rows: &[Row], time_limit: u64) {
    println!();
    println!("| bug | nemesis | expected checker | detected / runs | by that checker | median s to first anomaly |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let errors = if r.harness_errors > 0 {
            format!(" ({} harness errors)", r.harness_errors)
        } else {
            String::new()
        };
        println!(
            "| {} | `{}` | {} | {}/{}{} | {} | {} |",
            r.label,
            r.nemesis,
            r.checker,
            r.detected,
            r.runs,
            errors,
            if r.control {
                "-".to_string()
            } else {
                r.right_checker.to_string()
            },
            r.median_first
                .map_or("-".to_string(), |s| format!("{s:.1}")),
        );
    }
    println!("({time_limit} s per run, 5 nodes, 10 clients, 200 ops/s)");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picked(bugs: &[Bug], no_control: bool) -> Vec<(String, Selected)> {
        cases()
            .iter()
            .map(|c| (label(c), selected(c, bugs, no_control)))
            .filter(|(_, s)| *s != Selected::No)
            .collect()
    }

    #[test]
    fn a_default_zoo_runs_every_real_time_bug_and_the_control() {
        let all = picked(&[], false);
        let run: Vec<&str> = all
            .iter()
            .filter(|(_, s)| *s == Selected::Run)
            .map(|(l, _)| l.as_str())
            .collect();
        assert_eq!(
            run,
            [
                "stale-read",
                "forget-vote",
                "ack-before-commit",
                "lock-no-lease-check",
                "count-rejected-votes",
                "control",
                "stale-sync",
                "forget-accepted-epoch",
                "ack-before-fsync",
                "epoch-before-history",
                "diff-without-trunc",
                "expire-sessions-on-election",
                "ignore-client-zxid",
                "control-zab",
                "control-zab-local",
            ]
        );
        assert!(all.contains(&("commit-old-term".into(), Selected::SimulationOnly)));
        assert!(all.contains(&("count-epoch-nack".into(), Selected::SimulationOnly)));
        // Every switch has a row.
        for b in Bug::ALL {
            assert!(
                all.iter().any(|(l, _)| l == b.name()),
                "{b} has no zoo case"
            );
        }
    }

    #[test]
    fn named_bugs_run_alone_even_simulation_only_ones() {
        assert_eq!(
            picked(&[Bug::Raft(R::CommitOldTerm)], false),
            [("commit-old-term".to_string(), Selected::Run)]
        );
        assert_eq!(
            picked(&[Bug::Raft(R::StaleRead)], false),
            [("stale-read".to_string(), Selected::Run)]
        );
        assert!(!picked(&[], true).iter().any(|(l, _)| l == "control"));
    }
}
