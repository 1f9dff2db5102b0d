//! Shell commands from the page (`shell` frames, `!cmd` in the chat box): `sh -c` in
//! the workdir, its output streamed to every browser.
//!
//! A command is not a terminal: stdin is closed, there is no pty. It runs in its own
//! process group with the server's environment minus its secrets ([`is_secret`]),
//! recorded in `<data dir>/children/` like a run (`crate::orphans`), so a killed
//! server's leftovers end at the next start. The hub never spawns, reads or waits:
//! the `shell-launcher` thread starts each command and three threads per command do
//! the rest, reporting to the hub by message ([`ShellOutput`]):
//!
//! - `sh<N>-io` polls stdout and stderr in one loop (so `echo out; echo err >&2`
//!   arrives in order), reads bounded chunks and decides what is kept: the first
//!   [`KEEP_HEAD`] bytes go on, then only the last [`KEEP_TAIL`] bytes are held and
//!   the rest counted, so a 50 MB printer costs a few hundred kilobytes;
//! - `sh<N>-wait` learns that `sh` exited without reaping it (the group id stays
//!   ours while the leftovers of the group are killed);
//! - `sh<N>-supervisor` coalesces output into frames (at most one per stream per
//!   flush), at most one every [`FRAME_EVERY`] on average (20 a second), runs the stop ladder (SIGINT, SIGTERM, SIGKILL to the group,
//!   the runner's [`StopGrace`]) on `shell_stop` or the time limit, kills whatever is
//!   left of the group when `sh` exits, reaps it and reports the exit last.

use crate::auth::Role;
use crate::child;
use crate::runner::StopGrace;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::Signal;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes of a command's output sent (and kept in history) from its start.
pub const KEEP_HEAD: usize = 256 << 10;
/// Bytes of its end kept once the head is full, sent when it exits.
pub const KEEP_TAIL: usize = 64 << 10;
/// One read from a pipe.
const READ_CHUNK: usize = 64 << 10;
/// A command's frames are paced to one per this on average: after a flush of `n`
/// frames the next waits `n` times this (20 frames a second).
pub const FRAME_EVERY: Duration = Duration::from_millis(50);
/// After `sh` exited, how long its pipes may stay open (a `setsid` escapee).
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// After SIGKILL, how long before waiting on without a deadline.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// The shell every command runs in.
const SH: &str = "/bin/sh";

/// Who may start or stop a command (and read the git views): the one place the
/// decision is made, so a new role is mapped here.
pub fn allowed(role: Role) -> bool {
    role.may(
        crate::permissions::Action::Shell,
        crate::permissions::Policy::default(),
    )
    .is_ok()
}

/// How commands run; built by `main` from the configuration.
#[derive(Debug, Clone)]
pub struct ShellConfig {
    pub workdir: PathBuf,
    /// `--shell-timeout`: a command still running after this is stopped.
    pub timeout: Duration,
    pub grace: StopGrace,
    /// Commands that may run at once.
    pub max_running: usize,
    /// The nice value commands (and their threads) run at: `--claude-nice`, so a
    /// busy command never delays what the server sends to the phones.
    pub nice: i32,
}

impl Default for ShellConfig {
    fn default() -> ShellConfig {
        ShellConfig {
            workdir: PathBuf::from("."),
            timeout: Duration::from_secs(10 * 60),
            grace: StopGrace::default(),
            max_running: 4,
            nice: 10,
        }
    }
}

/// Which pipe output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// What a command reports to the hub, in order; `Exit` last.
#[derive(Debug, Clone, PartialEq)]
pub enum ShellOutput {
    Output {
        id: u64,
        stream: Stream,
        data: String,
        /// Bytes left out just before this chunk (the middle of a long output).
        omitted: u64,
    },
    Exit {
        id: u64,
        code: Option<i32>,
        signal: Option<String>,
        duration: Duration,
        /// Bytes of output left out in all.
        omitted: u64,
        timed_out: bool,
    },
}

/// Where a command's outputs go (the hub's channel).
pub type Out = Arc<dyn Fn(ShellOutput) + Send + Sync>;

/// The hub's handle on one command; sending never blocks.
#[derive(Debug)]
pub struct ShellHandle {
    tx: Sender<Ev>,
}

