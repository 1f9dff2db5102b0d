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
    ApiEvent, Assistant, AssistantBlock, Delta, Line, ParseError, ResultLine, ResultSubtype,
    StreamEvent, System, User, UserBlock, UserContent,
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
            Line::ControlRequest(req) => {
                // Tool approvals need `--permission-prompt-tool stdio`, which this
                // runner does not pass yet; a request here would go unanswered.
                log::warn!("claude sent a control request this runner does not answer: {req:?}");
            }
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

    const FIXTURES: &str = "../shared/fixtures/stream-json";

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
                    Emit::TurnEnded => {}
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
            "local_v2.1.330_tools_write_bash_edit.jsonl",
            "/elsewhere",
            &[
                "init claude-sonnet-4-5-20250929 84770548-4d5d-4999-b163-a9bfbc86b7aa",
                "session cd /home/pi/projects/tools && claude --resume 84770548-4d5d-4999-b163-a9bfbc86b7aa",
                "text I'll create the file first.",
                "tool_start 1 Write hello.txt +edit_info",
                "tool_end 1 131B",
                "tool_start 2 Bash cat hello.txt",
                "tool_end 2 13B",
                "tool_start 3 Edit hello.txt +edit_info",
                "tool_end 3 141B",
                "text Created hello.txt, printed it, and chang",
                "complete 0.404s $0.02587860 in=28736 out=115 turns=4",
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
                tool_use_id: "toolu_01Mock36a9cbbe00de4ff98d".into(),
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
                session_id: Some("84770548-4d5d-4999-b163-a9bfbc86b7aa".into()),
            }
        );
    }

    #[test]
    fn partial_messages_stream_text_then_send_the_block() {
        let r = check(
            "local_v2.1.330_partial_messages_tools.jsonl",
            "/home/pi/projects/partial",
            &[
                "init claude-sonnet-4-5-20250929 be8492f8-924b-4ecd-bd9e-69387a8e4337",
                "session cd /home/pi/projects/partial && claude --resume be8492f8-924b-4ecd-bd9e-69387a8e4337",
                "delta I'll create the ",
                "delta file first.",
                "text I'll create the file first.",
                "tool_start 1 Write hello.txt +edit_info",
                "tool_end 1 133B",
                "tool_start 2 Bash cat hello.txt",
                "tool_end 2 13B",
                "tool_start 3 Edit hello.txt +edit_info",
                "tool_end 3 143B",
                "delta Created hello.txt, printed ",
                "delta it, and changed ",
                "delta 'world' to 'stream-json'.",
                "text Created hello.txt, printed it, and chang",
                "complete 0.562s $0.02249940 in=43072 out=115 turns=4",
                "answer Created hello.txt, printed it, and chang",
                "turn_ended",
            ],
        );
        // The deltas add up to the block that replaces them.
        let deltas: String = r
            .progress
            .iter()
            .skip(11)
            .take(3)
            .map(|p| match p {
                Progress::TextDelta { text } => text.as_str(),
                _ => panic!("not a delta: {p:?}"),
            })
            .collect();
        assert_eq!(
            r.progress[14],
            Progress::Text {
                text: deltas.clone(),
                html: None,
            }
        );
        assert_eq!(r.answers, [deltas]);
    }

    #[test]
    fn smallest_run_and_haiku_without_stats() {
        let r = check(
            "public_v2.1.7_basic_query_golden.jsonl",
            "/home/cyou/claude-agent-sdk-gleam",
            &[
                "init claude-opus-4-5-20251101 1d1e46f9-35c7-4834-b529-846d5bb82288",
                "session cd /home/cyou/claude-agent-sdk-gleam && claude --resume 1d1e46f9-35c7-4834-b529-846d5bb82288",
                "text 4",
                "complete 2.36s $0.13548750 in=10 out=25 turns=1",
                "answer 4",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Success);
        // Sanitised by its author: no cwd, no stats. The configured workdir stands in.
        let r = check(
            "public_v2.1.220_partial_messages_haiku_sanitized.jsonl",
            "/srv/project dir",
            &[
                "init claude-haiku-4-5-20251001 claude-haiku-alias-session",
                "session cd '/srv/project dir' && claude --resume claude-haiku-alias-session",
                "delta HAIKU GOLDEN COMPLETE",
                "text HAIKU GOLDEN COMPLETE",
                "complete 0s $0.00000000 in=0 out=0 turns=0",
                "answer HAIKU GOLDEN COMPLETE",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Success);
    }

    #[test]
    fn sessions_new_then_resumed_keep_the_id() {
        let r = check(
            "local_v2.1.330_session_id_new.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 11111111-2222-4333-8444-555555555555",
                "session cd /home/pi/projects/session && claude --resume 11111111-2222-4333-8444-555555555555",
                "text You said: first message",
                "complete 0.263s $0.00812400 in=13 out=27 turns=1",
                "answer You said: first message",
                "turn_ended",
            ],
        );
        assert_eq!(
            r.translator.finish(&exited(0)).session_id.as_deref(),
            Some("11111111-2222-4333-8444-555555555555")
        );
        let r = check(
            "local_v2.1.330_resume_same_id.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 11111111-2222-4333-8444-555555555555",
                "session cd /home/pi/projects/session && claude --resume 11111111-2222-4333-8444-555555555555",
                "text You said: second message",
                "complete 0.357s $0.01287480 in=14351 out=27 turns=1",
                "answer You said: second message",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Success);
    }

    #[test]
    fn resume_of_an_unknown_session_asks_for_a_retry() {
        let r = check(
            "local_v2.1.330_resume_unknown_session.jsonl",
            "/w",
            &["turn_ended"],
        );
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
            "local_v2.1.330_not_logged_in.jsonl",
            "/w",
            &[
                "init claude-opus-5-5 d5719471-749c-4b2c-8199-3d98c8d903bb",
                "session cd /home/pi/projects/exp && claude --resume d5719471-749c-4b2c-8199-3d98c8d903bb",
                "complete 0.174s $0.00000000 in=0 out=0 turns=1",
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
        let r = replay("public_v2.1.4_api_error_500_mid_run.jsonl", "/w");
        let n = r.events.len();
        assert_eq!(
            r.events[n - 3..],
            [
                "complete 266.193s $0.38886945 in=292038 out=3671 turns=18",
                "error API Error: 500 {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"},\"request_id\":\"req_011CX7HaqAMfRL4GKbdQarW7\"}",
                "turn_ended",
            ]
        );
        assert!(r.answers.is_empty());
        // Windows paths in both spellings are shown relative to the project.
        let details: Vec<&str> = r
            .events
            .iter()
            .filter(|e| e.starts_with("tool_start"))
            .map(String::as_str)
            .collect();
        assert_eq!(details.len(), 17);
        assert_eq!(details[0], "tool_start 1 Read ai-coder/PHILOSOPHY.md");
        assert_eq!(details[3], "tool_start 4 Glob specs/*.md");
        assert_eq!(
            details[16],
            "tool_start 17 Bash cat /c/Users/Human/Desktop/prjx/vecsum/r"
        );
        let errors = r
            .progress
            .iter()
            .filter(|p| matches!(p, Progress::ToolEnd { is_error: true, .. }))
            .count();
        assert_eq!(errors, 4);
        let finish = r.translator.finish(&exited(1));
        assert_eq!((finish.outcome, finish.progress), (Outcome::Failed, None));
    }

    #[test]
    fn todowrite_write_edit_bash_long_run() {
        let r = replay("public_v2.1.4_todowrite_write_edit_bash.jsonl", "/w");
        let starts: Vec<&Progress> = r
            .progress
            .iter()
            .filter(|p| matches!(p, Progress::ToolStart { .. }))
            .collect();
        let ends = r
            .progress
            .iter()
            .filter(|p| matches!(p, Progress::ToolEnd { .. }))
            .count();
        assert_eq!((starts.len(), ends), (28, 28));
        let pick = |turn: u64| -> String {
            let p = starts
                .iter()
                .find(|p| matches!(p, Progress::ToolStart { turn: t, .. } if *t == turn))
                .unwrap();
            summary(&Emit::Progress((*p).clone()))
        };
        assert_eq!(pick(1), "tool_start 1 Read README.md");
        assert_eq!(pick(2), "tool_start 2 Glob ./specs/*.md");
        assert_eq!(pick(4), "tool_start 4 Bash ls -la");
        assert_eq!(pick(20), "tool_start 20 TodoWrite  +edit_info");
        assert_eq!(
            pick(22),
            "tool_start 22 Write code\\src\\main.rs +edit_info"
        );
        // Parallel calls: each result names the call it answers, and Reads their lines.
        assert!(
            r.events.contains(&"tool_end 1 lines=21 1514B".to_string()),
            "{:#?}",
            r.events
        );
        let todo = starts
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
        let n = r.events.len();
        assert_eq!(
            r.events[n - 3..n - 1],
            [
                "complete 215.056s $0.45500040 in=410473 out=7295 turns=29",
                "answer Perfect! I've successfully generated the",
            ]
        );
        assert!(r.answers[0].ends_with("minimal viable project philosophy."));
    }

    #[test]
    fn max_turns_has_no_result_text_but_a_clear_error() {
        let r = check(
            "local_v2.1.330_error_max_turns.jsonl",
            "/home/pi/projects/maxturns",
            &[
                "init claude-sonnet-4-5-20250929 09dd244a-8c36-4a46-bf28-a455b4b3c9c1",
                "session cd /home/pi/projects/maxturns && claude --resume 09dd244a-8c36-4a46-bf28-a455b4b3c9c1",
                "tool_start 1 Bash echo step 0",
                "tool_end 1 6B",
                "tool_start 2 Bash echo step 1",
                "tool_end 2 6B",
                "complete 0.594s $0.00949560 in=28700 out=54 turns=3",
                "error Claude stopped before finishing: Reached maximum number of turns (2). Send another prompt to let it continue.",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Failed);
    }

    #[test]
    fn permission_denied_headless_shows_the_refusal_as_a_failed_tool() {
        let r = check(
            "local_v2.1.330_permission_denied_headless.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 2fa0944e-046c-4f44-8089-7099a4a64e73",
                "session cd /home/pi/projects/deny && claude --resume 2fa0944e-046c-4f44-8089-7099a4a64e73",
                "tool_start 1 Bash rm -rf ./build-output",
                "tool_end 1 error 232B",
                "text I was not allowed to run that command, s",
                "complete 0.218s $0.01287480 in=14364 out=54 turns=2",
                "answer I was not allowed to run that command, s",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Success);
    }

    #[test]
    fn sigint_is_a_stop_when_we_asked_and_an_error_when_we_did_not() {
        let expect_head = [
            "init claude-sonnet-4-5-20250929 f724b87a-c279-4d85-ac8f-a71f9eeb8dd2",
            "session cd /home/pi/projects/sig_INT && claude --resume f724b87a-c279-4d85-ac8f-a71f9eeb8dd2",
        ];
        let r = replay("local_v2.1.330_sigint_partial_messages.jsonl", "/w");
        assert_eq!(r.events[..2], expect_head);
        let deltas = r.events.iter().filter(|e| e.starts_with("delta")).count();
        assert_eq!(deltas, 10);
        let n = r.events.len();
        // The CLI zeroes `usage` after an interruption; modelUsage has the totals.
        assert_eq!(
            r.events[n - 4..],
            [
                "text word0 word1 word2 word3 word4 word5 word",
                "complete 2.532s $0.00508980 in=14349 out=50 turns=2",
                "error Claude Code ended the turn with an error: [ede_diagnostic] result_type=user last_content_type=n/a stop_reason=null",
                "turn_ended",
            ]
        );
        // The same transcript, when the runner had asked for the stop.
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(FIXTURES)
            .join("local_v2.1.330_sigint_partial_messages.jsonl");
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
                "complete 2.532s $0.00508980 in=14349 out=50 turns=2",
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
            "local_v2.1.330_stdin_init.stdout.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 70b1c8d6-02b2-4a4f-b5d4-0339363b731a",
                "session cd /home/pi/projects/in_init && claude --resume 70b1c8d6-02b2-4a4f-b5d4-0339363b731a",
                "text You said: SCENARIO_MULTI hello after ini",
                "complete 0.199s $0.00812400 in=13 out=27 turns=1",
                "answer You said: SCENARIO_MULTI hello after ini",
                "turn_ended",
            ],
        );
        assert_eq!(r.answers.len(), 1);
        // Two turns in one process: the session is announced once, each turn answers.
        let r = check(
            "local_v2.1.330_stdin_multi.stdout.jsonl",
            "/w",
            &[
                "init claude-sonnet-4-5-20250929 877babed-54de-446d-9cba-0a3a0ef5f005",
                "session cd /home/pi/projects/in_multi && claude --resume 877babed-54de-446d-9cba-0a3a0ef5f005",
                "text You said: first turn: remember the word ",
                "complete 0.229s $0.00474480 in=14349 out=27 turns=1",
                "answer You said: first turn: remember the word ",
                "turn_ended",
                "text You said: second turn: what word did I a",
                "complete 0.05s $0.00949560 in=14351 out=27 turns=1",
                "answer You said: second turn: what word did I a",
                "turn_ended",
            ],
        );
        assert_eq!(r.translator.finish(&exited(0)).outcome, Outcome::Success);
        for name in [
            "local_v2.1.330_stdin_perm.stdout.jsonl",
            "local_v2.1.330_stdin_perm_deny.stdout.jsonl",
        ] {
            let r = replay(name, "/w");
            assert_eq!(
                r.events[2], "tool_start 1 Bash touch perm-granted.txt",
                "{name}"
            );
            assert_eq!(r.answers, ["Done: the marker file exists now."], "{name}");
        }
        let r = replay("local_v2.1.330_stdin_perm_deny.stdout.jsonl", "/w");
        assert_eq!(r.events[3], "tool_end 1 error 35B");
    }

    #[test]
    fn stdin_interrupt_then_a_second_turn() {
        let r = replay("local_v2.1.330_stdin_interrupt.stdout.jsonl", "/w");
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
            "complete 3.567s $0.00945060 in=14351 out=27 turns=1"
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
