//! `faultline test` and `faultline clean` over SSH, end to end through the binary,
//! against real OpenSSH servers: each node of a namespace cluster runs Debian's sshd
//! (`runtime::ssh::testbed`), and the `faultline` under test runs inside that cluster's
//! control namespace (`ip netns exec`), so its `ssh` masters and its clients reach the
//! nodes' 198.18.x.y addresses while the host's interfaces, routes and iptables stay
//! untouched. Needs root and `openssh-server` (scripts/setup.sh); CI is root.
//!
//! Every run lives under `/var/lib/faultline/<run>/` on the nodes (one shared file
//! system here); each test checks that nothing of its run is left there, in the nodes'
//! `FAULTLINE` chains or in their process tables, and that the bed's namespaces go.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use runtime::ssh::testbed::SshBed;
use runtime::ssh::SshNodes;
use runtime::Runtime;

const ROOT: &str = "/var/lib/faultline";

fn run_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "c{:x}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn bed(tag: &str, n: u16) -> SshBed {
    SshBed::up(&run_name(tag), n).unwrap_or_else(|e| panic!("ssh bed: {e}"))
}

/// The bed's namespaces go, and none is left.
fn bed_down(bed: SshBed) {
    let run = bed.cluster.record().run.clone();
    bed.down().expect("bed down");
    let left: Vec<String> = runtime::netns::network::existing_namespaces()
        .into_iter()
        .filter(|ns| runtime::netns::addr::run_of_ns(ns) == Some(run.as_str()))
        .collect();
    assert!(left.is_empty(), "namespaces left: {left:?}");
}

/// `faultline ARGS` inside the bed's control namespace, with the bed's SSH flags.
fn command(bed: &SshBed, args: &[&str]) -> Command {
    command_to(bed, &bed.nodes(), args)
}

