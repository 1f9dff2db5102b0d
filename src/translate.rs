//! From the CLI's stream-json lines of one run to browser progress: a pure state
//! machine.
//!
//! [`Translator`] turns each parsed [`Line`] into [`Progress`] values (the original
//! Chat Socket events plus the richer ones homeclaude adds) and the final answer, and
//! [`Translator::finish`] decides the run's [`Outcome`] once the process is gone. It
//! knows nothing of processes, threads or sockets: the runner feeds it lines and exit
//! facts, so every rule here is tested from fixtures alone.
//!
//! Text rule: with `--include-partial-messages` the CLI prints each text block twice,
//! as `text_delta` stream events while it is generated and then whole in an
//! `assistant` line. Both are forwarded: `text_delta` fragments are provisional and
//! `text` is the finished block, which replaces the fragments received since the
//! previous `text`/`tool_start` (a page shows the fragments as a live draft and swaps
//! in the block). A page that does not stream can ignore `text_delta` altogether and
//! loses nothing. The run's final answer is sent once more as the `Answer` (the chat
//! message from Claude, as the original did). Thinking is forwarded only as whole
//! blocks, and text or thinking of sub-agents (`parent_tool_use_id` set) not at all:
//! their tool calls are shown, their narration would read as the main answer.

use crate::protocol::{EditInfo, Progress, excerpt};
use crate::stream_json::{
    ApiEvent, Assistant, AssistantBlock, ControlRequestBody, Delta, Line, ParseError, ResultLine,
    ResultSubtype, StreamEvent, System, User, UserBlock, UserContent,
};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Longest tool output excerpt sent to browsers; `output_bytes` gives the full size.
pub const TOOL_OUTPUT_CHARS: usize = 2000;
/// Longest text inside an `edit_info` (as the original cut them).
pub const EDIT_TEXT_CHARS: usize = 500;
/// Longest Bash command shown as a `tool_start` detail (as the original cut it).
pub const BASH_DETAIL_CHARS: usize = 100;

/// The CLI's words for a `--resume` of a session it does not know (2.1.330).
const UNKNOWN_SESSION: &str = "No conversation found with session ID";

/// How a run ended, for the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A turn finished and its answer was sent.
    Success,
    /// The run failed; an `error` progress said why.
    Failed,
    /// Stopped on request; a `stopped` progress said so.
    Stopped,
    /// Stopped because it ran past the time limit; a `stopped` progress said so.
    TimedOut,
    /// `--resume` named a session the CLI does not know. Nothing was sent to the
    /// browsers: the hub says `retry` and runs the prompt again in a new session.
    ResumeFailed,
}

/// Why the runner asked the CLI to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Someone pressed Stop (or the run's owner went away).
    Requested,
    /// The run went past this time limit.
    Timeout(Duration),
}

/// What one line produced, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Emit {
    Progress(Progress),
    /// The turn's final answer: the chat message from Claude.
    Answer(String),
    /// A `result` line ended the turn: the runner closes the CLI's stdin so the
    /// process exits once it has nothing left to do.
    TurnEnded,
    /// The CLI asks whether a tool may run (or a question, or a plan) and waits.
    Approval(ToolRequest),
    /// The CLI withdrew request `0` (the turn was interrupted).
    ApprovalCancelled(String),
    /// The session's permission mode is now this.
    PermissionMode(String),
}

/// A `can_use_tool` request, as the hub needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    /// The CLI's `request_id`, echoed by the answer.
    pub request_id: String,
    pub tool: String,
    pub input: serde_json::Value,
    pub suggestions: Vec<serde_json::Value>,
    pub blocked_path: Option<String>,
    pub description: Option<String>,
    pub reason: Option<String>,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    Code(i32),
    Signal(i32),
}

/// What the runner knows once the process has been reaped.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitFacts {
    pub exit: ExitKind,
    /// The last lines the CLI wrote to stderr.
    pub stderr_tail: Vec<String>,
    /// Set when the runner asked the CLI to stop.
    pub stop: Option<StopReason>,
    /// Whether the run used `--resume` (so an unknown session means "retry").
    pub resumed: bool,
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// Progress to send before the run is reported finished (at most one event).
    pub progress: Option<Progress>,
    pub outcome: Outcome,
    /// The session id the CLI reported in `system/init`: the id to `--resume` next.
    pub session_id: Option<String>,
}

/// How the last `result` line ended its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TurnEnd {
    Success,
    /// An error that an `error` progress already reported.
    Error,
    /// Ended by our interrupt.
    Interrupted,
    UnknownSession,
}

/// The state of one run's translation.
#[derive(Debug)]
pub struct Translator {
    /// The configured working directory, for relative paths before `init` arrives.
    workdir: String,
    /// The CLI's own `cwd` from `system/init`: the truth once known.
    cwd: Option<String>,
    session_id: Option<String>,
    /// `tool_start` counter (the original's `turn`).
    tools_started: u64,
    /// `turn` of each started tool, so `tool_end` names the right one even when
    /// several calls run in parallel.
    tool_turns: HashMap<String, u64>,
    last_turn: Option<TurnEnd>,
    stop: Option<StopReason>,
    /// The synthetic API error said the CLI is not logged in.
    auth_failed: bool,
    good_lines: u64,
    bad_lines: u64,
    first_bad_line: Option<String>,
    dropped_lines: u64,
}

impl Translator {
    pub fn new(workdir: &Path) -> Translator {
        Translator {
            workdir: workdir.to_string_lossy().into_owned(),
            cwd: None,
            session_id: None,
            tools_started: 0,
            tool_turns: HashMap::new(),
            last_turn: None,
            stop: None,
            auth_failed: false,
            good_lines: 0,
            bad_lines: 0,
            first_bad_line: None,
            dropped_lines: 0,
        }
    }

    /// The runner began stopping the CLI: a failed turn from now on is the stop's
    /// doing, not an error to report.
    pub fn stop_requested(&mut self, why: StopReason) {
        self.stop.get_or_insert(why);
    }

    /// A line that could not be parsed (logged by the caller).
    pub fn bad_line(&mut self, raw: &str, _why: &ParseError) {
        self.bad_lines += 1;
        if self.first_bad_line.is_none() {
            self.first_bad_line = Some(excerpt(raw.trim(), 200));
        }
    }

    /// A line longer than the reader's cap, dropped unread.
    pub fn dropped_line(&mut self) {
        self.dropped_lines += 1;
    }

