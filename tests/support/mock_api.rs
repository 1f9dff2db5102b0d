//! mock-api: the project's own stand-in for the Anthropic Messages API, and a driver
//! that plays the browser's part on the real CLI's stdin. Test support only: it is
//! never installed or deployed.
//!
//! `mock-api [serve] [--port N]` listens on 127.0.0.1 (loopback only: it answers
//! anyone who connects) and prints `listening 127.0.0.1:PORT` as its first stdout
//! line. Point the real `claude` CLI at it with `ANTHROPIC_BASE_URL=http://ADDR
//! ANTHROPIC_API_KEY=test-key`. `POST /v1/messages` answers like the real API, as
//! server-sent events when the request says `"stream": true` (message_start,
//! content_block_start/delta/stop, message_delta with stop_reason and usage,
//! message_stop) and as one JSON message otherwise. What the "model" says is
//! scripted: a keyword in the latest prompt (`SCENARIO_TOOLS`, ...) picks a row of
//! [`SCENARIOS`], and the number of assistant messages since that prompt picks the
//! step, so each tool_result the CLI sends back moves the script on. Token counts
//! and ids are fixed per step, so recordings differ only where the CLI's own
//! clocks and random ids differ. `MOCK_API_LOG=FILE` appends every request (path
//! and body) to FILE, to see what the CLI sent.
//!
//! `mock-api drive PLAN --stdout FILE [--stdin FILE] -- CMD ARGS...` runs CMD (the
//! CLI) and follows plan PLAN of [`plan`]: it writes the plan's stdin lines, waits
//! for the CLI's `result` lines, answers its `control_request`s (`can_use_tool`) the
//! way the plan says, sends signals. Every stdout line goes to `--stdout`, every
//! stdin line written to `--stdin`. It exits 0 when the plan ran to its end
//! (whatever the CLI's exit code), 2 when a step timed out or the plan was broken.
//!
//! Neither mode panics on bad input: a malformed request gets a 400 and is logged
//! to stderr; an unknown path gets a 404 in the API's error shape (the CLI does not
//! retry those).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// The model every answer claims to be (the CLI is run with `--model` of it).
const MODEL: &str = "claude-sonnet-4-5-20250929";

