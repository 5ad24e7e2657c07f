//! Split-brain: election safety checked on what the nodes said about themselves.
//!
//! ```text
//! status observer (polls every node's role/term/leader) ──► status.jsonl ──► check()
//!                                                  nemesis windows + ok writes ──► recovery()
//! ```
//!
//! Raft's Election Safety property (Ongaro & Ousterhout 2014, §5.2 and Figure 3): at
//! most one leader can be elected in a given term. Zab has the same rule per epoch.
//! Two *different* nodes that each reported being leader of the same term are a
//! split-brain, whenever the two reports were made: a term's leader is unique for all
//! time, not only at one instant. A node that reports a term *lower* than one it
//! reported before is flagged too (terms must never go backwards on a node, §5.1 —
//! a node that forgot its term can vote twice), and so is a node whose vote in a term
//! changes or vanishes while the term stays the same (`votedFor` is persistent state,
//! Figure 2: a node that forgot its vote can vote twice in one term).
//!
//! The same observations give the leader timeline (who led which term, from when) and,
//! with the fault windows and the successful writes from the history, how long the
//! cluster took after each fault to have a leader again and to accept a write.
//!
//! The checker is pure: observations in, a [`SplitBrainReport`] out.
//! References: openraft `tests-turmoil/src/invariants/` (election safety), Jepsen's
//! leader checks in its etcd and Raft tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check::{CheckInput, Checker, CheckerResult};
use crate::verdict::Validity;
use crate::InputError;

/// A node's role as it reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    /// The node answered but its role is none of the above (e.g. a learner, an
    /// observer, or a system that does not say).
    Other,
}

/// One answer of one node to the status observer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Nanoseconds since the start of the run (the history's clock).
    pub time: u64,
    pub node: String,
    pub role: Role,
    /// Raft term, Zab epoch, etcd raft term, …
    pub term: u64,
    /// The leader this node believes in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Whom the node voted for in `term`, when the system reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voted_for: Option<String>,
}

/// A violation found in the observations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SplitBrainAnomaly {
    /// Two nodes reported leading the same term.
    TwoLeaders {
        term: u64,
        first: LeaderClaim,
        second: LeaderClaim,
    },
    /// A node's vote in a term changed (or vanished) without the term changing: the
    /// vote was not durable, so the node could vote twice in that term.
    VoteChanged {
        node: String,
        term: u64,
        from: String,
        to: Option<String>,
        /// When the changed vote was reported.
        time: u64,
    },
    /// A node reported a lower term than it had reported before.
    TermWentBack {
        node: String,
        from: u64,
        to: u64,
        /// When the lower term was reported.
        time: u64,
    },
}

/// The first report of `node` leading a term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderClaim {
    pub node: String,
    pub time: u64,
}

/// A new leader seen by the observer (the first report of a (term, node) as leader).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderChange {
    pub time: u64,
    pub term: u64,
    pub node: String,
}

/// What the split-brain checker found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitBrainReport {
    pub valid: bool,
    pub anomalies: Vec<SplitBrainAnomaly>,
    pub leader_changes: Vec<LeaderChange>,
    /// How many observations were checked.
    pub observations: usize,
}

impl SplitBrainReport {
    /// One line per anomaly, in plain words.
    pub fn describe(&self) -> Vec<String> {
        self.anomalies
            .iter()
            .map(|a| match a {
                SplitBrainAnomaly::TwoLeaders {
                    term,
                    first,
                    second,
                } => format!(
                    "two leaders in term {term}: {} (seen leading at {}) and {} (seen leading at {})",
                    first.node,
                    secs(first.time),
                    second.node,
                    secs(second.time)
                ),
                SplitBrainAnomaly::VoteChanged {
                    node,
                    term,
                    from,
                    to,
                    time,
                } => format!(
                    "{node} voted for {from} in term {term}, then at {} reported {} in the same term (its vote was not durable: it could vote twice)",
                    secs(*time),
                    match to {
                        Some(t) => format!("a vote for {t}"),
                        None => "no vote".to_string(),
                    }
                ),
                SplitBrainAnomaly::TermWentBack {
                    node,
                    from,
                    to,
                    time,
                } => format!(
                    "{node} went back from term {from} to term {to} at {} (its term was not durable)",
                    secs(*time)
                ),
            })
            .collect()
    }
}