    /// Translates one line.
    pub fn line(&mut self, line: Line) -> Vec<Emit> {
        self.good_lines += 1;
        let mut out = Vec::new();
        match line {
            Line::System(system) => self.system(system, &mut out),
            Line::Assistant(assistant) => self.assistant(assistant, &mut out),
            Line::User(user) => self.user(user, &mut out),
            Line::StreamEvent(event) => self.stream_event(event, &mut out),
            Line::Result(result) => self.result(result, &mut out),
            Line::ControlRequest(req) => match req.request {
                ControlRequestBody::CanUseTool {
                    tool_name,
                    input,
                    permission_suggestions,
                    blocked_path,
                    description,
                    decision_reason,
                    ..
                } => out.push(Emit::Approval(ToolRequest {
                    request_id: req.request_id,
                    tool: tool_name,
                    input,
                    suggestions: permission_suggestions,
                    blocked_path,
                    description,
                    reason: decision_reason,
                })),
                other => {
                    log::warn!(
                        "claude sent a control request this runner does not answer: {other:?}"
                    );
                }
            },
            Line::ControlCancel { request_id } => out.push(Emit::ApprovalCancelled(request_id)),
            Line::ControlResponse(resp) => {
                if resp.response.subtype.as_deref() == Some("error") {
                    log::warn!("claude refused a control request: {:?}", resp.response);
                } else {
                    log::debug!("claude acknowledged a control request: {:?}", resp.response);
                }
            }
            Line::RateLimit(event) => {
                let status = event
                    .rate_limit_info
                    .as_ref()
                    .and_then(|i| i.status.as_deref());
                if status.is_some_and(|s| s != "allowed") {
                    log::warn!("claude reports a rate limit: {:?}", event.rate_limit_info);
                }
            }
            Line::Other { kind } => log::debug!("passing over a {kind:?} line from claude"),
        }
        out
    }

    fn system(&mut self, system: System, out: &mut Vec<Emit>) {
        match system {
            System::Init(init) => {
                if init.cwd.is_some() {
                    self.cwd = init.cwd;
                }
                // Every turn prints `init`; the browsers hear about a session once.
                let Some(id) = init.session_id else { return };
                if self.session_id.as_deref() == Some(id.as_str()) {
                    return;
                }
                out.push(Emit::Progress(Progress::Init {
                    model: init.model.unwrap_or_default(),
                    session_id: id.clone(),
                }));
                out.push(Emit::Progress(Progress::Session {
                    resume_command: resume_command(self.root(), &id),
                    session_id: id.clone(),
                }));
                self.session_id = Some(id);
            }
            System::CompactBoundary(c) => {
                log::info!(
                    "claude compacted the conversation: {:?}",
                    c.compact_metadata
                )
            }
            System::ApiRetry(r) => log::warn!(
                "claude is retrying the API ({}/{}, status {:?}, {}) in {} ms",
                r.attempt.unwrap_or(0),
                r.max_retries.unwrap_or(0),
                r.error_status,
                r.error.as_deref().unwrap_or("unknown error"),
                r.retry_delay_ms.unwrap_or(0),
            ),
            System::PermissionDenied(p) => log::info!(
                "the permission mode refused {}: {}",
                p.tool_name.as_deref().unwrap_or("a tool"),
                p.message.as_deref().unwrap_or("")
            ),
            System::Status {
                permission_mode: Some(mode),
                ..
            } => out.push(Emit::PermissionMode(mode)),
            System::Status { .. } | System::Other { .. } => {}
        }
    }

    fn assistant(&mut self, assistant: Assistant, out: &mut Vec<Emit>) {
        let main_agent = assistant.parent_tool_use_id.is_none();
        if assistant.is_api_error_message {
            // The same text comes back in the `result` line, where it is reported.
            self.auth_failed |= assistant.error.as_deref() == Some("authentication_failed");
            return;
        }
        for block in assistant.message.content {
            match block {
                AssistantBlock::Text { text } if main_agent && !text.is_empty() => {
                    out.push(Emit::Progress(Progress::Text { text, html: None }))
                }
                AssistantBlock::Thinking { thinking } if main_agent && !thinking.is_empty() => {
                    out.push(Emit::Progress(Progress::Thinking { text: thinking }))
                }
                AssistantBlock::ToolUse { id, name, input } => {
                    self.tools_started += 1;
                    self.tool_turns.insert(id.clone(), self.tools_started);
                    out.push(Emit::Progress(Progress::ToolStart {
                        turn: self.tools_started,
                        detail: self.detail(&name, &input),
                        edit_info: self.edit_info(&name, &input),
                        tool: name,
                        tool_use_id: id,
                    }));
                }
                _ => {}
            }
        }
    }

