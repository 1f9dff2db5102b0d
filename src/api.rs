//! The REST API for scripts: prompts as jobs, their state, the session list,
//! usage, the public health check, the OpenAPI document, and the boxes of a
//! dashboard (docs/API.md; who may call what is in docs/SECURITY.md).
//!
//! Plain functions from request to response, like [`crate::routes`], which hands
//! every path in [`ROUTES`] here. Callers are the owner (bearer token or cookie),
//! a viewer (reads only), or a named API token ([`crate::api_tokens`]), accepted on
//! these routes only. Answers are JSON; errors are `{"error":code,"message":...}`
//! with the matching status. The one long-lived route, the event stream, is
//! served by [`crate::sse`] on the connection's own thread.

use crate::api_tokens::{self, ApiTokens};
use crate::auth::Role;
use crate::boxes::Boxes;
use crate::http::{Head, Request, header};
use crate::hub::{ApiInput, Cancelled};
use crate::jobs::SessionChoice;
use crate::routes::{App, Reply};
use serde_json::{Value, json};
use std::io::Cursor;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tiny_http::{Response, StatusCode};

/// How long an API request waits for the hub.
const HUB_WAIT: Duration = Duration::from_secs(5);

/// Every route of the API with its methods: what the OpenAPI document must list
/// (a test holds them to each other). `{id}` is a prompt's number.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/health", &["GET"]),
    ("/api/openapi.json", &["GET"]),
    ("/api/prompts", &["POST"]),
    ("/api/prompts/{id}", &["GET", "DELETE"]),
    ("/api/prompts/{id}/events", &["GET"]),
    ("/api/sessions", &["GET"]),
    ("/api/usage", &["GET"]),
    ("/api/boxes", &["GET"]),
];

/// The OpenAPI 3.1 document, written by hand (docs are a contract; no generator).
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the API needs besides the rest of the app.
pub struct ApiContext {
    pub tokens: ApiTokens,
    /// `--boxes`: the other boxes this one shows (none without the flag).
    pub boxes: Option<Arc<Boxes>>,
    /// Bytes an event stream may fall behind before it is cut (`--client-backlog`).
    pub stream_backlog: usize,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Owner,
    Viewer,
    /// An API token, by name.
    Token(String),
}

impl Caller {
    /// May queue, cancel and stop prompts, list sessions, see the boxes.
    fn acts(&self) -> bool {
        !matches!(self, Caller::Viewer)
    }

    /// The sender pages show for its prompts.
    fn sender(&self) -> String {
        match self {
            Caller::Token(name) => name.clone(),
            _ => "owner (API)".into(),
        }
    }
}

/// The bearer token of a request, if it has the API tokens' prefix.
fn api_bearer(head: &Head) -> Option<&str> {
    head.header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(api_tokens::PREFIX))
}

/// For [`crate::routes::identify`]: whether the request carries a valid API token
/// (then the owner/viewer check is skipped: it would count it as a wrong secret).
/// An address in the login back-off is refused before any comparison, so API
/// tokens cannot be guessed around it; a wrong one then counts like any wrong
/// bearer token.
pub fn screen(head: &Head, app: &App, from: IpAddr) -> Result<bool, Duration> {
    let Some(token) = api_bearer(head) else {
        return Ok(false);
    };
    if let Some(wait) = app.auth.backoff(from) {
        return Err(wait);
    }
    Ok(app.api.tokens.check(token).is_some())
}

/// The admission class of a connection that presents an API token: a viewer's
/// (capped, never cut, no share of the owners' reserve).
pub fn token_class(head: &Head, app: &App) -> Option<Role> {
    api_bearer(head)
        .and_then(|t| app.api.tokens.check(t))
        .map(|_| Role::Viewer)
}

/// Who sent the request: the owner or viewer [`crate::routes::identify`] found,
/// else an API token.
pub fn caller(head: &Head, app: &App, who: Option<Role>) -> Option<Caller> {
    match who {
        Some(Role::Owner) => Some(Caller::Owner),
        // The REST API is the owner's and its tokens'; a collaborator reads, as a
        // viewer does (their prompts go through the page).
        Some(Role::Viewer | Role::Collaborator) => Some(Caller::Viewer),
        None => api_bearer(head)
            .and_then(|t| app.api.tokens.check(t))
            .map(Caller::Token),
    }
}

/// A JSON answer.
pub fn json_reply(status: u16, body: &Value) -> Reply {
    let bytes = body.to_string().into_bytes();
    let len = bytes.len();
    Response::new(
        StatusCode(status),
        vec![
            header("Content-Type", "application/json"),
            header("Cache-Control", "no-store"),
        ],
        Box::new(Cursor::new(bytes)),
        Some(len),
        None,
    )
}

/// A JSON error: `{"error":code,"message":...}`.
pub fn error(status: u16, code: &str, message: &str) -> Reply {
    json_reply(status, &json!({"error": code, "message": message}))
}

