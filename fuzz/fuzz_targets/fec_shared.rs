//! Shared by the FEC decoder targets (`fec_kcpgo` and `fec_native`). Both send a genuine
//! sender's datagrams through a network that drops or damages them into a *clean* decoder, and
//! with hostile bytes between them into a *mixed* one, then judge each group by what reached
//! the clean one. What the sender's packets hold, what damage may do, when a group must have
//! rebuilt exactly its lost data and how a decoder's counters add up are the same claims for
//! both framings, so they are stated here once: a correction to one target's reading of them
//! cannot leave the other target behind.

use std::fmt::Display;

use kcp_core::fec::groups::Limits;
use kcp_core::fec::{FecStats, SIZE_LEN};

/// The receivers' limits: `max_groups` as given, `max_age` milliseconds, and shards of
/// `2 + 6 * max_shard_len` bytes (up to 1532, past any MTU) but at least 3: decoders refuse a
/// shard limit that leaves no byte past the size field (`FecConfigError::NoRoom`), and the
/// targets build theirs with `expect`.
pub fn limits(max_groups: usize, max_age: u16, max_shard_len: u8) -> Limits {
    Limits {
        max_groups,
        max_age: u32::from(max_age),
        max_shard_len: (2 + 6 * usize::from(max_shard_len)).max(SIZE_LEN + 1),
    }
}

/// How many KCP bytes the sender puts in a packet for the input's `len`: modulo what fits in
/// a shard of `max_shard_len` bytes with its size field, since receivers refuse longer shards.
pub fn kcp_len(len: u16, max_shard_len: usize) -> usize {
    usize::from(len) % (max_shard_len - SIZE_LEN + 1)
}

/// The `len` KCP bytes of the sender's `n`th packet: a pattern that differs from packet to
/// packet, so that a rebuild handing back another packet's bytes is caught.
pub fn kcp_bytes(n: usize, len: usize) -> impl Iterator<Item = u8> {
    (0..len).map(move |i| ((n * 1000 + i) % 251) as u8)
}

/// The size field that starts a data shard (`[size u16][KCP bytes]`, the size counting
/// itself), when it is possible: at least the field itself and at most the shard. Both
/// framings refuse anything else as malformed.
pub fn declared_size(shard: &[u8]) -> Option<usize> {
    let [a, b, ..] = *shard else {
        return None;
    };
    let size = usize::from(u16::from_le_bytes([a, b]));
    (SIZE_LEN..=shard.len()).contains(&size).then_some(size)
}

/// Writes the size field after the first `header_len` bytes to match the datagram's length,
/// so that a hostile data packet gets past the size check into the group logic. The datagram
/// must already hold the field.
pub fn fit_size_field(datagram: &mut [u8], header_len: usize) {
    let size = u16::try_from(datagram.len() - header_len).unwrap_or(u16::MAX);
    datagram[header_len..header_len + SIZE_LEN].copy_from_slice(&size.to_le_bytes());
}

/// What the network may do to a datagram it delivers. It never reaches the header, so a
/// damaged datagram still lands in its own group and spoils no other group's verdict.
#[derive(Clone, Copy)]
pub enum Damage {
    /// Byte `at` after the header (modulo what is there) XORed with `xor` (0 taken as 1, so
    /// that the byte does change).
    Corrupt { at: u16, xor: u8 },
    /// Only the first `keep` bytes after the header (modulo what is there) kept.
    Truncate { keep: u16 },
}

impl Damage {
    /// Damages the bytes after the first `header_len`. Every genuine datagram is longer than
    /// its header (data carry a size field, parity at least as many bytes), so there is
    /// something to damage.
    pub fn apply(self, datagram: &mut Vec<u8>, header_len: usize) {
        let body = datagram.len() - header_len;
        match self {
            Damage::Corrupt { at, xor } => {
                datagram[header_len + usize::from(at) % body] ^= xor.max(1)
            }
            Damage::Truncate { keep } => datagram.truncate(header_len + usize::from(keep) % body),
        }
    }
}

/// How one of the sender's groups reached the clean decoder.
#[derive(Clone, Default)]
pub struct Arrivals {
    /// Some datagram of the group arrived damaged: what the group rebuilds is then anyone's
    /// guess, so it is not judged.
    pub touched: bool,
    /// When its first and last datagrams reached the decoder.
    first: Option<u32>,
    last: u32,
    /// KCP bytes the clean decoder rebuilt while taking this group's datagrams.
    pub rebuilt: Vec<Vec<u8>>,
}

