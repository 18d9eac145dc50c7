//! The kcp-go FEC decoder reads every datagram before anything else does (protection, when
//! there is any, is a CRC a forger can fix up), so it must take any bytes at all without
//! panicking, without growing past its limits, and without handing the ARQ bytes that are not
//! the datagram's own. And it must do its job: a lost data packet whose group kept enough
//! shards comes back byte for byte.
//!
//! Two decoders with the same geometry and limits (chosen by the input) are fed:
//!
//! * the *clean* one gets only a genuine sender's packets, after the network dropped, delayed,
//!   corrupted or truncated some of them as the input says. Corruption never touches the
//!   6-byte FEC header, so a damaged packet stays in its own group; every group that no damage
//!   touched must then rebuild exactly its dropped data packets, in order, when no more of its
//!   shards were lost than it has parity (and nothing at all otherwise);
//! * the *mixed* one gets the same packets with hostile datagrams between them, some rewritten
//!   with a data or parity header whose seqid lands among the genuine groups.
//!
//! After every datagram, for both: what `input` returned is what the documented framing says
//! (the data packet's declared KCP bytes, or `Malformed` exactly when its size field is
//! impossible), every rebuilt payload fits in `max_shard_len`, the group table holds at most
//! `max_groups` groups, and the counters add up (each shard counted once, every rebuild paid
//! for by a parity shard).

#![no_main]

