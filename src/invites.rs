//! Named invites: the people besides the owner who may log in, each with a role.
//!
//! `homeclaude invite --role collaborator --name Ann` (or the owner's settings
//! sheet) makes a random 256-bit login token for one person; only its SHA-256 is
//! kept, in `invites.json` in the data dir (mode 0600), with the name, role, when
//! it was made and when it expires. A leaked data dir therefore gives no login.
//! Revoking deletes the entry: the person's cookie names the invite's id, which no
//! longer resolves, and the watcher thread (woken by inotify when the file
//! changes, and by the clock when an invite expires) tells the hub, which closes
//! their sockets (4003).
//!
//! Writers (the CLI, the server's `/api/invites`) take an exclusive `flock` on
//! `invites.lock` around read-modify-write, so a CLI revoke and a sheet invite at
//! the same moment cannot undo each other. "Last seen" lives in a file of its own
//! (`invites-seen.json`) that only the server writes, so it can never bring a
//! revoked invite back. The hub never reads either file: connection threads do
//! (through [`Book`], re-read when the file changes) and the watcher does.

use crate::auth::{FileStamp, Role, file_stamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// How often the watcher looks at the invites file where inotify is unavailable
/// (revocation and expiry then reach open sockets within this, well inside the
/// promised second). With inotify it sleeps until something happens: an idle box
/// wakes for nothing.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(200);

/// Longest invite name, in characters.
const MAX_NAME: usize = 32;

/// One invite as stored (the token itself never is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// Random, public: it names the invite in cookies.
    pub id: String,
    pub name: String,
    /// `collaborator` or `viewer`.
    pub role: String,
    /// SHA-256 of the login token, hex.
    pub hash: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds; none: until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
}

impl Invite {
    pub fn role(&self) -> Role {
        if self.role == "collaborator" {
            Role::Collaborator
        } else {
            Role::Viewer
        }
    }

    pub fn live(&self, now: u64) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    invites: Vec<Invite>,
}

/// What went wrong with an invite command.
#[derive(Debug)]
pub enum InviteError {
    Io(PathBuf, std::io::Error),
    /// The file is not ours to read.
    Damaged(PathBuf, String),
    BadName(&'static str),
    BadRole(String),
    BadExpiry(String),
    /// An invite (live) has this name already.
    Taken(String),
    NotFound(String),
    Random(String),
}

impl fmt::Display for InviteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InviteError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            InviteError::Damaged(p, e) => write!(f, "{} is damaged: {e}", p.display()),
            InviteError::BadName(why) => write!(f, "bad name: {why}"),
            InviteError::BadRole(r) => {
                write!(f, "bad role {r:?}: expected collaborator or viewer")
            }
            InviteError::BadExpiry(e) => {
                write!(f, "bad expiry {e:?}: expected e.g. 7d, 12h, 30m or never")
            }
            InviteError::Taken(n) => {
                write!(f, "{n:?} is invited already; revoke it first")
            }
            InviteError::NotFound(n) => write!(f, "no invite named {n:?}"),
            InviteError::Random(e) => write!(f, "cannot get random bytes: {e}"),
        }
    }
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// The invites file's name in the data dir.
const FILE: &str = "invites.json";

