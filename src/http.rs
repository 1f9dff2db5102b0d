//! The front door: owns the listening socket and every TCP connection.
//!
//! tiny_http 0.12's own server cannot be exposed (DESIGN-NOTES: one huge
//! Content-Length aborts the process, no header limits, no timeouts, a panic at the
//! fd limit, an opaque upgraded stream). So this module accepts connections itself,
//! gives each its own thread, and reads every request head with httparse under a
//! size limit and a deadline. `/ws` upgrades are handed to [`crate::ws`] on the raw
//! socket; every other request goes to [`crate::routes`], a plain function from
//! request to tiny_http `Response`, which tiny_http then writes (`raw_print`). What
//! this module decides is transport only: limits, deadlines, keep-alive, headers
//! common to every response. With `--tls-cert` each connection first gets its TLS
//! handshake, on its own thread and under the same deadline as a request head
//! ([`crate::transport`]); plain HTTP arriving at a TLS port is redirected to https.

use crate::admission::{Admission, Ticket};
use crate::auth::Who;
use crate::routes::{self, App};
use crate::transport::{Accepted, Acceptor, Stream};
use crate::ws;
use rustix::io::Errno;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tiny_http::{HTTPVersion, Header};

/// Stack size of connection threads: they parse JSON a few levels deep at most
/// (serde_json stops at depth 128), and small stacks keep virtual memory low on
/// 32-bit boxes.
const CONN_STACK: usize = 256 << 10;

/// Most headers accepted in one request.
const MAX_HEADERS: usize = 64;

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: String,
    pub path: String,
    pub query: String,
    /// HTTP/1.`minor`.
    pub minor: u8,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's raw value.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    fn keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("");
        let has = |t: &str| conn.split(',').any(|x| x.trim().eq_ignore_ascii_case(t));
        if self.minor == 0 {
            has("keep-alive")
        } else {
            !has("close")
        }
    }
}

/// A whole request: head, body and where it came from.
#[derive(Debug)]
pub struct Request {
    pub head: Head,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
    /// Whether it came over TLS.
    pub tls: bool,
    /// Who sent it, with the invite (the handler's `Option<Role>` is its role).
    pub who: Option<Who>,
}

/// Why reading a request failed. Each maps to an answer (or a silent close).
#[derive(Debug)]
enum ReadError {
    /// The peer closed the connection between requests: not an error.
    Closed,
    /// The deadline passed (slowloris, or an idle keep-alive connection).
    Timeout {
        started: bool,
    },
    /// Head or body over its limit.
    HeadTooLarge,
    BodyTooLarge,
    /// Not HTTP/1.x we understand.
    Malformed(String),
    /// A body framing we do not accept (chunked request bodies).
    Unsupported(&'static str),
    Io(io::Error),
}

/// Transport settings from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_header: usize,
    pub max_body: usize,
    pub request_timeout: Duration,
    pub keepalive_timeout: Duration,
}

/// What the accept loop shares with connection threads.
pub struct Door {
    pub app: Arc<App>,
    pub settings: HttpSettings,
    pub ws: ws::WsSettings,
    /// Plain, or TLS.
    pub acceptor: Acceptor,
    /// Who gets a connection and a WebSocket slot ([`crate::admission`]).
    pub admission: Arc<Admission>,
    /// Set at shutdown: new connections are dropped at once.
    pub closing: AtomicBool,
    /// Test hook (`HOMECLAUDE_TEST_HOOKS=1`, SIGUSR2): the accept loop stops
    /// serving after its next accept, so the watchdog test can see pings stop.
    pub wedge_accept: Arc<AtomicBool>,
}

