//! Files from and to the phone (issue 16): uploads streamed to disk, downloads with
//! `Range`, confinement to the workdir, who may use the routes, image attachments
//! reaching the CLI, and `file_update` broadcasts for changes made by others.

mod common;

use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

fn owner() -> String {
    format!("Bearer {TOKEN}")
}

/// One request with a body; returns (status, response text).
fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    auth: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    http_raw(addr, &req)
}

/// A server whose workdir is a fresh temp dir (returned too).
fn serve(extra: &[&str]) -> (Server, TempDir) {
    let work = temp_dir("work");
    let mut args = vec!["--workdir", work.to_str().unwrap()];
    args.extend_from_slice(extra);
    (Server::start(&args), work)
}

/// Names in a directory that are upload temp files.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".hc-upload-"))
        .collect()
}

#[test]
fn upload_list_download_with_range_overwrite_and_delete() {
    let (server, work) = serve(&[]);
    let (code, resp) = send(
        server.addr,
        "PUT",
        "/api/files/raw?path=notes/a%20b.txt",
        Some(&owner()),
        b"hello world",
    );
    assert_eq!(code, 201, "{resp}");
    let v: Value = serde_json::from_str(body(&resp)).unwrap();
    assert_eq!(v["path"], "notes/a b.txt");
    assert_eq!(v["entry"]["size"], 11);
    assert_eq!(
        std::fs::read(work.join("notes/a b.txt")).unwrap(),
        b"hello world"
    );
    // 409 unless overwrite=1.
    let (code, _) = send(
        server.addr,
        "PUT",
        "/api/files/raw?path=notes/a%20b.txt",
        Some(&owner()),
        b"x",
    );
    assert_eq!(code, 409);
    let (code, _) = send(
        server.addr,
        "PUT",
        "/api/files/raw?path=notes/a%20b.txt&overwrite=1",
        Some(&owner()),
        b"HELLO WORLD",
    );
    assert_eq!(code, 201);
    // The listing: directories first.
    std::fs::create_dir(work.join("zdir")).unwrap();
    std::fs::write(work.join("a.txt"), "a").unwrap();
    let (code, resp) = get(server.addr, "/api/files?path=");
    assert_eq!(code, 200, "{resp}");
    let v: Value = serde_json::from_str(body(&resp)).unwrap();
    let names: Vec<(&str, &str)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("notes", "dir"), ("zdir", "dir"), ("a.txt", "file")]
    );
    // The bytes, whole and by range.
    let (code, resp) = get(
        server.addr,
        "/api/files/raw?path=notes/a%20b.txt&download=1",
    );
    assert_eq!(code, 200);
    assert_eq!(body(&resp), "HELLO WORLD");
    assert_eq!(
        header_value(&resp, "content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        header_value(&resp, "content-disposition")
            .unwrap()
            .starts_with("attachment; filename*=UTF-8''a%20b.txt")
    );
    let (code, resp) = get_with(
        server.addr,
        "/api/files/raw?path=notes/a%20b.txt",
        &[("Authorization", &owner()), ("Range", "bytes=6-")],
    );
    assert_eq!(code, 206);
    assert_eq!(body(&resp), "WORLD");
    assert_eq!(
        header_value(&resp, "content-range").as_deref(),
        Some("bytes 6-10/11")
    );
    let (code, _) = get_with(
        server.addr,
        "/api/files/raw?path=notes/a%20b.txt",
        &[("Authorization", &owner()), ("Range", "bytes=50-")],
    );
    assert_eq!(code, 416);
    // Delete a file; a directory is refused.
    let (code, _) = send(
        server.addr,
        "DELETE",
        "/api/files/raw?path=notes/a%20b.txt",
        Some(&owner()),
        b"",
    );
    assert_eq!(code, 200);
    assert!(!work.join("notes/a b.txt").exists());
    let (code, _) = send(
        server.addr,
        "DELETE",
        "/api/files/raw?path=zdir",
        Some(&owner()),
        b"",
    );
    assert_eq!(code, 400);
    assert!(work.join("zdir").is_dir());
    // Over --max-upload: refused from the head alone.
    let (code, _) = send(
        server.addr,
        "PUT",
        "/api/files/raw?path=big.bin",
        Some(&owner()),
        &vec![0u8; 2048],
    );
    assert_eq!(code, 201, "under the default limit");
}

