//! What every messenger bridge shares: its health for `/healthz`, the back-off,
//! following one prompt's run, answering an approval as a named person, and the
//! texts (the progress summary, escaping, splitting at the message limit).
//!
//! A bridge is an API client that lives inside the process: its prompts join the
//! queue through [`ApiInput::Prompt`] (as `POST /api/prompts` does), it follows
//! each run through a job subscription ([`crate::jobs`], as the SSE stream does),
//! and it answers approvals through [`HubHandle::approve`]. So it adds no logic to
//! the hub and never blocks it: the hub only pushes into the bridge's [`Outbox`],
//! and everything slow (the messenger's HTTP calls, back-off sleeps) happens on the
//! bridge's own threads.

use crate::approvals::Refusal;
use crate::auth::{Role, Who};
use crate::hub::{ApiInput, HubHandle};
use crate::outbox::{Flushed, Outbox, Wire};
use crate::protocol::ApprovalAnswer;
use crate::replay::Replay;
use rustix::event::PollFlags;
use rustix::io::Errno;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a bridge waits for the hub's answer to a request.
pub const HUB_WAIT: Duration = Duration::from_secs(5);

/// Bytes of a run's events a bridge may fall behind by (its thread reads them at
/// once; only a wedged messenger call could let them pile up).
const BACKLOG: usize = 1 << 20;

/// One bridge's state as `/healthz` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
struct State {
    connected: bool,
    last_error: Option<String>,
}

/// Every running bridge's health, shared with the routes (`/healthz`).
#[derive(Debug, Default)]
pub struct Health {
    bridges: Mutex<BTreeMap<&'static str, State>>,
}

impl Health {
    pub fn new() -> Arc<Health> {
        Arc::new(Health::default())
    }

    fn with(&self, name: &'static str, f: impl FnOnce(&mut State)) {
        let mut map = self.bridges.lock().unwrap_or_else(|e| e.into_inner());
        f(map.entry(name).or_default());
    }

    /// The bridge is configured and starting.
    pub fn register(&self, name: &'static str) {
        self.with(name, |_| {});
    }

    /// A call to the messenger worked.
    pub fn connected(&self, name: &'static str) {
        self.with(name, |s| s.connected = true);
    }

    /// A call failed; `why` must already be free of secrets.
    pub fn failed(&self, name: &'static str, why: &str) {
        self.with(name, |s| {
            s.connected = false;
            s.last_error = Some(why.to_string());
        });
    }

    /// `{"telegram":{"connected":true,"last_error":null}}`; `None` with no bridge.
    pub fn json(&self) -> Option<Value> {
        let map = self.bridges.lock().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return None;
        }
        let body: serde_json::Map<String, Value> = map
            .iter()
            .map(|(name, s)| {
                (
                    name.to_string(),
                    json!({"connected": s.connected, "last_error": s.last_error}),
                )
            })
            .collect();
        Some(Value::Object(body))
    }
}

/// Exponential back-off between failed calls: 0.5 s doubling to a minute, back
/// to the start after a success.
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(60);

    pub fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// How long to wait now (at least `floor`, a server's `retry_after`).
    pub fn next(&mut self, floor: Option<Duration>) -> Duration {
        let wait = self.next.max(floor.unwrap_or_default()).min(Self::MAX);
        self.next = (self.next * 2).min(Self::MAX);
        wait
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// What a followed run reports.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// One of the run's events, the JSON `/ws` gets.
    Event(Value),
    /// The run is over: the job's final state (`GET /api/prompts/N`).
    End(Value),
}

/// An outbox's bytes, collected rather than sent.
struct Collect<'a>(&'a mut Vec<u8>);

impl Wire for Collect<'_> {
    fn send_now(&mut self, bytes: &[u8]) -> Result<usize, Errno> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }
}

/// One prompt's run, followed like an SSE stream but read in-process.
pub struct Follow {
    hub: HubHandle,
    outbox: Arc<Outbox>,
    sub: u64,
    buf: Vec<u8>,
    replay: Replay,
    over: bool,
}

impl Follow {
    /// Subscribes to job `job`'s events from its start; `None` if the hub does not
    /// know it (or does not answer).
    pub fn start(hub: &HubHandle, job: u64) -> Option<Follow> {
        let outbox = Arc::new(Outbox::new_stream(None, BACKLOG).ok()?);
        let sub = hub.new_stream_id();
        let known = hub.ask(
            |reply| ApiInput::Subscribe {
                sub,
                job,
                after: 0,
                outbox: outbox.clone(),
                reply,
            },
            HUB_WAIT,
        );
        if known != Some(true) {
            hub.tell_api(ApiInput::Unsubscribe { sub });
            return None;
        }
        Some(Follow {
            hub: hub.clone(),
            outbox,
            sub,
            buf: Vec::new(),
            replay: Replay::default(),
            over: false,
        })
    }

