//! Finding transcript files and reading only what was appended to them since
//! the last look. Owns the per-file offsets; knows nothing of JSON beyond
//! "is this unterminated tail a complete line yet".
//!
//! A file is remembered by its size, mtime, the offset up to which its lines
//! were read, and a hash of the bytes just before that offset. Unchanged size
//! and mtime: not opened. Grown: read from the offset, after checking that
//! hash (a file rewritten in place is not an append). Shrunk, rewritten or
//! gone: the caller starts over, because its sums cannot un-count a file.
//! A last line without its newline is left for next time unless it already
//! parses as a whole JSON value.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use super::ledger::fnv1a;

/// How many bytes before the offset are hashed to recognise an append.
const TAIL_CHECK: u64 = 64;

/// What is remembered about one transcript file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    pub size: u64,
    pub mtime_ns: u64,
    pub offset: u64,
    pub tail: u64,
}

/// A transcript file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    /// The path as text: the key files are remembered by (string keys hash
    /// and compare much faster than `Path`'s component-wise ones).
    pub key: String,
    pub size: u64,
    pub mtime_ns: u64,
    /// The session it belongs to: `<project>/<session>` for both the main
    /// transcript and the sub-agent files under `<project>/<session>/`.
    pub group: String,
    /// The session id ccusage derives from the path, for lines without one.
    pub session: String,
}

/// A directory's listing as last read, reused while its mtime stands
/// (adding, removing or renaming an entry changes a directory's mtime;
/// appending to a file in it does not, so files are still stat'ed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirState {
    pub mtime_ns: u64,
    /// When it was listed: a listing taken within [`RACY_NS`] of the
    /// directory's mtime may have missed a same-tick change, so it is not
    /// trusted (git's "racy index" rule).
    pub listed_ns: u64,
    pub dirs: Vec<String>,
    pub files: Vec<String>,
}

/// Directories keyed by path text, as persisted.
pub type Dirs = HashMap<String, DirState>;

const RACY_NS: u64 = 2_000_000_000;

fn mtime_ns(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Stats many paths at once. The warm path is a stat per directory and per
/// file and nothing else, so it is bound by system call latency; spreading
/// the calls over a few threads divides it.
fn stat_all(paths: &[PathBuf]) -> Vec<Option<(bool, u64, u64)>> {
    let stat = |path: &PathBuf| {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.is_dir(), m.len(), mtime_ns(&m)))
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(4);
    if paths.len() < 128 || threads < 2 {
        return paths.iter().map(stat).collect();
    }
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(stat).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(paths.len());
        for (handle, part) in handles.into_iter().zip(paths.chunks(chunk)) {
            // A panicked stat thread (it cannot, short of a bug) counts as
            // "not found" rather than taking the caller down.
            out.extend(handle.join().unwrap_or_else(|_| vec![None; part.len()]));
        }
        out
    })
}

/// All `*.jsonl` files under the roots, sorted by session group and path so
/// that a session's files are read together. `dirs` holds the listings of
/// the previous call and is replaced by this call's; the flag says whether
/// any directory had to be listed again.
pub fn discover(roots: &[PathBuf], dirs: &mut Dirs) -> (Vec<Found>, bool) {
    let now_ns = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let old = std::mem::take(dirs);
    // Every directory seen last time is stat'ed up front, in parallel.
    let known: Vec<PathBuf> = old.keys().map(PathBuf::from).collect();
    let stats = stat_all(&known)
        .into_iter()
        .zip(old.keys())
        .filter_map(|(stat, key)| Some((key.clone(), stat?)))
        .collect();
    let mut walker = Walker {
        old,
        stats,
        new: Dirs::new(),
        files: Vec::new(),
        now_ns,
        relisted: false,
    };
    for (index, root) in roots.iter().enumerate() {
        walker.walk(root, root, index);
    }
    let relisted = walker.relisted || !walker.old.is_empty();
    *dirs = walker.new;
    let paths: Vec<PathBuf> = walker
        .files
        .iter()
        .map(|(path, _, _)| path.clone())
        .collect();
    let mut found: Vec<Found> = walker
        .files
        .into_iter()
        .zip(stat_all(&paths))
        .filter_map(|((path, group, session), stat)| {
            // Follows a symlinked file; a vanished one is simply not found.
            let (is_dir, size, mtime_ns) = stat?;
            (!is_dir).then(|| Found {
                key: path.to_string_lossy().into_owned(),
                path,
                size,
                mtime_ns,
                group,
                session,
            })
        })
        .collect();
    found.sort_by(|a, b| (&a.group, &a.key).cmp(&(&b.group, &b.key)));
    (found, relisted)
}

struct Walker {
    old: Dirs,
    /// `(is_dir, size, mtime)` of the directories known from last time.
    stats: HashMap<String, (bool, u64, u64)>,
    new: Dirs,
    /// Files to stat: path, session group, session id.
    files: Vec<(PathBuf, String, String)>,
    now_ns: u64,
    relisted: bool,
}

