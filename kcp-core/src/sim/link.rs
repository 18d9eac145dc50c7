//! One direction of a simulated path: loss, delay with jitter (which reorders), duplication,
//! corruption, a bandwidth bottleneck with a bounded queue, and blackhole periods.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::rng::Rng;

/// A bottleneck: datagrams are serialised at `bytes_per_sec` behind a queue of at most
/// `queue_bytes`; what does not fit is tail-dropped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bandwidth {
    /// Serialisation rate.
    pub bytes_per_sec: u64,
    /// Most bytes waiting for the bottleneck.
    pub queue_bytes: u64,
}

/// The faults of one direction. All probabilities are in `[0, 1]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkConfig {
    /// Probability a datagram is lost.
    pub loss: f64,
    /// Smallest one-way delay in milliseconds.
    pub delay_min: u64,
    /// Largest one-way delay in milliseconds; each datagram draws uniformly from
    /// `delay_min..=delay_max`, so a spread reorders datagrams.
    pub delay_max: u64,
    /// Probability a datagram arrives twice (the copy draws its own delay).
    pub duplicate: f64,
    /// Probability one random bit of a datagram is flipped.
    pub corrupt: f64,
    /// An optional bottleneck.
    pub bandwidth: Option<Bandwidth>,
    /// Periods `[start, end)` of simulated time in which every datagram sent is lost.
    pub blackholes: Vec<(u64, u64)>,
}

impl LinkConfig {
    /// A link with only loss and a delay range.
    pub fn lossy(loss: f64, delay_min: u64, delay_max: u64) -> LinkConfig {
        LinkConfig {
            loss,
            delay_min,
            delay_max,
            ..LinkConfig::default()
        }
    }
}

/// What happened on a link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams offered to the link.
    pub sent: u64,
    /// Bytes offered to the link.
    pub sent_bytes: u64,
    /// Datagrams handed to the receiver (copies included).
    pub delivered: u64,
    /// Lost at random.
    pub lost: u64,
    /// Lost in a blackhole period.
    pub blackholed: u64,
    /// Tail-dropped at the bottleneck queue.
    pub queue_dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Datagrams with a flipped bit.
    pub corrupted: u64,
}

/// One direction of the path.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    rng: Rng,
    /// `(arrival time, sequence)` ordered; the sequence keeps equal arrivals in send order.
    in_flight: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>,
    sequence: u64,
    /// When the bottleneck is free again, in microseconds.
    busy_until_us: u64,
    stats: LinkStats,
}

impl Link {
    /// A link with its own random stream.
    pub fn new(config: LinkConfig, seed: u64) -> Link {
        Link {
            config,
            rng: Rng::new(seed),
            in_flight: BinaryHeap::new(),
            sequence: 0,
            busy_until_us: 0,
            stats: LinkStats::default(),
        }
    }

    /// Offers a datagram at time `now` (milliseconds).
    pub fn send(&mut self, now: u64, datagram: &[u8]) {
        self.stats.sent += 1;
        self.stats.sent_bytes += datagram.len() as u64;
        if self
            .config
            .blackholes
            .iter()
            .any(|&(start, end)| (start..end).contains(&now))
        {
            self.stats.blackholed += 1;
            return;
        }
        if self.rng.chance(self.config.loss) {
            self.stats.lost += 1;
            return;
        }
        let mut departure = now;
        if let Some(bw) = self.config.bandwidth {
            let now_us = now * 1000;
            let start = self.busy_until_us.max(now_us);
            let backlog = (start - now_us) * bw.bytes_per_sec / 1_000_000;
            if backlog + datagram.len() as u64 > bw.queue_bytes {
                self.stats.queue_dropped += 1;
                return;
            }
            self.busy_until_us =
                start + (datagram.len() as u64 * 1_000_000).div_ceil(bw.bytes_per_sec.max(1));
            departure = self.busy_until_us.div_ceil(1000);
        }
        let copies = if self.rng.chance(self.config.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut bytes = datagram.to_vec();
            if !bytes.is_empty() && self.rng.chance(self.config.corrupt) {
                let i = self.rng.below(bytes.len());
                bytes[i] ^= 1 << self.rng.below(8);
                self.stats.corrupted += 1;
            }
            let delay = self.rng.range(self.config.delay_min, self.config.delay_max);
            self.sequence += 1;
            self.in_flight
                .push(Reverse((departure + delay, self.sequence, bytes)));
        }
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn next_arrival(&self) -> Option<u64> {
        self.in_flight.peek().map(|Reverse((t, _, _))| *t)
    }

    /// The next datagram that has arrived by `now`.
    pub fn receive(&mut self, now: u64) -> Option<Vec<u8>> {
        if self.next_arrival()? > now {
            return None;
        }
        let Reverse((_, _, bytes)) = self.in_flight.pop()?;
        self.stats.delivered += 1;
        Some(bytes)
    }

    /// Datagrams still in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// What happened so far.
    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_reorders_and_delay_bounds_hold() {
        let mut link = Link::new(LinkConfig::lossy(0.0, 30, 62), 1);
        for i in 0..200u8 {
            link.send(u64::from(i), &[i]);
        }
        let mut order = Vec::new();
        let mut now = 0;
        while link.in_flight() > 0 {
            now += 1;
            while let Some(d) = link.receive(now) {
                order.push(d[0]);
            }
        }
        assert!(order.windows(2).any(|w| w[0] > w[1]), "some reordering");
        assert_eq!(order.len(), 200);
        assert!(now <= 199 + 62);
    }

    #[test]
    fn bottleneck_serialises_and_tail_drops() {
        let bw = Bandwidth {
            bytes_per_sec: 100_000,
            queue_bytes: 1_000,
        };
        let config = LinkConfig {
            bandwidth: Some(bw),
            ..LinkConfig::default()
        };
        let mut link = Link::new(config, 1);
        for _ in 0..20 {
            link.send(0, &[0; 100]);
        }
        // 100 bytes take 1 ms; about 10 fit the 1000-byte queue.
        assert!(link.stats().queue_dropped >= 9);
        assert_eq!(link.next_arrival(), Some(1));
    }

    #[test]
    fn blackholes_duplicates_and_corruption_are_counted() {
        let config = LinkConfig {
            duplicate: 1.0,
            corrupt: 1.0,
            blackholes: vec![(10, 20)],
            ..LinkConfig::default()
        };
        let mut link = Link::new(config, 3);
        link.send(15, &[0; 4]);
        link.send(25, &[0; 4]);
        assert_eq!(link.stats().blackholed, 1);
        assert_eq!(link.stats().duplicated, 1);
        let a = link.receive(25).unwrap();
        assert_eq!(a.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
        assert!(link.receive(25).is_some());
    }
}
