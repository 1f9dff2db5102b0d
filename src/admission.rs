//! Who gets a connection and a WebSocket slot when the box is full.
//!
//! One shared cap let 1,300 half-sent requests, or one viewer's 1,000 WebSockets,
//! lock the owner out. Connections are therefore kept in three classes, by what their
//! requests proved so far: not logged in yet, viewer, owner. A connection starts as
//! not logged in (nobody's credentials can be read before its head arrives) and moves
//! up when a request on it carries a valid cookie or token.
//!
//! - Not-logged-in connections have a cap (all but the owners' reserve) and a cap
//!   per address. Over either, the one that has waited longest for a request head is
//!   cut (its socket shut down): a slowloris holds slots only until someone new comes.
//!   A connection younger than [`GRACE`] is never cut, so a burst of honest
//!   connections from one address (a tunnel, a proxy) is not cut before it can speak;
//!   when nothing can be cut, the newcomer is refused with 503.
//! - Viewer connections have the same two caps, checked when a request proves the
//!   role: a viewer link cannot take the owners' reserve.
//! - Owner connections are never cut and have no cap but the total.
//! - WebSocket slots: viewers get all but a reserve, and a share per address; owners
//!   may use every slot.
//! - Collaborators (named invites) are a class of their own with the viewers' caps,
//!   counted apart; `--max-clients viewer=N,collaborator=N` caps either role's
//!   WebSockets lower.
//!
//! The total (`--max-connections`) bounds descriptors and threads; a newcomer over it
//! cuts a waiting not-logged-in connection, or is refused.

use crate::auth::Role;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A connection waiting this long for a request head may be cut when room is
/// needed. An honest client sends its head within milliseconds of connecting.
pub const GRACE: Duration = Duration::from_secs(1);

/// The caps, derived from `--max-connections` and `--max-clients`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Every connection together.
    pub total: usize,
    /// Not-logged-in connections, and viewer connections (each class its own).
    pub others: usize,
    /// Not-logged-in, and viewer, connections from one address.
    pub per_address: usize,
    /// WebSocket clients together.
    pub ws_total: usize,
    /// Viewer WebSocket clients.
    pub ws_viewers: usize,
    /// Viewer WebSocket clients from one address.
    pub ws_viewers_per_address: usize,
    /// Collaborator WebSocket clients (a share per address: the viewers').
    pub ws_collaborators: usize,
}

impl Caps {
    /// An eighth of each limit (at least a few) is kept for owners; an address may
    /// use a quarter of what the rest may.
    pub fn new(max_connections: usize, max_clients: usize) -> Caps {
        let total = max_connections.max(1);
        let reserve = (total / 8).max(4).min(total - 1);
        let others = total - reserve;
        let ws_total = max_clients.max(1);
        let ws_reserve = (ws_total / 8).max(2).min(ws_total - 1);
        let ws_viewers = ws_total - ws_reserve;
        Caps {
            total,
            others,
            per_address: (others / 4).max(16).min(others),
            ws_total,
            ws_viewers,
            ws_viewers_per_address: (ws_viewers / 4).max(4).min(ws_viewers),
            ws_collaborators: ws_viewers,
        }
    }

    /// `--max-clients viewer=N,collaborator=N`: a role's WebSockets capped lower
    /// (never above what the owners' reserve leaves).
    pub fn per_role(mut self, viewers: Option<usize>, collaborators: Option<usize>) -> Caps {
        if let Some(v) = viewers {
            self.ws_viewers = v.min(self.ws_viewers);
            self.ws_viewers_per_address = self.ws_viewers_per_address.min(self.ws_viewers);
        }
        if let Some(c) = collaborators {
            self.ws_collaborators = c.min(self.ws_collaborators);
        }
        self
    }
}

/// Why a connection, a role or a WebSocket was refused (answered 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No room, and no waiting connection old enough to cut.
    Full,
    /// Viewer connections are at their cap (all or this address's).
    Viewers,
    /// WebSocket slots are at their cap for this role or address.
    WebSockets,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::Full => "too many connections are open; try again later",
            Refused::Viewers => "too many viewers are connected; try again later",
            Refused::WebSockets => "too many clients are connected; try again later",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Anonymous,
    Viewer,
    Collaborator,
    Owner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a request head (or the TLS handshake): may be cut if anonymous.
    Waiting,
    /// A request is being answered.
    Busy,
    /// An open WebSocket.
    WebSocket,
}

struct Entry {
    ip: IpAddr,
    class: Class,
    state: State,
    /// When it began waiting for its current head (not renewed by trickled bytes).
    since: Instant,
    /// A second handle on the socket, to shut it down from another thread. Only
    /// anonymous connections keep one (they are the ones that may be cut).
    cut: Option<TcpStream>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    conns: HashMap<u64, Entry>,
}

impl Inner {
    fn count(&self, class: Class, ip: Option<IpAddr>) -> usize {
        self.conns
            .values()
            .filter(|e| e.class == class && ip.is_none_or(|ip| e.ip == ip))
            .count()
    }

