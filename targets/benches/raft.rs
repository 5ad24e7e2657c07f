//! Cluster benchmark of the bundled Raft target on loopback (127.0.0.1): a 3-node cluster
//! of real processes, 10 concurrent clients.
//!
//! * write throughput (each write answered after commit, i.e. after a majority fsync);
//! * linearizable read latency p50/p99 (ReadIndex round per read);
//! * time from SIGKILL of the leader to the first successful write (default timeouts).
//!
//! Run: `cargo bench -p targets --bench raft` (release profile). Every loop is bounded in
//! both count and time; every node process is killed by the cluster guard.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../tests/support/cluster.rs"]
#[allow(dead_code)]
mod cluster;

use cluster::{poll, RaftCluster as Cluster};

const CLIENTS: usize = 10;
const PHASE: Duration = Duration::from_secs(5);
const MAX_OPS_PER_CLIENT: u64 = 50_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn writes(c: &Cluster, leader: usize) -> (u64, u64, Duration) {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CLIENTS {
        let client = c.clients[leader].clone();
        let (ok, failed) = (ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..MAX_OPS_PER_CLIENT {
                if start.elapsed() >= PHASE {
                    break;
                }
                match client.write(&format!("k{w}"), &i.to_string()).await {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        start.elapsed(),
    )
}

async fn reads(c: &Cluster, leader: usize) -> (Vec<Duration>, u64, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..CLIENTS {
        let client = c.clients[leader].clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0u64;
            for _ in 0..MAX_OPS_PER_CLIENT {
                if start.elapsed() >= PHASE {
                    break;
                }
                let t = Instant::now();
                match client.read(&format!("k{w}")).await {
                    Ok(_) => lat.push(t.elapsed()),
                    Err(_) => failed += 1,
                }
            }
            (lat, failed)
        }));
    }
    let mut all = Vec::new();
    let mut failed = 0;
    for t in tasks {
        if let Ok((lat, f)) = t.await {
            all.extend(lat);
            failed += f;
        }
    }
    all.sort();
    (all, failed, start.elapsed())
}

async fn failover(c: &mut Cluster) -> Duration {
    let l = c.leader(Duration::from_secs(15)).await;
    c.kill(l);
    let killed = Instant::now();
    let clients: Vec<_> = (0..3)
        .filter(|&i| i != l)
        .map(|i| c.clients[i].clone())
        .collect();
    poll(
        "a write after the leader kill",
        Duration::from_secs(20),
        || {
            let clients = clients.clone();
            async move {
                for cl in &clients {
                    if cl.write("failover", "1").await.is_ok() {
                        return Some(());
                    }
                }
                None
            }
        },
    )
    .await;
    let took = killed.elapsed();
    c.start_node(l);
    took
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo test --benches` runs this with `--bench`-less args; do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut c = Cluster::start("bench", 3, &[]);
    let leader = c.leader(Duration::from_secs(15)).await;

    let (ok, failed, took) = writes(&c, leader).await;
    println!(
        "writes: {ok} ok, {failed} failed in {took:.2?} with {CLIENTS} clients: {:.0} writes/s",
        ok as f64 / took.as_secs_f64()
    );

    let (lat, failed, took) = reads(&c, leader).await;
    println!(
        "reads: {} ok, {failed} failed in {took:.2?} ({:.0} reads/s); latency p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        lat.len(),
        lat.len() as f64 / took.as_secs_f64(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or_default()
    );

    let mut times = Vec::new();
    for _ in 0..3 {
        times.push(failover(&mut c).await);
    }
    println!("leader kill -> first successful write: {times:.2?}");
}
