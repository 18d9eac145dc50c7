//! The client role: TCP connections in, spread over `--conn` sessions to the server;
//! sessions re-dialled when they die and renewed after `--autoexpire`.

use super::conn::{Conn, Socket};
use super::link::Link;
use super::{LinkKey, Tunnel};
use crate::smux::Mux;
use kcp_core::endpoint::{CloseReason, SessionId};
use kcp_core::net::{Driver, DriverConfig, Mode};
use mio::net::TcpListener;
use mio::{Interest, Registry, Token};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What a client tunnel is built from.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Where applications connect (kcptun's `--localaddr`).
    pub listen: SocketAddr,
    /// The server (`--remoteaddr`), and how the user wrote it, for messages.
    pub remote: SocketAddr,
    /// The server as the user wrote it.
    pub remote_name: String,
    /// Sessions to keep (`--conn`); connections are spread over them in turn.
    pub conn: usize,
    /// Renew a session this old for new connections (`--autoexpire`; `None`: never).
    pub autoexpire: Option<Duration>,
    /// How long a renewed session may keep serving its connections (`--scavengettl`).
    pub scavenge_ttl: Duration,
    /// Each session's socket and protocol; one socket per session, as kcptun does.
    pub driver: DriverConfig,
}

/// Where a link is kept before it exists.
const NO_LINK: LinkKey = (usize::MAX, SessionId(0));

/// Redial delays after failures: 1 s, doubling to 30 s.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// One of the `--conn` sessions.
#[derive(Debug, Default)]
struct Slot {
    driver: Option<usize>,
    link: Option<LinkKey>,
    up: bool,
    /// Failed dials in a row.
    failures: u32,
    retry_at: Option<Instant>,
    /// Connections accepted while the slot had no session.
    waiting: Vec<usize>,
}

/// A renewed session's socket, kept until its connections end or its time is up.
#[derive(Debug)]
struct Retired {
    driver: usize,
    until: Instant,
}

pub struct Client {
    pub listener: TcpListener,
    settings: ClientSettings,
    slots: Vec<Slot>,
    next: usize,
    retired: Vec<Retired>,
    /// The handshake hint was shown (once per run is enough).
    hinted: bool,
}

impl Client {
    pub fn new(registry: &Registry, token: Token, settings: ClientSettings) -> io::Result<Client> {
        let mut listener = TcpListener::bind(settings.listen).map_err(|e| {
            io::Error::new(e.kind(), format!("--localaddr {}: {e}", settings.listen))
        })?;
        registry.register(&mut listener, token, Interest::READABLE)?;
        log::info!("listening on tcp {}", listener.local_addr()?);
        let slots = (0..settings.conn.max(1)).map(|_| Slot::default()).collect();
        Ok(Client {
            listener,
            settings,
            slots,
            next: 0,
            retired: Vec::new(),
            hinted: false,
        })
    }

    /// Dials every slot's session up front, so a wrong address or key shows at once.
    pub fn start(&mut self, t: &mut Tunnel, now: Instant) {
        for slot in 0..self.slots.len() {
            self.dial(t, slot, now);
        }
    }

    fn native(&self) -> bool {
        matches!(self.settings.driver.mode, Mode::Native(_))
    }

    fn dial(&mut self, t: &mut Tunnel, index: usize, now: Instant) {
        let slot = &mut self.slots[index];
        slot.retry_at = None;
        let driver = match slot.driver {
            Some(key) => key,
            None => match Driver::new(self.settings.driver.clone()).and_then(|d| t.add_driver(d)) {
                Ok(key) => {
                    slot.driver = Some(key);
                    key
                }
                Err(e) => {
                    log::warn!("cannot open a UDP socket: {e}");
                    return self.retry_later(index, now);
                }
            },
        };
        let id = match t.drivers[driver].connect(self.settings.remote) {
            Ok(id) => id,
            Err(e) => {
                log::warn!(
                    "cannot start a session to {}: {e}",
                    self.settings.remote_name
                );
                return self.retry_later(index, now);
            }
        };
        let key = (driver, id);
        let mut config = t.settings.smux.clone();
        config.client = true;
        let link = Link::new(id, Mux::new(config, now), t.settings.compress, now);
        t.insert_link(key, link);
        t.active_opens += 1;
        let slot = &mut self.slots[index];
        slot.link = Some(key);
        for ck in std::mem::take(&mut slot.waiting) {
            open_stream(t, key, ck);
        }
    }

    fn retry_later(&mut self, index: usize, now: Instant) {
        let slot = &mut self.slots[index];
        let delay = RETRY_FIRST
            .saturating_mul(1 << slot.failures.min(5))
            .min(RETRY_MAX);
        slot.failures += 1;
        slot.retry_at = Some(now + delay);
    }

