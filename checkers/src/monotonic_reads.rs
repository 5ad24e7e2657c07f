//! Monotonic reads per client: the part of sequential consistency a single client can
//! see, checked for `--read-mode local`.
//!
//! ```text
//! history: ok reads with the position (zxid, log index) they were served at ──► check()
//! ```
//!
//! ZooKeeper's plain reads are not linearizable, only sequentially consistent, and its
//! "single system image" guarantee says a client never sees an older state than one it
//! has already seen, even after it reconnects to another server: a server whose last
//! zxid is behind the client's refuses the session (programmer's guide, "ZooKeeper
//! consistency guarantees"; `ZooKeeperServer` "client must try another server"). So per
//! client, in the order its reads completed, the position each read was served at
//! never decreases. A read served at a lower position than an earlier read of the same
//! client is flagged.
//!
//! A client's reads are sequential, so completion order is invocation order. Pure:
//! observations in, a [`MonotonicReadsReport`] out.
//!
//! In a history, a read that reports its position is an ok `read` whose value is an
//! object, `{"value": 5, "position": 4294967299, "node": "n2"}` ([`PositionedValue`]);
//! the client is the op's process. [`MonotonicReads`] is the run's checker.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check::{CheckInput, Checker, CheckerResult};
use crate::history::{Kind, Process};
use crate::verdict::Validity;
use crate::InputError;

/// The value of an ok read that says where it was served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionedValue {
    /// What was read (the register's value, or null).
    pub value: serde_json::Value,
    pub position: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// The ok reads of a history that carry a position, one observation each; a read
/// whose value is an object without a position is an input error at its line.
pub fn observations(
    records: &[crate::history::Record],
) -> Result<Vec<ReadObservation>, InputError> {
    let mut out = Vec::new();
    for r in records {
        let Process::Client(p) = r.process else {
            continue;
        };
        if r.kind != Kind::Ok || r.f != "read" || !r.value.is_object() {
            continue;
        }
        let v: PositionedValue = serde_json::from_value(r.value.clone())
            .map_err(|e| InputError::at_line(r.line, format!("a positioned read's value: {e}")))?;
        out.push(ReadObservation {
            client: p.to_string(),
            time: r.time.unwrap_or(0),
            position: v.position,
            node: v.node,
        });
    }
    Ok(out)
}

/// Monotonic reads as a run's checker (its own JUnit case), over the history's
/// positioned reads. A history without any is unknown: nothing was checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonotonicReads;

impl Checker for MonotonicReads {
    fn name(&self) -> &str {
        "monotonic-reads"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<CheckerResult, InputError> {
        let reads = observations(input.records)?;
        if reads.is_empty() {
            return Ok(CheckerResult::new(
                self.name(),
                Validity::Unknown,
                vec!["no successful read reported the position it was served at".into()],
            ));
        }
        let report = check(&reads);
        let (valid, summary) = if report.valid {
            (
                Validity::Valid,
                vec![format!(
                    "{} reads by {} clients never went back",
                    report.reads, report.clients
                )],
            )
        } else {
            let mut lines = vec![format!(
                "{} of {} reads went back to an older state than the same client had read",
                report.anomalies.len(),
                report.reads
            )];
            lines.extend(report.describe().into_iter().take(20));
            (Validity::Invalid, lines)
        };
        let mut report = report;
        report.anomalies.truncate(MAX_ANOMALIES);
        Ok(CheckerResult::new(self.name(), valid, summary).with_details(&report))
    }
}

/// Anomalies kept in a checker's details.
pub const MAX_ANOMALIES: usize = 100;

/// One successful read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadObservation {
    /// The client (a session: one worker, across its reconnects).
    pub client: String,
    /// When the read completed (ns since the start of the run).
    pub time: u64,
    /// The position of the state the read saw (Zab zxid, Raft log index).
    pub position: u64,
    /// The node that answered, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A read that went back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MonotonicReadsAnomaly {
    /// `later` saw an older state than `earlier`, which the same client read before.
    WentBack {
        client: String,
        earlier: ReadObservation,
        later: ReadObservation,
    },
}

/// What the monotonic-reads checker found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonotonicReadsReport {
    pub valid: bool,
    pub anomalies: Vec<MonotonicReadsAnomaly>,
    pub clients: usize,
    pub reads: usize,
}