/// One block of a scripted assistant message. Texts and tool inputs are templates:
/// `{result}` is the text of the latest tool_result, `{prompt}` the prompt, `{turn}`
/// how many prompts the conversation has had, `{plan_file}` the plan file the
/// plan-mode system prompt names.
#[derive(Clone, Copy)]
enum Block {
    Text(&'static str),
    Thinking(&'static str),
    /// A tool call: name and input (JSON text).
    Tool(&'static str, &'static str),
}

use Block::{Text, Thinking, Tool};

/// A scripted conversation: the keyword that selects it and one assistant message per
/// step. A step with a tool call ends with `stop_reason: "tool_use"`; the CLI runs
/// the tool and comes back for the next step. Past the last step the answer is a
/// plain text saying so (never a loop of tool calls).
struct Scenario {
    keyword: &'static str,
    /// Pause between streamed deltas, so a test can interrupt mid-answer.
    delta_pause_ms: u64,
    steps: &'static [&'static [Block]],
}

/// Every scenario, in one table: add a row to add one. `DEFAULT` (no keyword in the
/// prompt) echoes the prompt.
const SCENARIOS: &[Scenario] = &[
    Scenario {
        keyword: "DEFAULT",
        delta_pause_ms: 0,
        steps: &[&[Text("You said: {prompt}")]],
    },
    // Write, Bash, Edit, then a summary (run with --permission-mode acceptEdits).
    Scenario {
        keyword: "SCENARIO_TOOLS",
        delta_pause_ms: 0,
        steps: &[
            &[
                Text("I'll create the file first."),
                Tool(
                    "Write",
                    r#"{"file_path":"{cwd}/hello.txt","content":"Hello, world!\n"}"#,
                ),
            ],
            &[Tool(
                "Bash",
                r#"{"command":"cat hello.txt","description":"Print hello.txt"}"#,
            )],
            &[Tool(
                "Edit",
                r#"{"file_path":"{cwd}/hello.txt","old_string":"world","new_string":"stream-json"}"#,
            )],
            &[Text(
                "Created hello.txt, printed it, and changed 'world' to 'stream-json'.",
            )],
        ],
    },
    // A thinking block before the answer.
    Scenario {
        keyword: "SCENARIO_THINK",
        delta_pause_ms: 0,
        steps: &[&[
            Thinking("The user wants a short answer. Two plus two is four."),
            Text("2 + 2 = 4."),
        ]],
    },
    // A long answer streamed slowly: something to interrupt or SIGINT.
    Scenario {
        keyword: "SCENARIO_SLOW",
        delta_pause_ms: 60,
        steps: &[&[Text(
            "word0 word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11 word12 word13 word14 word15 word16 word17 word18 word19 word20 word21 word22 word23 word24 word25 word26 word27 word28 word29 word30 word31 word32 word33 word34 word35 word36 word37 word38 word39",
        )]],
    },
    // Bash calls forever (run with --max-turns 2).
    Scenario {
        keyword: "SCENARIO_MAX_TURNS",
        delta_pause_ms: 0,
        steps: &[
            &[Tool(
                "Bash",
                r#"{"command":"echo step 0","description":"Step 0"}"#,
            )],
            &[Tool(
                "Bash",
                r#"{"command":"echo step 1","description":"Step 1"}"#,
            )],
            &[Tool(
                "Bash",
                r#"{"command":"echo step 2","description":"Step 2"}"#,
            )],
            &[Text("All steps done.")],
        ],
    },
    // A command headless print mode refuses (no permission prompt tool).
    Scenario {
        keyword: "SCENARIO_DENIED",
        delta_pause_ms: 0,
        steps: &[
            &[Tool(
                "Bash",
                r#"{"command":"rm -rf ./build-output","description":"Remove the build output"}"#,
            )],
            &[Text(
                "I was not allowed to run that command, so nothing was removed. The tool said: {result}",
            )],
        ],
    },
    // A Bash command that creates a file: asks in the default mode.
    Scenario {
        keyword: "SCENARIO_BASH_TOUCH",
        delta_pause_ms: 0,
        steps: &[
            &[Tool(
                "Bash",
                r#"{"command":"touch approved.txt","description":"Create approved.txt"}"#,
            )],
            &[Text("Done. The tool said: {result}")],
        ],
    },
    // The same command twice in a turn: after "allow always" the second is not asked.
    Scenario {
        keyword: "SCENARIO_ALWAYS",
        delta_pause_ms: 0,
        steps: &[
            &[Tool(
                "Bash",
                r#"{"command":"touch always-allowed.txt","description":"Create always-allowed.txt"}"#,
            )],
            &[Tool(
                "Bash",
                r#"{"command":"touch always-allowed.txt","description":"Touch it again"}"#,
            )],
            &[Text("Touched it twice. The tool said: {result}")],
        ],
    },
    // Write in the project: asks in `default`, not in `acceptEdits`.
    Scenario {
        keyword: "SCENARIO_WRITE",
        delta_pause_ms: 0,
        steps: &[
            &[Tool(
                "Write",
                r#"{"file_path":"{cwd}/note-{turn}.txt","content":"note {turn}\n"}"#,
            )],
            &[Text("Wrote note-{turn}.txt. The tool said: {result}")],
        ],
    },
    // AskUserQuestion with a single-choice and a multiSelect question.
    Scenario {
        keyword: "SCENARIO_ASK",
        delta_pause_ms: 0,
        steps: &[
            &[Tool(
                "AskUserQuestion",
                r#"{"questions":[{"question":"Which database should the app use?","header":"Database","multiSelect":false,"options":[{"label":"SQLite","description":"One file, no server"},{"label":"PostgreSQL","description":"A server, more features"}]},{"question":"Which features do you want?","header":"Features","multiSelect":true,"options":[{"label":"Metrics","description":"Counters and timings"},{"label":"Audit log","description":"Who did what"},{"label":"Backups","description":"Nightly copies"}]}]}"#,
            )],
            &[Text("Thanks. The tool said: {result}")],
        ],
    },
    // Plan mode: write the plan file the system prompt names, ExitPlanMode (the CLI
    // fills in the plan), then, once approved, a Write.
    Scenario {
        keyword: "SCENARIO_PLAN",
        delta_pause_ms: 0,
        steps: &[
            &[Tool(
                "Write",
                r##"{"file_path":"{plan_file}","content":"# Plan\n\n1. Create plan-done.txt.\n"}"##,
            )],
            &[Tool("ExitPlanMode", r#"{}"#)],
            &[Tool(
                "Write",
                r#"{"file_path":"{cwd}/plan-done.txt","content":"done\n"}"#,
            )],
            &[Text("Plan carried out. The tool said: {result}")],
        ],
    },
    // A sub-agent (the Task tool): its own conversation, with no keyword, echoes.
    Scenario {
        keyword: "SCENARIO_TASK",
        delta_pause_ms: 0,
        steps: &[
            &[Tool(
                "Task",
                r#"{"description":"Say hello","prompt":"Say hello to the user.","subagent_type":"general-purpose"}"#,
            )],
            &[Text("The sub-agent said: {result}")],
            // The CLI's note that the background sub-agent finished.
            &[Text("The helper has finished.")],
        ],
    },
    // Plan mode, for a plan that is sent back: the plan, ExitPlanMode, then words.
    Scenario {
        keyword: "SCENARIO_PLAN_ONLY",
        delta_pause_ms: 0,
        steps: &[
            &[Tool(
                "Write",
                r##"{"file_path":"{plan_file}","content":"# Plan\n\n1. Create plan-done.txt.\n"}"##,
            )],
            &[Tool("ExitPlanMode", r#"{}"#)],
            &[Text("Back to planning. The tool said: {result}")],
        ],
    },
    // A Messages API error after a tool call: see [`error_for`].
    Scenario {
        keyword: "SCENARIO_API_ERROR",
        delta_pause_ms: 0,
        steps: &[&[Tool(
            "Bash",
            r#"{"command":"echo before the error","description":"Echo"}"#,
        )]],
    },
];

/// The HTTP error a scenario answers with at a step, instead of a message.
fn error_for(keyword: &str, step: usize) -> Option<(u16, Value)> {
    (keyword == "SCENARIO_API_ERROR" && step == 1).then(|| {
        (
            400,
            json!({"type":"error","error":{"type":"invalid_request_error",
                "message":"mock-api: scripted failure"},"request_id":"req_mock_error"}),
        )
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("drive") => drive(&args[1..]),
        Some("serve") => serve(&args[1..]),
        _ => serve(&args),
    };
    std::process::exit(code);
}

// ---------------------------------------------------------------- the server

fn serve(args: &[String]) -> i32 {
    let mut port = 0u16;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => match it.next().and_then(|p| p.parse().ok()) {
                Some(p) => port = p,
                None => return usage("--port needs a number"),
            },
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mock-api: cannot listen on 127.0.0.1:{port}: {e}");
            return 1;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mock-api: {e}");
            return 1;
        }
    };
    // The first stdout line is the contract with whoever started us.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening {addr}");
    let _ = out.flush();
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                thread::spawn(move || connection(s));
            }
            Err(e) => eprintln!("mock-api: accept: {e}"),
        }
    }
    0
}

fn usage(why: &str) -> i32 {
    eprintln!(
        "mock-api: {why}\nusage: mock-api [serve] [--port N]\n       mock-api drive PLAN --stdout FILE [--stdin FILE] -- CMD ARGS..."
    );
    2
}

/// A parsed request.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// One keep-alive connection: requests until the client closes or an answer was
/// streamed (streams end with the connection, as `Connection: close` says).
fn connection(stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let req = match read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(why) => {
                eprintln!("mock-api: bad request: {why}");
                let _ = respond_json(&mut writer, 400, &api_error("invalid_request_error", &why));
                return;
            }
        };
        log_request(&req);
        match handle(&req, &mut writer) {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
    }
}

