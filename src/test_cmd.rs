//! `faultline test`: flags → a plain [`Test`] (the engine's, with the specs of
//! `targets::registry`) → the registry runs it → artifacts, a summary and Jepsen's exit
//! code. Only the clap structs and the run loop live here.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use harness::run::{RunOptions, RunOutcome};
use harness::store::{files, RunDir};
use harness::test::Faults;
use nemesis::FaultList;
use report::torture::TortureRun;
use runtime::exec::RealExec;
use runtime::netns::Registry;
use runtime::ssh::{HostKeyChecking, HostLists, NodesArg, SshNodes};
use targets::bundled::Bug;
use targets::registry::{Launch, TargetSpec};
pub use targets::registry::{TargetKind, TargetOpts, Test};
use workloads::election::{ElectionOpts, Mode};
use workloads::lock::LockOpts;
pub use workloads::spec::WorkloadKind;
use workloads::spec::WorkloadSpec;

use crate::exit;

/// `--concurrency`: a number, or `Nn` for N per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r >= 0.0 => Ok(r),
        _ => Err(format!(
            "expected ops per second, a number at least 0 (0: no limit), got {s:?}"
        )),
    }
}

/// Settings of the lock workload (`--workload lock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
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
}

/// Where the nodes are (Jepsen's flags): a count of namespace nodes on this machine, or
/// SSH hosts with their login options. Parsed and checked by
/// `runtime::ssh::NodesArg::from_flags` and [`NodesArgs::resolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct NodesArgs {
    /// A count of namespace nodes on this machine (default 5, at most 200), or SSH
    /// nodes: a comma-separated host list (h1,h2,…; node n<i> is the i-th host).
    #[arg(long)]
    pub nodes: Option<String>,
    /// SSH nodes from a file: one `HOST [ADDRESS]` per line (ADDRESS: what clients and
    /// peers use when SSH reaches the node elsewhere), `#` comments. Excludes --nodes.
    #[arg(long)]
    pub nodes_file: Option<PathBuf>,
    /// SSH nodes for the workload's own services, beside --nodes (h4,h5,…; named
    /// n<N+1>… after the system's): the election workload runs one candidate on each, so
    /// give --candidates × (number of --candidate-mode) hosts. In a nodes file: the hosts
    /// after a `[service-nodes]` line. `faultline clean` needs them too to clean them.
    #[arg(long)]
    pub service_nodes: Option<String>,
    /// SSH login name (default root; the ssh config's when --ssh-config is given).
    #[arg(long)]
    pub username: Option<String>,
    /// SSH private key (`ssh -i`, only that key is offered).
    #[arg(long)]
    pub ssh_private_key: Option<PathBuf>,
    /// SSH port (default: the ssh config's, or 22).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub ssh_port: Option<u16>,
    /// An ssh_config file (`ssh -F`), e.g. what `vagrant ssh-config` writes.
    #[arg(long)]
    pub ssh_config: Option<PathBuf>,
    /// What ssh does with an unknown or changed host key: yes, no or accept-new
    /// (default yes).
    #[arg(long)]
    pub strict_host_key_checking: Option<HostKeyChecking>,
    /// Run every command on the nodes through `sudo -n` (a login that is not root).
    #[arg(long)]
    pub sudo: bool,
}

/// The most namespace nodes one machine runs.
pub const MAX_NAMESPACE_NODES: u16 = 200;

impl NodesArgs {
    /// `n` namespace nodes.
    pub fn count(n: u16) -> NodesArgs {
        NodesArgs {
            nodes: Some(n.to_string()),
            ..NodesArgs::default()
        }
    }

