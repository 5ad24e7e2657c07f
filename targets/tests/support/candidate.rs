//! `faultline-candidate`: the same program as `faultline node candidate`, as a small
//! binary of the `targets` package so its integration tests can start candidates on
//! service nodes (`env!("CARGO_BIN_EXE_faultline-candidate")`) without building the
//! whole `faultline` binary.

use std::process::ExitCode;

use clap::Parser;

/// An election candidate service.
#[derive(Parser)]
#[command(name = "faultline-candidate")]
struct Cli {
    #[command(flatten)]
    args: targets::election::CandidateArgs,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 254 } else { 0 });
        }
    };
    match targets::election::run(cli.args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
