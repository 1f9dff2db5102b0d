//! Browser frames: the JSON text frames on `/ws`, both ways.
//!
//! This is the only module that knows the browser's wire format. It parses what a
//! browser sends into [`ClientMsg`] (with a typed [`FrameError`] for everything that
//! is not a valid frame) and serialises [`Event`]s, stamped with their `seq`. The
//! shapes stay compatible with the original Chat Socket server (see docs/PROTOCOL.md);
//! fields it did not have are additions a browser can ignore.

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// Longest queue-item excerpt sent in `queue_status`, as the original server did.
pub const QUEUE_EXCERPT_CHARS: usize = 50;

/// One frame from a browser, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMsg {
    /// A prompt for Claude. `client_id` is an opaque tag the page may attach so it
    /// can recognise the echo of its own prompt (outbox delivery receipts).
    Message {
        username: String,
        message: String,
        client_id: Option<String>,
        /// Files in the workdir to show Claude (images as image blocks, the rest
        /// as `@path` mentions); checked for shape here, for confinement when read.
        attachments: Vec<String>,
    },
    Command(Command),
    /// Sent once after connecting: replay what came after `last_seq`.
    Hello {
        last_seq: Option<u64>,
    },
    /// Application-level keep-alive (the original page pings every 5 minutes to
    /// keep an ngrok tunnel busy). Answered with nothing: the traffic is the point.
    Ping,
    /// An answer to a pending `approval` (owner only).
    Approval(ApprovalAnswer),
    /// Run a shell command in the workdir (owner only); the frame's `id` is echoed
    /// in `shell_start` as `client_id`.
    Shell {
        command: String,
        username: String,
    },
    /// Stop shell command `id` (the `id` of its `shell_start`).
    ShellStop {
        id: u64,
    },
    /// The page is now visible or hidden (owner only): with `--notify away`, no
    /// notification goes out while an owner's page is visible.
    Visibility {
        visible: bool,
    },
}

/// The decision of an `approval` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    AllowAlways,
    Deny,
}

/// Where "allow always" is remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// For this Claude session only.
    Session,
    /// In the project's `.claude/settings.local.json`, written by the CLI, so a
    /// `claude` in a terminal obeys it too.
    Local,
}

/// The permission modes a page may choose (never `bypassPermissions`: that stays
/// a server flag).
pub const PAGE_MODES: &[&str] = &["default", "acceptEdits", "plan"];

/// `{"type":"approval","id":...,"decision":...}`: one person's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalAnswer {
    pub id: String,
    pub decision: Decision,
    pub destination: Destination,
    /// Deny: the reason the model reads; plan: the feedback.
    pub message: Option<String>,
    /// AskUserQuestion: question text -> a label, labels, or typed text.
    pub answers: Option<Map<String, Value>>,
    /// Plan approval: the mode to continue in (`acceptEdits` unless `default`).
    pub mode: Option<String>,
    /// Deny and end the turn.
    pub interrupt: bool,
}

impl ApprovalAnswer {
    /// A plain decision on approval `id`: for this session, no message, no answers
    /// (a notification's button, a messenger's, a test's).
    pub fn decision(id: &str, decision: Decision) -> ApprovalAnswer {
        ApprovalAnswer {
            id: id.to_string(),
            decision,
            destination: Destination::Session,
            message: None,
            answers: None,
            mode: None,
            interrupt: false,
        }
    }
}

/// A `{"type":"command"}` frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start a new Claude session.
    Clear,
    /// Ask for a `usage_status` event.
    RequestUsage,
    /// Exit with code 100 so the supervisor starts the server again.
    Restart,
    /// Stop the running turn.
    Stop,
    /// Drop a queued prompt by its id.
    Cancel { id: u64 },
    /// List the Claude sessions of the workdir (a `sessions` reply to this client).
    Sessions,
    /// Continue an earlier Claude session (from `sessions`) from the next prompt on.
    Resume { session: String },
    /// Switch the session's permission mode (one of [`PAGE_MODES`]).
    PermissionMode { mode: String },
}

/// Why a browser frame was refused. Each variant is answered with an `error` frame
/// to that browser alone; the connection stays open.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameError {
    /// Not JSON, or not a JSON object.
    Malformed(String),
    /// A JSON object without a string `type`.
    MissingType,
    /// A `type` this server does not know.
    UnknownType(String),
    /// A `command` this server does not know.
    UnknownCommand(String),
    /// A known frame with a missing or mistyped field.
    BadField(&'static str),
    /// A binary frame: this protocol is text only.
    Binary,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Malformed(why) => write!(f, "frame is not a JSON object: {why}"),
            FrameError::MissingType => write!(f, "frame has no string \"type\" field"),
            FrameError::UnknownType(t) => write!(f, "unknown frame type {t:?}"),
            FrameError::UnknownCommand(c) => write!(f, "unknown command {c:?}"),
            FrameError::BadField(name) => {
                write!(f, "field {name:?} is missing or has the wrong type")
            }
            FrameError::Binary => write!(f, "binary frames are not supported; send JSON text"),
        }
    }
}

/// A client frame's `id`, echoed by the answer to it (an `error`, a `sessions`
/// list, and the approvals and files that build on this): a string or a number,
/// whatever the client chose. Frames without one are answered without one.
pub type RequestId = Value;

