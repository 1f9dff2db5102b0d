//! Load generator for docs/PERFORMANCE.md: start-up, idle RSS, 1000 idle clients,
//! fan-out latency (100 and 1000 clients) and a burst, against the real binary.
//!
//! One thread drives every client over non-blocking sockets with epoll(7) (the
//! cost of a wait is the number of ready sockets, not of all 1000) and speaks the
//! WebSocket by hand on the hot path (one `recvmsg` per ready socket, frames parsed
//! in place), so it reads every socket soon after the server wrote it and measures
//! the server, not itself. Run it through `bench/core.sh`, which pins the server and
//! the generator to different cores.
//!
//! A broadcast is triggered the way a browser would: a `message` frame (a prompt),
//! echoed to everyone as a `message` event. The prompt is then cancelled, so the
//! queue stays short and every round costs the same.
//!
//! A delivery's latency runs from the prompt's write to the moment the echo's
//! bytes reached that client's socket, as the kernel stamped them on arrival
//! (`SO_TIMESTAMPNS`; over TLS, when this generator read them). The stamp a read
//! returns is its newest segment's, and TCP merges segments queued behind one
//! another: a socket read late, holding a later broadcast too, reports that later
//! arrival. So the figure is an upper bound, as tight as the generator is quick;
//! "as read by this generator" (when this thread got to the last client) is
//! printed beside to show how far behind it ran.
//!
//! With `--with-runs` prompts really run while everything is measured: the fake
//! CLI replays a short transcript (init, streamed text, the answer, the result)
//! for each, pausing `--run-pace-ms` (20) after each line as a streaming CLI does,
//! and client 0 queues the next whenever one completes, so runs start, stream and
//! end (with their fsyncs) all through the measurement. Each measured prompt
//! follows a `--round-gap-ms` (20) pause during which the runs go on. With both
//! at 0 the runs and the rounds come back to back and saturate the server's core:
//! the latency is then that of the benchmark's own queue, a stress figure. The
//! burst and the idle figures are left out in that mode. `--fsync-delay-ms N`
//! makes every fsync of the server's data dir N ms slower (a test hook; a Pi's SD
//! card takes 10-100 ms).
//!
//! With `--tls` the server (built with `--features tls`) serves a throwaway
//! certificate and every client speaks wss: the same figures, over TLS
//! (`bench/tls.sh` runs both in one go).

use rustix::event::epoll;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::Cursor;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::{Frame, FrameHeader};

/// The owner token the benchmarked server is given.
const TOKEN: &str = "bench0bench0bench0bench0bench0bench0bench0bench0bench0bench0abcd";

struct Opts {
    /// Serve and connect over TLS.
    tls: Option<Tls>,
    bin: String,
    runs: usize,
    rounds: usize,
    burst: usize,
    idle_secs: u64,
    /// Runs stream while we measure (see the module doc).
    with_runs: bool,
    fsync_delay_ms: u64,
    /// With runs: the fake CLI's pause after each line, so a run streams like a
    /// real one (0: as fast as the box can, a stress that saturates both cores).
    run_pace_ms: u64,
    /// The pause before each measured prompt, during which runs go on streaming:
    /// 20 ms with runs unless given (0: back to back, which with runs saturates
    /// the server's core, so the figure is the benchmark's own queue).
    round_gap: Option<Duration>,
    /// `--claude PATH`: the CLI stand-in to run (default: fake-claude beside --bin).
    claude: Option<std::path::PathBuf>,
}

