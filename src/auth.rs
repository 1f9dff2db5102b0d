//! Who may use the server: login tokens, session cookies, roles, the back-off.
//!
//! Like Jupyter: on first start a random 256-bit owner token (and a viewer token for
//! read-only links) is written to the data dir with mode 0600; `/login?token=...`
//! trades it for a session cookie. Cookies are `v2.<role>.<generation>.<expiry>.<mac>`
//! with an HMAC-SHA256 under a random cookie key of their own (`cookie-key` in the
//! data dir), so a restart keeps everyone logged in, and a cookie says nothing about
//! the tokens: a forged cookie cannot test a guessed token. The generation
//! (`session-generation`, one for owner cookies, one for viewer cookies) is bumped by
//! an owner's `/logout` (every owner session ends, on every device) and by
//! `homeclaude token --rotate` (every session ends). Token and generation files are
//! re-read when their mtime changes, so `token --rotate` takes effect without a
//! restart. Scripts may send `Authorization: Bearer <token>` instead of a cookie.
//!
//! Named invites ([`crate::invites`]) log in the same way with their own token; their
//! cookie names the invite (`v2.i-<id>...`), which must still be live in the invites
//! file, so revoking one ends that person's sessions and nobody else's.
//!
//! With `HOMECLAUDE_PASSWORD_HASH` the login form also takes the owner's password
//! (argon2, checked in [`crate::password`]); tokens keep working beside it.
//!
//! Every way a secret is presented (a token in `/login`'s query or form, a password,
//! a bearer token on any request or upgrade, a session cookie whose MAC is wrong)
//! goes through one per-address back-off: 5 failures free, then 1 s, 2 s, 4 s ... up
//! to 15 minutes, during which every token and password from that address is
//! refused, right or wrong, so the answers tell a guesser nothing. A valid cookie is
//! still honoured then: it cannot be guessed, and behind a tunnel every browser
//! shares the attacker's address.

use crate::password::{self, PasswordHash};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "homeclaude_session";

/// How long a login lasts.
const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// Failed logins from one address before back-off starts.
const FREE_FAILURES: u32 = 5;

/// Longest back-off between login attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// What an authenticated client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything: prompts, commands.
    Owner,
    /// Watch the live session and its history; send nothing.
    Viewer,
    /// A named invite's: prompts, Stop and cancel of their own prompts, answers to
    /// questions (what exactly: [`crate::permissions`]).
    Collaborator,
}

impl Role {
    fn tag(self) -> &'static str {
        match self {
            Role::Owner => "o",
            Role::Viewer => "v",
            Role::Collaborator => "c",
        }
    }

    /// The role's name on the wire and in the docs.
    pub fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Viewer => "viewer",
            Role::Collaborator => "collaborator",
        }
    }
}

/// Who an authenticated client is: a role, and for a named invite, which one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub role: Role,
    /// The invite's id and the person's name; `None` for the owner and for the
    /// anonymous viewer link.
    pub invite: Option<(String, String)>,
    /// Taken before the invites file was read to check the credentials: a
    /// revocation the invites watcher read after this ends this client.
    pub checked: Instant,
}

impl Who {
    pub fn role(role: Role) -> Who {
        Who {
            role,
            invite: None,
            checked: Instant::now(),
        }
    }

    fn of_invite(i: &crate::invites::Invite, checked: Instant) -> Who {
        Who {
            role: i.role(),
            invite: Some((i.id.clone(), i.name.clone())),
            checked,
        }
    }
}

/// The least strength accepted for a token: 128 bits, as NIST and OWASP ask of a
/// session secret. Generated tokens have 256.
pub const MIN_TOKEN_BITS: u32 = 128;

/// A rough upper bound of a token's entropy in bits: its length times the bits of
/// the smallest usual alphabet its characters fit (hex, lower-case and digits,
/// letters and digits, base64, printable ASCII). It cannot see that `aaaa...` is
/// weak; it does see that a short one is.
pub fn token_bits(token: &str) -> u32 {
    let fits = |ok: fn(u8) -> bool| token.bytes().all(ok);
    let per_char = if fits(|b| b.is_ascii_hexdigit()) {
        4.0
    } else if fits(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        || fits(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        36f64.log2()
    } else if fits(|b| b.is_ascii_alphanumeric()) {
        62f64.log2()
    } else if fits(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(&b)) {
        6.0
    } else {
        95f64.log2()
    };
    (token.chars().count() as f64 * per_char) as u32
}

/// A problem with the token files.
#[derive(Debug)]
pub enum AuthError {
    /// The token file could not be read or written.
    Io(PathBuf, std::io::Error),
    /// The system's random source failed.
    Random(String),
    /// `--rotate` while the token comes from `HOMECLAUDE_TOKEN`.
    FromEnvironment,
    /// A token (`what`: which file or variable) is shorter than [`MIN_TOKEN_BITS`].
    Weak { what: String, bits: u32 },
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Io(path, e) => write!(f, "token file {}: {e}", path.display()),
            AuthError::Random(e) => write!(f, "cannot get random bytes: {e}"),
            AuthError::FromEnvironment => {
                write!(f, "the token comes from HOMECLAUDE_TOKEN; change it there")
            }
            AuthError::Weak { what, bits } => write!(
                f,
                "{what} is too easy to guess (about {bits} bits; at least {MIN_TOKEN_BITS} \
                 are needed, e.g. 32 hex digits): run `homeclaude token --rotate` for a new \
                 random one, or `openssl rand -hex 32`"
            ),
        }
    }
}

