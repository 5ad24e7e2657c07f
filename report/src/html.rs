//! `report.html`: one self-contained page (inline CSS and SVG, no script, nothing
//! fetched) that shows a run's evidence, most important first.
//!
//! ```text
//! ReportInput ──► pair ops into calls ──► verdicts ─► anomalies (words + timelines)
//!                                      ──► detail timeline around the first anomaly
//!                                      ──► whole-run overview (per-bucket bands)
//!                                      ──► availability per fault ─► stats
//! ```
//!
//! Size is bounded whatever the history's length: full detail only in a window of
//! [`Limits::context`] calls either side of the first anomaly (and small timelines of
//! each anomaly's own calls); the rest of the run is summarised as counts per bucket
//! of at most [`Limits::buckets`] buckets. Every piece of text from the input is
//! escaped, so op values cannot inject markup.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write};
use std::io;
use std::path::Path;

use super::describe::{self, esc};
use super::input::{validity_str, Anomaly, Process, ReportInput, Validity};
use super::pairs::{self, Call};
use super::stats;
use super::timeline::{lane_order, Overview, Timeline, Window};

/// Bounds on what the page shows in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Calls shown either side of the first anomaly in the detail timeline.
    pub context: usize,
    /// Lanes at most in the detail timeline.
    pub lanes: usize,
    /// Anomalies drawn with their own timeline; later ones are listed in words.
    pub anomaly_timelines: usize,
    /// Anomalies listed at all.
    pub anomalies_listed: usize,
    /// Operations described per anomaly.
    pub ops_per_anomaly: usize,
    /// Buckets at most in the whole-run overview.
    pub buckets: u64,
    /// Rows at most in the fault and leader tables.
    pub rows: usize,
    /// Findings lines shown per checker.
    pub lines_per_checker: usize,
    /// Characters at most of one anomaly's description or one findings line.
    pub text_chars: usize,
    /// Bytes the anomalies section may take before later anomalies are only counted.
    pub anomaly_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            context: 300,
            lanes: 64,
            anomaly_timelines: 20,
            anomalies_listed: 200,
            ops_per_anomaly: 40,
            buckets: 600,
            rows: 500,
            lines_per_checker: 50,
            text_chars: 2_000,
            anomaly_bytes: 2_500_000,
        }
    }
}

/// Renders the page with the default [`Limits`].
pub fn render(input: &ReportInput) -> String {
    render_with(input, &Limits::default())
}

/// Renders the page and writes it to `path`.
pub fn write(input: &ReportInput, path: &Path) -> io::Result<()> {
    std::fs::write(path, render(input))
        .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

/// Renders the page.
pub fn render_with(input: &ReportInput, limits: &Limits) -> String {
    let mut out = String::with_capacity(256 * 1024);
    Page::new(input, limits)
        .render(&mut out)
        .expect("formatting into a String cannot fail");
    out
}

struct Page<'a> {
    input: &'a ReportInput,
    limits: &'a Limits,
    calls: Vec<Call<'a>>,
    /// Op index → position in `calls`.
    by_op: HashMap<u64, usize>,
    history_end: u64,
    /// Every anomaly in display order, with its checker's name.
    anomalies: Vec<(&'a str, &'a Anomaly)>,
}