fn main() {
    let mut opts = Opts {
        tls: None,
        bin: "target/release/homeclaude".into(),
        runs: 3,
        rounds: 200,
        burst: 2000,
        idle_secs: 10,
        with_runs: false,
        fsync_delay_ms: 0,
        run_pace_ms: 20,
        round_gap: None,
        claude: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        if args[i] == "--tls" {
            opts.tls = Some(Tls::new());
            i += 1;
            continue;
        }
        if args[i] == "--with-runs" {
            opts.with_runs = true;
            i += 1;
            continue;
        }
        match args[i].as_str() {
            "--bin" => opts.bin = v,
            "--runs" => opts.runs = v.parse().expect("--runs N"),
            "--rounds" => opts.rounds = v.parse().expect("--rounds N"),
            "--burst" => opts.burst = v.parse().expect("--burst N"),
            "--idle-secs" => opts.idle_secs = v.parse().expect("--idle-secs N"),
            "--fsync-delay-ms" => opts.fsync_delay_ms = v.parse().expect("--fsync-delay-ms N"),
            "--claude" => opts.claude = Some(v.into()),
            "--run-pace-ms" => opts.run_pace_ms = v.parse().expect("--run-pace-ms N"),
            "--round-gap-ms" => {
                opts.round_gap = Some(Duration::from_millis(v.parse().expect("--round-gap-ms N")))
            }
            other => panic!("unknown flag {other}"),
        }
        i += 2;
    }
    opts.round_gap = opts.round_gap.or(Some(if opts.with_runs {
        Duration::from_millis(20)
    } else {
        Duration::ZERO
    }));
    let mut results: Vec<Vec<(String, f64)>> = Vec::new();
    for run in 0..opts.runs {
        eprintln!("run {} of {}", run + 1, opts.runs);
        results.push(one_run(&opts));
    }
    println!("| figure | median of {} runs | runs |", opts.runs);
    println!("|---|---|---|");
    for (k, (name, _)) in results[0].iter().enumerate() {
        let mut vals: Vec<f64> = results.iter().map(|r| r[k].1).collect();
        let all = vals.iter().map(|v| fmt(*v)).collect::<Vec<_>>().join(" / ");
        vals.sort_by(|a, b| a.total_cmp(b));
        println!("| {name} | {} | {all} |", fmt(vals[vals.len() / 2]));
    }
    // Nothing of the benchmark stays in the temp dir (the TLS files go with `opts`).
    let _ = std::fs::remove_file(std::env::temp_dir().join("homeclaude-bench-hang.jsonl"));
}

fn fmt(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

#[path = "common/srv.rs"]
mod srv;
use srv::Srv;

/// A throwaway certificate for localhost, its files, and a client configuration
/// that trusts it.
struct Tls {
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    client: Arc<rustls::ClientConfig>,
}

impl Tls {
    fn new() -> Tls {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = std::env::temp_dir();
        let (cert, key) = (
            dir.join("homeclaude-bench.crt"),
            dir.join("homeclaude-bench.key"),
        );
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(made.cert.der().to_vec()))
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls {
            cert,
            key,
            client: Arc::new(client),
        }
    }
}

impl Drop for Tls {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.cert);
        let _ = std::fs::remove_file(&self.key);
    }
}

/// A client's connection: plain TCP or TLS over it.
enum Conn {
    /// A plain socket, and when the data of its latest read reached it.
    Plain(TcpStream, Option<SystemTime>),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    /// Connects, and finishes the TLS handshake (blocking) when `tls` is given.
    fn open(addr: SocketAddr, tls: Option<&Tls>) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        match tls {
            None => {
                // The kernel stamps each segment as it arrives (SO_TIMESTAMPNS), so a
                // delivery's latency is when the server's bytes reached this socket,
                // not when this one thread, reading 1000 sockets in turn, got to it.
                let on: libc::c_int = 1;
                // SAFETY: a valid socket and an int option of the right size.
                let r = unsafe {
                    libc::setsockopt(
                        s.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_TIMESTAMPNS,
                        (&on as *const libc::c_int).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    )
                };
                assert_eq!(r, 0, "SO_TIMESTAMPNS");
                Conn::Plain(s, None)
            }
            Some(tls) => {
                let name = ServerName::try_from("localhost").unwrap();
                let conn = rustls::ClientConnection::new(tls.client.clone(), name).unwrap();
                let mut stream = rustls::StreamOwned::new(conn, s);
                while stream.conn.is_handshaking() {
                    stream
                        .conn
                        .complete_io(&mut stream.sock)
                        .expect("TLS handshake");
                }
                Conn::Tls(Box::new(stream))
            }
        }
    }

    /// When the bytes of the latest read arrived (plain sockets only): the
    /// newest segment that read took, so never earlier than any frame in it.
    fn arrived(&self) -> Option<SystemTime> {
        match self {
            Conn::Plain(_, at) => *at,
            Conn::Tls(_) => None,
        }
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s, _) => s,
            Conn::Tls(t) => &t.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s, at) => {
                let (n, stamp) = recv_stamped(s, buf)?;
                if stamp.is_some() {
                    *at = stamp;
                }
                Ok(n)
            }
            Conn::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s, _) => s.write(buf),
            Conn::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s, _) => s.flush(),
            Conn::Tls(t) => t.flush(),
        }
    }
}

