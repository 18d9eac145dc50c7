//! A `LegacyEndpoint` takes datagrams from anyone, at any address, with a protection that
//! authenticates nothing, and must keep its promises whatever the network and the
//! applications do. This target plays a server and two client endpoints (on two addresses,
//! so that the server holds several sessions), the network between them and all three
//! applications.
//!
//! The input picks the protection (AES-128, Salsa20, cipher `none` with its CRC, or no
//! header at all), kcp-go FEC 10/3 or none, the server's limits, the idle timeout and the
//! clock's origin; then a sequence of operations: deliver, drop, duplicate, damage (flip,
//! truncate, extend) or redirect (a copy from another source address) a datagram in flight;
//! a clean network for a few rounds; arbitrary bytes injected at any endpoint from any
//! address, optionally shaped as a KCP segment of a known conv (sn 0 or not), framed as
//! kcp-go FEC data or parity, and sealed with the key; time passing; sends, reads and closes
//! by the applications; new connections; a client restarting (a new endpoint at the same
//! address).
//!
//! Checked after every step:
//!
//! * nothing panics, and every loop is bounded;
//! * `handle_datagram` never replies, and each drop shows in exactly one counter;
//! * `stats().sessions` is the number of sessions and within `config.session_limit()`;
//! * every datagram `poll_transmit` gives fits the MTU;
//! * events make sense: a client never accepts, the server never connects, ids are known,
//!   `Migrated` never comes, a closed session is gone;
//! * `poll_timeout` is never before the current time (as wrapping `u32` milliseconds);
//! * with AES or Salsa20, until a datagram sealed with the key is injected: every read on a
//!   session is the next message sent on that conv in its direction (each reading session
//!   has its own place, since kcp-go's protocol lets copies start sessions elsewhere), except
//!   on a client whose conv the server has had more than one session for (a kcp-go server
//!   that forgot a session and met its conv again mid-stream sends a stream the client
//!   cannot tell from the first).

#![no_main]

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use kcp_core::crypto::{CipherKind, LegacyCrypto, HEADER_LEN as SEAL_LEN};
use kcp_core::endpoint::{CallError, ConnectError, Event, Incoming, SessionId};
use kcp_core::fec::kcpgo;
use kcp_core::legacy::{LegacyConfig, LegacyEndpoint};
use kcp_core::session::{FecMode, Protection, SessionConfig};
use kcp_core::wire::{Command, Header, HEADER_LEN as SEGMENT_HEADER_LEN};
use kcp_core::Config;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// Any 32 bytes will do for a derived key (deriving one takes milliseconds).
const KEY: [u8; 32] = *b"legacy_endpoint fuzz target key!";

/// Operations taken from one input.
const MAX_OPS: usize = 512;
/// Most `poll_transmit` or `recv` calls in one drain.
const MAX_POLLS: usize = 1024;
/// Datagrams the network holds; beyond it, new ones are lost.
const NETWORK_CAPACITY: usize = 1024;
/// Bytes per unit of `Op::Send::len`.
const SEND_UNIT: usize = 16;
/// Longest jump to a deadline (ms).
const MAX_JUMP: u32 = 120_000;
/// Restarts of each client.
const MAX_RESTARTS: u8 = 4;
/// Hosts: the server and two clients.
const HOSTS: usize = 3;

#[derive(Arbitrary, Debug)]
struct Scenario {
    start: u32,
    /// `protection % 4`: AES-128, Salsa20, cipher `none` (CRC only), no header at all.
    protection: u8,
    /// kcp-go FEC 10/3.
    fec: bool,
    /// Bits 0-1: the server's `max_sessions` 1-4; bit 2: `max_memory` for only 1 session;
    /// bits 3-4: idle timeout 30 s, 1.5 s, never, 200 ms.
    limits: u8,
    v6: bool,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Server,
    Client0,
    Client1,
}

