//! Reading a datagram's conversation before it has a session: where kcp-go's listener looks.

use crate::fec::{self, kcpgo, native};
use crate::session::DatagramError;
use crate::session::FecMode;
use crate::wire::{self, DecodeError, Segments};
use crate::InputError;

/// What the opened plaintext of a datagram says about its conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peek<'a> {
    /// Shorter than one segment header: kcp-go's listener ignores it whatever its source.
    Short,
    /// A parity packet, or an FEC data packet too short to hold a header: no conv to read.
    /// Only a session that already exists can use it.
    Opaque,
    /// KCP segments: the conv and sn of the first header, where kcp-go's listener reads them,
    /// and the segment bytes if the framing around them is sound.
    Conv {
        conv: u32,
        sn: u32,
        segments: Option<&'a [u8]>,
    },
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The conv and sn at `at` (a segment header), with the segments of the shard at `shard`.
fn conv_at(plain: &[u8], at: usize, shard: usize) -> Peek<'_> {
    match (u32_at(plain, at), u32_at(plain, at + wire::SN_OFFSET)) {
        (Some(conv), Some(sn)) if plain.len() >= at + wire::HEADER_LEN => Peek::Conv {
            conv,
            sn,
            segments: plain.get(shard..).and_then(fec::shard_payload),
        },
        _ => Peek::Opaque,
    }
}

/// Reads the conv of `plain` (a datagram after the protection header) framed as `fec` says.
///
/// kcp-go's framing (`Off` and `KcpGo`, which accept each other's datagrams): the u16 at
/// offset 4 tells an FEC data packet (0xF1: conv after the 8-byte FEC header and size field)
/// and a parity packet (0xF2) from bare segments (a command byte is there). The native
/// framing puts its kind at offset 4 too (plain and data packets carry segments after 10
/// bytes). The conv and sn are read at fixed offsets, as kcp-go does, whatever the size field
/// says; the size field only decides `segments`.
pub(crate) fn peek<'a>(fec: &FecMode, plain: &'a [u8]) -> Peek<'a> {
    if plain.len() < wire::HEADER_LEN {
        return Peek::Short;
    }
    match fec {
        FecMode::Off | FecMode::KcpGo { .. } => match u16::from_le_bytes([plain[4], plain[5]]) {
            kcpgo::FLAG_DATA => conv_at(plain, kcpgo::DATA_OVERHEAD, kcpgo::HEADER_LEN),
            kcpgo::FLAG_PARITY => Peek::Opaque,
            _ => Peek::Conv {
                conv: u32_at(plain, 0).unwrap_or(0),
                sn: u32_at(plain, wire::SN_OFFSET).unwrap_or(0),
                segments: Some(plain),
            },
        },
        // Kinds 0 (plain) and 1 (data) carry segments; 2 (parity) and anything else do not.
        FecMode::Native(_) => match plain[4] {
            0 | 1 => conv_at(plain, native::DATA_OVERHEAD, native::HEADER_LEN),
            _ => Peek::Opaque,
        },
    }
}

/// Whether `segments` would pass the ARQ's first check for conversation `conv` (every header
/// decodes, fits, and names `conv`), with the error the session would give if not. Checked
/// before a session is built for a stranger, so that garbage costs a walk over its bytes and
/// no allocation.
pub(crate) fn plausible(segments: Option<&[u8]>, conv: u32) -> Result<(), DatagramError> {
    let segments = segments.ok_or(DatagramError::Framing)?;
    if segments.len() < wire::HEADER_LEN {
        return Err(DatagramError::Arq(InputError::Malformed(
            DecodeError::TruncatedHeader {
                available: segments.len(),
            },
        )));
    }
    for segment in Segments::new(segments) {
        match segment {
            Err(e) => return Err(DatagramError::Arq(InputError::Malformed(e))),
            Ok(s) if s.header.conv != conv => {
                return Err(DatagramError::Arq(InputError::WrongConversation {
                    expected: conv,
                    found: s.header.conv,
                }))
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Command, Header};

    fn segment(conv: u32, sn: u32) -> Vec<u8> {
        let mut out = vec![0; wire::HEADER_LEN];
        Header {
            conv,
            cmd: Command::Push,
            frg: 0,
            wnd: 32,
            ts: 7,
            sn,
            una: 0,
            len: 0,
        }
        .encode(&mut out);
        out
    }

    #[test]
    fn reads_bare_and_framed_kcp_go_datagrams() {
        let bare = segment(0xabcd, 5);
        let kcpgo = FecMode::KcpGo {
            data: 10,
            parity: 3,
        };
        for fec in [FecMode::Off, kcpgo.clone()] {
            assert_eq!(
                peek(&fec, &bare),
                Peek::Conv {
                    conv: 0xabcd,
                    sn: 5,
                    segments: Some(&bare[..])
                }
            );
        }
        let mut framed = vec![9, 0, 0, 0, 0xf1, 0, 26, 0];
        framed.extend_from_slice(&bare);
        assert_eq!(
            peek(&kcpgo, &framed),
            Peek::Conv {
                conv: 0xabcd,
                sn: 5,
                segments: Some(&bare[..])
            }
        );
        framed[6] = 200; // the size field runs past the end: conv still read, as kcp-go does
        assert!(matches!(
            peek(&kcpgo, &framed),
            Peek::Conv {
                conv: 0xabcd,
                segments: None,
                ..
            }
        ));
        framed[4] = 0xf2;
        assert_eq!(peek(&kcpgo, &framed), Peek::Opaque);
        assert_eq!(peek(&kcpgo, &framed[..30]), Peek::Opaque);
        assert_eq!(peek(&kcpgo, &bare[..23]), Peek::Short);
    }

    #[test]
    fn plausible_wants_whole_segments_of_one_conv() {
        let mut two = segment(1, 0);
        two.extend_from_slice(&segment(1, 1));
        assert_eq!(plausible(Some(&two), 1), Ok(()));
        let wrong = InputError::WrongConversation {
            expected: 2,
            found: 1,
        };
        assert_eq!(plausible(Some(&two), 2), Err(DatagramError::Arq(wrong)));
        two.extend_from_slice(&segment(2, 2));
        assert!(plausible(Some(&two), 1).is_err());
        assert!(plausible(Some(&two[..10]), 1).is_err());
        assert_eq!(plausible(None, 1), Err(DatagramError::Framing));
        let mut bad = segment(1, 0);
        bad[4] = 99;
        assert_eq!(
            plausible(Some(&bad), 1),
            Err(DatagramError::Arq(InputError::Malformed(
                DecodeError::UnknownCommand(99)
            )))
        );
    }
}
