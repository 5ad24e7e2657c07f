//! `faultline cluster …` (the sandbox) and `faultline clean`.
//!
//! ```text
//! flags (clap) ──► ClusterArgs ──► Registry (which run) ──► runtime::netns / nemesis
//!   up       Cluster::up + detach: the cluster outlives this process
//!   status   registry + namespaces + processes
//!   exec     one command inside a node's namespace (stdio inherited; its exit code)
//!   spawn    a background program in a node's namespace (own process group, log file)
//!   partition / heal / loss   Nemesis, network faults persisted in <run dir>/faults.json
//!   kill / pause / resume     every process in the chosen nodes' namespaces
//!   reach    TCP echo reachability matrix (this binary serves the echo)
//!   serve-echo / probe        tools for hand checks with `exec` and `spawn`
//!   down     teardown of one run;   faultline clean: everything no live controller owns
//! ```
//!
//! Exit codes: 0 ok, 254 bad input (unknown run, node, spec, address outside
//! 198.18.0.0/15), 255 harness failure; `exec` returns the command's own exit code and
//! `probe` 1 when the address is unreachable.

use std::ffi::OsString;
use std::net::{SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use nemesis::{
    Fault, FaultEvent, FaultKind, FaultOutcome, Nemesis, NetFaults, NodeSpec, PartitionKind,
};
use runtime::exec::RealExec;
use runtime::netns::cleanup::{self, CleanScope};
use runtime::netns::network as netns;
use runtime::netns::{addr, prereq, probe};
use runtime::netns::{Cluster, ClusterConfig, Registry, RunRecord};
use runtime::ssh::{SshCluster, SshNodes};
use runtime::{wait, NodeId, Runtime, ServiceSpec, Signal};

use crate::exit;

/// Name given to a sandbox when `up` gets no `--name`.
pub const DEFAULT_NAME: &str = "sandbox";

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The sandbox run to act on (default: the only one, or `sandbox` for `up`).
    #[arg(long, global = true, value_name = "NAME")]
    name: Option<String>,
    /// SSH nodes to act on instead of a sandbox (`--nodes h1,h2,…` or `--nodes-file`,
    /// with the login flags of `faultline test`), given before the command: status,
    /// exec, partition, loss, heal, kill, pause, resume.
    #[command(flatten)]
    ssh: crate::test_cmd::NodesArgs,
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Create N nodes (network namespaces on a private bridge) and leave them running.
    Up {
        /// Number of nodes (1..=200).
        #[arg(long, short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=200))]
        nodes: u16,
    },
    /// Show sandbox clusters, their nodes, addresses and processes.
    Status,
    /// Run a command inside a node's namespace and wait for it.
    Exec {
        node: NodeId,
        #[arg(last = true, required = true, num_args = 1..)]
        cmd: Vec<OsString>,
    },
    /// Start a program in the background inside a node's namespace.
    Spawn {
        node: NodeId,
        /// Log file (default: <run dir>/nodes/<node>/spawn.log).
        #[arg(long)]
        log: Option<PathBuf>,
        #[arg(last = true, required = true, num_args = 1..)]
        cmd: Vec<OsString>,
    },
    /// Partition the nodes: one, halves, random-halves, majority, minority-third,
    /// majorities-ring, bridge, one-way.
    Partition {
        kind: PartitionKind,
        /// Seed for the random choice of nodes.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Remove every partition and packet loss, and resume paused nodes.
    Heal,
    /// SIGKILL every process on the nodes of SPEC (one, minority, majority,
    /// minority-third, all, or n1,n3).
    Kill {
        spec: NodeSpec,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// SIGSTOP every process on the nodes of SPEC.
    Pause {
        spec: NodeSpec,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// SIGCONT every process on the nodes of SPEC.
    Resume {
        spec: NodeSpec,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Drop a fraction P (0 < P <= 1) of node-to-node packets on the nodes of SPEC.
    Loss {
        spec: NodeSpec,
        #[arg(value_parser = parse_probability)]
        p: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Print who reaches whom over TCP (starts a short-lived echo server on each node).
    Reach {
        #[arg(long, default_value_t = 7999)]
        port: u16,
        /// Per-probe timeout in milliseconds.
        #[arg(long, default_value_t = 500)]
        timeout_ms: u64,
    },
    /// Serve TCP echo on a port in the current namespace (for `spawn`); bounded.
    ServeEcho {
        #[arg(long)]
        port: u16,
        /// Exit after this many seconds.
        #[arg(long, default_value_t = 600)]
        lifetime_secs: u64,
    },
    /// TCP echo round trip to ADDR:PORT (in 198.18.0.0/15) from the current namespace;
    /// exit 0 if it answered, 1 if not (for `exec`).
    Probe {
        to: SocketAddrV4,
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
    },
    /// Tear a sandbox down (namespaces, processes, registry entry).
    Down { name: Option<String> },
}

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Also remove runs whose controller is still alive.
    #[arg(long)]
    all: bool,
    /// Only this run.
    #[arg(long, value_name = "NAME", conflicts_with = "all")]
    run: Option<String>,
    /// SSH nodes to clean (`--nodes h1,h2,…` or `--nodes-file`, with the login flags of
    /// `faultline test`): every run faultline left on them (or only --run) — its
    /// processes, the FAULTLINE chain and its directory. An election run's candidate
    /// hosts are cleaned only when named too: `--service-nodes h4,…` (or in the nodes
    /// file, or simply in --nodes). Without them: namespaces here.
    #[command(flatten)]
    nodes: crate::test_cmd::NodesArgs,
}

fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if p > 0.0 && p <= 1.0 {
        Ok(p)
    } else {
        Err(format!("{p} is not in (0, 1]"))
    }
}

/// Bad input: printed, exit 254.
fn bad(msg: impl std::fmt::Display) -> anyhow::Result<u8> {
    eprintln!("error: {msg}");
    Ok(exit::BAD_INPUT)
}

pub fn run(args: ClusterArgs) -> anyhow::Result<u8> {
    if args.ssh.nodes.is_some() || args.ssh.nodes_file.is_some() {
        return on_ssh(&args.ssh, args.name.as_deref(), args.command);
    }
    let registry = Registry::default();
    match args.command {
        ClusterCommand::ServeEcho {
            port,
            lifetime_secs,
        } => {
            let bind = SocketAddr::from(([0, 0, 0, 0], port));
            probe::serve_echo(bind, 100_000, Duration::from_secs(lifetime_secs))
                .with_context(|| format!("serving echo on {bind}"))?;
            Ok(exit::VALID)
        }
        ClusterCommand::Probe { to, timeout_ms } => {
            if !addr::in_range(*to.ip()) {
                return bad(format!(
                    "{to} is outside 198.18.0.0/15; faultline only probes its own nodes"
                ));
            }
            let ok = probe_here(SocketAddr::V4(to), Duration::from_millis(timeout_ms));
            println!("{to}: {}", if ok { "reachable" } else { "unreachable" });
            Ok(if ok { 0 } else { 1 })
        }
        ClusterCommand::Up { nodes } => {
            let name = args.name.unwrap_or_else(|| DEFAULT_NAME.to_string());
            if let Err(e) = addr::validate_run_name(&name) {
                return bad(e);
            }
            if registry.get(&name).is_ok() {
                return bad(format!(
                    "a run named {name:?} already exists; `faultline cluster down --name {name}` first"
                ));
            }
            let _signals = cleanup::install_signal_handler(
                Arc::new(RealExec),
                registry.clone(),
                Duration::ZERO,
            )?;
            let cluster = Cluster::up_with(ClusterConfig::new(&name, nodes))?;
            let record = cluster.detach()?;
            print_cluster(&record);
            Ok(exit::VALID)
        }
        ClusterCommand::Status => {
            prereq::check(&RealExec)?;
            let runs = registry.list()?;
            if runs.is_empty() {
                println!("no faultline clusters");
            }
            for r in &runs {
                print_cluster(r);
                let owner = match r.owner {
                    None => "detached (sandbox)".to_string(),
                    Some(o) if o.is_alive() => format!("owned by pid {}", o.pid),
                    Some(o) => format!("stale: controller pid {} is gone", o.pid),
                };
                println!("  {owner}");
                let faults = load_faults(&registry, &r.run)?;
                if let Some(g) = &faults.partition {
                    println!("  partition: {g}");
                }
                for (n, p) in &faults.loss {
                    println!("  loss on {n}: {p}");
                }
            }
            Ok(exit::VALID)
        }
        ClusterCommand::Down { name } => {
            prereq::check(&RealExec)?;
            let name = match name.or(args.name) {
                Some(n) => n,
                None => match pick_run(&registry)? {
                    Ok(r) => r.run,
                    Err(msg) => return bad(msg),
                },
            };
            if registry.get(&name).is_err() && namespaces_of(&name).is_empty() {
                return bad(format!("no cluster named {name:?}"));
            }
            let report = cleanup::clean(&RealExec, &registry, &CleanScope::Run(name.clone()));
            if let Some(e) = report.errors.first() {
                bail!("tearing down {name}: {e}");
            }
            println!("{name}: down");
            Ok(exit::VALID)
        }
        command => {
            prereq::check(&RealExec)?;
            let record = match args.name {
                Some(n) => match registry.get(&n) {
                    Ok(r) => r,
                    Err(_) => return bad(format!("no cluster named {n:?}")),
                },
                None => match pick_run(&registry)? {
                    Ok(r) => r,
                    Err(msg) => return bad(msg),
                },
            };
            on_run(&registry, record, command)
        }
    }
}

/// The only run in the registry, or a message saying which to choose.
fn pick_run(registry: &Registry) -> anyhow::Result<Result<RunRecord, String>> {
    let mut runs = registry.list()?;
    Ok(match runs.len() {
        0 => Err("no faultline cluster; start one with `faultline cluster up`".to_string()),
        1 => Ok(runs.remove(0)),
        _ => {
            let names: Vec<String> = runs.into_iter().map(|r| r.run).collect();
            Err(format!(
                "several clusters exist ({}); choose one with --name",
                names.join(", ")
            ))
        }
    })
}

fn namespaces_of(run: &str) -> Vec<String> {
    netns::existing_namespaces()
        .into_iter()
        .filter(|ns| addr::run_of_ns(ns) == Some(run))
        .collect()
}

fn print_cluster(r: &RunRecord) {
    println!(
        "cluster {} ({} nodes, slot {}, control {} in {})",
        r.run,
        r.nodes,
        r.slot,
        addr::control_addr(r.slot),
        addr::control_ns(&r.run)
    );
    for i in 1..=r.nodes {
        let ns = addr::node_ns(&r.run, i);
        let procs = netns::pids_in(&ns).len();
        println!(
            "  n{i}  {:<15}  {ns}  {procs} process(es)",
            addr::node_addr(r.slot, i).to_string()
        );
    }
}

fn faults_path(registry: &Registry, run: &str) -> PathBuf {
    registry.run_dir(run).join("faults.json")
}

/// The network faults the sandbox installed earlier. A missing file means none; a
/// file that cannot be read or parsed is an error naming it (never silently forgotten:
/// the next heal would leave its rules in place).
fn load_faults(registry: &Registry, run: &str) -> anyhow::Result<NetFaults> {
    let path = faults_path(registry, run);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(NetFaults::default()),
        Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
    };
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: not the sandbox's fault record (remove it, then `faultline cluster heal`)",
            path.display()
        )
    })
}

