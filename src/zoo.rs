//! `faultline zoo`: the calibration table. Every planted bug of the bundled Raft and
//! Zab runs with the fault
//! that exposes it, plus control runs without any bug, over several seeds; the table
//! says how often faultline caught each bug, with which checker, and how far into the
//! run the first anomaly happened. A second column runs every row again with the
//! defaults (no `--nemesis`: the default mix, 60 s): what a user who does not know which
//! fault exposes a bug gets. With `--target etcd,zookeeper` the real systems' rows join:
//! serializable reads (stale under partitions: must be caught) and linearizable reads
//! (the control: must stay valid).
//!
//! ```text
//! cases × columns (picked, defaults) × seeds ──► jobs (--jobs at once, one cluster each)
//!   ──► test_cmd::run_one ──► verdicts ──► one row per case
//! ```

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Context;

use checkers::check::Results;
use checkers::verdict::Validity;
use harness::store::files;
use targets::bundled::Bug;
use targets::raft::Bug as R;
use targets::zab::Bug as Z;
use targets::ReadModeArg;

use crate::exit;
use crate::test_cmd::{self, Concurrency, TargetKind, Test, TestArgs, WorkloadKind};
use nemesis::{FaultArg, FaultList};

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
    /// Only the rows of these targets (comma-separated; default: the bundled Raft and
    /// Zab). etcd and zookeeper rows (serializable reads must be caught, linearizable ones
    /// stay valid) run only when named.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub target: Vec<TargetKind>,
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Columns to measure: `picked` (each row with the fault that exposes it, for
    /// --time-limit) and `defaults` (no --nemesis: the default mix, for
    /// --defaults-time-limit).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "picked,defaults"
    )]
    pub columns: Vec<Column>,
    /// Seconds per run of the defaults column (`faultline test`'s default).
    #[arg(long, default_value_t = 60)]
    pub defaults_time_limit: u64,
    /// Runs at once, each on its own cluster (a loaded machine slows elections down:
    /// note the load average the table prints).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    pub jobs: u32,
}

/// A column of the zoo table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Column {
    /// Each row's hand-picked fault.
    Picked,
    /// No `--nemesis`: the default mix.
    Defaults,
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
    /// Appended to the label of a second row of one bug (`stale-sync-sync`).
    variant: &'static str,
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
        variant: "",
        real_time: true,
    };
    use WorkloadKind::{ListAppend, Lock, Register};
    let mut cases = vec![
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
        // Dirty reads of pending transactions: leader partitions and kills strand
        // entries that were read but never commit.
        case(
            Some(Bug::Raft(R::TxnReadUncommitted)),
            ListAppend,
            "partition:primaries,kill:primaries",
            2,
            "list-append",
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
        // ZOOKEEPER-1675 as ZooKeeper users meet it: sync then read, a paused leader
        // that resumes still believing it leads (the switch: it never steps down).
        Case {
            read_mode: Some(ReadModeArg::Sync),
            variant: "-sync",
            ..case(
                Some(Bug::Zab(Z::StaleSync)),
                Register,
                "pause:primaries",
                2,
                "linearizability",
            )
        },
        // A restarted node accepts one new epoch twice. Needs a kill inside a
        // follower's discovery (6 ms median): 0/10 in real time (docs/zab.md).
        Case {
            real_time: false,
            ..case(
                Some(Bug::Zab(Z::ForgetAcceptedEpoch)),
                Register,
                "kill:minority",
                2,
                "split-brain",
            )
        },
        // ACKed but not durable: kill every node (a majority is not enough in real
        // time: the survivors' votes carry the writes), then the leader.
        case(
            Some(Bug::Zab(Z::AckBeforeFsync)),
            Register,
            "kill:all,kill:primaries",
            2,
            "linearizability",
        ),
        // currentEpoch before the history: kill followers during sync between leader
        // kills. Needs a kill within 100 ms of a follower's NEWLEADER: 0/10 in real
        // time (docs/zab.md).
        Case {
            real_time: false,
            ..case(
                Some(Bug::Zab(Z::EpochBeforeHistory)),
                Register,
                "kill:minority,kill:primaries",
                2,
                "linearizability",
            )
        },
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
    ];
    // The real systems: local reads are stale under partitions (docs/targets.md's
    // calibration); quorum reads are the control.
    for target in [TargetKind::Etcd, TargetKind::Zookeeper] {
        for (read_mode, checker) in [
            (ReadModeArg::Serializable, "linearizability"),
            (ReadModeArg::Linearizable, "-"),
        ] {
            cases.push(Case {
                target,
                read_mode: Some(read_mode),
                ..case(None, Register, "partition", 5, checker)
            });
        }
    }
    cases
}

