//! The sealed native mode's packet layer: authenticated encryption of every datagram with a
//! counter nonce, and replay protection checked after authentication.
//!
//! Built so far: [`replay`], the sliding window over packet counters. The handshake, the
//! AEAD framing and the endpoint follow.

pub mod replay;