    fn ws_count(&self, class: Option<Class>, ip: Option<IpAddr>) -> usize {
        self.conns
            .values()
            .filter(|e| {
                e.state == State::WebSocket
                    && class.is_none_or(|c| e.class == c)
                    && ip.is_none_or(|ip| e.ip == ip)
            })
            .count()
    }

    /// Cuts the anonymous connection (from `ip`, if given) that has waited longest,
    /// if one has waited [`GRACE`]; never `spare`. Returns whether one was cut.
    fn cut_oldest(&mut self, ip: Option<IpAddr>, spare: u64, now: Instant) -> bool {
        let victim = self
            .conns
            .iter()
            .filter(|(id, e)| {
                **id != spare
                    && e.class == Class::Anonymous
                    && e.state == State::Waiting
                    && e.cut.is_some()
                    && now.duration_since(e.since) >= GRACE
                    && ip.is_none_or(|ip| e.ip == ip)
            })
            .min_by_key(|(_, e)| e.since)
            .map(|(id, _)| *id);
        let Some(id) = victim else {
            return false;
        };
        if let Some(entry) = self.conns.remove(&id)
            && let Some(sock) = entry.cut
        {
            log::info!(
                "http {}: cut a connection that sent no request in {:?} (room was needed)",
                entry.ip,
                now.duration_since(entry.since)
            );
            // Its thread's read returns at once and it ends; the slot is free now.
            let _ = sock.shutdown(Shutdown::Both);
        }
        true
    }
}

/// The admission state shared by the accept loop and every connection thread.
pub struct Admission {
    caps: Caps,
    inner: Mutex<Inner>,
}

