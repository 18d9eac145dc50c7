//! The receive path: validating a datagram whole, then applying its segments (acknowledgements,
//! data, window probes).

use super::config::RTO_MAX;
use super::recv_buf::Insert;
use super::{InputError, Kcp};
use crate::seq;
use crate::wire::{Command, DecodeError, Header, Segments, HEADER_LEN};

/// Segments from peers with an MTU up to this size are accepted whatever ours is.
const COMMON_MTU: u32 = 1_500;

impl Kcp {
    /// Feeds one datagram received from the peer.
    ///
    /// A datagram that cannot be decoded, or that carries another conversation id, is dropped
    /// whole: the error says why, [`Stats`](crate::Stats) counts it, and the state is unchanged. Segments that
    /// decode but make no sense (outside the window, acknowledging unsent data, ...) are dropped
    /// one by one and counted; the others in the datagram still apply. Never panics.
    pub fn handle_datagram(&mut self, now: u32, datagram: &[u8]) -> Result<(), InputError> {
        self.current = now;
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        self.validate_datagram(datagram)?;

        let prev_una = self.sent.una();
        let prev_live = self.sent.live();
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
        if self.sent.live() != prev_live {
            // Acknowledged segments leave stale timers: keep the earliest deadline exact.
            self.sent.prune_timers();
        }
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
