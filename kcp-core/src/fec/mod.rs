//! Reed-Solomon forward error correction: kcp-go's framing, and a time-bounded native framing.
//!
//! A group of *data shards* (datagrams as the ARQ wrote them) is followed by *parity shards*
//! computed over them; a receiver that misses up to as many data shards as it has parity shards
//! rebuilds the missing ones without waiting for a retransmission.
//!
//! Two framings share the code (the field arithmetic and kernels in [`galois`], the encoding and
//! decoding matrices in `matrix`, the bounded group table in [`groups`]):
//!
//! * **kcp-go** ([`KcpGoEncoder`], [`KcpGoDecoder`]) — byte for byte what kcp-go 5.6.1 and
//!   kcptun put on the wire. Fixed `(data, parity)` geometry; parity leaves only once a group
//!   has all its data shards, however long that takes. See [`kcpgo`] for the layout.
//! * **native** ([`NativeFec`]) — groups close after a deadline (a
//!   fraction of the RTT) with however many data shards they have, and the number of parity
//!   shards follows the loss the peer reports. Built for game traffic, where a packet every
//!   20 ms would wait 200 ms for a kcp-go group to fill. See [`native`] for the design.
//!
//! Neither framing trusts its input: every shard is checked before it is stored, the group
//! table is bounded in count and age, and every shard that is dropped is counted in
//! [`FecStats`].
//!
//! The code is kcp-go's: GF(2^8) with polynomial 0x11D and the systematic matrix derived from a
//! Vandermonde matrix (klauspost/reedsolomon's construction), built here. Encoding and
//! rebuilding run through [`galois::Kernel`]: an AVX2 kernel (detected at run time) or a
//! portable nibble-table one.

pub mod galois;
pub mod groups;
pub mod kcpgo;
mod matrix;
pub mod native;
mod stats;

pub use kcpgo::{KcpGoDecoder, KcpGoEncoder};
pub use native::{NativeConfig, NativeFec};
pub use stats::FecStats;

use core::fmt;

/// Bytes of the length prefix inside every data shard: the shard is `[size u16 LE][payload]`,
/// with `size = 2 + payload length`, so a rebuilt shard (zero-padded) knows its own length.
pub const SIZE_LEN: usize = 2;

/// The largest number of shards (data + parity) in a group: the code works in GF(2^8).
pub const MAX_SHARDS: usize = 256;

/// An FEC setting that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FecConfigError {
    /// No data shards, or no parity shards.
    Empty,
    /// More than [`MAX_SHARDS`] shards in a group.
    TooManyShards,
    /// A group table with room for no group, or for no shard byte.
    NoRoom,
    /// A native deadline range whose shortest is longer than its longest.
    Deadlines,
    /// A native loss threshold or residual target outside 0..=1.
    Probability,
}

impl fmt::Display for FecConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FecConfigError::Empty => {
                f.write_str("FEC needs at least one data and one parity shard")
            }
            FecConfigError::TooManyShards => {
                write!(
                    f,
                    "FEC groups hold at most {MAX_SHARDS} shards (data + parity)"
                )
            }
            FecConfigError::NoRoom => {
                f.write_str("the FEC group table needs room for a group and its shards")
            }
            FecConfigError::Deadlines => {
                f.write_str("the shortest FEC group deadline is longer than the longest")
            }
            FecConfigError::Probability => {
                f.write_str("FEC loss threshold and residual target must lie in 0..=1")
            }
        }
    }
}

impl std::error::Error for FecConfigError {}

/// A datagram whose FEC framing cannot be right (bad kind, size field or length). It is
/// counted in [`FecStats::malformed`] and must be dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed FEC framing")
    }
}

impl std::error::Error for Malformed {}

/// Checks a `(data, parity)` shard count pair.
pub fn check_geometry(data: usize, parity: usize) -> Result<(), FecConfigError> {
    if data == 0 || parity == 0 {
        return Err(FecConfigError::Empty);
    }
    if data + parity > MAX_SHARDS {
        return Err(FecConfigError::TooManyShards);
    }
    Ok(())
}

/// Reads the payload of a data shard `[size u16 LE][payload][zero padding]`; `None` if the size
/// field is out of range (a corrupt, forged or wrongly rebuilt shard).
pub fn shard_payload(shard: &[u8]) -> Option<&[u8]> {
    let size = u16::from_le_bytes([*shard.first()?, *shard.get(1)?]) as usize;
    if size < SIZE_LEN {
        return None;
    }
    shard.get(SIZE_LEN..size)
}
