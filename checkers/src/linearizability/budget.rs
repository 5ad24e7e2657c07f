//! [`Budget`]: how much time and memory a check may use before answering Unknown.

use std::time::Duration;

/// Limits for one check. Exceeding either turns the keys still being searched into
/// [`Validity::Unknown`](crate::verdict::Validity) instead of running away (Knossos
/// and Porcupine have no such bound; etcd's robustness suite hit a 40 GB OOM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock limit for the whole check.
    pub time_limit: Duration,
    /// Limit on the search's own memory (memo tables, bitsets, stacks), in bytes.
    pub memory_limit: u64,
}

impl Default for Budget {
    /// 60 s and 1 GiB, the `faultline check` defaults.
    fn default() -> Self {
        Budget {
            time_limit: Duration::from_secs(60),
            memory_limit: 1 << 30,
        }
    }
}

/// How a check runs, beyond its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub budget: Budget,
    /// Worker threads; 0 means the machine's available parallelism.
    pub threads: usize,
    /// Keep searching the other keys after one is found illegal (slower, but every key
    /// gets a verdict if the budget allows). Default: stop at the first illegal key.
    pub all_keys: bool,
}
