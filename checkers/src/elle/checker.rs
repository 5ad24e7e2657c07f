//! [`ListAppend`]: the list-append checker behind the [`Checker`] interface, so a
//! workload hands it to the engine like any other checker.
//!
//! ```text
//! CheckInput.records ─txns_from_records─► [Txn] ─elle::check(options, budget)─►
//!     ElleReport ─► CheckerResult { valid, summary = describe(), details = report }
//! ```
//! The run's time budget bounds the whole check; each component's cycle search gets
//! at most `component_time_limit` of it. (The budget's memory limit does not apply:
//! the checker's memory is linear in the history.)

use std::time::Duration;

use super::{check, txns_from_records, Budget, Options};
use crate::check::{CheckInput, Checker, CheckerResult};
use crate::InputError;

/// The list-append checker, with the consistency model the run must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct ListAppend {
    pub options: Options,
    pub component_time_limit: Duration,
}

impl Default for ListAppend {
    fn default() -> Self {
        ListAppend {
            options: Options::default(),
            component_time_limit: Budget::default().component_time_limit,
        }
    }
}

impl Checker for ListAppend {
    fn name(&self) -> &str {
        "list-append"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<CheckerResult, InputError> {
        let txns = txns_from_records(input.records)?;
        let time_limit = input.budget.time_limit;
        let budget = Budget {
            time_limit,
            component_time_limit: self.component_time_limit.min(time_limit),
            ..Budget::default()
        };
        let report = check(&txns, &self.options, budget);
        Ok(CheckerResult::new(self.name(), report.valid, report.describe()).with_details(&report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::RunFacts;
    use crate::format;
    use crate::verdict::Validity;

    #[test]
    fn checks_the_records_and_reports_details() {
        let text = r#"{"process":0,"type":"invoke","f":"txn","value":[["r","x",null],["append","y",1]]}
{"process":1,"type":"invoke","f":"txn","value":[["r","y",null],["append","x",1]]}
{"process":0,"type":"ok","f":"txn","value":[["r","x",[]],["append","y",1]]}
{"process":1,"type":"ok","f":"txn","value":[["r","y",[]],["append","x",1]]}
"#;
        let (_, records) = format::read(text.as_bytes(), None).unwrap();
        let input = CheckInput {
            records: &records,
            status: None,
            logs: None,
            faults: &[],
            budget: crate::linearizability::Budget::default(),
            run: RunFacts {
                nodes: 3,
                round: 1,
                recovery_bound: 1,
                writes: &[],
            },
        };
        let r = ListAppend::default().check(&input).unwrap();
        assert_eq!(r.name, "list-append");
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.summary[0].contains("G2-item"), "{:?}", r.summary);
        assert_eq!(r.details["anomalies"][0]["kind"], "G2-item");
        let bad = format::read(
            br#"{"process":0,"type":"invoke","f":"txn","value":[["w","x",1]]}"#,
            None,
        )
        .unwrap()
        .1;
        let e = ListAppend::default()
            .check(&CheckInput {
                records: &bad,
                ..input
            })
            .unwrap_err();
        assert_eq!(e.line(), Some(1));
    }
}
