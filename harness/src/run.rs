//! One test run, from an empty machine to a verdict, leaving its artifacts in the store.
//!
//! ```text
//! store.create_run ──► test.json
//! nodes up (namespaces, or SSH hosts: `nodes`) ──► Target::setup ──► observer (status.jsonl)
//!   ├─ interpreter: workload generator ─► clients ─► history.jsonl
//!   └─ fault plan thread: faults ─► history.jsonl (nemesis ops) ─► heal all
//! heal-all ──► await healthy ──► final phase (e.g. a read of every key)
//!          ──► every node's committed log (committed.jsonl, targets that report one)
//! cluster down (always) ──► check: workload checkers + split-brain + replica agreement
//!                           + liveness ──► results.json ──► Plan::artifacts (junit.xml, report.html…)
//! ```
//!
//! Invariants:
//! - the run directory and `test.json` exist before the cluster does, and the history
//!   is written as it happens, so every failure still leaves artifacts;
//! - the cluster is torn down whatever happens (errors, Ctrl-C), before checking;
//! - every path that reaches checking (a clean end, a harness error, an interrupt)
//!   writes `results.json` and then calls the plan's [`Artifacts`] writer: the
//!   guarantee "a run always leaves its artifacts" is kept here, in the one place
//!   every run passes through, not by each caller remembering to write them;
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

use checkers::check::{check_all, CheckInput, Checker, Results, RunFacts};
use checkers::faults::{FaultEvent, FaultOutcome, FaultPhase};
use checkers::linearizability::Budget;
use checkers::liveness::Liveness;
use checkers::replica_agreement::{LogReport, ReplicaAgreement};
use checkers::split_brain::SplitBrain;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::committed::{CommittedLogs, SAMPLE_EVERY, SAMPLE_TAIL, SAMPLE_WAIT};
use crate::generator::{Generator, Stagger, TimeLimit};
use crate::history::{Codec, HistoryLog, Recording};
use crate::interpreter::{self, Client};
use crate::node_watch::NodeWatch;
use crate::nodes::Nodes;
use crate::observer::{self, Observer};
use crate::progress::Progress;
use crate::store::{files, RunDir, Store};
use crate::target::{Target, TargetError};
use runtime::netns::cleanup::Shutdown;
use runtime::{NodeId, Runtime, RuntimeError};

/// The status observations of a run.
pub const STATUS_FILE: &str = "status.jsonl";
/// Every node's committed log, sampled in the main phase and in full after the final
/// phase, one `LogReport` per line (targets that can report one; the replica-agreement
/// check reads it; see [`crate::committed`]).
pub const COMMITTED_FILE: &str = "committed.jsonl";
/// The nemesis op the run records once every fault is healed (liveness counts from it).
pub const HEAL_ALL: &str = "heal-all";
/// How long the run waits for one node's committed log.
const COMMITTED_WAIT: Duration = Duration::from_secs(15);

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
    /// SSH nodes (`--nodes h1,h2,…`, `--nodes-file`) instead of `nodes` namespace
    /// nodes on this machine; `nodes` is then their number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<runtime::ssh::SshNodes>,
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
    /// The workload's checkers (the run adds split-brain and liveness).
    fn checkers(&self) -> Vec<Box<dyn Checker>>;
    /// The operation names (`f`) whose ok completions count as a successful *write*,
    /// for availability and failover times.
    fn writes(&self) -> &'static [&'static str];
    /// Services the workload runs on service nodes of their own (the election
    /// workload's candidates); asked once, before the cluster is up. None by default.
    fn services(&mut self) -> Option<Box<dyn Services>> {
        None
    }
}

