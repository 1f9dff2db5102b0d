//! The Slack bridge, over Socket Mode: no public URL needed, which suits a box
//! behind NAT.
//!
//! Off unless both tokens are set (`--slack-app-token` xapp-, `--slack-bot-token`
//! xoxb-, better in the environment), and it refuses to start without
//! `--slack-channels`. The `slack` thread calls `apps.connections.open` (app
//! token), opens the WebSocket it names (tungstenite as a client, rustls for wss),
//! acknowledges every envelope as soon as it is read (Slack wants it within 3 s),
//! and opens a fresh connection when Slack sends `disconnect` (or the socket
//! fails, then with back-off). A mention of the bot (`app_mention`) or a direct
//! message in an allowed channel is a prompt; its run is followed by a
//! `slack-run` thread that answers in the message's thread: one progress message
//! updated at most once a second, approvals as Block Kit buttons (answered
//! through `interactive` envelopes), then the answer with cost and duration.
//! Web API calls go through [`crate::outbound`]; tokens travel only in headers and
//! are never logged.

use crate::bridge::{
    self, Backoff, Follow, HUB_WAIT, Health, RunEvent, RunView, clip, escape, fit, split,
};
use crate::hub::{ApiInput, HubHandle};
use crate::jobs::SessionChoice;
use crate::outbound::Outbound;
use crate::protocol::{ApprovalAnswer, Decision};
use crate::ws_client::{self, Timed};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

const NAME: &str = "slack";

/// Slack's Web API, unless `--slack-api` says otherwise.
pub const DEFAULT_API: &str = "https://slack.com/api";

/// Slack pings every connection regularly: this long without a word means the
/// connection is dead (a NAT dropped it), and a new one is opened.
const SILENCE: Duration = Duration::from_secs(120);

/// The progress message is updated at most this often.
const EDIT_EVERY: Duration = Duration::from_secs(1);

/// `--slack-*`.
#[derive(Clone, PartialEq)]
pub struct Settings {
    pub app_token: String,
    pub bot_token: String,
    pub channels: Vec<String>,
    pub api: String,
}

impl std::fmt::Debug for Settings {
    // Never the tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("channels", &self.channels)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// On with both tokens; then it needs at least one channel.
    pub fn from_flags(
        app_token: Option<String>,
        bot_token: Option<String>,
        channels: Vec<String>,
        api: Option<String>,
    ) -> Result<Option<Settings>, &'static str> {
        match (app_token, bot_token) {
            (None, None) if channels.is_empty() => Ok(None),
            (Some(_), None) | (None, Some(_)) | (None, None) => Err(
                "the Slack bridge needs both HOMECLAUDE_SLACK_APP_TOKEN (xapp-) and \
                 HOMECLAUDE_SLACK_BOT_TOKEN (xoxb-), and --slack-channels",
            ),
            (Some(_), Some(_)) if channels.is_empty() => Err(
                "the Slack bridge needs the channel ids it may take prompts from \
                 (--slack-channels); it does not start without them",
            ),
            (Some(app_token), Some(bot_token)) => Ok(Some(Settings {
                app_token,
                bot_token,
                channels,
                api: api.unwrap_or_else(|| DEFAULT_API.to_string()),
            })),
        }
    }
}

struct Bridge {
    settings: Settings,
    hub: HubHandle,
    health: Arc<Health>,
    http: Outbound,
    ignored: Mutex<HashSet<String>>,
}

/// Starts the `slack` thread.
pub fn spawn(settings: Settings, hub: HubHandle, health: Arc<Health>) -> io::Result<()> {
    health.register(NAME);
    log::info!(
        "slack: bridge on for {} channel(s) through {}",
        settings.channels.len(),
        settings.api
    );
    let bridge = Arc::new(Bridge {
        settings,
        hub,
        health,
        http: Outbound::with_deadline(Duration::from_secs(20)),
        ignored: Mutex::new(HashSet::new()),
    });
    std::thread::Builder::new()
        .name("slack".into())
        .spawn(move || bridge.run())
        .map(|_| ())
}

/// Opens `url` (ws:// or wss://) as a WebSocket client, bounded like every
/// outbound call: a dead route must not hang the bridge.
fn connect(url: &str) -> Result<WebSocket<Timed>, String> {
    ws_client::connect(url, None, Duration::from_secs(10)).map_err(|e| e.to_string())
}

