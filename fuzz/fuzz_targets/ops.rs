//! Reliability is the whole point of KCP: whatever the network does (loss, duplication,
//! reordering) and whatever the applications do between datagrams (MTU and window changes,
//! flushes, long pauses, small reads), each reader must get a prefix of exactly what the other
//! side's `send` accepted: nothing invented, nothing twice, nothing out of order, and in
//! message mode the same boundaries. This target plays both applications and the network and
//! checks that on every read.

#![no_main]

mod common;

use std::collections::VecDeque;

use common::{recv_all, transmit_all, CONV};
use kcp_core::{Config, Kcp};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// Datagrams the network holds per direction; beyond it, new ones are lost, as at a full
/// router queue.
const NETWORK_CAPACITY: usize = 256;
/// Bytes per unit of `Op::Send::len`: messages stay small (at most 1020 bytes) and fast.
const SEND_UNIT: usize = 4;
/// Bytes per unit of `Op::Recv::buf_len`, and the largest read buffer.
const READ_UNIT: usize = 8;
const MAX_READ: usize = 256 * READ_UNIT;

#[derive(Arbitrary, Debug)]
struct Scenario {
    /// See `common::config`.
    selector: u8,
    /// The clock at the start; any origin, wrapping included, must work.
    start: u32,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// The application at `side` sends `len * SEND_UNIT` bytes (one message in message mode).
    Send {
        side: Side,
        len: u8,
    },
    /// The application at `side` reads all it can, `buf_len * READ_UNIT + 1` bytes at a time.
    Recv {
        side: Side,
        buf_len: u8,
    },
    /// Time passes and both peers are told.
    Advance {
        ms: u16,
    },
    /// The network acts on the datagrams heading to `to`.
    Network {
        to: Side,
        fate: Fate,
    },
    SetMtu {
        side: Side,
        mtu: u16,
    },
    SetSendWindow {
        side: Side,
        window: u8,
    },
    SetRecvWindow {
        side: Side,
        window: u8,
    },
    Flush {
        side: Side,
    },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Fate {
    /// The oldest datagram arrives.
    Deliver,
    /// The oldest datagram is lost.
    Drop,
    /// A copy of the oldest datagram arrives; the original stays queued.
    Duplicate,
    /// A datagram overtakes the others: the one at `pick` (modulo the queue length) arrives.
    Reorder { pick: u8 },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Side {
    A,
    B,
}

impl Side {
    /// This side's peer, then the other one.
    fn split(self, peers: &mut [Peer; 2]) -> (&mut Peer, &mut Peer) {
        let [a, b] = peers;
        match self {
            Side::A => (a, b),
            Side::B => (b, a),
        }
    }
}

/// One application with its state machine.
struct Peer {
    kcp: Kcp,
    /// Datagrams it sent that the network has not dealt with yet.
    outbox: VecDeque<Vec<u8>>,
    /// What its `send` accepted, checked against what the other side reads.
    sent: Transcript,
}

impl Peer {
    fn new(config: &Config) -> Peer {
        Peer {
            kcp: Kcp::new(CONV, config).expect("common::config is valid"),
            outbox: VecDeque::new(),
            sent: Transcript {
                stream: config.stream,
                ..Transcript::default()
            },
        }
    }
}

/// Everything one side's `send` accepted, and how much of it the other side has read.
#[derive(Default)]
struct Transcript {
    stream: bool,
    bytes: Vec<u8>,
    /// Message mode: where each accepted message not read yet ends in `bytes`.
    ends: VecDeque<usize>,
    read: usize,
}

impl Transcript {
    /// Data to send next: a counter modulo a prime, so a byte read in the wrong place, twice,
    /// or from the wrong message almost never matches.
    fn next_payload(&self, len: usize) -> Vec<u8> {
        (self.bytes.len()..)
            .take(len)
            .map(|i| (i % 251) as u8)
            .collect()
    }

    fn accepted(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        if !self.stream {
            self.ends.push_back(self.bytes.len());
        }
    }

    /// Checks one read by the other side: the next bytes sent (message mode: the next whole
    /// message).
    fn read_back(&mut self, got: &[u8]) {
        let expected = self.bytes.get(self.read..self.read + got.len());
        assert_eq!(
            expected,
            Some(got),
            "read at offset {} is not what was sent there",
            self.read
        );
        self.read += got.len();
        if !self.stream {
            assert_eq!(
                self.ends.pop_front(),
                Some(self.read),
                "message boundaries differ"
            );
        }
    }
}

fuzz_target!(|scenario: Scenario| {
    let config = common::config(scenario.selector);
    let mut peers = [Peer::new(&config), Peer::new(&config)];
    let mut now = scenario.start;
    let mut buf = Vec::new();
    let mut read_buf = vec![0u8; MAX_READ];

    for op in scenario.ops {
        match op {
            Op::Send { side, len } => {
                let (peer, _) = side.split(&mut peers);
                let data = peer.sent.next_payload(usize::from(len) * SEND_UNIT);
                // A refusal (full queue, too many fragments) sends nothing.
                if let Ok(taken) = peer.kcp.send(&data) {
                    peer.sent.accepted(&data[..taken]);
                }
            }
            Op::Recv { side, buf_len } => {
                let (reader, writer) = side.split(&mut peers);
                let read_buf = &mut read_buf[..usize::from(buf_len) * READ_UNIT + 1];
                recv_all(&mut reader.kcp, read_buf, |got| writer.sent.read_back(got));
            }
            Op::Advance { ms } => {
                now = now.wrapping_add(u32::from(ms));
                for peer in &mut peers {
                    peer.kcp.handle_timeout(now);
                }
            }
            Op::Network { to, fate } => {
                let (receiver, sender) = to.split(&mut peers);
                let outbox = &mut sender.outbox;
                let arriving = match fate {
                    Fate::Deliver => outbox.pop_front(),
                    Fate::Drop => {
                        outbox.pop_front();
                        None
                    }
                    Fate::Duplicate => outbox.front().cloned(),
                    Fate::Reorder { pick } => {
                        outbox.remove(usize::from(pick) % outbox.len().max(1))
                    }
                };
                if let Some(datagram) = arriving {
                    // Odd lengths go through the owned-buffer entry point.
                    let accepted = if datagram.len() % 2 == 1 {
                        receiver.kcp.handle_datagram_buffer(now, datagram)
                    } else {
                        receiver.kcp.handle_datagram(now, &datagram)
                    };
                    accepted.expect("a genuine datagram is accepted");
                }
            }
            Op::SetMtu { side, mtu } => {
                // Out-of-range values are refused and change nothing.
                let _ = side.split(&mut peers).0.kcp.set_mtu(u32::from(mtu));
            }
            Op::SetSendWindow { side, window } => {
                let _ = side
                    .split(&mut peers)
                    .0
                    .kcp
                    .set_send_window(u16::from(window));
            }
            Op::SetRecvWindow { side, window } => {
                let _ = side
                    .split(&mut peers)
                    .0
                    .kcp
                    .set_recv_window(u16::from(window));
            }
            Op::Flush { side } => side.split(&mut peers).0.kcp.flush(),
        }
        // Like any driver, poll after every verb.
        for peer in &mut peers {
            transmit_all(&mut peer.kcp, now, &mut buf, |datagram| {
                if peer.outbox.len() < NETWORK_CAPACITY {
                    peer.outbox.push_back(datagram.to_vec());
                }
            });
        }
    }

    // Whatever arrived but was not read yet is checked too.
    for side in [Side::A, Side::B] {
        let (reader, writer) = side.split(&mut peers);
        recv_all(&mut reader.kcp, &mut read_buf, |got| {
            writer.sent.read_back(got)
        });
    }
});
