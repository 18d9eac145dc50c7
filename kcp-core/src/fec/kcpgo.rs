//! kcp-go's FEC framing (5.6.1, unchanged through HEAD for data and parity), byte for byte.
//!
//! ```text
//! data   : [seqid u32][0xF1 0x00][size u16 = 2 + n][n bytes of KCP segments]
//! parity : [seqid u32][0xF2 0x00][parity over the data shards, L bytes]
//! ```
//!
//! One `seqid` counter per direction numbers data and parity alike. Groups are `data + parity`
//! consecutive seqids: positions `0..data` carry data, the rest parity. The *shard* of a data
//! packet is everything from its size field on; parity is computed over the group's shards
//! zero-padded to the longest, `L`. The counter wraps to 0 at the largest multiple of the group
//! size below 2^32, and only after a parity packet, so groups never straddle the wrap.
//!
//! The receiver tells FEC packets from bare KCP by the u16 at offset 4 (a KCP header has its
//! command byte, 81-84, there). kcp-go feeds data packets to the ARQ at once and rebuilds lost
//! ones when enough shards of their group have arrived.

use super::galois::Code;
use super::groups::{GroupTable, Limits, Placement};
use super::{FecConfigError, FecStats, Malformed, SIZE_LEN};

/// Bytes of the FEC header: seqid and flag.
pub const HEADER_LEN: usize = 6;
/// Bytes in front of the KCP segments of a data packet: header and size field.
pub const DATA_OVERHEAD: usize = HEADER_LEN + SIZE_LEN;
/// Flag of a data packet.
pub const FLAG_DATA: u16 = 0xF1;
/// Flag of a parity packet.
pub const FLAG_PARITY: u16 = 0xF2;

/// What a datagram's plaintext (after any crypto header) carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// KCP segments without FEC framing.
    Raw(&'a [u8]),
    /// An FEC data packet: its seqid and its shard (`[size u16][KCP bytes]`).
    Data {
        /// The packet's seqid.
        seqid: u32,
        /// From the size field to the end.
        shard: &'a [u8],
    },
    /// An FEC parity packet.
    Parity {
        /// The packet's seqid.
        seqid: u32,
        /// The parity bytes.
        shard: &'a [u8],
    },
}

impl<'a> Packet<'a> {
    /// Classifies a plaintext the way kcp-go does: by the flag at offset 4.
    pub fn parse(plain: &'a [u8]) -> Packet<'a> {
        let (Some(seqid), Some(flag), Some(shard)) =
            (plain.get(0..4), plain.get(4..6), plain.get(HEADER_LEN..))
        else {
            return Packet::Raw(plain);
        };
        let seqid = u32::from_le_bytes(seqid.try_into().expect("4 bytes"));
        match u16::from_le_bytes([flag[0], flag[1]]) {
            FLAG_DATA => Packet::Data { seqid, shard },
            FLAG_PARITY => Packet::Parity { seqid, shard },
            _ => Packet::Raw(plain),
        }
    }
}

/// The seqid after which the counter wraps to 0: the largest multiple of the group size that
/// fits in a u32.
fn wrap_point(group: usize) -> u32 {
    (u32::MAX / group as u32) * group as u32
}

/// Frames outgoing datagrams as kcp-go data packets and computes parity as they pass, so no
/// copy of the data is kept; parity packets are ready once a group's last data packet is framed.
#[derive(Debug)]
pub struct KcpGoEncoder {
    code: Code,
    next_seqid: u32,
    wrap: u32,
    /// Data packets framed in the current group.
    filled: usize,
    /// Running parity of the current group; each as long as the longest shard so far.
    parity: Vec<Vec<u8>>,
    /// Parity packets of a finished group not yet written out.
    pending: usize,
}

impl KcpGoEncoder {
    /// An encoder for `data + parity` groups.
    pub fn new(data: usize, parity: usize) -> Result<KcpGoEncoder, FecConfigError> {
        Ok(KcpGoEncoder::with_code(Code::new(data, parity)?))
    }

    /// The same on a given code (tests pick the kernel).
    pub fn with_code(code: Code) -> KcpGoEncoder {
        let group = code.data_shards() + code.parity_shards();
        KcpGoEncoder {
            parity: vec![Vec::new(); code.parity_shards()],
            code,
            next_seqid: 0,
            wrap: wrap_point(group),
            filled: 0,
            pending: 0,
        }
    }

    /// The code in use.
    pub fn code(&self) -> &Code {
        &self.code
    }

    /// The seqid the next packet gets.
    pub fn next_seqid(&self) -> u32 {
        self.next_seqid
    }

    /// Starts the counter elsewhere (tests of the wrap); it is moved to the start of its group.
    pub fn set_next_seqid(&mut self, seqid: u32) {
        let group = (self.code.data_shards() + self.code.parity_shards()) as u32;
        self.next_seqid = (seqid % self.wrap) / group * group;
        self.filled = 0;
        self.pending = 0;
        self.parity.iter_mut().for_each(Vec::clear);
    }