impl Admission {
    pub fn new(caps: Caps) -> Arc<Admission> {
        Arc::new(Admission {
            caps,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map stays consistent across a panic elsewhere: nothing panics while
        // holding the lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a new connection from `ip`, as not logged in; `cut` is a second
    /// handle on its socket (see [`Entry::cut`]).
    pub fn admit(self: &Arc<Self>, ip: IpAddr, cut: Option<TcpStream>) -> Result<Ticket, Refused> {
        let now = Instant::now();
        let mut inner = self.lock();
        let id = inner.next;
        inner.next += 1;
        inner.conns.insert(
            id,
            Entry {
                ip,
                class: Class::Anonymous,
                state: State::Waiting,
                since: now,
                cut,
            },
        );
        let caps = self.caps;
        // This address first: its own oldest make room (or, when all are young,
        // it may briefly hold more, bounded by the cap on all of them below).
        if inner.count(Class::Anonymous, Some(ip)) > caps.per_address {
            inner.cut_oldest(Some(ip), id, now);
        }
        let over = |inner: &Inner| {
            inner.count(Class::Anonymous, None) > caps.others || inner.conns.len() > caps.total
        };
        while over(&inner) {
            if !inner.cut_oldest(None, id, now) {
                inner.conns.remove(&id);
                return Err(Refused::Full);
            }
        }
        Ok(Ticket {
            admission: self.clone(),
            id,
        })
    }

    /// Open connections (all classes).
    #[cfg(test)]
    fn open(&self) -> usize {
        self.lock().conns.len()
    }
}

/// One admitted connection; dropping it frees its slots.
pub struct Ticket {
    admission: Arc<Admission>,
    id: u64,
}

impl Ticket {
    fn update(&self, f: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.admission.lock().conns.get_mut(&self.id) {
            f(entry);
        }
    }

    /// Waiting for the next request head.
    pub fn waiting(&self) {
        self.update(|e| {
            e.state = State::Waiting;
            e.since = Instant::now();
        });
    }

    /// A request head arrived and is being answered.
    pub fn busy(&self) {
        self.update(|e| e.state = State::Busy);
    }

    /// Whether this connection was cut to make room (its socket is shut down).
    pub fn was_cut(&self) -> bool {
        !self.admission.lock().conns.contains_key(&self.id)
    }

    /// A request proved `role`: the connection moves to that class (never down).
    /// A viewer beyond the viewers' caps is refused.
    pub fn identified(&self, role: Role) -> Result<(), Refused> {
        let caps = self.admission.caps;
        let mut inner = self.admission.lock();
        let Some(entry) = inner.conns.get(&self.id) else {
            return Err(Refused::Full);
        };
        let (ip, class) = (entry.ip, entry.class);
        let new = match (class, role) {
            (Class::Owner, _) | (_, Role::Owner) => Class::Owner,
            (Class::Viewer, Role::Viewer)
            | (Class::Collaborator, Role::Viewer | Role::Collaborator) => return Ok(()),
            (Class::Anonymous | Class::Viewer, role) => {
                let class = match role {
                    Role::Collaborator => Class::Collaborator,
                    _ => Class::Viewer,
                };
                if inner.count(class, None) >= caps.others
                    || inner.count(class, Some(ip)) >= caps.per_address
                {
                    return Err(Refused::Viewers);
                }
                class
            }
        };
        if let Some(entry) = inner.conns.get_mut(&self.id) {
            entry.class = new;
            // Logged-in connections are never cut: give the descriptor back.
            entry.cut = None;
        }
        Ok(())
    }

    /// Takes a WebSocket slot for `role` (after [`Ticket::identified`]).
    pub fn open_websocket(&self, role: Role) -> Result<(), Refused> {
        let caps = self.admission.caps;
        let mut inner = self.admission.lock();
        let Some(ip) = inner.conns.get(&self.id).map(|e| e.ip) else {
            return Err(Refused::Full);
        };
        let (class, cap) = match role {
            Role::Owner => (Class::Owner, caps.ws_total),
            Role::Viewer => (Class::Viewer, caps.ws_viewers),
            Role::Collaborator => (Class::Collaborator, caps.ws_collaborators),
        };
        let full = inner.ws_count(None, None) >= caps.ws_total
            || (role != Role::Owner
                && (inner.ws_count(Some(class), None) >= cap
                    || inner.ws_count(Some(class), Some(ip)) >= caps.ws_viewers_per_address));
        if full {
            return Err(Refused::WebSockets);
        }
        if let Some(entry) = inner.conns.get_mut(&self.id) {
            entry.state = State::WebSocket;
        }
        Ok(())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.lock().conns.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    /// A connected socket pair's server side, to be cut; the client side with it.
    fn socket(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (server, client)
    }

    /// Makes every waiting connection old enough to cut.
    fn age(a: &Admission) {
        for e in a.lock().conns.values_mut() {
            e.since -= GRACE;
        }
    }

    #[test]
    fn caps_keep_a_reserve_for_owners() {
        let c = Caps::new(1200, 1000);
        assert_eq!((c.total, c.others, c.per_address), (1200, 1050, 262));
        assert_eq!(
            (c.ws_total, c.ws_viewers, c.ws_viewers_per_address),
            (1000, 875, 218)
        );
        let small = Caps::new(2, 1);
        assert_eq!((small.others, small.ws_viewers), (1, 1));
    }

    #[test]
    fn the_longest_waiting_anonymous_connection_is_cut_for_a_newcomer() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = Admission::new(Caps::new(20, 10));
        let others = a.caps.others;
        let mut held = Vec::new();
        for _ in 0..others {
            let (server, client) = socket(&l);
            let t = a.admit(ip(2), Some(server.try_clone().unwrap())).unwrap();
            held.push((t, server, client));
        }
        // All young: the next one is refused rather than cutting anyone.
        assert_eq!(a.admit(ip(1), None).err(), Some(Refused::Full));
        age(&a);
        let newcomer = a.admit(ip(1), None).expect("room is made");
        assert!(held[0].0.was_cut());
        assert!(held[1..].iter().all(|(t, _, _)| !t.was_cut()));
        // The cut connection's socket is shut down: its reader sees the end.
        let mut buf = [0u8; 1];
        use std::io::Read;
        assert_eq!((&held[0].1).read(&mut buf).unwrap(), 0);
        // Logged-in connections are never cut.
        for (t, _, _) in &held[1..] {
            t.identified(Role::Owner).unwrap();
        }
        age(&a);
        assert!(a.admit(ip(3), None).is_ok());
        assert!(held[1..].iter().all(|(t, _, _)| !t.was_cut()));
        drop(newcomer);
        assert_eq!(a.open(), others - 1);
    }

    #[test]
    fn one_address_cuts_its_own_oldest_first() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = Admission::new(Caps::new(400, 10));
        let per = a.caps.per_address;
        let mut held = Vec::new();
        let (server, client) = socket(&l);
        let other = a.admit(ip(9), Some(server)).unwrap();
        for _ in 0..per {
            let (server, client) = socket(&l);
            held.push((a.admit(ip(2), Some(server)).unwrap(), client));
        }
        age(&a);
        let _next = a.admit(ip(2), None).unwrap();
        assert!(held[0].0.was_cut());
        assert!(!other.was_cut(), "another address's connection was cut");
        drop(client);
    }

    #[test]
    fn viewers_cannot_take_the_owners_websocket_reserve() {
        let a = Admission::new(Caps::new(100, 8));
        let mut viewers = Vec::new();
        let mut refused = None;
        for i in 0..8 {
            let t = a.admit(ip(10 + i), None).unwrap();
            t.identified(Role::Viewer).unwrap();
            match t.open_websocket(Role::Viewer) {
                Ok(()) => viewers.push(t),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        assert_eq!(viewers.len(), a.caps.ws_viewers);
        assert_eq!(refused, Some(Refused::WebSockets));
        let owner = a.admit(ip(1), None).unwrap();
        owner.identified(Role::Owner).unwrap();
        assert_eq!(owner.open_websocket(Role::Owner), Ok(()));
        // Per address, too.
        let b = Admission::new(Caps::new(100, 100));
        let per = b.caps.ws_viewers_per_address;
        let tickets: Vec<_> = (0..=per).map(|_| b.admit(ip(5), None).unwrap()).collect();
        let opened = tickets
            .iter()
            .filter(|t| {
                t.identified(Role::Viewer).is_ok() && t.open_websocket(Role::Viewer).is_ok()
            })
            .count();
        assert_eq!(opened, per);
    }
}
