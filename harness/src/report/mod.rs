//! Reports: the evidence of a run, for people.
//!
//! ```text
//! run dir + Results ──► assemble ──► ReportInput ──► html::render      ──► report.html
//!                                     (plain data) ──► plot::latency_svg ──► latency.svg
//!                                                  ──► plot::rate_svg    ──► rate.svg
//! store/ ──► serve (`faultline serve`): runs newest first, each run's files browsable
//! ```
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
pub mod html;
pub mod input;
pub mod pairs;
pub mod plot;
pub mod serve;
pub mod stats;
pub mod timeline;

pub use assemble::{assemble, write_run_report};
pub use input::{
    validity_str, Anomaly, Availability, CheckerVerdict, FaultWindow, LeaderChange, Op, OpKind,
    Process, ReportInput, Span, Summary, Validity,
};

/// File names of the report's artifacts in a run directory.
pub mod files {
    pub const REPORT: &str = "report.html";
    pub const LATENCY: &str = "latency.svg";
    pub const RATE: &str = "rate.svg";
}

/// Writes `report.html`, `latency.svg` and `rate.svg` into `dir` (a run directory).
pub fn write_artifacts(input: &ReportInput, dir: &std::path::Path) -> std::io::Result<()> {
    html::write(input, &dir.join(files::REPORT))?;
    plot::write_plots(&input.ops, &input.faults, dir)
}
