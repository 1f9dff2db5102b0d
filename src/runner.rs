//! One prompt, one `claude` process: spawn it, feed it the prompt, turn its output
//! into progress for the hub, stop it on request or timeout, and reap it.
//!
//! Each run is an actor of five named threads (see docs/PROTOCOL_RUNNER.md): a
//! supervisor that owns the child, the translator and the stop logic, plus one
//! thread each for stdout, stderr, stdin and the exit wait, which talk to the
//! supervisor over one channel. All of a run's [`RunnerOutput`]s come from its
//! supervisor, in order, ending with exactly one `Finished`. The runner does not
//! queue prompts or choose sessions; the hub does.

use crate::child::{self, Chunk, Tail};
use crate::protocol::{Progress, excerpt};
use crate::stream_json::{self, Line, ParseError, PermissionAnswer};
use crate::translate::{
    Emit, ExitFacts, ExitKind, StopReason, ToolRequest, Translator, human_duration,
};
use rustix::process::Signal;
use std::fmt;
use std::io::{self, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use crate::translate::Outcome;

/// Longest stdout line read; a longer one is dropped (and logged), the run goes on.
pub const MAX_LINE_BYTES: usize = 8 << 20;
/// stderr lines kept for error messages.
const STDERR_TAIL_LINES: usize = 20;
/// How long to wait for the output pipes to close once the process has exited.
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// After SIGKILL, how long before logging that the process is still there.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// Stack of the threads that parse and translate lines. serde_json recurses once
/// per nesting level (it refuses past 128); the deepest line it accepts needed more
/// than 128 KiB in a debug build, and an overflow aborts the whole server. Only the
/// pages used are ever touched, so 1 MiB costs address space, not memory.
const PARSER_STACK: usize = 1 << 20;
/// Stack of the threads that only move bytes.
const SMALL_STACK: usize = 64 << 10;

/// How to run the CLI; built by the hub from the server's configuration.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// The `claude` executable: a path, or a bare name looked up on `PATH`.
    pub claude: PathBuf,
    /// The project directory the CLI works in.
    pub workdir: PathBuf,
    /// `--model`, when set.
    pub model: Option<String>,
    /// `--permission-mode`: `acceptEdits` unless the operator chose otherwise.
    pub permission_mode: String,
    /// More CLI arguments, appended last.
    pub extra_args: Vec<String>,
    /// A run still going after this long is stopped.
    pub timeout: Duration,
    /// How long each step of a stop waits before the next, harder one.
    pub stop_grace: StopGrace,
    /// The nice value `claude` and its tools run at (0-19), so that on a small box
    /// the CLI's CPU never delays what the server sends to the phones.
    pub nice: i32,
    /// The workdir's files, confined, for attachments (`None`: mentioned by path).
    pub files: Option<std::sync::Arc<crate::files::Files>>,
}

impl Default for RunnerConfig {
    fn default() -> RunnerConfig {
        RunnerConfig {
            claude: PathBuf::from("claude"),
            workdir: PathBuf::from("."),
            model: None,
            permission_mode: "acceptEdits".into(),
            extra_args: Vec::new(),
            timeout: Duration::from_secs(30 * 60),
            stop_grace: StopGrace::default(),
            nice: 10,
            files: None,
        }
    }
}

/// The grace periods of a stop: an interrupt request on stdin, then SIGINT, then
/// SIGTERM to the process group, each given this long before the next; SIGKILL last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopGrace {
    pub interrupt: Duration,
    pub sigint: Duration,
    pub sigterm: Duration,
}

impl Default for StopGrace {
    fn default() -> StopGrace {
        // The CLI answers an interrupt or SIGINT with a clean `result` within a
        // second; SIGTERM makes it exit at once. 5 s in all before SIGKILL.
        StopGrace {
            interrupt: Duration::from_secs(2),
            sigint: Duration::from_secs(2),
            sigterm: Duration::from_secs(1),
        }
    }
}

/// One prompt to run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// The hub's id for this run; every output carries it.
    pub run: u64,
    /// The queued prompt this run answers (sent in the `start` progress).
    pub prompt_id: u64,
    pub username: String,
    pub text: String,
    /// Workdir files attached to the prompt (see [`prompt_line`]).
    pub attachments: Vec<String>,
    pub session: SessionRef,
}

/// Which conversation the prompt belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRef {
    /// A new session with this UUID (`--session-id`); see [`new_session_id`].
    New(String),
    /// Continue the session with this id (`--resume`): the id the previous run's
    /// `Finished` reported.
    Resume(String),
}

/// What a run tells the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum RunnerOutput {
    /// Progress for the browsers.
    Progress { run: u64, progress: Progress },
    /// Claude's final answer to the prompt: a chat message from Claude.
    Answer { run: u64, text: String },
    /// The CLI waits for an answer to this (see [`RunHandle::answer`]).
    Approval { run: u64, request: ToolRequest },
    /// The CLI withdrew an approval request.
    ApprovalCancelled { run: u64, request_id: String },
    /// The session's permission mode changed (the CLI said so).
    PermissionMode { run: u64, mode: String },
    /// The run is over and its process reaped. Always the last output of a run.
    Finished {
        run: u64,
        /// The session id from `system/init`: resume this one next time.
        session_id: Option<String>,
        outcome: Outcome,
    },
}

/// Why a run could not start. Nothing was sent through `out` and no process is
/// left; the hub reports `to_string()` as an `error` progress.
#[derive(Debug)]
pub enum RunError {
    /// There is no such executable (or it is not on `PATH`).
    NotFound { program: PathBuf },
    /// The file exists but may not be executed.
    NotExecutable { program: PathBuf },
    /// The working directory is missing or not a directory.
    Workdir { path: PathBuf, why: String },
    /// Spawning failed for another reason (out of memory, too many processes...).
    Spawn { program: PathBuf, why: io::Error },
    /// A thread for the run could not be started.
    Thread(io::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::NotFound { program } => write!(
                f,
                "The Claude Code CLI ({}) was not found. Install it with \
                 `npm install -g @anthropic-ai/claude-code` (then log in once by running \
                 `claude`), or configure the full path to it.",
                program.display()
            ),
            RunError::NotExecutable { program } => write!(
                f,
                "The Claude Code CLI ({}) cannot be executed: check its permissions.",
                program.display()
            ),
            RunError::Workdir { path, why } => write!(
                f,
                "The working directory {} cannot be used: {why}.",
                path.display()
            ),
            RunError::Spawn { program, why } => {
                write!(f, "Could not start {}: {why}.", program.display())
            }
            RunError::Thread(why) => write!(f, "Could not start a thread for the run: {why}."),
        }
    }
}