impl<'a> Page<'a> {
    fn new(input: &'a ReportInput, limits: &'a Limits) -> Page<'a> {
        let calls = pairs::pair(&input.ops);
        let mut by_op = HashMap::with_capacity(input.ops.len());
        for (i, c) in calls.iter().enumerate() {
            for op in [c.invoke, c.complete].into_iter().flatten() {
                by_op.insert(op.index, i);
            }
        }
        let history_end = calls
            .iter()
            .map(|c| c.end().unwrap_or(c.start()))
            .chain(input.faults.iter().map(|f| f.end.unwrap_or(f.start)))
            .chain(input.leader_changes.iter().map(|l| l.time))
            .max()
            .unwrap_or(0);
        let anomalies = input
            .verdicts
            .iter()
            .flat_map(|v| v.anomalies.iter().map(move |a| (v.checker.as_str(), a)))
            .collect();
        Page {
            input,
            limits,
            calls,
            by_op,
            history_end,
            anomalies,
        }
    }

    fn overall(&self) -> Validity {
        self.input
            .verdicts
            .iter()
            .map(|v| v.validity)
            .reduce(Validity::merge)
            .unwrap_or(Validity::Unknown)
    }

    /// Positions in `calls` of an anomaly's operations, in time order.
    fn anomaly_calls(&self, a: &Anomaly) -> Vec<usize> {
        let set: BTreeSet<usize> = a
            .ops
            .iter()
            .filter_map(|i| self.by_op.get(i).copied())
            .collect();
        set.into_iter().collect()
    }

    /// The time span an anomaly covers, if it names anything.
    fn anomaly_span(&self, a: &Anomaly) -> Option<Window> {
        let pos = self.anomaly_calls(a);
        let mut start = pos.iter().map(|&p| self.calls[p].start()).min();
        let mut end = pos
            .iter()
            .map(|&p| self.calls[p].end().unwrap_or(self.calls[p].start()))
            .max();
        if let Some(s) = a.span {
            start = Some(start.map_or(s.start, |t| t.min(s.start)));
            end = Some(end.map_or(s.end, |t| t.max(s.end)));
        }
        Some(Window {
            start: start?,
            end: end?,
        })
    }

    fn render(&self, out: &mut String) -> fmt::Result {
        let s = &self.input.summary;
        let overall = self.overall();
        write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>{} — {} — faultline</title><style>{CSS}</style></head><body>",
            esc(&s.name),
            validity_str(overall)
        )?;
        write!(
            out,
            r#"<h1>{} <span class="v {}">{}</span></h1>"#,
            esc(&s.name),
            validity_str(overall),
            validity_str(overall)
        )?;
        self.summary(out)?;
        self.verdicts(out)?;
        self.anomalies(out)?;
        if let Some(e) = &self.input.election {
            super::election::render(out, e, &self.input.faults, self.history_end)?;
        }
        let detail = self.detail(out)?;
        self.overview(out, detail)?;
        self.availability(out)?;
        self.stats(out)?;
        self.faults_and_leaders(out)?;
        out.push_str("</body></html>\n");
        Ok(())
    }

    fn summary(&self, out: &mut String) -> fmt::Result {
        let s = &self.input.summary;
        let clients: BTreeSet<Process> = self.calls.iter().map(|c| c.process).collect();
        write!(
            out,
            "<table class=\"kv\"><tr><th>target</th><td>{}</td></tr><tr><th>workload</th><td>{}</td></tr>\
             <tr><th>nemesis</th><td>{}</td></tr><tr><th>seed</th><td>{}</td></tr>\
             <tr><th>started</th><td>{}</td></tr><tr><th>history</th><td>{} ops, {} calls by {} processes over {}</td></tr>\
             <tr><th>reproduce</th><td><code>{}</code></td></tr></table>",
            esc(&s.target),
            esc(&s.workload),
            esc(&s.nemesis),
            s.seed,
            esc(&s.started),
            self.input.ops.len(),
            self.calls.len(),
            clients.len(),
            describe::dur(self.history_end),
            esc(&s.repro)
        )
    }

    fn verdicts(&self, out: &mut String) -> fmt::Result {
        out.push_str("<h2 id=\"verdicts\">Verdicts</h2>");
        if self.input.verdicts.is_empty() {
            out.push_str("<p>No checker ran: the run is incomplete.</p>");
            return Ok(());
        }
        out.push_str("<table><tr><th>checker</th><th>verdict</th><th>findings</th></tr>");
        for v in &self.input.verdicts {
            write!(
                out,
                r#"<tr><td>{}</td><td><span class="v {}">{}</span></td><td>"#,
                esc(&v.checker),
                validity_str(v.validity),
                validity_str(v.validity)
            )?;
            if !v.anomalies.is_empty() {
                write!(out, "{} anomalies. ", v.anomalies.len())?;
            }
            for l in v.lines.iter().take(self.limits.lines_per_checker) {
                write!(
                    out,
                    "{}<br>",
                    esc(&describe::clip(l, self.limits.text_chars))
                )?;
            }
            if v.lines.len() > self.limits.lines_per_checker {
                write!(
                    out,
                    "… and {} more lines (see results.json).",
                    v.lines.len() - self.limits.lines_per_checker
                )?;
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
        Ok(())
    }

    fn anomalies(&self, out: &mut String) -> fmt::Result {
        if self.anomalies.is_empty() {
            return Ok(());
        }
        write!(
            out,
            "<h2 id=\"anomalies\">Anomalies ({})</h2>",
            self.anomalies.len()
        )?;
        let section = out.len();
        let mut shown = 0;
        for (n, (checker, a)) in self
            .anomalies
            .iter()
            .enumerate()
            .take(self.limits.anomalies_listed)
        {
            if out.len() - section > self.limits.anomaly_bytes {
                break;
            }
            shown += 1;
            write!(
                out,
                r#"<section class="anomaly" id="a{}"><h3>{}. {}: {}</h3>"#,
                n + 1,
                n + 1,
                esc(checker),
                esc(&describe::clip(&a.description, self.limits.text_chars))
            )?;
            if let Some(c) = &a.cycle {
                out.push_str("<div class=\"cycle\">");
                out.push_str(&super::elle::cycle_svg(c));
                out.push_str("</div>");
            }
            if !a.lines.is_empty() {
                out.push_str("<ul class=\"why\">");
                for l in a.lines.iter().take(self.limits.ops_per_anomaly) {
                    write!(
                        out,
                        "<li>{}</li>",
                        esc(&describe::clip(l, self.limits.text_chars))
                    )?;
                }
                out.push_str("</ul>");
            }
            let pos = self.anomaly_calls(a);
            if !pos.is_empty() {
                out.push_str("<ol class=\"ops\">");
                for &p in pos.iter().take(self.limits.ops_per_anomaly) {
                    let c = &self.calls[p];
                    write!(
                        out,
                        r#"<li class="{}">{}</li>"#,
                        c.outcome.as_str(),
                        esc(&describe::call(c))
                    )?;
                }
                out.push_str("</ol>");
                if pos.len() > self.limits.ops_per_anomaly {
                    write!(
                        out,
                        "<p>… and {} more operations.</p>",
                        pos.len() - self.limits.ops_per_anomaly
                    )?;
                }
            }
            let missing: Vec<u64> = a
                .ops
                .iter()
                .copied()
                .filter(|i| !self.by_op.contains_key(i))
                .collect();
            if !missing.is_empty() {
                write!(
                    out,
                    "<p>Operations not in the history: {}.</p>",
                    join(missing.iter().take(20))
                )?;
            }
            if n < self.limits.anomaly_timelines {
                self.anomaly_timeline(out, a, &pos)?;
            }
            out.push_str("</section>");
        }
        if self.anomalies.len() > shown {
            write!(
                out,
                "<p>… and {} more anomalies (see results.json).</p>",
                self.anomalies.len() - shown
            )?;
        }
        Ok(())
    }

    /// A small timeline: the anomaly's own processes, around its span.
    fn anomaly_timeline(&self, out: &mut String, a: &Anomaly, pos: &[usize]) -> fmt::Result {
        let Some(span) = self.anomaly_span(a) else {
            return Ok(());
        };
        let pad = ((span.end - span.start) / 5).max(50_000_000);
        let window = Window {
            start: span.start.saturating_sub(pad),
            end: span
                .end
                .saturating_add(pad)
                .min(self.history_end.max(span.end)),
        };
        let mut lanes: BTreeSet<Process> = pos.iter().map(|&p| self.calls[p].process).collect();
        if lanes.is_empty() {
            // Not about operations (e.g. two leaders): the processes active then.
            lanes = self
                .calls_in(window)
                .map(|c| c.process)
                .take(self.limits.lanes)
                .collect();
        }
        let lanes = sorted_lanes(lanes);
        let highlight: BTreeSet<u64> = pos.iter().map(|&p| self.calls[p].index()).collect();
        let mut calls: Vec<&Call<'_>> = pos.iter().map(|&p| &self.calls[p]).collect();
        calls.extend(
            self.calls_in(window)
                .filter(|c| !highlight.contains(&c.index()))
                .filter(|c| {
                    lanes
                        .binary_search_by(|l| lane_order(l, &c.process))
                        .is_ok()
                })
                .take(2 * self.limits.ops_per_anomaly),
        );
        Timeline {
            window,
            lanes,
            calls,
            highlight,
            history_end: self.history_end,
        }
        .render(out, &self.input.faults, &self.input.leader_changes)
    }

    /// Calls that started within `w` (open-ended calls from before are left out).
    fn calls_in(&self, w: Window) -> impl Iterator<Item = &Call<'a>> + '_ {
        let first = self.calls.partition_point(|c| c.start() < w.start);
        self.calls[first..]
            .iter()
            .take_while(move |c| c.start() <= w.end)
    }

    /// The full-detail timeline around the first anomaly (or the first fault, or
    /// the start). Returns its window.
    fn detail(&self, out: &mut String) -> Result<Option<Window>, fmt::Error> {
        if self.calls.is_empty() {
            return Ok(None);
        }
        // The anomaly that starts first, by its earliest call.
        let first = self
            .anomalies
            .iter()
            .map(|(_, a)| self.anomaly_calls(a))
            .filter(|p| !p.is_empty())
            .min_by_key(|p| p[0]);
        let ctx = self.limits.context;
        let (lo, hi, heading) = match &first {
            Some(pos) => {
                let (a, b) = (pos[0], pos[pos.len() - 1]);
                // A sprawling anomaly: centre on its first operation only.
                let b = if b - a > 4 * ctx { a } else { b };
                (
                    a.saturating_sub(ctx),
                    b + ctx,
                    "History around the first anomaly",
                )
            }
            None => {
                let anchor = self
                    .input
                    .faults
                    .iter()
                    .map(|f| f.start)
                    .min()
                    .map_or(0, |t| self.calls.partition_point(|c| c.start() < t));
                (
                    anchor.saturating_sub(ctx),
                    anchor + ctx,
                    "History around the first fault",
                )
            }
        };
        let hi = hi.min(self.calls.len() - 1);
        let lo = lo.min(hi);
        let window = Window {
            start: self.calls[lo].start(),
            end: self.calls[lo..=hi]
                .iter()
                .map(|c| c.end().unwrap_or(c.start()))
                .max()
                .unwrap_or(self.calls[hi].start())
                .max(self.calls[lo].start() + 1),
        };
        let highlight: BTreeSet<u64> = first
            .iter()
            .flat_map(|p| p.iter().map(|&i| self.calls[i].index()))
            .collect();
        // Lanes: every process with a call in the slice, most active first if capped
        // (the anomaly's own processes always stay).
        let mut activity: BTreeMap<Process, usize> = BTreeMap::new();
        for c in &self.calls[lo..=hi] {
            *activity.entry(c.process).or_default() += 1;
        }
        let mut ranked: Vec<(Process, usize)> = activity.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| lane_order(&a.0, &b.0)));
        let mut lanes: BTreeSet<Process> = first
            .iter()
            .flat_map(|p| p.iter().map(|&i| self.calls[i].process))
            .collect();
        for (p, _) in ranked {
            if lanes.len() >= self.limits.lanes {
                break;
            }
            lanes.insert(p);
        }
        let lanes = sorted_lanes(lanes);
        let mut calls: Vec<&Call<'_>> = self.calls[lo..=hi].iter().collect();
        // Calls that began before the window and still ran into it.
        calls.extend(
            self.calls[..lo]
                .iter()
                .rev()
                .take(4 * ctx)
                .filter(|c| c.end().is_none_or(|e| e >= window.start)),
        );
        write!(
            out,
            "<h2 id=\"timeline\">{heading}</h2><p class=\"note\">{} – {}: {} calls in full \
             (bars from invocation to completion; outlined: the anomaly's operations; faded: \
             may take effect later). {LEGEND}</p>",
            describe::at(window.start),
            describe::at(window.end),
            hi - lo + 1
        )?;
        Timeline {
            window,
            lanes,
            calls,
            highlight,
            history_end: self.history_end,
        }
        .render(out, &self.input.faults, &self.input.leader_changes)?;
        Ok(Some(window))
    }

    fn overview(&self, out: &mut String, detail: Option<Window>) -> fmt::Result {
        let ov = Overview::of(&self.calls, self.history_end, self.limits.buckets);
        write!(
            out,
            "<h2 id=\"overview\">The whole run</h2><p class=\"note\">Client completions per {} \
             (stacked ok / fail / info); shaded: faults; dashed: leader changes; boxed: the \
             window shown in full above.</p>",
            describe::dur(ov.bucket)
        )?;
        ov.render(
            out,
            &self.input.faults,
            &self.input.leader_changes,
            self.history_end,
            detail,
        )
    }

    fn availability(&self, out: &mut String) -> fmt::Result {
        out.push_str("<h2 id=\"availability\">Availability per fault</h2>");
        if self.input.availability.is_empty() {
            out.push_str("<p>No faults were measured.</p>");
            return Ok(());
        }
        out.push_str(
            "<table><tr><th>fault</th><th>from</th><th>healed</th><th>first ok write after</th>\
             <th>leader after</th><th>fail/info rate during</th><th>recovered after heal</th></tr>",
        );
        let opt = |d: Option<u64>| d.map_or_else(|| "—".to_string(), describe::dur);
        for a in self.input.availability.iter().take(self.limits.rows) {
            write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.fault),
                describe::at(a.start),
                a.end.map_or_else(|| "never".to_string(), describe::at),
                opt(a.first_ok_write_after),
                opt(a.leader_after),
                a.error_rate
                    .map_or_else(|| "—".to_string(), |r| format!("{:.1} %", r * 100.0)),
                opt(a.recovered_after_heal),
            )?;
        }
        out.push_str("</table>");
        Ok(())
    }

    fn stats(&self, out: &mut String) -> fmt::Result {
        out.push_str(
            "<h2 id=\"stats\">Operations</h2><table><tr><th>f</th><th>ok</th><th>fail</th>\
             <th>info</th><th>open</th><th>ok latency p50</th><th>p90</th><th>p99</th><th>max</th></tr>",
        );
        for (f, s) in stats::per_f(&self.calls) {
            let p = s.ok_latency;
            let l = |g: fn(&stats::Percentiles) -> u64| {
                p.as_ref()
                    .map_or_else(|| "—".to_string(), |p| describe::dur(g(p)))
            };
            write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f),
                s.ok,
                s.fail,
                s.info,
                s.open,
                l(|p| p.p50),
                l(|p| p.p90),
                l(|p| p.p99),
                l(|p| p.max)
            )?;
        }
        out.push_str("</table>");
        Ok(())
    }

    fn faults_and_leaders(&self, out: &mut String) -> fmt::Result {
        let rows = self.limits.rows;
        if !self.input.faults.is_empty() {
            out.push_str("<h2 id=\"faults\">Fault windows</h2><table><tr><th>fault</th><th>from</th><th>to</th></tr>");
            for f in self.input.faults.iter().take(rows) {
                write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&f.fault),
                    describe::at(f.start),
                    f.end
                        .map_or_else(|| "never healed".to_string(), describe::at)
                )?;
            }
            out.push_str("</table>");
            more(out, self.input.faults.len(), rows)?;
        }
        if !self.input.leader_changes.is_empty() {
            out.push_str("<h2 id=\"leaders\">Leader changes</h2><table><tr><th>at</th><th>term</th><th>leader</th></tr>");
            for l in self.input.leader_changes.iter().take(rows) {
                write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    describe::at(l.time),
                    l.term,
                    esc(&l.node)
                )?;
            }
            out.push_str("</table>");
            more(out, self.input.leader_changes.len(), rows)?;
        }
        Ok(())
    }
}

