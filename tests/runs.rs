//! Prompts become `claude` runs: driven through a real WebSocket with the fake CLI.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Reads events until the run's `message` from Claude or a terminal progress.
fn run_events(ws: &mut Ws, run: u64) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let v = ws.next_json();
        let mine = v["run"] == run || (v["type"] == "message" && v["username"] == "Claude");
        if !mine {
            continue;
        }
        let end = v["type"] == "message"
            || matches!(v["progress_type"].as_str(), Some("error" | "stopped"));
        seen.push(v);
        if end {
            return seen;
        }
    }
}

fn prompt(ws: &mut Ws, text: &str) -> u64 {
    ws.send_json(&json!({"type":"message","username":"Ann","message":text}));
    ws.wait_for(|v| v["type"] == "message" && v["message"] == text)["id"]
        .as_u64()
        .unwrap()
}

/// A scenario directory: `name` -> transcript lines.
fn scenarios(files: &[(&str, String)]) -> TempDir {
    let dir = temp_dir("scenarios");
    for (name, body) in files {
        std::fs::write(dir.join(format!("{name}.jsonl")), body).unwrap();
    }
    dir
}

#[test]
fn a_prompt_streams_the_original_progress_sequence_then_the_answer() {
    let server = Server::start(&[]);
    let mut ws = server.ws("");
    let id = prompt(&mut ws, "@tools_write_bash_edit make hello.txt");
    let events = run_events(&mut ws, id);
    let kinds: Vec<&str> = events
        .iter()
        .map(|v| v["progress_type"].as_str().unwrap_or("message"))
        .collect();
    assert_eq!(kinds[0], "start");
    assert_eq!(kinds[1], "init");
    assert!(kinds.contains(&"session"));
    let tools: Vec<&Value> = events
        .iter()
        .filter(|v| v["progress_type"] == "tool_start")
        .collect();
    let names: Vec<&str> = tools.iter().map(|v| v["tool"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Write", "Bash", "Edit"]);
    assert_eq!(tools[0]["detail"], "hello.txt");
    assert_eq!(tools[0]["edit_info"]["type"], "write");
    assert_eq!(tools[2]["edit_info"]["type"], "edit");
    assert_eq!(tools[1]["detail"], "cat hello.txt");
    let ends = events
        .iter()
        .filter(|v| v["progress_type"] == "tool_end")
        .count();
    assert_eq!(ends, 3);
    let complete = events
        .iter()
        .find(|v| v["progress_type"] == "complete")
        .unwrap();
    assert!(complete["cost_usd"].as_f64().unwrap() > 0.0);
    assert!(complete["turns"].as_u64().unwrap() >= 1);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "message");
    assert_eq!(last["username"], "Claude");
    assert!(last["message"].as_str().unwrap().contains("hello.txt"));
    let session = events
        .iter()
        .find(|v| v["progress_type"] == "session")
        .unwrap();
    assert!(
        session["resume_command"]
            .as_str()
            .unwrap()
            .contains("claude --resume ")
    );
}

#[test]
fn two_prompts_run_in_order_and_the_second_resumes_the_first_session() {
    let record_dir = temp_dir("record");
    let record = record_dir.join("record.jsonl");
    let record_s = record.to_str().unwrap().to_string();
    let server = Server::start_with(&[], &[("FAKE_CLAUDE_RECORD", &record_s)], None);
    let mut ws = server.ws("");
    let first = prompt(&mut ws, "@session_id_new one");
    let second = prompt(&mut ws, "@resume_same_id two");
    let a = run_events(&mut ws, first);
    assert_eq!(a.last().unwrap()["type"], "message");
    let b = run_events(&mut ws, second);
    assert_eq!(b.last().unwrap()["type"], "message");
    let init_id = a.iter().find(|v| v["progress_type"] == "init").unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The record holds each run's argv, then the stdin lines it read.
    let text = std::fs::read_to_string(&record).unwrap();
    let argvs = recorded_argvs(&record);
    assert_eq!(argvs.len(), 2, "{text}");
    for argv in &argvs {
        for flag in ["-p", "--verbose", "--include-partial-messages"] {
            assert!(argv.contains(&flag.to_string()), "{argv:?}");
        }
        let pos = argv.iter().position(|a| a == "--permission-mode").unwrap();
        assert_eq!(argv[pos + 1], "acceptEdits");
        assert!(!argv.iter().any(|a| a.contains("dangerously")));
    }
    assert!(argvs[0].iter().any(|a| a.starts_with("--session-id=")));
    assert!(
        argvs[1].contains(&format!("--resume={init_id}")),
        "second run resumes: {:?}",
        argvs[1]
    );
    let prompt_line: Value = serde_json::from_str(
        text.lines()
            .find(|l| l.contains("\"type\":\"user\""))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        prompt_line["message"]["content"][0]["text"],
        // The sender's name as the server stamps it (--owner-name), not the page's.
        "[owner]: @session_id_new one"
    );
}

#[test]
fn stop_ends_a_running_turn_within_5_s_and_leaves_no_process() {
    let server = Server::start(&[]);
    let mut ws = server.ws("");
    let id = occupy(&mut ws);
    let t = Instant::now();
    ws.send_json(&json!({"type":"command","command":"stop"}));
    let stopped = ws.wait_for(|v| v["progress_type"] == "stopped" && v["run"] == id);
    assert!(
        t.elapsed() < bound(Duration::from_secs(5)),
        "stop took {:?}",
        t.elapsed()
    );
    assert!(stopped["message"].as_str().unwrap().contains("Stopped"));
    let q = ws.wait_for(|v| v["type"] == "queue_status" && v["running"] == false);
    assert_eq!(q["count"], 0);
    // No fake CLI of this server is left.
    let children =
        std::fs::read_to_string(format!("/proc/{}/task/{}/children", server.pid, server.pid))
            .unwrap_or_default();
    assert_eq!(children.trim(), "", "children left: {children}");
}

#[test]
fn a_missing_cli_is_reported_with_install_advice() {
    let mut server = Server::start(&["--claude", "/nonexistent/claude"]);
    // Said at start-up already, not only at the first prompt.
    let warning = server.wait_log("was not found: prompts will fail");
    assert!(warning.contains("/nonexistent/claude"), "{warning}");
    let mut ws = server.ws("");
    let id = prompt(&mut ws, "hello");
    let err = ws.wait_for(|v| v["progress_type"] == "error" && v["run"] == id);
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("npm install -g @anthropic-ai/claude-code"),
        "{message}"
    );
    // The queue moves on.
    let q = ws.wait_for(|v| v["type"] == "queue_status" && v["seq"].is_u64());
    assert_eq!(q["running"], false);
}

