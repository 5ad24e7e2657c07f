//! The default fault mix: what `faultline test` injects when no `--nemesis` is given.
//!
//! ```text
//! target's failover figure ──► Mix::default_for ──► Mix { choices (weighted faults),
//!                                                         window span, gap span }
//! Mix + seed ──► Schedule ──► deck (each fault × its weight, shuffled) ──► dealt in order:
//!                gap, Start(fault) ──► window, Stop(kind) ──► gap, Start(next card) …
//! ```
//!
//! Why this mix (the README has the long form): a bug in a consensus system shows when
//! the cluster has to change leaders, so most windows take the current leader out — cut
//! off alone in a minority, killed, or paused — as Jepsen's combined nemesis packages
//! do with their `:primaries` targets and etcd's robustness tests do with their
//! leader-targeted failpoints. The rest kill every node at once (durability), hit
//! random minorities (kills, pauses) and play a majorities ring, so a whole-cluster
//! restart, followers that fall behind and contested elections are exercised too. The
//! faults are dealt from a shuffled deck rather than drawn independently, so a run as
//! long as a deck plays each of them: a bug that only one fault exposes is not missed
//! because the dice never chose it. Every window lasts several of the target's failover figures (the time the side
//! that lost its leader needs to elect another: an election timeout for Raft and etcd,
//! the sync limit plus an election for ZooKeeper), so a new leader is in place, serving,
//! while the old one is still cut off or stopped; every quiet gap lasts long enough for
//! killed nodes to restart and the cluster to settle before the next fault. No wait is
//! drawn from zero: a 1 ms window finds nothing.
//!
//! Invariants: a mix is plain data (`Serialize`, printed in a run's header and stored
//! in `test.json`); the same mix and seed give the same steps; waits are uniform within
//! their span, never below its minimum; every deck is dealt to its end before the next.
//! References: Jepsen `jepsen.nemesis.combined` (`nemesis-package`, `:primaries`
//! targets, `:interval`); etcd `tests/robustness/failpoint` (leader-targeted
//! failpoints, waiting for the cluster to be healthy between them).

use std::fmt;
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::fault::{Fault, FaultKind};
use crate::grudge::PartitionKind;
use crate::spec::NodeSpec;

/// A range of durations a wait is drawn from, uniformly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub min: Duration,
    pub max: Duration,
}

impl Span {
    /// A wait in `[min, max]`.
    pub fn draw(&self, rng: &mut impl Rng) -> Duration {
        let (lo, hi) = (self.min.as_nanos() as u64, self.max.as_nanos() as u64);
        Duration::from_nanos(if hi > lo { rng.gen_range(lo..=hi) } else { lo })
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.1}–{:.1} s",
            self.min.as_secs_f64(),
            self.max.as_secs_f64()
        )
    }
}

/// One fault of a mix and how often it is drawn (relative to the other weights).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub weight: u32,
    pub fault: Fault,
}

/// A fault mix: windows of one fault at a time, dealt from a shuffled deck that holds
/// each of `choices` as many times as its weight ([`Mix::deck`]),
/// lasting a wait drawn from `window`, separated by quiet gaps drawn from `gap`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mix {
    /// The target's failover figure the windows and gaps were scaled from.
    pub failover: Duration,
    pub choices: Vec<Choice>,
    /// How long a fault stays in force.
    pub window: Span,
    /// How long the cluster is left alone before the next fault (and before the first).
    pub gap: Span,
    /// The election candidates' lease, when the mix has candidate faults
    /// ([`Mix::with_candidate_faults`]): every window outlasts it ([`lease_floor`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_lease: Option<Duration>,
}

/// Windows last at least this many failover figures …
pub const WINDOW_FAILOVERS: u32 = 3;
/// … and never less than this, whatever the target says (time for clients to act on
/// the new leader while the old one is still cut off).
pub const MIN_WINDOW: Duration = Duration::from_secs(3);
/// The most windows one deck may hold (the weights' sum).
pub const MAX_DECK: usize = 1000;
/// Quiet gaps last at least one failover figure, and never less than this (a killed
/// node restarts and catches up; a healed partition re-elects).
pub const MIN_GAP: Duration = Duration::from_secs(2);

