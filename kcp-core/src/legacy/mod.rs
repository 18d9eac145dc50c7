//! The legacy (kcp-go / kcptun compatible) mode's endpoint, sans-IO: many sessions behind one
//! socket address, with kcp-go's listener and dialer semantics.
//!
//! A [`LegacyEndpoint`] has the verbs and the types of the sealed mode's
//! [`Endpoint`](crate::Endpoint), so one driver runs either: [`LegacyEndpoint::handle_datagram`]
//! takes what the socket received with its source address (it never replies in place),
//! [`LegacyEndpoint::poll_transmit`] hands out datagrams with their destinations,
//! [`LegacyEndpoint::poll_timeout`] / [`LegacyEndpoint::handle_timeout`] run one timer heap over
//! all sessions, and [`LegacyEndpoint::poll_event`] reports sessions connected, accepted,
//! readable and closed. Every session is a [`Session`] with the configured ARQ, FEC and legacy
//! protection, so it speaks kcp-go 5.6.1's framing byte for byte. Time is the caller's
//! millisecond clock (`u32`, wrapping).
//!
//! kcp-go has no handshake, no close message and no keepalive: a session starts with its first
//! datagram and ends when one side forgets it. So:
//!
//! * **Server** (`accept`). Sessions are found by the peer's **address**, as kcp-go's listener
//!   does. The conv is read from each datagram after the protection header (and after the FEC
//!   header of an FEC data packet; a parity packet carries none):
//!   * from a known address, the same conv (or none readable) goes to its session;
//!   * a *different* conv whose first segment has sn 0 is a client that restarted: the old
//!     session ends ([`CloseReason::Replaced`]) and a new one is accepted — but only once the
//!     new session has taken the datagram, so garbage cannot end a session; with sn != 0 the
//!     datagram is dropped ([`DropReason::Unexpected`]);
//!   * from an unknown address, a datagram with a readable conv starts a session
//!     ([`Event::Accepted`]) within [`LegacyConfig::session_limit`]. Like kcp-go, any sn will
//!     do (a client whose first datagrams were lost still gets in). Unlike kcp-go, the session
//!     is kept only if it takes that first datagram: the segments must decode and carry the
//!     conv before anything is allocated, so datagrams that fail the checksum, are malformed
//!     or are parity leave nothing behind.
//!
//!   A peer whose address changes (NAT rebinding) therefore starts a new session there, and the
//!   old one ends by idle timeout: kcp-go behaves the same way.
//! * **Client** ([`LegacyEndpoint::connect`]). A random nonzero conv and
//!   [`Event::Connected`] at once: there is nothing to wait for. Datagrams always go to the
//!   dialled address. Datagrams are taken from the dialled address and, until the session has
//!   taken its first datagram, also from any other address if they carry the session's conv and
//!   the session takes them. The first address whose datagram the session takes is where it
//!   listens from then on; datagrams from anywhere else are dropped
//!   ([`DropReason::UnknownSource`]). kcp-go's dialer locks onto the source of the first
//!   datagram it receives, whatever it holds, which lets one stray datagram lock a client out;
//!   here it takes a datagram that passes the checksum and names the conv, so a server that
//!   answers from another address than the one dialled (a multi-homed host) still works, and a
//!   stranger without the key and the conv cannot lock anything. Two sessions to one server
//!   cannot coexist on one socket (its listener would let the second replace the first), so
//!   connecting to an address a session already listens to replaces that session
//!   ([`CloseReason::Replaced`]); use one endpoint per connection for kcptun's `-conn`.
//! * **Liveness.** A session that has taken no datagram for [`LegacyConfig::idle_timeout`] is
//!   closed ([`CloseReason::IdleTimeout`]), as is one whose ARQ gives up
//!   ([`CloseReason::DeadPeer`]). No keepalive is ever sent: nothing in kcp-go's protocol would
//!   answer one (kcptun's liveness lives in smux), so keep the idle timeout above the
//!   application's own keepalive interval.
//! * **Close.** [`LegacyEndpoint::close`] forgets the session at once and tells no one: there is
//!   no close message in kcp-go's protocol. The peer finds out by its own timeouts (or, for a
//!   kcptun client, by its smux keepalive).
//!
//! The legacy protection is **not authenticated** (see [`crate::crypto`]): anyone who holds the
//! key, or sees traffic protected with cipher `none`, can start sessions from any address and
//! inject into existing ones. [`LegacyConfig::max_sessions`] and [`LegacyConfig::max_memory`]
//! bound what that costs; use the sealed mode unless the peer is kcptun or kcp-go.

