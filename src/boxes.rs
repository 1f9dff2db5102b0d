//! Several boxes on one dashboard (`--boxes FILE`): the other homeclaude servers
//! this one lists, polled every 15 s by its own `boxes` thread, and prompts
//! forwarded to them.
//!
//! The file is a JSON list: `[{"name":"nas","url":"http://nas.lan:8765",
//! "token":"hca_..."}]`, each token an API token made on that box with
//! `homeclaude token --api NAME`, and optionally `"viewer_token"`, that box's
//! viewer (read-only) token (`homeclaude token` prints it), which lets the
//! dashboard's page show the box's runs live ([`crate::box_relay`]). Tokens stay
//! in this process: the page and
//! `GET /api/boxes` see names, addresses and states only, and only the server
//! talks to the boxes (never the phone). Polling is blocking HTTP on this one
//! thread, each call under a deadline, never on the hub or a connection thread;
//! forwarding runs on the connection thread that asked, under the same deadlines.
//!
//! A box is `online` after a poll answered, `unresponsive` while polls fail
//! without a refusal (a timeout, an error status, a bad answer), and `offline`
//! once a connection is refused or it has not answered for [`OFFLINE_AFTER`].

use crate::outbound::{Answer, Outbound, OutboundError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How often every box is asked how it is.
pub const POLL_EVERY: Duration = Duration::from_secs(15);

/// Unanswered this long (three polls): offline.
pub const OFFLINE_AFTER: Duration = Duration::from_secs(45);

/// Deadline of one call to a box.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// One box of the file. Its tokens are never serialised.
#[derive(Clone, Deserialize)]
pub struct BoxSpec {
    pub name: String,
    pub url: String,
    pub token: String,
    /// That box's viewer token: its `/ws` read-only, for the live view.
    #[serde(default)]
    pub viewer_token: Option<String>,
}

impl std::fmt::Debug for BoxSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BoxSpec({} at {})", self.name, self.url)
    }
}

/// What `GET /api/boxes` shows of one box.
#[derive(Debug, Clone, Serialize)]
pub struct BoxState {
    pub name: String,
    pub url: String,
    /// `online`, `unresponsive` or `offline`.
    pub state: &'static str,
    pub running: Option<bool>,
    pub queued: Option<u64>,
    pub today_cost_usd: Option<f64>,
    /// RFC 3339, when it last answered.
    pub last_seen: Option<String>,
    /// Whether the page can show its runs live (the file has its viewer token).
    pub live: bool,
}

/// Why the boxes file cannot be used.
#[derive(Debug)]
pub enum BoxesError {
    Read(io::Error),
    Parse(String),
}

impl std::fmt::Display for BoxesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BoxesError::Read(e) => write!(f, "{e}"),
            BoxesError::Parse(why) => write!(f, "{why}"),
        }
    }
}

/// Reads and checks the boxes file.
pub fn load(path: &Path) -> Result<Vec<BoxSpec>, BoxesError> {
    use std::os::unix::fs::PermissionsExt;
    let text = std::fs::read_to_string(path).map_err(BoxesError::Read)?;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        log::warn!(
            "--boxes {}: others can read it, and it holds API tokens (chmod 600 it)",
            path.display()
        );
    }
    parse(&text)
}

fn parse(text: &str) -> Result<Vec<BoxSpec>, BoxesError> {
    let specs: Vec<BoxSpec> = serde_json::from_str(text).map_err(|e| {
        BoxesError::Parse(format!(
            "expected a JSON list of {{\"name\",\"url\",\"token\"}}: {e}"
        ))
    })?;
    for (i, b) in specs.iter().enumerate() {
        if !crate::api_tokens::valid_name(&b.name) {
            return Err(BoxesError::Parse(format!(
                "box {i}: name {:?} must be 1-32 letters, digits, - _ or .",
                b.name
            )));
        }
        if specs[..i].iter().any(|o| o.name == b.name) {
            return Err(BoxesError::Parse(format!("box name {:?} twice", b.name)));
        }
        if !(b.url.starts_with("http://") || b.url.starts_with("https://")) {
            return Err(BoxesError::Parse(format!(
                "box {:?}: url must start with http:// or https://",
                b.name
            )));
        }
        if b.token.trim().is_empty() {
            return Err(BoxesError::Parse(format!(
                "box {:?}: token is empty",
                b.name
            )));
        }
        if b.viewer_token.as_ref().is_some_and(|t| t.trim().is_empty()) {
            return Err(BoxesError::Parse(format!(
                "box {:?}: viewer_token is empty (leave it out instead)",
                b.name
            )));
        }
    }
    Ok(specs)
}

