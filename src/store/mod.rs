//! Durable state in the data dir: the event log of each session, the prompt queue,
//! and which session is current.
//!
//! Layout (all under `<data_dir>`):
//! - `history/<key>.jsonl`: one session's broadcast events, one stamped JSON frame a
//!   line, exactly as sent. Appended as events happen, fsynced at the end of every
//!   run and at shutdown. A torn last line (a crash mid-write) is detected by its
//!   missing newline or bad JSON and ignored, never fatal.
//! - `state.json`: the current session (its log key, the Claude session id, whether
//!   that id can be resumed) and the highest `seq` handed out, so `seq` stays
//!   monotonic across restarts. Rewritten atomically (temp file + rename).
//! - `queue.jsonl`: a journal of queue changes (`add`, `remove`, `run`, `done`)
//!   and of shell commands (`shell_start`, `shell_end`), appended on every change
//!   without fsync and compacted at start-up, so the queue survives a crash and an
//!   interrupted run or shell command can be reported. A journal,
//!   not a rewritten snapshot: prompts may be large, and the hub must not rewrite
//!   megabytes on every change.
//!
//! While the server runs, every write happens on the store thread ([`writer`]), a
//! moment after the hub broadcast the event: a process killed with SIGKILL can lose
//! the changes of its last instant (those the store thread had not yet written), a
//! power cut what came after the last run's fsync. `seq` cannot repeat either way:
//! it is reserved ahead in `state.json`, the first block before anything is served.
//!
//! Retention: the newest [`KEEP_SESSIONS`] session logs are kept, and older ones
//! are deleted while the total passes [`KEEP_BYTES`]. Every write failure (disk full,
//! read-only) is returned as a [`StoreError`]; the hub keeps serving live events and
//! tells the clients.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod writer;

/// Session logs kept at most.
pub const KEEP_SESSIONS: usize = 200;
/// Total size of session logs above which the oldest are deleted.
pub const KEEP_BYTES: u64 = 200 << 20;
/// Longest log line read back; longer lines were never written by us.
const MAX_LINE: usize = 16 << 20;

/// A failed read or write of durable state.
#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub error: std::io::Error,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

/// A prompt as kept in `queue.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPrompt {
    pub id: u64,
    pub username: String,
    pub text: String,
    /// Workdir files attached to the prompt (absent in older journals).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
}

/// One line of the queue journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum QueueOp {
    Add(SavedPrompt),
    Remove(u64),
    Run(u64),
    Done(u64),
    /// A shell command started (its id, the `seq` of its `shell_start`).
    ShellStart(u64),
    ShellEnd(u64),
}

/// Journal lines after which the hub's next change compacts it.
const JOURNAL_COMPACT_LINES: usize = 1000;

/// The current session, as kept in `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// Name of this session's log file (without `.jsonl`).
    pub key: String,
    /// The Claude session id, once known.
    pub claude_id: Option<String>,
    /// Whether a run in this session succeeded, so `--resume` can be used.
    pub resumable: bool,
    /// `seq` of this session's first event: replaying "the whole session" starts here.
    #[serde(default)]
    pub first_seq: u64,
    /// Every `seq` up to this one may have been handed out (it is written ahead in
    /// blocks, so a crash can only make `seq` jump forward, never repeat).
    pub seq: u64,
    /// Next queue id to hand out.
    #[serde(default)]
    pub next_prompt: u64,
    /// The permission mode chosen for this session; `None`: the configured one.
    #[serde(default)]
    pub permission_mode: Option<String>,
}

/// What was found at start-up.
#[derive(Debug, Default)]
pub struct Recovered {
    pub session: SessionState,
    pub waiting: Vec<SavedPrompt>,
    /// A prompt that was running when the server stopped without finishing it.
    pub interrupted: Option<SavedPrompt>,
    /// Shell commands that were running then (their ids): nobody will see them end.
    pub lost_shells: Vec<u64>,
    /// Problems met while recovering (logged; never fatal).
    pub warnings: Vec<String>,
    /// The `seq` to continue from; `session.seq` is the reservation above it
    /// (see [`Store::reserve`]).
    pub start_seq: u64,
}

