//! End to end through the binary: `faultline cluster …` and `faultline clean` (root
//! required: CI is root). Tests are serialized (one lock) because `faultline clean`
//! removes every sandbox; each uses its own cluster name and a guard that removes it
//! even when an assertion fails.

use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("faultline runs")
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn name(tag: &str) -> String {
    format!("cli{:x}-{tag}", std::process::id())
}

fn namespaces(run: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|ns| ns.starts_with(&format!("fl-{run}-")))
        .map(str::to_string)
        .collect()
}

/// The host's iptables rules, routes and links (counters and link state stripped).
fn host_net() -> String {
    let mut s = String::new();
    for args in [
        vec!["iptables-save"],
        vec!["ip", "route", "show", "table", "all"],
        vec!["ip", "-o", "link", "show"],
    ] {
        let out = Command::new(args[0])
            .args(&args[1..])
            .output()
            .expect("host query runs");
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            if !l.starts_with('#') {
                let l = l.split(" [").next().unwrap_or(l);
                let l = l.split(" state ").next().unwrap_or(l);
                s.push_str(l);
                s.push('\n');
            }
        }
    }
    s
}

/// Removes the named cluster on drop (best effort, also after a failed assertion).
struct Down(String);
impl Drop for Down {
    fn drop(&mut self) {
        let _ = faultline(&["clean", "--run", &self.0]);
    }
}

#[test]
fn bad_arguments_exit_254() {
    for args in [
        &["cluster", "up", "--nodes", "0"][..],
        &["cluster", "up", "--name", "Bad_Name"],
        &["cluster", "partition", "nope"],
        &["cluster", "loss", "n1", "2"],
        &["cluster", "kill", "most"],
        &["cluster", "frobnicate"],
        &["cluster", "probe", "192.0.2.1:80"],
        &["cluster", "--name", "definitely-not-a-cluster", "heal"],
    ] {
        let out = faultline(args);
        assert_eq!(code(&out), 254, "{args:?}: {}", stderr(&out));
    }
    assert_eq!(code(&faultline(&["cluster", "--help"])), 0);
}

#[test]
fn sandbox_tour_partition_probe_heal_down() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = host_net();
    let run = name("tour");
    let _down = Down(run.clone());
    let n = ["--name", run.as_str()];
    let up = faultline(&["cluster", "up", "--nodes", "5", n[0], n[1]]);
    assert_eq!(code(&up), 0, "{}", stderr(&up));
    let listing = stdout(&up);
    let addr = |i: usize| -> String {
        let line = listing
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("n{i} ")))
            .expect("node listed");
        line.split_whitespace()
            .nth(1)
            .expect("address column")
            .to_string()
    };
    assert!(addr(1).starts_with("198.1"), "{listing}");
    assert_eq!(namespaces(&run).len(), 7);
    let exe = env!("CARGO_BIN_EXE_faultline");
    for i in 1..=5 {
        let node = format!("n{i}");
        let out = faultline(&[
            "cluster",
            n[0],
            n[1],
            "spawn",
            &node,
            "--",
            exe,
            "cluster",
            "serve-echo",
            "--port",
            "7000",
            "--lifetime-secs",
            "120",
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let probe = |from: &str, to: usize| -> i32 {
        let target = format!("{}:7000", addr(to));
        code(&faultline(&[
            "cluster",
            n[0],
            n[1],
            "exec",
            from,
            "--",
            exe,
            "cluster",
            "probe",
            &target,
            "--timeout-ms",
            "400",
        ]))
    };
    // Every echo server answers (polled with a deadline).
    let deadline = Instant::now() + Duration::from_secs(20);
    for i in 1..=5 {
        while probe("n1", i) != 0 {
            assert!(Instant::now() < deadline, "echo on n{i} never answered");
        }
    }
    let out = faultline(&["cluster", n[0], n[1], "partition", "halves"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(probe("n1", 2), 0, "same side");
    assert_eq!(probe("n1", 3), 1, "across the cut");
    assert_eq!(probe("n4", 5), 0);
    assert_eq!(code(&faultline(&["cluster", n[0], n[1], "heal"])), 0);
    assert_eq!(probe("n1", 3), 0, "healed");
    let out = faultline(&["cluster", n[0], n[1], "partition", "majorities-ring"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let reach = faultline(&[
        "cluster",
        n[0],
        n[1],
        "reach",
        "--port",
        "7001",
        "--timeout-ms",
        "400",
    ]);
    assert_eq!(code(&reach), 0, "{}", stderr(&reach));
    let matrix = stdout(&reach);
    let rows: Vec<&str> = matrix.lines().skip(1).collect();
    assert_eq!(rows.len(), 5, "{matrix}");
    for row in rows {
        assert_eq!(
            row.matches('x').count(),
            2,
            "each node sees two peers: {matrix}"
        );
    }
    let status = stdout(&faultline(&["cluster", n[0], n[1], "status"]));
    assert!(status.contains("partition:"), "{status}");
    assert_eq!(code(&faultline(&["cluster", "down", &run])), 0);
    assert!(namespaces(&run).is_empty());
    assert_eq!(before, host_net(), "host network unchanged");
}

#[test]
fn clean_removes_what_a_sigkilled_controller_left() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let run = name("clean");
    let _down = Down(run.clone());
    let n = ["--name", run.as_str()];
    let up = faultline(&["cluster", "up", "--nodes", "2", n[0], n[1]]);
    assert_eq!(code(&up), 0, "{}", stderr(&up));
    // A controller running a command on n1, SIGKILLed: its child lives on in n1.
    let mut controller = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["cluster", n[0], n[1], "exec", "n1", "--", "sleep", "300"])
        .stdout(Stdio::null())
        .spawn()
        .expect("controller starts");
    let ns = format!("fl-{run}-n1");
    let pids_in_n1 = || {
        let out = Command::new("ip")
            .args(["netns", "pids", &ns])
            .output()
            .expect("ip runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids_in_n1().is_empty() {
        assert!(Instant::now() < deadline, "sleep never started in n1");
    }
    let left = pids_in_n1();
    controller.kill().expect("SIGKILL the controller");
    controller.wait().expect("reap the controller");
    let out = faultline(&["clean"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("removed run {run}")),
        "{}",
        stdout(&out)
    );
    assert!(namespaces(&run).is_empty());
    for pid in left {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        assert!(
            matches!(state, None | Some("Z")),
            "pid {pid} survived: {stat}"
        );
    }
}
