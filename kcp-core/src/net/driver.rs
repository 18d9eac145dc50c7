//! The driver: one socket, one multiplexer, one loop.

use super::batch::{Offloads, RecvBatch, SendBatch};
use super::socket::{self, BufferSizes, SocketConfig};
use super::stats::{Counters, DriverStats, SessionStats};
use crate::endpoint::{self, CallError, CloseReason, Incoming, SessionId, Transmit};
use crate::legacy::{LegacyConfig, LegacyEndpoint};
use crate::{Endpoint, EndpointConfig, RecvError, SendError, Session};
use mio::{Interest, Poll, Token};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Which protocol the driver speaks.
#[derive(Clone, Debug)]
pub enum Mode {
    /// This project's sealed mode: handshake, authenticated datagrams, sessions by id,
    /// migration ([`Endpoint`]).
    Native(EndpointConfig),
    /// kcp-go / kcptun's protocol: sessions by source address, legacy ciphers and FEC framing
    /// ([`LegacyEndpoint`]).
    Legacy(LegacyConfig),
}

/// What a [`Driver`] is built from.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    /// The socket.
    pub socket: SocketConfig,
    /// The protocol and its configuration (whether it accepts sessions, limits, the ARQ).
    pub mode: Mode,
    /// The kernel offloads the driver may use when the kernel has them (all by default; turn
    /// one off to measure it or to work around a broken device).
    pub offloads: Offloads,
    /// Messages per receive call (each up to 64 KiB with GRO, one datagram without).
    pub recv_batch: usize,
    /// Datagrams per send call.
    pub send_batch: usize,
    /// Native mode, several drivers on one port: this driver's place (`index` of `count`,
    /// bound in index order). See the [module documentation](super#sharing-a-port).
    pub shard: Option<(u8, u8)>,
}

impl DriverConfig {
    /// A driver on `bind` in `mode` with the default socket, every offload allowed, 32
    /// messages per receive call and 64 datagrams per send call.
    pub fn new(bind: SocketAddr, mode: Mode) -> DriverConfig {
        DriverConfig {
            socket: SocketConfig::new(bind),
            mode,
            offloads: Offloads::ALL,
            recv_batch: 32,
            send_batch: 64,
            shard: None,
        }
    }
}

/// What happened, for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A session made with [`Driver::connect`] is established.
    Connected(SessionId),
    /// A peer's session is established.
    Accepted(SessionId),
    /// Data is waiting in [`Driver::recv`] (said once until it is drained).
    Readable(SessionId),
    /// A session whose send queue was full has room again.
    Writable(SessionId),
    /// The peer proved it now receives at a new address (native mode).
    Migrated(SessionId, SocketAddr),
    /// The session is gone; its id is no longer valid.
    Closed(SessionId, CloseReason),
}

impl From<endpoint::Event> for Event {
    fn from(event: endpoint::Event) -> Event {
        match event {
            endpoint::Event::Connected(id) => Event::Connected(id),
            endpoint::Event::Accepted(id) => Event::Accepted(id),
            endpoint::Event::Readable(id) => Event::Readable(id),
            endpoint::Event::Migrated(id, to) => Event::Migrated(id, to),
            endpoint::Event::Closed(id, reason) => Event::Closed(id, reason),
        }
    }
}

/// The two multiplexers behind one set of verbs.
enum Mux {
    Native(Box<Endpoint>),
    Legacy(Box<LegacyEndpoint>),
}

macro_rules! on_mux {
    ($mux:expr, $m:ident => $body:expr) => {
        match $mux {
            Mux::Native($m) => $body,
            Mux::Legacy($m) => $body,
        }
    };
}

impl Mux {
    fn mtu(&self) -> usize {
        match self {
            Mux::Native(e) => e.config().arq.mtu as usize,
            Mux::Legacy(e) => e.config().session.arq.mtu as usize,
        }
    }
}

const SOCKET: Token = Token(0);

/// Receive calls per socket wake-up before timers and sends get a turn (a flood must not
/// starve the sessions).
const RECV_ROUNDS: usize = 64;

/// Sessions' recent close reasons, kept for [`Stream`](super::Stream) to tell an orderly end
/// from a failure after the event was consumed.
const RECENT_CLOSES: usize = 256;

