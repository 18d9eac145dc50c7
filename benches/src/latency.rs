//! The reference latency experiment (the C project's `test.cpp`), in virtual time, for both
//! implementations: 10 % round-trip loss (5 % each way), one-way delay uniform in 30-62 ms (so
//! datagrams reorder), windows 128/128, `update` every millisecond; the client sends an 8-byte
//! message (index, timestamp) every 20 ms and the server echoes each one, until 1000 echoes
//! have come back in order.

use kcp_core::sim::{Link, LinkConfig, Rng};
use kcp_core::{Config, FlushMode, Kcp};

use crate::peer::Peer;
use crate::reference::CKcp;

/// A mode of the experiment: `nodelay(nodelay, interval, resend, nc)` on both peers, plus the
/// client-only overrides `test.cpp` applies in its fast mode.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    /// Name in the output.
    pub name: &'static str,
    /// The four `ikcp_nodelay` arguments.
    pub nodelay: (u32, u32, u32, u32),
    /// Client `rx_minrto` override.
    pub client_min_rto: Option<u32>,
    /// Client `fastresend` override.
    pub client_fast_resend: Option<u32>,
}

/// The three modes of the reference experiment.
pub const MODES: [Mode; 3] = [
    Mode {
        name: "default",
        nodelay: (0, 10, 0, 0),
        client_min_rto: None,
        client_fast_resend: None,
    },
    Mode {
        name: "normal",
        nodelay: (0, 10, 0, 1),
        client_min_rto: None,
        client_fast_resend: None,
    },
    Mode {
        name: "fast",
        nodelay: (2, 10, 2, 1),
        client_min_rto: Some(10),
        client_fast_resend: Some(1),
    },
];

/// Which implementation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// The reference C code.
    C,
    /// kcp-core with its default [`FlushMode::Eager`].
    Ours,
    /// kcp-core in [`FlushMode::Interval`]: the reference's timing, for comparison.
    OursInterval,
}

impl Implementation {
    /// Name in the output.
    pub fn name(self) -> &'static str {
        match self {
            Implementation::C => "c",
            Implementation::Ours => "kcp-core",
            Implementation::OursInterval => "kcp-core-interval",
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Round-trip times of the echoes, in ms, in order.
    pub rtts: Vec<u32>,
    /// Datagrams the client sent.
    pub tx: u64,
    /// Bytes the client sent.
    pub tx_bytes: u64,
}

const ECHOES: usize = 1000;
const SEND_PERIOD: u64 = 20;
const CONV: u32 = 0x1122_3344;

fn our_peer(mode: &Mode, client: bool, flush: FlushMode) -> Kcp {
    let (nodelay, interval, resend, nc) = mode.nodelay;
    let mut config = Config {
        send_window: 128,
        recv_window: 128,
        // The reference queue is unbounded; the slow modes can queue minutes of messages.
        send_queue_limit: u32::MAX,
        flush,
        ..Config::default()
    }
    .with_nodelay(nodelay, interval, resend, nc != 0);
    if client {
        config.min_rto = mode.client_min_rto.unwrap_or(config.min_rto);
        config.fast_resend = mode.client_fast_resend.unwrap_or(config.fast_resend);
    }
    Kcp::new(CONV, &config).expect("experiment configuration is valid")
}

fn c_peer(mode: &Mode, client: bool) -> CKcp {
    let (nodelay, interval, resend, nc) = mode.nodelay;
    let mut kcp = CKcp::new(CONV);
    kcp.nodelay(nodelay as i32, interval as i32, resend as i32, nc as i32);
    kcp.wndsize(128, 128);
    if client {
        if let Some(ms) = mode.client_min_rto {
            kcp.set_min_rto(ms as i32);
        }
        if let Some(resend) = mode.client_fast_resend {
            kcp.set_fast_resend(resend as i32);
        }
    }
    kcp
}

/// Runs one seeded experiment.
pub fn run(implementation: Implementation, mode: &Mode, seed: u64) -> Outcome {
    match implementation {
        Implementation::C => echo(c_peer(mode, true), c_peer(mode, false), seed),
        Implementation::Ours => echo(
            our_peer(mode, true, FlushMode::Eager),
            our_peer(mode, false, FlushMode::Eager),
            seed,
        ),
        Implementation::OursInterval => echo(
            our_peer(mode, true, FlushMode::Interval),
            our_peer(mode, false, FlushMode::Interval),
            seed,
        ),
    }
}

/// Moves every datagram `peer` has ready onto `link`.
fn transmit(peer: &mut impl Peer, link: &mut Link, clock: u64, now: u32, buf: &mut [u8]) {
    while let Some(len) = peer.poll_transmit(now, buf) {
        link.send(clock, &buf[..len]);
    }
}

fn echo(mut client: impl Peer, mut server: impl Peer, seed: u64) -> Outcome {
    let mut seeds = Rng::new(seed);
    let link = LinkConfig::lossy(0.05, 30, 62);
    let mut up = Link::new(link.clone(), seeds.next_u64());
    let mut down = Link::new(link, seeds.next_u64());
    // Start the clock somewhere arbitrary, as a real process would.
    let origin = seeds.next_u64() as u32;
    let mut buf = vec![0u8; 2048];
    let mut msg = [0u8; 64];
    let mut outcome = Outcome::default();
    let mut next_index = 0u32;
    let mut next_send = 0u64;
    let mut clock = 0u64;

    while outcome.rtts.len() < ECHOES {
        clock += 1;
        assert!(
            clock < 3_600_000,
            "echo experiment did not finish: {} echoes",
            outcome.rtts.len()
        );
        let now = origin.wrapping_add(clock as u32);
        client.handle_timeout(now);
        server.handle_timeout(now);

        if clock >= next_send {
            next_send += SEND_PERIOD;
            let mut message = [0u8; 8];
            message[..4].copy_from_slice(&next_index.to_le_bytes());
            message[4..].copy_from_slice(&(clock as u32).to_le_bytes());
            next_index += 1;
            assert!(client.send_message(&message), "client send refused");
        }
        transmit(&mut client, &mut up, clock, now, &mut buf);
        transmit(&mut server, &mut down, clock, now, &mut buf);

        while let Some(d) = up.receive(clock) {
            server.handle_datagram(now, &d);
        }
        while let Some(d) = down.receive(clock) {
            client.handle_datagram(now, &d);
        }
        while let Some(n) = server.recv_message(&mut msg) {
            assert!(server.send_message(&msg[..n]), "server echo refused");
        }
        while let Some(n) = client.recv_message(&mut msg) {
            assert_eq!(n, 8, "echo size");
            let index = u32::from_le_bytes(msg[..4].try_into().unwrap_or_default());
            let sent = u32::from_le_bytes(msg[4..8].try_into().unwrap_or_default());
            assert_eq!(index as usize, outcome.rtts.len(), "echo out of order");
            outcome.rtts.push((clock as u32).wrapping_sub(sent));
        }
        transmit(&mut client, &mut up, clock, now, &mut buf);
        transmit(&mut server, &mut down, clock, now, &mut buf);
    }
    outcome.tx = up.stats().sent;
    outcome.tx_bytes = up.stats().sent_bytes;
    outcome
}
