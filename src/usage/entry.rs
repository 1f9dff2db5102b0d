//! One transcript line to usage entries, with ccusage 20's acceptance rules
//! (which lines count, which fields must be present, which `null`s reject a
//! line). Pure: no I/O, no state; de-duplication happens in `ledger.rs`.

use std::borrow::Cow;

use serde::Deserialize;

use super::pricing::Tokens;
use super::time::parse_timestamp;

/// A usage entry read from one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<'a> {
    pub ts_ms: i64,
    /// `sessionId` of the line, or the one derived from the file's path.
    pub session: Option<Cow<'a, str>>,
    pub message_id: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub sidechain: bool,
    /// The model as written (`None` when absent).
    pub model: Option<Cow<'a, str>>,
    pub tokens: Tokens,
    pub fast: bool,
    pub cost_usd: Option<f64>,
}

impl Entry<'_> {
    /// The name ccusage lists for this entry: none for `<synthetic>` lines
    /// (the CLI's own error stand-ins), `-fast` appended for fast mode.
    pub fn display_model(&self) -> Option<Cow<'_, str>> {
        let model = self.model.as_deref()?;
        if model == "<synthetic>" {
            None
        } else if self.fast {
            Some(Cow::Owned(format!("{model}-fast")))
        } else {
            Some(Cow::Borrowed(model))
        }
    }
}

const USAGE_MARKER: &str = "\"usage\":{";

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(rename = "sessionId", borrow)]
    session_id: Option<Cow<'a, str>>,
    #[serde(rename = "costUSD")]
    cost_usd: Option<f64>,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(rename = "isSidechain")]
    is_sidechain: Option<bool>,
    /// `progress` lines of sub-agents (`data.type == "agent_progress"`)
    /// carry the sub-agent's assistant message, usage included.
    #[serde(borrow)]
    data: Option<ProgressData<'a>>,
}

#[derive(Deserialize)]
struct ProgressData<'a> {
    #[serde(borrow)]
    message: Option<ProgressMessage<'a>>,
}

#[derive(Deserialize)]
struct ProgressMessage<'a> {
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<Message<'a>>,
    #[serde(rename = "costUSD")]
    cost_usd: Option<f64>,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(rename = "isSidechain")]
    is_sidechain: Option<bool>,
}

