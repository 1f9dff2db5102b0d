//! The store thread: the one thread that writes the data dir while the server runs.
//!
//! The hub never waits on the disk. It hands every durable change to this thread
//! as a [`StoreOp`] over a channel and goes on: appends of broadcast events, queue
//! journal lines, state saves, log switches, and the grouped fsync at the end of a
//! run (`QueueDone`). On a Raspberry Pi's SD card one fsync takes 10-100 ms; here it costs that
//! thread alone. Whatever is waiting when the thread wakes is handled as one batch:
//! appends in order, then at most one state file write and one fsync of the log
//! and journal, however many were asked for.
//!
//! Failures (disk full, read-only) are reported to the hub only when the state
//! changes (working -> failing -> working), so it can tell the clients once.

use super::{SavedPrompt, SessionState, Store};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

/// One durable change, in the order the hub made it.
pub enum StoreOp {
    /// A stamped broadcast frame for the current session's log.
    Append(String),
    /// A prompt joined the queue.
    QueueAdd(SavedPrompt),
    /// A prompt was cancelled.
    QueueRemove(u64),
    /// A prompt started running.
    QueueRun(u64),
    /// A shell command started (its id).
    ShellStart(u64),
    /// A shell command ended.
    ShellEnd(u64),
    /// A run ended; `waiting` is the queue left, for compaction.
    QueueDone { id: u64, waiting: Vec<SavedPrompt> },
    /// The session state (key, Claude id, reserved `seq`).
    SaveState(SessionState),
    /// A new session log from here on.
    SwitchLog(String),
    /// A line for the approvals' audit log.
    Audit(String),
    /// Final sync; the reply says the thread has finished.
    Close(Sender<()>),
}

/// What the store thread tells the hub: `Err(why)` when writing starts failing,
/// `Ok(())` when it works again.
pub type Report = Box<dyn Fn(Result<(), String>) + Send>;

/// The hub's side: sending never blocks.
#[derive(Clone)]
pub struct StoreHandle {
    tx: Sender<StoreOp>,
}

impl StoreHandle {
    pub fn send(&self, op: StoreOp) {
        // The thread only ends after `Close`; nothing to do if it died.
        let _ = self.tx.send(op);
    }

    /// Asks for a final sync and waits for it, at most `wait` (shutdown only).
    pub fn close(&self, wait: Duration) {
        let (tx, rx) = mpsc::channel();
        self.send(StoreOp::Close(tx));
        if rx.recv_timeout(wait).is_err() {
            log::warn!("store: the final sync did not finish in {wait:?}");
        }
    }
}

/// Starts the store thread with the opened store.
pub fn spawn(store: Store, report: Report) -> std::io::Result<StoreHandle> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("store".into())
        .stack_size(256 << 10)
        .spawn(move || serve(store, &rx, &report))?;
    Ok(StoreHandle { tx })
}

fn serve(mut store: Store, rx: &Receiver<StoreOp>, report: &Report) {
    let mut failing = false;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let mut result = Ok(());
        let mut state = None;
        let mut sync = false;
        let mut closed = None;
        for op in batch {
            let r = match op {
                StoreOp::Append(line) => store.append(&line),
                StoreOp::QueueAdd(p) => {
                    let r = store.queue_add(&p);
                    log::debug!("store: journal: prompt {} added", p.id);
                    r
                }
                StoreOp::QueueRemove(id) => store.queue_remove(id),
                StoreOp::ShellStart(id) => {
                    let r = store.shell_start(id);
                    log::debug!("store: journal: shell {id} started");
                    r
                }
                StoreOp::ShellEnd(id) => store.shell_end(id),
                StoreOp::QueueRun(id) => store.queue_run(id),
                StoreOp::QueueDone { id, waiting } => {
                    sync = true;
                    store.queue_done(id, &waiting)
                }
                StoreOp::SaveState(s) => {
                    state = Some(s);
                    Ok(())
                }
                StoreOp::SwitchLog(key) => store.switch_log(&key),
                StoreOp::Audit(line) => store.audit(&line),
                StoreOp::Close(reply) => {
                    sync = true;
                    closed = Some(reply);
                    Ok(())
                }
            };
            if let Err(e) = r {
                result = Err(e.to_string());
            }
        }
        if let Some(s) = state
            && let Err(e) = store.save_state(&s)
        {
            result = Err(e.to_string());
        }
        if sync && let Err(e) = store.sync() {
            result = Err(e.to_string());
        }
        match result {
            Err(why) => {
                if !failing {
                    log::error!("store: {why}");
                    failing = true;
                    report(Err(why));
                }
            }
            Ok(()) => {
                if failing {
                    log::info!("store: writing again");
                    failing = false;
                    report(Ok(()));
                }
            }
        }
        if let Some(reply) = closed {
            let _ = reply.send(());
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    #[test]
    fn senders_never_wait_for_a_slow_disk() {
        let dir = std::env::temp_dir().join(format!("homeclaude-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (store, rec) = Store::open(&dir, Duration::from_millis(200));
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = reports.clone();
        let handle = spawn(
            store,
            Box::new(move |r| seen.lock().unwrap().push(r.is_ok())),
        )
        .unwrap();
        let t = Instant::now();
        for i in 1..=100 {
            handle.send(StoreOp::Append(format!(
                r#"{{"seq":{i},"type":"system","message":"m"}}"#
            )));
            handle.send(StoreOp::SaveState(rec.session.clone()));
            handle.send(StoreOp::QueueDone {
                id: i,
                waiting: vec![],
            });
        }
        // 100 syncs at 200 ms each would take 20 s if anyone waited for them.
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
        handle.close(Duration::from_secs(30));
        let (_, again) = Store::open(&dir, Duration::ZERO);
        assert_eq!(again.session.seq, 100, "every append reached the log");
        assert!(reports.lock().unwrap().is_empty(), "no failure to report");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
