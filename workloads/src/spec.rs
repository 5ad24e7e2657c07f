//! The workload part of a test: which workload and its settings, as `test.json` and the
//! CLI see them. `targets::registry` turns it into a running workload.

use serde::{Deserialize, Serialize};

use crate::election::ElectionOpts;
use crate::lock::LockOpts;
use crate::register::RegisterOpts;

/// What the clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Independent linearizable registers: read, write, compare-and-set.
    Register,
    /// Acquire a lock, write to a fenced resource, release.
    Lock,
    /// Transactions appending to and reading lists, checked by Elle (strict
    /// serializability).
    ListAppend,
    /// Candidate services on nodes of their own elect a leader through the system's
    /// recipe and write to a fenced resource: application split-brain, stale writes.
    Election,
}

impl WorkloadKind {
    /// The workload's name on the command line and in test names.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Lock => "lock",
            WorkloadKind::ListAppend => "list-append",
            WorkloadKind::Election => "election",
        }
    }
}

/// The workload and its settings. Settings of other workloads are kept (so a stored
/// test reads back as it was) but neither reproduced nor used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    #[serde(rename = "workload")]
    pub kind: WorkloadKind,
    /// Lock workload settings (tests stored before they existed load the defaults).
    #[serde(default)]
    pub lock: LockOpts,
    /// Register workload: a fixed number of keys for the whole run (`None`: keys
    /// rotate, concurrency/2 at a time, each retired after 100 ops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<u32>,
    /// Election workload settings (tests stored before they existed load the defaults).
    #[serde(default)]
    pub election: ElectionOpts,
}

impl WorkloadSpec {
    pub fn new(kind: WorkloadKind) -> Self {
        WorkloadSpec {
            kind,
            lock: LockOpts::default(),
            keys: None,
            election: ElectionOpts::default(),
        }
    }

    /// The register generator's settings for `concurrency` workers.
    pub fn register_opts(&self, concurrency: usize) -> RegisterOpts {
        match self.keys {
            // A fixed set of keys, never retired: every op of the run lands on them.
            Some(k) => RegisterOpts {
                active_keys: k as usize,
                ops_per_key: u32::MAX,
                ..RegisterOpts::default()
            },
            None => RegisterOpts {
                active_keys: (concurrency / 2).max(1),
                ..RegisterOpts::default()
            },
        }
    }
}

impl harness::test::Spec for WorkloadSpec {
    fn name(&self) -> String {
        self.kind.name().into()
    }

    fn command_words(&self) -> Vec<String> {
        let mut w = vec!["--workload".to_string(), self.kind.name().into()];
        match self.kind {
            WorkloadKind::Register => {
                if let Some(k) = self.keys {
                    w.extend(["--keys".into(), k.to_string()]);
                }
            }
            WorkloadKind::Lock => w.extend([
                "--locks".into(),
                self.lock.locks.to_string(),
                "--lock-ttl-ms".into(),
                self.lock.ttl_ms.to_string(),
                "--lock-max-hold-ms".into(),
                self.lock.max_hold_ms.to_string(),
            ]),
            WorkloadKind::ListAppend => {}
            WorkloadKind::Election => {
                let e = &self.election;
                let modes: Vec<&str> = e.modes.iter().map(|m| m.name()).collect();
                w.extend([
                    "--candidates".into(),
                    e.candidates.to_string(),
                    "--candidate-mode".into(),
                    modes.join(","),
                    "--candidate-ttl-ms".into(),
                    e.ttl_ms.to_string(),
                    "--candidate-lease-margin-ms".into(),
                    e.lease_margin_ms.to_string(),
                ]);
            }
        }
        w
    }

    /// One service node per candidate: `--candidates` of each `--candidate-mode`.
    fn services(&self) -> Option<(u16, String)> {
        if self.kind != WorkloadKind::Election {
            return None;
        }
        let e = &self.election;
        let modes: Vec<&str> = e.modes.iter().map(|m| m.name()).collect();
        Some((
            e.total(),
            format!(
                "--candidates {} × {} mode(s) (--candidate-mode {}) = {} candidates",
                e.candidates,
                modes.len(),
                modes.join(","),
                e.total()
            ),
        ))
    }

    /// The election's clients are its candidates, on service nodes of their own.
    fn drives_clients(&self) -> bool {
        self.kind != WorkloadKind::Election
    }

    fn validate(&self) -> Result<(), String> {
        if self.kind == WorkloadKind::Lock {
            self.lock
                .validate()
                .map_err(|e| format!("--lock-ttl-ms / --lock-max-hold-ms: {e}"))?;
        }
        if self.kind == WorkloadKind::Election {
            self.election.validate()?;
        }
        if self.keys == Some(0) {
            return Err("--keys: must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::test::Spec;

    #[test]
    fn keys_fix_the_register_key_set() {
        let mut s = WorkloadSpec::new(WorkloadKind::Register);
        assert_eq!(s.register_opts(50).active_keys, 25);
        assert_eq!(s.register_opts(1).active_keys, 1);
        s.keys = Some(5);
        let o = s.register_opts(50);
        assert_eq!((o.active_keys, o.ops_per_key), (5, u32::MAX));
        assert_eq!(s.command_words(), ["--workload", "register", "--keys", "5"]);
    }

    #[test]
    fn only_the_chosen_workloads_settings_are_reproduced_and_checked() {
        let mut s = WorkloadSpec::new(WorkloadKind::Register);
        s.lock.max_hold_ms = s.lock.ttl_ms; // invalid, but not used by the register
        assert_eq!(s.command_words(), ["--workload", "register"]);
        assert!(s.validate().is_ok());
        s.kind = WorkloadKind::Lock;
        let err = s.validate().unwrap_err();
        assert!(
            err.starts_with("--lock-ttl-ms / --lock-max-hold-ms: "),
            "{err}"
        );
        assert!(s
            .command_words()
            .contains(&"--lock-max-hold-ms".to_string()));
    }

    #[test]
    fn election_settings_are_reproduced_and_checked() {
        let mut s = WorkloadSpec::new(WorkloadKind::Election);
        s.election.candidates = 2;
        s.election.modes = vec![crate::election::Mode::Fenced, crate::election::Mode::Naive];
        assert_eq!(
            s.command_words(),
            [
                "--workload",
                "election",
                "--candidates",
                "2",
                "--candidate-mode",
                "fenced,naive",
                "--candidate-ttl-ms",
                "2000",
                "--candidate-lease-margin-ms",
                "400"
            ]
        );
        assert!(s.validate().is_ok());
        assert!(
            !s.drives_clients(),
            "--concurrency/--rate mean nothing here"
        );
        assert!(WorkloadSpec::new(WorkloadKind::Register).drives_clients());
        s.election.candidates = 0;
        assert!(s.validate().unwrap_err().contains("accepted: 1 and up"));
        s.election.candidates = 1;
        s.election.lease_margin_ms = 2000;
        assert!(s.validate().unwrap_err().contains("shorter than the lease"));
        // Another workload ignores them.
        s.kind = WorkloadKind::Register;
        assert!(s.validate().is_ok());
    }

    #[test]
    fn a_test_json_from_before_the_workload_settings_loads_the_defaults() {
        let old: WorkloadSpec = serde_json::from_str(r#"{"workload":"lock"}"#).unwrap();
        assert_eq!(old, WorkloadSpec::new(WorkloadKind::Lock));
    }
}