/// Accepts connections until the process exits. Runs on its own thread.
pub fn accept_loop(listener: TcpListener, door: Arc<Door>) {
    let mut fd_warned = Instant::now() - Duration::from_secs(60);
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if door.wedge_accept.load(Ordering::Relaxed) {
                    log::warn!("http: accept loop wedged on purpose (test hook)");
                    loop {
                        std::thread::park();
                    }
                }
                if door.closing.load(Ordering::Relaxed) {
                    continue;
                }
                // A second descriptor, so that admission can cut this connection
                // from another thread while it sends nothing (see crate::admission).
                let ticket = match door.admission.admit(peer.ip(), stream.try_clone().ok()) {
                    Ok(ticket) => ticket,
                    Err(why) => {
                        log::warn!("http {peer}: refused: {why} (--max-connections)");
                        refuse_busy(stream);
                        continue;
                    }
                };
                let conn_door = door.clone();
                let spawned = std::thread::Builder::new()
                    .name("conn".into())
                    .stack_size(CONN_STACK)
                    .spawn(move || connection(stream, peer, &conn_door, &ticket));
                if let Err(e) = spawned {
                    log::error!("http {peer}: cannot start a thread: {e}");
                }
            }
            Err(e) => {
                // Out of file descriptors or memory: the listener is fine, the
                // process is full. Back off briefly instead of spinning, and keep
                // serving the connections already open.
                let errno = e.raw_os_error().map(Errno::from_raw_os_error);
                if matches!(
                    errno,
                    Some(Errno::MFILE | Errno::NFILE | Errno::NOMEM | Errno::NOBUFS)
                ) {
                    if fd_warned.elapsed() > Duration::from_secs(10) {
                        log::error!(
                            "http: cannot accept: {e} (raise LimitNOFILE or --max-connections lower)"
                        );
                        fd_warned = Instant::now();
                    }
                    std::thread::sleep(Duration::from_millis(50));
                } else {
                    log::debug!("http: accept failed: {e}");
                }
            }
        }
    }
}

/// Best-effort 503 to a connection over the limit, without waiting on it.
fn refuse_busy(stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let mut stream = stream;
    let _ = stream.write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\nRetry-After: 5\r\n\r\n",
    );
}

/// Serves one TCP connection: requests in turn (keep-alive), or one upgrade.
fn connection(tcp: TcpStream, peer: SocketAddr, door: &Door, ticket: &Ticket) {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_write_timeout(Some(door.settings.request_timeout));
    let deadline = Instant::now() + door.settings.request_timeout;
    let mut stream = match door.acceptor.accept(tcp, deadline) {
        Ok(Accepted::Ready(stream)) => stream,
        Ok(Accepted::PlainOnTlsPort(tcp)) => {
            plain_on_tls_port(Stream::Plain(tcp), peer, door);
            return;
        }
        Err(e) => {
            log::info!("http {peer}: TLS handshake failed: {e}");
            return;
        }
    };
    match serve_requests(&mut stream, peer, door, ticket) {
        Some((head, _, who)) if crate::sse::wants(&head) => {
            let role = who.as_ref().map(|w| w.role);
            crate::sse::serve(stream, peer, &head, role, door, ticket);
        }
        Some((head, leftover, who)) if crate::box_relay::wants(&head) => {
            crate::box_relay::serve(stream, peer, head, leftover, who, door, ticket);
        }
        Some((head, leftover, who)) => upgrade(stream, peer, head, leftover, who, door, ticket),
        None => stream.close_notify(),
    }
}

