//! [`Search`]: Wing & Gong's depth-first search for a linearization, with Lowe's
//! just-in-time linearization and the memo of Horn & Kroening, made resumable.
//!
//! ```text
//! entries (dancing-links list, history order):  c0 c1 r0 c2 r1 r2 … r∞
//!   call entry  → try to linearize it now: step(state) ok and configuration new?
//!                   yes: push (call, old state), lift its two entries, restart at head
//!                   no : try the next entry
//!   return entry → its call should already be linearized: backtrack (pop, unlift,
//!                   continue after the popped call)
//!   empty list  → linearizable;  return entry with empty stack → illegal
//! ```
//! Indeterminate calls have their return entry at the end (r∞): they may be linearized
//! anywhere after their invocation, and being linearized after every determinate call
//! is the same as never taking effect.
//!
//! [`Search::run`] performs at most `steps` iterations and returns, so a scheduler can
//! interleave many keys on a few threads and stop them all at once.
//!
//! References: Wing & Gong, "Testing and verifying concurrent objects" (1993); Lowe,
//! "Testing for linearizability" (2017), §3–4; Horn & Kroening, "Faster linearizability
//! checking via P-compositionality" (2015); Porcupine's `checker.go`.

use super::memo::{mix, Memo};
use super::partition::Partition;
use crate::model::Model;

/// What a search slice ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    Running,
    Linearizable,
    Illegal,
}

/// A resumable search over one partition.
pub(crate) struct Search<'m, M: Model> {
    model: &'m M,
    pub(crate) part: Partition<M::Call>,
    next: Vec<u32>,
    prev: Vec<u32>,
    head: u32,
    bits: Vec<u64>,
    /// The linearized set, canonically and compactly: every call in words `< lo` is
    /// linearized, none after word `hi`, so the memo stores only `bits[lo..=hi]` (the
    /// concurrency window, usually a word or two), not all `n/64` words.
    /// First word of `bits` that is not all ones.
    lo: usize,
    /// Last word of `bits` that is not zero (0 when none is).
    hi: usize,
    bits_hash: u64,
    zobrist: Vec<u64>,
    state: M::State,
    stack: Vec<(u32, M::State)>,
    cursor: u32,
    memo: Memo<M::State>,
    /// The longest linearized prefix seen (call ids, in order).
    pub(crate) best: Vec<u32>,
    /// `stack[..agree]` and `best[..agree]` hold the same calls.
    agree: usize,
    pub(crate) steps: u64,
    pub(crate) done: Option<Progress>,
}

impl<'m, M: Model> Search<'m, M> {
    pub(crate) fn new(model: &'m M, part: Partition<M::Call>) -> Self {
        let n = part.calls.len();
        // Entry 2i is call i's invocation, 2i+1 its return; 2n is the head, 2n+1 the tail.
        let mut order: Vec<(usize, u32)> = Vec::with_capacity(2 * n);
        for (i, c) in part.calls.iter().enumerate() {
            order.push((c.invoke, 2 * i as u32));
            order.push((c.ret.unwrap_or(usize::MAX), 2 * i as u32 + 1));
        }
        // Indeterminate returns tie at usize::MAX; the entry id keeps them in call order.
        order.sort_unstable();
        let head = 2 * n as u32;
        let tail = head + 1;
        let mut next = vec![tail; 2 * n + 2];
        let mut prev = vec![head; 2 * n + 2];
        let mut last = head;
        for &(_, e) in &order {
            next[last as usize] = e;
            prev[e as usize] = last;
            last = e;
        }
        next[last as usize] = tail;
        prev[tail as usize] = last;
        let words = n.div_ceil(64).max(1);
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let zobrist = (0..n)
            .map(|_| {
                seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
                mix(seed)
            })
            .collect();
        Search {
            model,
            part,
            cursor: next[head as usize],
            next,
            prev,
            head,
            bits: vec![0; words],
            lo: 0,
            hi: 0,
            bits_hash: 0,
            zobrist,
            state: model.init(),
            stack: Vec::new(),
            memo: Memo::new(),
            best: Vec::new(),
            agree: 0,
            steps: 0,
            done: if n == 0 {
                Some(Progress::Linearizable)
            } else {
                None
            },
        }
    }

    fn lift(&mut self, id: u32) {
        for e in [2 * id, 2 * id + 1] {
            let (p, n) = (self.prev[e as usize], self.next[e as usize]);
            self.next[p as usize] = n;
            self.prev[n as usize] = p;
        }
    }

    fn unlift(&mut self, id: u32) {
        for e in [2 * id + 1, 2 * id] {
            let (p, n) = (self.prev[e as usize], self.next[e as usize]);
            self.next[p as usize] = e;
            self.prev[n as usize] = e;
        }
    }

    fn flip(&mut self, id: u32) {
        let w = id as usize / 64;
        let mask = 1u64 << (id % 64);
        self.bits[w] ^= mask;
        self.bits_hash ^= self.zobrist[id as usize];
        if self.bits[w] & mask != 0 {
            self.hi = self.hi.max(w);
            while self.bits.get(self.lo) == Some(&u64::MAX) {
                self.lo += 1;
            }
        } else {
            self.lo = self.lo.min(w);
            while self.hi > 0 && self.bits[self.hi] == 0 {
                self.hi -= 1;
            }
        }
    }

