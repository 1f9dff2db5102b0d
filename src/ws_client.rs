//! One outbound WebSocket, tungstenite as a client: `ws://` over plain TCP, or
//! `wss://` through rustls with the system's CA store (under the `notify` feature,
//! which links the outbound HTTPS client; without it a `wss://` address is refused
//! with a clear error). The TCP connect and the whole handshake (TLS included) run
//! under one deadline, so a box or service that accepts and then dribbles cannot
//! hold the calling thread longer. Used by the Slack bridge (Socket Mode) and the
//! dashboard's live view of another box (`box_relay.rs`).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::WebSocket;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;

/// The socket under the WebSocket: plain or TLS.
pub enum Conn {
    Plain(TcpStream),
    #[cfg(feature = "notify")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

/// A [`Conn`] whose reads and writes fail with `TimedOut` once `deadline` has
/// passed (the handshake's), then the socket's own timeouts only.
pub struct Timed {
    conn: Conn,
    deadline: Option<Instant>,
}

impl Timed {
    /// The TCP socket (for `poll`, non-blocking mode, shutdown).
    pub fn tcp(&self) -> &TcpStream {
        match &self.conn {
            Conn::Plain(s) => s,
            #[cfg(feature = "notify")]
            Conn::Tls(s) => &s.sock,
        }
    }

    /// Before each call under the deadline: the time left, as the socket's timeout.
    fn arm(&self, write: bool) -> io::Result<()> {
        let Some(deadline) = self.deadline else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "handshake took too long",
            ));
        }
        if write {
            self.tcp().set_write_timeout(Some(left))
        } else {
            self.tcp().set_read_timeout(Some(left))
        }
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm(false)?;
        match &mut self.conn {
            Conn::Plain(s) => s.read(buf),
            #[cfg(feature = "notify")]
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm(true)?;
        match &mut self.conn {
            Conn::Plain(s) => s.write(buf),
            #[cfg(feature = "notify")]
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.arm(true)?;
        match &mut self.conn {
            Conn::Plain(s) => s.flush(),
            #[cfg(feature = "notify")]
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// Why a WebSocket could not be opened: the HTTP status when the server refused
/// the upgrade (401: a wrong token), and what happened, in words.
#[derive(Debug)]
pub struct ConnectError {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for ConnectError {
    fn from(message: String) -> ConnectError {
        ConnectError {
            status: None,
            message,
        }
    }
}

impl From<&str> for ConnectError {
    fn from(message: &str) -> ConnectError {
        ConnectError::from(message.to_string())
    }
}

/// Opens `request` (a `ws://` or `wss://` URL, with any headers) as a WebSocket
/// client: connect and handshake within `timeout`; afterwards reads and writes
/// time out after `timeout` each (blocking mode; a caller may switch to
/// non-blocking through [`Timed::tcp`]).
pub fn connect(
    request: impl IntoClientRequest,
    config: Option<WebSocketConfig>,
    timeout: Duration,
) -> Result<WebSocket<Timed>, ConnectError> {
    let deadline = Instant::now() + timeout;
    let request = request
        .into_client_request()
        .map_err(|e| format!("bad address: {e}"))?;
    let tls = match request.uri().scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err("the socket address is not ws(s)://".into()),
    };
    let host = request.uri().host().ok_or("no host in the address")?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = request
        .uri()
        .port_u16()
        .unwrap_or(if tls { 443 } else { 80 });
    let target = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .map_err(|e| format!("resolving {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let tcp =
        TcpStream::connect_timeout(&target, timeout).map_err(|e| format!("connecting: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let conn = if tls {
        tls_conn(&host, tcp)?
    } else {
        Conn::Plain(tcp)
    };
    let timed = Timed {
        conn,
        deadline: Some(deadline),
    };
    let (mut ws, _) =
        tungstenite::client::client_with_config(request, timed, config).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(tungstenite::Error::Http(answer)) => {
                ConnectError {
                    status: Some(answer.status().as_u16()),
                    message: format!("refused the connection ({})", answer.status()),
                }
            }
            e => ConnectError::from(format!("handshake: {e}")),
        })?;
    let timed = ws.get_mut();
    timed.deadline = None;
    timed
        .tcp()
        .set_read_timeout(Some(timeout))
        .and_then(|()| timed.tcp().set_write_timeout(Some(timeout)))
        .map_err(|e| ConnectError::from(e.to_string()))?;
    Ok(ws)
}

#[cfg(feature = "notify")]
fn tls_conn(host: &str, tcp: TcpStream) -> Result<Conn, String> {
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("server name: {e}"))?;
    let session =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(session, tcp))))
}

#[cfg(not(feature = "notify"))]
fn tls_conn(_host: &str, _tcp: TcpStream) -> Result<Conn, String> {
    Err("this homeclaude was built without https calls (the notify feature)".into())
}
