//! Servers that misbehave on purpose, to prove a client's bounds: each one
//! reads a request's head (never more than 64 KiB) and then does one bad
//! thing forever, until it is dropped.
//!
//! ```
//! use seclai_testkit::hostile::{Hostile, HostileServer};
//! let server = HostileServer::start(Hostile::Silent);
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What a [`HostileServer`] does after reading a request's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hostile {
    /// Never answer (and never read the body).
    Silent,
    /// Send this status and content type with a `content-length` of 1 MB,
    /// then nothing.
    HeadThenStall {
        /// Status code.
        status: u16,
        /// `Content-Type`.
        content_type: &'static str,
    },
    /// Send a 200 head of this content type, then one byte every `every`
    /// (`{`, then spaces: never a complete body).
    Trickle {
        /// `Content-Type`.
        content_type: &'static str,
        /// Pause between bytes.
        every: Duration,
    },
    /// Send a 200 head of this content type without a length, then this
    /// pattern over and over as fast as the client reads.
    Endless {
        /// `Content-Type`.
        content_type: &'static str,
        /// The bytes sent first, once.
        prefix: &'static [u8],
        /// The bytes repeated after them.
        pattern: &'static [u8],
    },
    /// Send a 200 `text/event-stream` head, then a comment line every
    /// `every`, forever.
    KeepAlive {
        /// Pause between comments.
        every: Duration,
    },
    /// Answer 400 with a body that repeats every request header it got.
    EchoHeaders,
}

/// A server on `127.0.0.1` playing one [`Hostile`] part for every
/// connection. Dropping it closes every connection.
pub struct HostileServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    sent: Arc<AtomicU64>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HostileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostileServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

const POLL: Duration = Duration::from_millis(20);

impl HostileServer {
    /// Start one on an ephemeral port.
    pub fn start(part: Hostile) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let threads = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (stop, hits, sent, threads) =
                (stop.clone(), hits.clone(), sent.clone(), threads.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            let (stop, hits, sent, part) =
                                (stop.clone(), hits.clone(), sent.clone(), part.clone());
                            let t = thread::spawn(move || {
                                let _ = serve(conn, &part, &stop, &hits, &sent);
                            });
                            threads
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(t);
                        }
                        Err(_) => thread::sleep(POLL),
                    }
                }
            })
        };
        HostileServer {
            addr,
            stop,
            hits,
            sent,
            threads,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests whose head arrived.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Body bytes written to clients so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for t in threads {
            let _ = t.join();
        }
    }
}

fn read_head(conn: &mut TcpStream, stop: &AtomicBool) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if stop.load(Ordering::SeqCst) || head.len() > 64 * 1024 {
            return None;
        }
        match conn.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
    Some(head)
}

fn idle(stop: &AtomicBool, for_: Duration) -> bool {
    let mut left = for_;
    while !left.is_zero() {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let step = left.min(POLL);
        thread::sleep(step);
        left -= step;
    }
    !stop.load(Ordering::SeqCst)
}

fn serve(
    mut conn: TcpStream,
    part: &Hostile,
    stop: &AtomicBool,
    hits: &AtomicUsize,
    sent: &AtomicU64,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(POLL))?;
    conn.set_write_timeout(Some(Duration::from_secs(1)))?;
    conn.set_nodelay(true)?;
    let Some(head) = read_head(&mut conn, stop) else {
        return Ok(());
    };
    hits.fetch_add(1, Ordering::SeqCst);
    let write = |conn: &mut TcpStream, bytes: &[u8], body: bool| -> std::io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            if stop.load(Ordering::SeqCst) {
                return Err(std::io::Error::other("stopped"));
            }
            match conn.write(rest) {
                Ok(n) => {
                    if body {
                        sent.fetch_add(n as u64, Ordering::SeqCst);
                    }
                    rest = &rest[n..];
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    let head_of = |status: u16, ct: &str, extra: &str| {
        format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {ct}\r\nx-request-id: hostile-1\r\n{extra}\r\n"
        )
        .into_bytes()
    };
    match part {
        Hostile::Silent => while idle(stop, POLL) {},
        Hostile::HeadThenStall {
            status,
            content_type,
        } => {
            write(
                &mut conn,
                &head_of(*status, content_type, "content-length: 1000000\r\n"),
                false,
            )?;
            while idle(stop, POLL) {}
        }
        Hostile::Trickle {
            content_type,
            every,
        } => {
            write(
                &mut conn,
                &head_of(200, content_type, "connection: close\r\n"),
                false,
            )?;
            write(&mut conn, b"{", true)?;
            while idle(stop, *every) {
                write(&mut conn, b" ", true)?;
            }
        }
        Hostile::Endless {
            content_type,
            prefix,
            pattern,
        } => {
            write(
                &mut conn,
                &head_of(200, content_type, "connection: close\r\n"),
                false,
            )?;
            write(&mut conn, prefix, true)?;
            let block: Vec<u8> = pattern
                .iter()
                .copied()
                .cycle()
                .take(64 * 1024 / pattern.len().max(1) * pattern.len().max(1))
                .collect();
            loop {
                write(&mut conn, &block, true)?;
            }
        }
        Hostile::KeepAlive { every } => {
            write(
                &mut conn,
                &head_of(200, "text/event-stream", "connection: close\r\n"),
                false,
            )?;
            while idle(stop, *every) {
                write(&mut conn, b": keepalive\n\n", true)?;
            }
        }
        Hostile::EchoHeaders => {
            let text = String::from_utf8_lossy(&head);
            let body = serde_json::json!({ "detail": format!("bad request; you sent {text}") })
                .to_string();
            write(
                &mut conn,
                &head_of(
                    400,
                    "application/json",
                    &format!("content-length: {}\r\nconnection: close\r\n", body.len()),
                ),
                false,
            )?;
            write(&mut conn, body.as_bytes(), true)?;
        }
    }
    Ok(())
}
