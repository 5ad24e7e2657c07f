//! [`Memo`]: the set of (linearized calls, state) configurations already explored.
//!
//! Lowe's "Testing for linearizability" (2017, §4) and Horn & Kroening's
//! "Faster linearizability checking via P-compositionality" (FORTE 2015, §5): a
//! configuration reached twice has the same future, so the second visit is cut.
//! The set is a `hashbrown::HashTable` of slots whose bitset windows live in one arena;
//! the caller passes a precomputed hash (Zobrist hash of the bitset, maintained
//! incrementally, mixed with the state's hash), so a lookup allocates nothing and
//! equality is exact (window + state), never hash-only. Only the window of the bitset
//! between the first not-full and the last non-zero word is stored, so an entry costs
//! a few words whatever the history's length (Porcupine clones the whole bitset).

use std::hash::{Hash, Hasher};

use hashbrown::HashTable;

struct Slot<S> {
    hash: u64,
    /// The window's first word index and length (see `Search::window`).
    lo: u32,
    len: u32,
    /// Where the window's words start in the arena.
    at: usize,
    state: S,
}

/// The explored-configurations set.
pub(crate) struct Memo<S> {
    table: HashTable<Slot<S>>,
    arena: Vec<u64>,
}

impl<S: Eq + Hash> Memo<S> {
    pub(crate) fn new() -> Self {
        Memo {
            table: HashTable::new(),
            arena: Vec::new(),
        }
    }

    /// Inserts the configuration (linearized set given as the canonical window
    /// `lo`, `words`; `bits_hash` its Zobrist hash); false if it was already there.
    pub(crate) fn insert(&mut self, bits_hash: u64, lo: u32, words: &[u64], state: &S) -> bool
    where
        S: Clone,
    {
        let hash = mix(bits_hash ^ state_hash(state));
        let Memo { table, arena } = self;
        let len = words.len() as u32;
        let entry = table.entry(
            hash,
            |s| {
                s.hash == hash
                    && s.lo == lo
                    && s.len == len
                    && s.state == *state
                    && arena.get(s.at..s.at + words.len()) == Some(words)
            },
            |s| s.hash,
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(v) => {
                let at = arena.len();
                arena.extend_from_slice(words);
                v.insert(Slot {
                    hash,
                    lo,
                    len,
                    at,
                    state: state.clone(),
                });
                true
            }
        }
    }

    /// Configurations stored.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes held (capacity, not just length: that is what the allocator gave us).
    pub(crate) fn bytes(&self) -> usize {
        self.arena.capacity() * 8 + self.table.capacity() * (std::mem::size_of::<Slot<S>>() + 1)
    }

    /// Frees everything.
    pub(crate) fn clear(&mut self) {
        self.table = HashTable::new();
        self.arena = Vec::new();
    }
}

/// FxHash-style hasher for states (small, `Copy` values): one multiply per word.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn state_hash<S: Hash>(s: &S) -> u64 {
    let mut h = FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

/// SplitMix64's finalizer: spreads entropy to the top bits hashbrown's tags use.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_visit_is_cut_and_equality_is_exact() {
        let mut m: Memo<Option<i64>> = Memo::new();
        assert!(m.insert(7, 0, &[1, 0], &Some(1)));
        assert!(!m.insert(7, 0, &[1, 0], &Some(1)));
        // Same hash, different bits, window or state: distinct configurations.
        assert!(m.insert(7, 0, &[2, 0], &Some(1)));
        assert!(m.insert(7, 1, &[1, 0], &Some(1)));
        assert!(m.insert(7, 0, &[1], &Some(1)));
        assert!(m.insert(7, 0, &[1, 0], &Some(2)));
        assert_eq!(m.len(), 5);
        assert!(m.bytes() > 0);
        m.clear();
        assert_eq!(m.len(), 0);
    }
}
