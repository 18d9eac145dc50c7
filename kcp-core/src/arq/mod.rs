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
//! they are ready instead of on the next tick. Either way the window is never rescanned per
//! acknowledgement: segments live in rings indexed by sequence number, timeouts in a heap, and
//! fast-retransmit candidates in a list of holes.

mod config;
mod congestion;
mod pool;
mod recv_buf;
mod rtt;
mod send_buf;
mod send_queue;
mod stats;
mod timers;

use std::fmt;

pub use config::{
    Config, ConfigError, FlushMode, Nodelay, MAX_INTERVAL, MAX_MTU, MIN_INTERVAL, MIN_MTU, RTO_MAX,
};
pub use stats::Stats;

use crate::seq;
use crate::wire::{Command, DecodeError, Header, Segments, HEADER_LEN};
use congestion::Congestion;
use pool::BufferPool;
use recv_buf::{Insert, ReadRefusal, RecvBuffer};
use rtt::RttEstimator;
use send_buf::SendBuffer;
use send_queue::{QueueRefusal, SendQueue};

/// First wait before probing a zero window, in milliseconds (`IKCP_PROBE_INIT`).
const PROBE_INIT: u32 = 7_000;
/// Longest wait between zero-window probes (`IKCP_PROBE_LIMIT`).
const PROBE_LIMIT: u32 = 120_000;
/// Larger clock jumps than this resynchronise the flush tick instead of catching up.
const TICK_RESYNC: i32 = 10_000;
/// Segments from peers with an MTU up to this size are accepted whatever ours is.
const COMMON_MTU: u32 = 1_500;

/// Why [`Kcp::send`] refused data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The send queue holds [`Config::send_queue_limit`] segments already; try again once the
    /// peer has acknowledged some ([`Kcp::wait_send`] falls).
    QueueFull,
    /// A message would need more fragments than [`Config::max_fragments`] allows.
    MessageTooLarge {
        /// Fragments the message would need.
        fragments: u32,
        /// The configured limit.
        max: u8,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::QueueFull => f.write_str("send queue is full"),
            SendError::MessageTooLarge { fragments, max } => write!(
                f,
                "message needs {fragments} fragments, more than the limit of {max}"
            ),
        }
    }
}

impl std::error::Error for SendError {}

/// Why [`Kcp::recv`] returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// No complete message (or, in stream mode, no byte) is ready.
    Empty,
    /// The next message is larger than the buffer; nothing was consumed.
    BufferTooSmall {
        /// Size of the next message.
        needed: usize,
    },
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("nothing to receive"),
            RecvError::BufferTooSmall { needed } => {
                write!(
                    f,
                    "receive buffer too small: next message is {needed} bytes"
                )
            }
        }
    }
}

impl std::error::Error for RecvError {}

/// Why [`Kcp::handle_datagram`] dropped a whole datagram. The state machine is unchanged and
/// the drop is counted in [`Stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputError {
    /// A segment could not be decoded.
    Malformed(DecodeError),
    /// A segment belongs to another conversation.
    WrongConversation {
        /// This machine's conversation id.
        expected: u32,
        /// The id in the datagram.
        found: u32,
    },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Malformed(e) => write!(f, "malformed datagram: {e}"),
            InputError::WrongConversation { expected, found } => write!(
                f,
                "datagram for conversation {found}, this is conversation {expected}"
            ),
        }
    }
}

impl std::error::Error for InputError {}

/// How one segment is treated when a flush reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transmission {
    New,
    Timeout,
    Fast,
}

