//! Replica agreement: every node's committed log, compared position by position.
//!
//! ```text
//! main phase (every 2 s, tails) + final phase (whole logs): GET /committed ──► LogReports ──► check()
//! ```
//!
//! Zab's and Raft's safety properties say that committed prefixes agree (Zab's
//! `PrefixConsistency` and `Agreement`, Raft's State Machine Safety, §5.4.3) and that a
//! committed entry is never taken back. Clients may never read a divergent entry (a
//! replica that holds a different suffix is simply never asked), so the history-based
//! checkers can pass while the replicas disagree. This checker looks at the logs
//! themselves:
//!
//! * **diverged**: two nodes reported different entries committed at one position, or one
//!   node's committed log skips a position another node committed (Zab's positions are
//!   zxids, not contiguous);
//! * **lost**: a node reported an entry committed, and a later report of the same node
//!   (after a restart, a re-sync, a truncation) reaches past that position without it.
//!
//! A report covers the positions from its `from` up to the node's commit point, so a
//! node that restarted and has not relearned its commit point yet (shorter report) loses
//! nothing. Pure: reports in, an [`AgreementReport`] out. References: Zab's
//! `zookeeper-specifications/protocol-spec/Zab.tla` (`PrefixConsistency`), the Disalg
//! mixed-grained specs (`ProcessConsistency`, `CommittedLogDurability`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::check::{CheckInput, Checker, CheckerResult};
use crate::verdict::Validity;
use crate::InputError;

/// Anomalies kept in full; the rest are counted in [`AgreementReport::more`].
pub const MAX_ANOMALIES: usize = 100;

/// One committed entry as a node reported it: a position (Raft index, Zab zxid) and a
/// digest of the whole entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub position: u64,
    pub digest: String,
}

/// One node's committed log at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogReport {
    pub node: String,
    /// When the report was taken (ns since the start of the run).
    pub time: u64,
    /// The report covers every committed position >= `from` (0: the whole log).
    #[serde(default)]
    pub from: u64,
    /// In increasing position order.
    pub entries: Vec<LogEntry>,
}

/// What one node held at one position, as of one report (`digest: None`: its
/// committed log reached past the position without an entry there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub node: String,
    pub time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// A disagreement among the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AgreementAnomaly {
    /// Two nodes committed different things at `position`.
    Diverged {
        position: u64,
        first: Holding,
        second: Holding,
    },
    /// `node` reported `digest` committed at `position` at `seen_at`, and at
    /// `missing_at` reported a committed log reaching past it with `now` there instead.
    Lost {
        node: String,
        position: u64,
        digest: String,
        seen_at: u64,
        missing_at: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        now: Option<String>,
    },
}

/// What the replica-agreement checker found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementReport {
    pub valid: bool,
    pub anomalies: Vec<AgreementAnomaly>,
    /// Anomalies found beyond [`MAX_ANOMALIES`].
    pub more: usize,
    pub nodes: usize,
    pub reports: usize,
    /// Distinct committed positions seen.
    pub positions: usize,
}

impl AgreementReport {
    /// One line per anomaly, in plain words.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .anomalies
            .iter()
            .map(|a| match a {
                AgreementAnomaly::Diverged {
                    position,
                    first,
                    second,
                } => format!(
                    "replicas diverged at position {position}: {} committed {} (reported at {}), {} {} (reported at {})",
                    first.node,
                    held(&first.digest),
                    secs(first.time),
                    second.node,
                    held(&second.digest),
                    secs(second.time)
                ),
                AgreementAnomaly::Lost {
                    node,
                    position,
                    digest,
                    seen_at,
                    missing_at,
                    now,
                } => format!(
                    "{node} lost committed entry {digest} at position {position}: reported at {}, gone at {} ({})",
                    secs(*seen_at),
                    secs(*missing_at),
                    match now {
                        Some(d) => format!("{d} in its place"),
                        None => "nothing in its place".to_string(),
                    }
                ),
            })
            .collect();
        if self.more > 0 {
            lines.push(format!("… and {} more", self.more));
        }
        lines
    }
}

fn held(digest: &Option<String>) -> String {
    match digest {
        Some(d) => format!("entry {d}"),
        None => "nothing (its log skips it)".to_string(),
    }
}

fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// Checks agreement over every report, in any order.
pub fn check(reports: &[LogReport]) -> AgreementReport {
    let mut sorted: Vec<&LogReport> = reports.iter().collect();
    sorted.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.node.cmp(&b.node)));

    // position -> the first report of an entry there.
    let mut first: BTreeMap<u64, Holding> = BTreeMap::new();
    // (node, position) -> (digest, reported at), as last reported by that node.
    let mut own: BTreeMap<(&str, u64), (&str, u64)> = BTreeMap::new();
    // Pairs already reported: (position, node, node) and (node, position).
    let mut diverged_seen: BTreeSet<(u64, String, String)> = BTreeSet::new();
    let mut lost_seen: BTreeSet<(&str, u64)> = BTreeSet::new();
    let mut found: Vec<AgreementAnomaly> = Vec::new();

    for r in &sorted {
        let node = r.node.as_str();
        let here: BTreeMap<u64, &str> = r
            .entries
            .iter()
            .map(|e| (e.position, e.digest.as_str()))
            .collect();
        let Some(&last) = here.keys().next_back() else {
            continue;
        };
        // Lost: what this node reported before, inside this report's range.
        let before: Vec<(u64, &str, u64)> = own
            .range((node, r.from)..=(node, last))
            .map(|(&(_, p), &(d, t))| (p, d, t))
            .collect();
        for (p, d, t) in before {
            let now = here.get(&p).copied();
            if now != Some(d) && lost_seen.insert((node, p)) {
                found.push(AgreementAnomaly::Lost {
                    node: node.to_string(),
                    position: p,
                    digest: d.to_string(),
                    seen_at: t,
                    missing_at: r.time,
                    now: now.map(str::to_string),
                });
            }
            if now.is_none() {
                own.remove(&(node, p));
            }
        }
        // Diverged: against the first report of each position in range.
        for (&p, h) in first.range(r.from..=last) {
            if h.node == node {
                continue;
            }
            let mine = here.get(&p).copied();
            if mine != h.digest.as_deref() {
                let pair = (h.node.as_str().min(node), h.node.as_str().max(node));
                if diverged_seen.insert((p, pair.0.to_string(), pair.1.to_string())) {
                    found.push(AgreementAnomaly::Diverged {
                        position: p,
                        first: h.clone(),
                        second: Holding {
                            node: node.to_string(),
                            time: r.time,
                            digest: mine.map(str::to_string),
                        },
                    });
                }
            }
        }
        for (&p, &d) in &here {
            own.insert((node, p), (d, r.time));
            first.entry(p).or_insert_with(|| Holding {
                node: node.to_string(),
                time: r.time,
                digest: Some(d.to_string()),
            });
        }
    }

    let more = found.len().saturating_sub(MAX_ANOMALIES);
    found.truncate(MAX_ANOMALIES);
    let nodes: BTreeSet<&str> = reports.iter().map(|r| r.node.as_str()).collect();
    AgreementReport {
        valid: found.is_empty() && more == 0,
        anomalies: found,
        more,
        nodes: nodes.len(),
        reports: reports.len(),
        positions: first.len(),
    }
}

/// The replica-agreement check as a run's checker (its own JUnit case): the committed
/// logs the nodes reported ([`CheckInput::logs`]). No report at all is unknown: nothing
/// was compared.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplicaAgreement;

