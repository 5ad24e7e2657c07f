//! Regression summaries across runs (`faultline summary`, the serve page `/summary`):
//! for each test name in a store, over time, the verdict of every run, the anomaly
//! kinds with the runs they were first and last seen in, leader changes, failover times
//! with their trend, and a plainly worded line when something regressed.
//!
//! ```text
//! store/<test>/<stamp>/results.json ──► load() ──► [StoredRun] ──► Summary::build ──► markdown()
//!   (damaged or missing: Incomplete,        (impure: reads)      (pure)           └► html()
//!    and the summary goes on)
//! Results ──► Facts::of (pure): verdict, anomaly kinds, leader changes, failover
//! ```
//!
//! Everything is read from `results.json` as the checkers wrote it: the verdict, each
//! invalid checker's anomalies (the `kind` tag of its report's `anomalies`), the
//! split-brain checker's leader changes, and availability per fault window
//! (`checkers::faults::availability`, computed once, like the report's).
//!
//! **Failover** of a run: over the fault windows in which the cluster had to elect a
//! new leader (`leader_after > 0`), the median time to a new leader and the median time
//! to the first ok write (for targets that report no status: the first ok write over
//! every window). **Regressions** compare a test's newest checked run with the runs
//! before it: an anomaly kind none of them showed ("new since …"), a verdict that got
//! worse, and a failover median more than 1.5 times (and at least 100 ms above) the
//! median of the earlier runs' medians.
//!
//! Pure except [`load`]: no clock (`--since` arrives as a cut-off timestamp), and the
//! same runs always give the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use checkers::check::Results;
use checkers::verdict::Validity;
use harness::store::{files, Store};

use crate::describe::esc;
use crate::serve::display_time;

/// What one checked run shows, from its results.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub valid: Validity,
    /// Each anomaly kind once, in the checkers' order.
    pub anomalies: Vec<AnomalySeen>,
    /// Leader changes the split-brain checker saw (`None`: no status was observed).
    pub leader_changes: Option<usize>,
    pub failover: Failover,
}

/// One kind of anomaly in a run, with its first plain-word example.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnomalySeen {
    /// The checker that found it (`split-brain`, `lock`, `linearizability`, …).
    pub checker: String,
    /// The anomaly's kind as the checker tags it (`two-leaders`), or the checker's
    /// name when its report has no kinds (`linearizability`).
    pub kind: String,
    /// The checker's own words for it, e.g. "two leaders in term 7: n1 … and n3 …".
    pub example: String,
}

impl AnomalySeen {
    /// `split-brain/two-leaders`, or `linearizability` alone.
    pub fn label(&self) -> String {
        if self.kind == self.checker {
            self.checker.clone()
        } else {
            format!("{}/{}", self.checker, self.kind)
        }
    }
}

/// Failover times of one run, ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failover {
    /// Median time to a new leader over the windows that needed one.
    pub leader_p50: Option<u64>,
    /// Median time to the first ok write over the same windows.
    pub write_p50: Option<u64>,
    /// The longest time to a new leader (or, without status, to the first write).
    pub worst: Option<u64>,
    /// How many windows the medians are over.
    pub windows: usize,
}

impl Facts {
    /// Reads a run's results.
    pub fn of(results: &Results) -> Facts {
        let mut anomalies: Vec<AnomalySeen> = Vec::new();
        for c in results
            .checkers
            .iter()
            .filter(|c| c.valid == Validity::Invalid)
        {
            let mut kinds = Vec::new();
            anomaly_kinds(&c.details, 0, &mut kinds);
            if kinds.is_empty() {
                kinds.push(c.name.clone());
            }
            for kind in kinds {
                if anomalies
                    .iter()
                    .any(|a| a.checker == c.name && a.kind == kind)
                {
                    continue;
                }
                let words = kind.replace('-', " ");
                let example = c
                    .summary
                    .iter()
                    .find(|l| l.contains(&words))
                    .or_else(|| c.summary.first())
                    .cloned()
                    .unwrap_or_default();
                anomalies.push(AnomalySeen {
                    checker: c.name.clone(),
                    kind,
                    example,
                });
            }
        }
        let leader_changes = results
            .checkers
            .iter()
            .find(|c| c.name == "split-brain")
            .and_then(|c| c.details.get("report")?.get("leader_changes")?.as_array())
            .map(Vec::len);
        Facts {
            valid: results.valid,
            anomalies,
            leader_changes,
            failover: failover(results),
        }
    }
}

