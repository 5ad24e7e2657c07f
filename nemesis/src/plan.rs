//! The nemesis plan of a test: which faults, with which node specs, on which schedule —
//! as the user asked for them (`--nemesis partition:primaries,kill`), stored with the
//! test, and played against a run's nodes.
//!
//! ```text
//! "--nemesis partition:bridge,kill:one" ──parse──► [FaultArg] + interval ──► Plan (plain data, in test.json)
//! Plan::resolve(seed) ──► Schedule (which families, kinds, per-family specs) ──play──► Nemesis ──► FaultEvents
//! "--nemesis default" (no flag) + the target's failover figure ──resolve_for──► Mix ──play──► Nemesis
//! Plan::Scripted(steps at fixed times) ────────────────────────────────────────play──► Nemesis ──► FaultEvents
//! ```
//!
//! Invariants: a plan is data (`Debug`, `Serialize`, `PartialEq`); the same plan and seed
//! give the same steps; every play ends with every fault healed; bad input is rejected
//! by [`Plan::validate`] with the accepted forms, before a run starts.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use runtime::{NodeId, Runtime};
use serde::{Deserialize, Serialize};

use crate::fault::{Fault, FaultEvent, FaultKind};
use crate::grudge::PartitionKind;
use crate::mix::Mix;
use crate::nemesis::{FaultInjector, LeaderQuery, Nemesis};
use crate::schedule::{pace_until, Schedule, ScheduleConfig, Step, WallClock};
use crate::spec::NodeSpec;

/// One `--nemesis` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultArg {
    /// The default mix ([`Mix::default_for`]): leader-aimed windows scaled to the
    /// target's failover figure. Stands alone.
    Default,
    None,
    All,
    Partition(Option<PartitionKind>),
    Kill(Option<NodeSpec>),
    Pause(Option<NodeSpec>),
    Loss(Option<f64>),
}

impl FromStr for FaultArg {
    type Err = String;
    /// `default`, `none`, `all`, `partition[:KIND]`, `kill[:SPEC]`, `pause[:SPEC]`,
    /// `loss[:P]`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, spec) = match s.split_once(':') {
            Some((k, v)) => (k, Some(v)),
            None => (s, None),
        };
        let spec_of = |v: Option<&str>| v.map(str::parse::<NodeSpec>).transpose();
        Ok(match kind {
            "default" if spec.is_none() => FaultArg::Default,
            "none" if spec.is_none() => FaultArg::None,
            "all" if spec.is_none() => FaultArg::All,
            "partition" => FaultArg::Partition(spec.map(str::parse).transpose()?),
            "kill" => FaultArg::Kill(spec_of(spec)?),
            "pause" => FaultArg::Pause(spec_of(spec)?),
            "loss" => FaultArg::Loss(
                spec.map(|p| match p.parse::<f64>() {
                    Ok(p) if p > 0.0 && p <= 1.0 => Ok(p),
                    _ => Err(format!("loss probability must be in (0, 1], got {p:?}")),
                })
                .transpose()?,
            ),
            _ => {
                return Err(format!(
                    "unknown fault {s:?}; one of default, none, all, partition[:KIND], \
                     kill[:SPEC], pause[:SPEC], loss[:P]"
                ))
            }
        })
    }
}

impl fmt::Display for FaultArg {
    /// As the user spells it, so a printed plan parses back to itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultArg::Default => f.write_str("default"),
            FaultArg::None => f.write_str("none"),
            FaultArg::All => f.write_str("all"),
            FaultArg::Partition(None) => f.write_str("partition"),
            FaultArg::Partition(Some(k)) => write!(f, "partition:{k}"),
            FaultArg::Kill(None) => f.write_str("kill"),
            FaultArg::Kill(Some(s)) => write!(f, "kill:{s}"),
            FaultArg::Pause(None) => f.write_str("pause"),
            FaultArg::Pause(Some(s)) => write!(f, "pause:{s}"),
            FaultArg::Loss(None) => f.write_str("loss"),
            FaultArg::Loss(Some(p)) => write!(f, "loss:{p}"),
        }
    }
}

/// `--nemesis`: faults separated by commas. A node list belongs to the kill or pause
/// before it, so `kill:n1,n3,partition` is a kill of n1 and n3, then partitions.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultList(pub Vec<FaultArg>);

