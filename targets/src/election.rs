//! `faultline node candidate …`: an election candidate service (the `election`
//! workload's node program), with each system's recipe.
//!
//! ```text
//! CandidateArgs ──► recipe for --target ──► workloads::election::candidate::run
//!   raft: LockRecipe over RaftKv (acquire the election's lock with a lease; renew by
//!         acquiring again as the same client; tokens are grant positions)
//!   zab:  the same over ZabKv (the lease is the client's session timeout; tokens are
//!         zxids)
//!   etcd: EtcdRecipe (lease + keepalive + create-if-absent; tokens are the revision
//!         that created the election key): crate::etcd::election
//!   zookeeper: ZkRecipe (ephemeral sequential znode, watch on the predecessor, the
//!         session timeout as the lease; tokens are the znode's czxid):
//!         crate::zookeeper::election
//!   consul: ConsulRecipe (a session with the ttl, KV acquire of the election key,
//!         session renewals; tokens are the key's ModifyIndex after the acquire):
//!         crate::consul::election
//! ```
//!
//! The candidate's client identity is its name plus its process id, so a restarted
//! candidate is a new client to the service (the old incarnation's lease must run out).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use workloads::election::candidate::{self, CandidateConfig, LockRecipe};
use workloads::election::{election_name, Mode};

use crate::consul::election::ConsulRecipe;
use crate::consul::ConsulKv;
use crate::etcd::election::EtcdRecipe;
use crate::etcd::{EtcdKv, ReadMode};
use crate::raft::deploy::{RaftKv, HOP_TIMEOUT};
use crate::zab::deploy::ZabKv;
use crate::zookeeper::election::ZkRecipe;

/// The systems a candidate can campaign on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum System {
    /// The bundled Raft's lock API with a lease.
    Raft,
    /// The bundled Zab's lock API (a session with a timeout).
    Zab,
    /// etcd: a lease with keepalives and a create-if-absent key.
    Etcd,
    /// ZooKeeper: an ephemeral sequential znode, a watch on the predecessor, the session
    /// timeout as the lease.
    Zookeeper,
    /// Consul: a session with a TTL (10 s to 86400 s) and a KV acquire of the election's
    /// key.
    Consul,
}

/// Flags of `faultline node candidate`.
#[derive(Debug, Clone, Args)]
pub struct CandidateArgs {
    /// This candidate's name in reports (`c1`, …).
    #[arg(long)]
    pub name: String,
    /// naive, lease or fenced.
    #[arg(long, value_parser = Mode::parse)]
    pub mode: Mode,
    /// The coordination system.
    #[arg(long, value_enum)]
    pub target: System,
    /// The system's client endpoints: `n1=198.18.0.1:8080,…`.
    #[arg(long, value_delimiter = ',', value_parser = parse_endpoint)]
    pub nodes: Vec<(String, SocketAddr)>,
    /// Which of `--nodes` to talk to first.
    #[arg(long, default_value_t = 0)]
    pub home: usize,
    /// The resource on the controller (`ADDR:PORT`).
    #[arg(long)]
    pub resource: SocketAddr,
    #[arg(long, default_value_t = 2000)]
    pub ttl_ms: u64,
    #[arg(long, default_value_t = 100)]
    pub write_interval_ms: u64,
    #[arg(long, default_value_t = 400)]
    pub lease_margin_ms: u64,
    /// How long the service may take to answer at start.
    #[arg(long, default_value_t = 15_000)]
    pub start_timeout_ms: u64,
}

fn parse_endpoint(s: &str) -> Result<(String, SocketAddr), String> {
    let (name, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=ADDR:PORT"))?;
    let addr = addr
        .parse()
        .map_err(|e| format!("{s:?}: bad address {addr:?}: {e}"))?;
    Ok((name.to_string(), addr))
}

/// Runs the candidate until the resource hangs up; exit code 0, or an error naming the
/// candidate (unreachable service, resource gone).
pub fn run(args: CandidateArgs) -> anyhow::Result<u8> {
    let cfg = CandidateConfig {
        name: args.name.clone(),
        mode: args.mode,
        resource: args.resource,
        write_interval: Duration::from_millis(args.write_interval_ms),
        lease_margin: Duration::from_millis(args.lease_margin_ms),
        start_timeout: Duration::from_millis(args.start_timeout_ms),
    };
    let ttl = Duration::from_millis(args.ttl_ms);
    let client = format!("{}-{}", args.name, std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the candidate's runtime")?;
    match args.target {
        System::Raft => {
            let kv = RaftKv::new(&args.nodes, args.home, HOP_TIMEOUT)
                .map_err(|e| anyhow::anyhow!("candidate {}: {e}", args.name))?;
            let recipe = LockRecipe::new(kv, election_name(args.mode), client, ttl);
            rt.block_on(candidate::run(cfg, recipe))?;
        }
        System::Zab => {
            let kv = ZabKv::new(&args.nodes, args.home, HOP_TIMEOUT)
                .map_err(|e| anyhow::anyhow!("candidate {}: {e}", args.name))?;
            let recipe = LockRecipe::new(kv, election_name(args.mode), client, ttl);
            rt.block_on(candidate::run(cfg, recipe))?;
        }
        System::Etcd => {
            let addrs: Vec<SocketAddr> = args.nodes.iter().map(|(_, a)| *a).collect();
            let kv = EtcdKv::new(&addrs, args.home, HOP_TIMEOUT, ReadMode::Linearizable)
                .map_err(|e| anyhow::anyhow!("candidate {}: {e}", args.name))?;
            let recipe = EtcdRecipe::new(kv, election_name(args.mode), client, ttl);
            rt.block_on(candidate::run(cfg, recipe))?;
        }
        System::Zookeeper => {
            let addrs: Vec<SocketAddr> = args.nodes.iter().map(|(_, a)| *a).collect();
            let recipe =
                ZkRecipe::new(&addrs, &election_name(args.mode), &client, ttl, HOP_TIMEOUT);
            rt.block_on(candidate::run(cfg, recipe))?;
        }
        System::Consul => {
            crate::consul::check_session_ttl(ttl)
                .map_err(|e| anyhow::anyhow!("candidate {}: --ttl-ms {e}", args.name))?;
            let addrs: Vec<SocketAddr> = args.nodes.iter().map(|(_, a)| *a).collect();
            let kv = ConsulKv::new(&addrs, args.home, HOP_TIMEOUT, ReadMode::Linearizable)
                .map_err(|e| anyhow::anyhow!("candidate {}: {e}", args.name))?;
            let recipe = ConsulRecipe::new(kv, election_name(args.mode), client, ttl);
            rt.block_on(candidate::run(cfg, recipe))?;
        }
    }
    Ok(0)
}
