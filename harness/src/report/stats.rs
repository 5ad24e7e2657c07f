//! Numbers derived from the calls: counts per operation and outcome, latency
//! percentiles, and availability per fault.

use std::collections::BTreeMap;

use super::input::{Availability, FaultWindow, Process};
use super::pairs::{Call, Outcome};

/// Counts and latencies of one operation function (`f`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FStats {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    pub open: u64,
    /// Latency percentiles of calls that completed ok, in ns.
    pub ok_latency: Option<Percentiles>,
}

/// Latency percentiles (nearest rank), in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Percentiles {
    /// `None` for no samples.
    pub fn of(mut samples: Vec<u64>) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let rank = |p: f64| {
            let i = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            samples[i - 1]
        };
        Some(Percentiles {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: samples[samples.len() - 1],
        })
    }
}

/// Client-call statistics per `f`, in name order (nemesis calls are left out).
pub fn per_f(calls: &[Call<'_>]) -> BTreeMap<String, FStats> {
    let mut out: BTreeMap<String, FStats> = BTreeMap::new();
    let mut latencies: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.process != Process::Nemesis) {
        let s = out.entry(c.f().to_string()).or_default();
        match c.outcome {
            Outcome::Ok => {
                s.ok += 1;
                if let Some(l) = c.latency() {
                    latencies.entry(c.f()).or_default().push(l);
                }
            }
            Outcome::Fail => s.fail += 1,
            Outcome::Info => s.info += 1,
            Outcome::Open => s.open += 1,
        }
    }
    for (f, l) in latencies {
        if let Some(s) = out.get_mut(f) {
            s.ok_latency = Percentiles::of(l);
        }
    }
    out
}

/// Availability per fault, measured on the calls: the first ok write after the
/// fault began, the share of client calls completing during the fault that failed or
/// were indeterminate, and the first ok write after the heal. `is_write` says which
/// `f`s are writes. `leader_after` is left empty (it comes from the status observer,
/// see `checkers::split_brain::recovery`).
pub fn availability(
    calls: &[Call<'_>],
    faults: &[FaultWindow],
    is_write: impl Fn(&str) -> bool,
) -> Vec<Availability> {
    let client: Vec<&Call<'_>> = calls
        .iter()
        .filter(|c| c.process != Process::Nemesis)
        .collect();
    let mut ok_writes: Vec<u64> = client
        .iter()
        .filter(|c| c.outcome == Outcome::Ok && is_write(c.f()))
        .filter_map(|c| c.end())
        .collect();
    ok_writes.sort_unstable();
    let first_ok_write_from = |t: u64| {
        let i = ok_writes.partition_point(|&w| w < t);
        ok_writes.get(i).map(|&w| w - t)
    };
    let history_end = calls
        .iter()
        .map(|c| c.end().unwrap_or(c.start()))
        .max()
        .unwrap_or(0);
    faults
        .iter()
        .map(|f| {
            let end = f.end.unwrap_or(history_end);
            let (mut done, mut bad) = (0u64, 0u64);
            for c in &client {
                let Some(t) = c.end() else { continue };
                if t >= f.start && t <= end {
                    done += 1;
                    if matches!(c.outcome, Outcome::Fail | Outcome::Info) {
                        bad += 1;
                    }
                }
            }
            Availability {
                fault: f.fault.clone(),
                start: f.start,
                end: f.end,
                first_ok_write_after: first_ok_write_from(f.start),
                leader_after: None,
                error_rate: (done > 0).then(|| bad as f64 / done as f64),
                recovered_after_heal: f.end.and_then(first_ok_write_from),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::input::{Op, OpKind};
    use super::super::pairs::pair;
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let p = Percentiles::of((1..=100).collect()).unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50, 90, 99, 100));
        assert_eq!(Percentiles::of(vec![]), None);
        let one = Percentiles::of(vec![7]).unwrap();
        assert_eq!((one.p50, one.p99), (7, 7));
    }

    #[test]
    fn counts_and_availability_follow_the_calls() {
        let ops = vec![
            Op::client(0, 0, 0, OpKind::Invoke, "write"),
            Op::client(1, 10, 0, OpKind::Ok, "write"),
            Op::client(2, 100, 0, OpKind::Invoke, "write"),
            Op::client(3, 150, 0, OpKind::Info, "write"),
            Op::client(4, 120, 1, OpKind::Invoke, "read"),
            Op::client(5, 160, 1, OpKind::Fail, "read"),
            Op::client(6, 170, 1, OpKind::Invoke, "read"),
            Op::client(7, 180, 1, OpKind::Ok, "read"),
            Op::client(8, 200, 2, OpKind::Invoke, "write"),
            Op::client(9, 260, 2, OpKind::Ok, "write"),
        ];
        let calls = pair(&ops);
        let s = per_f(&calls);
        assert_eq!(s["write"].ok, 2);
        assert_eq!(s["write"].info, 1);
        assert_eq!(s["read"].fail, 1);
        assert_eq!(s["write"].ok_latency.unwrap().max, 60);
        let faults = vec![FaultWindow {
            fault: "partition".into(),
            start: 90,
            end: Some(190),
        }];
        let a = availability(&calls, &faults, |f| f == "write");
        assert_eq!(a[0].first_ok_write_after, Some(170));
        assert_eq!(a[0].recovered_after_heal, Some(70));
        // Completions in [90, 190]: info at 150, fail at 160, ok at 180.
        let rate = a[0].error_rate.unwrap();
        assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    }
}
