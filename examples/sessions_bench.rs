//! Benchmark for docs/PERFORMANCE.md "Session listing": lists a CLI session store of
//! 5,000 files of ~100 KB each, cold and warm, and reports the process's peak RSS.
//!
//! The store is generated first in a temp dir by a fixed-seed generator (the same
//! bytes every run), with lines shaped like the CLI's own: a queued prompt, the user
//! line, assistant text, large tool results, progress lines, and at the end
//! `last-prompt` and `cost-state`. The module is compiled in by path, since
//! homeclaude is a binary crate.
//!
//! Usage: `cargo run --release --example sessions_bench -- [--files 5000]
//! [--size 100000] [--runs 5] [--limit 50] [--drop-cache] [--dir PATH]`.
//! `--drop-cache` asks the kernel to drop the files' pages before the first listing,
//! so it reads from disk. `--dir` keeps the store in PATH (and reuses it when it is
//! already there), so repeated measurements skip the generation.

#[allow(dead_code)]
#[path = "../src/claude_sessions.rs"]
mod claude_sessions;

// claude_sessions.rs takes its calendar arithmetic from here.
#[path = "../src/calendar.rs"]
mod calendar;

use claude_sessions::SessionIndex;
use serde_json::json;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Opts {
    files: usize,
    size: usize,
    runs: usize,
    limit: usize,
    drop_cache: bool,
    dir: Option<PathBuf>,
}

fn main() {
    let mut opts = Opts {
        files: 5000,
        size: 100_000,
        runs: 5,
        limit: 50,
        drop_cache: false,
        dir: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--files" => opts.files = v.parse().expect("--files N"),
            "--size" => opts.size = v.parse().expect("--size BYTES"),
            "--runs" => opts.runs = v.parse().expect("--runs N"),
            "--limit" => opts.limit = v.parse().expect("--limit N"),
            "--dir" => opts.dir = Some(PathBuf::from(v)),
            "--drop-cache" => {
                opts.drop_cache = true;
                i += 1;
                continue;
            }
            other => panic!("unknown flag {other}"),
        }
        i += 2;
    }

    let keep = opts.dir.is_some();
    let dir = opts.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("homeclaude-sessions-bench-{}", std::process::id()))
    });
    if keep && count_sessions(&dir) == opts.files {
        println!("reusing {} files in {}", opts.files, dir.display());
    } else {
        // Never delete what a mistyped --dir points at: only an empty or new one.
        let empty = fs::read_dir(&dir).map_or(true, |mut d| d.next().is_none());
        assert!(
            empty,
            "{} is neither empty nor a store of {} files",
            dir.display(),
            opts.files
        );
        fs::create_dir_all(&dir).expect("create the store");
        let t = Instant::now();
        let bytes = generate(&dir, &opts);
        println!(
            "generated {} files, {:.0} MB, in {:.1} s",
            opts.files,
            bytes as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    if opts.drop_cache {
        drop_page_cache(&dir);
    }
    let baseline = status_kib("VmHWM:");

    let mut rows: Vec<(String, String)> = Vec::new();
    // The first listing of a new index; from disk with --drop-cache.
    let mut index = SessionIndex::new(dir.clone());
    let t = Instant::now();
    let listed = index.list(opts.limit);
    let first = t.elapsed();
    assert_eq!(
        listed.len(),
        opts.limit.min(opts.files),
        "every file is a session"
    );
    // What a server holding one index pays.
    let after_first = status_kib("VmRSS:");
    let what = if opts.drop_cache {
        "page cache dropped"
    } else {
        "page cache warm"
    };
    rows.push((format!("cold list(), first ({what})"), ms(first)));
    rows.push((
        "  files read / MB read".into(),
        format!(
            "{} / {:.1}",
            index.files_read(),
            index.bytes_read() as f64 / 1e6
        ),
    ));

    // A new index each time, files in the page cache.
    let cold: Vec<Duration> = (0..opts.runs)
        .map(|_| {
            let mut index = SessionIndex::new(dir.clone());
            let t = Instant::now();
            index.list(opts.limit);
            t.elapsed()
        })
        .collect();
    rows.push((
        "cold list(), new index, page cache warm".into(),
        median_row(&cold),
    ));

    // The same index again: nothing changed, nothing is read.
    let before = index.files_read();
    let warm: Vec<Duration> = (0..opts.runs)
        .map(|_| {
            let t = Instant::now();
            index.list(opts.limit);
            t.elapsed()
        })
        .collect();
    rows.push(("warm list()".into(), median_row(&warm)));
    rows.push((
        "  files read".into(),
        (index.files_read() - before).to_string(),
    ));

    // One session appended to, as when the CLI is writing one.
    let changed = &listed[listed.len() - 1].id;
    let changed_path = dir.join(format!("{changed}.jsonl"));
    let original_len = fs::metadata(&changed_path).expect("stat a session").len();
    let mut f = File::options()
        .append(true)
        .open(&changed_path)
        .expect("open a session");
    writeln!(f, "{}", json!({"type": "assistant", "timestamp": "2027-01-01T00:00:00.000Z", "isSidechain": false, "message": {"role": "assistant", "content": [{"type": "text", "text": "more"}]}})).expect("append");
    let before = index.files_read();
    let t = Instant::now();
    let after = index.list(opts.limit);
    rows.push(("warm list(), one file changed".into(), ms(t.elapsed())));
    rows.push((
        "  files read".into(),
        (index.files_read() - before).to_string(),
    ));
    assert_eq!(
        &after[0].id, changed,
        "the changed session is now the newest"
    );
    // Undone, so a kept store gives the same figures next time.
    f.set_len(original_len).expect("truncate a session");

    let peak = status_kib("VmHWM:");
    rows.push(("peak RSS (VmHWM) before listing".into(), mb(baseline)));
    rows.push((
        "RSS (VmRSS) after the first listing".into(),
        mb(after_first),
    ));
    // Includes the second index alive during the "new index" runs.
    rows.push(("peak RSS (VmHWM) at the end".into(), mb(peak)));
    rows.push(("RSS (VmRSS) at the end".into(), mb(status_kib("VmRSS:"))));

    println!("| figure | value |");
    println!("|---|---|");
    for (name, value) in rows {
        println!("| {name} | {value} |");
    }
    drop(index);
    if !keep && let Err(e) = fs::remove_dir_all(&dir) {
        eprintln!("could not remove {}: {e}", dir.display());
    }
}

/// How many `.jsonl` files `dir` holds (0 if it does not exist).
fn count_sessions(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
            .count()
    })
}