/// `faultline ARGS` inside the bed's control namespace, reaching `nodes`.
fn command_to(bed: &SshBed, nodes: &SshNodes, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &bed.cluster.control_ns()])
        .arg(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .args(nodes.command_words())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// One test's SSH bed and scratch store: `faultline test` runs in the bed's control
/// namespace against the bed's sshd nodes and keeps its runs in the store.
struct Fixture {
    bed: SshBed,
    store: PathBuf,
    /// How `faultline` reaches the bed: every node a system node, or the last ones
    /// service nodes ([`Fixture::with_service_nodes`]).
    nodes: SshNodes,
}

impl Fixture {
    /// A bed of `n` nodes named after `tag`, and an empty store.
    fn up(tag: &str, n: u16) -> Fixture {
        let bed = bed(tag, n);
        let nodes = bed.nodes();
        Fixture {
            bed,
            store: scratch(tag),
            nodes,
        }
    }

    /// The bed's last `k` nodes become `--service-nodes`.
    fn with_service_nodes(mut self, k: usize) -> Fixture {
        self.nodes = self.bed.nodes_with_services(k);
        self
    }

    /// `faultline ARGS --store STORE --no-progress` and the node flags, started.
    fn spawn(&self, args: &[&str]) -> Child {
        let store = self.store.to_str().expect("a UTF-8 path");
        let mut all = args.to_vec();
        all.extend(["--store", store, "--no-progress"]);
        command_to(&self.bed, &self.nodes, &all)
            .spawn()
            .expect("faultline starts")
    }

    /// [`Fixture::spawn`], waited for up to `limit`: its output and the run's directory.
    fn run(&self, args: &[&str], limit: Duration) -> (Output, PathBuf) {
        let out = wait(self.spawn(args), limit);
        (out, self.latest())
    }

    /// The directory of the store's latest run.
    fn latest(&self) -> PathBuf {
        std::fs::canonicalize(self.store.join("latest")).expect("store/latest names a run")
    }

    /// Polls (up to `limit`) until some node has a `FAULTLINE` chain: a partition is in
    /// force.
    fn await_partition(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline
            && !self.bed.cluster.node_ids().iter().any(|n| {
                self.bed
                    .iptables_in(*n, &["-n", "-L", "FAULTLINE"])
                    .unwrap()
                    .success()
            })
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The store goes, then the bed (none of its namespaces is left).
    fn down(self) {
        std::fs::remove_dir_all(&self.store).unwrap();
        bed_down(self.bed);
    }
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fl-cli-ssh-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn results(run: &Path) -> serde_json::Value {
    let bytes = std::fs::read(run.join("results.json")).expect("results.json");
    serde_json::from_slice(&bytes).expect("results.json is JSON")
}

/// The run name the controller gave its nodes (`cluster <run> up …` in its log).
fn node_run(run_dir: &Path) -> String {
    let log = std::fs::read_to_string(run_dir.join("faultline.log")).expect("faultline.log");
    log.lines()
        .find_map(|l| l.split("cluster ").nth(1)?.split(" up in").next())
        .unwrap_or_else(|| panic!("no `cluster … up` line in {log}"))
        .to_string()
}

/// What of `run` is on the nodes: its directory, a FAULTLINE chain, a process whose
/// command line names the run's directory.
fn leftovers(bed: &SshBed, run: &str) -> Vec<String> {
    let mut left = Vec::new();
    let dir = Path::new(ROOT).join(run);
    if dir.exists() {
        left.push(format!("{} left on the nodes", dir.display()));
    }
    for n in bed.cluster.node_ids() {
        let chain = bed.iptables_in(n, &["-n", "-L", "FAULTLINE"]).unwrap();
        if chain.success() {
            left.push(format!("{n}: the FAULTLINE chain is left"));
        }
    }
    let ps = Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .expect("ps runs");
    let needle = dir.display().to_string();
    left.extend(
        String::from_utf8_lossy(&ps.stdout)
            .lines()
            .filter(|l| l.contains(&needle))
            .map(|l| format!("process of {run} left: {l}")),
    );
    left
}

/// Nothing of `run` on the nodes: no directory, no FAULTLINE chain, no process whose
/// command line names the run's directory.
fn assert_nothing_left(bed: &SshBed, run: &str) {
    let left = leftovers(bed, run);
    assert!(left.is_empty(), "{left:#?}");
}

/// [`assert_nothing_left`], allowing `limit` for remote commands that were cut off with
/// their SSH session (a forced exit) to end.
fn assert_nothing_left_within(bed: &SshBed, run: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline && !leftovers(bed, run).is_empty() {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_nothing_left(bed, run);
}

/// Waits for `child` with a deadline; kills it when the deadline passes.
fn wait(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("faultline did not finish within {limit:?}: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls the store until the run's history holds an op; the time since `since`.
fn first_op(store: &Path, since: Instant, limit: Duration) -> Option<Duration> {
    while since.elapsed() < limit {
        let history = std::fs::canonicalize(store.join("latest"))
            .ok()
            .map(|d| d.join("history.jsonl"));
        if let Some(bytes) = history.and_then(|h| std::fs::read(h).ok()) {
            if bytes.contains(&b'\n') {
                return Some(since.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn ssh_flags_that_cannot_work_exit_254_naming_the_flag() {
    let bin = env!("CARGO_BIN_EXE_faultline");
    let cases: &[(&[&str], &str)] = &[
        (
            &["test", "--nodes", "5", "--sudo"],
            "--sudo is for SSH nodes",
        ),
        (
            &["test", "--nodes", "n1,n2", "--nodes-file", "x"],
            "--nodes and --nodes-file exclude each other",
        ),
        (
            &["test", "--nodes-file", "/nonexistent/nodes.txt"],
            "--nodes-file /nonexistent/nodes.txt",
        ),
        (
            &[
                "test",
                "--nodes",
                "n1",
                "--ssh-private-key",
                "/nonexistent/k",
            ],
            "--ssh-private-key /nonexistent/k: no such file",
        ),
        (&["clean", "--nodes", "3"], "give SSH hosts"),
        // Service hosts: one per candidate, SSH only, only for a workload with services.
        (
            &[
                "test",
                "--workload",
                "election",
                "--candidates",
                "1",
                "--candidate-mode",
                "naive,fenced",
                "--nodes",
                "n1,n2,n3",
                "--service-nodes",
                "n4",
            ],
            "= 2 candidates, but --service-nodes names 1 host(s); give --service-nodes 2",
        ),
        (
            &["test", "--nodes", "n1", "--service-nodes", "n2"],
            "but --workload register runs no services of its own",
        ),
        (
            &["test", "--nodes", "3", "--service-nodes", "n4"],
            "--service-nodes is for SSH nodes",
        ),
        (
            &["test", "--nodes", "n1,n2", "--service-nodes", "n2"],
            "--service-nodes entry 1: n2 is already --nodes entry 2",
        ),
        (
            &["clean", "--nodes", "n1", "--run", "../etc"],
            "--run: run name",
        ),
    ];
    for (args, expected) in cases {
        let out = Command::new(bin).args(*args).output().expect("runs");
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn ssh_unreachable_nodes_are_a_harness_error_naming_the_node() {
    let bed = bed("sshunreach", 1);
    let store = scratch("unreach");
    // n2: an address of the bed's subnet where nothing answers.
    let nobody = runtime::netns::addr::node_addr(bed.cluster.slot(), 9);
    let out = Command::new("ip")
        .args(["netns", "exec", &bed.cluster.control_ns()])
        .arg(env!("CARGO_BIN_EXE_faultline"))
        .args(["test", "--time-limit", "5", "--no-progress", "--store"])
        .arg(&store)
        .args(["--nodes", &format!("n1,{nobody}")])
        .arg("--ssh-config")
        .arg(bed.dir.join("ssh_config"))
        .args(["--strict-host-key-checking", "accept-new"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("reaching 2 SSH nodes: n2: cannot reach the node"),
        "{all}"
    );
    // The artifacts are kept.
    let run = std::fs::canonicalize(store.join("latest")).expect("a run directory");
    assert!(run.join("results.json").exists());
    let _ = std::fs::remove_dir_all(&store);
    bed_down(bed);
}

/// The bundled Raft's run through SSH nodes is valid, collects the nodes' logs into the
/// store and leaves nothing on the nodes; the time to the first op is printed beside the
/// same run on namespace nodes.
#[test]
fn ssh_a_raft_run_is_valid_and_leaves_nothing_on_the_nodes() {
    let f = Fixture::up("sshraft", 3);
    let args = [
        "test",
        "--time-limit",
        "8",
        "--nemesis",
        "partition,kill",
        "--nemesis-interval",
        "2",
        "--seed",
        "7",
    ];
    let started = Instant::now();
    let child = f.spawn(&args);
    let to_first_op = first_op(&f.store, started, Duration::from_secs(120));
    let out = wait(child, Duration::from_secs(300));
    let total = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = f.latest();
    assert_eq!(results(&run)["valid"], "valid");
    let test: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["options"]["ssh"]["nodes"][2]["host"], "n3", "{test}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("--nodes n1,n2,n3 --ssh-config"),
        "the reproduce command names the hosts: {stdout}"
    );
    // Each node's service log came back from the node.
    for n in 1..=3 {
        let dir = run.join("nodes").join(format!("n{n}"));
        let logs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .collect();
        assert!(!logs.is_empty(), "no log collected from n{n}");
        // And its data, as a namespace node keeps it in the store.
        let state = dir.join("data/hardstate.json");
        assert!(state.exists(), "{} came back", state.display());
        assert!(!dir.join("service.pid").exists(), "no stale pidfile");
    }
    let node_run = node_run(&run);
    assert_nothing_left(&f.bed, &node_run);
    eprintln!(
        "ssh raft run (3 nodes): first op after {:?}, whole run {:.1} s",
        to_first_op,
        total.as_secs_f64()
    );
    f.down();
}

/// Issue 18 over SSH: the election workload's candidates run on service hosts of their
/// own (`--service-nodes n4,n5`: one per candidate, `--candidates 1` × two modes), reach
/// the bundled Raft on n1..n3 and report to the fenced resource on the controller; the
/// nemesis pauses leading candidates on their hosts, never a Raft node; the four
/// election checks run; the candidates' logs come back from their hosts; nothing of the
/// run is left on any of the five. The time to the first candidate report is printed.
#[test]
fn ssh_an_election_runs_its_candidates_on_service_hosts() {
    let f = Fixture::up("sshelect", 5).with_service_nodes(2);
    let started = Instant::now();
    let child = f.spawn(&[
        "test",
        "--workload",
        "election",
        "--candidates",
        "1",
        "--candidate-mode",
        "naive,fenced",
        "--candidate-ttl-ms",
        "1000",
        "--candidate-lease-margin-ms",
        "200",
        "--time-limit",
        "12",
        "--nemesis",
        "pause:leader-candidate",
        "--nemesis-interval",
        "3",
        "--seed",
        "18",
    ]);
    let first_report = first_op(&f.store, started, Duration::from_secs(180));
    let out = wait(child, Duration::from_secs(400));
    let total = started.elapsed();
    // Naive mode may split (exit 1); anything else is a broken run.
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        text(&out)
    );
    let run = f.latest();
    let r = results(&run);
    let checker = |name: &str| -> serde_json::Value {
        r["checkers"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("no {name} checker: {r}"))
            .clone()
    };
    for name in [
        "application-split-brain",
        "stale-writes",
        "election-tokens",
        "election-failover",
    ] {
        assert_ne!(checker(name)["valid"], "unknown", "{name}: {r}");
    }
    assert_eq!(checker("election-tokens")["valid"], "valid");
    let junit = std::fs::read_to_string(run.join("junit.xml")).expect("junit.xml");
    for case in ["application-split-brain", "stale-writes", "election-tokens"] {
        assert!(junit.contains(&format!("name=\"{case}\"")), "{junit}");
    }
    // Each candidate (c1 on n4, c2 on n5) reported and had writes accepted; fencing held.
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let ops: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    for c in ["c1", "c2"] {
        let accepted = ops
            .iter()
            .filter(|op| {
                op["type"] == "ok"
                    && op["f"] == "write"
                    && op["value"]["candidate"] == c
                    && op["value"]["outcome"] == "accepted"
            })
            .count();
        assert!(accepted > 5, "{c}: {accepted} writes accepted");
    }
    for m in checker("stale-writes")["details"]["modes"]
        .as_array()
        .expect("a report per mode")
    {
        if m["mode"] == "fenced" {
            assert_eq!(m["stale_writes"], serde_json::json!([]), "{m}");
        }
    }
    // The pauses hit the service hosts only.
    let mut paused = 0;
    for op in ops
        .iter()
        .filter(|op| op["process"] == "nemesis" && op["f"] == "start-pause")
    {
        for n in op["value"]["nodes"].as_array().into_iter().flatten() {
            assert!(matches!(n.as_str(), Some("n4" | "n5")), "{op}");
            paused += 1;
        }
    }
    assert!(paused >= 1, "no candidate was paused: {history}");
    // Stored and given back as service nodes.
    let test: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(
        test["options"]["ssh"]["service_nodes"][1]["host"], "n5",
        "{test}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("--nodes n1,n2,n3 --service-nodes n4,n5"),
        "{}",
        text(&out)
    );
    for n in ["n4", "n5"] {
        let log = run.join("nodes").join(n).join("candidate.log");
        assert!(log.exists(), "{} came back from {n}", log.display());
    }
    let node_run = node_run(&run);
    assert_nothing_left(&f.bed, &node_run);
    // No candidate of this bed's (its --nodes name the bed's addresses) outlived the run.
    let raft = format!("n1={}:", f.bed.cluster.nodes()[0].addr);
    let ps = Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .unwrap();
    let left: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains("node candidate") && l.contains(&raft))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "candidates left: {left:?}");
    let log = std::fs::read_to_string(run.join("faultline.log")).unwrap();
    let down = log
        .lines()
        .find_map(|l| l.split("nodes torn down in ").nth(1))
        .unwrap_or("?");
    eprintln!(
        "ssh election (3 Raft + 2 candidate hosts): first candidate report after {:.2?}, \
         teardown {down}, whole run {:.1} s, {paused} pauses",
        first_report,
        total.as_secs_f64()
    );
    f.down();
}

/// Real etcd through SSH nodes: Debian's `etcd-server`, found installed on each node
/// (`dpkg-query` over SSH), runs as the nodes' service; the run is valid and leaves
/// nothing behind.
#[test]
fn ssh_real_etcd_runs_valid() {
    let f = Fixture::up("sshetcd", 3);
    let (out, run) = f.run(
        &[
            "test",
            "--target",
            "etcd",
            "--time-limit",
            "8",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "2",
            "--seed",
            "3",
        ],
        Duration::from_secs(300),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(results(&run)["valid"], "valid");
    let log = run.join("nodes/n1/etcd.log");
    assert!(log.exists(), "etcd's log came back from n1");
    assert_nothing_left(&f.bed, &node_run(&run));
    f.down();
}

/// Real ZooKeeper through SSH nodes: Debian's `zookeeper` and `java`, found on each
/// node over SSH (installed there if they were missing; here the nodes share this
/// machine's file system, so they are present), run as the nodes' service; the run is
/// valid, ZooKeeper's log comes back, and nothing is left behind.
#[test]
fn ssh_real_zookeeper_runs_valid() {
    let f = Fixture::up("sshzk", 3);
    let (out, run) = f.run(
        &[
            "test",
            "--target",
            "zookeeper",
            "--time-limit",
            "10",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "3",
            "--seed",
            "3",
        ],
        Duration::from_secs(400),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(results(&run)["valid"], "valid");
    let log = std::fs::read_to_string(run.join("faultline.log")).unwrap();
    assert!(log.contains("zookeeper set up in"), "{log}");
    assert!(
        run.join("nodes/n1/zookeeper.log").exists(),
        "ZooKeeper's log came back from n1"
    );
    assert!(
        run.join("nodes/n2/data/myid").exists(),
        "n2's data came back"
    );
    assert_nothing_left(&f.bed, &node_run(&run));
    f.down();
}

/// Consul has no Debian package: over SSH, a node without `consul` is a harness error
/// at setup naming the node (exit 255), not a refusal because the controller lacks it.
#[test]
fn ssh_consul_missing_on_the_nodes_is_a_harness_error_naming_the_node() {
    if targets::consul::absent_reason(None).is_none() {
        eprintln!("skipped: consul is installed here, so the nodes have it too");
        return;
    }
    let f = Fixture::up("sshconsul", 2);
    let (out, run) = f.run(
        &["test", "--target", "consul", "--time-limit", "5"],
        Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("consul setup: n1: `consul` is not on the node's PATH"),
        "{all}"
    );
    assert_nothing_left(&f.bed, &node_run(&run));
    f.down();
}

/// How a test bed node dies mid-run.
enum Death {
    /// Every process of its namespace killed, sshd included: the connection closes.
    Killed,
    /// Its namespace's link goes down: the node stops answering, the connection stays
    /// open until the master's keep-alives give up.
    Silent,
}

/// A node that dies mid-run stops the run: a harness error naming the node and ssh's
/// reason (exit 255) long before the time limit, with the history, the results and the
/// reachable nodes' logs kept, and nothing left on the other nodes. The run has
/// partitions and kills in force, which must never count as a dead node.
fn a_node_that_dies_mid_run(tag: &str, death: Death) {
    let f = Fixture::up(tag, 3);
    let started = Instant::now();
    let child = f.spawn(&[
        "test",
        "--time-limit",
        "600",
        "--nemesis",
        "partition,kill",
        "--nemesis-interval",
        "1",
        "--seed",
        "2",
    ]);
    assert!(
        first_op(&f.store, started, Duration::from_secs(120)).is_some(),
        "no op within 120 s"
    );
    let run = f.latest();
    // Some faults first: they must not look like a dead node.
    let history = run.join("history.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && std::fs::read_to_string(&history)
            .unwrap_or_default()
            .matches("\"nemesis\"")
            .count()
            < 4
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ns = f
        .bed
        .cluster
        .member(runtime::NodeId::nth(3))
        .unwrap()
        .ns
        .clone();
    let died = Instant::now();
    match death {
        Death::Killed => {
            runtime::netns::network::kill_all_in(&ns, Duration::from_secs(10)).expect("n3 dies");
        }
        Death::Silent => {
            let down = Command::new("ip")
                .args([
                    "-n",
                    &ns,
                    "link",
                    "set",
                    runtime::netns::addr::NODE_IF,
                    "down",
                ])
                .output()
                .expect("ip runs");
            assert!(down.status.success(), "{}", text(&down));
        }
    }
    // Far below the 600 s time limit: the run stopped because of the node.
    let out = wait(child, Duration::from_secs(240));
    let stopped = died.elapsed();
    assert_eq!(out.status.code(), Some(255), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("harness error: a node died mid-run: n3 (n3): cannot reach the node"),
        "{all}"
    );
    let log = std::fs::read_to_string(run.join("faultline.log")).unwrap();
    assert!(
        log.contains("node lost, stopping the run: n3 (n3)"),
        "{log}"
    );
    for f in [
        "test.json",
        "history.jsonl",
        "results.json",
        "status.jsonl",
        "faultline.log",
    ] {
        assert!(run.join(f).exists(), "{f} kept");
    }
    assert!(
        results(&run)["checkers"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "what was recorded was checked"
    );
    for n in ["n1", "n2"] {
        let dir = run.join("nodes").join(n);
        assert!(
            std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()),
            "{n}'s logs came back"
        );
    }
    // n1 and n2 were cleaned: their directories (n3's is on the same file system here,
    // on a real machine it would be on the dead one), chains and processes.
    let node_run = node_run(&run);
    for n in [1, 2] {
        let d = Path::new(ROOT).join(&node_run).join(format!("n{n}"));
        assert!(!d.exists(), "{} left", d.display());
        let chain = f
            .bed
            .iptables_in(runtime::NodeId::nth(n), &["-n", "-L", "FAULTLINE"])
            .unwrap();
        assert!(!chain.success(), "n{n}: the FAULTLINE chain is left");
    }
    let ps = Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .unwrap();
    for n in ["n1", "n2"] {
        let needle = Path::new(ROOT)
            .join(&node_run)
            .join(n)
            .display()
            .to_string();
        let ps = String::from_utf8_lossy(&ps.stdout);
        let left: Vec<&str> = ps.lines().filter(|l| l.contains(&needle)).collect();
        assert!(left.is_empty(), "processes of {n} left: {left:?}");
    }
    eprintln!(
        "{tag}: the run stopped {:.1} s after n3 died",
        stopped.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(Path::new(ROOT).join(&node_run));
    f.down();
}

#[test]
fn ssh_a_node_killed_mid_run_stops_the_run_with_a_harness_error() {
    a_node_that_dies_mid_run("sshdies", Death::Killed);
}

#[test]
fn ssh_a_node_that_goes_silent_mid_run_stops_the_run_with_a_harness_error() {
    a_node_that_dies_mid_run("sshmute", Death::Silent);
}

/// How many SIGINTs the controller gets.
enum Interrupt {
    /// One: the run winds down (heal, logs, teardown) and checks what it recorded.
    Once,
    /// A second one as soon as the first was seen: the forced exit, which tears the SSH
    /// nodes down from the signal thread and exits 130.
    Twice,
}

/// Sends SIGINT to the controller.
fn sigint(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
}

/// Ctrl-C during an SSH run with a partition in force: every process, chain and
/// directory of the run goes from the nodes, and no local `ssh` master outlives the
/// controller.
fn interrupted_during_a_partition(tag: &str, how: Interrupt) {
    let f = Fixture::up(tag, 3);
    let started = Instant::now();
    let mut child = f.spawn(&[
        "test",
        "--time-limit",
        "600",
        "--nemesis",
        "partition:majority",
        "--nemesis-interval",
        "1",
        "--seed",
        "4",
    ]);
    // The controller's stderr, line by line, to see when it took the first signal.
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, said) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    assert!(
        first_op(&f.store, started, Duration::from_secs(120)).is_some(),
        "no op within 120 s"
    );
    let run = f.latest();
    let node_run = node_run(&run);
    f.await_partition(Duration::from_secs(30));
    sigint(&child);
    if let Interrupt::Twice = how {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match said.recv_timeout(left) {
                Ok(line) if line.contains("again to force") => break,
                Ok(_) => {}
                Err(e) => panic!("the controller never took the first SIGINT: {e}"),
            }
        }
        sigint(&child);
    }
    let status = {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("faultline did not exit within 180 s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut stdout);
    }
    let stderr = reader.join().expect("stderr reader");
    let all = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_nothing_left_within(&f.bed, &node_run, Duration::from_secs(15));
    let ps = Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .unwrap();
    let config = f.bed.dir.join("ssh_config").display().to_string();
    let masters: Vec<String> = String::from_utf8_lossy(&ps.stdout)
        .lines()
        .filter(|l| l.contains(&config))
        .map(str::to_owned)
        .collect();
    assert!(masters.is_empty(), "ssh masters left: {masters:?}");
    match how {
        Interrupt::Once => {
            assert!(
                matches!(status.code(), Some(0..=2)),
                "a verdict of what was recorded: {status:?} {all}"
            );
            assert!(
                stdout.contains("interrupted: checked what was recorded"),
                "{all}"
            );
            assert!(run.join("results.json").exists(), "results kept");
        }
        Interrupt::Twice => {
            assert_eq!(status.code(), Some(130), "{all}");
            assert!(
                stderr.contains(&format!("removing run {node_run} from its SSH nodes")),
                "{all}"
            );
        }
    }
    f.down();
}

#[test]
fn ssh_ctrl_c_winds_the_run_down_and_cleans_the_nodes() {
    interrupted_during_a_partition("sshint", Interrupt::Once);
}

#[test]
fn ssh_a_second_ctrl_c_still_cleans_the_nodes_before_exiting() {
    interrupted_during_a_partition("sshint2", Interrupt::Twice);
}

/// The zoo's stale-read row through SSH nodes: caught by linearizability (three seeds,
/// as on namespace nodes in `cli_test.rs`).
#[test]
fn ssh_a_planted_stale_read_is_caught() {
    let f = Fixture::up("sshstale", 3);
    let mut tried = Vec::new();
    for seed in ["11", "12", "13"] {
        let child = f.spawn(&[
            "test",
            "--time-limit",
            "10",
            "--bug",
            "stale-read",
            "--nemesis",
            "partition:primaries",
            "--nemesis-interval",
            "1",
            "--seed",
            seed,
        ]);
        let out = wait(child, Duration::from_secs(300));
        let code = out.status.code();
        assert!(
            matches!(code, Some(0) | Some(1)),
            "harness trouble: {}",
            text(&out)
        );
        let run = f.latest();
        assert_nothing_left(&f.bed, &node_run(&run));
        if code == Some(1) {
            let r = results(&run);
            let lin = r["checkers"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["name"] == "linearizability"))
                .expect("a linearizability checker");
            assert_eq!(lin["valid"], "invalid", "{r}");
            f.down();
            return;
        }
        tried.push(seed);
    }
    panic!("stale-read was not caught over SSH with seeds {tried:?}");
}

/// A controller SIGKILLed mid-run leaves its Raft nodes running and partitioned;
/// `faultline clean --nodes …` removes every process, chain and directory of the run.
#[test]
fn ssh_clean_removes_what_a_sigkilled_controller_left() {
    let f = Fixture::up("sshkill", 3);
    let started = Instant::now();
    let mut child = f.spawn(&[
        "test",
        "--time-limit",
        "120",
        "--nemesis",
        "partition:majority",
        "--nemesis-interval",
        "1",
        "--seed",
        "5",
    ]);
    let first = first_op(&f.store, started, Duration::from_secs(120));
    assert!(first.is_some(), "no op within 120 s");
    let run = f.latest();
    let node_run = node_run(&run);
    let dir = Path::new(ROOT).join(&node_run);
    // Wait (bounded) until a partition is in force on some node, then kill.
    f.await_partition(Duration::from_secs(30));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(dir.exists(), "the killed run's directory is there");
    // Only this run: the other tests' runs on the shared /var/lib/faultline stay.
    let out = command(&f.bed, &["clean", "--run", &node_run])
        .output()
        .expect("clean runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("killed process group"), "{said}");
    assert!(said.contains(&node_run), "{said}");
    assert_nothing_left(&f.bed, &node_run);
    // Clean again: nothing left to do.
    let out = command(&f.bed, &["clean", "--run", &node_run])
        .output()
        .expect("clean runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to clean"));
    f.down();
}

/// One short run's figures: from the spawn to the first op in the history, and the
/// teardown (log collection included) as the run's log reports it.
fn measure(mut cmd: Command, store: &Path) -> (Duration, String, Output) {
    let started = Instant::now();
    let child = cmd.spawn().expect("faultline starts");
    let first = first_op(store, started, Duration::from_secs(120)).expect("a first op");
    let out = wait(child, Duration::from_secs(300));
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let log = std::fs::read_to_string(run.join("faultline.log")).unwrap();
    let down = log
        .lines()
        .find_map(|l| l.split("nodes torn down in ").nth(1))
        .unwrap_or("?")
        .to_string();
    (first, down, out)
}

/// Figures for docs/ssh.md, printed and never asserted: the time from `faultline test`
/// to the first op and the teardown, 5 SSH nodes against 5 namespace nodes, the same
/// short Raft run (the binary cache on the nodes warm after the first SSH run).
#[test]
fn ssh_time_to_first_op_against_namespaces_is_printed() {
    let bed = bed("sshcost", 5);
    let args = |store: &Path| -> Vec<String> {
        [
            "test",
            "--time-limit",
            "4",
            "--nemesis",
            "none",
            "--seed",
            "1",
            "--no-progress",
            "--store",
            store.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let mut figures = Vec::new();
    for round in 0..2 {
        // A store per run: `latest` must name the run being measured.
        let store = scratch(&format!("cost-ssh-{round}"));
        let words = args(&store);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let (first, down, out) = measure(command(&bed, &words), &store);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        figures.push(format!(
            "ssh #{round}: first op {first:.2?}, teardown {down}"
        ));
        std::fs::remove_dir_all(&store).unwrap();
        let store = scratch(&format!("cost-ns-{round}"));
        let mut ns = Command::new(env!("CARGO_BIN_EXE_faultline"));
        ns.args(args(&store))
            .args(["--nodes", "5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (first, down, out) = measure(ns, &store);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        figures.push(format!(
            "netns #{round}: first op {first:.2?}, teardown {down}"
        ));
        std::fs::remove_dir_all(&store).unwrap();
    }
    eprintln!(
        "5 nodes, bundled Raft, --time-limit 4:\n  {}",
        figures.join("\n  ")
    );
    bed_down(bed);
}

/// `faultline cluster --nodes … --name RUN` over SSH: status names the run's service group; a
/// partition leaves SSH working (exec still answers) until heal removes every chain;
/// pause, resume and kill reach the group, on a service host too (heal resumes it);
/// sandbox-only commands are refused.
#[test]
fn ssh_cluster_commands_fault_the_nodes_and_ssh_survives() {
    use runtime::{ServiceSpec, ServiceState};
    let bed = bed("sshcluster", 3);
    let run = run_name("svc");
    // n3 as a service host: `cluster` reaches it as it does the system's nodes.
    let nodes = bed.nodes_with_services(1);
    let ssh =
        runtime::ssh::SshCluster::connect_with(&nodes.config(&run), bed.cluster.control().unwrap())
            .expect("ssh connect");
    let n1 = runtime::NodeId::nth(1);
    let dir = ssh.node_dir(n1).unwrap();
    let pgid = ssh
        .start_service(
            n1,
            ServiceSpec::new(["sleep", "600"], &dir, dir.join("sleep.log")),
        )
        .unwrap();
    let cluster = |args: &[&str]| -> Output {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &bed.cluster.control_ns()])
            .arg(env!("CARGO_BIN_EXE_faultline"))
            .arg("cluster")
            .args(nodes.command_words())
            // Only this run's services: other tests' runs share /var/lib/faultline here.
            .args(["--name", &run])
            .args(args);
        c.output().expect("faultline cluster runs")
    };
    let ok = |args: &[&str]| -> String {
        let out = cluster(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let status = ok(&["status"]);
    assert!(
        status.contains(&format!("service groups [{pgid}]")),
        "{status}"
    );
    assert!(status.contains("FAULTLINE chain absent"), "{status}");
    ok(&["partition", "halves"]);
    assert!(ok(&["status"]).contains("FAULTLINE chain present"));
    // SSH survives the partition: every node still answers.
    for n in ["n1", "n2", "n3"] {
        assert_eq!(ok(&["exec", n, "--", "echo", "here"]).trim(), "here");
    }
    ok(&["pause", "n1"]);
    assert_eq!(ssh.service_state(n1).unwrap(), ServiceState::Paused);
    ok(&["resume", "n1"]);
    assert_eq!(ssh.service_state(n1).unwrap(), ServiceState::Running);
    let killed = ok(&["kill", "n1"]);
    assert!(
        killed.contains("n1: SIGKILL to 1 process group(s)"),
        "{killed}"
    );
    assert!(!matches!(
        ssh.service_state(n1).unwrap(),
        ServiceState::Running | ServiceState::Paused
    ));
    // The service host's group: paused by name, resumed by heal.
    let n3 = runtime::NodeId::nth(3);
    let dir3 = ssh.node_dir(n3).unwrap();
    ssh.start_service(
        n3,
        ServiceSpec::new(["sleep", "600"], &dir3, dir3.join("sleep.log")),
    )
    .unwrap();
    ok(&["pause", "n3"]);
    assert_eq!(ssh.service_state(n3).unwrap(), ServiceState::Paused);
    let healed = ok(&["heal"]);
    // (Named: the bed's nodes share one file system and pid space, so n1's pidfile
    // search alone would find n3's group too.)
    assert!(
        healed.contains("n3: SIGCONT to 1 process group(s)"),
        "{healed}"
    );
    assert_eq!(ssh.service_state(n3).unwrap(), ServiceState::Running);
    for n in bed.cluster.node_ids() {
        assert!(!bed
            .iptables_in(n, &["-n", "-L", "FAULTLINE"])
            .unwrap()
            .success());
    }
    let exec = cluster(&["exec", "n1", "--", "sh", "-c", "exit 3"]);
    assert_eq!(exec.status.code(), Some(3), "the command's own exit code");
    let up = cluster(&["up"]);
    assert_eq!(up.status.code(), Some(254), "{}", text(&up));
    let exec = cluster(&["exec", "n7", "--", "true"]);
    assert_eq!(exec.status.code(), Some(254), "{}", text(&exec));
    ssh.down().expect("teardown");
    assert_nothing_left(&bed, &run);
    bed_down(bed);
}