    /// Takes every pending TCP connection.
    pub fn accept(&mut self, t: &mut Tunnel, now: Instant) {
        loop {
            let (stream, from) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors and the like: the connection stays in the backlog;
                    // the next readiness retries.
                    log::warn!("accept: {e}");
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            let index = self.next % self.slots.len();
            self.next = self.next.wrapping_add(1);
            if self.slots[index].link.is_none() && self.slots[index].retry_at.is_none() {
                self.dial(t, index, now);
            }
            let slot = &mut self.slots[index];
            let Some(ck) = t.insert_conn(Conn::new(Socket::Tcp(stream), NO_LINK, from.to_string()))
            else {
                continue;
            };
            match slot.link {
                Some(key) => open_stream(t, key, ck),
                None => slot.waiting.push(ck),
            }
        }
    }

    /// A session is established.
    pub fn connected(&mut self, t: &mut Tunnel, key: LinkKey) {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.link == Some(key)) {
            slot.up = true;
            slot.failures = 0;
            if let Some(driver) = t.drivers.get(key.0) {
                log::info!(
                    "session {} to {} established (local {})",
                    key.1 .0,
                    self.settings.remote_name,
                    driver.local_addr()
                );
            }
        }
    }

    /// A session is gone (`reason`: the transport's, if it was the transport).
    pub fn lost(
        &mut self,
        t: &mut Tunnel,
        key: LinkKey,
        reason: Option<CloseReason>,
        now: Instant,
    ) {
        if let Some(i) = self.retired.iter().position(|r| r.driver == key.0) {
            t.drivers.try_remove(self.retired.swap_remove(i).driver);
            return;
        }
        let Some(index) = self.slots.iter().position(|s| s.link == Some(key)) else {
            return;
        };
        let slot = &mut self.slots[index];
        let was_up = slot.up;
        slot.link = None;
        slot.up = false;
        if let Some(reason) = reason {
            log::warn!(
                "session {} to {}: {reason}",
                key.1 .0,
                self.settings.remote_name
            );
            if !was_up && self.native() && !self.hinted {
                if let CloseReason::HandshakeTimeout {
                    server_answered: false,
                } = reason
                {
                    self.hinted = true;
                    log::error!(
                        "{} did not answer the sealed handshake. If it runs kcptun, use its settings here: \
                         --crypt aes (or the server's -crypt) with the same --key, --mode, --datashard, \
                         --parityshard, --nocomp and --smuxver",
                        self.settings.remote_name
                    );
                }
            }
        }
        if was_up {
            // A session that worked is redialled at once, as kcptun does.
            self.slots[index].failures = 0;
            self.dial(t, index, now);
        } else {
            self.retry_later(index, now);
        }
    }

    /// A connection closed before it had a session.
    pub fn forget_waiting(&mut self, ck: usize) {
        for slot in &mut self.slots {
            slot.waiting.retain(|&w| w != ck);
        }
    }

    /// The next retry, renewal or scavenging due.
    pub fn deadline(&self) -> Option<Instant> {
        let retries = self.slots.iter().filter_map(|s| s.retry_at);
        let retired = self.retired.iter().map(|r| r.until);
        retries.chain(retired).min()
    }

    pub fn run_timers(&mut self, t: &mut Tunnel, now: Instant) {
        for index in 0..self.slots.len() {
            if self.slots[index].retry_at.is_some_and(|at| at <= now) {
                self.dial(t, index, now);
            }
        }
        if let Some(max_age) = self.settings.autoexpire {
            for index in 0..self.slots.len() {
                let Some(key) = self.slots[index].link else {
                    continue;
                };
                if t.links
                    .get(&key)
                    .is_some_and(|l| now >= l.created + max_age)
                {
                    // New connections go to a new session on a new socket; the old one
                    // serves its connections until they end or the time is up.
                    let slot = &mut self.slots[index];
                    slot.link = None;
                    slot.up = false;
                    if let Some(driver) = slot.driver.take() {
                        self.retired.push(Retired {
                            driver,
                            until: now + self.settings.scavenge_ttl,
                        });
                    }
                    self.dial(t, index, now);
                }
            }
        }
        let mut i = 0;
        while i < self.retired.len() {
            let driver = self.retired[i].driver;
            let idle = !t
                .links
                .iter()
                .any(|(k, l)| k.0 == driver && !l.streams.is_empty());
            if idle || self.retired[i].until <= now {
                self.retired.swap_remove(i);
                t.remove_driver(driver);
            } else {
                i += 1;
            }
        }
    }
}

/// Opens a stream for a connection on an existing link.
fn open_stream(t: &mut Tunnel, key: LinkKey, ck: usize) {
    let Some(link) = t.links.get_mut(&key) else {
        return;
    };
    match link.mux.open() {
        Ok(id) => {
            link.streams.insert(id, ck);
            if let Some(conn) = t.conns.get_mut(ck) {
                conn.link = key;
                conn.stream = Some(id);
                if !t.settings.quiet {
                    log::info!("stream {id} opened for {}", conn.peer);
                }
            }
            t.queue_conn(ck);
            t.mark_dirty(key);
        }
        Err(e) => t.close_conn(ck, true, &format!("cannot open a stream: {e}")),
    }
}
