//! The `claude` CLI's stream-json lines: a typed parser for what it prints, and the
//! two lines homeclaude writes to it (a prompt and an interrupt).
//!
//! This is the only module that knows the CLI's wire format; it does no I/O. Every
//! line type the CLI prints has a variant here. The CLI adds fields and line types
//! between versions, so unknown fields are ignored, unknown line types, `system`
//! subtypes and content blocks become `Other` variants, and almost every field is
//! optional: a line that parses as JSON should only fail here when a field we rely on
//! has a different JSON type than the CLI has ever printed. The caller logs such a
//! [`ParseError`] and skips the line.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;

/// One line of `claude -p --output-format stream-json` output.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// `{"type":"system"}`: session start, status changes, retries.
    System(System),
    /// `{"type":"assistant"}`: a complete content block of Claude's message.
    Assistant(Assistant),
    /// `{"type":"user"}`: tool results (and interruption notices) fed back to Claude.
    User(User),
    /// `{"type":"stream_event"}`: a raw Messages API streaming event, printed with
    /// `--include-partial-messages`.
    StreamEvent(StreamEvent),
    /// `{"type":"result"}`: the end of a turn, with its cost and usage.
    Result(ResultLine),
    /// `{"type":"control_request"}`: the CLI asks its host something (tool approval).
    ControlRequest(ControlRequest),
    /// `{"type":"control_response"}`: the CLI's answer to a request we wrote.
    ControlResponse(ControlResponse),
    /// `{"type":"control_cancel_request"}`: the CLI withdrew a request it made
    /// (the turn was interrupted while a tool approval was pending).
    ControlCancel { request_id: String },
    /// `{"type":"rate_limit_event"}`: the account's rate-limit state.
    RateLimit(RateLimitEvent),
    /// Any other line type (`command_lifecycle`, `prompt_suggestion`, ...).
    Other { kind: String },
}

/// Why a line could not be read. The run goes on; the caller logs and skips it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// The line is empty or only whitespace.
    Empty,
    /// The line is not JSON at all.
    NotJson(String),
    /// The line is JSON but not an object.
    NotObject,
    /// The object has no string `type` field.
    MissingType,
    /// A known line type with a field of an unexpected JSON type.
    BadShape { kind: String, why: String },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "empty line"),
            ParseError::NotJson(why) => write!(f, "not JSON: {why}"),
            ParseError::NotObject => write!(f, "JSON but not an object"),
            ParseError::MissingType => write!(f, "object without a string \"type\" field"),
            ParseError::BadShape { kind, why } => {
                write!(f, "a {kind:?} line with an unexpected shape: {why}")
            }
        }
    }
}

