//! [`Text`]: a string as (length, polynomial hash mod 2^61−1), so a kv value costs 16
//! bytes, appends are O(1) and comparisons are two word compares.
//!
//! `hash(s) = Σ (s[i]+1)·B^(n−1−i) mod p`, `p = 2^61−1` (a Mersenne prime), so
//! `hash(a ++ b) = hash(a)·B^|b| + hash(b)`. Two different strings of equal length
//! collide with probability ≤ n/p ≈ n·4.3e-19 (Karp–Rabin); the only effect of a
//! collision would be to accept a wrong read, never to reject a right one.

/// The Mersenne prime 2^61 − 1.
const P: u64 = (1 << 61) - 1;
/// The polynomial base (any fixed value in 2..P works; this one is odd and large).
const B: u64 = 0x0d6e_8fd9_3a1c_4b27 % P;

fn mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    let s = (r as u64 & P) + (r >> 61) as u64;
    let s = if s >= P { s - P } else { s };
    if s >= P {
        s - P
    } else {
        s
    }
}

fn add(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= P {
        s - P
    } else {
        s
    }
}

/// A string's digest: equal strings have equal `Text`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Text {
    len: u64,
    hash: u64,
}

/// A string ready to be appended: its digest and `B^len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suffix {
    text: Text,
    shift: u64,
}

impl Text {
    /// The empty string.
    pub const EMPTY: Text = Text { len: 0, hash: 0 };

    /// Digests `s`.
    pub fn of(s: &str) -> Text {
        let hash = s.bytes().fold(0, |h, b| add(mul(h, B), u64::from(b) + 1));
        Text {
            len: s.len() as u64,
            hash,
        }
    }

    /// The string's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `self ++ suffix`.
    pub fn append(&self, suffix: &Suffix) -> Text {
        Text {
            len: self.len + suffix.text.len,
            hash: add(mul(self.hash, suffix.shift), suffix.text.hash),
        }
    }
}

impl Suffix {
    /// Prepares `s` for appending.
    pub fn of(s: &str) -> Suffix {
        let shift = (0..s.len()).fold(1, |acc, _| mul(acc, B));
        Suffix {
            text: Text::of(s),
            shift,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_matches_digest_of_concatenation() {
        let parts = ["x 0 0 y", "", "x 12 3 y", "é∂"];
        let mut t = Text::EMPTY;
        let mut s = String::new();
        for p in parts {
            t = t.append(&Suffix::of(p));
            s.push_str(p);
            assert_eq!(t, Text::of(&s));
        }
        assert_ne!(Text::of("ab"), Text::of("ba"));
        assert_ne!(Text::of(""), Text::of("\0"));
        assert_eq!(Text::of("").len(), 0);
    }

    #[test]
    fn mul_is_canonical() {
        assert_eq!(mul(P - 1, P - 1), 1);
        assert_eq!(mul(0, P - 1), 0);
        assert!(mul(B, B) < P);
    }
}