/// One UDP socket and its sessions. See the [module documentation](super).
pub struct Driver {
    socket: mio::net::UdpSocket,
    poll: Poll,
    io_events: mio::Events,
    mux: Mux,
    rx: RecvBatch,
    tx: SendBatch,
    epoch: Instant,
    /// Milliseconds since `epoch` at the last clock read (64-bit: no wrap to track here).
    now_ms: u64,
    events: VecDeque<Event>,
    /// Sessions refused with a full send queue, to be told when they have room.
    blocked: Vec<SessionId>,
    recent_closes: VecDeque<(SessionId, CloseReason)>,
    /// The socket's send buffer is full: wait for writability before sending more.
    send_blocked: bool,
    /// The socket was moved onto an application's registry ([`Driver::register`]): the
    /// driver's own `poll` no longer sees it.
    external: bool,
    /// The last wake-up stopped reading before the socket was empty.
    recv_pending: bool,
    buffers: BufferSizes,
    local: SocketAddr,
    counters: Counters,
}

impl core::fmt::Debug for Driver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("local", &self.local)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

fn seed() -> io::Result<[u8; 32]> {
    let mut seed = [0; 32];
    getrandom::fill(&mut seed).map_err(|e| io::Error::other(format!("no OS randomness: {e}")))?;
    Ok(seed)
}

