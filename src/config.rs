//! Configuration: flags, their `HOMECLAUDE_*` environment twins, and validation.
//!
//! Two steps, as in ripgrep: [`parse`] collects raw strings (environment first, then
//! flags on top, so a flag always wins), then [`Config::from_raw`] validates them into
//! a [`Config`] whose defaults are written once, in [`Config::default`]. Nothing here
//! opens sockets or files; `main` does that with the result.

use crate::password::PasswordHash;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What the command line asked for.
#[derive(Debug)]
pub enum Invocation {
    /// Run the server.
    Serve(Box<Config>),
    /// `--help`: print [`help`] and exit 0.
    Help,
    /// `--version`.
    Version,
    /// `homeclaude token [--rotate]`: print (or replace) the login token.
    Token { rotate: bool, data_dir: PathBuf },
    /// `homeclaude hash-password`: read a password, print its argon2 hash.
    HashPassword,
    /// `homeclaude token --api NAME`: make a named API token (crate::api_tokens).
    ApiToken { name: String, data_dir: PathBuf },
    /// `homeclaude invite|invites|revoke`: named invites (crate::invites).
    People(People),
}

/// `homeclaude invite --role R --name N [--expires 7d]`, `invites`, `revoke NAME`.
#[derive(Debug, Clone, PartialEq)]
pub enum People {
    Invite {
        data_dir: PathBuf,
        name: String,
        role: String,
        expires: Option<Duration>,
        /// Where the link points: `--url`, else the listen address.
        base: String,
    },
    List {
        data_dir: PathBuf,
    },
    Revoke {
        data_dir: PathBuf,
        name: String,
    },
}

/// The validated configuration of a server run.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where `claude` runs.
    pub workdir: PathBuf,
    /// Where homeclaude keeps its own state (history, token, caches).
    pub data_dir: PathBuf,
    /// The `claude` executable: a path, or a name looked up on `PATH`.
    pub claude: PathBuf,
    /// Read templates from this directory instead of the embedded ones.
    pub templates: Option<PathBuf>,
    pub limits: Limits,
    pub ws: WsTiming,
    pub runner: RunnerSettings,
    pub access: Access,
    /// `--tls-cert`/`--tls-key`: serve https and wss directly.
    pub tls: Option<TlsFiles>,
    /// The file routes, attachments and the workdir watch.
    pub files: FilesSettings,
    /// `--notify`, `--ntfy-url`, `--public-url`: Web Push and ntfy.
    pub notify: crate::notify::Settings,
    /// `--boxes FILE`: other homeclaude boxes this one shows (crate::boxes).
    pub boxes: Option<PathBuf>,
    /// `--telegram-*`: the Telegram bridge (crate::telegram); off when `None`.
    pub telegram: Option<crate::telegram::Settings>,
    /// `--slack-*`: the Slack bridge (crate::slack); off when `None`.
    pub slack: Option<crate::slack::Settings>,
}

/// `--max-upload`, `--files-hidden`, `--uploads-dir`, `--watch-max`.
#[derive(Debug, Clone)]
pub struct FilesSettings {
    /// Largest upload, in bytes.
    pub max_upload: u64,
    /// Names (with `*` wildcards) never listed, served or reported.
    pub hidden: Vec<String>,
    /// Where the page's attachments are uploaded, relative to the workdir.
    pub uploads: String,
    /// Most directories watched for `file_update`; deeper trees go unreported.
    pub watch_max: usize,
}

/// The PEM files TLS is served with. They are read at start-up and again whenever
/// they change on disk, so a renewed certificate needs no restart.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Who may connect.
#[derive(Debug, Clone)]
pub struct Access {
    /// `--no-auth`: no login at all (loopback only, unless `unsafe_no_auth`).
    pub no_auth: bool,
    /// `--i-know-this-is-unsafe`: allow `--no-auth` on a non-loopback address.
    pub unsafe_no_auth: bool,
    /// Extra `Host` values accepted (besides loopback names) where Host is checked.
    pub allowed_hosts: Vec<String>,
    /// Extra `Origin` values accepted for WebSocket and POST (reverse proxies).
    pub allowed_origins: Vec<String>,
    /// `HOMECLAUDE_TOKEN`: the owner token, instead of the one in the data dir.
    pub token: Option<String>,
    /// `HOMECLAUDE_PASSWORD_HASH`: owner login by password too (besides tokens).
    pub password_hash: Option<PasswordHash>,
    /// `--owner-name`: the name the owner's prompts carry.
    pub owner_name: String,
    /// `--collaborators-approve`: collaborators answer tool approvals too.
    pub collaborators_approve: bool,
    /// `--rate-limit RATE[,BURST]`: each participant's prompts and commands.
    pub rate: crate::ratelimit::Rate,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            no_auth: false,
            unsafe_no_auth: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            token: None,
            password_hash: None,
            owner_name: "owner".to_string(),
            collaborators_approve: false,
            rate: crate::ratelimit::Rate::default(),
        }
    }
}

/// Resource limits; every one is a flag.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest WebSocket message a browser may send, in bytes.
    pub max_frame: usize,
    /// Most WebSocket clients at once; one more is refused with 503.
    pub max_clients: usize,
    /// `--max-clients viewer=N`: most viewer WebSockets.
    pub max_viewer_clients: Option<usize>,
    /// `--max-clients collaborator=N`: most collaborator WebSockets.
    pub max_collaborator_clients: Option<usize>,
    /// Most open TCP connections at once (WebSocket and plain HTTP together).
    pub max_connections: usize,
    /// Most prompts waiting in the queue.
    pub max_queue: usize,
    /// Largest HTTP request body, in bytes.
    pub max_body: usize,
    /// Largest HTTP request head (request line and headers), in bytes.
    pub max_header: usize,
    /// Time a client has to send a whole request head (against slowloris).
    pub request_timeout: Duration,
    /// How long an idle keep-alive HTTP connection is kept.
    pub keepalive_timeout: Duration,
    /// Bytes a WebSocket client may fall behind before it is dropped.
    pub client_backlog: usize,
}

/// WebSocket keep-alive timing.
#[derive(Debug, Clone)]
pub struct WsTiming {
    /// How often the server pings an idle client.
    pub ping_interval: Duration,
    /// A client silent for this long is dropped.
    pub peer_timeout: Duration,
}

