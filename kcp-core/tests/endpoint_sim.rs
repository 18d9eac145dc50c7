//! The sealed endpoint on the address-aware simulator: handshakes under heavy loss, spoofed
//! handshake floods, attacks on sealed datagrams, migration, close and restart detection, and
//! exactly-once delivery with sealing and native FEC.
//!
//! Every test is seeded and runs on the simulator's virtual clock: no sleeps, no wall-clock
//! assertions. Run with `--nocapture` to see the figures the tests print.

use kcp_core::endpoint::{
    CallError, CloseReason, DropReason, Endpoint, EndpointConfig, EndpointStats, Event, Incoming,
    SessionId,
};
use kcp_core::sealed::handshake::{self, kind, Initiator, COOKIE_REPLY_LEN, INITIATION_LEN};
use kcp_core::sealed::keys::Key;
use kcp_core::sealed::packet::{OpenError, HEADER_LEN, OVERHEAD};
use kcp_core::sealed::replay::Replay;
use kcp_core::sim::net::{Datagram, Host, Net};
use kcp_core::sim::{LinkConfig, Rng};
use kcp_core::{RecvError, SendError};
use std::cell::RefCell;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;

const SERVER: &str = "10.0.0.1:4000";
const CLIENT: &str = "10.0.0.2:5000";
/// Where the client moves to in the migration test.
const CLIENT_MOVED: &str = "10.0.7.7:6000";
/// An address no host has, used as a spoofed source.
const SPOOFED: &str = "203.0.113.66:5000";
const KEY: [u8; 32] = [0x5e; 32];
/// One-way delay of the plain links: a 50 ms round trip.
const ONE_WAY: u64 = 25;
const RTT: u64 = 2 * ONE_WAY;
/// Largest message a [`Flow`] sends.
const MAX_MESSAGE: usize = 4000;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// 32 seed bytes for an endpoint, from the test seed and the endpoint's role.
fn seed32(seed: u64, role: u64) -> [u8; 32] {
    let mut rng = Rng::new(seed ^ role.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut out = [0; 32];
    for chunk in out.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    out
}

/// The default configuration around the test key.
fn config(accept: bool) -> EndpointConfig {
    let mut c = EndpointConfig::new(Key::from_bytes(KEY));
    c.accept = accept;
    c
}

/// Short liveness timers, for the tests that wait for them.
fn quick(accept: bool) -> EndpointConfig {
    let mut c = config(accept);
    c.keepalive = 500;
    c.idle_timeout = 2_000;
    c
}

/// A link with `loss` each way and a steady 50 ms round trip.
fn link(loss: f64) -> LinkConfig {
    LinkConfig::lossy(loss, ONE_WAY, ONE_WAY)
}

fn is_sealed(d: &Datagram) -> bool {
    matches!(d.bytes.first(), Some(&(kind::DATA | kind::CONTROL)))
}

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    hash
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The `q`-quantile of sorted values (nearest rank).
fn quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The events every host reported, with the virtual time they were collected at.
type Log = [Vec<(u64, Event)>];

fn closed_in(log: &Log, host: usize, id: SessionId) -> Option<(u64, CloseReason)> {
    log[host].iter().find_map(|&(t, e)| match e {
        Event::Closed(i, reason) if i == id => Some((t, reason)),
        _ => None,
    })
}

/// Something done to the hosts before every check of a run (a flood, say).
type Background = Box<dyn FnMut(u32, &mut [Host])>;

/// Host 0 is a server at [`SERVER`], host 1 a client at [`CLIENT`].
struct World {
    seed: u64,
    net: Net,
    hosts: Vec<Host>,
    log: Vec<Vec<(u64, Event)>>,
    background: Option<Background>,
}

/// An established session, by its id on each side.
#[derive(Clone, Copy, Debug)]
struct Pair {
    client: SessionId,
    server: SessionId,
    /// From `connect` to `Event::Connected` (ms).
    connected_after: u64,
}

impl World {
    fn new(seed: u64, link: LinkConfig, server: EndpointConfig, client: EndpointConfig) -> World {
        let host = |config, role, at| Host {
            endpoint: Endpoint::new(config, seed32(seed, role), 0).unwrap(),
            addr: addr(at),
        };
        World {
            seed,
            net: Net::new(seed, move |_, _| link.clone()),
            hosts: vec![host(server, 1, SERVER), host(client, 2, CLIENT)],
            log: vec![Vec::new(), Vec::new()],
            background: None,
        }
    }

    /// Default configurations on a lossless 50 ms link.
    fn clean(seed: u64) -> World {
        World::new(seed, link(0.0), config(true), config(false))
    }

    fn now(&self) -> u32 {
        self.net.now()
    }

    fn clock(&self) -> u64 {
        self.net.clock()
    }

    fn stats(&self, host: usize) -> EndpointStats {
        self.hosts[host].endpoint.stats()
    }

    fn collect(&mut self) {
        let now = self.net.clock();
        self.log
            .resize_with(self.hosts.len().max(self.log.len()), Vec::new);
        for (h, log) in self.hosts.iter_mut().zip(&mut self.log) {
            log.extend(std::iter::from_fn(|| h.endpoint.poll_event()).map(|e| (now, e)));
        }
    }

    /// Steps until `done` holds (it sees the clock, the hosts and every event so far) or the
    /// clock reaches `deadline`; returns whether it held.
    fn run_until(
        &mut self,
        deadline: u64,
        mut done: impl FnMut(u32, &mut [Host], &Log) -> bool,
    ) -> bool {
        self.net.transmit(&mut self.hosts);
        loop {
            if let Some(background) = self.background.as_mut() {
                background(self.net.now(), &mut self.hosts);
            }
            self.collect();
            if done(self.net.now(), &mut self.hosts, &self.log) {
                return true;
            }
            // What `done` queued goes out before the next timeout, as the endpoint's contract
            // asks (`poll_transmit` after a send).
            self.net.transmit(&mut self.hosts);
            let now = self.net.clock();
            if now >= deadline {
                return false;
            }
            self.net.step(&mut self.hosts, deadline - now);
        }
    }

    fn run_for(&mut self, ms: u64) {
        self.run_until(self.clock() + ms, |_, _, _| false);
    }

    fn closed(&self, host: usize, id: SessionId) -> Option<(u64, CloseReason)> {
        closed_in(&self.log, host, id)
    }

    /// Runs until host `host` reports session `id` closed, for at most `limit` ms, doing
    /// `each` to the hosts at every step; returns how long after the start it closed, and why.
    fn wait_closed(
        &mut self,
        host: usize,
        id: SessionId,
        limit: u64,
        mut each: impl FnMut(&mut [Host]),
    ) -> Option<(u64, CloseReason)> {
        let start = self.clock();
        self.run_until(start + limit, |_, hosts, log| {
            each(hosts);
            closed_in(log, host, id).is_some()
        });
        self.closed(host, id).map(|(t, reason)| (t - start, reason))
    }

    /// Copies of the datagrams the tap recorded that `keep` selects.
    fn tapped(&self, keep: impl Fn(&Datagram) -> bool) -> Vec<Datagram> {
        let tap = self.net.tap.as_deref().expect("the tap is on");
        tap.iter().filter(|d| keep(d)).cloned().collect()
    }

    fn migrations_logged(&self) -> Vec<(SessionId, SocketAddr)> {
        self.log[0]
            .iter()
            .filter_map(|&(_, e)| match e {
                Event::Migrated(id, to) => Some((id, to)),
                _ => None,
            })
            .collect()
    }

    /// Connects host 1 to host 0 and waits until the server has accepted the session too; the
    /// client's close reason if the attempt fails.
    fn handshake(&mut self) -> Result<Pair, CloseReason> {
        let start = self.clock();
        let server_addr = self.hosts[0].addr;
        let now = self.now();
        let id = self.hosts[1].endpoint.connect(now, server_addr).unwrap();
        let timeout = u64::from(self.hosts[1].endpoint.config().handshake_timeout);
        let (c0, s0) = (self.log[1].len(), self.log[0].len());
        let mut result = None;
        self.run_until(start + 2 * timeout, |_, _, log| {
            if let Some((_, reason)) = closed_in(log, 1, id) {
                result = Some(Err(reason));
            }
            let connected = log[1][c0..]
                .iter()
                .find_map(|&(t, e)| (e == Event::Connected(id)).then_some(t));
            let accepted = log[0][s0..].iter().find_map(|&(_, e)| match e {
                Event::Accepted(s) => Some(s),
                _ => None,
            });
            if let (Some(t), Some(server)) = (connected, accepted) {
                result = Some(Ok(Pair {
                    client: id,
                    server,
                    connected_after: t - start,
                }));
            }
            result.is_some()
        });
        result.unwrap_or_else(|| panic!("seed {}: handshake neither done nor failed", self.seed))
    }

    /// Runs the flows until `until` holds, for at most `limit` ms; returns whether it held.
    fn pump_until(
        &mut self,
        flows: &mut [Flow],
        limit: u64,
        mut until: impl FnMut(&[Flow]) -> bool,
    ) -> bool {
        self.run_until(self.clock() + limit, |_, hosts, _| {
            for f in flows.iter_mut() {
                f.pump(hosts);
            }
            until(flows)
        })
    }

    /// Runs the flows to their end and checks them whole; then runs on a while to make sure
    /// nothing more arrives. Returns the virtual ms the transfer took.
    fn transfer(&mut self, flows: &mut [Flow], limit: u64) -> u64 {
        let start = self.clock();
        let done = self.pump_until(flows, limit, |f| f.iter().all(Flow::done));
        let progress: Vec<_> = flows.iter().map(|f| (f.received, f.total)).collect();
        assert!(
            done,
            "seed {}: transfer unfinished after {limit} ms (received, total): {progress:?}",
            self.seed
        );
        let took = self.clock() - start;
        self.pump_until(flows, 10 * RTT, |_| false);
        for f in flows.iter() {
            f.check_complete();
        }
        took
    }

    /// Makes host `h` queue the flow's next messages and takes the first datagram it sends
    /// before the network sees it.
    fn intercept(&mut self, flow: &mut Flow) -> Vec<u8> {
        flow.pump(&mut self.hosts);
        let h = flow.from;
        let mut buf = vec![0u8; 2048];
        let now = self.now();
        let t = self.hosts[h]
            .endpoint
            .poll_transmit(now, &mut buf)
            .expect("a datagram to intercept");
        assert_eq!(t.destination, self.hosts[1 - h].addr);
        buf.truncate(t.len);
        buf
    }

    /// Hands `bytes` from `from` straight to host `h` and says what it made of them.
    fn feed(&mut self, h: usize, from: SocketAddr, bytes: &[u8]) -> Incoming {
        let mut copy = bytes.to_vec();
        let now = self.now();
        self.hosts[h].endpoint.handle_datagram(now, from, &mut copy)
    }

    /// Puts copies of the datagrams on the network, from their own source address or from
    /// `spoofed`, and delivers them.
    fn inject_all<'a>(
        &mut self,
        datagrams: impl IntoIterator<Item = &'a Datagram>,
        spoofed: Option<SocketAddr>,
    ) {
        for d in datagrams {
            self.net.inject(Datagram {
                from: spoofed.unwrap_or(d.from),
                ..d.clone()
            });
        }
        self.run_for(1);
    }

    /// Checks that nothing happened to the established pair: no close, same addresses, one
    /// session each side.
    fn assert_undisturbed(&self, pair: &Pair) {
        assert_eq!(self.closed(0, pair.server), None);
        assert_eq!(self.closed(1, pair.client), None);
        assert_eq!(
            self.hosts[1].endpoint.remote(pair.client),
            Some(self.hosts[0].addr)
        );
        assert_eq!(
            self.hosts[0].endpoint.remote(pair.server),
            Some(self.hosts[1].addr)
        );
        assert_eq!(self.stats(0).sessions, 1);
        assert_eq!(self.stats(1).sessions, 1);
    }
}

