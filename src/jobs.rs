//! Prompts as jobs: what the REST API reports about each prompt, and the
//! server-sent-event streams that follow one prompt's run.
//!
//! Owned by the hub thread and fed by it (no I/O here but pushes into outboxes,
//! which never block). Every prompt gets a record when it joins the queue, whoever
//! sent it; its status changes as the hub queues, starts, ends or cancels it, and
//! its result, cost and session are picked from the events it broadcasts. Each
//! event of a run is also kept, encoded once as an SSE chunk (`id:` = its `seq`,
//! `data:` = the same JSON `/ws` gets), within one byte budget over all jobs
//! (oldest first out), so `Last-Event-ID` can resume without touching the disk.
//!
//! A subscriber is an SSE connection ([`crate::sse`]) with its own [`Outbox`]
//! (a raw stream): what it missed is pushed at once when small, or handed to its
//! connection thread as a [`replay::Job`] paced by its backlog, exactly as a
//! WebSocket's catch-up is ([`crate::replay`]). After the run's end it gets one
//! `event: end` with the job's final state, and its stream is closed.

use crate::outbox::{Bytes, Outbox, Pushed};
use crate::protocol::{Event, Progress};
use crate::replay;
use crate::translate::Outcome;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::sync::Arc;

/// Records kept (finished ones are dropped oldest first beyond this).
const MAX_RECORDS: usize = 1000;

/// Where a job's state stands; the wire names are the API's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
    Stopped,
    Cancelled,
}

impl Status {
    pub fn finished(self) -> bool {
        !matches!(self, Status::Queued | Status::Running)
    }
}

/// Which Claude session an API prompt runs in, applied when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChoice {
    /// The session the page is in.
    Current,
    /// A new session (like the page's Clear), begun when this prompt starts.
    New,
    /// Continue this earlier Claude session (like the page's Resume).
    Resume(String),
}

/// `GET /api/prompts/N`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    pub id: u64,
    pub status: Status,
    pub sender: String,
    pub result: Option<String>,
    pub cost_usd: Option<f64>,
    pub duration_sec: Option<f64>,
    pub session_id: Option<String>,
    pub error: Option<String>,
}

struct Record {
    view: JobView,
    choice: SessionChoice,
    /// The run's events as SSE chunks, by `seq`.
    events: VecDeque<(u64, Bytes)>,
    bytes: usize,
    /// Some of its events were dropped for the byte budget.
    trimmed: bool,
}

struct Sub {
    id: u64,
    job: u64,
    outbox: Arc<Outbox>,
    /// Gets the job's events as they happen; false while a replay job is out.
    live: bool,
}

/// The hub's job records and event-stream subscribers.
pub struct Jobs {
    records: VecDeque<Record>,
    subs: Vec<Sub>,
    bytes: usize,
    budget: usize,
    /// The session the next prompt's record gets (set by an API prompt).
    next_choice: SessionChoice,
}

/// One SSE event: `id: seq`, the JSON as data. serde_json writes no raw newline,
/// so one `data:` line holds it.
pub fn sse_chunk(seq: u64, json: &str) -> Bytes {
    format!("id: {seq}\ndata: {json}\n\n").into_bytes().into()
}

fn end_chunk(view: &JobView) -> Bytes {
    let json = serde_json::to_string(view).unwrap_or_default();
    format!("event: end\ndata: {json}\n\n").into_bytes().into()
}

/// The job an event belongs to: its run, the prompt it echoes, or (for Claude's
/// answer and anything else broadcast meanwhile) the run in progress.
fn job_of(event: &Event, running: Option<u64>) -> Option<u64> {
    match event {
        Event::Progress { run, .. } => Some(*run),
        Event::Message { id: Some(id), .. } => Some(*id),
        Event::Approval(a) => Some(a.run),
        Event::UsageStatus { .. } => None,
        _ => running,
    }
}

impl Jobs {
    /// `budget`: bytes of events kept over all jobs.
    pub fn new(budget: usize) -> Jobs {
        Jobs {
            records: VecDeque::new(),
            subs: Vec::new(),
            bytes: 0,
            budget,
            next_choice: SessionChoice::Current,
        }
    }