fn invalid(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

/// Maps a per-session failure onto the `io::ErrorKind` a caller's loop can act on. The
/// common outcomes (nothing to read, queue full, no such session) are bare kinds: a game
/// loop meets one at the end of every drain, and a boxed message there was measurable.
fn call_error(e: CallError) -> io::Error {
    match e {
        CallError::Unknown => io::ErrorKind::NotConnected.into(),
        CallError::NotEstablished
        | CallError::Send(SendError::QueueFull)
        | CallError::Recv(RecvError::Empty) => io::ErrorKind::WouldBlock.into(),
        CallError::Send(SendError::MessageTooLarge { .. })
        | CallError::Recv(RecvError::BufferTooSmall { .. }) => {
            io::Error::new(io::ErrorKind::InvalidInput, e)
        }
    }
}

impl Driver {
    /// Opens the socket and the multiplexer. Fails on a socket error or an unusable
    /// configuration (`InvalidInput`).
    pub fn new(config: DriverConfig) -> io::Result<Driver> {
        let (mut socket, buffers) = socket::open(&config.socket)?;
        let local = socket.local_addr()?;
        let mux = match config.mode {
            Mode::Native(mut endpoint) => {
                if let Some((index, count)) = config.shard {
                    if count == 0 || index >= count {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("shard {index} of {count} does not exist"),
                        ));
                    }
                    endpoint.id_shard = Some((index, count));
                    if index == 0 {
                        super::shard::steer_by_session_id(&socket, count)?;
                    }
                }
                Mux::Native(Box::new(
                    Endpoint::new(endpoint, seed()?, 0).map_err(invalid)?,
                ))
            }
            Mode::Legacy(legacy) => Mux::Legacy(Box::new(
                LegacyEndpoint::new(legacy, seed()?, 0).map_err(invalid)?,
            )),
        };
        let offloads = Offloads::detect(&socket, config.offloads);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE | Interest::WRITABLE)?;
        let mtu = mux.mtu();
        Ok(Driver {
            rx: RecvBatch::new(config.recv_batch.max(1), mtu.max(2048), offloads),
            tx: SendBatch::new(config.send_batch.max(1), mtu, offloads),
            socket,
            poll,
            io_events: mio::Events::with_capacity(4),
            mux,
            epoch: Instant::now(),
            now_ms: 0,
            events: VecDeque::new(),
            blocked: Vec::new(),
            recent_closes: VecDeque::new(),
            send_blocked: false,
            external: false,
            recv_pending: false,
            buffers,
            local,
            counters: Counters::default(),
        })
    }

    /// The socket's local address (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The driver's clock in wrapping milliseconds, as the sans-IO layers see it.
    fn now(&mut self) -> u32 {
        self.now_ms = self.epoch.elapsed().as_millis() as u64;
        self.now_ms as u32
    }

    /// Starts a session with the server at `remote`: [`Event::Connected`] follows when it is
    /// established (at once in legacy mode, which has no handshake), or [`Event::Closed`]
    /// with the reason it failed.
    pub fn connect(&mut self, remote: SocketAddr) -> io::Result<SessionId> {
        let now = self.now();
        let id = on_mux!(&mut self.mux, m => m.connect(now, remote))
            .map_err(|e| io::Error::new(io::ErrorKind::ConnectionRefused, e))?;
        self.collect_events();
        Ok(id)
    }

    /// Queues data on a session. Nothing is sent until the next [`Driver::poll`] or
    /// [`Driver::flush`]. A full send queue is `WouldBlock`, and [`Event::Writable`] follows
    /// when there is room.
    pub fn send(&mut self, id: SessionId, data: &[u8]) -> io::Result<usize> {
        match on_mux!(&mut self.mux, m => m.send(id, data)) {
            Ok(n) => Ok(n),
            Err(e) => {
                if e == CallError::Send(SendError::QueueFull) && !self.blocked.contains(&id) {
                    self.blocked.push(id);
                }
                Err(call_error(e))
            }
        }
    }

    /// Takes received data from a session: `WouldBlock` when there is none (wait for
    /// [`Event::Readable`]), `NotConnected` once it is closed.
    pub fn recv(&mut self, id: SessionId, buf: &mut [u8]) -> io::Result<usize> {
        on_mux!(&mut self.mux, m => m.recv(id, buf)).map_err(call_error)
    }

    /// Closes a session; `code` reaches the peer in native mode (legacy mode has no close
    /// message: the session just stops). The id is invalid at once and no event follows.
    pub fn close(&mut self, id: SessionId, code: u32) {
        on_mux!(&mut self.mux, m => m.close(id, code));
        self.blocked.retain(|&b| b != id);
    }

    /// The next event, if any. [`Driver::poll`] fills the queue.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// A blocking `Read`/`Write` view of one session (see [`Stream`](super::Stream)).
    pub fn stream(&mut self, id: SessionId) -> super::Stream<'_> {
        super::Stream::new(self, id)
    }

    /// Runs the driver: reads what the socket has, runs due timers, sends what is queued,
    /// and sleeps until something happens. Returns when at least one event is queued (at
    /// once if one already is), or when `timeout` has passed (`None`: no limit).
    pub fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let until = timeout.map(|t| Instant::now() + t);
        if !self.events.is_empty() {
            return self.flush();
        }
        loop {
            // A zero wait still makes one non-blocking round: `poll(Some(ZERO))` is how a
            // game loop services the socket without sleeping.
            let wait = until.map(|u| u.saturating_duration_since(Instant::now()));
            self.turn(wait)?;
            if !self.events.is_empty() || wait == Some(Duration::ZERO) {
                return Ok(());
            }
        }
    }

    /// Moves the socket onto an application's mio registry under `token`, for a program that
    /// runs one loop over several drivers and sockets of its own. From then on the
    /// application's loop drives this driver:
    ///
    /// - when its poll reports `token`, call [`Driver::handle_readiness`];
    /// - sleep no later than [`Driver::deadline`];
    /// - after either, call [`Driver::drive`] (and after [`Driver::send`] calls, when their
    ///   data should leave), then take the events with [`Driver::next_event`].
    ///
    /// [`Driver::poll`] and blocking [`Stream`](super::Stream)s refuse to run afterwards
    /// (`InvalidInput`): the driver's own poll no longer hears the socket.
    pub fn register(&mut self, registry: &mio::Registry, token: Token) -> io::Result<()> {
        if !self.external {
            self.poll.registry().deregister(&mut self.socket)?;
            self.external = true;
        } else {
            registry.deregister(&mut self.socket)?;
        }
        registry.register(
            &mut self.socket,
            token,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        // Readiness is edge-triggered: whatever arrived before the move would never be
        // reported again.
        self.recv_pending = true;
        self.send_blocked = false;
        Ok(())
    }

    /// Notes what the application's poll reported for this driver's token (see
    /// [`Driver::register`]). The work happens in the next [`Driver::drive`].
    pub fn handle_readiness(&mut self, event: &mio::event::Event) {
        if event.is_readable() || event.is_error() {
            self.recv_pending = true;
        }
        if event.is_writable() || event.is_error() {
            self.send_blocked = false;
        }
    }

    /// When [`Driver::drive`] must run next, with no socket readiness: the earliest session
    /// deadline, or now if the last round left datagrams unread. `None`: only the socket
    /// (or the application's own calls) can give the driver work.
    pub fn deadline(&mut self) -> Option<Instant> {
        if self.recv_pending {
            return Some(Instant::now());
        }
        let deadline = on_mux!(&mut self.mux, m => m.poll_timeout())?;
        let ahead = deadline.wrapping_sub(self.now()) as i32;
        Some(
            self.epoch + Duration::from_millis(self.now_ms.saturating_add_signed(i64::from(ahead))),
        )
    }

    /// One round: work, sleep at most `wait` (less if a session deadline comes first), work
    /// again. Returns after one wake-up whether or not it produced events.
    pub(crate) fn turn(&mut self, wait: Option<Duration>) -> io::Result<()> {
        if self.external {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the driver's socket is registered with the application's poll: drive it from there",
            ));
        }
        self.drive()?;
        let mut wait = wait;
        if let Some(until_due) = self.deadline() {
            let due_in = until_due.saturating_duration_since(Instant::now());
            wait = Some(wait.map_or(due_in, |w| w.min(due_in)));
        }
        self.counters.waits += 1;
        match self.poll.poll(&mut self.io_events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        for event in self.io_events.iter() {
            if event.is_readable() {
                self.recv_pending = true;
            }
            if event.is_writable() {
                self.send_blocked = false;
            }
        }
        self.drive()
    }

    /// Everything that needs no waiting: reads what the socket has (if it was reported
    /// readable), runs due timers, sends what the sessions queued, and collects events.
    /// [`Driver::poll`] calls it around each sleep; an application's own loop calls it
    /// itself (see [`Driver::register`]).
    pub fn drive(&mut self) -> io::Result<()> {
        if self.recv_pending {
            self.receive()?;
        }
        let now = self.now();
        if let Some(deadline) = on_mux!(&mut self.mux, m => m.poll_timeout()) {
            if deadline.wrapping_sub(now) as i32 <= 0 {
                self.counters.timer_runs += 1;
                on_mux!(&mut self.mux, m => m.handle_timeout(now));
            }
        }
        self.transmit()?;
        self.collect_events();
        Ok(())
    }

    /// Sends everything the sessions have queued, as far as the socket takes it.
    pub fn flush(&mut self) -> io::Result<()> {
        self.transmit()?;
        self.collect_events();
        Ok(())
    }

    /// Reads and handles what the socket holds (up to [`RECV_ROUNDS`] calls). What the
    /// sessions answer is sent once afterwards, by the caller: a pass over the sessions per
    /// batch found mostly acknowledgements that wait for data to ride on anyway, and at
    /// thousands of sessions every extra pass over them is cache misses (a game server at
    /// 10,000 sessions x 20 Hz went from about 1.1 cores to 0.76).
    fn receive(&mut self) -> io::Result<()> {
        for _ in 0..RECV_ROUNDS {
            match self.rx.recv(&self.socket) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.recv_pending = false;
                    return Ok(());
                }
                // ICMP errors surfacing on the socket say something about one peer, not
                // about the socket: count them and read on.
                Err(e) if is_peer_error(&e) => {
                    self.counters.recv_errors += 1;
                    continue;
                }
                Err(e) => return Err(e),
            }
            self.counters.recv_calls += 1;
            let now = self.now();
            let Driver {
                rx,
                tx,
                mux,
                socket,
                counters,
                send_blocked,
                ..
            } = self;
            rx.for_each(|from, datagram| {
                counters.datagrams_in += 1;
                counters.bytes_in += datagram.len() as u64;
                match on_mux!(&mut *mux, m => m.handle_datagram(now, from, datagram)) {
                    Incoming::Consumed => {}
                    Incoming::Dropped(_) => counters.dropped += 1,
                    Incoming::Reply(n) => {
                        if queue_reply(tx, socket, send_blocked, from, &datagram[..n]) {
                            counters.replies += 1;
                        } else {
                            counters.replies_dropped += 1;
                        }
                    }
                }
            });
        }
        Ok(())
    }

    fn transmit(&mut self) -> io::Result<()> {
        let now = self.now();
        while !self.send_blocked {
            match self.tx.slot() {
                Some(slot) => match on_mux!(&mut self.mux, m => m.poll_transmit(now, slot)) {
                    Some(Transmit { destination, len }) => {
                        self.counters.datagrams_out += 1;
                        self.counters.bytes_out += len as u64;
                        self.tx.commit(destination, len);
                    }
                    None => break,
                },
                None => send_queued(&mut self.tx, &self.socket, &mut self.send_blocked)?,
            }
        }
        send_queued(&mut self.tx, &self.socket, &mut self.send_blocked)
    }

    fn collect_events(&mut self) {
        while let Some(event) = on_mux!(&mut self.mux, m => m.poll_event()) {
            if let endpoint::Event::Closed(id, reason) = event {
                self.blocked.retain(|&b| b != id);
                if self.recent_closes.len() == RECENT_CLOSES {
                    self.recent_closes.pop_front();
                }
                self.recent_closes.push_back((id, reason));
            }
            self.events.push_back(event.into());
        }
        if !self.blocked.is_empty() {
            let mux = &self.mux;
            let events = &mut self.events;
            self.blocked.retain(|&id| {
                let room = on_mux!(mux, m => m.session(id)).is_none_or(has_room);
                if room {
                    events.push_back(Event::Writable(id));
                }
                !room
            });
        }
    }

    /// Why a session closed, if it did recently (the last 256 closes are remembered).
    pub fn close_reason(&self, id: SessionId) -> Option<CloseReason> {
        self.recent_closes
            .iter()
            .rev()
            .find(|(closed, _)| *closed == id)
            .map(|&(_, reason)| reason)
    }

    /// Whether the session exists and is established.
    pub fn is_established(&self, id: SessionId) -> bool {
        on_mux!(&self.mux, m => m.session(id)).is_some()
    }

    /// Where a session's datagrams go, while it exists (in handshake, established or
    /// closing).
    pub fn remote(&self, id: SessionId) -> Option<SocketAddr> {
        on_mux!(&self.mux, m => m.remote(id))
    }

    /// The ids of the established sessions.
    pub fn sessions(&self) -> Vec<SessionId> {
        on_mux!(&self.mux, m => m.sessions().collect())
    }

    /// One session's state and counters, if it is established.
    pub fn session_stats(&self, id: SessionId) -> Option<SessionStats> {
        let session = on_mux!(&self.mux, m => m.session(id))?;
        let remote = on_mux!(&self.mux, m => m.remote(id))?;
        Some(SessionStats::of(session, remote))
    }

    /// The driver's counters (socket, batching, drops) with its multiplexer's.
    pub fn stats(&self) -> DriverStats {
        self.counters.report(
            on_mux!(&self.mux, m => m.stats()),
            &self.tx,
            &self.rx,
            self.buffers,
        )
    }

    /// Segments the session has queued or in flight (0 for an unknown session).
    pub fn wait_send(&self, id: SessionId) -> u32 {
        on_mux!(&self.mux, m => m.session(id)).map_or(0, Session::wait_send)
    }
}