    /// Runs at most `steps` iterations.
    pub(crate) fn run(&mut self, steps: u64) -> Progress {
        if let Some(done) = self.done {
            return done;
        }
        let tail = self.head + 1;
        for _ in 0..steps {
            self.steps += 1;
            if self.next[self.head as usize] == tail {
                return self.finish(Progress::Linearizable);
            }
            let e = self.cursor;
            let id = e / 2;
            if e & 1 == 0 {
                let call = &self.part.calls[id as usize].call;
                if let Some(next_state) = self.model.step(&self.state, call) {
                    self.flip(id);
                    let (lo, hi) = (self.lo, self.hi);
                    let window = if lo <= hi {
                        &self.bits[lo..=hi]
                    } else {
                        &[][..]
                    };
                    if self
                        .memo
                        .insert(self.bits_hash, lo as u32, window, &next_state)
                    {
                        let old = std::mem::replace(&mut self.state, next_state);
                        self.stack.push((id, old));
                        self.lift(id);
                        let depth = self.stack.len();
                        if self.agree == depth - 1 && self.best.get(depth - 1) == Some(&id) {
                            self.agree = depth;
                        }
                        if depth > self.best.len() {
                            // Copy only what differs from the last best prefix: O(1)
                            // per step while the search dives without backtracking.
                            self.best.truncate(self.agree);
                            self.best
                                .extend(self.stack[self.agree..].iter().map(|(i, _)| *i));
                            self.agree = depth;
                        }
                        self.cursor = self.next[self.head as usize];
                        continue;
                    }
                    self.flip(id);
                }
                self.cursor = self.next[e as usize];
            } else {
                let Some((popped, state)) = self.stack.pop() else {
                    return self.finish(Progress::Illegal);
                };
                self.state = state;
                self.agree = self.agree.min(self.stack.len());
                self.flip(popped);
                self.unlift(popped);
                self.cursor = self.next[2 * popped as usize];
            }
        }
        Progress::Running
    }

    fn finish(&mut self, p: Progress) -> Progress {
        self.done = Some(p);
        self.release();
        p
    }

    /// Frees the memo and stacks (the partition and best prefix stay for reports).
    pub(crate) fn release(&mut self) {
        self.memo.clear();
        self.stack = Vec::new();
        self.next = Vec::new();
        self.prev = Vec::new();
    }

    /// Bytes of search memory held now.
    pub(crate) fn bytes(&self) -> usize {
        self.memo.bytes()
            + self.stack.capacity() * std::mem::size_of::<(u32, M::State)>()
            + (self.next.capacity() + self.prev.capacity()) * 4
            + self.bits.capacity() * 8
            + self.zobrist.capacity() * 8
    }

    /// Configurations memoized so far.
    pub(crate) fn memo_len(&self) -> usize {
        self.memo.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::partition::PartCall;
    use super::*;
    use crate::model::{CasOp, CasRegister, Completion, Model};

    fn part(
        calls: Vec<(CasOp, Option<CasOp>, usize, Option<usize>)>,
    ) -> Partition<<CasRegister as Model>::Call> {
        let m = CasRegister;
        let calls = calls
            .into_iter()
            .filter_map(|(i, o, inv, ret)| {
                let c = match &o {
                    Some(o) => Completion::Ok(o),
                    None => Completion::Indeterminate,
                };
                m.call(&i, c).map(|call| PartCall {
                    call,
                    invoke: inv,
                    ret,
                })
            })
            .collect();
        Partition {
            key: None,
            calls,
            recorded: 0,
        }
    }

    #[test]
    fn concurrent_write_and_read_are_linearizable() {
        // w1 [0,3], r→1 [1,2]
        let p = part(vec![
            (CasOp::Write(1), Some(CasOp::Write(1)), 0, Some(3)),
            (CasOp::Read(None), Some(CasOp::Read(Some(1))), 1, Some(2)),
        ]);
        let m = CasRegister;
        assert_eq!(Search::new(&m, p).run(1000), Progress::Linearizable);
    }

    #[test]
    fn read_before_write_is_illegal_and_reports_a_prefix() {
        // w1 [0,1], then r→nil [2,3]
        let p = part(vec![
            (CasOp::Write(1), Some(CasOp::Write(1)), 0, Some(1)),
            (CasOp::Read(None), Some(CasOp::Read(None)), 2, Some(3)),
        ]);
        let m = CasRegister;
        let mut s = Search::new(&m, p);
        assert_eq!(s.run(1000), Progress::Illegal);
        assert_eq!(s.best, vec![0]);
    }

    #[test]
    fn indeterminate_write_may_happen_late_or_never() {
        // w1 indeterminate from 0; r→nil [1,2]; r→1 [3,4]
        let p = part(vec![
            (CasOp::Write(1), None, 0, None),
            (CasOp::Read(None), Some(CasOp::Read(None)), 1, Some(2)),
            (CasOp::Read(None), Some(CasOp::Read(Some(1))), 3, Some(4)),
        ]);
        let m = CasRegister;
        assert_eq!(Search::new(&m, p).run(1000), Progress::Linearizable);
        let never = part(vec![
            (CasOp::Write(1), None, 0, None),
            (CasOp::Read(None), Some(CasOp::Read(None)), 1, Some(2)),
        ]);
        assert_eq!(Search::new(&m, never).run(1000), Progress::Linearizable);
    }

    #[test]
    fn run_is_resumable() {
        let p = part(vec![
            (CasOp::Write(1), Some(CasOp::Write(1)), 0, Some(4)),
            (CasOp::Write(2), Some(CasOp::Write(2)), 1, Some(5)),
            (CasOp::Read(None), Some(CasOp::Read(Some(1))), 2, Some(6)),
            (CasOp::Read(None), Some(CasOp::Read(Some(2))), 3, Some(7)),
            (CasOp::Read(None), Some(CasOp::Read(Some(3))), 8, Some(9)),
        ]);
        let m = CasRegister;
        let mut s = Search::new(&m, p);
        let mut slices = 0;
        while s.run(1) == Progress::Running {
            slices += 1;
            assert!(slices < 10_000);
        }
        assert_eq!(s.done, Some(Progress::Illegal));
    }
}
