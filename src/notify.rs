//! Notifications: the notify thread, which tells phones that a run ended or that
//! Claude waits for someone, through Web Push (to every subscribed browser) and
//! ntfy (one topic), with retries and back-off.
//!
//! The hub decides *whether* to notify (the `--notify` mode, whether an owner's
//! page is visible) and hands a small [`Note`] over a channel; it never waits for
//! this thread. Everything slow happens here: the HTTP calls (through
//! [`crate::outbound`]), the back-off sleeps, and saving the subscriptions to the
//! data dir. The one-time tokens that let a notification's Allow / Deny answer
//! exactly one approval are minted and checked by the hub ([`Tokens`]), which owns
//! the approvals.

use crate::outbound::{Answer, Outbound, OutboundError};
use crate::webpush::{self, UaKeys, Urgency, Vapid};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// `--notify`: when a run's end or a waiting approval is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Always, even while a page is open.
    Always,
    /// Only while no owner's page is visible (the default).
    Away,
    /// Never (the settings sheet's test button still works).
    Never,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "always" => Some(Mode::Always),
            "away" => Some(Mode::Away),
            "never" => Some(Mode::Never),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Always => "always",
            Mode::Away => "away",
            Mode::Never => "never",
        }
    }
}

/// What the notifications need from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub mode: Mode,
    /// `--ntfy-url`: `https://host/topic`.
    pub ntfy_url: Option<String>,
    /// `HOMECLAUDE_NTFY_TOKEN` (environment only): an ntfy access token.
    pub ntfy_token: Option<String>,
    /// `--public-url`: the address a phone opens the page at (links, ntfy actions).
    pub public_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::Away,
            ntfy_url: None,
            ntfy_token: None,
            public_url: None,
        }
    }
}

/// Something worth a notification, as the hub saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// A run ended with an answer.
    Done {
        run: u64,
        first_line: String,
        duration_s: Option<f64>,
        cost_usd: Option<f64>,
    },
    /// A run failed, was stopped or timed out; `why` says which.
    Failed { run: u64, why: String },
    /// Claude waits: a tool to allow (`kind` "tool"), a question, a plan.
    Waiting {
        run: u64,
        id: String,
        kind: &'static str,
        tool: String,
        detail: String,
        /// The one-time token that answers exactly this approval.
        token: String,
    },
    /// The settings sheet's "send a test notification".
    Test,
}

impl Note {
    /// The event name a subscription filters on.
    fn event(&self) -> &'static str {
        match self {
            Note::Done { .. } => "done",
            Note::Failed { .. } => "failed",
            Note::Waiting { .. } => "waiting",
            Note::Test => "test",
        }
    }

    /// Where a tap opens the page: the waiting card, or the run.
    fn fragment(&self) -> String {
        match self {
            Note::Done { run, .. } | Note::Failed { run, .. } => format!("#run-{run}"),
            Note::Waiting { id, .. } => format!("#approval-{id}"),
            Note::Test => String::new(),
        }
    }

    /// Title and body in `lang` (`en` or `ko`, the page's two languages).
    fn text(&self, lang: &str) -> (String, String) {
        let ko = lang == "ko";
        match self {
            Note::Done {
                first_line,
                duration_s,
                cost_usd,
                ..
            } => {
                let mut facts = Vec::new();
                if let Some(d) = duration_s {
                    facts.push(duration(*d, ko));
                }
                if let Some(c) = cost_usd {
                    facts.push(format!("${c:.2}"));
                }
                let title = if ko {
                    "Claude 완료"
                } else {
                    "Claude finished"
                };
                let mut body = first_line.clone();
                if !facts.is_empty() {
                    if !body.is_empty() {
                        body.push('\n');
                    }
                    body.push_str(&facts.join(" · "));
                }
                (title.into(), body)
            }
            Note::Failed { why, .. } => {
                let title = if ko {
                    "Claude 실행 중단"
                } else {
                    "Claude stopped"
                };
                (title.into(), why.clone())
            }
            Note::Waiting {
                kind, tool, detail, ..
            } => {
                let title = match (*kind, ko) {
                    ("question", false) => "Claude has a question".to_string(),
                    ("question", true) => "Claude의 질문".to_string(),
                    ("plan", false) => "Claude has a plan".to_string(),
                    ("plan", true) => "Claude의 계획".to_string(),
                    (_, false) => format!("Claude asks to use {tool}"),
                    (_, true) => format!("Claude가 {tool} 사용 허락을 구합니다"),
                };
                (title, detail.clone())
            }
            Note::Test => {
                if ko {
                    (
                        "homeclaude 테스트 알림".into(),
                        "알림이 이 기기에 옵니다.".into(),
                    )
                } else {
                    (
                        "homeclaude test notification".into(),
                        "Notifications reach this device.".into(),
                    )
                }
            }
        }
    }

    fn urgency(&self) -> Urgency {
        match self {
            Note::Waiting { .. } => Urgency::High,
            _ => Urgency::Normal,
        }
    }

    /// How long a push service may hold it for an offline phone: a waiting card
    /// is stale after an hour (the token expires then), a result after a day.
    fn ttl(&self) -> u64 {
        match self {
            Note::Waiting { .. } => TOKEN_LIFETIME.as_secs(),
            _ => 24 * 3600,
        }
    }
}

