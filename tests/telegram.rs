//! The Telegram bridge against a loopback stand-in of the Bot API: prompts from an
//! allowed chat run and are answered there, other chats start nothing, approvals
//! come with Allow / Always / Deny buttons and a button press answers them, photos
//! are attached, and a failing API is retried with back-off.
mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const BOT: &str = "123456:TEST-secret-token-abcdefghijklmnop";
const CHAT: i64 = 4242;
const OTHER: i64 = 999;
const PHOTO: &[u8] = b"\x89PNG\r\n\x1a\n not really a png but bytes all the same";

const TOOL: &str = r#"{"type":"assistant","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls -la","description":"List"}}]},"session_id":"11111111-2222-3333-4444-555555555555"}"#;
const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"all <done> & well","session_id":"11111111-2222-3333-4444-555555555555","total_cost_usd":0.0123,"duration_ms":4200,"num_turns":1,"usage":{"input_tokens":1,"output_tokens":2}}"#;

/// One Bot API call the bridge made: its method and JSON body.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    body: Value,
    at: Instant,
}

/// The Bot API stand-in.
struct Api {
    addr: SocketAddr,
    updates: Arc<(Mutex<VecDeque<Value>>, Condvar)>,
    fail: Arc<AtomicUsize>,
    calls: Arc<Mutex<Vec<Call>>>,
    rx: Receiver<Call>,
    next_update: i64,
}

impl Api {
    fn start() -> Api {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let updates = Arc::new((Mutex::new(VecDeque::new()), Condvar::new()));
        let fail = Arc::new(AtomicUsize::new(0));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let (u, f, c) = (updates.clone(), fail.clone(), calls.clone());
        std::thread::spawn(move || {
            let next_msg = Arc::new(AtomicUsize::new(100));
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let (u, f, c, tx, n) = (
                    u.clone(),
                    f.clone(),
                    c.clone(),
                    tx.clone(),
                    next_msg.clone(),
                );
                std::thread::spawn(move || serve(conn, &u, &f, &c, &tx, &n));
            }
        });
        Api {
            addr,
            updates,
            fail,
            calls,
            rx,
            next_update: 1,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn push(&mut self, mut update: Value) {
        update["update_id"] = json!(self.next_update);
        self.next_update += 1;
        let (q, cv) = &*self.updates;
        q.lock().unwrap().push_back(update);
        cv.notify_all();
    }

    fn message(&mut self, chat: i64, text: &str) {
        self.push(json!({"message":{"message_id":1,"date":0,"text":text,
            "chat":{"id":chat,"type":"private"},
            "from":{"id":chat,"is_bot":false,"first_name":"Ann","last_name":"Lee"}}}));
    }

    /// Waits for a call matching `pred` (calls already made count).
    fn wait_for(&self, what: &str, pred: impl Fn(&Call) -> bool) -> Call {
        if let Some(c) = self.calls.lock().unwrap().iter().find(|c| pred(c)) {
            return c.clone();
        }
        let deadline = Instant::now() + wait();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(c) if pred(&c) => return c,
                Ok(_) => {}
                Err(_) => panic!(
                    "no {what}; calls: {:#?}",
                    self.calls
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|c| (&c.method, &c.body))
                        .collect::<Vec<_>>()
                ),
            }
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

fn serve(
    mut conn: TcpStream,
    updates: &(Mutex<VecDeque<Value>>, Condvar),
    fail: &AtomicUsize,
    calls: &Mutex<Vec<Call>>,
    tx: &Sender<Call>,
    next_msg: &AtomicUsize,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut len = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let reply = |conn: &mut TcpStream, status: &str, ctype: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(body);
    };
    if path == format!("/file/bot{BOT}/photos/file_1.jpg") {
        return reply(&mut conn, "200 OK", "image/jpeg", PHOTO);
    }
    let Some(method) = path.strip_prefix(&format!("/bot{BOT}/")) else {
        return reply(&mut conn, "404 Not Found", "text/plain", b"no");
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let call = Call {
        method: method.to_string(),
        body: body.clone(),
        at: Instant::now(),
    };
    calls.lock().unwrap().push(call.clone());
    let _ = tx.send(call);
    if fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return reply(&mut conn, "502 Bad Gateway", "text/html", b"<h1>502</h1>");
    }
    let result = match method {
        "getUpdates" => {
            // Long polling, kept short: hand over what is queued, or wait a little.
            let (q, cv) = updates;
            let mut queue = q.lock().unwrap();
            if queue.is_empty() {
                queue = cv
                    .wait_timeout(queue, Duration::from_millis(300))
                    .unwrap()
                    .0;
            }
            let offset = body["offset"].as_i64().unwrap_or(0);
            queue.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            let out: Vec<Value> = queue.drain(..).collect();
            json!(out)
        }
        "sendMessage" => {
            json!({"message_id": next_msg.fetch_add(1, Ordering::SeqCst),
                   "chat":{"id":body["chat_id"]},"date":0,"text":body["text"]})
        }
        "getFile" => {
            json!({"file_id":"f1","file_unique_id":"uniq1","file_path":"photos/file_1.jpg"})
        }
        _ => json!(true),
    };
    let answer = json!({"ok": true, "result": result}).to_string();
    reply(&mut conn, "200 OK", "application/json", answer.as_bytes());
}

