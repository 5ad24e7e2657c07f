//! The commands the SSH runtime runs on a node, as pure functions from what it wants to
//! typed argv — tested by comparing argv, as the filter rendering is.
//!
//! ```text
//! <root>/<run>/<node>/            the node's directory (targets' configs, data, logs)
//!                   service.pid   "<pgid> <boot id>" of the service's process group
//! <root>/bin/faultline-<sha256>   the uploaded faultline binary, shared by runs
//!
//! start:  sh -c LAUNCH faultline-launch <pidfile> <log> <cwd> -- [env K=V…] argv…
//! signal: kill -s KILL|STOP|CONT -- -<pgid>
//! state:  ps -o stat= -s <pgid>           (the group's session: setsid made pgid = sid)
//! --sudo: sudo -n -- <argv>               (env as `env K=V` after it)
//! ```
//!
//! Invariants: a command is an argv; the one shell script ([`LAUNCH`]) is a constant that
//! takes every value as a positional parameter, so no path, host or argument is ever
//! spliced into shell text (`openssh` quotes each argv element for the remote shell);
//! a pidfile carries the node's boot id, so a stale pidfile after a reboot never
//! signals a stranger's process group.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exec::Cmd;
use crate::service::{ServiceSpec, ServiceState};
use crate::Signal;

/// The pidfile inside a node's directory.
pub const PIDFILE: &str = "service.pid";

/// Where the kernel says which boot this is.
pub const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// Starts `"$@"` detached: a new session (so its own process group, pgid = pid), stdin
/// from /dev/null, stdout and stderr appended to the log; writes `<pid> <boot id>` to
/// the pidfile and prints the pid. `setsid` does not fork here, because a background
/// job of a non-interactive shell is never a process-group leader, so `$!` is the
/// group's id. It returns only once the child has called `setsid` (or ended; at most
/// 10 s), so a signal to the group right after a start reaches it.
pub const LAUNCH: &str = r#"set -e
pidfile=$1 log=$2 cwd=$3
shift 4
mkdir -p -- "$cwd" "$(dirname -- "$log")" "$(dirname -- "$pidfile")"
cd -- "$cwd"
setsid "$@" </dev/null >>"$log" 2>&1 &
pid=$!
i=0
while [ "$(ps -o sid= -p "$pid" | tr -d ' ')" != "$pid" ] && [ "$i" -lt 1000 ]; do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
  i=$((i + 1))
done
echo "$pid $(cat /proc/sys/kernel/random/boot_id)" >"$pidfile"
echo "$pid"
"#;

/// `<root>/<run>/<node>`.
pub fn node_dir(root: &Path, run: &str, node: &str) -> PathBuf {
    root.join(run).join(node)
}

/// `<root>/bin/faultline-<sha256>`.
pub fn binary_path(root: &Path, sha256: &str) -> PathBuf {
    root.join("bin").join(format!("faultline-{sha256}"))
}

/// How many uploaded faultline binaries a node keeps in `<root>/bin` (the most recently
/// used); each is about 100 MB, and every new build uploads one.
pub const KEEP_BINARIES: usize = 3;

/// Marks `path` used now (`touch`), then removes every other uploaded binary in its
/// directory but the `keep` most recently used. Only complete binaries
/// (`faultline-<64 hex digits>`) are candidates: a concurrent run's upload in progress
/// (`faultline-<hash>.tmp-…`) is never touched.
pub fn prune_binaries(path: &Path, keep: usize) -> Cmd {
    const PRUNE: &str = r#"
used="$1"; keep="$2"
touch -c -- "$used"
cd -- "$(dirname -- "$used")" || exit 0
ls -1t | grep -E '^faultline-[0-9a-f]{64}$' | tail -n +"$((keep + 1))" | while read -r old; do
  [ "$old" = "$(basename -- "$used")" ] || rm -f -- "$old"
done
"#;
    Cmd::new("sh")
        .args(["-c", PRUNE, "faultline-prune"])
        .arg(path)
        .arg(keep.to_string())
}

/// What actually runs on the node for `cmd`: its environment as `env K=V` and, with
/// `sudo`, behind `sudo -n --` (never prompting).
pub fn wrap(cmd: &Cmd, sudo: bool) -> Cmd {
    let env = cmd.get_env();
    if !sudo && env.is_empty() {
        return cmd.clone();
    }
    let mut argv: Vec<OsString> = Vec::new();
    if sudo {
        argv.extend(["sudo", "-n", "--"].map(OsString::from));
    }
    if !env.is_empty() {
        argv.push("env".into());
        for (k, v) in env {
            let mut kv = k.clone();
            kv.push("=");
            kv.push(v);
            argv.push(kv);
        }
    }
    argv.push(cmd.program().to_owned());
    argv.extend(cmd.get_args().iter().cloned());
    let mut out = Cmd::new(&argv[0])
        .args(&argv[1..])
        .timeout(cmd.get_timeout());
    if let Some(stdin) = cmd.get_stdin() {
        out = out.stdin(stdin.to_vec());
    }
    out
}

