//! systemd integration: `READY=1`, `STATUS=`, `STOPPING=1`, and `WATCHDOG=1` sent
//! only while the server proves it is turning.
//!
//! A timer thread that pinged unconditionally would keep a wedged server alive. So
//! each ping follows a real request: the watchdog thread sends `GET /healthz` to the
//! server's own listener, which needs the accept loop to accept it, a connection
//! thread to serve it, and the hub to answer the health query; the hub's answer also
//! says whether the current run (if any) is within its time limit, which the
//! runner's supervisor enforces. Any step failing within the deadline means no ping,
//! and systemd restarts the service after `WatchdogSec`.
//!
//! Without `NOTIFY_SOCKET` every call here does nothing.

use crate::hub::HubHandle;
use sd_notify::NotifyState;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Tells systemd the server is ready to serve.
pub fn ready(status: &str) {
    let _ = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd the server is shutting down.
pub fn stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Starts the watchdog thread when systemd asked for one (`WATCHDOG_USEC`).
pub fn spawn(listen: SocketAddr, hub: HubHandle) -> std::io::Result<()> {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return Ok(());
    };
    // Three checks per period: one slow check does not cost a restart.
    let every = (period / 3).max(Duration::from_millis(50));
    let target = probe_address(listen);
    log::info!("watchdog: every {every:?} (WatchdogSec {period:?}), probing {target}");
    std::thread::Builder::new()
        .name("watchdog".into())
        .stack_size(128 << 10)
        .spawn(move || {
            let mut healthy = true;
            loop {
                std::thread::sleep(every);
                match check(target, every) {
                    Ok(()) => {
                        if !healthy {
                            log::info!("watchdog: healthy again");
                        }
                        healthy = true;
                        let status = status_line(&hub);
                        let _ = sd_notify::notify(&[
                            NotifyState::Watchdog,
                            NotifyState::Status(&status),
                        ]);
                    }
                    Err(why) => {
                        if healthy {
                            log::error!("watchdog: {why}; not pinging systemd");
                        }
                        healthy = false;
                    }
                }
            }
        })?;
    Ok(())
}

/// Where to send the self-probe: an unspecified bind address means loopback.
fn probe_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// One self-probe: `/healthz` must answer 200 with `"status":"ok"` in time.
fn check(target: SocketAddr, deadline: Duration) -> Result<(), String> {
    let mut s =
        TcpStream::connect_timeout(&target, deadline).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_read_timeout(Some(deadline));
    let _ = s.set_write_timeout(Some(deadline));
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\nUser-Agent: homeclaude-watchdog\r\n\r\n"
    );
    s.write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::with_capacity(1024);
    s.take(64 << 10)
        .read_to_end(&mut answer)
        .map_err(|e| format!("no answer in {deadline:?}: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    if text.starts_with("HTTP/1.1 200") && text.contains("\"status\":\"ok\"") {
        Ok(())
    } else {
        Err(format!(
            "health check failed: {}",
            text.lines().next().unwrap_or("no answer")
        ))
    }
}

fn status_line(hub: &HubHandle) -> String {
    match hub.stats(Duration::from_millis(200)) {
        Some(s) => format!(
            "{} clients, {} queued, {}",
            s.clients,
            s.queue,
            if s.running { "running" } else { "idle" }
        ),
        None => "busy".into(),
    }
}