/// A fresh 256-bit secret, hex-encoded.
pub fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time string equality.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The secrets and the session generations, as last read from the data dir.
#[derive(Clone)]
struct Secrets {
    owner: String,
    viewer: String,
    /// The key of session cookies' MACs; unrelated to the tokens.
    cookie_key: String,
    generations: Generations,
}

/// The current generation of owner and of viewer cookies: a cookie of an older
/// one was logged out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Generations {
    owner: u64,
    viewer: u64,
}

impl Generations {
    fn of(self, role: Role) -> u64 {
        match role {
            Role::Owner => self.owner,
            // Invite cookies end with their invite (revocation); `token --rotate`
            // ends them too, with the viewers'.
            Role::Viewer | Role::Collaborator => self.viewer,
        }
    }
}

/// What a session cookie turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum Cookie {
    Valid(Who),
    /// Ours once, but expired, logged out, or of the old `v1` format: the browser
    /// just has not heard yet. Not a guess.
    Stale,
    /// Not made with our key: a forgery (or the key file was replaced).
    Forged,
}

/// Reads (and on first use creates) the token files.
pub struct TokenStore {
    dir: PathBuf,
    env_owner: Option<String>,
    cache: Mutex<(Vec<Option<SystemTime>>, Option<Secrets>)>,
    /// Named invites (`invites.json`), re-read when it changes.
    pub invites: Box<crate::invites::Book>,
}

fn owner_path(dir: &Path) -> PathBuf {
    dir.join("token")
}

fn viewer_path(dir: &Path) -> PathBuf {
    dir.join("viewer-token")
}

fn cookie_key_path(dir: &Path) -> PathBuf {
    dir.join("cookie-key")
}

fn generation_path(dir: &Path) -> PathBuf {
    dir.join("session-generation")
}

/// Reads a token file, creating it with a new token (mode 0600) if missing.
fn read_or_create(path: &Path) -> Result<String, AuthError> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Ok(_) => write_token(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_token(path),
        Err(e) => Err(AuthError::Io(path.to_path_buf(), e)),
    }
}

/// Writes a new token atomically, readable by this user only.
fn write_token(path: &Path) -> Result<String, AuthError> {
    let token = random_token()?;
    write_private(path, &format!("{token}\n"))?;
    Ok(token)
}

/// Writes a file atomically (temp file, then rename), readable by this user only.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), AuthError> {
    write_private_file(path, text).map_err(|e| AuthError::Io(path.to_path_buf(), e))
}

/// What tells that a credentials file changed, for the caches that re-read it
/// (invites, API tokens): a rewrite by rename gives a new inode, an edit in place
/// a new mtime or size. The mtime alone is not enough: two writes within one tick
/// of the filesystem's clock share it, and a revoked token would stay cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp(u64, Option<std::time::SystemTime>, u64);

pub fn file_stamp(p: &Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some(FileStamp(m.ino(), m.modified().ok(), m.len()))
}

