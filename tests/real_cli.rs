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

#[test]
fn a_prompt_runs_the_real_cli_and_its_answer_arrives() {
    let Some(claude) = real_claude() else {
        return;
    };
    // Dropped last (after the server and its CLI), taking the CLI's HOME with it.
    let api = MockApi::start();
    // Inside the CLI's temp HOME, so dropping the stand-in removes it too.
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
        ],
        &env,
        None,
    ));
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