fn seen_path(dir: &Path) -> PathBuf {
    dir.join("invites-seen.json")
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// SHA-256 of a token, hex: what the file keeps.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A name a person goes by on the page: printable, short, and never one the page
/// reads as someone else's ("Claude" marks the answers).
pub fn check_name(name: &str) -> Result<String, InviteError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(InviteError::BadName("empty"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(InviteError::BadName("longer than 32 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(InviteError::BadName("control characters"));
    }
    if ["claude", "user", "viewer"].contains(&name.to_lowercase().as_str()) {
        return Err(InviteError::BadName("reserved"));
    }
    Ok(name.to_string())
}

pub fn check_role(role: &str) -> Result<&'static str, InviteError> {
    match role {
        "collaborator" => Ok("collaborator"),
        "viewer" => Ok("viewer"),
        other => Err(InviteError::BadRole(other.to_string())),
    }
}

/// `7d`, `12h`, `30m`, `90s` or `never`.
pub fn parse_expiry(text: &str) -> Result<Option<Duration>, InviteError> {
    let t = text.trim();
    if t == "never" {
        return Ok(None);
    }
    let bad = || InviteError::BadExpiry(text.to_string());
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" | "" => Some(n),
        _ => None,
    }
    .filter(|s| *s > 0)
    .ok_or_else(bad)?;
    Ok(Some(Duration::from_secs(secs)))
}

fn read_file(dir: &Path) -> Result<File, InviteError> {
    let p = path(dir);
    match std::fs::read(&p) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| InviteError::Damaged(p, e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
        Err(e) => Err(InviteError::Io(p, e)),
    }
}

fn write_file(dir: &Path, file: &File) -> Result<(), InviteError> {
    let text = serde_json::to_string_pretty(file).unwrap_or_default();
    crate::auth::write_private_file(&path(dir), &text).map_err(|e| InviteError::Io(path(dir), e))
}

/// Holds the writers' lock for a read-modify-write of the invites file.
fn locked<T>(dir: &Path, f: impl FnOnce() -> Result<T, InviteError>) -> Result<T, InviteError> {
    use std::os::unix::fs::OpenOptionsExt;
    let lock_path = dir.join("invites.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| InviteError::Io(lock_path.clone(), e))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| InviteError::Io(lock_path, e.into()))?;
    // Released when `lock` is dropped (closed).
    f()
}

/// Makes an invite; returns it with its login token (shown once, never stored).
pub fn create(
    dir: &Path,
    name: &str,
    role: &str,
    expires_in: Option<Duration>,
) -> Result<(Invite, String), InviteError> {
    let name = check_name(name)?;
    let role = check_role(role)?;
    let token = crate::auth::random_token().map_err(|e| InviteError::Random(e.to_string()))?;
    let id = crate::auth::random_token().map_err(|e| InviteError::Random(e.to_string()))?[..16]
        .to_string();
    let created = now();
    let invite = Invite {
        id,
        name: name.clone(),
        role: role.to_string(),
        hash: hash(&token),
        created,
        expires: expires_in.map(|d| created.saturating_add(d.as_secs())),
    };
    locked(dir, || {
        let mut file = read_file(dir)?;
        // An expired invite's name may be given again.
        file.invites.retain(|i| i.live(created));
        if file
            .invites
            .iter()
            .any(|i| i.name.eq_ignore_ascii_case(&name))
        {
            return Err(InviteError::Taken(name.clone()));
        }
        file.invites.push(invite.clone());
        write_file(dir, &file)
    })?;
    Ok((invite, token))
}

/// Deletes the invite called `name` (expired ones too).
pub fn revoke(dir: &Path, name: &str) -> Result<Invite, InviteError> {
    locked(dir, || {
        let mut file = read_file(dir)?;
        let Some(i) = file
            .invites
            .iter()
            .position(|i| i.name.eq_ignore_ascii_case(name.trim()))
        else {
            return Err(InviteError::NotFound(name.to_string()));
        };
        let gone = file.invites.remove(i);
        write_file(dir, &file)?;
        Ok(gone)
    })
}

/// One row of `homeclaude invites` and of the sheet's list.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub name: String,
    pub role: String,
    pub created: u64,
    pub last_seen: Option<u64>,
    pub expires: Option<u64>,
    pub expired: bool,
}

/// Every invite, with when it was last used.
pub fn list(dir: &Path) -> Result<Vec<Listed>, InviteError> {
    let file = read_file(dir)?;
    let seen = read_seen(dir);
    let now = now();
    Ok(file
        .invites
        .into_iter()
        .map(|i| Listed {
            last_seen: seen.get(&i.id).copied(),
            expired: !i.live(now),
            name: i.name,
            role: i.role,
            created: i.created,
            expires: i.expires,
        })
        .collect())
}

fn read_seen(dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read(seen_path(dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The invites as last read, re-read when the file changes: what connection
/// threads check tokens and cookies against.
pub struct Book {
    dir: PathBuf,
    cache: Mutex<(Option<FileStamp>, Vec<Invite>)>,
    /// One "last seen" writer at a time (connection threads).
    seen: Mutex<()>,
}

impl Book {
    pub fn new(dir: &Path) -> Book {
        Book {
            dir: dir.to_path_buf(),
            cache: Mutex::new((None, Vec::new())),
            seen: Mutex::new(()),
        }
    }

    /// The current invites (expired ones included).
    fn current(&self) -> Vec<Invite> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let s = file_stamp(&path(&self.dir));
        if s.is_some() && cache.0 == s {
            return cache.1.clone();
        }
        let invites = match read_file(&self.dir) {
            Ok(f) => f.invites,
            Err(e) => {
                // Nobody gets in by an unreadable file.
                log::error!("invites: {e}; invite logins are refused until it is fixed");
                Vec::new()
            }
        };
        *cache = (s, invites.clone());
        invites
    }

    /// The live invite whose token this is (compared in constant time).
    pub fn by_token(&self, token: &str) -> Option<Invite> {
        let h = hash(token);
        let now = now();
        self.current()
            .into_iter()
            .filter(|i| i.live(now))
            .find(|i| bool::from(i.hash.as_bytes().ct_eq(h.as_bytes())))
    }

    /// The live invite with this id.
    pub fn by_id(&self, id: &str) -> Option<Invite> {
        let now = now();
        self.current()
            .into_iter()
            .find(|i| i.id == id && i.live(now))
    }

    /// Notes that the invite `id` was just used (best effort: a lost write costs
    /// only a stale "last seen").
    pub fn seen(&self, id: &str) {
        let _one = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = read_seen(&self.dir);
        let live: HashSet<String> = self.current().into_iter().map(|i| i.id).collect();
        seen.retain(|k, _| live.contains(k));
        seen.insert(id.to_string(), now());
        let text = serde_json::to_string(&seen).unwrap_or_default();
        if let Err(e) = crate::auth::write_private_file(&seen_path(&self.dir), &text) {
            log::debug!("invites: cannot note last seen: {e}");
        }
    }
}

/// What the watcher read: the live invites' ids, and when it began reading.
pub struct Live {
    pub ids: HashSet<String>,
    /// A client whose credentials were checked before this and whose invite is
    /// not in `ids` lost its access (see [`crate::auth::Who::checked`]).
    pub read_at: std::time::Instant,
}

/// Starts the watcher thread: it reports the live ids at start, whenever the
/// invites file changed and whenever an invite expired.
pub fn spawn_watcher(dir: &Path, report: Box<dyn Fn(Live) + Send>) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    let book = Book::new(&dir);
    let mut wake = Wake::new(&dir);
    std::thread::Builder::new()
        .name("invites".into())
        .stack_size(128 << 10)
        .spawn(move || {
            let mut last: Option<(Option<FileStamp>, HashSet<String>)> = None;
            loop {
                let read_at = std::time::Instant::now();
                let file = file_stamp(&path(&dir));
                let now = now();
                let invites = book.current();
                let ids: HashSet<String> = invites
                    .iter()
                    .filter(|i| i.live(now))
                    .map(|i| i.id.clone())
                    .collect();
                // Any change of the file counts, even one that leaves the same set:
                // an invite made and revoked between two looks was used meanwhile.
                if last.as_ref() != Some(&(file, ids.clone())) {
                    last = Some((file, ids.clone()));
                    report(Live { ids, read_at });
                }
                let next_expiry = invites
                    .iter()
                    .filter_map(|i| i.expires)
                    .filter(|&e| e > now)
                    .min()
                    .map(|e| Duration::from_secs(e - now));
                wake.wait(next_expiry);
            }
        })
        .map(|_| ())
}

/// What wakes the watcher: inotify on the data dir (the file is replaced by a
/// rename, so its directory is watched, not the file), or a plain poll every
/// [`WATCH_INTERVAL`] where inotify is unavailable.
struct Wake {
    inotify: Option<std::os::fd::OwnedFd>,
}

impl Wake {
    fn new(dir: &Path) -> Wake {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        let watched = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).and_then(|fd| {
            let mask = WatchFlags::CLOSE_WRITE
                | WatchFlags::MOVED_TO
                | WatchFlags::MOVED_FROM
                | WatchFlags::CREATE
                | WatchFlags::DELETE
                | WatchFlags::ATTRIB;
            inotify::add_watch(&fd, dir, mask).map(|_| fd)
        });
        match watched {
            Ok(fd) => Wake { inotify: Some(fd) },
            Err(e) => {
                log::warn!(
                    "invites: cannot watch {} ({e}); looking every {} ms instead",
                    dir.display(),
                    WATCH_INTERVAL.as_millis()
                );
                Wake { inotify: None }
            }
        }
    }

    /// Returns when the invites file may have changed, or after `at_most`.
    fn wait(&mut self, at_most: Option<Duration>) {
        let Some(fd) = &self.inotify else {
            std::thread::sleep(at_most.map_or(WATCH_INTERVAL, |d| d.min(WATCH_INTERVAL)));
            return;
        };
        // The clock of expiry is in whole seconds: wake just after the second turns.
        let deadline = at_most.map(|d| std::time::Instant::now() + d + Duration::from_millis(10));
        if let Err(e) = until_touched(fd, deadline) {
            log::error!(
                "invites: watching failed ({e}); looking every {} ms instead",
                WATCH_INTERVAL.as_millis()
            );
            self.inotify = None;
        }
    }
}

/// Waits until an event names the invites file (the data dir also holds the
/// history, written at every run), or the deadline passes.
fn until_touched(
    fd: &std::os::fd::OwnedFd,
    deadline: Option<std::time::Instant>,
) -> rustix::io::Result<()> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::fs::inotify::{ReadFlags, Reader};
    use rustix::io::Errno;
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    loop {
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(std::time::Instant::now());
            Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            }
        });
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) => return Ok(()),
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
        let mut reader = Reader::new(fd, &mut buf);
        loop {
            match reader.next() {
                Ok(event) => {
                    if event.events().contains(ReadFlags::QUEUE_OVERFLOW)
                        || event
                            .file_name()
                            .is_some_and(|n| n.to_bytes() == FILE.as_bytes())
                    {
                        return Ok(());
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => return Err(e),
            }
        }
    }
}