/// [`write_private`] for other modules' files (the invites).
pub fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The generations file: `<owner> <viewer>`; missing means both 0.
fn read_generations(path: &Path) -> Result<Generations, AuthError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Generations::default()),
        Err(e) => return Err(AuthError::Io(path.to_path_buf(), e)),
    };
    let mut numbers = text.split_whitespace().map(str::parse::<u64>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(owner)), Some(Ok(viewer))) => Ok(Generations { owner, viewer }),
        // A damaged file must not bring old sessions back: start past any number
        // it could have held (the clock), which ends every session once.
        _ => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(u64::MAX / 2, |d| d.as_secs());
            log::warn!("{} is damaged; every session is logged out", path.display());
            Ok(Generations {
                owner: now,
                viewer: now,
            })
        }
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl TokenStore {
    /// `env_owner` is `HOMECLAUDE_TOKEN`, which wins over the file.
    pub fn new(dir: &Path, env_owner: Option<String>) -> TokenStore {
        TokenStore {
            dir: dir.to_path_buf(),
            env_owner: env_owner.filter(|t| !t.is_empty()),
            cache: Mutex::new((Vec::new(), None)),
            invites: Box::new(crate::invites::Book::new(dir)),
        }
    }

    fn paths(&self) -> [PathBuf; 4] {
        [
            owner_path(&self.dir),
            viewer_path(&self.dir),
            cookie_key_path(&self.dir),
            generation_path(&self.dir),
        ]
    }

    /// The current secrets, re-read when a file changed.
    fn secrets(&self) -> Result<Secrets, AuthError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let stamps: Vec<_> = self.paths().iter().map(|p| mtime(p)).collect();
        if let Some(s) = &cache.1
            && cache.0 == stamps
        {
            return Ok(s.clone());
        }
        let owner = match &self.env_owner {
            Some(t) => t.clone(),
            None => read_or_create(&owner_path(&self.dir))?,
        };
        let viewer = read_or_create(&viewer_path(&self.dir))?;
        // A token edited to something short is not used, at start (where it stops
        // the server) or later (where it stops token logins until fixed).
        for (token, what) in [(&owner, "the owner token"), (&viewer, "the viewer token")] {
            let bits = token_bits(token);
            if bits < MIN_TOKEN_BITS {
                let what = match (&self.env_owner, what) {
                    (Some(_), "the owner token") => "HOMECLAUDE_TOKEN".to_string(),
                    _ => format!("{what} in {}", self.dir.display()),
                };
                return Err(AuthError::Weak { what, bits });
            }
        }
        let secrets = Secrets {
            owner,
            viewer,
            cookie_key: read_or_create(&cookie_key_path(&self.dir))?,
            generations: read_generations(&generation_path(&self.dir))?,
        };
        *cache = (
            self.paths().iter().map(|p| mtime(p)).collect(),
            Some(secrets.clone()),
        );
        Ok(secrets)
    }

    /// The owner token (creating it on first use).
    pub fn owner(&self) -> Result<String, AuthError> {
        self.secrets().map(|s| s.owner)
    }

    /// The viewer token (creating it on first use).
    pub fn viewer(&self) -> Result<String, AuthError> {
        self.secrets().map(|s| s.viewer)
    }

    /// Replaces the owner and viewer tokens and ends every session.
    pub fn rotate(&self) -> Result<String, AuthError> {
        if self.env_owner.is_some() {
            return Err(AuthError::FromEnvironment);
        }
        let owner = write_token(&owner_path(&self.dir))?;
        write_token(&viewer_path(&self.dir))?;
        self.bump(|g| {
            g.owner += 1;
            g.viewer += 1;
        })?;
        Ok(owner)
    }

    /// Ends every owner session, on every device ("log out everywhere").
    pub fn logout_owners(&self) -> Result<(), AuthError> {
        self.bump(|g| g.owner += 1)
    }

    fn bump(&self, change: impl Fn(&mut Generations)) -> Result<(), AuthError> {
        let path = generation_path(&self.dir);
        let mut g = read_generations(&path)?;
        change(&mut g);
        write_private(&path, &format!("{} {}\n", g.owner, g.viewer))?;
        // Forget the cache: the next check reads the new numbers, even if the
        // file system's clock did not move the mtime.
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).1 = None;
        Ok(())
    }

    /// Who a presented token is (compared in constant time): the owner, the
    /// viewer link, or a live invite.
    fn who_of(&self, token: &str) -> Option<Who> {
        let checked = Instant::now();
        let s = self.secrets().ok()?;
        if same(token, &s.owner) {
            Some(Who::role(Role::Owner))
        } else if same(token, &s.viewer) {
            Some(Who::role(Role::Viewer))
        } else {
            self.invites
                .by_token(token)
                .map(|i| Who::of_invite(&i, checked))
        }
    }

    fn mac(s: &Secrets, message: &str) -> Option<String> {
        let mut mac = Hmac::<Sha256>::new_from_slice(s.cookie_key.as_bytes()).ok()?;
        mac.update(message.as_bytes());
        Some(hex(&mac.finalize().into_bytes()))
    }

    /// A session cookie value for `role`, valid for [`SESSION_LIFETIME`] or until
    /// its generation is bumped.
    #[cfg(test)]
    pub fn session_value(&self, role: Role) -> Option<String> {
        self.session_value_for(&Who::role(role))
    }

    /// A session cookie value for `who`; an invite's names the invite (`i-<id>`),
    /// so revoking the invite ends it.
    pub fn session_value_for(&self, who: &Who) -> Option<String> {
        let s = self.secrets().ok()?;
        let expiry = (SystemTime::now() + SESSION_LIFETIME)
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs();
        let tag = match &who.invite {
            Some((id, _)) => format!("i-{id}"),
            None => who.role.tag().to_string(),
        };
        let role = who.role;
        let body = format!("v2.{tag}.{}.{expiry}", s.generations.of(role));
        let tag = Self::mac(&s, &body)?;
        Some(format!("{body}.{tag}"))
    }

    /// Checks a session cookie value.
    fn check_session(&self, value: &str) -> Cookie {
        let checked = Instant::now();
        if value.starts_with("v1.") {
            return Cookie::Stale;
        }
        let Ok(s) = self.secrets() else {
            return Cookie::Stale;
        };
        let Some((body, tag)) = value.rsplit_once('.') else {
            return Cookie::Forged;
        };
        let mac_ok = Self::mac(&s, body).is_some_and(|expected| same(&expected, tag));
        if !mac_ok {
            return Cookie::Forged;
        }
        // Made by us: from here on a refusal means "no longer", not "never".
        let fields: Vec<&str> = body.split('.').collect();
        let [_, role, generation, expiry] = fields[..] else {
            return Cookie::Stale;
        };
        let who = match role {
            "o" => Who::role(Role::Owner),
            "v" => Who::role(Role::Viewer),
            // Revoked or expired: no longer (not a forgery).
            tag => match tag.strip_prefix("i-").and_then(|id| self.invites.by_id(id)) {
                Some(invite) => Who::of_invite(&invite, checked),
                None => return Cookie::Stale,
            },
        };
        let role = who.role;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(u64::MAX, |d| d.as_secs());
        let current = generation.parse() == Ok(s.generations.of(role));
        let unexpired = expiry.parse::<u64>().is_ok_and(|e| e >= now);
        if current && unexpired {
            Cookie::Valid(who)
        } else {
            Cookie::Stale
        }
    }
}

