//! The hub: one thread that owns the shared state and every decision about it.
//!
//! It owns the set of connected clients, the event sequence number, the recent
//! history (for replay) and the prompt queue. Other threads never touch that
//! state: they send an [`Input`] through a [`HubHandle`]. Each broadcast is
//! serialised and framed once, written into every client's [`Outbox`] without
//! blocking, so a slow client costs the others nothing, and handed to the store
//! thread for the session log.
//!
//! The hub never blocks on the disk or on a child: durable writes and fsyncs are
//! the store thread's ([`crate::store::writer`]), a run's process and threads are
//! started by the launcher thread ([`crate::launcher`]), and replays of older
//! history are read and paced by each client's own connection thread
//! ([`crate::replay`]).

use crate::approvals::{self, Approvals, Refusal};
use crate::auth::{Role, Who};
use crate::launcher::Launcher;
use crate::meter::Meter;
use crate::notify::{self, Note, NotifyHandle, RunSummary, Tokens};
use crate::outbox::{Bytes, Outbox, Pushed, text_frame};
use crate::permissions::{Action, Policy};
use crate::presence::{Change, Presence};
use crate::protocol::{
    self, ApprovalAnswer, ClientMsg, Command, ErrorCode, Event, Progress, QueueItem, Reply,
    Request, RequestId, SessionItem,
};
use crate::ratelimit::{Buckets, Rate};
use crate::replay::{Job, LogSpan};
use crate::runner::{self, Outcome, RunHandle, RunRequest, RunnerConfig, RunnerOutput, SessionRef};
use crate::shell::{self, ShellConfig, ShellHandle, ShellOutput};
use crate::store::writer::{StoreHandle, StoreOp};
use crate::store::{self, SavedPrompt, SessionState};
use crate::stream_json::PermissionAnswer;
use crate::translate::ToolRequest;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::CloseCode;

mod api;
pub use api::{ApiInput, Cancelled};

/// Identifies one WebSocket connection for its lifetime.
pub type ClientId = u64;

static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1);

/// How the process should end, once the hub has drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM/SIGINT: exit code 0.
    Stop,
    /// The `restart` command: exit code 100, for the supervisor.
    Restart,
}

/// Figures for `/healthz` and the systemd status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub clients: usize,
    pub queue: usize,
    pub running: bool,
    pub seq: u64,
    /// False when a run has gone well past its time limit without ending: the
    /// runner's supervisor, which enforces that limit, is not turning.
    pub runner_ok: bool,
}

/// Everything the hub reacts to.
pub enum Input {
    Join {
        id: ClientId,
        outbox: Arc<Outbox>,
        peer: SocketAddr,
        replay_after: Option<u64>,
        who: Who,
    },
    Leave {
        id: ClientId,
    },
    Frame {
        id: ClientId,
        request: Request,
    },
    Stats(Sender<Stats>),
    Shutdown(Exit),
    /// Test hook (`HOMECLAUDE_TEST_HOOKS=1`, SIGUSR1): the hub stops turning, so
    /// the watchdog test can see the pings stop. Never sent otherwise.
    Wedge,
    /// Everything a run reports, in its order; `Finished` last.
    Runner(RunnerOutput),
    /// Fresh usage figures from the reader thread.
    Usage(Map<String, Value>),
    /// The store thread's writes started failing (`Err`) or work again (`Ok`).
    Store(Result<(), String>),
    /// The launcher thread started a run (or could not).
    Launched {
        run: u64,
        result: Result<RunHandle, String>,
    },
    /// A client's connection thread finished sending the replay it was given; it
    /// has sent every event up to `last`.
    ReplayDone {
        id: ClientId,
        last: u64,
    },
    /// `POST /api/approvals/<id>`: an answer from HTTP; the reply says how it went.
    /// `token`: a notification's one-time token (then no login is needed).
    ApprovalHttp {
        answer: ApprovalAnswer,
        /// A notification's one-time token (then `who` is `None`: the route is public).
        token: Option<String>,
        /// Who answers (the route let only owners and collaborators through).
        who: Option<Who>,
        reply: Sender<Result<&'static str, Refusal>>,
    },
    /// Changes in the workdir from the `files` thread (`crate::file_watch`).
    FileUpdates(Vec<(String, crate::file_watch::Action)>),
    /// A request from the REST API (`crate::api`), answered on its channel.
    Api(ApiInput),
    /// The invites watcher's latest read: clients of other invites, checked
    /// before it, are closed (4003).
    Invites(crate::invites::Live),
    /// The CLI's session list, for the client that asked.
    Sessions {
        client: ClientId,
        req: Option<RequestId>,
        items: Vec<SessionItem>,
    },
    /// What a shell command reports, in its order; `Exit` last.
    Shell(ShellOutput),
}

/// The sending side, cloned into every thread that talks to the hub.
#[derive(Clone)]
pub struct HubHandle {
    tx: Sender<Input>,
}

impl HubHandle {
    /// Registers a client and returns its id.
    pub fn join(
        &self,
        outbox: Arc<Outbox>,
        peer: SocketAddr,
        replay_after: Option<u64>,
        who: Who,
    ) -> ClientId {
        let id = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
        self.send(Input::Join {
            id,
            outbox,
            peer,
            replay_after,
            who,
        });
        id
    }

    pub fn leave(&self, id: ClientId) {
        self.send(Input::Leave { id });
    }

    pub fn frame(&self, id: ClientId, request: Request) {
        self.send(Input::Frame { id, request });
    }

    pub fn shutdown(&self, exit: Exit) {
        self.send(Input::Shutdown(exit));
    }

    /// Test hook only: see [`Input::Wedge`].
    pub fn wedge(&self) {
        self.send(Input::Wedge);
    }

    pub fn sessions(&self, client: ClientId, req: Option<RequestId>, items: Vec<SessionItem>) {
        self.send(Input::Sessions { client, req, items });
    }

    /// Answers an approval for `POST /api/approvals/<id>` (the owner); `None` if
    /// the hub does not answer in time.
    pub fn approve(
        &self,
        answer: ApprovalAnswer,
        token: Option<String>,
        who: Option<Who>,
        wait: Duration,
    ) -> Option<Result<&'static str, Refusal>> {
        let (reply, rx) = mpsc::channel();
        self.send(Input::ApprovalHttp {
            answer,
            token,
            who,
            reply,
        });
        rx.recv_timeout(wait).ok()
    }

    /// The invites watcher's report: which invites let anyone in now.
    pub fn invites(&self, live: crate::invites::Live) {
        self.send(Input::Invites(live));
    }

    /// The store thread's report (see [`crate::store::writer::Report`]).
    pub fn store_report(&self, result: Result<(), String>) {
        self.send(Input::Store(result));
    }

    /// A client's thread finished its replay job (see [`crate::replay`]).
    pub fn replay_done(&self, id: ClientId, last: u64) {
        self.send(Input::ReplayDone { id, last });
    }

    /// Workdir changes, each broadcast as a `file_update`.
    pub fn file_updates(&self, changes: Vec<(String, crate::file_watch::Action)>) {
        self.send(Input::FileUpdates(changes));
    }

    pub fn usage(&self, body: Map<String, Value>) {
        self.send(Input::Usage(body));
    }

    /// Asks the hub for its figures; `None` if it does not answer in time (wedged).
    pub fn stats(&self, wait: Duration) -> Option<Stats> {
        let (tx, rx) = mpsc::channel();
        self.send(Input::Stats(tx));
        rx.recv_timeout(wait).ok()
    }

    fn send(&self, input: Input) {
        // The hub only stops at exit; a send after that has nobody to tell.
        let _ = self.tx.send(input);
    }
}

