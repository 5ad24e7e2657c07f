//! A stored run's report input, gathered from its directory and its results.
//!
//! ```text
//! <run dir>/test.json ─────► Summary (name, target, workload, nemesis, seed, command)
//! <run dir>/history.jsonl ─► ops ─► fault windows (checkers::faults::windows)
//! Results (results.json) ──► verdicts with anomalies (anomalies::verdicts)
//!                        ├► availability per fault (computed once, by the checkers)
//!                        ├► leader changes (the split-brain checker's details)
//!                        └► an election run's tenures (the stale-writes checker's details)
//! ```
//!
//! For `faultline test` after checking and `faultline check` on a run directory:
//! [`write_run_report`] writes `report.html`, `latency.svg` and `rate.svg` beside
//! `results.json`. A missing `test.json` or history gives an emptier report, not an
//! error; an unreadable history is an error.

use std::io;
use std::path::Path;

use checkers::split_brain::LeaderChange;

use super::input::{Op, ReportInput, Summary};
use super::{anomalies, write_artifacts};
use checkers::check::Results;
use harness::store::files;

/// Builds the report input of the run in `dir` from its files and its results.
pub fn assemble(dir: &Path, results: &Results) -> io::Result<ReportInput> {
    let test: serde_json::Value = match std::fs::read(dir.join(files::TEST)) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        Err(e) if e.kind() == io::ErrorKind::NotFound => serde_json::Value::Null,
        Err(e) => return Err(with_path(e, &dir.join(files::TEST))),
    };
    let history = dir.join(files::HISTORY);
    let records = match std::fs::read(&history) {
        Ok(bytes) => {
            checkers::format::read(&bytes, Some(checkers::format::Format::Jsonl))
                .map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", history.display()),
                    )
                })?
                .1
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(with_path(e, &history)),
    };
    let ops: Vec<Op> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Op::from_record(r, i as u64))
        .collect();
    let faults = checkers::faults::windows(&records);

    let split_brain = results.checkers.iter().find(|c| c.name == "split-brain");
    let detail = |field: &str| split_brain.and_then(|c| c.details.get(field)).cloned();
    let leader_changes: Vec<LeaderChange> = detail("report")
        .and_then(|r| r.get("leader_changes").cloned())
        .and_then(|l| serde_json::from_value(l).ok())
        .unwrap_or_default();
    let election = crate::election::from_results(results);
    let verdicts = anomalies::verdicts(results, &ops);
    Ok(ReportInput {
        summary: summary(&test, dir),
        verdicts,
        ops,
        faults,
        leader_changes,
        availability: results.availability.clone(),
        election,
    })
}

/// [`assemble`], then writes `report.html`, `latency.svg` and `rate.svg` into `dir`.
pub fn write_run_report(dir: &Path, results: &Results) -> io::Result<()> {
    let input = assemble(dir, results)?;
    write_artifacts(&input, dir)
}

/// The test as `test.json` records it (`faultline test`'s `Test`), read leniently:
/// whatever is missing stays empty.
fn summary(test: &serde_json::Value, dir: &Path) -> Summary {
    let text = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    };
    let options = test.get("options");
    let name = text(options.and_then(|o| o.get("test")).or(test.get("name")));
    let name = if name.is_empty() {
        dir.parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        name
    };
    let mut target = text(test.get("target"));
    let bugs = text(test.get("bugs"));
    if !bugs.is_empty() {
        target.push_str(&format!(" (bugs: {bugs})"));
    }
    let stamp = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Summary {
        name,
        target,
        workload: text(test.get("workload")),
        // The command spells the faults as the user would (`pause:primaries`); the
        // structured field is the fallback for tests stored without one.
        nemesis: test
            .get("command")
            .and_then(|c| c.as_str())
            .and_then(|c| {
                let mut words = c.split(' ');
                words.find(|w| *w == "--nemesis")?;
                words.next().map(str::to_string)
            })
            .unwrap_or_else(|| text(test.get("nemesis"))),
        seed: options
            .and_then(|o| o.get("seed"))
            .or(test.get("seed"))
            .and_then(|s| s.as_u64())
            .unwrap_or(0),
        started: format!("{} UTC", super::serve::display_time(&stamp)),
        repro: text(test.get("command").or(test.get("repro"))),
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_spells_the_nemesis_as_the_command_did() {
        let test = serde_json::json!({
            "target": "raft",
            "workload": "lock",
            "nemesis": [{"pause": null}],
            "bugs": ["lock-no-lease-check"],
            "options": {"test": "raft-lock", "seed": 10},
            "command": "faultline test --target raft --nemesis pause:primaries,kill --seed 10",
        });
        let s = summary(&test, Path::new("/store/raft-lock/20261129T121555"));
        assert_eq!(s.nemesis, "pause:primaries,kill");
        assert_eq!(s.target, "raft (bugs: lock-no-lease-check)");
        assert_eq!(s.seed, 10);
        // Without a command, the stored field as text.
        let old = serde_json::json!({"nemesis": ["partition"]});
        assert_eq!(summary(&old, Path::new("/x/y")).nemesis, "partition");
    }
}
