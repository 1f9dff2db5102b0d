//! One accepted connection's byte stream: plain TCP, or TLS over it (cargo feature
//! `tls`). The front door and the WebSocket loop use [`Stream`] and never ask which
//! kind it is; only this module and [`crate::tls`] know.
//!
//! Two ways of moving bytes, for the two halves of a connection's life:
//! - blocking `Read`/`Write` under the socket's timeouts, for HTTP requests;
//! - "now or never" calls for the WebSocket loop, which blocks only in `poll(2)`:
//!   [`Stream::read_now`] and the [`Wire`] methods, built on `MSG_DONTWAIT` so the
//!   socket itself stays in blocking mode (see [`crate::outbox`]).
//!
//! A plain socket can be written by the hub thread directly ([`Stream::direct`]);
//! a TLS one cannot, since its records are numbered and encrypted by one
//! `ServerConnection`, owned by the connection's thread.

use crate::outbox::Wire;
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, recv, send};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// An accepted connection, ready for HTTP.
pub enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

/// What [`Acceptor::accept`] made of a new connection.
pub enum Accepted {
    /// Ready for requests (a TLS handshake, if any, is done).
    Ready(Stream),
    /// A TLS port got plain HTTP: the front door answers it in plain text.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    PlainOnTlsPort(TcpStream),
}

/// Turns accepted sockets into streams: as they are, or after a TLS handshake.
#[derive(Clone, Default)]
pub struct Acceptor {
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl Acceptor {
    /// Serves plain HTTP.
    pub fn plain() -> Acceptor {
        Acceptor::default()
    }

    /// Serves HTTPS with this configuration.
    #[cfg(feature = "tls")]
    pub fn tls(config: std::sync::Arc<rustls::ServerConfig>) -> Acceptor {
        Acceptor { tls: Some(config) }
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return true;
        }
        false
    }

    /// Wraps a new socket; a TLS handshake must finish by `deadline`.
    pub fn accept(&self, tcp: TcpStream, deadline: Instant) -> io::Result<Accepted> {
        #[cfg(feature = "tls")]
        if let Some(config) = &self.tls {
            // A TLS connection starts with a handshake record (content type 22);
            // anything else is most likely someone typing http:// on a phone.
            tcp.set_read_timeout(Some(deadline.saturating_duration_since(Instant::now())))?;
            let mut first = [0u8; 1];
            if tcp.peek(&mut first)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if first[0] != 22 {
                return Ok(Accepted::PlainOnTlsPort(tcp));
            }
            let mut conn = rustls::ServerConnection::new(config.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            crate::tls::handshake(&mut conn, &tcp, deadline)?;
            return Ok(Accepted::Ready(Stream::Tls(Box::new(
                rustls::StreamOwned::new(conn, tcp),
            ))));
        }
        let _ = deadline;
        Ok(Accepted::Ready(Stream::Plain(tcp)))
    }
}

impl Stream {
    /// The TCP socket underneath, for timeouts and `poll(2)`.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => &t.sock,
        }
    }

    /// Whether the bytes are encrypted (a login cookie may then be `Secure`).
    pub fn is_tls(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(_) => true,
        }
    }

    /// A handle on the socket that other threads may write whole frames to, or
    /// `None` when only this stream's owner can write (TLS).
    pub fn direct(&self) -> io::Result<Option<TcpStream>> {
        match self {
            Stream::Plain(s) => s.try_clone().map(Some),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => Ok(None),
        }
    }

    /// Reads what has arrived, without blocking: `WouldBlock` when nothing has.
    pub fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => NoWait(s).read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => loop {
                match t.conn.reader().read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // Data, a clean close (0), or a close without close_notify.
                    other => return other,
                }
                // No plaintext buffered: decrypt whatever records have arrived.
                // At end of stream the reader above answers instead of blocking.
                t.conn.read_tls(&mut NoWait(&t.sock))?;
                if let Err(e) = t.conn.process_new_packets() {
                    let _ = t.conn.write_tls(&mut NoWait(&t.sock));
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
            },
        }
    }

    /// Says goodbye at the TLS layer (close_notify), without waiting.
    pub fn close_notify(&mut self) {
        #[cfg(feature = "tls")]
        if let Stream::Tls(t) = self {
            t.conn.send_close_notify();
            let _ = t.conn.write_tls(&mut NoWait(&t.sock));
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.flush(),
        }
    }
}

impl Wire for Stream {
    fn send_now(&mut self, bytes: &[u8]) -> Result<usize, Errno> {
        match self {
            Stream::Plain(s) => (&*s).send_now(bytes),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => {
                // Records already made go first: rustls' buffer is what bounds the
                // memory a slow TLS client holds below the outbox.
                if drain_tls(t)? {
                    return Err(Errno::AGAIN);
                }
                let n = t.conn.writer().write(bytes).map_err(errno)?;
                if n == 0 {
                    return Err(Errno::AGAIN);
                }
                // The plaintext is taken; a failure to send it now shows up at the
                // next call.
                let _ = drain_tls(t);
                Ok(n)
            }
        }
    }

    fn send_vectored_now(&mut self, bufs: &[std::io::IoSlice<'_>]) -> Result<usize, Errno> {
        match self {
            Stream::Plain(s) => (&*s).send_vectored_now(bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => match bufs.first() {
                Some(b) => self.send_now(b),
                None => Ok(0),
            },
        }
    }

    fn drain_now(&mut self) -> Result<bool, Errno> {
        match self {
            Stream::Plain(_) => Ok(false),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => drain_tls(t),
        }
    }
}

/// Writes buffered TLS records without blocking; `Ok(true)` while some remain.
#[cfg(feature = "tls")]
fn drain_tls(
    t: &mut rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
) -> Result<bool, Errno> {
    while t.conn.wants_write() {
        match t.conn.write_tls(&mut NoWait(&t.sock)) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) => return Err(errno(e)),
        }
    }
    Ok(false)
}

#[cfg(feature = "tls")]
fn errno(e: io::Error) -> Errno {
    Errno::from_io_error(&e).unwrap_or(Errno::IO)
}

impl Wire for &TcpStream {
    fn send_now(&mut self, bytes: &[u8]) -> Result<usize, Errno> {
        loop {
            match send(*self, bytes, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
                Err(Errno::INTR) => continue,
                other => return other,
            }
        }
    }

    /// Several frames in one `sendmsg`: a burst of events costs one syscall per
    /// client, not one per event.
    fn send_vectored_now(&mut self, bufs: &[std::io::IoSlice<'_>]) -> Result<usize, Errno> {
        loop {
            match rustix::net::sendmsg(
                *self,
                bufs,
                &mut rustix::net::SendAncillaryBuffer::default(),
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            ) {
                Err(Errno::INTR) => continue,
                other => return other,
            }
        }
    }
}

/// A socket read and written with `MSG_DONTWAIT`.
struct NoWait<'a>(&'a TcpStream);

impl Read for NoWait<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match recv(self.0, &mut *buf, RecvFlags::DONTWAIT) {
                Ok((n, _)) => return Ok(n),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Write for NoWait<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut sock = self.0;
        sock.send_now(buf).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
