//! A tiny loopback HTTP/1.1 backend for tests: answers every request with a configurable status,
//! after a configurable delay, with its name as the body; keep-alive and `Connection: close`
//! both work. Stops (and frees its port) on drop.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Shared {
    status: AtomicU16,
    delay_ms: AtomicU64,
    requests: AtomicU64,
    stop: AtomicBool,
}

/// A running backend on 127.0.0.1.
#[derive(Debug)]
pub struct Backend {
    name: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Backend {
    /// Starts a backend named `name` on a free port, answering 200.
    pub fn start(name: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared::default());
        shared.status.store(200, Ordering::SeqCst);
        let thread = {
            let (shared, name) = (shared.clone(), name.to_string());
            std::thread::Builder::new()
                .name(format!("backend-{name}"))
                .spawn(move || accept_loop(listener, &name, &shared))
                .expect("spawn the backend thread")
        };
        Self {
            name: name.to_string(),
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// Its name (the response body).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Answer with `status` from now on.
    pub fn set_status(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Wait `delay` before each answer from now on.
    pub fn set_delay(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: TcpListener, name: &str, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let (shared, name) = (shared.clone(), name.to_string());
        // Connection threads notice `stop` within one read timeout.
        let _ = std::thread::Builder::new()
            .name(format!("backend-{name}-conn"))
            .spawn(move || serve(stream, &name, &shared));
    }
}

fn serve(mut stream: TcpStream, name: &str, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buffer: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // Read one request head (and its body, if it says how long it is).
        let head_end = loop {
            if let Some(end) = find(&buffer, b"\r\n\r\n") {
                break end + 4;
            }
            if buffer.len() > MAX_HEAD || shared.stop.load(Ordering::SeqCst) {
                return;
            }
            match stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
                .map(|v| v.trim().to_string())
        };
        let body_len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let connection = header("connection").unwrap_or_default();
        let http10 = head
            .lines()
            .next()
            .is_some_and(|l| l.trim_end().ends_with("http/1.0"));
        // Chunked request bodies are not parsed: answer, then close.
        let close = connection.contains("close")
            || (http10 && !connection.contains("keep-alive"))
            || header("transfer-encoding").is_some();
        while buffer.len() < head_end + body_len {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            match stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return,
            }
        }
        buffer.drain(..head_end + body_len);

        let delay = shared.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let status = shared.status.load(Ordering::SeqCst);
        let response = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
             x-backend: {name}\r\n{}\r\n{name}",
            reason(status),
            name.len(),
            if close { "connection: close\r\n" } else { "" },
        );
        shared.requests.fetch_add(1, Ordering::SeqCst);
        if stream.write_all(response.as_bytes()).is_err() || close {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
