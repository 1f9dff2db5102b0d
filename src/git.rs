//! Read-only git views of the workdir for `GET /api/git/status|diff|log`, built on
//! the `git` executable (no libgit2).
//!
//! Called on the HTTP connection's own thread, never the hub's. Each call runs one
//! `git` in its own process group with a deadline ([`TIMEOUT`]) and a cap on what
//! it may print; past either, the group is killed. `--no-optional-locks` keeps a
//! look from taking the index lock a running `git commit` (or Claude) needs;
//! `core.quotepath=off` gives paths as UTF-8, not octal escapes; no external diff,
//! no textconv and no fsmonitor, so a look at the repository runs no program the
//! repository names.

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use serde_json::{Value, json};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one `git` may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most of a diff sent (the rest is cut, and the answer says so).
pub const MAX_DIFF: usize = 1 << 20;
/// Most of a status or log read.
const MAX_LIST: usize = 4 << 20;
/// Most of git's error output kept.
const MAX_STDERR: usize = 16 << 10;
/// Most commits `log` lists.
pub const MAX_LOG: usize = 200;

/// Why a view could not be made.
#[derive(Debug, PartialEq)]
pub enum GitError {
    /// The workdir is not inside a git work tree.
    NotRepo,
    /// No `git` on `PATH`.
    NotInstalled,
    /// Past [`TIMEOUT`]; killed.
    Timeout,
    /// git failed; its first error line.
    Failed(String),
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::NotRepo => write!(f, "the workdir is not a git repository"),
            GitError::NotInstalled => write!(f, "git is not installed on the server"),
            GitError::Timeout => write!(f, "git took longer than {} s", TIMEOUT.as_secs()),
            GitError::Failed(why) => write!(f, "git failed: {why}"),
        }
    }
}

/// What one `git` printed.
struct Ran {
    stdout: Vec<u8>,
    truncated: bool,
}

/// The workdir's repository.
#[derive(Debug, Clone)]
pub struct Git {
    workdir: PathBuf,
    timeout: Duration,
    /// `git` on `PATH` (a stand-in in the unit tests).
    program: PathBuf,
}

impl Git {
    pub fn new(workdir: PathBuf) -> Git {
        Git {
            workdir,
            timeout: TIMEOUT,
            program: PathBuf::from("git"),
        }
    }

    /// `git <args>` in the workdir, at most `cap` bytes of output, within the deadline.
    fn run(&self, args: &[&str], cap: usize) -> Result<Ran, GitError> {
        let mut cmd = Command::new(&self.program);
        cmd.args([
            "--no-optional-locks",
            "-c",
            "core.quotepath=off",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "color.ui=false",
        ])
        .args(args)
        .current_dir(&self.workdir)
        .process_group(0)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            if crate::shell::is_secret(&name) {
                cmd.env_remove(&name);
            }
        }
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => GitError::NotInstalled,
            _ => GitError::Failed(e.to_string()),
        })?;
        let pid = child.id();
        let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = crate::child::signal_group(pid, rustix::process::Signal::KILL);
            let _ = child.wait();
            return Err(GitError::Failed("no pipes".into()));
        };
        let read = read_both(OwnedFd::from(out), OwnedFd::from(err), cap, self.timeout);
        // Done reading (to the end, the cap or the deadline): whatever is left of the
        // group goes before git is reaped, while its group id is still ours.
        let finished = matches!(read, Ok((_, _, false)));
        if !finished {
            let _ = crate::child::signal_group(pid, rustix::process::Signal::KILL);
        }
        let status = child.wait();
        let (stdout, stderr, cut) = read?;
        if cut && stdout.len() < cap {
            return Err(GitError::Timeout);
        }
        if cut {
            return Ok(Ran {
                stdout,
                truncated: true,
            });
        }
        match status {
            Ok(s) if s.success() => Ok(Ran {
                stdout,
                truncated: false,
            }),
            Ok(_) => {
                let text = String::from_utf8_lossy(&stderr);
                if text.to_ascii_lowercase().contains("not a git repository") {
                    return Err(GitError::NotRepo);
                }
                let first = text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no message");
                Err(GitError::Failed(crate::protocol::excerpt(first, 300)))
            }
            Err(e) => Err(GitError::Failed(e.to_string())),
        }
    }

    /// `GET /api/git/status`: branch, upstream, ahead/behind, and the staged,
    /// unstaged, untracked and conflicted files.
    pub fn status(&self) -> Result<Value, GitError> {
        let ran = self.run(
            &[
                "status",
                "--porcelain=v2",
                "--branch",
                "-z",
                "--untracked-files=all",
            ],
            MAX_LIST,
        )?;
        Ok(parse_status(&ran.stdout, ran.truncated))
    }

    /// `GET /api/git/diff?path=&staged=1`: the unified diff of the work tree against
    /// the index (or, staged, of the index against HEAD), renames found.
    pub fn diff(&self, path: Option<&str>, staged: bool) -> Result<Value, GitError> {
        let mut args = vec![
            "--literal-pathspecs",
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "-M",
        ];
        if staged {
            args.push("--cached");
        }
        args.push("--");
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            args.push(p);
        }
        let ran = self.run(&args, MAX_DIFF)?;
        Ok(json!({
            "repo": true,
            "staged": staged,
            "path": path,
            "diff": String::from_utf8_lossy(&ran.stdout),
            "truncated": ran.truncated,
        }))
    }

    /// `GET /api/git/log?n=20`: the last `n` commits of HEAD.
    pub fn log(&self, n: usize) -> Result<Value, GitError> {
        let n = n.clamp(1, MAX_LOG).to_string();
        let ran = self.run(
            &[
                "log",
                "-n",
                &n,
                "--no-color",
                "--format=%H%x1f%h%x1f%an%x1f%aI%x1f%s%x1e",
            ],
            MAX_LIST,
        );
        let ran = match ran {
            // A repository without commits yet: an empty log, not an error.
            Err(GitError::Failed(why)) if why.contains("does not have any commits") => Ran {
                stdout: Vec::new(),
                truncated: false,
            },
            other => other?,
        };
        let text = String::from_utf8_lossy(&ran.stdout);
        let commits: Vec<Value> = text
            .split('\x1e')
            .filter_map(|rec| {
                let f: Vec<&str> = rec.trim_start_matches('\n').split('\x1f').collect();
                (f.len() == 5).then(|| {
                    json!({"hash": f[0], "short": f[1], "author": f[2], "date": f[3], "subject": f[4]})
                })
            })
            .collect();
        Ok(json!({"repo": true, "commits": commits}))
    }
}

