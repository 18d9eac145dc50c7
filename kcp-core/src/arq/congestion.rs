//! The reference code's Reno-like congestion window, in segments.

/// Initial and minimum slow-start threshold (`IKCP_THRESH_INIT`, `IKCP_THRESH_MIN`).
const THRESH_MIN: u32 = 2;

#[derive(Clone, Debug)]
pub(crate) struct Congestion {
    pub(crate) cwnd: u32,
    ssthresh: u32,
    /// Bytes of window growth accumulated in congestion avoidance.
    incr: u32,
}

impl Congestion {
    pub(crate) fn new() -> Congestion {
        Congestion {
            cwnd: 0,
            ssthresh: THRESH_MIN,
            incr: 0,
        }
    }

    /// `snd_una` advanced: grow by one segment in slow start, by about one segment per window
    /// in congestion avoidance, never past the peer's window.
    pub(crate) fn on_progress(&mut self, mss: u32, rmt_wnd: u32) {
        if self.cwnd >= rmt_wnd {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd += 1;
            self.incr = self.incr.wrapping_add(mss);
        } else {
            self.incr = self.incr.max(mss);
            let growth = (u64::from(mss) * u64::from(mss) / u64::from(self.incr)) as u32;
            self.incr = self.incr.wrapping_add(growth + mss / 16);
            if (self.cwnd + 1).wrapping_mul(mss) <= self.incr {
                self.cwnd = self.incr.div_ceil(mss.max(1));
            }
        }
        if self.cwnd > rmt_wnd {
            self.cwnd = rmt_wnd;
            self.incr = rmt_wnd.wrapping_mul(mss);
        }
    }

    /// A flush fast-retransmitted something: halve to the data in flight, plus the threshold.
    pub(crate) fn on_fast_retransmit(&mut self, in_flight: u32, threshold: u32, mss: u32) {
        self.ssthresh = (in_flight / 2).max(THRESH_MIN);
        self.cwnd = self.ssthresh.wrapping_add(threshold);
        self.incr = self.cwnd.wrapping_mul(mss);
    }

    /// A flush saw a timeout: back to one segment.
    pub(crate) fn on_timeout(&mut self, window: u32, mss: u32) {
        self.ssthresh = (window / 2).max(THRESH_MIN);
        self.cwnd = 1;
        self.incr = mss;
    }

    /// End of every flush: the window is at least one segment.
    pub(crate) fn ensure_minimum(&mut self, mss: u32) {
        if self.cwnd < 1 {
            self.cwnd = 1;
            self.incr = mss;
        }
    }
}
