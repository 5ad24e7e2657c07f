//! `faultline node …`: the hidden node subcommand of the real binary.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_faultline");

#[test]
fn node_is_hidden_from_top_level_help() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("running faultline");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(!help.contains("\n  node "), "node must be hidden:\n{help}");
}

#[test]
fn raft_help_documents_every_flag_and_bug_switch() {
    let out = Command::new(BIN)
        .args(["node", "raft", "--help"])
        .output()
        .expect("running faultline node raft --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--id",
        "--peers",
        "--api",
        "--listen",
        "--data-dir",
        "--bug",
        "--tick-ms",
        "--election-min-ms",
        "--election-max-ms",
        "--heartbeat-ms",
        "--max-append-entries",
        "--request-timeout-ms",
        "--seed",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    for bug in targets::raft::Bug::ALL {
        assert!(
            help.contains(&format!("- {}:", bug.name())),
            "{bug} missing from:\n{help}"
        );
    }
}

#[test]
fn bad_node_flags_exit_254() {
    let out = Command::new(BIN)
        .args(["node", "raft", "--id", "n1", "--bug", "no-such-bug"])
        .output()
        .expect("running faultline");
    assert_eq!(out.status.code(), Some(254));
}

#[test]
fn a_node_that_cannot_start_exits_non_zero_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("faultline-cli-node-{}", std::process::id()));
    let out = Command::new(BIN)
        .args(["node", "raft", "--id", "n9", "--peers", "n1=127.0.0.1:1"])
        .args(["--api", "127.0.0.1:2", "--data-dir"])
        .arg(&dir)
        .output()
        .expect("running faultline");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not among --peers"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