/// A parsed browser frame with the id its answer must echo.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: Option<RequestId>,
    pub msg: ClientMsg,
}

/// A refused browser frame, with its id when it had a usable one.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub id: Option<RequestId>,
    pub error: FrameError,
}

/// Parses one text frame from a browser.
pub fn parse_request(text: &str) -> Result<Request, Refused> {
    let value: Value = serde_json::from_str(text).map_err(|e| Refused {
        id: None,
        error: FrameError::Malformed(e.to_string()),
    })?;
    let id = value
        .get("id")
        .filter(|v| v.is_string() || v.is_u64())
        .filter(|v| v.as_str().is_none_or(|s| s.len() <= MAX_REQUEST_ID))
        .cloned();
    match parse_value(value) {
        Ok(msg) => Ok(Request { id, msg }),
        Err(error) => Err(Refused { id, error }),
    }
}

/// The body of `POST /api/approvals/<id>`: the `approval` frame's fields, the id
/// from the path.
pub fn parse_http_approval(id: &str, body: &[u8]) -> Result<ApprovalAnswer, FrameError> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))?;
    let Value::Object(obj) = &mut value else {
        return Err(FrameError::Malformed("expected an object".into()));
    };
    obj.insert("type".into(), "approval".into());
    obj.insert("id".into(), id.into());
    match parse_value(value)? {
        ClientMsg::Approval(a) => Ok(a),
        _ => Err(FrameError::MissingType),
    }
}

/// Longest string `id` echoed back.
const MAX_REQUEST_ID: usize = 128;

/// Parses one text frame from a browser, ignoring its `id`.
#[cfg(test)]
pub fn parse_client(text: &str) -> Result<ClientMsg, FrameError> {
    parse_request(text).map(|r| r.msg).map_err(|r| r.error)
}

fn parse_value(value: Value) -> Result<ClientMsg, FrameError> {
    let Value::Object(obj) = value else {
        return Err(FrameError::Malformed("expected an object".into()));
    };
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or(FrameError::MissingType)?;
    match kind {
        "message" => {
            let message = str_field(&obj, "message")?.ok_or(FrameError::BadField("message"))?;
            let username = str_field(&obj, "username")?.unwrap_or_else(|| "User".to_string());
            let client_id = str_field(&obj, "client_id")?;
            let attachments = attachments(&obj)?;
            Ok(ClientMsg::Message {
                username,
                message,
                client_id,
                attachments,
            })
        }
        "command" => {
            let command = str_field(&obj, "command")?.ok_or(FrameError::BadField("command"))?;
            let cmd = match command.as_str() {
                "clear" => Command::Clear,
                "request_usage" => Command::RequestUsage,
                "restart" => Command::Restart,
                "stop" => Command::Stop,
                "cancel" => Command::Cancel {
                    id: obj
                        .get("id")
                        .and_then(Value::as_u64)
                        .ok_or(FrameError::BadField("id"))?,
                },
                "sessions" => Command::Sessions,
                "permission_mode" => Command::PermissionMode {
                    mode: str_field(&obj, "mode")?
                        .filter(|m| PAGE_MODES.contains(&m.as_str()))
                        .ok_or(FrameError::BadField("mode"))?,
                },
                "resume" => Command::Resume {
                    session: str_field(&obj, "session")?
                        .filter(|s| is_session_id(s))
                        .ok_or(FrameError::BadField("session"))?,
                },
                _ => return Err(FrameError::UnknownCommand(command)),
            };
            Ok(ClientMsg::Command(cmd))
        }
        "hello" => {
            let last_seq = match obj.get("last_seq") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().ok_or(FrameError::BadField("last_seq"))?),
            };
            Ok(ClientMsg::Hello { last_seq })
        }
        "ping" => Ok(ClientMsg::Ping),
        "shell" => {
            let command = str_field(&obj, "command")?
                .filter(|c| !c.trim().is_empty())
                .ok_or(FrameError::BadField("command"))?;
            let username = str_field(&obj, "username")?.unwrap_or_else(|| "User".to_string());
            Ok(ClientMsg::Shell { command, username })
        }
        "shell_stop" => Ok(ClientMsg::ShellStop {
            id: obj
                .get("id")
                .and_then(Value::as_u64)
                .ok_or(FrameError::BadField("id"))?,
        }),
        "visibility" => match obj.get("visible") {
            Some(Value::Bool(visible)) => Ok(ClientMsg::Visibility { visible: *visible }),
            _ => Err(FrameError::BadField("visible")),
        },
        "approval" => {
            let id = str_field(&obj, "id")?
                .filter(|s| !s.is_empty() && s.len() <= 128)
                .ok_or(FrameError::BadField("id"))?;
            let decision = match str_field(&obj, "decision")?.as_deref() {
                Some("allow") => Decision::Allow,
                Some("allow_always") => Decision::AllowAlways,
                Some("deny") => Decision::Deny,
                _ => return Err(FrameError::BadField("decision")),
            };
            let destination = match str_field(&obj, "destination")?.as_deref() {
                None | Some("session") => Destination::Session,
                Some("local") => Destination::Local,
                Some(_) => return Err(FrameError::BadField("destination")),
            };
            let answers = match obj.get("answers") {
                None | Some(Value::Null) => None,
                Some(Value::Object(m)) => Some(m.clone()),
                Some(_) => return Err(FrameError::BadField("answers")),
            };
            let mode = str_field(&obj, "mode")?;
            if mode
                .as_deref()
                .is_some_and(|m| !["default", "acceptEdits"].contains(&m))
            {
                return Err(FrameError::BadField("mode"));
            }
            let interrupt = match obj.get("interrupt") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(FrameError::BadField("interrupt")),
            };
            Ok(ClientMsg::Approval(ApprovalAnswer {
                id,
                decision,
                destination,
                message: str_field(&obj, "message")?,
                answers,
                mode,
                interrupt,
            }))
        }
        other => Err(FrameError::UnknownType(other.to_string())),
    }
}