impl Case {
    /// A row that must stay valid.
    fn control(&self) -> bool {
        self.bug.is_none() && self.read_mode != Some(ReadModeArg::Serializable)
    }
}

/// `faultline zoo`.
pub fn run(args: ZooArgs) -> anyhow::Result<u8> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("error: faultline zoo needs root (it runs faultline test)");
        return Ok(exit::BAD_INPUT);
    }
    let mut simulation_only = Vec::new();
    let mut picked_cases = Vec::new();
    for case in cases() {
        let real = matches!(case.target, TargetKind::Etcd | TargetKind::Zookeeper);
        let named = args.target.contains(&case.target);
        if (!args.target.is_empty() || real) && !named {
            continue;
        }
        match selected(&case, &args.bugs, args.no_control) {
            Selected::Run => picked_cases.push(case),
            Selected::SimulationOnly => simulation_only.push(label(&case)),
            Selected::No => {}
        }
    }
    let mut jobs = Vec::new();
    for (c, case) in picked_cases.iter().enumerate() {
        for &column in &args.columns {
            for i in 0..args.runs {
                let seed = args.seed + u64::from(i);
                jobs.push((c, column, zoo_test(case, column, &args, seed)?));
            }
        }
    }
    let load_before = load_average();
    let tallies = Mutex::new(vec![
        [Tally::default(), Tally::default()];
        picked_cases.len()
    ]);
    let queue = Mutex::new(jobs.into_iter());
    // Ctrl-C (or SIGTERM) ends the runs in progress as `faultline test` does (healed,
    // checked, torn down), deals no new one, and prints the table of what ran.
    let shutdown = runtime::netns::cleanup::install_signal_handler(
        std::sync::Arc::new(runtime::exec::RealExec),
        runtime::netns::Registry::default(),
        std::time::Duration::from_secs(60),
    )
    .context("installing the SIGINT/SIGTERM handler")?;
    std::thread::scope(|s| {
        for _ in 0..args.jobs {
            s.spawn(|| loop {
                if shutdown.requested() {
                    return;
                }
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                let Some((c, column, test)) = next else {
                    return;
                };
                let case = &picked_cases[c];
                eprintln!("zoo: {} ({column:?}): {}", label(case), test.command);
                let outcome = match test_cmd::run_one(&test, false, Some(shutdown.clone())) {
                    Ok(o) => o,
                    Err(e) => {
                        // A run that could not start is counted and reported; the other
                        // runs go on (one harness error must not cost the whole table).
                        eprintln!(
                            "zoo: {} ({column:?}) seed {}: harness error: {e:#}",
                            label(case),
                            test.options.seed
                        );
                        let mut t = tallies.lock().unwrap_or_else(|e| e.into_inner());
                        t[c][column as usize].harness_errors += 1;
                        continue;
                    }
                };
                let first = (outcome.results.valid == Validity::Invalid)
                    .then(|| first_anomaly_secs(&outcome.dir))
                    .flatten();
                eprintln!(
                    "zoo: {} ({column:?}) seed {}: {:?} {}",
                    label(case),
                    test.options.seed,
                    outcome.results.valid,
                    outcome.dir.display()
                );
                let mut t = tallies.lock().unwrap_or_else(|e| e.into_inner());
                t[c][column as usize].add(case, &outcome, first);
            });
        }
    });
    let tallies = tallies.into_inner().unwrap_or_else(|e| e.into_inner());
    let rows: Vec<Row> = picked_cases
        .iter()
        .zip(tallies)
        .map(|(case, [picked, defaults])| Row {
            label: label(case),
            target: case.target,
            nemesis: case.nemesis,
            checker: case.checker,
            picked: args.columns.contains(&Column::Picked).then_some(picked),
            defaults: args.columns.contains(&Column::Defaults).then_some(defaults),
            runs: args.runs,
            control: case.control(),
        })
        .collect();
    print_table(&rows, &args, &load_before, &load_average());
    if !simulation_only.is_empty() {
        println!(
            "not run: {} (caught by the deterministic simulation, \
             `cargo test -p targets --test raft` and `--test zab`; real-time faults \
             practically never expose them, see docs/raft.md and docs/zab.md; run one anyway \
             with --bug)",
            simulation_only.join(", ")
        );
    }
    // Exit 0 only when every bug was caught at least once in every column measured and
    // every control stayed valid.
    let ok = rows.iter().all(|r| {
        [&r.picked, &r.defaults].into_iter().flatten().all(|t| {
            if r.control {
                t.detected == 0
            } else {
                t.right_checker > 0
            }
        })
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
        None => !(no_control && case.control()) && bugs.is_empty(),
    };
    if run {
        Selected::Run
    } else {
        Selected::No
    }
}

