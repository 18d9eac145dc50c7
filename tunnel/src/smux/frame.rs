//! smux frame headers: `ver u8 | cmd u8 | length u16 LE | stream id u32 LE`, then `length`
//! payload bytes.

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 8;

/// Payload bytes of an `UPD` frame: consumed u32 LE, window u32 LE.
pub const UPD_LEN: usize = 8;

/// Largest payload a frame can carry (the length field is 16 bits).
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

/// A frame's command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Opens a stream (no payload).
    Syn,
    /// Ends the sender's direction of a stream (no payload).
    Fin,
    /// Stream data.
    Psh,
    /// Keepalive, stream id 0 (no payload).
    Nop,
    /// v2 flow control: the reader's consumed bytes and window.
    Upd,
    /// This project's extension, used only between two `kcp-tunnel`s in native mode: the
    /// stream was aborted (the TCP connection was reset); neither side sends or reads more.
    Rst,
}

impl Cmd {
    /// The command's byte on the wire.
    pub fn byte(self) -> u8 {
        match self {
            Cmd::Syn => 0,
            Cmd::Fin => 1,
            Cmd::Psh => 2,
            Cmd::Nop => 3,
            Cmd::Upd => 4,
            Cmd::Rst => 5,
        }
    }

    /// The command for a byte, if it is one.
    pub fn from_byte(byte: u8) -> Option<Cmd> {
        Some(match byte {
            0 => Cmd::Syn,
            1 => Cmd::Fin,
            2 => Cmd::Psh,
            3 => Cmd::Nop,
            4 => Cmd::Upd,
            5 => Cmd::Rst,
            _ => return None,
        })
    }
}

/// A decoded frame header. The command byte is kept raw: which commands are valid depends on
/// the session's version and extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Protocol version (1 or 2).
    pub version: u8,
    /// Command byte.
    pub cmd: u8,
    /// Payload length.
    pub length: u16,
    /// Stream id.
    pub stream: u32,
}

impl Header {
    /// Reads a header from its 8 bytes.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Header {
        Header {
            version: bytes[0],
            cmd: bytes[1],
            length: u16::from_le_bytes([bytes[2], bytes[3]]),
            stream: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        }
    }

    /// The header's 8 bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0; HEADER_LEN];
        bytes[0] = self.version;
        bytes[1] = self.cmd;
        bytes[2..4].copy_from_slice(&self.length.to_le_bytes());
        bytes[4..8].copy_from_slice(&self.stream.to_le_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_kcptun_capture() {
        // smux v1 SYN for stream 3, from the spec's capture of kcptun's first segment.
        let syn = [0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00];
        let header = Header::decode(&syn);
        assert_eq!(
            header,
            Header {
                version: 1,
                cmd: Cmd::Syn.byte(),
                length: 0,
                stream: 3
            }
        );
        assert_eq!(header.encode(), syn);
        // v2 UPD with an 8-byte payload.
        let upd = [0x02, 0x04, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00];
        assert_eq!(Header::decode(&upd).length, 8);
        assert_eq!(Cmd::from_byte(4), Some(Cmd::Upd));
    }

    #[test]
    fn every_command_round_trips_and_others_are_refused() {
        for byte in 0..=255u8 {
            match Cmd::from_byte(byte) {
                Some(cmd) => assert_eq!(cmd.byte(), byte),
                None => assert!(byte > 5),
            }
        }
    }
}
