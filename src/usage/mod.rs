//! Claude usage and cost computed natively from the CLI's transcripts
//! (`~/.claude/projects/**/*.jsonl`): today's tokens and cost by model, the
//! totals, and the active 5-hour billing block, following ccusage 20's
//! rules (see docs/USAGE.md). Replaces running `npx ccusage` after each run.
//!
//! Codemap: `scan` finds files and reads appended bytes; `entry` turns a line
//! into usage entries; `ledger` de-duplicates and sums them; `blocks` applies
//! the 5-hour rules; `pricing` prices tokens; `report` shapes the output;
//! `cache` persists the state; `time` does calendars and the local zone.
//! Only `scan` and `cache` touch the file system (and `pricing` reads the
//! override file once). No threads, no async: `refresh` is called by
//! whoever owns the tracker, and does work proportional to what was appended.

mod blocks;
mod cache;
mod entry;
mod ledger;
mod pricing;
mod report;
mod scan;
mod time;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub use pricing::{Prices, load_prices};
pub use report::{DailyEntry, UsageStatus};

use ledger::{Ledger, WINDOW_MS};
use scan::{Change, Dirs, Files, Found};
use time::LocalZone;

/// Errors of the usage module. Unreadable transcripts are not errors (they
/// are skipped, as ccusage skips them); these are.
#[derive(Debug)]
pub enum UsageError {
    /// The price override file exists but could not be read or parsed.
    Prices(PathBuf, String),
    /// The cache file could not be written (the figures are still right).
    Cache(PathBuf, String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Prices(path, why) => {
                write!(f, "cannot use price file {}: {why}", path.display())
            }
            UsageError::Cache(path, why) => {
                write!(f, "cannot write usage cache {}: {why}", path.display())
            }
        }
    }
}

impl std::error::Error for UsageError {}