impl ShellHandle {
    /// Starts the stop ladder (SIGINT first).
    pub fn stop(&self) {
        let _ = self.tx.send(Ev::Stop);
    }

    /// Server shutdown: SIGKILL to the group now.
    pub fn kill(&self) {
        let _ = self.tx.send(Ev::Kill);
    }
}

/// Everything a command's supervisor reacts to.
#[derive(Debug)]
enum Ev {
    Data(Stream, Vec<u8>),
    /// The kept end of a long output, after `omitted` bytes left out.
    Tail {
        omitted: u64,
        chunks: Chunks,
    },
    PipesClosed,
    Exited,
    Stop,
    Kill,
}

struct Job {
    config: ShellConfig,
    id: u64,
    command: String,
    out: Out,
    events: (Sender<Ev>, Receiver<Ev>),
}

/// The hub's side of the `shell-launcher` thread.
pub struct Launcher {
    tx: Sender<Job>,
}

impl Launcher {
    /// Starts the thread; everything it starts runs at `nice` (see
    /// `crate::launcher`: a thread's nice value is inherited by what it creates).
    pub fn spawn(nice: i32) -> std::io::Result<Launcher> {
        let (tx, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("shell-launcher".into())
            .stack_size(256 << 10)
            .spawn(move || {
                if nice != 0
                    && let Err(e) = rustix::process::setpriority_process(None, nice)
                {
                    log::warn!("shell launcher: cannot lower the priority to nice {nice}: {e}");
                }
                for job in rx {
                    start(job);
                }
            })?;
        Ok(Launcher { tx })
    }

    /// Asks for `command` to be started as command `id`; the handle works at once
    /// (a stop sent before the process exists is acted on when it does).
    pub fn start(&self, config: ShellConfig, id: u64, command: String, out: Out) -> ShellHandle {
        let (tx, rx) = mpsc::channel();
        let handle = ShellHandle { tx: tx.clone() };
        if let Err(mpsc::SendError(job)) = self.tx.send(Job {
            config,
            id,
            command,
            out,
            events: (tx, rx),
        }) {
            not_started(&job.out, id, "the shell launcher thread is gone");
        }
        handle
    }
}

/// Reports a command that never ran: its error on stderr, then an exit.
fn not_started(out: &Out, id: u64, why: &str) {
    out(ShellOutput::Output {
        id,
        stream: Stream::Stderr,
        data: format!("homeclaude: cannot run the command: {why}\n"),
        omitted: 0,
    });
    out(ShellOutput::Exit {
        id,
        code: None,
        signal: None,
        duration: Duration::ZERO,
        omitted: 0,
        timed_out: false,
    });
}

/// Environment variables a command must not see: the server's own settings and
/// secrets (`HOMECLAUDE_*`: token, password hash, bridge tokens), systemd's notify
/// socket and watchdog (a child writing there would speak for the server), and
/// anything named like a credential. A command's output is broadcast to viewers
/// too, so `env` must not show them a secret.
pub fn is_secret(name: &OsStr) -> bool {
    let name = name.to_string_lossy().to_ascii_uppercase();
    const SUBSTRINGS: &[&str] = &[
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "CREDENTIAL",
        "PRIVATE_KEY",
    ];
    name.starts_with("HOMECLAUDE_")
        || matches!(
            name.as_str(),
            "NOTIFY_SOCKET" | "WATCHDOG_PID" | "WATCHDOG_USEC" | "LISTEN_FDS" | "LISTEN_PID"
        )
        || SUBSTRINGS.iter().any(|s| name.contains(s))
}

/// On the launcher thread: spawns `sh -c` and the command's threads.
fn start(job: Job) {
    let Job {
        config,
        id,
        command,
        out,
        events: (tx, rx),
    } = job;
    let mut cmd = Command::new(SH);
    cmd.arg("-c")
        .arg(&command)
        .current_dir(&config.workdir)
        // Its own group, so a stop reaches everything it started.
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars_os() {
        if is_secret(&name) {
            cmd.env_remove(&name);
        }
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            log::warn!("shell {id}: cannot start {SH}: {e}");
            not_started(&out, id, &e.to_string());
            return;
        }
    };
    let pid = child.id();
    crate::orphans::spawned_shell(pid);
    log::info!("shell {id}: started `{command}` (pid {pid})");
    let pipes = match (child.stdout.take(), child.stderr.take()) {
        (Some(o), Some(e)) => Some((OwnedFd::from(o), OwnedFd::from(e))),
        _ => None,
    };
    let mut guard = Guard {
        child,
        pid,
        reaped: false,
    };
    let Some((stdout, stderr)) = pipes else {
        not_started(&out, id, "a pipe was not set up");
        guard.kill_and_reap();
        return;
    };
    let spawned = spawn_thread(format!("sh{id}-io"), {
        let tx = tx.clone();
        move || pump(stdout, stderr, tx)
    })
    .and_then(|_| {
        spawn_thread(format!("sh{id}-wait"), {
            let tx = tx.clone();
            move || {
                if let Err(e) = child::wait_exited(pid) {
                    log::error!("shell {id}: waiting for sh failed: {e}");
                }
                let _ = tx.send(Ev::Exited);
            }
        })
    });
    if let Err(e) = spawned {
        not_started(&out, id, &format!("cannot start its threads: {e}"));
        guard.kill_and_reap();
        return;
    }
    drop(tx);
    let supervisor = Supervisor {
        id,
        guard,
        out: out.clone(),
        timeout: config.timeout,
        grace: config.grace,
        started: Instant::now(),
        pending: Vec::new(),
        carry: [Vec::new(), Vec::new()],
        next_flush: None,
        exit_sent: false,
    };
    if let Err(e) = spawn_thread(format!("sh{id}-supervisor"), move || supervisor.run(rx)) {
        // The supervisor (and with it the guard) was dropped: the group is killed
        // and reaped; say so.
        not_started(&out, id, &format!("cannot start its supervisor: {e}"));
    }
}

