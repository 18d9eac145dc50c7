//! The legacy (kcp-go compatible) endpoint on the address-aware simulator: exchanges with
//! kcp-go FEC and legacy ciphers under loss, many clients on one server, client restarts,
//! conv changes, spoofed garbage floods, idle and dead peers, the client's source lock,
//! Readable semantics, and byte-level interop with kcptun's captured traffic.
//!
//! Every test is seeded and runs on the simulator's virtual clock: no sleeps, no wall-clock
//! assertions.

mod common;

use common::{capture_config, hex, load, push_stream, CAPTURES};
use kcp_core::crypto::{self, derive_key, CipherKind, LegacyCrypto};
use kcp_core::endpoint::{CallError, CloseReason, DropReason, Event, Incoming, SessionId};
use kcp_core::fec::kcpgo;
use kcp_core::legacy::{LegacyConfig, LegacyEndpoint};
use kcp_core::session::{DatagramError, FecMode, Protection, Session, SessionConfig};
use kcp_core::sim::net::{Datagram, Host, Net};
use kcp_core::sim::{LinkConfig, Rng};
use kcp_core::wire::{self, Command, Header};
use kcp_core::{Config, InputError};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;

const SERVER: &str = "10.0.0.1:29900";
const CLIENT: &str = "10.0.0.2:5000";
/// A third party: neither the server nor the client.
const THIRD: &str = "10.0.0.3:6000";
/// One-way delay of the links: a 50 ms round trip.
const ONE_WAY: u64 = 25;
const RTT: u64 = 2 * ONE_WAY;
/// kcptun's default `-key`.
const PASSPHRASE: &str = "it's a secrect";
/// Largest message a [`Flow`] sends.
const MAX_MESSAGE: usize = 4000;