/// How far past its time limit a run may go (the stop ladder takes seconds) before
/// the runner counts as wedged.
const RUNNER_SLACK: Duration = Duration::from_secs(60);

/// Inputs handled per turn of the loop at most before the batch goes out: bounds
/// how long the first frame of a burst waits for the last.
const BATCH_INPUTS: usize = 64;

/// `seq` is reserved on disk this far ahead, so a crash never reuses one.
pub const SEQ_BLOCK: u64 = 10_000;

/// Settings the hub needs.
#[derive(Clone)]
pub struct HubSettings {
    pub runner: RunnerConfig,
    pub max_daily_usd: Option<f64>,
    pub max_queue: usize,
    /// Bytes of recent events kept for replay.
    pub history_bytes: usize,
    /// How long shutdown waits for clients to take their close frames.
    pub drain: Duration,
    /// The data dir, where replays find the session logs.
    pub data_dir: std::path::PathBuf,
    /// `--approval-timeout`: deny an unanswered approval after this (never if None).
    pub approval_timeout: Option<Duration>,
    /// How shell commands run (`crate::shell`).
    pub shell: ShellConfig,
    /// `--notify`, and the notify thread's handle (None: no notifications).
    pub notify_mode: notify::Mode,
    pub notify: Option<NotifyHandle>,
    /// `--owner-name`: the owner's prompts are stamped with it.
    pub owner_name: String,
    /// `--rate-limit`: each participant's prompts and commands.
    pub rate: Rate,
    /// `--collaborators-approve` and the like.
    pub policy: Policy,
}

struct Client {
    id: ClientId,
    outbox: Arc<Outbox>,
    peer: SocketAddr,
    role: Role,
    /// The participant (see [`crate::presence`]): their key and shown name.
    key: String,
    name: String,
    /// The invite it logged in with, if any (revocation closes it).
    invite: Option<String>,
    /// When its credentials were checked (see [`Who::checked`]).
    checked: Instant,
    /// Gets live events. False while a replay job is being sent to it.
    live: bool,
    /// A replay job is with its connection thread.
    replaying: bool,
    /// The page said it is visible (`visibility` frame); owners' pages only.
    visible: bool,
}

/// The run in progress.
struct Running {
    prompt: SavedPrompt,
    /// `None` until the launcher thread has started the process.
    handle: Option<RunHandle>,
    /// Stop (or kill, for shutdown) was asked for before the handle arrived.
    pending: Pending,
    /// The session log this run belongs to; `clear` may have moved on since.
    session_key: String,
    /// Already retried once in a new session after `--resume` failed.
    retried: bool,
    started: Instant,
}

/// What to do with a run's handle when the launcher delivers it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pending {
    Nothing,
    Stop,
    Kill,
}

impl Running {
    fn stop(&mut self) {
        match &self.handle {
            Some(h) => h.stop(),
            None => self.pending = Pending::Stop,
        }
    }

    fn kill(&mut self) {
        match &self.handle {
            Some(h) => h.kill(),
            None => self.pending = Pending::Kill,
        }
    }
}

/// The hub's state; lives on the hub thread.
struct Hub {
    tx: Sender<Input>,
    meter: Option<Meter>,
    /// The last usage figures, sent to each client as it connects.
    usage: Option<Bytes>,
    /// Today's cost from the last usage figures, for `--max-daily-usd`.
    today_usd: f64,
    /// Recent `client_id`s of prompts: a page's outbox may send the same prompt from
    /// two tabs after a reconnect; it is queued once.
    recent_client_ids: VecDeque<String>,
    running: Option<Running>,
    /// `clear` arrived during a run: start the new session when the run has ended.
    clear_after_run: bool,
    settings: HubSettings,
    clients: Vec<Client>,
    seq: u64,
    /// Recent events, deltas included, for replay without touching the disk.
    history: VecDeque<(u64, Bytes)>,
    history_len: usize,
    queue: VecDeque<SavedPrompt>,
    store: StoreHandle,
    launcher: Launcher,
    session: SessionState,
    /// Why the log cannot be written right now, once announced.
    store_failing: Option<String>,
    draining: Option<(Exit, Instant)>,
    /// The id of the client frame being handled, echoed by `tell`.
    req: Option<RequestId>,
    /// Broadcasts of this turn not yet written to the clients (`flush_batch`).
    batch: Vec<Bytes>,
    /// What Claude waits for a person to answer.
    approvals: Approvals,
    /// Starts shell commands off the hub thread.
    shell_launcher: Option<shell::Launcher>,
    /// Shell commands running, by id (the `seq` of their `shell_start`).
    shells: Vec<(u64, ShellHandle)>,
    /// One-time tokens of notified approvals (Allow / Deny from a notification).
    tokens: Tokens,
    /// What the current run said so far, for the note at its end.
    summary: RunSummary,
    /// Every prompt as a job, and the event streams that follow them (REST API).
    jobs: crate::jobs::Jobs,
    /// API requests waiting for the reader thread's session list.
    api_sessions: Vec<(ClientId, Sender<api::SessionsAnswer>)>,
    /// The last usage figures, for `GET /api/usage`.
    api_usage: Option<Map<String, Value>>,
    /// Who is connected, by person.
    presence: Presence,
    /// Fair use per person.
    buckets: Buckets,
    /// Who sent each queued or running prompt (the participant key): they may
    /// stop or cancel it. Prompts recovered from an earlier run have none.
    prompt_from: HashMap<u64, String>,
    /// The invites watcher's latest read: a join that raced its revocation is
    /// closed at once.
    invites: Option<crate::invites::Live>,
}

/// Creates the hub's channel; [`run`] must then be called on the hub thread.
pub fn channel() -> (HubHandle, Receiver<Input>) {
    let (tx, rx) = mpsc::channel();
    (HubHandle { tx }, rx)
}

