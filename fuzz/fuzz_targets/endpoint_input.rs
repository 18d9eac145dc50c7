//! An `Endpoint` takes datagrams from anyone, at any address, and must keep its promises
//! whatever the network and the applications do. This target plays a server and a client
//! endpoint with the same key, the network between them and both applications.
//!
//! The input picks the limits (sessions, handshakes, memory), the timeouts, the FEC mode, the
//! address family, and whether the first connection is made on a clean network before the
//! operations start; then a sequence of operations: deliver, drop, duplicate, damage (flip,
//! truncate, extend) or redirect (a copy from another source address) a genuine datagram in
//! flight; a clean network for a few rounds; inject arbitrary bytes at either endpoint from
//! any IPv4 or IPv6 address, optionally shaped as a datagram kind and addressed to a real
//! session id; time passing, by a step or to the next deadline; sends, reads and closes by
//! the applications; new connections; the client moving to a new address.
//!
//! Checked after every step:
//!
//! * nothing panics, and every loop is bounded;
//! * a reply written in place (`Incoming::Reply(n)`) is never longer than its request;
//! * `stats().sessions <= config.session_limit()` and `stats().handshakes <=
//!   config.max_handshakes` on both sides, and a refused `connect` is refused for a reason the
//!   counters show;
//! * every datagram `poll_transmit` gives fits the MTU;
//! * every read is the next message the peer's application sent on that session, byte for byte
//!   (so what a session delivers is a prefix of what its peer sent, boundaries included);
//! * `poll_timeout` is never before the current time (as wrapping `u32` milliseconds);
//! * a session's remote address is always one its peer really had: copies of genuine datagrams
//!   from other addresses cannot redirect a session.

#![no_main]

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use kcp_core::endpoint::{
    CallError, ConnectError, Endpoint, EndpointConfig, Event, Incoming, SessionId,
};
use kcp_core::fec::NativeConfig;
use kcp_core::sealed::handshake::{self, kind};
use kcp_core::sealed::keys::Key;
use kcp_core::sealed::packet;
use kcp_core::session::FecMode;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = *b"endpoint_input fuzz target key!!";
const SERVER_SEED: [u8; 32] = [0x5e; 32];
const CLIENT_SEED: [u8; 32] = [0xc1; 32];

/// Operations taken from one input.
const MAX_OPS: usize = 512;
/// Most `poll_transmit` or `recv` calls in one drain, so that a livelock shows up as a slow
/// input rather than a hang.
const MAX_POLLS: usize = 1024;
/// Datagrams the network holds; beyond it, new ones are lost, as at a full router queue.
const NETWORK_CAPACITY: usize = 1024;
/// Connections the client may start.
const MAX_CONNECTS: usize = 8;
/// Bytes per unit of `Op::Send::len` (messages up to about 4 KiB, a few fragments).
const SEND_UNIT: usize = 16;
/// Longest jump to a deadline (ms).
const MAX_JUMP: u32 = 120_000;
/// Rounds of the clean handshake before it must have finished.
const CONNECT_ROUNDS: usize = 64;

/// Datagram kinds, with the exact length of the handshake ones.
const KINDS: [(u8, Option<usize>); 6] = [
    (kind::HELLO, Some(handshake::HELLO_LEN)),
    (kind::COOKIE_REPLY, Some(handshake::COOKIE_REPLY_LEN)),
    (kind::INITIATION, Some(handshake::INITIATION_LEN)),
    (kind::RESPONSE, Some(handshake::RESPONSE_LEN)),
    (kind::DATA, None),
    (kind::CONTROL, None),
];

