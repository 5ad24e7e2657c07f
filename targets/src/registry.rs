//! The one table of what faultline can test: each target, how it is deployed and how a
//! client reaches it, crossed with each workload. `faultline test`, `zoo`, `bench` and
//! `check <store-dir>` all go through here.
//!
//! Adding a target: a [`TargetKind`] variant, its options in [`TargetOpts`] if any, and
//! its row in [`run`]. Adding a workload: a `workloads::spec::WorkloadKind` variant and
//! its row in [`run_workload`] and [`recheck`]. A bundled protocol's bug switches come
//! with its `Bug` type through [`crate::bundled::Bug`]; the CLI needs no change.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use checkers::check::Results;
use harness::run::{self, Artifacts, OpenError, Plan, RunOptions, RunOutcome};
use harness::store::RunDir;
use harness::target::Target;
use harness::test::Spec;
use runtime::netns::cleanup::Shutdown;
use runtime::Runtime;
use serde::{Deserialize, Serialize};
use workloads::election::candidates::{self, Candidates};
use workloads::election::workload::{ElectionWorkload, Idle};
use workloads::kv::Kv;
use workloads::list_append::{ListAppendClient, ListAppendOpts, ListAppendWorkload, Lists};
use workloads::lock::{Lock, LockClient, LockWorkload};
use workloads::register::{Reads, RegisterClient, RegisterWorkload};
use workloads::spec::{WorkloadKind, WorkloadSpec};

use crate::bundled::Bug;
use crate::consul::{ConsulOptions, ConsulTarget};
use crate::etcd::{EtcdOptions, EtcdTarget};
use crate::raft::deploy::{RaftKv, RaftOptions, RaftTarget};
use crate::read_mode::ReadLevel;
use crate::zab::deploy::{ZabKv, ZabOptions, ZabTarget};
use crate::zookeeper::{ZookeeperOptions, ZookeeperTarget};
use crate::{ReadMode, ReadModeArg};

/// A test of one of the systems below.
pub type Test = harness::test::Test<TargetSpec, WorkloadSpec>;

/// Systems faultline can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// The bundled Raft key-value and lock service.
    Raft,
    /// etcd (Debian's etcd-server, or --etcd-bin), over its JSON gateway.
    Etcd,
    /// Apache ZooKeeper (Debian's zookeeper, or --zookeeper-dir).
    Zookeeper,
    /// HashiCorp Consul (only where `consul` is on PATH or --consul-bin is given).
    Consul,
    /// The bundled Zab (ZooKeeper's atomic broadcast) key-value and lock service.
    Zab,
}

impl TargetKind {
    /// The target's name on the command line and in test names.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Raft => "raft",
            TargetKind::Etcd => "etcd",
            TargetKind::Zookeeper => "zookeeper",
            TargetKind::Consul => "consul",
            TargetKind::Zab => "zab",
        }
    }

    /// The read mode the test's register clients use, checked against what this
    /// target serves (the error names what it does serve).
    pub fn read_mode(self, mode: Option<ReadModeArg>) -> Result<TargetReads, String> {
        match self {
            TargetKind::Raft => ReadModeArg::for_raft(mode).map(|()| TargetReads::Raft),
            TargetKind::Zab => ReadModeArg::for_zab(mode).map(TargetReads::Zab),
            real => ReadModeArg::for_real(mode, real.name()).map(TargetReads::Real),
        }
    }
}

/// How a target's register reads are served, resolved from `--read-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetReads {
    Raft,
    Zab(ReadLevel),
    Real(ReadMode),
}

impl TargetReads {
    /// What the register workload's reads promise.
    pub fn register_reads(self) -> Reads {
        match self {
            TargetReads::Zab(ReadLevel::Local) => Reads::Sequential,
            _ => Reads::Linearizable,
        }
    }

    /// A real target's mode (the bundled ones say linearizable).
    fn real(self) -> ReadMode {
        match self {
            TargetReads::Real(m) => m,
            _ => ReadMode::Linearizable,
        }
    }
}

