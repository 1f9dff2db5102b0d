//! `GET /api/git/status|diff|log` (issue 17) against a temporary repository with a
//! staged, an unstaged and an untracked file and a staged rename.

mod common;

use common::{Server, TOKEN, TempDir, body, get_with, temp_dir};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository with one commit, then: `a.txt` changed and staged, `b.txt` changed
/// and not staged, `new file.txt` untracked, `old.txt` renamed to `renamed.txt`
/// (staged).
fn repo() -> TempDir {
    let dir = temp_dir("git-repo");
    git(&dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("a.txt"), "one\n").unwrap();
    std::fs::write(dir.join("b.txt"), "two\n").unwrap();
    let long: String = (0..40).map(|i| format!("line {i}\n")).collect();
    std::fs::write(dir.join("old.txt"), &long).unwrap();
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "first commit"]);
    std::fs::write(dir.join("a.txt"), "one\nmore\n").unwrap();
    git(&dir, &["add", "a.txt"]);
    std::fs::write(dir.join("b.txt"), "two\nchanged\n").unwrap();
    std::fs::write(dir.join("new file.txt"), "new\n").unwrap();
    git(&dir, &["mv", "old.txt", "renamed.txt"]);
    dir
}

fn owner_get(server: &Server, path: &str) -> (u16, Value) {
    let (status, resp) = get_with(
        server.addr,
        path,
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    let json = serde_json::from_str(body(&resp)).unwrap_or(Value::Null);
    (status, json)
}

#[test]
fn status_diff_and_log_of_a_repository() {
    let dir = repo();
    let server = Server::start(&["--workdir", dir.to_str().unwrap()]);
    let (status, v) = owner_get(&server, "/api/git/status");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["repo"], true);
    assert_eq!(v["branch"], "main");
    assert_eq!(v["upstream"], Value::Null);
    let paths = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].as_str().or(e.as_str()).unwrap().to_string())
            .collect()
    };
    assert_eq!(paths("staged"), ["a.txt", "renamed.txt"]);
    assert_eq!(paths("unstaged"), ["b.txt"]);
    assert_eq!(paths("untracked"), ["new file.txt"]);
    let rename = &v["staged"][1];
    assert_eq!(
        (rename["status"].as_str(), rename["from"].as_str()),
        (Some("R"), Some("old.txt"))
    );

    // Staged: a.txt's change and the rename, found as one.
    let (status, v) = owner_get(&server, "/api/git/diff?staged=1");
    assert_eq!(status, 200);
    let diff = v["diff"].as_str().unwrap();
    assert!(diff.contains("+more"), "{diff}");
    assert!(
        diff.contains("rename from old.txt") && diff.contains("rename to renamed.txt"),
        "{diff}"
    );
    assert!(!diff.contains("changed"), "b.txt is not staged: {diff}");
    // Not staged, one path (spaces and all, percent-encoded).
    let (_, v) = owner_get(&server, "/api/git/diff?path=b.txt");
    let diff = v["diff"].as_str().unwrap();
    assert!(
        diff.contains("+changed") && !diff.contains("a.txt"),
        "{diff}"
    );
    assert_eq!(v["truncated"], false);
    let (_, v) = owner_get(&server, "/api/git/diff?path=new%20file.txt");
    assert_eq!(
        v["diff"], "",
        "untracked files have no diff against the index"
    );

    let (status, v) = owner_get(&server, "/api/git/log?n=5");
    assert_eq!(status, 200);
    let commits = v["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0]["subject"], "first commit");
    assert_eq!(commits[0]["author"], "Test");
    assert_eq!(commits[0]["hash"].as_str().unwrap().len(), 40);

    // Read-only: the index is untouched (still one staged change to a.txt).
    let out = Command::new("git")
        .args(["diff", "--cached", "--name-only"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a.txt\nrenamed.txt\n");
}

#[test]
fn not_a_repository_says_so() {
    let dir = temp_dir("not-a-repo");
    let server = Server::start(&["--workdir", dir.to_str().unwrap()]);
    for path in ["/api/git/status", "/api/git/diff", "/api/git/log"] {
        let (status, v) = owner_get(&server, path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(v["repo"], false, "{path}: {v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("not a git repository")
        );
    }
}

#[test]
fn only_the_owner_may_look() {
    let dir = repo();
    let server = Server::start(&["--workdir", dir.to_str().unwrap()]);
    let viewer = server.viewer_token();
    for path in [
        "/api/git/status",
        "/api/git/diff?path=a.txt",
        "/api/git/log?n=1",
    ] {
        assert_eq!(
            get_with(server.addr, path, &[]).0,
            401,
            "{path} without a session"
        );
        let (status, _) = get_with(
            server.addr,
            path,
            &[("Authorization", &format!("Bearer {viewer}"))],
        );
        assert_eq!(status, 403, "{path} as a viewer");
        assert_eq!(owner_get(&server, path).0, 200, "{path} as the owner");
    }
    // Read-only views: GET and HEAD only.
    let (status, _) = common::http_raw(
        server.addr,
        format!(
            "POST /api/git/status HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    );
    assert_eq!(status, 405);
    // A path outside the repository is git's error, not a file's contents.
    let (status, v) = owner_get(&server, "/api/git/diff?path=../../../../etc/passwd");
    assert_eq!(status, 500, "{v}");
    assert!(v["error"].as_str().unwrap().contains("outside"), "{v}");
    assert!(v.get("diff").is_none());
}
