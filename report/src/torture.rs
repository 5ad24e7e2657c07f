//! Torture runs (`faultline test --test-count N`): the table that ends them and the
//! combined `junit.xml` in the store root.
//!
//! ```text
//! run 1 ─┐
//! run 2 ─┼─► [TortureRun] ──► table()  ──► the closing summary: seed, verdict, anomaly
//!  …     │                               kinds, worst failover, store directory
//! run N ─┘                ──► junit()  ──► <store>/junit.xml: a test suite per run,
//!                                          a test case per checker (and per harness error)
//! ```
//!
//! Pure: the runs in, text out. A run that could not start (no run directory, a
//! harness error before its clients) is a row and a JUnit error like any other, so
//! one broken run never hides the others.

use std::path::PathBuf;

use checkers::check::Results;
use checkers::verdict::Validity;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::summary::{ms, Facts};

/// One run of a torture series, as it ended.
#[derive(Debug, Clone)]
pub struct TortureRun {
    pub seed: u64,
    /// The run's store directory (`None` when not even that could be made).
    pub dir: Option<PathBuf>,
    /// The checkers' results (`None` when the run never got to checking).
    pub results: Option<Results>,
    /// The harness error that ended the run early, in words.
    pub harness_error: Option<String>,
    pub interrupted: bool,
}

impl TortureRun {
    /// The verdict column: the checkers' verdict, or "harness error".
    pub fn verdict(&self) -> &'static str {
        if self.harness_error.is_some() {
            return "HARNESS ERROR";
        }
        match self.results.as_ref().map(|r| r.valid) {
            Some(Validity::Valid) => "VALID",
            Some(Validity::Invalid) => "INVALID",
            Some(Validity::Unknown) | None => "UNKNOWN",
        }
    }
}

/// The closing table: one row per run, then a line of totals.
pub fn table(test: &str, runs: &[TortureRun]) -> String {
    let rows: Vec<[String; 5]> = runs
        .iter()
        .map(|r| {
            let facts = r.results.as_ref().map(Facts::of);
            let kinds = facts
                .as_ref()
                .map(|f| {
                    f.anomalies
                        .iter()
                        .map(|a| a.label())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "-".into());
            let worst = facts
                .as_ref()
                .and_then(|f| f.failover.worst)
                .map_or_else(|| "-".into(), ms);
            let mut verdict = r.verdict().to_string();
            if r.interrupted {
                verdict.push_str(" (interrupted)");
            }
            [
                r.seed.to_string(),
                verdict,
                kinds,
                worst,
                r.dir
                    .as_ref()
                    .map_or_else(|| "-".into(), |d| d.display().to_string()),
            ]
        })
        .collect();
    let header = ["seed", "verdict", "anomalies", "worst failover", "store"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 4 {
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = format!("{test}: {} runs\n", runs.len());
    out.push_str(&line(header));
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    let count = |v: &str| runs.iter().filter(|r| r.verdict() == v).count();
    out.push_str(&format!(
        "totals: {} valid, {} invalid, {} unknown, {} harness errors\n",
        count("VALID"),
        count("INVALID"),
        count("UNKNOWN"),
        count("HARNESS ERROR")
    ));
    out
}

/// The combined JUnit XML: a test suite per run (`<test> seed <n>`), a test case per
/// checker, and a `harness` error case for a run a harness error ended.
pub fn junit(test: &str, runs: &[TortureRun]) -> String {
    let mut report = Report::new("faultline");
    for r in runs {
        let name = format!("{test} seed {}", r.seed);
        let mut suite = match &r.results {
            Some(results) => crate::results::suite(results, &name),
            None => TestSuite::new(name.as_str()),
        };
        if let Some(e) = &r.harness_error {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_type("harness-error");
            status.set_message(e.as_str());
            if let Some(d) = &r.dir {
                status.set_description(format!("store: {}", d.display()));
            }
            let mut case = TestCase::new("harness", status);
            case.set_classname(name.as_str());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit rendering failed: {e} -->\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::check::CheckerResult;
    use checkers::faults::Availability;

    fn results(valid: Validity) -> Results {
        let mut r = Results::new(vec![
            CheckerResult::new("linearizability", Validity::Valid, vec![]),
            CheckerResult::new(
                "split-brain",
                valid,
                vec!["two leaders in term 7: n1 and n3".into()],
            )
            .with_details(&serde_json::json!({"report": {"anomalies": [{"kind": "two-leaders"}]}})),
        ]);
        r.availability = vec![Availability {
            fault: "kill [n1]".into(),
            start: 0,
            end: None,
            first_ok_write_after: Some(1_400_000_000),
            leader_after: Some(1_250_000_000),
            error_rate: None,
            recovered_after_heal: None,
        }];
        r
    }

    fn runs() -> Vec<TortureRun> {
        vec![
            TortureRun {
                seed: 11,
                dir: Some("store/t/20261201T000000".into()),
                results: Some(results(Validity::Valid)),
                harness_error: None,
                interrupted: false,
            },
            TortureRun {
                seed: 12,
                dir: Some("store/t/20261201T000100".into()),
                results: Some(results(Validity::Invalid)),
                harness_error: None,
                interrupted: false,
            },
            TortureRun {
                seed: 13,
                dir: None,
                results: None,
                harness_error: Some("bringing up 5 nodes: no iptables".into()),
                interrupted: false,
            },
        ]
    }

    #[test]
    fn the_table_has_a_row_per_run_with_its_kinds_failover_and_store() {
        let t = table("raft-register", &runs());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "raft-register: 3 runs");
        assert!(lines[1].starts_with("seed  verdict"), "{t}");
        assert!(
            lines[2].starts_with("11    VALID")
                && lines[2].contains("1.25 s")
                && lines[2].ends_with("store/t/20261201T000000"),
            "{t}"
        );
        assert!(
            lines[3].contains("INVALID") && lines[3].contains("split-brain/two-leaders"),
            "{t}"
        );
        assert!(lines[4].starts_with("13    HARNESS ERROR"), "{t}");
        assert_eq!(
            lines[5],
            "totals: 1 valid, 1 invalid, 0 unknown, 1 harness errors"
        );
    }

    #[test]
    fn the_combined_junit_has_a_suite_per_run_and_a_case_per_checker() {
        let xml = junit("raft-register", &runs());
        assert_eq!(xml.matches("<testsuite ").count(), 3, "{xml}");
        assert!(
            xml.contains(r#"<testsuite name="raft-register seed 12" tests="2""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<testsuites name="faultline" tests="5" failures="1" errors="1""#),
            "{xml}"
        );
        assert!(xml.contains("bringing up 5 nodes: no iptables"), "{xml}");
        assert!(xml.contains(r#"type="harness-error""#), "{xml}");
    }
}
