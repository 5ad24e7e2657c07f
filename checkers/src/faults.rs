//! Faults as the history records them, and what they did to the system.
//!
//! ```text
//! nemesis ──FaultEvent──► history.jsonl (process "nemesis", f "start-partition", value = event)
//!                                │ events(records)
//!                                ▼
//!                    [(time, FaultEvent)] ──windows──► [FaultWindow] (start … stop, one per fault)
//!                                                          │ availability(records, windows, status)
//!                                                          ▼
//!                                     [Availability] (leader after, first write after, errors,
//!                                                     recovery after the heal) ──► results.json, report
//! ```
//!
//! This is the one place where fault events are typed, paired into windows, and turned
//! into availability figures: the run's `results.json`, the terminal summary and
//! `report.html` all read what is computed here.
//!
//! Invariants: an event's time is the history record's time (the ops' clock); a window
//! opens at a `start` and closes at the next `stop` of the same fault kind, or at a
//! `heal-all`; a window never closed is open until the end of the history.
//!
//! Histories from Jepsen spell nemesis operations as `:f :start-partition` /
//! `:stop-partition` (or plain `:start` / `:stop`) with a free-form value; those are read
//! through [`FaultEvent::from_jepsen`], the only place that looks at an `f` name.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::history::{Kind, Process, Record};
use crate::split_brain::{self, Observation};

/// A fault family: what a stop heals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    Partition,
    Kill,
    Pause,
    Loss,
}

impl FaultKind {
    pub const ALL: [FaultKind; 4] = [
        FaultKind::Partition,
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Loss,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Loss => "loss",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown fault {s:?}; one of partition, kill, pause, loss"))
    }
}

/// Start or stop of one fault, or the heal of every fault at the end of the main phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultPhase {
    Start,
    Stop,
    HealAll,
}

/// What the nemesis achieved. Never a harness failure: `Skipped` means nothing was done
/// (with the reason), `Indeterminate` that some of it may have happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type", content = "reason")]
pub enum FaultOutcome {
    Installed,
    Skipped(String),
    Indeterminate(String),
}

/// Node → the nodes it drops packets from, by node name. Every node of the cluster is a
/// key (with an empty set when it drops nothing), so a bridge's middle node is known.
pub type GrudgeMap = BTreeMap<String, BTreeSet<String>>;

/// One nemesis operation, as the history records it (`process: "nemesis"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultEvent {
    pub phase: FaultPhase,
    /// The fault family (absent for a heal-all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FaultKind>,
    /// What was asked for, as the user spells it: `majority`, `primaries`, `0.2 on one`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub spec: String,
    /// The nodes acted on (for a partition: every node whose packet filter changed).
    #[serde(default, alias = "targets")]
    pub nodes: Vec<String>,
    /// The grudge a partition installed (start of a partition only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grudge: Option<GrudgeMap>,
    pub outcome: FaultOutcome,
}

impl FaultEvent {
    pub fn start(kind: FaultKind, spec: impl Into<String>, outcome: FaultOutcome) -> FaultEvent {
        FaultEvent {
            phase: FaultPhase::Start,
            kind: Some(kind),
            spec: spec.into(),
            nodes: Vec::new(),
            grudge: None,
            outcome,
        }
    }

    pub fn stop(kind: FaultKind, outcome: FaultOutcome) -> FaultEvent {
        FaultEvent {
            phase: FaultPhase::Stop,
            kind: Some(kind),
            spec: String::new(),
            nodes: Vec::new(),
            grudge: None,
            outcome,
        }
    }

    pub fn heal_all() -> FaultEvent {
        FaultEvent {
            phase: FaultPhase::HealAll,
            kind: None,
            spec: String::new(),
            nodes: Vec::new(),
            grudge: None,
            outcome: FaultOutcome::Installed,
        }
    }

    pub fn with_nodes<S: Into<String>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        self.nodes = nodes.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_grudge(mut self, grudge: GrudgeMap) -> Self {
        self.grudge = Some(grudge);
        self
    }

