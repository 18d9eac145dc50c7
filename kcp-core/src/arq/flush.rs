//! The send path: one flush, spread over as many [`Kcp::poll_transmit`] calls as it takes to
//! write its datagrams into the caller's buffers. A flush writes, in the reference code's order,
//! the pending acknowledgements, window probe and tell, due retransmissions and new segments,
//! then adjusts the congestion window.

use super::config::{FlushMode, Nodelay, RTO_MAX};
use super::{Kcp, PROBE_INIT, PROBE_LIMIT};
use crate::seq;
use crate::wire::{Command, Header, HEADER_LEN};

/// How one segment is treated when a flush reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transmission {
    New,
    Timeout,
    Fast,
    Early,
}

/// Unacknowledged segments, from the oldest, looked at for a datagram's spare room.
const SPARE_ROOM_SCAN: u32 = 32;

/// The progress of one flush, which may span several [`Kcp::poll_transmit`] calls.
#[derive(Debug, Default)]
pub(super) struct FlushRun {
    pub(super) active: bool,
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
    /// No new segment goes out in this flush: early retransmission may.
    quiet: bool,
}

impl Kcp {
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
        match self.shrunk_from {
            Some(old) if self.wait_send() > 0 => self.config.mtu.max(old) as usize,
            _ => self.config.mtu as usize,
        }
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
            quiet: self.sent.sent() == self.sent.next(),
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

        if self.config.flush == FlushMode::Eager
            && self.config.resend_in_spare_room
            && len > 0
            && len < mtu
        {
            len += self.fill_spare_room(&control, &mut buf[len..mtu]);
        }
        self.end_flush();
        len
    }

    /// Fills the room left in a datagram that is leaving anyway with segments overdue for an
    /// acknowledgement (unacknowledged for longer than the smoothed RTT), oldest first. Such a
    /// resend costs bytes, never a datagram, and recovers a loss up to an RTO early. It counts
    /// as a transmission for timing only: the segment's timer restarts with the current RTO
    /// (no backoff, no congestion response, no dead-link count), so a segment rides at most
    /// once per smoothed RTT and its later timeout or fast retransmit is not duplicated.
    fn fill_spare_room(&mut self, control: &Header, out: &mut [u8]) -> usize {
        let srtt = self.rtt.srtt();
        if srtt == 0 {
            return 0;
        }
        let overdue = srtt.max(self.config.interval) as i32;
        let now = self.current;
        let mut written = 0;
        let mut sn = self.sent.una();
        for _ in 0..SPARE_ROOM_SCAN {
            if sn == self.sent.sent() {
                break;
            }
            if self.sent.is_live(sn) {
                let slot = self.sent.slot_mut(sn);
                let need = HEADER_LEN + slot.data.len();
                if seq::diff(now, slot.ts) >= overdue && written + need <= out.len() {
                    slot.ts = now;
                    slot.resendts = now.wrapping_add(slot.rto);
                    self.sent.arm_timer(sn, now, false, 0);
                    self.stats.spare_room_retransmits += 1;
                    written += self.write_segment(sn, control, &mut out[written..]);
                }
            }
            sn = sn.wrapping_add(1);
        }
        written
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
        } else if self.config.early_retransmit
            && self.run.quiet
            && slot.fastack > 0
            && self.within_fast_limit(slot.xmit)
        {
            Some(Transmission::Early)
        } else {
            None
        }
    }

    fn fast_eligible(&self, fastack: u32, xmit: u32) -> bool {
        self.config.fast_resend > 0
            && fastack >= self.config.fast_resend
            && self.within_fast_limit(xmit)
    }

    /// Whether a segment sent `xmit` times may still be resent on duplicate acknowledgements.
    fn within_fast_limit(&self, xmit: u32) -> bool {
        let limit = self.config.fast_resend_limit;
        limit == 0 || xmit <= limit
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
            Transmission::Fast | Transmission::Early => {
                slot.fastack = 0;
                slot.resendts = now.wrapping_add(slot.rto);
                self.run.fast_sent = true;
                if kind == Transmission::Fast {
                    self.stats.fast_retransmits += 1;
                } else {
                    self.stats.early_retransmits += 1;
                }
            }
        }
        slot.ts = now;
        let (xmit, fastack) = (slot.xmit, slot.fastack);
        let written = self.write_segment(sn, control, out);
        // Interval mode matches the reference's timeouts exactly; eager mode may wake up to
        // half an interval late, which keeps its timer queue a cheap FIFO.
        let slack = if eager {
            self.config.interval / 2 + rx_rto / 4
        } else {
            0
        };
        self.sent
            .arm_timer(sn, now, kind == Transmission::New, slack);
        if kind == Transmission::Timeout && self.fast_eligible(fastack, xmit) {
            // The reference resends it again on the next flush: it still has its duplicate acks.
            self.sent.relist_fast(sn);
        }
        if xmit >= self.config.dead_link {
            self.dead = true;
        }
        written
    }

    /// Writes a segment as it goes out now: stamped with the current clock and the control
    /// fields (window, una) of this flush.
    fn write_segment(&self, sn: u32, control: &Header, out: &mut [u8]) -> usize {
        let slot = self.sent.slot(sn);
        let len = slot.data.len();
        Header {
            cmd: Command::Push,
            frg: slot.frg,
            ts: self.current,
            sn,
            len: len as u32,
            ..*control
        }
        .encode(out);
        out[HEADER_LEN..HEADER_LEN + len].copy_from_slice(&slot.data);
        HEADER_LEN + len
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
}
