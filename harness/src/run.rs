//! One test run, from an empty machine to a verdict, leaving its artifacts in the store.
//!
//! ```text
//! store.create_run ──► test.json
//! Cluster::up ──► Target::setup ──► observer (status.jsonl)
//!   ├─ interpreter: workload generator ─► clients ─► history.jsonl
//!   └─ fault plan thread: faults ─► history.jsonl (nemesis ops) ─► heal all
//! heal-all ──► await healthy ──► final phase (e.g. a read of every key)
//! cluster down (always) ──► check: workload checkers + split-brain + liveness
//!                           ──► results.json, junit.xml
//! ```
//!
//! Invariants:
//! - the run directory and `test.json` exist before the cluster does, and the history
//!   is written as it happens, so every failure still leaves artifacts;
//! - the cluster is torn down whatever happens (errors, Ctrl-C), before checking;
//! - three kinds of error never mix: outcomes go into the history, harness errors end
//!   the run early (and are reported, with what was recorded still checked), verdicts
//!   come from the checkers.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use checkers::history::{Kind, Process, Record};
use checkers::linearizability::Budget;
use checkers::split_brain::{self, FaultWindow};
use checkers::verdict::Validity;
use checkers::InputError;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::cluster::cleanup::Shutdown;
use crate::cluster::{Cluster, ClusterConfig, NodeId};
use crate::generator::{Generator, Stagger, TimeLimit};
use crate::history::{Codec, HistoryLog, Recording};
use crate::interpreter::{self, Client};
use crate::observer::{self, Observer};
use crate::progress::Progress;
use crate::results::{CheckerResult, Results};
use crate::store::{files, RunDir, Store};
use crate::target::Target;

/// The status observations of a run.
pub const STATUS_FILE: &str = "status.jsonl";
/// The nemesis op the run records once every fault is healed (liveness counts from it).
pub const HEAL_ALL: &str = "heal-all";

/// The knobs of a run (plain data, saved in `test.json` by the caller).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// Test name: the store directory (`store/<test>/<timestamp>`).
    pub test: String,
    pub nodes: u16,
    pub concurrency: usize,
    /// Total ops/s over all workers; `None` for as fast as the system answers.
    pub rate: Option<f64>,
    pub time_limit: Duration,
    pub op_timeout: Duration,
    /// How long the healed cluster may take to serve requests again (liveness bound).
    pub recovery_timeout: Duration,
    pub seed: u64,
    pub store: PathBuf,
    /// How often the observer polls every node's status.
    pub observe_interval: Duration,
    /// Checker budget.
    pub check_time_limit: Duration,
    pub check_memory_limit: u64,
}

impl RunOptions {
    pub fn budget(&self) -> Budget {
        Budget {
            time_limit: self.check_time_limit,
            memory_limit: self.check_memory_limit,
        }
    }
}

type Input<W> = <<W as Workload>::Client as Client>::Input;
type Output<W> = <<W as Workload>::Client as Client>::Output;

/// What clients do and how it is checked (implemented in the `workloads` crate).
pub trait Workload: Send + 'static {
    type Client: Client;
    type Codec: Codec<Input = Input<Self>, Output = Output<Self>>;

    fn name(&self) -> &'static str;
    /// The main phase's ops (endless; the run adds the rate limit and time limit).
    fn generator(&mut self) -> Box<dyn Generator<Op = Input<Self>>>;
    /// Ops for after the heal (e.g. a final read of every key); `None` for none.
    fn final_generator(&mut self) -> Option<Box<dyn Generator<Op = Input<Self>>>>;
    fn codec(&self) -> Self::Codec;
    /// The workload's checkers over a recorded history.
    fn check(&self, records: &[Record], budget: Budget) -> Result<Vec<CheckerResult>, InputError>;
    /// Client completions that count as a successful *write* for availability.
    fn is_write(&self, f: &str) -> bool;
}

/// Makes worker `k`'s client (the target's API for this workload, aimed at a node).
pub type ClientFactory<C> = Box<dyn Fn(&Cluster, usize) -> Result<C, String> + Send>;