/// One direction of a transfer: numbered messages of seeded lengths and contents, each
/// checked on arrival against the one expected next, so a byte lost, duplicated, changed or
/// reordered fails the test. Hashes of both ends are compared at the end as well.
#[derive(Debug)]
struct Flow {
    from: usize,
    to: usize,
    tx: SessionId,
    rx: SessionId,
    salt: u64,
    total: u64,
    pending: Option<Vec<u8>>,
    sent: u64,
    sent_messages: u32,
    sent_hash: u64,
    received: u64,
    received_messages: u32,
    received_hash: u64,
}

impl Flow {
    fn new(from: usize, to: usize, tx: SessionId, rx: SessionId, salt: u64, total: u64) -> Flow {
        Flow {
            from,
            to,
            tx,
            rx,
            salt,
            total,
            pending: None,
            sent: 0,
            sent_messages: 0,
            sent_hash: FNV_START,
            received: 0,
            received_messages: 0,
            received_hash: FNV_START,
        }
    }

    fn up(pair: &Pair, salt: u64, total: u64) -> Flow {
        Flow::new(1, 0, pair.client, pair.server, salt, total)
    }

    fn down(pair: &Pair, salt: u64, total: u64) -> Flow {
        Flow::new(0, 1, pair.server, pair.client, salt ^ 0xd0e5, total)
    }