/// The progress of one flush, which may span several [`Kcp::poll_transmit`] calls.
#[derive(Debug, Default)]
struct FlushRun {
    active: bool,
    acks_written: usize,
    /// `sn`/`ts` of the last ack written: the reference code leaves them in the probe segments.
    last_ack: (u32, u32),
    ask: bool,
    tell: bool,
    /// Retransmission candidates, sorted by sequence number.
    due: Vec<u32>,
    due_pos: usize,
    /// The effective send window when the flush began.
    window: u32,
    fast_sent: bool,
    timed_out: bool,
}

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
        let window = u32::from(self.config.recv_window);
        let was_full = self.received.ready() >= window;
        let result = if self.config.stream {
            self.received.read_stream(buf)
        } else {
            self.received.read_message(buf)
        };
        if was_full && self.received.ready() < window {
            // The peer saw a zero window: tell it the window reopened.
            self.tell_pending = true;
        }
        result.map_err(|refusal| match refusal {
            ReadRefusal::Empty => RecvError::Empty,
            ReadRefusal::BufferTooSmall(needed) => RecvError::BufferTooSmall { needed },
        })
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

    // ----- network side -----------------------------------------------------------------

    /// Feeds one datagram received from the peer.
    ///
    /// A datagram that cannot be decoded, or that carries another conversation id, is dropped
    /// whole: the error says why, [`Stats`] counts it, and the state is unchanged. Segments that
    /// decode but make no sense (outside the window, acknowledging unsent data, ...) are dropped
    /// one by one and counted; the others in the datagram still apply. Never panics.
    pub fn handle_datagram(&mut self, now: u32, datagram: &[u8]) -> Result<(), InputError> {
        self.current = now;
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        self.validate_datagram(datagram)?;

        let prev_una = self.sent.una();
        let mut latest_ack: Option<(u32, u32)> = None;
        let mut walk = Segments::new(datagram);
        for segment in walk.by_ref().flatten() {
            let h = segment.header;
            if seq::diff(h.una, self.sent.next()) > 0 {
                self.stats.dropped_una_beyond_sent += 1;
                continue;
            }
            if h.cmd == Command::Ack && !seq::before(h.sn, self.sent.next()) {
                self.stats.dropped_ack_unsent += 1;
                continue;
            }
            self.stats.segments_in += 1;
            self.rmt_wnd = u32::from(h.wnd);
            self.sent.ack_below(h.una, &mut self.buffers);
            match h.cmd {
                Command::Ack => {
                    self.on_ack(h.sn, h.ts);
                    // The conservative rule: the fast-ack reference is the newest echo.
                    latest_ack = match latest_ack {
                        Some((sn, ts)) if !(seq::diff(h.sn, sn) > 0 && seq::diff(h.ts, ts) > 0) => {
                            Some((sn, ts))
                        }
                        _ => Some((h.sn, h.ts)),
                    };
                }
                Command::Push => self.on_push(h, segment.payload),
                Command::WindowAsk => self.tell_pending = true,
                Command::WindowTell => {}
            }
        }
        self.stats.trailing_bytes += walk.trailing() as u64;

        if let Some((maxack, ts)) = latest_ack {
            if self.config.fast_resend > 0 {
                self.sent.count_fastacks(
                    maxack,
                    ts,
                    self.config.fast_resend,
                    self.config.fast_resend_limit,
                );
            }
        }
        if seq::diff(self.sent.una(), prev_una) > 0 {
            self.congestion.on_progress(self.mss, self.rmt_wnd);
        }
        self.sent.prune_timers();
        Ok(())
    }

    /// First pass over a datagram: every header must decode and carry our conversation id
    /// before anything is applied.
    fn validate_datagram(&mut self, datagram: &[u8]) -> Result<(), InputError> {
        let error = if datagram.len() < HEADER_LEN {
            Some(InputError::Malformed(DecodeError::TruncatedHeader {
                available: datagram.len(),
            }))
        } else {
            Segments::new(datagram).find_map(|segment| match segment {
                Err(e) => Some(InputError::Malformed(e)),
                Ok(s) if s.header.conv != self.conv => Some(InputError::WrongConversation {
                    expected: self.conv,
                    found: s.header.conv,
                }),
                Ok(_) => None,
            })
        };
        match error {
            None => Ok(()),
            Some(e) => {
                let counter = match e {
                    InputError::WrongConversation { .. } => &mut self.stats.dropped_wrong_conv,
                    InputError::Malformed(DecodeError::UnknownCommand(_)) => {
                        &mut self.stats.dropped_unknown_command
                    }
                    InputError::Malformed(_) => &mut self.stats.dropped_truncated,
                };
                *counter += 1;
                Err(e)
            }
        }
    }

    fn on_ack(&mut self, sn: u32, ts: u32) {
        let rtt = seq::diff(self.current, ts);
        // A sample beyond the RTO ceiling says nothing true about the path (a forged or
        // ancient echo) and would pin the RTO at its maximum.
        if (0..=RTO_MAX as i32).contains(&rtt) {
            self.rtt
                .on_sample(rtt, self.config.interval, self.config.min_rto);
        }
        self.sent.ack(sn, &mut self.buffers);
        self.sent.note_acked_above(sn);
    }

    fn on_push(&mut self, h: Header, payload: &[u8]) {
        if !self.received.acceptable(h.sn) {
            self.stats.dropped_outside_window += 1;
            return;
        }
        if h.len > self.max_recv_payload() {
            self.stats.dropped_oversize += 1;
            return;
        }
        if !self.config.stream && u32::from(h.frg) >= u32::from(self.config.recv_window) {
            self.stats.dropped_bad_fragment += 1;
            return;
        }
        if self.acks.len() >= self.ack_list_limit() {
            self.stats.dropped_ack_overflow += 1;
        } else {
            if self.acks.is_empty() {
                self.acks_since = self.current;
            }
            self.acks.push((h.sn, h.ts));
        }
        if self.received.insert(h.sn, h.frg, payload) == Insert::Duplicate {
            self.stats.duplicate_segments += 1;
        }
    }

    fn ack_list_limit(&self) -> usize {
        4 * usize::from(self.config.recv_window) + 64
    }

    /// Largest push payload accepted: what a peer with our MTU, or with the common Ethernet MTU
    /// of 1500, may send. Larger pushes are dropped and counted as `dropped_oversize`.
    pub fn max_recv_payload(&self) -> u32 {
        self.config.mtu.max(COMMON_MTU) - HEADER_LEN as u32
    }

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
        if self.clocked {
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

    /// Writes the next datagram into `buf` and returns its length, or `None` when nothing is
    /// due. Call it until it returns `None` after every other verb.
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than [`Kcp::max_datagram_size`] (the MTU): a programming error.
    pub fn poll_transmit(&mut self, now: u32, buf: &mut [u8]) -> Option<usize> {
        let needed = self.max_datagram_size();
        assert!(
            buf.len() >= needed,
            "poll_transmit needs a buffer of at least {needed} bytes, got {}",
            buf.len()
        );
        self.current = now;
        if self.config.flush == FlushMode::Eager && !self.clocked {
            self.handle_timeout(now);
        }
        if !self.run.active {
            self.sent.prune_timers();
            if !(self.flush_requested || self.eager_flush_due()) {
                return None;
            }
            self.begin_flush();
        }
        let len = self.write_datagram(buf);
        if !self.run.active && self.queue.is_empty() && self.sent.live() == 0 {
            self.shrunk_from = None;
        }
        if len == 0 {
            return None;
        }
        self.stats.datagrams_out += 1;
        self.stats.bytes_out += len as u64;
        Some(len)
    }

    /// The smallest buffer [`Kcp::poll_transmit`] accepts: the MTU, or a former larger MTU
    /// while segments cut for it are still waiting.
    pub fn max_datagram_size(&self) -> usize {
        self.config.mtu.max(self.shrunk_from.unwrap_or(0)) as usize
    }

    /// Starts a flush: probes, moves queued data into the window, gathers retransmissions.
    fn begin_flush(&mut self) {
        self.flush_requested = false;
        if self.rmt_wnd == 0 {
            if self.probe_wait == 0 {
                self.probe_wait = PROBE_INIT;
                self.ts_probe = self.current.wrapping_add(self.probe_wait);
            } else if seq::at_or_after(self.current, self.ts_probe) {
                self.probe_wait = self.probe_wait.max(PROBE_INIT);
                self.probe_wait = (self.probe_wait + self.probe_wait / 2).min(PROBE_LIMIT);
                self.ts_probe = self.current.wrapping_add(self.probe_wait);
                self.ask_pending = true;
            }
        } else {
            self.ts_probe = 0;
            self.probe_wait = 0;
        }

        let window = self.send_window();
        let (rto, now) = (self.rtt.rto(), self.current);
        while seq::before(self.sent.next(), self.sent.una().wrapping_add(window))
            && self.sent.has_room()
        {
            let Some((frg, data)) = self.queue.pop_segment() else {
                break;
            };
            let slot = self.sent.push();
            slot.data = data;
            slot.frg = frg;
            slot.ts = now;
            slot.resendts = now;
            slot.rto = rto;
        }

        let mut due = std::mem::take(&mut self.run.due);
        self.sent.take_due(self.current, &mut due);
        self.run = FlushRun {
            active: true,
            acks_written: 0,
            last_ack: (0, 0),
            ask: std::mem::take(&mut self.ask_pending),
            tell: std::mem::take(&mut self.tell_pending),
            due,
            due_pos: 0,
            window,
            fast_sent: false,
            timed_out: false,
        };
    }

    /// Continues the flush into `buf`; returns the bytes written (0: nothing more).
    fn write_datagram(&mut self, buf: &mut [u8]) -> usize {
        let mtu = self.config.mtu as usize;
        let control = Header {
            conv: self.conv,
            cmd: Command::Ack,
            frg: 0,
            wnd: self.received.free_window().min(u32::from(u16::MAX)) as u16,
            ts: 0,
            sn: 0,
            una: self.received.next(),
            len: 0,
        };
        let mut len = 0;

        while self.run.acks_written < self.acks.len() {
            if len + HEADER_LEN > mtu {
                return len;
            }
            let (sn, ts) = self.acks[self.run.acks_written];
            Header { sn, ts, ..control }.encode(&mut buf[len..]);
            len += HEADER_LEN;
            self.run.acks_written += 1;
            self.run.last_ack = (sn, ts);
            self.stats.acks_out += 1;
        }
        let (sn, ts) = self.run.last_ack;
        for (pending, cmd) in [
            (self.run.ask, Command::WindowAsk),
            (self.run.tell, Command::WindowTell),
        ] {
            if !pending {
                continue;
            }
            if len + HEADER_LEN > mtu {
                return len;
            }
            Header {
                cmd,
                sn,
                ts,
                ..control
            }
            .encode(&mut buf[len..]);
            len += HEADER_LEN;
            if cmd == Command::WindowAsk {
                self.run.ask = false;
                self.stats.window_probes_out += 1;
            } else {
                self.run.tell = false;
                self.stats.window_tells_out += 1;
            }
        }

        while self.run.due_pos < self.run.due.len() {
            let sn = self.run.due[self.run.due_pos];
            if let Some(kind) = self.retransmission_kind(sn) {
                let need = HEADER_LEN + self.sent.slot(sn).data.len();
                if len > 0 && len + need > mtu {
                    return len;
                }
                len += self.transmit(sn, kind, &control, &mut buf[len..]);
            }
            self.run.due_pos += 1;
        }

        while self.sent.sent() != self.sent.next() {
            let sn = self.sent.sent();
            let need = HEADER_LEN + self.sent.slot(sn).data.len();
            if len > 0 && len + need > mtu {
                return len;
            }
            self.sent.mark_sent();
            len += self.transmit(sn, Transmission::New, &control, &mut buf[len..]);
        }

        self.end_flush();
        len
    }

    /// What a due-list segment gets now, if anything (the reference's order: timeout first).
    fn retransmission_kind(&self, sn: u32) -> Option<Transmission> {
        if !self.sent.is_live(sn) {
            return None;
        }
        let slot = self.sent.slot(sn);
        if slot.xmit == 0 {
            return None;
        }
        if seq::at_or_after(self.current, slot.resendts) {
            Some(Transmission::Timeout)
        } else if self.fast_eligible(slot.fastack, slot.xmit) {
            Some(Transmission::Fast)
        } else {
            None
        }
    }

    fn fast_eligible(&self, fastack: u32, xmit: u32) -> bool {
        let limit = self.config.fast_resend_limit;
        self.config.fast_resend > 0
            && fastack >= self.config.fast_resend
            && (limit == 0 || xmit <= limit)
    }

    /// Updates a segment's timers for this transmission and writes it into `out`.
    fn transmit(&mut self, sn: u32, kind: Transmission, control: &Header, out: &mut [u8]) -> usize {
        let now = self.current;
        let rx_rto = self.rtt.rto();
        let nodelay = self.config.nodelay;
        let eager = self.config.flush == FlushMode::Eager;
        let slot = self.sent.slot_mut(sn);
        slot.xmit += 1;
        match kind {
            Transmission::New => {
                slot.rto = rx_rto;
                let extra = if nodelay == Nodelay::Off {
                    rx_rto >> 3
                } else {
                    0
                };
                slot.resendts = now.wrapping_add(slot.rto + extra);
                self.stats.data_segments_out += 1;
            }
            Transmission::Timeout => {
                let step = match nodelay {
                    Nodelay::Off => slot.rto.max(rx_rto),
                    Nodelay::On => slot.rto / 2,
                    Nodelay::Aggressive => rx_rto / 2,
                };
                slot.rto = slot.rto.saturating_add(step).min(RTO_MAX);
                slot.resendts = now.wrapping_add(slot.rto);
                if eager {
                    // The timeout has resent it: earlier duplicate acks are spent.
                    slot.fastack = 0;
                }
                self.run.timed_out = true;
                self.stats.timeout_retransmits += 1;
            }
            Transmission::Fast => {
                slot.fastack = 0;
                slot.resendts = now.wrapping_add(slot.rto);
                self.run.fast_sent = true;
                self.stats.fast_retransmits += 1;
            }
        }
        slot.ts = now;
        let (xmit, fastack) = (slot.xmit, slot.fastack);
        let header = Header {
            cmd: Command::Push,
            frg: slot.frg,
            ts: now,
            sn,
            len: slot.data.len() as u32,
            ..*control
        };
        header.encode(out);
        let payload_len = slot.data.len();
        out[HEADER_LEN..HEADER_LEN + payload_len].copy_from_slice(&slot.data);
        // Interval mode matches the reference's timeouts exactly; eager mode may wake up to
        // half an interval late, which keeps its timer queue a cheap FIFO.
        let slack = if eager {
            self.config.interval / 2 + rx_rto / 4
        } else {
            0
        };
        self.sent.arm_timer(sn, now, slack);
        if kind == Transmission::Timeout && self.fast_eligible(fastack, xmit) {
            // The reference resends it again on the next flush: it still has its duplicate acks.
            self.sent.relist_fast(sn);
        }
        if xmit >= self.config.dead_link {
            self.dead = true;
        }
        HEADER_LEN + payload_len
    }

    /// Ends a flush: drops the acks written, adjusts the congestion window.
    fn end_flush(&mut self) {
        self.acks.drain(..self.run.acks_written);
        if !self.acks.is_empty() {
            // Queued while this flush was under way: their delay starts now.
            self.acks_since = self.current;
        }
        self.run.acks_written = 0;
        self.run.active = false;
        if self.run.fast_sent {
            let in_flight = self.sent.next().wrapping_sub(self.sent.una());
            self.congestion
                .on_fast_retransmit(in_flight, self.config.fast_resend, self.mss);
        }
        if self.run.timed_out {
            self.congestion.on_timeout(self.run.window, self.mss);
        }
        self.congestion.ensure_minimum(self.mss);
    }

    // ----- configuration at run time ----------------------------------------------------

    /// Changes the MTU. Queued messages not started yet are re-cut to the new size; segments
    /// already cut keep theirs, so until they are acknowledged datagrams may be as large as the
    /// old MTU ([`Kcp::max_datagram_size`] says how large).
    pub fn set_mtu(&mut self, mtu: u32) -> Result<(), ConfigError> {
        let config = Config {
            mtu,
            ..self.config.clone()
        };
        config.validate()?;
        if mtu < self.config.mtu && self.wait_send() > 0 {
            self.shrunk_from = Some(self.max_datagram_size() as u32);
        }
        self.config.mtu = mtu;
        self.mss = config.mss();
        self.queue.recut(
            self.config.stream,
            self.mss,
            u32::from(self.config.max_fragments),
            &mut self.buffers,
        );
        Ok(())
    }

    /// Changes the send window (`ikcp_wndsize`); segments in flight are kept.
    pub fn set_send_window(&mut self, window: u16) -> Result<(), ConfigError> {
        let config = Config {
            send_window: window,
            ..self.config.clone()
        };
        config.validate()?;
        self.config.send_window = window;
        self.sent.resize(window);
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