fn more(out: &mut String, total: usize, shown: usize) -> fmt::Result {
    if total > shown {
        write!(out, "<p>… and {} more.</p>", total - shown)?;
    }
    Ok(())
}

fn sorted_lanes(lanes: BTreeSet<Process>) -> Vec<Process> {
    let mut v: Vec<Process> = lanes.into_iter().collect();
    v.sort_by(lane_order);
    v
}

fn join<T: fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

const LEGEND: &str = r#"<span class="key ok"></span> ok <span class="key fail"></span> fail <span class="key info"></span> info <span class="key open"></span> never completed <span class="key nem"></span> nemesis <span class="key fault"></span> fault"#;

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1150px}\
h1,h2,h3{margin:.8em 0 .3em}h3{font-size:1em}table{border-collapse:collapse;margin:.4em 0}\
td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}\
table.kv th{background:#f6f6f6}code{background:#f3f3f3;padding:1px 4px;word-break:break-all}\
.v{padding:1px 8px;border-radius:3px;color:#fff;font-weight:600}\
.v.valid{background:#2e7d32}.v.invalid{background:#c62828}.v.unknown{background:#f9a825;color:#222}\
.anomaly{border-left:4px solid #c62828;padding-left:10px;margin:1em 0}\
div.cycle svg{max-width:100%;height:auto}ul.why{font-family:monospace;font-size:12px}\
ol.ops li.fail{color:#b71c1c}ol.ops li.info{color:#e65100}ol.ops li.open{color:#616161}\
.note{color:#555;font-size:13px}svg.tl{display:block;font:11px sans-serif;margin:.3em 0}\
svg .ok,.key.ok{fill:#43a047;background:#43a047}svg .fail,.key.fail{fill:#e53935;background:#e53935}\
svg .info,.key.info{fill:#fb8c00;background:#fb8c00}svg .open,.key.open{fill:#9e9e9e;background:#9e9e9e}\
svg .nem,.key.nem{fill:#5e35b1;background:#5e35b1}svg .ext{opacity:.3}svg .hl{stroke:#000;stroke-width:2}svg .band{fill:#f7f7f7}\
svg .fault rect,.key.fault{fill:#fbc8c4;background:#fbc8c4;opacity:.6}svg .fault text{fill:#8e1b10}\
svg .leader line{stroke:#6a1b9a;stroke-dasharray:3 2}svg .leader text{fill:#6a1b9a}\
svg .axis{stroke:#999}svg .detail{fill:none;stroke:#1565c0;stroke-width:1.5}\
.key{display:inline-block;width:12px;height:10px;margin-left:6px}\
svg .tenure,.key.tenure{fill:#2e7d32;background:#2e7d32}svg .overlap,.key.overlap{fill:#d50000;background:#d50000;opacity:.75}";
