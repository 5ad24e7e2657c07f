//! Finds out whether a `consul` binary exists (on PATH, or named by
//! `FAULTLINE_CONSUL_BIN`), so the Consul integration test is ignored, with its reason,
//! where it cannot run.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(faultline_has_consul)");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=FAULTLINE_CONSUL_BIN");
    let named = std::env::var_os("FAULTLINE_CONSUL_BIN")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_file());
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("consul"))
            .find(|p| p.is_file())
    });
    if named.or(on_path).is_some() {
        println!("cargo::rustc-cfg=faultline_has_consul");
    }
}
