//! No `claude` outlives the server for long: each running child is recorded in the
//! data dir, and the next start kills a recorded one that is still there.
//!
//! The server kills its run's process group on every way out it sees (stop, timeout,
//! SIGTERM, a panic). It cannot when it is killed itself (`kill -9`, the OOM killer)
//! outside systemd, whose `KillMode=control-group` would end the child with it. The
//! kernel's own answers need code in the child before `exec` (`PR_SET_PDEATHSIG`),
//! which `#![forbid(unsafe_code)]` rules out, or a subreaper, which only helps while
//! the server lives. So each child's pid and kernel start time go to
//! `<data dir>/children/<pid>` when it starts and are removed when it is reaped; at
//! start-up, a file left behind names an orphan. It is killed (its whole process
//! group) only if it is still that very process (same start time, so not a reused
//! pid), still leads its own group, runs as this user, and looks like a run
//! (`stream-json` in its command line). docs/SECURITY.md says what remains (a tool
//! that left the group with `setsid`).

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, Signal};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

/// The directory of records, set once at start-up by [`sweep`].
static DIR: OnceLock<PathBuf> = OnceLock::new();

/// How long an orphan gets to exit after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);

fn dir_of(data_dir: &Path) -> PathBuf {
    data_dir.join("children")
}

/// A process as `/proc/<pid>/stat` describes it.
struct Stat {
    pgid: u32,
    /// Clock ticks after boot: with the pid, names one process for good.
    start: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields are
    // counted from the last `)`. After it: state (3), ppid (4), pgrp (5) ... starttime (22).
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        pgid: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Records a child just started (called by the runner).
pub fn spawned(pid: u32) {
    record(pid, "");
}

/// Records a shell command just started (`crate::shell`): its `sh` may have
/// exec'd the command, so its command line says nothing; start time, group and
/// user still name it.
pub fn spawned_shell(pid: u32) {
    record(pid, " shell");
}

fn record(pid: u32, kind: &str) {
    let Some(dir) = DIR.get() else { return };
    let Some(stat) = stat(pid) else { return };
    if let Err(e) = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join(pid.to_string()), format!("{}{kind}\n", stat.start)))
    {
        log::warn!("cannot record child pid {pid} in {}: {e}", dir.display());
    }
}

/// Forgets a child that has been reaped (called by the runner).
pub fn reaped(pid: u32) {
    if let Some(dir) = DIR.get() {
        let _ = std::fs::remove_file(dir.join(pid.to_string()));
    }
}

/// At start-up: kills what earlier runs of this server left running, then records
/// from here on. Returns how many process groups were killed.
pub fn sweep(data_dir: &Path) -> usize {
    let dir = dir_of(data_dir);
    let _ = DIR.set(dir.clone());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut killed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let recorded = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
            .zip(std::fs::read_to_string(&path).ok().and_then(|t| {
                let mut words = t.split_whitespace();
                let start = words.next()?.parse::<u64>().ok()?;
                Some((start, words.next() == Some("shell")))
            }));
        if let Some((pid, (start, shell))) = recorded
            && is_our_orphan(pid, start, shell)
        {
            log::warn!(
                "claude (pid {pid}) from before the last restart is still running; ending \
                 its process group"
            );
            end_group(pid);
            killed += 1;
        }
        let _ = std::fs::remove_file(&path);
    }
    killed
}

/// Whether `pid` is still the run recorded with `start`, leading its own group,
/// owned by this user and started with stream-json arguments (a shell command:
/// any command line).
fn is_our_orphan(pid: u32, start: u64, shell: bool) -> bool {
    let Some(now) = stat(pid) else {
        return false;
    };
    let ours = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|uids| uids.split_whitespace().next()?.parse::<u32>().ok())
        })
        == Some(rustix::process::getuid().as_raw());
    let looks_like_a_run = shell
        || std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == b"stream-json"));
    now.start == start && now.pgid == pid && ours && looks_like_a_run
}

/// SIGTERM to the group, SIGKILL if its leader is still there after [`TERM_GRACE`].
fn end_group(pid: u32) {
    let Some(leader) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    // Opened before the signal: a pidfd names this process even if the pid is
    // reused later, and becomes readable when it exits.
    let pidfd = rustix::process::pidfd_open(leader, PidfdFlags::empty()).ok();
    let _ = rustix::process::kill_process_group(leader, Signal::TERM);
    let exited = pidfd.as_ref().is_some_and(|fd| {
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        let timeout = Timespec {
            tv_sec: TERM_GRACE.as_secs() as i64,
            tv_nsec: 0,
        };
        matches!(poll(&mut fds, Some(&timeout)), Ok(n) if n > 0)
    });
    // Whatever is left of the group (the leader, or tools it started) goes now.
    let _ = rustix::process::kill_process_group(leader, Signal::KILL);
    if !exited {
        log::warn!("claude (pid {pid}) ignored SIGTERM; killed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_reads_back_but_is_not_a_run() {
        let me = std::process::id();
        let s = stat(me).expect("our own stat");
        assert!(s.start > 0);
        // Same start time, but no stream-json argument and not a group leader of a
        // run: never killed.
        assert!(!is_our_orphan(me, s.start, false));
        assert!(!is_our_orphan(me, s.start + 1, false));
        // Not a group leader: not even as a shell record.
        if s.pgid != me {
            assert!(!is_our_orphan(me, s.start, true));
        }
        assert!(stat(u32::MAX).is_none());
    }
}