/// Requests in turn on one connection, until it closes, or asks for a WebSocket
/// upgrade: then its head and the bytes that followed it are returned.
fn serve_requests(
    stream: &mut Stream,
    peer: SocketAddr,
    door: &Door,
    ticket: &Ticket,
) -> Option<(Head, Vec<u8>, Option<Who>)> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut first = true;
    loop {
        ticket.waiting();
        let head = match read_head(stream, &mut buf, &door.settings, first) {
            Ok(head) => head,
            Err(_) if ticket.was_cut() => return None,
            Err(err) => {
                answer_read_error(stream, peer, err);
                return None;
            }
        };
        ticket.busy();
        first = false;
        let head_len = head.1;
        let head = head.0;
        // Once per request: a wrong secret counts once towards the back-off.
        let person = match routes::identify(&head, peer.ip(), &door.app) {
            Ok(person) => person,
            Err(limited) => {
                log::info!(
                    "http {peer}: {} {} -> 429 (login back-off)",
                    head.method,
                    head.path
                );
                let _ = write_response(stream, limited, head.minor, false, false);
                return None;
            }
        };
        let who = person.as_ref().map(|p| p.role);
        // An API token's connection is admitted in the viewer class (crate::api).
        if let Some(role) = who.or_else(|| crate::api::token_class(&head, &door.app))
            && let Err(why) = ticket.identified(role)
        {
            log::warn!("http {peer}: refused {role:?}: {why}");
            let reply =
                routes::text(503, &why.to_string()).with_header(header("Retry-After", "10"));
            let _ = write_response(stream, reply, head.minor, false, false);
            return None;
        }
        if (head.path == "/ws" && ws::is_upgrade(&head))
            || crate::sse::wants(&head)
            || crate::box_relay::wants(&head)
        {
            let leftover = buf.split_off(head_len);
            return Some((head, leftover, person));
        }
        if routes::streams_body(&head) {
            if serve_streamed(stream, &mut buf, head_len, &head, peer, who, door) {
                continue;
            }
            return None;
        }
        let body = match read_body(stream, &mut buf, head_len, &head, &door.settings) {
            Ok(body) => body,
            // The API answers in JSON, a body over --max-body too.
            Err(ReadError::BodyTooLarge) if crate::api::route_of(&head.path).is_some() => {
                let reply = crate::api::error(413, "payload_too_large", "request body too large");
                let _ = write_response(stream, reply, head.minor, false, false);
                return None;
            }
            Err(err) => {
                answer_read_error(stream, peer, err);
                return None;
            }
        };
        let keep_alive = head.keep_alive() && !door.closing.load(Ordering::Relaxed);
        let is_head = head.method == "HEAD";
        let minor = head.minor;
        let request = Request {
            head,
            body,
            peer,
            tls: stream.is_tls(),
            who: person,
        };
        let response = routes::handle(&request, &door.app, who);
        let status = response.status_code().0;
        if status >= 400 {
            log::info!(
                "http {peer}: {} {} -> {status}",
                request.head.method,
                request.head.path
            );
        } else {
            log::debug!(
                "http {peer}: {} {} -> {status}",
                request.head.method,
                request.head.path
            );
        }
        if let Err(e) = write_response(stream, response, minor, is_head, keep_alive) {
            log::debug!("http {peer}: write failed: {e}");
            return None;
        }
        if !keep_alive {
            return None;
        }
    }
}

/// Answers one plain-HTTP request that reached the TLS port, then closes. A browser
/// is sent to the https address; `/healthz` is answered (its public form: no
/// credentials are read off an unencrypted request), so the watchdog's self-probe and
/// plain monitoring keep working.
fn plain_on_tls_port(mut stream: Stream, peer: SocketAddr, door: &Door) {
    let mut buf = Vec::with_capacity(1024);
    let (mut head, _) = match read_head(&mut stream, &mut buf, &door.settings, true) {
        Ok(head) => head,
        Err(err) => {
            answer_read_error(&mut stream, peer, err);
            return;
        }
    };
    let is_head = head.method == "HEAD";
    let minor = head.minor;
    let response = if head.path == "/healthz" {
        head.headers
            .retain(|(name, _)| name != "authorization" && name != "cookie");
        let request = Request {
            head,
            body: Vec::new(),
            peer,
            tls: false,
            who: None,
        };
        routes::handle(&request, &door.app, None)
    } else {
        let host = head.header("host").unwrap_or("");
        let query = if head.query.is_empty() { "" } else { "?" };
        let location = format!("https://{host}{}{query}{}", head.path, head.query);
        let safe = !host.is_empty() && location.bytes().all(|b| b.is_ascii_graphic());
        log::info!("http {peer}: plain HTTP on the TLS port; pointed at https");
        if safe && (head.method == "GET" || is_head) {
            routes::text(308, "this server speaks https").with_header(header("Location", &location))
        } else {
            routes::text(400, "this server speaks https; use an https:// address")
        }
    };
    let _ = write_response(&mut stream, response, minor, is_head, false);
}

