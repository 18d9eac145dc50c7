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

mod fec_shared;

use fec_shared::{Arrivals, Damage, Tally};
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
    /// Longest shard accepted: `2 + 6 * max_shard_len` bytes, at least 3 (3..=1532).
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
    let limits = fec_shared::limits(
        1 + usize::from(scenario.max_groups % 8),
        scenario.max_age,
        scenario.max_shard_len,
    );
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
        if log.arrivals.touched {
            continue;
        }
        let lost_data: Vec<&[u8]> = log
            .dropped
            .iter()
            .filter(|&&pos| pos < k)
            .map(|&pos| &sent[g * (k + m) + pos][DATA_OVERHEAD..])
            .collect();
        log.arrivals
            .check_rebuilt(g, log.dropped.len(), m, &lost_data, limits.max_age);
    }
    if network.groups.iter().all(|log| !log.arrivals.touched) {
        fec_shared::check_undamaged(clean.decoder.stats());
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
        let mut packet = vec![0u8; DATA_OVERHEAD];
        packet.extend(fec_shared::kcp_bytes(
            n,
            fec_shared::kcp_len(len, max_shard),
        ));
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
        fec_shared::fit_size_field(&mut datagram, HEADER_LEN);
    }
    datagram
}

/// What happened to one of the sender's groups on the way to the clean decoder.
#[derive(Clone, Default)]
struct GroupLog {
    /// Positions of the packets lost, in order.
    dropped: Vec<usize>,
    /// How the rest of its packets reached the clean decoder.
    arrivals: Arrivals,
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
        let (wait, damage) = match self
            .fates
            .get(n)
            .copied()
            .unwrap_or(Fate::Deliver { wait: 0 })
        {
            Fate::Deliver { wait } => (wait, None),
            Fate::Drop => {
                log.dropped.push(position);
                return;
            }
            Fate::Corrupt { wait, at, xor } => (wait, Some(Damage::Corrupt { at, xor })),
            Fate::Truncate { wait, keep } => (wait, Some(Damage::Truncate { keep })),
        };
        if let Some(damage) = damage {
            damage.apply(&mut datagram, HEADER_LEN);
            log.arrivals.touched = true;
        }
        self.now = self.now.wrapping_add(u32::from(wait));
        log.arrivals
            .arrived(self.now, clean.feed(self.now, &datagram));
        mixed.feed(self.now, &datagram);
    }
}

/// A decoder and what it was fed, checked after every datagram.
struct Checked {
    decoder: KcpGoDecoder,
    max_groups: usize,
    tally: Tally,
}

impl Checked {
    fn new(k: usize, m: usize, limits: Limits) -> Checked {
        Checked {
            decoder: KcpGoDecoder::new(k, m, limits).expect("a valid geometry"),
            max_groups: limits.max_groups,
            tally: Tally::new(limits),
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
        let decoder = &mut self.decoder;
        let (result, rebuilt) = self.tally.input(|sink| decoder.input(now, packet, sink));
        match packet {
            Packet::Raw(_) => assert_eq!(result, Ok(None), "raw packets are not looked at"),
            Packet::Parity { .. } => {
                self.tally.parity_in += 1;
                assert_eq!(result, Ok(None), "parity has no KCP bytes of its own");
            }
            Packet::Data { shard, .. } => {
                self.tally.data_in += 1;
                if let Some(size) = fec_shared::declared_size(shard) {
                    let kcp = result.expect("a data packet with a possible size is accepted");
                    let kcp = kcp.expect("a data packet has KCP bytes");
                    assert_eq!(kcp.len() + SIZE_LEN, size, "not the declared length");
                    assert!(DATA_OVERHEAD + kcp.len() <= datagram.len());
                    assert_eq!(kcp, &datagram[DATA_OVERHEAD..DATA_OVERHEAD + kcp.len()]);
                } else {
                    assert_eq!(
                        result,
                        Err(Malformed),
                        "impossible size field in a {}-byte shard",
                        shard.len()
                    );
                }
            }
        }

        let groups = self.decoder.groups();
        assert!(
            groups.len() <= self.max_groups,
            "{} groups remembered",
            groups.len()
        );
        assert!(groups.open_groups() <= groups.len());
        // Raw packets are not looked at, so only shards can be dropped.
        let shards = self.tally.data_in + self.tally.parity_in;
        self.tally.check(self.decoder.stats(), shards);
        rebuilt
    }
}
