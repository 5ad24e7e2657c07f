//! The flags every bundled node program shares (`faultline node raft|zab …`): who the
//! node is, who its peers are, where it serves and stores, how long a tick is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::bail;

use super::types::NodeId;

/// `ID=HOST:PORT`: a cluster member and its peer address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSpec {
    pub id: NodeId,
    pub addr: SocketAddr,
}

impl FromStr for PeerSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (id, addr) = s
            .split_once('=')
            .ok_or_else(|| format!("expected ID=HOST:PORT, got {s:?}"))?;
        if id.is_empty() {
            return Err(format!("empty node id in {s:?}"));
        }
        let addr = addr
            .parse()
            .map_err(|e| format!("bad address in {s:?}: {e}"))?;
        Ok(PeerSpec {
            id: NodeId::new(id),
            addr,
        })
    }
}

impl std::fmt::Display for PeerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.id, self.addr)
    }
}

/// Flags of every bundled node program.
#[derive(Clone, Debug, clap::Args)]
pub struct NodeFlags {
    /// This node's id; must be one of the ids in --peers.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// Every cluster member, this node included, as ID=IP:PORT of its peer listener;
    /// comma-separated or repeated (e.g. n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003).
    #[arg(
        long,
        value_name = "ID=IP:PORT",
        value_delimiter = ',',
        required = true
    )]
    pub peers: Vec<PeerSpec>,
    /// Address to serve the HTTP+JSON client API on (e.g. 127.0.0.1:8001).
    #[arg(long, value_name = "IP:PORT")]
    pub api: SocketAddr,
    /// Address to bind the peer listener on [default: this node's address in --peers].
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<SocketAddr>,
    /// Directory holding the durable log and state (created if missing). A corrupt
    /// directory is an error, never silently reset.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Length of one logical tick.
    #[arg(long, value_name = "MS", default_value_t = 10)]
    pub tick_ms: u64,
    /// How long the API waits for the cluster before answering "timeout" (indeterminate).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub request_timeout_ms: u64,
    /// Seed of the core's RNG [default: derived from the id, pid and clock].
    #[arg(long)]
    pub seed: Option<u64>,
}

impl NodeFlags {
    /// The argv (after `faultline node <program>`) that reproduces these flags.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--id".into(),
            self.id.clone(),
            "--peers".into(),
            self.peers
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(","),
            "--api".into(),
            self.api.to_string(),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
        ];
        if let Some(l) = self.listen {
            a.extend(["--listen".into(), l.to_string()]);
        }
        a.extend(["--tick-ms".into(), self.tick_ms.to_string()]);
        a.extend([
            "--request-timeout-ms".into(),
            self.request_timeout_ms.to_string(),
        ]);
        if let Some(s) = self.seed {
            a.extend(["--seed".into(), s.to_string()]);
        }
        a
    }

    /// This node's id and every member's, checked: no id twice, this node among them.
    pub fn members(&self) -> anyhow::Result<(NodeId, Vec<NodeId>)> {
        let id = NodeId::new(self.id.clone());
        let members: Vec<NodeId> = self.peers.iter().map(|p| p.id.clone()).collect();
        let mut sorted = members.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != members.len() {
            bail!("--peers lists a node id twice");
        }
        if !members.contains(&id) {
            bail!("--id {id} is not among --peers");
        }
        if self.tick_ms == 0 {
            bail!("--tick-ms must be positive");
        }
        Ok((id, members))
    }

    /// `--seed`, or one derived from the id, the process id and the clock.
    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let id_hash = self.id.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100000001b3)
            });
            id_hash ^ nanos ^ ((std::process::id() as u64) << 32)
        })
    }

    /// Whole ticks in `ms` milliseconds (rounded down).
    pub fn ticks(&self, ms: u64) -> u64 {
        ms / self.tick_ms.max(1)
    }
}

/// Logs to stderr at `RUST_LOG` (default `info`), without colours: what every node
/// program does before it runs.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
