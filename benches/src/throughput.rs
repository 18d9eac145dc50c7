//! Bulk transfer between two endpoints in memory, for both implementations: window 1024,
//! MTU 1400 (MSS 1376), `nodelay(1, 10, 2, 1)`, message mode, one MSS-sized message per send,
//! a virtual clock advancing 1 ms per round and `update` every round. The sender keeps at most
//! one window of segments waiting (kcp-go's `Write` gating). What is measured is the CPU cost
//! of moving the data: wall-clock time to deliver every byte, in order, checked.
//!
//! The run is memory-bound: a time profile of ours at 5 % loss spends about two thirds of its
//! time in the four payload copies (application to segment, segment to datagram, datagram to
//! receive buffer, receive buffer to application), the rest in protocol logic.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use kcp_core::sim::Rng;
use kcp_core::{Config, Kcp};

use crate::peer::Peer;
use crate::reference::CKcp;

/// Window, in segments, on both sides.
pub const WINDOW: u16 = 1024;
/// MTU on both sides.
pub const MTU: u32 = 1400;
/// Payload bytes per segment.
pub const MSS: usize = MTU as usize - 24;

/// One direction of the in-memory path: a queue with random loss and recycled buffers, so the
/// comparison measures the protocols rather than the allocator.
pub struct Pipe {
    queue: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    rng: Rng,
    loss: f64,
    /// Datagrams offered to the pipe.
    pub sent: u64,
}

impl Pipe {
    fn new(loss: f64, seed: u64) -> Pipe {
        Pipe {
            queue: VecDeque::new(),
            spare: Vec::new(),
            rng: Rng::new(seed),
            loss,
            sent: 0,
        }
    }

    /// Offers a datagram; the pipe keeps or drops it (and recycles the buffer).
    fn offer(&mut self, datagram: Vec<u8>) {
        self.sent += 1;
        if self.rng.chance(self.loss) {
            self.spare.push(datagram);
        } else {
            self.queue.push_back(datagram);
        }
    }

    fn spare_buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }
}

/// A peer that can put its datagrams straight into a [`Pipe`] without an extra copy.
pub trait BulkPeer: Peer {
    /// Moves every datagram ready into `pipe`; returns how many.
    fn emit(&mut self, now: u32, pipe: &mut Pipe) -> usize;
}

impl BulkPeer for Kcp {
    fn emit(&mut self, now: u32, pipe: &mut Pipe) -> usize {
        let mut count = 0;
        loop {
            let mut buf = pipe.spare_buffer();
            buf.resize(self.max_datagram_size(), 0);
            match self.poll_transmit(now, &mut buf) {
                Some(len) => {
                    buf.truncate(len);
                    pipe.offer(buf);
                    count += 1;
                }
                None => {
                    pipe.spare.push(buf);
                    return count;
                }
            }
        }
    }
}

impl BulkPeer for CKcp {
    fn emit(&mut self, _now: u32, pipe: &mut Pipe) -> usize {
        let mut count = 0;
        while let Some(datagram) = self.pop_output() {
            pipe.offer(datagram);
            if let Some(buf) = pipe.spare.pop() {
                self.recycle(buf);
            }
            count += 1;
        }
        count
    }
}

/// What one transfer measured.
#[derive(Clone, Debug)]
pub struct Transfer {
    /// Data segments delivered.
    pub segments: u64,
    /// Wall-clock time of the whole transfer.
    pub elapsed: Duration,
    /// Datagrams the sender emitted.
    pub datagrams: u64,
    /// Virtual milliseconds the transfer took.
    pub virtual_ms: u64,
}

impl Transfer {
    /// Delivered segments per wall-clock second.
    pub fn segments_per_sec(&self) -> f64 {
        self.segments as f64 / self.elapsed.as_secs_f64()
    }
}

/// Our peer for the bulk run.
pub fn our_peer() -> Kcp {
    let config = Config {
        mtu: MTU,
        send_window: WINDOW,
        recv_window: WINDOW,
        ..Config::default()
    }
    .with_nodelay(1, 10, 2, true);
    Kcp::new(0x0b0b, &config).expect("bulk configuration is valid")
}

/// The reference peer for the bulk run.
pub fn c_peer() -> CKcp {
    let mut kcp = CKcp::new(0x0b0b);
    kcp.nodelay(1, 10, 2, 1);
    kcp.wndsize(i32::from(WINDOW), i32::from(WINDOW));
    kcp.setmtu(MTU as i32);
    kcp
}

/// Sends `bytes` (rounded up to whole segments) from `sender` to `receiver` over pipes that
/// lose `loss` of the datagrams each way; checks every segment arrives once and in order.
pub fn transfer<P: BulkPeer>(
    mut sender: P,
    mut receiver: P,
    bytes: usize,
    loss: f64,
    seed: u64,
) -> Transfer {
    let total = bytes.div_ceil(MSS) as u64;
    let mut seeds = Rng::new(seed);
    let mut forward = Pipe::new(loss, seeds.next_u64());
    let mut backward = Pipe::new(loss, seeds.next_u64());
    let mut message = vec![0u8; MSS];
    let mut buf = vec![0u8; MSS];
    let (mut queued, mut delivered) = (0u64, 0u64);
    let mut clock = 0u32;
    let start = Instant::now();

    while delivered < total {
        clock += 1;
        assert!(
            clock < 10_000_000,
            "bulk transfer stalled at {delivered}/{total}"
        );
        sender.handle_timeout(clock);
        receiver.handle_timeout(clock);
        loop {
            while queued < total && sender.waiting() < usize::from(WINDOW) {
                message[..8].copy_from_slice(&queued.to_le_bytes());
                assert!(sender.send_message(&message), "sender refused a message");
                queued += 1;
            }
            let moved = sender.emit(clock, &mut forward) + receiver.emit(clock, &mut backward);
            while let Some(d) = forward.queue.pop_front() {
                receiver.handle_datagram(clock, &d);
                forward.spare.push(d);
            }
            while let Some(d) = backward.queue.pop_front() {
                sender.handle_datagram(clock, &d);
                backward.spare.push(d);
            }
            while let Some(n) = receiver.recv_message(&mut buf) {
                let index = u64::from_le_bytes(buf[..8].try_into().unwrap_or_default());
                assert!(
                    n == MSS && index == delivered,
                    "segment {delivered} arrived as {index}"
                );
                delivered += 1;
            }
            if moved == 0 {
                break;
            }
        }
    }
    Transfer {
        segments: delivered,
        elapsed: start.elapsed(),
        datagrams: forward.sent,
        virtual_ms: u64::from(clock),
    }
}
