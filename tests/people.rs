//! Several people, one box (issue 18): named invites made by the CLI and the
//! sheet's API, roles, names stamped on prompts, presence, revocation and expiry
//! closing sockets, fair use per person. All against the real binary.
mod common;

use common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};
use tungstenite::Message;

/// `homeclaude invite ...` for this server's data dir; returns the login token.
fn invite(server: &Server, role: &str, name: &str, expires: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeclaude"));
    cmd.args(["invite", "--role", role, "--name", name, "--data-dir"])
        .arg(&server.data_dir)
        .args(["--url", &server.url("")]);
    if let Some(e) = expires {
        cmd.args(["--expires", e]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout).unwrap();
    let link = link.trim();
    assert!(link.starts_with(&server.url("/login?token=")), "{link}");
    link.rsplit_once("token=").unwrap().1.to_string()
}

fn homeclaude(server: &Server, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_homeclaude"))
        .args(args)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Trades a login token for the session cookie (`name=value`), as a browser does.
fn login(server: &Server, token: &str) -> String {
    let (status, resp) = get_with(server.addr, &format!("/login?token={token}"), &[]);
    assert_eq!(status, 303, "{resp}");
    let cookie = header_value(&resp, "set-cookie").expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

fn ws_with_cookie(server: &Server, cookie: &str) -> Ws {
    ws_connect(server.addr, "/ws", &[("Cookie", cookie)])
}

/// The `presence` snapshot every client gets on connect.
fn presence(ws: &mut Ws) -> Value {
    ws.wait_for(|v| v["type"] == "presence")
}

fn names(presence: &Value) -> Vec<(String, String)> {
    presence["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["role"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn error(ws: &mut Ws) -> Value {
    ws.wait_for(|v| v["type"] == "error")
}

#[test]
fn an_invite_made_by_the_cli_logs_in_is_named_and_seen_in_order() {
    let server = Server::start(&["--owner-name", "Dana"]);
    let mut owner = server.ws("");
    let snap = presence(&mut owner);
    assert_eq!(names(&snap), vec![("Dana".into(), "owner".into())]);
    assert_eq!(snap["you"]["name"], "Dana");
    assert!(snap.get("seq").is_none(), "a snapshot has no seq");

    let token = invite(&server, "collaborator", "Ann", Some("7d"));
    // Only the hash is kept.
    let stored = std::fs::read_to_string(server.data_dir.join("invites.json")).unwrap();
    assert!(!stored.contains(&token));
    let cookie = login(&server, &token);
    let mut ann = ws_with_cookie(&server, &cookie);
    let joined = owner.wait_for(|v| v["type"] == "participant_joined");
    assert_eq!(
        (joined["name"].as_str(), joined["role"].as_str()),
        (Some("Ann"), Some("collaborator"))
    );
    let joined_seq = joined["seq"]
        .as_u64()
        .expect("participant_joined has a seq");
    let theirs = presence(&mut ann);
    assert_eq!(
        names(&theirs),
        vec![
            ("Dana".into(), "owner".into()),
            ("Ann".into(), "collaborator".into())
        ]
    );
    assert_eq!(theirs["you"], json!({"name":"Ann","role":"collaborator"}));

    // The name is the server's, whatever the page typed; the owner's too.
    occupy(&mut owner);
    ann.send_json(&json!({"type":"message","username":"Dana","message":"from ann"}));
    let echo = owner.wait_for(|v| v["type"] == "message" && v["message"] == "from ann");
    assert_eq!(echo["username"], "Ann");
    owner.send_json(&json!({"type":"message","username":"Someone","message":"from dana"}));
    let echo = ann.wait_for(|v| v["type"] == "message" && v["message"] == "from dana");
    assert_eq!(echo["username"], "Dana");

    // A second device of Ann's is no new participant; the last one leaving is.
    let mut phone = ws_with_cookie(&server, &cookie);
    assert_eq!(presence(&mut phone)["participants"][1]["devices"], 2);
    ann.socket.close(None).unwrap();
    drop(ann);
    phone.socket.close(None).unwrap();
    drop(phone);
    let left =
        owner.wait_for(|v| v["type"] == "participant_joined" || v["type"] == "participant_left");
    assert_eq!(
        left["type"], "participant_left",
        "a second device joined as a person: {left}"
    );
    assert_eq!(left["name"], "Ann");
    assert!(left["seq"].as_u64().unwrap() > joined_seq);

    // `homeclaude invites` lists it with when it was last seen.
    let (ok, out, _) = homeclaude(&server, &["invites"]);
    assert!(ok);
    let row = out.lines().find(|l| l.starts_with("Ann\t")).expect(&out);
    let cols: Vec<&str> = row.split('\t').collect();
    assert_eq!(cols[1], "collaborator");
    assert!(cols[3].ends_with("UTC"), "last seen: {row}");
    assert!(!cols[4].contains("never"), "expires: {row}");
}

#[test]
fn each_role_is_refused_what_it_may_not_do_with_the_role_needed() {
    let server = Server::start(&[]);
    let mut owner = server.ws("");
    let run = occupy(&mut owner);
    let viewer = server.viewer_token();
    let mut watcher = ws_connect(
        server.addr,
        "/ws",
        &[("Authorization", &format!("Bearer {viewer}"))],
    );
    presence(&mut watcher);
    // A viewer's prompt: the old answer, now with the role it needs.
    watcher.send_json(&json!({"type":"message","message":"hi","id":"v1"}));
    let e = error(&mut watcher);
    assert_eq!(
        (e["code"].as_str(), e["needs"].as_str()),
        (Some("read_only"), Some("collaborator"))
    );
    assert_eq!(e["id"], "v1");

    let token = invite(&server, "collaborator", "Ann", None);
    let mut ann = ws_connect(
        server.addr,
        "/ws",
        &[("Authorization", &format!("Bearer {token}"))],
    );
    presence(&mut ann);
    for (frame, what) in [
        (json!({"type":"command","command":"restart"}), "restart"),
        (json!({"type":"command","command":"clear"}), "clear"),
        (
            json!({"type":"command","command":"permission_mode","mode":"plan"}),
            "mode",
        ),
        // The owner's run: not hers to stop.
        (json!({"type":"command","command":"stop"}), "stop"),
    ] {
        ann.send_json(&frame);
        let e = error(&mut ann);
        assert_eq!(e["code"], "forbidden", "{what}: {e}");
        assert_eq!(e["needs"], "owner", "{what}");
    }
    // Her own queued prompt she may cancel; the owner's she may not.
    owner.send_json(&json!({"type":"message","message":"owner's queued"}));
    let theirs = ann.wait_for(|v| v["type"] == "message" && v["message"] == "owner's queued")["id"]
        .as_u64()
        .unwrap();
    ann.send_json(&json!({"type":"command","command":"cancel","id":theirs}));
    assert_eq!(error(&mut ann)["code"], "forbidden");
    ann.send_json(&json!({"type":"message","message":"ann's queued"}));
    let mine = ann.wait_for(|v| v["type"] == "message" && v["message"] == "ann's queued")["id"]
        .as_u64()
        .unwrap();
    ann.send_json(&json!({"type":"command","command":"cancel","id":mine}));
    let q = owner.wait_for(|v| v["type"] == "queue_status" && v["cancelled"].is_u64());
    assert_eq!(q["cancelled"], mine);
    // The server still runs the owner's prompt: the restart was refused.
    owner.send_json(&json!({"type":"command","command":"stop"}));
    owner.wait_for(|v| v["run"] == run && v["progress_type"] == "stopped");

    // Invites over HTTP are the owner's alone.
    let post = |auth: &str, path: &str, body: &str| {
        let extra = if auth.is_empty() {
            String::new()
        } else {
            format!("Authorization: Bearer {auth}\r\n")
        };
        http_raw(
            server.addr,
            format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                server.addr,
                body.len()
            )
            .as_bytes(),
        )
    };
    let body = r#"{"name":"Bo","role":"viewer"}"#;
    assert_eq!(post("", "/api/invites", body).0, 401);
    assert_eq!(post(&viewer, "/api/invites", body).0, 403);
    assert_eq!(post(&token, "/api/invites", body).0, 403);
    assert_eq!(
        post(&token, "/api/invites/revoke", r#"{"name":"Ann"}"#).0,
        403
    );
    let revoke_ann = r#"{"name":"Ann"}"#;
    assert_eq!(post("", "/api/invites/revoke", revoke_ann).0, 401);
    assert_eq!(post(&viewer, "/api/invites/revoke", revoke_ann).0, 403);
    assert_eq!(get_with(server.addr, "/api/invites", &[]).0, 401);
    let auth = format!("Bearer {token}");
    assert_eq!(
        get_with(server.addr, "/api/invites", &[("Authorization", &auth)]).0,
        403
    );
    let (code, made) = post(TOKEN, "/api/invites", body);
    assert_eq!(code, 201, "{made}");
    let made: Value = serde_json::from_str(common::body(&made)).unwrap();
    assert_eq!(made["role"], "viewer");
    let link = made["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("http://{}/login?token=", server.addr)),
        "{link}"
    );
    let size = made["qr"]["size"].as_u64().unwrap() as usize;
    assert_eq!(made["qr"]["rows"].as_array().unwrap().len(), size);
    assert_eq!(
        post(TOKEN, "/api/invites", body).0,
        409,
        "the same name twice"
    );
    let (code, list) = get_with(
        server.addr,
        "/api/invites",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(code, 200);
    assert!(list.contains(r#""name":"Bo""#) && !list.contains(link.rsplit_once('=').unwrap().1));
    let (code, _) = post(TOKEN, "/api/invites/revoke", r#"{"name":"Bo"}"#);
    assert_eq!(code, 200);
    assert_eq!(
        post(TOKEN, "/api/invites/revoke", r#"{"name":"Bo"}"#).0,
        404
    );
}

/// A fake CLI that asks for a Bash approval, then a question, for prompt `@ask`.
fn asking_server(extra: &[&str]) -> (Server, TempDir) {
    let dir = temp_dir("people-scenarios");
    let init = r#"{"type":"system","subtype":"init","session_id":"11111111-2222-3333-4444-555555555555","model":"claude-test","cwd":"/tmp","tools":[]}"#;
    let result = r#"{"type":"result","subtype":"success","is_error":false,"result":"all done","session_id":"11111111-2222-3333-4444-555555555555","total_cost_usd":0.01,"duration_ms":5,"num_turns":1,"usage":{"input_tokens":1,"output_tokens":2}}"#;
    let tool = json!({"type":"control_request","request_id":"req-t","request":{
        "subtype":"can_use_tool","tool_name":"Bash","display_name":"Bash",
        "input":{"command":"rm -rf build","description":"Clean"},"description":"Clean",
        "permission_suggestions":[],"tool_use_id":"toolu_t"}});
    let question = json!({"type":"control_request","request_id":"req-q","request":{
        "subtype":"can_use_tool","tool_name":"AskUserQuestion","display_name":"AskUserQuestion",
        "input":{"questions":[{"question":"Which one?","header":"Pick",
            "options":[{"label":"A","description":"a"},{"label":"B","description":"b"}],
            "multiSelect":false}]},
        "tool_use_id":"toolu_q","requires_user_interaction":true}});
    std::fs::write(
        dir.join("ask.jsonl"),
        format!("{init}\n@ask {tool}\n@ask {question}\n{result}\n"),
    )
    .unwrap();
    let server = Server::start_with(
        extra,
        &[("FAKE_CLAUDE_TRANSCRIPT_DIR", dir.to_str().unwrap())],
        None,
    );
    (server, dir)
}

#[test]
fn collaborators_answer_questions_and_tools_only_with_the_flag() {
    for flag in [false, true] {
        let extra: &[&str] = if flag {
            &["--collaborators-approve"]
        } else {
            &[]
        };
        let (server, _dir) = asking_server(extra);
        let mut owner = server.ws("");
        let token = invite(&server, "collaborator", "Ann", None);
        let mut ann = ws_with_cookie(&server, &login(&server, &token));
        presence(&mut ann);
        ann.send_json(&json!({"type":"message","message":"@ask"}));
        ann.wait_for(|v| v["type"] == "approval" && v["id"] == "req-t");
        ann.send_json(&json!({"type":"approval","id":"req-t","decision":"allow"}));
        if flag {
            let r = owner.wait_for(|v| v["type"] == "approval_resolved");
            assert_eq!(
                (r["id"].as_str(), r["by"].as_str()),
                (Some("req-t"), Some("Ann"))
            );
        } else {
            let e = error(&mut ann);
            assert_eq!(
                (e["code"].as_str(), e["needs"].as_str()),
                (Some("forbidden"), Some("owner"))
            );
            // Over HTTP too.
            let body = r#"{"decision":"allow"}"#;
            let (code, _) = http_raw(
                server.addr,
                format!(
                    "POST /api/approvals/req-t HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    server.addr,
                    body.len()
                )
                .as_bytes(),
            );
            assert_eq!(code, 403);
            owner.send_json(&json!({"type":"approval","id":"req-t","decision":"allow"}));
            assert_eq!(
                owner.wait_for(|v| v["type"] == "approval_resolved")["by"],
                "owner"
            );
        }
        // A question is hers to answer either way.
        ann.wait_for(|v| v["type"] == "approval" && v["id"] == "req-q");
        ann.send_json(&json!({"type":"approval","id":"req-q","decision":"allow",
            "answers":{"Which one?":"B"}}));
        let r = owner.wait_for(|v| v["type"] == "approval_resolved" && v["id"] == "req-q");
        assert_eq!(
            (r["decision"].as_str(), r["by"].as_str()),
            (Some("answered"), Some("Ann"))
        );
        owner.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    }
}

#[test]
fn revoking_closes_the_socket_within_a_second_and_the_cookie_stops_working() {
    let server = Server::start(&[]);
    let mut owner = server.ws("");
    presence(&mut owner);
    let token = invite(&server, "collaborator", "Ann", None);
    let cookie = login(&server, &token);
    let mut ann = ws_with_cookie(&server, &cookie);
    presence(&mut ann);
    owner.wait_for(|v| v["type"] == "participant_joined");

    let started = Instant::now();
    let (ok, _, err) = homeclaude(&server, &["revoke", "Ann"]);
    assert!(ok, "{err}");
    let code = ann.wait_close();
    let took = started.elapsed();
    assert_eq!(code, Some(4003));
    eprintln!("revoke -> close 4003 in {took:?}");
    assert!(
        took < bound(Duration::from_secs(1)),
        "closed after {took:?}"
    );
    let left = owner.wait_for(|v| v["type"] == "participant_left");
    assert_eq!(left["name"], "Ann");
    // The cookie and the token are both dead now.
    assert_eq!(
        get_with(server.addr, "/api/logs", &[("Cookie", &cookie)]).0,
        401
    );
    let refused = try_ws(&server, &[("Cookie", &cookie)])
        .err()
        .expect("refused");
    assert!(refused.contains("401"), "{refused}");
    let (status, _) = get_with(server.addr, &format!("/login?token={token}"), &[]);
    assert_eq!(status, 401);
    // The owner is untouched.
    owner.send_json(&json!({"type":"command","command":"request_usage"}));
    owner.send_json(&json!({"type":"message","message":"still here"}));
    owner.wait_for(|v| v["type"] == "message" && v["message"] == "still here");
}

#[test]
fn an_expired_invite_is_refused_and_closes_its_socket() {
    let server = Server::start(&[]);
    // Expired before it was ever used: written as the CLI would have, minus time.
    let token = "f".repeat(64);
    let hash = {
        use sha2::{Digest, Sha256};
        Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let invites = json!({"invites":[{"id":"0123456789abcdef","name":"Old","role":"collaborator",
        "hash":hash,"created":1_000,"expires":2_000}]});
    std::fs::write(server.data_dir.join("invites.json"), invites.to_string()).unwrap();
    assert_eq!(
        get_with(server.addr, &format!("/login?token={token}"), &[]).0,
        401
    );
    let bearer = format!("Bearer {token}");
    assert_eq!(
        get_with(server.addr, "/api/logs", &[("Authorization", &bearer)]).0,
        401
    );
    // One that expires while its page is open is closed like a revoked one.
    let short = invite(&server, "viewer", "Brief", Some("2s"));
    let mut brief = ws_with_cookie(&server, &login(&server, &short));
    assert_eq!(presence(&mut brief)["you"]["role"], "viewer");
    assert_eq!(brief.wait_close(), Some(4003));
    assert_eq!(
        get_with(server.addr, &format!("/login?token={short}"), &[]).0,
        401
    );
}

#[test]
fn a_hundred_prompts_in_a_second_twenty_taken_others_unaffected() {
    let server = Server::start(&[]);
    let mut owner = server.ws("");
    occupy(&mut owner);
    let token = invite(&server, "collaborator", "Ann", None);
    let mut ann = ws_with_cookie(&server, &login(&server, &token));
    presence(&mut ann);
    let started = Instant::now();
    for i in 0..100 {
        let frame = json!({"type":"message","message":format!("p{i}"),"client_id":format!("c{i}")});
        ann.socket.write(Message::text(frame.to_string())).unwrap();
    }
    ann.socket.flush().unwrap();
    let (mut taken, mut limited) = (0, 0);
    while taken + limited < 100 {
        let v = ann.next_json();
        if v["type"] == "message" && v["username"] == "Ann" {
            taken += 1;
        } else if v["type"] == "error" {
            assert_eq!(v["code"], "rate_limited", "{v}");
            assert!(v["retry_after_ms"].as_u64().unwrap() > 0);
            limited += 1;
        }
    }
    assert!(started.elapsed() < Duration::from_secs(1) * slowdown());
    eprintln!(
        "100 prompts: {taken} taken, {limited} rate_limited in {:?}",
        started.elapsed()
    );
    assert_eq!((taken, limited), (20, 80));
    // Another person's bucket is their own; the owner has none.
    let bo = invite(&server, "collaborator", "Bo", None);
    let mut bo = ws_with_cookie(&server, &login(&server, &bo));
    presence(&mut bo);
    for i in 0..20 {
        bo.send_json(&json!({"type":"message","message":format!("b{i}")}));
        let v = bo.wait_for(|v| v["type"] == "error" || v["message"] == format!("b{i}"));
        assert_eq!(v["username"], "Bo", "{v}");
    }
    for i in 0..30 {
        owner.send_json(&json!({"type":"message","message":format!("o{i}")}));
        owner.wait_for(|v| v["type"] == "message" && v["message"] == format!("o{i}"));
    }
}

#[test]
fn max_clients_caps_a_role() {
    let server = Server::start(&["--max-clients", "50,collaborator=1"]);
    let token = invite(&server, "collaborator", "Ann", None);
    let cookie = login(&server, &token);
    let mut first = ws_with_cookie(&server, &cookie);
    presence(&mut first);
    let refused = try_ws(&server, &[("Cookie", &cookie)])
        .err()
        .expect("refused");
    assert!(refused.contains("503"), "{refused}");
    // Other roles are not capped by it.
    let mut owner = server.ws("");
    presence(&mut owner);
}
