//! The KCP segment header on the wire: the only place that knows byte offsets.
//!
//! A KCP datagram is one or more segments packed back to back, each a 24-byte header followed
//! by `len` payload bytes. Every integer is little-endian:
//!
//! ```text
//! 0      4     5     6      8      12     16     20     24
//! | conv | cmd | frg | wnd  |  ts  |  sn  | una  | len  | payload (len bytes) ...
//! ```
//!
//! Decoding never panics: [`Segments`] walks a datagram and yields a [`DecodeError`] for the
//! first segment that is truncated or carries an unknown command. Encoding writes into a
//! caller's buffer.

use std::fmt;

/// Bytes in a segment header (`IKCP_OVERHEAD` in the reference code).
pub const HEADER_LEN: usize = 24;

/// Offset of the `sn` field inside a header (`IKCP_SN_OFFSET`), for demultiplexers that peek.
pub const SN_OFFSET: usize = 12;

/// What a segment asks of its receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Command {
    /// Data: carries `sn`, `frg` and a payload.
    Push = 81,
    /// Selective acknowledgement of exactly one `sn`, echoing the `ts` of the push it saw.
    Ack = 82,
    /// Window probe: "tell me your receive window".
    WindowAsk = 83,
    /// Window tell: carries only `wnd`.
    WindowTell = 84,
}

impl Command {
    /// The command for a wire byte, or `None` for a byte no KCP peer sends.
    pub fn from_byte(byte: u8) -> Option<Command> {
        match byte {
            81 => Some(Command::Push),
            82 => Some(Command::Ack),
            83 => Some(Command::WindowAsk),
            84 => Some(Command::WindowTell),
            _ => None,
        }
    }
}

/// One decoded segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Conversation id; both peers use the same one.
    pub conv: u32,
    /// What the segment is.
    pub cmd: Command,
    /// Fragment countdown in message mode (the last piece of a message has 0); 0 in stream mode.
    pub frg: u8,
    /// The sender's free receive window, in segments.
    pub wnd: u16,
    /// Push: the sender's clock at this transmission. Ack: the `ts` of the push acknowledged.
    pub ts: u32,
    /// Push: sequence number. Ack: the sequence number acknowledged.
    pub sn: u32,
    /// Every sequence number below this has been received by the sender (cumulative ack).
    pub una: u32,
    /// Payload bytes that follow the header.
    pub len: u32,
}

impl Header {
    /// Writes the 24 header bytes at the start of `out`.
    ///
    /// # Panics
    ///
    /// If `out` is shorter than [`HEADER_LEN`]; callers size their buffers from the MTU.
    pub fn encode(&self, out: &mut [u8]) {
        let out = &mut out[..HEADER_LEN];
        out[0..4].copy_from_slice(&self.conv.to_le_bytes());
        out[4] = self.cmd as u8;
        out[5] = self.frg;
        out[6..8].copy_from_slice(&self.wnd.to_le_bytes());
        out[8..12].copy_from_slice(&self.ts.to_le_bytes());
        out[12..16].copy_from_slice(&self.sn.to_le_bytes());
        out[16..20].copy_from_slice(&self.una.to_le_bytes());
        out[20..24].copy_from_slice(&self.len.to_le_bytes());
    }

    /// Decodes the header at the start of `bytes`; the payload is not checked.
    pub fn decode(bytes: &[u8]) -> Result<Header, DecodeError> {
        let h: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(DecodeError::TruncatedHeader {
                available: bytes.len(),
            })?;
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let cmd = Command::from_byte(h[4]).ok_or(DecodeError::UnknownCommand(h[4]))?;
        Ok(Header {
            conv: u32_at(0),
            cmd,
            frg: h[5],
            wnd: u16::from_le_bytes([h[6], h[7]]),
            ts: u32_at(8),
            sn: u32_at(12),
            una: u32_at(16),
            len: u32_at(20),
        })
    }
}

