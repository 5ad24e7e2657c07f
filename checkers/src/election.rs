//! Application split-brain: leader election *by services built on* a coordination
//! system, judged from what the candidates said and what the fenced resource did.
//!
//! ```text
//! candidates ──reports──► resource (controller clock) ──► history: leader / step-down / write
//!                                                              │ events()
//!                                                              ▼
//!               tenures (one per "I lead with token T" … "I no longer lead")
//!                 ├─ overlaps      two tenures of one election at overlapping times
//!                 ├─ stale writes  accepted with a token older than the newest tenure's
//!                 ├─ tokens        each tenure's token above every earlier tenure's
//!                 └─ failover      the leader role's write gap at each succession
//! ```
//!
//! A *tenure* is one candidate incarnation's belief that it leads: from its `leader`
//! report to its `step-down` report. Times are the controller's (when the report
//! arrived), so a tenure starts no earlier than the candidate believed and ends no
//! earlier than it stopped believing: overlaps are never invented by clock skew, only by
//! report latency (sub-millisecond here; bounded by one report's round trip). Two
//! refinements:
//! - a candidate in `lease` mode bounds its own belief: every report and write carries
//!   the lease it has left by its own clock (`lease_ms`), so its tenure ends at the
//!   earliest of its step-down and the last lease bound, but never before the last
//!   write it made (acting is believing);
//! - a tenure with no step-down (the candidate was killed, or the run ended) ends when
//!   the resource last heard from that incarnation.
//!
//! Verdict per mode (the three modes run side by side, each its own election):
//! - `naive`, `lease`: an overlap, a stale write accepted or a token out of order is
//!   invalid;
//! - `fenced`: overlaps are listed, but the verdict rests on stale writes accepted (and
//!   token order): tolerating overlapping beliefs is what fencing is for.
//!
//! A write is *stale* when, as the resource accepted it, a tenure with a larger token
//! had already begun. Rejected writes are "fencing saved you N times".
//!
//! Pure: records in, an [`ElectionReport`] out. References: Kleppmann, "How to do
//! distributed locking" (2016); Jepsen's etcd 3.4.3 lock analysis (2020); openraft's
//! `tests-turmoil` election-safety invariant.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::check::{CheckInput, Checker, CheckerResult};
use crate::faults::FaultWindow;
use crate::history::{Kind, Process, Record};
use crate::verdict::Validity;
use crate::InputError;

/// The `f` of a belief change to leader.
pub const F_LEADER: &str = "leader";
/// The `f` of a belief change away from leader.
pub const F_STEP_DOWN: &str = "step-down";
/// The `f` of a write to the fenced resource.
pub const F_WRITE: &str = "write";

/// How a candidate defends itself (see the module docs and `docs/election.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Trusts its leadership until the service tells it otherwise.
    Naive,
    /// Also steps down when its lease could have expired by its own clock.
    Lease,
    /// Naive, and the resource rejects writes with a token older than one it accepted.
    Fenced,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Naive, Mode::Lease, Mode::Fenced];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Naive => "naive",
            Mode::Lease => "lease",
            Mode::Fenced => "fenced",
        }
    }

    /// Parses a mode name; the error lists the accepted values.
    pub fn parse(s: &str) -> Result<Mode, String> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown candidate mode {s:?} (accepted: naive, lease, fenced)"))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        Mode::parse(s)
    }
}

/// What the resource did with a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum WriteOutcome {
    Accepted,
    /// Fenced off: the resource had accepted `highest` already.
    Rejected {
        highest: u64,
    },
}

/// One thing a candidate incarnation did, as the history recorded it (its `ok` line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Controller time, ns since the run started.
    pub time: u64,
    /// The candidate incarnation (a history process).
    pub process: u64,
    pub candidate: String,
    pub mode: Mode,
    pub token: u64,
    /// The lease the candidate had left by its own clock when it sent this (lease mode).
    pub lease_ms: Option<u64>,
    pub what: What,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
pub enum What {
    Leader,
    StepDown { reason: String },
    Write { outcome: WriteOutcome },
}

#[derive(Deserialize)]
struct Value {
    candidate: String,
    mode: String,
    token: u64,
    #[serde(default)]
    lease_ms: Option<u64>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    highest: Option<u64>,
}

