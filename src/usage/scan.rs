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

use std::collections::BTreeMap;
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
    pub size: u64,
    pub mtime_ns: u64,
    /// The session it belongs to: `<project>/<session>` for both the main
    /// transcript and the sub-agent files under `<project>/<session>/`.
    pub group: String,
    /// The session id ccusage derives from the path, for lines without one.
    pub session: String,
}

/// All `*.jsonl` files under the roots, sorted by session group and path so
/// that a session's files are read together.
pub fn discover(roots: &[PathBuf]) -> Vec<Found> {
    let mut found = Vec::new();
    for (index, root) in roots.iter().enumerate() {
        walk(root, root, index, &mut found);
    }
    found.sort_by(|a, b| (&a.group, &a.path).cmp(&(&b.group, &b.path)));
    found
}

fn walk(root: &Path, dir: &Path, root_index: usize, found: &mut Vec<Found>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Follow symlinks to files, not to directories: a loop of linked
        // directories must not hang the scan.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(root, &path, root_index, found);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        let (group, session) = session_of(root, &path, root_index);
        found.push(Found {
            path,
            size: meta.len(),
            mtime_ns,
            group,
            session,
        });
    }
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

/// Files keyed by path, as persisted.
pub type Files = BTreeMap<PathBuf, FileState>;

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
        let found = discover(&[path.parent().map(Path::to_path_buf).unwrap_or_default()]);
        found
            .into_iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| Found {
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