use kcp_core::fec::groups::Limits;
use kcp_core::fec::kcpgo::{
    KcpGoDecoder, KcpGoEncoder, Packet, DATA_OVERHEAD, FLAG_DATA, FLAG_PARITY, HEADER_LEN,
};
use kcp_core::fec::{Malformed, SIZE_LEN};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Scenario {
    /// Data shards per group: `1 + data % 20`.
    data: u8,
    /// Parity shards per group: `1 + parity % 10`.
    parity: u8,
    /// Groups a decoder remembers: `1 + max_groups % 8`.
    max_groups: u8,
    /// Milliseconds a group may stay open.
    max_age: u16,
    /// Longest shard accepted: `2 + 6 * max_shard_len` bytes (2..=1532).
    max_shard_len: u8,
    /// The sender's first seqid (moved to the start of its group); near `u32::MAX` it crosses
    /// the wrap.
    first_seqid: u32,
    /// The clock at the start.
    clock: u32,
    /// Full groups the sender sends: `1 + groups % 4`.
    groups: u8,
    /// KCP byte counts of the sender's data packets, in turn (modulo what fits in a shard).
    lens: Vec<u16>,
    /// What the network does to each of the sender's packets, in turn; then delivery.
    fates: Vec<Fate>,
    /// Datagrams for the mixed decoder only.
    hostile: Vec<Hostile>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Fate {
    /// Arrives after `wait` milliseconds.
    Deliver { wait: u8 },
    /// Is lost.
    Drop,
    /// Arrives with byte `at` (counted after the FEC header, modulo what is there) XORed with
    /// `xor` (0 taken as 1).
    Corrupt { wait: u8, at: u16, xor: u8 },
    /// Arrives with only the first `keep` bytes after the FEC header (modulo what is there).
    Truncate { wait: u8, keep: u16 },
}

#[derive(Arbitrary, Debug)]
struct Hostile {
    /// Sender packets that go first: `after % 4`.
    after: u8,
    /// Milliseconds before it arrives.
    wait: u8,
    frame: Frame,
    bytes: Vec<u8>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Frame {
    /// The bytes as they are.
    AsIs,
    /// A data header with seqid `offset` after the sender's first; with `fit`, a size field
    /// that matches the length.
    Data { offset: u8, fit: bool },
    /// A parity header with seqid `offset` after the sender's first.
    Parity { offset: u8 },
}

fuzz_target!(|scenario: Scenario| {
    let k = 1 + usize::from(scenario.data % 20);
    let m = 1 + usize::from(scenario.parity % 10);
    let limits = Limits {
        max_groups: 1 + usize::from(scenario.max_groups % 8),
        max_age: u32::from(scenario.max_age),
        max_shard_len: 2 + 6 * usize::from(scenario.max_shard_len),
    };
    let mut encoder = KcpGoEncoder::new(k, m).expect("1..=20 + 1..=10 is a valid geometry");
    encoder.set_next_seqid(scenario.first_seqid);
    let base = encoder.next_seqid();
    let groups = 1 + usize::from(scenario.groups % 4);
    let sent = send(&mut encoder, groups, &scenario.lens, limits.max_shard_len);
    assert_eq!(
        sent.len(),
        groups * (k + m),
        "one parity packet per parity shard"
    );

    let mut clean = Checked::new(k, m, limits);
    let mut mixed = Checked::new(k, m, limits);
    let mut network = Network {
        now: scenario.clock,
        fates: &scenario.fates,
        sent: &sent,
        next: 0,
        k,
        m,
        groups: vec![GroupLog::default(); groups],
    };

    for hostile in &scenario.hostile {
        for _ in 0..hostile.after % 4 {
            network.carry(&mut clean, &mut mixed);
        }
        network.now = network.now.wrapping_add(u32::from(hostile.wait));
        let datagram = frame(hostile.frame, &hostile.bytes, base);
        mixed.feed(network.now, &datagram);
    }
    while network.next < sent.len() {
        network.carry(&mut clean, &mut mixed);
    }

    for (g, log) in network.groups.iter().enumerate() {
        if log.touched {
            continue;
        }
        let lost = log.dropped.len();
        let lost_data: Vec<&[u8]> = log
            .dropped
            .iter()
            .filter(|&&pos| pos < k)
            .map(|&pos| &sent[g * (k + m) + pos][DATA_OVERHEAD..])
            .collect();
        let rebuilt: Vec<&[u8]> = log.rebuilt.iter().map(Vec::as_slice).collect();
        if lost > m {
            assert!(
                rebuilt.is_empty(),
                "group {g} lost {lost} > {m} shards yet rebuilt some"
            );
        } else if log.span().is_some_and(|span| span <= limits.max_age) {
            // Parity arrives after all the data, so the group becomes recoverable only once
            // every data packet that will ever arrive has: what is missing is what was lost.
            assert_eq!(
                rebuilt, lost_data,
                "group {g}: rebuilt packets differ from the lost ones"
            );
        }
        // Else the group may have been abandoned for its age before it was recoverable.
    }
    if network.groups.iter().all(|log| !log.touched) {
        let stats = clean.decoder.stats();
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
});

/// Frames `groups` full groups of data packets with KCP bytes of the given lengths (a pattern
/// that differs from packet to packet), each group followed by its parity packets.
fn send(encoder: &mut KcpGoEncoder, groups: usize, lens: &[u16], max_shard: usize) -> Vec<Vec<u8>> {
    let k = encoder.code().data_shards();
    let mut sent = Vec::new();
    let mut out = vec![0u8; HEADER_LEN + max_shard];
    for n in 0..groups * k {
        let len = lens.get(n % lens.len().max(1)).copied().unwrap_or(100);
        // The shard is the size field and the KCP bytes; it must fit the receiver's limit.
        let len = usize::from(len) % (max_shard - SIZE_LEN + 1);
        let mut packet = vec![0u8; DATA_OVERHEAD + len];
        for (i, byte) in packet[DATA_OVERHEAD..].iter_mut().enumerate() {
            *byte = ((n * 1000 + i) % 251) as u8;
        }
        encoder.encode_data(&mut packet);
        sent.push(packet);
        while let Some(len) = encoder.next_parity(&mut out) {
            sent.push(out[..len].to_vec());
        }
    }
    assert!(!encoder.has_parity(), "every group was written out");
    sent
}

/// Writes a kcp-go header over the start of `bytes` (zero-padded to hold it).
fn frame(frame: Frame, bytes: &[u8], base: u32) -> Vec<u8> {
    let mut datagram = bytes.to_vec();
    let (offset, flag) = match frame {
        Frame::AsIs => return datagram,
        Frame::Data { offset, .. } => (offset, FLAG_DATA),
        Frame::Parity { offset } => (offset, FLAG_PARITY),
    };
    let min = if flag == FLAG_DATA {
        DATA_OVERHEAD
    } else {
        HEADER_LEN
    };
    if datagram.len() < min {
        datagram.resize(min, 0);
    }
    datagram[0..4].copy_from_slice(&base.wrapping_add(u32::from(offset)).to_le_bytes());
    datagram[4..6].copy_from_slice(&flag.to_le_bytes());
    if let Frame::Data { fit: true, .. } = frame {
        let size = u16::try_from(datagram.len() - HEADER_LEN).unwrap_or(u16::MAX);
        datagram[HEADER_LEN..DATA_OVERHEAD].copy_from_slice(&size.to_le_bytes());
    }
    datagram
}

/// What happened to one of the sender's groups on the way to the clean decoder.
#[derive(Clone, Default)]
struct GroupLog {
    /// Positions of the packets lost, in order.
    dropped: Vec<usize>,
    /// Some packet of the group arrived damaged.
    touched: bool,
    /// When its first and last packets reached the decoder.
    first: Option<u32>,
    last: u32,
    /// KCP bytes the clean decoder rebuilt while taking this group's packets.
    rebuilt: Vec<Vec<u8>>,
}

impl GroupLog {
    fn span(&self) -> Option<u32> {
        self.first.map(|first| self.last.wrapping_sub(first))
    }
}

/// The sender's packets on their way, one at a time, with the fates the input gave them.
struct Network<'a> {
    now: u32,
    fates: &'a [Fate],
    sent: &'a [Vec<u8>],
    next: usize,
    k: usize,
    m: usize,
    groups: Vec<GroupLog>,
}

impl Network<'_> {
    /// Lets the next packet meet its fate; if it arrives, both decoders take it.
    fn carry(&mut self, clean: &mut Checked, mixed: &mut Checked) {
        let Some(packet) = self.sent.get(self.next) else {
            return;
        };
        let n = self.next;
        self.next += 1;
        let log = &mut self.groups[n / (self.k + self.m)];
        let position = n % (self.k + self.m);
        let mut datagram = packet.clone();
        // Every packet is longer than its header: data carry a size field, parity a shard of
        // at least that.
        let body = datagram.len() - HEADER_LEN;
        let wait = match self
            .fates
            .get(n)
            .copied()
            .unwrap_or(Fate::Deliver { wait: 0 })
        {
            Fate::Deliver { wait } => wait,
            Fate::Drop => {
                log.dropped.push(position);
                return;
            }
            Fate::Corrupt { wait, at, xor } => {
                datagram[HEADER_LEN + usize::from(at) % body] ^= xor.max(1);
                log.touched = true;
                wait
            }
            Fate::Truncate { wait, keep } => {
                datagram.truncate(HEADER_LEN + usize::from(keep) % body);
                log.touched = true;
                wait
            }
        };
        self.now = self.now.wrapping_add(u32::from(wait));
        log.first.get_or_insert(self.now);
        log.last = self.now;
        // The header is intact, so whatever the clean decoder rebuilds now is of this group.
        log.rebuilt.extend(clean.feed(self.now, &datagram));
        mixed.feed(self.now, &datagram);
    }
}

/// A decoder and what it was fed, checked after every datagram.
struct Checked {
    decoder: KcpGoDecoder,
    limits: Limits,
    data_in: u64,
    parity_in: u64,
    rebuilt: u64,
}

impl Checked {
    fn new(k: usize, m: usize, limits: Limits) -> Checked {
        Checked {
            decoder: KcpGoDecoder::new(k, m, limits).expect("a valid geometry"),
            limits,
            data_in: 0,
            parity_in: 0,
            rebuilt: 0,
        }
    }

    /// Feeds one datagram and returns the KCP bytes it rebuilt.
    fn feed(&mut self, now: u32, datagram: &[u8]) -> Vec<Vec<u8>> {
        let packet = Packet::parse(datagram);
        match packet {
            Packet::Raw(raw) => assert_eq!(raw, datagram, "a raw packet is the whole datagram"),
            Packet::Data { shard, .. } | Packet::Parity { shard, .. } => {
                assert_eq!(
                    shard,
                    &datagram[HEADER_LEN..],
                    "the shard follows the header"
                );
            }
        }
        let mut rebuilt = Vec::new();
        let most = self.limits.max_shard_len - SIZE_LEN;
        let result = self.decoder.input(now, packet, &mut |kcp| {
            assert!(
                kcp.len() <= most,
                "rebuilt {} bytes, more than a shard holds",
                kcp.len()
            );
            rebuilt.push(kcp.to_vec());
        });
        match packet {
            Packet::Raw(_) => assert_eq!(result, Ok(None), "raw packets are not looked at"),
            Packet::Parity { .. } => {
                self.parity_in += 1;
                assert_eq!(result, Ok(None), "parity has no KCP bytes of its own");
            }
            Packet::Data { shard, .. } => {
                self.data_in += 1;
                // `[size u16][KCP bytes]`, size counting itself: anything else is malformed.
                let size = match *shard {
                    [a, b, ..] => usize::from(u16::from_le_bytes([a, b])),
                    _ => 0,
                };
                if (SIZE_LEN..=shard.len()).contains(&size) {
                    let kcp = result.expect("a data packet with a possible size is accepted");
                    let kcp = kcp.expect("a data packet has KCP bytes");
                    assert_eq!(kcp.len(), size - SIZE_LEN, "not the declared length");
                    assert!(DATA_OVERHEAD + kcp.len() <= datagram.len());
                    assert_eq!(kcp, &datagram[DATA_OVERHEAD..DATA_OVERHEAD + kcp.len()]);
                } else {
                    assert_eq!(
                        result,
                        Err(Malformed),
                        "size {size} in a {}-byte shard",
                        shard.len()
                    );
                }
            }
        }
        self.rebuilt += rebuilt.len() as u64;

        let groups = self.decoder.groups();
        assert!(
            groups.len() <= self.limits.max_groups,
            "{} groups remembered",
            groups.len()
        );
        assert!(groups.open_groups() <= groups.len());
        let stats = self.decoder.stats();
        assert_eq!(stats.data_shards_in, self.data_in);
        assert_eq!(stats.parity_shards_in, self.parity_in);
        assert_eq!(
            stats.recovered, self.rebuilt,
            "every rebuilt packet is counted"
        );
        let shards = self.data_in + self.parity_in;
        // A shard is dropped for one reason at most.
        assert!(
            stats.malformed + stats.late + stats.duplicate <= shards,
            "{stats:?}"
        );
        // A group is rebuilt once, from at least as many parity shards as it misses data
        // shards; a failed rebuild counts one error per attempt.
        assert!(
            stats.recovered + stats.errors <= self.parity_in,
            "{stats:?}"
        );
        // Each abandoned group was opened by a shard.
        assert!(stats.abandoned_groups <= shards, "{stats:?}");
        assert_eq!(stats.parity_shards_out, 0, "a decoder sends nothing");
        assert_eq!(
            stats.groups_closed_by_deadline, 0,
            "kcp-go groups have no deadline"
        );
        rebuilt
    }
}
