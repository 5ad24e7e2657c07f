//! End to end through the binary: `faultline test` on the bundled Raft (root required:
//! CI is root). One short run must come back valid with every artifact; a run with a
//! planted bug must be caught by the right checker; a stored run re-checks the same.
//!
//! Each run is its own `faultline` process with its own store directory and run name
//! (the cluster is named after the process id), so the tests run in parallel. Whatever
//! happens, no namespace of that process may survive it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> (Output, u32) {
    let child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("faultline starts");
    let pid = child.id();
    let out = child.wait_with_output().expect("faultline runs");
    (out, pid)
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fl-cli-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// No namespace of run `t<pid>-…` may be left.
fn assert_no_leftovers(pid: u32) {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip runs");
    let prefix = format!("fl-t{pid}-");
    let left: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
}

fn results(run: &Path) -> serde_json::Value {
    let bytes = std::fs::read(run.join("results.json")).expect("results.json");
    serde_json::from_slice(&bytes).expect("results.json is JSON")
}

fn checker<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["checkers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no {name} checker in {results}"))
}

#[test]
fn a_short_run_is_valid_leaves_its_artifacts_and_rechecks_the_same() {
    let store = scratch("valid");
    let s = store.to_str().unwrap();
    let (out, pid) = faultline(&[
        "test",
        "--nodes",
        "3",
        "--time-limit",
        "8",
        "--nemesis",
        "partition,kill",
        "--nemesis-interval",
        "2",
        "--seed",
        "7",
        "--store",
        s,
        "--no-progress",
    ]);
    assert_no_leftovers(pid);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = std::fs::canonicalize(store.join("latest")).expect("store/latest points at the run");
    for f in [
        "test.json",
        "history.jsonl",
        "status.jsonl",
        "results.json",
        "junit.xml",
        "faultline.log",
        "nodes/n1/raft.log",
    ] {
        assert!(run.join(f).is_file(), "{f} missing in {}", run.display());
    }
    let r = results(&run);
    assert_eq!(r["valid"], "valid", "{r}");
    for c in ["linearizability", "split-brain", "liveness"] {
        assert_eq!(checker(&r, c)["valid"], "valid", "{c}: {r}");
    }
    let test: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("test.json")).unwrap()).unwrap();
    let command = test["command"]
        .as_str()
        .expect("the reproducing command is stored");
    assert!(command.contains("--seed 7"), "{command}");
    let junit = std::fs::read_to_string(run.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"name="linearizability""#), "{junit}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("reproduce: faultline test"), "{stdout}");

    // The stored run checks the same again.
    let (again, _) = faultline(&["check", run.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("linearizability  VALID"));

    // Its history exports to EDN with Jepsen's keywords, and reads back the same.
    let edn = store.join("history.edn");
    let (export, _) = faultline(&[
        "export",
        "--to",
        "edn",
        "-o",
        edn.to_str().unwrap(),
        run.to_str().unwrap(),
    ]);
    assert_eq!(export.status.code(), Some(0), "{}", text(&export));
    let exported = std::fs::read_to_string(&edn).unwrap();
    for keyword in [
        ":type :invoke",
        ":type :ok",
        ":f :write",
        ":process :nemesis",
    ] {
        assert!(
            exported.contains(keyword),
            "{keyword} missing in {exported}"
        );
    }
    let read = |p: &Path| {
        checkers::format::read(&std::fs::read(p).unwrap(), None)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .1
    };
    let (original, back) = (read(&run.join("history.jsonl")), read(&edn));
    assert_eq!(original.len(), back.len());
    for (a, b) in original.iter().zip(&back) {
        assert_eq!(
            (a.index, a.time, a.process, a.kind, &a.f, &a.key, &a.value, &a.error),
            (b.index, b.time, b.process, b.kind, &b.f, &b.key, &b.value, &b.error),
        );
    }
    std::fs::remove_dir_all(&store).unwrap();
}

/// The planted stale read is caught by the linearizability checker. A single short run
/// catches it most of the time; three seeds make a miss vanishingly rare, and a real
/// regression (a checker that no longer sees stale reads) fails all three.
#[test]
fn a_planted_stale_read_is_caught_by_linearizability() {
    let store = scratch("stale");
    let s = store.to_str().unwrap();
    let mut tried = Vec::new();
    for seed in ["11", "12", "13"] {
        let (out, pid) = faultline(&[
            "test",
            "--nodes",
            "3",
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
            "--store",
            s,
            "--no-progress",
        ]);
        assert_no_leftovers(pid);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0) | Some(1)),
            "harness trouble: {}",
            text(&out)
        );
        let run = std::fs::canonicalize(store.join("latest")).unwrap();
        let r = results(&run);
        if code == Some(1) {
            assert_eq!(checker(&r, "linearizability")["valid"], "invalid", "{r}");
            let summary = checker(&r, "linearizability")["summary"].to_string();
            assert!(summary.contains("not linearizable"), "{summary}");
            // Re-checking the stored run finds it again.
            let (again, _) = faultline(&["check", run.to_str().unwrap()]);
            assert_eq!(again.status.code(), Some(1), "{}", text(&again));
            std::fs::remove_dir_all(&store).unwrap();
            return;
        }
        tried.push(seed);
    }
    panic!("stale-read was not caught with seeds {tried:?}");
}