/// Runs the hub until it has drained after a shutdown; returns how to exit.
pub fn run(
    handle: &HubHandle,
    meter: Option<Meter>,
    rx: Receiver<Input>,
    settings: HubSettings,
    store: StoreHandle,
    recovered: store::Recovered,
) -> Exit {
    let tx = handle.tx.clone();
    let started = Box::new(move |run, result| {
        let _ = tx.send(Input::Launched { run, result });
    });
    let launcher = match Launcher::spawn(started, settings.runner.nice) {
        Ok(l) => l,
        Err(e) => {
            log::error!("hub: cannot start the launcher thread: {e}");
            return Exit::Stop;
        }
    };
    let settings_timeout = settings.approval_timeout;
    let shell_launcher = shell::Launcher::spawn(settings.shell.nice)
        .map_err(|e| log::error!("hub: cannot start the shell launcher thread: {e}"))
        .ok();
    let mut jobs = crate::jobs::Jobs::new(settings.history_bytes);
    for waiting in &recovered.waiting {
        jobs.recovered(waiting.id, &waiting.username);
    }
    let settings_rate = settings.rate;
    let mut hub = Hub {
        tx: handle.tx.clone(),
        meter,
        usage: None,
        today_usd: 0.0,
        recent_client_ids: VecDeque::new(),
        running: None,
        clear_after_run: false,
        settings,
        clients: Vec::new(),
        seq: recovered.start_seq,
        history: VecDeque::new(),
        history_len: 0,
        queue: recovered.waiting.into(),
        store,
        launcher,
        session: recovered.session,
        store_failing: None,
        draining: None,
        req: None,
        batch: Vec::new(),
        approvals: Approvals::new(settings_timeout),
        shell_launcher,
        shells: Vec::new(),
        tokens: Tokens::default(),
        summary: RunSummary::default(),
        jobs,
        api_sessions: Vec::new(),
        api_usage: None,
        presence: Presence::default(),
        buckets: Buckets::new(settings_rate),
        prompt_from: HashMap::new(),
        invites: None,
    };
    if let Some(lost) = recovered.interrupted {
        hub.broadcast(&Event::Progress {
            run: lost.id,
            progress: Progress::Error {
                message: format!(
                    "interrupted: the server stopped while this prompt was running \
                     (\"{}\"); it was not run again",
                    protocol::excerpt(&lost.text, protocol::QUEUE_EXCERPT_CHARS)
                ),
            },
        });
    }
    // Shell commands the server lost track of (killed, crashed, power cut): their
    // processes are beyond reach, but their cards must not spin for ever.
    for id in recovered.lost_shells {
        hub.broadcast(&Event::ShellExit {
            id,
            code: None,
            signal: None,
            duration_sec: 0.0,
            omitted: 0,
            timed_out: false,
            interrupted: true,
        });
    }
    hub.maybe_start();
    hub.refresh_usage();
    let exit = hub.serve(&rx);
    hub.persist_on_exit();
    exit
}

impl Hub {
    fn serve(&mut self, rx: &Receiver<Input>) -> Exit {
        loop {
            let input = match self.draining {
                None => match self.approvals.next_deadline() {
                    None => match rx.recv() {
                        Ok(input) => input,
                        // Every handle is gone: nobody can reach us any more.
                        Err(_) => return Exit::Stop,
                    },
                    Some(deadline) => {
                        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                            Ok(input) => input,
                            Err(RecvTimeoutError::Timeout) => {
                                self.approvals_timed_out();
                                continue;
                            }
                            Err(RecvTimeoutError::Disconnected) => return Exit::Stop,
                        }
                    }
                },
                Some((exit, deadline)) => {
                    if self.clients.is_empty() && self.running.is_none() && self.shells.is_empty() {
                        return exit;
                    }
                    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(input) => input,
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                            return exit;
                        }
                    }
                }
            };
            self.handle(input);
            // Whatever else is already waiting is handled now too, so everything
            // broadcast meanwhile leaves in one write per client (`flush_batch`).
            for _ in 1..BATCH_INPUTS {
                match rx.try_recv() {
                    Ok(input) => self.handle(input),
                    Err(_) => break,
                }
            }
            self.flush_batch();
        }
    }

    /// Writes the batched broadcasts to every live client, all in one go.
    ///
    /// Every broadcast waits in `batch` until the hub has handled what is waiting
    /// on its channel (up to [`BATCH_INPUTS`]): under load a turn then costs one
    /// write per client however many events it made, which is what keeps a
    /// prompt's echo from queueing behind a run's stream on a busy box. Anything
    /// written to one client alone (a reply, a join's snapshots, a replay) sends
    /// the batch first, so every client still sees every frame in `seq` order.
    fn flush_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        for client in self.clients.iter().filter(|c| c.live) {
            if client.outbox.push_many(&self.batch) == Pushed::Overflowed {
                log::warn!(
                    "hub: client {} ({}) fell too far behind; dropping it",
                    client.id,
                    client.peer
                );
            }
        }
        self.batch.clear();
    }

    /// Writes `seq` ahead in blocks, so a crash can make it jump but never repeat.
    /// The next block is asked for half a block early: the store thread writes it
    /// long before the hub can reach it.
    fn reserve_seq(&mut self) {
        if self.seq + SEQ_BLOCK / 2 >= self.session.seq {
            self.session.seq = self.seq + SEQ_BLOCK;
            self.save_state();
        }
    }

    fn save_state(&self) {
        self.store.send(StoreOp::SaveState(self.session.clone()));
    }

    /// At shutdown: the exact `seq` saved, the log synced. The hub serves nobody
    /// any more, so it may wait for the store thread here (bounded).
    fn persist_on_exit(&mut self) {
        self.session.seq = self.session.seq.max(self.seq);
        self.save_state();
        self.store.close(Duration::from_secs(2));
    }

    /// The store thread's writes failed (`Err`) or work again: say so once.
    fn store_report(&mut self, result: Result<(), String>) {
        match result {
            Err(why) if self.store_failing.is_none() => {
                let message = store_failing_message(&why);
                self.store_failing = Some(why);
                self.broadcast(&Event::System { message });
            }
            Ok(()) if self.store_failing.take().is_some() => {
                self.broadcast(&Event::System {
                    message: "History is being saved again.".into(),
                });
            }
            _ => {}
        }
    }
}

impl Hub {
    fn handle(&mut self, input: Input) {
        match input {
            Input::Join {
                id,
                outbox,
                peer,
                replay_after,
                who,
            } => {
                let (key, name) = self.participant(&who);
                self.join(
                    Client {
                        id,
                        outbox,
                        peer,
                        role: who.role,
                        key,
                        name,
                        invite: who.invite.map(|(id, _)| id),
                        checked: who.checked,
                        live: false,
                        replaying: false,
                        visible: false,
                    },
                    replay_after,
                )
            }
            Input::Leave { id } => self.leave(id),
            Input::Invites(live) => {
                self.invites = Some(live);
                self.close_revoked();
            }
            Input::Frame { id, request } => {
                self.req = request.id;
                self.frame(id, request.msg);
                self.req = None;
            }
            Input::Stats(reply) => {
                let _ = reply.send(Stats {
                    clients: self.clients.len(),
                    queue: self.queue.len(),
                    running: self.running.is_some(),
                    seq: self.seq,
                    runner_ok: self.running.as_ref().is_none_or(|r| {
                        r.started.elapsed() < self.settings.runner.timeout + RUNNER_SLACK
                    }),
                });
            }
            Input::Wedge => {
                log::warn!("hub: wedged on purpose (test hook)");
                loop {
                    std::thread::park();
                }
            }
            Input::Shutdown(exit) => self.shutdown(exit),
            Input::Runner(output) => self.runner_output(output),
            Input::Store(result) => self.store_report(result),
            Input::Launched { run, result } => self.launched(run, result),
            Input::ReplayDone { id, last } => self.replay_done(id, last),
            Input::ApprovalHttp {
                answer,
                token,
                who,
                reply,
            } => {
                let action = self.approval_action(&answer);
                let result = match (&token, who) {
                    (Some(t), _) if !self.tokens.redeem(&answer.id, t) => Err(Refusal::BadToken),
                    (Some(_), _) => self.answer_approval(&answer, "owner (notification)"),
                    (None, Some(who)) if who.role.may(action, self.settings.policy).is_err() => {
                        Err(Refusal::Forbidden(Role::Owner))
                    }
                    (None, Some(who)) => {
                        let (_, name) = self.participant(&who);
                        self.answer_approval(&answer, &format!("{name} (API)"))
                    }
                    (None, None) => Err(Refusal::Forbidden(Role::Owner)),
                };
                let _ = reply.send(result);
            }
            Input::FileUpdates(changes) => {
                for (path, action) in changes {
                    self.broadcast(&Event::FileUpdate {
                        path,
                        action: action.as_str(),
                    });
                }
            }
            Input::Api(input) => self.api(input),
            Input::Sessions { client, req, items } => {
                let Some(items) = self.api_sessions_answer(client, items) else {
                    return;
                };
                self.flush_batch();
                let reply = Reply::Sessions {
                    current: self.session.claude_id.clone(),
                    items,
                    id: req,
                };
                if let Some(c) = self.clients.iter().find(|c| c.id == client) {
                    c.outbox.push(&text_frame(protocol::encode_reply(&reply)));
                }
            }
            Input::Shell(output) => self.shell_output(output),
            Input::Usage(body) => {
                self.today_usd = body
                    .get("today")
                    .and_then(|t| t.get("totalCost"))
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                self.api_usage = Some(body.clone());
                let event = Event::UsageStatus { body };
                // Kept for clients that connect later; broadcast to those here now.
                self.usage = Some(text_frame(protocol::encode_snapshot(&event)));
                self.broadcast(&event);
            }
        }
    }