/// Handles the `/ws` upgrade: limits, handshake, then the WebSocket loop.
fn upgrade(
    mut stream: Stream,
    peer: SocketAddr,
    head: Head,
    leftover: Vec<u8>,
    person: Option<Who>,
    door: &Door,
    ticket: &Ticket,
) {
    let role = match routes::authorize_ws(&head, person.as_ref().map(|p| p.role), &door.app) {
        Ok(role) => role,
        Err(response) => {
            let _ = write_response(&mut stream, response, head.minor, false, false);
            return;
        }
    };
    let accept = match ws::accept_key(&head) {
        Ok(accept) => accept,
        Err(why) => {
            log::info!("ws {peer}: bad handshake: {why}");
            let _ = write_response(
                &mut stream,
                routes::text(400, why),
                head.minor,
                false,
                false,
            );
            return;
        }
    };
    if let Err(why) = ticket.open_websocket(role) {
        log::warn!("ws {peer}: refused {role:?}: {why} (--max-clients)");
        let response = routes::text(503, &why.to_string()).with_header(header("Retry-After", "10"));
        let _ = write_response(&mut stream, response, head.minor, false, false);
        return;
    }
    let replay_after = head.query_param("last_seq").and_then(|v| v.parse().ok());
    let switched = stream
        .write_all(ws::switching_protocols(&accept).as_bytes())
        .and_then(|()| stream.flush());
    if switched.is_ok() {
        // From here on the connection thread blocks in poll(2), never in a timed read.
        let _ = stream.tcp().set_read_timeout(None);
        let _ = stream.tcp().set_write_timeout(None);
        let who = person.unwrap_or_else(|| Who::role(role));
        // "Last seen" for `homeclaude invites`, written here, off the hub.
        if let (Some((invite, _)), crate::auth::Mode::Tokens(store)) =
            (&who.invite, &door.app.auth.mode)
        {
            store.invites.seen(invite);
        }
        ws::serve(
            stream,
            peer,
            leftover,
            replay_after,
            who,
            &door.app.hub,
            &door.ws,
        );
    }
}

/// Answers what can be answered; closes either way.
fn answer_read_error(stream: &mut Stream, peer: SocketAddr, err: ReadError) {
    let (status, why) = match err {
        ReadError::Closed | ReadError::Timeout { started: false } => return,
        ReadError::Io(e) => {
            log::debug!("http {peer}: read failed: {e}");
            return;
        }
        ReadError::Timeout { started: true } => {
            (408, "request head not received in time".to_string())
        }
        ReadError::HeadTooLarge => (431, "request head too large".to_string()),
        ReadError::BodyTooLarge => (413, "request body too large".to_string()),
        ReadError::Malformed(why) => (400, why),
        ReadError::Unsupported(why) => (501, why.to_string()),
    };
    log::info!("http {peer}: refused request: {status} {why}");
    let _ = write_response(stream, routes::text(status, &why), 1, false, false);
}

