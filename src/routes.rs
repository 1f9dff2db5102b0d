//! HTTP routes: plain functions from a parsed request to a tiny_http response.
//!
//! No sockets here, so most of it is testable without a server. The transport
//! (limits, keep-alive, common headers) is [`crate::http`]'s; the WebSocket itself is
//! [`crate::ws`]'s. This module decides what each path answers and who may ask.

use crate::assets::{Assets, Body};
use crate::auth::{self, Auth, Limited, Login, Role, Who};
use crate::config::Access;
use crate::http::{Head, Request, header};
use crate::hub::HubHandle;
use crate::pages::Pages;
use minijinja::{Value, context};
use std::io::{Cursor, Read};
use std::net::IpAddr;
use std::path::PathBuf;
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
    pub auth: Auth,
    pub access: Access,
    /// Whether the server listens on a loopback address only.
    pub loopback: bool,
    /// For the box status (disk free where history is kept).
    pub data_dir: PathBuf,
    /// The workdir's repository, for `/api/git/*`.
    pub git: crate::git::Git,
    /// The workdir's files (`crate::files_http`); `None` if it could not be opened.
    pub files: Option<std::sync::Arc<crate::files::Files>>,
    /// The notify thread (Web Push subscriptions, test notifications).
    pub notify: Option<crate::notify::NotifyHandle>,
    /// API tokens, boxes and stream limits for the REST API (`crate::api`).
    pub api: crate::api::ApiContext,
    /// The messenger bridges' health, for `/healthz` (`crate::bridge`).
    pub bridges: std::sync::Arc<crate::bridge::Health>,
}

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Anyone: the login page, health, static files.
    Public,
    /// A logged-in owner or viewer.
    LoggedIn,
}

type Handler = fn(&Request, &App, Option<Role>) -> Reply;

/// Who sent a request, from its bearer token or cookie, checked once per request
/// (a wrong secret counts once towards the back-off). An address in back-off that
/// presents a token is answered 429 here, whatever the path.
pub fn identify(head: &Head, from: IpAddr, app: &App) -> Result<Option<Who>, Reply> {
    // A valid API token is nobody's login: `crate::api` knows it by name.
    match crate::api::screen(head, app, from) {
        Ok(true) => return Ok(None),
        Ok(false) => {}
        Err(wait) => {
            return Err(text(
                429,
                "too many failed logins from this address; wait and try again",
            )
            .with_header(header("Retry-After", &wait.as_secs().max(1).to_string())));
        }
    }
    app.auth
        .identify_who(head.header("authorization"), head.header("cookie"), from)
        .map_err(|Limited(wait)| {
            text(
                429,
                "too many failed logins from this address; wait and try again",
            )
            .with_header(header("Retry-After", &wait.as_secs().max(1).to_string()))
        })
}

