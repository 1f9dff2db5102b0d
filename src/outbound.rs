//! The one outbound HTTP(S) client: Web Push, ntfy, the other boxes of a dashboard,
//! and whatever later talks to the outside world.
//!
//! Blocking (ureq 3), so it is only ever called from a thread of its own (the
//! notify thread, the boxes poller, a connection thread forwarding a prompt), never
//! from the hub. An [`Outbound`] is built once per user and shared: a deadline on
//! every call, no redirects (a bearer token must not follow one), non-2xx answers
//! returned as a status rather than an error (a push service's 410 is an answer,
//! not a fault). HTTPS (rustls with the ring provider the server's own TLS uses,
//! the system's CA store) comes with the `notify` feature; plain HTTP always works.

use std::fmt;
use std::time::Duration;

/// Connect within this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The whole exchange, connect to last byte, within this long (unless the user
/// asks for less: [`Outbound::with_deadline`]).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest answer body read: push services and ntfy answer in a few hundred
/// bytes, a box's status in a few kB.
const MAX_ANSWER: u64 = 1 << 20;

/// An answer from the other side, whatever its status.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// `Retry-After` in seconds, when the answer had one.
    pub retry_after: Option<u64>,
    pub body: Vec<u8>,
}

/// Why a call got no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundError {
    /// Not an http(s) URL we can call (https without the `notify` feature).
    BadUrl(String),
    /// Nothing listens there: connection refused, or no such host.
    Refused(String),
    /// TLS or I/O failed, or the deadline passed.
    Transport(String),
}

impl fmt::Display for OutboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutboundError::BadUrl(why) => write!(f, "bad URL: {why}"),
            OutboundError::Refused(why) | OutboundError::Transport(why) => write!(f, "{why}"),
        }
    }
}

/// The shared client.
pub struct Outbound {
    agent: ureq::Agent,
    /// Longest answer body read ([`MAX_ANSWER`] unless [`Outbound::with_max_answer`]).
    max_answer: u64,
}

impl Outbound {
    /// Builds the client; reads the system's CA store once (where the thread that
    /// calls this runs, never the hub).
    pub fn new() -> Outbound {
        Outbound::with_deadline(CALL_TIMEOUT)
    }

    /// The same client with a shorter deadline per call (a box on the LAN that
    /// has not answered in 5 s counts as unresponsive).
    pub fn with_deadline(deadline: Duration) -> Outbound {
        Outbound {
            agent: agent(deadline),
            max_answer: MAX_ANSWER,
        }
    }

    /// The same client reading answers up to `bytes` long (a photo fetched from a
    /// messenger bridge, rather than a status answer).
    pub fn with_max_answer(mut self, bytes: u64) -> Outbound {
        self.max_answer = bytes;
        self
    }

    /// `POST url` with `headers` and `body`.
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, OutboundError> {
        check_url(url)?;
        let mut req = self.agent.post(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.send(body), self.max_answer)
    }

    /// `GET url` with `headers`.
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Answer, OutboundError> {
        check_url(url)?;
        let mut req = self.agent.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.call(), self.max_answer)
    }
}

fn check_url(url: &str) -> Result<(), OutboundError> {
    if url.starts_with("https://") && !cfg!(feature = "notify") {
        return Err(OutboundError::BadUrl(
            "this homeclaude was built without https calls (the notify feature)".into(),
        ));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(OutboundError::BadUrl(format!("{url:?} is not http(s)")))
    }
}

fn agent(deadline: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT.min(deadline)))
        .timeout_global(Some(deadline))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("homeclaude/", env!("CARGO_PKG_VERSION")));
    #[cfg(feature = "notify")]
    let config = config.tls_config(tls());
    config.build().into()
}

#[cfg(feature = "notify")]
fn tls() -> ureq::tls::TlsConfig {
    use std::sync::Arc;
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let found = rustls_native_certs::load_native_certs();
    for e in found.errors.iter().take(3) {
        log::warn!("outbound: reading the system's CA certificates: {e}");
    }
    if found.certs.is_empty() {
        log::warn!("outbound: no CA certificates found on this system; https calls will fail");
    }
    let certs: Vec<Certificate<'static>> = found
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(&certs))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build()
}

fn answer(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    max_answer: u64,
) -> Result<Answer, OutboundError> {
    let mut resp = result.map_err(|e| match e {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            OutboundError::Refused(io.to_string())
        }
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            OutboundError::Refused(e.to_string())
        }
        other => OutboundError::Transport(other.to_string()),
    })?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    // A body cut short or too long still leaves the status, which is what counts.
    let body = resp
        .body_mut()
        .with_config()
        .limit(max_answer)
        .read_to_vec()
        .unwrap_or_default();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_called() {
        let out = Outbound::new();
        assert!(matches!(
            out.post("file:///etc/passwd", &[], b""),
            Err(OutboundError::BadUrl(_))
        ));
    }

    #[test]
    fn a_refused_connection_is_refused_not_a_panic() {
        // A port nobody listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let out = Outbound::new();
        assert!(matches!(
            out.post(&format!("http://127.0.0.1:{port}/x"), &[], b"hi"),
            Err(OutboundError::Refused(_))
        ));
    }
}
