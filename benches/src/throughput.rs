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

use kcp_core::sim::Endpoint;

use crate::peer::Peer;
use crate::reference::CKcp;

/// Window, in segments, on both sides.
pub const WINDOW: u16 = 1024;
/// MTU on both sides.
pub const MTU: u32 = 1400;
/// Payload bytes per segment.
pub const MSS: usize = MTU as usize - 24;

/// One direction of the in-memory path: a queue with random loss and recycled buffers, so the
/// comparison measures the protocols rather than the allocator. A datagram is a buffer and the
/// length used in it, so a recycled buffer never needs clearing or resizing.
pub struct Pipe {
    queue: VecDeque<(Vec<u8>, usize)>,
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

    /// Offers the first `len` bytes of `buf`; the pipe keeps or drops them (and recycles the
    /// buffer).
    fn offer(&mut self, buf: Vec<u8>, len: usize) {
        self.sent += 1;
        if self.rng.chance(self.loss) {
            self.spare.push(buf);
        } else {
            self.queue.push_back((buf, len));
        }
    }

    fn spare_buffer(&mut self) -> Vec<u8> {
        self.spare.pop().unwrap_or_default()
    }
}

/// A peer in the bulk run: moves its datagrams straight into a [`Pipe`], and sends and
/// receives MSS-sized messages numbered in their first 8 bytes.
pub trait BulkPeer: Endpoint {
    /// Moves every datagram ready into `pipe`; returns how many.
    fn emit(&mut self, now: u32, pipe: &mut Pipe) -> usize;
    /// Queues message `index`; `template` is an MSS-sized message to copy from. False when
    /// the peer refuses it.
    fn send_numbered(&mut self, index: u64, template: &mut [u8]) -> bool;
    /// The index of the next message received, if any (`scratch` holds at least an MSS).
    fn recv_numbered(&mut self, scratch: &mut [u8]) -> Option<u64>;
    /// Segments queued or unacknowledged.
    fn backlog(&self) -> usize;
    /// Feeds the first `len` bytes of `datagram`, then puts a buffer back into `pipe`.
    fn absorb(&mut self, now: u32, datagram: Vec<u8>, len: usize, pipe: &mut Pipe) {
        self.handle_datagram(now, &datagram[..len]);
        pipe.spare.push(datagram);
    }
}

/// The index in a received message's first 8 bytes, after checking its size.
fn index_of(message: &[u8]) -> u64 {
    assert_eq!(message.len(), MSS, "message size");
    u64::from_le_bytes(message[..8].try_into().unwrap_or_default())
}

/// Sends through a copying `send`, as the C API does.
fn send_copied(peer: &mut impl Peer, index: u64, template: &mut [u8]) -> bool {
    template[..8].copy_from_slice(&index.to_le_bytes());
    peer.send_message(template)
}

/// Receives through a copying `recv`, as the C API does.
fn recv_copied(peer: &mut impl Peer, scratch: &mut [u8]) -> Option<u64> {
    let n = peer.recv_message(scratch)?;
    Some(index_of(&scratch[..n]))
}

/// Moves every datagram our peer has ready into the pipe's recycled buffers.
fn emit_ours(kcp: &mut Kcp, now: u32, pipe: &mut Pipe) -> usize {
    let mut count = 0;
    loop {
        let mut buf = pipe.spare_buffer();
        if buf.len() < kcp.max_datagram_size() {
            buf.resize(kcp.max_datagram_size(), 0);
        }
        match kcp.poll_transmit(now, &mut buf) {
            Some(len) => {
                pipe.offer(buf, len);
                count += 1;
            }
            None => {
                pipe.spare.push(buf);
                return count;
            }
        }
    }
}

impl BulkPeer for Kcp {
    fn emit(&mut self, now: u32, pipe: &mut Pipe) -> usize {
        emit_ours(self, now, pipe)
    }

    fn send_numbered(&mut self, index: u64, template: &mut [u8]) -> bool {
        send_copied(self, index, template)
    }

    fn recv_numbered(&mut self, scratch: &mut [u8]) -> Option<u64> {
        recv_copied(self, scratch)
    }

    fn backlog(&self) -> usize {
        self.wait_send() as usize
    }
}

/// Our peer driven through its owned-buffer verbs ([`Kcp::take_buffer`],
/// [`Kcp::send_buffer`], [`Kcp::handle_datagram_buffer`], [`Kcp::recv_buffer`]): the
/// application writes each message straight into a segment buffer, hands each datagram over
/// in its buffer, and reads a message where it arrived.
pub struct OwnedBuffers(pub Kcp);

impl Endpoint for OwnedBuffers {
    fn handle_datagram(&mut self, now: u32, datagram: &[u8]) {
        self.0
            .handle_datagram(now, datagram)
            .expect("bulk datagrams are valid");
    }

    fn handle_timeout(&mut self, now: u32) {
        self.0.handle_timeout(now);
    }

    fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<usize> {
        self.0.poll_transmit(now, buf)
    }

    fn poll_timeout(&self) -> Option<u32> {
        self.0.poll_timeout()
    }
}

impl BulkPeer for OwnedBuffers {
    fn emit(&mut self, now: u32, pipe: &mut Pipe) -> usize {
        emit_ours(&mut self.0, now, pipe)
    }

    fn send_numbered(&mut self, index: u64, _template: &mut [u8]) -> bool {
        let mut buf = self.0.take_buffer();
        buf.extend_from_slice(&index.to_le_bytes());
        buf.resize(MSS, 0);
        self.0.send_buffer(buf).is_ok()
    }

    fn recv_numbered(&mut self, _scratch: &mut [u8]) -> Option<u64> {
        let received = self.0.recv_buffer().ok()?;
        let index = index_of(&received);
        self.0.recycle_buffer(received.into_buffer());
        Some(index)
    }

    fn backlog(&self) -> usize {
        self.0.wait_send() as usize
    }

    fn absorb(&mut self, now: u32, mut datagram: Vec<u8>, len: usize, pipe: &mut Pipe) {
        datagram.truncate(len);
        self.0
            .handle_datagram_buffer(now, datagram)
            .expect("bulk datagrams are valid");
        pipe.spare.push(self.0.take_datagram_buffer());
    }
}

impl BulkPeer for CKcp {
    fn send_numbered(&mut self, index: u64, template: &mut [u8]) -> bool {
        send_copied(self, index, template)
    }

    fn recv_numbered(&mut self, scratch: &mut [u8]) -> Option<u64> {
        recv_copied(self, scratch)
    }

    fn backlog(&self) -> usize {
        self.waiting()
    }

    fn emit(&mut self, _now: u32, pipe: &mut Pipe) -> usize {
        let mut count = 0;
        while let Some(datagram) = self.pop_output() {
            let len = datagram.len();
            pipe.offer(datagram, len);
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

/// Our peer for the bulk run, driven through its owned-buffer verbs.
pub fn our_owned_peer() -> OwnedBuffers {
    OwnedBuffers(our_peer())
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
            while queued < total && sender.backlog() < usize::from(WINDOW) {
                assert!(
                    sender.send_numbered(queued, &mut message),
                    "sender refused a message"
                );
                queued += 1;
            }
            let moved = sender.emit(clock, &mut forward) + receiver.emit(clock, &mut backward);
            while let Some((d, len)) = forward.queue.pop_front() {
                receiver.absorb(clock, d, len, &mut forward);
            }
            while let Some((d, len)) = backward.queue.pop_front() {
                sender.absorb(clock, d, len, &mut backward);
            }
            while let Some(index) = receiver.recv_numbered(&mut buf) {
                assert_eq!(index, delivered, "segments out of order");
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