    /// `total` bytes each way.
    fn both(pair: &Pair, salt: u64, total: u64) -> [Flow; 2] {
        [Flow::up(pair, salt, total), Flow::down(pair, salt, total)]
    }

    /// Message `seq` when `left` bytes remain: its number in the first bytes, then seeded
    /// bytes.
    fn message(&self, seq: u32, left: u64) -> Vec<u8> {
        let mut rng = Rng::new(self.salt.rotate_left(17) ^ u64::from(seq));
        let len = rng.range(1, MAX_MESSAGE as u64).min(left) as usize;
        let mut m: Vec<u8> = (0..len.div_ceil(8))
            .flat_map(|_| rng.next_u64().to_le_bytes())
            .take(len)
            .collect();
        let n = len.min(4);
        m[..n].copy_from_slice(&seq.to_le_bytes()[..n]);
        m
    }

    fn pump(&mut self, hosts: &mut [Host]) {
        while self.sent < self.total {
            let m = match self.pending.take() {
                Some(m) => m,
                None => self.message(self.sent_messages, self.total - self.sent),
            };
            match hosts[self.from].endpoint.send(self.tx, &m) {
                Ok(_) => {
                    self.sent += m.len() as u64;
                    self.sent_messages += 1;
                    self.sent_hash = fnv(self.sent_hash, &m);
                }
                Err(CallError::Send(SendError::QueueFull)) => {
                    self.pending = Some(m);
                    break;
                }
                Err(e) => panic!("flow {}→{}: send failed: {e}", self.from, self.to),
            }
        }
        let mut buf = [0u8; MAX_MESSAGE];
        loop {
            match hosts[self.to].endpoint.recv(self.rx, &mut buf) {
                Ok(n) => self.arrived(&buf[..n]),
                Err(CallError::Recv(RecvError::Empty)) => break,
                Err(e) => panic!("flow {}→{}: recv failed: {e}", self.from, self.to),
            }
        }
    }

    fn arrived(&mut self, got: &[u8]) {
        let (from, to, seq) = (self.from, self.to, self.received_messages);
        assert!(
            self.received < self.total,
            "flow {from}→{to}: message {seq} ({} bytes) after the end",
            got.len()
        );
        let expected = self.message(seq, self.total - self.received);
        assert!(
            got == expected.as_slice(),
            "flow {from}→{to}: message {seq} is not the one sent next ({} bytes, expected {})",
            got.len(),
            expected.len()
        );
        self.received += got.len() as u64;
        self.received_messages += 1;
        self.received_hash = fnv(self.received_hash, got);
    }

    fn done(&self) -> bool {
        self.received == self.total
    }

    fn check_complete(&self) {
        let (from, to) = (self.from, self.to);
        assert_eq!(self.sent, self.total, "flow {from}→{to}: all sent");
        assert_eq!(self.received, self.total, "flow {from}→{to}: all received");
        assert_eq!(
            self.received_messages, self.sent_messages,
            "flow {from}→{to}"
        );
        assert_eq!(self.received_hash, self.sent_hash, "flow {from}→{to}: hash");
    }
}

// ------------------------------------------------------------------------------------------
// 0. The endpoint's timer loop.

/// A session whose deadline is work for `poll_transmit` (data just queued; likewise a
/// retransmission, a delayed ack or a keepalive coming due) asks for a timeout now, and
/// [`Endpoint::handle_timeout`] must run it once and return rather than reschedule it at now
/// over and over (it once did, and spun). The scenario runs on a thread so that a regression
/// fails the test instead of hanging it; the wait is a hang guard, not a timing measurement.
#[test]
fn handle_timeout_returns_when_a_session_has_work_due() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut w = World::clean(8);
        let pair = w.handshake().expect("handshake");
        // Data queued: the client wants to send at once.
        let now = w.now();
        w.hosts[1].endpoint.send(pair.client, b"queued").unwrap();
        assert_eq!(w.hosts[1].endpoint.poll_timeout(), Some(now));
        w.hosts[1].endpoint.handle_timeout(now);
        let _ = done.send("queued data");
        w.run_for(1_000);
        // An idle session: the next deadline is the keepalive, ten seconds after the data
        // left, rounded up to the whole second all coarse timers share.
        let keepalive = w.hosts[1].endpoint.poll_timeout().expect("a keepalive");
        let keepalive_gap = w.hosts[1].endpoint.config().keepalive;
        let earliest = now + keepalive_gap;
        assert!(
            (earliest..earliest + 1_000).contains(&keepalive) && keepalive % 1_000 == 0,
            "keepalive at {keepalive}, data left at {now}"
        );
        w.hosts[1].endpoint.handle_timeout(keepalive);
        let _ = done.send("keepalive");
    });
    for case in ["queued data", "keepalive"] {
        match finished.recv_timeout(std::time::Duration::from_secs(60)) {
            Ok(got) => assert_eq!(got, case),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("handle_timeout did not return ({case}): it spins")
            }
            Err(e) => panic!("the scenario failed before {case}: {e}"),
        }
    }
}

// ------------------------------------------------------------------------------------------
// 1. Handshakes at 30 % loss each way.

#[test]
fn handshake_completes_at_30_percent_loss_within_the_default_timeout() {
    const RUNS: u64 = 1_000;
    let mut times = Vec::new();
    let mut failures = Vec::new();
    for seed in 0..RUNS {
        let mut w = World::new(seed, link(0.3), config(true), config(false));
        let timeout = u64::from(w.hosts[1].endpoint.config().handshake_timeout);
        assert_eq!(timeout, 10_000, "the default handshake timeout");
        let expected_sessions = match w.handshake() {
            Ok(pair) => {
                assert!(pair.connected_after <= timeout, "seed {seed}: {pair:?}");
                times.push(pair.connected_after);
                1
            }
            Err(reason) => {
                failures.push((seed, reason));
                0
            }
        };
        // Let resent handshake messages still on the way arrive and a failed attempt's
        // half-made session on the server time out (keepalives pass meanwhile): none may
        // leave a second or leftover session.
        w.run_for(timeout + 1_000);
        for (h, role) in [(0, "server"), (1, "client")] {
            let s = w.stats(h);
            assert_eq!(
                (s.sessions, s.handshakes),
                (expected_sessions, 0),
                "seed {seed}: {role} {s:?}"
            );
        }
        assert_eq!(w.stats(0).accepted, expected_sessions as u64, "seed {seed}");
    }
    times.sort_unstable();
    let ok = times.len() as u64;
    println!(
        "handshake at 30% loss each way, RTT {RTT} ms, default timeout: {ok}/{RUNS} succeeded \
         ({:.1}%); time to connect: median {} ms, p99 {} ms, max {} ms; failures {failures:?}",
        100.0 * ok as f64 / RUNS as f64,
        quantile(&times, 0.5),
        quantile(&times, 0.99),
        times.last().unwrap(),
    );
    assert!(
        ok * 100 >= RUNS * 99,
        "success rate below 99 %: {ok}/{RUNS}, failures {failures:?}"
    );
}