/// Reads one request head into `buf` under the size limit and deadline. Returns the
/// head and its length in `buf` (bytes after it belong to the body or the next request).
fn read_head(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    settings: &HttpSettings,
    first: bool,
) -> Result<(Head, usize), ReadError> {
    // A new connection gets the request timeout for its first head; an idle
    // keep-alive connection waits longer for its next first byte, then the same.
    let mut deadline = Instant::now()
        + if first || !buf.is_empty() {
            settings.request_timeout
        } else {
            settings.keepalive_timeout
        };
    let mut started = !buf.is_empty();
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(len)) => return Ok((to_head(&req)?, len)),
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(ReadError::HeadTooLarge),
                Err(e) => return Err(ReadError::Malformed(format!("malformed request: {e}"))),
            }
            if buf.len() >= settings.max_header {
                return Err(ReadError::HeadTooLarge);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Timeout { started });
        }
        stream
            .tcp()
            .set_read_timeout(Some(left))
            .map_err(ReadError::Io)?;
        let room = settings.max_header.saturating_sub(buf.len()).max(1);
        let mut chunk = [0u8; 4096];
        let want = room.min(chunk.len());
        match stream.read(&mut chunk[..want]) {
            Ok(0) if buf.is_empty() => return Err(ReadError::Closed),
            Ok(0) => return Err(ReadError::Malformed("connection closed mid-request".into())),
            Ok(n) => {
                if !started {
                    started = true;
                    deadline = Instant::now() + settings.request_timeout;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ReadError::Timeout { started });
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

fn to_head(req: &httparse::Request<'_, '_>) -> Result<Head, ReadError> {
    let method = req.method.unwrap_or("").to_string();
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let minor = req.version.unwrap_or(1);
    let headers = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    if !path.starts_with('/') {
        return Err(ReadError::Malformed("request target must be a path".into()));
    }
    Ok(Head {
        method,
        path: path.to_string(),
        query: query.to_string(),
        minor,
        headers,
    })
}

/// One request whose body streams to its handler (an upload; [`routes::streams_body`])
/// instead of being read into memory: the handler reads it through [`BodyStream`],
/// under the idle deadline, after it has refused what it can from the head alone.
/// Returns whether the connection may carry another request (only when the body was
/// read to its end; `buf` then holds what followed it).
fn serve_streamed(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    head_len: usize,
    head: &Head,
    peer: SocketAddr,
    who: Option<crate::auth::Role>,
    door: &Door,
) -> bool {
    let len = match content_length(head) {
        Ok(Some(len)) => len,
        Ok(None) => {
            answer_read_error(
                stream,
                peer,
                ReadError::Malformed("an upload needs a Content-Length".into()),
            );
            return false;
        }
        Err(err) => {
            answer_read_error(stream, peer, err);
            return false;
        }
    };
    let mut pre = buf.split_off(head_len);
    buf.clear();
    if pre.len() as u64 > len {
        *buf = pre.split_off(len as usize);
    }
    let mut body = BodyStream {
        stream,
        pre,
        pos: 0,
        left: len,
        idle: door.settings.request_timeout,
        expect_continue: head
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue")),
        timed: false,
    };
    let response = routes::handle_streamed(head, peer, len, &mut body, &door.app, who);
    let whole = body.left == 0;
    let keep_alive = whole && head.keep_alive() && !door.closing.load(Ordering::Relaxed);
    let status = response.status_code().0;
    log::info!("http {peer}: {} {} -> {status}", head.method, head.path);
    if let Err(e) = write_response(stream, response, head.minor, false, keep_alive) {
        log::debug!("http {peer}: write failed: {e}");
        return false;
    }
    keep_alive
}

/// A request body read as its handler asks, never held whole: the bytes that came
/// with the head first, then the socket, to exactly the Content-Length. Each read
/// must make progress within the request timeout (an idle deadline: a 100 MB upload
/// over a slow link may take minutes, a stalled one is cut). `Expect: 100-continue`
/// is answered at the first read, so a refused upload is never sent.
struct BodyStream<'a> {
    stream: &'a mut Stream,
    pre: Vec<u8>,
    pos: usize,
    left: u64,
    idle: Duration,
    expect_continue: bool,
    timed: bool,
}

impl Read for BodyStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || out.is_empty() {
            return Ok(0);
        }
        let want = out
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if self.pos < self.pre.len() {
            let n = want.min(self.pre.len() - self.pos);
            out[..n].copy_from_slice(&self.pre[self.pos..self.pos + n]);
            self.pos += n;
            self.left -= n as u64;
            return Ok(n);
        }
        if self.expect_continue {
            self.expect_continue = false;
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            self.stream.flush()?;
        }
        if !self.timed {
            self.stream.tcp().set_read_timeout(Some(self.idle))?;
            self.timed = true;
        }
        match self.stream.read(&mut out[..want]) {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed mid-body",
            )),
            Ok(n) => {
                self.left -= n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no body bytes within the request timeout",
            )),
            Err(e) => Err(e),
        }
    }
}