/// The election events of a history: every `ok` line of `leader`, `step-down` and
/// `write` by a client process, in file order. Other lines are ignored; a malformed
/// election line is an error naming its line and field.
pub fn events(records: &[Record]) -> Result<Vec<Event>, InputError> {
    let mut out = Vec::new();
    for r in records {
        let Process::Client(p) = r.process else {
            continue;
        };
        if r.kind != Kind::Ok || ![F_LEADER, F_STEP_DOWN, F_WRITE].contains(&r.f.as_str()) {
            continue;
        }
        let bad = |what: String| InputError::at_line(r.line, format!("{} op: {what}", r.f));
        let v: Value = serde_json::from_value(r.value.clone()).map_err(|e| bad(e.to_string()))?;
        let mode = Mode::parse(&v.mode).map_err(|e| bad(format!("field mode: {e}")))?;
        let what = match r.f.as_str() {
            F_LEADER => What::Leader,
            F_STEP_DOWN => What::StepDown {
                reason: v.reason.unwrap_or_default(),
            },
            _ => What::Write {
                outcome: match (v.outcome.as_deref(), v.highest) {
                    (Some("accepted"), _) => WriteOutcome::Accepted,
                    (Some("rejected"), Some(highest)) => WriteOutcome::Rejected { highest },
                    (Some("rejected"), None) => {
                        return Err(bad("field highest: a rejected write needs it".into()))
                    }
                    (other, _) => {
                        return Err(bad(format!(
                            "field outcome: {other:?} is not \"accepted\" or \"rejected\""
                        )))
                    }
                },
            },
        };
        out.push(Event {
            time: r.time.unwrap_or(0),
            process: p.0,
            candidate: v.candidate,
            mode,
            token: v.token,
            lease_ms: v.lease_ms,
            what,
        });
    }
    Ok(out)
}

/// How a tenure's end was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum TenureEnd {
    /// The candidate reported it no longer leads.
    StepDown { reason: String },
    /// Its lease ran out by its own clock (lease mode).
    Lease,
    /// Nothing ended it: the last time the resource heard from the incarnation.
    LastHeard,
}

/// One candidate incarnation's belief that it led.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenure {
    pub candidate: String,
    pub process: u64,
    pub token: u64,
    pub start: u64,
    pub end: u64,
    pub ended: TenureEnd,
    pub accepted: u64,
    pub rejected: u64,
    /// First and last accepted write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_write: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_write: Option<u64>,
}

/// Two tenures of one election at overlapping times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlap {
    pub first: Tenure,
    pub second: Tenure,
    pub start: u64,
    pub end: u64,
    /// The faults in force at any moment of the overlap, in words.
    pub faults: Vec<String>,
}

/// A write the resource accepted from a leader that was no longer the newest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleWrite {
    pub time: u64,
    pub candidate: String,
    pub process: u64,
    pub token: u64,
    /// The newest tenure begun by then.
    pub newest_candidate: String,
    pub newest_token: u64,
    pub newest_since: u64,
}

/// A tenure whose token is not above an earlier tenure's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenOrder {
    pub earlier: Tenure,
    pub later: Tenure,
}

/// One succession: the leader role's gap in accepted writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failover {
    pub from: String,
    pub to: String,
    /// The old leader's last accepted write before the new tenure began (or its start).
    pub lost: u64,
    /// The new leader's first accepted write.
    pub first_write: u64,
    pub nanos: u64,
    /// The fault in force when the old leader was lost, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// Everything found for one mode's election.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeReport {
    pub mode: Mode,
    pub valid: bool,
    pub tenures: Vec<Tenure>,
    pub overlaps: Vec<Overlap>,
    pub stale_writes: Vec<StaleWrite>,
    pub writes_accepted: u64,
    /// Writes the resource rejected for a stale token: "fencing saved you N times".
    pub writes_fenced: u64,
    pub token_order: Vec<TokenOrder>,
    pub failovers: Vec<Failover>,
}

impl ModeReport {
    /// Failover percentile (0–100) in ns, nearest rank.
    pub fn failover_percentile(&self, p: u64) -> Option<u64> {
        let mut v: Vec<u64> = self.failovers.iter().map(|f| f.nanos).collect();
        v.sort_unstable();
        let n = v.len() as u64;
        (n > 0).then(|| v[((p * n).div_ceil(100)).clamp(1, n) as usize - 1])
    }

