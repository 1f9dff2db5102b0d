//! Who may use the server: login tokens, session cookies, roles, login rate limits.
//!
//! Like Jupyter: on first start a random 256-bit owner token (and a viewer token for
//! read-only links) is written to the data dir with mode 0600; `/login?token=...`
//! trades it for a session cookie. Cookies are stateless, `v1.<role>.<expiry>.<mac>`
//! with an HMAC-SHA256 keyed by the owner token, so a restart keeps everyone logged
//! in and rotating the token logs everyone out. Token files are re-read when their
//! mtime changes, so `homeclaude token --rotate` takes effect without a restart.
//! Scripts may send `Authorization: Bearer <token>` instead of a cookie.
//!
//! With `HOMECLAUDE_PASSWORD_HASH` the login form also takes the owner's password
//! (argon2, checked in [`crate::password`]); tokens keep working beside it. Every
//! login attempt, token or password, goes through one per-address back-off.

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
}

impl Role {
    fn tag(self) -> &'static str {
        match self {
            Role::Owner => "o",
            Role::Viewer => "v",
        }
    }
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
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Io(path, e) => write!(f, "token file {}: {e}", path.display()),
            AuthError::Random(e) => write!(f, "cannot get random bytes: {e}"),
            AuthError::FromEnvironment => {
                write!(f, "the token comes from HOMECLAUDE_TOKEN; change it there")
            }
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

/// The owner and viewer tokens.
#[derive(Clone)]
struct Secrets {
    owner: String,
    viewer: String,
}

/// Reads (and on first use creates) the token files.
pub struct TokenStore {
    dir: PathBuf,
    env_owner: Option<String>,
    cache: Mutex<(Option<SystemTime>, Option<SystemTime>, Option<Secrets>)>,
}

fn owner_path(dir: &Path) -> PathBuf {
    dir.join("token")
}

fn viewer_path(dir: &Path) -> PathBuf {
    dir.join("viewer-token")
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

/// Writes a new token atomically (temp file, then rename), readable by this user only.
fn write_token(path: &Path) -> Result<String, AuthError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let token = random_token()?;
    let tmp = path.with_extension("tmp");
    let io = |e| AuthError::Io(path.to_path_buf(), e);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(format!("{token}\n").as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(token)
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
            cache: Mutex::new((None, None, None)),
        }
    }

    /// The current tokens, re-read when a file changed.
    fn secrets(&self) -> Result<Secrets, AuthError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let (om, vm) = (
            mtime(&owner_path(&self.dir)),
            mtime(&viewer_path(&self.dir)),
        );
        if let Some(s) = &cache.2
            && cache.0 == om
            && cache.1 == vm
        {
            return Ok(s.clone());
        }
        let owner = match &self.env_owner {
            Some(t) => t.clone(),
            None => read_or_create(&owner_path(&self.dir))?,
        };
        let viewer = read_or_create(&viewer_path(&self.dir))?;
        let secrets = Secrets { owner, viewer };
        *cache = (
            mtime(&owner_path(&self.dir)),
            mtime(&viewer_path(&self.dir)),
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

    /// Replaces the owner token (and so every session cookie) and the viewer token.
    pub fn rotate(&self) -> Result<String, AuthError> {
        if self.env_owner.is_some() {
            return Err(AuthError::FromEnvironment);
        }
        let owner = write_token(&owner_path(&self.dir))?;
        write_token(&viewer_path(&self.dir))?;
        Ok(owner)
    }

    /// Which role a presented token grants, compared in constant time.
    fn role_of(&self, token: &str) -> Option<Role> {
        let s = self.secrets().ok()?;
        if same(token, &s.owner) {
            Some(Role::Owner)
        } else if same(token, &s.viewer) {
            Some(Role::Viewer)
        } else {
            None
        }
    }

    fn mac(&self, message: &str) -> Option<Hmac<Sha256>> {
        let s = self.secrets().ok()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(s.owner.as_bytes()).ok()?;
        mac.update(message.as_bytes());
        Some(mac)
    }

    /// A session cookie value for `role`, valid for [`SESSION_LIFETIME`].
    pub fn session_value(&self, role: Role) -> Option<String> {
        let expiry = (SystemTime::now() + SESSION_LIFETIME)
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs();
        let body = format!("v1.{}.{expiry}", role.tag());
        let tag = self.mac(&body)?.finalize().into_bytes();
        Some(format!("{body}.{}", hex(&tag)))
    }

    /// Checks a session cookie value; returns its role if valid and unexpired.
    fn check_session(&self, value: &str) -> Option<Role> {
        let (body, tag) = value.rsplit_once('.')?;
        let mut parts = body.split('.');
        let (v, role, expiry) = (parts.next()?, parts.next()?, parts.next()?);
        if v != "v1" || parts.next().is_some() {
            return None;
        }
        let expiry: u64 = expiry.parse().ok()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        if expiry < now {
            return None;
        }
        let role = match role {
            "o" => Role::Owner,
            "v" => Role::Viewer,
            _ => return None,
        };
        let expected = hex(&self.mac(body)?.finalize().into_bytes());
        same(&expected, tag).then_some(role)
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

/// What a login attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Login {
    Ok(Role),
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

    /// The role of a request, from its bearer token or session cookie.
    pub fn identify(&self, authorization: Option<&str>, cookie: Option<&str>) -> Option<Role> {
        let store = match &self.mode {
            Mode::Disabled => return Some(Role::Owner),
            Mode::Tokens(store) => store,
        };
        if let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) {
            return store.role_of(token.trim());
        }
        let value = cookie?
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, v)| v)?;
        store.check_session(value)
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
        record(&mut limiter, from, store.role_of(token.trim()), "token")
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

    fn lock_limiter(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `Set-Cookie` value that logs `role` in.
    pub fn login_cookie(&self, role: Role, secure: bool) -> Option<String> {
        let Mode::Tokens(store) = &self.mode else {
            return None;
        };
        let value = store.session_value(role)?;
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
        limiter.remove(&from);
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
        let owner = s.owner().unwrap();
        let viewer = s.viewer().unwrap();
        let cookie = |role| format!("{COOKIE}={}", s.session_value(role).unwrap());
        let oc = cookie(Role::Owner);
        let vc = cookie(Role::Viewer);
        assert_eq!(auth.identify(None, Some(&oc)), Some(Role::Owner));
        assert_eq!(
            auth.identify(None, Some(&format!("a=b; {vc}"))),
            Some(Role::Viewer)
        );
        assert_eq!(
            auth.identify(Some(&format!("Bearer {owner}")), None),
            Some(Role::Owner)
        );
        assert_eq!(
            auth.identify(Some(&format!("Bearer {viewer}")), None),
            Some(Role::Viewer)
        );
        assert_eq!(auth.identify(Some("Bearer nope"), None), None);
        assert_eq!(auth.identify(None, None), None);
        // A viewer cookie edited to say owner fails its MAC.
        let forged = vc.replace("v1.v.", "v1.o.");
        assert_eq!(auth.identify(None, Some(&forged)), None);
        s.rotate().unwrap();
        assert_eq!(auth.identify(None, Some(&oc)), None);
        assert_eq!(auth.identify(Some(&format!("Bearer {owner}")), None), None);
        std::fs::remove_dir_all(dir).unwrap();
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
}
