//! The sealed native mode's endpoint, sans-IO: many sessions behind one socket address.
//!
//! An [`Endpoint`] owns every session of one UDP socket. It is driven like a [`Session`]:
//!
//! * [`Endpoint::handle_datagram`] takes what the socket received, with its source address.
//!   Handshake requests are answered **in place**: the reply is written over the request and
//!   is never longer, so answering cannot amplify a spoofed flood.
//! * [`Endpoint::poll_transmit`] hands out datagrams to send, each with its destination.
//! * [`Endpoint::poll_timeout`] / [`Endpoint::handle_timeout`]: one deadline for the whole
//!   endpoint, from one timer heap over all sessions; an endpoint with idle sessions asks to
//!   be woken only when a keepalive or timeout is due.
//! * [`Endpoint::poll_event`] reports sessions connected, accepted, readable, migrated and
//!   closed.
//!
//! Time is the caller's millisecond clock (`u32`, wrapping), as everywhere in this crate.
//!
//! # Sessions
//!
//! A session is found by the id its receiver chose (the `receiver` field of every sealed
//! datagram), never by address: a peer whose address changes (NAT rebinding, a phone moving
//! networks) keeps its session. See [`crate::sealed::handshake`] for the handshake and
//! [`crate::sealed::packet`] for the datagrams. Inside the sealed datagrams runs the usual
//! pipeline ([`Session`]: ARQ, FEC) with the endpoint's configuration.
//!
//! * **Confirmation.** The server accepts a session ([`Event::Accepted`]) when the client's
//!   first sealed datagram arrives, which proves the client finished the handshake. The
//!   client pings until the server answers.
//! * **Liveness.** A client session that has sent nothing for [`EndpointConfig::keepalive`]
//!   sends a ping (answered with a pong); the server pings only a client silent for 1.5
//!   keepalive periods, so an idle session costs one ping and one pong per period. One that
//!   has received nothing authenticated for
//!   [`EndpointConfig::idle_timeout`] is closed, as is one whose ARQ gives up.
//! * **Close.** [`Endpoint::close`] sends an authenticated close at once and lingers
//!   ([`EndpointConfig::close_linger`]) to repeat it on a backing-off timer and whenever the
//!   peer's datagrams show it has not heard; the peer learns within one trip unless the close
//!   is lost (at 30 % loss: 25 ms median, 124 ms worst of 1,000 closes, RTT 50 ms). Queued data is
//!   dropped: wait for [`Session::wait_send`] to reach zero first for a graceful close.
//! * **Migration.** An authenticated datagram from a new address that is newer than every
//!   datagram before it starts a path challenge to that address; the session moves only when
//!   the answer comes back from there. A replayed datagram is refused by the replay window,
//!   and a copied fresh one sent from a spoofed address gets a challenge its sender cannot
//!   answer, so neither can redirect the session.
//! * **Restart.** A peer that restarts loses its keys; its datagrams then fail to open (or
//!   name an unknown session) and are dropped, and the session here ends by idle timeout or
//!   dead peer. There is no unauthenticated reset: with one shared key and 32-bit ids it would
//!   let an attacker harvest reset tokens.
//! * **Key limits.** A session closes before its key seals 2^60 datagrams or sees 2^36
//!   forgeries ([`CloseReason::KeyExhausted`]).
//!
//! # Limits
//!
//! [`EndpointConfig::max_sessions`], [`EndpointConfig::max_handshakes`] and
//! [`EndpointConfig::max_memory`] bound what a flood can make the endpoint hold. Before a
//! client's address is validated by the cookie, nothing is kept at all.

mod config;
mod conn;
pub(crate) mod id_map;
pub(crate) mod timers;

pub use config::{
    CallError, CloseReason, ConnectError, DropReason, EndpointConfig, EndpointStats, Event,
    Incoming, SessionId,
};
pub use conn::Transmit;