#[test]
fn a_crash_mid_run_a_10_mb_line_and_unknown_lines_are_survived() {
    let init = r#"{"type":"system","subtype":"init","session_id":"11111111-2222-3333-4444-555555555555","model":"claude-test","cwd":"/tmp","tools":[]}"#;
    let result = r#"{"type":"result","subtype":"success","is_error":false,"result":"done fine","session_id":"11111111-2222-3333-4444-555555555555","total_cost_usd":0.01,"duration_ms":5,"num_turns":1,"usage":{"input_tokens":1,"output_tokens":2}}"#;
    let dir = scenarios(&[
        (
            "crash",
            format!("{init}\n@stderr something broke\n@abort\n"),
        ),
        ("big", format!("{init}\n@big 10000000\n{result}\n")),
        (
            "odd",
            format!(
                "{init}\n{{\"type\":\"brand_new_type\",\"x\":1}}\n@raw this is not json\n{result}\n"
            ),
        ),
    ]);
    let server = Server::start_with(
        &[],
        &[("FAKE_CLAUDE_TRANSCRIPT_DIR", dir.to_str().unwrap())],
        None,
    );
    let mut ws = server.ws("");
    let crash = prompt(&mut ws, "@crash");
    let events = run_events(&mut ws, crash);
    let err = events.last().unwrap();
    assert_eq!(err["progress_type"], "error", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("something broke"),
        "{err}"
    );

    let big = prompt(&mut ws, "@big");
    let events = run_events(&mut ws, big);
    assert_eq!(events.last().unwrap()["message"], "done fine");

    let odd = prompt(&mut ws, "@odd");
    let events = run_events(&mut ws, odd);
    assert_eq!(events.last().unwrap()["message"], "done fine");
    // The server is still healthy.
    assert_eq!(get(server.addr, "/healthz").0, 200);
}