fn spawn_thread(
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name(name)
        .stack_size(128 << 10)
        .spawn(f)
}

/// Owns `sh`: however the supervisor ends, a panic included, the group is killed
/// and `sh` reaped.
struct Guard {
    child: Child,
    pid: u32,
    reaped: bool,
}

impl Guard {
    fn signal(&self, sig: Signal) {
        if !self.reaped
            && let Err(e) = child::signal_group(self.pid, sig)
        {
            log::debug!("signal to shell group {}: {e}", self.pid);
        }
    }

    fn reap(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.reaped = true;
        let status = self.child.wait();
        crate::orphans::reaped(self.pid);
        status
    }

    fn kill_and_reap(&mut self) {
        self.signal(Signal::KILL);
        let _ = self.reap();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_and_reap();
        }
    }
}

/// Pieces of output in their order.
type Chunks = Vec<(Stream, Vec<u8>)>;

/// What is kept of one command's output: the head goes on at once, then a ring of
/// the last bytes; everything between is only counted.
struct Keep {
    head_left: usize,
    tail: std::collections::VecDeque<(Stream, Vec<u8>)>,
    tail_len: usize,
    omitted: u64,
}

impl Keep {
    fn new() -> Keep {
        Keep {
            head_left: KEEP_HEAD,
            tail: std::collections::VecDeque::new(),
            tail_len: 0,
            omitted: 0,
        }
    }

    /// Takes one read; returns the part to send now.
    fn take<'a>(&mut self, stream: Stream, bytes: &'a [u8]) -> &'a [u8] {
        let now = bytes.len().min(self.head_left);
        self.head_left -= now;
        let rest = &bytes[now..];
        if !rest.is_empty() {
            self.tail.push_back((stream, rest.to_vec()));
            self.tail_len += rest.len();
            while self.tail_len > KEEP_TAIL {
                let over = self.tail_len - KEEP_TAIL;
                let Some((_, front)) = self.tail.front_mut() else {
                    break;
                };
                if front.len() <= over {
                    self.tail_len -= front.len();
                    self.omitted += front.len() as u64;
                    self.tail.pop_front();
                } else {
                    front.drain(..over);
                    self.tail_len -= over;
                    self.omitted += over as u64;
                }
            }
        }
        &bytes[..now]
    }

    /// The tail, starting at a line if one starts near its beginning.
    fn finish(mut self) -> Option<(u64, Chunks)> {
        if self.omitted == 0 && self.tail.is_empty() {
            return None;
        }
        if self.omitted > 0
            && let Some((_, front)) = self.tail.front_mut()
            && let Some(nl) = front.iter().take(4096).position(|&b| b == b'\n')
        {
            front.drain(..=nl);
            self.omitted += nl as u64 + 1;
        }
        Some((self.omitted, self.tail.into()))
    }
}

