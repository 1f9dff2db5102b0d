//! Shell commands from the page (issue 17): `shell` / `shell_stop` frames and the
//! `shell_start` / `shell_output` / `shell_exit` events, against the real binary.

mod common;

use common::{Server, TOKEN, Ws, bound, wait, ws_connect};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Sends a `shell` frame and returns the command's id from its `shell_start`.
fn run(ws: &mut Ws, command: &str, tag: &str) -> u64 {
    ws.send_json(&json!({"type":"shell","id":tag,"command":command}));
    let start = ws.wait_for(|v| v["type"] == "shell_start" && v["client_id"] == tag);
    assert_eq!(start["command"], command);
    assert_eq!(
        start["id"], start["seq"],
        "the id is the seq of shell_start"
    );
    start["id"].as_u64().unwrap()
}

/// Every `shell_output` of command `id` up to its `shell_exit`: (frames, exit).
fn collect(ws: &mut Ws, id: u64) -> (Vec<Value>, Value) {
    let mut out = Vec::new();
    loop {
        let v = ws.next_json();
        if v["id"] != id {
            continue;
        }
        match v["type"].as_str() {
            Some("shell_output") => out.push(v),
            Some("shell_exit") => return (out, v),
            _ => {}
        }
    }
}

fn text_of(frames: &[Value], stream: &str) -> String {
    frames
        .iter()
        .filter(|f| f["stream"] == stream)
        .map(|f| f["data"].as_str().unwrap().to_string())
        .collect()
}

fn viewer(server: &Server) -> Ws {
    let token = server.viewer_token();
    ws_connect(
        server.addr,
        "/ws",
        &[("Authorization", &format!("Bearer {token}"))],
    )
}

/// Process ids whose process group is `pgid`, from /proc.
fn group_members(pgid: u64) -> Vec<u64> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // state (0), ppid (1), pgrp (2). A zombie has ended: it holds nothing but
        // its pid until its new parent (init) reaps it.
        if fields.get(2).and_then(|g| g.parse::<u64>().ok()) == Some(pgid)
            && fields.first() != Some(&"Z")
        {
            found.push(pid);
        }
    }
    found
}

