//! Lock safety: mutual exclusion in real time, fencing, and token monotonicity.
//!
//! ```text
//! lock workload history ──► [LockCall] ──► check() ──► LockReport
//!   acquire(lock, ttl) → token     write(token) → accepted | rejected     release(token)
//! ```
//!
//! What a client may *safely* believe: it holds a lock from the moment its acquire
//! returned a token until it starts releasing, but never longer than `ttl` after it
//! *invoked* the acquire — the lease may have started at any moment after the
//! invocation, and a correct service never hands the lock to someone else before the
//! lease has run out or the release has been applied. So a correct service gives
//! holds `[acquire completed, min(release invoked, acquire invoked + ttl))` that never
//! overlap for one lock; two overlapping holds mean two clients were told they held
//! the lock at once (Jepsen found this in etcd 3.4.3's lock API).
//!
//! Fencing (Kleppmann, "How to do distributed locking", 2016): the protected resource
//! accepts a write only if its token is at least the highest it has accepted. The
//! checker verifies the resource never accepted a stale token, and counts the stale
//! writes it rejected — each one a time fencing saved a client that believed it held
//! an expired lock. Tokens must increase: a grant that starts after another grant of
//! the same lock completed must carry a larger token.
//!
//! Pure: calls in, a [`LockReport`] out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One call of the lock workload, as the history recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockCall {
    /// The client process that made the call.
    pub process: u64,
    /// Invocation time, ns since the start of the run.
    pub invoke: u64,
    /// Completion time; `None` if the call never completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<u64>,
    pub lock: String,
    pub action: LockAction,
}

/// What the call did and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "kebab-case")]
pub enum LockAction {
    Acquire {
        /// The lease the client asked for, in ns.
        ttl: u64,
        outcome: AcquireOutcome,
    },
    /// A write to the fenced resource with the token the client holds.
    Write {
        token: u64,
        outcome: WriteOutcome,
    },
    Release {
        token: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum AcquireOutcome {
    Granted {
        token: u64,
    },
    /// Definitely not granted (busy, refused).
    Refused,
    /// Unknown: the client cannot count on holding it.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum WriteOutcome {
    /// The resource accepted the write; `seq` is its position in the resource's own
    /// order of accepted writes (1, 2, …).
    Accepted { seq: u64 },
    /// The resource rejected the write: it had already accepted `highest`.
    Rejected { highest: u64 },
}

/// When a client believed it held a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub process: u64,
    pub token: u64,
    pub start: u64,
    pub end: u64,
}

/// A violation of lock safety.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LockAnomaly {
    /// Two clients held the lock at the same time.
    MutualExclusion {
        lock: String,
        first: Hold,
        second: Hold,
    },
    /// The resource accepted a token lower than one it had accepted before.
    StaleTokenAccepted {
        lock: String,
        process: u64,
        token: u64,
        highest_before: u64,
        time: u64,
    },
    /// A grant that began after another had completed carried a token no larger.
    TokenNotIncreasing {
        lock: String,
        earlier: Hold,
        later: Hold,
    },
}

impl LockAnomaly {
    /// When the rule was first broken: the later of two overlapping holds began, the
    /// stale write was accepted, the out-of-order grant began.
    pub fn time(&self) -> u64 {
        match self {
            LockAnomaly::MutualExclusion { first, second, .. } => first.start.max(second.start),
            LockAnomaly::StaleTokenAccepted { time, .. } => *time,
            LockAnomaly::TokenNotIncreasing { later, .. } => later.start,
        }
    }
}

/// What the lock checker found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockReport {
    pub valid: bool,
    pub anomalies: Vec<LockAnomaly>,
    pub acquires_granted: u64,
    pub acquires_refused: u64,
    pub acquires_unknown: u64,
    pub writes_accepted: u64,
    /// Stale writes the resource rejected: "fencing saved you N times".
    pub writes_rejected: u64,
    /// Accepted writes made after the writer's safe hold had ended (its lease may have
    /// expired): fencing let them through only because no newer token had written yet.
    pub writes_after_hold: u64,
}