/// `homeclaude invite|invites|revoke`: does it, prints the outcome; returns
/// whether it worked.
pub fn command(people: &crate::config::People) -> bool {
    use crate::config::People;
    let result = match people {
        People::Invite {
            data_dir,
            name,
            role,
            expires,
            base,
        } => create(data_dir, name, role, *expires).map(|(invite, token)| {
            println!("{}", login_link(base, &token));
            eprintln!(
                "{} ({}) is invited{}; the link is shown once, send it to them alone",
                invite.name,
                invite.role,
                invite
                    .expires
                    .map_or(String::new(), |e| format!(" until {}", date(e)))
            );
        }),
        People::List { data_dir } => list(data_dir).map(|rows| {
            println!("NAME\tROLE\tCREATED\tLAST SEEN\tEXPIRES");
            for r in rows {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    r.name,
                    r.role,
                    date(r.created),
                    r.last_seen.map_or("never".into(), date),
                    match (r.expires, r.expired) {
                        (None, _) => "never".to_string(),
                        (Some(e), false) => date(e),
                        (Some(e), true) => format!("expired {}", date(e)),
                    }
                );
            }
        }),
        People::Revoke { data_dir, name } => revoke(data_dir, name).map(|gone| {
            eprintln!(
                "{} is revoked; their open pages close within a second",
                gone.name
            );
        }),
    };
    match result {
        Ok(()) => true,
        Err(e) => {
            eprintln!("homeclaude: {e}");
            false
        }
    }
}

