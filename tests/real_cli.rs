//! End to end with the real `claude` CLI (the pinned version, `.ci/claude-cli.sh`):
//! the homeclaude binary runs it against `mock-api`, a prompt goes in over `/ws`,
//! and the CLI's tool calls and answer come back to the browser.

mod common;

use common::real_cli::{MockApi, real_claude};
use common::*;
use serde_json::json;

/// The server, stopped with SIGTERM when the test ends (even by a failed
/// assertion), so it stops the real CLI too: a SIGKILLed server would leave it
/// running.
struct Graceful(Server);

impl Drop for Graceful {
    fn drop(&mut self) {
        self.0.stop_gracefully();
    }
}

/// A server running the real CLI against the stand-in, in `mode`, in a project
/// dir inside the stand-in's HOME (so dropping the stand-in removes it too).
fn serve(api: &MockApi, claude: &std::path::Path, mode: &str) -> (Graceful, std::path::PathBuf) {
    let workdir = api.home.join("project");
    std::fs::create_dir_all(&workdir).unwrap();
    let env = api.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let server = Graceful(Server::start_with(
        &[
            "--claude",
            claude.to_str().unwrap(),
            "--workdir",
            workdir.to_str().unwrap(),
            "--permission-mode",
            mode,
        ],
        &env,
        None,
    ));
    (server, workdir)
}

/// Sends a prompt; returns its run id.
fn ask(ws: &mut Ws, text: &str) -> u64 {
    ws.send_json(&json!({"type":"message","message":text}));
    ws.wait_for(|v| v["type"] == "message" && v["message"] == text)["id"]
        .as_u64()
        .unwrap()
}

