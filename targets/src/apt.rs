//! Installing a real target's Debian package when its program is missing.
//!
//! ```text
//! ensure(program, package) ─► found on PATH (or where the package puts it) ─► path
//!                          └─► root + apt-get: install (announced on stderr), services
//!                              kept from starting, then look again
//! ```
//!
//! Debian's `etcd-server` and `zookeeper` packages start a system service on install.
//! faultline never uses those: its nodes run their own processes inside namespaces.
//! So the install runs with a `policy-rc.d` that forbids starting services (exit 101,
//! honoured by `invoke-rc.d` and `deb-systemd-invoke`) unless one is already in place,
//! and, where systemd runs, the package's units are stopped and disabled afterwards.
//! Nothing is left listening on the host's interfaces.

use std::path::{Path, PathBuf};
use std::time::Duration;

use runtime::exec::{Cmd, Exec, RealExec};
use runtime::netns::prereq::which;

const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// A program a target runs and the Debian package that ships it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// The package's name for `apt-get install`.
    pub name: &'static str,
    /// systemd units the package may have started (stopped and disabled after install).
    pub units: &'static [&'static str],
}

/// Finds `program` on PATH, installing `package` with apt-get when it is missing and
/// we are root. The error says what to install by hand.
pub fn ensure(program: &str, package: Package) -> Result<PathBuf, String> {
    ensure_with(program, || which(program), package)
}

/// Like [`ensure`], for something `find` looks for (`what` names it in messages).
pub fn ensure_with(
    what: &str,
    find: impl Fn() -> Option<PathBuf>,
    package: Package,
) -> Result<PathBuf, String> {
    if let Some(p) = find() {
        return Ok(p);
    }
    let hint = format!(
        "`{what}` is missing; install the Debian/Ubuntu package `{}` (apt-get install {})",
        package.name, package.name
    );
    if !nix::unistd::geteuid().is_root() || which("apt-get").is_none() {
        return Err(hint);
    }
    eprintln!(
        "faultline: installing {} with apt-get (its system service is kept stopped; nodes run their own processes)",
        package.name
    );
    let systemd = Path::new("/run/systemd/system").is_dir();
    install(&RealExec, package, Path::new(POLICY_RC_D), systemd)
        .map_err(|e| format!("{hint}: {e}"))?;
    find().ok_or(hint)
}

/// `apt-get update` and `install` with services forbidden by `policy` (written only when
/// absent, removed afterwards), then the package's units disabled when `systemd` runs.
fn install(exec: &dyn Exec, package: Package, policy: &Path, systemd: bool) -> Result<(), String> {
    let timeout = Duration::from_secs(900);
    // Our own policy-rc.d only when none is there; removed again whatever happens.
    let ours = !policy.exists()
        && std::fs::write(
            policy,
            "#!/bin/sh\n# faultline: no services during install\nexit 101\n",
        )
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(policy, std::fs::Permissions::from_mode(0o755))
        })
        .is_ok();
    let result = (|| {
        exec.run(
            &Cmd::new("apt-get")
                .args(["update", "-qq"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .timeout(timeout),
        )
        .map_err(|e| e.to_string())?;
        exec.run(
            &Cmd::new("apt-get")
                .args(["install", "-y", "-qq", package.name])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .timeout(timeout),
        )
        .map_err(|e| e.to_string())?;
        Ok(())
    })();
    if ours {
        if let Err(e) = std::fs::remove_file(policy) {
            eprintln!("faultline: removing {}: {e}", policy.display());
        }
    }
    if systemd {
        for unit in package.units {
            // Best effort: the unit may not exist on this release.
            let _ = exec.output(&Cmd::new("systemctl").args(["disable", "--now", unit]));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::exec::{Output, RecordingExec};

    const ETCD: Package = Package {
        name: "etcd-server",
        units: &["etcd.service"],
    };

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("faultline-apt-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    }

    #[test]
    fn install_forbids_services_for_its_duration_and_disables_units_under_systemd() {
        let dir = scratch("ok");
        let policy = dir.join("policy-rc.d");
        let exec = RecordingExec::new();
        install(&exec, ETCD, &policy, true).unwrap();
        let argv: Vec<String> = exec.commands().iter().map(|c| c.argv().join(" ")).collect();
        assert_eq!(
            argv,
            [
                "apt-get update -qq",
                "apt-get install -y -qq etcd-server",
                "systemctl disable --now etcd.service"
            ]
        );
        assert!(!policy.exists(), "our policy-rc.d is removed again");

        // A policy that was there stays; no systemd, no systemctl.
        std::fs::write(&policy, "#!/bin/sh\nexit 101\n").unwrap();
        let exec = RecordingExec::new();
        install(&exec, ETCD, &policy, false).unwrap();
        assert_eq!(exec.commands().len(), 2);
        assert!(policy.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_install_is_an_error_and_still_removes_the_policy() {
        let dir = scratch("fail");
        let policy = dir.join("policy-rc.d");
        let exec = RecordingExec::new();
        exec.respond(
            &["apt-get", "install"],
            Output {
                code: Some(100),
                ..Output::ok()
            },
        );
        assert!(install(&exec, ETCD, &policy, false).is_err());
        assert!(!policy.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