/// Why a call to a box failed.
#[derive(Debug)]
enum CallError {
    /// Nothing listens there (connection refused, no such host).
    Refused(String),
    /// It did not answer in time, or answered nonsense.
    Other(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Refused(why) | CallError::Other(why) => write!(f, "{why}"),
        }
    }
}

/// Calls to the boxes, through the project's one outbound client (with a box's
/// shorter deadline): statuses and JSON bodies, a refusal told apart.
struct Http {
    out: Outbound,
}

impl Http {
    fn new() -> Http {
        Http {
            out: Outbound::with_deadline(CALL_TIMEOUT),
        }
    }

    fn answer(result: Result<Answer, OutboundError>) -> Result<(u16, Value), CallError> {
        let answer = result.map_err(|e| match e {
            OutboundError::Refused(why) => CallError::Refused(why),
            other => CallError::Other(other.to_string()),
        })?;
        let status = answer.status;
        let body = serde_json::from_slice(&answer.body)
            .map_err(|_| CallError::Other(format!("answered {status} without JSON")))?;
        Ok((status, body))
    }

    fn get(&self, url: &str, token: &str) -> Result<(u16, Value), CallError> {
        let auth = format!("Bearer {token}");
        Http::answer(self.out.get(url, &[("Authorization", &auth)]))
    }

    fn post_json(&self, url: &str, token: &str, body: &Value) -> Result<(u16, Value), CallError> {
        let auth = format!("Bearer {token}");
        Http::answer(self.out.post(
            url,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        ))
    }
}

/// What forwarding a prompt came to.
#[derive(Debug)]
pub enum ForwardError {
    Unknown,
    Unreachable(String),
}

struct Seen {
    state: &'static str,
    running: Option<bool>,
    queued: Option<u64>,
    today_cost_usd: Option<f64>,
    last_seen: Option<(Instant, SystemTime)>,
    /// Polls failed in a row, and rounds still to skip (the back-off).
    failures: u32,
    skip: u32,
    /// The box refused its viewer token (rotated there): no more live views
    /// until the file is fixed and the server restarted, so the dashboard's
    /// address does not keep counting wrong tokens in that box's login back-off.
    viewer_refused: bool,
}

/// Why a box cannot be viewed live.
#[derive(Debug, PartialEq, Eq)]
pub enum LiveError {
    Unknown,
    NoViewerToken,
    ViewerTokenRefused,
}

/// The boxes and what the last polls found.
pub struct Boxes {
    specs: Vec<BoxSpec>,
    seen: Mutex<Vec<Seen>>,
    http: Http,
}

impl Boxes {
    pub fn new(specs: Vec<BoxSpec>) -> Arc<Boxes> {
        let seen = specs
            .iter()
            .map(|_| Seen {
                state: "unresponsive",
                running: None,
                queued: None,
                today_cost_usd: None,
                last_seen: None,
                failures: 0,
                skip: 0,
                viewer_refused: false,
            })
            .collect();
        Arc::new(Boxes {
            specs,
            seen: Mutex::new(seen),
            http: Http::new(),
        })
    }

    /// Starts the `boxes` thread: a poll of every box now, then every [`POLL_EVERY`].
    pub fn spawn_poller(self: &Arc<Self>) -> io::Result<()> {
        let boxes = self.clone();
        std::thread::Builder::new()
            .name("boxes".into())
            .stack_size(256 << 10)
            .spawn(move || {
                let started = Instant::now();
                loop {
                    let round = Instant::now();
                    for i in 0..boxes.specs.len() {
                        if boxes.skip(i) {
                            continue;
                        }
                        boxes.poll(i, started);
                    }
                    std::thread::sleep(POLL_EVERY.saturating_sub(round.elapsed()));
                }
            })
            .map(|_| ())
    }