/// SplitMix64: small, fast, and the same sequence for the same seed.
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
        self.next() % n
    }

    fn words(&mut self, bytes: usize) -> String {
        const WORDS: &str = "the build fails on arm64 because of a missing feature flag in \
            Cargo.toml please fix it and run tests again session file line parser cache \
            thread socket hub event replay seq log disk full retry error result tool use";
        let words: Vec<&str> = WORDS.split_whitespace().collect();
        let mut s = String::with_capacity(bytes + 16);
        while s.len() < bytes {
            s.push_str(words[self.below(words.len() as u64) as usize]);
            s.push(if self.below(12) == 0 { '\n' } else { ' ' });
        }
        s
    }
}

/// Writes the store; returns the bytes written.
fn generate(dir: &Path, opts: &Opts) -> u64 {
    let mut rng = Rng(0x5e55_1075);
    let mut total = 0;
    for _ in 0..opts.files {
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rng.next() as u32,
            rng.next() as u16,
            rng.below(0x1000),
            rng.below(0x1000),
            rng.next() & 0xffff_ffff_ffff
        );
        // Sessions over most of a year, each lasting up to a few hours.
        let mut ms = 1_767_225_600_000 + rng.below(300 * 86_400_000);
        let mut stamp = |rng: &mut Rng| {
            ms += 1 + rng.below(20_000);
            claude_sessions::rfc3339(std::time::UNIX_EPOCH + Duration::from_millis(ms))
        };
        let path = dir.join(format!("{id}.jsonl"));
        let mut out = BufWriter::with_capacity(
            64 << 10,
            File::create(&path).expect("create a session file"),
        );
        let prompt_len = 20 + rng.below(200) as usize;
        let prompt = rng.words(prompt_len);
        let mut lines: Vec<String> = [
            json!({"type": "queue-operation", "operation": "enqueue", "timestamp": stamp(&mut rng), "sessionId": id, "content": prompt}),
            json!({"parentUuid": null, "isSidechain": false, "type": "user", "message": {"role": "user", "content": prompt}, "uuid": "u", "timestamp": stamp(&mut rng), "cwd": "/home/pi/projects/bench", "sessionId": id, "version": "2.1.330"}),
            json!({"parentUuid": "u", "isSidechain": false, "type": "attachment", "attachment": {"type": "environment"}, "timestamp": stamp(&mut rng), "rendered": [{"content": format!("<system-reminder>\n{}</system-reminder>", rng.words(1500))}]}),
        ]
        .iter()
        .map(|v| v.to_string())
        .collect();
        let mut size = 0;
        while size < opts.size {
            let text_len = 200 + rng.below(2800) as usize;
            let line = match rng.below(8) {
                0..=3 => {
                    json!({"parentUuid": "u", "isSidechain": false, "type": "assistant", "timestamp": stamp(&mut rng), "requestId": "req", "message": {"role": "assistant", "content": [{"type": "text", "text": rng.words(text_len)}], "usage": {"input_tokens": rng.below(5000), "output_tokens": rng.below(2000)}}})
                }
                4 | 5 => {
                    // Tool results: mostly a few KB, sometimes tens of KB in one line.
                    let len = if rng.below(6) == 0 {
                        20_000 + rng.below(30_000)
                    } else {
                        500 + rng.below(6000)
                    };
                    json!({"parentUuid": "u", "isSidechain": false, "type": "user", "timestamp": stamp(&mut rng), "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu", "content": rng.words(len as usize)}]}, "toolUseResult": {"stdout": "", "stderr": ""}})
                }
                6 => {
                    json!({"parentUuid": "u", "isSidechain": false, "type": "progress", "timestamp": stamp(&mut rng), "data": {"type": "hook_progress", "hookEvent": "PostToolUse", "command": rng.words(100)}})
                }
                _ => json!({"type": "last-prompt", "lastPrompt": prompt, "sessionId": id}),
            };
            let text = line.to_string();
            size += text.len() + 1;
            lines.push(text);
            if lines.len() > 64 {
                total += write_lines(&mut out, &mut lines);
            }
        }
        lines.push(
            json!({"type": "last-prompt", "lastPrompt": prompt, "sessionId": id}).to_string(),
        );
        lines.push(json!({"type": "cost-state", "sessionId": id, "totalCostUSD": rng.below(5_000_000) as f64 / 1e6}).to_string());
        total += write_lines(&mut out, &mut lines);
        out.flush().expect("write a session file");
    }
    total
}

fn write_lines(out: &mut impl Write, lines: &mut Vec<String>) -> u64 {
    let mut n = 0;
    for text in lines.drain(..) {
        n += text.len() as u64 + 1;
        writeln!(out, "{text}").expect("write a session file");
    }
    n
}

/// Writes dirty pages back, then asks the kernel to forget every file's pages.
fn drop_page_cache(dir: &Path) {
    rustix::fs::sync();
    let files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read the store")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    for path in files {
        if let Ok(f) = File::open(&path) {
            let _ = rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed);
        }
    }
}

/// A `/proc/self/status` figure, in KiB.
fn status_kib(key: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mb(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// "median (min–max)" of the runs.
fn median_row(runs: &[Duration]) -> String {
    let mut sorted = runs.to_vec();
    sorted.sort();
    format!(
        "{} (min {}, max {}, {} runs)",
        ms(sorted[sorted.len() / 2]),
        ms(sorted[0]),
        ms(sorted[sorted.len() - 1]),
        sorted.len()
    )
}
