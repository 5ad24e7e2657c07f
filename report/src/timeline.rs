//! Inline SVG drawings for the HTML report: a per-process timeline of calls (bars
//! from invocation to completion) and a whole-run overview (per-bucket counts).
//! Both shade fault windows and mark leader changes. Colours come from CSS classes
//! defined once in the page (`ok`, `fail`, `info`, `open`, `ext`, `hl`, `fault`,
//! `leader`), which keeps each element small.

use std::collections::BTreeSet;
use std::fmt::{self, Write};

use super::describe::{self, esc};
use super::input::{FaultWindow, LeaderChange, Process};
use super::pairs::{Call, Outcome};

pub(crate) const WIDTH: f64 = 1100.0;
pub(crate) const LABEL: f64 = 90.0;
pub(crate) const PLOT: f64 = WIDTH - LABEL - 10.0;
pub(crate) const TOP: f64 = 30.0;
pub(crate) const LANE: f64 = 16.0;
pub(crate) const AXIS: f64 = 22.0;

/// A time window, ns since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub end: u64,
}

impl Window {
    pub(crate) fn x(&self, t: u64) -> f64 {
        let span = self.end.saturating_sub(self.start).max(1) as f64;
        let t = t.clamp(self.start, self.end);
        LABEL + (t - self.start) as f64 / span * PLOT
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        start <= self.end && end >= self.start
    }
}

/// What one timeline shows.
pub struct Timeline<'c, 'a> {
    pub window: Window,
    /// Lanes, top to bottom.
    pub lanes: Vec<Process>,
    /// Calls to draw (those on no lane are skipped).
    pub calls: Vec<&'c Call<'a>>,
    /// First indices ([`Call::index`]) of the calls to outline.
    pub highlight: BTreeSet<u64>,
    /// Where the history ends: faults never healed are shaded up to here.
    pub history_end: u64,
}

impl Timeline<'_, '_> {
    /// Writes the `<svg>` element.
    pub fn render(
        &self,
        out: &mut String,
        faults: &[FaultWindow],
        leaders: &[LeaderChange],
    ) -> fmt::Result {
        let w = self.window;
        let height = TOP + LANE * self.lanes.len() as f64 + AXIS;
        let bottom = TOP + LANE * self.lanes.len() as f64;
        write!(
            out,
            r#"<svg class="tl" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">"#
        )?;
        shade_faults(out, w, faults, self.history_end, TOP - 12.0, bottom)?;
        for (i, lane) in self.lanes.iter().enumerate() {
            let y = lane_top(out, i)?;
            let label = match lane {
                Process::Client(p) => format!("p{p}"),
                Process::Nemesis => "nemesis".into(),
            };
            write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LABEL - 6.0,
                y + LANE - 4.0,
                label
            )?;
        }
        for c in &self.calls {
            let Ok(lane) = self.lanes.binary_search_by(|l| lane_order(l, &c.process)) else {
                continue;
            };
            self.bar(out, c, TOP + LANE * lane as f64)?;
        }
        mark_leaders(out, w, leaders, TOP - 12.0, bottom)?;
        axis(out, w, bottom)?;
        out.push_str("</svg>");
        Ok(())
    }

    fn bar(&self, out: &mut String, c: &Call<'_>, lane_y: f64) -> fmt::Result {
        let w = self.window;
        let start = c.start();
        let x0 = w.x(start);
        let y = lane_y + 3.0;
        let h = LANE - 6.0;
        let title = describe::call(c);
        let hl = if self.highlight.contains(&c.index()) {
            " hl"
        } else {
            ""
        };
        // Nemesis calls are drawn in their own colour: their `info` is how a
        // nemesis reports what it did, not an unknown outcome.
        let class = if c.process == Process::Nemesis {
            "nem"
        } else {
            c.outcome.as_str()
        };
        let solid_end = c.end().unwrap_or(start);
        let x1 = w.x(solid_end).max(x0 + 1.0);
        write!(
            out,
            r#"<rect class="{class}{hl}" x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{h}"><title>{}</title></rect>"#,
            x1 - x0,
            esc(&title)
        )?;
        // Indeterminate and never-completed calls may take effect at any later time:
        // their bars run on, faded, to the end of the window.
        let open_ended = match c.process {
            Process::Nemesis => c.outcome == Outcome::Open,
            Process::Client(_) => matches!(c.outcome, Outcome::Info | Outcome::Open),
        };
        if open_ended && x1 < w.x(w.end) {
            write!(
                out,
                r#"<rect class="{} ext" x="{x1:.1}" y="{y:.1}" width="{:.1}" height="{h}"/>"#,
                c.outcome.as_str(),
                w.x(w.end) - x1
            )?;
        }
        Ok(())
    }
}