#[derive(Arbitrary, Debug)]
struct Scenario {
    /// The clock at the start; any origin, wrapping included, must work.
    start: u32,
    /// The server's limits: bits 0-1, `max_sessions` 1-4; bits 2-3, `max_handshakes` 1-4;
    /// bit 4, `max_memory` leaves room for only `max_sessions / 2 + 1` sessions. Bit 5: short
    /// timeouts on both sides.
    limits: u8,
    /// `fec % 3`: native (the default), off, kcp-go 10+3.
    fec: u8,
    /// IPv6 addresses for both hosts.
    v6: bool,
    /// Connect once on a clean network before the operations.
    preconnect: bool,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// In-flight datagram `index` (modulo) arrives.
    Deliver(u16),
    /// The oldest `n + 1` datagrams arrive in order, with whatever they make the hosts send.
    DeliverOldest(u8),
    /// A clean network for `n % 16 + 1` rounds: everything in flight arrives, with what it
    /// makes the hosts send, then time moves to the next deadline.
    Settle(u8),
    /// In-flight datagram `index` is lost.
    Drop(u16),
    /// In-flight datagram `index` is duplicated.
    Duplicate(u16),
    /// A damaged copy of in-flight datagram `index` arrives; the original stays in flight.
    Damage { index: u16, damage: Damage },
    /// A copy of in-flight datagram `index` arrives from `from`; the original stays in flight.
    Redirect { index: u16, from: Source },
    /// `bytes` arrive at `to` from `from`. With `kind`, the first byte is set to datagram kind
    /// `kind % 6 + 1` and the length made right for it (exact for a handshake message, at
    /// least the sealing overhead for a sealed one). With `receiver`, one of the session ids
    /// seen so far is written where the kind carries an id.
    Inject {
        to: Side,
        from: Source,
        kind: Option<u8>,
        receiver: Option<u8>,
        bytes: Vec<u8>,
    },
    /// Time passes and both hosts are told.
    Wait(u16),
    /// Time moves to the earlier deadline of the two hosts, and both are told.
    WaitDeadline,
    /// The application at `side` sends a message of `len * SEND_UNIT + extra % SEND_UNIT`
    /// bytes on its session `session` (modulo those it has).
    Send {
        side: Side,
        session: u8,
        len: u8,
        extra: u8,
    },
    /// The application at `side` reads all it can from its session `session`.
    Recv { side: Side, session: u8 },
    /// The application at `side` closes its session `session`.
    Close { side: Side, session: u8, code: u32 },
    /// The client starts another connection.
    Connect,
    /// The client moves to a new address (not the server's).
    Move(Source),
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Server,
    Client,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Source {
    /// The server's address.
    Server,
    /// The client's current address.
    Client,
    V4([u8; 4], u16),
    V6([u8; 16], u16),
}

#[derive(Arbitrary, Debug)]
enum Damage {
    /// Byte `at` (modulo the length) XORed with `xor` (0 taken as 1).
    Flip { at: u16, xor: u8 },
    /// Cut to `len` (modulo the length) bytes.
    Truncate(u16),
    /// Bytes appended.
    Extend(Vec<u8>),
}

#[derive(Clone, Debug)]
struct Datagram {
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// Both hosts, the network, and what the applications sent.
struct World {
    now: u32,
    server: Endpoint,
    client: Endpoint,
    server_addr: SocketAddr,
    client_addr: SocketAddr,
    /// Every address the client had.
    client_addrs: Vec<SocketAddr>,
    network: VecDeque<Datagram>,
    /// Ids from `connect`, in order.
    client_ids: Vec<SessionId>,
    /// Ids of the server's sessions, in the order they were first seen.
    server_ids: Vec<SessionId>,
    /// Messages sent and not yet read, by the session's conv (the server's id, which both
    /// sides' sessions use) and the side that sent them.
    streams: BTreeMap<(u32, Side), VecDeque<Vec<u8>>>,
    /// Messages sent so far (each gets distinct bytes).
    messages: u32,
    buf: Vec<u8>,
}

fuzz_target!(|scenario: Scenario| {
    let Some(mut world) = World::new(&scenario) else {
        return;
    };
    if scenario.preconnect {
        world.connect_cleanly();
    }
    for op in scenario.ops.iter().take(MAX_OPS) {
        world.apply(op);
        world.transmit();
        world.events();
        world.check();
    }
});

fn config(scenario: &Scenario, accept: bool) -> EndpointConfig {
    let mut config = EndpointConfig::new(Key::from_bytes(KEY));
    config.accept = accept;
    config.fec = match scenario.fec % 3 {
        0 => FecMode::Native(NativeConfig::default()),
        1 => FecMode::Off,
        _ => FecMode::KcpGo {
            data: 10,
            parity: 3,
        },
    };
    let limits = usize::from(scenario.limits);
    // The client may start more connections than the server takes, so that the server's
    // limits are reached.
    config.max_sessions = if accept {
        1 + (limits & 3)
    } else {
        MAX_CONNECTS
    };
    config.max_handshakes = if accept {
        1 + ((limits >> 2) & 3)
    } else {
        MAX_CONNECTS
    };
    if accept && limits & 16 != 0 {
        config.max_memory = config.session_memory_bound() * (config.max_sessions / 2 + 1) + 1;
    }
    if limits & 32 != 0 {
        config.handshake_timeout = 1_000;
        config.keepalive = 300;
        config.idle_timeout = 1_500;
        config.close_linger = 200;
    }
    config
}

/// The address `source` names, given where the hosts are now.
fn addr(source: Source, server: SocketAddr, client: SocketAddr) -> SocketAddr {
    match source {
        Source::Server => server,
        Source::Client => client,
        Source::V4(ip, port) => SocketAddr::from((Ipv4Addr::from(ip), port)),
        Source::V6(ip, port) => SocketAddr::from((Ipv6Addr::from(ip), port)),
    }
}

/// Distinct contents for message number `n`.
fn message(n: u32, len: usize) -> Vec<u8> {
    let seed = n.wrapping_mul(0x9e37_79b9);
    (0..len)
        .map(|i| (seed.wrapping_add(i as u32).wrapping_mul(0x0100_0193) >> 24) as u8)
        .collect()
}

impl World {
    fn new(scenario: &Scenario) -> Option<World> {
        let (server_addr, client_addr): (SocketAddr, SocketAddr) = if scenario.v6 {
            (
                "[2001:db8::1]:4000".parse().expect("an address"),
                "[2001:db8::2]:5000".parse().expect("an address"),
            )
        } else {
            (
                "10.0.0.1:4000".parse().expect("an address"),
                "10.0.0.2:5000".parse().expect("an address"),
            )
        };
        let server_config = config(scenario, true);
        if server_config.session_limit() == 0 {
            return None;
        }
        let now = scenario.start;
        let server = Endpoint::new(server_config, SERVER_SEED, now).expect("a valid configuration");
        let client = Endpoint::new(config(scenario, false), CLIENT_SEED, now)
            .expect("a valid configuration");
        Some(World {
            now,
            server,
            client,
            server_addr,
            client_addr,
            client_addrs: vec![client_addr],
            network: VecDeque::new(),
            client_ids: Vec::new(),
            server_ids: Vec::new(),
            streams: BTreeMap::new(),
            messages: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    fn endpoint(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::Server => &mut self.server,
            Side::Client => &mut self.client,
        }
    }

    /// Session `index` (modulo) of `side`'s application.
    fn session(&self, side: Side, index: u8) -> Option<SessionId> {
        let ids = match side {
            Side::Server => &self.server_ids,
            Side::Client => &self.client_ids,
        };
        (!ids.is_empty()).then(|| ids[usize::from(index) % ids.len()])
    }

    /// The conv of `side`'s session `id` (the server's id for it), while it is established.
    fn conv(&self, side: Side, id: SessionId) -> Option<u32> {
        match side {
            Side::Server => self.server.session(id).map(|s| s.conv()),
            Side::Client => self.client.session(id).map(|s| s.conv()),
        }
    }

    fn push(&mut self, datagram: Datagram) {
        if self.network.len() < NETWORK_CAPACITY {
            self.network.push_back(datagram);
        }
    }

    /// Hands `datagram` to the host at its destination (if any); a reply goes back at once.
    fn deliver(&mut self, datagram: Datagram) {
        let Datagram {
            from,
            to,
            mut bytes,
        } = datagram;
        let side = if to == self.server_addr {
            Side::Server
        } else if to == self.client_addr {
            Side::Client
        } else {
            return;
        };
        let len = bytes.len();
        let now = self.now;
        let incoming = self.endpoint(side).handle_datagram(now, from, &mut bytes);
        if let Incoming::Reply(n) = incoming {
            assert!(n <= len, "a {n}-byte reply to a {len}-byte datagram");
            assert!(n > 0, "an empty reply");
            bytes.truncate(n);
            self.push(Datagram {
                from: to,
                to: from,
                bytes,
            });
        }
    }

    /// Everything both hosts have to send goes on the network.
    fn transmit(&mut self) {
        for side in [Side::Server, Side::Client] {
            let from = match side {
                Side::Server => self.server_addr,
                Side::Client => self.client_addr,
            };
            let now = self.now;
            let mut buf = std::mem::take(&mut self.buf);
            for _ in 0..MAX_POLLS {
                let endpoint = self.endpoint(side);
                let mtu = endpoint.config().arq.mtu as usize;
                let Some(t) = endpoint.poll_transmit(now, &mut buf) else {
                    break;
                };
                assert!(
                    t.len <= mtu,
                    "a {}-byte datagram for an MTU of {mtu}",
                    t.len
                );
                self.push(Datagram {
                    from,
                    to: t.destination,
                    bytes: buf[..t.len].to_vec(),
                });
            }
            self.buf = buf;
        }
    }

    /// Takes both hosts' events, learning session ids.
    fn events(&mut self) {
        while let Some(event) = self.client.poll_event() {
            match event {
                Event::Connected(id) | Event::Closed(id, _) => assert!(
                    self.client_ids.contains(&id),
                    "{event:?} for a session the client never started"
                ),
                Event::Accepted(_) => panic!("a client-only endpoint accepted a session"),
                Event::Readable(_) | Event::Migrated(..) => {}
            }
        }
        while let Some(event) = self.server.poll_event() {
            if let Event::Accepted(id) = event {
                if !self.server_ids.contains(&id) {
                    self.server_ids.push(id);
                }
            }
            if let Event::Connected(_) = event {
                panic!("the server connected a session it never started");
            }
        }
        let mut seen: Vec<SessionId> = self.server.sessions().collect();
        seen.sort();
        for id in seen {
            if !self.server_ids.contains(&id) {
                self.server_ids.push(id);
            }
        }
    }

    fn check(&mut self) {
        let now = self.now;
        for side in [Side::Server, Side::Client] {
            let endpoint = self.endpoint(side);
            let stats = endpoint.stats();
            let config = endpoint.config();
            assert!(
                stats.sessions <= config.session_limit(),
                "{side:?}: {} sessions, limit {}",
                stats.sessions,
                config.session_limit()
            );
            assert!(
                stats.handshakes <= config.max_handshakes,
                "{side:?}: {} handshakes, limit {}",
                stats.handshakes,
                config.max_handshakes
            );
            assert!(stats.handshakes <= stats.sessions, "{side:?}: {stats:?}");
            if let Some(at) = endpoint.poll_timeout() {
                let ahead = at.wrapping_sub(now) as i32;
                assert!(ahead >= 0, "{side:?}: deadline {at} is {} ms ago", -ahead);
            }
        }
        for &id in &self.server_ids {
            if let Some(remote) = self.server.remote(id) {
                assert!(
                    self.client_addrs.contains(&remote),
                    "the server's session {id} moved to {remote}, where the client never was"
                );
            }
        }
        for &id in &self.client_ids {
            if let Some(remote) = self.client.remote(id) {
                assert_eq!(remote, self.server_addr, "the client's session {id} moved");
            }
        }
    }

    /// The first connection, on a clean network: it must succeed.
    fn connect_cleanly(&mut self) {
        let id = self.connect().expect("the first connection is allowed");
        let mut connected = false;
        let mut accepted = false;
        for _ in 0..CONNECT_ROUNDS {
            self.transmit();
            while let Some(datagram) = self.network.pop_front() {
                self.deliver(datagram);
                self.transmit();
            }
            while let Some(event) = self.client.poll_event() {
                match event {
                    Event::Connected(c) if c == id => connected = true,
                    other => panic!("unexpected {other:?} on a clean handshake"),
                }
            }
            while let Some(event) = self.server.poll_event() {
                match event {
                    Event::Accepted(s) => {
                        accepted = true;
                        self.server_ids.push(s);
                    }
                    other => panic!("unexpected {other:?} on a clean handshake"),
                }
            }
            if connected && accepted {
                self.check();
                return;
            }
            self.wait(10);
        }
        panic!("no handshake on a clean network (connected {connected}, accepted {accepted})");
    }

    fn connect(&mut self) -> Option<SessionId> {
        if self.client_ids.len() >= MAX_CONNECTS {
            return None;
        }
        let server = self.server_addr;
        let stats = self.client.stats();
        let limit = self.client.config().session_limit();
        let max_handshakes = self.client.config().max_handshakes;
        match self.client.connect(self.now, server) {
            Ok(id) => {
                assert!(!self.client_ids.contains(&id), "{id} given twice");
                self.client_ids.push(id);
                Some(id)
            }
            Err(ConnectError::SessionLimit) => {
                assert!(
                    stats.sessions >= limit,
                    "refused below the limit: {stats:?}"
                );
                None
            }
            Err(ConnectError::HandshakeLimit) => {
                assert!(stats.handshakes >= max_handshakes, "refused: {stats:?}");
                None
            }
        }
    }

    fn wait(&mut self, ms: u32) {
        self.now = self.now.wrapping_add(ms);
        let now = self.now;
        self.server.handle_timeout(now);
        self.client.handle_timeout(now);
    }

    /// Time moves to the earlier deadline of the two hosts (at most `MAX_JUMP` ahead).
    fn wait_deadline(&mut self) {
        let now = self.now;
        let ahead = [self.server.poll_timeout(), self.client.poll_timeout()]
            .into_iter()
            .flatten()
            .map(|at| at.wrapping_sub(now).min(MAX_JUMP))
            .min();
        if let Some(ahead) = ahead {
            self.wait(ahead);
        }
    }

    fn pick(&self, index: u16) -> Option<usize> {
        (!self.network.is_empty()).then(|| usize::from(index) % self.network.len())
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Deliver(index) => {
                if let Some(i) = self.pick(*index) {
                    let datagram = self.network.remove(i).expect("in range");
                    self.deliver(datagram);
                }
            }
            Op::DeliverOldest(n) => {
                for _ in 0..=*n {
                    let Some(datagram) = self.network.pop_front() else {
                        break;
                    };
                    self.deliver(datagram);
                    self.transmit();
                }
            }
            Op::Settle(n) => {
                for _ in 0..=n % 16 {
                    for _ in 0..self.network.len() {
                        let Some(datagram) = self.network.pop_front() else {
                            break;
                        };
                        self.deliver(datagram);
                        self.transmit();
                    }
                    self.wait_deadline();
                    self.transmit();
                }
            }
            Op::Drop(index) => {
                if let Some(i) = self.pick(*index) {
                    self.network.remove(i);
                }
            }
            Op::Duplicate(index) => {
                if let Some(i) = self.pick(*index) {
                    let copy = self.network[i].clone();
                    self.push(copy);
                }
            }
            Op::Damage { index, damage } => {
                if let Some(i) = self.pick(*index) {
                    let mut copy = self.network[i].clone();
                    let len = copy.bytes.len();
                    match damage {
                        Damage::Flip { at, xor } if len > 0 => {
                            copy.bytes[usize::from(*at) % len] ^= (*xor).max(1);
                        }
                        Damage::Flip { .. } => {}
                        Damage::Truncate(to) => copy.bytes.truncate(usize::from(*to) % len.max(1)),
                        Damage::Extend(bytes) => copy.bytes.extend_from_slice(bytes),
                    }
                    self.deliver(copy);
                }
            }
            Op::Redirect { index, from } => {
                if let Some(i) = self.pick(*index) {
                    let mut copy = self.network[i].clone();
                    copy.from = addr(*from, self.server_addr, self.client_addr);
                    self.deliver(copy);
                }
            }
            Op::Inject {
                to,
                from,
                kind,
                receiver,
                bytes,
            } => {
                let mut bytes = bytes.clone();
                if let Some(k) = kind {
                    let (kind, len) = KINDS[usize::from(*k) % KINDS.len()];
                    bytes.insert(0, kind);
                    match len {
                        Some(len) => bytes.resize(len, 0),
                        None => bytes.resize(bytes.len().max(packet::OVERHEAD), 0),
                    }
                }
                if let Some(r) = receiver {
                    let ids: Vec<SessionId> = self
                        .client_ids
                        .iter()
                        .chain(&self.server_ids)
                        .copied()
                        .collect();
                    if !ids.is_empty() {
                        let id = ids[usize::from(*r) % ids.len()].0.to_le_bytes();
                        let at = match bytes.first() {
                            Some(&(kind::HELLO | kind::INITIATION)) => 2,
                            Some(_) => 1,
                            None => 0,
                        };
                        if at > 0 && bytes.len() >= at + 4 {
                            bytes[at..at + 4].copy_from_slice(&id);
                        }
                    }
                }
                let to = match to {
                    Side::Server => self.server_addr,
                    Side::Client => self.client_addr,
                };
                let from = addr(*from, self.server_addr, self.client_addr);
                self.deliver(Datagram { from, to, bytes });
            }
            Op::Wait(ms) => self.wait(u32::from(*ms)),
            Op::WaitDeadline => self.wait_deadline(),
            Op::Send {
                side,
                session,
                len,
                extra,
            } => {
                let Some(id) = self.session(*side, *session) else {
                    return;
                };
                let len = usize::from(*len) * SEND_UNIT + usize::from(*extra) % SEND_UNIT;
                let data = message(self.messages, len);
                self.messages += 1;
                let conv = self.conv(*side, id);
                match self.endpoint(*side).send(id, &data) {
                    Ok(n) => {
                        assert_eq!(n, len, "message mode takes all or nothing");
                        let conv = conv.expect("a session that took data is established");
                        self.streams
                            .entry((conv, *side))
                            .or_default()
                            .push_back(data);
                    }
                    Err(CallError::Send(_) | CallError::Unknown | CallError::NotEstablished) => {}
                    Err(e) => panic!("send failed with {e:?}"),
                }
            }
            Op::Recv { side, session } => {
                let Some(id) = self.session(*side, *session) else {
                    return;
                };
                let Some(conv) = self.conv(*side, id) else {
                    return;
                };
                let peer = match side {
                    Side::Server => Side::Client,
                    Side::Client => Side::Server,
                };
                let mut buf = std::mem::take(&mut self.buf);
                for _ in 0..MAX_POLLS {
                    let Ok(n) = self.endpoint(*side).recv(id, &mut buf) else {
                        break;
                    };
                    let expected = self
                        .streams
                        .get_mut(&(conv, peer))
                        .and_then(|s| s.pop_front());
                    let Some(expected) = expected else {
                        panic!("{side:?} read {n} bytes on {id} that its peer never sent");
                    };
                    assert!(
                        buf[..n] == expected[..],
                        "{side:?} read {n} bytes on {id}, not the {}-byte message sent next",
                        expected.len()
                    );
                }
                self.buf = buf;
            }
            Op::Close {
                side,
                session,
                code,
            } => {
                if let Some(id) = self.session(*side, *session) {
                    let now_closed = self.endpoint(*side).remote(id).is_some();
                    self.endpoint(*side).close(id, *code);
                    if now_closed {
                        assert!(
                            self.endpoint(*side).session(id).is_none(),
                            "a closed session is still established"
                        );
                    }
                }
            }
            Op::Connect => {
                self.connect();
            }
            Op::Move(to) => {
                let to = addr(*to, self.server_addr, self.client_addr);
                if to != self.server_addr {
                    self.client_addr = to;
                    if !self.client_addrs.contains(&to) {
                        self.client_addrs.push(to);
                    }
                }
            }
        }
    }
}