/// `recvmsg(2)` with the arrival time the kernel attaches (`SCM_TIMESTAMPNS`).
fn recv_stamped(s: &TcpStream, buf: &mut [u8]) -> std::io::Result<(usize, Option<SystemTime>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; zeroed is its empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points at live buffers of the sizes it states.
    let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: walking the control messages the kernel wrote into `control`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                stamp = Some(UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, stamp))
}

/// Median time to open a new connection (TLS handshake included) and get
/// `/healthz` back, in ms.
fn new_connection_ms(addr: SocketAddr, tls: Option<&Tls>, n: usize) -> f64 {
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let mut c = Conn::open(addr, tls);
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            c.flush().unwrap();
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            // Read until the end of the body (`}` of the JSON), not the close:
            // a TLS close_notify may or may not follow.
            while !got.ends_with(b"}") {
                let n = c.read(&mut buf).expect("read /healthz");
                assert!(n > 0, "closed early");
                got.extend_from_slice(&buf[..n]);
            }
            assert!(
                got.starts_with(b"HTTP/1.1 200"),
                "{}",
                String::from_utf8_lossy(&got)
            );
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    percentile(&times, 0.5)
}

/// Starts the server, pinned to `cpu` through taskset when given.
fn start(opts: &Opts, cpu: Option<&str>) -> (Srv, Duration) {
    let (bin, tls) = (opts.bin.as_str(), opts.tls.as_ref());
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let data = std::env::temp_dir().join(format!("homeclaude-bench-{port}"));
    let t = Instant::now();
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", cpu, bin]);
            c
        }
        None => Command::new(bin),
    };
    let child = cmd
        .args(["--listen", &addr.to_string(), "--data-dir"])
        .arg(&data)
        .args([
            "--max-queue",
            "100000",
            "--max-clients",
            "2000",
            "--max-connections",
            "2100",
        ])
        // A stand-in CLI that runs until stopped: the first prompt occupies the
        // runner, so every measured prompt waits in the queue and is cancelled.
        .args(tls.map_or(Vec::new(), |t| {
            vec![
                "--tls-cert".into(),
                t.cert.clone().into_os_string(),
                "--tls-key".into(),
                t.key.clone().into_os_string(),
            ]
        }))
        .arg("--claude")
        .arg(
            opts.claude
                .clone()
                .unwrap_or_else(|| std::path::Path::new(bin).with_file_name("fake-claude")),
        )
        .env(
            "FAKE_CLAUDE_TRANSCRIPT",
            if opts.with_runs {
                short_transcript()
            } else {
                hang_transcript()
            },
        )
        // The fake CLI's pause after each line it prints (`--run-pace-ms`).
        .env("FAKE_CLAUDE_DELAY_MS", opts.run_pace_ms.to_string())
        .env("HOMECLAUDE_TEST_HOOKS", "1")
        .env(
            "HOMECLAUDE_TEST_FSYNC_DELAY_MS",
            opts.fsync_delay_ms.to_string(),
        )
        .env("RUST_LOG", "warn")
        .env("HOMECLAUDE_TOKEN", TOKEN)
        .env("CLAUDE_CONFIG_DIR", data.join("claude"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    // Start-up is measured as a user sees it: until a connection is accepted.
    loop {
        if TcpStream::connect(addr).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_micros(100));
        assert!(t.elapsed() < Duration::from_secs(5), "server did not start");
    }
    let up = t.elapsed();
    (Srv { child, addr, data }, up)
}

/// A short run: init, streamed text deltas, the answer and the result.
fn short_transcript() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures/quick.jsonl")
}

fn hang_transcript() -> std::path::PathBuf {
    let path = std::env::temp_dir().join("homeclaude-bench-hang.jsonl");
    std::fs::write(&path, "@sleep 3600000\n").expect("write the hang transcript");
    path
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Resident memory (kB) and thread count of a process.
fn rss_threads(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field("VmRSS:"), field("Threads:"))
}