/// The `kind` tags of the `anomalies` arrays in a checker's details (its report, or
/// its report under `report`).
fn anomaly_kinds(details: &serde_json::Value, depth: u8, out: &mut Vec<String>) {
    let Some(map) = details.as_object() else {
        return;
    };
    if let Some(list) = map.get("anomalies").and_then(|a| a.as_array()) {
        for a in list {
            if let Some(kind) = a.get("kind").and_then(|k| k.as_str()) {
                if !out.iter().any(|k| k == kind) {
                    out.push(kind.to_string());
                }
            }
        }
    }
    if depth == 0 {
        if let Some(report) = map.get("report") {
            anomaly_kinds(report, 1, out);
        }
    }
}

fn failover(results: &Results) -> Failover {
    let a = &results.availability;
    let lost: Vec<_> = a
        .iter()
        .filter(|w| w.leader_after.is_some_and(|t| t > 0))
        .collect();
    if a.iter().any(|w| w.leader_after.is_some()) {
        let leader: Vec<u64> = lost.iter().filter_map(|w| w.leader_after).collect();
        let write: Vec<u64> = lost.iter().filter_map(|w| w.first_ok_write_after).collect();
        Failover {
            leader_p50: median(leader.clone()),
            write_p50: median(write),
            worst: leader.iter().copied().max(),
            windows: lost.len(),
        }
    } else {
        // No status: the first ok write after each fault is all there is.
        let write: Vec<u64> = a.iter().filter_map(|w| w.first_ok_write_after).collect();
        Failover {
            leader_p50: None,
            write_p50: median(write.clone()),
            worst: write.iter().copied().max(),
            windows: write.len(),
        }
    }
}

/// The lower median.
fn median(mut v: Vec<u64>) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[(v.len() - 1) / 2])
}

/// One run directory of a store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub test: String,
    /// The run directory's name: `YYYYmmddTHHMMSS`, maybe with a `-N` suffix.
    pub stamp: String,
    pub dir: PathBuf,
    pub state: RunState,
}

/// Whether a run got as far as a verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    Checked(Facts),
    /// No readable `results.json` (a controller killed before checking, a damaged
    /// file); the text says which.
    Incomplete(String),
}

/// Reads every run of the store at `root` whose stamp is at or after `since` (a
/// [`harness::store::timestamp`]); a run without a readable `results.json` is
/// [`RunState::Incomplete`], never an error. Only a store that cannot be listed is.
pub fn load(root: &Path, since: Option<&str>) -> io::Result<Vec<StoredRun>> {
    let mut runs = Vec::new();
    for entry in Store::new(root).runs()? {
        if since.is_some_and(|s| entry.timestamp.as_str() < s) {
            continue;
        }
        let path = entry.path.join(files::RESULTS);
        let state = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Results>(&bytes) {
                Ok(results) => RunState::Checked(Facts::of(&results)),
                Err(e) => RunState::Incomplete(format!("{}: {e}", files::RESULTS)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => RunState::Incomplete(format!(
                "no {} (the run ended before it was checked)",
                files::RESULTS
            )),
            Err(e) => RunState::Incomplete(format!("{}: {e}", files::RESULTS)),
        };
        runs.push(StoredRun {
            test: entry.test,
            stamp: entry.timestamp,
            dir: entry.path,
            state,
        });
    }
    Ok(runs)
}

/// `--since`: how far back to look.
pub fn parse_since(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "--since {text:?}: not a duration; accepted forms are <N>m, <N>h, <N>d or <N>w \
             (minutes, hours, days, weeks; N a whole number above 0), e.g. 90m, 12h, 7d, 2w"
        )
    };
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: u64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let secs = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(bad());
    }
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(bad)
}