use crate::sealed::control::Control;
use crate::sealed::handshake::{self, kind, Cookies, Message, COOKIE_PERIOD_MS};
use crate::sealed::packet::{self, Header, OpenError};
use crate::sealed::rng::SeededRng;
use crate::session::SessionError;
use crate::Session;
use conn::{Conn, Connecting, Live, Output, Probe, Retry, State, CHALLENGE_GAP, CLOSE_GAP};
use id_map::IdMap;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use timers::{Clock, Timers};

/// Many sealed sessions behind one socket. See the [module documentation](self).
pub struct Endpoint {
    config: EndpointConfig,
    session_limit: usize,
    rng: SeededRng,
    cookies: Cookies,
    clock: Clock,
    conns: IdMap<Conn>,
    by_ephemeral: HashMap<[u8; 32], u32>,
    timers: Timers,
    dirty: VecDeque<u32>,
    events: VecDeque<Event>,
    handshakes: usize,
    stats: EndpointStats,
    /// Scratch list of sessions whose deadline passed, kept to avoid allocating per call.
    due: Vec<u32>,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("sessions", &self.conns.len())
            .field("handshakes", &self.handshakes)
            .finish_non_exhaustive()
    }
}

fn new_session(config: &EndpointConfig, conv: u32) -> Result<Session, SessionError> {
    Session::with_room(
        conv,
        &config.arq,
        &config.fec,
        packet::HEADER_LEN,
        packet::TAG_LEN,
    )
}

