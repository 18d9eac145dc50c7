//! A deterministic network simulator: two endpoints, two [`Link`]s, one virtual clock.
//!
//! Everything is driven by a seed: the same seed and the same calls give the same run, byte for
//! byte, on any machine. Time only moves when the simulator moves it, straight to the next
//! event (a datagram arriving, an endpoint's deadline), so hours of simulated traffic take
//! milliseconds and no test ever sleeps.
//!
//! ```
//! use kcp_core::sim::{LinkConfig, Sim};
//! use kcp_core::{Config, Kcp};
//!
//! let link = LinkConfig::lossy(0.1, 20, 40);
//! let mut sim = Sim::new(1, link.clone(), link);
//! let config = Config::fast3();
//! let (mut a, mut b) = (Kcp::new(1, &config).unwrap(), Kcp::new(1, &config).unwrap());
//! a.send(b"ping").unwrap();
//! let mut got = [0u8; 4];
//! while b.recv(&mut got).is_err() {
//!     sim.step(&mut a, &mut b, 100);
//! }
//! assert_eq!(&got, b"ping");
//! ```

mod link;
pub mod net;
mod rng;

pub use link::{Bandwidth, Link, LinkConfig, LinkStats};
pub use rng::Rng;

use crate::seq;
use crate::Kcp;

/// Something the simulator can drive: the sans-IO verbs of a KCP peer.
pub trait Endpoint {
    /// Feeds a datagram that arrived.
    fn handle_datagram(&mut self, now: u32, datagram: &[u8]);
    /// Tells the endpoint the time.
    fn handle_timeout(&mut self, now: u32);
    /// The next datagram to send, written into `buf`.
    fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<usize>;
    /// When the endpoint wants [`Endpoint::handle_timeout`], on the wire clock.
    fn poll_timeout(&self) -> Option<u32>;
}

impl Endpoint for Kcp {
    fn handle_datagram(&mut self, now: u32, datagram: &[u8]) {
        // Rejected datagrams are counted in the machine's stats; the simulator moves on.
        let _ = Kcp::handle_datagram(self, now, datagram);
    }

    fn handle_timeout(&mut self, now: u32) {
        Kcp::handle_timeout(self, now);
    }

    fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<usize> {
        Kcp::poll_transmit(self, now, buf)
    }

    fn poll_timeout(&self) -> Option<u32> {
        Kcp::poll_timeout(self)
    }
}

/// Steps at one instant before the simulator calls it a livelock.
const STALL_LIMIT: u32 = 100_000;

/// Two endpoints, `a` and `b`, joined by a link each way.
#[derive(Debug)]
pub struct Sim {
    clock: u64,
    origin: u32,
    /// The `a -> b` direction.
    pub a_to_b: Link,
    /// The `b -> a` direction.
    pub b_to_a: Link,
    buf: Vec<u8>,
    stalled: u32,
}

impl Sim {
    /// A simulator whose two links draw from streams derived from `seed`.
    pub fn new(seed: u64, a_to_b: LinkConfig, b_to_a: LinkConfig) -> Sim {
        let mut seeds = Rng::new(seed);
        Sim {
            clock: 0,
            origin: 0,
            a_to_b: Link::new(a_to_b, seeds.next_u64()),
            b_to_a: Link::new(b_to_a, seeds.next_u64()),
            buf: vec![0; 65_536],
            stalled: 0,
        }
    }

    /// Starts the endpoints' clock at `origin` instead of 0 (start near `u32::MAX` to test
    /// wrapping).
    pub fn with_origin(mut self, origin: u32) -> Sim {
        self.origin = origin;
        self
    }

    /// Simulated milliseconds since the start.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// The endpoints' clock: `origin + clock`, wrapping.
    pub fn now(&self) -> u32 {
        self.origin.wrapping_add(self.clock as u32)
    }

    /// Moves the clock forward to `t` (never back).
    pub fn advance_to(&mut self, t: u64) {
        self.clock = self.clock.max(t);
    }

    /// Moves every datagram both endpoints want to send onto the links.
    pub fn transmit(&mut self, a: &mut impl Endpoint, b: &mut impl Endpoint) {
        let now = self.now();
        while let Some(len) = a.poll_transmit(now, &mut self.buf) {
            self.a_to_b.send(self.clock, &self.buf[..len]);
        }
        while let Some(len) = b.poll_transmit(now, &mut self.buf) {
            self.b_to_a.send(self.clock, &self.buf[..len]);
        }
    }

    /// Hands every datagram that has arrived by now to its endpoint.
    pub fn deliver(&mut self, a: &mut impl Endpoint, b: &mut impl Endpoint) {
        let now = self.now();
        while let Some(d) = self.a_to_b.receive(self.clock) {
            b.handle_datagram(now, &d);
        }
        while let Some(d) = self.b_to_a.receive(self.clock) {
            a.handle_datagram(now, &d);
        }
    }

    /// When something happens next: an arrival or an endpoint deadline.
    pub fn next_event(&self, a: &impl Endpoint, b: &impl Endpoint) -> Option<u64> {
        let deadline = |e: &dyn Fn() -> Option<u32>| {
            e().map(|t| self.clock + seq::diff(t, self.now()).max(0) as u64)
        };
        [
            self.a_to_b.next_arrival(),
            self.b_to_a.next_arrival(),
            deadline(&|| a.poll_timeout()),
            deadline(&|| b.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the network up to the next event, but at most `max_wait` ms ahead: sends what is
    /// pending, moves the clock, delivers arrivals, fires due deadlines and sends again.
    ///
    /// # Panics
    ///
    /// If the endpoints keep asking to be woken at the same instant without time moving (a
    /// livelock in the code under test).
    pub fn step(&mut self, a: &mut impl Endpoint, b: &mut impl Endpoint, max_wait: u64) {
        self.transmit(a, b);
        let limit = self.clock + max_wait;
        let target = self.next_event(a, b).map_or(limit, |t| t.min(limit));
        if target <= self.clock {
            self.stalled += 1;
            assert!(
                self.stalled < STALL_LIMIT,
                "livelock: endpoints keep asking for time {} without progress",
                self.clock
            );
        } else {
            self.stalled = 0;
        }
        self.advance_to(target);
        self.deliver(a, b);
        let now = self.now();
        for endpoint in [a as &mut dyn Endpoint, b as &mut dyn Endpoint] {
            if endpoint
                .poll_timeout()
                .is_some_and(|t| seq::at_or_after(now, t))
            {
                endpoint.handle_timeout(now);
            }
        }
        self.transmit(a, b);
    }
}