/// Every test of a store, oldest run first within each.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub tests: Vec<TestSummary>,
    /// What the summary covers, in words ("store `store`, since 7d").
    pub scope: String,
}

/// One test name over time.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSummary {
    pub name: String,
    pub runs: Vec<StoredRun>,
    pub anomalies: Vec<KindHistory>,
    /// Plainly worded; never empty ("no regression …" when nothing regressed).
    pub regressions: Vec<String>,
    /// Whether any line of `regressions` is one.
    pub regressed: bool,
}

/// An anomaly kind across a test's runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindHistory {
    pub seen: AnomalySeen,
    /// Stamps of the first and last runs that showed it.
    pub first: String,
    pub last: String,
    pub runs: usize,
}

impl Summary {
    /// Groups runs by test and finds each test's regressions.
    pub fn build(runs: Vec<StoredRun>, scope: impl Into<String>) -> Summary {
        let mut by_test: BTreeMap<String, Vec<StoredRun>> = BTreeMap::new();
        for r in runs {
            by_test.entry(r.test.clone()).or_default().push(r);
        }
        let tests = by_test
            .into_iter()
            .map(|(name, mut runs)| {
                runs.sort_by(|a, b| a.stamp.cmp(&b.stamp));
                let anomalies = kind_history(&runs);
                let (regressions, regressed) = regressions(&runs);
                TestSummary {
                    name,
                    runs,
                    anomalies,
                    regressions,
                    regressed,
                }
            })
            .collect();
        Summary {
            tests,
            scope: scope.into(),
        }
    }

    /// How many runs, and how many of them incomplete.
    pub fn counts(&self) -> (usize, usize) {
        let runs = self.tests.iter().map(|t| t.runs.len()).sum();
        let incomplete = self
            .tests
            .iter()
            .flat_map(|t| &t.runs)
            .filter(|r| matches!(r.state, RunState::Incomplete(_)))
            .count();
        (runs, incomplete)
    }
}

fn kind_history(runs: &[StoredRun]) -> Vec<KindHistory> {
    let mut out: Vec<KindHistory> = Vec::new();
    for run in runs {
        let RunState::Checked(facts) = &run.state else {
            continue;
        };
        for a in &facts.anomalies {
            match out
                .iter_mut()
                .find(|k| k.seen.checker == a.checker && k.seen.kind == a.kind)
            {
                Some(k) => {
                    k.last = run.stamp.clone();
                    k.runs += 1;
                }
                None => out.push(KindHistory {
                    seen: a.clone(),
                    first: run.stamp.clone(),
                    last: run.stamp.clone(),
                    runs: 1,
                }),
            }
        }
    }
    out
}

/// A slower failover: above 1.5 times the baseline and at least this much above it.
const SLOWER_BY: u64 = 100_000_000;