/// The test of one run: the row's own fault in the picked column; no `--nemesis` (the
/// default mix), the default interval and `--defaults-time-limit` in the defaults one.
fn zoo_test(case: &Case, column: Column, args: &ZooArgs, seed: u64) -> anyhow::Result<Test> {
    let (nemesis, interval, time_limit, suffix) = match column {
        Column::Picked => (
            case.nemesis
                .parse::<FaultList>()
                .map_err(anyhow::Error::msg)?,
            case.interval,
            args.time_limit,
            "",
        ),
        Column::Defaults => (
            FaultList(vec![FaultArg::Default]),
            5,
            args.defaults_time_limit,
            "-defaults",
        ),
    };
    let t = TestArgs {
        target: case.target,
        workload: case.workload,
        nemesis,
        nodes: test_cmd::NodesArgs::count(5),
        concurrency: Concurrency::PerNode(2),
        rate: 200.0,
        time_limit,
        nemesis_interval: interval,
        seed: Some(seed),
        test_count: 1,
        fail_fast: false,
        store: args.store.clone(),
        bugs: case.bug.into_iter().collect(),
        op_timeout_ms: 3000,
        recovery_timeout: 20,
        name: Some(format!("zoo-{}{suffix}", label(case))),
        check_time_limit: 60,
        no_progress: true,
        target_opts: test_cmd::TargetOpts {
            read_mode: case.read_mode,
            ..Default::default()
        },
        lock: Default::default(),
        election: Default::default(),
        keys: None,
    };
    test_cmd::test_from_args(&t, seed).map_err(anyhow::Error::msg)
}

fn label(case: &Case) -> String {
    let mut l = match (case.bug, case.target) {
        (Some(b), _) => b.name().to_string(),
        (None, TargetKind::Raft) => "control".to_string(),
        (None, t) => format!("control-{}", t.name()),
    };
    if let (None, Some(m)) = (case.bug, case.read_mode) {
        l.push_str(&format!("-{m}"));
    }
    l.push_str(case.variant);
    l
}

/// `/proc/loadavg`'s three figures (the machine is shared: the table says how loaded).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// One column's verdicts for one row.
#[derive(Debug, Clone, Default)]
struct Tally {
    detected: u32,
    right_checker: u32,
    harness_errors: u32,
    first: Vec<f64>,
}

impl Tally {
    fn add(&mut self, case: &Case, outcome: &harness::run::RunOutcome, first: Option<f64>) {
        if outcome.harness_error.is_some() {
            self.harness_errors += 1;
            return;
        }
        if outcome.results.valid == Validity::Invalid {
            self.detected += 1;
            if !case.control() && checker_invalid(&outcome.results, case.checker) {
                self.right_checker += 1;
            }
            self.first.extend(first);
        }
    }

