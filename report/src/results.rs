//! Writing a run's results for machines and people: `junit.xml` (one test case per
//! checker) and the terminal summary. The results themselves and the policy behind them
//! (merging, unknown, exit codes) live in `checkers::check`.
//!
//! ```text
//! checkers::check::Results ──► junit() ──► junit.xml
//!                          └─► render_text() ──► the terminal summary
//! ```

use std::time::Duration;

use checkers::verdict::Validity;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

#[cfg(test)]
use checkers::check::CheckerResult;
use checkers::check::Results;

/// JUnit XML: one test suite for the run, one test case per checker; a failure's text
/// is the checker's summary.
pub fn junit(results: &Results, suite_name: &str) -> String {
    let mut report = Report::new("faultline");
    report.add_test_suite(suite(results, suite_name));
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit rendering failed: {e} -->\n"))
}

/// One run's test suite: a test case per checker (also used by the torture runs'
/// combined `junit.xml`).
pub fn suite(results: &Results, suite: &str) -> TestSuite {
    let mut ts = TestSuite::new(suite);
    for c in &results.checkers {
        let mut status =
            match c.valid {
                Validity::Valid => TestCaseStatus::success(),
                Validity::Invalid => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_type("invalid");
                    s.set_message(c.summary.first().cloned().unwrap_or_default());
                    s
                }
                Validity::Unknown => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_type("unknown");
                    s.set_message(c.summary.first().cloned().unwrap_or_else(|| {
                        "the checker could not decide within its budget".into()
                    }));
                    s
                }
            };
        if c.valid != Validity::Valid {
            status.set_description(c.summary.join("\n"));
        }
        let mut case = TestCase::new(c.name.as_str(), status);
        case.set_classname(suite);
        case.set_time(Duration::from_millis(c.millis));
        ts.add_test_case(case);
    }
    ts
}

/// The terminal summary: one line per checker, then its summary lines indented, then
/// availability per fault.
pub fn render_text(results: &Results) -> String {
    let mut out = String::new();
    for c in &results.checkers {
        out.push_str(&format!("{:<16} {}\n", c.name, word(c.valid)));
        for line in c.summary.iter().take(20) {
            out.push_str(&format!("    {line}\n"));
        }
        if c.summary.len() > 20 {
            out.push_str(&format!(
                "    … {} more lines in results.json\n",
                c.summary.len() - 20
            ));
        }
    }
    if !results.availability.is_empty() {
        out.push_str("availability\n");
        let ms =
            |v: Option<u64>| v.map_or("-".to_string(), |ns| format!("{:.0} ms", ns as f64 / 1e6));
        for a in results.availability.iter().take(20) {
            out.push_str(&format!(
                "    {} at {:.1} s: leader {}, first write {}, errors {}, recovered {} after heal\n",
                a.fault,
                a.start as f64 / 1e9,
                ms(a.leader_after),
                ms(a.first_ok_write_after),
                a.error_rate
                    .map_or("-".to_string(), |r| format!("{:.0}%", r * 100.0)),
                ms(a.recovered_after_heal),
            ));
        }
    }
    if let Some(election) = crate::election::from_results(results) {
        out.push_str(&crate::election::terminal_table(&election));
    }
    out.push_str(&format!("{:<16} {}\n", "overall", word(results.valid)));
    out
}

fn word(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "VALID",
        Validity::Invalid => "INVALID",
        Validity::Unknown => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, valid: Validity, summary: &[&str]) -> CheckerResult {
        CheckerResult::new(name, valid, summary.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn junit_has_a_case_per_checker_and_failure_text() {
        let r = Results::new(vec![
            result("linearizability", Validity::Valid, &[]),
            result(
                "split-brain",
                Validity::Invalid,
                &["two leaders in term 4: n1 and n3"],
            ),
            result("liveness", Validity::Unknown, &[]),
        ]);
        let xml = junit(&r, "raft-register");
        assert!(xml.contains(r#"tests="3""#), "{xml}");
        assert!(xml.contains(r#"failures="1""#), "{xml}");
        assert!(xml.contains(r#"errors="1""#), "{xml}");
        assert!(xml.contains("two leaders in term 4: n1 and n3"), "{xml}");
        assert!(xml.contains(r#"<testcase name="linearizability""#), "{xml}");
    }

    #[test]
    fn an_election_run_ends_with_a_table_by_mode() {
        use checkers::election::{ElectionReport, Failover, Mode, ModeReport, StaleWrite};
        let mode = |mode, stale: usize, fenced, failovers: &[u64]| ModeReport {
            mode,
            valid: stale == 0,
            tenures: vec![],
            overlaps: vec![],
            stale_writes: (0..stale)
                .map(|i| StaleWrite {
                    time: i as u64,
                    candidate: "c1".into(),
                    process: 1,
                    token: 3,
                    newest_candidate: "c2".into(),
                    newest_token: 7,
                    newest_since: 0,
                })
                .collect(),
            writes_accepted: 500,
            writes_fenced: fenced,
            token_order: vec![],
            failovers: failovers
                .iter()
                .map(|ms| Failover {
                    from: "c1".into(),
                    to: "c2".into(),
                    lost: 0,
                    first_write: ms * 1_000_000,
                    nanos: ms * 1_000_000,
                    fault: None,
                })
                .collect(),
        };
        let report = ElectionReport {
            modes: vec![
                mode(Mode::Naive, 12, 0, &[1900, 2100, 4000]),
                mode(Mode::Fenced, 0, 9, &[]),
            ],
        };
        let r = Results::new(vec![CheckerResult::new(
            "stale-writes",
            Validity::Invalid,
            vec![],
        )
        .with_details(&report)]);
        let text = render_text(&r);
        let table: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("election "))
            .take(3)
            .collect();
        assert_eq!(table.len(), 3, "{text}");
        assert!(
            table[0].contains("stale writes") && table[0].contains("p99"),
            "{text}"
        );
        let cols = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            cols(table[1]),
            ["naive", "0", "12", "0", "500", "2.10", "s", "4.00", "s", "INVALID"]
        );
        assert_eq!(
            cols(table[2]),
            ["fenced", "0", "0", "9", "500", "-", "-", "VALID"]
        );
        assert!(text.ends_with("overall          INVALID\n"), "{text}");
        // Other runs have no such table.
        let plain = Results::new(vec![result("lock", Validity::Valid, &[])]);
        assert!(!render_text(&plain).contains("fenced off"));
    }

    #[test]
    fn the_summary_names_each_checker_and_the_overall_verdict() {
        let r = Results::new(vec![result("lock", Validity::Invalid, &["overlap"])]);
        let text = render_text(&r);
        assert!(text.contains("lock             INVALID"), "{text}");
        assert!(text.contains("    overlap"), "{text}");
        assert!(text.contains("overall          INVALID"), "{text}");
    }
}