/// Matches a path against a route template; `Some(id)` (0 without `{id}`).
fn matches(template: &str, path: &str) -> Option<u64> {
    let mut id = 0;
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(id),
            (Some("{id}"), Some(seg)) => {
                if seg.is_empty() || seg.len() > 19 || !seg.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                id = seg.parse().ok()?;
            }
            (Some(a), Some(b)) if a == b => {}
            _ => return None,
        }
    }
}

/// The route a path belongs to, with its methods and the prompt id in it.
pub fn route_of(path: &str) -> Option<(&'static str, &'static [&'static str], u64)> {
    ROUTES
        .iter()
        .find_map(|(t, methods)| matches(t, path).map(|id| (*t, *methods, id)))
}

/// Answers an API path; `None` when the path is not the API's.
pub fn handle(req: &Request, app: &App, who: Option<Role>) -> Option<Reply> {
    let head = &req.head;
    let (route, methods, id) = route_of(&head.path)?;
    let method = if head.method == "HEAD" && methods.contains(&"GET") {
        "GET"
    } else {
        head.method.as_str()
    };
    if !methods.contains(&method) {
        return Some(
            error(405, "method_not_allowed", "method not allowed")
                .with_header(header("Allow", &methods.join(", "))),
        );
    }
    if route == "/health" {
        return Some(health(app));
    }
    if (method == "POST" || method == "DELETE")
        && let Err(reply) = crate::routes::check_origin(head, app)
    {
        return Some(reply);
    }
    let Some(caller) = caller(head, app, who) else {
        return Some(error(
            401,
            "unauthorized",
            "send Authorization: Bearer <token> (homeclaude token --api NAME makes one)",
        ));
    };
    let reply = match (route, method) {
        ("/api/openapi.json", _) => json_reply(
            200,
            &serde_json::from_str::<Value>(OPENAPI).unwrap_or_default(),
        ),
        ("/api/prompts", _) => post_prompt(req, app, &caller),
        ("/api/prompts/{id}", "GET") => get_prompt(app, id),
        ("/api/prompts/{id}", _) => delete_prompt(app, &caller, id),
        // GET on the stream is taken over by crate::sse before routing; reaching
        // here means the request was not a plain GET (HEAD).
        ("/api/prompts/{id}/events", _) => error(405, "method_not_allowed", "GET the event stream"),
        ("/api/sessions", _) => sessions(app, &caller),
        ("/api/usage", _) => usage(app),
        ("/api/boxes", _) => boxes(app, &caller),
        _ => error(404, "not_found", "no such route"),
    };
    Some(reply)
}

fn forbidden() -> Reply {
    error(
        403,
        "forbidden",
        "a read-only viewer can watch, not send or change",
    )
}

/// `GET /health`: public, and says nothing a stranger could use.
fn health(app: &App) -> Reply {
    let healthy = app.hub.stats(Duration::from_secs(1)).is_some();
    json_reply(
        if healthy { 200 } else { 503 },
        &json!({
            "status": if healthy { "healthy" } else { "unhealthy" },
            "timestamp": crate::claude_sessions::rfc3339(SystemTime::now()),
            "uptime": app.started.elapsed().as_secs(),
            "version": env!("CARGO_PKG_VERSION"),
        }),
    )
}

fn hub_silent() -> Reply {
    error(503, "unavailable", "the server is not responding")
}

/// `POST /api/prompts`: queue a prompt (here, or on another box with `"box"`).
fn post_prompt(req: &Request, app: &App, caller: &Caller) -> Reply {
    if !caller.acts() {
        return forbidden();
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return error(
                400,
                "bad_request",
                "send a JSON object: {\"prompt\":\"...\"}",
            );
        }
    };
    if let Some(name) = body.get("box").filter(|b| !b.is_null()) {
        let Some(name) = name.as_str() else {
            return error(400, "bad_request", "\"box\" must be a box's name");
        };
        let Some(boxes) = &app.api.boxes else {
            return error(404, "unknown_box", "this server has no --boxes");
        };
        let mut forwarded = body.clone();
        if let Some(obj) = forwarded.as_object_mut() {
            obj.remove("box");
        }
        return match boxes.forward_prompt(name, &forwarded) {
            Ok((status, answer)) => json_reply(status, &answer),
            Err(crate::boxes::ForwardError::Unknown) => {
                error(404, "unknown_box", &format!("no box named {name:?}"))
            }
            Err(crate::boxes::ForwardError::Unreachable(why)) => error(
                502,
                "box_unreachable",
                &format!("box {name:?} did not answer: {why}"),
            ),
        };
    }
    let Some(text) = body.get("prompt").and_then(Value::as_str) else {
        return error(400, "bad_request", "\"prompt\" (a string) is required");
    };
    let session = match body.get("session") {
        None | Some(Value::Null) => SessionChoice::Current,
        Some(Value::String(s)) if s == "current" => SessionChoice::Current,
        Some(Value::String(s)) if s == "new" => SessionChoice::New,
        Some(Value::String(s)) if crate::protocol::is_session_id(s) => {
            SessionChoice::Resume(s.clone())
        }
        Some(_) => {
            return error(
                400,
                "bad_request",
                "\"session\" is \"current\", \"new\" or a Claude session id (a UUID)",
            );
        }
    };
    let text = text.to_string();
    let sender = caller.sender();
    let answer = app.hub.ask(
        |reply| ApiInput::Prompt {
            sender,
            text,
            session,
            attachments: Vec::new(),
            reply,
        },
        HUB_WAIT,
    );
    match answer {
        Some(Ok(id)) => json_reply(202, &json!({"id": id, "status": "queued"}))
            .with_header(header("Location", &format!("/api/prompts/{id}"))),
        Some(Err((code, message))) => {
            let status = match code {
                crate::protocol::ErrorCode::QueueFull
                | crate::protocol::ErrorCode::BudgetReached => 429,
                crate::protocol::ErrorCode::Busy => 503,
                _ => 400,
            };
            error(status, code.as_str(), &message)
        }
        None => hub_silent(),
    }
}