/// A lock run: the arguments of a short lock test on 3 nodes with the leader paused.
fn lock_args<'a>(store: &'a str, seed: &'a str, bug: bool) -> Vec<&'a str> {
    let mut args = vec![
        "test",
        "--workload",
        "lock",
        "--nodes",
        "3",
        "--time-limit",
        "10",
        "--nemesis",
        "pause:primaries",
        "--nemesis-interval",
        "2",
        "--lock-ttl-ms",
        "4000",
        "--lock-max-hold-ms",
        "3000",
        "--seed",
        seed,
        "--store",
        store,
        "--no-progress",
    ];
    if bug {
        args.extend(["--bug", "lock-no-lease-check"]);
    }
    args
}

/// Without the switch the lock stays safe through leader pauses; with
/// `lock-no-lease-check` the new leader hands out held locks and the lock checker shows
/// two holders at once (three seeds, as for the stale read).
#[test]
fn a_lock_without_lease_check_is_caught_and_a_correct_lock_is_valid() {
    let store = scratch("lock");
    let s = store.to_str().unwrap();
    let (out, pid) = faultline(&lock_args(s, "31", false));
    assert_no_leftovers(pid);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    assert_eq!(checker(&results(&run), "lock")["valid"], "valid");

    let mut tried = Vec::new();
    for seed in ["31", "32", "33"] {
        let (out, pid) = faultline(&lock_args(s, seed, true));
        assert_no_leftovers(pid);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0) | Some(1)),
            "harness trouble: {}",
            text(&out)
        );
        if code == Some(1) {
            let run = std::fs::canonicalize(store.join("latest")).unwrap();
            let r = results(&run);
            let lock = checker(&r, "lock");
            assert_eq!(lock["valid"], "invalid", "{r}");
            let summary = lock["summary"].to_string();
            assert!(summary.contains("two holders at once"), "{summary}");
            std::fs::remove_dir_all(&store).unwrap();
            return;
        }
        tried.push(seed);
    }
    panic!("lock-no-lease-check was not caught with seeds {tried:?}");
}

/// Issue 15: with no `--nemesis` the run plays the default mix, prints it in its header,
/// stores it in test.json, and its windows last at least their minimum.
#[test]
fn issue_15_the_default_mix_is_printed_stored_and_played() {
    let store = scratch("mix");
    let s = store.to_str().unwrap();
    let args = [
        "test",
        "--nodes",
        "3",
        "--time-limit",
        "9",
        "--seed",
        "15",
        "--store",
        s,
        "--no-progress",
    ];
    let (out, pid) = faultline(&args);
    assert_no_leftovers(pid);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nemesis:   default mix: 22% partition:primaries, 11% kill:primaries")
            && stderr.contains("(target failover 300 ms)"),
        "{stderr}"
    );
    let run = std::fs::canonicalize(store.join("latest")).expect("store/latest points at the run");
    let test: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["nemesis"], serde_json::json!(["default"]), "{test}");
    assert!(test["command"]
        .as_str()
        .unwrap()
        .contains("--nemesis default"));
    let mix = &test["nemesis_mix"];
    assert_eq!(
        mix["failover"],
        serde_json::json!({"secs": 0, "nanos": 300_000_000})
    );
    assert_eq!(
        mix["window"]["min"],
        serde_json::json!({"secs": 3, "nanos": 0})
    );
    assert_eq!(mix["choices"].as_array().map(Vec::len), Some(7), "{mix}");
    // Every window played lasted at least 3 s (the heal at the limit included).
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let mut started = None;
    let mut windows = 0;
    for line in history.lines() {
        let op: serde_json::Value = serde_json::from_str(line).unwrap();
        let (Some(f), Some(t)) = (op["f"].as_str(), op["time"].as_u64()) else {
            continue;
        };
        if op["process"] != "nemesis" {
            continue;
        }
        if f.starts_with("start-") {
            started = Some(t);
        } else if let (true, Some(s)) = (f.starts_with("stop-") || f == "heal-all", started) {
            assert!(
                t - s >= 3_000_000_000,
                "a {} ms window: {line}",
                (t - s) / 1_000_000
            );
            started = None;
            windows += 1;
        }
    }
    assert!(windows >= 1, "no window in 9 s: {history}");
}

