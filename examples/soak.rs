//! Soak benchmark for docs/PERFORMANCE.md ("Soak"): the real binary on loopback for
//! a bounded time, with honest clients and attackers at once (issue 22).
//!
//! - 200 honest WebSocket clients that read everything; 20 of them send a prompt
//!   every few seconds (the fake CLI replays a short transcript for each).
//! - An owner who keeps working: a prompt every 2 s, timed until all 200 honest
//!   clients have its echo (the fan-out figure).
//! - A viewer that asks for the whole history every second and never reads.
//! - A ping flooder that never reads (about 10 MB/s of pings), reconnecting
//!   whenever it is closed.
//! - A slowloris: 1,500 half-sent requests from three addresses, each renewed every
//!   9 s and reopened as soon as it is cut.
//!
//! At the end every honest client must hold every `seq` from its first to the last
//! one sent, with no gap. Prints the owner's fan-out p50/p99/max, the server's RSS
//! at the start and the end (and its peak), and the attackers' counts.
//!
//! `bench/soak.sh --minutes 10` builds and runs it.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tungstenite::Message;

const TOKEN: &str = "soak0soak0soak0soak0soak0soak0soak0soak0soak0soak0soak0soak0abcd";
const HONEST: usize = 200;
const PROMPTERS: usize = 20;
const SLOWLORIS: usize = 1500;

#[path = "common/srv.rs"]
mod srv;
use srv::Srv;