fn save_faults(registry: &Registry, run: &str, f: &NetFaults) -> anyhow::Result<()> {
    let path = faults_path(registry, run);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(f)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// The nemesis over an attached sandbox: kill and pause reach every process in the
/// chosen nodes' namespaces (the runtime does that for a cluster it did not start).
fn sandbox_nemesis(cluster: &Arc<Cluster>, seed: u64) -> Nemesis {
    Nemesis::new(cluster.clone(), seed)
}

/// Prints an event; Installed → 0, Skipped → 254 (nothing done), Indeterminate → 255.
fn report(e: &FaultEvent) -> u8 {
    println!("{e}");
    match e.outcome {
        FaultOutcome::Installed => exit::VALID,
        FaultOutcome::Skipped(_) => exit::BAD_INPUT,
        FaultOutcome::Indeterminate(_) => exit::HARNESS,
    }
}

fn on_run(registry: &Registry, record: RunRecord, command: ClusterCommand) -> anyhow::Result<u8> {
    let cluster = Arc::new(Cluster::attach(registry, &record.run)?);
    let check_node = |n: NodeId| -> Result<(), String> {
        if n.index() > record.nodes {
            Err(format!(
                "{} has no node {n} (it has n1..n{})",
                record.run, record.nodes
            ))
        } else {
            Ok(())
        }
    };
    match command {
        ClusterCommand::Exec { node, cmd } => {
            if let Err(m) = check_node(node) {
                return bad(m);
            }
            let ns = cluster.member(node)?.ns.clone();
            let fd = runtime::exec::open_netns(&ns)?;
            let mut command = std::process::Command::new(&cmd[0]);
            command.args(&cmd[1..]);
            runtime::exec::pre_exec_enter(&mut command, Some(&fd), false);
            let status = command
                .status()
                .with_context(|| format!("running {:?} in {node}", cmd[0]))?;
            Ok(match status.code() {
                Some(c) => c.clamp(0, 255) as u8,
                None => {
                    use std::os::unix::process::ExitStatusExt;
                    128u8.saturating_add(status.signal().unwrap_or(0) as u8)
                }
            })
        }
        ClusterCommand::Spawn { node, log, cmd } => {
            if let Err(m) = check_node(node) {
                return bad(m);
            }
            let dir = cluster.node_dir(node)?;
            let log = log.unwrap_or_else(|| dir.join("spawn.log"));
            let pid = cluster.start_service(node, ServiceSpec::new(cmd, &dir, &log))?;
            println!(
                "{node}: started pid {pid} (process group {pid}), log {}",
                log.display()
            );
            Ok(exit::VALID)
        }
        ClusterCommand::Partition { kind, seed } => {
            if kind == PartitionKind::Primaries {
                return bad("`primaries` needs to know the leader, which only `faultline test` targets can tell");
            }
            let mut nem = sandbox_nemesis(&cluster, seed)
                .with_net_faults(load_faults(registry, &record.run)?);
            let e = nem.start(&Fault::Partition { kind });
            save_faults(registry, &record.run, &nem.net_faults())?;
            Ok(report(&e))
        }
        ClusterCommand::Loss { spec, p, seed } => {
            if let NodeSpec::Nodes(set) = &spec {
                if let Some(m) = set.iter().find_map(|n| check_node(*n).err()) {
                    return bad(m);
                }
            }
            if spec == NodeSpec::Primaries {
                return bad("`primaries` needs a leader query; name the nodes instead (n1,n2)");
            }
            let mut nem = sandbox_nemesis(&cluster, seed)
                .with_net_faults(load_faults(registry, &record.run)?);
            let e = nem.start(&Fault::Loss { p, nodes: spec });
            save_faults(registry, &record.run, &nem.net_faults())?;
            Ok(report(&e))
        }
        ClusterCommand::Heal => {
            let mut nem =
                sandbox_nemesis(&cluster, 0).with_net_faults(load_faults(registry, &record.run)?);
            let mut code = report(&nem.stop(FaultKind::Partition));
            code = code.max(report(&nem.stop(FaultKind::Loss)));
            save_faults(registry, &record.run, &nem.net_faults())?;
            for n in cluster.members() {
                let resumed = netns::pause_all_in(&n.ns, false)
                    .map_err(|e| anyhow::anyhow!("resuming {}: {e}", n.id))?;
                if resumed > 0 {
                    println!("{}: SIGCONT to {resumed} process(es)", n.id);
                }
            }
            Ok(code)
        }
        ClusterCommand::Kill { spec, seed }
        | ClusterCommand::Pause { spec, seed }
        | ClusterCommand::Resume { spec, seed }
            if spec == NodeSpec::Primaries =>
        {
            let _ = seed;
            bad("`primaries` needs a leader query; name the nodes instead (n1,n2)")
        }
        ClusterCommand::Kill { spec, seed } => {
            if let Some(m) = spec_nodes_error(&spec, &check_node) {
                return bad(m);
            }
            let mut nem = sandbox_nemesis(&cluster, seed);
            Ok(report(&nem.start(&Fault::Kill { nodes: spec })))
        }
        ClusterCommand::Pause { spec, seed } => {
            if let Some(m) = spec_nodes_error(&spec, &check_node) {
                return bad(m);
            }
            let mut nem = sandbox_nemesis(&cluster, seed);
            Ok(report(&nem.start(&Fault::Pause { nodes: spec })))
        }
        ClusterCommand::Resume { spec, seed } => {
            if let Some(m) = spec_nodes_error(&spec, &check_node) {
                return bad(m);
            }
            let nodes = sandbox_nemesis(&cluster, seed).resolve(&spec);
            for n in nodes {
                let count = netns::pause_all_in(&cluster.member(n)?.ns, false)
                    .map_err(|e| anyhow::anyhow!("resuming {n}: {e}"))?;
                println!("{n}: SIGCONT to {count} process(es)");
            }
            Ok(exit::VALID)
        }
        ClusterCommand::Reach { port, timeout_ms } => reach(&cluster, port, timeout_ms),
        ClusterCommand::Up { .. }
        | ClusterCommand::Status
        | ClusterCommand::Down { .. }
        | ClusterCommand::ServeEcho { .. }
        | ClusterCommand::Probe { .. } => unreachable!("handled before a run is chosen"),
    }
}

fn spec_nodes_error(
    spec: &NodeSpec,
    check: &dyn Fn(NodeId) -> Result<(), String>,
) -> Option<String> {
    match spec {
        NodeSpec::Nodes(set) => set.iter().find_map(|n| check(*n).err()),
        _ => None,
    }
}

/// A TCP echo round trip from the current namespace.
fn probe_here(to: SocketAddr, timeout: Duration) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&to, timeout) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let msg = b"faultline-probe\n";
    let mut buf = [0u8; 16];
    s.write_all(msg).is_ok() && s.read_exact(&mut buf).is_ok() && &buf == msg
}

