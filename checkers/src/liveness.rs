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
}
