//! The native FEC framing: groups bounded in time, parity that follows measured loss.
//!
//! kcp-go emits parity only after a full group of data packets. A game sending 50 packets a
//! second waits 200 ms for a 10-packet group, so the parity arrives after the retransmission it
//! was meant to save. Here a group closes at a **deadline** — a fraction of the smoothed RTT
//! after its first packet — or when it holds [`NativeConfig::max_data`] packets, whichever comes
//! first, and its parity leaves at once. The number of parity shards is chosen when the group
//! closes, from its size and the **loss the peer reports**: the smallest count that leaves the
//! group unrecoverable with probability at most [`NativeConfig::target_residual`].
//!
//! Every datagram carries a header (all integers little-endian):
//!
//! ```text
//! plain  : [seq u32][0x00][0     ][0  ][report u8][size u16][KCP bytes]   not in a group
//! data   : [seq u32][0x01][offset][pos][report u8][size u16][KCP bytes]   position pos < k
//! parity : [seq u32][0x02][offset][pos][report u8][k u8][m u8][L bytes]   k <= pos < k + m
//! ```
//!
//! * `seq` numbers every datagram of a direction, data, plain and parity alike, so the
//!   receiver measures loss from the gaps. `offset` is the distance from the group's first
//!   `seq`, so the group is named by `seq - offset` even when plain datagrams come between its
//!   shards; `pos` is the shard's position in the code.
//! * Only datagrams that carry data join groups. Acknowledgement-only datagrams go out plain:
//!   the next datagram's cumulative acknowledgement covers a lost one, so parity for them would
//!   cost bytes and save nothing.
//! * `report` is the sender's estimate of the loss on the *other* direction, in 1/256 units:
//!   each side measures what it receives and tells the peer, which sizes its parity from it.
//!   When the reported loss is below [`NativeConfig::min_loss`], datagrams go out `plain`, with
//!   no parity at all.
//! * Data and plain shards are `[size u16][KCP bytes]` as in kcp-go, so rebuilt (zero-padded)
//!   shards know their length. Parity is the kcp-go code for `(k, m)` over those shards. A
//!   parity datagram is two bytes longer than the longest data datagram it covers, which the
//!   MTU budget allows for ([`BUDGET`]).
//!
//! In the sealed mode the header sits inside the authenticated packet; in the simulator it can
//! run bare.

use super::galois::CodeCache;
use super::groups::{GroupTable, Limits, Placement};
use super::{FecConfigError, FecStats, Malformed, SIZE_LEN};

/// Bytes of the header in front of a shard.
pub const HEADER_LEN: usize = 8;
/// Bytes in front of the KCP segments of a plain or data packet: header and size field.
pub const DATA_OVERHEAD: usize = HEADER_LEN + SIZE_LEN;
/// Bytes in front of the parity of a parity packet: header, `k` and `m`.
pub const PARITY_OVERHEAD: usize = HEADER_LEN + 2;
/// Bytes of the MTU the framing needs: a parity datagram's overhead plus the size field of the
/// data shards it covers.
pub const BUDGET: usize = PARITY_OVERHEAD + SIZE_LEN;
/// Most datagrams from a group's first to its last parity shard (`offset` is one byte).
const MAX_SPAN: u32 = 255;

const KIND_PLAIN: u8 = 0;
const KIND_DATA: u8 = 1;
const KIND_PARITY: u8 = 2;

/// Tuning of the native framing.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeConfig {
    /// Data shards after which a group closes before its deadline.
    pub max_data: usize,
    /// Most parity shards per group.
    pub max_parity: usize,
    /// Deadline as a fraction of the smoothed RTT, in 1/256 units (128 = half). Longer
    /// deadlines gather more data shards per group, so the same protection costs less parity,
    /// but a rebuilt datagram may wait that long.
    pub deadline_fraction: u32,
    /// Shortest deadline, in milliseconds.
    pub min_deadline: u32,
    /// Longest deadline, in milliseconds.
    pub max_deadline: u32,
    /// Reported loss (0..1) below which datagrams go out plain, without parity.
    pub min_loss: f64,
    /// Highest acceptable probability that a group loses more shards than it has parity.
    pub target_residual: f64,
    /// The receiver's group table.
    pub limits: Limits,
}