#[test]
fn bad_flags_exit_254() {
    for args in [
        &["test", "--nemesis", "partition:sideways"][..],
        &["test", "--nemesis", "default,kill"],
        &["test", "--concurrency", "0"],
        &["test", "--workload", "queue"],
        &["test", "--nodes", "0"],
        &["test", "--bug", "stale-sync"],
        &["test", "--rate", "NaN"],
        &["test", "--nemesis", "kill,n3"],
        &[
            "test",
            "--workload",
            "lock",
            "--lock-ttl-ms",
            "1000",
            "--lock-max-hold-ms",
            "2000",
        ],
        // A read mode or a bug switch the target does not have.
        &["test", "--target", "etcd", "--read-mode", "sync"],
        &["test", "--target", "zab", "--read-mode", "serializable"],
        &["test", "--target", "raft", "--read-mode", "local"],
        &["test", "--target", "zab", "--bug", "stale-read"],
        &["test", "--target", "raft", "--bug", "stale-sync"],
        // Issue 18: no candidate, an unknown mode, a lease Consul's sessions cannot have.
        &["test", "--workload", "election", "--candidates", "0"],
        &[
            "test",
            "--workload",
            "election",
            "--candidate-mode",
            "naive,paranoid",
        ],
        &["test", "--workload", "election", "--target", "consul"],
        &[
            "test",
            "--workload",
            "election",
            "--candidate-ttl-ms",
            "1000",
            "--candidate-lease-margin-ms",
            "1000",
        ],
    ] {
        let (out, pid) = faultline(args);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", text(&out));
        assert_no_leftovers(pid);
    }
    let (out, _) = faultline(&[
        "test",
        "--workload",
        "election",
        "--candidate-mode",
        "naive,paranoid",
    ]);
    assert!(
        text(&out).contains("(accepted: naive, lease, fenced)"),
        "{}",
        text(&out)
    );
    // Over SSH, candidates need one service host each (checked before any connection
    // is made); namespace runs make their own.
    let (out, _) = faultline(&["test", "--workload", "election", "--nodes", "h1,h2,h3"]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(
        text(&out).contains("= 9 candidates, but no service node is given; give --service-nodes 9"),
        "{}",
        text(&out)
    );
    // Consul's session TTLs start at 10 s: the workload's default 2 s lease is refused,
    // naming the flag and the range, wherever consul is.
    let (out, _) = faultline(&["test", "--workload", "election", "--target", "consul"]);
    assert!(
        text(&out).contains(
            "--candidate-ttl-ms 2000: Consul's session TTL must be within 10000..=86400000 ms"
        ),
        "{}",
        text(&out)
    );
    let (out, _) = faultline(&["test", "--target", "etcd", "--read-mode", "sync"]);
    assert!(
        text(&out).contains("--read-mode sync is not served by --target etcd"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_torture_run_ends_with_a_table_and_one_junit_for_every_run() {
    let store = scratch("torture");
    let s = store.to_str().unwrap();
    let (out, pid) = faultline(&[
        "test",
        "--nodes",
        "3",
        "--time-limit",
        "3",
        "--nemesis",
        "none",
        "--test-count",
        "2",
        "--seed",
        "21",
        "--name",
        "torture",
        "--store",
        s,
        "--no-progress",
    ]);
    assert_no_leftovers(pid);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout.contains("torture: 2 runs"), "{stdout}");
    let junit = std::fs::read_to_string(store.join("junit.xml")).expect("store/junit.xml");
    for seed in ["torture seed 21", "torture seed 22"] {
        assert!(junit.contains(seed), "{seed} missing in {junit}");
    }
    assert!(junit.contains("linearizability"), "{junit}");
    let _ = std::fs::remove_dir_all(&store);
}

/// The list-append workload end to end on the bundled Raft: a correct run is strict
/// serializable; with `txn-read-uncommitted` the dirty reads show up as cycles, drawn in
/// the report and kept under `elle/`, and a re-check finds them again.
#[test]
fn a_list_append_run_is_valid_and_a_dirty_read_is_caught_and_drawn() {
    let store = scratch("list-append");
    let s = store.to_str().unwrap();
    let run = |bug: Option<&str>, seed: &str| {
        let mut args = vec![
            "test",
            "--workload",
            "list-append",
            "--nodes",
            "3",
            "--time-limit",
            "8",
            "--seed",
            seed,
            "--store",
            s,
            "--no-progress",
        ];
        if let Some(b) = bug {
            args.extend(["--bug", b, "--nemesis", "none"]);
        }
        let (out, pid) = faultline(&args);
        assert_no_leftovers(pid);
        let dir = std::fs::canonicalize(store.join("latest")).unwrap();
        (out, dir)
    };
    let (out, dir) = run(None, "5");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = results(&dir);
    assert_eq!(checker(&r, "list-append")["valid"], "valid", "{r}");
    assert!(checker(&r, "list-append")["details"]["stats"]["ok"].as_u64() > Some(50));
    assert!(!dir.join("elle").exists());

    // A dirty read needs a read to land while an append is replicated but not yet
    // committed: within 8 s that is likely, not certain (one seed's run under the full
    // suite's load had none), so up to three seeds; without the bug none is ever caught.
    let mut tried = Vec::new();
    let (out, dir) = loop {
        let seed = ["5", "6", "7"][tried.len()];
        let (out, dir) = run(Some("txn-read-uncommitted"), seed);
        if out.status.code() == Some(1) || tried.len() == 2 {
            break (out, dir);
        }
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        tried.push(seed);
    };
    assert_eq!(
        out.status.code(),
        Some(1),
        "not caught with seeds 5, 6, 7: {}",
        text(&out)
    );
    let r = results(&dir);
    assert_eq!(checker(&r, "list-append")["valid"], "invalid", "{r}");
    let svgs = std::fs::read_dir(dir.join("elle/G1c"))
        .expect("elle/G1c: the drawn cycles")
        .count();
    assert!(svgs > 0);
    assert!(dir.join("elle/G1c.txt").exists());
    let page = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(page.contains("<div class=\"cycle\"><svg"));
    let (again, _) = faultline(&["check", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    std::fs::remove_dir_all(&store).unwrap();
}

/// Issue 18 end to end: candidates on service nodes of their own, the leading ones
/// paused by the nemesis. Every candidate reaches the Raft and writes; the pauses land
/// on candidate nodes (never on the system's); fenced mode accepts no stale write; the
/// run checks the four election cases and leaves no namespace behind.
#[test]
fn issue_18_an_election_run_pauses_leading_candidates_and_fencing_holds() {
    let store = scratch("election");
    let s = store.to_str().unwrap();
    let (out, pid) = faultline(&[
        "test",
        "--workload",
        "election",
        "--nodes",
        "3",
        "--candidates",
        "2",
        "--candidate-mode",
        "naive,fenced",
        "--candidate-ttl-ms",
        "1000",
        "--candidate-lease-margin-ms",
        "200",
        "--time-limit",
        "20",
        "--nemesis",
        "pause:leader-candidate",
        "--nemesis-interval",
        "3",
        "--seed",
        "18",
        "--store",
        s,
        "--no-progress",
    ]);
    assert_no_leftovers(pid);
    // Naive mode may split (exit 1); anything else is a broken run.
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        text(&out)
    );
    let run = std::fs::canonicalize(store.join("latest")).expect("store/latest points at the run");
    let results = results(&run);
    for name in [
        "application-split-brain",
        "stale-writes",
        "election-tokens",
        "election-failover",
    ] {
        let c = checker(&results, name);
        assert_ne!(c["valid"], "unknown", "{name}: {c}");
    }
    assert_eq!(checker(&results, "election-tokens")["valid"], "valid");
    assert_eq!(checker(&results, "liveness")["valid"], "valid");
    let modes = checker(&results, "stale-writes")["details"]["modes"]
        .as_array()
        .expect("a report per mode")
        .clone();
    assert_eq!(modes.len(), 2, "{modes:?}");
    for m in &modes {
        assert!(m["writes_accepted"].as_u64().unwrap() > 20, "{m}");
        if m["mode"] == "fenced" {
            assert_eq!(m["stale_writes"], serde_json::json!([]), "{m}");
        }
    }
    // Pauses hit candidates (n4..n7), never the Raft's nodes.
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let mut paused = 0;
    for line in history.lines() {
        let op: serde_json::Value = serde_json::from_str(line).unwrap();
        if op["process"] == "nemesis" && op["f"] == "start-pause" {
            for n in op["value"]["nodes"].as_array().into_iter().flatten() {
                let idx: u16 = n.as_str().unwrap()[1..].parse().unwrap();
                assert!(idx >= 4, "a system node was paused: {line}");
                paused += 1;
            }
        }
    }
    assert!(paused >= 1, "no candidate was paused: {history}");
    // The terminal ends with the table by mode, its figures the checker's.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("stale writes") && stdout.contains("fenced off"),
        "{}",
        text(&out)
    );
    for m in &modes {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == m["mode"].as_str())
            .unwrap_or_else(|| panic!("no table row for {}: {}", m["mode"], text(&out)));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cols[2],
            m["stale_writes"].as_array().unwrap().len().to_string(),
            "{row}"
        );
        assert_eq!(cols[3], m["writes_fenced"].to_string(), "{row}");
    }
    let _ = std::fs::remove_dir_all(&store);
}
