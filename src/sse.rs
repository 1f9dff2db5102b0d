//! `GET /api/prompts/N/events`: one prompt's run as server-sent events, on the
//! connection's own thread.
//!
//! Fed like a WebSocket client: the hub pushes each event of that run (encoded once,
//! [`crate::jobs`]) into this stream's [`Outbox`] without blocking, and this thread
//! writes it out as the socket takes it. The outbox never writes from the hub
//! (`direct` is `None`, as over TLS), so nothing can reach the socket before the
//! response head. Every byte queued counts against `--client-backlog`; a reader
//! that falls further behind is cut (it may come back with `Last-Event-ID`). What
//! was missed is replayed from memory, paced by the backlog ([`crate::replay`]).
//! A comment line every 15 s keeps proxies from timing the stream out, and finds a
//! peer that went away. After the run's end comes one `event: end` with the job,
//! and the connection closes. The stream takes a WebSocket slot from admission.

use crate::admission::Ticket;
use crate::api::{self, Caller};
use crate::auth::Role;
use crate::http::{Door, Head};
use crate::hub::ApiInput;
use crate::outbox::{Bytes, Flushed, Outbox};
use crate::replay::Replay;
use crate::transport::Stream;
use rustix::event::PollFlags;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A keep-alive comment this often.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// Bytes a peer may send on an event stream (it should send none) before it is cut.
const MAX_INPUT: usize = 64 << 10;

/// Whether a request is for an event stream (taken over from the request loop).
pub fn wants(head: &Head) -> bool {
    head.method == "GET"
        && api::route_of(&head.path)
            .is_some_and(|(route, _, _)| route == "/api/prompts/{id}/events")
}

/// Serves one event stream until the run ends or the peer goes.
pub fn serve(
    mut stream: Stream,
    peer: SocketAddr,
    head: &Head,
    who: Option<Role>,
    door: &Door,
    ticket: &Ticket,
) {
    let app = &door.app;
    let refuse = |stream: &mut Stream, reply| {
        let _ = crate::http::write_response(stream, reply, head.minor, false, false);
    };
    if let Err(reply) = crate::routes::check_host(head, app) {
        return refuse(&mut stream, reply);
    }
    let Some(caller) = api::caller(head, app, who) else {
        return refuse(
            &mut stream,
            api::error(401, "unauthorized", "send Authorization: Bearer <token>"),
        );
    };
    let job = api::route_of(&head.path).map_or(0, |(_, _, id)| id);
    let after = head
        .header("last-event-id")
        .or_else(|| head.query_param("last_event_id"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let class = if caller == Caller::Owner {
        Role::Owner
    } else {
        Role::Viewer
    };
    if let Err(why) = ticket.open_websocket(class) {
        log::warn!("sse {peer}: refused: {why} (--max-clients)");
        return refuse(
            &mut stream,
            api::error(503, "busy", &why.to_string())
                .with_header(crate::http::header("Retry-After", "10")),
        );
    }
    let outbox = match Outbox::new_stream(None, app.api.stream_backlog) {
        Ok(o) => Arc::new(o),
        Err(e) => {
            log::warn!("sse {peer}: cannot set up the stream: {e}");
            return;
        }
    };
    let sub = app.hub.new_stream_id();
    let known = app.hub.ask(
        |reply| ApiInput::Subscribe {
            sub,
            job,
            after,
            outbox: outbox.clone(),
            reply,
        },
        Duration::from_secs(5),
    );
    match known {
        Some(true) => {}
        Some(false) => {
            return refuse(
                &mut stream,
                api::error(404, "not_found", &format!("no prompt {job}")),
            );
        }
        None => {
            // The hub may still register it later: take it back.
            app.hub.tell_api(ApiInput::Unsubscribe { sub });
            return refuse(
                &mut stream,
                api::error(503, "unavailable", "the server is not responding"),
            );
        }
    }
    let mut head_bytes = String::from(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
         X-Accel-Buffering: no\r\nConnection: close\r\nServer: homeclaude\r\n",
    );
    for (name, value) in crate::http::SECURITY_HEADERS {
        head_bytes.push_str(&format!("{name}: {value}\r\n"));
    }
    head_bytes.push_str("\r\n");
    let opened = stream
        .write_all(head_bytes.as_bytes())
        .and_then(|()| stream.flush());
    if opened.is_ok() {
        let _ = stream.tcp().set_read_timeout(None);
        let _ = stream.tcp().set_write_timeout(None);
        log::info!("sse {peer}: following prompt {job} from {after} ({caller:?})");
        let end = run(&mut stream, &outbox, sub, app);
        log::info!("sse {peer}: prompt {job} stream closed: {end}");
    }
    app.hub.tell_api(ApiInput::Unsubscribe { sub });
    stream.close_notify();
    let _ = stream.tcp().shutdown(Shutdown::Both);
}

/// The stream's loop: flush, replay, heartbeat, and notice the peer leaving.
fn run(stream: &mut Stream, outbox: &Outbox, sub: u64, app: &crate::routes::App) -> &'static str {
    let mut replay = Replay::default();
    let mut next_beat = Instant::now() + HEARTBEAT;
    let mut close_deadline: Option<Instant> = None;
    let mut input = 0usize;
    loop {
        let mut flushed = outbox.flush(stream);
        let step = replay.step(outbox);
        let busy = step.more;
        if let Some(last) = step.done {
            app.hub.tell_api(ApiInput::ReplayDone { sub, last });
        }
        if step.pumped {
            flushed = outbox.flush(stream);
        }
        let want_write = match flushed {
            Flushed::Finished => return "run ended",
            Flushed::Pending => true,
            Flushed::Idle => false,
        };
        let now = Instant::now();
        if outbox.is_closing() && close_deadline.is_none() {
            // The end (or a cut): the peer gets a moment to take the last bytes.
            close_deadline = Some(now + Duration::from_secs(5));
        }
        if close_deadline.is_some_and(|d| now >= d) {
            return "peer did not take the end";
        }
        if now >= next_beat && close_deadline.is_none() {
            outbox.push(&Bytes::from(&b": keep-alive\n\n"[..]));
            next_beat = now + HEARTBEAT;
            continue;
        }
        let wait = if busy {
            Duration::ZERO
        } else {
            close_deadline
                .unwrap_or(next_beat)
                .saturating_duration_since(now)
        };
        let mut events = PollFlags::IN;
        if want_write {
            events |= PollFlags::OUT;
        }
        let Ok(sock) = outbox.wait(Some(stream.tcp()), events, wait) else {
            return "poll failed";
        };
        if sock.intersects(PollFlags::ERR | PollFlags::NVAL) {
            return "socket error";
        }
        if sock.intersects(PollFlags::IN | PollFlags::HUP) {
            let mut buf = [0u8; 1024];
            match stream.read_now(&mut buf) {
                Ok(0) => return "peer closed",
                Ok(n) => {
                    input += n;
                    if input > MAX_INPUT {
                        return "peer sent too much";
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return "peer gone",
            }
        }
    }
}
