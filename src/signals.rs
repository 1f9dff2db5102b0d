//! Turns SIGTERM and SIGINT into a graceful shutdown of the hub.
//!
//! The first signal asks the hub to close every client (1001) and drain; if that has
//! not ended the process within [`HARD_DEADLINE`], or a second signal arrives, the
//! process exits at once. systemd's `TimeoutStopSec` is the last resort above that.

use crate::hub::{Exit, HubHandle};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Longest a graceful shutdown may take before the process exits anyway.
pub const HARD_DEADLINE: Duration = Duration::from_secs(3);

/// Starts the signal thread. With `test_hooks` (the documented test-only variable
/// `HOMECLAUDE_TEST_HOOKS=1`), SIGUSR1 wedges the hub and SIGUSR2 the accept loop,
/// so the watchdog's tests can check that pings stop.
pub fn spawn(hub: HubHandle, test_hooks: Option<Arc<AtomicBool>>) -> std::io::Result<()> {
    let mut wanted = vec![SIGTERM, SIGINT];
    if test_hooks.is_some() {
        wanted.extend([SIGUSR1, SIGUSR2]);
    }
    let mut signals = Signals::new(wanted)?;
    std::thread::Builder::new()
        .name("signals".into())
        .stack_size(64 << 10)
        .spawn(move || {
            let mut forever = signals.forever().filter(|sig| match (sig, &test_hooks) {
                (&SIGUSR1, Some(_)) => {
                    hub.wedge();
                    false
                }
                (&SIGUSR2, Some(accept)) => {
                    accept.store(true, Ordering::Relaxed);
                    false
                }
                _ => true,
            });
            if let Some(sig) = forever.next() {
                log::info!("signal {sig}: shutting down");
                crate::watchdog::stopping();
                hub.shutdown(Exit::Stop);
                let _ = std::thread::Builder::new()
                    .name("deadline".into())
                    .stack_size(64 << 10)
                    .spawn(|| {
                        std::thread::sleep(HARD_DEADLINE);
                        log::error!("shutdown took longer than {HARD_DEADLINE:?}; exiting now");
                        std::process::exit(1);
                    });
            }
            if let Some(sig) = forever.next() {
                log::warn!("signal {sig} again: exiting now");
                std::process::exit(1);
            }
        })?;
    Ok(())
}