/// `sh<N>-io`: reads both pipes in one poll loop, stdout first when both are ready,
/// in bounded chunks, until both are closed.
fn pump(stdout: OwnedFd, stderr: OwnedFd, tx: Sender<Ev>) {
    let mut pipes = [
        (Stream::Stdout, Some(stdout)),
        (Stream::Stderr, Some(stderr)),
    ];
    let mut keep = Keep::new();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let open: Vec<usize> = (0..2).filter(|&i| pipes[i].1.is_some()).collect();
        if open.is_empty() {
            break;
        }
        let ready = {
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .filter_map(|&i| pipes[i].1.as_ref())
                .map(|fd| PollFd::new(fd, PollFlags::IN))
                .collect();
            match poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    log::warn!("shell output: poll failed: {e}");
                    break;
                }
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            ready
        };
        for (k, &i) in open.iter().enumerate() {
            if !ready[k] {
                continue;
            }
            let (stream, fd) = &mut pipes[i];
            let Some(owned) = fd.as_ref() else { continue };
            match rustix::io::read(owned, &mut buf[..]) {
                Ok(0) => *fd = None,
                Ok(n) => {
                    let now = keep.take(*stream, &buf[..n]);
                    if !now.is_empty() && tx.send(Ev::Data(*stream, now.to_vec())).is_err() {
                        return;
                    }
                }
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(e) => {
                    log::warn!("shell output: read failed: {e}");
                    *fd = None;
                }
            }
        }
    }
    if let Some((omitted, chunks)) = keep.finish() {
        let _ = tx.send(Ev::Tail { omitted, chunks });
    }
    let _ = tx.send(Ev::PipesClosed);
}

/// Where a stop has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Sigint,
    Sigterm,
    Sigkill,
}

struct Supervisor {
    id: u64,
    guard: Guard,
    out: Out,
    timeout: Duration,
    grace: StopGrace,
    started: Instant,
    /// Output not yet sent, consecutive reads of one stream merged.
    pending: Chunks,
    /// An incomplete UTF-8 sequence at the end of the last chunk, per stream.
    carry: [Vec<u8>; 2],
    /// When the next flush may go (`None`: now).
    next_flush: Option<Instant>,
    /// `Exit` was reported; until then a drop (a panic) reports one, so the hub
    /// never counts a command as running for good.
    exit_sent: bool,
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if !self.exit_sent {
            log::error!(
                "shell {}: its supervisor ended without an exit; reporting one",
                self.id
            );
            (self.out)(ShellOutput::Exit {
                id: self.id,
                code: None,
                signal: None,
                duration: self.started.elapsed(),
                omitted: 0,
                timed_out: false,
            });
        }
    }
}