/// How prompts become `claude` runs.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Refuse new prompts once today's cost (from the usage figures) passes this.
    pub max_daily_usd: Option<f64>,
    pub model: Option<String>,
    pub permission_mode: String,
    pub extra_args: Vec<String>,
    pub run_timeout: Duration,
    /// Deny an approval nobody answered after this; `None`: wait as long as it takes.
    pub approval_timeout: Option<Duration>,
    /// The nice value runs get (`--claude-nice`).
    pub claude_nice: i32,
    /// A shell command from the page is stopped after this.
    pub shell_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8765)),
            workdir: PathBuf::from("."),
            data_dir: default_data_dir(),
            claude: PathBuf::from("claude"),
            templates: None,
            limits: Limits {
                max_frame: 1 << 20,
                max_clients: 1000,
                max_viewer_clients: None,
                max_collaborator_clients: None,
                max_connections: 1200,
                max_queue: 100,
                max_body: 64 << 10,
                max_header: 16 << 10,
                request_timeout: Duration::from_secs(10),
                keepalive_timeout: Duration::from_secs(30),
                client_backlog: 1 << 20,
            },
            ws: WsTiming {
                ping_interval: Duration::from_secs(30),
                peer_timeout: Duration::from_secs(90),
            },
            runner: RunnerSettings {
                max_daily_usd: None,
                model: None,
                permission_mode: "acceptEdits".to_string(),
                extra_args: Vec::new(),
                run_timeout: Duration::from_secs(30 * 60),
                approval_timeout: None,
                claude_nice: 10,
                shell_timeout: Duration::from_secs(10 * 60),
            },
            access: Access::default(),
            tls: None,
            files: FilesSettings {
                max_upload: 100 << 20,
                hidden: crate::files::DEFAULT_HIDDEN
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                uploads: "uploads".into(),
                watch_max: 4096,
            },
            notify: crate::notify::Settings::default(),
            boxes: None,
            telegram: None,
            slack: None,
        }
    }
}

/// `$XDG_STATE_HOME/homeclaude`, else `~/.local/state/homeclaude`, else `./.homeclaude`.
fn default_data_dir() -> PathBuf {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(state).join("homeclaude");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/state/homeclaude"),
        None => PathBuf::from(".homeclaude"),
    }
}

/// A configuration mistake: printed as one line, exit code 2.
#[derive(Debug, PartialEq)]
pub enum ConfigError {
    /// A flag this program does not have.
    UnknownFlag(String),
    /// A flag that needs a value got none.
    MissingValue(String),
    /// A value that does not parse or is out of range.
    BadValue {
        name: String,
        value: String,
        why: String,
    },
    /// A positional argument where none is expected.
    Unexpected(String),
    /// `--no-auth` on an address other machines can reach.
    UnsafeNoAuth(SocketAddr),
    /// Only one of `--tls-cert` and `--tls-key`.
    TlsHalf(&'static str),
    /// TLS asked of a build without the `tls` feature.
    TlsNotBuilt,
    /// `HOMECLAUDE_PASSWORD_HASH` is not an argon2 PHC string; says why. The value
    /// itself is never repeated: it may be a password set by mistake.
    BadPasswordHash(String),
    /// A password hash with `--no-auth`: there would be no login to use it.
    PasswordWithoutAuth,
    /// `homeclaude hash-password SOMETHING`: passwords are not taken as arguments.
    PasswordArgument,
    /// `HOMECLAUDE_TOKEN` is too short to resist guessing (about this many bits).
    WeakToken(u32),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownFlag(flag) => {
                write!(f, "unknown flag {flag} (see homeclaude --help)")
            }
            ConfigError::MissingValue(flag) => write!(f, "{flag} needs a value"),
            ConfigError::BadValue { name, value, why } => {
                write!(f, "bad value {value:?} for {name}: {why}")
            }
            ConfigError::Unexpected(arg) => {
                write!(f, "unexpected argument {arg:?} (see homeclaude --help)")
            }
            ConfigError::UnsafeNoAuth(addr) => write!(
                f,
                "refusing to serve {addr} without authentication: anyone who reaches it could \
                 run commands on this machine (drop --no-auth, listen on 127.0.0.1, or add \
                 --i-know-this-is-unsafe)"
            ),
            ConfigError::TlsHalf(missing) => {
                write!(
                    f,
                    "TLS needs both --tls-cert and --tls-key; {missing} is missing"
                )
            }
            ConfigError::TlsNotBuilt => write!(
                f,
                "this homeclaude was built without TLS; rebuild it with `--features tls`, \
                 or serve it behind a tunnel or proxy that does https (docs/SECURITY.md)"
            ),
            ConfigError::BadPasswordHash(why) => write!(
                f,
                "HOMECLAUDE_PASSWORD_HASH is not a hash from `homeclaude hash-password`: {why}"
            ),
            ConfigError::PasswordWithoutAuth => write!(
                f,
                "HOMECLAUDE_PASSWORD_HASH is set but --no-auth turns login off: drop one of them"
            ),
            ConfigError::WeakToken(bits) => write!(
                f,
                "HOMECLAUDE_TOKEN is too easy to guess (about {bits} bits; at least {} are \
                 needed, e.g. 32 hex digits): unset it to use the generated token, or set it \
                 to the output of `openssl rand -hex 32`",
                crate::auth::MIN_TOKEN_BITS
            ),
            ConfigError::PasswordArgument => write!(
                f,
                "hash-password takes no argument: type the password at its prompt or pipe it \
                 in (an argument stays in the shell history and shows in the process list)"
            ),
        }
    }
}

/// Every setting: its flag, environment twin and help text. The one table that
/// `--help`, the environment reader and the flag parser all use.
struct Setting {
    flag: &'static str,
    env: &'static str,
    value: &'static str,
    help: &'static str,
}