/// The launcher for `spec`, its pidfile at `pidfile`.
pub fn launch(spec: &ServiceSpec, pidfile: &Path) -> Cmd {
    let mut cmd = Cmd::new("sh")
        .args(["-c", LAUNCH, "faultline-launch"])
        .arg(pidfile)
        .arg(&spec.log)
        .arg(&spec.cwd)
        .arg("--");
    if !spec.env.is_empty() {
        cmd = cmd.arg("env");
        for (k, v) in &spec.env {
            let mut kv = k.clone();
            kv.push("=");
            kv.push(v);
            cmd = cmd.arg(kv);
        }
    }
    cmd.args(&spec.argv)
}

/// The pid the launcher printed.
pub fn parse_launched(stdout: &str) -> Result<u32, String> {
    stdout
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| format!("the launcher printed {:?}, not a pid", stdout.trim()))
}

/// A pidfile's `<pgid> <boot id>`.
pub fn parse_pidfile(text: &str) -> Option<(u32, String)> {
    let mut it = text.split_whitespace();
    let pgid = it.next()?.parse::<u32>().ok().filter(|p| *p > 1)?;
    let boot = it.next()?.to_string();
    Some((pgid, boot))
}

/// `kill -s SIG -- -<pgid>`: the signal to the whole group.
pub fn signal(sig: Signal, pgid: u32) -> Cmd {
    let name = match sig {
        Signal::Kill => "KILL",
        Signal::Stop => "STOP",
        Signal::Cont => "CONT",
    };
    Cmd::new("kill")
        .args(["-s", name, "--"])
        .arg(format!("-{pgid}"))
}

/// `ps -o stat= -s <pgid>`: one state letter line per process of the group's session.
pub fn group_state(pgid: u32) -> Cmd {
    Cmd::new("ps")
        .args(["-o", "stat=", "-s"])
        .arg(pgid.to_string())
}

/// The group's state from [`group_state`]'s output (`ps` exits 1 and prints nothing
/// when no process is left). Zombies do not count; all live members stopped is paused.
pub fn parse_group_state(stdout: &str) -> Option<ServiceState> {
    let live: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with('Z') && !s.starts_with('X'))
        .collect();
    if live.is_empty() {
        None
    } else if live.iter().all(|s| s.starts_with('T')) {
        Some(ServiceState::Paused)
    } else {
        Some(ServiceState::Running)
    }
}

/// `SSH_CONNECTION` (`client port server port`) as (controller, node) IPv4 addresses.
pub fn parse_ssh_connection(text: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let f: Vec<&str> = text.split_whitespace().collect();
    let v4 = |s: &str| -> Result<Ipv4Addr, String> {
        match s.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => Ok(a),
            Ok(IpAddr::V6(a)) => a.to_ipv4_mapped().ok_or_else(|| {
                format!("address {a} is IPv6; faultline's filters need IPv4 node addresses")
            }),
            Err(_) => Err(format!("{s:?} is not an address")),
        }
    };
    match f.as_slice() {
        [client, _, server, _] => Ok((v4(client)?, v4(server)?)),
        _ => Err(format!(
            "SSH_CONNECTION is {:?}, not `client port server port`",
            text.trim()
        )),
    }
}

/// `mkdir -p -- <dir>`.
pub fn mkdir(dir: &Path) -> Cmd {
    Cmd::new("mkdir").args(["-p", "--"]).arg(dir)
}

/// Writes stdin to `path`, creating its parents (`install -D -m MODE /dev/stdin PATH`).
pub fn write(path: &Path, mode: &str, bytes: &[u8], timeout: Duration) -> Cmd {
    Cmd::new("install")
        .args(["-D", "-m", mode, "/dev/stdin"])
        .arg(path)
        .stdin(bytes.to_vec())
        .timeout(timeout)
}

/// The most a node's directory may hold for the run to download it whole into the
/// store (apparent size: preallocated and sparse files count in full, e.g. etcd's 64 MB
/// WAL segments); above it only the logs come back.
pub const DATA_LIMIT: u64 = 256 * 1024 * 1024;

/// The apparent size of everything under `dir` (`du -s -b`).
pub fn size(dir: &Path) -> Cmd {
    Cmd::new("du").args(["-s", "-b", "--"]).arg(dir)
}

