//! `/api/invites`: the owner's invites from the settings sheet.
//!
//! `GET` lists them; `POST {"name","role","expires"}` makes one and answers its
//! login link (shown once) with the link's QR matrix; `POST /api/invites/revoke
//! {"name"}` ends one. Owner only ([`Action::ManageInvites`]): 403 for anyone else.
//! The file is read and written here, on the connection's thread, never the hub's;
//! the invites watcher tells the hub what a revoke ends.

use crate::auth::Role;
use crate::http::{Request, header};
use crate::invites::{self, InviteError};
use crate::permissions::{Action, Policy};
use crate::routes::{App, Reply, base_url, bytes, text};
use serde_json::{Value, json};

fn owner_only(who: Option<Role>) -> Option<Reply> {
    match who.map(|r| r.may(Action::ManageInvites, Policy::default())) {
        Some(Ok(())) => None,
        _ => Some(text(403, "only the owner manages invites")),
    }
}

fn json_reply(status: u16, body: &Value) -> Reply {
    bytes(status, "application/json", body.to_string().into_bytes())
        .with_header(header("Cache-Control", "no-store"))
}

fn refused(e: &InviteError) -> Reply {
    let status = match e {
        InviteError::NotFound(_) => 404,
        InviteError::Taken(_) => 409,
        InviteError::BadName(_) | InviteError::BadRole(_) | InviteError::BadExpiry(_) => 400,
        InviteError::Io(..) | InviteError::Damaged(..) | InviteError::Random(_) => {
            log::error!("invites: {e}");
            500
        }
    };
    text(status, &e.to_string())
}

/// `GET /api/invites` (the list) and `POST /api/invites` (a new one).
pub fn invites(req: &Request, app: &App, who: Option<Role>) -> Reply {
    if let Some(no) = owner_only(who) {
        return no;
    }
    if req.head.method != "POST" {
        return match invites::list(&app.data_dir) {
            Ok(rows) => json_reply(200, &json!({ "invites": rows })),
            Err(e) => refused(&e),
        };
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return text(400, "expected a JSON object");
    };
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let expires = match invites::parse_expiry(match field("expires") {
        "" => "7d",
        e => e,
    }) {
        Ok(e) => e,
        Err(e) => return refused(&e),
    };
    match invites::create(&app.data_dir, field("name"), field("role"), expires) {
        Ok((invite, token)) => {
            let link = invites::login_link(&base_url(req), &token);
            log::info!(
                "invites: {} ({}) invited from the page",
                invite.name,
                invite.role
            );
            json_reply(
                201,
                &json!({
                    "name": invite.name,
                    "role": invite.role,
                    "expires": invite.expires,
                    "link": link,
                    "qr": crate::qr::matrix(&link),
                }),
            )
        }
        Err(e) => refused(&e),
    }
}

/// `POST /api/invites/revoke {"name"}`.
pub fn revoke(req: &Request, app: &App, who: Option<Role>) -> Reply {
    if let Some(no) = owner_only(who) {
        return no;
    }
    let name = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|b| b.get("name").and_then(Value::as_str).map(str::to_string));
    let Some(name) = name else {
        return text(400, "expected {\"name\": ...}");
    };
    match invites::revoke(&app.data_dir, &name) {
        Ok(gone) => {
            log::info!("invites: {} revoked from the page", gone.name);
            json_reply(200, &json!({ "revoked": gone.name }))
        }
        Err(e) => refused(&e),
    }
}