/// Checks election safety over every observation, in any order.
pub fn check(observations: &[Observation]) -> SplitBrainReport {
    let mut sorted: Vec<&Observation> = observations.iter().collect();
    sorted.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.node.cmp(&b.node)));

    // term → first claim by each node, in time order of first claims.
    let mut leaders: BTreeMap<u64, Vec<LeaderClaim>> = BTreeMap::new();
    let mut highest: BTreeMap<&str, u64> = BTreeMap::new();
    // node → (term, vote) as last reported with a vote.
    let mut votes: BTreeMap<&str, (u64, Option<&str>)> = BTreeMap::new();
    let mut anomalies = Vec::new();
    let mut leader_changes = Vec::new();

    for o in &sorted {
        if let Some(&prev) = highest.get(o.node.as_str()) {
            if o.term < prev {
                anomalies.push(SplitBrainAnomaly::TermWentBack {
                    node: o.node.clone(),
                    from: prev,
                    to: o.term,
                    time: o.time,
                });
            }
        }
        let h = highest.entry(o.node.as_str()).or_insert(o.term);
        *h = (*h).max(o.term);

        let vote = o.voted_for.as_deref();
        match votes.get(o.node.as_str()) {
            Some(&(term, Some(was))) if term == o.term && vote != Some(was) => {
                anomalies.push(SplitBrainAnomaly::VoteChanged {
                    node: o.node.clone(),
                    term,
                    from: was.to_string(),
                    to: vote.map(str::to_string),
                    time: o.time,
                });
            }
            _ => {}
        }
        votes.insert(o.node.as_str(), (o.term, vote));

        if o.role != Role::Leader {
            continue;
        }
        let claims = leaders.entry(o.term).or_default();
        if claims.iter().any(|c| c.node == o.node) {
            continue;
        }
        let claim = LeaderClaim {
            node: o.node.clone(),
            time: o.time,
        };
        if let Some(first) = claims.first() {
            anomalies.push(SplitBrainAnomaly::TwoLeaders {
                term: o.term,
                first: first.clone(),
                second: claim.clone(),
            });
        }
        leader_changes.push(LeaderChange {
            time: o.time,
            term: o.term,
            node: o.node.clone(),
        });
        claims.push(claim);
    }

    SplitBrainReport {
        valid: anomalies.is_empty(),
        anomalies,
        leader_changes,
        observations: observations.len(),
    }
}

pub use crate::faults::FaultWindow;

/// The split-brain checker over the status log: [`check`] for the verdict, and per
/// fault window the time to a leader and to the next ok write ([`recovery`]).
/// Unknown when the target reports no status.
#[derive(Debug, Clone, Copy, Default)]
pub struct SplitBrain;

