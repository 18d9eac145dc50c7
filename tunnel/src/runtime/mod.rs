//! The event loop: one thread, one `mio::Poll` over the UDP drivers, the TCP listener and
//! every application connection.
//!
//! Data moves only when the next stage can take it, so memory stays bounded however fast
//! either side is: a TCP socket is read only when its KCP session's send queue has room (and,
//! in smux v2, the stream's window), one frame per ready stream in turn; KCP input is read
//! only while smux's receive buffer has room, and a stream's buffer drains only as fast as
//! its TCP socket takes it.

mod client;
mod conn;
mod link;
mod server;
mod signal;

use crate::smux::{self, Event as MuxEvent, StreamId};
use client::Client;
use conn::Conn;
use kcp_core::endpoint::SessionId;
use kcp_core::net::{Driver, Event as DriverEvent};
use link::{Link, LinkError};
use mio::{Events, Poll, Token, Waker};
use server::Server;
use slab::Slab;
use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::snmp::SnmpLog;
use kcp_core::session::Snmp;

pub use client::ClientSettings;
pub use server::ServerSettings;

/// A link is one session of one driver.
pub type LinkKey = (usize, SessionId);

const SIGNAL: Token = Token(0);
const WAKER: Token = Token(1);
const LISTENER: Token = Token(2);
const DRIVER_BASE: usize = 16;
const CONN_BASE: usize = 1 << 24;

/// The close code a tunnel sends when it shuts down (native mode shows it to the peer).
const CODE_SHUTDOWN: u32 = 1;
/// The close code for a session whose smux or snappy stream failed.
const CODE_PROTOCOL: u32 = 2;

/// Loop rounds per wake-up before sleeping again (each round drives every socket once).
const MAX_ROUNDS: usize = 16;

/// A session with data in flight that hears nothing at all for this long
/// is taken for dead (the peer restarted or vanished) and its streams are reset, well before
/// the transport's 30 s idle timeout. A live peer acknowledges within a few RTOs even
/// through heavy loss.
const SILENCE_LIMIT: Duration = Duration::from_secs(5);
/// How often sessions with data in flight are checked for that silence.
const SILENCE_CHECK: Duration = Duration::from_secs(1);

/// What both roles share.
#[derive(Clone, Debug)]
pub struct Settings {
    /// smux for each link.
    pub smux: smux::Config,
    /// Snappy framing around smux.
    pub compress: bool,
    /// No per-stream open/close logs.
    pub quiet: bool,
    /// kcptun's `--snmplog` path and `--snmpperiod`.
    pub snmp_log: Option<(String, Duration)>,
}

/// A snapshot of a running tunnel, refreshed by its loop (see [`Tunnel::report_every`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    /// kcp-go's counters over all sessions, past and present.
    pub snmp: Snmp,
    /// Sessions open.
    pub links: usize,
    /// Streams open.
    pub streams: usize,
    /// Smoothed RTT of the sessions, averaged (ms); `None` without sessions.
    pub srtt_ms: Option<u32>,
}

/// Stops a running tunnel from another thread.
#[derive(Clone, Debug)]
pub struct Stopper {
    waker: Arc<Waker>,
    flag: Arc<std::sync::atomic::AtomicBool>,
}

