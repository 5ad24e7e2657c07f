//! The test a user asked for, as plain data: which system (`T`), what the clients do
//! (`W`), the faults, the run's knobs, and the command that reproduces it. Stored as
//! `test.json`; `faultline check <store-dir>` rebuilds the run's checkers from it.
//!
//! The engine knows neither targets nor workloads: the caller gives their specs, each
//! a [`Spec`] that names itself, validates itself and says which flags reproduce it.
//! (`targets::registry` holds the concrete specs and the target × workload table.)

use std::fmt::Debug;
use std::time::Duration;

use nemesis::{FaultArg, Plan};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::run::RunOptions;

/// One part of a test (the target, the workload) as the CLI and `test.json` see it.
pub trait Spec: Clone + Debug + PartialEq + Serialize + DeserializeOwned {
    /// Its word in the default test name (`raft`, `register`).
    fn name(&self) -> String;
    /// Words the default name ends with, after every spec's name (a bug: `stale-read`).
    fn name_suffix(&self) -> Vec<String> {
        Vec::new()
    }
    /// The flags that give this spec back when parsed: every option that changes the
    /// run's behaviour, each as its own word (quoted later, for the shell).
    fn command_words(&self) -> Vec<String>;
    /// Whether the spec can run at all, in words naming the offending flag.
    fn validate(&self) -> Result<(), String>;
    /// Whether the harness's own clients run ops (a workload whose clients are services
    /// of its own answers false): otherwise `--concurrency` and `--rate` change nothing
    /// and the reproduce command leaves them out.
    fn drives_clients(&self) -> bool {
        true
    }
    /// The service nodes the workload's own services need (one each), with the flags
    /// that ask for that many, in words for errors (`--candidates 1 × 2 modes
    /// (--candidate-mode naive,fenced) = 2 candidates`). `None`: it has no services.
    fn services(&self) -> Option<(u16, String)> {
        None
    }
}

/// The faults of a scheduled run: which kinds, and the mean time between steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    pub nemesis: Vec<FaultArg>,
    pub nemesis_interval_s: u64,
}

impl Faults {
    /// The nemesis plan these faults make (an interval of 0 counts as 1 s).
    pub fn plan(&self) -> Plan {
        Plan::scheduled(
            self.nemesis.clone(),
            Duration::from_secs(self.nemesis_interval_s.max(1)),
        )
    }
}

/// The test as stored in `test.json`. The specs are flattened, so the file keeps the
/// flat shape it had before the specs existed (`target`, `bugs`, `workload`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize, W: Serialize",
    deserialize = "T: DeserializeOwned, W: DeserializeOwned"
))]
pub struct Test<T, W> {
    #[serde(flatten)]
    pub target: T,
    #[serde(flatten)]
    pub workload: W,
    #[serde(flatten)]
    pub faults: Faults,
    pub options: RunOptions,
    /// The shell command that reproduces the run (every behaviour-changing option).
    pub command: String,
    pub faultline_version: String,
}

/// Why a test cannot run, naming the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidTest(pub String);