    fn url(spec: &BoxSpec, path: &str) -> String {
        format!("{}{path}", spec.url.trim_end_matches('/'))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Seen>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Back-off: a box that keeps failing is asked every 2nd, then every 4th
    /// round (at most a minute apart), so a dead box costs few timed-out calls.
    fn skip(&self, i: usize) -> bool {
        let mut seen = self.lock();
        let s = &mut seen[i];
        if s.skip > 0 {
            s.skip -= 1;
            return true;
        }
        false
    }

    /// Asks one box how it is (`/healthz` for its queue, `/api/usage` for today's
    /// cost) and books the answer.
    fn poll(&self, i: usize, started: Instant) {
        let spec = &self.specs[i];
        let health = self.http.get(&Boxes::url(spec, "/healthz"), &spec.token);
        let cost = match &health {
            Ok(_) => match self.http.get(&Boxes::url(spec, "/api/usage"), &spec.token) {
                Ok((200, body)) => body
                    .get("today")
                    .and_then(|t| t.get("totalCost"))
                    .and_then(Value::as_f64),
                _ => None,
            },
            Err(_) => None,
        };
        let mut seen = self.lock();
        let s = &mut seen[i];
        match health {
            Ok((status, body)) if status == 200 || status == 503 => {
                if s.state != "online" {
                    log::info!("boxes: {} is online", spec.name);
                }
                s.state = "online";
                s.running = body.get("running").and_then(Value::as_bool);
                s.queued = body.get("queue").and_then(Value::as_u64);
                s.today_cost_usd = cost;
                s.last_seen = Some((Instant::now(), SystemTime::now()));
                s.failures = 0;
                s.skip = 0;
            }
            other => {
                let refused = matches!(other, Err(CallError::Refused(_)));
                let since = s.last_seen.map_or(started, |(at, _)| at);
                let state = if refused || since.elapsed() >= OFFLINE_AFTER {
                    "offline"
                } else {
                    "unresponsive"
                };
                if s.state != state {
                    let why = match other {
                        Ok((status, _)) => format!("answered {status}"),
                        Err(e) => e.to_string(),
                    };
                    log::warn!("boxes: {} is {state} ({why})", spec.name);
                }
                s.state = state;
                s.failures = s.failures.saturating_add(1);
                s.skip = ((1u32 << (s.failures - 1).min(2)) - 1).min(3);
            }
        }
    }

    /// Each box's state, for `GET /api/boxes` (no tokens).
    pub fn states(&self) -> Vec<BoxState> {
        let seen = self.lock();
        self.specs
            .iter()
            .zip(seen.iter())
            .map(|(spec, s)| BoxState {
                name: spec.name.clone(),
                url: spec.url.clone(),
                state: s.state,
                running: s.running,
                queued: s.queued,
                today_cost_usd: s.today_cost_usd,
                last_seen: s
                    .last_seen
                    .map(|(_, at)| crate::claude_sessions::rfc3339(at)),
                live: spec.viewer_token.is_some() && !s.viewer_refused,
            })
            .collect()
    }

    /// The box named `name` and its viewer token, for a live view.
    pub fn live(&self, name: &str) -> Result<(&BoxSpec, &str), LiveError> {
        let i = self
            .specs
            .iter()
            .position(|s| s.name == name)
            .ok_or(LiveError::Unknown)?;
        let spec = &self.specs[i];
        let token = spec
            .viewer_token
            .as_deref()
            .ok_or(LiveError::NoViewerToken)?;
        if self.lock()[i].viewer_refused {
            return Err(LiveError::ViewerTokenRefused);
        }
        Ok((spec, token))
    }

    /// The box answered a live view's upgrade with 401: its viewer token is wrong.
    pub fn viewer_refused(&self, name: &str) {
        if let Some(i) = self.specs.iter().position(|s| s.name == name) {
            log::warn!(
                "boxes: {name} refused its viewer token; no live view of it until the boxes \
                 file has the right one and the server restarts"
            );
            self.lock()[i].viewer_refused = true;
        }
    }

    /// `POST /api/prompts` with `"box"`: the same request to that box, under its
    /// token; its answer (status and body) comes back as it is.
    pub fn forward_prompt(&self, name: &str, body: &Value) -> Result<(u16, Value), ForwardError> {
        let spec = self
            .specs
            .iter()
            .find(|s| s.name == name)
            .ok_or(ForwardError::Unknown)?;
        log::info!("boxes: forwarding a prompt to {}", spec.name);
        self.http
            .post_json(&Boxes::url(spec, "/api/prompts"), &spec.token, body)
            .map_err(|e| ForwardError::Unreachable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boxes_file_is_checked() {
        let ok = parse(
            r#"[{"name":"nas","url":"http://nas.lan:8765","token":"hca_x","extra":1},
                {"name":"pi","url":"http://pi.lan","token":"hca_y","viewer_token":"vvv"}]"#,
        )
        .unwrap();
        assert_eq!(ok[0].name, "nas");
        assert_eq!(ok[0].viewer_token, None);
        assert_eq!(ok[1].viewer_token.as_deref(), Some("vvv"));
        assert!(
            !format!("{:?}", ok[1]).contains("hca_y") && !format!("{:?}", ok[1]).contains("vvv"),
            "Debug hides the tokens"
        );
        for bad in [
            r#"{"name":"nas"}"#,
            r#"[{"name":"n a s","url":"http://x","token":"t"}]"#,
            r#"[{"name":"nas","url":"ftp://x","token":"t"}]"#,
            r#"[{"name":"nas","url":"http://x","token":""}]"#,
            r#"[{"name":"nas","url":"http://x","token":"t","viewer_token":" "}]"#,
            r#"[{"name":"a","url":"http://x","token":"t"},{"name":"a","url":"http://y","token":"t"}]"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