// ------------------------------------------------------------------------------------------
// 2. A flood of spoofed handshake datagrams.

/// What a spoofed datagram is meant to be, and so how it must be refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spoof {
    /// A well-formed Hello: answered in place with a shorter cookie reply.
    Hello,
    /// An Initiation with a forged cookie.
    Initiation,
    /// Random bytes, or a handshake kind of the wrong length.
    Garbage,
    /// Another protocol version.
    Version,
    /// A server-to-client message (cookie reply, response) sent to a server.
    Unexpected,
    /// Sealed-looking bytes for a session nobody has.
    Sealed,
}

impl Spoof {
    fn expected(self) -> Incoming {
        match self {
            Spoof::Hello => Incoming::Reply(COOKIE_REPLY_LEN),
            Spoof::Initiation => Incoming::Dropped(DropReason::BadCookie),
            Spoof::Garbage => Incoming::Dropped(DropReason::Malformed),
            Spoof::Version => Incoming::Dropped(DropReason::Version),
            Spoof::Unexpected => Incoming::Dropped(DropReason::Unexpected),
            Spoof::Sealed => Incoming::Dropped(DropReason::UnknownSession),
        }
    }
}

/// A distinct source address for every `i`: a fifth IPv6, the rest IPv4.
fn spoofed_source(i: u32) -> SocketAddr {
    let port = 1024 + (i % 60_000) as u16;
    if i % 5 == 0 {
        let ip = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16);
        SocketAddr::from((ip, port))
    } else {
        SocketAddr::from((Ipv4Addr::from(0x6440_0000 + i), port))
    }
}

/// The flood's counts, by what was sent and what came back.
#[derive(Debug, Default)]
struct FloodTally {
    datagrams: u64,
    bytes: u64,
    replies: u64,
    reply_bytes: u64,
    by_kind: Vec<(Spoof, u64)>,
}

impl FloodTally {
    fn of(&self, kind: Spoof) -> u64 {
        self.by_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |&(_, n)| n)
    }
}

/// Sends spoofed handshake traffic, each datagram from a source address never used before.
struct Attacker {
    rng: Rng,
    /// Noise first messages, some under the right key and some under another: the cookie
    /// check must refuse them before any cryptography.
    initiations: Vec<[u8; INITIATION_LEN]>,
    next: u32,
    limit: u32,
    tally: FloodTally,
}

impl Attacker {
    fn new(seed: u64, limit: u32) -> Attacker {
        let initiations = (0..8u8)
            .map(|i| {
                let key = if i % 2 == 0 { KEY } else { [i; 32] };
                let initiator = Initiator::new(&Key::from_bytes(key), u32::from(i), [i; 32]);
                initiator.initiation(&[i; 16])
            })
            .collect();
        Attacker {
            rng: Rng::new(seed),
            initiations,
            next: 0,
            limit,
            tally: FloodTally::default(),
        }
    }

    fn random_bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.rng.next_u64() as u8).collect()
    }

    fn datagram(&mut self, i: u32) -> (Spoof, Vec<u8>) {
        let client = self.rng.next_u64() as u32;
        match i % 8 {
            0 | 1 => (Spoof::Hello, handshake::hello(client).to_vec()),
            2 | 3 => {
                let mut d = self.initiations[self.rng.below(self.initiations.len())].to_vec();
                d[2..6].copy_from_slice(&client.to_le_bytes());
                let cookie = self.random_bytes(16);
                d[6..22].copy_from_slice(&cookie);
                (Spoof::Initiation, d)
            }
            4 => {
                let len = self.rng.range(0, 1500) as usize;
                let mut d = self.random_bytes(len);
                if let Some(first) = d.first_mut() {
                    // Kind 0 or 7..=255: no kind of this protocol.
                    *first = match self.rng.below(250) {
                        0 => 0,
                        k => k as u8 + 6,
                    };
                }
                (Spoof::Garbage, d)
            }
            5 => {
                // Handshake kinds one byte short or long.
                let mut d = handshake::hello(client).to_vec();
                if self.rng.chance(0.5) {
                    d.pop();
                } else {
                    d.push(0);
                }
                (Spoof::Garbage, d)
            }
            6 => {
                let mut d = if self.rng.chance(0.5) {
                    handshake::hello(client).to_vec()
                } else {
                    self.initiations[0].to_vec()
                };
                d[1] = handshake::VERSION.wrapping_add(1 + self.rng.below(200) as u8);
                (Spoof::Version, d)
            }
            _ => {
                if self.rng.chance(0.5) {
                    let mut d = vec![0; COOKIE_REPLY_LEN];
                    handshake::write_cookie_reply(client, &[7; 16], &mut d);
                    (Spoof::Unexpected, d)
                } else {
                    let len = self.rng.range(OVERHEAD as u64, 1400) as usize;
                    let mut d = self.random_bytes(len);
                    d[0] = if self.rng.chance(0.5) {
                        kind::DATA
                    } else {
                        kind::CONTROL
                    };
                    (Spoof::Sealed, d)
                }
            }
        }
    }

    /// Hands up to `count` spoofed datagrams straight to `endpoint`, checking each answer.
    fn flood(&mut self, endpoint: &mut Endpoint, now: u32, count: u32) {
        for _ in 0..count.min(self.limit - self.next) {
            let i = self.next;
            self.next += 1;
            let (spoof, mut d) = self.datagram(i);
            let len = d.len();
            let t = &mut self.tally;
            t.datagrams += 1;
            t.bytes += len as u64;
            match t.by_kind.iter_mut().find(|(k, _)| *k == spoof) {
                Some((_, n)) => *n += 1,
                None => t.by_kind.push((spoof, 1)),
            }
            let got = endpoint.handle_datagram(now, spoofed_source(i), &mut d);
            assert_eq!(got, spoof.expected(), "spoofed datagram {i}");
            if let Incoming::Reply(n) = got {
                assert!(n < len, "a reply longer than its request");
                t.replies += 1;
                t.reply_bytes += n as u64;
            }
        }
    }
}

