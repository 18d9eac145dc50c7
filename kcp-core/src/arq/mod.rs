//! The KCP state machine: reliable, ordered delivery over an unreliable datagram path.
//!
//! [`Kcp`] is sans-IO. It never touches a socket, a clock or a thread; the caller moves bytes
//! and time in and out through a handful of verbs:
//!
//! | verb | what it does |
//! |---|---|
//! | [`Kcp::send`] / [`Kcp::recv`] | the application side: queue data, read what arrived in order |
//! | [`Kcp::handle_datagram`] | feed one datagram received from the peer |
//! | [`Kcp::poll_transmit`] | take the next datagram to send, written into the caller's buffer |
//! | [`Kcp::poll_timeout`] / [`Kcp::handle_timeout`] | sleep until the deadline, then tell the machine the time |
//! | [`Kcp::send_buffer`], [`Kcp::handle_datagram_buffer`], [`Kcp::recv_buffer`] | the same without copies, in pooled buffers ([`Kcp::take_buffer`], [`Kcp::take_datagram_buffer`], [`Kcp::recycle_buffer`]) |
//!
//! A driver loop looks like this:
//!
//! ```
//! use kcp_core::{Config, Kcp};
//!
//! let mut kcp = Kcp::new(7, &Config::fast3()).unwrap();
//! let mut buf = [0u8; 1400];
//! kcp.send(b"hello").unwrap();
//! let now = 0; // milliseconds, any origin; wraps at 2^32
//! while let Some(len) = kcp.poll_transmit(now, &mut buf) {
//!     // socket.send(&buf[..len])
//!     # assert!(len > 24);
//! }
//! // Later: sleep until kcp.poll_timeout(), then kcp.handle_timeout(now) and poll again;
//! // on a received datagram, kcp.handle_datagram(now, bytes) and poll again.
//! ```
//!
//! # Time
//!
//! Time is a `u32` count of milliseconds from any origin, the same clock that goes on the wire
//! in the `ts` field. It wraps after 49.7 days; every comparison is a signed 32-bit difference,
//! so wrapping is harmless while deadlines stay within 24 days of `now`.
//!
//! # Faithful to the reference, faster by construction
//!
//! With [`FlushMode::Interval`] the machine reproduces the reference C code's decisions call for
//! call (the test suite checks every header field against it). [`FlushMode::Eager`] (the
//! default) keeps the same protocol but sends data, fast retransmissions and timeouts the moment
//! they are ready instead of on the next tick, and lets a datagram with room to spare carry
//! segments overdue for an acknowledgement ([`Config::resend_in_spare_room`]). Either way the
//! window is never rescanned per acknowledgement: segments live in rings indexed by sequence
//! number, timeouts in a FIFO with a small heap beside it, and fast-retransmit candidates in a
//! list of holes; segment buffers move between queue, ring and a pool instead of being copied.

mod config;
mod congestion;
mod error;
mod flush;
mod input;
mod pool;
mod received;
mod recv_buf;
mod rtt;
mod send_buf;
mod send_queue;
mod stats;
mod timers;

pub use config::{
    Config, ConfigError, FlushMode, Nodelay, MAX_INTERVAL, MAX_MTU, MIN_INTERVAL, MIN_MTU, RTO_MAX,
};
pub use error::{InputError, RecvError, SendError};
pub use received::Received;
pub use stats::Stats;

use crate::seq;
use crate::wire::HEADER_LEN;
use congestion::Congestion;
use flush::FlushRun;
use pool::BufferPool;
use recv_buf::{ReadRefusal, RecvBuffer};
use rtt::RttEstimator;
use send_buf::SendBuffer;
use send_queue::{QueueRefusal, SendQueue};

/// First wait before probing a zero window, in milliseconds (`IKCP_PROBE_INIT`).
const PROBE_INIT: u32 = 7_000;
/// Longest wait between zero-window probes (`IKCP_PROBE_LIMIT`).
const PROBE_LIMIT: u32 = 120_000;
/// Larger clock jumps than this resynchronise the flush tick instead of catching up.
const TICK_RESYNC: i32 = 10_000;

