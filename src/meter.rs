//! The reader thread: reads the CLI's files (usage transcripts, the session store)
//! off the hub thread.
//!
//! Both can take a while on an SD card (the first usage refresh reads every
//! transcript, the first session listing every file's head and tail; later ones only
//! what changed), so the hub never does either. It asks with [`Meter::refresh`] or
//! [`Meter::sessions`]; this thread answers with `Input::Usage` or
//! `Input::Sessions`. Usage requests that pile up while a refresh runs are served by
//! one.

use crate::claude_sessions::SessionIndex;
use crate::hub::{ClientId, HubHandle};
use crate::protocol::{RequestId, SessionItem};
use crate::usage::{self, UsageTracker};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::time::SystemTime;

/// Most sessions one listing returns (newest first).
const SESSION_LIST_LIMIT: usize = 200;

enum Request {
    Usage,
    Sessions(ClientId, Option<RequestId>),
}

/// Asks the reader thread for fresh figures or a session listing.
#[derive(Clone)]
pub struct Meter {
    tx: Sender<Request>,
}

impl Meter {
    /// Requests a usage refresh; the result reaches the hub as `Input::Usage`.
    pub fn refresh(&self) {
        let _ = self.tx.send(Request::Usage);
    }

    /// Requests the CLI's session list for the workdir, for one client; the result
    /// reaches the hub as `Input::Sessions`.
    pub fn sessions(&self, client: ClientId, req: Option<RequestId>) {
        let _ = self.tx.send(Request::Sessions(client, req));
    }
}

/// Starts the reader thread; the usage cache lives in the data dir.
pub fn spawn(data_dir: &Path, workdir: &Path, hub: HubHandle) -> std::io::Result<Meter> {
    let prices = match usage::load_prices(data_dir) {
        Ok(p) => p,
        Err(e) => {
            log::warn!("usage: {e}; using the built-in prices");
            usage::Prices::embedded()
        }
    };
    let mut tracker = UsageTracker::new(usage::default_roots(), prices)
        .with_cache(data_dir.join("usage-cache.json"));
    let mut index = SessionIndex::for_workdir(workdir);
    let (tx, rx) = mpsc::channel::<Request>();
    std::thread::Builder::new()
        .name("reader".into())
        .stack_size(256 << 10)
        .spawn(move || {
            while let Ok(request) = rx.recv() {
                match request {
                    Request::Sessions(client, req) => {
                        hub.sessions(client, req, list(&mut index));
                    }
                    Request::Usage => {
                        // Fold usage requests that arrived meanwhile into this one;
                        // session requests among them are answered too.
                        let mut pending = Vec::new();
                        while let Ok(more) = rx.try_recv() {
                            if let Request::Sessions(client, req) = more {
                                pending.push((client, req));
                            }
                        }
                        if let Err(e) = tracker.refresh() {
                            log::warn!("usage: {e}");
                        }
                        let body = match serde_json::to_value(tracker.status(SystemTime::now())) {
                            Ok(Value::Object(map)) => map,
                            _ => Map::new(),
                        };
                        hub.usage(body);
                        for (client, req) in pending {
                            hub.sessions(client, req, list(&mut index));
                        }
                    }
                }
            }
        })?;
    Ok(Meter { tx })
}

/// The session list in its wire form.
fn list(index: &mut SessionIndex) -> Vec<SessionItem> {
    index
        .list(SESSION_LIST_LIMIT)
        .iter()
        .map(SessionItem::from)
        .collect()
}