const SETTINGS: &[Setting] = &[
    Setting {
        flag: "listen",
        env: "HOMECLAUDE_LISTEN",
        value: "ADDR:PORT",
        help: "address to serve on [127.0.0.1:8765]",
    },
    Setting {
        flag: "workdir",
        env: "HOMECLAUDE_WORKDIR",
        value: "DIR",
        help: "where claude runs [current directory]",
    },
    Setting {
        flag: "data-dir",
        env: "HOMECLAUDE_DATA_DIR",
        value: "DIR",
        help: "homeclaude's own state [$XDG_STATE_HOME/homeclaude or ~/.local/state/homeclaude]",
    },
    Setting {
        flag: "claude",
        env: "HOMECLAUDE_CLAUDE",
        value: "PATH",
        help: "the claude executable [claude on PATH]",
    },
    Setting {
        flag: "telegram-token",
        env: "HOMECLAUDE_TELEGRAM_TOKEN",
        value: "TOKEN",
        help: "run the Telegram bridge with this bot token (better set in the environment)",
    },
    Setting {
        flag: "telegram-chats",
        env: "HOMECLAUDE_TELEGRAM_CHATS",
        value: "IDS",
        help: "the only Telegram chat ids the bridge takes prompts from, comma-separated",
    },
    Setting {
        flag: "telegram-api",
        env: "HOMECLAUDE_TELEGRAM_API",
        value: "URL",
        help: "the Telegram Bot API's address [https://api.telegram.org]",
    },
    Setting {
        flag: "slack-app-token",
        env: "HOMECLAUDE_SLACK_APP_TOKEN",
        value: "XAPP",
        help: "run the Slack bridge (Socket Mode) with this app-level token (better set in the environment)",
    },
    Setting {
        flag: "slack-bot-token",
        env: "HOMECLAUDE_SLACK_BOT_TOKEN",
        value: "XOXB",
        help: "the Slack bot token the bridge posts with (better set in the environment)",
    },
    Setting {
        flag: "slack-channels",
        env: "HOMECLAUDE_SLACK_CHANNELS",
        value: "IDS",
        help: "the only Slack channel ids (C..., D... for a DM) the bridge takes prompts from",
    },
    Setting {
        flag: "slack-api",
        env: "HOMECLAUDE_SLACK_API",
        value: "URL",
        help: "Slack's Web API address [https://slack.com/api]",
    },
    Setting {
        flag: "boxes",
        env: "HOMECLAUDE_BOXES",
        value: "FILE",
        help: "show these other boxes too: a JSON list of {name, url, token} (docs/API.md)",
    },
    Setting {
        flag: "templates",
        env: "HOMECLAUDE_TEMPLATES",
        value: "DIR",
        help: "read page templates from DIR instead of the embedded ones",
    },
    Setting {
        flag: "model",
        env: "HOMECLAUDE_MODEL",
        value: "NAME",
        help: "model passed to claude --model [claude's default]",
    },
    Setting {
        flag: "permission-mode",
        env: "HOMECLAUDE_PERMISSION_MODE",
        value: "MODE",
        help: "claude --permission-mode: acceptEdits, auto, bypassPermissions, manual, dontAsk, plan, default [acceptEdits]",
    },
    Setting {
        flag: "claude-args",
        env: "HOMECLAUDE_CLAUDE_ARGS",
        value: "ARGS",
        help: "extra arguments for claude, split on spaces",
    },
    Setting {
        flag: "run-timeout",
        env: "HOMECLAUDE_RUN_TIMEOUT",
        value: "SECS",
        help: "a run is stopped after this long [1800]",
    },
    Setting {
        flag: "approval-timeout",
        env: "HOMECLAUDE_APPROVAL_TIMEOUT",
        value: "SECS",
        help: "deny a tool approval, question or plan nobody answered after this [never]",
    },
    Setting {
        flag: "claude-nice",
        env: "HOMECLAUDE_CLAUDE_NICE",
        value: "N",
        help: "claude and its tools run at this nice value (0-19), below the server [10]",
    },
    Setting {
        flag: "shell-timeout",
        env: "HOMECLAUDE_SHELL_TIMEOUT",
        value: "SECS",
        help: "a shell command from the page (`!cmd`) is stopped after this [600]",
    },
    Setting {
        flag: "max-daily-usd",
        env: "HOMECLAUDE_MAX_DAILY_USD",
        value: "USD",
        help: "refuse new prompts once today's cost passes this [no limit]",
    },
    Setting {
        flag: "max-frame",
        env: "HOMECLAUDE_MAX_FRAME",
        value: "BYTES",
        help: "largest WebSocket message from a browser [1048576]",
    },
    Setting {
        flag: "max-clients",
        env: "HOMECLAUDE_MAX_CLIENTS",
        value: "N[,ROLE=N]",
        help: "most WebSocket clients at once [1000]; viewer=N, collaborator=N cap a role",
    },
    Setting {
        flag: "owner-name",
        env: "HOMECLAUDE_OWNER_NAME",
        value: "NAME",
        help: "the name the owner's prompts carry [owner]",
    },
    Setting {
        flag: "rate-limit",
        env: "HOMECLAUDE_RATE_LIMIT",
        value: "RATE[,BURST]",
        help: "prompts and commands per second for each person, and the burst [10,20]",
    },
    Setting {
        flag: "max-connections",
        env: "HOMECLAUDE_MAX_CONNECTIONS",
        value: "N",
        help: "most open TCP connections at once [1200]",
    },
    Setting {
        flag: "max-queue",
        env: "HOMECLAUDE_MAX_QUEUE",
        value: "N",
        help: "most prompts waiting in the queue [100]",
    },
    Setting {
        flag: "max-body",
        env: "HOMECLAUDE_MAX_BODY",
        value: "BYTES",
        help: "largest HTTP request body [65536]",
    },
    Setting {
        flag: "max-header",
        env: "HOMECLAUDE_MAX_HEADER",
        value: "BYTES",
        help: "largest HTTP request head [16384]",
    },
    Setting {
        flag: "request-timeout",
        env: "HOMECLAUDE_REQUEST_TIMEOUT",
        value: "SECS",
        help: "time to send a whole request head [10]",
    },
    Setting {
        flag: "client-backlog",
        env: "HOMECLAUDE_CLIENT_BACKLOG",
        value: "BYTES",
        help: "a WebSocket client this far behind is dropped [1048576]",
    },
    Setting {
        flag: "allowed-host",
        env: "HOMECLAUDE_ALLOWED_HOSTS",
        value: "HOSTS",
        help: "extra Host names accepted where Host is checked, comma-separated",
    },
    Setting {
        flag: "allowed-origin",
        env: "HOMECLAUDE_ALLOWED_ORIGINS",
        value: "ORIGINS",
        help: "extra origins for WebSocket and POST (reverse proxies), comma-separated",
    },
    Setting {
        flag: "tls-cert",
        env: "HOMECLAUDE_TLS_CERT",
        value: "PEM",
        help: "serve https and wss with this certificate chain (needs --tls-key; builds with the tls feature)",
    },
    Setting {
        flag: "tls-key",
        env: "HOMECLAUDE_TLS_KEY",
        value: "PEM",
        help: "the private key for --tls-cert",
    },
    Setting {
        flag: "max-upload",
        env: "HOMECLAUDE_MAX_UPLOAD",
        value: "BYTES",
        help: "largest file uploaded through the page or PUT /api/files/raw [104857600]",
    },
    Setting {
        flag: "files-hidden",
        env: "HOMECLAUDE_FILES_HIDDEN",
        value: "NAMES",
        help: "names never listed or served, comma-separated, * wildcards [.git,.env*,*.pem,*.key]",
    },
    Setting {
        flag: "uploads-dir",
        env: "HOMECLAUDE_UPLOADS_DIR",
        value: "DIR",
        help: "where the page uploads attachments, inside the workdir [uploads]",
    },
    Setting {
        flag: "watch-max",
        env: "HOMECLAUDE_WATCH_MAX",
        value: "N",
        help: "most workdir directories watched for file changes [4096]",
    },
    Setting {
        flag: "notify",
        env: "HOMECLAUDE_NOTIFY",
        value: "WHEN",
        help: "push and ntfy notifications: always, away (no owner page visible), never [away]",
    },
    Setting {
        flag: "ntfy-url",
        env: "HOMECLAUDE_NTFY_URL",
        value: "URL",
        help: "also notify this ntfy topic, e.g. https://ntfy.sh/my-topic (token: HOMECLAUDE_NTFY_TOKEN)",
    },
    Setting {
        flag: "public-url",
        env: "HOMECLAUDE_PUBLIC_URL",
        value: "URL",
        help: "the address phones open the page at (ngrok, Tailscale): links and Allow/Deny in ntfy",
    },
    Setting {
        flag: "ping-interval",
        env: "HOMECLAUDE_PING_INTERVAL",
        value: "SECS",
        help: "WebSocket ping interval [30]",
    },
    Setting {
        flag: "peer-timeout",
        env: "HOMECLAUDE_PEER_TIMEOUT",
        value: "SECS",
        help: "drop a WebSocket peer silent this long [90]",
    },
];

