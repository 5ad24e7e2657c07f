//! `faultline bench`: the same register workload, on the same nodes with the same
//! clients and no rate cap, against the bundled Raft and Zab and real systems, side by
//! side.
//!
//! ```text
//! for each target: faultline test-style run (register, rate off) ─► history.jsonl
//!                  one fault: the leader is SIGKILLed halfway, restarted at the end
//! history ─► writes/s and read p50/p99 before the kill, time to the next ok write after it
//! ```
//!
//! Each run is an ordinary run in the store (checked as usual, so a figure from an
//! invalid run is flagged). Figures depend on the machine; docs/targets.md keeps the
//! ones measured on the project's two-core box.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use harness::run::RunOutcome;
use targets::registry::Launch;

use crate::exit;
use crate::test_cmd::{self, Concurrency, TargetKind, TestArgs, WorkloadKind};

/// Flags of `faultline bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Systems to compare, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "raft,etcd")]
    pub targets: Vec<TargetKind>,
    /// Nodes per cluster.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=9))]
    pub nodes: u16,
    /// Client workers (the same for every system).
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Seconds per run; the leader is killed halfway.
    #[arg(long, default_value_t = 30)]
    pub time_limit: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

/// Kills the leaders once, halfway through the run; the heal at its end restarts them.
pub fn kill_leader_halfway(time_limit: Duration) -> nemesis::Plan {
    nemesis::Plan::Scripted {
        steps: vec![nemesis::Timed {
            at: time_limit / 2,
            step: nemesis::Step::Start(nemesis::Fault::Kill {
                nodes: nemesis::NodeSpec::Primaries,
            }),
        }],
    }
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub writes_per_s: f64,
    pub read_p50_ms: f64,
    pub read_p99_ms: f64,
    /// From the kill to the next write that completed ok (None: none did).
    pub unavailable_ms: Option<f64>,
    pub killed: Vec<String>,
}

/// Figures from a history: throughput and read latency before the kill, and the gap
/// in successful writes after it.
pub fn figures(history: &str) -> Result<Figures, String> {
    let mut invoked: BTreeMap<String, u64> = BTreeMap::new();
    let mut kill: Option<(u64, Vec<String>)> = None;
    let mut ok_writes: Vec<u64> = Vec::new();
    let mut reads: Vec<(u64, u64)> = Vec::new(); // (completion, latency)
    let mut first = None;
    for line in history.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("history line {line:?}: {e}"))?;
        let time = v["time"].as_u64().ok_or("an op without a time")?;
        first.get_or_insert(time);
        let process = v["process"].to_string();
        let f = v["f"].as_str().unwrap_or_default();
        match v["type"].as_str() {
            Some("invoke") => {
                invoked.insert(process, time);
            }
            Some("ok") => {
                let start = invoked.remove(&process).unwrap_or(time);
                match f {
                    "write" | "cas" => ok_writes.push(time),
                    "read" => reads.push((time, time - start)),
                    _ => {}
                }
            }
            Some("info") if f == "start-kill" && kill.is_none() => {
                let targets = v["value"]["targets"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                kill = Some((time, targets));
            }
            _ => {
                invoked.remove(&process);
            }
        }
    }
    let (kill_at, killed) = kill.ok_or("the history has no kill")?;
    let start = first.unwrap_or(0);
    let span_s = (kill_at.saturating_sub(start)) as f64 / 1e9;
    let before = ok_writes.iter().filter(|&&t| t < kill_at).count();
    let mut lat: Vec<u64> = reads
        .iter()
        .filter(|(t, _)| *t < kill_at)
        .map(|(_, l)| *l)
        .collect();
    lat.sort_unstable();
    let pct = |p: f64| {
        if lat.is_empty() {
            f64::NAN
        } else {
            lat[((lat.len() as f64 - 1.0) * p).round() as usize] as f64 / 1e6
        }
    };
    Ok(Figures {
        writes_per_s: if span_s > 0.0 {
            before as f64 / span_s
        } else {
            0.0
        },
        read_p50_ms: pct(0.5),
        read_p99_ms: pct(0.99),
        unavailable_ms: ok_writes
            .iter()
            .find(|&&t| t > kill_at)
            .map(|t| (t - kill_at) as f64 / 1e6),
        killed,
    })
}

