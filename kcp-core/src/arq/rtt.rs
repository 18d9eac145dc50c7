//! Round-trip time estimation and the retransmission timeout derived from it.

use super::config::RTO_MAX;

/// Initial RTO before any sample (`IKCP_RTO_DEF`).
const RTO_INITIAL: u32 = 200;

/// Smoothed RTT and variance, with the reference code's integer arithmetic, so that the same
/// samples give the same RTO as `ikcp_update_ack`.
#[derive(Clone, Debug)]
pub(crate) struct RttEstimator {
    srtt: i32,
    rttvar: i32,
    rto: u32,
}

impl RttEstimator {
    pub(crate) fn new() -> RttEstimator {
        RttEstimator {
            srtt: 0,
            rttvar: 0,
            rto: RTO_INITIAL,
        }
    }

    /// Feeds one sample in milliseconds (non-negative by construction of the caller).
    pub(crate) fn on_sample(&mut self, rtt: i32, interval: u32, min_rto: u32) {
        if self.srtt == 0 {
            self.srtt = rtt;
            self.rttvar = rtt / 2;
        } else {
            let delta = (i64::from(rtt) - i64::from(self.srtt)).abs();
            self.rttvar = ((3 * i64::from(self.rttvar) + delta) / 4) as i32;
            self.srtt = ((7 * i64::from(self.srtt) + i64::from(rtt)) / 8).max(1) as i32;
        }
        let variance = (4 * i64::from(self.rttvar)).max(i64::from(interval));
        let rto = i64::from(self.srtt) + variance;
        self.rto = rto.clamp(i64::from(min_rto), i64::from(RTO_MAX)) as u32;
    }

    /// The current retransmission timeout in milliseconds.
    pub(crate) fn rto(&self) -> u32 {
        self.rto
    }

    /// Smoothed RTT in milliseconds (0 before the first sample).
    pub(crate) fn srtt(&self) -> u32 {
        self.srtt as u32
    }

    /// RTT variance in milliseconds.
    pub(crate) fn rttvar(&self) -> u32 {
        self.rttvar as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_reference_formula() {
        let mut rtt = RttEstimator::new();
        assert_eq!(rtt.rto(), 200);
        rtt.on_sample(100, 10, 30);
        // srtt 100, rttvar 50: rto = 100 + 200.
        assert_eq!((rtt.srtt(), rtt.rttvar(), rtt.rto()), (100, 50, 300));
        rtt.on_sample(60, 10, 30);
        // rttvar (150 + 40) / 4 = 47, srtt (700 + 60) / 8 = 95: rto = 95 + 188.
        assert_eq!((rtt.srtt(), rtt.rttvar(), rtt.rto()), (95, 47, 283));
    }

    #[test]
    fn clamps_to_min_and_max() {
        let mut rtt = RttEstimator::new();
        rtt.on_sample(1, 10, 30);
        assert_eq!(rtt.rto(), 30);
        let mut rtt = RttEstimator::new();
        rtt.on_sample(i32::MAX, 10, 30);
        assert_eq!(rtt.rto(), RTO_MAX);
    }
}