/// Starts `faultline cluster serve-echo` on every node, prints the matrix, stops them.
fn reach(cluster: &Cluster, port: u16, timeout_ms: u64) -> anyhow::Result<u8> {
    let exe = std::env::current_exe().context("finding the faultline binary")?;
    let mut started = Vec::new();
    for n in cluster.nodes() {
        let dir = cluster.node_dir(n.id)?;
        let spec = ServiceSpec::new(
            [
                exe.clone().into_os_string(),
                "cluster".into(),
                "serve-echo".into(),
                "--port".into(),
                port.to_string().into(),
                "--lifetime-secs".into(),
                "60".into(),
            ],
            &dir,
            dir.join("reach-echo.log"),
        );
        cluster.start_service(n.id, spec)?;
        started.push(n.id);
    }
    let result = (|| -> anyhow::Result<probe::Matrix> {
        for n in &started {
            // Waits from inside the node itself: the control namespace may be fine while
            // a partition hides the node from its peers.
            let ns = cluster.member(*n)?.ns.clone();
            let to = SocketAddr::from((cluster.addr(*n)?, port));
            wait::poll_until(Duration::from_secs(10), &format!("echo on {n}"), || {
                wait::connect_from(&ns, to, Duration::from_millis(200))
                    .ok()
                    .map(|_| ())
            })?;
        }
        Ok(cluster.reachability(port, Duration::from_millis(timeout_ms)))
    })();
    for n in &started {
        if let Err(e) = cluster.kill(*n) {
            eprintln!("warning: stopping echo on {n}: {e}");
        }
    }
    print!("{}", probe::render(&result?));
    Ok(exit::VALID)
}