/// The open store. Owned by the store thread ([`writer`]) once the server runs.
pub struct Store {
    dir: PathBuf,
    log: Option<File>,
    log_key: String,
    journal: Option<File>,
    journal_lines: usize,
    /// Shell commands running, kept through compaction.
    shells: Vec<u64>,
    /// Test hook (`HOMECLAUDE_TEST_FSYNC_DELAY_MS` with `HOMECLAUDE_TEST_HOOKS=1`):
    /// every fsync takes this much longer, like a Raspberry Pi's SD card.
    fsync_delay: Duration,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError {
        path: path.to_path_buf(),
        error,
    }
}

/// Writes a file atomically: a temp file, fsync, rename.
fn write_atomic(path: &Path, bytes: &[u8], fsync_delay: Duration) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    fsync(&f, fsync_delay).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// `fdatasync`, plus the test hook's delay.
fn fsync(f: &File, delay: Duration) -> std::io::Result<()> {
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    f.sync_data()
}

/// A new, sortable session key: creation time in milliseconds.
pub fn new_key() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{ms:015}")
}

/// Opens a log for reading: regular files only (a device or fifo in its place
/// would never end).
fn open_log(path: &Path) -> std::io::Result<Option<File>> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => File::open(path).map(Some),
        Ok(_) => Err(std::io::Error::other("not a regular file")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads one line into `buf`, keeping at most [`MAX_LINE`] bytes of it (the rest of
/// an over-long line is consumed and dropped). Returns the bytes consumed.
fn read_line_capped(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.clear();
    let mut total = 0;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(total);
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if buf.len() < MAX_LINE {
            let room = (MAX_LINE - buf.len()).min(take);
            buf.extend_from_slice(&chunk[..room]);
        }
        reader.consume(take);
        total += take;
        if done {
            return Ok(total);
        }
    }
}

/// Reads one session log forward, a line at a time: what a replay sends. It reads
/// while the store thread appends; a last line without its newline is not taken
/// (it is being written, or torn).
pub struct LogReader {
    reader: BufReader<File>,
    after: u64,
    buf: Vec<u8>,
}

impl LogReader {
    /// Opens the log at `path` for the events after `after`; `None` if it does not
    /// exist (nothing was logged yet).
    pub fn open(path: &Path, after: u64) -> std::io::Result<Option<LogReader>> {
        Ok(open_log(path)?.map(|f| LogReader {
            reader: BufReader::with_capacity(64 << 10, f),
            after,
            buf: Vec::new(),
        }))
    }

    /// The next whole event with `seq > after`, or `None` at the end. Damaged lines
    /// are skipped.
    pub fn next_event(&mut self) -> std::io::Result<Option<(u64, String)>> {
        loop {
            let n = read_line_capped(&mut self.reader, &mut self.buf)?;
            if n == 0 || !self.buf.ends_with(b"\n") {
                return Ok(None);
            }
            if n > MAX_LINE {
                continue;
            }
            let Ok(line) = std::str::from_utf8(&self.buf) else {
                continue;
            };
            let line = line.trim_end();
            if let Some(seq) = fast_seq(line)
                && seq > self.after
            {
                return Ok(Some((seq, line.to_string())));
            }
        }
    }
}

/// The `seq` of a line this server wrote (`{"seq":N,...}`, `seq` first), without
/// parsing the whole JSON: replaying a 32 MiB log must cost reads, not parses. A line
/// of any other shape is parsed.
fn fast_seq(line: &str) -> Option<u64> {
    if let Some(rest) = line.strip_prefix("{\"seq\":") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest.as_bytes().get(digits) == Some(&b',') && line.ends_with('}') {
            return rest[..digits].parse().ok();
        }
    }
    line_seq(line)
}

/// The log file of session `key` under data dir `dir`.
pub fn log_path(dir: &Path, key: &str) -> PathBuf {
    dir.join("history").join(format!("{key}.jsonl"))
}

