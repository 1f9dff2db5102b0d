//! The usage thread: keeps the [`UsageTracker`] off the hub thread.
//!
//! Reading transcripts can take a while on an SD card (the first refresh reads all
//! of them; later ones only what was appended), so the hub never does it. It asks
//! with [`Meter::refresh`]; this thread refreshes and hands the figures back as
//! `Input::Usage`. Requests that pile up while a refresh runs are served by one.

use crate::hub::HubHandle;
use crate::usage::{self, UsageTracker};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::time::SystemTime;

/// Asks the usage thread for fresh figures.
#[derive(Clone)]
pub struct Meter {
    tx: Sender<()>,
}

impl Meter {
    /// Requests a refresh; the result reaches the hub as `Input::Usage`.
    pub fn refresh(&self) {
        let _ = self.tx.send(());
    }
}

/// Starts the usage thread; its cache lives in the data dir.
pub fn spawn(data_dir: &Path, hub: HubHandle) -> std::io::Result<Meter> {
    let prices = match usage::load_prices(data_dir) {
        Ok(p) => p,
        Err(e) => {
            log::warn!("usage: {e}; using the built-in prices");
            usage::Prices::embedded()
        }
    };
    let mut tracker = UsageTracker::new(usage::default_roots(), prices)
        .with_cache(data_dir.join("usage-cache.json"));
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("usage".into())
        .stack_size(256 << 10)
        .spawn(move || {
            while rx.recv().is_ok() {
                // Fold requests that arrived meanwhile into this refresh.
                while rx.try_recv().is_ok() {}
                if let Err(e) = tracker.refresh() {
                    log::warn!("usage: {e}");
                }
                let body = match serde_json::to_value(tracker.status(SystemTime::now())) {
                    Ok(Value::Object(map)) => map,
                    _ => Map::new(),
                };
                hub.usage(body);
            }
        })?;
    Ok(Meter { tx })
}
