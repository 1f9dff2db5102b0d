//! Password login's KDF: argon2 PHC strings (checked, made, verified) and the
//! `homeclaude hash-password` prompt.
//!
//! The one module that knows argon2. A hash is a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) that carries its own salt and
//! parameters, so verification needs nothing else and a cheaper or dearer hash
//! works without a flag. New hashes use argon2id with the crate's defaults, which
//! are OWASP's (19 MiB, 2 passes, 1 lane). Not here: the login back-off and the
//! lock that serialises verifications ([`crate::auth`]), HTTP.

use argon2::password_hash::phc;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use std::fmt;
use std::io::BufRead;

/// The most memory a configured hash may ask for, in KiB. Every login attempt
/// allocates this much, and a failed allocation aborts the process (it cannot
/// unwind), so a hash made for a big server must not take down a Pi.
const MAX_MEMORY_KIB: u32 = 256 * 1024;

/// A validated argon2 PHC string: an algorithm argon2 knows, parameters it
/// accepts within [`MAX_MEMORY_KIB`], a salt and a hash.
#[derive(Clone)]
pub struct PasswordHash {
    phc: phc::PasswordHash,
    params: Params,
}

impl fmt::Debug for PasswordHash {
    /// The parameters only: nothing a log or a test failure needs to show of the
    /// salt or the hash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({})", self.describe())
    }
}

impl PasswordHash {
    /// Checks a PHC string. The error says why it was refused without quoting the
    /// value: a value that is not a hash may be a password set by mistake, and this
    /// text ends up in the journal.
    pub fn parse(value: &str) -> Result<PasswordHash, String> {
        if !value.starts_with('$') {
            return Err(
                "it does not start with $argon2 (if the $ signs were taken as \
                 variables, write the value in single quotes: see docs/DEPLOY.md)"
                    .to_string(),
            );
        }
        let hash = phc::PasswordHash::new(value).map_err(|e| format!("not a PHC string: {e}"))?;
        let algorithm = hash.algorithm.as_str();
        Algorithm::try_from(algorithm)
            .map_err(|_| format!("the algorithm is {algorithm}, not argon2id"))?;
        if let Some(version) = hash.version {
            Version::try_from(version)
                .map_err(|_| format!("argon2 version {version} is unknown (expected 19)"))?;
        }
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err("it has no salt or no hash part".to_string());
        }
        let params = Params::try_from(&hash).map_err(|e| format!("bad parameters: {e}"))?;
        if params.m_cost() > MAX_MEMORY_KIB {
            return Err(format!(
                "it asks for {} MiB per login (m={}); this server allows at most {} MiB",
                params.m_cost() / 1024,
                params.m_cost(),
                MAX_MEMORY_KIB / 1024
            ));
        }
        Ok(PasswordHash { phc: hash, params })
    }

    /// `argon2id m=19456 t=2 p=1`, for the log.
    pub fn describe(&self) -> String {
        format!(
            "{} m={} t={} p={}",
            self.phc.algorithm,
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost()
        )
    }

    /// Whether it costs less than what `hash-password` makes (a hand-made or test
    /// hash): worth a warning at start-up, not a refusal.
    pub fn weaker_than_default(&self) -> bool {
        self.params.m_cost() < Params::DEFAULT_M_COST
            || self.params.t_cost() < Params::DEFAULT_T_COST
            || self.phc.algorithm.as_str() != "argon2id"
    }
}

/// Whether `password` matches `hash`. Costs the hash's memory and time: the caller
/// serialises calls and checks its back-off first. The final comparison is
/// constant-time (the crate compares outputs with `ctutils`).
pub fn verify(hash: &PasswordHash, password: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), &hash.phc)
        .is_ok()
}

/// Why `hash-password` could not make a hash.
#[derive(Debug)]
pub enum PasswordError {
    /// Reading the terminal or standard input failed (or it was not UTF-8).
    Io(std::io::Error),
    /// Nothing was typed, or standard input was empty.
    Empty,
    /// The two entries at the terminal differ.
    Mismatch,
    /// The system's random source failed, so there is no salt.
    Random(String),
    /// argon2 refused the input (not expected with the default parameters; reported
    /// rather than unwrapped).
    Kdf(argon2::password_hash::Error),
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordError::Io(e) => write!(f, "cannot read the password: {e}"),
            PasswordError::Empty => write!(f, "the password is empty; nothing to hash"),
            PasswordError::Mismatch => write!(f, "the two passwords differ; nothing changed"),
            PasswordError::Random(e) => write!(f, "cannot get random bytes for the salt: {e}"),
            PasswordError::Kdf(e) => write!(f, "argon2: {e}"),
        }
    }
}

impl From<std::io::Error> for PasswordError {
    fn from(e: std::io::Error) -> Self {
        PasswordError::Io(e)
    }
}

/// A new argon2id PHC string for `password`, with the crate's default (OWASP)
/// parameters and a 16-byte salt from the system's random source.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    hash_with(password, Params::DEFAULT)
}

