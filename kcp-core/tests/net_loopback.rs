//! The driver on real loopback sockets: many sessions, both modes, large transfers checked by
//! hash, a client that vanishes, a garbage flood. Deadlines here only guard against hangs;
//! nothing asserts on timing.

#![cfg(feature = "net")]

use kcp_core::endpoint::{CloseReason, SessionId};
use kcp_core::legacy::LegacyConfig;
use kcp_core::net::{Driver, DriverConfig, Event, Mode};
use kcp_core::sealed::keys::Key;
use kcp_core::session::{FecMode, Protection, SessionConfig};
use kcp_core::{Config, EndpointConfig};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::Hasher;
use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The hang guard of every exchange.
const DEADLINE: Duration = Duration::from_secs(60);
/// A message that asks the server for the hash of everything the session sent before it.
const FIN: &[u8] = b"FIN";

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn native(accept: bool) -> Mode {
    let mut config = EndpointConfig::new(Key::from_bytes([7; 32]));
    config.accept = accept;
    config.max_sessions = 4096;
    config.arq.send_window = 256;
    config.arq.recv_window = 256;
    Mode::Native(config)
}

fn legacy(accept: bool, fec: FecMode, protection: Protection) -> Mode {
    let mut arq = Config::fast3();
    arq.mtu = 1350;
    arq.send_window = 256;
    arq.recv_window = 256;
    let mut config = LegacyConfig::new(SessionConfig {
        arq,
        fec,
        protection,
    });
    config.accept = accept;
    Mode::Legacy(config)
}

fn aes() -> Protection {
    let key = kcp_core::crypto::derive_key(b"it's a secrect");
    Protection::Legacy {
        cipher: kcp_core::crypto::CipherKind::Aes256,
        key,
    }
}

/// Message `i` of session `s`: `size` bytes from a small generator, so any reordering,
/// duplication or corruption shows.
fn payload(s: usize, i: usize, size: usize) -> Vec<u8> {
    let mut x = (s as u64) << 32 | i as u64 | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// An echo server on its own thread: every message is echoed back unless it is `FIN`, which
/// is answered with the hash of everything before it. Stops when told; returns its driver.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(Driver, Vec<Event>)>,
}

impl Server {
    fn start(mut config: DriverConfig, echo: bool) -> Server {
        config.socket.bind = any_port();
        Server::start_at(config, echo)
    }