pub fn clean(args: CleanArgs) -> anyhow::Result<u8> {
    if args.nodes.nodes.is_some() || args.nodes.nodes_file.is_some() {
        return clean_ssh(&args);
    }
    prereq::check(&RealExec)?;
    let scope = match (args.all, args.run) {
        (_, Some(run)) => CleanScope::Run(run),
        (true, None) => CleanScope::All,
        (false, None) => CleanScope::Unowned,
    };
    let report = cleanup::clean(&RealExec, &Registry::default(), &scope);
    for r in &report.runs {
        println!("removed run {r}");
    }
    for ns in &report.orphan_namespaces {
        println!("removed orphan namespace {ns}");
    }
    if report.runs.is_empty() && report.orphan_namespaces.is_empty() {
        println!("nothing to clean");
    }
    if let Some(e) = report.errors.first() {
        bail!("clean: {e} ({} error(s))", report.errors.len());
    }
    Ok(exit::VALID)
}

/// `faultline clean --nodes h1,…`: what runs left on SSH nodes (also after a SIGKILLed
/// controller): their process groups (pidfiles of this boot), the `FAULTLINE` chain and
/// their directories. The binary cache stays. Must not run beside a live test on the
/// same nodes unless `--run` names another run.
fn clean_ssh(args: &CleanArgs) -> anyhow::Result<u8> {
    let ssh = match ssh_nodes(&args.nodes, "clean") {
        Ok(ssh) => ssh,
        Err(e) => return bad(e),
    };
    if let Some(run) = &args.run {
        if let Err(e) = addr::validate_run_name(run) {
            return bad(format!("--run: {e}"));
        }
    }
    let cluster = match SshCluster::attach_with(&ssh.config("clean"), None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::HARNESS);
        }
    };
    let mut code = exit::VALID;
    for (node, report) in cluster.clean(args.run.as_deref()) {
        match report {
            Ok(r) if r.groups.is_empty() && r.dirs.is_empty() => {
                println!("{node}: nothing to clean")
            }
            Ok(r) => {
                for g in &r.groups {
                    println!("{node}: killed process group {g}");
                }
                for d in &r.dirs {
                    println!("{node}: removed {}", d.display());
                }
            }
            Err(e) => {
                eprintln!("error: {node}: {e}");
                code = exit::HARNESS;
            }
        }
    }
    Ok(code)
}

