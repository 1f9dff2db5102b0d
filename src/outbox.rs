//! One WebSocket client's outgoing bytes: written without blocking, backlog bounded.
//!
//! The hub writes each encoded frame straight into every client's socket with
//! `send(MSG_DONTWAIT)`, so one slow phone can never slow the others. What the kernel
//! does not take at once waits here, frame by frame (frames are shared `Arc`s: a
//! backlog of the same broadcast costs one copy, not one per client). When a backlog
//! exists the client's own thread is woken through an eventfd and drains it as the
//! socket becomes writable. A client whose backlog passes its limit is marked for
//! closing (1013): its queued frames are dropped, the frame already half-sent is
//! finished so the stream stays well-formed, and a close frame follows.
//!
//! The socket stays in blocking mode: `O_NONBLOCK` would be shared with the reader
//! through the open file description; per-call `MSG_DONTWAIT` is not.
//!
//! Over TLS there is no direct path: frames must be encrypted by the connection's one
//! TLS session, which its own thread owns. The hub then only queues and wakes that
//! thread, which writes through its [`Wire`] in [`Outbox::flush`]. Same queue, same
//! limit, same close; one wake-up per idle-to-busy change instead of a `send`.

use rustix::event::{EventfdFlags, eventfd};
use rustix::io::Errno;
use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

use crate::replay::Job;

/// An encoded WebSocket frame, shared by every client it goes to.
pub type Bytes = Arc<[u8]>;

/// Frames handed to the wire in one vectored write at most.
const IOV: usize = 64;

/// Encodes a text message as one unmasked server frame.
pub fn text_frame(text: String) -> Bytes {
    encode(Frame::message(
        text.into_bytes(),
        OpCode::Data(Data::Text),
        true,
    ))
}

/// Encodes a close frame with a code and a short reason.
pub fn close_frame(code: CloseCode, reason: &str) -> Bytes {
    encode(Frame::close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    })))
}

fn encode(frame: Frame) -> Bytes {
    let mut out = Vec::with_capacity(frame.len());
    // Writing into a Vec cannot fail.
    let _ = frame.format(&mut out);
    out.into()
}

/// Where an outbox's bytes go: a socket written without blocking, or a TLS session
/// over one ([`crate::transport`]).
pub trait Wire {
    /// Takes some of `bytes` now, without blocking; `Err(AGAIN)` when it can take none.
    fn send_now(&mut self, bytes: &[u8]) -> Result<usize, Errno>;
    /// Takes some of several buffers, in order, in one call where the wire can.
    fn send_vectored_now(&mut self, bufs: &[IoSlice<'_>]) -> Result<usize, Errno> {
        match bufs.first() {
            Some(b) => self.send_now(b),
            None => Ok(0),
        }
    }
    /// Writes out bytes buffered below the outbox (TLS records); `Ok(true)` while
    /// some remain, waiting for the socket.
    fn drain_now(&mut self) -> Result<bool, Errno> {
        Ok(false)
    }
}

/// What became of a frame handed to [`Outbox::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Written to the socket, or queued behind earlier bytes.
    Sent,
    /// This push took the backlog over the limit: the client is being dropped.
    Overflowed,
    /// The client is already closing or gone; the frame was discarded.
    Closed,
}

#[derive(Default)]
struct State {
    /// Frames to write, each marked counted (against the limit) or not (only the
    /// close frame and a frame half-written when the client is being dropped).
    queue: VecDeque<(Bytes, bool)>,
    /// Bytes of `queue[0]` already written.
    offset: usize,
    /// Bytes still to write, over the whole queue.
    pending: usize,
    /// Bytes of counted frames queued (whole frames): what the limit applies to.
    /// Every frame counts: live events, replayed history, pongs and pings.
    live: usize,
    /// A replay handed over by the hub, waiting for the owner thread.
    replay: Option<Job>,
    /// A close frame is queued; nothing else may follow it.
    closing: bool,
    /// The socket failed or was shut down; everything is discarded.
    dead: bool,
}

/// The outgoing side of one client.
pub struct Outbox {
    /// The socket the hub writes to directly; `None` when only the owner thread
    /// can write (TLS).
    direct: Option<TcpStream>,
    wake: OwnedFd,
    limit: usize,
    state: Mutex<State>,
    /// Not WebSocket frames but a raw byte stream (an SSE response, `crate::sse`):
    /// closing then sends nothing, the connection's end is the close.
    raw: bool,
}