impl Supervisor {
    fn run(mut self, events: Receiver<Ev>) {
        let deadline = self.started + self.timeout;
        let mut stop: Option<(Step, Option<Instant>)> = None;
        let mut timed_out = false;
        let mut exited_at: Option<Instant> = None;
        let mut pipes_open = true;
        let mut omitted = 0u64;
        loop {
            if exited_at.is_some() && !pipes_open {
                break;
            }
            let flush_at =
                (!self.pending.is_empty()).then(|| self.next_flush.unwrap_or_else(Instant::now));
            let control_at = match (exited_at, stop) {
                (Some(at), _) => Some(at + PIPE_GRACE),
                (None, Some((_, at))) => at,
                (None, None) => Some(deadline),
            };
            let wake = [flush_at, control_at].into_iter().flatten().min();
            let event = match wake {
                Some(at) => {
                    match events.recv_timeout(at.saturating_duration_since(Instant::now())) {
                        Ok(ev) => Some(ev),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => events.recv().ok(),
            };
            match event {
                Some(Ev::Data(stream, bytes)) => {
                    match self.pending.last_mut() {
                        Some((s, b)) if *s == stream => b.extend_from_slice(&bytes),
                        _ => self.pending.push((stream, bytes)),
                    }
                    if self.next_flush.is_none_or(|t| t <= Instant::now()) {
                        self.flush(0);
                    }
                }
                Some(Ev::Tail {
                    omitted: left_out,
                    chunks,
                }) => {
                    self.flush(0);
                    omitted = left_out;
                    self.pending = chunks;
                    self.flush(left_out);
                }
                Some(Ev::PipesClosed) => pipes_open = false,
                Some(Ev::Exited) => {
                    exited_at = Some(Instant::now());
                    // The leader is a zombie, so the group id is still ours:
                    // nothing it started outlives it.
                    self.guard.signal(Signal::KILL);
                }
                Some(Ev::Stop) => {
                    if exited_at.is_none() && stop.is_none() {
                        log::info!("shell {}: stopping on request", self.id);
                        stop = Some(self.escalate(None));
                    }
                }
                Some(Ev::Kill) => {
                    self.guard.signal(Signal::KILL);
                    stop = Some((Step::Sigkill, Some(Instant::now() + KILL_GRACE)));
                }
                None => {
                    let now = Instant::now();
                    if flush_at.is_some_and(|t| t <= now) {
                        self.flush(0);
                    }
                    if control_at.is_some_and(|t| t <= now) {
                        if exited_at.is_some() {
                            log::warn!(
                                "shell {}: sh exited but its output is still open after \
                                 {PIPE_GRACE:?}; not waiting for it",
                                self.id
                            );
                            break;
                        }
                        if stop.is_none() {
                            timed_out = true;
                            log::warn!("shell {}: stopping, it went past its time limit", self.id);
                        }
                        stop = Some(self.escalate(stop.map(|(s, _)| s)));
                    }
                }
            }
        }
        let status = self.guard.reap();
        self.flush(0);
        self.flush_carry();
        let (code, signal) = match status {
            Ok(s) => (s.code(), s.signal().map(signal_name)),
            Err(e) => {
                log::error!("shell {}: reaping sh failed: {e}", self.id);
                (None, None)
            }
        };
        let duration = self.started.elapsed();
        log::info!(
            "shell {}: exited (code {code:?}, signal {signal:?}) after {:.1} s",
            self.id,
            duration.as_secs_f64()
        );
        self.exit_sent = true;
        (self.out)(ShellOutput::Exit {
            id: self.id,
            code,
            signal,
            duration,
            omitted,
            timed_out,
        });
    }

    /// The next step of the ladder after `step` (`None`: the first).
    fn escalate(&mut self, step: Option<Step>) -> (Step, Option<Instant>) {
        let now = Instant::now();
        let (next, sig, grace) = match step {
            None => (Step::Sigint, Signal::INT, self.grace.sigint),
            Some(Step::Sigint) => (Step::Sigterm, Signal::TERM, self.grace.sigterm),
            Some(Step::Sigterm) => (Step::Sigkill, Signal::KILL, KILL_GRACE),
            Some(Step::Sigkill) => {
                log::error!(
                    "shell {}: sh (pid {}) is still there after SIGKILL; waiting on",
                    self.id,
                    self.guard.pid
                );
                return (Step::Sigkill, None);
            }
        };
        log::info!(
            "shell {}: {} to its process group",
            self.id,
            signal_name(sig.as_raw())
        );
        self.guard.signal(sig);
        (next, Some(now + grace))
    }

    /// Sends what is pending: at most one frame per stream, in the order the
    /// streams first wrote (each stream's own order is kept; how the two
    /// interleave within one flush is not, as pipes cannot tell it exactly
    /// anyway). The first frame carries `omitted`. The next flush waits
    /// [`FRAME_EVERY`] per frame sent.
    fn flush(&mut self, omitted: u64) {
        let mut omitted = omitted;
        let mut frames = 0u32;
        let mut grouped: Vec<(Stream, Vec<u8>)> = Vec::with_capacity(2);
        for (stream, bytes) in std::mem::take(&mut self.pending) {
            match grouped.iter_mut().find(|(s, _)| *s == stream) {
                Some((_, b)) => b.extend_from_slice(&bytes),
                None => grouped.push((stream, bytes)),
            }
        }
        for (stream, bytes) in grouped {
            let carry = &mut self.carry[stream as usize];
            let data = decode(carry, bytes);
            if data.is_empty() && omitted == 0 {
                continue;
            }
            (self.out)(ShellOutput::Output {
                id: self.id,
                stream,
                data,
                omitted,
            });
            omitted = 0;
            frames += 1;
        }
        self.next_flush = Some(Instant::now() + FRAME_EVERY * frames.max(1));
    }

    /// At the end: a last incomplete character, as U+FFFD.
    fn flush_carry(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.carry[stream as usize]);
            if !rest.is_empty() {
                (self.out)(ShellOutput::Output {
                    id: self.id,
                    stream,
                    data: String::from_utf8_lossy(&rest).into_owned(),
                    omitted: 0,
                });
            }
        }
    }
}