/// Reads one request; `None` when the connection closed before one began.
fn read_request(r: &mut BufReader<TcpStream>) -> Result<Option<Request>, String> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = r
            .by_ref()
            .take(16 * 1024)
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err("connection closed in the headers".into())
            };
        }
        if head.is_empty() && (line == b"\r\n" || line == b"\n") {
            continue; // stray blank line between requests
        }
        head.extend_from_slice(&line);
        if head.len() > 256 * 1024 {
            return Err("headers too large".into());
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err("incomplete request head".into()),
        Err(e) => return Err(e.to_string()),
    }
    let method = parsed.method.unwrap_or("").to_string();
    let path = parsed.path.unwrap_or("").to_string();
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            r.read_line(&mut size_line).map_err(|e| e.to_string())?;
            let size_text = size_line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            if body.len() + size > 64 * 1024 * 1024 {
                return Err("body too large".into());
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| format!("bad length {len:?}"))?;
        if len > 64 * 1024 * 1024 {
            return Err("body too large".into());
        }
        body = vec![0; len];
        r.read_exact(&mut body).map_err(|e| e.to_string())?;
    }
    Ok(Some(Request { method, path, body }))
}

fn log_request(req: &Request) {
    let Some(file) = std::env::var_os("MOCK_API_LOG") else {
        return;
    };
    let entry = json!({
        "method": req.method,
        "path": req.path,
        "body": serde_json::from_slice::<Value>(&req.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&req.body).into())),
    });
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = writeln!(f, "{entry}");
    }
}

fn api_error(kind: &str, message: &str) -> Value {
    json!({"type":"error","error":{"type":kind,"message":message},"request_id":"req_mock_error"})
}