impl MonotonicReadsReport {
    /// One line per anomaly, in plain words.
    pub fn describe(&self) -> Vec<String> {
        self.anomalies
            .iter()
            .map(|MonotonicReadsAnomaly::WentBack { client, earlier, later }| {
                format!(
                    "client {client} read position {} at {}{}, then position {} at {}{}: its reads went back",
                    earlier.position,
                    secs(earlier.time),
                    from(&earlier.node),
                    later.position,
                    secs(later.time),
                    from(&later.node)
                )
            })
            .collect()
    }
}

fn from(node: &Option<String>) -> String {
    node.as_ref()
        .map(|n| format!(" from {n}"))
        .unwrap_or_default()
}

fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// Checks every client's reads, given in any order.
pub fn check(reads: &[ReadObservation]) -> MonotonicReadsReport {
    let mut sorted: Vec<&ReadObservation> = reads.iter().collect();
    sorted.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.client.cmp(&b.client)));
    // client -> the read with the highest position so far.
    let mut newest: BTreeMap<&str, &ReadObservation> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for r in sorted {
        match newest.get(r.client.as_str()) {
            Some(seen) if r.position < seen.position => {
                anomalies.push(MonotonicReadsAnomaly::WentBack {
                    client: r.client.clone(),
                    earlier: (*seen).clone(),
                    later: r.clone(),
                });
            }
            _ => {
                newest.insert(r.client.as_str(), r);
            }
        }
    }
    MonotonicReadsReport {
        valid: anomalies.is_empty(),
        anomalies,
        clients: newest.len(),
        reads: reads.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn read(client: &str, time: u64, position: u64, node: &str) -> ReadObservation {
        ReadObservation {
            client: client.into(),
            time: time * MS,
            position,
            node: Some(node.into()),
        }
    }

    #[test]
    fn non_decreasing_positions_per_client_are_valid() {
        let r = check(&[
            read("c1", 1, 5, "n1"),
            read("c1", 2, 5, "n2"),
            read("c1", 3, 9, "n3"),
            // Another client may see older states than c1 did.
            read("c2", 4, 1, "n3"),
        ]);
        assert!(r.valid, "{:?}", r.describe());
        assert_eq!((r.clients, r.reads), (2, 4));
    }

    #[test]
    fn as_a_checker_it_reads_positioned_reads_from_the_history() {
        use crate::check::RunFacts;
        use crate::linearizability::Budget;
        let line = |i: u64, p: u64, kind: &str, value: &str| {
            format!(
                r#"{{"index":{i},"time":{t},"process":{p},"type":"{kind}","f":"read","key":1,"value":{value}}}"#,
                t = i * MS
            )
        };
        let text = [
            line(0, 0, "invoke", "null"),
            line(1, 0, "ok", r#"{"value":3,"position":9,"node":"n1"}"#),
            line(2, 0, "invoke", "null"),
            line(3, 0, "ok", r#"{"value":2,"position":7,"node":"n2"}"#),
            line(4, 1, "invoke", "null"),
            line(5, 1, "ok", r#"{"value":null,"position":1}"#),
        ]
        .join("\n");
        let run = |text: &str| {
            let records = crate::format::jsonl::parse(text).expect("jsonl");
            MonotonicReads.check(&CheckInput {
                records: &records,
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
            })
        };
        let r = run(&text).expect("readable");
        assert_eq!(
            (r.name.as_str(), r.valid),
            ("monotonic-reads", Validity::Invalid)
        );
        assert!(
            r.summary[1].contains("client 0 read position 9")
                && r.summary[1].contains("then position 7"),
            "{:?}",
            r.summary
        );
        // Without the going-back read it is valid; with no positioned read, unknown.
        let fine: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("\"index\":3"))
            .collect();
        assert_eq!(run(&fine.join("\n")).unwrap().valid, Validity::Valid);
        let plain = line(0, 0, "invoke", "null") + "\n" + &line(1, 0, "ok", "3");
        assert_eq!(run(&plain).unwrap().valid, Validity::Unknown);
        // An object without a position names its line.
        let bad = line(0, 0, "ok", r#"{"value":3}"#);
        let err = run(&bad).unwrap_err();
        assert_eq!(err.line(), Some(1), "{err}");
    }

    #[test]
    fn a_read_older_than_the_clients_last_is_flagged_once_per_read() {
        let r = check(&[
            read("c1", 3, 4, "n2"),
            read("c1", 1, 5, "n1"),
            read("c1", 4, 6, "n1"),
            read("c1", 2, 9, "n1"),
        ]);
        assert!(!r.valid);
        assert_eq!(r.anomalies.len(), 2, "{:?}", r.describe());
        assert_eq!(
            r.describe()[0],
            "client c1 read position 9 at 0.002 s from n1, then position 4 at 0.003 s from n2: its reads went back"
        );
    }
}