    fn join(&mut self, client: Client, replay_after: Option<u64>) {
        self.flush_batch();
        if let Some((exit, _)) = self.draining {
            client
                .outbox
                .close(close_code(exit), "server is shutting down");
            return;
        }
        if self.is_revoked(&client) {
            client.outbox.close(CloseCode::from(4003), "access revoked");
            return;
        }
        if self
            .presence
            .join(&client.key, &client.name, client.role, now_ms())
            == Change::Joined
        {
            self.broadcast(&Event::ParticipantJoined {
                name: client.name.clone(),
                role: client.role.name(),
            });
            // Out to the others now: this client's own catch-up covers it.
            self.flush_batch();
        }
        let mut client = client;
        // Snapshots for this client alone: not part of the shared history.
        if let Some(usage) = &self.usage {
            client.outbox.push(usage);
        }
        if let Some(why) = &self.store_failing {
            client
                .outbox
                .push(&text_frame(protocol::encode_snapshot(&Event::System {
                    message: store_failing_message(why),
                })));
        }
        match replay_after {
            Some(after) => self.catch_up(&mut client, after),
            None => self.go_live(&mut client),
        }
        log::debug!(
            "hub: client {} ({}) joined; {} connected",
            client.id,
            client.peer,
            self.clients.len() + 1
        );
        self.clients.push(client);
    }

    /// Brings one client up to date from `after`: small remainders from memory at
    /// once, anything larger (or anything only the log still has) as a [`Job`]
    /// for the client's own thread, which paces it against the client's backlog.
    /// Until that job is done the client gets no live events; `replay_done` then
    /// calls this again from where the job ended, so nothing is missed or doubled.
    fn catch_up(&self, client: &mut Client, after: u64) {
        let after = after.max(self.session.first_seq.saturating_sub(1));
        if after >= self.seq {
            self.go_live(client);
            return;
        }
        let oldest = self.history.front().map_or(self.seq + 1, |(seq, _)| *seq);
        let log = (after + 1 < oldest).then(|| LogSpan {
            path: store::log_path(&self.settings.data_dir, &self.session.key),
            after,
            before: oldest,
        });
        let first = self.history.partition_point(|(seq, _)| *seq <= after);
        let memory = self.history.range(first..);
        let bytes: usize = memory.clone().map(|(_, f)| f.len()).sum();
        if log.is_none() && bytes <= client.outbox.limit() / 2 {
            for (_, frame) in memory {
                client.outbox.push(frame);
            }
            self.go_live(client);
            return;
        }
        client.live = false;
        client.replaying = true;
        client.outbox.start_replay(Job {
            log,
            memory: memory.map(|(_, f)| f.clone()).collect(),
            // Every broadcast enters `history`, so memory (or, when it is empty,
            // the log span) ends at the current `seq`.
            upto: self.seq,
        });
    }

    /// The client is up to date: live events from now on, and every approval still
    /// waiting, whatever it saw before (pages drop the ones they have, by id).
    /// The `queue_status` snapshot comes after the replay: pages take it as "the
    /// replay is over".
    fn go_live(&self, client: &mut Client) {
        client.live = true;
        client.outbox.push(&text_frame(protocol::encode_snapshot(
            &Event::QueueStatus {
                count: self.queue.len(),
                items: self.queue_items(),
                running: self.running.is_some(),
                cancelled: None,
            },
        )));
        client.outbox.push(&text_frame(protocol::encode_snapshot(
            &Event::PermissionMode {
                mode: self.mode().to_string(),
            },
        )));
        for frame in self.approvals.frames() {
            client.outbox.push(frame);
        }
        client
            .outbox
            .push(&text_frame(protocol::encode_snapshot(&Event::Presence {
                participants: self.presence.snapshot(),
                you: protocol::You {
                    name: client.name.clone(),
                    role: client.role.name(),
                },
            })));
    }

    /// A participant's key and the name shown for them.
    fn participant(&self, who: &Who) -> (String, String) {
        match (&who.invite, who.role) {
            (Some((id, name)), _) => (format!("i-{id}"), name.clone()),
            (None, Role::Owner) => ("o".into(), self.settings.owner_name.clone()),
            (None, _) => ("v".into(), "viewer".into()),
        }
    }

    fn leave(&mut self, id: ClientId) {
        let Some(i) = self.clients.iter().position(|c| c.id == id) else {
            return;
        };
        let client = self.clients.swap_remove(i);
        if self.presence.leave(&client.key) == Change::Left && self.draining.is_none() {
            self.broadcast(&Event::ParticipantLeft {
                name: client.name,
                role: client.role.name(),
            });
        }
    }

    /// Whether the client's invite was revoked or expired: checked before the
    /// watcher's latest read, and not live in it. (Checked after it: the invite
    /// may be newer than the read, and the next read will say.)
    fn is_revoked(&self, client: &Client) -> bool {
        match (&client.invite, &self.invites) {
            (Some(id), Some(live)) => client.checked < live.read_at && !live.ids.contains(id),
            _ => false,
        }
    }

    /// Closes every socket whose invite was revoked or expired (the page shows
    /// why); their cookies already fail (`auth.rs` asks the invites file).
    fn close_revoked(&self) {
        for client in self.clients.iter().filter(|c| self.is_revoked(c)) {
            log::info!(
                "hub: client {} ({}): access revoked",
                client.id,
                client.name
            );
            client.outbox.close(CloseCode::from(4003), "access revoked");
        }
    }

    /// What answering this approval takes: a question, or a tool (or a plan).
    fn approval_action(&self, answer: &ApprovalAnswer) -> Action {
        match self.approvals.kind_of(&answer.id) {
            Some(approvals::Kind::Tool | approvals::Kind::Plan) => Action::ApproveTool,
            // Unknown or gone: the answer is refused for that reason instead.
            Some(approvals::Kind::Question) | None => Action::AnswerQuestion,
        }
    }