fn duration(secs: f64, ko: bool) -> String {
    let s = secs.max(0.0).round() as u64;
    match (s / 60, s % 60, ko) {
        (0, s, false) => format!("{s} s"),
        (0, s, true) => format!("{s}초"),
        (m, s, false) => format!("{m} min {s} s"),
        (m, s, true) => format!("{m}분 {s}초"),
    }
}

/// What the hub gathers of a run while it streams, for the note at its end.
#[derive(Default)]
pub struct RunSummary {
    first_line: Option<String>,
    duration_s: Option<f64>,
    cost_usd: Option<f64>,
    why: Option<String>,
}

impl RunSummary {
    pub fn progress(&mut self, progress: &crate::protocol::Progress) {
        use crate::protocol::Progress;
        match progress {
            Progress::Complete {
                duration_sec,
                cost_usd,
                ..
            } => {
                self.duration_s = Some(*duration_sec);
                self.cost_usd = Some(*cost_usd);
            }
            Progress::Error { message } | Progress::Stopped { message } => {
                // Error texts can carry stderr lines: a notification needs the gist.
                self.why = Some(crate::protocol::excerpt(message, 300));
            }
            _ => {}
        }
    }

    /// Claude's answer: its first non-empty line says what came of the run.
    pub fn answer(&mut self, text: &str) {
        let line = text.lines().map(str::trim).find(|l| !l.is_empty());
        self.first_line = line.map(|l| crate::protocol::excerpt(l, 160));
    }

    /// The note for the end of run `run`, if it ended in a way worth one.
    pub fn note(self, run: u64, outcome: crate::runner::Outcome) -> Option<Note> {
        use crate::runner::Outcome;
        match outcome {
            Outcome::Success => Some(Note::Done {
                run,
                first_line: self.first_line.unwrap_or_default(),
                duration_s: self.duration_s,
                cost_usd: self.cost_usd,
            }),
            Outcome::Failed | Outcome::Stopped | Outcome::TimedOut => Some(Note::Failed {
                run,
                why: self.why.unwrap_or_else(|| match outcome {
                    Outcome::Failed => "The run failed.".into(),
                    _ => "The run was stopped.".into(),
                }),
            }),
            // Retried in a new session, or already said: not an ending.
            Outcome::ResumeFailed => None,
        }
    }
}

/// How long a notification's Allow / Deny token works.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// One-time tokens for answering approvals from a notification: one per approval,
/// good once, for that approval only, until it expires or the approval is gone.
/// Held by the hub (pure bookkeeping, no I/O).
#[derive(Default)]
pub struct Tokens {
    by_id: HashMap<String, (String, Instant)>,
}

impl Tokens {
    /// A new token for approval `id`.
    pub fn mint(&mut self, id: &str) -> String {
        let mut bytes = [0u8; 16];
        // getrandom reads the kernel's CSPRNG: it does not block once the system
        // has booted. A failure leaves an all-zero token that nobody is given.
        if getrandom::fill(&mut bytes).is_err() {
            return String::new();
        }
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        self.by_id.retain(|_, (_, until)| *until > now);
        self.by_id
            .insert(id.to_string(), (token.clone(), now + TOKEN_LIFETIME));
        token
    }

