//! homeclaude: a private Claude Code station for a small home server.
//!
//! `main` only wires: it parses the configuration, builds the parts, starts their
//! threads, runs the hub on this thread, and maps how it ended to an exit code.
#![forbid(unsafe_code)]

mod admission;
mod api;
mod api_tokens;
mod approvals;
mod assets;
mod auth;
mod box_relay;
mod boxes;
mod boxstatus;
mod bridge;
mod calendar;
mod child;
mod claude_sessions;
mod config;
mod file_watch;
mod files;
mod files_http;
mod git;
mod http;
mod hub;
mod invites;
mod jobs;
mod launcher;
mod logs;
mod markdown;
mod meter;
mod notify;
mod orphans;
mod outbound;
mod outbox;
mod pages;
mod password;
mod people_api;
mod permissions;
mod presence;
mod protocol;
mod push_routes;
mod qr;
mod ratelimit;
mod replay;
mod routes;
mod runner;
mod shell;
mod signals;
mod slack;
mod sse;
mod store;
mod stream_json;
mod telegram;
#[cfg(feature = "tls")]
mod tls;
mod translate;
mod transport;
mod usage;
mod watchdog;
mod webpush;
mod ws;
mod ws_client;

use config::{Config, Invocation};
use std::fmt;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Exit codes, written down once.
const EXIT_OK: u8 = 0;
const EXIT_START_FAILED: u8 = 1;
const EXIT_BAD_CONFIG: u8 = 2;
const EXIT_RESTART: u8 = 100;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("usage") {
        let code = usage::run_cli(&args[1..]);
        return ExitCode::from(u8::try_from(code).unwrap_or(EXIT_START_FAILED));
    }
    let invocation = config::parse(std::env::args_os().skip(1), |k| std::env::var(k).ok());
    let config = match invocation {
        Ok(Invocation::Serve(config)) => *config,
        Ok(Invocation::Help) => {
            print!("{}", config::help());
            return ExitCode::from(EXIT_OK);
        }
        Ok(Invocation::Version) => {
            println!("homeclaude {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::from(EXIT_OK);
        }
        Ok(Invocation::Token { rotate, data_dir }) => return token_command(rotate, &data_dir),
        Ok(Invocation::HashPassword) => return hash_password_command(),
        Ok(Invocation::ApiToken { name, data_dir }) => return api_token_command(&name, &data_dir),
        Ok(Invocation::People(people)) => {
            let dir = match &people {
                config::People::Invite { data_dir, .. }
                | config::People::List { data_dir }
                | config::People::Revoke { data_dir, .. } => data_dir,
            };
            if let Err(e) = create_private_dir(dir) {
                eprintln!("homeclaude: data dir {}: {e}", dir.display());
                return ExitCode::from(EXIT_START_FAILED);
            }
            return ExitCode::from(if invites::command(&people) {
                EXIT_OK
            } else {
                EXIT_START_FAILED
            });
        }
        Err(e) => {
            eprintln!("homeclaude: {e}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match serve(config) {
        Ok(hub::Exit::Stop) => ExitCode::from(EXIT_OK),
        Ok(hub::Exit::Restart) => ExitCode::from(EXIT_RESTART),
        Err(e) => {
            log::error!("{e}");
            eprintln!("homeclaude: {e}");
            // A token too short to use is a configuration mistake like a bad flag.
            if matches!(e, StartError::Auth(auth::AuthError::Weak { .. })) {
                ExitCode::from(EXIT_BAD_CONFIG)
            } else {
                ExitCode::from(EXIT_START_FAILED)
            }
        }
    }
}

/// Why the server could not start.
#[derive(Debug)]
enum StartError {
    Bind(std::net::SocketAddr, std::io::Error),
    Templates(pages::PageError),
    Auth(auth::AuthError),
    Workdir(std::path::PathBuf, std::io::Error),
    Thread(&'static str, std::io::Error),
    Boxes(std::path::PathBuf, boxes::BoxesError),
    #[cfg(feature = "tls")]
    Tls(tls::TlsError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            StartError::Templates(e) => write!(f, "cannot load templates: {e}"),
            StartError::Auth(e) => write!(f, "cannot set up login: {e}"),
            StartError::Workdir(dir, e) => write!(f, "workdir {}: {e}", dir.display()),
            StartError::Thread(name, e) => write!(f, "cannot start the {name} thread: {e}"),
            StartError::Boxes(file, e) => write!(f, "--boxes {}: {e}", file.display()),
            #[cfg(feature = "tls")]
            StartError::Tls(e) => write!(f, "cannot set up TLS: {e}"),
        }
    }
}

/// Plain HTTP, or TLS with the configured certificate.
fn acceptor(config: &Config) -> Result<transport::Acceptor, StartError> {
    #[cfg(feature = "tls")]
    if let Some(files) = &config.tls {
        let server = tls::server_config(files).map_err(StartError::Tls)?;
        return Ok(transport::Acceptor::tls(server));
    }
    // Without the feature, config refuses --tls-cert before this point.
    let _ = config;
    Ok(transport::Acceptor::plain())
}

fn serve(config: Config) -> Result<hub::Exit, StartError> {
    let started = Instant::now();
    // Before anything is served: what is older in the workdir is no upload of ours.
    let started_at = std::time::SystemTime::now();
    if let Err(e) = create_private_dir(&config.data_dir) {
        log::warn!(
            "data dir {}: {e}; continuing without it",
            config.data_dir.display()
        );
    }
    let swept = orphans::sweep(&config.data_dir);
    if swept > 0 {
        log::warn!("ended {swept} claude run(s) left running by a server that was killed");
    }
    let pages = pages::Pages::new(config.templates.clone()).map_err(StartError::Templates)?;
    // Absolute, so the `claude --resume` command shown to users works from anywhere.
    let workdir = std::fs::canonicalize(&config.workdir)
        .map_err(|e| StartError::Workdir(config.workdir.clone(), e))?;
    let acceptor = acceptor(&config)?;
    let scheme = if acceptor.is_tls() { "https" } else { "http" };
    let listener =
        TcpListener::bind(config.listen).map_err(|e| StartError::Bind(config.listen, e))?;
    let local = listener
        .local_addr()
        .map_err(|e| StartError::Bind(config.listen, e))?;

    let auth = if config.access.no_auth {
        log::warn!("authentication is OFF (--no-auth): anyone who reaches {local} can run claude");
        auth::Auth::new(auth::Mode::Disabled, None)
    } else {
        let store = auth::TokenStore::new(&config.data_dir, config.access.token.clone());
        let token = store.owner().map_err(StartError::Auth)?;
        log::info!(
            "log in at {scheme}://{}/login?token={token}",
            display_host(local)
        );
        if let Some(hash) = &config.access.password_hash {
            log::info!("password login is on ({})", hash.describe());
            if hash.weaker_than_default() {
                log::warn!(
                    "the password hash is cheaper than `homeclaude hash-password` makes \
                     (argon2id m=19456 t=2 p=1): a stolen hash is quicker to guess"
                );
            }
        }
        auth::Auth::new(
            auth::Mode::Tokens(store),
            config.access.password_hash.clone(),
        )
    };

    let files = open_files(&config, &workdir);
    let notify = start_notify(&config);
    let boxes = match &config.boxes {
        Some(file) => {
            let specs = boxes::load(file).map_err(|e| StartError::Boxes(file.clone(), e))?;
            log::info!(
                "dashboard of {} other box(es) from {}",
                specs.len(),
                file.display()
            );
            let boxes = boxes::Boxes::new(specs);
            boxes
                .spawn_poller()
                .map_err(|e| StartError::Thread("boxes", e))?;
            Some(boxes)
        }
        None => None,
    };
    let (hub_handle, hub_rx) = hub::channel();
    let bridges = bridge::Health::new();
    if let Some(settings) = config.telegram.clone() {
        telegram::spawn(settings, hub_handle.clone(), files.clone(), bridges.clone())
            .map_err(|e| StartError::Thread("telegram", e))?;
    }
    if let Some(settings) = config.slack.clone() {
        slack::spawn(settings, hub_handle.clone(), bridges.clone())
            .map_err(|e| StartError::Thread("slack", e))?;
    }
    let app = Arc::new(routes::App {
        hub: hub_handle.clone(),
        pages,
        assets: assets::Assets::new(config.templates.as_deref()),
        claude: config.claude.clone(),
        started,
        auth,
        access: config.access.clone(),
        loopback: local.ip().is_loopback(),
        data_dir: config.data_dir.clone(),
        git: git::Git::new(workdir.clone()),
        files: files.clone(),
        notify: notify.clone(),
        api: api::ApiContext {
            tokens: api_tokens::ApiTokens::new(&config.data_dir),
            boxes,
            stream_backlog: config.limits.client_backlog,
        },
        bridges,
    });
    if !config.access.no_auth {
        let hub = hub_handle.clone();
        invites::spawn_watcher(&config.data_dir, Box::new(move |live| hub.invites(live)))
            .map_err(|e| StartError::Thread("invites", e))?;
    }
    let wedge_accept = Arc::new(AtomicBool::new(false));
    let door = Arc::new(http::Door {
        app,
        settings: http::HttpSettings {
            max_header: config.limits.max_header,
            max_body: config.limits.max_body,
            request_timeout: config.limits.request_timeout,
            keepalive_timeout: config.limits.keepalive_timeout,
        },
        acceptor,
        ws: ws::WsSettings {
            max_message: config.limits.max_frame,
            backlog: config.limits.client_backlog,
            ping_interval: config.ws.ping_interval,
            peer_timeout: config.ws.peer_timeout,
        },
        admission: admission::Admission::new(
            admission::Caps::new(config.limits.max_connections, config.limits.max_clients)
                .per_role(
                    config.limits.max_viewer_clients,
                    config.limits.max_collaborator_clients,
                ),
        ),
        closing: AtomicBool::new(false),
        wedge_accept: wedge_accept.clone(),
    });
    // Test hooks are for the watchdog's tests only (docs/DEPLOY.md says so).
    let test_hooks_on = std::env::var("HOMECLAUDE_TEST_HOOKS").as_deref() == Ok("1");
    let test_hooks = test_hooks_on.then(|| wedge_accept.clone());
    signals::spawn(hub_handle.clone(), test_hooks).map_err(|e| StartError::Thread("signals", e))?;
    let accept_door = door.clone();
    std::thread::Builder::new()
        .name("accept".into())
        .stack_size(128 << 10)
        .spawn(move || http::accept_loop(listener, accept_door))
        .map_err(|e| StartError::Thread("accept", e))?;
    log::info!(
        "homeclaude {} listening on {scheme}://{local} (workdir {}, data {})",
        env!("CARGO_PKG_VERSION"),
        workdir.display(),
        config.data_dir.display()
    );

    // A missing CLI is not fatal (it may be installed while the server runs), but
    // a new user should hear of it now, not at the first prompt.
    if child::find_executable(&config.claude).is_none() {
        log::warn!(
            "the Claude Code CLI ({}) was not found: prompts will fail until it is \
             installed (npm install -g @anthropic-ai/claude-code, then run `claude` once \
             to log in) or --claude names it",
            config.claude.display()
        );
    }
    watchdog::ready(&format!("listening on {local}"));
    watchdog::spawn(local, hub_handle.clone()).map_err(|e| StartError::Thread("watchdog", e))?;
    let (store, mut recovered) = store::Store::open(&config.data_dir, fsync_delay(test_hooks_on));
    for warning in &recovered.warnings {
        log::warn!("store: {warning}");
    }
    if let Err(e) = store.reserve(&mut recovered, hub::SEQ_BLOCK) {
        log::error!("store: cannot save state: {e}");
    }
    let store_hub = hub_handle.clone();
    let store = store::writer::spawn(store, Box::new(move |r| store_hub.store_report(r)))
        .map_err(|e| StartError::Thread("store", e))?;
    let meter = match meter::spawn(&config.data_dir, &workdir, hub_handle.clone()) {
        Ok(m) => Some(m),
        Err(e) => {
            log::warn!("usage: cannot start the usage thread: {e}; usage figures are off");
            None
        }
    };
    if let Some(files) = &files
        && let Err(e) = file_watch::spawn(
            files.clone(),
            config.files.watch_max,
            started_at,
            hub_handle.clone(),
        )
    {
        log::warn!("files: cannot watch the workdir: {e}; file changes are not reported");
    }
    let exit = hub::run(
        &hub_handle,
        meter,
        hub_rx,
        hub::HubSettings {
            max_daily_usd: config.runner.max_daily_usd,
            runner: runner::RunnerConfig {
                claude: config.claude.clone(),
                workdir: workdir.clone(),
                model: config.runner.model.clone(),
                permission_mode: config.runner.permission_mode.clone(),
                extra_args: config.runner.extra_args.clone(),
                timeout: config.runner.run_timeout,
                nice: config.runner.claude_nice,
                files: files.clone(),
                ..runner::RunnerConfig::default()
            },
            max_queue: config.limits.max_queue,
            history_bytes: 4 << 20,
            drain: Duration::from_millis(1500),
            data_dir: config.data_dir.clone(),
            approval_timeout: config.runner.approval_timeout,
            shell: shell::ShellConfig {
                workdir: workdir.clone(),
                timeout: config.runner.shell_timeout,
                nice: config.runner.claude_nice,
                ..shell::ShellConfig::default()
            },
            notify_mode: config.notify.mode,
            notify,
            owner_name: config.access.owner_name.clone(),
            rate: config.access.rate,
            policy: permissions::Policy {
                collaborators_approve: config.access.collaborators_approve,
            },
        },
        store,
        recovered,
    );
    door.closing
        .store(true, std::sync::atomic::Ordering::Relaxed);
    log::info!("stopped ({exit:?})");
    Ok(exit)
}

/// The workdir's files for the file routes and attachments, with the data dir and
/// the CLI's own config (`CLAUDE_CONFIG_DIR`, else `~/.claude`) out of reach.
fn open_files(config: &Config, workdir: &std::path::Path) -> Option<Arc<files::Files>> {
    let claude_dir = std::env::var_os("CLAUDE_CONFIG_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".claude")));
    let forbidden: Vec<_> = std::iter::once(config.data_dir.clone())
        .chain(claude_dir)
        .collect();
    match files::Files::open(
        workdir,
        config.files.hidden.clone(),
        &forbidden,
        config.files.max_upload,
        config.files.uploads.clone(),
        // Test hook: the path taken where openat2 is missing (Linux before 5.6,
        // qemu-user), exercised on any kernel by the traversal tests.
        !(std::env::var("HOMECLAUDE_TEST_HOOKS").as_deref() == Ok("1")
            && std::env::var("HOMECLAUDE_TEST_NO_OPENAT2").as_deref() == Ok("1")),
    ) {
        Ok(f) => Some(Arc::new(f)),
        Err(e) => {
            log::error!("files: cannot open the workdir: {e}; the file routes answer 503");
            None
        }
    }
}

/// The notify thread with the data dir's VAPID key (made on first start). Not
/// fatal: without it the server runs and the settings sheet says so.
fn start_notify(config: &Config) -> Option<notify::NotifyHandle> {
    let vapid = match webpush::Vapid::load_or_create(&config.data_dir) {
        Ok(v) => v,
        Err(e) => {
            log::warn!("notifications are off: cannot read or make the VAPID key: {e}");
            return None;
        }
    };
    let settings = &config.notify;
    if !cfg!(feature = "notify") {
        log::info!("notifications: this build has no outbound HTTPS (feature notify)");
    }
    if settings.public_url.is_none() {
        log::info!(
            "notifications: --public-url is not set, so ntfy messages carry no link and no \
             Allow/Deny buttons (Web Push needs none)"
        );
    }
    if let Some(url) = &settings.ntfy_url {
        // The topic name is the secret of a public ntfy server: the host only.
        let host = url.split("://").nth(1).and_then(|r| r.split('/').next());
        log::info!("notifications: ntfy at {}", host.unwrap_or("?"));
    }
    match notify::spawn(&config.data_dir, settings.clone(), vapid) {
        Ok(n) => Some(n),
        Err(e) => {
            log::warn!("notifications are off: cannot start the notify thread: {e}");
            None
        }
    }
}

/// Test hook: `HOMECLAUDE_TEST_FSYNC_DELAY_MS` makes every fsync of the data dir
/// that much slower (a Raspberry Pi's SD card takes 10-100 ms), to show that no
/// client waits for one. Only with `HOMECLAUDE_TEST_HOOKS=1`.
fn fsync_delay(test_hooks: bool) -> Duration {
    let ms = std::env::var("HOMECLAUDE_TEST_FSYNC_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|_| test_hooks)
        .unwrap_or(0);
    if ms > 0 {
        log::warn!("store: test hook: every fsync takes {ms} ms longer");
    }
    Duration::from_millis(ms)
}

/// `host:port` for the login URL: an unspecified bind address (0.0.0.0) is shown
/// as this machine's name, which is what a phone on the LAN would type.
fn display_host(local: std::net::SocketAddr) -> String {
    if local.ip().is_unspecified() {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let name = name.trim();
        if !name.is_empty() {
            return format!("{name}:{}", local.port());
        }
    }
    local.to_string()
}

/// `homeclaude token [--rotate]`.
fn token_command(rotate: bool, data_dir: &std::path::Path) -> ExitCode {
    if let Err(e) = create_private_dir(data_dir) {
        eprintln!("homeclaude: data dir {}: {e}", data_dir.display());
        return ExitCode::from(EXIT_START_FAILED);
    }
    let store = auth::TokenStore::new(data_dir, std::env::var("HOMECLAUDE_TOKEN").ok());
    let result = if rotate {
        store.rotate()
    } else {
        store.owner()
    };
    match result.and_then(|owner| Ok((owner, store.viewer()?))) {
        Ok((owner, viewer)) => {
            if rotate {
                eprintln!("new tokens written; every session is logged out");
            }
            println!("{owner}");
            eprintln!("viewer (read-only) token: {viewer}");
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            eprintln!("homeclaude: {e}");
            ExitCode::from(EXIT_START_FAILED)
        }
    }
}

/// `homeclaude token --api NAME`: a new API token on stdout (shown once: only its
/// hash is kept), what it may do on stderr.
fn api_token_command(name: &str, data_dir: &std::path::Path) -> ExitCode {
    if let Err(e) = create_private_dir(data_dir) {
        eprintln!("homeclaude: data dir {}: {e}", data_dir.display());
        return ExitCode::from(EXIT_START_FAILED);
    }
    match api_tokens::create(data_dir, name) {
        Ok(token) => {
            println!("{token}");
            eprintln!(
                "API token {name:?} made (an older one of that name no longer works). It is \
                 shown only now; it works on /api/* only (Authorization: Bearer), never \
                 for the page."
            );
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            eprintln!("homeclaude: {e}");
            ExitCode::from(EXIT_START_FAILED)
        }
    }
}

/// `homeclaude hash-password`: the hash alone on stdout (for scripts), how to use
/// it on stderr.
fn hash_password_command() -> ExitCode {
    match password::read_new_password().and_then(|p| password::hash(&p)) {
        Ok(hash) => {
            println!("{hash}");
            eprint!("{}", password::setting_hint(&hash));
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            eprintln!("homeclaude: {e}");
            ExitCode::from(EXIT_START_FAILED)
        }
    }
}

/// Creates the data directory readable by this user only: it will hold the login
/// token and the conversation history.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