fn regressions(runs: &[StoredRun]) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut regressed = false;
    if let Some(last) = runs.last() {
        if let RunState::Incomplete(why) = &last.state {
            lines.push(format!(
                "the latest run ({}) is incomplete: {why}",
                display_time(&last.stamp)
            ));
        }
    }
    let checked: Vec<(&StoredRun, &Facts)> = runs
        .iter()
        .filter_map(|r| match &r.state {
            RunState::Checked(f) => Some((r, f)),
            RunState::Incomplete(_) => None,
        })
        .collect();
    let Some(((latest_run, latest), earlier)) = checked.split_last() else {
        lines.push("no checked run yet".into());
        return (lines, regressed);
    };
    let Some((prev_run, prev)) = earlier.last() else {
        lines.push(format!(
            "one checked run ({}): nothing to compare with yet",
            display_time(&latest_run.stamp)
        ));
        return (lines, regressed);
    };
    let since = display_time(&prev_run.stamp);
    for a in &latest.anomalies {
        let seen_before = earlier.iter().any(|(_, f)| {
            f.anomalies
                .iter()
                .any(|b| b.checker == a.checker && b.kind == a.kind)
        });
        if !seen_before {
            regressed = true;
            lines.push(format!("new since {since}: {}, {}", a.checker, a.example));
        }
    }
    let rank = |v: Validity| match v {
        Validity::Valid => 0,
        Validity::Unknown => 1,
        Validity::Invalid => 2,
    };
    if rank(latest.valid) > rank(prev.valid) && latest.anomalies.is_empty() {
        regressed = true;
        lines.push(format!(
            "verdict {} → {} since {since}",
            word(prev.valid),
            word(latest.valid)
        ));
    }
    let trends = [
        (
            "failover p50",
            "time to a new leader",
            latest.failover.leader_p50,
            earlier
                .iter()
                .filter_map(|(_, f)| f.failover.leader_p50)
                .collect::<Vec<_>>(),
        ),
        (
            "first write p50",
            "time to the first ok write after a fault",
            latest.failover.write_p50,
            earlier
                .iter()
                .filter_map(|(_, f)| f.failover.write_p50)
                .collect(),
        ),
    ];
    for (name, what, now, before) in trends {
        let (Some(now), Some(base)) = (now, median(before)) else {
            continue;
        };
        if now.saturating_mul(2) > base.saturating_mul(3) && now >= base + SLOWER_BY {
            regressed = true;
            lines.push(format!("{name} {} → {} ({what})", ms(base), ms(now)));
        }
    }
    let gone: Vec<String> = prev
        .anomalies
        .iter()
        .filter(|a| {
            !latest
                .anomalies
                .iter()
                .any(|b| b.checker == a.checker && b.kind == a.kind)
        })
        .map(AnomalySeen::label)
        .collect();
    if !gone.is_empty() {
        lines.push(format!(
            "no longer seen in the latest run: {}",
            gone.join(", ")
        ));
    }
    if !regressed {
        lines.insert(
            0,
            format!(
                "no regression: the latest run ({}) is {} and no slower than the {} before it",
                display_time(&latest_run.stamp),
                word(latest.valid),
                earlier.len()
            ),
        );
    }
    (lines, regressed)
}

fn word(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "invalid",
        Validity::Unknown => "unknown",
    }
}

/// A duration for people: "340 ms", "1.25 s".
pub fn ms(ns: u64) -> String {
    if ns < 1_000_000_000 {
        format!("{} ms", (ns + 500_000) / 1_000_000)
    } else {
        format!("{:.2} s", ns as f64 / 1e9)
    }
}

fn opt_ms(v: Option<u64>) -> String {
    v.map_or_else(|| "–".to_string(), ms)
}