    /// The node count and, for SSH nodes, how to reach them (reads --nodes-file).
    /// Errors name the flag, or the file and line.
    pub fn resolve(&self) -> Result<(u16, Option<SshNodes>), String> {
        let ssh_flags: Vec<&str> = [
            ("--username", self.username.is_some()),
            ("--ssh-private-key", self.ssh_private_key.is_some()),
            ("--ssh-port", self.ssh_port.is_some()),
            ("--ssh-config", self.ssh_config.is_some()),
            (
                "--strict-host-key-checking",
                self.strict_host_key_checking.is_some(),
            ),
            ("--sudo", self.sudo),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if let (Some(_), Some(_)) = (&self.nodes, &self.nodes_file) {
            return Err("--nodes and --nodes-file exclude each other".into());
        }
        let file = match &self.nodes_file {
            Some(path) => Some((
                path.as_path(),
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--nodes-file {}: {e}", path.display()))?,
            )),
            None => None,
        };
        let arg = NodesArg::from_flags(
            self.nodes.as_deref(),
            file.as_ref().map(|(p, t)| (*p, t.as_str())),
            self.service_nodes.as_deref(),
            &ssh_flags,
        )?;
        match arg {
            NodesArg::Count(n) if n > MAX_NAMESPACE_NODES => Err(format!(
                "--nodes {n}: at most {MAX_NAMESPACE_NODES} namespace nodes"
            )),
            NodesArg::Count(n) => Ok((n, None)),
            NodesArg::Ssh(HostLists {
                nodes,
                service_nodes,
            }) => {
                let count = u16::try_from(nodes.len() + service_nodes.len()).map_err(|_| {
                    format!(
                        "{} SSH nodes are too many",
                        nodes.len() + service_nodes.len()
                    )
                })?;
                // The system's nodes only: what --concurrency 2n and the checkers count.
                let count = count - service_nodes.len() as u16;
                let ssh = SshNodes {
                    nodes,
                    service_nodes,
                    nodes_file: self.nodes_file.clone(),
                    username: self.username.clone(),
                    private_key: self.ssh_private_key.clone(),
                    port: self.ssh_port,
                    ssh_config: self.ssh_config.clone(),
                    strict_host_key_checking: self.strict_host_key_checking.unwrap_or_default(),
                    sudo: self.sudo,
                };
                ssh.validate()?;
                Ok((count, Some(ssh)))
            }
        }
    }
}

/// `--candidate-mode naive,lease,fenced`: the modes that run side by side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateModes(pub Vec<Mode>);

fn parse_candidate_modes(s: &str) -> Result<CandidateModes, String> {
    ElectionOpts::parse_modes(s).map(CandidateModes)
}

/// Settings of the election workload (`--workload election`).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ElectionArgs {
    /// Election workload: candidate services per mode, each on a node of its own.
    #[arg(long, default_value_t = ElectionOpts::default().candidates,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub candidates: u16,
    /// Election workload: the candidates' modes, comma-separated, run side by side
    /// (each its own election): naive, lease, fenced.
    #[arg(long, default_value = "naive,lease,fenced", value_parser = parse_candidate_modes)]
    pub candidate_mode: CandidateModes,
    /// Election workload: the lease each grant carries, in milliseconds.
    #[arg(long, default_value_t = ElectionOpts::default().ttl_ms,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub candidate_ttl_ms: u64,
    /// Election workload: lease mode steps down this long before its own-clock lease
    /// ends, in milliseconds (below the lease).
    #[arg(long, default_value_t = ElectionOpts::default().lease_margin_ms)]
    pub candidate_lease_margin_ms: u64,
}

impl Default for ElectionArgs {
    fn default() -> Self {
        let o = ElectionOpts::default();
        ElectionArgs {
            candidates: o.candidates,
            candidate_mode: CandidateModes(o.modes),
            candidate_ttl_ms: o.ttl_ms,
            candidate_lease_margin_ms: o.lease_margin_ms,
        }
    }
}