#[test]
fn an_upload_over_max_upload_is_refused_before_its_body() {
    let (server, work) = serve(&["--max-upload", "1000"]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(wait())).unwrap();
    // Only the head: the answer comes without a byte of the body.
    write!(
        s,
        "PUT /api/files/raw?path=big.bin HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Length: 5000\r\n\r\n",
        server.addr,
        owner()
    )
    .unwrap();
    let (code, _) = read_response(&mut s);
    assert_eq!(code, 413);
    assert!(!work.join("big.bin").exists());
}

/// The acceptance test: 50 MB over loopback at 30 MB/s or more, the server's RSS up
/// less than 2 MB, the same sha256 back; a client killed mid-upload leaves nothing.
#[test]
fn a_50_mb_upload_streams_to_disk_fast_in_constant_memory() {
    let (server, work) = serve(&[]);
    // Warm up the path once (thread stacks, page-ins), then measure.
    let (code, _) = send(
        server.addr,
        "PUT",
        "/api/files/raw?path=warm.bin",
        Some(&owner()),
        &vec![7u8; 1 << 20],
    );
    assert_eq!(code, 201);
    const LEN: usize = 50 << 20;
    let data: Vec<u8> = (0..LEN).map(|i| (i * 31 % 251) as u8).collect();
    let want = Sha256::digest(&data);
    let before = server.rss();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // RSS sampled while the upload runs (a measurement, not a synchronisation).
    let sampler = {
        let (peak, done, pid) = (peak.clone(), done.clone(), server.pid);
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kb) = status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak.fetch_max(kb * 1024, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(wait())).unwrap();
    let t = Instant::now();
    write!(
        s,
        "PUT /api/files/raw?path=up/big.bin HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Length: {LEN}\r\n\r\n",
        server.addr,
        owner()
    )
    .unwrap();
    for chunk in data.chunks(1 << 20) {
        s.write_all(chunk).unwrap();
    }
    let (code, resp) = read_response(&mut s);
    let secs = t.elapsed().as_secs_f64();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap();
    assert_eq!(code, 201, "{resp}");
    let rate = LEN as f64 / secs / 1e6;
    let rise = peak.load(std::sync::atomic::Ordering::Relaxed) as i64 - before as i64;
    eprintln!("upload: 50 MiB in {secs:.2} s = {rate:.0} MB/s; RSS rise {rise} bytes");
    assert!(rate >= 30.0 / slowdown() as f64, "{rate:.1} MB/s");
    assert!(rise < 2 << 20, "RSS rose {rise} bytes during the upload");
    // The download gives the same bytes.
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "GET /api/files/raw?path=up/big.bin HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        owner()
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let at = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&all[..at]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(all.len() - at, LEN, "{head}");
    assert_eq!(Sha256::digest(&all[at..]), want);
    assert!(temp_files(&work.join("up")).is_empty());

    // A client that dies mid-upload: no file, no temp file.
    let mut server = server;
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "PUT /api/files/raw?path=up/cut.bin HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Length: {LEN}\r\n\r\n",
        server.addr,
        owner()
    )
    .unwrap();
    s.write_all(&data[..3 << 20]).unwrap();
    drop(s);
    server.wait_log("upload of \"up/cut.bin\" interrupted");
    assert!(!work.join("up/cut.bin").exists());
    assert_eq!(temp_files(&work.join("up")), Vec::<String>::new());
}

#[test]
fn traversal_and_hidden_paths_are_refused_and_nothing_is_read_or_written() {
    traversal(&[]);
}

/// The same where openat2 is missing (Linux before 5.6, qemu-user): paths are
/// resolved and their prefix checked, and a missing name behind a symlink that
/// leads out is refused all the same.
#[test]
fn traversal_is_refused_without_openat2_too() {
    traversal(&[
        ("HOMECLAUDE_TEST_HOOKS", "1"),
        ("HOMECLAUDE_TEST_NO_OPENAT2", "1"),
    ]);
}