impl<T: Spec, W: Spec> Test<T, W> {
    /// Builds the test and its reproduce command. `options.test` is the name to store
    /// under; `named` says whether the user chose it (then the command repeats it).
    pub fn new(target: T, workload: W, faults: Faults, options: RunOptions, named: bool) -> Self {
        let command = command(&target, &workload, &faults, &options, named);
        Test {
            target,
            workload,
            faults,
            options,
            command,
            faultline_version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// The default test name: `raft-register-stale-read`.
    pub fn default_name(target: &T, workload: &W) -> String {
        let mut parts = vec![target.name(), workload.name()];
        parts.extend(target.name_suffix());
        parts.extend(workload.name_suffix());
        parts.join("-")
    }

    /// Everything that can be checked before a single node starts.
    pub fn validate(&self) -> Result<(), InvalidTest> {
        self.faults
            .plan()
            .validate()
            .map_err(|e| InvalidTest(format!("--nemesis: {e}")))?;
        let o = &self.options;
        if let Some(rate) = o.rate {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(InvalidTest(format!(
                    "--rate: expected a positive number of ops/s (or 0 for no limit), got {rate}"
                )));
            }
        }
        if o.time_limit.is_zero() {
            return Err(InvalidTest("--time-limit: must be at least 1 s".into()));
        }
        if o.op_timeout.is_zero() {
            return Err(InvalidTest("--op-timeout-ms: must be at least 1 ms".into()));
        }
        if o.concurrency == 0 {
            return Err(InvalidTest("--concurrency: must be at least 1".into()));
        }
        if let Some(ssh) = &o.ssh {
            ssh.validate().map_err(InvalidTest)?;
        }
        self.target.validate().map_err(InvalidTest)?;
        self.workload.validate().map_err(InvalidTest)?;
        self.validate_service_nodes()
    }

    /// Over SSH, the service hosts given must be exactly one per service of the
    /// workload (namespace runs make theirs).
    fn validate_service_nodes(&self) -> Result<(), InvalidTest> {
        let Some(ssh) = &self.options.ssh else {
            return Ok(());
        };
        let given = ssh.service_nodes.len();
        let source = match &ssh.nodes_file {
            Some(f) => format!(
                "{} lists {given} service node(s) after {}",
                f.display(),
                runtime::ssh::SERVICE_NODES_MARKER
            ),
            None => format!("--service-nodes names {given} host(s)"),
        };
        match self.workload.services() {
            None if given > 0 => Err(InvalidTest(format!(
                "{source}, but --workload {} runs no services of its own (only --workload \
                 election runs its candidates on service nodes): drop them",
                self.workload.name()
            ))),
            Some((wanted, how)) if usize::from(wanted) != given => {
                let give = match &ssh.nodes_file {
                    Some(f) => format!(
                        "list {wanted} host(s) after {} in {}",
                        runtime::ssh::SERVICE_NODES_MARKER,
                        f.display()
                    ),
                    None => format!("give --service-nodes {wanted} host(s)"),
                };
                let given = if given == 0 {
                    "no service node is given".to_string()
                } else {
                    source
                };
                Err(InvalidTest(format!(
                    "--workload {} over SSH runs each of its services on a service host of its \
                     own: {how}, but {given}; {give}, or change --candidates or \
                     --candidate-mode to match",
                    self.workload.name()
                )))
            }
            _ => Ok(()),
        }
    }
}

/// `faultline test …` with every behaviour-changing option, shell-quoted.
fn command(
    target: &impl Spec,
    workload: &impl Spec,
    faults: &Faults,
    o: &RunOptions,
    named: bool,
) -> String {
    let nemesis = faults
        .nemesis
        .iter()
        .map(FaultArg::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut words: Vec<String> = vec!["faultline".into(), "test".into()];
    words.extend(target.command_words());
    words.extend(workload.command_words());
    words.extend(["--nemesis".into(), nemesis]);
    // The default mix draws its own windows and gaps: the interval would only be noise.
    if faults.nemesis != [FaultArg::Default] {
        words.extend([
            "--nemesis-interval".into(),
            faults.nemesis_interval_s.to_string(),
        ]);
    }
    match &o.ssh {
        Some(ssh) => words.extend(ssh.command_words()),
        None => words.extend(["--nodes".into(), o.nodes.to_string()]),
    }
    if workload.drives_clients() {
        words.extend([
            "--concurrency".into(),
            o.concurrency.to_string(),
            "--rate".into(),
            o.rate.unwrap_or(0.0).to_string(),
        ]);
    }
    for (flag, value) in [
        ("--time-limit", o.time_limit.as_secs().to_string()),
        ("--op-timeout-ms", o.op_timeout.as_millis().to_string()),
        (
            "--recovery-timeout",
            o.recovery_timeout.as_secs().to_string(),
        ),
        (
            "--check-time-limit",
            o.check_time_limit.as_secs().to_string(),
        ),
        ("--seed", o.seed.to_string()),
    ] {
        words.push(flag.into());
        words.push(value);
    }
    if named {
        words.extend(["--name".into(), o.test.clone()]);
    }
    quote(&words)
}

/// Joins words into one shell command line. A word of plain characters (letters,
/// digits, `_@%+=:,./-`) stays as it is, so commands read as typed; any other word is
/// quoted by shlex. (A NUL byte cannot be quoted; flags come from parsed arguments,
/// which cannot hold one, so it is only dropped.)
pub fn quote(words: &[String]) -> String {
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c))
    };
    words
        .iter()
        .map(|w| {
            if plain(w) {
                return w.clone();
            }
            shlex::try_quote(w)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| w.replace('\0', ""))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Sys {
        target: String,
        bugs: Vec<String>,
    }
    impl Spec for Sys {
        fn name(&self) -> String {
            self.target.clone()
        }
        fn name_suffix(&self) -> Vec<String> {
            self.bugs.clone()
        }
        fn command_words(&self) -> Vec<String> {
            let mut w = vec!["--target".into(), self.target.clone()];
            for b in &self.bugs {
                w.extend(["--bug".into(), b.clone()]);
            }
            w
        }
        fn validate(&self) -> Result<(), String> {
            if self.target.is_empty() {
                return Err("--target: empty".into());
            }
            Ok(())
        }
    }
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Work {
        workload: String,
    }
    impl Spec for Work {
        fn name(&self) -> String {
            self.workload.clone()
        }
        fn command_words(&self) -> Vec<String> {
            vec!["--workload".into(), self.workload.clone()]
        }
        fn validate(&self) -> Result<(), String> {
            Ok(())
        }
        fn drives_clients(&self) -> bool {
            self.workload != "election"
        }
    }

    fn options(name: &str) -> RunOptions {
        RunOptions {
            test: name.into(),
            nodes: 3,
            concurrency: 6,
            rate: Some(50.0),
            time_limit: Duration::from_secs(30),
            op_timeout: Duration::from_millis(1500),
            recovery_timeout: Duration::from_secs(12),
            seed: 7,
            store: PathBuf::from("store"),
            observe_interval: Duration::from_millis(100),
            check_time_limit: Duration::from_secs(90),
            check_memory_limit: 1 << 30,
            ssh: None,
        }
    }

    fn faults() -> Faults {
        Faults {
            nemesis: vec![
                "partition:majority".parse().unwrap(),
                "kill:n1,n2".parse().unwrap(),
            ],
            nemesis_interval_s: 3,
        }
    }

    #[test]
    fn the_default_name_puts_bugs_after_the_workload() {
        let sys = Sys {
            target: "raft".into(),
            bugs: vec!["stale-read".into(), "forget-vote".into()],
        };
        let work = Work {
            workload: "register".into(),
        };
        assert_eq!(
            Test::default_name(&sys, &work),
            "raft-register-stale-read-forget-vote"
        );
    }

    #[test]
    fn the_command_has_every_knob_and_quotes_for_the_shell() {
        let sys = Sys {
            target: "raft".into(),
            bugs: vec![],
        };
        let work = Work {
            workload: "register".into(),
        };
        let t = Test::new(sys, work, faults(), options("my run; rm -rf /"), true);
        assert_eq!(
            t.command,
            "faultline test --target raft --workload register \
             --nemesis partition:majority,kill:n1,n2 --nemesis-interval 3 --nodes 3 \
             --concurrency 6 --rate 50 --time-limit 30 --op-timeout-ms 1500 \
             --recovery-timeout 12 --check-time-limit 90 --seed 7 --name 'my run; rm -rf /'"
        );
        let words = shlex::split(&t.command).unwrap();
        assert_eq!(words.last().unwrap(), "my run; rm -rf /");
    }

    #[test]
    fn a_workload_without_client_ops_leaves_concurrency_and_rate_out() {
        let sys = Sys {
            target: "raft".into(),
            bugs: vec![],
        };
        let work = Work {
            workload: "election".into(),
        };
        let t = Test::new(sys, work, faults(), options("x"), false);
        assert_eq!(
            t.command,
            "faultline test --target raft --workload election \
             --nemesis partition:majority,kill:n1,n2 --nemesis-interval 3 --nodes 3 \
             --time-limit 30 --op-timeout-ms 1500 --recovery-timeout 12 \
             --check-time-limit 90 --seed 7"
        );
    }

    #[test]
    fn the_default_mix_command_has_no_interval() {
        let sys = Sys {
            target: "raft".into(),
            bugs: vec![],
        };
        let work = Work {
            workload: "register".into(),
        };
        let mut f = faults();
        f.nemesis = vec![FaultArg::Default];
        let t = Test::new(sys, work, f, options("x"), false);
        assert!(
            t.command.contains("--nemesis default --nodes 3"),
            "{}",
            t.command
        );
        assert!(!t.command.contains("--nemesis-interval"), "{}", t.command);
    }

    #[test]
    fn validation_names_the_flag() {
        let work = Work {
            workload: "register".into(),
        };
        let mut o = options("x");
        o.rate = Some(f64::NAN);
        let bad_rate = Test::new(
            Sys {
                target: "raft".into(),
                bugs: vec![],
            },
            work.clone(),
            faults(),
            o,
            false,
        );
        assert!(bad_rate.validate().unwrap_err().0.starts_with("--rate"));
        let bad_target = Test::new(
            Sys {
                target: String::new(),
                bugs: vec![],
            },
            work.clone(),
            faults(),
            options("x"),
            false,
        );
        assert_eq!(bad_target.validate().unwrap_err().0, "--target: empty");
        let mut none_and_kill = faults();
        none_and_kill.nemesis.push(FaultArg::None);
        let bad_nemesis = Test::new(
            Sys {
                target: "raft".into(),
                bugs: vec![],
            },
            work,
            none_and_kill,
            options("x"),
            false,
        );
        assert!(bad_nemesis
            .validate()
            .unwrap_err()
            .0
            .starts_with("--nemesis"));
    }

    #[test]
    fn test_json_is_flat_and_reads_back_equal() {
        let t = Test::new(
            Sys {
                target: "raft".into(),
                bugs: vec!["stale-read".into()],
            },
            Work {
                workload: "lock".into(),
            },
            faults(),
            options("x"),
            false,
        );
        let json = serde_json::to_value(&t).unwrap();
        for field in [
            "target",
            "bugs",
            "workload",
            "nemesis",
            "nemesis_interval_s",
        ] {
            assert!(json.get(field).is_some(), "{field} in {json}");
        }
        let back: Test<Sys, Work> = serde_json::from_value(json).unwrap();
        assert_eq!(back, t);
    }
}
