//! The WebSocket side of one connection: handshake, then one thread that blocks in
//! `poll(2)` on the socket and its outbox's eventfd until the peer sends or the hub
//! has something the kernel did not take at once. No read timeouts, no sleeps: the
//! only timer is the next keep-alive ping.
//!
//! Frames from the browser are parsed here (`protocol::parse_request`) and handed to
//! the hub already typed; bad frames are answered here, to this browser alone.
//! Everything written to the socket goes through the client's [`Outbox`], including
//! tungstenite's own pongs and close replies, so frames never interleave. The stream
//! may be TLS ([`crate::transport`]); then this thread also encrypts every frame.

use crate::auth::Who;
use crate::http::Head;
use crate::hub::{ClientId, HubHandle};
use crate::outbox::{Flushed, Outbox, text_frame};
use crate::protocol;
use crate::replay::Replay;
use crate::transport::Stream;
use rustix::event::PollFlags;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Role as WsRole, WebSocketConfig, WebSocketContext};

/// Per-connection settings taken from the configuration.
#[derive(Debug, Clone)]
pub struct WsSettings {
    pub max_message: usize,
    pub backlog: usize,
    pub ping_interval: Duration,
    pub peer_timeout: Duration,
}

/// Whether a request head asks for a WebSocket upgrade.
pub fn is_upgrade(head: &Head) -> bool {
    head.header("upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Checks the handshake headers; on success returns the `Sec-WebSocket-Accept` value.
pub fn accept_key(head: &Head) -> Result<String, &'static str> {
    if head.method != "GET" {
        return Err("WebSocket upgrade needs GET");
    }
    let connection_upgrade = head.header("connection").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    });
    if !connection_upgrade {
        return Err("missing Connection: upgrade");
    }
    if head.header("sec-websocket-version") != Some("13") {
        return Err("unsupported Sec-WebSocket-Version (13 is required)");
    }
    let key = head
        .header("sec-websocket-key")
        .ok_or("missing Sec-WebSocket-Key")?;
    Ok(tungstenite::handshake::derive_accept_key(
        key.trim().as_bytes(),
    ))
}

/// The bytes of the `101 Switching Protocols` answer.
pub fn switching_protocols(accept: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
}

/// Reads without blocking and writes into the outbox: what tungstenite sees as its
/// stream (here and in [`crate::box_relay`]).
pub(crate) struct Io<'a> {
    pub(crate) stream: &'a mut Stream,
    pub(crate) out: &'a Outbox,
}

impl Read for Io<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read_now(buf)
    }
}

impl Write for Io<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.push_control(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why a connection ended, for the log line.
#[derive(Debug)]
enum End {
    PeerClosed,
    PeerGone(String),
    TimedOut,
    Closed,
    Protocol(String),
    TooBig,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::PeerClosed => write!(f, "peer closed"),
            End::PeerGone(why) => write!(f, "peer gone ({why})"),
            End::TimedOut => write!(f, "peer silent too long"),
            End::Closed => write!(f, "closed by server"),
            End::Protocol(why) => write!(f, "protocol error ({why})"),
            End::TooBig => write!(f, "message too big"),
        }
    }
}

/// Serves one upgraded connection until it ends. `leftover` holds bytes the client
/// sent after its request head (a frame may follow the handshake at once).
pub fn serve(
    mut stream: Stream,
    peer: SocketAddr,
    leftover: Vec<u8>,
    replay_after: Option<u64>,
    who: Who,
    hub: &HubHandle,
    settings: &WsSettings,
) {
    let (outbox, mut ctx) = match server_side(&stream, leftover, settings) {
        Ok(both) => both,
        Err(e) => {
            log::warn!("ws {peer}: cannot set up the connection: {e}");
            return;
        }
    };
    let role = who.role;
    let id = hub.join(outbox.clone(), peer, replay_after, who);
    log::info!("ws {peer}: open (client {id}, {role:?})");
    let end = run(&mut stream, &outbox, &mut ctx, id, hub, settings);
    hub.leave(id);
    stream.close_notify();
    linger(stream.tcp());
    log::info!("ws {peer}: closed (client {id}): {end}");
}

/// The server's side of an upgraded connection: the client's outbox, and the
/// WebSocket state over what the client sent after its request head (`leftover`),
/// within this server's bounds.
pub(crate) fn server_side(
    stream: &Stream,
    leftover: Vec<u8>,
    settings: &WsSettings,
) -> io::Result<(Arc<Outbox>, WebSocketContext)> {
    let outbox = Arc::new(Outbox::new(stream.direct()?, settings.backlog)?);
    // A small read buffer: it grows for a big message only, up to the bound.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(settings.max_message))
        .max_frame_size(Some(settings.max_message));
    let ctx = WebSocketContext::from_partially_read(leftover, WsRole::Server, Some(config));
    Ok((outbox, ctx))
}

