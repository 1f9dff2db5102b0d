//! The fake `claude` keeps its side of the bargain the runner tests rely on: it waits
//! for the prompt, replays the transcript, records argv and stdin, and answers an
//! interrupt like the real CLI. (Its presence also makes `cargo test` build the
//! binaries, which the runner's unit tests need.)

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

#[test]
fn replays_records_and_answers_an_interrupt() {
    let dir = std::env::temp_dir().join(format!("homeclaude-fake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let transcript = dir.join("t.jsonl");
    let record = dir.join("r.txt");
    std::fs::write(
        &transcript,
        "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s1\"}\n@sleep 60000\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-claude"))
        .args(["-p", "--fake-transcript"])
        .arg(&transcript)
        .arg("--fake-record")
        .arg(&record)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    writeln!(
        stdin,
        r#"{{"type":"user","message":{{"role":"user","content":"hi"}}}}"#
    )
    .unwrap();
    let init = stdout.next().unwrap().unwrap();
    assert!(init.contains("\"init\""), "{init}");
    writeln!(
        stdin,
        r#"{{"type":"control_request","request_id":"r1","request":{{"subtype":"interrupt"}}}}"#
    )
    .unwrap();
    let ack = stdout.next().unwrap().unwrap();
    assert!(
        ack.contains("control_response") && ack.contains("r1"),
        "{ack}"
    );
    let _user = stdout.next().unwrap().unwrap();
    let result = stdout.next().unwrap().unwrap();
    assert!(
        result.contains("error_during_execution") && result.contains("s1"),
        "{result}"
    );
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(r#"["-p","--fake-transcript""#),
        "{text}"
    );
    assert_eq!(lines.len(), 3, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_prompt_starting_with_at_name_picks_its_scenario() {
    let dir = std::env::temp_dir().join(format!("homeclaude-fake-scn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.jsonl"), "{\"type\":\"hello\"}\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-claude"))
        .arg("--fake-transcript-dir")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let prompt = r#"{"type":"user","message":{"role":"user","content":[{"type":"text","text":"[bob]: @hello there"}]}}"#;
    writeln!(stdin, "{prompt}").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"type\":\"hello\"}\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