    /// The fencing outcome in one plain sentence.
    pub fn sentence(&self) -> String {
        let overlaps = match self.overlaps.len() {
            0 => "no two candidates ever believed they led at once".to_string(),
            1 => "two candidates believed they led at once 1 time".to_string(),
            n => format!("two candidates believed they led at once {n} times"),
        };
        let stale = self.stale_writes.len();
        match self.mode {
            Mode::Fenced if self.writes_fenced > 0 && stale == 0 => format!(
                "{}: {overlaps}, and fencing saved you {} times: the resource rejected every stale write",
                self.mode, self.writes_fenced
            ),
            Mode::Fenced if stale == 0 => {
                format!("{}: {overlaps}; no stale write reached the resource", self.mode)
            }
            _ if stale > 0 => format!(
                "{}: {overlaps}, and the resource accepted {stale} writes from a leader that had been replaced",
                self.mode
            ),
            _ => format!("{}: {overlaps}; no stale write was accepted", self.mode),
        }
    }
}

/// What the election checks found, one report per mode that ran.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ElectionReport {
    pub modes: Vec<ModeReport>,
}

/// Checks every mode's election in `events` (see [`events`]); `faults` name what was in
/// force during overlaps and failovers.
pub fn check(events: &[Event], faults: &[FaultWindow]) -> ElectionReport {
    let mut by_mode: BTreeMap<Mode, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_mode.entry(e.mode).or_default().push(e);
    }
    let modes = by_mode
        .into_iter()
        .map(|(mode, mut evs)| {
            evs.sort_by_key(|e| e.time);
            check_mode(mode, &evs, faults)
        })
        .collect();
    ElectionReport { modes }
}

fn check_mode(mode: Mode, events: &[&Event], faults: &[FaultWindow]) -> ModeReport {
    let tenures = tenures(mode, events);
    let overlaps = overlaps(&tenures, faults);
    let stale_writes = stale_writes(events, &tenures);
    let token_order = token_order(&tenures);
    let failovers = failovers(events, &tenures, faults);
    let writes_accepted = tenures.iter().map(|t| t.accepted).sum();
    let writes_fenced = events
        .iter()
        .filter(|e| {
            matches!(
                e.what,
                What::Write {
                    outcome: WriteOutcome::Rejected { .. }
                }
            )
        })
        .count() as u64;
    let valid = stale_writes.is_empty()
        && token_order.is_empty()
        && (mode == Mode::Fenced || overlaps.is_empty());
    ModeReport {
        mode,
        valid,
        tenures,
        overlaps,
        stale_writes,
        writes_accepted,
        writes_fenced,
        token_order,
        failovers,
    }
}

/// Each incarnation's tenures, sorted by start. Events are in time order.
fn tenures(mode: Mode, events: &[&Event]) -> Vec<Tenure> {
    struct Open {
        t: Tenure,
        lease_bound: Option<u64>,
        last_act: u64,
    }
    let mut open: BTreeMap<u64, Open> = BTreeMap::new();
    let mut last_heard: BTreeMap<u64, u64> = BTreeMap::new();
    let mut done = Vec::new();
    let close = |o: Open, at: u64, ended: TenureEnd| -> Tenure {
        let mut t = o.t;
        let (end, ended) = match (mode, o.lease_bound) {
            (Mode::Lease, Some(bound)) if bound.max(o.last_act) < at => {
                (bound.max(o.last_act), TenureEnd::Lease)
            }
            _ => (at, ended),
        };
        t.end = end.max(t.start);
        t.ended = ended;
        t
    };
    for e in events {
        last_heard.insert(e.process, e.time);
        let bound = e.lease_ms.map(|ms| e.time.saturating_add(ms * 1_000_000));
        match &e.what {
            What::Leader => {
                if let Some(o) = open.remove(&e.process) {
                    // A second `leader` without a step-down: the first tenure ended when
                    // the second began.
                    done.push(close(o, e.time, TenureEnd::LastHeard));
                }
                open.insert(
                    e.process,
                    Open {
                        t: Tenure {
                            candidate: e.candidate.clone(),
                            process: e.process,
                            token: e.token,
                            start: e.time,
                            end: e.time,
                            ended: TenureEnd::LastHeard,
                            accepted: 0,
                            rejected: 0,
                            first_write: None,
                            last_write: None,
                        },
                        lease_bound: bound,
                        last_act: e.time,
                    },
                );
            }
            What::StepDown { reason } => {
                if let Some(o) = open.remove(&e.process) {
                    done.push(close(
                        o,
                        e.time,
                        TenureEnd::StepDown {
                            reason: reason.clone(),
                        },
                    ));
                }
            }
            What::Write { outcome } => {
                if let Some(o) = open.get_mut(&e.process) {
                    o.last_act = e.time;
                    if bound.is_some() {
                        o.lease_bound = bound.max(o.lease_bound);
                    }
                    match outcome {
                        WriteOutcome::Accepted => {
                            o.t.accepted += 1;
                            o.t.first_write.get_or_insert(e.time);
                            o.t.last_write = Some(e.time);
                        }
                        WriteOutcome::Rejected { .. } => o.t.rejected += 1,
                    }
                }
            }
        }
    }
    for (p, o) in std::mem::take(&mut open) {
        let at = last_heard.get(&p).copied().unwrap_or(o.t.start);
        done.push(close(o, at, TenureEnd::LastHeard));
    }
    done.sort_by_key(|t| (t.start, t.process));
    done
}