/// Flags without a value; their environment twin is on when set to 1 or true.
const SWITCHES: &[Setting] = &[
    Setting {
        flag: "no-auth",
        env: "HOMECLAUDE_NO_AUTH",
        value: "",
        help: "no login (only on a loopback address)",
    },
    Setting {
        flag: "i-know-this-is-unsafe",
        env: "HOMECLAUDE_UNSAFE_NO_AUTH",
        value: "",
        help: "allow --no-auth on a non-loopback address",
    },
    Setting {
        flag: "collaborators-approve",
        env: "HOMECLAUDE_COLLABORATORS_APPROVE",
        value: "",
        help: "collaborators may answer tool and plan approvals too",
    },
];

/// The `--help` text, built from [`SETTINGS`] so it cannot drift from the parser.
pub fn help() -> String {
    let mut out = String::from(
        "homeclaude: a private Claude Code station for a small home server\n\n\
         Usage: homeclaude [FLAGS]\n\n\
         Every flag can also be set by its environment variable (a flag wins).\n\n",
    );
    for s in SETTINGS.iter().chain(SWITCHES) {
        let left = format!("  --{} {}", s.flag, s.value);
        out.push_str(&format!("{left:<34}{}\n{:<34}env {}\n", s.help, "", s.env));
    }
    out.push_str(
        "\nOnly in the environment (secrets stay out of the process list):\n\
         \x20 HOMECLAUDE_TOKEN                the owner token, instead of the data dir's\n\
         \x20 HOMECLAUDE_PASSWORD_HASH        log in with a password too (an argon2 hash\n\
         \x20                                 from `homeclaude hash-password`)\n\
         \x20 HOMECLAUDE_NTFY_TOKEN           an ntfy access token for --ntfy-url\n",
    );
    out.push_str(
        "\nCommands:\n  homeclaude token [--rotate]     print the login token (or replace it,\n\
         \x20                                 logging every session out)\n\
         \x20 homeclaude token --api NAME     make an API token for scripts (REST only)\n\
         \x20 homeclaude hash-password        read a password (typed twice, or one line\n\
         \x20                                 from stdin) and print its argon2id hash\n\
         \x20 homeclaude invite --role collaborator|viewer --name NAME [--expires 7d]\n\
         \x20                 [--url URL]     print a login link for one person\n\
         \x20 homeclaude invites              list invites (name, role, created, last\n\
         \x20                                 seen, expires)\n\
         \x20 homeclaude revoke NAME          end an invite; its sessions close at once\n\n",
    );
    out.push_str("  -h, --help                      print this help\n");
    out.push_str("  -V, --version                   print the version\n");
    out.push_str(
        "\nExit codes: 0 stopped cleanly, 1 could not start, 2 bad configuration,\n\
         100 restart requested (a supervisor should start it again).\n",
    );
    out
}