impl Mix {
    /// The default mix for a target whose side that lost its leader elects another
    /// within `failover` (the bundled Raft: 300 ms; etcd: 1 s; ZooKeeper: 2.4 s).
    ///
    /// A deck of nine windows, dealt in a shuffled order (see [`Mix::deck`]), so a
    /// 60 s run on a bundled target plays every one of them. Four aim at the leader:
    /// two isolate it alone in a minority (the fault that exposes the most: a deposed
    /// leader still serving, uncommitted entries stranded), one kills it, one pauses
    /// it. Two kill every node at once (a power cut: an acknowledged write that was not
    /// yet durable anywhere is lost, and every node restarts and campaigns at once;
    /// twice, because a single cut loses a write only if one was acknowledged in the
    /// last moments). One kills a random minority (restarts of followers that voted),
    /// one pauses a random minority (a follower that falls behind and serves again
    /// before it has caught up), and one is a majorities ring (every node sees a
    /// different majority: contested elections). The leader is down or cut off in six
    /// windows of nine. Windows last 3 to 4.5 failover figures (at least 3 to 4.5 s),
    /// gaps 1 to 1.5 (at least 2 to 3 s).
    pub fn default_for(failover: Duration) -> Mix {
        let choice = |weight, fault| Choice { weight, fault };
        Mix {
            failover,
            choices: vec![
                choice(
                    2,
                    Fault::Partition {
                        kind: PartitionKind::Primaries,
                    },
                ),
                choice(
                    1,
                    Fault::Kill {
                        nodes: NodeSpec::Primaries,
                    },
                ),
                choice(
                    1,
                    Fault::Pause {
                        nodes: NodeSpec::Primaries,
                    },
                ),
                choice(
                    2,
                    Fault::Kill {
                        nodes: NodeSpec::All,
                    },
                ),
                choice(
                    1,
                    Fault::Kill {
                        nodes: NodeSpec::Minority,
                    },
                ),
                choice(
                    1,
                    Fault::Pause {
                        nodes: NodeSpec::Minority,
                    },
                ),
                choice(
                    1,
                    Fault::Partition {
                        kind: PartitionKind::MajoritiesRing,
                    },
                ),
            ],
            window: Span {
                min: Duration::ZERO,
                max: Duration::ZERO,
            },
            gap: Span {
                min: Duration::ZERO,
                max: Duration::ZERO,
            },
            candidate_lease: None,
        }
        .scaled_to(failover)
    }

    /// The mix with faults on election candidates beside the system's (the election
    /// workload's default), for candidates whose lease is `lease`: the leading
    /// candidates paused (weight 4: a stop-the-world pause past their lease), cut off
    /// from the coordination cluster but not from the resource (2), or killed and
    /// restarted (1). Every window then outlasts the lease and the takeover behind it
    /// ([`lease_floor`]), and a deck alternates candidate and system faults, a candidate
    /// fault first ([`Mix::deck`]), so even a run of four windows (ZooKeeper's 60 s)
    /// pauses or cuts off a leading candidate. A mix that has them already keeps its
    /// faults and takes the new lease.
    pub fn with_candidate_faults(mut self, lease: Duration) -> Mix {
        let extra = [
            (
                4,
                Fault::Pause {
                    nodes: NodeSpec::LeaderCandidate,
                },
            ),
            (
                2,
                Fault::Partition {
                    kind: PartitionKind::LeaderCandidate,
                },
            ),
            (
                1,
                Fault::Kill {
                    nodes: NodeSpec::LeaderCandidate,
                },
            ),
        ];
        for (weight, fault) in extra {
            if !self.choices.iter().any(|c| c.fault == fault) {
                self.choices.push(Choice { weight, fault });
            }
        }
        self.candidate_lease = Some(lease);
        let failover = self.failover;
        self.scaled_to(failover)
    }

    /// The same faults, with windows and gaps for a target that fails over within
    /// `failover` (a mix resolved before its target was known takes the target's figure).
    pub fn scaled_to(self, failover: Duration) -> Mix {
        let lease = self
            .candidate_lease
            .map_or(Duration::ZERO, |l| lease_floor(l, failover));
        let window_min = (failover * WINDOW_FAILOVERS).max(MIN_WINDOW).max(lease);
        let gap_min = failover.max(MIN_GAP);
        Mix {
            failover,
            window: Span {
                min: window_min,
                max: window_min * 3 / 2,
            },
            gap: Span {
                min: gap_min,
                max: gap_min * 3 / 2,
            },
            ..self
        }
    }

