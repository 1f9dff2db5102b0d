//! Generates a Claude CLI transcript tree for benchmarks and cross-checks:
//! `<out>/projects/<project>/<session>.jsonl` plus sub-agent files, shaped
//! like CLI 2.1.x writes them (streamed messages split over lines sharing
//! message and request ids, the first with a provisional output count;
//! sub-agent files with `isSidechain` and their `agent_progress` mirrors in
//! the parent; 5-minute and 1-hour cache writes; fast mode; `<synthetic>`
//! error lines; a model without a price; a few `costUSD` lines; big tool
//! results). Same seed and end time, same bytes. std only.
//!
//!   cargo run --release --example gen_transcripts -- --out DIR
//!       [--sessions 400] [--seed 42] [--mb 100] [--end 2026-11-23T16:00:00Z]
//!   cargo run --release --example gen_transcripts -- --out DIR --append-run
//!
//! `--append-run` appends one more run (a prompt, a few tool calls) to the
//! newest session, as the warm benchmark needs.
//!
//! `--resumed N` (default 0) adds N resumed sessions the way older CLIs wrote
//! them: a new `<session>.jsonl` that starts with a verbatim copy of an
//! earlier session's transcript (same `message.id`, `requestId`, `uuid`,
//! `timestamp`; only `sessionId` is the new one), then its own turns, hours
//! to days later. They come from their own generator seeded from `--seed`,
//! after the other sessions, so the rest of the tree is the same bytes with
//! or without them.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(len);
        s
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
    fn id(&mut self) -> String {
        // Base62-ish like the API's ids.
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..24)
            .map(|_| CHARS[self.below(62) as usize] as char)
            .collect()
    }
}

const WORDS: &[&str] = &[
    "the", "file", "function", "returns", "error", "value", "struct", "config", "server", "thread",
    "request", "response", "test", "build", "module", "path", "line", "token", "cache", "session",
    "parse", "stream", "client", "socket", "buffer", "read", "write", "update", "check", "fix",
];

