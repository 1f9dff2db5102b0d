//! Test harness: runs the real `homeclaude` binary on an ephemeral port and talks to
//! it over real sockets. Waits are on events (a log line, a frame, a process exit),
//! each bounded by a deadline so a broken build fails instead of hanging.
#![allow(dead_code)]

pub mod real_cli;

use rustix::process::{Pid, Signal, kill_process};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tungstenite::protocol::WebSocket;
use tungstenite::{Message, client::IntoClientRequest};

/// The fake CLI's first line: the session starts.
pub const INIT: &str = r#"{"type":"system","subtype":"init","session_id":"11111111-2222-3333-4444-555555555555","model":"claude-test","cwd":"/tmp","tools":[]}"#;

/// A `can_use_tool` request for a Bash command (no suggestions), for `@ask`.
pub fn bash_request(id: &str, command: &str) -> String {
    serde_json::json!({"type":"control_request","request_id":id,"request":{
        "subtype":"can_use_tool","tool_name":"Bash","display_name":"Bash",
        "input":{"command":command,"description":"Run it"},"description":"Run it",
        "permission_suggestions":[],"tool_use_id":format!("toolu_{id}")}})
    .to_string()
}

/// The argv lines fake-claude recorded, one per run.
pub fn recorded_argvs(record: &std::path::Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('['))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// How much slower than native the machine is (`HOMECLAUDE_TEST_SLOWDOWN`, e.g. 10
/// under qemu user emulation): every deadline and latency bound scales with it.
pub fn slowdown() -> u32 {
    std::env::var("HOMECLAUDE_TEST_SLOWDOWN")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// A latency or time bound, scaled by [`slowdown`].
pub fn bound(d: Duration) -> Duration {
    d * slowdown()
}

/// Longest any single wait in a test may take before the test fails.
pub fn wait() -> Duration {
    bound(Duration::from_secs(10))
}

/// The owner token every test server gets (through `HOMECLAUDE_TOKEN`).
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub struct Server {
    /// Leave the data dir in place on drop (for restart tests).
    pub keep_data: bool,
    pub pid: u32,
    exit_rx: Receiver<ExitStatus>,
    exited: Option<ExitStatus>,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
    log_rx: Receiver<String>,
    /// The data dir this server made for itself, removed with it.
    own_dir: Option<TempDir>,
}

/// A fresh, empty directory under the system temp dir, removed with everything
/// in it when dropped: a test leaves no folder behind, even when it fails.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh, empty directory under the system temp dir (see [`TempDir`]).
pub fn temp_dir(tag: &str) -> TempDir {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("homeclaude-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

impl Server {
    /// Starts the binary with `args` (plus a private data dir and port 0).
    pub fn start(args: &[&str]) -> Server {
        Server::start_with(args, &[], None)
    }

    /// Starts it through a wrapper command (e.g. `prlimit`), with extra environment.
    pub fn start_with(args: &[&str], env: &[(&str, &str)], wrapper: Option<&[&str]>) -> Server {
        let dir = temp_dir("data");
        let mut server = Server::start_in(&dir, args, env, wrapper);
        server.own_dir = Some(dir);
        server
    }

    /// Starts it on a given data dir (kept when the server is dropped only if
    /// `keep_data` is then set).
    pub fn start_in(
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        wrapper: Option<&[&str]>,
    ) -> Server {
        let bin = env!("CARGO_BIN_EXE_homeclaude");
        let mut cmd = match wrapper {
            Some(w) => {
                let mut c = Command::new(w[0]);
                c.args(&w[1..]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        // The fake CLI: a prompt `@name ...` replays fixture `name`; any other prompt
        // runs until it is stopped, so later prompts stay queued.
        let data_dir = data_dir.to_path_buf();
        let hang = data_dir.join("hang.jsonl");
        if !hang.exists() {
            std::fs::write(&hang, "@sleep 600000\n").unwrap();
        }
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .arg("--claude")
            .arg(env!("CARGO_BIN_EXE_fake-claude"))
            .env("FAKE_CLAUDE_TRANSCRIPT", &hang)
            // Usage figures come from this (empty unless a test fills it), never
            // from the real ~/.claude of the machine running the tests.
            .env("CLAUDE_CONFIG_DIR", data_dir.join("claude-config"))
            .env("FAKE_CLAUDE_TRANSCRIPT_DIR", fixture("stream-json"))
            .args(args)
            .env("RUST_LOG", "debug")
            .env("HOMECLAUDE_TOKEN", TOKEN)
            .env_remove("HOMECLAUDE_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn homeclaude");
        let stderr = child.stderr.take().unwrap();
        let pid = child.id();
        let (exit_tx, exit_rx) = mpsc::channel();
        std::thread::spawn(move || {
            if let Ok(status) = child.wait() {
                let _ = exit_tx.send(status);
            }
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, log_rx) = mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                log2.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            keep_data: false,
            pid,
            exit_rx,
            exited: None,
            addr: "127.0.0.1:1".parse().unwrap(),
            data_dir,
            log,
            log_rx,
            own_dir: None,
        };
        let line = server.wait_log("listening on http");
        let addr = line
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("address in the log line");
        server.addr = addr.parse().expect("socket address");
        server
    }

    /// Waits for a log line containing `needle`; returns it.
    pub fn wait_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + wait();
        if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log_rx.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no log line with {needle:?} within {:?}; log:\n{}",
                    wait(),
                    self.log.lock().unwrap().join("\n")
                ),
            }
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Opens a WebSocket to `/ws` (with an optional query) as the owner.
    pub fn ws(&self, query: &str) -> Ws {
        ws_connect(
            self.addr,
            &format!("/ws{query}"),
            &[("Authorization", &format!("Bearer {TOKEN}"))],
        )
    }

    /// The viewer (read-only) token of this server's data dir.
    pub fn viewer_token(&self) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_homeclaude"))
            .args(["token", "--data-dir"])
            .arg(&self.data_dir)
            .env("HOMECLAUDE_TOKEN", TOKEN)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .find_map(|l| l.strip_prefix("viewer (read-only) token: "))
            .expect("viewer token printed")
            .to_string()
    }

    /// The server's resident memory in bytes (`VmRSS`).
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, sig: Signal) {
        if let Some(pid) = Pid::from_raw(self.pid as i32) {
            let _ = kill_process(pid, sig);
        }
    }

    /// Waits for the process to exit (a thread blocked in wait(2) reports it).
    pub fn wait_exit(&mut self) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        let status = self
            .exit_rx
            .recv_timeout(wait())
            .expect("server did not exit in time");
        self.exited = Some(status);
        status
    }

    /// Whether the process is still alive, without waiting.
    pub fn is_running(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.exit_rx.try_recv() {
            Ok(status) => {
                self.exited = Some(status);
                false
            }
            Err(_) => true,
        }
    }
}

impl Server {
    /// SIGTERM, then waits (bounded, never panicking) for the graceful shutdown that
    /// stops the runs and their CLI processes: for tests whose CLI would outlive a
    /// SIGKILLed server (the real one). Returns whether it exited.
    pub fn stop_gracefully(&mut self) -> bool {
        if !self.is_running() {
            return true;
        }
        self.signal(Signal::TERM);
        match self.exit_rx.recv_timeout(wait()) {
            Ok(status) => {
                self.exited = Some(status);
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The server's side of a failed test.
            eprintln!(
                "server log:\n{}",
                self.log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .join("\n")
            );
        }
        if self.is_running() {
            self.signal(Signal::KILL);
            let _ = self.exit_rx.recv_timeout(wait());
        }
        if !self.keep_data {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// Sends a prompt that runs until stopped and waits until its run has started, so
/// that later prompts wait in the queue.
pub fn occupy(ws: &mut Ws) -> u64 {
    ws.send_json(&serde_json::json!({"type":"message","message":"occupy the runner"}));
    let id = ws.wait_for(|v| v["type"] == "message" && v["message"] == "occupy the runner")["id"]
        .as_u64()
        .unwrap();
    ws.wait_for(|v| v["progress_type"] == "start" && v["run"] == id);
    id
}

/// A WebSocket test client, over plain TCP unless given another stream (TLS).
pub struct Ws<S = TcpStream> {
    pub socket: WebSocket<S>,
}

pub fn ws_connect(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Ws {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(wait())).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (k, v) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        req.headers_mut().insert(name, v.parse().unwrap());
    }
    let (socket, _) = tungstenite::client::client(req, stream).expect("ws handshake");
    Ws { socket }
}

impl<S: Read + Write> Ws<S> {
    pub fn send_json(&mut self, v: &Value) {
        self.socket.send(Message::text(v.to_string())).unwrap();
    }

    pub fn send_text(&mut self, s: &str) {
        self.socket.send(Message::text(s.to_string())).unwrap();
    }

    /// The next text frame as JSON; panics on close or timeout.
    pub fn next_json(&mut self) -> Value {
        loop {
            match self.socket.read() {
                Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).unwrap(),
                Ok(Message::Close(c)) => panic!("closed by server: {c:?}"),
                Ok(_) => {}
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    /// Reads frames until one matches; returns it.
    pub fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.next_json();
            if pred(&v) {
                return v;
            }
        }
    }

    /// Reads until the server closes; returns the close code (None if the TCP
    /// stream just ended).
    pub fn wait_close(&mut self) -> Option<u16> {
        loop {
            match self.socket.read() {
                Ok(Message::Close(c)) => return c.map(|c| u16::from(c.code)),
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return None,
                Err(tungstenite::Error::Protocol(_)) => return None,
                Err(tungstenite::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    panic!("no close within {:?}", wait())
                }
                Err(_) => return None,
            }
        }
    }
}

/// Tries a WebSocket handshake with these headers; returns the refusal text or Ok.
pub fn try_ws(server: &Server, headers: &[(&str, &str)]) -> Result<Ws, String> {
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(wait())).unwrap();
    let mut req = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "ws://{}/ws",
        server.addr
    ))
    .unwrap();
    for (k, v) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        req.headers_mut().insert(name, v.parse().unwrap());
    }
    tungstenite::client::client(req, stream)
        .map(|(socket, _)| Ws { socket })
        .map_err(|e| e.to_string())
}