    /// Uses up the token of approval `id` if `token` is it and it has not expired.
    /// A wrong token leaves the right one in place (a forger cannot burn it).
    pub fn redeem(&mut self, id: &str, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        let Some((want, until)) = self.by_id.get(id) else {
            return false;
        };
        let ok = *until > Instant::now()
            && !want.is_empty()
            && bool::from(want.as_bytes().ct_eq(token.as_bytes()));
        if ok {
            self.by_id.remove(id);
        }
        ok
    }

    /// The approval was answered or withdrawn: its token is void.
    pub fn forget(&mut self, id: &str) {
        self.by_id.remove(id);
    }
}

/// A browser's push subscription, as the page posts it (plus its choices).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    /// Which events this device wants: `done`, `failed`, `waiting`.
    pub events: Vec<String>,
    /// The page's language on that device, for the notification's words.
    pub lang: String,
}

impl Subscription {
    /// From the body of `POST /api/push/subscriptions`:
    /// `{"endpoint":..., "keys":{"p256dh":...,"auth":...}, "events":[...], "lang":...}`.
    pub fn parse(body: &[u8]) -> Result<Subscription, String> {
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(str::to_string);
        let endpoint = s("/endpoint").ok_or("no endpoint")?;
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
            || endpoint.len() > 2048
        {
            return Err("the endpoint is not an http(s) URL".into());
        }
        let p256dh = s("/keys/p256dh").ok_or("no keys.p256dh")?;
        let auth = s("/keys/auth").ok_or("no keys.auth")?;
        UaKeys::parse(&p256dh, &auth).map_err(|e| e.to_string())?;
        let events = match v.get("events").and_then(|e| e.as_array()) {
            Some(list) => list
                .iter()
                .filter_map(|e| e.as_str())
                .filter(|e| EVENTS.contains(e))
                .map(str::to_string)
                .collect(),
            None => EVENTS.iter().map(|e| e.to_string()).collect(),
        };
        let lang = if s("/lang").as_deref() == Some("ko") {
            "ko"
        } else {
            "en"
        };
        Ok(Subscription {
            endpoint,
            p256dh,
            auth,
            events,
            lang: lang.into(),
        })
    }
}

/// The events a device can choose.
pub const EVENTS: &[&str] = &["done", "failed", "waiting"];

/// What the settings sheet shows (read by the routes, written by the thread).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub subscriptions: usize,
    /// `off` (no `--ntfy-url`), `ready`, `ok`, or why the last message failed.
    pub ntfy: String,
    /// The last Web Push problem, if the last push failed.
    pub push_error: Option<String>,
}

/// Work for the notify thread.
enum Job {
    Note(Note),
    Subscribe(Subscription),
    Unsubscribe(String),
}

/// The other threads' side: the hub sends notes, the routes subscriptions.
#[derive(Clone)]
pub struct NotifyHandle {
    tx: Sender<Job>,
    status: Arc<Mutex<Status>>,
    public_key: Arc<str>,
    settings: Arc<Settings>,
}

impl NotifyHandle {
    /// Hands a note over; never blocks.
    pub fn note(&self, note: Note) {
        let _ = self.tx.send(Job::Note(note));
    }

    pub fn subscribe(&self, sub: Subscription) {
        let _ = self.tx.send(Job::Subscribe(sub));
    }

    pub fn unsubscribe(&self, endpoint: String) {
        let _ = self.tx.send(Job::Unsubscribe(endpoint));
    }

    /// `GET /api/push/key`: the VAPID key and what the settings sheet shows.
    pub fn describe(&self) -> serde_json::Value {
        let status = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        json!({
            "key": &*self.public_key,
            "mode": self.settings.mode.name(),
            "public_url": self.settings.public_url.is_some(),
            "subscriptions": status.subscriptions,
            "ntfy": status.ntfy,
            "push_error": status.push_error,
            "events": EVENTS,
            "built": cfg!(feature = "notify"),
        })
    }
}

