//! The nemesis: faults for a faultline run, after Jepsen's `jepsen.nemesis`.
//!
//! ```text
//! Plan (--nemesis, seeded) ──► Schedule ──Step──► Nemesis ──► Runtime::apply_filter (partition, loss)
//!                                                   │     └──► Runtime::signal / start (kill, pause)
//!                                                   └──► FaultEvent { phase, kind, spec, nodes,
//!                                                                     grudge, outcome } ──► history
//! ```
//!
//! - [`grudge`]: pure partition math (one, halves, majority, minority-third,
//!   majorities-ring, bridge, primaries, one-way);
//! - [`spec`]: node specs (one, minority, majority, minority-third, primaries, all);
//! - [`iptables`]: pure: a run's faults as one packet-filter table per node;
//! - [`fault`]: faults to start; their events are the history model's
//!   (`checkers::faults`);
//! - [`nemesis`]: the stateful injector over a run's node runtime ([`Nemesis`],
//!   [`FaultInjector`]);
//! - [`mix`]: the default fault mix (leader-aimed windows scaled to the target's
//!   failover figure);
//! - [`schedule`]: the seeded schedule and a bounded runner;
//! - [`plan`]: the test's nemesis plan (`--nemesis` items, scripted steps) and how it is
//!   played.
//!
//! ```no_run
//! # use std::sync::{Arc, atomic::AtomicBool};
//! # use std::time::Duration;
//! # use runtime::netns::Cluster;
//! # use nemesis::{Nemesis, Schedule, ScheduleConfig, FaultKind};
//! let cluster = Arc::new(Cluster::up("demo", 5)?);
//! let mut nem = Nemesis::new(cluster, 42);
//! let mut sched = Schedule::new(ScheduleConfig::new(vec![FaultKind::Partition]), 42)?;
//! nemesis::schedule::run(&mut nem, &mut sched, Duration::from_secs(30),
//!     &AtomicBool::new(false), |event| println!("{event}"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod fault;
pub mod grudge;
pub mod iptables;
pub mod mix;
pub mod nemesis;
pub mod plan;
pub mod schedule;
pub mod spec;

pub use fault::{Fault, FaultEvent, FaultKind, FaultOutcome, FaultPhase};
pub use grudge::{Grudge, PartitionKind};
pub use mix::{Mix, Span};
pub use nemesis::{FaultInjector, LeaderQuery, Nemesis, NetFaults};
pub use plan::{FaultArg, FaultList, Plan, Resolved, Timed, DEFAULT_FAILOVER};
pub use schedule::{Schedule, ScheduleConfig, Step};
pub use spec::NodeSpec;
