//! Test support: a short run of a workload against a real target, a fault plan that
//! kills the current leaders and restarts them, and the checks every run must pass.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use harness::run::{self, Plan, RunOptions, RunOutcome};
use harness::target::Target;
use runtime::Runtime;
use workloads::kv::Kv;
use workloads::list_append::{ListAppendClient, ListAppendOpts, ListAppendWorkload, Lists};
use workloads::lock::{Lock, LockClient, LockOpts, LockWorkload};
use workloads::register::{RegisterClient, RegisterOpts, RegisterWorkload};

/// Worker k's client of a real target.
pub type Clients<K> = Arc<dyn Fn(&dyn Runtime, usize) -> Result<K, String> + Send + Sync>;

pub const NODES: u16 = 3;
pub const TIME_LIMIT: Duration = Duration::from_secs(12);

/// Kills the leaders a third into the run and restarts them a third later.
fn kill_leader() -> Option<nemesis::Resolved> {
    use nemesis::{Fault, FaultKind, NodeSpec, Plan, Step, Timed};
    Plan::Scripted {
        steps: vec![
            Timed {
                at: TIME_LIMIT / 3,
                step: Step::Start(Fault::Kill {
                    nodes: NodeSpec::Primaries,
                }),
            },
            Timed {
                at: 2 * TIME_LIMIT / 3,
                step: Step::Stop(FaultKind::Kill),
            },
        ],
    }
    .resolve(7)
    .expect("a scripted plan resolves")
}

fn options(name: &str) -> RunOptions {
    RunOptions {
        test: name.to_string(),
        nodes: NODES,
        concurrency: 2 * usize::from(NODES),
        rate: Some(100.0),
        time_limit: TIME_LIMIT,
        op_timeout: Duration::from_secs(3),
        recovery_timeout: Duration::from_secs(30),
        seed: 7,
        store: store(name),
        observe_interval: Duration::from_millis(100),
        check_time_limit: Duration::from_secs(60),
        check_memory_limit: 1 << 30,
        ssh: None,
    }
}

/// One store per test: runs in one store relink its `latest` and would race.
fn store(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("faultline-real-{name}-{}", std::process::id()))
}

/// A register run with the leader killed mid-run.
pub fn register<K: Kv + Lock>(name: &str, target: Arc<dyn Target>, make: Clients<K>) -> RunOutcome {
    let opts = options(name);
    let workload = RegisterWorkload::<K>::new(RegisterOpts {
        active_keys: 3,
        ..RegisterOpts::default()
    });
    run::run(Plan {
        options: opts.clone(),
        test_json: serde_json::json!({ "test": name }),
        target,
        workload,
        clients: Box::new(move |rt, k| {
            make(rt, k)
                .map(|kv| RegisterClient::new(Arc::new(kv)))
                .map_err(Into::into)
        }),
        faults: kill_leader(),
        shutdown: None,
        progress: false,
        artifacts: report::run_artifacts(),
    })
    .expect("the run directory can be made")
}

/// A list-append run with the leader killed mid-run, checked for strict serializability.
pub fn list_append<K: Lists>(name: &str, target: Arc<dyn Target>, make: Clients<K>) -> RunOutcome {
    let opts = options(name);
    let workload = ListAppendWorkload::<K>::new(
        ListAppendOpts::default(),
        checkers::elle::ConsistencyModel::StrictSerializable,
    );
    run::run(Plan {
        options: opts.clone(),
        test_json: serde_json::json!({ "test": name }),
        target,
        workload,
        clients: Box::new(move |rt, k| {
            make(rt, k)
                .map(|l| ListAppendClient::new(Arc::new(l)))
                .map_err(Into::into)
        }),
        faults: kill_leader(),
        shutdown: None,
        progress: false,
        artifacts: report::run_artifacts(),
    })
    .expect("the run directory can be made")
}

/// A lock run with the leader killed mid-run.
pub fn lock<K: Kv + Lock>(name: &str, target: Arc<dyn Target>, make: Clients<K>) -> RunOutcome {
    let opts = options(name);
    // Short holds and leases: this run checks that the lock stays safe through a leader
    // kill, and needs enough acquire → write → release cycles in its few seconds (and a
    // short final phase, which waits out leases the main phase left held) to mean it.
    let lock_opts = LockOpts {
        max_hold_ms: 300,
        ttl_ms: 5000,
        ..LockOpts::default()
    };
    let workload = LockWorkload::<K>::new(lock_opts, opts.concurrency);
    let resource = Arc::clone(&workload.resource);
    run::run(Plan {
        options: opts.clone(),
        test_json: serde_json::json!({ "test": name }),
        target,
        workload,
        clients: Box::new(move |rt, k| {
            make(rt, k)
                .map(|l| LockClient::new(Arc::new(l), Arc::clone(&resource), k))
                .map_err(Into::into)
        }),
        faults: kill_leader(),
        shutdown: None,
        progress: false,
        artifacts: report::run_artifacts(),
    })
    .expect("the run directory can be made")
}

