//! `GET /api/boxes/<name>/ws`: another box's runs, live, on the dashboard's page
//! (a read-only relay; docs/SECURITY.md, "Several boxes").
//!
//! Owner only. On the browser connection's own thread, after the upgrade, the
//! dashboard opens that box's `/ws` as a *viewer* (its viewer token from the
//! boxes file; connect and handshake within 5 s, `wss://` for an https box where
//! the build has outbound TLS) and relays what that box sends, frame by frame,
//! into this browser's own [`Outbox`], so every byte counts against its backlog
//! as any client's does. It reads from the box only while that backlog is under
//! half its limit: a long replay from the box is paced by the browser, never
//! piled up here. Frames from the browser are read and dropped (tungstenite
//! answers its pings), never forwarded: the far box would refuse them anyway
//! (`read_only`), and the dashboard holds nothing that could act as that box's
//! owner. Nothing goes through the hub.
//!
//! When the box closes, fails, sends garbage tungstenite refuses, or a message
//! over its bound, or goes silent, the browser gets close code [`CLOSE_BOX`] with
//! the reason; when the browser leaves, the connection to the box is closed.

use crate::admission::Ticket;
use crate::api::{self, Caller};
use crate::auth::{Role, Who};
use crate::boxes::{BoxSpec, LiveError};
use crate::http::{Door, Head};
use crate::outbox::{Flushed, Outbox, Pushed, text_frame};
use crate::routes::{App, Reply};
use crate::transport::Stream;
use crate::ws::{self, Io, WsSettings};
use crate::ws_client::{self, ConnectError, Timed};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{WebSocketConfig, WebSocketContext};
use tungstenite::{Message, WebSocket};

/// The close code the page gets when the box's side ends (its reason says why).
pub const CLOSE_BOX: u16 = 4502;

/// Connect and handshake with the box, like every call to a box (`boxes.rs`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A box's frames may be bigger than what a browser may send (`--max-frame`):
/// an echo carries a prompt twice (its text and its HTML). Bounded all the same.
const BOX_FRAME_FACTOR: usize = 4;

/// The box a path names: `/api/boxes/<name>/ws`.
fn box_name(path: &str) -> Option<&str> {
    path.strip_prefix("/api/boxes/")?
        .strip_suffix("/ws")
        .filter(|n| !n.is_empty() && !n.contains('/'))
}

/// Whether a request is a live view's upgrade (taken over from the request loop).
pub fn wants(head: &Head) -> bool {
    box_name(&head.path).is_some() && ws::is_upgrade(head)
}

/// Who may open it, and which box: the refusals come before the upgrade, as JSON.
fn admit<'a>(
    head: &Head,
    who: Option<Role>,
    app: &'a App,
) -> Result<(&'a BoxSpec, &'a str), Reply> {
    crate::routes::check_host(head, app)?;
    crate::routes::check_origin(head, app)?;
    match api::caller(head, app, who) {
        None => {
            return Err(api::error(401, "unauthorized", "log in as the owner first"));
        }
        Some(Caller::Owner) => {}
        Some(Caller::Token(_)) => {
            return Err(api::error(
                403,
                "forbidden",
                "an API token cannot open a live view; log in as the owner",
            ));
        }
        Some(Caller::Viewer) => {
            return Err(api::error(
                403,
                "forbidden",
                "only the owner may view the other boxes",
            ));
        }
    }
    let name = box_name(&head.path).unwrap_or_default();
    let found = match app.api.boxes.as_ref() {
        Some(boxes) => boxes.live(name),
        None => Err(LiveError::Unknown),
    };
    found.map_err(|e| match e {
        LiveError::Unknown => api::error(404, "unknown_box", &format!("no box named {name:?}")),
        LiveError::NoViewerToken => api::error(
            409,
            "no_viewer_token",
            &format!(
                "box {name:?} has no viewer_token in the boxes file, so it cannot be viewed \
                 live here; open its own page"
            ),
        ),
        LiveError::ViewerTokenRefused => api::error(
            409,
            "viewer_token_refused",
            &format!(
                "box {name:?} refused its viewer token (rotated there?): put the new one in \
                 the boxes file and restart; meanwhile open its own page"
            ),
        ),
    })
}