    fn get(&self, id: u64) -> Option<&Record> {
        self.records.iter().find(|r| r.view.id == id)
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut Record> {
        self.records.iter_mut().find(|r| r.view.id == id)
    }

    pub fn view(&self, id: u64) -> Option<JobView> {
        self.get(id).map(|r| r.view.clone())
    }

    /// The session an API prompt asked for (the current one for the page's).
    pub fn choice(&self, id: u64) -> SessionChoice {
        self.get(id)
            .map_or(SessionChoice::Current, |r| r.choice.clone())
    }

    /// The session the next prompt to join the queue asks for.
    pub fn choose_next(&mut self, choice: SessionChoice) {
        self.next_choice = choice;
    }

    /// Every broadcast passes here, with its `seq` and JSON, after the hub
    /// stamped it; `running` is the prompt in progress.
    pub fn event(&mut self, seq: u64, event: &Event, json: &str, running: Option<u64>) {
        if let Event::Message {
            id: Some(id),
            username,
            ..
        } = event
            && self.get(*id).is_none()
        {
            self.add(*id, username);
        }
        let Some(job) = job_of(event, running) else {
            return;
        };
        let Some(index) = self.records.iter().position(|r| r.view.id == job) else {
            return;
        };
        let record = &mut self.records[index];
        match event {
            Event::Message {
                username,
                message,
                id: None,
                ..
            } if username == "Claude" => record.view.result = Some(message.clone()),
            Event::Progress { progress, .. } => match progress {
                Progress::Init { session_id, .. } | Progress::Session { session_id, .. } => {
                    record.view.session_id = Some(session_id.clone());
                }
                Progress::Complete {
                    duration_sec,
                    cost_usd,
                    ..
                } => {
                    record.view.cost_usd = Some(*cost_usd);
                    record.view.duration_sec = Some(*duration_sec);
                }
                Progress::Error { message } | Progress::Stopped { message } => {
                    record.view.error = Some(message.clone());
                }
                _ => {}
            },
            _ => {}
        }
        let chunk = sse_chunk(seq, json);
        record.bytes += chunk.len();
        record.events.push_back((seq, chunk.clone()));
        self.bytes += chunk.len();
        for sub in self.subs.iter().filter(|s| s.job == job && s.live) {
            if sub.outbox.push(&chunk) == Pushed::Overflowed {
                log::info!("api: event stream {} fell too far behind; cut", sub.id);
            }
        }
        self.trim();
    }

    /// A prompt still queued from before a restart.
    pub fn recovered(&mut self, id: u64, sender: &str) {
        if self.get(id).is_none() {
            self.add(id, sender);
        }
    }

    fn add(&mut self, id: u64, sender: &str) {
        while self.records.len() >= MAX_RECORDS {
            let Some(i) = self.records.iter().position(|r| r.view.status.finished()) else {
                break;
            };
            if let Some(old) = self.records.remove(i) {
                self.bytes -= old.bytes;
            }
        }
        self.records.push_back(Record {
            view: JobView {
                id,
                status: Status::Queued,
                sender: sender.to_string(),
                result: None,
                cost_usd: None,
                duration_sec: None,
                session_id: None,
                error: None,
            },
            choice: std::mem::replace(&mut self.next_choice, SessionChoice::Current),
            events: VecDeque::new(),
            bytes: 0,
            trimmed: false,
        });
    }

    /// Drops the oldest kept events (oldest jobs first) until under the budget.
    fn trim(&mut self) {
        for record in &mut self.records {
            if self.bytes <= self.budget {
                return;
            }
            while self.bytes > self.budget {
                let Some((_, old)) = record.events.pop_front() else {
                    break;
                };
                record.bytes -= old.len();
                self.bytes -= old.len();
                record.trimmed = true;
            }
        }
    }

    pub fn started(&mut self, id: u64) {
        if let Some(r) = self.get_mut(id) {
            r.view.status = Status::Running;
        }
    }

    /// The run ended (`None`: it never started: the launcher failed).
    pub fn finished(&mut self, id: u64, outcome: Option<Outcome>, session_id: Option<String>) {
        let status = match outcome {
            Some(Outcome::Success) => Status::Done,
            Some(Outcome::Stopped | Outcome::TimedOut) => Status::Stopped,
            Some(Outcome::Failed | Outcome::ResumeFailed) | None => Status::Failed,
        };
        if let Some(r) = self.get_mut(id) {
            if session_id.is_some() {
                r.view.session_id = session_id;
            }
            r.view.status = status;
        }
        self.end(id);
    }

    /// Taken out of the queue before it ran.
    pub fn cancelled(&mut self, id: u64) {
        if let Some(r) = self.get_mut(id) {
            r.view.status = Status::Cancelled;
        }
        self.end(id);
    }

    /// Tells the job's live subscribers it is over and closes their streams.
    fn end(&mut self, id: u64) {
        let Some(view) = self.view(id) else {
            return;
        };
        let chunk = end_chunk(&view);
        self.subs.retain(|s| {
            if s.job != id || !s.live {
                return true;
            }
            s.outbox.push(&chunk);
            s.outbox
                .close(tungstenite::protocol::frame::coding::CloseCode::Normal, "");
            false
        });
    }

    /// A new event stream for job `job` from after `after`; false if no such job.
    pub fn subscribe(&mut self, id: u64, job: u64, after: u64, outbox: Arc<Outbox>) -> bool {
        if self.get(job).is_none() {
            return false;
        }
        self.subs.push(Sub {
            id,
            job,
            outbox,
            live: false,
        });
        self.catch_up(id, after);
        true
    }

    pub fn unsubscribe(&mut self, id: u64) {
        self.subs.retain(|s| s.id != id);
    }

    /// The stream's thread sent its replay up to `last`: continue from there.
    pub fn replay_done(&mut self, id: u64, last: u64) {
        self.catch_up(id, last);
    }

    /// Brings one subscriber up to date: small remainders at once, larger ones as
    /// a replay job for its own thread (see [`crate::replay`]); then live, or ended.
    fn catch_up(&mut self, sub_id: u64, after: u64) {
        let Some(i) = self.subs.iter().position(|s| s.id == sub_id) else {
            return;
        };
        let Some(record) = self.get(self.subs[i].job) else {
            self.subs.swap_remove(i);
            return;
        };
        let sub = &self.subs[i];
        let first = record.events.partition_point(|(seq, _)| *seq <= after);
        let missed: Vec<Bytes> = record
            .events
            .range(first..)
            .map(|(_, c)| c.clone())
            .collect();
        let bytes: usize = missed.iter().map(|c| c.len()).sum();
        if record.trimmed
            && after < record.events.front().map_or(u64::MAX, |(seq, _)| *seq)
            && first == 0
        {
            sub.outbox.push(&Bytes::from(
                &b": older events of this run were dropped to save memory\n\n"[..],
            ));
        }
        if bytes > sub.outbox.limit() / 2 {
            let upto = record.events.back().map_or(after, |(seq, _)| *seq);
            sub.outbox.start_replay(replay::Job {
                log: None,
                memory: missed,
                upto,
            });
            self.subs[i].live = false;
            return;
        }
        for chunk in &missed {
            sub.outbox.push(chunk);
        }
        if record.view.status.finished() {
            sub.outbox.push(&end_chunk(&record.view));
            sub.outbox
                .close(tungstenite::protocol::frame::coding::CloseCode::Normal, "");
            self.subs.swap_remove(i);
        } else {
            self.subs[i].live = true;
        }
    }
}

/// The usage body kept for `GET /api/usage` (the last `usage_status`).
pub type UsageBody = Map<String, Value>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol;