/// What is left of group `pgid` once SIGKILL has had its effect: a killed process
/// is gone a moment after `kill` returns, not at once, so this waits (bounded) for
/// the group to empty and returns whoever is still there.
fn group_left(pgid: u64) -> Vec<u64> {
    let deadline = Instant::now() + bound(Duration::from_secs(2));
    loop {
        let left = group_members(pgid);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (bounded) until `n` members of group `pgid` run `sleep` (have exec'd
/// it) and returns the group. `sh -c` (dash) catches SIGINT and acts on it only
/// once its foreground command ends; a SIGINT that lands while that command is
/// still a forked copy of dash is caught there and lost at its exec. So a stop
/// meant to be answered by SIGINT waits until the sleeps really run; nothing
/// signals that moment, so /proc is looked at.
fn sleeping_in(pgid: u64, n: usize) -> Vec<u64> {
    let deadline = Instant::now() + wait();
    loop {
        let members = group_members(pgid);
        let sleeping = members
            .iter()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            })
            .count();
        if sleeping >= n || Instant::now() > deadline {
            return members;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The process's peak resident memory (`VmHWM`) in bytes.
fn hwm(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

#[test]
fn output_on_both_streams_in_order_and_the_exit_code_reach_every_client() {
    let server = Server::start(&[]);
    let mut a = server.ws("");
    let mut b = server.ws("");
    let mut watcher = viewer(&server);
    for ws in [&mut a, &mut b, &mut watcher] {
        ws.wait_for(|v| v["type"] == "queue_status");
    }
    let id = run(&mut a, "echo out; echo err >&2; exit 3", "c1");
    for ws in [&mut a, &mut b, &mut watcher] {
        let (frames, exit) = collect(ws, id);
        assert_eq!(text_of(&frames, "stdout"), "out\n");
        assert_eq!(text_of(&frames, "stderr"), "err\n");
        let first = |s: &str| frames.iter().position(|f| f["stream"] == s).unwrap();
        assert!(first("stdout") < first("stderr"), "ordered: {frames:?}");
        assert_eq!(exit["code"], 3);
        assert_eq!(exit["signal"], Value::Null);
        assert!(exit["duration_sec"].as_f64().unwrap() >= 0.0);
    }
    // A reconnecting page gets the command back from history.
    let mut late = server.ws("?last_seq=0");
    let start = late.wait_for(|v| v["type"] == "shell_start");
    assert_eq!(start["id"], id);
    assert_eq!(start["by"], "User");
    let (frames, exit) = collect(&mut late, id);
    assert_eq!(text_of(&frames, "stdout"), "out\n");
    assert_eq!(exit["code"], 3);
}

#[test]
fn interleaved_output_is_paced_to_20_frames_a_second_and_loses_nothing() {
    let server = Server::start(&[]);
    let mut ws = server.ws("");
    ws.wait_for(|v| v["type"] == "queue_status");
    // 40 writes a second, alternating streams: unpaced, 40 frames a second.
    let id = run(
        &mut ws,
        "for i in $(seq 1 30); do echo o$i; echo e$i >&2; sleep 0.025; done",
        "p",
    );
    let (frames, exit) = collect(&mut ws, id);
    let secs = exit["duration_sec"].as_f64().unwrap();
    eprintln!("pacing: {} frames in {secs} s", frames.len());
    // 20 a second, plus the first (sent at once) and the last flushes (at the
    // exit, not paced): at most two frames each.
    assert!(
        (frames.len() as f64) <= 20.0 * secs + 6.0,
        "{} frames in {secs} s",
        frames.len()
    );
    let want = |p: &str| (1..=30).map(|i| format!("{p}{i}\n")).collect::<String>();
    assert_eq!(text_of(&frames, "stdout"), want("o"));
    assert_eq!(text_of(&frames, "stderr"), want("e"));
}

#[test]
fn a_viewer_sees_commands_but_cannot_start_or_stop_one() {
    let server = Server::start(&[]);
    let mut owner = server.ws("");
    let mut watcher = viewer(&server);
    watcher.wait_for(|v| v["type"] == "queue_status");
    watcher.send_json(&json!({"type":"shell","id":"v1","command":"touch /tmp/never"}));
    let e = watcher.wait_for(|v| v["type"] == "error");
    assert_eq!(e["code"], "read_only");
    assert_eq!(e["id"], "v1");
    // It says when it runs: a stop sent while `sh` is still starting may be
    // answered by SIGTERM after the grace, which is not what this test is about.
    let id = run(&mut owner, "echo $$; sleep 100", "o1");
    watcher.wait_for(|v| v["type"] == "shell_start" && v["id"] == id);
    let first = owner.wait_for(|v| v["type"] == "shell_output" && v["id"] == id);
    let pgid: u64 = first["data"].as_str().unwrap().trim().parse().unwrap();
    let members = sleeping_in(pgid, 1);
    assert!(members.len() >= 2, "sh and its sleep: {members:?}");
    watcher.send_json(&json!({"type":"shell_stop","id":id}));
    let e = watcher.wait_for(|v| v["type"] == "error");
    assert_eq!(e["code"], "read_only");
    // The command still runs: the owner's stop ends it.
    owner.send_json(&json!({"type":"shell_stop","id":id}));
    let (_, exit) = collect(&mut owner, id);
    assert_eq!(exit["signal"], "SIGINT");
    // An unknown id.
    owner.send_json(&json!({"type":"shell_stop","id":id}));
    let e = owner.wait_for(|v| v["type"] == "error");
    assert_eq!(e["code"], "not_running");
}

#[test]
fn stop_ends_the_whole_group_within_3_s() {
    let server = Server::start(&[]);
    let mut ws = server.ws("");
    ws.wait_for(|v| v["type"] == "queue_status");
    // A background sleep ignores SIGINT (POSIX, non-interactive shell): only the
    // group kill after sh exits ends it.
    let id = run(&mut ws, "echo $$; sleep 100 & sleep 100", "s1");
    let first = ws.wait_for(|v| v["type"] == "shell_output" && v["id"] == id);
    let pgid: u64 = first["data"].as_str().unwrap().trim().parse().unwrap();
    let members = sleeping_in(pgid, 2);
    assert!(members.len() >= 3, "sh and its two sleeps: {members:?}");
    let asked = Instant::now();
    ws.send_json(&json!({"type":"shell_stop","id":id}));
    let (_, exit) = collect(&mut ws, id);
    let took = asked.elapsed();
    eprintln!("stop: shell_exit {took:?} after shell_stop");
    assert!(took < bound(Duration::from_secs(3)), "took {took:?}");
    assert_eq!(exit["code"], Value::Null);
    assert_eq!(exit["signal"], "SIGINT");
    assert_eq!(
        group_left(pgid),
        Vec::<u64>::new(),
        "nothing of the group is left"
    );
}

#[test]
fn a_server_stopping_ends_its_commands() {
    let mut server = Server::start(&[]);
    let mut ws = server.ws("");
    ws.wait_for(|v| v["type"] == "queue_status");
    let id = run(&mut ws, "echo $$; sleep 100 & sleep 100", "x");
    let first = ws.wait_for(|v| v["type"] == "shell_output" && v["id"] == id);
    let pgid: u64 = first["data"].as_str().unwrap().trim().parse().unwrap();
    assert!(!group_members(pgid).is_empty());
    server.signal(rustix::process::Signal::TERM);
    assert!(server.wait_exit().success());
    assert_eq!(
        group_left(pgid),
        Vec::<u64>::new(),
        "nothing of the group is left"
    );
}

#[test]
fn the_time_limit_stops_a_command_and_says_so() {
    let server = Server::start(&["--shell-timeout", "1"]);
    let mut ws = server.ws("");
    ws.wait_for(|v| v["type"] == "queue_status");
    let id = run(&mut ws, "sleep 100", "t1");
    let (_, exit) = collect(&mut ws, id);
    assert_eq!(exit["timed_out"], true);
    assert_eq!(exit["signal"], "SIGINT");
    let secs = exit["duration_sec"].as_f64().unwrap();
    assert!((1.0..5.0).contains(&secs), "{secs}");
}

#[test]
fn the_servers_secrets_are_not_in_the_environment() {
    let server = Server::start_with(
        &[],
        &[
            ("HOMECLAUDE_NTFY_TOKEN", "bridge-secret-1"),
            ("GITHUB_TOKEN", "gh-secret-2"),
            ("SHELL_TEST_VISIBLE", "plain-value"),
        ],
        None,
    );
    let mut ws = server.ws("");
    ws.wait_for(|v| v["type"] == "queue_status");
    let id = run(&mut ws, "env", "e1");
    let (frames, exit) = collect(&mut ws, id);
    assert_eq!(exit["code"], 0);
    let env = text_of(&frames, "stdout");
    assert!(env.contains("SHELL_TEST_VISIBLE=plain-value"), "{env}");
    for secret in [TOKEN, "bridge-secret-1", "gh-secret-2", "HOMECLAUDE_"] {
        assert!(!env.contains(secret), "{secret} in:\n{env}");
    }
    // Below the server, like claude (`--claude-nice`, 10).
    let id = run(&mut ws, "nice", "n");
    assert_eq!(text_of(&collect(&mut ws, id).0, "stdout"), "10\n");
    // stdin is closed: `cat` ends at once.
    let id = run(&mut ws, "cat; echo done", "e2");
    let (frames, exit) = collect(&mut ws, id);
    assert_eq!(text_of(&frames, "stdout"), "done\n");
    assert_eq!(exit["code"], 0);
}

#[test]
fn a_cap_on_commands_running_at_once() {
    let server = Server::start(&[]);
    let mut ws = server.ws("");
    ws.wait_for(|v| v["type"] == "queue_status");
    let ids: Vec<u64> = (0..4)
        .map(|i| run(&mut ws, "sleep 100", &format!("c{i}")))
        .collect();
    ws.send_json(&json!({"type":"shell","id":"c5","command":"echo five"}));
    let e = ws.wait_for(|v| v["type"] == "error");
    assert_eq!(
        (e["code"].as_str(), e["id"].as_str()),
        (Some("busy"), Some("c5"))
    );
    for id in &ids {
        ws.send_json(&json!({"type":"shell_stop","id":id}));
    }
    let mut left = ids.clone();
    while !left.is_empty() {
        let v = ws.wait_for(|v| v["type"] == "shell_exit");
        left.retain(|id| v["id"] != *id);
    }
    // Room again.
    let id = run(&mut ws, "echo five", "c6");
    assert_eq!(collect(&mut ws, id).1["code"], 0);
}

#[test]
fn a_50_mb_printer_costs_little_memory_and_does_not_slow_another_client() {
    let server = Server::start(&[]);
    let mut a = server.ws("");
    let mut b = server.ws("");
    a.wait_for(|v| v["type"] == "queue_status");
    b.wait_for(|v| v["type"] == "queue_status");
    // Warm up: the threads and buffers of one command.
    let id = run(&mut a, "echo warm", "w");
    collect(&mut a, id);
    collect(&mut b, id);
    let before = server.rss();
    let total: u64 = 50 << 20;
    let id = run(
        &mut a,
        &format!("yes 0123456789012345678901234567890123456789 | head -c {total}"),
        "big",
    );
    // While it prints, client b runs its own command and gets its answer promptly.
    let asked = Instant::now();
    let quick = run(&mut b, "echo quick", "q");
    let mut peak = before;
    let mut b_frames = Vec::new();
    let mut big_b = None;
    let mut quick_exit = None;
    while quick_exit.is_none() || big_b.is_none() {
        peak = peak.max(server.rss());
        let v = b.next_json();
        match (v["type"].as_str(), v["id"].as_u64()) {
            (Some("shell_exit"), Some(i)) if i == quick => quick_exit = Some(asked.elapsed()),
            (Some("shell_exit"), Some(i)) if i == id => big_b = Some(v),
            (Some("shell_output"), Some(i)) if i == id => b_frames.push(v),
            _ => {}
        }
    }
    let quick_took = quick_exit.unwrap();
    assert!(
        quick_took < bound(Duration::from_secs(1)),
        "the other command took {quick_took:?}"
    );
    let (a_frames, exit) = collect(&mut a, id);
    peak = peak.max(server.rss());
    assert_eq!(exit["code"], 0);
    let sent: usize = a_frames
        .iter()
        .map(|f| f["data"].as_str().unwrap().len())
        .sum();
    let omitted = exit["omitted"].as_u64().unwrap();
    assert_eq!(sent as u64 + omitted, total, "kept + left out = all");
    assert!(sent <= (320 << 10), "sent {sent} bytes");
    // The tail frame says how much was left out before it.
    assert!(
        a_frames
            .iter()
            .any(|f| f["omitted"].as_u64() == Some(omitted))
    );
    assert_eq!(b_frames.len(), a_frames.len());
    assert!(a_frames.len() < 200, "coalesced: {} frames", a_frames.len());
    // The kernel's high-water mark bounds the peak however briefly it lasted.
    peak = peak.max(hwm(server.pid));
    let grew = peak.saturating_sub(before);
    eprintln!(
        "50 MB printer: RSS {before} -> peak {peak} (+{grew} bytes); {sent} bytes in {} \
         frames, {omitted} left out; the other client's command answered in {quick_took:?}",
        a_frames.len()
    );
    assert!(grew < (5 << 20), "RSS grew by {grew} bytes");
    // Both clients are still connected and served.
    let id = run(&mut a, "echo after", "after");
    assert_eq!(text_of(&collect(&mut b, id).0, "stdout"), "after\n");
}

#[test]
fn a_command_left_by_a_killed_server_is_ended_at_the_next_start() {
    let dir = common::temp_dir("orphan-shell");
    let mut server = Server::start_in(&dir, &[], &[], None);
    let mut ws = server.ws("");
    ws.wait_for(|v| v["type"] == "queue_status");
    let id = run(&mut ws, "echo $$; exec sleep 1000", "o");
    let first = ws.wait_for(|v| v["type"] == "shell_output" && v["id"] == id);
    let pgid: u64 = first["data"].as_str().unwrap().trim().parse().unwrap();
    // A pidfd names this very process even after the server is gone, and becomes
    // readable when it exits.
    let pid = rustix::process::Pid::from_raw(pgid as i32).unwrap();
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).unwrap();
    server.keep_data = true;
    // The journal line is written a moment after the broadcast.
    server.wait_log(&format!("journal: shell {id} started"));
    server.signal(rustix::process::Signal::KILL);
    server.wait_exit();
    drop(server);
    assert!(
        !group_members(pgid).is_empty(),
        "the command outlived the server"
    );
    let mut again = Server::start_in(&dir, &[], &[], None);
    again.wait_log("ended 1 claude run(s) left running");
    // Its card ends too, instead of spinning for ever: the next start says so.
    let exit = again
        .ws("?last_seq=0")
        .wait_for(|v| v["type"] == "shell_exit" && v["id"] == id);
    assert_eq!(exit["interrupted"], true, "{exit}");
    assert!(exit["code"].is_null() && exit["signal"].is_null(), "{exit}");
    let mut fds = [rustix::event::PollFd::new(
        &pidfd,
        rustix::event::PollFlags::IN,
    )];
    let timeout = rustix::event::Timespec {
        tv_sec: wait().as_secs() as i64,
        tv_nsec: 0,
    };
    let ready = rustix::event::poll(&mut fds, Some(&timeout)).unwrap();
    assert_eq!(ready, 1, "the orphaned command was ended");
    // Said once: a third start (after a clean stop, which writes the history
    // out) finds nothing left to report.
    again.keep_data = true;
    assert!(again.stop_gracefully());
    drop(again);
    let third = Server::start_in(&dir, &[], &[], None);
    let mut ws = third.ws("?last_seq=0");
    ws.send_json(&json!({"type":"shell","id":"mark","command":"true"}));
    let mut exits = 0;
    loop {
        let v = ws.next_json();
        if v["type"] == "shell_start" && v["client_id"] == "mark" {
            break;
        }
        exits += usize::from(v["type"] == "shell_exit" && v["id"] == id);
    }
    assert_eq!(
        exits, 1,
        "the lost command is reported once, not at every start"
    );
}
