//! Installing a Debian package on a node through its [`Runtime`], when it is missing,
//! with the package's system services kept from starting — what `scripts/setup.sh` and
//! `targets::apt` do on this machine, for nodes that are other machines (SSH).
//!
//! ```text
//! ensure(rt, node, package)
//!   dpkg-query -W -f=${Status} P ── "install ok installed" ──► Ok(false)
//!   else: policy-rc.d (exit 101) unless one is there ─► apt-get update ─► apt-get install P
//!         ─► our policy-rc.d removed ─► systemctl disable --now UNITS (where systemd runs)
//!         ─► Ok(true)
//! ```
//!
//! Invariants: a policy-rc.d already on the node is neither replaced nor removed; ours
//! is removed whatever the install did; every command is an argv with a deadline.
//!
//! Reference: Jepsen's `jepsen.os.debian/install`, invoke-rc.d(8) (policy-rc.d).

use std::path::Path;
use std::time::Duration;

use crate::exec::Cmd;
use crate::{NodeId, Runtime, RuntimeError};

/// Where invoke-rc.d looks for the policy.
pub const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// The policy that forbids starting any service (exit 101).
pub const DENY_ALL: &str = "#!/bin/sh\n# faultline: no services during install\nexit 101\n";

/// How long `apt-get update` and `install` may take each.
pub const APT_TIMEOUT: Duration = Duration::from_secs(900);

/// A Debian package and the systemd units it may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    pub name: &'static str,
    pub units: &'static [&'static str],
}

/// Installs `package` on `node` unless it is installed; `Ok(true)` when it installed.
pub fn ensure(rt: &dyn Runtime, node: NodeId, package: Package) -> Result<bool, RuntimeError> {
    let status = rt.exec(
        node,
        &Cmd::new("dpkg-query")
            .args(["-W", "-f=${Status}"])
            .arg(package.name),
    )?;
    if status.success() && status.stdout_lossy().contains("install ok installed") {
        return Ok(false);
    }
    tracing::info!(
        "{node}: installing {} with apt-get (its services kept stopped)",
        package.name
    );
    let policy = Path::new(POLICY_RC_D);
    let ours = !rt
        .exec(node, &Cmd::new("test").arg("-e").arg(policy))?
        .success();
    if ours {
        rt.exec_ok(
            node,
            &Cmd::new("install")
                .args(["-m", "0755", "/dev/stdin"])
                .arg(policy)
                .stdin(DENY_ALL),
        )?;
    }
    let apt = |args: &[&str]| {
        Cmd::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .timeout(APT_TIMEOUT)
    };
    let installed = rt
        .exec_ok(node, &apt(&["update", "-qq"]))
        .and_then(|_| rt.exec_ok(node, &apt(&["install", "-y", "-qq", package.name])));
    if ours {
        if let Err(e) = rt.exec_ok(node, &Cmd::new("rm").args(["-f", "--"]).arg(policy)) {
            tracing::warn!("{node}: removing {POLICY_RC_D}: {e}");
        }
    }
    if rt
        .exec(node, &Cmd::new("test").args(["-d", "/run/systemd/system"]))?
        .success()
    {
        for unit in package.units {
            // Best effort: the unit may not exist on this release.
            let _ = rt.exec(
                node,
                &Cmd::new("systemctl").args(["disable", "--now", unit]),
            );
        }
    }
    installed.map(|_| true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Output;
    use crate::fake::RecordingRuntime;

    const ETCD: Package = Package {
        name: "etcd-server",
        units: &["etcd.service"],
    };

    fn fails() -> Output {
        Output {
            code: Some(1),
            ..Output::default()
        }
    }

    #[test]
    fn an_installed_package_is_left_alone() {
        let rt = RecordingRuntime::new(1);
        rt.respond(
            &["dpkg-query"],
            Output {
                code: Some(0),
                stdout: b"install ok installed".to_vec(),
                stderr: Vec::new(),
            },
        );
        assert!(!ensure(&rt, NodeId::nth(1), ETCD).unwrap());
        assert_eq!(
            rt.commands(),
            ["n1: dpkg-query -W -f=${Status} etcd-server"]
        );
    }

    #[test]
    fn a_missing_package_is_installed_with_services_forbidden_then_disabled() {
        let rt = RecordingRuntime::new(1);
        rt.respond(&["dpkg-query"], fails());
        rt.respond(&["test", "-e"], fails());
        assert!(ensure(&rt, NodeId::nth(1), ETCD).unwrap());
        assert_eq!(
            rt.commands(),
            [
                "n1: dpkg-query -W -f=${Status} etcd-server",
                "n1: test -e /usr/sbin/policy-rc.d",
                "n1: install -m 0755 /dev/stdin /usr/sbin/policy-rc.d",
                "n1: apt-get update -qq",
                "n1: apt-get install -y -qq etcd-server",
                "n1: rm -f -- /usr/sbin/policy-rc.d",
                "n1: test -d /run/systemd/system",
                "n1: systemctl disable --now etcd.service",
            ]
        );
    }

    #[test]
    fn a_policy_already_there_is_kept_and_a_failed_install_still_cleans_up() {
        let rt = RecordingRuntime::new(1);
        rt.respond(&["dpkg-query"], fails());
        rt.respond(&["apt-get", "install"], fails());
        rt.respond(&["test", "-d"], fails());
        let e = ensure(&rt, NodeId::nth(1), ETCD).unwrap_err();
        assert!(e.to_string().contains("apt-get install"), "{e}");
        let cmds = rt.commands();
        assert!(!cmds.iter().any(|c| c.contains("install -m")), "{cmds:?}");
        assert!(!cmds.iter().any(|c| c.contains("rm -f")), "{cmds:?}");
        assert!(!cmds.iter().any(|c| c.contains("systemctl")), "{cmds:?}");
    }
}