/// Raw values by flag name, before validation.
type Raw = Vec<(&'static str, String)>;

/// Reads the environment, then the command line, into a validated invocation.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Invocation, ConfigError> {
    let mut raw: Raw = SETTINGS
        .iter()
        .filter_map(|s| env(s.env).map(|v| (s.flag, v)))
        .collect();
    raw.extend(
        SWITCHES
            .iter()
            .filter(|s| env(s.env).is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")))
            .map(|s| (s.flag, String::new())),
    );
    let mut args = args.into_iter().peekable();
    if args.peek().is_some_and(|a| a == "token") {
        args.next();
        return parse_token(args, &env);
    }
    if args.peek().is_some_and(|a| a == "hash-password") {
        args.next();
        return parse_hash_password(args);
    }
    if let Some(cmd) = args
        .peek()
        .and_then(|a| a.to_str())
        .filter(|a| ["invite", "invites", "revoke"].contains(a))
        .map(str::to_string)
    {
        args.next();
        return parse_people(&cmd, args, &env);
    }
    let mut parser = lexopt::Parser::from_args(args);
    loop {
        let arg = parser
            .next()
            .map_err(|e| ConfigError::UnknownFlag(e.to_string()))?;
        let Some(arg) = arg else { break };
        match arg {
            lexopt::Arg::Short('h') | lexopt::Arg::Long("help") => return Ok(Invocation::Help),
            lexopt::Arg::Short('V') | lexopt::Arg::Long("version") => {
                return Ok(Invocation::Version);
            }
            lexopt::Arg::Long(name) if SWITCHES.iter().any(|s| s.flag == name) => {
                let flag = SWITCHES
                    .iter()
                    .find(|s| s.flag == name)
                    .map_or("", |s| s.flag);
                raw.push((flag, String::new()));
            }
            lexopt::Arg::Long(name) => {
                let Some(setting) = SETTINGS.iter().find(|s| s.flag == name) else {
                    return Err(ConfigError::UnknownFlag(format!("--{name}")));
                };
                let value = parser
                    .value()
                    .map_err(|_| ConfigError::MissingValue(format!("--{}", setting.flag)))?;
                raw.push((setting.flag, value.to_string_lossy().into_owned()));
            }
            lexopt::Arg::Short(c) => return Err(ConfigError::UnknownFlag(format!("-{c}"))),
            lexopt::Arg::Value(v) => {
                return Err(ConfigError::Unexpected(v.to_string_lossy().into_owned()));
            }
        }
    }
    let mut config = Config::from_raw(&raw)?;
    config.notify.ntfy_token = env("HOMECLAUDE_NTFY_TOKEN").filter(|t| !t.is_empty());
    config.access.token = env("HOMECLAUDE_TOKEN").filter(|t| !t.is_empty());
    if let Some(token) = &config.access.token {
        let bits = crate::auth::token_bits(token);
        if bits < crate::auth::MIN_TOKEN_BITS && !config.access.no_auth {
            return Err(ConfigError::WeakToken(bits));
        }
    }
    // Environment only, like the token: a flag would show the hash to every local
    // user in the process list (and so to an offline guesser), and a shell would
    // take its $ signs for variables.
    if let Some(value) = env("HOMECLAUDE_PASSWORD_HASH").filter(|v| !v.trim().is_empty()) {
        if config.access.no_auth {
            return Err(ConfigError::PasswordWithoutAuth);
        }
        let hash = PasswordHash::parse(value.trim()).map_err(ConfigError::BadPasswordHash)?;
        config.access.password_hash = Some(hash);
    }
    Ok(Invocation::Serve(Box::new(config)))
}

/// An http(s) URL without a trailing slash (so paths can be appended).
fn http_url(value: &str) -> Result<String, &'static str> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or("expected an http:// or https:// URL")?;
    if rest.is_empty() || rest.starts_with('/') || value.chars().any(|c| c.is_whitespace()) {
        return Err("expected an http:// or https:// URL with a host");
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// `homeclaude hash-password`: no flags (the password comes from the terminal or
/// standard input, never from an argument, which the process list would show).
fn parse_hash_password(args: impl Iterator<Item = OsString>) -> Result<Invocation, ConfigError> {
    let mut parser = lexopt::Parser::from_args(args);
    match parser
        .next()
        .map_err(|e| ConfigError::UnknownFlag(e.to_string()))?
    {
        None => Ok(Invocation::HashPassword),
        Some(lexopt::Arg::Short('h') | lexopt::Arg::Long("help")) => Ok(Invocation::Help),
        Some(lexopt::Arg::Long(other)) => Err(ConfigError::UnknownFlag(format!("--{other}"))),
        Some(lexopt::Arg::Short(c)) => Err(ConfigError::UnknownFlag(format!("-{c}"))),
        // Not echoed: it is probably the password.
        Some(lexopt::Arg::Value(_)) => Err(ConfigError::PasswordArgument),
    }
}

/// `homeclaude token [--rotate] [--data-dir DIR]`.
fn parse_token(
    args: impl Iterator<Item = OsString>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Invocation, ConfigError> {
    let mut rotate = false;
    let mut api: Option<String> = None;
    let mut data_dir = env("HOMECLAUDE_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(default_data_dir);
    let mut parser = lexopt::Parser::from_args(args);
    while let Some(arg) = parser
        .next()
        .map_err(|e| ConfigError::UnknownFlag(e.to_string()))?
    {
        match arg {
            lexopt::Arg::Long("rotate") => rotate = true,
            lexopt::Arg::Long("api") => {
                let name = parser
                    .value()
                    .map_err(|_| ConfigError::MissingValue("--api".into()))?
                    .to_string_lossy()
                    .into_owned();
                if !crate::api_tokens::valid_name(&name) {
                    return Err(ConfigError::BadValue {
                        name: "--api".into(),
                        value: name,
                        why: "1-32 letters, digits, - _ or .".into(),
                    });
                }
                api = Some(name);
            }
            lexopt::Arg::Long("data-dir") => {
                data_dir = parser
                    .value()
                    .map(PathBuf::from)
                    .map_err(|_| ConfigError::MissingValue("--data-dir".into()))?;
            }
            lexopt::Arg::Short('h') | lexopt::Arg::Long("help") => return Ok(Invocation::Help),
            lexopt::Arg::Long(other) => return Err(ConfigError::UnknownFlag(format!("--{other}"))),
            lexopt::Arg::Short(c) => return Err(ConfigError::UnknownFlag(format!("-{c}"))),
            lexopt::Arg::Value(v) => {
                return Err(ConfigError::Unexpected(v.to_string_lossy().into_owned()));
            }
        }
    }
    if let Some(name) = api {
        return Ok(Invocation::ApiToken { name, data_dir });
    }
    Ok(Invocation::Token { rotate, data_dir })
}

/// `homeclaude invite|invites|revoke` and their flags.
fn parse_people(
    cmd: &str,
    args: impl Iterator<Item = OsString>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Invocation, ConfigError> {
    let mut data_dir = env("HOMECLAUDE_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(default_data_dir);
    let (mut name, mut role, mut expires, mut base) = (None, None, None, None);
    let mut parser = lexopt::Parser::from_args(args);
    let bad = |name: &str, value: &str, why: String| ConfigError::BadValue {
        name: name.to_string(),
        value: value.to_string(),
        why,
    };
    while let Some(arg) = parser
        .next()
        .map_err(|e| ConfigError::UnknownFlag(e.to_string()))?
    {
        fn value(parser: &mut lexopt::Parser, flag: &str) -> Result<String, ConfigError> {
            parser
                .value()
                .map(|v| v.to_string_lossy().into_owned())
                .map_err(|_| ConfigError::MissingValue(flag.to_string()))
        }
        match arg {
            lexopt::Arg::Long("data-dir") => {
                data_dir = PathBuf::from(value(&mut parser, "--data-dir")?)
            }
            lexopt::Arg::Long("name") if cmd == "invite" => {
                name = Some(value(&mut parser, "--name")?)
            }
            lexopt::Arg::Long("role") if cmd == "invite" => {
                let v = value(&mut parser, "--role")?;
                crate::invites::check_role(&v).map_err(|e| bad("--role", &v, e.to_string()))?;
                role = Some(v);
            }
            lexopt::Arg::Long("expires") if cmd == "invite" => {
                let v = value(&mut parser, "--expires")?;
                expires = crate::invites::parse_expiry(&v)
                    .map_err(|e| bad("--expires", &v, e.to_string()))?;
            }
            lexopt::Arg::Long("url") if cmd == "invite" => {
                base = Some(value(&mut parser, "--url")?)
            }
            lexopt::Arg::Value(v) if cmd == "revoke" && name.is_none() => {
                name = Some(v.to_string_lossy().into_owned());
            }
            lexopt::Arg::Short('h') | lexopt::Arg::Long("help") => return Ok(Invocation::Help),
            lexopt::Arg::Long(other) => return Err(ConfigError::UnknownFlag(format!("--{other}"))),
            lexopt::Arg::Short(c) => return Err(ConfigError::UnknownFlag(format!("-{c}"))),
            lexopt::Arg::Value(v) => {
                return Err(ConfigError::Unexpected(v.to_string_lossy().into_owned()));
            }
        }
    }
    let people = match cmd {
        "invite" => People::Invite {
            data_dir,
            name: name.ok_or_else(|| ConfigError::MissingValue("--name".into()))?,
            role: role.ok_or_else(|| ConfigError::MissingValue("--role".into()))?,
            expires,
            base: base.unwrap_or_else(|| {
                let listen = env("HOMECLAUDE_LISTEN").unwrap_or_else(|| "127.0.0.1:8765".into());
                format!("http://{listen}")
            }),
        },
        "revoke" => People::Revoke {
            data_dir,
            name: name.ok_or_else(|| ConfigError::MissingValue("NAME".into()))?,
        },
        _ => People::List { data_dir },
    };
    Ok(Invocation::People(people))
}

/// `--max-clients 1000,viewer=20,collaborator=10`: the total and per-role caps.
fn parse_max_clients(value: &str, limits: &mut Limits) -> Result<(), String> {
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (slot, n) = match part.split_once('=') {
            None => (&mut limits.max_clients, part),
            Some(("viewer", n)) => (limits.max_viewer_clients.insert(0), n),
            Some(("collaborator", n)) => (limits.max_collaborator_clients.insert(0), n),
            Some((role, _)) => return Err(format!("unknown role {role:?} (viewer, collaborator)")),
        };
        *slot = n
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or("expected a whole number above 0, or ROLE=N")?;
    }
    Ok(())
}

/// `--rate-limit 10` or `10,20`: per second, and the burst (twice the rate if
/// not given).
fn parse_rate(value: &str) -> Option<crate::ratelimit::Rate> {
    let mut parts = value.split(',').map(str::trim);
    let per_sec: f64 = parts.next()?.parse().ok()?;
    let burst: f64 = match parts.next() {
        Some(b) => b.parse().ok()?,
        None => per_sec * 2.0,
    };
    (parts.next().is_none() && per_sec > 0.0 && per_sec.is_finite() && burst >= 1.0).then_some(
        crate::ratelimit::Rate {
            per_sec,
            burst: burst.floor(),
        },
    )
}

impl Config {
    /// Validates raw values; a later value for the same flag wins.
    fn from_raw(raw: &Raw) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let (mut tls_cert, mut tls_key) = (None, None);
        let (mut telegram_token, mut telegram_chats, mut telegram_api) =
            (None::<String>, Vec::new(), None);
        let (mut slack_app, mut slack_bot, mut slack_channels, mut slack_api) =
            (None::<String>, None::<String>, Vec::new(), None);
        for (flag, value) in raw {
            let bad = |why: &str| ConfigError::BadValue {
                name: format!("--{flag}"),
                value: value.clone(),
                why: why.to_string(),
            };
            let secs = || -> Result<Duration, ConfigError> {
                match value.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
                    _ => Err(bad("expected a whole number of seconds above 0")),
                }
            };
            let count = || -> Result<usize, ConfigError> {
                match value.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(bad("expected a whole number above 0")),
                }
            };
            let path = || -> Result<PathBuf, ConfigError> {
                if value.is_empty() {
                    Err(bad("expected a path"))
                } else {
                    Ok(PathBuf::from(value))
                }
            };
            match *flag {
                "listen" => {
                    c.listen = value
                        .parse()
                        .map_err(|_| bad("expected ADDR:PORT, e.g. 127.0.0.1:8765 or [::1]:8765"))?
                }
                "workdir" => c.workdir = path()?,
                "data-dir" => c.data_dir = path()?,
                "claude" => c.claude = path()?,
                "templates" => c.templates = Some(path()?),
                "boxes" => c.boxes = Some(path()?),
                "telegram-token" => telegram_token = Some(value.trim().to_string()),
                "telegram-chats" => {
                    let ids: Result<Vec<i64>, _> =
                        list(value).iter().map(|v| v.parse::<i64>()).collect();
                    telegram_chats =
                        ids.map_err(|_| bad("expected chat ids, e.g. 123456789,-1001234567890"))?;
                }
                "telegram-api" => telegram_api = Some(http_url(value).map_err(&bad)?),
                "slack-app-token" => slack_app = Some(value.trim().to_string()),
                "slack-bot-token" => slack_bot = Some(value.trim().to_string()),
                "slack-channels" => slack_channels = list(value),
                "slack-api" => slack_api = Some(http_url(value).map_err(&bad)?),
                "model" => c.runner.model = Some(value.clone()).filter(|m| !m.is_empty()),
                "permission-mode" => {
                    const MODES: &[&str] = &[
                        "acceptEdits",
                        "auto",
                        "bypassPermissions",
                        "manual",
                        "dontAsk",
                        "plan",
                        "default",
                    ];
                    if !MODES.contains(&value.as_str()) {
                        return Err(bad(&format!("expected one of {}", MODES.join(", "))));
                    }
                    c.runner.permission_mode = value.clone();
                }
                "claude-args" => {
                    c.runner.extra_args = value.split_whitespace().map(String::from).collect()
                }
                "run-timeout" => c.runner.run_timeout = secs()?,
                "approval-timeout" => c.runner.approval_timeout = Some(secs()?),
                "claude-nice" => match value.parse::<i32>() {
                    Ok(n) if (0..=19).contains(&n) => c.runner.claude_nice = n,
                    _ => return Err(bad("expected a nice value from 0 to 19")),
                },
                "shell-timeout" => c.runner.shell_timeout = secs()?,
                "max-daily-usd" => match value.parse::<f64>() {
                    Ok(v) if v > 0.0 && v.is_finite() => c.runner.max_daily_usd = Some(v),
                    _ => {
                        return Err(bad(
                            "expected an amount in US dollars above 0, e.g. 5 or 2.50",
                        ));
                    }
                },
                "max-frame" => c.limits.max_frame = count()?,
                "max-clients" => parse_max_clients(value, &mut c.limits).map_err(|e| bad(&e))?,
                "owner-name" => {
                    c.access.owner_name =
                        crate::invites::check_name(value).map_err(|e| bad(&e.to_string()))?
                }
                "rate-limit" => {
                    c.access.rate = parse_rate(value)
                        .ok_or_else(|| bad("expected RATE or RATE,BURST, e.g. 10 or 10,20"))?
                }
                "collaborators-approve" => c.access.collaborators_approve = true,
                "max-connections" => c.limits.max_connections = count()?,
                "max-queue" => c.limits.max_queue = count()?,
                "max-body" => c.limits.max_body = count()?,
                "max-header" => c.limits.max_header = count()?,
                "request-timeout" => c.limits.request_timeout = secs()?,
                "client-backlog" => c.limits.client_backlog = count()?,
                "no-auth" => c.access.no_auth = true,
                "i-know-this-is-unsafe" => c.access.unsafe_no_auth = true,
                "allowed-host" => c.access.allowed_hosts = list(value),
                "allowed-origin" => c.access.allowed_origins = list(value),
                "tls-cert" => tls_cert = Some(path()?),
                "tls-key" => tls_key = Some(path()?),
                "max-upload" => c.files.max_upload = count()? as u64,
                "files-hidden" => c.files.hidden = list(value),
                "uploads-dir" => {
                    let bad_dir = value.is_empty()
                        || value.starts_with('/')
                        || value.split('/').any(|p| p == "..")
                        || value.contains('\0');
                    if bad_dir {
                        return Err(bad("expected a directory inside the workdir, e.g. uploads"));
                    }
                    c.files.uploads = value.trim_end_matches('/').to_string()
                }
                "watch-max" => c.files.watch_max = count()?,
                "notify" => {
                    c.notify.mode = crate::notify::Mode::parse(value)
                        .ok_or_else(|| bad("expected always, away or never"))?
                }
                "ntfy-url" => c.notify.ntfy_url = Some(http_url(value).map_err(&bad)?),
                "public-url" => c.notify.public_url = Some(http_url(value).map_err(&bad)?),
                "ping-interval" => c.ws.ping_interval = secs()?,
                "peer-timeout" => c.ws.peer_timeout = secs()?,
                other => unreachable!("flag {other} is in SETTINGS but not validated"),
            }
        }
        if c.access.no_auth && !c.listen.ip().is_loopback() && !c.access.unsafe_no_auth {
            return Err(ConfigError::UnsafeNoAuth(c.listen));
        }
        c.telegram = crate::telegram::Settings::from_flags(
            telegram_token.filter(|t| !t.is_empty()),
            telegram_chats,
            telegram_api,
        )
        .map_err(|why| ConfigError::BadValue {
            // Never the token itself: it would end up in a terminal or a log.
            name: "--telegram-chats".into(),
            value: String::new(),
            why: why.into(),
        })?;
        c.slack = crate::slack::Settings::from_flags(
            slack_app.filter(|t| !t.is_empty()),
            slack_bot.filter(|t| !t.is_empty()),
            slack_channels,
            slack_api,
        )
        .map_err(|why| ConfigError::BadValue {
            // Never a token itself.
            name: "--slack-channels".into(),
            value: String::new(),
            why: why.into(),
        })?;
        c.tls = match (tls_cert, tls_key) {
            (None, None) => None,
            (Some(_), None) => return Err(ConfigError::TlsHalf("--tls-key")),
            (None, Some(_)) => return Err(ConfigError::TlsHalf("--tls-cert")),
            (Some(_), Some(_)) if !cfg!(feature = "tls") => return Err(ConfigError::TlsNotBuilt),
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        };
        if c.limits.max_connections < c.limits.max_clients {
            c.limits.max_connections = c.limits.max_clients + 16;
        }
        Ok(c)
    }
}

/// Splits a comma-separated list, dropping empty items.
fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Invocation, ConfigError> {
        let args = std::iter::once("homeclaude")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect::<Vec<_>>();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(args.into_iter().skip(1), |k| {
            env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.clone())
        })
    }

    fn serve(args: &[&str], env: &[(&str, &str)]) -> Config {
        match run(args, env) {
            Ok(Invocation::Serve(c)) => *c,
            other => panic!("expected a config, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_loopback_and_accept_edits() {
        let c = serve(&[], &[]);
        assert_eq!(c.listen.to_string(), "127.0.0.1:8765");
        assert_eq!(c.runner.permission_mode, "acceptEdits");
        assert_eq!(c.limits.max_frame, 1 << 20);
    }

    #[test]
    fn flags_win_over_environment() {
        let c = serve(
            &["--listen", "0.0.0.0:9000"],
            &[
                ("HOMECLAUDE_LISTEN", "127.0.0.1:1"),
                ("HOMECLAUDE_MAX_FRAME", "2048"),
            ],
        );
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.limits.max_frame, 2048);
        let c = serve(&["--claude-args=--foo  --bar"], &[]);
        assert_eq!(c.runner.extra_args, vec!["--foo", "--bar"]);
    }

    #[test]
    fn bad_values_are_one_line_errors() {
        let err = |args: &[&str]| run(args, &[]).err().map(|e| e.to_string());
        assert_eq!(
            err(&["--listen", "nowhere"]).as_deref(),
            Some(
                "bad value \"nowhere\" for --listen: expected ADDR:PORT, e.g. 127.0.0.1:8765 or [::1]:8765"
            )
        );
        assert!(err(&["--max-frame", "0"]).unwrap().contains("--max-frame"));
        assert!(
            err(&["--permission-mode", "yolo"])
                .unwrap()
                .contains("acceptEdits")
        );
        assert_eq!(
            err(&["--nope"]).as_deref(),
            Some("unknown flag --nope (see homeclaude --help)")
        );
        assert_eq!(
            err(&["--listen"]).as_deref(),
            Some("--listen needs a value")
        );
        assert!(err(&["stray"]).unwrap().contains("unexpected argument"));
        assert!(run(&["--help"], &[]).is_ok_and(|i| matches!(i, Invocation::Help)));
    }

    #[test]
    fn no_auth_is_refused_off_loopback_unless_explicit() {
        assert!(serve(&["--no-auth"], &[]).access.no_auth);
        let err = run(&["--no-auth", "--listen", "0.0.0.0:8765"], &[]).unwrap_err();
        assert!(matches!(err, ConfigError::UnsafeNoAuth(_)));
        let c = serve(
            &["--listen", "0.0.0.0:8765", "--i-know-this-is-unsafe"],
            &[("HOMECLAUDE_NO_AUTH", "1")],
        );
        assert!(c.access.no_auth && c.access.unsafe_no_auth);
    }

    #[test]
    fn allow_lists_come_from_flags_or_environment() {
        let c = serve(
            &["--allowed-origin", "https://box.example"],
            &[("HOMECLAUDE_ALLOWED_HOSTS", "box.lan, pi.tail.ts.net,")],
        );
        assert_eq!(c.access.allowed_hosts, vec!["box.lan", "pi.tail.ts.net"]);
        assert_eq!(c.access.allowed_origins, vec!["https://box.example"]);
    }

    #[test]
    fn tls_needs_both_files_and_the_feature() {
        assert_eq!(
            run(&["--tls-cert", "c.pem"], &[]).err(),
            Some(ConfigError::TlsHalf("--tls-key"))
        );
        assert_eq!(
            run(&[], &[("HOMECLAUDE_TLS_KEY", "k.pem")]).err(),
            Some(ConfigError::TlsHalf("--tls-cert"))
        );
        let both = run(&["--tls-cert", "c.pem", "--tls-key", "k.pem"], &[]);
        if cfg!(feature = "tls") {
            let files = both.ok().and_then(|i| match i {
                Invocation::Serve(c) => c.tls,
                _ => None,
            });
            assert_eq!(
                files,
                Some(TlsFiles {
                    cert: "c.pem".into(),
                    key: "k.pem".into()
                })
            );
        } else {
            assert_eq!(both.err(), Some(ConfigError::TlsNotBuilt));
        }
    }

    #[test]
    fn token_subcommand() {
        match run(&["token", "--rotate", "--data-dir", "/x"], &[]) {
            Ok(Invocation::Token { rotate, data_dir }) => {
                assert!(rotate);
                assert_eq!(data_dir, PathBuf::from("/x"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn token_api_makes_a_named_api_token_and_boxes_is_a_path() {
        match run(&["token", "--api", "cron", "--data-dir", "/x"], &[]) {
            Ok(Invocation::ApiToken { name, data_dir }) => {
                assert_eq!(name, "cron");
                assert_eq!(data_dir, PathBuf::from("/x"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run(&["token", "--api", "two words"], &[]),
            Err(ConfigError::BadValue { .. })
        ));
        assert!(matches!(
            run(&["token", "--api"], &[]),
            Err(ConfigError::MissingValue(_))
        ));
        let c = serve(&[], &[("HOMECLAUDE_BOXES", "/etc/boxes.json")]);
        assert_eq!(c.boxes, Some(PathBuf::from("/etc/boxes.json")));
        assert_eq!(serve(&[], &[]).boxes, None);
    }

    #[test]
    fn a_password_hash_comes_from_the_environment_and_is_checked() {
        let good = crate::password::cheap_hash("pw");
        let c = serve(&[], &[("HOMECLAUDE_PASSWORD_HASH", &format!(" {good}\n"))]);
        assert!(c.access.password_hash.is_some());
        assert!(
            serve(&[], &[("HOMECLAUDE_PASSWORD_HASH", "")])
                .access
                .password_hash
                .is_none()
        );
        assert!(serve(&[], &[]).access.password_hash.is_none());
        let err = |value: &str, args: &[&str]| {
            run(args, &[("HOMECLAUDE_PASSWORD_HASH", value)])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        // A plaintext password where the hash belongs: refused, and not echoed.
        let text = err("my secret password", &[]);
        assert!(
            text.starts_with("HOMECLAUDE_PASSWORD_HASH is not a hash"),
            "{text}"
        );
        assert!(!text.contains("my secret password"), "{text}");
        assert!(err("$argon2id$v=19$m=19456,t=2,p=1$%%%", &[]).contains("not a PHC string"));
        // With --no-auth there is no login to use it.
        let text = err(&good, &["--no-auth"]);
        assert!(text.contains("--no-auth turns login off"), "{text}");
    }

    #[test]
    fn a_short_token_is_refused() {
        let err = run(&[], &[("HOMECLAUDE_TOKEN", "a")]).unwrap_err();
        assert_eq!(err, ConfigError::WeakToken(4));
        assert!(err.to_string().contains("at least 128"), "{err}");
        let good = "0123456789abcdef".repeat(2);
        assert!(
            serve(&[], &[("HOMECLAUDE_TOKEN", &good)])
                .access
                .token
                .is_some()
        );
    }

    #[test]
    fn hash_password_subcommand_takes_no_password_argument() {
        assert!(matches!(
            run(&["hash-password"], &[]),
            Ok(Invocation::HashPassword)
        ));
        assert!(matches!(
            run(&["hash-password", "--help"], &[]),
            Ok(Invocation::Help)
        ));
        let err = run(&["hash-password", "hunter2"], &[]).unwrap_err();
        assert_eq!(err, ConfigError::PasswordArgument);
        assert!(!err.to_string().contains("hunter2"));
        assert!(matches!(
            run(&["hash-password", "--cost", "9"], &[]),
            Err(ConfigError::UnknownFlag(_))
        ));
    }

    #[test]
    fn help_names_every_flag_and_its_environment_twin() {
        let text = help();
        for s in SETTINGS.iter().chain(SWITCHES) {
            assert!(text.contains(&format!("--{}", s.flag)), "{}", s.flag);
            assert!(text.contains(s.env), "{}", s.env);
        }
        for env_only in [
            "HOMECLAUDE_TOKEN",
            "HOMECLAUDE_PASSWORD_HASH",
            "hash-password",
        ] {
            assert!(text.contains(env_only), "{env_only}");
        }
    }

    #[test]
    fn people_commands_and_flags_parse() {
        let c = serve(
            &[
                "--max-clients",
                "50,viewer=5,collaborator=3",
                "--rate-limit",
                "2",
                "--owner-name",
                "Dana",
                "--collaborators-approve",
            ],
            &[],
        );
        assert_eq!(c.limits.max_clients, 50);
        assert_eq!(c.limits.max_viewer_clients, Some(5));
        assert_eq!(c.limits.max_collaborator_clients, Some(3));
        assert_eq!((c.access.rate.per_sec, c.access.rate.burst), (2.0, 4.0));
        assert_eq!(c.access.owner_name, "Dana");
        assert!(c.access.collaborators_approve);
        for bad in [
            &["--max-clients", "owner=3"][..],
            &["--rate-limit", "0"],
            &["--rate-limit", "1,2,3"],
            &["--owner-name", "Claude"],
        ] {
            assert!(
                matches!(run(bad, &[]), Err(ConfigError::BadValue { .. })),
                "{bad:?}"
            );
        }
        match run(
            &[
                "invite",
                "--role",
                "viewer",
                "--name",
                "Bo",
                "--expires",
                "12h",
                "--data-dir",
                "/d",
            ],
            &[],
        ) {
            Ok(Invocation::People(People::Invite {
                name,
                role,
                expires,
                base,
                data_dir,
            })) => {
                assert_eq!((name.as_str(), role.as_str()), ("Bo", "viewer"));
                assert_eq!(expires, Some(Duration::from_secs(12 * 3600)));
                assert_eq!(base, "http://127.0.0.1:8765");
                assert_eq!(data_dir, PathBuf::from("/d"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run(&["invite", "--role", "owner", "--name", "x"], &[]),
            Err(ConfigError::BadValue { .. })
        ));
        assert!(matches!(
            run(&["invite", "--role", "viewer"], &[]),
            Err(ConfigError::MissingValue(_))
        ));
        assert!(matches!(
            run(&["revoke", "Bo"], &[]),
            Ok(Invocation::People(People::Revoke { name, .. })) if name == "Bo"
        ));
        assert!(matches!(
            run(&["invites"], &[]),
            Ok(Invocation::People(People::List { .. }))
        ));
    }
}