    fn broadcast(jobs: &mut Jobs, seq: u64, event: Event, running: Option<u64>) {
        let json = protocol::encode_event(seq, &event);
        jobs.event(seq, &event, &json, running);
    }

    fn prompt(id: u64) -> Event {
        Event::Message {
            username: "cron".into(),
            message: "hi".into(),
            html: None,
            id: Some(id),
            client_id: None,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_job_collects_its_result_cost_and_session_and_ends_done() {
        let mut jobs = Jobs::new(1 << 20);
        broadcast(&mut jobs, 1, prompt(7), None);
        assert_eq!(jobs.view(7).unwrap().status, Status::Queued);
        jobs.started(7);
        broadcast(
            &mut jobs,
            2,
            Event::Progress {
                run: 7,
                progress: Progress::Init {
                    model: "m".into(),
                    session_id: "s-1".into(),
                },
            },
            Some(7),
        );
        broadcast(
            &mut jobs,
            3,
            Event::Progress {
                run: 7,
                progress: Progress::Complete {
                    duration_sec: 1.5,
                    cost_usd: 0.25,
                    input_tokens: 1,
                    output_tokens: 1,
                    turns: 1,
                },
            },
            Some(7),
        );
        broadcast(
            &mut jobs,
            4,
            Event::Message {
                username: "Claude".into(),
                message: "done it".into(),
                html: None,
                id: None,
                client_id: None,
                attachments: Vec::new(),
            },
            Some(7),
        );
        // Another prompt queued meanwhile is its own job, not this one's result.
        broadcast(&mut jobs, 5, prompt(8), Some(7));
        jobs.finished(7, Some(Outcome::Success), None);
        let v = jobs.view(7).unwrap();
        assert_eq!(v.status, Status::Done);
        assert_eq!(v.result.as_deref(), Some("done it"));
        assert_eq!(v.cost_usd, Some(0.25));
        assert_eq!(v.duration_sec, Some(1.5));
        assert_eq!(v.session_id.as_deref(), Some("s-1"));
        assert_eq!(jobs.view(8).unwrap().status, Status::Queued);
        assert_eq!(jobs.get(7).unwrap().events.len(), 4);
    }

    #[test]
    fn events_stay_within_the_budget_oldest_first() {
        let mut jobs = Jobs::new(2000);
        broadcast(&mut jobs, 1, prompt(1), None);
        for seq in 2..100 {
            broadcast(
                &mut jobs,
                seq,
                Event::Progress {
                    run: 1,
                    progress: Progress::Thinking {
                        text: "x".repeat(100),
                    },
                },
                Some(1),
            );
        }
        assert!(jobs.bytes <= 2000);
        let r = jobs.get(1).unwrap();
        assert!(r.trimmed);
        assert_eq!(r.events.back().unwrap().0, 99);
    }
}
