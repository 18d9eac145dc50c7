//! A simulated network of addressed hosts, for [`Endpoint`]s (or any other [`Node`], such as
//! the [`LegacyEndpoint`](crate::legacy::LegacyEndpoint)): many sessions per host, spoofed and
//! replayed datagrams, hosts that change address.
//!
//! Every host has an address; what it sends leaves from its *current* address and goes
//! through the path's faults (loss, delay with jitter, duplication, corruption from a
//! [`LinkConfig`] chosen per ordered pair of hosts). A datagram arrives at whichever host has
//! the destination address at that moment, or nowhere. A test can inject datagrams with any
//! source address, and every datagram put on the network is recorded for replay when the
//! tap is on.
//!
//! Like [`super::Sim`], everything follows from the seed, and time jumps to the next event.

use super::link::LinkConfig;
use super::rng::Rng;
use crate::endpoint::{Endpoint, Incoming, Transmit};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

/// A datagram on the simulated network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Source address (as the receiver sees it; may be spoofed).
    pub from: SocketAddr,
    /// Destination address.
    pub to: SocketAddr,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// What the network drives at each host: the sans-IO verbs of an addressed endpoint.
pub trait Node {
    /// Takes a datagram from `from` (see [`Endpoint::handle_datagram`]).
    fn handle_datagram(&mut self, now: u32, from: SocketAddr, datagram: &mut [u8]) -> Incoming;
    /// The next datagram to send, written into `buf`, and where it goes.
    fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<Transmit>;
    /// When the node wants [`Node::handle_timeout`], on the wire clock.
    fn poll_timeout(&mut self) -> Option<u32>;
    /// Tells the node the time.
    fn handle_timeout(&mut self, now: u32);
}

impl Node for Endpoint {
    fn handle_datagram(&mut self, now: u32, from: SocketAddr, datagram: &mut [u8]) -> Incoming {
        Endpoint::handle_datagram(self, now, from, datagram)
    }

    fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<Transmit> {
        Endpoint::poll_transmit(self, now, buf)
    }

    fn poll_timeout(&mut self) -> Option<u32> {
        Endpoint::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: u32) {
        Endpoint::handle_timeout(self, now);
    }
}

/// One host: an endpoint at an address.
#[derive(Debug)]
pub struct Host<E = Endpoint> {
    /// The endpoint.
    pub endpoint: E,
    /// Where it sends from and receives at. Change it to move the host.
    pub addr: SocketAddr,
}

/// Totals of what crossed the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams put on the network (injected ones included).
    pub sent: u64,
    /// Datagrams lost on a path.
    pub lost: u64,
    /// Datagrams that arrived at a host.
    pub delivered: u64,
    /// Datagrams that arrived at an address no host has.
    pub unreachable: u64,
}

/// Steps at one instant before the network calls it a livelock.
const STALL_LIMIT: u32 = 1_000_000;

/// Hosts, paths and the clock. See the [module documentation](self).
pub struct Net {
    now: u64,
    rng: Rng,
    paths: Box<dyn Fn(usize, usize) -> LinkConfig>,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    in_flight: std::collections::HashMap<u64, Datagram>,
    next_seq: u64,
    stalls: u32,
    /// Every datagram put on the network, in order, while `Some`.
    pub tap: Option<Vec<Datagram>>,
    stats: NetStats,
}

