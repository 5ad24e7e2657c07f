//! Reachability probes: a tiny bounded TCP echo server to run on nodes, and the
//! reachability matrix (who can complete a TCP round trip to whom).
//!
//! ```text
//! node ns a ──connect+echo──► 198.18.s.b:port (serve_echo on b)   for every a ≠ b,
//!                                                                  in parallel threads
//! ```
//!
//! Used by the integration tests and by `faultline cluster reach`, so a fresh Debian
//! without ping or netcat can still check a partition. A round trip needs both
//! directions, so under a one-way cut neither direction completes.
//!
//! Invariants: the server is bounded in connections and lifetime; probes go only to the
//! addresses given (node addresses of one run) with a timeout.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use crate::wait;
use crate::NodeId;

/// Serves TCP echo (line by line) on `addr` until `max_conns` connections were handled
/// or `lifetime` passed; then the process exits with code 0.
pub fn serve_echo(addr: SocketAddr, max_conns: usize, lifetime: Duration) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    std::thread::spawn(move || {
        std::thread::sleep(lifetime);
        std::process::exit(0);
    });
    let started = Instant::now();
    for conn in listener.incoming().take(max_conns) {
        if started.elapsed() > lifetime {
            break;
        }
        let Ok(stream) = conn else { continue };
        std::thread::spawn(move || {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(mut out) = stream.try_clone() else {
                return;
            };
            let mut reader = BufReader::new(stream).take(64 * 1024);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                if out.write_all(&line).is_err() {
                    break;
                }
                line.clear();
            }
        });
    }
    std::process::exit(0)
}

/// Who reaches whom: `(from, to) → reachable`, for every ordered pair `from ≠ to`.
pub type Matrix = BTreeMap<(NodeId, NodeId), bool>;

/// Probes every ordered pair of distinct nodes in parallel. `nodes` gives each node's
/// The `main` of a test-support echo binary: `<bin> ADDR:PORT` serves echo (bounded:
/// 10 000 connections, 10 minutes) and exits 254 on bad arguments, 1 if it cannot bind.
pub fn echo_main() -> ! {
    let Some(arg) = std::env::args().nth(1) else {
        eprintln!("usage: echo ADDR:PORT");
        std::process::exit(254);
    };
    let addr: SocketAddr = match arg.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("echo: {arg:?} is not ADDR:PORT: {e}");
            std::process::exit(254);
        }
    };
    match serve_echo(addr, 10_000, Duration::from_secs(600)) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("echo: serving on {addr}: {e}");
            std::process::exit(1);
        }
    }
}

/// namespace and echo address.
pub fn reachability(nodes: &[(NodeId, String, SocketAddr)], timeout: Duration) -> Matrix {
    let pairs: Vec<(NodeId, &str, NodeId, SocketAddr)> = nodes
        .iter()
        .flat_map(|(a, ns, _)| {
            nodes
                .iter()
                .filter(move |(b, _, _)| b != a)
                .map(move |(b, _, addr)| (*a, ns.as_str(), *b, *addr))
        })
        .collect();
    // At most PARALLEL probes at a time, so large clusters do not spawn n² threads.
    const PARALLEL: usize = 64;
    let mut m = Matrix::new();
    for chunk in pairs.chunks(PARALLEL) {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&(a, ns, b, addr)| {
                    s.spawn(move || ((a, b), wait::echo_round_trip(ns, addr, timeout)))
                })
                .collect();
            m.extend(
                handles
                    .into_iter()
                    .map(|h| h.join().expect("probe thread does not panic")),
            );
        });
    }
    m
}

/// The matrix a grudge-free network must show: everyone reaches everyone.
pub fn full_matrix(nodes: &[NodeId]) -> Matrix {
    let mut m = Matrix::new();
    for a in nodes {
        for b in nodes {
            if a != b {
                m.insert((*a, *b), true);
            }
        }
    }
    m
}

/// Renders a matrix as a table (`x` reachable, `.` not), rows = from, columns = to.
pub fn render(m: &Matrix) -> String {
    let mut nodes: Vec<NodeId> = m.keys().flat_map(|(a, b)| [*a, *b]).collect();
    nodes.sort();
    nodes.dedup();
    let mut out = String::from("from\\to");
    for n in &nodes {
        out.push_str(&format!(" {n:>4}"));
    }
    out.push('\n');
    for a in &nodes {
        out.push_str(&format!("{a:>7}"));
        for b in &nodes {
            let cell = match m.get(&(*a, *b)) {
                None => "-",
                Some(true) => "x",
                Some(false) => ".",
            };
            out.push_str(&format!(" {cell:>4}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_matrix_and_render() {
        let nodes = [NodeId::nth(1), NodeId::nth(2)];
        let mut m = full_matrix(&nodes);
        assert_eq!(m.len(), 2);
        m.insert((NodeId::nth(2), NodeId::nth(1)), false);
        assert_eq!(
            render(&m),
            "from\\to   n1   n2\n     n1    -    x\n     n2    .    -\n"
        );
    }
}