/// `carry` + `bytes` as text; an incomplete UTF-8 sequence at the end waits in
/// `carry` for the next chunk, anything else invalid becomes U+FFFD.
fn decode(carry: &mut Vec<u8>, bytes: Vec<u8>) -> String {
    let mut all = std::mem::take(carry);
    all.extend_from_slice(&bytes);
    let cut = match std::str::from_utf8(&all) {
        Ok(_) => all.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => {
            // Invalid inside: find the last incomplete sequence by hand.
            let tail_start = all.len().saturating_sub(3);
            (tail_start..all.len())
                .find(|&i| {
                    let b = all[i];
                    b >= 0xC0
                        && std::str::from_utf8(&all[i..]).is_err_and(|e| e.error_len().is_none())
                })
                .unwrap_or(all.len())
        }
    };
    *carry = all[cut..].to_vec();
    all.truncate(cut);
    match String::from_utf8(all) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// `SIGTERM` and friends, by number.
fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return format!("SIG{sig}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised() {
        for name in [
            "HOMECLAUDE_TOKEN",
            "HOMECLAUDE_PASSWORD_HASH",
            "HOMECLAUDE_NTFY_TOKEN",
            "homeclaude_listen",
            "GITHUB_TOKEN",
            "ANTHROPIC_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "NOTIFY_SOCKET",
            "DB_PASSWORD",
        ] {
            assert!(is_secret(OsStr::new(name)), "{name}");
        }
        for name in ["PATH", "HOME", "LANG", "TERM", "USER", "CLAUDE_CONFIG_DIR"] {
            assert!(!is_secret(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn utf8_split_across_chunks_is_joined() {
        let text = "가나다 ok";
        let bytes = text.as_bytes();
        let mut carry = Vec::new();
        let mut got = String::new();
        for chunk in bytes.chunks(2) {
            got.push_str(&decode(&mut carry, chunk.to_vec()));
        }
        assert!(carry.is_empty());
        assert_eq!(got, text);
        // Invalid bytes in the middle are replaced, a cut sequence at the end waits.
        let mut carry = Vec::new();
        assert_eq!(decode(&mut carry, b"a\xffb\xea\xb0".to_vec()), "a\u{fffd}b");
        assert_eq!(carry, b"\xea\xb0");
        assert_eq!(decode(&mut carry, b"\x80!".to_vec()), "가!");
    }

    #[test]
    fn keep_sends_the_head_and_holds_the_tail() {
        let mut keep = Keep::new();
        let mut sent = 0;
        let line = vec![b'x'; 999]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        for _ in 0..10_000 {
            sent += keep.take(Stream::Stdout, &line).len();
        }
        assert_eq!(sent, KEEP_HEAD);
        let (omitted, tail) = keep.finish().expect("a tail");
        let tail_len: usize = tail.iter().map(|(_, b)| b.len()).sum();
        assert!(tail_len <= KEEP_TAIL);
        assert_eq!(sent as u64 + omitted + tail_len as u64, 10_000_000);
        // The tail starts at a line.
        assert_eq!(tail[0].1.len() % 1000, 0);
        // A short output has no tail.
        let mut keep = Keep::new();
        assert_eq!(keep.take(Stream::Stderr, b"hi\n"), b"hi\n");
        assert!(keep.finish().is_none());
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(2), "SIGINT");
        assert_eq!(signal_name(40), "SIG40");
    }
}