/// The run finished, every checker said valid, and enough ops succeeded.
pub fn assert_valid(outcome: &RunOutcome, checkers: &[&str]) {
    let summary = report::results::render_text(&outcome.results);
    eprintln!("{summary}\nstore: {}", outcome.dir.display());
    assert!(
        outcome.harness_error.is_none(),
        "harness error: {:?}\n{summary}",
        outcome.harness_error
    );
    assert_eq!(outcome.results.exit_code(), 0, "not valid:\n{summary}");
    for c in checkers {
        assert!(
            outcome.results.checkers.iter().any(|r| r.name == *c),
            "no {c} checker in the results:\n{summary}"
        );
    }
    let history = std::fs::read_to_string(outcome.dir.join("history.jsonl")).expect("history");
    let oks = history
        .lines()
        .filter(|l| l.contains(r#""type":"ok""#))
        .count();
    assert!(oks >= 20, "only {oks} ops succeeded:\n{summary}");
    let (_, records) = checkers::format::read(history.as_bytes(), None).expect("a history");
    let killed = checkers::faults::events(&records).iter().any(|(_, e)| {
        e.phase == checkers::faults::FaultPhase::Start
            && e.kind == Some(checkers::faults::FaultKind::Kill)
            && !e.nodes.is_empty()
    });
    assert!(killed, "no leader was killed: {}", outcome.dir.display());
}

/// No process of the target survived its run (their command lines name `marker`).
pub fn assert_no_processes(marker: &str, store_dir: &std::path::Path) {
    let needle = store_dir.display().to_string();
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(marker) && cmd.contains(&needle) {
            left.push(cmd);
        }
    }
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// Removes a passed run's store (a failed test keeps it for inspection).
pub fn discard(outcome: &RunOutcome) {
    // The run dir is store/<test>/<timestamp>, and the store is this test's own.
    if let Some(store) = outcome.dir.parent().and_then(|t| t.parent()) {
        if let Err(e) = std::fs::remove_dir_all(store) {
            eprintln!("leaving {}: {e}", store.display());
        }
    }
}

/// An election run (issue 18): `per_mode` candidates in each mode on service nodes,
/// campaigning through `recipe`; the leading candidates are paused a third into the run
/// for a third of it (4 s, past the 2 s lease) and resumed.
pub fn election(
    name: &str,
    target: Arc<dyn Target>,
    recipe: workloads::election::candidates::Recipe,
    per_mode: u16,
) -> RunOutcome {
    election_timed(name, target, recipe, per_mode, 2000, TIME_LIMIT)
}

/// [`election`] with a lease of `ttl_ms` and a run of `time_limit`: the pause lasts a
/// third of the run, which must outlast what the service takes to replace a paused
/// leader.
pub fn election_timed(
    name: &str,
    target: Arc<dyn Target>,
    recipe: workloads::election::candidates::Recipe,
    per_mode: u16,
    ttl_ms: u64,
    time_limit: Duration,
) -> RunOutcome {
    use nemesis::{Fault, FaultKind, NodeSpec, Step, Timed};
    use workloads::election::candidates::{Candidates, Program};
    use workloads::election::workload::{ElectionWorkload, Idle};
    use workloads::election::ElectionOpts;
    let mut opts = options(name);
    opts.concurrency = 1;
    opts.time_limit = time_limit;
    let election = ElectionOpts {
        candidates: per_mode,
        ttl_ms,
        ..ElectionOpts::default()
    };
    let program: Program = Arc::new(|_: &dyn Runtime, _| {
        Ok(vec![env!("CARGO_BIN_EXE_faultline-candidate").to_string()])
    });
    let faults = nemesis::Plan::Scripted {
        steps: vec![
            Timed {
                at: time_limit / 3,
                step: Step::Start(Fault::Pause {
                    nodes: NodeSpec::LeaderCandidate,
                }),
            },
            Timed {
                at: 2 * time_limit / 3,
                step: Step::Stop(FaultKind::Pause),
            },
        ],
    }
    .resolve(7)
    .expect("a scripted plan resolves");
    run::run(Plan {
        options: opts,
        test_json: serde_json::json!({ "test": name }),
        target,
        workload: ElectionWorkload::new(
            election.clone(),
            Candidates::new(election, recipe, program),
        ),
        clients: Box::new(|_, _| Ok(Idle)),
        faults,
        shutdown: None,
        progress: false,
        artifacts: report::run_artifacts(),
    })
    .expect("the run directory can be made")
}

/// What an election run with the leading candidates paused past their lease must show:
/// naive mode splits and takes a stale write, fenced mode fences it off, lease mode
/// stays safe, tokens increase; the paused nodes were candidates.
pub fn assert_election_shape(outcome: &RunOutcome) {
    use checkers::election::{ElectionReport, Mode};
    let summary = report::results::render_text(&outcome.results);
    eprintln!("{summary}\nstore: {}", outcome.dir.display());
    assert!(
        outcome.harness_error.is_none(),
        "harness error: {:?}\n{summary}",
        outcome.harness_error
    );
    let stale = outcome
        .results
        .checkers
        .iter()
        .find(|c| c.name == "stale-writes")
        .unwrap_or_else(|| panic!("no stale-writes checker:\n{summary}"));
    let report: ElectionReport =
        serde_json::from_value(stale.details.clone()).expect("the election report");
    let mode = |m: Mode| {
        report
            .modes
            .iter()
            .find(|r| r.mode == m)
            .unwrap_or_else(|| panic!("no {m} mode:\n{summary}"))
    };
    let naive = mode(Mode::Naive);
    assert!(
        !naive.overlaps.is_empty() && !naive.stale_writes.is_empty(),
        "naive mode split:\n{summary}"
    );
    let fenced = mode(Mode::Fenced);
    assert!(
        fenced.valid && fenced.stale_writes.is_empty() && fenced.writes_fenced >= 1,
        "fenced mode fenced the stale write off:\n{summary}"
    );
    let lease = mode(Mode::Lease);
    assert!(
        lease.valid && lease.overlaps.is_empty(),
        "lease mode:\n{summary}"
    );
    for m in &report.modes {
        assert!(m.token_order.is_empty(), "{}: tokens increase", m.mode);
        assert!(m.writes_accepted >= 20, "{}: too few writes", m.mode);
    }
}
