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
//! * [`wire`]: what they say to each other.
//!
//! Modes (`naive`, `lease`, `fenced`; [`checkers::election::Mode`]) run side by side,
//! each its own election (its own lock) and its own resource. See `docs/election.md`.

pub mod candidate;
pub mod resource;
pub mod wire;

pub use checkers::election::Mode;

use std::time::Duration;

/// The election's lock name for a mode: each mode is its own election.
pub fn election_name(mode: Mode) -> String {
    format!("faultline/election/{mode}")
}

/// Settings of an election run (plain data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElectionOpts {
    /// Candidates per mode.
    pub candidates: u16,
    pub modes: Vec<Mode>,
    /// The lease each grant carries.
    pub ttl: Duration,
    pub write_interval: Duration,
    pub lease_margin: Duration,
}

impl Default for ElectionOpts {
    /// Three candidates in each mode, 2 s leases renewed every 667 ms, a write every
    /// 100 ms, and a lease margin of 400 ms (a fifth of the lease).
    fn default() -> Self {
        ElectionOpts {
            candidates: 3,
            modes: Mode::ALL.to_vec(),
            ttl: Duration::from_secs(2),
            write_interval: Duration::from_millis(100),
            lease_margin: Duration::from_millis(400),
        }
    }
}

impl ElectionOpts {
    /// Settings an election can run with; errors list the accepted values.
    pub fn validate(&self) -> Result<(), String> {
        if self.candidates == 0 {
            return Err("--candidates must be at least 1 (accepted: 1 and up)".into());
        }
        if self.modes.is_empty() {
            return Err("--candidate-mode needs at least one of naive, lease, fenced".into());
        }
        if self.lease_margin >= self.ttl {
            return Err(format!(
                "the lease margin {:?} must be shorter than the lease {:?}",
                self.lease_margin, self.ttl
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