/// Options of the targets beside their bugs; stored with the test.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct TargetOpts {
    /// Register reads: etcd, ZooKeeper, Consul: linearizable (the default) or
    /// serializable (local, may be stale: the calibration mode); zab: quorum (the
    /// default, linearizable), sync (ZooKeeper's sync then read, not linearizable) or
    /// local (sequentially consistent: checked for monotonic reads); raft: linearizable.
    #[arg(long, value_enum)]
    #[serde(default)]
    pub read_mode: Option<ReadModeArg>,
    /// The etcd binary (default: `etcd` on PATH, installed with apt-get when missing).
    #[arg(long)]
    #[serde(default)]
    pub etcd_bin: Option<PathBuf>,
    /// ZooKeeper's installation: a directory with the server jars (default: Debian's
    /// /usr/share/java, installed with apt-get when missing).
    #[arg(long)]
    #[serde(default)]
    pub zookeeper_dir: Option<PathBuf>,
    /// The consul binary (default: `consul` on PATH; there is no Debian package).
    #[arg(long)]
    #[serde(default)]
    pub consul_bin: Option<PathBuf>,
}

/// The target part of a test: the system, its planted bugs, its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSpec {
    #[serde(rename = "target")]
    pub kind: TargetKind,
    /// Planted bugs of a bundled protocol (`--bug`).
    #[serde(default)]
    pub bugs: Vec<Bug>,
    /// Options of the real targets (tests stored before they existed load defaults).
    #[serde(default)]
    pub target_opts: TargetOpts,
}

impl TargetSpec {
    pub fn new(kind: TargetKind) -> Self {
        TargetSpec {
            kind,
            bugs: Vec::new(),
            target_opts: TargetOpts::default(),
        }
    }
}

impl Spec for TargetSpec {
    fn name(&self) -> String {
        self.kind.name().into()
    }

    fn name_suffix(&self) -> Vec<String> {
        self.bugs.iter().map(|b| b.name().to_string()).collect()
    }

    fn command_words(&self) -> Vec<String> {
        let mut w = vec!["--target".to_string(), self.kind.name().into()];
        for b in &self.bugs {
            w.extend(["--bug".into(), b.name().into()]);
        }
        let o = &self.target_opts;
        if let Some(m) = o.read_mode {
            w.extend(["--read-mode".into(), m.name().into()]);
        }
        for (flag, v) in [
            ("--etcd-bin", &o.etcd_bin),
            ("--zookeeper-dir", &o.zookeeper_dir),
            ("--consul-bin", &o.consul_bin),
        ] {
            if let Some(p) = v {
                w.extend([flag.to_string(), p.display().to_string()]);
            }
        }
        w
    }

    fn validate(&self) -> Result<(), String> {
        self.kind.read_mode(self.target_opts.read_mode)?;
        for b in &self.bugs {
            if b.target() != self.kind.name() {
                return Err(format!(
                    "--bug {b}: a switch of the bundled {}, not of --target {}",
                    b.target(),
                    self.kind.name()
                ));
            }
        }
        Ok(())
    }
}

/// Everything that can be checked before a node starts: each part, and whether the
/// target has a client for the workload.
pub fn validate(test: &Test) -> Result<(), harness::test::InvalidTest> {
    test.validate()?;
    // Before the binary's presence: bad input is refused wherever consul is.
    if test.workload.kind == WorkloadKind::Election && test.target.kind == TargetKind::Consul {
        crate::consul::check_session_ttl(test.workload.election.ttl()).map_err(|e| {
            harness::test::InvalidTest(format!(
                "--candidate-ttl-ms {e}; the election's lease on Consul is a session (e.g. \
                 --candidate-ttl-ms 10000)"
            ))
        })?;
    }
    // On this machine only: SSH nodes are checked for their own consul at setup.
    if test.target.kind == TargetKind::Consul && test.options.ssh.is_none() {
        if let Some(reason) =
            crate::consul::absent_reason(test.target.target_opts.consul_bin.as_deref())
        {
            return Err(harness::test::InvalidTest(format!(
                "--target consul: {reason}"
            )));
        }
    }
    if test.target.kind == TargetKind::Consul && test.workload.kind == WorkloadKind::ListAppend {
        return Err(harness::test::InvalidTest(
            "--workload list-append: no transaction client for Consul yet (raft, zab, etcd and \
             zookeeper have one)"
                .into(),
        ));
    }
    Ok(())
}

/// The candidates' recipe on a target (`faultline node candidate --target …`).
fn election_recipe(kind: TargetKind) -> candidates::Recipe {
    let port = crate::bundled::deploy::API_PORT;
    match kind {
        TargetKind::Raft => candidates::Recipe {
            system: "raft",
            port,
        },
        TargetKind::Zab => candidates::Recipe {
            system: "zab",
            port,
        },
        TargetKind::Etcd => candidates::Recipe {
            system: "etcd",
            port: crate::etcd::CLIENT_PORT,
        },
        TargetKind::Zookeeper => candidates::Recipe {
            system: "zookeeper",
            port: crate::zookeeper::CLIENT_PORT,
        },
        TargetKind::Consul => candidates::Recipe {
            system: "consul",
            port: crate::consul::HTTP_PORT,
        },
    }
}