impl core::fmt::Debug for Net {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Net")
            .field("now", &self.now)
            .field("in_flight", &self.in_flight.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Net {
    /// A network where the path from host `i` to host `j` has the faults `paths(i, j)`.
    pub fn new(seed: u64, paths: impl Fn(usize, usize) -> LinkConfig + 'static) -> Net {
        Net {
            now: 0,
            rng: Rng::new(seed),
            paths: Box::new(paths),
            queue: BinaryHeap::new(),
            in_flight: std::collections::HashMap::new(),
            next_seq: 0,
            stalls: 0,
            tap: None,
            stats: NetStats::default(),
        }
    }

    /// Virtual milliseconds since the start.
    pub fn clock(&self) -> u64 {
        self.now
    }

    /// The clock as endpoints see it.
    pub fn now(&self) -> u32 {
        self.now as u32
    }

    /// Totals so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    fn schedule(&mut self, at: u64, datagram: Datagram) {
        if let Some(tap) = &mut self.tap {
            tap.push(datagram.clone());
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Reverse((at, seq)));
        self.in_flight.insert(seq, datagram);
    }

    /// Puts a datagram on the network with no faults; it arrives at the current instant.
    pub fn inject(&mut self, datagram: Datagram) {
        self.stats.sent += 1;
        self.schedule(self.now, datagram);
    }

    fn send<E>(&mut self, from_host: usize, hosts: &[Host<E>], datagram: Datagram) {
        self.stats.sent += 1;
        let to_host = hosts.iter().position(|h| h.addr == datagram.to);
        let path = to_host.map_or_else(LinkConfig::default, |j| (self.paths)(from_host, j));
        if self.rng.chance(path.loss) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.chance(path.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut d = datagram.clone();
            if !d.bytes.is_empty() && self.rng.chance(path.corrupt) {
                let bit = self.rng.below(d.bytes.len() * 8);
                d.bytes[bit / 8] ^= 1 << (bit % 8);
            }
            let at = self.now + self.rng.range(path.delay_min, path.delay_max);
            self.schedule(at, d);
        }
    }

    /// Drains every host's outgoing datagrams onto the network.
    pub fn transmit<E: Node>(&mut self, hosts: &mut [Host<E>]) {
        let mut buf = vec![0u8; 65536];
        for i in 0..hosts.len() {
            while let Some(t) = hosts[i].endpoint.poll_transmit(self.now(), &mut buf) {
                let d = Datagram {
                    from: hosts[i].addr,
                    to: t.destination,
                    bytes: buf[..t.len].to_vec(),
                };
                self.send(i, hosts, d);
            }
        }
    }

    /// Delivers what has arrived by now (replies written in place go back at once, through
    /// the path's faults).
    pub fn deliver<E: Node>(&mut self, hosts: &mut [Host<E>]) {
        while let Some(&Reverse((at, seq))) = self.queue.peek() {
            if at > self.now {
                break;
            }
            self.queue.pop();
            let Some(mut d) = self.in_flight.remove(&seq) else {
                continue;
            };
            let Some(j) = hosts.iter().position(|h| h.addr == d.to) else {
                self.stats.unreachable += 1;
                continue;
            };
            self.stats.delivered += 1;
            let now = self.now();
            if let Incoming::Reply(n) = hosts[j].endpoint.handle_datagram(now, d.from, &mut d.bytes)
            {
                let reply = Datagram {
                    from: hosts[j].addr,
                    to: d.from,
                    bytes: d.bytes[..n].to_vec(),
                };
                self.send(j, hosts, reply);
            }
        }
    }

    /// Moves to the next event no later than `max_wait` ms ahead (an arrival or a host's
    /// deadline), runs timers, delivers, and drains what the hosts send.
    ///
    /// # Panics
    ///
    /// If the hosts keep producing work without time passing (a livelock).
    pub fn step<E: Node>(&mut self, hosts: &mut [Host<E>], max_wait: u64) {
        let mut next = self.now + max_wait;
        if let Some(&Reverse((at, _))) = self.queue.peek() {
            next = next.min(at);
        }
        for h in hosts.iter_mut() {
            if let Some(t) = h.endpoint.poll_timeout() {
                let ahead = t.wrapping_sub(self.now()) as i32;
                next = next.min(self.now + ahead.max(0) as u64);
            }
        }
        if next == self.now {
            self.stalls += 1;
            assert!(self.stalls < STALL_LIMIT, "livelock at {} ms", self.now);
        } else {
            self.stalls = 0;
        }
        self.now = next;
        for h in hosts.iter_mut() {
            h.endpoint.handle_timeout(self.now());
        }
        self.deliver(hosts);
        self.transmit(hosts);
    }

    /// Steps until `done` holds or `deadline` (virtual ms) passes; returns whether it held.
    pub fn run_until<E: Node>(
        &mut self,
        hosts: &mut [Host<E>],
        deadline: u64,
        mut done: impl FnMut(&mut [Host<E>]) -> bool,
    ) -> bool {
        self.transmit(hosts);
        while self.now < deadline {
            if done(hosts) {
                return true;
            }
            self.step(hosts, deadline - self.now);
        }
        done(hosts)
    }
}