type Endpoint = LegacyEndpoint;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The derived key, computed once (PBKDF2 takes milliseconds).
fn key() -> [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    *KEY.get_or_init(|| derive_key(PASSPHRASE.as_bytes()))
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

/// kcptun's `-mode fast3 -mtu 1350` with `cipher` (`None`: no protection header at all) and
/// kcp-go FEC 10/3 or none.
fn session_config(cipher: Option<CipherKind>, fec: bool) -> SessionConfig {
    let mut arq = Config::fast3();
    arq.mtu = 1350;
    arq.send_window = 128;
    arq.recv_window = 256;
    arq.send_queue_limit = 1024;
    SessionConfig {
        arq,
        fec: if fec {
            FecMode::KcpGo {
                data: 10,
                parity: 3,
            }
        } else {
            FecMode::Off
        },
        protection: match cipher {
            None => Protection::None,
            Some(cipher) => Protection::Legacy { cipher, key: key() },
        },
    }
}

/// kcptun's defaults: AES-256 and FEC 10/3.
fn kcptun() -> SessionConfig {
    session_config(Some(CipherKind::Aes256), true)
}

fn config(session: SessionConfig, accept: bool) -> LegacyConfig {
    let mut c = LegacyConfig::new(session);
    c.accept = accept;
    c
}

/// A link with `loss` each way and a steady 50 ms round trip.
fn link(loss: f64) -> LinkConfig {
    LinkConfig::lossy(loss, ONE_WAY, ONE_WAY)
}

/// The events every host reported, with the virtual time they were collected at.
type Log = [Vec<(u64, Event)>];

fn closed_in(log: &Log, host: usize) -> Vec<(u64, SessionId, CloseReason)> {
    log[host]
        .iter()
        .filter_map(|&(t, e)| match e {
            Event::Closed(id, reason) => Some((t, id, reason)),
            _ => None,
        })
        .collect()
}

fn accepted_in(log: &Log, host: usize) -> Vec<SessionId> {
    log[host]
        .iter()
        .filter_map(|&(_, e)| match e {
            Event::Accepted(id) => Some(id),
            _ => None,
        })
        .collect()
}

/// Hosts on one network; host 0 is usually the server.
struct World {
    net: Net,
    hosts: Vec<Host<Endpoint>>,
    log: Vec<Vec<(u64, Event)>>,
}

impl World {
    fn new(seed: u64, link: LinkConfig, hosts: Vec<(LegacyConfig, SocketAddr)>) -> World {
        let hosts: Vec<Host<Endpoint>> = hosts
            .into_iter()
            .enumerate()
            .map(|(role, (config, at))| Host {
                endpoint: Endpoint::new(config, seed32(seed, role as u64), 0).unwrap(),
                addr: at,
            })
            .collect();
        World {
            net: Net::new(seed, move |_, _| link.clone()),
            log: vec![Vec::new(); hosts.len()],
            hosts,
        }
    }

    /// A server at [`SERVER`] and a client at [`CLIENT`] with the same session configuration.
    fn pair(seed: u64, link: LinkConfig, session: SessionConfig) -> World {
        World::new(
            seed,
            link,
            vec![
                (config(session.clone(), true), addr(SERVER)),
                (config(session, false), addr(CLIENT)),
            ],
        )
    }

    fn now(&self) -> u32 {
        self.net.now()
    }

    fn clock(&self) -> u64 {
        self.net.clock()
    }

    fn endpoint(&mut self, host: usize) -> &mut Endpoint {
        &mut self.hosts[host].endpoint
    }

    fn collect(&mut self) {
        let now = self.net.clock();
        self.log
            .resize_with(self.hosts.len().max(self.log.len()), Vec::new);
        for (h, log) in self.hosts.iter_mut().zip(&mut self.log) {
            log.extend(std::iter::from_fn(|| h.endpoint.poll_event()).map(|e| (now, e)));
        }
    }

    /// Steps until `done` holds or the clock reaches `deadline`; returns whether it held.
    fn run_until(
        &mut self,
        deadline: u64,
        mut done: impl FnMut(&mut [Host<Endpoint>], &Log) -> bool,
    ) -> bool {
        self.net.transmit(&mut self.hosts);
        loop {
            self.collect();
            if done(&mut self.hosts, &self.log) {
                return true;
            }
            // What `done` queued goes out before the next timeout.
            self.net.transmit(&mut self.hosts);
            let now = self.net.clock();
            if now >= deadline {
                return false;
            }
            self.net.step(&mut self.hosts, deadline - now);
        }
    }

    fn run_for(&mut self, ms: u64) {
        self.run_until(self.clock() + ms, |_, _| false);
    }

    /// Runs the flows to their end within `limit` ms, checking them whole.
    fn transfer(&mut self, flows: &mut [Flow], limit: u64) {
        let done = self.run_until(self.clock() + limit, |hosts, _| {
            for f in flows.iter_mut() {
                f.pump(hosts);
            }
            flows.iter().all(Flow::done)
        });
        let progress: Vec<_> = flows
            .iter()
            .map(|f| (f.received, f.messages.len()))
            .collect();
        assert!(done, "transfer unfinished after {limit} ms: {progress:?}");
    }

    /// Host `h` takes `bytes` from `from` directly (not through the network).
    fn feed(&mut self, h: usize, from: SocketAddr, bytes: &[u8]) -> Incoming {
        let now = self.now();
        let mut copy = bytes.to_vec();
        self.hosts[h].endpoint.handle_datagram(now, from, &mut copy)
    }
}

/// The session host `at` has with the host at `peer` (found by its remote address).
fn session_with(hosts: &[Host<Endpoint>], at: usize, peer: SocketAddr) -> Option<SessionId> {
    let endpoint = &hosts[at].endpoint;
    endpoint
        .sessions()
        .find(|&id| endpoint.remote(id) == Some(peer))
}

/// One direction of messages between two hosts, checked exactly once and in order.
struct Flow {
    from: usize,
    to: usize,
    messages: Vec<Vec<u8>>,
    sent: usize,
    received: usize,
    buf: Vec<u8>,
}

impl Flow {
    /// About `total` bytes in messages of 1..=MAX_MESSAGE random bytes.
    fn new(from: usize, to: usize, salt: u64, total: usize) -> Flow {
        let mut rng = Rng::new(salt);
        let mut messages = Vec::new();
        let mut left = total;
        while left > 0 {
            let len = (rng.below(MAX_MESSAGE) + 1).min(left);
            messages.push((0..len).map(|_| rng.next_u64() as u8).collect());
            left -= len;
        }
        Flow {
            from,
            to,
            messages,
            sent: 0,
            received: 0,
            buf: vec![0; 1 << 16],
        }
    }

    /// Sends what the sender's queue takes and reads what the receiver has.
    fn pump(&mut self, hosts: &mut [Host<Endpoint>]) {
        let (from_addr, to_addr) = (hosts[self.from].addr, hosts[self.to].addr);
        if let Some(id) = session_with(hosts, self.from, to_addr) {
            while self.sent < self.messages.len() {
                match hosts[self.from]
                    .endpoint
                    .send(id, &self.messages[self.sent])
                {
                    Ok(_) => self.sent += 1,
                    Err(CallError::Send(_)) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
        }
        if let Some(id) = session_with(hosts, self.to, from_addr) {
            while let Ok(n) = hosts[self.to].endpoint.recv(id, &mut self.buf) {
                let expected = self
                    .messages
                    .get(self.received)
                    .unwrap_or_else(|| panic!("read {n} bytes more than were sent"));
                assert!(
                    self.buf[..n] == expected[..],
                    "message {} arrived wrong ({n} bytes, {} sent)",
                    self.received,
                    expected.len()
                );
                self.received += 1;
            }
        }
    }

    fn done(&self) -> bool {
        self.received == self.messages.len()
    }
}

/// The datagrams a stand-alone session with `conv` sends for `messages`, one poll after each.
fn datagrams_of(config: &SessionConfig, conv: u32, messages: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut session = Session::new(conv, config, 99).unwrap();
    let mut buf = vec![0; 2048];
    let mut out = Vec::new();
    for m in messages {
        session.send(m).unwrap();
        while let Some(n) = session.poll_transmit(0, &mut buf) {
            out.push(buf[..n].to_vec());
        }
    }
    out
}

/// The client connects and both sides exchange `total` bytes each way; returns the client's
/// session id and the server's.
fn connect_and_exchange(w: &mut World, salt: u64, total: usize) -> (SessionId, SessionId) {
    let now = w.now();
    let client = w.endpoint(1).connect(now, addr(SERVER)).unwrap();
    let mut flows = [
        Flow::new(1, 0, salt, total),
        Flow::new(0, 1, salt + 1, total),
    ];
    w.transfer(&mut flows, 120_000);
    let server = session_with(&w.hosts, 0, addr(CLIENT)).expect("accepted");
    (client, server)
}

#[test]
fn client_and_server_exchange_both_ways() {
    for (name, cipher, fec) in [
        ("no protection", None, false),
        ("none + fec", Some(CipherKind::None), true),
        ("aes", Some(CipherKind::Aes256), false),
        ("salsa20 + fec", Some(CipherKind::Salsa20), true),
        ("xor", Some(CipherKind::Xor), false),
    ] {
        let mut w = World::pair(1, link(0.0), session_config(cipher, fec));
        let now = w.now();
        let client = w.endpoint(1).connect(now, addr(SERVER)).unwrap();
        assert_eq!(
            w.endpoint(1).poll_event(),
            Some(Event::Connected(client)),
            "{name}: no handshake, so connected at once"
        );
        let mut flows = [Flow::new(1, 0, 10, 100_000), Flow::new(0, 1, 11, 100_000)];
        w.transfer(&mut flows, 60_000);
        w.run_for(10 * RTT);

        let server = accepted_in(&w.log, 0);
        assert_eq!(server.len(), 1, "{name}: one session accepted");
        let server = server[0];
        assert_eq!(w.endpoint(0).remote(server), Some(addr(CLIENT)));
        assert_eq!(w.endpoint(1).remote(client), Some(addr(SERVER)));
        let conv = w.endpoint(1).session(client).unwrap().conv();
        assert_ne!(conv, 0);
        assert_eq!(w.endpoint(0).session(server).unwrap().conv(), conv);
        for h in 0..2 {
            assert!(closed_in(&w.log, h).is_empty(), "{name}: nothing closed");
            let stats = w.endpoint(h).stats();
            assert_eq!(stats.sessions, 1);
            assert_eq!(stats.handshakes, 0);
            assert_eq!(
                stats.rejected + stats.unknown_source + stats.unexpected + stats.malformed,
                0,
                "{name}: host {h} dropped nothing on a clean link: {stats:?}"
            );
        }
        assert_eq!(w.endpoint(0).stats().accepted, 1);
        assert_eq!(w.endpoint(1).stats().connected, 1);
    }
}

#[test]
fn kcp_go_fec_and_aes_deliver_exactly_once_at_10_percent_loss() {
    let mut recovered = 0;
    for seed in 0..5 {
        let mut w = World::pair(seed, link(0.10), kcptun());
        let (client, server) = connect_and_exchange(&mut w, seed * 10, 200_000);
        for (h, id) in [(0, server), (1, client)] {
            let session = w.endpoint(h).session(id).unwrap();
            recovered += session.fec_stats().recovered;
            assert!(session.fec_stats().parity_shards_in > 0);
        }
        assert_eq!(accepted_in(&w.log, 0).len(), 1, "seed {seed}");
        assert!(closed_in(&w.log, 0).is_empty() && closed_in(&w.log, 1).is_empty());
    }
    assert!(recovered > 0, "FEC rebuilt nothing at 10 % loss");
}

#[test]
fn fifty_clients_share_one_server() {
    const CLIENTS: usize = 50;
    let mut hosts = vec![(config(kcptun(), true), addr(SERVER))];
    for i in 0..CLIENTS {
        let at = SocketAddr::from((
            Ipv4Addr::new(10, 1, (i / 200) as u8, (i % 200) as u8 + 1),
            7000,
        ));
        hosts.push((config(kcptun(), false), at));
    }
    let mut w = World::new(7, link(0.02), hosts);
    let mut flows = Vec::new();
    for c in 1..=CLIENTS {
        let now = w.now();
        w.endpoint(c).connect(now, addr(SERVER)).unwrap();
        flows.push(Flow::new(c, 0, c as u64, 20_000));
        flows.push(Flow::new(0, c, 1000 + c as u64, 20_000));
    }
    w.transfer(&mut flows, 120_000);
    assert_eq!(w.endpoint(0).stats().sessions, CLIENTS);
    assert_eq!(accepted_in(&w.log, 0).len(), CLIENTS);
    let server = &w.hosts[0].endpoint;
    let convs: std::collections::HashSet<u32> = server
        .sessions()
        .map(|id| server.session(id).unwrap().conv())
        .collect();
    assert_eq!(convs.len(), CLIENTS, "every client has its own conv");
}

#[test]
fn strangers_beyond_the_session_limit_are_refused() {
    let mut server = config(kcptun(), true);
    server.max_sessions = 3;
    let mut hosts = vec![(server, addr(SERVER))];
    for i in 0..5u8 {
        hosts.push((
            config(kcptun(), false),
            SocketAddr::from(([10, 2, 0, i + 1], 7000)),
        ));
    }
    let mut w = World::new(3, link(0.0), hosts);
    for c in 1..=5 {
        let now = w.now();
        let id = w.endpoint(c).connect(now, addr(SERVER)).unwrap();
        w.endpoint(c).send(id, b"hello").unwrap();
    }
    w.run_for(500);
    let stats = w.endpoint(0).stats();
    assert_eq!(stats.sessions, 3);
    assert_eq!(accepted_in(&w.log, 0).len(), 3);
    assert!(stats.limited >= 2, "{stats:?}");

    // The memory budget limits too.
    let mut tight = config(kcptun(), true);
    tight.max_memory = 2 * tight.session_memory_bound();
    assert_eq!(tight.session_limit(), 2);
}

#[test]
fn a_restarted_client_replaces_its_old_session() {
    let mut w = World::pair(5, link(0.0), kcptun());
    let (_, old) = connect_and_exchange(&mut w, 50, 30_000);
    // The client restarts: a new process at the same address, a new conv, sn from 0.
    w.hosts[1].endpoint = Endpoint::new(config(kcptun(), false), seed32(5, 99), w.now()).unwrap();
    let before = w.log[0].len();
    let now = w.now();
    let client = w.endpoint(1).connect(now, addr(SERVER)).unwrap();
    // Up first: until the server has replaced the session, what it sends goes to the old one.
    w.transfer(&mut [Flow::new(1, 0, 60, 30_000)], 60_000);
    w.transfer(&mut [Flow::new(0, 1, 61, 30_000)], 60_000);

    let events: Vec<Event> = w.log[0][before..].iter().map(|&(_, e)| e).collect();
    let new = session_with(&w.hosts, 0, addr(CLIENT)).unwrap();
    assert_ne!(new, old);
    assert_eq!(
        events[..2],
        [
            Event::Closed(old, CloseReason::Replaced),
            Event::Accepted(new)
        ],
        "{events:?}"
    );
    assert_eq!(w.endpoint(0).stats().sessions, 1);
    assert!(w.endpoint(0).session(old).is_none());
    assert_eq!(
        w.endpoint(0).session(new).unwrap().conv(),
        w.endpoint(1).session(client).unwrap().conv()
    );
}

#[test]
fn a_different_conv_replaces_only_from_sn_zero_and_only_if_taken() {
    for (name, session) in [
        ("aes + fec", kcptun()),
        ("no protection", session_config(None, false)),
    ] {
        let mut w = World::pair(6, link(0.0), session.clone());
        let (client, old) = connect_and_exchange(&mut w, 70, 10_000);
        let conv = w.endpoint(1).session(client).unwrap().conv();
        let other = conv.wrapping_add(1);
        let stranger = datagrams_of(&session, other, &[b"one", b"two"]);
        let (sn0, sn1) = (&stranger[0], &stranger[1]);
        w.collect();
        let events = w.log[0].len();

        // sn 1 first: not a restart, dropped.
        assert_eq!(
            w.feed(0, addr(CLIENT), sn1),
            Incoming::Dropped(DropReason::Unexpected),
            "{name}"
        );
        assert_eq!(w.endpoint(0).stats().unexpected, 1);

        // A different conv at sn 0 whose segments do not decode: kept out, nothing replaced.
        let mut bad = datagrams_of(&session_config(None, false), other, &[b"x"]).remove(0);
        bad.truncate(wire::HEADER_LEN); // header of a 1-byte push, payload cut
        if matches!(session.protection, Protection::None) {
            assert_eq!(
                w.feed(0, addr(CLIENT), &bad),
                Incoming::Dropped(DropReason::Rejected(DatagramError::Arq(
                    InputError::Malformed(wire::DecodeError::TruncatedPayload {
                        len: 1,
                        available: 0
                    })
                ))),
                "{name}"
            );
        }
        w.collect();
        assert_eq!(w.log[0].len(), events, "{name}: no event");
        assert!(w.endpoint(0).session(old).is_some(), "{name}: still there");

        // The old session still works.
        let mut flows = [Flow::new(1, 0, 71, 10_000)];
        w.transfer(&mut flows, 30_000);
        w.collect();
        let events = w.log[0].len();

        // sn 0: a restarted client.
        assert_eq!(w.feed(0, addr(CLIENT), sn0), Incoming::Consumed, "{name}");
        w.collect();
        let new = session_with(&w.hosts, 0, addr(CLIENT)).unwrap();
        let tail: Vec<Event> = w.log[0][events..].iter().map(|&(_, e)| e).collect();
        assert_eq!(
            tail,
            [
                Event::Closed(old, CloseReason::Replaced),
                Event::Accepted(new),
                Event::Readable(new)
            ],
            "{name}"
        );
        assert_eq!(w.endpoint(0).session(new).unwrap().conv(), other);
        let mut buf = [0; 16];
        assert_eq!(w.endpoint(0).recv(new, &mut buf), Ok(3));
        assert_eq!(&buf[..3], b"one");
        assert_eq!(
            w.endpoint(0).recv(old, &mut buf),
            Err(CallError::Unknown),
            "{name}"
        );
    }
}

/// A random datagram of 0..=1400 bytes.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(1401);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

#[test]
fn a_spoofed_garbage_flood_leaves_no_sessions_and_harms_nothing() {
    const FLOOD: u32 = 10_000;
    const FROM_CLIENT: u32 = 200;
    for (name, session) in [
        ("aes + fec", kcptun()),
        ("no protection", session_config(None, false)),
    ] {
        let mut w = World::pair(8, link(0.01), session);
        let now = w.now();
        w.endpoint(1).connect(now, addr(SERVER)).unwrap();
        let mut flows = [Flow::new(1, 0, 80, 150_000), Flow::new(0, 1, 81, 150_000)];
        let mut rng = Rng::new(88);
        let (mut injected, mut from_client) = (0u32, 0u32);
        let deadline = w.clock() + 120_000;
        while !(flows.iter().all(Flow::done) && injected == FLOOD && from_client == FROM_CLIENT) {
            assert!(w.clock() < deadline, "{name}: flood run unfinished");
            for _ in 0..100 {
                if injected < FLOOD {
                    // 10,000 addresses, each used once.
                    let from = SocketAddr::from((
                        Ipv4Addr::from(0xc612_0000 + injected),
                        1024 + (rng.below(60_000) as u16),
                    ));
                    let bytes = garbage(&mut rng);
                    w.net.inject(Datagram {
                        from,
                        to: addr(SERVER),
                        bytes,
                    });
                    injected += 1;
                }
            }
            if from_client < FROM_CLIENT {
                let bytes = garbage(&mut rng);
                w.net.inject(Datagram {
                    from: addr(CLIENT),
                    to: addr(SERVER),
                    bytes,
                });
                from_client += 1;
            }
            let until = w.clock() + 5;
            w.run_until(until, |hosts, _| {
                for f in flows.iter_mut() {
                    f.pump(hosts);
                }
                false
            });
        }
        let stats = w.endpoint(0).stats();
        assert_eq!(stats.sessions, 1, "{name}: {stats:?}");
        assert_eq!(stats.accepted, 1, "{name}: {stats:?}");
        assert_eq!(accepted_in(&w.log, 0).len(), 1);
        assert!(closed_in(&w.log, 0).is_empty());
        let dropped = stats.rejected + stats.malformed + stats.unexpected + stats.limited;
        assert!(
            dropped >= u64::from(FLOOD + FROM_CLIENT),
            "{name}: every garbage datagram is counted: {stats:?}"
        );
        println!("{name}: {stats:?}");
    }
}

#[test]
fn a_vanished_client_is_closed_by_the_idle_timeout() {
    let session = kcptun();
    let mut server = config(session.clone(), true);
    server.idle_timeout = 2_000;
    let mut w = World::new(
        9,
        link(0.0),
        vec![
            (server, addr(SERVER)),
            (config(session, false), addr(CLIENT)),
        ],
    );
    let (_, id) = connect_and_exchange(&mut w, 90, 20_000);
    let gone = w.clock();
    w.hosts.truncate(1);
    w.run_until(gone + 10_000, |_, log| !closed_in(log, 0).is_empty());
    let closed = closed_in(&w.log, 0);
    assert_eq!(closed.len(), 1);
    let (t, closed_id, reason) = closed[0];
    assert_eq!((closed_id, reason), (id, CloseReason::IdleTimeout));
    let after = t - gone;
    assert!(
        (2_000 - 2 * RTT..=2_000 + RTT).contains(&after),
        "closed {after} ms after the client left"
    );
    assert_eq!(w.endpoint(0).stats().sessions, 0);
    assert_eq!(
        w.endpoint(0).poll_timeout(),
        None,
        "nothing left to wake for"
    );
}

#[test]
fn quiet_sessions_ask_for_no_wake_ups_but_their_idle_deadline() {
    for idle_timeout in [0, 30_000] {
        let session = kcptun();
        let mut server = config(session.clone(), true);
        server.idle_timeout = idle_timeout;
        let mut client = config(session, false);
        client.idle_timeout = idle_timeout;
        let mut w = World::new(
            10,
            link(0.0),
            vec![(server, addr(SERVER)), (client, addr(CLIENT))],
        );
        connect_and_exchange(&mut w, 100, 20_000);
        w.run_for(2_000);
        let now = w.now();
        for h in 0..2 {
            let deadline = w.endpoint(h).poll_timeout();
            if idle_timeout == 0 {
                assert_eq!(deadline, None, "host {h}: an idle session costs nothing");
            } else {
                let ahead = deadline.expect("the idle deadline").wrapping_sub(now);
                assert!(
                    (idle_timeout - 3_000..=idle_timeout).contains(&ahead),
                    "host {h}: next wake-up in {ahead} ms"
                );
            }
        }
    }
}

#[test]
fn a_peer_that_never_acknowledges_is_closed_as_dead() {
    let mut client = config(kcptun(), false);
    client.idle_timeout = 0;
    let mut w = World::new(11, link(0.0), vec![(client, addr(CLIENT))]);
    let now = w.now();
    let id = w.endpoint(0).connect(now, addr(THIRD)).unwrap();
    w.endpoint(0).send(id, &[7; 3000]).unwrap();
    w.run_until(3_600_000, |_, log| !closed_in(log, 0).is_empty());
    assert_eq!(
        closed_in(&w.log, 0).first().map(|c| (c.1, c.2)),
        Some((id, CloseReason::DeadPeer))
    );
}

#[test]
fn a_client_ignores_a_third_party_once_it_has_heard_from_the_server() {
    let session = kcptun();
    let mut w = World::pair(12, link(0.0), session.clone());
    let (client, _) = connect_and_exchange(&mut w, 120, 10_000);
    let conv = w.endpoint(1).session(client).unwrap().conv();
    // Well-formed, right key, right conv: only the source address is wrong.
    let forged = datagrams_of(&session, conv, &[b"injected"]);
    let in_before = w.endpoint(1).session(client).unwrap().snmp().in_pkts;
    for d in &forged {
        assert_eq!(
            w.feed(1, addr(THIRD), d),
            Incoming::Dropped(DropReason::UnknownSource)
        );
    }
    let stats = w.endpoint(1).stats();
    assert_eq!(stats.unknown_source, forged.len() as u64);
    assert_eq!(
        w.endpoint(1).session(client).unwrap().snmp().in_pkts,
        in_before,
        "the session never saw them"
    );
    let mut buf = [0; 64];
    assert!(w.endpoint(1).recv(client, &mut buf).is_err());
    // The real server still gets through.
    let mut flows = [Flow::new(0, 1, 121, 10_000)];
    w.transfer(&mut flows, 30_000);
}

#[test]
fn an_unlocked_client_takes_its_first_answer_from_another_address() {
    // A multi-homed server: the client dials one address, the answer comes from another.
    let session = kcptun();
    let alias = addr("10.0.0.9:29900");
    let mut server = Endpoint::new(config(session.clone(), true), seed32(13, 0), 0).unwrap();
    let mut client = Endpoint::new(config(session.clone(), false), seed32(13, 1), 0).unwrap();
    let mut buf = vec![0; 2048];
    let id = client.connect(0, alias).unwrap();
    client.send(id, b"hi").unwrap();
    let t = client.poll_transmit(0, &mut buf).unwrap();
    assert_eq!(t.destination, alias);
    let mut d = buf[..t.len].to_vec();
    assert_eq!(
        server.handle_datagram(10, addr(CLIENT), &mut d),
        Incoming::Consumed
    );
    let sid = match server.poll_event() {
        Some(Event::Accepted(s)) => s,
        other => panic!("{other:?}"),
    };
    let mut out = [0; 16];
    assert_eq!(server.recv(sid, &mut out), Ok(2));
    server.send(sid, b"yo").unwrap();
    let t = server.poll_transmit(10, &mut buf).unwrap();
    assert_eq!(t.destination, addr(CLIENT));
    let answer = buf[..t.len].to_vec();

    // Before the answer: garbage and another conv from strangers lock nothing.
    let mut rng = Rng::new(13);
    let mut junk = garbage(&mut rng);
    junk.resize(junk.len().max(100), 1);
    assert_eq!(
        client.handle_datagram(20, addr(THIRD), &mut junk),
        Incoming::Dropped(DropReason::UnknownSource)
    );
    let conv = client.session(id).unwrap().conv();
    let mut other_conv = datagrams_of(&session, conv ^ 1, &[b"x"]).remove(0);
    assert_eq!(
        client.handle_datagram(20, addr(THIRD), &mut other_conv),
        Incoming::Dropped(DropReason::UnknownSource)
    );

    // The answer from the server's other address is taken, and locks the client onto it.
    assert_eq!(
        client.handle_datagram(30, addr(SERVER), &mut answer.clone()),
        Incoming::Consumed
    );
    assert_eq!(client.poll_event(), Some(Event::Connected(id)));
    assert_eq!(client.poll_event(), Some(Event::Readable(id)));
    assert_eq!(client.recv(id, &mut out), Ok(2));
    assert_eq!(&out[..2], b"yo");
    assert_eq!(
        client.remote(id),
        Some(alias),
        "still sends where it dialled"
    );
    // Now even the dialled address is a stranger.
    assert_eq!(
        client.handle_datagram(40, alias, &mut answer.clone()),
        Incoming::Dropped(DropReason::UnknownSource)
    );
    // And the session's own conv from a third address no longer locks anything.
    let mut copy = answer.clone();
    assert_eq!(
        client.handle_datagram(40, addr(THIRD), &mut copy),
        Incoming::Dropped(DropReason::UnknownSource)
    );
    assert_eq!(
        client.handle_datagram(50, addr(SERVER), &mut answer.clone()),
        Incoming::Consumed,
        "a duplicate from the locked address is the session's to judge"
    );
}

#[test]
fn readable_is_said_once_until_drained() {
    let mut w = World::pair(14, link(0.0), kcptun());
    let now = w.now();
    let client = w.endpoint(1).connect(now, addr(SERVER)).unwrap();
    let readable = |w: &World| {
        w.log[0]
            .iter()
            .filter(|(_, e)| matches!(e, Event::Readable(_)))
            .count()
    };
    w.endpoint(1).send(client, b"m1").unwrap();
    w.run_for(200);
    assert_eq!(readable(&w), 1);
    let server = accepted_in(&w.log, 0)[0];
    w.endpoint(1).send(client, b"m2").unwrap();
    w.run_for(200);
    assert_eq!(readable(&w), 1, "not drained: no second Readable");
    let mut buf = [0; 16];
    assert_eq!(w.endpoint(0).recv(server, &mut buf), Ok(2));
    w.endpoint(1).send(client, b"m3").unwrap();
    w.run_for(200);
    assert_eq!(readable(&w), 1, "m2 was still waiting");
    assert_eq!(w.endpoint(0).recv(server, &mut buf), Ok(2));
    assert_eq!(&buf[..2], b"m2");
    assert_eq!(w.endpoint(0).recv(server, &mut buf), Ok(2));
    assert!(w.endpoint(0).recv(server, &mut buf).is_err());
    w.endpoint(1).send(client, b"m4").unwrap();
    w.run_for(200);
    assert_eq!(readable(&w), 2, "drained, so told again");
}

#[test]
fn close_is_local_and_quiet() {
    let mut w = World::pair(15, link(0.0), kcptun());
    let (client, server) = connect_and_exchange(&mut w, 150, 10_000);
    w.run_for(500);
    let (server_events, client_events) = (w.log[0].len(), w.log[1].len());
    w.endpoint(0).close(server, 7);
    w.collect();
    assert_eq!(w.log[0].len(), server_events, "no event for a local close");
    assert!(w.endpoint(0).session(server).is_none());
    assert_eq!(w.endpoint(0).remote(server), None);
    assert_eq!(w.endpoint(0).send(server, b"x"), Err(CallError::Unknown));
    let mut buf = vec![0; 2048];
    let now = w.now();
    assert_eq!(
        w.endpoint(0).poll_transmit(now, &mut buf),
        None,
        "nothing sent"
    );
    assert_eq!(w.endpoint(0).stats().sessions, 0);
    // The client is not told; its next datagram is a stranger's (sn > 0), and kcp-go's
    // listener starts a session for it all the same.
    w.endpoint(1).send(client, b"still there?").unwrap();
    w.run_for(200);
    assert_eq!(w.log[1].len(), client_events, "the client heard nothing");
    let accepted = accepted_in(&w.log, 0);
    assert_eq!(accepted.len(), 2);
    assert_ne!(accepted[1], server);
}

#[test]
fn connecting_again_to_one_server_replaces_the_session() {
    let mut w = World::pair(16, link(0.0), kcptun());
    let (first, _) = connect_and_exchange(&mut w, 160, 5_000);
    let now = w.now();
    let second = w.endpoint(1).connect(now, addr(SERVER)).unwrap();
    w.collect();
    let tail: Vec<Event> = w.log[1]
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(|&(_, e)| e)
        .collect();
    assert_eq!(
        tail,
        [
            Event::Closed(first, CloseReason::Replaced),
            Event::Connected(second)
        ]
    );
    w.transfer(&mut [Flow::new(1, 0, 161, 5_000)], 30_000);
    w.transfer(&mut [Flow::new(0, 1, 162, 5_000)], 30_000);
    assert_eq!(
        w.endpoint(0).stats().sessions,
        1,
        "the server replaced it too"
    );
    assert!(closed_in(&w.log, 0)
        .iter()
        .any(|&(_, _, reason)| reason == CloseReason::Replaced));
}

// ----- interop with kcptun's captured traffic --------------------------------------------------

/// The highest `una` the segments of one direction carry.
fn max_una(capture: &Value, dir: &str) -> u64 {
    capture["datagrams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["dir"] == dir)
        .flat_map(|d| d["kcp_segments"].as_array().unwrap())
        .map(|s| s["una"].as_u64().unwrap())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_captured_kcptun_client_is_accepted_and_read() {
    let kcptun_client = addr("127.0.0.1:39713");
    for name in CAPTURES {
        let capture = load(name);
        let mut server =
            Endpoint::new(config(capture_config(&capture), true), seed32(17, 0), 0).unwrap();
        let mut first = true;
        let mut id = None;
        let mut received = Vec::new();
        let mut buf = vec![0; 1 << 20];
        for d in capture["datagrams"].as_array().unwrap() {
            if d["dir"] != "c2s" {
                continue;
            }
            let now = d["t_ms"].as_f64().unwrap() as u32;
            let mut wire = hex(d["wire_hex"].as_str().unwrap());
            assert_eq!(
                server.handle_datagram(now, kcptun_client, &mut wire),
                Incoming::Consumed,
                "{name} datagram {}",
                d["index"]
            );
            if first {
                first = false;
                let conv = d["kcp_segments"][0]["conv"].as_u64().unwrap() as u32;
                let s = match server.poll_event() {
                    Some(Event::Accepted(s)) => s,
                    other => panic!("{name}: {other:?} for kcptun's first datagram"),
                };
                assert_eq!(server.session(s).unwrap().conv(), conv, "{name}");
                // The captured segments acknowledge the server's data (`una`), and the ARQ
                // drops acknowledgements of data never sent: send as many segments first.
                let mss = server.session(s).unwrap().arq().mss() as usize;
                for _ in 0..max_una(&capture, "c2s") {
                    server.send(s, &vec![0; mss]).unwrap();
                }
                id = Some(s);
            }
            let id = id.unwrap();
            while let Ok(n) = server.recv(id, &mut buf) {
                received.extend_from_slice(&buf[..n]);
            }
            // The server's acknowledgements go nowhere.
            while server.poll_transmit(now, &mut buf).is_some() {}
        }
        assert_eq!(received, push_stream(&capture, "c2s"), "{name}");
        assert_eq!(server.stats().sessions, 1);
    }
}

#[test]
fn a_legacy_client_s_first_datagram_is_a_kcp_go_packet() {
    let capture = load("kcptun-aes-fec10-3.json");
    let session = capture_config(&capture);
    let mut client = Endpoint::new(config(session.clone(), false), seed32(18, 1), 0).unwrap();
    let id = client.connect(1173, addr(SERVER)).unwrap();
    client.send(id, b"hello").unwrap();
    let mut buf = vec![0; 2048];
    let t = client.poll_transmit(1173, &mut buf).unwrap();
    assert_eq!(t.destination, addr(SERVER));
    let wire = buf[..t.len].to_vec();

    // Decoded by hand, as kcp-go's listener would: decrypt, CRC, FEC header, KCP header.
    let mut plain = wire.clone();
    let opener = LegacyCrypto::new(CipherKind::Aes256, &key(), 0);
    let len = opener.open(&mut plain).expect("kcp-go's CRC passes");
    let plain = &plain[crypto::HEADER_LEN..crypto::HEADER_LEN + len];
    assert_eq!(&plain[0..4], &[0, 0, 0, 0], "FEC seqid 0");
    assert_eq!(
        u16::from_le_bytes([plain[4], plain[5]]),
        kcpgo::FLAG_DATA,
        "an FEC data packet"
    );
    let kcp = &plain[kcpgo::DATA_OVERHEAD..];
    assert_eq!(
        usize::from(u16::from_le_bytes([plain[6], plain[7]])),
        2 + kcp.len()
    );
    let header = Header::decode(kcp).unwrap();
    assert_eq!(header.conv, client.session(id).unwrap().conv());
    assert_eq!(
        (header.cmd, header.frg, header.sn, header.una, header.len),
        (Command::Push, 0, 0, 0, 5)
    );
    assert_eq!(&kcp[wire::HEADER_LEN..], b"hello");
    assert_eq!(
        t.len,
        crypto::HEADER_LEN + kcpgo::DATA_OVERHEAD + wire::HEADER_LEN + 5
    );

    // The same framing as kcptun's own first datagram in the capture.
    let captured = &capture["datagrams"][0];
    assert_eq!(captured["dir"], "c2s");
    let captured_plain = hex(captured["plaintext_hex"].as_str().unwrap());
    assert_eq!(
        captured_plain[..6],
        plain[..6],
        "seqid and flag as kcptun's"
    );
    let captured_header = Header::decode(&captured_plain[kcpgo::DATA_OVERHEAD..]).unwrap();
    assert_eq!(
        (captured_header.cmd, captured_header.sn, captured_header.una),
        (header.cmd, header.sn, header.una)
    );

    // And a legacy server accepts it.
    let mut server = Endpoint::new(config(session, true), seed32(18, 0), 0).unwrap();
    assert_eq!(
        server.handle_datagram(1200, addr(CLIENT), &mut wire.clone()),
        Incoming::Consumed
    );
    assert!(matches!(server.poll_event(), Some(Event::Accepted(_))));
}
