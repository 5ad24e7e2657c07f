//! `faultline-raft-node`: the same node program as `faultline node raft`, as a small binary
//! of the `targets` package so its own integration tests and benchmarks can start real
//! node processes (`env!("CARGO_BIN_EXE_faultline-raft-node")`) without building the
//! whole `faultline` binary. Deployments use `faultline node raft`.

use std::process::ExitCode;

use clap::Parser;

/// A member of the bundled Raft key-value and lock service.
#[derive(Parser)]
#[command(name = "faultline-raft-node")]
struct Cli {
    #[command(flatten)]
    args: targets::raft::RaftArgs,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 254 } else { 0 });
        }
    };
    targets::bundled::node::init_logging();
    match targets::raft::node::run(cli.args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(255)
        }
    }
}
