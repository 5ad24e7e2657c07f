//! The terminal's view of a run: one indicatif spinner naming the phase and, while
//! clients run, ops/s, the faults in force and the time left. Disabled (no output at
//! all) when stderr is not a terminal's business, e.g. in tests and `--no-progress`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::history::HistoryLog;

/// The run's spinner.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        let bar = if enabled {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    /// Names the current phase (setup, running, recovery, checking, …).
    pub fn phase(&self, msg: &str) {
        self.bar.set_message(msg.to_string());
    }

    /// While the returned guard lives, the message shows ops/s and faults in force.
    pub fn ticker(
        &self,
        log: Arc<HistoryLog>,
        faults: Arc<Mutex<BTreeSet<String>>>,
        limit: Duration,
    ) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let bar = self.bar.clone();
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut last = (Instant::now(), log.len());
            while !flag.load(Ordering::SeqCst) {
                // Pacing a display refresh, not waiting for a condition.
                std::thread::sleep(Duration::from_millis(250));
                let now = (Instant::now(), log.len());
                let dt = now.0.duration_since(last.0).as_secs_f64().max(1e-3);
                // Two history lines per op (invoke and completion).
                let rate = (now.1.saturating_sub(last.1)) as f64 / 2.0 / dt;
                last = now;
                let active = faults
                    .lock()
                    .map(|f| f.iter().cloned().collect::<Vec<_>>().join(","))
                    .unwrap_or_default();
                let left = limit.saturating_sub(start.elapsed()).as_secs();
                bar.set_message(format!(
                    "running: {} ops, {rate:.0} ops/s, faults: {}, {left} s left",
                    now.1 / 2,
                    if active.is_empty() { "none" } else { &active }
                ));
            }
        });
        Ticker {
            stop,
            thread: Some(thread),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Stops the running-phase display when dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