/// Most attachments one prompt may carry.
pub const MAX_ATTACHMENTS: usize = 20;

/// The `attachments` of a `message`: relative paths, at most [`MAX_ATTACHMENTS`].
/// Only the shape is checked here (`crate::files` confines them when they are read).
fn attachments(obj: &Map<String, Value>) -> Result<Vec<String>, FrameError> {
    let bad = FrameError::BadField("attachments");
    let items = match obj.get("attachments") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= MAX_ATTACHMENTS => items,
        Some(_) => return Err(bad),
    };
    items
        .iter()
        .map(|v| {
            let path = v.as_str().ok_or(FrameError::BadField("attachments"))?;
            let fits = !path.is_empty()
                && path.len() <= 1024
                && !path.starts_with('/')
                && !path.contains('\0')
                && !path.split('/').any(|p| p == "..");
            if fits {
                Ok(path.to_string())
            } else {
                Err(FrameError::BadField("attachments"))
            }
        })
        .collect()
}

/// A Claude session id: the CLI's own shape, a UUID (`8-4-4-4-12` hex digits, as
/// `--session-id` requires and every session file is named). The one rule for ids
/// that reach the CLI's argv or a file name: nothing else can start with `-` or
/// hold a path separator.
pub fn is_session_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// An optional string field: absent or null is `None`, any other non-string is an error.
fn str_field(obj: &Map<String, Value>, name: &'static str) -> Result<Option<String>, FrameError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(FrameError::BadField(name)),
    }
}

/// One queued prompt as the queue panel shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    pub id: u64,
    pub sender: String,
    /// The first [`QUEUE_EXCERPT_CHARS`] characters of the prompt.
    pub message: String,
}

/// A server event: broadcast to every browser and stamped with a `seq`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Connection and session notices.
    System { message: String },
    /// A chat line: a user's prompt echoed to everyone, or Claude's final answer.
    Message {
        username: String,
        message: String,
        /// Server-rendered, sanitised HTML of `message` (markdown), when rendered.
        #[serde(skip_serializing_if = "Option::is_none")]
        html: Option<String>,
        /// Queue id of the prompt this line is (user lines only).
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// Echo of the page's own tag, so it can mark an outbox entry delivered.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The prompt's attachments (user lines only).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<String>,
    },
    /// What a run is doing; `run` ties the events of one run together.
    Progress {
        run: u64,
        #[serde(flatten)]
        progress: Progress,
    },
    QueueStatus {
        count: usize,
        items: Vec<QueueItem>,
        /// Whether a run is in progress (the page shows a Stop button).
        running: bool,
        /// The prompt a `cancel` command just took out of the queue (only on that
        /// broadcast): it will never run.
        #[serde(skip_serializing_if = "Option::is_none")]
        cancelled: Option<u64>,
    },
    /// Usage figures; the body's shape is documented in docs/PROTOCOL.md.
    UsageStatus {
        #[serde(flatten)]
        body: Map<String, Value>,
    },
    /// Claude waits for a person: a tool to allow, questions, a plan.
    Approval(Box<ApprovalEvent>),
    /// A pending approval was answered, withdrawn or timed out.
    ApprovalResolved {
        id: String,
        /// `allow`, `allow_always`, `deny`, `answered`, `cancelled`, `timed_out`.
        decision: &'static str,
        by: String,
        /// With `deny`: the reason given (a plan's feedback), for every page to show.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// With `deny`: the turn was ended too ("deny and stop").
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        interrupt: bool,
    },
    /// The session's permission mode (also sent to each client on connect).
    PermissionMode { mode: String },
    /// A shell command started; `id` is this event's own `seq`, unique for good.
    ShellStart {
        id: u64,
        command: String,
        by: String,
        /// The `id` of the `shell` frame that asked for it.
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<RequestId>,
    },
    /// Output of a shell command, coalesced (at most ~20 frames a second).
    ShellOutput {
        id: u64,
        stream: &'static str,
        data: String,
        /// Bytes of output left out just before this chunk.
        #[serde(skip_serializing_if = "is_zero")]
        omitted: u64,
    },
    /// A shell command ended: `code`, or the `signal` that ended it.
    ShellExit {
        id: u64,
        code: Option<i32>,
        signal: Option<String>,
        duration_sec: f64,
        /// Bytes of output left out in all.
        #[serde(skip_serializing_if = "is_zero")]
        omitted: u64,
        /// Stopped by `--shell-timeout`.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        timed_out: bool,
        /// The server stopped while it ran (reported at the next start; `code` and
        /// `signal` are then unknown).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        interrupted: bool,
    },
    /// A file in the workdir was created, changed or deleted (by anyone).
    FileUpdate {
        path: String,
        /// `create`, `update` or `delete`.
        action: &'static str,
    },
    /// Who is here: sent to each client as it goes live (a snapshot, no `seq`).
    Presence {
        participants: Vec<Participant>,
        /// This client's own name and role.
        you: You,
    },
    /// A person's first device connected.
    ParticipantJoined { name: String, role: &'static str },
    /// A person's last device left.
    ParticipantLeft { name: String, role: &'static str },
}

/// One person in a `presence` snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Participant {
    pub name: String,
    /// `owner`, `collaborator` or `viewer`.
    pub role: &'static str,
    /// Their connected clients.
    pub devices: usize,
    /// When their first device connected, Unix milliseconds.
    pub since: u64,
}