/// Starts the notify thread with the data dir's subscriptions.
pub fn spawn(data_dir: &Path, settings: Settings, vapid: Vapid) -> std::io::Result<NotifyHandle> {
    let (tx, rx) = mpsc::channel();
    let path = data_dir.join("push-subscriptions.json");
    let subs: Vec<Subscription> = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let status = Arc::new(Mutex::new(Status {
        subscriptions: subs.len(),
        ntfy: if settings.ntfy_url.is_some() {
            "ready".into()
        } else {
            "off".into()
        },
        push_error: None,
    }));
    let handle = NotifyHandle {
        tx,
        status: status.clone(),
        public_key: vapid.public_b64().into(),
        settings: Arc::new(settings.clone()),
    };
    let worker = Worker {
        settings,
        vapid,
        subs,
        path,
        status,
        out: None,
    };
    std::thread::Builder::new()
        .name("notify".into())
        .stack_size(256 << 10)
        .spawn(move || worker.run(rx))?;
    Ok(handle)
}

/// Devices kept at most (each push is one outbound call per event).
const MAX_SUBSCRIPTIONS: usize = 32;
/// Tries per message, the first included.
const ATTEMPTS: u32 = 4;
/// First back-off; doubled per retry.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest a `Retry-After` is honoured.
const MAX_WAIT: Duration = Duration::from_secs(60);

struct Worker {
    settings: Settings,
    vapid: Vapid,
    subs: Vec<Subscription>,
    path: PathBuf,
    status: Arc<Mutex<Status>>,
    /// Built at the first call, on this thread (it reads the CA store).
    out: Option<Outbound>,
}

/// How one delivery ended.
enum Delivery {
    Ok,
    /// 404 or 410: the subscription is gone for good.
    Gone,
    Failed(String),
}

impl Worker {
    fn run(mut self, rx: Receiver<Job>) {
        while let Ok(job) = rx.recv() {
            match job {
                Job::Subscribe(sub) => {
                    self.subs.retain(|s| s.endpoint != sub.endpoint);
                    let host = endpoint_host(&sub.endpoint).to_string();
                    if self.subs.len() >= MAX_SUBSCRIPTIONS {
                        // The oldest device first: it is the likeliest to be gone.
                        self.subs.remove(0);
                    }
                    self.subs.push(sub);
                    self.save();
                    log::info!("push: subscribed {host}");
                }
                Job::Unsubscribe(endpoint) => {
                    self.subs.retain(|s| s.endpoint != endpoint);
                    self.save();
                }
                Job::Note(note) => self.deliver(&note),
            }
        }
    }

    fn deliver(&mut self, note: &Note) {
        let mut gone = Vec::new();
        let mut push_error = None;
        for sub in self.subs.clone() {
            if *note != Note::Test && !sub.events.iter().any(|e| e == note.event()) {
                continue;
            }
            match self.push(&sub, note) {
                Delivery::Ok => log::info!(
                    "push: {} sent to {}",
                    note.event(),
                    endpoint_host(&sub.endpoint)
                ),
                Delivery::Gone => gone.push(sub.endpoint.clone()),
                Delivery::Failed(why) => {
                    log::warn!("push: to {}: {why}", endpoint_host(&sub.endpoint));
                    push_error = Some(why);
                }
            }
        }
        if !gone.is_empty() {
            self.subs.retain(|s| !gone.contains(&s.endpoint));
            self.save();
            for g in &gone {
                log::info!(
                    "push: removed a subscription the push service no longer knows ({})",
                    endpoint_host(g)
                );
            }
        }
        if let Ok(mut s) = self.status.lock() {
            s.push_error = push_error;
        }
        if let Some(url) = self.settings.ntfy_url.clone() {
            let state = match self.ntfy(&url, note) {
                Delivery::Ok => {
                    log::info!("ntfy: {} sent", note.event());
                    "ok".to_string()
                }
                Delivery::Gone => "the topic URL answers 404/410".to_string(),
                Delivery::Failed(why) => {
                    log::warn!("ntfy: {why}");
                    why
                }
            };
            if let Ok(mut s) = self.status.lock() {
                s.ntfy = state;
            }
        }
    }

    fn out(&mut self) -> &Outbound {
        self.out.get_or_insert_with(Outbound::new)
    }