    /// What a command takes, for the client `key`.
    fn command_action(&self, cmd: &Command, key: &str) -> Action {
        let own = |id: u64| self.prompt_from.get(&id).is_some_and(|k| k == key);
        match cmd {
            Command::Clear | Command::Resume { .. } | Command::PermissionMode { .. } => {
                Action::ChangeSession
            }
            Command::RequestUsage | Command::Sessions => Action::Ask,
            Command::Restart => Action::Restart,
            Command::Stop => Action::Stop {
                own: self.running.as_ref().is_some_and(|r| own(r.prompt.id)),
            },
            Command::Cancel { id } => Action::Cancel { own: own(*id) },
        }
    }

    /// Whether the client may do what `msg` asks, and has a token left: if not,
    /// tells it why and returns false.
    fn allowed(&mut self, id: ClientId, msg: &ClientMsg) -> bool {
        let Some(client) = self.clients.iter().find(|c| c.id == id) else {
            return false;
        };
        if self.is_revoked(client) {
            return false;
        }
        let (role, key) = (client.role, client.key.clone());
        let action = match msg {
            ClientMsg::Message { .. } => Action::Prompt,
            ClientMsg::Command(cmd) => self.command_action(cmd, &key),
            ClientMsg::Approval(answer) => self.approval_action(answer),
            ClientMsg::Shell { .. } | ClientMsg::ShellStop { .. } => Action::Shell,
            // Only an owner's visible page holds notifications back (`notify`).
            ClientMsg::Visibility { .. } => Action::Ask,
            ClientMsg::Hello { .. } | ClientMsg::Ping => return true,
        };
        if let Err(needs) = role.may(action, self.settings.policy) {
            // A viewer keeps its old answer (and code); others learn the role.
            let (code, message) = if role == Role::Viewer {
                (
                    ErrorCode::ReadOnly,
                    "this is a read-only viewer link: it can watch, not send".to_string(),
                )
            } else {
                (
                    ErrorCode::Forbidden,
                    format!("only the {} may do this", needs.name()),
                )
            };
            self.refuse(id, code, &message, Some(needs.name()), None);
            return false;
        }
        // The owner's own box: the bucket shares it among the people they invited
        // (and the viewer link), and never slows the owner's scripts.
        if role != Role::Owner
            && let Err(wait) = self.buckets.take(&key, Instant::now())
        {
            let ms = wait.as_millis().max(1) as u64;
            self.refuse(
                id,
                ErrorCode::RateLimited,
                &format!("too many requests; wait {ms} ms"),
                None,
                Some(ms),
            );
            return false;
        }
        true
    }

    /// [`Hub::tell`] with the role needed or the wait.
    fn refuse(
        &self,
        id: ClientId,
        code: ErrorCode,
        message: &str,
        needs: Option<&'static str>,
        wait_ms: Option<u64>,
    ) {
        if let Some(client) = self.clients.iter().find(|c| c.id == id) {
            client.outbox.push(&text_frame(protocol::encode_refusal(
                code,
                message,
                self.req.as_ref(),
                needs,
                wait_ms,
            )));
        }
    }

    /// A client's thread has sent its replay job: continue from there.
    fn replay_done(&mut self, id: ClientId, last: u64) {
        self.flush_batch();
        let Some(i) = self.clients.iter().position(|c| c.id == id) else {
            return;
        };
        let mut client = self.clients.swap_remove(i);
        client.replaying = false;
        self.catch_up(&mut client, last);
        self.clients.push(client);
    }

    fn frame(&mut self, id: ClientId, msg: ClientMsg) {
        if self.draining.is_some() {
            return;
        }
        if !self.allowed(id, &msg) {
            return;
        }
        // The server says who asked: what the page typed is not a name.
        let Some((key, name)) = self
            .clients
            .iter()
            .find(|c| c.id == id)
            .map(|c| (c.key.clone(), c.name.clone()))
        else {
            return;
        };
        match msg {
            ClientMsg::Message {
                username: _,
                message,
                client_id,
                attachments,
            } => self.prompt(id, &key, name, message, client_id, attachments),
            ClientMsg::Command(cmd) => self.command(id, cmd),
            ClientMsg::Approval(answer) => match self.answer_approval(&answer, &name) {
                Ok(_) => {}
                Err(Refusal::AlreadyResolved) => self.tell(
                    id,
                    ErrorCode::AlreadyResolved,
                    "someone answered this first, or it was withdrawn",
                ),
                Err(Refusal::Unknown) => self.tell(
                    id,
                    ErrorCode::UnknownApproval,
                    &format!("no approval {:?} is waiting", answer.id),
                ),
                Err(Refusal::Unfit(why)) => self.tell(id, ErrorCode::BadField, why),
                // Tokens come over HTTP only.
                Err(Refusal::BadToken) => {}
                Err(Refusal::Forbidden(needs)) => self.refuse(
                    id,
                    ErrorCode::Forbidden,
                    "only the owner answers this",
                    Some(needs.name()),
                    None,
                ),
            },
            ClientMsg::Visibility { visible } => {
                if let Some(c) = self.clients.iter_mut().find(|c| c.id == id) {
                    c.visible = visible;
                }
            }
            ClientMsg::Hello { last_seq } => {
                let Some(i) = self.clients.iter().position(|c| c.id == id) else {
                    return;
                };
                if self.clients[i].replaying {
                    // One replay at a time per client: repeated hellos cost nothing.
                    log::debug!("hub: client {id} asked for a replay during one");
                    return;
                }
                // The replay reaches `seq`: what is batched must not follow it again.
                self.flush_batch();
                let mut client = self.clients.swap_remove(i);
                self.catch_up(&mut client, last_seq.unwrap_or(0));
                self.clients.push(client);
            }
            ClientMsg::Ping => {}
            ClientMsg::Shell { command, username } => self.shell_start(id, command, username),
            ClientMsg::ShellStop { id: shell } => {
                match self.shells.iter().find(|(s, _)| *s == shell) {
                    Some((_, handle)) => {
                        log::info!("hub: stop requested for shell {shell}");
                        handle.stop();
                    }
                    None => self.tell(
                        id,
                        ErrorCode::NotRunning,
                        &format!("shell command {shell} is not running"),
                    ),
                }
            }
        }
    }

    fn prompt(
        &mut self,
        from: ClientId,
        key: &str,
        username: String,
        message: String,
        client_id: Option<String>,
        attachments: Vec<String>,
    ) {
        if message.trim().is_empty() && attachments.is_empty() {
            self.tell(from, ErrorCode::EmptyPrompt, "the prompt is empty");
            return;
        }
        if let Some(cid) = &client_id {
            if self.recent_client_ids.contains(cid) {
                log::debug!("hub: prompt {cid} already queued; ignoring the repeat");
                return;
            }
            if self.recent_client_ids.len() >= 256 {
                self.recent_client_ids.pop_front();
            }
            self.recent_client_ids.push_back(cid.clone());
        }
        if let Err((code, message)) =
            self.admit_prompt(key, username, message, client_id, attachments)
        {
            self.tell(from, code, &message);
        }
    }