/// The current leaders, for leader-targeted faults.
pub type LeaderQuery = Arc<dyn Fn() -> BTreeSet<NodeId> + Send + Sync>;

/// Faults over the run (implemented with the `nemesis` crate by the binary).
pub trait FaultPlan: Send {
    /// Plays faults against `cluster` until `limit` has passed or `stop` is set, then
    /// heals every fault. Every step goes to `record` as `(f, value)`.
    fn play(
        &mut self,
        cluster: Arc<Cluster>,
        leaders: LeaderQuery,
        limit: Duration,
        stop: &AtomicBool,
        record: &mut dyn FnMut(&str, serde_json::Value),
    );
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub dir: PathBuf,
    pub results: Results,
    /// The harness error that ended the run early, if any (the exit code is then 255).
    pub harness_error: Option<String>,
    pub interrupted: bool,
}

/// Everything a run needs.
pub struct Plan<W: Workload> {
    pub options: RunOptions,
    /// The test as the user asked for it (with the command that reproduces it).
    pub test_json: serde_json::Value,
    pub target: Arc<dyn Target>,
    pub workload: W,
    pub clients: ClientFactory<W::Client>,
    pub faults: Option<Box<dyn FaultPlan>>,
    pub shutdown: Option<Shutdown>,
    pub progress: bool,
}

/// Runs one test. `Err` only when not even the run directory could be made; every
/// later failure is in [`RunOutcome::harness_error`], with the artifacts kept.
pub fn run<W: Workload>(mut plan: Plan<W>) -> io::Result<RunOutcome> {
    let opts = plan.options.clone();
    let store = Store::new(&opts.store);
    let dir = store.create_run(&opts.test, SystemTime::now())?;
    dir.write_json(files::TEST, &plan.test_json)?;
    let note = Notes::open(&dir.file(files::LOG))?;
    let progress = Progress::new(plan.progress);
    note.line(&format!(
        "run {} (seed {}) in {}",
        opts.test,
        opts.seed,
        dir.path().display()
    ));

    let mut interrupted = false;
    let harness_error = match execute(&mut plan, &dir, &note, &progress, &mut interrupted) {
        Ok(()) => None,
        Err(e) => {
            note.line(&format!("harness error: {e}"));
            Some(e)
        }
    };
    progress.phase("checking");
    let results = match check_run(&dir, &opts, &plan.workload) {
        Ok(r) => r,
        Err(e) => {
            note.line(&format!("checking failed: {e}"));
            Results::new(vec![CheckerResult {
                name: "history".into(),
                valid: Validity::Unknown,
                summary: vec![format!("the recorded history could not be checked: {e}")],
                details: serde_json::Value::Null,
                millis: 0,
            }])
        }
    };
    write_artifacts(&dir, &opts, &plan.workload, &results, &note)?;
    progress.finish();
    note.line(&format!("verdict: {:?}", results.valid));
    Ok(RunOutcome {
        dir: dir.path().to_path_buf(),
        results,
        harness_error,
        interrupted,
    })
}

/// Writes `results.json` and `junit.xml`.
pub fn write_results(dir: &RunDir, suite: &str, results: &Results) -> io::Result<()> {
    dir.write_json(files::RESULTS, results)?;
    dir.write_atomic(files::JUNIT, results.junit(suite).as_bytes())
}

/// Writes every artifact of a checked run: `results.json`, `junit.xml`, and the report
/// with its plots. A report that cannot be drawn is noted, never fatal: the verdict is
/// already on disk.
fn write_artifacts<W: Workload>(
    dir: &RunDir,
    opts: &RunOptions,
    workload: &W,
    results: &Results,
    note: &Notes,
) -> io::Result<()> {
    write_results(dir, &opts.test, results)?;
    if let Err(e) = crate::report::write_run_report(dir.path(), results, |f| workload.is_write(f)) {
        note.line(&format!("report: {e}"));
    }
    Ok(())
}