impl std::error::Error for RunError {}

/// The hub's hold on a running run.
///
/// Dropping it stops the run (like [`RunHandle::stop`]): keep it until `Finished`.
#[derive(Debug)]
pub struct RunHandle {
    pid: u32,
    events: Sender<Event>,
    supervisor: Option<JoinHandle<()>>,
}

impl RunHandle {
    /// Asks the run to stop and returns at once. The run then ends with `Finished`
    /// and outcome `Stopped` (or `Success` if Claude had already answered).
    pub fn stop(&self) {
        // An error means the run is already over: nothing to stop.
        let _ = self.events.send(Event::Stop);
    }

    /// The process id of `claude`, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Answers the CLI's approval request `request_id` (written to its stdin). A
    /// denial that ends the turn is a stop the person asked for: the run then ends
    /// as stopped (not failed), and the stop's ladder makes sure it does end.
    pub fn answer(&self, request_id: &str, answer: &PermissionAnswer) {
        let line = stream_json::permission_response_line(request_id, answer);
        let event = match answer {
            PermissionAnswer::Deny {
                interrupt: true, ..
            } => Event::DenyAndStop(line),
            _ => Event::Stdin(line),
        };
        let _ = self.events.send(event);
    }

    /// Switches the running session's permission mode.
    pub fn set_mode(&self, mode: &str) {
        let id = format!("homeclaude-mode-{}", self.pid);
        let line = stream_json::set_permission_mode_line(&id, mode);
        let _ = self.events.send(Event::Stdin(line));
    }
}

impl RunHandle {
    /// Ends the run at once (server shutdown): SIGTERM to the process group, no
    /// interrupt and no grace. The supervisor still reaps the child, kills what is
    /// left of its group and reports `Finished`.
    pub fn kill(&self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
        }
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        if self.supervisor.as_ref().is_some_and(|s| !s.is_finished()) {
            self.stop();
        }
    }
}