fn faults_during(faults: &[FaultWindow], start: u64, end: u64) -> Vec<String> {
    faults
        .iter()
        .filter(|w| w.start <= end && w.end.is_none_or(|e| e >= start))
        .map(|w| w.fault.clone())
        .collect()
}

fn overlaps(tenures: &[Tenure], faults: &[FaultWindow]) -> Vec<Overlap> {
    let mut out = Vec::new();
    for (i, a) in tenures.iter().enumerate() {
        for b in &tenures[i + 1..] {
            if b.start >= a.end {
                continue;
            }
            if a.process == b.process {
                continue;
            }
            let (start, end) = (b.start, a.end.min(b.end));
            if end <= start {
                continue;
            }
            out.push(Overlap {
                first: a.clone(),
                second: b.clone(),
                start,
                end,
                faults: faults_during(faults, start, end),
            });
        }
    }
    out
}

fn stale_writes(events: &[&Event], tenures: &[Tenure]) -> Vec<StaleWrite> {
    let mut out = Vec::new();
    for e in events {
        if !matches!(
            e.what,
            What::Write {
                outcome: WriteOutcome::Accepted
            }
        ) {
            continue;
        }
        let newest = tenures
            .iter()
            .filter(|t| t.start <= e.time && t.process != e.process)
            .max_by_key(|t| t.token);
        if let Some(n) = newest.filter(|n| n.token > e.token) {
            out.push(StaleWrite {
                time: e.time,
                candidate: e.candidate.clone(),
                process: e.process,
                token: e.token,
                newest_candidate: n.candidate.clone(),
                newest_token: n.token,
                newest_since: n.start,
            });
        }
    }
    out
}

fn token_order(tenures: &[Tenure]) -> Vec<TokenOrder> {
    let mut out = Vec::new();
    let mut best: Option<&Tenure> = None;
    for t in tenures {
        if let Some(b) = best {
            if t.token <= b.token {
                out.push(TokenOrder {
                    earlier: b.clone(),
                    later: t.clone(),
                });
            }
        }
        if best.is_none_or(|b| t.token > b.token) {
            best = Some(t);
        }
    }
    out
}

/// Per succession of tenures (sorted by start), from the old leader's last accepted
/// write before the new tenure began (its tenure's start when it wrote nothing by then)
/// to the new leader's first accepted write. The old leader's *last* write overall is
/// no measure: one that was paused writes again, stale, after it woke.
fn failovers(events: &[&Event], tenures: &[Tenure], faults: &[FaultWindow]) -> Vec<Failover> {
    let mut out = Vec::new();
    for pair in tenures.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        if old.process == new.process {
            continue;
        }
        let Some(first_write) = new.first_write else {
            continue;
        };
        let lost = events
            .iter()
            .filter(|e| {
                e.process == old.process
                    && (old.start..=new.start).contains(&e.time)
                    && matches!(
                        e.what,
                        What::Write {
                            outcome: WriteOutcome::Accepted
                        }
                    )
            })
            .map(|e| e.time)
            .max()
            .unwrap_or(old.start.min(new.start));
        let fault = faults
            .iter()
            .find(|w| w.start <= new.start && w.end.is_none_or(|e| e >= lost))
            .map(|w| w.fault.clone());
        out.push(Failover {
            from: old.candidate.clone(),
            to: new.candidate.clone(),
            lost,
            first_write,
            nanos: first_write.saturating_sub(lost),
            fault,
        });
    }
    out
}

fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

fn tenure_words(t: &Tenure) -> String {
    format!(
        "{} (process {}, token {}) led {}–{}",
        t.candidate,
        t.process,
        t.token,
        secs(t.start),
        secs(t.end)
    )
}

/// The part of the election check a JUnit case reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Overlapping leadership beliefs (invalid in naive and lease modes).
    Overlaps,
    /// Stale writes accepted (invalid in every mode), and writes fenced off.
    StaleWrites,
    /// Tenure tokens strictly increase.
    Tokens,
    /// The leader role's write gap per succession (never invalid: a measurement).
    Failover,
}

/// One JUnit case of the election checks; all four read the same analysis.
#[derive(Debug, Clone, Copy)]
pub struct ElectionCheck(pub Part);

impl ElectionCheck {
    /// The four cases, in report order.
    pub fn all() -> Vec<ElectionCheck> {
        [
            Part::Overlaps,
            Part::StaleWrites,
            Part::Tokens,
            Part::Failover,
        ]
        .into_iter()
        .map(ElectionCheck)
        .collect()
    }
}

impl Checker for ElectionCheck {
    fn name(&self) -> &str {
        match self.0 {
            Part::Overlaps => "application-split-brain",
            Part::StaleWrites => "stale-writes",
            Part::Tokens => "election-tokens",
            Part::Failover => "election-failover",
        }
    }