/// Answers one request; `Ok(true)` when the connection may carry another.
fn handle(req: &Request, w: &mut TcpStream) -> std::io::Result<bool> {
    let path = req.path.split('?').next().unwrap_or("");
    let body: Value = if req.body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("mock-api: {} {path}: body is not JSON: {e}", req.method);
                respond_json(
                    w,
                    400,
                    &api_error("invalid_request_error", "body is not JSON"),
                )?;
                return Ok(true);
            }
        }
    };
    match (req.method.as_str(), path) {
        ("POST", "/v1/messages") => messages(&body, w),
        ("POST", "/v1/messages/count_tokens") => {
            let chars = req.body.len() as u64;
            respond_json(w, 200, &json!({"input_tokens": chars / 4 + 1}))?;
            Ok(true)
        }
        ("GET", "/v1/models") => {
            respond_json(
                w,
                200,
                &json!({"data":[{"type":"model","id":MODEL,"display_name":"Claude Sonnet 4.5",
                    "created_at":"2025-09-29T00:00:00Z"}],"has_more":false,
                    "first_id":MODEL,"last_id":MODEL}),
            )?;
            Ok(true)
        }
        (method, _) => {
            eprintln!("mock-api: unknown {method} {}", req.path);
            respond_json(
                w,
                404,
                &api_error("not_found_error", &format!("mock-api: no {method} {path}")),
            )?;
            Ok(true)
        }
    }
}

fn respond_json(w: &mut TcpStream, status: u16, body: &Value) -> std::io::Result<()> {
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Error",
    };
    write!(
        w,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nrequest-id: req_mock_plain\r\n\r\n{text}",
        text.len()
    )?;
    w.flush()
}

/// What the request's conversation says about where the script is.
struct Context {
    scenario: &'static Scenario,
    step: usize,
    turn: usize,
    prompt: String,
    result: String,
    cwd: String,
    plan_file: String,
}

/// Reads the conversation: the latest prompt (a user message with text that is not
/// a tool_result, a system reminder or an interruption note), its keyword, and how
/// many assistant messages came since.
fn context(body: &Value) -> Context {
    let empty = Vec::new();
    let messages = body["messages"].as_array().unwrap_or(&empty);
    let mut prompt_at = None;
    let mut turn = 0;
    for (i, m) in messages.iter().enumerate() {
        if m["role"] == "user" && !prompt_texts(&m["content"]).is_empty() {
            prompt_at = Some(i);
            turn += 1;
        }
    }
    let (prompt, step) = match prompt_at {
        Some(i) => (
            prompt_texts(&messages[i]["content"]).join("\n"),
            messages[i..]
                .iter()
                .filter(|m| m["role"] == "assistant")
                .count(),
        ),
        None => (String::new(), 0),
    };
    let scenario = SCENARIOS
        .iter()
        .skip(1)
        .find(|s| keywords(&prompt).any(|k| k == s.keyword))
        .unwrap_or(&SCENARIOS[0]);
    let result = messages
        .iter()
        .rev()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .find(|b| b["type"] == "tool_result")
        .map(|b| content_text(&b["content"]))
        .unwrap_or_default();
    // The whole request as text: the system prompt names the cwd and the plan file.
    let all = body.to_string();
    let cwd = find_after(&all, "Primary working directory: ")
        .or_else(|| find_after(&all, "Working directory: "))
        .unwrap_or_default();
    let plan_file = find_plan_file(&all).unwrap_or_else(|| format!("{cwd}/plan.md"));
    Context {
        scenario,
        step,
        turn,
        prompt,
        result,
        cwd,
        plan_file,
    }
}

/// The `SCENARIO_*` words of a prompt (whole words: `SCENARIO_PLAN_ONLY` is not
/// `SCENARIO_PLAN`).
fn keywords(prompt: &str) -> impl Iterator<Item = &str> {
    prompt.match_indices("SCENARIO_").map(move |(i, _)| {
        let rest = &prompt[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    })
}

/// The text blocks of a user message a person typed (not tool results, reminders
/// or the CLI's notes).
fn prompt_texts(content: &Value) -> Vec<String> {
    let texts: Vec<String> = match content {
        Value::String(s) => vec![s.clone()],
        Value::Array(blocks) => {
            if blocks.iter().any(|b| b["type"] == "tool_result") {
                return Vec::new();
            }
            blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str().map(str::to_string))
                .collect()
        }
        _ => Vec::new(),
    };
    texts
        .into_iter()
        .filter(|t| {
            let t = t.trim_start();
            !t.starts_with("<system-reminder>")
                && !t.starts_with("[Request interrupted")
                && !t.starts_with("<local-command")
                && !t.starts_with("<command-")
                && !t.is_empty()
        })
        .collect()
}

/// The text of a tool_result as the model would quote it: without the reminders
/// the CLI appends for the model alone.
fn content_text(content: &Value) -> String {
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .filter(|t| !t.trim_start().starts_with("<system-reminder>"))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    match text.find("<system-reminder>") {
        Some(i) => text[..i].trim_end().to_string(),
        None => text,
    }
}

/// The rest of the line after `marker` in JSON-escaped text.
fn find_after(all: &str, marker: &str) -> Option<String> {
    let start = all.find(marker)? + marker.len();
    let rest = &all[start..];
    let end = rest.find("\\n").unwrap_or(rest.len()).min(rest.find('"')?);
    Some(rest[..end].trim().to_string())
}

