//! `faultline test`: flags → a plain [`Test`] → a `harness::run::Plan` → artifacts,
//! a summary and Jepsen's exit code. Also the registry of targets × workloads, shared
//! with `faultline check <store-dir>` (which rebuilds the workload from `test.json`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use checkers::check::Results;
use clap::ValueEnum;
use harness::run::{self, OpenError, Plan as RunPlan, RunOptions, RunOutcome};
use harness::store::{files, RunDir};
use harness::target::Target;
use nemesis::{FaultArg, Plan};
use runtime::exec::RealExec;
use runtime::netns::Registry;
use runtime::Runtime;
use serde::{Deserialize, Serialize};
use targets::bundled::Bug;
use targets::consul::{ConsulOptions, ConsulTarget};
use targets::etcd::{EtcdOptions, EtcdTarget};
use targets::raft::deploy::{RaftKv, RaftOptions, RaftTarget};
use targets::zab::deploy::{ZabKv, ZabOptions, ZabTarget};
use targets::zookeeper::{ZookeeperOptions, ZookeeperTarget};
use targets::ReadMode;
use targets::ReadModeArg;
use workloads::kv::Kv;
use workloads::lock::{Lock, LockClient, LockOpts, LockWorkload};
use workloads::register::{Reads, RegisterClient, RegisterOpts, RegisterWorkload};

use crate::exit;

/// Systems faultline can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The bundled Raft key-value and lock service.
    Raft,
    /// etcd (Debian's etcd-server, or --etcd-bin), over its JSON gateway.
    Etcd,
    /// Apache ZooKeeper (Debian's zookeeper, or --zookeeper-dir).
    Zookeeper,
    /// HashiCorp Consul (only where `consul` is on PATH or --consul-bin is given).
    Consul,
    /// The bundled Zab (ZooKeeper's atomic broadcast) key-value and lock service.
    Zab,
}

impl TargetKind {
    /// The read mode the test's register clients use, checked against what this
    /// target serves (the error names what it does serve).
    pub fn read_mode(self, mode: Option<ReadModeArg>) -> Result<TargetReads, String> {
        match self {
            TargetKind::Raft => ReadModeArg::for_raft(mode).map(|()| TargetReads::Raft),
            TargetKind::Zab => ReadModeArg::for_zab(mode).map(TargetReads::Zab),
            real => ReadModeArg::for_real(mode, &value_name(real)).map(TargetReads::Real),
        }
    }

    /// Checks that every `--bug` is a switch of this target.
    pub fn check_bugs(self, bugs: &[Bug]) -> Result<(), String> {
        let name = value_name(self);
        match bugs.iter().find(|b| b.target() != name) {
            Some(b) => Err(format!(
                "--bug {b} is a switch of the bundled {}, not of --target {name}",
                b.target()
            )),
            None => Ok(()),
        }
    }
}

/// How a target's register reads are served, resolved from `--read-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetReads {
    Raft,
    Zab(targets::read_mode::ReadLevel),
    Real(ReadMode),
}

impl TargetReads {
    /// What the register workload's reads promise.
    pub fn register_reads(self) -> Reads {
        match self {
            TargetReads::Zab(targets::read_mode::ReadLevel::Local) => Reads::Sequential,
            _ => Reads::Linearizable,
        }
    }
}

/// Options of the real targets (etcd, ZooKeeper, Consul); stored with the test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct TargetOpts {
    /// Register reads: etcd, ZooKeeper, Consul: linearizable (the default) or
    /// serializable (local, may be stale: the calibration mode); zab: quorum (the
    /// default, linearizable), sync (ZooKeeper's sync then read, not linearizable) or
    /// local (sequentially consistent: checked for monotonic reads); raft: linearizable.
    #[arg(long, value_enum)]
    #[serde(default)]
    pub read_mode: Option<ReadModeArg>,
    /// The etcd binary (default: `etcd` on PATH, installed with apt-get when missing).
    #[arg(long)]
    #[serde(default)]
    pub etcd_bin: Option<PathBuf>,
    /// ZooKeeper's installation: a directory with the server jars (default: Debian's
    /// /usr/share/java, installed with apt-get when missing).
    #[arg(long)]
    #[serde(default)]
    pub zookeeper_dir: Option<PathBuf>,
    /// The consul binary (default: `consul` on PATH; there is no Debian package).
    #[arg(long)]
    #[serde(default)]
    pub consul_bin: Option<PathBuf>,
}