impl Endpoint {
    /// An endpoint at time `now`. `seed` must be 32 bytes from the operating system's random
    /// source (session ids, cookie secrets and handshake keys come from it). Fails if the ARQ
    /// or FEC configuration is unusable (the sealed framing takes
    /// [`packet::OVERHEAD`] bytes of the MTU).
    pub fn new(config: EndpointConfig, seed: [u8; 32], now: u32) -> Result<Endpoint, SessionError> {
        new_session(&config, 0)?;
        let mut rng = SeededRng::new(seed);
        let clock = Clock::new(now);
        let cookies = Cookies::new(rng.seed(), rng.seed(), clock.now());
        Ok(Endpoint {
            session_limit: config.session_limit(),
            config,
            rng,
            cookies,
            clock,
            conns: IdMap::default(),
            by_ephemeral: HashMap::new(),
            timers: Timers::default(),
            dirty: VecDeque::new(),
            events: VecDeque::new(),
            handshakes: 0,
            stats: EndpointStats::default(),
            due: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Starts a connection to a server at `remote`; [`Event::Connected`] or
    /// [`Event::Closed`] follows.
    pub fn connect(&mut self, now: u32, remote: SocketAddr) -> Result<SessionId, ConnectError> {
        let now = self.clock.advance(now);
        if self.conns.len() >= self.session_limit {
            return Err(ConnectError::SessionLimit);
        }
        if self.handshakes >= self.config.max_handshakes {
            return Err(ConnectError::HandshakeLimit);
        }
        let id = self.fresh_id();
        let mut retry = Retry::new(now);
        retry.due(now);
        let connecting = Connecting {
            initiator: handshake::Initiator::new(&self.config.key, id, self.rng.seed()),
            cookie: None,
            started: now,
            retry,
            send_due: true,
            server_answered: false,
        };
        self.insert(id, remote, State::Connecting(Box::new(connecting)), None);
        Ok(SessionId(id))
    }

    fn fresh_id(&mut self) -> u32 {
        loop {
            let mut id = self.rng.next_u32();
            if let Some((index, count)) = self.config.id_shard {
                // Keep the upper bits random and move the low byte into the residue class.
                let count = u32::from(count.max(1));
                let low = id & 0xFF;
                let class_size = (256 - u32::from(index)).div_ceil(count);
                id = (id & !0xFF) | (u32::from(index) + (low % class_size) * count);
            }
            if id != 0 && !self.conns.contains_key(&id) {
                return id;
            }
        }
    }

    fn insert(&mut self, id: u32, remote: SocketAddr, state: State, ephemeral: Option<[u8; 32]>) {
        let conn = Conn {
            remote,
            state,
            timer_at: None,
            dirty: false,
            readable_told: false,
            ephemeral,
        };
        if conn.in_handshake() {
            self.handshakes += 1;
        }
        if let Some(e) = ephemeral {
            self.by_ephemeral.insert(e, id);
        }
        self.conns.insert(id, conn);
        self.touch(id);
    }

    /// Takes a session out (its handshake slot and ephemeral key with it), reporting
    /// `reason` if given.
    fn remove(&mut self, id: u32, reason: Option<CloseReason>) -> Option<Conn> {
        let conn = self.conns.remove(&id)?;
        if conn.in_handshake() {
            self.handshakes -= 1;
        }
        if let Some(e) = conn.ephemeral {
            self.by_ephemeral.remove(&e);
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
        let at = conn.deadline(self.clock, &self.config);
        self.timers.schedule(&mut self.conns, id, Some(at));
    }

    /// Takes a datagram from `from`. The buffer is changed: sealed datagrams are opened in
    /// place, and a handshake reply is written over the request ([`Incoming::Reply`]: send
    /// that many bytes of `datagram` back to `from`).
    pub fn handle_datagram(&mut self, now: u32, from: SocketAddr, datagram: &mut [u8]) -> Incoming {
        self.clock.advance(now);
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        let result = match datagram.first() {
            Some(&(kind::DATA | kind::CONTROL)) => self.handle_sealed(now, from, datagram),
            _ => self.handle_handshake(from, datagram),
        };
        match result {
            Ok(Some(len)) => {
                self.stats.replies += 1;
                self.stats.reply_bytes += len as u64;
                Incoming::Reply(len)
            }
            Ok(None) => Incoming::Consumed,
            Err(reason) => {
                self.stats.count_drop(reason);
                Incoming::Dropped(reason)
            }
        }
    }

    fn rotate_cookies(&mut self) {
        let now = self.clock.now();
        if now >= self.cookies.next_rotation() + COOKIE_PERIOD_MS {
            self.cookies = Cookies::new(self.rng.seed(), self.rng.seed(), now);
        } else if now >= self.cookies.next_rotation() {
            let fresh = self.rng.seed();
            self.cookies.rotate(now, fresh);
        }
    }

    /// Whether this endpoint takes a client's handshake request of `version`; brings the
    /// cookie secrets up to date if so.
    fn admit_request(&mut self, version: u8) -> Result<(), DropReason> {
        if !self.config.accept {
            return Err(DropReason::Unexpected);
        }
        if version != handshake::VERSION {
            return Err(DropReason::Version);
        }
        self.rotate_cookies();
        Ok(())
    }

    fn handle_handshake(
        &mut self,
        from: SocketAddr,
        datagram: &mut [u8],
    ) -> Result<Option<usize>, DropReason> {
        let message = Message::parse(datagram).map_err(|_| DropReason::Malformed)?;
        match message {
            Message::Hello { version, client } => {
                self.admit_request(version)?;
                let cookie = self.cookies.make(&from, client);
                Ok(Some(handshake::write_cookie_reply(
                    client, &cookie, datagram,
                )))
            }
            Message::Initiation {
                version,
                client,
                cookie,
                noise,
            } => {
                self.admit_request(version)?;
                if !self.cookies.check(&from, client, &cookie) {
                    return Err(DropReason::BadCookie);
                }
                let ephemeral =
                    handshake::initiation_ephemeral(noise).ok_or(DropReason::Malformed)?;
                if let Some(&id) = self.by_ephemeral.get(&ephemeral) {
                    // A resent Initiation: resend the Response while it is still needed.
                    return match self.conns.get(&id).map(|c| &c.state) {
                        Some(State::Live(live)) if !live.confirmed => {
                            let response = live.response.ok_or(DropReason::ReplayedInitiation)?;
                            datagram[..response.len()].copy_from_slice(&response);
                            Ok(Some(response.len()))
                        }
                        _ => Err(DropReason::ReplayedInitiation),
                    };
                }
                if self.conns.len() >= self.session_limit
                    || self.handshakes >= self.config.max_handshakes
                {
                    return Err(DropReason::Limit);
                }
                let id = self.fresh_id();
                let seed = self.rng.seed();
                let responded =
                    handshake::respond(&self.config.key, version, client, noise, id, seed)
                        .map_err(|_| DropReason::HandshakeFailed)?;
                let session = new_session(&self.config, id).map_err(|_| DropReason::Limit)?;
                let mut live = Live::new(session, &responded.keys, true, self.clock.now());
                live.response = Some(responded.response);
                self.insert(
                    id,
                    from,
                    State::Live(Box::new(live)),
                    Some(responded.ephemeral),
                );
                let response = &responded.response;
                datagram[..response.len()].copy_from_slice(response);
                Ok(Some(response.len()))
            }
            Message::CookieReply { client, cookie } => {
                let conn = self.conns.get_mut(&client).ok_or(DropReason::Unexpected)?;
                match &mut conn.state {
                    State::Connecting(c) if conn.remote == from => {
                        c.server_answered = true;
                        if c.cookie.is_none() {
                            c.cookie = Some(cookie);
                            c.send_due = true;
                            c.retry = Retry::new(self.clock.now());
                            c.retry.due(self.clock.now());
                        }
                    }
                    _ => return Err(DropReason::Unexpected),
                }
                self.touch(client);
                Ok(None)
            }
            Message::Response { client, noise } => {
                let conn = self.conns.get_mut(&client).ok_or(DropReason::Unexpected)?;
                let State::Connecting(c) = &mut conn.state else {
                    return Err(DropReason::Unexpected);
                };
                if conn.remote != from {
                    return Err(DropReason::Unexpected);
                }
                let keys = c
                    .initiator
                    .finish(noise)
                    .map_err(|_| DropReason::HandshakeFailed)?;
                let session =
                    new_session(&self.config, keys.peer).map_err(|_| DropReason::Limit)?;
                let live = Live::new(session, &keys, false, self.clock.now());
                conn.state = State::Live(Box::new(live));
                self.handshakes -= 1;
                self.stats.connected += 1;
                self.events.push_back(Event::Connected(SessionId(client)));
                self.touch(client);
                Ok(None)
            }
        }
    }

    fn handle_sealed(
        &mut self,
        now32: u32,
        from: SocketAddr,
        datagram: &mut [u8],
    ) -> Result<Option<usize>, DropReason> {
        let header = Header::parse(datagram).ok_or(DropReason::Open(OpenError::Short))?;
        let id = header.receiver;
        let now = self.clock.now();
        let conn = self.conns.get_mut(&id).ok_or(DropReason::UnknownSession)?;
        let remote = conn.remote;
        let live = match &mut conn.state {
            State::Connecting(_) => return Err(DropReason::UnknownSession),
            State::Closing(c) => {
                let (range, _) = c.opener.open(datagram).map_err(DropReason::Open)?;
                let peer_closed = header.kind == kind::CONTROL
                    && matches!(Control::parse(&datagram[range]), Ok(Control::Close(_)));
                if peer_closed {
                    self.remove(id, None);
                } else if c.last_sent.is_none_or(|t| now >= t + CLOSE_GAP) {
                    // The peer is still sending: it has not heard the close yet.
                    c.send_due = true;
                    self.touch(id);
                }
                return Ok(None);
            }
            State::Live(live) => live,
        };
        let newest_before = live.opener.highest();
        let (range, counter) = match live.opener.open(datagram) {
            Ok(opened) => opened,
            Err(OpenError::KeyExhausted) => {
                self.remove(id, Some(CloseReason::KeyExhausted));
                return Err(DropReason::Open(OpenError::KeyExhausted));
            }
            Err(e) => return Err(DropReason::Open(e)),
        };
        live.last_recv = now;
        if !live.confirmed {
            live.confirmed = true;
            live.response = None;
            if live.server {
                self.handshakes -= 1;
                self.stats.accepted += 1;
                self.events.push_back(Event::Accepted(SessionId(id)));
            }
        }
        let newest = newest_before.is_none_or(|h| counter > h);
        if from != remote && newest {
            // One challenge at a time, and not more often than CHALLENGE_GAP: copies of
            // fresh datagrams from many spoofed addresses cannot make us a reflector.
            let due = live
                .probe
                .as_ref()
                .is_none_or(|p| p.sent_at.is_some_and(|t| now >= t + CHALLENGE_GAP));
            if due {
                let mut data = [0; 8];
                self.rng.fill(&mut data);
                live.probe = Some(Probe {
                    addr: from,
                    data,
                    sent_at: None,
                });
                self.stats.challenges += 1;
            }
        }
        let plain = &mut datagram[range];
        let mut closed_by_peer = None;
        if header.kind == kind::DATA {
            // Drops inside the session (FEC framing, ARQ) are counted in its own counters.
            let _ = live.session.handle_datagram(now32, plain);
            if !conn.readable_told && live.session.peek_size().is_some() {
                conn.readable_told = true;
                self.events.push_back(Event::Readable(SessionId(id)));
            }
        } else {
            match Control::parse(plain).map_err(|_| DropReason::BadPlaintext)? {
                Control::Ping => live.pong = true,
                Control::Pong => {}
                Control::Close(code) => closed_by_peer = Some(code),
                Control::PathChallenge(data) => live.path_response = Some((data, from)),
                Control::PathResponse(data) => {
                    if live
                        .probe
                        .as_ref()
                        .is_some_and(|p| p.addr == from && p.data == data)
                    {
                        live.probe = None;
                        conn.remote = from;
                        self.stats.migrations += 1;
                        self.events.push_back(Event::Migrated(SessionId(id), from));
                    }
                }
            }
        }
        match closed_by_peer {
            Some(code) => drop(self.remove(id, Some(CloseReason::Peer(code)))),
            None => self.touch(id),
        }
        Ok(None)
    }

    /// Writes the next datagram to send into `buf` (at least the configured MTU) and says
    /// where it goes. Call until it returns `None` after anything that may have produced
    /// datagrams (a datagram handled, a timeout, a send).
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than the MTU.
    pub fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<Transmit> {
        assert!(
            buf.len() >= self.config.arq.mtu as usize,
            "poll_transmit needs an MTU-sized buffer"
        );
        self.clock.advance(now);
        while let Some(&id) = self.dirty.front() {
            let Some(conn) = self.conns.get_mut(&id) else {
                self.dirty.pop_front();
                continue;
            };
            match conn.transmit(self.clock, buf) {
                Output::Datagram(t) => {
                    self.stats.datagrams_out += 1;
                    self.stats.bytes_out += t.len as u64;
                    return Some(t);
                }
                Output::Idle => {
                    conn.dirty = false;
                    self.dirty.pop_front();
                    self.reschedule(id);
                }
                Output::KeyExhausted => {
                    self.dirty.pop_front();
                    self.remove(id, Some(CloseReason::KeyExhausted));
                }
            }
        }
        None
    }

    /// When [`Endpoint::handle_timeout`] is next due, on the caller's clock; `None` when no
    /// session has anything pending.
    pub fn poll_timeout(&mut self) -> Option<u32> {
        let at = self.timers.next(&self.conns)?;
        Some(self.clock.wire_time(at))
    }

    /// Runs what is due at `now`: handshake retries, ARQ retransmissions, keepalives and
    /// timeouts.
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
        let config = &self.config;
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let close = match &mut conn.state {
            State::Connecting(c) => {
                if now >= c.started + u64::from(config.handshake_timeout) {
                    Some(Some(CloseReason::HandshakeTimeout {
                        server_answered: c.server_answered,
                    }))
                } else {
                    c.send_due |= c.retry.due(now);
                    None
                }
            }
            State::Live(live) => {
                live.session.handle_timeout(now32);
                if live.server
                    && !live.confirmed
                    && now >= live.created + u64::from(config.handshake_timeout)
                {
                    // Never confirmed, never reported: drop it quietly.
                    Some(None)
                } else if now >= live.last_recv + u64::from(config.idle_timeout) {
                    Some(Some(CloseReason::IdleTimeout))
                } else if live.session.is_dead() {
                    Some(Some(CloseReason::DeadPeer))
                } else {
                    if !live.server && !live.confirmed {
                        live.ping |= live.confirm.due(now);
                    }
                    if now >= live.keepalive_at(config) {
                        live.ping = true;
                    }
                    None
                }
            }
            State::Closing(c) => {
                if now >= c.until {
                    Some(None)
                } else {
                    c.send_due |= c.retry.due(now);
                    None
                }
            }
        };
        match close {
            Some(reason) => drop(self.remove(id, reason)),
            None => self.touch(id),
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn live(&mut self, id: SessionId) -> Result<&mut Live, CallError> {
        match self.conns.get_mut(&id.0).map(|c| &mut c.state) {
            Some(State::Live(live)) => Ok(live),
            Some(State::Connecting(_)) => Err(CallError::NotEstablished),
            Some(State::Closing(_)) | None => Err(CallError::Unknown),
        }
    }

    /// Queues data on a session, as [`Session::send`].
    pub fn send(&mut self, id: SessionId, data: &[u8]) -> Result<usize, CallError> {
        let n = self.live(id)?.session.send(data).map_err(CallError::Send)?;
        self.touch(id.0);
        Ok(n)
    }

    /// Takes received data from a session, as [`Session::recv`].
    pub fn recv(&mut self, id: SessionId, buf: &mut [u8]) -> Result<usize, CallError> {
        let live = self.live(id)?;
        let n = live.session.recv(buf).map_err(CallError::Recv)?;
        let drained = live.session.peek_size().is_none();
        if let Some(conn) = self.conns.get_mut(&id.0) {
            conn.readable_told &= !drained;
        }
        // Taking data may open the receive window, which the peer should hear about.
        self.touch(id.0);
        Ok(n)
    }

    /// Closes a session with an application `code` the peer receives. The id is invalid at
    /// once; no event follows. Unsent data is dropped.
    pub fn close(&mut self, id: SessionId, code: u32) {
        let until = self.clock.now() + u64::from(self.config.close_linger);
        let Some(conn) = self.remove(id.0, None) else {
            return;
        };
        if let State::Live(live) = conn.state {
            let closing = live.into_closing(code, self.clock.now(), until);
            self.insert(id.0, conn.remote, State::Closing(Box::new(closing)), None);
        }
    }

    /// The session's pipeline (ARQ and FEC state, counters), once established.
    pub fn session(&self, id: SessionId) -> Option<&Session> {
        match &self.conns.get(&id.0)?.state {
            State::Live(live) => Some(&live.session),
            _ => None,
        }
    }

    /// Where the session's datagrams go.
    pub fn remote(&self, id: SessionId) -> Option<SocketAddr> {
        Some(self.conns.get(&id.0)?.remote)
    }

    /// Ids of the sessions that are established.
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.conns
            .iter()
            .filter(|(_, c)| matches!(c.state, State::Live(_)))
            .map(|(&id, _)| SessionId(id))
    }

    /// The endpoint's counters.
    pub fn stats(&self) -> EndpointStats {
        EndpointStats {
            sessions: self.conns.len(),
            handshakes: self.handshakes,
            ..self.stats
        }
    }
}