#[test]
fn an_unknown_session_is_retried_once_in_a_new_session() {
    let dir = temp_dir("state");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("state.json"),
        r#"{"key":"000000000000001","claude_id":"00000000-0000-0000-0000-00000000dead","resumable":true,"seq":0}"#,
    )
    .unwrap();
    let scen = scenarios(&[(
        "unknown",
        std::fs::read_to_string(fixture("stream-json/resume_unknown_session.jsonl")).unwrap(),
    )]);
    // Every run replays the unknown-session transcript: the retry fails the same way,
    // and is not retried again.
    let transcript = scen.join("unknown.jsonl");
    let server = Server::start_in(
        &dir,
        &[],
        &[("FAKE_CLAUDE_TRANSCRIPT", transcript.to_str().unwrap())],
        None,
    );
    let mut ws = server.ws("");
    let id = prompt(&mut ws, "continue please");
    let retry = ws.wait_for(|v| v["progress_type"] == "retry" && v["run"] == id);
    assert!(retry["message"].as_str().unwrap().contains("new session"));
    // The retry met the same fate: one error, and no second retry.
    let err = ws.wait_for(|v| v["run"] == id && v["progress_type"] != "start");
    assert_eq!(err["progress_type"], "error", "{err}");
    let q = ws.wait_for(|v| v["type"] == "queue_status" && v["seq"].is_u64());
    assert_eq!(q["running"], false);
}

#[test]
fn the_job_keeps_running_when_the_last_browser_disconnects() {
    let server = Server::start(&[]);
    let mut ws = server.ws("");
    let id = occupy(&mut ws);
    drop(ws);
    let mut again = server.ws("?last_seq=0");
    // The run is still going: a fresh snapshot says so and Stop still reaches it.
    let snap = again.wait_for(|v| v["type"] == "queue_status" && v["seq"].is_null());
    assert_eq!(snap["running"], true);
    again.send_json(&json!({"type":"command","command":"stop"}));
    again.wait_for(|v| v["progress_type"] == "stopped" && v["run"] == id);
}

#[test]
fn usage_figures_come_from_the_transcripts_on_connect_and_on_request() {
    let dir = temp_dir("usage");
    let projects = dir.join("claude-config/projects/-home-pi-projects-tools");
    std::fs::create_dir_all(&projects).unwrap();
    std::fs::copy(
        fixture("sessions/tools_write_bash_edit.jsonl"),
        projects.join("84770548-4d5d-4999-b163-a9bfbc86b7aa.jsonl"),
    )
    .unwrap();
    let server = Server::start_in(&dir, &[], &[], None);
    let mut ws = server.ws("");
    ws.send_json(&json!({"type":"command","command":"request_usage"}));
    let usage = ws.wait_for(|v| v["type"] == "usage_status");
    assert!(
        usage["totals"]["totalTokens"].as_u64().unwrap() > 0,
        "{usage}"
    );
    assert!(
        usage["totals"]["totalCost"].as_f64().unwrap() > 0.0,
        "{usage}"
    );
    assert!(usage["date"].as_str().unwrap().len() == 10, "{usage}");
    assert!(
        usage.get("today").is_some() && usage.get("block").is_some(),
        "{usage}"
    );
    // A client that connects later gets the figures at once, as a snapshot.
    let mut late = server.ws("");
    let snap = late.wait_for(|v| v["type"] == "usage_status");
    assert!(snap["seq"].is_null());
    assert_eq!(snap["totals"], usage["totals"]);
}

#[test]
fn the_daily_budget_refuses_new_prompts_once_spent() {
    let dir = temp_dir("budget");
    let projects = dir.join("claude-config/projects/-tmp");
    std::fs::create_dir_all(&projects).unwrap();
    let now = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.000Z"])
        .output()
        .unwrap();
    let now = String::from_utf8(now.stdout).unwrap();
    let line = format!(
        r#"{{"type":"assistant","timestamp":"{}","sessionId":"s1","requestId":"req_1","version":"2.1.330","cwd":"/tmp","message":{{"id":"msg_1","model":"claude-sonnet-4-5-20250929","usage":{{"input_tokens":1000000,"output_tokens":1000,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}}}}"#,
        now.trim()
    );
    std::fs::write(projects.join("s1.jsonl"), format!("{line}\n")).unwrap();
    let server = Server::start_in(&dir, &["--max-daily-usd", "1"], &[], None);
    let mut ws = server.ws("");
    ws.send_json(&json!({"type":"command","command":"request_usage"}));
    let usage = ws.wait_for(|v| v["type"] == "usage_status");
    assert!(
        usage["today"]["totalCost"].as_f64().unwrap() >= 1.0,
        "{usage}"
    );
    ws.send_json(&json!({"type":"message","message":"one more"}));
    let err = ws.wait_for(|v| v["type"] == "error");
    assert_eq!(err["code"], "budget_reached");
    assert!(err["message"].as_str().unwrap().contains("daily limit"));
}