impl Default for NativeConfig {
    fn default() -> NativeConfig {
        NativeConfig {
            max_data: 16,
            max_parity: 8,
            deadline_fraction: 128,
            min_deadline: 2,
            max_deadline: 40,
            min_loss: 0.005,
            target_residual: 0.01,
            limits: Limits {
                max_groups: 16,
                max_age: 2_000,
                max_shard_len: 1500,
            },
        }
    }
}

/// Parity shards for a group of `k` data shards when each shard is lost with probability
/// `loss`: the fewest that make losing more than that many of the `k + m` shards at most
/// `target` likely, capped at `max`.
pub fn parity_for(k: usize, loss: f64, target: f64, max: usize) -> usize {
    (1..=max)
        // The tail is a sum of rounded terms: allow for the rounding at the boundary.
        .find(|&m| binomial_tail(k + m, m, loss) <= target * (1.0 + 1e-9))
        .unwrap_or(max)
}

/// P[more than `m` of `n` independent trials fail], each with probability `p`.
fn binomial_tail(n: usize, m: usize, p: f64) -> f64 {
    // Sum the complement term by term: C(n, i) p^i (1-p)^(n-i) for i = 0..=m.
    let mut term = (1.0 - p).powi(n as i32);
    let mut kept = 0.0;
    for i in 0..=m.min(n) {
        kept += term;
        if p >= 1.0 {
            break;
        }
        term *= (n - i) as f64 / (i + 1) as f64 * p / (1.0 - p);
    }
    (1.0 - kept).max(0.0)
}

/// Loss measured from gaps in the incoming `seq`: an exponentially weighted average over about
/// the last 64 datagrams, in 1/65536 units.
#[derive(Clone, Debug, Default)]
struct LossMeter {
    highest: Option<u32>,
    average: u32,
}

impl LossMeter {
    const SHIFT: u32 = 6;
    const ONE: u32 = 1 << 16;

    fn observe(&mut self, seq: u32) {
        let gap = match self.highest {
            None => 0,
            Some(h) if crate::seq::before(h, seq) => seq.wrapping_sub(h) - 1,
            // Reordered or duplicated: already counted as lost; leave the estimate alone.
            Some(_) => return,
        };
        self.highest = Some(seq);
        // After 64 losses in a row the average is within 1/e of certain loss; more change
        // nothing worth the loop.
        for _ in 0..gap.min(256) {
            self.average += (Self::ONE - self.average) >> Self::SHIFT;
        }
        self.average -= self.average >> Self::SHIFT;
    }

    /// The estimate in 1/256 units, for the wire.
    fn report(&self) -> u8 {
        (self.average >> 8).min(255) as u8
    }
}

#[derive(Debug)]
struct OpenGroup {
    base: u32,
    deadline: u32,
    /// Copies of the data shards: `k` is only known at the close, and the code depends on it.
    shards: Vec<Vec<u8>>,
}

/// Both directions of the native framing for one session: frames and groups what leaves,
/// rebuilds what arrives, and carries the loss reports between them.
#[derive(Debug)]
pub struct NativeFec {
    config: NativeConfig,
    next_seq: u32,
    group: Option<OpenGroup>,
    /// Parity of the last closed group, written out front to back.
    parity: Vec<Vec<u8>>,
    /// `(k, m)` of the last closed group.
    parity_geometry: (usize, usize),
    /// The first `seq` of the last closed group.
    parity_base: u32,
    parity_written: usize,
    spare: Vec<Vec<u8>>,
    /// The empty list the next group's shard copies go in (kept for its capacity).
    shard_list: Vec<Vec<u8>>,
    codes: CodeCache,
    meter: LossMeter,
    /// What the peer last reported about the loss of our datagrams, in 1/256 units.
    peer_report: u8,
    table: GroupTable,
    stats: FecStats,
}

impl NativeFec {
    /// A fresh session's FEC; fails if `max_data` or `max_parity` is zero or they add up to
    /// more than [`MAX_SHARDS`](super::MAX_SHARDS), if the deadline range is backwards, if a
    /// probability lies outside 0..=1, or if the group table has no room.
    pub fn new(config: NativeConfig) -> Result<NativeFec, FecConfigError> {
        super::check_geometry(config.max_data, config.max_parity)?;
        if config.min_deadline > config.max_deadline {
            return Err(FecConfigError::Deadlines);
        }
        if ![config.min_loss, config.target_residual]
            .iter()
            .all(|p| (0.0..=1.0).contains(p))
        {
            return Err(FecConfigError::Probability);
        }
        Ok(NativeFec {
            table: GroupTable::new(config.limits)?,
            config,
            next_seq: 0,
            group: None,
            parity: Vec::new(),
            parity_geometry: (0, 0),
            parity_base: 0,
            parity_written: 0,
            spare: Vec::new(),
            shard_list: Vec::new(),
            codes: CodeCache::default(),
            meter: LossMeter::default(),
            peer_report: 0,
            stats: FecStats::default(),
        })
    }

