//! `faultline node <program> …`: runs a bundled node program (hidden from top-level help;
//! the harness starts it on every node). The programs live in the `targets` crate; this
//! module only selects one and sets up logging to stderr.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct NodeArgs {
    #[command(subcommand)]
    pub program: NodeProgram,
}

#[derive(Debug, Subcommand)]
pub enum NodeProgram {
    /// A member of the bundled Raft key-value and lock service (see docs/raft.md).
    Raft(targets::raft::RaftArgs),
    /// A member of the bundled Zab key-value and lock service (see docs/zab.md).
    Zab(targets::zab::ZabArgs),
    /// An election candidate service (the election workload; see docs/election.md).
    Candidate(targets::election::CandidateArgs),
}

pub fn run(args: NodeArgs) -> anyhow::Result<u8> {
    targets::bundled::node::init_logging();
    match args.program {
        NodeProgram::Raft(a) => targets::raft::node::run(a),
        NodeProgram::Zab(a) => targets::zab::node::run(a),
        NodeProgram::Candidate(a) => targets::election::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        node: NodeArgs,
    }

    #[test]
    fn zab_is_a_node_program_with_its_own_bug_switches() {
        let argv = [
            "x",
            "zab",
            "--id",
            "n1",
            "--peers",
            "n1=127.0.0.1:7001",
            "--api",
            "127.0.0.1:8001",
            "--data-dir",
            "d",
            "--bug",
            "epoch-before-history",
        ];
        match Cli::try_parse_from(argv).expect("parses").node.program {
            NodeProgram::Zab(a) => {
                assert_eq!(a.bugs, vec![targets::zab::Bug::EpochBeforeHistory])
            }
            other => panic!("{other:?}"),
        }
        let mut raft_bug = argv;
        raft_bug[11] = "stale-read";
        assert!(Cli::try_parse_from(raft_bug).is_err(), "a Raft switch");
        let help = match Cli::try_parse_from(["x", "zab", "--help"]) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("--help prints help"),
        };
        for flag in ["--sync-limit-ms", "--init-limit-ms", "--late-write-ms"] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
        for bug in targets::zab::Bug::ALL {
            assert!(help.contains(bug.name()), "{bug} missing from:\n{help}");
        }
    }
}