/// A random UUID (version 4) for `--session-id`.
pub fn new_session_id() -> String {
    let mut b = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut b) {
        // Never seen on Linux; a session id needs to be unique, not secret, so the
        // hasher's per-process random keys and the clock are good enough here.
        log::warn!("no OS randomness for a session id ({e}); using a weaker source");
        use std::hash::{BuildHasher, Hasher};
        for half in b.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The CLI's arguments for a run (the program itself not included).
pub fn command_args(cfg: &RunnerConfig, session: &SessionRef) -> Vec<String> {
    let mut args: Vec<String> = [
        "-p",
        "--output-format",
        "stream-json",
        "--input-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        // Tool approvals, questions and plans come to us as `control_request`s
        // on stdout, answered on stdin, instead of being denied silently.
        "--permission-prompt-tool",
        "stdio",
        "--permission-mode",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(cfg.permission_mode.clone());
    if let Some(model) = &cfg.model {
        args.extend(["--model".to_string(), model.clone()]);
    }
    // One argument each, `--flag=value`: the id can never be read as a flag of its
    // own, whatever it holds ([`start`] also refuses ids of any other shape).
    match session {
        SessionRef::New(id) => args.push(format!("--session-id={id}")),
        SessionRef::Resume(id) => args.push(format!("--resume={id}")),
    }
    args.extend(cfg.extra_args.iter().cloned());
    args
}

/// The prompt as the original server wrote it, so Claude knows who is speaking.
pub fn prompt_text(username: &str, text: &str) -> String {
    format!("[{username}]: {text}")
}

/// The stdin line of a prompt. Attached images (png, jpeg, gif, webp up to
/// [`crate::files::MAX_IMAGE`]) are read here, on the launcher thread, and go as
/// image blocks; other files are named as `@path` mentions, which the CLI expands
/// itself (fixture `stdin_at_file`). An attachment that cannot be read (gone,
/// refused) is named in the text with the reason, so Claude and the user see it.
fn prompt_line(cfg: &RunnerConfig, req: &RunRequest) -> String {
    let mut text = prompt_text(&req.username, &req.text);
    let mut images = Vec::new();
    for rel in &req.attachments {
        let found = match &cfg.files {
            Some(files) => files.attachment(rel),
            None => Ok(None),
        };
        match found {
            Ok(Some((bytes, media))) => images.push((media, bytes)),
            Ok(None) => text.push_str(&format!("\n@{rel}")),
            Err(e) => {
                log::warn!("run {}: attachment {rel:?}: {e}", req.run);
                text.push_str(&format!("\n(attachment {rel} could not be read: {e})"));
            }
        }
    }
    if images.is_empty() {
        stream_json::user_message_line(&text)
    } else {
        stream_json::user_message_line_with_images(&text, &images)
    }
}

/// What the run's threads tell its supervisor.
#[derive(Debug)]
enum Event {
    /// Boxed: a line is large next to the other events.
    Line(Box<Line>),
    BadLine {
        excerpt: String,
        why: ParseError,
    },
    TooLong,
    StdoutClosed,
    StderrClosed(Vec<String>),
    /// The process exited; it stays a zombie until the supervisor reaps it.
    Exited,
    Stop,
    /// A line for the CLI's stdin from the hub (an approval's answer, a mode).
    Stdin(String),
    /// A denial that also ends the turn ("deny and stop"): the line is the
    /// polite first step of a stop the person asked for.
    DenyAndStop(String),
}

/// Starts a run. Its outputs go to `out`, called from the run's supervisor thread.
pub fn start(
    cfg: &RunnerConfig,
    req: RunRequest,
    out: Box<dyn Fn(RunnerOutput) + Send + Sync>,
) -> Result<RunHandle, RunError> {
    match std::fs::metadata(&cfg.workdir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(RunError::Workdir {
                path: cfg.workdir.clone(),
                why: "it is not a directory".into(),
            });
        }
        Err(e) => {
            return Err(RunError::Workdir {
                path: cfg.workdir.clone(),
                why: e.to_string(),
            });
        }
    }
    // A session id reaches argv only in the CLI's UUID shape. The hub's ids come
    // from the CLI's own `init` or from a checked `resume` command; should one not
    // fit, the prompt runs in a new session rather than pass it on.
    let mut req = req;
    if let SessionRef::Resume(id) | SessionRef::New(id) = &req.session
        && !crate::protocol::is_session_id(id)
    {
        log::warn!(
            "run {}: session id {:?} is not a Claude session id; running in a new session",
            req.run,
            excerpt(id, 80)
        );
        req.session = SessionRef::New(new_session_id());
    }
    let args = command_args(cfg, &req.session);
    let mut command = Command::new(&cfg.claude);
    command
        .args(&args)
        .current_dir(&cfg.workdir)
        // Its own process group, so that a stop reaches the tools it started too.
        .process_group(0)
        // systemd's notify socket and watchdog belong to the server alone: a child
        // that wrote to them would speak for the server.
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_PID")
        .env_remove("WATCHDOG_USEC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Checked before spawning as well: the error is then the same everywhere (under
    // an emulator such as qemu-user, spawning a missing program "succeeds" and the
    // child exits 127).
    if crate::child::find_executable(&cfg.claude).is_none() {
        let e = if cfg.claude.exists() {
            RunError::NotExecutable {
                program: cfg.claude.clone(),
            }
        } else {
            RunError::NotFound {
                program: cfg.claude.clone(),
            }
        };
        log::error!("run {}: {e}", req.run);
        return Err(e);
    }
    let spawned = command.spawn().map_err(|why| match why.kind() {
        io::ErrorKind::NotFound => RunError::NotFound {
            program: cfg.claude.clone(),
        },
        io::ErrorKind::PermissionDenied => RunError::NotExecutable {
            program: cfg.claude.clone(),
        },
        _ => RunError::Spawn {
            program: cfg.claude.clone(),
            why,
        },
    });
    let mut child = match spawned {
        Ok(child) => ChildGuard::new(child),
        Err(e) => {
            log::error!("run {}: {e}", req.run);
            return Err(e);
        }
    };
    let pid = child.pid;
    log::info!(
        "run {}: started {} {} (pid {pid}) in {}",
        req.run,
        cfg.claude.display(),
        args.join(" "),
        cfg.workdir.display()
    );
    // From here on, an early return drops `child`, which kills and reaps it.
    let (stdin, stdout, stderr) = child.take_pipes().map_err(|why| RunError::Spawn {
        program: cfg.claude.clone(),
        why,
    })?;
    let (events_tx, events_rx) = mpsc::channel();
    let (stdin_tx, stdin_rx) = mpsc::channel();
    let run = req.run;
    spawn(format!("run{run}-stdout"), PARSER_STACK, {
        let tx = events_tx.clone();
        move || read_stdout(run, stdout, tx)
    })?;
    spawn(format!("run{run}-stderr"), SMALL_STACK, {
        let tx = events_tx.clone();
        move || read_stderr(run, stderr, tx)
    })?;
    spawn(format!("run{run}-stdin"), SMALL_STACK, move || {
        write_stdin(run, stdin, stdin_rx)
    })?;
    spawn(format!("run{run}-wait"), SMALL_STACK, {
        let tx = events_tx.clone();
        move || {
            if let Err(e) = child::wait_exited(pid) {
                log::error!("run {run}: waiting for claude to exit failed: {e}");
            }
            let _ = tx.send(Event::Exited);
        }
    })?;
    let prompt = prompt_line(cfg, &req);
    let supervisor = Supervisor {
        run,
        prompt_id: req.prompt_id,
        resumed: matches!(req.session, SessionRef::Resume(_)),
        child,
        translator: Translator::new(&cfg.workdir),
        stdin: Some(stdin_tx),
        out,
        timeout: cfg.timeout,
        grace: cfg.stop_grace,
        started: Instant::now(),
    };
    let supervisor = spawn(format!("run{run}-supervisor"), PARSER_STACK, move || {
        supervisor.run(prompt, events_rx)
    })?;
    Ok(RunHandle {
        pid,
        events: events_tx,
        supervisor: Some(supervisor),
    })
}

fn spawn<T: Send + 'static>(
    name: String,
    stack: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, RunError> {
    thread::Builder::new()
        .name(name)
        .stack_size(stack)
        .spawn(f)
        .map_err(RunError::Thread)
}

/// Owns the child process: however the supervisor ends, even by a panic, the process
/// group is killed and the child reaped.
struct ChildGuard {
    child: Child,
    pid: u32,
    reaped: bool,
}

impl ChildGuard {
    fn new(child: Child) -> ChildGuard {
        let pid = child.id();
        // Recorded until reaped, so a server killed meanwhile finds it at its next
        // start (crate::orphans).
        crate::orphans::spawned(pid);
        ChildGuard {
            child,
            pid,
            reaped: false,
        }
    }

    fn take_pipes(&mut self) -> io::Result<(ChildStdin, ChildStdout, ChildStderr)> {
        match (
            self.child.stdin.take(),
            self.child.stdout.take(),
            self.child.stderr.take(),
        ) {
            (Some(i), Some(o), Some(e)) => Ok((i, o, e)),
            // Cannot happen with Stdio::piped(); said as an error rather than a panic.
            _ => Err(io::Error::other("a standard stream was not piped")),
        }
    }

    fn signal(&self, sig: Signal) {
        if self.reaped {
            return;
        }
        if let Err(e) = child::signal_group(self.pid, sig) {
            // ESRCH: the whole group is gone already.
            log::debug!("{} to process group {}: {e}", signal_name(sig), self.pid);
        }
    }

    fn reap(&mut self) -> ExitKind {
        self.reaped = true;
        let waited = self.child.wait();
        crate::orphans::reaped(self.pid);
        match waited {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => ExitKind::Code(code),
                (None, Some(sig)) => ExitKind::Signal(sig),
                (None, None) => ExitKind::Code(-1),
            },
            Err(e) => {
                log::error!("reaping claude (pid {}) failed: {e}", self.pid);
                ExitKind::Code(-1)
            }
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal(Signal::KILL);
            self.reap();
        }
    }
}

fn signal_name(sig: Signal) -> &'static str {
    match sig {
        Signal::INT => "SIGINT",
        Signal::TERM => "SIGTERM",
        Signal::KILL => "SIGKILL",
        _ => "a signal",
    }
}

/// Reads stdout, parses each line and hands it to the supervisor. Parsing here
/// keeps the supervisor free to act on a stop while a big line is being read.
fn read_stdout(run: u64, stdout: ChildStdout, tx: Sender<Event>) {
    let result = child::read_lines(stdout, MAX_LINE_BYTES, |chunk| {
        let event = match chunk {
            Chunk::TooLong { bytes } => {
                log::warn!(
                    "run {run}: dropped a line of {bytes} bytes from claude (limit {MAX_LINE_BYTES})"
                );
                Event::TooLong
            }
            Chunk::Line(bytes) => {
                // Lossy: a stray invalid byte costs one character, never the run.
                let text = String::from_utf8_lossy(bytes);
                match stream_json::parse_line(&text) {
                    Ok(line) => Event::Line(Box::new(line)),
                    Err(ParseError::Empty) => return,
                    Err(why) => {
                        let excerpt = excerpt(text.trim(), 200);
                        log::warn!("run {run}: skipped a line from claude ({why}): {excerpt}");
                        Event::BadLine { excerpt, why }
                    }
                }
            }
        };
        let _ = tx.send(event);
    });
    if let Err(e) = result {
        log::warn!("run {run}: reading claude's output failed: {e}");
    }
    let _ = tx.send(Event::StdoutClosed);
}