impl Side {
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Source {
    Host(Side),
    V4([u8; 4], u16),
    V6([u8; 16], u16),
}

#[derive(Arbitrary, Debug)]
enum Damage {
    Flip { at: u16, xor: u8 },
    Truncate(u16),
    Extend(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Framing {
    Bare,
    FecData(u32),
    FecParity(u32),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Deliver(u16),
    DeliverOldest(u8),
    Settle(u8),
    Drop(u16),
    Duplicate(u16),
    Damage {
        index: u16,
        damage: Damage,
    },
    Redirect {
        index: u16,
        from: Source,
    },
    /// `bytes` arrive at `to` from `from`. With `conv`, a segment header of one of the convs
    /// seen so far (or `conv` itself if none) goes first, with sn 0 if `sn0`, command
    /// `cmd % 4 + 81` and the rest of `bytes` as its payload; then the framing; with `seal`
    /// (and a protection header configured), the key's protection.
    Inject {
        to: Side,
        from: Source,
        conv: Option<u32>,
        sn0: bool,
        cmd: u8,
        framing: Framing,
        seal: bool,
        bytes: Vec<u8>,
    },
    Wait(u16),
    WaitDeadline,
    Send {
        side: Side,
        session: u8,
        len: u8,
        extra: u8,
    },
    Recv {
        side: Side,
        session: u8,
    },
    Close {
        side: Side,
        session: u8,
    },
    Connect(bool),
    Restart(bool),
}

#[derive(Clone, Debug)]
struct Datagram {
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

struct World {
    now: u32,
    session: SessionConfig,
    hosts: Vec<LegacyEndpoint>,
    addrs: [SocketAddr; HOSTS],
    restarts: [u8; HOSTS],
    network: VecDeque<Datagram>,
    /// Ids each application knows, in the order seen.
    ids: [Vec<SessionId>; HOSTS],
    /// Drops each endpoint reported.
    dropped: [u64; HOSTS],
    /// Whether reads are checked (a strong cipher, and no datagram sealed by the fuzzer).
    checked: bool,
    /// Messages sent up, by the client's conv.
    up: BTreeMap<u32, Vec<Vec<u8>>>,
    /// Messages sent down, by the server's session.
    down: BTreeMap<SessionId, Vec<Vec<u8>>>,
    /// The server's sessions by conv, ever.
    server_convs: BTreeMap<u32, Vec<SessionId>>,
    /// Each reading session's place in its stream.
    cursors: BTreeMap<(Side, SessionId), usize>,
    /// Each session's conv, remembered while it lives.
    convs: BTreeMap<(Side, SessionId), u32>,
    messages: u32,
    buf: Vec<u8>,
}

fuzz_target!(|scenario: Scenario| {
    let Some(mut world) = World::new(&scenario) else {
        return;
    };
    for op in scenario.ops.iter().take(MAX_OPS) {
        world.apply(op);
        world.transmit();
        world.events();
        world.check();
    }
});

fn session_config(scenario: &Scenario) -> SessionConfig {
    let mut arq = Config::fast3();
    arq.mtu = 1350;
    arq.send_window = 64;
    arq.recv_window = 128;
    arq.send_queue_limit = 256;
    let protection = match scenario.protection % 4 {
        0 => Some(CipherKind::Aes128),
        1 => Some(CipherKind::Salsa20),
        2 => Some(CipherKind::None),
        _ => None,
    };
    SessionConfig {
        arq,
        fec: if scenario.fec {
            FecMode::KcpGo {
                data: 10,
                parity: 3,
            }
        } else {
            FecMode::Off
        },
        protection: match protection {
            Some(cipher) => Protection::Legacy { cipher, key: KEY },
            None => Protection::None,
        },
    }
}

fn config(scenario: &Scenario, session: &SessionConfig, accept: bool) -> LegacyConfig {
    let mut config = LegacyConfig::new(session.clone());
    config.accept = accept;
    let limits = usize::from(scenario.limits);
    if accept {
        config.max_sessions = 1 + (limits & 3);
        if limits & 4 != 0 {
            config.max_memory = config.session_memory_bound() + 1;
        }
    }
    config.idle_timeout = match (limits >> 3) & 3 {
        0 => 30_000,
        1 => 1_500,
        2 => 0,
        _ => 200,
    };
    config
}

fn seed(side: usize, restart: u8) -> [u8; 32] {
    let mut seed = [0x5e; 32];
    seed[0] = side as u8;
    seed[1] = restart;
    seed
}

fn message(n: u32, len: usize) -> Vec<u8> {
    let seed = n.wrapping_mul(0x9e37_79b9);
    (0..len)
        .map(|i| (seed.wrapping_add(i as u32).wrapping_mul(0x0100_0193) >> 24) as u8)
        .collect()
}

impl World {
    fn new(scenario: &Scenario) -> Option<World> {
        let addrs: [SocketAddr; HOSTS] = if scenario.v6 {
            [
                "[2001:db8::1]:29900".parse().expect("an address"),
                "[2001:db8::2]:5000".parse().expect("an address"),
                "[2001:db8::3]:5000".parse().expect("an address"),
            ]
        } else {
            [
                "10.0.0.1:29900".parse().expect("an address"),
                "10.0.0.2:5000".parse().expect("an address"),
                "10.0.0.3:5000".parse().expect("an address"),
            ]
        };
        let session = session_config(scenario);
        let now = scenario.start;
        let hosts = (0..HOSTS)
            .map(|h| {
                LegacyEndpoint::new(config(scenario, &session, h == 0), seed(h, 0), now)
                    .expect("a valid configuration")
            })
            .collect();
        Some(World {
            now,
            checked: scenario.protection % 4 < 2,
            session,
            hosts,
            addrs,
            restarts: [0; HOSTS],
            network: VecDeque::new(),
            ids: Default::default(),
            dropped: [0; HOSTS],
            up: BTreeMap::new(),
            down: BTreeMap::new(),
            server_convs: BTreeMap::new(),
            cursors: BTreeMap::new(),
            convs: BTreeMap::new(),
            messages: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    fn addr(&self, source: Source) -> SocketAddr {
        match source {
            Source::Host(side) => self.addrs[side.index()],
            Source::V4(ip, port) => SocketAddr::from((Ipv4Addr::from(ip), port)),
            Source::V6(ip, port) => SocketAddr::from((Ipv6Addr::from(ip), port)),
        }
    }

    fn side_of(&self, addr: SocketAddr) -> Option<Side> {
        [Side::Server, Side::Client0, Side::Client1]
            .into_iter()
            .find(|s| self.addrs[s.index()] == addr)
    }

    fn push(&mut self, datagram: Datagram) {
        if self.network.len() < NETWORK_CAPACITY {
            self.network.push_back(datagram);
        }
    }

    fn deliver(&mut self, datagram: Datagram) {
        let Datagram {
            from,
            to,
            mut bytes,
        } = datagram;
        let Some(side) = self.side_of(to) else {
            return;
        };
        let now = self.now;
        match self.hosts[side.index()].handle_datagram(now, from, &mut bytes) {
            Incoming::Consumed => {}
            Incoming::Dropped(_) => self.dropped[side.index()] += 1,
            Incoming::Reply(n) => panic!("a legacy endpoint replied {n} bytes"),
        }
    }

    fn transmit(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        for h in 0..HOSTS {
            let mtu = self.session.arq.mtu as usize;
            for _ in 0..MAX_POLLS {
                let now = self.now;
                let Some(t) = self.hosts[h].poll_transmit(now, &mut buf) else {
                    break;
                };
                assert!(
                    t.len <= mtu,
                    "a {}-byte datagram for an MTU of {mtu}",
                    t.len
                );
                let from = self.addrs[h];
                self.push(Datagram {
                    from,
                    to: t.destination,
                    bytes: buf[..t.len].to_vec(),
                });
            }
        }
        self.buf = buf;
    }

    fn events(&mut self) {
        for side in [Side::Server, Side::Client0, Side::Client1] {
            let h = side.index();
            while let Some(event) = self.hosts[h].poll_event() {
                match event {
                    Event::Accepted(id) => {
                        assert_eq!(side, Side::Server, "a client accepted {id}");
                        assert!(!self.ids[h].contains(&id), "{id} accepted twice");
                        self.ids[h].push(id);
                        // The session may already be gone (replaced within the same call).
                        if let Some(s) = self.hosts[h].session(id) {
                            self.server_convs.entry(s.conv()).or_default().push(id);
                            self.convs.insert((side, id), s.conv());
                        }
                    }
                    Event::Connected(id) => {
                        assert_ne!(side, Side::Server, "the server connected {id}");
                        assert!(self.ids[h].contains(&id), "{id} was never connected");
                    }
                    Event::Closed(id, _) => {
                        assert!(self.ids[h].contains(&id), "{id} closed, never known");
                        assert!(
                            self.hosts[h].session(id).is_none(),
                            "{id} closed, still there"
                        );
                    }
                    Event::Readable(id) => {
                        assert!(self.ids[h].contains(&id), "{id} readable, never known");
                    }
                    Event::Migrated(..) => panic!("legacy sessions never migrate"),
                }
            }
        }
    }

    fn check(&mut self) {
        let now = self.now;
        for h in 0..HOSTS {
            let endpoint = &mut self.hosts[h];
            let stats = endpoint.stats();
            assert_eq!(stats.sessions, endpoint.sessions().count());
            assert!(
                stats.sessions <= endpoint.config().session_limit(),
                "{stats:?}"
            );
            assert_eq!(stats.handshakes, 0);
            assert_eq!(stats.replies, 0);
            let drops = stats.rejected
                + stats.unknown_source
                + stats.unexpected
                + stats.malformed
                + stats.limited;
            assert_eq!(drops, self.dropped[h], "host {h}: {stats:?}");
            if let Some(at) = endpoint.poll_timeout() {
                let ahead = at.wrapping_sub(now) as i32;
                assert!(ahead >= 0, "host {h}: deadline {at} is {} ms ago", -ahead);
            }
        }
    }

    fn wait(&mut self, ms: u32) {
        self.now = self.now.wrapping_add(ms);
        for h in 0..HOSTS {
            let now = self.now;
            self.hosts[h].handle_timeout(now);
        }
    }

    fn wait_deadline(&mut self) {
        let now = self.now;
        let ahead = self
            .hosts
            .iter_mut()
            .filter_map(|e| e.poll_timeout())
            .map(|at| at.wrapping_sub(now).min(MAX_JUMP))
            .min();
        if let Some(ahead) = ahead {
            self.wait(ahead);
        }
    }

    fn pick(&self, index: u16) -> Option<usize> {
        (!self.network.is_empty()).then(|| usize::from(index) % self.network.len())
    }

    fn session(&self, side: Side, index: u8) -> Option<SessionId> {
        let ids = &self.ids[side.index()];
        (!ids.is_empty()).then(|| ids[usize::from(index) % ids.len()])
    }

    /// The conv to put in an injected segment: one of those seen, picked by `pick`.
    fn known_conv(&self, pick: u32) -> u32 {
        let convs: Vec<u32> = self.convs.values().copied().collect();
        if convs.is_empty() {
            pick
        } else {
            convs[pick as usize % convs.len()]
        }
    }

    /// The stream `side`'s session `id` (with `conv`) reads from, if it can be checked.
    fn expected(&mut self, side: Side, id: SessionId, conv: u32) -> Option<Option<Vec<u8>>> {
        if !self.checked {
            return None;
        }
        let stream = if side == Side::Server {
            self.up.get(&conv)
        } else {
            match self.server_convs.get(&conv).map(Vec::as_slice) {
                Some([only]) => self.down.get(only),
                Some([]) | None => None,
                Some(_) => return None,
            }
        };
        let cursor = self.cursors.entry((side, id)).or_default();
        let next = stream.and_then(|s| s.get(*cursor)).cloned();
        *cursor += 1;
        Some(next)
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Deliver(index) => {
                if let Some(i) = self.pick(*index) {
                    let d = self.network.remove(i).expect("in range");
                    self.deliver(d);
                }
            }
            Op::DeliverOldest(n) => {
                for _ in 0..=*n {
                    let Some(d) = self.network.pop_front() else {
                        break;
                    };
                    self.deliver(d);
                    self.transmit();
                }
            }
            Op::Settle(n) => {
                for _ in 0..=n % 16 {
                    for _ in 0..self.network.len() {
                        let Some(d) = self.network.pop_front() else {
                            break;
                        };
                        self.deliver(d);
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
                    copy.from = self.addr(*from);
                    self.deliver(copy);
                }
            }
            Op::Inject {
                to,
                from,
                conv,
                sn0,
                cmd,
                framing,
                seal,
                bytes,
            } => {
                let mut kcp = Vec::new();
                if let Some(pick) = conv {
                    let header = Header {
                        conv: self.known_conv(*pick),
                        cmd: Command::from_byte(81 + cmd % 4).expect("a command"),
                        frg: 0,
                        wnd: 32,
                        ts: self.now,
                        sn: if *sn0 { 0 } else { 1 + u32::from(*cmd) },
                        una: 0,
                        len: bytes.len().min(1200) as u32,
                    };
                    kcp.resize(SEGMENT_HEADER_LEN, 0);
                    header.encode(&mut kcp);
                }
                kcp.extend_from_slice(bytes);
                let mut plain = match framing {
                    Framing::Bare => kcp,
                    Framing::FecData(seqid) => {
                        let mut p = seqid.to_le_bytes().to_vec();
                        p.extend_from_slice(&kcpgo::FLAG_DATA.to_le_bytes());
                        p.extend_from_slice(&((kcp.len() + 2).min(0xffff) as u16).to_le_bytes());
                        p.extend_from_slice(&kcp);
                        p
                    }
                    Framing::FecParity(seqid) => {
                        let mut p = seqid.to_le_bytes().to_vec();
                        p.extend_from_slice(&kcpgo::FLAG_PARITY.to_le_bytes());
                        p.extend_from_slice(&kcp);
                        p
                    }
                };
                let bytes = match (&self.session.protection, seal) {
                    (Protection::Legacy { cipher, key }, true) => {
                        let mut d = vec![0; SEAL_LEN];
                        d.append(&mut plain);
                        d.truncate(1500);
                        LegacyCrypto::new(*cipher, key, u64::from(self.now)).seal(&mut d);
                        // Whoever holds the key can write into any stream.
                        self.checked = false;
                        d
                    }
                    _ => plain,
                };
                let (to, from) = (self.addrs[to.index()], self.addr(*from));
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
                let h = side.index();
                let conv = self.hosts[h].session(id).map(|s| s.conv());
                match self.hosts[h].send(id, &data) {
                    Ok(n) => {
                        assert_eq!(n, len, "message mode takes all or nothing");
                        let conv = conv.expect("a session that took data exists");
                        if *side == Side::Server {
                            self.down.entry(id).or_default().push(data);
                        } else {
                            self.up.entry(conv).or_default().push(data);
                        }
                    }
                    Err(CallError::Send(_) | CallError::Unknown) => {}
                    Err(e) => panic!("send failed with {e:?}"),
                }
            }
            Op::Recv { side, session } => {
                let Some(id) = self.session(*side, *session) else {
                    return;
                };
                let h = side.index();
                let Some(conv) = self.hosts[h].session(id).map(|s| s.conv()) else {
                    return;
                };
                let mut buf = std::mem::take(&mut self.buf);
                for _ in 0..MAX_POLLS {
                    let Ok(n) = self.hosts[h].recv(id, &mut buf) else {
                        break;
                    };
                    match self.expected(*side, id, conv) {
                        None => {}
                        Some(None) => panic!("{side:?} read {n} bytes on {id} never sent"),
                        Some(Some(m)) => assert!(
                            buf[..n] == m[..],
                            "{side:?} read {n} bytes on {id}, not the {}-byte message next",
                            m.len()
                        ),
                    }
                }
                self.buf = buf;
            }
            Op::Close { side, session } => {
                if let Some(id) = self.session(*side, *session) {
                    let h = side.index();
                    self.hosts[h].close(id, 0);
                    assert!(self.hosts[h].session(id).is_none());
                    assert_eq!(self.hosts[h].remote(id), None);
                }
            }
            Op::Connect(second) => {
                let side = if *second {
                    Side::Client1
                } else {
                    Side::Client0
                };
                let h = side.index();
                let (now, server) = (self.now, self.addrs[0]);
                let stats = self.hosts[h].stats();
                match self.hosts[h].connect(now, server) {
                    Ok(id) => {
                        assert!(!self.ids[h].contains(&id), "{id} given twice");
                        self.ids[h].push(id);
                        let conv = self.hosts[h].session(id).expect("connected").conv();
                        assert_ne!(conv, 0);
                        self.convs.insert((side, id), conv);
                    }
                    Err(ConnectError::SessionLimit) => {
                        assert!(stats.sessions >= self.hosts[h].config().session_limit());
                    }
                    Err(e) => panic!("connect refused: {e:?}"),
                }
            }
            Op::Restart(second) => {
                let h = if *second { 2 } else { 1 };
                if self.restarts[h] < MAX_RESTARTS {
                    self.restarts[h] += 1;
                    let config = self.hosts[h].config().clone();
                    self.hosts[h] =
                        LegacyEndpoint::new(config, seed(h, self.restarts[h]), self.now)
                            .expect("a valid configuration");
                    self.ids[h].clear();
                    self.dropped[h] = 0;
                }
            }
        }
    }
}