/// The `system` line subtypes.
#[derive(Debug, Clone, PartialEq)]
pub enum System {
    /// The session is ready: printed at the start of every turn.
    Init(Init),
    /// The conversation was compacted (summarised) to fit the context window.
    CompactBoundary(CompactBoundary),
    /// A status change such as `"requesting"`; every permission mode change (a
    /// `set_permission_mode` request, or a `setMode` in an answer) prints one with
    /// the new mode.
    Status {
        status: Option<String>,
        permission_mode: Option<String>,
    },
    /// The API call failed and the CLI will try again (no network: ten of these over
    /// about three minutes).
    ApiRetry(ApiRetry),
    /// A tool call was refused by the permission mode (headless runs).
    PermissionDenied(PermissionDenied),
    /// Any other subtype (hooks, ...).
    Other { subtype: String },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Init {
    pub session_id: Option<String>,
    pub model: Option<String>,
    pub cwd: Option<String>,
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(rename = "permissionMode")]
    pub permission_mode: Option<String>,
    pub claude_code_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CompactBoundary {
    pub compact_metadata: Option<CompactMetadata>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CompactMetadata {
    /// `"auto"` or `"manual"`.
    pub trigger: Option<String>,
    /// Tokens in the context before compaction.
    pub pre_tokens: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ApiRetry {
    pub attempt: Option<u64>,
    pub max_retries: Option<u64>,
    pub retry_delay_ms: Option<u64>,
    /// The HTTP status, or null for a network error.
    pub error_status: Option<u64>,
    /// A short error class such as `"authentication_failed"` or `"server_error"`.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PermissionDenied {
    pub tool_name: Option<String>,
    pub tool_use_id: Option<String>,
    pub message: Option<String>,
}

/// An `assistant` line. With `--verbose` the CLI prints one line per content block,
/// so several lines can share `message.id`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Assistant {
    pub message: AssistantMessage,
    /// Set when the line comes from a sub-agent (the `Task` tool) rather than the main
    /// conversation.
    pub parent_tool_use_id: Option<String>,
    pub session_id: Option<String>,
    /// An error class on synthetic messages, e.g. `"authentication_failed"`.
    pub error: Option<String>,
    /// True on the synthetic message the CLI prints for an API error.
    #[serde(default)]
    pub is_api_error_message: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AssistantMessage {
    pub id: Option<String>,
    pub model: Option<String>,
    #[serde(default)]
    pub content: Vec<AssistantBlock>,
    pub usage: Option<Usage>,
    pub stop_reason: Option<String>,
}

/// A content block of an assistant message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AssistantBlock {
    Text {
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    /// `redacted_thinking`, `server_tool_use` and anything newer.
    #[serde(other)]
    Other,
}

/// Token counts of one API call or of a whole turn.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
}

/// A `user` line: what the CLI fed back to Claude.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct User {
    pub message: UserMessage,
    pub parent_tool_use_id: Option<String>,
    pub session_id: Option<String>,
    /// The tool's structured result: an object whose shape depends on the tool
    /// (`file.numLines` for Read, `stdout` for Bash, ...) or a string for errors.
    pub tool_use_result: Option<Value>,
}

impl User {
    /// The number of lines a Read returned (`tool_use_result.file.numLines`).
    pub fn file_num_lines(&self) -> Option<u64> {
        self.tool_use_result
            .as_ref()?
            .get("file")?
            .get("numLines")?
            .as_u64()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UserMessage {
    pub content: UserContent,
}

/// A user message's content: a plain string or a list of blocks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum UserContent {
    Text(String),
    Blocks(Vec<UserBlock>),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserBlock {
    ToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Option<ToolResultContent>,
        #[serde(default)]
        is_error: Option<bool>,
    },
    Text {
        text: String,
    },
    #[serde(other)]
    Other,
}

/// A tool result's content: a string, or text and image blocks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    Text(String),
    Blocks(Vec<ToolResultBlock>),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolResultBlock {
    Text {
        text: String,
    },
    Image,
    #[serde(other)]
    Other,
}

impl ToolResultContent {
    /// The result as one text: text blocks joined by newlines, other blocks named.
    pub fn to_text(&self) -> String {
        match self {
            ToolResultContent::Text(text) => text.clone(),
            ToolResultContent::Blocks(blocks) => blocks
                .iter()
                .map(|b| match b {
                    ToolResultBlock::Text { text } => text.as_str(),
                    ToolResultBlock::Image => "[image]",
                    ToolResultBlock::Other => "[non-text content]",
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// A `stream_event` line (`--include-partial-messages`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StreamEvent {
    pub event: ApiEvent,
    pub parent_tool_use_id: Option<String>,
    pub session_id: Option<String>,
}

/// The Messages API streaming events the CLI passes through.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ApiEvent {
    MessageStart {
        #[serde(default)]
        message: Value,
    },
    ContentBlockStart {
        #[serde(default)]
        index: u64,
        #[serde(default)]
        content_block: Value,
    },
    ContentBlockDelta {
        #[serde(default)]
        index: u64,
        delta: Delta,
    },
    ContentBlockStop {
        #[serde(default)]
        index: u64,
    },
    MessageDelta {
        #[serde(default)]
        delta: Value,
    },
    MessageStop,
    #[serde(other)]
    Other,
}

/// A content block delta. The variant names are the wire's (`text_delta`, ...).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)]
pub enum Delta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    #[serde(other)]
    Other,
}

/// How a turn ended (`result.subtype`).
#[derive(Debug, Clone, PartialEq)]
pub enum ResultSubtype {
    /// The turn finished. With `is_error: true` it finished on an API error (the
    /// error text is in `result`).
    Success,
    /// `--max-turns` was reached; there is no `result` text.
    ErrorMaxTurns,
    /// The turn failed or was interrupted; `errors[]` says why.
    ErrorDuringExecution,
    /// Any newer subtype (`error_max_budget_usd`, ...).
    Other(String),
}

impl<'de> Deserialize<'de> for ResultSubtype {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "success" => ResultSubtype::Success,
            "error_max_turns" => ResultSubtype::ErrorMaxTurns,
            "error_during_execution" => ResultSubtype::ErrorDuringExecution,
            _ => ResultSubtype::Other(s),
        })
    }
}

/// A `result` line: the end of one turn. A run normally prints one; a background
/// sub-agent that finishes later makes it print a second.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ResultLine {
    pub subtype: ResultSubtype,
    #[serde(default)]
    pub is_error: bool,
    /// The final answer (or the API error text); absent for `error_max_turns`.
    pub result: Option<String>,
    pub session_id: Option<String>,
    pub total_cost_usd: Option<f64>,
    pub duration_ms: Option<f64>,
    pub num_turns: Option<u64>,
    pub usage: Option<Usage>,
    /// Per-model totals; the only non-zero counts after an interruption.
    #[serde(rename = "modelUsage", default)]
    pub model_usage: HashMap<String, ModelUsage>,
    /// Why the turn failed: strings in every version seen, kept as JSON to be safe.
    #[serde(default)]
    pub errors: Vec<Value>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub permission_denials: Vec<PermissionDenial>,
    /// `"completed"`, `"max_turns"`, `"aborted_streaming"`, `"api_error"`, ...
    pub terminal_reason: Option<String>,
}

