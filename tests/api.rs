//! The REST API: prompts as jobs, their event streams, API tokens, `/health`, the
//! OpenAPI document against the routes, and a dashboard of two boxes. The real
//! binary over real sockets, with the fake CLI.

mod common;

use common::{Server, TOKEN, body, header_value, read_response, temp_dir, try_ws, wait};
use serde_json::{Value, json};
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Makes an API token on the server's data dir with the CLI.
fn api_token(server: &Server, name: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
        .args(["token", "--api", name, "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// One request; returns the status, the response text and its body as JSON
/// (`Value::Null` when it is not JSON).
fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    json_body: Option<&str>,
) -> (u16, String, Value) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let payload = json_body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait())).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let (status, text) = read_response(&mut s);
    let value = serde_json::from_str(body(&text)).unwrap_or(Value::Null);
    (status, text, value)
}

/// One server-sent event.
#[derive(Debug)]
struct Sse {
    id: Option<u64>,
    event: Option<String>,
    data: Value,
}

/// Asks for an event stream (resuming after `last_id`); the answer is left to read.
fn open_stream(addr: SocketAddr, path: &str, token: &str, last_id: Option<u64>) -> TcpStream {
    let resume = last_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait())).unwrap();
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{resume}\
             Accept: text/event-stream\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    s
}

/// Follows an event stream to its end (the server closes it); returns the status
/// line's code and the events.
fn follow(addr: SocketAddr, path: &str, token: &str, last_id: Option<u64>) -> (u16, Vec<Sse>) {
    let mut s = open_stream(addr, path, token, last_id);
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("the stream ends by itself");
    let text = String::from_utf8(all).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status: u16 = head[9..12].parse().unwrap();
    if status != 200 {
        return (status, Vec::new());
    }
    assert_eq!(
        header_value(&text, "content-type").as_deref(),
        Some("text/event-stream")
    );
    let mut events = Vec::new();
    for block in rest.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut ev = Sse {
            id: None,
            event: None,
            data: Value::Null,
        };
        let mut comment_only = true;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id: ") {
                ev.id = Some(v.parse().unwrap());
            } else if let Some(v) = line.strip_prefix("event: ") {
                ev.event = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("data: ") {
                ev.data = serde_json::from_str(v).unwrap();
            } else {
                assert!(line.starts_with(':'), "unexpected line {line:?}");
                continue;
            }
            comment_only = false;
        }
        if !comment_only {
            events.push(ev);
        }
    }
    (status, events)
}

fn post_prompt(addr: SocketAddr, token: &str, body: Value) -> u64 {
    let (status, text, answer) = call(
        addr,
        "POST",
        "/api/prompts",
        Some(token),
        Some(&body.to_string()),
    );
    assert_eq!(status, 202, "{text}");
    assert_eq!(answer["status"], "queued");
    answer["id"].as_u64().unwrap()
}

