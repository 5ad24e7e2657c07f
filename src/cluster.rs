//! `faultline cluster …` and `faultline clean` (scaffold: replaced by the runtime work).
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {}
#[derive(Debug, clap::Args)]
pub struct CleanArgs {}
pub fn run(_: ClusterArgs) -> anyhow::Result<u8> {
    anyhow::bail!("not built yet")
}
pub fn clean(_: CleanArgs) -> anyhow::Result<u8> {
    anyhow::bail!("not built yet")
}