/// Checks a stored run again (`faultline check <run-dir>`) and rewrites its results,
/// junit.xml and report.
pub fn recheck<W: Workload>(
    dir: &RunDir,
    opts: &RunOptions,
    workload: &W,
) -> Result<Results, String> {
    let results = check_run(dir, opts, workload)?;
    let note = Notes::open(&dir.file(files::LOG)).map_err(|e| e.to_string())?;
    note.line(&format!("re-checked: {:?}", results.valid));
    write_artifacts(dir, opts, workload, &results, &note).map_err(|e| e.to_string())?;
    Ok(results)
}

fn execute<W: Workload>(
    plan: &mut Plan<W>,
    dir: &RunDir,
    note: &Notes,
    progress: &Progress,
    interrupted: &mut bool,
) -> Result<(), String> {
    let opts = plan.options.clone();
    let started = Instant::now();
    let is_stopped = {
        let shutdown = plan.shutdown.clone();
        move || shutdown.as_ref().is_some_and(Shutdown::requested)
    };

    progress.phase(&format!("bringing up {} nodes", opts.nodes));
    let run_name = run_name();
    let cluster =
        Cluster::up_with(ClusterConfig::new(run_name.clone(), opts.nodes).dir(dir.path()))
            .map_err(|e| format!("cluster up: {e}"))?;
    let cluster = Arc::new(cluster);
    note.line(&format!(
        "cluster {run_name} up in {:.2} s: {}",
        started.elapsed().as_secs_f64(),
        cluster
            .nodes()
            .iter()
            .map(|n| format!("{}={}", n.id, n.addr))
            .collect::<Vec<_>>()
            .join(" ")
    ));

    let outcome = drive(
        plan,
        &cluster,
        dir,
        note,
        progress,
        interrupted,
        &is_stopped,
    );

    progress.phase("tearing down");
    collect_logs(plan.target.as_ref(), &cluster, dir, note);
    let down = match Arc::try_unwrap(cluster) {
        Ok(c) => c.down().map_err(|e| format!("cluster down: {e}")),
        Err(still_shared) => {
            // Something still holds the cluster (a stuck thread); Drop will try again.
            drop(still_shared);
            Err("cluster down: the cluster was still in use at teardown".to_string())
        }
    };
    if let Err(e) = &down {
        note.line(e);
    }
    outcome.and(down)
}

