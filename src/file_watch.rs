//! The `files` thread: watches the workdir with inotify (through rustix, no event
//! crate) and tells the hub what changed, so every browser gets `file_update`.
//!
//! One watch per directory, added at start by walking the tree and for each new
//! directory as it appears. Hidden names (`--files-hidden`, which holds `.git` by
//! default) are never watched or reported, and neither is anything under `.git/`
//! nor our own temporary upload files, nor build and package trees ([`UNWATCHED`]:
//! `node_modules`, `target`, ...). Events on one path within [`DEBOUNCE`] are
//! merged (a shell's `echo > f` is a create and a close-write: one `create`).
//!
//! Limits: at most `--watch-max` directories are watched (default 4096), and never
//! more than the kernel's `fs.inotify.max_user_watches` allows. Past either, the
//! directories left out are not watched: changes in them are not reported (the Files
//! sheet still lists them when opened); a warning says so once. At most
//! [`MAX_PER_FLUSH`] changes are sent per flush; a burst beyond that (an `npm
//! install`) is cut short with a log line.

use crate::files::Files;
use crate::hub::HubHandle;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;
use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long changes are gathered before they are sent.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Most changes sent in one flush.
const MAX_PER_FLUSH: usize = 200;

/// Directories never watched (nor reported): build output and installed packages,
/// thousands of directories that change by the thousand and say nothing to a person
/// reading the page. They are still listed and served by the Files sheet.
const UNWATCHED: &[&str] = &["node_modules", "target", ".venv", "__pycache__"];

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    /// Two changes to one path within a flush, as one (`None`: nothing to tell,
    /// created and deleted again).
    fn then(self, next: Action) -> Option<Action> {
        use Action::*;
        Some(match (self, next) {
            (Create, Delete) => return None,
            (Create, _) => Create,
            (_, Delete) => Delete,
            (Delete, _) => Update,
            (Update, _) => Update,
        })
    }
}

/// Starts the `files` thread. Errors only when inotify itself is unavailable.
pub fn spawn(
    files: Arc<Files>,
    max_dirs: usize,
    started: std::time::SystemTime,
    hub: HubHandle,
) -> io::Result<()> {
    let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
    let mut watcher = Watcher {
        fd,
        dirs: HashMap::new(),
        files,
        max_dirs,
        warned: false,
        pending: Vec::new(),
        since: None,
        started,
        hub,
    };
    std::thread::Builder::new()
        .name("files".into())
        .stack_size(256 << 10)
        .spawn(move || {
            // The first walk here, not before: a big tree must not delay start-up.
            watcher.add_tree("");
            log::info!(
                "files: watching {} director{} of the workdir for changes",
                watcher.dirs.len(),
                if watcher.dirs.len() == 1 { "y" } else { "ies" }
            );
            watcher.run()
        })?;
    Ok(())
}

struct Watcher {
    fd: OwnedFd,
    /// Watch descriptor -> the directory, relative to the workdir ("" for itself).
    dirs: HashMap<i32, String>,
    files: Arc<Files>,
    max_dirs: usize,
    warned: bool,
    /// Changes not sent yet, in order, one per path.
    pending: Vec<(String, Option<Action>)>,
    /// When the first pending change came.
    since: Option<Instant>,
    /// When this server started, before it served anything: an upload's temporary
    /// file older than that was left by a server that stopped mid-upload (see
    /// [`stale_upload`]).
    started: std::time::SystemTime,
    hub: HubHandle,
}

