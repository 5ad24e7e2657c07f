//! Peer messages over TCP for both bundled protocols: one outbound connection per peer
//! carrying length-prefixed JSON frames (`[len: u32 BE][message as JSON]`), and an
//! acceptor that hands every inbound frame to the node driver.
//!
//! Delivery is best effort and in order on one connection: when a peer is unreachable or
//! its queue is full, messages are dropped, and a reconnect may let frames of the old and
//! new connections interleave. Raft retries by itself; the Zab treats a gap as a broken
//! connection and rejoins its leader, as a ZooKeeper follower does.

use std::net::SocketAddr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

const MAX_FRAME: usize = 64 << 20;
const QUEUE: usize = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
const RECONNECT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts peer connections forever; `deliver` gets every decoded message and returns
/// false once the driver is gone.
pub async fn accept<M, F>(listener: TcpListener, deliver: F)
where
    M: DeserializeOwned + Send + 'static,
    F: Fn(M) -> bool + Clone + Send + Sync + 'static,
{
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                let deliver = deliver.clone();
                tokio::spawn(async move {
                    if let Err(e) = read_frames(stream, &deliver).await {
                        tracing::debug!(%from, "peer connection closed: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("accepting a peer connection failed: {e}");
                tokio::time::sleep(RECONNECT_BACKOFF).await;
            }
        }
    }
}

async fn read_frames<M, F>(mut stream: TcpStream, deliver: &F) -> std::io::Result<()>
where
    M: DeserializeOwned,
    F: Fn(M) -> bool,
{
    let mut buf = Vec::new();
    loop {
        let len = stream.read_u32().await? as usize;
        if len > MAX_FRAME {
            return Err(std::io::Error::other(format!("frame of {len} bytes")));
        }
        buf.resize(len, 0);
        stream.read_exact(&mut buf).await?;
        match serde_json::from_slice::<M>(&buf) {
            Ok(m) => {
                if !deliver(m) {
                    return Ok(());
                }
            }
            Err(e) => return Err(std::io::Error::other(format!("undecodable frame: {e}"))),
        }
    }
}

/// Starts the sender for one peer and returns its queue.
pub fn spawn_outbound<M: Serialize + Send + 'static>(addr: SocketAddr) -> mpsc::Sender<M> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(send_loop(addr, rx));
    tx
}

async fn send_loop<M: Serialize>(addr: SocketAddr, mut rx: mpsc::Receiver<M>) {
    let mut conn: Option<TcpStream> = None;
    let mut next_attempt = Instant::now();
    let mut frame = Vec::new();
    while let Some(first) = rx.recv().await {
        frame.clear();
        encode(&first, &mut frame);
        while frame.len() < (1 << 20) {
            match rx.try_recv() {
                Ok(m) => encode(&m, &mut frame),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            if Instant::now() < next_attempt {
                continue; // drop: the peer was unreachable a moment ago
            }
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    conn = Some(s);
                }
                _ => {
                    next_attempt = Instant::now() + RECONNECT_BACKOFF;
                    continue;
                }
            }
        }
        if let Some(s) = conn.as_mut() {
            if let Err(e) = s.write_all(&frame).await {
                tracing::debug!(%addr, "peer write failed: {e}");
                conn = None;
            }
        }
    }
}

fn encode<M: Serialize>(m: &M, out: &mut Vec<u8>) {
    let body = serde_json::to_vec(m).expect("messages always serialize");
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
}
