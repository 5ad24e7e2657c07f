//! Numbers derived from the calls: counts per operation and outcome, and latency
//! percentiles. (Availability per fault is the checkers' `faults::availability`.)

use std::collections::BTreeMap;

use super::input::Process;
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
    fn counts_follow_the_calls() {
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
    }
}