/// Whether a session's send queue has room again: below half its limit, so a writer woken
/// by [`Event::Writable`] can queue a useful amount.
fn has_room(session: &Session) -> bool {
    session.wait_send() < session.arq().config().send_queue_limit / 2
}

fn is_peer_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
    )
}

/// Sends what the batch holds; a full socket buffer only marks the driver as waiting for
/// writability (the datagrams stay queued, in order).
fn send_queued(
    tx: &mut SendBatch,
    socket: &mio::net::UdpSocket,
    send_blocked: &mut bool,
) -> io::Result<()> {
    if tx.is_empty() {
        return Ok(());
    }
    match tx.send(socket) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            *send_blocked = true;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Queues a handshake reply. Replies are small and rare; one that finds the socket full is
/// dropped (the peer retries), never allowed to stall the receive path.
fn queue_reply(
    tx: &mut SendBatch,
    socket: &mio::net::UdpSocket,
    send_blocked: &mut bool,
    to: SocketAddr,
    reply: &[u8],
) -> bool {
    if tx.slot().is_none() && (send_queued(tx, socket, send_blocked).is_err() || *send_blocked) {
        return false;
    }
    match tx.slot() {
        Some(slot) if slot.len() >= reply.len() => {
            slot[..reply.len()].copy_from_slice(reply);
            tx.commit(to, reply.len());
            true
        }
        _ => false,
    }
}
