//! The sealed native mode: an authenticated handshake, per-session keys, and authenticated
//! encryption of every datagram with replay protection.
//!
//! * [`keys`] — the pre-shared key, from a passphrase (Argon2id) or given directly (base64).
//! * [`handshake`] — the stateless cookie and the Noise NNpsk0 handshake; the datagram kinds.
//! * [`packet`] — the AEAD framing of one datagram: ChaCha20-Poly1305, counter nonce, header
//!   as associated data.
//! * [`replay`] — the sliding window over packet counters.
//! * [`control`] — the sealed control messages (ping, close, path validation).
//! * [`aead`] — ChaCha20-Poly1305 from the fastest implementation each target has.
//! * [`rng`] — randomness expanded from a caller-supplied seed.
//!
//! The [`crate::endpoint`] puts them together.

pub mod aead;
pub mod control;
pub mod handshake;
pub mod keys;
pub mod packet;
pub mod replay;
pub mod rng;