/// A workload's own services, on service nodes beside the system's
/// ([`Runtime::service_nodes`]): the run brings the cluster up with [`Services::nodes`]
/// of them, starts the services once the target is set up and the history exists,
/// adds the service nodes that lead to the leader query (for faults aimed at a leading
/// service), and stops them after the final phase, or on any earlier return.
pub trait Services: Send {
    /// How many service nodes they need.
    fn nodes(&self) -> u16;
    /// Starts every service and returns once each is reachable and has reached the
    /// system; an error names the service that did not. What they report goes into
    /// `log`. Returns the query of the service nodes that lead now.
    fn start(
        &mut self,
        rt: &Arc<dyn Runtime>,
        handle: &runtime::ControlHandle,
        log: &Arc<HistoryLog>,
    ) -> Result<LeaderQuery, OpenError>;
    /// After the heal: waits, up to `timeout`, until the services act on the system
    /// again (their ops after the heal are what liveness judges), and says how long
    /// that took. Errors are noted, never fatal: liveness then shows it.
    fn recover(&self, timeout: Duration) -> Result<Duration, String>;
    /// Stops every service (best effort: each failure is logged, none is fatal).
    fn stop(&mut self, rt: &dyn Runtime);
}

/// Started services, stopped when dropped: whatever way the run leaves its main
/// phase, no service outlives it.
struct RunningServices<'a> {
    services: Box<dyn Services>,
    rt: &'a dyn Runtime,
}

impl Drop for RunningServices<'_> {
    fn drop(&mut self) {
        self.services.stop(self.rt);
    }
}

/// Why a client could not be made (the target's own error, kept with its chain).
pub type OpenError = Box<dyn std::error::Error + Send + Sync>;

/// Makes worker `k`'s client (the target's API for this workload, aimed at a node).
pub type ClientFactory<C> = Box<dyn Fn(&dyn Runtime, usize) -> Result<C, OpenError> + Send>;

/// The current leaders, for leader-targeted faults.
pub use nemesis::LeaderQuery;

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub dir: PathBuf,
    pub results: Results,
    /// The harness error that ended the run early, if any (the exit code is then 255).
    pub harness_error: Option<HarnessError>,
    pub interrupted: bool,
}

