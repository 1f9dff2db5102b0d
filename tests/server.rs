//! The core server, driven as a user would: the real binary, real sockets.

mod common;

use common::*;
use rustix::process::Signal;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn page_renders_and_links_versioned_assets() {
    let server = Server::start(&[]);
    let (status, resp) = get(server.addr, "/");
    assert_eq!(status, 200);
    assert!(resp.contains("Content-Type: text/html"));
    assert!(resp.contains("Content-Security-Policy:"));
    let html = body(&resp);
    assert!(html.contains("<title>homeclaude</title>"));
    let js = html
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("script src");
    assert!(js.starts_with("/static/app.js?v="), "{js}");
    let (status, resp) = get(server.addr, js);
    assert_eq!(status, 200);
    assert!(resp.contains("Content-Type: text/javascript"));
    assert!(resp.contains("immutable"));
    assert!(body(&resp).contains("new WebSocket"));
}

#[test]
fn healthz_reports_json() {
    let server = Server::start(&["--claude", "/nonexistent/claude"]);
    let (status, resp) = get(server.addr, "/healthz");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(body(&resp)).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["clients"], 0);
    assert_eq!(v["queue"], 0);
    assert!(v["uptime_s"].is_u64());
    assert_eq!(v["claude"]["found"], false);
    let mut ws = server.ws("");
    ws.wait_for(|v| v["type"] == "queue_status");
    let (_, resp) = get(server.addr, "/healthz");
    let v: Value = serde_json::from_str(body(&resp)).unwrap();
    assert_eq!(v["clients"], 1);
}

#[test]
fn unknown_paths_and_methods_get_404_and_405() {
    let server = Server::start(&[]);
    assert_eq!(get(server.addr, "/nope").0, 404);
    assert_eq!(get(server.addr, "/static/../Cargo.toml").0, 404);
    let (status, resp) = http_raw(
        server.addr,
        b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 405);
    assert!(resp.contains("Allow: GET, HEAD"));
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = Server::start(&[]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(wait())).unwrap();
    for _ in 0..3 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (status, _) = read_response(&mut s);
        assert_eq!(status, 200);
    }
}

#[test]
fn two_clients_receive_every_broadcast_with_increasing_seq() {
    let server = Server::start(&[]);
    let mut a = server.ws("");
    let mut b = server.ws("");
    a.wait_for(|v| v["type"] == "queue_status");
    b.wait_for(|v| v["type"] == "queue_status");
    occupy(&mut a);
    a.send_json(&json!({"type":"message","username":"Ann","message":"first"}));
    a.send_json(&json!({"type":"message","username":"Ann","message":"second"}));
    for ws in [&mut a, &mut b] {
        // The server stamps the owner's name (--owner-name), not what the page typed.
        let m1 = ws.wait_for(|v| {
            v["type"] == "message"
                && v["username"] == "owner"
                && v["message"] != "occupy the runner"
        });
        assert_eq!(m1["message"], "first");
        let q1 = ws.wait_for(|v| v["type"] == "queue_status" && v["seq"].is_u64());
        assert_eq!(q1["count"], 1);
        let m2 = ws.wait_for(|v| v["type"] == "message");
        assert_eq!(m2["message"], "second");
        let (s1, s2, s3) = (
            m1["seq"].as_u64().unwrap(),
            q1["seq"].as_u64().unwrap(),
            m2["seq"].as_u64().unwrap(),
        );
        assert!(s1 < s2 && s2 < s3, "seq must increase: {s1} {s2} {s3}");
    }
}

