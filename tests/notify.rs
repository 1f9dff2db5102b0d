//! Notifications end to end through the real binary: a loopback stand-in push
//! service that decrypts what it gets as the browser would (with the subscription
//! key the test made) and checks the VAPID signature; a loopback ntfy stand-in;
//! the one-time Allow / Deny links; `--notify away` and the owner-only routes.
mod common;

use aes_gcm::aead::Aead;
use aes_gcm::{Aes128Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::*;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"all done\nsecond line","session_id":"11111111-2222-3333-4444-555555555555","total_cost_usd":0.12,"duration_ms":125000,"num_turns":1,"usage":{"input_tokens":1,"output_tokens":2}}"#;

/// One request the stand-in received.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP stand-in: answers each request with the next scripted status
/// (then 201) and reports what it got. Its thread ends with the test process.
struct StandIn {
    addr: SocketAddr,
    rx: Receiver<Got>,
}

impl StandIn {
    fn start(script: &[(u16, &'static str)]) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                let Some(got) = read_request(&mut conn) else {
                    continue;
                };
                let (status, extra) = script.lock().unwrap().pop_front().unwrap_or((201, ""));
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
                if tx.send(got).is_err() {
                    break;
                }
            }
        });
        StandIn { addr, rx }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn next(&self) -> Got {
        self.rx
            .recv_timeout(wait())
            .expect("the stand-in got a request in time")
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Got> {
    conn.set_read_timeout(Some(wait())).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let mut lines = head.lines();
            let path = lines.next()?.split_whitespace().nth(1)?.to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = conn.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(Got {
                path,
                headers,
                body: buf[end + 4..end + 4 + len].to_vec(),
            });
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A browser's side of a push subscription: its key pair and auth secret.
struct Browser {
    key: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Browser {
        let mut d = [0u8; 32];
        getrandom::fill(&mut d).unwrap();
        d[0] &= 0x7f; // below the group order
        let mut auth = [0u8; 16];
        getrandom::fill(&mut auth).unwrap();
        Browser {
            key: SecretKey::from_slice(&d).unwrap(),
            auth,
        }
    }

    fn public(&self) -> Vec<u8> {
        self.key
            .public_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec()
    }

    /// `PushSubscription.toJSON()` for `endpoint`.
    fn subscription(&self, endpoint: &str, events: &[&str]) -> Value {
        json!({"endpoint": endpoint, "expirationTime": null,
               "keys": {"p256dh": B64.encode(self.public()), "auth": B64.encode(self.auth)},
               "events": events, "lang": "en"})
    }

    /// Decrypts an `aes128gcm` body as the browser does (RFC 8291 §3.4, RFC 8188).
    fn decrypt(&self, body: &[u8]) -> Value {
        let salt = &body[..16];
        let idlen = body[20] as usize;
        let as_public = &body[21..21 + idlen];
        let sender = PublicKey::from_sec1_bytes(as_public).unwrap();
        let shared = p256::ecdh::diffie_hellman(self.key.to_nonzero_scalar(), sender.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(&self.public());
        info.extend_from_slice(as_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes())
            .expand(&info, &mut ikm)
            .unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let mut cek = [0u8; 16];
        let mut nonce = [0u8; 12];
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
            .unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
            .unwrap();
        let mut plain = Aes128Gcm::new_from_slice(&cek)
            .unwrap()
            .decrypt(&nonce.into(), &body[21 + idlen..])
            .expect("the payload decrypts with the subscription's key");
        assert_eq!(plain.pop(), Some(2), "one last record");
        serde_json::from_slice(&plain).unwrap()
    }
}

/// Checks `Authorization: vapid t=<JWT>, k=<key>` against the server's key and
/// the push service's origin.
fn check_vapid(got: &Got, server_key: &str, origin: &str) {
    let auth = got
        .header("authorization")
        .expect("an Authorization header");
    let (t, k) = auth
        .strip_prefix("vapid t=")
        .and_then(|r| r.split_once(", k="))
        .expect("vapid t=..., k=...");
    assert_eq!(k, server_key, "the key of GET /api/push/key");
    let (input, sig) = t.rsplit_once('.').unwrap();
    let key = VerifyingKey::from_sec1_bytes(&B64.decode(k).unwrap()).unwrap();
    let sig = Signature::from_slice(&B64.decode(sig).unwrap()).unwrap();
    key.verify(input.as_bytes(), &sig)
        .expect("the JWT verifies with the public key");
    let claims: Value =
        serde_json::from_slice(&B64.decode(input.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["aud"], origin);
    assert!(claims["exp"].as_u64().unwrap() > 0);
}

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, String) {
    let auth = auth.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    http_raw(
        addr,
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// A server whose fake CLI plays `name.jsonl` for a prompt `@name`.
fn start(
    scenarios: &[(&str, Vec<String>)],
    args: &[&str],
    env: &[(&str, &str)],
) -> (Server, TempDir) {
    let dir = temp_dir("notify-scenarios");
    for (name, lines) in scenarios {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.join(format!("{name}.jsonl")), body).unwrap();
    }
    let mut env = env.to_vec();
    env.push(("FAKE_CLAUDE_TRANSCRIPT_DIR", dir.to_str().unwrap()));
    (Server::start_with(args, &env, None), dir)
}

fn scenario(lines: &[&str]) -> Vec<String> {
    let mut v = vec![INIT.to_string()];
    v.extend(lines.iter().map(|l| l.to_string()));
    v.push(RESULT.to_string());
    v
}

fn send_prompt(ws: &mut Ws, text: &str) -> u64 {
    ws.send_json(&json!({"type":"message","message":text}));
    ws.wait_for(|v| v["type"] == "message" && v["message"] == text)["id"]
        .as_u64()
        .unwrap()
}

#[test]
fn web_push_is_encrypted_signed_retried_and_answers_an_approval_once() {
    // 429 first (retried), then accepted; the run's end then gets 410 (gone).
    let push = StandIn::start(&[(429, "Retry-After: 0\r\n"), (201, ""), (410, "")]);
    let ask = format!("@ask {}", bash_request("req-p", "make test"));
    let (mut server, _dir) = start(&[("run", scenario(&[&ask]))], &["--notify", "always"], &[]);
    let (code, resp) = get(server.addr, "/api/push/key");
    assert_eq!(code, 200, "{resp}");
    let status: Value = serde_json::from_str(body(&resp)).unwrap();
    let key = status["key"].as_str().unwrap().to_string();
    assert_eq!(B64.decode(&key).unwrap().len(), 65);
    assert_eq!(status["subscriptions"], 0);

    let browser = Browser::new();
    let endpoint = push.url("/push/sub-1");
    let sub = browser.subscription(&endpoint, &["done", "failed", "waiting"]);
    let (code, resp) = request(
        server.addr,
        "POST",
        "/api/push/subscriptions",
        Some(TOKEN),
        &sub.to_string(),
    );
    assert_eq!(code, 201, "{resp}");
    server.wait_log("push: subscribed");
    let saved = std::fs::read_to_string(server.data_dir.join("push-subscriptions.json")).unwrap();
    assert!(saved.contains("/push/sub-1"), "{saved}");

    let mut ws = server.ws("");
    send_prompt(&mut ws, "@run");
    ws.wait_for(|v| v["type"] == "approval");
    let first = push.next();
    let second = push.next();
    assert_eq!(first.path, "/push/sub-1");
    assert_eq!(second.path, "/push/sub-1", "the 429 was retried");
    for got in [&first, &second] {
        assert_eq!(got.header("content-encoding"), Some("aes128gcm"));
        assert_eq!(got.header("urgency"), Some("high"));
        assert_eq!(got.header("ttl"), Some("3600"));
        check_vapid(got, &key, &format!("http://{}", push.addr));
    }
    let payload = browser.decrypt(&second.body);
    assert_eq!(payload["title"], "Claude asks to use Bash");
    assert_eq!(payload["body"], "make test");
    assert_eq!(payload["url"], "/#approval-req-p");
    assert_eq!(payload["approval"]["id"], "req-p");
    let token = payload["approval"]["token"].as_str().unwrap().to_string();

    // Without a login: a forged token changes nothing; the real one answers once.
    let allow = r#"{"decision":"allow"}"#;
    let forged = format!("/api/approvals/req-p?token={}", "0".repeat(32));
    assert_eq!(request(server.addr, "POST", &forged, None, allow).0, 403);
    assert_eq!(
        request(server.addr, "POST", "/api/approvals/req-p", None, allow).0,
        401
    );
    let link = format!("/api/approvals/req-p?token={token}");
    let (code, resp) = request(server.addr, "POST", &link, None, allow);
    assert_eq!(code, 200, "{resp}");
    let resolved = ws.wait_for(|v| v["type"] == "approval_resolved");
    assert_eq!(resolved["by"], "owner (notification)");
    let done = ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    assert_eq!(done["message"], "all done\nsecond line");
    assert_eq!(
        request(server.addr, "POST", &link, None, allow).0,
        403,
        "used once already"
    );

    // The run's end: one push, answered 410, and the subscription is gone.
    let end = push.next();
    let payload = browser.decrypt(&end.body);
    assert_eq!(payload["title"], "Claude finished");
    assert_eq!(payload["body"], "all done\n2 min 5 s · $0.12");
    assert_eq!(end.header("urgency"), Some("normal"));
    server.wait_log("push: removed a subscription");
    let saved = std::fs::read_to_string(server.data_dir.join("push-subscriptions.json")).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&saved).unwrap(), json!([]));
    let (_, resp) = get(server.addr, "/api/push/key");
    assert_eq!(
        serde_json::from_str::<Value>(body(&resp)).unwrap()["subscriptions"],
        0
    );
}

#[test]
fn ntfy_gets_the_headers_and_its_allow_link_continues_the_run_once() {
    let ntfy = StandIn::start(&[]);
    let ask = format!("@ask {}", bash_request("req-n", "cargo build"));
    let (server, _dir) = start(
        &[("run", scenario(&[&ask]))],
        &[
            "--ntfy-url",
            &ntfy.url("/homeclaude-topic"),
            "--public-url",
            "https://box.example.net/",
        ],
        &[("HOMECLAUDE_NTFY_TOKEN", "tk_secret")],
    );
    let mut ws = server.ws("");
    send_prompt(&mut ws, "@run");
    ws.wait_for(|v| v["type"] == "approval");
    let asked = ntfy.next();
    assert_eq!(asked.path, "/homeclaude-topic");
    assert_eq!(asked.header("title"), Some("Claude asks to use Bash"));
    assert_eq!(asked.header("priority"), Some("high"));
    assert_eq!(asked.header("tags"), Some("raising_hand"));
    assert_eq!(asked.header("authorization"), Some("Bearer tk_secret"));
    assert_eq!(
        asked.header("click"),
        Some("https://box.example.net/#approval-req-n")
    );
    assert_eq!(String::from_utf8_lossy(&asked.body), "cargo build");
    let actions = asked
        .header("actions")
        .expect("an Actions header")
        .to_string();
    let parts: Vec<&str> = actions.split(';').map(str::trim).collect();
    assert_eq!(parts.len(), 2, "{actions}");
    assert!(
        parts[0].starts_with("http, Allow, https://box.example.net/api/approvals/req-n?token=")
    );
    assert!(parts[1].starts_with("http, Deny, "));
    assert!(parts.iter().all(|p| p.contains("method=POST")));
    // ntfy POSTs the URL as it is, with an empty body and no login.
    let allow_url = parts[0].split(", ").nth(2).unwrap();
    let path = allow_url.strip_prefix("https://box.example.net").unwrap();
    let (code, resp) = request(server.addr, "POST", path, None, "");
    assert_eq!(code, 200, "{resp}");
    let done = ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    assert_eq!(done["message"], "all done\nsecond line");
    assert_eq!(
        request(server.addr, "POST", path, None, "").0,
        403,
        "second POST refused"
    );
    // The Deny link of the same approval is dead too.
    let deny_path = parts[1]
        .split(", ")
        .nth(2)
        .unwrap()
        .strip_prefix("https://box.example.net")
        .unwrap();
    assert_eq!(request(server.addr, "POST", deny_path, None, "").0, 403);

    let finished = ntfy.next();
    assert_eq!(finished.header("title"), Some("Claude finished"));
    assert_eq!(finished.header("priority"), Some("default"));
    assert_eq!(finished.header("actions"), None);
    assert_eq!(
        String::from_utf8_lossy(&finished.body),
        "all done\n2 min 5 s · $0.12"
    );
}

#[test]
fn away_mode_skips_while_an_owner_page_is_visible() {
    let ntfy = StandIn::start(&[]);
    let (server, _dir) = start(
        &[("quick", scenario(&[]))],
        &["--ntfy-url", &ntfy.url("/t"), "--public-url", "http://box"],
        &[],
    );
    let mut ws = server.ws("");
    ws.send_json(&json!({"type":"visibility","visible":true}));
    let first = send_prompt(&mut ws, "@quick");
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    ws.wait_for(|v| v["type"] == "queue_status" && v["running"] == false);
    ws.send_json(&json!({"type":"visibility","visible":false}));
    let second = send_prompt(&mut ws, "@quick");
    // The notify thread keeps order: the first message is the second run's.
    let got = ntfy.next();
    assert_eq!(
        got.header("click"),
        Some(format!("http://box/#run-{second}").as_str())
    );
    assert_ne!(first, second);
}

#[test]
fn notification_routes_are_the_owners() {
    let (server, _dir) = start(&[], &[], &[]);
    let viewer = server.viewer_token();
    let sub = Browser::new().subscription("https://push.example/x", &["done"]);
    let sub = sub.to_string();
    for (method, path, body) in [
        ("GET", "/api/push/key", ""),
        ("POST", "/api/push/subscriptions", sub.as_str()),
        (
            "DELETE",
            "/api/push/subscriptions",
            r#"{"endpoint":"https://push.example/x"}"#,
        ),
        ("POST", "/api/push/test", ""),
    ] {
        assert_eq!(
            request(server.addr, method, path, None, body).0,
            401,
            "{method} {path}"
        );
        assert_eq!(
            request(server.addr, method, path, Some(&viewer), body).0,
            403,
            "{method} {path} as a viewer"
        );
    }
    let bad = r#"{"endpoint":"https://push.example/x","keys":{"p256dh":"AAAA","auth":"BBBB"}}"#;
    assert_eq!(
        request(
            server.addr,
            "POST",
            "/api/push/subscriptions",
            Some(TOKEN),
            bad
        )
        .0,
        400
    );
    assert_eq!(
        request(server.addr, "POST", "/api/push/test", Some(TOKEN), "").0,
        202
    );
    // A viewer's page cannot say it is looking (it would silence the owner's phone).
    let mut v = ws_connect(
        server.addr,
        "/ws",
        &[("Authorization", &format!("Bearer {viewer}"))],
    );
    v.send_json(&json!({"type":"visibility","visible":true}));
    assert_eq!(v.wait_for(|m| m["type"] == "error")["code"], "read_only");
}

#[test]
fn a_push_service_that_never_answers_delays_nothing() {
    // Accepts connections and reads, but never answers: the notify thread waits
    // on it (up to its deadline); the hub and every page must not.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/push/stuck", silent.local_addr().unwrap());
    let (held_tx, held_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in silent.incoming() {
            let Ok(conn) = conn else { break };
            // Kept open (and unanswered) until the test process ends.
            if held_tx.send(conn).is_err() {
                break;
            }
        }
    });
    let ask = format!("@ask {}", bash_request("req-s", "true"));
    let (mut server, _dir) = start(&[("run", scenario(&[&ask]))], &["--notify", "always"], &[]);
    let sub = Browser::new().subscription(&endpoint, &["done", "failed", "waiting"]);
    let (code, _) = request(
        server.addr,
        "POST",
        "/api/push/subscriptions",
        Some(TOKEN),
        &sub.to_string(),
    );
    assert_eq!(code, 201);
    server.wait_log("push: subscribed");
    let mut ws = server.ws("");
    send_prompt(&mut ws, "@run");
    ws.wait_for(|v| v["type"] == "approval");
    // The push to the silent service is in flight now.
    let _held = held_rx
        .recv_timeout(wait())
        .expect("the push service was called");
    let asked = std::time::Instant::now();
    ws.send_json(&json!({"type":"approval","id":"req-s","decision":"allow"}));
    let done = ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    assert_eq!(done["message"], "all done\nsecond line");
    assert!(
        asked.elapsed() < bound(std::time::Duration::from_secs(3)),
        "the run went on while the push hung ({:?})",
        asked.elapsed()
    );
}
