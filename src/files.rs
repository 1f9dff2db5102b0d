//! The workdir's files for the browser: listing, reading, uploading and deleting,
//! confined to the workdir.
//!
//! Confinement is resolved by the kernel, not by string checks alone: every path is
//! opened relative to a descriptor of the workdir with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS)`, so `..`, absolute symlinks and symlinks that lead out are
//! refused while resolving (kernels before 5.6: the path is canonicalised and its
//! prefix checked instead). The requested path is checked first (no NUL, not
//! absolute, no `..`, nothing on the hidden list), and the file actually opened is
//! checked again by its real path (`/proc/self/fd`): a symlink inside the workdir
//! that leads to a hidden name, the data dir or `~/.claude` is refused too.
//!
//! An upload is written to a temporary file in the target directory (`O_EXCL`),
//! synced, and renamed over the name only when complete, so an interrupted upload
//! never leaves a half file; the temporary name starts with [`TEMP_PREFIX`] and is
//! never listed. One left by a server stopped mid-upload is removed at the next
//! start ([`crate::file_watch`]). Everything here blocks on the disk: it runs on the connection
//! thread of the request (or the launcher thread, for attachments), never the hub.

use rustix::fs::{
    AtFlags, Dir, FileType, Mode, OFlags, RenameFlags, ResolveFlags, openat, openat2, renameat,
    renameat_with, statat, unlinkat,
};
use rustix::io::Errno;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Temporary upload files start with this; they are never listed, served or
/// reported as changes.
pub const TEMP_PREFIX: &str = ".hc-upload-";

/// The default `--files-hidden` list.
pub const DEFAULT_HIDDEN: &[&str] = &[".git", ".env*", "*.pem", "*.key"];

/// Most entries one listing returns (a `node_modules` can hold far more).
const MAX_ENTRIES: usize = 5000;

/// Largest image sent to the CLI as an image block (the API's own limit is 5 MB).
pub const MAX_IMAGE: u64 = 5 << 20;

