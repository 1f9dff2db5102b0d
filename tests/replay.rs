//! Replay of missed events: paced by each client's own thread, counted against its
//! backlog, and never a way for a read-only viewer to exhaust memory or hold the hub.
mod common;

use common::*;
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// Events in the prepared log, ~1 KB each: a 13 MB session log.
const EVENTS: u64 = 13_000;

/// A data dir whose current session log already holds [`EVENTS`] events.
fn big_log() -> TempDir {
    let dir = temp_dir("biglog");
    std::fs::create_dir_all(dir.join("history")).unwrap();
    let key = "001700000000000";
    let state = json!({"key": key, "claude_id": null, "resumable": false,
        "first_seq": 1, "seq": EVENTS, "next_prompt": 1});
    std::fs::write(dir.join("state.json"), state.to_string()).unwrap();
    let mut log = std::io::BufWriter::new(
        std::fs::File::create(dir.join("history").join(format!("{key}.jsonl"))).unwrap(),
    );
    let filler = "x".repeat(1000);
    for seq in 1..=EVENTS {
        writeln!(
            log,
            r#"{{"seq":{seq},"ts":1,"type":"system","message":"{seq} {filler}"}}"#
        )
        .unwrap();
    }
    dir
}

#[test]
fn a_reconnecting_client_gets_the_whole_log_once_in_order_then_live_events() {
    let dir = big_log();
    let server = Server::start_in(&dir, &[], &[], None);
    let mut ws = server.ws("?last_seq=0");
    let mut next = 1;
    while next <= EVENTS {
        let v = ws.next_json();
        if let Some(seq) = v["seq"].as_u64() {
            assert_eq!(seq, next, "every event once, in order");
            next += 1;
        }
    }
    let mut owner = server.ws("");
    owner.send_json(&json!({"type":"message","message":"live after replay"}));
    let live = ws.wait_for(|v| v["type"] == "message");
    assert_eq!(live["message"], "live after replay");
    assert!(live["seq"].as_u64().unwrap() > EVENTS);
}

#[test]
fn a_viewer_flooding_hello_without_reading_leaves_memory_flat_and_the_hub_free() {
    let dir = big_log();
    let server = Server::start_in(&dir, &[], &[], None);
    let viewer = server.viewer_token();
    let bearer = format!("Bearer {viewer}");
    let mut owner = server.ws("");
    owner.wait_for(|v| v["type"] == "queue_status");
    let before = server.rss();
    // One viewer that never reads sends 200 hellos; 20 more open `?last_seq=0`.
    let mut flooder = ws_connect(server.addr, "/ws", &[("Authorization", &bearer)]);
    for _ in 0..200 {
        flooder.send_json(&json!({"type":"hello","last_seq":0}));
    }
    let _idle: Vec<Ws> = (0..20)
        .map(|_| ws_connect(server.addr, "/ws?last_seq=0", &[("Authorization", &bearer)]))
        .collect();
    // The hub still answers the owner at once.
    let t = Instant::now();
    owner.send_json(&json!({"type":"message","message":"still here"}));
    owner.wait_for(|v| v["message"] == "still here");
    assert!(
        t.elapsed() < bound(Duration::from_millis(500)),
        "the owner waited {:?}",
        t.elapsed()
    );
    // Replays stall at half the 1 MiB backlog of each non-reader (plus the kernel's
    // socket buffers, which are not ours): far below one copy of the 13 MB log each.
    // Sampled across more owner round trips, while the replay threads run.
    let mut grown = 0;
    for i in 0..20 {
        let text = format!("round {i}");
        owner.send_json(&json!({"type":"message","message":text}));
        owner.wait_for(|v| v["message"] == text.as_str());
        grown = grown.max(server.rss().saturating_sub(before));
    }
    assert!(
        grown < 32 << 20,
        "RSS grew {} MB for 21 non-reading replays of a 13 MB log",
        grown >> 20
    );
}
