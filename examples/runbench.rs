//! Runner benchmark for docs/PERFORMANCE.md: the server's own cost per run, and the
//! latency from a line the CLI prints to the WebSocket frame a browser reads.
//!
//! Uses the test double `fake-claude` (built by `cargo build --release --bins`) with
//! no delay: a run's wall time from the prompt's write to Claude's final message is
//! then the server's overhead plus the fake's exec and exit (reported separately, by
//! timing the fake alone). Line latency: the fake stamps each line with the time it
//! writes it (`{now_us}`); the client subtracts that from the time it reads the frame.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tungstenite::Message;

const TOKEN: &str = "bench0bench0bench0bench0bench0bench0bench0bench0bench0bench0abcd";
const INIT: &str = r#"{"type":"system","subtype":"init","session_id":"11111111-2222-3333-4444-555555555555","model":"bench","cwd":"/tmp","tools":[]}"#;
const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"11111111-2222-3333-4444-555555555555","total_cost_usd":0.0,"duration_ms":1,"num_turns":1,"usage":{"input_tokens":1,"output_tokens":1}}"#;

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).map(String::as_str).unwrap_or("target/release"));
    let runs: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(200);
    let lines: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(2000);
    let work = std::env::temp_dir().join(format!("homeclaude-runbench-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let quick = work.join("quick.jsonl");
    std::fs::write(&quick, format!("{INIT}\n{RESULT}\n")).unwrap();
    let stamped = work.join("stamped.jsonl");
    let mut body = format!("{INIT}\n");
    for i in 0..lines {
        body.push_str(&format!(
            r#"{{"type":"stream_event","event":{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{i}@{{now_us}}"}}}}}}"#
        ));
        body.push('\n');
        if i % 20 == 19 {
            // Pace the lines a little, as a real CLI does, so the figure is a
            // latency, not a queue.
            body.push_str("@sleep 1\n");
        }
    }
    body.push_str(RESULT);
    body.push('\n');
    std::fs::write(&stamped, body).unwrap();
    let fake = dir.join("fake-claude");

    // The fake alone: exec to exit, for the same transcript.
    let mut alone = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let mut child = Command::new(&fake)
            .env("FAKE_CLAUDE_TRANSCRIPT", &quick)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"{\"type\":\"user\"}\n").unwrap();
        drop(stdin);
        child.wait().unwrap();
        alone.push(t.elapsed().as_secs_f64() * 1e3);
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut server = Command::new("taskset")
        .args(["-c", "0"])
        .arg(dir.join("homeclaude"))
        .args(["--listen", &addr.to_string(), "--data-dir"])
        .arg(work.join("data"))
        .arg("--claude")
        .arg(&fake)
        .env("FAKE_CLAUDE_TRANSCRIPT", &quick)
        .env("FAKE_CLAUDE_TRANSCRIPT_DIR", &work)
        .env("HOMECLAUDE_TOKEN", TOKEN)
        .env("CLAUDE_CONFIG_DIR", work.join("claude"))
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/ws"))
            .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (mut ws, _) = tungstenite::client::client(req, TcpStream::connect(addr).unwrap()).unwrap();
    let next = |ws: &mut tungstenite::WebSocket<TcpStream>| loop {
        if let Ok(Message::Text(t)) = ws.read() {
            return t.to_string();
        }
    };

    let mut per_run = Vec::new();
    for i in 0..runs {
        let t = Instant::now();
        ws.send(Message::text(format!(
            r#"{{"type":"message","message":"run {i}"}}"#
        )))
        .unwrap();
        loop {
            let f = next(&mut ws);
            if f.contains(r#""username":"Claude""#) {
                break;
            }
        }
        per_run.push(t.elapsed().as_secs_f64() * 1e3);
    }

    ws.send(Message::text(
        r#"{"type":"message","message":"@stamped go"}"#,
    ))
    .unwrap();
    let mut lat = Vec::new();
    loop {
        let f = next(&mut ws);
        if f.contains(r#""username":"Claude""#) {
            break;
        }
        if let Some(rest) = f.split("\"text\":\"").nth(1)
            && f.contains("text_delta")
            && let Some(stamp) = rest.split('"').next().and_then(|t| t.split('@').nth(1))
            && let Ok(us) = stamp.parse::<u128>()
        {
            lat.push((now_us() - us) as f64 / 1e3);
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&work);

    let alone_p50 = pct(&mut alone, 0.5);
    let run_p50 = pct(&mut per_run, 0.5);
    let run_p99 = pct(&mut per_run, 0.99);
    println!("| figure | value |\n|---|---|");
    println!("| runs | {runs} |");
    println!("| prompt -> final message, p50 (ms) | {run_p50:.3} |");
    println!("| prompt -> final message, p99 (ms) | {run_p99:.3} |");
    println!("| fake CLI alone, exec -> exit, p50 (ms) | {alone_p50:.3} |");
    println!(
        "| server overhead per run, p50 (ms) | {:.3} |",
        run_p50 - alone_p50
    );
    println!("| CLI line -> browser frame, lines | {} |", lat.len());
    println!(
        "| CLI line -> browser frame, p50 (ms) | {:.3} |",
        pct(&mut lat, 0.5)
    );
    println!(
        "| CLI line -> browser frame, p99 (ms) | {:.3} |",
        pct(&mut lat, 0.99)
    );
}

use std::path::Path;