mod config;
mod peek;

pub use config::LegacyConfig;

use crate::crypto::{self, LegacyCrypto};
use crate::endpoint::id_map::IdMap;
use crate::endpoint::timers::{Clock, Scheduled, Timers};
use crate::endpoint::{
    CallError, CloseReason, ConnectError, DropReason, EndpointStats, Event, Incoming, SessionId,
    Transmit,
};
use crate::sealed::rng::SeededRng;
use crate::session::{DatagramError, Protection, Session, SessionError};
use core::ops::Range;
use peek::{peek, plausible, Peek};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// One session on the endpoint.
struct Conn {
    session: Session,
    /// Where its datagrams go: the client's address, or the dialled server.
    remote: SocketAddr,
    /// Where its datagrams come from (its key in `by_addr`). A client's starts as the dialled
    /// address and may move once, to the first address it hears from.
    source: SocketAddr,
    /// Made by `connect` (a client), rather than accepted.
    dialled: bool,
    /// A client that has not yet taken a datagram: it may still hear from another address.
    unlocked: bool,
    /// When the session last took a datagram (extended clock).
    last_recv: u64,
    /// The deadline in the timer heap that counts.
    timer_at: Option<u64>,
    /// Whether the session is in the queue of sessions that may have datagrams.
    dirty: bool,
    /// Whether [`Event::Readable`] was given since the data was last drained.
    readable_told: bool,
}

impl Scheduled for Conn {
    fn timer_at(&self) -> Option<u64> {
        self.timer_at
    }

    fn set_timer_at(&mut self, at: Option<u64>) {
        self.timer_at = at;
    }
}

impl Conn {
    /// When the session next needs [`LegacyEndpoint::handle_timeout`], if ever.
    fn deadline(&self, clock: Clock, idle_timeout: u32) -> Option<u64> {
        let idle = (idle_timeout > 0).then(|| self.last_recv + u64::from(idle_timeout));
        let arq = self.session.poll_timeout().map(|t| clock.extended_time(t));
        match (idle, arq) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Many kcp-go compatible sessions behind one socket. See the [module documentation](self).
pub struct LegacyEndpoint {
    config: LegacyConfig,
    session_limit: usize,
    /// The protection's key, expanded once, to open strangers' datagrams before any session
    /// exists for them (`None` without protection).
    opener: Option<LegacyCrypto>,
    rng: SeededRng,
    clock: Clock,
    conns: IdMap<Conn>,
    /// Sessions by the address their datagrams come from.
    by_addr: HashMap<SocketAddr, u32>,
    /// Clients not yet locked onto an address, by conv.
    unlocked: IdMap<u32>,
    timers: Timers,
    dirty: VecDeque<u32>,
    events: VecDeque<Event>,
    stats: EndpointStats,
    /// Scratch list of sessions whose deadline passed, kept to avoid allocating per call.
    due: Vec<u32>,
}

impl core::fmt::Debug for LegacyEndpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LegacyEndpoint")
            .field("sessions", &self.conns.len())
            .field("accept", &self.config.accept)
            .finish_non_exhaustive()
    }
}