/// `du -s -b`'s bytes.
pub fn parse_size(stdout: &str) -> Option<u64> {
    stdout.split_whitespace().next()?.parse().ok()
}

/// `dir`'s contents as a gzipped tar on stdout, without the pidfile (its group is
/// gone by then, and a stale pidfile in the store would mean nothing).
pub fn archive(dir: &Path, timeout: Duration) -> Cmd {
    Cmd::new("tar")
        .args(["-c", "-z", "-f", "-", "--exclude", PIDFILE, "-C"])
        .arg(dir)
        .arg(".")
        .timeout(timeout)
}

/// `tar`'s exit codes: 0, or 1 when a file changed while it was read (a service that
/// still writes its log); both left a complete archive.
pub fn archived(code: Option<i32>) -> bool {
    matches!(code, Some(0) | Some(1))
}

/// `cat -- <path>`.
pub fn read(path: &Path) -> Cmd {
    Cmd::new("cat").arg("--").arg(path)
}

/// `sha256sum -- <path>`.
pub fn sha256(path: &Path) -> Cmd {
    Cmd::new("sha256sum").arg("--").arg(path)
}

/// The hash in `sha256sum`'s output.
pub fn parse_sha256(stdout: &str) -> Option<String> {
    let h = stdout.split_whitespace().next()?;
    (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| h.to_ascii_lowercase())
}

/// `rm -rf -- <path>`.
pub fn remove(path: &Path) -> Cmd {
    Cmd::new("rm").args(["-rf", "--"]).arg(path)
}

/// `rmdir -- <path>` (only if empty).
pub fn rmdir(path: &Path) -> Cmd {
    Cmd::new("rmdir").arg("--").arg(path)
}

/// Every pidfile of `run` (or of every run) under `root`:
/// `find <root>/<run> -mindepth 2 -maxdepth 2 -name service.pid` (or from `root`, one
/// level deeper).
pub fn find_pidfiles(root: &Path, run: Option<&str>) -> Cmd {
    let (from, depth) = match run {
        Some(run) => (root.join(run), "2"),
        None => (root.to_path_buf(), "3"),
    };
    Cmd::new("find")
        .arg(from)
        .args(["-mindepth", depth, "-maxdepth", depth, "-name", PIDFILE])
}