/// A raw HTTP/1.1 exchange: sends `request` bytes and reads the response until the
/// server closes or the Content-Length is complete. Returns (status, headers+body).
pub fn http_raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait())).unwrap();
    s.write_all(request).unwrap();
    read_response(&mut s)
}

/// Reads one response off a stream.
pub fn read_response(s: &mut impl Read) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            // tiny_http sends bodies over 32 KiB chunked (the page's app.js is one).
            let chunked = head.lines().any(|l| {
                l.split_once(':').is_some_and(|(k, v)| {
                    k.eq_ignore_ascii_case("transfer-encoding")
                        && v.trim().eq_ignore_ascii_case("chunked")
                })
            });
            if chunked {
                if let Some(body) = dechunk(&buf[end + 4..]) {
                    let status = head[9..12].parse().unwrap();
                    let mut text = String::from_utf8_lossy(&buf[..end + 4]).to_string();
                    text.push_str(&String::from_utf8_lossy(&body));
                    return (status, text);
                }
            } else if buf.len() >= end + 4 + len {
                let status = head[9..12].parse().unwrap();
                return (
                    status,
                    String::from_utf8_lossy(&buf[..end + 4 + len]).to_string(),
                );
            }
        }
        let n = s.read(&mut chunk).expect("read response");
        assert!(
            n > 0,
            "connection closed before a full response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The body of a chunked message once its last chunk has arrived, else `None`.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// GET a path as the owner; returns (status, full response text).
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    get_with(addr, path, &[("Authorization", &format!("Bearer {TOKEN}"))])
}