impl LegacyEndpoint {
    /// An endpoint at time `now`. `seed` must be 32 bytes from the operating system's random
    /// source: convs and each session's nonces come from it. Fails if the session
    /// configuration is unusable.
    pub fn new(
        config: LegacyConfig,
        seed: [u8; 32],
        now: u32,
    ) -> Result<LegacyEndpoint, SessionError> {
        Session::new(0, &config.session, 0)?;
        let opener = match &config.session.protection {
            Protection::None => None,
            // The nonce source is never used: this one only opens.
            Protection::Legacy { cipher, key } => Some(LegacyCrypto::new(*cipher, key, 0)),
        };
        Ok(LegacyEndpoint {
            session_limit: config.session_limit(),
            config,
            opener,
            rng: SeededRng::new(seed),
            clock: Clock::new(now),
            conns: IdMap::default(),
            by_addr: HashMap::new(),
            unlocked: IdMap::default(),
            timers: Timers::default(),
            dirty: VecDeque::new(),
            events: VecDeque::new(),
            stats: EndpointStats::default(),
            due: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LegacyConfig {
        &self.config
    }

    /// Starts a session with a server at `remote` under a fresh random conv.
    /// [`Event::Connected`] follows at once: kcp-go has no handshake, and the server hears of
    /// the session with its first datagram (when the application first sends). A session that
    /// already listens to `remote` is replaced ([`CloseReason::Replaced`]): the server could
    /// not tell the two apart. A session the server never answers ends by the idle timeout
    /// (or as a dead peer once it has sent data), as there is nothing else to wait for.
    pub fn connect(&mut self, now: u32, remote: SocketAddr) -> Result<SessionId, ConnectError> {
        let now = self.clock.advance(now);
        let replacing = self.by_addr.get(&remote).copied();
        if self.conns.len() - usize::from(replacing.is_some()) >= self.session_limit {
            return Err(ConnectError::SessionLimit);
        }
        let conv = loop {
            let conv = self.rng.next_u32();
            if conv != 0 && !self.unlocked.contains_key(&conv) {
                break conv;
            }
        };
        let id = self.fresh_id();
        let nonce_seed = self.nonce_seed();
        // `new` built a session from this configuration already, so this cannot fail.
        let session = Session::new(conv, &self.config.session, nonce_seed)
            .map_err(|_| ConnectError::SessionLimit)?;
        if let Some(old) = replacing {
            self.remove(old, Some(CloseReason::Replaced));
        }
        self.insert(
            id,
            Conn {
                session,
                remote,
                source: remote,
                dialled: true,
                unlocked: true,
                last_recv: now,
                timer_at: None,
                dirty: false,
                readable_told: false,
            },
        );
        self.unlocked.insert(conv, id);
        self.stats.connected += 1;
        self.events.push_back(Event::Connected(SessionId(id)));
        Ok(SessionId(id))
    }

    fn fresh_id(&mut self) -> u32 {
        loop {
            let id = self.rng.next_u32();
            if id != 0 && !self.conns.contains_key(&id) {
                return id;
            }
        }
    }

    fn nonce_seed(&mut self) -> u64 {
        let mut seed = [0; 8];
        self.rng.fill(&mut seed);
        u64::from_le_bytes(seed)
    }

    fn insert(&mut self, id: u32, conn: Conn) {
        self.by_addr.insert(conn.source, id);
        self.conns.insert(id, conn);
        self.touch(id);
    }

    /// Takes a session out, with its address and conv entries, reporting `reason` if given.
    fn remove(&mut self, id: u32, reason: Option<CloseReason>) -> Option<Conn> {
        let conn = self.conns.remove(&id)?;
        if self.by_addr.get(&conn.source) == Some(&id) {
            self.by_addr.remove(&conn.source);
        }
        let conv = conn.session.conv();
        if conn.unlocked && self.unlocked.get(&conv) == Some(&id) {
            self.unlocked.remove(&conv);
        }
        if let Some(reason) = reason {
            self.stats.closed += 1;
            self.events.push_back(Event::Closed(SessionId(id), reason));
        }
        Some(conn)
    }

    /// Marks a session as having something to send and its deadline as moved.
    fn touch(&mut self, id: u32) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push_back(id);
        }
        self.reschedule(id);
    }

    fn reschedule(&mut self, id: u32) {
        let Some(conn) = self.conns.get(&id) else {
            return;
        };
        let at = conn.deadline(self.clock, self.config.idle_timeout);
        self.timers.schedule(&mut self.conns, id, at);
    }

    /// After a session was handed a datagram: tells the application if data became readable,
    /// and queues the session (acknowledgements are due, its deadline moved).
    fn after_input(&mut self, id: u32) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if !conn.readable_told && conn.session.peek_size().is_some() {
            conn.readable_told = true;
            self.events.push_back(Event::Readable(SessionId(id)));
        }
        self.touch(id);
    }