/// Reads the conversation id of a datagram without decoding it (`ikcp_getconv`), for
/// demultiplexing before the datagram reaches a state machine.
pub fn conv_of(datagram: &[u8]) -> Option<u32> {
    let b = datagram.get(..4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Why a datagram could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer than [`HEADER_LEN`] bytes where a header was expected.
    TruncatedHeader {
        /// Bytes that were there.
        available: usize,
    },
    /// The header's `len` runs past the end of the datagram.
    TruncatedPayload {
        /// Payload bytes the header announced.
        len: u32,
        /// Bytes that were left after the header.
        available: usize,
    },
    /// The command byte is not one of the four KCP commands.
    UnknownCommand(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TruncatedHeader { available } => write!(
                f,
                "truncated segment header: {available} of {HEADER_LEN} bytes"
            ),
            DecodeError::TruncatedPayload { len, available } => write!(
                f,
                "segment payload of {len} bytes runs past the datagram ({available} left)"
            ),
            DecodeError::UnknownCommand(cmd) => write!(f, "unknown segment command {cmd}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Whether a datagram carries data (a push segment), rather than only acknowledgements and
/// window updates. Only reads the command bytes; a malformed datagram counts as data.
pub fn carries_data(datagram: &[u8]) -> bool {
    Segments::new(datagram).any(|s| s.map_or(true, |s| s.header.cmd == Command::Push))
}

/// One segment of a datagram: its header and the payload it announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    /// The decoded header.
    pub header: Header,
    /// Exactly `header.len` bytes.
    pub payload: &'a [u8],
}

/// Iterates over the segments packed in one datagram.
///
/// Yields `Err` once, for the first segment that cannot be decoded, and then stops. A tail
/// shorter than a header ends the walk quietly, as in the reference code; [`Segments::trailing`]
/// tells how many such bytes were left over.
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Segments<'a> {
    /// Starts a walk over `datagram`.
    pub fn new(datagram: &'a [u8]) -> Segments<'a> {
        Segments {
            rest: datagram,
            failed: false,
        }
    }

    /// Bytes not yet walked over; after the walk ends cleanly, the ignored tail (< 24 bytes).
    pub fn trailing(&self) -> usize {
        self.rest.len()
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Result<Segment<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.len() < HEADER_LEN {
            return None;
        }
        let result = Header::decode(self.rest).and_then(|header| {
            let body = &self.rest[HEADER_LEN..];
            match usize::try_from(header.len) {
                Ok(len) if len <= body.len() => {
                    let (payload, rest) = body.split_at(len);
                    self.rest = rest;
                    Ok(Segment { header, payload })
                }
                _ => Err(DecodeError::TruncatedPayload {
                    len: header.len,
                    available: body.len(),
                }),
            }
        });
        self.failed = result.is_err();
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            conv: 0x58bb_e343,
            cmd: Command::Push,
            frg: 0,
            wnd: 512,
            ts: 1173,
            sn: 0,
            una: 0,
            len: 8,
        }
    }

    #[test]
    fn encodes_the_captured_kcptun_push_byte_for_byte() {
        // From the spec's §2.9 capture: conv 43e3bb58, PUSH, wnd 512, ts 1173, len 8.
        let mut out = [0u8; HEADER_LEN];
        sample().encode(&mut out);
        let expected = [
            0x43, 0xe3, 0xbb, 0x58, 0x51, 0x00, 0x00, 0x02, 0x95, 0x04, 0x00, 0x00, 0, 0, 0, 0, 0,
            0, 0, 0, 0x08, 0, 0, 0,
        ];
        assert_eq!(out, expected);
        assert_eq!(Header::decode(&out), Ok(sample()));
    }

    #[test]
    fn walks_packed_segments_and_ignores_a_short_tail() {
        let mut dgram = vec![0u8; 2 * HEADER_LEN + 8 + 5];
        sample().encode(&mut dgram);
        dgram[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(b"payload!");
        let ack = Header {
            cmd: Command::Ack,
            len: 0,
            ..sample()
        };
        ack.encode(&mut dgram[HEADER_LEN + 8..]);
        let mut walk = Segments::new(&dgram);
        let first = walk.next().unwrap().unwrap();
        assert_eq!(first.payload, b"payload!");
        assert_eq!(walk.next().unwrap().unwrap().header, ack);
        assert!(walk.next().is_none());
        assert_eq!(walk.trailing(), 5);
    }

    #[test]
    fn reports_truncation_and_unknown_commands_once() {
        let mut dgram = [0u8; HEADER_LEN + 3];
        sample().encode(&mut dgram);
        let mut walk = Segments::new(&dgram);
        assert_eq!(
            walk.next(),
            Some(Err(DecodeError::TruncatedPayload {
                len: 8,
                available: 3
            }))
        );
        assert_eq!(walk.next(), None);

        dgram[4] = 99;
        assert_eq!(
            Segments::new(&dgram).next(),
            Some(Err(DecodeError::UnknownCommand(99)))
        );
        assert_eq!(
            Header::decode(&dgram[..10]),
            Err(DecodeError::TruncatedHeader { available: 10 })
        );
    }

    #[test]
    fn a_len_near_u32_max_is_truncation_not_overflow() {
        let mut dgram = [0u8; HEADER_LEN];
        Header {
            len: u32::MAX,
            ..sample()
        }
        .encode(&mut dgram);
        assert!(matches!(
            Segments::new(&dgram).next(),
            Some(Err(DecodeError::TruncatedPayload { .. }))
        ));
    }

    #[test]
    fn conv_of_reads_the_first_four_bytes() {
        assert_eq!(conv_of(&[1, 0, 0, 0, 9]), Some(1));
        assert_eq!(conv_of(&[1, 0, 0]), None);
    }
}