/// GET a path with extra headers.
pub fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    http_raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n")
            .as_bytes(),
    )
}

/// The value of a response header (first match, case-insensitive name).
pub fn header_value(resp: &str, name: &str) -> Option<String> {
    resp.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

/// The body of a response text.
pub fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The path of a fixture recorded with the real CLI (tests/fixtures/README.md).
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A stand-in for systemd's notify socket (`NOTIFY_SOCKET`): the datagrams the
/// server sends (READY=1, WATCHDOG=1, STATUS=..., STOPPING=1).
pub struct Notify {
    sock: std::os::unix::net::UnixDatagram,
    pub path: PathBuf,
    _dir: TempDir,
}

impl Notify {
    pub fn new() -> Notify {
        let dir = temp_dir("notify");
        let path = dir.join("notify.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        Notify {
            sock,
            path,
            _dir: dir,
        }
    }

    /// The next datagram, or None when nothing came within `within`.
    pub fn next(&self, within: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 4096];
        match self.sock.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
            Err(_) => None,
        }
    }

    /// Waits for a datagram containing `needle`.
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + wait();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {needle:?} from the server");
            if let Some(msg) = self.next(left)
                && msg.contains(needle)
            {
                return msg;
            }
        }
    }
}

/// A TCP connection to `to` from the loopback address `ip` (any of 127.0.0.0/8):
/// how a test plays several machines, each with its own per-address limits.
pub fn connect_from(ip: &str, to: SocketAddr) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    let local: SocketAddr = format!("{ip}:0").parse().unwrap();
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    bind(&fd, &local).unwrap();
    connect(&fd, &to).unwrap();
    let stream = TcpStream::from(fd);
    stream.set_nodelay(true).unwrap();
    stream
}
