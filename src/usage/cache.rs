//! The tracker's state on disk (`<data_dir>/usage-cache.json`), so that
//! `homeclaude usage` is incremental across invocations: file offsets, the
//! day and hour sums, the recent window and the keys of older entries (as
//! one hex string: 16 bytes a key), in compact rows. It is only a
//! cache: one written for other roots, another time zone, another price table
//! or another format is ignored and the transcripts are read again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::UsageError;
use super::ledger::{Counts, Ledger, Seen, Slot};
use super::pricing::Tokens;
use super::scan::{DirState, Dirs, FileState, Files};

/// Bumped whenever the meaning of a cached figure changes (2: `seen`).
const FORMAT: u32 = 2;

/// `(ts_ms, day, model, [input, output, cache_5m, cache_1h, cache_read], cost, sidechain)`
type SlotRow = (i64, i64, u16, [u64; 5], f64, bool);
/// `(model, [input, output, cache_creation, cache_read, entries], cost)`
type CountRow = (u16, [u64; 5], f64);
/// A directory with its files' states: paths are stored once, as names.
type DirRow = (
    String,
    u64,
    u64,
    Vec<String>,
    Vec<(String, Option<[u64; 4]>)>,
);

fn dir_rows(files: &Files, dirs: &Dirs) -> Vec<DirRow> {
    dirs.iter()
        .map(|(dir, d)| {
            let files = d
                .files
                .iter()
                .map(|name| {
                    // A listed file may have no state yet (it vanished
                    // between listing and stat); the listing keeps it.
                    let state = files
                        .get(&file_key(dir, name))
                        .map(|s| [s.size, s.mtime_ns, s.offset, s.tail]);
                    (name.clone(), state)
                })
                .collect();
            (dir.clone(), d.mtime_ns, d.listed_ns, d.dirs.clone(), files)
        })
        .collect()
}

/// The key `scan` gives a file: its path as text.
fn file_key(dir: &str, name: &str) -> String {
    Path::new(dir).join(name).to_string_lossy().into_owned()
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: u32,
    roots: Vec<PathBuf>,
    zone: String,
    prices: u64,
    horizon_ms: i64,
    /// `(dir, mtime, listed, sub-directories, [(file, [size, mtime, offset, tail]?)])`
    dirs: Vec<DirRow>,
    models: Vec<String>,
    days: Vec<(i64, Vec<CountRow>)>,
    hours: Vec<(i64, u32, u32)>,
    groups: Vec<(u64, SlotRow)>,
    index: Vec<(u64, u64)>,
    /// The keys of entries older than the window, sorted, 16 hex digits
    /// each: a fifth smaller than JSON numbers, and one string to parse.
    seen: String,
    keyless: Vec<SlotRow>,
    unpriced: Vec<String>,
}

/// What a cache must match to be used.
pub struct Identity<'a> {
    pub roots: &'a [PathBuf],
    pub zone: &'a str,
    pub prices: u64,
}

fn slot_row(s: &Slot) -> SlotRow {
    let t = &s.tokens;
    (
        s.ts_ms,
        s.day,
        s.model,
        [t.input, t.output, t.cache_5m, t.cache_1h, t.cache_read],
        s.cost,
        s.sidechain,
    )
}

fn slot_of(row: &SlotRow) -> Slot {
    let &(ts_ms, day, model, [input, output, cache_5m, cache_1h, cache_read], cost, sidechain) =
        row;
    Slot {
        ts_ms,
        day,
        model,
        tokens: Tokens {
            input,
            output,
            cache_5m,
            cache_1h,
            cache_read,
        },
        cost,
        sidechain,
    }
}

fn hex_keys(keys: &[u64]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(keys.len() * 16);
    for key in keys {
        let _ = write!(text, "{key:016x}");
    }
    text
}

/// `None` when the text is not whole 16-digit keys (a corrupt cache).
fn keys_of_hex(text: &str) -> Option<Vec<u64>> {
    if !text.len().is_multiple_of(16) {
        return None;
    }
    text.as_bytes()
        .chunks(16)
        .map(|digits| u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok())
        .collect()
}