struct Box {
    server: Server,
    api: Api,
    record: std::path::PathBuf,
    workdir: TempDir,
    _scenarios: TempDir,
    _record_dir: TempDir,
}

fn start(scenarios: &[(&str, &[&str])], fail: usize) -> Box {
    let api = Api::start();
    api.fail.store(fail, Ordering::SeqCst);
    let dir = temp_dir("tg-scenarios");
    for (name, lines) in scenarios {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.join(format!("{name}.jsonl")), body).unwrap();
    }
    let record_dir = temp_dir("tg-record");
    let record = record_dir.join("stdin.jsonl");
    let workdir = temp_dir("tg-workdir");
    let chats = format!("{CHAT},-100123");
    let server = Server::start_with(
        &[
            "--workdir",
            workdir.to_str().unwrap(),
            "--telegram-chats",
            &chats,
            "--telegram-api",
            &api.url(),
        ],
        &[
            ("HOMECLAUDE_TELEGRAM_TOKEN", BOT),
            ("FAKE_CLAUDE_TRANSCRIPT_DIR", dir.to_str().unwrap()),
            ("FAKE_CLAUDE_RECORD", record.to_str().unwrap()),
        ],
        None,
    );
    Box {
        server,
        api,
        record,
        workdir,
        _scenarios: dir,
        _record_dir: record_dir,
    }
}

fn sent_to(c: &Call, chat: i64) -> bool {
    c.body["chat_id"] == chat
}

fn text(c: &Call) -> &str {
    c.body["text"].as_str().unwrap_or("")
}