fn run_target(args: &BenchArgs, kind: TargetKind) -> anyhow::Result<RunOutcome> {
    let t = TestArgs {
        target: kind,
        workload: WorkloadKind::Register,
        nemesis: nemesis::FaultList(vec![nemesis::FaultArg::None]),
        nodes: test_cmd::NodesArgs::count(args.nodes),
        concurrency: Concurrency::Fixed(args.concurrency),
        rate: 0.0,
        time_limit: args.time_limit,
        nemesis_interval: 5,
        seed: Some(args.seed),
        test_count: 1,
        fail_fast: false,
        store: args.store.clone(),
        bugs: Vec::new(),
        op_timeout_ms: 3000,
        recovery_timeout: 30,
        name: Some(format!("bench-{}", kind.name())),
        check_time_limit: 120,
        no_progress: true,
        target_opts: Default::default(),
        lock: Default::default(),
        election: Default::default(),
        keys: None,
    };
    let test = test_cmd::test_from_args(&t, args.seed).map_err(anyhow::Error::msg)?;
    let faults = kill_leader_halfway(test.options.time_limit)
        .resolve(args.seed)
        .map_err(anyhow::Error::msg)?;
    Ok(targets::registry::run(
        &test,
        Launch {
            faults,
            shutdown: None,
            progress: false,
            artifacts: report::run_artifacts(),
        },
    )?)
}

/// `faultline bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<u8> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("error: faultline bench needs root (network namespaces)");
        return Ok(exit::BAD_INPUT);
    }
    if args.targets.contains(&TargetKind::Consul) {
        eprintln!("error: --targets: faultline bench compares raft, zab, etcd and zookeeper");
        return Ok(exit::BAD_INPUT);
    }
    let mut rows = Vec::new();
    let mut worst = exit::VALID;
    for kind in &args.targets {
        let name = kind.name().to_string();
        eprintln!(
            "bench: {name} ({} nodes, {} clients, {} s, rate off)",
            args.nodes, args.concurrency, args.time_limit
        );
        let outcome = run_target(&args, *kind)?;
        if let Some(e) = &outcome.harness_error {
            eprintln!("bench: {name}: harness error: {e}");
            worst = exit::HARNESS;
            continue;
        }
        let verdict = format!("{:?}", outcome.results.valid).to_lowercase();
        if outcome.results.exit_code() != exit::VALID {
            worst = worst.max(outcome.results.exit_code());
        }
        let history = std::fs::read_to_string(outcome.dir.join("history.jsonl"))
            .with_context(|| format!("reading {}", outcome.dir.display()))?;
        match figures(&history) {
            Ok(f) => rows.push((name, f, verdict, outcome.dir)),
            Err(e) => {
                eprintln!("bench: {name}: {e}");
                worst = exit::HARNESS;
            }
        }
    }
    print_table(&rows);
    Ok(worst)
}

fn print_table(rows: &[(String, Figures, String, PathBuf)]) {
    println!(
        "{:<10} {:>9} {:>13} {:>13} {:>22} {:>8}",
        "target", "writes/s", "read p50 ms", "read p99 ms", "unavailable after kill", "verdict"
    );
    for (name, f, verdict, _) in rows {
        let gap = f
            .unavailable_ms
            .map(|ms| format!("{ms:.0} ms ({})", f.killed.join(",")))
            .unwrap_or_else(|| "no write after".into());
        println!(
            "{:<10} {:>9.0} {:>13.1} {:>13.1} {:>22} {:>8}",
            name, f.writes_per_s, f.read_p50_ms, f.read_p99_ms, gap, verdict
        );
    }
    for (name, _, _, dir) in rows {
        println!("{name}: {}", display(dir));
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_come_from_the_history_around_the_kill() {
        let h = [
            r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"read","key":1,"value":null}"#,
            r#"{"index":1,"time":2000000,"process":0,"type":"ok","f":"read","key":1,"value":null}"#,
            r#"{"index":2,"time":2000000,"process":1,"type":"invoke","f":"write","key":1,"value":1}"#,
            r#"{"index":3,"time":500000000,"process":1,"type":"ok","f":"write","key":1,"value":1}"#,
            r#"{"index":4,"time":1000000000,"process":"nemesis","type":"info","f":"start-kill","value":{"targets":["n2"]}}"#,
            r#"{"index":5,"time":1000000000,"process":1,"type":"invoke","f":"write","key":1,"value":2}"#,
            r#"{"index":6,"time":1250000000,"process":1,"type":"ok","f":"write","key":1,"value":2}"#,
        ]
        .join("\n");
        let f = figures(&h).unwrap();
        assert_eq!(f.writes_per_s, 1.0);
        assert_eq!(f.read_p50_ms, 2.0);
        assert_eq!(f.unavailable_ms, Some(250.0));
        assert_eq!(f.killed, vec!["n2".to_string()]);
        assert!(figures(&h.lines().take(3).collect::<Vec<_>>().join("\n")).is_err());
    }
}
