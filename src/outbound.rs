//! The one outbound HTTP(S) client: Web Push, ntfy, and whatever later talks to
//! the outside world.
//!
//! Blocking (ureq 3), so it is only ever called from a thread of its own (the
//! notify thread), never from the hub. One [`Outbound`] is built once and shared:
//! rustls with the ring provider (the one the server's own TLS uses), the system's
//! CA store, a deadline on every call, no redirects, non-2xx answers returned as
//! a status rather than an error (a push service's 410 is an answer, not a fault).
//! Without the `notify` feature every call fails with [`OutboundError::NotBuilt`].

use std::fmt;
#[cfg(feature = "notify")]
use std::time::Duration;

/// Connect within this long.
#[cfg(feature = "notify")]
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole exchange, connect to last byte, within this long.
#[cfg(feature = "notify")]
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest answer body read; push services and ntfy answer in a few hundred bytes.
#[cfg(feature = "notify")]
const MAX_ANSWER: u64 = 64 << 10;

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
    /// Built without the `notify` feature.
    #[cfg_attr(feature = "notify", allow(dead_code))]
    NotBuilt,
    /// Not an http(s) URL we can call.
    BadUrl(String),
    /// DNS, connect, TLS or I/O failed, or the deadline passed.
    #[cfg_attr(not(feature = "notify"), allow(dead_code))]
    Transport(String),
}

impl fmt::Display for OutboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutboundError::NotBuilt => {
                write!(f, "this homeclaude was built without the notify feature")
            }
            OutboundError::BadUrl(why) => write!(f, "bad URL: {why}"),
            OutboundError::Transport(why) => write!(f, "{why}"),
        }
    }
}

/// The shared client.
pub struct Outbound {
    #[cfg(feature = "notify")]
    agent: ureq::Agent,
}

impl Outbound {
    /// Builds the client; reads the system's CA store once (where the thread that
    /// calls this runs, never the hub).
    pub fn new() -> Outbound {
        Outbound {
            #[cfg(feature = "notify")]
            agent: agent(),
        }
    }

    /// `POST url` with `headers` and `body`.
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, OutboundError> {
        check_url(url)?;
        #[cfg(feature = "notify")]
        {
            let mut req = self.agent.post(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            answer(req.send(body))
        }
        #[cfg(not(feature = "notify"))]
        {
            let _ = (headers, body);
            Err(OutboundError::NotBuilt)
        }
    }

    /// `GET url` with `headers`.
    #[allow(dead_code)] // The bridges' (issue 19); kept so the API is whole.
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Answer, OutboundError> {
        check_url(url)?;
        #[cfg(feature = "notify")]
        {
            let mut req = self.agent.get(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            answer(req.call())
        }
        #[cfg(not(feature = "notify"))]
        {
            let _ = headers;
            Err(OutboundError::NotBuilt)
        }
    }
}

fn check_url(url: &str) -> Result<(), OutboundError> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(OutboundError::BadUrl(format!("{url:?} is not http(s)")))
    }
}

#[cfg(feature = "notify")]
fn agent() -> ureq::Agent {
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
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::new_with_certs(&certs))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(CALL_TIMEOUT))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("homeclaude/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

#[cfg(feature = "notify")]
fn answer(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Answer, OutboundError> {
    let mut resp = result.map_err(|e| OutboundError::Transport(e.to_string()))?;
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
        .limit(MAX_ANSWER)
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

    #[cfg(feature = "notify")]
    #[test]
    fn a_refused_connection_is_a_transport_error_not_a_panic() {
        // A port nobody listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let out = Outbound::new();
        assert!(matches!(
            out.post(&format!("http://127.0.0.1:{port}/x"), &[], b"hi"),
            Err(OutboundError::Transport(_))
        ));
    }
}
