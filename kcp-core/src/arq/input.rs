//! The receive path: validating a datagram whole, then applying its segments (acknowledgements,
//! data, window probes).

use super::config::RTO_MAX;
use super::recv_buf::{Insert, Payload};
use super::{InputError, Kcp, Stats};
use crate::seq;
use crate::wire::{Command, DecodeError, Header, Segments, HEADER_LEN};

/// Segments from peers with an MTU up to this size are accepted whatever ours is.
const COMMON_MTU: u32 = 1_500;

/// Picks the [`Stats`] counter a dropped segment is counted under.
type DropCounter = fn(&mut Stats) -> &mut u64;

/// What applying one datagram's segments carries from one segment to the next.
struct InputPass {
    prev_una: u32,
    prev_live: u32,
    /// `(sn, ts)` of the acknowledgement fast-ack counting goes by.
    latest_ack: Option<(u32, u32)>,
    /// Whether acknowledgements give RTT samples (not in datagrams rebuilt by FEC).
    sample_rtt: bool,
}

impl Kcp {
    /// Feeds one datagram received from the peer.
    ///
    /// A datagram that cannot be decoded, or that carries another conversation id, is dropped
    /// whole: the error says why, [`Stats`] counts it, and the state is
    /// unchanged. Segments that decode but make no sense (outside the window, acknowledging
    /// unsent data, ...) are dropped one by one and counted; the others in the datagram still
    /// apply. Never panics.
    pub fn handle_datagram(&mut self, now: u32, datagram: &[u8]) -> Result<(), InputError> {
        self.apply_datagram(now, datagram, true)
    }

    /// [`Kcp::handle_datagram`] for a datagram that forward error correction rebuilt. Its
    /// acknowledgements give no RTT samples: they arrive late by the time their group took to
    /// complete, and counting that as path delay would inflate the RTO (kcp-go leaves them out
    /// too). Everything else applies as usual.
    pub fn handle_recovered_datagram(
        &mut self,
        now: u32,
        datagram: &[u8],
    ) -> Result<(), InputError> {
        self.apply_datagram(now, datagram, false)
    }

    fn apply_datagram(
        &mut self,
        now: u32,
        datagram: &[u8],
        sample_rtt: bool,
    ) -> Result<(), InputError> {
        self.start_input(now, datagram)?;
        let mut pass = self.input_pass(sample_rtt);
        let mut walk = Segments::new(datagram);
        for segment in walk.by_ref().flatten() {
            self.apply_segment(
                segment.header,
                Payload::Borrowed(segment.payload),
                &mut pass,
            );
        }
        self.stats.trailing_bytes += walk.trailing() as u64;
        self.finish_input(pass);
        Ok(())
    }

    /// [`Kcp::handle_datagram`] for a datagram in a buffer the machine may keep (take one
    /// with [`Kcp::take_datagram_buffer`]; `datagram.len()` is what arrived). A datagram that
    /// is a single push keeps its buffer as the segment's storage: no copy on the way to
    /// [`Kcp::recv_buffer`]. Otherwise the buffer goes back to the pool.
    pub fn handle_datagram_buffer(
        &mut self,
        now: u32,
        datagram: Vec<u8>,
    ) -> Result<(), InputError> {
        let single_push = Header::decode(&datagram).ok().filter(|h| {
            h.cmd == Command::Push && h.len as usize == datagram.len().wrapping_sub(HEADER_LEN)
        });
        let Some(header) = single_push else {
            let result = self.handle_datagram(now, &datagram);
            self.buffers.give(datagram);
            return result;
        };
        if let Err(e) = self.start_input(now, &datagram) {
            self.buffers.give(datagram);
            return Err(e);
        }
        let mut pass = self.input_pass(true);
        let payload = Payload::Owned {
            datagram,
            start: HEADER_LEN,
        };
        self.apply_segment(header, payload, &mut pass);
        self.finish_input(pass);
        Ok(())
    }

    /// Counts the datagram and validates it whole.
    fn start_input(&mut self, now: u32, datagram: &[u8]) -> Result<(), InputError> {
        self.current = now;
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        self.validate_datagram(datagram)
    }

    fn input_pass(&self, sample_rtt: bool) -> InputPass {
        InputPass {
            prev_una: self.sent.una(),
            prev_live: self.sent.live(),
            latest_ack: None,
            sample_rtt,
        }
    }