impl FromStr for FaultList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut items: Vec<String> = Vec::new();
        for part in s.split(',').map(str::trim) {
            let continues_nodes = part.parse::<NodeId>().is_ok()
                && items.last().is_some_and(|prev| {
                    let (kind, spec) = prev.split_once(':').unwrap_or((prev, ""));
                    matches!(kind, "kill" | "pause")
                        && spec.split(',').all(|n| n.parse::<NodeId>().is_ok())
                });
            match items.last_mut() {
                Some(prev) if continues_nodes => {
                    prev.push(',');
                    prev.push_str(part);
                }
                _ => items.push(part.to_string()),
            }
        }
        items
            .iter()
            .map(|i| i.parse::<FaultArg>())
            .collect::<Result<_, _>>()
            .map(FaultList)
    }
}

impl fmt::Display for FaultList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.0.iter().map(FaultArg::to_string).collect();
        f.write_str(&words.join(","))
    }
}

/// A step at a fixed time from the start of the run (for scripted plans).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timed {
    pub at: Duration,
    pub step: Step,
}

/// The faults of a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Plan {
    /// Faults drawn at seeded random times around `interval` (`--nemesis`,
    /// `--nemesis-interval`).
    Scheduled {
        faults: Vec<FaultArg>,
        interval: Duration,
    },
    /// Steps at fixed times (benchmarks, tests): e.g. kill the leader halfway.
    Scripted { steps: Vec<Timed> },
}

impl Plan {
    /// A scheduled plan from `--nemesis` items.
    pub fn scheduled(faults: Vec<FaultArg>, interval: Duration) -> Plan {
        Plan::Scheduled { faults, interval }
    }

    /// No faults at all.
    pub fn none() -> Plan {
        Plan::Scheduled {
            faults: vec![FaultArg::None],
            interval: Duration::from_secs(5),
        }
    }

    /// `partition:bridge,kill:one` for a scheduled plan; `scripted` otherwise.
    pub fn describe(&self) -> String {
        match self {
            Plan::Scheduled { faults, .. } => faults
                .iter()
                .map(FaultArg::to_string)
                .collect::<Vec<_>>()
                .join(","),
            Plan::Scripted { steps } => format!("scripted ({} steps)", steps.len()),
        }
    }

    /// Checks the plan; the error says what is wrong and what is accepted.
    pub fn validate(&self) -> Result<(), String> {
        self.resolve(0).map(|_| ())
    }

    /// Whether the plan injects any fault.
    pub fn is_none(&self) -> bool {
        matches!(self.resolve(0), Ok(None))
    }

    /// The schedule behind a scheduled plan (`None`: no faults), from `seed`, for a
    /// target whose failover figure is unknown ([`DEFAULT_FAILOVER`]).
    pub fn resolve(&self, seed: u64) -> Result<Option<Resolved>, String> {
        self.resolve_for(seed, DEFAULT_FAILOVER)
    }

    /// The mix `default` means for a target that fails over within `failover`; `None`
    /// for other plans.
    pub fn mix_for(&self, failover: Duration) -> Option<Mix> {
        match self {
            Plan::Scheduled { faults, .. } if faults.contains(&FaultArg::Default) => {
                Some(Mix::default_for(failover))
            }
            _ => None,
        }
    }

    /// The schedule behind a plan, from `seed`, for a target whose side that lost its
    /// leader elects another within `failover` (what the default mix is scaled to).
    pub fn resolve_for(&self, seed: u64, failover: Duration) -> Result<Option<Resolved>, String> {
        match self {
            Plan::Scripted { steps } => {
                let mut sorted = steps.clone();
                sorted.sort_by_key(|t| t.at);
                Ok((!sorted.is_empty()).then_some(Resolved::Scripted {
                    steps: sorted,
                    seed,
                }))
            }
            Plan::Scheduled { faults, .. } if faults.contains(&FaultArg::Default) => {
                if faults.len() > 1 {
                    return Err(
                        "default is a mix of its own and cannot be combined with other faults \
                         (list the faults instead, e.g. partition:primaries,kill:primaries)"
                            .into(),
                    );
                }
                let mix = Mix::default_for(failover);
                mix.validate()?;
                Ok(Some(Resolved::Mix { mix, seed }))
            }
            Plan::Scheduled { faults, interval } => resolve_scheduled(faults, *interval, seed),
        }
    }
}

/// The failover figure assumed when a target gives none.
pub const DEFAULT_FAILOVER: Duration = Duration::from_secs(1);