    /// Waits up to `wait` for events; an empty list when none came. After
    /// [`RunEvent::End`] (or the stream being cut) returns `None`.
    pub fn next(&mut self, wait: Duration) -> Option<Vec<RunEvent>> {
        if self.over {
            return None;
        }
        let deadline = Instant::now() + wait;
        loop {
            if let Some(last) = self.replay.step(&self.outbox).done {
                self.hub.tell_api(ApiInput::ReplayDone {
                    sub: self.sub,
                    last,
                });
            }
            let flushed = self.outbox.flush(&mut Collect(&mut self.buf));
            let events = self.parse();
            if events.iter().any(|e| matches!(e, RunEvent::End(_))) {
                self.over = true;
            }
            if flushed == Flushed::Finished && !self.over {
                // Cut (fell too far behind): nothing more will come.
                self.over = true;
                if events.is_empty() {
                    return None;
                }
            }
            let now = Instant::now();
            if !events.is_empty() || self.over || now >= deadline {
                return Some(events);
            }
            if self.replay.active() {
                continue;
            }
            let left = deadline - now;
            if self.outbox.wait(None, PollFlags::empty(), left).is_err() {
                std::thread::sleep(left.min(Duration::from_millis(100)));
            }
        }
    }

    /// Takes whole SSE events (`id:`/`event:`/`data:` lines, a blank line after)
    /// out of the buffer.
    fn parse(&mut self) -> Vec<RunEvent> {
        let mut out = Vec::new();
        while let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
            let chunk: Vec<u8> = self.buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&chunk);
            let mut is_end = false;
            let mut data = None;
            for line in text.lines() {
                if line == "event: end" {
                    is_end = true;
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str::<Value>(d).ok();
                }
            }
            match (data, is_end) {
                (Some(v), true) => out.push(RunEvent::End(v)),
                (Some(v), false) => out.push(RunEvent::Event(v)),
                (None, _) => {}
            }
        }
        out
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.hub.tell_api(ApiInput::Unsubscribe { sub: self.sub });
    }
}

/// Answers approval `id` as `name` from `via` (e.g. `telegram`), with the owner's
/// authority: the operator allowed the chat this person wrote from.
pub fn answer_approval(
    hub: &HubHandle,
    via: &str,
    name: &str,
    answer: ApprovalAnswer,
) -> Result<&'static str, String> {
    let who = Who {
        role: Role::Owner,
        invite: Some((via.to_string(), name.to_string())),
        checked: Instant::now(),
    };
    match hub.approve(answer, None, Some(who), HUB_WAIT) {
        Some(Ok(outcome)) => Ok(outcome),
        Some(Err(refusal)) => Err(refusal_words(&refusal)),
        None => Err("the server is not responding".into()),
    }
}

fn refusal_words(r: &Refusal) -> String {
    format!("{r:?}")
}

/// A run's end in one line: "$0.0123 · 4.2 s".
pub fn facts(end: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(c) = end.get("cost_usd").and_then(Value::as_f64) {
        parts.push(format!("${c:.4}"));
    }
    if let Some(d) = end.get("duration_sec").and_then(Value::as_f64) {
        parts.push(format!("{d:.1} s"));
    }
    parts.join(" · ")
}

/// The longest message sent: Telegram's limit is 4096 characters (UTF-16 units;
/// we count chars and keep a margin for the few outside the BMP), Slack's advice
/// is 4000.
pub const MAX_MESSAGE: usize = 4000;

/// Tool lines kept in a progress message (the latest).
const PROGRESS_LINES: usize = 12;

/// What the progress message shows.
#[derive(Default)]
pub struct RunView {
    pub started: bool,
    lines: Vec<String>,
    todo: Option<String>,
}

impl RunView {
    pub fn progress(&mut self, e: &Value) {
        match e["progress_type"].as_str() {
            Some("start") => self.started = true,
            Some("tool_start") => {
                let tool = e["tool"].as_str().unwrap_or("tool");
                if let Some(todos) = e["edit_info"]["todos"].as_array() {
                    let done = todos.iter().filter(|t| t["status"] == "completed").count();
                    let now = todos
                        .iter()
                        .find(|t| t["status"] == "in_progress")
                        .and_then(|t| t["activeForm"].as_str().or(t["content"].as_str()))
                        .unwrap_or("");
                    self.todo = Some(format!("📋 {done}/{} done {}", todos.len(), clip(now, 80)));
                    return;
                }
                let detail = e["detail"].as_str().unwrap_or("");
                self.lines.push(
                    format!("🔧 {tool} {}", clip(detail, 100))
                        .trim_end()
                        .to_string(),
                );
                if self.lines.len() > PROGRESS_LINES {
                    self.lines.remove(0);
                }
            }
            Some("retry") => self.lines.push("↻ retrying in a new session".into()),
            _ => {}
        }
    }