impl TargetOpts {
    /// The flags that differ from the defaults, for the stored command.
    fn command_words(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(m) = self.read_mode {
            w.extend(["--read-mode".to_string(), m.name().to_string()]);
        }
        for (flag, v) in [
            ("--etcd-bin", &self.etcd_bin),
            ("--zookeeper-dir", &self.zookeeper_dir),
            ("--consul-bin", &self.consul_bin),
        ] {
            if let Some(p) = v {
                w.extend([flag.to_string(), p.display().to_string()]);
            }
        }
        w
    }
}

/// What the clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Independent linearizable registers: read, write, compare-and-set.
    Register,
    /// Acquire a lock, write to a fenced resource, release.
    Lock,
}

/// `--concurrency`: a number, or `Nn` for N per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Concurrency {
    Fixed(usize),
    PerNode(usize),
}

impl Concurrency {
    pub fn resolve(self, nodes: u16) -> usize {
        match self {
            Concurrency::Fixed(n) => n,
            Concurrency::PerNode(k) => k * usize::from(nodes),
        }
    }
}

fn parse_concurrency(s: &str) -> Result<Concurrency, String> {
    let bad =
        || format!("expected a number like 10 or a multiple of the node count like 2n, got {s:?}");
    let c = match s.strip_suffix('n') {
        Some(k) => Concurrency::PerNode(k.parse().map_err(|_| bad())?),
        None => Concurrency::Fixed(s.parse().map_err(|_| bad())?),
    };
    match c {
        Concurrency::Fixed(0) | Concurrency::PerNode(0) => {
            Err("concurrency must be at least 1".into())
        }
        c => Ok(c),
    }
}

/// Settings of the lock workload (`--workload lock`); stored with the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct LockArgs {
    /// Lock workload: how many locks the clients contend for.
    #[arg(long, default_value_t = LockOpts::default().locks,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub locks: u32,
    /// Lock workload: the lease each acquire asks for, in milliseconds.
    #[arg(long, default_value_t = LockOpts::default().ttl_ms,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub lock_ttl_ms: u64,
    /// Lock workload: the longest hold in milliseconds (holds are uniform up to it); must
    /// be below the lease.
    #[arg(long, default_value_t = LockOpts::default().max_hold_ms)]
    pub lock_max_hold_ms: u64,
}

impl Default for LockArgs {
    fn default() -> Self {
        let o = LockOpts::default();
        LockArgs {
            locks: o.locks,
            lock_ttl_ms: o.ttl_ms,
            lock_max_hold_ms: o.max_hold_ms,
        }
    }
}

impl LockArgs {
    pub fn opts(&self) -> LockOpts {
        LockOpts {
            locks: self.locks,
            ttl_ms: self.lock_ttl_ms,
            max_hold_ms: self.lock_max_hold_ms,
        }
    }

    fn command_words(&self) -> Vec<String> {
        vec![
            "--locks".into(),
            self.locks.to_string(),
            "--lock-ttl-ms".into(),
            self.lock_ttl_ms.to_string(),
            "--lock-max-hold-ms".into(),
            self.lock_max_hold_ms.to_string(),
        ]
    }
}