    /// Frames a data packet in place: `packet` is [`DATA_OVERHEAD`] bytes of room followed by
    /// KCP segments. Write out [`KcpGoEncoder::next_parity`] until it returns `None` before the
    /// next data packet.
    ///
    /// # Panics
    ///
    /// If `packet` has no room for the header or is longer than 65 535 bytes, or if parity
    /// packets are still pending.
    pub fn encode_data(&mut self, packet: &mut [u8]) {
        assert_eq!(self.pending, 0, "write out pending parity first");
        assert!(packet.len() >= DATA_OVERHEAD && packet.len() - HEADER_LEN <= u16::MAX as usize);
        let size = (packet.len() - HEADER_LEN) as u16;
        packet[0..4].copy_from_slice(&self.next_seqid.to_le_bytes());
        packet[4..6].copy_from_slice(&FLAG_DATA.to_le_bytes());
        packet[6..8].copy_from_slice(&size.to_le_bytes());
        self.next_seqid += 1;
        let shard = &packet[HEADER_LEN..];
        for out in &mut self.parity {
            if out.len() < shard.len() {
                out.resize(shard.len(), 0);
            }
        }
        self.code.accumulate(self.filled, shard, &mut self.parity);
        self.filled += 1;
        if self.filled == self.code.data_shards() {
            self.filled = 0;
            self.pending = self.code.parity_shards();
        }
    }

    /// Whether parity packets are waiting to be written out.
    pub fn has_parity(&self) -> bool {
        self.pending > 0
    }

    /// The length of the next parity packet, if one is pending.
    pub fn next_parity_len(&self) -> Option<usize> {
        let j = self.code.parity_shards().checked_sub(self.pending)?;
        self.parity.get(j).map(|p| HEADER_LEN + p.len())
    }

    /// Writes the next pending parity packet into `out` and returns its length.
    ///
    /// # Panics
    ///
    /// If `out` is shorter than [`KcpGoEncoder::next_parity_len`].
    pub fn next_parity(&mut self, out: &mut [u8]) -> Option<usize> {
        let len = self.next_parity_len()?;
        let j = self.code.parity_shards() - self.pending;
        out[0..4].copy_from_slice(&self.next_seqid.to_le_bytes());
        out[4..6].copy_from_slice(&FLAG_PARITY.to_le_bytes());
        out[HEADER_LEN..len].copy_from_slice(&self.parity[j]);
        self.parity[j].clear();
        self.next_seqid = (self.next_seqid + 1) % self.wrap;
        self.pending -= 1;
        Some(len)
    }
}

/// Limits of a kcp-go decoder's group table by default: kcp-go keeps three groups' worth of
/// shards; one more absorbs reordering across a group boundary.
pub const DEFAULT_MAX_GROUPS: usize = 4;

/// Rebuilds lost kcp-go data packets from parity.
#[derive(Debug)]
pub struct KcpGoDecoder {
    data: usize,
    parity: usize,
    wrap: u32,
    table: GroupTable,
    stats: FecStats,
}

impl KcpGoDecoder {
    /// A decoder for `data + parity` groups, keeping at most `limits.max_groups` groups.
    pub fn new(data: usize, parity: usize, limits: Limits) -> Result<KcpGoDecoder, FecConfigError> {
        super::check_geometry(data, parity)?;
        Ok(KcpGoDecoder {
            data,
            parity,
            wrap: wrap_point(data + parity),
            table: GroupTable::new(limits)?,
            stats: FecStats::default(),
        })
    }

    /// Counters.
    pub fn stats(&self) -> &FecStats {
        &self.stats
    }

    /// Groups remembered (see [`GroupTable`]).
    pub fn groups(&self) -> &GroupTable {
        &self.table
    }

    /// Takes an FEC packet. For a data packet, returns its KCP bytes, which the caller feeds
    /// to the ARQ at once (kcp-go does the same); for parity, `None`. Rebuilt data packets' KCP
    /// bytes go to `recovered`. A data packet with an impossible size field is counted and
    /// rejected; a [`Packet::Raw`] gives `None` and is not looked at.
    pub fn input<'a>(
        &mut self,
        now: u32,
        packet: Packet<'a>,
        recovered: &mut dyn FnMut(&[u8]),
    ) -> Result<Option<&'a [u8]>, Malformed> {
        let (seqid, shard, is_data) = match packet {
            Packet::Raw(_) => return Ok(None),
            Packet::Data { seqid, shard } => (seqid, shard, true),
            Packet::Parity { seqid, shard } => (seqid, shard, false),
        };
        if is_data {
            self.stats.data_shards_in += 1;
        } else {
            self.stats.parity_shards_in += 1;
        }
        let payload = if is_data {
            match super::shard_payload(shard) {
                Some(payload) => Some(payload),
                None => {
                    self.stats.malformed += 1;
                    return Err(Malformed);
                }
            }
        } else {
            None
        };
        if seqid >= self.wrap {
            // Not a seqid kcp-go sends; its data still goes to the ARQ, which checks it.
            self.stats.malformed += 1;
            return Ok(payload);
        }
        let group = self.data + self.parity;
        let at = Placement {
            group: seqid - seqid % group as u32,
            index: (seqid % group as u32) as usize,
            geometry: Some((self.data, self.parity)),
        };
        // Only the declared bytes are kept, so a rebuilt shard matches what the sender encoded.
        let shard = match payload {
            Some(p) => &shard[..SIZE_LEN + p.len()],
            None => shard,
        };
        self.table
            .insert(now, at, is_data, shard, &mut self.stats, recovered);
        Ok(payload)
    }
}
