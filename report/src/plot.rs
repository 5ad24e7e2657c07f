//! `latency.svg` and `rate.svg`: the run's latency and throughput over time, fault
//! windows shaded, drawn with `plotters`' SVG backend (no font or system libraries:
//! text is left to the viewer's fonts).
//!
//! ```text
//! [Op] ──► pair into calls ──► latency: one point per call at its invocation,
//!                                         colour = f, marker = ok ● / fail ✕ / info ▲
//!                           ──► rate: completions per second per (f, outcome)
//! faults ──► shaded bands with their labels on both
//! ```
//!
//! Like Jepsen's `latency-raw` and `rate` graphs. To keep the file small on long
//! histories, latency points are thinned evenly to at most [`MAX_POINTS`] (the
//! caption says so), and rates use wider buckets past [`MAX_BUCKETS`] seconds.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io;
use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::input::{FaultWindow, Op, Process};
use super::pairs::{self, Call, Outcome};

/// Latency points drawn at most.
pub const MAX_POINTS: usize = 20_000;
/// Rate buckets drawn at most.
pub const MAX_BUCKETS: u64 = 1_000;

const SIZE: (u32, u32) = (1100, 520);
const FAULT: RGBColor = RGBColor(251, 200, 196);
const FAULT_TEXT: RGBColor = RGBColor(142, 27, 16);

/// A plot that could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing {plot}: {message}")]
pub struct PlotError {
    pub plot: &'static str,
    pub message: String,
}

fn err(plot: &'static str) -> impl Fn(&dyn Display) -> PlotError {
    move |e| PlotError {
        plot,
        message: e.to_string(),
    }
}

/// Writes `latency.svg` and `rate.svg` into `dir`.
pub fn write_plots(ops: &[Op], faults: &[FaultWindow], dir: &Path) -> io::Result<()> {
    for (name, svg) in [
        (super::files::LATENCY, latency_svg(ops, faults)),
        (super::files::RATE, rate_svg(ops, faults)),
    ] {
        let svg = svg.map_err(io::Error::other)?;
        let path = dir.join(name);
        std::fs::write(&path, svg)
            .map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))?;
    }
    Ok(())
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The end of the plotted time axis, in seconds (never zero).
fn x_end(calls: &[Call<'_>], faults: &[FaultWindow]) -> f64 {
    let end = calls
        .iter()
        .map(|c| c.end().unwrap_or(c.start()))
        .chain(faults.iter().map(|f| f.end.unwrap_or(f.start)))
        .max()
        .unwrap_or(0);
    secs(end).max(0.001) * 1.01
}

/// Colours by position of `f` among the run's functions.
fn colour(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(23, 190, 207),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
    ];
    C[i % C.len()]
}

fn shade<DB: DrawingBackend, Y: Copy + 'static>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, impl Ranged<ValueType = Y>>>,
    faults: &[FaultWindow],
    (x_end, y_lo, y_hi): (f64, Y, Y),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart.draw_series(faults.iter().map(|f| {
        let end = f.end.map_or(x_end, secs);
        Rectangle::new(
            [(secs(f.start), y_lo), (end, y_hi)],
            FAULT.mix(0.5).filled(),
        )
    }))?;
    chart.draw_series(faults.iter().map(|f| {
        Text::new(
            f.fault.clone(),
            (secs(f.start), y_hi),
            ("sans-serif", 12).into_font().color(&FAULT_TEXT),
        )
    }))?;
    Ok(())
}

fn area<'b>(buf: &'b mut String) -> DrawingArea<SVGBackend<'b>, Shift> {
    SVGBackend::with_string(buf, SIZE).into_drawing_area()
}