    pub fn text(&self, status: Option<&str>) -> String {
        let head = match status {
            None => "⏳ Working…",
            Some("done") => "✅ Done",
            Some("stopped") => "⏹ Stopped",
            Some("cancelled") => "⏹ Cancelled",
            Some(_) => "❌ Failed",
        };
        let mut out = String::from(head);
        for l in &self.lines {
            out.push('\n');
            out.push_str(l);
        }
        if let Some(t) = &self.todo {
            out.push('\n');
            out.push_str(t);
        }
        out
    }
}

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// How an approval ended, for a bridge's message (escaped): `words` (the
/// decision, in the messenger's style), who, whether the run was stopped too,
/// and the reason given with a denial.
pub fn resolved_line(words: &str, event: &Value) -> String {
    let by = escape(event["by"].as_str().unwrap_or("?"));
    let stopped = if event["interrupt"] == true {
        ", run stopped"
    } else {
        ""
    };
    match event["message"].as_str() {
        Some(why) => format!("{words} by {by}{stopped}: {}", escape(&clip(why, 300))),
        None => format!("{words} by {by}{stopped}"),
    }
}

/// Text made safe for Telegram's `parse_mode: HTML` and Slack's mrkdwn alike:
/// only `<`, `>` and `&` are special to both.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped for one message: cut (at a line break when one is near) if
/// escaping made it too long.
pub fn fit(text: &str) -> String {
    split(text).into_iter().next().unwrap_or_default()
}

/// The answer as escaped messages of at most [`MAX_MESSAGE`] characters,
/// cut at a line break where one is near, never inside an entity.
pub fn split(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut len = 0;
    // The last line break in `cur`: (byte index after it, chars up to it).
    let mut brk: Option<(usize, usize)> = None;
    for c in text.chars() {
        let piece = escape(c.encode_utf8(&mut [0; 4]));
        let n = piece.chars().count();
        if len + n > MAX_MESSAGE {
            match brk.filter(|(_, chars)| *chars > MAX_MESSAGE / 2) {
                Some((at, chars)) => {
                    let rest = cur.split_off(at);
                    out.push(std::mem::replace(&mut cur, rest));
                    len -= chars;
                }
                None => {
                    out.push(std::mem::take(&mut cur));
                    len = 0;
                }
            }
            brk = None;
        }
        cur.push_str(&piece);
        len += n;
        if c == '\n' {
            brk = Some((cur.len(), len));
        }
    }
    if !cur.trim().is_empty() || out.is_empty() && !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_outcome_says_who_why_and_whether_the_run_stopped_escaped() {
        let plain = json!({"decision":"allow","by":"Ann <ops>"});
        assert_eq!(
            resolved_line("Allowed", &plain),
            "Allowed by Ann &lt;ops&gt;"
        );
        let stop =
            json!({"decision":"deny","by":"owner","message":"not <b>that</b>","interrupt":true});
        assert_eq!(
            resolved_line("Denied", &stop),
            "Denied by owner, run stopped: not &lt;b&gt;that&lt;/b&gt;"
        );
    }

    #[test]
    fn backoff_doubles_to_a_minute_and_resets() {
        let mut b = Backoff::new();
        assert_eq!(b.next(None), Duration::from_millis(500));
        assert_eq!(b.next(None), Duration::from_secs(1));
        assert_eq!(b.next(Some(Duration::from_secs(7))), Duration::from_secs(7));
        for _ in 0..10 {
            b.next(None);
        }
        assert_eq!(b.next(None), Duration::from_secs(60));
        b.reset();
        assert_eq!(b.next(None), Duration::from_millis(500));
    }

    #[test]
    fn health_lists_each_bridge_with_its_last_error() {
        let h = Health::new();
        assert_eq!(h.json(), None);
        h.register("telegram");
        h.failed("telegram", "502 Bad Gateway");
        h.connected("telegram");
        assert_eq!(
            h.json(),
            Some(json!({"telegram":{"connected":true,"last_error":"502 Bad Gateway"}}))
        );
    }
}