fn traversal(env: &[(&str, &str)]) {
    let work = temp_dir("work");
    // The data dir inside the workdir: still never reachable.
    let data = work.join("state");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(work.join("ok.txt"), "fine").unwrap();
    std::fs::create_dir_all(work.join(".git")).unwrap();
    std::fs::write(work.join(".git/config"), "secret").unwrap();
    std::fs::write(work.join(".env.local"), "KEY=1").unwrap();
    std::fs::write(work.join("server.pem"), "pem").unwrap();
    std::fs::create_dir_all(work.join("sub")).unwrap();
    std::os::unix::fs::symlink("/etc", work.join("etc")).unwrap();
    std::os::unix::fs::symlink("loop", work.join("loop")).unwrap();
    std::os::unix::fs::symlink("../.git/config", work.join("sub/git-config")).unwrap();
    let outside = temp_dir("outside");
    std::os::unix::fs::symlink(outside.path(), work.join("out")).unwrap();
    let mut server = Server::start_in(&data, &["--workdir", work.to_str().unwrap()], env, None);
    if !env.is_empty() {
        server.wait_log("openat2 is not available");
    }
    let bad = [
        "../etc/passwd",
        "%2e%2e/etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "sub/../../x",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "etc/passwd",
        "etc",
        "loop",
        "loop/x",
        "ok%00.txt",
        ".git/config",
        ".git",
        ".env.local",
        "server.pem",
        "sub/git-config",
        "state/hang.jsonl",
        "state",
        "out/planted.txt",
    ];
    for path in bad {
        for (method, route) in [
            ("GET", "/api/files"),
            ("GET", "/api/files/raw"),
            ("PUT", "/api/files/raw"),
            ("DELETE", "/api/files/raw"),
        ] {
            let (code, resp) = send(
                server.addr,
                method,
                &format!("{route}?path={path}"),
                Some(&owner()),
                b"planted",
            );
            assert_eq!(code, 403, "{method} {route}?path={path}: {resp}");
            assert!(!resp.contains("root:"), "{resp}");
            assert!(!resp.contains("secret"), "{resp}");
        }
    }
    server.wait_log("files 127.0.0.1");
    assert!(server.log_text().contains("refused PUT \"../etc/passwd\""));
    // Nothing was written or removed anywhere.
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    assert!(!work.parent().unwrap().join("x").exists());
    assert_eq!(std::fs::read(work.join(".git/config")).unwrap(), b"secret");
    assert!(work.join("server.pem").exists() && work.join(".env.local").exists());
    // The listing shows none of the hidden names.
    let (code, resp) = get(server.addr, "/api/files?path=");
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(body(&resp)).unwrap();
    let names: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for hidden in [".git", ".env.local", "server.pem", "state"] {
        assert!(!names.contains(&hidden), "{names:?}");
    }
    assert!(
        names.contains(&"ok.txt") && names.contains(&"etc"),
        "{names:?}"
    );
}

#[test]
fn viewers_get_403_and_strangers_401_on_every_file_route() {
    let (server, work) = serve(&[]);
    std::fs::write(work.join("a.txt"), "a").unwrap();
    let viewer = format!("Bearer {}", server.viewer_token());
    for (method, target) in [
        ("GET", "/api/files?path="),
        ("GET", "/api/files/raw?path=a.txt"),
        ("HEAD", "/api/files/raw?path=a.txt"),
        ("PUT", "/api/files/raw?path=new.txt"),
        ("DELETE", "/api/files/raw?path=a.txt"),
    ] {
        let head = method == "HEAD";
        let go = |auth: Option<&str>| {
            if head {
                let auth = auth
                    .map(|a| format!("Authorization: {a}\r\n"))
                    .unwrap_or_default();
                let mut s = TcpStream::connect(server.addr).unwrap();
                write!(
                    s,
                    "HEAD {target} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
                    server.addr
                )
                .unwrap();
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                out[9..12].parse::<u16>().unwrap()
            } else {
                send(server.addr, method, target, auth, b"x").0
            }
        };
        assert_eq!(go(Some(&viewer)), 403, "viewer {method} {target}");
        assert_eq!(go(None), 401, "stranger {method} {target}");
    }
    assert!(!work.join("new.txt").exists());
    assert!(work.join("a.txt").exists());
}