    /// Applies one segment of a validated datagram.
    fn apply_segment(&mut self, h: Header, payload: Payload<'_>, pass: &mut InputPass) {
        let refused: Option<DropCounter> = if seq::diff(h.una, self.sent.next()) > 0 {
            Some(|s| &mut s.dropped_una_beyond_sent)
        } else if h.cmd == Command::Ack && !seq::before(h.sn, self.sent.next()) {
            Some(|s| &mut s.dropped_ack_unsent)
        } else {
            None
        };
        if let Some(counter) = refused {
            return self.drop_segment(counter, payload);
        }
        self.stats.segments_in += 1;
        self.rmt_wnd = u32::from(h.wnd);
        self.sent.ack_below(h.una, &mut self.buffers);
        match h.cmd {
            Command::Ack => {
                self.on_ack(h.sn, h.ts, pass.sample_rtt);
                // The conservative rule: the fast-ack reference is the newest echo.
                pass.latest_ack = match pass.latest_ack {
                    Some((sn, ts)) if !(seq::diff(h.sn, sn) > 0 && seq::diff(h.ts, ts) > 0) => {
                        Some((sn, ts))
                    }
                    _ => Some((h.sn, h.ts)),
                };
            }
            Command::Push => return self.on_push(h, payload),
            Command::WindowAsk => self.tell_pending = true,
            Command::WindowTell => {}
        }
        self.discard(payload);
    }

    /// After the segments: fast-ack counting, window growth, timer housekeeping.
    fn finish_input(&mut self, pass: InputPass) {
        if let Some((maxack, ts)) = pass.latest_ack {
            // Early retransmission decides at the flush: every skipped segment is a candidate.
            let threshold = if self.config.early_retransmit {
                1
            } else {
                self.config.fast_resend
            };
            if threshold > 0 {
                self.sent
                    .count_fastacks(maxack, ts, threshold, self.config.fast_resend_limit);
            }
        }
        if seq::diff(self.sent.una(), pass.prev_una) > 0 {
            self.congestion.on_progress(self.mss, self.rmt_wnd);
        }
        if self.sent.live() != pass.prev_live {
            // Acknowledged segments leave stale timers: keep the earliest deadline exact.
            self.sent.prune_timers();
        }
    }

    /// Drops a segment, counting it under its reason.
    fn drop_segment(&mut self, counter: DropCounter, payload: Payload<'_>) {
        *counter(&mut self.stats) += 1;
        self.discard(payload);
    }

    /// A payload that is not stored gives its buffer (if it has one) back to the pool.
    fn discard(&mut self, payload: Payload<'_>) {
        if let Some(buf) = payload.into_buffer() {
            self.buffers.give(buf);
        }
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

    fn on_ack(&mut self, sn: u32, ts: u32, sample_rtt: bool) {
        let rtt = seq::diff(self.current, ts);
        // A sample beyond the RTO ceiling says nothing true about the path (a forged or
        // ancient echo) and would pin the RTO at its maximum.
        if sample_rtt && (0..=RTO_MAX as i32).contains(&rtt) {
            self.rtt
                .on_sample(rtt, self.config.interval, self.config.min_rto);
        }
        self.sent.ack(sn, &mut self.buffers);
        self.sent.note_acked_above(sn);
    }

    fn on_push(&mut self, h: Header, payload: Payload<'_>) {
        let refused: Option<DropCounter> = if !self.received.acceptable(h.sn) {
            Some(|s| &mut s.dropped_outside_window)
        } else if h.len > self.max_recv_payload() {
            Some(|s| &mut s.dropped_oversize)
        } else if !self.config.stream && u32::from(h.frg) >= u32::from(self.config.recv_window) {
            Some(|s| &mut s.dropped_bad_fragment)
        } else {
            None
        };
        if let Some(counter) = refused {
            return self.drop_segment(counter, payload);
        }
        if self.acks.len() >= self.ack_list_limit() {
            self.stats.dropped_ack_overflow += 1;
        } else {
            if self.acks.is_empty() {
                self.acks_since = self.current;
            }
            self.acks.push((h.sn, h.ts));
        }
        if self
            .received
            .insert(h.sn, h.frg, payload, &mut self.buffers)
            == Insert::Duplicate
        {
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
}
