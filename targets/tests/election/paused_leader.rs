//! A leader candidate paused past its lease: naive mode shows application split-brain
//! (two beliefs at once, a stale write accepted); fenced mode's resource rejects the
//! stale write; lease mode steps down before writing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkers::election::{self, Mode, ModeReport};
use harness::history::HistoryLog;
use runtime::netns::{Cluster, ClusterConfig};
use runtime::{NodeId, Runtime, ServiceSpec};
use workloads::election::resource::{Resource, Start};

const RAFT: &str = env!("CARGO_BIN_EXE_faultline-raft-node");
const ZAB: &str = env!("CARGO_BIN_EXE_faultline-zab-node");
const CANDIDATE: &str = env!("CARGO_BIN_EXE_faultline-candidate");
const TTL_MS: u64 = 1500;

/// Polls `f` until it yields `Some`, or panics with `what` after `timeout`.
fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the bundled `system` (`raft` or `zab`) on the system's nodes.
fn start_system(cluster: &Cluster, system: &str) {
    let peers: Vec<String> = cluster
        .nodes()
        .iter()
        .map(|n| format!("{}={}:7000", n.id, n.addr))
        .collect();
    for n in cluster.nodes() {
        let dir = cluster.node_dir(n.id).unwrap();
        let argv = vec![
            if system == "raft" { RAFT } else { ZAB }.to_string(),
            "--id".into(),
            n.id.to_string(),
            "--peers".into(),
            peers.join(","),
            "--api".into(),
            format!("{}:8080", n.addr),
            "--data-dir".into(),
            dir.join("data").display().to_string(),
        ];
        cluster
            .start_service(n.id, ServiceSpec::new(argv, &dir, dir.join("node.log")))
            .expect("raft starts");
    }
    for n in cluster.node_ids() {
        cluster
            .wait_for_port(n, 8080, Duration::from_secs(20))
            .expect("raft listens");
    }
}

/// The candidates: `(name, mode, node)`.
fn start_candidates(
    cluster: &Cluster,
    resource: std::net::SocketAddr,
    system: &str,
    modes: &[Mode],
    per_mode: usize,
) -> Vec<(String, Mode, NodeId)> {
    let endpoints: Vec<String> = cluster
        .nodes()
        .iter()
        .map(|n| format!("{}={}:8080", n.id, n.addr))
        .collect();
    let mut service = cluster.service_nodes().into_iter();
    let mut out = Vec::new();
    let mut k = 0;
    for &mode in modes {
        for _ in 0..per_mode {
            k += 1;
            let node = service.next().expect("a service node per candidate").id;
            let name = format!("c{k}");
            let dir = cluster.node_dir(node).unwrap();
            let argv = vec![
                CANDIDATE.to_string(),
                "--name".into(),
                name.clone(),
                "--mode".into(),
                mode.to_string(),
                "--target".into(),
                system.into(),
                "--nodes".into(),
                endpoints.join(","),
                "--home".into(),
                k.to_string(),
                "--resource".into(),
                resource.to_string(),
                "--ttl-ms".into(),
                TTL_MS.to_string(),
                "--lease-margin-ms".into(),
                "300".into(),
            ];
            cluster
                .start_service(
                    node,
                    ServiceSpec::new(argv, &dir, dir.join("candidate.log")),
                )
                .expect("candidate starts");
            out.push((name, mode, node));
        }
    }
    out
}

#[test]
fn a_raft_leader_paused_past_its_lease_splits_naive_brains_and_fenced_rejects_its_write() {
    paused_leader("raft");
}

#[test]
fn a_zab_leader_paused_past_its_session_splits_naive_brains_and_fenced_rejects_its_write() {
    paused_leader("zab");
}

