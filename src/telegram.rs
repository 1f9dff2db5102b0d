//! The Telegram bridge: prompts from the chats the operator allowed, progress and
//! answers back to the same chat, approvals as inline buttons.
//!
//! Off unless `--telegram-token` is set, and it refuses to start without
//! `--telegram-chats`. One thread long-polls the Bot API's `getUpdates` (with
//! back-off on errors) and handles each update: a text or photo from an allowed
//! chat becomes a prompt (through [`crate::bridge`], like an API client), a
//! `callback_query` answers an approval, `/stop`, `/clear`, `/usage`, `/status`,
//! `/sessions` are commands; anything from another chat is ignored (logged once per
//! chat). Each prompt's run is followed by a thread of its own, which keeps one
//! progress message edited (at most once a second), sends approvals with their
//! buttons and edits them when answered, and sends the answer split at Telegram's
//! 4096-character limit, HTML-escaped, with cost and duration at the end.
//!
//! Every HTTP call goes through [`crate::outbound`]. The token is part of every
//! Bot API URL, so it is scrubbed from every error before it is logged or shown.

use crate::bridge::{
    self, Backoff, Follow, HUB_WAIT, Health, MAX_MESSAGE, RunEvent, RunView, clip, escape, fit,
    split,
};
use crate::files::Files;
use crate::hub::{ApiInput, Cancelled, HubHandle};
use crate::jobs::SessionChoice;
use crate::outbound::Outbound;
use crate::protocol::{ApprovalAnswer, Decision};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The bridge's name in `/healthz` and the logs.
const NAME: &str = "telegram";

/// The Bot API, unless `--telegram-api` says otherwise.
pub const DEFAULT_API: &str = "https://api.telegram.org";

/// `getUpdates` holds the request this long when nothing happens.
const POLL_SECS: u64 = 25;

/// The progress message is edited at most this often.
const EDIT_EVERY: Duration = Duration::from_secs(1);

/// `--telegram-*`.
#[derive(Clone, PartialEq)]
pub struct Settings {
    pub token: String,
    pub chats: Vec<i64>,
    pub api: String,
}

impl std::fmt::Debug for Settings {
    // Never the token: a Debug print of the configuration must not leak it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("chats", &self.chats)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The bridge is on with a token; it then needs at least one chat.
    pub fn from_flags(
        token: Option<String>,
        chats: Vec<i64>,
        api: Option<String>,
    ) -> Result<Option<Settings>, &'static str> {
        match token {
            None if chats.is_empty() => Ok(None),
            None => Err("--telegram-chats needs --telegram-token (or HOMECLAUDE_TELEGRAM_TOKEN)"),
            Some(_) if chats.is_empty() => Err(
                "the Telegram bridge needs the chat ids it may take prompts from \
                 (--telegram-chats); it does not start without them",
            ),
            Some(token) => Ok(Some(Settings {
                token,
                chats,
                api: api.unwrap_or_else(|| DEFAULT_API.to_string()),
            })),
        }
    }
}

/// What the poller and the run followers share.
struct Shared {
    /// The bridge's prompts not yet over: job id -> chat.
    jobs: Vec<(u64, i64)>,
    /// `/clear` was asked: the next prompt starts a new session.
    clear_next: bool,
    /// Approval buttons: the short key in `callback_data` -> approval id.
    buttons: HashMap<u64, String>,
    next_button: u64,
    /// One-question approvals waiting: approval id -> (the question, its labels).
    questions: HashMap<String, (String, Vec<String>)>,
    /// Chats not allowed that wrote already (each is logged once).
    ignored: HashSet<i64>,
}

/// The bridge: its settings, client and what its threads share.
struct Bridge {
    settings: Settings,
    hub: HubHandle,
    files: Option<Arc<Files>>,
    health: Arc<Health>,
    http: Outbound,
    shared: Mutex<Shared>,
}

