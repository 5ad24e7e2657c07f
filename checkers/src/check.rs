//! One interface for every checker, and the policy that turns their answers into a
//! run's verdict.
//!
//! ```text
//!                  ┌─ linearizability (per key) ─┐
//! CheckInput ──────┼─ lock, list-append, …  ─────┼──► CheckerResult ×N ──merge──► Results
//! (history,        ├─ split-brain (status log) ──┤     (valid|invalid|unknown,     (verdict, exit
//!  status log,     ├─ replica agreement (logs) ──┤      findings, details)          code, availability)
//!  committed logs, └─ liveness (after the heal) ─┘
//!  fault windows,
//!  budget)
//! ```
//!
//! Policy, in one place:
//! - verdicts merge to the worst: Invalid > Unknown > Valid ([`Validity::merge`]);
//! - exit codes are Jepsen's: 0 valid, 1 invalid, 2 unknown ([`Results::exit_code`]);
//! - a run with no history, or whose history cannot be decoded for a checker, is
//!   unknown, never valid ([`Results::no_history`], [`Results::unreadable`]);
//! - availability per fault window is computed once, here, from the same windows the
//!   checkers saw ([`crate::faults::availability`]).
//!
//! Checkers are pure: a [`CheckInput`] in, a [`CheckerResult`] out.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::faults::{self, Availability, AvailabilityInput, FaultWindow};
use crate::history::Record;
use crate::linearizability::Budget;
use crate::replica_agreement::LogReport;
use crate::split_brain::Observation;
use crate::verdict::Validity;
use crate::InputError;

/// Facts about the run a checker may need besides the history.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts<'a> {
    /// Cluster size.
    pub nodes: usize,
    /// The status observer's polling interval, ns (a round of observations).
    pub round: u64,
    /// How long the healed cluster may take to serve a request again, ns.
    pub recovery_bound: u64,
    /// The operation names (`f`) that are writes, for availability and failover times.
    pub writes: &'a [&'a str],
}

/// What every checker is given.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    /// The whole history, client and nemesis operations, in file order.
    pub records: &'a [Record],
    /// Every node's status as the observer saw it; `None` when the target cannot report.
    pub status: Option<&'a [Observation]>,
    /// Every node's committed log as it reported it after the run; `None` when the
    /// target cannot report one (then the replica-agreement check does not run).
    pub logs: Option<&'a [LogReport]>,
    /// When each fault was in force ([`faults::windows`] of `records`).
    pub faults: &'a [FaultWindow],
    pub budget: Budget,
    pub run: RunFacts<'a>,
}

/// A checker: a name (its JUnit test case) and a pure check.
pub trait Checker: Send + Sync {
    fn name(&self) -> &str;
    /// Checks the input; an `Err` means the history cannot be read as this checker
    /// needs (a malformed op), which the policy turns into an input error.
    fn check(&self, input: &CheckInput<'_>) -> Result<CheckerResult, InputError>;
}

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

impl CheckerResult {
    /// A result with no details.
    pub fn new(name: impl Into<String>, valid: Validity, summary: Vec<String>) -> Self {
        CheckerResult {
            name: name.into(),
            valid,
            summary,
            details: serde_json::Value::Null,
            millis: 0,
        }
    }

    /// Attaches a checker's report as details (see [`details`]).
    pub fn with_details<T: Serialize>(mut self, report: &T) -> Self {
        self.details = details(report);
        self
    }
}

/// A report as JSON for `details`. A report that cannot be serialized is recorded as
/// `{"error": "…"}`, never as a silent `null`.
pub fn details<T: Serialize>(report: &T) -> serde_json::Value {
    serde_json::to_value(report).unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("the checker's report could not be serialized: {e}") })
    })
}

/// Everything the checkers said about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub valid: Validity,
    pub checkers: Vec<CheckerResult>,
    /// Per fault window: time to a leader and to the first ok write, error rate during
    /// it, recovery after its heal. Not a verdict: what an engineer weighs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub availability: Vec<Availability>,
}

impl Results {
    /// Merges the checkers' verdicts: Invalid > Unknown > Valid.
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

