//! systemd notify protocol: READY, periodic WATCHDOG pings that stop when the hub or
//! the accept loop stops turning (wedged through the test-only hooks), STOPPING.

mod common;

use common::*;
use rustix::process::Signal;
use std::time::{Duration, Instant};

const PERIOD: Duration = Duration::from_millis(300);

/// After a wedge: pings already under way may still land within a period; after
/// that, none may come for three periods.
fn assert_pings_stop(notify: &Notify) {
    let settle = Instant::now() + bound(PERIOD);
    while let Some(left) = settle.checked_duration_since(Instant::now()) {
        if notify.next(left).is_none() {
            break;
        }
    }
    let quiet = Instant::now() + bound(PERIOD * 3);
    while let Some(left) = quiet.checked_duration_since(Instant::now()) {
        if let Some(msg) = notify.next(left) {
            assert!(!msg.contains("WATCHDOG=1"), "still pinging: {msg}");
        }
    }
}

fn start(notify: &Notify) -> Server {
    let usec = PERIOD.as_micros().to_string();
    Server::start_with(
        &[],
        &[
            ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
            ("WATCHDOG_USEC", &usec),
            ("HOMECLAUDE_TEST_HOOKS", "1"),
        ],
        None,
    )
}

#[test]
fn ready_then_pings_which_stop_when_the_hub_is_wedged() {
    let notify = Notify::new();
    let server = start(&notify);
    assert!(notify.wait_for("READY=1").contains("STATUS="));
    for _ in 0..3 {
        let ping = notify.wait_for("WATCHDOG=1");
        assert!(ping.contains("STATUS="), "{ping}");
    }
    server.signal(Signal::USR1);
    assert_pings_stop(&notify);
}

#[test]
fn pings_stop_when_the_accept_loop_is_wedged_and_stopping_is_sent() {
    let notify = Notify::new();
    let mut server = start(&notify);
    notify.wait_for("READY=1");
    notify.wait_for("WATCHDOG=1");
    server.signal(Signal::USR2);
    assert_pings_stop(&notify);
    // The hub still works: SIGTERM is reported as STOPPING=1 and exits 0.
    server.signal(Signal::TERM);
    notify.wait_for("STOPPING=1");
    assert_eq!(server.wait_exit().code(), Some(0));
}

#[test]
fn without_test_hooks_usr1_does_not_wedge_anything() {
    let notify = Notify::new();
    let usec = PERIOD.as_micros().to_string();
    let server = Server::start_with(
        &[],
        &[
            ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
            ("WATCHDOG_USEC", &usec),
        ],
        None,
    );
    notify.wait_for("WATCHDOG=1");
    // SIGUSR1 is not handled without the hooks: its default action ends the
    // process, which systemd would then restart. What matters here is that the
    // hooks are not reachable in production: no "wedged" log line.
    server.signal(Signal::USR1);
    let _ = notify.next(bound(PERIOD * 2));
    assert!(!server.log_text().contains("wedged on purpose"));
}