/// The login link for `token` under `base` (`http://host:port`, no trailing `/`).
pub fn login_link(base: &str, token: &str) -> String {
    format!("{}/login?token={token}", base.trim_end_matches('/'))
}

/// `2026-12-05 14:03 UTC`.
fn date(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (y, m, d) = crate::calendar::civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "homeclaude-invites-{}-{}",
            std::process::id(),
            crate::auth::random_token().unwrap()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn invites_are_stored_hashed_private_and_revocable() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir();
        let (inv, token) = create(&d, "Ann", "collaborator", None).unwrap();
        let text = std::fs::read_to_string(path(&d)).unwrap();
        assert!(!text.contains(&token), "the token itself is stored");
        assert!(text.contains(&hash(&token)));
        let mode = std::fs::metadata(path(&d)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let book = Book::new(&d);
        assert_eq!(book.by_token(&token).map(|i| i.id), Some(inv.id.clone()));
        assert_eq!(book.by_token("nope"), None);
        assert!(matches!(
            create(&d, "ann", "viewer", None),
            Err(InviteError::Taken(_))
        ));
        revoke(&d, "Ann").unwrap();
        assert_eq!(book.by_token(&token), None);
        assert_eq!(book.by_id(&inv.id), None);
        assert!(matches!(revoke(&d, "Ann"), Err(InviteError::NotFound(_))));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn names_roles_and_expiries_are_checked() {
        assert!(check_name("Claude").is_err());
        assert!(check_name(" ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"x".repeat(33)).is_err());
        assert_eq!(check_name(" 민수 ").unwrap(), "민수");
        assert!(check_role("owner").is_err());
        assert_eq!(
            parse_expiry("7d").unwrap(),
            Some(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(parse_expiry("never").unwrap(), None);
        assert!(parse_expiry("0d").is_err());
        assert!(parse_expiry("7w").is_err());
        let inv = Invite {
            id: "x".into(),
            name: "n".into(),
            role: "viewer".into(),
            hash: String::new(),
            created: 0,
            expires: Some(100),
        };
        assert!(inv.live(99) && !inv.live(100));
    }
}
