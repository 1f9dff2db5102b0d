//! The hub's side of the REST API ([`crate::api`]): prompts from scripts join the
//! same queue as the page's, their state and event streams come from
//! [`crate::jobs`]. Handled on the hub thread like every other input, so the API
//! sees exactly what the pages see; callers wait for the answer on their own
//! connection thread, with a deadline.

use super::{ClientId, Hub, HubHandle, Input, NEXT_CLIENT};
use crate::jobs::{JobView, SessionChoice, Status, UsageBody};
use crate::outbox::Outbox;
use crate::protocol::{ErrorCode, SessionItem};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

/// The session list's answer to the API: the current session and the list.
pub type SessionsAnswer = Option<(Option<String>, Vec<SessionItem>)>;

/// What `DELETE /api/prompts/N` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancelled {
    /// It was queued and is removed: it will never run.
    Removed,
    /// It is running: the stop ladder has begun.
    Stopping,
    /// It had already ended (or been cancelled) with this status.
    AlreadyOver(Status),
    Unknown,
}

/// Requests from API connection threads.
pub enum ApiInput {
    Prompt {
        sender: String,
        text: String,
        session: SessionChoice,
        /// Workdir-relative files attached (a photo sent to a messenger bridge).
        attachments: Vec<String>,
        reply: Sender<Result<u64, (ErrorCode, String)>>,
    },
    Job {
        id: u64,
        reply: Sender<Option<JobView>>,
    },
    Cancel {
        id: u64,
        reply: Sender<Cancelled>,
    },
    Subscribe {
        sub: u64,
        job: u64,
        after: u64,
        outbox: Arc<Outbox>,
        reply: Sender<bool>,
    },
    Unsubscribe {
        sub: u64,
    },
    ReplayDone {
        sub: u64,
        last: u64,
    },
    Sessions {
        reply: Sender<SessionsAnswer>,
    },
    Usage {
        reply: Sender<Option<UsageBody>>,
    },
}

impl HubHandle {
    /// Sends an API request and waits (bounded) for its answer; `None` if the hub
    /// did not answer in time.
    pub fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> ApiInput, wait: Duration) -> Option<T> {
        let (tx, rx) = mpsc::channel();
        self.send(Input::Api(make(tx)));
        rx.recv_timeout(wait).ok()
    }

    /// Sends an API notice that needs no answer.
    pub fn tell_api(&self, input: ApiInput) {
        self.send(Input::Api(input));
    }

    /// A fresh id for an event stream (from the clients' sequence).
    pub fn new_stream_id(&self) -> u64 {
        NEXT_CLIENT.fetch_add(1, Ordering::Relaxed)
    }
}

impl Hub {
    pub(super) fn api(&mut self, input: ApiInput) {
        match input {
            ApiInput::Prompt {
                sender,
                text,
                session,
                attachments,
                reply,
            } => {
                let result = if self.draining.is_some() {
                    Err((ErrorCode::Busy, "the server is shutting down".to_string()))
                } else {
                    // Given to its record as it is made: the prompt may start at once.
                    self.jobs.choose_next(session);
                    self.admit_prompt(&format!("api:{sender}"), sender, text, None, attachments)
                };
                self.jobs.choose_next(SessionChoice::Current);
                let _ = reply.send(result);
            }
            ApiInput::Job { id, reply } => {
                let _ = reply.send(self.jobs.view(id));
            }
            ApiInput::Cancel { id, reply } => {
                let answer = if self.queue.iter().any(|q| q.id == id) {
                    self.queue.retain(|q| q.id != id);
                    self.store
                        .send(crate::store::writer::StoreOp::QueueRemove(id));
                    self.jobs.cancelled(id);
                    self.queue_status(Some(id));
                    Cancelled::Removed
                } else if let Some(run) = self.running.as_mut().filter(|r| r.prompt.id == id) {
                    log::info!("hub: stop requested through the API for run {id}");
                    run.stop();
                    Cancelled::Stopping
                } else {
                    match self.jobs.view(id) {
                        Some(v) => Cancelled::AlreadyOver(v.status),
                        None => Cancelled::Unknown,
                    }
                };
                let _ = reply.send(answer);
            }
            ApiInput::Subscribe {
                sub,
                job,
                after,
                outbox,
                reply,
            } => {
                let _ = reply.send(self.jobs.subscribe(sub, job, after, outbox));
            }
            ApiInput::Unsubscribe { sub } => self.jobs.unsubscribe(sub),
            ApiInput::ReplayDone { sub, last } => self.jobs.replay_done(sub, last),
            ApiInput::Sessions { reply } => match &self.meter {
                Some(meter) => {
                    let client: ClientId = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
                    self.api_sessions.push((client, reply));
                    meter.sessions(client, None);
                }
                None => {
                    let _ = reply.send(None);
                }
            },
            ApiInput::Usage { reply } => {
                let _ = reply.send(self.api_usage.clone());
            }
        }
    }

    /// The reader thread's session list, when an API request asked for it: sent
    /// there, and `None` handed back; otherwise the list is a page's.
    pub(super) fn api_sessions_answer(
        &mut self,
        client: ClientId,
        items: Vec<SessionItem>,
    ) -> Option<Vec<SessionItem>> {
        let Some(i) = self.api_sessions.iter().position(|(c, _)| *c == client) else {
            return Some(items);
        };
        let (_, reply) = self.api_sessions.swap_remove(i);
        let _ = reply.send(Some((self.session.claude_id.clone(), items)));
        None
    }

    /// Before a prompt starts: the session its API caller asked for.
    pub(super) fn api_before_start(&mut self, id: u64) {
        match self.jobs.choice(id) {
            SessionChoice::Current => {}
            SessionChoice::New => self.new_session(),
            SessionChoice::Resume(session) => {
                if self.session.claude_id.as_deref() != Some(session.as_str()) {
                    // No client to tell: nothing runs now, so it cannot be refused.
                    self.resume_session(0, session);
                }
            }
        }
    }
}