impl Checker for SplitBrain {
    fn name(&self) -> &str {
        "split-brain"
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<CheckerResult, InputError> {
        let Some(observations) = input.status else {
            return Ok(CheckerResult::new(
                "split-brain",
                Validity::Unknown,
                vec!["not checked: the target reports no status".into()],
            ));
        };
        let report = check(observations);
        let writes = crate::faults::ok_writes(input.records, input.run.writes);
        let recovery = recovery(
            input.faults,
            observations,
            &writes,
            input.run.nodes,
            input.run.round,
        );
        let mut summary = report.describe();
        summary.push(format!(
            "{} leader changes over {} observations",
            report.leader_changes.len(),
            report.observations
        ));
        let ms = |v: Option<u64>| {
            v.map_or("never".to_string(), |ns| {
                format!("{:.0} ms", ns as f64 / 1e6)
            })
        };
        for r in &recovery {
            summary.push(format!(
                "after {} at {:.1} s: leader in {}, first write in {}",
                r.fault,
                r.start as f64 / 1e9,
                ms(r.leader_after),
                ms(r.write_after)
            ));
        }
        let valid = if report.valid {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        Ok(
            CheckerResult::new("split-brain", valid, summary).with_details(&serde_json::json!({
                "report": crate::check::details(&report),
                "recovery": crate::check::details(&recovery),
                "faults": crate::check::details(&input.faults),
            })),
        )
    }
}

/// How the cluster fared after one fault began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    pub fault: String,
    pub start: u64,
    /// Nanoseconds from the fault's start until the cluster had a leader that a
    /// majority of the nodes observed in that round agreed on (None: never, in the run).
    pub leader_after: Option<u64>,
    /// Nanoseconds from the fault's start until the next write that completed ok
    /// (None: none did).
    pub write_after: Option<u64>,
}

/// For each fault window, the time to a leader and to the next successful write.
///
/// `observations` are grouped into rounds by `round` (the observer's poll interval):
/// a round has a leader when some node says it leads term `t` and a majority of
/// `cluster_size` nodes report, in that round, leader = that node at term `t`.
/// `ok_writes` are the completion times of writes that completed ok.
pub fn recovery(
    faults: &[FaultWindow],
    observations: &[Observation],
    ok_writes: &[u64],
    cluster_size: usize,
    round: u64,
) -> Vec<Recovery> {
    let round = round.max(1);
    let majority = cluster_size / 2 + 1;
    // round index → (term, leader) → (votes, time of the latest vote)
    type Votes<'a> = BTreeMap<(u64, &'a str), (usize, u64)>;
    let mut rounds: BTreeMap<u64, Votes> = BTreeMap::new();
    for o in observations {
        let believed = match o.role {
            Role::Leader => Some(o.node.as_str()),
            _ => o.leader.as_deref(),
        };
        if let Some(l) = believed {
            let (votes, latest) = rounds
                .entry(o.time / round)
                .or_default()
                .entry((o.term, l))
                .or_default();
            *votes += 1;
            *latest = (*latest).max(o.time);
        }
    }
    // For each round with a majority leader: when that majority was complete.
    let led: Vec<(u64, u64)> = rounds
        .iter()
        .filter_map(|(r, votes)| {
            votes
                .values()
                .filter(|(v, _)| *v >= majority)
                .map(|(_, latest)| *latest)
                .min()
                .map(|t| (r * round, t))
        })
        .collect();
    let mut writes = ok_writes.to_vec();
    writes.sort_unstable();

    faults
        .iter()
        .map(|f| {
            // The first round that starts after the fault began: a round that merely
            // overlaps the start may describe the cluster before the fault.
            let leader_after = led
                .iter()
                .find(|(round_start, _)| *round_start >= f.start)
                .map(|(_, agreed)| agreed - f.start);
            let i = writes.partition_point(|&w| w < f.start);
            let write_after = writes.get(i).map(|&w| w - f.start);
            Recovery {
                fault: f.fault.clone(),
                start: f.start,
                leader_after,
                write_after,
            }
        })
        .collect()
}

fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(time: u64, node: &str, role: Role, term: u64, leader: Option<&str>) -> Observation {
        Observation {
            time,
            node: node.into(),
            role,
            term,
            leader: leader.map(Into::into),
            voted_for: None,
        }
    }

    #[test]
    fn a_vote_that_changes_within_its_term_is_flagged() {
        let voted = |time, term, v: Option<&str>| Observation {
            voted_for: v.map(Into::into),
            ..obs(time, "n2", Role::Follower, term, Some("n1"))
        };
        // Figure 2: votedFor is persistent. n2 voted n1 in term 3, restarted, and
        // reports no vote in term 3: it could now vote for someone else.
        let r = check(&[
            voted(1, 3, Some("n1")),
            voted(2, 3, Some("n1")),
            voted(3, 3, None),
        ]);
        assert_eq!(
            r.anomalies,
            vec![SplitBrainAnomaly::VoteChanged {
                node: "n2".into(),
                term: 3,
                from: "n1".into(),
                to: None,
                time: 3,
            }]
        );
        assert!(
            r.describe()[0].contains("not durable"),
            "{:?}",
            r.describe()
        );
        // A new term brings a new vote: fine.
        let ok = check(&[
            voted(1, 3, Some("n1")),
            voted(2, 4, None),
            voted(3, 4, Some("n3")),
        ]);
        assert!(ok.valid, "{:?}", ok.anomalies);
        // Voting in a term where it had not voted yet: fine.
        assert!(check(&[voted(1, 5, None), voted(2, 5, Some("n4"))]).valid);
    }

    #[test]
    fn one_leader_per_term_is_valid_and_the_timeline_lists_each_leader_once() {
        let o = vec![
            obs(10, "n1", Role::Leader, 1, Some("n1")),
            obs(11, "n2", Role::Follower, 1, Some("n1")),
            obs(20, "n1", Role::Leader, 1, Some("n1")),
            obs(30, "n2", Role::Candidate, 2, None),
            obs(40, "n2", Role::Leader, 3, Some("n2")),
            obs(41, "n1", Role::Follower, 3, Some("n2")),
        ];
        let r = check(&o);
        assert!(r.valid, "{:?}", r.anomalies);
        assert_eq!(
            r.leader_changes,
            vec![
                LeaderChange {
                    time: 10,
                    term: 1,
                    node: "n1".into()
                },
                LeaderChange {
                    time: 40,
                    term: 3,
                    node: "n2".into()
                },
            ]
        );
        assert!(r.describe().is_empty());
    }

    #[test]
    fn two_leaders_in_one_term_are_flagged_even_at_different_times() {
        // §5.2: at most one leader per term, ever — n3 leading term 4 after n1 did
        // is a split-brain even though they never overlapped.
        let o = vec![
            obs(100, "n1", Role::Leader, 4, Some("n1")),
            obs(900, "n3", Role::Leader, 4, Some("n3")),
            obs(950, "n3", Role::Leader, 4, Some("n3")),
        ];
        let r = check(&o);
        assert!(!r.valid);
        assert_eq!(
            r.anomalies,
            vec![SplitBrainAnomaly::TwoLeaders {
                term: 4,
                first: LeaderClaim {
                    node: "n1".into(),
                    time: 100
                },
                second: LeaderClaim {
                    node: "n3".into(),
                    time: 900
                },
            }]
        );
        assert!(
            r.describe()[0].contains("two leaders in term 4: n1"),
            "{:?}",
            r.describe()
        );
    }

    #[test]
    fn input_order_does_not_matter() {
        let o = vec![
            obs(900, "n3", Role::Leader, 4, None),
            obs(100, "n1", Role::Leader, 4, None),
        ];
        let r = check(&o);
        match &r.anomalies[0] {
            SplitBrainAnomaly::TwoLeaders { first, .. } => assert_eq!(first.node, "n1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_term_going_backwards_is_flagged() {
        let o = vec![
            obs(1, "n2", Role::Follower, 7, None),
            obs(2, "n2", Role::Follower, 5, None),
        ];
        let r = check(&o);
        assert_eq!(
            r.anomalies,
            vec![SplitBrainAnomaly::TermWentBack {
                node: "n2".into(),
                from: 7,
                to: 5,
                time: 2
            }]
        );
    }

    #[test]
    fn recovery_measures_time_to_a_majority_leader_and_to_the_next_write() {
        let s = 1_000_000_000u64; // 1 s rounds
        let mut o = Vec::new();
        // Rounds 0-1: n1 leads term 1 with everyone's agreement.
        for r in 0..2 {
            for n in ["n1", "n2", "n3"] {
                let role = if n == "n1" {
                    Role::Leader
                } else {
                    Role::Follower
                };
                o.push(obs(r * s + 1, n, role, 1, Some("n1")));
            }
        }
        // Rounds 2-3: n1 is cut off; n2, n3 have no leader.
        for r in 2..4 {
            o.push(obs(r * s + 1, "n1", Role::Leader, 1, Some("n1")));
            o.push(obs(r * s + 1, "n2", Role::Candidate, 2, None));
            o.push(obs(r * s + 1, "n3", Role::Follower, 2, None));
        }
        // Round 4: n2 leads term 2 with n3.
        o.push(obs(4 * s + 1, "n2", Role::Leader, 2, Some("n2")));
        o.push(obs(4 * s + 1, "n3", Role::Follower, 2, Some("n2")));
        o.push(obs(4 * s + 1, "n1", Role::Leader, 1, Some("n1")));
        let faults = vec![FaultWindow {
            fault: "partition one".into(),
            start: 2 * s,
            end: Some(6 * s),
            kind: None,
            nodes: Vec::new(),
        }];
        let writes = vec![s / 2, 4 * s + s / 2];
        let r = recovery(&faults, &o, &writes, 3, s);
        assert_eq!(r.len(), 1);
        assert_eq!(
            r[0].leader_after,
            Some(2 * s + 1),
            "round 4's majority agreed at 4 s + 1 ns"
        );
        assert_eq!(r[0].write_after, Some(2 * s + s / 2));

        let none = recovery(&faults, &o[..12], &writes[..1], 3, s);
        assert_eq!(none[0].leader_after, None);
        assert_eq!(none[0].write_after, None);
    }
}