fn resolve_scheduled(
    args: &[FaultArg],
    interval: Duration,
    seed: u64,
) -> Result<Option<Resolved>, String> {
    let mut kinds: Vec<FaultKind> = Vec::new();
    let mut partitions = Vec::new();
    let (mut kill, mut pause) = (Vec::new(), Vec::new());
    let mut loss = None;
    let add = |k: FaultKind, kinds: &mut Vec<FaultKind>| {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    };
    for a in args {
        match a {
            FaultArg::Default => return Err("default cannot be combined with other faults".into()),
            FaultArg::None => {}
            FaultArg::All => {
                for k in FaultKind::ALL {
                    add(k, &mut kinds);
                }
            }
            FaultArg::Partition(k) => {
                add(FaultKind::Partition, &mut kinds);
                partitions.extend(*k);
            }
            FaultArg::Kill(s) => {
                add(FaultKind::Kill, &mut kinds);
                kill.extend(s.clone());
            }
            FaultArg::Pause(s) => {
                add(FaultKind::Pause, &mut kinds);
                pause.extend(s.clone());
            }
            FaultArg::Loss(p) => {
                add(FaultKind::Loss, &mut kinds);
                loss = p.or(loss);
            }
        }
    }
    if kinds.is_empty() {
        return Ok(None);
    }
    if args.contains(&FaultArg::None) {
        return Err("none cannot be combined with faults".into());
    }
    let mut cfg = ScheduleConfig::new(kinds);
    cfg.interval = interval;
    if !partitions.is_empty() {
        cfg.partitions = partitions;
    }
    if let Some(p) = loss {
        cfg.loss = p;
    }
    cfg.validate()?;
    Ok(Some(Resolved::Scheduled {
        cfg,
        kill,
        pause,
        seed,
    }))
}

/// A plan ready to play.
#[derive(Debug, Clone)]
pub enum Resolved {
    Scheduled {
        cfg: ScheduleConfig,
        /// The user's node specs for kill and pause (the schedule draws one list for
        /// every family; these take precedence for their family).
        kill: Vec<NodeSpec>,
        pause: Vec<NodeSpec>,
        seed: u64,
    },
    /// The default mix, scaled to the target.
    Mix {
        mix: Mix,
        seed: u64,
    },
    Scripted {
        steps: Vec<Timed>,
        seed: u64,
    },
}

impl Resolved {
    /// The schedule's configuration (scheduled plans only).
    pub fn config(&self) -> Option<&ScheduleConfig> {
        match self {
            Resolved::Scheduled { cfg, .. } => Some(cfg),
            Resolved::Mix { .. } | Resolved::Scripted { .. } => None,
        }
    }

    /// Scales a mix to the target's failover figure (a plan resolved before its target
    /// was known, e.g. with [`Plan::resolve`]); returns the mix, for the run's header and
    /// `test.json`. Other plans are left alone (`None`).
    pub fn fit_to(&mut self, failover: Duration) -> Option<&Mix> {
        match self {
            Resolved::Mix { mix, .. } => {
                *mix = mix.clone().scaled_to(failover);
                Some(mix)
            }
            _ => None,
        }
    }

    /// Adds faults on election candidates whose lease is `lease` to the default mix
    /// ([`Mix::with_candidate_faults`]); a plan the user spelled out is played as asked.
    pub fn with_candidate_faults(self, lease: Duration) -> Resolved {
        match self {
            Resolved::Mix { mix, seed } => Resolved::Mix {
                mix: mix.with_candidate_faults(lease),
                seed,
            },
            other => other,
        }
    }

    /// The mix this plan plays, when it is the default one.
    pub fn mix(&self) -> Option<&Mix> {
        match self {
            Resolved::Mix { mix, .. } => Some(mix),
            _ => None,
        }
    }

    /// The steps the schedule would play first (with the wait before each), for a
    /// scheduled plan or a mix: what a seed means, without a cluster.
    pub fn preview(&self, n: usize) -> Vec<(Duration, Step)> {
        match self {
            Resolved::Scheduled { cfg, seed, .. } => {
                Schedule::new(cfg.clone(), *seed ^ SCHEDULE_SALT)
                    .map(|s| s.take(n).collect())
                    .unwrap_or_default()
            }
            Resolved::Mix { mix, seed } => Schedule::mix(mix.clone(), *seed ^ SCHEDULE_SALT)
                .map(|s| s.take(n).collect())
                .unwrap_or_default(),
            Resolved::Scripted { steps, .. } => steps
                .iter()
                .take(n)
                .scan(Duration::ZERO, |last, t| {
                    let wait = t.at.saturating_sub(*last);
                    *last = t.at;
                    Some((wait, t.step.clone()))
                })
                .collect(),
        }
    }

