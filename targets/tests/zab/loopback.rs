//! Three real Zab node processes on a loopback address of their own: election, writes,
//! reads at every level, CAS, locks with zxid tokens, surviving a leader kill, replicas
//! that agree on their committed logs, restarting from disk, and refusing a damaged data
//! directory.

use std::time::{Duration, Instant};

use targets::bundled::{ClientError, ReadLevel, RequestError};
use targets::zab::{Phase, Zxid};

use crate::cluster::{poll, Member, ZabCluster as Cluster};

const WAIT: Duration = Duration::from_secs(20);
const NODE_BIN: &str = <targets::zab::api::Status as Member>::BIN;

/// Every running node's committed log, once all of them have caught up to `through`.
async fn committed_logs(c: &Cluster, through: u64) -> Vec<Vec<(u64, String)>> {
    poll("every node to commit as far", WAIT, || async {
        let mut logs = Vec::new();
        for (i, client) in c.clients.iter().enumerate() {
            if !c.running(i) {
                continue;
            }
            let log = client.committed(0).await.ok()?;
            if log.entries.last().map_or(0, |e| e.position) < through {
                return None;
            }
            logs.push(
                log.entries
                    .into_iter()
                    .map(|e| (e.position, e.digest))
                    .collect(),
            );
        }
        Some(logs)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_survive_a_leader_kill_and_restart_from_disk() {
    let mut c = Cluster::start("zab-loopback", 3, &[]);
    let l = c.leader(WAIT).await;
    let leader = c.clients[l].clone();

    // KV: writes answer after commit; quorum reads are linearizable; CAS checks.
    leader.write("x", "1").await.expect("write");
    assert_eq!(leader.read("x").await.expect("read"), Some("1".into()));
    leader.cas("x", "1", "2").await.expect("cas");
    let refused = leader.cas("x", "1", "3").await.expect_err("stale cas");
    assert_eq!(
        refused,
        ClientError::Rejected(RequestError::PreconditionFailed {
            actual: Some("2".into())
        })
    );
    let at = leader
        .read_at("x", ReadLevel::Quorum, 0)
        .await
        .expect("read");
    assert_eq!(at.value, Some("2".into()));
    let epoch = leader.status().await.expect("status").current_epoch;
    assert_eq!(Zxid::from_u64(at.position).epoch, epoch, "read at a zxid");

    // Followers refuse quorum reads with the leader's name, answer sync reads through
    // the leader and local reads from their own state, never older than the client saw.
    let f = (l + 1) % 3;
    // A majority agreeing on the leader does not mean this follower has synced yet (it
    // serves nothing before UPTODATE): wait until it broadcasts under that leader.
    let follower = c.clients[f].clone();
    let leader_id = c.ids[l].clone();
    poll("the follower to serve under the leader", WAIT, || async {
        let st = follower.status().await.ok()?;
        (st.phase == Phase::Broadcast && st.leader.as_ref().map(|n| &n.0) == Some(&leader_id))
            .then_some(())
    })
    .await;
    let e = c.clients[f]
        .read("x")
        .await
        .expect_err("follower quorum read");
    assert!(e.is_definite());
    assert_eq!(e.leader_hint().map(|n| n.0.clone()), Some(c.ids[l].clone()));
    let synced = c.clients[f]
        .read_at("x", ReadLevel::Sync, at.position)
        .await
        .expect("sync read on a follower");
    assert_eq!(synced.value, Some("2".into()));
    let local = c.clients[f]
        .read_at("x", ReadLevel::Local, synced.position)
        .await
        .expect("local read");
    assert!(local.position >= synced.position);
    let ahead = c.clients[f]
        .read_at("x", ReadLevel::Local, local.position + (1 << 32))
        .await
        .expect_err("the client saw more than the node applied");
    assert!(matches!(
        ahead,
        ClientError::Rejected(RequestError::Behind { .. })
    ));
    assert!(ahead.is_definite());

    // Locks: tokens are grant zxids; a held lock refuses others definitely.
    let ttl = Duration::from_secs(10);
    let t1 = leader.acquire("L", "c1", ttl).await.expect("acquire");
    let busy = leader.acquire("L", "c2", ttl).await.expect_err("held");
    assert_eq!(
        busy,
        ClientError::Rejected(RequestError::LockHeld {
            holder: "c1".into()
        })
    );
    leader.release("L", "c1", t1).await.expect("release");
    let t2 = leader.acquire("L", "c2", ttl).await.expect("acquire again");
    assert!(t2 > t1, "fencing tokens must increase: {t1} then {t2}");

    // Kill the leader: the others elect a new one in a new epoch and keep serving.
    c.kill(l);
    let killed = Instant::now();
    let l2 = c.leader(WAIT).await;
    assert_ne!(l2, l);
    let new_leader = c.clients[l2].clone();
    poll("a write on the new leader", WAIT, || async {
        new_leader.write("x", "3").await.ok()
    })
    .await;
    eprintln!("leader kill -> first write: {:?}", killed.elapsed());
    assert_eq!(new_leader.read("x").await.expect("read"), Some("3".into()));
    let status = new_leader.status().await.expect("status");
    assert!(status.current_epoch > epoch);
    // The lock survived the leader change: its session got a fresh timeout.
    let busy = new_leader
        .acquire("L", "c1", ttl)
        .await
        .expect_err("still held");
    assert_eq!(
        busy,
        ClientError::Rejected(RequestError::LockHeld {
            holder: "c2".into()
        })
    );

    // The killed node comes back from its data directory, re-syncs, and every replica
    // reports the same committed log.
    c.start_node(l);
    let through = new_leader.status().await.expect("status").committed_zxid;
    let logs = committed_logs(&c, through).await;
    assert_eq!(logs.len(), 3);
    let shortest = logs.iter().map(Vec::len).min().expect("three logs");
    for log in &logs {
        assert_eq!(log[..shortest], logs[0][..shortest], "replicas diverged");
    }

    // Whole-cluster restart: everything acknowledged is still there.
    for i in 0..3 {
        c.kill(i);
    }
    for i in 0..3 {
        c.start_node(i);
    }
    let l3 = c.leader(WAIT).await;
    let value = poll("a read after the full restart", WAIT, || async {
        c.clients[l3].read("x").await.ok()
    })
    .await;
    assert_eq!(value, Some("3".into()));
}

/// Runs the node on `c`'s node 0 data directory; it must refuse to start, naming
/// `file` and `offset` on stderr.
fn refuses(c: &Cluster, file: &str, offset: &str) {
    let out = std::process::Command::new(NODE_BIN)
        .args(c.args(0))
        .output()
        .expect("running the node");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a damaged node must not start: {stderr}"
    );
    assert!(
        stderr.contains(file),
        "the error must name {file}: {stderr}"
    );
    assert!(
        stderr.contains(offset),
        "the error must name {offset}: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_truncated_epoch_file_or_log_refuses_to_start() {
    let mut c = Cluster::start("zab-corrupt", 1, &[]);
    let l = c.leader(WAIT).await;
    for v in 0..5 {
        c.clients[l]
            .write("k", &v.to_string())
            .await
            .expect("write");
    }
    c.kill(0);
    let dir = c.data_dir(0);
    for name in ["acceptedEpoch", "currentEpoch"] {
        let path = dir.join(name);
        let good = std::fs::read(&path).expect("the epoch file");
        std::fs::write(&path, &good[..good.len() - 1]).expect("truncating");
        refuses(&c, name, &format!("byte {}: truncated", good.len() - 1));
        std::fs::write(&path, b"1x\n").expect("corrupting");
        refuses(&c, name, "byte 1");
        std::fs::write(&path, &good).expect("restoring");
    }
    let log = dir.join("zab.log");
    let mut bytes = std::fs::read(&log).expect("reading the log");
    bytes[10] ^= 0xff; // inside the first record, with valid records after it
    std::fs::write(&log, &bytes).expect("corrupting the log");
    refuses(&c, "zab.log", "record at byte 0");
    // Nothing was reset.
    assert_eq!(std::fs::read(&log).expect("log still there"), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_exit_254() {
    let out = std::process::Command::new(NODE_BIN)
        .args(["--id", "n1", "--peers", "n1=127.0.0.1:1", "--api"])
        .args([
            "127.0.0.1:2",
            "--data-dir",
            "/nonexistent",
            "--bug",
            "stale-read",
        ])
        .output()
        .expect("running the node");
    assert_eq!(out.status.code(), Some(254));
}
