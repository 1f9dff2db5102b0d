//! The real `claude` CLI for end-to-end tests: finds the pinned install
//! (`.ci/claude-cli.sh` puts it in target/claude-cli) and runs the project's Messages
//! API stand-in (`mock-api`, tests/support/mock_api.rs) for it to talk to, so a test
//! drives the real CLI through homeclaude without the network or an account.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::temp_dir;

/// Where `.ci/claude-cli.sh` installs the pinned CLI, under the project.
const INSTALLED: &str = "target/claude-cli/node_modules/@anthropic-ai/claude-code-linux-x64/claude";

/// The real CLI: `HOMECLAUDE_REAL_CLAUDE`, else the pinned install. When neither is
/// there the test fails, saying how to install it, unless `HOMECLAUDE_SKIP_REAL_CLI=1`
/// asks to skip (then `None`, and a line says so): a missing CLI never passes
/// silently.
pub fn real_claude() -> Option<PathBuf> {
    let path = match std::env::var_os("HOMECLAUDE_REAL_CLAUDE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(INSTALLED),
    };
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("HOMECLAUDE_SKIP_REAL_CLI").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: no real claude CLI at {} (HOMECLAUDE_SKIP_REAL_CLI=1)",
            path.display()
        );
        return None;
    }
    panic!(
        "no real claude CLI at {}: run `bash .ci/claude-cli.sh` to install the pinned \
         version (or set HOMECLAUDE_REAL_CLAUDE to one, or HOMECLAUDE_SKIP_REAL_CLI=1 to \
         skip this test)",
        path.display()
    );
}

/// A running `mock-api`, killed (and its temp HOME removed) when dropped.
pub struct MockApi {
    child: Child,
    pub addr: SocketAddr,
    /// A private HOME for the CLI: nothing of the real user's is read or written.
    pub home: super::TempDir,
}

impl MockApi {
    pub fn start() -> MockApi {
        MockApi::start_logging(None)
    }

    /// Starts it with `MOCK_API_LOG` set: every request the CLI makes is appended
    /// (path and JSON body, one line each) to `log`.
    pub fn start_logging(log: Option<&std::path::Path>) -> MockApi {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mock-api"));
        if let Some(log) = log {
            command.env("MOCK_API_LOG", log);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start mock-api");
        let stdout = child.stdout.take().expect("mock-api stdout");
        // Its first line says where it listens; it prints nothing else there.
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let addr = line
            .strip_prefix("listening ")
            .and_then(|a| a.trim().parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mock-api said {line:?} instead of its address");
        };
        MockApi {
            child,
            addr,
            home: temp_dir("claude-home"),
        }
    }

    /// The environment that points the CLI at this stand-in.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("ANTHROPIC_BASE_URL".into(), format!("http://{}", self.addr)),
            ("ANTHROPIC_API_KEY".into(), "test-key".into()),
            // The model the recordings use (the stand-in answers as it anyway).
            (
                "ANTHROPIC_MODEL".into(),
                "claude-sonnet-4-5-20250929".into(),
            ),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            ),
            ("DISABLE_AUTOUPDATER".into(), "1".into()),
            ("HOME".into(), self.home.display().to_string()),
        ]
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `home` (a TempDir) is removed after this.
    }
}