fn get_prompt(app: &App, id: u64) -> Reply {
    match app.hub.ask(|reply| ApiInput::Job { id, reply }, HUB_WAIT) {
        Some(Some(view)) => json_reply(200, &serde_json::to_value(view).unwrap_or_default()),
        Some(None) => error(404, "not_found", &format!("no prompt {id}")),
        None => hub_silent(),
    }
}

/// `DELETE /api/prompts/N`: cancel if queued, stop if running.
fn delete_prompt(app: &App, caller: &Caller, id: u64) -> Reply {
    if !caller.acts() {
        return forbidden();
    }
    match app
        .hub
        .ask(|reply| ApiInput::Cancel { id, reply }, HUB_WAIT)
    {
        Some(Cancelled::Removed) => json_reply(200, &json!({"id": id, "status": "cancelled"})),
        Some(Cancelled::Stopping) => json_reply(
            202,
            &json!({"id": id, "status": "running", "stopping": true}),
        ),
        Some(Cancelled::AlreadyOver(status)) => json_reply(
            409,
            &json!({"error": "already_finished", "message": "this prompt has already ended",
                    "status": status}),
        ),
        Some(Cancelled::Unknown) => error(404, "not_found", &format!("no prompt {id}")),
        None => hub_silent(),
    }
}

fn sessions(app: &App, caller: &Caller) -> Reply {
    if !caller.acts() {
        return forbidden();
    }
    // The reader thread may read many session files the first time.
    match app.hub.ask(
        |reply| ApiInput::Sessions { reply },
        Duration::from_secs(20),
    ) {
        Some(Some((current, items))) => {
            json_reply(200, &json!({"current": current, "items": items}))
        }
        Some(None) => error(
            503,
            "sessions_unavailable",
            "the session list is not available",
        ),
        None => hub_silent(),
    }
}

fn usage(app: &App) -> Reply {
    match app.hub.ask(|reply| ApiInput::Usage { reply }, HUB_WAIT) {
        Some(Some(body)) => json_reply(200, &Value::Object(body)),
        Some(None) => error(
            503,
            "usage_unavailable",
            "no usage figures yet; try again in a moment",
        ),
        None => hub_silent(),
    }
}

fn boxes(app: &App, caller: &Caller) -> Reply {
    if !caller.acts() {
        return forbidden();
    }
    let list = app
        .api
        .boxes
        .as_ref()
        .map(|b| b.states())
        .unwrap_or_default();
    json_reply(200, &json!({ "boxes": list }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_their_templates_only() {
        assert_eq!(route_of("/api/prompts").map(|r| r.0), Some("/api/prompts"));
        assert_eq!(route_of("/api/prompts/12").map(|r| r.2), Some(12));
        assert_eq!(
            route_of("/api/prompts/12/events").map(|r| r.0),
            Some("/api/prompts/{id}/events")
        );
        assert!(route_of("/api/prompts/x").is_none());
        assert!(route_of("/api/prompts/").is_none());
        assert!(route_of("/api/prompts/1/2").is_none());
        assert!(route_of("/api/logs").is_none());
    }

    /// The OpenAPI document lists exactly [`ROUTES`] with their methods; the
    /// integration test `every_documented_route_is_served` checks the server.
    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "delete", "put", "patch", "head"].contains(&method.as_str()) {
                    documented.push((path.clone(), method.to_ascii_uppercase()));
                }
            }
        }
        let mut served: Vec<(String, String)> = ROUTES
            .iter()
            .flat_map(|(p, ms)| ms.iter().map(|m| (p.to_string(), m.to_string())))
            .collect();
        documented.sort();
        served.sort();
        assert_eq!(documented, served);
    }
}
