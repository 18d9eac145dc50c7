//! The plaintext of sealed control datagrams (kind [`CONTROL`](super::handshake::kind::CONTROL)).
//!
//! ```text
//! [0] ping                 the peer answers with a pong (liveness, handshake confirmation)
//! [1] pong
//! [2][code u32]            close: the sender has dropped the session
//! [3][data 8]              path challenge: answer from the address it reached
//! [4][data 8]              path response: echoes a challenge's data
//! ```
//!
//! Control datagrams share the session's packet counter and replay window with data, so a
//! replayed close or challenge is refused like any replayed datagram.

use core::fmt;

/// Longest control plaintext.
pub const MAX_LEN: usize = 9;

/// One control message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Asks for a [`Control::Pong`].
    Ping,
    /// Answers a ping.
    Pong,
    /// The sender closed the session, with an application code.
    Close(u32),
    /// Proves the receiver can receive at the address this reached.
    PathChallenge([u8; 8]),
    /// Echoes a challenge's data from the address it reached.
    PathResponse([u8; 8]),
}

/// A control plaintext that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed control message")
    }
}

impl std::error::Error for Malformed {}

impl Control {
    /// Parses a control plaintext; every type has one exact length.
    pub fn parse(plain: &[u8]) -> Result<Control, Malformed> {
        let eight =
            |b: &[u8]| -> Result<[u8; 8], Malformed> { b.try_into().map_err(|_| Malformed) };
        match plain.split_first() {
            Some((0, [])) => Ok(Control::Ping),
            Some((1, [])) => Ok(Control::Pong),
            Some((2, &[a, b, c, d])) => Ok(Control::Close(u32::from_le_bytes([a, b, c, d]))),
            Some((3, rest)) => eight(rest).map(Control::PathChallenge),
            Some((4, rest)) => eight(rest).map(Control::PathResponse),
            _ => Err(Malformed),
        }
    }

    /// Writes the plaintext into `out` (at least [`MAX_LEN`] bytes) and returns its length.
    pub fn write(&self, out: &mut [u8]) -> usize {
        match *self {
            Control::Ping => {
                out[0] = 0;
                1
            }
            Control::Pong => {
                out[0] = 1;
                1
            }
            Control::Close(code) => {
                out[0] = 2;
                out[1..5].copy_from_slice(&code.to_le_bytes());
                5
            }
            Control::PathChallenge(data) | Control::PathResponse(data) => {
                out[0] = if matches!(self, Control::PathChallenge(_)) {
                    3
                } else {
                    4
                };
                out[1..9].copy_from_slice(&data);
                9
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_wrong_lengths() {
        for c in [
            Control::Ping,
            Control::Pong,
            Control::Close(0xDEAD_BEEF),
            Control::PathChallenge([1, 2, 3, 4, 5, 6, 7, 8]),
            Control::PathResponse([8; 8]),
        ] {
            let mut buf = [0; MAX_LEN + 1];
            let n = c.write(&mut buf);
            assert_eq!(Control::parse(&buf[..n]), Ok(c));
            assert_eq!(
                Control::parse(&buf[..n + 1]),
                Err(Malformed),
                "{c:?} too long"
            );
            if n > 1 {
                assert_eq!(Control::parse(&buf[..n - 1]), Err(Malformed), "{c:?} short");
            }
        }
        assert_eq!(Control::parse(&[]), Err(Malformed));
        assert_eq!(Control::parse(&[5]), Err(Malformed));
    }
}
