//! End-to-end tests of `faultline summary` (the binary): flags, bad input, and a store
//! with a damaged run. What the summary says is tested in `report` (`summary` unit
//! tests, and `report/tests/report.rs` over runs checked through the real paths).

use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_bad_since_exits_254_with_the_accepted_forms() {
    for bad in ["7", "7x", "0d", "week", "-3d"] {
        let since = format!("--since={bad}");
        let out = faultline(&["summary", "--store", "/nonexistent", &since]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{bad}: {err}");
        assert!(err.contains("<N>m, <N>h, <N>d or <N>w"), "{err}");
    }
}

#[test]
fn a_damaged_run_is_listed_as_incomplete_in_both_formats() {
    let root = std::env::temp_dir().join(format!("faultline-cli-summary-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let run = root.join("raft-register/20261130T010000");
    std::fs::create_dir_all(&run).expect("run dir");
    std::fs::write(run.join("test.json"), "{}").expect("test.json");
    std::fs::write(run.join("results.json"), "{\"valid\": \"val").expect("results.json");
    let store = root.to_string_lossy().into_owned();

    let out = faultline(&["summary", "--store", &store, "--since", "100w"]);
    let md = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{md}{}", text(&out.stderr));
    assert!(md.contains("## raft-register"), "{md}");
    assert!(
        md.contains("| 2026-11-30 01:00:00 | incomplete: results.json: EOF while parsing"),
        "{md}"
    );
    assert!(md.contains("1 runs of 1 tests, 1 incomplete"), "{md}");

    let out = faultline(&["summary", "--store", &store, "--format", "html"]);
    let html = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains("<span class=\"v incomplete\">incomplete</span>"),
        "{html}"
    );
    std::fs::remove_dir_all(&root).expect("cleanup");
}