#[test]
fn replay_after_last_seq_sends_exactly_the_missed_events() {
    let server = Server::start(&[]);
    let mut a = server.ws("");
    occupy(&mut a);
    for i in 0..3 {
        a.send_json(&json!({"type":"message","message":format!("m{i}")}));
    }
    // Each prompt is two events: its echo and the queue status.
    let base = a.wait_for(|v| v["message"] == "m0")["seq"]
        .as_u64()
        .unwrap()
        - 1;
    let mut last = 0;
    for _ in 0..5 {
        last = a.wait_for(|v| v["seq"].is_u64())["seq"].as_u64().unwrap();
    }
    assert_eq!(last, base + 6);
    let mut b = server.ws(&format!("?last_seq={}", base + 2));
    let seqs: Vec<u64> = (0..4)
        .map(|_| b.wait_for(|v| v["seq"].is_u64())["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (base + 3..=base + 6).collect::<Vec<_>>());
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_the_others_keep_their_latency() {
    let server = Server::start(&[
        "--client-backlog",
        "262144",
        "--max-frame",
        "300000",
        "--max-queue",
        "10000",
    ]);
    let mut stuck = server.ws("");
    let mut live = server.ws("");
    live.wait_for(|v| v["type"] == "queue_status");
    occupy(&mut live);
    let big = "x".repeat(200_000);
    let mut dropped = false;
    // The stuck client's kernel buffers take a few MB; its 256 KiB backlog then
    // overflows. The bound only stops a broken build from looping forever.
    for i in 0..400 {
        live.send_json(&json!({"type":"message","message":big}));
        live.wait_for(|v| v["type"] == "queue_status" && v["count"] == i + 1);
        if server.log_text().contains("fell too far behind") {
            dropped = true;
            break;
        }
    }
    assert!(dropped, "the stuck client was never dropped");
    // The live client still gets a broadcast quickly.
    let mut worst = Duration::ZERO;
    for i in 0..20 {
        let t = Instant::now();
        live.send_json(&json!({"type":"message","message":format!("ping {i}")}));
        live.wait_for(|v| v["type"] == "message" && v["message"] == format!("ping {i}"));
        worst = worst.max(t.elapsed());
    }
    assert!(
        worst < bound(Duration::from_millis(50)),
        "round trip took {worst:?}"
    );
    // The stuck client, reading at last, sees whole frames and then close 1013.
    assert_eq!(stuck.wait_close(), Some(1013));
}

#[test]
fn bad_frames_get_an_error_and_the_server_keeps_serving() {
    let server = Server::start(&["--max-frame", "4096"]);
    let mut bad = server.ws("");
    let mut good = server.ws("");
    good.wait_for(|v| v["type"] == "queue_status");
    bad.wait_for(|v| v["type"] == "queue_status");
    let cases: &[(&str, &str)] = &[
        ("{not json", "malformed_json"),
        ("[1,2,3]", "malformed_json"),
        (r#"{"type":"dance"}"#, "unknown_type"),
        (r#"{"type":"command","command":"fly"}"#, "unknown_command"),
        (r#"{"type":"message"}"#, "bad_field"),
        (r#"{"message":"no type"}"#, "missing_type"),
    ];
    for (input, code) in cases {
        bad.send_text(input);
        let err = bad.wait_for(|v| v["type"] == "error");
        assert_eq!(err["code"], *code, "input {input}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Deep nesting is refused by the parser's recursion limit, not the stack.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep = &deep[..4000];
    bad.send_text(deep);
    assert_eq!(
        bad.wait_for(|v| v["type"] == "error")["code"],
        "malformed_json"
    );
    bad.socket
        .send(tungstenite::Message::binary(vec![1u8, 2, 3]))
        .unwrap();
    assert_eq!(
        bad.wait_for(|v| v["type"] == "error")["code"],
        "binary_frame"
    );
    // Still connected and served after all that.
    bad.send_json(&json!({"type":"message","message":"still here"}));
    assert_eq!(
        good.wait_for(|v| v["type"] == "message")["message"],
        "still here"
    );
    // An oversized message ends that connection with 1009; the other stays.
    bad.send_text(&format!(
        r#"{{"type":"message","message":"{}"}}"#,
        "y".repeat(5000)
    ));
    assert_eq!(bad.wait_close(), Some(1009));
    good.send_json(&json!({"type":"message","message":"after"}));
    assert_eq!(
        good.wait_for(|v| v["type"] == "message")["message"],
        "after"
    );
}

#[test]
fn deeply_nested_json_does_not_overflow_a_connection_stack() {
    let server = Server::start(&[]);
    let mut ws = server.ws("");
    // 127 levels is within serde_json's limit, so it is fully parsed.
    let nested = format!(
        r#"{{"type":"message","message":"x","extra":{}1{}}}"#,
        "[".repeat(126),
        "]".repeat(126)
    );
    ws.send_text(&nested);
    assert_eq!(ws.wait_for(|v| v["type"] == "message")["message"], "x");
}

#[test]
fn sigterm_closes_clients_with_1001_and_exits_0_quickly() {
    let mut server = Server::start(&[]);
    let mut a = server.ws("");
    let mut b = server.ws("");
    a.wait_for(|v| v["type"] == "queue_status");
    b.wait_for(|v| v["type"] == "queue_status");
    let t = Instant::now();
    server.signal(Signal::TERM);
    assert_eq!(a.wait_close(), Some(1001));
    assert_eq!(b.wait_close(), Some(1001));
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(
        t.elapsed() < bound(Duration::from_secs(2)),
        "shutdown took {:?}",
        t.elapsed()
    );
}

#[test]
fn restart_command_tells_clients_and_exits_100() {
    let mut server = Server::start(&[]);
    let mut a = server.ws("");
    a.send_json(&json!({"type":"command","command":"restart"}));
    let notice = a.wait_for(|v| v["type"] == "system");
    assert!(notice["message"].as_str().unwrap().contains("restarting"));
    assert_eq!(a.wait_close(), Some(1012));
    assert_eq!(server.wait_exit().code(), Some(100));
}

#[test]
fn commands_are_accepted() {
    let server = Server::start(&[]);
    let mut a = server.ws("");
    a.send_json(&json!({"type":"command","command":"clear"}));
    assert!(
        a.wait_for(|v| v["type"] == "system")["message"]
            .as_str()
            .unwrap()
            .contains("New session")
    );
    a.send_json(&json!({"type":"message","message":"queued"}));
    let id = a.wait_for(|v| v["type"] == "message")["id"]
        .as_u64()
        .unwrap();
    a.send_json(&json!({"type":"command","command":"cancel","id":id}));
    let q = a.wait_for(|v| v["type"] == "queue_status" && v["count"] == 0 && v["seq"].is_u64());
    assert_eq!(q["items"], json!([]));
    a.send_json(&json!({"type":"command","command":"cancel","id":999}));
    assert_eq!(a.wait_for(|v| v["type"] == "error")["code"], "not_queued");
}

#[test]
fn cross_origin_websocket_is_refused() {
    let server = Server::start(&[]);
    let bearer = format!("Bearer {TOKEN}");
    let err = try_ws(
        &server,
        &[
            ("Origin", "http://evil.example"),
            ("Authorization", &bearer),
        ],
    )
    .err()
    .expect("must be refused");
    assert!(err.contains("403"), "{err}");
    // Same origin is fine.
    let _ok = ws_connect(
        server.addr,
        "/ws",
        &[
            ("Origin", &format!("http://{}", server.addr)),
            ("Authorization", &format!("Bearer {TOKEN}")),
        ],
    );
}

// --- tiny_http's measured defects, each against the real binary -------------------

#[test]
fn huge_content_length_is_refused_not_allocated() {
    let mut server = Server::start(&[]);
    let (status, _) = http_raw(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 30000000000\r\n\r\nabc",
    );
    assert_eq!(status, 413);
    assert!(server.is_running());
    assert_eq!(get(server.addr, "/healthz").0, 200);
}

#[test]
fn oversized_or_too_many_headers_are_refused() {
    let server = Server::start(&[]);
    let long = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 << 10)
    );
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(wait())).unwrap();
    // The server answers 431 as soon as the limit is passed, possibly before the
    // whole line is written; a write error after that is expected.
    let _ = s.write_all(long.as_bytes());
    let (status, _) = read_response(&mut s);
    assert_eq!(status, 431);
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (status, _) = http_raw(
        server.addr,
        format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(),
    );
    assert_eq!(status, 431);
    assert_eq!(get(server.addr, "/healthz").0, 200);
}

#[test]
fn slowloris_gets_408_while_others_are_served() {
    let server = Server::start(&["--request-timeout", "1"]);
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.set_read_timeout(Some(wait())).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    let t = Instant::now();
    assert_eq!(get(server.addr, "/healthz").0, 200);
    assert!(t.elapsed() < bound(Duration::from_millis(500)));
    for s in &mut slow {
        let (status, _) = read_response(s);
        assert_eq!(status, 408);
    }
    // A silent connection is closed without an answer.
    let mut silent = TcpStream::connect(server.addr).unwrap();
    silent.set_read_timeout(Some(wait())).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(silent.read(&mut buf).unwrap(), 0);
}

#[test]
fn running_out_of_file_descriptors_does_not_kill_the_listener() {
    if std::process::Command::new("prlimit")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("prlimit (util-linux) is needed for this test");
    }
    let mut server = Server::start_with(&[], &[], Some(&["prlimit", "--nofile=48:48", "--"]));
    let mut held = Vec::new();
    for _ in 0..80 {
        if let Ok(s) = TcpStream::connect(server.addr) {
            held.push(s);
        }
    }
    server.wait_log("cannot accept");
    assert!(server.is_running());
    drop(held);
    // Once descriptors are free again, the same listener serves.
    let deadline = Instant::now() + wait();
    loop {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(wait())).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        if out.starts_with(b"HTTP/1.1 200") {
            break;
        }
        // Closed without an answer: the server was still releasing descriptors.
        assert!(Instant::now() < deadline, "listener never recovered");
    }
    assert!(server.is_running());
}

#[test]
fn too_many_websocket_clients_are_refused_with_503() {
    let server = Server::start(&["--max-clients", "2"]);
    let mut a = server.ws("");
    let mut b = server.ws("");
    a.wait_for(|v| v["type"] == "queue_status");
    b.wait_for(|v| v["type"] == "queue_status");
    let bearer = format!("Bearer {TOKEN}");
    let err = try_ws(&server, &[("Authorization", &bearer)])
        .err()
        .expect("must be refused");
    assert!(err.contains("503"), "{err}");
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
        .args(["--listen", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--listen"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("HOMECLAUDE_WORKDIR"));
}

#[test]
fn a_repeated_client_id_is_queued_once() {
    let server = Server::start(&[]);
    let mut a = server.ws("");
    occupy(&mut a);
    for _ in 0..2 {
        a.send_json(&json!({"type":"message","message":"from the outbox","client_id":"c-1"}));
    }
    a.send_json(&json!({"type":"message","message":"marker"}));
    let first = a.wait_for(|v| v["type"] == "message" && v["seq"].is_u64());
    assert_eq!(first["client_id"], "c-1");
    assert!(first["ts"].as_u64().unwrap() > 0);
    // The next prompt echoed is the marker: the repeat was dropped.
    let next = a.wait_for(|v| v["type"] == "message");
    assert_eq!(next["message"], "marker");
    let q = a.wait_for(|v| v["type"] == "queue_status" && v["seq"].is_u64());
    assert_eq!(q["count"], 2);
}