/// Starts the poller thread.
pub fn spawn(
    settings: Settings,
    hub: HubHandle,
    files: Option<Arc<Files>>,
    health: Arc<Health>,
) -> std::io::Result<()> {
    health.register(NAME);
    log::info!(
        "telegram: bridge on for {} chat(s) through {}",
        settings.chats.len(),
        settings.api
    );
    let bridge = Arc::new(Bridge {
        settings,
        hub,
        files,
        health,
        http: Outbound::with_deadline(Duration::from_secs(POLL_SECS + 15))
            .with_max_answer(crate::files::MAX_IMAGE + 4096),
        shared: Mutex::new(Shared {
            jobs: Vec::new(),
            clear_next: false,
            buttons: HashMap::new(),
            next_button: 1,
            questions: HashMap::new(),
            ignored: HashSet::new(),
        }),
    });
    std::thread::Builder::new()
        .name("telegram".into())
        .spawn(move || bridge.poll_loop())
        .map(|_| ())
}

/// Why a Bot API call failed (already without the token).
#[derive(Debug)]
struct CallError {
    why: String,
    retry_after: Option<u64>,
}

impl Bridge {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the token from text that may contain a URL.
    fn scrub(&self, text: &str) -> String {
        text.replace(&self.settings.token, "<token>")
    }

    /// One Bot API method; its `result`.
    fn call(&self, method: &str, body: &Value) -> Result<Value, CallError> {
        let url = format!("{}/bot{}/{method}", self.settings.api, self.settings.token);
        let answer = self
            .http
            .post(
                &url,
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            )
            .map_err(|e| CallError {
                why: self.scrub(&format!("{method}: {e}")),
                retry_after: None,
            })?;
        let parsed: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status == 200 && parsed["ok"] == true {
            return Ok(parsed["result"].clone());
        }
        let description = parsed["description"].as_str().unwrap_or("no description");
        Err(CallError {
            why: self.scrub(&format!("{method}: HTTP {}: {description}", answer.status)),
            retry_after: parsed["parameters"]["retry_after"]
                .as_u64()
                .or(answer.retry_after),
        })
    }

    /// A call whose failure is only logged (sending a message, editing one).
    fn try_call(&self, method: &str, body: &Value) -> Option<Value> {
        match self.call(method, body) {
            Ok(v) => Some(v),
            Err(e) => {
                log::warn!("telegram: {}", e.why);
                None
            }
        }
    }