/// Routes one request; `who` is what [`identify`] found.
pub fn handle(req: &Request, app: &App, who: Option<Role>) -> Reply {
    let head = &req.head;
    if let Err(reply) = check_host(head, app) {
        return reply;
    }
    if let Some(reply) = crate::api::handle(req, app, who) {
        return reply;
    }
    let (allowed, access, reply): (&str, Gate, Handler) = match head.path.as_str() {
        "/" => ("GET, HEAD", Gate::LoggedIn, index),
        "/login" => ("GET, HEAD, POST", Gate::Public, login),
        "/logout" => ("GET, POST", Gate::Public, logout),
        "/healthz" => ("GET, HEAD", Gate::Public, healthz),
        p if p.starts_with("/static/") => ("GET, HEAD", Gate::Public, asset),
        "/sw.js" | "/manifest.webmanifest" => ("GET, HEAD", Gate::Public, root_asset),
        "/api/logs" => ("GET, HEAD", Gate::LoggedIn, logs_list),
        p if p.starts_with("/api/logs/") => ("GET, HEAD", Gate::LoggedIn, log_one),
        // Owner only (checked in the handler): a viewer gets 403.
        "/api/git/status" | "/api/git/diff" | "/api/git/log" => {
            ("GET, HEAD", Gate::LoggedIn, git_view)
        }
        // Owner only (`files_http::permit`); PUT's body is streamed (`handle_streamed`).
        "/api/files" => ("GET, HEAD", Gate::LoggedIn, crate::files_http::list),
        "/api/files/raw" => (
            "GET, HEAD, PUT, DELETE",
            Gate::LoggedIn,
            crate::files_http::raw,
        ),
        // Owner only, or a notification's one-time token (checked in the handler).
        p if p.starts_with("/api/approvals/") => ("POST", Gate::Public, approve),
        // Owner only (checked in the handlers): a viewer gets 403.
        "/api/push/key" => ("GET, HEAD", Gate::LoggedIn, crate::push_routes::key),
        "/api/push/subscriptions" => (
            "POST, DELETE",
            Gate::LoggedIn,
            crate::push_routes::subscriptions,
        ),
        "/api/push/test" => ("POST", Gate::LoggedIn, crate::push_routes::test),
        // Owner only (crate::people_api checks): a collaborator or viewer gets 403.
        "/api/invites" => (
            "GET, HEAD, POST",
            Gate::LoggedIn,
            crate::people_api::invites,
        ),
        "/api/invites/revoke" => ("POST", Gate::LoggedIn, crate::people_api::revoke),
        _ => return text(404, "not found"),
    };
    if !allowed.split(", ").any(|m| m == head.method) {
        return text(405, "method not allowed").with_header(header("Allow", allowed));
    }
    if matches!(head.method.as_str(), "POST" | "PUT" | "DELETE")
        && let Err(reply) = check_origin(head, app)
    {
        return reply;
    }
    if access == Gate::LoggedIn && who.is_none() {
        return if head.path == "/" {
            redirect("/login")
        } else {
            text(
                401,
                "log in first: open /login?token=... (see the server log)",
            )
        };
    }
    reply(req, app, who)
}

/// Whether a request's body goes to its handler as a stream (an upload) instead of
/// being read into memory under `--max-body` first.
pub fn streams_body(head: &Head) -> bool {
    head.method == "PUT" && head.path == "/api/files/raw"
}

/// Routes a request whose body is streamed ([`streams_body`]): the same Host and
/// Origin checks as [`handle`], then the upload, which refuses what it can before
/// reading a byte of `body` (`len` bytes, the Content-Length).
pub fn handle_streamed(
    head: &Head,
    peer: std::net::SocketAddr,
    len: u64,
    body: &mut dyn Read,
    app: &App,
    who: Option<Role>,
) -> Reply {
    if let Err(reply) = check_host(head, app).and_then(|()| check_origin(head, app)) {
        return reply;
    }
    crate::files_http::upload(head, peer, len, body, app, who)
}

/// Checks a WebSocket upgrade before the handshake and returns the client's role.
pub fn authorize_ws(head: &Head, who: Option<Role>, app: &App) -> Result<Role, Reply> {
    check_host(head, app)?;
    check_origin(head, app)?;
    who.ok_or_else(|| {
        log::info!("ws: refused upgrade without a valid session");
        text(401, "log in first")
    })
}

/// A browser page from another site must not drive this server with the user's
/// cookies (cross-site WebSocket hijacking, login CSRF): a present `Origin` must name
/// the host the request was sent to, or be on `--allowed-origin`.
pub(crate) fn check_origin(head: &Head, app: &App) -> Result<(), Reply> {
    let Some(origin) = head.header("origin") else {
        // Not a browser, or a same-origin GET: nothing a cross-site page can forge.
        return Ok(());
    };
    let host = head.header("host").unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    let allowed = origin_host.eq_ignore_ascii_case(host)
        || app
            .access
            .allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin));
    if allowed {
        Ok(())
    } else {
        log::warn!(
            "refused cross-origin {} {} from {origin:?} to host {host:?}",
            head.method,
            head.path
        );
        Err(text(403, "cross-origin request refused"))
    }
}

