//! The list-append checker's anomalies in the report: each cycle drawn as a small graph
//! (transactions as nodes, dependencies as labelled edges), the transactions and the
//! reasoning in plain words, and per-anomaly files under `elle/` in the run directory,
//! as Jepsen's Elle leaves them.
//!
//! ```text
//! results.json "list-append" details.anomalies (checkers::elle::Anomaly)
//!   ──► from_list_append ──► report Anomaly { kind, description, lines, ops, cycle }
//!         ──► html (cycle_svg inline, lines, ops, timeline)
//!         ──► write_files: elle/<kind>.txt (every example explained)
//!                          elle/<kind>/<n>.svg (each cycle drawn)
//! ```
//!
//! Edge labels: `ww` (write-write), `wr` (write-read), `rw` (read-write, an
//! anti-dependency), `rt` (real time: one completed before the other began), `process`
//! (the same process ran one, then the other).
//!
//! Pure except [`write_files`]; the SVG is the same bytes for the same cycle.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use checkers::elle::{Anomaly as ElleAnomaly, AnomalyKind, Rel};

use super::describe::esc;
use super::input::{Anomaly, Cycle, CycleEdge, CycleNode, ReportInput};

/// The checker whose anomalies this module decodes.
pub const CHECKER: &str = "list-append";
/// The directory of the per-anomaly files in a run directory.
pub const DIR: &str = "elle";

/// The label an edge of this relation gets.
pub fn label(rel: Rel) -> &'static str {
    match rel {
        Rel::Ww => "ww",
        Rel::Wr => "wr",
        Rel::Rw => "rw",
        Rel::Realtime => "rt",
        Rel::Process => "process",
    }
}

/// The list-append checker's explained anomalies as the report shows them.
pub fn from_list_append(anomalies: &[ElleAnomaly]) -> Vec<Anomaly> {
    anomalies.iter().map(anomaly).collect()
}

fn anomaly(a: &ElleAnomaly) -> Anomaly {
    let bindings = a.txns.iter().map(|t| t.binding());
    let (description, lines): (String, Vec<String>) = match a.kind {
        AnomalyKind::Cycle(_) => {
            let title = a.describe().into_iter().next().unwrap_or_default();
            (
                title,
                bindings.chain(a.explanation.iter().cloned()).collect(),
            )
        }
        kind => {
            let first = a.explanation.first().cloned().unwrap_or_default();
            (
                format!("{kind}: {first}"),
                bindings
                    .chain(a.explanation.iter().skip(1).cloned())
                    .collect(),
            )
        }
    };
    let mut ops: Vec<u64> = a
        .txns
        .iter()
        .flat_map(|t| std::iter::once(t.invoke.index).chain(t.complete.map(|c| c.index)))
        .collect();
    ops.sort_unstable();
    ops.dedup();
    let cycle = (!a.steps.is_empty()).then(|| Cycle {
        nodes: a
            .txns
            .iter()
            .map(|t| CycleNode {
                name: t.name.clone(),
                title: t.binding(),
            })
            .collect(),
        edges: a
            .steps
            .iter()
            .map(|s| CycleEdge {
                from: s.from,
                to: s.to,
                label: label(s.rel).into(),
                title: s.text.clone(),
            })
            .collect(),
    });
    Anomaly {
        description,
        ops,
        kind: Some(a.kind.name()),
        lines,
        cycle,
        ..Anomaly::default()
    }
}

fn color(label: &str) -> &'static str {
    match label {
        "ww" => "#1f77b4",
        "wr" => "#2ca02c",
        "rw" => "#d62728",
        "rt" => "#9467bd",
        _ => "#7f7f7f",
    }
}

const NODE_R: f64 = 18.0;