#[test]
fn a_slow_disk_never_delays_a_broadcast() {
    // Every fsync takes 300 ms, as on a slow SD card; each run's end syncs the log,
    // the journal and the state. Ten runs end back to back while a watcher times
    // the owner's echoes: the hub must never wait for the disk.
    let init = r#"{"type":"system","subtype":"init","session_id":"11111111-2222-3333-4444-555555555555","model":"claude-test","cwd":"/tmp","tools":[]}"#;
    let result = r#"{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"11111111-2222-3333-4444-555555555555","total_cost_usd":0.01,"duration_ms":5,"num_turns":1,"usage":{"input_tokens":1,"output_tokens":2}}"#;
    let dir = scenarios(&[("quick", format!("{init}\n{result}\n"))]);
    let mut server = Server::start_with(
        &[],
        &[
            ("FAKE_CLAUDE_TRANSCRIPT_DIR", dir.to_str().unwrap()),
            ("HOMECLAUDE_TEST_HOOKS", "1"),
            ("HOMECLAUDE_TEST_FSYNC_DELAY_MS", "300"),
        ],
        None,
    );
    server.wait_log("every fsync takes 300 ms longer");
    let mut ws = server.ws("");
    let mut watcher = server.ws("");
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(prompt(&mut ws, "@quick"));
    }
    let mut worst = Duration::ZERO;
    let mut finished = 0;
    while finished < ids.len() {
        let t = Instant::now();
        let text = format!("ping {finished}");
        ws.send_json(&json!({"type":"message","message":text}));
        // Counts run ends seen on the way to the echo.
        loop {
            let v = watcher.next_json();
            if v["progress_type"] == "complete" {
                finished += 1;
            }
            if v["message"] == text.as_str() {
                break;
            }
        }
        worst = worst.max(t.elapsed());
        // The echoes are prompts too; cancel them so only the ten runs run.
        let id = ws.wait_for(|v| v["message"] == text.as_str())["id"].clone();
        ws.send_json(&json!({"type":"command","command":"cancel","id":id}));
    }
    // 10 run ends x 3 fsyncs x 300 ms = 9 s of disk time; none of it on the hub.
    assert!(
        worst < bound(Duration::from_millis(150)),
        "an echo waited {worst:?} while runs ended on a slow disk"
    );
}

/// `claude` runs below the server (nice 10 unless `--claude-nice` says otherwise),
/// so its CPU never delays what the phones are sent; the server keeps nice 0.
#[test]
fn claude_runs_at_the_configured_nice_value() {
    for (args, want) in [(&[][..], "10"), (&["--claude-nice", "3"][..], "3")] {
        let scenarios = temp_dir("nice");
        std::fs::write(
            scenarios.join("nice.jsonl"),
            "@nice\n{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"ok\",\"session_id\":\"11111111-2222-3333-4444-555555555555\"}\n",
        )
        .unwrap();
        let record_dir = temp_dir("nice-record");
        let record = record_dir.join("record.txt");
        let server = Server::start_with(
            args,
            &[
                ("FAKE_CLAUDE_TRANSCRIPT_DIR", scenarios.to_str().unwrap()),
                ("FAKE_CLAUDE_RECORD", record.to_str().unwrap()),
            ],
            None,
        );
        let mut ws = server.ws("");
        let id = prompt(&mut ws, "@nice");
        run_events(&mut ws, id);
        let text = std::fs::read_to_string(&record).unwrap();
        let nice = text.lines().find_map(|l| l.strip_prefix("#nice "));
        assert_eq!(nice, Some(want), "{args:?}: {text}");
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.pid)).unwrap();
        let server_nice = stat.rsplit_once(')').unwrap().1.split_whitespace().nth(16);
        assert_eq!(server_nice, Some("0"), "the server itself is not lowered");
    }
}