    /// Queues a prompt (from a page or the API) unless the budget or the queue
    /// refuses it; returns its id. `key`: the participant who may stop or cancel it.
    fn admit_prompt(
        &mut self,
        key: &str,
        username: String,
        message: String,
        client_id: Option<String>,
        attachments: Vec<String>,
    ) -> Result<u64, (ErrorCode, String)> {
        if message.trim().is_empty() && attachments.is_empty() {
            return Err((ErrorCode::EmptyPrompt, "the prompt is empty".into()));
        }
        if let Some(limit) = self.settings.max_daily_usd
            && self.today_usd >= limit
        {
            return Err((
                ErrorCode::BudgetReached,
                format!(
                    "today's Claude cost (${:.2}) has reached this server's daily limit \
                     (${limit:.2}); prompts are refused until tomorrow",
                    self.today_usd
                ),
            ));
        }
        if self.queue.len() >= self.settings.max_queue {
            return Err((
                ErrorCode::QueueFull,
                format!(
                    "the queue is full ({} prompts wait); try again when one has run",
                    self.queue.len()
                ),
            ));
        }
        let id = self.session.next_prompt.max(1);
        self.session.next_prompt = id + 1;
        self.prompt_from.insert(id, key.to_string());
        self.broadcast(&Event::Message {
            username: username.clone(),
            message: message.clone(),
            html: None,
            id: Some(id),
            client_id,
            attachments: attachments.clone(),
        });
        let prompt = SavedPrompt {
            id,
            username,
            text: message,
            attachments,
        };
        self.store.send(StoreOp::QueueAdd(prompt.clone()));
        self.queue.push_back(prompt);
        self.queue_changed();
        Ok(id)
    }

    fn command(&mut self, from: ClientId, cmd: Command) {
        match cmd {
            Command::Clear => self.new_session(),
            Command::RequestUsage => match &self.meter {
                Some(_) => self.refresh_usage(),
                None => self.tell(
                    from,
                    ErrorCode::UsageUnavailable,
                    "usage figures are not available on this server",
                ),
            },
            Command::Restart => {
                self.broadcast(&Event::System {
                    message: "Server is restarting…".into(),
                });
                self.shutdown(Exit::Restart);
            }
            Command::Stop => match &mut self.running {
                Some(run) => {
                    log::info!("hub: stop requested for run {}", run.prompt.id);
                    run.stop();
                }
                None => self.tell(from, ErrorCode::NotRunning, "nothing is running"),
            },
            Command::Sessions => match &self.meter {
                Some(meter) => meter.sessions(from, self.req.clone()),
                None => self.tell(
                    from,
                    ErrorCode::SessionsUnavailable,
                    "the session list is not available",
                ),
            },
            Command::Resume { session } => self.resume_session(from, session),
            Command::PermissionMode { mode } => {
                if let Some(handle) = self.running.as_ref().and_then(|r| r.handle.as_ref()) {
                    handle.set_mode(&mode);
                }
                self.mode_changed(mode);
            }
            Command::Cancel { id } => {
                let before = self.queue.len();
                self.queue.retain(|q| q.id != id);
                if self.queue.len() == before {
                    self.tell(
                        from,
                        ErrorCode::NotQueued,
                        &format!("prompt {id} is not in the queue"),
                    );
                } else {
                    self.prompt_from.remove(&id);
                    self.store.send(StoreOp::QueueRemove(id));
                    self.jobs.cancelled(id);
                    self.queue_status(Some(id));
                }
            }
        }
    }

    fn queue_items(&self) -> Vec<QueueItem> {
        self.queue
            .iter()
            .map(|q| QueueItem {
                id: q.id,
                sender: q.username.clone(),
                message: protocol::excerpt(&q.text, protocol::QUEUE_EXCERPT_CHARS),
            })
            .collect()
    }

    fn queue_changed(&mut self) {
        self.queue_status(None);
    }

    /// Starts what can start and tells everyone the queue; `cancelled` is the
    /// prompt a `cancel` just removed, so pages can mark it.
    fn queue_status(&mut self, cancelled: Option<u64>) {
        self.maybe_start();
        self.broadcast(&Event::QueueStatus {
            count: self.queue.len(),
            items: self.queue_items(),
            running: self.running.is_some(),
            cancelled,
        });
    }

    /// Starts the next queued prompt when nothing runs.
    fn maybe_start(&mut self) {
        while self.running.is_none() && self.draining.is_none() && !self.clear_after_run {
            let Some(prompt) = self.queue.pop_front() else {
                return;
            };
            self.store.send(StoreOp::QueueRun(prompt.id));
            self.api_before_start(prompt.id);
            self.jobs.started(prompt.id);
            let session = match (&self.session.claude_id, self.session.resumable) {
                (Some(id), true) => SessionRef::Resume(id.clone()),
                _ => SessionRef::New(runner::new_session_id()),
            };
            self.launch(prompt, session, false);
        }
    }

    /// Hands one run to the launcher thread; it counts as running from now on.
    fn launch(&mut self, prompt: SavedPrompt, session: SessionRef, retried: bool) {
        let request = RunRequest {
            run: prompt.id,
            prompt_id: prompt.id,
            username: prompt.username.clone(),
            text: prompt.text.clone(),
            attachments: prompt.attachments.clone(),
            session,
        };
        let tx = self.tx.clone();
        let out = Box::new(move |o| {
            let _ = tx.send(Input::Runner(o));
        });
        let mut config = self.settings.runner.clone();
        config.permission_mode = self.mode().to_string();
        self.summary = RunSummary::default();
        self.launcher.launch(config, request, out);
        self.running = Some(Running {
            prompt,
            handle: None,
            pending: Pending::Nothing,
            session_key: self.session.key.clone(),
            retried,
            started: Instant::now(),
        });
    }

    /// The launcher's answer for run `run`.
    fn launched(&mut self, run: u64, result: Result<RunHandle, String>) {
        let current = self
            .running
            .as_mut()
            .filter(|r| r.prompt.id == run && r.handle.is_none());
        match (result, current) {
            (Ok(handle), Some(running)) => {
                log::info!("hub: run {run} started (pid {})", handle.pid());
                match running.pending {
                    Pending::Nothing => {}
                    Pending::Stop => handle.stop(),
                    Pending::Kill => handle.kill(),
                }
                running.handle = Some(handle);
            }
            // The run already finished (its outputs overtook this answer): the
            // handle of a finished run has nothing left to stop.
            (Ok(_), None) => {}
            (Err(e), _) => {
                log::error!("hub: run {run} could not start: {e}");
                self.broadcast(&Event::Progress {
                    run,
                    progress: Progress::Error { message: e },
                });
                if self.running.as_ref().is_some_and(|r| r.prompt.id == run) {
                    self.running = None;
                }
                self.run_done(run);
                self.jobs.finished(run, None, None);
                if std::mem::take(&mut self.clear_after_run) {
                    self.new_session();
                }
                self.after_run();
            }
        }
    }

    fn runner_output(&mut self, output: RunnerOutput) {
        match output {
            RunnerOutput::Progress { run, mut progress } => {
                if let Progress::Text { text, html } = &mut progress {
                    *html = Some(crate::markdown::to_html(text));
                }
                self.summary.progress(&progress);
                self.broadcast(&Event::Progress { run, progress });
            }
            RunnerOutput::Answer { run: _, text } => {
                self.summary.answer(&text);
                self.broadcast(&Event::Message {
                    username: "Claude".into(),
                    html: Some(crate::markdown::to_html(&text)),
                    message: text,
                    id: None,
                    client_id: None,
                    attachments: vec![],
                });
            }
            RunnerOutput::Approval { run, request } => self.approval_asked(run, request),
            RunnerOutput::ApprovalCancelled { run: _, request_id } => {
                if let Some(p) = self.approvals.withdraw(&request_id) {
                    self.approval_resolved(&p, "cancelled", "claude", None, false);
                }
            }
            RunnerOutput::PermissionMode { run, mode } => {
                log::debug!("hub: run {run}: claude confirms permission mode {mode}");
                self.mode_changed(mode);
            }
            RunnerOutput::Finished {
                run,
                session_id,
                outcome,
            } => {
                for p in self.approvals.of_run(run) {
                    self.approval_resolved(&p, "cancelled", "claude", None, false);
                }
                self.run_finished(run, session_id, outcome)
            }
        }
    }