    /// The op name in the history: `start-partition`, `stop-kill`, `heal-all` (Jepsen's
    /// spelling, so Jepsen's tools read our histories).
    pub fn f(&self) -> String {
        match (self.phase, self.kind) {
            (FaultPhase::HealAll, _) => "heal-all".into(),
            (FaultPhase::Start, Some(k)) => format!("start-{k}"),
            (FaultPhase::Stop, Some(k)) => format!("stop-{k}"),
            (FaultPhase::Start, None) => "start".into(),
            (FaultPhase::Stop, None) => "stop".into(),
        }
    }

    /// The fault in words, for windows, reports and the terminal:
    /// `partition majority {n1,n2,n3} | {n4,n5}`, `kill one [n3]`, `pause primaries [n2]`.
    pub fn describe(&self) -> String {
        let mut s = match self.kind {
            Some(k) => k.name().to_string(),
            None => "heal-all".to_string(),
        };
        if !self.spec.is_empty() {
            s.push(' ');
            s.push_str(&self.spec);
        }
        match &self.grudge {
            Some(g) if !g.values().all(BTreeSet::is_empty) => {
                s.push(' ');
                s.push_str(&describe_grudge(g));
            }
            _ if !self.nodes.is_empty() => {
                s.push_str(&format!(" [{}]", self.nodes.join(",")));
            }
            _ => {}
        }
        s
    }

    /// The fault event a history record carries, if it is one. faultline writes the event
    /// itself as the value; histories from elsewhere are read with Jepsen's conventions.
    pub fn from_record(r: &Record) -> Option<FaultEvent> {
        if r.process != Process::Nemesis {
            return None;
        }
        if let Ok(e) = serde_json::from_value::<FaultEvent>(r.value.clone()) {
            return Some(e);
        }
        FaultEvent::from_jepsen(&r.f, &r.value)
    }

    /// A nemesis op as Jepsen spells it: `start-<fault>`/`stop-<fault>`, `start`/`stop`
    /// (older nemeses), `heal-all`; anything else is not a fault boundary.
    pub fn from_jepsen(f: &str, value: &serde_json::Value) -> Option<FaultEvent> {
        let (phase, rest) = if f == "heal-all" {
            return Some(FaultEvent::heal_all());
        } else if let Some(rest) = f.strip_prefix("start") {
            (FaultPhase::Start, rest)
        } else if let Some(rest) = f.strip_prefix("stop") {
            (FaultPhase::Stop, rest)
        } else {
            return None;
        };
        let name = rest.trim_start_matches(['-', '_']);
        let kind = if name.is_empty() {
            Some(FaultKind::Partition)
        } else {
            name.parse::<FaultKind>().ok()
        };
        let spec = match (phase, value) {
            (FaultPhase::Start, serde_json::Value::String(s)) => s.clone(),
            (FaultPhase::Start, serde_json::Value::Null) => String::new(),
            (FaultPhase::Start, other) => {
                let text = other.to_string();
                if text.chars().count() > 80 {
                    format!("{}…", text.chars().take(80).collect::<String>())
                } else {
                    text
                }
            }
            _ => String::new(),
        };
        let mut event = match phase {
            FaultPhase::Start => FaultEvent::start(
                kind.unwrap_or(FaultKind::Partition),
                spec,
                FaultOutcome::Installed,
            ),
            _ => FaultEvent::stop(
                kind.unwrap_or(FaultKind::Partition),
                FaultOutcome::Installed,
            ),
        };
        if kind.is_none() {
            // An unknown family (`start-bitflip`): keep its name so windows stay apart.
            event.spec = format!("{name} {}", event.spec).trim().to_string();
        }
        Some(event)
    }
}

impl fmt::Display for FaultEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.f())?;
        if self.phase == FaultPhase::Start {
            write!(f, " {}", self.describe())?;
        } else if !self.nodes.is_empty() {
            write!(f, " [{}]", self.nodes.join(","))?;
        }
        match &self.outcome {
            FaultOutcome::Installed => Ok(()),
            FaultOutcome::Skipped(r) => write!(f, ": skipped ({r})"),
            FaultOutcome::Indeterminate(r) => write!(f, ": indeterminate ({r})"),
        }
    }
}