/// The client a `presence` snapshot is sent to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct You {
    pub name: String,
    pub role: &'static str,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a pending approval shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalEvent {
    pub id: String,
    pub run: u64,
    /// `tool`, `question` or `plan`.
    pub kind: &'static str,
    pub tool: String,
    /// What the tool will do, in one readable line.
    pub detail: String,
    pub input: Value,
    pub suggestions: Vec<Value>,
    /// AskUserQuestion: the questions with their options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub questions: Option<Value>,
    /// ExitPlanMode: the plan as markdown, and rendered like an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Why the CLI asks (e.g. "Path is outside allowed working directories").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Event {
    /// The `type` of this event on the wire.
    #[cfg(test)]
    pub fn kind(&self) -> &'static str {
        match self {
            Event::System { .. } => "system",
            Event::Message { .. } => "message",
            Event::Progress { .. } => "progress",
            Event::QueueStatus { .. } => "queue_status",
            Event::UsageStatus { .. } => "usage_status",
            Event::Approval(_) => "approval",
            Event::ApprovalResolved { .. } => "approval_resolved",
            Event::PermissionMode { .. } => "permission_mode",
            Event::ShellStart { .. } => "shell_start",
            Event::ShellOutput { .. } => "shell_output",
            Event::ShellExit { .. } => "shell_exit",
            Event::FileUpdate { .. } => "file_update",
            Event::Presence { .. } => "presence",
            Event::ParticipantJoined { .. } => "participant_joined",
            Event::ParticipantLeft { .. } => "participant_left",
        }
    }
}

/// The `progress_type` variants of a `progress` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "progress_type", rename_all = "snake_case")]
pub enum Progress {
    /// A run began.
    Start { prompt_id: u64 },
    /// From the CLI's `system/init` line.
    Init { model: String, session_id: String },
    /// The session id the run belongs to and how to continue it in a terminal.
    Session {
        session_id: String,
        resume_command: String,
    },
    /// A text fragment as Claude generates it.
    TextDelta { text: String },
    /// A whole text block of an assistant message; `html` is it rendered like an
    /// answer (src/markdown.rs), added by the hub: a block followed by a tool call is
    /// a note in the run's card.
    Text {
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        html: Option<String>,
    },
    /// Claude's thinking (shown collapsed).
    Thinking { text: String },
    /// A tool call began.
    ToolStart {
        turn: u64,
        tool: String,
        detail: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        edit_info: Option<EditInfo>,
        tool_use_id: String,
    },
    /// A tool call finished.
    ToolEnd {
        turn: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        lines: Option<u64>,
        tool_use_id: String,
        is_error: bool,
        /// The result's text, cut to a wire-friendly length.
        output: String,
        /// The result's full length in bytes, before cutting.
        output_bytes: usize,
    },
    /// The turn's `result` line.
    Complete {
        duration_sec: f64,
        cost_usd: f64,
        input_tokens: u64,
        output_tokens: u64,
        turns: u64,
    },
    /// The run failed; `message` says why in words a person can act on.
    Error { message: String },
    /// The run was stopped on request (Stop button or timeout).
    Stopped { message: String },
    /// The session was invalid and the run is retried once in a new session.
    Retry { message: String },
}

impl Progress {
    /// The `progress_type` of this progress on the wire.
    #[cfg(test)]
    pub fn kind(&self) -> &'static str {
        match self {
            Progress::Start { .. } => "start",
            Progress::Init { .. } => "init",
            Progress::Session { .. } => "session",
            Progress::TextDelta { .. } => "text_delta",
            Progress::Text { .. } => "text",
            Progress::Thinking { .. } => "thinking",
            Progress::ToolStart { .. } => "tool_start",
            Progress::ToolEnd { .. } => "tool_end",
            Progress::Complete { .. } => "complete",
            Progress::Error { .. } => "error",
            Progress::Stopped { .. } => "stopped",
            Progress::Retry { .. } => "retry",
        }
    }
}

/// Details of an Edit, Write or TodoWrite call (texts cut at 500 characters).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EditInfo {
    Edit {
        file: String,
        old: String,
        new: String,
    },
    Write {
        file: String,
        content: String,
    },
    Todo {
        todos: Vec<Value>,
    },
}

#[derive(Serialize)]
struct Stamped<'a> {
    seq: u64,
    /// When the server sent it, in milliseconds since the Unix epoch: replayed
    /// events keep their time.
    ts: u64,
    #[serde(flatten)]
    event: &'a Event,
}

/// Serialises a broadcast event with its sequence number and send time.
pub fn encode_event(seq: u64, event: &Event) -> String {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    // Serialising these plain data types cannot fail: no maps with non-string keys,
    // no custom Serialize impls that error.
    serde_json::to_string(&Stamped { seq, ts, event }).unwrap_or_default()
}

