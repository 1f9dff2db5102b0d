//! Durable history: replay, restarts, crashes, torn logs, a full disk.

mod common;

use common::*;
use rustix::process::Signal;
use serde_json::{Value, json};

/// Every event of a replay from `?last_seq=0`, until a frame matches `last`.
fn history_until(server: &Server, last: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut ws = server.ws("?last_seq=0");
    let mut seen = Vec::new();
    loop {
        let v = ws.next_json();
        let done = last(&v);
        if v["seq"].is_u64() {
            seen.push(v);
        }
        if done {
            return seen;
        }
    }
}

#[test]
fn a_client_that_reconnects_gets_every_missed_event_once_in_order() {
    let server = Server::start(&[]);
    let mut a = server.ws("");
    let mut b = server.ws("");
    occupy(&mut b);
    b.send_json(&json!({"type":"message","message":"before"}));
    let seen = a.wait_for(|v| v["type"] == "queue_status" && v["count"] == 1);
    let last = seen["seq"].as_u64().unwrap();
    drop(a);
    for i in 0..5 {
        b.send_json(&json!({"type":"message","message":format!("missed {i}")}));
    }
    b.wait_for(|v| v["type"] == "queue_status" && v["count"] == 6);
    let mut a = server.ws(&format!("?last_seq={last}"));
    let mut seqs = Vec::new();
    let mut texts = Vec::new();
    while seqs.len() < 10 {
        let v = a.next_json();
        if let Some(seq) = v["seq"].as_u64() {
            seqs.push(seq);
            if v["type"] == "message" {
                texts.push(v["message"].as_str().unwrap().to_string());
            }
        }
    }
    let expected: Vec<u64> = (last + 1..=last + 10).collect();
    assert_eq!(seqs, expected);
    assert_eq!(
        texts,
        (0..5).map(|i| format!("missed {i}")).collect::<Vec<_>>()
    );
}

#[test]
fn seq_stays_monotonic_and_the_queue_survives_kill_9() {
    let dir = temp_dir("kill9");
    let mut first = Server::start_in(&dir, &[], &[], None);
    first.keep_data = true;
    let mut ws = first.ws("");
    let running = occupy(&mut ws);
    let mut ids = Vec::new();
    for text in ["one", "two"] {
        ws.send_json(&json!({"type":"message","message":text}));
        ids.push(
            ws.wait_for(|v| v["type"] == "message")["id"]
                .as_u64()
                .unwrap(),
        );
    }
    let last = ws.wait_for(|v| v["type"] == "queue_status" && v["count"] == 2)["seq"]
        .as_u64()
        .unwrap();
    // The store thread writes a moment after the broadcast; a SIGKILL in that
    // moment loses it (as a power cut loses what was not fsynced). Kill after it.
    first.wait_log(&format!("journal: prompt {} added", ids[1]));
    first.signal(Signal::KILL);
    first.wait_exit();
    drop(first);

    // The run that was cut off is reported; the queued prompts are still there and
    // the first of them runs now.
    let mut second = Server::start_in(&dir, &[], &[], None);
    let history = history_until(&second, |v| {
        v["progress_type"] == "start" && v["run"] == ids[0]
    });
    let messages: Vec<&str> = history
        .iter()
        .filter(|v| v["type"] == "message")
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, vec!["occupy the runner", "one", "two"]);
    let lost = history
        .iter()
        .find(|v| v["progress_type"] == "error" && v["run"] == running)
        .expect("the interrupted run is reported");
    assert!(
        lost["message"].as_str().unwrap().contains("interrupted"),
        "{lost}"
    );
    let mut ws = second.ws("");
    let snapshot = ws.wait_for(|v| v["type"] == "queue_status");
    assert_eq!(snapshot["count"], 1, "the queue survived: {snapshot}");
    assert_eq!(snapshot["items"][0]["id"], ids[1]);
    assert_eq!(snapshot["running"], true);
    ws.send_json(&json!({"type":"message","message":"three"}));
    let next = ws.wait_for(|v| v["type"] == "message")["seq"]
        .as_u64()
        .unwrap();
    assert!(next > last, "seq went back: {next} <= {last}");
    second.signal(Signal::TERM);
    assert_eq!(second.wait_exit().code(), Some(0));
}

