//! `faultline check` and `faultline export` (scaffold: replaced by the checker work).
#[derive(Debug, clap::Args)]
pub struct CheckArgs {}
#[derive(Debug, clap::Args)]
pub struct ExportArgs {}
pub fn run(_: CheckArgs) -> anyhow::Result<u8> {
    anyhow::bail!("not built yet")
}
pub fn export(_: ExportArgs) -> anyhow::Result<u8> {
    anyhow::bail!("not built yet")
}