/// The top of lane `i`, after drawing its background band (every other lane is banded,
/// so long lanes stay readable).
pub fn lane_top(out: &mut String, i: usize) -> Result<f64, fmt::Error> {
    let y = TOP + LANE * i as f64;
    if i % 2 == 1 {
        write!(
            out,
            r#"<rect class="band" x="{LABEL}" y="{y}" width="{PLOT}" height="{LANE}"/>"#
        )?;
    }
    Ok(y)
}

/// Lanes are ordered nemesis first, then clients by id.
pub fn lane_order(a: &Process, b: &Process) -> std::cmp::Ordering {
    let key = |p: &Process| match p {
        Process::Nemesis => (0, 0),
        Process::Client(c) => (1, *c),
    };
    key(a).cmp(&key(b))
}

pub(crate) fn shade_faults(
    out: &mut String,
    w: Window,
    faults: &[FaultWindow],
    history_end: u64,
    top: f64,
    bottom: f64,
) -> fmt::Result {
    for f in faults {
        let end = f.end.unwrap_or(history_end.max(f.start));
        if !w.overlaps(f.start, end) {
            continue;
        }
        let (x0, x1) = (w.x(f.start), w.x(end));
        let healed = match f.end {
            Some(e) => format!("healed at {}", describe::at(e)),
            None => "never healed".into(),
        };
        write!(
            out,
            r#"<g class="fault"><rect x="{x0:.1}" y="{top:.1}" width="{:.1}" height="{:.1}"/><text x="{:.1}" y="{:.1}">{}</text><title>{} from {}, {healed}</title></g>"#,
            (x1 - x0).max(1.0),
            bottom - top,
            x0 + 2.0,
            top + 9.0,
            esc(&describe::clip(&f.fault, 40)),
            esc(&f.fault),
            describe::at(f.start),
        )?;
    }
    Ok(())
}

fn mark_leaders(
    out: &mut String,
    w: Window,
    leaders: &[LeaderChange],
    top: f64,
    bottom: f64,
) -> fmt::Result {
    for l in leaders.iter().filter(|l| w.overlaps(l.time, l.time)) {
        let x = w.x(l.time);
        write!(
            out,
            r#"<g class="leader"><line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}"/><text x="{:.1}" y="{:.1}">{} t{}</text><title>{} became leader of term {} at {}</title></g>"#,
            x + 2.0,
            top - 2.0,
            esc(&describe::clip(&l.node, 12)),
            l.term,
            esc(&l.node),
            l.term,
            describe::at(l.time)
        )?;
    }
    Ok(())
}

pub(crate) fn axis(out: &mut String, w: Window, y: f64) -> fmt::Result {
    let span = w.end.saturating_sub(w.start).max(1);
    let step = tick_step(span);
    let digits = if step >= 1_000_000_000 {
        0
    } else if step >= 100_000_000 {
        1
    } else if step >= 10_000_000 {
        2
    } else {
        3
    };
    write!(
        out,
        r#"<line class="axis" x1="{LABEL}" y1="{y}" x2="{}" y2="{y}"/>"#,
        LABEL + PLOT
    )?;
    let mut t = w.start.div_ceil(step) * step;
    while t <= w.end {
        let x = w.x(t);
        write!(
            out,
            r#"<line class="axis" x1="{x:.1}" y1="{y}" x2="{x:.1}" y2="{}"/><text x="{x:.1}" y="{}" text-anchor="middle">{:.digits$} s</text>"#,
            y + 4.0,
            y + 16.0,
            t as f64 / 1e9
        )?;
        t += step;
    }
    Ok(())
}

/// A 1-2-5 step giving at most about ten ticks over `span` ns.
fn tick_step(span: u64) -> u64 {
    let mut step = 1_000u64;
    loop {
        for m in [1, 2, 5] {
            if span / (step * m) <= 10 {
                return step * m;
            }
        }
        step *= 10;
    }
}

/// The smallest 1-2-5 length ≥ 100 ms giving at most `max_buckets` buckets over
/// `span` ns.
pub fn bucket_length(span: u64, max_buckets: u64) -> u64 {
    let want = span / max_buckets.max(1);
    let mut step = 100_000_000u64;
    loop {
        for m in [1, 2, 5] {
            if step * m >= want {
                return step * m;
            }
        }
        step *= 10;
    }
}

/// Per-bucket counts of client completions for the whole-run overview.
pub struct Overview {
    pub bucket: u64,
    /// (ok, fail, info) completions per bucket.
    pub counts: Vec<[u64; 3]>,
    pub window: Window,
}

