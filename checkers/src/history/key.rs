//! [`Key`]: the independent key an operation acts on (Jepsen's `independent` keys).
//!
//! Keys partition a history: a history is linearizable iff each key's sub-history is
//! (Herlihy & Wing's locality; Horn & Kroening's P-compositionality).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An independent key: an integer or a string, as the history spelled it.
///
/// Ordered (integers before strings) so per-key results are printed deterministically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Key {
    Int(i64),
    Str(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::Str(s.to_owned())
    }
}

impl From<i64> for Key {
    fn from(i: i64) -> Self {
        Key::Int(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_keeps_the_spelling() {
        assert_eq!(serde_json::to_string(&Key::from("7")).unwrap(), r#""7""#);
        assert_eq!(serde_json::to_string(&Key::from(7)).unwrap(), "7");
        assert_eq!(serde_json::from_str::<Key>("7").unwrap(), Key::Int(7));
        assert_eq!(
            serde_json::from_str::<Key>(r#""a""#).unwrap(),
            Key::from("a")
        );
        assert!(Key::Int(9) < Key::from("0"));
    }
}