impl ElectionArgs {
    pub fn opts(&self) -> ElectionOpts {
        ElectionOpts {
            candidates: self.candidates,
            modes: self.candidate_mode.0.clone(),
            ttl_ms: self.candidate_ttl_ms,
            lease_margin_ms: self.candidate_lease_margin_ms,
            ..ElectionOpts::default()
        }
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
    /// one-way, leader-candidate. SPEC: one, minority, majority, minority-third,
    /// primaries, all, leader-candidate, candidate, or nodes like n1,n3. The
    /// *candidate kinds and specs hit the election workload's candidates; its default
    /// mix includes them.
    #[arg(long, default_value = "default")]
    pub nemesis: FaultList,
    #[command(flatten)]
    pub nodes: NodesArgs,
    /// Client workers: a number, or Nn for N per node.
    #[arg(long, default_value = "2n", value_parser = parse_concurrency)]
    pub concurrency: Concurrency,
    /// Total ops/s over all clients (0: as fast as the system answers).
    #[arg(long, default_value_t = 200.0, value_parser = parse_rate)]
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
    /// Runs, with seeds seed, seed+1, …; the exit code is the worst verdict. With more
    /// than one, a summary table ends the output and STORE/junit.xml holds every run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub test_count: u32,
    /// With --test-count: stop at the first run that fails to start or breaks (harness
    /// error) instead of going on with the next seed.
    #[arg(long)]
    pub fail_fast: bool,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Plant a known bug in a bundled protocol (repeatable); the switch must belong to
    /// --target. See `faultline node raft --help` and `faultline node zab --help`.
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
    #[command(flatten)]
    pub election: ElectionArgs,
    /// Register workload: use this many keys for the whole run (default: concurrency/2
    /// keys at a time, each retired after 100 ops).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub keys: Option<u32>,
}

/// The test these flags ask for, with `seed` (flags → specs → [`Test`]). `Err` names
/// the flag (or the nodes file's line) that cannot be used.
pub fn test_from_args(a: &TestArgs, seed: u64) -> Result<Test, String> {
    let (nodes, ssh) = a.nodes.resolve()?;
    let target = TargetSpec {
        kind: a.target,
        bugs: a.bugs.clone(),
        target_opts: a.target_opts.clone(),
    };
    let workload = WorkloadSpec {
        kind: a.workload,
        lock: a.lock.opts(),
        keys: a.keys,
        election: a.election.opts(),
    };
    let options = RunOptions {
        test: a
            .name
            .clone()
            .unwrap_or_else(|| Test::default_name(&target, &workload)),
        nodes,
        concurrency: a.concurrency.resolve(nodes),
        rate: (a.rate > 0.0).then_some(a.rate),
        time_limit: Duration::from_secs(a.time_limit),
        op_timeout: Duration::from_millis(a.op_timeout_ms),
        recovery_timeout: Duration::from_secs(a.recovery_timeout),
        seed,
        store: a.store.clone(),
        observe_interval: Duration::from_millis(100),
        check_time_limit: Duration::from_secs(a.check_time_limit),
        check_memory_limit: 1 << 30,
        ssh,
    };
    let faults = Faults {
        nemesis: a.nemesis.0.clone(),
        nemesis_interval_s: a.nemesis_interval,
    };
    Ok(Test::new(
        target,
        workload,
        faults,
        options,
        a.name.is_some(),
    ))
}

/// `faultline test`.
pub fn run(args: TestArgs) -> anyhow::Result<u8> {
    let first_seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000)
            .unwrap_or(0)
    });
    let first = match test_from_args(&args, first_seed) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::BAD_INPUT);
        }
    };
    // SSH nodes need no root here: the nodes are other machines.
    if first.options.ssh.is_none() && !nix::unistd::Uid::effective().is_root() {
        eprintln!(
            "error: faultline test needs root: it creates network namespaces, veth pairs and \
             iptables rules inside them (run it with sudo)"
        );
        return Ok(exit::BAD_INPUT);
    }
    if let Err(e) = targets::registry::validate(&first) {
        eprintln!("error: {e}");
        return Ok(exit::BAD_INPUT);
    }
    let shutdown = runtime::netns::cleanup::install_signal_handler(
        Arc::new(RealExec),
        Registry::default(),
        Duration::from_secs(60),
    )
    .context("installing the SIGINT/SIGTERM handler")?;

    let name = first.options.test;
    let mut worst = 0u8;
    let mut runs: Vec<TortureRun> = Vec::new();
    for i in 0..args.test_count {
        let seed = first_seed.wrapping_add(u64::from(i));
        let test = test_from_args(&args, seed).map_err(anyhow::Error::msg)?;
        eprintln!("faultline test {} — seed {seed}", test.options.test);
        eprintln!("  reproduce: {}", test.command);
        let (run, stop) = match run_one(&test, !args.no_progress, Some(shutdown.clone())) {
            Ok(outcome) => {
                print_summary(&test, &outcome);
                let code = match &outcome.harness_error {
                    Some(_) => exit::HARNESS,
                    None => outcome.results.exit_code(),
                };
                worst = worse(worst, code);
                let broke = outcome.harness_error.is_some();
                let stop = outcome.interrupted || (broke && args.fail_fast);
                let run = TortureRun {
                    seed,
                    dir: Some(outcome.dir),
                    harness_error: outcome.harness_error.map(|e| e.to_string()),
                    results: Some(outcome.results),
                    interrupted: outcome.interrupted,
                };
                (run, stop)
            }
            // Not even a run directory: the next seed may still run (another disk, a
            // freed slot), unless the user asked to stop at the first failure.
            Err(e) => {
                eprintln!("harness error: seed {seed}: {e:#}");
                worst = worse(worst, exit::HARNESS);
                let run = TortureRun {
                    seed,
                    dir: None,
                    results: None,
                    harness_error: Some(format!("{e:#}")),
                    interrupted: false,
                };
                (run, args.fail_fast)
            }
        };
        runs.push(run);
        if stop {
            break;
        }
    }
    // A forced exit (a second Ctrl-C) owns the exit code from here.
    shutdown.await_forced_exit();
    if args.test_count > 1 {
        println!();
        println!("{}", report::torture::table(&name, &runs).trim_end());
        let path = args.store.join("junit.xml");
        let written = std::fs::create_dir_all(&args.store)
            .and_then(|()| std::fs::write(&path, report::torture::junit(&name, &runs)));
        match written {
            Ok(()) => println!("junit:     {} (every run × checker)", path.display()),
            Err(e) => {
                eprintln!("harness error: writing {}: {e}", path.display());
                worst = worse(worst, exit::HARNESS);
            }
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

/// Runs one test with its own scheduled faults.
pub fn run_one(
    test: &Test,
    progress: bool,
    shutdown: Option<runtime::netns::cleanup::Shutdown>,
) -> anyhow::Result<RunOutcome> {
    let faults = test
        .faults
        .plan()
        .resolve(test.options.seed)
        .map_err(anyhow::Error::msg)?;
    Ok(targets::registry::run(
        test,
        Launch {
            faults,
            shutdown,
            progress,
            artifacts: report::run_artifacts(),
        },
    )?)
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
    let results = match targets::registry::recheck(&run, &test, &report::RunArtifacts) {
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
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        t: TestArgs,
    }

    fn parse(words: &[&str]) -> TestArgs {
        Cli::parse_from(std::iter::once("x").chain(words.iter().copied())).t
    }

    /// What the printed `reproduce:` command gives back through the real parser.
    fn reparse(test: &Test) -> Test {
        let words = shlex::split(&test.command).expect("the command splits as shell words");
        assert_eq!(&words[..2], ["faultline", "test"], "{}", test.command);
        let again =
            Cli::try_parse_from(std::iter::once("x".to_string()).chain(words[2..].to_vec()))
                .unwrap_or_else(|e| panic!("{}: {e}", test.command));
        let seed = again.t.seed.expect("the command names its seed");
        test_from_args(&again.t, seed).unwrap()
    }

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
    fn the_reproduce_command_parses_back_to_the_same_test() {
        let combos: &[&[&str]] = &[
            &[],
            &[
                "--nemesis",
                "partition:bridge,kill:one",
                "--bug",
                "stale-read",
            ],
            &[
                "--op-timeout-ms",
                "750",
                "--recovery-timeout",
                "45",
                "--check-time-limit",
                "300",
                "--rate",
                "0",
                "--concurrency",
                "3n",
                "--nodes",
                "3",
            ],
            &[
                "--time-limit",
                "15",
                "--nemesis-interval",
                "2",
                "--nemesis",
                "none",
            ],
            &[
                "--bug",
                "forget-vote",
                "--bug",
                "ack-before-commit",
                "--keys",
                "4",
            ],
            &[
                "--workload",
                "lock",
                "--locks",
                "2",
                "--lock-ttl-ms",
                "3000",
                "--lock-max-hold-ms",
                "500",
                "--nemesis",
                "pause:primaries,loss:0.2",
            ],
            &[
                "--target",
                "etcd",
                "--read-mode",
                "serializable",
                "--etcd-bin",
                "/opt/my etcd/etcd",
            ],
            &["--target", "zookeeper", "--zookeeper-dir", "/opt/zk's jars"],
            &[
                "--target",
                "zab",
                "--read-mode",
                "local",
                "--bug",
                "stale-sync",
            ],
            &[
                "--target",
                "zab",
                "--bug",
                "diff-without-trunc",
                "--nemesis",
                "partition:primaries",
            ],
            &["--name", "nightly run #3; (raft)", "--rate", "12.5"],
        ];
        for (i, combo) in combos.iter().enumerate() {
            let args = parse(combo);
            let seed = 1000 + i as u64;
            let test = test_from_args(&args, seed).unwrap();
            assert_eq!(reparse(&test), test, "{combo:?} → {}", test.command);
        }
    }

    #[test]
    fn the_reproduce_command_would_notice_a_missing_option() {
        // The round trip above fails if a behaviour-changing option is left out of the
        // command: drop one and the re-parsed test differs.
        let test = test_from_args(&parse(&["--op-timeout-ms", "750"]), 5).unwrap();
        let mut cut = test.clone();
        cut.command = cut.command.replace(" --op-timeout-ms 750", "");
        assert_ne!(reparse(&cut), test);
    }

    /// A scratch directory with a nodes file, a key and an ssh config, removed on drop.
    struct SshFiles(PathBuf);

    impl SshFiles {
        fn new(tag: &str) -> SshFiles {
            let dir =
                std::env::temp_dir().join(format!("fl-test-cmd-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("nodes.txt"),
                "# the VMs\nn1 192.168.56.101\nn2 192.168.56.102\n\nn3 192.168.56.103\n",
            )
            .unwrap();
            std::fs::write(dir.join("id key"), "not a key").unwrap();
            std::fs::write(dir.join("ssh_config"), "Host n1\n").unwrap();
            SshFiles(dir)
        }

        fn path(&self, name: &str) -> String {
            self.0.join(name).display().to_string()
        }
    }

    impl Drop for SshFiles {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn ssh_nodes_are_stored_and_the_reproduce_command_gives_them_back() {
        let files = SshFiles::new("ssh");
        let (nodes, key, config) = (
            files.path("nodes.txt"),
            files.path("id key"),
            files.path("ssh_config"),
        );
        let list = parse(&["--nodes", "h1,h2,root@10.0.0.3,h4", "--concurrency", "2n"]);
        let test = test_from_args(&list, 3).unwrap();
        assert_eq!((test.options.nodes, test.options.concurrency), (4, 8));
        let ssh = test.options.ssh.as_ref().expect("a host list is SSH nodes");
        assert_eq!(ssh.nodes[2].host.as_str(), "root@10.0.0.3");
        assert_eq!(ssh.config("r").user.as_deref(), Some("root"));
        assert!(
            test.command.contains(" --nodes h1,h2,root@10.0.0.3,h4 "),
            "{}",
            test.command
        );
        assert_eq!(reparse(&test), test);
        let all = parse(&[
            "--nodes-file",
            &nodes,
            "--username",
            "vagrant",
            "--ssh-private-key",
            &key,
            "--ssh-port",
            "2222",
            "--ssh-config",
            &config,
            "--strict-host-key-checking",
            "accept-new",
            "--sudo",
        ]);
        let test = test_from_args(&all, 4).unwrap();
        let ssh = test.options.ssh.as_ref().unwrap();
        assert_eq!(test.options.nodes, 3);
        assert_eq!(
            ssh.nodes[1].addr,
            Some(std::net::Ipv4Addr::new(192, 168, 56, 102))
        );
        let cfg = ssh.config("r");
        assert_eq!(
            (
                cfg.user.as_deref(),
                cfg.port,
                cfg.sudo,
                cfg.host_key_checking
            ),
            (
                Some("vagrant"),
                Some(2222),
                true,
                HostKeyChecking::AcceptNew
            )
        );
        assert_eq!(reparse(&test), test, "{}", test.command);
        // test.json keeps the nodes; a namespace run's has no `ssh` at all.
        let json = serde_json::to_value(&test).unwrap();
        assert_eq!(serde_json::from_value::<Test>(json).unwrap(), test);
        let plain = serde_json::to_value(test_from_args(&parse(&[]), 1).unwrap()).unwrap();
        assert!(plain["options"].get("ssh").is_none(), "{plain}");
    }

    #[test]
    fn service_nodes_are_stored_and_counted_against_the_candidates() {
        let files = SshFiles::new("svc");
        let election = [
            "--workload",
            "election",
            "--candidates",
            "1",
            "--candidate-mode",
            "naive,fenced",
        ];
        let with = |extra: &[&str]| -> Test {
            let words: Vec<&str> = election.iter().chain(extra).copied().collect();
            test_from_args(&parse(&words), 2).unwrap()
        };
        let test = with(&["--nodes", "h1,h2,h3", "--service-nodes", "h4,h5"]);
        assert_eq!(test.options.nodes, 3, "the system's nodes only");
        let ssh = test.options.ssh.as_ref().unwrap();
        assert_eq!(ssh.service_nodes[1].host.as_str(), "h5");
        assert_eq!(test.validate(), Ok(()));
        assert!(
            test.command
                .contains(" --nodes h1,h2,h3 --service-nodes h4,h5"),
            "{}",
            test.command
        );
        assert_eq!(reparse(&test), test, "{}", test.command);
        let json = serde_json::to_value(&test).unwrap();
        assert_eq!(json["options"]["ssh"]["service_nodes"][0]["host"], "h4");
        assert_eq!(serde_json::from_value::<Test>(json).unwrap(), test);

        // From a nodes file's [service-nodes] section, given back as the file.
        let file = files.0.join("election.txt");
        std::fs::write(
            &file,
            "n1 10.0.0.1\nn2\nn3\n[service-nodes]\nn4 10.0.0.4\nn5\n",
        )
        .unwrap();
        let file = file.display().to_string();
        let test = with(&["--nodes-file", &file]);
        let ssh = test.options.ssh.as_ref().unwrap();
        assert_eq!((ssh.nodes.len(), ssh.service_nodes.len()), (3, 2));
        assert_eq!(test.validate(), Ok(()));
        assert!(
            !test.command.contains("--service-nodes"),
            "{}",
            test.command
        );
        assert_eq!(reparse(&test), test, "{}", test.command);

        // One host per candidate, or an error naming both counts and what to change.
        let e = with(&["--nodes", "h1,h2,h3", "--service-nodes", "h4,h5,h6"])
            .validate()
            .unwrap_err()
            .0;
        assert_eq!(
            e,
            "--workload election over SSH runs each of its services on a service host of its \
             own: --candidates 1 × 2 mode(s) (--candidate-mode naive,fenced) = 2 candidates, \
             but --service-nodes names 3 host(s); give --service-nodes 2 host(s), or change \
             --candidates or --candidate-mode to match"
        );
        let e = with(&["--nodes", "h1,h2,h3"]).validate().unwrap_err().0;
        assert!(
            e.contains("= 2 candidates, but no service node is given; give --service-nodes 2"),
            "{e}"
        );
        let short = files.0.join("short.txt");
        std::fs::write(&short, "n1\n[service-nodes]\nn4\n").unwrap();
        let e = with(&["--nodes-file", &short.display().to_string()])
            .validate()
            .unwrap_err()
            .0;
        assert!(
            e.contains("short.txt lists 1 service node(s) after [service-nodes]")
                && e.contains("list 2 host(s) after [service-nodes] in"),
            "{e}"
        );
        // Another workload has no services to put there.
        let e = test_from_args(&parse(&["--nodes", "h1,h2,h3", "--service-nodes", "h4"]), 1)
            .unwrap()
            .validate()
            .unwrap_err()
            .0;
        assert!(
            e.starts_with(
                "--service-nodes names 1 host(s), but --workload register runs no services"
            ),
            "{e}"
        );
        // Namespace runs make their own service nodes.
        let e = test_from_args(&parse(&["--nodes", "3", "--service-nodes", "h4"]), 1).unwrap_err();
        assert!(e.starts_with("--service-nodes is for SSH nodes"), "{e}");
    }

    #[test]
    fn bad_node_flags_are_refused_naming_the_flag_or_the_line() {
        let files = SshFiles::new("sshbad");
        let bad_file = files.0.join("bad.txt");
        std::fs::write(&bad_file, "n1\nn2 not-an-address\n").unwrap();
        let bad_file = bad_file.display().to_string();
        let nodes = files.path("nodes.txt");
        let cases: &[(&[&str], &str)] = &[
            (&["--nodes", "5", "--sudo"], "--sudo is for SSH nodes"),
            (&["--ssh-port", "2222"], "--ssh-port is for SSH nodes"),
            (
                &["--nodes", "3", "--nodes-file", "/nonexistent"],
                "--nodes and --nodes-file exclude each other",
            ),
            (
                &["--nodes", "201"],
                "--nodes 201: at most 200 namespace nodes",
            ),
            (&["--nodes", "0"], "at least 1"),
            (&["--nodes", "n1,,n3"], "--nodes entry 2: empty host name"),
            (&["--nodes", "n1,-oProxyCommand=x"], "--nodes entry 2"),
            (
                &["--nodes", "n1", "--ssh-private-key", "/nonexistent/key"],
                "--ssh-private-key /nonexistent/key: no such file",
            ),
            (
                &["--nodes-file", &nodes, "--username=-oProxyCommand=x"],
                "--username",
            ),
            (
                &["--nodes-file", "/nonexistent/nodes"],
                "--nodes-file /nonexistent/nodes: ",
            ),
            (
                &["--nodes-file", &bad_file],
                ":2: the address \"not-an-address\"",
            ),
        ];
        for (words, expected) in cases {
            let err = test_from_args(&parse(words), 1).unwrap_err();
            assert!(err.contains(expected), "{words:?}: {err}");
        }
        for bad in ["maybe", ""] {
            assert!(
                Cli::try_parse_from(["x", "--nodes", "n1", "--strict-host-key-checking", bad])
                    .is_err(),
                "{bad:?}"
            );
        }
        assert!(Cli::try_parse_from(["x", "--nodes", "n1", "--ssh-port", "0"]).is_err());
    }

    #[test]
    fn the_default_name_and_the_stored_shape() {
        let test = test_from_args(&parse(&["--bug", "stale-read"]), 9).unwrap();
        assert_eq!(test.options.test, "raft-register-stale-read");
        assert_eq!(test.target.bugs, [Bug::Raft(targets::raft::Bug::StaleRead)]);
        assert!(!test.command.contains("--name"));
        // A test.json from before the target options and lock settings still loads.
        let mut json = serde_json::to_value(&test).unwrap();
        let obj = json.as_object_mut().unwrap();
        obj.remove("target_opts");
        obj.remove("lock");
        let old: Test = serde_json::from_value(json).unwrap();
        assert_eq!(old.target.target_opts, TargetOpts::default());
        assert_eq!(old.workload.lock, LockOpts::default());
    }

    #[test]
    fn validation_rejects_what_cannot_run() {
        let long = parse(&[
            "--workload",
            "lock",
            "--lock-ttl-ms",
            "1000",
            "--lock-max-hold-ms",
            "1000",
        ]);
        let err = test_from_args(&long, 1)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("holds of up to 1000 ms must be shorter than the 1000 ms lease"),
            "{err}"
        );
        let zab_bug_on_raft = parse(&["--bug", "stale-sync"]);
        let err = test_from_args(&zab_bug_on_raft, 1)
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--bug stale-sync"), "{err}");
        let sync_on_etcd = parse(&["--target", "etcd", "--read-mode", "sync"]);
        assert!(test_from_args(&sync_on_etcd, 1)
            .unwrap()
            .validate()
            .is_err());
        assert!(Cli::try_parse_from(["x", "--locks", "0"]).is_err());
        assert!(Cli::try_parse_from(["x", "--keys", "0"]).is_err());
        assert!(test_from_args(&parse(&[]), 1).unwrap().validate().is_ok());
        for bad in ["NaN", "inf", "-1", "fast"] {
            assert!(Cli::try_parse_from(["x", "--rate", bad]).is_err(), "{bad}");
        }
    }
}