fn text(rng: &mut Rng, words: usize) -> String {
    let mut s = String::with_capacity(words * 7);
    for i in 0..words {
        if i > 0 {
            s.push_str(if rng.chance(8) { "\\n" } else { " " });
        }
        s.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    s
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn iso(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem % 3_600_000 / 60_000,
        rem % 60_000 / 1000,
        rem % 1000
    )
}

fn parse_iso(s: &str) -> Option<i64> {
    let n = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let days = days_from_civil(n(0, 4)?, n(5, 7)?, n(8, 10)?);
    Some(((days * 24 + n(11, 13)?) * 60 + n(14, 16)?) * 60_000 + n(17, 19)? * 1000)
}

struct Session {
    rng: Rng,
    project: String,
    sid: String,
    now: i64,
    parent: String,
    main: String,
    agents: Vec<(String, String)>,
}

const MODELS: &[&str] = &[
    "claude-opus-4-6",
    "claude-opus-4-6",
    "claude-opus-4-6",
    "claude-sonnet-4-5-20250929",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
];

impl Session {
    fn common(&mut self, sidechain: bool, agent: Option<&str>) -> String {
        let uuid = self.rng.uuid();
        let parent = std::mem::replace(&mut self.parent, uuid.clone());
        let agent = agent
            .map(|a| format!(r#""agentId":"{a}","#))
            .unwrap_or_default();
        format!(
            r#""parentUuid":"{parent}","isSidechain":{sidechain},"userType":"external","cwd":"/home/pi/projects/{p}","sessionId":"{sid}","version":"2.1.39","gitBranch":"main",{agent}"uuid":"{uuid}""#,
            p = self.project,
            sid = self.sid,
        )
    }

    fn user_prompt(&mut self) {
        let common = self.common(false, None);
        let words = self.rng.range(5, 60) as usize;
        let prompt = text(&mut self.rng, words);
        let _ = writeln!(
            self.main,
            r#"{{{common},"type":"user","message":{{"role":"user","content":"{prompt}"}},"timestamp":"{}","permissionMode":"default"}}"#,
            iso(self.now)
        );
    }

    fn tool_result(&mut self, sidechain: bool, agent: Option<&str>) -> String {
        let common = self.common(sidechain, agent);
        let words = if self.rng.chance(15) {
            self.rng.range(2000, 9000)
        } else {
            self.rng.range(100, 1500)
        } as usize;
        let body = text(&mut self.rng, words);
        let tool = self.rng.id();
        format!(
            r#"{{{common},"type":"user","message":{{"role":"user","content":[{{"tool_use_id":"toolu_{tool}","type":"tool_result","content":"{body}"}}]}},"timestamp":"{}","toolUseResult":{{"type":"text","file":{{"numLines":{}}}}}}}"#,
            iso(self.now),
            words / 10
        ) + "\n"
    }

    /// One API response streamed as 1–3 lines; returns the lines and the
    /// ids, early usage and timestamp for a progress mirror.
    fn assistant(&mut self, model: &str, sidechain: bool, agent: Option<&str>) -> (String, String) {
        let msg = format!("msg_{}", self.rng.id());
        let req = format!("req_{}", self.rng.id());
        let synthetic = self.rng.chance(1);
        let model = if synthetic { "<synthetic>" } else { model };
        let fast = model == "claude-opus-4-6" && self.rng.chance(5);
        let input = self.rng.range(1, 12);
        let read = if self.rng.chance(10) {
            0
        } else {
            self.rng.range(8_000, 180_000)
        };
        let write = self.rng.range(0, 12_000);
        // Sub-agents and 1 in 5 main-chain writes use the 1-hour cache.
        let one_hour = sidechain || self.rng.chance(20);
        let (w5, w1) = if one_hour { (0, write) } else { (write, 0) };
        let output = if synthetic {
            0
        } else {
            self.rng.range(20, 2500)
        };
        let (input, read, write, w5, w1) = if synthetic {
            (0, 0, 0, 0, 0)
        } else {
            (input, read, write, w5, w1)
        };
        let cost = if self.rng.chance(2) {
            format!(
                r#""costUSD":{:.6},"#,
                self.rng.range(1, 90_000) as f64 / 1e6
            )
        } else {
            String::new()
        };
        let speed = if fast { r#","speed":"fast""# } else { "" };
        let ts = self.now;
        let parts = if synthetic { 1 } else { self.rng.range(1, 3) };
        let mut lines = String::new();
        let mut early = String::new();
        for part in 0..parts {
            let last = part + 1 == parts;
            let out = if last { output } else { self.rng.range(1, 30) };
            let usage = format!(
                r#"{{"input_tokens":{input},"cache_creation_input_tokens":{write},"cache_read_input_tokens":{read},"cache_creation":{{"ephemeral_5m_input_tokens":{w5},"ephemeral_1h_input_tokens":{w1}}},"output_tokens":{out},"service_tier":"standard"{speed}}}"#
            );
            if part == 0 {
                early = usage.clone();
            }
            let content = if last && self.rng.chance(60) {
                let words = self.rng.range(10, 300) as usize;
                format!(
                    r#"{{"type":"tool_use","id":"toolu_{}","name":"Edit","input":{{"file_path":"/home/pi/projects/x/src/main.rs","old_string":"{}","new_string":"{}"}}}}"#,
                    self.rng.id(),
                    text(&mut self.rng, words),
                    text(&mut self.rng, words)
                )
            } else {
                let words = self.rng.range(5, 200) as usize;
                format!(
                    r#"{{"type":"text","text":"{}"}}"#,
                    text(&mut self.rng, words)
                )
            };
            let common = self.common(sidechain, agent);
            let _ = writeln!(
                lines,
                r#"{{{common},"message":{{"model":"{model}","id":"{msg}","type":"message","role":"assistant","content":[{content}],"stop_reason":null,"stop_sequence":null,"usage":{usage}}},{cost}"requestId":"{req}","type":"assistant","timestamp":"{}"}}"#,
                iso(ts + part as i64 * 40)
            );
        }
        let mirror = format!(
            r#""message":{{"type":"assistant","timestamp":"{}","message":{{"model":"{model}","id":"{msg}","type":"message","role":"assistant","content":[],"stop_reason":null,"usage":{early}}},"requestId":"{req}","uuid":"{}"}}"#,
            iso(ts),
            self.rng.uuid()
        );
        (lines, mirror)
    }

    fn turn(&mut self) {
        self.user_prompt();
        self.now += self.rng.range(2_000, 20_000) as i64;
        let model = MODELS[self.rng.below(MODELS.len() as u64) as usize];
        let model = if self.rng.chance(1) {
            "claude-future-9"
        } else {
            model
        };
        let steps = self.rng.range(1, 8);
        for _ in 0..steps {
            let (lines, _) = self.assistant(model, false, None);
            self.main.push_str(&lines);
            self.now += self.rng.range(3_000, 60_000) as i64;
            if self.rng.chance(8) {
                self.subagent();
            }
            let result = self.tool_result(false, None);
            self.main.push_str(&result);
            self.now += self.rng.range(500, 5_000) as i64;
        }
    }

    fn subagent(&mut self) {
        let agent = self.rng.hex(7);
        let mut file = String::new();
        let saved_parent = self.parent.clone();
        for _ in 0..self.rng.range(2, 8) {
            let (lines, mirror) = self.assistant("claude-sonnet-4-5-20250929", true, Some(&agent));
            file.push_str(&lines);
            // The parent sees the sub-agent's early line as agent_progress.
            let common = self.common(false, None);
            let _ = writeln!(
                self.main,
                r#"{{{common},"type":"progress","data":{{{mirror},"normalizedMessages":[],"type":"agent_progress","prompt":"look it up","agentId":"{agent}"}},"toolUseID":"agent_msg_{}","timestamp":"{}"}}"#,
                self.rng.id(),
                iso(self.now)
            );
            self.now += self.rng.range(2_000, 30_000) as i64;
            let result = self.tool_result(true, Some(&agent));
            file.push_str(&result);
        }
        self.parent = saved_parent;
        self.agents.push((agent, file));
    }

    fn write(&self, root: &Path) -> std::io::Result<PathBuf> {
        let dir = root.join("projects").join(&self.project);
        fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.jsonl", self.sid));
        let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
        f.write_all(self.main.as_bytes())?;
        for (agent, body) in &self.agents {
            let sub = dir.join(&self.sid).join("subagents");
            fs::create_dir_all(&sub)?;
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(sub.join(format!("agent-{agent}.jsonl")))?;
            f.write_all(body.as_bytes())?;
        }
        Ok(path)
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let Some(out) = get("--out").map(PathBuf::from) else {
        eprintln!(
            "usage: gen_transcripts --out DIR [--sessions N] [--seed S] [--mb M] [--end ISO] [--resumed N] [--append-run]"
        );
        std::process::exit(2);
    };
    let seed: u64 = get("--seed").and_then(|s| s.parse().ok()).unwrap_or(42);
    let marker = out.join("generator-state.txt");
    if args.iter().any(|a| a == "--append-run") {
        // The marker holds the newest session's path, ids and last time.
        let state = fs::read_to_string(&marker)?;
        let parts: Vec<&str> = state.split_whitespace().collect();
        let (Some(project), Some(sid), Some(now)) = (
            parts.first(),
            parts.get(1),
            parts.get(2).and_then(|t| t.parse::<i64>().ok()),
        ) else {
            eprintln!("bad {}", marker.display());
            std::process::exit(2);
        };
        let mut s = Session {
            rng: Rng(seed ^ now as u64),
            project: project.to_string(),
            sid: sid.to_string(),
            now: now + 120_000,
            parent: String::new(),
            main: String::new(),
            agents: Vec::new(),
        };
        s.turn();
        s.write(&out)?;
        fs::write(&marker, format!("{project} {sid} {}\n", s.now))?;
        println!("appended {} bytes to {project}/{sid}.jsonl", s.main.len());
        return Ok(());
    }
    let sessions: u64 = get("--sessions")
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let mb: u64 = get("--mb").and_then(|s| s.parse().ok()).unwrap_or(100);
    let end = match get("--end") {
        Some(text) => parse_iso(text).unwrap_or(0),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
    };
    let mut rng = Rng(seed);
    let projects: Vec<String> = (0..12)
        .map(|i| format!("-home-pi-projects-app{i}"))
        .collect();
    let per_session = mb * 1_000_000 / sessions.max(1);
    let resumed: usize = get("--resumed").and_then(|s| s.parse().ok()).unwrap_or(0);
    // The originals of resumed sessions: (project, session id, transcript,
    // its last time). Sessions 1..=N, which end hours to weeks before `end`.
    let mut originals: Vec<(String, String, String, i64)> = Vec::new();
    let mut total = 0usize;
    let mut newest = (String::new(), String::new(), 0i64);
    for n in 0..sessions {
        // Session 0 ends half an hour before `end`, so a block is active and
        // today has usage; the rest spread over the previous 60 days.
        let start = if n == 0 {
            end - 3 * 3_600_000
        } else {
            end - rng.range(4 * 3_600_000, 60 * 86_400_000) as i64
        };
        // Turns overshoot the target by about a third of a turn on average.
        let target = (per_session * 3 / 8 + rng.below(per_session * 3 / 4)) as usize;
        let mut s = Session {
            rng: Rng(rng.next()),
            project: projects[rng.below(projects.len() as u64) as usize].clone(),
            sid: rng.uuid(),
            now: start,
            parent: String::new(),
            main: String::new(),
            agents: Vec::new(),
        };
        let stop = if n == 0 { end - 30 * 60_000 } else { i64::MAX };
        while s.main.len() + s.agents.iter().map(|a| a.1.len()).sum::<usize>() < target
            && s.now < stop
        {
            s.turn();
            s.now += if s.rng.chance(3) {
                6 * 3_600_000 // a long break: the next turn opens a new block
            } else {
                s.rng.range(60_000, 1_800_000) as i64
            };
        }
        total += s.main.len() + s.agents.iter().map(|a| a.1.len()).sum::<usize>();
        s.write(&out)?;
        if n == 0 {
            newest = (s.project.clone(), s.sid.clone(), s.now);
        } else if originals.len() < resumed {
            originals.push((s.project.clone(), s.sid.clone(), s.main.clone(), s.now));
        }
    }
    let mut rng = Rng(seed ^ 0x7265_7375_6d65_6421);
    for (project, old_sid, old_main, last) in originals {
        // Resumed 1 h to 10 days after the original's last turn, never later
        // than an hour before `end` (the block of session 0 stays the newest).
        let at = last + rng.range(3_600_000, 10 * 86_400_000) as i64;
        if at > end - 3_600_000 {
            continue;
        }
        let sid = rng.uuid();
        // The copy: every line as it was, under the new session id.
        let copy = old_main.replace(
            &format!(r#""sessionId":"{old_sid}""#),
            &format!(r#""sessionId":"{sid}""#),
        );
        let target = copy.len() + (per_session / 2) as usize;
        let mut s = Session {
            rng: Rng(rng.next()),
            project,
            sid,
            now: at,
            parent: String::new(),
            main: copy,
            agents: Vec::new(),
        };
        while s.main.len() < target && s.now < end - 3_600_000 {
            s.turn();
            s.now += s.rng.range(60_000, 1_800_000) as i64;
        }
        total += s.main.len() + s.agents.iter().map(|a| a.1.len()).sum::<usize>();
        s.write(&out)?;
    }
    fs::write(&marker, format!("{} {} {}\n", newest.0, newest.1, newest.2))?;
    println!(
        "wrote {sessions} sessions, {:.1} MB, under {} (end {})",
        total as f64 / 1e6,
        out.join("projects").display(),
        iso(end)
    );
    Ok(())
}
