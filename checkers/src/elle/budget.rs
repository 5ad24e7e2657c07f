//! [`Budget`] and [`Options`]: what the cycle search may spend, and what the check is
//! for.
//!
//! Finding the shortest cycle of a class is a breadth-first search per candidate edge,
//! cheap in the usual small components but potentially long in one huge component. The
//! budget bounds each component's search (Elle's `:cycle-search-timeout`, 1 s per SCC)
//! and the whole check; past it the unsearched classes are reported and the verdict is
//! `unknown` unless an anomaly the model forbids was found anyway — never a hang.
//! `component_steps` bounds the same search by work done (edges followed) rather than
//! time, so a test can stop it deterministically.

use std::time::{Duration, Instant};

use super::ConsistencyModel;

/// Limits for the cycle search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// For the whole check.
    pub time_limit: Duration,
    /// For each strongly connected component.
    pub component_time_limit: Duration,
    /// Edges followed per component.
    pub component_steps: u64,
}

impl Default for Budget {
    /// 60 s in all, 5 s per component, no step limit.
    fn default() -> Self {
        Budget {
            time_limit: Duration::from_secs(60),
            component_time_limit: Duration::from_secs(5),
            component_steps: u64::MAX,
        }
    }
}

/// What the check looks for and how much it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The model the history must satisfy; the verdict is invalid only for the
    /// anomalies it forbids.
    pub consistency_model: ConsistencyModel,
    /// Anomalies kept (with explanations) per kind; all are counted.
    pub max_examples: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            consistency_model: ConsistencyModel::StrictSerializable,
            max_examples: 8,
        }
    }
}

/// Why a search stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exhausted {
    /// The component's (or the whole check's) time limit passed.
    TimeLimit,
    /// The component's step limit was reached.
    StepLimit,
}

/// Spends one component's budget.
#[derive(Debug)]
pub(crate) struct Meter {
    deadline: Instant,
    steps_left: u64,
    pub steps: u64,
    until_clock: u32,
    pub exhausted: Option<Exhausted>,
}

/// Edges followed between two looks at the clock.
const CLOCK_EVERY: u32 = 1024;

impl Meter {
    /// A meter for one component started now, never past `overall`.
    pub fn start(budget: &Budget, overall: Instant) -> Meter {
        let now = Instant::now();
        let deadline = now
            .checked_add(budget.component_time_limit)
            .map_or(overall, |d| d.min(overall));
        let mut m = Meter {
            deadline,
            steps_left: budget.component_steps,
            steps: 0,
            until_clock: CLOCK_EVERY,
            exhausted: None,
        };
        if now >= deadline {
            m.exhausted = Some(Exhausted::TimeLimit);
        }
        m
    }

    /// Spends one step; `false` once the budget is gone.
    #[inline]
    pub fn tick(&mut self) -> bool {
        if self.exhausted.is_some() {
            return false;
        }
        if self.steps_left == 0 {
            self.exhausted = Some(Exhausted::StepLimit);
            return false;
        }
        self.steps_left -= 1;
        self.steps += 1;
        self.until_clock -= 1;
        if self.until_clock == 0 {
            self.until_clock = CLOCK_EVERY;
            if Instant::now() >= self.deadline {
                self.exhausted = Some(Exhausted::TimeLimit);
                return false;
            }
        }
        true
    }
}