/// The run directories under `root` (all but `bin`):
/// `find <root> -mindepth 1 -maxdepth 1 -type d ! -name bin`.
pub fn find_runs(root: &Path) -> Cmd {
    Cmd::new("find").arg(root).args([
        "-mindepth",
        "1",
        "-maxdepth",
        "1",
        "-type",
        "d",
        "!",
        "-name",
        "bin",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Exec, RealExec};

    fn argv(c: &Cmd) -> String {
        c.argv().join(" ")
    }

    #[test]
    fn wrap_adds_env_and_sudo_only_when_asked() {
        let c = Cmd::new("iptables").args(["-w", "5"]).stdin(b"x".to_vec());
        assert_eq!(wrap(&c, false), c);
        let w = wrap(&c.clone().env("A", "1"), true);
        assert_eq!(argv(&w), "sudo -n -- env A=1 iptables -w 5");
        assert_eq!(w.get_stdin(), Some(&b"x"[..]));
        assert!(w.get_env().is_empty(), "env travels in argv");
    }

    #[test]
    fn launch_passes_every_value_as_a_parameter() {
        let spec = ServiceSpec::new(["etcd", "--name", "n 1"], "/d/n1", "/d/n1/etcd.log")
            .env("GOMAXPROCS", "2");
        let c = launch(&spec, Path::new("/d/n1/service.pid"));
        let a = c.argv();
        assert_eq!(a[..3], ["sh", "-c", LAUNCH]);
        assert_eq!(
            a[3..].join(" "),
            "faultline-launch /d/n1/service.pid /d/n1/etcd.log /d/n1 -- env GOMAXPROCS=2 etcd --name n 1"
        );
    }

    #[test]
    fn pruning_keeps_the_used_binary_and_the_most_recent_others() {
        let dir = std::env::temp_dir().join(format!("fl-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let name = |i: u8| format!("faultline-{}", format!("{i:x}").repeat(64));
        // Five complete binaries, oldest first, and an upload in progress.
        for i in 1..=5u8 {
            let p = dir.join(name(i));
            std::fs::write(&p, b"x").unwrap();
            let t = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 * i as u64);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let tmp = dir.join(format!("{}.tmp-t1-n1", name(6)));
        std::fs::write(&tmp, b"half").unwrap();
        // The oldest is the one in use: it is touched, so it stays with the two newest.
        let used = dir.join(name(1));
        let out = RealExec.run(&prune_binaries(&used, 3)).expect("prune runs");
        assert!(out.success(), "{}", out.stderr_lossy());
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![name(1), name(4), name(5), format!("{}.tmp-t1-n1", name(6))];
        want.sort();
        assert_eq!(left, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_launcher_detaches_and_records_the_group() {
        // Runs LAUNCH here with a local sh: the service is its own group leader, its
        // output lands in the log, the pidfile holds pid and boot id.
        let dir = std::env::temp_dir().join(format!("fl-launch-{}", std::process::id()));
        let spec = ServiceSpec::new(
            ["sh", "-c", "echo started; exec sleep 30"],
            dir.join("cwd"),
            dir.join("logs/s.log"),
        );
        let pidfile = dir.join("service.pid");
        let out = RealExec
            .run(&launch(&spec, &pidfile))
            .expect("launcher runs");
        let pid = parse_launched(&out.stdout_lossy()).expect("a pid");
        let (pgid, boot) =
            parse_pidfile(&std::fs::read_to_string(&pidfile).expect("pidfile")).expect("parses");
        assert_eq!(pgid, pid);
        assert_eq!(boot, std::fs::read_to_string(BOOT_ID).unwrap().trim());
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("alive");
        let f = crate::netns::registry::stat_fields(&stat);
        assert_eq!(
            f.get(2).map(|s| s.to_string()),
            Some(pid.to_string()),
            "own group"
        );
        crate::wait::poll_until(Duration::from_secs(10), "the log line", || {
            std::fs::read_to_string(&spec.log)
                .ok()
                .filter(|s| s.contains("started"))
        })
        .expect("log written");
        let st = RealExec.output(&group_state(pgid)).expect("ps runs");
        assert_eq!(
            parse_group_state(&st.stdout_lossy()),
            Some(ServiceState::Running)
        );
        RealExec.run(&signal(Signal::Kill, pgid)).expect("kill");
        crate::wait::poll_until(Duration::from_secs(10), "the group to go", || {
            crate::service::group_alive(pgid as i32)
                .is_empty()
                .then_some(())
        })
        .expect("gone");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn group_states_ignore_zombies() {
        assert_eq!(parse_group_state(""), None);
        assert_eq!(parse_group_state("Z\n"), None);
        assert_eq!(parse_group_state("Ss\nZ+\n"), Some(ServiceState::Running));
        assert_eq!(parse_group_state("T\nTl\n"), Some(ServiceState::Paused));
        assert_eq!(parse_group_state("T\nS\n"), Some(ServiceState::Running));
    }

    #[test]
    fn signals_go_to_the_group() {
        assert_eq!(argv(&signal(Signal::Stop, 42)), "kill -s STOP -- -42");
        assert_eq!(argv(&group_state(42)), "ps -o stat= -s 42");
    }

    #[test]
    fn ssh_connection_gives_controller_and_node() {
        let (c, n) = parse_ssh_connection("198.18.3.254 40022 198.18.3.1 22\n").unwrap();
        assert_eq!(
            (c.to_string(), n.to_string()),
            ("198.18.3.254".into(), "198.18.3.1".into())
        );
        let (c, _) = parse_ssh_connection("::ffff:10.0.0.9 1 10.0.0.1 22").unwrap();
        assert_eq!(c, Ipv4Addr::new(10, 0, 0, 9));
        assert!(parse_ssh_connection("fe80::1 1 fe80::2 22")
            .unwrap_err()
            .contains("IPv6"));
        assert!(parse_ssh_connection("").is_err());
    }

    #[test]
    fn pidfiles_and_hashes_parse_strictly() {
        assert_eq!(parse_pidfile("123 abc\n"), Some((123, "abc".into())));
        assert_eq!(parse_pidfile("1 abc"), None, "never init");
        assert_eq!(parse_pidfile("123"), None);
        let h = "a".repeat(64);
        assert_eq!(parse_sha256(&format!("{h}  /x\n")), Some(h));
        assert_eq!(parse_sha256("abc  /x"), None);
        assert_eq!(parse_launched("4242\n"), Ok(4242));
        assert!(parse_launched("").is_err());
    }

    #[test]
    fn clean_finds_one_run_or_all() {
        let r = Path::new("/var/lib/faultline");
        assert_eq!(
            argv(&find_pidfiles(r, Some("t1"))),
            "find /var/lib/faultline/t1 -mindepth 2 -maxdepth 2 -name service.pid"
        );
        assert_eq!(
            argv(&find_pidfiles(r, None)),
            "find /var/lib/faultline -mindepth 3 -maxdepth 3 -name service.pid"
        );
        assert_eq!(
            argv(&find_runs(r)),
            "find /var/lib/faultline -mindepth 1 -maxdepth 1 -type d ! -name bin"
        );
    }
}
