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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Instant;

    use harness::history::HistoryLog;
    use workloads::election::resource::Resource;

    use super::*;
    use crate::consul::fake::FakeConsul;

    fn args(target: System, ttl_ms: u64) -> CandidateArgs {
        CandidateArgs {
            name: "c1".into(),
            mode: Mode::Naive,
            target,
            nodes: vec![("n1".into(), "127.0.0.1:1".parse().unwrap())],
            home: 0,
            resource: "127.0.0.1:1".parse().unwrap(),
            ttl_ms,
            write_interval_ms: 100,
            lease_margin_ms: 400,
            start_timeout_ms: 100,
        }
    }

    #[test]
    fn a_consul_candidate_refuses_a_ttl_consul_cannot_grant() {
        let e = run(args(System::Consul, 2000)).unwrap_err().to_string();
        assert_eq!(
            e,
            "candidate c1: --ttl-ms 2000: Consul's session TTL must be within \
             10000..=86400000 ms (10 s to 86400 s)"
        );
    }

    async fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = probe() {
                return v;
            }
            assert!(Instant::now() < deadline, "{what}: not within 20 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Two naive candidates through the whole candidate loop on the fake Consul: the
    /// first leads; its session is destroyed; its next renewal says so and it steps
    /// down, and the next leader leads with a larger token.
    #[tokio::test]
    async fn consul_candidates_hand_over_when_the_leaders_session_ends() {
        let fake = FakeConsul::start().await;
        let dir = std::env::temp_dir().join(format!("fl-consul-cand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = Arc::new(HistoryLog::create(&dir.join("history.jsonl"), Instant::now()).unwrap());
        let resource = Resource::new(log, 0);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let resource_addr = listener.local_addr().unwrap();
        tokio::spawn(Arc::clone(&resource).serve(listener));
        let ttl = Duration::from_secs(10);
        let candidate = |name: &str| {
            let cfg = CandidateConfig {
                name: name.into(),
                mode: Mode::Naive,
                resource: resource_addr,
                write_interval: Duration::from_millis(50),
                lease_margin: Duration::from_millis(400),
                start_timeout: Duration::from_secs(5),
            };
            let kv = ConsulKv::new(
                &[fake.addr()],
                0,
                Duration::from_millis(500),
                ReadMode::Linearizable,
            )
            .unwrap();
            let recipe = ConsulRecipe::new(kv, election_name(Mode::Naive), name.into(), ttl);
            tokio::spawn(candidate::run(cfg, recipe))
        };
        let leaders = |r: &Resource| -> BTreeMap<String, u64> {
            r.leaders().get(&Mode::Naive).cloned().unwrap_or_default()
        };
        let c1 = candidate("c1");
        let t1 = until("c1 leads", || leaders(&resource).get("c1").copied()).await;
        let c2 = candidate("c2");
        until("c2 has campaigned", || {
            resource.starts().contains_key("c2").then_some(())
        })
        .await;
        let key = election_name(Mode::Naive);
        let held = fake
            .entry(&key)
            .and_then(|e| e.session)
            .expect("c1's session");
        fake.destroy(&held);
        // The next tenure: c2's, or c1's again if its campaign after stepping down came
        // first (both campaign every ttl/4); either way on a new session, with a larger
        // token.
        // (c1 steps down at its next renewal, up to ttl/3 after the destroy: until then a
        // naive c1 and a new leader overlap, as they would on Consul.)
        let t2 = until("c1 stepped down and a new tenure began", || {
            let l = leaders(&resource);
            if l.get("c1") == Some(&t1) {
                return None;
            }
            l.values().copied().find(|t| *t != t1)
        })
        .await;
        assert!(t2 > t1, "tokens increase: {t1} then {t2}");
        c1.abort();
        c2.abort();
        let bytes = std::fs::read(dir.join("history.jsonl")).unwrap();
        let (_, records) =
            checkers::format::read(&bytes, Some(checkers::format::Format::Jsonl)).unwrap();
        let events = checkers::election::events(&records).unwrap();
        let step_down = events
            .iter()
            .find_map(|e| match &e.what {
                checkers::election::What::StepDown { reason } if e.candidate == "c1" => {
                    Some(reason.clone())
                }
                _ => None,
            })
            .expect("c1 reported its step-down");
        assert!(step_down.contains("is gone"), "{step_down}");
        let report = checkers::election::check(&events, &[]);
        assert!(report.modes[0].token_order.is_empty(), "tokens increase");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