/// Serialises an event for one browser only, without `seq`: a snapshot of current
/// state (queue, usage) sent on connect, not part of the history.
pub fn encode_snapshot(event: &Event) -> String {
    serde_json::to_string(event).unwrap_or_default()
}

/// Every `code` of an `error` frame. The page has words for each, in both
/// languages (`err_<code>` in its STRINGS; a test checks both ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MalformedJson,
    MissingType,
    UnknownType,
    UnknownCommand,
    BadField,
    BinaryFrame,
    /// A viewer tried to write.
    ReadOnly,
    EmptyPrompt,
    BudgetReached,
    QueueFull,
    UsageUnavailable,
    SessionsUnavailable,
    NotRunning,
    NotQueued,
    /// A run is in progress and the request needs none.
    Busy,
    /// Older events of this session could not be sent.
    HistoryGap,
    /// Someone answered this approval first (or it was withdrawn).
    AlreadyResolved,
    /// No approval has this id.
    UnknownApproval,
    /// The client's role may not do this; `needs` names the role that may.
    Forbidden,
    /// Too many prompts and commands from this person; `retry_after_ms` says when.
    RateLimited,
}

impl ErrorCode {
    #[cfg(test)]
    pub const ALL: &[ErrorCode] = &[
        ErrorCode::MalformedJson,
        ErrorCode::MissingType,
        ErrorCode::UnknownType,
        ErrorCode::UnknownCommand,
        ErrorCode::BadField,
        ErrorCode::BinaryFrame,
        ErrorCode::ReadOnly,
        ErrorCode::EmptyPrompt,
        ErrorCode::BudgetReached,
        ErrorCode::QueueFull,
        ErrorCode::UsageUnavailable,
        ErrorCode::SessionsUnavailable,
        ErrorCode::NotRunning,
        ErrorCode::NotQueued,
        ErrorCode::Busy,
        ErrorCode::HistoryGap,
        ErrorCode::AlreadyResolved,
        ErrorCode::UnknownApproval,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::MissingType => "missing_type",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::BadField => "bad_field",
            ErrorCode::BinaryFrame => "binary_frame",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::EmptyPrompt => "empty_prompt",
            ErrorCode::BudgetReached => "budget_reached",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::UsageUnavailable => "usage_unavailable",
            ErrorCode::SessionsUnavailable => "sessions_unavailable",
            ErrorCode::NotRunning => "not_running",
            ErrorCode::NotQueued => "not_queued",
            ErrorCode::Busy => "busy",
            ErrorCode::HistoryGap => "history_gap",
            ErrorCode::AlreadyResolved => "already_resolved",
            ErrorCode::UnknownApproval => "unknown_approval",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One earlier Claude session as the sessions sheet lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionItem {
    pub id: String,
    pub title: String,
    /// RFC 3339 UTC.
    pub created: String,
    pub updated: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub size: u64,
    /// Always `"claude"`: the CLI's own store.
    pub source: &'static str,
}

impl From<&crate::claude_sessions::SessionInfo> for SessionItem {
    fn from(s: &crate::claude_sessions::SessionInfo) -> SessionItem {
        SessionItem {
            id: s.id.clone(),
            title: s.title.clone(),
            created: crate::claude_sessions::rfc3339(s.created),
            updated: crate::claude_sessions::rfc3339(s.updated),
            cost_usd: s.cost_usd,
            size: s.size,
            source: s.source,
        }
    }
}

/// A frame for one browser only, never stamped or kept: answers and notices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// A refusal or notice; `id` echoes the request's.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
        /// `forbidden`, `read_only`: the least role that may do it.
        #[serde(skip_serializing_if = "Option::is_none")]
        needs: Option<&'static str>,
        /// `rate_limited`: how long until the next request is taken.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    /// The answer to `{"type":"command","command":"sessions"}`.
    Sessions {
        current: Option<String>,
        items: Vec<SessionItem>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<RequestId>,
    },
}

impl Reply {
    /// The `type` of this frame on the wire.
    #[cfg(test)]
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Error { .. } => "error",
            Reply::Sessions { .. } => "sessions",
        }
    }
}

/// Serialises a reply for one browser.
pub fn encode_reply(reply: &Reply) -> String {
    serde_json::to_string(reply).unwrap_or_default()
}

/// Serialises the reply to one browser's bad frame. It carries no `seq`: it is not
/// part of the shared history.
pub fn encode_error(refused: &Refused) -> String {
    let code = match refused.error {
        FrameError::Malformed(_) => ErrorCode::MalformedJson,
        FrameError::MissingType => ErrorCode::MissingType,
        FrameError::UnknownType(_) => ErrorCode::UnknownType,
        FrameError::UnknownCommand(_) => ErrorCode::UnknownCommand,
        FrameError::BadField(_) => ErrorCode::BadField,
        FrameError::Binary => ErrorCode::BinaryFrame,
    };
    encode_notice(code, &refused.error.to_string(), refused.id.as_ref())
}

/// Serialises a notice for one browser only (no `seq`, not part of history).
pub fn encode_notice(code: ErrorCode, message: &str, id: Option<&RequestId>) -> String {
    encode_refusal(code, message, id, None, None)
}