/// Why a file operation failed; each maps to one HTTP status.
#[derive(Debug)]
pub enum FileError {
    /// Outside the workdir, hidden, forbidden, or not a path (403, and logged).
    Refused(&'static str),
    NotFound,
    /// The name exists and overwriting was not asked for (409).
    Exists,
    /// A directory where a file was expected, or the other way round (400).
    WrongKind(&'static str),
    /// More than `--max-upload` (413).
    TooLarge,
    Io(io::Error),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Refused(why) => write!(f, "refused: {why}"),
            FileError::NotFound => f.write_str("no such file or directory"),
            FileError::Exists => f.write_str("the file exists; add ?overwrite=1 to replace it"),
            FileError::WrongKind(why) => f.write_str(why),
            FileError::TooLarge => f.write_str("the file is larger than --max-upload"),
            FileError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<Errno> for FileError {
    fn from(e: Errno) -> FileError {
        match e {
            Errno::NOENT => FileError::NotFound,
            // Resolution left the workdir (EXDEV), met a magic link or a loop.
            Errno::XDEV => FileError::Refused("the path leads outside the workdir"),
            Errno::LOOP => FileError::Refused("a symlink loop"),
            Errno::NOTDIR => FileError::WrongKind("a part of the path is not a directory"),
            Errno::ISDIR => FileError::WrongKind("that is a directory"),
            Errno::EXIST => FileError::Exists,
            e => FileError::Io(e.into()),
        }
    }
}

impl From<io::Error> for FileError {
    fn from(e: io::Error) -> FileError {
        match e.raw_os_error() {
            Some(n) => Errno::from_raw_os_error(n).into(),
            None => FileError::Io(e),
        }
    }
}

/// One directory entry as the browser sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub name: String,
    /// `file`, `dir` or `symlink`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub size: u64,
    /// Seconds since the epoch.
    pub modified: i64,
}

/// A listing: directories first, then by name.
#[derive(Debug, serde::Serialize)]
pub struct Listing {
    pub path: String,
    pub entries: Vec<Entry>,
    /// More than [`MAX_ENTRIES`]: the rest were left out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// A file opened for reading.
pub struct Opened {
    pub file: File,
    pub len: u64,
    /// Its last path component.
    pub name: String,
}

/// The workdir, opened once, with what may never be reached in it.
pub struct Files {
    root: PathBuf,
    root_fd: OwnedFd,
    hidden: Vec<String>,
    /// Canonical directories never reachable (the data dir, `~/.claude`).
    forbidden: Vec<PathBuf>,
    pub max_upload: u64,
    /// Where the page's attachments go (relative to the workdir).
    pub uploads: String,
    /// Whether the kernel has `openat2` (Linux 5.6+).
    beneath: bool,
}

impl fmt::Debug for Files {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Files").field("root", &self.root).finish()
    }
}

impl Files {
    /// Opens the (canonical) workdir. `forbidden` directories that do not exist are
    /// skipped (nothing to reach).
    pub fn open(
        root: &Path,
        hidden: Vec<String>,
        forbidden: &[PathBuf],
        max_upload: u64,
        uploads: String,
        try_openat2: bool,
    ) -> io::Result<Files> {
        let root = std::fs::canonicalize(root)?;
        let root_fd = rustix::fs::open(
            &root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let probe = if try_openat2 {
            openat2(
                &root_fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH,
            )
            .map(drop)
        } else {
            Err(rustix::io::Errno::NOSYS)
        };
        let beneath = match probe {
            Ok(()) => true,
            Err(e) => {
                log::warn!(
                    "files: openat2 is not available ({e}); confinement falls back to \
                     resolving paths and checking their prefix"
                );
                false
            }
        };
        let forbidden = forbidden
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect();
        Ok(Files {
            root,
            root_fd,
            hidden,
            forbidden,
            max_upload,
            uploads,
            beneath,
        })
    }

    /// The canonical workdir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether a real path is the data dir or `~/.claude` (or inside one).
    pub fn is_forbidden(&self, real: &Path) -> bool {
        self.forbidden.iter().any(|f| real.starts_with(f))
    }

    /// Whether a name is on the hidden list (or is one of our temporary files).
    pub fn is_hidden(&self, name: &str) -> bool {
        name.starts_with(TEMP_PREFIX) || self.hidden.iter().any(|p| wildcard(p, name))
    }

    /// Checks a requested path and splits it into components (empty: the workdir).
    pub fn components<'a>(&self, rel: &'a str) -> Result<Vec<&'a str>, FileError> {
        if rel.contains('\0') {
            return Err(FileError::Refused("a NUL byte in the path"));
        }
        if rel.starts_with('/') {
            return Err(FileError::Refused("an absolute path"));
        }
        let mut out = Vec::new();
        for part in rel.split('/') {
            match part {
                "" | "." => {}
                ".." => return Err(FileError::Refused("`..` in the path")),
                name if self.is_hidden(name) => {
                    return Err(FileError::Refused("a hidden name (--files-hidden)"));
                }
                name => out.push(name),
            }
        }
        Ok(out)
    }

    /// Opens `parts` beneath the workdir, then checks where it really is.
    fn open_beneath(&self, parts: &[&str], flags: OFlags) -> Result<OwnedFd, FileError> {
        let path = if parts.is_empty() {
            ".".to_string()
        } else {
            parts.join("/")
        };
        // First only a handle on what the path resolves to (`O_PATH` opens
        // anything, reads nothing), checked; then the same inode reopened for use.
        let at = OFlags::PATH | OFlags::CLOEXEC;
        let fd = if self.beneath {
            openat2(
                &self.root_fd,
                path.as_str(),
                at,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
            )?
        } else {
            let full = self.root.join(&path);
            let real = match std::fs::canonicalize(&full) {
                Ok(real) => real,
                // What exists of the path decides: a missing name behind a symlink
                // that leads out is refused, as openat2 refuses it, not "not found".
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let existing = full
                        .ancestors()
                        .skip(1)
                        .find_map(|a| std::fs::canonicalize(a).ok());
                    if existing.is_some_and(|r| !r.starts_with(&self.root)) {
                        return Err(FileError::Refused("the path leads outside the workdir"));
                    }
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            };
            if !real.starts_with(&self.root) {
                return Err(FileError::Refused("the path leads outside the workdir"));
            }
            rustix::fs::open(&real, at, Mode::empty())?
        };
        self.check_real(&fd)?;
        if flags == OFlags::PATH {
            return Ok(fd);
        }
        // Only files and directories are opened for use: opening a FIFO would wait
        // for a writer, a device could be anything.
        match FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) {
            FileType::RegularFile | FileType::Directory => {}
            _ => return Err(FileError::WrongKind("not a regular file")),
        }
        let again = format!("/proc/self/fd/{}", fd.as_raw_fd());
        Ok(rustix::fs::open(
            again.as_str(),
            flags | OFlags::CLOEXEC,
            Mode::empty(),
        )?)
    }