/// The `seq` of a stamped frame line, if the line is whole and valid.
fn line_seq(line: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("seq")?.as_u64()
}

impl Store {
    fn history(&self) -> PathBuf {
        self.dir.join("history")
    }

    /// The log file of session `key` (read by replays on connection threads).
    pub fn log_path(&self, key: &str) -> PathBuf {
        log_path(&self.dir, key)
    }

    /// Opens the store, recovering state, queue and the highest `seq` in the logs.
    pub fn open(dir: &Path, fsync_delay: Duration) -> (Store, Recovered) {
        let mut store = Store {
            dir: dir.to_path_buf(),
            log: None,
            log_key: String::new(),
            journal: None,
            journal_lines: 0,
            shells: Vec::new(),
            fsync_delay,
        };
        let mut rec = Recovered::default();
        if let Err(e) = std::fs::create_dir_all(store.history()) {
            rec.warnings
                .push(format!("cannot create {}: {e}", store.history().display()));
        }
        match std::fs::read(dir.join("state.json")) {
            Ok(bytes) => match serde_json::from_slice::<SessionState>(&bytes) {
                Ok(s) => rec.session = s,
                Err(e) => rec.warnings.push(format!(
                    "state.json unreadable ({e}); starting a new session"
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => rec.warnings.push(format!("state.json: {e}")),
        }
        if rec.session.key.is_empty() {
            rec.session.key = new_key();
        }
        // The log may hold later seqs than state.json if we crashed between the two.
        let log_max = store.scan_last_seq(&rec.session.key, &mut rec.warnings);
        rec.session.seq = rec.session.seq.max(log_max);
        store.replay_journal(&mut rec);
        // Start the journal afresh with what is left: the waiting prompts. The
        // interrupted one is reported by the hub, not run again.
        if let Err(e) = store.compact(&rec.waiting) {
            rec.warnings
                .push(format!("cannot rewrite the queue journal: {e}"));
        }
        let max_id = rec
            .waiting
            .iter()
            .chain(rec.interrupted.as_ref())
            .map(|p| p.id)
            .max()
            .unwrap_or(0);
        rec.session.next_prompt = rec.session.next_prompt.max(max_id + 1).max(1);
        store.log_key = rec.session.key.clone();
        (store, rec)
    }

    /// The highest valid `seq` in a session log; a torn tail is cut off so later
    /// appends start on a fresh line.
    fn scan_last_seq(&self, key: &str, warnings: &mut Vec<String>) -> u64 {
        let path = self.log_path(key);
        let file = match open_log(&path) {
            Ok(Some(f)) => f,
            Ok(None) => return 0,
            Err(e) => {
                warnings.push(format!("{}: {e}", path.display()));
                return 0;
            }
        };
        let mut reader = BufReader::new(file);
        let mut last = 0;
        let mut good_len = 0u64;
        let mut buf = Vec::new();
        loop {
            match read_line_capped(&mut reader, &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let whole = buf.ends_with(b"\n");
                    let seq = std::str::from_utf8(&buf)
                        .ok()
                        .and_then(|l| line_seq(l.trim_end()));
                    match (whole, seq) {
                        (true, Some(seq)) => {
                            last = last.max(seq);
                            good_len += n as u64;
                        }
                        (true, None) => {
                            warnings.push(format!("{}: skipped a damaged line", path.display()));
                            good_len += n as u64;
                        }
                        (false, _) => {
                            warnings.push(format!(
                                "{}: ignored a torn last line ({n} bytes)",
                                path.display()
                            ));
                            break;
                        }
                    }
                }
                Err(e) => {
                    warnings.push(format!("{}: {e}", path.display()));
                    break;
                }
            }
        }
        if let Ok(meta) = std::fs::metadata(&path)
            && meta.is_file()
            && meta.len() > good_len
            && let Ok(f) = OpenOptions::new().write(true).open(&path)
        {
            let _ = f.set_len(good_len);
        }
        last
    }

    /// Reserves the first block of `seq` before the server serves anybody: written
    /// here, synchronously, so a crash right after start-up cannot reuse a `seq`.
    /// Later blocks are reserved by the hub through the store thread, well ahead.
    pub fn reserve(&self, rec: &mut Recovered, block: u64) -> Result<(), StoreError> {
        rec.start_seq = rec.session.seq;
        rec.session.seq += block;
        self.save_state(&rec.session)
    }

    /// Appends one stamped frame to the current session's log (no fsync).
    pub fn append(&mut self, line: &str) -> Result<(), StoreError> {
        if self.log.is_none() {
            let path = self.log_path(&self.log_key);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io_err(&path))?;
            self.log = Some(file);
        }
        let path = self.log_path(&self.log_key);
        let Some(file) = self.log.as_mut() else {
            return Ok(());
        };
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        // One write call per line: a crash leaves at most one torn line at the end.
        file.write_all(&bytes).map_err(|e| {
            // Reopen next time: after ENOSPC the file offset is still right for
            // O_APPEND, but a fresh handle also recovers from a replaced file.
            self.log = None;
            StoreError {
                path: path.clone(),
                error: e,
            }
        })
    }

    /// Makes everything appended so far durable.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        let path = self.log_path(&self.log_key);
        match &self.log {
            Some(f) => fsync(f, self.fsync_delay).map_err(io_err(&path)),
            None => Ok(()),
        }
    }