/// Reads stdout (at most `cap` bytes) and stderr until both close or the deadline
/// passes. The flag is true when reading stopped early (cap or deadline).
fn read_both(
    out: OwnedFd,
    err: OwnedFd,
    cap: usize,
    timeout: Duration,
) -> Result<(Vec<u8>, Vec<u8>, bool), GitError> {
    let deadline = Instant::now() + timeout;
    let mut pipes = [Some(out), Some(err)];
    let mut bufs = [Vec::new(), Vec::new()];
    let caps = [cap, MAX_STDERR];
    let mut chunk = vec![0u8; 64 << 10];
    while pipes.iter().any(Option::is_some) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok((
                std::mem::take(&mut bufs[0]),
                std::mem::take(&mut bufs[1]),
                true,
            ));
        }
        let open: Vec<usize> = (0..2).filter(|&i| pipes[i].is_some()).collect();
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .filter_map(|&i| pipes[i].as_ref())
                .map(|fd| PollFd::new(fd, PollFlags::IN))
                .collect();
            let ts = Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            match poll(&mut fds, Some(&ts)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(GitError::Failed(format!("poll: {e}"))),
            }
            fds.iter().map(|f| !f.revents().is_empty()).collect()
        };
        for (k, &i) in open.iter().enumerate() {
            if !ready[k] {
                continue;
            }
            let Some(fd) = pipes[i].as_ref() else {
                continue;
            };
            match rustix::io::read(fd, &mut chunk[..]) {
                Ok(0) => pipes[i] = None,
                Ok(n) => {
                    let room = caps[i].saturating_sub(bufs[i].len());
                    bufs[i].extend_from_slice(&chunk[..n.min(room)]);
                    if n > room && i == 0 {
                        return Ok((
                            std::mem::take(&mut bufs[0]),
                            std::mem::take(&mut bufs[1]),
                            true,
                        ));
                    }
                }
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(e) => return Err(GitError::Failed(format!("read: {e}"))),
            }
        }
    }
    let [o, e] = bufs;
    Ok((o, e, false))
}

