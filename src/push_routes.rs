//! The notification routes: the VAPID key and the settings sheet's status
//! (`GET /api/push/key`), a browser's push subscription (`POST` / `DELETE
//! /api/push/subscriptions`) and the test button (`POST /api/push/test`). Owner
//! only: a viewer's 403 is checked here, the login by [`crate::routes`]. Nothing
//! here waits: subscriptions are handed to the notify thread, which saves them.

use crate::auth::Role;
use crate::http::Request;
use crate::notify::{Note, NotifyHandle, Subscription};
use crate::routes::{App, Reply, json, text};

/// The notify thread, for the owner; else the answer to give.
fn owner(app: &App, who: Option<Role>) -> Result<&NotifyHandle, Reply> {
    if who != Some(Role::Owner) {
        return Err(text(403, "only the owner gets notifications"));
    }
    app.notify
        .as_ref()
        .ok_or_else(|| text(503, "notifications are not running on this server"))
}

/// `GET /api/push/key`: `{"key": <VAPID public key>, "mode", "public_url",
/// "subscriptions", "ntfy", "push_error", "events", "built"}`.
pub fn key(_req: &Request, app: &App, who: Option<Role>) -> Reply {
    match owner(app, who) {
        Ok(n) => json(200, &n.describe()),
        Err(reply) => reply,
    }
}

/// `POST /api/push/subscriptions` with `PushSubscription.toJSON()` plus `events`
/// and `lang`: kept (replacing one with the same endpoint). `DELETE` with
/// `{"endpoint": ...}`: dropped.
pub fn subscriptions(req: &Request, app: &App, who: Option<Role>) -> Reply {
    let notify = match owner(app, who) {
        Ok(n) => n,
        Err(reply) => return reply,
    };
    if req.head.method == "DELETE" {
        let endpoint = serde_json::from_slice::<serde_json::Value>(&req.body)
            .ok()
            .and_then(|v| v.get("endpoint")?.as_str().map(str::to_string));
        return match endpoint {
            Some(e) => {
                notify.unsubscribe(e);
                json(200, &serde_json::json!({"removed": true}))
            }
            None => text(400, "expected {\"endpoint\": ...}"),
        };
    }
    match Subscription::parse(&req.body) {
        Ok(sub) => {
            notify.subscribe(sub);
            json(201, &serde_json::json!({"subscribed": true}))
        }
        Err(why) => text(400, &format!("not a push subscription: {why}")),
    }
}

/// `POST /api/push/test`: a test notification to every subscribed device and the
/// ntfy topic, whatever `--notify` says.
pub fn test(_req: &Request, app: &App, who: Option<Role>) -> Reply {
    match owner(app, who) {
        Ok(n) => {
            n.note(Note::Test);
            json(202, &serde_json::json!({"sent": true}))
        }
        Err(reply) => reply,
    }
}