/// Closes like a web server does ("lingering close"): stop sending, then read and
/// drop what the peer still sends, for a moment. Closing a socket with unread input
/// makes the kernel send RST, and a peer that gets RST loses what it had not read
/// yet: the close frame saying why (1013 to a ping flooder that was still sending).
pub(crate) fn linger(tcp: &std::net::TcpStream) {
    let _ = tcp.shutdown(Shutdown::Write);
    // Two seconds, like the close handshake's own grace; the byte budget only
    // bounds the work a flooder can make this thread do meanwhile.
    let until = Instant::now() + Duration::from_secs(2);
    // On the heap, and only now: a 16 KiB array in this frame would be probed
    // into every connection thread's stack when it starts (inlined into `serve`),
    // +16 KB of RSS per client for its whole life (measured: 29.8 -> 46.1 MB at
    // 1000 idle clients).
    let mut sink = vec![0u8; 16 << 10];
    let mut budget = 256usize << 20;
    while budget > 0 {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || tcp.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match (&*tcp).read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => budget = budget.saturating_sub(n),
        }
    }
    let _ = tcp.shutdown(Shutdown::Both);
}

fn run(
    stream: &mut Stream,
    outbox: &Outbox,
    ctx: &mut WebSocketContext,
    id: ClientId,
    hub: &HubHandle,
    settings: &WsSettings,
) -> End {
    let mut last_heard = Instant::now();
    let mut next_ping = last_heard + settings.ping_interval;
    // Once closing, the peer gets a little time to read our close frame.
    let mut close_deadline: Option<Instant> = None;
    // Bytes may already be buffered from the handshake read.
    let mut readable = true;
    // After an oversized message the stream is out of step: stop reading, say why.
    let mut reading = true;
    // A replay the hub handed over, sent as the socket takes it (crate::replay).
    let mut replay = Replay::default();
    loop {
        if readable && reading {
            match read_all(stream, outbox, ctx, id, hub, &mut last_heard) {
                None => {}
                Some(End::TooBig) => {
                    outbox.close(CloseCode::Size, "message too big");
                    reading = false;
                }
                Some(end) => return end,
            }
        }
        let mut flushed = outbox.flush(stream);
        // More replay to send with room in the backlog: come straight back.
        let step = replay.step(outbox);
        let busy = step.more;
        if let Some(last) = step.done {
            hub.replay_done(id, last);
        }
        if step.pumped {
            flushed = outbox.flush(stream);
        }
        let want_write = match flushed {
            Flushed::Finished => return End::Closed,
            Flushed::Pending => true,
            Flushed::Idle => false,
        };
        if outbox.is_closing() && close_deadline.is_none() {
            close_deadline = Some(Instant::now() + Duration::from_secs(2));
        }
        let now = Instant::now();
        if let Some(deadline) = close_deadline {
            if now >= deadline {
                return End::Closed;
            }
        } else if now >= next_ping {
            if now.duration_since(last_heard) >= settings.peer_timeout {
                return End::TimedOut;
            }
            let _ = ctx.write(
                &mut Io {
                    stream: &mut *stream,
                    out: outbox,
                },
                Message::Ping(Vec::new().into()),
            );
            next_ping = now + settings.ping_interval;
            continue;
        }
        let wait = if busy {
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
        let sock_ready = match outbox.wait(Some(stream.tcp()), sock_events, wait) {
            Ok(ready) => ready,
            Err(e) => return End::PeerGone(format!("poll: {e}")),
        };
        if sock_ready.intersects(PollFlags::ERR | PollFlags::NVAL) {
            return End::PeerGone("socket error".into());
        }
        readable = sock_ready.intersects(PollFlags::IN | PollFlags::HUP);
    }
}

/// Reads every whole message available now. Returns how the connection ended, if it did.
fn read_all(
    stream: &mut Stream,
    outbox: &Outbox,
    ctx: &mut WebSocketContext,
    id: ClientId,
    hub: &HubHandle,
    last_heard: &mut Instant,
) -> Option<End> {
    loop {
        let msg = ctx.read(&mut Io {
            stream: &mut *stream,
            out: outbox,
        });
        match msg {
            Ok(msg) => {
                *last_heard = Instant::now();
                match msg {
                    Message::Text(text) => match protocol::parse_request(text.as_str()) {
                        Ok(request) => hub.frame(id, request),
                        Err(refused) => {
                            outbox.push(&text_frame(protocol::encode_error(&refused)));
                        }
                    },
                    Message::Binary(_) => {
                        outbox.push(&text_frame(protocol::encode_error(&protocol::Refused {
                            id: None,
                            error: protocol::FrameError::Binary,
                        })));
                    }
                    // tungstenite queued the pong itself, through `Io::write`.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                    Message::Close(_) => {
                        // tungstenite queued the close reply; let it be flushed.
                        let _ = outbox.flush(stream);
                        return Some(End::PeerClosed);
                    }
                }
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                return None;
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Some(End::PeerClosed);
            }
            Err(tungstenite::Error::Capacity(_)) => return Some(End::TooBig),
            Err(tungstenite::Error::Io(e)) => return Some(End::PeerGone(e.to_string())),
            Err(tungstenite::Error::Protocol(e)) => {
                // A peer that closes the TCP stream without a close frame lands here.
                return Some(End::Protocol(e.to_string()));
            }
            Err(e) => return Some(End::Protocol(e.to_string())),
        }
    }
}