    /// Where an opened descriptor really is: inside the workdir, not hidden, not in
    /// a forbidden directory.
    fn check_real(&self, fd: &OwnedFd) -> Result<PathBuf, FileError> {
        let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
        let Ok(inside) = real.strip_prefix(&self.root) else {
            return Err(FileError::Refused("the path leads outside the workdir"));
        };
        if self.forbidden.iter().any(|f| real.starts_with(f)) {
            return Err(FileError::Refused(
                "homeclaude's data dir and ~/.claude are not served",
            ));
        }
        if inside
            .components()
            .any(|c| self.is_hidden(&c.as_os_str().to_string_lossy()))
        {
            return Err(FileError::Refused("a hidden name (--files-hidden)"));
        }
        Ok(real)
    }

    /// `GET /api/files?path=`: a directory's entries.
    pub fn list(&self, rel: &str) -> Result<Listing, FileError> {
        let parts = self.components(rel)?;
        let fd = self.open_beneath(&parts, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let real = self.check_real(&fd)?;
        let mut dir = Dir::read_from(&fd)?;
        let mut entries = Vec::new();
        let mut truncated = false;
        while let Some(item) = dir.read() {
            let item = item?;
            let Ok(name) = item.file_name().to_str() else {
                continue; // not UTF-8: the page could not name it back
            };
            if name == "." || name == ".." || self.is_hidden(name) {
                continue;
            }
            // The data dir (or ~/.claude) inside the workdir is not even named.
            if self.forbidden.iter().any(|f| *f == real.join(name)) {
                continue;
            }
            if entries.len() >= MAX_ENTRIES {
                truncated = true;
                break;
            }
            let Ok(st) = statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue; // deleted meanwhile
            };
            let kind = match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => "dir",
                FileType::Symlink => "symlink",
                FileType::RegularFile => "file",
                _ => continue,
            };
            entries.push(Entry {
                name: name.to_string(),
                kind,
                size: st.st_size as u64,
                modified: st.st_mtime,
            });
        }
        entries.sort_by(|a, b| {
            (a.kind != "dir")
                .cmp(&(b.kind != "dir"))
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(Listing {
            path: parts.join("/"),
            entries,
            truncated,
        })
    }

    /// Opens a regular file for reading.
    pub fn open_read(&self, rel: &str) -> Result<Opened, FileError> {
        let parts = self.components(rel)?;
        let Some(name) = parts.last() else {
            return Err(FileError::WrongKind("that is a directory"));
        };
        let fd = self.open_beneath(&parts, OFlags::RDONLY)?;
        let st = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(FileError::WrongKind("not a regular file"));
        }
        Ok(Opened {
            file: File::from(fd),
            len: st.st_size as u64,
            name: name.to_string(),
        })
    }