/// The plan file the plan-mode system prompt names (`.../.claude/plans/NAME.md`).
fn find_plan_file(all: &str) -> Option<String> {
    let mid = all.find("/.claude/plans/")?;
    let start = all[..mid]
        .rfind([' ', '"', '`', '(', '\n'])
        .map_or(0, |i| i + 1);
    let end = mid + all[mid..].find(".md")? + 3;
    Some(all[start..end].to_string())
}

/// Fills a template; `json` escapes the values for use inside JSON strings.
fn fill(template: &str, ctx: &Context, json: bool) -> String {
    let esc = |s: &str| {
        if json {
            let quoted = Value::String(s.to_string()).to_string();
            quoted[1..quoted.len() - 1].to_string()
        } else {
            s.to_string()
        }
    };
    template
        .replace("{result}", &esc(&ctx.result))
        .replace("{prompt}", &esc(&ctx.prompt))
        .replace("{turn}", &ctx.turn.to_string())
        .replace("{cwd}", &esc(&ctx.cwd))
        .replace("{plan_file}", &esc(&ctx.plan_file))
}

/// The content blocks of the answer, as the API's final message has them.
fn answer_blocks(ctx: &Context, id_base: &str) -> Vec<Value> {
    // Side calls (titles, summaries) come without tools: a short plain answer.
    let steps = ctx.scenario.steps;
    let Some(blocks) = steps.get(ctx.step) else {
        return vec![json!({"type":"text","text":format!(
            "(mock-api: {} has no step {})", ctx.scenario.keyword, ctx.step)})];
    };
    blocks
        .iter()
        .enumerate()
        .map(|(i, b)| match b {
            Text(t) => json!({"type":"text","text":fill(t, ctx, false)}),
            Thinking(t) => json!({"type":"thinking","thinking":fill(t, ctx, false),
                "signature":"mock-signature"}),
            Tool(name, input) => {
                let input: Value = serde_json::from_str(&fill(input, ctx, true))
                    .unwrap_or_else(|e| json!({"mock_api_error": e.to_string()}));
                json!({"type":"tool_use","id":format!("toolu_{id_base}_{i}"),"name":name,
                    "input":input})
            }
        })
        .collect()
}