#[test]
fn a_torn_final_line_does_not_stop_the_server() {
    let dir = temp_dir("torn");
    let mut first = Server::start_in(&dir, &[], &[], None);
    first.keep_data = true;
    let mut ws = first.ws("");
    ws.send_json(&json!({"type":"message","message":"kept"}));
    ws.wait_for(|v| v["message"] == "kept");
    // A clean stop: the store thread has written "kept" when the process exits
    // (a SIGKILL may lose the events of its last instant, which is not what this
    // test is about: the torn line is added by hand below).
    first.signal(Signal::TERM);
    first.wait_exit();
    drop(first);
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    let log = dir
        .join("history")
        .join(format!("{}.jsonl", state["key"].as_str().unwrap()));
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(br#"{"seq":99,"type":"mess"#);
    std::fs::write(&log, bytes).unwrap();

    let mut second = Server::start_in(&dir, &[], &[], None);
    second.wait_log("torn last line");
    let history = history_until(&second, |v| v["message"] == "kept");
    assert!(!history.is_empty());
}

#[test]
fn a_full_disk_is_announced_live_events_continue_and_saving_resumes() {
    let dir = temp_dir("full");
    std::fs::create_dir_all(dir.join("history")).unwrap();
    let key = "000000000000001";
    std::fs::write(
        dir.join("state.json"),
        format!(r#"{{"key":"{key}","claude_id":null,"resumable":false,"seq":0}}"#),
    )
    .unwrap();
    let log = dir.join("history").join(format!("{key}.jsonl"));
    std::os::unix::fs::symlink("/dev/full", &log).unwrap();
    let mut server = Server::start_in(&dir, &[], &[], None);
    let mut ws = server.ws("");
    ws.send_json(&json!({"type":"message","message":"while full"}));
    // The notice comes live with the first failed write, or, if that happened
    // before this client connected (the usage figures are broadcast at start-up),
    // as a snapshot when it joins. Either way it comes, and the message is live.
    let (mut notice, mut echoed) = (false, false);
    while !(notice && echoed) {
        let v = ws.next_json();
        if v["type"] == "system" {
            assert!(
                v["message"].as_str().unwrap().contains("not being saved"),
                "{v}"
            );
            notice = true;
        }
        echoed |= v["type"] == "message" && v["message"] == "while full";
    }
    server.wait_log("No space left on device");
    std::fs::remove_file(&log).unwrap();
    ws.send_json(&json!({"type":"message","message":"space again"}));
    let back = ws.wait_for(|v| v["type"] == "system");
    assert!(
        back["message"].as_str().unwrap().contains("saved again"),
        "{back}"
    );
    let history = history_until(&server, |v| v["message"] == "space again");
    assert!(history.iter().any(|v| v["message"] == "space again"));
}

#[test]
fn clear_starts_a_new_session_whose_history_starts_empty() {
    let server = Server::start(&[]);
    let mut ws = server.ws("");
    let run = occupy(&mut ws);
    ws.send_json(&json!({"type":"command","command":"clear"}));
    // The running turn is stopped first and ends in the old session.
    ws.wait_for(|v| v["progress_type"] == "stopped" && v["run"] == run);
    ws.wait_for(|v| v["type"] == "system");
    let history = history_until(&server, |v| v["type"] == "system");
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(
        history[0]["message"]
            .as_str()
            .unwrap()
            .contains("New session")
    );
}

#[test]
fn a_session_made_by_claude_in_the_workdir_is_listed_and_resumed() {
    let dir = temp_dir("sessions");
    let workdir_dir = temp_dir("workdir");
    let workdir = std::fs::canonicalize(&workdir_dir).unwrap();
    let encoded: String = workdir
        .to_str()
        .unwrap()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let store = dir.join("claude-config/projects").join(encoded);
    std::fs::create_dir_all(&store).unwrap();
    let id = "0f1e2d3c-4b5a-4968-8776-655443322110";
    // A session file as `claude` writes it in a terminal (shape of the fixtures).
    let line = format!(
        r#"{{"parentUuid":null,"isSidechain":false,"type":"user","message":{{"role":"user","content":"refactor the parser please"}},"uuid":"u1","timestamp":"2026-11-20T10:00:00.000Z","cwd":"{}","sessionId":"{id}","version":"2.1.330"}}"#,
        workdir.display()
    );
    std::fs::write(store.join(format!("{id}.jsonl")), format!("{line}\n")).unwrap();
    let record = dir.join("record.jsonl");
    let server = Server::start_in(
        &dir,
        &["--workdir", workdir.to_str().unwrap()],
        &[("FAKE_CLAUDE_RECORD", record.to_str().unwrap())],
        None,
    );
    let mut ws = server.ws("");
    ws.send_json(&json!({"type":"command","command":"sessions"}));
    let list = ws.wait_for(|v| v["type"] == "sessions");
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("session not listed: {list}"));
    assert!(
        item["title"]
            .as_str()
            .unwrap()
            .contains("refactor the parser"),
        "{item}"
    );
    ws.send_json(&json!({"type":"command","command":"resume","session":id}));
    let notice = ws.wait_for(|v| v["type"] == "system");
    assert!(notice["message"].as_str().unwrap().contains(id), "{notice}");
    // The next prompt continues that session.
    ws.send_json(&json!({"type":"message","message":"@resume_same_id and add tests"}));
    let init = ws.wait_for(|v| v["progress_type"] == "init");
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    let argv: Vec<String> = serde_json::from_str(
        std::fs::read_to_string(&record)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    // One argument, so the id can never be read as a flag of its own.
    assert!(argv.contains(&format!("--resume={id}")), "{argv:?}");
    // A listing says which session is current: the one the CLI reported (the
    // replayed fixture reports its own id).
    ws.wait_for(|v| v["type"] == "queue_status" && v["running"] == false && v["seq"].is_u64());
    ws.send_json(&json!({"type":"command","command":"sessions"}));
    assert_eq!(
        ws.wait_for(|v| v["type"] == "sessions")["current"],
        init["session_id"]
    );
}