/// How the server authenticates.
pub enum Mode {
    Tokens(TokenStore),
    /// `--no-auth`: only on loopback, or with the explicit unsafe flag.
    Disabled,
}

/// The authentication state shared by every connection thread.
pub struct Auth {
    pub mode: Mode,
    /// `HOMECLAUDE_PASSWORD_HASH`: the owner may log in with a password too.
    password: Option<PasswordHash>,
    limiter: Mutex<HashMap<IpAddr, Failures>>,
    /// Held for the whole of each password check. Argon2 with the default
    /// parameters takes 19 MiB and 0.1-0.5 s on a Pi: parallel attempts wait here
    /// one by one instead of adding up their memory. Tokens never take it.
    kdf: Mutex<()>,
}

struct Failures {
    count: u32,
    blocked_until: Instant,
}

/// Too many failures from this address: credentials are not even looked at for
/// this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited(pub Duration);

/// What a login attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Login {
    Ok(Role),
    /// A named invite's token.
    Invite(Who),
    Wrong,
    /// Too many failures from this address: try again after this long.
    Limited(Duration),
}

impl Auth {
    /// `password` is ignored when authentication is disabled (config refuses that
    /// combination).
    pub fn new(mode: Mode, password: Option<PasswordHash>) -> Auth {
        Auth {
            mode,
            password,
            limiter: Mutex::new(HashMap::new()),
            kdf: Mutex::new(()),
        }
    }

    pub fn enabled(&self) -> bool {
        matches!(self.mode, Mode::Tokens(_))
    }

    /// Whether the login form offers a password field.
    pub fn password_login(&self) -> bool {
        self.enabled() && self.password.is_some()
    }

    /// The role of a request from `from`, by its bearer token or session cookie.
    /// A wrong bearer token or a forged cookie counts as a failed login; a token
    /// from an address in back-off is refused unread, a valid cookie never is.
    #[cfg(test)]
    pub fn identify(
        &self,
        authorization: Option<&str>,
        cookie: Option<&str>,
        from: IpAddr,
    ) -> Result<Option<Role>, Limited> {
        self.identify_who(authorization, cookie, from)
            .map(|w| w.map(|w| w.role))
    }