fn claude_answer(ws: &mut Ws, server: &Graceful) -> String {
    let v = ws.wait_for(|v| {
        assert_ne!(v["progress_type"], "error", "{v}\n{}", server.0.log_text());
        v["type"] == "message" && v["username"] == "Claude"
    });
    v["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_real_cli_asks_before_a_bash_command_and_obeys_the_answer() {
    let Some(claude) = real_claude() else {
        return;
    };
    let api = MockApi::start();
    // In `default` mode a `touch` in the project asks (fixture stdin_tool_matrix).
    let (server, workdir) = serve(&api, &claude, "default");
    let mut ws = server.0.ws("");

    let run = ask(&mut ws, "SCENARIO_BASH_TOUCH create approved.txt");
    let card = ws.wait_for(|v| v["type"] == "approval");
    assert_eq!(card["run"], run);
    assert_eq!(
        (card["tool"].as_str(), card["detail"].as_str()),
        (Some("Bash"), Some("touch approved.txt"))
    );
    assert!(
        !workdir.join("approved.txt").exists(),
        "nothing runs before the answer"
    );
    ws.send_json(&json!({"type":"approval","id":card["id"],"decision":"allow"}));
    let answer = claude_answer(&mut ws, &server);
    assert!(
        workdir.join("approved.txt").exists(),
        "allowed: the file exists"
    );
    assert!(answer.starts_with("Done."), "{answer}");

    std::fs::remove_file(workdir.join("approved.txt")).unwrap();
    ask(&mut ws, "SCENARIO_BASH_TOUCH create approved.txt");
    let card = ws.wait_for(|v| v["type"] == "approval");
    ws.send_json(&json!({"type":"approval","id":card["id"],"decision":"deny",
        "message":"Not now: the user said no."}));
    let answer = claude_answer(&mut ws, &server);
    assert!(!workdir.join("approved.txt").exists(), "denied: no file");
    assert!(
        answer.contains("Not now: the user said no."),
        "the model read the refusal: {answer}"
    );
}

#[test]
fn the_real_cli_gets_the_answers_to_its_questions() {
    let Some(claude) = real_claude() else {
        return;
    };
    let api = MockApi::start();
    let (server, _workdir) = serve(&api, &claude, "acceptEdits");
    let mut ws = server.0.ws("");
    ask(&mut ws, "SCENARIO_ASK set up the app");
    let card = ws.wait_for(|v| v["type"] == "approval");
    assert_eq!(card["kind"], "question");
    ws.send_json(
        &json!({"type":"approval","id":card["id"],"decision":"allow","answers":{
        "Which database should the app use?":"SQLite",
        "Which features do you want?":"Metrics, Audit log"}}),
    );
    assert_eq!(
        ws.wait_for(|v| v["type"] == "approval_resolved")["decision"],
        "answered"
    );
    let answer = claude_answer(&mut ws, &server);
    // The model read the answers in the tool result the CLI made of them.
    assert!(
        answer.contains(r#""Which database should the app use?"="SQLite""#),
        "{answer}"
    );
    assert!(answer.contains("Metrics, Audit log"), "{answer}");
}

#[test]
fn a_prompt_runs_the_real_cli_and_its_answer_arrives() {
    let Some(claude) = real_claude() else {
        return;
    };
    // Dropped last (after the server and its CLI), taking the CLI's HOME with it.
    let api = MockApi::start();
    let (server, workdir) = serve(&api, &claude, "acceptEdits");
    let mut ws = server.0.ws("");
    let text = "SCENARIO_TOOLS make hello.txt";
    ws.send_json(&json!({"type":"message","message":text}));
    let id = ws.wait_for(|v| v["type"] == "message" && v["message"] == text)["id"]
        .as_u64()
        .unwrap();
    // The CLI starts with the model the environment chose, runs Write, Bash and Edit on the
    // workdir, then answers.
    let init = ws.wait_for(|v| v["run"] == id && v["progress_type"] == "init");
    assert_eq!(init["model"], "claude-sonnet-4-5-20250929", "{init}");
    let mut tools = Vec::new();
    let answer = loop {
        let v = ws.next_json();
        if v["run"] == id && v["progress_type"] == "tool_start" {
            tools.push(v["tool"].as_str().unwrap_or("").to_string());
        }
        assert_ne!(v["progress_type"], "error", "{v}\n{}", server.0.log_text());
        if v["type"] == "message" && v["username"] == "Claude" {
            break v;
        }
    };
    assert_eq!(tools, ["Write", "Bash", "Edit"]);
    assert_eq!(
        answer["message"],
        "Created hello.txt, printed it, and changed 'world' to 'stream-json'."
    );
    // The tools really ran, in the workdir.
    assert_eq!(
        std::fs::read_to_string(workdir.join("hello.txt")).unwrap(),
        "Hello, stream-json!\n"
    );
}

/// An image attached to a prompt reaches the Messages API as an image block: the
/// page uploads it, homeclaude reads it into the stream-json user line, the real CLI
/// passes it on (fixture `stdin_image`).
#[test]
fn an_attached_image_reaches_the_api_through_the_real_cli() {
    use base64::Engine;
    let Some(claude) = real_claude() else {
        return;
    };
    let logs = temp_dir("mock-api-log");
    let log = logs.join("requests.jsonl");
    let api = MockApi::start_logging(Some(&log));
    let (server, workdir) = serve(&api, &claude, "acceptEdits");
    // A 2x2 PNG.
    let png = base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg==")
        .unwrap();
    std::fs::create_dir_all(workdir.join("uploads")).unwrap();
    std::fs::write(workdir.join("uploads/shot.png"), &png).unwrap();
    let mut ws = server.0.ws("");
    ws.send_json(
        &json!({"type":"message","message":"what is in this picture?",
        "attachments":["uploads/shot.png"]}),
    );
    claude_answer(&mut ws, &server);
    let text = std::fs::read_to_string(&log).unwrap();
    let image = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/v1/messages"))
        })
        .flat_map(|r| {
            r["body"]["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .find(|c| c["type"] == "image")
        .unwrap_or_else(|| panic!("no image block in the API requests:\n{text}"));
    assert_eq!(image["source"]["type"], "base64");
    assert_eq!(image["source"]["media_type"], "image/png");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(image["source"]["data"].as_str().unwrap())
            .unwrap(),
        png
    );
}
