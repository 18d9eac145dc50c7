//! Sealed datagrams: ChaCha20-Poly1305 with a counter nonce and the cleartext header as
//! associated data.
//!
//! ```text
//! [kind u8][receiver u32][counter low 32 bits u32] [ciphertext ...] [tag 16]
//! |<------------- associated data ------------->|
//! nonce = 0u32 || counter u64 (little-endian)
//! ```
//!
//! * `kind` says what the plaintext is (the handshake and transport kinds are defined with
//!   them); `receiver` is the id the *receiving* side chose for the session, which is how an
//!   endpoint finds it without looking at addresses.
//! * The counter starts at 0 for each key and never repeats: the sender refuses to seal past
//!   [`SEAL_LIMIT`]. Only its low 32 bits travel; the receiver rebuilds the rest from the
//!   highest counter it accepted ([`expand_counter`]).
//! * The receiver checks the replay window first (cheap: a replayed datagram costs no
//!   decryption), authenticates, and records the counter only once the tag is good, so forged
//!   datagrams cannot move the window. After [`FORGERY_LIMIT`] failed tags the key is spent
//!   (the integrity limit for ChaCha20-Poly1305, RFC 9001 §6.6).

use super::aead::{Aead, ChaChaPoly, NONCE_LEN};
use super::replay::{expand_counter, Replay, ReplayWindow};
use core::fmt;
use core::ops::Range;

/// Bytes of the cleartext header.
pub const HEADER_LEN: usize = 9;
/// Bytes of the authentication tag.
pub const TAG_LEN: usize = 16;
/// Bytes sealing adds to a plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Counters a key may seal; sessions rekey long before (WireGuard's `REKEY_AFTER_MESSAGES`).
pub const SEAL_LIMIT: u64 = 1 << 60;
/// Failed tags after which a key is refused (the integrity limit).
pub const FORGERY_LIMIT: u64 = 1 << 36;

/// The cleartext header of a sealed datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// What the plaintext is.
    pub kind: u8,
    /// The session id the receiver chose.
    pub receiver: u32,
    /// The low 32 bits of the packet counter.
    pub counter_low: u32,
}

impl Header {
    /// Reads the header of a datagram long enough to be sealed; `None` otherwise.
    pub fn parse(datagram: &[u8]) -> Option<Header> {
        if datagram.len() < OVERHEAD {
            return None;
        }
        let (&[kind, r0, r1, r2, r3, c0, c1, c2, c3], _) = datagram.split_first_chunk()?;
        Some(Header {
            kind,
            receiver: u32::from_le_bytes([r0, r1, r2, r3]),
            counter_low: u32::from_le_bytes([c0, c1, c2, c3]),
        })
    }

    fn write(&self, out: &mut [u8]) {
        out[0] = self.kind;
        out[1..5].copy_from_slice(&self.receiver.to_le_bytes());
        out[5..9].copy_from_slice(&self.counter_low.to_le_bytes());
    }
}

fn nonce(counter: u64) -> [u8; NONCE_LEN] {
    let mut n = [0; NONCE_LEN];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    n
}

/// Why a datagram could not be sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealError {
    /// The key has sealed [`SEAL_LIMIT`] datagrams: rekey or close.
    KeyExhausted,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sealing key reached its message limit; rekey or close")
    }
}

impl std::error::Error for SealError {}

/// Why a datagram was not opened. Every kind is counted by the caller; none gets a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Too short to hold a header and a tag.
    Short,
    /// The counter was seen before or is behind the window.
    Replay(Replay),
    /// The tag is wrong: forged, corrupted, or sealed with another key.
    Forged,
    /// The key has seen [`FORGERY_LIMIT`] forgeries and is refused: rekey or close.
    KeyExhausted,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Short => f.write_str("datagram too short to be sealed"),
            OpenError::Replay(r) => write!(f, "{r}"),
            OpenError::Forged => f.write_str("authentication failed"),
            OpenError::KeyExhausted => f.write_str("too many forgeries against this key"),
        }
    }
}

impl std::error::Error for OpenError {}

/// One direction's sending key and counter.
pub struct Sealer {
    aead: Aead,
    next: u64,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("next", &self.next).finish()
    }
}

impl Sealer {
    /// A sealer on a fresh 32-byte key (from the handshake).
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            aead: Aead::new(key),
            next: 0,
        }
    }

    /// The counter the next datagram gets.
    pub fn next_counter(&self) -> u64 {
        self.next
    }

    /// Seals in place. `datagram` is [`HEADER_LEN`] bytes of room, the plaintext, and
    /// [`TAG_LEN`] bytes of room.
    ///
    /// # Panics
    ///
    /// If `datagram` is shorter than [`OVERHEAD`] (a caller bug, never network input).
    pub fn seal(&mut self, kind: u8, receiver: u32, datagram: &mut [u8]) -> Result<(), SealError> {
        assert!(datagram.len() >= OVERHEAD, "no room for the header and tag");
        if self.next >= SEAL_LIMIT {
            return Err(SealError::KeyExhausted);
        }
        let counter = self.next;
        self.next += 1;
        let (header, rest) = datagram.split_at_mut(HEADER_LEN);
        Header {
            kind,
            receiver,
            counter_low: counter as u32,
        }
        .write(header);
        let body_len = rest.len() - TAG_LEN;
        let (body, tag) = rest.split_at_mut(body_len);
        tag.copy_from_slice(&self.aead.seal(&nonce(counter), header, body));
        Ok(())
    }
}

/// One direction's receiving key, replay window and forgery count.
pub struct Opener {
    aead: Aead,
    window: ReplayWindow,
    forgeries: u64,
}

