//! Waiting on observable state with a deadline, never a bare sleep; and doing a piece of
//! blocking network work from inside a given namespace.
//!
//! ```text
//! poll_until(timeout, "what", || check())   1 ms, 2 ms, … 50 ms between checks
//! in_netns("fl-x-n1", || TcpStream::connect_timeout(..))   on a fresh thread that
//!                                                         setns()es first
//! ```
//!
//! Invariant: `in_netns` always runs its closure on a dedicated thread, so the caller's
//! thread never changes namespace (setns affects only the calling thread).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::exec::{open_netns, ExecError};

/// A condition did not come true in time.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {waited:?} waiting for {what}")]
pub struct WaitError {
    pub what: String,
    pub waited: Duration,
}

/// Polls `check` until it returns `Some`, backing off from 1 ms to 50 ms, for at most
/// `timeout`. `what` names the condition in the error.
pub fn poll_until<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, WaitError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(WaitError {
                what: what.to_string(),
                waited,
            });
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Runs `f` on a new thread that has entered the named network namespace.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> Result<T, ExecError> {
    let fd = open_netns(ns)?;
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns on a valid namespace fd affects only this thread.
            if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(ExecError::Netns {
                    ns: ns.to_string(),
                    source: std::io::Error::last_os_error(),
                });
            }
            Ok(f())
        })
        .join()
        .expect("namespace worker thread does not panic")
    })
}

/// Opens a TCP connection from inside namespace `ns`. The socket stays in that
/// namespace after the helper thread ends.
pub fn connect_from(ns: &str, to: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    in_netns(ns, || TcpStream::connect_timeout(&to, timeout))
        .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// Whether a full TCP round trip (connect, send a line, read it echoed back) works from
/// `ns` to `to` within `timeout`. For checking reachability against an echo listener.
pub fn echo_round_trip(ns: &str, to: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut s) = connect_from(ns, to, timeout) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    let msg = b"faultline-ping\n";
    if s.write_all(msg).is_err() {
        return false;
    }
    let mut buf = [0u8; 15];
    s.read_exact(&mut buf).is_ok() && &buf == msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_until_returns_value_or_times_out() {
        let mut n = 0;
        assert_eq!(
            poll_until(Duration::from_secs(5), "n to reach 3", || {
                n += 1;
                (n == 3).then_some(n)
            })
            .unwrap(),
            3
        );
        let start = Instant::now();
        let err = poll_until(Duration::from_millis(30), "never", || None::<()>).unwrap_err();
        assert!(err.to_string().contains("never"));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