/// The box's `/ws` address, resuming after `last_seq` when the page has seen some.
fn far_url(spec: &BoxSpec, last_seq: Option<u64>) -> String {
    let base = spec.url.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        format!("ws://{}", base.trim_start_matches("http://"))
    };
    match last_seq {
        Some(n) => format!("{base}/ws?last_seq={n}"),
        None => format!("{base}/ws"),
    }
}

/// Opens the box's `/ws` as its viewer; non-blocking afterwards.
fn open_far(url: &str, token: &str, max: usize) -> Result<WebSocket<Timed>, ConnectError> {
    use tungstenite::client::IntoClientRequest;
    let mut request = url
        .into_client_request()
        .map_err(|e| ConnectError::from(format!("bad address: {e}")))?;
    let auth = tungstenite::http::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| ConnectError::from("the viewer token is not a valid header value"))?;
    request.headers_mut().insert("Authorization", auth);
    // A small read buffer, as for the page's own socket: it grows for a big
    // message only, up to `max`.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let ws = ws_client::connect(request, Some(config), CONNECT_TIMEOUT)?;
    ws.get_ref()
        .tcp()
        .set_nonblocking(true)
        .map_err(|e| ConnectError::from(e.to_string()))?;
    Ok(ws)
}

/// A close reason fits in 123 bytes.
fn reason(name: &str, why: &str) -> String {
    let mut text = format!("box {name}: {why}");
    let mut cut = text.len().min(123);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text
}

/// Serves one live view until either side ends.
pub fn serve(
    mut stream: Stream,
    peer: SocketAddr,
    head: Head,
    leftover: Vec<u8>,
    who: Option<Who>,
    door: &Door,
    ticket: &Ticket,
) {
    let app = &door.app;
    let refuse = |stream: &mut Stream, reply: Reply| {
        log::info!(
            "box-relay {peer}: {} refused: {}",
            head.path,
            reply.status_code().0
        );
        let _ = crate::http::write_response(stream, reply, head.minor, false, false);
    };
    let (spec, token) = match admit(&head, who.as_ref().map(|w| w.role), app) {
        Ok(found) => found,
        Err(reply) => return refuse(&mut stream, reply),
    };
    let accept = match ws::accept_key(&head) {
        Ok(accept) => accept,
        Err(why) => return refuse(&mut stream, api::error(400, "bad_request", why)),
    };
    if let Err(why) = ticket.open_websocket(Role::Owner) {
        return refuse(
            &mut stream,
            api::error(503, "busy", &why.to_string())
                .with_header(crate::http::header("Retry-After", "10")),
        );
    }
    let switched = stream
        .write_all(ws::switching_protocols(&accept).as_bytes())
        .and_then(|()| stream.flush());
    if switched.is_err() {
        return;
    }
    let _ = stream.tcp().set_read_timeout(None);
    let _ = stream.tcp().set_write_timeout(None);
    let settings = &door.ws;
    let (outbox, mut ctx) = match ws::server_side(&stream, leftover, settings) {
        Ok(both) => both,
        Err(e) => {
            log::warn!("box-relay {peer}: cannot set up the connection: {e}");
            return;
        }
    };
    let name = spec.name.as_str();
    let last_seq = head.query_param("last_seq").and_then(|v| v.parse().ok());
    let max = settings.max_message.saturating_mul(BOX_FRAME_FACTOR);
    let far = match open_far(&far_url(spec, last_seq), token, max) {
        Ok(far) => {
            log::info!("box-relay {peer}: viewing box {name}");
            Some(far)
        }
        Err(e) => {
            let why = if e.status == Some(401) {
                if let Some(boxes) = &app.api.boxes {
                    boxes.viewer_refused(name);
                }
                "refused its viewer token (fix the boxes file)".to_string()
            } else {
                e.message
            };
            log::warn!("box-relay {peer}: cannot reach box {name}: {why}");
            outbox.close(CloseCode::from(CLOSE_BOX), &reason(name, &why));
            None
        }
    };
    let mut relay = Relay {
        stream: &mut stream,
        outbox: &outbox,
        ctx: &mut ctx,
        far,
        settings,
        name,
        dropped: 0,
    };
    let end = relay.run();
    let dropped = relay.dropped;
    relay.close_far();
    stream.close_notify();
    ws::linger(stream.tcp());
    log::info!(
        "box-relay {peer}: closed ({name}, {dropped} frame(s) from the page dropped): {end}"
    );
}