    fn push(&mut self, sub: &Subscription, note: &Note) -> Delivery {
        let (title, body) = note.text(&sub.lang);
        let mut payload = json!({
            "title": title,
            "body": body,
            "tag": tag(note),
            "url": format!("/{}", note.fragment()),
            "event": note.event(),
        });
        if let Note::Waiting {
            id, kind, token, ..
        } = note
        {
            payload["approval"] = json!({
                "id": id,
                "kind": kind,
                "token": token,
                "lang": sub.lang,
            });
        }
        let keys = match UaKeys::parse(&sub.p256dh, &sub.auth) {
            Ok(k) => k,
            Err(e) => return Delivery::Failed(e.to_string()),
        };
        let subject = self
            .settings
            .public_url
            .clone()
            .unwrap_or_else(|| "mailto:homeclaude@localhost.invalid".into());
        let ttl = note.ttl().to_string();
        let urgency = note.urgency().header();
        self.with_retries(|w| {
            // A fresh key, salt and JWT per attempt: each is a new request.
            let sealed = webpush::encrypt(payload.to_string().as_bytes(), &keys)
                .map_err(|e| e.to_string())?;
            let auth = w
                .vapid
                .authorization(&sub.endpoint, &subject, unix_now())
                .map_err(|e| e.to_string())?;
            let headers = [
                ("Content-Encoding", "aes128gcm"),
                ("Content-Type", "application/octet-stream"),
                ("TTL", ttl.as_str()),
                ("Urgency", urgency),
                ("Authorization", auth.as_str()),
            ];
            Ok(w.out().post(&sub.endpoint, &headers, &sealed))
        })
    }

    fn ntfy(&mut self, url: &str, note: &Note) -> Delivery {
        let (title, body) = note.text("en");
        let public = self.settings.public_url.clone();
        let mut headers: Vec<(&str, String)> = vec![
            ("Title", header_safe(&title)),
            (
                "Priority",
                match note {
                    Note::Waiting { .. } => "high",
                    Note::Failed { .. } => "high",
                    _ => "default",
                }
                .into(),
            ),
            (
                "Tags",
                match note {
                    Note::Done { .. } => "white_check_mark",
                    Note::Failed { .. } => "warning",
                    Note::Waiting { .. } => "raising_hand",
                    Note::Test => "bell",
                }
                .into(),
            ),
        ];
        if let Some(public) = &public {
            headers.push(("Click", format!("{public}/{}", note.fragment())));
            if let Note::Waiting {
                id, kind, token, ..
            } = note
                && *kind == "tool"
            {
                let url = |decision: &str| {
                    format!("{public}/api/approvals/{id}?token={token}&decision={decision}")
                };
                headers.push((
                    "Actions",
                    format!(
                        "http, Allow, {}, method=POST, clear=true; http, Deny, {}, method=POST, clear=true",
                        url("allow"),
                        url("deny")
                    ),
                ));
            }
        }
        if let Some(token) = &self.settings.ntfy_token {
            headers.push(("Authorization", format!("Bearer {token}")));
        }
        let body = if body.is_empty() { title.clone() } else { body };
        self.with_retries(|w| {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Ok(w.out().post(url, &h, body.as_bytes()))
        })
    }