/// An upload's temporary file (a regular file, named as [`crate::files`] names
/// them) last written a second or more before this server started: nothing will
/// finish or remove it. (A file's times come from the kernel's coarse clock,
/// a few ms behind; the second keeps an upload of this server's first moments
/// safe.) Swept on the first walk of the tree, which the watcher does anyway.
fn stale_upload(entry: &std::fs::DirEntry, name: &str, started: std::time::SystemTime) -> bool {
    name.starts_with(crate::files::TEMP_PREFIX)
        && name.ends_with(".part")
        && entry.file_type().is_ok_and(|t| t.is_file())
        && entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t + std::time::Duration::from_secs(1) < started)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Watcher {
    fn mask() -> WatchFlags {
        WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::ONLYDIR
            | WatchFlags::DONT_FOLLOW
            | WatchFlags::EXCL_UNLINK
    }

    /// Watches `rel` and the directories under it, breadth first, up to the cap.
    /// For a directory that just appeared, what is already in it is returned as
    /// created: it may have been made before its watch was in place.
    fn add_tree(&mut self, rel: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut queue = std::collections::VecDeque::from([rel.to_string()]);
        while let Some(dir) = queue.pop_front() {
            if self.dirs.len() >= self.max_dirs {
                self.warn_full(&format!("--watch-max {}", self.max_dirs));
                return found;
            }
            let path = self.files.root().join(&dir);
            match inotify::add_watch(&self.fd, &path, Self::mask()) {
                Ok(wd) => {
                    self.dirs.insert(wd, dir.clone());
                }
                Err(Errno::NOSPC) => {
                    self.warn_full("the kernel's fs.inotify.max_user_watches");
                    return found;
                }
                Err(e) => {
                    log::debug!("files: cannot watch {dir:?}: {e}");
                    continue;
                }
            }
            let Ok(read) = std::fs::read_dir(&path) else {
                continue;
            };
            for entry in read.flatten() {
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if rel.is_empty() && stale_upload(&entry, name, self.started) {
                    let gone = path.join(name);
                    match std::fs::remove_file(&gone) {
                        Ok(()) => log::info!(
                            "files: removed {}, left by an upload the server did not finish",
                            gone.display()
                        ),
                        Err(e) => log::debug!("files: cannot remove {}: {e}", gone.display()),
                    }
                    continue;
                }
                if self.ignored(name) || self.files.is_forbidden(&path.join(name)) {
                    continue;
                }
                if !rel.is_empty() {
                    found.push(join(&dir, name));
                }
                if is_dir {
                    queue.push_back(join(&dir, name));
                }
            }
        }
        found
    }

    fn ignored(&self, name: &str) -> bool {
        name == ".git" || UNWATCHED.contains(&name) || self.files.is_hidden(name)
    }

    fn warn_full(&mut self, limit: &str) {
        if !self.warned {
            self.warned = true;
            log::warn!(
                "files: watching {} directories, the most {limit} allows; changes in the \
                 others are not reported to the page (raise --watch-max or the limit)",
                self.dirs.len()
            );
        }
    }

    fn run(mut self) {
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 16 << 10];
        loop {
            let timeout = self.since.map(|t| {
                let left = DEBOUNCE.saturating_sub(t.elapsed());
                Timespec {
                    tv_sec: left.as_secs() as _,
                    tv_nsec: left.subsec_nanos() as _,
                }
            });
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => {
                    log::error!("files: poll failed: {e}; file changes are no longer reported");
                    return;
                }
            }
            if let Err(e) = self.drain(&mut buf) {
                log::error!(
                    "files: reading inotify failed: {e}; file changes are no longer reported"
                );
                return;
            }
            if self.since.is_some_and(|t| t.elapsed() >= DEBOUNCE) {
                self.flush();
            }
        }
    }

    /// Reads every event waiting.
    fn drain(&mut self, buf: &mut [MaybeUninit<u8>]) -> io::Result<()> {
        let mut new_dirs = Vec::new();
        let mut gone_dirs = Vec::new();
        let mut changes = Vec::new();
        {
            let mut reader = inotify::Reader::new(&self.fd, buf);
            loop {
                let event = match reader.next() {
                    Ok(e) => e,
                    Err(Errno::AGAIN) => break,
                    Err(Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                };
                let flags = event.events();
                if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                    log::warn!(
                        "files: the kernel's inotify queue overflowed; some changes were not reported"
                    );
                    continue;
                }
                if flags.contains(ReadFlags::IGNORED) {
                    self.dirs.remove(&event.wd());
                    continue;
                }
                let Some(dir) = self.dirs.get(&event.wd()) else {
                    continue;
                };
                let Some(name) = event.file_name().and_then(|n| n.to_str().ok()) else {
                    continue;
                };
                if self.ignored(name) {
                    continue;
                }
                let path = join(dir, name);
                if self.files.is_forbidden(&self.files.root().join(&path)) {
                    continue;
                }
                let action = if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
                    if flags.contains(ReadFlags::ISDIR) {
                        new_dirs.push(path.clone());
                    }
                    Action::Create
                } else if flags.intersects(ReadFlags::DELETE | ReadFlags::MOVED_FROM) {
                    // A directory moved away keeps its watches (they follow the
                    // inode): wherever it went, its changes are no longer ours.
                    if flags.contains(ReadFlags::MOVED_FROM | ReadFlags::ISDIR) {
                        gone_dirs.push(path.clone());
                    }
                    Action::Delete
                } else if flags.contains(ReadFlags::CLOSE_WRITE) {
                    Action::Update
                } else {
                    continue;
                };
                changes.push((path, action));
            }
        }
        for (path, action) in changes {
            self.note(path, action);
        }
        // Before the new ones: a rename within the tree is a move away, then a
        // move in, which watches the directory again under its new name.
        for dir in gone_dirs {
            self.unwatch_tree(&dir);
        }
        for dir in new_dirs {
            if !self.dirs.values().any(|d| *d == dir) {
                for path in self.add_tree(&dir) {
                    self.note(path, Action::Create);
                }
            }
        }
        Ok(())
    }

    /// Stops watching `rel` and the directories under it.
    fn unwatch_tree(&mut self, rel: &str) {
        let below = format!("{rel}/");
        let gone: Vec<i32> = self
            .dirs
            .iter()
            .filter(|(_, d)| *d == rel || d.starts_with(&below))
            .map(|(wd, _)| *wd)
            .collect();
        for wd in gone {
            self.dirs.remove(&wd);
            if let Err(e) = inotify::remove_watch(&self.fd, wd) {
                log::debug!("files: cannot stop watching a directory moved away: {e}");
            }
        }
    }

    fn note(&mut self, path: String, action: Action) {
        if self.since.is_none() {
            self.since = Some(Instant::now());
        }
        match self.pending.iter_mut().find(|(p, _)| *p == path) {
            Some((_, Some(old))) => {
                let merged = old.then(action);
                self.pending
                    .iter_mut()
                    .filter(|(p, _)| *p == path)
                    .for_each(|e| e.1 = merged);
            }
            Some(entry) => entry.1 = Some(action),
            None => self.pending.push((path, Some(action))),
        }
    }

    fn flush(&mut self) {
        self.since = None;
        let changes: Vec<(String, Action)> = self
            .pending
            .drain(..)
            .filter_map(|(p, a)| Some((p, a?)))
            .collect();
        if changes.len() > MAX_PER_FLUSH {
            log::info!(
                "files: {} changes at once; the first {MAX_PER_FLUSH} are reported",
                changes.len()
            );
        }
        let changes: Vec<_> = changes.into_iter().take(MAX_PER_FLUSH).collect();
        if !changes.is_empty() {
            self.hub.file_updates(changes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Action::*;

    #[test]
    fn changes_to_one_path_merge() {
        assert_eq!(Create.then(Update), Some(Create));
        assert_eq!(Create.then(Delete), None);
        assert_eq!(Update.then(Delete), Some(Delete));
        assert_eq!(Delete.then(Create), Some(Update));
        assert_eq!(Update.then(Update), Some(Update));
    }
}
