//! Liveness: once every fault was healed, did the cluster serve requests again within
//! the bound?
//!
//! ```text
//! history: … nemesis heal-all @ t_h … first client op completing ok @ t_ok …
//! valid  ⇔  t_ok − t_h ≤ bound
//! ```
//!
//! Safety checkers say nothing wrong happened; a cluster that stays down forever after
//! a partition heals passes them all. This checker closes that gap (Jepsen's final
//! "the cluster recovers" phase). Pure: times in, a [`LivenessReport`] out.

use serde::{Deserialize, Serialize};

use crate::check::{CheckInput, Checker, CheckerResult};
use crate::history::{Kind, Process};
use crate::verdict::Validity;
use crate::InputError;

/// What the liveness checker found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivenessReport {
    pub valid: bool,
    /// When the last heal completed (ns since the start of the run).
    pub healed_at: u64,
    /// How long after the heal the first request succeeded, if one did.
    pub recovered_after: Option<u64>,
    /// The bound, in ns.
    pub bound: u64,
    /// Client ops that completed after the heal, and how many of them were ok.
    pub ops_after_heal: u64,
    pub ok_after_heal: u64,
}

impl LivenessReport {
    pub fn describe(&self) -> Vec<String> {
        match self.recovered_after {
            Some(t) if self.valid => vec![format!(
                "the healed cluster served a request {:.3} s after the heal (bound {:.1} s); {} of {} ops after the heal ok",
                secs(t),
                secs(self.bound),
                self.ok_after_heal,
                self.ops_after_heal
            )],
            Some(t) => vec![format!(
                "the healed cluster took {:.3} s to serve a request, more than the bound of {:.1} s",
                secs(t),
                secs(self.bound)
            )],
            None => vec![format!(
                "the healed cluster served no request after the heal ({} ops tried)",
                self.ops_after_heal
            )],
        }
    }
}

/// `completions` are `(time, ok)` of every client completion in the history.
pub fn check(healed_at: u64, completions: &[(u64, bool)], bound: u64) -> LivenessReport {
    let after: Vec<&(u64, bool)> = completions
        .iter()
        .filter(|(t, _)| *t >= healed_at)
        .collect();
    let first_ok = after.iter().filter(|(_, ok)| *ok).map(|(t, _)| *t).min();
    let recovered_after = first_ok.map(|t| t - healed_at);
    LivenessReport {
        valid: recovered_after.is_some_and(|d| d <= bound),
        healed_at,
        recovered_after,
        bound,
        ops_after_heal: after.len() as u64,
        ok_after_heal: after.iter().filter(|(_, ok)| *ok).count() as u64,
    }
}

/// The liveness checker: from the last heal-all in the history, did a client op
/// complete ok within [`RunFacts::recovery_bound`](crate::check::RunFacts)?
///
/// Unknown when the run ended before every fault was healed (no heal-all), or when no
/// client op completed after the heal (the final phase never ran: interrupted).
#[derive(Debug, Clone, Copy, Default)]
pub struct Liveness;

impl Checker for Liveness {
    fn name(&self) -> &str {
        "liveness"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<CheckerResult, InputError> {
        let Some(healed_at) = crate::faults::healed_at(input.records) else {
            return Ok(CheckerResult::new(
                "liveness",
                Validity::Unknown,
                vec!["not measured: the run ended before every fault was healed".into()],
            ));
        };
        let completions: Vec<(u64, bool)> = input
            .records
            .iter()
            .filter(|r| r.process != Process::Nemesis && r.kind != Kind::Invoke)
            .filter_map(|r| r.time.map(|t| (t, r.kind == Kind::Ok)))
            .collect();
        let report = check(healed_at, &completions, input.run.recovery_bound);
        let valid = match (report.valid, report.ops_after_heal) {
            (true, _) => Validity::Valid,
            (false, 0) => Validity::Unknown,
            (false, _) => Validity::Invalid,
        };
        Ok(CheckerResult::new("liveness", valid, report.describe()).with_details(&report))
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn recovery_within_the_bound_is_live() {
        let c = [(S, true), (11 * S, false), (12 * S, true), (13 * S, true)];
        let r = check(10 * S, &c, 5 * S);
        assert!(r.valid);
        assert_eq!(r.recovered_after, Some(2 * S));
        assert_eq!((r.ops_after_heal, r.ok_after_heal), (3, 2));
        assert!(r.describe()[0].contains("2.000 s after the heal"));
    }

    #[test]
    fn slow_or_no_recovery_is_not() {
        let slow = check(10 * S, &[(16 * S, true)], 5 * S);
        assert!(!slow.valid);
        assert!(slow.describe()[0].contains("more than the bound"));
        let never = check(10 * S, &[(S, true), (11 * S, false)], 5 * S);
        assert!(!never.valid);
        assert_eq!(never.recovered_after, None);
        assert!(never.describe()[0].contains("no request"));
    }

    #[test]
    fn the_checker_counts_from_the_last_heal_all() {
        use crate::check::{CheckInput, RunFacts};
        use crate::faults::FaultEvent;
        use crate::history::{ProcessId, Record};
        let rec =
            |time: u64, process: Process, kind: Kind, f: &str, value: serde_json::Value| Record {
                line: 0,
                index: None,
                time: Some(time),
                process,
                kind,
                f: f.into(),
                key: None,
                value,
                error: None,
            };
        let c = Process::Client(ProcessId(0));
        let v = serde_json::Value::Null;
        let heal = serde_json::to_value(FaultEvent::heal_all()).unwrap();
        let run = |records: &[Record]| {
            let input = CheckInput {
                records,
                status: None,
                logs: None,
                faults: &[],
                budget: Default::default(),
                run: RunFacts {
                    nodes: 3,
                    round: 1,
                    recovery_bound: 5 * S,
                    writes: &[],
                },
            };
            Liveness.check(&input).unwrap().valid
        };
        let healed = vec![
            rec(S, c, Kind::Ok, "read", v.clone()),
            rec(
                2 * S,
                Process::Nemesis,
                Kind::Info,
                "heal-all",
                heal.clone(),
            ),
            rec(3 * S, c, Kind::Fail, "read", v.clone()),
            rec(4 * S, c, Kind::Ok, "read", v.clone()),
        ];
        assert_eq!(run(&healed), Validity::Valid);
        let dead = vec![
            rec(
                2 * S,
                Process::Nemesis,
                Kind::Info,
                "heal-all",
                heal.clone(),
            ),
            rec(3 * S, c, Kind::Fail, "read", v.clone()),
        ];
        assert_eq!(run(&dead), Validity::Invalid);
        assert_eq!(run(&healed[..1]), Validity::Unknown, "never healed");
        assert_eq!(
            run(&healed[..2]),
            Validity::Unknown,
            "nothing ran after the heal"
        );
    }
}