/// A grudge in words.
///
/// - a partition into groups that only talk among themselves: `{n1,n2,n3} | {n4,n5}`;
/// - a bridge (two groups and nodes that talk to both): `{n1,n2} | {n4,n5} bridged by {n3}`;
/// - any other symmetric grudge (majorities-ring): `n1 sees {n1,n2,n5}; …`;
/// - an asymmetric one (one-way): `{n1,n2} drop from {n3,n4,n5}`.
pub fn describe_grudge(g: &GrudgeMap) -> String {
    let mut nodes: BTreeSet<&str> = BTreeSet::new();
    for (n, from) in g {
        nodes.insert(n);
        nodes.extend(from.iter().map(String::as_str));
    }
    let drops = |a: &str, b: &str| g.get(a).is_some_and(|s| s.contains(b));
    let symmetric = nodes
        .iter()
        .all(|a| nodes.iter().all(|b| drops(a, b) == drops(b, a)));
    let set =
        |s: &BTreeSet<&str>| format!("{{{}}}", s.iter().copied().collect::<Vec<_>>().join(","));
    if !symmetric {
        // Group nodes by what they drop.
        let mut by_drop: BTreeMap<BTreeSet<&str>, BTreeSet<&str>> = BTreeMap::new();
        for n in &nodes {
            let d: BTreeSet<&str> = g
                .get(*n)
                .map(|s| s.iter().map(String::as_str).collect())
                .unwrap_or_default();
            if !d.is_empty() {
                by_drop.entry(d).or_default().insert(n);
            }
        }
        return by_drop
            .iter()
            .map(|(d, who)| format!("{} drop from {}", set(who), set(d)))
            .collect::<Vec<_>>()
            .join("; ");
    }
    // Each node's reach: itself and the nodes it can talk to.
    let reach = |a: &str| -> BTreeSet<&str> {
        nodes
            .iter()
            .copied()
            .filter(|b| *b == a || !drops(a, b))
            .collect()
    };
    let mut groups: BTreeMap<BTreeSet<&str>, BTreeSet<&str>> = BTreeMap::new();
    for n in &nodes {
        groups.entry(reach(n)).or_default().insert(n);
    }
    if groups.iter().all(|(r, members)| r == members) {
        let mut parts: Vec<&BTreeSet<&str>> = groups.values().collect();
        parts.sort_by_key(|s| std::cmp::Reverse(s.len()));
        return parts.iter().map(|s| set(s)).collect::<Vec<_>>().join(" | ");
    }
    // Bridge: nodes reaching everyone join groups that are otherwise closed.
    let everyone: BTreeSet<&str> = nodes.clone();
    let bridges: BTreeSet<&str> = groups
        .iter()
        .filter(|(r, _)| **r == everyone)
        .flat_map(|(_, m)| m.iter().copied())
        .collect();
    let closed = groups
        .iter()
        .filter(|(r, _)| **r != everyone)
        .all(|(r, members)| r.difference(&bridges).copied().collect::<BTreeSet<_>>() == *members);
    if !bridges.is_empty() && closed {
        let sides: Vec<String> = groups
            .iter()
            .filter(|(r, _)| **r != everyone)
            .map(|(_, m)| set(m))
            .collect();
        return format!("{} bridged by {}", sides.join(" | "), set(&bridges));
    }
    nodes
        .iter()
        .map(|n| format!("{n} sees {}", set(&reach(n))))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every fault event of a history with its time, in history order.
pub fn events(records: &[Record]) -> Vec<(u64, FaultEvent)> {
    records
        .iter()
        .filter_map(|r| FaultEvent::from_record(r).map(|e| (r.time.unwrap_or(0), e)))
        .collect()
}

/// When one fault was in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// What the fault was, in words ([`FaultEvent::describe`]).
    pub fault: String,
    pub start: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    /// The fault family (absent in windows stored before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<FaultKind>,
    /// The nodes it hit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

/// Fault windows from the history's fault events: each start is closed by the next
/// stop of the same kind, or by a heal-all. Starts that did nothing (skipped) open no
/// window.
pub fn windows(records: &[Record]) -> Vec<FaultWindow> {
    windows_of(&events(records))
}

/// [`windows`] over events already read.
pub fn windows_of(events: &[(u64, FaultEvent)]) -> Vec<FaultWindow> {
    let mut out: Vec<FaultWindow> = Vec::new();
    for (time, e) in events {
        match e.phase {
            FaultPhase::Start => {
                if matches!(e.outcome, FaultOutcome::Skipped(_)) {
                    continue;
                }
                out.push(FaultWindow {
                    fault: e.describe(),
                    start: *time,
                    end: None,
                    kind: e.kind,
                    nodes: e.nodes.clone(),
                });
            }
            FaultPhase::Stop => {
                if let Some(w) = out
                    .iter_mut()
                    .rev()
                    .find(|w| w.end.is_none() && w.kind == e.kind)
                {
                    w.end = Some(*time);
                }
            }
            FaultPhase::HealAll => {
                for w in out.iter_mut().filter(|w| w.end.is_none()) {
                    w.end = Some(*time);
                }
            }
        }
    }
    out
}

/// The time of the last heal-all, if the history has one.
pub fn healed_at(records: &[Record]) -> Option<u64> {
    events(records)
        .into_iter()
        .rev()
        .find(|(_, e)| e.phase == FaultPhase::HealAll)
        .map(|(t, _)| t)
}

/// How the system fared during and after one fault. All durations in ns; `None` means
/// "did not happen in the run" (or "not measured").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    pub fault: String,
    pub start: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    /// From the fault's start to the first write that completed ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ok_write_after: Option<u64>,
    /// From the fault's start until the cluster had a leader again (from the status
    /// observations; see [`split_brain::recovery`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_after: Option<u64>,
    /// Share of client operations completing during the fault that failed or timed
    /// out (fail + info over all completions), 0.0..=1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// From the heal to the first write that completed ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_after_heal: Option<u64>,
}

