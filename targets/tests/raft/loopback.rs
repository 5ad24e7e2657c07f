//! Three real node processes on a loopback address of their own: election, writes,
//! linearizable reads, CAS, transactions, locks, surviving a leader kill, and restarting
//! from disk.

use std::time::{Duration, Instant};

use targets::bundled::TxnOp;
use targets::raft::{ClientError, RequestError};

use crate::cluster::{poll, Member, RaftCluster as Cluster};

const NODE_BIN: &str = <targets::raft::api::Status as Member>::BIN;

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_survive_a_leader_kill_and_restart_from_disk() {
    let mut c = Cluster::start("loopback", 3, &[]);
    let l = c.leader(WAIT).await;
    let leader = c.clients[l].clone();

    // KV: writes answer after commit; reads are linearizable; CAS checks the value.
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
    assert!(refused.is_definite());
    assert_eq!(leader.read("missing").await.expect("read"), None);

    // Transactions: micro-ops in order, atomically; a read sees the txn's own appends.
    let append = |key: &str, value| TxnOp::Append {
        key: key.into(),
        value,
    };
    let read = |key: &str| TxnOp::Read { key: key.into() };
    let reads = leader
        .txn(&[read("l"), append("l", 1), append("m", 2), read("l")])
        .await
        .expect("txn");
    assert_eq!(reads, vec![vec![], vec![1]]);
    let reads = leader
        .txn(&[append("l", 3), read("l"), read("m")])
        .await
        .expect("txn");
    assert_eq!(reads, vec![vec![1, 3], vec![2]]);

    // Followers refuse with a definite error and the leader hint.
    let f = (l + 1) % 3;
    let e = c.clients[f].read("x").await.expect_err("follower read");
    assert!(e.is_definite());
    assert_eq!(e.leader_hint().map(|n| n.0.clone()), Some(c.ids[l].clone()));

    // Locks: tokens increase strictly; a held lock refuses others definitely.
    let ttl = Duration::from_secs(10);
    let t1 = leader.acquire("L", "c1", ttl).await.expect("acquire");
    let busy = leader.acquire("L", "c2", ttl).await.expect_err("held");
    assert_eq!(
        busy,
        ClientError::Rejected(RequestError::LockHeld {
            holder: "c1".into()
        })
    );
    let wrong = leader
        .release("L", "c1", t1 - 1)
        .await
        .expect_err("stale token");
    assert_eq!(wrong, ClientError::Rejected(RequestError::NotHolder));
    leader.release("L", "c1", t1).await.expect("release");
    let t2 = leader
        .acquire("L", "c2", ttl)
        .await
        .expect("acquire after release");
    assert!(t2 > t1, "fencing tokens must increase: {t1} then {t2}");

    // Kill the leader: the others elect a new one and keep serving.
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
    // The lock survived the leader change (same holder, same token).
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

    // The killed node comes back from its data directory and catches up.
    c.start_node(l);
    let target = new_leader.status().await.expect("status").commit_index;
    let back = c.clients[l].clone();
    poll("the restarted node to catch up", WAIT, || async {
        back.status()
            .await
            .ok()
            .filter(|s| s.last_applied >= target)
    })
    .await;

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
    let lists = c.clients[l3]
        .txn(&[TxnOp::Read { key: "l".into() }])
        .await
        .expect("txn after the full restart");
    assert_eq!(lists, vec![vec![1, 3]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_data_dir_refuses_to_start() {
    let mut c = Cluster::start("corrupt", 1, &[]);
    let l = c.leader(WAIT).await;
    for v in 0..5 {
        c.clients[l]
            .write("k", &v.to_string())
            .await
            .expect("write");
    }
    c.kill(0);
    let log = c.data_dir(0).join("raft.log");
    let mut bytes = std::fs::read(&log).expect("reading the log");
    bytes[10] ^= 0xff; // inside the first record, with valid records after it
    std::fs::write(&log, &bytes).expect("corrupting the log");

    let out = std::process::Command::new(NODE_BIN)
        .args(c.args(0))
        .output()
        .expect("running the node");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a corrupt node must not start: {stderr}"
    );
    assert!(
        stderr.contains("corrupt"),
        "the error must say why: {stderr}"
    );
    // The data was not reset.
    assert_eq!(std::fs::read(&log).expect("log still there"), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_exit_non_zero() {
    let out = std::process::Command::new(NODE_BIN)
        .args([
            "--id",
            "n1",
            "--peers",
            "n1=127.0.0.1:1",
            "--api",
            "127.0.0.1:2",
            "--data-dir",
            "/nonexistent",
            "--bug",
            "nope",
        ])
        .output()
        .expect("running the node");
    assert_eq!(out.status.code(), Some(254));
    let out = std::process::Command::new(NODE_BIN)
        .args([
            "--id",
            "n9",
            "--peers",
            "n1=127.0.0.1:1",
            "--api",
            "127.0.0.1:2",
            "--data-dir",
            "/nonexistent",
        ])
        .output()
        .expect("running the node");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not among --peers"));
}