/// How a run is launched, beside the test itself.
pub struct Launch {
    /// The faults to play (`None`: none); usually `test.faults.plan()` resolved.
    pub faults: Option<nemesis::Resolved>,
    /// SIGINT/SIGTERM: stop, check what was recorded, tear down.
    pub shutdown: Option<Shutdown>,
    /// A spinner on the terminal.
    pub progress: bool,
    /// Writes junit.xml, report.html and the plots after results.json (`report`).
    pub artifacts: Arc<dyn Artifacts>,
}

/// Runs `test`: deploys its target, drives its workload, plays `launch.faults`.
/// `Err` only when not even the run directory could be made (see [`run::run`]).
pub fn run(test: &Test, launch: Launch) -> io::Result<RunOutcome> {
    let test_json = serde_json::to_value(test).map_err(io::Error::other)?;
    let op_timeout = test.options.op_timeout;
    let seed = test.options.seed;
    let o = &test.target.target_opts;
    let reads = test
        .target
        .kind
        .read_mode(o.read_mode)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mode = reads.real();
    match test.target.kind {
        TargetKind::Raft => {
            let raft = RaftOptions {
                bugs: test
                    .target
                    .bugs
                    .iter()
                    .filter_map(|b| match b {
                        Bug::Raft(b) => Some(*b),
                        _ => None,
                    })
                    .collect(),
                ..RaftOptions::default()
            };
            run_any(
                test,
                test_json,
                Arc::new(RaftTarget::new(raft, seed)),
                launch,
                Arc::new(move |rt: &dyn Runtime, k| {
                    RaftKv::for_cluster(rt, k, op_timeout).map_err(Into::into)
                }),
            )
        }
        TargetKind::Zab => {
            let zab = ZabOptions {
                bugs: test
                    .target
                    .bugs
                    .iter()
                    .filter_map(|b| match b {
                        Bug::Zab(b) => Some(*b),
                        _ => None,
                    })
                    .collect(),
                ..ZabOptions::default()
            };
            let level = match reads {
                TargetReads::Zab(l) => l,
                _ => ReadLevel::Quorum,
            };
            run_any(
                test,
                test_json,
                Arc::new(ZabTarget::new(zab, seed)),
                launch,
                Arc::new(move |rt: &dyn Runtime, k| {
                    ZabKv::for_cluster(rt, k, op_timeout)
                        .map(|kv| kv.with_read_level(level))
                        .map_err(Into::into)
                }),
            )
        }
        TargetKind::Etcd => {
            let etcd = EtcdOptions {
                bin: o.etcd_bin.clone(),
                read_mode: mode,
                ..EtcdOptions::default()
            };
            run_any(
                test,
                test_json,
                Arc::new(EtcdTarget::new(etcd)),
                launch,
                real_clients(crate::etcd::client_for, op_timeout, mode),
            )
        }
        TargetKind::Zookeeper => {
            let zk = ZookeeperOptions {
                dir: o.zookeeper_dir.clone(),
                read_mode: mode,
                ..ZookeeperOptions::default()
            };
            run_any(
                test,
                test_json,
                Arc::new(ZookeeperTarget::new(zk)),
                launch,
                real_clients(crate::zookeeper::client_for, op_timeout, mode),
            )
        }
        TargetKind::Consul => {
            let consul = ConsulOptions {
                bin: o.consul_bin.clone(),
                read_mode: mode,
            };
            run_workload(
                test,
                test_json,
                Arc::new(ConsulTarget::new(consul)),
                launch,
                real_clients(crate::consul::client_for, op_timeout, mode),
            )
        }
    }
}

/// Runs the test's workload against a target whose client also does transactions.
fn run_any<K: Kv + Lock + Lists>(
    test: &Test,
    test_json: serde_json::Value,
    target: Arc<dyn Target>,
    launch: Launch,
    make: Clients<K>,
) -> io::Result<RunOutcome> {
    if test.workload.kind != WorkloadKind::ListAppend {
        return run_workload(test, test_json, target, launch, make);
    }
    run::run(Plan {
        options: test.options.clone(),
        test_json,
        target,
        workload: list_append_workload::<K>(),
        clients: Box::new(move |rt, k| make(rt, k).map(|l| ListAppendClient::new(Arc::new(l)))),
        faults: launch.faults,
        shutdown: launch.shutdown,
        progress: launch.progress,
        artifacts: launch.artifacts,
    })
}