/// `latency.svg`: each call's latency (log scale) at its invocation time.
pub fn latency_svg(ops: &[Op], faults: &[FaultWindow]) -> Result<String, PlotError> {
    let e = err("latency.svg");
    let calls = pairs::pair(ops);
    let fs: Vec<&str> = calls
        .iter()
        .filter(|c| c.process != Process::Nemesis)
        .map(|c| c.f())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // (f position, outcome) → points (invoke s, latency ms)
    let mut series: BTreeMap<(usize, Outcome), Vec<(f64, f64)>> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.process != Process::Nemesis) {
        let (Some(l), Ok(fi)) = (c.latency(), fs.binary_search(&c.f())) else {
            continue;
        };
        if c.invoke.is_none() {
            continue;
        }
        let ms = (l as f64 / 1e6).max(0.001);
        series
            .entry((fi, c.outcome))
            .or_default()
            .push((secs(c.start()), ms));
    }
    let total: usize = series.values().map(Vec::len).sum();
    let stride = total.div_ceil(MAX_POINTS).max(1);
    let (y_lo, y_hi) = series
        .values()
        .flatten()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &(_, y)| {
            (lo.min(y), hi.max(y))
        });
    let (y_lo, y_hi) = if total == 0 {
        (0.1, 1000.0)
    } else {
        (y_lo / 2.0, (y_hi * 2.0).max(y_lo * 10.0))
    };
    let x_end = x_end(&calls, faults);
    let caption = if stride > 1 {
        format!("latency (1 in {stride} of {total} calls shown)")
    } else {
        format!("latency ({total} calls)")
    };

    let mut buf = String::new();
    {
        let root = area(&mut buf);
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_end, (y_lo..y_hi).log_scale())
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("time (s)")
            .y_desc("latency (ms)")
            .draw()
            .map_err(|x| e(&x))?;
        shade(&mut chart, faults, (x_end, y_lo, y_hi)).map_err(|x| e(&x))?;
        for ((fi, outcome), points) in &series {
            let c = colour(*fi);
            let label = format!("{} {}", fs[*fi], outcome.as_str());
            let kept = points.iter().step_by(stride).copied();
            let drawn = match outcome {
                Outcome::Fail => {
                    chart.draw_series(kept.map(|p| Cross::new(p, 3, c.stroke_width(1))))
                }
                Outcome::Info => {
                    chart.draw_series(kept.map(|p| TriangleMarker::new(p, 3, c.filled())))
                }
                _ => chart.draw_series(kept.map(|p| Circle::new(p, 2, c.mix(0.7).filled()))),
            }
            .map_err(|x| e(&x))?;
            let outcome = *outcome;
            drawn.label(label).legend(move |(x, y)| match outcome {
                Outcome::Fail => Cross::new((x, y), 4, c.stroke_width(1)).into_dyn(),
                Outcome::Info => TriangleMarker::new((x, y), 4, c.filled()).into_dyn(),
                _ => Circle::new((x, y), 3, c.filled()).into_dyn(),
            });
        }
        if !series.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|x| e(&x))?;
        }
        root.present().map_err(|x| e(&x))?;
    }
    Ok(buf)
}

/// `rate.svg`: completions per second for each (f, outcome), over time.
pub fn rate_svg(ops: &[Op], faults: &[FaultWindow]) -> Result<String, PlotError> {
    let e = err("rate.svg");
    let calls = pairs::pair(ops);
    let x_end = x_end(&calls, faults);
    let seconds = x_end.ceil().max(1.0) as u64;
    let bucket = seconds.div_ceil(MAX_BUCKETS).max(1);
    let n = (seconds / bucket + 1) as usize;
    let mut series: BTreeMap<(&str, Outcome), Vec<u64>> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.process != Process::Nemesis) {
        let Some(t) = c.end() else { continue };
        let slot = ((t / 1_000_000_000 / bucket) as usize).min(n - 1);
        series
            .entry((c.f(), c.outcome))
            .or_insert_with(|| vec![0; n])[slot] += 1;
    }
    let y_hi = series
        .values()
        .flatten()
        .map(|&v| v as f64 / bucket as f64)
        .fold(1.0f64, f64::max)
        * 1.15;

    let mut buf = String::new();
    {
        let root = area(&mut buf);
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("throughput (completions per second, {bucket} s buckets)"),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..x_end, 0f64..y_hi)
            .map_err(|x| e(&x))?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_desc("time (s)")
            .y_desc("ops/s")
            .draw()
            .map_err(|x| e(&x))?;
        shade(&mut chart, faults, (x_end, 0.0, y_hi)).map_err(|x| e(&x))?;
        let fs: Vec<&str> = series
            .keys()
            .map(|(f, _)| *f)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for ((f, outcome), counts) in &series {
            let fi = fs.binary_search(f).unwrap_or(0);
            let c = colour(fi);
            let style = match outcome {
                Outcome::Ok => c.stroke_width(2),
                Outcome::Fail => RED.mix(0.8).stroke_width(1),
                _ => RGBColor(251, 140, 0).stroke_width(1),
            };
            let points = counts.iter().enumerate().map(|(i, &v)| {
                (
                    (i as u64 * bucket) as f64 + bucket as f64 / 2.0,
                    v as f64 / bucket as f64,
                )
            });
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(|x| e(&x))?
                .label(format!("{f} {}", outcome.as_str()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
        if !series.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|x| e(&x))?;
        }
        root.present().map_err(|x| e(&x))?;
    }
    Ok(buf)
}