/// Writes the state atomically (a temporary file renamed over the old one),
/// so a crash mid-write leaves the previous cache, not half of one.
pub fn save(
    path: &Path,
    id: &Identity<'_>,
    files: &Files,
    dirs: &Dirs,
    ledger: &Ledger,
) -> Result<(), UsageError> {
    let snapshot = Snapshot {
        format: FORMAT,
        roots: id.roots.to_vec(),
        zone: id.zone.to_string(),
        prices: id.prices,
        horizon_ms: ledger.horizon_ms,
        dirs: dir_rows(files, dirs),
        models: ledger.models.clone(),
        days: ledger
            .days
            .iter()
            .map(|(&day, rows)| {
                let rows = rows
                    .iter()
                    .map(|(m, c)| {
                        (
                            *m,
                            [c.input, c.output, c.cache_creation, c.cache_read, c.entries],
                            c.cost,
                        )
                    })
                    .collect();
                (day, rows)
            })
            .collect(),
        hours: ledger.hours.iter().map(|(&h, &(a, b))| (h, a, b)).collect(),
        groups: ledger
            .groups
            .iter()
            .map(|(&k, s)| (k, slot_row(s)))
            .collect(),
        index: ledger.index.iter().map(|(&k, &g)| (k, g)).collect(),
        seen: hex_keys(&ledger.seen.to_sorted()),
        keyless: ledger.keyless.iter().map(slot_row).collect(),
        unpriced: ledger.unpriced.iter().cloned().collect(),
    };
    let bytes = serde_json::to_vec(&snapshot)
        .map_err(|err| UsageError::Cache(path.to_path_buf(), err.to_string()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|err| UsageError::Cache(path.to_path_buf(), err.to_string()))
}

/// Reads a cache written for the same roots, zone and prices; `None` for a
/// missing, unreadable, foreign or corrupt one (the caller rescans).
pub fn load(path: &Path, id: &Identity<'_>) -> Option<(Files, Dirs, Ledger)> {
    let bytes = std::fs::read(path).ok()?;
    let snap: Snapshot = serde_json::from_slice(&bytes).ok()?;
    if snap.format != FORMAT
        || snap.roots != id.roots
        || snap.zone != id.zone
        || snap.prices != id.prices
    {
        return None;
    }
    let mut files = Files::new();
    let mut dirs = Dirs::new();
    for (dir, mtime_ns, listed_ns, subdirs, states) in snap.dirs {
        let mut names = Vec::with_capacity(states.len());
        for (name, state) in states {
            if let Some([size, mtime_ns, offset, tail]) = state {
                files.insert(
                    file_key(&dir, &name),
                    FileState {
                        size,
                        mtime_ns,
                        offset,
                        tail,
                    },
                );
            }
            names.push(name);
        }
        dirs.insert(
            dir,
            DirState {
                mtime_ns,
                listed_ns,
                dirs: subdirs,
                files: names,
            },
        );
    }
    let mut ledger = Ledger {
        models: snap.models,
        days: snap
            .days
            .into_iter()
            .map(|(day, rows)| {
                let rows = rows
                    .into_iter()
                    .map(
                        |(m, [input, output, cache_creation, cache_read, entries], cost)| {
                            (
                                m,
                                Counts {
                                    input,
                                    output,
                                    cache_creation,
                                    cache_read,
                                    cost,
                                    entries,
                                },
                            )
                        },
                    )
                    .collect();
                (day, rows)
            })
            .collect(),
        hours: snap
            .hours
            .into_iter()
            .map(|(h, a, b)| (h, (a, b)))
            .collect(),
        groups: snap
            .groups
            .iter()
            .map(|(k, row)| (*k, slot_of(row)))
            .collect(),
        index: snap.index.into_iter().collect(),
        seen: Seen::from_sorted(keys_of_hex(&snap.seen)?),
        keyless: snap.keyless.iter().map(slot_of).collect(),
        unpriced: snap.unpriced.into_iter().collect(),
        horizon_ms: snap.horizon_ms,
        ..Ledger::default()
    };
    ledger.reindex_models();
    Some((files, dirs, ledger))
}