    /// Calls `send` until it gets a final answer: 2xx is done, 404/410 is gone,
    /// 429 and 5xx (and no answer) are tried again after a back-off that grows,
    /// or after the `Retry-After` the service asked for (capped).
    fn with_retries(
        &mut self,
        mut send: impl FnMut(&mut Worker) -> Result<Result<Answer, OutboundError>, String>,
    ) -> Delivery {
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let wait = match send(self) {
                Err(why) => return Delivery::Failed(why),
                // Retrying cannot make a URL callable.
                Ok(Err(e @ OutboundError::BadUrl(_))) => return Delivery::Failed(e.to_string()),
                Ok(Err(e)) => {
                    last = e.to_string();
                    backoff
                }
                Ok(Ok(a)) if (200..300).contains(&a.status) => return Delivery::Ok,
                Ok(Ok(a)) if a.status == 404 || a.status == 410 => return Delivery::Gone,
                Ok(Ok(a)) if a.status == 429 || a.status >= 500 => {
                    last = format!("answered {}", a.status);
                    a.retry_after.map_or(backoff, Duration::from_secs)
                }
                Ok(Ok(a)) => {
                    let text = String::from_utf8_lossy(&a.body);
                    return Delivery::Failed(format!(
                        "answered {}: {}",
                        a.status,
                        text.trim().chars().take(200).collect::<String>()
                    ));
                }
            };
            if attempt < ATTEMPTS {
                log::info!("notify: {last}; trying again in {wait:?}");
                std::thread::sleep(wait.min(MAX_WAIT));
                backoff *= 2;
            }
        }
        Delivery::Failed(format!("gave up after {ATTEMPTS} tries: {last}"))
    }

    /// Saves the subscriptions (0600: the endpoints are capabilities).
    fn save(&self) {
        if let Ok(mut s) = self.status.lock() {
            s.subscriptions = self.subs.len();
        }
        let text = serde_json::to_string_pretty(&self.subs).unwrap_or_else(|_| "[]".into());
        if let Err(e) = webpush::write_private(&self.path, &text) {
            log::warn!("push: cannot save {}: {e}", self.path.display());
        }
    }
}

/// Notifications with the same tag replace each other on the phone: one per run,
/// one per approval.
fn tag(note: &Note) -> String {
    match note {
        Note::Done { run, .. } | Note::Failed { run, .. } => format!("run-{run}"),
        Note::Waiting { id, .. } => format!("approval-{id}"),
        Note::Test => "test".into(),
    }
}

/// The host of an endpoint, for logs (the path is a capability; never logged).
fn endpoint_host(endpoint: &str) -> &str {
    endpoint
        .split_once("://")
        .map_or("", |(_, r)| r.split('/').next().unwrap_or(""))
}

/// A header value: one line of ASCII; anything else as an RFC 2047 encoded word,
/// which ntfy decodes (HTTP header values must be ASCII).
fn header_safe(s: &str) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.is_ascii() {
        line
    } else {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(line.as_bytes());
        format!("=?UTF-8?B?{b64}?=")
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_once_for_its_approval_only() {
        let mut t = Tokens::default();
        let a = t.mint("req-a");
        let b = t.mint("req-b");
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(!t.redeem("req-b", &a), "another approval's token");
        assert!(!t.redeem("req-a", "0000"), "a forged token");
        assert!(t.redeem("req-a", &a));
        assert!(!t.redeem("req-a", &a), "used once already");
        t.forget("req-b");
        assert!(!t.redeem("req-b", &b), "the approval is gone");
    }

    #[test]
    fn notes_read_well_in_both_languages() {
        let done = Note::Done {
            run: 3,
            first_line: "All tests pass.".into(),
            duration_s: Some(125.0),
            cost_usd: Some(0.1234),
        };
        assert_eq!(
            done.text("en"),
            (
                "Claude finished".into(),
                "All tests pass.\n2 min 5 s · $0.12".into()
            )
        );
        assert_eq!(done.text("ko").1, "All tests pass.\n2분 5초 · $0.12");
        assert_eq!(done.fragment(), "#run-3");
        let wait = Note::Waiting {
            run: 3,
            id: "r1".into(),
            kind: "tool",
            tool: "Bash".into(),
            detail: "rm -rf build".into(),
            token: "t".into(),
        };
        assert_eq!(wait.text("en").0, "Claude asks to use Bash");
        assert_eq!(wait.urgency(), Urgency::High);
        assert_eq!(header_safe("a\nb"), "a b");
        assert_eq!(
            header_safe("Claude 완료"),
            "=?UTF-8?B?Q2xhdWRlIOyZhOujjA==?="
        );
    }

    #[test]
    fn subscriptions_are_checked() {
        let ok = br#"{"endpoint":"https://push.example/x","keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"},"events":["waiting","bogus"],"lang":"ko"}"#;
        let s = Subscription::parse(ok).unwrap();
        assert_eq!(s.events, vec!["waiting"]);
        assert_eq!(s.lang, "ko");
        assert!(Subscription::parse(br#"{"endpoint":"javascript:x","keys":{}}"#).is_err());
        assert!(Subscription::parse(b"nope").is_err());
    }
}