impl Walker {
    fn walk(&mut self, root: &Path, dir: &Path, root_index: usize) {
        let key = dir.to_string_lossy().into_owned();
        let stat = match self.stats.get(&key) {
            Some(&stat) => Some(stat),
            None => std::fs::metadata(dir)
                .ok()
                .map(|m| (m.is_dir(), m.len(), mtime_ns(&m))),
        };
        let Some((true, _, mtime)) = stat else {
            return;
        };
        let listing = match self.old.remove(&key) {
            Some(old) if old.mtime_ns == mtime && old.listed_ns > mtime.saturating_add(RACY_NS) => {
                old
            }
            _ => {
                self.relisted = true;
                list(dir, mtime, self.now_ns)
            }
        };
        for name in &listing.files {
            let path = dir.join(name);
            let (group, session) = session_of(root, &path, root_index);
            self.files.push((path, group, session));
        }
        for name in &listing.dirs {
            self.walk(root, &dir.join(name), root_index);
        }
        self.new.insert(key, listing);
    }
}

/// Reads a directory: sub-directories (not followed through symlinks, so a
/// loop of links cannot hang the scan) and `*.jsonl` files.
fn list(dir: &Path, mtime_ns: u64, now_ns: u64) -> DirState {
    let mut state = DirState {
        mtime_ns,
        listed_ns: now_ns,
        ..DirState::default()
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return state;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if kind.is_dir() {
            state.dirs.push(name);
        } else if name.ends_with(".jsonl") {
            state.files.push(name);
        }
    }
    state
}

/// `<root>/<project>/<session>.jsonl` and `<root>/<project>/<session>/…`
/// both belong to `<session>`.
fn session_of(root: &Path, path: &Path, root_index: usize) -> (String, String) {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
    let stem = |name: &str| name.strip_suffix(".jsonl").unwrap_or(name).to_string();
    let (project, session) = match parts.as_slice() {
        [] => (String::new(), String::new()),
        [file] => (String::new(), stem(file)),
        [project, file] => (project.to_string(), stem(file)),
        [project, session, ..] => (project.to_string(), session.to_string()),
    };
    (format!("{root_index}/{project}/{session}"), session)
}

/// Why a file cannot be read as an append of what was read before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Unchanged,
    Appended,
    /// Shrunk, or the bytes before the offset changed.
    Rewritten,
}

/// Compares a file with what was remembered, without opening it.
pub fn classify(found: &Found, known: Option<&FileState>) -> Change {
    match known {
        None => Change::Appended,
        Some(state) if found.size < state.offset => Change::Rewritten,
        Some(state) if found.size == state.size && found.mtime_ns == state.mtime_ns => {
            Change::Unchanged
        }
        Some(_) => Change::Appended,
    }
}

/// Reads the complete lines appended since `state` and hands each to
/// `on_line`. Returns the new state, or `Ok(None)` when the bytes before the
/// old offset no longer match (the file was rewritten).
pub fn read_appended(
    found: &Found,
    state: FileState,
    line_buf: &mut Vec<u8>,
    mut on_line: impl FnMut(&[u8]),
) -> std::io::Result<Option<FileState>> {
    let mut file = File::open(&found.path)?;
    let check_len = state.offset.min(TAIL_CHECK);
    let mut tail_bytes = Vec::with_capacity(TAIL_CHECK as usize);
    if check_len > 0 {
        file.seek(SeekFrom::Start(state.offset - check_len))?;
        (&mut file).take(check_len).read_to_end(&mut tail_bytes)?;
        if tail_bytes.len() as u64 != check_len || fnv1a(&[&tail_bytes]) != state.tail {
            return Ok(None);
        }
    }
    let mut reader = BufReader::with_capacity(128 * 1024, file);
    let mut offset = state.offset;
    loop {
        line_buf.clear();
        let read = reader.read_until(b'\n', line_buf)?;
        if read == 0 {
            break;
        }
        if line_buf.last() != Some(&b'\n')
            && serde_json::from_slice::<serde::de::IgnoredAny>(line_buf).is_err()
        {
            // A torn last line: being written right now. Read it next time.
            break;
        }
        offset += read as u64;
        on_line(line_buf);
        // Keep the tail hash current without a second read of the file.
        let keep = line_buf.len().min(TAIL_CHECK as usize);
        tail_bytes.extend_from_slice(&line_buf[line_buf.len() - keep..]);
        if tail_bytes.len() > TAIL_CHECK as usize {
            tail_bytes.drain(..tail_bytes.len() - TAIL_CHECK as usize);
        }
        // One huge line (a pasted file) should not pin its buffer forever.
        if line_buf.capacity() > 4 << 20 {
            *line_buf = Vec::new();
        }
    }
    Ok(Some(FileState {
        size: found.size.max(offset),
        mtime_ns: found.mtime_ns,
        offset,
        tail: fnv1a(&[&tail_bytes]),
    }))
}