fn list_append_workload<K: Lists>() -> ListAppendWorkload<K> {
    ListAppendWorkload::new(
        ListAppendOpts::default(),
        checkers::elle::ConsistencyModel::StrictSerializable,
    )
}

/// A target's client constructor: worker k of a run's nodes.
type Clients<K> = Arc<dyn Fn(&dyn Runtime, usize) -> Result<K, OpenError> + Send + Sync>;

/// The clients of a real target: each module's `client_for` with the run's op timeout
/// and read mode.
fn real_clients<K: 'static>(
    client_for: fn(&dyn Runtime, usize, Duration, ReadMode) -> Result<K, String>,
    op_timeout: Duration,
    mode: ReadMode,
) -> Clients<K> {
    Arc::new(move |rt: &dyn Runtime, k| client_for(rt, k, op_timeout, mode).map_err(Into::into))
}

/// Runs the test's workload against a target whose client does both Kv and Lock.
fn run_workload<K: Kv + Lock>(
    test: &Test,
    test_json: serde_json::Value,
    target: Arc<dyn Target>,
    launch: Launch,
    make: Clients<K>,
) -> io::Result<RunOutcome> {
    let options = test.options.clone();
    let reads = register_reads(test);
    let Launch {
        faults,
        shutdown,
        progress,
        artifacts,
    } = launch;
    match test.workload.kind {
        WorkloadKind::ListAppend => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "--workload list-append: --target {} has no transaction client",
                test.target.kind.name()
            ),
        )),
        WorkloadKind::Register => run::run(Plan {
            workload: RegisterWorkload::<K>::new(test.workload.register_opts(options.concurrency))
                .with_reads(reads),
            options,
            test_json,
            target,
            clients: Box::new(move |rt, k| {
                make(rt, k).map(|kv| RegisterClient::new(Arc::new(kv)).with_reads(reads))
            }),
            faults,
            shutdown,
            progress,
            artifacts,
        }),
        WorkloadKind::Election => {
            let recipe = election_recipe(test.target.kind);
            let opts = test.workload.election.clone();
            let lease = opts.ttl();
            run::run(Plan {
                options,
                test_json,
                target,
                workload: ElectionWorkload::new(
                    opts.clone(),
                    Candidates::new(opts, recipe, candidates::faultline_program()),
                ),
                clients: Box::new(|_, _| Ok(Idle)),
                // The default mix aims at the candidates too (pauses past their lease,
                // cut off from the cluster, killed); a spelled-out --nemesis is kept.
                faults: faults.map(|f| f.with_candidate_faults(lease)),
                shutdown,
                progress,
                artifacts,
            })
        }
        WorkloadKind::Lock => {
            let workload = LockWorkload::<K>::new(test.workload.lock, options.concurrency);
            let resource = Arc::clone(&workload.resource);
            run::run(Plan {
                options,
                test_json,
                target,
                workload,
                clients: Box::new(move |rt, k| {
                    make(rt, k).map(|kv| LockClient::new(Arc::new(kv), Arc::clone(&resource), k))
                }),
                faults,
                shutdown,
                progress,
                artifacts,
            })
        }
    }
}

/// What the test's register reads promise (sequential for the Zab's local reads).
fn register_reads(test: &Test) -> Reads {
    test.target
        .kind
        .read_mode(test.target.target_opts.read_mode)
        .map_or(Reads::Linearizable, TargetReads::register_reads)
}