impl Bridge {
    /// A Web API method with the bot token (or the app token); the answer.
    fn call(&self, method: &str, body: &Value, app: bool) -> Result<Value, String> {
        let token = if app {
            &self.settings.app_token
        } else {
            &self.settings.bot_token
        };
        let auth = format!("Bearer {token}");
        let answer = self
            .http
            .post(
                &format!("{}/{method}", self.settings.api),
                &[
                    ("Authorization", auth.as_str()),
                    ("Content-Type", "application/json; charset=utf-8"),
                ],
                body.to_string().as_bytes(),
            )
            .map_err(|e| format!("{method}: {e}"))?;
        let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status == 200 && parsed["ok"] == true {
            Ok(parsed)
        } else {
            Err(format!(
                "{method}: HTTP {}: {}",
                answer.status,
                parsed["error"].as_str().unwrap_or("no error given")
            ))
        }
    }

    fn try_call(&self, method: &str, body: &Value) -> Option<Value> {
        self.call(method, body, false)
            .map_err(|e| log::warn!("slack: {e}"))
            .ok()
    }

    fn run(self: Arc<Self>) {
        let mut backoff = Backoff::new();
        loop {
            match self.session() {
                Ok(()) => backoff.reset(),
                Err(why) => {
                    self.health.failed(NAME, &why);
                    let wait = backoff.next(None);
                    log::warn!("slack: {why}; trying again in {:.1} s", wait.as_secs_f64());
                    std::thread::sleep(wait);
                }
            }
        }
    }