/// Flags of `faultline test`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// System under test.
    #[arg(long, value_enum, default_value_t = TargetKind::Raft)]
    pub target: TargetKind,
    /// What the clients do.
    #[arg(long, value_enum, default_value_t = WorkloadKind::Register)]
    pub workload: WorkloadKind,
    /// Faults, comma-separated: partition[:KIND], kill[:SPEC], pause[:SPEC], loss[:P],
    /// all, none, or default (the mix: leader-aimed windows scaled to the target's
    /// failover time; --nemesis-interval does not apply). KIND: one, halves,
    /// random-halves, majority, minority-third, majorities-ring, bridge, primaries,
    /// one-way. SPEC: one, minority, majority, minority-third, primaries, all, or nodes
    /// like n1,n3.
    #[arg(long, value_delimiter = ',', value_parser = str::parse::<FaultArg>, default_value = "default")]
    pub nemesis: Vec<FaultArg>,
    /// Number of nodes.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=200))]
    pub nodes: u16,
    /// Client workers: a number, or Nn for N per node.
    #[arg(long, default_value = "2n", value_parser = parse_concurrency)]
    pub concurrency: Concurrency,
    /// Total ops/s over all clients (0: as fast as the system answers).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds of the main phase (Jepsen's default: long enough for several fault
    /// windows at the default interval).
    #[arg(long, default_value_t = 60)]
    pub time_limit: u64,
    /// Mean seconds between nemesis steps (a fault starts, then stops, alternately).
    #[arg(long, default_value_t = 5)]
    pub nemesis_interval: u64,
    /// Seed of every random choice (ops, schedule, faults); printed and stored.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Runs, with seeds seed, seed+1, …; the exit code is the worst verdict.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub test_count: u32,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Plant a known bug in the bundled Raft or Zab (repeatable; the switch must be the
    /// target's); see `faultline node raft --help` and `faultline node zab --help`.
    #[arg(long = "bug", value_enum)]
    pub bugs: Vec<Bug>,
    /// Per-operation timeout in milliseconds (past it the outcome is unknown); a lock
    /// client's hold is its own wait and does not count.
    #[arg(long, default_value_t = 3000)]
    pub op_timeout_ms: u64,
    /// Seconds the healed cluster may take to serve requests again (liveness bound).
    #[arg(long, default_value_t = 20)]
    pub recovery_timeout: u64,
    /// Test name (store directory); default: TARGET-WORKLOAD.
    #[arg(long)]
    pub name: Option<String>,
    /// Checker time limit in seconds.
    #[arg(long, default_value_t = 60)]
    pub check_time_limit: u64,
    /// No progress spinner (CI logs).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub target_opts: TargetOpts,
    #[command(flatten)]
    pub lock: LockArgs,
    /// Register workload: use this many keys for the whole run (default: concurrency/2
    /// keys at a time, each retired after 100 ops).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub keys: Option<u32>,
}

/// The test as stored in `test.json`: every option, the seed, and the command that
/// reproduces the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Test {
    pub target: TargetKind,
    pub workload: WorkloadKind,
    pub nemesis: Vec<FaultArg>,
    pub nemesis_interval_s: u64,
    pub bugs: Vec<Bug>,
    #[serde(default)]
    pub target_opts: TargetOpts,
    /// Lock workload settings (tests stored before they existed load the defaults).
    #[serde(default)]
    pub lock: LockOpts,
    /// Register workload: `--keys` (tests stored before it existed rotate keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u32>,
    pub options: RunOptions,
    pub command: String,
    pub faultline_version: String,
}

