//! End-to-end tests of `faultline check` and `faultline export` (the binary).

use std::path::PathBuf;
use std::process::{Command, Output};

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn golden(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("checkers/testdata/porcupine-kv")
        .join(name);
    p.to_string_lossy().into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn c50_bad_is_illegal_names_the_key_and_ops_and_exits_1() {
    let out = faultline(&["check", &golden("c50-bad.txt")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("INVALID"), "{stdout}");
    assert!(stdout.contains("is not linearizable"), "{stdout}");
    assert!(
        stdout.contains("No order lets this op complete: process"),
        "{stdout}"
    );
    assert!(stdout.contains("(line "), "{stdout}");
}

#[test]
fn ok_files_exit_0() {
    for f in ["c01-ok.txt", "c10-ok.txt", "c50-ok.txt"] {
        let out = faultline(&["check", &golden(f)]);
        assert_eq!(out.status.code(), Some(0), "{f}: {}", text(&out.stdout));
        assert!(text(&out.stdout).contains("VALID"));
    }
}

#[test]
fn json_output_is_a_verdict() {
    let out = faultline(&["check", "--json", &golden("c01-bad.txt")]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["valid"], "invalid");
    assert_eq!(v["model"], "kv");
    assert_eq!(v["anomalies"][0]["key"], "7");
}

#[test]
fn out_of_budget_exits_2() {
    let out = faultline(&["check", "--time-limit", "0ms", &golden("c50-ok.txt")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("UNKNOWN"));
}

#[test]
fn malformed_input_exits_254_with_file_and_line() {
    let path = scratch("bad.jsonl");
    std::fs::write(
        &path,
        "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{\"process\":1,\"type\":\"ok\",\"f\":\"read\"\n",
    )
    .expect("write");
    let out = faultline(&["check", path.to_str().expect("utf-8 path")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2:", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("expected"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let missing = faultline(&["check", "/nonexistent/history.jsonl"]);
    assert_eq!(missing.status.code(), Some(254));
    let bad_flag = faultline(&["check", "--time-limit", "soon", &golden("c01-ok.txt")]);
    assert_eq!(bad_flag.status.code(), Some(254));
}

#[test]
fn a_run_directory_is_checked_through_its_history_jsonl() {
    let dir = scratch("run");
    std::fs::create_dir_all(&dir).expect("dir");
    let history = "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n\
                   {\"index\":1,\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1}\n\
                   {\"index\":2,\"time\":3,\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"partition\",\"value\":{\"n1\":[\"n2\"]}}\n\
                   {\"index\":3,\"time\":4,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n\
                   {\"index\":4,\"time\":5,\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":null}\n";
    std::fs::write(dir.join("history.jsonl"), history).expect("write");
    let out = faultline(&["check", dir.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("register model"),
        "{}",
        text(&out.stdout)
    );
    let cas = faultline(&[
        "check",
        "--model",
        "cas-register",
        dir.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(
        cas.status.code(),
        Some(1),
        "stale read under cas-register too"
    );
}

#[test]
fn export_to_edn_and_back_keeps_the_verdict() {
    let edn = scratch("c01-bad.edn");
    let out = faultline(&[
        "export",
        "--to",
        "edn",
        "-o",
        edn.to_str().expect("utf-8"),
        &golden("c01-bad.txt"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&edn).expect("exported");
    assert!(
        written.starts_with("[{:index 0, :process 0, :type :invoke, :f :"),
        "{written}"
    );
    let again = faultline(&["check", "--format", "edn", edn.to_str().expect("utf-8")]);
    assert_eq!(again.status.code(), Some(1));

    let jsonl = faultline(&["export", "--to", "jsonl", &golden("c01-ok.txt")]);
    assert_eq!(jsonl.status.code(), Some(0));
    let first = text(&jsonl.stdout)
        .lines()
        .next()
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        first.starts_with("{\"index\":0,\"time\":0,\"process\":"),
        "{first}"
    );
}

#[test]
fn bench_prints_timings_and_peak_memory() {
    let out = faultline(&[
        "check",
        "--bench",
        "3",
        &golden("c01-ok.txt"),
        &golden("c01-bad.txt"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(
        s.contains("median") && s.contains("total of medians"),
        "{s}"
    );
}

fn testdata(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("checkers/testdata")
        .join(rel);
    p.to_string_lossy().into_owned()
}

#[test]
fn jepsen_logs_with_timeouts_check_as_cas_registers() {
    let out = faultline(&["check", &testdata("jepsen/etcd-timeouts-ok.log")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("cas-register model"), "{stdout}");
    let bad = faultline(&["check", &testdata("jepsen/etcd-timeouts-bad.log")]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stdout));
}

#[test]
fn multi_register_is_auto_detected_and_checked_as_a_whole() {
    let out = faultline(&["check", &testdata("knossos/multi-register-ok.edn")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("multi-register model"), "{stdout}");
    let torn = faultline(&["check", &testdata("knossos/multi-register-torn-read.edn")]);
    assert_eq!(torn.status.code(), Some(1), "{}", text(&torn.stdout));
    let explicit = faultline(&[
        "check",
        "--model",
        "multi-register",
        "--initial-value",
        "0",
        &testdata("knossos/multi-register-ok.edn"),
    ]);
    assert_eq!(
        explicit.status.code(),
        Some(1),
        "z read nil but starts at 0"
    );
}

#[test]
fn initial_value_starts_the_register_there() {
    let path = scratch("starts-at-0.edn");
    std::fs::write(
        &path,
        "({:process 0, :type :invoke, :f :read, :value nil}\n \
         {:process 0, :type :ok, :f :read, :value 0}\n \
         {:process 1, :type :invoke, :f :cas, :value [0 3]}\n \
         {:process 1, :type :ok, :f :cas, :value [0 3]})\n",
    )
    .expect("write");
    let p = path.to_str().expect("utf-8");
    assert_eq!(faultline(&["check", p]).status.code(), Some(1));
    let zero = faultline(&["check", "--initial-value", "0", p]);
    assert_eq!(zero.status.code(), Some(0), "{}", text(&zero.stdout));
    let negative = faultline(&["check", "--initial-value", "-1", p]);
    assert_eq!(
        negative.status.code(),
        Some(1),
        "{}",
        text(&negative.stderr)
    );
    let kv = faultline(&["check", "--initial-value", "0", &golden("c01-ok.txt")]);
    assert_eq!(kv.status.code(), Some(254));
    assert!(
        text(&kv.stderr).contains("--initial-value applies to the register"),
        "{}",
        text(&kv.stderr)
    );
}

#[test]
fn several_files_are_all_checked_and_the_exit_code_is_the_worst() {
    let unreadable = scratch("unbalanced.edn");
    std::fs::write(
        &unreadable,
        "({:process 0, :type :invoke, :f :read, :value nil}\n \
         {:process 0, :type :ok, :f :read, :value nil}]\n",
    )
    .expect("write");
    let u = unreadable.to_str().expect("utf-8");
    let ok = golden("c01-ok.txt");
    let invalid = golden("c01-bad.txt");
    // The unreadable file comes first: the others are still checked and reported.
    let out = faultline(&["check", u, &ok, &invalid, "/nonexistent/history.jsonl"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(254), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("{u}:2: expected ) to close the history list")),
        "{stderr}"
    );
    assert!(
        stderr.contains("/nonexistent/history.jsonl: cannot read"),
        "{stderr}"
    );
    assert!(
        stdout.contains("c01-ok.txt") && stdout.contains("c01-bad.txt"),
        "{stdout}"
    );
    assert!(
        stdout.contains("VALID") && stdout.contains("INVALID"),
        "{stdout}"
    );
    assert!(
        stdout.contains("4 histories: 1 valid, 1 invalid, 2 could not be read"),
        "{stdout}"
    );
    // Without the bad ones: invalid beats unknown beats valid.
    let out = faultline(&["check", "--time-limit", "0ms", &ok, &golden("c50-ok.txt")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let out = faultline(&["check", &ok, &invalid, &ok]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    // --json: one object per file, the unreadable one with its error.
    let out = faultline(&["check", "--json", u, &ok]);
    let objects: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(objects.len(), 2);
    assert!(objects[0]["error"]
        .as_str()
        .unwrap_or("")
        .contains(":2: expected )"));
    assert_eq!(objects[1]["valid"], "valid");
    assert!(objects[1]["file"]
        .as_str()
        .unwrap_or("")
        .ends_with("c01-ok.txt"));
}

#[test]
fn bad_input_names_file_line_and_what_was_expected() {
    let cases = [
        (
            "truncated.edn",
            "[{:process 0, :type :invoke, :f :read, :value nil}\n \
             {:process 0, :type :ok, :f :read, :value nil}\n \
             {:process 1, :type :invoke, :f :write, :value [1",
            ":3: expected ] to close the vector opened on line 3",
        ),
        (
            "unclosed-list.edn",
            "({:process 0, :type :invoke, :f :read, :value nil}\n \
             {:process 0, :type :ok, :f :read, :value nil}\n",
            ":3: expected ) to close the history list opened on line 1, found the end of the file",
        ),
        (
            "unknown-type.log",
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
             INFO  jepsen.util - 0\t:okay\t:read\tnil\n\
             INFO  jepsen.util - 1\t:invoke\t:read\tnil\n",
            ":2: expected a type :invoke, :ok, :fail or :info after the process, found \":okay\"",
        ),
    ];
    for (name, content, want) in cases {
        let path = scratch(name);
        std::fs::write(&path, content).expect("write");
        let p = path.to_str().expect("utf-8");
        let out = faultline(&["check", p]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("error: {p}{want}")),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn a_torn_last_line_checks_the_prefix_and_says_so() {
    // A controller killed mid-write: no final newline, the last op half written.
    let path = scratch("torn.jsonl");
    std::fs::write(
        &path,
        "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n\
         {\"index\":1,\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1}\n\
         {\"index\":2,\"time\":3,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n\
         {\"index\":3,\"time\":4,\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n\
         {\"index\":4,\"time\":5,\"process\":1,\"type\":\"inv",
    )
    .expect("write");
    let p = path.to_str().expect("utf-8");
    let out = faultline(&["check", p]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("note: the last line (line 5) is torn"),
        "{stdout}"
    );
    assert!(stdout.contains("checked the 4 ops before it"), "{stdout}");
    let json = faultline(&["check", "--json", p]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert!(v["torn"].as_str().unwrap_or("").contains("line 5"), "{v}");
    // The same line completed by a newline is not torn: it is bad input.
    std::fs::write(
        &path,
        format!("{}\n", std::fs::read_to_string(&path).expect("read")),
    )
    .expect("write");
    assert_eq!(faultline(&["check", p]).status.code(), Some(254));
    // A log line torn where it still reads (`:re` for `:read`) is torn too.
    let log = scratch("torn.log");
    std::fs::write(
        &log,
        "INFO  jepsen.util - 0\t:invoke\t:write\t1\n\
         INFO  jepsen.util - 0\t:ok\t:write\t1\n\
         INFO  jepsen.util - 1\t:invoke\t:re",
    )
    .expect("write");
    let out = faultline(&["check", log.to_str().expect("utf-8")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("(line 3) is torn"), "{stdout}");
}

#[test]
fn list_append_is_detected_and_judged_by_the_consistency_model() {
    let skew = testdata("elle/write-skew.edn");
    let out = faultline(&["check", &skew]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("INVALID under strict-serializable, which forbids G2-item"),
        "{stdout}"
    );
    assert!(stdout.contains("(rw)"), "{stdout}");
    let out = faultline(&[
        "check",
        "--model",
        "list-append",
        "--consistency-model",
        "snapshot-isolation",
        &skew,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = faultline(&["check", "--json", &skew]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["valid"], "invalid");
    assert_eq!(v["anomaly_types"][0], "G2-item");
    assert_eq!(v["satisfies"][0], "snapshot-isolation");
    // No time for the cycle search: snapshot isolation cannot be decided.
    let out = faultline(&[
        "check",
        "--consistency-model",
        "snapshot-isolation",
        "--time-limit",
        "0ms",
        &skew,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("UNKNOWN"));
}

#[test]
fn malformed_transactions_exit_254_with_file_and_line() {
    let out = faultline(&["check", &testdata("elle/bad-duplicate-append.edn")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{stderr}");
    assert!(
        stderr.contains("bad-duplicate-append.edn:3: appends 1 to key 5 again"),
        "{stderr}"
    );
    // The other two malformed transactions of issue 14, in both formats.
    let edn = [
        (
            "elle/bad-micro-op.edn",
            "bad-micro-op.edn:3:",
            "unknown function \"w\"",
        ),
        (
            "elle/bad-read-value.edn",
            "bad-read-value.edn:2:",
            "to be a list",
        ),
    ];
    for (file, at, what) in edn {
        let out = faultline(&["check", &testdata(file)]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{file}: {stderr}");
        assert!(
            stderr.contains(at) && stderr.contains(what),
            "{file}: {stderr}"
        );
    }
    let invoke = r#"{"process":0,"type":"invoke","f":"txn","value":[["append",1,1]]}"#;
    let ok = r#"{"process":0,"type":"ok","f":"txn","value":[["append",1,1]]}"#;
    let jsonl = [
        (
            "unknown-micro-op.jsonl",
            r#"{"process":1,"type":"invoke","f":"txn","value":[["w",1,2]]}"#,
            "unknown-micro-op.jsonl:3:",
            "unknown function \"w\"",
        ),
        (
            "read-not-a-list.jsonl",
            r#"{"process":1,"type":"invoke","f":"txn","value":[["r",1,null]]}
{"process":1,"type":"ok","f":"txn","value":[["r",1,"1 2"]]}"#,
            "read-not-a-list.jsonl:4:",
            "to be a list",
        ),
        (
            "duplicate-append.jsonl",
            r#"{"process":1,"type":"invoke","f":"txn","value":[["append",1,1]]}"#,
            "duplicate-append.jsonl:3:",
            "appends 1 to key 1 again",
        ),
    ];
    for (name, tail, at, what) in jsonl {
        let path = scratch(name);
        std::fs::write(&path, format!("{invoke}\n{ok}\n{tail}\n")).expect("write");
        let out = faultline(&["check", path.to_str().expect("utf-8 path")]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{name}: {stderr}");
        assert!(
            stderr.contains(at) && stderr.contains(what),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let mixed = scratch("mixed.jsonl");
    std::fs::write(
        &mixed,
        "{\"process\":0,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"r\",1,null]]}\n\
         {\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n",
    )
    .expect("write");
    let out = faultline(&["check", mixed.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(254));
    assert!(text(&out.stderr).contains("mixed.jsonl:2: the history mixes txn ops"));
}

#[test]
fn list_append_exports_to_edn_with_keywords() {
    let jsonl = scratch("skew.jsonl");
    let out = faultline(&[
        "export",
        "--to",
        "jsonl",
        &testdata("elle/write-skew.edn"),
        "-o",
        jsonl.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = faultline(&["export", "--to", "edn", jsonl.to_str().expect("utf-8 path")]);
    let edn = text(&out.stdout);
    assert!(
        edn.contains(":f :txn, :value [[:r :x nil] [:append :y 1]]"),
        "{edn}"
    );
    let back = scratch("skew.edn");
    std::fs::write(&back, &edn).expect("write");
    let out = faultline(&["check", back.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
}

#[test]
fn algorithm_picks_the_path_and_the_verdict_says_which() {
    // Key 3: a stale read (write 1, write 2, then a read of 1); key 4: 7 written twice.
    let path = scratch("algorithm.jsonl");
    let line = |i: u32, p: u32, ty: &str, f: &str, key: u32, v: &str| {
        format!(
            "{{\"index\":{i},\"process\":{p},\"type\":\"{ty}\",\"f\":\"{f}\",\"key\":{key},\"value\":{v}}}\n"
        )
    };
    let history = [
        line(0, 0, "invoke", "write", 3, "1"),
        line(1, 0, "ok", "write", 3, "1"),
        line(2, 1, "invoke", "write", 3, "2"),
        line(3, 1, "ok", "write", 3, "2"),
        line(4, 2, "invoke", "read", 3, "null"),
        line(5, 2, "ok", "read", 3, "1"),
        line(6, 3, "invoke", "write", 4, "7"),
        line(7, 3, "ok", "write", 4, "7"),
        line(8, 3, "invoke", "write", 4, "7"),
        line(9, 3, "ok", "write", 4, "7"),
    ]
    .concat();
    std::fs::write(&path, history).expect("write");
    let p = path.to_str().expect("utf-8 path");
    let json = |out: &Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).expect("one JSON object")
    };

    let auto = faultline(&["check", "--all-keys", "--json", p]);
    assert_eq!(auto.status.code(), Some(1), "{}", text(&auto.stderr));
    let v = json(&auto);
    assert_eq!(v["keys"][0]["method"], "unique-values");
    assert_eq!(v["keys"][1]["method"], "search");
    assert!(v["keys"][1]["fallback"]
        .as_str()
        .is_some_and(|f| f.contains("value 7 is written twice")));
    assert!(v["anomalies"][0]["conflict"].is_string(), "{v}");

    let search = faultline(&["check", "--all-keys", "--algorithm", "search", p]);
    assert_eq!(search.status.code(), Some(1));
    let out = text(&search.stdout);
    assert!(!out.contains("unique values"), "{out}");
    assert!(out.contains("No order lets this op complete"), "{out}");

    let text_out = text(&faultline(&["check", "--all-keys", p]).stdout);
    assert!(
        text_out.contains("search, since value 7 is written twice (#6 and #8)"),
        "{text_out}"
    );

    let kv = faultline(&[
        "check",
        "--algorithm",
        "unique-values",
        &golden("c01-ok.txt"),
    ]);
    assert_eq!(kv.status.code(), Some(254));
    assert!(
        text(&kv.stderr).contains("--algorithm unique-values applies to the register"),
        "{}",
        text(&kv.stderr)
    );
}

/// The text of a report, tags stripped.
fn report_text(dir: &std::path::Path) -> String {
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html written");
    for svg in ["latency.svg", "rate.svg"] {
        assert!(dir.join(svg).is_file(), "{svg} written beside report.html");
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&quot;", "\"").replace("&#39;", "'")
}

#[test]
fn report_for_an_imported_jepsen_history_with_fault_windows() {
    let dir = scratch("report-jepsen");
    let _ = std::fs::remove_dir_all(&dir);
    let out = faultline(&[
        "check",
        "--report",
        dir.to_str().expect("utf-8"),
        &testdata("jepsen/logback-partition-bad.log"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("report: "),
        "{}",
        text(&out.stdout)
    );
    let page = report_text(&dir);
    // Anomalies first, the operations behind them in plain words.
    let anomalies = page.find("Anomalies (1)").expect("an anomalies section");
    let timeline = page.find("History around").expect("a timeline");
    assert!(anomalies < timeline, "anomalies come before the timeline");
    assert!(page.contains("process 0 read: invoked at"), "{page}");
    assert!(page.contains("outcome unknown"), "{page}");
    // One window for the partition: Jepsen's invoke/complete pair is one fault, from
    // the start's invocation (18.000) to the stop's completion (24.050).
    assert!(page.contains("Fault windows"), "{page}");
    assert!(page.contains("partition [\"isolated\""), "{page}");
    assert!(page.contains("from 1.145 s, healed at 7.195 s"), "{page}");
    assert!(
        !page.contains("from 1.355 s"),
        "the start's completion opens no second window"
    );
}

#[test]
fn report_for_knossos_and_porcupine_histories_one_directory_each() {
    let dir = scratch("report-many");
    let _ = std::fs::remove_dir_all(&dir);
    let out = faultline(&[
        "check",
        "--report",
        dir.to_str().expect("utf-8"),
        &testdata("knossos/cas-register-list-bad.edn"),
        &testdata("knossos/history-ok.edn"),
        &golden("c01-bad.txt"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let knossos = report_text(&dir.join("cas-register-list-bad.edn"));
    assert!(knossos.contains("the file records no times"), "{knossos}");
    assert!(knossos.contains("no nemesis ops in the file"), "{knossos}");
    assert!(knossos.contains("Anomalies (1)"), "{knossos}");
    let jepsen = report_text(&dir.join("history-ok.edn"));
    assert!(jepsen.contains("partition"), "{jepsen}");
    assert!(jepsen.contains("Fault windows"), "{jepsen}");
    let porcupine = report_text(&dir.join("c01-bad.txt"));
    assert!(porcupine.contains("kv model"), "{porcupine}");
    assert!(
        porcupine.contains("key \"7\" is not linearizable"),
        "{porcupine}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_list_append_report_draws_each_cycle_and_keeps_elles_files() {
    let dir = scratch("elle-report");
    let out = faultline(&[
        "check",
        "--report",
        dir.to_str().expect("utf-8 path"),
        &testdata("elle/write-skew.edn"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(page.contains("G2-item: a cycle of 2"), "{page}");
    assert!(page.contains("<div class=\"cycle\"><svg"), "{page}");
    let why = std::fs::read_to_string(dir.join("elle/G2-item.txt")).expect("elle/G2-item.txt");
    assert!(why.contains("(rw)"), "{why}");
    let svg = std::fs::read_to_string(dir.join("elle/G2-item/0.svg")).expect("a drawn cycle");
    assert_eq!(svg.matches(">rw</text>").count(), 2, "{svg}");
}