    /// Plays the plan against `rt` until `limit` has passed or `stop` is set, then heals
    /// every fault; every event goes to `record`.
    pub fn play(
        &self,
        rt: Arc<dyn Runtime>,
        leaders: LeaderQuery,
        limit: Duration,
        stop: &AtomicBool,
        record: &mut dyn FnMut(FaultEvent),
    ) {
        match self {
            Resolved::Scheduled {
                cfg,
                kill,
                pause,
                seed,
            } => {
                let mut nemesis = Nemesis::new(rt, *seed).with_leaders(leaders);
                let mut schedule = match Schedule::new(cfg.clone(), *seed ^ SCHEDULE_SALT) {
                    Ok(s) => s,
                    Err(e) => {
                        // Validated before the run; a schedule that cannot be built does nothing.
                        tracing::error!("nemesis schedule: {e}");
                        return;
                    }
                };
                let mut injector = PerKindSpecs {
                    inner: &mut nemesis,
                    kill,
                    pause,
                    rng: ChaCha8Rng::seed_from_u64(*seed ^ 0x73706563),
                };
                crate::schedule::run(&mut injector, &mut schedule, limit, stop, &mut *record);
            }
            Resolved::Mix { mix, seed } => {
                let mut nemesis = Nemesis::new(rt, *seed).with_leaders(leaders);
                let mut schedule = match Schedule::mix(mix.clone(), *seed ^ SCHEDULE_SALT) {
                    Ok(s) => s,
                    Err(e) => {
                        // Validated when resolved; a schedule that cannot be built does nothing.
                        tracing::error!("nemesis schedule: {e}");
                        return;
                    }
                };
                crate::schedule::run(&mut nemesis, &mut schedule, limit, stop, &mut *record);
            }
            Resolved::Scripted { steps, seed } => {
                let mut nemesis = Nemesis::new(rt, *seed).with_leaders(leaders);
                let mut clock = WallClock::start();
                for t in steps.iter().take_while(|t| t.at < limit) {
                    if !pace_until(&mut clock, t.at, stop) {
                        break;
                    }
                    record(nemesis.invoke(&t.step));
                }
                pace_until(&mut clock, limit, stop);
                for e in nemesis.heal_all() {
                    record(e);
                }
            }
        }
    }
}

/// Separates the schedule's rng stream from the nemesis's (both derive from the seed).
const SCHEDULE_SALT: u64 = 0x6e656d;

/// Substitutes the user's node specs for kill and pause.
struct PerKindSpecs<'a> {
    inner: &'a mut Nemesis,
    kill: &'a [NodeSpec],
    pause: &'a [NodeSpec],
    rng: ChaCha8Rng,
}