    /// [`Auth::identify`], with which invite it is.
    pub fn identify_who(
        &self,
        authorization: Option<&str>,
        cookie: Option<&str>,
        from: IpAddr,
    ) -> Result<Option<Who>, Limited> {
        let store = match &self.mode {
            Mode::Disabled => return Ok(Some(Who::role(Role::Owner))),
            Mode::Tokens(store) => store,
        };
        if let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) {
            let mut limiter = self.lock_limiter();
            if let Some(wait) = blocked(&limiter, from) {
                return Err(Limited(wait));
            }
            let who = store.who_of(token.trim());
            return Ok(
                match record(
                    &mut limiter,
                    from,
                    who.as_ref().map(|w| w.role),
                    "bearer token",
                ) {
                    Login::Ok(_) => who,
                    _ => None,
                },
            );
        }
        let Some(value) = cookie.and_then(|c| {
            c.split(';')
                .filter_map(|c| c.trim().split_once('='))
                .find(|(name, _)| *name == COOKIE)
                .map(|(_, v)| v)
        }) else {
            return Ok(None);
        };
        match store.check_session(value) {
            Cookie::Valid(who) => Ok(Some(who)),
            Cookie::Stale => Ok(None),
            Cookie::Forged => {
                let mut limiter = self.lock_limiter();
                if let Some(wait) = blocked(&limiter, from) {
                    return Err(Limited(wait));
                }
                record(&mut limiter, from, None, "session cookie");
                Ok(None)
            }
        }
    }

    /// `/logout` by `role`: an owner's ends every owner session (every device); a
    /// viewer's only clears its own cookie (a shared viewer link must not let one
    /// viewer log out the others).
    pub fn logout(&self, role: Option<Role>) {
        if let (Mode::Tokens(store), Some(Role::Owner)) = (&self.mode, role) {
            match store.logout_owners() {
                Ok(()) => log::info!("logout: every owner session is logged out"),
                Err(e) => log::error!("logout: cannot end the other sessions: {e}"),
            }
        }
    }

    /// Checks a presented token under the per-address back-off.
    pub fn login(&self, token: &str, from: IpAddr) -> Login {
        let Mode::Tokens(store) = &self.mode else {
            return Login::Ok(Role::Owner);
        };
        // A token check is cheap: the back-off lock is held throughout, so parallel
        // guesses from one address cannot slip past a back-off being set.
        let mut limiter = self.limiter.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = blocked(&limiter, from) {
            return Login::Limited(wait);
        }
        let who = store.who_of(token.trim());
        match record(&mut limiter, from, who.as_ref().map(|w| w.role), "token") {
            Login::Ok(_) if who.as_ref().is_some_and(|w| w.invite.is_some()) => {
                Login::Invite(who.unwrap_or_else(|| Who::role(Role::Viewer)))
            }
            other => other,
        }
    }

    /// Checks the owner's password under the same back-off as tokens. A wrong
    /// password counts as a failed login, the right one clears the address's
    /// failures. The password itself is never logged.
    pub fn login_password(&self, password: &str, from: IpAddr) -> Login {
        if !self.enabled() {
            return Login::Ok(Role::Owner);
        }
        // Refused before any KDF work and before queueing for it: an address in
        // back-off costs a hash-map lookup.
        if let Some(wait) = blocked(&self.lock_limiter(), from) {
            return Login::Limited(wait);
        }
        let _one_at_a_time = self.kdf.lock().unwrap_or_else(|e| e.into_inner());
        // Again: a failure from the same address may have set a back-off while this
        // attempt waited for its turn. The back-off lock is not held while hashing,
        // so token logins and other addresses' checks never wait for the KDF.
        if let Some(wait) = blocked(&self.lock_limiter(), from) {
            return Login::Limited(wait);
        }
        let right = self
            .password
            .as_ref()
            .is_some_and(|hash| password::verify(hash, password));
        record(
            &mut self.lock_limiter(),
            from,
            right.then_some(Role::Owner),
            "password",
        )
    }

    /// How long `from` must still wait before presenting another secret, if at
    /// all: secrets checked outside this module (API tokens, `crate::api_tokens`)
    /// honour the same back-off before they are compared.
    pub fn backoff(&self, from: IpAddr) -> Option<Duration> {
        blocked(&self.lock_limiter(), from)
    }

    fn lock_limiter(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `Set-Cookie` value that logs `role` in.
    pub fn login_cookie(&self, role: Role, secure: bool) -> Option<String> {
        self.login_cookie_for(&Who::role(role), secure)
    }

    /// The `Set-Cookie` value that logs `who` in.
    pub fn login_cookie_for(&self, who: &Who, secure: bool) -> Option<String> {
        let Mode::Tokens(store) = &self.mode else {
            return None;
        };
        let value = store.session_value_for(who)?;
        Some(format!(
            "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            SESSION_LIFETIME.as_secs(),
            if secure { "; Secure" } else { "" }
        ))
    }
}

