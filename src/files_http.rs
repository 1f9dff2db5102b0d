//! The file routes: `GET /api/files` (a listing), `GET|HEAD|DELETE /api/files/raw`
//! (a file's bytes, with `Range`; deleting one) and `PUT /api/files/raw` (an upload,
//! whose body [`crate::http`] streams here instead of reading it into memory).
//!
//! Who may use them is decided in one place, [`permit`]. What may be reached is
//! [`crate::files`]' business; every refusal is logged with the address.

use crate::auth::Role;
use crate::files::{self, FileError, Files};
use crate::http::{Head, Request, header};
use crate::permissions::{Action, Policy};
use crate::routes::{App, Reply, text};
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::net::SocketAddr;
use tiny_http::{Response, StatusCode};

/// Who may use the file routes: the owner. Unauthenticated requests get 401, every
/// other role 403. The one place to change when roles grow.
pub fn permit(who: Option<Role>, action: Action) -> Result<(), Reply> {
    match who.map(|r| r.may(action, Policy::default())) {
        Some(Ok(())) => Ok(()),
        Some(Err(needs)) => Err(text(
            403,
            &format!("only the {} may do this with the files", needs.name()),
        )),
        None => Err(text(401, "log in first")),
    }
}

/// A decoded query parameter.
fn param(head: &Head, name: &str) -> Option<String> {
    form_urlencoded::parse(head.query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn flag(head: &Head, name: &str) -> bool {
    param(head, name).is_some_and(|v| v == "1" || v == "true")
}

/// The workdir's files for `who` to do `action` with, or the refusal: who may
/// ([`permit`]) first, then whether the workdir could be opened.
fn files(app: &App, who: Option<Role>, action: Action) -> Result<&Files, Reply> {
    permit(who, action)?;
    app.files
        .as_deref()
        .ok_or_else(|| text(503, "the workdir could not be opened; see the server log"))
}

/// The answer to a failed operation; refusals are logged.
fn failed(head: &Head, peer: SocketAddr, rel: &str, e: FileError) -> Reply {
    match e {
        FileError::Refused(why) => {
            log::warn!("files {peer}: refused {} {rel:?}: {why}", head.method);
            text(403, &format!("refused: {why}"))
        }
        FileError::NotFound => text(404, "no such file or directory"),
        FileError::Exists => text(409, &e.to_string()),
        FileError::WrongKind(why) => text(400, why),
        FileError::TooLarge => text(413, &e.to_string()),
        FileError::Io(err) => {
            log::error!("files {peer}: {} {rel:?}: {err}", head.method);
            text(500, &format!("the file could not be used: {err}"))
        }
    }
}

fn json(status: u16, body: String) -> Reply {
    let len = body.len();
    Response::new(
        StatusCode(status),
        vec![
            header("Content-Type", "application/json"),
            header("Cache-Control", "no-store"),
        ],
        Box::new(Cursor::new(body.into_bytes())) as Box<dyn Read + Send>,
        Some(len),
        None,
    )
}

/// `GET /api/files?path=REL`.
pub fn list(req: &Request, app: &App, who: Option<Role>) -> Reply {
    let files = match files(app, who, Action::Ask) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let rel = param(&req.head, "path").unwrap_or_default();
    match files.list(&rel) {
        Ok(listing) => json(200, serde_json::to_string(&listing).unwrap_or_default()),
        Err(e) => failed(&req.head, req.peer, &rel, e),
    }
}

/// `GET|HEAD|DELETE /api/files/raw?path=REL` (`PUT` comes through [`upload`]).
pub fn raw(req: &Request, app: &App, who: Option<Role>) -> Reply {
    let action = if req.head.method == "DELETE" {
        Action::DeleteFile
    } else {
        Action::Ask
    };
    let files = match files(app, who, action) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let head = &req.head;
    let rel = param(head, "path").unwrap_or_default();
    if head.method == "DELETE" {
        return match files.delete(&rel) {
            Ok(()) => {
                log::info!("files {}: deleted {rel:?}", req.peer);
                text(200, "deleted")
            }
            Err(e) => failed(head, req.peer, &rel, e),
        };
    }
    if head.method == "PUT" {
        // Uploads are streamed (`crate::http`); a PUT never arrives here with a body.
        return text(400, "send the file as the request body with Content-Length");
    }
    let opened = match files.open_read(&rel) {
        Ok(o) => o,
        Err(e) => return failed(head, req.peer, &rel, e),
    };
    let len = opened.len;
    let mut file = opened.file;
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if flag(head, "download") {
            "attachment"
        } else {
            "inline"
        },
        encode_filename(&opened.name)
    );
    let mut headers = vec![
        header("Content-Type", files::content_type(&opened.name)),
        header("Content-Disposition", &disposition),
        header("Accept-Ranges", "bytes"),
        header("Cache-Control", "no-store"),
        // A file from the workdir never runs as this origin, whatever it holds.
        header("Content-Security-Policy", "sandbox"),
        header("Cross-Origin-Resource-Policy", "same-origin"),
    ];
    let (status, start, count) = match files::parse_range(head.header("range"), len) {
        None => (200, 0, len),
        Some(Ok((start, end))) => {
            headers.push(header(
                "Content-Range",
                &format!("bytes {start}-{end}/{len}"),
            ));
            (206, start, end - start + 1)
        }
        Some(Err(())) => {
            return text(416, "range not satisfiable")
                .with_header(header("Content-Range", &format!("bytes */{len}")));
        }
    };
    if start > 0
        && let Err(e) = file.seek(SeekFrom::Start(start))
    {
        return failed(head, req.peer, &rel, e.into());
    }
    Response::new(
        StatusCode(status),
        headers,
        Box::new(file.take(count)) as Box<dyn Read + Send>,
        usize::try_from(count).ok(),
        None,
    )
    // Always a Content-Length (tiny_http would chunk over 32 KiB): a player seeks
    // and a download shows its progress by it.
    .with_chunked_threshold(usize::MAX)
}

/// `PUT /api/files/raw?path=REL[&overwrite=1]`: `len` bytes of `body` become the
/// file. Everything that can be refused is refused before the body is read.
pub fn upload(
    head: &Head,
    peer: SocketAddr,
    len: u64,
    body: &mut dyn Read,
    app: &App,
    who: Option<Role>,
) -> Reply {
    let overwrite = flag(head, "overwrite");
    // A collaborator uploads what they attach; replacing a file is deleting one.
    let action = if overwrite {
        Action::DeleteFile
    } else {
        Action::Prompt
    };
    let files = match files(app, who, action) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let rel = param(head, "path").unwrap_or_default();
    if let Err(e) = files.check_upload(&rel, overwrite, len) {
        return failed(head, peer, &rel, e);
    }
    match files.put(&rel, overwrite, len, body) {
        Ok(entry) => {
            log::info!("files {peer}: uploaded {rel:?} ({len} bytes)");
            let path = files.components(&rel).map(|p| p.join("/")).unwrap_or(rel);
            json(
                201,
                serde_json::json!({"path": path, "entry": entry}).to_string(),
            )
        }
        Err(FileError::Io(e)) if is_client_gone(&e) => {
            log::info!("files {peer}: upload of {rel:?} interrupted: {e}; nothing kept");
            text(400, "the upload was interrupted; nothing was kept")
        }
        Err(e) => failed(head, peer, &rel, e),
    }
}

fn is_client_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        UnexpectedEof | TimedOut | WouldBlock | ConnectionReset | ConnectionAborted | BrokenPipe
    )
}

/// RFC 5987 `filename*` value: UTF-8, percent-encoded but for unreserved bytes.
fn encode_filename(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