/// Waits on prompt N's event stream (which replays it from its start) until it
/// runs (`want` = "running": its `start`) or, for any other `want`, until the
/// stream ends with the job; then reads the job, which must say `want`.
fn wait_status(addr: SocketAddr, token: &str, id: u64, want: &str) -> Value {
    let path = format!("/api/prompts/{id}/events");
    if want == "running" {
        let mut lines = std::io::BufReader::new(open_stream(addr, &path, token, None)).lines();
        while !lines
            .next()
            .expect("the stream ended before the prompt ran")
            .expect("reading the stream")
            .contains(r#""progress_type":"start""#)
        {}
    } else {
        follow(addr, &path, token, None);
    }
    let (_, _, job) = call(
        addr,
        "GET",
        &format!("/api/prompts/{id}"),
        Some(token),
        None,
    );
    assert_eq!(job["status"], want, "prompt {id}: {job}");
    job
}

/// `DELETE /api/prompts/N`: its status and body.
fn delete(addr: SocketAddr, token: &str, id: u64) -> (u16, Value) {
    let (status, _, answer) = call(
        addr,
        "DELETE",
        &format!("/api/prompts/{id}"),
        Some(token),
        None,
    );
    (status, answer)
}

#[test]
fn a_prompt_posted_with_an_api_token_runs_streams_to_its_end_and_reports_done() {
    let server = Server::start(&[]);
    let token = api_token(&server, "cron");
    assert!(token.starts_with("hca_"));
    let mut page = server.ws("");
    // Joined (its snapshot came) before the prompt, or it would miss the echo.
    page.wait_for(|v| v["type"] == "queue_status");
    let id = post_prompt(
        server.addr,
        &token,
        json!({"prompt": "@session_id_new hi", "session": "current", "ignored": true}),
    );
    // Every page sees it, with the token's name as the sender.
    let echoed = page.wait_for(|v| v["type"] == "message" && v["id"] == id);
    assert_eq!(echoed["username"], "cron");

    let (status, events) = follow(
        server.addr,
        &format!("/api/prompts/{id}/events"),
        &token,
        None,
    );
    assert_eq!(status, 200);
    let end = events.last().unwrap();
    assert_eq!(end.event.as_deref(), Some("end"));
    assert_eq!(end.data["status"], "done");
    let ids: Vec<u64> = events.iter().filter_map(|e| e.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids are seqs: {ids:?}");
    // The same events as /ws: their JSON carries the seq that is the SSE id.
    for e in events.iter().filter(|e| e.id.is_some()) {
        assert_eq!(e.data["seq"].as_u64(), e.id);
    }
    let kinds: Vec<String> = events
        .iter()
        .map(|e| {
            e.data["progress_type"]
                .as_str()
                .or(e.data["type"].as_str())
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(kinds[0], "message", "{kinds:?}");
    assert!(kinds.contains(&"start".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"complete".to_string()), "{kinds:?}");
    let answer = events
        .iter()
        .find(|e| e.data["username"] == "Claude")
        .expect("Claude's answer is in the stream");
    assert_eq!(answer.data["message"], "You said: first message");

    let (status, _, job) = call(
        server.addr,
        "GET",
        &format!("/api/prompts/{id}"),
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(job["status"], "done");
    assert_eq!(job["result"], "You said: first message");
    assert_eq!(job["cost_usd"], 0.003675);
    assert!(job["duration_sec"].as_f64().is_some());
    assert!(job["session_id"].as_str().is_some_and(|s| s.len() == 36));
    assert_eq!(job["error"], Value::Null);

    // Resuming after the third event gives only what followed it, then the end.
    let (_, resumed) = follow(
        server.addr,
        &format!("/api/prompts/{id}/events"),
        &token,
        Some(ids[2]),
    );
    let resumed_ids: Vec<u64> = resumed.iter().filter_map(|e| e.id).collect();
    assert_eq!(resumed_ids, ids[3..].to_vec());
    assert_eq!(resumed.last().unwrap().event.as_deref(), Some("end"));
}

#[test]
fn a_queued_prompt_is_cancelled_a_running_one_stopped_and_a_full_queue_is_429() {
    let server = Server::start(&["--max-queue", "1"]);
    let token = api_token(&server, "ci");
    // Without a fixture name the fake CLI runs until stopped.
    let running = post_prompt(server.addr, &token, json!({"prompt": "run for ever"}));
    wait_status(server.addr, &token, running, "running");
    let queued = post_prompt(server.addr, &token, json!({"prompt": "wait"}));
    let (status, _, refused) = call(
        server.addr,
        "POST",
        "/api/prompts",
        Some(&token),
        Some(r#"{"prompt":"one too many"}"#),
    );
    assert_eq!(status, 429);
    assert_eq!(refused["error"], "queue_full");
    assert!(refused["message"].as_str().is_some());

    let (status, cancelled) = delete(server.addr, &token, queued);
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled");
    wait_status(server.addr, &token, queued, "cancelled");
    // A cancelled prompt's stream ends at once, with its state.
    let (_, events) = follow(
        server.addr,
        &format!("/api/prompts/{queued}/events"),
        &token,
        None,
    );
    assert_eq!(events.last().unwrap().data["status"], "cancelled");

    let (status, stopping) = delete(server.addr, &token, running);
    assert_eq!(status, 202);
    assert_eq!(stopping["stopping"], true);
    let (_, events) = follow(
        server.addr,
        &format!("/api/prompts/{running}/events"),
        &token,
        None,
    );
    let end = events.last().unwrap();
    assert_eq!(end.event.as_deref(), Some("end"));
    assert_eq!(end.data["status"], "stopped");
    let job = wait_status(server.addr, &token, running, "stopped");
    assert!(job["error"].as_str().is_some());
    let (status, again) = delete(server.addr, &token, running);
    assert_eq!(status, 409);
    assert_eq!(again["error"], "already_finished");
}

#[test]
fn the_api_refuses_strangers_and_viewers_and_an_api_token_is_no_login() {
    let server = Server::start(&[]);
    let token = api_token(&server, "automation");
    let viewer = server.viewer_token();
    let addr = server.addr;
    let id = post_prompt(addr, TOKEN, json!({"prompt": "@session_id_new hi"}));

    for (method, path) in [
        ("POST", "/api/prompts".to_string()),
        ("GET", format!("/api/prompts/{id}")),
        ("DELETE", format!("/api/prompts/{id}")),
        ("GET", format!("/api/prompts/{id}/events")),
        ("GET", "/api/sessions".to_string()),
        ("GET", "/api/usage".to_string()),
        ("GET", "/api/boxes".to_string()),
        ("GET", "/api/openapi.json".to_string()),
    ] {
        let (status, text, err) = call(addr, method, &path, None, Some("{}"));
        assert_eq!(status, 401, "{method} {path}: {text}");
        assert_eq!(err["error"], "unauthorized", "{method} {path}");
    }
    // A viewer reads, but neither sends, cancels, lists sessions nor sees boxes.
    let (status, _, _) = call(
        addr,
        "GET",
        &format!("/api/prompts/{id}"),
        Some(&viewer),
        None,
    );
    assert_eq!(status, 200);
    for (method, path) in [
        ("POST", "/api/prompts".to_string()),
        ("DELETE", format!("/api/prompts/{id}")),
        ("GET", "/api/sessions".to_string()),
        ("GET", "/api/boxes".to_string()),
    ] {
        let (status, _, err) = call(
            addr,
            method,
            &path,
            Some(&viewer),
            Some(r#"{"prompt":"x"}"#),
        );
        assert_eq!(status, 403, "viewer {method} {path}");
        assert_eq!(err["error"], "forbidden");
    }

    // The API token works on the API only: no WebSocket, no page, no logs, no login.
    assert!(try_ws(&server, &[("Authorization", &format!("Bearer {token}"))]).is_err());
    let (status, text, _) = call(addr, "GET", "/", Some(&token), None);
    assert_eq!(status, 303, "{text}");
    assert_eq!(header_value(&text, "location").as_deref(), Some("/login"));
    let (status, _, _) = call(addr, "GET", "/api/logs", Some(&token), None);
    assert_eq!(status, 401);
    let (status, text, _) = call(addr, "GET", &format!("/login?token={token}"), None, None);
    assert_eq!(status, 401);
    assert!(header_value(&text, "set-cookie").is_none());
    // Nothing it can read holds the owner token.
    for path in [
        "/api/usage",
        "/api/sessions",
        "/api/openapi.json",
        "/healthz",
    ] {
        let (_, text, _) = call(addr, "GET", path, Some(&token), None);
        assert!(!text.contains(TOKEN), "{path} leaks the owner token");
    }
    let (status, _, _) = call(
        addr,
        "GET",
        &format!("/api/prompts/{id}"),
        Some(&token),
        None,
    );
    assert_eq!(status, 200);

    // JSON errors with the right status; bodies are checked.
    let (status, text, err) = call(addr, "PUT", "/api/prompts", Some(&token), Some("{}"));
    assert_eq!(status, 405, "{text}");
    assert_eq!(err["error"], "method_not_allowed");
    assert_eq!(header_value(&text, "allow").as_deref(), Some("POST"));
    let (status, _, err) = call(addr, "GET", "/api/prompts/999999", Some(&token), None);
    assert_eq!((status, err["error"].as_str()), (404, Some("not_found")));
    // Refused on its announced length, before it is read (so no reset races it).
    let (status, text) = common::http_raw(
        addr,
        format!(
            "POST /api/prompts HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: 70000\r\n\r\n{{"
        )
        .as_bytes(),
    );
    let err: Value = serde_json::from_str(body(&text)).unwrap();
    assert_eq!(
        (status, err["error"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (status, _, err) = call(addr, "POST", "/api/prompts", Some(&token), Some("{nope"));
    assert_eq!((status, err["error"].as_str()), (400, Some("bad_request")));
    let (status, _, err) = call(
        addr,
        "POST",
        "/api/prompts",
        Some(&token),
        Some(r#"{"prompt":"x","session":"../../etc"}"#),
    );
    assert_eq!((status, err["error"].as_str()), (400, Some("bad_request")));
    let (status, _, err) = call(
        addr,
        "POST",
        "/api/prompts",
        Some(&token),
        Some(r#"{"prompt":"  "}"#),
    );
    assert_eq!((status, err["error"].as_str()), (400, Some("empty_prompt")));

    // /health: public, and nothing more than its four fields.
    let (status, _, health) = call(addr, "GET", "/health", None, None);
    assert_eq!(status, 200);
    let mut keys: Vec<&str> = health
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["status", "timestamp", "uptime", "version"]);
    assert_eq!(health["status"], "healthy");
    assert!(health["timestamp"].as_str().unwrap().ends_with('Z'));

    // Wrong API tokens go through the login back-off like any wrong secret.
    let bad = format!("hca_{}", "0".repeat(64));
    let mut limited = false;
    for _ in 0..8 {
        let (status, _, _) = call(addr, "GET", "/api/usage", Some(&bad), None);
        assert!(status == 401 || status == 429, "{status}");
        if status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "repeated wrong API tokens are slowed down");
    // ... and while backed off, even a right one is not compared.
    let (status, _, _) = call(addr, "GET", "/api/usage", Some(&token), None);
    assert_eq!(status, 429);
}

#[test]
fn every_documented_route_is_served_and_sessions_and_usage_answer() {
    let server = Server::start(&[]);
    let token = api_token(&server, "docs");
    let addr = server.addr;
    let id = post_prompt(addr, &token, json!({"prompt": "@session_id_new hi"}));
    let (_, events) = follow(addr, &format!("/api/prompts/{id}/events"), &token, None);
    assert_eq!(events.last().unwrap().data["status"], "done");

    let (status, _, doc) = call(addr, "GET", "/api/openapi.json", Some(&token), None);
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 8);
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            if !["get", "post", "delete", "put", "patch"].contains(&method.as_str()) {
                continue;
            }
            let method = method.to_ascii_uppercase();
            let concrete = path.replace("{id}", &id.to_string());
            let body = (method == "POST").then_some(r#"{"prompt":"@session_id_new again"}"#);
            let (status, text, _) = call(addr, &method, &concrete, Some(&token), body);
            // Each is answered by the API (JSON or an event stream), never the
            // server's plain "not found" or "method not allowed".
            assert!(
                status != 404 && status != 405,
                "{method} {path} is documented but not served: {text}"
            );
            let kind = header_value(&text, "content-type").unwrap_or_default();
            assert!(
                kind == "application/json" || kind == "text/event-stream",
                "{method} {path}: {kind}"
            );
        }
    }
    // The usage figures (the `usage_status` body) and the session list.
    let (status, _, usage) = call(addr, "GET", "/api/usage", Some(&token), None);
    assert_eq!(status, 200, "{usage}");
    assert!(usage.get("today").is_some(), "{usage}");
    let (status, _, sessions) = call(addr, "GET", "/api/sessions", Some(&token), None);
    assert_eq!(status, 200);
    assert!(sessions["items"].is_array());
}

#[test]
fn a_dashboard_shows_another_box_forwards_prompts_to_it_and_sees_it_go_offline() {
    let mut far = Server::start(&[]);
    let far_token = api_token(&far, "dashboard");
    let far_viewer = far.viewer_token();
    let dir = temp_dir("boxes");
    let file = dir.join("boxes.json");
    std::fs::write(
        &file,
        json!([{"name": "nas", "url": format!("http://{}", far.addr), "token": far_token,
                "viewer_token": far_viewer}])
        .to_string(),
    )
    .unwrap();
    let near = Server::start(&["--boxes", file.to_str().unwrap()]);
    let near_token = api_token(&near, "me");

    let boxes = |deadline: Duration, want: &str| -> Value {
        let until = Instant::now() + deadline;
        loop {
            let (status, text, list) =
                call(near.addr, "GET", "/api/boxes", Some(&near_token), None);
            assert_eq!(status, 200, "{text}");
            assert!(
                !text.contains(&far_token) && !text.contains(&far_viewer),
                "a box's tokens never leave the server"
            );
            let nas = list["boxes"][0].clone();
            if nas["state"] == want {
                return nas;
            }
            assert!(Instant::now() < until, "box never {want}: {list}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let nas = boxes(wait(), "online");
    assert_eq!(nas["name"], "nas");
    assert_eq!(nas["running"], false);
    assert_eq!(nas["queued"], 0);
    assert!(nas["last_seen"].as_str().is_some());

    // Forwarded: it runs on the far box, under the dashboard's token name there.
    let (status, text, job) = call(
        near.addr,
        "POST",
        "/api/prompts",
        Some(&near_token),
        Some(r#"{"prompt":"@session_id_new hi","box":"nas"}"#),
    );
    assert_eq!(status, 202, "{text}");
    let id = job["id"].as_u64().unwrap();
    let done = wait_status(far.addr, &far_token, id, "done");
    assert_eq!(done["sender"], "dashboard");
    assert_eq!(done["result"], "You said: first message");
    let (status, _, err) = call(
        near.addr,
        "POST",
        "/api/prompts",
        Some(&near_token),
        Some(r#"{"prompt":"x","box":"nowhere"}"#),
    );
    assert_eq!((status, err["error"].as_str()), (404, Some("unknown_box")));

    far.signal(rustix::process::Signal::KILL);
    far.wait_exit();
    let killed = Instant::now();
    boxes(common::bound(Duration::from_secs(40)), "offline");
    eprintln!("offline {:?} after the kill", killed.elapsed());
}

#[test]
fn an_event_stream_that_is_not_read_is_cut_at_its_backlog_and_can_resume() {
    // A run whose events are far more than the socket buffers and the backlog hold.
    let dir = temp_dir("flood");
    let fixture = common::fixture("stream-json/session_id_new.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(fixture)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let mut assistant: Value = serde_json::from_str(&lines[1]).unwrap();
    assistant["message"]["content"][0]["text"] = json!("word ".repeat(20_000));
    let mut flood = vec![lines[0].clone()];
    flood.extend(std::iter::repeat_n(assistant.to_string(), 300));
    flood.push(lines[2].clone());
    std::fs::write(dir.join("flood.jsonl"), flood.join("\n") + "\n").unwrap();
    let mut server = Server::start_with(
        &["--client-backlog", "65536"],
        &[("FAKE_CLAUDE_TRANSCRIPT_DIR", dir.to_str().unwrap())],
        None,
    );
    let token = api_token(&server, "slow");
    let id = post_prompt(server.addr, &token, json!({"prompt": "@flood go"}));
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(
        format!(
            "GET /api/prompts/{id}/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    )
    .unwrap();
    // It never reads while the run goes on: the server cuts it, never waits for it.
    // (The run's end is awaited in the log: any reader of this flood may be cut.)
    server.wait_log("fell too far behind; cut");
    server.wait_log("finished: Success");
    let (_, _, job) = call(
        server.addr,
        "GET",
        &format!("/api/prompts/{id}"),
        Some(&token),
        None,
    );
    assert_eq!(job["status"], "done", "{job}");
    slow.set_read_timeout(Some(wait())).unwrap();
    let mut got = Vec::new();
    slow.read_to_end(&mut got)
        .expect("the server closes a cut stream");
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 200"));
    assert!(!got.contains("event: end"), "cut before the end");
    let last = got
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .filter_map(|v| v.parse::<u64>().ok())
        .next_back()
        .expect("some events got through");
    // Resuming from the last id it saw finishes the stream.
    let (status, rest) = follow(
        server.addr,
        &format!("/api/prompts/{id}/events"),
        &token,
        Some(last),
    );
    assert_eq!(status, 200);
    assert!(rest.iter().filter_map(|e| e.id).all(|i| i > last));
    let end = rest.last().unwrap();
    assert_eq!(end.event.as_deref(), Some("end"));
    assert_eq!(end.data["status"], "done");
}

#[test]
fn a_prompt_runs_in_the_session_it_asks_for() {
    let record_dir = temp_dir("record");
    let record = record_dir.join("record.jsonl");
    let server = Server::start_with(
        &[],
        &[("FAKE_CLAUDE_RECORD", record.to_str().unwrap())],
        None,
    );
    let token = api_token(&server, "sessions");
    let other = "0badc0de-1111-4222-8333-444455556666";
    let runs = [
        json!({"prompt": "@session_id_new one"}),
        json!({"prompt": "@resume_same_id two", "session": "current"}),
        json!({"prompt": "@session_id_new three", "session": "new"}),
        json!({"prompt": "@resume_same_id four", "session": other}),
    ];
    for body in runs {
        let id = post_prompt(server.addr, &token, body);
        let (_, events) = follow(
            server.addr,
            &format!("/api/prompts/{id}/events"),
            &token,
            None,
        );
        assert_eq!(events.last().unwrap().data["status"], "done");
    }
    let argvs = common::recorded_argvs(&record);
    let session_arg = |argv: &Vec<String>| -> String {
        argv.iter()
            .find(|a| a.starts_with("--session-id=") || a.starts_with("--resume="))
            .unwrap()
            .split('=')
            .next()
            .unwrap()
            .to_string()
    };
    let kinds: Vec<String> = argvs.iter().map(session_arg).collect();
    assert_eq!(
        kinds,
        ["--session-id", "--resume", "--session-id", "--resume"],
        "{argvs:?}"
    );
    assert!(
        argvs[3].contains(&format!("--resume={other}")),
        "{:?}",
        argvs[3]
    );
}

/// A dashboard (`near`) of one box (`far`): `nas` with its viewer token (live
/// view), `cold` without. Returns the far box's API and viewer tokens too.
struct Dashboard {
    far: Server,
    near: Server,
    far_token: String,
    far_viewer: String,
    _dir: common::TempDir,
}

fn dashboard() -> Dashboard {
    let far = Server::start(&[]);
    let far_token = api_token(&far, "dashboard");
    let far_viewer = far.viewer_token();
    let dir = temp_dir("relay");
    let file = dir.join("boxes.json");
    let url = format!("http://{}", far.addr);
    std::fs::write(
        &file,
        json!([
            {"name": "nas", "url": url, "token": far_token, "viewer_token": far_viewer},
            {"name": "cold", "url": url, "token": far_token},
            {"name": "stale", "url": url, "token": far_token, "viewer_token": "0".repeat(64)},
        ])
        .to_string(),
    )
    .unwrap();
    let near = Server::start(&["--boxes", file.to_str().unwrap()]);
    Dashboard {
        far,
        near,
        far_token,
        far_viewer,
        _dir: dir,
    }
}

/// Opens a dashboard's live view of a box; the refusal's status otherwise.
fn try_relay(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Result<common::Ws, u16> {
    use tungstenite::client::IntoClientRequest;
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(wait())).unwrap();
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (k, v) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        req.headers_mut().insert(name, v.parse().unwrap());
    }
    match tungstenite::client::client(req, stream) {
        Ok((socket, _)) => Ok(common::Ws { socket }),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            Err(resp.status().as_u16())
        }
        Err(e) => panic!("{path}: {e}"),
    }
}

fn owner() -> String {
    format!("Bearer {TOKEN}")
}

/// Reads until the server closes; the close frame's code and reason.
fn close_of(ws: &mut common::Ws) -> (u16, String) {
    loop {
        match ws.socket.read() {
            Ok(tungstenite::Message::Close(Some(c))) => {
                return (u16::from(c.code), c.reason.to_string());
            }
            Ok(tungstenite::Message::Close(None)) => return (1005, String::new()),
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

#[test]
fn the_dashboard_shows_another_boxs_run_live_and_forwards_nothing_from_the_page() {
    let mut d = dashboard();
    let (far, near) = (&d.far, &d.near);
    // Neither token of the box ever reaches the page.
    let (status, text, list) = call(near.addr, "GET", "/api/boxes", Some(TOKEN), None);
    assert_eq!(status, 200);
    assert!(!text.contains(&d.far_token) && !text.contains(&d.far_viewer));
    assert_eq!(list["boxes"][0]["live"], true);
    assert_eq!(list["boxes"][1]["live"], false);

    let mut live = try_relay(
        near.addr,
        "/api/boxes/nas/ws",
        &[("Authorization", &owner())],
    )
    .expect("the owner opens the live view");
    // The far box's own snapshot comes through (its queue, as to any client).
    live.wait_for(|v| v["type"] == "queue_status" && v["seq"].is_null());
    let mut far_page = far.ws("");
    far_page.wait_for(|v| v["type"] == "queue_status" && v["seq"].is_null());

    // A prompt from the page is dropped by the dashboard, never sent on. The
    // ping after it is answered only once the dashboard has read (and dropped)
    // the prompt before it.
    live.send_json(&json!({"type": "message", "message": "dropped on the way", "id": "x"}));
    live.socket
        .send(tungstenite::Message::Ping(b"after".to_vec().into()))
        .unwrap();
    loop {
        match live.socket.read().unwrap() {
            tungstenite::Message::Pong(p) if p.as_ref() == b"after" => break,
            tungstenite::Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                assert_ne!(
                    v["type"], "error",
                    "the box answered a forwarded frame: {v}"
                );
            }
            _ => {}
        }
    }
    // A real prompt on the box: the first echo either side sees is that one, and
    // the live view follows its run to the end.
    let id = post_prompt(
        far.addr,
        &d.far_token,
        json!({"prompt": "@session_id_new hi"}),
    );
    let first = far_page.wait_for(|v| v["type"] == "message");
    assert_eq!(first["id"], id, "{first}");
    let first = live.wait_for(|v| v["type"] == "message" || v["type"] == "error");
    assert_eq!(first["type"], "message", "{first}");
    assert_eq!(first["id"], id);
    assert_eq!(first["username"], "dashboard");
    live.wait_for(|v| v["progress_type"] == "start" && v["run"] == id);
    // The run's end and Claude's answer, in whichever order the box sends them.
    let (mut answer, mut complete) = (None, false);
    while answer.is_none() || !complete {
        let v = live.next_json();
        if v["username"] == "Claude" {
            answer = Some(v["message"].clone());
        }
        complete |= v["progress_type"] == "complete" && v["run"] == id;
    }
    assert_eq!(answer.unwrap(), "You said: first message");
    wait_status(far.addr, &d.far_token, id, "done");

    // The browser leaves: the dashboard closes its side to the box too.
    live.socket.close(None).unwrap();
    let _ = live.wait_close();
    let line = d.near.wait_log("box-relay");
    assert!(line.contains("box-relay"), "{line}");
    let closed = d.near.wait_log("frame(s) from the page dropped");
    assert!(closed.contains("(nas, 1 frame(s)"), "{closed}");
    d.far.wait_log("peer closed");
}

#[test]
fn only_the_dashboards_owner_opens_a_live_view_of_a_box_it_has_a_viewer_token_for() {
    let d = dashboard();
    let near = &d.near;
    let viewer = near.viewer_token();
    let api = api_token(near, "script");
    let (_, login) = common::get(near.addr, &format!("/login?token={viewer}"));
    let cookie = header_value(&login, "set-cookie").unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let path = "/api/boxes/nas/ws";
    let foreign = "http://evil.example".to_string();
    for (what, path, headers, want) in [
        ("no login", path, vec![], 401),
        (
            "the viewer's cookie",
            path,
            vec![("Cookie", cookie.as_str())],
            403,
        ),
        (
            "an API token",
            path,
            vec![("Authorization", &*format!("Bearer {api}"))],
            403,
        ),
        (
            "an unknown box",
            "/api/boxes/nowhere/ws",
            vec![("Authorization", &*owner())],
            404,
        ),
        (
            "a box without a viewer token",
            "/api/boxes/cold/ws",
            vec![("Authorization", &*owner())],
            409,
        ),
        (
            "a foreign page",
            path,
            vec![("Authorization", &*owner()), ("Origin", foreign.as_str())],
            403,
        ),
    ] {
        match try_relay(near.addr, path, &headers) {
            Ok(_) => panic!("{what}: opened"),
            Err(status) => assert_eq!(status, want, "{what}"),
        }
    }
    // The same Origin as the page's is fine.
    let same = format!("http://{}", near.addr);
    assert!(
        try_relay(
            near.addr,
            path,
            &[("Authorization", &owner()), ("Origin", &same)]
        )
        .is_ok()
    );
    // A viewer token the box refuses (rotated there) is tried once: the page is
    // told why, and the dashboard stops presenting it (the box's login back-off
    // would otherwise count the dashboard's every retry).
    let mut stale = try_relay(
        near.addr,
        "/api/boxes/stale/ws",
        &[("Authorization", &owner())],
    )
    .expect("upgraded, then told");
    let (code, reason) = close_of(&mut stale);
    assert_eq!(code, 4502);
    assert_eq!(
        reason,
        "box stale: refused its viewer token (fix the boxes file)"
    );
    let (_, _, list) = call(near.addr, "GET", "/api/boxes", Some(TOKEN), None);
    assert_eq!(list["boxes"][2]["live"], false, "{list}");
    let again = try_relay(
        near.addr,
        "/api/boxes/stale/ws",
        &[("Authorization", &owner())],
    );
    assert_eq!(again.err(), Some(409));
}

#[test]
fn a_box_that_goes_away_closes_its_live_view_with_the_reason() {
    let mut d = dashboard();
    let mut live = try_relay(
        d.near.addr,
        "/api/boxes/nas/ws",
        &[("Authorization", &owner())],
    )
    .expect("the owner opens the live view");
    live.wait_for(|v| v["type"] == "queue_status" && v["seq"].is_null());
    d.far.signal(rustix::process::Signal::KILL);
    d.far.wait_exit();
    let (code, reason) = close_of(&mut live);
    assert_eq!(code, 4502, "{reason}");
    assert!(reason.starts_with("box nas: "), "{reason}");
    // Opened while it is down: the page learns why at once, the same way.
    let mut again = try_relay(
        d.near.addr,
        "/api/boxes/nas/ws",
        &[("Authorization", &owner())],
    )
    .expect("upgraded, then told");
    let (code, reason) = close_of(&mut again);
    assert_eq!(code, 4502, "{reason}");
    assert!(reason.contains("connecting"), "{reason}");
}

#[test]
// tungstenite's handshake callback has its error type fixed (a whole Response).
#[allow(clippy::result_large_err)]
fn a_box_that_sends_too_much_or_garbage_ends_its_live_view_not_the_dashboard() {
    use std::net::TcpListener;
    use std::sync::mpsc;
    use tungstenite::handshake::server::{Request, Response};
    // A stand-in for the far box: its /ws sends, to the first live view, one
    // message over the relay's bound (4 x --max-frame), to the second, bytes that
    // are no WebSocket frame. Other connections (the dashboard's polls) fail.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, seen) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut views = 0;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            let tx = seen_tx.clone();
            let mut auth = String::new();
            let Ok(mut ws) = tungstenite::accept_hdr(stream, |req: &Request, resp: Response| {
                auth = format!(
                    "{} {}",
                    req.uri(),
                    req.headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                );
                Ok(resp)
            }) else {
                continue;
            };
            let _ = tx.send(auth);
            views += 1;
            if views == 1 {
                let _ = ws.send(tungstenite::Message::text("{\"type\":\"queue_status\"}"));
                let _ = ws.send(tungstenite::Message::text("x".repeat(10_000)));
            } else {
                ws.get_mut().write_all(&[0xff; 64]).unwrap();
            }
            // Held open until the dashboard hangs up.
            while ws.read().is_ok() {}
        }
    });
    let dir = temp_dir("garbage");
    let file = dir.join("boxes.json");
    std::fs::write(
        &file,
        json!([{"name": "odd", "url": format!("http://{addr}"), "token": "hca_x",
                "viewer_token": "the-viewer"}])
        .to_string(),
    )
    .unwrap();
    let near = Server::start(&["--boxes", file.to_str().unwrap(), "--max-frame", "2048"]);

    let mut live = try_relay(
        near.addr,
        "/api/boxes/odd/ws?last_seq=7",
        &[("Authorization", &owner())],
    )
    .expect("upgraded");
    // The box got the viewer token (not the API token) and the page's last_seq.
    let auth = seen.recv_timeout(wait()).unwrap();
    assert_eq!(auth, "/ws?last_seq=7 Bearer the-viewer");
    assert_eq!(live.next_json()["type"], "queue_status");
    let (code, reason) = close_of(&mut live);
    assert_eq!(code, 4502);
    assert!(
        reason.starts_with("box odd: sent a message too big"),
        "{reason}"
    );

    let mut live = try_relay(
        near.addr,
        "/api/boxes/odd/ws",
        &[("Authorization", &owner())],
    )
    .expect("upgraded");
    assert_eq!(seen.recv_timeout(wait()).unwrap(), "/ws Bearer the-viewer");
    let (code, reason) = close_of(&mut live);
    assert_eq!(code, 4502);
    assert!(
        reason.starts_with("box odd: broke the protocol"),
        "{reason}"
    );

    // The dashboard itself is fine.
    let (status, _) = common::get(near.addr, "/healthz");
    assert_eq!(status, 200);
}