/// Checks a stored run again with the checkers its test names (`faultline check
/// <store-dir>`); the client type does not matter to a recheck, the Raft's stands in.
pub fn recheck(dir: &RunDir, test: &Test, artifacts: &dyn Artifacts) -> Result<Results, String> {
    let opts: &RunOptions = &test.options;
    match test.workload.kind {
        WorkloadKind::Register => run::recheck(
            dir,
            opts,
            &RegisterWorkload::<RaftKv>::new(test.workload.register_opts(opts.concurrency))
                .with_reads(register_reads(test)),
            artifacts,
        ),
        WorkloadKind::Lock => run::recheck(
            dir,
            opts,
            &LockWorkload::<RaftKv>::new(test.workload.lock, opts.concurrency),
            artifacts,
        ),
        WorkloadKind::ListAppend => {
            run::recheck(dir, opts, &list_append_workload::<RaftKv>(), artifacts)
        }
        WorkloadKind::Election => run::recheck(
            dir,
            opts,
            &ElectionWorkload::checking(test.workload.election.clone()),
            artifacts,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{raft, zab};

    #[test]
    fn a_bug_must_belong_to_the_target() {
        let mut s = TargetSpec::new(TargetKind::Raft);
        s.bugs = vec![Bug::Raft(raft::Bug::StaleRead)];
        assert!(s.validate().is_ok());
        assert_eq!(s.name_suffix(), ["stale-read"]);
        s.bugs.push(Bug::Zab(zab::Bug::StaleSync));
        assert_eq!(
            s.validate().unwrap_err(),
            "--bug stale-sync: a switch of the bundled zab, not of --target raft"
        );
        let mut etcd = TargetSpec::new(TargetKind::Etcd);
        etcd.bugs = vec![Bug::Raft(raft::Bug::ForgetVote)];
        assert!(etcd
            .validate()
            .unwrap_err()
            .contains("not of --target etcd"));
    }

    fn election_test(kind: TargetKind, ttl_ms: u64) -> Test {
        let options = RunOptions {
            test: "election".into(),
            nodes: 3,
            concurrency: 1,
            rate: None,
            time_limit: Duration::from_secs(10),
            op_timeout: Duration::from_secs(1),
            recovery_timeout: Duration::from_secs(10),
            seed: 1,
            store: "store".into(),
            observe_interval: Duration::from_millis(100),
            check_time_limit: Duration::from_secs(10),
            check_memory_limit: 1 << 30,
            ssh: None,
        };
        let faults = harness::test::Faults {
            nemesis: Vec::new(),
            nemesis_interval_s: 5,
        };
        let mut workload = WorkloadSpec::new(WorkloadKind::Election);
        workload.election.ttl_ms = ttl_ms;
        Test::new(TargetSpec::new(kind), workload, faults, options, false)
    }

    #[test]
    fn every_target_has_an_election_recipe() {
        for kind in [
            TargetKind::Raft,
            TargetKind::Zab,
            TargetKind::Etcd,
            TargetKind::Zookeeper,
        ] {
            let test = election_test(kind, 2000);
            validate(&test).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(election_recipe(kind).system, kind.name());
        }
        let consul = election_recipe(TargetKind::Consul);
        assert_eq!(
            (consul.system, consul.port),
            ("consul", crate::consul::HTTP_PORT)
        );
    }

    #[test]
    fn an_election_on_consul_needs_a_session_ttl_consul_accepts() {
        // The workload's default 2 s lease, and one past Consul's day: refused before the
        // consul binary is looked for, naming the flag and the range.
        for ttl_ms in [2000, 9999, 86_400_001] {
            let e = validate(&election_test(TargetKind::Consul, ttl_ms))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!(
                    "--candidate-ttl-ms {ttl_ms}: Consul's session TTL must be within \
                     10000..=86400000 ms"
                )),
                "{e}"
            );
        }
        // At 10 s the TTL is fine: only a missing binary can refuse it here.
        for ttl_ms in [10_000, 86_400_000] {
            match validate(&election_test(TargetKind::Consul, ttl_ms)) {
                Ok(()) => assert!(crate::consul::absent_reason(None).is_none()),
                Err(e) => assert!(e.to_string().starts_with("--target consul: "), "{e}"),
            }
        }
    }

    #[test]
    fn real_target_options_are_reproduced_only_when_set() {
        let mut s = TargetSpec::new(TargetKind::Etcd);
        assert_eq!(s.command_words(), ["--target", "etcd"]);
        s.target_opts.read_mode = Some(ReadModeArg::Serializable);
        s.target_opts.etcd_bin = Some("/opt/etcd/etcd".into());
        assert_eq!(
            s.command_words(),
            [
                "--target",
                "etcd",
                "--read-mode",
                "serializable",
                "--etcd-bin",
                "/opt/etcd/etcd"
            ]
        );
    }

    #[test]
    fn a_test_json_from_before_the_specs_reads_back() {
        // The flat shape `faultline test` has always written (trimmed to the parts the
        // specs own), with raft bugs and no target options.
        let json = serde_json::json!({
            "target": "raft", "bugs": ["stale-read"], "workload": "register",
        });
        let t: TargetSpec = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(t.bugs, [Bug::Raft(raft::Bug::StaleRead)]);
        assert_eq!(t.target_opts, TargetOpts::default());
        let w: WorkloadSpec = serde_json::from_value(json).unwrap();
        assert_eq!(w.kind, WorkloadKind::Register);
        // A read mode stored while the flag had a default still reads back.
        let old = serde_json::json!({"read_mode": "linearizable"});
        let o: TargetOpts = serde_json::from_value(old).unwrap();
        assert_eq!(o.read_mode, Some(ReadModeArg::Linearizable));
    }
}