    fn poll_loop(self: Arc<Self>) {
        let mut offset: i64 = 0;
        let mut backoff = Backoff::new();
        loop {
            let body = json!({
                "offset": offset,
                "timeout": POLL_SECS,
                "allowed_updates": ["message", "callback_query"],
            });
            match self.call("getUpdates", &body) {
                Ok(updates) => {
                    self.health.connected(NAME);
                    backoff.reset();
                    for update in updates.as_array().into_iter().flatten() {
                        if let Some(id) = update["update_id"].as_i64() {
                            offset = offset.max(id + 1);
                        }
                        self.update(update);
                    }
                }
                Err(e) => {
                    self.health.failed(NAME, &e.why);
                    let wait = backoff.next(e.retry_after.map(Duration::from_secs));
                    log::warn!(
                        "telegram: {}; trying again in {:.1} s",
                        e.why,
                        wait.as_secs_f64()
                    );
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn allowed(&self, chat: i64) -> bool {
        self.settings.chats.contains(&chat)
    }

    fn update(self: &Arc<Self>, update: &Value) {
        if let Some(cb) = update.get("callback_query") {
            return self.callback(cb);
        }
        let Some(msg) = update.get("message") else {
            return;
        };
        let Some(chat) = msg["chat"]["id"].as_i64() else {
            return;
        };
        if !self.allowed(chat) {
            self.ignore(chat);
            return;
        }
        let name = sender_name(&msg["from"]);
        let text = msg["text"]
            .as_str()
            .or_else(|| msg["caption"].as_str())
            .unwrap_or("")
            .to_string();
        if let Some(cmd) = command_of(&text)
            && self.command(chat, cmd)
        {
            return;
        }
        let mut attachments = Vec::new();
        if let Some(photos) = msg["photo"].as_array() {
            // The sizes come smallest first: the last is the full picture.
            match photos.last().map(|p| self.download_photo(p)) {
                Some(Ok(rel)) => attachments.push(rel),
                Some(Err(why)) => {
                    log::warn!("telegram: photo from chat {chat}: {why}");
                    self.send(chat, &format!("⚠️ The photo could not be saved: {why}"));
                    return;
                }
                None => {}
            }
        }
        if text.trim().is_empty() && attachments.is_empty() {
            return;
        }
        self.prompt(chat, name, text, attachments);
    }

    /// Logs a chat that is not allowed, once per chat.
    fn ignore(&self, chat: i64) {
        if self.shared().ignored.insert(chat) {
            log::warn!(
                "telegram: ignoring chat {chat}: not in --telegram-chats (logged once per chat)"
            );
        }
    }

    fn send(&self, chat: i64, text: &str) -> Option<i64> {
        self.try_call(
            "sendMessage",
            &json!({"chat_id": chat, "text": fit(text), "parse_mode": "HTML"}),
        )
        .and_then(|m| m["message_id"].as_i64())
    }

    fn prompt(self: &Arc<Self>, chat: i64, name: String, text: String, attachments: Vec<String>) {
        let session = if std::mem::take(&mut self.shared().clear_next) {
            SessionChoice::New
        } else {
            SessionChoice::Current
        };
        let answer = self.hub.ask(
            |reply| ApiInput::Prompt {
                sender: name.clone(),
                text,
                session,
                attachments,
                reply,
            },
            HUB_WAIT,
        );
        match answer {
            Some(Ok(job)) => {
                log::info!("telegram: prompt {job} from {name:?} in chat {chat}");
                self.shared().jobs.push((job, chat));
                let bridge = self.clone();
                let spawned = std::thread::Builder::new()
                    .name("telegram-run".into())
                    .spawn(move || bridge.follow(chat, job));
                if let Err(e) = spawned {
                    log::warn!("telegram: cannot follow prompt {job}: {e}");
                }
            }
            Some(Err((_, why))) => {
                self.send(chat, &format!("⚠️ {why}"));
            }
            None => {
                self.send(chat, "⚠️ The server is not responding.");
            }
        }
    }

    /// Saves a photo into the uploads directory; its workdir-relative path.
    fn download_photo(&self, photo: &Value) -> Result<String, String> {
        let files = self
            .files
            .as_ref()
            .ok_or("the workdir's files are not available")?;
        let file_id = photo["file_id"].as_str().ok_or("no file_id")?;
        let unique: String = photo["file_unique_id"]
            .as_str()
            .unwrap_or(file_id)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .take(64)
            .collect();
        let file = self
            .call("getFile", &json!({"file_id": file_id}))
            .map_err(|e| e.why)?;
        let path = file["file_path"].as_str().ok_or("no file_path")?;
        let url = format!(
            "{}/file/bot{}/{path}",
            self.settings.api, self.settings.token
        );
        let got = self
            .http
            .get(&url, &[])
            .map_err(|e| self.scrub(&e.to_string()))?;
        if got.status != 200 {
            return Err(format!("download: HTTP {}", got.status));
        }
        if got.body.len() as u64 > crate::files::MAX_IMAGE {
            return Err("the photo is too large".into());
        }
        let rel = format!("{}/telegram-{unique}.jpg", files.uploads);
        files
            .put(&rel, true, got.body.len() as u64, &mut &got.body[..])
            .map_err(|e| e.to_string())?;
        log::info!("telegram: saved a photo as {rel}");
        Ok(rel)
    }

    /// A `/command`; false if it is not ours (then it is a prompt like any text).
    fn command(&self, chat: i64, cmd: &str) -> bool {
        match cmd {
            "start" | "help" => {
                self.send(
                    chat,
                    "Send a message and Claude works on it in the box's workdir.\n\
                     /stop stops the run of your last prompt\n\
                     /clear starts a new session with the next prompt\n\
                     /usage today's cost and tokens\n\
                     /status the queue and whether a run is going\n\
                     /sessions the latest Claude sessions",
                );
            }
            "stop" => {
                let job = self
                    .shared()
                    .jobs
                    .iter()
                    .rev()
                    .find(|(_, c)| *c == chat)
                    .map(|(j, _)| *j);
                let text = match job {
                    None => "Nothing of this chat is running or queued.".to_string(),
                    Some(id) => {
                        match self
                            .hub
                            .ask(|reply| ApiInput::Cancel { id, reply }, HUB_WAIT)
                        {
                            Some(Cancelled::Stopping) => format!("⏹ Stopping prompt {id}…"),
                            Some(Cancelled::Removed) => {
                                format!("⏹ Prompt {id} was taken out of the queue.")
                            }
                            Some(_) => format!("Prompt {id} is already over."),
                            None => "⚠️ The server is not responding.".to_string(),
                        }
                    }
                };
                self.send(chat, &text);
            }
            "clear" => {
                self.shared().clear_next = true;
                self.send(chat, "🧹 The next prompt starts a new session.");
            }
            "status" => {
                let text = match self.hub.stats(HUB_WAIT) {
                    Some(s) => format!(
                        "{} · {} queued · {} page(s) open",
                        if s.running {
                            "🟢 running"
                        } else {
                            "⚪ idle"
                        },
                        s.queue,
                        s.clients
                    ),
                    None => "⚠️ The server is not responding.".to_string(),
                };
                self.send(chat, &text);
            }
            "usage" => {
                let body = self
                    .hub
                    .ask(|reply| ApiInput::Usage { reply }, HUB_WAIT)
                    .flatten();
                let text = match body {
                    Some(b) => usage_text(&Value::Object(b)),
                    None => "No usage figures yet.".to_string(),
                };
                self.send(chat, &text);
            }
            "sessions" => {
                let answer = self
                    .hub
                    .ask(
                        |reply| ApiInput::Sessions { reply },
                        Duration::from_secs(15),
                    )
                    .flatten();
                let text = match answer {
                    Some((current, items)) if !items.is_empty() => {
                        let mut out = String::from("Latest sessions:\n");
                        for s in items.iter().take(10) {
                            let mark = if current.as_deref() == Some(s.id.as_str()) {
                                "▶"
                            } else {
                                "•"
                            };
                            let cost = s
                                .cost_usd
                                .map(|c| format!(" · ${c:.2}"))
                                .unwrap_or_default();
                            out.push_str(&format!(
                                "{mark} {} ({}{cost})\n",
                                clip(&s.title, 60),
                                s.updated.get(..16).unwrap_or(&s.updated)
                            ));
                        }
                        out
                    }
                    _ => "No sessions found.".to_string(),
                };
                self.send(chat, &text);
            }
            _ => return false,
        }
        true
    }

    /// A button of an approval message.
    fn callback(&self, cb: &Value) {
        let cb_id = cb["id"].as_str().unwrap_or_default().to_string();
        let chat = cb["message"]["chat"]["id"].as_i64().unwrap_or_default();
        if !self.allowed(chat) {
            self.ignore(chat);
            return;
        }
        let name = sender_name(&cb["from"]);
        let data = cb["data"].as_str().unwrap_or_default();
        let parsed = data.split_once(':').and_then(|(key, what)| {
            let id = self.shared().buttons.get(&key.parse().ok()?)?.clone();
            Some((id, what.to_string()))
        });
        let reply = match parsed {
            None => "This question is no longer open.".to_string(),
            Some((id, what)) => {
                let answer = match what.as_str() {
                    "allow" => Some(ApprovalAnswer::decision(&id, Decision::Allow)),
                    "always" => Some(ApprovalAnswer::decision(&id, Decision::AllowAlways)),
                    "deny" => Some(ApprovalAnswer::decision(&id, Decision::Deny)),
                    other => other.strip_prefix("opt").and_then(|n| {
                        let n: usize = n.parse().ok()?;
                        self.option_answer(&id, n)
                    }),
                };
                match answer {
                    None => "Unknown button.".to_string(),
                    Some(answer) => match bridge::answer_approval(&self.hub, NAME, &name, answer) {
                        Ok(outcome) => format!("Done: {outcome}"),
                        Err(why) => format!("Not taken: {why}"),
                    },
                }
            }
        };
        self.try_call(
            "answerCallbackQuery",
            &json!({"callback_query_id": cb_id, "text": reply}),
        );
    }

    /// The answer to a one-question AskUserQuestion: option `n` of it.
    fn option_answer(&self, id: &str, n: usize) -> Option<crate::protocol::ApprovalAnswer> {
        let (question, label) = self
            .shared()
            .questions
            .get(id)
            .and_then(|(q, labels)| Some((q.clone(), labels.get(n)?.clone())))?;
        let mut answers = serde_json::Map::new();
        answers.insert(question, Value::String(label));
        let mut answer = ApprovalAnswer::decision(id, Decision::Allow);
        answer.answers = Some(answers);
        Some(answer)
    }

    /// Follows one prompt's run to its end (its own thread).
    fn follow(self: Arc<Self>, chat: i64, job: u64) {
        let Some(mut follow) = Follow::start(&self.hub, job) else {
            log::warn!("telegram: cannot follow prompt {job}");
            return;
        };
        let mut run = RunView::default();
        let mut progress: Option<i64> = None;
        let mut shown = String::new();
        let mut last_edit = Instant::now() - EDIT_EVERY;
        let mut approvals: HashMap<String, (i64, String)> = HashMap::new();
        let mut end = None;
        while let Some(events) = follow.next(Duration::from_millis(300)) {
            for event in events {
                match event {
                    RunEvent::End(view) => end = Some(view),
                    RunEvent::Event(e) => match e["type"].as_str() {
                        Some("progress") => run.progress(&e),
                        Some("approval") => {
                            if let Some((id, msg, text)) = self.send_approval(chat, &e) {
                                approvals.insert(id, (msg, text));
                            }
                        }
                        Some("approval_resolved") => {
                            let id = e["id"].as_str().unwrap_or_default();
                            if let Some((msg, text)) = approvals.remove(id) {
                                self.forget_buttons(id);
                                let words = outcome_words(e["decision"].as_str().unwrap_or(""));
                                let outcome =
                                    format!("{text}\n\n{}", bridge::resolved_line(words, &e));
                                self.try_call(
                                    "editMessageText",
                                    &json!({"chat_id": chat, "message_id": msg,
                                            "text": fit(&outcome), "parse_mode": "HTML"}),
                                );
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
            if text != shown && last_edit.elapsed() >= EDIT_EVERY && run.started {
                last_edit = Instant::now();
                progress = self.show_progress(chat, progress, &text);
                shown = text;
            }
        }
        self.shared().jobs.retain(|(j, _)| *j != job);
        for id in approvals.keys() {
            self.forget_buttons(id);
        }
        let Some(end) = end else {
            log::warn!("telegram: lost the events of prompt {job}");
            return;
        };
        let status = end["status"].as_str().unwrap_or("failed");
        let text = run.text(Some(status));
        if progress.is_some() || status != "done" {
            // The last edit may come sooner than a second after the one before:
            // it is the last.
            self.show_progress(chat, progress, &text);
        }
        let answer = match (status, end["result"].as_str()) {
            ("done", Some(r)) => r.to_string(),
            ("done", None) => String::new(),
            _ => end["error"].as_str().unwrap_or(status).to_string(),
        };
        let facts = bridge::facts(&end);
        let mut chunks = split(&answer);
        if !facts.is_empty() {
            let footer = format!("\n\n<i>{}</i>", escape(&facts));
            match chunks.last_mut() {
                Some(last) if last.chars().count() + footer.chars().count() <= MAX_MESSAGE => {
                    last.push_str(&footer)
                }
                _ => chunks.push(format!("<i>{}</i>", escape(&facts))),
            }
        }
        for chunk in chunks {
            self.try_call(
                "sendMessage",
                &json!({"chat_id": chat, "text": chunk, "parse_mode": "HTML"}),
            );
        }
    }

    /// Sends or edits the progress message; its id.
    fn show_progress(&self, chat: i64, msg: Option<i64>, text: &str) -> Option<i64> {
        let body = text;
        match msg {
            Some(id) => {
                self.try_call(
                    "editMessageText",
                    &json!({"chat_id": chat, "message_id": id,
                            "text": fit(body), "parse_mode": "HTML"}),
                );
                Some(id)
            }
            None => self.send(chat, body),
        }
    }

    fn button(&self, id: &str) -> u64 {
        let mut shared = self.shared();
        let key = shared.next_button;
        shared.next_button += 1;
        shared.buttons.insert(key, id.to_string());
        key
    }

    fn forget_buttons(&self, id: &str) {
        let mut shared = self.shared();
        shared.buttons.retain(|_, v| v != id);
        shared.questions.remove(id);
    }

    /// An approval as a message with buttons: (approval id, message id, its text).
    fn send_approval(&self, chat: i64, e: &Value) -> Option<(String, i64, String)> {
        let id = e["id"].as_str()?.to_string();
        let kind = e["kind"].as_str().unwrap_or("tool");
        let tool = e["tool"].as_str().unwrap_or("a tool");
        let detail = e["detail"].as_str().unwrap_or("");
        let key = self.button(&id);
        let (text, keyboard) = match kind {
            "plan" => (
                format!(
                    "📋 Claude has a plan:\n\n{}",
                    clip(e["plan"].as_str().unwrap_or(detail), 3000)
                ),
                vec![vec![
                    json!({"text": "Approve", "callback_data": format!("{key}:allow")}),
                    json!({"text": "Reject", "callback_data": format!("{key}:deny")}),
                ]],
            ),
            "question" => {
                let questions = e["questions"].as_array().cloned().unwrap_or_default();
                let one = questions.len() == 1 && questions[0]["multiSelect"] != true;
                let q = &questions.first().cloned().unwrap_or(Value::Null);
                let labels: Vec<String> = q["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o["label"].as_str().map(String::from))
                    .collect();
                if one && !labels.is_empty() {
                    let question = q["question"].as_str().unwrap_or_default().to_string();
                    let rows = labels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| {
                            vec![json!({"text": clip(l, 60), "callback_data": format!("{key}:opt{i}")})]
                        })
                        .collect();
                    self.shared()
                        .questions
                        .insert(id.clone(), (question.clone(), labels));
                    (format!("❓ {question}"), rows)
                } else {
                    // Several questions or several choices: the page's form does them.
                    (
                        format!(
                            "❓ Claude has {} question(s); answer them on the page.",
                            questions.len()
                        ),
                        vec![vec![
                            json!({"text": "Deny", "callback_data": format!("{key}:deny")}),
                        ]],
                    )
                }
            }
            _ => (
                format!("🔐 Claude asks to use {tool}:\n{}", clip(detail, 3000)),
                vec![vec![
                    json!({"text": "Allow", "callback_data": format!("{key}:allow")}),
                    json!({"text": "Always", "callback_data": format!("{key}:always")}),
                    json!({"text": "Deny", "callback_data": format!("{key}:deny")}),
                ]],
            ),
        };
        let sent = self.try_call(
            "sendMessage",
            &json!({"chat_id": chat, "text": fit(&text), "parse_mode": "HTML",
                    "reply_markup": {"inline_keyboard": keyboard}}),
        )?;
        Some((id, sent["message_id"].as_i64()?, text))
    }
}

/// `/cmd` or `/cmd@botname` at the start of a message: `cmd`.
fn command_of(text: &str) -> Option<&str> {
    let word = text.trim().strip_prefix('/')?.split_whitespace().next()?;
    Some(word.split('@').next().unwrap_or(word))
}

/// The Telegram name of a `from` user: first and last name, else the username.
fn sender_name(from: &Value) -> String {
    let full = [from["first_name"].as_str(), from["last_name"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = if full.trim().is_empty() {
        from["username"].as_str().unwrap_or("telegram").to_string()
    } else {
        full
    };
    let clean: String = name.chars().filter(|c| !c.is_control()).collect();
    clip(clean.trim(), 40)
}

fn outcome_words(decision: &str) -> &'static str {
    match decision {
        "allow" => "✅ Allowed",
        "allow_always" => "✅ Always allowed",
        "deny" => "🚫 Denied",
        "answered" => "✅ Answered",
        "cancelled" => "Withdrawn",
        "timed_out" => "⌛ Timed out",
        _ => "Resolved",
    }
}

fn usage_text(body: &Value) -> String {
    let today = &body["today"];
    let cost = today["totalCost"].as_f64().unwrap_or(0.0);
    let input = today["inputTokens"].as_u64().unwrap_or(0);
    let output = today["outputTokens"].as_u64().unwrap_or(0);
    let mut out = format!("Today: ${cost:.2} · {input} tokens in, {output} out");
    if let Some(total) = body["totals"]["totalCost"].as_f64() {
        out.push_str(&format!("\nAll time: ${total:.2}"));
    }
    if let Some(c) = body["block"]["costUSD"].as_f64() {
        out.push_str(&format!("\nThis 5-hour block: ${c:.2}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_answers_split_under_the_limit_and_escaped() {
        let line = "a <b> & c\n".repeat(1500);
        let chunks = split(&line);
        assert!(chunks.len() >= 4, "{}", chunks.len());
        for c in &chunks {
            assert!(c.chars().count() <= MAX_MESSAGE, "{}", c.chars().count());
            assert!(!c.contains('<'), "unescaped: {c}");
        }
        assert_eq!(chunks.concat(), escape(&line));
        // Cut at line breaks when there are some.
        assert!(chunks[0].ends_with('\n'));
        // One long line: cut anyway, nothing lost.
        let long = "&".repeat(9000);
        let chunks = split(&long);
        assert!(chunks.iter().all(|c| c.chars().count() <= MAX_MESSAGE));
        assert_eq!(chunks.concat(), escape(&long));
        assert!(chunks.iter().all(|c| !c.starts_with("amp;")));
        // A progress or approval text that escaping made too long is cut, whole.
        let one = fit(&format!("🔐 rm {}", "&".repeat(3000)));
        assert!(one.chars().count() <= MAX_MESSAGE && one.ends_with("&amp;"));
    }

    #[test]
    fn commands_and_names() {
        assert_eq!(command_of("/stop"), Some("stop"));
        assert_eq!(command_of("/usage@my_bot now"), Some("usage"));
        assert_eq!(command_of("stop"), None);
        assert_eq!(
            sender_name(&json!({"first_name":"Ann","last_name":"Lee","username":"ann"})),
            "Ann Lee"
        );
        assert_eq!(sender_name(&json!({"username":"ann"})), "ann");
    }

    #[test]
    fn the_bridge_needs_a_token_and_chats_together() {
        assert_eq!(Settings::from_flags(None, vec![], None), Ok(None));
        assert!(Settings::from_flags(Some("t".into()), vec![], None).is_err());
        assert!(Settings::from_flags(None, vec![1], None).is_err());
        let s = Settings::from_flags(Some("123:secret".into()), vec![1], None)
            .unwrap()
            .unwrap();
        assert_eq!(s.api, DEFAULT_API);
        assert!(!format!("{s:?}").contains("secret"));
    }

    #[test]
    fn progress_shows_tools_and_the_todo_summary() {
        let mut v = RunView::default();
        v.progress(&json!({"progress_type":"start"}));
        v.progress(&json!({"progress_type":"tool_start","tool":"Bash","detail":"ls -la"}));
        v.progress(
            &json!({"progress_type":"tool_start","tool":"TodoWrite","detail":"",
            "edit_info":{"type":"todo","todos":[
                {"content":"a","status":"completed","activeForm":"Doing a"},
                {"content":"b","status":"in_progress","activeForm":"Doing b"}]}}),
        );
        assert_eq!(
            v.text(None),
            "⏳ Working…\n🔧 Bash ls -la\n📋 1/2 done Doing b"
        );
        assert!(v.text(Some("done")).starts_with("✅ Done"));
    }
}