    fn run_finished(&mut self, run: u64, session_id: Option<String>, outcome: Outcome) {
        let Some(running) = self.running.take() else {
            return;
        };
        if running.prompt.id != run {
            self.running = Some(running);
            return;
        }
        log::info!("hub: run {run} finished: {outcome:?}");
        let same_session = running.session_key == self.session.key;
        if outcome == Outcome::ResumeFailed && !running.retried && self.draining.is_none() {
            self.broadcast(&Event::Progress {
                run,
                progress: Progress::Retry {
                    message: "The saved Claude session could not be resumed; \
                              running the prompt again in a new session."
                        .into(),
                },
            });
            if same_session {
                self.session.claude_id = None;
                self.session.resumable = false;
            }
            let prompt = running.prompt.clone();
            drop(running);
            self.launch(prompt, SessionRef::New(runner::new_session_id()), true);
            return;
        }
        if outcome == Outcome::ResumeFailed {
            // Retried already (or shutting down): say so instead of ending silently.
            self.broadcast(&Event::Progress {
                run,
                progress: Progress::Error {
                    message: "Claude Code could not start the session, even a new one; \
                              see the server log."
                        .into(),
                },
            });
        }
        let reported = session_id.clone();
        if same_session && let Some(id) = session_id {
            // The id the CLI reported is the truth; once it has printed `init` the
            // session exists and can be resumed.
            self.session.claude_id = Some(id);
            self.session.resumable = outcome != Outcome::ResumeFailed;
            self.save_state();
        }
        drop(running);
        self.run_done(run);
        if let Some(note) = std::mem::take(&mut self.summary).note(run, outcome) {
            self.notify(note);
        }
        self.jobs.finished(run, Some(outcome), reported);
        if std::mem::take(&mut self.clear_after_run) {
            self.new_session();
        }
        self.after_run();
    }

    /// Hands a note to the notify thread unless `--notify` says not now: `never`,
    /// or `away` while an owner's page is visible. Never waits.
    fn notify(&mut self, note: Note) {
        let Some(handle) = &self.settings.notify else {
            return;
        };
        let someone_looking = self
            .clients
            .iter()
            .any(|c| c.role == Role::Owner && c.visible);
        let send = match self.settings.notify_mode {
            notify::Mode::Never => false,
            notify::Mode::Away => !someone_looking,
            notify::Mode::Always => true,
        };
        if send {
            handle.note(note);
        } else {
            log::debug!("hub: not notifying ({:?})", self.settings.notify_mode);
        }
    }

    /// Journals the end of a run and makes the log durable (on the store thread:
    /// the fsyncs of a run's end are grouped there and never delay a broadcast).
    fn run_done(&mut self, id: u64) {
        self.prompt_from.remove(&id);
        let waiting: Vec<SavedPrompt> = self.queue.iter().cloned().collect();
        self.store.send(StoreOp::QueueDone { id, waiting });
    }

    fn after_run(&mut self) {
        self.queue_changed();
        self.refresh_usage();
    }

    fn refresh_usage(&self) {
        if let Some(meter) = &self.meter {
            meter.refresh();
        }
    }

    /// The CLI asks a person something: every page shows it until it is answered.
    fn approval_asked(&mut self, run: u64, request: ToolRequest) {
        let event = Approvals::event(run, &request);
        log::info!(
            "hub: run {run} waits for an approval of {} ({})",
            event.tool,
            event.detail
        );
        self.audit(&serde_json::json!({
            "event": "asked", "id": event.id, "run": run, "tool": event.tool,
            "detail": event.detail,
        }));
        let note = Note::Waiting {
            run,
            id: event.id.clone(),
            kind: event.kind,
            tool: event.tool.clone(),
            detail: event.detail.clone(),
            token: self.tokens.mint(&event.id),
        };
        let frame = self.broadcast(&Event::Approval(Box::new(event)));
        self.approvals.add(run, request, frame);
        self.notify(note);
    }

