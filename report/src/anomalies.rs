//! From the checkers' own reports to the report's verdicts: each anomaly with the
//! history indices of the operations that show it.
//!
//! ```text
//! CheckerResult { name, valid, summary, details } ──► CheckerVerdict { lines, anomalies }
//!   "lock"             details = LockReport          holds → the holders' calls in them
//!   "split-brain"      details.report = SplitBrainReport   → time spans (no client ops)
//!   "linearizability"  details = Verdict             stuck op, candidates, prefix tail
//!   "list-append"      details = ElleReport          the transactions, a cycle to draw (elle)
//!   anything else      lines only
//! ```

use std::collections::BTreeMap;

use checkers::lock::{Hold, LockAnomaly, LockReport};
use checkers::split_brain::SplitBrainReport;

use super::input::{Anomaly, CheckerVerdict, Op, Process, Span};
use checkers::check::{CheckerResult, Results};

/// Finds a client process's ops by time.
pub struct OpIndex {
    by_process: BTreeMap<u64, Vec<(u64, u64)>>,
}

impl OpIndex {
    pub fn new(ops: &[Op]) -> OpIndex {
        let mut by_process: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
        for op in ops {
            if let Process::Client(p) = op.process {
                by_process.entry(p).or_default().push((op.time, op.index));
            }
        }
        for v in by_process.values_mut() {
            v.sort_unstable();
        }
        OpIndex { by_process }
    }

    /// Indices of `process`'s ops with `start <= time <= end`.
    pub fn between(&self, process: u64, start: u64, end: u64) -> Vec<u64> {
        let Some(v) = self.by_process.get(&process) else {
            return Vec::new();
        };
        let from = v.partition_point(|(t, _)| *t < start);
        v[from..]
            .iter()
            .take_while(|(t, _)| *t <= end)
            .map(|(_, i)| *i)
            .collect()
    }
}

/// The ops of a hold: the acquire that granted it (it completed at `start`), what the
/// holder did while holding it, and the release that ended it (invoked at `end`).
fn hold_ops(index: &OpIndex, h: &Hold) -> Vec<u64> {
    index.between(h.process, h.start, h.end)
}

/// Lock anomalies with the operations of the holds involved.
pub fn from_lock(report: &LockReport, ops: &[Op]) -> Vec<Anomaly> {
    let index = OpIndex::new(ops);
    let words = report.describe();
    report
        .anomalies
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut ops = match a {
                LockAnomaly::MutualExclusion { first, second, .. } => {
                    let mut v = hold_ops(&index, first);
                    v.extend(hold_ops(&index, second));
                    v
                }
                LockAnomaly::TokenNotIncreasing { earlier, later, .. } => {
                    let mut v = hold_ops(&index, earlier);
                    v.extend(hold_ops(&index, later));
                    v
                }
                LockAnomaly::StaleTokenAccepted { process, time, .. } => {
                    index.between(*process, *time, *time)
                }
            };
            ops.sort_unstable();
            ops.dedup();
            Anomaly {
                description: words.get(i).cloned().unwrap_or_default(),
                ops,
                ..Anomaly::default()
            }
        })
        .collect()
}

/// Split-brain anomalies: about nodes, not client ops, so they carry a time span: from
/// the earliest to the latest `time` the anomaly names (whatever its kind, so kinds
/// added to the checker later are covered too).
pub fn from_split_brain(report: &SplitBrainReport) -> Vec<Anomaly> {
    let words = report.describe();
    report
        .anomalies
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut times = Vec::new();
            if let Ok(v) = serde_json::to_value(a) {
                collect_times(&v, &mut times);
            }
            let span = match (times.iter().min(), times.iter().max()) {
                (Some(&start), Some(&end)) => Some(Span { start, end }),
                _ => None,
            };
            Anomaly {
                description: words.get(i).cloned().unwrap_or_default(),
                span,
                ..Anomaly::default()
            }
        })
        .collect()
}

/// Every number under a key named `time`, at any depth.
fn collect_times(v: &serde_json::Value, out: &mut Vec<u64>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x.as_u64()) {
                    ("time", Some(t)) => out.push(t),
                    _ => collect_times(x, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|x| collect_times(x, out)),
        _ => {}
    }
}

/// Non-linearizable keys: the op the search could not get past, the ops that could
/// have come next (each with why not), and the end of the longest linearizable prefix.
pub fn from_linearizability(verdict: &checkers::verdict::Verdict) -> Vec<Anomaly> {
    verdict
        .anomalies
        .iter()
        .map(|a| {
            let key = a
                .key
                .as_ref()
                .map_or_else(|| "the history".to_string(), |k| format!("key {k}"));
            let mut description = format!(
                "{key} is not linearizable: the longest linearizable prefix has {} ops (state: {})",
                a.prefix_len, a.state
            );
            if let Some(s) = &a.stuck_at {
                description.push_str(&format!("; stuck at #{} {}", s.index, s.op));
            }
            for b in &a.candidates {
                description.push_str(&format!("; #{} {}: {}", b.op.index, b.op.op, b.why));
            }
            let mut ops: Vec<u64> = a
                .stuck_at
                .iter()
                .chain(a.candidates.iter().map(|b| &b.op))
                .chain(a.prefix_tail.iter())
                .map(|o| o.index)
                .collect();
            ops.sort_unstable();
            ops.dedup();
            Anomaly {
                description,
                ops,
                ..Anomaly::default()
            }
        })
        .collect()
}

