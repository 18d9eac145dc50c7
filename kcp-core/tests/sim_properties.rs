//! Property tests over many seeds: whatever the loss (up to 30 %), delay, jitter, duplication,
//! bottleneck and blackholes, and whatever the configuration, every byte arrives exactly once,
//! in order, and the transfer terminates.
//!
//! `KCP_SIM_SEEDS=10000 cargo test --release -p kcp-core --test sim_properties` runs 10,000
//! seeds per test (the default is 1000); `KCP_SIM_SEED=1234` runs a single one.

use kcp_core::sim::{Bandwidth, LinkConfig, Rng, Sim};
use kcp_core::{Config, FlushMode, Kcp, RecvError, SendError};

/// Simulated time after which a transfer counts as stuck.
const TIME_LIMIT_MS: u64 = 30 * 60 * 1000;

fn seeds(default: u64) -> Vec<u64> {
    if let Some(seed) = std::env::var("KCP_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![seed];
    }
    let n = std::env::var("KCP_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    (0..n).collect()
}

/// A random link: loss up to `max_loss`, delay with jitter, sometimes duplication, a
/// bottleneck, or a blackhole.
fn random_link(rng: &mut Rng, max_loss: f64) -> LinkConfig {
    let delay_min = rng.range(0, 80);
    let mut link = LinkConfig::lossy(
        rng.unit() * max_loss,
        delay_min,
        delay_min + rng.range(0, 60),
    );
    if rng.chance(0.3) {
        link.duplicate = rng.unit() * 0.05;
    }
    if rng.chance(0.2) {
        link.bandwidth = Some(Bandwidth {
            bytes_per_sec: rng.range(100_000, 2_000_000),
            queue_bytes: rng.range(20_000, 200_000),
        });
    }
    if rng.chance(0.2) {
        let start = rng.range(0, 5_000);
        link.blackholes.push((start, start + rng.range(100, 3_000)));
    }
    link
}

fn random_config(rng: &mut Rng, stream: bool) -> Config {
    let mut config = match rng.below(5) {
        0 => Config::default(),
        1 => Config::normal(),
        2 => Config::fast(),
        3 => Config::fast2(),
        _ => Config::fast3(),
    };
    config.stream = stream;
    config.mtu = rng.range(200, 1400) as u32;
    config.send_window = rng.range(8, 256) as u16;
    config.recv_window = rng.range(128, 512) as u16;
    config.congestion_control = rng.chance(0.5);
    config.send_queue_limit = rng.range(16, 512) as u32;
    config.flush = if rng.chance(0.25) {
        FlushMode::Interval
    } else {
        FlushMode::Eager
    };
    config.early_retransmit = rng.chance(0.5);
    config
}

/// One side's application: what it still has to send, and what it has received so far.
struct App {
    to_send: Vec<Vec<u8>>,
    next_message: usize,
    /// Bytes of `to_send[next_message]` already taken (stream mode).
    offset: usize,
    expected: Vec<Vec<u8>>,
    received_messages: usize,
    received_bytes: Vec<u8>,
    expected_bytes: usize,
}

impl App {
    fn new(to_send: Vec<Vec<u8>>, expected: Vec<Vec<u8>>) -> App {
        let expected_bytes = expected.iter().map(Vec::len).sum();
        App {
            to_send,
            next_message: 0,
            offset: 0,
            expected,
            received_messages: 0,
            received_bytes: Vec::new(),
            expected_bytes,
        }
    }

    fn feed(&mut self, kcp: &mut Kcp, stream: bool) {
        while let Some(message) = self.to_send.get(self.next_message) {
            let rest = &message[self.offset..];
            match kcp.send(rest) {
                Ok(n) if stream && n < rest.len() => {
                    self.offset += n;
                    return;
                }
                Ok(_) => {
                    self.next_message += 1;
                    self.offset = 0;
                }
                Err(SendError::QueueFull) => return,
                Err(e) => panic!("send refused: {e}"),
            }
        }
    }

    /// Reads everything ready and checks it against what the peer sent, in order.
    fn drain(&mut self, kcp: &mut Kcp, stream: bool, buf: &mut [u8]) {
        loop {
            match kcp.recv(buf) {
                Ok(n) if stream => {
                    assert!(n > 0, "stream recv returned 0 bytes");
                    self.received_bytes.extend_from_slice(&buf[..n]);
                    let expected: Vec<u8> = self.expected.concat();
                    assert_eq!(
                        &self.received_bytes[..],
                        &expected[..self.received_bytes.len()],
                        "stream bytes differ (duplicated, reordered or corrupted)"
                    );
                }
                Ok(n) => {
                    let want = self
                        .expected
                        .get(self.received_messages)
                        .expect("more messages than were sent");
                    assert_eq!(&buf[..n], &want[..], "message {}", self.received_messages);
                    self.received_messages += 1;
                }
                Err(RecvError::Empty) => return,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    fn done(&self, stream: bool) -> bool {
        if stream {
            self.received_bytes.len() == self.expected_bytes
        } else {
            self.received_messages == self.expected.len()
        }
    }
}

fn random_messages(rng: &mut Rng, max_len: usize, total: usize) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut bytes = 0;
    while bytes < total {
        let len = if rng.chance(0.05) {
            0
        } else {
            rng.range(1, max_len as u64) as usize
        };
        let message: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        bytes += len.max(1);
        messages.push(message);
    }
    messages
}

/// Runs one seeded bidirectional transfer to completion; panics with the seed on any failure.
fn transfer(seed: u64, stream: bool, max_loss: f64) {
    eprintln!("seed {seed}");
    let mut rng = Rng::new(seed);
    let config_a = random_config(&mut rng, stream);
    let mut config_b = random_config(&mut rng, stream);
    config_b.mtu = config_a.mtu;
    let link_ab = random_link(&mut rng, max_loss);
    let link_ba = random_link(&mut rng, max_loss);
    let origin = if rng.chance(0.3) {
        u32::MAX - rng.range(0, 20_000) as u32
    } else {
        0
    };
    let max_message = (config_a.mss() as usize) * 8;
    let (a_total, b_total) = (rng.range(1, 60_000) as usize, rng.range(1, 20_000) as usize);
    let a_sends = random_messages(&mut rng, max_message, a_total);
    let b_sends = random_messages(&mut rng, max_message, b_total);

    let conv = rng.next_u64() as u32;
    let mut a = Kcp::new(conv, &config_a).unwrap();
    let mut b = Kcp::new(conv, &config_b).unwrap();
    let mut app_a = App::new(a_sends.clone(), b_sends.clone());
    let mut app_b = App::new(b_sends, a_sends);
    let mut sim = Sim::new(seed, link_ab, link_ba).with_origin(origin);
    let mut buf = vec![0u8; 1 << 20];

    while !(app_a.done(stream) && app_b.done(stream)) {
        assert!(
            sim.clock() < TIME_LIMIT_MS,
            "seed {seed}: stuck; a {:?} b {:?}\nconfig a {config_a:?}\nconfig b {config_b:?}",
            a.stats(),
            b.stats()
        );
        app_a.feed(&mut a, stream);
        app_b.feed(&mut b, stream);
        sim.step(&mut a, &mut b, 50);
        app_a.drain(&mut a, stream, &mut buf);
        app_b.drain(&mut b, stream, &mut buf);
    }
    // Nothing was lost silently: every drop the machines made is one the link explains.
    for kcp in [&a, &b] {
        let s = kcp.stats();
        assert_eq!(
            s.dropped_truncated + s.dropped_wrong_conv + s.dropped_unknown_command,
            0
        );
        assert_eq!(
            s.dropped_una_beyond_sent + s.dropped_ack_unsent + s.dropped_oversize,
            0
        );
    }
}

#[test]
fn message_mode_delivers_exactly_once_in_order() {
    for seed in seeds(1000) {
        transfer(seed, false, 0.3);
    }
}

#[test]
fn stream_mode_delivers_exactly_once_in_order() {
    for seed in seeds(1000) {
        transfer(seed + 1_000_000, true, 0.3);
    }
}

#[test]
fn an_idle_eager_machine_asks_for_no_wakeups() {
    let link = LinkConfig::lossy(0.0, 10, 10);
    let mut sim = Sim::new(9, link.clone(), link);
    let mut a = Kcp::new(1, &Config::fast3()).unwrap();
    let mut b = Kcp::new(1, &Config::fast3()).unwrap();
    a.send(b"hello").unwrap();
    let mut buf = [0u8; 16];
    while b.recv(&mut buf).is_err() {
        sim.step(&mut a, &mut b, 100);
    }
    for _ in 0..10 {
        sim.step(&mut a, &mut b, 1_000);
    }
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(b.poll_timeout(), None);
    assert_eq!(a.wait_send(), 0);
}
