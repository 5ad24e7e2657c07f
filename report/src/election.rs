//! The election workload's part of the report (issue 18): per mode, the fencing outcome
//! in one plain sentence, and a lane per candidate incarnation showing when it believed
//! it led, overlaid with the fault windows, with the overlaps in red.
//!
//! ```text
//! Results ─► the stale-writes checker's details (checkers::election::ElectionReport)
//!         ─► ReportInput::election ─► html: "Election" section ─► render ─► per mode:
//!              sentence (ModeReport::sentence) + <svg>: lanes of tenures, overlaps red,
//!              faults shaded, time axis
//! ```
//!
//! The intervals are the checker's tenures and overlaps, drawn as they are: the report
//! computes nothing (a tenure's start and end are on the controller's clock, see
//! `checkers::election`). Each bar and overlap carries its interval in ns
//! (`data-start`, `data-end`) beside its position, so tests and scripts can read it.

use std::fmt::{self, Write};

use checkers::check::Results;
use checkers::election::{ElectionReport, ModeReport, Tenure, TenureEnd};

use super::describe::{self, esc};
use super::input::FaultWindow;
use super::timeline::{axis, lane_top, shade_faults, Window, AXIS, LABEL, LANE, TOP, WIDTH};

/// An election run's report: the stale-writes checker's details (`None` for other
/// runs, or when the details do not read as one).
pub fn from_results(results: &Results) -> Option<ElectionReport> {
    results
        .checkers
        .iter()
        .find(|c| c.name == "stale-writes")
        .and_then(|c| serde_json::from_value(c.details.clone()).ok())
}

/// The terminal's table by mode: overlaps, stale writes accepted, writes fenced off,
/// writes accepted, failover p50/p99 and the mode's verdict.
pub fn terminal_table(report: &ElectionReport) -> String {
    let secs =
        |ns: Option<u64>| ns.map_or("-".to_string(), |ns| format!("{:.2} s", ns as f64 / 1e9));
    let mut out = format!(
        "{:<16} {:>8} {:>13} {:>10} {:>9} {:>13} {:>9}  {}\n",
        "election",
        "overlaps",
        "stale writes",
        "fenced off",
        "accepted",
        "failover p50",
        "p99",
        "verdict"
    );
    for m in &report.modes {
        let _ = writeln!(
            out,
            "    {:<12} {:>8} {:>13} {:>10} {:>9} {:>13} {:>9}  {}",
            m.mode.to_string(),
            m.overlaps.len(),
            m.stale_writes.len(),
            m.writes_fenced,
            m.writes_accepted,
            secs(m.failover_percentile(50)),
            secs(m.failover_percentile(99)),
            if m.valid { "VALID" } else { "INVALID" }
        );
    }
    out
}

/// Writes the election section: a heading, a key, and one sentence and lane drawing
/// per mode.
pub fn render(
    out: &mut String,
    report: &ElectionReport,
    faults: &[FaultWindow],
    history_end: u64,
) -> fmt::Result {
    out.push_str("<h2 id=\"election\">Election: who believed they led</h2>");
    out.push_str(
        "<p class=\"note\">One lane per candidate incarnation (a restarted candidate is a \
         new one): <span class=\"key tenure\"></span> believed it led, from its leader report \
         to its step-down (in lease mode no later than its lease); \
         <span class=\"key overlap\"></span> two candidates of one mode believed it at \
         once; <span class=\"key fault\"></span> a fault in force.</p>",
    );
    for m in &report.modes {
        write!(out, "<h3>{}</h3><p>{}</p>", m.mode, esc(&m.sentence()))?;
        lanes(out, m, faults, history_end)?;
    }
    Ok(())
}

/// One lane per incarnation, in candidate then process order.
fn lane_keys(m: &ModeReport) -> Vec<(&str, u64)> {
    let mut keys: Vec<(&str, u64)> = m
        .tenures
        .iter()
        .map(|t| (t.candidate.as_str(), t.process))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn lanes(
    out: &mut String,
    m: &ModeReport,
    faults: &[FaultWindow],
    history_end: u64,
) -> fmt::Result {
    let keys = lane_keys(m);
    if keys.is_empty() {
        out.push_str("<p class=\"note\">No candidate of this mode ever led.</p>");
        return Ok(());
    }
    let end = m.tenures.iter().map(|t| t.end).fold(history_end, u64::max);
    let w = Window { start: 0, end };
    let bottom = TOP + LANE * keys.len() as f64;
    let height = bottom + AXIS;
    write!(
        out,
        r#"<svg class="tl election" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">"#
    )?;
    shade_faults(out, w, faults, history_end, TOP - 12.0, bottom)?;
    let lane_of = |t: &Tenure| {
        keys.iter()
            .position(|k| *k == (t.candidate.as_str(), t.process))
            .expect("every tenure's incarnation has a lane")
    };
    for (i, (candidate, process)) in keys.iter().enumerate() {
        let y = lane_top(out, i)?;
        // The k-th incarnation of a candidate is labelled `c1 #k` from the second on.
        let k = keys[..i].iter().filter(|(c, _)| c == candidate).count() + 1;
        let label = if k == 1 {
            candidate.to_string()
        } else {
            format!("{candidate} #{k}")
        };
        write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}<title>process {process}</title></text>"#,
            LABEL - 6.0,
            y + LANE - 4.0,
            esc(&label)
        )?;
    }
    for t in &m.tenures {
        let y = TOP + LANE * lane_of(t) as f64 + 3.0;
        let (x0, x1) = (w.x(t.start), w.x(t.end));
        let ended = match &t.ended {
            TenureEnd::StepDown { reason } => format!("stepped down: {reason}"),
            TenureEnd::Lease => "its lease ran out by its own clock".into(),
            TenureEnd::LastHeard => "nothing ended it: last heard from".into(),
        };
        write!(
            out,
            r#"<rect class="tenure" data-candidate="{}" data-process="{}" data-start="{}" data-end="{}" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{}"><title>{} (process {}) led with token {} from {} to {} ({ended}); {} writes accepted, {} fenced off</title></rect>"#,
            esc(&t.candidate),
            t.process,
            t.start,
            t.end,
            (x1 - x0).max(1.0),
            LANE - 6.0,
            esc(&t.candidate),
            t.process,
            t.token,
            describe::at(t.start),
            describe::at(t.end),
            t.accepted,
            t.rejected,
        )?;
    }
    for o in &m.overlaps {
        let (x0, x1) = (w.x(o.start), w.x(o.end));
        let in_force = if o.faults.is_empty() {
            "no fault in force".to_string()
        } else {
            format!("in force: {}", o.faults.join(", "))
        };
        for t in [&o.first, &o.second] {
            let y = TOP + LANE * lane_of(t) as f64 + 1.0;
            write!(
                out,
                r#"<rect class="overlap" data-candidate="{}" data-start="{}" data-end="{}" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{}"><title>{} and {} both believed they led from {} to {}; {}</title></rect>"#,
                esc(&t.candidate),
                o.start,
                o.end,
                (x1 - x0).max(1.0),
                LANE - 2.0,
                esc(&o.first.candidate),
                esc(&o.second.candidate),
                describe::at(o.start),
                describe::at(o.end),
                esc(&in_force),
            )?;
        }
    }
    axis(out, w, bottom)?;
    out.push_str("</svg>");
    Ok(())
}
