//! The nemesis: faults for a faultline run, after Jepsen's `jepsen.nemesis`.
//!
//! ```text
//! Schedule (seeded) ──Step──► Nemesis ──► iptables-restore in node namespaces (partition, loss)
//!                                   │  └──► Processes: SIGKILL/start, SIGSTOP/SIGCONT (kill, pause)
//!                                   └──► FaultEvent { phase, kind, spec, nodes, grudge,
//!                                                     outcome } ──► history
//! ```
//!
//! - [`grudge`]: pure partition math (one, halves, majority, minority-third,
//!   majorities-ring, bridge, primaries, one-way);
//! - [`spec`]: node specs (one, minority, majority, minority-third, primaries, all);
//! - [`iptables`]: pure rendering of faults into per-node rulesets, and the one place
//!   that runs `iptables-restore`;
//! - [`fault`]: faults, outcomes (`Installed | Skipped | Indeterminate`), events;
//! - [`nemesis`]: the stateful injector over a cluster ([`Nemesis`], [`Processes`],
//!   [`FaultInjector`]);
//! - [`schedule`]: the seeded schedule and a bounded runner.
//!
//! ```no_run
//! # use std::sync::{Arc, atomic::AtomicBool};
//! # use std::time::Duration;
//! # use harness::cluster::Cluster;
//! # use nemesis::{Nemesis, Schedule, ScheduleConfig, FaultKind};
//! let cluster = Arc::new(Cluster::up("demo", 5)?);
//! let mut nem = Nemesis::for_cluster(&cluster, 42);
//! let mut sched = Schedule::new(ScheduleConfig::new(vec![FaultKind::Partition]), 42)?;
//! nemesis::schedule::run(&mut nem, &mut sched, Duration::from_secs(30),
//!     &AtomicBool::new(false), |event| println!("{}", serde_json::to_string(&event).unwrap()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod fault;
pub mod grudge;
pub mod iptables;
pub mod nemesis;
pub mod schedule;
pub mod spec;

pub use fault::{Fault, FaultEvent, FaultKind, FaultOutcome, FaultPhase};
pub use grudge::{Grudge, PartitionKind};
pub use nemesis::{FaultInjector, LeaderQuery, Nemesis, NetFaults, Processes, Target};
pub use schedule::{Schedule, ScheduleConfig, Step};
pub use spec::NodeSpec;