/// What availability needs beyond the history: which `f`s are writes, and, when the
/// target reported status, the observations and how to read them.
#[derive(Debug, Clone, Copy)]
pub struct AvailabilityInput<'a> {
    pub writes: &'a [&'a str],
    pub status: Option<&'a [Observation]>,
    /// Cluster size (a leader counts when a majority of it agrees).
    pub nodes: usize,
    /// Status polling interval, ns.
    pub round: u64,
}

/// Ok completions of writes (by `f`), sorted by time.
pub fn ok_writes(records: &[Record], writes: &[&str]) -> Vec<u64> {
    let mut v: Vec<u64> = records
        .iter()
        .filter(|r| r.process != Process::Nemesis && r.kind == Kind::Ok)
        .filter(|r| writes.contains(&r.f.as_str()))
        .filter_map(|r| r.time)
        .collect();
    v.sort_unstable();
    v
}

/// Availability per fault window: the first ok write after the fault began, the share
/// of completions during it that failed or were indeterminate, the first ok write
/// after its heal, and (with status) the time to a leader agreed by a majority.
pub fn availability(
    records: &[Record],
    windows: &[FaultWindow],
    input: AvailabilityInput<'_>,
) -> Vec<Availability> {
    let writes = ok_writes(records, input.writes);
    let first_ok_write_from = |t: u64| {
        let i = writes.partition_point(|&w| w < t);
        writes.get(i).map(|&w| w - t)
    };
    let completions: Vec<(u64, bool)> = records
        .iter()
        .filter(|r| r.process != Process::Nemesis && r.kind != Kind::Invoke)
        .filter_map(|r| r.time.map(|t| (t, r.kind == Kind::Ok)))
        .collect();
    let history_end = records.iter().filter_map(|r| r.time).max().unwrap_or(0);
    let recovery = input
        .status
        .map(|obs| split_brain::recovery(windows, obs, &writes, input.nodes, input.round));
    windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let end = w.end.unwrap_or(history_end);
            let (mut done, mut bad) = (0u64, 0u64);
            for &(t, ok) in &completions {
                if t >= w.start && t <= end {
                    done += 1;
                    if !ok {
                        bad += 1;
                    }
                }
            }
            Availability {
                fault: w.fault.clone(),
                start: w.start,
                end: w.end,
                first_ok_write_after: first_ok_write_from(w.start),
                leader_after: recovery
                    .as_ref()
                    .and_then(|r| r.get(i))
                    .and_then(|r| r.leader_after),
                error_rate: (done > 0).then(|| bad as f64 / done as f64),
                recovered_after_heal: w.end.and_then(first_ok_write_from),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ProcessId;

    fn rec(time: u64, process: Process, kind: Kind, f: &str, value: serde_json::Value) -> Record {
        Record {
            line: 0,
            index: None,
            time: Some(time),
            process,
            kind,
            f: f.into(),
            key: None,
            value,
            error: None,
        }
    }

    fn nemesis(time: u64, e: &FaultEvent) -> Record {
        rec(
            time,
            Process::Nemesis,
            Kind::Info,
            &e.f(),
            serde_json::to_value(e).unwrap(),
        )
    }

    fn grudge(pairs: &[(&str, &[&str])]) -> GrudgeMap {
        pairs
            .iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn events_round_trip_through_a_history_record() {
        let e = FaultEvent::start(FaultKind::Partition, "majority", FaultOutcome::Installed)
            .with_nodes(["n1", "n2", "n3"])
            .with_grudge(grudge(&[
                ("n1", &["n3"]),
                ("n2", &["n3"]),
                ("n3", &["n1", "n2"]),
            ]));
        let r = nemesis(7, &e);
        assert_eq!(r.f, "start-partition");
        assert_eq!(FaultEvent::from_record(&r), Some(e));
        let heal = nemesis(9, &FaultEvent::heal_all());
        assert_eq!(heal.f, "heal-all");
        assert_eq!(
            FaultEvent::from_record(&heal).unwrap().phase,
            FaultPhase::HealAll
        );
        let client = rec(
            1,
            Process::Client(ProcessId(0)),
            Kind::Ok,
            "start-x",
            serde_json::Value::Null,
        );
        assert_eq!(FaultEvent::from_record(&client), None);
    }

    #[test]
    fn events_stored_before_the_typed_event_still_read() {
        // The value faultline wrote until the event type moved into the history model.
        let old = serde_json::json!({"time_ns": 5, "f": "start-kill", "phase": "start",
            "kind": "kill", "fault": {"type": "kill", "nodes": "one"}, "targets": ["n2"],
            "outcome": {"type": "installed"}});
        let e = FaultEvent::from_record(&rec(5, Process::Nemesis, Kind::Info, "start-kill", old))
            .unwrap();
        assert_eq!(
            (e.phase, e.kind),
            (FaultPhase::Start, Some(FaultKind::Kill))
        );
        assert_eq!(e.nodes, vec!["n2".to_string()]);
        let old_heal = rec(
            6,
            Process::Nemesis,
            Kind::Info,
            "heal-all",
            serde_json::json!({"healed": "every fault"}),
        );
        assert_eq!(
            FaultEvent::from_record(&old_heal).unwrap().phase,
            FaultPhase::HealAll
        );
    }

    #[test]
    fn jepsen_nemesis_ops_are_fault_boundaries() {
        let s =
            FaultEvent::from_jepsen("start-partition", &serde_json::json!("isolated n1")).unwrap();
        assert_eq!(
            (s.phase, s.kind),
            (FaultPhase::Start, Some(FaultKind::Partition))
        );
        assert_eq!(s.describe(), "partition isolated n1");
        let s = FaultEvent::from_jepsen("start", &serde_json::Value::Null).unwrap();
        assert_eq!(s.kind, Some(FaultKind::Partition));
        let k = FaultEvent::from_jepsen("stop-kill", &serde_json::Value::Null).unwrap();
        assert_eq!((k.phase, k.kind), (FaultPhase::Stop, Some(FaultKind::Kill)));
        assert_eq!(
            FaultEvent::from_jepsen("read", &serde_json::Value::Null),
            None
        );
    }

    #[test]
    fn partitions_are_described_by_their_sides() {
        let majority = grudge(&[
            ("n1", &["n4", "n5"]),
            ("n2", &["n4", "n5"]),
            ("n3", &["n4", "n5"]),
            ("n4", &["n1", "n2", "n3"]),
            ("n5", &["n1", "n2", "n3"]),
        ]);
        assert_eq!(describe_grudge(&majority), "{n1,n2,n3} | {n4,n5}");
        let e = FaultEvent::start(FaultKind::Partition, "majority", FaultOutcome::Installed)
            .with_grudge(majority);
        assert_eq!(e.describe(), "partition majority {n1,n2,n3} | {n4,n5}");
        let bridge = grudge(&[
            ("n1", &["n4", "n5"]),
            ("n2", &["n4", "n5"]),
            ("n3", &[]),
            ("n4", &["n1", "n2"]),
            ("n5", &["n1", "n2"]),
        ]);
        assert_eq!(
            describe_grudge(&bridge),
            "{n1,n2} | {n4,n5} bridged by {n3}"
        );
        let one_way = grudge(&[("n1", &["n3", "n4"]), ("n2", &["n3", "n4"])]);
        assert_eq!(describe_grudge(&one_way), "{n1,n2} drop from {n3,n4}");
        let ring = grudge(&[
            ("n1", &["n3", "n4"]),
            ("n2", &["n4", "n5"]),
            ("n3", &["n1", "n5"]),
            ("n4", &["n1", "n2"]),
            ("n5", &["n2", "n3"]),
        ]);
        assert!(
            describe_grudge(&ring).starts_with("n1 sees {n1,n2,n5}; n2 sees {n1,n2,n3}"),
            "{}",
            describe_grudge(&ring)
        );
        let kill =
            FaultEvent::start(FaultKind::Kill, "one", FaultOutcome::Installed).with_nodes(["n3"]);
        assert_eq!(kill.describe(), "kill one [n3]");
    }

    #[test]
    fn windows_pair_starts_with_stops_and_heal_all_closes_the_rest() {
        let p = FaultEvent::start(FaultKind::Partition, "one", FaultOutcome::Installed)
            .with_grudge(grudge(&[("n1", &["n2"]), ("n2", &["n1"])]));
        let k =
            FaultEvent::start(FaultKind::Kill, "one", FaultOutcome::Installed).with_nodes(["n3"]);
        let skipped = FaultEvent::start(
            FaultKind::Pause,
            "primaries",
            FaultOutcome::Skipped("no leader".into()),
        );
        let records = vec![
            nemesis(10, &p),
            nemesis(20, &k),
            nemesis(25, &skipped),
            nemesis(
                30,
                &FaultEvent::stop(FaultKind::Partition, FaultOutcome::Installed),
            ),
            nemesis(40, &FaultEvent::heal_all()),
        ];
        let w = windows(&records);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].fault, "partition one {n1} | {n2}");
        assert_eq!((w[0].start, w[0].end), (10, Some(30)));
        assert_eq!(w[1].fault, "kill one [n3]");
        assert_eq!(
            (w[1].start, w[1].end),
            (20, Some(40)),
            "closed by the heal-all"
        );
        assert_eq!(healed_at(&records), Some(40));
    }

    #[test]
    fn availability_follows_the_completions() {
        let c = |p| Process::Client(ProcessId(p));
        let v = serde_json::Value::Null;
        let records = vec![
            rec(0, c(0), Kind::Invoke, "write", v.clone()),
            rec(10, c(0), Kind::Ok, "write", v.clone()),
            rec(100, c(0), Kind::Invoke, "write", v.clone()),
            rec(150, c(0), Kind::Info, "write", v.clone()),
            rec(120, c(1), Kind::Invoke, "read", v.clone()),
            rec(160, c(1), Kind::Fail, "read", v.clone()),
            rec(170, c(1), Kind::Invoke, "read", v.clone()),
            rec(180, c(1), Kind::Ok, "read", v.clone()),
            rec(200, c(2), Kind::Invoke, "write", v.clone()),
            rec(260, c(2), Kind::Ok, "write", v.clone()),
        ];
        let windows = vec![FaultWindow {
            fault: "partition".into(),
            start: 90,
            end: Some(190),
            kind: Some(FaultKind::Partition),
            nodes: Vec::new(),
        }];
        let a = availability(
            &records,
            &windows,
            AvailabilityInput {
                writes: &["write"],
                status: None,
                nodes: 3,
                round: 1,
            },
        );
        assert_eq!(a[0].first_ok_write_after, Some(170));
        assert_eq!(a[0].recovered_after_heal, Some(70));
        assert_eq!(a[0].leader_after, None, "no status observed");
        // Completions in [90, 190]: info at 150, fail at 160, ok at 180.
        let rate = a[0].error_rate.unwrap();
        assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    }
}