    /// Takes a datagram from `from`. The buffer is changed: it is deciphered in place. Never
    /// [`Incoming::Reply`]: kcp-go's protocol has nothing to answer at this level.
    ///
    /// A dropped datagram says why, and is counted in [`LegacyEndpoint::stats`]:
    /// [`DropReason::Rejected`] when the session (or, for a stranger's datagram, the checksum
    /// or the segment check before any session exists) refused it; [`DropReason::Unexpected`]
    /// for another conv without sn 0 on a known address, or parity from a stranger;
    /// [`DropReason::Malformed`] when less than a segment header is left after the
    /// protection; [`DropReason::Limit`] for a stranger beyond the limits; and
    /// [`DropReason::UnknownSource`] for anything from an address no session listens to on an
    /// endpoint that does not accept.
    pub fn handle_datagram(&mut self, now: u32, from: SocketAddr, datagram: &mut [u8]) -> Incoming {
        self.clock.advance(now);
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        let result = match self.by_addr.get(&from) {
            Some(&id) => self.handle_known(now, id, datagram),
            None => self.handle_stranger(now, from, datagram),
        };
        match result {
            Ok(()) => Incoming::Consumed,
            Err(reason) => {
                self.stats.count_drop(reason);
                Incoming::Dropped(reason)
            }
        }
    }

    /// A datagram from the address session `id` listens to.
    fn handle_known(&mut self, now32: u32, id: u32, datagram: &mut [u8]) -> Result<(), DropReason> {
        let accept = self.config.accept;
        let Some(conn) = self.conns.get_mut(&id) else {
            return Err(DropReason::UnknownSource);
        };
        // The session's own opener, so that its counters see checksum failures.
        let plain = conn
            .session
            .open_in_place(datagram)
            .map_err(DropReason::Rejected)?;
        let wire_len = datagram.len();
        match peek(&self.config.session.fec, &datagram[plain.clone()]) {
            Peek::Short => return Err(DropReason::Malformed),
            Peek::Conv { conv, sn, segments } if conv != conn.session.conv() => {
                // kcp-go's listener: a new conv starting at sn 0 is the same client restarted.
                // A client session has no such rule: its server never changes conv.
                if conn.dialled || sn != 0 || !accept {
                    return Err(DropReason::Unexpected);
                }
                plausible(segments, conv).map_err(DropReason::Rejected)?;
                let source = conn.source;
                return self.admit(now32, source, conv, wire_len, &datagram[plain], Some(id));
            }
            _ => {}
        }
        let taken = conn
            .session
            .handle_opened(now32, wire_len, &datagram[plain]);
        if taken.is_ok() {
            conn.last_recv = self.clock.now();
            if conn.unlocked {
                // Heard from the dialled address first: locked onto it.
                conn.unlocked = false;
                self.unlocked.remove(&conn.session.conv());
            }
        }
        // Even a refused datagram may have moved the FEC decoder (and rebuilt data with it).
        self.after_input(id);
        taken.map_err(DropReason::Rejected)
    }

    /// A datagram from an address no session listens to.
    fn handle_stranger(
        &mut self,
        now32: u32,
        from: SocketAddr,
        datagram: &mut [u8],
    ) -> Result<(), DropReason> {
        let accept = self.config.accept;
        if !accept && self.unlocked.is_empty() {
            // Nobody could take it: not even worth deciphering.
            return Err(DropReason::UnknownSource);
        }
        let plain = match self.open(datagram) {
            // A client cannot tell whose it was: from where it listens, it is a stranger's.
            Err(_) if !accept => return Err(DropReason::UnknownSource),
            opened => opened?,
        };
        let wire_len = datagram.len();
        let plain = &datagram[plain];
        let (conv, segments) = match peek(&self.config.session.fec, plain) {
            Peek::Conv { conv, segments, .. } => (conv, segments),
            _ if !accept => return Err(DropReason::UnknownSource),
            Peek::Short => return Err(DropReason::Malformed),
            // Parity for no session: nothing to rebuild it with.
            Peek::Opaque => return Err(DropReason::Unexpected),
        };
        if let Some(&id) = self.unlocked.get(&conv) {
            return self.lock(now32, id, from, wire_len, plain);
        }
        if !accept {
            return Err(DropReason::UnknownSource);
        }
        plausible(segments, conv).map_err(DropReason::Rejected)?;
        if self.conns.len() >= self.session_limit {
            return Err(DropReason::Limit);
        }
        self.admit(now32, from, conv, wire_len, plain, None)
    }

