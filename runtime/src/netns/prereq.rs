//! Prerequisites of the namespace runtime: root, and the `ip` / `iptables` tools.
//!
//! ```text
//! check(): not root ──► error saying why root is needed
//!          tool missing ──► root on Debian/Ubuntu: apt-get install (announced on stderr)
//!                       └─► otherwise: error naming the package
//! ```

use std::path::{Path, PathBuf};

use crate::exec::{Cmd, Exec, ExecError};

/// A tool the runtime runs and the Debian package that ships it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tool {
    pub program: &'static str,
    pub package: &'static str,
}

/// Everything the runtime and the nemesis execute.
pub const TOOLS: &[Tool] = &[
    Tool {
        program: "ip",
        package: "iproute2",
    },
    Tool {
        program: "iptables",
        package: "iptables",
    },
    Tool {
        program: "iptables-restore",
        package: "iptables",
    },
];

#[derive(Debug, thiserror::Error)]
pub enum PrereqError {
    #[error(
        "faultline must run as root: it creates network namespaces, veth pairs and iptables \
         rules inside them (the host's own network is never changed); try `sudo faultline …`"
    )]
    NotRoot,
    #[error("`{program}` is missing; install the Debian/Ubuntu package `{package}` (e.g. `apt-get install {package}`)")]
    Missing {
        program: &'static str,
        package: &'static str,
    },
    #[error("installing {packages} with apt-get failed: {source}")]
    Install {
        packages: String,
        #[source]
        source: ExecError,
    },
}

/// Finds `program` in `PATH` (plus the sbin directories, which a non-login root shell
/// may lack).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The packages whose tools are missing, deduplicated, in `TOOLS` order.
pub fn missing_packages(found: impl Fn(&str) -> bool) -> Vec<Tool> {
    let mut missing: Vec<Tool> = Vec::new();
    for t in TOOLS {
        if !found(t.program) && !missing.iter().any(|m| m.package == t.package) {
            missing.push(*t);
        }
    }
    missing
}

/// Checks root and the tools; installs missing tools with apt-get when possible.
pub fn check(exec: &dyn Exec) -> Result<(), PrereqError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(PrereqError::NotRoot);
    }
    let missing = missing_packages(|p| which(p).is_some());
    let Some(first) = missing.first() else {
        return Ok(());
    };
    if which("apt-get").is_none() {
        return Err(PrereqError::Missing {
            program: first.program,
            package: first.package,
        });
    }
    let packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
    let list = packages.join(" ");
    eprintln!("faultline: installing {list} with apt-get (needed for network namespaces)");
    let install_err = |source| PrereqError::Install {
        packages: list.clone(),
        source,
    };
    let timeout = std::time::Duration::from_secs(600);
    exec.run(
        &Cmd::new("apt-get")
            .args(["update", "-qq"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .timeout(timeout),
    )
    .map_err(install_err)?;
    exec.run(
        &Cmd::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .timeout(timeout),
    )
    .map_err(install_err)?;
    match missing_packages(|p| which(p).is_some()).first() {
        Some(t) => Err(PrereqError::Missing {
            program: t.program,
            package: t.package,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_map_to_their_packages_once() {
        let none = missing_packages(|_| false);
        assert_eq!(
            none.iter().map(|t| t.package).collect::<Vec<_>>(),
            ["iproute2", "iptables"]
        );
        assert!(missing_packages(|_| true).is_empty());
        let only_restore = missing_packages(|p| p != "iptables-restore");
        assert_eq!(only_restore[0].program, "iptables-restore");
    }

    #[test]
    fn which_finds_sh() {
        assert!(which("sh").is_some());
        assert!(which("faultline-no-such-tool").is_none());
    }

    #[test]
    fn not_root_message_says_why() {
        let text = PrereqError::NotRoot.to_string();
        assert!(text.contains("root") && text.contains("network namespaces"));
    }
}
