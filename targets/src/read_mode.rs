//! How a target's register reads are served, and the `--read-mode` flag that names it.
//!
//! Real targets ([`ReadMode`]): linearizable reads go through the quorum (etcd's default
//! range, ZooKeeper's `sync` then read, Consul's `?consistent`); serializable reads are
//! answered from the contacted member's local state and may be stale. The second mode
//! exists to calibrate faultline: under partitions the register checker must catch its
//! stale reads.
//!
//! The bundled Zab serves ZooKeeper's three levels ([`ReadLevel`]): `quorum`
//! (linearizable, its default), `sync` (ZooKeeper's sync then read, not linearizable:
//! ZOOKEEPER-1675) and `local` (sequentially consistent only). The bundled Raft's reads
//! are all linearizable.
//!
//! ```text
//! --read-mode NAME ──► ReadModeArg ──► for_real() ─► ReadMode        (etcd, zookeeper, consul)
//!                                  ├─► for_zab()  ─► ReadLevel       (zab)
//!                                  └─► for_raft() ─► ()              (raft: linearizable only)
//! ```
//!
//! A name the target does not serve is an error that says which names it does.

pub use crate::bundled::request::ReadLevel;

/// Which reads the register clients of a real target make.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ReadMode {
    /// Quorum reads: linearizable.
    #[default]
    Linearizable,
    /// Local reads: may be stale.
    Serializable,
}

/// `--read-mode` as the user wrote it: every target's names in one flag.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ReadModeArg {
    /// etcd, ZooKeeper, Consul (their default) and the bundled Raft: quorum reads.
    Linearizable,
    /// etcd, ZooKeeper, Consul: local reads, may be stale (the calibration mode).
    Serializable,
    /// The bundled Zab (its default): the leader confirms its epoch with a quorum
    /// first; linearizable.
    Quorum,
    /// The bundled Zab: ZooKeeper's sync then read; not linearizable (ZOOKEEPER-1675).
    Sync,
    /// The bundled Zab: a plain read of the contacted node; sequentially consistent.
    Local,
}

impl ReadModeArg {
    pub fn name(self) -> &'static str {
        match self {
            ReadModeArg::Linearizable => "linearizable",
            ReadModeArg::Serializable => "serializable",
            ReadModeArg::Quorum => "quorum",
            ReadModeArg::Sync => "sync",
            ReadModeArg::Local => "local",
        }
    }

    /// The mode of a real target (`target` names it in the error); none given is
    /// linearizable.
    pub fn for_real(mode: Option<ReadModeArg>, target: &str) -> Result<ReadMode, String> {
        match mode {
            None | Some(ReadModeArg::Linearizable) => Ok(ReadMode::Linearizable),
            Some(ReadModeArg::Serializable) => Ok(ReadMode::Serializable),
            Some(other) => Err(refused(other, target, "linearizable, serializable")),
        }
    }

    /// The bundled Zab's read level; none given is `quorum`.
    pub fn for_zab(mode: Option<ReadModeArg>) -> Result<ReadLevel, String> {
        match mode {
            None | Some(ReadModeArg::Quorum) => Ok(ReadLevel::Quorum),
            Some(ReadModeArg::Sync) => Ok(ReadLevel::Sync),
            Some(ReadModeArg::Local) => Ok(ReadLevel::Local),
            Some(other) => Err(refused(other, "zab", "quorum (the default), sync, local")),
        }
    }

    /// The bundled Raft serves linearizable reads only (`linearizable` or `quorum`).
    pub fn for_raft(mode: Option<ReadModeArg>) -> Result<(), String> {
        match mode {
            None | Some(ReadModeArg::Linearizable | ReadModeArg::Quorum) => Ok(()),
            Some(other) => Err(refused(
                other,
                "raft",
                "linearizable (the only one; `quorum` is a synonym)",
            )),
        }
    }
}

impl From<ReadMode> for ReadModeArg {
    fn from(m: ReadMode) -> ReadModeArg {
        match m {
            ReadMode::Linearizable => ReadModeArg::Linearizable,
            ReadMode::Serializable => ReadModeArg::Serializable,
        }
    }
}

impl std::fmt::Display for ReadModeArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn refused(mode: ReadModeArg, target: &str, served: &str) -> String {
    format!("--read-mode {mode} is not served by --target {target}; it serves: {served}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn each_target_takes_its_own_names_and_refuses_the_others_by_name() {
        assert_eq!(ReadModeArg::for_zab(None), Ok(ReadLevel::Quorum));
        assert_eq!(
            ReadModeArg::for_zab(Some(ReadModeArg::Sync)),
            Ok(ReadLevel::Sync)
        );
        assert_eq!(
            ReadModeArg::for_zab(Some(ReadModeArg::Local)),
            Ok(ReadLevel::Local)
        );
        let e = ReadModeArg::for_zab(Some(ReadModeArg::Serializable)).unwrap_err();
        assert_eq!(
            e,
            "--read-mode serializable is not served by --target zab; it serves: quorum (the default), sync, local"
        );
        assert_eq!(
            ReadModeArg::for_real(None, "etcd"),
            Ok(ReadMode::Linearizable)
        );
        assert_eq!(
            ReadModeArg::for_real(Some(ReadModeArg::Serializable), "consul"),
            Ok(ReadMode::Serializable)
        );
        let e = ReadModeArg::for_real(Some(ReadModeArg::Sync), "etcd").unwrap_err();
        assert!(
            e.starts_with("--read-mode sync is not served by --target etcd"),
            "{e}"
        );
        assert!(ReadModeArg::for_raft(Some(ReadModeArg::Quorum)).is_ok());
        assert!(ReadModeArg::for_raft(Some(ReadModeArg::Local)).is_err());
        // Every name parses as clap and serde spell it.
        for m in ReadModeArg::value_variants() {
            assert_eq!(
                ReadModeArg::from_str(m.name(), false).as_ref(),
                Ok(m),
                "{m}"
            );
            let json = serde_json::to_string(m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
        // A stored real-target mode reads back as the same name.
        let old: ReadModeArg = serde_json::from_str("\"serializable\"").unwrap();
        assert_eq!(old, ReadModeArg::from(ReadMode::Serializable));
    }
}
