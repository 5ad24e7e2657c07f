//! The results of checking a run: one [`CheckerResult`] per checker, merged into a
//! [`Results`] that becomes `results.json`, `junit.xml` and the exit code.
//!
//! ```text
//! linearizability ─┐
//! split-brain ─────┼──► Results { valid, checkers[] } ──► results.json, junit.xml, exit code
//! lock, liveness ──┘
//! ```
//!
//! Merging follows the design: Invalid > Unknown > Valid. Exit codes are Jepsen's:
//! 0 valid, 1 invalid, 2 unknown.

use std::time::Duration;

use checkers::verdict::Validity;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};

/// What one checker concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckerResult {
    /// e.g. "linearizability", "split-brain", "lock", "liveness".
    pub name: String,
    pub valid: Validity,
    /// Plain-word lines for humans; anomalies first.
    pub summary: Vec<String>,
    /// The checker's full report (its own serde type), for machines and the report.
    #[serde(default)]
    pub details: serde_json::Value,
    /// How long the check took.
    #[serde(default)]
    pub millis: u64,
}

/// Everything the checkers said about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub valid: Validity,
    pub checkers: Vec<CheckerResult>,
    /// Per fault window: time to a leader and to the first ok write, error rate during
    /// it, recovery after its heal. Not a verdict: what an engineer weighs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability: Vec<crate::report::Availability>,
}

impl Results {
    pub fn new(checkers: Vec<CheckerResult>) -> Results {
        let valid = checkers
            .iter()
            .map(|c| c.valid)
            .fold(Validity::Valid, Validity::merge);
        Results {
            valid,
            checkers,
            availability: Vec::new(),
        }
    }

    /// Jepsen's exit code for this verdict.
    pub fn exit_code(&self) -> u8 {
        match self.valid {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    /// JUnit XML: one test suite for the run, one test case per checker; a failure's
    /// text is the checker's summary.
    pub fn junit(&self, suite: &str) -> String {
        let mut report = Report::new("faultline");
        let mut ts = TestSuite::new(suite);
        for c in &self.checkers {
            let mut status = match c.valid {
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
        report.add_test_suite(ts);
        report
            .to_string()
            .unwrap_or_else(|e| format!("<!-- junit rendering failed: {e} -->\n"))
    }

    /// The terminal summary: one line per checker, then its summary lines indented.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checkers {
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
        if !self.availability.is_empty() {
            out.push_str("availability\n");
            let ms = |v: Option<u64>| {
                v.map_or("-".to_string(), |ns| format!("{:.0} ms", ns as f64 / 1e6))
            };
            for a in self.availability.iter().take(20) {
                out.push_str(&format!(
                    "    {} at {:.1} s: leader {}, first write {}, errors {}, recovered {} after heal\n",
                    a.fault,
                    a.start as f64 / 1e9,
                    ms(a.leader_after),
                    ms(a.first_ok_write_after),
                    a.error_rate.map_or("-".to_string(), |r| format!("{:.0}%", r * 100.0)),
                    ms(a.recovered_after_heal),
                ));
            }
        }
        out.push_str(&format!("{:<16} {}\n", "overall", word(self.valid)));
        out
    }
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
        CheckerResult {
            name: name.into(),
            valid,
            summary: summary.iter().map(|s| s.to_string()).collect(),
            details: serde_json::Value::Null,
            millis: 12,
        }
    }

    #[test]
    fn invalid_beats_unknown_beats_valid() {
        let v =
            |vs: &[Validity]| Results::new(vs.iter().map(|v| result("c", *v, &[])).collect()).valid;
        assert_eq!(v(&[]), Validity::Valid);
        assert_eq!(v(&[Validity::Valid, Validity::Unknown]), Validity::Unknown);
        assert_eq!(
            v(&[Validity::Unknown, Validity::Invalid, Validity::Valid]),
            Validity::Invalid
        );
        assert_eq!(
            Results::new(vec![result("c", Validity::Invalid, &[])]).exit_code(),
            1
        );
        assert_eq!(
            Results::new(vec![result("c", Validity::Unknown, &[])]).exit_code(),
            2
        );
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
        let xml = r.junit("raft-register");
        assert!(xml.contains(r#"tests="3""#), "{xml}");
        assert!(xml.contains(r#"failures="1""#), "{xml}");
        assert!(xml.contains(r#"errors="1""#), "{xml}");
        assert!(xml.contains("two leaders in term 4: n1 and n3"), "{xml}");
        assert!(xml.contains(r#"<testcase name="linearizability""#), "{xml}");
    }

    #[test]
    fn results_round_trip_through_json() {
        let r = Results::new(vec![result("lock", Validity::Invalid, &["overlap"])]);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""valid":"invalid""#), "{json}");
        assert_eq!(serde_json::from_str::<Results>(&json).unwrap(), r);
        assert!(r.render_text().contains("lock             INVALID"));
    }
}