    fn user(&mut self, user: User, out: &mut Vec<Emit>) {
        let UserContent::Blocks(blocks) = &user.message.content else {
            return;
        };
        // `tool_use_result` describes the line's tool result; lines carry one each.
        let results = blocks
            .iter()
            .filter(|b| matches!(b, UserBlock::ToolResult { .. }))
            .count();
        let lines = if results == 1 {
            user.file_num_lines()
        } else {
            None
        };
        for block in blocks {
            let UserBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
            } = block
            else {
                continue;
            };
            let text = content.as_ref().map(|c| c.to_text()).unwrap_or_default();
            out.push(Emit::Progress(Progress::ToolEnd {
                turn: self
                    .tool_turns
                    .get(tool_use_id)
                    .copied()
                    .unwrap_or(self.tools_started),
                lines,
                tool_use_id: tool_use_id.clone(),
                is_error: is_error.unwrap_or(false),
                output: excerpt(&text, TOOL_OUTPUT_CHARS),
                output_bytes: text.len(),
            }));
        }
    }

    fn stream_event(&mut self, event: StreamEvent, out: &mut Vec<Emit>) {
        if event.parent_tool_use_id.is_some() {
            return;
        }
        if let ApiEvent::ContentBlockDelta {
            delta: Delta::TextDelta { text },
            ..
        } = event.event
            && !text.is_empty()
        {
            out.push(Emit::Progress(Progress::TextDelta { text }));
        }
    }

    fn result(&mut self, result: ResultLine, out: &mut Vec<Emit>) {
        if self.session_id.is_none() && result.subtype == ResultSubtype::Success {
            self.session_id = result.session_id.clone();
        }
        let errors = result.errors_text();
        if result.subtype == ResultSubtype::ErrorDuringExecution && errors.contains(UNKNOWN_SESSION)
        {
            // Nothing ran: no stats to show, and the hub decides what to say.
            log::warn!("claude does not know the session to resume: {errors}");
            self.last_turn = Some(TurnEnd::UnknownSession);
            out.push(Emit::TurnEnded);
            return;
        }
        out.push(Emit::Progress(complete(&result)));
        let end = match (&result.subtype, result.is_error) {
            (ResultSubtype::Success, false) => {
                out.push(Emit::Answer(result.result.unwrap_or_default()));
                TurnEnd::Success
            }
            (ResultSubtype::Success, true) => {
                // An API error (HTTP 500, not logged in, ...): the text is in `result`.
                let mut message = result
                    .result
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "Claude Code reported an API error.".into());
                if self.auth_failed {
                    message.push_str(
                        "\nThe claude CLI on the server is not logged in: run `claude` once \
                         in a terminal as the server's user and log in with /login.",
                    );
                }
                out.push(error(message));
                TurnEnd::Error
            }
            (ResultSubtype::ErrorMaxTurns, _) => {
                let why = if errors.is_empty() {
                    format!(
                        "Reached the maximum number of turns ({})",
                        result.num_turns.unwrap_or(0)
                    )
                } else {
                    errors
                };
                out.push(error(format!(
                    "Claude stopped before finishing: {why}. Send another prompt to let it \
                     continue."
                )));
                TurnEnd::Error
            }
            (ResultSubtype::ErrorDuringExecution, _) if self.stop.is_some() => TurnEnd::Interrupted,
            (ResultSubtype::ErrorDuringExecution, _) => {
                out.push(error(format!(
                    "Claude Code ended the turn with an error{}",
                    colon_then(&errors)
                )));
                TurnEnd::Error
            }
            (ResultSubtype::Other(subtype), _) => {
                out.push(error(format!(
                    "Claude Code ended the turn early ({subtype}){}",
                    colon_then(&errors)
                )));
                TurnEnd::Error
            }
        };
        if !result.permission_denials.is_empty() {
            log::info!(
                "the permission mode refused {} tool call(s) this turn",
                result.permission_denials.len()
            );
        }
        self.last_turn = Some(end);
        out.push(Emit::TurnEnded);
    }

    /// Decides how the run ended once the process is gone.
    pub fn finish(&self, facts: &ExitFacts) -> Finish {
        let (outcome, progress) = match (self.last_turn, facts.stop) {
            (Some(TurnEnd::Success), _) => {
                // A stop that came after the answer was too late to matter.
                if facts.exit != ExitKind::Code(0) && facts.stop.is_none() {
                    log::warn!("claude answered, then exited with {}", describe(facts.exit));
                }
                (Outcome::Success, None)
            }
            (Some(TurnEnd::Error), _) => (Outcome::Failed, None),
            (Some(TurnEnd::UnknownSession), _) if facts.resumed => (Outcome::ResumeFailed, None),
            (Some(TurnEnd::UnknownSession), _) => (
                Outcome::Failed,
                Some(Progress::Error {
                    message: "Claude Code could not find the conversation it was asked to \
                              continue."
                        .into(),
                }),
            ),
            (_, Some(StopReason::Requested)) => (
                Outcome::Stopped,
                Some(Progress::Stopped {
                    message: "Stopped on request.".into(),
                }),
            ),
            (_, Some(StopReason::Timeout(limit))) => (
                Outcome::TimedOut,
                Some(Progress::Stopped {
                    message: format!(
                        "Stopped: the run went past its time limit of {}.",
                        human_duration(limit)
                    ),
                }),
            ),
            (Some(TurnEnd::Interrupted) | None, None) => (
                Outcome::Failed,
                Some(Progress::Error {
                    message: self.no_result_message(facts),
                }),
            ),
        };
        Finish {
            progress,
            outcome,
            session_id: self.session_id.clone(),
        }
    }

    /// Why a run that printed no `result` failed, in words a person can act on.
    fn no_result_message(&self, facts: &ExitFacts) -> String {
        let status = describe(facts.exit);
        let printed_nothing = self.good_lines == 0 && self.bad_lines == 0;
        let mut message = if printed_nothing && self.dropped_lines == 0 {
            format!("Claude Code exited ({status}) before printing anything.")
        } else if self.good_lines == 0 && self.bad_lines > 0 {
            format!(
                "Claude Code printed output this server cannot read ({status}); is `claude` \
                 the Claude Code CLI, version 2 or later? Its first line: {}",
                self.first_bad_line.as_deref().unwrap_or("")
            )
        } else {
            format!("Claude Code stopped in the middle of the turn without a result ({status}).")
        };
        if self.bad_lines > 0 && self.good_lines > 0 {
            message.push_str(&format!(
                " {} unreadable line(s) were skipped.",
                self.bad_lines
            ));
        }
        if facts.exit == ExitKind::Signal(9) {
            message
                .push_str(" On a small machine a kill like this often means it ran out of memory.");
        }
        if !facts.stderr_tail.is_empty() {
            message.push_str("\nThe last lines of its error output:\n");
            message.push_str(&facts.stderr_tail.join("\n"));
        } else if printed_nothing {
            message.push_str(
                " It printed no error output either: try `claude -p hello` in a terminal as \
                 the server's user.",
            );
        }
        message
    }

    /// The directory tool paths are shown relative to.
    fn root(&self) -> &str {
        self.cwd.as_deref().unwrap_or(&self.workdir)
    }

    /// A path as the user thinks of it: relative to the project when inside it.
    fn rel(&self, path: &str) -> String {
        let roots = [self.cwd.as_deref(), Some(self.workdir.as_str())];
        roots
            .into_iter()
            .flatten()
            .find_map(|root| strip_root(path, root))
            .unwrap_or_else(|| path.to_string())
    }

    /// The `tool_start` detail, as the original showed it.
    fn detail(&self, tool: &str, input: &Value) -> String {
        let field = |name: &str| input.get(name).and_then(Value::as_str);
        match tool {
            "Read" | "Edit" | "MultiEdit" | "Write" => {
                field("file_path").map(|p| self.rel(p)).unwrap_or_default()
            }
            "NotebookEdit" => field("notebook_path")
                .map(|p| self.rel(p))
                .unwrap_or_default(),
            "Bash" => excerpt(field("command").unwrap_or(""), BASH_DETAIL_CHARS),
            "Grep" => field("pattern").unwrap_or("").to_string(),
            "Glob" => {
                let pattern = field("pattern").unwrap_or("");
                match field("path").map(|p| self.rel(p)) {
                    Some(dir) if dir != "." && !dir.is_empty() => format!("{pattern} in {dir}"),
                    _ => pattern.to_string(),
                }
            }
            // The page words the count from `edit_info.todos` in its own language.
            "TodoWrite" => String::new(),
            "WebFetch" => field("url").unwrap_or("").to_string(),
            "WebSearch" => field("query").unwrap_or("").to_string(),
            "Task" | "Agent" => field("description")
                .or_else(|| field("subagent_type"))
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        }
    }

    /// Edit, Write and TodoWrite calls carry what they change (texts cut short).
    fn edit_info(&self, tool: &str, input: &Value) -> Option<EditInfo> {
        let text = |name: &str| {
            excerpt(
                input.get(name).and_then(Value::as_str).unwrap_or(""),
                EDIT_TEXT_CHARS,
            )
        };
        let file = || {
            input
                .get("file_path")
                .and_then(Value::as_str)
                .map(|p| self.rel(p))
                .unwrap_or_default()
        };
        match tool {
            "Edit" => Some(EditInfo::Edit {
                file: file(),
                old: text("old_string"),
                new: text("new_string"),
            }),
            "Write" => Some(EditInfo::Write {
                file: file(),
                content: text("content"),
            }),
            "TodoWrite" => Some(EditInfo::Todo {
                todos: input
                    .get("todos")
                    .and_then(Value::as_array)
                    .map(|todos| todos.iter().map(cut_todo).collect())
                    .unwrap_or_default(),
            }),
            _ => None,
        }
    }
}

