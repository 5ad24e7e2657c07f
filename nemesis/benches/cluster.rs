//! Timings of the namespace runtime and the nemesis (root required):
//! 5-node `Cluster::up` and `down`, and a majorities-ring partition applied and healed.
//! Targets from issue 3: up < 2 s, down < 1 s, partition apply/heal < 200 ms.
//!
//! `cargo bench -p nemesis --bench cluster` — prints min / median / max per step.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nemesis::{Fault, FaultKind, FaultOutcome, Nemesis, PartitionKind};
use runtime::netns::Cluster;

const ROUNDS: usize = 10;

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name:<28} min {:>8.1} ms   median {:>8.1} ms   max {:>8.1} ms   (n={})",
        v[0].as_secs_f64() * 1e3,
        v[v.len() / 2].as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3,
        v.len()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (mut ups, mut downs, mut applies, mut heals) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let run = format!("bench{:x}-{round}", std::process::id());
        let t = Instant::now();
        let cluster = Arc::new(Cluster::up(&run, 5).expect("cluster up"));
        ups.push(t.elapsed());
        let mut nem = Nemesis::new(cluster.clone(), round as u64);
        for _ in 0..3 {
            let t = Instant::now();
            let e = nem.start(&Fault::Partition {
                kind: PartitionKind::MajoritiesRing,
            });
            applies.push(t.elapsed());
            assert_eq!(e.outcome, FaultOutcome::Installed, "{e}");
            let t = Instant::now();
            let e = nem.stop(FaultKind::Partition);
            heals.push(t.elapsed());
            assert_eq!(e.outcome, FaultOutcome::Installed, "{e}");
        }
        drop(nem);
        let cluster = Arc::try_unwrap(cluster).expect("sole owner");
        let t = Instant::now();
        cluster.down().expect("cluster down");
        downs.push(t.elapsed());
    }
    summary("5-node up", ups);
    summary("5-node down", downs);
    summary("partition apply (5 nodes)", applies);
    summary("partition heal (5 nodes)", heals);
}