/// The transcript roots ccusage reads: each `$CLAUDE_CONFIG_DIR` entry's
/// `projects` (comma-separated list allowed) when the variable is set,
/// otherwise whichever of `~/.config/claude/projects` (or under
/// `$XDG_CONFIG_HOME`) and `~/.claude/projects` exist.
pub fn default_roots() -> Vec<PathBuf> {
    if let Ok(dirs) = std::env::var("CLAUDE_CONFIG_DIR")
        && !dirs.trim().is_empty()
    {
        return dirs
            .split(',')
            .map(str::trim)
            .filter(|dir| !dir.is_empty())
            .map(|dir| Path::new(dir).join("projects"))
            .collect();
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let mut roots = Vec::new();
    for root in [
        config.map(|c| c.join("claude").join("projects")),
        home.map(|h| h.join(".claude").join("projects")),
    ]
    .into_iter()
    .flatten()
    {
        if root.is_dir() && !roots.contains(&root) {
            roots.push(root);
        }
    }
    roots
}

fn epoch_ms(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

/// Incremental usage figures over a set of transcript roots.
pub struct UsageTracker {
    roots: Vec<PathBuf>,
    prices: Prices,
    zone: LocalZone,
    files: Files,
    dirs: Dirs,
    ledger: Ledger,
    cache_path: Option<PathBuf>,
    cache_loaded: bool,
    line_buf: Vec<u8>,
}

impl UsageTracker {
    pub fn new(roots: Vec<PathBuf>, prices: Prices) -> Self {
        UsageTracker {
            roots,
            prices,
            zone: LocalZone::from_env(),
            files: Files::new(),
            dirs: Dirs::new(),
            ledger: Ledger::default(),
            cache_path: None,
            cache_loaded: false,
            line_buf: Vec::new(),
        }
    }

    /// Persists the state in `path` after each refresh that changed it, and
    /// starts from it on the first refresh, so that a fresh process (the
    /// `homeclaude usage` command, a restarted server) reads only what was
    /// appended since.
    pub fn with_cache(mut self, path: PathBuf) -> Self {
        self.cache_path = Some(path);
        self.cache_loaded = false;
        self
    }

    #[cfg(test)]
    fn with_zone(mut self, zone: LocalZone) -> Self {
        self.zone = zone;
        self
    }

    fn identity(&self) -> cache::Identity<'_> {
        cache::Identity {
            roots: &self.roots,
            zone: &self.zone.id,
            prices: self.prices.fingerprint,
        }
    }

    /// Reads what was appended to the transcripts since the last refresh.
    pub fn refresh(&mut self) -> Result<(), UsageError> {
        self.refresh_at(SystemTime::now())
    }

    fn refresh_at(&mut self, now: SystemTime) -> Result<(), UsageError> {
        if !self.cache_loaded {
            self.cache_loaded = true;
            if let Some(path) = &self.cache_path
                && let Some((files, dirs, ledger)) = cache::load(path, &self.identity())
            {
                self.files = files;
                self.dirs = dirs;
                self.ledger = ledger;
            }
        }
        let (found, relisted) = scan::discover(&self.roots, &mut self.dirs);
        let mut changed = self.forget_if_history_changed(&found) | relisted;
        self.ledger.horizon_ms = epoch_ms(now) - WINDOW_MS;
        match self.read_changed(&found) {
            Ok(read_any) => changed |= read_any,
            Err(Rewritten) => {
                // A file was rewritten under an offset: count from scratch.
                self.reset();
                self.ledger.horizon_ms = epoch_ms(now) - WINDOW_MS;
                let _ = self.read_changed(&found);
                changed = true;
            }
        }
        self.ledger.prune();
        match (&self.cache_path, changed) {
            (Some(path), true) => cache::save(
                path,
                &self.identity(),
                &self.files,
                &self.dirs,
                &self.ledger,
            ),
            _ => Ok(()),
        }
    }

    fn reset(&mut self) {
        self.files.clear();
        self.ledger = Ledger::default();
    }

    /// Sums cannot un-count a file: when one vanished (the CLI deletes old
    /// transcripts), shrank or was replaced, everything is read again.
    fn forget_if_history_changed(&mut self, found: &[Found]) -> bool {
        let present: HashSet<&str> = found.iter().map(|f| f.key.as_str()).collect();
        let vanished = self.files.keys().any(|k| !present.contains(k.as_str()));
        let rewritten = found
            .iter()
            .any(|f| scan::classify(f, self.files.get(&f.key)) == Change::Rewritten);
        if vanished || rewritten {
            self.reset();
        }
        vanished || rewritten
    }

    /// Reads every grown file, a session's files together, dropping old
    /// de-duplication state between sessions.
    fn read_changed(&mut self, found: &[Found]) -> Result<bool, Rewritten> {
        let mut read_any = false;
        let mut last_group: Option<&str> = None;
        for f in found {
            let known = self.files.get(&f.key).copied();
            if scan::classify(f, known.as_ref()) == Change::Unchanged {
                continue;
            }
            if last_group.is_some_and(|g| g != f.group) {
                self.ledger.prune();
            }
            last_group = Some(&f.group);
            let (ledger, zone, prices) = (&mut self.ledger, &self.zone, &self.prices);
            let result =
                scan::read_appended(f, known.unwrap_or_default(), &mut self.line_buf, |line| {
                    let Ok(text) = std::str::from_utf8(line) else {
                        return;
                    };
                    let mut entries = Vec::new();
                    entry::parse_line(text, &f.session, &mut entries);
                    for e in &entries {
                        ledger.admit(e, zone, prices);
                    }
                });
            match result {
                Ok(Some(state)) => {
                    read_any |= known != Some(state);
                    self.files.insert(f.key.clone(), state);
                }
                Ok(None) => return Err(Rewritten),
                Err(err) => {
                    log::warn!("usage: skipping {}: {err}", f.path.display());
                }
            }
        }
        Ok(read_any)
    }

    /// The figures at `now`: today's entry, the totals and the active block.
    pub fn status(&self, now: SystemTime) -> UsageStatus {
        report::status(&self.ledger, &self.zone, epoch_ms(now))
    }

    /// Every day with usage, in ccusage's `daily` entry shape.
    pub fn daily(&self) -> Vec<DailyEntry> {
        report::all_days(&self.ledger)
    }

    /// Models seen with tokens but without a price (counted at $0).
    pub fn unpriced_models(&self) -> Vec<String> {
        self.ledger.unpriced.iter().cloned().collect()
    }
}

/// A file changed under its offset during a refresh.
struct Rewritten;

/// Where `homeclaude usage` keeps its cache and looks for `prices.json`:
/// `--data-dir`, else `$HOMECLAUDE_DATA_DIR`, else
/// `$XDG_DATA_HOME/homeclaude` or `~/.local/share/homeclaude`.
/// The server's data dir (same rule as `config`), so both share one cache.
fn default_data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HOMECLAUDE_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local").join("state")))
        .map(|d| d.join("homeclaude"))
}