impl FaultInjector for PerKindSpecs<'_> {
    fn invoke(&mut self, step: &Step) -> FaultEvent {
        let step = match step {
            Step::Start(Fault::Kill { .. }) if !self.kill.is_empty() => Step::Start(Fault::Kill {
                nodes: self.kill.choose(&mut self.rng).cloned().expect("non-empty"),
            }),
            Step::Start(Fault::Pause { .. }) if !self.pause.is_empty() => {
                Step::Start(Fault::Pause {
                    nodes: self
                        .pause
                        .choose(&mut self.rng)
                        .cloned()
                        .expect("non-empty"),
                })
            }
            other => other.clone(),
        };
        self.inner.invoke(&step)
    }

    fn heal_all(&mut self) -> Vec<FaultEvent> {
        self.inner.heal_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_list_in_a_fault_list_stays_with_its_kill_or_pause() {
        for s in [
            "partition,kill",
            "kill:n1,n3,partition:bridge",
            "pause:n2,kill:one,loss:0.2",
            "partition:one-way,pause:n1,n2,n3",
        ] {
            let list: FaultList = s.parse().unwrap();
            assert_eq!(list.to_string(), s);
        }
        let list: FaultList = "kill:n1,n3,partition".parse().unwrap();
        assert_eq!(
            list.0,
            ["kill:n1,n3".parse().unwrap(), FaultArg::Partition(None)]
        );
        // A node name after anything but a node list is an error, not a guess.
        for bad in ["kill,n3", "kill:one,n2", "partition,n1", "n1"] {
            assert!(bad.parse::<FaultList>().is_err(), "{bad}");
        }
    }

    #[test]
    fn items_parse_with_optional_specs_and_print_back() {
        for s in [
            "default",
            "none",
            "all",
            "partition",
            "partition:majorities-ring",
            "kill:primaries",
            "pause",
            "pause:n1,n3",
            "loss:0.2",
        ] {
            let a: FaultArg = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert_eq!(
            "partition:majorities-ring".parse::<FaultArg>().unwrap(),
            FaultArg::Partition(Some(PartitionKind::MajoritiesRing))
        );
        for bad in [
            "loss:0",
            "loss:1.5",
            "partition:sideways",
            "kill:most",
            "crash",
            "none:x",
            "default:primaries",
        ] {
            assert!(bad.parse::<FaultArg>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plans_collect_kinds_and_specs() {
        let s = Duration::from_secs(5);
        assert!(Plan::scheduled(vec![FaultArg::None], s).is_none());
        let p = Plan::scheduled(
            vec![
                FaultArg::Partition(Some(PartitionKind::Bridge)),
                FaultArg::Kill(Some(NodeSpec::Primaries)),
                FaultArg::Loss(Some(0.3)),
            ],
            s,
        );
        let Some(Resolved::Scheduled { cfg, kill, .. }) = p.resolve(1).unwrap() else {
            panic!("a scheduled plan")
        };
        assert_eq!(
            cfg.faults,
            vec![FaultKind::Partition, FaultKind::Kill, FaultKind::Loss]
        );
        assert_eq!(cfg.partitions, vec![PartitionKind::Bridge]);
        assert_eq!(kill, vec![NodeSpec::Primaries]);
        assert_eq!(cfg.loss, 0.3);
        assert_eq!(p.describe(), "partition:bridge,kill:primaries,loss:0.3");
        let all = Plan::scheduled(vec![FaultArg::All], s)
            .resolve(1)
            .unwrap()
            .unwrap();
        assert_eq!(all.config().unwrap().faults.len(), 4);
        let e = Plan::scheduled(vec![FaultArg::None, FaultArg::All], s)
            .validate()
            .unwrap_err();
        assert!(e.contains("none cannot be combined"), "{e}");
    }

    #[test]
    fn default_is_the_mix_scaled_to_the_target_and_stands_alone() {
        let s = Duration::from_secs(5);
        let p = Plan::scheduled(vec![FaultArg::Default], s);
        let raft = p
            .resolve_for(3, Duration::from_millis(300))
            .unwrap()
            .unwrap();
        let zk = p
            .resolve_for(3, Duration::from_millis(2400))
            .unwrap()
            .unwrap();
        assert_eq!(
            raft.mix(),
            Some(&Mix::default_for(Duration::from_millis(300)))
        );
        assert_eq!(p.mix_for(Duration::from_millis(300)).as_ref(), raft.mix());
        assert!(zk.mix().unwrap().window.min > raft.mix().unwrap().window.min);
        // Resolved before the target was known, then fitted to it: the same mix.
        let mut early = p.resolve(3).unwrap().unwrap();
        assert_eq!(early.mix().unwrap().failover, DEFAULT_FAILOVER);
        assert_eq!(early.fit_to(Duration::from_millis(2400)), zk.mix());
        assert_eq!(early.preview(20), zk.preview(20));
        assert_eq!(p.describe(), "default");
        assert!(!p.is_none());
        // Same seed, same schedule; another seed, another one.
        let again = p
            .resolve_for(3, Duration::from_millis(300))
            .unwrap()
            .unwrap();
        let other = p
            .resolve_for(4, Duration::from_millis(300))
            .unwrap()
            .unwrap();
        assert_eq!(raft.preview(30), again.preview(30));
        assert_ne!(raft.preview(30), other.preview(30));
        assert!(raft
            .preview(30)
            .iter()
            .all(|(wait, _)| *wait >= crate::mix::MIN_GAP));
        for combined in [
            vec![FaultArg::Default, FaultArg::Kill(None)],
            vec![FaultArg::Partition(None), FaultArg::Default],
        ] {
            let e = Plan::scheduled(combined, s).validate().unwrap_err();
            assert!(e.contains("default"), "{e}");
        }
        // Any other plan has no mix.
        let other = Plan::scheduled(vec![FaultArg::Kill(None)], s);
        assert!(other.mix_for(Duration::from_secs(1)).is_none());
        assert!(other.resolve(1).unwrap().unwrap().mix().is_none());
    }
}