    /// Checks the mix; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.choices.iter().all(|c| c.weight == 0) {
            return Err("a fault mix needs at least one fault with a positive weight".into());
        }
        if self.deck_len() > MAX_DECK {
            return Err(format!(
                "a fault mix's weights add up to {}, more than {MAX_DECK} windows a deck",
                self.deck_len()
            ));
        }
        for (name, s) in [("window", self.window), ("gap", self.gap)] {
            if s.min.is_zero() || s.max < s.min {
                return Err(format!(
                    "the mix's {name} span {s} must be positive and ordered"
                ));
            }
        }
        Ok(())
    }

    /// A deck of the mix's faults, each as many times as its weight, in a shuffled
    /// order. A schedule deals a deck to its end before it shuffles the next, so every
    /// fault of the mix plays once in each run long enough for a deck (stratified, not
    /// independent draws: with independent draws a fault of weight 1 in 9 is missing
    /// from a third of the 9-window runs, and with it the bugs only it exposes).
    ///
    /// With candidate faults, the candidates' cards and the system's are shuffled
    /// apart and dealt in turn, a candidate's first, until one pile runs out: every
    /// other window hits a candidate, however few windows a run holds.
    pub fn deck(&self, rng: &mut impl Rng) -> Vec<Fault> {
        let cards = |candidates: bool| -> Vec<Fault> {
            self.choices
                .iter()
                .filter(|c| on_candidates(&c.fault) == candidates)
                .flat_map(|c| std::iter::repeat_n(c.fault.clone(), c.weight as usize))
                .collect()
        };
        let (mut system, mut candidate) = (cards(false), cards(true));
        system.shuffle(rng);
        candidate.shuffle(rng);
        // Dealt from the end (a schedule pops): a pile's cards in the order they will be
        // dealt are its reverse, and the deck is the dealing order reversed. Without
        // candidate faults this is the one shuffled pile, as it always was.
        let (mut system, mut candidate) = (system.into_iter().rev(), candidate.into_iter().rev());
        let mut dealt = Vec::with_capacity(self.deck_len());
        loop {
            match (candidate.next(), system.next()) {
                (None, None) => break,
                (c, s) => dealt.extend(c.into_iter().chain(s)),
            }
        }
        dealt.reverse();
        dealt
    }

    /// Windows in one deck.
    pub fn deck_len(&self) -> usize {
        self.choices.iter().map(|c| c.weight as usize).sum()
    }

    /// The share of windows aimed at the current leader (`primaries`).
    pub fn leader_share(&self) -> f64 {
        let total: u32 = self.choices.iter().map(|c| c.weight).sum();
        let leader: u32 = self
            .choices
            .iter()
            .filter(|c| aims_at_leader(&c.fault))
            .map(|c| c.weight)
            .sum();
        f64::from(leader) / f64::from(total.max(1))
    }

    /// The fault families the mix may start.
    pub fn kinds(&self) -> Vec<FaultKind> {
        let mut kinds = Vec::new();
        for c in &self.choices {
            if !kinds.contains(&c.fault.kind()) {
                kinds.push(c.fault.kind());
            }
        }
        kinds
    }
}

/// The shortest window for candidates whose lease is `lease` on a target that fails
/// over within `failover`: twice the lease, plus the failover. A paused (or cut off)
/// leading candidate is replaced only after the service's lease ran out (up to one
/// lease after the pause began: it was renewed just before), the next candidate's
/// campaign (up to a quarter lease later) and the commits between; the second lease
/// and the failover are slack for a loaded machine and a service that changes its own
/// leader meanwhile. A shorter pause ends before anyone took over, and shows nothing.
pub fn lease_floor(lease: Duration, failover: Duration) -> Duration {
    lease * 2 + failover
}

/// Whether a fault hits election candidates rather than the system's nodes.
pub fn on_candidates(f: &Fault) -> bool {
    match f {
        Fault::Pause { nodes } | Fault::Kill { nodes } | Fault::Loss { nodes, .. } => {
            nodes.is_candidates()
        }
        Fault::Partition { kind } => *kind == PartitionKind::LeaderCandidate,
        Fault::Grudge { .. } => false,
    }
}