    /// `9/10 (9 by lock), median 12.3 s`, or for a control `0/10 (all valid)`.
    fn cell(&self, runs: u32, control: bool) -> String {
        let errors = if self.harness_errors > 0 {
            format!(", {} harness errors", self.harness_errors)
        } else {
            String::new()
        };
        if control {
            let valid = if self.detected == 0 && self.harness_errors == 0 {
                " (all valid)"
            } else {
                ""
            };
            return format!("{}/{runs}{valid}{errors}", self.detected);
        }
        let median =
            median(&mut self.first.clone()).map_or(String::new(), |m| format!(", median {m:.1} s"));
        format!(
            "{}/{runs} ({} by that checker{median}){errors}",
            self.detected, self.right_checker
        )
    }
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
            // When an anomaly's last transaction completed: from then on it was there
            // to see (among the examples the checker kept, up to 8 of each kind).
            "list-append" => {
                if let Some(Ok(anomalies)) = c
                    .details
                    .get("anomalies")
                    .map(|a| serde_json::from_value::<Vec<checkers::elle::Anomaly>>(a.clone()))
                {
                    times.extend(anomalies.iter().filter_map(|a| {
                        a.txns
                            .iter()
                            .map(|t| t.complete.unwrap_or(t.invoke).time)
                            .max()
                    }));
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
    target: TargetKind,
    nemesis: &'static str,
    checker: &'static str,
    picked: Option<Tally>,
    defaults: Option<Tally>,
    runs: u32,
    control: bool,
}

fn print_table(rows: &[Row], args: &ZooArgs, load_before: &str, load_after: &str) {
    println!();
    println!("| row | target | nemesis | expected checker | caught with that nemesis | caught with the defaults |");
    println!("|---|---|---|---|---|---|");
    let cell = |t: &Option<Tally>, r: &Row| {
        t.as_ref()
            .map_or("-".to_string(), |t| t.cell(r.runs, r.control))
    };
    for r in rows {
        println!(
            "| {} | {} | `{}` | {} | {} | {} |",
            r.label,
            r.target.name(),
            r.nemesis,
            r.checker,
            cell(&r.picked, r),
            cell(&r.defaults, r),
        );
    }
    println!(
        "(that nemesis: {} s per run; the defaults: no --nemesis, {} s per run; seeds {}–{}; \
         5 nodes, 10 clients, 200 ops/s; {} run(s) at once; load average {} at the start, \
         {} at the end)",
        args.time_limit,
        args.defaults_time_limit,
        args.seed,
        args.seed + u64::from(args.runs) - 1,
        args.jobs,
        load_before,
        load_after
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picked(bugs: &[Bug], no_control: bool) -> Vec<(String, Selected)> {
        cases()
            .iter()
            // etcd and ZooKeeper rows run only when named (`run` filters them).
            .filter(|c| !matches!(c.target, TargetKind::Etcd | TargetKind::Zookeeper))
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
                "txn-read-uncommitted",
                "control",
                "stale-sync",
                "stale-sync-sync",
                "ack-before-fsync",
                "diff-without-trunc",
                "expire-sessions-on-election",
                "ignore-client-zxid",
                "control-zab",
                "control-zab-local",
            ]
        );
        assert!(all.contains(&("commit-old-term".into(), Selected::SimulationOnly)));
        assert!(all.contains(&("count-epoch-nack".into(), Selected::SimulationOnly)));
        assert!(all.contains(&("forget-accepted-epoch".into(), Selected::SimulationOnly)));
        assert!(all.contains(&("epoch-before-history".into(), Selected::SimulationOnly)));
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
        // A bug with two rows runs both, each under its own name and read mode.
        assert_eq!(
            picked(&[Bug::Zab(Z::StaleSync)], false),
            [
                ("stale-sync".to_string(), Selected::Run),
                ("stale-sync-sync".to_string(), Selected::Run)
            ]
        );
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            z: ZooArgs,
        }
        let args = Cli::parse_from(["x", "--runs", "10", "--time-limit", "60"]).z;
        let all = cases();
        let sync = all
            .iter()
            .find(|c| c.bug == Some(Bug::Zab(Z::StaleSync)) && c.read_mode.is_some())
            .unwrap();
        let t = zoo_test(sync, Column::Picked, &args, 4).unwrap();
        for part in [
            "--read-mode sync",
            "--nemesis pause:primaries",
            "--name zoo-stale-sync-sync",
        ] {
            assert!(t.command.contains(part), "{part}: {}", t.command);
        }
    }

    #[test]
    fn real_systems_rows_calibrate_and_control() {
        let all = cases();
        for t in [TargetKind::Etcd, TargetKind::Zookeeper] {
            let rows: Vec<&Case> = all.iter().filter(|c| c.target == t).collect();
            assert_eq!(rows.len(), 2, "{t:?}");
            assert!(rows
                .iter()
                .any(|c| !c.control() && c.checker == "linearizability"));
            assert!(rows.iter().any(|c| c.control()));
        }
        // Bug switches leave them out.
        let etcd = all.iter().find(|c| c.target == TargetKind::Etcd).unwrap();
        assert_eq!(
            selected(etcd, &[Bug::Raft(R::StaleRead)], false),
            Selected::No
        );
    }

    #[test]
    fn the_defaults_column_runs_without_a_nemesis_flag() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            z: ZooArgs,
        }
        let args = Cli::parse_from(["x", "--runs", "10", "--time-limit", "30"]).z;
        assert_eq!(args.columns, [Column::Picked, Column::Defaults]);
        let all = cases();
        let lock = all
            .iter()
            .find(|c| c.bug == Some(Bug::Raft(R::LockNoLeaseCheck)))
            .unwrap();
        let t = zoo_test(lock, Column::Defaults, &args, 3).unwrap();
        assert_eq!(t.faults.nemesis, [FaultArg::Default]);
        assert_eq!(t.options.time_limit, std::time::Duration::from_secs(60));
        assert_eq!(
            t.workload.kind,
            WorkloadKind::Lock,
            "the lock bug keeps its workload"
        );
        assert!(t.command.contains("--nemesis default"), "{}", t.command);
        let p = zoo_test(lock, Column::Picked, &args, 3).unwrap();
        assert_eq!(
            p.faults.nemesis,
            [FaultArg::Pause(Some(nemesis::NodeSpec::Primaries))]
        );
        assert_eq!(p.options.time_limit, std::time::Duration::from_secs(30));
        let zk = all
            .iter()
            .find(|c| c.target == TargetKind::Zookeeper && !c.control())
            .unwrap();
        let t = zoo_test(zk, Column::Defaults, &args, 3).unwrap();
        assert!(
            t.command.contains("--read-mode serializable"),
            "{}",
            t.command
        );
    }
}