    /// A run that recorded no history (it ended before its clients started): unknown.
    pub fn no_history() -> Results {
        Results::new(vec![CheckerResult::new(
            "history",
            Validity::Unknown,
            vec!["no history was recorded (the run ended before its clients started)".into()],
        )])
    }

    /// A history that could not be checked at all: unknown, with the reason.
    pub fn unreadable(reason: &str) -> Results {
        Results::new(vec![CheckerResult::new(
            "history",
            Validity::Unknown,
            vec![format!(
                "the recorded history could not be checked: {reason}"
            )],
        )])
    }

    /// Jepsen's exit code for this verdict: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(&self) -> u8 {
        exit_code(self.valid)
    }
}

/// Jepsen's exit code for a verdict: 0 valid, 1 invalid, 2 unknown.
pub fn exit_code(v: Validity) -> u8 {
    match v {
        Validity::Valid => 0,
        Validity::Invalid => 1,
        Validity::Unknown => 2,
    }
}

/// Runs every checker over `input` (timing each), merges their verdicts, and measures
/// availability per fault window. The first input error ends the check.
pub fn check_all(checkers: &[&dyn Checker], input: &CheckInput<'_>) -> Result<Results, InputError> {
    let mut out = Vec::with_capacity(checkers.len());
    for c in checkers {
        let started = Instant::now();
        let mut r = c.check(input)?;
        if r.millis == 0 {
            r.millis = started.elapsed().as_millis() as u64;
        }
        out.push(r);
    }
    let mut results = Results::new(out);
    results.availability = faults::availability(
        input.records,
        input.faults,
        AvailabilityInput {
            writes: input.run.writes,
            status: input.status,
            nodes: input.run.nodes,
            round: input.run.round,
        },
    );
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, valid: Validity) -> CheckerResult {
        CheckerResult::new(name, valid, Vec::new())
    }

    #[test]
    fn invalid_beats_unknown_beats_valid() {
        let v = |vs: &[Validity]| Results::new(vs.iter().map(|v| result("c", *v)).collect()).valid;
        assert_eq!(v(&[]), Validity::Valid);
        assert_eq!(v(&[Validity::Valid, Validity::Unknown]), Validity::Unknown);
        assert_eq!(
            v(&[Validity::Unknown, Validity::Invalid, Validity::Valid]),
            Validity::Invalid
        );
        assert_eq!(
            Results::new(vec![result("c", Validity::Invalid)]).exit_code(),
            1
        );
        assert_eq!(
            Results::new(vec![result("c", Validity::Unknown)]).exit_code(),
            2
        );
        assert_eq!(Results::no_history().exit_code(), 2);
        assert_eq!(Results::unreadable("torn").valid, Validity::Unknown);
    }

    #[test]
    fn results_round_trip_through_json() {
        let r = Results::new(vec![result("lock", Validity::Invalid)]);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""valid":"invalid""#), "{json}");
        assert_eq!(serde_json::from_str::<Results>(&json).unwrap(), r);
    }

    #[test]
    fn unserializable_details_say_so() {
        struct Bad;
        impl Serialize for Bad {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        let d = details(&Bad);
        assert!(d["error"].as_str().unwrap().contains("no"), "{d}");
    }

    struct Always(Validity);
    impl Checker for Always {
        fn name(&self) -> &str {
            "always"
        }
        fn check(&self, _: &CheckInput<'_>) -> Result<CheckerResult, InputError> {
            Ok(result("always", self.0))
        }
    }

    #[test]
    fn check_all_runs_every_checker_and_merges() {
        let input = CheckInput {
            records: &[],
            status: None,
            logs: None,
            faults: &[],
            budget: Budget::default(),
            run: RunFacts {
                nodes: 3,
                round: 1,
                recovery_bound: 1,
                writes: &[],
            },
        };
        let (ok, bad) = (Always(Validity::Valid), Always(Validity::Invalid));
        let r = check_all(&[&ok, &bad], &input).unwrap();
        assert_eq!(r.checkers.len(), 2);
        assert_eq!(r.valid, Validity::Invalid);
    }
}