/// Checks the server's counters against what the attacker sent.
fn assert_flood_counted(stats: &EndpointStats, t: &FloodTally) {
    assert_eq!(stats.bad_cookies, t.of(Spoof::Initiation));
    assert_eq!(stats.malformed, t.of(Spoof::Garbage) + t.of(Spoof::Version));
    assert_eq!(stats.unexpected, t.of(Spoof::Unexpected));
    assert_eq!(stats.unknown_session, t.of(Spoof::Sealed));
    assert_eq!(
        stats.handshake_failures, 0,
        "no Diffie-Hellman for a forged cookie"
    );
    assert!(stats.reply_bytes <= stats.bytes_in);
}

/// Floods host 0 with `count` spoofed datagrams spread over one virtual second, as 100
/// bursts.
fn flood_for_a_second(w: &mut World, attacker: &RefCell<Attacker>, count: u32) {
    for _ in 0..100 {
        let now = w.now();
        attacker
            .borrow_mut()
            .flood(&mut w.hosts[0].endpoint, now, count / 100);
        w.run_for(10);
    }
}

#[test]
fn spoofed_handshake_flood_leaves_no_state_and_does_not_amplify() {
    const FLOOD: u32 = 100_000;
    let mut w = World::clean(2);
    let attacker = RefCell::new(Attacker::new(2, FLOOD));
    flood_for_a_second(&mut w, &attacker, FLOOD);

    let s = w.stats(0);
    let mut buf = vec![0u8; 2048];
    let mut transmits = 0;
    let now = w.now();
    while w.hosts[0].endpoint.poll_transmit(now, &mut buf).is_some() {
        transmits += 1;
    }
    let a = attacker.borrow();
    let t = &a.tally;
    println!(
        "flood: {} spoofed datagrams from {} addresses, {} B received; {} replies, {} B \
         ({:.3} of the bytes received; {} Hellos of {} B each answered with {} B); \
         bad_cookies {}, malformed {}, unexpected {}, unknown_session {}; afterwards sessions \
         {}, handshakes {}, poll_transmit datagrams {transmits}",
        s.datagrams_in,
        a.next,
        s.bytes_in,
        s.replies,
        s.reply_bytes,
        s.reply_bytes as f64 / s.bytes_in as f64,
        t.of(Spoof::Hello),
        handshake::HELLO_LEN,
        COOKIE_REPLY_LEN,
        s.bad_cookies,
        s.malformed,
        s.unexpected,
        s.unknown_session,
        s.sessions,
        s.handshakes,
    );
    assert_eq!(a.next, FLOOD);
    assert_eq!((s.datagrams_in, s.bytes_in), (t.datagrams, t.bytes));
    assert_eq!((s.replies, s.reply_bytes), (t.replies, t.reply_bytes));
    assert_eq!(s.replies, t.of(Spoof::Hello));
    assert_flood_counted(&s, t);
    assert!(s.reply_bytes <= s.bytes_in);
    assert_eq!((s.sessions, s.handshakes), (0, 0));
    assert_eq!((transmits, s.datagrams_out), (0, 0));
    assert_eq!(w.hosts[0].endpoint.poll_timeout(), None, "no timer either");
    assert_eq!(w.net.stats().sent, 0, "nothing went on the network");
}

#[test]
fn a_client_connects_and_transfers_during_a_spoofed_flood() {
    const BEFORE: u32 = 20_000;
    const DURING: u32 = 30_000;
    let mut w = World::clean(12);
    let attacker = Rc::new(RefCell::new(Attacker::new(12, BEFORE + DURING)));
    flood_for_a_second(&mut w, &attacker, BEFORE);

    let flooder = Rc::clone(&attacker);
    w.background = Some(Box::new(move |now, hosts| {
        flooder
            .borrow_mut()
            .flood(&mut hosts[0].endpoint, now, 2_000);
    }));
    let pair = w
        .handshake()
        .expect("a real client connects during the flood");
    let during_handshake = attacker.borrow().next - BEFORE;
    w.transfer(&mut Flow::both(&pair, 12, 256 << 10), 60_000);
    w.background = None;

    let a = attacker.borrow();
    let s = w.stats(0);
    println!(
        "flood during a real client's handshake ({during_handshake} spoofed datagrams) and \
         transfer (256 KiB each way; {} in all): server received {} B, sent {} replies, {} B",
        a.next - BEFORE,
        s.bytes_in,
        s.replies,
        s.reply_bytes
    );
    assert!(during_handshake > 0);
    assert_eq!(
        a.next,
        BEFORE + DURING,
        "the flood went on during the transfer"
    );
    assert_flood_counted(&s, &a.tally);
    assert_eq!(
        s.replies,
        a.tally.of(Spoof::Hello) + 2,
        "the flood's Hellos, and the client's Hello and Initiation"
    );
    assert_eq!((s.sessions, s.handshakes, s.accepted), (1, 0, 1));
    w.assert_undisturbed(&pair);
}

// ------------------------------------------------------------------------------------------
// 3. Attacks on the sealed datagrams of an established session.

/// Counters the sealed-datagram checks move, for before/after comparisons.
fn drop_counters(s: &EndpointStats) -> [u64; 5] {
    [
        s.replays,
        s.forgeries,
        s.short,
        s.unknown_session,
        s.malformed + s.unexpected,
    ]
}