impl Stopper {
    /// Asks the tunnel to shut down (as SIGTERM does).
    pub fn stop(&self) {
        self.flag.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

/// A running tunnel end.
pub struct Tunnel {
    poll: Poll,
    drivers: Slab<Driver>,
    links: HashMap<LinkKey, Link>,
    conns: Slab<Conn>,
    /// The client role (TCP listener, sessions to the server), while it is one.
    client: Option<Client>,
    /// The server role (the target streams are carried to), while it is one.
    server: Option<Server>,
    settings: Settings,
    dirty: Vec<LinkKey>,
    scratch: Vec<u8>,
    signals: Option<signal::Signals>,
    stopper: Stopper,
    stopping: bool,
    snmp_log: Option<SnmpLog>,
    /// Counters of sessions that are gone.
    closed_snmp: Snmp,
    /// Sessions dialled and accepted, and the most open at once.
    active_opens: u64,
    passive_opens: u64,
    max_links: u64,
    report: Option<(Arc<Mutex<Report>>, Duration, Instant)>,
    /// The next silence check, while some session has data waiting.
    silence_check: Option<Instant>,
}

impl Tunnel {
    fn new(settings: Settings) -> io::Result<Tunnel> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let now = Instant::now();
        let snmp_log = settings
            .snmp_log
            .as_ref()
            .map(|(path, period)| SnmpLog::new(path, *period, now));
        Ok(Tunnel {
            snmp_log,
            closed_snmp: Snmp::default(),
            active_opens: 0,
            passive_opens: 0,
            max_links: 0,
            report: None,
            silence_check: None,
            poll,
            drivers: Slab::new(),
            links: HashMap::new(),
            conns: Slab::new(),
            client: None,
            server: None,
            settings,
            dirty: Vec::new(),
            scratch: vec![0; 64 << 10],
            signals: None,
            stopper: Stopper {
                waker,
                flag: Arc::default(),
            },
            stopping: false,
        })
    }

    /// A client: listens for TCP connections and carries them to the server.
    pub fn client(settings: Settings, client: ClientSettings) -> io::Result<Tunnel> {
        let mut tunnel = Tunnel::new(settings)?;
        tunnel.client = Some(Client::new(tunnel.poll.registry(), LISTENER, client)?);
        let now = Instant::now();
        tunnel.with_client(|t, c| c.start(t, now));
        Ok(tunnel)
    }

    /// A server: accepts sessions and dials the target for each stream.
    pub fn server(settings: Settings, server: ServerSettings) -> io::Result<Tunnel> {
        let mut tunnel = Tunnel::new(settings)?;
        tunnel.server = Some(Server::new(server.target));
        let driver = Driver::new(server.driver)?;
        log::info!("listening on udp {}", driver.local_addr());
        tunnel.add_driver(driver)?;
        Ok(tunnel)
    }

    /// Where the client listens for TCP (client), or the first UDP socket (server).
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match &self.client {
            Some(c) => c.listener.local_addr(),
            None => self
                .drivers
                .iter()
                .next()
                .map(|(_, d)| d.local_addr())
                .ok_or_else(|| io::Error::other("no socket")),
        }
    }

    /// Keeps a [`Report`] up to date, every `period`, for another thread to read.
    pub fn report_every(&mut self, period: Duration) -> Arc<Mutex<Report>> {
        let shared = Arc::new(Mutex::new(Report::default()));
        self.report = Some((shared.clone(), period, Instant::now()));
        shared
    }

    /// The tunnel's state now.
    pub fn report(&mut self) -> Report {
        let mut srtt_sum = 0u64;
        let mut sessions = 0u64;
        let mut snmp = self.closed_snmp;
        let mut streams = 0;
        for (key, link) in &mut self.links {
            if let Some(stats) = self.drivers.get(key.0).and_then(|d| d.session_stats(key.1)) {
                link.last_snmp = stats.snmp;
                srtt_sum += u64::from(stats.srtt);
                sessions += 1;
            }
            snmp.add(&link.last_snmp);
            streams += link.streams.len();
        }
        snmp.max_conn = self.max_links;
        snmp.active_opens = self.active_opens;
        snmp.passive_opens = self.passive_opens;
        snmp.curr_estab = self.links.len() as u64;
        Report {
            snmp,
            links: self.links.len(),
            streams,
            srtt_ms: (sessions > 0).then(|| (srtt_sum / sessions) as u32),
        }
    }