impl LockReport {
    /// One line per anomaly plus the fencing summary, in plain words.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.anomalies.iter().map(describe_anomaly).collect();
        lines.push(format!(
            "fencing: {} writes accepted, {} stale writes rejected (fencing saved you {} times)",
            self.writes_accepted, self.writes_rejected, self.writes_rejected
        ));
        lines
    }
}

fn describe_anomaly(a: &LockAnomaly) -> String {
    let hold = |h: &Hold| {
        format!(
            "process {} (token {}) held it {}–{}",
            h.process,
            h.token,
            secs(h.start),
            secs(h.end)
        )
    };
    match a {
        LockAnomaly::MutualExclusion {
            lock,
            first,
            second,
        } => format!(
            "lock {lock:?} had two holders at once: {}, and {}",
            hold(first),
            hold(second)
        ),
        LockAnomaly::StaleTokenAccepted {
            lock,
            process,
            token,
            highest_before,
            time,
        } => format!(
            "the resource behind {lock:?} accepted stale token {token} from process {process} at {} after accepting {highest_before}",
            secs(*time)
        ),
        LockAnomaly::TokenNotIncreasing {
            lock,
            earlier,
            later,
        } => format!(
            "lock {lock:?} issued token {} to process {} after issuing token {} to process {}: tokens must increase",
            later.token, later.process, earlier.token, earlier.process
        ),
    }
}

/// Checks lock safety over every call. `end` is when the history ends (holds that
/// were never released end there, or at their lease bound if earlier).
pub fn check(calls: &[LockCall], end: u64) -> LockReport {
    let mut report = LockReport::default();
    let mut by_lock: BTreeMap<&str, Vec<&LockCall>> = BTreeMap::new();
    for c in calls {
        by_lock.entry(c.lock.as_str()).or_default().push(c);
    }
    for (lock, mut calls) in by_lock {
        calls.sort_by_key(|c| (c.invoke, c.process));
        let holds = holds(&calls, end, &mut report);
        mutual_exclusion(lock, &holds, &mut report.anomalies);
        token_order(lock, &holds, &mut report.anomalies);
        fencing(lock, &calls, &holds, &mut report);
    }
    report.valid = report.anomalies.is_empty();
    report
}

/// Each granted acquire's safe hold, sorted by start.
fn holds(calls: &[&LockCall], end: u64, report: &mut LockReport) -> Vec<(Hold, u64)> {
    let mut holds = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        let LockAction::Acquire { ttl, outcome } = c.action else {
            continue;
        };
        let token = match outcome {
            AcquireOutcome::Granted { token } => token,
            AcquireOutcome::Refused => {
                report.acquires_refused += 1;
                continue;
            }
            AcquireOutcome::Unknown => {
                report.acquires_unknown += 1;
                continue;
            }
        };
        report.acquires_granted += 1;
        let Some(start) = c.complete else { continue };
        // The same process's next release of this lock (calls are in invoke order).
        let released = calls[i + 1..]
            .iter()
            .find(|r| r.process == c.process && matches!(r.action, LockAction::Release { .. }))
            .map(|r| r.invoke);
        let lease_end = c.invoke.saturating_add(ttl);
        let stop = released.unwrap_or(end).min(lease_end).min(end.max(start));
        holds.push((
            Hold {
                process: c.process,
                token,
                start,
                end: stop.max(start),
            },
            c.invoke,
        ));
    }
    holds.sort_by_key(|(h, _)| (h.start, h.process));
    holds
}

fn mutual_exclusion(lock: &str, holds: &[(Hold, u64)], out: &mut Vec<LockAnomaly>) {
    // Sweep by start: each hold is compared with every earlier hold still running.
    let mut running: Vec<&Hold> = Vec::new();
    for (h, _) in holds {
        running.retain(|r| r.end > h.start);
        if let Some(r) = running
            .iter()
            .find(|r| r.process != h.process && h.end > h.start)
        {
            out.push(LockAnomaly::MutualExclusion {
                lock: lock.to_owned(),
                first: (*r).clone(),
                second: h.clone(),
            });
        }
        if h.end > h.start {
            running.push(h);
        }
    }
}