/// How long `from` must still wait before its next login attempt, if at all.
fn blocked(limiter: &HashMap<IpAddr, Failures>, from: IpAddr) -> Option<Duration> {
    let now = Instant::now();
    limiter
        .get(&from)
        .filter(|f| f.blocked_until > now)
        .map(|f| f.blocked_until - now)
}

/// Books the outcome of a login attempt (`what` was presented: "token" or
/// "password"): success clears the address, failure counts towards its back-off.
fn record(
    limiter: &mut HashMap<IpAddr, Failures>,
    from: IpAddr,
    outcome: Option<Role>,
    what: &str,
) -> Login {
    if let Some(role) = outcome {
        // Only the owner's secret clears the address: a viewer token holder must
        // not reset the back-off between guesses at the owner token.
        if role == Role::Owner {
            limiter.remove(&from);
        }
        return Login::Ok(role);
    }
    let now = Instant::now();
    if limiter.len() > 10_000 {
        limiter.retain(|_, f| f.blocked_until > now);
    }
    let f = limiter.entry(from).or_insert(Failures {
        count: 0,
        blocked_until: now,
    });
    f.count += 1;
    if f.count >= FREE_FAILURES {
        let exp = (f.count - FREE_FAILURES).min(20);
        let wait = Duration::from_secs(1u64 << exp).min(MAX_BACKOFF);
        f.blocked_until = now + wait;
        log::warn!(
            "login: {} failed attempts from {from} (the last a wrong {what}); next attempt \
             allowed in {}s",
            f.count,
            wait.as_secs()
        );
    } else {
        log::info!("login: wrong {what} from {from} ({} failures)", f.count);
    }
    Login::Wrong
}