    /// A handle that stops the tunnel from another thread.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Makes SIGTERM and SIGINT shut the tunnel down cleanly.
    pub fn handle_signals(&mut self) -> io::Result<()> {
        let mut signals = signal::Signals::install()?;
        self.poll
            .registry()
            .register(&mut signals.receiver, SIGNAL, mio::Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    fn add_driver(&mut self, mut driver: Driver) -> io::Result<usize> {
        let entry = self.drivers.vacant_entry();
        let key = entry.key();
        driver.register(self.poll.registry(), Token(DRIVER_BASE + key))?;
        entry.insert(driver);
        Ok(key)
    }

    fn remove_driver(&mut self, key: usize) {
        let links: Vec<LinkKey> = self.links.keys().filter(|k| k.0 == key).copied().collect();
        for link in links {
            self.kill_link(link, None, "its socket was retired");
        }
        self.drivers.remove(key);
    }

    /// Runs `f` on the client role, if this is a client (taken out for the call, so `f` can
    /// use the rest of the tunnel).
    fn with_client(&mut self, f: impl FnOnce(&mut Tunnel, &mut Client)) {
        if let Some(mut client) = self.client.take() {
            f(self, &mut client);
            self.client = Some(client);
        }
    }

    /// Runs until SIGTERM/SIGINT (with [`Tunnel::handle_signals`]) or [`Stopper::stop`].
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        while !self.stopping {
            let timeout = self
                .next_wakeup()
                .map(|t| t.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            for event in events.iter() {
                self.dispatch(event, now);
            }
            self.work(now)?;
        }
        self.shut_down()
    }

    fn next_wakeup(&mut self) -> Option<Instant> {
        let mut next = None;
        let mut earliest = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: Instant| n.min(t)));
            }
        };
        for (_, driver) in self.drivers.iter_mut() {
            earliest(driver.deadline());
        }
        for link in self.links.values() {
            earliest(link.mux.poll_timeout());
        }
        if let Some(client) = &self.client {
            earliest(client.deadline());
        }
        earliest(self.snmp_log.as_ref().map(SnmpLog::deadline));
        earliest(self.report.as_ref().map(|r| r.2));
        earliest(self.silence_check);
        if !self.dirty.is_empty() {
            earliest(Some(Instant::now()));
        }
        next
    }

    fn dispatch(&mut self, event: &mio::event::Event, now: Instant) {
        match event.token() {
            SIGNAL => {
                if self.signals.as_mut().is_some_and(|s| s.take()) {
                    log::info!("termination signal: shutting down");
                    self.stopping = true;
                }
            }
            WAKER => {
                if self.stopper.flag.load(std::sync::atomic::Ordering::SeqCst) {
                    self.stopping = true;
                }
            }
            LISTENER => self.with_client(|t, c| c.accept(t, now)),
            Token(n) if (DRIVER_BASE..CONN_BASE).contains(&n) => {
                if let Some(driver) = self.drivers.get_mut(n - DRIVER_BASE) {
                    driver.handle_readiness(event);
                }
            }
            Token(n) => self.on_conn_event(n - CONN_BASE, event),
        }
    }

    /// Everything that needs no waiting, until a round finds nothing to do.
    fn work(&mut self, now: Instant) -> io::Result<()> {
        for _ in 0..MAX_ROUNDS {
            let mut busy = false;
            let keys: Vec<usize> = self.drivers.iter().map(|(k, _)| k).collect();
            for key in keys {
                let Some(driver) = self.drivers.get_mut(key) else {
                    continue;
                };
                driver.drive()?;
                while let Some(event) = self.drivers.get_mut(key).and_then(Driver::next_event) {
                    busy = true;
                    self.on_driver_event(key, event, now);
                }
            }
            self.run_timers(now);
            while let Some(key) = self.dirty.pop() {
                busy = true;
                self.service(key);
            }
            if !busy {
                break;
            }
        }
        Ok(())
    }

    fn run_timers(&mut self, now: Instant) {
        let due: Vec<LinkKey> = self
            .links
            .iter()
            .filter(|(_, l)| l.mux.poll_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(link) = self.links.get_mut(&key) else {
                continue;
            };
            match link.mux.handle_timeout(now) {
                Ok(()) => self.mark_dirty(key),
                Err(e) => self.kill_link(key, Some(CODE_PROTOCOL), &format!("smux: {e}")),
            }
        }
        self.with_client(|t, c| c.run_timers(t, now));
        if self.silence_check.is_some_and(|t| t <= now) {
            self.check_silence(now);
        }
        if self.snmp_log.as_ref().is_some_and(|l| l.deadline() <= now) {
            let totals = self.report().snmp;
            if let Some(log) = &mut self.snmp_log {
                if let Err(e) = log.write_due(now, SystemTime::now(), &totals) {
                    log::warn!("{e}");
                }
            }
        }
        if self.report.as_ref().is_some_and(|r| r.2 <= now) {
            let report = self.report();
            if let Some((shared, period, next)) = &mut self.report {
                if let Ok(mut shared) = shared.lock() {
                    *shared = report;
                }
                *next = now + *period;
            }
        }
    }

    fn on_driver_event(&mut self, driver: usize, event: DriverEvent, now: Instant) {
        match event {
            DriverEvent::Accepted(id) => {
                let peer = self.drivers.get(driver).and_then(|d| d.remote(id));
                log::info!("session {} from {}", id.0, show(peer));
                let mux = smux::Mux::new(self.server_smux_config(), now);
                let link = Link::new(id, mux, self.settings.compress, now);
                self.insert_link((driver, id), link);
                self.passive_opens += 1;
            }
            DriverEvent::Connected(id) => {
                self.with_client(|t, c| c.connected(t, (driver, id)));
                self.mark_dirty((driver, id));
            }
            DriverEvent::Readable(id) | DriverEvent::Writable(id) => self.mark_dirty((driver, id)),
            DriverEvent::Migrated(id, to) => log::info!("session {} moved to {to}", id.0),
            DriverEvent::Closed(id, reason) => {
                self.drop_link((driver, id));
                if self.client.is_some() {
                    self.with_client(|t, c| c.lost(t, (driver, id), Some(reason), now));
                } else {
                    log::info!("session {} closed: {reason}", id.0);
                }
            }
        }
    }

    fn insert_link(&mut self, key: LinkKey, link: Link) {
        self.links.insert(key, link);
        self.max_links = self.max_links.max(self.links.len() as u64);
    }

    fn server_smux_config(&self) -> smux::Config {
        let mut config = self.settings.smux.clone();
        config.client = false;
        config
    }

    fn mark_dirty(&mut self, key: LinkKey) {
        if let Some(link) = self.links.get_mut(&key) {
            if !link.dirty {
                link.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    /// Moves a link's data: KCP input into smux and out to the connections, connections'
    /// data into smux and out to KCP.
    fn service(&mut self, key: LinkKey) {
        let Some(link) = self.links.get_mut(&key) else {
            return;
        };
        link.dirty = false;
        let Some(driver) = self.drivers.get_mut(key.0) else {
            return;
        };
        if let Err(e) = link.pump_input(driver, &mut self.scratch) {
            return self.kill_link(key, Some(CODE_PROTOCOL), &e.to_string());
        }
        while let Some(event) = self.links.get_mut(&key).and_then(|l| l.mux.poll_event()) {
            self.on_mux_event(key, event);
        }
        if let Err(e) = self.pump_output(key) {
            return self.kill_link(key, Some(CODE_PROTOCOL), &e.to_string());
        }
        if self.silence_check.is_none()
            && self
                .drivers
                .get(key.0)
                .is_some_and(|d| d.wait_send(key.1) > 0)
        {
            self.silence_check = Some(Instant::now() + SILENCE_CHECK);
        }
    }

    /// Finds sessions that have had data in flight for [`SILENCE_LIMIT`] without hearing a
    /// single datagram, and ends them.
    fn check_silence(&mut self, now: Instant) {
        let mut dead = Vec::new();
        let mut waiting = false;
        for (key, link) in &mut self.links {
            let Some(stats) = self.drivers.get(key.0).and_then(|d| d.session_stats(key.1)) else {
                continue;
            };
            waiting |= stats.wait_send > 0;
            // Only data in flight is owed an answer: queued data may just be waiting for a
            // peer that closed its window (and says so only every few seconds).
            if stats.in_flight == 0 {
                link.waiting_since = None;
                continue;
            }
            match link.waiting_since {
                Some(_) if stats.snmp.in_pkts != link.heard_pkts => link.waiting_since = Some(now),
                Some(since) if now.duration_since(since) >= SILENCE_LIMIT => dead.push(*key),
                Some(_) => {}
                None => link.waiting_since = Some(now),
            }
            link.heard_pkts = stats.snmp.in_pkts;
        }
        self.silence_check = waiting.then_some(now + SILENCE_CHECK);
        for key in dead {
            self.kill_link(
                key,
                Some(CODE_PROTOCOL),
                "no answer from the peer for 5 s with data waiting (restarted or gone)",
            );
        }
    }

    fn on_mux_event(&mut self, key: LinkKey, event: MuxEvent) {
        let conn =
            |t: &Tunnel, id: StreamId| t.links.get(&key).and_then(|l| l.streams.get(&id)).copied();
        match event {
            MuxEvent::Opened(id) => {
                if self.server.is_some() {
                    self.dial(key, id);
                } else if let Some(link) = self.links.get_mut(&key) {
                    // Our server never opens streams, and neither does kcptun's.
                    link.mux.reset(id);
                }
            }
            MuxEvent::Readable(id) | MuxEvent::Finished(id) => {
                if let Some(ck) = conn(self, id) {
                    self.deliver(ck);
                }
            }
            MuxEvent::Reset(id) => {
                if let Some(ck) = conn(self, id) {
                    self.close_conn(ck, true, "reset by the peer");
                }
            }
            MuxEvent::Writable(id) => {
                if let Some(ck) = conn(self, id) {
                    self.queue_conn(ck);
                }
            }
        }
    }

    fn dial(&mut self, key: LinkKey, id: StreamId) {
        let Some(server) = &self.server else {
            return;
        };
        let socket = match server.dial() {
            Ok(socket) => socket,
            Err(e) => {
                log::warn!(
                    "stream {id}: cannot reach the target {}: {e}",
                    server.target_name()
                );
                if let Some(link) = self.links.get_mut(&key) {
                    link.mux.reset(id);
                }
                return;
            }
        };
        let peer = server.target_name();
        let ck = self.insert_conn(Conn::new(socket, key, peer));
        if let Some(ck) = ck {
            let conn = &mut self.conns[ck];
            conn.stream = Some(id);
            conn.connecting = true;
            conn.readable = false;
            if let Some(link) = self.links.get_mut(&key) {
                link.streams.insert(id, ck);
            }
        } else if let Some(link) = self.links.get_mut(&key) {
            link.mux.reset(id);
        }
    }

    /// Registers a connection; `None` (and the socket dropped) if the registry refuses it.
    fn insert_conn(&mut self, conn: Conn) -> Option<usize> {
        let entry = self.conns.vacant_entry();
        let ck = entry.key();
        let conn = entry.insert(conn);
        if let Err(e) = conn
            .socket
            .register(self.poll.registry(), Token(CONN_BASE + ck))
        {
            log::warn!("cannot watch a connection: {e}");
            self.conns.remove(ck);
            return None;
        }
        Some(ck)
    }

    fn on_conn_event(&mut self, ck: usize, event: &mio::event::Event) {
        let Some(conn) = self.conns.get_mut(ck) else {
            return;
        };
        if conn.connecting {
            match conn.socket.connect_result() {
                Ok(false) => return,
                Ok(true) => {
                    conn.connecting = false;
                    conn.readable = true;
                    if !self.settings.quiet {
                        log::info!(
                            "stream {} connected to {}",
                            show_stream(conn.stream),
                            conn.peer
                        );
                    }
                }
                Err(e) => {
                    let what = format!("cannot connect to the target {}: {e}", conn.peer);
                    return self.close_conn(ck, true, &what);
                }
            }
        }
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            conn.readable = true;
            self.queue_conn(ck);
        }
        if event.is_writable() || event.is_write_closed() || event.is_error() {
            if let Some(conn) = self.conns.get_mut(ck) {
                conn.writable = true;
            }
            self.deliver(ck);
        }
    }

    /// Puts a connection with data in its link's ready queue.
    fn queue_conn(&mut self, ck: usize) {
        let Some(conn) = self.conns.get_mut(ck) else {
            return;
        };
        if !conn.wants_queue() {
            return;
        }
        let key = conn.link;
        if let Some(link) = self.links.get_mut(&key) {
            conn.queued = true;
            link.ready.push_back(ck);
            self.mark_dirty(key);
        }
    }

    /// Writes what a stream received to its connection; shuts the connection's write side
    /// once the peer finished.
    fn deliver(&mut self, ck: usize) {
        let Some(conn) = self.conns.get_mut(ck) else {
            return;
        };
        let (Some(id), false) = (conn.stream, conn.connecting) else {
            return;
        };
        let key = conn.link;
        let Some(link) = self.links.get_mut(&key) else {
            return;
        };
        let was_paused = link.input_paused;
        let mut failure = None;
        while conn.writable {
            let (a, b) = link.mux.received(id);
            if a.is_empty() {
                break;
            }
            match conn
                .socket
                .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
            {
                Ok(n) => link.mux.consume(id, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            return self.close_conn(ck, true, &format!("write failed: {e}"));
        }
        if !conn.write_done && link.mux.input_done(id) {
            let _ = conn.socket.shutdown_write();
            conn.write_done = true;
        }
        let unpaused = was_paused && link.mux.wants_input();
        let has_output = !link.mux.output().is_empty();
        let done = conn.is_done();
        if unpaused || has_output {
            self.mark_dirty(key);
        }
        if done {
            self.close_conn(ck, false, "closed");
        }
    }

    /// Fills frames from the ready connections, in turn, while the link takes them.
    fn pump_output(&mut self, key: LinkKey) -> Result<(), LinkError> {
        let (Some(link), Some(driver)) = (self.links.get_mut(&key), self.drivers.get_mut(key.0))
        else {
            return Ok(());
        };
        let mut finished = Vec::new();
        let mut failed = Vec::new();
        loop {
            if !link.flush_output(driver)? {
                break;
            }
            let Some(ck) = link.ready.pop_front() else {
                break;
            };
            let Some(conn) = self.conns.get_mut(ck) else {
                continue;
            };
            if conn.link != key || !conn.queued {
                continue;
            }
            conn.queued = false;
            let Some(id) = conn.stream else {
                continue;
            };
            let room = link.mux.reserve(id);
            if room.is_empty() {
                continue;
            }
            match conn.socket.read(room) {
                Ok(0) => {
                    link.mux.commit(0);
                    conn.read_done = true;
                    link.mux.finish(id);
                    if conn.is_done() {
                        finished.push(ck);
                    }
                }
                Ok(n) => {
                    link.mux.commit(n);
                    conn.queued = true;
                    link.ready.push_back(ck);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    link.mux.commit(0);
                    conn.readable = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    link.mux.commit(0);
                    conn.queued = true;
                    link.ready.push_back(ck);
                }
                Err(e) => {
                    link.mux.commit(0);
                    failed.push((ck, e));
                }
            }
        }
        for ck in finished {
            self.close_conn(ck, false, "closed");
        }
        for (ck, e) in failed {
            self.close_conn(ck, true, &format!("read failed: {e}"));
        }
        // Closing may have queued FIN or RST frames.
        if let (Some(link), Some(driver)) = (self.links.get_mut(&key), self.drivers.get_mut(key.0))
        {
            link.flush_output(driver)?;
        }
        Ok(())
    }

    /// Forgets a connection. `abort`: its stream is reset and the socket closes with RST.
    fn close_conn(&mut self, ck: usize, abort: bool, why: &str) {
        let Some(mut conn) = self.conns.try_remove(ck) else {
            return;
        };
        conn.socket.deregister(self.poll.registry());
        if abort {
            conn.socket.abort_on_close();
        }
        if let Some(link) = self.links.get_mut(&conn.link) {
            link.ready.retain(|&k| k != ck);
            if let Some(id) = conn.stream {
                link.streams.remove(&id);
                if abort {
                    link.mux.reset(id);
                }
            }
            self.mark_dirty(conn.link);
        }
        self.with_client(|_, c| c.forget_waiting(ck));
        if !self.settings.quiet || abort {
            let level = if abort {
                log::Level::Warn
            } else {
                log::Level::Info
            };
            log::log!(
                level,
                "stream {} ({}) {why}",
                show_stream(conn.stream),
                conn.peer
            );
        }
    }

    /// Ends a link from this side: the session is closed (with `code`) and its connections
    /// are reset.
    fn kill_link(&mut self, key: LinkKey, code: Option<u32>, why: &str) {
        log::warn!("session {}: {why}", key.1 .0);
        if let (Some(code), Some(driver)) = (code, self.drivers.get_mut(key.0)) {
            if let (Some(link), Some(stats)) =
                (self.links.get_mut(&key), driver.session_stats(key.1))
            {
                link.last_snmp = stats.snmp;
            }
            driver.close(key.1, code);
        }
        self.drop_link(key);
        self.with_client(|t, c| c.lost(t, key, None, Instant::now()));
    }

    /// Forgets a link whose session is gone, resetting its connections.
    fn drop_link(&mut self, key: LinkKey) {
        let Some(link) = self.links.remove(&key) else {
            return;
        };
        self.closed_snmp.add(&link.last_snmp);
        if !link.streams.is_empty() {
            log::warn!(
                "session {}: its {} streams are reset",
                key.1 .0,
                link.streams.len()
            );
        }
        for (_, ck) in link.streams {
            if let Some(mut conn) = self.conns.try_remove(ck) {
                conn.socket.deregister(self.poll.registry());
                conn.socket.abort_on_close();
            }
        }
    }

    fn shut_down(&mut self) -> io::Result<()> {
        let keys: Vec<LinkKey> = self.links.keys().copied().collect();
        for key in keys {
            if let Some(driver) = self.drivers.get_mut(key.0) {
                driver.close(key.1, CODE_SHUTDOWN);
            }
            self.drop_link(key);
        }
        for (_, driver) in self.drivers.iter_mut() {
            driver.flush()?;
        }
        Ok(())
    }
}

fn show(addr: Option<std::net::SocketAddr>) -> String {
    addr.map_or_else(|| "?".into(), |a| a.to_string())
}

fn show_stream(id: Option<StreamId>) -> String {
    id.map_or_else(|| "-".into(), |id| id.to_string())
}