impl Overview {
    /// Buckets of a 1-2-5 length of at least 100 ms (one second for runs of up to
    /// `max_buckets` seconds), at most about `max_buckets` of them.
    pub fn of(calls: &[Call<'_>], history_end: u64, max_buckets: u64) -> Overview {
        let bucket = bucket_length(history_end, max_buckets);
        let n = (history_end / bucket + 1) as usize;
        let mut counts = vec![[0u64; 3]; n];
        for c in calls.iter().filter(|c| c.process != Process::Nemesis) {
            let Some(t) = c.end() else { continue };
            let slot = match c.outcome {
                Outcome::Ok => 0,
                Outcome::Fail => 1,
                Outcome::Info => 2,
                Outcome::Open => continue,
            };
            counts[((t / bucket) as usize).min(n - 1)][slot] += 1;
        }
        Overview {
            bucket,
            counts,
            window: Window {
                start: 0,
                end: n as u64 * bucket,
            },
        }
    }

    /// Writes the `<svg>`: stacked bars per bucket, faults shaded, leader changes
    /// marked, and `detail` (the window drawn in full elsewhere) outlined.
    pub fn render(
        &self,
        out: &mut String,
        faults: &[FaultWindow],
        leaders: &[LeaderChange],
        history_end: u64,
        detail: Option<Window>,
    ) -> fmt::Result {
        let h = 120.0;
        let height = TOP + h + AXIS;
        let bottom = TOP + h;
        write!(
            out,
            r#"<svg class="tl" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">"#
        )?;
        shade_faults(out, self.window, faults, history_end, TOP - 12.0, bottom)?;
        let max = self
            .counts
            .iter()
            .map(|c| c.iter().sum::<u64>())
            .max()
            .unwrap_or(0)
            .max(1);
        write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{max}</text><text x="{:.1}" y="{bottom:.1}" text-anchor="end">0</text>"#,
            LABEL - 6.0,
            TOP + 8.0,
            LABEL - 6.0
        )?;
        let bw = PLOT / self.counts.len() as f64;
        for (slot, class) in ["ok", "fail", "info"].into_iter().enumerate() {
            let mut d = String::new();
            for (i, c) in self.counts.iter().enumerate() {
                if c[slot] == 0 {
                    continue;
                }
                let below: u64 = c[..slot].iter().sum();
                let y1 = bottom - below as f64 / max as f64 * h;
                let bh = c[slot] as f64 / max as f64 * h;
                write!(
                    d,
                    "M{:.1} {:.1}h{:.1}v{:.1}h{:.1}z",
                    LABEL + bw * i as f64,
                    y1 - bh,
                    bw.max(0.5),
                    bh,
                    -bw.max(0.5)
                )?;
            }
            if !d.is_empty() {
                write!(out, r#"<path class="{class}" d="{d}"/>"#)?;
            }
        }
        if let Some(dw) = detail {
            let (x0, x1) = (self.window.x(dw.start), self.window.x(dw.end));
            write!(
                out,
                r#"<rect class="detail" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>shown in full detail: {} – {}</title></rect>"#,
                TOP - 14.0,
                (x1 - x0).max(2.0),
                h + 14.0,
                describe::at(dw.start),
                describe::at(dw.end)
            )?;
        }
        mark_leaders(out, self.window, leaders, TOP - 12.0, bottom)?;
        axis(out, self.window, bottom)?;
        out.push_str("</svg>");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_steps_are_1_2_5_and_few() {
        assert_eq!(tick_step(10_000_000_000), 1_000_000_000);
        assert_eq!(tick_step(15_000_000_000), 2_000_000_000);
        assert_eq!(tick_step(40_000_000), 5_000_000);
        for span in [1, 999, 123_456_789, 987_654_321_000] {
            assert!(span / tick_step(span) <= 10);
        }
    }

    #[test]
    fn overview_buckets_are_1_2_5_lengths() {
        assert_eq!(bucket_length(3_000_000_000, 600), 100_000_000);
        assert_eq!(bucket_length(300_000_000_000, 600), 500_000_000);
        assert_eq!(bucket_length(600_000_000_000, 600), 1_000_000_000);
        assert_eq!(bucket_length(3_600_000_000_000, 600), 10_000_000_000);
        for span in [0, 1, 7_777_777_777_777] {
            assert!(span / bucket_length(span, 600) <= 600);
        }
    }

    #[test]
    fn window_maps_and_clamps() {
        let w = Window {
            start: 100,
            end: 200,
        };
        assert_eq!(w.x(100), LABEL);
        assert_eq!(w.x(300), LABEL + PLOT);
        assert_eq!(w.x(0), LABEL);
        assert!(w.overlaps(50, 100) && !w.overlaps(201, 300));
    }
}