impl Checker for ReplicaAgreement {
    fn name(&self) -> &str {
        "replica-agreement"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<CheckerResult, InputError> {
        let reports = input.logs.unwrap_or_default();
        if reports.is_empty() {
            return Ok(CheckerResult::new(
                self.name(),
                Validity::Unknown,
                vec!["no node reported its committed log".into()],
            ));
        }
        let report = check(reports);
        let summary = if report.valid {
            vec![format!(
                "{} nodes agree on {} committed positions ({} reports)",
                report.nodes, report.positions, report.reports
            )]
        } else {
            report.describe()
        };
        let valid = if report.valid {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        Ok(CheckerResult::new(self.name(), valid, summary).with_details(&report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn report(node: &str, time: u64, entries: &[(u64, &str)]) -> LogReport {
        LogReport {
            node: node.into(),
            time,
            from: 0,
            entries: entries
                .iter()
                .map(|(p, d)| LogEntry {
                    position: *p,
                    digest: d.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn agreeing_prefixes_of_different_lengths_are_valid() {
        let r = check(&[
            report("n1", S, &[(1, "a"), (2, "b"), (3, "c")]),
            report("n2", S, &[(1, "a"), (2, "b")]),
            report("n3", 2 * S, &[]),
            // Restarted and has not relearned its commit point: shorter, nothing lost.
            report("n1", 3 * S, &[(1, "a")]),
        ]);
        assert!(r.valid, "{:?}", r.describe());
        assert_eq!((r.nodes, r.reports, r.positions), (3, 4, 3));
    }

    #[test]
    fn two_entries_at_one_position_diverge() {
        let r = check(&[
            report("n1", S, &[(1, "a"), (2, "b")]),
            report("n2", S, &[(1, "a"), (2, "x")]),
            report("n3", 2 * S, &[(1, "a"), (2, "x")]),
        ]);
        assert!(!r.valid);
        // n2 and n3 each disagree with the first report; n2 and n3 agree.
        assert_eq!(r.anomalies.len(), 2, "{:?}", r.describe());
        let AgreementAnomaly::Diverged {
            position,
            first,
            second,
        } = &r.anomalies[0]
        else {
            panic!("{:?}", r.anomalies);
        };
        assert_eq!(*position, 2);
        assert_eq!((first.node.as_str(), second.node.as_str()), ("n1", "n2"));
        assert!(r.describe()[0].contains("diverged at position 2"));
    }

    #[test]
    fn a_log_that_skips_a_committed_zxid_diverges() {
        let e1 = 1 << 32;
        let r = check(&[
            report("n1", S, &[(e1 + 1, "a"), (e1 + 2, "b")]),
            report("n2", S, &[(e1 + 1, "a"), ((2 << 32) + 1, "c")]),
        ]);
        assert!(!r.valid);
        assert!(
            r.describe()[0].contains("nothing (its log skips it)"),
            "{:?}",
            r.describe()
        );
    }

    #[test]
    fn an_entry_a_node_took_back_is_lost() {
        let r = check(&[
            report("n1", S, &[(1, "a"), (2, "b"), (3, "c")]),
            report("n1", 5 * S, &[(1, "a"), (2, "z"), (3, "c"), (4, "d")]),
        ]);
        assert!(!r.valid);
        assert_eq!(r.anomalies.len(), 1, "{:?}", r.describe());
        assert!(matches!(
            &r.anomalies[0],
            AgreementAnomaly::Lost { position: 2, now: Some(d), .. } if d == "z"
        ));
        assert!(r.describe()[0].contains("n1 lost committed entry b at position 2"));
    }

    #[test]
    fn partial_reports_only_cover_their_range() {
        let mut late = report("n1", 2 * S, &[(3, "c")]);
        late.from = 3;
        let r = check(&[report("n1", S, &[(1, "a"), (2, "b")]), late]);
        assert!(r.valid, "{:?}", r.describe());
    }

    #[test]
    fn as_a_checker_it_reads_the_reported_logs() {
        use crate::check::RunFacts;
        use crate::linearizability::Budget;
        let run = |logs: Option<&[LogReport]>| {
            ReplicaAgreement
                .check(&CheckInput {
                    records: &[],
                    status: None,
                    logs,
                    faults: &[],
                    budget: Budget::default(),
                    run: RunFacts {
                        nodes: 2,
                        round: 1,
                        recovery_bound: 1,
                        writes: &[],
                    },
                })
                .expect("no input error")
        };
        let agree = [
            report("n1", S, &[(1, "a"), (2, "b")]),
            report("n2", S, &[(1, "a")]),
        ];
        let r = run(Some(&agree));
        assert_eq!(
            (r.name.as_str(), r.valid),
            ("replica-agreement", Validity::Valid)
        );
        assert_eq!(
            r.summary,
            ["2 nodes agree on 2 committed positions (2 reports)"]
        );
        let differ = [
            report("n1", S, &[(1, "a"), (2, "b")]),
            report("n2", S, &[(1, "a"), (2, "c")]),
        ];
        let r = run(Some(&differ));
        assert_eq!(r.valid, Validity::Invalid);
        assert!(
            r.summary[0].contains("diverged at position 2"),
            "{:?}",
            r.summary
        );
        assert_eq!(r.details["anomalies"][0]["kind"], "diverged");
        assert_eq!(run(Some(&[])).valid, Validity::Unknown);
        assert_eq!(run(None).valid, Validity::Unknown);
    }

    #[test]
    fn anomalies_beyond_the_cap_are_counted() {
        let many: Vec<(u64, String)> = (1..=150).map(|p| (p, format!("a{p}"))).collect();
        let other: Vec<(u64, String)> = (1..=150).map(|p| (p, format!("b{p}"))).collect();
        fn as_refs(v: &[(u64, String)]) -> Vec<(u64, &str)> {
            v.iter().map(|(p, d)| (*p, d.as_str())).collect()
        }
        let r = check(&[
            report("n1", S, &as_refs(&many)),
            report("n2", S, &as_refs(&other)),
        ]);
        assert_eq!(r.anomalies.len(), MAX_ANOMALIES);
        assert_eq!(r.more, 50);
        assert!(r.describe().last().expect("lines").contains("50 more"));
    }
}
