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
    let (status, page) = get_with(server.addr, "/login", &[]);
    assert_eq!(status, 200);
    // Without HOMECLAUDE_PASSWORD_HASH the form asks for the token alone.
    assert!(page.contains(r#"name="token""#), "{page}");
    assert!(!page.contains(r#"name="password""#), "{page}");
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
    let (status, resp) = post_login(&server, &[("token", TOKEN)]);
    assert_eq!(status, 303);
    let body = format!("token={TOKEN}");
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
    // A browser logged in before is not locked out by someone else's guessing from
    // the same address (a tunnel makes every peer 127.0.0.1): a cookie cannot be
    // guessed. A bearer token can, so it waits like any token (F4).
    let pair = cookie_pair(&cookie_from(&server, "127.0.0.2"));
    assert_eq!(get_with(server.addr, "/", &[("Cookie", &pair)]).0, 200);
    assert_eq!(get(server.addr, "/").0, 429);
}

/// Logs in with the owner token from a source address of our choosing; returns the
/// Set-Cookie value.
fn cookie_from(server: &Server, ip: &str) -> String {
    let mut s = connect_from(ip, server.addr);
    s.set_read_timeout(Some(wait())).unwrap();
    std::io::Write::write_all(
        &mut s,
        format!(
            "GET /login?token={TOKEN} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    )
    .unwrap();
    let (status, resp) = read_response(&mut s);
    assert_eq!(status, 303, "{resp}");
    header_value(&resp, "set-cookie").expect("a cookie")
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
            Some("same-origin")
        );
    }
}

/// An argon2id hash with tiny parameters, so a debug build checks it in
/// milliseconds (the server takes the parameters from the string).
fn cheap_hash(password: &str) -> String {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
    let params = Params::new(64, 1, 1, None).unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), b"a test salt, 16+")
        .unwrap()
        .to_string()
}

/// POSTs the login form as the page would; returns (status, response).
fn post_login(server: &Server, fields: &[(&str, &str)]) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    http_raw(
        server.addr,
        format!(
            "POST /login HTTP/1.1\r\nHost: {0}\r\nOrigin: http://{0}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {1}\r\nConnection: close\r\n\r\n{body}",
            server.addr,
            body.len()
        )
        .as_bytes(),
    )
}

const PASSWORD: &str = "correct horse & battery staple";

