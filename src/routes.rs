//! HTTP routes: plain functions from a parsed request to a tiny_http response.
//!
//! No sockets here, so most of it is testable without a server. The transport
//! (limits, keep-alive, common headers) is [`crate::http`]'s; the WebSocket itself is
//! [`crate::ws`]'s. This module decides what each path answers and who may ask.

use crate::assets::{Assets, Body};
use crate::http::{Head, Request, header};
use crate::hub::HubHandle;
use crate::pages::Pages;
use minijinja::{Value, context};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tiny_http::{Response, StatusCode};

/// A response ready for tiny_http to write.
pub type Reply = Response<Box<dyn Read + Send>>;

/// What the routes need to answer.
pub struct App {
    pub hub: HubHandle,
    pub pages: Pages,
    pub assets: Assets,
    pub claude: PathBuf,
    pub started: Instant,
}

/// Routes one request.
pub fn handle(req: &Request, app: &App) -> Reply {
    let head = &req.head;
    let (allowed, reply): (&str, fn(&Request, &App) -> Reply) = match head.path.as_str() {
        "/" => ("GET, HEAD", index),
        "/healthz" => ("GET, HEAD", healthz),
        p if p.starts_with("/static/") => ("GET, HEAD", asset),
        "/sw.js" | "/manifest.webmanifest" => ("GET, HEAD", root_asset),
        _ => return text(404, "not found"),
    };
    if !allowed.split(", ").any(|m| m == head.method) {
        return text(405, "method not allowed").with_header(header("Allow", allowed));
    }
    reply(req, app)
}

/// Checks a WebSocket upgrade before the handshake: a browser page from another
/// site must not drive this server with the user's cookies (cross-site WebSocket
/// hijacking), so a present `Origin` must name the same host the request was sent to.
pub fn authorize_ws(head: &Head, _app: &App) -> Result<(), Reply> {
    if let Some(origin) = head.header("origin") {
        let host = head.header("host").unwrap_or("");
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        if !origin_host.eq_ignore_ascii_case(host) {
            log::warn!("ws: refused cross-origin upgrade from {origin:?} to host {host:?}");
            return Err(text(403, "cross-origin WebSocket refused"));
        }
    }
    Ok(())
}

fn index(_req: &Request, app: &App) -> Reply {
    let ctx = context! {
        version => env!("CARGO_PKG_VERSION"),
        // Our own URLs (a fixed name and a hex hash): nothing to escape.
        app_js => Value::from_safe_string(app.assets.url("app.js")),
        app_css => Value::from_safe_string(app.assets.url("app.css")),
        icon_svg => Value::from_safe_string(app.assets.url("icon.svg")),
    };
    match app.pages.render("index.html", ctx) {
        Ok(html) => bytes(200, "text/html; charset=utf-8", html.into_bytes())
            .with_header(header("Cache-Control", "no-cache")),
        Err(e) => {
            log::error!("page /: {e}");
            text(
                500,
                "the page template failed to render; see the server log",
            )
        }
    }
}

fn asset(req: &Request, app: &App) -> Reply {
    let name = req.head.path.trim_start_matches("/static/");
    let Some(found) = app.assets.get(name) else {
        return text(404, "not found");
    };
    let cache = if found.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let (reader, len): (Box<dyn Read + Send>, usize) = match found.body {
        Body::Static(b) => (Box::new(b), b.len()),
        Body::Owned(v) => {
            let len = v.len();
            (Box::new(Cursor::new(v)), len)
        }
    };
    Response::new(
        StatusCode(200),
        vec![
            header("Content-Type", found.content_type),
            header("Cache-Control", cache),
        ],
        reader,
        Some(len),
        None,
    )
}

/// The PWA's files that must live at the root: the service worker (its scope is
/// the path it is served from) and the manifest. Always revalidated, so a new build's
/// worker and manifest are picked up at once.
fn root_asset(req: &Request, app: &App) -> Reply {
    let name = req.head.path.trim_start_matches('/');
    let Some(found) = app.assets.get(name) else {
        return text(404, "not found");
    };
    let body = match found.body {
        Body::Static(b) => b.to_vec(),
        Body::Owned(v) => v,
    };
    bytes(200, found.content_type, body).with_header(header("Cache-Control", "no-cache"))
}

fn healthz(_req: &Request, app: &App) -> Reply {
    let claude_found = find_executable(&app.claude).is_some();
    let stats = app.hub.stats(Duration::from_secs(1));
    let body = serde_json::json!({
        "status": if stats.is_some() { "ok" } else { "hub not responding" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": app.started.elapsed().as_secs(),
        "clients": stats.map(|s| s.clients),
        "queue": stats.map(|s| s.queue),
        "running": stats.map(|s| s.running),
        "claude": { "path": app.claude.display().to_string(), "found": claude_found },
    });
    let status = if stats.is_some() { 200 } else { 503 };
    bytes(status, "application/json", body.to_string().into_bytes())
        .with_header(header("Cache-Control", "no-store"))
}

/// Resolves a command the way `execvp` would: a path with a slash as is, else each
/// `PATH` entry. Only checks that an executable file is there.
pub fn find_executable(cmd: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if cmd.components().count() > 1 || cmd.is_absolute() {
        return is_exec(cmd).then(|| cmd.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(cmd))
        .find(|p| is_exec(p))
}

/// A plain-text response.
pub fn text(status: u16, body: &str) -> Reply {
    bytes(
        status,
        "text/plain; charset=utf-8",
        format!("{body}\n").into_bytes(),
    )
    .with_header(header("Cache-Control", "no-store"))
}

fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    let len = body.len();
    Response::new(
        StatusCode(status),
        vec![header("Content-Type", content_type)],
        Box::new(Cursor::new(body)),
        Some(len),
        None,
    )
}