impl Arrivals {
    /// Logs a datagram of the group reaching the clean decoder at `now`, with what the decoder
    /// rebuilt on taking it: the header is never damaged, so that is this group's doing.
    pub fn arrived(&mut self, now: u32, rebuilt: Vec<Vec<u8>>) {
        self.first.get_or_insert(now);
        self.last = now;
        self.rebuilt.extend(rebuilt);
    }

    /// Judges, at the end, what an untouched group rebuilt: nothing if it lost more than its
    /// `m` parity shards make up for; otherwise exactly `lost_data` (the KCP bytes of its lost
    /// data packets, in order), unless its datagrams arrived more than `max_age` apart.
    pub fn check_rebuilt(
        &self,
        group: impl Display,
        lost: usize,
        m: usize,
        lost_data: &[&[u8]],
        max_age: u32,
    ) {
        let rebuilt: Vec<&[u8]> = self.rebuilt.iter().map(Vec::as_slice).collect();
        let span = self.first.map(|first| self.last.wrapping_sub(first));
        if lost > m {
            assert!(
                rebuilt.is_empty(),
                "group {group} lost {lost} > {m} shards yet rebuilt some"
            );
        } else if span.is_some_and(|span| span <= max_age) {
            // Parity follows all the group's data, so the group becomes recoverable only once
            // every data packet that will ever arrive has: what is missing is what was lost.
            assert_eq!(
                rebuilt, lost_data,
                "group {group}: rebuilt packets differ from the lost ones"
            );
        }
        // Else the group may have been abandoned for its age before it was recoverable.
    }
}

/// Checks the clean decoder's counters when nothing it took was damaged.
pub fn check_undamaged(stats: &FecStats) {
    assert_eq!(
        stats.malformed, 0,
        "an undamaged stream has nothing malformed"
    );
    assert_eq!(stats.duplicate, 0, "an undamaged stream has no duplicates");
    assert_eq!(
        stats.errors, 0,
        "an undamaged stream rebuilds without errors"
    );
}

/// What a receiving decoder was fed and handed back, kept apart from the decoder so that its
/// counters can be held to it after every datagram.
pub struct Tally {
    limits: Limits,
    /// Data shards (for the native framing, plain packets too) the decoder accepted as such.
    pub data_in: u64,
    /// Parity shards the decoder accepted as such.
    pub parity_in: u64,
    /// KCP bytes handed back as rebuilt.
    rebuilt: u64,
}

impl Tally {
    /// Nothing fed yet, to a decoder with these limits.
    pub fn new(limits: Limits) -> Tally {
        Tally {
            limits,
            data_in: 0,
            parity_in: 0,
            rebuilt: 0,
        }
    }

    /// Runs one `input` call, given the sink for rebuilt KCP bytes; returns what it returned
    /// and what it rebuilt. A rebuilt payload never exceeds what a shard holds after its size
    /// field: anything longer came from outside the shard.
    pub fn input<R>(
        &mut self,
        input: impl FnOnce(&mut dyn FnMut(&[u8])) -> R,
    ) -> (R, Vec<Vec<u8>>) {
        let most = self.limits.max_shard_len - SIZE_LEN;
        let mut rebuilt = Vec::new();
        let result = input(&mut |kcp: &[u8]| {
            assert!(
                kcp.len() <= most,
                "rebuilt {} bytes, more than a shard holds",
                kcp.len()
            );
            rebuilt.push(kcp.to_vec());
        });
        self.rebuilt += rebuilt.len() as u64;
        (result, rebuilt)
    }

    /// Holds a decoder's counters to the tally: each shard and rebuild counted, every rebuild
    /// paid for by parity, and nothing a sender does. `droppable` is how many of the datagrams
    /// fed the decoder could drop at all; each is dropped for one reason at most.
    pub fn check(&self, stats: &FecStats, droppable: u64) {
        assert_eq!(stats.data_shards_in, self.data_in);
        assert_eq!(stats.parity_shards_in, self.parity_in);
        assert_eq!(
            stats.recovered, self.rebuilt,
            "every rebuilt packet is counted"
        );
        assert!(
            stats.malformed + stats.late + stats.duplicate <= droppable,
            "{stats:?}"
        );
        // A group is rebuilt once, from at least as many parity shards as it misses data
        // shards; a failed rebuild counts one error per attempt.
        assert!(
            stats.recovered + stats.errors <= self.parity_in,
            "{stats:?}"
        );
        // Each abandoned group was opened by a shard.
        assert!(
            stats.abandoned_groups <= self.data_in + self.parity_in,
            "{stats:?}"
        );
        assert_eq!(stats.parity_shards_out, 0, "a receiver sends nothing");
        // Only a sender closes groups by their deadline (kcp-go groups have none at all).
        assert_eq!(
            stats.groups_closed_by_deadline, 0,
            "a receiver closes no groups"
        );
    }
}