    /// One Socket Mode connection, until Slack asks for a new one (`Ok`) or it fails.
    fn session(self: &Arc<Self>) -> Result<(), String> {
        let opened = self.call("apps.connections.open", &json!({}), true)?;
        let url = opened["url"].as_str().ok_or("no url in the answer")?;
        let mut ws = connect(url)?;
        log::info!("slack: connected (Socket Mode)");
        let mut heard = Instant::now();
        loop {
            if heard.elapsed() > SILENCE {
                return Err("nothing from Slack for two minutes, not even a ping".into());
            }
            let msg = match ws.read() {
                Ok(m) => {
                    heard = Instant::now();
                    m
                }
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // Quiet: keep the connection (pings are answered as they come).
                    let _ = ws.flush();
                    continue;
                }
                Err(e) => return Err(format!("socket: {e}")),
            };
            let text = match msg {
                Message::Text(t) => t.to_string(),
                Message::Close(_) => return Err("socket closed by Slack".into()),
                _ => continue,
            };
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if let Some(id) = v["envelope_id"].as_str() {
                // Acknowledged first: Slack retries an envelope not acked in 3 s.
                ws.send(Message::text(json!({"envelope_id": id}).to_string()))
                    .map_err(|e| format!("ack: {e}"))?;
            }
            match v["type"].as_str() {
                Some("hello") => self.health.connected(NAME),
                Some("disconnect") => {
                    log::info!(
                        "slack: Slack asks to reconnect ({})",
                        v["reason"].as_str().unwrap_or("no reason")
                    );
                    let _ = ws.close(None);
                    let _ = ws.flush();
                    let _ = ws.get_ref().tcp().shutdown(std::net::Shutdown::Both);
                    return Ok(());
                }
                Some("events_api") => self.event(&v["payload"]["event"]),
                Some("interactive") => self.interactive(&v["payload"]),
                _ => {}
            }
        }
    }

    fn allowed(&self, channel: &str) -> bool {
        if self.settings.channels.iter().any(|c| c == channel) {
            return true;
        }
        let mut ignored = self.ignored.lock().unwrap_or_else(|e| e.into_inner());
        if ignored.insert(channel.to_string()) {
            log::warn!(
                "slack: ignoring channel {channel}: not in --slack-channels (logged once per channel)"
            );
        }
        false
    }

    /// A mention or a direct message: a prompt.
    fn event(self: &Arc<Self>, e: &Value) {
        let kind = e["type"].as_str().unwrap_or("");
        let dm = kind == "message" && e["channel_type"] == "im";
        // Bots (ourselves included) and edits are not prompts.
        if !(kind == "app_mention" || dm) || e.get("bot_id").is_some() || e.get("subtype").is_some()
        {
            return;
        }
        let channel = e["channel"].as_str().unwrap_or_default().to_string();
        if !self.allowed(&channel) {
            return;
        }
        let text = strip_mentions(e["text"].as_str().unwrap_or(""));
        if text.trim().is_empty() {
            return;
        }
        let thread = e["thread_ts"]
            .as_str()
            .or(e["ts"].as_str())
            .unwrap_or_default()
            .to_string();
        let user = e["user"].as_str().unwrap_or("slack");
        let sender = clip(&format!("slack:{user}"), 40);
        let answer = self.hub.ask(
            |reply| ApiInput::Prompt {
                sender: sender.clone(),
                text,
                session: SessionChoice::Current,
                attachments: Vec::new(),
                reply,
            },
            HUB_WAIT,
        );
        match answer {
            Some(Ok(job)) => {
                log::info!("slack: prompt {job} from {sender} in {channel}");
                let bridge = self.clone();
                let spawned = std::thread::Builder::new()
                    .name("slack-run".into())
                    .spawn(move || bridge.follow(channel, thread, job));
                if let Err(e) = spawned {
                    log::warn!("slack: cannot follow prompt {job}: {e}");
                }
            }
            Some(Err((_, why))) => {
                self.post(&channel, &thread, &format!("⚠️ {why}"));
            }
            None => {
                self.post(&channel, &thread, "⚠️ The server is not responding.");
            }
        }
    }

    /// A button of an approval message (`block_actions`).
    fn interactive(&self, p: &Value) {
        if p["type"] != "block_actions" {
            return;
        }
        let channel = p["channel"]["id"].as_str().unwrap_or_default();
        if !self.allowed(channel) {
            return;
        }
        let Some(action) = p["actions"].get(0) else {
            return;
        };
        let id = action["value"].as_str().unwrap_or_default();
        let decision = match action["action_id"].as_str() {
            Some("hc_allow") => Decision::Allow,
            Some("hc_always") => Decision::AllowAlways,
            Some("hc_deny") => Decision::Deny,
            _ => return,
        };
        let name = p["user"]["name"]
            .as_str()
            .or(p["user"]["username"].as_str())
            .or(p["user"]["id"].as_str())
            .unwrap_or("slack");
        if let Err(why) = bridge::answer_approval(
            &self.hub,
            NAME,
            name,
            ApprovalAnswer::decision(id, decision),
        ) {
            log::info!("slack: the answer to {id} was not taken: {why}");
        }
    }

    /// Posts into a thread; the message's `ts`.
    fn post(&self, channel: &str, thread: &str, text: &str) -> Option<String> {
        let sent = self.try_call(
            "chat.postMessage",
            &json!({"channel": channel, "thread_ts": thread, "text": text}),
        )?;
        sent["ts"].as_str().map(String::from)
    }

    fn update(&self, channel: &str, ts: &str, text: &str, blocks: Value) {
        self.try_call(
            "chat.update",
            &json!({"channel": channel, "ts": ts, "text": text, "blocks": blocks}),
        );
    }

    /// Follows one prompt's run, answering in the thread (its own thread).
    fn follow(self: Arc<Self>, channel: String, thread: String, job: u64) {
        let Some(mut follow) = Follow::start(&self.hub, job) else {
            log::warn!("slack: cannot follow prompt {job}");
            return;
        };
        let mut run = RunView::default();
        let mut progress: Option<String> = None;
        let mut shown = String::new();
        let mut last_edit = Instant::now() - EDIT_EVERY;
        let mut approvals: HashMap<String, (String, String)> = HashMap::new();
        let mut end = None;
        while let Some(events) = follow.next(Duration::from_millis(300)) {
            for event in events {
                match event {
                    RunEvent::End(v) => end = Some(v),
                    RunEvent::Event(e) => match e["type"].as_str() {
                        Some("progress") => run.progress(&e),
                        Some("approval") => {
                            if let Some((id, ts, text)) = self.send_approval(&channel, &thread, &e)
                            {
                                approvals.insert(id, (ts, text));
                            }
                        }
                        Some("approval_resolved") => {
                            let id = e["id"].as_str().unwrap_or_default();
                            if let Some((ts, text)) = approvals.remove(id) {
                                let words = format!("*{}*", e["decision"].as_str().unwrap_or(""));
                                let outcome =
                                    format!("{text}\n{}", bridge::resolved_line(&words, &e));
                                self.update(&channel, &ts, &outcome, json!([]));
                            }
                        }
                        _ => {}
                    },
                }
            }
            if end.is_some() {
                break;
            }
            let text = run.text(None);
            if run.started && text != shown && last_edit.elapsed() >= EDIT_EVERY {
                last_edit = Instant::now();
                progress = self.show_progress(&channel, &thread, progress, &text);
                shown = text;
            }
        }
        let Some(end) = end else {
            log::warn!("slack: lost the events of prompt {job}");
            return;
        };
        let status = end["status"].as_str().unwrap_or("failed");
        self.show_progress(&channel, &thread, progress, &run.text(Some(status)));
        let answer = match (status, end["result"].as_str()) {
            ("done", Some(r)) => r.to_string(),
            ("done", None) => String::new(),
            _ => end["error"].as_str().unwrap_or(status).to_string(),
        };
        let mut chunks = split(&answer);
        let facts = bridge::facts(&end);
        if !facts.is_empty() {
            chunks.push(format!("_{}_", escape(&facts)));
        }
        for chunk in chunks {
            self.post(&channel, &thread, &chunk);
        }
    }

    fn show_progress(
        &self,
        channel: &str,
        thread: &str,
        ts: Option<String>,
        text: &str,
    ) -> Option<String> {
        let text = fit(text);
        match ts {
            Some(ts) => {
                self.update(channel, &ts, &text, json!([]));
                Some(ts)
            }
            None => self.post(channel, thread, &text),
        }
    }

    /// An approval with Block Kit buttons: (approval id, message ts, its text).
    fn send_approval(
        &self,
        channel: &str,
        thread: &str,
        e: &Value,
    ) -> Option<(String, String, String)> {
        let id = e["id"].as_str()?.to_string();
        let kind = e["kind"].as_str().unwrap_or("tool");
        let tool = e["tool"].as_str().unwrap_or("a tool");
        let detail = clip(e["detail"].as_str().unwrap_or(""), 2000);
        let (text, buttons) = match kind {
            "plan" => (
                format!(
                    "📋 Claude has a plan:\n{}",
                    escape(&clip(e["plan"].as_str().unwrap_or(&detail), 2500))
                ),
                vec![("Approve", "hc_allow"), ("Reject", "hc_deny")],
            ),
            "question" => (
                "❓ Claude has a question; answer it on the page.".to_string(),
                vec![("Deny", "hc_deny")],
            ),
            _ => (
                format!(
                    "🔐 Claude asks to use {}:\n```{}```",
                    escape(tool),
                    escape(&detail)
                ),
                vec![
                    ("Allow", "hc_allow"),
                    ("Always", "hc_always"),
                    ("Deny", "hc_deny"),
                ],
            ),
        };
        let elements: Vec<Value> = buttons
            .iter()
            .map(|(label, action)| {
                let mut b = json!({"type": "button", "action_id": action, "value": id,
                    "text": {"type": "plain_text", "text": label}});
                if *action == "hc_allow" {
                    b["style"] = json!("primary");
                } else if *action == "hc_deny" {
                    b["style"] = json!("danger");
                }
                b
            })
            .collect();
        let blocks = json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "block_id": "hc-approval", "elements": elements},
        ]);
        let sent = self.try_call(
            "chat.postMessage",
            &json!({"channel": channel, "thread_ts": thread, "text": text, "blocks": blocks}),
        )?;
        Some((id, sent["ts"].as_str()?.to_string(), text))
    }
}

/// The text without `<@U123>` mentions (the bot's own, mostly).
fn strip_mentions(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("<@") {
        out.push_str(&rest[..i]);
        match rest[i..].find('>') {
            Some(j) => rest = &rest[i + j + 1..],
            None => {
                rest = &rest[i..];
                break;
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_taken_out_of_the_prompt() {
        assert_eq!(strip_mentions("<@U01BOT> fix the tests"), "fix the tests");
        assert_eq!(strip_mentions("hey <@U1> and <@U2>!"), "hey  and !");
        assert_eq!(strip_mentions("a <@broken"), "a <@broken");
    }

    #[test]
    fn the_bridge_needs_both_tokens_and_channels() {
        assert_eq!(Settings::from_flags(None, None, vec![], None), Ok(None));
        assert!(Settings::from_flags(Some("xapp".into()), None, vec!["C1".into()], None).is_err());
        assert!(
            Settings::from_flags(Some("xapp".into()), Some("xoxb".into()), vec![], None).is_err()
        );
        let s = Settings::from_flags(
            Some("xapp-secret".into()),
            Some("xoxb-secret".into()),
            vec!["C1".into()],
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.api, DEFAULT_API);
        assert!(!format!("{s:?}").contains("secret"));
    }
}