/// What the owner thread should do next, from [`Outbox::flush`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// All written; nothing to wait for.
    Idle,
    /// Bytes remain: wait for the socket to be writable.
    Pending,
    /// A close frame has been written (or the socket died): the connection is over.
    Finished,
}

impl Outbox {
    /// `direct` is a clone of the client's socket for writing from any thread, or
    /// `None` if only the owner thread may write; `limit` is the backlog in bytes
    /// beyond which the client is dropped.
    pub fn new(direct: Option<TcpStream>, limit: usize) -> std::io::Result<Outbox> {
        let wake = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Outbox {
            direct,
            wake,
            limit,
            state: Mutex::new(State::default()),
            raw: false,
        })
    }

    /// An outbox for a raw byte stream (server-sent events): the same queue, limit
    /// and wake-ups, but closing (on overflow too) adds no WebSocket close frame.
    pub fn new_stream(direct: Option<TcpStream>, limit: usize) -> std::io::Result<Outbox> {
        let mut outbox = Outbox::new(direct, limit)?;
        outbox.raw = true;
        Ok(outbox)
    }

    /// The last frame of a closing stream: a WebSocket close, or nothing (raw).
    fn close_bytes(&self, code: CloseCode, reason: &str) -> Bytes {
        if self.raw {
            Bytes::from(&[][..])
        } else {
            close_frame(code, reason)
        }
    }

    /// The eventfd the owner thread polls: readable when the backlog or state changed.
    pub fn waker(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// Sleeps in `poll(2)` until `sock` is ready for `events`, the hub wakes this
    /// outbox, or `wait` passes; returns the socket's readiness (an interrupted
    /// poll is none) and clears the wake-up. The one wait of a connection thread
    /// that owns a client (`ws.rs`, `sse.rs`).
    pub fn wait(
        &self,
        sock: Option<&TcpStream>,
        events: rustix::event::PollFlags,
        wait: std::time::Duration,
    ) -> Result<rustix::event::PollFlags, Errno> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let waker = PollFd::from_borrowed_fd(self.waker(), PollFlags::IN);
        let (mut both, mut alone);
        let fds: &mut [PollFd] = match sock {
            Some(sock) => {
                both = [PollFd::new(sock, events), waker];
                &mut both
            }
            // A reader with no socket of its own (a bridge): the wake-up only.
            None => {
                alone = [waker];
                &mut alone
            }
        };
        let timeout = Timespec {
            tv_sec: wait.as_secs() as i64,
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        match poll(fds, Some(&timeout)) {
            Ok(_) => {}
            Err(Errno::INTR) => return Ok(PollFlags::empty()),
            Err(e) => return Err(e),
        }
        if fds[fds.len() - 1].revents().contains(PollFlags::IN) {
            self.clear_wake();
        }
        Ok(if sock.is_some() {
            fds[0].revents()
        } else {
            PollFlags::empty()
        })
    }

    /// Clears the waker after the owner thread saw it readable.
    pub fn clear_wake(&self) {
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.wake, &mut buf);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding this lock; if something ever did, the state
        // is still consistent enough to close the connection, so do not propagate.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        let _ = rustix::io::write(&self.wake, &1u64.to_ne_bytes());
    }

    /// Queues a data frame, writing at once when nothing is waiting before it.
    /// One frame larger than the limit is taken when nothing else waits: the limit
    /// is on how far behind a client is, not on the size of an event.
    pub fn push(&self, frame: &Bytes) -> Pushed {
        let mut st = self.lock();
        if st.closing || st.dead {
            return Pushed::Closed;
        }
        if st.live > 0 && st.live + frame.len() > self.limit {
            self.begin_close(
                &mut st,
                self.close_bytes(CloseCode::Again, "client too slow"),
                true,
            );
            return Pushed::Overflowed;
        }
        self.enqueue(&mut st, frame.clone(), true);
        Pushed::Sent
    }

    /// Queues several data frames at once, in order: one write for all of them
    /// when nothing is waiting before them (the hub's batched fan-out).
    pub fn push_many(&self, frames: &[Bytes]) -> Pushed {
        let mut st = self.lock();
        if st.closing || st.dead {
            return Pushed::Closed;
        }
        let total: usize = frames.iter().map(|f| f.len()).sum();
        if st.live > 0 && st.live + total > self.limit {
            self.begin_close(
                &mut st,
                self.close_bytes(CloseCode::Again, "client too slow"),
                true,
            );
            return Pushed::Overflowed;
        }
        let was_idle = st.queue.is_empty();
        for frame in frames {
            st.pending += frame.len();
            st.live += frame.len();
            st.queue.push_back((frame.clone(), true));
        }
        self.written(&mut st, was_idle);
        Pushed::Sent
    }

    /// Queues a control frame (ping, pong, close reply). They count against the
    /// limit like any frame: a peer that floods pings and never reads would
    /// otherwise grow its queue of pongs without bound.
    pub fn push_control(&self, bytes: &[u8]) {
        let _ = self.push(&Bytes::from(bytes));
    }

    /// Bytes queued and counted against the limit (how far behind the client is).
    pub fn backlog(&self) -> usize {
        self.lock().live
    }

    /// The backlog beyond which the client is dropped.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Hands a replay to the owner thread and wakes it.
    pub fn start_replay(&self, job: Job) {
        let mut st = self.lock();
        if st.closing || st.dead {
            return;
        }
        st.replay = Some(job);
        self.wake();
    }

    /// The replay the hub handed over, if any (owner thread).
    pub fn take_replay(&self) -> Option<Job> {
        self.lock().replay.take()
    }

    /// Ends the stream with a close frame after everything already queued.
    pub fn close(&self, code: CloseCode, reason: &str) {
        let mut st = self.lock();
        if st.closing || st.dead {
            return;
        }
        self.begin_close(&mut st, self.close_bytes(code, reason), false);
    }

    /// Whether a close frame is queued or the socket is gone.
    pub fn is_closing(&self) -> bool {
        let st = self.lock();
        st.closing || st.dead
    }

    /// Queues `close` as the last frame. With `drop_backlog`, first drops every
    /// queued frame but the one half-written (so the peer still sees whole frames).
    fn begin_close(&self, st: &mut State, close: Bytes, drop_backlog: bool) {
        if drop_backlog {
            let keep = if st.offset > 0 { 1 } else { 0 };
            st.queue.truncate(keep);
            st.pending = st.queue.front().map_or(0, |(f, _)| f.len() - st.offset);
            // The half-written frame left no longer counts: the limit is moot now.
            if let Some(front) = st.queue.front_mut() {
                front.1 = false;
            }
            st.live = 0;
        }
        st.closing = true;
        st.pending += close.len();
        st.queue.push_back((close, false));
        self.wake();
    }

    fn enqueue(&self, st: &mut State, frame: Bytes, live: bool) {
        let was_idle = st.queue.is_empty();
        st.pending += frame.len();
        if live {
            st.live += frame.len();
        }
        st.queue.push_back((frame, live));
        self.written(st, was_idle);
    }

    /// After frames were queued: write them at once when the queue was idle (the
    /// direct path), else (or for what is left) wake the owner thread.
    fn written(&self, st: &mut State, was_idle: bool) {
        if was_idle {
            if let Some(mut sock) = self.direct.as_ref() {
                Self::write_some(st, &mut sock);
            }
            if !st.queue.is_empty() || st.dead {
                // The owner thread is blocked in poll without POLLOUT: tell it.
                self.wake();
            }
        }
    }

    /// Writes as much of the queue as the wire takes now, up to [`IOV`] frames
    /// per call.
    fn write_some(st: &mut State, wire: &mut dyn Wire) {
        while !st.queue.is_empty() {
            let sent = {
                let mut bufs: [IoSlice<'_>; IOV] = [IoSlice::new(&[]); IOV];
                let mut count = 0;
                for (i, (frame, _)) in st.queue.iter().take(IOV).enumerate() {
                    let skip = if i == 0 { st.offset } else { 0 };
                    bufs[i] = IoSlice::new(&frame[skip..]);
                    count += 1;
                }
                wire.send_vectored_now(&bufs[..count])
            };
            match sent {
                Ok(mut n) => {
                    st.pending -= n;
                    // Retire the frames written whole; keep the offset into the next.
                    while let Some((front, live)) = st.queue.front() {
                        let rest = front.len() - st.offset;
                        if n < rest {
                            st.offset += n;
                            break;
                        }
                        n -= rest;
                        if *live {
                            st.live -= front.len();
                        }
                        st.queue.pop_front();
                        st.offset = 0;
                    }
                }
                Err(Errno::AGAIN) => return,
                Err(Errno::INTR) => continue,
                Err(_) => {
                    Self::die(st);
                    return;
                }
            }
        }
    }

    /// The wire failed: everything queued is discarded and nothing more is taken.
    fn die(st: &mut State) {
        st.dead = true;
        st.queue.clear();
        st.pending = 0;
        st.live = 0;
        st.offset = 0;
    }

    /// Called by the owner thread, with its connection's wire, when the socket is
    /// writable or the waker fired.
    pub fn flush(&self, wire: &mut dyn Wire) -> Flushed {
        let mut st = self.lock();
        if st.dead {
            return Flushed::Finished;
        }
        Self::write_some(&mut st, wire);
        let below = wire.drain_now().unwrap_or_else(|_| {
            Self::die(&mut st);
            false
        });
        if st.dead {
            Flushed::Finished
        } else if !st.queue.is_empty() || below {
            Flushed::Pending
        } else if st.closing {
            Flushed::Finished
        } else {
            Flushed::Idle
        }
    }

    /// Bytes waiting to be written (for tests and status).
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.lock().pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        (a, b)
    }

    #[test]
    fn a_reader_gets_whole_frames_in_order() {
        let (server, mut client) = pair();
        let out = Outbox::new(Some(server.try_clone().unwrap()), 1 << 20).unwrap();
        assert_eq!(out.push(&text_frame("one".into())), Pushed::Sent);
        assert_eq!(out.push(&text_frame("two".into())), Pushed::Sent);
        let mut buf = [0u8; 10];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"\x81\x03one\x81\x03two");
        assert_eq!(out.flush(&mut &server), Flushed::Idle);
    }

    #[test]
    fn without_a_direct_socket_only_the_owner_writes_through_its_wire() {
        let (server, mut client) = pair();
        let out = Outbox::new(None, 1 << 20).unwrap();
        assert_eq!(out.push(&text_frame("one".into())), Pushed::Sent);
        // Nothing was written by the pushing thread; the owner was woken instead.
        assert_eq!(out.pending(), 5);
        let mut counter = [0u8; 8];
        assert_eq!(rustix::io::read(&out.wake, &mut counter), Ok(8));
        assert_eq!(out.flush(&mut &server), Flushed::Idle);
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"\x81\x03one");
    }

    #[test]
    fn a_batch_goes_out_whole_and_in_order_even_when_the_socket_takes_part_of_it() {
        let (server, mut client) = pair();
        let out = Outbox::new(Some(server.try_clone().unwrap()), 64 << 20).unwrap();
        // More frames than one vectored write takes, and more bytes than the
        // socket buffers: the rest waits in the queue, partly written frames too.
        let frames: Vec<Bytes> = (0..300)
            .map(|i| text_frame(format!("{i:05}{}", "y".repeat(20_000))))
            .collect();
        assert_eq!(out.push_many(&frames), Pushed::Sent);
        assert!(out.pending() > 0, "the kernel cannot take 6 MB at once");
        let expected: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        client.set_nonblocking(true).unwrap();
        while seen.len() < expected.len() {
            let _ = out.flush(&mut &server);
            match client.read(&mut buf) {
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert!(seen == expected, "every byte, in order");
        assert_eq!(out.pending(), 0);
        assert_eq!(out.backlog(), 0);
    }

    #[test]
    fn a_client_that_stops_reading_overflows_without_blocking_the_writer() {
        let (server, mut client) = pair();
        let out = Outbox::new(Some(server.try_clone().unwrap()), 64 << 10).unwrap();
        let big = text_frame("x".repeat(16 << 10));
        let mut outcome = Pushed::Sent;
        // The kernel buffers take a few MB at most; the limit is reached long before
        // this bound, and no push may block.
        for _ in 0..10_000 {
            outcome = out.push(&big);
            if outcome != Pushed::Sent {
                break;
            }
        }
        assert_eq!(outcome, Pushed::Overflowed);
        assert!(out.is_closing());
        assert_eq!(out.push(&big), Pushed::Closed);
        // What the client eventually reads ends with a 1013 close frame after whole
        // frames only.
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match out.flush(&mut &server) {
                Flushed::Finished => break,
                _ => {
                    let n = client.read(&mut buf).unwrap();
                    seen.extend_from_slice(&buf[..n]);
                }
            }
        }
        client.set_nonblocking(true).unwrap();
        while let Ok(n) = client.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        let close = close_frame(CloseCode::Again, "client too slow");
        assert!(
            seen.ends_with(&close),
            "stream must end with the close frame"
        );
        let body = &seen[..seen.len() - close.len()];
        assert_eq!(
            body.len() % big.len(),
            0,
            "only whole frames precede the close"
        );
        assert_eq!(out.pending(), 0);
    }
}