impl Test {
    pub fn from_args(a: &TestArgs, seed: u64) -> Test {
        let name = a.name.clone().unwrap_or_else(|| {
            let mut n = format!(
                "{}-{}",
                a.target
                    .to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default(),
                a.workload
                    .to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default()
            );
            for b in &a.bugs {
                n.push('-');
                n.push_str(b.name());
            }
            n
        });
        let options = RunOptions {
            test: name,
            nodes: a.nodes,
            concurrency: a.concurrency.resolve(a.nodes),
            rate: (a.rate > 0.0).then_some(a.rate),
            time_limit: Duration::from_secs(a.time_limit),
            op_timeout: Duration::from_millis(a.op_timeout_ms),
            recovery_timeout: Duration::from_secs(a.recovery_timeout),
            seed,
            store: a.store.clone(),
            observe_interval: Duration::from_millis(100),
            check_time_limit: Duration::from_secs(a.check_time_limit),
            check_memory_limit: 1 << 30,
        };
        let mut command = vec![
            "faultline".to_string(),
            "test".into(),
            "--target".into(),
            value_name(a.target),
            "--workload".into(),
            value_name(a.workload),
            "--nemesis".into(),
            a.nemesis
                .iter()
                .map(FaultArg::to_string)
                .collect::<Vec<_>>()
                .join(","),
            "--nodes".into(),
            a.nodes.to_string(),
            "--concurrency".into(),
            options.concurrency.to_string(),
            "--rate".into(),
            a.rate.to_string(),
            "--time-limit".into(),
            a.time_limit.to_string(),
            "--nemesis-interval".into(),
            a.nemesis_interval.to_string(),
            "--seed".into(),
            seed.to_string(),
        ];
        for b in &a.bugs {
            command.extend(["--bug".into(), b.name().into()]);
        }
        command.extend(a.target_opts.command_words());
        if a.workload == WorkloadKind::Lock {
            command.extend(a.lock.command_words());
        }
        if let (WorkloadKind::Register, Some(k)) = (a.workload, a.keys) {
            command.extend(["--keys".into(), k.to_string()]);
        }
        Test {
            target: a.target,
            workload: a.workload,
            nemesis: a.nemesis.clone(),
            nemesis_interval_s: a.nemesis_interval,
            bugs: a.bugs.clone(),
            target_opts: a.target_opts.clone(),
            lock: a.lock.opts(),
            keys: a.keys,
            options,
            command: command.join(" "),
            faultline_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

pub(crate) fn value_name(v: impl ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// `faultline test`.
pub fn run(args: TestArgs) -> anyhow::Result<u8> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!(
            "error: faultline test needs root: it creates network namespaces, veth pairs and \
             iptables rules inside them (run it with sudo)"
        );
        return Ok(exit::BAD_INPUT);
    }
    let first_seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000)
            .unwrap_or(0)
    });
    if let Err(e) = Plan::scheduled(
        args.nemesis.clone(),
        Duration::from_secs(args.nemesis_interval.max(1)),
    )
    .validate()
    {
        eprintln!("error: --nemesis: {e}");
        return Ok(exit::BAD_INPUT);
    }
    if let Err(e) = args.lock.opts().validate() {
        eprintln!("error: --lock-ttl-ms / --lock-max-hold-ms: {e}");
        return Ok(exit::BAD_INPUT);
    }
    if let Err(e) = args.target.read_mode(args.target_opts.read_mode) {
        eprintln!("error: {e}");
        return Ok(exit::BAD_INPUT);
    }
    if let Err(e) = args.target.check_bugs(&args.bugs) {
        eprintln!("error: {e}");
        return Ok(exit::BAD_INPUT);
    }
    if args.target == TargetKind::Consul {
        if let Some(reason) = targets::consul::absent_reason(args.target_opts.consul_bin.as_deref())
        {
            eprintln!("error: --target consul: {reason}");
            return Ok(exit::BAD_INPUT);
        }
    }
    let shutdown = runtime::netns::cleanup::install_signal_handler(
        Arc::new(RealExec),
        Registry::default(),
        Duration::from_secs(60),
    )
    .context("installing the SIGINT/SIGTERM handler")?;

    let mut worst = 0u8;
    for i in 0..args.test_count {
        let seed = first_seed.wrapping_add(u64::from(i));
        let test = Test::from_args(&args, seed);
        eprintln!("faultline test {} — seed {seed}", test.options.test);
        eprintln!("  reproduce: {}", test.command);
        let outcome = run_one(&test, !args.no_progress, Some(shutdown.clone()))?;
        print_summary(&test, &outcome);
        let code = match &outcome.harness_error {
            Some(_) => exit::HARNESS,
            None => outcome.results.exit_code(),
        };
        worst = worse(worst, code);
        if outcome.interrupted {
            break;
        }
    }
    Ok(worst)
}