    /// Counters.
    pub fn stats(&self) -> &FecStats {
        &self.stats
    }

    /// The receiver's groups (see [`GroupTable`]).
    pub fn groups(&self) -> &GroupTable {
        &self.table
    }

    /// The loss of our datagrams the peer last reported (0..1).
    pub fn peer_loss(&self) -> f64 {
        self.peer_report as f64 / 256.0
    }

    /// The loss of the peer's datagrams measured here (0..1).
    pub fn local_loss(&self) -> f64 {
        self.meter.report() as f64 / 256.0
    }

    /// Frames an outgoing datagram in place: `packet` is [`DATA_OVERHEAD`] bytes of room
    /// followed by KCP segments. `srtt` (milliseconds) sets the deadline of a group this packet
    /// opens. Datagrams with `carries_data` false (acknowledgements and window updates only)
    /// go out plain: the next datagram's cumulative acknowledgement covers a lost one, so
    /// parity for them would cost bytes and save nothing. Write out [`NativeFec::next_parity`]
    /// until it returns `None` before the next one.
    ///
    /// # Panics
    ///
    /// If `packet` has no room for the header, is longer than 65 535 bytes, or parity is
    /// pending.
    pub fn encode(&mut self, now: u32, srtt: u32, packet: &mut [u8], carries_data: bool) {
        assert!(!self.has_parity(), "write out pending parity first");
        assert!(packet.len() >= DATA_OVERHEAD && packet.len() - HEADER_LEN <= u16::MAX as usize);
        let protect = carries_data && self.peer_loss() >= self.config.min_loss;
        if protect && self.group.is_none() {
            let deadline = (srtt.saturating_mul(self.config.deadline_fraction) / 256)
                .clamp(self.config.min_deadline, self.config.max_deadline);
            self.group = Some(OpenGroup {
                base: self.next_seq,
                deadline: now.wrapping_add(deadline),
                shards: std::mem::take(&mut self.shard_list),
            });
        }
        let (kind, offset, position) = match &self.group {
            Some(g) if protect => (
                KIND_DATA,
                self.next_seq.wrapping_sub(g.base) as u8,
                g.shards.len() as u8,
            ),
            _ => (KIND_PLAIN, 0, 0),
        };
        self.write_header(packet, kind, offset, position);
        let size = (packet.len() - HEADER_LEN) as u16;
        packet[HEADER_LEN..DATA_OVERHEAD].copy_from_slice(&size.to_le_bytes());
        if let Some(group) = self.group.as_mut() {
            if protect {
                let mut copy = self.spare.pop().unwrap_or_default();
                copy.clear();
                copy.extend_from_slice(&packet[HEADER_LEN..]);
                group.shards.push(copy);
            }
            // Close while every parity shard's offset still fits in a byte.
            let span = self.next_seq.wrapping_sub(group.base) + self.config.max_parity as u32;
            if group.shards.len() >= self.config.max_data || span >= MAX_SPAN {
                self.close_group();
            }
        }
    }

    /// Writes the common header and moves `seq` on.
    fn write_header(&mut self, out: &mut [u8], kind: u8, offset: u8, position: u8) {
        out[0..4].copy_from_slice(&self.next_seq.to_le_bytes());
        out[4] = kind;
        out[5] = offset;
        out[6] = position;
        out[7] = self.meter.report();
        self.next_seq = self.next_seq.wrapping_add(1);
    }

    /// When the open group's deadline falls, if a group is open.
    pub fn poll_timeout(&self) -> Option<u32> {
        self.group.as_ref().map(|g| g.deadline)
    }

    /// Closes the open group if its deadline has passed.
    pub fn handle_timeout(&mut self, now: u32) {
        if self
            .group
            .as_ref()
            .is_some_and(|g| crate::seq::at_or_after(now, g.deadline))
        {
            self.stats.groups_closed_by_deadline += 1;
            self.close_group();
        }
    }