/// [`hash`] with chosen parameters (the tests use cheap ones).
pub fn hash_with(password: &str, params: Params) -> Result<String, PasswordError> {
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Random(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(PasswordError::Kdf)
}

/// The password for `hash-password`: typed twice with echo off when standard input
/// is a terminal, else the first line of standard input (`echo pw | homeclaude
/// hash-password`). Only the line ending is removed: spaces are part of it.
pub fn read_new_password() -> Result<String, PasswordError> {
    let stdin = std::io::stdin();
    if !rustix::termios::isatty(&stdin) {
        return non_empty(read_line(&mut stdin.lock())?);
    }
    let _restore = EchoOff::new(&stdin)?;
    let first = non_empty(prompt(&stdin, "New password: ")?)?;
    let second = prompt(&stdin, "The same again: ")?;
    if first != second {
        return Err(PasswordError::Mismatch);
    }
    Ok(first)
}

fn prompt(stdin: &std::io::Stdin, text: &str) -> Result<String, PasswordError> {
    eprint!("{text}");
    read_line(&mut stdin.lock())
}

fn non_empty(password: String) -> Result<String, PasswordError> {
    if password.is_empty() {
        Err(PasswordError::Empty)
    } else {
        Ok(password)
    }
}

/// One line without its `\n` or `\r\n`; end of input gives an empty string.
fn read_line(input: &mut impl BufRead) -> Result<String, PasswordError> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(line)
}

/// Terminal echo off until dropped. Ctrl-C (or SIGTERM, SIGHUP) while it is off
/// would leave the user's shell without echo, so a signal thread puts the saved
/// settings back before the process exits.
struct EchoOff {
    saved: rustix::termios::Termios,
}

impl EchoOff {
    fn new(stdin: &std::io::Stdin) -> std::io::Result<EchoOff> {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let saved = tcgetattr(stdin)?;
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let on_signal = saved.clone();
        std::thread::Builder::new()
            .name("prompt-signals".into())
            .stack_size(64 << 10)
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &on_signal);
                    eprintln!();
                    std::process::exit(128 + signal);
                }
            })?;
        let mut quiet = saved.clone();
        // ECHONL still echoes the Enter key, so each prompt starts on its own line.
        quiet.local_modes.remove(LocalModes::ECHO);
        quiet.local_modes.insert(LocalModes::ECHONL);
        tcsetattr(stdin, OptionalActions::Now, &quiet)?;
        Ok(EchoOff { saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// How to use a new hash, for standard error (standard output has the hash alone,
/// for scripts).
pub fn setting_hint(hash: &str) -> String {
    format!(
        "Put it in /etc/homeclaude/homeclaude.env (the service's environment file), in\n\
         single quotes so that no shell takes the $ signs for variables (systemd drops\n\
         the quotes), then restart homeclaude:\n\n    HOMECLAUDE_PASSWORD_HASH='{hash}'\n"
    )
}

/// Parameters cheap enough for tests of a debug build (the server reads them from
/// the hash, so tests need no switch).
#[cfg(test)]
pub fn cheap_hash(password: &str) -> String {
    let params = Params::new(64, 1, 1, None).expect("valid test parameters");
    hash_with(password, params).expect("a test hash")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_refused(value: &str, why: &str) {
        let err = PasswordHash::parse(value).expect_err(value);
        assert!(err.contains(why), "{value}: {err}");
        assert!(
            value.len() < 8 || !err.contains(value),
            "the value must not be echoed: {err}"
        );
    }

    #[test]
    fn made_hashes_are_argon2id_with_the_default_parameters() {
        let made = hash("correct horse").unwrap();
        assert!(
            made.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{made}"
        );
        let parsed = PasswordHash::parse(&made).unwrap();
        assert!(!parsed.weaker_than_default());
        assert!(verify(&parsed, "correct horse"));
        assert!(!verify(&parsed, "correct horse "));
    }

    #[test]
    fn cheap_hashes_verify_with_their_own_parameters() {
        let parsed = PasswordHash::parse(&cheap_hash("pw")).unwrap();
        assert!(parsed.weaker_than_default());
        assert_eq!(parsed.describe(), "argon2id m=64 t=1 p=1");
        assert!(verify(&parsed, "pw"));
        assert!(!verify(&parsed, "PW"));
        assert!(!verify(&parsed, ""));
        // Salted: the same password never gives the same string.
        assert_ne!(cheap_hash("pw"), cheap_hash("pw"));
    }

    #[test]
    fn malformed_hashes_are_refused_without_echoing_them() {
        let good = cheap_hash("pw");
        check_refused("hunter2-plaintext", "does not start with $argon2");
        check_refused("", "does not start with $argon2");
        // What a shell leaves of an unquoted hash: `$argon2id`, `$v`, `$m` expanded.
        check_refused("=19=19456,t=2,p=1", "single quotes");
        check_refused(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
            "no salt or no hash",
        );
        check_refused("$2b$12$R9h/cIPz0gi.URNNX3kh2O", "not a PHC string");
        check_refused(
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            "not argon2id",
        );
        check_refused(&good.replace("v=19", "v=99"), "version");
        check_refused(&good.replace("m=64", "m=zz"), "bad parameters");
        check_refused(&good.replace("m=64", "m=1"), "bad parameters");
        check_refused(&good.replace("m=64", "m=4194304"), "at most 256 MiB");
        check_refused(&format!("{good}$extra"), "PHC string");
        // argon2i and argon2d hashes verify too (the string names the variant).
        assert!(PasswordHash::parse(&good.replace("argon2id", "argon2i")).is_ok());
    }

    #[test]
    fn lines_lose_only_their_ending() {
        for (input, want) in [
            ("pw\n", "pw"),
            ("pw\r\n", "pw"),
            ("pw", "pw"),
            (" two words \n", " two words "),
            ("first\nsecond\n", "first"),
            ("\n", ""),
            ("", ""),
        ] {
            let got = read_line(&mut std::io::Cursor::new(input)).unwrap();
            assert_eq!(got, want, "{input:?}");
        }
        assert!(matches!(
            non_empty(String::new()),
            Err(PasswordError::Empty)
        ));
    }
}