/// Harness failure beats invalid beats unknown beats valid.
fn worse(a: u8, b: u8) -> u8 {
    let rank = |c: u8| match c {
        exit::HARNESS => 4,
        exit::INVALID => 3,
        exit::UNKNOWN => 2,
        exit::VALID => 0,
        _ => 1,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn print_summary(test: &Test, outcome: &RunOutcome) {
    println!();
    println!(
        "{}",
        report::results::render_text(&outcome.results).trim_end()
    );
    if let Some(e) = &outcome.harness_error {
        println!("harness error: {e}");
    }
    if outcome.interrupted {
        println!("interrupted: checked what was recorded");
    }
    println!("store:     {}", outcome.dir.display());
    println!("reproduce: {}", test.command);
}

pub fn run_one(
    test: &Test,
    progress: bool,
    shutdown: Option<runtime::netns::cleanup::Shutdown>,
) -> anyhow::Result<RunOutcome> {
    let opts = test.options.clone();
    let faults = Plan::scheduled(
        test.nemesis.clone(),
        Duration::from_secs(test.nemesis_interval_s.max(1)),
    )
    .resolve(opts.seed)
    .map_err(anyhow::Error::msg)?;
    let test_json = serde_json::to_value(test)?;
    let op_timeout = opts.op_timeout;
    let reads = test
        .target
        .read_mode(test.target_opts.read_mode)
        .map_err(anyhow::Error::msg)?;
    test.target
        .check_bugs(&test.bugs)
        .map_err(anyhow::Error::msg)?;
    let real_mode = match reads {
        TargetReads::Real(m) => m,
        _ => ReadMode::Linearizable,
    };
    let outcome = match test.target {
        TargetKind::Raft => {
            let raft = RaftOptions {
                bugs: test
                    .bugs
                    .iter()
                    .filter_map(|b| match b {
                        Bug::Raft(b) => Some(*b),
                        Bug::Zab(_) => None,
                    })
                    .collect(),
                ..RaftOptions::default()
            };
            run_workload(
                test,
                test_json,
                Arc::new(RaftTarget::new(raft, opts.seed)),
                faults,
                shutdown,
                progress,
                Arc::new(move |rt: &dyn Runtime, k| {
                    RaftKv::for_cluster(rt, k, op_timeout).map_err(Into::into)
                }),
            )?
        }
        TargetKind::Zab => {
            let zab = ZabOptions {
                bugs: test
                    .bugs
                    .iter()
                    .filter_map(|b| match b {
                        Bug::Zab(b) => Some(*b),
                        Bug::Raft(_) => None,
                    })
                    .collect(),
                ..ZabOptions::default()
            };
            let level = match reads {
                TargetReads::Zab(l) => l,
                _ => targets::read_mode::ReadLevel::Quorum,
            };
            run_workload(
                test,
                test_json,
                Arc::new(ZabTarget::new(zab, opts.seed)),
                faults,
                shutdown,
                progress,
                Arc::new(move |rt: &dyn Runtime, k| {
                    ZabKv::for_cluster(rt, k, op_timeout)
                        .map(|kv| kv.with_read_level(level))
                        .map_err(Into::into)
                }),
            )?
        }
        TargetKind::Etcd => {
            let etcd = EtcdOptions {
                bin: test.target_opts.etcd_bin.clone(),
                read_mode: real_mode,
                ..EtcdOptions::default()
            };
            let mode = etcd.read_mode;
            run_workload(
                test,
                test_json,
                Arc::new(EtcdTarget::new(etcd)),
                faults,
                shutdown,
                progress,
                Arc::new(move |rt: &dyn Runtime, k| {
                    targets::etcd::client_for(rt, k, op_timeout, mode).map_err(Into::into)
                }),
            )?
        }
        TargetKind::Zookeeper => {
            let zk = ZookeeperOptions {
                dir: test.target_opts.zookeeper_dir.clone(),
                read_mode: real_mode,
                ..ZookeeperOptions::default()
            };
            let mode = zk.read_mode;
            run_workload(
                test,
                test_json,
                Arc::new(ZookeeperTarget::new(zk)),
                faults,
                shutdown,
                progress,
                Arc::new(move |rt: &dyn Runtime, k| {
                    targets::zookeeper::client_for(rt, k, op_timeout, mode).map_err(Into::into)
                }),
            )?
        }
        TargetKind::Consul => {
            let consul = ConsulOptions {
                bin: test.target_opts.consul_bin.clone(),
                read_mode: real_mode,
            };
            let mode = consul.read_mode;
            run_workload(
                test,
                test_json,
                Arc::new(ConsulTarget::new(consul)),
                faults,
                shutdown,
                progress,
                Arc::new(move |rt: &dyn Runtime, k| {
                    targets::consul::client_for(rt, k, op_timeout, mode).map_err(Into::into)
                }),
            )?
        }
    };
    Ok(outcome)
}

/// A target's client constructor: worker k of a run's nodes.
type Clients<K> = Arc<dyn Fn(&dyn Runtime, usize) -> Result<K, OpenError> + Send + Sync>;

/// Runs the test's workload against a target whose client does both Kv and Lock.
pub(crate) fn run_workload<K: Kv + Lock>(
    test: &Test,
    test_json: serde_json::Value,
    target: Arc<dyn Target>,
    faults: Option<nemesis::Resolved>,
    shutdown: Option<runtime::netns::cleanup::Shutdown>,
    progress: bool,
    make: Clients<K>,
) -> anyhow::Result<RunOutcome> {
    let opts = test.options.clone();
    let reads = register_reads(test);
    Ok(match test.workload {
        WorkloadKind::Register => run::run(RunPlan {
            options: opts.clone(),
            test_json,
            target,
            workload: RegisterWorkload::<K>::new(register_opts(&opts, test.keys)).with_reads(reads),
            clients: Box::new(move |rt, k| {
                make(rt, k).map(|kv| RegisterClient::new(Arc::new(kv)).with_reads(reads))
            }),
            faults,
            shutdown,
            progress,
            artifacts: report::run_artifacts(),
        })?,
        WorkloadKind::Lock => {
            let workload = LockWorkload::<K>::new(test.lock, opts.concurrency);
            let resource = Arc::clone(&workload.resource);
            run::run(RunPlan {
                options: opts.clone(),
                test_json,
                target,
                workload,
                clients: Box::new(move |rt, k| {
                    make(rt, k).map(|kv| LockClient::new(Arc::new(kv), Arc::clone(&resource), k))
                }),
                faults,
                shutdown,
                progress,
                artifacts: report::run_artifacts(),
            })?
        }
    })
}

/// What the test's register reads promise (sequential for the Zab's local reads).
fn register_reads(test: &Test) -> Reads {
    test.target
        .read_mode(test.target_opts.read_mode)
        .map_or(Reads::Linearizable, TargetReads::register_reads)
}

fn register_opts(opts: &RunOptions, keys: Option<u32>) -> RegisterOpts {
    match keys {
        // A fixed set of keys, never retired: every op of the run lands on them.
        Some(k) => RegisterOpts {
            active_keys: k as usize,
            ops_per_key: u32::MAX,
            ..RegisterOpts::default()
        },
        None => RegisterOpts {
            active_keys: (opts.concurrency / 2).max(1),
            ..RegisterOpts::default()
        },
    }
}

/// Re-checks a stored run (`faultline check <store-dir>`): rebuilds the workload from
/// `test.json`, runs every checker again, rewrites results.json and junit.xml.
pub fn check_stored(dir: &Path) -> anyhow::Result<u8> {
    let run = match RunDir::open(dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::BAD_INPUT);
        }
    };
    let test_path = run.file(files::TEST);
    let test: Test = match std::fs::read(&test_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: {e}", test_path.display());
            return Ok(exit::BAD_INPUT);
        }
    };
    let opts = &test.options;
    let results: Result<Results, String> = match test.workload {
        WorkloadKind::Register => run::recheck(
            &run,
            opts,
            &RegisterWorkload::<RaftKv>::new(register_opts(opts, test.keys))
                .with_reads(register_reads(&test)),
            &report::RunArtifacts,
        ),
        WorkloadKind::Lock => run::recheck(
            &run,
            opts,
            &LockWorkload::<RaftKv>::new(test.lock, opts.concurrency),
            &report::RunArtifacts,
        ),
    };
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::BAD_INPUT);
        }
    };
    println!("{}", report::results::render_text(&results).trim_end());
    println!("store:     {}", run.path().display());
    Ok(results.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_accepts_numbers_and_per_node_multiples() {
        assert_eq!(parse_concurrency("10").unwrap().resolve(5), 10);
        assert_eq!(parse_concurrency("2n").unwrap().resolve(5), 10);
        assert_eq!(parse_concurrency("3n").unwrap().resolve(3), 9);
        for bad in ["", "n", "0", "0n", "-1", "2x", "two"] {
            assert!(parse_concurrency(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_stored_command_reproduces_the_flags() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            t: TestArgs,
        }
        let cli = Cli::parse_from([
            "x",
            "--nemesis",
            "partition:bridge,kill:one",
            "--seed",
            "9",
            "--bug",
            "stale-read",
        ]);
        let test = Test::from_args(&cli.t, 9);
        let words: Vec<&str> = test.command.split(' ').skip(1).collect();
        let again = Cli::parse_from(std::iter::once("x").chain(words.into_iter().skip(1)));
        let test2 = Test::from_args(&again.t, 9);
        assert_eq!(test.command, test2.command);
        assert_eq!(test2.nemesis, cli.t.nemesis);
        assert_eq!(test2.bugs, vec![Bug::Raft(targets::raft::Bug::StaleRead)]);
        assert_eq!(test.options.test, "raft-register-stale-read");
    }

    #[test]
    fn keys_fix_the_register_key_set_and_are_reproduced() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            t: TestArgs,
        }
        let cli = Cli::parse_from(["x", "--concurrency", "50", "--keys", "5"]);
        let test = Test::from_args(&cli.t, 4);
        assert_eq!(test.keys, Some(5));
        assert!(test.command.ends_with("--keys 5"), "{}", test.command);
        let o = register_opts(&test.options, test.keys);
        assert_eq!((o.active_keys, o.ops_per_key), (5, u32::MAX));
        let default = Test::from_args(&Cli::parse_from(["x", "--concurrency", "50"]).t, 4);
        assert_eq!(
            register_opts(&default.options, default.keys).active_keys,
            25
        );
        assert!(!default.command.contains("--keys"));
        assert!(Cli::try_parse_from(["x", "--keys", "0"]).is_err());
    }

    #[test]
    fn lock_flags_are_checked_stored_and_reproduced() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            t: TestArgs,
        }
        let cli = Cli::parse_from([
            "x",
            "--workload",
            "lock",
            "--locks",
            "2",
            "--lock-ttl-ms",
            "3000",
            "--lock-max-hold-ms",
            "500",
        ]);
        let test = Test::from_args(&cli.t, 4);
        assert_eq!(
            test.lock,
            LockOpts {
                locks: 2,
                ttl_ms: 3000,
                max_hold_ms: 500
            }
        );
        assert!(test
            .command
            .ends_with("--locks 2 --lock-ttl-ms 3000 --lock-max-hold-ms 500"));
        let words: Vec<&str> = test.command.split(' ').skip(2).collect();
        let again = Cli::parse_from(std::iter::once("x").chain(words));
        assert_eq!(again.t.lock, cli.t.lock);
        // The defaults are the workload's, and other workloads' commands omit them.
        let plain = Cli::parse_from(["x"]);
        assert_eq!(plain.t.lock.opts(), LockOpts::default());
        assert!(!Test::from_args(&plain.t, 1).command.contains("--locks"));
        // A hold must end within its lease.
        let long = Cli::parse_from(["x", "--lock-ttl-ms", "1000", "--lock-max-hold-ms", "1000"]);
        let err = long.t.lock.opts().validate().unwrap_err();
        assert!(
            err.contains("holds of up to 1000 ms must be shorter than the 1000 ms lease"),
            "{err}"
        );
        assert!(Cli::try_parse_from(["x", "--locks", "0"]).is_err());
        // A test.json from before the lock flags loads the defaults.
        let mut json = serde_json::to_value(&test).unwrap();
        json.as_object_mut().unwrap().remove("lock");
        let old: Test = serde_json::from_value(json).unwrap();
        assert_eq!(old.lock, LockOpts::default());
    }

    #[test]
    fn real_target_flags_are_stored_and_reproduced() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            t: TestArgs,
        }
        let cli = Cli::parse_from([
            "x",
            "--target",
            "etcd",
            "--read-mode",
            "serializable",
            "--etcd-bin",
            "/opt/etcd/etcd",
            "--seed",
            "3",
        ]);
        let test = Test::from_args(&cli.t, 3);
        assert_eq!(test.target, TargetKind::Etcd);
        assert_eq!(test.target_opts.read_mode, Some(ReadModeArg::Serializable));
        assert!(test
            .command
            .contains("--read-mode serializable --etcd-bin /opt/etcd/etcd"));
        let words: Vec<&str> = test.command.split(' ').skip(2).collect();
        let again = Cli::parse_from(std::iter::once("x").chain(words));
        assert_eq!(again.t.target_opts, cli.t.target_opts);
        // Defaults add nothing, and an old test.json without target options still loads.
        let plain = Test::from_args(&Cli::parse_from(["x", "--target", "zookeeper"]).t, 1);
        assert!(!plain.command.contains("--read-mode"));
        let mut json = serde_json::to_value(&plain).unwrap();
        json.as_object_mut().unwrap().remove("target_opts");
        let old: Test = serde_json::from_value(json).unwrap();
        assert_eq!(old.target_opts, TargetOpts::default());
    }
}