fn healthz(server: &Server) -> Value {
    let (status, resp) = get_with(
        server.addr,
        "/healthz",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(status, 200, "{resp}");
    serde_json::from_str(body(&resp)).unwrap()
}

#[test]
fn a_message_from_an_allowed_chat_runs_and_is_answered_there_other_chats_start_nothing() {
    let tools: Vec<String> = (1..=4)
        .map(|i| {
            TOOL.replace("toolu_1", &format!("toolu_{i}"))
                .replace("ls -la", &format!("ls dir{i}"))
        })
        .collect();
    let slow = [
        INIT,
        &tools[0],
        "@sleep 400",
        &tools[1],
        "@sleep 400",
        &tools[2],
        "@sleep 400",
        &tools[3],
        "@sleep 400",
        RESULT,
    ];
    let mut b = start(&[("hello", &slow)], 0);
    // Another chat first: it must start nothing.
    b.api.message(OTHER, "@hello from an intruder");
    b.server.wait_log("telegram: ignoring chat 999");
    b.api.message(OTHER, "@hello again");
    b.api.message(CHAT, "@hello please");

    // Progress: one message, then edited; the answer escaped, with cost and time.
    let progress = b.api.wait_for("a progress message", |c| {
        c.method == "sendMessage" && sent_to(c, CHAT) && text(c).starts_with("⏳ Working")
    });
    assert_eq!(progress.body["parse_mode"], "HTML");
    let answer = b.api.wait_for("the answer", |c| {
        c.method == "sendMessage"
            && sent_to(c, CHAT)
            && text(c).contains("all &lt;done&gt; &amp; well")
    });
    assert!(text(&answer).contains("$0.0123"), "{}", text(&answer));
    assert!(text(&answer).contains("4.2 s"), "{}", text(&answer));
    let done = b.api.wait_for("the final progress edit", |c| {
        c.method == "editMessageText" && sent_to(c, CHAT) && text(c).starts_with("✅ Done")
    });
    assert!(text(&done).contains("🔧 Bash ls dir1"), "{}", text(&done));
    assert!(text(&done).contains("🔧 Bash ls dir4"), "{}", text(&done));
    assert_eq!(done.body["message_id"], progress_id(&b.api, &progress));

    // Exactly one run, the allowed chat's; nothing ever went to the other chat.
    let record = std::fs::read_to_string(&b.record).unwrap();
    assert!(record.contains("please"), "{record}");
    assert!(
        !record.contains("intruder") && !record.contains("again"),
        "{record}"
    );
    assert!(b.api.calls().iter().all(|c| !sent_to(c, OTHER)));
    let ignored = b.server.log_text().matches("ignoring chat 999").count();
    assert_eq!(ignored, 1, "logged once per chat");
    // Edits at most once a second.
    let edits: Vec<Instant> = b
        .api
        .calls()
        .iter()
        .filter(|c| c.method == "editMessageText" && !text(c).starts_with("✅"))
        .map(|c| c.at)
        .collect();
    assert!(
        edits
            .windows(2)
            .all(|w| w[1] - w[0] >= Duration::from_millis(950))
    );
    // The prompt carries the Telegram name.
    let (_, job) = get_with(
        b.server.addr,
        "/api/prompts/1",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert!(body(&job).contains(r#""sender":"Ann Lee""#), "{job}");
    let health = healthz(&b.server);
    assert_eq!(health["bridges"]["telegram"]["connected"], true, "{health}");
    assert!(
        !b.server.log_text().contains(BOT),
        "the token is never logged"
    );
}

/// The id the stand-in gave a sent message (it counts from 100).
fn progress_id(api: &Api, sent: &Call) -> i64 {
    let sends: Vec<Call> = api
        .calls()
        .into_iter()
        .filter(|c| c.method == "sendMessage")
        .collect();
    let i = sends
        .iter()
        .position(|c| c.at == sent.at && c.body == sent.body)
        .unwrap();
    100 + i as i64
}

#[test]
fn an_approval_has_three_buttons_and_allow_lets_the_run_finish() {
    let ask = format!("@ask {}", bash_request("req-1", "touch approved.txt"));
    let mut b = start(&[("ask", &[INIT, &ask, RESULT])], 0);
    b.api.message(CHAT, "@ask");
    let card = b.api.wait_for("the approval message", |c| {
        c.method == "sendMessage" && c.body["reply_markup"].is_object()
    });
    assert!(text(&card).contains("Bash"), "{}", text(&card));
    assert!(text(&card).contains("touch approved.txt"));
    let buttons = card.body["reply_markup"]["inline_keyboard"][0]
        .as_array()
        .unwrap()
        .clone();
    let labels: Vec<&str> = buttons
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Allow", "Always", "Deny"]);
    let allow = buttons[0]["callback_data"].as_str().unwrap().to_string();
    assert!(allow.len() <= 64);
    let card_id = progress_id(&b.api, &card);

    // A button pressed in a chat that is not allowed does nothing.
    b.api
        .push(json!({"callback_query":{"id":"cb-0","data":allow,
        "from":{"id":OTHER,"first_name":"Eve"},
        "message":{"message_id":card_id,"chat":{"id":OTHER}}}}));
    b.api
        .push(json!({"callback_query":{"id":"cb-1","data":allow,
        "from":{"id":CHAT,"first_name":"Ann"},
        "message":{"message_id":card_id,"chat":{"id":CHAT}}}}));
    let ack = b
        .api
        .wait_for("the callback answer", |c| c.method == "answerCallbackQuery");
    assert_eq!(
        ack.body["callback_query_id"], "cb-1",
        "only the allowed chat's press"
    );
    b.api.wait_for("the answer", |c| {
        c.method == "sendMessage" && text(c).contains("all &lt;done&gt;")
    });
    let edited = b.api.wait_for("the card edited", |c| {
        c.method == "editMessageText" && c.body["message_id"] == card_id
    });
    assert!(
        text(&edited).contains("Allowed by Ann (API)"),
        "{}",
        text(&edited)
    );
    let record = std::fs::read_to_string(&b.record).unwrap();
    assert!(record.contains(r#""behavior":"allow""#), "{record}");
}

#[test]
fn a_photo_is_saved_in_uploads_and_attached() {
    let mut b = start(&[("look", &[INIT, RESULT])], 0);
    b.api.push(
        json!({"message":{"message_id":1,"date":0,"caption":"@look at this",
        "chat":{"id":CHAT,"type":"private"},"from":{"id":CHAT,"first_name":"Ann"},
        "photo":[{"file_id":"small","file_unique_id":"s1","width":90,"height":90},
                 {"file_id":"big","file_unique_id":"uniq1","width":800,"height":800}]}}),
    );
    b.api.wait_for("the answer", |c| {
        c.method == "sendMessage" && text(c).contains("all &lt;done&gt;")
    });
    let get_file = b.api.wait_for("getFile", |c| c.method == "getFile");
    assert_eq!(get_file.body["file_id"], "big", "the largest size");
    let saved = std::fs::read(b.workdir.join("uploads/telegram-uniq1.jpg")).unwrap();
    assert_eq!(saved, PHOTO);
    let (_, job) = get_with(
        b.server.addr,
        "/api/prompts/1",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert!(body(&job).contains("done"), "{job}");
    let history = b.server.log_text();
    assert!(history.contains("saved a photo as uploads/telegram-uniq1.jpg"));
    // The CLI got the picture itself, with the caption.
    let record = std::fs::read_to_string(&b.record).unwrap();
    assert!(record.contains(r#""type":"image""#), "{record}");
    assert!(record.contains("at this"), "{record}");
}

#[test]
fn a_failing_api_is_retried_with_back_off_and_recovers() {
    let mut b = start(&[("hello", &[INIT, RESULT])], 3);
    b.api.message(CHAT, "@hello");
    b.api.wait_for("the answer after recovery", |c| {
        c.method == "sendMessage" && text(c).contains("all &lt;done&gt;")
    });
    let polls: Vec<Instant> = b
        .api
        .calls()
        .iter()
        .filter(|c| c.method == "getUpdates")
        .map(|c| c.at)
        .collect();
    assert!(polls.len() >= 4, "{}", polls.len());
    let gaps: Vec<Duration> = polls.windows(2).take(3).map(|w| w[1] - w[0]).collect();
    assert!(gaps[0] >= Duration::from_millis(450), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(950), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(1950), "{gaps:?}");
    let log = b.server.log_text();
    assert_eq!(log.matches("getUpdates: HTTP 502").count(), 3, "{log}");
    assert!(!log.contains(BOT), "the token is never logged");
    let health = healthz(&b.server);
    assert_eq!(health["bridges"]["telegram"]["connected"], true);
    assert_eq!(
        health["bridges"]["telegram"]["last_error"],
        "getUpdates: HTTP 502: no description"
    );
}

#[test]
fn commands_answer_in_the_chat() {
    let mut b = start(&[], 0);
    b.api.message(CHAT, "/status");
    let status = b.api.wait_for("the status", |c| c.method == "sendMessage");
    assert!(text(&status).contains("idle") && text(&status).contains("0 queued"));
    b.api.message(CHAT, "/stop");
    b.api.wait_for("stop's answer", |c| {
        c.method == "sendMessage" && text(c).contains("Nothing of this chat")
    });
    b.api.message(CHAT, "/clear@homeclaude_bot");
    b.api.wait_for("clear's answer", |c| {
        c.method == "sendMessage" && text(c).contains("new session")
    });
    // A command from another chat is ignored like any message.
    b.api.message(OTHER, "/status");
    b.api.message(CHAT, "/usage");
    b.api.wait_for("usage's answer", |c| {
        c.method == "sendMessage" && (text(c).contains("Today") || text(c).contains("No usage"))
    });
    b.api.message(CHAT, "/sessions");
    b.api.wait_for("sessions' answer", |c| {
        c.method == "sendMessage"
            && (text(c).contains("Latest sessions") || text(c).contains("No sessions"))
    });
    assert!(b.api.calls().iter().all(|c| !sent_to(c, OTHER)));
    // None of these was a prompt.
    let (status, _) = get_with(
        b.server.addr,
        "/api/prompts/1",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(status, 404);
}

#[test]
fn the_bridge_refuses_to_start_without_allowed_chats() {
    let dir = temp_dir("tg-nochats");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("HOMECLAUDE_TELEGRAM_TOKEN", BOT)
        .env("HOMECLAUDE_TOKEN", TOKEN)
        .env_remove("HOMECLAUDE_TELEGRAM_CHATS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--telegram-chats"), "{err}");
    assert!(!err.contains(BOT), "{err}");
}

#[test]
fn a_one_question_ask_gets_a_button_per_option_and_a_press_answers_it() {
    let ask = format!(
        "@ask {}",
        json!({"type":"control_request","request_id":"req-q","request":{
            "subtype":"can_use_tool","tool_name":"AskUserQuestion","display_name":"AskUserQuestion",
            "input":{"questions":[
                {"question":"Which database should the app use?","header":"Database",
                 "options":[{"label":"SQLite","description":"One file"},
                            {"label":"PostgreSQL","description":"A server"}],"multiSelect":false}]},
            "tool_use_id":"toolu_q","requires_user_interaction":true}})
    );
    let mut b = start(&[("q", &[INIT, &ask, RESULT])], 0);
    b.api.message(CHAT, "@q");
    let card = b.api.wait_for("the question", |c| {
        c.method == "sendMessage" && c.body["reply_markup"].is_object()
    });
    assert!(text(&card).contains("Which database"), "{}", text(&card));
    let rows = card.body["reply_markup"]["inline_keyboard"]
        .as_array()
        .unwrap()
        .clone();
    let labels: Vec<&str> = rows
        .iter()
        .map(|r| r[0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["SQLite", "PostgreSQL"]);
    let card_id = progress_id(&b.api, &card);
    b.api.push(
        json!({"callback_query":{"id":"cb-q","data":rows[1][0]["callback_data"],
        "from":{"id":CHAT,"first_name":"Ann"},
        "message":{"message_id":card_id,"chat":{"id":CHAT}}}}),
    );
    b.api.wait_for("the answer", |c| {
        c.method == "sendMessage" && text(c).contains("all &lt;done&gt;")
    });
    let record = std::fs::read_to_string(&b.record).unwrap();
    let response = record
        .lines()
        .find(|l| l.contains("control_response"))
        .expect("an answer to the CLI");
    assert!(
        response.contains(r#""Which database should the app use?":"PostgreSQL""#),
        "{response}"
    );
    let edited = b.api.wait_for("the card edited", |c| {
        c.method == "editMessageText" && c.body["message_id"] == card_id
    });
    assert!(
        text(&edited).contains("Answered by Ann (API)"),
        "{}",
        text(&edited)
    );
}