    /// A client's first datagram, from another address than the one it dialled.
    fn lock(
        &mut self,
        now32: u32,
        id: u32,
        from: SocketAddr,
        wire_len: usize,
        plain: &[u8],
    ) -> Result<(), DropReason> {
        let now = self.clock.now();
        let Some(conn) = self.conns.get_mut(&id) else {
            return Err(DropReason::UnknownSource);
        };
        let taken = conn.session.handle_opened(now32, wire_len, plain);
        if taken.is_ok() {
            conn.last_recv = now;
            conn.unlocked = false;
            let (old, conv) = (conn.source, conn.session.conv());
            conn.source = from;
            self.unlocked.remove(&conv);
            if self.by_addr.get(&old) == Some(&id) {
                self.by_addr.remove(&old);
            }
            self.by_addr.insert(from, id);
        }
        self.after_input(id);
        taken.map_err(DropReason::Rejected)
    }

    /// Starts a session for `from` with the datagram whose plaintext is `plain`, replacing
    /// session `replacing` if given; nothing is kept (and nothing replaced) unless the new
    /// session takes the datagram.
    fn admit(
        &mut self,
        now32: u32,
        from: SocketAddr,
        conv: u32,
        wire_len: usize,
        plain: &[u8],
        replacing: Option<u32>,
    ) -> Result<(), DropReason> {
        let nonce_seed = self.nonce_seed();
        // `new` built a session from this configuration already, so this cannot fail.
        let mut session =
            Session::new(conv, &self.config.session, nonce_seed).map_err(|_| DropReason::Limit)?;
        session
            .handle_opened(now32, wire_len, plain)
            .map_err(DropReason::Rejected)?;
        // Drawn before the old session leaves, so the application never sees its id reused
        // for the session that replaces it.
        let id = self.fresh_id();
        if let Some(old) = replacing {
            self.remove(old, Some(CloseReason::Replaced));
        }
        self.insert(
            id,
            Conn {
                session,
                remote: from,
                source: from,
                dialled: false,
                unlocked: false,
                last_recv: self.clock.now(),
                timer_at: None,
                dirty: false,
                readable_told: false,
            },
        );
        self.stats.accepted += 1;
        self.events.push_back(Event::Accepted(SessionId(id)));
        self.after_input(id);
        Ok(())
    }

    /// Opens a stranger's datagram with the endpoint's copy of the key; returns where the
    /// plaintext is.
    fn open(&self, datagram: &mut [u8]) -> Result<Range<usize>, DropReason> {
        let Some(opener) = &self.opener else {
            return Ok(0..datagram.len());
        };
        match opener.open(datagram) {
            Ok(_) => Ok(crypto::HEADER_LEN..datagram.len()),
            Err(crypto::OpenError::Short) => Err(DropReason::Rejected(DatagramError::Short)),
            Err(crypto::OpenError::Checksum) => Err(DropReason::Rejected(DatagramError::Checksum)),
        }
    }

    /// Writes the next datagram to send into `buf` (at least the configured MTU) and says
    /// where it goes. Call until it returns `None` after anything that may have produced
    /// datagrams (a datagram handled, a timeout, a send, a read).
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than the MTU.
    pub fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<Transmit> {
        assert!(
            buf.len() >= self.config.session.arq.mtu as usize,
            "poll_transmit needs an MTU-sized buffer"
        );
        self.clock.advance(now);
        let wire_now = self.clock.wire_time(self.clock.now());
        while let Some(&id) = self.dirty.front() {
            let Some(conn) = self.conns.get_mut(&id) else {
                self.dirty.pop_front();
                continue;
            };
            match conn.session.poll_transmit(wire_now, buf) {
                Some(len) => {
                    self.stats.datagrams_out += 1;
                    self.stats.bytes_out += len as u64;
                    return Some(Transmit {
                        destination: conn.remote,
                        len,
                    });
                }
                None => {
                    conn.dirty = false;
                    self.dirty.pop_front();
                    self.reschedule(id);
                }
            }
        }
        None
    }

    /// When [`LegacyEndpoint::handle_timeout`] is next due, on the caller's clock; `None`
    /// when no session has anything pending and no idle timeout runs.
    pub fn poll_timeout(&mut self) -> Option<u32> {
        let at = self.timers.next(&self.conns)?;
        Some(self.clock.wire_time(at))
    }