    /// The directory that will hold `parts`' last component, made if missing.
    fn parent_dir(&self, parts: &[&str]) -> Result<OwnedFd, FileError> {
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let mut fd = self.open_beneath(&[], dir_flags)?;
        for i in 0..parts.len().saturating_sub(1) {
            match self.open_beneath(&parts[..=i], dir_flags) {
                Ok(next) => fd = next,
                Err(FileError::NotFound) => {
                    match rustix::fs::mkdirat(&fd, parts[i], Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    fd = self.open_beneath(&parts[..=i], dir_flags)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(fd)
    }

    /// Refuses an upload before its body is read: a bad path, an existing name
    /// without `overwrite`, a directory in the way, too large.
    pub fn check_upload(&self, rel: &str, overwrite: bool, len: u64) -> Result<(), FileError> {
        let parts = self.components(rel)?;
        if parts.is_empty() {
            return Err(FileError::WrongKind("name a file to upload"));
        }
        if len > self.max_upload {
            return Err(FileError::TooLarge);
        }
        match self.open_beneath(&parts, OFlags::PATH) {
            Ok(fd) => {
                let st = rustix::fs::fstat(&fd)?;
                if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                    Err(FileError::WrongKind("a directory has that name"))
                } else if overwrite {
                    Ok(())
                } else {
                    Err(FileError::Exists)
                }
            }
            Err(FileError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `PUT /api/files/raw?path=`: `len` bytes of `body` become the file, through a
    /// temporary file in the same directory. Returns the new entry.
    pub fn put(
        &self,
        rel: &str,
        overwrite: bool,
        len: u64,
        body: &mut dyn Read,
    ) -> Result<Entry, FileError> {
        self.check_upload(rel, overwrite, len)?;
        let parts = self.components(rel)?;
        let name = *parts.last().ok_or(FileError::WrongKind("name a file"))?;
        let dir = self.parent_dir(&parts)?;
        let temp = temp_name();
        let fd = openat(
            &dir,
            temp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )?;
        let mut file = File::from(fd);
        let written = copy_exact(body, &mut file, len).and_then(|()| file.sync_all());
        drop(file);
        let renamed = written.map_err(FileError::from).and_then(|()| {
            if overwrite {
                renameat(&dir, temp.as_str(), &dir, name).map_err(FileError::from)
            } else {
                match renameat_with(&dir, temp.as_str(), &dir, name, RenameFlags::NOREPLACE) {
                    // A filesystem without RENAME_NOREPLACE: a hard link refuses an
                    // existing name just as atomically.
                    Err(Errno::INVAL) => {
                        rustix::fs::linkat(&dir, temp.as_str(), &dir, name, AtFlags::empty())
                            .and_then(|()| unlinkat(&dir, temp.as_str(), AtFlags::empty()))
                            .map_err(FileError::from)
                    }
                    other => other.map_err(FileError::from),
                }
            }
        });
        if let Err(e) = renamed {
            let _ = unlinkat(&dir, temp.as_str(), AtFlags::empty());
            return Err(e);
        }
        // The rename itself is durable only once the directory is synced.
        let _ = rustix::fs::fsync(&dir);
        let st = statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(Entry {
            name: name.to_string(),
            kind: "file",
            size: st.st_size as u64,
            modified: st.st_mtime,
        })
    }

    /// `DELETE /api/files/raw?path=`: removes a file (or a symlink), never a directory.
    pub fn delete(&self, rel: &str) -> Result<(), FileError> {
        let parts = self.components(rel)?;
        let Some(name) = parts.last() else {
            return Err(FileError::WrongKind("the workdir itself cannot be deleted"));
        };
        let dir = self.open_beneath(
            &parts[..parts.len() - 1],
            OFlags::RDONLY | OFlags::DIRECTORY,
        )?;
        let st = statat(&dir, *name, AtFlags::SYMLINK_NOFOLLOW)?;
        // What the path leads to is checked like any other use of it (a link
        // that leads out or loops is refused; a dangling one may go).
        if let Err(e @ FileError::Refused(_)) = self.open_beneath(&parts, OFlags::PATH) {
            return Err(e);
        }
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(FileError::WrongKind("directories are not deleted here"));
        }
        unlinkat(&dir, *name, AtFlags::empty())?;
        Ok(())
    }

    /// An attachment for a prompt: an image's bytes and media type, or `None` for
    /// a file that is mentioned by path instead (not an image, or over
    /// [`MAX_IMAGE`]). Refused paths are errors.
    pub fn attachment(&self, rel: &str) -> Result<Option<(Vec<u8>, &'static str)>, FileError> {
        let opened = self.open_read(rel)?;
        let Some(media) = image_type(&opened.name) else {
            return Ok(None);
        };
        if opened.len > MAX_IMAGE {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(opened.len as usize);
        opened.file.take(MAX_IMAGE).read_to_end(&mut bytes)?;
        Ok(Some((bytes, media)))
    }
}

/// Copies exactly `len` bytes; fewer is an error (an interrupted upload).
fn copy_exact(from: &mut dyn Read, to: &mut File, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match from.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the upload ended early",
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

fn temp_name() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{TEMP_PREFIX}{hex}.part")
}

/// The media type of an image the API accepts, by extension.
pub fn image_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    })
}

/// The Content-Type a file is served with. Only types a browser shows without
/// running anything; the rest (HTML, SVG, scripts) are served as plain text or
/// bytes, so nothing in the workdir runs as this origin.
pub fn content_type(name: &str) -> &'static str {
    if let Some(image) = image_type(name) {
        return image;
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "txt" | "md" | "rs" | "toml" | "json" | "yaml" | "yml" | "js" | "mjs" | "ts" | "py"
        | "sh" | "c" | "h" | "cpp" | "go" | "java" | "css" | "html" | "htm" | "svg" | "xml"
        | "csv" | "log" | "lock" | "ini" | "cfg" | "conf" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => {
            let Some(tail) = name.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| wildcard(rest, &tail[i..]))
        }
    }
}

/// Parses a `Range` header against a length: `Some(Ok((start, end)))` inclusive,
/// `Some(Err(()))` unsatisfiable (416), `None` absent or not one byte range (the
/// whole file is sent).
pub fn parse_range(header: Option<&str>, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().ok()?.min(len.saturating_sub(1))
        };
        if start >= len || end < start {
            return Some(Err(()));
        }
        (start, end)
    };
    Some(Ok(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(root: &Path) -> Files {
        Files::open(
            root,
            DEFAULT_HIDDEN.iter().map(|s| s.to_string()).collect(),
            &[],
            1 << 20,
            "uploads".into(),
            true,
        )
        .unwrap()
    }

    /// A scratch directory, removed when dropped (a failed test leaves none).
    struct Temp(PathBuf);

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl std::ops::Deref for Temp {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    fn temp(tag: &str) -> Temp {
        let dir = std::env::temp_dir().join(format!("hc-files-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Temp(dir)
    }

    #[test]
    fn wildcards_match_the_hidden_list() {
        assert!(wildcard(".env*", ".env"));
        assert!(wildcard(".env*", ".env.local"));
        assert!(wildcard("*.pem", "server.pem"));
        assert!(!wildcard("*.pem", "server.pem.txt"));
        assert!(wildcard(".git", ".git"));
        assert!(!wildcard(".git", ".github"));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Some(Ok((0, 9))));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Some(Ok((90, 99))));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Some(Ok((90, 99))));
        assert_eq!(parse_range(Some("bytes=95-200"), 100), Some(Ok((95, 99))));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Some(Err(())));
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), None);
        assert_eq!(parse_range(None, 100), None);
    }

    #[test]
    fn put_list_read_delete_and_refusals() {
        let dir = temp("basic");
        let f = files(&dir);
        let body = b"hello";
        let entry = f.put("a/b/c.txt", false, 5, &mut &body[..]).unwrap();
        assert_eq!((entry.name.as_str(), entry.size), ("c.txt", 5));
        assert!(matches!(
            f.put("a/b/c.txt", false, 5, &mut &body[..]),
            Err(FileError::Exists)
        ));
        f.put("a/b/c.txt", true, 2, &mut &b"hi"[..]).unwrap();
        assert_eq!(std::fs::read(dir.join("a/b/c.txt")).unwrap(), b"hi");
        // A short body leaves nothing behind.
        assert!(f.put("a/short.txt", false, 10, &mut &body[..]).is_err());
        let listing = f.list("a").unwrap();
        let names: Vec<_> = listing.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["b"], "no half file, no temp file");
        for bad in [
            "../x",
            "/etc/passwd",
            "a/../../x",
            "a\0b",
            ".git/config",
            ".env",
        ] {
            assert!(
                matches!(f.open_read(bad), Err(FileError::Refused(_))),
                "{bad:?}"
            );
        }
        // A FIFO is refused, not opened (that would wait for a writer forever).
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("fifo").as_path(),
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert!(matches!(f.open_read("fifo"), Err(FileError::WrongKind(_))));
        std::os::unix::fs::symlink("/etc", dir.join("etc")).unwrap();
        assert!(matches!(
            f.open_read("etc/passwd"),
            Err(FileError::Refused(_))
        ));
        f.delete("a/b/c.txt").unwrap();
        assert!(matches!(f.delete("a/b"), Err(FileError::WrongKind(_))));
    }
}