/// One KCP conversation: the ARQ state machine of one peer.
///
/// See the [module documentation](self) for the verbs and the contract on time.
#[derive(Debug)]
pub struct Kcp {
    conv: u32,
    config: Config,
    mss: u32,
    /// The clock at the last call that passed one in.
    current: u32,
    /// Whether a clock has been passed in at all (`updated` in the reference).
    clocked: bool,
    /// Next interval tick.
    ts_flush: u32,
    queue: SendQueue,
    sent: SendBuffer,
    /// Segment buffers shared by the send queue and the send buffer.
    buffers: BufferPool,
    received: RecvBuffer,
    /// Acknowledgements to send: `(sn, ts)` in arrival order.
    acks: Vec<(u32, u32)>,
    /// When the oldest pending acknowledgement was queued (eager mode's delayed-ack timer).
    acks_since: u32,
    rmt_wnd: u32,
    rtt: RttEstimator,
    congestion: Congestion,
    ask_pending: bool,
    tell_pending: bool,
    probe_wait: u32,
    ts_probe: u32,
    flush_requested: bool,
    run: FlushRun,
    dead: bool,
    /// Segments cut for a larger MTU may still be waiting: datagrams may be this large.
    shrunk_from: Option<u32>,
    stats: Stats,
}

impl Kcp {
    /// Creates the state machine for conversation `conv`, after validating `config`.
    pub fn new(conv: u32, config: &Config) -> Result<Kcp, ConfigError> {
        config.validate()?;
        let mut congestion = Congestion::new();
        if config.flush == FlushMode::Eager {
            // The reference opens the window at the end of its first (empty) flush; eager mode
            // has no such flush, so it starts where the reference is after it.
            congestion.ensure_minimum(config.mss());
        }
        Ok(Kcp {
            conv,
            mss: config.mss(),
            current: 0,
            clocked: false,
            ts_flush: config.interval,
            queue: SendQueue::default(),
            buffers: BufferPool::default(),
            sent: SendBuffer::new(config.send_window),
            received: RecvBuffer::new(config.recv_window),
            acks: Vec::new(),
            acks_since: 0,
            // The reference assumes the peer has its default receive window until told.
            rmt_wnd: 128,
            rtt: RttEstimator::new(),
            congestion,
            ask_pending: false,
            tell_pending: false,
            probe_wait: 0,
            ts_probe: 0,
            flush_requested: false,
            run: FlushRun::default(),
            dead: false,
            shrunk_from: None,
            stats: Stats::default(),
            config: config.clone(),
        })
    }

    // ----- application side -------------------------------------------------------------

    /// Queues data for the peer. Nothing leaves until [`Kcp::poll_transmit`].
    ///
    /// Message mode: `data` is one message (possibly empty), delivered whole; returns its
    /// length. Stream mode: returns how many bytes were taken, fewer than offered when the
    /// queue fills up.
    pub fn send(&mut self, data: &[u8]) -> Result<usize, SendError> {
        let limit = self.config.send_queue_limit;
        self.forget_old_mtu_when_idle();
        if self.config.stream {
            let taken = self
                .queue
                .push_stream(data, self.mss, limit, &mut self.buffers);
            if taken == 0 && !data.is_empty() {
                return Err(SendError::QueueFull);
            }
            return Ok(taken);
        }
        let max = self.config.max_fragments;
        match self
            .queue
            .push_message(data, self.mss, u32::from(max), limit, &mut self.buffers)
        {
            Ok(()) => Ok(data.len()),
            Err(QueueRefusal::Full) => Err(SendError::QueueFull),
            Err(QueueRefusal::TooManyFragments(fragments)) => {
                Err(SendError::MessageTooLarge { fragments, max })
            }
        }
    }

