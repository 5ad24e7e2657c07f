//! [`ElleReport`]: the checker's answer — the tri-state verdict under the chosen
//! consistency model, every anomaly found (counted, with explained examples), the
//! models the history rules out and still allows, why the answer may be unknown, and
//! figures.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::budget::Exhausted;
use super::graph::EdgeCounts;
use super::{Anomaly, AnomalyKind, ConsistencyModel, CycleKind};
use crate::verdict::Validity;

/// Why (part of) the answer is not known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum UnknownCause {
    /// No transaction completed ok: nothing was observed (Elle's
    /// `empty-transaction-graph`).
    NoOkTransactions,
    /// A component's cycle search ran out of budget before these kinds were found or
    /// ruled out.
    CycleSearch {
        component_size: usize,
        stopped: Option<Exhausted>,
        not_searched: Vec<String>,
    },
}

impl fmt::Display for UnknownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnknownCause::NoOkTransactions => {
                f.write_str("no transaction completed ok, so nothing was observed")
            }
            UnknownCause::CycleSearch {
                component_size,
                stopped,
                not_searched,
            } => write!(
                f,
                "the cycle search in a component of {component_size} transactions stopped \
                 ({}) before ruling out {}",
                match stopped {
                    Some(Exhausted::StepLimit) => "step limit",
                    _ => "time limit",
                },
                not_searched.join(", ")
            ),
        }
    }
}

/// Figures about the check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElleStats {
    pub txns: usize,
    pub ok: usize,
    pub info: usize,
    pub fail: usize,
    pub keys: usize,
    pub edges: EdgeCounts,
    /// Strongly connected components of two or more transactions.
    pub components: usize,
    pub largest_component: usize,
    /// Edges followed by the cycle search.
    pub search_steps: u64,
    /// Wall time of the check, in microseconds.
    pub micros: u64,
}

/// The list-append checker's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElleReport {
    pub valid: Validity,
    pub consistency_model: ConsistencyModel,
    /// Every anomaly kind the model forbids.
    pub model_forbids: Vec<AnomalyKind>,
    /// The kinds found, forbidden ones first.
    pub anomaly_types: Vec<AnomalyKind>,
    /// How many of each kind were found.
    pub counts: BTreeMap<AnomalyKind, usize>,
    /// Explained examples, forbidden kinds first (at most `max_examples` per kind).
    pub anomalies: Vec<Anomaly>,
    /// The weakest models the anomalies rule out.
    pub not: Vec<ConsistencyModel>,
    /// The stronger models they rule out too.
    pub also_not: Vec<ConsistencyModel>,
    /// The strongest models not ruled out.
    pub satisfies: Vec<ConsistencyModel>,
    /// Why the search was incomplete (empty when it was complete).
    pub unknown: Vec<UnknownCause>,
    pub stats: ElleStats,
}

fn names<T: fmt::Display>(xs: &[T]) -> String {
    xs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ElleReport {
    /// The kinds found that the model forbids.
    pub fn forbidden_found(&self) -> Vec<AnomalyKind> {
        self.anomaly_types
            .iter()
            .copied()
            .filter(|&k| self.consistency_model.forbids(k))
            .collect()
    }

    /// Whether a cycle of this kind was found.
    pub fn has_cycle(&self, kind: CycleKind) -> bool {
        self.counts.contains_key(&AnomalyKind::Cycle(kind))
    }

    /// The report in plain lines for a terminal.
    pub fn describe(&self) -> Vec<String> {
        let s = &self.stats;
        let mut out = Vec::new();
        let verdict = match self.valid {
            Validity::Valid => "VALID",
            Validity::Invalid => "INVALID",
            Validity::Unknown => "UNKNOWN",
        };
        let forbidden = self.forbidden_found();
        out.push(if forbidden.is_empty() {
            format!("list-append: {verdict} under {}", self.consistency_model)
        } else {
            format!(
                "list-append: {verdict} under {}, which forbids {}",
                self.consistency_model,
                names(&forbidden)
            )
        });
        out.push(format!(
            "  {} transactions ({} ok, {} info, {} fail) on {} keys; edges: ww {}, wr {}, rw {}, \
             process {}, realtime {}; {} cyclic components (largest {}); {:.1} ms",
            s.txns,
            s.ok,
            s.info,
            s.fail,
            s.keys,
            s.edges.ww,
            s.edges.wr,
            s.edges.rw,
            s.edges.process,
            s.edges.realtime,
            s.components,
            s.largest_component,
            s.micros as f64 / 1000.0
        ));
        if !self.counts.is_empty() {
            let found: Vec<String> = self
                .anomaly_types
                .iter()
                .map(|k| format!("{k} ×{}", self.counts[k]))
                .collect();
            out.push(format!("  anomalies: {}", found.join(", ")));
        }
        if !self.not.is_empty() {
            out.push(format!(
                "  not {}{}",
                names(&self.not),
                if self.also_not.is_empty() {
                    String::new()
                } else {
                    format!(" (nor {})", names(&self.also_not))
                }
            ));
        }
        out.push(if self.satisfies.is_empty() {
            "  satisfies none of the models checked".to_owned()
        } else {
            format!(
                "  strongest models not ruled out: {}",
                names(&self.satisfies)
            )
        });
        for u in &self.unknown {
            out.push(format!("  incomplete: {u}"));
        }
        for kind in &self.anomaly_types {
            let shown: Vec<&Anomaly> = self.anomalies.iter().filter(|a| a.kind == *kind).collect();
            for a in &shown {
                out.push(String::new());
                out.extend(a.describe());
            }
            let n = self.counts.get(kind).copied().unwrap_or(0);
            if n > shown.len() {
                out.push(format!("  … and {} more {kind}", n - shown.len()));
            }
        }
        out
    }
}

impl fmt::Display for ElleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in self.describe() {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}