#[derive(Deserialize)]
struct Message<'a> {
    usage: Usage,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct Usage {
    // Required, as in ccusage: a usage object without them is not a usage.
    input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    speed: Option<Speed>,
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Speed {
    Standard,
    Fast,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct CacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: u64,
    #[serde(default)]
    ephemeral_1h_input_tokens: u64,
}

impl Usage {
    fn tokens(&self) -> Tokens {
        // With the split present, the split is the truth (ccusage ignores
        // cache_creation_input_tokens then, for counts and for prices).
        let (cache_5m, cache_1h) = match self.cache_creation {
            Some(split) => (
                split.ephemeral_5m_input_tokens,
                split.ephemeral_1h_input_tokens,
            ),
            None => (self.cache_creation_input_tokens, 0),
        };
        Tokens {
            input: self.input_tokens,
            output: self.output_tokens,
            cache_5m,
            cache_1h,
            cache_read: self.cache_read_input_tokens,
        }
    }
}

/// Reads the usage entries of one line: none for most lines, one for an
/// assistant line or a sub-agent progress line, more when the usage lists
/// `advisor_message` iterations (each billed to its own model).
pub fn parse_line<'a>(line: &'a str, path_session: &'a str, out: &mut Vec<Entry<'a>>) {
    if !line.contains(USAGE_MARKER) || has_rejected_null(line) {
        return;
    }
    let Ok(parsed) = serde_json::from_str::<Line<'a>>(line) else {
        return;
    };
    let Line {
        timestamp,
        message,
        version,
        session_id,
        cost_usd,
        request_id,
        is_sidechain,
        data,
    } = parsed;
    let (timestamp, message, cost_usd, request_id, is_sidechain, version, progress) = match message
    {
        Some(message) => (
            timestamp,
            message,
            cost_usd,
            request_id,
            is_sidechain,
            version,
            false,
        ),
        None => {
            let Some(inner) = data.and_then(|data| data.message) else {
                return;
            };
            let Some(message) = inner.message else {
                return;
            };
            (
                inner.timestamp,
                message,
                inner.cost_usd,
                inner.request_id,
                inner.is_sidechain,
                None,
                true,
            )
        }
    };
    let Some(ts_ms) = timestamp.as_deref().and_then(parse_timestamp) else {
        return;
    };
    let empty = |value: &Option<Cow<'_, str>>| value.as_deref().is_some_and(str::is_empty);
    if version.as_deref().is_some_and(|v| !is_semver_prefix(v))
        || empty(&session_id)
        || empty(&request_id)
        || empty(&message.id)
        || empty(&message.model)
    {
        return;
    }
    let session = session_id.or(Some(Cow::Borrowed(path_session)));
    let entry = Entry {
        ts_ms,
        session,
        message_id: message.id,
        request_id,
        sidechain: is_sidechain == Some(true),
        model: message.model,
        tokens: message.usage.tokens(),
        fast: message.usage.speed == Some(Speed::Fast),
        cost_usd,
    };
    if line.contains("\"advisor_message\"") {
        let advisors = advisor_usages(line, progress);
        out.push(entry.clone());
        for (index, (model, usage)) in advisors.into_iter().enumerate() {
            out.push(Entry {
                message_id: entry
                    .message_id
                    .as_deref()
                    .map(|id| Cow::Owned(format!("{id}:advisor:{index}"))),
                model: Some(Cow::Owned(model)),
                tokens: usage.tokens(),
                fast: usage.speed == Some(Speed::Fast),
                cost_usd: None,
                ..entry.clone()
            });
        }
    } else {
        out.push(entry);
    }
}

#[derive(Deserialize)]
struct AdvisorLine {
    message: Option<AdvisorMessage>,
    data: Option<AdvisorData>,
}

#[derive(Deserialize)]
struct AdvisorData {
    message: AdvisorInner,
}

#[derive(Deserialize)]
struct AdvisorInner {
    message: AdvisorMessage,
}

#[derive(Deserialize)]
struct AdvisorMessage {
    usage: AdvisorUsage,
}

#[derive(Deserialize)]
struct AdvisorUsage {
    #[serde(default)]
    iterations: Vec<Iteration>,
}

#[derive(Deserialize)]
struct Iteration {
    #[serde(rename = "type")]
    kind: String,
    model: Option<String>,
    #[serde(flatten)]
    usage: Usage,
}

/// The `advisor_message` iterations of a line's usage: rare, so parsed on
/// their own second pass rather than slowing every line.
fn advisor_usages(line: &str, progress: bool) -> Vec<(String, Usage)> {
    let Ok(parsed) = serde_json::from_str::<AdvisorLine>(line) else {
        return Vec::new();
    };
    let message = if progress {
        parsed.data.map(|d| d.message.message)
    } else {
        parsed.message
    };
    message
        .map(|m| m.usage.iterations)
        .unwrap_or_default()
        .into_iter()
        .filter(|it| it.kind == "advisor_message")
        .filter_map(|it| Some((it.model.filter(|m| !m.is_empty())?, it.usage)))
        .collect()
}

/// `1.2.3…`: ccusage skips lines whose `version` is anything else.
fn is_semver_prefix(value: &str) -> bool {
    let mut parts = value.splitn(3, '.');
    let numeric =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next())
        && numeric(parts.next())
        && parts
            .next()
            .is_some_and(|rest| rest.bytes().next().is_some_and(|b| b.is_ascii_digit()))
}

