//! TLS for the front door (cargo feature `tls`): the rustls server configuration,
//! the certificate files behind it, and the handshake under a deadline.
//!
//! tiny_http's own TLS support cannot be used: homeclaude owns its sockets (see
//! [`crate::http`]), so rustls runs here, over each accepted `TcpStream`, and
//! [`crate::transport`] hides which kind of stream a connection has.
//!
//! The certificate and key are re-read when either file changes on disk (checked
//! with two `stat`s per handshake), so a renewed certificate (Let's Encrypt,
//! `tailscale cert`) is served without a restart. A renewal that fails to load keeps
//! the previous certificate and says so in the log.

use crate::config::TlsFiles;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ServerConnection};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// Why the certificate files could not be used.
#[derive(Debug)]
pub enum TlsError {
    Read(String, String),
    NoCertificate(String),
    Key(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Read(path, why) => write!(f, "cannot read {path}: {why}"),
            TlsError::NoCertificate(path) => {
                write!(f, "{path} holds no PEM certificate (BEGIN CERTIFICATE)")
            }
            TlsError::Key(why) => write!(f, "the TLS key cannot be used: {why}"),
        }
    }
}

/// Builds the server configuration: TLS 1.3 only (as docs/SECURITY.md says; the
/// outbound client's ureq turns rustls' `tls12` feature on, which must not widen
/// what the server accepts), HTTP/1.1 only (ALPN), certificates from `files`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let resolver = Reloading::new(files.clone(), provider.clone())?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Key(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn load(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let shown = |p: &Path| p.display().to_string();
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Read(shown(&files.cert), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(shown(&files.cert)));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| TlsError::Read(shown(&files.key), e.to_string()))?;
    CertifiedKey::from_der(certs, key, provider).map_err(|e| TlsError::Key(e.to_string()))
}

fn mtimes(files: &TlsFiles) -> [Option<SystemTime>; 2] {
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    [mtime(&files.cert), mtime(&files.key)]
}

/// Serves the certificate from the files, reloading it when they change.
struct Reloading {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Mutex<(Arc<CertifiedKey>, [Option<SystemTime>; 2])>,
}

impl fmt::Debug for Reloading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reloading")
            .field("files", &self.files)
            .finish()
    }
}

impl Reloading {
    fn new(files: TlsFiles, provider: Arc<CryptoProvider>) -> Result<Reloading, TlsError> {
        let stamp = mtimes(&files);
        let key = Arc::new(load(&files, &provider)?);
        Ok(Reloading {
            files,
            provider,
            current: Mutex::new((key, stamp)),
        })
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // The stats run before the lock, so handshakes never queue behind a slow
        // disk; only a reload (files changed) reads them under it, once.
        let stamp = mtimes(&self.files);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if stamp != current.1 {
            // Noted even when loading fails, so a broken file is reported once, not
            // at every handshake; the next change is tried again.
            current.1 = stamp;
            match load(&self.files, &self.provider) {
                Ok(key) => {
                    log::info!("tls: certificate reloaded from {:?}", self.files.cert);
                    current.0 = Arc::new(key);
                }
                Err(e) => log::warn!("tls: {e}; still serving the previous certificate"),
            }
        }
        Some(current.0.clone())
    }
}

/// Runs the TLS handshake on `sock` until done or `deadline` (a client that never
/// finishes its handshake is slowloris too).
pub fn handshake(
    conn: &mut ServerConnection,
    sock: &TcpStream,
    deadline: Instant,
) -> io::Result<()> {
    let mut sock = sock;
    while conn.is_handshaking() || conn.wants_write() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        if conn.wants_write() {
            sock.set_write_timeout(Some(left))?;
            conn.write_tls(&mut sock)?;
            continue;
        }
        sock.set_read_timeout(Some(left))?;
        if conn.read_tls(&mut sock)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        if let Err(e) = conn.process_new_packets() {
            // Tell the client why (an alert), best effort, then give up.
            let _ = conn.write_tls(&mut sock);
            return Err(io::Error::new(ErrorKind::InvalidData, e));
        }
    }
    Ok(())
}
