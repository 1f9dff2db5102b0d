//! Named API tokens for scripts (`homeclaude token --api NAME`): cron jobs, CI, a
//! home-automation rule, another homeclaude that lists this box on its dashboard.
//!
//! An API token is accepted on the REST routes only (`Authorization: Bearer`, see
//! [`crate::api`]): it never logs a browser in, never opens `/ws`, and cannot read or
//! replace the owner token. It can queue prompts, follow and cancel them, and read
//! the session list and usage figures.
//!
//! Only a SHA-256 of each token is kept, in `<data dir>/api-tokens` (mode 0600, one
//! `name hash` line each), so the file alone does not let anyone in. Tokens are
//! 256-bit random secrets, so a plain hash is enough (nothing to stretch). The file
//! is re-read when it changes: adding or revoking a token (deleting its line) needs
//! no restart.

use crate::auth::{self, AuthError};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// What every API token starts with, so a leaked one is recognisable in a log or a
/// repository scan, and is never mistaken for the owner token.
pub const PREFIX: &str = "hca_";

/// The file of names and hashes.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("api-tokens")
}

/// A token name: what pages show as the sender of its prompts.
pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Parses the file: `name hexhash` per line; other lines are ignored.
fn parse(text: &str) -> Known {
    text.lines()
        .filter_map(|l| {
            let (name, hash) = l.trim().split_once(' ')?;
            Some((name.to_string(), unhex(hash.trim())?))
        })
        .filter(|(name, _)| valid_name(name))
        .collect()
}

/// Makes a new token named `name` (replacing an older one of that name, which stops
/// working) and returns it; only its hash is written.
pub fn create(dir: &Path, name: &str) -> Result<String, AuthError> {
    let file = path(dir);
    let old = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(AuthError::Io(file, e)),
    };
    let token = format!("{PREFIX}{}", auth::random_token()?);
    let mut text: String = parse(&old)
        .into_iter()
        .filter(|(n, _)| n != name)
        .map(|(n, h)| format!("{n} {}\n", hex(&h)))
        .collect();
    text.push_str(&format!("{name} {}\n", hex(&digest(&token))));
    auth::write_private(&file, &text)?;
    Ok(token)
}

/// Names and hashes as read from the file.
type Known = Vec<(String, [u8; 32])>;

/// The tokens of a data dir, as last read.
pub struct ApiTokens {
    file: PathBuf,
    cache: Mutex<(Option<crate::auth::FileStamp>, Known)>,
}

impl ApiTokens {
    pub fn new(dir: &Path) -> ApiTokens {
        ApiTokens {
            file: path(dir),
            cache: Mutex::new((None, Vec::new())),
        }
    }

    /// The name of the API token `token`, if it is one. Compared in constant time
    /// (over every known hash, whatever matches).
    pub fn check(&self, token: &str) -> Option<String> {
        let token = token.trim();
        if !token.starts_with(PREFIX) {
            return None;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let stamp = crate::auth::file_stamp(&self.file);
        if stamp != cache.0 || stamp.is_none() {
            let text = std::fs::read_to_string(&self.file).unwrap_or_default();
            *cache = (stamp, parse(&text));
        }
        let want = digest(token);
        let mut found = None;
        for (name, hash) in &cache.1 {
            if bool::from(hash.ct_eq(&want)) {
                found = Some(name.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_token_checks_by_name_is_private_and_replaces_its_namesake() {
        let dir = std::env::temp_dir().join(format!("hc-apitok-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let tokens = ApiTokens::new(&dir);
        let cron = create(&dir, "cron").unwrap();
        let ci = create(&dir, "ci").unwrap();
        assert!(cron.starts_with(PREFIX) && cron.len() == PREFIX.len() + 64);
        assert_eq!(tokens.check(&cron).as_deref(), Some("cron"));
        assert_eq!(tokens.check(&ci).as_deref(), Some("ci"));
        assert_eq!(tokens.check("hca_nope"), None);
        assert_eq!(tokens.check(&cron[PREFIX.len()..]), None);
        let text = std::fs::read_to_string(path(&dir)).unwrap();
        assert!(
            !text.contains(&cron[PREFIX.len()..]),
            "only hashes are kept"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path(&dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // At once, within the same tick of the file's clock: the cache sees it.
        let cron2 = create(&dir, "cron").unwrap();
        assert_eq!(
            tokens.check(&cron),
            None,
            "the old token of that name stops"
        );
        assert_eq!(tokens.check(&cron2).as_deref(), Some("cron"));
        assert_eq!(tokens.check(&ci).as_deref(), Some("ci"));
        assert!(!valid_name("a b") && !valid_name("") && valid_name("home-assistant"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