/// CPU time of every thread of a process, in nanoseconds (schedstat).
fn cpu_ns(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum()
}

/// One client: its connection and the start of a frame not complete yet.
///
/// The WebSocket is spoken by hand here (tungstenite's header parser and frame
/// encoder, no `WebSocket`): one `recvmsg` per readiness, no copy or allocation per
/// frame, no read past the end. The generator must keep up with the server: a
/// socket it reads late may by then hold a later broadcast too, coalesced by TCP
/// into the same buffer, and the kernel's stamp is then that later one's.
struct Client {
    conn: Conn,
    /// Bytes of a frame whose end has not arrived yet.
    partial: Vec<u8>,
    /// Still blocking (connecting): one read per call, which waits for bytes.
    blocking: bool,
}

impl Client {
    /// Connects and upgrades to a WebSocket with the owner token. The reply is
    /// read a byte at a time, so nothing after it is taken from the socket.
    fn open(addr: SocketAddr, tls: Option<&Tls>) -> Client {
        let mut conn = Conn::open(addr, tls);
        let req = format!(
            "GET /ws HTTP/1.1\r\nHost: localhost:{}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {TOKEN}\r\n\r\n",
            addr.port()
        );
        conn.write_all(req.as_bytes()).expect("upgrade request");
        conn.flush().expect("upgrade request");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(conn.read(&mut byte).expect("upgrade reply"), 1, "closed");
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        Client {
            conn,
            partial: Vec::new(),
            blocking: true,
        }
    }

    /// Writes one text frame (masked, as a client must).
    fn send_text(&mut self, text: String) {
        let mut frame = Frame::message(text.into_bytes(), OpCode::Data(Data::Text), true);
        frame.header_mut().mask = Some([0x6b, 0x1f, 0x3a, 0x90]);
        self.write_frame(frame);
    }

    fn write_frame(&mut self, frame: Frame) {
        let mut bytes = Vec::with_capacity(frame.len());
        frame.format(&mut bytes).expect("encode");
        let mut left = &bytes[..];
        while !left.is_empty() {
            match self.conn.write(left) {
                Ok(n) => left = &left[n..],
                // Nothing else to do until the socket drains.
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("send: {e}"),
            }
        }
        let _ = self.conn.flush();
    }

    /// Reads what the socket holds and hands each complete text message to
    /// `on_text(text, arrived)`; pings are answered. While connecting (blocking)
    /// one read, which waits for bytes; after that, until nothing is left.
    fn read(&mut self, scratch: &mut [u8], mut on_text: impl FnMut(&str, SystemTime)) {
        loop {
            let n = match self.conn.read(scratch) {
                Ok(0) => panic!("the server closed a client"),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => panic!("read: {e}"),
            };
            let arrived = self.conn.arrived().unwrap_or_else(SystemTime::now);
            let mut data = &scratch[..n];
            let joined;
            if !self.partial.is_empty() {
                self.partial.extend_from_slice(data);
                joined = std::mem::take(&mut self.partial);
                data = &joined;
            }
            let mut pongs = Vec::new();
            let mut cursor = Cursor::new(data);
            loop {
                let at = cursor.position() as usize;
                let Some((header, len)) = FrameHeader::parse(&mut cursor).expect("frame") else {
                    self.partial.extend_from_slice(&data[at..]);
                    break;
                };
                let start = cursor.position() as usize;
                let end = start + len as usize;
                if end > data.len() {
                    self.partial.extend_from_slice(&data[at..]);
                    break;
                }
                let payload = &data[start..end];
                match header.opcode {
                    OpCode::Data(Data::Text) => {
                        on_text(std::str::from_utf8(payload).expect("UTF-8"), arrived)
                    }
                    OpCode::Control(Control::Ping) => pongs.push(payload.to_vec()),
                    OpCode::Control(Control::Close) => panic!("the server closed a client"),
                    _ => {}
                }
                cursor.set_position(end as u64);
            }
            for p in pongs {
                let mut pong = Frame::pong(p);
                pong.header_mut().mask = Some([0x6b, 0x1f, 0x3a, 0x90]);
                self.write_frame(pong);
            }
            // A plain socket that did not fill the buffer is empty now: the next
            // readiness says when more came (a read to hear EAGAIN would cost a
            // syscall per socket and pass). TLS may hold decrypted bytes back.
            if self.blocking || (n < scratch.len() && matches!(self.conn, Conn::Plain(..))) {
                return;
            }
        }
    }
}