/// The `Set-Cookie` value that logs out.
pub fn logout_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (TokenStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "homeclaude-auth-{}-{}",
            std::process::id(),
            random_token().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        (TokenStore::new(&dir, None), dir)
    }

    #[test]
    fn tokens_are_created_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let (s, dir) = store();
        let t = s.owner().unwrap();
        assert_eq!(t.len(), 64);
        assert_eq!(s.owner().unwrap(), t);
        let mode = std::fs::metadata(dir.join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_ne!(s.viewer().unwrap(), t);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sessions_verify_and_rotation_logs_everyone_out() {
        let (s, dir) = store();
        let auth = Auth::new(Mode::Tokens(s), None);
        let Mode::Tokens(s) = &auth.mode else {
            unreachable!()
        };
        let a = ip("10.0.0.1");
        let id = |bearer: Option<&str>, cookie: Option<&str>| auth.identify(bearer, cookie, a);
        let owner = s.owner().unwrap();
        let viewer = s.viewer().unwrap();
        let cookie = |role| format!("{COOKIE}={}", s.session_value(role).unwrap());
        let oc = cookie(Role::Owner);
        let vc = cookie(Role::Viewer);
        assert_eq!(id(None, Some(&oc)), Ok(Some(Role::Owner)));
        assert_eq!(
            id(None, Some(&format!("a=b; {vc}"))),
            Ok(Some(Role::Viewer))
        );
        assert_eq!(
            id(Some(&format!("Bearer {owner}")), None),
            Ok(Some(Role::Owner))
        );
        assert_eq!(
            id(Some(&format!("Bearer {viewer}")), None),
            Ok(Some(Role::Viewer))
        );
        assert_eq!(id(Some("Bearer nope"), None), Ok(None));
        assert_eq!(id(None, None), Ok(None));
        // A viewer cookie edited to say owner fails its MAC; so does the old format.
        let forged = vc.replace("v2.v.", "v2.o.");
        assert_eq!(s.check_session(&forged[COOKIE.len() + 1..]), Cookie::Forged);
        assert_eq!(id(None, Some(&forged)), Ok(None));
        assert_eq!(s.check_session("v1.o.99999999999.00"), Cookie::Stale);
        // The cookie key is not the token: a cookie made with the token as key (a
        // guess at the token, tested online) is a forgery.
        assert_ne!(s.secrets().unwrap().cookie_key, owner);
        // An owner's logout ends owner sessions, not viewer ones.
        auth.logout(Some(Role::Owner));
        assert_eq!(s.check_session(&oc[COOKIE.len() + 1..]), Cookie::Stale);
        assert_eq!(id(None, Some(&vc)), Ok(Some(Role::Viewer)));
        let oc2 = cookie(Role::Owner);
        assert_eq!(id(None, Some(&oc2)), Ok(Some(Role::Owner)));
        s.rotate().unwrap();
        assert_eq!(id(None, Some(&oc2)), Ok(None));
        assert_eq!(id(None, Some(&vc)), Ok(None));
        assert_eq!(id(Some(&format!("Bearer {owner}")), None), Ok(None));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bearer_tokens_and_forged_cookies_share_the_login_back_off() {
        let (s, dir) = store();
        let owner = s.owner().unwrap();
        let viewer = s.viewer().unwrap();
        let good = format!("{COOKIE}={}", s.session_value(Role::Owner).unwrap());
        let auth = Auth::new(Mode::Tokens(s), None);
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let bearer = |t: &str| format!("Bearer {t}");
        // Wrong bearers and forged cookies count like wrong /login tokens; the viewer
        // token in between does not reset the count.
        for i in 0..FREE_FAILURES {
            if i % 2 == 0 {
                assert_eq!(auth.identify(Some(&bearer("wrong")), None, a), Ok(None));
            } else {
                let forged = format!("{COOKIE}=v2.o.0.99999999999.{}", "0".repeat(64));
                assert_eq!(auth.identify(None, Some(&forged), a), Ok(None));
            }
            if i + 1 < FREE_FAILURES {
                assert_eq!(
                    auth.identify(Some(&bearer(&viewer)), None, a),
                    Ok(Some(Role::Viewer))
                );
            }
        }
        // Now every token from `a` waits, the right one too, and /login with it...
        assert!(auth.identify(Some(&bearer(&owner)), None, a).is_err());
        assert!(matches!(auth.login(&owner, a), Login::Limited(_)));
        // ...but a valid cookie still works, and so does another address.
        assert_eq!(auth.identify(None, Some(&good), a), Ok(Some(Role::Owner)));
        assert_eq!(
            auth.identify(Some(&bearer(&owner)), None, b),
            Ok(Some(Role::Owner))
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn short_tokens_are_weak() {
        assert!(token_bits("a") < MIN_TOKEN_BITS);
        assert!(token_bits(&"0123456789abcdef".repeat(2)) >= MIN_TOKEN_BITS);
        assert!(token_bits(&"0123456789abcdef".repeat(2)[1..]) < MIN_TOKEN_BITS);
        // 22 random letters and digits (base62) carry 130 bits.
        assert!(token_bits("aZ3kP9qLm2Xw7Rt5Yb8NcV") >= MIN_TOKEN_BITS);
        assert!(token_bits("hunter2hunter2") < MIN_TOKEN_BITS);
        assert!(token_bits(&random_token().unwrap()) >= 256);
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Token and password auth; returns it with the owner token.
    fn with_password(password: &str) -> (Auth, String, PathBuf) {
        let (s, dir) = store();
        let owner = s.owner().unwrap();
        let hash = PasswordHash::parse(&password::cheap_hash(password)).unwrap();
        (Auth::new(Mode::Tokens(s), Some(hash)), owner, dir)
    }

    #[test]
    fn the_password_logs_the_owner_in() {
        let (auth, owner, dir) = with_password("correct horse");
        let a = ip("10.0.0.1");
        assert!(auth.password_login());
        for (password, want) in [
            ("correct horse", Login::Ok(Role::Owner)),
            ("correct horse ", Login::Wrong),
            ("Correct horse", Login::Wrong),
            ("", Login::Wrong),
            // The token is not the password, and the password is not a token.
            (owner.as_str(), Login::Wrong),
        ] {
            assert_eq!(auth.login_password(password, a), want, "{password:?}");
        }
        let b = ip("10.0.0.2");
        assert_eq!(auth.login("correct horse", b), Login::Wrong);
        assert_eq!(auth.login(&owner, b), Login::Ok(Role::Owner));
        // Without a hash a posted password is one more failed login.
        let (s, dir2) = store();
        let tokens_only = Auth::new(Mode::Tokens(s), None);
        assert!(!tokens_only.password_login());
        assert_eq!(tokens_only.login_password("correct horse", a), Login::Wrong);
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::remove_dir_all(dir2).unwrap();
    }

    #[test]
    fn passwords_and_tokens_share_one_back_off() {
        let (auth, owner, dir) = with_password("pw");
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        // Four failures of either kind, then the right password clears them...
        for _ in 0..2 {
            assert_eq!(auth.login("wrong", a), Login::Wrong);
            assert_eq!(auth.login_password("wrong", a), Login::Wrong);
        }
        assert_eq!(auth.login_password("pw", a), Login::Ok(Role::Owner));
        // ...so four more are free again, and the fifth starts the back-off.
        for _ in 0..FREE_FAILURES - 1 {
            assert_eq!(auth.login_password("wrong", a), Login::Wrong);
        }
        assert_eq!(auth.login("wrong", a), Login::Wrong);
        // Now both kinds wait, even with the right secret; another address does not.
        assert!(matches!(auth.login_password("pw", a), Login::Limited(_)));
        assert!(matches!(auth.login(&owner, a), Login::Limited(_)));
        assert_eq!(auth.login_password("pw", b), Login::Ok(Role::Owner));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_limited_address_does_not_queue_for_the_kdf() {
        let (auth, _, dir) = with_password("pw");
        let auth = std::sync::Arc::new(auth);
        let a = ip("10.0.0.1");
        for _ in 0..FREE_FAILURES {
            assert_eq!(auth.login("wrong", a), Login::Wrong);
        }
        // While another check holds the KDF, a limited address is answered at once:
        // the back-off is checked before queueing (and so before hashing).
        let busy = auth.kdf.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let auth2 = auth.clone();
        std::thread::spawn(move || tx.send(auth2.login_password("pw", a)));
        let got = rx.recv_timeout(Duration::from_secs(10));
        drop(busy);
        assert!(matches!(got, Ok(Login::Limited(_))), "{got:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn password_checks_wait_for_each_other_and_recheck_the_back_off() {
        let (auth, owner, dir) = with_password("pw");
        let auth = std::sync::Arc::new(auth);
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        for _ in 0..FREE_FAILURES - 1 {
            assert_eq!(auth.login("wrong", a), Login::Wrong);
        }
        let busy = auth.kdf.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        for from in [a, b] {
            let (auth, tx) = (auth.clone(), tx.clone());
            std::thread::spawn(move || tx.send((from, auth.login_password("pw", from))));
        }
        // Both passed the first back-off check and now queue behind the busy KDF.
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "a password check ran while another held the KDF"
        );
        // Token logins never wait for it.
        assert_eq!(auth.login(&owner, b), Login::Ok(Role::Owner));
        // A fifth failure from `a` while its attempt waits puts `a` in back-off,
        // which the waiting attempt must see once it gets its turn.
        assert_eq!(auth.login("wrong", a), Login::Wrong);
        drop(busy);
        let mut got: Vec<_> = (0..2)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        got.sort_by_key(|(from, _)| *from);
        assert!(matches!(got[0], (_, Login::Limited(_))), "{got:?}");
        assert_eq!(got[1], (b, Login::Ok(Role::Owner)));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn repeated_failures_back_off_per_address() {
        let (s, dir) = store();
        let owner = s.owner().unwrap();
        let auth = Auth::new(Mode::Tokens(s), None);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..FREE_FAILURES {
            assert_eq!(auth.login("wrong", a), Login::Wrong);
        }
        assert!(matches!(auth.login(&owner, a), Login::Limited(_)));
        assert_eq!(auth.login(&owner, b), Login::Ok(Role::Owner));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_invite_logs_in_by_name_and_its_revocation_ends_its_cookie_only() {
        let (s, dir) = store();
        let (invite, token) = crate::invites::create(&dir, "Ann", "collaborator", None).unwrap();
        let (_, other) = crate::invites::create(&dir, "Bo", "viewer", None).unwrap();
        let auth = Auth::new(Mode::Tokens(s), None);
        let Mode::Tokens(s) = &auth.mode else {
            unreachable!()
        };
        let a = ip("10.0.0.1");
        let Login::Invite(who) = auth.login(&token, a) else {
            panic!("an invite's token logs in as that invite")
        };
        assert_eq!(who.role, Role::Collaborator);
        assert_eq!(who.invite, Some((invite.id.clone(), "Ann".to_string())));
        let cookie = format!("{COOKIE}={}", s.session_value_for(&who).unwrap());
        assert!(cookie.contains(&format!("v2.i-{}.", invite.id)));
        let bo = match auth.login(&other, a) {
            Login::Invite(w) => format!("{COOKIE}={}", s.session_value_for(&w).unwrap()),
            other => panic!("{other:?}"),
        };
        let whom = |c: &str| auth.identify_who(None, Some(c), a).unwrap().map(|w| w.role);
        assert_eq!(whom(&cookie), Some(Role::Collaborator));
        assert_eq!(whom(&bo), Some(Role::Viewer));
        // Edited to name another invite: the MAC fails, a forgery.
        let forged = cookie.replace(&invite.id, "0000000000000000");
        assert_eq!(s.check_session(&forged[COOKIE.len() + 1..]), Cookie::Forged);
        crate::invites::revoke(&dir, "Ann").unwrap();
        assert_eq!(s.check_session(&cookie[COOKIE.len() + 1..]), Cookie::Stale);
        assert_eq!(whom(&cookie), None);
        assert_eq!(auth.login(&token, a), Login::Wrong);
        assert_eq!(whom(&bo), Some(Role::Viewer), "another invite is untouched");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