/// Where a refusal is counted, in the order of [`drop_counters`].
fn counter_of(got: Incoming) -> usize {
    match got {
        Incoming::Dropped(DropReason::Open(OpenError::Replay(_))) => 0,
        Incoming::Dropped(DropReason::Open(OpenError::Forged)) => 1,
        Incoming::Dropped(DropReason::Open(OpenError::Short)) => 2,
        Incoming::Dropped(DropReason::UnknownSession) => 3,
        Incoming::Dropped(DropReason::Malformed | DropReason::Unexpected) => 4,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn attacks_on_sealed_datagrams_are_counted_and_harmless() {
    let mut w = World::clean(3);
    let pair = w.handshake().expect("handshake");
    let server_addr = w.hosts[0].addr;
    let client_addr = w.hosts[1].addr;
    w.net.tap = Some(Vec::new());
    w.transfer(&mut Flow::both(&pair, 3, 128 << 10), 30_000);
    w.run_for(4 * RTT);
    let captured = w.tapped(is_sealed);
    w.net.tap = None;

    // Exact replays, both ways, from the original addresses.
    let before = [w.stats(0), w.stats(1)];
    w.inject_all(&captured, None);
    let to_server = captured.iter().filter(|d| d.to == server_addr).count() as u64;
    let to_client = captured.len() as u64 - to_server;
    let after = [w.stats(0), w.stats(1)];
    assert!(
        to_server > 50 && to_client > 50,
        "{to_server} / {to_client}"
    );
    assert_eq!(after[0].replays - before[0].replays, to_server);
    assert_eq!(after[1].replays - before[1].replays, to_client);
    for h in 0..2 {
        assert_eq!(after[h].forgeries, before[h].forgeries);
        assert_eq!(
            after[h].challenges, 0,
            "a replay is never a reason to probe a path"
        );
    }

    // Truncations, bit flips and unknown receivers of a datagram never delivered.
    let mut flow = Flow::up(&pair, 33, 64 << 10);
    let fresh = w.intercept(&mut flow);
    let before = drop_counters(&w.stats(0));
    let mut expected = [0u64; 5];
    let mut tally = |got: Incoming| expected[counter_of(got)] += 1;
    for len in 0..fresh.len() {
        let got = w.feed(0, client_addr, &fresh[..len]);
        let want = match len {
            0 => Incoming::Dropped(DropReason::Malformed),
            n if n < OVERHEAD => Incoming::Dropped(DropReason::Open(OpenError::Short)),
            _ => Incoming::Dropped(DropReason::Open(OpenError::Forged)),
        };
        assert_eq!(got, want, "truncated to {len} of {}", fresh.len());
        tally(got);
    }
    for bit in 0..fresh.len() * 8 {
        let mut bad = fresh.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let got = w.feed(0, client_addr, &bad);
        let ok = match bit / 8 {
            // The kind: no longer a sealed datagram.
            0 => matches!(
                got,
                Incoming::Dropped(DropReason::Malformed | DropReason::Unexpected)
            ),
            // The receiver id.
            1..=4 => got == Incoming::Dropped(DropReason::UnknownSession),
            // The counter: another counter, seen already or failing the tag.
            5..=8 => matches!(
                got,
                Incoming::Dropped(DropReason::Open(OpenError::Forged | OpenError::Replay(_)))
            ),
            _ => got == Incoming::Dropped(DropReason::Open(OpenError::Forged)),
        };
        assert!(ok, "bit {bit} flipped: {got:?}");
        tally(got);
    }
    let mut rng = Rng::new(3);
    for _ in 0..1000 {
        let mut other = fresh.clone();
        let receiver = loop {
            let r = rng.next_u64() as u32;
            if r != pair.server.0 {
                break r;
            }
        };
        other[1..5].copy_from_slice(&receiver.to_le_bytes());
        let got = w.feed(0, client_addr, &other);
        assert_eq!(got, Incoming::Dropped(DropReason::UnknownSession));
        tally(got);
    }
    let after = drop_counters(&w.stats(0));
    let delta: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(
        delta, expected,
        "(replays, forgeries, short, unknown, malformed)"
    );
    assert!(expected[1] >= ((fresh.len() - HEADER_LEN) * 8) as u64);
    // None of it moved the replay window: the datagram itself still opens.
    assert_eq!(w.feed(0, client_addr, &fresh), Incoming::Consumed);
    assert_eq!(
        w.feed(0, client_addr, &fresh),
        Incoming::Dropped(DropReason::Open(OpenError::Replay(Replay::Duplicate)))
    );
    w.transfer(std::slice::from_mut(&mut flow), 30_000);

    // A genuine datagram held back until more than the window has passed.
    let mut bulk = Flow::up(&pair, 34, 3 << 20);
    let held = w.intercept(&mut bulk);
    let sent_before = w.stats(1).datagrams_out;
    w.transfer(std::slice::from_mut(&mut bulk), 120_000);
    let sent_since = w.stats(1).datagrams_out - sent_before;
    assert!(
        sent_since > 2_100,
        "only {sent_since} datagrams after the held one"
    );
    let replays = w.stats(0).replays;
    assert_eq!(
        w.feed(0, client_addr, &held),
        Incoming::Dropped(DropReason::Open(OpenError::Replay(Replay::TooOld)))
    );
    assert_eq!(w.stats(0).replays, replays + 1);

    // The session carries on.
    w.transfer(&mut Flow::both(&pair, 36, 256 << 10), 60_000);
    w.assert_undisturbed(&pair);
    let s = w.stats(0);
    println!(
        "sealed attacks on the server: replays {}, forgeries {}, short {}, unknown_session {}, \
         malformed {}, unexpected {}; {sent_since} datagrams passed the held one",
        s.replays, s.forgeries, s.short, s.unknown_session, s.malformed, s.unexpected
    );
}

// ------------------------------------------------------------------------------------------
// 4. Migration, and attempts to hijack a session with replayed or copied datagrams.

#[test]
fn migration_mid_transfer_keeps_the_stream_and_old_replays_do_not_move_it_back() {
    let mut w = World::new(
        4,
        LinkConfig::lossy(0.02, 20, 30),
        config(true),
        config(false),
    );
    let pair = w.handshake().expect("handshake");
    let server_addr = w.hosts[0].addr;
    let (old, new) = (w.hosts[1].addr, addr(CLIENT_MOVED));
    w.net.tap = Some(Vec::new());
    let mut flows = Flow::both(&pair, 4, 2 << 20);
    let half = w.pump_until(&mut flows, 120_000, |f| {
        f.iter().all(|f| f.received >= 1 << 20)
    });
    assert!(half, "half the transfer before the move");
    let moved_at = w.clock();
    w.hosts[1].addr = new;
    let took = w.transfer(&mut flows, 120_000);

    assert_eq!(w.migrations_logged(), [(pair.server, new)]);
    let migrated_at = w.log[0]
        .iter()
        .find_map(|&(t, e)| matches!(e, Event::Migrated(..)).then_some(t))
        .unwrap();
    assert_eq!(w.stats(0).migrations, 1);
    assert_eq!(w.hosts[0].endpoint.remote(pair.server), Some(new));
    assert_eq!(w.hosts[1].endpoint.remote(pair.client), Some(server_addr));
    println!(
        "migration: 2 MiB each way in {took} ms after the move; the server followed the \
         client {} ms after it moved",
        migrated_at - moved_at
    );

    // What the client sent from its old address, replayed from there, is refused and does
    // not move the session back.
    let from_old = w.tapped(|d| d.from == old && d.to == server_addr && is_sealed(d));
    let before = w.stats(0);
    w.inject_all(&from_old, None);
    let after = w.stats(0);
    assert_eq!(after.replays - before.replays, from_old.len() as u64);
    assert_eq!(after.challenges, before.challenges);
    assert_eq!(after.migrations, 1);
    assert_eq!(w.hosts[0].endpoint.remote(pair.server), Some(new));

    w.transfer(&mut Flow::both(&pair, 44, 128 << 10), 30_000);
    w.assert_undisturbed(&pair);
    assert_eq!(w.migrations_logged().len(), 1);
}

#[test]
fn replayed_and_copied_datagrams_from_a_spoofed_address_cannot_move_a_session() {
    let mut w = World::clean(5);
    let pair = w.handshake().expect("handshake");
    let (server_addr, client_addr, spoof) = (w.hosts[0].addr, w.hosts[1].addr, addr(SPOOFED));
    w.net.tap = Some(Vec::new());
    w.transfer(&mut Flow::both(&pair, 5, 64 << 10), 30_000);

    // Old datagrams of the client, replayed from elsewhere.
    let old = w.tapped(|d| d.to == server_addr && is_sealed(d));
    let before = w.stats(0);
    w.inject_all(&old, Some(spoof));
    let after = w.stats(0);
    assert!(old.len() > 20);
    assert_eq!(after.replays - before.replays, old.len() as u64);
    assert_eq!(
        after.challenges, before.challenges,
        "a replay is not a reason to probe"
    );
    assert_eq!(w.hosts[0].endpoint.remote(pair.server), Some(client_addr));

    // A fresh datagram that never reached the server, copied from a spoofed address: it is
    // authentic and newest, so the server probes the new address, which cannot answer.
    let mut flows = Flow::both(&pair, 55, 256 << 10);
    let fresh = w.intercept(&mut flows[0]);
    let unreachable = w.net.stats().unreachable;
    let copy = Datagram {
        from: spoof,
        to: server_addr,
        bytes: fresh,
    };
    w.inject_all([&copy], None);
    assert_eq!(w.stats(0).challenges, before.challenges + 1);
    w.transfer(&mut flows, 60_000);
    let to_spoof = w.tapped(|d| d.from == server_addr && d.to == spoof);
    assert_eq!(to_spoof.len(), 1, "one challenge to the spoofed address");
    assert_eq!(to_spoof[0].bytes[0], kind::CONTROL);
    assert!(
        w.net.stats().unreachable > unreachable,
        "nobody there to answer"
    );
    assert_eq!(w.stats(0).migrations, 0);
    assert!(w.migrations_logged().is_empty());
    w.assert_undisturbed(&pair);
}

// ------------------------------------------------------------------------------------------
// 5. Close, restart and vanished peers.

/// Keeps sessions busy with filler traffic; errors are ignored (a side may be gone).
fn chatter(hosts: &mut [Host], sessions: &[(usize, SessionId)]) {
    let mut buf = [0u8; MAX_MESSAGE];
    for &(h, id) in sessions {
        let _ = hosts[h].endpoint.send(id, &[0x42; 1000]);
        while hosts[h].endpoint.recv(id, &mut buf).is_ok() {}
    }
}

/// Closes host `closer`'s side of a fresh pair (after some traffic both ways if `busy`, the
/// peer sending on afterwards) and returns how the peer's session ended and how long after
/// the close.
fn close_seen_by_peer(seed: u64, loss: f64, closer: usize, busy: bool) -> (u64, CloseReason) {
    let mut w = World::new(seed, link(loss), config(true), config(false));
    let pair = w.handshake().expect("handshake");
    let ids = [(0, pair.server), (1, pair.client)];
    let peer = ids[1 - closer];
    if busy {
        w.run_until(w.clock() + 500, |_, hosts, _| {
            chatter(hosts, &ids);
            false
        });
    }
    w.hosts[closer]
        .endpoint
        .close(ids[closer].1, close_code(seed));
    let seen = w.wait_closed(peer.0, peer.1, 60_000, |hosts| {
        if busy {
            chatter(hosts, &[peer]);
        }
    });
    let (after, reason) =
        seen.unwrap_or_else(|| panic!("seed {seed}: the peer's session never ended"));
    assert_eq!(
        w.closed(closer, ids[closer].1),
        None,
        "no event on the side that closed"
    );
    assert_eq!(
        w.hosts[closer].endpoint.send(ids[closer].1, b"x"),
        Err(CallError::Unknown)
    );
    (after, reason)
}

fn close_code(seed: u64) -> u32 {
    0xC0DE_0000 + seed as u32
}

#[test]
fn peer_close_is_reported_within_one_trip_on_a_clean_link() {
    for closer in [0, 1] {
        let seed = 60 + closer as u64;
        let (t, reason) = close_seen_by_peer(seed, 0.0, closer, false);
        assert_eq!(reason, CloseReason::Peer(close_code(seed)));
        assert!(
            t <= ONE_WAY,
            "host {closer} closed; the peer knew after {t} ms"
        );
    }
}

#[test]
fn peer_close_is_reported_within_three_round_trips_at_30_percent_loss() {
    let mut times = Vec::new();
    let mut late = Vec::new();
    for seed in 0..20 {
        for closer in [0, 1] {
            let (t, reason) = close_seen_by_peer(seed, 0.3, closer, true);
            // A close is resent at most every 20 ms while the peer keeps sending: four lost
            // in a row (seed 18) take it past two round trips.
            if reason != CloseReason::Peer(close_code(seed)) || t > 3 * RTT {
                late.push((seed, closer, t, reason));
            }
            times.push(t);
        }
    }
    times.sort_unstable();
    println!(
        "close at 30% loss each way, peer busy, RTT {RTT} ms: seen after median {} ms, p95 {} \
         ms, max {} ms ({} runs); late or missed (seed, closer, ms, reason): {late:?}",
        quantile(&times, 0.5),
        quantile(&times, 0.95),
        times.last().unwrap(),
        times.len()
    );
    // Not asserted, for the record: an idle peer sends nothing the lingering close could
    // answer, so a lost close is learnt only by the idle timeout.
    let idle: Vec<_> = (0..20)
        .map(|seed| close_seen_by_peer(seed, 0.3, 1, false))
        .filter(|&(t, _)| t > 3 * RTT)
        .collect();
    println!(
        "close at 30% loss, peer idle: {} of 20 seen late: {idle:?}",
        idle.len()
    );
    assert!(late.is_empty(), "closes seen late or not at all: {late:?}");
}

#[test]
fn restarted_server_ends_the_old_session_and_accepts_a_new_one() {
    let mut w = World::new(6, link(0.0), quick(true), quick(false));
    let idle = u64::from(w.hosts[1].endpoint.config().idle_timeout);
    let pair = w.handshake().expect("handshake");
    w.transfer(&mut Flow::both(&pair, 6, 64 << 10), 30_000);

    w.hosts[0].endpoint = Endpoint::new(quick(true), seed32(6, 3), w.now()).unwrap();
    w.hosts[1]
        .endpoint
        .send(pair.client, b"anyone there?")
        .unwrap();
    let (after, reason) = w
        .wait_closed(1, pair.client, 3 * idle, |_| {})
        .expect("the client notices");
    println!(
        "restart: the client's session ended ({reason}) {after} ms after the server \
         restarted (idle timeout {idle} ms)"
    );
    assert!(
        matches!(reason, CloseReason::IdleTimeout | CloseReason::DeadPeer),
        "{reason:?}"
    );
    assert!(after <= idle + 50, "{after} ms");
    let fresh = w.stats(0);
    assert!(
        fresh.unknown_session > 0,
        "the old session's datagrams reached the new server"
    );
    assert_eq!((fresh.sessions, fresh.replies), (0, 0));
    assert_eq!(w.stats(1).sessions, 0);

    let again = w
        .handshake()
        .expect("a new connection to the restarted server");
    w.transfer(&mut Flow::both(&again, 66, 64 << 10), 30_000);
    w.assert_undisturbed(&again);
}

#[test]
fn vanished_client_is_reaped_by_the_idle_timeout() {
    let mut w = World::new(7, link(0.0), quick(true), quick(false));
    let idle = u64::from(w.hosts[0].endpoint.config().idle_timeout);
    let pair = w.handshake().expect("handshake");
    w.transfer(&mut Flow::both(&pair, 7, 64 << 10), 30_000);

    let unreachable = w.net.stats().unreachable;
    w.hosts.pop();
    let (after, reason) = w
        .wait_closed(0, pair.server, 3 * idle, |_| {})
        .expect("the server reaps the session");
    assert_eq!(reason, CloseReason::IdleTimeout);
    assert!(after <= idle + 50, "{after} ms");
    assert!(
        w.net.stats().unreachable > unreachable,
        "keepalives went nowhere"
    );
    let s = w.stats(0);
    assert_eq!((s.sessions, s.handshakes, s.closed), (0, 0, 1));
    assert_eq!(
        w.hosts[0].endpoint.poll_timeout(),
        None,
        "nothing left to wake up for"
    );
}

// ------------------------------------------------------------------------------------------
// 6. Exactly-once, in-order delivery with sealing and native FEC.

/// Transfers `total` bytes each way over `link` with the default configuration; returns the
/// world, the pair and the virtual ms the transfer took.
fn exactly_once(seed: u64, link: LinkConfig, total: u64) -> (World, Pair, u64) {
    let mut w = World::new(seed, link, config(true), config(false));
    let pair = w
        .handshake()
        .unwrap_or_else(|r| panic!("seed {seed}: handshake failed: {r}"));
    let took = w.transfer(&mut Flow::both(&pair, seed, total), 120_000);
    for (h, id) in [(0, pair.server), (1, pair.client)] {
        let session = w.hosts[h].endpoint.session(id).expect("still established");
        assert!(session.native_fec().is_some(), "native FEC is the default");
    }
    (w, pair, took)
}

fn fec_recovered(w: &World, pair: &Pair) -> u64 {
    let server = w.hosts[0].endpoint.session(pair.server).unwrap();
    let client = w.hosts[1].endpoint.session(pair.client).unwrap();
    server.fec_stats().recovered + client.fec_stats().recovered
}

#[test]
fn exactly_once_in_order_under_loss_with_sealing_and_native_fec() {
    for loss in [0.0, 0.05, 0.10, 0.20, 0.30] {
        let mut runs = Vec::new();
        for seed in 0..4 {
            let (w, pair, took) = exactly_once(100 + seed, link(loss), 1 << 20);
            let recovered = fec_recovered(&w, &pair);
            if loss >= 0.1 {
                assert!(recovered > 0, "FEC recovered nothing at {loss} loss");
            }
            runs.push(format!("{took} ms (FEC recovered {recovered})"));
        }
        println!(
            "exactly-once at {:.0}% loss each way, 1 MiB each way: {}",
            loss * 100.0,
            runs.join(", ")
        );
    }
}

#[test]
fn exactly_once_with_duplication_reordering_and_corruption() {
    let link = LinkConfig {
        loss: 0.05,
        delay_min: 5,
        delay_max: 80,
        duplicate: 0.2,
        corrupt: 0.01,
        ..LinkConfig::default()
    };
    for seed in 0..2 {
        let (w, _, took) = exactly_once(200 + seed, link.clone(), 1 << 20);
        let (s, c) = (w.stats(0), w.stats(1));
        assert!(
            s.replays > 0 && c.replays > 0,
            "the replay window drops duplicates"
        );
        assert!(
            s.forgeries + c.forgeries > 0,
            "corrupted datagrams fail authentication"
        );
        println!(
            "exactly-once with 20% duplication, 5-80 ms jitter, 5% loss, 1% corruption: {took} \
             ms; replays dropped {} / {}, forgeries {} / {}",
            s.replays, c.replays, s.forgeries, c.forgeries
        );
    }
}

/// An idle session costs its keepalive and nothing else: over 100 s of quiet, the world
/// wakes only for pings and pongs (each side's timer plus each delivery), not for ARQ ticks.
#[test]
fn idle_session_wakes_only_for_keepalives() {
    let mut w = World::clean(21);
    w.handshake().expect("handshake");
    w.run_for(1_000);
    let ping_before = w.stats(1).datagrams_out;
    let mut steps = 0;
    let end = w.clock() + 100_000;
    w.run_until(end, |_, _, _| {
        steps += 1;
        false
    });
    let pings = w.stats(1).datagrams_out - ping_before;
    let pongs = w.stats(0).datagrams_out;
    assert!((9..=11).contains(&pings), "{pings} pings in 100 s");
    // Each ping: the client's timer, its delivery, the pong's delivery; with slack for the
    // server's own keepalive check.
    assert!(
        steps <= 4 * pings + 4,
        "{steps} wake-ups for {pings} pings, {pongs} server datagrams"
    );
}