fn main() {
    let mut bin = "target/release/homeclaude".to_string();
    let mut secs = 600.0f64;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let v = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--bin" => bin = v,
            "--minutes" => secs = v.parse::<f64>().expect("--minutes M") * 60.0,
            "--seconds" => secs = v.parse().expect("--seconds S"),
            other => panic!("unknown flag {other}"),
        }
    }
    let srv = start(&bin);
    let pid = srv.child.id();
    let viewer = std::fs::read_to_string(srv.data.join("viewer-token"))
        .expect("viewer token")
        .trim()
        .to_string();
    let stop = Arc::new(AtomicBool::new(false));

    // Honest clients first, then the attack on top of them.
    let marks: Marks = Arc::new(Mutex::new(Vec::new()));
    let mut honest = Vec::new();
    for i in 0..HONEST {
        let (addr, stop, marks) = (srv.addr, stop.clone(), marks.clone());
        let ws = open(addr, TOKEN);
        honest.push(
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || honest_client(i, ws, stop, marks))
                .unwrap(),
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    let rss_start = memory(pid, "VmRSS");
    eprintln!(
        "{HONEST} honest clients connected; RSS {} MB",
        rss_start / 1024
    );

    let counters = Counters::default();
    let counters = Arc::new(counters);
    let mut attackers = Vec::new();
    {
        let (addr, stop, c, viewer) = (srv.addr, stop.clone(), counters.clone(), viewer.clone());
        attackers.push(std::thread::spawn(move || {
            non_reader(addr, &viewer, &stop, &c)
        }));
    }
    {
        let (addr, stop, c, viewer) = (srv.addr, stop.clone(), counters.clone(), viewer.clone());
        attackers.push(std::thread::spawn(move || {
            ping_flooder(addr, &viewer, &stop, &c)
        }));
    }
    {
        let (addr, stop, c) = (srv.addr, stop.clone(), counters.clone());
        attackers.push(std::thread::spawn(move || slowloris(addr, &stop, &c)));
    }

    // The owner: a prompt every 2 s, timed to the last honest client.
    let mut owner = open(srv.addr, TOKEN);
    let mut sent: Vec<(u64, Instant)> = Vec::new();
    let t0 = Instant::now();
    let mut n = 0u64;
    let mut rss_max = rss_start;
    let mut next_report = Instant::now() + Duration::from_secs(60);
    while t0.elapsed().as_secs_f64() < secs {
        n += 1;
        let at = Instant::now();
        owner
            .send(Message::text(
                serde_json::json!({"type":"message","message":format!("soak-mark-{n}")})
                    .to_string(),
            ))
            .expect("owner send");
        sent.push((n, at));
        drain(&mut owner, Duration::from_secs(2));
        rss_max = rss_max.max(memory(pid, "VmRSS"));
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(60);
            eprintln!(
                "{:.0} s: RSS {} MB, {} slowloris open, {} cut/refused, {} ping-flood closes",
                t0.elapsed().as_secs_f64(),
                memory(pid, "VmRSS") / 1024,
                counters.slow_open.load(Ordering::Relaxed),
                counters.slow_reopened.load(Ordering::Relaxed),
                counters.flood_closed.load(Ordering::Relaxed),
            );
        }
    }
    let rss_end = memory(pid, "VmRSS");
    let peak = memory(pid, "VmHWM");
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        let _ = a.join();
    }
    // The end marker: every honest client stops when it has it.
    owner
        .send(Message::text(
            serde_json::json!({"type":"message","message":"soak-end"}).to_string(),
        ))
        .expect("owner send");
    let mut lost = 0usize;
    let mut last_seqs = Vec::new();
    for h in honest {
        let (seqs, ok) = h.join().expect("honest client");
        if !ok {
            lost += 1;
        }
        lost += seqs.windows(2).filter(|w| w[1] != w[0] + 1).count();
        last_seqs.push(seqs.last().copied().unwrap_or(0));
    }
    let final_seq = last_seqs.iter().copied().max().unwrap_or(0);
    let behind = last_seqs.iter().filter(|s| **s != final_seq).count();
    // Fan-out: from the owner's send to the last honest client's receipt.
    let marks = marks.lock().unwrap();
    let mut fanout: Vec<f64> = sent
        .iter()
        .filter_map(|(mark, at)| {
            let last = marks
                .iter()
                .map(|client| client.iter().find(|(m, _)| m == mark).map(|(_, t)| *t))
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .max()?;
            Some(last.duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect();
    let measured = fanout.len();
    fanout.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| fanout[((fanout.len() as f64 - 1.0) * p).round() as usize];
    println!("| figure | value |");
    println!("|---|---|");
    println!("| duration | {:.1} min |", secs / 60.0);
    println!("| owner prompts timed | {measured} of {} |", sent.len());
    if measured > 0 {
        println!(
            "| owner fan-out to {HONEST} clients, p50 / p99 / max | {:.1} / {:.1} / {:.1} ms |",
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
    }
    println!(
        "| server RSS at start / end (peak) | {:.1} / {:.1} MB ({:.1} MB) |",
        rss_start as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    println!("| RSS sampled max | {:.1} MB |", rss_max as f64 / 1024.0);
    println!(
        "| honest clients: gaps in seq / not at the last seq {final_seq} | {lost} / {behind} |"
    );
    println!(
        "| slowloris connections reopened (cut, refused or timed out) | {} |",
        counters.slow_reopened.load(Ordering::Relaxed)
    );
    println!(
        "| ping flooder closed (1013) | {} |",
        counters.flood_closed.load(Ordering::Relaxed)
    );
    println!(
        "| non-reading viewer reconnects | {} |",
        counters.nonreader_reconnects.load(Ordering::Relaxed)
    );
    if lost > 0 || behind > 0 || measured < sent.len() {
        eprintln!("FAILED: an honest client missed events");
        std::process::exit(1);
    }
}

/// Per honest client: when it received each owner mark.
type Marks = Arc<Mutex<Vec<Vec<(u64, Instant)>>>>;

#[derive(Default)]
struct Counters {
    slow_open: AtomicU64,
    slow_reopened: AtomicU64,
    flood_closed: AtomicU64,
    nonreader_reconnects: AtomicU64,
}

/// Reads everything; the first [`PROMPTERS`] also prompt every 5 s. Returns its
/// seqs in order, and whether it saw the end marker.
fn honest_client(
    i: usize,
    mut ws: tungstenite::WebSocket<TcpStream>,
    stop: Arc<AtomicBool>,
    marks: Marks,
) -> (Vec<u64>, bool) {
    let mut seqs = Vec::new();
    let mut mine = Vec::new();
    let prompter = i < PROMPTERS;
    // Spread over 5 s: 20 prompters make 4 prompts a second.
    let every = Duration::from_millis(5000);
    let mut next = Instant::now() + every.mul_f64(i as f64 / PROMPTERS as f64);
    let _ = ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)));
    let mut ended = false;
    loop {
        if prompter && !stop.load(Ordering::Relaxed) && Instant::now() >= next {
            next += every;
            let _ = ws.send(Message::text(
                serde_json::json!({"type":"message","message":format!("client {i} asks")})
                    .to_string(),
            ));
        }
        match ws.read() {
            Ok(Message::Text(t)) => {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(t.as_str()) else {
                    continue;
                };
                if let Some(seq) = v["seq"].as_u64() {
                    seqs.push(seq);
                }
                if v["type"] == "message"
                    && let Some(m) = v["message"].as_str()
                {
                    if let Some(n) = m.strip_prefix("soak-mark-").and_then(|n| n.parse().ok()) {
                        mine.push((n, Instant::now()));
                    } else if m == "soak-end" {
                        ended = true;
                        break;
                    }
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                continue;
            }
            Err(e) => {
                eprintln!("honest client {i}: {e}");
                break;
            }
        }
    }
    marks.lock().unwrap().push(mine);
    (seqs, ended)
}

/// Reads what the owner's socket has for `for_at_most`, without blocking longer.
fn drain(ws: &mut tungstenite::WebSocket<TcpStream>, for_at_most: Duration) {
    let until = Instant::now() + for_at_most;
    let _ = ws
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(50)));
    while Instant::now() < until {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("the owner's socket failed: {e}"),
        }
    }
}