    /// Starts a new session log; the old one is synced and kept.
    pub fn switch_log(&mut self, key: &str) -> Result<(), StoreError> {
        let synced = self.sync();
        self.log = None;
        self.log_key = key.to_string();
        self.enforce_retention();
        synced
    }

    /// Saves the current session state.
    pub fn save_state(&self, state: &SessionState) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec_pretty(state).unwrap_or_default();
        write_atomic(&self.dir.join("state.json"), &bytes, self.fsync_delay)
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join("queue.jsonl")
    }

    /// Rebuilds the queue from the journal: waiting prompts in order, and the one
    /// that was running without a `done`.
    fn replay_journal(&self, rec: &mut Recovered) {
        let path = self.journal_path();
        let file = match open_log(&path) {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(e) => {
                rec.warnings.push(format!("{}: {e}", path.display()));
                return;
            }
        };
        let mut waiting: Vec<SavedPrompt> = Vec::new();
        let mut running: Option<SavedPrompt> = None;
        let mut shells: Vec<u64> = Vec::new();
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        while let Ok(n) = read_line_capped(&mut reader, &mut line) {
            if n == 0 {
                break;
            }
            // A torn or damaged line is skipped; the lines around it still count.
            let Ok(op) = serde_json::from_slice::<QueueOp>(&line) else {
                continue;
            };
            match op {
                QueueOp::Add(p) => waiting.push(p),
                QueueOp::Remove(id) => waiting.retain(|p| p.id != id),
                QueueOp::Run(id) => {
                    if let Some(i) = waiting.iter().position(|p| p.id == id) {
                        running = Some(waiting.remove(i));
                    }
                }
                QueueOp::Done(id) => {
                    if running.as_ref().is_some_and(|p| p.id == id) {
                        running = None;
                    }
                }
                QueueOp::ShellStart(id) => shells.push(id),
                QueueOp::ShellEnd(id) => shells.retain(|&s| s != id),
            }
        }
        rec.waiting = waiting;
        rec.interrupted = running;
        rec.lost_shells = shells;
    }

    /// Rewrites the journal to hold just `waiting` and the shell commands running
    /// (atomically).
    pub fn compact(&mut self, waiting: &[SavedPrompt]) -> Result<(), StoreError> {
        let ops = waiting
            .iter()
            .map(|p| QueueOp::Add(p.clone()))
            .chain(self.shells.iter().map(|&id| QueueOp::ShellStart(id)));
        let mut bytes = Vec::new();
        let mut lines = 0;
        for op in ops {
            let _ = serde_json::to_writer(&mut bytes, &op);
            bytes.push(b'\n');
            lines += 1;
        }
        self.journal = None;
        write_atomic(&self.journal_path(), &bytes, self.fsync_delay)?;
        self.journal_lines = lines;
        Ok(())
    }

    fn journal(&mut self, op: &QueueOp) -> Result<(), StoreError> {
        let path = self.journal_path();
        if self.journal.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io_err(&path))?;
            self.journal = Some(f);
        }
        let mut line = serde_json::to_vec(op).unwrap_or_default();
        line.push(b'\n');
        let Some(f) = self.journal.as_mut() else {
            return Ok(());
        };
        self.journal_lines += 1;
        f.write_all(&line).map_err(|e| {
            self.journal = None;
            StoreError { path, error: e }
        })
    }

    /// A prompt joined the queue.
    pub fn queue_add(&mut self, p: &SavedPrompt) -> Result<(), StoreError> {
        self.journal(&QueueOp::Add(p.clone()))
    }

    /// A prompt was cancelled.
    pub fn queue_remove(&mut self, id: u64) -> Result<(), StoreError> {
        self.journal(&QueueOp::Remove(id))
    }

    /// A prompt started running.
    pub fn queue_run(&mut self, id: u64) -> Result<(), StoreError> {
        self.journal(&QueueOp::Run(id))
    }

    /// A shell command started.
    pub fn shell_start(&mut self, id: u64) -> Result<(), StoreError> {
        self.shells.push(id);
        self.journal(&QueueOp::ShellStart(id))
    }

    /// A shell command ended (however it ended).
    pub fn shell_end(&mut self, id: u64) -> Result<(), StoreError> {
        self.shells.retain(|&s| s != id);
        self.journal(&QueueOp::ShellEnd(id))
    }

    /// A run ended (however it ended); compacts the journal when it grew long.
    pub fn queue_done(&mut self, id: u64, waiting: &[SavedPrompt]) -> Result<(), StoreError> {
        self.journal(&QueueOp::Done(id))?;
        if let Some(f) = &self.journal {
            let _ = fsync(f, self.fsync_delay);
        }
        if self.journal_lines > JOURNAL_COMPACT_LINES + waiting.len() {
            self.compact(waiting)?;
        }
        Ok(())
    }

    /// Calls `visit(seq, line)` for each event of session `key` with `seq > after`,
    /// in order. Damaged or torn lines are skipped.
    #[cfg(test)]
    pub fn read_after(
        &self,
        key: &str,
        after: u64,
        mut visit: impl FnMut(u64, &str),
    ) -> Result<(), StoreError> {
        let path = self.log_path(key);
        let Some(mut reader) = LogReader::open(&path, after).map_err(io_err(&path))? else {
            return Ok(());
        };
        while let Some((seq, line)) = reader.next_event().map_err(io_err(&path))? {
            visit(seq, &line);
        }
        Ok(())
    }

    /// Appends one line to `audit.jsonl`: every approval asked and answered (who,
    /// when, what, the decision), kept across sessions.
    pub fn audit(&mut self, line: &str) -> Result<(), StoreError> {
        let path = self.dir.join("audit.jsonl");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        f.write_all(&bytes).map_err(io_err(&path))
    }

    /// Deletes the oldest session logs beyond the retention limits.
    fn enforce_retention(&self) {
        let Ok(entries) = std::fs::read_dir(self.history()) else {
            return;
        };
        let mut logs: Vec<(String, u64)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let key = name.strip_suffix(".jsonl")?.to_string();
                Some((key, e.metadata().ok()?.len()))
            })
            .collect();
        logs.sort();
        let mut total: u64 = logs.iter().map(|(_, len)| len).sum();
        let mut count = logs.len();
        for (key, len) in logs {
            if count <= 1 || (count <= KEEP_SESSIONS && total <= KEEP_BYTES) {
                break;
            }
            if key == self.log_key {
                continue;
            }
            if std::fs::remove_file(self.log_path(&key)).is_ok() {
                log::info!("store: deleted old session log {key} ({len} bytes)");
                total -= len;
                count -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("homeclaude-store-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn seq_and_queue_survive_a_reopen() {
        let d = dir("reopen");
        let (mut store, rec) = Store::open(&d, Duration::ZERO);
        assert_eq!(rec.session.seq, 0);
        let key = rec.session.key.clone();
        store
            .append(r#"{"seq":1,"type":"system","message":"a"}"#)
            .unwrap();
        store
            .append(r#"{"seq":2,"type":"system","message":"b"}"#)
            .unwrap();
        let p = SavedPrompt {
            id: 7,
            username: "U".into(),
            text: "t".into(),
            attachments: vec![],
        };
        let q = |id| SavedPrompt {
            id,
            username: "U".into(),
            text: format!("p{id}"),
            attachments: vec![],
        };
        store.queue_add(&q(5)).unwrap();
        store.queue_run(5).unwrap();
        store.queue_done(5, &[]).unwrap();
        store.queue_add(&p).unwrap();
        store.queue_add(&q(8)).unwrap();
        store.queue_add(&q(9)).unwrap();
        store.queue_remove(8).unwrap();
        store.queue_run(7).unwrap();
        let mut state = rec.session.clone();
        state.seq = 1; // behind the log: the log wins
        store.save_state(&state).unwrap();
        drop(store);
        let (store, rec) = Store::open(&d, Duration::ZERO);
        assert_eq!(rec.session.key, key);
        assert_eq!(rec.session.seq, 2);
        assert_eq!(rec.waiting, vec![q(9)]);
        assert_eq!(rec.interrupted, Some(p));
        assert_eq!(rec.session.next_prompt, 10);
        let mut seen = Vec::new();
        store.read_after(&key, 1, |seq, _| seen.push(seq)).unwrap();
        assert_eq!(seen, vec![2]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn shell_commands_still_running_are_recovered_through_compaction_once() {
        let d = dir("shells");
        let (mut store, _) = Store::open(&d, Duration::ZERO);
        store.shell_start(11).unwrap();
        store.shell_start(12).unwrap();
        store.shell_end(11).unwrap();
        // Compaction (a long journal at a run's end) keeps the one still running.
        store.compact(&[]).unwrap();
        store.shell_start(13).unwrap();
        drop(store);
        let (store, rec) = Store::open(&d, Duration::ZERO);
        assert_eq!(rec.lost_shells, vec![12, 13]);
        drop(store);
        // Reported by that start, so not by the next one.
        let (_, rec) = Store::open(&d, Duration::ZERO);
        assert_eq!(rec.lost_shells, Vec::<u64>::new());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut() {
        let d = dir("torn");
        let (mut store, rec) = Store::open(&d, Duration::ZERO);
        store
            .append(r#"{"seq":5,"type":"system","message":"ok"}"#)
            .unwrap();
        store.save_state(&rec.session).unwrap();
        drop(store);
        let path = d.join("history").join(format!("{}.jsonl", rec.session.key));
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"seq":6,"type":"sys"#).unwrap();
        drop(f);
        let (mut store, rec2) = Store::open(&d, Duration::ZERO);
        assert_eq!(rec2.session.seq, 5);
        assert!(rec2.warnings.iter().any(|w| w.contains("torn")));
        store
            .append(r#"{"seq":6,"type":"system","message":"next"}"#)
            .unwrap();
        let mut seen = Vec::new();
        store
            .read_after(&rec.session.key, 0, |seq, line| {
                seen.push((seq, line.to_string()))
            })
            .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].0, 6);
        assert!(seen[1].1.contains("next"));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn an_unwritable_dir_is_an_error_not_a_panic() {
        let d = dir("ro");
        let (mut store, _) = Store::open(&d.join("missing/deeper"), Duration::ZERO);
        // create_dir_all succeeded, so make the history dir a file instead.
        let _ = std::fs::remove_dir_all(d.join("missing/deeper/history"));
        std::fs::write(d.join("missing/deeper/history"), b"not a dir").unwrap();
        assert!(store.append("{\"seq\":1}").is_err());
        std::fs::remove_dir_all(d).unwrap();
    }
}