    fn close_group(&mut self) {
        let Some(mut group) = self.group.take() else {
            return;
        };
        let k = group.shards.len();
        let m = parity_for(
            k,
            self.peer_loss(),
            self.config.target_residual,
            self.config.max_parity,
        );
        let len = group.shards.iter().map(Vec::len).max().unwrap_or(0);
        // Parity buffers are kept across groups (only the first `m` are used) so closing a
        // group allocates nothing once they have grown.
        if self.parity.len() < m {
            self.parity.resize_with(m, Vec::new);
        }
        let parity = &mut self.parity[..m];
        for p in parity.iter_mut() {
            p.clear();
            p.resize(len, 0);
        }
        let code = self
            .codes
            .get(k, m)
            .expect("k and m are bounded by a checked config");
        for (i, shard) in group.shards.iter().enumerate() {
            code.accumulate(i, shard, parity);
        }
        self.parity_geometry = (k, m);
        self.parity_base = group.base;
        self.parity_written = 0;
        self.spare.append(&mut group.shards);
        self.spare.truncate(self.config.max_data);
        self.shard_list = group.shards;
    }

    /// Whether parity packets are waiting to be written out.
    pub fn has_parity(&self) -> bool {
        self.parity_written < self.parity_geometry.1
    }

    /// The length of the next parity packet, if one is pending.
    pub fn next_parity_len(&self) -> Option<usize> {
        self.has_parity()
            .then(|| PARITY_OVERHEAD + self.parity[self.parity_written].len())
    }

    /// Writes the next pending parity packet into `out` and returns its length.
    ///
    /// # Panics
    ///
    /// If `out` is shorter than [`NativeFec::next_parity_len`].
    pub fn next_parity(&mut self, out: &mut [u8]) -> Option<usize> {
        let len = self.next_parity_len()?;
        let (k, m) = self.parity_geometry;
        let j = self.parity_written;
        let offset = self.next_seq.wrapping_sub(self.parity_base) as u8;
        self.write_header(out, KIND_PARITY, offset, (k + j) as u8);
        out[HEADER_LEN] = k as u8;
        out[HEADER_LEN + 1] = m as u8;
        out[PARITY_OVERHEAD..len].copy_from_slice(&self.parity[j]);
        self.parity_written += 1;
        self.stats.parity_shards_out += 1;
        Some(len)
    }

    /// Takes an incoming datagram's plaintext. Returns the KCP bytes of a plain or data packet,
    /// to be fed to the ARQ at once (`None` for parity); rebuilt data packets' KCP bytes go to
    /// `recovered`. Malformed packets are counted and rejected.
    pub fn input<'a>(
        &mut self,
        now: u32,
        packet: &'a [u8],
        recovered: &mut dyn FnMut(&[u8]),
    ) -> Result<Option<&'a [u8]>, Malformed> {
        let Some(header) = packet.get(..HEADER_LEN) else {
            self.stats.malformed += 1;
            return Err(Malformed);
        };
        let seq = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let (kind, offset, index, report) = (header[4], header[5], header[6] as usize, header[7]);
        let group = seq.wrapping_sub(offset as u32);
        let shard = &packet[HEADER_LEN..];
        let (placement, payload) = match kind {
            KIND_PLAIN | KIND_DATA => {
                let Some(payload) = super::shard_payload(shard) else {
                    self.stats.malformed += 1;
                    return Err(Malformed);
                };
                self.stats.data_shards_in += 1;
                let placement = (kind == KIND_DATA).then_some(Placement {
                    group,
                    index,
                    geometry: None,
                });
                (placement, Some(payload))
            }
            KIND_PARITY => {
                let (Some(&k), Some(&m), Some(parity)) =
                    (shard.first(), shard.get(1), shard.get(2..))
                else {
                    self.stats.malformed += 1;
                    return Err(Malformed);
                };
                self.stats.parity_shards_in += 1;
                let placement = Placement {
                    group,
                    index,
                    geometry: Some((k as usize, m as usize)),
                };
                self.table
                    .insert(now, placement, false, parity, &mut self.stats, recovered);
                (None, None)
            }
            _ => {
                self.stats.malformed += 1;
                return Err(Malformed);
            }
        };
        self.meter.observe(seq);
        self.peer_report = report;
        if let (Some(placement), Some(payload)) = (placement, payload) {
            let stored = &shard[..SIZE_LEN + payload.len()];
            self.table
                .insert(now, placement, true, stored, &mut self.stats, recovered);
        }
        Ok(payload)
    }
}