/// Without authentication, the Host header is the only defence against DNS
/// rebinding (a web page whose name resolves to 127.0.0.1), and a request that came
/// through a proxy or tunnel did not come from this machine: refuse both. With
/// authentication a rebinding page has no cookie, so only `--allowed-host`, when
/// given, restricts Host.
pub(crate) fn check_host(head: &Head, app: &App) -> Result<(), Reply> {
    let no_auth = !app.auth.enabled();
    if no_auth && head.headers.iter().any(|(name, _)| is_proxy_header(name)) {
        log::warn!("refused a proxied request: --no-auth serves this machine only");
        return Err(text(
            403,
            "this server runs without authentication and serves local requests only",
        ));
    }
    if !(no_auth && app.loopback) && app.access.allowed_hosts.is_empty() {
        return Ok(());
    }
    let host = head.header("host").unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let loopback_name = name.eq_ignore_ascii_case("localhost")
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback_name
        || app
            .access
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    {
        Ok(())
    } else {
        log::warn!("refused Host {host:?} (not loopback, not in --allowed-host)");
        Err(text(
            403,
            "unexpected Host header; add it with --allowed-host",
        ))
    }
}

/// Headers that only a proxy, tunnel or CDN adds (names lower-case): with
/// `--no-auth` a request carrying one did not come from this machine's own browser.
/// Whole families by prefix (`x-forwarded-*`, Cloudflare's `cf-*`, Tailscale's
/// `tailscale-*`, Envoy's `x-envoy-*`), then single names used by nginx, Apache,
/// Akamai, Fastly, Fly.io and others.
pub fn is_proxy_header(name: &str) -> bool {
    const PREFIXES: &[&str] = &["x-forwarded-", "cf-", "tailscale-", "x-envoy-", "x-amzn-"];
    const NAMES: &[&str] = &[
        "forwarded",
        "via",
        "x-real-ip",
        "true-client-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "x-original-forwarded-for",
        "fastly-client-ip",
        "fly-client-ip",
        "x-proxyuser-ip",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// `/login`: shows the form, or trades a token (query or form) or the password
/// (form only: a query string ends up in histories and logs) for a session cookie.
fn login(req: &Request, app: &App, _who: Option<Role>) -> Reply {
    let head = &req.head;
    let form_field = |name: &str| {
        (head.method == "POST")
            .then(|| {
                form_urlencoded::parse(&req.body)
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            })
            .flatten()
    };
    if let Some(password) = form_field("password") {
        let outcome = app.auth.login_password(&password, req.peer.ip());
        return login_outcome(req, app, outcome, Tried::Password);
    }
    let from_query = form_urlencoded::parse(head.query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let Some(token) = form_field("token").or(from_query) else {
        return login_page(req, app, 200, None, None);
    };
    let outcome = app.auth.login(&token, req.peer.ip());
    login_outcome(req, app, outcome, Tried::Token)
}

/// What a login attempt presented, for the answer's wording.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tried {
    Token,
    Password,
}

/// The cookie and a redirect home, or the form again with why not.
fn login_outcome(req: &Request, app: &App, outcome: Login, tried: Tried) -> Reply {
    let head = &req.head;
    match outcome {
        Login::Ok(role) => {
            let secure = req.tls
                || head
                    .header("x-forwarded-proto")
                    .is_some_and(|p| p.eq_ignore_ascii_case("https"));
            log::info!("login: {} logged in as {role:?}", req.peer.ip());
            let mut reply = redirect("/");
            if let Some(cookie) = app.auth.login_cookie(role, secure) {
                reply.add_header(header("Set-Cookie", &cookie));
            }
            reply
        }
        Login::Invite(who) => {
            let secure = req.tls
                || head
                    .header("x-forwarded-proto")
                    .is_some_and(|p| p.eq_ignore_ascii_case("https"));
            let name = who.invite.as_ref().map_or("", |(_, n)| n.as_str());
            log::info!(
                "login: {} logged in as {name:?} ({})",
                req.peer.ip(),
                who.role.name()
            );
            let mut reply = redirect("/");
            if let Some(cookie) = app.auth.login_cookie_for(&who, secure) {
                reply.add_header(header("Set-Cookie", &cookie));
            }
            reply
        }
        Login::Wrong => {
            let error = match tried {
                Tried::Token => "token",
                Tried::Password => "password",
            };
            login_page(req, app, 401, Some(error), Some(tried))
        }
        Login::Limited(wait) => {
            let secs = wait.as_secs().max(1);
            login_page(req, app, 429, Some("limited"), Some(tried))
                .with_header(header("Retry-After", &secs.to_string()))
        }
    }
}

/// The login form, in the page's language; `error` says why the last attempt failed
/// (`token`, `password` or `limited`: the template words it); `tried` is what it
/// presented, so a failed token attempt shows the token field open again.
fn login_page(
    req: &Request,
    app: &App,
    status: u16,
    error: Option<&str>,
    tried: Option<Tried>,
) -> Reply {
    let ctx = context! {
        lang => request_language(&req.head),
        error => error,
        password => app.auth.password_login(),
        token_tried => tried == Some(Tried::Token),
        app_css => Value::from_safe_string(app.assets.url("app.css")),
        icon_svg => Value::from_safe_string(app.assets.url("icon.svg")),
    };
    match app.pages.render("login.html", ctx) {
        Ok(html) => bytes(status, "text/html; charset=utf-8", html.into_bytes())
            .with_header(header("Cache-Control", "no-store")),
        Err(e) => {
            log::error!("page /login: {e}");
            text(
                500,
                "the login template failed to render; see the server log",
            )
        }
    }
}

/// `/logout`: clears this browser's cookie; an owner's logout also ends every
/// other owner session (see [`Auth::logout`]), so a copied cookie dies with it.
fn logout(_req: &Request, app: &App, who: Option<Role>) -> Reply {
    app.auth.logout(who);
    redirect("/login").with_header(header("Set-Cookie", &auth::logout_cookie()))
}

fn redirect(to: &str) -> Reply {
    bytes(303, "text/plain; charset=utf-8", Vec::new())
        .with_header(header("Location", to))
        .with_header(header("Cache-Control", "no-store"))
}

fn index(req: &Request, app: &App, who: Option<Role>) -> Reply {
    let ctx = context! {
        version => env!("CARGO_PKG_VERSION"),
        lang => request_language(&req.head),
        // The page hides what a read-only viewer cannot use (the hub enforces it).
        viewer => who == Some(Role::Viewer),
        // Where the paperclip uploads (`--uploads-dir`), inside the workdir.
        uploads => app.files.as_ref().map(|f| f.uploads.clone()),
        role => who.map_or("viewer", Role::name),
        // The page says "you" on this name's prompts (the hub stamps it).
        me => match req.who.as_ref().and_then(|w| w.invite.as_ref()) {
            Some((_, name)) => name.as_str(),
            None if who == Some(Role::Owner) => app.access.owner_name.as_str(),
            None => "viewer",
        },
        // The page refuses bigger files itself: a refused upload's body is not read.
        max_upload => app.files.as_ref().map(|f| f.max_upload),
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

/// The language the user picked on the page (cookie `hc_lang`, set by the page's
/// language setting), else the browser's preference.
fn request_language(head: &Head) -> &'static str {
    let picked = head.header("cookie").and_then(|c| {
        c.split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == "hc_lang")
            .map(|(_, v)| v.trim())
    });
    match picked {
        Some("ko") => "ko",
        Some("en") => "en",
        _ => page_language(head.header("accept-language")),
    }
}

/// `ko` when the browser prefers Korean to English, else `en` (the page's two
/// languages). Quality values are honoured; order breaks ties.
fn page_language(accept: Option<&str>) -> &'static str {
    let mut best = ("en", -1.0f32);
    for part in accept.unwrap_or("").split(',') {
        let mut fields = part.split(';');
        let tag = fields.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = fields
            .find_map(|f| {
                f.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let lang = if tag.starts_with("ko") {
            "ko"
        } else if tag.starts_with("en") {
            "en"
        } else {
            continue;
        };
        if q > best.1 {
            best = (lang, q);
        }
    }
    best.0
}

fn asset(req: &Request, app: &App, _who: Option<Role>) -> Reply {
    let name = req.head.path.trim_start_matches("/static/");
    let Some(found) = app.assets.get(name) else {
        return text(404, "not found");
    };
    // Immutable only when the URL names this exact content (`?v=<hash>`); a bare
    // name (the manifest's icons) may change with the next build.
    let versioned = req.head.query_param("v").is_some();
    let cache = if found.immutable && versioned {
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
fn root_asset(req: &Request, app: &App, _who: Option<Role>) -> Reply {
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

// `GET /api/logs`: homeclaude's own session logs (see [`crate::logs`]), read on
/// this connection's thread.
fn logs_list(_req: &Request, app: &App, _who: Option<Role>) -> Reply {
    bytes(
        200,
        "application/json",
        crate::logs::list(&app.data_dir).to_string().into_bytes(),
    )
    .with_header(header("Cache-Control", "no-store"))
}

/// `GET /api/logs/<key>`: one session log as JSON lines, streamed from the disk.
fn log_one(req: &Request, app: &App, _who: Option<Role>) -> Reply {
    let key = req.head.path.trim_start_matches("/api/logs/");
    let Some((file, len)) = crate::logs::open(&app.data_dir, key) else {
        return text(404, "no such log");
    };
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    Response::new(
        StatusCode(200),
        vec![
            header("Content-Type", "application/x-ndjson"),
            header("Cache-Control", "no-store"),
        ],
        Box::new(file.take(len as u64)),
        Some(len),
        None,
    )
}

/// `POST /api/approvals/<id>` with `{"decision":...}` (the fields of the
/// WebSocket `approval` frame): the owner answers without a page (a notification's
/// buttons, a script). 200 with the outcome; 404 unknown; 409 already answered;
/// 400 a bad body; 401 not logged in; 403 for a viewer, and for a collaborator what
/// their role may not answer (crate::permissions).
///
/// `?token=T` (a notification's one-time token, [`crate::notify::Tokens`]) stands
/// in for the login, for this approval only, once: a used, expired, forged or
/// other approval's token gets 403 and changes nothing. With a token the decision
/// may come as `&decision=allow|deny` and an empty body (ntfy's action buttons).
fn approve(req: &Request, app: &App, who: Option<Role>) -> Reply {
    let token = req.head.query_param("token").map(str::to_string);
    let person = match (&token, who) {
        (Some(_), _) => None,
        (None, None) => return text(401, "log in first, or use the notification's link"),
        (None, Some(Role::Viewer)) => return text(403, "only the owner answers approvals"),
        (None, Some(_)) => match req.who.clone() {
            Some(person) => Some(person),
            None => return text(403, "only the owner answers approvals"),
        },
    };
    let id = req.head.path.trim_start_matches("/api/approvals/");
    let from_query;
    let body: &[u8] = match req.head.query_param("decision") {
        Some(d) if token.is_some() && req.body.iter().all(u8::is_ascii_whitespace) => {
            from_query = serde_json::json!({ "decision": d }).to_string();
            from_query.as_bytes()
        }
        _ => &req.body,
    };
    let answer = match crate::protocol::parse_http_approval(id, body) {
        Ok(a) => a,
        Err(e) => return text(400, &e.to_string()),
    };
    match app
        .hub
        .approve(answer, token, person, Duration::from_secs(5))
    {
        Some(Ok(decision)) => bytes(
            200,
            "application/json",
            serde_json::json!({"id": id, "decision": decision})
                .to_string()
                .into_bytes(),
        )
        .with_header(header("Cache-Control", "no-store")),
        Some(Err(crate::approvals::Refusal::Unknown)) => text(404, "no such approval is waiting"),
        Some(Err(crate::approvals::Refusal::AlreadyResolved)) => {
            text(409, "someone answered this first, or it was withdrawn")
        }
        Some(Err(crate::approvals::Refusal::Unfit(why))) => text(400, why),
        Some(Err(crate::approvals::Refusal::BadToken)) => text(
            403,
            "this link was used already, has expired, or is not for this approval",
        ),
        Some(Err(crate::approvals::Refusal::Forbidden(needs))) => {
            text(403, &format!("only the {} answers this", needs.name()))
        }
        None => text(503, "the server is not responding"),
    }
}

/// `GET /api/git/status|diff|log`: read-only views of the workdir's repository
/// (`crate::git`), made on this connection's thread. Owner only, like the shell
/// (`crate::shell::allowed`): a viewer gets 403. Not a repository: 200 with
/// `{"repo":false,...}`; git missing 503; git too slow 504.
fn git_view(req: &Request, app: &App, who: Option<Role>) -> Reply {
    if !who.is_some_and(crate::shell::allowed) {
        return text(403, "only the owner may look at the repository");
    }
    let param = |name: &str| {
        form_urlencoded::parse(req.head.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let result = match req.head.path.as_str() {
        "/api/git/status" => app.git.status(),
        "/api/git/diff" => {
            let staged = param("staged").is_some_and(|v| v == "1" || v == "true");
            app.git.diff(param("path").as_deref(), staged)
        }
        _ => {
            let n = param("n")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(20);
            app.git.log(n)
        }
    };
    let (status, body) = match result {
        Ok(body) => (200, body),
        Err(e) => {
            let status = match e {
                crate::git::GitError::NotRepo => 200,
                crate::git::GitError::NotInstalled => 503,
                crate::git::GitError::Timeout => 504,
                crate::git::GitError::Failed(_) => 500,
            };
            let repo = e != crate::git::GitError::NotRepo;
            (
                status,
                serde_json::json!({"repo": repo, "error": e.to_string()}),
            )
        }
    };
    bytes(status, "application/json", body.to_string().into_bytes())
        .with_header(header("Cache-Control", "no-store"))
}

fn healthz(_req: &Request, app: &App, who: Option<Role>) -> Reply {
    let claude_found = crate::child::find_executable(&app.claude).is_some();
    let stats = app.hub.stats(Duration::from_secs(1));
    let status = match stats {
        None => "hub not responding",
        Some(s) if !s.runner_ok => "run overdue: the runner is not turning",
        Some(_) => "ok",
    };
    let body = serde_json::json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": app.started.elapsed().as_secs(),
        "clients": stats.map(|s| s.clients),
        "queue": stats.map(|s| s.queue),
        "running": stats.map(|s| s.running),
    });
    // Where the CLI lives (a path names the user) and the box's own figures
    // (temperature, memory, disk) are for logged-in users only; the public health
    // check says no more than it must (docs/SECURITY.md lists it).
    let mut body = body;
    if who.is_some() {
        body["claude"] = serde_json::json!({
            "path": app.claude.display().to_string(),
            "found": claude_found,
        });
        body["box"] =
            serde_json::to_value(crate::boxstatus::read(&app.data_dir)).unwrap_or_default();
        if let Some(bridges) = app.bridges.json() {
            body["bridges"] = bridges;
        }
    }
    let code = if status == "ok" { 200 } else { 503 };
    bytes(code, "application/json", body.to_string().into_bytes())
        .with_header(header("Cache-Control", "no-store"))
}

/// A JSON response that is never cached.
pub fn json(status: u16, body: &serde_json::Value) -> Reply {
    bytes(status, "application/json", body.to_string().into_bytes())
        .with_header(header("Cache-Control", "no-store"))
}

/// The scheme and host this request was sent to, for links back to this server.
pub fn base_url(req: &Request) -> String {
    let https = req.tls
        || req
            .head
            .header("x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = req.head.header("host").unwrap_or("localhost");
    format!("{}://{host}", if https { "https" } else { "http" })
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

pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    let len = body.len();
    Response::new(
        StatusCode(status),
        vec![header("Content-Type", content_type)],
        Box::new(Cursor::new(body)),
        Some(len),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::page_language;

    #[test]
    fn accept_language_picks_korean_or_english() {
        for (header, want) in [
            (None, "en"),
            (Some("ko-KR,ko;q=0.9,en-US;q=0.8"), "ko"),
            (Some("en-US,en;q=0.9,ko;q=0.8"), "en"),
            (Some("fr-FR,ko;q=0.5"), "ko"),
            (Some("de"), "en"),
        ] {
            assert_eq!(page_language(header), want, "{header:?}");
        }
    }
}