/// Drains stderr so the child never blocks on it, logs it, and keeps its end.
fn read_stderr(run: u64, stderr: ChildStderr, tx: Sender<Event>) {
    let mut tail = Tail::new(STDERR_TAIL_LINES, 500);
    let result = child::read_lines(stderr, 64 << 10, |chunk| match chunk {
        Chunk::Line(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            log::info!("run {run}: claude stderr: {text}");
            tail.push(&text);
        }
        Chunk::TooLong { bytes } => tail.push(&format!("[a line of {bytes} bytes]")),
    });
    if let Err(e) = result {
        log::warn!("run {run}: reading claude's error output failed: {e}");
    }
    let _ = tx.send(Event::StderrClosed(tail.into_lines()));
}

/// Writes lines to the child's stdin until the supervisor drops its sender, then
/// closes it. Its own thread, so a child that stops reading never blocks a stop.
fn write_stdin(run: u64, mut stdin: ChildStdin, lines: Receiver<String>) {
    for line in lines {
        let written = stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"))
            .and_then(|()| stdin.flush());
        if let Err(e) = written {
            // The child closed its stdin or exited; its exit is reported elsewhere.
            log::debug!("run {run}: writing to claude's stdin failed: {e}");
            return;
        }
    }
}

/// Where a stop has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Interrupt,
    Sigint,
    Sigterm,
    Sigkill,
}

struct Supervisor {
    run: u64,
    prompt_id: u64,
    resumed: bool,
    child: ChildGuard,
    translator: Translator,
    /// Lines for the child's stdin; `None` once closed.
    stdin: Option<Sender<String>>,
    out: Box<dyn Fn(RunnerOutput) + Send + Sync>,
    timeout: Duration,
    grace: StopGrace,
    started: Instant,
}