fn token_order(lock: &str, holds: &[(Hold, u64)], out: &mut Vec<LockAnomaly>) {
    // For each grant (by invocation), the largest token among grants that completed
    // before it was invoked.
    let mut by_invoke: Vec<&(Hold, u64)> = holds.iter().collect();
    by_invoke.sort_by_key(|(h, inv)| (*inv, h.process));
    let mut by_complete: Vec<&(Hold, u64)> = holds.iter().collect();
    by_complete.sort_by_key(|(h, _)| (h.start, h.process));
    let mut best: Option<&Hold> = None;
    let mut j = 0;
    for (h, inv) in by_invoke {
        while j < by_complete.len() && by_complete[j].0.start < *inv {
            let c = &by_complete[j].0;
            if best.is_none_or(|b| c.token > b.token) {
                best = Some(c);
            }
            j += 1;
        }
        if let Some(b) = best {
            if h.token <= b.token {
                out.push(LockAnomaly::TokenNotIncreasing {
                    lock: lock.to_owned(),
                    earlier: b.clone(),
                    later: h.clone(),
                });
            }
        }
    }
}

fn fencing(lock: &str, calls: &[&LockCall], holds: &[(Hold, u64)], report: &mut LockReport) {
    let mut accepted: Vec<(u64, &LockCall, u64)> = Vec::new();
    for c in calls {
        let LockAction::Write { token, outcome } = c.action else {
            continue;
        };
        match outcome {
            WriteOutcome::Accepted { seq } => {
                report.writes_accepted += 1;
                accepted.push((seq, c, token));
                let inside = holds
                    .iter()
                    .any(|(h, _)| h.process == c.process && h.token == token && c.invoke < h.end);
                if !inside {
                    report.writes_after_hold += 1;
                }
            }
            WriteOutcome::Rejected { .. } => report.writes_rejected += 1,
        }
    }
    accepted.sort_by_key(|(seq, _, _)| *seq);
    let mut highest: Option<u64> = None;
    for (_, c, token) in accepted {
        if let Some(h) = highest {
            if token < h {
                report.anomalies.push(LockAnomaly::StaleTokenAccepted {
                    lock: lock.to_owned(),
                    process: c.process,
                    token,
                    highest_before: h,
                    time: c.complete.unwrap_or(c.invoke),
                });
                continue;
            }
        }
        highest = Some(highest.map_or(token, |h| h.max(token)));
    }
}

fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn acquire(p: u64, inv: u64, done: u64, token: Option<u64>) -> LockCall {
        LockCall {
            process: p,
            invoke: inv * MS,
            complete: Some(done * MS),
            lock: "L".into(),
            action: LockAction::Acquire {
                ttl: 1000 * MS,
                outcome: match token {
                    Some(token) => AcquireOutcome::Granted { token },
                    None => AcquireOutcome::Refused,
                },
            },
        }
    }

    fn write(p: u64, at: u64, token: u64, outcome: WriteOutcome) -> LockCall {
        LockCall {
            process: p,
            invoke: at * MS,
            complete: Some(at * MS + 1),
            lock: "L".into(),
            action: LockAction::Write { token, outcome },
        }
    }

    fn release(p: u64, at: u64, token: u64) -> LockCall {
        LockCall {
            process: p,
            invoke: at * MS,
            complete: Some(at * MS + MS),
            lock: "L".into(),
            action: LockAction::Release { token },
        }
    }

    #[test]
    fn handing_the_lock_over_is_safe() {
        let calls = vec![
            acquire(0, 0, 5, Some(10)),
            write(0, 6, 10, WriteOutcome::Accepted { seq: 1 }),
            acquire(1, 7, 8, None),
            release(0, 50, 10),
            acquire(1, 52, 55, Some(12)),
            write(1, 56, 12, WriteOutcome::Accepted { seq: 2 }),
            release(1, 90, 12),
        ];
        let r = check(&calls, 100 * MS);
        assert!(r.valid, "{:?}", r.anomalies);
        assert_eq!((r.acquires_granted, r.acquires_refused), (2, 1));
        assert_eq!(
            (r.writes_accepted, r.writes_rejected, r.writes_after_hold),
            (2, 0, 0)
        );
    }

    #[test]
    fn two_holders_at_once_are_reported_with_both_intervals() {
        let calls = vec![
            acquire(0, 0, 5, Some(10)),
            acquire(1, 20, 22, Some(11)),
            release(1, 30, 11),
            release(0, 50, 10),
        ];
        let r = check(&calls, 100 * MS);
        assert!(!r.valid);
        assert_eq!(
            r.anomalies,
            vec![LockAnomaly::MutualExclusion {
                lock: "L".into(),
                first: Hold {
                    process: 0,
                    token: 10,
                    start: 5 * MS,
                    end: 50 * MS
                },
                second: Hold {
                    process: 1,
                    token: 11,
                    start: 22 * MS,
                    end: 30 * MS
                },
            }]
        );
        assert!(
            r.describe()[0].contains("two holders at once"),
            "{:?}",
            r.describe()
        );
        assert_eq!(r.anomalies[0].time(), 22 * MS, "when the second hold began");
    }

    #[test]
    fn a_hold_ends_when_the_lease_could_have_run_out() {
        // Process 0 never releases (it was paused); its lease (1 s from its invoke)
        // ran out, so process 1 taking the lock at 1.2 s is fine.
        let calls = vec![
            acquire(0, 0, 5, Some(10)),
            acquire(1, 1100, 1200, Some(11)),
            write(1, 1201, 11, WriteOutcome::Accepted { seq: 1 }),
            write(0, 1300, 10, WriteOutcome::Rejected { highest: 11 }),
            release(1, 1400, 11),
        ];
        let r = check(&calls, 2000 * MS);
        assert!(r.valid, "{:?}", r.anomalies);
        assert_eq!(
            r.writes_rejected, 1,
            "fencing saved process 0's stale write"
        );
        assert!(r
            .describe()
            .last()
            .unwrap()
            .contains("fencing saved you 1 times"));
    }

    #[test]
    fn a_stale_token_accepted_is_a_violation() {
        let calls = vec![
            acquire(0, 0, 5, Some(10)),
            acquire(1, 1100, 1200, Some(11)),
            write(1, 1201, 11, WriteOutcome::Accepted { seq: 1 }),
            write(0, 1300, 10, WriteOutcome::Accepted { seq: 2 }),
        ];
        let r = check(&calls, 2000 * MS);
        assert_eq!(
            r.anomalies,
            vec![LockAnomaly::StaleTokenAccepted {
                lock: "L".into(),
                process: 0,
                token: 10,
                highest_before: 11,
                time: 1300 * MS + 1,
            }]
        );
        assert_eq!(
            r.writes_after_hold, 1,
            "process 0 wrote after its lease bound"
        );
    }

    #[test]
    fn tokens_must_increase_across_grants_in_real_time() {
        let calls = vec![
            acquire(0, 0, 5, Some(10)),
            release(0, 10, 10),
            acquire(1, 20, 25, Some(9)),
            release(1, 30, 9),
        ];
        let r = check(&calls, 100 * MS);
        assert!(
            matches!(
                r.anomalies.as_slice(),
                [LockAnomaly::TokenNotIncreasing { earlier, later, .. }] if earlier.token == 10 && later.token == 9
            ),
            "{:?}",
            r.anomalies
        );
    }

    #[test]
    fn locks_are_checked_independently() {
        let mut other = acquire(1, 20, 22, Some(11));
        other.lock = "M".into();
        let calls = vec![acquire(0, 0, 5, Some(10)), other];
        assert!(check(&calls, 100 * MS).valid);
    }
}
