//! Replay: sending one client the events it missed, paced by that client.
//!
//! A phone that reconnects asks for everything after the last `seq` it saw. The
//! hub decides what that is (a span of the session log on disk, then frames it
//! still holds in memory) and hands it to the client's own connection thread as a
//! [`Job`]; it never reads the disk itself. The connection thread sends the job
//! through the client's outbox as the socket takes it: every replayed byte counts
//! against the client's backlog like a live one, and more is read only while the
//! backlog is below half of it. A client that asks for replays and never reads
//! therefore holds at most one backlog of memory, and a replay of a 32 MiB log
//! costs the hub nothing. While a job runs the hub sends this client no live
//! events; when it ends the hub sends the rest from memory (or another job).

use crate::outbox::{Bytes, Outbox, Pushed, text_frame};
use crate::protocol::{self, ErrorCode};
use crate::store::LogReader;
use std::path::PathBuf;

/// Events of the session log with `after < seq < before`.
#[derive(Debug)]
pub struct LogSpan {
    pub path: PathBuf,
    pub after: u64,
    pub before: u64,
}

/// One replay for one client: the log span first, then the frames from memory.
pub struct Job {
    pub log: Option<LogSpan>,
    pub memory: Vec<Bytes>,
    /// The `seq` of the last event in `memory` (or of the span, without memory):
    /// what the client has when the job is done.
    pub upto: u64,
}

/// Bytes pushed per [`Cursor::pump`] call at most, so the connection thread
/// still reads its socket between chunks of a long replay.
const CHUNK: usize = 256 << 10;

/// A job being sent.
pub struct Cursor {
    log: Option<(LogSpan, Option<LogReader>)>,
    memory: std::vec::IntoIter<Bytes>,
    upto: u64,
}

/// A connection thread's replay (a WebSocket, an event stream, a bridge's run):
/// the job the hub handed to its outbox, sent as the backlog takes it.
#[derive(Default)]
pub struct Replay(Option<Cursor>);

/// What [`Replay::step`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// A job was under way: frames may have been queued.
    pub pumped: bool,
    /// More to send, and room for it now: come straight back.
    pub more: bool,
    /// The job ended: the client has every event up to this `seq` (tell the hub).
    pub done: Option<u64>,
}

impl Replay {
    /// Takes the hub's next job when none is under way, then queues what fits
    /// under half the client's budget.
    pub fn step(&mut self, outbox: &Outbox) -> Step {
        if self.0.is_none() {
            self.0 = outbox.take_replay().map(Cursor::new);
        }
        let Some(cursor) = &mut self.0 else {
            return Step::default();
        };
        let half = outbox.limit() / 2;
        let mut step = Step {
            pumped: true,
            ..Step::default()
        };
        match cursor.pump(outbox, half) {
            Pumped::More => step.more = outbox.backlog() < half,
            Pumped::Done(last) => {
                self.0 = None;
                step.done = Some(last);
            }
            Pumped::Closed => self.0 = None,
        }
        step
    }

    /// A job is under way.
    pub fn active(&self) -> bool {
        self.0.is_some()
    }
}

/// What [`Cursor::pump`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pumped {
    /// Stopped at the backlog's low-water mark or the chunk size; call again.
    More,
    /// All sent: the client has every event up to this `seq`.
    Done(u64),
    /// The client is closing; nothing more will be sent.
    Closed,
}

impl Cursor {
    pub fn new(job: Job) -> Cursor {
        Cursor {
            log: job.log.map(|span| (span, None)),
            memory: job.memory.into_iter(),
            upto: job.upto,
        }
    }

    /// Pushes frames while the client's backlog is under `low_water` bytes.
    pub fn pump(&mut self, outbox: &Outbox, low_water: usize) -> Pumped {
        let mut sent = 0;
        while sent < CHUNK {
            if outbox.backlog() >= low_water {
                return Pumped::More;
            }
            let Some(frame) = self.next_frame(outbox) else {
                return Pumped::Done(self.upto);
            };
            sent += frame.len();
            if outbox.push(&frame) != Pushed::Sent {
                return Pumped::Closed;
            }
        }
        Pumped::More
    }

    fn next_frame(&mut self, outbox: &Outbox) -> Option<Bytes> {
        if let Some((span, reader)) = &mut self.log {
            if reader.is_none() {
                match LogReader::open(&span.path, span.after) {
                    Ok(r) => *reader = r,
                    Err(e) => gap(outbox, &span.path, &e),
                }
            }
            let next = match reader.as_mut().map(LogReader::next_event) {
                Some(Ok(Some((seq, line)))) if seq < span.before => Some(line),
                Some(Err(e)) => {
                    gap(outbox, &span.path, &e);
                    None
                }
                _ => None,
            };
            match next {
                Some(line) => return Some(text_frame(line)),
                None => self.log = None,
            }
        }
        self.memory.next()
    }
}

/// The log could not be read: say so and go on with what memory holds.
fn gap(outbox: &Outbox, path: &std::path::Path, e: &std::io::Error) {
    log::error!("replay: {}: {e}", path.display());
    outbox.push(&text_frame(protocol::encode_notice(
        ErrorCode::HistoryGap,
        &format!("older events could not be read: {e}"),
        None,
    )));
}
