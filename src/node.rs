//! `faultline node raft …` (scaffold: replaced by the bundled Raft work).
#[derive(Debug, clap::Args)]
pub struct NodeArgs {}
pub fn run(_: NodeArgs) -> anyhow::Result<u8> {
    anyhow::bail!("not built yet")
}