fn open(addr: SocketAddr, token: &str) -> tungstenite::WebSocket<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/ws"))
            .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tungstenite::client::client(req, stream)
        .expect("ws handshake")
        .0
}

/// A raw upgrade that is never read.
fn raw_ws(addr: SocketAddr, query: &str, token: &str) -> Option<TcpStream> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET /ws{query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {token}\r\n\r\n"
    )
    .ok()?;
    Some(s)
}

/// A masked client frame (mask key 0).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

fn non_reader(addr: SocketAddr, token: &str, stop: &AtomicBool, c: &Counters) {
    let hello = client_frame(0x1, br#"{"type":"hello","last_seq":0}"#);
    let mut sock = None;
    while !stop.load(Ordering::Relaxed) {
        let s = match &mut sock {
            Some(s) => s,
            None => {
                sock = raw_ws(addr, "?last_seq=0", token);
                c.nonreader_reconnects.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        if s.write_all(&hello).is_err() {
            sock = None;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn ping_flooder(addr: SocketAddr, token: &str, stop: &AtomicBool, c: &Counters) {
    let ping = client_frame(0x9, &[b'p'; 125]);
    let burst: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 800)
        .collect();
    let mut sock: Option<TcpStream> = None;
    while !stop.load(Ordering::Relaxed) {
        let s = match &mut sock {
            Some(s) => s,
            None => {
                sock = raw_ws(addr, "", token);
                if sock.is_none() {
                    std::thread::sleep(Duration::from_millis(200));
                }
                continue;
            }
        };
        // About 100 KB every 10 ms: 10 MB/s of pings, none of the pongs read.
        if s.write_all(&burst).is_err() {
            c.flood_closed.fetch_add(1, Ordering::Relaxed);
            sock = None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn slowloris(addr: SocketAddr, stop: &AtomicBool, c: &Counters) {
    let sources = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
    let open_one = |i: usize| -> Option<TcpStream> {
        let s = connect_from(sources[i % sources.len()], addr)?;
        s.set_nonblocking(true).ok()?;
        (&s).write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").ok()?;
        Some(s)
    };
    let mut socks: Vec<Option<TcpStream>> = (0..SLOWLORIS).map(open_one).collect();
    let mut renew = Instant::now() + Duration::from_secs(9);
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        let renewing = Instant::now() >= renew;
        if renewing {
            renew += Duration::from_secs(9);
        }
        let mut open = 0;
        for (i, slot) in socks.iter_mut().enumerate() {
            // Closed (cut, refused with 503, or 408 after the request timeout):
            // reopen at once, as an attacker would.
            let closed = match slot {
                None => true,
                Some(s) => match s.read(&mut buf) {
                    Ok(_) => true,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        renewing && s.write_all(b"X-a: b\r\n").is_err()
                    }
                    Err(_) => true,
                },
            };
            if closed {
                c.slow_reopened.fetch_add(1, Ordering::Relaxed);
                *slot = open_one(i);
            }
            if slot.is_some() {
                open += 1;
            }
        }
        c.slow_open.store(open, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A TCP connection from a chosen loopback address.
fn connect_from(ip: &str, to: SocketAddr) -> Option<TcpStream> {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    let local: SocketAddr = format!("{ip}:0").parse().ok()?;
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).ok()?;
    bind(&fd, &local).ok()?;
    connect(&fd, &to).ok()?;
    Some(TcpStream::from(fd))
}

fn memory(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

fn start(bin: &str) -> Srv {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let data = std::env::temp_dir().join(format!("homeclaude-soak-{port}"));
    let _ = std::fs::remove_dir_all(&data);
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stream-json/session_id_new.jsonl");
    assert!(fixture.exists(), "no fixture at {}", fixture.display());
    let cpu = std::env::var("SOAK_SERVER_CPU").ok();
    let mut cmd = match &cpu {
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
        .args(["--max-queue", "1000"])
        .arg("--claude")
        .arg(std::path::Path::new(bin).with_file_name("fake-claude"))
        .env("FAKE_CLAUDE_TRANSCRIPT", &fixture)
        .env("RUST_LOG", "warn")
        .env("HOMECLAUDE_TOKEN", TOKEN)
        .env("CLAUDE_CONFIG_DIR", data.join("claude"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let t = Instant::now();
    // Up once it accepts and has written its tokens.
    while TcpStream::connect(addr).is_err() || !data.join("viewer-token").exists() {
        std::thread::sleep(Duration::from_millis(5));
        assert!(t.elapsed() < Duration::from_secs(5), "server did not start");
    }
    Srv { child, addr, data }
}
