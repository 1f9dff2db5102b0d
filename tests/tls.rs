//! HTTPS and WSS served by homeclaude itself (`--features tls`), against the real
//! binary, with a certificate made for each test (nothing is committed).
#![cfg(feature = "tls")]

mod common;

use common::*;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A fresh self-signed certificate for localhost: (DER, cert path, key path).
fn certificate(dir: &std::path::Path, tag: &str) -> (CertificateDer<'static>, PathBuf, PathBuf) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (
        dir.join(format!("{tag}.crt")),
        dir.join(format!("{tag}.key")),
    );
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (made.cert.der().clone(), cert, key)
}

/// Starts the server on TLS with this certificate.
fn start(cert: &std::path::Path, key: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn client_config(trusted: &CertificateDer<'static>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(trusted.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TLS connection to `addr` that verifies the server as "localhost".
fn connect(addr: SocketAddr, trusted: &CertificateDer<'static>) -> Tls {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(wait())).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(client_config(trusted), name).unwrap();
    StreamOwned::new(conn, tcp)
}

/// One HTTPS exchange; returns (status, head and body).
fn https_get(
    addr: SocketAddr,
    trusted: &CertificateDer<'static>,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut tls = connect(addr, trusted);
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost:{}\r\n{extra}Connection: close\r\n\r\n",
        addr.port()
    )
    .unwrap();
    tls.flush().unwrap();
    read_response(&mut tls)
}

fn wss(addr: SocketAddr, trusted: &CertificateDer<'static>) -> Ws<Tls> {
    let tls = connect(addr, trusted);
    let mut req = format!("wss://localhost:{}/ws", addr.port())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (socket, _) = tungstenite::client::client(req, tls).expect("wss handshake");
    Ws { socket }
}

/// The certificate the server presented on this connection.
fn presented(tls: &Tls) -> CertificateDer<'static> {
    tls.conn.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

#[test]
fn https_and_wss_work_with_a_test_certificate() {
    let dir = temp_dir("tls");
    let (der, cert, key) = certificate(&dir, "a");
    let mut server = start(&cert, &key, &[]);
    let line = server.wait_log("log in at");
    assert!(line.contains("log in at https://"), "{line}");

    // Login over https: the cookie is Secure (the request came over TLS) and works.
    let (status, resp) = https_get(server.addr, &der, &format!("/login?token={TOKEN}"), &[]);
    assert_eq!(status, 303, "{resp}");
    let set_cookie = header_value(&resp, "set-cookie").expect("a session cookie");
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let (status, page) = https_get(server.addr, &der, "/", &[("Cookie", &cookie)]);
    assert_eq!(status, 200);
    assert!(page.contains("<!doctype html>"), "{page}");

    // Two wss clients see the same broadcasts in order.
    let mut a = wss(server.addr, &der);
    let mut b = wss(server.addr, &der);
    a.wait_for(|v| v["type"] == "queue_status");
    b.wait_for(|v| v["type"] == "queue_status");
    a.send_json(&json!({"type":"message","message":"over tls"}));
    for ws in [&mut a, &mut b] {
        let echo = ws.wait_for(|v| v["type"] == "message");
        assert_eq!(echo["message"], "over tls");
    }
}

#[test]
fn frames_larger_than_a_tls_record_buffer_arrive_whole_and_slow_clients_are_dropped() {
    let dir = temp_dir("tls-big");
    let (der, cert, key) = certificate(&dir, "a");
    let server = start(
        &cert,
        &key,
        &[
            "--client-backlog",
            "262144",
            "--max-frame",
            "300000",
            "--max-queue",
            "10000",
        ],
    );
    let mut live = wss(server.addr, &der);
    let mut stuck = wss(server.addr, &der);
    live.wait_for(|v| v["type"] == "queue_status");
    // The first prompt starts a run that never ends, so later ones wait in the queue
    // and each is echoed to everyone.
    live.send_json(&json!({"type":"message","message":"hang"}));
    live.wait_for(|v| v["type"] == "message");
    // 200 kB frames: bigger than rustls' 64 KiB output buffer, so every one is
    // encrypted and written in pieces as the socket drains.
    let big = "x".repeat(200_000);
    let mut dropped = false;
    for i in 0..400 {
        live.send_json(&json!({"type":"message","message":format!("{i}{big}")}));
        let echo = live.wait_for(|v| v["type"] == "message");
        assert_eq!(
            echo["message"].as_str().unwrap().len(),
            big.len() + i.to_string().len()
        );
        if server.log_text().contains("fell too far behind") {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "the TLS client that stopped reading was never dropped"
    );
    // The live client is still served promptly.
    let t = Instant::now();
    live.send_json(&json!({"type":"message","message":"ping"}));
    live.wait_for(|v| v["message"] == "ping");
    assert!(
        t.elapsed() < bound(Duration::from_millis(200)),
        "{:?}",
        t.elapsed()
    );
    // The stuck client, reading at last, sees whole frames, then close 1013.
    assert_eq!(stuck.wait_close(), Some(1013));
}

#[test]
fn plain_http_on_the_tls_port_is_sent_to_https_and_healthz_still_answers() {
    let dir = temp_dir("tls-plain");
    let (_, cert, key) = certificate(&dir, "a");
    let server = start(&cert, &key, &[]);
    let (status, resp) = get_with(server.addr, "/login?x=1", &[]);
    assert_eq!(status, 308, "{resp}");
    assert_eq!(
        header_value(&resp, "location"),
        Some(format!("https://{}/login?x=1", server.addr))
    );
    // The public health check answers in plain text (the watchdog probes it), and
    // credentials sent in the clear are not honoured.
    let (status, resp) = get_with(
        server.addr,
        "/healthz",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(status, 200, "{resp}");
    let health: Value = serde_json::from_str(body(&resp)).unwrap();
    assert_eq!(health["status"], "ok");
    assert!(health.get("box").is_none(), "{health}");
}

#[test]
fn a_stalled_tls_handshake_is_dropped_while_others_are_served() {
    let dir = temp_dir("tls-slow");
    let (der, cert, key) = certificate(&dir, "a");
    let server = start(&cert, &key, &["--request-timeout", "1"]);
    // A handshake record header, then nothing.
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled.write_all(&[22, 3, 1]).unwrap();
    let started = Instant::now();
    let (status, _) = https_get(server.addr, &der, "/healthz", &[]);
    assert_eq!(status, 200);
    stalled.set_read_timeout(Some(wait())).unwrap();
    let mut buf = [0u8; 64];
    let n = stalled.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the stalled handshake should be closed, not answered");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < bound(Duration::from_secs(3)),
        "closed after {waited:?}"
    );
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = temp_dir("tls-renew");
    let (old, cert, key) = certificate(&dir, "live");
    let mut server = start(&cert, &key, &[]);
    assert_eq!(presented_after_get(server.addr, &old), old);
    // Renewal writes new files over the old ones (as certbot's deploy hooks and
    // `tailscale cert` do).
    let (new, new_cert, new_key) = certificate(&dir, "next");
    std::fs::rename(&new_key, &key).unwrap();
    std::fs::rename(&new_cert, &cert).unwrap();
    assert_eq!(presented_after_get(server.addr, &new), new);
    server.wait_log("certificate reloaded");
    // A broken renewal keeps the working certificate.
    std::fs::write(&cert, "not a certificate").unwrap();
    assert_eq!(presented_after_get(server.addr, &new), new);
    server.wait_log("still serving the previous certificate");
}

fn presented_after_get(
    addr: SocketAddr,
    trusted: &CertificateDer<'static>,
) -> CertificateDer<'static> {
    let mut tls = connect(addr, trusted);
    write!(
        tls,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let (status, _) = read_response(&mut tls);
    assert_eq!(status, 200);
    presented(&tls)
}

#[test]
fn unusable_certificate_files_stop_the_start_with_a_clear_error() {
    let dir = temp_dir("tls-bad");
    let (_, cert, key) = certificate(&dir, "a");
    let (_, _, other_key) = certificate(&dir, "b");
    for (cert, key, expect) in [
        (dir.join("missing.crt"), key.clone(), "cannot read"),
        (key.clone(), key.clone(), "no PEM certificate"),
        (cert.clone(), other_key, "cannot be used"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_homeclaude"))
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .env("HOMECLAUDE_TOKEN", TOKEN)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("cannot set up TLS") && stderr.contains(expect),
            "{stderr}"
        );
    }
}

#[test]
fn the_watchdog_self_probe_passes_on_a_tls_port() {
    // The watchdog sends WATCHDOG=1 only after a real plain-HTTP /healthz round trip
    // to the server's own port; on a TLS port that must still answer 200.
    let dir = temp_dir("tls-watchdog");
    let (_, cert, key) = certificate(&dir, "a");
    let notify = Notify::new();
    let _server = Server::start_with(
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[
            ("NOTIFY_SOCKET", notify.path.to_str().unwrap()),
            ("WATCHDOG_USEC", "300000"),
        ],
        None,
    );
    notify.wait_for("WATCHDOG=1");
    notify.wait_for("WATCHDOG=1");
}

/// Only TLS 1.3 is served, though this build's rustls can speak 1.2 (the outbound
/// client's ureq turns that on): a client offering only TLS 1.2 gets no session.
#[cfg(feature = "notify")]
#[test]
fn a_tls_1_2_only_client_gets_no_session() {
    let dir = temp_dir("tls12");
    let (der, cert, key) = certificate(dir.path(), "c");
    let server = start(&cert, &key, &[]);
    let mut roots = RootCertStore::empty();
    roots.add(der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let old = Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(wait())).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = StreamOwned::new(ClientConnection::new(old, name).unwrap(), tcp);
    let sent =
        write!(tls, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").and_then(|_| tls.flush());
    let mut buf = [0u8; 64];
    let read = sent.and_then(|_| tls.read(&mut buf));
    assert!(
        read.is_err() || read.is_ok_and(|n| n == 0),
        "TLS 1.2 was accepted"
    );
    // TLS 1.3 still works.
    let (code, _) = https_get(server.addr, &der, "/healthz", &[]);
    assert_eq!(code, 200);
}
