//! Answering Claude from the phone: tool approvals, questions, plans and the
//! permission mode, end to end through the real binary with the fake CLI speaking
//! the control protocol as the recorded fixtures show (tests/fixtures/README.md).
mod common;

use common::*;
use serde_json::{Value, json};

const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"all done","session_id":"11111111-2222-3333-4444-555555555555","total_cost_usd":0.01,"duration_ms":5,"num_turns":1,"usage":{"input_tokens":1,"output_tokens":2}}"#;

fn bash_request(id: &str, command: &str) -> String {
    json!({"type":"control_request","request_id":id,"request":{
        "subtype":"can_use_tool","tool_name":"Bash","display_name":"Bash",
        "input":{"command":command,"description":"Run it"},"description":"Run it",
        "permission_suggestions":[
            {"type":"addRules","rules":[{"toolName":"Bash","ruleContent":command}],
             "behavior":"allow","destination":"localSettings"},
            {"type":"setMode","mode":"acceptEdits","destination":"session"}],
        "tool_use_id":format!("toolu_{id}")}})
    .to_string()
}

fn question_request(id: &str) -> String {
    json!({"type":"control_request","request_id":id,"request":{
        "subtype":"can_use_tool","tool_name":"AskUserQuestion","display_name":"AskUserQuestion",
        "input":{"questions":[
            {"question":"Which database should the app use?","header":"Database",
             "options":[{"label":"SQLite","description":"One file"},
                        {"label":"PostgreSQL","description":"A server"}],"multiSelect":false},
            {"question":"Which features do you want?","header":"Features",
             "options":[{"label":"Metrics","description":"Counters"},
                        {"label":"Audit log","description":"Who did what"}],"multiSelect":true},
            {"question":"What should it be called?","header":"Name",
             "options":[{"label":"app","description":"The default"}],"multiSelect":false}]},
        "tool_use_id":format!("toolu_{id}"),"requires_user_interaction":true}})
    .to_string()
}

fn plan_request(id: &str) -> String {
    json!({"type":"control_request","request_id":id,"request":{
        "subtype":"can_use_tool","tool_name":"ExitPlanMode","display_name":"ExitPlanMode",
        "input":{"plan":"# Plan\n\n1. Create plan-done.txt.\n","planFilePath":"/tmp/plan.md"},
        "tool_use_id":format!("toolu_{id}"),"requires_user_interaction":true}})
    .to_string()
}

/// A server whose fake CLI plays `name.jsonl` for a prompt `@name`, recording its
/// stdin; the workdir is its own (for the settings file).
struct Box {
    server: Server,
    _scenarios: TempDir,
    record: std::path::PathBuf,
    workdir: TempDir,
    _record_dir: TempDir,
}

fn start(scenarios: &[(&str, Vec<String>)], extra: &[&str]) -> Box {
    let dir = temp_dir("approval-scenarios");
    for (name, lines) in scenarios {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.join(format!("{name}.jsonl")), body).unwrap();
    }
    let record_dir = temp_dir("approval-record");
    let record = record_dir.join("stdin.jsonl");
    let workdir = temp_dir("approval-workdir");
    let mut args = vec!["--workdir", workdir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let server = Server::start_with(
        &args,
        &[
            ("FAKE_CLAUDE_TRANSCRIPT_DIR", dir.to_str().unwrap()),
            ("FAKE_CLAUDE_RECORD", record.to_str().unwrap()),
        ],
        None,
    );
    Box {
        server,
        _scenarios: dir,
        record,
        workdir,
        _record_dir: record_dir,
    }
}

/// The control responses the fake CLI received, in order.
fn responses(record: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "control_response")
        .collect()
}

fn send_prompt(ws: &mut Ws, text: &str) -> u64 {
    ws.send_json(&json!({"type":"message","message":text}));
    ws.wait_for(|v| v["type"] == "message" && v["message"] == text)["id"]
        .as_u64()
        .unwrap()
}

fn scenario(lines: &[&str]) -> Vec<String> {
    let mut v = vec![INIT.to_string()];
    v.extend(lines.iter().map(|l| l.to_string()));
    v.push(RESULT.to_string());
    v
}