    /// Reads received data in order.
    ///
    /// Message mode: the next whole message, or [`RecvError::BufferTooSmall`] without consuming
    /// it. Stream mode: as many bytes as fit.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        let stream = self.config.stream;
        self.reading(|received, pool| {
            if stream {
                received.read_stream(buf, pool)
            } else {
                received.read_message(buf, pool)
            }
        })
    }

    /// Runs a read of the ready queue and, if it reopened a window the peer saw closed, asks
    /// for a window tell ("fast recover").
    fn reading<T>(
        &mut self,
        read: impl FnOnce(&mut RecvBuffer, &mut BufferPool) -> Result<T, ReadRefusal>,
    ) -> Result<T, RecvError> {
        let window = u32::from(self.config.recv_window);
        let was_full = self.received.ready() >= window;
        let result = read(&mut self.received, &mut self.buffers);
        if was_full && self.received.ready() < window {
            self.tell_pending = true;
        }
        result.map_err(|refusal| match refusal {
            ReadRefusal::Empty => RecvError::Empty,
            ReadRefusal::BufferTooSmall(needed) => RecvError::BufferTooSmall { needed },
        })
    }

    // ----- application side without copies ----------------------------------------------

    /// An empty buffer with room for at least one segment, from the machine's pool: fill it
    /// and hand it to [`Kcp::send_buffer`], which then queues it without copying.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.buffers.take(self.mss as usize)
    }

    /// [`Kcp::send`] for an owned buffer, all of it or nothing. In message mode a message of
    /// at most one segment ([`Kcp::mss`] bytes) is queued as it is, without a copy; anything
    /// else is copied as `send` would and the buffer goes back to the pool. On refusal the
    /// buffer comes back with the error, untouched.
    pub fn send_buffer(&mut self, buf: Vec<u8>) -> Result<usize, (SendError, Vec<u8>)> {
        let limit = self.config.send_queue_limit;
        let len = buf.len();
        if self.config.stream && len > self.queue.stream_room(self.mss, limit) {
            return Err((SendError::QueueFull, buf));
        }
        if self.config.stream || len > self.mss as usize {
            return match self.send(&buf) {
                Ok(n) => {
                    self.buffers.give(buf);
                    Ok(n)
                }
                Err(e) => Err((e, buf)),
            };
        }
        if self.queue.segments() >= limit {
            return Err((SendError::QueueFull, buf));
        }
        self.forget_old_mtu_when_idle();
        self.queue.push_whole(buf);
        Ok(len)
    }

    /// Once nothing cut for a former, larger MTU waits, datagrams fit the current one again.
    fn forget_old_mtu_when_idle(&mut self) {
        if self.wait_send() == 0 {
            self.shrunk_from = None;
        }
    }

    /// [`Kcp::recv`] into an owned buffer: the next message (message mode) or the next
    /// segment's bytes (stream mode). A single-segment message is handed over without a copy.
    /// Give the buffer back with [`Kcp::recycle_buffer`] when done, or keep it.
    pub fn recv_buffer(&mut self) -> Result<Received, RecvError> {
        let stream = self.config.stream;
        self.reading(|received, pool| received.take_next(stream, pool))
    }

    /// A buffer to receive one datagram into: as long as the largest datagram this machine
    /// accepts, contents unspecified. Fill it, truncate it to what arrived, and hand it to
    /// [`Kcp::handle_datagram_buffer`].
    pub fn take_datagram_buffer(&mut self) -> Vec<u8> {
        let len = self.max_recv_payload() as usize + crate::wire::HEADER_LEN;
        self.buffers.take_sized(len)
    }

    /// Returns a buffer to the machine's pool, for later segments.
    pub fn recycle_buffer(&mut self, buf: Vec<u8>) {
        self.buffers.give(buf);
    }

    /// Size of what [`Kcp::recv`] would return: the next whole message, or in stream mode every
    /// byte ready. `None` when nothing is ready.
    pub fn peek_size(&self) -> Option<usize> {
        if self.config.stream {
            Some(self.received.ready_bytes()).filter(|&n| n > 0)
        } else {
            self.received.peek_message()
        }
    }

    /// Segments queued or in flight and not yet acknowledged (`ikcp_waitsnd`).
    pub fn wait_send(&self) -> u32 {
        self.sent.live() + self.queue.segments()
    }

    /// Segments sent and not yet acknowledged (the part of [`Kcp::wait_send`] on the wire).
    pub fn in_flight(&self) -> u32 {
        self.sent.live()
    }

    // ----- network side -----------------------------------------------------------------

    /// Tells the machine the time; due work (retransmissions, delayed acknowledgements, the
    /// interval tick) is then available from [`Kcp::poll_transmit`]. This is `ikcp_update`.
    ///
    /// In [`FlushMode::Eager`] there is no tick: each piece of work has its own deadline, and an
    /// acknowledgement waits at most one interval for a datagram to ride on.
    pub fn handle_timeout(&mut self, now: u32) {
        self.current = now;
        self.sent.prune_timers();
        if self.config.flush == FlushMode::Eager {
            self.clocked = true;
            return;
        }
        if !self.clocked {
            self.clocked = true;
            self.ts_flush = now;
        }
        let mut slap = seq::diff(now, self.ts_flush);
        if !(-TICK_RESYNC..TICK_RESYNC).contains(&slap) {
            self.ts_flush = now;
            slap = 0;
        }
        if slap >= 0 {
            self.ts_flush = self.ts_flush.wrapping_add(self.config.interval);
            if seq::at_or_after(now, self.ts_flush) {
                self.ts_flush = now.wrapping_add(self.config.interval);
            }
            self.flush_requested = true;
        }
    }

    /// Asks for everything pending (acknowledgements included) to go out on the next
    /// [`Kcp::poll_transmit`], without waiting for the tick (`ikcp_flush`).
    pub fn flush(&mut self) {
        // The reference ignores a flush before its first update; eager mode has no such state.
        if self.clocked || self.config.flush == FlushMode::Eager {
            self.flush_requested = true;
        }
    }

    /// When [`Kcp::handle_timeout`] should be called next, as an absolute time on the caller's
    /// clock; compare with `deadline.wrapping_sub(now) as i32`. A deadline at or before now
    /// means "poll now".
    ///
    /// In [`FlushMode::Eager`] an idle machine (nothing queued, in flight or to acknowledge)
    /// returns `None`: it needs no wake-ups. In [`FlushMode::Interval`] the answer is the next
    /// interval tick.
    pub fn poll_timeout(&self) -> Option<u32> {
        if self.config.flush == FlushMode::Interval {
            return Some(self.check());
        }
        if self.run.active || self.flush_requested || self.eager_flush_due() {
            return Some(self.current);
        }
        let mut deadline: Option<u32> = None;
        let mut consider = |t: u32| {
            if deadline.is_none_or(|d| seq::before(t, d)) {
                deadline = Some(t);
            }
        };
        if let Some(t) = self.eager_deadline() {
            consider(t);
        }
        if self.rmt_wnd == 0 && !self.queue.is_empty() {
            consider(self.ts_probe);
        }
        deadline
    }

    /// The next interval tick. The reference `ikcp_check` may answer earlier, with a segment's
    /// resend time, but `ikcp_update` does nothing before the tick, so a caller that trusted it
    /// would spin; the tick is the true deadline.
    fn check(&self) -> u32 {
        let now = self.current;
        if !self.clocked || !(-TICK_RESYNC..TICK_RESYNC).contains(&seq::diff(now, self.ts_flush)) {
            return now;
        }
        if seq::at_or_after(now, self.ts_flush) {
            now
        } else {
            self.ts_flush
        }
    }

    /// Whether eager mode has something to send right now.
    fn eager_flush_due(&self) -> bool {
        if self.config.flush != FlushMode::Eager {
            return false;
        }
        let now = self.current;
        let queued_and_room = !self.queue.is_empty() && self.sent.span() < self.send_window();
        let probe_due = self.rmt_wnd == 0
            && !self.queue.is_empty()
            && (self.probe_wait == 0 || seq::at_or_after(now, self.ts_probe));
        let acks_full = self.acks.len() >= self.config.mtu as usize / HEADER_LEN;
        queued_and_room
            || probe_due
            || acks_full
            || self.tell_pending
            || self.sent.has_fast()
            || self
                .eager_deadline()
                .is_some_and(|t| seq::at_or_after(now, t))
    }

    /// The earliest of eager mode's timed work: a retransmission timeout, or the delayed
    /// acknowledgement timer (an ack waits at most one interval for a datagram to ride on).
    fn eager_deadline(&self) -> Option<u32> {
        let acks =
            (!self.acks.is_empty()).then(|| self.acks_since.wrapping_add(self.config.interval));
        [acks, self.sent.earliest_deadline()]
            .into_iter()
            .flatten()
            .min_by_key(|&t| t.wrapping_sub(self.current) as i32)
    }

    /// The effective send window: our window, the peer's, and the congestion window if on.
    fn send_window(&self) -> u32 {
        let window = u32::from(self.config.send_window).min(self.rmt_wnd);
        if self.config.congestion_control {
            window.min(self.congestion.cwnd)
        } else {
            window
        }
    }

    // ----- configuration at run time ----------------------------------------------------

    /// Changes the MTU. Queued messages not started yet are re-cut to the new size; segments
    /// already cut keep theirs, so until they are acknowledged datagrams may be as large as the
    /// old MTU ([`Kcp::max_datagram_size`] says how large).
    pub fn set_mtu(&mut self, mtu: u32) -> Result<(), ConfigError> {
        self.retune(|config| config.mtu = mtu)
    }

    /// Changes the send window (`ikcp_wndsize`); segments in flight are kept.
    pub fn set_send_window(&mut self, window: u16) -> Result<(), ConfigError> {
        self.retune(|config| config.send_window = window)
    }

    /// Changes the receive window (`ikcp_wndsize`). Segments already received are kept, even
    /// past the end of a smaller window: they were acknowledged.
    pub fn set_recv_window(&mut self, window: u16) -> Result<(), ConfigError> {
        self.retune(|config| config.recv_window = window)
    }

    /// Changes any part of the configuration of a running machine (the reference's
    /// `ikcp_nodelay`, `ikcp_interval` and struct fields such as `rx_minrto`, `fastresend` or
    /// `stream`), all at once if the result validates; otherwise nothing changes. Segments
    /// already in flight keep their timers; the new values apply from the next flush and the
    /// next RTT sample. MTU and windows change as with [`Kcp::set_mtu`],
    /// [`Kcp::set_send_window`] and [`Kcp::set_recv_window`]; a change of stream mode re-cuts
    /// the messages not started yet, as the reference's next `ikcp_send` would see them.
    pub fn retune(&mut self, change: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
        let mut config = self.config.clone();
        change(&mut config);
        config.validate()?;
        let (old_max, waiting) = (self.max_datagram_size() as u32, self.wait_send() > 0);
        let old = std::mem::replace(&mut self.config, config);
        if self.config.send_window != old.send_window {
            self.sent.resize(self.config.send_window);
        }
        if self.config.recv_window != old.recv_window {
            self.received.resize(self.config.recv_window);
        }
        if self.config.mtu < old.mtu && waiting {
            self.shrunk_from = Some(old_max);
        }
        if (self.config.mtu, self.config.stream) != (old.mtu, old.stream) {
            self.mss = self.config.mss();
            self.queue.recut(
                self.config.stream,
                self.mss,
                u32::from(self.config.max_fragments),
                &mut self.buffers,
            );
        }
        if self.config.flush == FlushMode::Eager && old.flush != FlushMode::Eager {
            self.congestion.ensure_minimum(self.mss);
        }
        Ok(())
    }

    // ----- observation ------------------------------------------------------------------

    /// The conversation id.
    pub fn conv(&self) -> u32 {
        self.conv
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Payload bytes per segment at the current MTU.
    pub fn mss(&self) -> u32 {
        self.mss
    }

    /// Counters; see [`Stats`].
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether some segment was transmitted [`Config::dead_link`] times: the path is very
    /// likely gone. The machine keeps retrying; the caller decides when to give up.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// The current retransmission timeout in milliseconds.
    pub fn rto(&self) -> u32 {
        self.rtt.rto()
    }

    /// Smoothed round-trip time in milliseconds (0 before the first sample).
    pub fn srtt(&self) -> u32 {
        self.rtt.srtt()
    }

    /// Round-trip time variance in milliseconds.
    pub fn rttvar(&self) -> u32 {
        self.rtt.rttvar()
    }

    /// The peer's last advertised receive window, in segments.
    pub fn remote_window(&self) -> u32 {
        self.rmt_wnd
    }

    /// The congestion window, in segments (meaningful when congestion control is on).
    pub fn congestion_window(&self) -> u32 {
        self.congestion.cwnd
    }
}
