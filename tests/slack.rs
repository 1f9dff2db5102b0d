//! The Slack bridge against a loopback stand-in of Slack's Web API and Socket
//! Mode WebSocket: a mention is a prompt answered in its thread, envelopes are
//! acknowledged within 3 s, `disconnect` leads to a new connection, approvals come
//! as Block Kit buttons answered through `interactive` envelopes.
mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

const APP: &str = "xapp-1-A0TEST-secret-app-token";
const BOT: &str = "xoxb-secret-bot-token";
const CHANNEL: &str = "C0ALLOWED";

const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"all <done>","session_id":"11111111-2222-3333-4444-555555555555","total_cost_usd":0.0123,"duration_ms":4200,"num_turns":1,"usage":{"input_tokens":1,"output_tokens":2}}"#;

#[derive(Debug, Clone)]
struct Call {
    method: String,
    auth: String,
    body: Value,
}

/// The Web API (HTTP) and the Socket Mode endpoint (WebSocket) stand-in.
struct Slack {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<Call>>>,
    rx: Receiver<Call>,
    sockets: Receiver<WebSocket<TcpStream>>,
}

impl Slack {
    fn start() -> Slack {
        let api = TcpListener::bind("127.0.0.1:0").unwrap();
        let ws = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = api.local_addr().unwrap();
        let ws_url = format!("ws://{}/link/?ticket=1", ws.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let c = calls.clone();
        std::thread::spawn(move || {
            let ts = Arc::new(Mutex::new(0u64));
            for conn in api.incoming() {
                let Ok(conn) = conn else { break };
                let (c, tx, url, ts) = (c.clone(), tx.clone(), ws_url.clone(), ts.clone());
                std::thread::spawn(move || serve(conn, &c, &tx, &url, &ts));
            }
        });
        let (stx, sockets) = mpsc::channel();
        std::thread::spawn(move || {
            for conn in ws.incoming() {
                let Ok(conn) = conn else { break };
                if let Ok(socket) = tungstenite::accept(conn) {
                    let _ = stx.send(socket);
                }
            }
        });
        Slack {
            addr,
            calls,
            rx,
            sockets,
        }
    }

    fn next_socket(&self) -> WebSocket<TcpStream> {
        let mut s = self
            .sockets
            .recv_timeout(wait())
            .expect("a Socket Mode connection");
        s.get_ref()
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        s.send(Message::text(r#"{"type":"hello","num_connections":1}"#))
            .unwrap();
        s
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&Call) -> bool) -> Call {
        if let Some(c) = self.calls.lock().unwrap().iter().find(|c| pred(c)) {
            return c.clone();
        }
        let deadline = Instant::now() + wait();
        loop {
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(c) if pred(&c) => return c,
                Ok(_) => {}
                Err(_) => panic!("no {what}; calls: {:#?}", self.calls.lock().unwrap()),
            }
        }
    }
}

fn serve(
    mut conn: TcpStream,
    calls: &Mutex<Vec<Call>>,
    tx: &Sender<Call>,
    ws_url: &str,
    ts: &Mutex<u64>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    let _ = reader.read_line(&mut first);
    let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
    let (mut len, mut auth) = (0, String::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("authorization:") {
            auth = line["authorization:".len()..].trim().to_string();
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let method = path.trim_start_matches("/api/").to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let call = Call {
        method: method.clone(),
        auth,
        body: body.clone(),
    };
    calls.lock().unwrap().push(call.clone());
    let _ = tx.send(call);
    let answer = match method.as_str() {
        "apps.connections.open" => json!({"ok": true, "url": ws_url}),
        "chat.postMessage" => {
            let mut n = ts.lock().unwrap();
            *n += 1;
            json!({"ok": true, "channel": body["channel"], "ts": format!("1700000000.{:06}", *n)})
        }
        _ => json!({"ok": true}),
    }
    .to_string();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(answer.as_bytes());
}

/// Sends an envelope and waits for its acknowledgement; how long that took.
fn envelope(ws: &mut WebSocket<TcpStream>, id: &str, kind: &str, payload: Value) -> Duration {
    let sent = Instant::now();
    ws.send(Message::text(
        json!({"envelope_id": id, "type": kind, "payload": payload,
               "accepts_response_payload": false})
        .to_string(),
    ))
    .unwrap();
    loop {
        match ws.read().expect("the acknowledgement") {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["envelope_id"] == id {
                    return sent.elapsed();
                }
            }
            _ => continue,
        }
    }
}

fn mention(channel: &str, ts: &str, text: &str) -> Value {
    json!({"team_id":"T1","api_app_id":"A1","type":"event_callback","event_id":"Ev1",
        "event":{"type":"app_mention","user":"U0ANN","text":text,"ts":ts,
                 "channel":channel,"event_ts":ts}})
}

fn start(slack: &Slack, scenarios: &[(&str, &[&str])]) -> (Server, TempDir) {
    let dir = temp_dir("slack-scenarios");
    for (name, lines) in scenarios {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.join(format!("{name}.jsonl")), body).unwrap();
    }
    let api = format!("http://{}/api", slack.addr);
    let server = Server::start_with(
        &["--slack-channels", CHANNEL, "--slack-api", &api],
        &[
            ("HOMECLAUDE_SLACK_APP_TOKEN", APP),
            ("HOMECLAUDE_SLACK_BOT_TOKEN", BOT),
            ("FAKE_CLAUDE_TRANSCRIPT_DIR", dir.to_str().unwrap()),
        ],
        None,
    );
    (server, dir)
}

#[test]
fn a_mention_is_answered_in_its_thread_envelopes_are_acked_and_disconnect_reconnects() {
    let slack = Slack::start();
    let (mut server, _dir) = start(&slack, &[("hello", &[INIT, RESULT])]);
    let mut ws = slack.next_socket();
    let open = slack.wait_for("apps.connections.open", |c| {
        c.method == "apps.connections.open"
    });
    assert_eq!(
        open.auth,
        format!("Bearer {APP}"),
        "the app token opens the socket"
    );

    // Another channel: acknowledged, but it starts nothing.
    let took = envelope(
        &mut ws,
        "env-0",
        "events_api",
        mention("C0OTHER", "1.1", "<@UBOT> @hello intruder"),
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    server.wait_log("slack: ignoring channel C0OTHER");

    let took = envelope(
        &mut ws,
        "env-1",
        "events_api",
        mention(CHANNEL, "1699.0001", "<@UBOT> @hello please"),
    );
    assert!(took < Duration::from_secs(3), "acknowledged in {took:?}");
    let answer = slack.wait_for("the answer", |c| {
        c.method == "chat.postMessage"
            && c.body["text"]
                .as_str()
                .unwrap_or("")
                .contains("all &lt;done&gt;")
    });
    assert_eq!(answer.body["channel"], CHANNEL);
    assert_eq!(
        answer.body["thread_ts"], "1699.0001",
        "answered in the thread"
    );
    assert_eq!(
        answer.auth,
        format!("Bearer {BOT}"),
        "posted with the bot token"
    );
    slack.wait_for("cost and time", |c| {
        c.method == "chat.postMessage" && c.body["text"].as_str().unwrap_or("").contains("$0.0123")
    });
    slack.wait_for("the progress message updated to done", |c| {
        c.method == "chat.update" && c.body["text"].as_str().unwrap_or("").starts_with("✅ Done")
    });
    let (_, job) = get_with(
        server.addr,
        "/api/prompts/1",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert!(body(&job).contains(r#""sender":"slack:U0ANN""#), "{job}");
    let (_, none) = get_with(
        server.addr,
        "/api/prompts/2",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert!(!body(&none).contains("intruder"), "{none}");
    assert!(
        slack
            .calls
            .lock()
            .unwrap()
            .iter()
            .all(|c| c.body["channel"] != "C0OTHER"),
        "nothing went to the other channel"
    );

    // Slack asks for a new connection: the bridge opens one.
    ws.send(Message::text(
        r#"{"type":"disconnect","reason":"refresh_requested"}"#,
    ))
    .unwrap();
    let mut ws2 = slack.next_socket();
    let opens = slack
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.method == "apps.connections.open")
        .count();
    assert_eq!(opens, 2);
    let took = envelope(
        &mut ws2,
        "env-2",
        "events_api",
        json!({"event":{"type":"reaction_added"}}),
    );
    assert!(took < Duration::from_secs(3));
    let log = server.log_text();
    assert!(log.contains("Slack asks to reconnect (refresh_requested)"));
    assert!(
        !log.contains(APP) && !log.contains(BOT),
        "tokens are never logged"
    );
    let (_, health) = get_with(
        server.addr,
        "/healthz",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    let health: Value = serde_json::from_str(body(&health)).unwrap();
    assert_eq!(health["bridges"]["slack"]["connected"], true, "{health}");
}

#[test]
fn an_approval_has_block_kit_buttons_answered_through_an_interactive_envelope() {
    let slack = Slack::start();
    let ask = format!("@ask {}", bash_request("req-1", "touch approved.txt"));
    let (_server, _dir) = start(&slack, &[("ask", &[INIT, &ask, RESULT])]);
    let mut ws = slack.next_socket();
    envelope(
        &mut ws,
        "env-1",
        "events_api",
        mention(CHANNEL, "1699.0002", "<@UBOT> @ask"),
    );
    let card = slack.wait_for("the approval", |c| {
        c.body["blocks"].is_array() && c.method == "chat.postMessage"
    });
    let buttons = card.body["blocks"][1]["elements"]
        .as_array()
        .unwrap()
        .clone();
    let labels: Vec<&str> = buttons
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Allow", "Always", "Deny"]);
    assert_eq!(card.body["thread_ts"], "1699.0002");
    let action = |channel: &str| {
        json!({"type":"block_actions","user":{"id":"U0ANN","username":"ann","name":"ann"},
            "channel":{"id":channel},"actions":[{"action_id":"hc_allow","block_id":"hc-approval",
            "value":buttons[0]["value"],"type":"button"}]})
    };
    // A press from a channel that is not allowed is acknowledged and does nothing.
    envelope(&mut ws, "env-2", "interactive", action("C0OTHER"));
    envelope(&mut ws, "env-3", "interactive", action(CHANNEL));
    let edited = slack.wait_for("the card updated", |c| {
        c.method == "chat.update"
            && c.body["text"]
                .as_str()
                .unwrap_or("")
                .contains("*allow* by ann (API)")
    });
    assert_eq!(edited.body["blocks"], json!([]), "the buttons are gone");
    slack.wait_for("the answer", |c| {
        c.method == "chat.postMessage"
            && c.body["text"]
                .as_str()
                .unwrap_or("")
                .contains("all &lt;done&gt;")
    });
}