/// A todo item with its texts cut like the other `edit_info` texts.
fn cut_todo(todo: &Value) -> Value {
    let mut todo = todo.clone();
    if let Value::Object(fields) = &mut todo {
        for value in fields.values_mut() {
            if let Value::String(s) = value
                && s.chars().count() > EDIT_TEXT_CHARS
            {
                *s = excerpt(s, EDIT_TEXT_CHARS);
            }
        }
    }
    todo
}

fn error(message: String) -> Emit {
    Emit::Progress(Progress::Error { message })
}

fn colon_then(text: &str) -> String {
    if text.is_empty() {
        ".".into()
    } else {
        format!(": {text}")
    }
}

/// The `complete` event of a `result` line. `input_tokens` is input plus cache reads,
/// as the original counted (cache writes are not included). After an interruption
/// the CLI zeroes `usage` but keeps per-model totals, so those are used instead.
fn complete(result: &ResultLine) -> Progress {
    let usage = result.usage.clone().unwrap_or_default();
    let (mut input, mut output) = (
        usage.input_tokens + usage.cache_read_input_tokens,
        usage.output_tokens,
    );
    if input == 0 && output == 0 {
        for m in result.model_usage.values() {
            input += m.input_tokens + m.cache_read_input_tokens;
            output += m.output_tokens;
        }
    }
    Progress::Complete {
        duration_sec: result.duration_ms.unwrap_or(0.0) / 1000.0,
        cost_usd: result.total_cost_usd.unwrap_or(0.0),
        input_tokens: input,
        output_tokens: output,
        turns: result.num_turns.unwrap_or(0),
    }
}

/// `path` relative to `root`, if inside it. `/` and `\` count as the same separator
/// so that paths printed by a Windows CLI (as in the public fixtures) work too.
fn strip_root(path: &str, root: &str) -> Option<String> {
    let root = root.trim_end_matches(['/', '\\']);
    if root.is_empty() || path.len() < root.len() || !path.is_char_boundary(root.len()) {
        return None;
    }
    let same = |a: &str, b: &str| {
        a.chars()
            .map(|c| if c == '\\' { '/' } else { c })
            .eq(b.chars().map(|c| if c == '\\' { '/' } else { c }))
    };
    let (head, rest) = path.split_at(root.len());
    if !same(head, root) {
        return None;
    }
    if rest.is_empty() {
        return Some(".".into());
    }
    rest.strip_prefix(['/', '\\'])
        .filter(|r| !r.is_empty())
        .map(String::from)
}

/// The command that continues the session in a terminal. Sessions are stored per
/// project directory, so it starts with a `cd` there.
fn resume_command(dir: &str, session_id: &str) -> String {
    format!(
        "cd {} && claude --resume {}",
        shell_quote(dir),
        shell_quote(session_id)
    )
}

/// Quotes for a POSIX shell when needed.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// "exit status 1", "signal 9 (SIGKILL)".
fn describe(exit: ExitKind) -> String {
    match exit {
        ExitKind::Code(code) => format!("exit status {code}"),
        ExitKind::Signal(sig) => {
            let name = match sig {
                1 => "SIGHUP",
                2 => "SIGINT",
                3 => "SIGQUIT",
                6 => "SIGABRT",
                9 => "SIGKILL",
                11 => "SIGSEGV",
                13 => "SIGPIPE",
                15 => "SIGTERM",
                _ => "",
            };
            if name.is_empty() {
                format!("signal {sig}")
            } else {
                format!("signal {sig} ({name})")
            }
        }
    }
}