/// The SSH nodes of `--nodes h1,…` / `--nodes-file` for `faultline WHAT`; a count is
/// refused (namespaces have their own commands).
fn ssh_nodes(flags: &crate::test_cmd::NodesArgs, what: &str) -> Result<SshNodes, String> {
    match flags.resolve()? {
        (_, Some(ssh)) => Ok(ssh),
        (n, None) => Err(format!(
            "{what} --nodes {n}: give SSH hosts (h1,h2,… or --nodes-file); without --nodes, \
             {what} works on this machine's namespaces"
        )),
    }
}

/// `faultline cluster --nodes h1,… [--name RUN] COMMAND`: the sandbox's commands on SSH
/// nodes, through the same [`Runtime`] a test uses. Nothing is owned: services are the
/// groups runs left (their pidfiles of this boot; only run RUN's with `--name`), and a
/// network fault replaces the nodes' `FAULTLINE` chain (there is no sandbox record to
/// compose faults in).
fn on_ssh(
    flags: &crate::test_cmd::NodesArgs,
    run: Option<&str>,
    command: ClusterCommand,
) -> anyhow::Result<u8> {
    let ssh = match ssh_nodes(flags, "cluster") {
        Ok(ssh) => ssh,
        Err(e) => return bad(e),
    };
    if let Some(run) = run {
        if let Err(e) = addr::validate_run_name(run) {
            return bad(format!("--name: {e}"));
        }
    }
    match &command {
        ClusterCommand::Status
        | ClusterCommand::Exec { .. }
        | ClusterCommand::Partition { .. }
        | ClusterCommand::Loss { .. }
        | ClusterCommand::Heal
        | ClusterCommand::Kill { .. }
        | ClusterCommand::Pause { .. }
        | ClusterCommand::Resume { .. } => {}
        ClusterCommand::Up { .. }
        | ClusterCommand::Down { .. }
        | ClusterCommand::Spawn { .. }
        | ClusterCommand::Reach { .. }
        | ClusterCommand::ServeEcho { .. }
        | ClusterCommand::Probe { .. } => {
            return bad(
                "up, down, spawn, reach, serve-echo and probe are for namespace sandboxes; \
                 on SSH nodes: status, exec, partition, loss, heal, kill, pause, resume",
            )
        }
    }
    let cluster = match SshCluster::attach_with(&ssh.config("cluster"), None) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::HARNESS);
        }
    };
    // The service hosts (--service-nodes) are nodes here too: exec, kill, pause,
    // resume and heal reach them; partitions split the system's nodes only.
    let n = cluster.members().len();
    let check_node = |id: NodeId| -> Result<(), String> {
        if usize::from(id.index()) > n {
            Err(format!("no node {id} (the hosts are n1..n{n})"))
        } else {
            Ok(())
        }
    };
    let rt: Arc<dyn Runtime> = cluster.clone();
    let signal_all = |nodes: Vec<NodeId>, signal: Signal| -> anyhow::Result<u8> {
        for id in nodes {
            let mut signalled = 0;
            for pgid in cluster.run_groups(id, run)? {
                if cluster.signal_group(id, pgid, signal)? {
                    signalled += 1;
                }
            }
            println!("{id}: {} to {signalled} process group(s)", signal.name());
        }
        Ok(exit::VALID)
    };
    match command {
        ClusterCommand::Status => {
            for m in cluster.members() {
                let groups = cluster.run_groups(m.id, run)?;
                let chain = cluster
                    .exec(
                        m.id,
                        &runtime::Cmd::new("iptables").args(["-w", "5", "-n", "-L", "FAULTLINE"]),
                    )?
                    .success();
                println!(
                    "{} {} {}: service groups {:?}, FAULTLINE chain {}",
                    m.id,
                    m.host,
                    m.addr,
                    groups,
                    if chain { "present" } else { "absent" }
                );
            }
            Ok(exit::VALID)
        }
        ClusterCommand::Exec { node, cmd } => {
            if let Err(m) = check_node(node) {
                return bad(m);
            }
            let out = cluster.exec(node, &runtime::Cmd::new(&cmd[0]).args(&cmd[1..]))?;
            use std::io::Write;
            std::io::stdout().write_all(&out.stdout)?;
            std::io::stderr().write_all(&out.stderr)?;
            Ok(out.code.map_or(255, |c| c.clamp(0, 255) as u8))
        }
        ClusterCommand::Partition { kind, seed } => {
            if kind == PartitionKind::Primaries {
                return bad("`primaries` needs to know the leader, which only `faultline test` targets can tell");
            }
            Ok(report(
                &Nemesis::new(rt, seed).start(&Fault::Partition { kind }),
            ))
        }
        ClusterCommand::Loss { spec, p, seed } => {
            if let Some(m) = spec_nodes_error(&spec, &check_node) {
                return bad(m);
            }
            if spec == NodeSpec::Primaries {
                return bad("`primaries` needs a leader query; name the nodes instead (n1,n2)");
            }
            Ok(report(
                &Nemesis::new(rt, seed).start(&Fault::Loss { p, nodes: spec }),
            ))
        }
        ClusterCommand::Heal => {
            let all: Vec<NodeId> = cluster.members().iter().map(|m| m.id).collect();
            for id in &all {
                cluster.clear_filter(*id)?;
            }
            println!("healed: every FAULTLINE chain removed");
            signal_all(all, Signal::Cont)
        }
        ClusterCommand::Kill { spec, seed }
        | ClusterCommand::Pause { spec, seed }
        | ClusterCommand::Resume { spec, seed }
            if spec == NodeSpec::Primaries =>
        {
            let _ = seed;
            bad("`primaries` needs a leader query; name the nodes instead (n1,n2)")
        }
        ClusterCommand::Kill { spec, seed } => {
            if let Some(m) = spec_nodes_error(&spec, &check_node) {
                return bad(m);
            }
            let nodes = Nemesis::new(rt, seed).resolve(&spec).into_iter().collect();
            signal_all(nodes, Signal::Kill)
        }
        ClusterCommand::Pause { spec, seed } => {
            if let Some(m) = spec_nodes_error(&spec, &check_node) {
                return bad(m);
            }
            let nodes = Nemesis::new(rt, seed).resolve(&spec).into_iter().collect();
            signal_all(nodes, Signal::Stop)
        }
        ClusterCommand::Resume { spec, seed } => {
            if let Some(m) = spec_nodes_error(&spec, &check_node) {
                return bad(m);
            }
            let nodes = Nemesis::new(rt, seed).resolve(&spec).into_iter().collect();
            signal_all(nodes, Signal::Cont)
        }
        _ => unreachable!("refused above"),
    }
}