    /// Runs what is due at `now`: ARQ retransmissions and acknowledgements, idle timeouts,
    /// dead peers. Each due session runs once.
    pub fn handle_timeout(&mut self, now: u32) {
        let now_ext = self.clock.advance(now);
        let mut due = std::mem::take(&mut self.due);
        self.timers.take_due(&mut self.conns, now_ext, &mut due);
        for &id in &due {
            self.run_timers(id, now);
        }
        due.clear();
        self.due = due;
    }

    fn run_timers(&mut self, id: u32, now32: u32) {
        let now = self.clock.now();
        let idle_timeout = u64::from(self.config.idle_timeout);
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.session.handle_timeout(now32);
        let close = if idle_timeout > 0 && now >= conn.last_recv + idle_timeout {
            Some(CloseReason::IdleTimeout)
        } else if conn.session.is_dead() {
            Some(CloseReason::DeadPeer)
        } else {
            None
        };
        match close {
            Some(reason) => drop(self.remove(id, Some(reason))),
            None => self.touch(id),
        }
    }

    /// The next event, if any. [`Event::Migrated`] never comes in legacy mode.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn conn(&mut self, id: SessionId) -> Result<&mut Conn, CallError> {
        self.conns.get_mut(&id.0).ok_or(CallError::Unknown)
    }

    /// Queues data on a session, as [`Session::send`]. Never [`CallError::NotEstablished`]:
    /// a session can send from the moment it exists.
    pub fn send(&mut self, id: SessionId, data: &[u8]) -> Result<usize, CallError> {
        let n = self.conn(id)?.session.send(data).map_err(CallError::Send)?;
        self.touch(id.0);
        Ok(n)
    }

    /// Takes received data from a session, as [`Session::recv`].
    pub fn recv(&mut self, id: SessionId, buf: &mut [u8]) -> Result<usize, CallError> {
        let conn = self.conn(id)?;
        let n = conn.session.recv(buf).map_err(CallError::Recv)?;
        if conn.session.peek_size().is_none() {
            conn.readable_told = false;
        }
        // Taking data may open the receive window, which the peer should hear about.
        self.touch(id.0);
        Ok(n)
    }

    /// Forgets a session at once and quietly: kcp-go's protocol has no close message, so the
    /// peer is not told (`code` is unused; it is kept so both endpoints have one signature) and
    /// finds out by its own timeouts. No event follows; the id is invalid at once. Data not yet
    /// handed out by [`LegacyEndpoint::poll_transmit`] is dropped, and nothing already sent is
    /// retransmitted: wait for [`Session::wait_send`] to reach zero first for a graceful end.
    pub fn close(&mut self, id: SessionId, code: u32) {
        let _ = code;
        self.remove(id.0, None);
    }

    /// The session's pipeline (ARQ and FEC state, counters).
    pub fn session(&self, id: SessionId) -> Option<&Session> {
        Some(&self.conns.get(&id.0)?.session)
    }

    /// Where the session's datagrams go: the client's address, or the server dialled.
    pub fn remote(&self, id: SessionId) -> Option<SocketAddr> {
        Some(self.conns.get(&id.0)?.remote)
    }

    /// Ids of all sessions (every session is established from the start).
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.conns.keys().map(|&id| SessionId(id))
    }

    /// The endpoint's counters. `handshakes` is always zero; the drops it counts are
    /// `rejected` (checksum, framing, segments), `unknown_source`, `unexpected` (a changed conv
    /// without sn 0, parity for no session), `malformed` (shorter than a segment header) and
    /// `limited`.
    pub fn stats(&self) -> EndpointStats {
        EndpointStats {
            sessions: self.conns.len(),
            handshakes: 0,
            ..self.stats
        }
    }
}

impl crate::sim::net::Node for LegacyEndpoint {
    fn handle_datagram(&mut self, now: u32, from: SocketAddr, datagram: &mut [u8]) -> Incoming {
        LegacyEndpoint::handle_datagram(self, now, from, datagram)
    }

    fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<Transmit> {
        LegacyEndpoint::poll_transmit(self, now, buf)
    }

    fn poll_timeout(&mut self) -> Option<u32> {
        LegacyEndpoint::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: u32) {
        LegacyEndpoint::handle_timeout(self, now);
    }
}