impl ResultLine {
    /// `errors[]` as text, one entry per line.
    pub fn errors_text(&self) -> String {
        self.errors
            .iter()
            .map(|e| match e {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `permission_denials` is `null` in some versions and a list in others.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ModelUsage {
    #[serde(rename = "inputTokens", default)]
    pub input_tokens: u64,
    #[serde(rename = "outputTokens", default)]
    pub output_tokens: u64,
    #[serde(rename = "cacheReadInputTokens", default)]
    pub cache_read_input_tokens: u64,
    #[serde(rename = "cacheCreationInputTokens", default)]
    pub cache_creation_input_tokens: u64,
    #[serde(rename = "costUSD", default)]
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PermissionDenial {
    pub tool_name: Option<String>,
    pub tool_use_id: Option<String>,
    #[serde(default)]
    pub tool_input: Value,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ControlRequest {
    pub request_id: String,
    pub request: ControlRequestBody,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "subtype", rename_all = "snake_case")]
pub enum ControlRequestBody {
    /// Tool approval (`--permission-prompt-tool stdio`): the CLI waits, with no
    /// time limit, for a `control_response` ([`permission_response_line`]).
    /// AskUserQuestion and ExitPlanMode arrive this way too.
    CanUseTool {
        tool_name: String,
        #[serde(default)]
        input: Value,
        tool_use_id: Option<String>,
        /// Rules the CLI offers for "allow always" (`addRules`, `setMode`, ...).
        #[serde(default)]
        permission_suggestions: Vec<Value>,
        blocked_path: Option<String>,
        description: Option<String>,
        decision_reason: Option<String>,
    },
    Interrupt,
    Initialize,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ControlResponse {
    pub response: ControlResponseBody,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ControlResponseBody {
    /// `"success"` or `"error"`.
    pub subtype: Option<String>,
    pub request_id: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RateLimitEvent {
    pub rate_limit_info: Option<RateLimitInfo>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RateLimitInfo {
    /// `"allowed"`, `"allowed_warning"`, `"rejected"`.
    pub status: Option<String>,
    #[serde(rename = "rateLimitType")]
    pub rate_limit_type: Option<String>,
}

/// Parses one line of CLI output (without its newline).
pub fn parse_line(line: &str) -> Result<Line, ParseError> {
    if line.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let value: Value =
        serde_json::from_str(line).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(ParseError::NotObject);
    };
    let kind = match obj.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => return Err(ParseError::MissingType),
    };
    let value = Value::Object(obj);
    let shape = |e: serde_json::Error| ParseError::BadShape {
        kind: kind.clone(),
        why: e.to_string(),
    };
    Ok(match kind.as_str() {
        "system" => Line::System(parse_system(value).map_err(shape)?),
        "assistant" => Line::Assistant(serde_json::from_value(value).map_err(shape)?),
        "user" => Line::User(serde_json::from_value(value).map_err(shape)?),
        "stream_event" => Line::StreamEvent(serde_json::from_value(value).map_err(shape)?),
        "result" => Line::Result(serde_json::from_value(value).map_err(shape)?),
        "control_request" => Line::ControlRequest(serde_json::from_value(value).map_err(shape)?),
        "control_response" => Line::ControlResponse(serde_json::from_value(value).map_err(shape)?),
        "control_cancel_request" => Line::ControlCancel {
            request_id: value
                .get("request_id")
                .and_then(Value::as_str)
                .ok_or_else(|| ParseError::BadShape {
                    kind: kind.clone(),
                    why: "no request_id".into(),
                })?
                .to_string(),
        },
        "rate_limit_event" => Line::RateLimit(serde_json::from_value(value).map_err(shape)?),
        _ => Line::Other { kind },
    })
}

fn parse_system(value: Value) -> Result<System, serde_json::Error> {
    let subtype = value
        .get("subtype")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(match subtype.as_str() {
        "init" => System::Init(serde_json::from_value(value)?),
        "compact_boundary" => System::CompactBoundary(serde_json::from_value(value)?),
        "status" => System::Status {
            status: value
                .get("status")
                .and_then(Value::as_str)
                .map(String::from),
            permission_mode: value
                .get("permissionMode")
                .and_then(Value::as_str)
                .map(String::from),
        },
        "api_retry" => System::ApiRetry(serde_json::from_value(value)?),
        "permission_denied" => System::PermissionDenied(serde_json::from_value(value)?),
        _ => System::Other { subtype },
    })
}

/// The stdin line that gives the CLI a prompt (`--input-format stream-json`), in the
/// shape the SDKs write.
pub fn user_message_line(text: &str) -> String {
    let mut obj = Map::new();
    obj.insert("type".into(), "user".into());
    obj.insert(
        "message".into(),
        serde_json::json!({"role": "user", "content": [{"type": "text", "text": text}]}),
    );
    obj.insert("parent_tool_use_id".into(), Value::Null);
    obj.insert("session_id".into(), "".into());
    Value::Object(obj).to_string()
}

/// The prompt line with images after the text, each an `image` content block
/// (`{"type":"image","source":{"type":"base64","media_type":...,"data":...}}`, as
/// the SDKs send them; fixture `stdin_image`). `images` are (media type, bytes).
pub fn user_message_line_with_images(text: &str, images: &[(&str, Vec<u8>)]) -> String {
    use base64::Engine;
    let mut content = vec![serde_json::json!({"type": "text", "text": text})];
    for (media_type, bytes) in images {
        content.push(serde_json::json!({
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": media_type,
                "data": base64::engine::general_purpose::STANDARD.encode(bytes),
            },
        }));
    }
    let mut obj = Map::new();
    obj.insert("type".into(), "user".into());
    obj.insert(
        "message".into(),
        serde_json::json!({"role": "user", "content": content}),
    );
    obj.insert("parent_tool_use_id".into(), Value::Null);
    obj.insert("session_id".into(), "".into());
    Value::Object(obj).to_string()
}

/// How to answer a `can_use_tool` request.
#[derive(Debug, Clone, PartialEq)]
pub enum PermissionAnswer {
    /// Run the tool with `input` (the request's, or with AskUserQuestion's
    /// `answers` added); `permissions` are `updatedPermissions` items: an
    /// `addRules` suggestion for "allow always", a `setMode` after a plan.
    Allow {
        input: Value,
        permissions: Vec<Value>,
    },
    /// Refuse: the model reads `message` and goes on, unless `interrupt` ends the
    /// turn.
    Deny { message: String, interrupt: bool },
}

/// The stdin line answering the `can_use_tool` request `request_id`.
pub fn permission_response_line(request_id: &str, answer: &PermissionAnswer) -> String {
    let response = match answer {
        PermissionAnswer::Allow { input, permissions } => {
            let mut r = serde_json::json!({"behavior": "allow", "updatedInput": input});
            if !permissions.is_empty() {
                r["updatedPermissions"] = Value::from(permissions.clone());
            }
            r
        }
        PermissionAnswer::Deny { message, interrupt } => {
            let mut r = serde_json::json!({"behavior": "deny", "message": message});
            if *interrupt {
                r["interrupt"] = Value::Bool(true);
            }
            r
        }
    };
    serde_json::json!({
        "type": "control_response",
        "response": {"subtype": "success", "request_id": request_id, "response": response},
    })
    .to_string()
}

/// The stdin line switching the session's permission mode.
pub fn set_permission_mode_line(request_id: &str, mode: &str) -> String {
    serde_json::json!({
        "type": "control_request",
        "request_id": request_id,
        "request": {"subtype": "set_permission_mode", "mode": mode},
    })
    .to_string()
}

/// The stdin line that interrupts the running turn: the CLI ends the turn with an
/// `error_during_execution` result and waits for more input.
pub fn interrupt_line(request_id: &str) -> String {
    serde_json::json!({
        "type": "control_request",
        "request_id": request_id,
        "request": {"subtype": "interrupt"},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stream-json")
    }

    /// Every line the CLI printed in every fixture parses, and no fixture line falls
    /// back to `Other` except the line types we chose not to model.
    #[test]
    fn every_fixture_line_parses() {
        let mut files = 0;
        let entries = std::fs::read_dir(fixture_dir()).expect("fixtures directory");
        for entry in entries {
            let path = entry.expect("fixture entry").path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".jsonl") || name.ends_with(".stdin.jsonl") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).expect("fixture text");
            for (n, line) in text.lines().enumerate() {
                match parse_line(line) {
                    Ok(Line::Other { kind }) => assert!(
                        ["command_lifecycle"].contains(&kind.as_str()),
                        "{name}:{}: {kind}",
                        n + 1
                    ),
                    Ok(_) => {}
                    Err(e) => panic!("{name}:{}: {e}", n + 1),
                }
            }
        }
        assert_eq!(files, 23, "every stdout fixture was read");
    }

    #[test]
    fn the_stdin_fixtures_parse_as_what_we_write() {
        // The lines we write must mean the same as the ones the SDK wrote when the
        // fixtures were recorded (key order and spacing differ, the JSON does not).
        let text =
            std::fs::read_to_string(fixture_dir().join("stdin_interrupt.stdin.jsonl")).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let ours: Value =
            serde_json::from_str(&user_message_line("SCENARIO_SLOW tell me a long story")).unwrap();
        assert_eq!(ours, lines[0]);
        let ours: Value = serde_json::from_str(&interrupt_line("req_interrupt_1")).unwrap();
        assert_eq!(ours, lines[1]);
    }

    #[test]
    fn reads_the_fields_we_use() {
        let line = r#"{"type":"system","subtype":"init","cwd":"/w","session_id":"s1","tools":["Bash"],"model":"m","permissionMode":"acceptEdits","extra":1}"#;
        assert_eq!(
            parse_line(line),
            Ok(Line::System(System::Init(Init {
                session_id: Some("s1".into()),
                model: Some("m".into()),
                cwd: Some("/w".into()),
                tools: vec!["Bash".into()],
                permission_mode: Some("acceptEdits".into()),
                claude_code_version: None,
            })))
        );
        let line = r#"{"type":"system","subtype":"compact_boundary","session_id":"s","compact_metadata":{"trigger":"auto","pre_tokens":167094}}"#;
        assert_eq!(
            parse_line(line),
            Ok(Line::System(System::CompactBoundary(CompactBoundary {
                compact_metadata: Some(CompactMetadata {
                    trigger: Some("auto".into()),
                    pre_tokens: Some(167094)
                })
            })))
        );
        let line = r#"{"type":"system","subtype":"api_retry","attempt":2,"max_retries":10,"retry_delay_ms":1200,"error_status":null,"error":"unknown"}"#;
        assert_eq!(
            parse_line(line),
            Ok(Line::System(System::ApiRetry(ApiRetry {
                attempt: Some(2),
                max_retries: Some(10),
                retry_delay_ms: Some(1200),
                error_status: None,
                error: Some("unknown".into()),
            })))
        );
        let line = r#"{"type":"system","subtype":"hook_started","hook_name":"x"}"#;
        assert_eq!(
            parse_line(line),
            Ok(Line::System(System::Other {
                subtype: "hook_started".into()
            }))
        );
    }

    #[test]
    fn reads_tool_results_in_both_shapes() {
        let line = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":[{"type":"text","text":"a"},{"type":"image","source":{}},{"type":"text","text":"b"}]}]},"tool_use_result":{"file":{"numLines":7}}}"#;
        let Ok(Line::User(user)) = parse_line(line) else {
            panic!("not a user line")
        };
        assert_eq!(user.file_num_lines(), Some(7));
        let UserContent::Blocks(blocks) = &user.message.content else {
            panic!("no blocks")
        };
        let UserBlock::ToolResult {
            tool_use_id,
            content: Some(content),
            is_error,
        } = &blocks[0]
        else {
            panic!("not a tool result")
        };
        assert_eq!(tool_use_id, "t1");
        assert_eq!(*is_error, Some(true));
        assert_eq!(content.to_text(), "a\n[image]\nb");
        // A plain-string user message (a prompt echoed back) is a user line too.
        let line = r#"{"type":"user","message":{"role":"user","content":"hi"},"tool_use_result":"Error: x"}"#;
        let Ok(Line::User(user)) = parse_line(line) else {
            panic!("not a user line")
        };
        assert_eq!(user.message.content, UserContent::Text("hi".into()));
        assert_eq!(user.file_num_lines(), None);
    }

    #[test]
    fn unknown_things_are_passed_over() {
        assert_eq!(
            parse_line(r#"{"type":"brand_new","x":[1,2]}"#),
            Ok(Line::Other {
                kind: "brand_new".into()
            })
        );
        let line = r#"{"type":"assistant","message":{"id":"m","content":[{"type":"server_tool_use","id":"x"},{"type":"text","text":"hi","citations":null}]}}"#;
        let Ok(Line::Assistant(a)) = parse_line(line) else {
            panic!("not an assistant line")
        };
        assert_eq!(
            a.message.content,
            vec![
                AssistantBlock::Other,
                AssistantBlock::Text { text: "hi".into() }
            ]
        );
        let line = r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta"}}}"#;
        assert!(matches!(
            parse_line(line),
            Ok(Line::StreamEvent(StreamEvent {
                event: ApiEvent::ContentBlockDelta {
                    delta: Delta::Other,
                    ..
                },
                ..
            }))
        ));
        let line = r#"{"type":"result","subtype":"error_max_budget_usd","is_error":true,"errors":[{"code":1}],"permission_denials":null}"#;
        let Ok(Line::Result(r)) = parse_line(line) else {
            panic!("not a result")
        };
        assert_eq!(
            r.subtype,
            ResultSubtype::Other("error_max_budget_usd".into())
        );
        assert_eq!(r.errors_text(), r#"{"code":1}"#);
    }

    #[test]
    fn malformed_lines_are_typed_errors() {
        assert_eq!(parse_line("  "), Err(ParseError::Empty));
        assert!(matches!(parse_line("{nope"), Err(ParseError::NotJson(_))));
        assert!(matches!(
            parse_line("Error: something went wrong"),
            Err(ParseError::NotJson(_))
        ));
        assert_eq!(parse_line("[1]"), Err(ParseError::NotObject));
        assert_eq!(parse_line(r#"{"a":1}"#), Err(ParseError::MissingType));
        assert_eq!(parse_line(r#"{"type":3}"#), Err(ParseError::MissingType));
        let err = parse_line(r#"{"type":"assistant","message":{"content":"not a list"}}"#);
        assert!(
            matches!(&err, Err(ParseError::BadShape { kind, .. }) if kind == "assistant"),
            "{err:?}"
        );
    }
}
