//! Process plumbing for the runner: reading a child's output as capped lines,
//! signalling its process group, and learning that it exited without reaping it.
//!
//! Nothing here knows about Claude or stream-json; [`crate::runner`] decides what to
//! do with the lines and when to signal.

use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One piece of a child's output, as [`read_lines`] hands it over.
#[derive(Debug, PartialEq)]
pub enum Chunk<'a> {
    /// A line without its `\n` (and without a `\r` before it).
    Line(&'a [u8]),
    /// A line longer than the cap, dropped unread; `bytes` is its full length.
    TooLong { bytes: usize },
}

/// After a line this long, the buffer is given back to the allocator so that one
/// huge line does not keep its memory for the rest of the run.
const SHRINK_ABOVE: usize = 1 << 20;

/// Reads `reader` to its end, line by line, calling `on` for each. A line longer
/// than `max` bytes is skipped without ever being held in memory whole. A last line
/// without a newline counts. Returns when the reader ends or fails.
pub fn read_lines(reader: impl Read, max: usize, mut on: impl FnMut(Chunk<'_>)) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line: Vec<u8> = Vec::new();
    // Bytes of the current line seen so far, kept or not.
    let mut seen = 0usize;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if seen > 0 {
                deliver(&mut line, seen, max, &mut on);
            }
            return Ok(());
        }
        let (piece, used, complete) = match memchr(buf) {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        seen += piece.len();
        if seen <= max {
            line.extend_from_slice(piece);
        } else if !line.is_empty() {
            line = Vec::new();
        }
        reader.consume(used);
        if complete {
            deliver(&mut line, seen, max, &mut on);
            seen = 0;
        }
    }
}

fn deliver(line: &mut Vec<u8>, seen: usize, max: usize, on: &mut impl FnMut(Chunk<'_>)) {
    if seen > max {
        on(Chunk::TooLong { bytes: seen });
    } else {
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        on(Chunk::Line(text));
    }
    line.clear();
    if line.capacity() > SHRINK_ABOVE {
        line.shrink_to(64 * 1024);
    }
}

fn memchr(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

/// The last lines of a stream, for error messages.
#[derive(Debug)]
pub struct Tail {
    lines: VecDeque<String>,
    keep: usize,
    max_chars: usize,
}

impl Tail {
    pub fn new(keep: usize, max_chars: usize) -> Tail {
        Tail {
            lines: VecDeque::with_capacity(keep),
            keep,
            max_chars,
        }
    }

    pub fn push(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        if self.lines.len() == self.keep {
            self.lines.pop_front();
        }
        self.lines
            .push_back(crate::protocol::excerpt(line, self.max_chars));
    }

    pub fn into_lines(self) -> Vec<String> {
        self.lines.into()
    }
}

fn pid(raw: u32) -> io::Result<Pid> {
    i32::try_from(raw)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a process id"))
}

/// Sends `sig` to every process in the group led by `pgid`. Only call this while the
/// leader has not been reaped: until then its id cannot be reused.
pub fn signal_group(pgid: u32, sig: Signal) -> io::Result<()> {
    rustix::process::kill_process_group(pid(pgid)?, sig).map_err(io::Error::from)
}

/// Blocks until the child `raw_pid` has exited, leaving it a zombie: the caller reaps
/// it after cleaning up its process group, whose id stays ours until then.
pub fn wait_exited(raw_pid: u32) -> io::Result<()> {
    let pid = pid(raw_pid)?;
    loop {
        match rustix::process::waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        ) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Resolves a command the way `execvp` would: a path with a slash as is, else each
/// `PATH` entry. Only checks that an executable file is there.
pub fn find_executable(cmd: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if cmd.components().count() > 1 || cmd.is_absolute() {
        return is_exec(cmd).then(|| cmd.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(cmd))
        .find(|p| is_exec(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &[u8], max: usize, expect: &[&str]) {
        let mut got = Vec::new();
        read_lines(input, max, |chunk| {
            got.push(match chunk {
                Chunk::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Chunk::TooLong { bytes } => format!("<dropped {bytes}>"),
            })
        })
        .unwrap();
        assert_eq!(got, expect, "input: {:?}", String::from_utf8_lossy(input));
    }

    #[test]
    fn splits_and_caps_lines() {
        check(b"a\nbb\n", 10, &["a", "bb"]);
        check(b"a\r\nlast", 10, &["a", "last"]);
        check(b"\n\n", 10, &["", ""]);
        check(b"", 10, &[]);
        check(
            b"0123456789\n01234567890\nok\n",
            10,
            &["0123456789", "<dropped 11>", "ok"],
        );
        check(b"\xff\xfe\n", 10, &["\u{fffd}\u{fffd}"]);
    }

    #[test]
    fn a_huge_line_across_many_reads_is_dropped_and_reading_goes_on() {
        let mut input = vec![b'x'; 10 * 1024 * 1024];
        input.extend_from_slice(b"\n{\"type\":\"after\"}\n");
        check(
            &input,
            8 << 20,
            &["<dropped 10485760>", "{\"type\":\"after\"}"],
        );
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let mut tail = Tail::new(2, 5);
        for line in ["one", "", "two", "three and more"] {
            tail.push(line);
        }
        assert_eq!(tail.into_lines(), ["two", "three"]);
    }
}
