//! The sealed native mode's packet layer: authenticated encryption of every datagram with a
//! counter nonce, and replay protection checked after authentication.
//!
//! Built so far: [`packet`], the AEAD framing of one datagram, [`replay`], the sliding window
//! over packet counters, and [`aead`], ChaCha20-Poly1305 from the fastest implementation each
//! target has. The handshake, keys and the endpoint follow.

pub mod aead;
pub mod packet;
pub mod replay;