/// `git status --porcelain=v2 --branch -z` as the Changes sheet wants it.
fn parse_status(raw: &[u8], truncated: bool) -> Value {
    let text = String::from_utf8_lossy(raw);
    let mut records = text.split('\0');
    let (mut branch, mut upstream, mut oid) = (Value::Null, Value::Null, Value::Null);
    let (mut ahead, mut behind) = (0i64, 0i64);
    let (mut staged, mut unstaged, mut untracked, mut conflicted) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut entry = |xy: &str, path: &str, from: Option<&str>| {
        let mut chars = xy.chars();
        let (x, y) = (chars.next().unwrap_or('.'), chars.next().unwrap_or('.'));
        let item = |c: char| {
            let mut v = json!({"path": path, "status": c.to_string()});
            if let Some(f) = from {
                v["from"] = Value::from(f);
            }
            v
        };
        if x != '.' {
            staged.push(item(x));
        }
        if y != '.' {
            unstaged.push(item(y));
        }
    };
    while let Some(rec) = records.next() {
        if let Some(h) = rec.strip_prefix("# ") {
            let (key, val) = h.split_once(' ').unwrap_or((h, ""));
            match key {
                "branch.oid" if val != "(initial)" => oid = Value::from(val),
                "branch.head" => branch = Value::from(val),
                "branch.upstream" => upstream = Value::from(val),
                "branch.ab" => {
                    for part in val.split(' ') {
                        if let Some(n) = part.strip_prefix('+') {
                            ahead = n.parse().unwrap_or(0);
                        } else if let Some(n) = part.strip_prefix('-') {
                            behind = n.parse().unwrap_or(0);
                        }
                    }
                }
                _ => {}
            }
        } else if let Some(rest) = rec.strip_prefix("1 ") {
            let f: Vec<&str> = rest.splitn(8, ' ').collect();
            if let (Some(xy), Some(path)) = (f.first(), f.get(7)) {
                entry(xy, path, None);
            }
        } else if let Some(rest) = rec.strip_prefix("2 ") {
            let f: Vec<&str> = rest.splitn(9, ' ').collect();
            let from = records.next();
            if let (Some(xy), Some(path)) = (f.first(), f.get(8)) {
                entry(xy, path, from);
            }
        } else if let Some(rest) = rec.strip_prefix("u ") {
            let f: Vec<&str> = rest.splitn(10, ' ').collect();
            if let (Some(xy), Some(path)) = (f.first(), f.get(9)) {
                conflicted.push(json!({"path": path, "status": xy}));
            }
        } else if let Some(path) = rec.strip_prefix("? ") {
            untracked.push(Value::from(path));
        }
    }
    json!({
        "repo": true,
        "branch": branch,
        "commit": oid,
        "upstream": upstream,
        "ahead": ahead,
        "behind": behind,
        "staged": staged,
        "unstaged": unstaged,
        "untracked": untracked,
        "conflicted": conflicted,
        "truncated": truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in `git` that runs `script`, in a directory of its own.
    fn fake(tag: &str, script: &str, timeout: Duration) -> (Git, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("homeclaude-git-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("git");
        std::fs::write(&program, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let git = Git {
            workdir: dir.clone(),
            timeout,
            program,
        };
        (git, dir)
    }

    #[test]
    fn a_slow_git_is_killed_at_the_deadline_with_its_group() {
        // The child sleep holds the pipe open: only killing the group ends it.
        let (git, dir) = fake(
            "slow",
            "echo $$ > pid; sleep 30 & sleep 30",
            Duration::from_secs(1),
        );
        let started = Instant::now();
        let result = git.status();
        let took = started.elapsed();
        let pgid = std::fs::read_to_string(dir.join("pid")).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(result, Err(GitError::Timeout));
        assert!(took < Duration::from_secs(5), "{took:?}");
        let pgid: i32 = pgid.trim().parse().unwrap();
        // Every process of the group was sent SIGKILL; the one we reaped is gone and
        // the background sleep is at most a zombie waiting for init, once the kill
        // has taken effect (a moment after `kill` returns: waited for, bounded).
        let alive = || {
            std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
                std::fs::read_to_string(e.path().join("stat")).is_ok_and(|stat| {
                    let rest = &stat[stat.rfind(')').unwrap() + 1..];
                    let f: Vec<&str> = rest.split_whitespace().collect();
                    f.get(2) == Some(&pgid.to_string().as_str()) && f[0] != "Z"
                })
            })
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(), "a process of git's group survived");
    }

    #[test]
    fn a_huge_diff_is_cut_at_the_cap() {
        let (git, dir) = fake("huge", "yes 0123456789 | head -c 5000000", TIMEOUT);
        let v = git.diff(None, false).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(v["truncated"], true);
        assert_eq!(v["diff"].as_str().unwrap().len(), MAX_DIFF);
    }

    #[test]
    fn parses_porcelain_v2() {
        let raw = "# branch.oid 1234\0# branch.head main\0# branch.upstream origin/main\0\
                   # branch.ab +2 -1\0\
                   1 M. N... 100644 100644 100644 aaa bbb staged file.txt\0\
                   1 .M N... 100644 100644 100644 aaa bbb b.txt\0\
                   2 R. N... 100644 100644 100644 aaa bbb R100 new name.txt\0old.txt\0\
                   u UU N... 100644 100644 100644 100644 a b c both.txt\0\
                   ? 새 파일.txt\0";
        let v = parse_status(raw.as_bytes(), false);
        assert_eq!(v["branch"], "main");
        assert_eq!(v["upstream"], "origin/main");
        assert_eq!(
            (v["ahead"].as_i64(), v["behind"].as_i64()),
            (Some(2), Some(1))
        );
        assert_eq!(
            v["staged"],
            json!([{"path":"staged file.txt","status":"M"},
                   {"path":"new name.txt","status":"R","from":"old.txt"}])
        );
        assert_eq!(v["unstaged"], json!([{"path":"b.txt","status":"M"}]));
        assert_eq!(v["untracked"], json!(["새 파일.txt"]));
        assert_eq!(v["conflicted"][0]["path"], "both.txt");
    }
}