/// A checker's result as the report shows it: its summary lines, and its anomalies
/// decoded from `details` for the checkers this module knows.
pub fn verdict(result: &CheckerResult, ops: &[Op]) -> CheckerVerdict {
    let d = &result.details;
    let anomalies = match result.name.as_str() {
        "lock" => serde_json::from_value::<LockReport>(d.clone())
            .map(|r| from_lock(&r, ops))
            .unwrap_or_default(),
        "split-brain" => serde_json::from_value::<SplitBrainReport>(
            d.get("report").cloned().unwrap_or_else(|| d.clone()),
        )
        .map(|r| from_split_brain(&r))
        .unwrap_or_default(),
        "linearizability" => serde_json::from_value::<checkers::verdict::Verdict>(d.clone())
            .map(|v| from_linearizability(&v))
            .unwrap_or_default(),
        super::elle::CHECKER => d
            .get("anomalies")
            .cloned()
            .and_then(|a| serde_json::from_value::<Vec<checkers::elle::Anomaly>>(a).ok())
            .map(|a| super::elle::from_list_append(&a))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    CheckerVerdict {
        checker: result.name.clone(),
        validity: result.valid,
        lines: result.summary.clone(),
        anomalies,
    }
}

/// Every checker's verdict, in `results.json` order.
pub fn verdicts(results: &Results, ops: &[Op]) -> Vec<CheckerVerdict> {
    results.checkers.iter().map(|r| verdict(r, ops)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::OpKind;
    use checkers::lock::{AcquireOutcome, LockAction, LockCall, WriteOutcome};
    use checkers::split_brain::{LeaderClaim, SplitBrainAnomaly};

    #[test]
    fn a_double_grant_names_both_holds_calls() {
        // p1 acquires [0,10], writes [20,30], releases [100,110];
        // p2 acquires [40,50] while p1 still holds, releases [60,70].
        let ops = vec![
            Op::client(0, 0, 1, OpKind::Invoke, "acquire"),
            Op::client(1, 10, 1, OpKind::Ok, "acquire"),
            Op::client(2, 20, 1, OpKind::Invoke, "write"),
            Op::client(3, 30, 1, OpKind::Ok, "write"),
            Op::client(4, 40, 2, OpKind::Invoke, "acquire"),
            Op::client(5, 50, 2, OpKind::Ok, "acquire"),
            Op::client(6, 60, 2, OpKind::Invoke, "release"),
            Op::client(7, 70, 2, OpKind::Ok, "release"),
            Op::client(8, 100, 1, OpKind::Invoke, "release"),
            Op::client(9, 110, 1, OpKind::Ok, "release"),
        ];
        let call = |process, invoke, complete, action| LockCall {
            process,
            invoke,
            complete: Some(complete),
            lock: "0".into(),
            action,
        };
        let acquire = |token| LockAction::Acquire {
            ttl: 1_000_000,
            outcome: AcquireOutcome::Granted { token },
        };
        let calls = vec![
            call(1, 0, 10, acquire(1)),
            call(
                1,
                20,
                30,
                LockAction::Write {
                    token: 1,
                    outcome: WriteOutcome::Accepted { seq: 1 },
                },
            ),
            call(2, 40, 50, acquire(2)),
            call(2, 60, 70, LockAction::Release { token: 2 }),
            call(1, 100, 110, LockAction::Release { token: 1 }),
        ];
        let report = checkers::lock::check(&calls, 110);
        assert!(!report.valid);
        let anomalies = from_lock(&report, &ops);
        assert_eq!(anomalies.len(), 1);
        // p1's hold [10, 100]: acquire ok, the write, the release invoke; p2's [50, 60].
        assert_eq!(anomalies[0].ops, vec![1, 2, 3, 5, 6, 8]);
        assert!(anomalies[0].description.contains("two holders at once"));
    }

    #[test]
    fn split_brain_anomalies_carry_spans_and_results_decode_by_checker_name() {
        let report = SplitBrainReport {
            valid: false,
            anomalies: vec![SplitBrainAnomaly::TwoLeaders {
                term: 3,
                first: LeaderClaim {
                    node: "n1".into(),
                    time: 900,
                },
                second: LeaderClaim {
                    node: "n2".into(),
                    time: 400,
                },
            }],
            leader_changes: vec![],
            observations: 10,
        };
        let result = CheckerResult {
            name: "split-brain".into(),
            valid: checkers::verdict::Validity::Invalid,
            summary: vec!["two leaders in term 3".into()],
            details: serde_json::json!({ "report": report, "recovery": [] }),
            millis: 0,
        };
        let v = verdict(&result, &[]);
        assert_eq!(v.lines, vec!["two leaders in term 3".to_string()]);
        assert_eq!(v.anomalies.len(), 1);
        assert_eq!(
            v.anomalies[0].span,
            Some(Span {
                start: 400,
                end: 900
            })
        );
        let other = CheckerResult {
            name: "liveness".into(),
            details: serde_json::Value::Null,
            ..result
        };
        assert!(verdict(&other, &[]).anomalies.is_empty());
    }
}
