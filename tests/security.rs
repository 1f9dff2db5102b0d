//! Authentication, roles and origin rules, against the real binary.

mod common;

use common::*;
use serde_json::json;

/// Logs in with a token through `/login?token=`; returns the cookie pair.
fn login(server: &Server, token: &str, extra: &[(&str, &str)]) -> (u16, String, Option<String>) {
    let (status, resp) = get_with(server.addr, &format!("/login?token={token}"), extra);
    let cookie = header_value(&resp, "set-cookie");
    (status, resp, cookie)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

#[test]
fn nothing_is_served_without_a_session() {
    let server = Server::start(&[]);
    let (status, resp) = get_with(server.addr, "/", &[]);
    assert_eq!(status, 303);
    assert_eq!(header_value(&resp, "location").as_deref(), Some("/login"));
    let err = try_ws(&server, &[]).err().expect("ws must be refused");
    assert!(err.contains("401"), "{err}");
    let err = try_ws(&server, &[("Authorization", "Bearer wrong")])
        .err()
        .unwrap();
    assert!(err.contains("401"), "{err}");
    // The login page, health and static files stay public.
    assert_eq!(get_with(server.addr, "/login", &[]).0, 200);
    assert_eq!(get_with(server.addr, "/healthz", &[]).0, 200);
}

#[test]
fn login_sets_a_strict_http_only_cookie_and_redirects_without_the_token() {
    let server = Server::start(&[]);
    let (status, resp, cookie) = login(&server, TOKEN, &[]);
    assert_eq!(status, 303);
    assert_eq!(header_value(&resp, "location").as_deref(), Some("/"));
    let cookie = cookie.expect("Set-Cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    assert!(
        !cookie.contains(TOKEN),
        "the cookie must not carry the token"
    );
    let pair = cookie_pair(&cookie);
    let (status, _) = get_with(server.addr, "/", &[("Cookie", &pair)]);
    assert_eq!(status, 200);
    let mut ws = try_ws(&server, &[("Cookie", &pair)]).expect("ws with cookie");
    ws.wait_for(|v| v["type"] == "queue_status");
    // Behind an https tunnel the cookie is Secure.
    let (_, _, cookie) = login(&server, TOKEN, &[("X-Forwarded-Proto", "https")]);
    assert!(cookie.unwrap().contains("Secure"));
}

#[test]
fn the_login_form_posts_the_token() {
    let server = Server::start(&[]);
    let body = format!("token={TOKEN}");
    let (status, resp) = http_raw(
        server.addr,
        format!(
            "POST /login HTTP/1.1\r\nHost: {0}\r\nOrigin: http://{0}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {1}\r\nConnection: close\r\n\r\n{body}",
            server.addr,
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(status, 303);
    assert!(header_value(&resp, "set-cookie").is_some());
    // The same form from another site is refused (login CSRF).
    let (status, _) = http_raw(
        server.addr,
        format!(
            "POST /login HTTP/1.1\r\nHost: {0}\r\nOrigin: http://evil.example\r\nContent-Length: {1}\r\nConnection: close\r\n\r\n{body}",
            server.addr,
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(status, 403);
}

#[test]
fn wrong_tokens_are_rate_limited_and_logged() {
    let mut server = Server::start(&[]);
    let mut statuses = Vec::new();
    for i in 0..100 {
        let (status, _, cookie) = login(&server, &format!("wrong{i}"), &[]);
        assert!(cookie.is_none());
        statuses.push(status);
    }
    assert!(statuses[..5].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[5], 429, "{statuses:?}");
    // Each back-off lets one more attempt through when it expires (1 s, 2 s, 4 s...),
    // so on a slow machine a few 401s appear among the 429s, never many.
    let let_through = statuses[5..].iter().filter(|s| **s == 401).count();
    assert!(let_through <= 4, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    server.wait_log("failed attempts from 127.0.0.1");
    let (_, resp, _) = login(&server, "again", &[]);
    assert!(header_value(&resp, "retry-after").is_some());
    // A client that holds the token as a bearer is not locked out by someone
    // else's guessing from the same address (a tunnel makes every peer 127.0.0.1).
    assert_eq!(get(server.addr, "/").0, 200);
}

#[test]
fn a_cross_site_websocket_is_refused_even_with_a_valid_cookie() {
    let server = Server::start(&[]);
    let (_, _, cookie) = login(&server, TOKEN, &[]);
    let pair = cookie_pair(&cookie.unwrap());
    let err = try_ws(
        &server,
        &[("Cookie", &pair), ("Origin", "http://evil.example")],
    )
    .err()
    .expect("must be refused");
    assert!(err.contains("403"), "{err}");
    let origin = format!("http://{}", server.addr);
    assert!(try_ws(&server, &[("Cookie", &pair), ("Origin", &origin)]).is_ok());
}

#[test]
fn a_viewer_watches_but_cannot_send() {
    let server = Server::start(&[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
        .args(["token", "--data-dir"])
        .arg(&server.data_dir)
        .env("HOMECLAUDE_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let viewer = stderr
        .lines()
        .find_map(|l| l.strip_prefix("viewer (read-only) token: "))
        .expect("viewer token printed")
        .to_string();
    let (status, _, cookie) = login(&server, &viewer, &[]);
    assert_eq!(status, 303);
    let pair = cookie_pair(&cookie.unwrap());
    let mut watcher = try_ws(&server, &[("Cookie", &pair)]).unwrap();
    watcher.wait_for(|v| v["type"] == "queue_status");
    let mut owner = server.ws("");
    owner.send_json(&json!({"type":"message","message":"from the owner"}));
    owner.wait_for(|v| v["type"] == "message");
    assert_eq!(
        watcher.wait_for(|v| v["type"] == "message")["message"],
        "from the owner"
    );
    for frame in [
        json!({"type":"message","message":"let me in"}),
        json!({"type":"command","command":"clear"}),
        json!({"type":"command","command":"restart"}),
        json!({"type":"command","command":"cancel","id":1}),
    ] {
        watcher.send_json(&frame);
        let err = watcher.wait_for(|v| v["type"] == "error");
        assert_eq!(err["code"], "read_only", "{frame}");
    }
    // Nothing the viewer sent reached the others.
    owner.send_json(&json!({"type":"message","message":"marker"}));
    let next = owner.wait_for(|v| v["type"] == "message");
    assert_eq!(next["message"], "marker");
}

#[test]
fn rotating_the_token_logs_everyone_out_without_a_restart() {
    let server = Server::start_with(&[], &[("HOMECLAUDE_TOKEN", "")], None);
    let token = |rotate: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"));
        cmd.arg("token").arg("--data-dir").arg(&server.data_dir);
        if rotate {
            cmd.arg("--rotate");
        }
        let out = cmd.env_remove("HOMECLAUDE_TOKEN").output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let first = token(false);
    assert_eq!(first.len(), 64);
    let (status, _, cookie) = login(&server, &first, &[]);
    assert_eq!(status, 303);
    let pair = cookie_pair(&cookie.unwrap());
    assert_eq!(get_with(server.addr, "/", &[("Cookie", &pair)]).0, 200);
    let second = token(true);
    assert_ne!(first, second);
    assert_eq!(get_with(server.addr, "/", &[("Cookie", &pair)]).0, 303);
    assert_eq!(login(&server, &second, &[]).0, 303);
}

#[test]
fn no_auth_on_a_public_address_refuses_to_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
        .args(["--no-auth", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without authentication"));
}

#[test]
fn no_auth_on_loopback_serves_local_requests_only() {
    let server = Server::start(&["--no-auth"]);
    let host = format!("127.0.0.1:{}", server.addr.port());
    assert_eq!(get_with(server.addr, "/", &[]).0, 200);
    // DNS rebinding: a foreign name that resolves to 127.0.0.1.
    let (status, _) = http_raw(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 403);
    // Through a tunnel or proxy.
    let (status, _) = http_raw(
        server.addr,
        format!("GET / HTTP/1.1\r\nHost: {host}\r\nX-Forwarded-For: 1.2.3.4\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(status, 403);
}

#[test]
fn every_page_carries_the_security_headers() {
    let server = Server::start(&[]);
    for path in ["/", "/login", "/healthz", "/nope"] {
        let (_, resp) = get(server.addr, path);
        let csp = header_value(&resp, "content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            header_value(&resp, "x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(
            header_value(&resp, "referrer-policy").as_deref(),
            Some("no-referrer")
        );
    }
}