fn drive<W: Workload>(
    plan: &mut Plan<W>,
    cluster: &Arc<Cluster>,
    dir: &RunDir,
    note: &Notes,
    progress: &Progress,
    interrupted: &mut bool,
    is_stopped: &(dyn Fn() -> bool + Sync),
) -> Result<(), String> {
    let opts = plan.options.clone();
    progress.phase(&format!("setting up {}", plan.target.name()));
    let t = Instant::now();
    plan.target
        .setup(cluster)
        .map_err(|e| format!("{} setup: {e}", plan.target.name()))?;
    note.line(&format!(
        "{} set up in {:.2} s",
        plan.target.name(),
        t.elapsed().as_secs_f64()
    ));
    if is_stopped() {
        *interrupted = true;
        return Ok(());
    }

    let handle = cluster
        .control()
        .map_err(|e| format!("control runtime: {e}"))?;
    let log = Arc::new(
        HistoryLog::create(&dir.file(files::HISTORY), Instant::now())
            .map_err(|e| format!("history: {e}"))?,
    );
    let nodes: Vec<(NodeId, Ipv4Addr)> = cluster.nodes().iter().map(|n| (n.id, n.addr)).collect();
    let observer = Observer::start(
        &handle,
        Arc::clone(&plan.target),
        nodes,
        Arc::clone(&log),
        &dir.file(STATUS_FILE),
        opts.observe_interval,
    )
    .map_err(|e| format!("status observer: {e}"))?;
    let leaders: LeaderQuery = match &observer {
        Some(o) => o.leader_query(),
        None => Arc::new(BTreeSet::new),
    };

    // Stop signal for the interpreter and the fault plan: Ctrl-C.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_faults = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop_faults = Arc::clone(&stop_faults);
        let done = Arc::clone(&done);
        let shutdown = plan.shutdown.clone();
        std::thread::spawn(move || {
            // Pacing a poll of the signal flag, not waiting for a condition to settle.
            while !done.load(Ordering::SeqCst) {
                if shutdown.as_ref().is_some_and(Shutdown::requested) {
                    stop_faults.store(true, Ordering::SeqCst);
                    let _ = stop_tx.send(true);
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    // Faults on their own thread (iptables and signals are blocking).
    let active_faults = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let fault_thread = plan.faults.take().map(|mut faults| {
        let cluster = Arc::clone(cluster);
        let log = Arc::clone(&log);
        let stop = Arc::clone(&stop_faults);
        let leaders = Arc::clone(&leaders);
        let limit = opts.time_limit;
        let active = Arc::clone(&active_faults);
        std::thread::spawn(move || {
            let mut failure: Option<String> = None;
            faults.play(cluster, leaders, limit, &stop, &mut |f, value| {
                if let Some(kind) = f.strip_prefix("start-") {
                    active
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(kind.to_string());
                } else if let Some(kind) = f.strip_prefix("stop-") {
                    active
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(kind);
                }
                if let Err(e) = log.nemesis(Kind::Info, f, value) {
                    failure.get_or_insert(format!("recording a nemesis op: {e}"));
                }
            });
            failure
        })
    });

    // The main phase.
    progress.phase("running");
    let ticker = progress.ticker(
        Arc::clone(&log),
        Arc::clone(&active_faults),
        opts.time_limit,
    );
    let clients = make_clients(plan, cluster)?;
    let main = TimeLimit::new(
        Stagger::per_second(plan.workload.generator(), opts.rate),
        opts.time_limit,
    );
    let recorder = Arc::new(Recording::new(Arc::clone(&log), plan.workload.codec()));
    let rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let cfg = interpreter::Config {
        op_timeout: opts.op_timeout,
        process_base: 0,
    };
    let start = tokio::time::Instant::from_std(log.start());
    let summary = handle
        .block_on(interpreter::run(
            main,
            clients,
            Arc::clone(&recorder),
            rng,
            cfg,
            start,
            stop_rx.clone(),
        ))
        .map_err(|e| format!("interpreter panicked: {e}"))?
        .map_err(|e| format!("recording the history: {e}"))?;
    drop(ticker);
    note.line(&format!(
        "main phase: {} ops ({} ok, {} fail, {} info of which {} timeouts){}",
        summary.invoked,
        summary.ok,
        summary.fail,
        summary.info,
        summary.timeouts,
        if summary.interrupted {
            ", interrupted"
        } else {
            ""
        }
    ));

    // Heal: the fault plan heals everything when its time is up or it is stopped.
    progress.phase("healing");
    stop_faults.store(true, Ordering::SeqCst);
    if let Some(t) = fault_thread {
        match t.join() {
            Ok(None) => {}
            Ok(Some(e)) => return Err(e),
            Err(_) => return Err("the fault thread panicked".into()),
        }
    }
    log.nemesis(
        Kind::Info,
        HEAL_ALL,
        serde_json::json!({"healed": "every fault"}),
    )
    .map_err(|e| format!("recording heal-all: {e}"))?;
    *interrupted = summary.interrupted || is_stopped();

    if !*interrupted {
        progress.phase("waiting for recovery");
        match plan.target.await_healthy(cluster, opts.recovery_timeout) {
            Ok(d) => note.line(&format!(
                "healthy again {:.2} s after the heal",
                d.as_secs_f64()
            )),
            Err(e) => note.line(&format!("not healthy after the heal: {e}")),
        }
        if let Some(gen) = plan.workload.final_generator() {
            progress.phase("final reads");
            let clients = make_clients(plan, cluster)?;
            let gen = TimeLimit::new(gen, opts.recovery_timeout);
            let rng = ChaCha8Rng::seed_from_u64(opts.seed ^ 0x5eed);
            let cfg = interpreter::Config {
                op_timeout: opts.op_timeout,
                process_base: summary.next_process,
            };
            let fin = handle
                .block_on(interpreter::run(
                    gen, clients, recorder, rng, cfg, start, stop_rx,
                ))
                .map_err(|e| format!("interpreter panicked: {e}"))?
                .map_err(|e| format!("recording the history: {e}"))?;
            note.line(&format!(
                "final phase: {} ops ({} ok, {} fail, {} info)",
                fin.invoked, fin.ok, fin.fail, fin.info
            ));
        }
    }
    done.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    if let Some(o) = observer {
        let seen = o.stop().map_err(|e| format!("status observer: {e}"))?;
        note.line(&format!("status observer: {} observations", seen.len()));
    }
    if *interrupted {
        note.line("interrupted: healed, tearing down, checking what was recorded");
    }
    Ok(())
}

fn make_clients<W: Workload>(plan: &Plan<W>, cluster: &Cluster) -> Result<Vec<W::Client>, String> {
    (0..plan.options.concurrency.max(1))
        .map(|k| (plan.clients)(cluster, k).map_err(|e| format!("client {k}: {e}")))
        .collect()
}

/// A run name for the cluster: unique among live controllers (pid) and runs of this
/// process (a counter).
fn run_name() -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("t{}-{n}", std::process::id())
}

/// Copies each node's extra log files into `nodes/<n>/` (service logs are already
/// there: node dirs live in the run directory). Best effort: failures are noted.
fn collect_logs(target: &dyn Target, cluster: &Cluster, dir: &RunDir, note: &Notes) {
    for node in cluster.node_ids() {
        for file in target.log_files(cluster, node) {
            let Some(name) = file.file_name() else {
                continue;
            };
            let dest = match dir.node_dir(&node.to_string()) {
                Ok(d) => d.join(name),
                Err(e) => {
                    note.line(&format!("collecting logs of {node}: {e}"));
                    continue;
                }
            };
            if dest != file {
                if let Err(e) = std::fs::copy(&file, &dest) {
                    note.line(&format!("collecting {}: {e}", file.display()));
                }
            }
        }
    }
}

/// Checks a stored run: the workload's checkers over `history.jsonl`, split-brain over
/// `status.jsonl` (when the target reported status), and liveness after the heal.
pub fn check_run<W: Workload>(
    dir: &RunDir,
    opts: &RunOptions,
    workload: &W,
) -> Result<Results, String> {
    let path = dir.file(files::HISTORY);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Results::new(vec![CheckerResult {
                name: "history".into(),
                valid: Validity::Unknown,
                summary: vec![
                    "no history was recorded (the run ended before its clients started)".into(),
                ],
                details: serde_json::Value::Null,
                millis: 0,
            }]))
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let (_, records) = checkers::format::read(&bytes, Some(checkers::format::Format::Jsonl))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut results = workload
        .check(&records, opts.budget())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let status = dir.file(STATUS_FILE);
    let mut recovery = Vec::new();
    if status.exists() {
        let observations = observer::read_observations(&status)?;
        let (result, r) = split_brain_result(&records, &observations, workload, opts);
        results.push(result);
        recovery = r;
    }
    results.push(liveness_result(&records, opts));
    let mut results = Results::new(results);
    let ops: Vec<crate::report::Op> = records
        .iter()
        .enumerate()
        .map(|(i, r)| crate::report::Op::from_record(r, i as u64))
        .collect();
    results.availability =
        crate::report::availability(&ops, &fault_windows(&records), |f| workload.is_write(f));
    for (a, r) in results.availability.iter_mut().zip(&recovery) {
        if a.start == r.start {
            a.leader_after = r.leader_after;
        }
    }
    Ok(results)
}

/// Fault windows from the nemesis ops: `start-<kind>` … `stop-<kind>`.
pub fn fault_windows(records: &[Record]) -> Vec<FaultWindow> {
    let mut windows: Vec<FaultWindow> = Vec::new();
    let mut kinds: Vec<String> = Vec::new();
    for r in records.iter().filter(|r| r.process == Process::Nemesis) {
        let time = r.time.unwrap_or(0);
        if let Some(kind) = r.f.strip_prefix("start-") {
            let detail = r
                .value
                .get("fault")
                .filter(|f| !f.is_null())
                .map(describe_fault)
                .unwrap_or_else(|| kind.to_string());
            let targets = r
                .value
                .get("targets")
                .and_then(|t| t.as_array())
                .map(|t| {
                    t.iter()
                        .filter_map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            windows.push(FaultWindow {
                fault: if targets.is_empty() {
                    detail
                } else {
                    format!("{detail} [{targets}]")
                },
                start: time,
                end: None,
            });
            kinds.push(kind.to_string());
        } else if let Some(kind) = r.f.strip_prefix("stop-") {
            if let Some(i) = (0..windows.len())
                .rev()
                .find(|&i| windows[i].end.is_none() && kinds[i] == kind)
            {
                windows[i].end = Some(time);
            }
        }
    }
    windows
}

fn describe_fault(v: &serde_json::Value) -> String {
    // Faults serialize as {"type": "partition", "kind": "majorities-ring"} and the like.
    let ty = v.get("type").and_then(|t| t.as_str()).unwrap_or("fault");
    let rest: Vec<String> = v
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "type")
                .map(|(_, v)| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    if rest.is_empty() {
        ty.to_string()
    } else {
        format!("{ty} {}", rest.join(" "))
    }
}

fn split_brain_result<W: Workload>(
    records: &[Record],
    observations: &[split_brain::Observation],
    workload: &W,
    opts: &RunOptions,
) -> (CheckerResult, Vec<split_brain::Recovery>) {
    let t = Instant::now();
    let report = split_brain::check(observations);
    let windows = fault_windows(records);
    let ok_writes: Vec<u64> = records
        .iter()
        .filter(|r| r.kind == Kind::Ok && r.process != Process::Nemesis && workload.is_write(&r.f))
        .filter_map(|r| r.time)
        .collect();
    let round = u64::try_from(opts.observe_interval.as_nanos()).unwrap_or(u64::MAX);
    let recovery = split_brain::recovery(
        &windows,
        observations,
        &ok_writes,
        usize::from(opts.nodes),
        round,
    );
    let mut summary = report.describe();
    summary.push(format!(
        "{} leader changes over {} observations",
        report.leader_changes.len(),
        report.observations
    ));
    for r in &recovery {
        let ms = |v: Option<u64>| {
            v.map_or("never".to_string(), |ns| {
                format!("{:.0} ms", ns as f64 / 1e6)
            })
        };
        summary.push(format!(
            "after {} at {:.1} s: leader in {}, first write in {}",
            r.fault,
            r.start as f64 / 1e9,
            ms(r.leader_after),
            ms(r.write_after)
        ));
    }
    let result = CheckerResult {
        name: "split-brain".into(),
        valid: if report.valid {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        summary,
        details: serde_json::json!({ "report": report, "recovery": recovery, "faults": windows }),
        millis: t.elapsed().as_millis() as u64,
    };
    (result, recovery)
}

fn liveness_result(records: &[Record], opts: &RunOptions) -> CheckerResult {
    let heal = records
        .iter()
        .rev()
        .find(|r| r.process == Process::Nemesis && r.f == HEAL_ALL)
        .and_then(|r| r.time);
    let Some(healed_at) = heal else {
        return CheckerResult {
            name: "liveness".into(),
            valid: Validity::Unknown,
            summary: vec!["not measured: the run ended before every fault was healed".into()],
            details: serde_json::Value::Null,
            millis: 0,
        };
    };
    let completions: Vec<(u64, bool)> = records
        .iter()
        .filter(|r| r.process != Process::Nemesis && r.kind != Kind::Invoke)
        .filter_map(|r| r.time.map(|t| (t, r.kind == Kind::Ok)))
        .collect();
    let bound = u64::try_from(opts.recovery_timeout.as_nanos()).unwrap_or(u64::MAX);
    let report = checkers::liveness::check(healed_at, &completions, bound);
    // A run whose final phase never ran (interrupted) has no ops after the heal.
    let valid = match (report.valid, report.ops_after_heal) {
        (true, _) => Validity::Valid,
        (false, 0) => Validity::Unknown,
        (false, _) => Validity::Invalid,
    };
    CheckerResult {
        name: "liveness".into(),
        valid,
        summary: report.describe(),
        details: serde_json::to_value(&report).unwrap_or_default(),
        millis: 0,
    }
}

/// `faultline.log`: timestamped lines about the run's phases (and the progress bar's
/// messages), flushed as written.
pub struct Notes {
    file: Mutex<File>,
    start: Instant,
}

impl Notes {
    pub fn open(path: &Path) -> io::Result<Notes> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(Notes {
            file: Mutex::new(file),
            start: Instant::now(),
        })
    }

    pub fn line(&self, msg: &str) {
        let line = format!("[{:>8.3}s] {msg}\n", self.start.elapsed().as_secs_f64());
        tracing::info!("{msg}");
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::history::ProcessId;

    fn rec(time: u64, process: Process, kind: Kind, f: &str, value: serde_json::Value) -> Record {
        Record {
            line: 0,
            index: None,
            time: Some(time),
            process,
            kind,
            f: f.into(),
            key: None,
            value,
            error: None,
        }
    }

    #[test]
    fn fault_windows_pair_starts_with_stops_and_name_their_targets() {
        let n = Process::Nemesis;
        let records = vec![
            rec(
                10,
                n,
                Kind::Info,
                "start-partition",
                serde_json::json!({
                "fault": {"type": "partition", "kind": "majorities-ring"},
                "targets": ["n1", "n2"]}),
            ),
            rec(
                20,
                n,
                Kind::Info,
                "start-kill",
                serde_json::json!({
                "fault": {"type": "kill", "nodes": "one"}, "targets": ["n3"]}),
            ),
            rec(
                30,
                n,
                Kind::Info,
                "stop-partition",
                serde_json::json!({"targets": []}),
            ),
            rec(40, n, Kind::Info, HEAL_ALL, serde_json::json!({})),
        ];
        let w = fault_windows(&records);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].fault, "partition majorities-ring [n1,n2]");
        assert_eq!((w[0].start, w[0].end), (10, Some(30)));
        assert_eq!(w[1].fault, "kill one [n3]");
        assert_eq!(w[1].end, None, "never stopped");
    }

    fn opts() -> RunOptions {
        RunOptions {
            test: "t".into(),
            nodes: 3,
            concurrency: 1,
            rate: None,
            time_limit: Duration::from_secs(1),
            op_timeout: Duration::from_secs(1),
            recovery_timeout: Duration::from_secs(5),
            seed: 0,
            store: PathBuf::from("store"),
            observe_interval: Duration::from_millis(100),
            check_time_limit: Duration::from_secs(1),
            check_memory_limit: 1 << 20,
        }
    }

    #[test]
    fn liveness_counts_from_the_last_heal() {
        let c = Process::Client(ProcessId(0));
        let v = serde_json::Value::Null;
        let s = 1_000_000_000;
        let healed = vec![
            rec(s, c, Kind::Ok, "read", v.clone()),
            rec(2 * s, Process::Nemesis, Kind::Info, HEAL_ALL, v.clone()),
            rec(3 * s, c, Kind::Fail, "read", v.clone()),
            rec(4 * s, c, Kind::Ok, "read", v.clone()),
        ];
        let r = liveness_result(&healed, &opts());
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.summary);
        let dead = vec![
            rec(2 * s, Process::Nemesis, Kind::Info, HEAL_ALL, v.clone()),
            rec(3 * s, c, Kind::Fail, "read", v.clone()),
        ];
        assert_eq!(liveness_result(&dead, &opts()).valid, Validity::Invalid);
        assert_eq!(
            liveness_result(&healed[..1], &opts()).valid,
            Validity::Unknown
        );
    }
}
