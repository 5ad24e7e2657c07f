//! `faultline serve`: a read-only web UI over a store (runs newest first with their
//! verdicts; each run's files browsable). All the serving lives in
//! `report::serve`; this module only parses flags.
//!
//! Exit codes: 0 after Ctrl-C, 254 bad flags (clap), 255 when the address cannot be
//! bound or serving fails.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::exit;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store to serve.
    #[arg(long, value_name = "DIR", default_value = "store")]
    store: PathBuf,
    /// Address to listen on (loopback by default; anything else is reachable from
    /// other machines).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
}

pub fn run(args: ServeArgs) -> anyhow::Result<u8> {
    report::serve::serve_blocking(args.store, args.bind)?;
    Ok(exit::VALID)
}