struct Clients {
    socks: Vec<Client>,
    epoll: std::os::fd::OwnedFd,
    scratch: Vec<u8>,
    /// Runs completed (seen by client 0) for which no new prompt was sent yet.
    completed: usize,
    /// Prompts sent by `feed` (they take queue ids too).
    fed: u64,
    feeding: bool,
}

impl Clients {
    fn connect(&mut self, addr: SocketAddr, n: usize, tls: Option<&Tls>) {
        for _ in 0..n {
            let mut c = Client::open(addr, tls);
            // Per-client snapshots (usage, then the queue) come first; read them
            // while still blocking.
            let mut snapshot = false;
            while !snapshot {
                c.read(&mut self.scratch, |t, _| {
                    snapshot |= t.contains(r#""type":"queue_status""#)
                });
            }
            c.conn.tcp().set_nonblocking(true).unwrap();
            c.blocking = false;
            epoll::add(
                &self.epoll,
                c.conn.tcp(),
                epoll::EventData::new_u64(self.socks.len() as u64),
                epoll::EventFlags::IN,
            )
            .expect("epoll add");
            self.socks.push(c);
        }
    }

    /// Writes one frame from client 0 (blocking until the kernel takes it).
    fn send(&mut self, text: String) {
        self.socks[0].send_text(text);
    }

    /// With runs streaming: one new prompt for each run that completed, so one
    /// is always running or queued.
    fn feed(&mut self) {
        for _ in 0..std::mem::take(&mut self.completed) {
            self.send(r#"{"type":"message","message":"feed"}"#.to_string());
            self.fed += 1;
        }
    }

    /// Reads frames until `on_frame(client, text, arrived)` has returned true
    /// `target` times; `arrived` is when the frame's bytes reached the socket (the
    /// kernel's stamp; over TLS, when it was read). Returns how many times it
    /// returned true (at least `target`).
    fn pump(
        &mut self,
        target: usize,
        on_frame: impl FnMut(usize, &str, SystemTime) -> bool,
    ) -> usize {
        self.pump_until(
            target,
            Instant::now() + Duration::from_secs(20),
            true,
            on_frame,
        )
    }

    /// Reads (and drops) whatever arrives for `d`: the quiet gap between rounds,
    /// during which runs go on streaming.
    fn idle(&mut self, d: Duration) {
        self.pump_until(usize::MAX, Instant::now() + d, false, |_, _, _| false);
    }

    fn pump_until(
        &mut self,
        target: usize,
        deadline: Instant,
        must_finish: bool,
        mut on_frame: impl FnMut(usize, &str, SystemTime) -> bool,
    ) -> usize {
        let mut count = 0;
        let mut events = Vec::with_capacity(1024);
        while count < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                assert!(!must_finish, "pump timed out");
                break;
            }
            events.clear();
            let timeout = rustix::event::Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            };
            epoll::wait(
                &self.epoll,
                rustix::buffer::spare_capacity(&mut events),
                Some(&timeout),
            )
            .expect("epoll wait");
            for ev in &events {
                let i = ev.data.u64() as usize;
                let (feeding, completed) = (self.feeding, &mut self.completed);
                self.socks[i].read(&mut self.scratch, |t, arrived| {
                    if feeding && i == 0 && t.contains(r#""progress_type":"complete""#) {
                        *completed += 1;
                    }
                    if on_frame(i, t, arrived) {
                        count += 1;
                    }
                });
            }
        }
        count
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// Rounds of one prompt each: latency from the write to the echo's arrival at
/// every client's socket. Returns (p50 all, p99 all, p50 last, p99 last, and the
/// p99 of the last client's echo as this generator read it) in ms.
fn latency(clients: &mut Clients, rounds: usize, gap: Duration, next_id: &mut u64) -> [f64; 5] {
    let n = clients.socks.len();
    let mut all = Vec::with_capacity(rounds * n);
    let mut last = Vec::with_capacity(rounds);
    let mut read = Vec::with_capacity(rounds);
    for r in 0..rounds {
        clients.idle(gap);
        let marker = format!("lat-{r}-{}", *next_id);
        let t0 = Instant::now();
        let wall0 = SystemTime::now();
        clients.send(format!(r#"{{"type":"message","message":"{marker}"}}"#));
        let mut got = vec![false; n];
        let mut worst = 0.0f64;
        let needle = format!(r#""message":"{marker}""#);
        let mut id = 0;
        clients.pump(n, |i, t, arrived| {
            if got[i] || !t.contains(&needle) {
                return false;
            }
            if i == 0 {
                id = serde_json::from_str::<serde_json::Value>(t)
                    .ok()
                    .and_then(|v| v["id"].as_u64())
                    .expect("the echo carries the prompt's id");
            }
            let ms = arrived
                .duration_since(wall0)
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3;
            got[i] = true;
            all.push(ms);
            worst = worst.max(ms);
            true
        });
        last.push(worst);
        read.push(t0.elapsed().as_secs_f64() * 1e3);
        clients.feed();
        // Cancel it so the queue stays short; wait until everyone saw a queue
        // without it (cancelled, or started when the runs ahead of it ended).
        clients.send(format!(
            r#"{{"type":"command","command":"cancel","id":{id}}}"#
        ));
        *next_id += 1;
        let mut seen = vec![false; n];
        clients.pump(n, |i, t, _| {
            let fresh = !seen[i] && t.contains(r#""type":"queue_status""#) && !t.contains(&marker);
            seen[i] |= fresh;
            fresh
        });
        clients.feed();
    }
    all.sort_by(|a, b| a.total_cmp(b));
    last.sort_by(|a, b| a.total_cmp(b));
    read.sort_by(|a, b| a.total_cmp(b));
    [
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&last, 0.5),
        percentile(&last, 0.99),
        percentile(&read, 0.99),
    ]
}

/// Prompts and cancels back to back; counts every frame every client receives.
/// Returns (deliveries per second, server CPU µs per delivery).
fn burst(clients: &mut Clients, pairs: usize, next_id: &mut u64, pid: u32) -> (f64, f64) {
    let n = clients.socks.len();
    // Each pair broadcasts three events: the message, queue_status 1, queue_status 0.
    let expected = 3 * pairs * n;
    let cpu0 = cpu_ns(pid);
    let t0 = Instant::now();
    let mut got = 0usize;
    let mut sent = 0usize;
    let first = *next_id;
    // Interleave writing and reading so neither side's buffers stall the other.
    while sent < pairs || got < expected {
        if sent < pairs {
            let id = first + sent as u64;
            clients.send(format!(r#"{{"type":"message","message":"b{id}"}}"#));
            clients.send(format!(
                r#"{{"type":"command","command":"cancel","id":{id}}}"#
            ));
            sent += 1;
        }
        // Read what has arrived every few pairs, everything at the end.
        if sent.is_multiple_of(16) || sent == pairs {
            let want = if sent == pairs { expected - got } else { 1 };
            got += clients.pump(want, |_, _, _| true);
        }
    }
    *next_id = first + pairs as u64;
    let secs = t0.elapsed().as_secs_f64();
    let cpu_us = (cpu_ns(pid) - cpu0) / 1e3;
    (got as f64 / secs, cpu_us / got as f64)
}

fn one_run(opts: &Opts) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    // Start-up, unpinned, fresh process.
    {
        let (srv, up) = start(opts, None);
        out.push((
            "start-up to first accepted connection (ms)".into(),
            up.as_secs_f64() * 1e3,
        ));
        drop(srv);
    }
    let tls = opts.tls.as_ref();
    let (srv, _) = start(opts, Some("0"));
    let pid = srv.child.id();
    std::thread::sleep(Duration::from_millis(300));
    let (rss, _) = rss_threads(pid);
    out.push(("idle RSS (MB)".into(), rss / 1024.0));
    out.push((
        "new connection: connect, handshake, GET /healthz, p50 of 100 (ms)".into(),
        new_connection_ms(srv.addr, tls, 100),
    ));

    let mut clients = Clients {
        socks: Vec::new(),
        scratch: vec![0; 64 << 10],
        epoll: epoll::create(epoll::CreateFlags::CLOEXEC).expect("epoll"),
        completed: 0,
        fed: 0,
        feeding: false,
    };
    let mut next_id = 1u64;
    clients.connect(srv.addr, 100, tls);
    // Occupy the runner (prompt 1) and wait until every client saw its run start.
    // With runs, two short prompts instead, each replaced as it completes.
    let n = clients.socks.len();
    if opts.with_runs {
        clients.feeding = true;
        clients.completed = 2;
        clients.feed();
        clients.pump(n, |_, t, _| t.contains(r#""progress_type":"start""#));
    } else {
        clients.send(r#"{"type":"message","message":"occupy"}"#.to_string());
        clients.pump(n, |_, t, _| t.contains(r#""progress_type":"start""#));
        next_id += 1;
    }
    eprintln!("  latency, 100 clients");
    let [a50, a99, l50, l99, r99] = latency(
        &mut clients,
        opts.rounds,
        opts.round_gap.unwrap_or_default(),
        &mut next_id,
    );
    out.push(("fan-out p50, 100 clients, every delivery (ms)".into(), a50));
    out.push(("fan-out p99, 100 clients, every delivery (ms)".into(), a99));
    out.push(("fan-out p50, 100 clients, last client (ms)".into(), l50));
    out.push(("fan-out p99, 100 clients, last client (ms)".into(), l99));
    out.push((
        "fan-out p99, 100 clients, last client as read by this generator (ms)".into(),
        r99,
    ));
    if opts.with_runs {
        // Runs stream on: no burst, no idle figures; just the 900 more clients.
        // (Frames keep arriving meanwhile; the next latency round reads past them.)
        clients.connect(srv.addr, 900, tls);
        out.push((
            "runs completed while measuring 100 clients".into(),
            clients.fed as f64,
        ));
    } else {
        eprintln!("  burst, 100 clients");
        let (rate, cpu) = burst(&mut clients, opts.burst, &mut next_id, pid);
        out.push(("burst to 100 clients (deliveries/s)".into(), rate));
        out.push(("burst server CPU per delivery (µs)".into(), cpu));

        eprintln!("  1000 idle clients");
        clients.connect(srv.addr, 900, tls);
        std::thread::sleep(Duration::from_millis(500));
        let cpu0 = cpu_ns(pid);
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs(opts.idle_secs));
        let cpu_pct = (cpu_ns(pid) - cpu0) / (t0.elapsed().as_secs_f64() * 1e9) * 100.0;
        let (rss, threads) = rss_threads(pid);
        out.push(("1000 idle clients: RSS (MB)".into(), rss / 1024.0));
        out.push(("1000 idle clients: threads".into(), threads));
        out.push(("1000 idle clients: CPU over 10 s (%)".into(), cpu_pct));
    }

    eprintln!("  latency, 1000 clients");
    let cpu0 = cpu_ns(pid);
    let fed0 = clients.fed;
    let [a50, a99, l50, l99, r99] = latency(
        &mut clients,
        opts.rounds / 2,
        opts.round_gap.unwrap_or_default(),
        &mut next_id,
    );
    // Server CPU per round (a prompt echoed, then cancelled: two broadcasts and
    // what runs meanwhile): next to the last client's latency it shows whether
    // the server or the generator's reading is the limit.
    out.push((
        "server CPU per round, 1000 clients (ms)".into(),
        (cpu_ns(pid) - cpu0) / 1e6 / (opts.rounds / 2) as f64,
    ));
    out.push(("fan-out p50, 1000 clients, every delivery (ms)".into(), a50));
    out.push(("fan-out p99, 1000 clients, every delivery (ms)".into(), a99));
    out.push(("fan-out p50, 1000 clients, last client (ms)".into(), l50));
    out.push(("fan-out p99, 1000 clients, last client (ms)".into(), l99));
    out.push((
        "fan-out p99, 1000 clients, last client as read by this generator (ms)".into(),
        r99,
    ));
    if opts.with_runs {
        out.push((
            "runs completed while measuring 1000 clients".into(),
            (clients.fed - fed0) as f64,
        ));
    }
    drop(clients);
    out
}