fn paused_leader(system: &str) {
    let store = std::env::temp_dir().join(format!(
        "faultline-election-{system}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&store);
    let modes = [Mode::Naive, Mode::Lease, Mode::Fenced];
    let per_mode = 2;
    let cluster = Cluster::up_with(
        ClusterConfig::new(format!("el{system}{}", std::process::id()), 3)
            .service_nodes((modes.len() * per_mode) as u16)
            .dir(&store),
    )
    .expect("cluster up");
    start_system(&cluster, system);

    let log = Arc::new(HistoryLog::create(&store.join("history.jsonl"), Instant::now()).unwrap());
    let resource = Resource::new(Arc::clone(&log), 0);
    let handle = cluster.clients().unwrap();
    let addr = std::net::SocketAddr::from((cluster.control_addr(), 9000));
    let listener = handle
        .block_on(tokio::net::TcpListener::bind(addr))
        .unwrap()
        .expect("the resource binds the controller's address");
    let server = handle.spawn(Arc::clone(&resource).serve(listener));
    let candidates = start_candidates(&cluster, addr, system, &modes, per_mode);
    let node_of: BTreeMap<&str, NodeId> = candidates
        .iter()
        .map(|(c, _, n)| (c.as_str(), *n))
        .collect();

    poll(
        "every candidate to reach the service",
        Duration::from_secs(30),
        || {
            let starts = resource.starts();
            (starts.len() == candidates.len() && starts.values().all(|s| *s == Start::Ready))
                .then_some(())
        },
    );
    // Pause each mode's leader at once: past its lease, until the other candidate of
    // its mode leads and has written.
    let leaders = poll("a leader in every mode", Duration::from_secs(20), || {
        let l = resource.leaders();
        modes
            .iter()
            .map(|m| l.get(m).and_then(|c| c.keys().next().cloned()))
            .collect::<Option<Vec<String>>>()
    });
    let paused: Vec<NodeId> = leaders.iter().map(|c| node_of[c.as_str()]).collect();
    for n in &paused {
        cluster.pause(*n).unwrap();
    }
    let (accepted_before, _) = resource.writes();
    poll(
        "a new leader in every mode, writing",
        Duration::from_secs(20),
        || {
            let l = resource.leaders();
            let (accepted, _) = resource.writes();
            (accepted > accepted_before + 5
                && modes
                    .iter()
                    .zip(&leaders)
                    .all(|(m, old)| l.get(m).is_some_and(|c| c.keys().any(|k| k != old))))
            .then_some(())
        },
    );
    for n in &paused {
        cluster.resume(*n).unwrap();
    }
    poll(
        "the paused leaders to step down",
        Duration::from_secs(20),
        || {
            let l = resource.leaders();
            modes
                .iter()
                .zip(&leaders)
                .all(|(m, old)| l.get(m).is_some_and(|c| !c.contains_key(old)))
                .then_some(())
        },
    );
    for (_, _, n) in &candidates {
        cluster.kill(*n).unwrap();
    }
    server.abort();
    cluster.down().expect("cluster down");

    let bytes = std::fs::read(store.join("history.jsonl")).unwrap();
    let (_, records) =
        checkers::format::read(&bytes, Some(checkers::format::Format::Jsonl)).unwrap();
    let report = election::check(&election::events(&records).unwrap(), &[]);
    let by_mode: BTreeMap<Mode, &ModeReport> = report.modes.iter().map(|m| (m.mode, m)).collect();
    for m in &report.modes {
        let longest = m
            .overlaps
            .iter()
            .map(|o| o.end - o.start)
            .max()
            .unwrap_or(0);
        eprintln!(
            "figures: {system} {} | overlaps {} (longest {} ms) | stale writes accepted {} | fenced off {} | failover p50 {} ms | {}",
            m.mode,
            m.overlaps.len(),
            longest / 1_000_000,
            m.stale_writes.len(),
            m.writes_fenced,
            m.failover_percentile(50).map_or(0, |n| n / 1_000_000),
            m.sentence()
        );
    }

    let naive = by_mode[&Mode::Naive];
    assert!(!naive.valid, "naive: {naive:#?}");
    assert!(
        !naive.overlaps.is_empty(),
        "naive mode shows overlapping beliefs"
    );
    assert!(
        !naive.stale_writes.is_empty(),
        "naive mode's resource took a stale write"
    );

    let fenced = by_mode[&Mode::Fenced];
    assert!(fenced.valid, "fenced: {fenced:#?}");
    assert!(!fenced.overlaps.is_empty(), "the belief still overlapped");
    assert!(
        fenced.writes_fenced >= 1,
        "the resource fenced the stale write off"
    );
    assert!(fenced.stale_writes.is_empty());

    let lease = by_mode[&Mode::Lease];
    assert!(lease.valid, "lease: {lease:#?}");
    assert!(lease.overlaps.is_empty() && lease.stale_writes.is_empty());
    for m in &report.modes {
        assert!(m.token_order.is_empty(), "{}: tokens increase", m.mode);
    }
    let _ = std::fs::remove_dir_all(&store);
}