impl Supervisor {
    fn run(mut self, prompt: String, events: Receiver<Event>) {
        self.progress(Progress::Start {
            prompt_id: self.prompt_id,
        });
        self.send_stdin(prompt);
        let run_deadline = self.started + self.timeout;
        let mut stop: Option<(Step, Option<Instant>)> = None;
        let mut stop_reason: Option<StopReason> = None;
        let mut exited_at: Option<Instant> = None;
        let mut stdout_open = true;
        let mut stderr_tail: Option<Vec<String>> = None;
        loop {
            if exited_at.is_some() && !stdout_open && stderr_tail.is_some() {
                break;
            }
            let deadline = match (exited_at, stop) {
                (Some(at), _) => Some(at + PIPE_GRACE),
                (None, Some((_, deadline))) => deadline,
                (None, None) => Some(run_deadline),
            };
            let event = match deadline {
                Some(deadline) => {
                    match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(event) => Some(event),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match events.recv() {
                    Ok(event) => Some(event),
                    Err(_) => break,
                },
            };
            match event {
                Some(Event::Line(line)) => {
                    for emit in self.translator.line(*line) {
                        self.emit(emit);
                    }
                }
                Some(Event::BadLine { excerpt, why }) => self.translator.bad_line(&excerpt, &why),
                Some(Event::TooLong) => self.translator.dropped_line(),
                Some(Event::StdoutClosed) => stdout_open = false,
                Some(Event::StderrClosed(tail)) => stderr_tail = Some(tail),
                Some(Event::Exited) => {
                    exited_at = Some(Instant::now());
                    self.stdin = None;
                    // The leader is a zombie, so the group id is still ours: whatever
                    // it left running (tools, background shells) goes with it, and
                    // with them the last holders of its output pipes.
                    self.child.signal(Signal::KILL);
                }
                Some(Event::Stdin(line)) => {
                    if !self.send_stdin(line) {
                        log::info!("run {}: an answer came after stdin closed", self.run);
                    }
                }
                Some(Event::Stop) => {
                    if exited_at.is_none() && stop.is_none() {
                        stop_reason = Some(StopReason::Requested);
                        stop = Some(self.begin_stop(StopReason::Requested));
                    }
                }
                Some(Event::DenyAndStop(line)) => {
                    if exited_at.is_none() && stop.is_none() {
                        log::info!("run {}: stopping: a denial ended the turn", self.run);
                        stop_reason = Some(StopReason::Requested);
                        stop = Some(self.begin_stop_with(StopReason::Requested, line));
                    } else {
                        self.send_stdin(line);
                    }
                }
                None if exited_at.is_some() => {
                    log::warn!(
                        "run {}: claude exited but its output is still open after {:?}; \
                         not waiting for it (its reader threads end when it closes)",
                        self.run,
                        PIPE_GRACE
                    );
                    break;
                }
                None => {
                    stop = Some(match stop {
                        None => {
                            let why = StopReason::Timeout(self.timeout);
                            stop_reason = Some(why);
                            self.begin_stop(why)
                        }
                        Some((step, _)) => self.escalate(step),
                    });
                }
            }
        }
        let exit = self.child.reap();
        let finish = self.translator.finish(&ExitFacts {
            exit,
            stderr_tail: stderr_tail.unwrap_or_default(),
            stop: stop_reason,
            resumed: self.resumed,
        });
        if let Some(progress) = finish.progress {
            self.progress(progress);
        }
        log::info!(
            "run {}: finished as {:?} after {:.1} s ({exit:?}), session {:?}",
            self.run,
            finish.outcome,
            self.started.elapsed().as_secs_f64(),
            finish.session_id
        );
        (self.out)(RunnerOutput::Finished {
            run: self.run,
            session_id: finish.session_id,
            outcome: finish.outcome,
        });
    }

    fn emit(&mut self, emit: Emit) {
        match emit {
            Emit::Progress(progress) => self.progress(progress),
            Emit::Answer(text) => (self.out)(RunnerOutput::Answer {
                run: self.run,
                text,
            }),
            Emit::Approval(request) => (self.out)(RunnerOutput::Approval {
                run: self.run,
                request,
            }),
            Emit::ApprovalCancelled(request_id) => (self.out)(RunnerOutput::ApprovalCancelled {
                run: self.run,
                request_id,
            }),
            Emit::PermissionMode(mode) => (self.out)(RunnerOutput::PermissionMode {
                run: self.run,
                mode,
            }),
            Emit::TurnEnded => {
                // Dropping the sender closes stdin once queued lines are written: the
                // CLI then exits when it has finished (a background sub-agent can
                // still print a second result first).
                self.stdin = None;
            }
        }
    }

    fn progress(&self, progress: Progress) {
        match &progress {
            Progress::Error { message } => log::warn!("run {}: {message}", self.run),
            Progress::Stopped { message } => log::info!("run {}: {message}", self.run),
            _ => {}
        }
        (self.out)(RunnerOutput::Progress {
            run: self.run,
            progress,
        });
    }

    fn send_stdin(&mut self, line: String) -> bool {
        match &self.stdin {
            Some(tx) => tx.send(line).is_ok(),
            None => false,
        }
    }

    /// First step of a stop: ask politely on stdin, or with SIGINT if stdin is shut.
    fn begin_stop(&mut self, why: StopReason) -> (Step, Option<Instant>) {
        match why {
            StopReason::Requested => log::info!("run {}: stopping on request", self.run),
            StopReason::Timeout(limit) => log::warn!(
                "run {}: stopping, it went past its {} limit",
                self.run,
                human_duration(limit)
            ),
        }
        let interrupt = stream_json::interrupt_line(&format!("homeclaude-stop-{}", self.run));
        self.begin_stop_with(why, interrupt)
    }

    /// A stop whose polite first step is `first` on stdin: the interrupt, or a
    /// denial that ends the turn.
    fn begin_stop_with(&mut self, why: StopReason, first: String) -> (Step, Option<Instant>) {
        self.translator.stop_requested(why);
        if self.send_stdin(first) {
            (Step::Interrupt, Some(Instant::now() + self.grace.interrupt))
        } else {
            self.escalate(Step::Interrupt)
        }
    }

    /// The next, harder step of a stop once the last one's grace period ran out.
    fn escalate(&mut self, step: Step) -> (Step, Option<Instant>) {
        let now = Instant::now();
        let (next, sig, grace) = match step {
            Step::Interrupt => (Step::Sigint, Signal::INT, self.grace.sigint),
            Step::Sigint => (Step::Sigterm, Signal::TERM, self.grace.sigterm),
            Step::Sigterm => (Step::Sigkill, Signal::KILL, KILL_GRACE),
            Step::Sigkill => {
                log::error!(
                    "run {}: claude (pid {}) is still there {:?} after SIGKILL; waiting on",
                    self.run,
                    self.child.pid,
                    KILL_GRACE
                );
                return (Step::Sigkill, None);
            }
        };
        log::info!(
            "run {}: sending {} to claude's process group",
            self.run,
            signal_name(sig)
        );
        self.child.signal(sig);
        (next, Some(now + grace))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::event::{PollFd, PollFlags, Timespec};
    use rustix::process::Pid;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A safety net for a runner that went quiet, never a way to synchronise.
    const WAIT: Duration = Duration::from_secs(20);
    const FIXTURES: &str = "tests/fixtures/stream-json";
    const UUID: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

    /// The fake CLI. Unit tests of a binary get no `CARGO_BIN_EXE_*`, so it is found
    /// next to this test's executable, where `cargo test` builds it (it builds every
    /// binary of the package because tests/ has integration tests).
    fn fake_claude() -> PathBuf {
        if let Some(path) = option_env!("CARGO_BIN_EXE_fake-claude") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("test executable path");
        exe.ancestors()
            .skip(1)
            .map(|dir| dir.join("fake-claude"))
            .find(|p| p.is_file())
            .expect(
                "fake-claude is not built: run `cargo test` (or `cargo build --bin fake-claude`)",
            )
    }

    fn fixture(name: &str) -> Vec<String> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(FIXTURES)
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        text.lines().map(String::from).collect()
    }

    fn lines(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// A directory of its own for each test, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Scratch {
            static N: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "homeclaude-runner-{}-{}-{test}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).expect("scratch dir");
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    struct Run {
        handle: Option<RunHandle>,
        outputs: Receiver<RunnerOutput>,
        record: PathBuf,
        transcript: PathBuf,
    }

    /// What the fake saw.
    #[derive(Debug)]
    struct Record {
        argv: Vec<String>,
        stdin: Vec<String>,
        notes: Vec<String>,
    }

    fn config(scratch: &Scratch) -> RunnerConfig {
        RunnerConfig {
            claude: fake_claude(),
            workdir: scratch.0.clone(),
            ..RunnerConfig::default()
        }
    }

    fn request(run: u64, session: SessionRef) -> RunRequest {
        RunRequest {
            run,
            prompt_id: run * 10,
            username: "alice".into(),
            text: "hello".into(),
            attachments: vec![],
            session,
        }
    }

    /// Logs at debug level into the test's captured output: shown when a test fails,
    /// and it runs the log formatting on the runner's small thread stacks.
    fn init_logging() {
        let _ = env_logger::builder()
            .is_test(true)
            .filter_level(log::LevelFilter::Debug)
            .try_init();
    }

    fn launch(
        scratch: &Scratch,
        mut cfg: RunnerConfig,
        transcript: &[String],
        req: RunRequest,
    ) -> Run {
        init_logging();
        let n = req.run;
        let transcript_path = scratch.0.join(format!("transcript-{n}.jsonl"));
        std::fs::write(&transcript_path, transcript.join("\n")).expect("transcript");
        let record = scratch.0.join(format!("record-{n}.txt"));
        cfg.extra_args.extend([
            "--fake-transcript".to_string(),
            transcript_path.display().to_string(),
            "--fake-record".to_string(),
            record.display().to_string(),
        ]);
        let (tx, outputs) = mpsc::channel();
        let handle = start(
            &cfg,
            req,
            Box::new(move |o| {
                let _ = tx.send(o);
            }),
        )
        .expect("run starts");
        Run {
            handle: Some(handle),
            outputs,
            record,
            transcript: transcript_path,
        }
    }

    impl Run {
        fn next(&self) -> RunnerOutput {
            self.outputs
                .recv_timeout(WAIT)
                .expect("the runner went quiet")
        }

        /// Waits for the first progress that `pick` accepts.
        fn wait_for(&self, pick: impl Fn(&Progress) -> bool) {
            loop {
                if let RunnerOutput::Progress { progress, .. } = self.next()
                    && pick(&progress)
                {
                    return;
                }
            }
        }

        /// Every output up to and including `Finished`.
        fn finish(&self) -> Vec<RunnerOutput> {
            let mut all = Vec::new();
            loop {
                let o = self.next();
                let done = matches!(o, RunnerOutput::Finished { .. });
                all.push(o);
                if done {
                    return all;
                }
            }
        }

        fn record(&self) -> Record {
            let text = std::fs::read_to_string(&self.record).expect("the fake's record");
            let mut lines = text.lines();
            let argv = serde_json::from_str(lines.next().expect("argv line")).expect("argv json");
            let (notes, stdin) = lines.map(String::from).partition(|l| l.starts_with('#'));
            Record { argv, stdin, notes }
        }

        fn pid(&self) -> u32 {
            self.handle.as_ref().expect("handle").pid()
        }
    }

    fn outcome(outputs: &[RunnerOutput]) -> (Outcome, Option<String>) {
        match outputs.last() {
            Some(RunnerOutput::Finished {
                outcome,
                session_id,
                ..
            }) => (*outcome, session_id.clone()),
            other => panic!("no Finished at the end: {other:?}"),
        }
    }

    fn progress(outputs: &[RunnerOutput]) -> Vec<&Progress> {
        outputs
            .iter()
            .filter_map(|o| match o {
                RunnerOutput::Progress { progress, .. } => Some(progress),
                _ => None,
            })
            .collect()
    }

    fn answers(outputs: &[RunnerOutput]) -> Vec<&str> {
        outputs
            .iter()
            .filter_map(|o| match o {
                RunnerOutput::Answer { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn errors(outputs: &[RunnerOutput]) -> Vec<&str> {
        progress(outputs)
            .into_iter()
            .filter_map(|p| match p {
                Progress::Error { message } => Some(message.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The group's id is free again: every member has been reaped.
    fn group_gone(pgid: u32) -> bool {
        let pid = Pid::from_raw(pgid as i32).expect("pid");
        rustix::process::test_kill_process_group(pid) == Err(rustix::io::Errno::SRCH)
    }

    /// Members of the group that are not zombies (orphans are reaped by init, later).
    fn live_members(pgid: u32) -> Vec<u32> {
        let mut live = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.get(2) == Some(&pgid.to_string().as_str()) && fields[0] != "Z" {
                live.push(pid);
            }
        }
        live
    }

    /// Waits (on a pidfd, not a timer) until process `pid` has terminated.
    fn wait_dead(pid: u32) {
        let Some(pid) = Pid::from_raw(pid as i32) else {
            return;
        };
        let Ok(fd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) else {
            return; // already gone
        };
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let timeout = Timespec {
            tv_sec: WAIT.as_secs() as i64,
            tv_nsec: 0,
        };
        let ready = rustix::event::poll(&mut fds, Some(&timeout)).expect("poll pidfd");
        assert_eq!(ready, 1, "process {pid:?} still alive after {WAIT:?}");
    }

    #[test]
    fn runs_the_cli_with_the_exact_command_line_and_prompt() {
        let scratch = Scratch::new("command");
        let cfg = RunnerConfig {
            model: Some("sonnet".into()),
            ..config(&scratch)
        };
        let mut req = request(1, SessionRef::New(UUID.into()));
        req.text = "hello \"you\"\nsecond line".into();
        let run = launch(&scratch, cfg, &fixture("session_id_new.jsonl"), req);
        let outputs = run.finish();
        let record = run.record();
        let t = run.transcript.display().to_string();
        let r = run.record.display().to_string();
        assert_eq!(
            record.argv,
            [
                "-p",
                "--output-format",
                "stream-json",
                "--input-format",
                "stream-json",
                "--verbose",
                "--include-partial-messages",
                "--permission-prompt-tool",
                "stdio",
                "--permission-mode",
                "acceptEdits",
                "--model",
                "sonnet",
                &format!("--session-id={UUID}"),
                "--fake-transcript",
                &t,
                "--fake-record",
                &r,
            ]
        );
        // One stream-json user line, shaped like the SDK's (see the stdin fixtures).
        assert_eq!(record.stdin.len(), 1, "{record:?}");
        let prompt: serde_json::Value = serde_json::from_str(&record.stdin[0]).unwrap();
        assert_eq!(
            prompt,
            serde_json::json!({"type": "user", "message": {"role": "user", "content": [
                {"type": "text", "text": "[alice]: hello \"you\"\nsecond line"}]},
                "parent_tool_use_id": null, "session_id": ""})
        );
        let kinds: Vec<String> = outputs
            .iter()
            .map(|o| match o {
                RunnerOutput::Progress { run, progress } => {
                    assert_eq!(*run, 1);
                    format!("{progress:?}")
                        .split([' ', '{'])
                        .next()
                        .unwrap_or("")
                        .to_string()
                }
                RunnerOutput::Answer { .. } => "Answer".into(),
                RunnerOutput::Finished { .. } => "Finished".into(),
                RunnerOutput::Approval { .. } => "Approval".into(),
                RunnerOutput::ApprovalCancelled { .. } => "ApprovalCancelled".into(),
                RunnerOutput::PermissionMode { .. } => "PermissionMode".into(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Start", "Init", "Session", "Text", "Complete", "Answer", "Finished"
            ]
        );
        assert_eq!(*progress(&outputs)[0], Progress::Start { prompt_id: 10 });
        assert_eq!(answers(&outputs), ["You said: first message"]);
        assert_eq!(
            outcome(&outputs),
            (
                Outcome::Success,
                Some("11111111-2222-4333-8444-555555555555".into())
            )
        );
        assert!(group_gone(run.pid()));
    }

    #[test]
    fn a_new_session_then_a_resume_of_the_id_init_reported() {
        let scratch = Scratch::new("sessions");
        let first = launch(
            &scratch,
            config(&scratch),
            &fixture("session_id_new.jsonl"),
            request(1, SessionRef::New(UUID.into())),
        );
        let (outcome1, session) = outcome(&first.finish());
        assert_eq!(outcome1, Outcome::Success);
        let session = session.expect("init reported a session");
        let second = launch(
            &scratch,
            config(&scratch),
            &fixture("resume_same_id.jsonl"),
            request(2, SessionRef::Resume(session.clone())),
        );
        let outputs = second.finish();
        assert_eq!(answers(&outputs), ["You said: second message"]);
        let argv = second.record().argv;
        assert!(argv.contains(&"--resume=11111111-2222-4333-8444-555555555555".to_string()));
        assert!(!argv.iter().any(|a| a.starts_with("--session-id")));
        assert!(
            first
                .record()
                .argv
                .contains(&format!("--session-id={UUID}"))
        );
    }

    /// The start of the SIGINT fixture (init, two text deltas), then a long pause.
    fn slow_transcript() -> Vec<String> {
        let mut t = fixture("sigint_partial_messages.jsonl");
        t.insert(6, "@sleep 60000".into());
        t
    }

    #[test]
    fn stop_ends_a_slow_run_within_5s_and_leaves_no_process() {
        let scratch = Scratch::new("stop");
        let run = launch(
            &scratch,
            config(&scratch),
            &slow_transcript(),
            request(1, SessionRef::New(UUID.into())),
        );
        run.wait_for(|p| matches!(p, Progress::TextDelta { .. }));
        let asked = Instant::now();
        run.handle.as_ref().unwrap().stop();
        let outputs = run.finish();
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(outcome(&outputs).0, Outcome::Stopped);
        assert_eq!(
            progress(&outputs).last(),
            Some(&&Progress::Stopped {
                message: "Stopped on request.".into()
            })
        );
        assert!(errors(&outputs).is_empty(), "{outputs:?}");
        // The polite way was enough: an interrupt on stdin, no signal.
        let record = run.record();
        assert_eq!(record.stdin.len(), 2);
        assert_eq!(
            record.stdin[1],
            stream_json::interrupt_line("homeclaude-stop-1")
        );
        assert!(record.notes.is_empty(), "{record:?}");
        assert!(group_gone(run.pid()));
    }

    #[test]
    fn a_cli_that_ignores_interrupts_and_signals_is_killed_with_its_children() {
        let scratch = Scratch::new("kill");
        let cfg = RunnerConfig {
            stop_grace: StopGrace {
                interrupt: Duration::from_millis(200),
                sigint: Duration::from_millis(200),
                sigterm: Duration::from_millis(200),
            },
            ..config(&scratch)
        };
        let mut transcript = lines(&["@ignore_signals", "@spawn_sleeper"]);
        transcript.extend(fixture("session_id_new.jsonl").into_iter().take(1));
        transcript.push("@sleep 60000".into());
        let run = launch(
            &scratch,
            cfg,
            &transcript,
            request(1, SessionRef::New(UUID.into())),
        );
        run.wait_for(|p| matches!(p, Progress::Init { .. }));
        let pgid = run.pid();
        run.handle.as_ref().unwrap().stop();
        let asked = Instant::now();
        let outputs = run.finish();
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "{:?}",
            asked.elapsed()
        );
        assert_eq!(outcome(&outputs).0, Outcome::Stopped);
        let record = run.record();
        assert_eq!(
            record.stdin[1],
            stream_json::interrupt_line("homeclaude-stop-1")
        );
        let grandchild: u32 = record
            .notes
            .iter()
            .find_map(|n| n.strip_prefix("#grandchild "))
            .and_then(|p| p.parse().ok())
            .expect("the fake started a grandchild");
        let signals: Vec<&String> = record
            .notes
            .iter()
            .filter(|n| n.starts_with("#signal"))
            .collect();
        assert_eq!(signals, ["#signal 2", "#signal 15"]);
        // SIGKILL reached the grandchild as well as the CLI.
        wait_dead(grandchild);
        assert_eq!(live_members(pgid), Vec::<u32>::new());
    }

    #[test]
    fn dropping_the_handle_stops_the_run() {
        let scratch = Scratch::new("drop");
        let mut run = launch(
            &scratch,
            config(&scratch),
            &slow_transcript(),
            request(1, SessionRef::New(UUID.into())),
        );
        run.wait_for(|p| matches!(p, Progress::TextDelta { .. }));
        let pid = run.pid();
        drop(run.handle.take());
        assert_eq!(outcome(&run.finish()).0, Outcome::Stopped);
        assert!(group_gone(pid));
    }

    #[test]
    fn a_run_past_its_time_limit_is_timed_out() {
        let scratch = Scratch::new("timeout");
        let cfg = RunnerConfig {
            timeout: Duration::from_millis(500),
            ..config(&scratch)
        };
        let run = launch(
            &scratch,
            cfg,
            &slow_transcript(),
            request(1, SessionRef::New(UUID.into())),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs).0, Outcome::TimedOut);
        assert_eq!(
            progress(&outputs).last(),
            Some(&&Progress::Stopped {
                message: "Stopped: the run went past its time limit of 500 ms.".into()
            })
        );
        assert!(group_gone(run.pid()));
    }

    #[test]
    fn claude_missing_is_not_found_with_install_advice() {
        let scratch = Scratch::new("missing");
        for program in ["/nonexistent/claude", "homeclaude-test-no-such-claude"] {
            let cfg = RunnerConfig {
                claude: PathBuf::from(program),
                ..config(&scratch)
            };
            let err = start(
                &cfg,
                request(1, SessionRef::New(UUID.into())),
                Box::new(|_| {}),
            )
            .expect_err("no such program");
            assert!(matches!(err, RunError::NotFound { .. }), "{err:?}");
            assert!(
                err.to_string()
                    .contains("npm install -g @anthropic-ai/claude-code"),
                "{err}"
            );
        }
        // A missing working directory is said as such, not as a missing CLI.
        let cfg = RunnerConfig {
            workdir: scratch.0.join("gone"),
            ..config(&scratch)
        };
        let err = start(
            &cfg,
            request(1, SessionRef::New(UUID.into())),
            Box::new(|_| {}),
        )
        .expect_err("no workdir");
        assert!(matches!(err, RunError::Workdir { .. }), "{err:?}");
        // A file that is not executable (Cargo.toml is not).
        let cfg = RunnerConfig {
            claude: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"),
            ..config(&scratch)
        };
        let err = start(
            &cfg,
            request(1, SessionRef::New(UUID.into())),
            Box::new(|_| {}),
        )
        .expect_err("not executable");
        assert!(matches!(err, RunError::NotExecutable { .. }), "{err:?}");
    }

    #[test]
    fn a_crash_mid_run_fails_with_a_clear_message() {
        let scratch = Scratch::new("crash");
        let mut transcript = fixture("session_id_new.jsonl");
        transcript.truncate(2);
        transcript.extend(lines(&[
            "@stderr TypeError: Cannot read properties of undefined",
            "@stderr     at main.js:10:3",
            "@exit 1",
        ]));
        let run = launch(
            &scratch,
            config(&scratch),
            &transcript,
            request(1, SessionRef::New(UUID.into())),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs).0, Outcome::Failed);
        assert_eq!(
            errors(&outputs),
            [
                "Claude Code stopped in the middle of the turn without a result (exit status 1).\n\
              The last lines of its error output:\n\
              TypeError: Cannot read properties of undefined\n    at main.js:10:3"
            ]
        );
        // Dying of a signal says which.
        transcript.truncate(2);
        transcript.push("@abort".into());
        let run = launch(
            &scratch,
            config(&scratch),
            &transcript,
            request(2, SessionRef::New(UUID.into())),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs).0, Outcome::Failed);
        let message = errors(&outputs).join("");
        assert!(
            message.starts_with(
                "Claude Code stopped in the middle of the turn without a result (signal 6 (SIGABRT))."
            ),
            "{message}"
        );
    }

    #[test]
    fn a_non_zero_exit_before_any_output_shows_the_last_stderr_lines() {
        let scratch = Scratch::new("stderr");
        let mut transcript: Vec<String> =
            (1..=25).map(|n| format!("@stderr problem {n}")).collect();
        transcript.push("@exit 3".into());
        let run = launch(
            &scratch,
            config(&scratch),
            &transcript,
            request(1, SessionRef::New(UUID.into())),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs).0, Outcome::Failed);
        let last20: Vec<String> = (6..=25).map(|n| format!("problem {n}")).collect();
        assert_eq!(
            errors(&outputs),
            [format!(
                "Claude Code exited (exit status 3) before printing anything.\n\
                 The last lines of its error output:\n{}",
                last20.join("\n")
            )]
        );
    }

    #[test]
    fn not_logged_in_is_reported_once() {
        let scratch = Scratch::new("login");
        let mut transcript = fixture("not_logged_in.jsonl");
        transcript.push("@exit 1".into());
        let run = launch(
            &scratch,
            config(&scratch),
            &transcript,
            request(1, SessionRef::New(UUID.into())),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs).0, Outcome::Failed);
        let errors = errors(&outputs);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("Not logged in · Please run /login"));
        assert!(answers(&outputs).is_empty());
    }

    #[test]
    fn resume_of_an_unknown_session_asks_the_hub_to_retry() {
        let scratch = Scratch::new("resume");
        let mut transcript = fixture("resume_unknown_session.jsonl");
        transcript.push("@exit 1".into());
        let run = launch(
            &scratch,
            config(&scratch),
            &transcript,
            request(
                1,
                SessionRef::Resume("99999999-2222-4333-8444-555555555555".into()),
            ),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs), (Outcome::ResumeFailed, None));
        // Only `start`: the hub says `retry` and runs the prompt in a new session.
        assert_eq!(progress(&outputs), [&Progress::Start { prompt_id: 10 }]);
    }

    #[test]
    fn a_10_mb_line_is_dropped_and_the_run_completes() {
        let scratch = Scratch::new("big");
        let mut transcript = fixture("session_id_new.jsonl");
        transcript.insert(1, "@big 10485760".into());
        let run = launch(
            &scratch,
            config(&scratch),
            &transcript,
            request(1, SessionRef::New(UUID.into())),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs).0, Outcome::Success);
        assert_eq!(answers(&outputs), ["You said: first message"]);
    }

    #[test]
    fn unknown_lines_garbage_and_bad_bytes_are_passed_over() {
        let scratch = Scratch::new("garbage");
        let mut transcript = fixture("session_id_new.jsonl");
        transcript.splice(
            1..1,
            lines(&[
                r#"{"type":"mystery_line","payload":{"a":[1,2,3]}}"#,
                r#"{"type":"system","subtype":"hook_started","hook_name":"x"}"#,
                "@raw this is not json at all",
                "@hex 7b ff fe 7d",
                "@hex e2 28 a1",
                "@raw ",
            ]),
        );
        let run = launch(
            &scratch,
            config(&scratch),
            &transcript,
            request(1, SessionRef::New(UUID.into())),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs).0, Outcome::Success);
        assert_eq!(answers(&outputs), ["You said: first message"]);
        assert!(errors(&outputs).is_empty());
    }