/// What one read of the browser's side came to.
enum Browser {
    /// Nothing more to read now.
    Quiet,
    /// A message over the limit: the stream is out of step.
    TooBig,
    /// The connection ended, and why.
    Ended(String),
}

/// One live view's state, owned by its connection thread.
struct Relay<'a> {
    stream: &'a mut Stream,
    outbox: &'a Outbox,
    ctx: &'a mut WebSocketContext,
    /// The box's `/ws`, until it or the browser ends.
    far: Option<WebSocket<Timed>>,
    settings: &'a WsSettings,
    name: &'a str,
    /// Frames from the page, dropped (for the log).
    dropped: u64,
}

impl Relay<'_> {
    fn run(&mut self) -> String {
        let mut last_heard = Instant::now();
        let mut far_heard = last_heard;
        let mut next_ping = last_heard + self.settings.ping_interval;
        let mut close_deadline: Option<Instant> = None;
        // Bytes may already be buffered from the handshake read.
        let mut readable = true;
        let mut reading = true;
        // The box's side has nothing more right now (its read would block).
        let mut far_quiet = false;
        let mut far_write = false;
        loop {
            if readable && reading {
                match self.read_browser(&mut last_heard) {
                    Browser::Quiet => {}
                    Browser::TooBig => {
                        self.outbox.close(CloseCode::Size, "message too big");
                        reading = false;
                    }
                    Browser::Ended(why) => return why,
                }
            }
            if self.far.is_some() && !self.outbox.is_closing() {
                match self.pump_far(&mut far_heard) {
                    Ok((quiet, write)) => (far_quiet, far_write) = (quiet, write),
                    Err(why) => self.box_ended(&why),
                }
            }
            let want_write = match self.outbox.flush(self.stream) {
                Flushed::Finished => return "closed by server".into(),
                Flushed::Pending => true,
                Flushed::Idle => false,
            };
            if self.outbox.is_closing() && close_deadline.is_none() {
                close_deadline = Some(Instant::now() + Duration::from_secs(2));
                self.close_far();
            }
            let now = Instant::now();
            if let Some(deadline) = close_deadline {
                if now >= deadline {
                    return "closed by server".into();
                }
            } else if now >= next_ping {
                if now.duration_since(last_heard) >= self.settings.peer_timeout {
                    return "peer silent too long".into();
                }
                if now.duration_since(far_heard) >= self.settings.peer_timeout {
                    self.box_ended("silent too long");
                    continue;
                }
                let _ = self.ctx.write(
                    &mut Io {
                        stream: &mut *self.stream,
                        out: self.outbox,
                    },
                    Message::Ping(Vec::new().into()),
                );
                if let Some(far) = self.far.as_mut() {
                    // Sent by the next pump's flush.
                    let _ = far.write(Message::Ping(Vec::new().into()));
                }
                next_ping = now + self.settings.ping_interval;
                continue;
            }
            let room = self.room();
            let far_more = self.far.is_some() && room && !far_quiet;
            let wait = if far_more {
                Duration::ZERO
            } else {
                close_deadline
                    .unwrap_or(next_ping)
                    .saturating_duration_since(now)
            };
            let mut sock_events = PollFlags::empty();
            if reading {
                sock_events |= PollFlags::IN;
            }
            if want_write {
                sock_events |= PollFlags::OUT;
            }
            let mut far_events = PollFlags::empty();
            if self.far.is_some() && close_deadline.is_none() {
                if room {
                    far_events |= PollFlags::IN;
                }
                if far_write {
                    far_events |= PollFlags::OUT;
                }
            }
            let (sock, far) = match self.wait(sock_events, far_events, wait) {
                Ok(ready) => ready,
                Err(e) => return format!("peer gone (poll: {e})"),
            };
            if sock.intersects(PollFlags::ERR | PollFlags::NVAL) {
                return "peer gone (socket error)".into();
            }
            readable = sock.intersects(PollFlags::IN | PollFlags::HUP);
            if !far.is_empty() {
                // Readable, writable, hung up or failed: the next pump finds out.
                far_quiet = false;
            }
        }
    }

    /// Whether the browser's backlog leaves room to read more from the box.
    fn room(&self) -> bool {
        self.outbox.backlog() < self.outbox.limit() / 2
    }

    /// The box's side ended: the page is told why, with [`CLOSE_BOX`].
    fn box_ended(&mut self, why: &str) {
        log::info!("box-relay: box {} ended: {why}", self.name);
        self.outbox
            .close(CloseCode::from(CLOSE_BOX), &reason(self.name, why));
        self.close_far();
    }

    /// Closes the connection to the box, if still open (best effort: a close
    /// frame, then the socket).
    /// Ends the box's side cleanly: a close frame, then its reply is read (and
    /// dropped) until the box closes too, within the lingering close's bound.
    /// Closing with its bytes unread would reset the connection, and the box
    /// would see a socket error instead of a close.
    fn close_far(&mut self) {
        if let Some(mut far) = self.far.take() {
            let tcp = far.get_ref().tcp();
            let _ = tcp.set_nonblocking(false);
            let _ = tcp.set_write_timeout(Some(Duration::from_secs(2)));
            let _ = far.close(None);
            let _ = far.flush();
            ws::linger(far.get_ref().tcp());
        }
    }

    /// Reads every whole message the browser sent, and drops it.
    fn read_browser(&mut self, last_heard: &mut Instant) -> Browser {
        loop {
            let msg = self.ctx.read(&mut Io {
                stream: &mut *self.stream,
                out: self.outbox,
            });
            match msg {
                Ok(Message::Close(_)) => {
                    // tungstenite queued the close reply; let it be flushed.
                    let _ = self.outbox.flush(self.stream);
                    return Browser::Ended("peer closed".into());
                }
                // Pings are answered by tungstenite (through `Io`); the rest is
                // never forwarded: the live view is read-only.
                Ok(Message::Text(_) | Message::Binary(_)) => {
                    *last_heard = Instant::now();
                    self.dropped += 1;
                }
                Ok(_) => *last_heard = Instant::now(),
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Browser::Quiet;
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Browser::Ended("peer closed".into());
                }
                Err(tungstenite::Error::Capacity(_)) => return Browser::TooBig,
                Err(e) => return Browser::Ended(format!("peer gone ({e})")),
            }
        }
    }

    /// Relays what the box sent while the browser's backlog has room; sends what
    /// tungstenite owes the box (pongs, pings). Returns whether the box's side is
    /// quiet (a read would block) and whether writes to it wait; `Err` says why
    /// it ended.
    fn pump_far(&mut self, heard: &mut Instant) -> Result<(bool, bool), String> {
        let Some(far) = self.far.as_mut() else {
            return Ok((true, false));
        };
        let mut quiet = false;
        while self.outbox.backlog() < self.outbox.limit() / 2 {
            match far.read() {
                Ok(msg) => {
                    *heard = Instant::now();
                    match msg {
                        Message::Text(text) => {
                            // Closing (1013 when it overflowed): stop relaying.
                            let pushed = self.outbox.push(&text_frame(text.as_str().to_owned()));
                            if pushed != Pushed::Sent {
                                break;
                            }
                        }
                        Message::Close(frame) => {
                            return Err(match frame {
                                Some(f) if !f.reason.is_empty() => {
                                    format!("closed ({} {})", u16::from(f.code), f.reason)
                                }
                                Some(f) => format!("closed ({})", u16::from(f.code)),
                                None => "closed".into(),
                            });
                        }
                        // Pings are answered by tungstenite; homeclaude sends no
                        // binary frames, and a live view has no use for them.
                        _ => {}
                    }
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    quiet = true;
                    break;
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Err("closed".into());
                }
                Err(tungstenite::Error::Capacity(e)) => {
                    return Err(format!("sent a message too big ({e})"));
                }
                Err(tungstenite::Error::Io(e)) => return Err(format!("connection lost ({e})")),
                Err(e) => return Err(format!("broke the protocol ({e})")),
            }
        }
        let write = match far.flush() {
            Ok(()) => false,
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => true,
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Err("closed".into());
            }
            Err(e) => return Err(format!("connection lost ({e})")),
        };
        Ok((quiet, write))
    }

    /// Sleeps in `poll(2)` until the browser's socket, the box's socket or the
    /// outbox's wake-up is ready, or `wait` passes; the readiness of both sockets.
    fn wait(
        &self,
        sock_events: PollFlags,
        far_events: PollFlags,
        wait: Duration,
    ) -> Result<(PollFlags, PollFlags), rustix::io::Errno> {
        let waker = PollFd::from_borrowed_fd(self.outbox.waker(), PollFlags::IN);
        let browser = PollFd::new(self.stream.tcp(), sock_events);
        let timeout = Timespec {
            tv_sec: wait.as_secs() as i64,
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        let (sock, far, woken) = match self.far.as_ref() {
            Some(far) => {
                let mut fds = [browser, PollFd::new(far.get_ref().tcp(), far_events), waker];
                match poll(&mut fds, Some(&timeout)) {
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => {
                        return Ok((PollFlags::empty(), PollFlags::empty()));
                    }
                    Err(e) => return Err(e),
                }
                (fds[0].revents(), fds[1].revents(), fds[2].revents())
            }
            None => {
                let mut fds = [browser, waker];
                match poll(&mut fds, Some(&timeout)) {
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => {
                        return Ok((PollFlags::empty(), PollFlags::empty()));
                    }
                    Err(e) => return Err(e),
                }
                (fds[0].revents(), PollFlags::empty(), fds[1].revents())
            }
        };
        if woken.contains(PollFlags::IN) {
            self.outbox.clear_wake();
        }
        Ok((sock, far))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_names_one_box() {
        assert_eq!(box_name("/api/boxes/nas/ws"), Some("nas"));
        assert_eq!(box_name("/api/boxes//ws"), None);
        assert_eq!(box_name("/api/boxes/a/b/ws"), None);
        assert_eq!(box_name("/api/boxes"), None);
        assert_eq!(box_name("/ws"), None);
    }

    #[test]
    fn the_far_address_is_the_boxes_ws() {
        let spec = |url: &str| BoxSpec {
            name: "nas".into(),
            url: url.into(),
            token: "t".into(),
            viewer_token: Some("v".into()),
        };
        assert_eq!(
            far_url(&spec("http://nas.lan:8765/"), None),
            "ws://nas.lan:8765/ws"
        );
        assert_eq!(
            far_url(&spec("https://nas.example/box"), Some(7)),
            "wss://nas.example/box/ws?last_seq=7"
        );
    }

    #[test]
    fn a_close_reason_fits_a_close_frame() {
        let long = reason("nas", &"é".repeat(200));
        assert!(long.len() <= 123 && long.starts_with("box nas: "));
    }
}
