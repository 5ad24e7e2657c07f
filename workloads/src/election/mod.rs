//! The election workload: leader election as services really do it. Candidate services
//! on nodes of their own campaign through the coordination system's election recipe,
//! and while they believe they lead, write to a fenced resource kept by the harness.
//!
//! ```text
//!   service nodes (Runtime::service_nodes)          system nodes (Runtime::nodes)
//!   ┌ faultline node candidate c1 ┐ ─campaign/renew─► coordination service (raft, …)
//!   ├ … c2, c3                    ┤
//!   └─────────────┬───────────────┘
//!                 │ reports + writes (JSON lines, TCP)
//!                 ▼
//!   controller: Resource (exempt address: never partitioned) ──► history.jsonl
//!                                                            └─► checkers::election
//! ```
//!
//! * [`candidate`]: the candidate loop and the [`candidate::Recipe`] trait, with the
//!   bundled systems' recipe over any [`crate::lock::Lock`];
//! * [`resource`]: the fenced resource and recorder on the controller;
//! * [`wire`]: what they say to each other;
//! * [`candidates`]: a run's candidates as the workload's `harness::run::Services`
//!   (started on the service nodes, waited for, stopped);
//! * [`workload`]: the workload as the run engine sees it (no harness client ops; the
//!   four election checks).
//!
//! Modes (`naive`, `lease`, `fenced`; [`checkers::election::Mode`]) run side by side,
//! each its own election (its own lock) and its own resource. See `docs/election.md`.

pub mod candidate;
pub mod candidates;
pub mod resource;
pub mod wire;
pub mod workload;

pub use checkers::election::Mode;

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The election's lock name for a mode: each mode is its own election.
pub fn election_name(mode: Mode) -> String {
    format!("faultline/election/{mode}")
}

/// Settings of an election run (plain data, stored in `test.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionOpts {
    /// Candidates per mode (`--candidates`).
    pub candidates: u16,
    /// The modes that run side by side (`--candidate-mode`).
    pub modes: Vec<Mode>,
    /// The lease each grant carries, in ms (`--candidate-ttl-ms`).
    pub ttl_ms: u64,
    /// A leader's writes to the resource are this far apart, in ms.
    pub write_interval_ms: u64,
    /// Lease mode steps down this long before its own-clock lease ends, in ms
    /// (`--candidate-lease-margin-ms`).
    pub lease_margin_ms: u64,
}

impl Default for ElectionOpts {
    /// Three candidates in each mode, 2 s leases renewed every 667 ms, a write every
    /// 100 ms, and a lease margin of 400 ms (a fifth of the lease).
    fn default() -> Self {
        ElectionOpts {
            candidates: 3,
            modes: Mode::ALL.to_vec(),
            ttl_ms: 2000,
            write_interval_ms: 100,
            lease_margin_ms: 400,
        }
    }
}

impl ElectionOpts {
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms)
    }

    /// How many candidates run in all (one service node each).
    pub fn total(&self) -> u16 {
        self.candidates
            .saturating_mul(u16::try_from(self.modes.len()).unwrap_or(u16::MAX))
    }

    /// Settings an election can run with; errors list the accepted values.
    pub fn validate(&self) -> Result<(), String> {
        if self.candidates == 0 {
            return Err("--candidates must be at least 1 (accepted: 1 and up)".into());
        }
        if self.modes.is_empty() {
            return Err("--candidate-mode needs at least one of naive, lease, fenced".into());
        }
        if self.ttl_ms < 100 {
            return Err(format!(
                "--candidate-ttl-ms {}: a lease must be at least 100 ms",
                self.ttl_ms
            ));
        }
        if self.write_interval_ms == 0 {
            return Err("the write interval must be at least 1 ms".into());
        }
        if self.lease_margin_ms >= self.ttl_ms {
            return Err(format!(
                "--candidate-lease-margin-ms {} must be shorter than the lease \
                 (--candidate-ttl-ms {})",
                self.lease_margin_ms, self.ttl_ms
            ));
        }
        Ok(())
    }

    /// Parses `--candidate-mode naive,lease,fenced`.
    pub fn parse_modes(s: &str) -> Result<Vec<Mode>, String> {
        let mut modes = Vec::new();
        for m in s.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let m = Mode::parse(m)?;
            if !modes.contains(&m) {
                modes.push(m);
            }
        }
        if modes.is_empty() {
            return Err("--candidate-mode needs at least one of naive, lease, fenced".into());
        }
        Ok(modes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_name_the_accepted_values() {
        let zero = ElectionOpts {
            candidates: 0,
            ..ElectionOpts::default()
        };
        assert!(zero.validate().unwrap_err().contains("at least 1"));
        let e = ElectionOpts::parse_modes("naive,paranoid").unwrap_err();
        assert!(e.contains("naive, lease, fenced"), "{e}");
        assert_eq!(
            ElectionOpts::parse_modes("fenced, naive,fenced").unwrap(),
            vec![Mode::Fenced, Mode::Naive]
        );
        assert!(ElectionOpts::default().validate().is_ok());
    }
}