    /// A person's answer (the first one wins): to the CLI, to every page, to the
    /// audit log.
    fn answer_approval(
        &mut self,
        answer: &ApprovalAnswer,
        by: &str,
    ) -> Result<&'static str, Refusal> {
        let (pending, cli) = self.approvals.answer(answer)?;
        let handle = self
            .running
            .as_ref()
            .filter(|r| r.prompt.id == pending.run)
            .and_then(|r| r.handle.as_ref());
        match handle {
            Some(h) => h.answer(&pending.id, &cli),
            None => log::warn!("hub: approval {} answered after its run ended", pending.id),
        }
        let decision = approvals::outcome_name(answer.decision, pending.kind);
        let denied = answer.decision == protocol::Decision::Deny;
        let why = answer.message.as_deref().filter(|_| denied);
        self.approval_resolved(&pending, decision, by, why, denied && answer.interrupt);
        if pending.kind == approvals::Kind::Plan
            && let PermissionAnswer::Allow { .. } = cli
        {
            self.mode_changed(answer.mode.clone().unwrap_or_else(|| "acceptEdits".into()));
        }
        Ok(decision)
    }

    fn approval_resolved(
        &mut self,
        pending: &approvals::Pending,
        decision: &'static str,
        by: &str,
        message: Option<&str>,
        interrupt: bool,
    ) {
        log::info!("hub: approval {} resolved: {decision} by {by}", pending.id);
        self.tokens.forget(&pending.id);
        self.audit(&serde_json::json!({
            "event": "resolved", "id": pending.id, "run": pending.run,
            "tool": pending.request.tool, "decision": decision, "by": by,
            "message": message, "interrupt": interrupt,
        }));
        self.broadcast(&Event::ApprovalResolved {
            id: pending.id.clone(),
            decision,
            by: by.to_string(),
            message: message.map(str::to_string),
            interrupt,
        });
    }

    /// `--approval-timeout`: unanswered approvals are denied, and everyone is told.
    fn approvals_timed_out(&mut self) {
        for p in self.approvals.expired(Instant::now()) {
            if let Some(h) = self
                .running
                .as_ref()
                .filter(|r| r.prompt.id == p.run)
                .and_then(|r| r.handle.as_ref())
            {
                h.answer(
                    &p.id,
                    &PermissionAnswer::Deny {
                        message: "Nobody answered in time; the request timed out.".into(),
                        interrupt: false,
                    },
                );
            }
            self.approval_resolved(&p, "timed_out", "server", None, false);
        }
    }

    /// One line of the audit log (the store thread appends it).
    fn audit(&self, entry: &Value) {
        let mut entry = entry.clone();
        entry["ts"] = Value::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        );
        self.store.send(StoreOp::Audit(entry.to_string()));
    }

    /// The session's permission mode is now `mode` (from a page, a plan's approval,
    /// or the CLI): used by the next run, broadcast when it changed.
    fn mode_changed(&mut self, mode: String) {
        if self.mode() == mode {
            return;
        }
        self.session.permission_mode = Some(mode.clone());
        self.save_state();
        self.broadcast(&Event::PermissionMode { mode });
    }

    /// The session's permission mode: chosen on a page, or the configured default.
    fn mode(&self) -> &str {
        self.session
            .permission_mode
            .as_deref()
            .unwrap_or(&self.settings.runner.permission_mode)
    }

    /// `resume`: continue an earlier Claude session (one made by this server or by
    /// `claude` in a terminal) from the next prompt on, in a new log. Refused while a
    /// run is in progress: stop it or let it finish first.
    fn resume_session(&mut self, from: ClientId, id: String) {
        if self.running.is_some() || self.clear_after_run {
            self.tell(
                from,
                ErrorCode::Busy,
                "a prompt is running; stop it or wait for it before switching sessions",
            );
            return;
        }
        let key = store::new_key();
        self.store.send(StoreOp::SwitchLog(key.clone()));
        self.session.key = key;
        self.session.claude_id = Some(id.clone());
        // If the CLI does not know it after all, the run is retried once in a new
        // session and says so.
        self.session.resumable = true;
        self.session.first_seq = self.seq + 1;
        self.save_state();
        // The recent events belong to the session left behind.
        self.history.clear();
        self.history_len = 0;
        log::info!("hub: continuing Claude session {id}");
        self.broadcast(&Event::System {
            message: format!("Continuing Claude session {id}."),
        });
    }

    /// `clear`: a new Claude session with its own log; the queue carries over. A run
    /// in progress is stopped first and the new session begins when it has ended,
    /// so its end is reported in the old session.
    fn new_session(&mut self) {
        if let Some(run) = &mut self.running {
            run.stop();
            self.clear_after_run = true;
            return;
        }
        let key = store::new_key();
        self.store.send(StoreOp::SwitchLog(key.clone()));
        self.session.key = key;
        let was = self.mode().to_string();
        self.session.claude_id = None;
        self.session.resumable = false;
        // A new session starts in the configured mode.
        self.session.permission_mode = None;
        self.session.first_seq = self.seq + 1;
        self.save_state();
        self.history.clear();
        self.history_len = 0;
        self.broadcast(&Event::System {
            message: "New session started.".into(),
        });
        if was != self.mode() {
            let mode = self.mode().to_string();
            self.broadcast(&Event::PermissionMode { mode });
        }
    }

    /// A notice for one client only, answering the frame being handled (its
    /// request id echoed).
    fn tell(&mut self, id: ClientId, code: ErrorCode, message: &str) {
        self.flush_batch();
        if let Some(client) = self.clients.iter().find(|c| c.id == id) {
            client.outbox.push(&text_frame(protocol::encode_notice(
                code,
                message,
                self.req.as_ref(),
            )));
        }
    }

    /// Stamps, encodes once, logs, keeps for replay, and writes to every client.
    fn broadcast(&mut self, event: &Event) -> Bytes {
        self.seq += 1;
        self.reserve_seq();
        let json = protocol::encode_event(self.seq, event);
        let running = self.running.as_ref().map(|r| r.prompt.id);
        self.jobs.event(self.seq, event, &json, running);
        // Streaming deltas are folded into the text that follows them; the log keeps
        // only that, which keeps it small.
        // Comings and goings are not the conversation: live and in memory only.
        let durable = !matches!(
            event,
            Event::Progress {
                progress: Progress::TextDelta { .. },
                ..
            } | Event::ParticipantJoined { .. }
                | Event::ParticipantLeft { .. }
        );
        if durable {
            self.store.send(StoreOp::Append(json.clone()));
        }
        let frame = text_frame(json);
        self.history_len += frame.len();
        self.history.push_back((self.seq, frame.clone()));
        while self.history_len > self.settings.history_bytes {
            match self.history.pop_front() {
                Some((_, old)) => self.history_len -= old.len(),
                None => break,
            }
        }
        self.batch.push(frame.clone());
        frame
    }

    fn shutdown(&mut self, exit: Exit) {
        if self.draining.is_some() {
            return;
        }
        log::info!(
            "hub: shutting down ({exit:?}); closing {} clients",
            self.clients.len()
        );
        // What was broadcast before the signal still goes out, ahead of the close.
        self.flush_batch();
        for client in &self.clients {
            client
                .outbox
                .close(close_code(exit), "server is shutting down");
        }
        for (_, shell) in &self.shells {
            shell.kill();
        }
        if let Some(run) = &mut self.running {
            // No time for the gentle ladder: end the process group now. The run is
            // left unfinished in the queue journal and reported as interrupted at
            // the next start.
            log::info!("hub: ending run {} for shutdown", run.prompt.id);
            run.kill();
        }
        self.draining = Some((exit, Instant::now() + self.settings.drain));
    }
}

impl Hub {
    /// `shell`: one more command, if fewer than the cap run; its id is the `seq` of
    /// its `shell_start`, so it is unique across restarts too.
    fn shell_start(&mut self, from: ClientId, command: String, by: String) {
        let Some(launcher) = &self.shell_launcher else {
            self.tell(from, ErrorCode::Busy, "shell commands are not available");
            return;
        };
        let max = self.settings.shell.max_running;
        if self.shells.len() >= max {
            self.tell(
                from,
                ErrorCode::Busy,
                &format!("{max} shell commands are running already; stop one or wait"),
            );
            return;
        }
        let id = self.seq + 1;
        let tx = self.tx.clone();
        let out: shell::Out = std::sync::Arc::new(move |o| {
            let _ = tx.send(Input::Shell(o));
        });
        let handle = launcher.start(self.settings.shell.clone(), id, command.clone(), out);
        log::info!("hub: shell {id} asked by {by}: {command}");
        self.shells.push((id, handle));
        let client_id = self.req.clone();
        self.broadcast(&Event::ShellStart {
            id,
            command,
            by,
            client_id,
        });
        // Journaled, so that a restart can end its card if nobody else will.
        self.store.send(StoreOp::ShellStart(id));
    }

    fn shell_output(&mut self, output: ShellOutput) {
        match output {
            ShellOutput::Output {
                id,
                stream,
                data,
                omitted,
            } => {
                self.broadcast(&Event::ShellOutput {
                    id,
                    stream: stream.name(),
                    data,
                    omitted,
                });
            }
            ShellOutput::Exit {
                id,
                code,
                signal,
                duration,
                omitted,
                timed_out,
            } => {
                self.shells.retain(|(s, _)| *s != id);
                self.broadcast(&Event::ShellExit {
                    id,
                    code,
                    signal,
                    duration_sec: (duration.as_secs_f64() * 100.0).round() / 100.0,
                    omitted,
                    timed_out,
                    interrupted: false,
                });
                self.store.send(StoreOp::ShellEnd(id));
            }
        }
    }
}

/// Now, in Unix milliseconds (presence's `since`).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn store_failing_message(why: &str) -> String {
    format!("History is not being saved: {why}. Live events continue.")
}

fn close_code(exit: Exit) -> CloseCode {
    match exit {
        Exit::Stop => CloseCode::Away,
        Exit::Restart => CloseCode::Restart,
    }
}