#[test]
fn an_image_attachment_reaches_the_cli_as_an_image_block() {
    let record_dir = temp_dir("record");
    let record = record_dir.join("record.jsonl");
    let work = temp_dir("work");
    let server = Server::start_with(
        &["--workdir", work.to_str().unwrap()],
        &[("FAKE_CLAUDE_RECORD", record.to_str().unwrap())],
        None,
    );
    // A 1x1 PNG, uploaded as the page does.
    let png: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0,
        0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
    ];
    let (code, _) = send(
        server.addr,
        "PUT",
        "/api/files/raw?path=uploads/shot.png",
        Some(&owner()),
        png,
    );
    assert_eq!(code, 201);
    std::fs::write(work.join("notes.txt"), "remember").unwrap();
    let mut ws = server.ws("");
    ws.send_json(&json!({
        "type": "message",
        "message": "@session_id_new what is this?",
        "attachments": ["uploads/shot.png", "notes.txt"],
    }));
    let echo = ws.wait_for(|v| v["type"] == "message" && v["username"] != "Claude");
    assert_eq!(
        echo["attachments"],
        json!(["uploads/shot.png", "notes.txt"])
    );
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    let text = std::fs::read_to_string(&record).unwrap();
    let user: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "user")
        .expect("a user line on stdin");
    let content = user["message"]["content"].as_array().unwrap();
    assert_eq!(content[0]["type"], "text");
    let said = content[0]["text"].as_str().unwrap();
    assert!(said.contains("what is this?"), "{said}");
    assert!(
        said.contains("\n@notes.txt"),
        "other files as @mentions: {said}"
    );
    assert_eq!(content[1]["type"], "image");
    assert_eq!(content[1]["source"]["type"], "base64");
    assert_eq!(content[1]["source"]["media_type"], "image/png");
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .decode(content[1]["source"]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, png);
}

#[test]
fn an_attachment_outside_the_workdir_is_not_read() {
    let record_dir = temp_dir("record");
    let record = record_dir.join("record.jsonl");
    let work = temp_dir("work");
    let outside = temp_dir("outside");
    std::fs::write(outside.join("secret.png"), "not for claude").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.png"), work.join("s.png")).unwrap();
    let server = Server::start_with(
        &["--workdir", work.to_str().unwrap()],
        &[("FAKE_CLAUDE_RECORD", record.to_str().unwrap())],
        None,
    );
    let mut ws = server.ws("");
    ws.send_json(&json!({
        "type": "message",
        "message": "@session_id_new look",
        "attachments": ["s.png"],
    }));
    ws.wait_for(|v| v["type"] == "message" && v["username"] == "Claude");
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(!text.contains("\"image\""), "{text}");
    assert!(text.contains("could not be read"), "{text}");
}

#[test]
fn a_directory_renamed_is_followed_and_one_moved_away_is_forgotten() {
    let work = temp_dir("work");
    let outside = temp_dir("outside");
    std::fs::create_dir_all(work.join("a/deep")).unwrap();
    std::fs::create_dir_all(work.join("leaving")).unwrap();
    let mut server = Server::start(&["--workdir", work.to_str().unwrap()]);
    server.wait_log("files: watching");
    let mut ws = server.ws("");
    ws.wait_for(|v| v["type"] == "queue_status");
    // Renamed within the tree: changes inside carry the new name.
    std::fs::rename(work.join("a"), work.join("b")).unwrap();
    ws.wait_for(|v| v["type"] == "file_update" && v["path"] == "b");
    std::fs::write(work.join("b/deep/x.txt"), "x").unwrap();
    let v = ws
        .wait_for(|v| v["type"] == "file_update" && v["path"].as_str().unwrap().ends_with("x.txt"));
    assert_eq!(v["path"], "b/deep/x.txt", "{v}");
    // Moved out of the workdir: what happens there is not reported any more.
    std::fs::rename(work.join("leaving"), outside.join("left")).unwrap();
    let v = ws.wait_for(|v| v["type"] == "file_update" && v["path"] == "leaving");
    assert_eq!(v["action"], "delete");
    std::fs::write(outside.join("left/secret.txt"), "s").unwrap();
    std::fs::write(work.join("marker.txt"), "m").unwrap();
    loop {
        let v = ws.next_json();
        if v["type"] == "file_update" {
            assert_ne!(
                v["path"], "leaving/secret.txt",
                "a change outside the workdir"
            );
            if v["path"] == "marker.txt" {
                break;
            }
        }
    }
}