/// [`encode_notice`] with the role a refused request needs, or the wait.
pub fn encode_refusal(
    code: ErrorCode,
    message: &str,
    id: Option<&RequestId>,
    needs: Option<&'static str>,
    retry_after_ms: Option<u64>,
) -> String {
    encode_reply(&Reply::Error {
        code,
        message: message.to_string(),
        id: id.cloned(),
        needs,
        retry_after_ms,
    })
}

/// Cuts `text` to at most `max` characters, on a character boundary.
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<ClientMsg, FrameError>) {
        assert_eq!(parse_client(input), expect, "input: {input}");
    }

    #[test]
    fn parses_the_original_frames() {
        check(
            r#"{"type":"message","username":"User","message":"hi"}"#,
            Ok(ClientMsg::Message {
                username: "User".into(),
                message: "hi".into(),
                client_id: None,
                attachments: vec![],
            }),
        );
        check(
            r#"{"type":"message","message":"hi","client_id":"a1"}"#,
            Ok(ClientMsg::Message {
                username: "User".into(),
                message: "hi".into(),
                client_id: Some("a1".into()),
                attachments: vec![],
            }),
        );
        check(
            r#"{"type":"message","message":"look","attachments":["uploads/a.png"]}"#,
            Ok(ClientMsg::Message {
                username: "User".into(),
                message: "look".into(),
                client_id: None,
                attachments: vec!["uploads/a.png".into()],
            }),
        );
        check(
            r#"{"type":"command","command":"clear"}"#,
            Ok(ClientMsg::Command(Command::Clear)),
        );
        check(
            r#"{"type":"command","command":"request_usage"}"#,
            Ok(ClientMsg::Command(Command::RequestUsage)),
        );
        check(
            r#"{"type":"command","command":"restart"}"#,
            Ok(ClientMsg::Command(Command::Restart)),
        );
        check(
            r#"{"type":"command","command":"cancel","id":7}"#,
            Ok(ClientMsg::Command(Command::Cancel { id: 7 })),
        );
        check(
            r#"{"type":"hello","last_seq":12}"#,
            Ok(ClientMsg::Hello { last_seq: Some(12) }),
        );
        check(
            r#"{"type":"hello"}"#,
            Ok(ClientMsg::Hello { last_seq: None }),
        );
        check(r#"{"type":"ping"}"#, Ok(ClientMsg::Ping));
        check(
            r#"{"type":"visibility","visible":false}"#,
            Ok(ClientMsg::Visibility { visible: false }),
        );
        check(
            r#"{"type":"visibility","visible":"yes"}"#,
            Err(FrameError::BadField("visible")),
        );
        check(
            r#"{"type":"command","command":"sessions"}"#,
            Ok(ClientMsg::Command(Command::Sessions)),
        );
        check(
            r#"{"type":"command","command":"resume","session":"be8492f8-924b-4ecd-bd9e-69387a8e4337"}"#,
            Ok(ClientMsg::Command(Command::Resume {
                session: "be8492f8-924b-4ecd-bd9e-69387a8e4337".into(),
            })),
        );
        // Anything but the CLI's UUID shape, above all what argv would read as a flag.
        for bad in [
            "../x y",
            "--dangerously-skip-permissions",
            "-be8492f8-924b-4ecd-bd9e-69387a8e433",
            "be8492f8-924b-4ecd-bd9e-69387a8e4337x",
            "be8492f8_924b-4ecd-bd9e-69387a8e4337",
            "ab-12",
        ] {
            let frame = serde_json::json!({"type":"command","command":"resume","session":bad});
            check(&frame.to_string(), Err(FrameError::BadField("session")));
        }
    }

    #[test]
    fn refuses_bad_frames_with_a_reason() {
        assert!(matches!(
            parse_client("{nope"),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            parse_client("[1,2]"),
            Err(FrameError::Malformed(_))
        ));
        check(r#"{"message":"x"}"#, Err(FrameError::MissingType));
        for bad in [
            r#""a.png""#,
            r#"[7]"#,
            r#"["../etc/passwd"]"#,
            r#"["/etc/passwd"]"#,
            r#"[""]"#,
        ] {
            check(
                &format!(r#"{{"type":"message","message":"x","attachments":{bad}}}"#),
                Err(FrameError::BadField("attachments")),
            );
        }
        check(r#"{"type":7}"#, Err(FrameError::MissingType));
        check(
            r#"{"type":"dance"}"#,
            Err(FrameError::UnknownType("dance".into())),
        );
        check(
            r#"{"type":"command","command":"fly"}"#,
            Err(FrameError::UnknownCommand("fly".into())),
        );
        check(
            r#"{"type":"message"}"#,
            Err(FrameError::BadField("message")),
        );
        check(
            r#"{"type":"message","message":3}"#,
            Err(FrameError::BadField("message")),
        );
        check(
            r#"{"type":"command","command":"cancel"}"#,
            Err(FrameError::BadField("id")),
        );
        check(
            r#"{"type":"hello","last_seq":-1}"#,
            Err(FrameError::BadField("last_seq")),
        );
    }

    #[test]
    fn events_keep_the_original_shapes() {
        let ev = Event::Message {
            username: "Claude".into(),
            message: "done".into(),
            html: None,
            id: None,
            client_id: None,
            attachments: vec![],
        };
        let v: Value = serde_json::from_str(&encode_event(3, &ev)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"seq":3,"ts":v["ts"],"type":"message","username":"Claude","message":"done"})
        );
        assert!(v["ts"].as_u64().unwrap() > 1_700_000_000_000);
        let ev = Event::Progress {
            run: 1,
            progress: Progress::ToolStart {
                turn: 2,
                tool: "Edit".into(),
                detail: "a.txt".into(),
                edit_info: Some(EditInfo::Edit {
                    file: "a.txt".into(),
                    old: "x".into(),
                    new: "y".into(),
                }),
                tool_use_id: "t1".into(),
            },
        };
        let v: Value = serde_json::from_str(&encode_event(4, &ev)).unwrap();
        assert_eq!(v["type"], "progress");
        assert_eq!(v["progress_type"], "tool_start");
        assert_eq!(v["seq"], 4);
        assert_eq!(v["run"], 1);
        assert_eq!(v["edit_info"]["type"], "edit");
        assert_eq!(v["edit_info"]["old"], "x");
        let ev = Event::QueueStatus {
            count: 1,
            items: vec![QueueItem {
                id: 9,
                sender: "User".into(),
                message: "m".into(),
            }],
            running: false,
            cancelled: None,
        };
        let v: Value = serde_json::from_str(&encode_event(5, &ev)).unwrap();
        assert_eq!(v["type"], "queue_status");
        assert_eq!(v["items"][0]["sender"], "User");
    }

    /// One value of every frame the server sends. The matches in `kind()` are
    /// exhaustive, so a new variant does not compile until it has a kind; add it
    /// here too, and the page contract test below checks the page handles it.
    fn every_server_frame() -> (Vec<Event>, Vec<Progress>, Vec<Reply>) {
        let text = || String::new();
        let events = vec![
            Event::System { message: text() },
            Event::Message {
                username: text(),
                message: text(),
                html: None,
                id: None,
                client_id: None,
                attachments: vec![],
            },
            Event::Progress {
                run: 1,
                progress: Progress::Text {
                    text: text(),
                    html: None,
                },
            },
            Event::QueueStatus {
                count: 0,
                items: vec![],
                running: false,
                cancelled: None,
            },
            Event::UsageStatus { body: Map::new() },
            Event::Approval(Box::new(ApprovalEvent {
                id: text(),
                run: 1,
                kind: "tool",
                tool: text(),
                detail: text(),
                input: Value::Null,
                suggestions: vec![],
                questions: None,
                plan: None,
                html: None,
                reason: None,
            })),
            Event::ApprovalResolved {
                id: text(),
                decision: "deny",
                by: text(),
                message: Some(text()),
                interrupt: true,
            },
            Event::PermissionMode { mode: text() },
            Event::ShellStart {
                id: 1,
                command: text(),
                by: text(),
                client_id: None,
            },
            Event::ShellOutput {
                id: 1,
                stream: "stdout",
                data: text(),
                omitted: 0,
            },
            Event::ShellExit {
                id: 1,
                code: Some(0),
                signal: None,
                duration_sec: 0.0,
                omitted: 0,
                timed_out: false,
                interrupted: false,
            },
            Event::FileUpdate {
                path: text(),
                action: "create",
            },
            Event::Presence {
                participants: vec![],
                you: You {
                    name: text(),
                    role: "owner",
                },
            },
            Event::ParticipantJoined {
                name: text(),
                role: "owner",
            },
            Event::ParticipantLeft {
                name: text(),
                role: "owner",
            },
        ];
        let progress = vec![
            Progress::Start { prompt_id: 1 },
            Progress::Init {
                model: text(),
                session_id: text(),
            },
            Progress::Session {
                session_id: text(),
                resume_command: text(),
            },
            Progress::TextDelta { text: text() },
            Progress::Text {
                text: text(),
                html: None,
            },
            Progress::Thinking { text: text() },
            Progress::ToolStart {
                turn: 1,
                tool: text(),
                detail: text(),
                edit_info: None,
                tool_use_id: text(),
            },
            Progress::ToolEnd {
                turn: 1,
                lines: None,
                tool_use_id: text(),
                is_error: false,
                output: text(),
                output_bytes: 0,
            },
            Progress::Complete {
                duration_sec: 0.0,
                cost_usd: 0.0,
                input_tokens: 0,
                output_tokens: 0,
                turns: 0,
            },
            Progress::Error { message: text() },
            Progress::Stopped { message: text() },
            Progress::Retry { message: text() },
        ];
        let replies = vec![
            Reply::Error {
                code: ErrorCode::Busy,
                message: text(),
                id: None,
                needs: None,
                retry_after_ms: None,
            },
            Reply::Sessions {
                current: None,
                items: vec![],
                id: None,
            },
        ];
        (events, progress, replies)
    }

    /// The quoted names after `marker` in `js`, e.g. every `case "x":` label.
    fn names_after<'a>(
        js: &'a str,
        marker: &str,
        end: char,
    ) -> std::collections::BTreeSet<&'a str> {
        js.match_indices(marker)
            .filter_map(|(i, _)| {
                let rest = &js[i + marker.len()..];
                let name = &rest[..rest.find(end)?];
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
                    .then_some(name)
            })
            .collect()
    }

    /// The keys of the page's handler table `const NAME = { ... };`: each entry
    /// starts a line indented two spaces (`key: f,` or `key(ev) {`); the table
    /// ends at the first line that is `};`.
    fn table_keys<'a>(js: &'a str, name: &str) -> std::collections::BTreeSet<&'a str> {
        let start = format!("const {name} = {{\n");
        let Some(at) = js.find(&start) else {
            panic!("the page has no `{}`", start.trim_end())
        };
        assert_eq!(js.matches(&start).count(), 1, "one `{name}` table");
        js[at + start.len()..]
            .lines()
            .take_while(|l| *l != "};")
            .filter_map(|l| l.strip_prefix("  "))
            .filter(|l| !l.starts_with(' ') && !l.starts_with('}') && !l.starts_with("//"))
            .map(|l| {
                let end = l.find([':', '(']).unwrap_or(l.len());
                let key = &l[..end];
                assert!(
                    !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{name}: cannot read the key of {l:?}"
                );
                key
            })
            .collect()
    }

    #[test]
    fn the_page_handles_exactly_what_the_server_sends() {
        // The page as served: every part of templates/static/js/, joined.
        let js = crate::assets::APP_JS;
        let (events, progress, replies) = every_server_frame();
        // The wire `type`/`progress_type` matches `kind()`.
        for e in &events {
            let v: Value = serde_json::from_str(&encode_event(1, e)).unwrap();
            assert_eq!(v["type"], e.kind());
        }
        for p in &progress {
            let v: Value = serde_json::to_value(p).unwrap();
            assert_eq!(v["progress_type"], p.kind());
        }
        for r in &replies {
            let v: Value = serde_json::from_str(&encode_reply(r)).unwrap();
            assert_eq!(v["type"], r.kind());
        }
        // The page's handler tables: ON by event `type` (events and replies), and
        // PROGRESS by `progress_type`; each exactly what the server sends.
        let mut events_sent: std::collections::BTreeSet<&str> =
            events.iter().map(Event::kind).collect();
        events_sent.extend(replies.iter().map(Reply::kind));
        let progress_sent: std::collections::BTreeSet<&str> =
            progress.iter().map(Progress::kind).collect();
        for (table, sent) in [("ON", &events_sent), ("PROGRESS", &progress_sent)] {
            let handled = table_keys(js, table);
            let unhandled: Vec<_> = sent.difference(&handled).collect();
            assert!(
                unhandled.is_empty(),
                "the page's {table} does not handle {unhandled:?}"
            );
            let unknown: Vec<_> = handled.difference(sent).collect();
            assert!(
                unknown.is_empty(),
                "the page's {table} handles {unknown:?}, never sent"
            );
        }
        // Every error code has words in both languages, and no other code has.
        let codes: std::collections::BTreeSet<&str> =
            ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        for code in &codes {
            let key = format!("err_{code}:");
            assert_eq!(js.matches(&key).count(), 2, "{key} in en and ko");
        }
        let worded = names_after(js, "err_", ':');
        let extra: Vec<_> = worded.difference(&codes).collect();
        assert!(
            extra.is_empty(),
            "the page has words for unknown codes {extra:?}"
        );
    }

    #[test]
    fn answers_echo_the_request_id() {
        let r = parse_request(r#"{"type":"command","command":"sessions","id":"r1"}"#).unwrap();
        assert_eq!(r.id, Some(Value::from("r1")));
        let refused = parse_request(r#"{"type":"command","command":"fly","id":7}"#).unwrap_err();
        let v: Value = serde_json::from_str(&encode_error(&refused)).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["code"], "unknown_command");
        let v: Value = serde_json::from_str(&encode_notice(ErrorCode::Busy, "m", None)).unwrap();
        assert!(v.get("id").is_none());
        // Objects and over-long strings are not echoed.
        let r = parse_request(r#"{"type":"ping","id":{"a":1}}"#).unwrap();
        assert_eq!(r.id, None);
        let long = format!(r#"{{"type":"ping","id":"{}"}}"#, "x".repeat(200));
        assert_eq!(parse_request(&long).unwrap().id, None);
    }

    #[test]
    fn parses_shell_frames() {
        let r = parse_request(r#"{"type":"shell","id":"c1","command":"npm test"}"#).unwrap();
        assert_eq!(r.id, Some(Value::from("c1")));
        assert_eq!(
            r.msg,
            ClientMsg::Shell {
                command: "npm test".into(),
                username: "User".into()
            }
        );
        check(
            r#"{"type":"shell_stop","id":42}"#,
            Ok(ClientMsg::ShellStop { id: 42 }),
        );
        check(
            r#"{"type":"shell","command":"  "}"#,
            Err(FrameError::BadField("command")),
        );
        check(r#"{"type":"shell"}"#, Err(FrameError::BadField("command")));
        check(
            r#"{"type":"shell_stop","id":"x"}"#,
            Err(FrameError::BadField("id")),
        );
        let v: Value = serde_json::from_str(&encode_event(
            9,
            &Event::ShellExit {
                id: 9,
                code: None,
                signal: Some("SIGTERM".into()),
                duration_sec: 1.5,
                omitted: 0,
                timed_out: false,
                interrupted: false,
            },
        ))
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"seq":9,"ts":v["ts"],"type":"shell_exit","id":9,"code":null,
                "signal":"SIGTERM","duration_sec":1.5})
        );
    }

    #[test]
    fn excerpt_cuts_on_characters() {
        assert_eq!(excerpt("안녕하세요", 2), "안녕");
        assert_eq!(excerpt("abc", 5), "abc");
    }
}