    #[test]
    fn deeply_nested_lines_fit_the_threads_stacks() {
        // serde_json refuses nesting past 128 levels; up to that, parsing, the
        // translator's clones and the drops recurse. A stack overflow would abort
        // the whole server, so the deepest accepted line goes through a real run.
        let scratch = Scratch::new("nested");
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let tool = |depth: usize| {
            format!(
                r#"{{"type":"assistant","message":{{"content":[{{"type":"tool_use","id":"t{depth}","name":"TodoWrite","input":{{"todos":[{{"content":{}}}]}}}}]}}}}"#,
                nested(depth)
            )
        };
        let mut transcript = fixture("session_id_new.jsonl");
        transcript.splice(1..1, [tool(120), tool(400)]);
        let run = launch(
            &scratch,
            config(&scratch),
            &transcript,
            request(1, SessionRef::New(UUID.into())),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs).0, Outcome::Success);
        let starts = progress(&outputs)
            .into_iter()
            .filter(|p| matches!(p, Progress::ToolStart { .. }))
            .count();
        assert_eq!(
            starts, 1,
            "the 120-deep line is shown, the 400-deep one skipped"
        );
    }

    #[test]
    fn a_second_result_from_a_background_agent_is_a_second_answer() {
        let scratch = Scratch::new("two-results");
        let mut transcript = fixture("session_id_new.jsonl");
        transcript.extend(fixture("resume_same_id.jsonl").into_iter().skip(1));
        let run = launch(
            &scratch,
            config(&scratch),
            &transcript,
            request(1, SessionRef::New(UUID.into())),
        );
        let outputs = run.finish();
        assert_eq!(outcome(&outputs).0, Outcome::Success);
        assert_eq!(
            answers(&outputs),
            ["You said: first message", "You said: second message"]
        );
    }

    const S1: &str = "be8492f8-924b-4ecd-bd9e-69387a8e4337";

    #[test]
    fn command_lines_for_each_session_kind() {
        let cfg = RunnerConfig {
            permission_mode: "bypassPermissions".into(),
            extra_args: vec!["--add-dir".into(), "/srv/x".into()],
            ..RunnerConfig::default()
        };
        assert_eq!(
            command_args(&cfg, &SessionRef::Resume(S1.into()))[7..],
            [
                "--permission-prompt-tool",
                "stdio",
                "--permission-mode",
                "bypassPermissions",
                &format!("--resume={S1}"),
                "--add-dir",
                "/srv/x"
            ]
        );
        assert_eq!(prompt_text("bob", "hi"), "[bob]: hi");
    }

    #[test]
    fn session_ids_are_random_v4_uuids() {
        let (a, b) = (new_session_id(), new_session_id());
        assert_ne!(a, b);
        for id in [a, b] {
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{id}"
            );
            assert!(parts[2].starts_with('4'), "{id}");
            assert!("89ab".contains(&parts[3][..1]), "{id}");
            assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        }
    }
}