/// The cycle as a standalone SVG: nodes on a circle in cycle order, each edge a curve
/// bent to its left with an arrowhead and its label; hovering shows the words.
pub fn cycle_svg(c: &Cycle) -> String {
    let n = c.nodes.len().max(1);
    let radius = (n as f64 * 24.0).max(60.0);
    let (cx, cy) = (radius + 70.0, radius + 50.0);
    let (w, h) = (2.0 * cx, 2.0 * cy);
    let pos: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            // T1 at the top, then clockwise.
            let a = -std::f64::consts::FRAC_PI_2 + 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            (cx + radius * a.cos(), cy + radius * a.sin())
        })
        .collect();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="cycle" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="12">"#
    );
    for e in &c.edges {
        let (Some(&p), Some(&q)) = (pos.get(e.from), pos.get(e.to)) else {
            continue;
        };
        edge(&mut s, p, q, e);
    }
    for (node, &(x, y)) in c.nodes.iter().zip(&pos) {
        let _ = write!(
            s,
            r##"<g><title>{}</title><circle cx="{x:.1}" cy="{y:.1}" r="{NODE_R}" fill="#fff" stroke="#333" stroke-width="1.5"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text></g>"##,
            esc(&node.title),
            y + 4.0,
            esc(&node.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// One edge from `p` to `q`: a quadratic curve bent to the left of its direction (so
/// the two edges between a pair of transactions do not overlap), an arrowhead, a label.
fn edge(s: &mut String, p: (f64, f64), q: (f64, f64), e: &CycleEdge) {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    // The normal to the left of the direction (screen coordinates: y grows down).
    let (nx, ny) = (uy, -ux);
    let bend = 0.25 * len;
    let (mx, my) = ((p.0 + q.0) / 2.0, (p.1 + q.1) / 2.0);
    let ctrl = (mx + nx * bend, my + ny * bend);
    let from_ctrl = |pt: (f64, f64), back: f64| {
        let (vx, vy) = (ctrl.0 - pt.0, ctrl.1 - pt.1);
        let l = (vx * vx + vy * vy).sqrt().max(1.0);
        (pt.0 + vx / l * back, pt.1 + vy / l * back)
    };
    let start = from_ctrl(p, NODE_R);
    let end = from_ctrl(q, NODE_R + 2.0);
    // Arrowhead along the curve's direction at its end.
    let (tx, ty) = (end.0 - ctrl.0, end.1 - ctrl.1);
    let tl = (tx * tx + ty * ty).sqrt().max(1.0);
    let (tx, ty) = (tx / tl, ty / tl);
    let (hx, hy) = (end.0 - tx * 9.0, end.1 - ty * 9.0);
    let left = (hx - ty * 4.5, hy + tx * 4.5);
    let right = (hx + ty * 4.5, hy - tx * 4.5);
    let col = color(&e.label);
    // The curve's midpoint is halfway to the control point; the label sits past it.
    let (lx, ly) = (mx + nx * (bend / 2.0 + 12.0), my + ny * (bend / 2.0 + 12.0));
    let _ = write!(
        s,
        r##"<g><title>{}</title><path d="M{:.1},{:.1} Q{:.1},{:.1} {:.1},{:.1}" fill="none" stroke="{col}" stroke-width="1.5"/><polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{col}"/><text x="{lx:.1}" y="{:.1}" text-anchor="middle" fill="{col}">{}</text></g>"##,
        esc(&e.title),
        start.0,
        start.1,
        ctrl.0,
        ctrl.1,
        end.0,
        end.1,
        end.0,
        end.1,
        left.0,
        left.1,
        right.0,
        right.1,
        ly + 4.0,
        esc(&e.label)
    );
}

/// Writes `elle/<kind>.txt` (every example of the kind, explained) and
/// `elle/<kind>/<n>.svg` (each cycle drawn) into the run directory `dir`, for the
/// list-append checker's anomalies. Writes nothing when there are none.
pub fn write_files(input: &ReportInput, dir: &Path) -> io::Result<()> {
    let mut by_kind: BTreeMap<&str, Vec<&Anomaly>> = BTreeMap::new();
    for v in input.verdicts.iter().filter(|v| v.checker == CHECKER) {
        for a in &v.anomalies {
            if let Some(k) = &a.kind {
                by_kind.entry(k.as_str()).or_default().push(a);
            }
        }
    }
    if by_kind.is_empty() {
        return Ok(());
    }
    let root = dir.join(DIR);
    std::fs::create_dir_all(&root)?;
    for (kind, list) in by_kind {
        let name = file_name(kind);
        let mut text = String::new();
        for (i, a) in list.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&a.description);
            text.push('\n');
            for l in &a.lines {
                text.push_str("  ");
                text.push_str(l);
                text.push('\n');
            }
        }
        std::fs::write(root.join(format!("{name}.txt")), text)?;
        let cycles: Vec<&Cycle> = list.iter().filter_map(|a| a.cycle.as_ref()).collect();
        if !cycles.is_empty() {
            let sub = root.join(&name);
            std::fs::create_dir_all(&sub)?;
            for (i, c) in cycles.iter().enumerate() {
                std::fs::write(sub.join(format!("{i}.svg")), cycle_svg(c))?;
            }
        }
    }
    Ok(())
}

/// A kind's name as a file name (kinds are `G1c`, `G-single-realtime`, …: already
/// safe, but nothing from a results file reaches a path unchecked).
fn file_name(kind: &str) -> String {
    kind.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::elle::{check, Budget, MicroOp, Options, Txn};

    /// A write skew (G2-item) and a G1c, checked by the real checker.
    fn report() -> checkers::elle::ElleReport {
        let txns = vec![
            Txn::ok(
                0,
                0,
                2,
                vec![MicroOp::read("x", []), MicroOp::append("y", 1)],
            ),
            Txn::ok(
                1,
                1,
                3,
                vec![MicroOp::read("y", []), MicroOp::append("x", 1)],
            ),
            Txn::ok(
                2,
                4,
                6,
                vec![MicroOp::read("a", [7]), MicroOp::append("b", 1)],
            ),
            Txn::ok(
                3,
                5,
                7,
                vec![MicroOp::append("a", 7), MicroOp::read("b", [1])],
            ),
        ];
        check(&txns, &Options::default(), Budget::default())
    }

    #[test]
    fn cycles_become_graphs_with_labelled_edges_and_the_ops_behind_them() {
        let r = report();
        let shown = from_list_append(&r.anomalies);
        let skew = shown
            .iter()
            .find(|a| a.kind.as_deref() == Some("G2-item"))
            .expect("a G2-item");
        assert!(
            skew.description.starts_with("G2-item: a cycle of 2"),
            "{skew:?}"
        );
        let c = skew.cycle.as_ref().expect("a cycle");
        assert_eq!(c.nodes.len(), 2);
        assert_eq!(
            c.edges.iter().map(|e| e.label.as_str()).collect::<Vec<_>>(),
            ["rw", "rw"]
        );
        assert_eq!(skew.ops, vec![0, 1, 2, 3]);
        assert!(
            skew.lines.iter().any(|l| l.starts_with("T1 = ok")),
            "{skew:?}"
        );
        assert!(skew.lines.iter().any(|l| l.contains("(rw)")), "{skew:?}");
        let g1c = shown
            .iter()
            .find(|a| a.kind.as_deref() == Some("G1c"))
            .expect("a G1c");
        let labels: Vec<&str> = g1c
            .cycle
            .as_ref()
            .expect("a cycle")
            .edges
            .iter()
            .map(|e| e.label.as_str())
            .collect();
        assert_eq!(labels, ["wr", "wr"]);

        let svg = cycle_svg(c);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches("<path").count(), 2);
        assert_eq!(svg.matches(">rw</text>").count(), 2);
        assert!(svg.contains("<title>T1 = ok"), "{svg}");
        assert_eq!(svg, cycle_svg(c), "the same bytes every time");
    }

    #[test]
    fn non_cycle_anomalies_have_words_and_ops_but_no_graph() {
        let txns = vec![
            Txn::fail(0, 0, 1, vec![MicroOp::append("x", 1)]),
            Txn::ok(1, 2, 3, vec![MicroOp::read("x", [1])]),
        ];
        let r = check(&txns, &Options::default(), Budget::default());
        let shown = from_list_append(&r.anomalies);
        let g1a = shown
            .iter()
            .find(|a| a.kind.as_deref() == Some("G1a"))
            .expect("an aborted read");
        assert!(g1a.cycle.is_none());
        assert!(g1a.description.starts_with("G1a: "), "{g1a:?}");
        assert_eq!(g1a.ops, vec![0, 1, 2, 3]);
    }

    #[test]
    fn files_per_kind_with_one_svg_per_cycle() {
        let r = report();
        let input = ReportInput {
            summary: crate::input::Summary {
                name: "t".into(),
                target: String::new(),
                workload: String::new(),
                nemesis: String::new(),
                seed: 0,
                started: String::new(),
                repro: String::new(),
            },
            verdicts: vec![crate::input::CheckerVerdict {
                checker: CHECKER.into(),
                validity: r.valid,
                lines: vec![],
                anomalies: from_list_append(&r.anomalies),
            }],
            ops: vec![],
            faults: vec![],
            leader_changes: vec![],
            availability: vec![],
            election: None,
        };
        // The page shows each cycle drawn, then the words.
        let page = crate::html::render(&input);
        let drawn = page
            .find("<div class=\"cycle\"><svg")
            .expect("a drawn cycle");
        let words = page
            .find("<ul class=\"why\"><li>T1 = ok")
            .expect("the words");
        assert!(drawn < words);
        let dir = std::env::temp_dir().join(format!("faultline-elle-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        write_files(&input, &dir).unwrap();
        let skew = std::fs::read_to_string(dir.join("elle/G2-item.txt")).unwrap();
        assert!(skew.starts_with("G2-item: a cycle of 2"), "{skew}");
        assert!(skew.contains("\n  T1 = ok"), "{skew}");
        let svg = std::fs::read_to_string(dir.join("elle/G2-item/0.svg")).unwrap();
        assert!(svg.contains(">rw</text>"));
        assert!(dir.join("elle/G1c/0.svg").exists());
        std::fs::remove_dir_all(&dir).unwrap();

        // No list-append anomalies: no elle directory.
        let empty =
            std::env::temp_dir().join(format!("faultline-elle-none-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let mut none = input.clone();
        none.verdicts[0].anomalies.clear();
        write_files(&none, &empty).unwrap();
        assert!(!empty.join(DIR).exists());
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
