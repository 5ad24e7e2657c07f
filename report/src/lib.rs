//! Reports: the evidence of a run, for people and CI.
//!
//! ```text
//! harness::run ──► results.json ──► RunArtifacts (harness::run::Artifacts):
//!   Results ──► results::junit ──► junit.xml
//!   run dir + Results ──► assemble ──► ReportInput ──► html::render      ──► report.html
//!                                       (plain data) ──► plot::latency_svg ──► latency.svg
//!                                                    ──► plot::rate_svg    ──► rate.svg
//!                                                    ──► elle::write_files ──► elle/<kind>.txt, elle/<kind>/<n>.svg
//!   (an election run's lanes: election::render, inside report.html)
//! Results ──► results::render_text ──► the terminal summary
//! store/ ──► serve (`faultline serve`): runs newest first, each run's files browsable
//! ```
//!
//! This crate sits beside the engine, not in it: it depends on `harness` (the store
//! layout) and `checkers` (results, fault windows, availability), and `harness` never
//! depends on it, so a user of the engine alone pulls in no web server, plotting or
//! XML library. The engine reaches it through one seam, [`harness::run::Artifacts`],
//! which [`RunArtifacts`] implements and the binary puts in every run's plan.
//!
//! Nothing here computes a verdict or availability: both come in the `Results` the
//! checkers produced (`checkers::faults::availability` is the one place availability is
//! computed), so `results.json` and `report.html` cannot disagree.
//!
//! Everything here except [`serve`] and [`mod@assemble`] (which read files) is pure: a [`ReportInput`] in, bytes out, the same
//! bytes for the same input. The input carries the verdicts (with the indices of the
//! operations behind each anomaly), the history flattened for display, the fault
//! windows, the leader changes and the availability per fault; counts and latency
//! percentiles are derived from the history ([`stats`]).
//!
//! Invariants: every text from the input is HTML-escaped; `report.html` is a single
//! file that fetches nothing; its size is bounded whatever the history's length
//! (see [`html::Limits`]).
//!
//! References: Jepsen's `jepsen.checker.timeline` (per-process lanes of op bars) and
//! `jepsen.checker.perf` (latency and rate graphs with nemesis regions shaded).

pub mod anomalies;
pub mod assemble;
pub mod describe;
pub mod election;
pub mod elle;
pub mod html;
pub mod input;
pub mod pairs;
pub mod plot;
pub mod results;
pub mod serve;
pub mod stats;
pub mod summary;
pub mod timeline;
pub mod torture;

pub use assemble::{assemble, write_run_report};
pub use input::{
    validity_str, Anomaly, Availability, CheckerVerdict, Cycle, CycleEdge, CycleNode, FaultWindow,
    LeaderChange, Op, OpKind, Process, ReportInput, Span, Summary, Validity,
};

/// File names of the report's artifacts in a run directory.
pub mod files {
    pub const REPORT: &str = "report.html";
    pub const LATENCY: &str = "latency.svg";
    pub const RATE: &str = "rate.svg";
}

/// Writes `report.html`, `latency.svg` and `rate.svg` into `dir` (a run directory),
/// and the list-append checker's per-anomaly files under `elle/` ([`elle::write_files`]).
pub fn write_artifacts(input: &ReportInput, dir: &std::path::Path) -> std::io::Result<()> {
    html::write(input, &dir.join(files::REPORT))?;
    plot::write_plots(&input.ops, &input.faults, dir)?;
    elle::write_files(input, dir)
}

/// The engine's [`harness::run::Artifacts`] seam, implemented: `junit.xml`, then
/// `report.html` with its plots. Both are attempted; the first error is returned.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunArtifacts;

impl harness::run::Artifacts for RunArtifacts {
    fn write(
        &self,
        dir: &harness::store::RunDir,
        suite: &str,
        results: &checkers::check::Results,
    ) -> std::io::Result<()> {
        let junit = dir.write_atomic(
            harness::store::files::JUNIT,
            results::junit(results, suite).as_bytes(),
        );
        let report = write_run_report(dir.path(), results);
        junit.and(report)
    }
}

/// [`RunArtifacts`] as the engine's plans hold it.
pub fn run_artifacts() -> std::sync::Arc<dyn harness::run::Artifacts> {
    std::sync::Arc::new(RunArtifacts)
}