fn aims_at_leader(f: &Fault) -> bool {
    matches!(
        f,
        Fault::Partition {
            kind: PartitionKind::Primaries
        } | Fault::Kill {
            nodes: NodeSpec::Primaries
        } | Fault::Pause {
            nodes: NodeSpec::Primaries
        } | Fault::Loss {
            nodes: NodeSpec::Primaries,
            ..
        }
    )
}

/// A fault as `--nemesis` spells it (`partition:primaries`, `kill:minority`).
fn spelling(f: &Fault) -> String {
    match f {
        Fault::Partition { kind } => format!("partition:{kind}"),
        Fault::Grudge { grudge } => format!("partition {grudge}"),
        Fault::Kill { nodes } => format!("kill:{nodes}"),
        Fault::Pause { nodes } => format!("pause:{nodes}"),
        Fault::Loss { p, nodes } => format!("loss:{p} on {nodes}"),
    }
}

impl fmt::Display for Mix {
    /// `30% partition:primaries, 20% kill:primaries, …; windows 3.0–6.0 s, gaps
    /// 2.0–4.0 s (failover 300 ms)`: the line a run's header prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: u32 = self.choices.iter().map(|c| c.weight).sum();
        let parts: Vec<String> = self
            .choices
            .iter()
            .map(|c| {
                format!(
                    "{:.0}% {}",
                    100.0 * f64::from(c.weight) / f64::from(total.max(1)),
                    spelling(&c.fault)
                )
            })
            .collect();
        write!(
            f,
            "{}, dealt in shuffled decks of {}",
            parts.join(", "),
            self.deck_len()
        )?;
        if self.choices.iter().any(|c| on_candidates(&c.fault)) {
            write!(f, ", candidate and system faults in turn")?;
        }
        write!(
            f,
            "; windows {}, gaps {} (target failover {} ms",
            self.window,
            self.gap,
            self.failover.as_millis()
        )?;
        if let Some(lease) = self.candidate_lease {
            write!(f, ", candidate lease {} ms", lease.as_millis())?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_faults_join_the_mix_once() {
        let lease = Duration::from_secs(2);
        let mix = Mix::default_for(Duration::from_millis(300)).with_candidate_faults(lease);
        let total: u32 = mix.choices.iter().map(|c| c.weight).sum();
        let on_candidates: u32 = mix
            .choices
            .iter()
            .filter(|c| on_candidates(&c.fault))
            .map(|c| c.weight)
            .sum();
        assert_eq!((on_candidates, total), (7, 16));
        assert_eq!(mix.clone().with_candidate_faults(lease), mix);
        let line = mix.to_string();
        assert!(line.contains("pause:leader-candidate"), "{line}");
        assert!(line.contains("candidate lease 2000 ms"), "{line}");
        // Windows outlast the candidates' lease and the takeover behind it, not only
        // the Raft's 300 ms failover (whose floor is 3 s) …
        assert_eq!(mix.window.min, Duration::from_millis(4300));
        assert_eq!(mix.window.max, Duration::from_millis(6450));
        // … also once the run scales the mix to its target.
        let zk = mix.clone().scaled_to(Duration::from_millis(2400));
        assert_eq!(
            zk.window.min,
            Duration::from_millis(7200),
            "3 × 2.4 s is longer"
        );
        let long = Mix::default_for(Duration::from_millis(300))
            .with_candidate_faults(Duration::from_secs(10))
            .scaled_to(Duration::from_millis(300));
        assert_eq!(long.window.min, Duration::from_millis(20300));
        // A stored mix without a lease still reads.
        let mut json = serde_json::to_value(Mix::default_for(Duration::from_millis(300))).unwrap();
        assert!(json.get("candidate_lease").is_none());
        json.as_object_mut().unwrap().remove("candidate_lease");
        let back: Mix = serde_json::from_value(json).unwrap();
        assert_eq!(back, Mix::default_for(Duration::from_millis(300)));
    }

    #[test]
    fn candidate_and_system_faults_are_dealt_in_turn() {
        let mix = Mix::default_for(Duration::from_millis(300))
            .with_candidate_faults(Duration::from_secs(2));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut firsts = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut deck = mix.deck(&mut rng);
            assert_eq!(deck.len(), 16);
            for c in &mix.choices {
                assert_eq!(
                    deck.iter().filter(|f| **f == c.fault).count(),
                    c.weight as usize
                );
            }
            let mut dealt = Vec::new();
            while let Some(f) = deck.pop() {
                dealt.push(on_candidates(&f));
            }
            // Seven candidate cards, each followed by a system card; the system's last
            // two come at the end.
            let expected: Vec<bool> = (0..14).map(|i| i % 2 == 0).chain([false, false]).collect();
            assert_eq!(dealt, expected);
            firsts.insert(format!("{:?}", mix.deck(&mut rng).pop()));
        }
        assert!(
            firsts.len() >= 3,
            "the first candidate fault varies: {firsts:?}"
        );
    }