/// "30 min", "90 s", "1 h 30 min", "250 ms".
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{} ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 {
        parts.push(format!("{s} s"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream_json::parse_line;
    use std::path::PathBuf;

    const FIXTURES: &str = "tests/fixtures/stream-json";

    /// A run of a fixture through the translator: one short string per emitted item,
    /// so expectations read like the transcript they describe.
    struct Replay {
        events: Vec<String>,
        progress: Vec<Progress>,
        answers: Vec<String>,
        translator: Translator,
    }

    fn replay(name: &str, workdir: &str) -> Replay {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(FIXTURES)
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut translator = Translator::new(Path::new(workdir));
        let (mut events, mut progress, mut answers) = (Vec::new(), Vec::new(), Vec::new());
        for (n, raw) in text.lines().enumerate() {
            let line = parse_line(raw).unwrap_or_else(|e| panic!("{name}:{}: {e}", n + 1));
            for emit in translator.line(line) {
                events.push(summary(&emit));
                match emit {
                    Emit::Progress(p) => progress.push(p),
                    Emit::Answer(a) => answers.push(a),
                    Emit::TurnEnded
                    | Emit::Approval(_)
                    | Emit::ApprovalCancelled(_)
                    | Emit::PermissionMode(_) => {}
                }
            }
        }
        Replay {
            events,
            progress,
            answers,
            translator,
        }
    }

    fn summary(emit: &Emit) -> String {
        let short = |s: &str| excerpt(s, 40);
        match emit {
            Emit::Answer(text) => format!("answer {}", short(text)),
            Emit::TurnEnded => "turn_ended".into(),
            Emit::Approval(r) => format!("approval {} {}", r.tool, r.request_id),
            Emit::ApprovalCancelled(id) => format!("approval_cancelled {id}"),
            Emit::PermissionMode(mode) => format!("mode {mode}"),
            Emit::Progress(p) => match p {
                Progress::Start { prompt_id } => format!("start {prompt_id}"),
                Progress::Init { model, session_id } => format!("init {model} {session_id}"),
                Progress::Session { resume_command, .. } => format!("session {resume_command}"),
                Progress::TextDelta { text } => format!("delta {}", short(text)),
                Progress::Text { text, .. } => format!("text {}", short(text)),
                Progress::Thinking { text } => format!("thinking {}", short(text)),
                Progress::ToolStart {
                    turn,
                    tool,
                    detail,
                    edit_info,
                    ..
                } => format!(
                    "tool_start {turn} {tool} {}{}",
                    short(detail),
                    if edit_info.is_some() {
                        " +edit_info"
                    } else {
                        ""
                    }
                ),
                Progress::ToolEnd {
                    turn,
                    lines,
                    is_error,
                    output_bytes,
                    ..
                } => format!(
                    "tool_end {turn}{}{} {output_bytes}B",
                    lines.map(|l| format!(" lines={l}")).unwrap_or_default(),
                    if *is_error { " error" } else { "" }
                ),
                Progress::Complete {
                    duration_sec,
                    cost_usd,
                    input_tokens,
                    output_tokens,
                    turns,
                } => format!(
                    // 8 decimals: serde_json's default float parsing can land one ulp
                    // away from the file's digits (0.012874799999999999 -> 0.0128748).
                    "complete {duration_sec}s ${cost_usd:.8} in={input_tokens} out={output_tokens} turns={turns}"
                ),
                Progress::Error { message } => format!("error {message}"),
                Progress::Stopped { message } => format!("stopped {message}"),
                Progress::Retry { message } => format!("retry {message}"),
            },
        }
    }

    fn check(name: &str, workdir: &str, expect: &[&str]) -> Replay {
        let r = replay(name, workdir);
        assert_eq!(r.events, expect, "{name}");
        r
    }

    fn exited(code: i32) -> ExitFacts {
        ExitFacts {
            exit: ExitKind::Code(code),
            stderr_tail: vec![],
            stop: None,
            resumed: false,
        }
    }

    #[test]
    fn tools_write_bash_edit() {
        let r = check(
            "tools_write_bash_edit.jsonl",
            "/elsewhere",
            &[
                "init claude-sonnet-4-5-20250929 ca98fcdc-ee95-47e1-8b7d-ef7a57811091",
                "session cd /home/pi/projects/tools_write_bash_edit && claude --resume ca98fcdc-ee95-47e1-8b7d-ef7a57811091",
                "text I'll create the file first.",
                "tool_start 1 Write hello.txt +edit_info",
                "tool_end 1 147B",
                "tool_start 2 Bash cat hello.txt",
                "tool_end 2 13B",
                "tool_start 3 Edit hello.txt +edit_info",
                "tool_end 3 157B",
                "text Created hello.txt, printed it, and chang",
                "complete 0.314s $0.01495500 in=4460 out=105 turns=4",
                "answer Created hello.txt, printed it, and chang",
                "turn_ended",
            ],
        );
        assert_eq!(
            r.answers,
            ["Created hello.txt, printed it, and changed 'world' to 'stream-json'."]
        );
        let edits: Vec<&EditInfo> = r
            .progress
            .iter()
            .filter_map(|p| match p {
                Progress::ToolStart { edit_info, .. } => edit_info.as_ref(),
                _ => None,
            })
            .collect();
        assert_eq!(
            edits,
            [
                &EditInfo::Write {
                    file: "hello.txt".into(),
                    content: "Hello, world!\n".into()
                },
                &EditInfo::Edit {
                    file: "hello.txt".into(),
                    old: "world".into(),
                    new: "stream-json".into()
                },
            ]
        );
        assert_eq!(
            r.progress[6],
            Progress::ToolEnd {
                turn: 2,
                lines: None,
                tool_use_id: "toolu_mock_scenario_tools_t1_s1_0".into(),
                is_error: false,
                output: "Hello, world!".into(),
                output_bytes: 13,
            }
        );
        let finish = r.translator.finish(&exited(0));
        assert_eq!(
            finish,
            Finish {
                progress: None,
                outcome: Outcome::Success,
                session_id: Some("ca98fcdc-ee95-47e1-8b7d-ef7a57811091".into()),
            }
        );
    }

    #[test]
    fn partial_messages_stream_text_then_send_the_block() {
        let r = check(
            "partial_messages_tools.jsonl",
            "/home/pi/projects/partial_messages_tools",
            &[
                "init claude-sonnet-4-5-20250929 0645b2c8-91ae-4d73-89cd-52e9b7ab6779",
                "session cd /home/pi/projects/partial_messages_tools && claude --resume 0645b2c8-91ae-4d73-89cd-52e9b7ab6779",
                "delta I'll create ",
                "delta the file ",
                "delta first.",
                "text I'll create the file first.",
                "tool_start 1 Write hello.txt +edit_info",
                "tool_end 1 148B",
                "tool_start 2 Bash cat hello.txt",
                "tool_end 2 13B",
                "tool_start 3 Edit hello.txt +edit_info",
                "tool_end 3 158B",
                "delta Created hello.txt, printed ",
                "delta it, and changed 'world' ",
                "delta to 'stream-json'.",
                "text Created hello.txt, printed it, and chang",
                "complete 0.361s $0.01495500 in=4460 out=105 turns=4",
                "answer Created hello.txt, printed it, and chang",
                "turn_ended",
            ],
        );
        // The deltas add up to the block that replaces them.
        let deltas: String = r
            .progress
            .iter()
            .skip(12)
            .take(3)
            .map(|p| match p {
                Progress::TextDelta { text } => text.as_str(),
                _ => panic!("not a delta: {p:?}"),
            })
            .collect();
        assert_eq!(
            r.progress[15],
            Progress::Text {
                text: deltas.clone(),
                html: None,
            }
        );
        assert_eq!(r.answers, [deltas]);
    }

    #[test]
    fn thinking_then_an_answer_and_a_run_without_cwd_or_stats() {
        let r = check(
            "thinking.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 e780ee05-2657-4d85-8e03-73cf0de55bc8",
                "session cd /home/pi/projects/thinking && claude --resume e780ee05-2657-4d85-8e03-73cf0de55bc8",
                "thinking The user wants a short answer. Two plus ",
                "text 2 + 2 = 4.",
                "complete 0.127s $0.00375000 in=1100 out=30 turns=1",
                "answer 2 + 2 = 4.",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Success);
        // The same run with the init's cwd and the result's figures taken out (as
        // some published transcripts are): the configured workdir stands in, and
        // the missing figures are zeros, not a failure.
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(FIXTURES)
            .join("thinking.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        let mut t = Translator::new(Path::new("/srv/project dir"));
        let mut events = Vec::new();
        for raw in text.lines() {
            let mut v: Value = serde_json::from_str(raw).unwrap();
            if let Some(o) = v.as_object_mut() {
                for key in [
                    "cwd",
                    "duration_ms",
                    "total_cost_usd",
                    "usage",
                    "modelUsage",
                    "num_turns",
                ] {
                    o.remove(key);
                }
            }
            events.extend(
                t.line(parse_line(&v.to_string()).unwrap())
                    .iter()
                    .map(summary),
            );
        }
        assert_eq!(
            events,
            [
                "init claude-sonnet-4-5-20250929 e780ee05-2657-4d85-8e03-73cf0de55bc8",
                "session cd '/srv/project dir' && claude --resume e780ee05-2657-4d85-8e03-73cf0de55bc8",
                "thinking The user wants a short answer. Two plus ",
                "text 2 + 2 = 4.",
                "complete 0s $0.00000000 in=0 out=0 turns=0",
                "answer 2 + 2 = 4.",
                "turn_ended",
            ]
        );
        assert_eq!(t.finish(&exited(0)).outcome, Outcome::Success);
    }

    #[test]
    fn sessions_new_then_resumed_keep_the_id() {
        let r = check(
            "session_id_new.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 11111111-2222-4333-8444-555555555555",
                "session cd /home/pi/projects/session_id_new && claude --resume 11111111-2222-4333-8444-555555555555",
                "text You said: first message",
                "complete 0.122s $0.00367500 in=1100 out=25 turns=1",
                "answer You said: first message",
                "turn_ended",
            ],
        );
        assert_eq!(
            r.translator.finish(&exited(0)).session_id.as_deref(),
            Some("11111111-2222-4333-8444-555555555555")
        );
        let r = check(
            "resume_same_id.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 11111111-2222-4333-8444-555555555555",
                "session cd /home/pi/projects/session_id_new && claude --resume 11111111-2222-4333-8444-555555555555",
                "text You said: second message",
                "complete 0.131s $0.00765000 in=1200 out=25 turns=1",
                "answer You said: second message",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Success);
    }

    #[test]
    fn resume_of_an_unknown_session_asks_for_a_retry() {
        let r = check("resume_unknown_session.jsonl", "/w", &["turn_ended"]);
        let facts = ExitFacts {
            resumed: true,
            ..exited(1)
        };
        assert_eq!(
            r.translator.finish(&facts),
            Finish {
                progress: None,
                outcome: Outcome::ResumeFailed,
                session_id: None,
            }
        );
        // Without --resume the same words are a plain failure, said out loud.
        let finish = r.translator.finish(&exited(1));
        assert_eq!(finish.outcome, Outcome::Failed);
        assert!(matches!(finish.progress, Some(Progress::Error { .. })));
    }

    #[test]
    fn not_logged_in_says_how_to_log_in() {
        let r = check(
            "not_logged_in.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 ca0887c6-a8aa-4ab9-848a-294ed50c96a6",
                "session cd /home/pi/projects/not_logged_in && claude --resume ca0887c6-a8aa-4ab9-848a-294ed50c96a6",
                "complete 0.113s $0.00000000 in=0 out=0 turns=1",
                "error Not logged in · Please run /login\nThe claude CLI on the server is not logged in: run `claude` once in a terminal as the server's user and log in with /login.",
                "turn_ended",
            ],
        );
        assert!(r.answers.is_empty());
        let finish = r.translator.finish(&exited(1));
        assert_eq!((finish.outcome, finish.progress), (Outcome::Failed, None));
    }

    #[test]
    fn api_error_mid_run_is_an_error_with_its_stats() {
        let r = check(
            "api_error.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 96f0edd5-9904-428e-863b-782cc18c08e0",
                "session cd /home/pi/projects/api_error && claude --resume 96f0edd5-9904-428e-863b-782cc18c08e0",
                "tool_start 1 Bash echo before the error",
                "tool_end 1 16B",
                "complete 0.554s $0.00367500 in=1100 out=25 turns=2",
                "error API Error: 400 mock-api: scripted failure",
                "turn_ended",
            ],
        );
        // The CLI's synthetic "API Error" assistant line is no answer.
        assert!(r.answers.is_empty());
        let finish = r.translator.finish(&exited(1));
        assert_eq!((finish.outcome, finish.progress), (Outcome::Failed, None));
    }

    /// Tool lines as the CLI prints them: an assistant line with the calls, then one
    /// user line per result (in any order), with the CLI's `tool_use_result`.
    fn tool_lines(calls: &[(&str, &str, Value)], results: &[(&str, &str, Value)]) -> Vec<String> {
        let blocks: Vec<Value> = calls
            .iter()
            .map(|(id, name, input)| {
                serde_json::json!({"type":"tool_use","id":id,"name":name,"input":input})
            })
            .collect();
        let mut lines = vec![
            serde_json::json!({"type":"assistant","message":{"id":"m1","content":blocks}})
                .to_string(),
        ];
        for (id, text, meta) in results {
            lines.push(
                serde_json::json!({"type":"user","message":{"role":"user","content":[
                    {"type":"tool_result","tool_use_id":id,"content":text}]},
                    "tool_use_result":meta})
                .to_string(),
            );
        }
        lines
    }

    #[test]
    fn parallel_calls_todo_lists_and_windows_paths() {
        // CLI 2.1.330 has no TodoWrite and runs on Linux here, so these shapes (from
        // published 2.1.4 transcripts) are written out rather than recorded.
        let init = r#"{"type":"system","subtype":"init","session_id":"s1","model":"m","cwd":"C:\\Users\\Human\\prj"}"#;
        let todos = serde_json::json!({"todos":[
            {"content":"Write the spec","status":"in_progress","activeForm":"Writing the spec"},
            {"content":"Write the code","status":"pending","activeForm":"Writing the code"},
            {"content":"Test","status":"pending","activeForm":"Testing"},
            {"content":"Ship","status":"pending","activeForm":"Shipping"}]});
        let mut lines = vec![init.to_string()];
        lines.extend(tool_lines(
            &[
                (
                    "t1",
                    "Read",
                    serde_json::json!({"file_path":"C:\\Users\\Human\\prj\\README.md"}),
                ),
                (
                    "t2",
                    "Glob",
                    serde_json::json!({"pattern":"specs/*.md","path":"C:/Users/Human/prj"}),
                ),
                ("t3", "TodoWrite", todos),
            ],
            &[
                // Results come back in another order than the calls.
                (
                    "t2",
                    "specs/a.md",
                    serde_json::json!({"filenames":["specs/a.md"]}),
                ),
                (
                    "t1",
                    "line 1\nline 2",
                    serde_json::json!({"file":{"numLines":2}}),
                ),
                ("t3", "Todos have been modified", Value::Null),
            ],
        ));
        let mut t = Translator::new(Path::new("/w"));
        let mut events = Vec::new();
        let mut progress = Vec::new();
        for raw in &lines {
            for emit in t.line(parse_line(raw).unwrap()) {
                events.push(summary(&emit));
                if let Emit::Progress(p) = emit {
                    progress.push(p);
                }
            }
        }
        assert_eq!(
            events[2..],
            [
                "tool_start 1 Read README.md",
                "tool_start 2 Glob specs/*.md",
                "tool_start 3 TodoWrite  +edit_info",
                "tool_end 2 10B",
                "tool_end 1 lines=2 13B",
                "tool_end 3 24B",
            ]
        );
        let todo = progress
            .iter()
            .find_map(|p| match p {
                Progress::ToolStart {
                    edit_info: Some(EditInfo::Todo { todos }),
                    ..
                } => Some(todos),
                _ => None,
            })
            .unwrap();
        assert_eq!(todo.len(), 4);
        assert_eq!(todo[0]["status"], "in_progress");
    }

    #[test]
    fn max_turns_has_no_result_text_but_a_clear_error() {
        let r = check(
            "error_max_turns.jsonl",
            "/home/pi/projects/error_max_turns",
            &[
                "init claude-sonnet-4-5-20250929 13083ab4-2b9a-4ed2-8303-e3dc2320fc40",
                "session cd /home/pi/projects/error_max_turns && claude --resume 13083ab4-2b9a-4ed2-8303-e3dc2320fc40",
                "tool_start 1 Bash echo step 0",
                "tool_end 1 6B",
                "tool_start 2 Bash echo step 1",
                "tool_end 2 6B",
                "complete 0.283s $0.00738000 in=2210 out=50 turns=3",
                "error Claude stopped before finishing: Reached maximum number of turns (2). Send another prompt to let it continue.",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Failed);
    }

    #[test]
    fn permission_denied_headless_shows_the_refusal_as_a_failed_tool() {
        let r = check(
            "permission_denied_headless.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 af114bd9-33b2-4356-8087-d198d5673945",
                "session cd /home/pi/projects/permission_denied_headless && claude --resume af114bd9-33b2-4356-8087-d198d5673945",
                "tool_start 1 Bash rm -rf ./build-output",
                "tool_end 1 error 276B",
                "text I was not allowed to run that command, s",
                "complete 0.257s $0.00738000 in=2210 out=50 turns=2",
                "answer I was not allowed to run that command, s",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Success);
    }

    #[test]
    fn sigint_is_a_stop_when_we_asked_and_an_error_when_we_did_not() {
        let expect_head = [
            "init claude-sonnet-4-5-20250929 425ef47f-3fba-4681-80bf-929aa8d37c3b",
            "session cd /home/pi/projects/sigint_partial_messages && claude --resume 425ef47f-3fba-4681-80bf-929aa8d37c3b",
        ];
        let r = replay("sigint_partial_messages.jsonl", "/w");
        assert_eq!(r.events[..2], expect_head);
        let deltas = r.events.iter().filter(|e| e.starts_with("delta")).count();
        assert_eq!(deltas, 10);
        let n = r.events.len();
        // The CLI zeroes `usage` after an interruption; modelUsage has the totals.
        assert_eq!(
            r.events[n - 4..],
            [
                "text word0 word1 word2 word3 word4 word5 word",
                "complete 0.691s $0.00352500 in=1100 out=15 turns=2",
                "error Claude Code ended the turn with an error: [ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null",
                "turn_ended",
            ]
        );
        // The same transcript, when the runner had asked for the stop.
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(FIXTURES)
            .join("sigint_partial_messages.jsonl");
        let text = std::fs::read_to_string(path).unwrap();
        let mut t = Translator::new(Path::new("/w"));
        let mut last = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            if n == 5 {
                t.stop_requested(StopReason::Requested);
            }
            last = t.line(parse_line(raw).unwrap());
        }
        assert_eq!(
            last.iter().map(summary).collect::<Vec<_>>(),
            [
                "complete 0.691s $0.00352500 in=1100 out=15 turns=2",
                "turn_ended"
            ]
        );
        let finish = t.finish(&ExitFacts {
            stop: Some(StopReason::Requested),
            ..exited(0)
        });
        assert_eq!(
            (finish.outcome, finish.progress),
            (
                Outcome::Stopped,
                Some(Progress::Stopped {
                    message: "Stopped on request.".into()
                })
            )
        );
    }

    #[test]
    fn stdin_fixtures_translate_turn_by_turn() {
        let r = check(
            "stdin_init.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 f28759bd-be81-47b9-8c89-d01944965cb2",
                "session cd /home/pi/projects/stdin_init && claude --resume f28759bd-be81-47b9-8c89-d01944965cb2",
                "text You said: hello after init",
                "complete 0.133s $0.00367500 in=1100 out=25 turns=1",
                "answer You said: hello after init",
                "turn_ended",
            ],
        );
        assert_eq!(r.answers.len(), 1);
        // Two turns in one process: the session is announced once, each turn answers.
        let r = check(
            "stdin_multi.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 68c94ae3-366b-470f-8c3b-505a0e281583",
                "session cd /home/pi/projects/stdin_multi && claude --resume 68c94ae3-366b-470f-8c3b-505a0e281583",
                "text You said: first turn: remember the word ",
                "complete 0.141s $0.00367500 in=1100 out=25 turns=1",
                "answer You said: first turn: remember the word ",
                "turn_ended",
                "text You said: second turn: what word did I a",
                "complete 0.04s $0.00765000 in=1200 out=25 turns=1",
                "answer You said: second turn: what word did I a",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Success);
        for name in ["stdin_perm.jsonl", "stdin_perm_deny.jsonl"] {
            let r = replay(name, "/w");
            assert_eq!(
                r.events[2], "tool_start 1 Bash touch approved.txt",
                "{name}"
            );
        }
        // The CLI asks, then (allowed) the command ran, or (denied) the model read
        // the denial's message.
        let r = replay("stdin_perm.jsonl", "/w");
        assert_eq!(
            r.events[3],
            "approval Bash 8baadaf7-70d9-40e7-b5f1-6f6f9ac093d5"
        );
        assert_eq!(r.events[4], "tool_end 1 31B");
        assert_eq!(
            r.answers,
            ["Done. The tool said: (Bash completed with no output)"]
        );
        let r = replay("stdin_perm_deny.jsonl", "/w");
        assert!(r.events[3].starts_with("approval Bash "), "{:?}", r.events);
        assert_eq!(r.events[4], "tool_end 1 error 26B");
        assert_eq!(
            r.answers,
            ["Done. The tool said: Not now: the user said no."]
        );
    }

    #[test]
    fn stdin_interrupt_then_a_second_turn() {
        let r = replay("stdin_interrupt.jsonl", "/w");
        let turn_ends: Vec<usize> = r
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| *e == "turn_ended")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(turn_ends.len(), 2);
        assert_eq!(
            r.events[turn_ends[0] - 1],
            "error Claude Code ended the turn with an error: [ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null"
        );
        assert_eq!(
            r.events[turn_ends[1] - 2],
            "complete 2.491s $0.00735000 in=1200 out=25 turns=1"
        );
        assert_eq!(r.answers.len(), 1);
        assert!(r.answers[0].ends_with("word38 word39"), "{}", r.answers[0]);
    }

    fn translator_after(lines: &[&str]) -> Translator {
        let mut t = Translator::new(Path::new("/w"));
        for raw in lines {
            match parse_line(raw) {
                Ok(line) => {
                    t.line(line);
                }
                Err(e) => t.bad_line(raw, &e),
            }
        }
        t
    }

    const INIT: &str =
        r#"{"type":"system","subtype":"init","session_id":"s1","model":"m","cwd":"/w"}"#;

    #[test]
    fn runs_without_a_result_explain_themselves() {
        let tail = vec!["Error: boom".to_string(), "at main.js:1".to_string()];
        let check = |lines: &[&str], exit: ExitKind, stderr: &[String], expect: &str| {
            let finish = translator_after(lines).finish(&ExitFacts {
                exit,
                stderr_tail: stderr.to_vec(),
                stop: None,
                resumed: false,
            });
            assert_eq!(finish.outcome, Outcome::Failed);
            assert_eq!(
                finish.progress,
                Some(Progress::Error {
                    message: expect.into()
                })
            );
        };
        check(
            &[],
            ExitKind::Code(1),
            &tail,
            "Claude Code exited (exit status 1) before printing anything.\nThe last lines of its error output:\nError: boom\nat main.js:1",
        );
        check(
            &[],
            ExitKind::Code(1),
            &[],
            "Claude Code exited (exit status 1) before printing anything. It printed no error output either: try `claude -p hello` in a terminal as the server's user.",
        );
        check(
            &[INIT, "garbage"],
            ExitKind::Signal(9),
            &[],
            "Claude Code stopped in the middle of the turn without a result (signal 9 (SIGKILL)). 1 unreadable line(s) were skipped. On a small machine a kill like this often means it ran out of memory.",
        );
        check(
            &["Usage: claude [options]", "  -p, --print"],
            ExitKind::Code(0),
            &[],
            "Claude Code printed output this server cannot read (exit status 0); is `claude` the Claude Code CLI, version 2 or later? Its first line: Usage: claude [options]",
        );
    }

    #[test]
    fn stops_and_timeouts_are_reported_as_stops() {
        let t = translator_after(&[INIT]);
        let finish = t.finish(&ExitFacts {
            stop: Some(StopReason::Timeout(Duration::from_secs(1800))),
            ..exited(143)
        });
        assert_eq!(
            finish,
            Finish {
                progress: Some(Progress::Stopped {
                    message: "Stopped: the run went past its time limit of 30 min.".into()
                }),
                outcome: Outcome::TimedOut,
                session_id: Some("s1".into()),
            }
        );
        // A stop that arrives after the answer is too late to change anything.
        let t = translator_after(&[
            INIT,
            r#"{"type":"result","subtype":"success","is_error":false,"result":"done"}"#,
        ]);
        let finish = t.finish(&ExitFacts {
            stop: Some(StopReason::Requested),
            ..exited(0)
        });
        assert_eq!((finish.outcome, finish.progress), (Outcome::Success, None));
    }

    #[test]
    fn details_for_the_other_tools() {
        let check = |tool: &str, input: Value, expect: &str| {
            let t = translator_after(&[INIT]);
            assert_eq!(t.detail(tool, &input), expect, "{tool}");
        };
        check(
            "Read",
            serde_json::json!({"file_path": "/w/src/a.rs"}),
            "src/a.rs",
        );
        check("Read", serde_json::json!({"file_path": "/w"}), ".");
        check(
            "Read",
            serde_json::json!({"file_path": "/wx/a.rs"}),
            "/wx/a.rs",
        );
        check(
            "Read",
            serde_json::json!({"file_path": "/etc/hosts"}),
            "/etc/hosts",
        );
        check(
            "Grep",
            serde_json::json!({"pattern": "fn main", "path": "/w"}),
            "fn main",
        );
        check(
            "Glob",
            serde_json::json!({"pattern": "**/*.rs", "path": "/w/src"}),
            "**/*.rs in src",
        );
        check(
            "WebFetch",
            serde_json::json!({"url": "https://x.org/a", "prompt": "p"}),
            "https://x.org/a",
        );
        check(
            "WebSearch",
            serde_json::json!({"query": "rust sigint"}),
            "rust sigint",
        );
        check(
            "Task",
            serde_json::json!({"description": "Find tests", "prompt": "p"}),
            "Find tests",
        );
        check("mcp__x__y", serde_json::json!({"a": 1}), "");
        let long = "é".repeat(150);
        check(
            "Bash",
            serde_json::json!({"command": long}),
            &"é".repeat(100),
        );
    }

    #[test]
    fn edit_texts_are_cut_at_500_characters() {
        let t = translator_after(&[INIT]);
        let long = "x".repeat(700);
        let input = serde_json::json!({"file_path": "/w/a", "old_string": long, "new_string": "y"});
        assert_eq!(
            t.edit_info("Edit", &input),
            Some(EditInfo::Edit {
                file: "a".into(),
                old: "x".repeat(500),
                new: "y".into()
            })
        );
        let input = serde_json::json!({"todos": [{"content": long, "status": "pending"}]});
        let Some(EditInfo::Todo { todos }) = t.edit_info("TodoWrite", &input) else {
            panic!("no todo info")
        };
        assert_eq!(todos[0]["content"].as_str().map(str::len), Some(500));
        assert_eq!(todos[0]["status"], "pending");
    }

    #[test]
    fn tool_output_is_cut_with_its_full_size() {
        let mut t = translator_after(&[INIT]);
        let big = "a".repeat(5000);
        let line = serde_json::json!({"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "unknown", "content": big}]}})
        .to_string();
        let out = t.line(parse_line(&line).unwrap());
        let Emit::Progress(Progress::ToolEnd {
            output,
            output_bytes,
            turn,
            ..
        }) = &out[0]
        else {
            panic!("{out:?}")
        };
        assert_eq!((output.len(), *output_bytes, *turn), (2000, 5000, 0));
    }

    #[test]
    fn thinking_is_forwarded_and_sub_agents_narration_is_not() {
        let mut t = translator_after(&[INIT]);
        let line = r#"{"type":"assistant","message":{"id":"m","content":[{"type":"thinking","thinking":"hmm","signature":"x"},{"type":"redacted_thinking","data":"x"},{"type":"text","text":"hi"}]},"parent_tool_use_id":null}"#;
        let out: Vec<String> = t
            .line(parse_line(line).unwrap())
            .iter()
            .map(summary)
            .collect();
        assert_eq!(out, ["thinking hmm", "text hi"]);
        let line = r#"{"type":"assistant","message":{"id":"m","content":[{"type":"text","text":"sub"},{"type":"tool_use","id":"t9","name":"Read","input":{"file_path":"/w/x"}}]},"parent_tool_use_id":"t1"}"#;
        let out: Vec<String> = t
            .line(parse_line(line).unwrap())
            .iter()
            .map(summary)
            .collect();
        assert_eq!(out, ["tool_start 1 Read x"]);
        let line = r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"sub"}},"parent_tool_use_id":"t1"}"#;
        assert!(t.line(parse_line(line).unwrap()).is_empty());
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(1800)), "30 min");
        assert_eq!(human_duration(Duration::from_secs(5400)), "1 h 30 min");
        assert_eq!(human_duration(Duration::from_secs(90)), "1 min 30 s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250 ms");
    }
}