fn kinds(facts: &Facts) -> String {
    if facts.anomalies.is_empty() {
        "–".into()
    } else {
        facts
            .anomalies
            .iter()
            .map(AnomalySeen::label)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Markdown, for a CI job summary (`$GITHUB_STEP_SUMMARY`).
pub fn markdown(s: &Summary) -> String {
    let cell = |t: &str| t.replace('|', "\\|").replace('\n', " ");
    let (runs, incomplete) = s.counts();
    let mut out = format!(
        "# faultline summary\n\n{}: {runs} runs of {} tests, {incomplete} incomplete.\n",
        s.scope,
        s.tests.len()
    );
    if s.tests.is_empty() {
        out.push_str("\nNo runs.\n");
    }
    for t in &s.tests {
        let _ = write!(out, "\n## {}\n\n", t.name);
        for line in &t.regressions {
            let mark = if t.regressed && !line.starts_with("no longer") {
                "**regression:** "
            } else {
                ""
            };
            let _ = writeln!(out, "- {mark}{}", cell(line));
        }
        out.push_str(
            "\n| run (UTC) | verdict | anomalies | leader changes | failover p50 | first write p50 | worst failover |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for r in &t.runs {
            let when = display_time(&r.stamp);
            match &r.state {
                RunState::Checked(f) => {
                    let _ = writeln!(
                        out,
                        "| {when} | {} | {} | {} | {} | {} | {} |",
                        word(f.valid),
                        cell(&kinds(f)),
                        f.leader_changes.map_or("–".into(), |n| n.to_string()),
                        opt_ms(f.failover.leader_p50),
                        opt_ms(f.failover.write_p50),
                        opt_ms(f.failover.worst),
                    );
                }
                RunState::Incomplete(why) => {
                    let _ = writeln!(out, "| {when} | incomplete: {} | | | | | |", cell(why));
                }
            }
        }
        if !t.anomalies.is_empty() {
            out.push_str(
                "\n| anomaly | first seen | last seen | runs | example |\n|---|---|---|---|---|\n",
            );
            for k in &t.anomalies {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    cell(&k.seen.label()),
                    display_time(&k.first),
                    display_time(&k.last),
                    k.runs,
                    cell(&k.seen.example)
                );
            }
        }
    }
    out
}

/// A standalone HTML page (no scripts, nothing fetched), with a small SVG trend chart
/// of failover times per test.
pub fn html(s: &Summary) -> String {
    let (runs, incomplete) = s.counts();
    let mut body = format!(
        "<p>{}: {runs} runs of {} tests, {incomplete} incomplete. <a href=\"/\">all runs</a></p>",
        esc(&s.scope),
        s.tests.len()
    );
    if s.tests.is_empty() {
        body.push_str("<p>No runs.</p>");
    }
    for t in &s.tests {
        let _ = write!(
            body,
            "<section><h2>{}</h2><ul class=\"{}\">",
            esc(&t.name),
            if t.regressed { "regressed" } else { "steady" }
        );
        for line in &t.regressions {
            let _ = write!(body, "<li>{}</li>", esc(line));
        }
        body.push_str("</ul>");
        body.push_str(&trend_svg(t));
        body.push_str(
            "<table><tr><th>run (UTC)</th><th>verdict</th><th>anomalies</th><th>leader changes</th>\
             <th>failover p50</th><th>first write p50</th><th>worst failover</th></tr>",
        );
        for r in &t.runs {
            let when = esc(&display_time(&r.stamp)).into_owned();
            match &r.state {
                RunState::Checked(f) => {
                    let _ = write!(
                        body,
                        "<tr><td>{when}</td><td><span class=\"v {v}\">{v}</span></td><td>{}</td>\
                         <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&kinds(f)),
                        f.leader_changes.map_or("–".into(), |n| n.to_string()),
                        opt_ms(f.failover.leader_p50),
                        opt_ms(f.failover.write_p50),
                        opt_ms(f.failover.worst),
                        v = word(f.valid),
                    );
                }
                RunState::Incomplete(why) => {
                    let _ = write!(
                        body,
                        "<tr><td>{when}</td><td><span class=\"v incomplete\">incomplete</span></td>\
                         <td colspan=\"5\">{}</td></tr>",
                        esc(why)
                    );
                }
            }
        }
        body.push_str("</table>");
        if !t.anomalies.is_empty() {
            body.push_str(
                "<table><tr><th>anomaly</th><th>first seen</th><th>last seen</th><th>runs</th><th>example</th></tr>",
            );
            for k in &t.anomalies {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&k.seen.label()),
                    esc(&display_time(&k.first)),
                    esc(&display_time(&k.last)),
                    k.runs,
                    esc(&k.seen.example)
                );
            }
            body.push_str("</table>");
        }
        body.push_str("</section>");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>faultline summary</title>\
         <style>{CSS}</style></head><body><h1>faultline summary</h1>{body}</body></html>\n"
    )
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}\
.v{padding:1px 8px;border-radius:3px;color:#fff;font-weight:600}\
.v.valid{background:#2e7d32}.v.invalid{background:#c62828}.v.unknown{background:#f9a825;color:#222}\
.v.incomplete{background:#757575}ul.regressed li{color:#b71c1c;font-weight:600}\
ul.steady li{color:#2e7d32}svg{display:block;margin:.3em 0}section{margin-bottom:2em}";

/// Failover p50 (time to a leader, blue) and first-write p50 (orange) per checked run,
/// oldest left; a dot per run, its value in a tooltip. Empty when no run has either.
fn trend_svg(t: &TestSummary) -> String {
    let points: Vec<(usize, &str, Option<u64>, Option<u64>)> = t
        .runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match &r.state {
            RunState::Checked(f) => Some((
                i,
                r.stamp.as_str(),
                f.failover.leader_p50,
                f.failover.write_p50,
            )),
            RunState::Incomplete(_) => None,
        })
        .collect();
    let max = points
        .iter()
        .flat_map(|p| [p.2, p.3])
        .flatten()
        .max()
        .unwrap_or(0);
    if max == 0 {
        return String::new();
    }
    let (w, h, pad) = (360.0, 90.0, 14.0);
    let n = t.runs.len().max(2) - 1;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / n as f64;
    let y = |v: u64| h - pad - (h - 2.0 * pad) * v as f64 / max as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         role=\"img\" aria-label=\"failover trend\"><rect width=\"{w}\" height=\"{h}\" fill=\"#fafafa\" stroke=\"#ddd\"/>\
         <text x=\"{pad}\" y=\"11\" font-size=\"10\" fill=\"#555\">max {}: failover p50 (blue), first write p50 (orange)</text>",
        ms(max)
    );
    for (series, colour) in [(2usize, "#1565c0"), (3, "#ef6c00")] {
        let pts: Vec<(usize, &str, u64)> = points
            .iter()
            .filter_map(|p| {
                let v = if series == 2 { p.2 } else { p.3 };
                v.map(|v| (p.0, p.1, v))
            })
            .collect();
        if pts.len() > 1 {
            let line: Vec<String> = pts
                .iter()
                .map(|(i, _, v)| format!("{:.1},{:.1}", x(*i), y(*v)))
                .collect();
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                line.join(" ")
            );
        }
        for (i, stamp, v) in pts {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{}: {}</title></circle>",
                x(i),
                y(v),
                esc(&display_time(stamp)),
                ms(v)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::check::CheckerResult;
    use checkers::faults::Availability;

    const MS: u64 = 1_000_000;

    fn window(leader: Option<u64>, write: Option<u64>) -> Availability {
        Availability {
            fault: "kill [n1]".into(),
            start: 0,
            end: Some(1000 * MS),
            first_ok_write_after: write,
            leader_after: leader,
            error_rate: None,
            recovered_after_heal: None,
        }
    }

    fn checked(stamp: &str, facts: Facts) -> StoredRun {
        StoredRun {
            test: "t".into(),
            stamp: stamp.into(),
            dir: PathBuf::from(stamp),
            state: RunState::Checked(facts),
        }
    }

    fn facts(valid: Validity, leader_p50: Option<u64>) -> Facts {
        Facts {
            valid,
            anomalies: Vec::new(),
            leader_changes: Some(2),
            failover: Failover {
                leader_p50,
                write_p50: None,
                worst: leader_p50,
                windows: 1,
            },
        }
    }

    #[test]
    fn failover_counts_only_the_windows_that_lost_their_leader() {
        let mut r = Results::new(vec![]);
        r.availability = vec![
            window(Some(0), Some(5 * MS)),
            window(Some(300 * MS), Some(320 * MS)),
            window(Some(900 * MS), Some(950 * MS)),
            window(Some(400 * MS), Some(410 * MS)),
        ];
        let f = Facts::of(&r).failover;
        assert_eq!(f.leader_p50, Some(400 * MS));
        assert_eq!(f.write_p50, Some(410 * MS));
        assert_eq!(f.worst, Some(900 * MS));
        assert_eq!(f.windows, 3);
        // Without status: first writes over every window.
        r.availability = vec![window(None, Some(5 * MS)), window(None, Some(700 * MS))];
        let f = Facts::of(&r).failover;
        assert_eq!(
            (f.leader_p50, f.write_p50, f.worst),
            (None, Some(5 * MS), Some(700 * MS))
        );
    }

    #[test]
    fn anomaly_kinds_come_from_the_checkers_reports() {
        let split = CheckerResult::new(
            "split-brain",
            Validity::Invalid,
            vec![
                "n1 went back from term 4 to term 3 at 2.0 s (its term was not durable)".into(),
                "two leaders in term 7: n1 (seen leading at 1.0 s) and n3 (seen leading at 1.1 s)"
                    .into(),
            ],
        )
        .with_details(&serde_json::json!({"report": {
            "anomalies": [{"kind": "two-leaders"}, {"kind": "term-went-back"}, {"kind": "two-leaders"}],
            "leader_changes": [{}, {}, {}],
        }}));
        let lin = CheckerResult::new(
            "linearizability",
            Validity::Invalid,
            vec!["key 3: …".into()],
        );
        let ok = CheckerResult::new("liveness", Validity::Valid, vec![]);
        let f = Facts::of(&Results::new(vec![split, lin, ok]));
        let labels: Vec<String> = f.anomalies.iter().map(AnomalySeen::label).collect();
        assert_eq!(
            labels,
            [
                "split-brain/two-leaders",
                "split-brain/term-went-back",
                "linearizability"
            ]
        );
        assert!(f.anomalies[0].example.starts_with("two leaders in term 7"));
        assert!(f.anomalies[1].example.starts_with("n1 went back"));
        assert_eq!(f.leader_changes, Some(3));
        assert_eq!(f.valid, Validity::Invalid);
    }

    #[test]
    fn a_slower_failover_is_a_regression_and_noise_is_not() {
        let runs = |last: u64| {
            vec![
                checked("20261128T010000", facts(Validity::Valid, Some(340 * MS))),
                checked("20261129T010000", facts(Validity::Valid, Some(360 * MS))),
                checked("20261130T010000", facts(Validity::Valid, Some(last))),
            ]
        };
        let s = Summary::build(runs(910 * MS), "store");
        assert!(s.tests[0].regressed);
        assert!(
            s.tests[0]
                .regressions
                .contains(&"failover p50 340 ms → 910 ms (time to a new leader)".to_string()),
            "{:?}",
            s.tests[0].regressions
        );
        // 1.3 times slower: not a regression.
        let s = Summary::build(runs(450 * MS), "store");
        assert!(!s.tests[0].regressed, "{:?}", s.tests[0].regressions);
        assert!(s.tests[0].regressions[0].starts_with("no regression"));
        // Twice as slow but only 60 ms: not either.
        let small = vec![
            checked("20261128T010000", facts(Validity::Valid, Some(60 * MS))),
            checked("20261130T010000", facts(Validity::Valid, Some(120 * MS))),
        ];
        assert!(!Summary::build(small, "store").tests[0].regressed);
    }

    #[test]
    fn an_incomplete_latest_run_is_said_and_the_checked_ones_still_compared() {
        let mut worse = facts(Validity::Unknown, Some(300 * MS));
        worse.failover.leader_p50 = Some(300 * MS);
        let runs = vec![
            checked("20261128T010000", facts(Validity::Valid, Some(300 * MS))),
            checked("20261129T010000", worse),
            StoredRun {
                test: "t".into(),
                stamp: "20261130T010000".into(),
                dir: PathBuf::from("x"),
                state: RunState::Incomplete("no results.json".into()),
            },
        ];
        let s = Summary::build(runs, "store");
        let lines = &s.tests[0].regressions;
        assert_eq!(
            lines[0],
            "the latest run (2026-11-30 01:00:00) is incomplete: no results.json"
        );
        assert!(
            lines.contains(&"verdict valid → unknown since 2026-11-28 01:00:00".to_string()),
            "{lines:?}"
        );
        assert_eq!(s.counts(), (3, 1));
    }

    #[test]
    fn since_accepts_minutes_to_weeks_and_names_the_forms_otherwise() {
        assert_eq!(parse_since("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_since("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_since("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_since("2w"), Ok(Duration::from_secs(1_209_600)));
        for bad in ["", "7", "d", "0d", "-1d", "7 d", "7days", "1.5d", "7x", "ß"] {
            let e = parse_since(bad).expect_err(bad);
            assert!(e.contains("<N>m, <N>h, <N>d or <N>w"), "{e}");
        }
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        let mut f = facts(Validity::Invalid, None);
        f.anomalies.push(AnomalySeen {
            checker: "lock".into(),
            kind: "mutual-exclusion".into(),
            example: "a | b\nc".into(),
        });
        let md = markdown(&Summary::build(vec![checked("20261130T010000", f)], "s"));
        assert!(md.contains("a \\| b c"), "{md}");
    }
}