const CLI_HELP: &str = "\
usage: homeclaude usage [--json] [--daily] [--data-dir DIR] [--no-cache]

Prints today's Claude tokens and cost, the totals and the active 5-hour
block, computed from the CLI's transcripts ($CLAUDE_CONFIG_DIR/projects or
~/.claude/projects and ~/.config/claude/projects).

  --json        the usage_status body as JSON (what the browser gets)
  --daily       every day as JSON, in ccusage's `daily --json` shape
  --data-dir    where usage-cache.json and prices.json live
                (default $HOMECLAUDE_DATA_DIR, ~/.local/share/homeclaude)
  --no-cache    read every transcript, do not read or write the cache
";

/// `homeclaude usage [--json]`: `args` are the words after `usage`.
/// Exit codes: 0 figures printed, 2 bad arguments or price file.
pub fn run_cli(args: &[String]) -> i32 {
    let (mut json, mut daily, mut no_cache) = (false, false, false);
    let mut data_dir = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--daily" => daily = true,
            "--no-cache" => no_cache = true,
            "--data-dir" => match args.next() {
                Some(dir) => data_dir = Some(PathBuf::from(dir)),
                None => {
                    eprintln!("homeclaude usage: --data-dir needs a directory");
                    return 2;
                }
            },
            "-h" | "--help" => {
                print!("{CLI_HELP}");
                return 0;
            }
            other => {
                eprintln!("homeclaude usage: unknown argument {other:?}\n\n{CLI_HELP}");
                return 2;
            }
        }
    }
    let data_dir = data_dir.or_else(default_data_dir);
    let prices = match &data_dir {
        Some(dir) => match load_prices(dir) {
            Ok(prices) => prices,
            Err(err) => {
                eprintln!("homeclaude usage: {err}");
                return 2;
            }
        },
        None => Prices::embedded(),
    };
    let mut tracker = UsageTracker::new(default_roots(), prices);
    if let (Some(dir), false) = (&data_dir, no_cache) {
        // Without a writable data dir the figures are still right, just not
        // incremental across invocations.
        if std::fs::create_dir_all(dir).is_ok() {
            tracker = tracker.with_cache(dir.join("usage-cache.json"));
        }
    }
    if let Err(err) = tracker.refresh() {
        eprintln!("homeclaude usage: {err}");
    }
    let status = tracker.status(SystemTime::now());
    let printed = if daily {
        serde_json::to_string_pretty(&serde_json::json!({
            "daily": tracker.daily(),
            "totals": status.totals,
        }))
    } else if json {
        serde_json::to_string_pretty(&status)
    } else {
        Ok(report::human(&status, &tracker.unpriced_models()))
    };
    match printed {
        Ok(text) => {
            println!("{}", text.trim_end());
            0
        }
        Err(err) => {
            eprintln!("homeclaude usage: {err}");
            1
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A unique directory under the system temp dir, removed on drop.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(name: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let path = std::env::temp_dir().join(format!(
                "homeclaude-{name}-{}-{nanos}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::create_dir_all(&path);
            TempDir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn at(text: &str) -> SystemTime {
        let ms = time::parse_timestamp(text).unwrap_or_default();
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    }

    /// An assistant line as the CLI writes it (compact JSON).
    fn line(ts: &str, model: &str, msg: &str, req: &str, usage: &str) -> String {
        format!(
            r#"{{"type":"assistant","timestamp":"{ts}","sessionId":"s","version":"2.1.39","requestId":"{req}","message":{{"id":"{msg}","model":"{model}","usage":{usage}}}}}"#
        )
    }

    fn append(path: &Path, lines: &[String]) {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for l in lines {
            let _ = writeln!(file, "{l}");
        }
    }

    fn tracker(root: &Path) -> UsageTracker {
        UsageTracker::new(vec![root.to_path_buf()], Prices::embedded()).with_zone(LocalZone::utc())
    }

    fn json(tracker: &UsageTracker, now: &str) -> serde_json::Value {
        serde_json::to_value(tracker.status(at(now))).unwrap_or_default()
    }

    fn close(a: &serde_json::Value, b: f64) -> bool {
        a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
    }

    const SONNET: &str = "claude-sonnet-4-5-20250929";
    const U1: &str = r#"{"input_tokens":1000,"output_tokens":0}"#;

    /// The recorded sessions (tests/fixtures/sessions: the real CLI's files, many
    /// assistant lines sharing `message.id` + `requestId`, a sub-agent's file) give
    /// ccusage 20.0.24's figures: `CLAUDE_CONFIG_DIR=<dir with projects/p/ holding
    /// copies of them> TZ=UTC ccusage daily --json --offline` (see
    /// tests/fixtures/README.md; re-recording changes the dates and these figures).
    #[test]
    fn fixture_sessions_match_ccusage_20() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sessions");
        let mut t = tracker(&root);
        assert!(t.refresh_at(at("2026-12-05T20:00:00Z")).is_ok());
        let s = json(&t, "2026-12-05T20:00:00Z");
        let totals = &s["totals"];
        assert_eq!(totals["inputTokens"], 17050);
        assert_eq!(totals["outputTokens"], 380);
        assert_eq!(totals["cacheCreationTokens"], 0);
        assert_eq!(totals["cacheReadTokens"], 0);
        assert_eq!(totals["totalTokens"], 17430);
        assert!(
            close(&totals["totalCost"], 0.056850000000000005),
            "{totals}"
        );
        let days = t.daily();
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].date, "2026-12-05");
        assert_eq!(days[0].output_tokens, 380);
        assert_eq!(days[0].models_used, vec![SONNET]);
        assert_eq!(s["today"]["date"], "2026-12-05");
        assert!(close(&s["today"]["totalCost"], 0.056850000000000005));
        // The sessions ran at 12:19; at 20:00 their block (12–17) is over.
        assert_eq!(s["block"], serde_json::Value::Null);
        let s = json(&t, "2026-12-05T13:00:00Z");
        assert_eq!(s["block"]["startTime"], "2026-12-05T12:00:00.000Z");
        assert_eq!(s["block"]["remainingMinutes"], 240);
        assert!(close(&s["block"]["costUSD"], 0.056850000000000005));
    }

    #[test]
    fn incremental_refresh_reads_appends_only() {
        let dir = TempDir::new("usage-incremental");
        let file = dir.path().join("proj/s.jsonl");
        append(
            &file,
            &[line("2026-03-01T10:00:00.000Z", SONNET, "m1", "r1", U1)],
        );
        let mut t = tracker(dir.path());
        assert!(t.refresh_at(at("2026-03-01T10:30:00Z")).is_ok());
        assert_eq!(
            json(&t, "2026-03-01T10:30:00Z")["today"]["inputTokens"],
            1000
        );
        // The streamed message's final line replaces its first one; a torn
        // line waits; a new message counts.
        append(
            &file,
            &[
                line(
                    "2026-03-01T10:00:01.000Z",
                    SONNET,
                    "m1",
                    "r1",
                    r#"{"input_tokens":1000,"output_tokens":50}"#,
                ),
                line("2026-03-01T10:20:00.000Z", SONNET, "m2", "r2", U1),
            ],
        );
        let torn = line("2026-03-01T10:25:00.000Z", SONNET, "m3", "r3", U1);
        let (head, rest) = torn.split_at(40);
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .and_then(|mut f| f.write_all(head.as_bytes()));
        assert!(t.refresh_at(at("2026-03-01T10:30:00Z")).is_ok());
        let s = json(&t, "2026-03-01T10:30:00Z");
        assert_eq!(s["today"]["inputTokens"], 2000);
        assert_eq!(s["today"]["outputTokens"], 50);
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .and_then(|mut f| writeln!(f, "{rest}"));
        assert!(t.refresh_at(at("2026-03-01T10:30:00Z")).is_ok());
        let s = json(&t, "2026-03-01T10:30:00Z");
        assert_eq!(s["today"]["inputTokens"], 3000);
        // Same figures as reading everything at once.
        let mut fresh = tracker(dir.path());
        assert!(fresh.refresh_at(at("2026-03-01T10:30:00Z")).is_ok());
        assert_eq!(json(&fresh, "2026-03-01T10:30:00Z"), s);
    }

    #[test]
    fn cache_makes_a_new_process_incremental() {
        let dir = TempDir::new("usage-cache");
        let root = dir.path().join("projects");
        let cache_file = dir.path().join("usage-cache.json");
        let file = root.join("proj/s.jsonl");
        append(
            &file,
            &[line("2026-03-01T10:00:00.000Z", SONNET, "m1", "r1", U1)],
        );
        let now = "2026-03-01T11:00:00Z";
        let mut first = tracker(&root).with_cache(cache_file.clone());
        assert!(first.refresh_at(at(now)).is_ok());
        assert!(cache_file.is_file());
        // A new tracker starts from the cache: a duplicate of m1 appended
        // now is still recognised, and the figures match a full read.
        append(
            &file,
            &[
                line(
                    "2026-03-01T10:00:01.000Z",
                    SONNET,
                    "m1",
                    "r1",
                    r#"{"input_tokens":1000,"output_tokens":9}"#,
                ),
                line(
                    "2026-03-01T10:40:00.000Z",
                    "claude-opus-4-6",
                    "m2",
                    "r2",
                    U1,
                ),
            ],
        );
        let mut second = tracker(&root).with_cache(cache_file.clone());
        assert!(second.refresh_at(at(now)).is_ok());
        let s = json(&second, now);
        assert_eq!(s["totals"]["inputTokens"], 2000);
        assert_eq!(s["totals"]["outputTokens"], 9);
        assert_eq!(
            s["block"]["models"],
            serde_json::json!([SONNET, "claude-opus-4-6"])
        );
        let mut full = tracker(&root);
        assert!(full.refresh_at(at(now)).is_ok());
        assert_eq!(json(&full, now), s);
        // A cache for other prices is not used (the costs would be stale).
        let mut prices = Prices::embedded();
        prices.fingerprint ^= 1;
        let other = UsageTracker::new(vec![root.clone()], prices).with_zone(LocalZone::utc());
        assert!(cache::load(&cache_file, &other.identity()).is_none());
        // A deleted transcript is forgotten: everything is read again.
        let _ = std::fs::remove_file(&file);
        append(
            &root.join("proj/t.jsonl"),
            &[line("2026-03-01T10:50:00.000Z", SONNET, "m9", "r9", U1)],
        );
        assert!(second.refresh_at(at(now)).is_ok());
        assert_eq!(json(&second, now)["totals"]["inputTokens"], 1000);
    }

    /// The block rules end to end on a generated tree: the 5 h boundary,
    /// a gap, duplicates across files, an unknown model, 1 h cache writes.
    #[test]
    fn block_rules_on_a_generated_tree() {
        let dir = TempDir::new("usage-blocks");
        let root = dir.path();
        let cache_1h = r#"{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":1000000,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":1000000}}"#;
        let cache_5m = r#"{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":1000000,"cache_creation":{"ephemeral_5m_input_tokens":1000000,"ephemeral_1h_input_tokens":0}}"#;
        append(
            &root.join("a/s1.jsonl"),
            &[
                line("2026-05-01T08:10:00.000Z", SONNET, "m1", "r1", U1),
                // Exactly 5 h after the 08:00 start: still the first block.
                line("2026-05-01T13:00:00.000Z", SONNET, "m2", "r2", U1),
                // Past it: a new block at 13:00.
                line("2026-05-01T13:30:00.000Z", SONNET, "m3", "r3", cache_1h),
            ],
        );
        append(
            &root.join("a/s1/subagents/agent-x.jsonl"),
            &[
                // A sub-agent line repeated (same ids) counts once.
                line("2026-05-01T13:30:00.000Z", SONNET, "m3", "r3", cache_1h),
                line("2026-05-01T14:00:00.000Z", SONNET, "m4", "r4", cache_5m),
                line(
                    "2026-05-01T14:30:00.000Z",
                    "claude-future-9",
                    "m5",
                    "r5",
                    U1,
                ),
            ],
        );
        let mut t = tracker(root);
        assert!(t.refresh_at(at("2026-05-01T15:00:00Z")).is_ok());
        let s = json(&t, "2026-05-01T15:00:00Z");
        let block = &s["block"];
        assert_eq!(block["startTime"], "2026-05-01T13:00:00.000Z");
        assert_eq!(block["endTime"], "2026-05-01T18:00:00.000Z");
        // 10.8 (1 h writes) + 6.75 (5 m writes) + 0 (unknown model).
        assert!(close(&block["costUSD"], 17.55), "{block}");
        assert_eq!(block["totalTokens"], 2_001_000);
        assert_eq!(
            block["models"],
            serde_json::json!([SONNET, "claude-future-9"])
        );
        assert_eq!(block["remainingMinutes"], 180);
        // 17.55 over 60 minutes of entries.
        assert!(close(&block["costPerHour"], 17.55), "{block}");
        assert!(close(&block["projectedCost"], 70.2), "{block}");
        assert_eq!(t.unpriced_models(), vec!["claude-future-9"]);
        // Five hours after the last entry there is no active block: a gap.
        let s = json(&t, "2026-05-01T19:30:00Z");
        assert_eq!(s["block"], serde_json::Value::Null);
        // A new entry after the gap opens a block at its own hour.
        append(
            &root.join("a/s2.jsonl"),
            &[line("2026-05-01T19:45:00.000Z", SONNET, "m6", "r6", U1)],
        );
        assert!(t.refresh_at(at("2026-05-01T20:00:00Z")).is_ok());
        let s = json(&t, "2026-05-01T20:00:00Z");
        assert_eq!(s["block"]["startTime"], "2026-05-01T19:00:00.000Z");
        assert_eq!(s["block"]["projectedCost"], serde_json::Value::Null);
        assert_eq!(
            s["today"]["modelsUsed"],
            serde_json::json!(["claude-future-9", SONNET])
        );
    }

    /// Issue 14: a resumed session's file starts with a verbatim copy of an
    /// earlier session's lines (same message and request ids, uuids and
    /// timestamps; its own `sessionId`). ccusage 20 counts them once, and so
    /// must we, however old the copied lines, whichever file is read first,
    /// at once or in later refreshes, with or without the cache.
    #[test]
    fn a_resumed_sessions_copied_prefix_counts_once() {
        let in_session = |text: String, sid: &str| {
            text.replace(r#""sessionId":"s""#, &format!(r#""sessionId":"{sid}""#))
        };
        let usage = |output: u64| format!(r#"{{"input_tokens":1000,"output_tokens":{output}}}"#);
        // The earlier session: a streamed message (provisional, then final
        // line), a message the next day, and a `/btw` sidechain replay of it
        // under another request id (the same message: counted once).
        let original: Vec<String> = [
            line("2026-01-01T10:00:00.000Z", SONNET, "m1", "r1", &usage(1)),
            line("2026-01-01T10:00:01.000Z", SONNET, "m1", "r1", &usage(50)),
            line("2026-01-02T09:00:00.000Z", SONNET, "m2", "r2", &usage(7)),
            line("2026-01-02T09:05:00.000Z", SONNET, "m2", "r9", &usage(7)).replace(
                r#""type":"assistant","#,
                r#""type":"assistant","isSidechain":true,"#,
            ),
        ]
        .into_iter()
        .map(|l| in_session(l, "s1"))
        .collect();
        // The resumed one, weeks later: the copy, then its own message.
        let mut resumed: Vec<String> = original.iter().map(|l| l.replace("s1", "s2")).collect();
        resumed.push(in_session(
            line("2026-02-01T10:00:00.000Z", SONNET, "m3", "r3", &usage(3)),
            "s2",
        ));
        let expected = vec![
            ("2026-01-01".to_string(), 1000, 50),
            ("2026-01-02".to_string(), 1000, 7),
            ("2026-02-01".to_string(), 1000, 3),
        ];
        let days = |t: &UsageTracker| -> Vec<(String, u64, u64)> {
            t.daily()
                .into_iter()
                .map(|d| (d.date, d.input_tokens, d.output_tokens))
                .collect()
        };
        let now = at("2026-03-01T00:00:00Z");
        // Read at once, the copy's file first and last.
        for (first, second) in [("a", "b"), ("b", "a")] {
            let dir = TempDir::new("usage-resumed");
            append(&dir.path().join(format!("{first}/s2.jsonl")), &resumed);
            append(&dir.path().join(format!("{second}/s1.jsonl")), &original);
            let mut t = tracker(dir.path());
            assert!(t.refresh_at(now).is_ok());
            assert_eq!(
                days(&t),
                expected,
                "copy in {first}/, original in {second}/"
            );
        }
        // The original read first; the resumed session appears later, read
        // by the same tracker, and by a new process from the cache.
        let dir = TempDir::new("usage-resumed");
        let root = dir.path().join("projects");
        let cache_file = dir.path().join("usage-cache.json");
        append(&root.join("p/s1.jsonl"), &original);
        let mut live = tracker(&root);
        assert!(live.refresh_at(now).is_ok());
        let mut first = tracker(&root).with_cache(cache_file.clone());
        assert!(first.refresh_at(now).is_ok());
        append(&root.join("p/s2.jsonl"), &resumed);
        assert!(live.refresh_at(now).is_ok());
        assert_eq!(days(&live), expected);
        let mut second = tracker(&root).with_cache(cache_file);
        assert!(second.refresh_at(now).is_ok());
        assert_eq!(days(&second), expected);
        assert_eq!(
            json(&second, "2026-03-01T00:00:00Z"),
            json(&live, "2026-03-01T00:00:00Z")
        );
    }

    #[test]
    fn cli_arguments() {
        assert_eq!(run_cli(&["--bogus".to_string()]), 2);
        assert_eq!(run_cli(&["--data-dir".to_string()]), 2);
        assert_eq!(run_cli(&["--help".to_string()]), 0);
        let dir = TempDir::new("usage-prices");
        let _ = std::fs::write(dir.path().join("prices.json"), "{not json");
        assert!(matches!(
            load_prices(dir.path()),
            Err(UsageError::Prices(..))
        ));
        assert!(load_prices(&dir.path().join("missing")).is_ok());
    }
}