#[test]
fn an_approval_reaches_every_page_the_first_answer_goes_to_the_cli() {
    let ask = format!("@ask {}", bash_request("req-1", "touch approved.txt"));
    let b = start(&[("run", scenario(&[&ask]))], &[]);
    let mut a = b.server.ws("");
    let mut other = b.server.ws("");
    let run = send_prompt(&mut a, "@run");
    let card = a.wait_for(|v| v["type"] == "approval");
    assert_eq!(card["id"], "req-1");
    assert_eq!(card["run"], run);
    assert_eq!(card["kind"], "tool");
    assert_eq!(card["tool"], "Bash");
    assert_eq!(card["detail"], "touch approved.txt");
    assert!(card["seq"].is_u64());
    assert_eq!(card["suggestions"][0]["type"], "addRules");
    let seen = other.wait_for(|v| v["type"] == "approval");
    assert_eq!(seen["id"], "req-1");

    a.send_json(&json!({"type":"approval","id":"req-1","decision":"allow"}));
    let resolved = other.wait_for(|v| v["type"] == "approval_resolved");
    assert_eq!(resolved["id"], "req-1");
    assert_eq!(resolved["decision"], "allow");
    assert_eq!(resolved["by"], "owner");
    let done = a.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    assert_eq!(done["message"], "all done");
    // Exactly the answer the real CLI accepted (fixture stdin_perm).
    assert_eq!(
        responses(&b.record),
        vec![
            json!({"type":"control_response","response":{"subtype":"success",
            "request_id":"req-1","response":{"behavior":"allow",
            "updatedInput":{"command":"touch approved.txt","description":"Run it"}}}})
        ]
    );
    // A late answer is told so; an unknown id too; both echo the id.
    other.send_json(&json!({"type":"approval","id":"req-1","decision":"deny"}));
    let late = other.wait_for(|v| v["type"] == "error");
    assert_eq!(
        (late["code"].as_str(), late["id"].as_str()),
        (Some("already_resolved"), Some("req-1"))
    );
    other.send_json(&json!({"type":"approval","id":"nope","decision":"allow"}));
    let unknown = other.wait_for(|v| v["type"] == "error");
    assert_eq!(unknown["code"], "unknown_approval");
    // Every decision is in the audit log.
    let audit = std::fs::read_to_string(b.server.data_dir.join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert_eq!(lines[0]["event"], "asked");
    assert_eq!(lines[1]["decision"], "allow");
    assert_eq!(lines[1]["by"], "owner");
    assert!(lines[1]["ts"].as_u64().unwrap() > 1_700_000_000_000);
}

#[test]
fn deny_and_stop_tells_the_cli_to_end_the_turn_and_every_page_says_so() {
    let ask = format!("@ask {}", bash_request("req-s", "git push --force"));
    let b = start(&[("stop", scenario(&[&ask]))], &[]);
    let mut ws = b.server.ws("");
    let mut other = b.server.ws("");
    send_prompt(&mut ws, "@stop");
    other.wait_for(|v| v["type"] == "approval" && v["id"] == "req-s");
    ws.send_json(&json!({"type":"approval","id":"req-s","decision":"deny",
        "message":"wrong remote","interrupt":true}));
    let r = other.wait_for(|v| v["type"] == "approval_resolved");
    assert_eq!(
        (&r["decision"], &r["message"], &r["interrupt"]),
        (&json!("deny"), &json!("wrong remote"), &json!(true)),
        "{r}"
    );
    // The run ends as stopped on request, not as failed (`complete`, with the
    // turn's cost, comes first either way).
    let end = ws.wait_for(|v| {
        v["type"] == "progress"
            && (v["progress_type"] == "stopped" || v["progress_type"] == "error")
    });
    assert_eq!(end["progress_type"], "stopped", "{end}");
    assert_eq!(
        responses(&b.record)[0]["response"]["response"],
        json!({"behavior":"deny","message":"wrong remote","interrupt":true})
    );
}

#[test]
fn deny_carries_the_reason_and_always_is_remembered_by_the_cli() {
    let first = format!("@ask {}", bash_request("req-a", "touch always.txt"));
    let again = format!("@ask {}", bash_request("req-b", "touch always.txt"));
    let deny = format!("@ask {}", bash_request("req-c", "rm -rf build"));
    let local = format!("@ask {}", bash_request("req-d", "git init"));
    let b = start(
        &[
            ("always", scenario(&[&first, &again])),
            ("deny", scenario(&[&deny])),
            ("local", scenario(&[&local])),
        ],
        &[],
    );
    let mut ws = b.server.ws("");
    send_prompt(&mut ws, "@deny");
    ws.wait_for(|v| v["type"] == "approval" && v["id"] == "req-c");
    ws.send_json(
        &json!({"type":"approval","id":"req-c","decision":"deny","message":"not the build dir"}),
    );
    let r = ws.wait_for(|v| v["type"] == "approval_resolved");
    assert_eq!(r["decision"], "deny");
    // Every page is told why, not only the one that denied.
    assert_eq!(r["message"], "not the build dir");
    assert!(r.get("interrupt").is_none(), "{r}");
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");

    send_prompt(&mut ws, "@always");
    ws.wait_for(|v| v["type"] == "approval" && v["id"] == "req-a");
    ws.send_json(
        &json!({"type":"approval","id":"req-a","decision":"allow_always","destination":"session"}),
    );
    assert_eq!(
        ws.wait_for(|v| v["type"] == "approval_resolved")["decision"],
        "allow_always"
    );
    // The second, identical request is not asked: the CLI holds the rule.
    let next = ws.wait_for(|v| {
        v["type"] == "approval" || (v["type"] == "message" && v["username"] == "Claude")
    });
    assert_eq!(next["type"], "message", "asked again: {next}");

    send_prompt(&mut ws, "@local");
    ws.wait_for(|v| v["type"] == "approval" && v["id"] == "req-d");
    ws.send_json(
        &json!({"type":"approval","id":"req-d","decision":"allow_always","destination":"local"}),
    );
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");

    let got = responses(&b.record);
    assert_eq!(
        got[0]["response"]["response"],
        json!({"behavior":"deny","message":"not the build dir"})
    );
    assert_eq!(
        got[1]["response"]["response"]["updatedPermissions"],
        json!([{"type":"addRules","rules":[{"toolName":"Bash","ruleContent":"touch always.txt"}],
                "behavior":"allow","destination":"session"}])
    );
    assert_eq!(got.len(), 3, "req-b was never asked: {got:?}");
    assert_eq!(
        got[2]["response"]["response"]["updatedPermissions"][0]["destination"],
        "localSettings"
    );
    let settings = std::fs::read_to_string(b.workdir.join(".claude/settings.local.json")).unwrap();
    assert!(settings.contains("Bash(git init)"), "{settings}");
}

#[test]
fn a_pending_approval_survives_reconnects_and_stop_cancels_it() {
    let ask = format!("@ask {}", bash_request("req-r", "make test"));
    let stop = format!("@ask {}", bash_request("req-s", "make deploy"));
    let b = start(
        &[("wait", scenario(&[&ask])), ("stop", scenario(&[&stop]))],
        &[],
    );
    let mut ws = b.server.ws("");
    send_prompt(&mut ws, "@wait");
    let card = ws.wait_for(|v| v["type"] == "approval");
    let last = card["seq"].as_u64().unwrap();
    drop(ws);
    // A page that comes back, even claiming it saw everything, gets it again.
    let mut back = b.server.ws(&format!("?last_seq={last}"));
    let again = back.wait_for(|v| v["type"] == "approval");
    assert_eq!(again["id"], "req-r");
    let mut fresh = b.server.ws("");
    assert_eq!(fresh.wait_for(|v| v["type"] == "approval")["id"], "req-r");
    back.send_json(&json!({"type":"approval","id":"req-r","decision":"allow"}));
    fresh.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");

    // Stop while one is pending: the CLI withdraws it, every page is told.
    send_prompt(&mut fresh, "@stop");
    fresh.wait_for(|v| v["type"] == "approval" && v["id"] == "req-s");
    fresh.send_json(&json!({"type":"command","command":"stop"}));
    let r = fresh.wait_for(|v| v["type"] == "approval_resolved");
    assert_eq!(
        (r["id"].as_str(), r["decision"].as_str()),
        (Some("req-s"), Some("cancelled"))
    );
    fresh.wait_for(|v| v["type"] == "progress" && v["progress_type"] == "stopped");
    // A late answer to the withdrawn request.
    fresh.send_json(&json!({"type":"approval","id":"req-s","decision":"allow"}));
    assert_eq!(
        fresh.wait_for(|v| v["type"] == "error")["code"],
        "already_resolved"
    );
}

#[test]
fn questions_and_plans_round_trip() {
    let q = format!("@ask {}", question_request("req-q"));
    let p1 = format!("@ask {}", plan_request("req-p1"));
    let p2 = format!("@ask {}", plan_request("req-p2"));
    let b = start(
        &[
            ("ask", scenario(&[&q])),
            ("plan", scenario(&[&p1])),
            ("replan", scenario(&[&p2])),
        ],
        // Plans are made in plan mode; approving one leaves it.
        &["--permission-mode", "plan"],
    );
    let mut ws = b.server.ws("");
    send_prompt(&mut ws, "@ask");
    let card = ws.wait_for(|v| v["type"] == "approval");
    assert_eq!(card["kind"], "question");
    assert_eq!(card["questions"].as_array().unwrap().len(), 3);
    ws.send_json(
        &json!({"type":"approval","id":"req-q","decision":"allow","answers":{
        "Which database should the app use?":"SQLite",
        "Which features do you want?":["Metrics","Audit log"],
        "What should it be called?":"wordcount"}}),
    );
    assert_eq!(
        ws.wait_for(|v| v["type"] == "approval_resolved")["decision"],
        "answered"
    );
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");

    send_prompt(&mut ws, "@replan");
    let card = ws.wait_for(|v| v["type"] == "approval");
    assert_eq!(card["kind"], "plan");
    assert_eq!(card["plan"], "# Plan\n\n1. Create plan-done.txt.\n");
    assert!(card["html"].as_str().unwrap().contains("<h1>Plan</h1>"));
    ws.send_json(&json!({"type":"approval","id":"req-p2","decision":"deny","message":"Keep planning: add tests"}));
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");

    send_prompt(&mut ws, "@plan");
    ws.wait_for(|v| v["type"] == "approval" && v["id"] == "req-p1");
    ws.send_json(&json!({"type":"approval","id":"req-p1","decision":"allow","mode":"acceptEdits"}));
    let mode = ws.wait_for(|v| v["type"] == "permission_mode" && v["seq"].is_u64());
    assert_eq!(mode["mode"], "acceptEdits");
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");

    let got = responses(&b.record);
    let answer = &got[0]["response"]["response"];
    assert_eq!(answer["behavior"], "allow");
    assert_eq!(
        answer["updatedInput"]["answers"]["Which features do you want?"],
        json!(["Metrics", "Audit log"])
    );
    assert_eq!(
        answer["updatedInput"]["answers"]["What should it be called?"],
        "wordcount"
    );
    assert_eq!(
        answer["updatedInput"]["questions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        got[1]["response"]["response"],
        json!({"behavior":"deny","message":"Keep planning: add tests"})
    );
    assert_eq!(
        got[2]["response"]["response"]["updatedPermissions"],
        json!([{"type":"setMode","mode":"acceptEdits","destination":"session"}])
    );
}

#[test]
fn who_may_answer_and_the_http_route() {
    let ask = format!("@ask {}", bash_request("req-h", "npm test"));
    let b = start(&[("run", scenario(&[&ask]))], &[]);
    let viewer = b.server.viewer_token();
    let mut watcher = ws_connect(
        b.server.addr,
        "/ws",
        &[("Authorization", &format!("Bearer {viewer}"))],
    );
    let mut ws = b.server.ws("");
    send_prompt(&mut ws, "@run");
    watcher.wait_for(|v| v["type"] == "approval");
    watcher.send_json(&json!({"type":"approval","id":"req-h","decision":"allow"}));
    assert_eq!(
        watcher.wait_for(|v| v["type"] == "error")["code"],
        "read_only"
    );

    let post = |auth: &str, id: &str, body: &str| {
        let extra = if auth.is_empty() {
            String::new()
        } else {
            format!("Authorization: Bearer {auth}\r\n")
        };
        http_raw(
            b.server.addr,
            format!(
                "POST /api/approvals/{id} HTTP/1.1\r\nHost: {}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                b.server.addr,
                body.len()
            )
            .as_bytes(),
        )
    };
    let allow = r#"{"decision":"allow"}"#;
    assert_eq!(post("", "req-h", allow).0, 401);
    assert_eq!(post(&viewer, "req-h", allow).0, 403);
    assert_eq!(post(TOKEN, "req-h", "{not json").0, 400);
    assert_eq!(post(TOKEN, "nope", allow).0, 404);
    let (code, ok) = post(TOKEN, "req-h", allow);
    assert_eq!(code, 200, "{ok}");
    assert!(body(&ok).contains(r#""decision":"allow""#), "{ok}");
    assert_eq!(
        watcher.wait_for(|v| v["type"] == "approval_resolved")["by"],
        "owner (API)"
    );
    assert_eq!(post(TOKEN, "req-h", allow).0, 409);
}

#[test]
fn an_approval_timeout_denies_and_says_so() {
    let ask = format!("@ask {}", bash_request("req-t", "sleep 1"));
    let b = start(&[("run", scenario(&[&ask]))], &["--approval-timeout", "1"]);
    let mut ws = b.server.ws("");
    send_prompt(&mut ws, "@run");
    ws.wait_for(|v| v["type"] == "approval");
    let r = ws.wait_for(|v| v["type"] == "approval_resolved");
    assert_eq!(
        (r["decision"].as_str(), r["by"].as_str()),
        (Some("timed_out"), Some("server"))
    );
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    let got = responses(&b.record);
    assert_eq!(got[0]["response"]["response"]["behavior"], "deny");
    assert!(
        got[0]["response"]["response"]["message"]
            .as_str()
            .unwrap()
            .contains("timed out")
    );
}

#[test]
fn the_permission_mode_switches_the_live_run_and_the_next_ones() {
    let mut b = start(
        &[(
            "long",
            vec![INIT.to_string(), "@sleep 60000".into(), RESULT.to_string()],
        )],
        &[],
    );
    let mut ws = b.server.ws("");
    let snapshot = ws.wait_for(|v| v["type"] == "permission_mode");
    assert_eq!(snapshot["mode"], "acceptEdits", "the configured default");
    let run = send_prompt(&mut ws, "@long");
    ws.wait_for(|v| v["progress_type"] == "start" && v["run"] == run);
    ws.send_json(&json!({"type":"command","command":"permission_mode","mode":"plan"}));
    let changed = ws.wait_for(|v| v["type"] == "permission_mode");
    assert_eq!(changed["mode"], "plan");
    // The live CLI was told, and answered with its status line (no second event).
    b.server.wait_log("claude confirms permission mode plan");
    ws.send_json(&json!({"type":"command","command":"permission_mode","mode":"bypassPermissions"}));
    let refused = ws.wait_for(|v| v["type"] == "error");
    assert_eq!(refused["code"], "bad_field");
    let record = std::fs::read_to_string(&b.record).unwrap();
    assert!(
        record.contains(r#""subtype":"set_permission_mode""#)
            && record.contains(r#""mode":"plan""#),
        "{record}"
    );
    ws.send_json(&json!({"type":"command","command":"stop"}));
    ws.wait_for(|v| v["progress_type"] == "stopped");
    // The next run starts in plan mode.
    let next = send_prompt(&mut ws, "@long");
    let started = b.server.wait_log(&format!("run {next}: started"));
    assert!(started.contains("--permission-mode plan"), "{started}");
    assert!(
        started.contains("--permission-prompt-tool stdio"),
        "{started}"
    );
}

#[test]
fn an_approval_waits_for_a_phone_that_sleeps_a_minute() {
    // Peers time out at 55-60 s; ours waits as long as it takes. The absence of a
    // timeout can only be shown by waiting, so this test does, once.
    let ask = format!("@ask {}", bash_request("req-60", "npm test"));
    let b = start(&[("run", scenario(&[&ask]))], &[]);
    let mut ws = b.server.ws("");
    send_prompt(&mut ws, "@run");
    let card = ws.wait_for(|v| v["type"] == "approval");
    drop(ws);
    std::thread::sleep(std::time::Duration::from_secs(61));
    let mut back = b.server.ws(&format!("?last_seq={}", card["seq"]));
    assert_eq!(back.wait_for(|v| v["type"] == "approval")["id"], "req-60");
    back.send_json(&json!({"type":"approval","id":"req-60","decision":"allow"}));
    assert_eq!(
        back.wait_for(|v| v["type"] == "message" && v["username"] == "Claude")["message"],
        "all done"
    );
}