/// ccusage 20 drops a line in which any of these keys is `null`, wherever
/// it sits in the line (its loader mirrors a schema that has them
/// non-nullable). The one exemption is `model` inside `usage.iterations`,
/// which the CLI writes as null for the main model.
fn has_rejected_null(line: &str) -> bool {
    const KEYS: [&str; 11] = [
        "id",
        "cwd",
        "model",
        "speed",
        "costUSD",
        "version",
        "sessionId",
        "requestId",
        "isApiErrorMessage",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    ];
    if !line.contains(":null") {
        return false;
    }
    let bytes = line.as_bytes();
    let iterations = iterations_span(bytes);
    for (at, _) in line.match_indices(":null") {
        let Some(key_end) = at.checked_sub(1).filter(|&end| bytes[end] == b'"') else {
            continue;
        };
        let Some(key_start) = bytes[..key_end].iter().rposition(|&b| b == b'"') else {
            continue;
        };
        let key = &line[key_start + 1..key_end];
        if KEYS.contains(&key)
            && !(key == "model" && iterations.as_ref().is_some_and(|span| span.contains(&at)))
        {
            return true;
        }
    }
    false
}

/// The byte range of the first `"iterations":[ … ]` array, found with a
/// string-aware bracket walk so brackets inside strings do not end it.
fn iterations_span(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    const KEY: &[u8] = b"\"iterations\":[";
    let start = bytes.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let mut depth = 1usize;
    let mut at = start;
    let mut in_string = false;
    while let Some(&b) = bytes.get(at) {
        if in_string {
            match b {
                b'\\' => at += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(start..at);
                    }
                }
                _ => {}
            }
        }
        at += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a line yields, written compactly:
    /// `ts model msg/req side in/out/c5m/c1h/read fast cost`.
    fn summary(e: &Entry<'_>) -> String {
        format!(
            "{} {} {}/{} {} {}/{}/{}/{}/{} {} {:?} {}",
            super::super::time::format_iso_ms(e.ts_ms),
            e.model.as_deref().unwrap_or("-"),
            e.message_id.as_deref().unwrap_or("-"),
            e.request_id.as_deref().unwrap_or("-"),
            if e.sidechain { "side" } else { "main" },
            e.tokens.input,
            e.tokens.output,
            e.tokens.cache_5m,
            e.tokens.cache_1h,
            e.tokens.cache_read,
            if e.fast { "fast" } else { "std" },
            e.cost_usd,
            e.session.as_deref().unwrap_or("-"),
        )
    }

    fn check(line: &str, expect: &[&str]) {
        let mut out = Vec::new();
        parse_line(line, "path-session", &mut out);
        let got: Vec<String> = out.iter().map(summary).collect();
        assert_eq!(got, expect, "{line}");
    }

    const TS: &str = r#""timestamp":"2026-01-05T10:00:00.000Z""#;

    #[test]
    fn assistant_lines() {
        check(
            &format!(
                r#"{{"type":"assistant",{TS},"sessionId":"s1","requestId":"r1","message":{{"id":"m1","model":"claude-sonnet-4-5","usage":{{"input_tokens":3,"output_tokens":4,"cache_creation_input_tokens":5,"cache_read_input_tokens":6}}}}}}"#
            ),
            &["2026-01-05T10:00:00.000Z claude-sonnet-4-5 m1/r1 main 3/4/5/0/6 std None s1"],
        );
        // The 5m/1h split wins over cache_creation_input_tokens.
        check(
            &format!(
                r#"{{{TS},"message":{{"id":"m1","model":"m","usage":{{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":999,"cache_creation":{{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20}}}}}},"costUSD":0.5,"isSidechain":true}}"#
            ),
            &["2026-01-05T10:00:00.000Z m m1/- side 0/0/10/20/0 std Some(0.5) path-session"],
        );
        check(
            &format!(
                r#"{{{TS},"message":{{"model":"claude-opus-4-6","usage":{{"input_tokens":1,"output_tokens":2,"speed":"fast"}}}}}}"#
            ),
            &["2026-01-05T10:00:00.000Z claude-opus-4-6 -/- main 1/2/0/0/0 fast None path-session"],
        );
    }

    #[test]
    fn progress_lines_carry_subagent_usage() {
        check(
            &format!(
                r#"{{"type":"progress","sessionId":"s9",{TS},"data":{{"type":"agent_progress","message":{{"type":"assistant","timestamp":"2026-01-05T09:00:00.000Z","requestId":"r2","message":{{"model":"claude-sonnet-4-5-20250929","id":"m2","usage":{{"input_tokens":3,"output_tokens":1,"cache_creation":{{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":12118}}}},"context_management":null}}}}}}}}"#
            ),
            &[
                "2026-01-05T09:00:00.000Z claude-sonnet-4-5-20250929 m2/r2 main 3/1/0/12118/0 std None s9",
            ],
        );
        // A hook progress line has no message: nothing.
        check(
            &format!(
                r#"{{"type":"progress",{TS},"data":{{"type":"hook_progress","usage":{{}}}}}}"#
            ),
            &[],
        );
    }

    #[test]
    fn rejected_lines() {
        let ok = |extra: &str| {
            format!(
                r#"{{{TS}{extra},"message":{{"id":"m1","model":"m","usage":{{"input_tokens":1,"output_tokens":1}}}}}}"#
            )
        };
        // Sanity: the base line counts.
        check(
            &ok(""),
            &["2026-01-05T10:00:00.000Z m m1/- main 1/1/0/0/0 std None path-session"],
        );
        check(&ok(r#","version":"abc""#), &[]);
        check(&ok(r#","requestId":"""#), &[]);
        check(&ok(r#","sessionId":"""#), &[]);
        check(&ok(r#","toolUseResult":{"id":null}"#), &[]);
        check(&ok(r#","costUSD":null"#), &[]);
        // Nulls of other keys are fine.
        check(
            &ok(r#","stop_reason":null"#),
            &["2026-01-05T10:00:00.000Z m m1/- main 1/1/0/0/0 std None path-session"],
        );
        // Missing output_tokens, float tokens, unknown speed, no timestamp.
        check(
            &format!(r#"{{{TS},"message":{{"model":"m","usage":{{"input_tokens":1}}}}}}"#),
            &[],
        );
        check(
            &format!(
                r#"{{{TS},"message":{{"model":"m","usage":{{"input_tokens":1.0,"output_tokens":1}}}}}}"#
            ),
            &[],
        );
        check(
            &format!(
                r#"{{{TS},"message":{{"model":"m","usage":{{"input_tokens":1,"output_tokens":1,"speed":"warp"}}}}}}"#
            ),
            &[],
        );
        check(
            r#"{"message":{"model":"m","usage":{"input_tokens":1,"output_tokens":1}}}"#,
            &[],
        );
        // No marker (a space after the colon): not read at all, as in ccusage.
        check(
            &format!(
                r#"{{{TS},"message":{{"model":"m","usage": {{"input_tokens":1,"output_tokens":1}}}}}}"#
            ),
            &[],
        );
        check("{\"usage\":{ torn", &[]);
    }

    #[test]
    fn advisor_iterations() {
        check(
            &format!(
                r#"{{{TS},"requestId":"r1","message":{{"id":"m1","model":"claude-opus-4-6","usage":{{"input_tokens":1,"output_tokens":1,"iterations":[{{"type":"message","model":null,"input_tokens":1,"output_tokens":1}},{{"type":"advisor_message","model":"claude-haiku-4-5","input_tokens":1000,"output_tokens":1000}}]}}}}}}"#
            ),
            &[
                "2026-01-05T10:00:00.000Z claude-opus-4-6 m1/r1 main 1/1/0/0/0 std None path-session",
                "2026-01-05T10:00:00.000Z claude-haiku-4-5 m1:advisor:0/r1 main 1000/1000/0/0/0 std None path-session",
            ],
        );
    }

    #[test]
    fn display_names() {
        let mut out = Vec::new();
        let line = format!(
            r#"{{{TS},"message":{{"model":"<synthetic>","usage":{{"input_tokens":1,"output_tokens":1}}}}}}"#
        );
        parse_line(&line, "s", &mut out);
        assert_eq!(out.first().and_then(|e| e.display_model()), None);
    }
}