impl fmt::Debug for Opener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("highest", &self.window.highest())
            .field("forgeries", &self.forgeries)
            .finish()
    }
}

impl Opener {
    /// An opener on a fresh 32-byte key (from the handshake).
    pub fn new(key: &[u8; 32]) -> Opener {
        Opener {
            aead: Aead::new(key),
            window: ReplayWindow::new(),
            forgeries: 0,
        }
    }

    /// Failed tags seen with this key.
    pub fn forgeries(&self) -> u64 {
        self.forgeries
    }

    /// The highest counter accepted.
    pub fn highest(&self) -> Option<u64> {
        self.window.highest()
    }

    /// Opens in place. On success returns the plaintext's range in `datagram` and its full
    /// counter. On failure nothing is recorded but the forgery count, and the datagram's
    /// bytes may have been changed.
    pub fn open(&mut self, datagram: &mut [u8]) -> Result<(Range<usize>, u64), OpenError> {
        if self.forgeries >= FORGERY_LIMIT {
            return Err(OpenError::KeyExhausted);
        }
        let header = Header::parse(datagram).ok_or(OpenError::Short)?;
        let counter = expand_counter(header.counter_low, self.window.highest());
        self.window.check(counter).map_err(OpenError::Replay)?;
        let body_end = datagram.len() - TAG_LEN;
        let (head, rest) = datagram.split_at_mut(HEADER_LEN);
        let (body, tag) = rest.split_at_mut(body_end - HEADER_LEN);
        let tag: &[u8; TAG_LEN] = (&*tag).try_into().map_err(|_| OpenError::Short)?;
        if !self.aead.open(&nonce(counter), head, body, tag) {
            self.forgeries += 1;
            return Err(OpenError::Forged);
        }
        self.window.accept(counter).map_err(OpenError::Replay)?;
        Ok((HEADER_LEN..body_end, counter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(sealer: &mut Sealer, plaintext: &[u8]) -> Vec<u8> {
        let mut d = vec![0; HEADER_LEN];
        d.extend_from_slice(plaintext);
        d.extend_from_slice(&[0; TAG_LEN]);
        sealer.seal(7, 0xABCD, &mut d).unwrap();
        d
    }

    #[test]
    fn round_trip_and_header() {
        let key = [9u8; 32];
        let (mut s, mut o) = (Sealer::new(&key), Opener::new(&key));
        for n in 0..100u64 {
            let plain: Vec<u8> = (0..n as usize * 13).map(|i| i as u8).collect();
            let mut d = sealed(&mut s, &plain);
            assert_eq!(
                Header::parse(&d),
                Some(Header {
                    kind: 7,
                    receiver: 0xABCD,
                    counter_low: n as u32
                })
            );
            if !plain.is_empty() {
                assert_ne!(&d[HEADER_LEN..HEADER_LEN + plain.len()], &plain[..], "{n}");
            }
            let (range, counter) = o.open(&mut d).unwrap();
            assert_eq!(&d[range], &plain[..]);
            assert_eq!(counter, n);
        }
    }

    #[test]
    fn any_changed_bit_is_a_forgery_and_moves_nothing() {
        let key = [1u8; 32];
        let mut s = Sealer::new(&key);
        let d = sealed(&mut s, b"sealed payload");
        let mut o = Opener::new(&key);
        for bit in 0..d.len() * 8 {
            let mut bad = d.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let got = o.open(&mut bad).unwrap_err();
            // A flipped counter bit may land the counter anywhere; it still fails the tag.
            assert_eq!(got, OpenError::Forged, "bit {bit}");
        }
        assert_eq!(o.forgeries(), d.len() as u64 * 8);
        assert_eq!(o.highest(), None, "forgeries do not move the window");
        let mut good = d.clone();
        assert!(o.open(&mut good).is_ok());
    }

    #[test]
    fn replays_and_wrong_keys_are_refused() {
        let mut s = Sealer::new(&[2; 32]);
        let mut o = Opener::new(&[2; 32]);
        let first = sealed(&mut s, b"one");
        let second = sealed(&mut s, b"two");
        assert!(o.open(&mut second.clone()).is_ok());
        assert!(o.open(&mut first.clone()).is_ok(), "reordered is fine");
        assert_eq!(
            o.open(&mut first.clone()),
            Err(OpenError::Replay(Replay::Duplicate))
        );
        let mut other = Opener::new(&[3; 32]);
        assert_eq!(other.open(&mut second.clone()), Err(OpenError::Forged));
        assert_eq!(o.open(&mut [0u8; OVERHEAD - 1]), Err(OpenError::Short));
    }

    #[test]
    fn counters_cross_the_32_bit_boundary() {
        let key = [4u8; 32];
        let mut s = Sealer::new(&key);
        let mut o = Opener::new(&key);
        s.next = (1 << 32) - 3;
        o.window.accept((1 << 32) - 4).unwrap();
        for expected in (1u64 << 32) - 3..(1 << 32) + 3 {
            let (_, counter) = o.open(&mut sealed(&mut s, b"x")).unwrap();
            assert_eq!(counter, expected);
        }
    }

    #[test]
    fn keys_have_limits() {
        let mut s = Sealer::new(&[5; 32]);
        s.next = SEAL_LIMIT;
        let mut d = vec![0; OVERHEAD];
        assert_eq!(s.seal(1, 1, &mut d), Err(SealError::KeyExhausted));
        let mut o = Opener::new(&[5; 32]);
        o.forgeries = FORGERY_LIMIT;
        assert_eq!(o.open(&mut d), Err(OpenError::KeyExhausted));
    }
}