    #[test]
    fn without_candidate_faults_a_deck_is_one_shuffled_pile() {
        // The deck a seed gave before candidate faults existed: same seed, same run.
        let mix = Mix::default_for(Duration::from_millis(300));
        let (mut a, mut b) = (ChaCha8Rng::seed_from_u64(9), ChaCha8Rng::seed_from_u64(9));
        for _ in 0..50 {
            let mut pile: Vec<Fault> = mix
                .choices
                .iter()
                .flat_map(|c| std::iter::repeat_n(c.fault.clone(), c.weight as usize))
                .collect();
            pile.shuffle(&mut b);
            assert_eq!(mix.deck(&mut a), pile);
        }
    }
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn windows_cover_several_failovers_and_never_start_at_zero() {
        let raft = Mix::default_for(Duration::from_millis(300));
        assert_eq!(raft.window.min, MIN_WINDOW, "3 s floor beats 3 × 300 ms");
        assert_eq!(raft.gap.min, MIN_GAP);
        let zk = Mix::default_for(Duration::from_millis(2400));
        assert_eq!(zk.window.min, Duration::from_millis(7200));
        assert_eq!(zk.window.max, Duration::from_millis(10800));
        assert_eq!(zk.gap.min, Duration::from_millis(2400));
        assert_eq!(raft.clone().scaled_to(Duration::from_millis(2400)), zk);
        for m in [&raft, &zk] {
            m.validate().unwrap();
            assert!(m.window.min >= m.failover * WINDOW_FAILOVERS);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..1000 {
            let w = raft.window.draw(&mut rng);
            assert!(w >= raft.window.min && w <= raft.window.max, "{w:?}");
        }
    }

    #[test]
    fn most_windows_aim_at_the_leader() {
        let m = Mix::default_for(Duration::from_millis(300));
        assert_eq!(m.leader_share(), 4.0 / 9.0);
        assert_eq!(
            m.kinds(),
            [FaultKind::Partition, FaultKind::Kill, FaultKind::Pause]
        );
    }

    #[test]
    fn every_deck_holds_each_fault_as_often_as_its_weight() {
        let m = Mix::default_for(Duration::from_millis(300));
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut orders = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let deck = m.deck(&mut rng);
            assert_eq!(deck.len(), m.deck_len());
            for c in &m.choices {
                let n = deck.iter().filter(|f| **f == c.fault).count();
                assert_eq!(n, c.weight as usize, "{:?} in {deck:?}", c.fault);
            }
            orders.insert(format!("{deck:?}"));
        }
        assert!(
            orders.len() > 100,
            "decks are shuffled: {} orders",
            orders.len()
        );
        let kill_all = Fault::Kill {
            nodes: NodeSpec::All,
        };
        assert!(m.choices.iter().any(|c| c.fault == kill_all));
    }

    #[test]
    fn the_header_line_spells_faults_as_the_flag_does() {
        let line = Mix::default_for(Duration::from_millis(300)).to_string();
        assert_eq!(
            line,
            "22% partition:primaries, 11% kill:primaries, 11% pause:primaries, \
             22% kill:all, 11% kill:minority, 11% pause:minority, \
             11% partition:majorities-ring, dealt in shuffled decks of 9; \
             windows 3.0–4.5 s, gaps 2.0–3.0 s (target failover 300 ms)"
        );
    }

    #[test]
    fn bad_mixes_are_rejected() {
        let mut m = Mix::default_for(Duration::from_secs(1));
        m.window.max = Duration::from_millis(1);
        assert!(m.validate().unwrap_err().contains("window"));
        let mut m = Mix::default_for(Duration::from_secs(1));
        m.choices.iter_mut().for_each(|c| c.weight = 0);
        assert!(m.validate().is_err());
        let mut m = Mix::default_for(Duration::from_secs(1));
        m.choices[0].weight = u32::MAX;
        assert!(m.validate().unwrap_err().contains("more than 1000"));
    }
}