#[test]
fn the_password_logs_in_and_the_token_still_works() {
    let hash = cheap_hash(PASSWORD);
    let mut server = Server::start_with(&[], &[("HOMECLAUDE_PASSWORD_HASH", &hash)], None);
    server.wait_log("password login is on (argon2id m=64 t=1 p=1)");
    server.wait_log("cheaper than `homeclaude hash-password` makes");
    let (status, page) = get_with(server.addr, "/login", &[]);
    assert_eq!(status, 200);
    assert!(page.contains(r#"name="password""#), "{page}");
    assert!(page.contains("or paste the token"), "{page}");
    assert!(page.contains(r#"name="token""#), "{page}");
    let (status, resp) = post_login(
        &server,
        &[("username", "homeclaude"), ("password", PASSWORD)],
    );
    assert_eq!(status, 303, "{resp}");
    assert_eq!(header_value(&resp, "location").as_deref(), Some("/"));
    let cookie = header_value(&resp, "set-cookie").expect("Set-Cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie_pair(&cookie);
    assert_eq!(get_with(server.addr, "/", &[("Cookie", &pair)]).0, 200);
    let mut ws = try_ws(&server, &[("Cookie", &pair)]).expect("ws with the password's cookie");
    ws.wait_for(|v| v["type"] == "queue_status");
    // Links, the token form and bearer scripts work as before.
    assert_eq!(login(&server, TOKEN, &[]).0, 303);
    assert_eq!(post_login(&server, &[("token", TOKEN)]).0, 303);
    assert_eq!(get(server.addr, "/").0, 200);
    // The password is no token, and never travels in a query string.
    let (status, _) = get_with(
        server.addr,
        "/",
        &[("Authorization", &format!("Bearer {PASSWORD}"))],
    );
    assert_eq!(status, 303);
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("password", PASSWORD)
        .finish();
    let (status, resp) = get_with(server.addr, &format!("/login?{query}"), &[]);
    assert_eq!(status, 200, "a password in the URL must not log in");
    assert!(header_value(&resp, "set-cookie").is_none());
    assert!(
        !server.log_text().contains("battery"),
        "the password was logged"
    );
}

#[test]
fn wrong_passwords_are_refused_then_rate_limited() {
    let hash = cheap_hash(PASSWORD);
    let mut server = Server::start_with(&[], &[("HOMECLAUDE_PASSWORD_HASH", &hash)], None);
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            let (status, resp) = post_login(&server, &[("password", &format!("guess number {i}"))]);
            assert!(header_value(&resp, "set-cookie").is_none());
            if status == 401 {
                assert!(resp.contains("That password is not right."), "{resp}");
            }
            status
        })
        .collect();
    assert_eq!(statuses, [401; 5]);
    server.wait_log("wrong password from 127.0.0.1");
    server.wait_log("failed attempts from 127.0.0.1 (the last a wrong password)");
    // Now even the right password waits, and so does a token from that address.
    let (status, resp) = post_login(&server, &[("password", PASSWORD)]);
    assert_eq!(status, 429, "{resp}");
    let wait: u64 = header_value(&resp, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After");
    assert!((1..=900).contains(&wait), "{wait}");
    assert_eq!(post_login(&server, &[("token", TOKEN)]).0, 429);
    assert!(
        !server.log_text().contains("guess number"),
        "a password was logged"
    );
}

#[test]
fn hash_password_from_a_pipe_makes_a_hash_the_server_accepts() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\nignored second line\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let hash = stdout.trim_end_matches('\n');
    assert!(!hash.contains('\n'), "one line on stdout: {stdout:?}");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(
        stderr.contains(&format!("HOMECLAUDE_PASSWORD_HASH='{hash}'")),
        "{stderr}"
    );
    let server = Server::start_with(&[], &[("HOMECLAUDE_PASSWORD_HASH", hash)], None);
    assert_eq!(
        post_login(&server, &[("password", "ignored second line")]).0,
        401
    );
    let (status, resp) = post_login(&server, &[("password", PASSWORD)]);
    assert_eq!(status, 303, "{resp}");
    // An empty pipe is refused rather than hashing the empty password.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
        .arg("hash-password")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the password is empty"));
}

#[test]
fn a_malformed_password_hash_stops_the_server_with_exit_2() {
    let data = temp_dir("bad-hash");
    let start = |hash: &str, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(extra)
            .env("HOMECLAUDE_PASSWORD_HASH", hash)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    // A plaintext password where the hash belongs, and a hash whose $ signs a shell
    // expanded: refused without echoing the value.
    for value in ["my plain password", "=19=19456,t=2,p=1"] {
        let out = start(value, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr
                .contains("HOMECLAUDE_PASSWORD_HASH is not a hash from `homeclaude hash-password`"),
            "{stderr}"
        );
        assert!(stderr.contains("single quotes"), "{stderr}");
        assert!(!stderr.contains(value), "{stderr}");
    }
    let out = start("$argon2id$v=19$m=19456,t=2,p=1$%%%%$%%%%", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a PHC string"));
    // Password login and --no-auth contradict each other.
    let out = start(&cheap_hash(PASSWORD), &["--no-auth"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-auth turns login off"));
    let _ = std::fs::remove_dir_all(data);
}

/// The body of a raw HTTP response.
fn body_of(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[test]
fn session_logs_are_for_logged_in_users_only_and_keys_are_digits() {
    let server = Server::start(&[]);
    // A log of an earlier session, as the store writes it.
    let history = server.data_dir.join("history");
    std::fs::create_dir_all(&history).unwrap();
    let line =
        json!({"seq": 1, "type": "message", "username": "User", "message": "an earlier prompt"});
    std::fs::write(history.join("001700000000000.jsonl"), format!("{line}\n")).unwrap();
    std::fs::write(server.data_dir.join("secret.jsonl"), "{}\n").unwrap();

    // No login: refused, list and log alike, whatever the key.
    for path in ["/api/logs", "/api/logs/001700000000000", "/api/logs/nope"] {
        let (status, _) = get_with(server.addr, path, &[]);
        assert_eq!(status, 401, "{path}");
        let (status, _) = get_with(server.addr, path, &[("Authorization", "Bearer wrong")]);
        assert_eq!(status, 401, "{path}");
    }
    // Logged in: the list, then the log itself.
    let (status, resp) = get(server.addr, "/api/logs");
    assert_eq!(status, 200, "{resp}");
    let list: serde_json::Value = serde_json::from_str(body_of(&resp)).unwrap();
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "001700000000000")
        .expect("the earlier log is listed");
    assert_eq!(item["prompt"], "an earlier prompt");
    assert_eq!(item["first"], 1_700_000_000_000u64);
    let (status, resp) = get(server.addr, "/api/logs/001700000000000");
    assert_eq!(status, 200, "{resp}");
    assert!(body_of(&resp).contains("an earlier prompt"), "{resp}");
    // Keys are digits: nothing else reaches the disk.
    for path in [
        "/api/logs/secret",
        "/api/logs/..%2fsecret",
        "/api/logs/../secret.jsonl",
        "/api/logs/001700000000000.jsonl",
        "/api/logs/1",
    ] {
        let (status, _) = get(server.addr, path);
        assert_eq!(status, 404, "{path}");
    }
    // Read-only: no other method.
    let (status, _) = http_raw(
        server.addr,
        format!(
            "POST /api/logs HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    );
    assert_eq!(status, 405);
}