    fn check(&self, input: &CheckInput<'_>) -> Result<CheckerResult, InputError> {
        let events = events(input.records)?;
        let report = check(&events, input.faults);
        let mut lines = Vec::new();
        let mut valid = Validity::Valid;
        if report.modes.is_empty() {
            return Ok(CheckerResult::new(
                self.name(),
                Validity::Unknown,
                vec!["no candidate ever reported: nothing to check".into()],
            ));
        }
        for m in &report.modes {
            let bad = match self.0 {
                Part::Overlaps => {
                    for o in &m.overlaps {
                        lines.push(format!(
                            "{}: {} while {}, overlapping {}–{}{}",
                            m.mode,
                            tenure_words(&o.second),
                            tenure_words(&o.first),
                            secs(o.start),
                            secs(o.end),
                            if o.faults.is_empty() {
                                String::new()
                            } else {
                                format!("; in force: {}", o.faults.join(", "))
                            }
                        ));
                    }
                    lines.push(format!(
                        "{}: {} tenures, {} overlaps{}",
                        m.mode,
                        m.tenures.len(),
                        m.overlaps.len(),
                        if m.mode == Mode::Fenced && !m.overlaps.is_empty() {
                            " (reported; fenced mode's verdict rests on stale writes)"
                        } else {
                            ""
                        }
                    ));
                    m.mode != Mode::Fenced && !m.overlaps.is_empty()
                }
                Part::StaleWrites => {
                    for s in &m.stale_writes {
                        lines.push(format!(
                            "{}: the resource accepted a write from {} (process {}, token {}) at {}, after {} began leading with token {} at {}",
                            m.mode,
                            s.candidate,
                            s.process,
                            s.token,
                            secs(s.time),
                            s.newest_candidate,
                            s.newest_token,
                            secs(s.newest_since)
                        ));
                    }
                    lines.push(m.sentence());
                    lines.push(format!(
                        "{}: {} writes accepted, {} stale writes accepted, {} fenced off",
                        m.mode,
                        m.writes_accepted,
                        m.stale_writes.len(),
                        m.writes_fenced
                    ));
                    !m.stale_writes.is_empty()
                }
                Part::Tokens => {
                    for t in &m.token_order {
                        lines.push(format!(
                            "{}: {} began after {}, with a token no larger",
                            m.mode,
                            tenure_words(&t.later),
                            tenure_words(&t.earlier)
                        ));
                    }
                    lines.push(format!(
                        "{}: {} tenures, tokens {}",
                        m.mode,
                        m.tenures.len(),
                        if m.token_order.is_empty() {
                            "strictly increase"
                        } else {
                            "do not always increase"
                        }
                    ));
                    !m.token_order.is_empty()
                }
                Part::Failover => {
                    let p = |q| {
                        m.failover_percentile(q)
                            .map_or("-".to_string(), |n| format!("{:.3} s", n as f64 / 1e9))
                    };
                    for f in &m.failovers {
                        lines.push(format!(
                            "{}: {} → {}: {} from the old leader's last write to the new leader's first{}",
                            m.mode,
                            f.from,
                            f.to,
                            secs(f.nanos),
                            f.fault
                                .as_ref()
                                .map_or(String::new(), |w| format!(" ({w})"))
                        ));
                    }
                    lines.push(format!(
                        "{}: {} failovers, p50 {}, p99 {}",
                        m.mode,
                        m.failovers.len(),
                        p(50),
                        p(99)
                    ));
                    false
                }
            };
            if bad {
                valid = Validity::Invalid;
            }
        }
        Ok(CheckerResult::new(self.name(), valid, lines).with_details(&report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ProcessId;
    use serde_json::json;

    const MS: u64 = 1_000_000;

    /// A hand-built history: (ms, process, candidate, mode, f, token, extra fields).
    struct H(Vec<Record>);

    impl H {
        fn new() -> H {
            H(Vec::new())
        }
        fn op(
            mut self,
            ms: u64,
            p: u64,
            c: &str,
            mode: &str,
            f: &str,
            extra: serde_json::Value,
        ) -> H {
            let mut value = json!({"candidate": c, "mode": mode});
            for (k, v) in extra.as_object().expect("an object") {
                value[k] = v.clone();
            }
            for kind in [Kind::Invoke, Kind::Ok] {
                let line = self.0.len() + 1;
                self.0.push(Record {
                    line,
                    index: Some(line as u64 - 1),
                    time: Some(ms * MS),
                    process: Process::Client(ProcessId(p)),
                    kind,
                    f: f.into(),
                    key: None,
                    value: value.clone(),
                    error: None,
                });
            }
            self
        }
        fn leader(self, ms: u64, p: u64, c: &str, mode: &str, token: u64) -> H {
            self.op(ms, p, c, mode, F_LEADER, json!({"token": token}))
        }
        fn down(self, ms: u64, p: u64, c: &str, mode: &str, token: u64) -> H {
            self.op(
                ms,
                p,
                c,
                mode,
                F_STEP_DOWN,
                json!({"token": token, "reason": "lost the lock"}),
            )
        }
        fn write(self, ms: u64, p: u64, c: &str, mode: &str, token: u64) -> H {
            self.op(
                ms,
                p,
                c,
                mode,
                F_WRITE,
                json!({"token": token, "outcome": "accepted"}),
            )
        }
        fn fenced(self, ms: u64, p: u64, c: &str, mode: &str, token: u64, highest: u64) -> H {
            self.op(
                ms,
                p,
                c,
                mode,
                F_WRITE,
                json!({"token": token, "outcome": "rejected", "highest": highest}),
            )
        }
        fn report(&self, faults: &[FaultWindow]) -> ElectionReport {
            check(&events(&self.0).expect("well-formed"), faults)
        }
    }

    fn run(h: &H, part: Part) -> CheckerResult {
        let faults = [];
        let input = CheckInput {
            records: &h.0,
            status: None,
            logs: None,
            faults: &faults,
            budget: Default::default(),
            run: crate::check::RunFacts {
                nodes: 3,
                round: 0,
                recovery_bound: 0,
                writes: &[F_WRITE],
            },
        };
        ElectionCheck(part).check(&input).expect("well-formed")
    }

    /// A clean handoff: c1 leads, steps down, c2 takes over with a larger token.
    fn safe(mode: &str) -> H {
        H::new()
            .leader(100, 1, "c1", mode, 5)
            .write(110, 1, "c1", mode, 5)
            .write(210, 1, "c1", mode, 5)
            .down(300, 1, "c1", mode, 5)
            .leader(900, 2, "c2", mode, 9)
            .write(905, 2, "c2", mode, 9)
            .write(1005, 2, "c2", mode, 9)
    }

    #[test]
    fn failover_runs_from_the_old_leaders_last_write_before_the_takeover() {
        // c1 leads and writes until it is paused at ~2 s; c2 takes over at 4 s and writes
        // at 4.01 s; c1 wakes at 6 s and writes once more, stale, then steps down.
        let h = H::new()
            .leader(100, 1, "c1", "naive", 5)
            .write(1000, 1, "c1", "naive", 5)
            .write(2000, 1, "c1", "naive", 5)
            .leader(4000, 2, "c2", "naive", 9)
            .write(4010, 2, "c2", "naive", 9)
            .write(6000, 1, "c1", "naive", 5)
            .down(6010, 1, "c1", "naive", 5);
        let m = &h.report(&[]).modes[0];
        assert_eq!(m.stale_writes.len(), 1);
        assert_eq!(m.failovers.len(), 1);
        assert_eq!(m.failovers[0].lost, 2000 * MS);
        assert_eq!(m.failovers[0].nanos, 2010 * MS);
    }

    #[test]
    fn a_clean_handoff_is_valid_in_every_mode() {
        for mode in ["naive", "lease", "fenced"] {
            let h = safe(mode);
            let r = h.report(&[]);
            assert_eq!(r.modes.len(), 1);
            let m = &r.modes[0];
            assert!(m.valid, "{mode}: {m:?}");
            assert_eq!(m.tenures.len(), 2);
            assert!(m.overlaps.is_empty() && m.stale_writes.is_empty() && m.token_order.is_empty());
            assert_eq!(m.writes_accepted, 4);
            // Failover: c1's last write at 210 ms to c2's first at 905 ms.
            assert_eq!(m.failovers.len(), 1);
            assert_eq!(m.failovers[0].nanos, 695 * MS);
            for part in [
                Part::Overlaps,
                Part::StaleWrites,
                Part::Tokens,
                Part::Failover,
            ] {
                assert_eq!(run(&h, part).valid, Validity::Valid, "{mode} {part:?}");
            }
        }
    }

    /// c1 is paused while leading; c2 is elected; c1 resumes and writes before it
    /// learns it lost.
    fn paused_leader(mode: &str, fenced: bool) -> H {
        let h = H::new()
            .leader(100, 1, "c1", mode, 5)
            .write(110, 1, "c1", mode, 5)
            .leader(2000, 2, "c2", mode, 9)
            .write(2001, 2, "c2", mode, 9);
        let h = if fenced {
            h.fenced(3000, 1, "c1", mode, 5, 9)
        } else {
            h.write(3000, 1, "c1", mode, 5)
        };
        h.down(3050, 1, "c1", mode, 5).write(3100, 2, "c2", mode, 9)
    }

    #[test]
    fn naive_split_brain_is_an_overlap_and_a_stale_write() {
        let h = paused_leader("naive", false);
        let window = FaultWindow {
            fault: "pause of the leader candidate".into(),
            start: 150 * MS,
            end: Some(2990 * MS),
            kind: None,
            nodes: vec!["n4".into()],
        };
        let r = h.report(std::slice::from_ref(&window));
        let m = &r.modes[0];
        assert!(!m.valid);
        assert_eq!(m.overlaps.len(), 1);
        let o = &m.overlaps[0];
        assert_eq!((o.start, o.end), (2000 * MS, 3050 * MS));
        assert_eq!(o.faults, vec!["pause of the leader candidate".to_string()]);
        assert_eq!(m.stale_writes.len(), 1);
        assert_eq!(m.stale_writes[0].time, 3000 * MS);
        assert_eq!(m.stale_writes[0].newest_token, 9);
        assert_eq!(run(&h, Part::Overlaps).valid, Validity::Invalid);
        assert_eq!(run(&h, Part::StaleWrites).valid, Validity::Invalid);
        assert_eq!(run(&h, Part::Tokens).valid, Validity::Valid);
        let lines = run(&h, Part::Overlaps).summary;
        assert!(
            lines[0].contains("c2 (process 2, token 9) led 2.000 s"),
            "{lines:?}"
        );
    }

    #[test]
    fn fenced_mode_reports_the_overlap_but_rests_on_stale_writes() {
        let h = paused_leader("fenced", true);
        let m = &h.report(&[]).modes[0];
        assert!(m.valid, "{m:?}");
        assert_eq!(m.overlaps.len(), 1, "the overlap is still listed");
        assert!(m.stale_writes.is_empty());
        assert_eq!(m.writes_fenced, 1);
        assert!(
            m.sentence().contains("fencing saved you 1 times"),
            "{}",
            m.sentence()
        );
        assert_eq!(run(&h, Part::Overlaps).valid, Validity::Valid);
        assert_eq!(run(&h, Part::StaleWrites).valid, Validity::Valid);
        // A fenced resource that let the stale write through is caught.
        let leaky = paused_leader("fenced", false);
        assert_eq!(run(&leaky, Part::StaleWrites).valid, Validity::Invalid);
    }

    #[test]
    fn a_lease_candidate_s_belief_ends_at_its_lease_unless_it_acted_later() {
        // c1's last report left it 500 ms of lease: its belief ended at 610 ms, long
        // before c2 began at 2000 ms, although its step-down report came at 3050 ms.
        let h = H::new()
            .leader(100, 1, "c1", "lease", 5)
            .op(
                110,
                1,
                "c1",
                "lease",
                F_WRITE,
                json!({"token": 5, "outcome": "accepted", "lease_ms": 500}),
            )
            .leader(2000, 2, "c2", "lease", 9)
            .write(2001, 2, "c2", "lease", 9)
            .down(3050, 1, "c1", "lease", 5);
        let m = &h.report(&[]).modes[0];
        assert!(m.valid, "{m:?}");
        assert_eq!(m.tenures[0].end, 610 * MS);
        assert_eq!(m.tenures[0].ended, TenureEnd::Lease);
        // A write after the lease ran out (a pause between the check and the write)
        // extends the belief: acting is believing.
        let h = H::new()
            .leader(100, 1, "c1", "lease", 5)
            .op(
                110,
                1,
                "c1",
                "lease",
                F_WRITE,
                json!({"token": 5, "outcome": "accepted", "lease_ms": 500}),
            )
            .leader(2000, 2, "c2", "lease", 9)
            .op(
                2500,
                1,
                "c1",
                "lease",
                F_WRITE,
                json!({"token": 5, "outcome": "accepted", "lease_ms": 0}),
            )
            .write(2600, 2, "c2", "lease", 9)
            .down(3050, 1, "c1", "lease", 5);
        let m = &h.report(&[]).modes[0];
        assert!(!m.valid);
        assert_eq!(m.overlaps.len(), 1);
        assert_eq!(m.overlaps[0].end, 2500 * MS);
        assert_eq!(m.stale_writes.len(), 1);
    }

    #[test]
    fn tokens_must_increase_and_killed_leaders_end_when_last_heard() {
        // c1 is killed while leading (no step-down): its tenure ends at its last write.
        // c2 then leads with a smaller token: out of order, but no overlap.
        let h = H::new()
            .leader(100, 1, "c1", "naive", 5)
            .write(200, 1, "c1", "naive", 5)
            .leader(900, 2, "c2", "naive", 4)
            .write(950, 2, "c2", "naive", 4);
        let m = &h.report(&[]).modes[0];
        assert_eq!(m.tenures[0].end, 200 * MS);
        assert_eq!(m.tenures[0].ended, TenureEnd::LastHeard);
        assert!(m.overlaps.is_empty());
        assert_eq!(m.token_order.len(), 1);
        assert!(!m.valid);
        assert_eq!(run(&h, Part::Tokens).valid, Validity::Invalid);
        assert_eq!(run(&h, Part::Overlaps).valid, Validity::Valid);
    }

    #[test]
    fn modes_are_judged_apart() {
        let mut h = safe("lease");
        h.0.extend(paused_leader("naive", false).0.into_iter().map(|mut r| {
            r.line += 1000;
            if let Process::Client(ProcessId(p)) = r.process {
                r.process = Process::Client(ProcessId(p + 10));
            }
            r
        }));
        let r = h.report(&[]);
        let verdicts: Vec<(Mode, bool)> = r.modes.iter().map(|m| (m.mode, m.valid)).collect();
        assert_eq!(verdicts, vec![(Mode::Naive, false), (Mode::Lease, true)]);
        let lines = run(&h, Part::StaleWrites).summary;
        assert!(lines
            .iter()
            .any(|l| l.starts_with("naive: the resource accepted a write from c1")));
    }

    #[test]
    fn malformed_lines_name_their_line_and_field() {
        let h = H::new().op(1, 1, "c1", "paranoid", F_LEADER, json!({"token": 1}));
        let e = events(&h.0).unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert!(e.message.contains("field mode"), "{e}");
        assert!(e.message.contains("naive, lease, fenced"), "{e}");
        let h = H::new().op(
            1,
            1,
            "c1",
            "naive",
            F_WRITE,
            json!({"token": 1, "outcome": "rejected"}),
        );
        assert!(events(&h.0).unwrap_err().message.contains("field highest"));
        // No candidate reports: unknown, never valid.
        assert_eq!(run(&H::new(), Part::Overlaps).valid, Validity::Unknown);
    }
}