/// The Content-Length of a request, refusing ambiguous framings; `None` when absent.
fn content_length(head: &Head) -> Result<Option<u64>, ReadError> {
    // Two framings, or two lengths, are how requests are smuggled past a proxy
    // that reads the other one: refused outright rather than picking one.
    let lengths = head
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .count();
    let chunked = head.header("transfer-encoding").is_some();
    if chunked && lengths > 0 {
        return Err(ReadError::Malformed(
            "Transfer-Encoding and Content-Length together".into(),
        ));
    }
    if lengths > 1 {
        return Err(ReadError::Malformed("more than one Content-Length".into()));
    }
    if chunked {
        return Err(ReadError::Unsupported(
            "chunked request bodies are not accepted; send Content-Length",
        ));
    }
    match head.header("content-length") {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ReadError::Malformed("bad Content-Length".into())),
    }
}

/// Reads the body announced by Content-Length (leftover bytes in `buf` first), and
/// leaves in `buf` only what follows it (a pipelined request).
fn read_body(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    head_len: usize,
    head: &Head,
    settings: &HttpSettings,
) -> Result<Vec<u8>, ReadError> {
    let len = content_length(head)?.unwrap_or(0);
    // Compared as u64 before any allocation: a 30 GB Content-Length is refused, not
    // allocated (tiny_http's own reader would abort the process here).
    if len > settings.max_body as u64 {
        return Err(ReadError::BodyTooLarge);
    }
    let len = len as usize;
    let mut rest = buf.split_off(head_len);
    buf.clear();
    if rest.len() > len {
        *buf = rest.split_off(len);
    }
    let deadline = Instant::now() + settings.request_timeout;
    let mut chunk = [0u8; 4096];
    while rest.len() < len {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Timeout { started: true });
        }
        stream
            .tcp()
            .set_read_timeout(Some(left))
            .map_err(ReadError::Io)?;
        let want = (len - rest.len()).min(chunk.len());
        match stream.read(&mut chunk[..want]) {
            Ok(0) => return Err(ReadError::Malformed("connection closed mid-body".into())),
            Ok(n) => rest.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ReadError::Timeout { started: true });
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(rest)
}

/// Builds a header. Names and values are this program's own ASCII constants and
/// numbers, never request data, so the only failure (non-ASCII) cannot happen.
pub fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("header names and values are ASCII")
}

/// Headers every response carries.
pub(crate) const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("X-Content-Type-Options", "nosniff"),
    // Not `no-referrer`: under it browsers send `Origin: null` with a form POST,
    // which the origin check must refuse, and the login form could never log in.
    // `same-origin` still sends nothing to other sites.
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'",
    ),
];

/// Writes a response with tiny_http, adding the common headers.
pub(crate) fn write_response(
    stream: &mut Stream,
    mut response: routes::Reply,
    minor: u8,
    is_head: bool,
    keep_alive: bool,
) -> io::Result<()> {
    for (name, value) in SECURITY_HEADERS {
        response.add_header(header(name, value));
    }
    response.add_header(header("Server", "homeclaude"));
    if !keep_alive {
        response.add_header(header("Connection", "close"));
    }
    let version = HTTPVersion(1, minor.min(1));
    let mut out = io::BufWriter::with_capacity(8 << 10, &mut *stream);
    response.raw_print(&mut out, version, &[], is_head, None)?;
    out.flush()
}