    fn start_at(config: DriverConfig, echo: bool) -> Server {
        let mut driver = Driver::new(config).unwrap();
        let addr = driver.local_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let mut hashes: HashMap<SessionId, DefaultHasher> = HashMap::new();
            let mut backlog: HashMap<SessionId, VecDeque<Vec<u8>>> = HashMap::new();
            let mut seen = Vec::new();
            let mut buf = vec![0; 1 << 20];
            while !flag.load(Ordering::Relaxed) {
                driver.poll(Some(Duration::from_millis(5))).unwrap();
                while let Some(event) = driver.next_event() {
                    seen.push(event);
                    if let Event::Readable(id) = event {
                        while let Ok(n) = driver.recv(id, &mut buf) {
                            let message = &buf[..n];
                            let hash = hashes.entry(id).or_default();
                            let out = if message == FIN {
                                hash.finish().to_le_bytes().to_vec()
                            } else {
                                hash.write(message);
                                if !echo {
                                    continue;
                                }
                                message.to_vec()
                            };
                            backlog.entry(id).or_default().push_back(out);
                        }
                    }
                }
                for (&id, queue) in &mut backlog {
                    while let Some(message) = queue.front() {
                        match driver.send(id, message) {
                            Ok(_) => drop(queue.pop_front()),
                            Err(_) => break,
                        }
                    }
                }
            }
            (driver, seen)
        });
        Server { addr, stop, thread }
    }

    fn stop(self) -> (Driver, Vec<Event>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// One client session's progress.
struct Flow {
    id: SessionId,
    index: usize,
    connected: bool,
    sent: usize,
    echoed: usize,
    hash: DefaultHasher,
    fin_sent: bool,
    done: bool,
}

/// Runs `sessions` sessions on one client driver against `server`: each sends `messages`
/// messages of `size` bytes, checks the echoes (if `echo`) in order, then checks the server's
/// hash of the whole stream.
fn exchange(
    driver: &mut Driver,
    server: SocketAddr,
    sessions: usize,
    messages: usize,
    size: usize,
    echo: bool,
) {
    let mut flows: Vec<Flow> = (0..sessions)
        .map(|index| Flow {
            id: driver.connect(server).unwrap(),
            index,
            connected: false,
            sent: 0,
            echoed: 0,
            hash: DefaultHasher::new(),
            fin_sent: false,
            done: false,
        })
        .collect();
    let by_id: HashMap<SessionId, usize> = flows.iter().map(|f| (f.id, f.index)).collect();
    let started = Instant::now();
    let mut buf = vec![0; 1 << 20];
    while flows.iter().any(|f| !f.done) {
        assert!(started.elapsed() < DEADLINE, "exchange did not finish");
        driver.poll(Some(Duration::from_millis(5))).unwrap();
        while let Some(event) = driver.next_event() {
            match event {
                Event::Connected(id) => flows[by_id[&id]].connected = true,
                Event::Readable(id) => {
                    let flow = &mut flows[by_id[&id]];
                    while let Ok(n) = driver.recv(id, &mut buf) {
                        if echo && flow.echoed < messages {
                            assert_eq!(&buf[..n], payload(flow.index, flow.echoed, size));
                            flow.echoed += 1;
                        } else {
                            assert_eq!(n, 8, "hash reply");
                            assert_eq!(buf[..8], flow.hash.finish().to_le_bytes(), "stream hash");
                            flow.done = true;
                        }
                    }
                }
                Event::Closed(id, reason) => panic!("session {id} closed: {reason}"),
                _ => {}
            }
        }
        for flow in flows.iter_mut().filter(|f| f.connected) {
            // Keep a bounded number in flight so echoes do not pile up at the server.
            while flow.sent < messages && (!echo || flow.sent - flow.echoed < 64) {
                let message = payload(flow.index, flow.sent, size);
                match driver.send(flow.id, &message) {
                    Ok(_) => {
                        flow.hash.write(&message);
                        flow.sent += 1;
                    }
                    Err(_) => break,
                }
            }
            let all_echoed = !echo || flow.echoed == messages;
            if flow.sent == messages && all_echoed && !flow.fin_sent {
                flow.fin_sent = driver.send(flow.id, FIN).is_ok();
            }
        }
    }
}

fn client(mode: Mode) -> Driver {
    Driver::new(DriverConfig::new(any_port(), mode)).unwrap()
}

#[test]
fn native_many_sessions_echo() {
    let server = Server::start(DriverConfig::new(any_port(), native(true)), true);
    let mut driver = client(native(false));
    exchange(&mut driver, server.addr, 100, 40, 700, true);
    let (server_driver, events) = server.stop();
    let accepted = events
        .iter()
        .filter(|e| matches!(e, Event::Accepted(_)))
        .count();
    assert_eq!(accepted, 100);
    assert_eq!(server_driver.sessions().len(), 100);
    let stats = server_driver.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(stats.endpoint.accepted, 100);
}

#[test]
fn native_large_transfer_by_hash() {
    let server = Server::start(DriverConfig::new(any_port(), native(true)), false);
    let mut driver = client(native(false));
    // 24 MiB one way: 24,576 messages of 1 KiB.
    exchange(&mut driver, server.addr, 1, 24 * 1024, 1024, false);
    server.stop();
}

#[test]
fn legacy_many_clients_with_fec_and_aes() {
    let server = Server::start(
        DriverConfig::new(
            any_port(),
            legacy(
                true,
                FecMode::KcpGo {
                    data: 10,
                    parity: 3,
                },
                aes(),
            ),
        ),
        true,
    );
    let addr = server.addr;
    // kcp-go's listener keys sessions by address: one client socket per session.
    let clients: Vec<_> = (0..20)
        .map(|_| {
            thread::spawn(move || {
                let mut driver = client(legacy(
                    false,
                    FecMode::KcpGo {
                        data: 10,
                        parity: 3,
                    },
                    aes(),
                ));
                exchange(&mut driver, addr, 1, 50, 900, true);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let (server_driver, _) = server.stop();
    assert_eq!(server_driver.stats().endpoint.accepted, 20);
}

#[test]
fn legacy_large_transfer_by_hash() {
    let server = Server::start(
        DriverConfig::new(any_port(), legacy(true, FecMode::Off, Protection::None)),
        false,
    );
    let mut driver = client(legacy(false, FecMode::Off, Protection::None));
    exchange(&mut driver, server.addr, 1, 24 * 1024, 1024, false);
    server.stop();
}

/// A client that disappears without a word is noticed and its session reaped.
#[test]
fn vanished_client_is_reaped() {
    let modes: [fn(bool) -> Mode; 2] = [native, |accept| {
        legacy(accept, FecMode::Off, Protection::None)
    }];
    for mode in modes {
        let mut server_mode = mode(true);
        match &mut server_mode {
            Mode::Native(c) => {
                c.idle_timeout = 1_500;
                c.keepalive = 500;
            }
            Mode::Legacy(c) => c.idle_timeout = 1_500,
        }
        let mut server = Driver::new(DriverConfig::new(any_port(), server_mode)).unwrap();
        let mut driver = client(mode(false));
        let id = driver.connect(server.local_addr()).unwrap();
        let started = Instant::now();
        let mut accepted = None;
        let mut sent = false;
        let mut closed = None;
        while closed.is_none() {
            assert!(
                started.elapsed() < DEADLINE,
                "the server never reaped the client"
            );
            if accepted.is_none() || !sent {
                driver.poll(Some(Duration::from_millis(1))).unwrap();
                while driver.next_event().is_some() {}
                sent = sent || driver.send(id, b"hello").is_ok();
            }
            server.poll(Some(Duration::from_millis(20))).unwrap();
            while let Some(event) = server.next_event() {
                match event {
                    Event::Accepted(a) => accepted = Some(a),
                    Event::Closed(c, reason) => closed = Some((c, reason)),
                    _ => {}
                }
            }
            if accepted.is_some() && sent {
                // The client vanishes: its driver is gone, its socket closed.
                driver = client(mode(false));
            }
        }
        let (closed_id, reason) = closed.unwrap();
        assert_eq!(Some(closed_id), accepted);
        assert!(
            matches!(reason, CloseReason::IdleTimeout | CloseReason::DeadPeer),
            "{reason:?}"
        );
        assert!(server.sessions().is_empty());
    }
}

/// Garbage at the server's socket from many sources, while a legitimate session transfers:
/// nothing panics, every garbage datagram is dropped and counted, no session is created for
/// it, and the transfer completes intact.
#[test]
fn garbage_flood_leaves_legitimate_sessions_alone() {
    let modes: [fn(bool) -> Mode; 2] = [native, |accept| {
        legacy(
            accept,
            FecMode::KcpGo {
                data: 10,
                parity: 3,
            },
            aes(),
        )
    }];
    for mode in modes {
        let server = Server::start(DriverConfig::new(any_port(), mode(true)), true);
        let target = server.addr;
        let flooding = Arc::new(AtomicBool::new(true));
        let flag = flooding.clone();
        let flooder = thread::spawn(move || {
            let sockets: Vec<UdpSocket> = (0..16)
                .map(|_| UdpSocket::bind(any_port()).unwrap())
                .collect();
            let mut sent = 0u64;
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            let mut datagram = [0u8; 1500];
            while flag.load(Ordering::Relaxed) || sent < 20_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let len = (x % 1500) as usize;
                for b in datagram[..len].iter_mut() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    *b = x as u8;
                }
                // Some look like the protocol: a valid kind byte or a kcp-go FEC flag.
                if len > 8 && x % 4 == 0 {
                    datagram[0] = (x >> 8) as u8 % 7;
                    datagram[4] = 0xf1;
                }
                let socket = &sockets[(sent % 16) as usize];
                if socket.send_to(&datagram[..len], target).is_ok() {
                    sent += 1;
                }
                if sent % 32 == 0 {
                    thread::sleep(Duration::from_micros(200));
                }
            }
            sent
        });
        let mut driver = client(mode(false));
        exchange(&mut driver, target, 1, 2_000, 1000, true);
        flooding.store(false, Ordering::Relaxed);
        let garbage = flooder.join().unwrap();
        let (server_driver, events) = server.stop();
        let stats = server_driver.stats();
        assert_eq!(server_driver.sessions().len(), 1, "{stats:?}");
        let accepted = events
            .iter()
            .filter(|e| matches!(e, Event::Accepted(_)))
            .count();
        assert_eq!(accepted, 1, "garbage created sessions: {stats:?}");
        assert!(garbage >= 20_000);
        // Every datagram the server read that the client did not send was garbage, and was
        // dropped and counted (the kernel may drop some of either kind before the server sees
        // them, so this is a bound, not an equality).
        let from_client = driver.stats().datagrams_sent;
        assert!(
            stats.dropped >= stats.datagrams_in.saturating_sub(from_client),
            "{stats:?}, {from_client} from the client"
        );
        assert!(
            stats.dropped >= 1_000,
            "the flood reached the server: {stats:?}"
        );
    }
}

/// The blocking adapters: a client writes a stream and reads it back through `Read`/`Write`.
#[test]
fn stream_adapters_move_bytes() {
    let server = Server::start(DriverConfig::new(any_port(), native(true)), true);
    let mut driver = client(native(false));
    let id = driver.connect(server.addr).unwrap();
    let mut stream = driver.stream(id);
    stream.set_timeout(Some(DEADLINE));
    for i in 0..200 {
        let message = payload(0, i, 1200);
        stream.write_all(&message).unwrap();
        let mut back = vec![0; message.len()];
        // Message mode: one read returns one whole message.
        let n = stream.read(&mut back).unwrap();
        assert_eq!(&back[..n], &message[..]);
    }
    stream.flush().unwrap();
    assert_eq!(driver.wait_send(id), 0);
    driver.close(id, 0);
    assert!(driver.recv(id, &mut [0; 8]).is_err());
    server.stop();
}

/// A UDP relay between one client and a server whose upstream socket can be swapped for a
/// new one, so the server sees the client move to a new address (a NAT rebinding).
struct Relay {
    addr: SocketAddr,
    rebind: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Relay {
    fn start(server: SocketAddr) -> Relay {
        let front = UdpSocket::bind(any_port()).unwrap();
        front
            .set_read_timeout(Some(Duration::from_micros(200)))
            .unwrap();
        let addr = front.local_addr().unwrap();
        let (rebind, stop) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (rebind_flag, stop_flag) = (rebind.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let upstream = || {
                let s = UdpSocket::bind(any_port()).unwrap();
                s.set_nonblocking(true).unwrap();
                s
            };
            let mut back = upstream();
            let mut client = None;
            let mut buf = [0u8; 2048];
            while !stop_flag.load(Ordering::Relaxed) {
                if rebind_flag.swap(false, Ordering::Relaxed) {
                    back = upstream();
                }
                if let Ok((n, from)) = front.recv_from(&mut buf) {
                    client = Some(from);
                    let _ = back.send_to(&buf[..n], server);
                }
                while let Ok(n) = back.recv(&mut buf) {
                    if let Some(client) = client {
                        let _ = front.send_to(&buf[..n], client);
                    }
                }
            }
        });
        Relay {
            addr,
            rebind,
            stop,
            thread,
        }
    }
}

/// Two drivers share a port; sessions stay on their shard (by id) even when their clients'
/// addresses change, which the kernel's address hash alone would break for about half of
/// them.
#[test]
fn sharded_sessions_follow_their_id_across_address_changes() {
    let port_probe = UdpSocket::bind(any_port()).unwrap();
    let shared = port_probe.local_addr().unwrap();
    drop(port_probe);
    let shards: Vec<Server> = (0..2u8)
        .map(|index| {
            let mut config = DriverConfig::new(shared, native(true));
            config.socket.reuse_port = true;
            config.shard = Some((index, 2));
            Server::start_at(config, true)
        })
        .collect();
    let relays: Vec<Relay> = (0..8).map(|_| Relay::start(shared)).collect();
    let mut driver = client(native(false));
    for relay in &relays {
        let id = driver.connect(relay.addr).unwrap();
        let mut stream = driver.stream(id);
        stream.set_timeout(Some(DEADLINE));
        let mut back = [0u8; 16];
        stream.write_all(b"before").unwrap();
        assert_eq!(stream.read(&mut back).unwrap(), 6);
        relay.rebind.store(true, Ordering::Relaxed);
        thread::sleep(Duration::from_millis(5));
        for _ in 0..20 {
            stream.write_all(b"after move").unwrap();
            let n = stream.read(&mut back).unwrap();
            assert_eq!(&back[..n], b"after move");
        }
    }
    for relay in relays {
        relay.stop.store(true, Ordering::Relaxed);
        relay.thread.join().unwrap();
    }
    let mut migrated = 0;
    for (index, shard) in shards.into_iter().enumerate() {
        let (shard_driver, events) = shard.stop();
        for event in &events {
            match event {
                Event::Accepted(id) => assert_eq!(id.0 as u8 % 2, index as u8),
                Event::Migrated(..) => migrated += 1,
                _ => {}
            }
        }
        assert_eq!(shard_driver.stats().endpoint.unknown_session, 0);
    }
    assert_eq!(
        migrated, 8,
        "every session moved to its client's new address"
    );
}