fn messages(body: &Value, w: &mut TcpStream) -> std::io::Result<bool> {
    let has_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let ctx = context(body);
    let stream = body["stream"] == true;
    let id_base = format!(
        "mock_{}_t{}_s{}",
        ctx.scenario.keyword.to_lowercase(),
        ctx.turn,
        ctx.step
    );
    if has_tools && let Some((status, err)) = error_for(ctx.scenario.keyword, ctx.step) {
        respond_json(w, status, &err)?;
        return Ok(true);
    }
    let content = if has_tools {
        answer_blocks(&ctx, &id_base)
    } else {
        vec![json!({"type":"text","text":"Mock session"})]
    };
    let stop_reason = if content.iter().any(|b| b["type"] == "tool_use") {
        "tool_use"
    } else {
        "end_turn"
    };
    // Fixed figures, so recordings are reproducible: more context each step.
    let input_tokens = 1000 + 100 * (ctx.turn as u64) + 10 * (ctx.step as u64);
    let output_tokens = 20 + 5 * content.len() as u64;
    let msg_id = format!("msg_{id_base}");
    if !stream {
        let msg = json!({"id":msg_id,"type":"message","role":"assistant","model":MODEL,
            "content":content,"stop_reason":stop_reason,"stop_sequence":null,
            "usage":{"input_tokens":input_tokens,"cache_creation_input_tokens":0,
                "cache_read_input_tokens":0,"output_tokens":output_tokens}});
        respond_json(w, 200, &msg)?;
        return Ok(true);
    }
    write!(
        w,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\nrequest-id: req_{id_base}\r\nconnection: close\r\n\r\n"
    )?;
    let pause = Duration::from_millis(ctx.scenario.delta_pause_ms);
    let mut ev = |name: &str, data: Value| -> std::io::Result<()> {
        write!(w, "event: {name}\ndata: {data}\n\n")?;
        w.flush()
    };
    ev(
        "message_start",
        json!({"type":"message_start","message":{"id":msg_id,"type":"message",
            "role":"assistant","model":MODEL,"content":[],"stop_reason":null,
            "stop_sequence":null,"usage":{"input_tokens":input_tokens,
            "cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}),
    )?;
    ev("ping", json!({"type":"ping"}))?;
    for (index, block) in content.iter().enumerate() {
        let kind = block["type"].as_str().unwrap_or("text");
        let (start, deltas): (Value, Vec<Value>) = match kind {
            "tool_use" => (
                json!({"type":"tool_use","id":block["id"],"name":block["name"],"input":{}}),
                json_pieces(&block["input"].to_string())
                    .into_iter()
                    .map(|p| json!({"type":"input_json_delta","partial_json":p}))
                    .collect(),
            ),
            "thinking" => {
                let mut d: Vec<Value> = pieces(block["thinking"].as_str().unwrap_or(""), 3)
                    .into_iter()
                    .map(|p| json!({"type":"thinking_delta","thinking":p}))
                    .collect();
                d.push(json!({"type":"signature_delta","signature":block["signature"]}));
                (json!({"type":"thinking","thinking":"","signature":""}), d)
            }
            _ => {
                let text = block["text"].as_str().unwrap_or("");
                let n = if pause.is_zero() {
                    3
                } else {
                    text.len() / 4 + 1
                };
                (
                    json!({"type":"text","text":""}),
                    pieces(text, n)
                        .into_iter()
                        .map(|p| json!({"type":"text_delta","text":p}))
                        .collect(),
                )
            }
        };
        ev(
            "content_block_start",
            json!({"type":"content_block_start","index":index,"content_block":start}),
        )?;
        for delta in deltas {
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":index,"delta":delta}),
            )?;
            if !pause.is_zero() {
                thread::sleep(pause);
            }
        }
        ev(
            "content_block_stop",
            json!({"type":"content_block_stop","index":index}),
        )?;
    }
    ev(
        "message_delta",
        json!({"type":"message_delta","delta":{"stop_reason":stop_reason,"stop_sequence":null},
            "usage":{"input_tokens":input_tokens,"cache_creation_input_tokens":0,
            "cache_read_input_tokens":0,"output_tokens":output_tokens}}),
    )?;
    ev("message_stop", json!({"type":"message_stop"}))?;
    Ok(false)
}

/// Splits a tool input's JSON between its members (after each `,` that starts a
/// key), never inside a value: a path stays whole, so recordings can rewrite it.
fn json_pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices(",\"") {
        out.push(text[start..=i].to_string());
        start = i + 1;
    }
    out.push(text[start..].to_string());
    out
}

/// Splits text into about `n` pieces at character boundaries, after spaces where
/// possible (as the real API's deltas fall).
fn pieces(text: &str, n: usize) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    let target = text.len().div_ceil(n.max(1)).max(1);
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        cur.push(c);
        if cur.len() >= target && (c == ' ' || cur.len() >= target * 2) {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

// ---------------------------------------------------------------- the driver

/// One step of a stdin plan.
#[derive(Clone)]
enum Step {
    /// Write this line to the CLI's stdin.
    Send(Value),
    /// Wait for a `result` line.
    Result,
    /// Wait for a `can_use_tool` request and answer it.
    Answer(Answer),
    /// Wait for a `can_use_tool` request and leave it pending.
    AwaitRequest,
    /// Wait for the `control_response` to this request id.
    AwaitResponse(&'static str),
    /// Wait for this many `text_delta` stream events (counted from the start).
    Deltas(usize),
    /// Send a signal to the CLI.
    Signal(i32),
    /// Close the CLI's stdin.
    Close,
}

/// How a `can_use_tool` is answered (the `*.stdin.jsonl` recordings in
/// tests/fixtures/stream-json show each shape the CLI accepted).
#[derive(Clone)]
enum Answer {
    Allow,
    /// Allow with the suggested `addRules` given `destination: "session"`.
    AllowAlwaysSession,
    Deny(&'static str),
    /// Allow with `updatedPermissions` `setMode` into this mode.
    AllowSetMode(&'static str),
    /// Allow AskUserQuestion with these answers (question text -> label(s)).
    Answers(&'static [(&'static str, &'static str)]),
}

fn user(text: &str) -> Step {
    Step::Send(json!({"type":"user","message":{"role":"user","content":[
        {"type":"text","text":text}]},"parent_tool_use_id":null,"session_id":""}))
}

fn control(id: &str, request: Value) -> Step {
    Step::Send(json!({"type":"control_request","request_id":id,"request":request}))
}

/// The plans, by name (one per kind of stdin recording).
fn plan(name: &str) -> Option<Vec<Step>> {
    use Step::*;
    Some(match name {
        // Prompt on the command line: nothing to say, stdin closed at once.
        "close" => vec![Close],
        // SIGINT mid-answer (--include-partial-messages shows the deltas).
        "sigint" => vec![Close, Deltas(10), Signal(2)],
        "init" => vec![
            control("req_init_1", json!({"subtype":"initialize"})),
            AwaitResponse("req_init_1"),
            user("hello after init"),
            Result,
            Close,
        ],
        "multi" => vec![
            user("first turn: remember the word apricot"),
            Result,
            user("second turn: what word did I ask you to remember?"),
            Result,
            Close,
        ],
        "interrupt" => vec![
            user("SCENARIO_SLOW tell me a long story"),
            Deltas(3),
            control("req_interrupt_1", json!({"subtype":"interrupt"})),
            Result,
            user("SCENARIO_SLOW tell it again, in full"),
            Result,
            Close,
        ],
        "perm_allow" => vec![
            user("SCENARIO_BASH_TOUCH create approved.txt"),
            Answer(self::Answer::Allow),
            Result,
            Close,
        ],
        "perm_deny" => vec![
            user("SCENARIO_BASH_TOUCH create approved.txt"),
            Answer(self::Answer::Deny("Not now: the user said no.")),
            Result,
            Close,
        ],
        "perm_always_session" => vec![
            user("SCENARIO_ALWAYS touch it twice"),
            Answer(self::Answer::AllowAlwaysSession),
            Result,
            user("SCENARIO_ALWAYS and twice more"),
            Result,
            Close,
        ],
        "perm_pending_interrupt" => vec![
            user("SCENARIO_BASH_TOUCH create approved.txt"),
            AwaitRequest,
            control("req_interrupt_1", json!({"subtype":"interrupt"})),
            Result,
            Close,
        ],
        "ask" => vec![
            user("SCENARIO_ASK set up the app"),
            Answer(self::Answer::Answers(&[
                ("Which database should the app use?", "SQLite"),
                ("Which features do you want?", "Metrics, Audit log"),
            ])),
            Result,
            Close,
        ],
        "plan_accept_edits" => vec![
            user("SCENARIO_PLAN make a plan, then carry it out"),
            Answer(self::Answer::AllowSetMode("acceptEdits")),
            Result,
            Close,
        ],
        "plan_deny" => vec![
            user("SCENARIO_PLAN_ONLY make a plan"),
            Answer(self::Answer::Deny("Keep planning: add a test step first.")),
            Result,
            Close,
        ],
        "set_permission_mode" => vec![
            user("SCENARIO_WRITE write the first note"),
            Answer(self::Answer::Allow),
            Result,
            control(
                "req_mode_1",
                json!({"subtype":"set_permission_mode","mode":"acceptEdits"}),
            ),
            AwaitResponse("req_mode_1"),
            user("SCENARIO_WRITE write the second note"),
            Result,
            control(
                "req_mode_2",
                json!({"subtype":"set_permission_mode","mode":"bypassPermissions"}),
            ),
            AwaitResponse("req_mode_2"),
            Close,
        ],
        _ => return None,
    })
}

/// The `response` of the control_response to a `can_use_tool` request.
fn answer(how: &Answer, req: &Value) -> Value {
    let input = req["input"].clone();
    match how {
        Answer::Allow => json!({"behavior":"allow","updatedInput":input}),
        Answer::AllowAlwaysSession => {
            let mut rules: Vec<Value> = req["permission_suggestions"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter(|p| p["type"] == "addRules")
                        .take(1)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for r in &mut rules {
                r["destination"] = json!("session");
            }
            json!({"behavior":"allow","updatedInput":input,"updatedPermissions":rules})
        }
        Answer::Deny(message) => json!({"behavior":"deny","message":message}),
        Answer::AllowSetMode(mode) => json!({"behavior":"allow","updatedInput":input,
            "updatedPermissions":[{"type":"setMode","mode":mode,"destination":"session"}]}),
        Answer::Answers(pairs) => {
            let answers: serde_json::Map<String, Value> = pairs
                .iter()
                .map(|(q, a)| (q.to_string(), json!(a)))
                .collect();
            let mut updated = input;
            updated["answers"] = Value::Object(answers);
            json!({"behavior":"allow","updatedInput":updated})
        }
    }
}

/// What the stdout reader thread reports.
enum Out {
    Line(Value),
    Eof,
}

fn drive(args: &[String]) -> i32 {
    let Some(plan_name) = args.first() else {
        return usage("drive needs a plan");
    };
    let Some(steps) = plan(plan_name) else {
        return usage(&format!("no plan {plan_name:?}"));
    };
    let (mut stdout_path, mut stdin_path, mut cmd) = (None, None, Vec::new());
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--stdout" => stdout_path = it.next().cloned(),
            "--stdin" => stdin_path = it.next().cloned(),
            "--" => {
                cmd = it.by_ref().cloned().collect();
            }
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let (Some(stdout_path), Some(program)) = (stdout_path, cmd.first()) else {
        return usage("drive needs --stdout FILE and -- CMD");
    };
    let mut out_file = match std::fs::File::create(&stdout_path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("mock-api drive: {stdout_path}: {e}");
            return 2;
        }
    };
    let mut in_file = match stdin_path.as_ref().map(std::fs::File::create).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("mock-api drive: stdin file: {e}");
            return 2;
        }
    };
    let mut child = match Command::new(program)
        .args(&cmd[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mock-api drive: cannot start {program}: {e}");
            return 2;
        }
    };
    let (tx, rx) = mpsc::channel();
    let Some(child_out) = child.stdout.take() else {
        return 2;
    };
    thread::spawn(move || {
        for line in BufReader::new(child_out).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(out_file, "{line}");
            let _ = out_file.flush();
            let v = serde_json::from_str(&line).unwrap_or(Value::Null);
            if tx.send(Out::Line(v)).is_err() {
                break;
            }
        }
        let _ = tx.send(Out::Eof);
    });
    let mut stdin = child.stdin.take();
    let mut deltas = 0usize;
    let mut broken = None;
    for step in &steps {
        let ok = match step {
            Step::Send(v) => {
                if let Some(f) = in_file.as_mut() {
                    let _ = writeln!(f, "{v}");
                }
                stdin
                    .as_mut()
                    .is_some_and(|s| writeln!(s, "{v}").and_then(|_| s.flush()).is_ok())
            }
            Step::Close => {
                stdin = None;
                true
            }
            Step::Signal(sig) => rustix::process::Pid::from_raw(child.id() as i32)
                .and_then(|pid| {
                    let sig = rustix::process::Signal::from_named_raw(*sig)?;
                    rustix::process::kill_process(pid, sig).ok()
                })
                .is_some(),
            Step::Result => wait_line(&rx, &mut deltas, None, |v| v["type"] == "result"),
            Step::Deltas(n) => *n <= deltas || wait_line(&rx, &mut deltas, Some(*n), |_| false),
            Step::AwaitResponse(id) => wait_line(&rx, &mut deltas, None, |v| {
                v["type"] == "control_response" && v["response"]["request_id"] == *id
            }),
            Step::AwaitRequest | Step::Answer(_) => {
                let mut req = Value::Null;
                let got = wait_line(&rx, &mut deltas, None, |v| {
                    let hit =
                        v["type"] == "control_request" && v["request"]["subtype"] == "can_use_tool";
                    if hit {
                        req = v.clone();
                    }
                    hit
                });
                if let (true, Step::Answer(how)) = (got, step) {
                    let line = json!({"type":"control_response","response":{
                        "subtype":"success","request_id":req["request_id"],
                        "response":answer(how, &req["request"])}});
                    if let Some(f) = in_file.as_mut() {
                        let _ = writeln!(f, "{line}");
                    }
                    stdin
                        .as_mut()
                        .is_some_and(|s| writeln!(s, "{line}").and_then(|_| s.flush()).is_ok())
                } else {
                    got
                }
            }
        };
        if !ok {
            broken = Some(step_name(step));
            break;
        }
    }
    drop(stdin);
    if let Some(step) = &broken {
        eprintln!("mock-api drive: plan {plan_name} stuck at {step}; killing the CLI");
        let _ = child.kill();
    }
    // Drain stdout until the CLI exits (the reader thread writes the file).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Out::Line(_)) => {}
            Ok(Out::Eof) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                eprintln!("mock-api drive: the CLI did not exit; killing it");
                let _ = child.kill();
                broken.get_or_insert_with(|| "exit".into());
                break;
            }
        }
    }
    match child.wait() {
        Ok(status) => eprintln!("mock-api drive: {plan_name}: CLI {status}"),
        Err(e) => eprintln!("mock-api drive: wait: {e}"),
    }
    if broken.is_some() { 2 } else { 0 }
}

fn step_name(step: &Step) -> String {
    match step {
        Step::Send(v) => format!("send {v}"),
        Step::Result => "waiting for a result".into(),
        Step::Answer(_) | Step::AwaitRequest => "waiting for a can_use_tool".into(),
        Step::AwaitResponse(id) => format!("waiting for the response to {id}"),
        Step::Deltas(n) => format!("waiting for {n} text deltas"),
        Step::Signal(s) => format!("signal {s}"),
        Step::Close => "close".into(),
    }
}

/// Reads stdout lines until one matches (true), counting text deltas on the way;
/// false on timeout or when the CLI's stdout ends. With a `goal`, also true once
/// that many deltas were seen in all.
fn wait_line(
    rx: &Receiver<Out>,
    deltas: &mut usize,
    goal: Option<usize>,
    mut hit: impl FnMut(&Value) -> bool,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Out::Line(v)) => {
                if v["type"] == "stream_event" && v["event"]["delta"]["type"] == "text_delta" {
                    *deltas += 1;
                }
                if hit(&v) {
                    return true;
                }
                // A permission request the plan did not expect would wait forever.
                if v["type"] == "control_request" && v["request"]["subtype"] == "can_use_tool" {
                    eprintln!("mock-api drive: unexpected can_use_tool: {v}");
                    return false;
                }
                if goal.is_some_and(|g| *deltas >= g) {
                    return true;
                }
            }
            Ok(Out::Eof) | Err(_) => return false,
        }
    }
}