/// What ended a run early: never an outcome of the system under test, never a
/// verdict. The run still tears down, checks what was recorded and keeps its artifacts.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("bringing up {nodes} nodes: {source}")]
    Nodes {
        nodes: u16,
        #[source]
        source: runtime::netns::ClusterError,
    },
    #[error("reaching {nodes} SSH nodes: {source}")]
    SshNodes {
        nodes: usize,
        #[source]
        source: Box<RuntimeError>,
    },
    #[error("{target} setup: {source}")]
    Setup {
        target: String,
        #[source]
        source: Box<TargetError>,
    },
    #[error("the clients' runtime: {0}")]
    Clients(#[source] RuntimeError),
    #[error("client {worker}: {source}")]
    Client {
        worker: usize,
        #[source]
        source: OpenError,
    },
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the workload's services: {0}")]
    Services(#[source] OpenError),
    /// A node's machine could not be reached any more during the run (its SSH
    /// connection dropped): the run stopped early.
    #[error("a node died mid-run: {0}")]
    NodeLost(#[source] RuntimeError),
    #[error("the {0} panicked")]
    Panicked(&'static str),
    #[error("tearing down: {0}")]
    Teardown(String),
}

/// What a checked run leaves for people and CI besides `results.json`: `junit.xml`,
/// `report.html` and its plots. The `report` crate implements it (`report::RunArtifacts`);
/// the engine only calls it, so it carries no web server, plotting or XML library.
///
/// The seam is a trait object in the [`Plan`] (not something the binary does after
/// [`run`] returns) so that every path through a run, a harness error or a Ctrl-C
/// included, writes the artifacts right after `results.json`, and no caller can forget
/// them. [`recheck`] takes one too.
pub trait Artifacts: Send + Sync {
    /// Writes the artifacts of the checked run in `dir` (whose `results.json` already
    /// holds `results`); `suite` is the test's name. An error is noted in the run's
    /// log, never fatal: the verdict is already on disk.
    fn write(&self, dir: &RunDir, suite: &str, results: &Results) -> io::Result<()>;
}

/// Everything a run needs.
pub struct Plan<W: Workload> {
    pub options: RunOptions,
    /// The test as the user asked for it (with the command that reproduces it).
    pub test_json: serde_json::Value,
    pub target: Arc<dyn Target>,
    pub workload: W,
    pub clients: ClientFactory<W::Client>,
    /// The faults to play (`None`: no faults).
    pub faults: Option<nemesis::Resolved>,
    pub shutdown: Option<Shutdown>,
    pub progress: bool,
    /// Writes `junit.xml`, the report and its plots after `results.json`.
    pub artifacts: Arc<dyn Artifacts>,
}

/// Runs one test. `Err` only when not even the run directory could be made; every
/// later failure is in [`RunOutcome::harness_error`], with the artifacts kept.
pub fn run<W: Workload>(mut plan: Plan<W>) -> io::Result<RunOutcome> {
    let opts = plan.options.clone();
    let store = Store::new(&opts.store);
    let dir = store.create_run(&opts.test, SystemTime::now())?;
    // The default fault mix takes the target's own failover figure: the run's header
    // shows, and the stored test keeps, the mix that is played.
    let failover = plan.target.failover();
    if let Some(mix) = plan.faults.as_mut().and_then(|f| f.fit_to(failover)) {
        eprintln!("  nemesis:   default mix: {mix}");
        if let (Some(test), Ok(mix)) = (plan.test_json.as_object_mut(), serde_json::to_value(mix)) {
            test.insert("nemesis_mix".into(), mix);
        }
    }
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
            Results::unreadable(&e)
        }
    };
    write_artifacts(&dir, &opts, &results, plan.artifacts.as_ref(), &note)?;
    progress.finish();
    note.line(&format!("verdict: {:?}", results.valid));
    Ok(RunOutcome {
        dir: dir.path().to_path_buf(),
        results,
        harness_error,
        interrupted,
    })
}

/// Writes every artifact of a checked run: `results.json` here, then the rest through
/// `artifacts`. Only `results.json` is fatal: a report that cannot be drawn is noted.
fn write_artifacts(
    dir: &RunDir,
    opts: &RunOptions,
    results: &Results,
    artifacts: &dyn Artifacts,
    note: &Notes,
) -> io::Result<()> {
    dir.write_json(files::RESULTS, results)?;
    if let Err(e) = artifacts.write(dir, &opts.test, results) {
        note.line(&format!("report: {e}"));
    }
    Ok(())
}

/// Checks a stored run again (`faultline check <run-dir>`) and rewrites its
/// `results.json` and, through `artifacts`, its junit.xml and report.
pub fn recheck<W: Workload>(
    dir: &RunDir,
    opts: &RunOptions,
    workload: &W,
    artifacts: &dyn Artifacts,
) -> Result<Results, String> {
    let results = check_run(dir, opts, workload)?;
    let note = Notes::open(&dir.file(files::LOG)).map_err(|e| e.to_string())?;
    note.line(&format!("re-checked: {:?}", results.valid));
    write_artifacts(dir, opts, &results, artifacts, &note).map_err(|e| e.to_string())?;
    Ok(results)
}

fn execute<W: Workload>(
    plan: &mut Plan<W>,
    dir: &RunDir,
    note: &Notes,
    progress: &Progress,
    interrupted: &mut bool,
) -> Result<(), HarnessError> {
    let opts = plan.options.clone();
    let started = Instant::now();
    let is_stopped = {
        let shutdown = plan.shutdown.clone();
        move || shutdown.as_ref().is_some_and(Shutdown::requested)
    };

    let run_name = run_name();
    let services = plan.workload.services();
    let service_nodes = services.as_ref().map_or(0, |s| s.nodes());
    progress.phase(&match service_nodes {
        0 => format!("bringing up {} nodes", opts.nodes),
        k => format!("bringing up {} nodes + {k} service nodes", opts.nodes),
    });
    let nodes = Nodes::up(
        &opts,
        &run_name,
        dir.path(),
        service_nodes,
        plan.shutdown.as_ref(),
    )?;
    let rt = nodes.runtime();
    note.line(&format!(
        "cluster {run_name} up in {:.2} s: {}",
        started.elapsed().as_secs_f64(),
        rt.nodes()
            .iter()
            .map(|n| format!("{}={}", n.id, n.addr))
            .collect::<Vec<_>>()
            .join(" ")
    ));

    let outcome = drive(
        plan,
        services,
        &rt,
        dir,
        note,
        progress,
        interrupted,
        &is_stopped,
    );

    progress.phase("tearing down");
    let t = Instant::now();
    collect_logs(plan.target.as_ref(), rt.as_ref(), dir, note);
    drop(rt);
    let down = nodes.down();
    match &down {
        Ok(()) => note.line(&format!(
            "logs collected and nodes torn down in {:.2} s",
            t.elapsed().as_secs_f64()
        )),
        Err(e) => note.line(&e.to_string()),
    }
    outcome.and(down)
}

#[allow(clippy::too_many_arguments)]
fn drive<W: Workload>(
    plan: &mut Plan<W>,
    services: Option<Box<dyn Services>>,
    rt: &Arc<dyn Runtime>,
    dir: &RunDir,
    note: &Notes,
    progress: &Progress,
    interrupted: &mut bool,
    is_stopped: &(dyn Fn() -> bool + Sync),
) -> Result<(), HarnessError> {
    let opts = plan.options.clone();
    progress.phase(&format!("setting up {}", plan.target.name()));
    let t = Instant::now();
    plan.target
        .setup(rt.as_ref())
        .map_err(|source| HarnessError::Setup {
            target: plan.target.name().to_string(),
            source: Box::new(source),
        })?;
    note.line(&format!(
        "{} set up in {:.2} s",
        plan.target.name(),
        t.elapsed().as_secs_f64()
    ));
    if is_stopped() {
        *interrupted = true;
        return Ok(());
    }

    let handle = rt.clients().map_err(HarnessError::Clients)?;
    let log = Arc::new(
        HistoryLog::create(&dir.file(files::HISTORY), Instant::now()).map_err(|source| {
            HarnessError::Io {
                what: "creating the history",
                source,
            }
        })?,
    );
    let nodes: Vec<(NodeId, Ipv4Addr)> = rt.nodes().iter().map(|n| (n.id, n.addr)).collect();
    // Committed logs (targets that report them): sampled through the main phase, so an
    // entry a node takes back after a restart shows, and asked for in full at the end.
    let committed = CommittedLogs::open(
        &plan.target,
        nodes.clone(),
        &handle,
        &log,
        &dir.file(COMMITTED_FILE),
    )
    .map_err(|source| HarnessError::Io {
        what: "creating the committed logs",
        source,
    })?
    .map(Arc::new);
    let observer = Observer::start(
        &handle,
        Arc::clone(&plan.target),
        nodes,
        Arc::clone(&log),
        &dir.file(STATUS_FILE),
        opts.observe_interval,
    )
    .map_err(|source| HarnessError::Io {
        what: "starting the status observer",
        source,
    })?;
    let leaders: LeaderQuery = match &observer {
        Some(o) => o.leader_query(),
        None => Arc::new(BTreeSet::new),
    };
    // The workload's services, once the history exists to record them; the service
    // nodes that lead join the leader query (faults aimed at a leading service).
    let mut running = None;
    let leaders = match services {
        None => leaders,
        Some(services) => {
            progress.phase("starting the workload's services");
            let t = Instant::now();
            let running = running.insert(RunningServices {
                services,
                rt: rt.as_ref(),
            });
            let leading = running
                .services
                .start(rt, &handle, &log)
                .map_err(HarnessError::Services)?;
            note.line(&format!(
                "{} services up in {:.2} s",
                running.services.nodes(),
                t.elapsed().as_secs_f64()
            ));
            Arc::new(move || {
                let mut all = leaders();
                all.extend(leading());
                all
            })
        }
    };

    // Stop signal for the interpreter and the fault plan: Ctrl-C.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_faults = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop_faults = Arc::clone(&stop_faults);
        let done = Arc::clone(&done);
        let shutdown = plan.shutdown.clone();
        let stop_tx = stop_tx.clone();
        Joined::spawn(Arc::clone(&done), move || {
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

    // A node that dies mid-run stops the run (clients, faults) like Ctrl-C does, and
    // ends it with a harness error below.
    let node_watch = {
        let stop_faults = Arc::clone(&stop_faults);
        let stop_tx = stop_tx.clone();
        NodeWatch::start(Arc::clone(rt), move || {
            stop_faults.store(true, Ordering::SeqCst);
            let _ = stop_tx.send(true);
        })
    };

    // Faults on their own thread (iptables and signals are blocking).
    let active_faults = Arc::new(Mutex::new(BTreeSet::<String>::new()));
    let fault_thread = plan.faults.take().map(|faults| {
        let rt = Arc::clone(rt);
        let log = Arc::clone(&log);
        let stop = Arc::clone(&stop_faults);
        let leaders = Arc::clone(&leaders);
        let limit = opts.time_limit;
        let active = Arc::clone(&active_faults);
        Joined::spawn(Arc::clone(&stop_faults), move || {
            let mut failure: Option<io::Error> = None;
            faults.play(rt, leaders, limit, &stop, &mut |event| {
                if let Some(kind) = event.kind {
                    let mut active = active.lock().unwrap_or_else(|e| e.into_inner());
                    match event.phase {
                        FaultPhase::Start if !matches!(event.outcome, FaultOutcome::Skipped(_)) => {
                            active.insert(kind.to_string());
                        }
                        FaultPhase::Stop => {
                            active.remove(kind.name());
                        }
                        _ => {}
                    }
                }
                if let Err(e) = log.fault(&event) {
                    failure.get_or_insert(e);
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
    let sampler = committed.as_ref().map(|c| {
        let (c, stop) = (Arc::clone(c), Arc::new(AtomicBool::new(false)));
        let flag = Arc::clone(&stop);
        Joined::spawn(stop, move || sample_committed(&c, &flag))
    });
    let clients = make_clients(plan, rt.as_ref())?;
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
        .map_err(|_| HarnessError::Panicked("interpreter"))?
        .map_err(|source| HarnessError::Io {
            what: "recording the history",
            source,
        })?;
    drop(ticker);
    if let Some(sampler) = sampler {
        match sampler.finish() {
            Ok(Ok(n)) => note.line(&format!("committed logs: {n} samples in the main phase")),
            Ok(Err(source)) => {
                return Err(HarnessError::Io {
                    what: "sampling the committed logs",
                    source,
                })
            }
            Err(_) => return Err(HarnessError::Panicked("committed-log sampler")),
        }
    }
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
    if let Some(t) = fault_thread {
        match t.finish() {
            Ok(None) => {}
            Ok(Some(source)) => {
                return Err(HarnessError::Io {
                    what: "recording a nemesis op",
                    source,
                })
            }
            Err(_) => return Err(HarnessError::Panicked("fault thread")),
        }
    }
    log.fault(&FaultEvent::heal_all())
        .map_err(|source| HarnessError::Io {
            what: "recording the heal",
            source,
        })?;
    if let Some(lost) = node_watch.lost() {
        return Err(node_lost(lost, observer, note));
    }
    *interrupted = summary.interrupted || is_stopped();

    if !*interrupted {
        progress.phase("waiting for recovery");
        match plan
            .target
            .await_healthy(rt.as_ref(), opts.recovery_timeout)
        {
            Ok(d) => note.line(&format!(
                "healthy again {:.2} s after the heal",
                d.as_secs_f64()
            )),
            Err(e) => note.line(&format!("not healthy after the heal: {e}")),
        }
        if let Some(gen) = plan.workload.final_generator() {
            progress.phase("final reads");
            let clients = make_clients(plan, rt.as_ref())?;
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
                .map_err(|_| HarnessError::Panicked("interpreter"))?
                .map_err(|source| HarnessError::Io {
                    what: "recording the history",
                    source,
                })?;
            note.line(&format!(
                "final phase: {} ops ({} ok, {} fail, {} info)",
                fin.invoked, fin.ok, fin.fail, fin.info
            ));
        }
    }
    if let Some(services) = running.take() {
        if !*interrupted {
            progress.phase("waiting for the workload's services");
            match services.services.recover(opts.recovery_timeout) {
                Ok(d) => note.line(&format!(
                    "the workload's services acted again {:.2} s after the heal",
                    d.as_secs_f64()
                )),
                Err(e) => note.line(&format!("the workload's services after the heal: {e}")),
            }
        }
        progress.phase("stopping the workload's services");
        drop(services);
    }
    if !*interrupted {
        if let Some(committed) = &committed {
            progress.phase("committed logs");
            let round =
                committed
                    .collect(COMMITTED_WAIT, None)
                    .map_err(|source| HarnessError::Io {
                        what: "writing the committed logs",
                        source,
                    })?;
            for missing in &round.missing {
                note.line(&format!("committed log of {missing}"));
            }
            note.line(&format!(
                "committed logs: {} of {} nodes reported",
                round.reported,
                round.reported + round.missing.len()
            ));
        }
    }
    if let Some(lost) = node_watch.lost() {
        return Err(node_lost(lost, observer, note));
    }
    let _ = watcher.finish();
    if let Some(o) = observer {
        let seen = o.stop().map_err(|source| HarnessError::Io {
            what: "the status observer",
            source,
        })?;
        note.line(&format!("status observer: {} observations", seen.len()));
    }
    if *interrupted {
        note.line("interrupted: healed, tearing down, checking what was recorded");
    }
    Ok(())
}

/// Ends a run whose node died: the observer stops (its observations stay in
/// `status.jsonl`) and the error names the node and ssh's reason.
fn node_lost(lost: RuntimeError, observer: Option<Observer>, note: &Notes) -> HarnessError {
    note.line(&format!("node lost, stopping the run: {lost}"));
    if let Some(o) = observer {
        if let Err(e) = o.stop() {
            note.line(&format!("the status observer: {e}"));
        }
    }
    HarnessError::NodeLost(lost)
}

/// A helper thread of the main phase that is told to stop (its flag set) and joined
/// however the phase ends. An early return, such as a history that cannot be written,
/// must not leave the fault thread playing faults, and holding the nodes, past teardown.
pub(crate) struct Joined<T> {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<T>>,
}

impl<T: Send + 'static> Joined<T> {
    pub(crate) fn spawn(stop: Arc<AtomicBool>, f: impl FnOnce() -> T + Send + 'static) -> Self {
        Joined {
            stop,
            handle: Some(std::thread::spawn(f)),
        }
    }

    /// Sets the stop flag and waits for the thread's result.
    fn finish(mut self) -> std::thread::Result<T> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .expect("a Joined thread is joined once")
            .join()
    }
}

impl<T> Drop for Joined<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn make_clients<W: Workload>(
    plan: &Plan<W>,
    rt: &dyn Runtime,
) -> Result<Vec<W::Client>, HarnessError> {
    (0..plan.options.concurrency.max(1))
        .map(|k| (plan.clients)(rt, k).map_err(|source| HarnessError::Client { worker: k, source }))
        .collect()
}

/// Samples the committed logs every [`SAMPLE_EVERY`] until `stop`; returns how many
/// samples were taken.
fn sample_committed(committed: &CommittedLogs, stop: &AtomicBool) -> io::Result<usize> {
    let mut taken = 0;
    loop {
        let next = Instant::now() + SAMPLE_EVERY;
        // Pacing the samples while watching the stop flag, not waiting for a condition.
        while Instant::now() < next {
            if stop.load(Ordering::SeqCst) {
                return Ok(taken);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        committed.collect(SAMPLE_WAIT, Some(SAMPLE_TAIL))?;
        taken += 1;
    }
}

/// Reads [`COMMITTED_FILE`]: one report per line; a bad line names its number.
pub fn read_committed(path: &Path) -> Result<Vec<LogReport>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// A run name for the cluster: unique among live controllers (pid) and runs of this
/// process (a counter).
fn run_name() -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("t{}-{n}", std::process::id())
}

/// Copies each node's extra log files into `nodes/<n>/` of the run directory (service
/// logs are already there or are collected by the runtime), the service nodes' too (the
/// candidates' logs; SSH nodes keep them on the machine until collected). Best effort:
/// failures are noted.
fn collect_logs(target: &dyn Target, rt: &dyn Runtime, dir: &RunDir, note: &Notes) {
    // A target's log files are on its own nodes only.
    let system = rt.node_ids().into_iter().map(|n| (n, target.log_files(n)));
    let service = rt.service_nodes().into_iter().map(|n| (n.id, Vec::new()));
    for (node, files) in system.chain(service) {
        let dest = match dir.node_dir(&node.to_string()) {
            Ok(d) => d,
            Err(e) => {
                note.line(&format!("collecting logs of {node}: {e}"));
                continue;
            }
        };
        if let Err(e) = rt.collect(node, &files, &dest) {
            note.line(&format!("collecting logs of {node}: {e}"));
        }
    }
}

/// Checks a stored run: the workload's checkers over `history.jsonl`, split-brain over
/// `status.jsonl` (when the target reported status), replica agreement over
/// `committed.jsonl` (when the target reported committed logs), and liveness after the heal;
/// availability per fault window comes with the results.
pub fn check_run<W: Workload>(
    dir: &RunDir,
    opts: &RunOptions,
    workload: &W,
) -> Result<Results, String> {
    let path = dir.file(files::HISTORY);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Results::no_history()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let (_, records) = checkers::format::read(&bytes, Some(checkers::format::Format::Jsonl))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let status_path = dir.file(STATUS_FILE);
    let observations = if status_path.exists() {
        Some(observer::read_observations(&status_path)?)
    } else {
        None
    };
    let committed_path = dir.file(COMMITTED_FILE);
    let logs = if committed_path.exists() {
        Some(read_committed(&committed_path)?)
    } else {
        None
    };
    let windows = checkers::faults::windows(&records);
    let input = CheckInput {
        records: &records,
        status: observations.as_deref(),
        logs: logs.as_deref(),
        faults: &windows,
        budget: opts.budget(),
        run: RunFacts {
            nodes: usize::from(opts.nodes),
            round: nanos(opts.observe_interval),
            recovery_bound: nanos(opts.recovery_timeout),
            writes: workload.writes(),
        },
    };
    let mut all = workload.checkers();
    if observations.is_some() {
        all.push(Box::new(SplitBrain));
    }
    if logs.is_some() {
        all.push(Box::new(ReplicaAgreement));
    }
    all.push(Box::new(Liveness));
    let refs: Vec<&dyn Checker> = all.iter().map(|c| c.as_ref()).collect();
    check_all(&refs, &input).map_err(|e| format!("{}: {e}", path.display()))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
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

    /// A thread that runs until its flag is set, counting the guard's early return.
    fn looping(stop: &Arc<AtomicBool>, exited: &Arc<AtomicBool>) -> Joined<()> {
        let (flag, exited) = (Arc::clone(stop), Arc::clone(exited));
        Joined::spawn(Arc::clone(stop), move || {
            // Pacing a poll of the flag, as the fault thread does.
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            exited.store(true, Ordering::SeqCst);
        })
    }

    #[test]
    fn a_dropped_helper_thread_is_stopped_and_joined() {
        let (stop, exited) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let early_return = || -> Result<(), ()> {
            let _thread = looping(&stop, &exited);
            Err(())
        };
        assert!(early_return().is_err());
        assert!(stop.load(Ordering::SeqCst));
        assert!(exited.load(Ordering::SeqCst), "joined before the return");
    }

    #[test]
    fn finish_stops_the_thread_and_returns_its_result() {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let t = Joined::spawn(Arc::clone(&stop), move || {
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            7
        });
        assert_eq!(t.finish().unwrap(), 7);
    }
}