/// Files keyed by [`Found::key`], as persisted.
pub type Files = HashMap<String, FileState>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::tests::TempDir;
    use std::io::Write;

    fn read_all(found: &Found, state: FileState) -> (Option<FileState>, Vec<String>) {
        let mut lines = Vec::new();
        let mut buf = Vec::new();
        let result = read_appended(found, state, &mut buf, |line| {
            lines.push(String::from_utf8_lossy(line).trim_end().to_string())
        });
        (result.ok().flatten(), lines)
    }

    fn found_for(path: &Path) -> Found {
        let (found, _) = discover(
            &[path.parent().map(Path::to_path_buf).unwrap_or_default()],
            &mut Dirs::new(),
        );
        found
            .into_iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| Found {
                key: path.to_string_lossy().into_owned(),
                path: path.to_path_buf(),
                size: 0,
                mtime_ns: 0,
                group: String::new(),
                session: String::new(),
            })
    }

    #[test]
    fn appends_and_torn_lines() {
        let dir = TempDir::new("scan-append");
        let path = dir.path().join("s.jsonl");
        let mut file = File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        let _ = file.write_all(b"{\"a\":1}\n{\"b\":");
        let found = found_for(&path);
        let (state, lines) = read_all(&found, FileState::default());
        assert_eq!(lines, vec!["{\"a\":1}"]);
        let state = state.unwrap_or_default();
        assert_eq!(state.offset, 8);
        // The torn line completes; only the new bytes are read.
        let _ = file.write_all(b"2}\n{\"c\":3}");
        let found = found_for(&path);
        assert_eq!(classify(&found, Some(&state)), Change::Appended);
        let (state2, lines) = read_all(&found, state);
        // A final line without newline that parses whole is taken.
        assert_eq!(lines, vec!["{\"b\":2}", "{\"c\":3}"]);
        let state2 = state2.unwrap_or_default();
        assert_eq!(state2.offset, found.size);
        assert_eq!(classify(&found, Some(&state2)), Change::Unchanged);
        // Rewritten in place with the same length: the tail hash notices.
        drop(file);
        let _ = std::fs::write(&path, b"{\"a\":9}\n{\"b\":2}\n{\"c\":3}\n");
        let found = found_for(&path);
        let (state3, _) = read_all(&found, state2);
        assert_eq!(state3, None);
        // Truncated: rewritten without opening.
        let _ = std::fs::write(&path, b"{}\n");
        let found = found_for(&path);
        assert_eq!(classify(&found, Some(&state2)), Change::Rewritten);
    }

    #[test]
    fn directory_listings_are_reused_until_the_directory_changes() {
        let dir = TempDir::new("scan-dirs");
        let root = dir.path().to_path_buf();
        let _ = std::fs::create_dir_all(root.join("p"));
        let _ = std::fs::write(root.join("p/a.jsonl"), b"{}\n");
        let mut dirs = Dirs::new();
        let names = |found: &[Found]| -> Vec<String> {
            found
                .iter()
                .map(|f| f.key.rsplit('/').next().unwrap_or("").to_string())
                .collect()
        };
        let (found, relisted) = discover(std::slice::from_ref(&root), &mut dirs);
        assert_eq!(
            (names(&found), relisted),
            (vec!["a.jsonl".to_string()], true)
        );
        // Listed within 2 s of the directory's mtime: not trusted, listed again.
        let (_, relisted) = discover(std::slice::from_ref(&root), &mut dirs);
        assert!(relisted);
        // Pretend the listings are old enough to trust: nothing is listed, and
        // a listing that was edited by hand proves the cached one is used.
        for state in dirs.values_mut() {
            state.listed_ns = state.mtime_ns + 3 * RACY_NS;
        }
        let key = root.join("p").to_string_lossy().into_owned();
        if let Some(p) = dirs.get_mut(&key) {
            p.files.push("ghost.jsonl".to_string());
        }
        let (found, relisted) = discover(std::slice::from_ref(&root), &mut dirs);
        assert_eq!(
            (names(&found), relisted),
            (vec!["a.jsonl".to_string()], false)
        );
        // A new file changes the directory's mtime: listed again, found.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let _ = std::fs::write(root.join("p/b.jsonl"), b"{}\n");
        let (found, relisted) = discover(std::slice::from_ref(&root), &mut dirs);
        assert_eq!(
            (names(&found), relisted),
            (vec!["a.jsonl".to_string(), "b.jsonl".to_string()], true)
        );
    }

    #[test]
    fn sessions_from_paths() {
        let root = Path::new("/r");
        let check = |rel: &str, group: &str, session: &str| {
            assert_eq!(
                session_of(root, &root.join(rel), 0),
                (group.to_string(), session.to_string()),
                "{rel}"
            );
        };
        check("proj/abc.jsonl", "0/proj/abc", "abc");
        check("proj/abc/subagents/agent-1.jsonl", "0/proj/abc", "abc");
        check("top.jsonl", "0//top", "top");
    }
}