#[test]
fn changes_by_a_shell_reach_every_client_as_one_file_update_each() {
    // The data dir inside the workdir: the server's own writes there (every event is
    // logged) must not come back as file_updates (they would feed themselves).
    let work = temp_dir("work");
    let data = work.join("state");
    std::fs::create_dir_all(&data).unwrap();
    let mut server = Server::start_in(&data, &["--workdir", work.to_str().unwrap()], &[], None);
    std::fs::create_dir_all(work.join(".git")).unwrap();
    server.wait_log("files: watching");
    let mut a = server.ws("");
    let mut b = server.ws("");
    for ws in [&mut a, &mut b] {
        ws.wait_for(|v| v["type"] == "queue_status");
    }
    let shell = |script: &str| {
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(work.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script}");
    };
    for (script, path, action) in [
        ("echo one > made.txt", "made.txt", "create"),
        ("echo two >> made.txt", "made.txt", "update"),
        (
            "mkdir -p d && echo x > d/inner.txt",
            "d/inner.txt",
            "create",
        ),
        ("rm made.txt", "made.txt", "delete"),
    ] {
        // Noise that must not be reported: .git internals, hidden names.
        shell("echo x > .git/index; echo y > .env");
        let t = Instant::now();
        shell(script);
        for ws in [&mut a, &mut b] {
            let v = ws.wait_for(|v| v["type"] == "file_update" && v["path"] == path);
            assert_eq!(v["action"], action, "{script}: {v}");
            assert!(
                t.elapsed() < bound(Duration::from_secs(1)),
                "{script}: {:?}",
                t.elapsed()
            );
        }
    }
    // Exactly one event each, and none for the noise: a marker shows the stream
    // has been read to here.
    shell("echo m > marker.txt");
    let mut seen = Vec::new();
    let mut ws = server.ws("?last_seq=0");
    loop {
        let v = ws.next_json();
        if v["type"] == "file_update" {
            if v["path"] == "marker.txt" {
                break;
            }
            seen.push(format!("{} {}", v["action"], v["path"]));
        }
    }
    assert_eq!(
        seen,
        [
            "\"create\" \"made.txt\"",
            "\"update\" \"made.txt\"",
            "\"create\" \"d\"",
            "\"create\" \"d/inner.txt\"",
            "\"delete\" \"made.txt\"",
        ]
    );
}

#[test]
fn an_upload_cut_off_by_a_stopped_server_leaves_nothing_after_the_next_start() {
    // What a server killed mid-upload leaves: a temporary file, never listed.
    let work = temp_dir("work");
    std::fs::create_dir_all(work.join("deep/er")).unwrap();
    let left = work.join("deep/er/.hc-upload-0123456789abcdef.part");
    std::fs::write(&left, vec![7u8; 4096]).unwrap();
    // Written a minute before this start (one of this start's own uploads is
    // never touched: see an_upload_with_expect_continue...).
    let minute_ago = std::time::SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(minute_ago)
        .unwrap();
    // Not ours: only our own temporary files go.
    std::fs::write(work.join("deep/.hc-upload-notes.txt"), "mine").unwrap();
    let mut server = Server::start(&["--workdir", work.to_str().unwrap()]);
    server.wait_log("left by an upload the server did not finish");
    assert!(!left.exists());
    assert!(work.join("deep/.hc-upload-notes.txt").exists());
}

#[test]
fn past_watch_max_the_rest_is_not_watched_and_the_log_says_so() {
    let work = temp_dir("work");
    for d in ["a", "b", "c", "d", "node_modules/x"] {
        std::fs::create_dir_all(work.join(d)).unwrap();
    }
    let mut server = Server::start(&["--workdir", work.to_str().unwrap(), "--watch-max", "3"]);
    let line = server.wait_log("changes in the others are not reported");
    assert!(line.contains("watching 3 directories"), "{line}");
    assert!(line.contains("--watch-max 3"), "{line}");
    // Still listed and served.
    let (code, resp) = get(server.addr, "/api/files?path=");
    assert_eq!(code, 200);
    for d in ["a", "b", "c", "d", "node_modules"] {
        assert!(resp.contains(&format!("\"name\":\"{d}\"")), "{resp}");
    }
}

#[test]
fn an_upload_with_expect_continue_waits_for_the_go_ahead_and_keeps_the_connection() {
    let (server, work) = serve(&[]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(wait())).unwrap();
    write!(
        s,
        "PUT /api/files/raw?path=c.txt HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        server.addr,
        owner()
    )
    .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello").unwrap();
    let (code, resp) = read_response(&mut s);
    assert_eq!(code, 201, "{resp}");
    // The connection carries the next request.
    write!(
        s,
        "GET /api/files?path= HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        owner()
    )
    .unwrap();
    let (code, resp) = read_response(&mut s);
    assert_eq!(code, 200, "{resp}");
    assert!(resp.contains("\"name\":\"c.txt\""), "{resp}");
    assert_eq!(std::fs::read(work.join("c.txt")).unwrap(), b"hello");
}
